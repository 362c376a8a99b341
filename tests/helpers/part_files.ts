/**
 * What a download leaves in its folder while it runs, or after it was
 * stopped: the hidden part file and the journal of the chunks it holds;
 * and real downloads that leave them (stalled, then cancelled).
 *
 * @module
 */

import { join } from "node:path";
import { downloadFile } from "../../peer/download.ts";
import { eventually } from "./events.ts";
import { holderOf } from "./hashes.ts";
import { startFakeHolder } from "./holders.ts";
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

/** Chunks the journal of `name`'s download in `dir` lists (whole lines after its header); 0 while there is none. */
export async function journaledChunks(dir: string, name: string): Promise<number> {
  for (const file of (await listDir(dir)).filter((n) => /^\.p2p-[0-9a-f]{32}\.journal$/.test(n))) {
    const lines = (await Deno.readTextFile(join(dir, file)).catch(() => "")).split("\n");
    lines.pop(); // empty after the last line feed, or a line being written
    if (lines.length > 0 && headerName(lines[0]) === name) return lines.length - 1;
  }
  return 0;
}

/** The file a journal's header line names; undefined for a line that is not one (yet). */
function headerName(line: string): unknown {
  try {
    return JSON.parse(line).name;
  } catch {
    return undefined;
  }
}

/** A download started by {@link startStalledDownload}: running until cancelled. */
export interface StalledDownload extends AsyncDisposable {
  /** Cancels the download (as SIGINT would) and resolves with the error it ended with. */
  cancel(): Promise<unknown>;
}

/**
 * Starts a real download of `name` (`data`, over 1 MiB) into `dir` from a
 * holder on loopback that sends `chunks` whole chunks and then stalls, and
 * resolves once the journal lists them: the part file and journal are on
 * disk and held by the running download. Cancel it and they stay, what a
 * cancelled download leaves behind. Dispose cancels it if need be and stops
 * the holder.
 */
export async function startStalledDownload(
  dir: string,
  file: { name: string; data: Uint8Array; chunks: number },
): Promise<StalledDownload> {
  const { name, data, chunks } = file;
  const holder = startFakeHolder({ name, data, stall: chunks });
  const controller = new AbortController();
  const settled = downloadFile({ name, status: 200, holders: [holderOf(holder.address, data)] }, {
    outDir: dir,
    signal: controller.signal,
  }).then((): unknown => new Error(`the download of ${name} finished, though its holder stalls`), (e: unknown) => e);
  const cancel = async () => {
    controller.abort();
    return await settled;
  };
  try {
    await eventually(`${chunks} chunks of ${name} journaled`, async () => await journaledChunks(dir, name) >= chunks);
  } catch (error) {
    await cancel();
    await holder[Symbol.asyncDispose]();
    throw error;
  }
  return {
    cancel,
    [Symbol.asyncDispose]: async () => {
      await cancel();
      await holder[Symbol.asyncDispose]();
    },
  };
}

/**
 * What a cancelled download of `name` leaves in `dir`: a real download from
 * a stalling holder, cancelled once `chunks` whole chunks are journaled.
 * Resolves with the error it ended with (its message says what was kept).
 */
export async function leaveLeftover(
  dir: string,
  file: { name: string; data: Uint8Array; chunks: number },
): Promise<unknown> {
  await using download = await startStalledDownload(dir, file);
  return await download.cancel();
}
