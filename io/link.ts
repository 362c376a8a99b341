/**
 * A connection as the code above it sees it: bytes in, bytes out, closed;
 * plain TCP or an encrypted link of `--secret` alike.
 *
 * @module
 */

import type { ByteSink, ByteSource } from "./streams.ts";

/** A connection: a `Deno.Conn`, or a `SecureLink` over one. */
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
