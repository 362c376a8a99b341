/**
 * What interrupted downloads left in a folder, in words: `get --parts`
 * (and `PARTS` at a peer's prompt) lists the hidden part files, `get
 * --clean` (and `CLEAN`) removes them. Only the project's own hidden
 * `.p2p-<key>.part` files and their `.journal` sidecars are ever touched
 * (see `findLeftovers` in `disk/part_file.ts`); one a download is writing
 * now is left alone.
 *
 * @module
 */

import { findLeftovers, type Leftover, removeLeftover } from "../disk/part_file.ts";
import { errorMessage } from "../io/errors.ts";
import { formatBytes, plural, shellWord } from "../io/words.ts";

/**
 * One line per leftover download in `dir` (the file it belongs to, how much
 * arrived, when it was last written, the path of its part file), then one
 * saying what to do with them; or one line saying there are none. Throws
 * `LocalError` when `dir` cannot be read.
 *
 * @example
 * ```ts ignore
 * for (const line of await leftoverLines("./downloads")) console.log(line);
 * // movie.bin: 3.00 MiB of 6.00 MiB arrived, last written 2026-01-05 14:03, in downloads/.p2p-….part
 * // the same get carries on from what arrived; get --clean --out ./downloads (CLEAN at a peer's prompt) discards it
 * ```
 */
export async function leftoverLines(dir: string): Promise<string[]> {
  const found = await findLeftovers(dir);
  if (found.length === 0) return [`no leftover part files in ${dir}: nothing to resume or clean`];
  const lines = found.map(describe);
  lines.push(`the same get carries on from what arrived; ${discardHint(dir, found.length)}`);
  return lines;
}

/**
 * Removes every leftover download in `dir` (its part file and journal):
 * one line per one removed (or left alone because a download is writing
 * it, or that could not be removed), then the total; or one line saying
 * there are none. Throws `LocalError` when `dir` cannot be read.
 *
 * @example
 * ```ts ignore
 * for (const line of await cleanLeftovers("./downloads")) console.log(line);
 * // removed downloads/.p2p-….part and its journal (3.00 MiB of movie.bin)
 * // removed 1 leftover download from ./downloads: 3.00 MiB freed
 * ```
 */
export async function cleanLeftovers(dir: string): Promise<string[]> {
  const found = await findLeftovers(dir);
  if (found.length === 0) return [`no leftover part files in ${dir}: nothing removed`];
  const lines: string[] = [];
  let removed = 0;
  let freed = 0;
  let busy = 0;
  let failed = 0;
  for (const left of found) {
    const path = left.part ?? left.journal!;
    try {
      if (left.inUse || !await removeLeftover(left)) {
        busy++;
        lines.push(`left ${path} alone: a download is writing it now (stop that download first)`);
        continue;
      }
    } catch (error) {
      failed++;
      lines.push(`could not remove ${path}: ${errorMessage(error)}`);
      continue;
    }
    removed++;
    freed += left.bytes;
    lines.push(`removed ${path}${removedWhat(left)}`);
  }
  const total = [`removed ${plural(removed, "leftover download")} from ${dir}: ${formatBytes(freed)} freed`];
  if (busy > 0) total.push(`${busy} in use left alone`);
  if (failed > 0) total.push(`${failed} could not be removed (see above)`);
  lines.push(total.join("; "));
  return lines;
}

/** One leftover: what it is a download of, how much arrived, when, where. */
function describe(left: Leftover): string {
  const path = left.part ?? left.journal!;
  const when = left.modified ? `, last written ${formatDate(left.modified)}` : "";
  if (!left.target) {
    // No readable journal: the part file of a download that cannot resume (its chunks cannot be checked).
    return `a download whose journal is gone (it cannot be resumed): ${formatBytes(left.bytes)}${when}, in ${path}`;
  }
  const { name, size } = left.target;
  if (!left.part) return `${name}: only the journal is left (nothing to resume)${when}, in ${path}`;
  const amount = `${formatBytes(left.journaled)} of ${formatBytes(size)}`;
  if (left.inUse) return `${name}: being downloaded now (${amount} so far), in ${path}`;
  return `${name}: ${amount} arrived${when}, in ${path}`;
}

/** What else went with a leftover's first path, and what it was. */
function removedWhat(left: Leftover): string {
  const name = left.target?.name;
  if (!left.part) return name ? ` (the journal of ${name}; its part file was gone)` : "";
  if (!left.journal) return "";
  return ` and its journal${name ? ` (${formatBytes(left.journaled)} of ${name})` : ""}`;
}

/** `2026-01-05 14:03`, local time. */
function formatDate(date: Date): string {
  const two = (n: number) => String(n).padStart(2, "0");
  return `${date.getFullYear()}-${two(date.getMonth() + 1)}-${two(date.getDate())} ` +
    `${two(date.getHours())}:${two(date.getMinutes())}`;
}

/** The command that cleans `dir`, as typed in a shell. */
function cleanCommand(dir: string): string {
  if (dir === ".") return "get --clean";
  return `get --clean --out ${shellWord(dir)}`;
}

/**
 * How to be rid of what is kept in `dir`, the same words wherever a
 * leftover is mentioned: `get --clean --out DIR (CLEAN at a peer's prompt)
 * discards it`.
 */
export function discardHint(dir: string, count = 1): string {
  return `${cleanCommand(dir)} (CLEAN at a peer's prompt) discards ${count === 1 ? "it" : "them"}`;
}
