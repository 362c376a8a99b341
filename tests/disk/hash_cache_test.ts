/**
 * The hash cache (`disk/hash_cache.ts`, `.p2p-hashes` in the shared folder):
 * a restarted peer announces from it without reading its files again; an
 * entry counts only while the file's size, modification time and change
 * time are those recorded; a file whose whole-second modification time is
 * too recent (racy) is not cached, a verified download is; a bad or
 * half-written cache is ignored line by line (or whole) and never believed;
 * a cache that cannot be written is a warning and the peer works on
 * (including a folder the peer may not write, whoever runs it).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { FileEntry, Holder } from "../../protocol.ts";
import { CACHE_FILE, HashCache, stampOf } from "../../disk/hash_cache.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import type { TrackerEvent } from "../../tracker.ts";
import { re } from "../helpers/assert.ts";
import { MAIN_PATH } from "../helpers/cli.ts";
import { WAIT_MS } from "../helpers/events.ts";
import { listedAs, MiB, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { announcedChange, type TestPeer, testPeer, type TestTracker, testTracker } from "../helpers/roles.ts";
import { AN_HOUR_AGO, listDir, tempDir, TWO_HOURS_AGO, writeFiles, writeOld } from "../helpers/temp.ts";
import { entriesAt, held } from "../helpers/tracker_index.ts";

const HEADER = "p2p-hash-cache 2";

/** A peer of `tracker` on `dir` that keeps a hash cache and watches the folder (quiet for 50 ms), unless `options` says otherwise. */
function cachingPeer(
  tracker: TestTracker,
  dir: string,
  options: Parameters<typeof testPeer>[2] = {},
): Promise<TestPeer> {
  return testPeer(tracker.address, {}, { dir, hashCache: true, watch: { quietMs: 50 }, ...options });
}

/** The names `peer` hashed (its `hashing` events). */
function hashed(peer: TestPeer): Set<string> {
  return new Set(peer.events.of("hashing").map((e) => e.file));
}

/** The messages of `peer`'s warnings. */
function warnings(peer: TestPeer): string[] {
  return peer.events.of("warning").map((e) => e.message);
}

/** The cache file in `dir`: its header, and its lines after the header. */
async function readCache(dir: string): Promise<{ header: string; lines: string[] }> {
  const text = await Deno.readTextFile(join(dir, CACHE_FILE));
  const [header, ...rest] = text.split("\n");
  return { header, lines: rest.filter((l) => l !== "") };
}

/** The (encoded) names of cache lines: the sixth field on. */
function cachedNames(lines: string[]): string[] {
  return lines.map((l) => l.split(" ").slice(5).join(" "));
}

/** A cache line as `hash_cache.ts` documents it, for a file of at most one chunk, with the file's stamp now. */
async function cacheLine(dir: string, name: string, sha: string, encoded = name): Promise<string> {
  const info = await Deno.stat(join(dir, name));
  return `${info.size} ${info.mtime!.getTime()} ${info.ctime!.getTime()} ${sha} - ${encoded}`;
}

/** Files for the cache tests: a small one, an empty one, one of 1.5 MiB (chunk hashes), one whose name needs %-escapes. */
function cacheFiles(): Record<string, Uint8Array> {
  const text = (s: string) => new TextEncoder().encode(s);
  return {
    "small.txt": text("small file"),
    "empty.txt": new Uint8Array(0),
    "big.bin": randomBytes(MiB + MiB / 2, 21),
    "50%, off.txt": text("escaped name"),
  };
}

Deno.test("hash cache: a restart reads nothing again and announces the same hashes and roots; the cache is not shared", async () => {
  await using dir = await tempDir();
  // What the announcing peer held at each announcement, asked of the tracker's store at the event.
  const announced: Promise<FileEntry[]>[] = [];
  await using tracker: TestTracker = testTracker({
    onEvent: (e: TrackerEvent) => {
      if (e.type === "announced") announced.push(entriesAt(tracker, e.peer));
    },
  });
  const files = cacheFiles();
  await writeOld(dir.path, files);

  const first = await cachingPeer(tracker, dir.path);
  const firstHeld = await held(tracker, first.address);
  const firstEntries = first.folder.entries();
  await first.close();
  assert.deepEqual(hashed(first), new Set(Object.keys(files)), "the first run hashes every file");
  assert.deepEqual(warnings(first), []);
  for (const [name, bytes] of Object.entries(files)) assert.deepEqual(firstHeld.get(name), listedAs(bytes), name);

  const { header, lines } = await readCache(dir.path);
  assert.equal(header, HEADER);
  assert.equal(lines.length, 4);
  assert.ok(lines.some((l) => l.endsWith(" 50%25%2C off.txt")), lines.join("\n"));
  const bigLine = lines.find((l) => l.endsWith(" big.bin"))!;
  assert.equal(bigLine.split(" ")[4].length, 2 * 32 * 2, "two chunk hashes, in hex");

  await using second = await cachingPeer(tracker, dir.path);
  assert.deepEqual(second.events.of("hashing"), [], "nothing hashed again");
  assert.deepEqual(second.folder.entries(), firstEntries);
  assert.deepEqual(await held(tracker, second.address), firstHeld);
  // The cache itself never reached the tracker.
  const everAnnounced = await Promise.all(announced);
  assert.ok(everAnnounced.length >= 2);
  assert.ok(
    everAnnounced.every((files) => files.every((f) => !f.name.startsWith("."))),
    JSON.stringify(everAnnounced),
  );
  assert.ok(!await tracker.store.has(CACHE_FILE));
});

Deno.test("hash cache: a file changed while the peer was down is the only one hashed again", async () => {
  await using dir = await tempDir();
  await using tracker = testTracker();
  const files = cacheFiles();
  await writeOld(dir.path, files);
  {
    await using first = await cachingPeer(tracker, dir.path);
    assert.equal(hashed(first).size, 4);
  }
  const grown = randomBytes(2 * MiB + 1, 22);
  await writeOld(dir.path, { "big.bin": grown }, TWO_HOURS_AGO);
  await Deno.remove(join(dir.path, "empty.txt"));

  {
    await using second = await cachingPeer(tracker, dir.path);
    assert.deepEqual(hashed(second), new Set(["big.bin"]));
    const progress = second.events.of("hashing");
    assert.ok(progress.every((p) => p.files === 1 && p.bytes === grown.length), JSON.stringify(progress));
    const secondHeld = await held(tracker, second.address);
    assert.deepEqual(secondHeld.get("big.bin"), listedAs(grown));
    assert.deepEqual(secondHeld.get("small.txt"), listedAs(files["small.txt"]));
    assert.ok(!secondHeld.has("empty.txt"));
  }
  const { lines } = await readCache(dir.path);
  assert.deepEqual(cachedNames(lines).sort(), ["50%25%2C off.txt", "big.bin", "small.txt"]);
  await using third = await cachingPeer(tracker, dir.path);
  assert.deepEqual(hashed(third), new Set(), "the new version was cached");
  assert.deepEqual((await held(tracker, third.address)).get("big.bin"), listedAs(grown));
});

Deno.test("hash cache: a file replaced by one of the same size with its old modification time (only the change time differs) is hashed again", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  const path = join(dir.path, "doc.txt");
  await writeOld(dir.path, { "doc.txt": "version 1" });
  {
    await using first = await cachingPeer(tracker, dir.path, { watch: false });
    assert.equal(first.folder.entry("doc.txt")?.sha256, sha256("version 1"));
  }
  const [line] = (await readCache(dir.path)).lines;
  // As `cp -p` or a backup restore, later: other bytes, the same size, the old time back.
  await writeOld(dir.path, { "doc.txt": "version 2" });
  const now = await Deno.stat(path);
  assert.equal(now.mtime!.getTime(), AN_HOUR_AGO.getTime());
  const [size, mtime, ctime, ...rest] = line.split(" ");
  assert.deepEqual([Number(size), Number(mtime)], [now.size, now.mtime!.getTime()], "size and time as recorded");
  // Deno gives change times in whole seconds, so a replacement made in the same second as the hashing cannot be
  // told (see the last step). Had the hashing been a second earlier, the change time recorded would be that:
  const earlier = [size, mtime, String(now.ctime!.getTime() - 1_000), ...rest].join(" ");
  assert.ok(Number(ctime) <= now.ctime!.getTime());
  await Deno.writeTextFile(join(dir.path, CACHE_FILE), `${HEADER}\n${earlier}\n`);
  {
    await using second = await cachingPeer(tracker, dir.path, { watch: false });
    assert.deepEqual(hashed(second), new Set(["doc.txt"]));
    assert.equal(second.folder.entry("doc.txt")?.sha256, sha256("version 2"));
    assert.deepEqual((await held(tracker, second.address)).get("doc.txt"), listedAs("version 2"));
  }
  // The change time is what told: the same line with the file's change time now is believed (the lie of a
  // replacement within one second of the hashing).
  await Deno.writeTextFile(
    join(dir.path, CACHE_FILE),
    `${HEADER}\n${[size, mtime, now.ctime!.getTime(), ...rest].join(" ")}\n`,
  );
  await using third = await cachingPeer(tracker, dir.path, { watch: false });
  assert.deepEqual(hashed(third), new Set());
  assert.equal(third.folder.entry("doc.txt")?.sha256, sha256("version 1"));
});

Deno.test("hash cache: a whole-second modification time less than 2 s before the hashing (racy) is not cached; others are", async () => {
  const digest = { sha256: sha256("x"), chunks: new Uint8Array(32) };
  const at = (mtimeMs: number) => ({ ...digest, stamp: { size: 1, mtimeMs, ctimeMs: 5_000_000 } });
  const whole = 1_700_000_000_000;
  const cases: [string, number, number, boolean | undefined, boolean][] = [
    // name, mtime, hashedSince, trusted, kept
    ["racy.txt", whole, whole + 1_999, undefined, false],
    ["ahead.txt", whole, whole - 60_000, undefined, false],
    ["old.txt", whole, whole + 2_000, undefined, true],
    ["fine.txt", whole + 1, whole + 1, undefined, true],
    ["download.txt", whole, whole, true, true],
  ];
  await using dir = await tempDir();
  const cache = await HashCache.load(dir.path);
  for (const [name, mtime, hashedSince, trusted] of cases) cache.set(name, at(mtime), { hashedSince, trusted });
  await cache.save();
  const loaded = await HashCache.load(dir.path);
  for (const [name, mtime, , , kept] of cases) {
    assert.equal(loaded.get(name, at(mtime).stamp) !== undefined, kept, name);
    assert.equal(cache.get(name, at(mtime).stamp) !== undefined, true, `${name}: known in this run all the same`);
  }
  assert.equal(loaded.size, 3);
});

Deno.test("hash cache: through a peer, a file whose whole-second modification time is not 2 s old when hashed is hashed again next time", async () => {
  await using dir = await tempDir();
  await using tracker = testTracker();
  await writeFiles(dir.path, { "fresh.txt": "just written" });
  // A time of whole seconds, as a file system that counts seconds gives: another change in the same second could not
  // be seen. (Finer times, as here, make the case moot: such files are cached.) It is a minute ahead, so that it is
  // still recent however long a busy machine takes to get round to hashing it.
  const wholeSecond = new Date(Math.ceil(Date.now() / 1000) * 1000 + 60_000);
  await Deno.utime(join(dir.path, "fresh.txt"), wholeSecond, wholeSecond);
  await writeOld(dir.path, { "old.txt": "long ago" });
  {
    await using first = await cachingPeer(tracker, dir.path);
    assert.deepEqual(hashed(first), new Set(["fresh.txt", "old.txt"]));
  }
  const { header, lines } = await readCache(dir.path);
  assert.equal(header, HEADER);
  assert.deepEqual(cachedNames(lines), ["old.txt"], "only the old file is cached");

  await using second = await cachingPeer(tracker, dir.path);
  assert.deepEqual(hashed(second), new Set(["fresh.txt"]));
  assert.deepEqual((await held(tracker, second.address)).get("fresh.txt"), listedAs("just written"));
});

Deno.test("hash cache: bad lines are skipped one by one; the rest is hashed, results right, the cache rewritten clean", async () => {
  await using dir = await tempDir();
  await using tracker = testTracker();
  const big = randomBytes(MiB + 1, 31);
  await writeOld(dir.path, { "a.txt": "aaa", "big.bin": big, "c.txt": "ccc" });
  const bigInfo = await Deno.stat(join(dir.path, "big.bin"));
  const cInfo = await Deno.stat(join(dir.path, "c.txt"));
  const cStamp = `${cInfo.size} ${cInfo.mtime!.getTime()} ${cInfo.ctime!.getTime()}`;
  const bigStamp = `${bigInfo.size} ${bigInfo.mtime!.getTime()} ${bigInfo.ctime!.getTime()}`;
  await Deno.writeTextFile(
    join(dir.path, CACHE_FILE),
    [
      HEADER,
      "garbage",
      await cacheLine(dir.path, "a.txt", sha256("aaa")), // the one good line
      `${bigStamp} ${sha256(big)} abcd big.bin`, // chunk list of the wrong length
      `${bigStamp} ${sha256(big)} - big.bin`, // no chunk list for a file of two chunks
      `${bigInfo.size} ${bigInfo.mtime!.getTime()} ${sha256(big)} abcd big.bin`, // the old format: no change time
      `${cStamp} ${"z".repeat(64)} - c.txt`, // not hex
      `${cStamp} ${sha256("ccc").toUpperCase()} - c.txt`, // upper-case hex
      `${cStamp} ${sha256("ccc").slice(1)} - c.txt`, // a hash cut short
      `-3 ${cInfo.mtime!.getTime()} ${cInfo.ctime!.getTime()} ${sha256("ccc")} - c.txt`, // negative size
      `${cStamp} ${sha256("ccc")} - .hidden`, // a name that is never shared
      `${cStamp} ${sha256("ccc")} - bad%zz`, // bad escape
      `${cStamp} ${sha256("ccc")} - sub%2Fc.txt`, // a path, not a name
      `${cStamp} ${sha256("ccc")} -`, // no name
      "99999999999999999999 1 1 " + sha256("x") + " - huge.txt", // not a safe integer
      "\u0000\u0001\u00ff binary junk",
      "",
    ].join("\n"),
  );

  {
    await using peer = await cachingPeer(tracker, dir.path);
    assert.deepEqual(hashed(peer), new Set(["big.bin", "c.txt"]), "a.txt came from its good line");
    assert.deepEqual(Object.fromEntries(await held(tracker, peer.address)), {
      "a.txt": listedAs("aaa"),
      "big.bin": listedAs(big),
      "c.txt": listedAs("ccc"),
    });
    assert.deepEqual(warnings(peer), []);
  }
  const { header, lines } = await readCache(dir.path);
  assert.equal(header, HEADER);
  assert.deepEqual(cachedNames(lines).sort(), ["a.txt", "big.bin", "c.txt"]);
  await using again = await cachingPeer(tracker, dir.path);
  assert.deepEqual(hashed(again), new Set());
});

Deno.test("hash cache: a cache with a wrong header, or binary garbage, is ignored whole", async () => {
  await using dir = await tempDir();
  await using tracker = testTracker();
  await writeOld(dir.path, { "a.txt": "aaa", "b.txt": "bbbb" });
  const goodLines = [
    await cacheLine(dir.path, "a.txt", sha256("aaa")),
    await cacheLine(dir.path, "b.txt", sha256("bbbb")),
  ];
  const bad: (string | Uint8Array)[] = [
    ["p2p-hash-cache 3", ...goodLines, ""].join("\n"),
    [" p2p-hash-cache 2", ...goodLines, ""].join("\n"),
    ["p2p-hash-cache 1", ...goodLines, ""].join("\n"),
    [...goodLines, ""].join("\n"),
    randomBytes(4_096, 41),
    "",
  ];
  for (const content of bad) {
    const label = `cache ${JSON.stringify(typeof content === "string" ? content : "random bytes").slice(0, 40)}`;
    if (typeof content === "string") await Deno.writeTextFile(join(dir.path, CACHE_FILE), content);
    else await Deno.writeFile(join(dir.path, CACHE_FILE), content);
    await using peer = await cachingPeer(tracker, dir.path, { watch: false });
    assert.deepEqual(hashed(peer), new Set(["a.txt", "b.txt"]), label);
    assert.deepEqual(Object.fromEntries(await held(tracker, peer.address)), {
      "a.txt": listedAs("aaa"),
      "b.txt": listedAs("bbbb"),
    });
    assert.deepEqual(warnings(peer), []);
    assert.equal((await readCache(dir.path)).header, HEADER, `${label}: rewritten`);
  }
});

Deno.test("hash cache: a cache cut short anywhere (half-written) believes only its complete lines, never a torn one", async () => {
  await using dir = await tempDir();
  // "a.txt" and "a.txt2" have the same size and times: "a.txt2"'s line torn after "a.txt" would describe "a.txt".
  const files = { "big.bin": randomBytes(2 * MiB + 1, 42), "c.txt": "cc", "a.txt": "aaa", "a.txt2": "bbb" };
  await writeOld(dir.path, files);
  const folder = await SharedFolder.open(dir.path);
  const cache = await HashCache.load(dir.path);
  for (const name of Object.keys(files)) {
    using opened = await folder.openFile(name);
    const stamp = stampOf(await opened.file.stat())!;
    cache.set(name, { stamp, sha256: opened.entry.sha256, chunks: opened.chunks }, { hashedSince: Date.now() });
  }
  await cache.save();
  const text = await Deno.readTextFile(join(dir.path, CACHE_FILE));
  assert.ok(text.endsWith(" a.txt2\n"), text);
  const truth = new Map(folder.entries().map((e) => [e.name, e.sha256]));
  const stamps = new Map<string, ReturnType<typeof stampOf>>();
  for (const name of Object.keys(files)) stamps.set(name, stampOf(await Deno.stat(join(dir.path, name))));
  assert.equal(
    new Set([...stamps.values()].slice(2).map((s) => JSON.stringify(s))).size,
    1,
    "a.txt, a.txt2: one stamp",
  );

  const ends = [...text.matchAll(/\n/g)].map((m) => m.index!);
  for (let cut = 0; cut <= text.length; cut += cut < 150 || cut > text.length - 150 ? 1 : 97) {
    await Deno.writeTextFile(join(dir.path, CACHE_FILE), text.slice(0, cut));
    const loaded = await HashCache.load(dir.path);
    for (const [name, sha] of truth) {
      const got = loaded.get(name, stamps.get(name));
      if (got) assert.equal(got.sha256, sha, `cut at ${cut}: ${name} believed with another file's hash`);
    }
    // The lines after the header whose line feed is within the cut.
    const complete = Math.max(0, ends.filter((end) => end < cut).length - 1);
    assert.equal(loaded.size, complete, `cut at ${cut}: ${complete} complete lines`);
  }
});

Deno.test("hash cache: an entry that lies (right size and times, wrong SHA-256) is trusted as designed; touching the file heals it", async () => {
  await using dir = await tempDir();
  await using tracker = testTracker();
  await writeOld(dir.path, { "a.txt": "truth" });
  await Deno.writeTextFile(
    join(dir.path, CACHE_FILE),
    [HEADER, await cacheLine(dir.path, "a.txt", sha256("lies!")), ""].join("\n"),
  );
  await using peer = await cachingPeer(tracker, dir.path);

  // Observed: the lie is announced as is; nothing is read to check it.
  assert.deepEqual(hashed(peer), new Set());
  assert.deepEqual((await held(tracker, peer.address)).get("a.txt"), { size: 5, sha256: sha256("lies!") });
  assert.equal(peer.folder.entry("a.txt")?.sha256, sha256("lies!"));
  // A downloader finds the bytes do not match what was announced, and keeps nothing.
  {
    await using downloader = await testPeer(tracker.address);
    const report = await downloader.send("a.txt");
    assert.equal(report.outcomes[0].ok, false, JSON.stringify(report.outcomes[0]));
    assert.ok(!(await listDir(downloader.dir)).includes("a.txt"));
  }
  // A new modification time (same content) makes the watcher hash it and announce the truth.
  await Deno.utime(join(dir.path, "a.txt"), TWO_HOURS_AGO, TWO_HOURS_AGO);
  await peer.events.until("a.txt re-announced", () => announcedChange(peer, "a.txt", sha256("truth")));
  assert.deepEqual((await held(tracker, peer.address)).get("a.txt"), listedAs("truth"));
  const { lines } = await readCache(dir.path);
  assert.deepEqual(lines, [await cacheLine(dir.path, "a.txt", sha256("truth"))]);
});

Deno.test("hash cache: a folder the peer may not write (Deno's permissions, so also as root) gives one warning and the peer works", async () => {
  await using dir = await tempDir();
  await using elsewhere = await tempDir();
  const announced: Promise<Map<string, Omit<Holder, "address">>>[] = [];
  await using tracker: TestTracker = testTracker({
    onEvent: (e: TrackerEvent) => {
      if (e.type === "announced") announced.push(held(tracker, e.peer));
    },
  });
  await writeOld(dir.path, { "a.txt": "aaa" });
  // The peer as a user runs it, allowed to write only elsewhere (where its info file goes): writing the cache in the
  // shared folder is refused as a read-only folder would refuse it, and root is not let through.
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-read",
      `--allow-write=${elsewhere.path}`,
      "--allow-env=P2P_SECRET",
      MAIN_PATH,
      "peer",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
      "--tracker",
      tracker.address,
      "--dir",
      dir.path,
      "--info",
      join(elsewhere.path, "info.txt"),
      "--no-watch",
    ],
    env: { NO_COLOR: "1" },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(WAIT_MS),
  }).spawn();
  // QUIT is read once the peer has started (and announced): then it leaves.
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode("QUIT\n"));
  await writer.close();
  const { code, stdout, stderr } = await child.output();
  const out = new TextDecoder().decode(stdout);
  const dump = `\n--- stdout ---\n${out}\n--- stderr ---\n${new TextDecoder().decode(stderr)}`;
  assert.equal(code, 0, dump);
  const warned = out.split("\n").filter((line) => line.startsWith("warning: "));
  assert.equal(warned.length, 1, dump);
  assert.match(warned[0], new RegExp(`^warning: cannot write the hash cache ${re(join(dir.path, CACHE_FILE))}: `));
  assert.match(warned[0], /write access/);
  assert.match(out, new RegExp(`^shared 1 file from ${re(dir.path)}$`, "m"), dump);
  assert.deepEqual(
    await Promise.all(announced),
    [new Map([["a.txt", listedAs("aaa")]])],
    "announced, with the right hash",
  );
  assert.deepEqual(await listDir(dir.path), ["a.txt"], "no cache nor temporary file left");
});

Deno.test("hash cache: a cache that cannot be replaced (.p2p-hashes is a folder) gives a warning; the peer and its watcher work", async () => {
  await using dir = await tempDir();
  await using tracker = testTracker();
  await writeOld(dir.path, { "a.txt": "aaa" });
  await Deno.mkdir(join(dir.path, CACHE_FILE));
  await using peer = await cachingPeer(tracker, dir.path);

  assert.equal(warnings(peer).length, 1, warnings(peer).join("\n"));
  assert.match(warnings(peer)[0], /^cannot write the hash cache .*\.p2p-hashes: /);
  assert.equal(peer.folder.cacheError, warnings(peer)[0]);
  assert.deepEqual(hashed(peer), new Set(["a.txt"]));
  assert.deepEqual((await held(tracker, peer.address)).get("a.txt"), listedAs("aaa"));
  assert.deepEqual((await listDir(dir.path)).filter((n) => n.startsWith(".")), [CACHE_FILE], "no temporary file left");

  await Deno.writeTextFile(join(dir.path, "b.txt"), "bbb");
  await peer.events.until("b.txt announced", () => announcedChange(peer, "b.txt"));
  assert.deepEqual((await held(tracker, peer.address)).get("b.txt"), listedAs("bbb"));
  const downloaded = await (async () => {
    await using downloader = await testPeer(tracker.address);
    const report = await downloader.send("b.txt");
    return report.outcomes[0].ok && (await Deno.readTextFile(join(downloader.dir, "b.txt")));
  })();
  assert.equal(downloaded, "bbb", "served");
});

Deno.test("hash cache: a file downloaded into the shared folder is kept in the cache, recent as it is", async () => {
  await using tracker = testTracker();
  const data = randomBytes(3 * MiB, 7);
  await using _source = await testPeer(tracker.address, { "big.bin": data });
  await using dir = await tempDir();
  {
    await using peer = await cachingPeer(tracker, dir.path, { watch: false });
    const report = await peer.send("big.bin");
    assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  }
  const cache = await Deno.readTextFile(join(dir.path, CACHE_FILE));
  assert.match(cache, new RegExp(` ${sha256(data)} [0-9a-f]{192} big\\.bin$`, "m"));
  await using again = await cachingPeer(tracker, dir.path, { watch: false });
  assert.deepEqual(hashed(again), new Set(), "not read again on the next start");
  assert.deepEqual((await held(tracker, again.address)).get("big.bin"), listedAs(data));
});
