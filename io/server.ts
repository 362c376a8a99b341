/**
 * The accept loop the tracker and the file server share: one handler call
 * per connection, every live connection kept so that shutdown closes it;
 * plain TCP, or TLS from the runtime (`Deno.listenTls`).
 *
 * @module
 */

import { formatAddress, formatStatusLine, Limits, Status, Timeouts } from "../protocol.ts";
import { type Clock, sleep, systemClock } from "./clock.ts";
import { TlsError } from "./errors.ts";
import { closeQuietly, type Link, readerLink } from "./link.ts";
import { authenticateClient, type Secret, SecureLink } from "./secret.ts";
import { clientHandshakeError, inspectFirstRead, isTlsClientHello, type TlsServerConfig } from "./tls.ts";
import { writeText } from "./streams.ts";
import { Slots } from "./slots.ts";
import { Watchdog } from "./watchdog.ts";

/** Where to listen, and whom to admit. */
export interface ListenOptions {
  /** Address to bind. Default `0.0.0.0`. */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Most connections at once; one more is answered `421` and closed. Default `Limits.MAX_CONNECTIONS`. */
  maxConnections?: number;
  /** A count of connections shared with another server (then `maxConnections` is its ceiling, not this). */
  connections?: Slots;
  /** Most connections at once from one remote address; 0 for no limit. Default 0. */
  maxPerAddress?: number;
  /**
   * Admit only clients that prove they know this secret (see `secret.ts`); over plain TCP, every byte is then
   * encrypted by its record layer (over TLS it is not needed). Default: admit all.
   */
  secret?: Secret;
  /**
   * Listen with TLS (`Deno.listenTls`), with this certificate and key. A client that speaks plain TCP fails
   * the handshake (and is told of it by the TLS alert it gets). Default: plain TCP, where a client that opens
   * with a TLS ClientHello is answered `400 this server speaks plain TCP, not TLS; …` and closed.
   */
  tls?: TlsServerConfig;
  /** With a secret or TLS: a client has this long for the handshakes. Default `Timeouts.HANDSHAKE_MS`. */
  handshakeTimeoutMs?: number;
}

/** Options of {@link TcpServer.close}. */
export interface CloseOptions {
  /** How long handlers may take to end on their own. Default 0: connections are closed at once. */
  graceMs?: number;
  /** Told when the grace period begins (to close idle connections at once). */
  onDrain?: () => void;
  /** Told just before the connections left are closed. */
  onForce?: () => void;
  /** Whose time the grace period is measured in. Default `systemClock`. */
  clock?: Clock;
}

/**
 * Handles one connection (`link`: what to read and write, encrypted with a
 * secret; `conn`: the TCP connection under it, for its addresses); the
 * server closes it after the returned promise settles.
 */
export type ConnectionHandler = (link: Link, conn: Deno.Conn) => Promise<void>;

/** Options of {@link TcpServer}. */
export interface TcpServerOptions extends ListenOptions {
  /**
   * Told of errors a handler threw, of failed accepts, and of clients that failed the TLS handshake or spoke TLS
   * to a plain server (a {@link TlsError} saying which and what to do). Default: nothing.
   */
  onError?: (error: unknown) => void;
  /** Whose time the handshake deadline is measured in. Default `systemClock`. */
  clock?: Clock;
}

/**
 * A TCP server: accepts until closed, then closes every connection and waits for the handlers.
 *
 * @example
 * ```ts
 * await using server = new TcpServer(async (link) => {
 *   await link.write(new TextEncoder().encode("200 hello\n"));
 * }, { hostname: "127.0.0.1", port: 0 });
 * console.log(`listening on port ${server.addr.port}`);
 * ```
 */
export class TcpServer implements AsyncDisposable {
  /** The address actually bound (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  #listener: Deno.Listener;
  #handler: ConnectionHandler;
  #onError: (error: unknown) => void;
  #conns = new Set<Deno.Conn>();
  /** Connections still in a handshake (TLS, `--secret`), and refused ones being told so: closed first on shutdown. */
  #unadmitted = new Set<Deno.Conn>();
  #perAddress = new Map<string, number>();
  #slots: Slots;
  #maxPerAddress: number;
  #secret: Secret | undefined;
  #tls: TlsServerConfig | undefined;
  #handshakeMs: number;
  #clock: Clock;
  #sessions = new Set<Promise<void>>();
  #acceptLoop: Promise<void>;
  #closing: Promise<void> | undefined;

  /**
   * Listens at once; throws `Deno.errors.AddrInUse` and the like, with a
   * message that names the address and what to do ({@link listenError}).
   */
  constructor(handler: ConnectionHandler, options: TcpServerOptions) {
    const hostname = options.hostname ?? "0.0.0.0";
    try {
      const { tls, port } = options;
      this.#listener = tls
        ? Deno.listenTls({ hostname, port, cert: tls.cert, key: tls.key })
        : Deno.listen({ hostname, port });
    } catch (error) {
      throw listenError(formatAddress(hostname, options.port), error, { tls: options.tls });
    }
    this.addr = this.#listener.addr as Deno.NetAddr;
    this.#handler = handler;
    this.#onError = options.onError ?? (() => {});
    this.#slots = options.connections ?? new Slots(options.maxConnections ?? Limits.MAX_CONNECTIONS);
    this.#maxPerAddress = options.maxPerAddress ?? 0;
    this.#secret = options.secret;
    this.#tls = options.tls;
    this.#handshakeMs = options.handshakeTimeoutMs ?? Timeouts.HANDSHAKE_MS;
    this.#clock = options.clock ?? systemClock;
    this.#acceptLoop = this.#accept();
  }

  async #accept(): Promise<void> {
    while (true) {
      let conn: Deno.Conn;
      try {
        conn = await this.#listener.accept();
      } catch (error) {
        if (this.#closing) return;
        if (error instanceof Deno.errors.BadResource) return;
        this.#onError(error);
        continue;
      }
      const from = (conn.remoteAddr as Deno.NetAddr).hostname;
      const fromCount = this.#perAddress.get(from) ?? 0;
      const refusal = this.#maxPerAddress > 0 && fromCount >= this.#maxPerAddress
        ? `too many connections from ${from} (${this.#maxPerAddress})`
        : !this.#slots.take()
        ? `too many connections (${this.#slots.max})`
        : undefined;
      if (refusal) {
        // Not awaited: a client that does not read must not hold the accept loop.
        this.#unadmitted.add(conn);
        writeText(conn, formatStatusLine(Status.TOO_MANY_CONNECTIONS, refusal)).catch(() => {}).finally(() => {
          this.#unadmitted.delete(conn);
          closeQuietly(conn);
        });
        continue;
      }
      this.#conns.add(conn);
      this.#perAddress.set(from, fromCount + 1);
      const session = this.#admit(conn)
        .then((link) => link && this.#handler(link, conn))
        .catch((error) => this.#onError(error))
        .finally(() => {
          closeQuietly(conn);
          this.#conns.delete(conn);
          this.#slots.release();
          const left = (this.#perAddress.get(from) ?? 1) - 1;
          if (left === 0) this.#perAddress.delete(from);
          else this.#perAddress.set(from, left);
          this.#sessions.delete(session);
        });
      this.#sessions.add(session);
    }
  }

  /**
   * The connection as its handler sees it: with TLS, after its handshake;
   * with a secret, after ours (both within the handshake timeout), and over
   * plain TCP encrypted; undefined if refused.
   */
  async #admit(conn: Deno.Conn): Promise<Link | undefined> {
    const tls = this.#tls;
    if (!tls) this.#answerTlsInPlain(conn);
    if (!this.#secret && !tls) return conn;
    using deadline = new Watchdog(this.#handshakeMs, () => closeQuietly(conn), { clock: this.#clock });
    this.#unadmitted.add(conn);
    try {
      if (tls) {
        try {
          await (conn as Deno.TlsConn).handshake();
        } catch (error) {
          // Cut by the deadline or by shutdown: nothing to tell.
          if (!deadline.expired && !this.#closing) this.#onError(clientHandshakeError(remoteOf(conn), error, { tls }));
          return undefined;
        }
      }
      if (!this.#secret) return this.#closing ? undefined : conn;
      const shook = await authenticateClient(conn, this.#secret);
      if (this.#closing) return undefined;
      // Over TLS the bytes are protected already: the handshake decides membership, and that is all.
      return tls
        ? readerLink(conn, shook.reader)
        : await SecureLink.over(conn, { shook, secret: this.#secret, side: "server" });
    } catch {
      return undefined; // told why already, or gone
    } finally {
      this.#unadmitted.delete(conn);
    }
  }

  /**
   * A plain server: a client whose first bytes are a TLS ClientHello is
   * answered in plain (its TLS handshake then fails, saying it does not
   * speak TLS), told of with `onError`, and its handler sees the end of the
   * stream. Only the first read is looked at.
   */
  #answerTlsInPlain(conn: Deno.Conn): void {
    inspectFirstRead(conn, async (bytes) => {
      if (!isTlsClientHello(bytes)) return true;
      const remote = remoteOf(conn);
      this.#onError(
        new TlsError(
          remote,
          `the client at ${remote} spoke TLS to this plain server; answered so and closed (a network is all TLS ` +
            "or all plain: drop its --tls-ca, or start this server with --tls-cert and --tls-key)",
        ),
      );
      await writeText(conn, formatStatusLine(Status.BAD_REQUEST, PLAIN_NOT_TLS)).catch(() => {});
      return false;
    });
  }

  /** True once {@link TcpServer.close} was called: handlers should finish what they are doing and stop. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stops accepting, then gives the handlers up to `options.graceMs` to end
   * on their own (they see {@link TcpServer.closing}; `onDrain` may close
   * idle connections at once), then closes every connection left and waits
   * for the handlers (`onForce` is told just before). Idempotent.
   */
  close(options: CloseOptions = {}): Promise<void> {
    const { graceMs = 0, onDrain, onForce, clock = systemClock } = options;
    this.#closing ??= (async () => {
      closeQuietly(this.#listener);
      await this.#acceptLoop;
      for (const conn of this.#unadmitted) closeQuietly(conn);
      if (graceMs > 0 && this.#sessions.size > 0) {
        onDrain?.();
        const stop = new AbortController();
        await Promise.race([Promise.allSettled([...this.#sessions]), sleep(graceMs, { signal: stop.signal, clock })]);
        stop.abort();
      }
      onForce?.();
      for (const conn of this.#conns) closeQuietly(conn);
      await Promise.allSettled([...this.#sessions]);
    })();
    return this.#closing;
  }

  /** Same as {@link TcpServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** What a plain server answers a TLS ClientHello with. */
const PLAIN_NOT_TLS = "this server speaks plain TCP, not TLS; connect without --tls-ca";

function remoteOf(conn: Deno.Conn): string {
  const { hostname, port } = conn.remoteAddr as Deno.NetAddr;
  return formatAddress(hostname, port);
}

/**
 * Why `address` (`HOST:PORT`) cannot be listened on, and what to do, as an
 * error of the same class as `error` (its `cause`):
 * `cannot listen on 0.0.0.0:5555: the address is in use (another peer or
 * tracker?); choose another with --port` (`options.flag`, default `--port`:
 * the flag that chose the port; with `options.tls`, a certificate or key
 * the runtime cannot use is named). A missing permission of Deno's
 * (which names the address already) is returned as it is.
 */
export function listenError(
  address: string,
  error: unknown,
  options: { flag?: string; tls?: TlsServerConfig } = {},
): unknown {
  const { flag = "--port", tls } = options;
  if (!(error instanceof Error) || error instanceof Deno.errors.NotCapable) return error;
  const host = address.slice(0, address.lastIndexOf(":"));
  // The runtime refuses a certificate or key it cannot use with plain `Error`s.
  const badTls = tls !== undefined && error.constructor === Error;
  const what = badTls
    ? `the TLS certificate ${tls.certFile} or its key ${tls.keyFile} cannot be used (${error.message}); ` +
      "check that the key is the certificate's, and that both are PEM"
    : error instanceof Deno.errors.AddrInUse
    ? `the address is in use (another peer or tracker?); choose another with ${flag}`
    : error instanceof Deno.errors.AddrNotAvailable
    ? `${host} is not an address of this machine; check --host`
    : error instanceof Deno.errors.PermissionDenied
    ? `permission denied (ports below 1024 need privileges); choose another with ${flag}`
    : `${error.message}; check --host and ${flag}`;
  const Class = error.constructor as new (message: string, options?: ErrorOptions) => Error;
  return new Class(`cannot listen on ${address}: ${what}`, { cause: error });
}
