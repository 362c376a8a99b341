/**
 * `peer/download.ts`: one file fetched from its holders into a hidden part
 * file, renamed into place only once its SHA-256 matches. Holders that fail
 * are named with their code and the next serves; nothing unverified is ever
 * at the final name (watched all through the download, not only at its
 * end); a file at the target, or one that appears there during the
 * download, is never overwritten; a cancelled download keeps what it can
 * resume from, and a later run checks it again before trusting it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { DownloadError } from "../../io/errors.ts";
import { BufferedReader } from "../../io/reader.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { hashThreadRunning } from "../../disk/hash_thread.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { downloadFile } from "../../peer/download.ts";
import type { FileServerEvent } from "../../peer/file_server.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { eventually } from "../helpers/events.ts";
import { hashesAnswer, holderOf, MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { gatedHolder, servingFolder, startFakeHolder } from "../helpers/holders.ts";
import { deadAddress } from "../helpers/net.ts";
import { hiddenFiles, readJournal } from "../helpers/part_files.ts";
import { randomBytes } from "../helpers/random.ts";
import { listDir, tempDir } from "../helpers/temp.ts";

// --- holders, good and bad ---------------------------------------------------------

Deno.test("download: a 40 MiB binary file arrives byte for byte and nothing else is left", async () => {
  const data = randomBytes(40 * MiB + 7);
  await using src = await servingFolder({ "big.bin": data });
  await using out = await tempDir();
  const got = await downloadFile({ name: "big.bin", status: 200, holders: [src.holder("big.bin")] }, {
    outDir: out.path,
  });
  assert.equal(got.size, data.length);
  assert.equal(got.from, src.address);
  await assertSameBytes(join(out.path, "big.bin"), data);
  assert.deepEqual(await listDir(out.path), ["big.bin"]);
});

Deno.test("download: an empty file arrives as an empty file", async () => {
  await using src = await servingFolder({ "empty": new Uint8Array() });
  await using out = await tempDir();
  await downloadFile({ name: "empty", status: 200, holders: [src.holder("empty")] }, { outDir: out.path });
  assert.equal((await Deno.stat(join(out.path, "empty"))).size, 0);
});

Deno.test("download: a refused connection is reported and the next holder serves", async () => {
  await using src = await servingFolder({ "f.txt": "content" });
  await using out = await tempDir();
  const dead = deadAddress();
  const seen: string[] = [];
  const got = await src.fetchAfter("f.txt", dead, {
    outDir: out.path,
    onAttemptFailed: (_, a) => seen.push(`${a.code} ${a.holder}`),
  });
  assert.deepEqual(seen, [`ECONNREFUSED ${dead}`]);
  assert.deepEqual(got.failed.map((a) => a.code), ["ECONNREFUSED"]);
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "content");
});

Deno.test("download: a holder that answers 404 is skipped with code 404", async () => {
  await using empty = await servingFolder({});
  await using src = await servingFolder({ "f.txt": "content" });
  await using out = await tempDir();
  const got = await src.fetchAfter("f.txt", empty.address, { outDir: out.path });
  assert.deepEqual(got.failed.map((a) => [a.code, a.holder]), [["404", empty.address]]);
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "content");
});

Deno.test("download: a holder whose file changed size is refused before any byte lands (ECHANGED)", async () => {
  await using src = await servingFolder({ "f.txt": "version one" });
  await using out = await tempDir();
  const announced = src.holder("f.txt");
  await Deno.writeTextFile(join(src.dir, "f.txt"), "version two, longer");
  const error = await downloadFile({ name: "f.txt", status: 200, holders: [announced] }, { outDir: out.path })
    .catch((e) => e);
  assert.ok(error instanceof DownloadError);
  assert.deepEqual(error.attempts.map((a) => a.code), ["ECHANGED"]);
  assert.deepEqual(await listDir(out.path), []);
});

Deno.test("download: bytes that do not match the hash never land (EHASH), the next holder serves", async () => {
  const good = "the real content";
  await using liar = startFakeHolder({
    script: async (conn) => {
      const bad = "the fake content";
      await writeText(conn, `200 ${bad.length} ${sha256(good)}\n${bad}`);
    },
  });
  await using src = await servingFolder({ "f.txt": good });
  await using out = await tempDir();
  const got = await src.fetchAfter("f.txt", liar.address, { outDir: out.path });
  assert.deepEqual(got.failed.map((a) => a.code), ["EHASH"]);
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), good);
});

Deno.test("download: a holder that dies mid-transfer leaves nothing behind (ETRUNCATED)", async () => {
  const data = randomBytes(3 * MiB);
  await using dying = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, data.length / 2));
    },
  });
  await using out = await tempDir();
  const error = await downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: dying.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path }).catch((e) => e);
  assert.ok(error instanceof DownloadError);
  assert.deepEqual(error.attempts.map((a) => a.code), ["ETRUNCATED"]);
  assert.deepEqual(await listDir(out.path), []);
});

Deno.test("download: a holder that hangs times out (ETIMEDOUT) and the next holder serves", async () => {
  const released = Promise.withResolvers<void>();
  await using hanging = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 10 ${sha256("0123456789")}\n01234`);
      await released.promise;
    },
  });
  await using src = await servingFolder({ "f.txt": "0123456789" });
  await using out = await tempDir();
  try {
    const got = await src.fetchAfter("f.txt", hanging.address, { outDir: out.path, timeoutMs: 300 });
    assert.deepEqual(got.failed.map((a) => a.code), ["ETIMEDOUT"]);
    assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "0123456789");
  } finally {
    released.resolve();
  }
});

Deno.test("download: a holder that never answers the request times out too", async () => {
  const released = Promise.withResolvers<void>();
  await using silent = startFakeHolder({ script: () => released.promise });
  await using out = await tempDir();
  try {
    await assert.rejects(
      downloadFile({ name: "f", status: 200, holders: [{ address: silent.address, size: 1, sha256: sha256("x") }] }, {
        outDir: out.path,
        timeoutMs: 200,
      }),
      (e: DownloadError) => e.attempts[0].code === "ETIMEDOUT",
    );
  } finally {
    released.resolve();
  }
});

Deno.test("download: aborting the signal mid-transfer cancels it and removes the partial file", async () => {
  const data = randomBytes(1_000_000);
  const released = Promise.withResolvers<void>();
  const started = Promise.withResolvers<void>();
  await using slow = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 1000));
      started.resolve();
      await released.promise;
    },
  });
  await using out = await tempDir();
  const controller = new AbortController();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: slow.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path, signal: controller.signal, timeoutMs: 30_000 });
  try {
    await started.promise;
    controller.abort();
    await assert.rejects(download, (e: DownloadError) => e.message === "cancelled");
    assert.deepEqual(await listDir(out.path), []);
  } finally {
    released.resolve();
  }
});

// --- our own side ---------------------------------------------------------------------

Deno.test("download: an output folder that does not exist fails at once, naming it and what to do, contacting no one", async () => {
  await using dir = await tempDir();
  await using src = startFakeHolder({ script: () => Promise.resolve() });
  const missing = join(dir.path, "missing");
  const error = await downloadFile({
    name: "f.txt",
    status: 200,
    holders: [{ address: src.address, size: 1, sha256: sha256("x") }],
  }, { outDir: missing }).then(() => undefined, (e) => e);
  assert.ok(error instanceof DownloadError, String(error));
  assert.match(error.message, /cannot write in .*missing: .*; create the folder or choose another --out/);
  assert.ok(error.message.includes(`cannot write in ${missing}`), error.message);
  assert.deepEqual(error.attempts, []);
  assert.deepEqual(src.requests, [], "no holder was contacted");
  await assert.rejects(
    downloadFile({ name: "f.txt", status: 200, holders: [{ address: src.address, size: 1, sha256: sha256("x") }] }, {
      outDir: "/nonexistent/dir",
    }),
    (e: DownloadError) => /cannot write in \/nonexistent\/dir/.test(e.message) && e.attempts.length === 0,
  );
});

Deno.test("download: a different file already at the target is never overwritten (EEXIST); the same one counts", async () => {
  await using src = await servingFolder({ "f.txt": "remote" });
  await using out = await tempDir();
  await Deno.writeTextFile(join(out.path, "f.txt"), "mine!!");
  await assert.rejects(
    downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, { outDir: out.path }),
    (e: DownloadError) => e.attempts.length === 1 && e.attempts[0].code === "EEXIST" && /in the way/.test(e.message),
  );
  assert.equal(await Deno.readTextFile(join(out.path, "f.txt")), "mine!!");
  await Deno.writeTextFile(join(out.path, "f.txt"), "remote");
  const got = await downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, {
    outDir: out.path,
  });
  assert.equal(got.from, "here");
  assert.deepEqual(await listDir(out.path), ["f.txt"]);
});

Deno.test("download: a folder in the way fails before any holder is contacted, leaving nothing", async () => {
  await using src = await servingFolder({ "f.txt": "remote" });
  await using out = await tempDir();
  await Deno.mkdir(join(out.path, "f.txt"));
  await assert.rejects(
    downloadFile({ name: "f.txt", status: 200, holders: [src.holder("f.txt")] }, { outDir: out.path }),
    (e: DownloadError) => e.attempts.length > 0 && e.attempts.every((a) => a.holder === "here"),
  );
  assert.deepEqual(await listDir(out.path), ["f.txt"]);
});

// --- nothing unverified at the final name ------------------------------------------------

/** What the target name and the hidden part file looked like at one moment of a download. */
interface Look {
  /** The target's bytes' SHA-256 if a file was there, else undefined. */
  target?: string;
  /** Bytes in the hidden part file (0 if none). */
  part: number;
}

/** A watch of a download's target name: every look so far, and all of them once the download settled. */
interface TargetWatch {
  looks: Look[];
  done: Promise<Look[]>;
}

/**
 * Looks at `dir/name` (and the part file beside it) every few milliseconds
 * until `download` settles, and once more after.
 */
function watchTarget(dir: string, name: string, download: Promise<unknown>): TargetWatch {
  let over = false;
  const end = download.then(() => over = true, () => over = true);
  const looks: Look[] = [];
  const look = async (): Promise<Look> => {
    let part = 0;
    for (const entry of await listDir(dir)) {
      if (entry.endsWith(".part")) part += (await Deno.stat(join(dir, entry)).catch(() => ({ size: 0 }))).size;
    }
    try {
      await Deno.lstat(join(dir, name));
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return { part };
      throw error;
    }
    return { target: sha256(await Deno.readFile(join(dir, name))), part };
  };
  const done = (async () => {
    while (!over) {
      looks.push(await look());
      let timer: ReturnType<typeof setTimeout> | undefined;
      await Promise.race([end, new Promise((resolve) => timer = setTimeout(resolve, 2))]);
      clearTimeout(timer);
    }
    looks.push(await look());
    return looks;
  })();
  done.catch(() => {}); // a test that failed early has removed the folder: its own failure says why
  return { looks, done };
}

/** Fails if any look so far found at the target anything but the file whose SHA-256 is `verified`. */
function assertOnlyVerified(looks: Look[], verified?: string): void {
  const bad = looks.find((l) => l.target !== undefined && l.target !== verified);
  assert.equal(bad, undefined, `at the final name while the download ran: ${JSON.stringify(bad)}`);
}

/**
 * Waits until `watch` has looked while the part file held `bytes` or more
 * and nothing was at the target; fails at once if a look found at the
 * target anything but `verified`.
 */
function sawPart(watch: TargetWatch, bytes: number, verified?: string): Promise<void> {
  return eventually(`a look with ${bytes} bytes in the part file`, () => {
    assertOnlyVerified(watch.looks, verified);
    return watch.looks.some((l) => l.target === undefined && l.part >= bytes);
  });
}

/** Waits until the one part file in `dir` holds at least `bytes` (there is no event for it: it is on disk). */
function partHolds(dir: string, bytes: number): Promise<void> {
  return eventually(`${bytes} bytes in the part file`, async () => {
    const parts = (await listDir(dir)).filter((n) => n.endsWith(".part"));
    return parts.length === 1 && (await Deno.stat(join(dir, parts[0]))).size >= bytes;
  });
}

Deno.test("download: nothing is ever at the final name until the whole file is verified, streaming from one holder", async () => {
  const data = randomBytes(3 * MiB + 5, 51);
  // No root: the file streams from one holder and only the whole file's hash can check it.
  await using holder = gatedHolder(data, 2 * MiB + 100);
  await using out = await tempDir();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: holder.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path });
  download.catch(() => {}); // looked at below
  const watching = watchTarget(out.path, "f.bin", download);
  try {
    // Unverified bytes on disk, nothing at the name; the watch goes on meanwhile.
    await sawPart(watching, 2 * MiB, sha256(data));
  } finally {
    holder.release();
  }
  await download;
  const looks = await watching.done;
  assertOnlyVerified(looks, sha256(data)); // when something is there, it is the whole verified file
  assert.ok(looks.findIndex((l) => l.target !== undefined) > looks.findLastIndex((l) => l.target === undefined));
  assert.equal(looks.at(-1)!.target, sha256(data));
  await assertSameBytes(join(out.path, "f.bin"), data);
  assert.deepEqual(await listDir(out.path), ["f.bin"]);
});

Deno.test("download: nothing is ever at the final name while chunks land from several holders", async () => {
  const data = randomBytes(6 * MiB + 9, 52);
  const gate = Promise.withResolvers<void>();
  // One holder answers at once; the other holds its answers until the gate opens.
  await using quick = startFakeHolder({ name: "f.bin", data });
  await using held = startFakeHolder({ name: "f.bin", data, gate: gate.promise });
  await using out = await tempDir();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [holderOf(quick.address, data), holderOf(held.address, data)],
  }, { outDir: out.path, timeoutMs: 60_000 });
  download.catch(() => {}); // looked at below
  const watching = watchTarget(out.path, "f.bin", download);
  try {
    await sawPart(watching, 2 * MiB, sha256(data)); // chunks landing, nothing at the name
  } finally {
    gate.resolve();
  }
  const result = await download;
  const looks = await watching.done;
  assertOnlyVerified(looks, sha256(data));
  assert.equal(looks.at(-1)!.target, sha256(data));
  assert.equal(result.sources.reduce((n, s) => n + s.bytes, 0), data.length);
  await assertSameBytes(join(out.path, "f.bin"), data);
});

Deno.test("download: every byte arrived but the whole is wrong (EHASH): nothing is ever at the final name", async () => {
  const data = randomBytes(3 * MiB + 5, 53);
  const wrong = data.slice();
  wrong[wrong.length - 1] ^= 0xff; // the last byte differs: only the whole file's hash can tell
  await using liar = gatedHolder(wrong, wrong.length - 1, { sha256: sha256(data) });
  await using out = await tempDir();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: liar.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path });
  download.catch(() => {}); // looked at below
  const watching = watchTarget(out.path, "f.bin", download);
  try {
    await sawPart(watching, 3 * MiB); // all but one byte on disk, nothing at the name
  } finally {
    liar.release();
  }
  const error = await download.then(() => undefined, (e) => e);
  const looks = await watching.done;
  assert.ok(error instanceof DownloadError, String(error));
  assert.deepEqual(error.attempts.map((a) => [a.holder, a.code]), [[liar.address, "EHASH"]]);
  assertOnlyVerified(looks); // the target never existed
  assert.deepEqual(await listDir(out.path), [], "the wrong bytes are not kept");
});

Deno.test("download: a file that appears at the target during the download is left as it is, and the download says so", async () => {
  const data = randomBytes(2 * MiB + 3, 54);
  await using holder = gatedHolder(data, MiB + 10);
  await using out = await tempDir();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: holder.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path });
  download.catch(() => {}); // looked at below
  try {
    await partHolds(out.path, MiB);
    // Someone else puts a file there meanwhile.
    await Deno.writeTextFile(join(out.path, "f.bin"), "someone else's");
  } finally {
    holder.release();
  }
  const error = await download.then(() => undefined, (e) => e);
  assert.ok(error instanceof DownloadError, String(error));
  assert.match(error.message, /f\.bin appeared while the download ran; it was left as it is/);
  assert.equal(await Deno.readTextFile(join(out.path, "f.bin")), "someone else's");
  assert.deepEqual(await listDir(out.path), ["f.bin"], "the part file is gone");
});

// --- a download cancelled, carried on later --------------------------------------------

/**
 * A holder of `data` that answers `HASHES` truly and then, whatever range is
 * asked, sends the header and only `chunks` whole chunks of it, and waits
 * until the downloader hangs up: the download stops at an exact point.
 */
function stallingHolder(data: Uint8Array, chunks: number, then: "stall" | "close" = "stall") {
  return startFakeHolder({
    script: async (conn, first) => {
      const reader = new BufferedReader(conn);
      for (let line: string | null = first; line !== null; line = await reader.readLine()) {
        if (line.startsWith("HASHES ")) {
          await writeText(conn, hashesAnswer(data));
          continue;
        }
        const [, offset, length] = /^RANGE (\d+) (\d+|\*) /.exec(line)!.map(Number);
        const size = Number.isNaN(length) ? data.length - offset : length;
        await writeText(conn, `206 ${data.length} ${sha256(data)} ${offset} ${size}\n`);
        await writeAll(conn, data.subarray(offset, offset + Math.min(size, chunks * MiB)));
        if (then === "close") return;
      }
    },
  });
}

/** Downloads `movie.bin` from a holder that stalls after 3 chunks, cancels once they are journaled; the error. */
async function cancelAfterThreeChunks(data: Uint8Array, outDir: string): Promise<unknown> {
  await using stall = stallingHolder(data, 3);
  const controller = new AbortController();
  const settled = downloadFile({ name: "movie.bin", status: 200, holders: [holderOf(stall.address, data)] }, {
    outDir,
    signal: controller.signal,
  }).then((): unknown => assert.fail("the download finished"), (error: unknown) => error);
  await eventually("3 chunks journaled", async () => (await readJournal(outDir)).chunks.length >= 3);
  controller.abort();
  return await settled;
}

/** Finishes `movie.bin` into `outDir` from a real file server whose uploads are counted (served and aborted bytes). */
async function finishFromMeteredHolder(data: Uint8Array, outDir: string) {
  await using server = await servingFolder({ "movie.bin": data });
  const log = server.events;
  const holder = server.address;
  const result = await downloadFile({ name: "movie.bin", status: 200, holders: [holderOf(holder, data)] }, {
    outDir,
  });
  // The downloader hung up: the holder tells what it sent once it sees that.
  await log.until("the holder's report", () => log.events.some((e) => e.type === "served" || e.type === "aborted"));
  return { result, holder, events: log.events };
}

/** Bytes a file server sent, from its `served` and `aborted` events. */
const sent = (events: FileServerEvent[]) =>
  events.reduce((n, e) => n + (e.type === "served" || e.type === "aborted" ? e.bytes : 0), 0);

Deno.test("download: a holder that breaks off mid-file fails the download, which says what it kept and where", async () => {
  const data = randomBytes(6 * MiB + 321, 22);
  await using out = await tempDir();
  await using broken = stallingHolder(data, 3, "close");
  const error = await downloadFile({ name: "movie.bin", status: 200, holders: [holderOf(broken.address, data)] }, {
    outDir: out.path,
  }).then((): unknown => assert.fail("the download finished"), (error: unknown) => error);
  assert.ok(error instanceof DownloadError, String(error));
  const { part } = await hiddenFiles(out.path);
  assert.ok(part);
  assert.equal(error.message, `the holder failed; kept 3.00 MiB of movie.bin in ${part} for the next try`);
  assert.deepEqual(error.kept, [{ path: part, bytes: 3 * MiB }]);
});

Deno.test("download: two versions each broken off mid-file: both part files are kept and named", async () => {
  const first = randomBytes(6 * MiB + 1, 23);
  const second = randomBytes(5 * MiB + 2, 24);
  await using out = await tempDir();
  await using a = stallingHolder(first, 3, "close");
  await using b = stallingHolder(second, 2, "close");
  const error = await downloadFile({
    name: "movie.bin",
    status: 200,
    holders: [holderOf(a.address, first), holderOf(b.address, second)],
  }, { outDir: out.path }).then((): unknown => assert.fail("the download finished"), (error: unknown) => error);
  assert.ok(error instanceof DownloadError, String(error));
  assert.equal(error.kept?.length, 2, JSON.stringify(error.kept));
  const [kA, kB] = error.kept!;
  assert.deepEqual([kA.bytes, kB.bytes], [3 * MiB, 2 * MiB]);
  assert.notEqual(kA.path, kB.path);
  for (const k of error.kept!) assert.equal((await Deno.stat(k.path)).isFile, true);
  assert.equal(
    error.message,
    `all 2 holders failed; kept 2.00 MiB of movie.bin in ${kB.path} and 3.00 MiB of another version in ${kA.path} ` +
      "for the next try",
  );
});

Deno.test("download: a cancelled download keeps a hidden part file and journal, says where, how much and how to discard it, never shared, and finishes later", async () => {
  const data = randomBytes(6 * MiB + 321, 21);
  await using out = await tempDir();
  const error = await cancelAfterThreeChunks(data, out.path);
  assert.ok(error instanceof DownloadError, String(error));

  const { part, journal, names } = await hiddenFiles(out.path);
  assert.ok(part && journal);
  // Where it is and how much (how to be rid of it is the command line's to say: cli/report.ts).
  assert.equal(error.message, `cancelled; kept 3.00 MiB of movie.bin in ${part} for the next try`);
  assert.deepEqual(error.kept, [{ path: part, bytes: 3 * MiB }]);
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

  const { result, events, holder } = await finishFromMeteredHolder(data, out.path);
  assert.equal(result.resumed, 3 * MiB);
  assert.equal(sent(events), data.length - 3 * MiB, "only the missing part is sent");
  assert.deepEqual(result.sources.map((s) => [s.holder, s.bytes]), [[holder, data.length - 3 * MiB]]);
  await assertSameBytes(join(out.path, "movie.bin"), data);
  assert.deepEqual(await listDir(out.path), ["movie.bin"]);
});

Deno.test("download: a journaled chunk corrupted on disk between runs is fetched again and the file is right", async () => {
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

  const { result, events } = await finishFromMeteredHolder(data, out.path);
  // Chunks 0 and 2 verify; chunk 1 and everything from 3 on are fetched: two ranges.
  assert.equal(result.resumed, 2 * MiB);
  assert.equal(sent(events), data.length - 2 * MiB);
  assert.deepEqual(
    events.flatMap((e): [string, number][] =>
      e.type === "served" ? [[e.type, e.ranges]] : e.type === "aborted" ? [[e.type, 0]] : []
    ),
    [["served", 2]],
  );
  await assertSameBytes(join(out.path, "movie.bin"), data);
  assert.deepEqual(await listDir(out.path), ["movie.bin"]);
});

// --- the whole file's hash on its own thread ----------------------------------------

Deno.test("download (hash on its thread): a file from one holder arrives byte for byte; the hashing thread has stopped when it returns", async () => {
  const data = randomBytes(12 * MiB + 3, 61);
  await using src = await servingFolder({ "big.bin": data });
  await using out = await tempDir();
  const got = await downloadFile({ name: "big.bin", status: 200, holders: [src.holder("big.bin")] }, {
    outDir: out.path,
    hashThread: true,
  });
  assert.equal(got.sha256, sha256(data));
  assert.equal(hashThreadRunning(), false);
  await assertSameBytes(join(out.path, "big.bin"), data);
  assert.deepEqual(await listDir(out.path), ["big.bin"]);
});

Deno.test("download (hash on its thread): chunks from two holders, out of order, arrive byte for byte; the thread runs only while the download does", async () => {
  const data = randomBytes(9 * MiB + 1, 62);
  const gate = Promise.withResolvers<void>();
  await using a = startFakeHolder({ name: "f.bin", data, gate: gate.promise });
  await using b = startFakeHolder({ name: "f.bin", data, gate: gate.promise });
  await using out = await tempDir();
  const download = downloadFile({
    name: "f.bin",
    status: 200,
    holders: [holderOf(a.address, data), holderOf(b.address, data)],
  }, { outDir: out.path, hashThread: true });
  download.catch(() => {}); // looked at below
  try {
    await eventually("the hashing thread runs", () => hashThreadRunning());
  } finally {
    gate.resolve();
  }
  const got = await download;
  assert.equal(got.sources.filter((s) => s.bytes > 0).length, 2, JSON.stringify(got.sources));
  assert.equal(hashThreadRunning(), false);
  await assertSameBytes(join(out.path, "f.bin"), data);
});

Deno.test("download (hash on its thread): every byte arrived but the whole is wrong (EHASH): nothing lands, the thread has stopped", async () => {
  const data = randomBytes(3 * MiB + 5, 63);
  const wrong = data.slice();
  wrong[wrong.length - 1] ^= 0xff;
  await using liar = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, wrong);
    },
  });
  await using out = await tempDir();
  const error = await downloadFile({
    name: "f.bin",
    status: 200,
    holders: [{ address: liar.address, size: data.length, sha256: sha256(data) }],
  }, { outDir: out.path, hashThread: true }).catch((e) => e);
  assert.ok(error instanceof DownloadError, String(error));
  assert.deepEqual(error.attempts.map((a) => a.code), ["EHASH"]);
  assert.equal(hashThreadRunning(), false);
  assert.deepEqual(await listDir(out.path), []);
});

Deno.test("download (hash on its thread): a holder that dies mid-transfer, or a cancel, fails it and the thread has stopped", async () => {
  const data = randomBytes(3 * MiB, 64);
  await using dying = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, data.length / 2));
    },
  });
  await using out = await tempDir();
  const target = { name: "f.bin", status: 200, holders: [holderOf(dying.address, data)] };
  const died = await downloadFile(target, { outDir: out.path, hashThread: true }).catch((e) => e);
  assert.ok(died instanceof DownloadError, String(died));
  assert.equal(hashThreadRunning(), false, "after a holder died");
  const cancelled = await downloadFile(target, { outDir: out.path, hashThread: true, signal: AbortSignal.abort() })
    .catch((e) => e);
  assert.ok(cancelled instanceof DownloadError, String(cancelled));
  assert.equal(hashThreadRunning(), false, "after a cancel");
});
