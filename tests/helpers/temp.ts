/**
 * Temporary folders and files for tests: one folder per test, removed with
 * everything in it on dispose.
 *
 * @module
 */

import { join } from "node:path";

/** A temporary folder removed with everything in it on dispose. */
export interface TempDir extends AsyncDisposable {
  /** Its real path (symbolic links resolved, so that it compares equal to what a peer reports). */
  path: string;
}

/** Makes a temporary folder: `await using dir = await tempDir();`. */
export async function tempDir(): Promise<TempDir> {
  const path = await Deno.realPath(await Deno.makeTempDir({ prefix: "p2p-test-" }));
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Creates folder `dir` (and its parents) holding `files`, name → content; returns `dir`. */
export async function writeFiles(dir: string, files: Record<string, string | Uint8Array>): Promise<string> {
  await Deno.mkdir(dir, { recursive: true });
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(join(dir, name), content);
    else await Deno.writeFile(join(dir, name), content);
  }
  return dir;
}

/** Names in `dir`, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** A modification time an hour ago, in whole seconds: a file this old is not "racy" for the hash cache. */
export const AN_HOUR_AGO: Date = new Date(Math.floor(Date.now() / 1000) * 1000 - 3_600_000);

/** An hour before {@link AN_HOUR_AGO}: another modification time, also old. */
export const TWO_HOURS_AGO: Date = new Date(AN_HOUR_AGO.getTime() - 3_600_000);

/** Writes `files` into `dir` and sets their modification time to `when` (default {@link AN_HOUR_AGO}). */
export async function writeOld(
  dir: string,
  files: Record<string, string | Uint8Array>,
  when: Date = AN_HOUR_AGO,
): Promise<void> {
  await writeFiles(dir, files);
  for (const name of Object.keys(files)) await Deno.utime(join(dir, name), when, when);
}
