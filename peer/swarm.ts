/**
 * Fetching one version of a file (one size, SHA-256 and chunk root) from the
 * holders that have it, into a {@link PartFile}.
 *
 * - **Several holders**, with a chunk root: up to `sources` connections, one
 *   per holder, each asking for one 1 MiB chunk at a time with the next
 *   request already sent (so no connection idles between chunks). Every
 *   chunk is checked against the holder's chunk hashes, themselves checked
 *   against the announced root; a source that sends a bad chunk, breaks or
 *   stays silent is dropped, its chunks go back to the plan, and an unused
 *   holder takes its place. When no chunk is left to hand out, idle sources
 *   also ask for chunks still in flight elsewhere, and the first copy wins
 *   (endgame): a slow or stalled source cannot hold the download at 99%.
 * - **One holder** (or no root): one `RANGE` request for everything missing,
 *   streamed straight to disk; if it fails, the next holder carries on from
 *   there.
 *
 * Either way the whole file's SHA-256 is computed in order as chunks land
 * ({@link InOrderHash}) and must match before the file is renamed into place.
 * The parts: {@link ChunkPlan} says what to ask for next, each
 * {@link HolderConnection} talks to one holder, and the {@link Swarm} here
 * decides who asks for what, checks what comes, and ends the download.
 *
 * @module
 */

import {
  CHUNK_SIZE,
  chunkCount,
  chunkHash,
  chunkHashAt,
  chunkSpan,
  impliedChunks,
  Limits,
  sameBytes,
} from "../protocol.ts";
import { classify, FetchError, LocalError, type SourceReport, TransferError } from "../io/errors.ts";
import type { RateLimit } from "../io/rate_limit.ts";
import type { Secret } from "../io/secret.ts";
import { BufferPool } from "../io/streams.ts";
import type { PartFile } from "../disk/part_file.ts";
import { ChunkPlan, type ChunkRequest } from "./chunk_plan.ts";
import { HolderConnection, type Version } from "./holder_connection.ts";
import { InOrderHash } from "./in_order_hash.ts";
import type { Transfer } from "./transfer_board.ts";

export type { Version };

/** How often idle sources look again for a late chunk to take over, in the endgame. */
const RECHECK_MS = 100;

/** Options of {@link fetchVersion}. */
export interface FetchVersionOptions {
  /** The holders that announced the version, best first. */
  holders: readonly string[];
  /** Where the bytes go; the caller lands or closes it. */
  part: PartFile;
  /** Most holders used at once. Default 4. */
  sources?: number;
  /** Connecting, and any silence while a holder should be sending, longer than this drops the holder. */
  timeoutMs: number;
  /** Cancels the download; a resumable part file stays. */
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

/**
 * Fetches `version` from `options.holders` into `options.part`, verified;
 * the caller lands or closes the part file. Throws `FetchError`.
 */
export function fetchVersion(version: Version, options: FetchVersionOptions): Promise<Fetched> {
  return new Swarm(version, options).run();
}

/** One download of one version: its sources, what they deliver, and its end. */
class Swarm {
  #v: Version;
  #options: FetchVersionOptions;
  #plan: ChunkPlan;
  #hash: InOrderHash;
  /** Checking each chunk, several sources at once; else one streaming source at a time. */
  #verify: boolean;
  /** The chunk hashes, once known (at once for a file of one chunk). */
  #list: Uint8Array | undefined;
  /** Whose chunk list was taken: blamed too if the whole file comes out wrong. */
  #listSource: SourceReport | undefined;
  /** Chunk hashes being accepted (resumed chunks checked); sources wait for it. */
  #accepting: Promise<void> | undefined;
  #ready = false;
  /** Holders not in use: never tried yet, or cut off and welcome back. */
  #reserve: string[];
  /** Most sources at once. */
  #width: number;
  #active = new Set<HolderConnection>();
  /** Every source's loop, so that none outlives the download. */
  #loops: Promise<void>[] = [];
  #reports: SourceReport[] = [];
  #resumed = 0;
  #pool = new BufferPool(8);
  #wake = new Wakeups();
  /** Aborted when the download ends: connections still being made give up. */
  #stop = new AbortController();
  #outcome = Promise.withResolvers<void>();
  #finished = false;

  constructor(v: Version, options: FetchVersionOptions) {
    this.#v = v;
    this.#options = options;
    const count = chunkCount(v.size);
    this.#plan = new ChunkPlan(count);
    this.#hash = new InOrderHash({ size: v.size, part: options.part, isDone: (i) => this.#plan.isDone(i) });
    this.#list = impliedChunks(v.size, v.sha256);
    this.#verify = v.root !== undefined && options.holders.length > 1 && count > 1;
    this.#width = this.#verify ? Math.max(1, options.sources ?? 4) : 1;
    this.#reserve = [...options.holders];
  }

  async run(): Promise<Fetched> {
    const { signal } = this.#options;
    const cancel = () => this.#fail(new TransferError("ECANCELED", "cancelled"));
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    try {
      if (this.#plan.count === 0) this.#finish();
      else if (this.#list) await this.#setList(this.#list);
      else if (this.#v.root === undefined) this.#ready = true;
      if (!this.#finished) this.#refill();
      await this.#outcome.promise;
    } finally {
      signal?.removeEventListener("abort", cancel);
      for (const s of this.#active) s.close();
      // New loops may start while earlier ones end (a replacement holder): wait until none is left.
      for (let seen = 0; seen < this.#loops.length; seen = this.#loops.length) {
        await Promise.allSettled(this.#loops);
      }
    }
    return this.#verdict();
  }

  /** The whole file's hash decides: what was fetched, or a `FetchError` blaming whoever delivered. */
  #verdict(): Fetched {
    const sha256 = this.#hash.digest();
    if (sha256 !== this.#v.sha256) {
      // Every chunk arrived, yet the whole is wrong: the root or the bytes lied.
      const message = `the file's sha256 is ${sha256.slice(0, 12)}…, ${this.#v.sha256.slice(0, 12)}… was announced`;
      const blamed = this.#reports.filter((r) => r.bytes > 0 || r === this.#listSource);
      // Their bytes were not worth anything: no credit for them.
      for (const r of blamed.length > 0 ? blamed : this.#reports) {
        Object.assign(r, { code: "EHASH", message, bytes: 0 });
      }
      // Checked chunk by chunk, the bytes are those of the chunk hashes: the announced
      // (sha256, root) pair itself is wrong, whoever serves it. Else no chunk can be blamed.
      throw new FetchError(message, { sources: this.#reports, corrupt: !this.#verify });
    }
    // Chunk hashes only if the chunks were checked against them: they are re-shared as they are.
    const checked = this.#verify || this.#plan.count <= 1;
    return { sources: this.#reports, resumed: this.#resumed, chunks: checked ? this.#list : undefined };
  }

  /** Starts sources from the reserve up to the width. */
  #refill(): void {
    while (this.#active.size < this.#width && this.#reserve.length > 0) this.#startSource();
  }

  /** Opens a connection to the next holder of the reserve and serves it until the download ends or it fails. */
  #startSource(): void {
    const holder = this.#reserve.shift()!;
    // A holder back from the reserve (it was cut off) keeps its report.
    let report = this.#reports.find((r) => r.holder === holder);
    if (!report) this.#reports.push(report = { holder, bytes: 0, chunks: 0 });
    const { timeoutMs, signal: cancel, secret, limit, transfer } = this.#options;
    const source = new HolderConnection(report, {
      version: this.#v,
      timeoutMs,
      stop: this.#stop.signal,
      cancel,
      secret,
      limit,
      pool: this.#pool,
      finished: () => this.#finished,
      onBytes: transfer && ((n) => transfer.bytes += n),
    });
    this.#active.add(source);
    if (transfer) transfer.sources = this.#active.size;
    this.#loops.push(this.#serve(source).catch((error) => this.#drop(source, error)));
  }

  async #serve(source: HolderConnection): Promise<void> {
    await source.open();
    if (this.#finished) return this.#leave(source);
    // Every source that connects before the chunk hashes are known asks for them too, so
    // that a holder slow to answer cannot hold the others; the first good list wins.
    if (!this.#ready) await this.#fetchList(source);
    if (!this.#ready) await this.#accepting;
    while (!this.#finished) {
      while (source.outstanding.length < Limits.REQUESTS_AHEAD) {
        const request = this.#pick(source);
        if (!request) break;
        this.#plan.take(request);
        await source.ask(request);
      }
      if (source.outstanding.length === 0) {
        // Nothing to hand out: look again soon, for a chunk that has become late elsewhere.
        await this.#wake.next(RECHECK_MS);
        continue;
      }
      this.#plan.release(await source.receive((index, piece) => this.#deliver(source, { index, piece })));
    }
    this.#leave(source);
  }

  /** Asks `source` for the chunk hashes; the first good list is taken. */
  async #fetchList(source: HolderConnection): Promise<void> {
    try {
      const list = await source.fetchHashes();
      if (!this.#accepting) {
        this.#listSource = source.report;
        this.#accepting = this.#setList(list);
      }
      await this.#accepting;
    } finally {
      this.#wake.all();
    }
  }

  /**
   * Knows the chunk hashes: checks what an earlier run left (letting the
   * event loop run every few chunks), then lets sources ask for chunks.
   */
  async #setList(list: Uint8Array): Promise<void> {
    this.#list = list;
    const { part, transfer } = this.#options;
    let checked = 0;
    for (const i of part.claimed) {
      if (this.#finished) return;
      if (i >= this.#plan.count || this.#plan.isDone(i)) continue;
      if (++checked % 16 === 0) await new Promise((resolve) => setTimeout(resolve, 0));
      const { offset, length } = chunkSpan(i, this.#v.size);
      const buffer = this.#hash.scratch(length);
      if (!part.readAt(offset, buffer)) continue;
      if (!sameBytes(chunkHashAt(list, i), chunkHash(buffer))) continue;
      this.#plan.markDone(i);
      this.#resumed += length;
      if (transfer) {
        transfer.bytes += length;
        transfer.resumed = (transfer.resumed ?? 0) + length;
      }
      this.#hash.offer(i, buffer);
    }
    this.#hash.drain();
    this.#ready = true;
    if (this.#plan.complete) this.#finish();
  }

  /**
   * The next request for `source`: the first missing chunk (for a single
   * streaming source, with every missing chunk after it up to the next gap),
   * or, in the endgame, a chunk in flight elsewhere whose source is late
   * (the first copy wins and the loser is cut off).
   */
  #pick(source: HolderConnection): ChunkRequest | undefined {
    const next = this.#plan.next({ run: !this.#verify });
    if (next || !this.#verify || source.outstanding.length > 0) return next;
    const now = performance.now();
    let fastest = 0;
    for (const s of this.#active) fastest = Math.max(fastest, s.rate ?? 0);
    let best: { chunk: number; waited: number } | undefined;
    for (const other of this.#active) {
      if (other === source || !other.late(now, fastest)) continue;
      const waited = now - other.headStart;
      const chunk = other.outstanding.find((r) => !this.#plan.isDone(r.first) && this.#plan.owners(r.first) < 2)
        ?.first;
      if (chunk !== undefined && (!best || waited > best.waited)) best = { chunk, waited };
    }
    return best && { first: best.chunk, count: 1 };
  }

  /** One chunk from `source`: checked, written, recorded, hashed in order. */
  #deliver(source: HolderConnection, chunk: { index: number; piece: Uint8Array }): void {
    const { index, piece } = chunk;
    const { part, transfer } = this.#options;
    let kept = false;
    try {
      if (this.#finished) return;
      const checked = this.#verify || this.#plan.count === 1;
      // A copy that lost the race is checked too: a bad copy still names its sender.
      if (checked && !sameBytes(chunkHashAt(this.#list!, index), chunkHash(piece))) {
        throw new TransferError("EHASH", `chunk ${index} does not match its hash`);
      }
      if (this.#plan.isDone(index)) return;
      part.writeAt(index * CHUNK_SIZE, piece);
      part.record(index);
      this.#plan.markDone(index);
      source.report.bytes += piece.length;
      source.report.chunks++;
      kept = true;
      if (this.#hash.offer(index, piece)) this.#hash.drain();
    } finally {
      this.#pool.give(piece);
      // A copy that lost the race, or was wrong, is not progress.
      if (!kept && transfer) transfer.bytes -= piece.length;
    }
    this.#cutLosers(source, index);
    this.#wake.all();
    if (this.#plan.complete) this.#finish();
  }

  /** Closes the other sources that still owe chunk `index` and nothing else of use: their copy lost. */
  #cutLosers(winner: HolderConnection, index: number): void {
    if (this.#plan.owners(index) < 2) return;
    for (const other of this.#active) {
      if (other === winner || !other.outstanding.some((r) => r.first === index)) continue;
      if (other.outstanding.every((r) => this.#plan.isDone(r.first) && r.count === 1)) {
        other.cut = true;
        other.close();
      }
    }
  }

  /** A source failed: its chunks go back, an unused holder takes its place, or the download fails. */
  #drop(source: HolderConnection, error: unknown): void {
    const { transfer, signal, onSourceFailed } = this.#options;
    this.#active.delete(source);
    if (transfer) {
      transfer.sources = this.#active.size;
      transfer.bytes -= source.partial; // read, but its chunk will come from elsewhere
    }
    source.partial = 0;
    source.close();
    for (const r of source.outstanding.splice(0)) this.#plan.release(r);
    if (this.#finished) return;
    if (error instanceof LocalError) return this.#fail(error);
    if (source.cut) {
      // Not a failure: it lost a race we started. It may serve again.
      this.#reserve.unshift(source.report.holder);
    } else {
      const { code, message } = classify(error, signal);
      if (code === "ECANCELED") return this.#fail(new TransferError(code, message));
      Object.assign(source.report, { code, message });
      onSourceFailed?.({ ...source.report, code, message });
    }
    this.#refill();
    if (this.#active.size === 0) {
      const n = this.#reports.length;
      this.#fail(new Error(n === 1 ? "the holder failed" : `all ${n} holders failed`, { cause: error }));
    }
    this.#wake.all();
  }

  /** The download is over for this source: it served to the end. */
  #leave(source: HolderConnection): void {
    this.#active.delete(source);
    if (this.#options.transfer) this.#options.transfer.sources = this.#active.size;
    source.close();
  }

  #finish(): void {
    if (this.#end()) this.#outcome.resolve();
  }

  #fail(error: Error): void {
    if (!this.#end()) return;
    const local = error instanceof LocalError;
    // A journal lists only whole chunks: with a root, whatever landed can be checked and kept next time.
    const resumable = this.#v.root !== undefined && this.#plan.count > 1 &&
      (this.#plan.doneCount > 0 || (!this.#ready && this.#options.part.claimed.length > 0));
    this.#outcome.reject(new FetchError(error.message, { sources: this.#reports, local, resumable, cause: error }));
  }

  /** Ends the download once: stops connecting, closes every source, wakes the idle ones. False if it had ended. */
  #end(): boolean {
    if (this.#finished) return false;
    this.#finished = true;
    this.#stop.abort();
    this.#wake.stop();
    for (const s of this.#active) s.close();
    this.#wake.all();
    return true;
  }
}

/** Idle sources wait here for something to change: a chunk landed, a source left, or a recheck is due. */
class Wakeups {
  #waiters: (() => void)[] = [];
  #recheck: ReturnType<typeof setTimeout> | undefined;
  #stopped = false;

  /** Resolves at the next change, or within `recheckMs` (one timer for every waiter). */
  next(recheckMs: number): Promise<void> {
    if (!this.#stopped) {
      this.#recheck ??= setTimeout(() => {
        this.#recheck = undefined;
        this.all();
      }, recheckMs);
    }
    return new Promise((resolve) => this.#waiters.push(resolve));
  }

  /** Wakes every waiter. */
  all(): void {
    for (const wake of this.#waiters.splice(0)) wake();
  }

  /** No more rechecks. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#recheck);
  }
}
