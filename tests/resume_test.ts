/**
 * Resumable downloads, re-sharing and holder feedback, over real loopback
 * sockets: a download killed or cancelled half-way carries on from the
 * chunks it left verified on disk; a downloaded file is served on at once;
 * downloaders' REPORTs reorder and demote holders at the tracker.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type PeerEvent, sendAndFetch } from "../peer.ts";
import {
  formatFileHeader,
  formatHashesHeader,
  type Holder,
  parseFileRequest,
  ProtocolError,
  type ReplyLine,
} from "../protocol.ts";
import { SharedFolder } from "../disk/shared_folder.ts";
import { runCli, spawnCli, startServer } from "./cli_helpers.ts";
import {
  fakeHolder,
  hashToken,
  LineClient,
  listDir,
  randomBytes,
  sha256,
  tempDir,
  testPeer,
  testTracker,
} from "./helpers.ts";
import { DownloadError } from "../io/errors.ts";
import { BufferedReader } from "../io/reader.ts";
import { writeAll, writeText } from "../io/streams.ts";
import { type Downloaded, downloadFile } from "../peer/download.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

const MiB = 1024 * 1024;

// ---------------------------------------------------------------------------
// Helpers

/** Counts what a holder's file server sent: body bytes of every connection, from its `served`/`aborted` events. */
function uploadMeter() {
  const events: { type: string; bytes: number; ranges: number }[] = [];
  return {
    onEvent: (e: PeerEvent) => {
      if (e.type === "served") events.push({ type: e.type, bytes: e.bytes, ranges: e.ranges });
      if (e.type === "aborted") events.push({ type: e.type, bytes: e.bytes, ranges: 0 });
    },
    events,
    /** Bytes sent so far; complete once the holder is closed (its server waits for every connection). */
    get bytes(): number {
      return events.reduce((n, e) => n + e.bytes, 0);
    },
  };
}

/** Polls `check` every 10 ms until it holds; fails after `timeoutMs`. There is no event to wait for on another process's files. */
async function waitUntil(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
}

/** The hidden part file and journal of a download in `dir`, if there. */
async function hiddenFiles(dir: string): Promise<{ part?: string; journal?: string; names: string[] }> {
  const names = (await listDir(dir)).filter((n) => n.startsWith(".p2p-"));
  const find = (ext: string) => names.find((n) => n.endsWith(ext));
  const part = find(".part");
  const journal = find(".journal");
  return { part: part && join(dir, part), journal: journal && join(dir, journal), names };
}

/** The chunks the journal in `dir` lists (whole lines after the header), and its header. */
async function readJournal(dir: string): Promise<{ header: unknown; chunks: number[] }> {
  const { journal } = await hiddenFiles(dir);
  if (!journal) return { header: undefined, chunks: [] };
  const text = await Deno.readTextFile(journal).catch(() => "");
  const lines = text.split("\n");
  lines.pop(); // empty after the last line feed, or a line being written
  if (lines.length === 0) return { header: undefined, chunks: [] };
  return { header: JSON.parse(lines[0]), chunks: lines.slice(1).map(Number) };
}

/** Length of chunk `i` of `size` bytes. */
function chunkLength(i: number, size: number): number {
  return Math.min(MiB, size - i * MiB);
}

/** The indexes of the chunks of `part` that are byte for byte those of `data` (a short part has fewer). */
function correctChunks(part: Uint8Array, data: Uint8Array): number[] {
  const correct: number[] = [];
  for (let i = 0; i * MiB < data.length; i++) {
    const want = data.subarray(i * MiB, i * MiB + chunkLength(i, data.length));
    const got = part.subarray(i * MiB, i * MiB + want.length);
    if (got.length === want.length && sha256(got) === sha256(want)) correct.push(i);
  }
  return correct;
}

/** The chunk root of `data`, computed independently of `chunks.ts` (see {@link hashToken}). */
function rootOf(data: Uint8Array): string {
  return hashToken(data).split(":")[1];
}

/** What a tracker would list for a holder of `data` at `address`. */
function holderOf(address: string, data: Uint8Array): Holder {
  return { address, size: data.length, sha256: sha256(data), root: rootOf(data) };
}

/** The answer to `HASHES` for `data`: the header, then one hex line per 1 MiB chunk. */
function hashesReply(data: Uint8Array): string {
  const count = Math.ceil(data.length / MiB);
  const lines = [formatHashesHeader({ size: data.length, sha256: sha256(data), chunkSize: MiB, count })];
  for (let i = 0; i < count; i++) lines.push(sha256(data.subarray(i * MiB, (i + 1) * MiB)) + "\n");
  return lines.join("");
}

/**
 * A holder of `data` that answers `HASHES` truly and then, whatever range is
 * asked, sends the header and only `chunks` whole chunks of it, and waits
 * until the downloader hangs up: the download stops at an exact point.
 */
function stallingHolder(data: Uint8Array, chunks: number) {
  return fakeHolder(async (conn, first) => {
    const reader = new BufferedReader(conn);
    for (let line: string | null = first; line !== null; line = await reader.readLine()) {
      const request = parseFileRequest(line);
      if (request.verb === "HASHES") {
        await writeText(conn, hashesReply(data));
        continue;
      }
      const length = request.length ?? data.length - request.offset;
      await writeText(
        conn,
        formatFileHeader({ size: data.length, sha256: sha256(data), offset: request.offset, length }),
      );
      await writeAll(conn, data.subarray(request.offset, request.offset + Math.min(length, chunks * MiB)));
    }
  });
}

/**
 * A holder that lies: the true `HASHES` and headers for `data`, but every
 * byte of a body inverted.
 */
function lyingHolder(data: Uint8Array) {
  return fakeHolder(async (conn, first) => {
    const reader = new BufferedReader(conn);
    for (let line: string | null = first; line !== null; line = await reader.readLine()) {
      const request = parseFileRequest(line);
      if (request.verb === "HASHES") {
        await writeText(conn, hashesReply(data));
        continue;
      }
      const length = request.length ?? data.length - request.offset;
      const bytes = data.slice(request.offset, request.offset + length).map((b) => b ^ 0xff);
      await writeText(
        conn,
        formatFileHeader({ size: data.length, sha256: sha256(data), offset: request.offset, length }),
      );
      await writeAll(conn, bytes);
      if (request.verb === "GET") return;
    }
  });
}

/** Starts a download of `name` from `holders` that a test cancels; resolves to its error. */
function cancellable(name: string, holders: Holder[], outDir: string) {
  const controller = new AbortController();
  const settled = downloadFile({ name, status: 200, holders }, { outDir, signal: controller.signal })
    .then((): unknown => assert.fail("the download finished"), (error: unknown) => error);
  return { abort: () => controller.abort(), settled };
}

/** The holder addresses a tracker's SEND reply lists, in order. */
function holderAddresses(reply: ReplyLine[]): string[] {
  return reply.flatMap((l) => l.text.startsWith("HOLDER ") ? [l.text.split(" ")[1]] : []);
}

/** Asserts that `path` holds exactly `expected` (SHA-256 first, for a short message). */
async function assertSameBytes(path: string, expected: Uint8Array): Promise<void> {
  const actual = await Deno.readFile(path);
  assert.equal(actual.length, expected.length, `${path}: size`);
  assert.equal(sha256(actual), sha256(expected), `${path}: sha256`);
}

/**
 * Kills a `get` of `name` (a separate process) once its journal lists at
 * least half the chunks, and returns what was on disk at that moment.
 */
async function killGetHalfWay(tracker: string, outDir: string, name: string, data: Uint8Array, flags: string[] = []) {
  const count = Math.ceil(data.length / MiB);
  await using get = spawnCli(["get", "--tracker", tracker, "--out", outDir, ...flags, name]);
  await waitUntil("half the chunks journaled", async () => {
    if (!get.running) throw new Error(`get exited before half-way:\n${get.stdout}\n${get.stderr}`);
    return (await readJournal(outDir)).chunks.length >= count / 2;
  });
  get.kill("SIGKILL");
  const status = await get.exited();
  assert.equal(status.signal, "SIGKILL");
  const { part, journal } = await hiddenFiles(outDir);
  assert.ok(part && journal, "the part file and journal stay after a kill");
  const correct = correctChunks(await Deno.readFile(part), data);
  const journaled = (await readJournal(outDir)).chunks;
  // Each chunk is written whole and then journaled, synchronously: a journaled
  // chunk is on disk, and at most one chunk on disk is not yet journaled.
  for (const i of journaled) assert.ok(correct.includes(i), `journaled chunk ${i} is wrong on disk`);
  assert.ok(correct.length <= journaled.length + 1, `${correct.length} chunks on disk, ${journaled.length} journaled`);
  assert.ok(correct.length >= count / 2 - 1 && correct.length < count, `${correct.length} of ${count} chunks on disk`);
  return { correct, journaled };
}

// ---------------------------------------------------------------------------
// 1. A `get` killed half-way

Deno.test("resume: a get killed half-way (one holder) carries on from the journaled chunks and fetches only the rest", async () => {
  await using tracker = testTracker();
  const data = randomBytes(16 * MiB + 1234, 11);
  await using out = await tempDir();
  // 4 MiB/s: about 4 s for the whole file, so that the kill lands half-way.
  const slow = await testPeer(tracker.address, { "big.bin": data }, { maxUploadRate: 4 * MiB });
  let atKill;
  try {
    atKill = await killGetHalfWay(tracker.address, out.path, "big.bin", data);
  } finally {
    await slow[Symbol.asyncDispose]();
  }
  await waitUntil(
    "the first holder gone from the index",
    () => !tracker.index.holders("big.bin", 9).length,
  );
  const V = atKill.correct.length;

  // The same get again, from another holder of the same version: one holder, so the streaming path.
  const meter = uploadMeter();
  const holder = await testPeer(tracker.address, { "big.bin": data }, { onEvent: meter.onEvent });
  let second;
  try {
    second = await runCli(["get", "--tracker", tracker.address, "--out", out.path, "big.bin"]);
  } finally {
    await holder[Symbol.asyncDispose](); // waits for its connections: every byte it sent is counted
  }
  assert.equal(second.code, 0, second.stdoutText + second.stderrText);
  const m = /^saved big\.bin \((\d+) bytes, (\d+) resumed from an earlier run\) from 1 source -> /m
    .exec(second.stdoutText);
  assert.ok(m, second.stdoutText);
  const resumed = Number(m[2]);

  // What the code promises: every journaled chunk verifies, so `resumed` is
  // exactly their bytes; at most one chunk on disk was not journaled yet, so
  // resumed >= V chunks - 1 chunk. One holder gets one RANGE per gap, so it
  // sends exactly what is missing: size - resumed <= size - V MiB + 1 MiB.
  const journaledBytes = atKill.journaled.reduce((n, i) => n + chunkLength(i, data.length), 0);
  assert.equal(resumed, journaledBytes);
  assert.ok(resumed >= V * MiB - MiB, `resumed ${resumed}, ${V} chunks on disk`);
  assert.equal(meter.bytes, data.length - resumed);
  assert.ok(meter.bytes <= data.length - V * MiB + MiB);
  assert.deepEqual(meter.events.map((e) => [e.type, e.ranges]), [["served", 1]]);
  await assertSameBytes(join(out.path, "big.bin"), data);
  assert.deepEqual(await listDir(out.path), ["big.bin"]);
});

Deno.test("resume: a get killed half-way (3 holders, --sources 3) carries on, the rest from 3 holders", async () => {
  await using tracker = testTracker();
  const data = randomBytes(24 * MiB + 99, 12);
  await using out = await tempDir();
  // 3 holders at 2 MiB/s each: about 4 s for the whole file.
  const slow = await Promise.all(
    [1, 2, 3].map(() => testPeer(tracker.address, { "big.bin": data }, { maxUploadRate: 2 * MiB })),
  );
  let atKill;
  try {
    atKill = await killGetHalfWay(tracker.address, out.path, "big.bin", data, ["--sources", "3"]);
  } finally {
    for (const p of slow) await p[Symbol.asyncDispose]();
  }
  await waitUntil(
    "the first holders gone from the index",
    () => !tracker.index.holders("big.bin", 9).length,
  );
  const V = atKill.correct.length;

  const meter = uploadMeter();
  const holders = await Promise.all(
    [1, 2, 3].map(() => testPeer(tracker.address, { "big.bin": data }, { onEvent: meter.onEvent })),
  );
  let result: Downloaded;
  try {
    await using client = await TrackerClient.connect(tracker.address);
    const [outcome] = (await sendAndFetch(client, "big.bin", { outDir: out.path, sources: 3 })).outcomes;
    assert.ok(outcome.ok, JSON.stringify(outcome));
    result = outcome.result;
  } finally {
    for (const p of holders) await p[Symbol.asyncDispose]();
  }
  const journaledBytes = atKill.journaled.reduce((n, i) => n + chunkLength(i, data.length), 0);
  const missing = data.length - result.resumed;
  assert.equal(result.resumed, journaledBytes);
  assert.ok(result.resumed >= V * MiB - MiB, `resumed ${result.resumed}, ${V} chunks on disk`);
  // Every missing chunk landed once, whichever holder sent it.
  assert.equal(result.sources.reduce((n, s) => n + s.bytes, 0), missing);
  // What was sent: the missing part, plus at most one chunk. Holders of
  // equal speed are never late, so the endgame fetches nothing twice.
  assert.ok(meter.bytes >= missing, `sent ${meter.bytes}, missing ${missing}`);
  assert.ok(meter.bytes <= missing + MiB, `sent ${meter.bytes}, missing ${missing}`);
  await assertSameBytes(join(out.path, "big.bin"), data);
  assert.deepEqual(await listDir(out.path), ["big.bin"]);
});

// ---------------------------------------------------------------------------
// 2, 3. Cancelled in process, then finished; a part file corrupted between runs

/** Finishes `movie.bin` into `outDir` from a real peer whose uploads are counted. */
async function finishFromMeteredPeer(data: Uint8Array, outDir: string) {
  await using tracker = testTracker();
  const meter = uploadMeter();
  await using peer = await testPeer(tracker.address, { "movie.bin": data }, { onEvent: meter.onEvent });
  const result = await downloadFile({ name: "movie.bin", status: 200, holders: [holderOf(peer.address, data)] }, {
    outDir,
  });
  return { result, meter, holder: peer.address };
}

/** Downloads `movie.bin` from a holder that stalls after 3 chunks, cancels once they are journaled; the error. */
async function cancelAfterThreeChunks(data: Uint8Array, outDir: string): Promise<unknown> {
  await using stall = stallingHolder(data, 3);
  const first = cancellable("movie.bin", [holderOf(stall.address, data)], outDir);
  await waitUntil("3 chunks journaled", async () => (await readJournal(outDir)).chunks.length >= 3);
  first.abort();
  return await first.settled;
}

Deno.test("resume: a cancelled download keeps a hidden part file and journal, never shared, and finishes later", async () => {
  const data = randomBytes(6 * MiB + 321, 21);
  await using out = await tempDir();
  const error = await cancelAfterThreeChunks(data, out.path);
  assert.ok(error instanceof DownloadError, String(error));
  assert.equal(error.message, "cancelled; what arrived is kept for the next try");

  const { part, journal, names } = await hiddenFiles(out.path);
  assert.ok(part && journal);
  assert.deepEqual(await listDir(out.path), names, "nothing but the hidden pair");
  assert.equal(names.length, 2);
  assert.equal(part.replace(/\.part$/, ""), journal.replace(/\.journal$/, ""), "one key for both");
  const { header, chunks } = await readJournal(out.path);
  assert.deepEqual(header, { v: 1, name: "movie.bin", size: data.length, sha256: sha256(data), root: rootOf(data) });
  assert.deepEqual(chunks, [0, 1, 2]);
  assert.equal(sha256((await Deno.readFile(part)).subarray(0, 3 * MiB)), sha256(data.subarray(0, 3 * MiB)));
  const folder = await SharedFolder.open(out.path);
  assert.deepEqual(await folder.scan(), [], "a download in progress is not shared");
  assert.deepEqual(folder.skipped, []);

  const { result, meter, holder } = await finishFromMeteredPeer(data, out.path);
  assert.equal(result.resumed, 3 * MiB);
  assert.equal(meter.bytes, data.length - 3 * MiB, "only the missing part is sent");
  assert.deepEqual(result.sources.map((s) => [s.holder, s.bytes]), [[holder, data.length - 3 * MiB]]);
  await assertSameBytes(join(out.path, "movie.bin"), data);
  assert.deepEqual(await listDir(out.path), ["movie.bin"]);
});

Deno.test("resume: a journaled chunk corrupted on disk between runs is fetched again and the file is right", async () => {
  const data = randomBytes(6 * MiB + 321, 22);
  await using out = await tempDir();
  assert.ok((await cancelAfterThreeChunks(data, out.path)) instanceof DownloadError);
  assert.deepEqual((await readJournal(out.path)).chunks, [0, 1, 2]);

  // Flip one byte in the middle of chunk 1, which the journal lists as written.
  const { part } = await hiddenFiles(out.path);
  {
    using file = await Deno.open(part!, { read: true, write: true });
    const at = MiB + 4321;
    await file.seek(at, Deno.SeekMode.Start);
    await file.write(new Uint8Array([data[at] ^ 0x01]));
  }

  const { result, meter } = await finishFromMeteredPeer(data, out.path);
  // Chunks 0 and 2 verify; chunk 1 and everything from 3 on are fetched: two ranges.
  assert.equal(result.resumed, 2 * MiB);
  assert.equal(meter.bytes, data.length - 2 * MiB);
  assert.deepEqual(meter.events.map((e) => [e.type, e.ranges]), [["served", 2]]);
  await assertSameBytes(join(out.path, "movie.bin"), data);
  assert.deepEqual(await listDir(out.path), ["movie.bin"]);
});

// ---------------------------------------------------------------------------
// 4. Re-share

Deno.test("peer: a file downloaded into the shared folder is listed at once and served with its first holder gone", async () => {
  await using tracker = testTracker();
  const data = randomBytes(3 * MiB, 31);
  await using a = await testPeer(tracker.address, { "f.bin": data });
  await using b = await testPeer(tracker.address);
  const report = await b.send("f.bin");
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.match(report.announced ?? "", /^indexed 1 files as \S+ \(1 new, 1 in all\)$/, "an incremental ADD");
  const version = { size: data.length, sha256: sha256(data), root: rootOf(data) };
  assert.deepEqual(tracker.index.holders("f.bin", 10).map(({ peer: _, ...h }) => h), [
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
  assert.deepEqual(await Deno.readFile(join(out.path, "f.bin")), data);
});

// ---------------------------------------------------------------------------
// 5. Feedback at the tracker

Deno.test("tracker: REPORT answers 404 for an unknown holder or file, 400 for bad syntax, 403 on oneself", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "f.txt": "content" });
  using reporter = await LineClient.connect(tracker.addr.port);
  const status = async (line: string) => {
    const reply = await reporter.ask(line + "\n");
    assert.equal(reply.length, 1, JSON.stringify(reply));
    return reply[0].status;
  };
  assert.equal(await status(`REPORT 127.0.0.1:1 OK 7 f.txt`), 404);
  assert.equal(await status(`REPORT ${a.address} OK 7 other.txt`), 404);
  for (
    const bad of [
      "REPORT",
      `REPORT ${a.address}`,
      `REPORT ${a.address} OK 7`,
      `REPORT ${a.address} OK seven f.txt`,
      `REPORT ${a.address} OK -7 f.txt`,
      `REPORT ${a.address} E-HASH 0 f.txt`,
      `REPORT ${a.address} ABCDEFGHIJKLMNOPQRSTUVWXYZ 0 f.txt`,
      `REPORT nohost EHASH 0 f.txt`,
      `REPORT 127.0.0.1:99999 EHASH 0 f.txt`,
    ]
  ) {
    assert.equal(await status(bad), 400, bad);
  }
  await assert.rejects(
    a.tracker.report({ address: a.address, outcome: "OK", bytes: 7, name: "f.txt" }),
    (e: ProtocolError) => e.status === 403,
  );
  assert.ok(tracker.feedback.empty, "no refused report counted");
  // The session goes on: a good report is noted.
  const [ok] = await reporter.ask(`REPORT ${a.address} ok 7 f.txt\n`);
  assert.deepEqual(ok, { status: 200, more: false, text: `noted: ${a.address} 1 ok, 0 failed, 7 bytes served` });
});

Deno.test("tracker: a holder two sessions report failing is no longer offered; the other still is", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "f.txt": "content" });
  await using b = await testPeer(tracker.address, { "f.txt": "content" });
  using first = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  const offered = async () => holderAddresses(await asker.ask("SEND f.txt\n"));

  const [one] = await first.ask(`REPORT ${a.address} EHASH 0 f.txt\n`);
  assert.equal(one.text, `noted: ${a.address} 0 ok, 1 failed, 0 bytes served`);
  assert.deepEqual(await offered(), [b.address, a.address], "one failing session moves it last, no more");

  const reported = tracker.waitFor("reported");
  const second = await LineClient.connect(tracker.addr.port);
  try {
    const [two] = await second.ask(`REPORT ${a.address} ETIMEDOUT 0 f.txt\n`);
    assert.equal(two.text, `noted: ${a.address} 0 ok, 2 failed, 0 bytes served; no longer offered`);
    assert.deepEqual(await reported, {
      type: "reported",
      peer: `127.0.0.1:${(second.conn.localAddr as Deno.NetAddr).port}`,
      holder: a.address,
      name: "f.txt",
      outcome: "ETIMEDOUT",
      demoted: true,
    });
    assert.deepEqual(await offered(), [b.address]);
    assert.deepEqual(tracker.feedback.score(tracker.index.holderOf("f.txt", a.address)!.peer), {
      served: 0,
      succeeded: 0,
      failed: 2,
      demoted: true,
      lastFailure: "ETIMEDOUT",
    });
  } finally {
    const left = tracker.waitFor("left");
    second[Symbol.dispose]();
    await left;
  }
  // A vote outlives its session: a one-shot `get` reports, then leaves.
  assert.deepEqual(await offered(), [b.address]);
});

Deno.test("tracker: one session repeating a failure report five times does not demote a holder", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "f.txt": "content" });
  await using b = await testPeer(tracker.address, { "f.txt": "content" });
  using reporter = await LineClient.connect(tracker.addr.port);
  for (let i = 0; i < 5; i++) {
    const [reply] = await reporter.ask(`REPORT ${a.address} EHASH 0 f.txt\n`);
    assert.equal(reply.text, `noted: ${a.address} 0 ok, 1 failed, 0 bytes served`);
  }
  assert.equal(tracker.feedback.score(tracker.index.holderOf("f.txt", a.address)!.peer)?.demoted, false);
  assert.deepEqual(holderAddresses(await reporter.ask("SEND f.txt\n")), [b.address, a.address]);
  // The same session changing its mind counts once, the other way.
  const [changed] = await reporter.ask(`REPORT ${a.address} OK 7 f.txt\n`);
  assert.equal(changed.text, `noted: ${a.address} 1 ok, 0 failed, 7 bytes served`);
});

Deno.test("tracker: holders come fewest failing sessions first, then most bytes served", async () => {
  await using tracker = testTracker();
  const content = "x".repeat(5000); // reported bytes count up to the file's size
  await using a = await testPeer(tracker.address, { "f.txt": content });
  await using b = await testPeer(tracker.address, { "f.txt": content });
  await using c = await testPeer(tracker.address, { "f.txt": content });
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  const offered = async () => holderAddresses(await one.ask("SEND f.txt\n"));
  assert.deepEqual(await offered(), [a.address, b.address, c.address], "announcement order while nothing is known");
  await one.ask(`REPORT ${b.address} OK 1000 f.txt\n`);
  await one.ask(`REPORT ${c.address} OK 3000 f.txt\n`);
  assert.deepEqual(await offered(), [c.address, b.address, a.address]);
  // One failing session puts c last despite its bytes (one ok, one failed: still offered).
  await two.ask(`REPORT ${c.address} ECONNRESET 0 f.txt\n`);
  assert.deepEqual(await offered(), [b.address, a.address, c.address]);
  // A session's new report replaces its old one; bytes count at most the file's size.
  const [again] = await one.ask(`REPORT ${b.address} OK 999999 f.txt\n`);
  assert.equal(again.text, `noted: ${b.address} 1 ok, 0 failed, 5000 bytes served`);
});

Deno.test("download: a holder caught sending bad chunks is reported EHASH, and no longer offered after two downloaders", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB + 5000, 51);
  await using liar = lyingHolder(data);
  using liarSession = await LineClient.connect(tracker.addr.port);
  const [indexed] = await liarSession.ask(`UPDATE ${liar.port} 1\n${data.length} ${hashToken(data)} f.bin\n`);
  assert.equal(indexed.status, 200);
  // Slow enough that the liar's answer (at once) always comes before the honest copy of the same chunk:
  // each source holds at most 2 of the 3 chunks, so the liar is always asked for one.
  await using honest = await testPeer(tracker.address, { "f.bin": data }, { maxUploadRate: 4 * MiB });
  const liarId = tracker.index.holderOf("f.bin", liar.address)!.peer;
  const honestId = tracker.index.holderOf("f.bin", honest.address)!.peer;

  /** One download by `client`, a downloader whose session stays open: a session's votes last as long as it does. */
  const download = async (client: TrackerClient) => {
    await using out = await tempDir();
    const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path })).outcomes;
    assert.ok(outcome.ok, JSON.stringify(outcome));
    await assertSameBytes(join(out.path, "f.bin"), data);
    return outcome.result;
  };
  await using one = await TrackerClient.connect(tracker.address);
  await using two = await TrackerClient.connect(tracker.address);

  const first = await download(one);
  assert.deepEqual(first.failed.map((f) => [f.holder, f.code]), [[liar.address, "EHASH"]]);
  assert.deepEqual(tracker.feedback.score(liarId), {
    served: 0,
    succeeded: 0,
    failed: 1,
    demoted: false,
    lastFailure: "EHASH",
  });
  assert.deepEqual(tracker.feedback.score(honestId), { served: data.length, succeeded: 1, failed: 0, demoted: false });
  assert.deepEqual(holderAddresses(await liarSession.ask("SEND f.bin\n")), [honest.address, liar.address]);

  const second = await download(two);
  assert.deepEqual(second.failed.map((f) => [f.holder, f.code]), [[liar.address, "EHASH"]]);
  assert.deepEqual(tracker.feedback.score(liarId), {
    served: 0,
    succeeded: 0,
    failed: 2,
    demoted: true,
    lastFailure: "EHASH",
  });
  assert.deepEqual(holderAddresses(await liarSession.ask("SEND f.bin\n")), [honest.address]);

  // A third downloader is not offered the liar at all.
  await using three = await TrackerClient.connect(tracker.address);
  const third = await download(three);
  assert.deepEqual(third.failed, []);
  assert.deepEqual(third.sources.map((s) => [s.holder, s.bytes]), [[honest.address, data.length]]);
});

// ---------------------------------------------------------------------------
// 6. Command line

Deno.test("cli: get --sources 0, x or 65 exits 2 with a usage message", async () => {
  const results = await Promise.all(
    ["0", "x", "65"].map((n) => runCli(["get", "--tracker", "127.0.0.1:1", "--sources", n, "f.txt"])),
  );
  for (const [i, n] of ["0", "x", "65"].entries()) {
    assert.equal(results[i].code, 2, results[i].stderrText);
    assert.match(results[i].stderrText, new RegExp(`^get: --sources must be 1-64, got ${n}$`, "m"));
    assert.match(results[i].stderrText, /^usage: get /m);
  }
});

Deno.test("cli: peer --max-upload-rate fast or 0 exits 2; tracker --demote-after 0 exits 2", async () => {
  const [fast, zero, demote] = await Promise.all([
    runCli(["peer", "--tracker", "127.0.0.1:1", "--max-upload-rate", "fast"]),
    runCli(["peer", "--tracker", "127.0.0.1:1", "--max-upload-rate", "0"]),
    runCli(["tracker", "--port", "0", "--demote-after", "0"]),
  ]);
  for (const [r, value] of [[fast, "fast"], [zero, "0"]] as const) {
    assert.equal(r.code, 2, r.stderrText);
    assert.match(
      r.stderrText,
      new RegExp(`^peer: --max-upload-rate must be bytes per second like 500K or 2M, got ${value}$`, "m"),
    );
    assert.match(r.stderrText, /^usage: peer /m);
  }
  assert.equal(demote.code, 2, demote.stderrText);
  assert.match(demote.stderrText, /^tracker: --demote-after must be 1 or more, got 0$/m);
});

Deno.test("cli: peer --max-upload-rate 2M is accepted, and the peer serves", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  const data = randomBytes(300_000, 61);
  await Deno.writeFile(join(dir.path, "f.bin"), data);
  await using peer = await startServer("peer", [
    "--tracker",
    tracker.address,
    "--dir",
    dir.path,
    "--info",
    join(dir.path, ".info.txt"),
    "--max-upload-rate",
    "2M",
  ]);
  await peer.waitFor(/^shared 1 files from /m);
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path })).outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.deepEqual(await Deno.readFile(join(out.path, "f.bin")), data);
  await peer.waitFor(/^sent f\.bin \(300000 bytes\) to /m);
});
