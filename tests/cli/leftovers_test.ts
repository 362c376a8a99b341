/**
 * What interrupted downloads leave, in words (`cli/leftovers.ts`, over
 * `findLeftovers` and `removeLeftover` in `disk/part_file.ts`): in a folder
 * holding real part files left by real cancelled downloads, `leftoverLines`
 * names each (the file, how much arrived, when, its path) and
 * `cleanLeftovers` removes each part file and its journal, and nothing else:
 * not an ordinary file, not a hidden file of someone else, not the hash
 * cache, not a look-alike name, not a symbolic link (nor what it points
 * to); a download still running is listed as such and left alone.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { cleanLeftovers, leftoverLines } from "../../cli/leftovers.ts";
import { LocalError } from "../../io/errors.ts";
import { MiB } from "../helpers/hashes.ts";
import { hiddenFiles, leaveLeftover, startStalledDownload } from "../helpers/part_files.ts";
import { randomBytes } from "../helpers/random.ts";
import { AN_HOUR_AGO, listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** A name shaped like a part file's, but a symbolic link (to `outside`): not ours, never followed. */
const LINK_NAME = `.p2p-${"ab".repeat(16)}.part`;

/** What sits beside the leftovers and must survive a clean: every name, and the outside file's content. */
const BYSTANDERS: Record<string, string> = {
  "notes.txt": "an ordinary file\n",
  ".hidden": "a hidden file of someone else\n",
  ".p2p-hashes": "the hash cache: ours, but not a leftover\n",
  ".p2p-notakey.part": "a look-alike name\n",
  ".p2p-0123.journal": "a look-alike name\n",
};

/**
 * A folder with two leftovers from real cancelled downloads (movie.bin, 3
 * of 6 chunks; song.bin, 2 of 3), the bystanders, and a symbolic link named
 * like a part file that points to a file in another folder.
 */
async function folderWithLeftovers(dir: string, outside: string) {
  const movie = randomBytes(6 * MiB - 5, 31);
  await leaveLeftover(dir, { name: "movie.bin", data: movie, chunks: 3 });
  // Cancelled an hour ago: the older of the two.
  const { part, journal } = await hiddenFiles(dir);
  for (const path of [part!, journal!]) await Deno.utime(path, AN_HOUR_AGO, AN_HOUR_AGO);
  await writeFiles(dir, BYSTANDERS);
  await Deno.writeTextFile(join(outside, "precious.bin"), "not ours\n");
  await Deno.symlink(join(outside, "precious.bin"), join(dir, LINK_NAME));
  const song = randomBytes(2 * MiB + 77, 32);
  await leaveLeftover(dir, { name: "song.bin", data: song, chunks: 2 });
  return { movie, song };
}

/** `path` as a regular expression that matches it literally. */
const literal = (path: string) => path.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");

Deno.test("leftovers: leftoverLines names each leftover download (file, how much arrived, when, its part file) and what to do", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  await folderWithLeftovers(dir.path, outside.path);
  const names = await listDir(dir.path);
  const parts = names.filter((n) => /^\.p2p-[0-9a-f]{32}\.part$/.test(n) && n !== LINK_NAME);
  assert.equal(parts.length, 2, names.join(", "));

  const lines = await leftoverLines(dir.path);
  assert.equal(lines.length, 3, lines.join("\n"));
  const date = String.raw`\d{4}-\d\d-\d\d \d\d:\d\d`;
  const part = String.raw`${literal(dir.path)}/\.p2p-[0-9a-f]{32}\.part`;
  // Oldest first: movie.bin, cancelled an hour ago, with that time (local).
  const two = (n: number) => String(n).padStart(2, "0");
  const t = AN_HOUR_AGO;
  const then = `${t.getFullYear()}-${two(t.getMonth() + 1)}-${two(t.getDate())} ${two(t.getHours())}:${
    two(t.getMinutes())
  }`;
  assert.match(
    lines[0],
    new RegExp(`^movie\\.bin: 3\\.00 MiB of 6\\.00 MiB arrived, last written ${then}, in ${part}$`),
  );
  assert.match(
    lines[1],
    new RegExp(`^song\\.bin: 2\\.00 MiB of 2\\.00 MiB arrived, last written ${date}, in ${part}$`),
  );
  assert.equal(
    lines[2],
    `the same get carries on from what arrived; get --clean --out ${dir.path} (CLEAN at a peer's prompt) discards them`,
  );
  // Each line names a part file that is really there, and none is the link.
  for (const line of lines.slice(0, 2)) {
    const path = / in (\S+)$/.exec(line)![1];
    assert.ok((await Deno.lstat(path)).isFile, path);
    assert.ok(!path.endsWith(LINK_NAME));
  }
  assert.deepEqual(await listDir(dir.path), names, "listing touches nothing");
});

Deno.test("leftovers: cleanLeftovers removes each part file and its journal, and nothing else (no bystander, no link, nothing outside)", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  await folderWithLeftovers(dir.path, outside.path);
  const before = await listDir(dir.path);

  const lines = await cleanLeftovers(dir.path);
  assert.equal(lines.length, 3, lines.join("\n"));
  const part = String.raw`${literal(dir.path)}/\.p2p-[0-9a-f]{32}\.part`;
  assert.match(lines[0], new RegExp(`^removed ${part} and its journal \\(3\\.00 MiB of movie\\.bin\\)$`));
  assert.match(lines[1], new RegExp(`^removed ${part} and its journal \\(2\\.00 MiB of song\\.bin\\)$`));
  // 3 MiB and 2 MiB of part files, and two journals of a few hundred bytes.
  assert.match(lines[2], new RegExp(`^removed 2 leftover downloads from ${literal(dir.path)}: 5\\.00 MiB freed$`));

  const after = await listDir(dir.path);
  assert.deepEqual(after, [...Object.keys(BYSTANDERS), LINK_NAME].sort(), `before: ${before.join(", ")}`);
  for (const [name, content] of Object.entries(BYSTANDERS)) {
    assert.equal(await Deno.readTextFile(join(dir.path, name)), content, name);
  }
  assert.ok((await Deno.lstat(join(dir.path, LINK_NAME))).isSymlink, "the link is still a link");
  assert.equal(
    await Deno.readTextFile(join(outside.path, "precious.bin")),
    "not ours\n",
    "what it points to is intact",
  );

  // Cleaned: nothing left to list or clean.
  assert.deepEqual(await leftoverLines(dir.path), [
    `no leftover part files in ${dir.path}: nothing to resume or clean`,
  ]);
  assert.deepEqual(await cleanLeftovers(dir.path), [`no leftover part files in ${dir.path}: nothing removed`]);
});

Deno.test("leftovers: a download running now is listed as such and left alone by a clean; once cancelled, it goes", async () => {
  await using dir = await tempDir();
  const data = randomBytes(4 * MiB + 1, 33);
  await using download = await startStalledDownload(dir.path, { name: "live.bin", data, chunks: 2 });
  const { part, journal } = await hiddenFiles(dir.path);
  assert.ok(part && journal);

  assert.deepEqual(await leftoverLines(dir.path), [
    `live.bin: being downloaded now (2.00 MiB of 4.00 MiB so far), in ${part}`,
    `the same get carries on from what arrived; get --clean --out ${dir.path} (CLEAN at a peer's prompt) discards it`,
  ]);
  assert.deepEqual(await cleanLeftovers(dir.path), [
    `left ${part} alone: a download is writing it now (stop that download first)`,
    `removed 0 leftover downloads from ${dir.path}: 0 B freed; 1 in use left alone`,
  ]);
  assert.deepEqual((await hiddenFiles(dir.path)).names.length, 2, "both files still there");

  await download.cancel();
  assert.deepEqual(await cleanLeftovers(dir.path), [
    `removed ${part} and its journal (2.00 MiB of live.bin)`,
    `removed 1 leftover download from ${dir.path}: 2.00 MiB freed`,
  ]);
  assert.deepEqual(await listDir(dir.path), []);
});

Deno.test("leftovers: a folder that does not exist is a LocalError naming it, with what to do", async () => {
  await using dir = await tempDir();
  const missing = join(dir.path, "nowhere");
  for (const run of [leftoverLines, cleanLeftovers]) {
    const error = await run(missing).then(() => undefined, (e) => e);
    assert.ok(error instanceof LocalError, String(error));
    assert.match(
      error.message,
      new RegExp(`^cannot look for leftover part files in ${literal(missing)}: .*choose another --out$`),
    );
  }
});

Deno.test("leftovers: a part file without its journal, and a journal without its part file, are listed for what they are and cleaned", async () => {
  await using dir = await tempDir();
  await leaveLeftover(dir.path, { name: "a.bin", data: randomBytes(3 * MiB, 34), chunks: 2 });
  const a = await hiddenFiles(dir.path);
  await Deno.remove(a.journal!);
  await using other = await tempDir();
  await leaveLeftover(other.path, { name: "b.bin", data: randomBytes(3 * MiB, 35), chunks: 1 });
  const b = await hiddenFiles(other.path);
  const journal = join(dir.path, b.journal!.slice(other.path.length + 1));
  await Deno.copyFile(b.journal!, journal);
  await Deno.utime(journal, AN_HOUR_AGO, AN_HOUR_AGO);

  const lines = await leftoverLines(dir.path);
  assert.equal(lines.length, 3, lines.join("\n"));
  assert.match(
    lines[0],
    new RegExp(`^b\\.bin: only the journal is left \\(nothing to resume\\), last written .*, in ${literal(journal)}$`),
  );
  assert.match(
    lines[1],
    new RegExp(
      `^a download whose journal is gone \\(it cannot be resumed\\): 2\\.00 MiB, last written .*, in ${
        literal(a.part!)
      }$`,
    ),
  );
  assert.deepEqual(await cleanLeftovers(dir.path), [
    `removed ${journal} (the journal of b.bin; its part file was gone)`,
    `removed ${a.part}`,
    `removed 2 leftover downloads from ${dir.path}: 2.00 MiB freed`,
  ]);
  assert.deepEqual(await listDir(dir.path), []);
});
