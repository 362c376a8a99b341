/**
 * Serving a shared folder to other peers: `GET name` (the whole file, then
 * close), `RANGE offset length name` and `HASHES name` (the connection stays
 * open for more), each answered with a header line and the raw bytes or the
 * chunk hashes. Names are resolved only through {@link SharedFolder}.
 *
 * Stopping: answers in the middle are let finish within the grace; every
 * request after that, and every connection waiting for one, is told `503
 * the peer at HOST:PORT is stopping; try another holder`, so that a
 * downloader goes on to another holder knowing why.
 *
 * @module
 */

import {
  CHUNK_SIZE,
  chunkCount,
  chunkSpan,
  type FileRequest,
  formatAddress,
  formatChunkHashes,
  formatChunkPush,
  formatFileHeader,
  formatHashesHeader,
  formatHaveHeader,
  formatStatusLine,
  HASH_BYTES,
  Limits,
  parseFileRequest,
  ProtocolError,
  quoteName,
  Status,
  Timeouts,
} from "../protocol.ts";
import type { SharedFolder } from "../disk/shared_folder.ts";
import { type Clock, systemClock } from "../io/clock.ts";
import { errorMessage, isDisconnect, TransferError } from "../io/errors.ts";
import { closeQuietly, type Link } from "../io/link.ts";
import { RateLimit } from "../io/rate_limit.ts";
import { BufferedReader } from "../io/reader.ts";
import { type ListenOptions, TcpServer } from "../io/server.ts";
import { Slots } from "../io/slots.ts";
import { BufferPool, exactBytes, sinkStream, writeText } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";
import type { PartialHolding, PartialHoldings } from "./partial_holdings.ts";

/**
 * What the file server reports. `bytes` counts the whole connection's bytes
 * of that file (all its ranges), `size` is the file's size, `ranges` the
 * answers sent in full (a `GET` is one).
 */
export type FileServerEvent =
  | { type: "served"; name: string; to: string; bytes: number; ranges: number; size: number }
  | { type: "refused"; to: string; status: number; message: string }
  | { type: "aborted"; name: string; to: string; bytes: number; size: number; message: string };

/** An upload under way: an answer being sent, or a file some ranges of which were sent on a connection still open. */
export interface Sending {
  /** The file. */
  name: string;
  /** To whom, `HOST:PORT`. */
  to: string;
  /** Its bytes sent on this connection so far (all its ranges). */
  bytes: number;
  /** The file's size. */
  size: number;
}

/** What an upload cut by the shutdown, or a request refused by it, is told. */
export const STOPPING = "this peer is stopping";

/**
 * After telling a downloader that it is stopping (and ending its side), how
 * long a connection is still read from, so that a request already on its
 * way is read rather than met by a reset (which could cost the downloader
 * the end of the last answer, and the `503`), unless the downloader closes
 * first (ours do, at the `503`).
 */
export const STOP_LINGER_MS = 1_000;

/** Options of {@link startFileServer}. */
export interface FileServerOptions extends ListenOptions {
  /** The folder to serve. */
  folder: SharedFolder;
  /** A connection silent (no byte read or written) this long is closed. Default `Timeouts.HOLDER_IDLE_MS`. */
  idleTimeoutMs?: number;
  /** All uploads together send at most this many bytes per second. Default: no limit (or `limit`'s). */
  maxUploadRate?: number;
  /** A byte budget shared with another server (the HTTP face); then `maxUploadRate` is ignored. Default: its own. */
  limit?: RateLimit;
  /** Most answers being sent at once; one more request gets `503 busy` at once. Default `Limits.MAX_UPLOADS`. */
  maxUploads?: number;
  /** A count of uploads shared with another server (the HTTP face); then `maxUploads` is ignored. Default: its own. */
  uploads?: Slots;
  /** Told of every request. Default: nothing. */
  onEvent?: (event: FileServerEvent) => void;
  /** Told of unexpected errors. Default: nothing. */
  onError?: (error: unknown) => void;
  /** Whose time the idle timeout, the upload budget and the shutdown grace are measured in. Default `systemClock`. */
  clock?: Clock;
  /** The files this peer is still downloading, served chunk by chunk as they are verified. Default: none. */
  partials?: PartialHoldings;
  /**
   * A chunk sent to one member of a crowd (a connection that asked `HAVE`
   * for that file) is refused to the others for this long after (`425`):
   * they fetch it from the peer that has it now. Default {@link RATION_MS}.
   */
  rationMs?: number;
}

/** How long a chunk that went to one member of a crowd is refused to the others. */
export const RATION_MS = 3_000;

/** A chunk under way to one member of a crowd is refused to the others for at most this many ration times. */
const IN_FLIGHT_RATIONS = 4;

/** Push lines waiting on one connection (a line per chunk, at most): more, and the client is not reading. */
const MAX_QUEUED_PUSHES = 65_536;

/** A running file server. */
export interface FileServer extends AsyncDisposable {
  /** The address actually bound. */
  addr: Deno.NetAddr;
  /**
   * Stops accepting; uploads in the middle of an answer may finish it within
   * `graceMs` (default 0: cut at once); connections waiting for a request
   * are closed at once. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
  /**
   * The uploads under way: answers being sent (a shutdown lets them finish
   * within its grace), and files some ranges of which were sent on a
   * connection still open (a shutdown tells its next request that this peer
   * is stopping).
   */
  sending(): Sending[];
}

/** Starts serving `options.folder`; close the returned server to stop. */
export function startFileServer(options: FileServerOptions): FileServer {
  const clock = options.clock ?? systemClock;
  const context: ServeContext = {
    folder: options.folder,
    idleMs: options.idleTimeoutMs ?? Timeouts.HOLDER_IDLE_MS,
    onEvent: options.onEvent ?? (() => {}),
    pool: new BufferPool(8),
    limit: options.limit ?? (options.maxUploadRate ? new RateLimit(options.maxUploadRate, { clock }) : undefined),
    idle: new Set(),
    uploads: new Set(),
    server: undefined,
    slots: options.uploads ?? new Slots(options.maxUploads ?? Limits.MAX_UPLOADS),
    forced: false,
    clock,
    partials: options.partials,
    rations: new Rations(options.rationMs ?? RATION_MS, clock),
  };
  const server = new TcpServer((link, conn) => new Upload(link, conn, context).serve(), options);
  context.server = server;
  const close = (graceMs = 0) =>
    server.close({
      graceMs,
      clock,
      onDrain: () => {
        for (const upload of context.idle) upload.stopWaiting();
      },
      onForce: () => context.forced = true,
    });
  const sending = () => [...context.uploads].flatMap((upload) => upload.progress ?? []);
  return { addr: server.addr, close, sending, [Symbol.asyncDispose]: () => close() };
}

interface ServeContext {
  folder: SharedFolder;
  idleMs: number;
  onEvent: (event: FileServerEvent) => void;
  /** Chunk buffers shared by every upload. */
  pool: BufferPool;
  limit?: RateLimit;
  /** Connections waiting for their next request: told the server is stopping, and closed, when it drains. */
  idle: Set<Upload>;
  /** Every connection being served. */
  uploads: Set<Upload>;
  server: TcpServer | undefined;
  /** Answers being sent now (shared with the HTTP face, when the peer has one). */
  slots: Slots;
  /** Shutting down past the grace period: uploads waiting for their budget give up. */
  forced: boolean;
  /** Whose time the idle timeout is measured in. */
  clock: Clock;
  partials: PartialHoldings | undefined;
  /** Which chunk went to which member of a crowd, and when. */
  rations: Rations;
}

/**
 * Which chunks of which file went to which connection of a crowd, and when:
 * a chunk sent (or being sent) to one member is not sent to another within
 * the ration time, so that a crowd's first holder sends each chunk about
 * once and the crowd trades the rest among itself.
 */
class Rations {
  #ms: number;
  #clock: Clock;
  /** name → chunk → to whom, when its sending began, and when it ended (`Infinity` while it is under way). */
  #sent = new Map<string, Map<number, { to: object; start: number; until: number }>>();

  constructor(ms: number, clock: Clock) {
    this.#ms = ms;
    this.#clock = clock;
  }

  /** Ms before `to` may have chunk `index` of `name`, 0 if now; `ago`: when it went to another, ms. */
  wait(name: string, index: number, to: object): { ms: number; ago: number } {
    const chunks = this.#sent.get(name);
    if (chunks) this.#prune(name, chunks);
    const sent = chunks?.get(index);
    if (!sent || sent.to === to) return { ms: 0, ago: 0 };
    const now = this.#clock.now();
    // Under way: refused while it goes (a crowd's members share the upload: a chunk may take seconds), but no
    // longer than four ration times from its start: a receiver that reads slowly must not hold it from all.
    if (sent.until === Infinity) return { ms: Math.max(0, sent.start + IN_FLIGHT_RATIONS * this.#ms - now), ago: 0 };
    return { ms: Math.max(0, sent.until + this.#ms - now), ago: now - sent.until };
  }

  /** Chunk `index` of `name` is being sent to `to`; the returned function says whether it went in full. */
  sending(name: string, index: number, to: object): (sent: boolean) => void {
    let chunks = this.#sent.get(name);
    if (!chunks) this.#sent.set(name, chunks = new Map());
    const record = { to, start: this.#clock.now(), until: Infinity };
    chunks.set(index, record);
    return (sent) => {
      if (sent) record.until = this.#clock.now();
      else if (chunks.get(index) === record) chunks.delete(index);
    };
  }

  /** Forgets what is past its ration time (a file's records are looked at when one of its chunks is asked for). */
  #prune(name: string, chunks: Map<number, { to: object; start: number; until: number }>): void {
    const now = this.#clock.now();
    for (const [i, r] of chunks) {
      if (r.until === Infinity ? r.start + IN_FLIGHT_RATIONS * this.#ms < now : r.until + this.#ms < now) {
        chunks.delete(i);
      }
    }
    if (chunks.size === 0) this.#sent.delete(name);
  }
}

/**
 * One downloader's connection: answers requests until the client closes,
 * sends `GET` (answered, then closed, so that `nc` ends), sends a line that
 * is not a request, or stays silent for the idle time. A failure in the
 * middle of a body closes the connection: the client could not tell where
 * the next answer starts. Once the server is stopping, the next request (or,
 * waiting for one, nothing) is answered `503 … is stopping` and our side
 * ends; what the client still sends is read, not left unread, until it
 * closes or {@link STOP_LINGER_MS} passes, so that closing sends no reset
 * that could take the end of the last answer, and the `503`, with it.
 */
class Upload {
  #conn: Link;
  /** The TCP connection under `#conn`: its side is ended after `503 … is stopping`. */
  #tcp: Deno.Conn;
  #context: ServeContext;
  #to: string;
  /** `the peer at HOST:PORT is stopping; …`, with the address the downloader reached. */
  #stopping: string;
  #watchdog: Watchdog;
  #reader: BufferedReader;
  /** The file this connection is fetching, and its bytes so far: one event per file, not per range. */
  #current = { name: "", bytes: 0, ranges: 0, size: 0 };
  /** The last answer sent reached the end of its file (a whole file, or the rest of one from an offset). */
  #answeredToEnd = false;
  /** Told the downloader that this peer is stopping: what comes now is read and dropped. */
  #stopped = false;
  /** Closes the connection once the downloader has had time to read `503 … is stopping`. */
  #linger: Watchdog | undefined;
  /** In the middle of an answer's bytes. */
  #answering = false;
  /** Handling a request: pushes wait for its answer to end. */
  #busy = false;
  /** Push lines (`* HAVE …`) waiting for the answer under way to end. */
  #pushes: string[] = [];
  /** Push lines being written. */
  #pushing: Promise<void> = Promise.resolve();
  /** The files this connection asked `HAVE` of (a crowd member), and what stops each one's pushes. */
  #watching = new Map<string, () => void>();
  /** The idle timeout is paused: a partial holding will push its next chunk here. */
  #waitingForPushes = false;
  /** Waiting for the next request (the only time the idle timeout may wait for pushes). */
  #waiting = false;

  constructor(link: Link, conn: Deno.Conn, context: ServeContext) {
    this.#conn = link;
    this.#tcp = conn;
    this.#context = context;
    const remote = link.remoteAddr as Deno.NetAddr;
    this.#to = formatAddress(remote.hostname, remote.port);
    const local = conn.localAddr as Deno.NetAddr;
    this.#stopping = `the peer at ${formatAddress(local.hostname, local.port)} is stopping; try another holder`;
    this.#watchdog = new Watchdog(context.idleMs, () => closeQuietly(link), { clock: context.clock });
    this.#reader = new BufferedReader(link);
  }

  /** The upload under way on this connection, if any. */
  get progress(): Sending | undefined {
    const { name, bytes, size, ranges } = this.#current;
    if (this.#stopped || !(this.#answering || ranges > 0)) return undefined;
    return { name, to: this.#to, bytes, size };
  }

  async serve(): Promise<void> {
    this.#context.uploads.add(this);
    try {
      while (true) {
        // Stopping, and the answer under way done: said now, unasked, rather than leave the downloader waiting
        // (and the stop with it) until it asks again.
        if (this.#context.server?.closing && !this.#stopped) {
          // The file sent to its end (all of it, or the rest of a resumed one): that upload is done, not cut (a
          // swarm's ranges before the end are cut: it wanted more).
          if (this.#answeredToEnd) this.#finish();
          await this.#sayStopping();
        }
        const request = await this.#nextRequest();
        if (request === null) return;
        if (this.#stopped) continue; // told already: read and dropped
        if (request.name !== this.#current.name) this.#finish();
        if (this.#context.server?.closing) {
          await this.#sayStopping();
          continue;
        }
        this.#current.name = request.name;
        this.#busy = true;
        try {
          await this.#pushing;
          if (request.verb === "HASHES") await this.#sendHashes(request.name);
          else if (request.verb === "HAVE") await this.#sendHave(request.name);
          else await this.#sendBytes(request);
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          await this.#refuse(error);
          if (request.verb === "GET") return;
          continue;
        } finally {
          this.#busy = false;
          await this.#flushPushes();
        }
        if (request.verb === "RANGE" || request.verb === "GET") this.#current.ranges++;
        if (request.verb === "GET") return;
      }
    } catch (error) {
      if (!isDisconnect(error) && !this.#watchdog.expired && !(error instanceof TransferError)) {
        await writeText(this.#conn, formatStatusLine(Status.SERVER_ERROR, "server error")).catch(() => {});
        throw error;
      }
      this.#cut(
        this.#stopped || this.#context.forced
          ? STOPPING
          : this.#watchdog.expired
          ? "idle timeout"
          : isDisconnect(error)
          ? "the downloader closed the connection"
          : errorMessage(error),
      );
    } finally {
      this.#context.uploads.delete(this);
      for (const stop of this.#watching.values()) stop();
      this.#watching.clear();
      this.#finish();
      this.#watchdog.stop();
      this.#linger?.stop();
    }
  }

  /**
   * The server began to stop while this connection waited for a request:
   * tells the downloader so, unasked (a request it sends next reads it as
   * the answer), and ends our side.
   */
  stopWaiting(): void {
    this.#sayStopping().catch(() => {}); // gone already: nothing to tell
  }

  /** `503 the peer at HOST:PORT is stopping; …`, then our side ends; reading goes on for {@link STOP_LINGER_MS}. */
  async #sayStopping(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#cut(STOPPING);
    this.#linger = new Watchdog(STOP_LINGER_MS, () => closeQuietly(this.#conn), { clock: this.#context.clock });
    await this.#pushing; // a push line under way is finished first: lines never interleave
    await writeText(this.#conn, formatStatusLine(Status.BUSY, this.#stopping));
    await this.#tcp.closeWrite();
  }

  /** The next request; null when the client is done, or sent a line that is not one (it is told why). */
  async #nextRequest(): Promise<FileRequest | null> {
    const { idle } = this.#context;
    try {
      idle.add(this);
      this.#waiting = true;
      this.#pauseWhileWatching();
      const line = await this.#reader.readLine().finally(() => {
        idle.delete(this);
        this.#waiting = false;
        this.#pauseWhileWatching();
      });
      if (line === null) return null;
      this.#watchdog.touch();
      return parseFileRequest(line);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      if (!this.#stopped) await this.#refuse(error);
      return null;
    }
  }

  /** Tells of the file served so far, if any. */
  #finish(): void {
    if (this.#current.ranges > 0) this.#context.onEvent({ type: "served", ...this.#current, to: this.#to });
    this.#current = { name: "", bytes: 0, ranges: 0, size: 0 };
  }

  /** Tells of the file being served as stopped for `message`, if anything of it was asked for. */
  #cut(message: string): void {
    const { name, ranges, bytes, size } = this.#current;
    // Only the hashes of a file sent, and nothing else asked (a connection waiting when the server stops): not an upload.
    if (name && (ranges > 0 || bytes > 0 || message !== STOPPING)) {
      this.#context.onEvent({ type: "aborted", name, to: this.#to, bytes, size, message });
    }
    this.#current = { name: "", bytes: 0, ranges: 0, size: 0 };
  }

  async #refuse(error: ProtocolError): Promise<void> {
    this.#context.onEvent({ type: "refused", to: this.#to, status: error.status, message: error.message });
    await this.#pushing;
    await writeText(this.#conn, formatStatusLine(error.status, error.message));
  }

  /**
   * Sends a header and the bytes asked for: from the folder, or, for a file
   * still being downloaded here, from its part file if every chunk asked
   * for is verified (`425` otherwise). A single chunk that went to another
   * member of a crowd a moment ago is refused too (`425`).
   */
  async #sendBytes(request: FileRequest): Promise<void> {
    const context = this.#context;
    const holding = context.partials?.get(request.name);
    if (holding && request.verb === "GET") {
      throw new ProtocolError(Status.NOT_FOUND, `no file ${quoteName(request.name)}`);
    }
    const chunk = holding ? undefined : this.#crowdChunk(request);
    if (holding) this.#checkHeld(request, holding);
    const ration = chunk === undefined ? undefined : context.rations.wait(request.name, chunk, this);
    if (ration && ration.ms > 0) {
      const when = ration.ago === 0
        ? "is being sent to another peer"
        : `went to another peer ${seconds(ration.ago)} ago`;
      throw new ProtocolError(
        Status.NOT_YET,
        `chunk ${chunk} of ${quoteName(request.name)} ${when}; fetch it from the peers that have it, or ask again in ${
          seconds(ration.ms)
        }`,
      );
    }
    if (!context.slots.take()) {
      throw new ProtocolError(Status.BUSY, `busy: ${context.slots.max} uploads at once; try later`);
    }
    using _slot = { [Symbol.dispose]: () => context.slots.release() };
    // Taken before the first wait, so that two members asking at once cannot both be sent the chunk.
    const sent = chunk === undefined ? undefined : context.rations.sending(request.name, chunk, this);
    try {
      await this.#sendFrom(request, holding);
      sent?.(true);
    } catch (error) {
      sent?.(false);
      throw error;
    }
  }

  /** Sends the header and the bytes of `request`, from the holding or the folder. */
  async #sendFrom(request: FileRequest, holding: PartialHolding | undefined): Promise<void> {
    const context = this.#context;
    const { folder, pool, limit } = context;
    using opened = holding ? await openHeld(holding) : await folder.openFile(request.name);
    const { size, sha256 } = opened.entry;
    this.#current.size = size;
    if (request.offset > size) {
      throw new ProtocolError(
        Status.RANGE_NOT_SATISFIABLE,
        `offset ${request.offset} is past the end (${size} bytes)`,
      );
    }
    const length = Math.min(request.length ?? size, size - request.offset);
    await opened.file.seek(request.offset, Deno.SeekMode.Start);
    await writeText(this.#conn, formatFileHeader({ size, sha256, offset: request.offset, length }));
    const onWrite = (n: number) => {
      this.#watchdog.touch();
      this.#current.bytes += n;
    };
    const cancelled = () => this.#watchdog.expired || context.forced;
    this.#answering = true;
    this.#answeredToEnd = false;
    try {
      await exactBytes(opened.file, length, { pool })
        .pipeTo(sinkStream(this.#conn, { onWrite, pool, limit, cancelled }));
      this.#answeredToEnd = request.offset + length === size;
    } finally {
      this.#answering = false;
    }
  }

  /**
   * The chunk a crowd member asks for (a connection that asked `HAVE` of the
   * file, for exactly one chunk): rationed. `undefined` for anything else.
   */
  #crowdChunk(request: FileRequest): number | undefined {
    if (request.verb !== "RANGE" || !this.#watching.has(request.name) || request.offset % CHUNK_SIZE !== 0) {
      return undefined;
    }
    const index = request.offset / CHUNK_SIZE;
    const size = this.#context.folder.entry(request.name)?.size;
    if (size === undefined || index >= chunkCount(size)) return undefined;
    return request.length === chunkSpan(index, size).length ? index : undefined;
  }

  /** A request to a partial holding: every chunk it covers must be verified here (`425`, `416` otherwise). */
  #checkHeld(request: FileRequest, holding: PartialHolding): void {
    const { size } = holding.version;
    if (request.offset > size) return; // past the end: 416, as for any file
    const first = holding.missing(request.offset, Math.min(request.length ?? size, size - request.offset));
    if (first !== undefined) {
      throw new ProtocolError(
        Status.NOT_YET,
        `not here yet: chunk ${first} of ${
          quoteName(request.name)
        } has not arrived; this peer is still downloading it ` +
          `(HAVE tells which chunks it has)`,
      );
    }
  }

  /**
   * `HAVE <name>`: the header, then what is held as push lines; a partial
   * holding pushes each chunk it verifies from now on, then `* DONE` or
   * `* GONE`. Makes this connection a member of the file's crowd.
   */
  async #sendHave(name: string): Promise<void> {
    this.#answeredToEnd = false;
    this.#watching.get(name)?.();
    const holding = this.#context.partials?.get(name);
    let text: string;
    if (holding) {
      this.#current.size = holding.version.size;
      text = formatHaveHeader(holding.version) + holding.state().join("");
      const stop = holding.watch((line) => {
        this.#push(line);
        if (!line.startsWith("* HAVE ")) this.#stopWatching(name, stop);
      });
      this.#watching.set(name, stop);
    } else {
      using opened = await this.#context.folder.openFile(name);
      this.#current.size = opened.entry.size;
      text = formatHaveHeader(opened.entry) + formatChunkPush({ event: "DONE", name });
      this.#watching.set(name, () => {});
    }
    await writeText(this.#conn, text);
  }

  /** The pushes of `name` ended (it landed, or withdrew). */
  #stopWatching(name: string, stop: () => void): void {
    if (this.#watching.get(name) !== stop) return;
    stop();
    this.#watching.set(name, () => {}); // still a crowd member: rationed as before
    this.#pauseWhileWatching();
  }

  /**
   * While the connection waits for its next request and a partial holding
   * may push here, silence is not idleness: the idle timeout waits. Never
   * while an answer is under way: a client that stops reading is cut.
   */
  #pauseWhileWatching(): void {
    const live = this.#waiting && [...this.#watching.keys()].some((n) => this.#context.partials?.get(n)?.live);
    if (live && !this.#waitingForPushes) this.#watchdog.pause();
    if (!live && this.#waitingForPushes) this.#watchdog.resume();
    this.#waitingForPushes = live;
  }

  /** Sends `line` unasked: now, or after the answer under way. A client that lets pushes pile up is cut. */
  #push(line: string): void {
    this.#pushes.push(line);
    if (this.#pushes.length > MAX_QUEUED_PUSHES) {
      this.#pushes.length = 0;
      closeQuietly(this.#conn); // it reads nothing: the serve loop ends at its next read or write
      return;
    }
    if (!this.#busy) this.#flushPushes();
  }

  /** Writes the waiting push lines, after those being written. */
  #flushPushes(): Promise<void> {
    if (this.#pushes.length === 0) return this.#pushing;
    this.#pushing = this.#pushing.then(async () => {
      while (this.#pushes.length > 0 && !this.#stopped) {
        await writeText(this.#conn, this.#pushes.splice(0).join(""));
        this.#watchdog.touch();
      }
    }).catch(() => closeQuietly(this.#conn)); // the downloader went: the read loop ends
    return this.#pushing;
  }

  /** `HASHES <name>`: the header, then one line of hex per chunk. */
  async #sendHashes(name: string): Promise<void> {
    this.#answeredToEnd = false;
    const holding = this.#context.partials?.get(name);
    if (holding?.chunks) {
      const { size, sha256 } = holding.version;
      this.#current.size = size;
      const count = holding.chunks.length / HASH_BYTES;
      await writeText(
        this.#conn,
        formatHashesHeader({ size, sha256, chunkSize: CHUNK_SIZE, count }) + formatChunkHashes(holding.chunks),
      );
      return;
    }
    using opened = await this.#context.folder.openFile(name);
    const { size, sha256 } = opened.entry;
    this.#current.size = size;
    const header = formatHashesHeader({
      size,
      sha256,
      chunkSize: CHUNK_SIZE,
      count: opened.chunks.length / HASH_BYTES,
    });
    await writeText(this.#conn, header + formatChunkHashes(opened.chunks));
  }
}

/** `0.4 s`: a duration in words. */
function seconds(ms: number): string {
  return `${(ms / 1000).toFixed(1)} s`;
}

/** The file of a partial holding (its part file, or the landed file), opened for reading, as the folder would. */
async function openHeld(
  holding: PartialHolding,
): Promise<{ file: Deno.FsFile; entry: { size: number; sha256: string } } & Disposable> {
  const open = async () => {
    const path = holding.path;
    // The download landed between the look and the open: the file is at its new path.
    return await Deno.open(path).catch((error) =>
      path === holding.path ? Promise.reject(error) : Deno.open(holding.path)
    );
  };
  const file = await open().catch(() => {
    // Its download ended meanwhile (withdrawn): not here any more. The local path is nobody else's business.
    throw new ProtocolError(Status.NOT_FOUND, `no file ${quoteName(holding.version.name)}: its download ended here`);
  });
  const { size, sha256 } = holding.version;
  return { file, entry: { size, sha256 }, [Symbol.dispose]: () => file.close() };
}
