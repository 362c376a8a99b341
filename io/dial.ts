/**
 * The one way to connect, to a tracker or to a holder: TCP, and with a
 * secret, the handshake and an encrypted link on top.
 *
 * @module
 */

import { parseAddress, Timeouts } from "../protocol.ts";
import { closeQuietly, type Link } from "./link.ts";
import { authenticateToServer, type Secret, SecureLink } from "./secret.ts";

/** Options of {@link dial}. */
export interface DialOptions {
  /** Connecting and the handshake together may take at most this long. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Aborting it gives up (the connection, if made, is closed). */
  signal?: AbortSignal;
  /** With a secret: the handshake, then every byte encrypted. Default: plain TCP. */
  secret?: Secret;
}

/**
 * Connects to `address` (`HOST:PORT` or `[V6]:PORT`). Throws what
 * connecting threw (`Deno.errors.ConnectionRefused`, a `TimeoutError`, an
 * `AbortError`; the same when the timeout or the signal cuts the
 * handshake), an `AuthError` when the handshake fails, or a `ProtocolError`
 * for an address that is not one.
 *
 * @example
 * ```ts
 * using conn = await dial("127.0.0.1:5555", { timeoutMs: 2_000 });
 * ```
 */
export async function dial(address: string, options: DialOptions = {}): Promise<Link & Disposable> {
  const { host, port } = parseAddress(address);
  const timeout = AbortSignal.timeout(options.timeoutMs ?? Timeouts.REQUEST_MS);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const conn = await Deno.connect({ hostname: host, port, signal });
  if (!options.secret) return disposable(conn);
  const stop = () => closeQuietly(conn);
  signal.addEventListener("abort", stop, { once: true });
  try {
    // Aborted once connected but before the listener was there: it would never be told.
    signal.throwIfAborted();
    const shook = await authenticateToServer(conn, options.secret);
    const link = await SecureLink.over(conn, { shook, secret: options.secret, side: "client" });
    signal.throwIfAborted();
    return disposable(link);
  } catch (error) {
    closeQuietly(conn);
    // Cut by the timeout or the caller: fail as connecting would have (a TimeoutError or an AbortError).
    if (signal.aborted) throw signal.reason;
    throw error;
  } finally {
    signal.removeEventListener("abort", stop);
  }
}

function disposable(link: Link): Link & Disposable {
  return Object.assign(link, { [Symbol.dispose]: () => closeQuietly(link) });
}
