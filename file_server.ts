/**
 * Serving a shared folder to other peers: one request per connection
 * (`GET name` or `RANGE offset length name`), answered with a header line and
 * the raw bytes. Names are resolved only through {@link SharedFolder}.
 *
 * @module
 */

import { BufferedReader } from "./reader.ts";
import {
  formatAddress,
  formatFileHeader,
  formatReplyLine,
  parseFileRequest,
  ProtocolError,
  Status,
} from "./protocol.ts";
import type { SharedFolder } from "./shared_folder.ts";
import { type ListenOptions, TcpServer } from "./server.ts";
import {
  BufferPool,
  closeQuietly,
  exactBytes,
  isDisconnect,
  sinkStream,
  TransferError,
  Watchdog,
  writeText,
} from "./transfer.ts";

/** What the file server reports. */
export type FileServerEvent =
  | { type: "served"; name: string; to: string; bytes: number }
  | { type: "refused"; to: string; status: number; message: string }
  | { type: "aborted"; name: string; to: string; bytes: number; message: string };

/** Options of {@link startFileServer}. */
export interface FileServerOptions extends ListenOptions {
  /** The folder to serve. */
  folder: SharedFolder;
  /** A connection silent (no byte read or written) this long is closed. Default 30,000 ms. */
  idleTimeoutMs?: number;
  /** Told of every request. Default: nothing. */
  onEvent?: (event: FileServerEvent) => void;
  /** Told of unexpected errors. Default: nothing. */
  onError?: (error: unknown) => void;
}

/** Starts serving `options.folder`; close the returned server to stop. */
export function startFileServer(options: FileServerOptions): TcpServer {
  const idleMs = options.idleTimeoutMs ?? 30_000;
  const onEvent = options.onEvent ?? (() => {});
  const pool = new BufferPool(8);
  return new TcpServer(
    options,
    (conn) => serveOne(conn, { folder: options.folder, idleMs, onEvent, pool }),
    options.onError ?? (() => {}),
  );
}

interface ServeContext {
  folder: SharedFolder;
  idleMs: number;
  onEvent: (event: FileServerEvent) => void;
  /** Chunk buffers shared by every upload. */
  pool: BufferPool;
}

async function serveOne(conn: Deno.Conn, { folder, idleMs, onEvent, pool }: ServeContext): Promise<void> {
  const remote = conn.remoteAddr as Deno.NetAddr;
  const to = formatAddress(remote.hostname, remote.port);
  using watchdog = new Watchdog(idleMs, () => closeQuietly(conn));
  let name = "";
  let sent = 0;
  try {
    const line = await new BufferedReader(conn).readLine();
    if (line === null) return;
    const request = parseFileRequest(line);
    name = request.name;
    using opened = await folder.openFile(request.name);
    const { size, sha256 } = opened.entry;
    if (request.offset > size) {
      throw new ProtocolError(Status.RANGE_NOT_SATISFIABLE, `offset ${request.offset} is past the end (${size} bytes)`);
    }
    const length = Math.min(request.length ?? size, size - request.offset);
    await opened.file.seek(request.offset, Deno.SeekMode.Start);
    await writeText(conn, formatFileHeader({ size, sha256, offset: request.offset, length }));
    const progress = (n: number) => {
      watchdog.touch();
      sent += n;
    };
    await exactBytes(opened.file, length, { pool }).pipeTo(sinkStream(conn, { onWrite: progress, pool }));
    onEvent({ type: "served", name, to, bytes: sent });
  } catch (error) {
    if (error instanceof ProtocolError) {
      onEvent({ type: "refused", to, status: error.status, message: error.message });
      await writeText(conn, formatReplyLine(error.status, error.message) + "\n").catch(() => {});
    } else if (isDisconnect(error) || watchdog.expired || error instanceof TransferError) {
      onEvent({ type: "aborted", name, to, bytes: sent, message: watchdog.expired ? "idle timeout" : String(error) });
    } else {
      await writeText(conn, formatReplyLine(500, "server error") + "\n").catch(() => {});
      throw error;
    }
  }
}
