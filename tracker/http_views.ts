/**
 * What the tracker's HTTP face answers, as plain objects built from the
 * index: a page of files, one file, the peers, the web page's view; and
 * the search and page of a request's query, checked.
 *
 * @module
 */

import { Fields, Limits, parseCount, ProtocolError, Status, type TrackerStats } from "../protocol.ts";
import { filePath } from "../io/http_server.ts";
import { chooseVersion, type FileChoice, httpBase, type Scheme } from "./http_holders.ts";
import type { TrackerStore } from "./store.ts";
import type { PageFile, PagePeer, TrackerPageView } from "./page_view.ts";

/** A search and a page of it, as `?q=&page=` gives them. */
export interface Search {
  /** The text names must contain (case-insensitive); "" for all. */
  query: string;
  /** The page, from 1. */
  page: number;
}

/**
 * Reads `q` (at most `Limits.MAX_NAME_BYTES` bytes, no control character)
 * and `page` (a number from 1) of a query; throws a 400 `ProtocolError`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseSearch(new URLSearchParams("q=notes&page=2")), { query: "notes", page: 2 });
 * assert.deepEqual(parseSearch(new URLSearchParams("")), { query: "", page: 1 });
 * assert.throws(() => parseSearch(new URLSearchParams("page=0")));
 * ```
 */
export function parseSearch(params: URLSearchParams): Search {
  const query = params.get("q") ?? "";
  if (new TextEncoder().encode(query).length > Limits.MAX_NAME_BYTES) {
    throw new ProtocolError(Status.BAD_REQUEST, `q is longer than a name may be (${Limits.MAX_NAME_BYTES} bytes)`);
  }
  // deno-lint-ignore no-control-regex
  if (/[\u0000-\u001f\u007f]/.test(query)) throw new ProtocolError(Status.BAD_REQUEST, "q holds a control character");
  const text = params.get("page") ?? "1";
  let page: number;
  try {
    page = parseCount(text, Fields.PAGE);
  } catch (error) {
    if (!(error instanceof ProtocolError)) throw error;
    throw new ProtocolError(Status.BAD_REQUEST, `page: ${error.message}`, { cause: error });
  }
  if (page < 1) throw new ProtocolError(Status.BAD_REQUEST, "pages count from 1");
  return { query, page };
}

/**
 * The path of `name`'s Metalink: `/files/<encoded name>.meta4`, or, when a
 * file of that very name is indexed (which then takes the path),
 * `/files/<encoded name>?metalink` (`metaIndexed`: whether `<name>.meta4` is indexed).
 */
export function metalinkHref(name: string, metaIndexed: boolean): string {
  return metaIndexed ? `${filePath(name)}?metalink` : `${filePath(name)}.meta4`;
}

/** Options of {@link filesPage}, {@link peersPage} and {@link pageView}. */
export interface ViewOptions {
  /** The scheme of holders' URLs: `https` in a network that is all TLS. Default `http`. */
  scheme?: Scheme;
}

/** One page of the files matching a search, each with its holders' URLs. */
export async function filesPage(
  search: Search,
  store: TrackerStore,
  options: ViewOptions = {},
): Promise<{ query: string; page: number; pages: number; matched: number; files: PageFile[] }> {
  const { files, matched } = await store.list(search.query, {
    max: Limits.LIST_PAGE,
    skip: (search.page - 1) * Limits.LIST_PAGE,
  });
  const pages = Math.max(1, Math.ceil(matched / Limits.LIST_PAGE));
  return {
    query: search.query,
    page: search.page,
    pages,
    matched,
    files: await Promise.all(files.map(async (listed): Promise<PageFile> => {
      const choice = chooseVersion(listed.name, await store.ranked(listed.name), options);
      const href = filePath(listed.name);
      return {
        name: listed.name,
        size: choice?.size ?? listed.size,
        sha256: choice?.sha256 ?? listed.sha256,
        holders: listed.holders,
        urls: choice?.urls ?? [],
        href,
        metalink: metalinkHref(listed.name, await store.has(`${listed.name}.meta4`)),
      };
    })),
  };
}

/** `/api/files/<name>`: the version offered and its holders, each with its URL of the file if it has an HTTP face. */
export function fileDetail(choice: FileChoice): {
  name: string;
  size: number;
  sha256: string;
  root?: string;
  holders: { address: string; http?: string }[];
} {
  const { name, size, sha256, root } = choice;
  const holders = choice.holders.map((h) =>
    h.http === undefined ? { address: h.address } : { address: h.address, http: h.http }
  );
  return root === undefined ? { name, size, sha256, holders } : { name, size, sha256, root, holders };
}

/** A page of the peers that announced (100 a page), each with its HTTP face if any. */
export async function peersPage(
  store: TrackerStore,
  page: number,
  options: ViewOptions = {},
): Promise<{ peers: PagePeer[]; total: number }> {
  const all = await store.peers();
  const skip = (page - 1) * Limits.LIST_PAGE;
  const peers = all.slice(skip, skip + Limits.LIST_PAGE).map((p): PagePeer =>
    p.httpPort === undefined
      ? { address: p.address, files: p.files }
      : { address: p.address, files: p.files, http: httpBase(p.address, { port: p.httpPort, scheme: options.scheme }) }
  );
  return { peers, total: all.length };
}

/** What the web page shows for `search`. */
export async function pageView(
  search: Search,
  now: { store: TrackerStore; stats: TrackerStats } & ViewOptions,
): Promise<TrackerPageView> {
  const { store, stats, scheme } = now;
  const files = await filesPage(search, store, { scheme });
  const { peers, total } = await peersPage(store, 1, { scheme });
  return { ...files, peers, peerCount: total, stats };
}
