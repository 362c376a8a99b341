/**
 * The tracker role: accepts peers, one session per connection, and answers
 * `UPDATE`, `ADD`, `PARTIAL`, `REMOVE`, `SEND`, `WAIT`, `REPORT`, `PEERS`, `LIST`,
 * `STATS`, `PING`, `HELP` and `QUIT` from its index (`docs/PROTOCOL.md`).
 * A peer's files leave the index the moment its connection closes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrackerClient } from "./peer.ts";
 *
 * await using tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
 * await using client = await TrackerClient.connect(`127.0.0.1:${tracker.addr.port}`);
 * await client.update(5555, [{ name: "hello.txt", size: 5, sha256: "a".repeat(64) }]);
 * const { lookups } = await client.send(["hello.txt"]);
 * assert.equal(lookups[0].holders[0].address, "127.0.0.1:5555");
 * ```
 *
 * @module
 */

import { Limits, Timeouts, type TrackerStats } from "./protocol.ts";
import { type Clock, systemClock, type TimerHandle } from "./io/clock.ts";
import { clientAddress, startHttpServer, UNAUTHORIZED } from "./io/http_server.ts";
import { checkHttpAccess } from "./io/bearer.ts";
import { type ListenOptions, TcpServer } from "./io/server.ts";
import { Slots } from "./io/slots.ts";
import { Counters } from "./tracker/counters.ts";
import { HolderFeedback } from "./tracker/feedback.ts";
import { TrackerIndex } from "./tracker/file_index.ts";
import { trackerHttpHandler } from "./tracker/http_face.ts";
import { MemoryStore } from "./tracker/memory_store.ts";
import { PieceCache } from "./tracker/pieces.ts";
import { openRedisStore, parseStoreUrl } from "./tracker/redis_store.ts";
import { readStats, Session, type TrackerEvent, type TrackerState } from "./tracker/session.ts";
import type { TrackerStore } from "./tracker/store.ts";
import { WaitingList } from "./tracker/waits.ts";

export type { TrackerEvent } from "./tracker/session.ts";
export type { HolderScore, Report } from "./tracker/feedback.ts";
export type { PartialScan, PeerKey, PeerRecord, Ranking } from "./tracker/file_index.ts";
export type {
  Announced,
  Announcement,
  IndexCounts,
  Maybe,
  Removed,
  StoreEvent,
  TrackerStore,
  Verdict,
  WebHolder,
} from "./tracker/store.ts";
export type { IndexedHolder } from "./tracker/lookup.ts";
export type { ListenOptions } from "./io/server.ts";
export type { Clock, TimerHandle } from "./io/clock.ts";
export type { Claim, Nonces, Secret, Side } from "./io/secret.ts";
export { loadClientTls, loadServerTls } from "./io/tls.ts";
export type { TlsClientConfig, TlsServerConfig } from "./io/tls.ts";
export type { PageFile, PagePeer, TrackerPageView } from "./tracker/page_view.ts";
export type { FileEntry, Holder, ListedFile, TrackerStats } from "./protocol.ts";
export type { Slots } from "./io/slots.ts";
export { HolderFeedback, MemoryStore, parseStoreUrl, TrackerIndex };
export type { StoreUrl } from "./tracker/redis_store.ts";

/** Options of {@link startTracker}. */
export interface TrackerOptions extends ListenOptions {
  /** Told of peers joining, announcing, leaving, and of bad requests. Default: nothing. */
  onEvent?: (event: TrackerEvent) => void;
  /** Told of unexpected errors. Default: nothing. */
  onError?: (error: unknown) => void;
  /** A holder reported failing by this many sessions (and by more than reported it working) is no longer offered. Default 2. */
  demoteAfter?: number;
  /**
   * A session that completes no line for this long is closed, and its files
   * leave the index: a silent peer, a vanished machine (half-open), or a
   * client dripping a line byte by byte. Peers send `PING` to stay.
   * Default `Timeouts.TRACKER_IDLE_MS` (120 s).
   */
  idleTimeoutMs?: number;
  /**
   * Most entries in the whole index (with a Redis store: that this
   * tracker's sessions announced); an UPDATE that would pass it gets 413.
   * Default `Limits.MAX_INDEX_ENTRIES`.
   */
  maxEntries?: number;
  /**
   * Where the index lives: `memory` (the default: this process), or
   * `redis://HOST:PORT[/DB]` or `redis-cluster://HOST:PORT[,HOST:PORT...]`
   * (shared by every tracker given the same store). Only
   * {@link startTrackerWithHttp} opens a Redis store.
   */
  store?: string;
  /**
   * With a Redis store: how long, in seconds, this tracker's entries
   * outlive it if it dies without cleaning up (it renews them while it
   * runs). Default 60.
   */
  leaseSeconds?: number;
  /** With a Redis store: a prefix for every key and channel (tests keep apart this way). Default `p2p:`. */
  storePrefix?: string;
  /** Tell a `stats` event this often (the periodic log line), in the time of `clock`; 0 or absent: never. */
  statsIntervalMs?: number;
  /** Whose time idle sessions, waits, statistics and the stats interval are measured in. Default: the real clock. */
  clock?: Clock;
  /**
   * Also serve the HTTP face (web page, JSON API, redirects to holders,
   * Metalinks) on this port of `hostname`; 0 picks a free one. Only
   * {@link startTrackerWithHttp} opens it. Default: no HTTP face.
   */
  httpPort?: number;
  /** An HTTP client has this long to send a request's headers. Default `Timeouts.HTTP_HEADERS_MS`. */
  httpHeadersTimeoutMs?: number;
  /**
   * How often the HTTP face's web page asks `/api/stats` again, ms (a whole
   * number from 1 to 2^31 - 1; else {@link startTrackerWithHttp} throws a
   * `RangeError`). Default `STATS_REFRESH_MS` of `tracker/web_page.ts` (2 s).
   */
  httpPageRefreshMs?: number;
  /**
   * Every request to the HTTP face must carry `Authorization: Bearer <httpBearer>`; others get `401`. Needed with
   * `httpPort` and a `secret`: `bearerToken(the secret's text)` of `io/bearer.ts`, which the peers' HTTP faces of
   * the same secret ask for too. Needs `tls` (a token sent in plain could be read on the way). Default: none.
   */
  httpBearer?: string;
}

/** A running tracker. */
export interface Tracker extends AsyncDisposable {
  /** The bound address. */
  addr: Deno.NetAddr;
  /** Where its HTTP face listens, if it has one. */
  http?: Deno.NetAddr;
  /** The index it answers from, and what downloaders reported about holders. */
  store: TrackerStore;
  /** Its counters now, as `STATS` gives them. */
  stats(): Promise<TrackerStats>;
  /** Stops accepting, closes every session. */
  close(): Promise<void>;
}

/**
 * Starts a tracker: it listens at once (throwing `Deno.errors.AddrInUse`
 * and the like) and serves until closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const events: string[] = [];
 * const tracker = startTracker({ hostname: "127.0.0.1", port: 0, onEvent: (e) => events.push(e.type) });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: tracker.addr.port });
 * await conn.write(new TextEncoder().encode("QUIT\n"));
 * const reply = new Uint8Array(64);
 * assert.equal(new TextDecoder().decode(reply.subarray(0, (await conn.read(reply))!)), "221 bye\n");
 * conn.close();
 * await tracker.close();
 * assert.deepEqual(events, ["joined", "left"]);
 * ```
 */
export function startTracker(options: TrackerOptions): Tracker {
  if (options.httpPort !== undefined) {
    throw new TypeError("startTracker opens no HTTP port: use startTrackerWithHttp for httpPort");
  }
  if (options.store !== undefined && options.store !== "memory") {
    throw new TypeError("startTracker keeps its index in memory: use startTrackerWithHttp for a Redis store");
  }
  return launch(options, memoryStore(options)).tracker;
}

function memoryStore(options: TrackerOptions): MemoryStore {
  return new MemoryStore({ demoteAfter: options.demoteAfter, maxEntries: options.maxEntries });
}

/**
 * Starts a tracker and, with `options.httpPort`, its HTTP face on the same
 * hostname: `GET /` (the web page), `/api/files`, `/api/files/<name>`,
 * `/api/peers`, `/api/stats`, `/files/<name>` (a `307` to the best-ranked
 * holder's HTTP face) and `/files/<name>.meta4` (a Metalink of all of
 * them). TCP sessions and HTTP connections count against one
 * `maxConnections`. Throws as {@link startTracker} does, when the HTTP port
 * cannot be listened on (then nothing is left open), and (`TypeError`) for
 * `httpPort` with a `secret` but without `httpBearer` and `tls`. With `tls`
 * the HTTP face serves HTTPS, and offers holders' `https://` URLs.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * await using tracker = await startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, httpPort: 0 });
 * const answer = await fetch(`http://127.0.0.1:${tracker.http!.port}/api/stats`);
 * assert.equal((await answer.json()).files, 0);
 * ```
 */
export async function startTrackerWithHttp(options: TrackerOptions): Promise<Tracker> {
  checkHttpAccess(options);
  const connections = options.connections ?? new Slots(options.maxConnections ?? Limits.MAX_CONNECTIONS);
  const store = await openStore(options);
  let launched;
  try {
    launched = launch({ ...options, connections }, store);
  } catch (error) {
    await store.close();
    throw error;
  }
  const { tracker, state } = launched;
  if (options.httpPort === undefined) return tracker;
  const { tls, httpBearer: bearer } = options;
  const pieces = new PieceCache({
    // The holders' faces ask for the same token; their certificates are trusted if signed by a CA in our own chain.
    headers: bearer === undefined ? undefined : { authorization: `Bearer ${bearer}` },
    caCerts: tls ? [tls.cert] : undefined,
  });
  let http;
  try {
    const scheme = tls ? "https" : "http";
    http = await startHttpServer(
      trackerHttpHandler(state, { pieces, pageRefreshMs: options.httpPageRefreshMs, scheme }),
      {
        hostname: options.hostname,
        port: options.httpPort,
        connections,
        headersTimeoutMs: options.httpHeadersTimeoutMs,
        onError: options.onError,
        flag: "--http-port",
        tls,
        bearer,
        onUnauthorized: (request, message) =>
          state.onEvent({
            type: "bad-request",
            peer: clientAddress(request),
            status: UNAUTHORIZED,
            message: `HTTP ${request.method} ${(request.url ?? "").slice(0, 80)}: ${message}`,
          }),
      },
    );
  } catch (error) {
    pieces.close();
    await tracker.close();
    throw error;
  }
  const server = http;
  const close = async () => {
    pieces.close();
    await server.close();
    await tracker.close();
  };
  return { ...tracker, http: server.addr, close, [Symbol.asyncDispose]: close };
}

/** The store `options.store` names, opened; a Redis store is connected (or throws, naming it). */
async function openStore(options: TrackerOptions): Promise<TrackerStore> {
  if (options.store === undefined || options.store === "memory") return memoryStore(options);
  return await openRedisStore(parseStoreUrl(options.store), {
    clock: options.clock,
    demoteAfter: options.demoteAfter,
    maxEntries: options.maxEntries,
    leaseMs: (options.leaseSeconds ?? 60) * 1000,
    prefix: options.storePrefix,
    onError: options.onError,
  });
}

/** The TCP tracker, and the state its sessions (and its HTTP face) share, on `store`. */
function launch(options: TrackerOptions, store: TrackerStore): { tracker: Tracker; state: TrackerState } {
  const clock = options.clock ?? systemClock;
  const waits = new WaitingList({ clock });
  const state: TrackerState = {
    store,
    waits,
    counters: new Counters({ clock }),
    onEvent: options.onEvent ?? (() => {}),
    onError: options.onError ?? (() => {}),
    idleMs: options.idleTimeoutMs ?? Timeouts.TRACKER_IDLE_MS,
    clock,
  };
  // Announcements through other trackers sharing the store: this tracker's waits are told too.
  store.onAnnounced = (names) => {
    for (const name of names) waits.announced(name);
  };
  store.onStoreEvent = state.onEvent;
  let nextId = 1;
  let server: TcpServer;
  try {
    server = new TcpServer((conn) => new Session(conn, { id: nextId++, state }).run(), options);
  } catch (error) {
    state.counters.stop(); // a tracker that could not listen leaves no timer behind
    throw error;
  }
  const stats = () => readStats(state);
  const every = options.statsIntervalMs;
  let log: TimerHandle | undefined;
  const tell = () => {
    log = clock.setTimeout(tell, every!);
    stats().then((stats) => state.onEvent({ type: "stats", stats }), state.onError);
  };
  if (every) log = clock.setTimeout(tell, every);
  const close = async () => {
    clock.clearTimeout(log);
    log = undefined;
    state.counters.stop();
    await server.close();
    state.waits.clear();
    await store.close();
  };
  const tracker = { addr: server.addr, store, stats, close, [Symbol.asyncDispose]: close };
  return { tracker, state };
}
