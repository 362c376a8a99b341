/**
 * A connection as the code above it sees it: bytes in, bytes out, closed;
 * plain TCP or an encrypted link of `--secret` alike.
 *
 * @module
 */

import type { ByteSink, ByteSource } from "./streams.ts";

/** A connection: a `Deno.Conn` (TCP or TLS), a `SecureLink` over one, or a {@link readerLink}. */
export interface Link extends ByteSource, ByteSink {
  /** Closes the connection; a second call throws `BadResource` (use {@link closeQuietly}). */
  close(): void;
  /** The other side's address. */
  readonly remoteAddr: Deno.Addr;
}

/** Closes a resource that may already be closed. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/**
 * A connection read through `reader` (which may hold bytes read past a
 * handshake's last line) and written straight: what `--secret` over TLS
 * leaves, where no record layer of ours is needed.
 */
export function readerLink(conn: Deno.Conn, reader: ByteSource): Link {
  return {
    read: (buffer) => reader.read(buffer),
    write: (bytes) => conn.write(bytes),
    close: () => conn.close(),
    get remoteAddr() {
      return conn.remoteAddr;
    },
  };
}
