/**
 * `peer/swarm.ts`: one version of a file fetched from the holders that have
 * it, through `downloadFile` and `sendAndFetch` on loopback. A file held by
 * several peers comes from all of them, byte for byte, at every size that
 * matters (empty, one byte, one chunk, one chunk and a byte, many chunks).
 * Holders that misbehave in one named way each (a corrupt chunk, a stall
 * mid-chunk, silence on HASHES, lying chunk hashes, a changed file) are
 * dropped and named, or outpaced, and the others finish. The progress a
 * download shows counts every byte once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { bytesToHex, type Holder, type Lookup } from "../../protocol.ts";
import { DownloadError } from "../../io/errors.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { type Downloaded, downloadFile } from "../../peer/download.ts";
import { sendAndFetch } from "../../peer/send.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { RecordingBoard } from "../helpers/board.ts";
import { chunkHashes, holderOf, MiB, rootOfHex, sha256 } from "../helpers/hashes.ts";
import { type FakeHolder, servingFolder, startFakeHolder } from "../helpers/holders.ts";
import { LineClient } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { type TestPeer, testPeer, testTracker } from "../helpers/roles.ts";
import { listDir, tempDir } from "../helpers/temp.ts";

/**
 * A download that hangs fails the test instead of hanging it: cancelled long after any of these
 * downloads ends (each takes well under a second), not a bound on how fast they are.
 */
const hangGuard = () => AbortSignal.timeout(20_000);

const NAME = "big.bin";

function lookup(holders: Holder[]): Lookup {
  return { name: NAME, status: 200, holders };
}

/** The report of `holder` in `result.sources`; fails if it is not there. */
function sourceOf(result: Downloaded, holder: { address: string }) {
  const found = result.sources.find((s) => s.holder === holder.address);
  assert.ok(found, `${holder.address} is not among the sources: ${JSON.stringify(result.sources)}`);
  return found;
}

/** Good fakes over `data`, each answering RANGE only once `gate` resolves. */
function goodFakes(n: number, data: Uint8Array, gate: Promise<unknown>): FakeHolder[] {
  return Array.from({ length: n }, () => startFakeHolder({ name: NAME, data, gate }));
}

async function disposeAll(holders: AsyncDisposable[]): Promise<void> {
  for (const h of holders) await h[Symbol.asyncDispose]();
}

// --- through the tracker ---------------------------------------------------------

Deno.test("swarm: a file held by 4 peers comes from all 4, byte for byte", async () => {
  const data = randomBytes(24 * MiB + 5, 7);
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "big.bin": data });
  await using b = await testPeer(tracker.address, { "big.bin": data });
  await using c = await testPeer(tracker.address, { "big.bin": data });
  await using d = await testPeer(tracker.address, { "big.bin": data });
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const report = await sendAndFetch(client, "big.bin", { outDir: out.path });
  const [outcome] = report.outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  await assertSameBytes(join(out.path, "big.bin"), data);
  const used = outcome.result.sources.filter((s) => s.bytes > 0).map((s) => s.holder).sort();
  assert.deepEqual(used, [a.address, b.address, c.address, d.address].sort());
  assert.equal(outcome.result.sources.reduce((n, s) => n + s.bytes, 0), data.length);
});

for (
  const [label, size, holders] of [
    ["an empty file", 0, 3],
    ["a 1-byte file", 1, 3],
    ["a file of exactly 1 MiB", MiB, 4],
    ["a file of 1 MiB + 1 byte", MiB + 1, 3],
    ["a file of 30 MiB + 123 bytes", 30 * MiB + 123, 4],
  ] as const
) {
  Deno.test(`swarm: ${label} held by ${holders} peers lands byte for byte`, async () => {
    const data = randomBytes(size, size + 3);
    await using tracker = testTracker();
    const peers: TestPeer[] = [];
    try {
      for (let i = 0; i < holders; i++) peers.push(await testPeer(tracker.address, { "f.bin": data }));
      await using out = await tempDir();
      await using client = await TrackerClient.connect(tracker.address);
      const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path, signal: hangGuard() })).outcomes;
      assert.ok(outcome.ok, JSON.stringify(outcome));
      const { result } = outcome;
      await assertSameBytes(join(out.path, "f.bin"), data);
      assert.deepEqual(await listDir(out.path), ["f.bin"], "no part file or journal is left");
      assert.equal(result.sha256, sha256(data));
      assert.deepEqual(result.failed, []);
      assert.equal(result.sources.reduce((n, s) => n + s.bytes, 0), size, "every byte counted once");
      // An empty file needs nobody; a file of one chunk streams from the first holder; a bigger
      // one (the tracker lists its root) is fetched from every holder at once.
      assert.equal(result.sources.length, size === 0 ? 0 : size <= MiB ? 1 : holders);
      assert.ok(result.sources.every((s) => s.code === undefined), JSON.stringify(result.sources));
      if (size > MiB) {
        assert.equal(result.root, rootOfHex(chunkHashes(data)));
        assert.equal(bytesToHex(result.chunks!), chunkHashes(data).join(""));
      }
    } finally {
      for (const p of peers) await p[Symbol.asyncDispose]();
    }
  });
}

// --- misbehaving holders -----------------------------------------------------------

Deno.test("swarm: a holder whose chunk 3 is corrupt is dropped (EHASH) after its 3 good chunks; the next holder finishes", async () => {
  const data = randomBytes(6 * MiB + 1000, 11);
  // One source at a time: the bad holder, listed first, serves chunks 0, 1, 2, 3 in order.
  await using bad = startFakeHolder({ name: NAME, data, corrupt: 3 });
  await using good = await servingFolder({ [NAME]: data });
  await using spare = await servingFolder({ [NAME]: data });
  await using out = await tempDir();
  const result = await downloadFile(
    lookup([holderOf(bad.address, data), holderOf(good.address, data), holderOf(spare.address, data)]),
    { outDir: out.path, sources: 1, signal: hangGuard() },
  );
  await assertSameBytes(join(out.path, NAME), data);
  assert.deepEqual(result.failed.map((a) => [a.holder, a.code]), [[bad.address, "EHASH"]]);
  assert.match(result.failed[0].message, /chunk 3\b/);
  assert.deepEqual(result.sources.map(({ holder, bytes, chunks, code }) => ({ holder, bytes, chunks, code })), [
    { holder: bad.address, bytes: 3 * MiB, chunks: 3, code: "EHASH" },
    { holder: good.address, bytes: data.length - 3 * MiB, chunks: 4, code: undefined },
  ]);
  assert.deepEqual(await listDir(out.path), [NAME]);
});

Deno.test("swarm: among 4 holders at once, the one that sends a corrupt chunk alone is blamed (EHASH)", async () => {
  const data = randomBytes(12 * MiB + 77, 12);
  await using bad = startFakeHolder({ name: NAME, data, corrupt: "first" });
  // The good holders send no chunk until the downloader has dropped the bad one, so that it is asked for
  // a chunk (and caught) before the download can end, whatever order the connections come in.
  const goods = goodFakes(3, data, bad.hungUp);
  try {
    await using out = await tempDir();
    const result = await downloadFile(lookup([bad, ...goods].map((h) => holderOf(h.address, data))), {
      outDir: out.path,
      signal: hangGuard(),
    });
    await assertSameBytes(join(out.path, NAME), data);
    assert.deepEqual(result.failed.map((a) => [a.holder, a.code]), [[bad.address, "EHASH"]]);
    assert.equal(sourceOf(result, bad).code, "EHASH");
    assert.equal(sourceOf(result, bad).bytes, 0);
    for (const g of goods) assert.equal(sourceOf(result, g).code, undefined, g.address);
    assert.equal(result.sources.reduce((n, s) => n + s.bytes, 0), data.length);
    // The swarm asks for one chunk per RANGE, at a chunk boundary; HASHES at most once per connection.
    for (const h of [bad, ...goods]) {
      for (const r of h.requests.filter((r) => r.startsWith("RANGE"))) {
        const [, offset, length] = r.split(" ").map(Number);
        assert.equal(offset % MiB, 0, r);
        assert.equal(length, Math.min(MiB, data.length - offset), r);
      }
      assert.ok(h.requests.filter((r) => r.startsWith("HASHES")).length <= 1, h.requests.join(", "));
    }
  } finally {
    await disposeAll(goods);
  }
});

Deno.test("swarm: a holder stalled mid-chunk is outpaced by the endgame, not timed out", async () => {
  const data = randomBytes(10 * MiB + 3, 13);
  await using staller = startFakeHolder({ name: NAME, data, stall: "first" });
  // The good holders start once the staller has sent half a chunk and gone quiet.
  const goods = goodFakes(3, data, staller.faulted);
  try {
    await using out = await tempDir();
    const result = await downloadFile(lookup([staller, ...goods].map((h) => holderOf(h.address, data))), {
      outDir: out.path,
      timeoutMs: 60_000, // far beyond the test: only the endgame can finish this download
      signal: hangGuard(),
    });
    await assertSameBytes(join(out.path, NAME), data);
    assert.deepEqual(result.failed, [], "nobody is blamed");
    const stalled = sourceOf(result, staller);
    assert.equal(stalled.code, undefined, `the staller is reported ${stalled.code}`);
    assert.equal(stalled.bytes, 0);
    for (const g of goods) assert.equal(sourceOf(result, g).code, undefined, g.address);
    // The chunk it stalled on was asked of another holder too.
    const stalledRange = staller.requests.find((r) => r.startsWith("RANGE"));
    assert.ok(stalledRange);
    assert.ok(goods.some((g) => g.requests.includes(stalledRange)), `nobody else was asked ${stalledRange}`);
  } finally {
    await disposeAll(goods);
  }
});

Deno.test("swarm: a holder that never answers HASHES does not hold the download: the others' lists serve", async () => {
  const data = randomBytes(8 * MiB + 17, 17);
  await using silent = startFakeHolder({ name: NAME, data, stallHashes: true });
  const goods = goodFakes(2, data, silent.faulted);
  try {
    await using out = await tempDir();
    const result = await downloadFile(lookup([silent, ...goods].map((h) => holderOf(h.address, data))), {
      outDir: out.path,
      timeoutMs: 60_000, // far beyond the test: the download must not wait for the silent one
      signal: hangGuard(),
    });
    await assertSameBytes(join(out.path, NAME), data);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(silent.requests, [`HASHES ${NAME}`]);
    assert.equal(sourceOf(result, silent).bytes, 0);
    assert.equal(goods.reduce((n, g) => n + sourceOf(result, g).bytes, 0), data.length);
  } finally {
    await disposeAll(goods);
  }
});

Deno.test("swarm: an empty file offered with a hash that is not the empty one fails at once, contacting no holder, leaving nothing", async () => {
  await using out = await tempDir();
  // Holders that would record any connection made to them.
  await using one = startFakeHolder({ script: () => Promise.resolve() });
  await using two = startFakeHolder({ script: () => Promise.resolve() });
  const wrong = { size: 0, sha256: "ab".repeat(32) };
  const error = await downloadFile(lookup([{ ...wrong, address: one.address }, { ...wrong, address: two.address }]), {
    outDir: out.path,
    signal: hangGuard(),
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof DownloadError, String(error));
  assert.equal(error.file, NAME);
  assert.deepEqual(error.sources, [], "no holder was used");
  assert.deepEqual([one.requests, two.requests], [[], []], "no holder was contacted");
  assert.deepEqual(await listDir(out.path), []);
});

Deno.test("swarm: a holder whose HASHES do not come to the announced root is dropped (EHASHES); the next finishes", async () => {
  const data = randomBytes(5 * MiB + 9, 14);
  // One source at a time, the liar first: it is the one asked for the list.
  await using liar = startFakeHolder({ name: NAME, data, lieInHashes: true });
  await using good = await servingFolder({ [NAME]: data });
  await using out = await tempDir();
  const result = await downloadFile(lookup([holderOf(liar.address, data), holderOf(good.address, data)]), {
    outDir: out.path,
    sources: 1,
    signal: hangGuard(),
  });
  await assertSameBytes(join(out.path, NAME), data);
  assert.deepEqual(liar.requests, [`HASHES ${NAME}`], "the liar is asked for nothing after its list");
  assert.deepEqual(result.failed.map((a) => [a.holder, a.code]), [[liar.address, "EHASHES"]]);
  assert.deepEqual(result.sources.map(({ holder, bytes, code }) => ({ holder, bytes, code })), [
    { holder: liar.address, bytes: 0, code: "EHASHES" },
    { holder: good.address, bytes: data.length, code: undefined },
  ]);
  assert.deepEqual(bytesToHex(result.chunks!), chunkHashes(data).join(""));
});

Deno.test("swarm: a holder whose file changed since it announced is dropped (ECHANGED); the others finish", async () => {
  const data = randomBytes(8 * MiB + 5, 15);
  const other = randomBytes(data.length, 16); // same size, other bytes: another version
  await using changed = startFakeHolder({ name: NAME, data: other });
  const goods = goodFakes(3, data, changed.hungUp);
  try {
    await using out = await tempDir();
    // The tracker still lists the changed holder with the version it announced.
    const result = await downloadFile(lookup([changed, ...goods].map((h) => holderOf(h.address, data))), {
      outDir: out.path,
      signal: hangGuard(),
    });
    await assertSameBytes(join(out.path, NAME), data);
    assert.deepEqual(result.failed.map((a) => [a.holder, a.code]), [[changed.address, "ECHANGED"]]);
    assert.deepEqual(sourceOf(result, changed).bytes, 0);
    assert.equal(sourceOf(result, changed).code, "ECHANGED");
    for (const g of goods) assert.equal(sourceOf(result, g).code, undefined, g.address);
  } finally {
    await disposeAll(goods);
  }
});

// --- what a progress board is told ---------------------------------------------------

/** Checks that `board` saw exactly one transfer of `name`, `size` bytes, run from start to end. */
function assertOneTransfer(board: RecordingBoard, name: string, size: number): void {
  assert.deepEqual(board.begun.map((b) => [b.name, b.size]), [[name, size]], "begin once, with the size");
  assert.equal(board.ended.length, 1, "end once");
  assert.equal(board.ended[0].transfer, board.begun[0].transfer, "the transfer begun is the one ended");
  assert.ok(board.ended[0].bytes >= size, `bytes reach the size: ${board.ended[0].bytes} of ${size}`);
  assert.ok(board.sourcesSet.some((n) => n > 0), `sources in use seen while it ran: ${board.sourcesSet}`);
  assert.equal(board.lateSets, 0, "nothing updates a transfer after its end");
  assert.equal(board.bytesBack, 0, "bytes never go down");
}

Deno.test("swarm: the progress board of a download from 2 holders begins once with the size, counts every byte and both sources, ends once", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(6 * MiB + 123, 91);
  await using a = await testPeer(tracker.address, { "six.bin": data });
  await using b = await testPeer(tracker.address, { "six.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const board = new RecordingBoard();
  const report = await sendAndFetch(client, "six.bin", { outDir: out.path, board });
  const [o] = report.outcomes;
  assert.ok(o.ok, JSON.stringify(o));
  assert.deepEqual(o.result.sources.map((s) => s.holder).sort(), [a.address, b.address].sort());
  assertOneTransfer(board, "six.bin", data.length);
  assert.equal(Math.max(...board.sourcesSet), 2, `both holders in use at once: ${board.sourcesSet}`);
  assert.equal(board.ended[0].sources, 0, "no source in use once it is over");
  await assertSameBytes(join(out.path, "six.bin"), data);
});

Deno.test("swarm: on the progress board, bytes of a holder that broke off mid-chunk are not counted again when another sends them (progress never passes 100%)", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(600_000, 95);
  // Listed first, it sends 500,000 of the 600,000 bytes (less than the one chunk) and hangs up.
  await using broken = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 500_000));
    },
  });
  using session = await LineClient.connect(tracker.addr.port);
  const [announced] = await session.ask(`UPDATE ${broken.port} 1\n${data.length} ${sha256(data)} f.bin\n`);
  assert.equal(announced.status, 200, announced.text);
  await using good = await testPeer(tracker.address, { "f.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const board = new RecordingBoard();
  const report = await sendAndFetch(client, "f.bin", { outDir: out.path, board });
  const [o] = report.outcomes;
  assert.ok(o.ok, JSON.stringify(o));
  assert.deepEqual(o.result.sources.map((s) => [s.holder, s.code ?? "OK", s.bytes]), [
    [broken.address, "ETRUNCATED", 0],
    [good.address, "OK", data.length],
  ]);
  await assertSameBytes(join(out.path, "f.bin"), data);
  // The line reads "bytes / size": the 500,000 bytes thrown away must not stay in it.
  assert.equal(board.ended[0].bytes, data.length, `bytes at the end: ${board.ended[0].bytes} of ${data.length}`);
  assert.ok(board.maxBytes <= data.length, `bytes went up to ${board.maxBytes} of ${data.length}`);
});
