import assert from "node:assert/strict";
import { join } from "node:path";
import { sendAndFetch } from "../peer.ts";
import type { Holder, Lookup } from "../protocol.ts";
import { listDir, randomBytes, sha256, tempDir, testPeer, testTracker } from "./helpers.ts";
import {
  chunkHashes,
  type FakeHolder,
  holderOf,
  MiB,
  readBytes,
  rootOfHex,
  servingFolder,
  startFakeHolder,
} from "./swarm_helpers.ts";
import { DownloadError, isDisconnect } from "../io/errors.ts";
import { BufferedReader } from "../io/reader.ts";
import { writeText } from "../io/streams.ts";
import { type Downloaded, downloadFile } from "../peer/download.ts";
import { TrackerClient } from "../peer/tracker_client.ts";
import { bytesToHex } from "../protocol.ts";

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
  assert.deepEqual(await Deno.readFile(join(out.path, "big.bin")), data);
  const used = outcome.result.sources.filter((s) => s.bytes > 0).map((s) => s.holder).sort();
  assert.deepEqual(used, [a.address, b.address, c.address, d.address].sort());
  assert.equal(outcome.result.sources.reduce((n, s) => n + s.bytes, 0), data.length);
});

/**
 * A download that hangs fails the test instead of hanging it: cancelled long after any of these
 * downloads ends (each takes well under a second), not a bound on how fast they are.
 */
const hangGuard = () => AbortSignal.timeout(20_000);

// --- sizes, through the tracker ----------------------------------------------

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
    const peers = [];
    try {
      for (let i = 0; i < holders; i++) peers.push(await testPeer(tracker.address, { "f.bin": data }));
      await using out = await tempDir();
      await using client = await TrackerClient.connect(tracker.address);
      const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path, signal: hangGuard() })).outcomes;
      assert.ok(outcome.ok, JSON.stringify(outcome));
      const { result } = outcome;
      assert.deepEqual(await Deno.readFile(join(out.path, "f.bin")), data);
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

// --- misbehaving holders ------------------------------------------------------

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
  assert.deepEqual(await Deno.readFile(join(out.path, NAME)), data);
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
    assert.deepEqual(await Deno.readFile(join(out.path, NAME)), data);
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
    assert.deepEqual(await Deno.readFile(join(out.path, NAME)), data);
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
    assert.deepEqual(await Deno.readFile(join(out.path, NAME)), data);
    assert.deepEqual(result.failed, []);
    assert.deepEqual(silent.requests, [`HASHES ${NAME}`]);
    assert.equal(sourceOf(result, silent).bytes, 0);
    assert.equal(goods.reduce((n, g) => n + sourceOf(result, g).bytes, 0), data.length);
  } finally {
    await disposeAll(goods);
  }
});

Deno.test("swarm: an empty file offered with a hash that is not the empty one fails at once, naming the holders", async () => {
  await using out = await tempDir();
  const wrong = { address: "127.0.0.1:9", size: 0, sha256: "ab".repeat(32) };
  const error = await downloadFile(lookup([wrong, { ...wrong, address: "127.0.0.1:10" }]), {
    outDir: out.path,
    signal: hangGuard(),
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof DownloadError, String(error));
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
  assert.deepEqual(await Deno.readFile(join(out.path, NAME)), data);
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
    assert.deepEqual(await Deno.readFile(join(out.path, NAME)), data);
    assert.deepEqual(result.failed.map((a) => [a.holder, a.code]), [[changed.address, "ECHANGED"]]);
    assert.deepEqual(sourceOf(result, changed).bytes, 0);
    assert.equal(sourceOf(result, changed).code, "ECHANGED");
    for (const g of goods) assert.equal(sourceOf(result, g).code, undefined, g.address);
  } finally {
    await disposeAll(goods);
  }
});

// --- the holder's side of the wire, spoken to raw ---------------------------------

/** A raw connection to `port` with a reader over it. */
async function rawConnection(port: number) {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  return { conn, reader: new BufferedReader(conn), [Symbol.dispose]: () => conn.close() };
}

Deno.test("file server: HASHES lists the SHA-256 of every 1 MiB chunk, the last one short, on one kept connection", async () => {
  const big = randomBytes(2 * MiB + MiB / 2, 21);
  const small = randomBytes(1000, 22);
  await using src = await servingFolder({ "big.bin": big, "small.bin": small, "empty": new Uint8Array() });
  using raw = await rawConnection(src.port);
  const hashes = async (name: string, expected: Uint8Array) => {
    await writeText(raw.conn, `HASHES ${name}\n`);
    const list = chunkHashes(expected);
    assert.equal(
      await raw.reader.readLine(),
      `200 HASHES ${expected.length} ${sha256(expected)} ${MiB} ${list.length}`,
    );
    const lines = [];
    for (let i = 0; i < list.length; i++) lines.push(await raw.reader.readLine());
    assert.deepEqual(lines, list, name);
  };
  await hashes("big.bin", big);
  assert.equal(chunkHashes(big).length, 3);
  await hashes("small.bin", small); // one chunk: its hash is the file's
  await hashes("empty", new Uint8Array()); // no chunk
});

Deno.test("file server: two RANGE requests sent together are both answered, in order, on one connection", async () => {
  const data = randomBytes(3 * MiB + 11, 23);
  await using src = await servingFolder({ "f.bin": data });
  using raw = await rawConnection(src.port);
  await writeText(raw.conn, `RANGE 10 100 f.bin\nRANGE ${2 * MiB} * f.bin\n`);
  assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} 10 100`);
  assert.deepEqual(await readBytes(raw.reader, 100), data.subarray(10, 110));
  assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} ${2 * MiB} ${MiB + 11}`);
  assert.deepEqual(await readBytes(raw.reader, MiB + 11), data.subarray(2 * MiB));
  // Still open: a third request is answered (the whole file as a range is a plain 200).
  await writeText(raw.conn, "RANGE 0 * f.bin\n");
  assert.equal(await raw.reader.readLine(), `200 ${data.length} ${sha256(data)}`);
  assert.deepEqual(await readBytes(raw.reader, data.length), data);
});

Deno.test("file server: GET sends the whole file then closes, even with a request after it, after a RANGE too", async () => {
  const data = randomBytes(MiB + 5, 24);
  await using src = await servingFolder({ "f.bin": data });
  using raw = await rawConnection(src.port);
  await writeText(raw.conn, "RANGE 0 5 f.bin\nGET f.bin\nRANGE 0 5 f.bin\n");
  assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} 0 5`);
  assert.deepEqual(await readBytes(raw.reader, 5), data.subarray(0, 5));
  assert.equal(await raw.reader.readLine(), `200 ${data.length} ${sha256(data)}`);
  assert.deepEqual(await readBytes(raw.reader, data.length), data);
  // The end of the connection (so that nc ends), not an answer to the request after GET.
  const next = await raw.reader.readLine().catch((e) => isDisconnect(e) ? null : Promise.reject(e));
  assert.equal(next, null, "the holder closes after GET");
});

Deno.test("file server: a RANGE or HASHES of a missing file answers 404 and the connection serves the next request", async () => {
  await using src = await servingFolder({ "f.txt": "0123456789" });
  using raw = await rawConnection(src.port);
  await writeText(raw.conn, "RANGE 0 * missing.bin\n");
  assert.match((await raw.reader.readLine())!, /^404 /);
  await writeText(raw.conn, "HASHES missing.bin\n");
  assert.match((await raw.reader.readLine())!, /^404 /);
  await writeText(raw.conn, "RANGE 2 3 f.txt\n");
  assert.equal(await raw.reader.readLine(), `206 10 ${sha256("0123456789")} 2 3`);
  assert.equal(new TextDecoder().decode(await readBytes(raw.reader, 3)), "234");
});
