/**
 * Watching a shared folder (`disk/folder_watch.ts`): a name the file system
 * says changed is looked at once it has been quiet for `quietMs`, and only
 * when its size and time hold still from one look to the next does it go
 * out, in one batch of changes; so a file still being written is never
 * announced half-written, whatever the pauses of its writer up to twice the
 * quiet period. Hidden files (among them part files and the hash cache) and
 * sub-folders are never announced.
 *
 * The watcher's own tests drive its quiet periods with a `ManualClock` while
 * the file system works for real; the end-to-end checks run a peer and a
 * tracker and look at what the tracker was told.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { FileEntry } from "../../protocol.ts";
import { FolderWatcher } from "../../disk/folder_watch.ts";
import { PartFile } from "../../disk/part_file.ts";
import { CACHE_FILE } from "../../disk/hash_cache.ts";
import { type FolderChanges, SharedFolder } from "../../disk/shared_folder.ts";
import type { TimerHandle } from "../../io/clock.ts";
import type { TrackerEvent } from "../../tracker.ts";
import { concat } from "../helpers/bytes.ts";
import { ManualClock } from "../helpers/clock.ts";
import { EventLog } from "../helpers/events.ts";
import { entryOf, MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, type TestTracker, testTracker } from "../helpers/roles.ts";
import { listDir, tempDir, writeFiles, writeOld } from "../helpers/temp.ts";
import { entriesAt } from "../helpers/tracker_index.ts";

/** The quiet period of the watcher tests, in the manual clock's milliseconds. */
const QUIET = 1_000;

/** What a watcher under test did: set a timer, asked the folder to refresh names, sent a batch, failed. */
type WatchEvent =
  | { type: "timer" }
  | { type: "refresh"; names: string[] }
  | { type: "changes"; changes: FolderChanges }
  | { type: "error"; message: string };

/** A {@link ManualClock} that logs each timer set, so that a test knows when the watcher has seen a change. */
class LoggingClock extends ManualClock {
  readonly #log: EventLog<WatchEvent>;

  constructor(log: EventLog<WatchEvent>) {
    super();
    this.#log = log;
  }

  override setTimeout(callback: () => void, ms: number): TimerHandle {
    const handle = super.setTimeout(callback, ms);
    this.#log.push({ type: "timer" });
    return handle;
  }
}

/** A watcher over a folder, on a manual clock, with everything it did in `log`. */
interface Watch extends AsyncDisposable {
  folder: SharedFolder;
  clock: LoggingClock;
  log: EventLog<WatchEvent>;
  /** Timers set so far: one per change the watcher was told of, one per look that found the file still changing. */
  timers(): number;
}

/** Opens and scans `dir` (with its hash cache if `cache`) and watches it with quiet periods of {@link QUIET}. */
async function watch(dir: string, options: { cache?: boolean } = {}): Promise<Watch> {
  const log = new EventLog<WatchEvent>();
  const clock = new LoggingClock(log);
  const folder = await SharedFolder.open(dir, options);
  await folder.scan();
  // The watcher asks the folder to look again at the names that held still: note which.
  const refresh = folder.refresh.bind(folder);
  folder.refresh = (names) => {
    const list = [...names];
    log.push({ type: "refresh", names: list });
    return refresh(list);
  };
  const watcher = FolderWatcher.start(folder, {
    quietMs: QUIET,
    clock,
    onChanges: (changes) => log.push({ type: "changes", changes }),
    onError: (message) => log.push({ type: "error", message }),
  });
  return {
    folder,
    clock,
    log,
    timers: () => log.of("timer").length,
    [Symbol.asyncDispose]: () => watcher.close(),
  };
}

/** Waits until the watcher has set `n` timers in all, or has asked for a refresh (which the test then sees). */
async function timersReach(w: Watch, n: number, what: string): Promise<void> {
  await w.log.until(`${what} (timer ${n})`, () => w.timers() >= n || w.log.of("refresh").length > 0);
}

/**
 * Moves the clock a quiet period on at a time (each look then reports: a
 * timer, or a refresh) until `check` holds; waits for the file system's
 * events meanwhile when no timer is pending.
 */
async function drive(w: Watch, what: string, check: () => boolean): Promise<void> {
  while (!check()) {
    const seen = w.log.events.length;
    if (w.clock.pending > 0) await w.clock.advance(QUIET);
    await w.log.until(what, () => check() || w.log.events.length > seen);
  }
}

/** Writes all of `bytes` to `file`. */
async function writeAll(file: Deno.FsFile, bytes: Uint8Array): Promise<void> {
  for (let written = 0; written < bytes.length;) written += await file.write(bytes.subarray(written));
}

Deno.test("folder watch: a file written in pieces faster than quietMs is announced once, whole, a quiet period after it holds still", async () => {
  await using dir = await tempDir();
  await using w = await watch(dir.path);
  const pieces = Array.from({ length: 20 }, (_, i) => randomBytes(3_000 + i, 100 + i));
  {
    using file = await Deno.open(join(dir.path, "growing.bin"), { write: true, create: true, truncate: true });
    await timersReach(w, 1, "the watcher saw the file created");
    for (const [i, piece] of pieces.entries()) {
      await writeAll(file, piece);
      await timersReach(w, i + 2, `the watcher saw piece ${i}`);
      await w.clock.advance(QUIET / 2);
      assert.deepEqual(w.log.of("refresh"), [], `looked at after piece ${i}, while still being written`);
    }
  } // closing the file is one more change
  await timersReach(w, pieces.length + 2, "the watcher saw the file closed");
  await w.clock.advance(QUIET - 1);
  assert.equal(w.timers(), pieces.length + 2, "no look before a whole quiet period");
  await w.clock.advance(1);
  await timersReach(w, pieces.length + 3, "the first look, which cannot tell yet whether it still grows");
  assert.deepEqual(w.log.of("refresh"), []);
  await w.clock.advance(QUIET);
  const batch = await w.log.next("changes");

  assert.deepEqual(batch.changes, { changed: [entryOf("growing.bin", concat(pieces))], removed: [] });
  assert.deepEqual(w.log.of("refresh").map((r) => r.names), [["growing.bin"]], "looked at once, whole");
  assert.equal(w.log.of("changes").length, 1);
});

Deno.test("folder watch: a writer pausing longer than quietMs (but less than twice) is still not announced half-written", async () => {
  // The watcher looks once the name is quiet for quietMs, and settles only if size and time are those of its
  // previous look: with a pause of 1.5 quietMs between writes, every look finds the file grown since the last.
  await using dir = await tempDir();
  await using w = await watch(dir.path);
  const pieces = Array.from({ length: 6 }, (_, i) => randomBytes(1_000, 200 + i));
  let timers = 0;
  {
    using file = await Deno.open(join(dir.path, "slow.bin"), { write: true, create: true, truncate: true });
    await timersReach(w, ++timers, "the watcher saw the file created");
    for (const [i, piece] of pieces.entries()) {
      await writeAll(file, piece);
      await timersReach(w, ++timers, `the watcher saw piece ${i}`);
      await w.clock.advance(1.5 * QUIET);
      // One look in the pause: it finds the file grown and waits again (a timer), or it settles (a refresh).
      await timersReach(w, ++timers, `the look after piece ${i}`);
      assert.deepEqual(w.log.of("refresh"), [], `settled on a half-written file after piece ${i}`);
      assert.deepEqual(w.log.of("changes"), [], `announced a half-written file after piece ${i}`);
    }
  }
  await timersReach(w, ++timers, "the watcher saw the file closed");
  // The last look saw the whole file: one quiet period with nothing new, and it goes out.
  await w.clock.advance(QUIET);
  const batch = await w.log.next("changes");

  assert.deepEqual(batch.changes, { changed: [entryOf("slow.bin", concat(pieces))], removed: [] });
  assert.deepEqual(w.log.of("refresh").map((r) => r.names), [["slow.bin"]]);
  assert.equal(w.log.of("changes").length, 1);
});

Deno.test("folder watch: hidden files, part files, the hash cache and sub-folders are never announced; a landed download is, whole", async () => {
  await using dir = await tempDir();
  await writeOld(dir.path, { "first.txt": "1", ".hidden-at-start": "h" });
  await using w = await watch(dir.path, { cache: true });

  await writeFiles(dir.path, { ".x": "hidden", ".p2p-abc.part": randomBytes(5_000), ".p2p-abc.journal": "{}" });
  await Deno.mkdir(join(dir.path, "sub"));
  await Deno.writeTextFile(join(dir.path, "sub", "inner.txt"), "inside");
  await Deno.mkdir(join(dir.path, "dir.txt"));
  // A file that comes and goes before it holds still.
  await Deno.writeTextFile(join(dir.path, "brief.txt"), "here and gone");
  await Deno.remove(join(dir.path, "brief.txt"));
  // A download in progress: a part file and its journal, written and grown, then landed.
  const download = randomBytes(2 * MiB + 1, 300);
  const part = await PartFile.open(dir.path, {
    name: "landed.bin",
    size: download.length,
    sha256: sha256(download),
    root: rootOf(download),
  });
  try {
    part.writeAt(0, download.subarray(0, MiB));
    part.record(0);
    part.writeAt(MiB, download.subarray(MiB));
    part.record(1);
    part.record(2);
    await Deno.writeTextFile(join(dir.path, "visible.txt"), "v");
    // Everything written so far has been looked at, and the hash cache written (visible.txt was hashed).
    await drive(w, "visible.txt announced", () => w.log.of("changes").length > 0);
    assert.ok((await listDir(dir.path)).includes(CACHE_FILE));
    assert.deepEqual(w.log.of("changes").map((c) => c.changes), [{
      changed: [entryOf("visible.txt", "v")],
      removed: [],
    }]);
    await part.land(join(dir.path, "landed.bin"));
  } finally {
    await part.close(false);
  }
  await drive(w, "landed.bin announced", () => w.log.of("changes").length > 1);
  // A last file, long after the others: every look at an earlier change has been made by the time it goes out.
  await Deno.writeTextFile(join(dir.path, "last.txt"), "l");
  await drive(w, "last.txt announced", () => w.log.of("changes").length > 2);

  assert.deepEqual(w.log.of("changes").map((c) => c.changes), [
    { changed: [entryOf("visible.txt", "v")], removed: [] },
    { changed: [entryOf("landed.bin", download)], removed: [] },
    { changed: [entryOf("last.txt", "l")], removed: [] },
  ]);
  const looked = new Set(w.log.of("refresh").flatMap((r) => r.names));
  assert.deepEqual([...looked].filter((name) => name.startsWith(".")), [], "a hidden name was even looked at");
  assert.ok(looked.has("sub") && looked.has("dir.txt") && looked.has("brief.txt"), [...looked].join(", "));
  assert.ok(!looked.has("inner.txt") && !looked.has("sub/inner.txt"), "the watch does not go into sub-folders");
  assert.deepEqual(w.folder.entries().map((e) => e.name), ["first.txt", "landed.bin", "last.txt", "visible.txt"]);
  assert.deepEqual(w.log.of("error"), []);
});

Deno.test("folder watch: a file that is removed, and one renamed, go out as removed (and the new name as changed)", async () => {
  await using dir = await tempDir();
  await writeOld(dir.path, { "gone.txt": "g", "before.txt": "b" });
  await using w = await watch(dir.path);
  await Deno.remove(join(dir.path, "gone.txt"));
  await Deno.rename(join(dir.path, "before.txt"), join(dir.path, "after.txt"));
  await drive(w, "the three names told", () => {
    const changes = w.log.of("changes").map((c) => c.changes);
    return changes.flatMap((c) => [...c.changed.map((e) => e.name), ...c.removed]).length >= 3;
  });
  const changes = w.log.of("changes").map((c) => c.changes);
  assert.deepEqual(changes.flatMap((c) => c.removed).sort(), ["before.txt", "gone.txt"]);
  assert.deepEqual(changes.flatMap((c) => c.changed), [entryOf("after.txt", "b")]);
  assert.deepEqual(w.folder.entries(), [entryOf("after.txt", "b")]);
});

Deno.test("folder watch: closing stops the looks pending; nothing is announced after close", async () => {
  await using dir = await tempDir();
  const w = await watch(dir.path);
  await Deno.writeTextFile(join(dir.path, "late.txt"), "late");
  await timersReach(w, 1, "the watcher saw late.txt");
  await w[Symbol.asyncDispose]();
  assert.equal(w.clock.pending, 0, "its timers are cleared");
  await w[Symbol.asyncDispose](); // idempotent
  await w.clock.advance(10 * QUIET);
  assert.deepEqual(w.log.of("refresh"), []);
  assert.deepEqual(w.log.of("changes"), []);
});

// ---------------------------------------------------------------------------
// Through a peer and a tracker

/**
 * A tracker that keeps, at each announcement, what the announcing peer then held in its index (asked of its
 * store at the event; await them all before reading).
 */
function recordingTracker(): TestTracker & { snapshots: Promise<FileEntry[]>[] } {
  const snapshots: Promise<FileEntry[]>[] = [];
  const tracker: TestTracker = testTracker({
    onEvent: (e: TrackerEvent) => {
      if (e.type !== "announced") return;
      snapshots.push(entriesAt(tracker, e.peer));
    },
  });
  return Object.assign(tracker, { snapshots });
}

/** Every name any peer holds in the index. */
async function allNames(tracker: TestTracker): Promise<string[]> {
  const held = await Promise.all((await tracker.store.peers()).map((p) => tracker.store.filesOf(p.id)));
  return held.flat().map((f) => f.name).sort();
}

Deno.test("folder watch: through a peer, a file written in pieces reaches the tracker once, whole", async () => {
  await using tracker = recordingTracker();
  // Writes come back to back; only a stall of twice the quiet period between two of them could split the file.
  await using peer = await testPeer(tracker.address, {}, { watch: { quietMs: 500 } });
  const pieces = Array.from({ length: 20 }, (_, i) => randomBytes(3_000 + i, 100 + i));
  {
    using file = await Deno.open(join(peer.dir, "growing.bin"), { write: true, create: true, truncate: true });
    for (const piece of pieces) await writeAll(file, piece);
  }
  const whole = concat(pieces);
  const told = await peer.events.next("folder-changed", (c) => c.changed.some((e) => e.name === "growing.bin"));
  await tracker.events.until("growing.bin in the index", () => tracker.store.has("growing.bin"));

  assert.deepEqual(told.changed, [entryOf("growing.bin", whole)]);
  assert.equal(peer.events.of("folder-changed").length, 1, "one announcement, of the whole file");
  // Every state of the index the tracker went through showed the whole file, or none.
  const versions = (await Promise.all(tracker.snapshots)).flatMap((files) =>
    files.filter((f) => f.name === "growing.bin")
  );
  assert.ok(versions.length >= 1);
  for (const v of versions) assert.deepEqual(v, { name: "growing.bin", size: whole.length, sha256: sha256(whole) });
  assert.deepEqual((await tracker.store.holders("growing.bin", 10)).map((h) => h.address), [peer.address]);
});

Deno.test("folder watch: through a peer, hidden files, part files, the hash cache and sub-folders never reach the tracker", async () => {
  await using tracker = recordingTracker();
  await using dir = await tempDir();
  await writeOld(dir.path, { "first.txt": "1", ".hidden-at-start": "h" });
  await using peer = await testPeer(tracker.address, {}, { dir: dir.path, hashCache: true, watch: { quietMs: 50 } });
  assert.deepEqual(await allNames(tracker), ["first.txt"]);

  await writeFiles(dir.path, { ".x": "hidden", ".p2p-abc.part": randomBytes(5_000), ".p2p-abc.journal": "{}" });
  await Deno.mkdir(join(dir.path, "sub"));
  await Deno.writeTextFile(join(dir.path, "sub", "inner.txt"), "inside");
  await Deno.mkdir(join(dir.path, "dir.txt"));
  // A file that comes and goes before it holds still.
  await Deno.writeTextFile(join(dir.path, "brief.txt"), "here and gone");
  await Deno.remove(join(dir.path, "brief.txt"));
  // A sentinel written last: once it is announced, the earlier ones were looked at (same quiet period, earlier).
  await Deno.writeTextFile(join(dir.path, "visible.txt"), "v");
  await peer.events.next("folder-changed", (c) => c.changed.some((e) => e.name === "visible.txt"));
  // The cache was written by now (visible.txt was hashed): it is there, and not shared.
  assert.ok((await listDir(dir.path)).includes(CACHE_FILE));

  assert.deepEqual(await allNames(tracker), ["first.txt", "visible.txt"]);
  const named = peer.events.of("folder-changed").flatMap((c) => [...c.changed.map((e) => e.name), ...c.removed]);
  assert.deepEqual(named, ["visible.txt"]);
  const everIndexed = new Set((await Promise.all(tracker.snapshots)).flatMap((files) => files.map((f) => f.name)));
  assert.deepEqual([...everIndexed].sort(), ["first.txt", "visible.txt"]);
  assert.deepEqual(peer.folder.entries().map((e) => e.name), ["first.txt", "visible.txt"]);
});
