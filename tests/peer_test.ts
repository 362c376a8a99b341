import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer, sendAndFetch } from "../peer.ts";
import { relayFile } from "../peer/relay.ts";
import {
  deadAddress,
  fakeHolder,
  hashToken,
  LineClient,
  listDir,
  randomBytes,
  sha256,
  tempDir,
  testPeer,
  testTracker,
  writeFiles,
} from "./helpers.ts";
import { DownloadError } from "../io/errors.ts";
import { writeText } from "../io/streams.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

Deno.test("peer: announces its folder on start, hidden files and sub-folders excluded", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "a.txt": "a", ".secret": "s" });
  await Deno.mkdir(join(peer.dir, "sub"));
  await Deno.writeTextFile(join(peer.dir, "sub", "inner.txt"), "i");
  assert.deepEqual((await peer.folder.scan()).map((e) => e.name), ["a.txt"]);
  const holders = tracker.index.holders("a.txt", 10);
  assert.deepEqual(holders.map(({ peer: _, ...h }) => h), [{ address: peer.address, size: 1, sha256: sha256("a") }]);
  assert.equal(tracker.index.stats().entries, 1);
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
  assert.deepEqual(await Deno.readFile(join(c.dir, "file3 with space.bin")), big);
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
  assert.deepEqual(tracker.index.holders("f.bin", 10).map((h) => h.address), [a.address, b.address]);
  await a.close();
  await using c = await testPeer(tracker.address);
  const report = await c.send("f.bin");
  assert.ok(report.outcomes[0].ok && report.outcomes[0].result.from === b.address);
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
    for (const d of downloaders) assert.deepEqual(await Deno.readFile(join(d.path, "out.bin")), data);
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

Deno.test("peer: after close its files leave the tracker's index", async () => {
  await using tracker = testTracker();
  const peer = await testPeer(tracker.address, { "a.txt": "a" });
  const left = tracker.waitFor("left");
  await peer[Symbol.asyncDispose]();
  await left;
  assert.deepEqual(tracker.index.holders("a.txt", 10), []);
});

Deno.test("peer: start fails clearly when the tracker is not there", async () => {
  await using dir = await tempDir();
  const tracker = deadAddress();
  await assert.rejects(
    Peer.start({ tracker, hostname: "127.0.0.1", port: 0, dir: dir.path }),
    (e: Error) => e.message.startsWith(`cannot reach the tracker at ${tracker}`),
  );
});

Deno.test("relay: cat asks each active peer in turn and writes the first copy", async () => {
  await using tracker = testTracker();
  const data = randomBytes(1_500_000);
  await using a = await testPeer(tracker.address, { "other.txt": "x" });
  await using b = await testPeer(tracker.address, { "wanted.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const chunks: Uint8Array[] = [];
  const relayed = await relayFile(client, "wanted.bin", {
    out: {
      write: (bytes) => {
        chunks.push(bytes.slice());
        return Promise.resolve(bytes.length);
      },
    },
  });
  assert.equal(relayed.from, b.address);
  assert.deepEqual(relayed.failed.map((f) => [f.holder, f.code]), [[a.address, "404"]]);
  assert.deepEqual(new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()), data);
});

Deno.test("relay: cat of a file no peer has fails naming every peer tried", async () => {
  await using tracker = testTracker();
  await using _a = await testPeer(tracker.address, { "x": "x" });
  await using _b = await testPeer(tracker.address, { "y": "y" });
  await using client = await TrackerClient.connect(tracker.address);
  await assert.rejects(
    relayFile(client, "nope", { out: { write: (b) => Promise.resolve(b.length) } }),
    (e: DownloadError) => e.message === "none of 2 active peers has it" && e.attempts.length === 2,
  );
});

Deno.test("peer: closing during a download cancels it and leaves no partial file", async () => {
  await using tracker = testTracker();
  const { promise: released, resolve: release } = Promise.withResolvers<void>();
  const { promise: started, resolve: start } = Promise.withResolvers<void>();
  const data = randomBytes(100_000);
  await using slow = fakeHolder(async (conn) => {
    await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
    await conn.write(data.subarray(0, 10));
    start();
    await released;
  });
  using announcer = await LineClient.connect(tracker.addr.port);
  await announcer.ask(`UPDATE ${slow.port} 1\n${data.length} ${sha256(data)} slow.bin\n`);
  const peer = await testPeer(tracker.address, {}, { timeoutMs: 30_000 });
  try {
    const sending = peer.send("slow.bin");
    await started;
    await peer.close();
    const report = await sending;
    assert.ok(!report.outcomes[0].ok && report.outcomes[0].reason === "cancelled");
    assert.deepEqual(await listDir(peer.dir), []);
  } finally {
    release();
    await peer[Symbol.asyncDispose]();
  }
});

Deno.test("peer: a symlink loop or a link to a hidden file is not shared, and the peer starts anyway", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  await writeFiles(dir.path, { "ok.txt": "ok", ".secret": "s" });
  await Deno.symlink("loop", join(dir.path, "loop"));
  await Deno.symlink(join(dir.path, ".secret"), join(dir.path, "alias.txt"));
  await using peer = await Peer.start({ tracker: tracker.address, hostname: "127.0.0.1", port: 0, dir: dir.path });
  assert.deepEqual(peer.folder.entries().map((e) => e.name), ["ok.txt"]);
  assert.deepEqual(peer.folder.skipped.map((s) => s.split(":")[0]).sort(), ["alias.txt", "loop"]);
});

Deno.test("relay: a sink that keeps the chunks it is given still gets the right bytes", async () => {
  await using tracker = testTracker();
  const data = randomBytes(5 * 1024 * 1024 + 123);
  await using _holder = await testPeer(tracker.address, { "big.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const kept: Uint8Array[] = [];
  await relayFile(client, "big.bin", {
    out: {
      write: (bytes) => {
        kept.push(bytes); // no copy: the relay must not reuse this memory
        return Promise.resolve(bytes.length);
      },
    },
  });
  const got = new Uint8Array(await new Blob(kept as BlobPart[]).arrayBuffer());
  assert.equal(got.length, data.length);
  assert.equal(sha256(got), sha256(data)); // a hash, not deepEqual: a diff of 5 MiB would swamp the report
});
