/**
 * The peer role with a watched folder, against a real tracker: each change
 * of the folder reaches the tracker incrementally, once files hold still: a
 * new or changed file by `ADD`, a removed one by `REMOVE`, a rename by both;
 * never a full `UPDATE` after the start. A download into the folder is
 * re-shared by one `ADD` and the watcher adds nothing more. A change the
 * tracker refuses is told as a warning. Every wait is for an event of the
 * peer or the tracker.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { PeerEvent } from "../peer.ts";
import type { FileEntry } from "../protocol.ts";
import type { TrackerEvent, TrackerOptions } from "../tracker.ts";
import { listedAs, MiB, sha256 } from "./helpers/hashes.ts";
import { randomBytes } from "./helpers/random.ts";
import { announcedChange, type TestPeer, testPeer, type TestTracker, testTracker } from "./helpers/roles.ts";
import { tempDir, writeOld } from "./helpers/temp.ts";
import { entriesAt, held } from "./helpers/tracker_index.ts";

/** A tracker event, with what the announcing peer held in the index right after it. */
interface Logged {
  event: TrackerEvent;
  /** What the announcing peer held, asked of the tracker's store at the event. */
  files: Promise<FileEntry[]>;
}

type LoggingTracker = TestTracker & { log: Logged[] };

/** A tracker that logs every event with a snapshot of the announcing peer's files. */
function loggingTracker(options: Partial<TrackerOptions> = {}): LoggingTracker {
  const log: Logged[] = [];
  const tracker: TestTracker = testTracker({
    ...options,
    onEvent: (event) =>
      log.push({ event, files: event.type === "announced" ? entriesAt(tracker, event.peer) : Promise.resolve([]) }),
  });
  return Object.assign(tracker, { log });
}

type FolderChanged = Extract<PeerEvent, { type: "folder-changed" }>;

/** A peer's `folder-changed` events so far. */
const changes = (peer: TestPeer): FolderChanged[] => peer.events.of("folder-changed");

/** The tracker's `announced` events for `address`, with their snapshots. */
function announcements(tracker: LoggingTracker, address: string): (Logged & { event: { type: "announced" } })[] {
  return tracker.log.filter((l): l is Logged & { event: { type: "announced" } } =>
    l.event.type === "announced" && l.event.peer === address
  );
}

/** A peer on `dir` that watches it (quietMs 50) and keeps a hash cache. */
function livePeer(tracker: TestTracker, dir: string): Promise<TestPeer> {
  return testPeer(tracker.address, {}, { dir, watch: { quietMs: 50 }, hashCache: true });
}

Deno.test("peer: with a watched folder, a new file is announced by ADD (not a full UPDATE) and folder-changed carries its entry", async () => {
  await using dir = await tempDir();
  await writeOld(dir.path, { "old.txt": "there from the start" });
  await using tracker = loggingTracker();
  await using peer = await livePeer(tracker, dir.path);
  assert.deepEqual([...(await held(tracker, peer.address)).keys()], ["old.txt"]);

  await Deno.writeTextFile(join(dir.path, "new.txt"), "hello, watcher");
  // The peer tells folder-changed once the tracker answered: the index has it by then.
  await peer.events.until("folder-changed for new.txt", () => announcedChange(peer, "new.txt"));

  assert.deepEqual((await held(tracker, peer.address)).get("new.txt"), listedAs("hello, watcher"));
  assert.deepEqual((await held(tracker, peer.address)).get("old.txt"), listedAs("there from the start"), "untouched");
  const change = changes(peer).find((c) => c.changed.some((e) => e.name === "new.txt"))!;
  assert.deepEqual(change.changed, [{ name: "new.txt", ...listedAs("hello, watcher") }]);
  assert.deepEqual(change.removed, []);
  assert.match(change.answer, /^indexed 1 file as \S+ \(1 new, 2 in all\)$/);
  assert.deepEqual(peer.folder.entry("new.txt"), { name: "new.txt", ...listedAs("hello, watcher") });

  // The tracker saw one UPDATE (the start) and then only an ADD.
  const seen = announcements(tracker, peer.address).map((l) => l.event);
  assert.deepEqual(seen, [
    { type: "announced", peer: peer.address, files: 1 },
    { type: "announced", peer: peer.address, files: 2, added: 1 },
  ]);
});

Deno.test("peer: with a watched folder, a changed file is announced again with its new hash (same size, then another size)", async () => {
  await using dir = await tempDir();
  await using tracker = loggingTracker();
  await writeOld(dir.path, { "f.txt": "version one", "other.txt": "stays" });
  await using peer = await livePeer(tracker, dir.path);
  assert.deepEqual((await held(tracker, peer.address)).get("f.txt"), listedAs("version one"));

  // Same size, other content.
  await Deno.writeTextFile(join(dir.path, "f.txt"), "version two");
  await peer.events.until("f.txt re-announced", () => announcedChange(peer, "f.txt", sha256("version two")));
  assert.deepEqual((await held(tracker, peer.address)).get("f.txt"), listedAs("version two"));
  // Another size, bigger than one chunk (so it has a root).
  const big = randomBytes(MiB + 12_345, 7);
  await Deno.writeFile(join(dir.path, "f.txt"), big);
  await peer.events.until("f.txt re-announced, big", () => announcedChange(peer, "f.txt", sha256(big)));

  assert.deepEqual((await held(tracker, peer.address)).get("f.txt"), listedAs(big));
  assert.equal((await tracker.store.holders("f.txt", 10)).length, 1, "changed in place, not listed twice");
  assert.equal((await tracker.store.counts()).entries, 2);
  const last = changes(peer).findLast((c) => c.changed.some((e) => e.name === "f.txt"))!;
  assert.deepEqual(last.changed.find((e) => e.name === "f.txt"), { name: "f.txt", ...listedAs(big) });
  // Never a full UPDATE after the start; no announcement ever listed a wrong version of f.txt.
  const after = announcements(tracker, peer.address).slice(1);
  assert.ok(after.length >= 2);
  assert.ok(after.every((l) => l.event.added !== undefined && l.event.removed === undefined), JSON.stringify(after));
  const snapshots = await Promise.all(after.map((l) => l.files));
  const versions = new Set(snapshots.map((files) => files.find((f) => f.name === "f.txt")?.sha256));
  assert.deepEqual(versions, new Set([sha256("version two"), sha256(big)]));
});

Deno.test("peer: with a watched folder, a removed file leaves the index by REMOVE, another peer's copy stays", async () => {
  await using dir = await tempDir();
  await using tracker = loggingTracker();
  await writeOld(dir.path, { "shared.txt": "common", "mine.txt": "keep" });
  await using other = await testPeer(tracker.address, { "shared.txt": "common" });
  await using peer = await livePeer(tracker, dir.path);
  assert.deepEqual((await tracker.store.holders("shared.txt", 10)).map((h) => h.address), [
    other.address,
    peer.address,
  ]);

  await Deno.remove(join(dir.path, "shared.txt"));
  await peer.events.until("shared.txt removed", () => changes(peer).some((c) => c.removed.includes("shared.txt")));

  assert.deepEqual((await tracker.store.holders("shared.txt", 10)).map((h) => h.address), [other.address]);
  assert.deepEqual([...(await held(tracker, peer.address)).keys()], ["mine.txt"]);
  const change = changes(peer).find((c) => c.removed.includes("shared.txt"))!;
  assert.deepEqual(change, {
    type: "folder-changed",
    changed: [],
    removed: ["shared.txt"],
    answer: "removed 1 of 1 file (1 left)",
  });
  assert.equal(peer.folder.entry("shared.txt"), undefined);
  const last = announcements(tracker, peer.address).at(-1)!;
  assert.deepEqual(last.event, { type: "announced", peer: peer.address, files: 1, removed: 1 });
});

Deno.test("peer: with a watched folder, a rename is a REMOVE of the old name and an ADD of the new one", async () => {
  await using dir = await tempDir();
  await using tracker = loggingTracker();
  const data = randomBytes(3 * MiB, 3);
  await writeOld(dir.path, { "before.bin": data, "still.txt": "s" });
  await using peer = await livePeer(tracker, dir.path);

  await Deno.rename(join(dir.path, "before.bin"), join(dir.path, "after.bin"));
  await peer.events.until("rename announced", () => {
    const removed = changes(peer).some((c) => c.removed.includes("before.bin"));
    return removed && announcedChange(peer, "after.bin");
  });

  assert.deepEqual(Object.fromEntries(await held(tracker, peer.address)), {
    "after.bin": listedAs(data),
    "still.txt": listedAs("s"),
  });
  const changed = changes(peer).flatMap((c) => c.changed.map((e) => e.name));
  const removed = changes(peer).flatMap((c) => c.removed);
  assert.deepEqual(changed, ["after.bin"]);
  assert.deepEqual(removed, ["before.bin"]);
  const kinds = announcements(tracker, peer.address).slice(1).map((l) => l.event);
  assert.ok(kinds.some((e) => e.removed === 1) && kinds.some((e) => e.added === 1), JSON.stringify(kinds));
  assert.ok(kinds.every((e) => e.added !== undefined || e.removed !== undefined), "no full UPDATE");
});

Deno.test("peer: with a watched folder, a download into it is re-shared by one ADD; the watcher announces nothing more", async () => {
  await using tracker = loggingTracker();
  const data = randomBytes(2 * MiB + 5, 11);
  await using source = await testPeer(tracker.address, { "f.bin": data });
  await using dir = await tempDir();
  await using peer = await livePeer(tracker, dir.path);

  const report = await peer.send("f.bin");
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.match(report.announced ?? "", /^f\.bin \(1 file; the tracker lists 1 in all for \S+\)$/);
  assert.deepEqual((await tracker.store.holders("f.bin", 10)).map((h) => h.address), [source.address, peer.address]);
  // A sentinel after it: once it is announced, the watcher has looked at f.bin too.
  await Deno.writeTextFile(join(dir.path, "sentinel.txt"), "s");
  await peer.events.until("sentinel announced", () => announcedChange(peer, "sentinel.txt"));

  assert.ok(!announcedChange(peer, "f.bin"), "the watcher announced the download again");
  const seen = announcements(tracker, peer.address).map((l) => l.event);
  assert.deepEqual(seen, [
    { type: "announced", peer: peer.address, files: 0 },
    // While it downloads, the verified chunks are served: a partial holding, made whole by the ADD.
    { type: "announced", peer: peer.address, files: 0, added: 1, partial: 1 },
    { type: "announced", peer: peer.address, files: 1, added: 1 },
    { type: "announced", peer: peer.address, files: 2, added: 1 },
  ]);
  assert.deepEqual((await held(tracker, peer.address)).get("f.bin"), listedAs(data));
});

Deno.test("peer: with a watched folder, a change the tracker refuses (index full) is told as a warning, not dropped silently", async () => {
  await using dir = await tempDir();
  await using tracker = loggingTracker({ maxEntries: 1 });
  await writeOld(dir.path, { "a.txt": "aaa" });
  await using peer = await livePeer(tracker, dir.path);
  assert.deepEqual([...(await held(tracker, peer.address)).keys()], ["a.txt"]);

  await Deno.writeTextFile(join(dir.path, "b.txt"), "bbb");
  const refusal = await tracker.events.next("bad-request");
  assert.equal(refusal.status, 413);
  // Announcements go out one after the other: once a later REMOVE is told, the refused ADD was dealt with.
  await Deno.remove(join(dir.path, "a.txt"));
  await peer.events.until("a.txt removed", () => changes(peer).some((c) => c.removed.includes("a.txt")));
  assert.deepEqual([...(await held(tracker, peer.address)).keys()], []);
  assert.ok(peer.folder.entry("b.txt"), "the folder counts b.txt as shared");
  assert.ok(!announcedChange(peer, "b.txt"));
  const warnings = peer.events.of("warning").map((w) => w.message);
  assert.ok(
    warnings.some((w) => w.includes("b.txt")),
    `b.txt is shared here, unknown to the tracker, and nobody was told; peer events: ${
      JSON.stringify(peer.events.events.map((e) => e.type))
    }`,
  );
});
