/**
 * The tracker's HTTP face: its web page, a JSON API of what it indexes, and
 * `/files/<name>`, which sends a browser or `curl -L` to the best-ranked
 * holder's own HTTP face (`307`) and a download manager a Metalink of all
 * of them (`.meta4`, `?metalink`, or `Accept: application/metalink4+xml`).
 * Serves no file bytes itself.
 *
 * A file whose own name ends in `.meta4` keeps its path: `/files/x.meta4`
 * is the file `x.meta4` when one is indexed, and the Metalink of `x` only
 * when not; `/files/x?metalink` is always x's Metalink.
 *
 * @module
 */

import { checkName, ProtocolError, quoteName, Status } from "../protocol.ts";
import {
  clientAddress,
  contentDisposition,
  digestHeaders,
  type HttpHandler,
  type IncomingMessage,
  nameFromPath,
  sendWhole,
  type ServerResponse,
  type WholeAnswer,
} from "../io/http_server.ts";
import { chooseVersion, type FileChoice, type Scheme } from "./http_holders.ts";
import { fileDetail, filesPage, metalinkHref, pageView, parseSearch, peersPage } from "./http_views.ts";
import { formatMetalink, METALINK_TYPE } from "./metalink.ts";
import { PieceCache } from "./pieces.ts";
import { readStats, type TrackerState } from "./session.ts";
import { checkRefreshMs, renderTrackerPage, type RenderTrackerPageOptions, STATS_REFRESH_MS } from "./web_page.ts";

/** Options of {@link trackerHttpHandler}. */
export interface TrackerHttpOptions {
  /** Where verified piece lists are asked for and kept. Default: a {@link PieceCache} of its own. */
  pieces?: PieceCache;
  /** A Metalink's `<generator>`. Default `p2p-transfer`. */
  generator?: string;
  /**
   * How often the web page's script asks `/api/stats` again, ms (a whole
   * number from 1 to 2^31 - 1; else a `RangeError` here). Default
   * {@link STATS_REFRESH_MS} (2 s).
   */
  pageRefreshMs?: number;
  /**
   * The scheme of the holders' URLs it offers (redirects, Metalinks, the
   * JSON API, the page): `https` when the tracker serves with TLS, as a
   * network is all TLS or all plain. Default `http`.
   */
  scheme?: Scheme;
}

/** An answer; `message`, for an error, what the `bad-request` event says. */
type Reply = WholeAnswer & { message?: string };

const TEXT = "text/plain; charset=utf-8";
const JSON_TYPE = "application/json; charset=utf-8";
/** Answers told as a `bad-request` event. */
const BAD_REQUESTS = new Set<number>([Status.BAD_REQUEST, Status.FORBIDDEN, Status.METHOD_NOT_ALLOWED]);

/**
 * The handler of the tracker's HTTP face, answering from the tracker's
 * shared `state`: `GET /`, `/api/files`, `/api/files/<name>`,
 * `/api/peers`, `/api/stats`, `/files/<name>` and `/files/<name>.meta4`;
 * `HEAD` of each; `405` for other methods, `404` for other paths. Every
 * request counts in the tracker's `requests`; a `400`, `403` or `405` is
 * told as a `bad-request` event. Throws a `RangeError` for a
 * `pageRefreshMs` out of range.
 */
export function trackerHttpHandler(state: TrackerState, options: TrackerHttpOptions = {}): HttpHandler {
  const pieces = options.pieces ?? new PieceCache();
  const generator = options.generator;
  const page = { refreshMs: checkRefreshMs(options.pageRefreshMs ?? STATS_REFRESH_MS) };
  const scheme = { scheme: options.scheme };

  const route = async (request: IncomingMessage): Promise<Reply> => {
    const target = request.url ?? "/";
    const mark = target.indexOf("?");
    const path = mark < 0 ? target : target.slice(0, mark);
    const params = new URLSearchParams(mark < 0 ? "" : target.slice(mark + 1));
    const api = path.startsWith("/api/");
    try {
      if (request.method !== "GET" && request.method !== "HEAD") {
        return {
          status: Status.METHOD_NOT_ALLOWED,
          headers: { allow: "GET, HEAD", "content-type": TEXT },
          body: `405 ${request.method} not allowed: GET or HEAD\n`,
        };
      }
      const { store } = state;
      if (path === "/") return await html(state, params, { ...page, ...scheme });
      if (path === "/api/files") return json(await filesPage(parseSearch(params), store, scheme));
      if (path.startsWith("/api/files/")) {
        const name = nameOf(path.slice("/api/files/".length));
        const choice = chooseVersion(name, await store.ranked(name), scheme);
        return choice ? json(fileDetail(choice)) : jsonError(Status.NOT_FOUND, `nobody holds ${quoteName(name)}`);
      }
      if (path === "/api/peers") return json(await peersPage(store, parseSearch(params).page, scheme));
      if (path === "/api/stats") return json(await readStats(state));
      if (path.startsWith("/files/")) {
        const name = nameOf(path.slice("/files/".length));
        const metalink = params.has("metalink") || acceptsMetalink(request.headers.accept);
        if (!await store.has(name) && name.endsWith(".meta4") && name.length > ".meta4".length) {
          const base = name.slice(0, -".meta4".length);
          if (await store.has(base)) {
            return await metalinkOf(chooseVersion(base, await store.ranked(base), scheme), base);
          }
        }
        const choice = chooseVersion(name, await store.ranked(name), scheme);
        if (metalink) return await metalinkOf(choice, name);
        return redirect(choice, { name, metalink: metalinkHref(name, await store.has(`${name}.meta4`)) });
      }
      return api
        ? jsonError(Status.NOT_FOUND, `no such path: ${path.slice(0, 80)}`)
        : text(Status.NOT_FOUND, `404 no such path\n`);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // 403 for a name refused, 503 for a shared store that did not answer (a client may try again), else 400.
      const status = error.status === Status.FORBIDDEN || error.status === Status.BUSY
        ? error.status
        : Status.BAD_REQUEST;
      return api ? jsonError(status, error.message) : text(status, `${status} ${error.message}\n`);
    }
  };

  const metalinkOf = async (choice: FileChoice | undefined, name: string): Promise<Reply> => {
    if (!choice || choice.urls.length === 0) return notServed(choice, name);
    const verified = await pieces.pieces(choice);
    const body = formatMetalink({ ...choice, pieces: verified }, { generator });
    const headers = {
      "content-type": METALINK_TYPE,
      "content-disposition": contentDisposition(`${name}.meta4`),
      "cache-control": "no-store",
      vary: "Accept",
    };
    return { status: Status.OK, headers, body };
  };

  return async (request: IncomingMessage, response: ServerResponse) => {
    state.counters.requests++;
    const reply = await route(request);
    if (BAD_REQUESTS.has(reply.status)) {
      const peer = clientAddress(request);
      const message = `HTTP ${request.method} ${(request.url ?? "").slice(0, 80)}: ${
        reply.message ?? reply.body.trim()
      }`;
      state.onEvent({ type: "bad-request", peer, status: reply.status, message });
    }
    sendWhole(response, { ...reply, head: request.method === "HEAD" });
  };
}

/** A name from a path segment: percent-decoded, then checked (`400` or `403`). */
function nameOf(segment: string): string {
  return checkName(nameFromPath(segment));
}

/** Whether an `Accept` header names the Metalink 4 type (with a non-zero `q`); aria2c's does. */
export function acceptsMetalink(accept: string | undefined): boolean {
  return (accept ?? "").split(",").some((range) => {
    const [type, ...parameters] = range.split(";").map((part) => part.trim().toLowerCase());
    const q = parameters.find((p) => p.startsWith("q="));
    return type === METALINK_TYPE && (q === undefined || Number(q.slice(2)) > 0);
  });
}

/** `307` to the best holder's URL of the file, the others as `Link: rel=duplicate`, the digest of its content. */
function redirect(choice: FileChoice | undefined, file: { name: string; metalink: string }): Reply {
  const { name } = file;
  if (!choice || choice.urls.length === 0) return notServed(choice, name);
  const [best, ...others] = choice.urls;
  const links = [
    ...others.map((url) => `<${url}>; rel=duplicate`),
    `<${file.metalink}>; rel=describedby; type="${METALINK_TYPE}"`,
  ];
  const headers = {
    location: best,
    link: links.join(", "),
    ...digestHeaders(choice.sha256),
    "content-type": TEXT,
    "cache-control": "no-store",
    vary: "Accept",
  };
  return { status: Status.TEMPORARY_REDIRECT, headers, body: `307 ${quoteName(name)} is at ${best}\n` };
}

/** `404`: nobody holds it, or nobody that does has an HTTP face. */
function notServed(choice: FileChoice | undefined, name: string): Reply {
  if (!choice) return text(Status.NOT_FOUND, `404 nobody holds ${quoteName(name)}\n`);
  const n = choice.holders.length;
  return text(
    Status.NOT_FOUND,
    `404 none of the ${n === 1 ? "1 peer" : `${n} peers`} holding ${quoteName(name)} serves HTTP; ` +
      `fetch it over the peer protocol: get ${name}\n`,
  );
}

async function html(
  state: TrackerState,
  params: URLSearchParams,
  page: RenderTrackerPageOptions & { scheme?: Scheme },
): Promise<Reply> {
  const view = await pageView(parseSearch(params), {
    store: state.store,
    stats: await readStats(state),
    scheme: page.scheme,
  });
  return {
    status: Status.OK,
    headers: { "content-type": "text/html; charset=utf-8" },
    body: renderTrackerPage(view, page),
  };
}

function json(value: unknown): Reply {
  return {
    status: Status.OK,
    headers: { "content-type": JSON_TYPE, "cache-control": "no-store" },
    body: JSON.stringify(value),
  };
}

function jsonError(status: number, error: string): Reply {
  return { status, headers: { "content-type": JSON_TYPE }, body: JSON.stringify({ error }), message: error };
}

function text(status: number, body: string): Reply {
  return { status, headers: { "content-type": TEXT }, body };
}
