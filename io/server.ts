/**
 * The accept loop the tracker and the file server share: one handler call
 * per connection, every live connection kept so that shutdown closes it.
 *
 * @module
 */

import { Status } from "../protocol.ts";
import { authenticateClient, type Link, type Secret, SecureLink } from "./secret.ts";
import { closeQuietly, Watchdog, writeText } from "./streams.ts";

/** Where to listen. */
export interface ListenOptions {
  /** Address to bind. Default `0.0.0.0`. */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** Most connections at once; one more is answered `421` and closed. Default 20,000. */
  maxConnections?: number;
  /** Most connections at once from one remote address; 0 for no limit. Default 0. */
  maxPerAddress?: number;
  /** Admit only clients that prove they know this secret, and encrypt (see `secret.ts`). Default: admit all. */
  secret?: Secret;
  /** With a secret: a client has this long to prove it. Default 10,000 ms. */
  handshakeTimeoutMs?: number;
}

/** Handles one connection; the server closes it after the returned promise settles. */
export type ConnectionHandler = (link: Link) => Promise<void>;

/** A TCP server: accepts until closed, then closes every connection and waits for the handlers. */
export class TcpServer implements AsyncDisposable {
  /** The address actually bound (the real port when 0 was asked). */
  readonly addr: Deno.NetAddr;
  #listener: Deno.TcpListener;
  #handler: ConnectionHandler;
  #onError: (error: unknown) => void;
  #conns = new Set<Deno.Conn>();
  /** Connections still in the `--secret` handshake, and refused ones being told so: closed first on shutdown. */
  #unadmitted = new Set<Deno.Conn>();
  #perAddress = new Map<string, number>();
  #maxConnections: number;
  #maxPerAddress: number;
  #secret: Secret | undefined;
  #handshakeMs: number;
  #sessions = new Set<Promise<void>>();
  #acceptLoop: Promise<void>;
  #closing: Promise<void> | undefined;

  /** Listens at once; throws `Deno.errors.AddrInUse` and the like. */
  constructor(options: ListenOptions, handler: ConnectionHandler, onError: (error: unknown) => void) {
    this.#listener = Deno.listen({ hostname: options.hostname ?? "0.0.0.0", port: options.port });
    this.addr = this.#listener.addr;
    this.#handler = handler;
    this.#onError = onError;
    this.#maxConnections = options.maxConnections ?? 20_000;
    this.#maxPerAddress = options.maxPerAddress ?? 0;
    this.#secret = options.secret;
    this.#handshakeMs = options.handshakeTimeoutMs ?? 10_000;
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
      const refusal = this.#conns.size >= this.#maxConnections
        ? `too many connections (${this.#maxConnections})`
        : this.#maxPerAddress > 0 && fromCount >= this.#maxPerAddress
        ? `too many connections from ${from} (${this.#maxPerAddress})`
        : undefined;
      if (refusal) {
        // Not awaited: a client that does not read must not hold the accept loop.
        this.#unadmitted.add(conn);
        writeText(conn, `${Status.TOO_MANY_CONNECTIONS} ${refusal}\n`).catch(() => {}).finally(() => {
          this.#unadmitted.delete(conn);
          closeQuietly(conn);
        });
        continue;
      }
      this.#conns.add(conn);
      this.#perAddress.set(from, fromCount + 1);
      const session = this.#admit(conn)
        .then((link) => link && this.#handler(link))
        .catch((error) => this.#onError(error))
        .finally(() => {
          closeQuietly(conn);
          this.#conns.delete(conn);
          const left = (this.#perAddress.get(from) ?? 1) - 1;
          if (left === 0) this.#perAddress.delete(from);
          else this.#perAddress.set(from, left);
          this.#sessions.delete(session);
        });
      this.#sessions.add(session);
    }
  }

  /**
   * The connection as its handler sees it: with a secret, after the
   * handshake (which must end within the handshake timeout), encrypted;
   * undefined if refused.
   */
  async #admit(conn: Deno.Conn): Promise<Link | undefined> {
    if (!this.#secret) return conn;
    using _deadline = new Watchdog(this.#handshakeMs, () => closeQuietly(conn));
    this.#unadmitted.add(conn);
    try {
      const shook = await authenticateClient(conn, this.#secret);
      return this.#closing ? undefined : await SecureLink.over(conn, shook, this.#secret, "server");
    } catch {
      return undefined; // told why already, or gone
    } finally {
      this.#unadmitted.delete(conn);
    }
  }

  /** True once {@link TcpServer.close} was called: handlers should finish what they are doing and stop. */
  get closing(): boolean {
    return this.#closing !== undefined;
  }

  /**
   * Stops accepting, then gives the handlers up to `graceMs` to end on their
   * own (they see {@link TcpServer.closing}; `onDrain` may close idle
   * connections at once), then closes every connection left and waits for
   * the handlers (`onForce` is told just before). Idempotent.
   */
  close(graceMs = 0, onDrain?: () => void, onForce?: () => void): Promise<void> {
    this.#closing ??= (async () => {
      closeQuietly(this.#listener);
      await this.#acceptLoop;
      for (const conn of this.#unadmitted) closeQuietly(conn);
      if (graceMs > 0 && this.#sessions.size > 0) {
        onDrain?.();
        let timer: ReturnType<typeof setTimeout> | undefined;
        const grace = new Promise((resolve) => timer = setTimeout(resolve, graceMs));
        await Promise.race([Promise.allSettled([...this.#sessions]), grace]);
        clearTimeout(timer);
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
