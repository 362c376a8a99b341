/**
 * The one way to connect, to a tracker or to a holder: TCP or TLS, and
 * with a secret, the handshake on top (and over plain TCP, an encrypted
 * link: over TLS the bytes are protected already).
 *
 * @module
 */

import { parseAddress, Timeouts } from "../protocol.ts";
import { closeQuietly, type Link, readerLink } from "./link.ts";
import { authenticateToServer, type Secret, SecureLink } from "./secret.ts";
import {
  handshakeError,
  inspectFirstRead,
  isTlsAlert,
  type Party,
  speaksTlsError,
  type TlsClientConfig,
} from "./tls.ts";

/** Options of {@link dial}. */
export interface DialOptions {
  /** Connecting and the handshakes together may take at most this long. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Aborting it gives up (the connection, if made, is closed). */
  signal?: AbortSignal;
  /** With a secret: the handshake (membership), then over plain TCP every byte encrypted. Default: none. */
  secret?: Secret;
  /**
   * Connect with TLS, trusting these CAs; the server's certificate must name
   * the host dialled (an IP address as an `IP:` subjectAltName). Default: plain TCP.
   */
  tls?: TlsClientConfig;
  /** Who is dialled, for messages (`the tracker at …`). Default `peer`. */
  party?: Party;
}

/**
 * Connects to `address` (`HOST:PORT` or `[V6]:PORT`). Throws what
 * connecting threw (`Deno.errors.ConnectionRefused`, a `TimeoutError`, an
 * `AbortError`; the same when the timeout or the signal cuts a
 * handshake), a `TlsError` (code `ETLS`) when the TLS handshake fails (a
 * server that speaks plain, a certificate not trusted), an `AuthError`
 * when the `--secret` handshake fails, or a `ProtocolError` for an address
 * that is not one. Over plain TCP, a server that turns out to speak TLS
 * fails the first read with a `TlsError` saying so.
 *
 * @example
 * ```ts
 * using conn = await dial("127.0.0.1:5555", { timeoutMs: 2_000 });
 * ```
 */
export async function dial(address: string, options: DialOptions = {}): Promise<Link & Disposable> {
  const { host, port } = parseAddress(address);
  const { secret, tls, party = "peer" } = options;
  const timeout = AbortSignal.timeout(options.timeoutMs ?? Timeouts.REQUEST_MS);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  let conn: Deno.Conn = await Deno.connect({ hostname: host, port, signal });
  if (tls) {
    // The certificate must name `host`: a DNS name, or an IP address as an `IP:` subjectAltName.
    const tcp = conn as Deno.TcpConn;
    conn = await Deno.startTls(tcp, { hostname: host, caCerts: tls.caCerts }).catch((error) => {
      closeQuietly(tcp);
      throw error;
    });
  } else {
    inspectFirstRead(conn, (bytes) => {
      if (isTlsAlert(bytes)) throw speaksTlsError(address, party);
      return true;
    });
    if (!secret) return disposable(conn);
  }
  const stop = () => closeQuietly(conn);
  signal.addEventListener("abort", stop, { once: true });
  try {
    // Aborted once connected but before the listener was there: it would never be told.
    signal.throwIfAborted();
    if (tls) {
      await (conn as Deno.TlsConn).handshake().catch((error) => {
        throw handshakeError(address, error, { party, tls });
      });
    }
    let link: Link = conn;
    if (secret) {
      const shook = await authenticateToServer(conn, secret);
      link = tls ? readerLink(conn, shook.reader) : await SecureLink.over(conn, { shook, secret, side: "client" });
    }
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
