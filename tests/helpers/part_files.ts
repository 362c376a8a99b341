/**
 * What a download leaves in its folder while it runs, or after it was
 * stopped: the hidden part file and the journal of the chunks it holds.
 *
 * @module
 */

import { join } from "node:path";
import { listDir } from "./temp.ts";

/** The hidden files of a download in `dir` (`.p2p-…`): the paths of its part file and journal, if there, and every name. */
export async function hiddenFiles(dir: string): Promise<{ part?: string; journal?: string; names: string[] }> {
  const names = (await listDir(dir)).filter((n) => n.startsWith(".p2p-"));
  const find = (ext: string) => names.find((n) => n.endsWith(ext));
  const part = find(".part");
  const journal = find(".journal");
  return { part: part && join(dir, part), journal: journal && join(dir, journal), names };
}

/** The chunks the journal in `dir` lists (whole lines after the header), and its header; none while there is none. */
export async function readJournal(dir: string): Promise<{ header: unknown; chunks: number[] }> {
  const { journal } = await hiddenFiles(dir);
  if (!journal) return { header: undefined, chunks: [] };
  const text = await Deno.readTextFile(journal).catch(() => "");
  const lines = text.split("\n");
  lines.pop(); // empty after the last line feed, or a line being written
  if (lines.length === 0) return { header: undefined, chunks: [] };
  return { header: JSON.parse(lines[0]), chunks: lines.slice(1).map(Number) };
}
