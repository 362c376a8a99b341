/**
 * Regression tests for what a review of the live-peer work found: a shared
 * download budget that made holders look silent, a wait that failed without
 * its file being told, a REMOVE repeating one name, and a hash cache fooled
 * by a file replaced with its old modification time.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { sendAndFetch } from "../peer.ts";
import { TrackerIndex } from "../tracker/file_index.ts";
import { Peer } from "../peer.ts";
import { randomBytes, sha256, tempDir, testPeer, testTracker } from "./helpers.ts";
import { MAX_LIVE_LINES, ProgressDisplay } from "../cli/progress.ts";
import { RateLimit } from "../io/rate_limit.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

Deno.test("review: many downloads sharing a slow download budget wait their turn without a holder being called silent", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 12; i++) files[`f${i}.bin`] = randomBytes(40_000, 100 + i);
  await using _holder = await testPeer(tracker.address, files);
  await using client = await TrackerClient.connect(tracker.address);
  // 128 KiB/s in 8 KiB slices for 12 files: each waits about 0.75 s per turn, well past the 300 ms timeout.
  const limit = new RateLimit(128 * 1024);
  const report = await sendAndFetch(client, Object.keys(files).join(", "), {
    outDir: out.path,
    limit,
    timeoutMs: 300,
  });
  for (const o of report.outcomes) assert.ok(o.ok, JSON.stringify(o));
  for (const [name, data] of Object.entries(files)) {
    assert.equal(sha256(await Deno.readFile(join(out.path, name))), sha256(data));
  }
});

Deno.test("review: a wait that ends because the tracker went away is still told to onSettled, as failed", async () => {
  const tracker = testTracker();
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const settled: string[] = [];
  const waiting = Promise.withResolvers<void>();
  const running = sendAndFetch(client, "later.txt, missing-now.txt", {
    outDir: out.path,
    waitSeconds: 60,
    onWaiting: () => waiting.resolve(),
    onSettled: (o) => void settled.push(o.name),
  });
  await waiting.promise;
  await tracker.close();
  const report = await running;
  assert.deepEqual(settled.sort(), ["later.txt", "missing-now.txt"]);
  for (const o of report.outcomes) {
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.kind, "failed");
  }
});

Deno.test("review: REMOVE repeating one name counts it once", () => {
  const index = new TrackerIndex();
  const entry = { name: "popular", size: 1, sha256: "a".repeat(64) };
  for (let id = 1; id <= 50; id++) index.announce({ id: id, address: `h:${id}` }, [entry]);
  assert.equal(index.drop(50, Array(10_000).fill("popular")), 1);
  assert.equal(index.holders("popular", 100).length, 49);
});

Deno.test("review: a file replaced by one of the same size with its old modification time is hashed again", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  const path = join(dir.path, "doc.txt");
  await Deno.writeTextFile(path, "version 1");
  const old = new Date(Date.now() - 3_600_000);
  await Deno.utime(path, old, old);
  const start = () =>
    Peer.start({ tracker: tracker.address, hostname: "127.0.0.1", port: 0, dir: dir.path, hashCache: true });
  {
    await using first = await start();
    assert.equal(first.folder.entry("doc.txt")?.sha256, sha256("version 1"));
  }
  // As `cp -p` or a backup restore, later: other bytes, same size, the old time back. Only the change time differs
  // (Deno gives it in whole seconds here, so the replacement is made in the next second).
  await new Promise((resolve) => setTimeout(resolve, 1_010 - Date.now() % 1_000));
  await Deno.writeTextFile(path, "version 2");
  await Deno.utime(path, old, old);
  await using second = await start();
  assert.equal(second.folder.entry("doc.txt")?.sha256, sha256("version 2"));
});

Deno.test("review: a file downloaded into the shared folder is kept in the hash cache, recent as it is", async () => {
  await using tracker = testTracker();
  const data = randomBytes(3 * 1024 * 1024, 7);
  await using _a = await testPeer(tracker.address, { "big.bin": data });
  await using dir = await tempDir();
  {
    await using b = await Peer.start({
      tracker: tracker.address,
      hostname: "127.0.0.1",
      port: 0,
      dir: dir.path,
      hashCache: true,
    });
    const report = await b.send("big.bin");
    assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  }
  const cache = await Deno.readTextFile(join(dir.path, ".p2p-hashes"));
  assert.match(cache, new RegExp(` ${sha256(data)} [0-9a-f]{192} big\\.bin$`, "m"));
});

Deno.test("review: a terminal shows at most 10 download lines, then how many more are running", () => {
  const written: string[] = [];
  using display = new ProgressDisplay(
    { write: (t) => void written.push(t), isTerminal: true, columns: () => 100 },
    { intervalMs: 3_600_000 },
  );
  const transfers = Array.from({ length: 12 }, (_, i) => display.begin(`f${i}.bin`, 100));
  const lines = display.render();
  assert.equal(lines.length, MAX_LIVE_LINES + 1);
  assert.equal(lines.at(-1), "… and 2 more running");
  for (const t of transfers.slice(0, 3)) display.end(t);
  assert.equal(display.render().length, 9, "nine left: no note");
});

Deno.test("review: LIST pages come from one sorted list, which follows names that come and go", () => {
  const index = new TrackerIndex();
  const sha = "b".repeat(64);
  index.announce({ id: 1, address: "h:1" }, ["c", "a", "b"].map((name) => ({ name, size: 1, sha256: sha })));
  assert.deepEqual(index.list("", { max: 2 }).files.map((f) => f.name), ["a", "b"]);
  assert.deepEqual(index.list("", { max: 2, skip: 2 }).files.map((f) => f.name), ["c"]);
  index.add({ id: 2, address: "h:2" }, [{ name: "aa", size: 1, sha256: sha }]);
  assert.deepEqual(index.list("", { max: 10 }).files.map((f) => f.name), ["a", "aa", "b", "c"], "a new name");
  index.drop(1, ["b"]);
  assert.deepEqual(index.list("", { max: 10 }).files.map((f) => f.name), ["a", "aa", "c"], "a name gone");
  assert.deepEqual(index.list("a", { max: 10 }).files.map((f) => f.name), ["a", "aa"], "another text");
  index.remove(2);
  assert.deepEqual(index.list("a", { max: 10 }).files.map((f) => f.name), ["a"], "a peer gone");
});
