/**
 * One holder's connection in a download: `HASHES` (checked against the
 * announced root), then `RANGE` requests, each answer's header checked
 * against the version asked for and its bytes handed on as they come, with
 * a watchdog on every wait and the download budget paid before each read.
 *
 * @module
 */

import {
  CHUNK_SIZE,
  chunkCount,
  chunkSpan,
  formatFileRequest,
  HASH_BYTES,
  isPeerRefusal,
  isPush,
  Limits,
  parseChunkHash,
  parseChunkPush,
  parseFileHeader,
  parseHashesHeader,
  parseHaveHeader,
  parseReplyLine,
  ProtocolError,
  rootOf,
  Status,
} from "../protocol.ts";
import { dial } from "../io/dial.ts";
import { type SourceReport, TransferError } from "../io/errors.ts";
import { closeQuietly, type Link } from "../io/link.ts";
import type { RateLimit } from "../io/rate_limit.ts";
import { BufferedReader } from "../io/reader.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
import { type BufferPool, exactBytes, writeText } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";
import type { ChunkRequest } from "./chunk_plan.ts";

/** The version of a file a download fetches. */
export interface Version {
  /** The file's name. */
  name: string;
  /** Its size. */
  size: number;
  /** Its SHA-256. */
  sha256: string;
  /** Chunk root, for a file of more than one chunk; without it: one source at a time, no resume. */
  root?: string;
}

/** A source with a request out and no byte for this long is late (or the timeout's half, if shorter). */
const SILENT_MS = 1_000;

/** Options of {@link HolderConnection}. */
export interface HolderConnectionOptions {
  /** What is fetched. */
  version: Version;
  /** Connecting, and any silence while the holder should be sending, longer than this fails it. */
  timeoutMs: number;
  /** Aborted when the download ends: connecting gives up. */
  stop: AbortSignal;
  /** The download's own cancellation: a failure after it is `ECANCELED`. */
  cancel?: AbortSignal;
  /** With a secret: the holder must prove it knows it, and every byte is encrypted. */
  secret?: Secret;
  /** Connect with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
  /** Bytes received wait for this budget first (`--max-download-rate`). */
  limit?: RateLimit;
  /** Where chunk buffers come from; the receiver of each piece gives it back. */
  pool: BufferPool;
  /** True once the download is over: a read waiting for budget spends nothing. */
  finished: () => boolean;
  /** Told of every read's byte count (progress). */
  onBytes?: (n: number) => void;
  /** Told of the chunks this holder says it has gained (`* HAVE`), or all of them (`* DONE`). */
  onChunks?: (source: HolderConnection, gained: number[]) => void;
}

/** A chunk a holder answered `425` (not here yet) is not asked of it again for this long. */
const NOT_YET_MS = 250;

/** One holder's connection, and what the swarm needs to know of it. */
export class HolderConnection {
  /** How it served, so far. */
  readonly report: SourceReport;
  /** Requests sent and not fully answered, oldest first. */
  readonly outstanding: ChunkRequest[] = [];
  /** When the answer at the head of `outstanding` began to be awaited. */
  headStart: number;
  /** When the last bytes came. */
  lastRead: number;
  /** Bytes per ms over its recent chunks, once one arrived. */
  rate: number | undefined;
  /** Closed by us because all it still had to send had come from elsewhere. */
  cut = false;
  /** Bytes read of chunks not delivered yet (counted in the progress; taken back if they never land). */
  partial = 0;
  /** Waiting for download-rate budget: our own doing, so neither silent nor late. */
  throttled = false;
  /** For a partial holder: 1 for each chunk it said it has; `undefined` once it has them all (a full holder). */
  have: Uint8Array | undefined;
  /** The holder said it no longer serves the file (`* GONE`). */
  gone = false;
  /** Chunk → when it may be asked of this holder again, after a `425`. */
  #notYet = new Map<number, number>();
  #options: HolderConnectionOptions;
  #conn: Link | undefined;
  #reader: BufferedReader | undefined;
  /** A line being read while no answer is awaited (pushes are taken as they come); the next answer's header. */
  #pending: Promise<string | null> | undefined;

  /**
   * A connection-to-be for `report.holder` (a partial holder when
   * `report.partial`: it holds nothing until it says so); nothing happens
   * until {@link HolderConnection.open}.
   */
  constructor(report: SourceReport, options: HolderConnectionOptions) {
    this.report = report;
    this.#options = options;
    this.headStart = this.lastRead = performance.now();
    if (report.partial) this.have = new Uint8Array(chunkCount(options.version.size));
  }

  /** Whether the holder has chunk `index` and may be asked for it now. */
  offers(index: number, now: number): boolean {
    if (this.have && !this.have[index]) return false;
    const until = this.#notYet.get(index);
    if (until === undefined) return true;
    if (until > now) return false;
    this.#notYet.delete(index);
    return true;
  }

  /**
   * `HAVE`: which chunks the holder has; the answer's push lines (and every
   * later one) update {@link HolderConnection.have}. Makes this connection
   * a member of the file's crowd at the holder. False for a full holder
   * older than `HAVE` (0.13), which closes at a request it does not know:
   * then this connects again, and the holder serves as before.
   */
  async watch(): Promise<boolean> {
    const { version } = this.#options;
    await writeText(this.#conn!, formatFileRequest({ verb: "HAVE", name: version.name, offset: 0 }));
    using watchdog = this.#watchdog();
    const line = await this.#readLine(watchdog);
    try {
      this.#checkVersion(parseHaveHeader(line));
      return true;
    } catch (error) {
      if (this.have || !isPeerRefusal(parseReplyLine(line))) throw error;
    }
    this.close();
    this.#pending = undefined;
    await this.open();
    return false;
  }

  /**
   * Waits, with nothing asked, until `wakeup` or a push line from the
   * holder (which wakes the swarm through `onChunks`). Throws what the
   * connection throws, or when the holder says anything else unasked (its
   * `503 … stopping`, say).
   */
  async idle(wakeup: Promise<void>): Promise<void> {
    const line = this.#pending ??= this.#nextLine();
    const first = await Promise.race([line.then(() => "line", () => "line"), wakeup.then(() => "wake")]);
    if (first === "wake") return;
    this.#pending = undefined;
    const text = await line;
    if (text === null) throw new TransferError("ECLOSED", "closed the connection");
    throw unasked(text);
  }

  /** Connects (and with a secret, proves it); throws what dialling threw. */
  async open(): Promise<void> {
    const { timeoutMs, stop: signal, secret, tls } = this.#options;
    this.#conn = await dial(this.report.holder, { timeoutMs, signal, secret, tls });
    this.#reader = new BufferedReader(this.#conn);
  }

  /** Closes the connection, if there is one; idempotent. */
  close(): void {
    if (this.#conn) closeQuietly(this.#conn);
  }

  /** `HASHES`: the chunk hashes, which must come to the announced root (`EHASHES` otherwise). */
  async fetchHashes(): Promise<Uint8Array> {
    const { version } = this.#options;
    const count = chunkCount(version.size);
    await writeText(this.#conn!, formatFileRequest({ verb: "HASHES", name: version.name, offset: 0 }));
    using watchdog = this.#watchdog();
    const read = () => this.#readLine(watchdog);
    const header = parseHashesHeader(await read());
    this.#checkVersion(header);
    if (header.chunkSize !== CHUNK_SIZE || header.count !== count) {
      throw new TransferError("EHASHES", `lists ${header.count} chunks of ${header.chunkSize} bytes`);
    }
    const list = new Uint8Array(count * HASH_BYTES);
    for (let i = 0; i < count; i++) {
      const hash = parseChunkHash(await read());
      if (!hash) throw new TransferError("EHASHES", `bad chunk hash line ${i}`);
      list.set(hash, i * HASH_BYTES);
    }
    if (rootOf(list) !== version.root) {
      throw new TransferError("EHASHES", "its chunk hashes do not match the announced root");
    }
    return list;
  }

  /** Sends the `RANGE` for `request` and counts it outstanding. */
  async ask(request: ChunkRequest): Promise<void> {
    const { size, name } = this.#options.version;
    if (this.outstanding.length === 0) this.headStart = performance.now();
    this.outstanding.push(request);
    const { offset } = chunkSpan(request.first, size);
    const end = Math.min(size, (request.first + request.count) * CHUNK_SIZE);
    await writeText(this.#conn!, formatFileRequest({ verb: "RANGE", name, offset, length: end - offset }));
  }

  /**
   * Reads the answer to the oldest outstanding request, handing each chunk
   * to `deliver` as it completes (`deliver` owns the buffer: it gives it
   * back to the pool); when `deliver` returns a promise, the next chunk is
   * read once it resolves (the hashing thread's room: buffers stay
   * bounded). A `425` (not here yet) delivers nothing, and that
   * chunk is not asked of this holder again for a moment. Throws a
   * `TransferError` (`ETIMEDOUT`, `ECHANGED`, `EPROTO`, `ETRUNCATED`, …) or
   * the holder's `ProtocolError`.
   */
  async receive(deliver: (index: number, piece: Uint8Array) => Promise<void> | void): Promise<ChunkRequest> {
    const request = this.outstanding[0];
    const { version, limit, pool, onBytes } = this.#options;
    using watchdog = this.#watchdog();
    const reader = this.#reader!;
    const line = await this.#readLine(watchdog);
    let header;
    try {
      header = parseFileHeader(line);
    } catch (error) {
      if (!(error instanceof ProtocolError) || error.status !== Status.NOT_YET) throw error;
      // A partial holder's chunks only ever grow: "not here yet" of one it said it has is a lie.
      if (this.have && this.have.subarray(request.first, request.first + request.count).every((held) => held)) {
        throw new TransferError("EPROTO", `said it has chunk ${request.first}, then answered ${line.slice(0, 120)}`);
      }
      this.outstanding.shift();
      for (let i = request.first; i < request.first + request.count; i++) {
        this.#notYet.set(i, performance.now() + NOT_YET_MS);
      }
      this.headStart = performance.now();
      return request;
    }
    this.#checkVersion(header);
    const { offset } = chunkSpan(request.first, version.size);
    const end = Math.min(version.size, (request.first + request.count) * CHUNK_SIZE);
    if (header.offset !== offset || header.length !== end - offset) {
      throw new TransferError(
        "EPROTO",
        `answered bytes ${header.offset}+${header.length}, not ${offset}+${end - offset}`,
      );
    }
    const read = (b: Uint8Array) => reader.read(b).catch((e) => Promise.reject(this.#timedOut(e, watchdog)));
    const source = { read: limit ? (b: Uint8Array) => this.#paidRead(b, { read, limit, watchdog }) : read };
    let index = request.first;
    const onRead = (n: number) => {
      watchdog.touch();
      this.lastRead = performance.now();
      this.partial += n;
      onBytes?.(n);
    };
    await exactBytes(source, header.length, { onRead, pool }).pipeTo(
      new WritableStream({
        write: (piece) => {
          const ms = Math.max(1, performance.now() - this.headStart);
          this.rate = this.rate === undefined ? piece.length / ms : (this.rate + piece.length / ms) / 2;
          this.headStart = performance.now();
          this.partial -= piece.length;
          const waiting = deliver(index++, piece);
          if (!waiting) return;
          // Waiting for room here (the hashing thread's) is not the holder's silence.
          watchdog.pause();
          return waiting.finally(() => watchdog.resume());
        },
      }),
    );
    this.outstanding.shift();
    this.headStart = performance.now();
    return request;
  }

  /** A small read, paid for before the next: the holder is slowed by TCP's own flow control. */
  async #paidRead(
    buffer: Uint8Array,
    how: { read: (b: Uint8Array) => Promise<number | null>; limit: RateLimit; watchdog: Watchdog },
  ): Promise<number | null> {
    const n = await how.read(buffer.subarray(0, how.limit.slice));
    if (n === null) return n;
    // All downloads share one budget: a source may wait its turn behind many others.
    how.watchdog.pause();
    this.throttled = true;
    try {
      await how.limit.take(n, this.#options.finished);
    } finally {
      this.throttled = false;
      this.lastRead = performance.now();
      how.watchdog.resume();
    }
    return n;
  }

  /**
   * Bytes per ms it delivers: over its recent chunks, or, before its first
   * chunk is whole, over the one under way (once it has run 200 ms);
   * `undefined` while nothing tells.
   */
  speed(now: number): number | undefined {
    if (this.rate !== undefined) return this.rate;
    const ms = now - this.headStart;
    return this.outstanding.length > 0 && ms >= 200 ? this.partial / ms : undefined;
  }

  /**
   * Late: it has a request out and nothing came for a second, or its
   * current chunk has taken more than twice what the fastest source needs
   * for one (plus 100 ms). A healthy swarm of equals has no late source.
   */
  late(now: number, fastestRate: number): boolean {
    if (this.outstanding.length === 0 || this.throttled) return false;
    const silentMs = Math.min(SILENT_MS, this.#options.timeoutMs / 2);
    if (now - Math.max(this.lastRead, this.headStart) > silentMs) return true;
    return fastestRate > 0 && now - this.headStart > 2 * CHUNK_SIZE / fastestRate + 100;
  }

  #watchdog(): Watchdog {
    return new Watchdog(this.#options.timeoutMs, () => this.close());
  }

  /** The next line that is not a push: the one read while idle, if any, else a new one. */
  async #readLine(watchdog: Watchdog): Promise<string> {
    const pending = this.#pending ?? this.#nextLine();
    this.#pending = undefined;
    const line = await pending.catch((e) => Promise.reject(this.#timedOut(e, watchdog)));
    if (line === null) throw new TransferError("ECLOSED", "closed the connection without answering");
    watchdog.touch();
    return line;
  }

  /** Reads lines, taking each push line (`* HAVE`, `* DONE`, `* GONE`) as it comes, up to the next other line. */
  async #nextLine(): Promise<string | null> {
    while (true) {
      const line = await this.#reader!.readLine(Limits.MAX_HEADER_BYTES);
      if (line === null || !isPush(line)) return line;
      this.lastRead = performance.now();
      this.#pushed(line);
    }
  }

  /** A push line: the chunks it names are there to ask for now. */
  #pushed(line: string): void {
    const { version, onChunks } = this.#options;
    const count = chunkCount(version.size);
    const push = parseChunkPush(line, count);
    if (push.name !== version.name) return; // another file asked of this holder: not ours to follow
    if (push.event === "GONE") {
      this.gone = true;
      this.close();
      return;
    }
    const gained: number[] = [];
    if (push.event === "DONE") {
      if (this.have) { for (let i = 0; i < count; i++) if (!this.have[i]) gained.push(i); }
      this.have = undefined;
    } else if (push.event === "HAVE" && this.have) {
      for (const [first, last] of push.ranges) {
        for (let i = first; i <= last; i++) {
          if (this.have[i]) continue;
          this.have[i] = 1;
          gained.push(i);
        }
      }
    }
    if (gained.length > 0) onChunks?.(this, gained);
  }

  #checkVersion(header: { size: number; sha256: string }): void {
    const { version } = this.#options;
    if (header.size !== version.size || header.sha256 !== version.sha256) {
      throw new TransferError(
        "ECHANGED",
        `offers ${header.size} bytes sha256 ${header.sha256.slice(0, 12)}…, the tracker said ${version.size} bytes ` +
          `sha256 ${version.sha256.slice(0, 12)}…`,
      );
    }
  }

  #timedOut(error: unknown, watchdog: Watchdog): unknown {
    if (this.#options.cancel?.aborted) return new TransferError("ECANCELED", "cancelled", { cause: error });
    if (watchdog.expired) {
      return new TransferError("ETIMEDOUT", `silent for ${this.#options.timeoutMs} ms`, { cause: error });
    }
    return error;
  }
}

/** A line a holder sent unasked that is not a push: its error (its `503 … stopping`), or a protocol error. */
function unasked(line: string): Error {
  try {
    parseFileHeader(line);
  } catch (error) {
    return error as Error;
  }
  return new TransferError("EPROTO", `sent ${JSON.stringify(line.slice(0, 80))} unasked`);
}
