/**
 * One `GET` to one holder: the header, then the body as a stream of
 * exactly the bytes the header announces. Relay mode reads files this way.
 *
 * @module
 */

import { type FileHeader, formatFileRequest, Limits, parseFileHeader, Timeouts } from "../protocol.ts";
import { dial } from "../io/dial.ts";
import { TransferError } from "../io/errors.ts";
import { closeQuietly } from "../io/link.ts";
import { BufferedReader } from "../io/reader.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
import { BufferPool, exactBytes, writeText } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";

/** A holder's answer to a file request: its header, then a stream of exactly `header.length` bytes. */
export interface RemoteFile extends Disposable {
  /** The holder's header: size and SHA-256 of the whole file. */
  header: FileHeader;
  /** The bytes, in ~1 MiB chunks; errors with `ETIMEDOUT` after the timeout's silence, `ETRUNCATED` on early end. */
  body: ReadableStream<Uint8Array>;
  /** Where the body's chunks come from: a sink may give them back here once written. */
  pool: BufferPool;
}

/** Options of {@link requestFile}. */
export interface RequestFileOptions {
  /** Connecting, and any silence while the holder should be sending. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Aborting it closes the connection: the body errors with `ECANCELED`. */
  signal?: AbortSignal;
  /** With a secret: the holder must prove it knows it, and every byte is encrypted. */
  secret?: Secret;
  /** Connect with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
}

/**
 * Connects to `address` and asks for `name`. Throws a `ProtocolError`
 * carrying the holder's status if it refuses, a `TransferError` if it
 * closes or stays silent for the timeout. Dispose of the result to close.
 *
 * @example
 * ```ts
 * using remote = await requestFile("127.0.0.1:5555", "hello.txt");
 * await remote.body.pipeTo(Deno.stdout.writable);
 * ```
 */
export async function requestFile(
  address: string,
  name: string,
  options: RequestFileOptions = {},
): Promise<RemoteFile> {
  const { signal, secret, tls } = options;
  const timeoutMs = options.timeoutMs ?? Timeouts.REQUEST_MS;
  const conn = await dial(address, { timeoutMs, signal, secret, tls });
  const watchdog = new Watchdog(timeoutMs, () => closeQuietly(conn));
  const cancel = () => closeQuietly(conn);
  signal?.addEventListener("abort", cancel, { once: true });
  const dispose = () => {
    signal?.removeEventListener("abort", cancel);
    watchdog.stop();
    closeQuietly(conn);
  };
  const timedOut = (error: unknown) => {
    if (signal?.aborted) throw new TransferError("ECANCELED", "cancelled", { cause: error });
    if (watchdog.expired) throw new TransferError("ETIMEDOUT", `silent for ${timeoutMs} ms`, { cause: error });
    throw error;
  };
  try {
    await writeText(conn, formatFileRequest({ name, offset: 0 }));
    const reader = new BufferedReader(conn);
    const line = await reader.readLine(Limits.MAX_HEADER_BYTES).catch(timedOut);
    watchdog.touch();
    if (line === null) throw new TransferError("ECLOSED", "closed the connection without answering");
    const header = parseFileHeader(line);
    const source = { read: (buffer: Uint8Array) => reader.read(buffer).catch(timedOut) };
    const pool = new BufferPool();
    const body = exactBytes(source, header.length, { onRead: () => watchdog.touch(), pool });
    return { header, body, pool, [Symbol.dispose]: dispose };
  } catch (error) {
    dispose();
    throw error;
  }
}
