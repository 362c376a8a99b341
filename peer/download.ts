/**
 * Fetching one file from its holders: holders grouped by version (size,
 * SHA-256, chunk root), each version fetched by `fetchVersion` (from
 * several holders at once when it can) into a hidden part file beside the
 * target, renamed into place only once the whole file's SHA-256 matches. An
 * interrupted download leaves its part file and journal for the next run.
 *
 * @module
 */

import { dirname, join } from "node:path";
import { chunkCount, type Holder, type Lookup, Timeouts } from "../protocol.ts";
import {
  type Attempt,
  DownloadError,
  errorMessage,
  FetchError,
  type Kept,
  LocalError,
  type SourceReport,
  TransferError,
} from "../io/errors.ts";
import type { RateLimit } from "../io/rate_limit.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
import { formatBytes } from "../io/words.ts";
import { hashFile } from "../disk/digest.ts";
import { PartFile } from "../disk/part_file.ts";
import type { PartialHoldings } from "./partial_holdings.ts";
import { fetchVersion, type Listed, type Version } from "./swarm.ts";
import type { TransferBoard } from "./transfer_board.ts";

/** A file that landed. */
export interface Downloaded {
  /** The file's name. */
  name: string;
  /** Where it landed. */
  path: string;
  /** Its size. */
  size: number;
  /** Its SHA-256, verified. */
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

/** Options of {@link downloadFile}. */
export interface DownloadOptions {
  /** Folder the file lands in. */
  outDir: string;
  /** Connecting, and any silence while a holder should be sending, longer than this fails the try. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Most holders of one file used at once. Default 4. */
  sources?: number;
  /** Told of each failed try as it happens. */
  onAttemptFailed?: (name: string, attempt: Attempt) => void;
  /** Aborting it stops the download; a resumable part file stays for the next run. */
  signal?: AbortSignal;
  /** With a secret: holders must prove they know it, and every byte is encrypted. */
  secret?: Secret;
  /** Connect to holders with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
  /** Where each download shows its progress. */
  board?: TransferBoard;
  /** Every download together receives at most this budget (`--max-download-rate`). */
  limit?: RateLimit;
  /**
   * Where a download of a file over one chunk serves the chunks it has
   * verified while it runs (a peer downloading into its shared folder).
   * Default: nothing served.
   */
  holdings?: PartialHoldings;
  /** Asks the tracker again who holds `name`: holders that appear while a download runs join it. Default: never. */
  lookAgain?: (name: string) => Promise<Lookup>;
  /** The whole file's SHA-256 on a thread of its own: true always, false never. Default: for a large file, with cores to spare. */
  hashThread?: boolean;
}

/**
 * Downloads `lookup.name` from its holders, one version at a time in the
 * order the holders came (the tracker lists the best first). Throws
 * `DownloadError` listing every failed try when no version arrives.
 *
 * A file already at the target with one of the announced hashes counts as
 * downloaded (`from` is `"here"`); a different file there is never
 * overwritten: the download fails with `EEXIST` before contacting anyone.
 *
 * @example
 * ```ts
 * const sha256 = "2f243db10b392b01c19f97d3a77b98ee2d8f908bec96918e2682a8dfee683e57";
 * const lookup = { name: "hello.txt", status: 200, holders: [{ address: "127.0.0.1:5555", size: 96, sha256 }] };
 * const landed = await downloadFile(lookup, { outDir: "./downloads" });
 * console.log(`saved ${landed.path} from ${landed.from}`);
 * ```
 */
export async function downloadFile(lookup: Lookup, options: DownloadOptions): Promise<Downloaded> {
  const path = join(options.outDir, lookup.name);
  const here = await localCopy(lookup, path);
  if (here) return here;
  return await new FileDownload(path, { lookup, options }).run();
}

/** One file's download: its versions in turn, and every try's outcome. */
class FileDownload {
  #path: string;
  #lookup: Lookup;
  #options: DownloadOptions;
  #attempts: Attempt[] = [];
  #sources: SourceReport[] = [];
  /** The part file the last version tried left for the next try, if any. */
  #kept: Kept[] = [];
  /** Why a version's download stalled, if one did (no holder to blame: none had what was missing). */
  #stalled: string | undefined;

  constructor(path: string, what: { lookup: Lookup; options: DownloadOptions }) {
    this.#path = path;
    this.#lookup = what.lookup;
    this.#options = what.options;
  }

  async run(): Promise<Downloaded> {
    for (const version of versions(this.#lookup.holders)) {
      const target = { name: this.#lookup.name, size: version.size, sha256: version.sha256, root: version.root };
      let { holders, partials } = version;
      while (holders.length + partials.length > 0) {
        const fetched = await this.#fetch(target, { holders, partials });
        if (typeof fetched === "object") return { ...fetched, failed: this.#attempts, sources: this.#sources };
        if (fetched === "failed") break;
        // Every byte came but the whole was wrong, and without chunk hashes no chunk can be
        // blamed: the holders used are out, the others start again from nothing.
        const unused = (list: string[]) => list.filter((h) => !this.#sources.some((s) => s.holder === h));
        const left = { holders: unused(holders), partials: unused(partials) };
        // nobody to blame (an empty file): this version is wrong
        if (left.holders.length + left.partials.length === holders.length + partials.length) break;
        ({ holders, partials } = left);
      }
    }
    const n = this.#attempts.length;
    const why = this.#stalled ?? (n === 0 ? "no holder" : n === 1 ? "the holder failed" : `all ${n} holders failed`);
    throw this.#error(this.#kept.length > 0 ? `${why}; ${keptNote(this.#kept, this.#lookup.name)}` : why);
  }

  #error(message: string, cause?: unknown): DownloadError {
    return new DownloadError(message, {
      file: this.#lookup.name,
      attempts: this.#attempts,
      sources: this.#sources,
      kept: this.#kept.length > 0 ? this.#kept : undefined,
      cause,
    });
  }

  #failed(attempt: Attempt): void {
    this.#attempts.push(attempt);
    this.#options.onAttemptFailed?.(this.#lookup.name, attempt);
  }

  /**
   * Fetches one version from `holders` into a part file and lands it.
   * Returns what landed, `"failed"` when every holder failed, or `"corrupt"`
   * when the whole file was wrong; throws `DownloadError` for a failure of
   * our own side or a cancellation.
   */
  async #fetch(
    target: Version,
    holders: { holders: string[]; partials: string[] },
  ): Promise<Omit<Downloaded, "failed" | "sources"> | "failed" | "corrupt"> {
    const options = this.#options;
    let part: PartFile;
    try {
      // Only a file of several chunks with a root gets a journal: only its chunks can be checked on resume.
      part = await PartFile.open(
        dirname(this.#path),
        chunkCount(target.size) > 1 ? target : { ...target, root: undefined },
      );
    } catch (error) {
      throw this.#error(errorMessage(error), error);
    }
    let keep = false;
    const transfer = options.board?.begin(target.name, target.size);
    const { root } = target;
    const holding = root !== undefined && chunkCount(target.size) > 1
      ? options.holdings?.start({ ...target, root }, part.path)
      : undefined;
    try {
      const fetched = await fetchVersion(target, {
        holders: holders.holders,
        partials: holders.partials,
        holding,
        lookAgain: options.lookAgain && (() => this.#lookAgain(target)),
        part,
        sources: options.sources,
        timeoutMs: options.timeoutMs ?? Timeouts.REQUEST_MS,
        signal: options.signal,
        secret: options.secret,
        tls: options.tls,
        onSourceFailed: (r) => this.#failed({ holder: r.holder, code: r.code, message: r.message }),
        transfer,
        limit: options.limit,
        hashThread: options.hashThread,
      });
      this.#sources.push(...fetched.sources);
      // Those fetching its chunks move to the landed file before the part file's name goes.
      await part.land(this.#path, { onLanded: () => holding?.landed(this.#path) });
      const from = fetched.sources.reduce((a, b) => b.bytes > a.bytes ? b : a, fetched.sources[0]);
      return {
        ...target,
        path: this.#path,
        from: from?.holder ?? "nobody (an empty file needs no holder)",
        resumed: fetched.resumed,
        chunks: fetched.chunks,
      };
    } catch (error) {
      if (error instanceof LocalError) throw this.#error(error.message, error);
      if (!(error instanceof FetchError)) throw error;
      this.#sources.push(...error.sources);
      // Failures found only at the end (a wrong whole) were not told as they happened.
      if (error.corrupt) {
        for (const r of error.sources) {
          if (r.code) this.#failed({ holder: r.holder, code: r.code, message: r.message ?? "" });
        }
      }
      if (error.cause instanceof TransferError && error.cause.code === "ESTALLED") this.#stalled = error.message;
      keep = error.resumable;
      if (keep) this.#kept.push({ path: part.path, bytes: part.journaledBytes });
      if (error.local) throw this.#error(error.message, error);
      if (options.signal?.aborted) {
        throw this.#error(`cancelled${keep ? `; ${keptNote(this.#kept, target.name)}` : ""}`, error);
      }
      return error.corrupt ? "corrupt" : "failed";
    } finally {
      holding?.withdraw(); // unless it landed: then the folder takes it over
      if (transfer) options.board?.end(transfer);
      await part.close(keep);
    }
  }

  /** The holders of `target` the tracker lists now. */
  async #lookAgain(target: Version): Promise<Listed[]> {
    const lookup = await this.#options.lookAgain!(target.name);
    return lookup.holders
      .filter((h) => h.size === target.size && h.sha256 === target.sha256 && h.root === target.root)
      .map((h) => ({ address: h.address, partial: h.partial === true }));
  }
}

/**
 * `kept 3.00 MiB of movie.bin in out/.p2p-….part for the next try`, and
 * `…; and 1.00 MiB of another version in …` for each other version tried
 * (how to discard them is the command line's to say).
 */
function keptNote(kept: Kept[], name: string): string {
  const [last, ...others] = kept.toReversed();
  const more = others.map((k) => ` and ${formatBytes(k.bytes)} of another version in ${k.path}`).join("");
  return `kept ${formatBytes(last.bytes)} of ${name} in ${last.path}${more} for the next try`;
}

/** A version of a file and who holds it: whole, or in part (peers still downloading it). */
type Held = Omit<Version, "name"> & { holders: string[]; partials: string[] };

/** The holders grouped by version, in the order each version first appears. */
function versions(holders: readonly Holder[]): Held[] {
  const byKey = new Map<string, Held>();
  for (const h of holders) {
    const key = `${h.size} ${h.sha256} ${h.root ?? ""}`;
    let version = byKey.get(key);
    if (!version) {
      byKey.set(key, version = { size: h.size, sha256: h.sha256, root: h.root, holders: [], partials: [] });
    }
    const list = h.partial ? version.partials : version.holders;
    if (!version.holders.includes(h.address) && !version.partials.includes(h.address)) list.push(h.address);
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
    throw new DownloadError(`cannot look at ${path}: ${errorMessage(error)}`, { file: lookup.name, cause: error });
  }
  const exists = { holder: "here", code: "EEXIST", message: `${path} already exists` };
  if (!info.isFile || !lookup.holders.some((h) => h.size === info.size)) {
    throw new DownloadError(`${path} is in the way; move it or choose another --out`, {
      file: lookup.name,
      attempts: [exists],
    });
  }
  const { size, sha256 } = await hashFile(path);
  if (!lookup.holders.some((h) => h.size === size && h.sha256 === sha256)) {
    throw new DownloadError(`a different ${path} is in the way; move it or choose another --out`, {
      file: lookup.name,
      attempts: [exists],
    });
  }
  return { name: lookup.name, path, size, sha256, from: "here", failed: [], sources: [], resumed: 0 };
}
