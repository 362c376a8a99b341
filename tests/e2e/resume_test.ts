/**
 * A `get` of a file over 1 MiB killed half-way (SIGKILL, as a crash or a
 * power cut would stop it) leaves its verified chunks on disk, hidden, with
 * a journal naming them; the next run carries on from them and fetches only
 * the rest, from one holder or from three at once. The first holders are
 * fakes that stop sending after exactly half the chunks, so that the kill
 * lands half-way without racing a clock; the second are real peers whose
 * uploads are counted.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { type PeerEvent, sendAndFetch } from "../../peer.ts";
import type { Link } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import type { Downloaded } from "../../peer/download.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { eventually } from "../helpers/events.ts";
import { hashesAnswer, hashToken, MiB, sha256 } from "../helpers/hashes.ts";
import { type FakeHolder, startFakeHolder } from "../helpers/holders.ts";
import { LineClient } from "../helpers/net.ts";
import { hiddenFiles, readJournal } from "../helpers/part_files.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, type TestTracker, testTracker } from "../helpers/roles.ts";
import { listDir, tempDir } from "../helpers/temp.ts";

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

/**
 * Holders of `data` that answer `HASHES` truly and `RANGE` chunk by chunk,
 * all of them together sending at most `budget` whole chunks; then each
 * stops sending and reads on until the downloader hangs up.
 */
function holdersOfBudget(data: Uint8Array, count: number, budget: number): FakeHolder[] {
  let left = budget;
  const hash = sha256(data);
  const script = async (conn: Link, first: string) => {
    const reader = new BufferedReader(conn);
    for (let line: string | null = first; line !== null; line = await reader.readLine()) {
      if (line.startsWith("HASHES ")) {
        await writeText(conn, hashesAnswer(data));
        continue;
      }
      const m = /^RANGE (\d+) (\d+|\*) /.exec(line);
      if (!m) throw new Error(`unexpected request ${JSON.stringify(line)}`);
      const offset = Number(m[1]);
      const length = m[2] === "*" ? data.length - offset : Math.min(Number(m[2]), data.length - offset);
      await writeText(conn, `206 ${data.length} ${hash} ${offset} ${length}\n`);
      for (let at = offset; at < offset + length; at += MiB) {
        if (left === 0) {
          while (await reader.read(new Uint8Array(65_536)) !== null) { /* stalled until the downloader hangs up */ }
          return;
        }
        left--;
        await writeAll(conn, data.subarray(at, Math.min(at + MiB, offset + length)));
      }
    }
  };
  return Array.from({ length: count }, () => startFakeHolder({ script }));
}

/** Announces `data` as `name` held at each of `ports` (a session each, with its chunk root); dispose to leave. */
async function listHolders(tracker: TestTracker, ports: number[], name: string, data: Uint8Array) {
  const sessions: LineClient[] = [];
  for (const port of ports) {
    const session = await LineClient.connect(tracker.addr.port);
    sessions.push(session);
    const [reply] = await session.ask(`UPDATE ${port} 1\n${data.length} ${hashToken(data)} ${name}\n`);
    assert.equal(reply.status, 200, reply.text);
  }
  return {
    [Symbol.asyncDispose]: async () => {
      for (const session of sessions) session[Symbol.dispose]();
      await tracker.events.until(
        "the first holders gone from the index",
        async () => (await tracker.store.holders(name, 9)).length === 0,
      );
    },
  };
}

/**
 * Kills a `get` of `name` (a separate process) once its journal lists at
 * least half the chunks, and returns what was on disk at that moment.
 */
async function killGetHalfWay(tracker: string, outDir: string, name: string, data: Uint8Array, flags: string[] = []) {
  const count = Math.ceil(data.length / MiB);
  await using get = spawnCli(["get", "--tracker", tracker, "--out", outDir, ...flags, name]);
  await eventually("half the chunks journaled", async () => {
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

Deno.test("resume: a get killed half-way (one holder) carries on from the journaled chunks and fetches only the rest", async () => {
  await using tracker = testTracker();
  const data = randomBytes(16 * MiB + 1234, 11);
  const count = Math.ceil(data.length / MiB);
  await using out = await tempDir();
  let atKill;
  {
    // One holder that stops after half the chunks (and half of the next).
    await using stalling = startFakeHolder({ name: "big.bin", data, stall: Math.ceil(count / 2) });
    await using _listed = await listHolders(tracker, [stalling.port], "big.bin", data);
    atKill = await killGetHalfWay(tracker.address, out.path, "big.bin", data);
  }
  const V = atKill.correct.length;

  // The same get again, from another holder of the same version: one holder, so the streaming path.
  const meter = uploadMeter();
  const holder = await testPeer(tracker.address, { "big.bin": data }, { onEvent: meter.onEvent });
  let second;
  try {
    second = await runCli(["get", "--json", "--tracker", tracker.address, "--out", out.path, "big.bin"]);
  } finally {
    await holder[Symbol.asyncDispose](); // waits for its connections: every byte it sent is counted
  }
  assert.equal(second.code, 0, second.stdoutText + second.stderrText);
  // The exact counts are in the JSON (the people's line shows units).
  const outcome = JSON.parse(second.stdoutText);
  assert.equal(outcome.status, "ok", second.stdoutText);
  assert.equal(outcome.size, data.length);
  assert.equal(outcome.sources.filter((s: { bytes: number }) => s.bytes > 0).length, 1, second.stdoutText);
  const resumed: number = outcome.resumedBytes;

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
  const count = Math.ceil(data.length / MiB);
  await using out = await tempDir();
  let atKill;
  {
    // Three holders that together send half the chunks, then stop.
    const stalling = holdersOfBudget(data, 3, Math.ceil(count / 2));
    try {
      await using _listed = await listHolders(tracker, stalling.map((h) => h.port), "big.bin", data);
      atKill = await killGetHalfWay(tracker.address, out.path, "big.bin", data, ["--sources", "3"]);
    } finally {
      for (const h of stalling) await h[Symbol.asyncDispose]();
    }
  }
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
