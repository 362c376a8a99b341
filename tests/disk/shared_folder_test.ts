/**
 * A peer's shared folder (`disk/shared_folder.ts`): opening it says what is
 * wrong and what to do; a scan lists and hashes the plain files directly
 * inside (never hidden ones, sub-folders, or links that lead out or loop)
 * and reports its hashing progress; `refresh` returns only the real
 * differences; `openFile` turns a name from the wire into a file inside the
 * folder or a 403 / 404, and hashes again a file that changed since.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ProtocolError } from "../../protocol.ts";
import { type HashProgress, SharedFolder } from "../../disk/shared_folder.ts";
import { LocalError } from "../../io/errors.ts";
import { re } from "../helpers/assert.ts";
import { chunkHashes, entryOf, MiB, rootOf } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { AN_HOUR_AGO, tempDir, TWO_HOURS_AGO, writeFiles, writeOld } from "../helpers/temp.ts";

/** `promise` rejects with a `ProtocolError` of `status`; returns it. */
async function rejectsStatus(promise: Promise<unknown>, status: number, label: string): Promise<ProtocolError> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof ProtocolError, `${label}: expected a ProtocolError ${status}, got ${error}`);
  assert.equal(error.status, status, `${label}: ${error.message}`);
  return error;
}

Deno.test("shared folder: opening a folder that does not exist, or a file, says which and to choose another --dir", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "missing");
  await assert.rejects(() => SharedFolder.open(missing), (error) => {
    assert.ok(error instanceof LocalError, String(error));
    assert.equal(error.message, `shared folder ${missing} does not exist; create it or choose another --dir`);
    assert.ok(error.cause instanceof Deno.errors.NotFound, "the file system's error is the cause");
    return true;
  });
  await writeFiles(dir.path, { "file.txt": "not a folder" });
  const file = join(dir.path, "file.txt");
  await assert.rejects(() => SharedFolder.open(file), (error) => {
    assert.ok(error instanceof LocalError, String(error));
    assert.equal(error.message, `shared folder ${file} is not a folder; choose a folder with --dir`);
    return true;
  });
  const folder = await SharedFolder.open(join(dir.path, ".", ""));
  assert.equal(folder.path, dir.path, "a folder that is there opens, by its real path");
});

Deno.test("shared folder: scan hashing progress is monotonic and ends at the totals; files already known report nothing", async () => {
  await using dir = await tempDir();
  const files: Record<string, Uint8Array> = {
    "a.txt": randomBytes(10, 51),
    "big.bin": randomBytes(2 * MiB + MiB / 2, 52),
    "empty.txt": new Uint8Array(0),
    "one.bin": randomBytes(MiB, 53),
  };
  await writeFiles(dir.path, files);
  await Deno.mkdir(join(dir.path, "sub"));
  await writeFiles(dir.path, { ".hidden": "h" });
  const total = Object.values(files).reduce((n, b) => n + b.length, 0);

  const folder = await SharedFolder.open(dir.path);
  const calls: HashProgress[] = [];
  const entries = await folder.scan((p) => calls.push(p));
  assert.deepEqual(entries, Object.entries(files).map(([name, bytes]) => entryOf(name, bytes)));
  assert.ok(calls.length >= 4);
  for (const [i, p] of calls.entries()) {
    assert.equal(p.files, 4);
    assert.equal(p.bytes, total);
    assert.ok(p.bytesDone <= p.bytes && p.filesDone <= p.files, JSON.stringify(p));
    assert.ok(p.file in files, p.file);
    if (i > 0) {
      assert.ok(p.filesDone >= calls[i - 1].filesDone, "filesDone went back");
      assert.ok(p.bytesDone >= calls[i - 1].bytesDone, "bytesDone went back");
    }
  }
  assert.deepEqual(calls.at(-1), { file: calls.at(-1)!.file, filesDone: 4, files: 4, bytesDone: total, bytes: total });
  assert.deepEqual(new Set(calls.map((c) => c.file)), new Set(Object.keys(files)), "each file named");
  // Each file's bytes are counted once, under its own name.
  const perFile = new Map<string, number>();
  calls.forEach((c, i) =>
    perFile.set(c.file, (perFile.get(c.file) ?? 0) + c.bytesDone - (calls[i - 1]?.bytesDone ?? 0))
  );
  assert.deepEqual(perFile, new Map(Object.entries(files).map(([name, b]) => [name, b.length])));

  const again: HashProgress[] = [];
  assert.deepEqual(await folder.scan((p) => again.push(p)), entries);
  assert.deepEqual(again, [], "unchanged files: no progress at all");

  const changed = randomBytes(777, 54);
  await Deno.writeFile(join(dir.path, "a.txt"), changed);
  const third: HashProgress[] = [];
  const rescanned = await folder.scan((p) => third.push(p));
  assert.ok(third.length >= 1);
  assert.ok(third.every((p) => p.file === "a.txt" && p.files === 1 && p.bytes === changed.length));
  assert.deepEqual(third.at(-1), { file: "a.txt", filesDone: 1, files: 1, bytesDone: changed.length, bytes: 777 });
  assert.deepEqual(rescanned.find((e) => e.name === "a.txt"), entryOf("a.txt", changed));
});

Deno.test("shared folder: refresh returns only the real differences (new, changed, gone); unknown, hidden and non-files are nothing", async () => {
  await using dir = await tempDir();
  await writeOld(dir.path, { "a.txt": "aaa", "b.txt": "bbb", ".hidden": "h" });
  await Deno.mkdir(join(dir.path, "sub"));
  const folder = await SharedFolder.open(dir.path);
  await folder.scan();
  const none = { changed: [], removed: [] };

  assert.deepEqual(await folder.refresh([]), none);
  assert.deepEqual(await folder.refresh(["a.txt", "b.txt"]), none, "unchanged");
  assert.deepEqual(await folder.refresh(["missing.txt", ".hidden", "sub", "../a.txt", "sub/x", ""]), none);

  await writeFiles(dir.path, { "c.txt": "new one" });
  const added = await folder.refresh(["c.txt", "c.txt", "a.txt"]);
  assert.deepEqual(added, { changed: [entryOf("c.txt", "new one")], removed: [] });
  assert.deepEqual(folder.entry("c.txt"), entryOf("c.txt", "new one"));
  assert.deepEqual(await folder.refresh(["c.txt"]), none, "already known");

  await Deno.writeTextFile(join(dir.path, "a.txt"), "AAAA");
  await Deno.remove(join(dir.path, "b.txt"));
  const both = await folder.refresh(["a.txt", "b.txt"]);
  assert.deepEqual(both, { changed: [entryOf("a.txt", "AAAA")], removed: ["b.txt"] });
  assert.deepEqual(await folder.refresh(["b.txt"]), none, "gone already");
  assert.equal(folder.entry("b.txt"), undefined);

  // A file replaced by a folder is no longer shared.
  await Deno.remove(join(dir.path, "c.txt"));
  await Deno.mkdir(join(dir.path, "c.txt"));
  assert.deepEqual(await folder.refresh(["c.txt"]), { changed: [], removed: ["c.txt"] });
  assert.deepEqual(folder.entries(), [entryOf("a.txt", "AAAA")]);
});

Deno.test("shared folder: refresh of a file touched without being changed (new mtime, same bytes) is not a difference", async () => {
  await using dir = await tempDir();
  await writeOld(dir.path, { "a.txt": "same bytes" });
  const folder = await SharedFolder.open(dir.path);
  const [before] = await folder.scan();
  await Deno.utime(join(dir.path, "a.txt"), TWO_HOURS_AGO, TWO_HOURS_AGO);
  const changes = await folder.refresh(["a.txt"]);
  assert.deepEqual(folder.entry("a.txt"), before, "the entry is the same");
  assert.deepEqual(changes, { changed: [], removed: [] }, "and refresh reports no change");
});

Deno.test("shared folder: a symlink loop or a link to a hidden file is not shared, and a peer on the folder starts anyway", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "ok.txt": "ok", ".secret": "s" });
  await Deno.symlink("loop", join(dir.path, "loop"));
  await Deno.symlink(join(dir.path, ".secret"), join(dir.path, "alias.txt"));

  const folder = await SharedFolder.open(dir.path);
  assert.deepEqual(await folder.scan(), [entryOf("ok.txt", "ok")]);
  assert.deepEqual(folder.skipped.map((s) => s.split(":")[0]).sort(), ["alias.txt", "loop"]);
  assert.match(
    folder.skipped.find((s) => s.startsWith("alias.txt"))!,
    /a link that leads out of the folder or to a hidden file/,
  );
  assert.match(folder.skipped.find((s) => s.startsWith("loop"))!, /link loop/);
  await rejectsStatus(folder.openFile("alias.txt"), 403, "alias.txt");
  await rejectsStatus(folder.openFile("loop"), 403, "loop");
  assert.deepEqual(await folder.refresh(["alias.txt", "loop"]), { changed: [], removed: [] });

  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, {}, { dir: dir.path });
  assert.deepEqual(peer.folder.entries().map((e) => e.name), ["ok.txt"]);
  assert.deepEqual(peer.folder.skipped.map((s) => s.split(":")[0]).sort(), ["alias.txt", "loop"]);
  assert.deepEqual((await tracker.store.holders("ok.txt", 10)).map((h) => h.address), [peer.address]);
  assert.equal(await tracker.store.has("alias.txt") || await tracker.store.has("loop"), false);
});

Deno.test("shared folder: openFile refuses names that are not plain names (403) and missing files (404), and never opens a file outside", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  await writeFiles(outside.path, { "secret.txt": "outside the folder" });
  await writeFiles(dir.path, { "a.txt": "inside", ".hidden": "h" });
  await writeFiles(join(dir.path, "sub"), { "inner.txt": "in a sub-folder" });
  await Deno.symlink(join(outside.path, "secret.txt"), join(dir.path, "out.txt"));
  await Deno.symlink(join("..", outside.path.split("/").at(-1)!, "secret.txt"), join(dir.path, "relative.txt"));
  await Deno.symlink(outside.path, join(dir.path, "outdir"));
  await Deno.symlink("a.txt", join(dir.path, "inside.txt"));
  const folder = await SharedFolder.open(dir.path);
  await folder.scan();

  const forbidden = [
    "..",
    "../a.txt",
    `../${outside.path.split("/").at(-1)}/secret.txt`,
    join(outside.path, "secret.txt"),
    join(dir.path, "a.txt"),
    "/etc/passwd",
    "a.txt\u0000",
    "a\u0000b",
    ".",
    ".hidden",
    "sub/inner.txt",
    "sub\\inner.txt",
    "out.txt",
    "relative.txt",
    "outdir",
    "",
  ];
  for (const name of forbidden) await rejectsStatus(folder.openFile(name), 403, JSON.stringify(name));
  for (const name of ["missing.txt", "sub"]) await rejectsStatus(folder.openFile(name), 404, name);
  const missing = await rejectsStatus(folder.openFile("missing.txt"), 404, "missing.txt");
  assert.match(missing.message, new RegExp(re(`no file "missing.txt"`)));
  assert.deepEqual(folder.entries(), [entryOf("a.txt", "inside"), entryOf("inside.txt", "inside")], "nothing outside");

  using opened = await folder.openFile("a.txt");
  const inside = new TextEncoder().encode("inside");
  assert.deepEqual(opened.entry, { ...entryOf("a.txt", inside), root: rootOf(inside) }, "with its root, one chunk too");
  const buffer = new Uint8Array(100);
  const n = await opened.file.read(buffer);
  assert.equal(new TextDecoder().decode(buffer.subarray(0, n ?? 0)), "inside");
  // A link that stays inside the folder, to a file that may be shared, is followed.
  using linked = await folder.openFile("inside.txt");
  assert.deepEqual(linked.entry, { ...entryOf("inside.txt", inside), root: rootOf(inside) });
});

Deno.test("shared folder: openFile hashes again a file that changed since it was hashed, and returns the new entry and chunks", async () => {
  await using dir = await tempDir();
  const before = randomBytes(MiB + 10, 61);
  await writeOld(dir.path, { "f.bin": before });
  const folder = await SharedFolder.open(dir.path);
  assert.deepEqual(await folder.scan(), [entryOf("f.bin", before)]);

  const after = randomBytes(2 * MiB + 20, 62);
  await writeOld(dir.path, { "f.bin": after }, TWO_HOURS_AGO);
  {
    using opened = await folder.openFile("f.bin");
    assert.deepEqual(opened.entry, entryOf("f.bin", after));
    const hex = Array.from(opened.chunks, (b) => b.toString(16).padStart(2, "0")).join("");
    assert.deepEqual(hex.match(/.{64}/g), chunkHashes(after));
  }
  assert.deepEqual(folder.entry("f.bin"), entryOf("f.bin", after), "the folder knows the new version too");

  // The same size, other bytes and another modification time.
  const same = randomBytes(after.length, 63);
  await writeOld(dir.path, { "f.bin": same }, AN_HOUR_AGO);
  using reopened = await folder.openFile("f.bin");
  assert.deepEqual(reopened.entry, entryOf("f.bin", same));
});
