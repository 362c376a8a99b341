/**
 * Fetching files from their holders: one connection per file, holders tried
 * in turn, bytes streamed into a hidden temporary file beside the target,
 * renamed into place only after size and SHA-256 match.
 *
 * @module
 */

import { join } from "node:path";
import {
  type FileHeader,
  formatFileRequest,
  type Holder,
  type Lookup,
  parseAddress,
  parseFileHeader,
  ProtocolError,
} from "./protocol.ts";
import { BufferedReader } from "./reader.ts";
import {
  BufferPool,
  closeQuietly,
  errorMessage,
  exactBytes,
  hashFile,
  isDisconnect,
  sha256Hasher,
  sinkStream,
  TransferError,
  Watchdog,
  writeText,
} from "./transfer.ts";

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
  from: string;
  /** The holders that failed before `from` worked. */
  failed: Attempt[];
}

/** Every holder failed, or the file could not be written here. */
export class DownloadError extends Error {
  /** The file asked for. */
  readonly file: string;
  /** Every failed try, in order. */
  readonly attempts: Attempt[];
  /** Builds the error. */
  constructor(file: string, message: string, attempts: Attempt[]) {
    super(message);
    this.name = "DownloadError";
    this.file = file;
    this.attempts = attempts;
  }
}

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Folder the file lands in. */
  outDir: string;
  /** Connecting, and any silence while a holder should be sending, longer than this fails the try. Default 10,000 ms. */
  timeoutMs?: number;
  /** Told of each failed try as it happens. */
  onAttemptFailed?: (name: string, attempt: Attempt) => void;
  /** Aborting it stops the download; nothing is left behind. */
  signal?: AbortSignal;
}

/** A failure on our own side (the disk), which no other holder can mend. */
class LocalError extends Error {}

/**
 * Downloads `lookup.name` from the first of `lookup.holders` that delivers
 * the announced size and SHA-256. Throws {@link DownloadError} listing every
 * try when none does; then nothing is left in `outDir`.
 *
 * A file already at the target with one of the announced hashes counts as
 * downloaded (`from` is `"here"`); a different file there is never
 * overwritten: the download fails with `EEXIST` before contacting anyone.
 */
export async function downloadFile(lookup: Lookup, options: DownloadOptions): Promise<Downloaded> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const path = join(options.outDir, lookup.name);
  const here = await localCopy(lookup, path);
  if (here) return here;
  const attempts: Attempt[] = [];
  const temp = join(options.outDir, `.p2p-${crypto.randomUUID()}.part`);
  let file: Deno.FsFile;
  try {
    file = await Deno.open(temp, { write: true, createNew: true });
  } catch (error) {
    throw new DownloadError(lookup.name, `cannot write in ${options.outDir}: ${errorMessage(error)}`, []);
  }
  let landed = false;
  try {
    let from: Holder | undefined;
    for (const holder of lookup.holders) {
      try {
        if (attempts.length > 0) {
          // Only after a failed try: on ext4, truncating a file makes its close
          // flush it to disk (auto_da_alloc), measured at 300 ms per GiB.
          await file.truncate(0);
          await file.seek(0, Deno.SeekMode.Start);
        }
        await fetchInto(file, lookup.name, holder, timeoutMs, options.signal);
        from = holder;
        break;
      } catch (error) {
        if (error instanceof LocalError) {
          throw new DownloadError(lookup.name, `cannot write ${temp}: ${error.message}`, attempts);
        }
        const attempt = { holder: holder.address, ...classify(error) };
        attempts.push(attempt);
        options.onAttemptFailed?.(lookup.name, attempt);
        if (options.signal?.aborted) throw new DownloadError(lookup.name, "cancelled", attempts);
      }
    }
    if (!from) {
      const message = attempts.length === 0 ? "no holder" : `all ${attempts.length} holders failed`;
      throw new DownloadError(lookup.name, message, attempts);
    }
    file.close();
    try {
      await Deno.rename(temp, path);
    } catch (error) {
      throw new DownloadError(
        lookup.name,
        `cannot move the verified file to ${path}: ${errorMessage(error)}`,
        attempts,
      );
    }
    landed = true;
    return { name: lookup.name, path, size: from.size, sha256: from.sha256, from: from.address, failed: attempts };
  } finally {
    closeQuietly(file);
    if (!landed) await Deno.remove(temp).catch(() => {});
  }
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
  return { name: lookup.name, path, size, sha256, from: "here", failed: [] };
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
): Promise<RemoteFile> {
  const { host, port } = parseAddress(address);
  const timeout = AbortSignal.timeout(timeoutMs);
  const conn = await Deno.connect({
    hostname: host,
    port,
    signal: signal ? AbortSignal.any([timeout, signal]) : timeout,
  });
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

/** Asks one holder for `name` and writes the bytes to `file`, verified against `expected`. */
async function fetchInto(
  file: Deno.FsFile,
  name: string,
  expected: Holder,
  timeoutMs: number,
  signal?: AbortSignal,
): Promise<void> {
  using remote = await requestFile(expected.address, name, timeoutMs, signal);
  const { header } = remote;
  if (header.size !== expected.size || header.sha256 !== expected.sha256) {
    await remote.body.cancel();
    throw new TransferError(
      "ECHANGED",
      `offers ${header.size} bytes sha256 ${short(header.sha256)}, the tracker said ${expected.size} bytes sha256 ${
        short(expected.sha256)
      }`,
    );
  }
  const hash = sha256Hasher();
  // writeSync, not write: on this 2-core machine a verified 1 GiB download
  // took 1.05-1.31 s of CPU at 808-1,007 MB/s with writeSync, against
  // 1.27-2.10 s at 545-981 MB/s with async writes, whose hand-off to a
  // blocking thread competes with the hashing and the sender for the cores.
  // The price: each 1 MiB write holds this process's event loop, measured
  // p50 0.2-2.5 ms, p99 up to 4.5 ms, max 15 ms with four downloads at once;
  // a disk that throttles writers would hold it longer (docs/PERFORMANCE.md).
  const disk = {
    write: (bytes: Uint8Array) => {
      try {
        return Promise.resolve(file.writeSync(bytes));
      } catch (error) {
        return Promise.reject(new LocalError(errorMessage(error)));
      }
    },
  };
  await remote.body.pipeTo(sinkStream(disk, { hash, pool: remote.pool }));
  const sha256 = hash.digest("hex");
  if (sha256 !== expected.sha256) {
    throw new TransferError("EHASH", `sent bytes with sha256 ${short(sha256)}, expected ${short(expected.sha256)}`);
  }
}

function short(sha256: string): string {
  return sha256.slice(0, 12) + "…";
}

/** Turns an error from a try into the code and message a person sees. */
export function classify(error: unknown): { code: string; message: string } {
  if (error instanceof TransferError) return { code: error.code, message: error.message };
  if (error instanceof ProtocolError) return { code: String(error.status), message: error.message };
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return { code: "ETIMEDOUT", message: "connect timed out" };
  }
  if (error instanceof DOMException && error.name === "AbortError") return { code: "ECANCELED", message: "cancelled" };
  if (error instanceof Deno.errors.ConnectionRefused) return { code: "ECONNREFUSED", message: "connection refused" };
  if (isDisconnect(error)) return { code: "ECONNRESET", message: "connection lost: " + errorMessage(error) };
  if (error instanceof Error) {
    return { code: (error as { code?: string }).code ?? error.name, message: errorMessage(error) };
  }
  return { code: "EUNKNOWN", message: String(error) };
}

/** The outcome for one requested name: landed, not found at the tracker, or failed. */
export type FileOutcome =
  | { name: string; ok: true; result: Downloaded }
  | { name: string; ok: false; reason: string; attempts: Attempt[] };

/**
 * Downloads every found file of `lookups` in parallel (one connection per
 * file, `Promise.allSettled`), and reports names the tracker did not find.
 * Results come in the order of `lookups`.
 */
export async function downloadAll(lookups: readonly Lookup[], options: DownloadOptions): Promise<FileOutcome[]> {
  const settled = await Promise.allSettled(
    lookups.map((l) => l.holders.length > 0 ? downloadFile(l, options) : Promise.reject(l)),
  );
  return settled.map((s, i): FileOutcome => {
    const name = lookups[i].name;
    if (s.status === "fulfilled") return { name, ok: true, result: s.value };
    const error = s.reason;
    if (error instanceof DownloadError) return { name, ok: false, reason: error.message, attempts: error.attempts };
    if (error === lookups[i]) {
      return { name, ok: false, reason: `${lookups[i].status} ${lookups[i].message ?? "not found"}`, attempts: [] };
    }
    return { name, ok: false, reason: errorMessage(error), attempts: [] };
  });
}
