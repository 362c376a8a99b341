/**
 * `peer/tracker_link.ts`: a peer's lasting link to its tracker. Time is a
 * {@link ManualClock} and the jitter a seeded source, so that every wait is
 * checked exactly: a tracker away (at start, or lost later) is tried again
 * after waits that double from `minMs` up to `maxMs`, each drawn from the
 * upper half of its ceiling; the peer is told once that it is away, then at
 * 1, 5 and 15 minutes and hourly, and once more when it is back (which
 * announces the folder); the tries stop when the link closes; while it is
 * away the link's client is one error naming the tracker, since when and
 * why. This run's own mistakes at start (`--secret`, `--tracker` at a
 * peer) are not tried again. The heartbeat keeps a
 * quiet peer in a tracker with a short idle time, and notices a tracker
 * that stopped answering (half-open).
 *
 * @module
 */

import assert from "node:assert/strict";
import { ConnectionClosedError } from "../../io/errors.ts";
import type { Link } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { Secret } from "../../io/secret.ts";
import { writeText } from "../../io/streams.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { TrackerLink, type TrackerLinkEvent } from "../../peer/tracker_link.ts";
import { ManualClock, settle } from "../helpers/clock.ts";
import { EventLog, eventually, within } from "../helpers/events.ts";
import { servingFolder, startFakeHolder } from "../helpers/holders.ts";
import { LineClient, unusedPort } from "../helpers/net.ts";
import { SeededRandom } from "../helpers/random.ts";
import { testTracker } from "../helpers/roles.ts";

const SHA = "c".repeat(64);
const PORT = 7200;

/** Announces one file, `kept.txt`, at {@link PORT}: what a peer's folder would be. */
const announce = (client: TrackerClient) => client.update(PORT, [{ name: "kept.txt", size: 1, sha256: SHA }]);

/**
 * Resolves once the try the clock just set off has ended and the link waits
 * again: its one timer is the wait before the next try, due within
 * `maxWaitMs` (while the try runs, the one timer may be the try's own
 * timeout, due much later: waiting for any single timer raced the try).
 */
async function tryEnded(clock: ManualClock, maxWaitMs = 80): Promise<void> {
  await within(
    "the try to end",
    (async () => {
      while (clock.pending !== 1 || clock.nextDueMs > maxWaitMs) await settle();
    })(),
  );
}

/** A listener on `port` that takes each connection and closes it at once (each try fails); counts them. */
function slammingDoor(port: number): { accepted: () => number; [Symbol.asyncDispose]: () => Promise<void> } {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  let accepted = 0;
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        accepted++;
        conn.close();
      }
    } catch { /* closed */ }
  })();
  return {
    accepted: () => accepted,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      await loop;
    },
  };
}

Deno.test("tracker link: a lost tracker is tried again after waits that double up to maxMs, drawn from each ceiling's upper half; a tracker back is told the folder", async () => {
  const clock = new ManualClock();
  const first = testTracker();
  const port = first.addr.port;
  const log = new EventLog<TrackerLinkEvent>();
  const jitter = new SeededRandom(5);
  const expected = new SeededRandom(5); // the same draws, to know each wait
  const link = await TrackerLink.start({
    address: first.address,
    clock,
    reconnect: { minMs: 10, maxMs: 80 },
    random: () => jitter.next(),
    announce,
    onEvent: log.push,
  });
  try {
    assert.deepEqual(
      (await first.store.holders("kept.txt", 5)).map((h) => h.address),
      [`127.0.0.1:${PORT}`],
      "announced",
    );
    await first.close();
    assert.match((await log.next("tracker-lost")).message, /closed/);
    assert.equal(clock.pending, 1, "only the wait before the first try: the lost connection's heartbeat is gone");

    // On the tracker's port now: a door that closes each connection at once, so that each try is counted.
    let wait = 5 + expected.next() * 5; // the first wait: from the upper half of minMs
    const ceilings = [20, 40, 80, 80, 80];
    {
      await using door = slammingDoor(port);
      for (const [i, ceiling] of ceilings.entries()) {
        await clock.advance(wait - 0.01);
        assert.equal(clock.pending, 1, `try ${i + 1}: not made before its wait is over`);
        assert.equal(door.accepted(), i);
        await clock.advance(0.01); // the wait is over: the try is made
        await tryEnded(clock);
        assert.equal(door.accepted(), i + 1, `try ${i + 1} made`);
        wait = ceiling / 2 + expected.next() * ceiling / 2;
      }
    }
    assert.deepEqual(log.of("tracker-retry"), [], "five tries in a fraction of a second: nothing more to say");

    // The tracker is back, on the same port: the next try reaches it, and the folder is announced again.
    await using second = testTracker({ port });
    await clock.advance(wait);
    const back = await log.next("tracker-back");
    assert.match(back.announced, new RegExp(`^indexed 1 files? as 127\\.0\\.0\\.1:${PORT}$`));
    assert.equal(back.attempts, 6);
    assert.equal(back.again, true);
    assert.deepEqual((await second.store.holders("kept.txt", 5)).map((h) => h.address), [`127.0.0.1:${PORT}`]);
    assert.ok(link.client.open, "the link's client is the new connection");
  } finally {
    await link.close();
  }
});

Deno.test("tracker link: started with the tracker away it resolves, says so once, then at 1, 5 and 15 minutes and hourly, and once more when it is back", async () => {
  const clock = new ManualClock();
  const port = unusedPort();
  const address = `127.0.0.1:${port}`;
  const log = new EventLog<TrackerLinkEvent>();
  // No jitter (each wait its whole ceiling): waits of 1, 2, 4, 8, 16, 32 s, then 60 s again and again.
  const link = await TrackerLink.start({
    address,
    clock,
    reconnect: { minMs: 1_000, maxMs: 60_000 },
    random: () => 1,
    announce,
    onEvent: log.push,
  });
  try {
    assert.deepEqual(log.events, [{ type: "tracker-unreachable", tracker: address, message: "connection refused" }]);
    assert.equal(clock.pending, 1, "the wait before the next try");
    assert.equal(link.current, undefined);

    // Tries at 1, 3, 7, 15, 31, 63 s, then every 60 s: 126 tries in two hours and a bit (the last at 7,263 s).
    const waits = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, ...Array(120).fill(60_000)];
    for (const wait of waits) {
      await clock.advance(wait);
      await tryEnded(clock, Infinity); // refused at once: no try of its own outlives a turn
    }
    // A note at the first try past each mark: 1 min (try 6, at 63 s), 5 min (try 10, at 303 s), 15 min
    // (try 20, at 903 s), 1 h (try 65, at 3,603 s), 2 h (try 125, at 7,203 s).
    assert.deepEqual(
      log.of("tracker-retry").map((e) => [e.attempts, e.awayMs, e.message, e.tracker]),
      [
        [6, 63_000, "connection refused", address],
        [10, 303_000, "connection refused", address],
        [20, 903_000, "connection refused", address],
        [65, 3_603_000, "connection refused", address],
        [125, 7_203_000, "connection refused", address],
      ],
    );
    assert.equal(log.events.length, 6, `${waits.length} tries, 6 lines: ${JSON.stringify(log.events)}`);

    // The tracker comes: the next try reaches it and announces; the first connection, not "again".
    await using tracker = testTracker({ port });
    await clock.advance(60_000);
    const back = await log.next("tracker-back");
    const { announced, ...rest } = back;
    assert.deepEqual(rest, { type: "tracker-back", tracker: address, awayMs: 7_323_000, attempts: 127, again: false });
    assert.match(announced, new RegExp(`^indexed 1 files? as 127\\.0\\.0\\.1:${PORT}$`));
    assert.deepEqual((await tracker.store.holders("kept.txt", 5)).map((h) => h.address), [`127.0.0.1:${PORT}`]);
    assert.equal(link.current, link.client);
  } finally {
    await link.close();
  }
});

Deno.test("tracker link: while the tracker is away its client is one error naming the tracker, since when and why, and that uploads go on", async () => {
  const address = `127.0.0.1:${unusedPort()}`;
  const clock = new ManualClock();
  const link = await TrackerLink.start({ address, clock, announce, onEvent: () => {} });
  try {
    const error = (() => {
      try {
        link.client;
      } catch (error) {
        return error;
      }
    })();
    assert.ok(error instanceof ConnectionClosedError, String(error));
    assert.match(
      error.message,
      new RegExp(
        `^the tracker at 127\\.0\\.0\\.1:\\d+ is unreachable since \\d\\d:\\d\\d:\\d\\d \\(connection refused\\); ` +
          "still trying in the background, uploads go on; try again once a line says it is back$",
      ),
    );
    assert.ok(error.message.includes(address));
  } finally {
    await link.close();
  }
  assert.throws(() => link.client, /^ConnectionClosedError: the peer is stopping$/);
});

Deno.test("tracker link: this run's own mistakes at start are not tried again: a wrong or missing secret, a peer given as the tracker; start throws, and nothing is left waiting", async () => {
  await using tracker = testTracker({ secret: await Secret.from("the right one") });
  await using peer = await servingFolder({ "f.txt": "f" });
  const mistakes: [string, { address: string; secret?: Secret }, RegExp][] = [
    [
      "a wrong secret",
      { address: tracker.address, secret: await Secret.from("a wrong one") },
      /^ConnectionClosedError: the tracker at 127\.0\.0\.1:\d+ refused us: the server refused our secret/,
    ],
    ["no secret", { address: tracker.address }, /needs the shared secret \(--secret\)/],
    ["a peer's address", { address: peer.address }, /^NotATrackerError: 127\.0\.0\.1:\d+ is a peer, not a tracker/],
  ];
  for (const [what, options, words] of mistakes) {
    const clock = new ManualClock();
    const log = new EventLog<TrackerLinkEvent>();
    await assert.rejects(TrackerLink.start({ ...options, clock, announce, onEvent: log.push }), words, what);
    assert.equal(clock.pending, 0, what);
    assert.deepEqual(log.events, [], what);
  }
});

Deno.test("tracker link: tries to reach a lost tracker stop when the link closes", async () => {
  const clock = new ManualClock();
  const tracker = testTracker();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.start({
    address: tracker.address,
    clock,
    reconnect: { minMs: 10, maxMs: 80 },
    announce,
    onEvent: log.push,
  });
  await tracker.close();
  await log.next("tracker-lost");
  await clock.advance(10);
  await tryEnded(clock); // one try made, refused
  await link.close(); // must not hang on the retry loop
  assert.equal(clock.pending, 0, "no try is waiting");
  await clock.advance(3_600_000);
  await settle();
  assert.deepEqual(log.events.map((e) => e.type), ["tracker-lost"], "no try, and nothing said, after the close");
});

Deno.test("tracker link: PING answers PONG, and the heartbeat keeps a quiet peer in a tracker with a short idle time; a client without one is dropped", async () => {
  const trackerClock = new ManualClock();
  await using tracker = testTracker({ idleTimeoutMs: 500, clock: trackerClock });
  using raw = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(await raw.ask("PING\n"), [{ status: 200, more: false, text: "PONG" }]);
  raw[Symbol.dispose]();
  await tracker.events.next("left");

  const linkClock = new ManualClock();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.start({
    address: tracker.address,
    clock: linkClock,
    heartbeatMs: 100,
    announce,
    onEvent: log.push,
  });
  await using quiet = await TrackerClient.connect(tracker.address); // no heartbeat
  try {
    await quiet.update(PORT + 1, [{ name: "quiet.txt", size: 1, sha256: SHA }]);
    // Three idle times of the tracker pass, in steps of one heartbeat: only the heartbeat speaks.
    for (let t = 100; t <= 1_500; t += 100) {
      const before = (await tracker.stats()).requests;
      await linkClock.advance(100);
      await eventually(
        `PING ${t / 100} reached the tracker`,
        async () => (await tracker.stats()).requests === before + 1,
      );
      await eventually(`PONG ${t / 100} came back`, () => linkClock.pending === 1); // the heartbeat's own timer
      await trackerClock.advance(100);
    }
    assert.deepEqual(log.events, [], "the link was never lost");
    assert.equal((await tracker.store.holders("kept.txt", 5)).length, 1, "the peer's files are still there");
    const left = tracker.events.of("left").filter((e) => e.peer !== undefined && e.files > 0);
    assert.deepEqual(left, [{ type: "left", peer: `127.0.0.1:${PORT + 1}`, files: 1, reason: "no request for 0.5 s" }]);
    assert.equal(await quiet.closed, "the tracker closed the connection");
  } finally {
    await link.close();
  }
});

Deno.test("tracker link: a tracker that stops answering (half-open) is noticed by the heartbeat, at the request timeout", async () => {
  const lines = new EventLog<{ type: "line"; line: string }>();
  // A tracker that takes the announcement, then reads and never answers.
  await using silent = startFakeHolder({
    script: async (conn: Link, first: string) => {
      lines.push({ type: "line", line: first });
      await writeText(conn, `200 indexed 1 files as 127.0.0.1:${PORT}\n`);
      const reader = new BufferedReader(conn);
      for (let line = await reader.readLine(); line !== null; line = await reader.readLine()) {
        lines.push({ type: "line", line }); // and no answer
      }
    },
  });
  const clock = new ManualClock();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.start({
    address: silent.address,
    clock,
    heartbeatMs: 50,
    timeoutMs: 300,
    reconnect: { minMs: 60_000, maxMs: 60_000 }, // no try within the test
    announce,
    onEvent: log.push,
  });
  try {
    assert.equal((await lines.next("line")).line, `UPDATE ${PORT} 1`);
    await clock.advance(50);
    assert.equal((await lines.next("line", (l) => l.line === "PING")).line, "PING");
    await settle();
    await clock.advance(299);
    assert.deepEqual(log.events, [], "not lost before the timeout");
    await clock.advance(1);
    const lost = await log.next("tracker-lost");
    assert.match(lost.message, /did not answer within 0\.3 s/);
  } finally {
    link.current?.close(); // else a goodbye would wait for the silent tracker on a clock that stands still
    await link.close();
  }
});
