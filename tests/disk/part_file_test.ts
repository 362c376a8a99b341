/**
 * A download in progress on disk (`disk/part_file.ts`): the bytes go to a
 * hidden part file beside the target, with a journal of the chunks written;
 * `land` gives the finished file its name by a hard link (or, without hard
 * links, by a rename while the target is free) and never replaces a file
 * already there or one that appeared meanwhile; `open` picks up the journal
 * of the same version only; `close` keeps or removes the part and its
 * journal; one process never opens the same target twice; a folder that
 * cannot be written is a `LocalError` saying so. Until it lands, a download
 * is only in hidden files, which a shared folder never lists nor serves.
 *
 * @module
 */

import assert from "node:assert/strict";
import { basename, join } from "node:path";
import { ProtocolError } from "../../protocol.ts";
import { PartFile, type PartTarget } from "../../disk/part_file.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { DownloadError, LocalError } from "../../io/errors.ts";
import { downloadFile } from "../../peer/download.ts";
import { assertSameBytes, re } from "../helpers/assert.ts";
import { MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { eventually } from "../helpers/events.ts";
import { startFakeHolder } from "../helpers/holders.ts";
import { randomBytes } from "../helpers/random.ts";
import { listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** The version of `bytes` as a download names it: with its chunk root, so that it keeps a journal. */
function targetOf(name: string, bytes: Uint8Array, root = true): PartTarget {
  const base = { name, size: bytes.length, sha256: sha256(bytes) };
  return root ? { ...base, root: rootOf(bytes) } : base;
}

/** Where the journal of `part` is: beside the part file, with `.journal` for `.part`. */
function journalOf(part: PartFile): string {
  return part.path.replace(/\.part$/, ".journal");
}

/** Whether something is at `path`. */
async function exists(path: string): Promise<boolean> {
  return await Deno.lstat(path).then(() => true, () => false);
}

/** `promise` rejects with a {@link LocalError} whose message matches `message`; returns the error. */
async function rejectsLocal(promise: Promise<unknown>, message: RegExp): Promise<LocalError> {
  const error = await promise.then(() => undefined, (e) => e);
  assert.ok(error instanceof LocalError, `expected a LocalError, got ${error}`);
  assert.match(error.message, message);
  return error;
}

/** A `link` as on a file system without hard links. */
const noHardLinks = (): Promise<void> => Promise.reject(new Deno.errors.NotSupported("no hard links on this disk"));

Deno.test("part file: the bytes and the journal are in hidden files beside the target, named for the version", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(2 * MiB + 3, 1);
  const part = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  try {
    assert.equal(part.path, join(dir.path, basename(part.path)));
    assert.match(basename(part.path), /^\.p2p-[0-9a-f]{32}\.part$/);
    assert.deepEqual(await listDir(dir.path), [basename(journalOf(part)), basename(part.path)].sort());
    assert.deepEqual(part.claimed, []);
    part.writeAt(MiB, bytes.subarray(MiB, 2 * MiB));
    const back = new Uint8Array(MiB);
    assert.equal(part.readAt(MiB, back), true);
    assert.equal(sha256(back), sha256(bytes.subarray(MiB, 2 * MiB)));
    assert.equal(part.readAt(2 * MiB, new Uint8Array(10)), false, "past what was written: false");
  } finally {
    await part.close(false);
  }
  const other = await PartFile.open(dir.path, targetOf("f.bin", randomBytes(2 * MiB + 3, 2)));
  const same = await PartFile.open(dir.path, targetOf("g.bin", bytes));
  try {
    assert.notEqual(other.path, part.path, "another version of the same name: another part file");
    assert.notEqual(same.path, part.path, "the same bytes under another name: another part file");
  } finally {
    await other.close(false);
    await same.close(false);
  }
});

Deno.test("part file: land gives the file its name by a hard link and removes the part and the journal", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(2 * MiB + 3, 3);
  const part = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  const links: string[][] = [];
  try {
    part.writeAt(0, bytes);
    part.record(0);
    part.record(1);
    part.record(2);
    const target = join(dir.path, "f.bin");
    await part.land(target, {
      link: async (from, to) => {
        links.push([from, to]);
        await Deno.link(from, to);
      },
    });
    assert.deepEqual(links, [[part.path, target]]);
    await assertSameBytes(target, bytes);
    assert.equal((await Deno.stat(target)).nlink, 1, "the part file's name is gone: one link left");
    assert.deepEqual(await listDir(dir.path), ["f.bin"], "no part file, no journal");
  } finally {
    await part.close(false);
  }
  assert.deepEqual(await listDir(dir.path), ["f.bin"], "closing after landing removes nothing");
});

Deno.test("part file: without hard links, land renames the part into place while the target is free", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(MiB + 1, 4);
  const part = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  try {
    part.writeAt(0, bytes);
    await part.land(join(dir.path, "f.bin"), { link: noHardLinks });
    await assertSameBytes(join(dir.path, "f.bin"), bytes);
    assert.deepEqual(await listDir(dir.path), ["f.bin"], "no part file, no journal");
  } finally {
    await part.close(false);
  }
  assert.deepEqual(await listDir(dir.path), ["f.bin"]);
});

for (const [how, link] of [["with hard links", undefined], ["without hard links", noHardLinks]] as const) {
  Deno.test(`part file: ${how}, a file already at the target, or one that appeared there during the download, is left as it is and land throws a LocalError saying so`, async () => {
    for (const when of ["already there", "appeared meanwhile"]) {
      await using dir = await tempDir();
      const bytes = randomBytes(MiB + 1, 5);
      const target = join(dir.path, "f.bin");
      if (when === "already there") await Deno.writeTextFile(target, "someone else's file");
      const part = await PartFile.open(dir.path, targetOf("f.bin", bytes));
      try {
        part.writeAt(0, bytes);
        part.record(0);
        if (when === "appeared meanwhile") await Deno.writeTextFile(target, "someone else's file");
        const error = await rejectsLocal(part.land(target, { link }), /appeared/);
        assert.equal(error.message, `${target} appeared while the download ran; it was left as it is`, when);
        assert.equal(await Deno.readTextFile(target), "someone else's file", when);
        assert.equal((await Deno.stat(target)).nlink, 1, `${when}: not linked to the part file`);
        assert.ok(await exists(part.path), `${when}: the part file is still there, for close to deal with`);
      } finally {
        await part.close(false);
      }
      assert.equal(await Deno.readTextFile(target), "someone else's file", when);
      assert.deepEqual(
        await listDir(dir.path),
        ["f.bin"],
        `${when}: close(false) removed the part file and the journal`,
      );
    }
  });

  Deno.test(`part file: ${how}, an empty folder in the way at the target is left as it is too`, async () => {
    await using dir = await tempDir();
    const bytes = randomBytes(1000, 6);
    const target = join(dir.path, "f.bin");
    const part = await PartFile.open(dir.path, targetOf("f.bin", bytes, false));
    try {
      part.writeAt(0, bytes);
      await Deno.mkdir(target);
      await rejectsLocal(part.land(target, { link }), new RegExp(`^${re(target)} appeared while the download ran`));
      assert.ok((await Deno.stat(target)).isDirectory);
      assert.deepEqual(await listDir(target), []);
    } finally {
      await part.close(false);
    }
    assert.deepEqual(await listDir(dir.path), ["f.bin"]);
  });
}

Deno.test("part file: a download that finds a file appearing at its target lands nothing there and removes its part file", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(2 * MiB + 7, 7);
  const gate = Promise.withResolvers<void>();
  await using holder = startFakeHolder({ name: "f.bin", data: bytes, gate: gate.promise });
  const lookup = {
    name: "f.bin",
    status: 200,
    holders: [{ address: holder.address, size: bytes.length, sha256: sha256(bytes), root: rootOf(bytes) }],
  };
  const download = downloadFile(lookup, { outDir: dir.path }).then(() => undefined, (e) => e);
  // The download has its part file and has asked for chunks (held at the gate) before the other file appears.
  await eventually("a RANGE request", () => holder.requests.some((r) => r.startsWith("RANGE ")));
  assert.ok((await listDir(dir.path)).every((name) => name.startsWith(".p2p-")), "only hidden files meanwhile");
  await Deno.writeTextFile(join(dir.path, "f.bin"), "written by someone else meanwhile");
  gate.resolve();
  const error = await download;
  assert.ok(error instanceof DownloadError, `expected a DownloadError, got ${error}`);
  assert.match(error.message, new RegExp(re(`${join(dir.path, "f.bin")} appeared while the download ran`)));
  assert.equal(await Deno.readTextFile(join(dir.path, "f.bin")), "written by someone else meanwhile");
  assert.deepEqual(await listDir(dir.path), ["f.bin"], "no part file nor journal left");
});

Deno.test("part file: a download whose bytes never verify leaves nothing the shared folder would share", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(2 * MiB + 9, 15);
  await using holder = startFakeHolder({ name: "f.bin", data: bytes, corrupt: 1 });
  const lookup = {
    name: "f.bin",
    status: 200,
    holders: [{ address: holder.address, size: bytes.length, sha256: sha256(bytes), root: rootOf(bytes) }],
  };
  const error = await downloadFile(lookup, { outDir: dir.path, timeoutMs: 5_000 }).then(() => undefined, (e) => e);
  assert.ok(error instanceof DownloadError, `expected a DownloadError, got ${error}`);
  assert.ok(error.attempts.some((a) => a.code === "EHASH"), JSON.stringify(error.attempts));
  const names = await listDir(dir.path);
  assert.ok(names.every((name) => name.startsWith(".p2p-")), `only hidden files: ${names.join(", ")}`);
  const folder = await SharedFolder.open(dir.path);
  assert.deepEqual(await folder.scan(), []);
  assert.deepEqual(folder.skipped, []);
});

Deno.test("part file: until it lands, a download is only in hidden files, which the shared folder never lists nor serves", async () => {
  await using dir = await tempDir();
  await writeFiles(dir.path, { "other.txt": "shared" });
  const bytes = randomBytes(2 * MiB, 8);
  const folder = await SharedFolder.open(dir.path);
  const part = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  try {
    part.writeAt(0, bytes);
    part.record(0);
    assert.deepEqual((await folder.scan()).map((e) => e.name), ["other.txt"]);
    assert.deepEqual(folder.skipped, [], "hidden files are not even reported as skipped");
    for (const name of [basename(part.path), basename(journalOf(part))]) {
      await assert.rejects(() => folder.openFile(name), (e) => e instanceof ProtocolError && e.status === 403);
    }
    assert.deepEqual(await folder.refresh([basename(part.path), "f.bin"]), { changed: [], removed: [] });
    await part.land(join(dir.path, "f.bin"));
  } finally {
    await part.close(false);
  }
  assert.deepEqual((await folder.scan()).map((e) => e.name), ["f.bin", "other.txt"], "landed: now it is shared");
});

Deno.test("part file: open picks up the journal of the same version (its chunks, once each, a torn last line ignored)", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(4 * MiB, 9);
  const target = targetOf("f.bin", bytes);
  const first = await PartFile.open(dir.path, target);
  first.writeAt(0, bytes.subarray(0, MiB));
  first.record(0);
  first.writeAt(2 * MiB, bytes.subarray(2 * MiB, 3 * MiB));
  first.record(2);
  first.record(2);
  await first.close(true);
  assert.deepEqual((await listDir(dir.path)).length, 2, "close(true) kept the part file and the journal");

  const second = await PartFile.open(dir.path, target);
  try {
    assert.equal(second.path, first.path);
    assert.deepEqual(second.claimed, [0, 2]);
    const chunk = new Uint8Array(MiB);
    assert.equal(second.readAt(2 * MiB, chunk), true, "the bytes of the earlier run are kept");
    assert.equal(sha256(chunk), sha256(bytes.subarray(2 * MiB, 3 * MiB)));
  } finally {
    await second.close(true);
  }

  // Lines that are not chunk numbers are skipped; a last line without its line feed was cut short.
  await Deno.writeTextFile(journalOf(first), "1\nnot a number\n-3\n 1\n3", { append: true });
  const third = await PartFile.open(dir.path, target);
  try {
    assert.deepEqual(third.claimed, [0, 1, 2]);
  } finally {
    await third.close(false);
  }
  assert.deepEqual(await listDir(dir.path), [], "close(false) removed the part file and the journal");
});

Deno.test("part file: a journal of another version at the same place is ignored, and the part file starts afresh", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(3 * MiB, 10);
  const target = targetOf("f.bin", bytes);
  const first = await PartFile.open(dir.path, target);
  first.writeAt(0, bytes);
  await first.close(true);
  const journal = journalOf(first);
  const header = (await Deno.readTextFile(journal)).split("\n")[0];
  assert.deepEqual(JSON.parse(header), { v: 1, ...target }, "the journal names the version");

  // The same place, a journal that names another version (another SHA-256), listing chunks.
  const foreign = JSON.stringify({ v: 1, ...target, sha256: sha256("another version") });
  await Deno.writeTextFile(journal, `${foreign}\n0\n1\n2\n`);
  const second = await PartFile.open(dir.path, target);
  try {
    assert.deepEqual(second.claimed, []);
    assert.equal(second.readAt(0, new Uint8Array(1)), false, "the stale part file was emptied");
    assert.equal(await Deno.readTextFile(journal), header + "\n", "the journal starts again for this version");
  } finally {
    await second.close(true);
  }

  // A journal without its version line is ignored the same way.
  await Deno.writeTextFile(journal, "0\n1\n");
  const third = await PartFile.open(dir.path, target);
  try {
    assert.deepEqual(third.claimed, []);
  } finally {
    await third.close(false);
  }
});

Deno.test("part file: close(true) keeps the part file and the journal, close(false) removes both; without a root there is no journal to keep", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(2 * MiB, 11);
  const kept = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  kept.writeAt(0, bytes.subarray(0, MiB));
  kept.record(0);
  await kept.close(true);
  await kept.close(true);
  assert.deepEqual(await listDir(dir.path), [basename(journalOf(kept)), basename(kept.path)].sort());
  const removed = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  assert.deepEqual(removed.claimed, [0]);
  await removed.close(false);
  assert.deepEqual(await listDir(dir.path), []);

  const plain = await PartFile.open(dir.path, targetOf("small.txt", bytes.subarray(0, 100), false));
  assert.deepEqual(await listDir(dir.path), [basename(plain.path)], "no journal without a root");
  plain.writeAt(0, bytes.subarray(0, 100));
  plain.record(0);
  await plain.close(true);
  assert.deepEqual(await listDir(dir.path), [], "nothing could be checked on resume: removed even so");
});

Deno.test("part file: opening the same target twice in one process is refused until the first is closed", async () => {
  await using dir = await tempDir();
  const bytes = randomBytes(2 * MiB, 12);
  const first = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  try {
    const error = await rejectsLocal(PartFile.open(dir.path, targetOf("f.bin", bytes)), /already/);
    assert.equal(error.message, `f.bin is already being downloaded into ${dir.path}`);
    first.writeAt(0, bytes.subarray(0, MiB));
    const chunk = new Uint8Array(MiB);
    assert.equal(first.readAt(0, chunk), true, "the refused open left the first one's file alone");
    assert.equal(sha256(chunk), sha256(bytes.subarray(0, MiB)));
  } finally {
    await first.close(false);
  }
  const again = await PartFile.open(dir.path, targetOf("f.bin", bytes));
  await again.close(false);
});

Deno.test("part file: a folder that does not exist is a LocalError naming it, with what to do", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "missing");
  const bytes = randomBytes(100, 13);
  const pattern = new RegExp(`^cannot write in ${re(missing)}: .*; create the folder or choose another --out$`);
  await rejectsLocal(PartFile.open(missing, targetOf("f.bin", bytes)), pattern);
  await rejectsLocal(PartFile.open(missing, targetOf("f.bin", bytes)), pattern); // not "already being downloaded"
  await Deno.mkdir(missing);
  const part = await PartFile.open(missing, targetOf("f.bin", bytes));
  await part.close(false);
});

Deno.test({
  name: "part file: a folder this process may not write is a LocalError naming it, with what to do (also as root)",
  // Deno's permissions refuse the write whoever runs the test: root is not let through as by a folder's mode.
  permissions: { read: true, write: false },
  fn: async () => {
    const folder = import.meta.dirname!;
    const bytes = randomBytes(100, 14);
    for (let i = 0; i < 2; i++) {
      const error = await rejectsLocal(PartFile.open(folder, targetOf("f.bin", bytes)), /--allow-write/);
      assert.match(error.message, new RegExp(`^cannot write in ${re(folder)}: `));
    }
    assert.ok(!(await listDir(folder)).some((name) => name.startsWith(".p2p-")), "nothing written there");
  },
});
