/**
 * The HTTP/1.1 server both HTTP faces (a peer's files, the tracker's page)
 * run on: the runtime's own `node:http`, never a hand-written parser.
 *
 * Why `node:http` and not `Deno.serve` (measured on Deno 2.9.6, see
 * `docs/HTTP.md`): `Deno.serve` answers oversized headers `400` (this answers
 * `431`), never times out a client that trickles its headers (this answers
 * `408` and closes after {@link HttpServerOptions.headersTimeoutMs}), and
 * shows no connection before its request (this counts every connection
 * against `--max-connections`).
 *
 * With `tls` it serves HTTPS (`node:https`, the same bounds; a plain HTTP
 * request to the port is answered `400` in plain text, naming the
 * `https://` address); with `bearer`, every request must carry
 * `Authorization: Bearer <token>` (`bearer.ts`), else `401`.
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import type { Socket } from "node:net";
import { formatAddress, hexToBytes, Limits, ProtocolError, Status, Timeouts } from "../protocol.ts";
import { BEARER_REALM, checkBearer } from "./bearer.ts";
import { listenError } from "./server.ts";
import { Slots } from "./slots.ts";
import { isTlsClientHello, type TlsServerConfig } from "./tls.ts";

export type { IncomingMessage, ServerResponse };

/** The status of a request without the bearer token, or with a wrong one (`protocol.ts` has no use for it). */
export const UNAUTHORIZED = 401;

/** Answers one request; a throw (or a rejection) becomes `500` when nothing was sent yet, else a cut connection. */
export type HttpHandler = (request: IncomingMessage, response: ServerResponse) => void | Promise<void>;

/** Options of {@link startHttpServer}. */
export interface HttpServerOptions {
  /** Address to bind. Default `0.0.0.0`. */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** The flag that chose the port, named when it cannot be listened on. Default `--http-port`. */
  flag?: string;
  /** Connections at once; one more is answered `503` and closed. Default: `Limits.MAX_CONNECTIONS` of its own. */
  connections?: Slots;
  /** Most bytes of a request's line and headers; more is answered `431`. Default `Limits.MAX_HTTP_HEADER_BYTES`. */
  maxHeaderBytes?: number;
  /** A client has this long to send a request's headers; slower is answered `408`. Default `Timeouts.HTTP_HEADERS_MS`. */
  headersTimeoutMs?: number;
  /** Told of errors a handler threw. Default: nothing. */
  onError?: (error: unknown) => void;
  /**
   * Serve HTTPS with this certificate and key (the runtime's TLS, `node:https`); a plain HTTP request to the port
   * is answered `400` in plain text, naming the `https://` address. Default: plain HTTP.
   */
  tls?: TlsServerConfig;
  /**
   * Every request must carry `Authorization: Bearer <bearer>` (see `bearer.ts`); one without it, or with another
   * token, is answered `401` with `WWW-Authenticate: Bearer realm="p2p"` before `handler` sees it. Default: all
   * admitted.
   */
  bearer?: string;
  /** Told of each request refused `401` (its client `HOST:PORT` and the reason), as faces tell their refusals. */
  onUnauthorized?: (request: IncomingMessage, message: string) => void;
}

/** A running HTTP server. */
export interface HttpServer extends AsyncDisposable {
  /** The address actually bound. */
  addr: Deno.NetAddr;
  /** `http://HOST:PORT/`, or `https://HOST:PORT/` with TLS. */
  url: string;
  /** `https` with TLS, else `http`. */
  scheme: "http" | "https";
  /** Connections open now. */
  readonly connections: number;
  /**
   * Stops accepting and closes idle connections at once; answers under way
   * may finish within `graceMs` (default 0), then every connection left is
   * closed. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Listens on `options.hostname`:`options.port` and answers every request with
 * `handler`. Throws (as `Deno.errors.AddrInUse` and the like, with a message
 * naming the address and the flag) when it cannot listen.
 *
 * @example
 * ```ts
 * await using server = await startHttpServer((_request, response) => {
 *   response.end("hello\n");
 * }, { hostname: "127.0.0.1", port: 0 });
 * const answer = await fetch(server.url);
 * console.log(await answer.text()); // "hello\n"
 * ```
 */
export async function startHttpServer(handler: HttpHandler, options: HttpServerOptions): Promise<HttpServer> {
  const hostname = options.hostname ?? "0.0.0.0";
  const headersTimeout = options.headersTimeoutMs ?? Timeouts.HTTP_HEADERS_MS;
  const settings = {
    maxHeaderSize: options.maxHeaderBytes ?? Limits.MAX_HTTP_HEADER_BYTES,
    headersTimeout,
    // A whole request (headers; our requests have no body) within the same bound.
    requestTimeout: headersTimeout,
    // How often the two timeouts are checked (Node's default, 30 s, would let a trickler stay that long).
    connectionsCheckingInterval: Math.max(50, Math.min(1_000, Math.floor(headersTimeout / 4))),
    keepAliveTimeout: 5_000,
  };
  const tls = options.tls;
  const server: Server = tls
    ? createHttpsServer({ ...settings, cert: tls.cert, key: tls.key, handshakeTimeout: headersTimeout })
    : createServer(settings);
  const scheme = tls ? "https" : "http";
  const slots = options.connections ?? new Slots(Limits.MAX_CONNECTIONS);
  const onError = options.onError ?? (() => {});
  /** Every TCP connection (under TLS, the one below it), by its client's address and port. */
  const sockets = new Map<string, Socket>();
  /** The TCP connection under `socket` (itself without TLS). */
  const tcpOf = (socket: Socket) => sockets.get(peerKey(socket)) ?? socket;
  /** Connections in the middle of a request: the others are closed at once when the server closes. */
  const busy = new Set<Socket>();
  /**
   * Connections admitted past the ceiling: their first request is answered `503`, then they close (one that never
   * asks is closed by the header deadline). Closing one before it has asked raced clients that had just sent a
   * request (a fetch hung on it), so it is told in answer to its request.
   */
  const over = new WeakSet<Socket>();
  const counted = (socket: Socket) => {
    const key = peerKey(socket);
    sockets.set(key, socket);
    if (slots.take()) socket.once("close", () => slots.release());
    else over.add(socket);
    socket.once("close", () => {
      sockets.delete(key);
      busy.delete(socket);
    });
  };
  if (tls) {
    // The TLS server's own listener wraps each connection; it runs once the first byte shows a TLS handshake.
    const secure = server.listeners("connection") as ((socket: Socket) => void)[];
    server.removeAllListeners("connection");
    server.on("connection", (socket: Socket) => {
      counted(socket);
      sniff(socket, { deadlineMs: headersTimeout, secure: () => secure.forEach((l) => l.call(server, socket)) });
    });
    // A client that gives up on the handshake (wrong CA, plain bytes after all): nothing to tell anyone.
    server.on("tlsClientError", () => {});
  } else {
    server.on("connection", counted);
  }
  const bearer = options.bearer;
  const onUnauthorized = options.onUnauthorized ?? (() => {});
  server.on("request", (request: IncomingMessage, response: ServerResponse) => {
    const tcp = tcpOf(request.socket);
    if (over.has(tcp)) {
      response.writeHead(503, { "content-type": "text/plain; charset=utf-8", "retry-after": "5", connection: "close" });
      response.end(`503 too many connections (${slots.max}); try again later\n`);
      return;
    }
    if (bearer !== undefined) {
      const refusal = unauthorized(checkBearer(request.headers.authorization, bearer));
      if (refusal) {
        onUnauthorized(request, refusal.message);
        sendWhole(response, { ...refusal, head: request.method === "HEAD" });
        return;
      }
    }
    busy.add(tcp);
    response.once("close", () => busy.delete(tcp));
    answer(handler, request, response).catch(onError);
  });
  await listen(server, hostname, options.port).catch((error) => {
    throw listenError(formatAddress(hostname, options.port), error, { flag: options.flag ?? "--http-port" });
  });
  const bound = server.address();
  if (bound === null || typeof bound === "string") throw new Error("node:http did not report its TCP address");
  const addr: Deno.NetAddr = { transport: "tcp", hostname: bound.address, port: bound.port };
  const url = `${scheme}://${formatAddress(addr.hostname, addr.port)}/`;
  let closing: Promise<void> | undefined;
  const close = (graceMs = 0) =>
    closing ??= new Promise<void>((resolve) => {
      const force = setTimeout(() => server.closeAllConnections(), graceMs);
      server.close(() => {
        clearTimeout(force);
        resolve();
      });
      server.closeIdleConnections();
      // Connected but with no request under way (silent, in its TLS handshake, or still sending its headers):
      // nothing to finish.
      for (const socket of sockets.values()) if (!busy.has(socket)) socket.destroy();
      if (graceMs <= 0) {
        server.closeAllConnections();
        // Under TLS, what the HTTP layer closes is the TLS socket: the TCP one below goes with it, or now.
        for (const socket of sockets.values()) socket.destroy();
      }
    });
  return {
    addr,
    url,
    scheme,
    get connections() {
      return sockets.size;
    },
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

/** A connection's client, `address port`: the same for a TCP connection and the TLS one over it. */
function peerKey(socket: Socket): string {
  return `${socket.remoteAddress} ${socket.remotePort}`;
}

/** The `401` a bearer check calls for, if any. */
function unauthorized(check: "ok" | "missing" | "wrong"): (WholeAnswer & { message: string }) | undefined {
  if (check === "ok") return undefined;
  const message = check === "missing"
    ? 'this HTTP face needs the header "Authorization: Bearer <token>", the token of the network\'s secret'
    : 'the bearer token is not this network\'s: send "Authorization: Bearer <token>" with the token of its secret';
  const error = check === "wrong" ? `, error="invalid_token"` : "";
  return {
    status: UNAUTHORIZED,
    headers: {
      "www-authenticate": `Bearer realm="${BEARER_REALM}"${error}`,
      "content-type": "text/plain; charset=utf-8",
      "cache-control": "no-store",
    },
    body: `401 ${message}; the tracker and each peer print it at start, and docs/HTTP.md shows how to compute it\n`,
    message,
  };
}

/**
 * Waits for a connection's first bytes (within `deadlineMs`, else closes it): a TLS handshake (a record of type
 * 22) goes on to `secure`; anything else is plain HTTP sent to the HTTPS port, answered `400` in plain text with
 * the `https://` address to ask instead, and closed (at the deadline, if the client keeps it open).
 */
function sniff(socket: Socket, next: { deadlineMs: number; secure: () => void }): void {
  socket.on("error", () => {}); // a client gone: told by "close"
  const deadline = setTimeout(() => socket.destroy(), next.deadlineMs);
  socket.once("close", () => clearTimeout(deadline));
  socket.once("data", (first: Uint8Array) => {
    socket.pause();
    socket.unshift(first);
    if (isTlsClientHello(first)) {
      clearTimeout(deadline); // from here, the handshake's and the headers' own deadlines
      return next.secure();
    }
    const head = new TextDecoder().decode(first.subarray(0, 4096));
    const host = /\r?\nhost:[ \t]*([A-Za-z0-9.:[\]-]{1,300})[ \t]*\r?\n/i.exec(head)?.[1] ??
      formatAddress(socket.localAddress ?? "127.0.0.1", socket.localPort ?? 0);
    const body = `400 this port speaks HTTPS, not plain HTTP: ask https://${host}/ instead ` +
      `(curl: https:// and --cacert with the network's CA certificate)\n`;
    socket.resume(); // read what else comes, so that the connection can close
    socket.end(
      `HTTP/1.1 400 Bad Request\r\ncontent-type: text/plain; charset=utf-8\r\nconnection: close\r\n` +
        `content-length: ${encoder.encode(body).length}\r\n\r\n${body}`,
    );
  });
}

/**
 * The headers that carry a file's SHA-256 (64 hex digits): `Repr-Digest` (RFC 9530) and the older `Digest`
 * (RFC 3230), which aria2 and wget2 read; both faces send both.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { EMPTY_SHA256 } from "../protocol.ts";
 *
 * assert.deepEqual(digestHeaders(EMPTY_SHA256), {
 *   "repr-digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
 *   digest: "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
 * });
 * ```
 */
export function digestHeaders(sha256: string): { "repr-digest": string; digest: string } {
  const base64 = btoa(String.fromCharCode(...hexToBytes(sha256)));
  return { "repr-digest": `sha-256=:${base64}:`, digest: `SHA-256=${base64}` };
}

/** The client of `request`, `HOST:PORT`, as events name it. */
export function clientAddress(request: IncomingMessage): string {
  return formatAddress(request.socket.remoteAddress ?? "?", request.socket.remotePort ?? 0);
}

/** A whole answer, small enough to hold: its status, headers and text. */
export interface WholeAnswer {
  /** The status. */
  status: number;
  /** Its headers (`content-length` is added). */
  headers?: Record<string, string>;
  /** Its body, as text. */
  body: string;
  /** An answer to `HEAD`: the headers only (with the body's length). Default false. */
  head?: boolean;
}

/** Sends `answer` whole, with its length in bytes. */
export function sendWhole(response: ServerResponse, answer: WholeAnswer): void {
  const body = encoder.encode(answer.body);
  response.writeHead(answer.status, { ...answer.headers, "content-length": String(body.length) });
  response.end(answer.head ? undefined : body);
}

const encoder = new TextEncoder();

/**
 * `/files/<name>`, the name percent-encoded: where a peer's HTTP face
 * serves a file (and the tracker's redirects to one). {@link nameFromPath}
 * reads the name back.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(filePath("a b%.txt"), "/files/a%20b%25.txt");
 * ```
 */
export function filePath(name: string): string {
  return `/files/${encodeURIComponent(name)}`;
}

/**
 * The file name in a path segment (`/files/<segment>`), percent-decoded;
 * a malformed escape is a `400` {@link ProtocolError}. The name is not
 * checked here: whoever looks it up does (`checkName`, the shared folder).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(nameFromPath("a%20b%25.txt"), "a b%.txt");
 * assert.throws(() => nameFromPath("%zz"), /bad %-escape/);
 * ```
 */
export function nameFromPath(segment: string): string {
  try {
    return decodeURIComponent(segment);
  } catch (error) {
    if (!(error instanceof URIError)) throw error;
    throw new ProtocolError(Status.BAD_REQUEST, `bad %-escape in ${JSON.stringify(segment.slice(0, 80))}`);
  }
}

/**
 * The `Content-Disposition` of a download of `name` (RFC 6266): `filename`
 * in plain printable ASCII (anything else, `"`, `\`, and the `%` of what
 * looks like a `%XX` escape become `_`; `curl -J` reads only this one), and
 * `filename*` in UTF-8 (RFC 8187) whenever the name is not plain printable
 * ASCII or holds `"`, `\` or `%`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(contentDisposition("a b.txt"), 'attachment; filename="a b.txt"');
 * assert.equal(contentDisposition("café.txt"), "attachment; filename=\"caf_.txt\"; filename*=UTF-8''caf%C3%A9.txt");
 * assert.equal(contentDisposition("100%.txt"), "attachment; filename=\"100%.txt\"; filename*=UTF-8''100%25.txt");
 * ```
 */
export function contentDisposition(name: string): string {
  if (/^[\x20-\x7e]*$/.test(name) && !/["\\%]/.test(name)) return `attachment; filename="${name}"`;
  const ascii = name.replace(/[^\x20-\x7e]|["\\]|%(?=[0-9A-Fa-f]{2})/gu, "_");
  const encoded = encodeURIComponent(name).replace(/['()*]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase());
  return `attachment; filename="${ascii}"; filename*=UTF-8''${encoded}`;
}

/** Runs `handler`; a failure before anything was sent is answered `500`, after that the connection is cut. */
async function answer(handler: HttpHandler, request: IncomingMessage, response: ServerResponse): Promise<void> {
  try {
    await handler(request, response);
  } catch (error) {
    if (!response.headersSent) {
      response.writeHead(500, { "content-type": "text/plain; charset=utf-8" });
      response.end("500 server error\n");
    } else {
      response.destroy();
    }
    throw error;
  }
}

/** `server.listen`, as a promise; a failure as the `Deno.errors` class of its code. */
function listen(server: Server, hostname: string, port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const failed = (error: Error & { code?: string }) => reject(asDenoError(error));
    server.once("error", failed);
    server.listen(port, hostname, () => {
      server.off("error", failed);
      resolve();
    });
  });
}

function asDenoError(error: Error & { code?: string }): Error {
  const Class = error.code === "EADDRINUSE"
    ? Deno.errors.AddrInUse
    : error.code === "EADDRNOTAVAIL"
    ? Deno.errors.AddrNotAvailable
    : error.code === "EACCES"
    ? Deno.errors.PermissionDenied
    : undefined;
  return Class ? new Class(error.message, { cause: error }) : error;
}
