/**
 * The tracker connection under faults: a tracker that restarts, a peer or a
 * tracker that goes silent, clients that drip or flood. Real loopback
 * sockets; waits are for events, with generous margins, never timed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer, type PeerEvent } from "../peer.ts";
import { formatAddress } from "../protocol.ts";
import { startTracker, type TrackerEvent } from "../tracker.ts";
import { hashToken, LineClient, randomBytes, sha256, tempDir, writeFiles } from "./helpers.ts";
import { localError } from "../io/errors.ts";
import { closeQuietly } from "../io/link.ts";
import { BufferedReader } from "../io/reader.ts";
import { writeText } from "../io/streams.ts";
import { downloadFile } from "../peer/download.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

const MiB = 1024 * 1024;

/** Events of one kind, each awaitable: `next(type)` resolves on the next one (or one already seen and not taken). */
function eventLog<E extends { type: string }>() {
  const seen: E[] = [];
  const waiters: { type: string; resolve: (e: E) => void }[] = [];
  return {
    push(e: E) {
      const i = waiters.findIndex((w) => w.type === e.type);
      if (i >= 0) waiters.splice(i, 1)[0].resolve(e);
      else seen.push(e);
    },
    next(type: E["type"]): Promise<E> {
      const i = seen.findIndex((e) => e.type === type);
      if (i >= 0) return Promise.resolve(seen.splice(i, 1)[0]);
      return new Promise((resolve) => waiters.push({ type, resolve }));
    },
    all: seen,
  };
}

async function peerOn(tracker: string, dir: string, options: Partial<Parameters<typeof Peer.start>[0]> = {}) {
  const events = eventLog<PeerEvent>();
  const peer = await Peer.start({
    tracker,
    hostname: "127.0.0.1",
    port: 0,
    dir,
    reconnect: { minMs: 20, maxMs: 200 },
    onEvent: (e) => events.push(e),
    ...options,
  });
  return Object.assign(peer, { events, address: formatAddress(peer.addr.hostname, peer.addr.port) });
}

Deno.test("reliability: a tracker that restarts gets every peer back, re-announced, and uploads go on meanwhile", async () => {
  await using dirA = await tempDir();
  await using dirB = await tempDir();
  const big = randomBytes(3 * MiB + 11, 61);
  await writeFiles(dirA.path, { "a.txt": "from a", "big.bin": big });
  await writeFiles(dirB.path, { "b.txt": "from b" });
  const first = startTracker({ hostname: "127.0.0.1", port: 0 });
  const port = first.addr.port;
  const address = `127.0.0.1:${port}`;
  await using a = await peerOn(address, dirA.path);
  await using b = await peerOn(address, dirB.path);
  assert.equal(first.index.stats().entries, 3);

  await first.close();
  assert.match((await a.events.next("tracker-lost")).type, /tracker-lost/);
  await b.events.next("tracker-lost");
  // Without a tracker, a peer still serves: a download straight from it works.
  await using out = await tempDir();
  const got = await downloadFile({
    name: "big.bin",
    status: 200,
    holders: [{ address: a.address, size: big.length, sha256: sha256(big) }],
  }, { outDir: out.path });
  assert.equal(got.size, big.length);
  assert.deepEqual(await Deno.readFile(join(out.path, "big.bin")), big);
  // And SEND says why it cannot look anything up.
  await assert.rejects(() => a.send("b.txt"), /tracker is unreachable/);

  await using second = startTracker({ hostname: "127.0.0.1", port });
  await a.events.next("tracker-back");
  await b.events.next("tracker-back");
  assert.deepEqual(second.index.stats(), { peers: 2, names: 3, entries: 3 });
  assert.deepEqual(second.index.holders("big.bin", 5).map((h) => `${h.address} ${h.sha256}:${h.root}`), [
    `${a.address} ${hashToken(big)}`,
  ]);
  // The peer works as before: it fetches from the other one through the new tracker.
  const report = await a.send("b.txt");
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
});

Deno.test("reliability: tries to reach a lost tracker are spaced out more and more, and stop when the peer closes", async () => {
  await using dir = await tempDir();
  const tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
  const peer = await peerOn(`127.0.0.1:${tracker.addr.port}`, dir.path, { reconnect: { minMs: 10, maxMs: 80 } });
  await tracker.close();
  await peer.events.next("tracker-lost");
  const waits: number[] = [];
  for (let i = 0; i < 5; i++) {
    const e = await peer.events.next("tracker-retry");
    assert.ok(e.type === "tracker-retry");
    assert.equal(e.attempt, i + 1);
    assert.match(e.message, /cannot reach the tracker/);
    waits.push(e.nextInMs);
  }
  // Each wait is drawn from the upper half of a ceiling that doubles up to maxMs.
  waits.forEach((w, i) => {
    const ceiling = Math.min(80, 10 * 2 ** (i + 1));
    assert.ok(w >= ceiling / 2 - 1 && w <= ceiling + 1, `wait ${i + 1}: ${w} ms, ceiling ${ceiling}`);
  });
  await peer.close(); // must not hang on the retry loop
});

Deno.test("reliability: the tracker drops a session that sends no whole line for its idle time, and its files go", async () => {
  const events = eventLog<TrackerEvent>();
  await using tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    idleTimeoutMs: 300,
    onEvent: (e) => events.push(e),
  });
  using quiet = await LineClient.connect(tracker.addr.port);
  const [ok] = await quiet.ask(`UPDATE 7000 1\n3 ${sha256("abc")} f.txt\n`);
  assert.equal(ok.status, 200);
  assert.equal(tracker.index.stats().entries, 1);
  assert.equal(await quiet.reader.readLine(), null, "closed by the tracker");
  const left = await events.next("left");
  assert.ok(left.type === "left");
  assert.equal(left.reason, "no request for 0.3 s");
  assert.equal(tracker.index.stats().entries, 0);
});

Deno.test("reliability: a client dripping a line byte by byte is dropped like a silent one", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, idleTimeoutMs: 300 });
  using drip = await LineClient.connect(tracker.addr.port);
  let isClosed = false;
  const closed = drip.reader.readLine().finally(() => isClosed = true);
  let sent = 0;
  // One byte every 50 ms, never a line feed: bytes arrive, but no request is ever whole.
  for (const byte of "SEND a-name-that-never-ends") {
    await new Promise((r) => setTimeout(r, 50));
    if (isClosed) break;
    await writeText(drip.conn, byte).catch(() => {});
    sent++;
  }
  assert.equal(await closed, null);
  assert.ok(sent < "SEND a-name-that-never-ends".length, `the tracker waited for all ${sent} bytes`);
});

Deno.test("reliability: PING answers PONG, and a peer's heartbeat keeps it in a tracker with a short idle time", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, idleTimeoutMs: 500 });
  using raw = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(await raw.ask("PING\n"), [{ status: 200, more: false, text: "PONG" }]);
  await using dir = await tempDir();
  await writeFiles(dir.path, { "kept.txt": "still here" });
  await using peer = await peerOn(`127.0.0.1:${tracker.addr.port}`, dir.path, { heartbeatMs: 50 });
  // Three idle times with nothing asked: only the heartbeat speaks.
  await new Promise((r) => setTimeout(r, 1_500));
  assert.equal(peer.events.all.filter((e) => e.type === "tracker-lost").length, 0);
  assert.equal(tracker.index.holders("kept.txt", 5).length, 1);
});

Deno.test("reliability: a tracker that stops answering (half-open) is noticed by the heartbeat and left", async () => {
  // A fake tracker: answers the first UPDATE, then reads and never answers again.
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns: Deno.Conn[] = [];
  const serving = (async () => {
    for await (const conn of listener) {
      conns.push(conn);
      const reader = new BufferedReader(conn);
      (async () => {
        const header = await reader.readLine();
        const count = Number(header?.split(" ")[2] ?? 0);
        for (let i = 0; i < count; i++) await reader.readLine();
        await writeText(conn, "200 indexed\n");
        while ((await reader.readLine()) !== null) { /* silence */ }
      })().catch(() => {});
    }
  })().catch(() => {});
  await using dir = await tempDir();
  const peer = await peerOn(`127.0.0.1:${listener.addr.port}`, dir.path, {
    heartbeatMs: 50,
    timeoutMs: 300,
    reconnect: { minMs: 60_000, maxMs: 60_000 }, // no retry within the test
  });
  const lost = await peer.events.next("tracker-lost");
  assert.ok(lost.type === "tracker-lost");
  assert.match(lost.message, /did not answer within 0.3 s/);
  await peer.close();
  closeQuietly(listener);
  for (const c of conns) closeQuietly(c);
  await serving;
});

Deno.test("reliability: connections over the total or per-address cap get 421 and a close; the others are served", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, maxConnections: 3, maxPerAddress: 2 });
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  assert.equal((await one.ask("PING\n"))[0].text, "PONG");
  assert.equal((await two.ask("PING\n"))[0].text, "PONG");
  using third = await LineClient.connect(tracker.addr.port);
  assert.equal(await third.reader.readLine(), "421 too many connections from 127.0.0.1 (2)");
  assert.equal(await third.reader.readLine(), null);
  // One leaves: room again.
  one[Symbol.dispose]();
  let again: LineClient | undefined;
  for (let i = 0; i < 100 && !again; i++) {
    const c = await LineClient.connect(tracker.addr.port);
    const [reply] = await c.ask("PING\n").catch(() => [{ text: "refused" }]);
    if (reply.text === "PONG") again = c;
    else {
      c[Symbol.dispose]();
      await new Promise((r) => setTimeout(r, 20));
    }
  }
  assert.ok(again, "a slot was freed");
  again[Symbol.dispose]();
});

Deno.test("reliability: a get's tracker client learns at once that the tracker closed", async () => {
  const tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
  await using client = await TrackerClient.connect(`127.0.0.1:${tracker.addr.port}`);
  await tracker.close();
  assert.equal(await client.closed, "the tracker closed the connection");
  assert.equal(client.open, false);
  await assert.rejects(() => client.send(["x"]), /closed/);
});

Deno.test("reliability: a closing peer leaves the tracker at once, refuses new connections, and lets a running upload finish", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
  await using dir = await tempDir();
  const data = randomBytes(3 * MiB + 5, 71);
  await writeFiles(dir.path, { "slow.bin": data });
  // 3 MiB at 2 MiB/s: the upload is still running when the peer is told to close.
  const peer = await peerOn(`127.0.0.1:${tracker.addr.port}`, dir.path, { maxUploadRate: 2 * MiB });
  await using out = await tempDir();
  const download = downloadFile({
    name: "slow.bin",
    status: 200,
    holders: [{ address: peer.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path });
  // Wait until bytes are arriving.
  for (let seen = 0; seen === 0;) {
    await new Promise((r) => setTimeout(r, 20));
    for await (const e of Deno.readDir(out.path)) {
      if (e.name.endsWith(".part")) seen = (await Deno.stat(join(out.path, e.name))).size;
    }
  }
  const closing = peer.close();
  // The tracker forgets it before the upload ends.
  for (let i = 0; i < 200 && tracker.index.stats().entries > 0; i++) await new Promise((r) => setTimeout(r, 10));
  assert.equal(tracker.index.stats().entries, 0);
  await assert.rejects(() => Deno.connect({ hostname: "127.0.0.1", port: peer.addr.port }));
  const got = await download;
  assert.equal(got.size, data.length);
  assert.deepEqual(await Deno.readFile(join(out.path, "slow.bin")), data);
  await closing;
});

const hasIPv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "reliability: tracker and peers work over IPv6 (::1), addresses written [v6]:port",
  ignore: !hasIPv6,
  fn: async () => {
    await using tracker = startTracker({ hostname: "::1", port: 0 });
    await using one = await tempDir();
    await using two = await tempDir();
    const data = randomBytes(2 * MiB + 3, 81);
    await writeFiles(one.path, { "v6.bin": data });
    await using a = await peerOn(`[::1]:${tracker.addr.port}`, one.path, { hostname: "::1" });
    await using b = await peerOn(`[::1]:${tracker.addr.port}`, two.path, { hostname: "::1" });
    assert.equal(a.address, `[::1]:${a.addr.port}`);
    const report = await b.send("v6.bin");
    assert.match(report.reply, new RegExp(`^200-HOLDER \\[::1\\]:${a.addr.port} `, "m"));
    assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
    assert.deepEqual(await Deno.readFile(join(two.path, "v6.bin")), data);
  },
});

Deno.test("reliability: an IPv4 client of a dual-stack socket is written as plain IPv4", () => {
  assert.equal(formatAddress("::ffff:10.1.2.3", 5555), "10.1.2.3:5555");
  assert.equal(formatAddress("::1", 5555), "[::1]:5555");
  assert.equal(formatAddress("fe80::1", 1), "[fe80::1]:1");
});

Deno.test("reliability: the index has a ceiling: an UPDATE that would pass it gets 413 and changes nothing", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, maxEntries: 5 });
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  const entries = (n: number, prefix: string) =>
    Array.from({ length: n }, (_, i) => `1 ${sha256("x")} ${prefix}${i}`).join("\n") + "\n";
  assert.equal((await one.ask(`UPDATE 7001 3\n${entries(3, "a")}`))[0].status, 200);
  const [full] = await two.ask(`UPDATE 7002 3\n${entries(3, "b")}`);
  assert.equal(full.status, 413);
  assert.match(full.text, /index is full \(5 entries in all\); nothing changed/);
  assert.deepEqual(tracker.index.stats(), { peers: 1, names: 3, entries: 3 });
  // A peer replacing its own announcement counts only the difference.
  assert.equal((await one.ask(`UPDATE 7001 5\n${entries(5, "a")}`))[0].status, 200);
  assert.equal((await two.ask("PING\n"))[0].text, "PONG", "the refused session goes on");
});

Deno.test("reliability: disk problems name the file and say what to do", () => {
  const cases: [unknown, RegExp][] = [
    [
      new Deno.errors.NotFound("No such file or directory (os error 2)"),
      /; create the folder or choose another --out$/,
    ],
    [new Deno.errors.PermissionDenied("Permission denied (os error 13)"), /; check the folder's permissions/],
    [new Error("No space left on device (os error 28)"), /; free some space or choose another --out$/],
    [new Error("Read-only file system (os error 30)"), /; choose a writable --out$/],
    [new Error("something else"), /^cannot write \/x\/f: something else$/],
  ];
  for (const [error, expected] of cases) assert.match(localError("cannot write /x/f", error).message, expected);
});

Deno.test("reliability: a download into a missing folder says which and what to do, and contacts no one", async () => {
  await using dir = await tempDir();
  const error = await downloadFile({
    name: "f.txt",
    status: 200,
    holders: [{ address: "127.0.0.1:9", size: 1, sha256: sha256("x") }],
  }, { outDir: join(dir.path, "missing") }).then(() => undefined, (e) => e);
  assert.match(String(error?.message), /cannot write in .*missing: .*; create the folder or choose another --out/);
  assert.deepEqual(error.attempts, []);
});

Deno.test("reliability: a holder at its most uploads answers 503 busy at once, and the connection goes on", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
  await using dir = await tempDir();
  const data = randomBytes(2 * MiB, 91);
  await writeFiles(dir.path, { "a.bin": data, "small.txt": "small" });
  await using peer = await peerOn(`127.0.0.1:${tracker.addr.port}`, dir.path, {
    maxUploads: 1,
    maxUploadRate: 1 * MiB, // the first upload takes about 2 s
  });
  using first = await LineClient.connect(peer.addr.port);
  await first.send("GET a.bin\n");
  assert.match((await first.reader.readLine())!, /^200 /);
  using second = await LineClient.connect(peer.addr.port);
  const [busy] = await second.ask("RANGE 0 5 small.txt\n");
  assert.equal(busy.status, 503);
  assert.match(busy.text, /busy: 1 uploads at once; try later/);
  first[Symbol.dispose](); // the first upload ends (cut)
  for (let i = 0; i < 200; i++) {
    const [reply] = await second.ask("RANGE 0 4 small.txt\n");
    if (reply.status === 206) {
      assert.match(reply.text, /^5 [0-9a-f]{64} 0 4$/);
      return;
    }
    assert.equal(reply.status, 503);
    await new Promise((r) => setTimeout(r, 20));
  }
  assert.fail("the holder stayed busy");
});

Deno.test("reliability: a download running when the tracker goes away finishes, verified", async () => {
  const tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${tracker.addr.port}`;
  await using dir = await tempDir();
  const data = randomBytes(3 * MiB + 7, 111);
  await writeFiles(dir.path, { "long.bin": data });
  // 3 MiB at 2 MiB/s: the tracker is gone long before the last byte.
  await using holder = await peerOn(address, dir.path, { maxUploadRate: 2 * MiB });
  await using out = await tempDir();
  await using client = await TrackerClient.connect(address);
  const { lookups } = await client.send(["long.bin"]);
  const download = downloadFile(lookups[0], { outDir: out.path });
  for (let seen = 0; seen === 0;) {
    await new Promise((r) => setTimeout(r, 20));
    for await (const e of Deno.readDir(out.path)) {
      if (e.name.endsWith(".part")) seen = (await Deno.stat(join(out.path, e.name))).size;
    }
  }
  await tracker.close();
  await holder.events.next("tracker-lost");
  const got = await download;
  assert.equal(got.size, data.length);
  assert.deepEqual(await Deno.readFile(join(out.path, "long.bin")), data);
});
