/**
 * Fetching one version of a file (one size, SHA-256 and chunk root) from the
 * holders that have it, into a {@link PartFile}.
 *
 * - **Several holders**, with a chunk root: up to `sources` connections, one
 *   per holder, each asking for one 1 MiB chunk at a time with the next
 *   request already sent (so no connection idles between chunks). Every
 *   chunk is checked against the holder's chunk hashes, themselves checked
 *   against the announced root; a source that sends a bad chunk, breaks or
 *   stays silent is dropped, its chunks go back to the pool, and an unused
 *   holder takes its place. When no chunk is left to hand out, idle sources
 *   also ask for chunks still in flight elsewhere, and the first copy wins
 *   (endgame): a slow or stalled source cannot hold the download at 99%.
 * - **One holder** (or no root): one `RANGE` request for everything missing,
 *   streamed straight to disk; if it fails, the next holder carries on from
 *   there.
 *
 * Either way the whole file's SHA-256 is computed in order as chunks land
 * (chunks that land out of order are read back from the part file) and must
 * match before the file is renamed into place.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import {
  CHUNK_SIZE,
  chunkCount,
  chunkMatches,
  chunkSpan,
  HASH_BYTES,
  hexToBytes,
  impliedChunks,
  rootOf,
} from "../disk/chunks.ts";
import { formatFileRequest, parseAddress, parseFileHeader, parseHashesHeader, ProtocolError } from "../protocol.ts";
import { LocalError, PartFile } from "../disk/part_file.ts";
import { AuthError, dialPeer, type Link, type Secret } from "../io/secret.ts";
import { BufferedReader } from "../io/reader.ts";
import type { Transfer } from "../cli/progress.ts";
import {
  BufferPool,
  CHUNK_BYTES,
  closeQuietly,
  errorMessage,
  exactBytes,
  isDisconnect,
  type RateLimit,
  TransferError,
  Watchdog,
  writeText,
} from "../io/streams.ts";

if (CHUNK_SIZE !== CHUNK_BYTES) throw new Error("a chunk must be one piece of the byte path");

/** Requests a source keeps sent ahead. */
const DEPTH = 2;
/** A source with a request out and no byte for this long is late (or the timeout's half, if shorter). */
const SILENT_MS = 1_000;
/** How often idle sources look again for a late chunk to take over, in the endgame. */
const RECHECK_MS = 100;

/** How one holder served one download. */
export interface SourceReport {
  holder: string;
  /** Bytes it delivered that landed (duplicates and rejected chunks not counted). */
  bytes: number;
  /** Chunks it delivered that landed. */
  chunks: number;
  /** Why it was dropped (`EHASH`, `ETIMEDOUT`, `404`, …); absent if it served to the end. */
  code?: string;
  message?: string;
}

/** The version to fetch. */
export interface Version {
  name: string;
  size: number;
  sha256: string;
  /** Chunk root, for a file of more than one chunk; without it: one source at a time, no resume. */
  root?: string;
}

/** Options of {@link fetchVersion}. */
export interface FetchVersionOptions {
  /** Most holders used at once. Default 4. */
  sources?: number;
  /** Connecting, and any silence while a holder should be sending, longer than this drops the holder. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** With a secret: holders must prove they know it, and every byte is encrypted. */
  secret?: Secret;
  /** Told of each holder dropped, as it happens. */
  onSourceFailed?: (report: SourceReport & { code: string; message: string }) => void;
  /** Kept up to date with the bytes received and the sources in use (for a progress display). */
  transfer?: Transfer;
  /** Bytes received wait for this budget (shared by every download of a peer): `--max-download-rate`. */
  limit?: RateLimit;
}

/** What {@link fetchVersion} did. */
export interface Fetched {
  /** Every holder used, in the order they were. */
  sources: SourceReport[];
  /** Bytes found already verified in the part file from an earlier run. */
  resumed: number;
  /** The chunk hashes, checked against the root; `undefined` when no root was announced. */
  chunks?: Uint8Array;
}

/** The version could not be fetched; `sources` says what each holder did. */
export class FetchError extends Error {
  /** Every holder used. */
  readonly sources: SourceReport[];
  /** True when the failure is ours (the disk), not the holders'. */
  readonly local: boolean;
  /** True when verified chunks are in the part file and a later run can carry on from them. */
  readonly resumable: boolean;
  /** True when every byte arrived but the whole was wrong: nothing in the part file can be trusted. */
  readonly corrupt: boolean;
  /** Builds the error. */
  constructor(
    message: string,
    sources: SourceReport[],
    flags: { local?: boolean; resumable?: boolean; corrupt?: boolean } = {},
  ) {
    super(message);
    this.name = "FetchError";
    this.sources = sources;
    this.local = flags.local ?? false;
    this.resumable = flags.resumable ?? false;
    this.corrupt = flags.corrupt ?? false;
  }
}

/**
 * Fetches `version` from `holders` (addresses, best first) into `part`,
 * verified; the caller lands or closes the part file. Throws
 * {@link FetchError}.
 */
export function fetchVersion(
  version: Version,
  holders: readonly string[],
  part: PartFile,
  options: FetchVersionOptions,
): Promise<Fetched> {
  return new Swarm(version, holders, part, options).run();
}

interface Request {
  first: number;
  count: number;
}

interface Source {
  report: SourceReport;
  conn?: Link;
  outstanding: Request[];
  /** When the answer at the head of `outstanding` began to be awaited. */
  headStart: number;
  /** When the last bytes came. */
  lastRead: number;
  /** Bytes per ms over its recent chunks, once one arrived. */
  rate?: number;
  /** Closed by us because all it still had to send had come from elsewhere. */
  cut?: boolean;
  /** Bytes read of chunks not delivered yet (counted in the progress; taken back if they never land). */
  partial: number;
  /** Waiting for download-rate budget: our own doing, so neither silent nor late. */
  throttled?: boolean;
}

class Swarm {
  #v: Version;
  #part: PartFile;
  #options: FetchVersionOptions;
  #count: number;
  /** Checking each chunk, several sources at once; else one streaming source at a time. */
  #verify: boolean;
  #list: Uint8Array | undefined;
  /** Whose chunk list was taken: blamed too if the whole file comes out wrong. */
  #listSourceReport: SourceReport | undefined;
  #ready = false;
  #done: Uint8Array;
  #doneCount = 0;
  #owners: Uint16Array;
  /** Every chunk before it is done or in flight. */
  #cursor = 0;
  #whole: Hash = createHash("sha256");
  #nextHash = 0;
  #scratch: Uint8Array | undefined;
  /** Holders not in use: never tried yet, or cut off and welcome back. */
  #reserve: string[];
  /** Most sources at once. */
  #width: number;
  /** Chunk hashes being accepted (resumed chunks checked); sources wait for it. */
  #accepting: Promise<void> | undefined;
  #active = new Set<Source>();
  /** Aborted when the download ends: connections still being made give up. */
  #stop = new AbortController();
  /** Every source's loop, so that none outlives the download. */
  #loops: Promise<void>[] = [];
  #reports: SourceReport[] = [];
  #resumed = 0;
  #waiters: (() => void)[] = [];
  #recheck: ReturnType<typeof setTimeout> | undefined;
  #pool = new BufferPool(8);
  #outcome = Promise.withResolvers<void>();
  #finished = false;

  constructor(v: Version, holders: readonly string[], part: PartFile, options: FetchVersionOptions) {
    this.#v = v;
    this.#part = part;
    this.#options = options;
    this.#count = chunkCount(v.size);
    this.#done = new Uint8Array(this.#count);
    this.#owners = new Uint16Array(this.#count);
    this.#list = impliedChunks(v.size, v.sha256);
    this.#verify = v.root !== undefined && holders.length > 1 && this.#count > 1;
    this.#width = this.#verify ? Math.max(1, options.sources ?? 4) : 1;
    this.#reserve = [...holders];
  }

  async run(): Promise<Fetched> {
    const { signal } = this.#options;
    const cancel = () => this.#fail(new TransferError("ECANCELED", "cancelled"));
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      if (this.#count === 0) this.#finish();
      else if (this.#list) await this.#setList(this.#list);
      else if (this.#v.root === undefined) this.#ready = true;
      if (!this.#finished) this.#refill();
      await this.#outcome.promise;
    } finally {
      signal?.removeEventListener("abort", cancel);
      for (const s of this.#active) if (s.conn) closeQuietly(s.conn);
      // New loops may start while earlier ones end (a replacement holder): wait until none is left.
      for (let seen = 0; seen < this.#loops.length; seen = this.#loops.length) {
        await Promise.allSettled(this.#loops);
      }
    }
    const sha256 = this.#whole.digest("hex");
    if (sha256 !== this.#v.sha256) {
      // Every chunk arrived, yet the whole is wrong: the root or the bytes lied.
      const message = `the file's sha256 is ${sha256.slice(0, 12)}…, ${this.#v.sha256.slice(0, 12)}… was announced`;
      const blamed = this.#reports.filter((r) => r.bytes > 0 || r === this.#listSourceReport);
      // Their bytes were not worth anything: no credit for them.
      for (const r of blamed.length > 0 ? blamed : this.#reports) {
        Object.assign(r, { code: "EHASH", message, bytes: 0 });
      }
      // Checked chunk by chunk, the bytes are those of the chunk hashes: the announced
      // (sha256, root) pair itself is wrong, whoever serves it. Else no chunk can be blamed.
      throw new FetchError(message, this.#reports, { corrupt: !this.#verify });
    }
    // Chunk hashes only if the chunks were checked against them: they are re-shared as they are.
    const checked = this.#verify || this.#count <= 1;
    return { sources: this.#reports, resumed: this.#resumed, chunks: checked ? this.#list : undefined };
  }

  /** Starts sources from the reserve up to the width. */
  #refill(): void {
    while (this.#active.size < this.#width && this.#reserve.length > 0) this.#startSource();
  }

  /** Opens a connection to the next holder of the reserve and serves it until the download ends or it fails. */
  #startSource(): void {
    const holder = this.#reserve.shift()!;
    const now = performance.now();
    // A holder back from the reserve (it was cut off) keeps its report.
    let report = this.#reports.find((r) => r.holder === holder);
    if (!report) this.#reports.push(report = { holder, bytes: 0, chunks: 0 });
    const source: Source = { report, outstanding: [], headStart: now, lastRead: now, partial: 0 };
    this.#active.add(source);
    if (this.#options.transfer) this.#options.transfer.sources = this.#active.size;
    this.#loops.push(this.#serve(source).catch((error) => this.#drop(source, error)));
  }

  async #serve(source: Source): Promise<void> {
    const { host, port } = parseAddress(source.report.holder);
    const conn = await dialPeer(host, port, {
      timeoutMs: this.#options.timeoutMs,
      signal: this.#stop.signal,
      secret: this.#options.secret,
    });
    source.conn = conn;
    if (this.#finished) return this.#leave(source);
    const reader = new BufferedReader(conn);
    // Every source that connects before the chunk hashes are known asks for them too, so
    // that a holder slow to answer cannot hold the others; the first good list wins.
    if (!this.#ready) await this.#fetchList(source, reader);
    if (!this.#ready) await this.#accepting;
    if (this.#finished) return this.#leave(source);
    while (!this.#finished) {
      while (source.outstanding.length < DEPTH) {
        const request = this.#pick(source);
        if (!request) break;
        if (source.outstanding.length === 0) source.headStart = performance.now();
        source.outstanding.push(request);
        for (let i = request.first; i < request.first + request.count; i++) this.#owners[i]++;
        const { offset } = chunkSpan(request.first, this.#v.size);
        const end = Math.min(this.#v.size, (request.first + request.count) * CHUNK_SIZE);
        await writeText(
          conn,
          formatFileRequest({ verb: "RANGE", name: this.#v.name, offset, length: end - offset }),
        );
      }
      if (source.outstanding.length === 0) {
        // Nothing to hand out: look again soon, for a chunk that has become late elsewhere.
        this.#recheck ??= setTimeout(() => {
          this.#recheck = undefined;
          this.#notify();
        }, RECHECK_MS);
        await this.#changed();
        continue;
      }
      await this.#receive(source, reader, source.outstanding[0]);
      this.#release(source.outstanding.shift()!);
      source.headStart = performance.now();
    }
    this.#leave(source);
  }

  /** `HASHES`: the chunk hashes, which must come to the announced root. */
  async #fetchList(source: Source, reader: BufferedReader): Promise<void> {
    try {
      await writeText(source.conn!, formatFileRequest({ verb: "HASHES", name: this.#v.name, offset: 0 }));
      using watchdog = new Watchdog(this.#options.timeoutMs, () => closeQuietly(source.conn!));
      const read = async () => {
        const line = await reader.readLine(4096).catch((e) => Promise.reject(this.#timedOut(e, watchdog)));
        if (line === null) throw new TransferError("ECLOSED", "closed the connection without answering");
        watchdog.touch();
        return line;
      };
      const header = parseHashesHeader(await read());
      this.#checkVersion(header);
      if (header.chunkSize !== CHUNK_SIZE || header.count !== this.#count) {
        throw new TransferError("EHASHES", `lists ${header.count} chunks of ${header.chunkSize} bytes`);
      }
      const list = new Uint8Array(this.#count * HASH_BYTES);
      for (let i = 0; i < this.#count; i++) {
        const line = await read();
        if (!/^[0-9a-f]{64}$/.test(line)) throw new TransferError("EHASHES", `bad chunk hash line ${i}`);
        list.set(hexToBytes(line), i * HASH_BYTES);
      }
      if (rootOf(list) !== this.#v.root) {
        throw new TransferError("EHASHES", "its chunk hashes do not match the announced root");
      }
      if (!this.#accepting) {
        this.#listSourceReport = source.report;
        this.#accepting = this.#setList(list);
      }
      await this.#accepting;
    } finally {
      this.#notify();
    }
  }

  /**
   * Knows the chunk hashes: checks what an earlier run left (letting the
   * event loop run every few chunks), then lets sources ask for chunks.
   */
  async #setList(list: Uint8Array): Promise<void> {
    this.#list = list;
    let checked = 0;
    for (const i of this.#part.claimed) {
      if (this.#finished) return;
      if (i >= this.#count || this.#done[i]) continue;
      if (++checked % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const { offset, length } = chunkSpan(i, this.#v.size);
      const buffer = this.#scratchBuffer(length);
      if (!this.#part.readAt(offset, buffer)) continue;
      if (!chunkMatches(list, i, createHash("sha256").update(buffer).digest())) continue;
      this.#done[i] = 1;
      this.#doneCount++;
      this.#resumed += length;
      if (this.#options.transfer) this.#options.transfer.bytes += length;
      if (i === this.#nextHash) {
        this.#whole.update(buffer);
        this.#nextHash++;
      }
    }
    this.#hashInOrder();
    this.#ready = true;
    if (this.#doneCount === this.#count) this.#finish();
  }

  /**
   * The next request for `source`: the first missing chunk (for a single
   * streaming source, with every missing chunk after it up to the next gap),
   * or, in the endgame, a chunk in flight elsewhere.
   */
  #pick(source: Source): Request | undefined {
    while (this.#cursor < this.#count && (this.#done[this.#cursor] || this.#owners[this.#cursor] > 0)) this.#cursor++;
    if (this.#cursor < this.#count) {
      const first = this.#cursor;
      let count = 1;
      if (!this.#verify) {
        while (first + count < this.#count && !this.#done[first + count] && this.#owners[first + count] === 0) count++;
      }
      return { first, count };
    }
    // Endgame: nothing left to hand out. An idle source takes over (one at a time) a chunk
    // whose source is late; the first copy wins and the loser is cut off.
    if (!this.#verify || source.outstanding.length > 0) return undefined;
    const now = performance.now();
    let best: { chunk: number; waited: number } | undefined;
    for (const other of this.#active) {
      if (other === source || !this.#late(other, now)) continue;
      const waited = now - other.headStart;
      const chunk = other.outstanding.find((r) => !this.#done[r.first] && this.#owners[r.first] < 2)?.first;
      if (chunk !== undefined && (!best || waited > best.waited)) best = { chunk, waited };
    }
    return best && { first: best.chunk, count: 1 };
  }

  /**
   * A source is late when it has a request out and nothing came for a
   * second, or its current chunk has taken more than twice what the fastest
   * source needs for one (plus 100 ms). A healthy swarm of equals has no
   * late source, so it fetches nothing twice.
   */
  #late(source: Source, now: number): boolean {
    if (source.outstanding.length === 0 || source.throttled) return false;
    const silentMs = Math.min(SILENT_MS, this.#options.timeoutMs / 2);
    if (now - Math.max(source.lastRead, source.headStart) > silentMs) return true;
    let fastest = 0;
    for (const s of this.#active) fastest = Math.max(fastest, s.rate ?? 0);
    return fastest > 0 && now - source.headStart > 2 * CHUNK_SIZE / fastest + 100;
  }

  /** Reads the answer to `request`, delivering its chunks as they arrive. */
  async #receive(source: Source, reader: BufferedReader, request: Request): Promise<void> {
    using watchdog = new Watchdog(this.#options.timeoutMs, () => closeQuietly(source.conn!));
    const line = await reader.readLine(4096).catch((e) => Promise.reject(this.#timedOut(e, watchdog)));
    watchdog.touch();
    if (line === null) throw new TransferError("ECLOSED", "closed the connection without answering");
    const header = parseFileHeader(line);
    this.#checkVersion(header);
    const { offset } = chunkSpan(request.first, this.#v.size);
    const end = Math.min(this.#v.size, (request.first + request.count) * CHUNK_SIZE);
    if (header.offset !== offset || header.length !== end - offset) {
      throw new TransferError(
        "EPROTO",
        `answered bytes ${header.offset}+${header.length}, not ${offset}+${end - offset}`,
      );
    }
    const { limit, transfer } = this.#options;
    const read = (b: Uint8Array) => reader.read(b).catch((e) => Promise.reject(this.#timedOut(e, watchdog)));
    const bytes = {
      read: !limit ? read : async (b: Uint8Array) => {
        // Small reads, each paid for before the next: the holder is slowed by TCP's own flow control.
        const n = await read(b.subarray(0, limit.slice));
        if (n !== null) {
          // All downloads share one budget: a source may wait its turn behind many others.
          watchdog.pause();
          source.throttled = true;
          try {
            await limit.take(n, () => this.#finished);
          } finally {
            source.throttled = false;
            source.lastRead = performance.now();
            watchdog.resume();
          }
        }
        return n;
      },
    };
    let index = request.first;
    const onRead = (n: number) => {
      watchdog.touch();
      source.lastRead = performance.now();
      source.partial += n;
      if (transfer) transfer.bytes += n;
    };
    await exactBytes(bytes, header.length, { onRead, pool: this.#pool }).pipeTo(
      new WritableStream({
        write: (piece) => {
          const ms = Math.max(1, performance.now() - source.headStart);
          source.rate = source.rate === undefined ? piece.length / ms : (source.rate + piece.length / ms) / 2;
          source.headStart = performance.now();
          this.#deliver(source, index++, piece);
        },
      }),
    );
  }

  #checkVersion(header: { size: number; sha256: string }): void {
    if (header.size !== this.#v.size || header.sha256 !== this.#v.sha256) {
      throw new TransferError(
        "ECHANGED",
        `offers ${header.size} bytes sha256 ${
          header.sha256.slice(0, 12)
        }…, the tracker said ${this.#v.size} bytes sha256 ${this.#v.sha256.slice(0, 12)}…`,
      );
    }
  }

  #timedOut(error: unknown, watchdog: Watchdog): unknown {
    if (this.#options.signal?.aborted) return new TransferError("ECANCELED", "cancelled");
    return watchdog.expired ? new TransferError("ETIMEDOUT", `silent for ${this.#options.timeoutMs} ms`) : error;
  }

  /** One chunk from `source`: checked, written, recorded, hashed in order. */
  #deliver(source: Source, index: number, piece: Uint8Array): void {
    const length = piece.length;
    source.partial -= length;
    let kept = false;
    try {
      if (this.#finished) return;
      if (this.#done[index]) {
        // Another source's copy won; a bad copy still names its sender.
        if (this.#verify && !chunkMatches(this.#list!, index, createHash("sha256").update(piece).digest())) {
          throw new TransferError("EHASH", `chunk ${index} does not match its hash`);
        }
        return;
      }
      if (
        (this.#verify || this.#count === 1) &&
        !chunkMatches(this.#list!, index, createHash("sha256").update(piece).digest())
      ) {
        throw new TransferError("EHASH", `chunk ${index} does not match its hash`);
      }
      this.#part.writeAt(index * CHUNK_SIZE, piece);
      this.#part.record(index);
      this.#done[index] = 1;
      this.#doneCount++;
      source.report.bytes += piece.length;
      source.report.chunks++;
      kept = true;
      if (index === this.#nextHash) {
        this.#whole.update(piece);
        this.#nextHash++;
        this.#hashInOrder();
      }
    } finally {
      this.#pool.give(piece);
      // A copy that lost the race, or was wrong, is not progress.
      if (!kept && this.#options.transfer) this.#options.transfer.bytes -= length;
    }
    this.#cutLosers(source, index);
    this.#notify();
    if (this.#doneCount === this.#count) this.#finish();
  }

  /** Closes the other sources that still owe chunk `index` and nothing else of use: their copy lost. */
  #cutLosers(winner: Source, index: number): void {
    if (this.#owners[index] < 2) return;
    for (const other of this.#active) {
      if (other === winner || !other.outstanding.some((r) => r.first === index)) continue;
      if (other.outstanding.every((r) => this.#done[r.first] && r.count === 1)) {
        other.cut = true;
        if (other.conn) closeQuietly(other.conn);
      }
    }
  }

  /** Feeds the whole-file hash with chunks that landed earlier out of order, read back from disk. */
  #hashInOrder(): void {
    while (this.#nextHash < this.#count && this.#done[this.#nextHash]) {
      const { offset, length } = chunkSpan(this.#nextHash, this.#v.size);
      const buffer = this.#scratchBuffer(length);
      if (!this.#part.readAt(offset, buffer)) throw new LocalError(`${this.#part.path} is shorter than written`);
      this.#whole.update(buffer);
      this.#nextHash++;
    }
  }

  #scratchBuffer(length: number): Uint8Array {
    this.#scratch ??= new Uint8Array(CHUNK_SIZE);
    return this.#scratch.subarray(0, length);
  }

  #release(request: Request): void {
    for (let i = request.first; i < request.first + request.count; i++) {
      this.#owners[i]--;
      if (!this.#done[i] && this.#owners[i] === 0) this.#cursor = Math.min(this.#cursor, i);
    }
  }

  /** A source failed: its chunks go back, an unused holder takes its place, or the download fails. */
  #drop(source: Source, error: unknown): void {
    this.#active.delete(source);
    if (this.#options.transfer) {
      this.#options.transfer.sources = this.#active.size;
      this.#options.transfer.bytes -= source.partial; // read, but its chunk will come from elsewhere
    }
    source.partial = 0;
    if (source.conn) closeQuietly(source.conn);
    for (const r of source.outstanding.splice(0)) this.#release(r);
    if (this.#finished) return;
    if (error instanceof LocalError) return this.#fail(error);
    if (source.cut) {
      // Not a failure: it lost a race we started. It may serve again.
      this.#reserve.unshift(source.report.holder);
    } else {
      const { code, message } = classify(error, this.#options.signal);
      if (code === "ECANCELED") return this.#fail(new TransferError(code, message));
      Object.assign(source.report, { code, message });
      this.#options.onSourceFailed?.({ ...source.report, code, message });
    }
    this.#refill();
    if (this.#active.size === 0) {
      const n = this.#reports.length;
      this.#fail(new Error(n === 1 ? "the holder failed" : `all ${n} holders failed`));
    }
    this.#notify();
  }

  /** The download is over for this source: it served to the end. */
  #leave(source: Source): void {
    this.#active.delete(source);
    if (this.#options.transfer) this.#options.transfer.sources = this.#active.size;
    if (source.conn) closeQuietly(source.conn);
  }

  #finish(): void {
    if (this.#end()) this.#outcome.resolve();
  }

  #fail(error: Error): void {
    if (!this.#end()) return;
    const local = error instanceof LocalError;
    // A journal lists only whole chunks: with a root, whatever landed can be checked and kept next time.
    const resumable = this.#v.root !== undefined && this.#count > 1 &&
      (this.#doneCount > 0 || (!this.#ready && this.#part.claimed.length > 0));
    this.#outcome.reject(new FetchError(error.message, this.#reports, { local, resumable }));
  }

  /** Ends the download once: stops connecting, closes every source, wakes the idle ones. False if it had ended. */
  #end(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.#stop.abort();
    clearTimeout(this.#recheck);
    for (const s of this.#active) if (s.conn) closeQuietly(s.conn);
    this.#notify();
    return true;
  }

  #changed(): Promise<void> {
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  #notify(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }
}

/** Turns an error from a try into the code and message a person sees. */
export function classify(error: unknown, signal?: AbortSignal): { code: string; message: string } {
  if (signal?.aborted) return { code: "ECANCELED", message: "cancelled" };
  if (error instanceof AuthError) return { code: "EAUTH", message: error.message };
  if (error instanceof TransferError) return { code: error.code, message: error.message };
  if (error instanceof ProtocolError) return { code: String(error.status), message: error.message };
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return { code: "ETIMEDOUT", message: "connect timed out" };
  }
  if (error instanceof DOMException && error.name === "AbortError") return { code: "ECANCELED", message: "cancelled" };
  if (error instanceof Deno.errors.ConnectionRefused) return { code: "ECONNREFUSED", message: "connection refused" };
  if (isDisconnect(error)) return { code: "ECONNRESET", message: "connection lost: " + errorMessage(error) };
  if (error instanceof Error) return { code: (error as { code?: string }).code ?? error.name, message: error.message };
  return { code: "EUNKNOWN", message: String(error) };
}
