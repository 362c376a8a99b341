/**
 * `peer/tracker_link.ts`: a peer's lasting link to its tracker. Time is a
 * {@link ManualClock} and the jitter a seeded source, so that every wait is
 * checked exactly: a lost tracker is tried again after waits that double
 * from `minMs` up to `maxMs`, each drawn from the upper half of its ceiling;
 * the tries stop when the link closes; a tracker reached again is told the
 * whole folder. The heartbeat keeps a quiet peer in a tracker with a short
 * idle time, and notices a tracker that stopped answering (half-open).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Link } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { TrackerLink, type TrackerLinkEvent } from "../../peer/tracker_link.ts";
import { ManualClock, settle } from "../helpers/clock.ts";
import { EventLog, eventually } from "../helpers/events.ts";
import { startFakeHolder } from "../helpers/holders.ts";
import { LineClient } from "../helpers/net.ts";
import { SeededRandom } from "../helpers/random.ts";
import { testTracker } from "../helpers/roles.ts";

const SHA = "c".repeat(64);
const PORT = 7200;

/** Announces one file, `kept.txt`, at {@link PORT}: what a peer's folder would be. */
const announce = (client: TrackerClient) => client.update(PORT, [{ name: "kept.txt", size: 1, sha256: SHA }]);

Deno.test("tracker link: a lost tracker is tried again after waits that double up to maxMs, drawn from each ceiling's upper half; a tracker back is told the folder", async () => {
  const clock = new ManualClock();
  const first = testTracker();
  const port = first.addr.port;
  const log = new EventLog<TrackerLinkEvent>();
  const jitter = new SeededRandom(5);
  const expected = new SeededRandom(5); // the same draws, to know each wait
  const link = await TrackerLink.connect({
    address: first.address,
    clock,
    reconnect: { minMs: 10, maxMs: 80 },
    random: () => jitter.next(),
    announce,
    onEvent: log.push,
  });
  try {
    await announce(link.client);
    await first.close();
    assert.match((await log.next("tracker-lost")).message, /closed/);
    assert.equal(clock.pending, 1, "only the wait before the first try: the lost connection's heartbeat is gone");

    let wait = 5 + expected.next() * 5; // the first wait: from the upper half of minMs
    const ceilings = [20, 40, 80, 80, 80];
    for (const [i, ceiling] of ceilings.entries()) {
      await clock.advance(wait - 0.01);
      assert.equal(clock.pending, 1, `try ${i + 1}: not made before its wait is over`);
      assert.equal(log.of("tracker-retry").length, i);
      await clock.advance(0.01); // the wait is over: the try is made
      const retry = await log.next("tracker-retry");
      assert.equal(retry.attempt, i + 1);
      assert.match(retry.message, /cannot reach the tracker/);
      wait = ceiling / 2 + expected.next() * ceiling / 2;
      assert.equal(retry.nextInMs, Math.round(wait), `try ${i + 1}: the next wait, ceiling ${ceiling}`);
      assert.ok(retry.nextInMs >= ceiling / 2 && retry.nextInMs <= ceiling);
    }

    // The tracker is back, on the same port: the next try reaches it, and the folder is announced again.
    await using second = testTracker({ port });
    await clock.advance(wait);
    const back = await log.next("tracker-back");
    assert.equal(back.announced, `indexed 1 files as 127.0.0.1:${PORT}`);
    assert.deepEqual(second.index.holders("kept.txt", 5).map((h) => h.address), [`127.0.0.1:${PORT}`]);
    assert.ok(link.client.open, "the link's client is the new connection");
    assert.equal(log.of("tracker-retry").length, 5);
  } finally {
    await link.close();
  }
});

Deno.test("tracker link: tries to reach a lost tracker stop when the link closes", async () => {
  const clock = new ManualClock();
  const tracker = testTracker();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.connect({
    address: tracker.address,
    clock,
    reconnect: { minMs: 10, maxMs: 80 },
    announce,
    onEvent: log.push,
  });
  await tracker.close();
  await log.next("tracker-lost");
  await clock.advance(10);
  await log.next("tracker-retry");
  await link.close(); // must not hang on the retry loop
  assert.equal(clock.pending, 0, "no try is waiting");
  await clock.advance(60_000);
  await settle();
  assert.equal(log.of("tracker-retry").length, 1, "no try after the close");
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
  const link = await TrackerLink.connect({
    address: tracker.address,
    clock: linkClock,
    heartbeatMs: 100,
    announce,
    onEvent: log.push,
  });
  await using quiet = await TrackerClient.connect(tracker.address); // no heartbeat
  try {
    await announce(link.client);
    await quiet.update(PORT + 1, [{ name: "quiet.txt", size: 1, sha256: SHA }]);
    // Three idle times of the tracker pass, in steps of one heartbeat: only the heartbeat speaks.
    for (let t = 100; t <= 1_500; t += 100) {
      const before = tracker.stats().requests;
      await linkClock.advance(100);
      await eventually(`PING ${t / 100} reached the tracker`, () => tracker.stats().requests === before + 1);
      await eventually(`PONG ${t / 100} came back`, () => linkClock.pending === 1); // the heartbeat's own timer
      await trackerClock.advance(100);
    }
    assert.deepEqual(log.events, [], "the link was never lost");
    assert.equal(tracker.index.holders("kept.txt", 5).length, 1, "the peer's files are still there");
    const left = tracker.events.of("left").filter((e) => e.peer !== undefined && e.files > 0);
    assert.deepEqual(left, [{ type: "left", peer: `127.0.0.1:${PORT + 1}`, files: 1, reason: "no request for 0.5 s" }]);
    assert.equal(await quiet.closed, "the tracker closed the connection");
  } finally {
    await link.close();
  }
});

Deno.test("tracker link: a tracker that stops answering (half-open) is noticed by the heartbeat, at the request timeout", async () => {
  const lines = new EventLog<{ type: "line"; line: string }>();
  // A tracker that reads and never answers.
  await using silent = startFakeHolder({
    script: async (conn: Link, first: string) => {
      lines.push({ type: "line", line: first });
      const sink = new Uint8Array(1024);
      const reader = new BufferedReader(conn);
      while ((await reader.read(sink)) !== null) { /* silence */ }
    },
  });
  const clock = new ManualClock();
  const log = new EventLog<TrackerLinkEvent>();
  const link = await TrackerLink.connect({
    address: silent.address,
    clock,
    heartbeatMs: 50,
    timeoutMs: 300,
    reconnect: { minMs: 60_000, maxMs: 60_000 }, // no try within the test
    announce,
    onEvent: log.push,
  });
  try {
    await clock.advance(50);
    assert.equal((await lines.next("line")).line, "PING");
    await settle();
    await clock.advance(299);
    assert.deepEqual(log.events, [], "not lost before the timeout");
    await clock.advance(1);
    const lost = await log.next("tracker-lost");
    assert.match(lost.message, /did not answer within 0\.3 s/);
  } finally {
    link.client.close(); // else a goodbye would wait for the silent tracker on a clock that stands still
    await link.close();
  }
});
