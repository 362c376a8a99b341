/**
 * Serving a shared folder to other peers: `GET name` (the whole file, then
 * close), `RANGE offset length name` and `HASHES name` (the connection stays
 * open for more), each answered with a header line and the raw bytes or the
 * chunk hashes. Names are resolved only through {@link SharedFolder}.
 *
 * @module
 */

import { BufferedReader } from "../io/reader.ts";
import { bytesToHex, CHUNK_SIZE, HASH_BYTES } from "../disk/chunks.ts";
import type { Link, Secret } from "../io/secret.ts";
import {
  type FileRequest,
  formatAddress,
  formatFileHeader,
  formatHashesHeader,
  formatReplyLine,
  parseFileRequest,
  ProtocolError,
  Status,
} from "../protocol.ts";
import type { SharedFolder } from "../disk/shared_folder.ts";
import { type ListenOptions, TcpServer } from "../io/server.ts";
import {
  BufferPool,
  closeQuietly,
  errorMessage,
  exactBytes,
  isDisconnect,
  RateLimit,
  sinkStream,
  TransferError,
  Watchdog,
  writeText,
} from "../io/streams.ts";

/** What the file server reports. `bytes` counts the whole connection's bytes of that file (all its ranges). */
export type FileServerEvent =
  | { type: "served"; name: string; to: string; bytes: number; ranges: number }
  | { type: "refused"; to: string; status: number; message: string }
  | { type: "aborted"; name: string; to: string; bytes: number; message: string };

/** Options of {@link startFileServer}. */
export interface FileServerOptions extends ListenOptions {
  /** The folder to serve. */
  folder: SharedFolder;
  /** A connection silent (no byte read or written) this long is closed. Default 30,000 ms. */
  idleTimeoutMs?: number;
  /** All uploads together send at most this many bytes per second. Default: no limit. */
  maxUploadRate?: number;
  /** Most answers being sent at once; one more request gets `503 busy` at once. Default 64. */
  maxUploads?: number;
  /** Serve only peers that know this secret, every byte encrypted. Default: serve anyone, in the clear. */
  secret?: Secret;
  /** Told of every request. Default: nothing. */
  onEvent?: (event: FileServerEvent) => void;
  /** Told of unexpected errors. Default: nothing. */
  onError?: (error: unknown) => void;
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
  const context: ServeContext = {
    folder: options.folder,
    idleMs: options.idleTimeoutMs ?? 30_000,
    onEvent: options.onEvent ?? (() => {}),
    pool: new BufferPool(8),
    limit: options.maxUploadRate ? new RateLimit(options.maxUploadRate) : undefined,
    idle: new Set(),
    server: undefined,
    maxUploads: options.maxUploads ?? 64,
    uploading: 0,
    forced: false,
  };
  const server = new TcpServer(options, (conn) => serveConnection(conn, context), options.onError ?? (() => {}));
  context.server = server;
  const close = (graceMs = 0) =>
    server.close(
      graceMs,
      () => {
        for (const conn of context.idle) closeQuietly(conn);
      },
      () => context.forced = true,
    );
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
}

/**
 * Answers requests until the client closes, sends `GET` (answered, then
 * closed, so that `nc` ends), sends a line that is not a request, or stays
 * silent for the idle time. A failure in the middle of a body closes the
 * connection: the client could not tell where the next answer starts.
 */
async function serveConnection(conn: Link, context: ServeContext): Promise<void> {
  const { onEvent } = context;
  const remote = conn.remoteAddr as Deno.NetAddr;
  const to = formatAddress(remote.hostname, remote.port);
  using watchdog = new Watchdog(context.idleMs, () => closeQuietly(conn));
  const reader = new BufferedReader(conn);
  // The file this connection is fetching, and its bytes so far: one event per file, not per range.
  let current = { name: "", bytes: 0, ranges: 0 };
  const finish = () => {
    if (current.ranges > 0) onEvent({ type: "served", ...current, to });
    current = { name: "", bytes: 0, ranges: 0 };
  };
  try {
    while (!context.server?.closing) {
      let request: FileRequest;
      try {
        context.idle.add(conn);
        const line = await reader.readLine().finally(() => context.idle.delete(conn));
        if (line === null) return;
        watchdog.touch();
        request = parseFileRequest(line);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        await refuse(conn, error, to, onEvent);
        return;
      }
      if (request.name !== current.name) finish();
      current.name = request.name;
      try {
        if (request.verb === "HASHES") await sendHashes(conn, request.name, context);
        else await sendBytes(conn, request, context, watchdog, (n) => current.bytes += n);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        await refuse(conn, error, to, onEvent);
        if (request.verb === "GET") return;
        continue;
      }
      if (request.verb !== "HASHES") current.ranges++;
      if (request.verb === "GET") return;
    }
  } catch (error) {
    if (isDisconnect(error) || watchdog.expired || error instanceof TransferError) {
      const message = watchdog.expired
        ? "idle timeout"
        : isDisconnect(error)
        ? "the downloader closed the connection"
        : errorMessage(error);
      if (current.name) onEvent({ type: "aborted", ...current, to, message });
      current = { name: "", bytes: 0, ranges: 0 };
    } else {
      await writeText(conn, formatReplyLine(500, "server error") + "\n").catch(() => {});
      throw error;
    }
  } finally {
    finish();
  }
}

async function refuse(conn: Link, error: ProtocolError, to: string, onEvent: ServeContext["onEvent"]) {
  onEvent({ type: "refused", to, status: error.status, message: error.message });
  await writeText(conn, formatReplyLine(error.status, error.message) + "\n");
}

/** Sends a header and the bytes asked for; `progress` is told of every write. */
async function sendBytes(
  conn: Link,
  request: FileRequest,
  context: ServeContext,
  watchdog: Watchdog,
  progress: (n: number) => void,
): Promise<void> {
  const { folder, pool, limit } = context;
  if (context.uploading >= context.maxUploads) {
    throw new ProtocolError(Status.BUSY, `busy: ${context.maxUploads} uploads at once; try later`);
  }
  context.uploading++;
  using _slot = { [Symbol.dispose]: () => context.uploading-- };
  using opened = await folder.openFile(request.name);
  const { size, sha256 } = opened.entry;
  if (request.offset > size) {
    throw new ProtocolError(Status.RANGE_NOT_SATISFIABLE, `offset ${request.offset} is past the end (${size} bytes)`);
  }
  const length = Math.min(request.length ?? size, size - request.offset);
  await opened.file.seek(request.offset, Deno.SeekMode.Start);
  await writeText(conn, formatFileHeader({ size, sha256, offset: request.offset, length }));
  const onWrite = (n: number) => {
    watchdog.touch();
    progress(n);
  };
  const cancelled = () => watchdog.expired || context.forced;
  await exactBytes(opened.file, length, { pool }).pipeTo(sinkStream(conn, { onWrite, pool, limit, cancelled }));
}

/** `HASHES <name>`: the header, then one line of hex per chunk. */
async function sendHashes(conn: Link, name: string, { folder }: ServeContext): Promise<void> {
  using opened = await folder.openFile(name);
  const { size, sha256 } = opened.entry;
  const count = opened.chunks.length / HASH_BYTES;
  const lines = [formatHashesHeader({ size, sha256, chunkSize: CHUNK_SIZE, count })];
  for (let i = 0; i < count; i++) {
    lines.push(bytesToHex(opened.chunks.subarray(i * HASH_BYTES, (i + 1) * HASH_BYTES)) + "\n");
  }
  await writeText(conn, lines.join(""));
}
