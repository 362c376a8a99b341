/**
 * Fetching files from their holders: holders grouped by version (size,
 * SHA-256, chunk root), each version fetched by {@link fetchVersion} (from
 * several holders at once when it can) into a hidden part file beside the
 * target, renamed into place only once the whole file's SHA-256 matches. An
 * interrupted download leaves its part file and journal for the next run.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { chunkCount } from "../disk/chunks.ts";
import {
  type FileHeader,
  formatFileRequest,
  type Holder,
  type Lookup,
  parseAddress,
  parseFileHeader,
} from "../protocol.ts";
import { LocalError, PartFile } from "../disk/part_file.ts";
import { dialPeer, type Secret } from "../io/secret.ts";
import { BufferedReader } from "../io/reader.ts";
import { classify, FetchError, fetchVersion, type SourceReport, type Version } from "./swarm.ts";
import type { TransferBoard } from "../cli/progress.ts";
import {
  BufferPool,
  closeQuietly,
  errorMessage,
  exactBytes,
  hashFile,
  type RateLimit,
  TransferError,
  Watchdog,
  writeText,
} from "../io/streams.ts";

export { classify, type SourceReport };

/** One failed try of one holder. `code` is a wire status (`404`) or an error code (`ECONNREFUSED`). */
export interface Attempt {
  holder: string;
  code: string;
  message: string;
}

/** A file that landed. */
export interface Downloaded {
  name: string;
  path: string;
  size: number;
  sha256: string;
  /** Its chunk root, for a file of more than one chunk when one was announced. */
  root?: string;
  /** The holder that delivered the most, or `"here"` when the file was already there. */
  from: string;
  /** The holders that failed, in order. */
  failed: Attempt[];
  /** Every holder used and what it delivered, failed ones included. */
  sources: SourceReport[];
  /** Bytes an earlier, interrupted run had left verified in the part file. */
  resumed: number;
  /** The chunk hashes, checked against the root (for re-sharing); absent when no root was announced. */
  chunks?: Uint8Array;
}

/** Every holder failed, or the file could not be written here. */
export class DownloadError extends Error {
  /** The file asked for. */
  readonly file: string;
  /** Every failed try, in order. */
  readonly attempts: Attempt[];
  /** Every holder used and what it delivered. */
  readonly sources: SourceReport[];
  /** Builds the error. */
  constructor(file: string, message: string, attempts: Attempt[], sources: SourceReport[] = []) {
    super(message);
    this.name = "DownloadError";
    this.file = file;
    this.attempts = attempts;
    this.sources = sources;
  }
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Folder the file lands in. */
  outDir: string;
  /** Connecting, and any silence while a holder should be sending, longer than this fails the try. Default 10,000 ms. */
  timeoutMs?: number;
  /** Most holders of one file used at once. Default 4. */
  sources?: number;
  /** Told of each failed try as it happens. */
  onAttemptFailed?: (name: string, attempt: Attempt) => void;
  /** Aborting it stops the download; a resumable part file stays for the next run. */
  signal?: AbortSignal;
  /** With a secret: holders must prove they know it, and every byte is encrypted. */
  secret?: Secret;
  /** Where each download shows its progress. */
  board?: TransferBoard;
  /** Every download together receives at most this budget (`--max-download-rate`). */
  limit?: RateLimit;
}

/**
 * Downloads `lookup.name` from its holders, one version at a time in the
 * order the holders came (the tracker lists the best first). Throws
 * {@link DownloadError} listing every failed try when no version arrives.
 *
 * A file already at the target with one of the announced hashes counts as
 * downloaded (`from` is `"here"`); a different file there is never
 * overwritten: the download fails with `EEXIST` before contacting anyone.
 */
export async function downloadFile(lookup: Lookup, options: DownloadOptions): Promise<Downloaded> {
  const path = join(options.outDir, lookup.name);
  const here = await localCopy(lookup, path);
  if (here) return here;
  const attempts: Attempt[] = [];
  const sources: SourceReport[] = [];
  for (const version of versions(lookup.holders)) {
    const target = { name: lookup.name, size: version.size, sha256: version.sha256, root: version.root };
    let holders = version.holders;
    while (holders.length > 0) {
      const fetched = await fetchInto(path, target, holders, options, attempts, sources);
      if (typeof fetched === "object") return { ...fetched, failed: attempts, sources };
      if (fetched === "failed") break;
      // Every byte came but the whole was wrong, and without chunk hashes no chunk can be
      // blamed: the holders used are out, the others start again from nothing.
      const left = holders.filter((h) => !sources.some((s) => s.holder === h));
      if (left.length === holders.length) break; // nobody to blame (an empty file): this version is wrong
      holders = left;
    }
  }
  const message = attempts.length === 0 ? "no holder" : `all ${attempts.length} holders failed`;
  throw new DownloadError(lookup.name, message, attempts, sources);
}

/**
 * Fetches one version from `holders` into a part file and lands it at
 * `path`. Returns what landed, `"failed"` when every holder failed, or
 * `"corrupt"` when the whole file was wrong; throws {@link DownloadError}
 * for a failure of our own side or a cancellation. Failed tries go into
 * `attempts` (and to `options.onAttemptFailed`), holders used into `sources`.
 */
async function fetchInto(
  path: string,
  target: Version,
  holders: string[],
  options: DownloadOptions,
  attempts: Attempt[],
  sources: SourceReport[],
): Promise<Omit<Downloaded, "failed" | "sources"> | "failed" | "corrupt"> {
  const failed = (holder: string, code: string, message: string) => {
    const attempt = { holder, code, message };
    attempts.push(attempt);
    options.onAttemptFailed?.(target.name, attempt);
  };
  let part: PartFile;
  try {
    // Only a file of several chunks with a root gets a journal: only its chunks can be checked on resume.
    part = await PartFile.open(dirname(path), chunkCount(target.size) > 1 ? target : { ...target, root: undefined });
  } catch (error) {
    throw new DownloadError(target.name, errorMessage(error), attempts, sources);
  }
  let keep = false;
  const transfer = options.board?.begin(target.name, target.size);
  try {
    const fetched = await fetchVersion(target, holders, part, {
      sources: options.sources,
      timeoutMs: options.timeoutMs ?? 10_000,
      signal: options.signal,
      secret: options.secret,
      onSourceFailed: (r) => failed(r.holder, r.code, r.message),
      transfer,
      limit: options.limit,
    });
    sources.push(...fetched.sources);
    await part.land(path);
    const from = fetched.sources.reduce((a, b) => b.bytes > a.bytes ? b : a, fetched.sources[0]);
    return {
      ...target,
      path,
      from: from?.holder ?? "nobody (an empty file needs no holder)",
      resumed: fetched.resumed,
      chunks: fetched.chunks,
    };
  } catch (error) {
    if (error instanceof LocalError) throw new DownloadError(target.name, error.message, attempts, sources);
    if (!(error instanceof FetchError)) throw error;
    sources.push(...error.sources);
    // Failures found only at the end (a wrong whole) were not told as they happened.
    if (error.corrupt) { for (const r of error.sources) if (r.code) failed(r.holder, r.code, r.message ?? ""); }
    keep = error.resumable;
    if (error.local) throw new DownloadError(target.name, error.message, attempts, sources);
    if (options.signal?.aborted) {
      const kept = keep ? "; what arrived is kept for the next try" : "";
      throw new DownloadError(target.name, `cancelled${kept}`, attempts, sources);
    }
    return error.corrupt ? "corrupt" : "failed";
  } finally {
    if (transfer) options.board?.end(transfer);
    await part.close(keep);
  }
}

/** The holders grouped by version, in the order each version first appears. */
function versions(holders: readonly Holder[]): { size: number; sha256: string; root?: string; holders: string[] }[] {
  const byKey = new Map<string, { size: number; sha256: string; root?: string; holders: string[] }>();
  for (const h of holders) {
    const key = `${h.size} ${h.sha256} ${h.root ?? ""}`;
    let version = byKey.get(key);
    if (!version) byKey.set(key, version = { size: h.size, sha256: h.sha256, root: h.root, holders: [] });
    if (!version.holders.includes(h.address)) version.holders.push(h.address);
  }
  return [...byKey.values()];
}

/** The file already at `path`, if it is one of the announced versions; throws if something else is there. */
async function localCopy(lookup: Lookup, path: string): Promise<Downloaded | undefined> {
  let info: Deno.FileInfo;
  try {
    info = await Deno.lstat(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return undefined;
    throw new DownloadError(lookup.name, `cannot look at ${path}: ${errorMessage(error)}`, []);
  }
  const exists = { holder: "here", code: "EEXIST", message: `${path} already exists` };
  if (!info.isFile || !lookup.holders.some((h) => h.size === info.size)) {
    throw new DownloadError(lookup.name, `${path} is in the way; move it or choose another --out`, [exists]);
  }
  const { size, sha256 } = await hashFile(path);
  if (!lookup.holders.some((h) => h.size === size && h.sha256 === sha256)) {
    throw new DownloadError(lookup.name, `a different ${path} is in the way; move it or choose another --out`, [
      exists,
    ]);
  }
  return { name: lookup.name, path, size, sha256, from: "here", failed: [], sources: [], resumed: 0 };
}

/** A holder's answer to a file request: its header, then a stream of exactly `header.length` bytes. */
export interface RemoteFile extends Disposable {
  header: FileHeader;
  /** The bytes, in ~1 MiB chunks; errors with `ETIMEDOUT` after `timeoutMs` of silence, `ETRUNCATED` on early end. */
  body: ReadableStream<Uint8Array>;
  /** Where the body's chunks come from: the sink gives them back here once written. */
  pool: BufferPool;
}

/**
 * Connects to `address` and asks for `name`. Throws a {@link ProtocolError}
 * carrying the holder's status if it refuses, a {@link TransferError} if it
 * closes or stays silent for `timeoutMs`. Dispose of the result to close.
 */
export async function requestFile(
  address: string,
  name: string,
  timeoutMs: number,
  signal?: AbortSignal,
  secret?: Secret,
): Promise<RemoteFile> {
  const { host, port } = parseAddress(address);
  const conn = await dialPeer(host, port, { timeoutMs, signal, secret });
  const watchdog = new Watchdog(timeoutMs, () => closeQuietly(conn));
  const cancel = () => closeQuietly(conn);
  signal?.addEventListener("abort", cancel, { once: true });
  const dispose = () => {
    signal?.removeEventListener("abort", cancel);
    watchdog.stop();
    closeQuietly(conn);
  };
  const timedOut = (error: unknown) => {
    if (signal?.aborted) throw new TransferError("ECANCELED", "cancelled");
    throw watchdog.expired ? new TransferError("ETIMEDOUT", `silent for ${timeoutMs} ms`) : error;
  };
  try {
    await writeText(conn, formatFileRequest({ name, offset: 0 }));
    const reader = new BufferedReader(conn);
    const line = await reader.readLine(4096).catch(timedOut);
    watchdog.touch();
    if (line === null) throw new TransferError("ECLOSED", "closed the connection without answering");
    const header = parseFileHeader(line);
    const source = { read: (buffer: Uint8Array) => reader.read(buffer).catch(timedOut) };
    const pool = new BufferPool();
    const body = exactBytes(source, header.length, { onRead: () => watchdog.touch(), pool });
    return { header, body, pool, [Symbol.dispose]: dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}

/** Why a file did not arrive, in one word: nobody has it, the name was refused, the run was cancelled, or every try failed. */
export type FailureKind = "not-found" | "refused" | "cancelled" | "failed";

/** When and how long: set by {@link downloadAll}. */
interface Timing {
  /** From the start of the download (after any wait) to its outcome, ms. */
  durationMs?: number;
  /** How long the file was waited for before anyone had it (`--wait`), ms. */
  waitedMs?: number;
}

/** The outcome for one requested name: landed, not found at the tracker, or failed. */
export type FileOutcome =
  | ({ name: string; ok: true; result: Downloaded } & Timing)
  | ({
    name: string;
    ok: false;
    reason: string;
    attempts: Attempt[];
    sources: SourceReport[];
    kind?: FailureKind;
  } & Timing);

/** A name nobody held when asked, whose lookup comes once someone announces it (or the wait ends). */
export interface PendingLookup {
  name: string;
  later: Promise<Lookup>;
}

/** Options of {@link downloadAll}. */
export interface DownloadAllOptions extends DownloadOptions {
  /** Told of each file's outcome as soon as it is known (to share or report it at once); awaited. */
  onSettled?: (outcome: FileOutcome) => void | Promise<void>;
}

/**
 * Downloads every found file of `lookups` in parallel (`Promise.allSettled`,
 * each file from its own connections), and reports names the tracker did
 * not find. Results come in the order of `lookups`.
 */
export async function downloadAll(
  lookups: readonly (Lookup | PendingLookup)[],
  options: DownloadAllOptions,
): Promise<FileOutcome[]> {
  const settled = await Promise.allSettled(lookups.map(async (entry) => {
    const asked = performance.now();
    let outcome: FileOutcome;
    try {
      const lookup = "later" in entry ? await entry.later : entry;
      const started = performance.now();
      outcome = { ...await downloadOne(lookup, options) };
      outcome.durationMs = Math.round(performance.now() - started);
      if ("later" in entry) outcome.waitedMs = Math.round(started - asked);
    } catch (error) {
      // The wait or the lookup failed (the tracker went away, say): still an outcome to tell.
      outcome = { name: entry.name, ok: false, reason: errorMessage(error), attempts: [], sources: [] };
      outcome.kind = options.signal?.aborted ? "cancelled" : "failed";
    }
    await options.onSettled?.(outcome);
    return outcome;
  }));
  return settled.map((s, i): FileOutcome =>
    s.status === "fulfilled" ? s.value : {
      name: lookups[i].name,
      ok: false,
      reason: errorMessage(s.reason),
      attempts: [],
      sources: [],
      kind: options.signal?.aborted ? "cancelled" : "failed",
    }
  );
}

async function downloadOne(lookup: Lookup, options: DownloadOptions): Promise<FileOutcome> {
  const name = lookup.name;
  if (lookup.holders.length === 0) {
    const reason = `${lookup.status} ${lookup.message ?? "not found"}`;
    const kind = options.signal?.aborted ? "cancelled" : lookup.status === 404 ? "not-found" : "refused";
    return { name, ok: false, reason, attempts: [], sources: [], kind };
  }
  try {
    return { name, ok: true, result: await downloadFile(lookup, options) };
  } catch (error) {
    if (!(error instanceof DownloadError)) throw error;
    const kind = options.signal?.aborted ? "cancelled" : "failed";
    return { name, ok: false, reason: error.message, attempts: error.attempts, sources: error.sources, kind };
  }
}
