/**
 * What the tracker's web page shows: the view `tracker/http_face.ts` builds
 * from the index and `tracker/web_page.ts` renders. Types only.
 *
 * @module
 */

import type { TrackerStats } from "../protocol.ts";

/** What the tracker's web page shows (see tracker/web_page.ts). */
export interface TrackerPageView {
  /** The search text (`?q=`), "" for all. */
  query: string;
  /** This page, from 1. */
  page: number;
  /** How many pages the search has (at least 1). */
  pages: number;
  /** Names matching the search, in all. */
  matched: number;
  /** This page's files. */
  files: PageFile[];
  /** The active peers (first page). */
  peers: PagePeer[];
  /** How many peers in all. */
  peerCount: number;
  /** The tracker's STATS now. */
  stats: TrackerStats;
}

/** One file of the page. */
export interface PageFile {
  /** Its name. */
  name: string;
  /** Its size, in bytes. */
  size: number;
  /** Its SHA-256, in hex. */
  sha256: string;
  /** How many peers hold it. */
  holders: number;
  /** Each holder with an HTTP face: its URL of the file (`https://` in a network that is all TLS). */
  urls: string[];
  /** `/files/<encoded>`: the redirect. */
  href: string;
  /** `/files/<encoded>.meta4`. */
  metalink: string;
}

/** One peer of the page. */
export interface PagePeer {
  /** Its address, `HOST:PORT`. */
  address: string;
  /** How many files it shares. */
  files: number;
  /** Its HTTP face, `http://HOST:PORT/` (`https://` in a network that is all TLS), if any. */
  http?: string;
}
