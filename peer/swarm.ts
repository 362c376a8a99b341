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
  ProtocolError,
  sameBytes,
  Status,
} from "../protocol.ts";
import { classify, FetchError, LocalError, type SourceReport, TransferError } from "../io/errors.ts";
import type { RateLimit } from "../io/rate_limit.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
import { BufferPool } from "../io/streams.ts";
import type { PartFile } from "../disk/part_file.ts";
import { ChunkPlan, type ChunkRequest } from "./chunk_plan.ts";
import { HolderConnection, type Version } from "./holder_connection.ts";
import { InOrderHash } from "./in_order_hash.ts";
import type { PartialHolding } from "./partial_holdings.ts";
import type { Transfer } from "./transfer_board.ts";

export type { Version };

/** How often idle sources look again for a late chunk to take over, in the endgame. */
const RECHECK_MS = 100;

/** Most partial holders used at once, besides the `sources` full ones: the more a downloader sees, the better it knows what is rare. */
export const PARTIAL_SOURCES = 16;

/** How often the tracker is asked again for new holders (partial ones, mostly) while a download has room for them. */
export const REFRESH_MS = 1_000;

/** Most chunks looked at to choose one (from a random place on): a choice costs the same for a file of any size. */
const SCAN_CHUNKS = 4_096;

/** A holder the tracker listed, for {@link FetchVersionOptions.lookAgain}. */
export interface Listed {
  /** Where it serves, `HOST:PORT`. */
  address: string;
  /** Still downloading the file itself: it has only some chunks, and says which. */
  partial?: boolean;
}

/** Options of {@link fetchVersion}. */
export interface FetchVersionOptions {
  /** The holders that announced the version, best first. */
  holders: readonly string[];
  /** Partial holders of the version (peers still downloading it), in the tracker's order. Default none. */
  partials?: readonly string[];
  /**
   * Where this download serves what it has verified, chunk by chunk, to
   * others (a peer downloading into its shared folder): then chunks are
   * checked one by one even from one holder, and the download is a member
   * of the file's crowd (it asks `HAVE` of full holders too, so that they
   * can ration). Default: nothing shared.
   */
  holding?: PartialHolding;
  /** Asks the tracker again who holds the version; new holders join while there is room. Default: never. */
  lookAgain?: () => Promise<Listed[]>;
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
  /** Connect to holders with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
  /** Told of each holder dropped, as it happens. */
  onSourceFailed?: (report: SourceReport & { code: string; message: string }) => void;
  /** Kept up to date with the bytes received and the sources in use (for a progress display). */
  transfer?: Transfer;
  /** Bytes received wait for this budget (shared by every download of a peer): `--max-download-rate`. */
  limit?: RateLimit;
  /** The whole file's SHA-256 on a thread of its own: true always, false never. Default: for a large file, with cores to spare. */
  hashThread?: boolean;
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
  /** The whole file's hash, made when the download runs (and closed when it ends). */
  #hash!: InOrderHash;
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
  /** Partial holders not in use. */
  #partialReserve: string[];
  /** Every holder ever listed: a later lookup adds only the others. */
  #known: Set<string>;
  /** Most full sources at once. */
  #width: number;
  /** Partial holders are, or may be, in play (or this download shares): chunks are chosen rarest first. */
  #crowd: boolean;
  /** For each chunk, how many sources in use offer it. */
  #avail: Uint16Array;
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
  /** When a chunk last landed (or the download began). */
  #lastProgress = performance.now();

  constructor(v: Version, options: FetchVersionOptions) {
    this.#v = v;
    this.#options = options;
    const count = chunkCount(v.size);
    this.#plan = new ChunkPlan(count);
    this.#list = impliedChunks(v.size, v.sha256);
    const partials = options.partials ?? [];
    this.#crowd = v.root !== undefined && count > 1 && (options.holding !== undefined || partials.length > 0);
    this.#verify = v.root !== undefined && count > 1 && (options.holders.length > 1 || this.#crowd);
    this.#width = this.#verify ? Math.max(1, options.sources ?? 4) : 1;
    this.#reserve = [...options.holders];
    this.#partialReserve = this.#verify ? [...partials] : [];
    this.#known = new Set([...options.holders, ...partials]);
    this.#avail = new Uint16Array(this.#verify ? count : 0);
  }

  async run(): Promise<Fetched> {
    const { signal } = this.#options;
    const cancel = () => this.#fail(new TransferError("ECANCELED", "cancelled"));
    if (signal?.aborted) cancel();
    signal?.addEventListener("abort", cancel, { once: true });
    // The hashing thread (for a large file) stops with the last download using it, whatever happens.
    using _hash = this.#hash = new InOrderHash({
      size: this.#v.size,
      part: this.#options.part,
      pool: this.#pool,
      thread: this.#options.hashThread,
    });
    try {
      if (this.#plan.count === 0) this.#finish();
      else if (this.#list) await this.#setList(this.#list);
      else if (this.#v.root === undefined) this.#ready = true;
      if (!this.#finished) this.#refill();
      if (this.#verify && this.#options.lookAgain) this.#lookAgainEvery(REFRESH_MS);
      await this.#outcome.promise;
    } finally {
      signal?.removeEventListener("abort", cancel);
      for (const s of this.#active) s.close();
      // New loops may start while earlier ones end (a replacement holder): wait until none is left.
      for (let seen = 0; seen < this.#loops.length; seen = this.#loops.length) {
        await Promise.allSettled(this.#loops);
      }
    }
    return await this.#verdict();
  }

  /** The whole file's hash decides: what was fetched, or a `FetchError` blaming whoever delivered. */
  async #verdict(): Promise<Fetched> {
    const sha256 = await this.#hash.digest();
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

  /** Starts sources from the reserves up to the widths. */
  #refill(): void {
    while (this.#inUse().full < this.#width && this.#reserve.length > 0) {
      this.#startSource(this.#reserve.shift()!, false);
    }
    while (this.#inUse().listedPartial < PARTIAL_SOURCES && this.#partialReserve.length > 0) {
      this.#startSource(this.#partialReserve.shift()!, true);
    }
  }

  /** While the download runs: asks the tracker again, every `ms`, for holders not known yet. */
  #lookAgainEvery(ms: number): void {
    const stop = this.#stop.signal;
    const next = () => {
      if (stop.aborted) return;
      const timer = setTimeout(async () => {
        stop.removeEventListener("abort", cancel);
        try {
          if (!this.#room()) return; // every place taken: nobody new could join
          for (const h of await this.#options.lookAgain!()) {
            if (this.#known.has(h.address) || this.#finished) continue;
            this.#known.add(h.address);
            (h.partial ? this.#partialReserve : this.#reserve).push(h.address);
            if (h.partial) this.#crowd = true; // from now on, chunks are chosen by what each source has
          }
          if (!this.#finished) this.#refill();
        } catch {
          /* the tracker is away: the holders known go on */
        } finally {
          next();
        }
      }, ms);
      const cancel = () => clearTimeout(timer);
      stop.addEventListener("abort", cancel, { once: true });
    };
    next();
  }

  /** Whether a holder not in use could join: a full one, or a partial one, below its width. */
  #room(): boolean {
    const { full, listedPartial } = this.#inUse();
    return full < this.#width || listedPartial < PARTIAL_SOURCES;
  }

  /**
   * The sources in use: listed by the tracker as whole holders (`full`) or
   * as partial ones (`listedPartial`: the widths count these), and of
   * those, still partial now (`partial`: a `* DONE` makes one a full holder).
   */
  #inUse(): { full: number; listedPartial: number; partial: number } {
    let listedPartial = 0, partial = 0;
    for (const s of this.#active) {
      if (s.report.partial) listedPartial++;
      if (s.have) partial++;
    }
    return { full: this.#active.size - listedPartial, listedPartial, partial };
  }

  /** Opens a connection to `holder` and serves it until the download ends or it fails. */
  #startSource(holder: string, partial: boolean): void {
    // A holder back from the reserve (it was cut off) keeps its report.
    let report = this.#reports.find((r) => r.holder === holder);
    if (!report) this.#reports.push(report = { holder, bytes: 0, chunks: 0 });
    if (partial) report.partial = true;
    else delete report.partial;
    const { timeoutMs, signal: cancel, secret, tls, limit, transfer } = this.#options;
    const source = new HolderConnection(report, {
      version: this.#v,
      timeoutMs,
      stop: this.#stop.signal,
      cancel,
      secret,
      tls,
      limit,
      pool: this.#pool,
      finished: () => this.#finished,
      onBytes: transfer && ((n) => transfer.bytes += n),
      onChunks: (s, gained) => this.#gained(s, gained),
    });
    this.#active.add(source);
    this.#count(source, +1);
    this.#showSources();
    this.#loops.push(this.#serve(source).catch((error) => this.#drop(source, error)));
  }

  async #serve(source: HolderConnection): Promise<void> {
    await source.open();
    if (this.#finished) return this.#leave(source);
    // Every source that connects before the chunk hashes are known asks for them too, so
    // that a holder slow to answer cannot hold the others; the first good list wins.
    if (!this.#ready) await this.#fetchList(source);
    if (!this.#ready) await this.#accepting;
    // A partial holder says what it has; a full one is told that we are of the crowd, so that it can ration.
    let watching = source.report.partial || this.#options.holding !== undefined;
    if (watching && !this.#finished) watching = await source.watch();
    while (!this.#finished) {
      // Among partial sources, a full holder's upload is shared by a crowd: one chunk at a time each, so that each
      // comes sooner. Else two, so that no connection idles between chunks.
      const ahead = source.have || this.#inUse().partial === 0 ? Limits.REQUESTS_AHEAD : 1;
      while (source.outstanding.length < ahead) {
        const request = this.#pick(source);
        if (!request) break;
        this.#plan.take(request);
        await source.ask(request);
      }
      if (source.outstanding.length === 0) {
        this.#checkStalled();
        // Nothing to hand out: look again soon, for a chunk that has become late elsewhere, or that it now has.
        if (watching) await source.idle(this.#wake.next(RECHECK_MS));
        else await this.#wake.next(RECHECK_MS);
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
      this.#options.holding?.gained(i, list);
      this.#resumed += length;
      if (transfer) {
        transfer.bytes += length;
        transfer.resumed = (transfer.resumed ?? 0) + length;
      }
      this.#hash.found(i, buffer);
    }
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
    const now = performance.now();
    if (this.#crowd) {
      // Nothing of its own to give: it may take over a chunk late elsewhere, free chunks or not.
      return this.#rarest(source, now) ?? (source.outstanding.length > 0 ? undefined : this.#late(source, now));
    }
    const next = this.#plan.next({ run: !this.#verify });
    if (next || !this.#verify || source.outstanding.length > 0) return next;
    return this.#late(source, now);
  }

  /**
   * The chunk to ask `source` for in a crowd: one it offers, neither done
   * nor asked of anyone, offered by the fewest sources in use; among
   * equals, the first from a random place (so that members of a crowd start
   * in different places, hold different chunks early, and can trade). A
   * full holder is asked only for chunks no partial source offers: what it
   * alone can give (a late chunk aside, {@link Swarm.#late}), so that a
   * crowd's first holder sends each chunk about once; unless it has shown
   * itself twice as fast as every partial source in use.
   */
  #rarest(source: HolderConnection, now: number): ChunkRequest | undefined {
    const count = this.#plan.count;
    // No partial source yet: every source offers every chunk; in order, the whole file's hash keeps up without
    // reading chunks back. A crowd's members that all asked one holder for the same chunk are told 425 but one.
    if (this.#inUse().partial === 0) {
      const next = this.#plan.next({ run: false });
      for (let i = next?.first ?? count; i < count; i++) {
        if (!this.#plan.isDone(i) && this.#plan.owners(i) === 0 && source.offers(i, now)) return { first: i, count: 1 };
      }
      return undefined;
    }
    const start = Math.floor(Math.random() * count);
    let full = 0;
    let partialRate = 0;
    for (const s of this.#active) {
      if (!s.have) full++;
      else partialRate = Math.max(partialRate, s.speed(now) ?? Infinity);
    }
    // A full holder much faster than every partial source (a fast holder beside a slow peer still downloading)
    // takes any chunk: the crowd's trade is not worth the wait.
    const faster = !source.have && (source.speed(now) ?? 0) >= 2 * partialRate;
    let best = -1;
    for (let n = 0; n < count && n < SCAN_CHUNKS; n++) {
      const i = (start + n) % count;
      if (this.#plan.isDone(i) || this.#plan.owners(i) > 0 || !source.offers(i, now)) continue;
      if (!source.have && !faster && this.#avail[i] > full) continue; // a partial source has it: the crowd trades it
      if (best < 0 || this.#avail[i] < this.#avail[best]) best = i;
      if (this.#avail[best] <= 1) break; // only this source has it: none is rarer
    }
    return best < 0 ? undefined : { first: best, count: 1 };
  }

  /** In the endgame: a chunk in flight at a late source, that `source` offers (the first copy wins). */
  #late(source: HolderConnection, now: number): ChunkRequest | undefined {
    let fastest = 0;
    for (const s of this.#active) fastest = Math.max(fastest, s.rate ?? 0);
    // In a crowd a full holder takes over only a stalled chunk (its upload is the crowd's scarcest), or a slow one
    // from a source it has shown itself twice as fast as.
    const cautious = this.#crowd && !source.have;
    const mine = source.speed(now) ?? 0;
    let best: { chunk: number; waited: number } | undefined;
    for (const other of this.#active) {
      if (other === source) continue;
      const slowToo = !cautious || mine >= 2 * (other.speed(now) ?? Infinity);
      if (!other.late(now, slowToo ? fastest : 0)) continue;
      const waited = now - other.headStart;
      const chunk = other.outstanding.find((r) =>
        !this.#plan.isDone(r.first) && this.#plan.owners(r.first) < 2 && source.offers(r.first, now)
      )?.first;
      if (chunk !== undefined && (!best || waited > best.waited)) best = { chunk, waited };
    }
    return best && { first: best.chunk, count: 1 };
  }

  /**
   * One chunk from `source`: checked, written, recorded, hashed in order
   * (on the hashing thread, which may take the piece's buffer: the pool
   * gets it back once hashed). Resolves when the source may receive its
   * next chunk (the hashing thread has room for its buffer), or returns
   * `undefined` when it may at once.
   */
  #deliver(source: HolderConnection, chunk: { index: number; piece: Uint8Array }): Promise<void> | undefined {
    const { index, piece } = chunk;
    const { length } = piece;
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
      this.#lastProgress = performance.now();
      this.#options.holding?.gained(index, this.#list!);
      this.#hash.landed(index, piece);
    } finally {
      this.#pool.give(piece);
      // A copy that lost the race, or was wrong, is not progress.
      if (!kept && transfer) transfer.bytes -= length;
    }
    this.#cutLosers(source, index);
    this.#wake.all();
    if (this.#plan.complete) this.#finish();
    return this.#hash.room();
  }

  /**
   * Fails the download when nothing landed for the timeout, no source has a
   * request out, and no source in use has any chunk still missing: they
   * all wait for chunks none of them has (partial holders whose own
   * downloads stalled, the only full holder gone). Without this a crowd
   * that lost its seed would wait for ever. A chunk a source has but
   * refused for now (`425`) will come: that is no stall.
   */
  #checkStalled(): void {
    const { timeoutMs } = this.#options;
    const quiet = performance.now() - this.#lastProgress;
    if (this.#finished || this.#avail.length === 0 || quiet < timeoutMs) return;
    for (const s of this.#active) if (s.outstanding.length > 0) return;
    // A chunk some source has will come, unless nothing at all came for three times the timeout (a source that
    // offers chunks and never gives them).
    if (quiet < 3 * timeoutMs) {
      for (let i = 0; i < this.#plan.count; i++) if (!this.#plan.isDone(i) && this.#avail[i] > 0) return;
    }
    const missing: number[] = [];
    for (let i = 0; i < this.#plan.count && missing.length < 4; i++) if (!this.#plan.isDone(i)) missing.push(i);
    const more = this.#plan.count - this.#plan.doneCount > missing.length ? ", …" : "";
    this.#fail(
      new TransferError(
        "ESTALLED",
        `nothing arrived for ${timeoutMs / 1000} s: none of the ${this.#active.size} sources in use has chunk ` +
          `${missing.join(", ")}${more} (the peers that had them left, or are stalled themselves)`,
      ),
    );
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
    if (this.#active.delete(source)) this.#count(source, -1);
    this.#showSources();
    if (transfer) transfer.bytes -= source.partial; // read, but its chunk will come from elsewhere
    source.partial = 0;
    source.close();
    for (const r of source.outstanding.splice(0)) this.#plan.release(r);
    if (this.#finished) return;
    if (error instanceof LocalError) return this.#fail(error);
    if (source.cut) {
      // Not a failure: it lost a race we started. It may serve again.
      (source.report.partial ? this.#partialReserve : this.#reserve).unshift(source.report.holder);
    } else if (source.report.partial && (source.gone || isStale(error))) {
      // A partial holder whose download ended (or had, by the time we came): not a failure, nothing to blame.
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
    if (this.#active.delete(source)) this.#count(source, -1);
    this.#showSources();
    source.close();
  }

  /** A source in use says it has `gained` chunks: they count as offered, and idle sources look again. */
  #gained(source: HolderConnection, gained: number[]): void {
    if (!this.#active.has(source)) return;
    if (this.#avail.length > 0) { for (const i of gained) this.#avail[i]++; }
    this.#wake.all();
  }

  /** Counts what `source` offers in (`+1`) or out (`-1`) of the chunks' availability. */
  #count(source: HolderConnection, by: 1 | -1): void {
    if (this.#avail.length === 0) return;
    const have = source.have;
    for (let i = 0; i < this.#avail.length; i++) if (!have || have[i]) this.#avail[i] += by;
  }

  /** The sources in use, for the progress line. */
  #showSources(): void {
    const { transfer } = this.#options;
    if (!transfer) return;
    transfer.sources = this.#active.size;
    transfer.partialSources = this.#inUse().partial;
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

/** A partial holder's `404`: it no longer holds the file (its download ended before we came). */
function isStale(error: unknown): boolean {
  return error instanceof ProtocolError && error.status === Status.NOT_FOUND;
}
