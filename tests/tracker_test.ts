/**
 * The tracker role (`tracker.ts`): `startTracker` listens where it is told,
 * tells what its sessions do as events (and periodic statistics), reports
 * unexpected errors and goes on, admits only clients that know its secret
 * when it has one, reads its counters as `STATS` does, and on `close()`
 * closes every session and every timer, once. Over real loopback sockets;
 * time on a clock moved by hand.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseStatsReply } from "../protocol.ts";
import { formatTrackerEvent } from "../cli/report.ts";
import { Secret } from "../io/secret.ts";
import { TrackerClient } from "../peer/tracker_client.ts";
import { MemoryStore, startTracker, type TrackerEvent } from "../tracker.ts";
import { ManualClock } from "./helpers/clock.ts";
import { LineClient, texts, unusedPort } from "./helpers/net.ts";
import { suiteTracker } from "./helpers/roles.ts";

const SHA_A = "a".repeat(64);

Deno.test("tracker: listens on the given host and port, or a free port for 0; a taken port fails the start with AddrInUse and leaves no timer", async () => {
  {
    await using tracker = await suiteTracker({ hostname: "127.0.0.1", port: 0 });
    assert.equal(tracker.addr.hostname, "127.0.0.1");
    assert.equal(tracker.addr.transport, "tcp");
    assert.ok(tracker.addr.port > 0);
    using c = await LineClient.connect(tracker.addr.port);
    assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
  }
  const port = unusedPort();
  await using tracker = await suiteTracker({ hostname: "127.0.0.1", port });
  assert.equal(tracker.addr.port, port);
  using c = await LineClient.connect(port);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
  // On a Redis store, the store opened for the failed start is closed again: the sanitizers see any connection left.
  await assert.rejects(suiteTracker({ hostname: "127.0.0.1", port }), Deno.errors.AddrInUse);
  // startTracker (in memory) throws at once.
  assert.throws(() => startTracker({ hostname: "127.0.0.1", port }), Deno.errors.AddrInUse);
});

Deno.test("tracker: events tell of peers joining, announcing, reporting, asking badly and leaving", async () => {
  await using tracker = await suiteTracker();
  using holder = await LineClient.connect(tracker.addr.port);
  const holderName = `127.0.0.1:${(holder.conn.localAddr as Deno.NetAddr).port}`;
  await holder.ask(`UPDATE 5001 2\n1 ${SHA_A} a.txt\n1 ${SHA_A} b.txt\n`);
  await holder.ask(`ADD 5001 1\n1 ${SHA_A} c.txt\n`);
  await holder.ask("REMOVE 1\na.txt\n");
  {
    using other = await LineClient.connect(tracker.addr.port);
    const otherName = `127.0.0.1:${(other.conn.localAddr as Deno.NetAddr).port}`;
    await other.ask("REPORT 127.0.0.1:5001 EHASH 0 b.txt\n");
    await other.ask("NOPE\n");
    await tracker.events.until("the other session's report", () => tracker.events.of("reported").length === 1);
    assert.deepEqual(tracker.events.of("reported"), [
      { type: "reported", peer: otherName, holder: "127.0.0.1:5001", name: "b.txt", outcome: "EHASH", demoted: false },
    ]);
    assert.deepEqual(tracker.events.of("bad-request"), [
      { type: "bad-request", peer: otherName, status: 400, message: 'unknown command "NOPE"; try HELP' },
    ]);
  }
  assert.equal((await tracker.events.next("left")).files, 0, "the other session announced nothing");
  holder[Symbol.dispose]();
  assert.deepEqual(await tracker.events.next("left"), { type: "left", peer: "127.0.0.1:5001", files: 2 });
  assert.deepEqual(
    tracker.events.events.filter((e) => e.type !== "reported" && e.type !== "bad-request").map(formatTrackerEvent),
    [
      `connection from ${holderName}`,
      "127.0.0.1:5001 announced 2 files",
      "127.0.0.1:5001 added 1 file (3 in all)",
      "127.0.0.1:5001 removed 1 file (2 left)",
      `connection from ${tracker.events.of("bad-request")[0].peer}`,
      `${tracker.events.of("bad-request")[0].peer} left; 0 files removed from the index`,
      "127.0.0.1:5001 left; 2 files removed from the index",
    ],
  );
});

Deno.test("tracker: close() closes every session and every timer, and a second close() does nothing more", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock, statsIntervalMs: 60_000 });
  using announced = await LineClient.connect(tracker.addr.port);
  using waiting = await LineClient.connect(tracker.addr.port);
  const waitingName = `127.0.0.1:${(waiting.conn.localAddr as Deno.NetAddr).port}`;
  await announced.ask(`UPDATE 5001 1\n1 ${SHA_A} a.txt\n`);
  await waiting.ask("WAIT 600 later.txt\n");
  assert.ok(clock.pending >= 4, "idle watchdogs, a wait, the sampler, the stats interval");

  await tracker.close();
  assert.equal(await announced.closed(), true);
  assert.equal(await waiting.closed(), true);
  // Each session left the index as it closed: what the store said it took out with it, through any store.
  assert.deepEqual(
    tracker.events.of("left").map((e) => `${e.peer} ${e.files}`).sort(),
    ["127.0.0.1:5001 1", `${waitingName} 0`].sort(),
  );
  // A memory store can still be read after close (a Redis store's connections are closed with it).
  if (tracker.store instanceof MemoryStore) {
    assert.deepEqual(await tracker.store.counts(), { peers: 0, names: 0, entries: 0, partial: 0 });
    const after = await tracker.stats();
    assert.equal(after.waiting, 0);
    assert.equal(after.sessions, 0);
  }
  assert.equal(clock.pending, 0, "no timer left: the waits, the watchdogs, the sampler, the stats interval");
  await assert.rejects(LineClient.connect(tracker.addr.port), Deno.errors.ConnectionRefused);

  await tracker.close();
  await tracker[Symbol.asyncDispose]();
  assert.equal(tracker.events.of("left").length, 2);
  await clock.advance(600_000);
  assert.equal(tracker.events.of("stats").length, 0, "no stats after close");
});

Deno.test("tracker: with a secret, a client without it gets 530 and a close; one with it is served", async () => {
  const secret = await Secret.from("tracker role test secret");
  await using tracker = await suiteTracker({ secret });
  using plain = await LineClient.connect(tracker.addr.port);
  await plain.send("PING\n");
  assert.equal(await plain.reader.readLine(), "530 this server needs the shared secret (--secret)");
  assert.equal(await plain.reader.readLine(), null);
  await using client = await TrackerClient.connect(tracker.address, { secret });
  assert.equal(await client.raw("PING"), "200 PONG\n");
  assert.equal(tracker.events.of("joined").length, 1, "the refused client never had a session");
});

Deno.test("tracker: stats() agrees with STATS over the wire", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock });
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  const agree = async () => {
    const wire = parseStatsReply(await b.ask("STATS\n"));
    assert.deepEqual(await tracker.stats(), wire);
    return wire;
  };
  assert.deepEqual(await agree(), {
    sessions: 2,
    peers: 0,
    files: 0,
    holders: 0,
    partial: 0,
    requests: 1,
    rps: 0,
    reports: 0,
    reportedBytes: 0,
    waiting: 0,
    uptime: 0,
  });
  await a.ask(`UPDATE 5001 2\n100 ${SHA_A} a.txt\n1 ${SHA_A} b.txt\n`);
  await b.ask("REPORT 127.0.0.1:5001 OK 1000 a.txt\n");
  await b.ask("WAIT 60 c.txt, d.txt\n");
  await clock.advance(4_000);
  assert.deepEqual(await agree(), {
    sessions: 2,
    peers: 1,
    files: 2,
    holders: 2,
    partial: 0,
    requests: 5,
    rps: 1.3, // 5 requests in 4 s
    reports: 1,
    reportedBytes: 100,
    waiting: 2,
    uptime: 4,
  });
});

Deno.test("tracker: statsIntervalMs tells periodic stats events with the counters", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock, statsIntervalMs: 50 });
  await clock.advance(49);
  assert.equal(tracker.events.of("stats").length, 0);
  await clock.advance(1);
  const first = await tracker.events.next("stats");
  assert.equal(first.stats.peers, 0);
  using c = await LineClient.connect(tracker.addr.port);
  await c.ask(`UPDATE 5001 2\n1 ${SHA_A} a.txt\n1 ${SHA_A} b.txt\n`);
  await c.ask("WAIT 60 c.txt\n");
  await clock.advance(50);
  const event = await tracker.events.next("stats");
  assert.deepEqual(event.stats, {
    sessions: 1,
    peers: 1,
    files: 2,
    holders: 2,
    partial: 0,
    requests: 2,
    rps: 20, // 2 requests in 0.1 s
    reports: 0,
    reportedBytes: 0,
    waiting: 1,
    uptime: 0,
  });
  assert.match(formatTrackerEvent(event), /^stats: sessions=1 peers=1 files=2 holders=2 partial=0 requests=2 rps=/);
  await clock.advance(500);
  // Each stats event is told once the store has answered its counts (a Redis store answers a round trip later).
  await tracker.events.until("the stats of the last 500 ms", () => tracker.events.of("stats").length >= 12);
  assert.equal(tracker.events.of("stats").length, 12, "every 50 ms");
});

Deno.test("tracker: onError is told of an unexpected error in a session, and the tracker goes on", async () => {
  const errors: unknown[] = [];
  const boom = new Error("the embedding program's event handler failed");
  let first = true;
  await using tracker = await suiteTracker({
    onEvent: (event: TrackerEvent) => {
      if (event.type === "joined" && first) {
        first = false;
        throw boom;
      }
    },
    onError: (error) => errors.push(error),
  });
  using unlucky = await LineClient.connect(tracker.addr.port);
  assert.equal(await unlucky.closed(), true, "that session ends");
  assert.deepEqual(errors, [boom], "told before the connection closed");
  using next = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await next.ask(`UPDATE 5001 1\n1 ${SHA_A} a.txt\n`)), [
    "200 indexed 1 file as 127.0.0.1:5001",
  ]);
  assert.deepEqual(await tracker.store.counts(), { peers: 1, names: 1, entries: 1, partial: 0 });
});

Deno.test("tracker: demoteAfter sets how many failing sessions demote a holder", async () => {
  await using tracker = await suiteTracker({ demoteAfter: 3 });
  using holder = await LineClient.connect(tracker.addr.port);
  using other = await LineClient.connect(tracker.addr.port);
  await holder.ask(`UPDATE 5001 1\n1 ${SHA_A} f.txt\n`);
  await other.ask(`UPDATE 5002 1\n1 ${SHA_A} f.txt\n`);
  using stack = new DisposableStack();
  const notes: string[] = [];
  for (let i = 0; i < 3; i++) {
    const reporter = stack.use(await LineClient.connect(tracker.addr.port));
    notes.push((await reporter.ask("REPORT 127.0.0.1:5001 EHASH 0 f.txt\n"))[0].text);
  }
  assert.deepEqual(notes, [
    "noted: 127.0.0.1:5001 0 ok, 1 failed, 0 bytes served",
    "noted: 127.0.0.1:5001 0 ok, 2 failed, 0 bytes served",
    "noted: 127.0.0.1:5001 0 ok, 3 failed, 0 bytes served; no longer offered",
  ]);
  assert.deepEqual(texts(await other.ask("SEND f.txt\n")), [
    `200-HOLDER 127.0.0.1:5002 1 ${SHA_A} f.txt`,
    "200 END 1 found, 0 not found",
  ]);
});
