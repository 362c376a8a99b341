/**
 * The peer role (`peer.ts`), in this process against a real tracker, on
 * loopback: it announces its folder, downloads what it is sent (several
 * files at once, from several peers) and re-shares what lands in its
 * folder; its caps (`maxConnections`, `maxUploads`, `maxDownloadRate`)
 * reach the parts that enforce them; it keeps serving and downloading when
 * the tracker goes away (every use of the tracker then says so in the same
 * words), and comes back to a tracker that restarts. IPv6 works; start
 * fails clearly, naming the address, when its port is taken.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer } from "../peer.ts";
import { formatAddress } from "../protocol.ts";
import { RateLimit } from "../io/rate_limit.ts";
import { writeAll, writeText } from "../io/streams.ts";
import type { FileOutcome } from "../peer/download_all.ts";
import { downloadFile } from "../peer/download.ts";
import { sendAndFetch } from "../peer/send.ts";
import { TrackerClient } from "../peer/tracker_client.ts";
import { assertSameBytes } from "./helpers/assert.ts";
import { RecordingBoard } from "./helpers/board.ts";
import { ManualClock } from "./helpers/clock.ts";
import { within } from "./helpers/events.ts";
import { hashToken, holderOf, MiB, sha256 } from "./helpers/hashes.ts";
import { startFakeHolder } from "./helpers/holders.ts";
import { deadAddress, LineClient, readBytes } from "./helpers/net.ts";
import { randomBytes } from "./helpers/random.ts";
import { testPeer, testTracker } from "./helpers/roles.ts";
import { listDir, tempDir } from "./helpers/temp.ts";

// --- announcing and downloading -----------------------------------------------------

Deno.test("peer: announces its folder on start, hidden files and sub-folders excluded", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "a.txt": "a", ".secret": "s" });
  await Deno.mkdir(join(peer.dir, "sub"));
  await Deno.writeTextFile(join(peer.dir, "sub", "inner.txt"), "i");
  assert.deepEqual((await peer.folder.scan()).map((e) => e.name), ["a.txt"]);
  const holders = await tracker.store.holders("a.txt", 10);
  assert.deepEqual(holders.map(({ peer: _, ...h }) => h), [{ address: peer.address, size: 1, sha256: sha256("a") }]);
  assert.equal((await tracker.store.counts()).entries, 1);
});

Deno.test("peer: SEND fetches files from two peers in parallel, writes info.txt, reports the missing one", async () => {
  await using tracker = testTracker();
  const big = randomBytes(5_000_000);
  await using a = await testPeer(tracker.address, { "file1.txt": "hello from peer one\n", "file2.md": "# notes\n" });
  await using b = await testPeer(tracker.address, { "file3 with space.bin": big });
  await using info = await tempDir();
  await using c = await testPeer(tracker.address, {}, { infoPath: join(info.path, "info.txt") });
  const report = await c.send("file1.txt, file3 with space.bin, missing.txt");
  assert.deepEqual(report.outcomes.map((o) => [o.name, o.ok]), [
    ["file1.txt", true],
    ["file3 with space.bin", true],
    ["missing.txt", false],
  ]);
  assert.equal(await Deno.readTextFile(join(c.dir, "file1.txt")), "hello from peer one\n");
  await assertSameBytes(join(c.dir, "file3 with space.bin"), big);
  const saved = await Deno.readTextFile(join(info.path, "info.txt"));
  assert.equal(saved, report.reply);
  assert.match(saved, new RegExp(`^200-HOLDER ${a.address} 20 [0-9a-f]{64} file1\\.txt$`, "m"));
  assert.match(saved, new RegExp(`^200-HOLDER ${b.address} 5000000 ${hashToken(big)} file3 with space\\.bin$`, "m"));
  assert.match(saved, /^404-NOTFOUND missing\.txt$/m);
  // The same tracker connection serves the next request.
  const second = await c.send("file2.md");
  assert.ok(second.outcomes[0].ok);
  assert.equal(await Deno.readTextFile(join(c.dir, "file2.md")), "# notes\n");
});

Deno.test("peer: a downloaded file is announced at once and served to the next peer", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "f.bin": randomBytes(100_000) });
  await using b = await testPeer(tracker.address);
  assert.ok((await b.send("f.bin")).outcomes[0].ok);
  assert.deepEqual((await tracker.store.holders("f.bin", 10)).map((h) => h.address), [a.address, b.address]);
  await a.close();
  await using c = await testPeer(tracker.address);
  const report = await c.send("f.bin");
  assert.ok(report.outcomes[0].ok && report.outcomes[0].result.from === b.address);
});

Deno.test("peer: a file downloaded into the shared folder is listed at once, by ADD, and served with its first holder gone", async () => {
  await using tracker = testTracker();
  const data = randomBytes(3 * MiB, 31);
  await using a = await testPeer(tracker.address, { "f.bin": data });
  await using b = await testPeer(tracker.address);
  const report = await b.send("f.bin");
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.ok(report.announced, JSON.stringify(report));
  // While it downloaded, b served its verified chunks (a PARTIAL); once landed, the file is added whole.
  const added = await tracker.events.next(
    "announced",
    (e) => e.peer === b.address && e.added !== undefined && e.partial === undefined,
  );
  assert.deepEqual([added.added, added.files], [1, 1], "an incremental ADD");
  const { address: _, ...version } = holderOf("", data);
  assert.deepEqual((await tracker.store.holders("f.bin", 10)).map(({ peer: _, ...h }) => h), [
    { address: a.address, ...version },
    { address: b.address, ...version },
  ]);
  assert.deepEqual(await listDir(b.dir), ["f.bin"]);

  await a.close();
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path })).outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.equal(outcome.result.from, b.address);
  assert.deepEqual(outcome.result.sources.map((s) => [s.holder, s.bytes, s.code]), [[
    b.address,
    data.length,
    undefined,
  ]]);
  await assertSameBytes(join(out.path, "f.bin"), data);
});

Deno.test("peer: keeps serving many uploads while it downloads", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2_000_000);
  await using _source = await testPeer(tracker.address, { "in.bin": data });
  await using busy = await testPeer(tracker.address, { "out.bin": data });
  const downloaders = await Promise.all(Array.from({ length: 6 }, () => tempDir()));
  try {
    await using client = await TrackerClient.connect(tracker.address);
    const [own, ...others] = await Promise.all([
      busy.send("in.bin"),
      ...downloaders.map((d) => sendAndFetch(client, "out.bin", { outDir: d.path })),
    ]);
    assert.ok(own.outcomes[0].ok);
    for (const r of others) assert.ok(r.outcomes[0].ok);
    for (const d of downloaders) await assertSameBytes(join(d.path, "out.bin"), data);
  } finally {
    for (const d of downloaders) await d[Symbol.asyncDispose]();
  }
});

Deno.test("peer: an invalid name is refused locally and the others still download", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "ok.txt": "fine" });
  await using c = await testPeer(tracker.address);
  const report = await c.send("../../etc/passwd, ok.txt");
  const [bad, good] = report.outcomes;
  assert.ok(!bad.ok && /^403 /.test(bad.reason));
  assert.ok(good.ok);
  assert.equal(a.folder.entries().length, 1);
});

Deno.test("peer: send with waitSeconds, board and onSettled: lands, shows on the board, is shared; close cancels a wait", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB + 5, 51);
  await using downloader = await testPeer(tracker.address);
  const board = new RecordingBoard();
  const settled: FileOutcome[] = [];
  const waiting = Promise.withResolvers<string[]>();
  const sending = downloader.send("late.bin", {
    waitSeconds: 30,
    onWaiting: waiting.resolve,
    board,
    onSettled: (o) => void settled.push(o),
  });
  assert.deepEqual(await waiting.promise, ["late.bin"]);
  assert.equal(board.begun.length, 0, "nothing to show while nobody has it");
  await using holder = await testPeer(tracker.address, { "late.bin": data });
  const report = await sending;
  const [o] = report.outcomes;
  assert.ok(o.ok, JSON.stringify(o));
  assert.equal(o.result.from, holder.address);
  assert.equal(typeof o.waitedMs, "number");
  assert.deepEqual(settled, [o], "onSettled told once, with the outcome");
  assert.deepEqual(board.begun.map((b) => [b.name, b.size]), [["late.bin", data.length]], "begin once, with the size");
  assert.equal(board.ended.length, 1, "end once");
  assert.equal(board.ended[0].transfer, board.begun[0].transfer, "the transfer begun is the one ended");
  assert.ok(board.ended[0].bytes >= data.length, `bytes reach the size: ${board.ended[0].bytes}`);
  assert.ok(board.sourcesSet.some((n) => n > 0), `sources in use seen while it ran: ${board.sourcesSet}`);
  assert.equal(board.lateSets, 0, "nothing updates a transfer after its end");
  assert.equal(board.bytesBack, 0, "bytes never go down");
  await assertSameBytes(join(downloader.dir, "late.bin"), data);
  assert.ok(report.announced, "the file that landed in the shared folder was announced");
  assert.deepEqual((await tracker.store.holders("late.bin", 10)).map((h) => h.address), [
    holder.address,
    downloader.address,
  ]);

  // Closing the peer while a SEND waits ends the wait as cancelled.
  const waitingAgain = Promise.withResolvers<string[]>();
  const pending = downloader.send("never.bin", { waitSeconds: 30, onWaiting: waitingAgain.resolve });
  await waitingAgain.promise;
  await downloader.close();
  const cancelled = (await pending).outcomes[0];
  assert.ok(!cancelled.ok && cancelled.kind === "cancelled", JSON.stringify(cancelled));
});

Deno.test("peer: closing during a download cancels it and leaves no partial file", async () => {
  await using tracker = testTracker();
  const released = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  const data = randomBytes(100_000);
  await using slow = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 10));
      started.resolve();
      await released.promise;
    },
  });
  using announcer = await LineClient.connect(tracker.addr.port);
  await announcer.ask(`UPDATE ${slow.port} 1\n${data.length} ${sha256(data)} slow.bin\n`);
  await using peer = await testPeer(tracker.address, {}, { timeoutMs: 30_000 });
  try {
    const sending = peer.send("slow.bin");
    await started.promise;
    await peer.close();
    const report = await sending;
    assert.ok(!report.outcomes[0].ok && report.outcomes[0].reason === "cancelled");
    assert.deepEqual(await listDir(peer.dir), []);
  } finally {
    released.resolve();
  }
});

Deno.test("peer: after close its files leave the tracker's index", async () => {
  await using tracker = testTracker();
  const peer = await testPeer(tracker.address, { "a.txt": "a" });
  await peer[Symbol.asyncDispose]();
  const left = await tracker.events.next("left");
  assert.equal(left.peer, peer.address);
  assert.equal(left.files, 1);
  assert.deepEqual(await tracker.store.holders("a.txt", 10), []);
});

Deno.test("peer: start fails clearly, naming the address, when its port is taken", async () => {
  await using dir = await tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${taken.addr.port}`;
  await assert.rejects(
    Peer.start({ tracker: deadAddress(), hostname: "127.0.0.1", port: taken.addr.port, dir: dir.path }),
    (e: Error) =>
      e instanceof Deno.errors.AddrInUse &&
      e.message === `cannot listen on ${address}: the address is in use (another peer or tracker?); ` +
          "choose another with --port",
  );
});

// --- caps ---------------------------------------------------------------------------

Deno.test("peer: maxConnections reaches its file server: with 2, a third connection gets 421 while two are open, and is served once one closes", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "f.txt": "0123456789" }, { maxConnections: 2 });
  using one = await LineClient.connect(peer.addr.port);
  using two = await LineClient.connect(peer.addr.port);
  assert.equal((await one.ask("RANGE 0 1 f.txt\n"))[0].status, 206);
  assert.deepEqual(await readBytes(one.reader, 1), new TextEncoder().encode("0"));
  assert.equal((await two.ask("HASHES f.txt\n"))[0].status, 200);
  assert.equal(await two.reader.readLine(), sha256("0123456789"));
  {
    using third = await LineClient.connect(peer.addr.port);
    assert.equal(await within("the 421 line", third.reader.readLine()), "421 too many connections (2)");
    assert.equal(await third.reader.readLine(), null, "and closed");
  }
  one[Symbol.dispose]();
  await peer.events.next("served"); // the file server is done with it
  using fourth = await LineClient.connect(peer.addr.port);
  const [reply] = await fourth.ask("RANGE 2 3 f.txt\n");
  assert.equal(reply.status, 206);
  assert.deepEqual(await readBytes(fourth.reader, 3), new TextEncoder().encode("234"));
});

Deno.test("peer: maxUploads reaches its file server: one upload more is answered 503 busy, and the connection goes on", async () => {
  await using tracker = testTracker();
  const big = randomBytes(16 * MiB, 61); // big enough that a client that stops reading holds the upload
  await using peer = await testPeer(tracker.address, { "big.bin": big, "small.txt": "small" }, { maxUploads: 1 });
  using first = await LineClient.connect(peer.addr.port);
  await first.send("GET big.bin\n");
  assert.equal(await first.reader.readLine(), `200 ${big.length} ${sha256(big)}`); // and it reads no more
  using second = await LineClient.connect(peer.addr.port);
  const [busy] = await second.ask("RANGE 0 5 small.txt\n");
  assert.equal(busy.status, 503);
  assert.match(busy.text, /busy: 1 uploads at once; try later/);
  first[Symbol.dispose]();
  assert.equal((await peer.events.next("aborted")).name, "big.bin");
  const [served] = await second.ask("RANGE 0 4 small.txt\n");
  assert.equal(served.status, 206);
  assert.equal(new TextDecoder().decode(await readBytes(second.reader, 4)), "smal");
});

Deno.test("peer: maxDownloadRate makes one budget that every byte its downloads receive is paid from", async () => {
  await using tracker = testTracker();
  const one = randomBytes(2 * MiB + 1, 81);
  const two = randomBytes(700_000, 82);
  await using _holder = await testPeer(tracker.address, { "one.bin": one, "two.bin": two });
  await using peer = await testPeer(tracker.address, {}, { maxDownloadRate: 48 * MiB });
  const original = RateLimit.prototype.take;
  const paid = new Map<RateLimit, number>();
  RateLimit.prototype.take = function (this: RateLimit, n: number, cancelled?: () => boolean) {
    paid.set(this, (paid.get(this) ?? 0) + n);
    return original.call(this, n, cancelled);
  };
  try {
    // Two SENDs at once, as a person typing them at the prompt: both are paid from the peer's one budget.
    const reports = await Promise.all([peer.send("one.bin"), peer.send("two.bin")]);
    for (const report of reports) assert.ok(report.outcomes.every((o) => o.ok), JSON.stringify(report.outcomes));
    const second = await peer.send("two.bin"); // already there: nothing received
    assert.ok(second.outcomes[0].ok && second.outcomes[0].result.from === "here");
  } finally {
    RateLimit.prototype.take = original;
  }
  assert.equal(paid.size, 1, "one budget for every download of the peer");
  const [[limit, bytes]] = [...paid];
  assert.equal(limit.rate, 48 * MiB);
  assert.equal(bytes, one.length + two.length);
  await assertSameBytes(join(peer.dir, "one.bin"), one);
  await assertSameBytes(join(peer.dir, "two.bin"), two);
});

// --- the tracker away -------------------------------------------------------------------

Deno.test("peer: a tracker that restarts gets every peer back, re-announced, and uploads go on meanwhile", async () => {
  const big = randomBytes(3 * MiB + 11, 61);
  const first = testTracker();
  const port = first.addr.port;
  const reconnect = { minMs: 20, maxMs: 200 };
  await using a = await testPeer(first.address, { "a.txt": "from a", "big.bin": big }, { reconnect });
  await using b = await testPeer(first.address, { "b.txt": "from b" }, { reconnect });
  assert.equal((await first.store.counts()).entries, 3);

  await first.close();
  await a.events.next("tracker-lost");
  await b.events.next("tracker-lost");
  // Without a tracker, a peer still serves: a download straight from it works.
  await using out = await tempDir();
  const got = await downloadFile({ name: "big.bin", status: 200, holders: [holderOf(a.address, big)] }, {
    outDir: out.path,
  });
  assert.equal(got.size, big.length);
  await assertSameBytes(join(out.path, "big.bin"), big);
  // And SEND says why it cannot look anything up, in the same words as anything else that needs the tracker.
  const unreachable = new RegExp(
    `^the tracker at ${first.address.replaceAll(".", "\\.")} is unreachable since \\d\\d:\\d\\d:\\d\\d ` +
      // Why: the loss, or the last try since (the tracker's port refuses now).
      "\\((the tracker closed the connection|connection refused)\\); still trying in the background, uploads go on; " +
      "try again once a line says it is back$",
  );
  const sendError = await a.send("b.txt").then(() => assert.fail("SEND while the tracker is away"), (e) => e);
  assert.match(sendError.message, unreachable);
  assert.throws(() => a.tracker.peers(), (e: Error) => unreachable.test(e.message));
  await assert.rejects(() => a.announce(), (e: Error) => unreachable.test(e.message));

  await using second = testTracker({ port });
  await a.events.next("tracker-back");
  await b.events.next("tracker-back");
  assert.deepEqual(await second.store.counts(), { peers: 2, names: 3, entries: 3, partial: 0 });
  assert.deepEqual((await second.store.holders("big.bin", 5)).map((h) => `${h.address} ${h.sha256}:${h.root}`), [
    `${a.address} ${hashToken(big)}`,
  ]);
  // The peer works as before: it fetches from the other one through the new tracker.
  const report = await a.send("b.txt");
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
});

Deno.test("peer: a download running when the tracker goes away finishes, verified", async () => {
  const tracker = testTracker();
  const data = randomBytes(3 * MiB + 7, 111);
  await using holder = await testPeer(tracker.address, { "long.bin": data });
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const { lookups } = await client.send(["long.bin"]);
  // The download is paid from a budget on a clock of the test's: it moves only as the test moves time.
  const clock = new ManualClock();
  const limit = new RateLimit(MiB, { clock });
  let finished = false;
  const download = downloadFile(lookups[0], { outDir: out.path, limit }).finally(() => finished = true);
  await tracker.close();
  await holder.events.next("tracker-lost");
  assert.equal(await client.closed, "the tracker closed the connection");
  assert.equal(finished, false, "the download still runs, waiting for its budget");
  while (!finished) await clock.advance(100);
  const got = await download;
  assert.equal(got.size, data.length);
  await assertSameBytes(join(out.path, "long.bin"), data);
});

// --- addresses ----------------------------------------------------------------------

const hasIPv6 = (() => {
  try {
    Deno.listen({ hostname: "::1", port: 0 }).close();
    return true;
  } catch {
    return false;
  }
})();

Deno.test({
  name: "peer: tracker and peers work over IPv6 (::1), addresses written [v6]:port",
  ignore: !hasIPv6,
  fn: async () => {
    await using tracker = testTracker({ hostname: "::1" });
    const data = randomBytes(2 * MiB + 3, 81);
    const address = `[::1]:${tracker.addr.port}`;
    await using a = await testPeer(address, { "v6.bin": data }, { hostname: "::1" });
    await using b = await testPeer(address, {}, { hostname: "::1" });
    assert.equal(a.address, `[::1]:${a.addr.port}`);
    assert.equal(tracker.address, address);
    const report = await b.send("v6.bin");
    assert.match(report.reply, new RegExp(`^200-HOLDER \\[::1\\]:${a.addr.port} `, "m"));
    assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
    await assertSameBytes(join(b.dir, "v6.bin"), data);
  },
});

Deno.test("peer: an IPv4 client of a dual-stack socket is written as plain IPv4", () => {
  assert.equal(formatAddress("::ffff:10.1.2.3", 5555), "10.1.2.3:5555");
  assert.equal(formatAddress("::1", 5555), "[::1]:5555");
  assert.equal(formatAddress("fe80::1", 1), "[fe80::1]:1");
});
