/**
 * A tracker session as a line protocol, over real loopback sockets: unknown
 * commands, empty lines, CRLF and oversized lines are answered and the
 * session goes on; pipelined requests are answered in order; garbage split
 * at random changes nothing; `QUIT` closes; a session that completes no line
 * for its idle time (silent, or dripping bytes) is closed, and a closed
 * session's files leave the index at once. Idle times run on a clock moved
 * by hand.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Limits, Timeouts, TRACKER_COMMANDS } from "../../protocol.ts";
import type { TrackerStore } from "../../tracker.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { ManualClock, settle } from "../helpers/clock.ts";
import { LineClient, texts } from "../helpers/net.ts";
import { mutatedLine, SeededRandom } from "../helpers/random.ts";
import { suiteTracker } from "../helpers/roles.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const IDLE_MS = Timeouts.TRACKER_IDLE_MS;

Deno.test("tracker session: unknown commands answer 400 with a hint to try HELP; empty lines and CRLF are fine; the session goes on", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await c.ask("FROB x\r\n")), ['400 unknown command "FROB"; try HELP']);
  assert.deepEqual(await tracker.events.next("bad-request"), {
    type: "bad-request",
    peer: `127.0.0.1:${(c.conn.localAddr as Deno.NetAddr).port}`,
    status: 400,
    message: 'unknown command "FROB"; try HELP',
  });
  const long = "X".repeat(1_000);
  assert.deepEqual(texts(await c.ask(`${long}\n`)), [`400 unknown command "${"X".repeat(32)}"; try HELP`]);
  await c.send("\r\n\n   \n");
  assert.deepEqual(texts(await c.ask("PEERS\r\n")), ["200 END 0 peers"], "empty lines get no reply");
  const help = await c.ask("HELP\n");
  assert.ok(help.every((l) => l.status === 214) && help.length > 3);
  assert.deepEqual(help.map((l) => l.text), TRACKER_COMMANDS);
  assert.equal((await tracker.stats()).requests, 4, "an empty line is no request");
});

Deno.test("tracker session: an oversized line answers 413 and the session goes on", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask("SEND " + "x".repeat(Limits.MAX_LINE_BYTES + 10) + "\n");
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 413);
  assert.deepEqual(texts(await c.ask("PEERS\n")), ["200 END 0 peers"]);
});

Deno.test("tracker session: QUIT answers 221 and closes the connection", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await c.ask("QUIT\n")), ["221 bye"]);
  assert.equal(await c.reply(), null);
  assert.equal((await tracker.events.next("left")).type, "left");
});

Deno.test("tracker session: pipelined requests are answered in order", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.send(`UPDATE 5001 1\n10 ${SHA_A} a.txt\nSEND a.txt\nFROB\nSEND b.txt\nPEERS\n`);
  assert.deepEqual(texts((await c.reply())!), ["200 indexed 1 file as 127.0.0.1:5001"]);
  assert.deepEqual(texts((await c.reply())!), [
    `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} a.txt`,
    "200 END 1 found, 0 not found",
  ]);
  assert.deepEqual(texts((await c.reply())!), ['400 unknown command "FROB"; try HELP']);
  assert.deepEqual(texts((await c.reply())!), ["404-NOTFOUND b.txt", "200 END 0 found, 1 not found"]);
  assert.deepEqual(texts((await c.reply())!), ["200-PEER 127.0.0.1:5001 1", "200 END 1 peers"]);
});

Deno.test("tracker session: many sessions at once each get their own answers", async () => {
  await using tracker = await suiteTracker();
  const clients = await Promise.all(Array.from({ length: 20 }, () => TrackerClient.connect(tracker.address)));
  try {
    await Promise.all(clients.map((c, i) => c.update(6000 + i, [{ name: `f${i}`, size: i + 1, sha256: SHA_A }])));
    const answers = await Promise.all(clients.map((c, i) => c.send([`f${(i + 1) % 20}`])));
    answers.forEach((a, i) => {
      assert.equal(a.lookups[0].holders.length, 1);
      assert.equal(a.lookups[0].holders[0].address, `127.0.0.1:${6000 + (i + 1) % 20}`);
      assert.equal(a.lookups[0].holders[0].size, (i + 1) % 20 + 1);
    });
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("tracker session: a peer's files leave the index as soon as its connection closes", async () => {
  await using tracker = await suiteTracker();
  using asker = await LineClient.connect(tracker.addr.port);
  {
    using peer = await LineClient.connect(tracker.addr.port);
    await peer.ask(`UPDATE 5001 1\n10 ${SHA_A} file1.txt\n`);
    assert.equal((await asker.ask("SEND file1.txt\n"))[0].status, 200);
  }
  assert.deepEqual(await tracker.events.next("left", (e) => e.files > 0), {
    type: "left",
    peer: "127.0.0.1:5001",
    files: 1,
  });
  assert.deepEqual(texts(await asker.ask("SEND file1.txt\n")), [
    "404-NOTFOUND file1.txt",
    "200 END 0 found, 1 not found",
  ]);
  assert.deepEqual(texts(await asker.ask("PEERS\n")), ["200 END 0 peers"]);
  assert.deepEqual(await tracker.store.counts(), { peers: 0, names: 0, entries: 0, partial: 0 });
});

Deno.test("tracker session: a session with no whole line for its idle time is closed, and its files leave the index", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock }); // the default idle time, 120 s, on the manual clock
  using quiet = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await quiet.ask(`UPDATE 7000 1\n3 ${SHA_A} f.txt\n`)), [
    "200 indexed 1 file as 127.0.0.1:7000",
  ]);
  assert.equal((await tracker.store.counts()).entries, 1);
  await clock.advance(IDLE_MS - 1);
  assert.deepEqual(texts(await quiet.ask("PING\n")), ["200 PONG"], "open a millisecond before its idle time");
  // The PING was a whole line: the idle time counts from it.
  await clock.advance(IDLE_MS - 1);
  assert.equal(tracker.events.of("left").length, 0);
  assert.equal((await tracker.store.counts()).entries, 1);
  await clock.advance(1);
  assert.deepEqual(await tracker.events.next("left"), {
    type: "left",
    peer: "127.0.0.1:7000",
    files: 1,
    reason: "no request for 120 s",
  });
  assert.equal(await quiet.reader.readLine(), null, "closed by the tracker");
  assert.deepEqual(await tracker.store.counts(), { peers: 0, names: 0, entries: 0, partial: 0 });
});

Deno.test("tracker session: a client dripping a line byte by byte is dropped like a silent one", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock, idleTimeoutMs: 8_000 });
  using drip = await LineClient.connect(tracker.addr.port);
  await tracker.events.next("joined");
  let isClosed = false;
  const closed = drip.reader.readLine().finally(() => isClosed = true);
  closed.catch(() => {}); // awaited below; handled here too, in case an assertion fails first
  const line = "SEND a-name-that-never-ends";
  let sent = 0;
  // One byte every second, never a line feed: bytes arrive, but no request is ever whole.
  for (const byte of line) {
    await drip.send(byte);
    sent++;
    await settle();
    if (sent === 8) break;
    await clock.advance(1_000);
  }
  await clock.advance(999); // 7.999 s after the session began
  await settle();
  assert.equal(isClosed, false, "open before its idle time");
  await clock.advance(1);
  const left = await tracker.events.next("left");
  assert.equal(left.reason, "no request for 8 s");
  assert.equal(await closed, null);
  assert.ok(sent < line.length, `the tracker waited for all ${sent} bytes`);
});

// ---------------------------------------------------------------------------
// Garbage

const SHA = "ab".repeat(32);

/** Everything the index holds: counts, every peer with every file, every name with every holder. */
async function wholeIndex(store: TrackerStore) {
  const { files } = await store.list("", { max: Number.MAX_SAFE_INTEGER });
  return {
    stats: await store.counts(),
    peers: await Promise.all((await store.peers()).map(async (p) => ({ ...p, files: await store.filesOf(p.id) }))),
    names: files,
    holders: await Promise.all(
      files.map(async (f) => ({ name: f.name, holders: await store.holders(f.name, Number.MAX_SAFE_INTEGER) })),
    ),
  };
}

Deno.test("tracker session: fed 3,000 garbage lines split at random, the tracker keeps answering and its whole index is untouched", async () => {
  await using tracker = await suiteTracker();
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  const big = 3 * 1024 * 1024;
  await one.ask(`UPDATE 7000 2\n3 ${"e".repeat(64)} kept.txt\n${big} ${SHA_A}:${SHA_B} big file.bin\n`);
  await two.ask(`UPDATE 7001 3\n3 ${"e".repeat(64)} kept.txt\n5 ${SHA_B} b%2C c.txt\n12 ${SHA} file.txt\n`);
  const before = await wholeIndex(tracker.store);
  assert.deepEqual(before.stats, { peers: 2, names: 4, entries: 5, partial: 0 });
  assert.equal(before.holders.find((h) => h.name === "big file.bin")!.holders[0].root, SHA_B);

  const r = new SeededRandom(21);
  for (let round = 0; round < 3; round++) {
    using bad = await LineClient.connect(tracker.addr.port);
    // Garbage only, never UPDATE (whose entry lines would legitimately swallow what follows).
    const text = Array.from({ length: 1_000 }, () => mutatedLine(r).replace(/^\s*update/i, "X")).join("\n") +
      "\nPING\n";
    const bytes = new TextEncoder().encode(text);
    const reading = (async () => {
      while (true) {
        const line = await bad.reader.readLine(1 << 20).catch(() => null);
        if (line === null || line === "200 PONG") return line === "200 PONG";
      }
    })();
    for (let at = 0; at < bytes.length;) {
      const n = 1 + r.int(2_000);
      await bad.conn.write(bytes.subarray(at, at + n)).catch(() => 0);
      at += n;
    }
    assert.ok(await reading, `round ${round}: the garbage session ended before PING was answered`);
  }
  // The garbage sessions are gone now: their leaving took nothing with it either.
  await tracker.events.until("the garbage sessions left", () => tracker.events.of("left").length === 3);
  assert.deepEqual(await one.ask("PING\n"), [{ status: 200, more: false, text: "PONG" }]);
  assert.deepEqual(await wholeIndex(tracker.store), before);
  assert.ok(tracker.events.of("bad-request").length > 1_000, "the garbage was read, and refused");
});
