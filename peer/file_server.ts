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
  type FileRequest,
  formatAddress,
  formatChunkHashes,
  formatFileHeader,
  formatHashesHeader,
  formatStatusLine,
  HASH_BYTES,
  Limits,
  parseFileRequest,
  ProtocolError,
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
}

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
        try {
          if (request.verb === "HASHES") await this.#sendHashes(request.name);
          else await this.#sendBytes(request);
        } catch (error) {
          if (!(error instanceof ProtocolError)) throw error;
          await this.#refuse(error);
          if (request.verb === "GET") return;
          continue;
        }
        if (request.verb !== "HASHES") this.#current.ranges++;
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
    await writeText(this.#conn, formatStatusLine(Status.BUSY, this.#stopping));
    await this.#tcp.closeWrite();
  }

  /** The next request; null when the client is done, or sent a line that is not one (it is told why). */
  async #nextRequest(): Promise<FileRequest | null> {
    const { idle } = this.#context;
    try {
      idle.add(this);
      const line = await this.#reader.readLine().finally(() => idle.delete(this));
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
    await writeText(this.#conn, formatStatusLine(error.status, error.message));
  }

  /** Sends a header and the bytes asked for. */
  async #sendBytes(request: FileRequest): Promise<void> {
    const context = this.#context;
    const { folder, pool, limit } = context;
    if (!context.slots.take()) {
      throw new ProtocolError(Status.BUSY, `busy: ${context.slots.max} uploads at once; try later`);
    }
    using _slot = { [Symbol.dispose]: () => context.slots.release() };
    using opened = await folder.openFile(request.name);
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

  /** `HASHES <name>`: the header, then one line of hex per chunk. */
  async #sendHashes(name: string): Promise<void> {
    this.#answeredToEnd = false;
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
