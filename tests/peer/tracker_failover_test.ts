/**
 * Peers fail over between trackers that share one index (`--tracker A,B`),
 * on real loopback sockets, with real trackers and peers
 * (`peer/tracker_link.ts`, `peer/tracker_list.ts`). At start a dead first
 * tracker is skipped and the next that answers is told the folder; when the
 * tracker in use goes away the peer tries the others at once, from the one
 * after it, and announces its folder (and what it holds in part) to the
 * first that answers, where a third client then finds it; when none
 * answers, every tracker is tried once per round, from the one after the
 * lost, with the backoff between rounds (time is a {@link ManualClock}),
 * until one comes back. One address behaves as it always did. `get` and
 * `cat` take the first tracker that answers; when none does, the error
 * names each with its code.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CHUNK_SIZE, type FileEntry } from "../../protocol.ts";
import { ConnectionClosedError, TrackersUnreachableError, TrackerUnreachableError } from "../../io/errors.ts";
import { Secret } from "../../io/secret.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { Announcer } from "../../peer/announcer.ts";
import { relayFile } from "../../peer/relay.ts";
import { sendAndFetch } from "../../peer/send.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { TrackerLink, type TrackerLinkEvent } from "../../peer/tracker_link.ts";
import { connectTracker, type SkippedTracker } from "../../peer/tracker_list.ts";
import { Peer } from "../../peer.ts";
import { ManualClock, settle } from "../helpers/clock.ts";
import { EventLog, within } from "../helpers/events.ts";
import { deadAddress } from "../helpers/net.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

const PORT = 7400;
const PEER = `127.0.0.1:${PORT}`;
const SHA = "c".repeat(64);
/** A second address where nothing listens (port 2, like port 1, is served by nothing here). */
const DEAD_TOO = "127.0.0.1:2";
/** What a tracker answers to the announcement of {@link announce}. */
const INDEXED = new RegExp(`^indexed 1 files? as 127\\.0\\.0\\.1:${PORT}$`);

/** Announces one file, `kept.txt`, at {@link PORT}: what a peer's folder would be. */
const announce = (client: TrackerClient) => client.update(PORT, [{ name: "kept.txt", size: 1, sha256: SHA }]);

/** Who holds `name` (wholly or in part), as a client of its own asking the tracker at `address` finds. */
/**
 * A link over `address` on `clock`, told to `log`, whose waits are whole
 * (no jitter): 10, 20, 40, 40 ms.
 */
function steadyLink(address: string | string[], on: { clock: ManualClock; log: EventLog<TrackerLinkEvent> }) {
  return TrackerLink.start({
    address,
    clock: on.clock,
    reconnect: { minMs: 10, maxMs: 40 },
    random: () => 1,
    announce,
    onEvent: on.log.push,
  });
}

async function holdersAt(address: string, name: string): Promise<string[]> {
  await using client = await TrackerClient.connect(address);
  const { lookups: [lookup] } = await client.send([name]);
  return lookup.holders.map((h) => `${h.address}${h.partial ? " (partial)" : ""}`);
}

/** Resolves once the round of tries the clock set off has ended and the link waits again (see tracker_link_test). */
async function roundEnded(clock: ManualClock, maxWaitMs = 80): Promise<void> {
  await within(
    "the round to end",
    (async () => {
      while (clock.pending !== 1 || clock.nextDueMs > maxWaitMs) await settle();
    })(),
  );
}

/**
 * A listener on `port` (0: any free one) that takes each connection and
 * closes it at once, so that each try of it fails; adds `name` to `knocks`
 * for each, so that a test sees which tracker was tried when.
 */
function slammingDoor(name: string, knocks: string[], port = 0): { address: string } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port });
  const loop = (async () => {
    try {
      for await (const conn of listener) {
        knocks.push(name);
        conn.close();
      }
    } catch { /* closed */ }
  })();
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    [Symbol.asyncDispose]: async () => {
      listener.close();
      await loop;
    },
  };
}

/** The port of `HOST:PORT`. */
const portOf = (address: string) => Number(address.split(":")[1]);

// --- at start -------------------------------------------------------------------------------

Deno.test("tracker failover: at start a dead first tracker is skipped, said once, and the next is used and told the folder", async () => {
  await using tracker = testTracker();
  const dead = deadAddress();
  const clock = new ManualClock();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.start({ address: [dead, tracker.address], clock, announce, onEvent: log.push });
  try {
    const [skipped, moved, ...rest] = log.events;
    assert.deepEqual(skipped, {
      type: "tracker-skipped",
      tracker: dead,
      message: "connection refused",
      next: tracker.address,
    });
    assert.ok(moved.type === "tracker-moved", JSON.stringify(moved));
    assert.equal(moved.tracker, tracker.address);
    assert.match(moved.announced, INDEXED);
    assert.deepEqual(rest, [], "nothing more: no tracker is away");
    assert.equal(link.client.address, tracker.address);
    assert.deepEqual(await holdersAt(tracker.address, "kept.txt"), [PEER]);
  } finally {
    await link.close();
  }
});

Deno.test("tracker failover: at start with every tracker dead, each is named with why in one line, and no try waits longer than one round", async () => {
  const clock = new ManualClock();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.start({ address: [deadAddress(), DEAD_TOO], clock, announce, onEvent: log.push });
  try {
    assert.deepEqual(log.events, [
      { type: "tracker-skipped", tracker: deadAddress(), message: "connection refused", next: DEAD_TOO },
      {
        type: "tracker-unreachable",
        tracker: DEAD_TOO,
        message: "connection refused",
        tried: [
          { tracker: deadAddress(), message: "connection refused" },
          { tracker: DEAD_TOO, message: "connection refused" },
        ],
      },
    ]);
    assert.throws(
      () => link.client,
      (e: Error) =>
        e instanceof ConnectionClosedError &&
        new RegExp(
          "^the trackers at 127\\.0\\.0\\.1:1 and 127\\.0\\.0\\.1:2 are unreachable since \\d\\d:\\d\\d:\\d\\d " +
            "\\(127\\.0\\.0\\.1:1: connection refused; 127\\.0\\.0\\.1:2: connection refused\\); still trying them in " +
            "the background, uploads go on; try again once a line says one is back$",
        ).test(e.message),
    );
    assert.equal(clock.pending, 1, "the wait before the next round");
  } finally {
    await link.close();
  }
});

Deno.test("tracker failover: a tracker that refuses our secret is this run's mistake: start throws naming it, without trying the next", async () => {
  await using strict = testTracker({ secret: await Secret.from("theirs") });
  await using open = testTracker();
  const log = new EventLog<TrackerLinkEvent>();
  await assert.rejects(
    TrackerLink.start({
      address: [strict.address, open.address],
      secret: await Secret.from("ours"),
      clock: new ManualClock(),
      announce,
      onEvent: log.push,
    }),
    new RegExp(`^ConnectionClosedError: the tracker at ${strict.address} refused us`),
  );
  assert.deepEqual(log.events, []);
  assert.deepEqual(open.events.of("joined"), [], "the next tracker was not tried");
});

// --- the tracker in use goes away --------------------------------------------------------------------

Deno.test("peer failover: its tracker closed, a peer tries the next at once, skips a dead one, announces its folder to the first that answers, and a third client finds and fetches its file there", async () => {
  const first = testTracker();
  await using second = testTracker();
  const dead = deadAddress();
  const trackers = [first.address, dead, second.address];
  // The list replaces the helper's one tracker.
  await using peer = await testPeer(first.address, { "hello.txt": "hello" }, { tracker: trackers });
  assert.deepEqual(await holdersAt(first.address, "hello.txt"), [peer.address]);

  await first.close();
  const lost = await peer.events.next("tracker-lost");
  assert.equal(lost.tracker, first.address);
  assert.match(lost.message, /the tracker closed the connection|connection reset/);
  assert.equal(lost.next, dead);
  assert.deepEqual(await peer.events.next("tracker-skipped"), {
    type: "tracker-skipped",
    tracker: dead,
    message: "connection refused",
    next: second.address,
  });
  const moved = await peer.events.next("tracker-moved");
  assert.equal(moved.tracker, second.address);
  assert.match(moved.announced, new RegExp(`^indexed 1 files? as ${peer.address.replaceAll(".", "\\.")}$`));
  assert.equal(peer.tracker.address, second.address, "the peer's connection is to the second tracker now");
  assert.deepEqual(peer.events.of("tracker-unreachable"), [], "never without a tracker for long");

  // A third client, given the same list: the dead ones are skipped, and the file is found and fetched.
  await using out = await tempDir();
  const skipped: SkippedTracker[] = [];
  await using client = await connectTracker(trackers, { onSkipped: (s) => skipped.push(s) });
  assert.deepEqual(skipped.map((s) => [s.tracker, s.next]), [[first.address, dead], [dead, second.address]]);
  assert.equal(client.address, second.address);
  const report = await sendAndFetch(client, "hello.txt", { outDir: out.path });
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.equal(report.outcomes[0].result.from, peer.address);
  assert.equal(await Deno.readTextFile(join(out.path, "hello.txt")), "hello");
});

Deno.test("tracker failover: the tracker moved to is told the whole folder and the files held in part, as a tracker reached again always was", async () => {
  const first = testTracker();
  await using second = testTracker();
  await using dir = await tempDir();
  await writeFiles(dir.path, { "whole.txt": "whole" });
  const folder = await SharedFolder.open(dir.path);
  await folder.scan();
  const partial: FileEntry = { name: "coming.bin", size: 3 * CHUNK_SIZE, sha256: "a".repeat(64), root: "b".repeat(64) };
  const clock = new ManualClock();
  const log = new EventLog<TrackerLinkEvent>();
  // As a peer's: the whole folder, then what it holds in part, to each tracker reached (changes are not sent here).
  const announcer = new Announcer({
    folder,
    port: PORT,
    client: () => undefined,
    closing: () => false,
    partials: () => [partial],
  });
  const link = await TrackerLink.start({
    address: [first.address, second.address],
    clock,
    announce: (client) => announcer.all(client),
    onEvent: log.push,
  });
  try {
    assert.deepEqual(await holdersAt(first.address, "coming.bin"), [`${PEER} (partial)`]);
    await first.close();
    assert.equal((await log.next("tracker-lost")).next, second.address);
    assert.match((await log.next("tracker-moved")).announced, INDEXED);
    assert.deepEqual(await holdersAt(second.address, "whole.txt"), [PEER]);
    assert.deepEqual(await holdersAt(second.address, "coming.bin"), [`${PEER} (partial)`]);
  } finally {
    await link.close();
  }
});

Deno.test("tracker failover: with every tracker away, each round tries each once, from the one after the lost, with the backoff between rounds; the first back is told the folder", async () => {
  const clock = new ManualClock();
  const knocks: string[] = [];
  const a = testTracker();
  const aPort = a.addr.port;
  const b = slammingDoor("b", knocks);
  const log = new EventLog<TrackerLinkEvent>();
  // No jitter (each wait its whole ceiling): 10, 20, 40, 40 ms.
  const link = await steadyLink([a.address, b.address], { clock, log });
  try {
    assert.deepEqual(log.events, [], "the first answered");
    {
      await a.close();
      // At once, without a wait: the next tracker; it fails too, and that is said in one line.
      const lost = await log.next("tracker-lost");
      assert.deepEqual([lost.tracker, lost.next], [a.address, b.address]);
      const away = await log.next("tracker-unreachable");
      assert.deepEqual(away.tried?.map((t) => t.tracker), [a.address, b.address]);
      assert.deepEqual(knocks, ["b"]);
      assert.deepEqual(log.of("tracker-skipped"), [], "the only other one was the last of its round");

      // Now the lost tracker's port slams the door too; rounds begin at the one after the lost: b, then a.
      await using _a = slammingDoor("a", knocks, aPort);
      await roundEnded(clock);
      for (const [round, wait] of [10, 20, 40].entries()) {
        await clock.advance(wait - 0.01);
        assert.equal(knocks.length, 1 + round * 2, `round ${round + 1}: not before its wait is over`);
        await clock.advance(0.01);
        await roundEnded(clock);
        assert.deepEqual(knocks.slice(1 + round * 2), ["b", "a"], `round ${round + 1}: each once, b first`);
      }
      assert.deepEqual(log.of("tracker-retry"), [], "a fraction of a second away: nothing more said");
    }
    // The lost tracker is back: the next round fails at b, then reaches it, which is told the folder.
    await using back = testTracker({ port: aPort });
    await clock.advance(40);
    const reached = await log.next("tracker-back");
    const { announced, ...rest } = reached;
    assert.deepEqual(rest, { type: "tracker-back", tracker: back.address, awayMs: 110, attempts: 9, again: true });
    assert.match(announced, INDEXED);
    assert.deepEqual(knocks.slice(7), ["b"]);
    assert.deepEqual(await holdersAt(back.address, "kept.txt"), [PEER]);
    assert.equal(link.client.address, back.address);
  } finally {
    await link.close();
    await b[Symbol.asyncDispose]();
  }
});

Deno.test("tracker failover: started with every tracker away, rounds begin at the first, and the one that comes back is reached for the first time", async () => {
  const clock = new ManualClock();
  const knocks: string[] = [];
  await using a = slammingDoor("a", knocks);
  const b = slammingDoor("b", knocks);
  const log = new EventLog<TrackerLinkEvent>();
  const link = await steadyLink([a.address, b.address], { clock, log });
  try {
    assert.deepEqual(log.events.map((e) => e.type), ["tracker-skipped", "tracker-unreachable"]);
    assert.deepEqual(knocks, ["a", "b"]);
    await clock.advance(10);
    await roundEnded(clock);
    assert.deepEqual(knocks, ["a", "b", "a", "b"]);
    await b[Symbol.asyncDispose]();
    await using tracker = testTracker({ port: portOf(b.address) });
    await clock.advance(20);
    const reached = await log.next("tracker-back");
    assert.deepEqual([reached.tracker, reached.attempts, reached.again], [tracker.address, 4, false]);
    assert.deepEqual(await holdersAt(tracker.address, "kept.txt"), [PEER]);
  } finally {
    await link.close();
  }
});

// --- one address --------------------------------------------------------------------------------

Deno.test("tracker failover: one address, alone or in a list of one, behaves as ever: lost, nothing tried before the wait, no next, no skip, no move", async () => {
  for (const given of ["one", "list"] as const) {
    const clock = new ManualClock();
    const knocks: string[] = [];
    const tracker = testTracker();
    const port = tracker.addr.port;
    const log = new EventLog<TrackerLinkEvent>();
    const address = given === "one" ? tracker.address : [tracker.address];
    const link = await steadyLink(address, { clock, log });
    try {
      await tracker.close();
      const lost = await log.next("tracker-lost");
      assert.deepEqual(Object.keys(lost).toSorted(), ["message", "tracker", "type"], given);
      await using _door = slammingDoor("a", knocks, port);
      await settle();
      assert.deepEqual(knocks, [], `${given}: nothing tried before the wait`);
      await clock.advance(10);
      await roundEnded(clock);
      assert.deepEqual(knocks, ["a"], given);
      assert.deepEqual(log.events.map((e) => e.type), ["tracker-lost"], given);
      assert.match(
        (() => {
          try {
            link.client;
          } catch (error) {
            return (error as Error).message;
          }
          return "";
        })(),
        new RegExp(`^the tracker at ${tracker.address} is unreachable since `),
        given,
      );
    } finally {
      await link.close();
    }
  }
});

Deno.test("peer: an empty list of trackers is refused before anything listens", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    Peer.start({ tracker: [], hostname: "127.0.0.1", port: 0, dir: dir.path }),
    RangeError,
    "no tracker given",
  );
});

// --- get and cat ------------------------------------------------------------------------------

Deno.test("get and cat: the first tracker that answers is used, each dead one before it told with the next to try", async () => {
  await using tracker = testTracker();
  await using holder = await testPeer(tracker.address, { "a.txt": "from a" });
  const skipped: SkippedTracker[] = [];
  await using client = await connectTracker([deadAddress(), tracker.address], { onSkipped: (s) => skipped.push(s) });
  assert.deepEqual(skipped, [{ tracker: deadAddress(), message: "connection refused", next: tracker.address }]);
  await using dir = await tempDir();
  const got = await sendAndFetch(client, "a.txt", { outDir: dir.path });
  assert.ok(got.outcomes[0].ok, JSON.stringify(got.outcomes[0]));
  // cat, relaying through the same tracker.
  let printed = "";
  const out = {
    write: (bytes: Uint8Array) => {
      printed += new TextDecoder().decode(bytes);
      return Promise.resolve(bytes.length);
    },
  };
  const relayed = await relayFile(client, "a.txt", { out });
  assert.deepEqual([relayed.from, relayed.size, printed], [holder.address, 6, "from a"]);
});

Deno.test("get and cat: when no tracker answers, the error names each tracker tried with its code and why", async () => {
  const skipped: SkippedTracker[] = [];
  const error = await connectTracker([deadAddress(), DEAD_TOO], { onSkipped: (s) => skipped.push(s) }).then(
    () => assert.fail("connected to a dead address"),
    (e) => e,
  );
  assert.ok(error instanceof TrackersUnreachableError, String(error));
  assert.ok(error instanceof ConnectionClosedError, "a closed connection, so callers that know only that still work");
  assert.equal(
    error.message,
    "cannot reach any of the 2 trackers (127.0.0.1:1: ECONNREFUSED connection refused; 127.0.0.1:2: ECONNREFUSED " +
      "connection refused); is one of them running? start one with 'deno task tracker' or point --tracker at one",
  );
  assert.deepEqual(error.tried.map((t) => t.code), ["ECONNREFUSED", "ECONNREFUSED"]);
  assert.equal(skipped.length, 1, "the last one has no next");
  // One address fails as it always did.
  await assert.rejects(
    connectTracker([deadAddress()]),
    (e: Error) =>
      e instanceof TrackerUnreachableError &&
      e.message === "cannot reach the tracker at 127.0.0.1:1 (connection refused); is it running? start one with " +
          "'deno task tracker' or point --tracker at it",
  );
});

Deno.test("get and cat: a tracker that refuses our secret is thrown at once, naming it, and the next is not tried", async () => {
  await using strict = testTracker({ secret: await Secret.from("theirs") });
  await using open = testTracker();
  const skipped: SkippedTracker[] = [];
  await assert.rejects(
    connectTracker([strict.address, open.address], {
      secret: await Secret.from("ours"),
      onSkipped: (s) => skipped.push(s),
    }),
    new RegExp(`^ConnectionClosedError: the tracker at ${strict.address} refused us`),
  );
  assert.deepEqual(skipped, []);
  assert.deepEqual(open.events.of("joined"), []);
});
