/**
 * A peer's HTTP face: its shared folder over HTTP/1.1, for browsers, `curl`,
 * `wget` and aria2. `GET`/`HEAD /files/<name>` (one range at most,
 * `If-None-Match`, `If-Range`, the file's SHA-256 as `ETag`, `Repr-Digest`
 * and `Digest`), `GET /` (a page listing the folder), `GET /api/files` and
 * `GET /api/files/<name>` (JSON, with the chunk hashes). Names go through
 * {@link SharedFolder.openFile}, the same resolver as the TCP file server;
 * the upload budget (`limit`), the upload count (`uploads`) and the
 * connection count (`connections`) may be shared with it, and uploads are
 * told as the same {@link FileServerEvent}s. With `tls`, HTTPS; with
 * `bearer`, only requests that carry the token are answered (`401` else).
 *
 * @module
 */

import { bytesToHex, CHUNK_SIZE, HASH_BYTES, Limits, ProtocolError, Status, Timeouts } from "../protocol.ts";
import type { SharedFolder } from "../disk/shared_folder.ts";
import {
  clientAddress,
  contentDisposition,
  digestHeaders,
  filePath,
  type HttpServer,
  type IncomingMessage,
  nameFromPath,
  sendWhole,
  type ServerResponse,
  startHttpServer,
  UNAUTHORIZED,
} from "../io/http_server.ts";
import type { TlsServerConfig } from "../io/tls.ts";
import { errorMessage } from "../io/errors.ts";
import { plural } from "../io/words.ts";
import type { RateLimit } from "../io/rate_limit.ts";
import { Slots } from "../io/slots.ts";
import { Watchdog } from "../io/watchdog.ts";
import { type Clock, systemClock } from "../io/clock.ts";
import { type FileServerEvent, type Sending, STOPPING } from "./file_server.ts";
import { contentType, ifRangeHolds, noneMatch, parseRange } from "./http_file_headers.ts";

/** Options of {@link startPeerHttp}. */
export interface PeerHttpOptions {
  /** The folder to serve. */
  folder: SharedFolder;
  /** Address to bind. Default `0.0.0.0`. */
  hostname?: string;
  /** Port to bind; 0 picks a free one. */
  port: number;
  /** A byte budget shared with the TCP file server (`--max-upload-rate`). Default: no limit. */
  limit?: RateLimit;
  /** A count of uploads shared with the TCP file server (`--max-uploads`). Default: `Limits.MAX_UPLOADS` of its own. */
  uploads?: Slots;
  /** A count of connections shared with the TCP file server (`--max-connections`). Default: its own. */
  connections?: Slots;
  /** A client has this long to send a request's headers; slower is answered `408`. Default `Timeouts.HTTP_HEADERS_MS`. */
  headersTimeoutMs?: number;
  /**
   * A download whose client takes nothing for this long is cut, and its upload slot freed, as the TCP file server
   * does. Default `Timeouts.HOLDER_IDLE_MS`.
   */
  idleTimeoutMs?: number;
  /** Whose time the idle timeout is measured in. Default `systemClock`. */
  clock?: Clock;
  /** Told of every upload served, cut or refused (`to` is the client's `HOST:PORT`). Default: nothing. */
  onEvent?: (event: FileServerEvent) => void;
  /** Told of unexpected errors. Default: nothing. */
  onError?: (error: unknown) => void;
  /** Serve HTTPS with this certificate and key; a plain HTTP request is answered `400`. Default: plain HTTP. */
  tls?: TlsServerConfig;
  /**
   * Every request must carry `Authorization: Bearer <bearer>` (`io/bearer.ts`: the token of the secret); others
   * are answered `401`, told as a `refused` event. Default: all admitted.
   */
  bearer?: string;
}

/** A running HTTP face. */
export interface PeerHttp extends AsyncDisposable {
  /** The address actually bound. */
  addr: Deno.NetAddr;
  /** `http://HOST:PORT/`, or `https://HOST:PORT/` with TLS. */
  url: string;
  /** The bodies being sent now. */
  sending(): Sending[];
  /**
   * Stops accepting; answers under way may finish within `graceMs` (default
   * 0), later requests on open connections are answered `503 … stopping`,
   * then every connection left is cut. Idempotent.
   */
  close(graceMs?: number): Promise<void>;
}

/**
 * Serves `options.folder` over HTTP (HTTPS with `options.tls`). Throws
 * (naming the address and `--http-port`) when it cannot listen.
 *
 * @example
 * ```ts
 * import { SharedFolder } from "../disk/shared_folder.ts";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
 * const folder = await SharedFolder.open(dir);
 * await folder.scan();
 * await using http = await startPeerHttp({ folder, hostname: "127.0.0.1", port: 0 });
 * const answer = await fetch(new URL("files/hello.txt", http.url));
 * console.log(await answer.text()); // "hello"
 * ```
 */
export async function startPeerHttp(options: PeerHttpOptions): Promise<PeerHttp> {
  const face = new Face(options);
  const server = await startHttpServer((request, response) => face.track(face.answer(request, response)), {
    hostname: options.hostname,
    port: options.port,
    connections: options.connections,
    headersTimeoutMs: options.headersTimeoutMs,
    onError: options.onError,
    tls: options.tls,
    bearer: options.bearer,
    onUnauthorized: (request, message) =>
      options.onEvent?.({ type: "refused", to: clientAddress(request), status: UNAUTHORIZED, message }),
  });
  face.server = server;
  let closing: Promise<void> | undefined;
  const close = (graceMs = 0) =>
    closing ??= (async () => {
      face.stopping = true;
      await server.close(graceMs);
      // Every connection is closed: what an answer still does (give back its file, its slot) ends now.
      await face.settled();
    })();
  return {
    addr: server.addr,
    url: server.url,
    sending: () => [...face.sending].map((upload) => ({ ...upload })),
    close,
    [Symbol.asyncDispose]: () => close(),
  };
}

function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

// ---------------------------------------------------------------------------
// Serving

/**
 * How much of a file one read takes, and one write hands the socket. Measured (`deno task bench --only http`):
 * 256 KiB keeps curl at its own ceiling, and 50 downloads at once at 78 MiB peak for the whole peer; 1 MiB
 * buffers took the same peer to 110 MiB, without more speed.
 */
const HTTP_CHUNK_BYTES = 256 * 1024;

/** What a request for a file the face refuses is told, after the reason, by status. */
const HINTS: Record<number, string> = {
  [Status.BAD_REQUEST]: "percent-encode the name as the links at / do",
  [Status.FORBIDDEN]: "ask for a file name as listed at /",
  [Status.NOT_FOUND]: "ask the tracker who holds it, or see / for what this peer shares",
};

/** What a refusal of the folder's says of where it looked, by status. */
const WHERE: Record<number, string> = {
  [Status.NOT_FOUND]: " in this peer's folder",
};

/** An answer refused before any body: its status, one plain-text line, and headers of its own. */
class Refusal extends Error {
  readonly status: number;
  readonly headers: Record<string, string>;
  constructor(status: number, message: string, headers: Record<string, string> = {}) {
    super(message);
    this.status = status;
    this.headers = headers;
  }
}

/** The answers of one HTTP face. */
class Face {
  server: HttpServer | undefined;
  stopping = false;
  readonly sending = new Set<Sending>();
  #running = new Set<Promise<void>>();
  #folder: SharedFolder;
  #limit: RateLimit | undefined;
  #uploads: Slots;
  #onEvent: (event: FileServerEvent) => void;
  #idleMs: number;
  #clock: Clock;

  constructor(options: PeerHttpOptions) {
    this.#folder = options.folder;
    this.#limit = options.limit;
    this.#idleMs = options.idleTimeoutMs ?? Timeouts.HOLDER_IDLE_MS;
    this.#clock = options.clock ?? systemClock;
    this.#uploads = options.uploads ?? new Slots(Limits.MAX_UPLOADS);
    this.#onEvent = options.onEvent ?? (() => {});
  }

  /** Keeps `answer` until it settles, so that closing waits for it; returns it. */
  track(answer: Promise<void>): Promise<void> {
    this.#running.add(answer);
    const forget = () => this.#running.delete(answer);
    answer.then(forget, forget);
    return answer;
  }

  /** Resolves when every answer begun has settled. */
  async settled(): Promise<void> {
    await Promise.allSettled([...this.#running]);
  }

  async answer(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const to = clientAddress(request);
    try {
      if (this.stopping) {
        throw new Refusal(Status.BUSY, `${STOPPING}; try another holder`, { "retry-after": "5", connection: "close" });
      }
      if (request.method !== "GET" && request.method !== "HEAD") {
        throw new Refusal(Status.METHOD_NOT_ALLOWED, `method ${request.method} not allowed; use GET or HEAD`, {
          allow: "GET, HEAD",
        });
      }
      const path = (request.url ?? "/").replace(/[?#].*$/s, "");
      if (path === "/") return this.#page(request, response);
      if (path === "/api/files") return this.#json(request, response, { files: this.#listing() });
      if (path.startsWith("/api/files/")) {
        return this.#json(request, response, await this.#chunks(nameIn(path.slice("/api/files/".length))));
      }
      if (path.startsWith("/files/")) return await this.#file(request, response, nameIn(path.slice("/files/".length)));
      throw new Refusal(
        Status.NOT_FOUND,
        `no page ${JSON.stringify(path.slice(0, 80))}; see / for what this peer shares`,
      );
    } catch (error) {
      const refusal = error instanceof Refusal ? error : error instanceof ProtocolError
        ? new Refusal(
          error.status,
          `${error.message}${WHERE[error.status] ?? ""}; ${HINTS[error.status] ?? "try another holder"}`,
        )
        : undefined;
      if (!refusal) throw error;
      this.#onEvent({ type: "refused", to, status: refusal.status, message: refusal.message });
      if (response.headersSent) return void response.destroy();
      sendWhole(response, {
        head: request.method === "HEAD",
        status: refusal.status,
        headers: { "content-type": "text/plain; charset=utf-8", "cache-control": "no-store", ...refusal.headers },
        body: `${refusal.status} ${refusal.message}\n`,
      });
    }
  }

  #listing() {
    return this.#folder.entries().map((entry) => ({ ...entry, url: filePath(entry.name) }));
  }

  async #chunks(name: string) {
    using opened = await this.#folder.openFile(name);
    const hashes: string[] = [];
    for (let at = 0; at < opened.chunks.length; at += HASH_BYTES) {
      hashes.push(bytesToHex(opened.chunks.subarray(at, at + HASH_BYTES)));
    }
    return { ...opened.entry, chunkSize: CHUNK_SIZE, chunks: hashes };
  }

  #json(request: IncomingMessage, response: ServerResponse, value: unknown): void {
    send(request, response, "application/json; charset=utf-8", JSON.stringify(value) + "\n");
  }

  #page(request: IncomingMessage, response: ServerResponse): void {
    const rows = this.#listing().map((f) =>
      `<tr><td><a href="${escapeHtml(f.url)}">${escapeHtml(f.name)}</a></td><td class="n">${f.size}</td>` +
      `<td><code>${escapeHtml(f.sha256)}</code></td></tr>`
    );
    const html = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Shared files</title>
<link rel="icon" href="data:,">
<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse}td,th{padding:.2em .8em;text-align:left}
.n{text-align:right}code{font-size:.85em}</style></head>
<body><h1>Shared files</h1>
<p>${rows.length} file${rows.length === 1 ? "" : "s"}; also as JSON at <a href="/api/files">/api/files</a>.</p>
<table><thead><tr><th>Name</th><th class="n">Bytes</th><th>SHA-256</th></tr></thead><tbody>
${rows.join("\n")}
</tbody></table></body></html>
`;
    send(request, response, "text/html; charset=utf-8", html);
  }

  async #file(request: IncomingMessage, response: ServerResponse, name: string): Promise<void> {
    using opened = await this.#folder.openFile(name);
    const { size, sha256 } = opened.entry;
    const mtime = (await opened.file.stat()).mtime;
    // HTTP dates count whole seconds.
    const modified = mtime ? Math.floor(mtime.getTime() / 1000) * 1000 : undefined;
    const etag = `"${sha256}"`;
    const headers: Record<string, string> = {
      "content-type": contentType(name),
      "accept-ranges": "bytes",
      etag,
      ...digestHeaders(sha256),
      "content-disposition": contentDisposition(name),
      "cache-control": "no-cache",
    };
    if (modified !== undefined) headers["last-modified"] = new Date(modified).toUTCString();
    if (noneMatch(header(request, "if-none-match"), etag)) {
      response.writeHead(Status.NOT_MODIFIED, headers);
      return void response.end();
    }
    const head = request.method === "HEAD";
    let range = head ? { type: "whole" } as const : parseRange(header(request, "range"), size);
    if (range.type !== "whole" && !ifRangeHolds(header(request, "if-range"), { etag, modified })) {
      range = { type: "whole" };
    }
    if (range.type === "unsatisfiable") {
      throw new Refusal(
        Status.RANGE_NOT_SATISFIABLE,
        `range ${header(request, "range")} is past the end of ${JSON.stringify(name)} (${plural(size, "byte")}); ` +
          `ask for less, or without a Range`,
        { "content-range": `bytes */${size}` },
      );
    }
    const [start, end] = range.type === "part" ? [range.start, range.end] : [0, size - 1];
    const length = end - start + 1;
    headers["content-length"] = String(length);
    if (range.type === "part") headers["content-range"] = `bytes ${start}-${end}/${size}`;
    const status = range.type === "part" ? Status.PARTIAL : Status.OK;
    if (head || length === 0) {
      response.writeHead(status, headers);
      return void response.end();
    }
    if (!this.#uploads.take()) {
      throw new Refusal(Status.BUSY, `busy: ${this.#uploads.max} uploads at once; try later`, { "retry-after": "5" });
    }
    try {
      response.writeHead(status, headers);
      await this.#body(request, response, { file: opened.file, name, size, start, length });
    } finally {
      this.#uploads.release();
    }
  }

  /**
   * Sends `length` bytes of `file` from `start`, with the shared budget; tells how it went. Backpressure is one
   * buffer, read into again only once the socket has taken it (the write's callback): the client's pace is the
   * pace of the reads, and a download holds one buffer (fresh ones each time left 50 downloads at once holding
   * 1.5 MiB each in garbage not yet collected; two in flight, 85-92 MiB for the peer instead of 78).
   */
  async #body(
    request: IncomingMessage,
    response: ServerResponse,
    part: { file: Deno.FsFile; name: string; size: number; start: number; length: number },
  ): Promise<void> {
    const sending: Sending = { name: part.name, to: clientAddress(request), bytes: 0, size: part.size };
    let gone = false;
    let stalled = false;
    let finished = false;
    let wake = () => {};
    const leave = () => {
      gone = true;
      wake();
    };
    response.on("close", leave);
    response.on("finish", () => finished = true);
    response.on("error", () => {}); // a write to a client gone: told by "close"
    // Gone already (between the headers and now): its "close" came before we listened, and a write to it would
    // never be called back.
    if (response.destroyed) gone = true;
    this.sending.add(sending);
    const limit = this.#limit;
    const buffer = new Uint8Array(Math.min(limit ? limit.slice : HTTP_CHUNK_BYTES, part.length));
    // A client that stops reading would hold its upload slot for ever: cut it when the socket takes nothing.
    const idle = new Watchdog(this.#idleMs, () => {
      stalled = true;
      response.destroy();
      leave(); // whether or not "close" still comes
    }, { clock: this.#clock });
    try {
      await part.file.seek(part.start, Deno.SeekMode.Start);
      for (let left = part.length; left > 0 && !gone;) {
        const n = await part.file.read(buffer.subarray(0, Math.min(buffer.length, left)));
        if (n === null) {
          throw new Error(`${JSON.stringify(part.name)} ended ${left} bytes early (it was cut meanwhile)`);
        }
        if (limit) {
          // Waiting for the budget is our doing, not the client's.
          idle.pause();
          await limit.take(n, () => gone).finally(() => idle.resume());
          if (gone) break;
        }
        if (gone || response.destroyed) break;
        left -= n;
        sending.bytes += n;
        await new Promise<void>((resolve) => {
          wake = resolve;
          response.write(buffer.subarray(0, n), () => resolve());
        });
        idle.touch();
      }
      if (!gone) {
        await new Promise<void>((resolve) => {
          wake = resolve;
          response.end(resolve);
        });
      }
    } catch (error) {
      response.destroy();
      this.#onEvent({ type: "aborted", ...sending, message: errorMessage(error) });
      return;
    } finally {
      this.sending.delete(sending);
      idle.stop();
    }
    if (finished) {
      this.#onEvent({ type: "served", ...sending, ranges: 1 });
      // Stopping: this connection is not kept for another request.
      if (this.stopping) request.socket.end();
    } else {
      const message = this.stopping
        ? STOPPING
        : stalled
        ? `idle timeout: the downloader took nothing for ${this.#idleMs / 1000} s`
        : "the downloader closed the connection";
      this.#onEvent({ type: "aborted", ...sending, message });
    }
  }
}

/** A name from a path: percent-decoded; a malformed escape is `400`, none at all `404`. */
function nameIn(encoded: string): string {
  if (encoded === "") throw new Refusal(Status.NOT_FOUND, "no file name given; see / for what this peer shares");
  return nameFromPath(encoded);
}

function header(request: IncomingMessage, name: string): string | undefined {
  const value = request.headers[name];
  return Array.isArray(value) ? value.join(", ") : value;
}

/** A small page or JSON, whole. */
function send(request: IncomingMessage, response: ServerResponse, type: string, body: string): void {
  const headers = { "content-type": type, "cache-control": "no-cache" };
  sendWhole(response, { status: Status.OK, headers, body, head: request.method === "HEAD" });
}
