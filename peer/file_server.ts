/**
 * Serving a shared folder to other peers: `GET name` (the whole file, then
 * close), `RANGE offset length name` and `HASHES name` (the connection stays
 * open for more), each answered with a header line and the raw bytes or the
 * chunk hashes. Names are resolved only through {@link SharedFolder}.
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
import { BufferPool, exactBytes, sinkStream, writeText } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";

/** What the file server reports. `bytes` counts the whole connection's bytes of that file (all its ranges). */
export type FileServerEvent =
  | { type: "served"; name: string; to: string; bytes: number; ranges: number }
  | { type: "refused"; to: string; status: number; message: string }
  | { type: "aborted"; name: string; to: string; bytes: number; message: string };

/** Options of {@link startFileServer}. */
export interface FileServerOptions extends ListenOptions {
  /** The folder to serve. */
  folder: SharedFolder;
  /** A connection silent (no byte read or written) this long is closed. Default `Timeouts.HOLDER_IDLE_MS`. */
  idleTimeoutMs?: number;
  /** All uploads together send at most this many bytes per second. Default: no limit. */
  maxUploadRate?: number;
  /** Most answers being sent at once; one more request gets `503 busy` at once. Default `Limits.MAX_UPLOADS`. */
  maxUploads?: number;
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
}

/** Starts serving `options.folder`; close the returned server to stop. */
export function startFileServer(options: FileServerOptions): FileServer {
  const clock = options.clock ?? systemClock;
  const context: ServeContext = {
    folder: options.folder,
    idleMs: options.idleTimeoutMs ?? Timeouts.HOLDER_IDLE_MS,
    onEvent: options.onEvent ?? (() => {}),
    pool: new BufferPool(8),
    limit: options.maxUploadRate ? new RateLimit(options.maxUploadRate, { clock }) : undefined,
    idle: new Set(),
    server: undefined,
    maxUploads: options.maxUploads ?? Limits.MAX_UPLOADS,
    uploading: 0,
    forced: false,
    clock,
  };
  const server = new TcpServer((conn) => new Upload(conn, context).serve(), options);
  context.server = server;
  const close = (graceMs = 0) =>
    server.close({
      graceMs,
      clock,
      onDrain: () => {
        for (const conn of context.idle) closeQuietly(conn);
      },
      onForce: () => context.forced = true,
    });
  return { addr: server.addr, close, [Symbol.asyncDispose]: () => close() };
}

interface ServeContext {
  folder: SharedFolder;
  idleMs: number;
  onEvent: (event: FileServerEvent) => void;
  /** Chunk buffers shared by every upload. */
  pool: BufferPool;
  limit?: RateLimit;
  /** Connections waiting for their next request: closed at once when the server drains. */
  idle: Set<Link>;
  server: TcpServer | undefined;
  maxUploads: number;
  /** Answers being sent now. */
  uploading: number;
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
 * the next answer starts.
 */
class Upload {
  #conn: Link;
  #context: ServeContext;
  #to: string;
  #watchdog: Watchdog;
  #reader: BufferedReader;
  /** The file this connection is fetching, and its bytes so far: one event per file, not per range. */
  #current = { name: "", bytes: 0, ranges: 0 };

  constructor(conn: Link, context: ServeContext) {
    this.#conn = conn;
    this.#context = context;
    const remote = conn.remoteAddr as Deno.NetAddr;
    this.#to = formatAddress(remote.hostname, remote.port);
    this.#watchdog = new Watchdog(context.idleMs, () => closeQuietly(conn), { clock: context.clock });
    this.#reader = new BufferedReader(conn);
  }

  async serve(): Promise<void> {
    try {
      while (!this.#context.server?.closing) {
        const request = await this.#nextRequest();
        if (request === null) return;
        if (request.name !== this.#current.name) this.#finish();
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
      const message = this.#watchdog.expired
        ? "idle timeout"
        : isDisconnect(error)
        ? "the downloader closed the connection"
        : errorMessage(error);
      if (this.#current.name) this.#context.onEvent({ type: "aborted", ...this.#current, to: this.#to, message });
      this.#current = { name: "", bytes: 0, ranges: 0 };
    } finally {
      this.#finish();
      this.#watchdog.stop();
    }
  }

  /** The next request; null when the client is done, or sent a line that is not one (it is told why). */
  async #nextRequest(): Promise<FileRequest | null> {
    const { idle } = this.#context;
    try {
      idle.add(this.#conn);
      const line = await this.#reader.readLine().finally(() => idle.delete(this.#conn));
      if (line === null) return null;
      this.#watchdog.touch();
      return parseFileRequest(line);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      await this.#refuse(error);
      return null;
    }
  }

  /** Tells of the file served so far, if any. */
  #finish(): void {
    if (this.#current.ranges > 0) this.#context.onEvent({ type: "served", ...this.#current, to: this.#to });
    this.#current = { name: "", bytes: 0, ranges: 0 };
  }

  async #refuse(error: ProtocolError): Promise<void> {
    this.#context.onEvent({ type: "refused", to: this.#to, status: error.status, message: error.message });
    await writeText(this.#conn, formatStatusLine(error.status, error.message));
  }

  /** Sends a header and the bytes asked for. */
  async #sendBytes(request: FileRequest): Promise<void> {
    const context = this.#context;
    const { folder, pool, limit } = context;
    if (context.uploading >= context.maxUploads) {
      throw new ProtocolError(Status.BUSY, `busy: ${context.maxUploads} uploads at once; try later`);
    }
    context.uploading++;
    using _slot = { [Symbol.dispose]: () => context.uploading-- };
    using opened = await folder.openFile(request.name);
    const { size, sha256 } = opened.entry;
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
    await exactBytes(opened.file, length, { pool })
      .pipeTo(sinkStream(this.#conn, { onWrite, pool, limit, cancelled }));
  }

  /** `HASHES <name>`: the header, then one line of hex per chunk. */
  async #sendHashes(name: string): Promise<void> {
    using opened = await this.#context.folder.openFile(name);
    const { size, sha256 } = opened.entry;
    const header = formatHashesHeader({
      size,
      sha256,
      chunkSize: CHUNK_SIZE,
      count: opened.chunks.length / HASH_BYTES,
    });
    await writeText(this.#conn, header + formatChunkHashes(opened.chunks));
  }
}
