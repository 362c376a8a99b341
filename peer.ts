/**
 * The peer role: serves its shared folder, keeps one connection to the
 * tracker, announces its files (and, watching the folder, each change),
 * and downloads what it is asked for. Also the peer-side functions the
 * one-shot commands use: {@link sendAndFetch} (`get`) and
 * {@link relayFile} (`cat`).
 *
 * @example
 * ```sh
 * deno task tracker                       # in one terminal
 * deno task peer --dir ./files            # in another: serves ./files on port 5555
 * deno task get hello.txt --out /tmp      # fetches hello.txt from it
 * ```
 *
 * @module
 */

import { type FileEntry, Limits, Timeouts } from "./protocol.ts";
import { errorMessage } from "./io/errors.ts";
import { checkHttpAccess } from "./io/bearer.ts";
import { RateLimit } from "./io/rate_limit.ts";
import type { Secret } from "./io/secret.ts";
import type { TlsClientConfig, TlsServerConfig } from "./io/tls.ts";
import { Slots } from "./io/slots.ts";
import { FolderWatcher } from "./disk/folder_watch.ts";
import { type HashProgress, SharedFolder } from "./disk/shared_folder.ts";
import { Announcer } from "./peer/announcer.ts";
import { type HeldVersion, PartialHoldings } from "./peer/partial_holdings.ts";
import type { FileOutcome } from "./peer/download_all.ts";
import { type FileServer, type FileServerEvent, type Sending, startFileServer } from "./peer/file_server.ts";
import { type PeerHttp, startPeerHttp } from "./peer/http_face.ts";
import { sendAndFetch, type SendReport, SharedTally } from "./peer/send.ts";
import type { TrackerClient } from "./peer/tracker_client.ts";
import { TrackerLink, type TrackerLinkEvent } from "./peer/tracker_link.ts";
import { type TrackerAddresses, trackerList } from "./peer/tracker_list.ts";
import type { TransferBoard } from "./peer/transfer_board.ts";

export { sendAndFetch } from "./peer/send.ts";
export type { FetchOptions, SendReport, Shared } from "./peer/send.ts";
export { relayFile } from "./peer/relay.ts";
export type { Relayed, RelayOptions } from "./peer/relay.ts";
export { TrackerClient } from "./peer/tracker_client.ts";
export type { AnnounceOptions, Arrival, Reply, TrackerClientOptions, WaitReply } from "./peer/tracker_client.ts";
export { connectTracker } from "./peer/tracker_list.ts";
export type { ConnectTrackerOptions, SkippedTracker, TrackerAddresses } from "./peer/tracker_list.ts";
export type { Downloaded, DownloadOptions } from "./peer/download.ts";
export type { HeldVersion, PartialHolding, PartialHoldings } from "./peer/partial_holdings.ts";
export type {
  DownloadAllOptions,
  Failure,
  FailureKind,
  FileOutcome,
  PendingLookup,
  Timing,
} from "./peer/download_all.ts";
export type { FileServer, FileServerEvent, FileServerOptions, Sending } from "./peer/file_server.ts";
export type { PeerHttp, PeerHttpOptions } from "./peer/http_face.ts";
export type { TrackerFailure, TrackerLinkEvent } from "./peer/tracker_link.ts";
export type { Transfer, TransferBoard } from "./peer/transfer_board.ts";
export type { FolderChanges, HashProgress, OpenedFile, SharedFolder } from "./disk/shared_folder.ts";
export type { Attempt, Kept, SourceReport } from "./io/errors.ts";
export type { ByteSink } from "./io/streams.ts";
export type { Clock, TimerHandle } from "./io/clock.ts";
export type { Claim, Nonces, Secret, Side } from "./io/secret.ts";
export { loadClientTls, loadServerTls } from "./io/tls.ts";
export type { TlsClientConfig, TlsServerConfig } from "./io/tls.ts";
export type { RateLimit } from "./io/rate_limit.ts";
export type { Slots } from "./io/slots.ts";

/** What a peer reports as it works. */
export type PeerEvent =
  | FileServerEvent
  | TrackerLinkEvent
  | { type: "attempt-failed"; name: string; holder: string; code: string; message: string }
  | ({ type: "hashing" } & HashProgress)
  | { type: "folder-changed"; changed: FileEntry[]; removed: string[]; answer: string }
  /** A download began to serve the chunks it verified; `answer` is the tracker's to `PARTIAL`. */
  | { type: "sharing-partial"; name: string; answer: string }
  | { type: "warning"; message: string };

/** Options of {@link Peer.start}. */
export interface PeerOptions {
  /**
   * The tracker, `HOST:PORT`; or several sharing one index, in the order
   * they are tried: the first that answers is used, and when it is lost the
   * peer moves to the next and announces its folder there (`tracker-lost`
   * with `next`, `tracker-skipped`, `tracker-moved`).
   */
  tracker: TrackerAddresses;
  /** Address to serve on. Default `0.0.0.0`. */
  hostname?: string;
  /** Port to serve on; 0 picks a free one. */
  port: number;
  /** The shared folder. */
  dir: string;
  /** Where downloads land. Default: the shared folder (and then they are announced). */
  out?: string;
  /** Where to write the tracker's reply to each SEND; `undefined` writes none. */
  infoPath?: string;
  /** Connect and idle timeout of a download try, and of each tracker request, ms. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /**
   * Serve the verified chunks of a download into the shared folder while it
   * runs, as a partial holder (`PARTIAL` to the tracker). Default true;
   * false (`--no-partial`): a file is served only once it has landed whole.
   */
  servePartial?: boolean;
  /** Most holders one download uses at once. Default 4. */
  sources?: number;
  /** All uploads together (TCP and HTTP) send at most this many bytes per second. Default: no limit. */
  maxUploadRate?: number;
  /** Most uploads at once, TCP and HTTP together; one more request is answered `503 busy`. Default `Limits.MAX_UPLOADS`. */
  maxUploads?: number;
  /**
   * Most connections the file server and the HTTP face keep at once, together; one more gets `421` (TCP) or `503`
   * (HTTP). Default `Limits.MAX_CONNECTIONS`.
   */
  maxConnections?: number;
  /** Most connections from one remote address; 0 for no limit. Default 0. */
  maxPerAddress?: number;
  /** All downloads together receive at most this many bytes per second. Default: no limit. */
  maxDownloadRate?: number;
  /**
   * Deal only with a tracker and peers that know this secret; over plain TCP, peer traffic encrypted by its record
   * layer (over TLS, TLS protects it). Default: open.
   */
  secret?: Secret;
  /**
   * Serve with TLS (`--tls-cert`, `--tls-key`): plain clients fail, told so. Goes with `tlsCa`: a network is all
   * TLS or all plain. Default: plain TCP.
   */
  tls?: TlsServerConfig;
  /** Connect to the tracker and to holders with TLS, trusting these CAs (`--tls-ca`). Default: plain TCP. */
  tlsCa?: TlsClientConfig;
  /** On close, uploads in the middle of an answer may take this long to finish it. Default `Timeouts.SHUTDOWN_GRACE_MS`. */
  shutdownGraceMs?: number;
  /** While idle, `PING` the tracker this often, to stay known and to notice a vanished tracker. Default `Timeouts.HEARTBEAT_MS`. */
  heartbeatMs?: number;
  /**
   * Waits between tries to reach a lost tracker (with several, between rounds of one try of each): doubling from
   * `minMs` up to `maxMs`, each drawn from its upper half. Default 250 and 5,000 ms.
   */
  reconnect?: { minMs?: number; maxMs?: number };
  /**
   * Watch the shared folder and tell the tracker each file added, changed
   * or removed (incrementally), once it has held still for `quietMs`
   * (default 300). Default: off.
   */
  watch?: boolean | { quietMs?: number };
  /** Keep the folder's hashes in its hash cache (`.p2p-hashes`) across runs. Default: off. */
  hashCache?: boolean;
  /** Told of uploads, failed tries, and the tracker connection lost and back. */
  onEvent?: (event: PeerEvent) => void;
  /** Told of unexpected errors while serving. */
  onError?: (error: unknown) => void;
  /**
   * Also serve the folder over HTTP/1.1 on this port (0 picks a free one); announced to the tracker as `http=<port>`.
   * HTTPS with `tls`. With `secret`, needs `httpBearer` (and so `tls`). Default: no HTTP face.
   */
  httpPort?: number;
  /**
   * Every request to the HTTP face must carry `Authorization: Bearer <httpBearer>`; others get `401`. Needed with
   * `httpPort` and a `secret`: `bearerToken(the secret's text)` of `io/bearer.ts`, the token the tracker and the
   * other peers of the same secret ask for too. Needs `tls` (a token sent in plain could be read on the way).
   * Default: none.
   */
  httpBearer?: string;
  /** An HTTP client has this long to send a request's headers; slower gets `408`. Default `Timeouts.HTTP_HEADERS_MS`. */
  httpHeadersTimeoutMs?: number;
  /**
   * Told the bound address, the folder it serves and the HTTP face's address (with `httpPort`) as soon as both
   * listen, before the folder is hashed.
   */
  onListening?: (addr: Deno.NetAddr, folder: SharedFolder, http?: Deno.NetAddr) => void;
}

/** Options of one {@link Peer.send}. */
export interface SendOptions {
  /** Wait up to this many seconds for files nobody holds yet. */
  waitSeconds?: number;
  /** Told which names are being waited for. */
  onWaiting?: (names: string[]) => void;
  /** Where the downloads show their progress. */
  board?: TransferBoard;
  /** Told of each file's outcome as soon as it is known (after it is shared and reported). */
  onSettled?: (outcome: FileOutcome) => void;
  /**
   * Cancels this SEND (its downloads and waits) as closing the peer would:
   * what arrived of a file over one chunk stays, hidden, for the next try.
   * Default: only closing the peer cancels it.
   */
  signal?: AbortSignal;
}

/**
 * A running peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { startTracker } from "./tracker.ts";
 *
 * await using tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
 * const address = `127.0.0.1:${tracker.addr.port}`;
 * const [mine, yours] = [await Deno.makeTempDir(), await Deno.makeTempDir()];
 * await Deno.writeTextFile(`${mine}/hello.txt`, "hello");
 * await using _holder = await Peer.start({ tracker: address, hostname: "127.0.0.1", port: 0, dir: mine });
 * await using peer = await Peer.start({ tracker: address, hostname: "127.0.0.1", port: 0, dir: yours });
 * const report = await peer.send("hello.txt");
 * assert.equal(report.outcomes[0].ok, true);
 * assert.equal(await Deno.readTextFile(`${yours}/hello.txt`), "hello");
 * ```
 */
export class Peer implements AsyncDisposable {
  /** The folder it serves. */
  readonly folder: SharedFolder;
  /** The file server. */
  readonly server: FileServer;
  /** The HTTP face, with `httpPort`. */
  #http: PeerHttp | undefined;
  #options: PeerOptions;
  #emit: (event: PeerEvent) => void;
  #link!: TrackerLink;
  #announcer: Announcer;
  #closing: Promise<void> | undefined;
  #abort = new AbortController();
  #running = new Set<Promise<SendReport>>();
  #watcher: FolderWatcher | undefined;
  #downloadLimit: RateLimit | undefined;
  /** The downloads under way into the shared folder, serving what they verified. */
  #holdings: PartialHoldings;

  private constructor(
    options: PeerOptions,
    parts: {
      folder: SharedFolder;
      server: FileServer;
      http: PeerHttp | undefined;
      emit: (event: PeerEvent) => void;
      holdings: PartialHoldings;
    },
  ) {
    this.#options = options;
    this.#emit = parts.emit;
    this.folder = parts.folder;
    this.server = parts.server;
    this.#http = parts.http;
    this.#holdings = parts.holdings;
    this.#downloadLimit = options.maxDownloadRate ? new RateLimit(options.maxDownloadRate) : undefined;
    this.#announcer = new Announcer({
      folder: parts.folder,
      port: parts.server.addr.port,
      httpPort: parts.http?.addr.port,
      // While no tracker connection is up the announcer sends nothing: reaching the tracker announces the folder.
      client: () => this.#link?.current,
      closing: () => this.#closing !== undefined,
      partials: () => this.#holdings.published().map(({ name, size, sha256, root }) => ({ name, size, sha256, root })),
    });
  }

  /** A download began to serve what it verified: the tracker lists this peer as a partial holder. (Internal.) */
  private async published(version: HeldVersion): Promise<void> {
    try {
      const answer = await this.#announcer.partial(version);
      if (answer !== undefined) this.#emit({ type: "sharing-partial", name: version.name, answer });
    } catch (error) {
      this.#emit({
        type: "warning",
        message: `could not tell the tracker that this peer serves the verified chunks of ${version.name} ` +
          `while it downloads (${errorMessage(error)}); the download goes on`,
      });
    }
  }

  /** A download that served what it verified failed or was cancelled: the tracker forgets its part. (Internal.) */
  private withdrawn(name: string): void {
    this.#announcer.withdraw(name).catch(() => {}); // the tracker is gone: it forgot us anyway
  }

  /**
   * Starts serving the folder (told by `onListening`), hashes it, tries
   * once to reach the tracker (each of several in turn, until one answers)
   * and announce; with `watch`, announces each change from then on. A
   * tracker that cannot be reached does not stop the start: the peer serves
   * its folder, says so (`tracker-unreachable`) and keeps trying in the
   * background; the first connection announces. Throws, naming what failed,
   * when the folder cannot be opened, an address (TCP or HTTP) not listened
   * on, or a tracker refused our secret.
   * With `httpPort`, the folder is also served over HTTP, with the same
   * upload budget, upload count and connection count as the file server.
   */
  static async start(options: PeerOptions): Promise<Peer> {
    checkHttpAccess(options);
    const trackers = trackerList(options.tracker); // an empty list throws before anything listens
    const emit = safely(options.onEvent);
    const folder = await SharedFolder.open(options.dir, { cache: options.hashCache });
    // One budget, one upload count and one connection count for both faces.
    const limit = options.maxUploadRate ? new RateLimit(options.maxUploadRate) : undefined;
    // Told to the peer once it exists: a holding is published only by a download, after the start.
    const self: { peer?: Peer } = {};
    const holdings = new PartialHoldings({
      onPublish: (version) => self.peer?.published(version),
      onWithdraw: (name) => self.peer?.withdrawn(name),
    });
    const uploads = new Slots(options.maxUploads ?? Limits.MAX_UPLOADS);
    const connections = new Slots(options.maxConnections ?? Limits.MAX_CONNECTIONS);
    // Listening first (a request meanwhile hashes the file it asks for), so that a long first hashing
    // comes after the `listening on` line.
    const server = startFileServer({
      hostname: options.hostname,
      port: options.port,
      limit,
      uploads,
      connections,
      maxPerAddress: options.maxPerAddress,
      secret: options.secret,
      tls: options.tls,
      folder,
      partials: holdings,
      onEvent: emit,
      onError: options.onError,
    });
    let http: PeerHttp | undefined;
    if (options.httpPort !== undefined) {
      try {
        http = await startPeerHttp({
          folder,
          hostname: options.hostname,
          port: options.httpPort,
          limit,
          uploads,
          connections,
          headersTimeoutMs: options.httpHeadersTimeoutMs,
          onEvent: emit,
          onError: options.onError,
          tls: options.tls,
          bearer: options.httpBearer,
        });
      } catch (error) {
        await server.close();
        throw error;
      }
    }
    options.onListening?.(server.addr, folder, http?.addr);
    const peer = self.peer = new Peer(options, { folder, server, http, emit, holdings });
    try {
      await folder.scan((progress) => emit({ type: "hashing", ...progress }));
      if (folder.cacheError) emit({ type: "warning", message: folder.cacheError });
      peer.#link = await TrackerLink.start({
        address: trackers,
        timeoutMs: options.timeoutMs,
        secret: options.secret,
        tls: options.tlsCa,
        heartbeatMs: options.heartbeatMs,
        reconnect: options.reconnect,
        announce: (client) => peer.#announcer.all(client),
        onEvent: emit,
      });
    } catch (error) {
      await Promise.all([server.close(), http?.close()]);
      throw error;
    }
    try {
      if (options.watch) peer.#watch(typeof options.watch === "object" ? options.watch.quietMs : undefined);
    } catch (error) {
      await peer.close();
      throw error;
    }
    return peer;
  }

  /** Watches the folder: each change that holds still is announced, or told as a warning when it cannot be. */
  #watch(quietMs: number | undefined): void {
    let cacheError = this.folder.cacheError;
    this.#watcher = FolderWatcher.start(this.folder, {
      quietMs,
      onChanges: async (changes) => {
        if (this.folder.cacheError && this.folder.cacheError !== cacheError) {
          this.#emit({ type: "warning", message: this.folder.cacheError });
        }
        cacheError = this.folder.cacheError;
        try {
          const answer = await this.#announcer.changes(changes);
          if (answer === undefined) return; // the tracker is away: reaching it again announces the folder
          this.#emit({ type: "folder-changed", changed: changes.changed, removed: changes.removed, answer });
        } catch (error) {
          // Refused (the index is full, say) or the tracker is gone: reaching it again announces everything.
          const files = [...changes.changed.map((f) => f.name), ...changes.removed].join(", ");
          this.#emit({
            type: "warning",
            message: `the tracker did not take the change of ${files}: ${errorMessage(error)}`,
          });
        }
      },
      onError: (message) => this.#emit({ type: "warning", message }),
    });
  }

  /**
   * Its tracker connection (a new one after the tracker was lost and one was
   * reached again: with several trackers, perhaps another). While no tracker
   * answers it throws a `ConnectionClosedError` saying which, since when and
   * why, and that uploads go on: the same words for every command that needs
   * it.
   */
  get tracker(): TrackerClient {
    return this.#link.client;
  }

  /** The address the file server is bound to. */
  get addr(): Deno.NetAddr {
    return this.server.addr;
  }

  /** The address the HTTP face is bound to; `undefined` without `httpPort`. */
  get http(): Deno.NetAddr | undefined {
    return this.#http?.addr;
  }

  /** The uploads under way, TCP and HTTP: what a graceful stop waits for. */
  sending(): Sending[] {
    return [...this.server.sending(), ...(this.#http?.sending() ?? [])];
  }

  /** Tells the tracker every file of the folder, as it is now known; returns the tracker's answer. */
  async announce(): Promise<string> {
    return await this.#announcer.all(this.tracker);
  }

  /** Where downloads land: `out`, else the shared folder. */
  get outDir(): string {
    return this.#options.out ?? this.folder.path;
  }

  /**
   * Looks up `list` (names separated by commas) and downloads every found
   * file in parallel, as {@link sendAndFetch}. Each file that lands in the
   * shared folder is announced as soon as it is verified, so that the next
   * downloader can fetch it from here (`announced` says, in one line, every
   * file announced and the tracker's total; `shared` the same as values).
   */
  send(list: string, options: SendOptions = {}): Promise<SendReport> {
    if (this.#closing) return Promise.reject(new Error("the peer is closing"));
    const running = this.#send(list, options);
    this.#running.add(running);
    return running.finally(() => this.#running.delete(running));
  }

  async #send(list: string, more: SendOptions): Promise<SendReport> {
    this.tracker; // throws, saying since when and why, while the tracker is unreachable
    const outDir = this.#options.out ?? this.folder.path;
    const shared = (await Deno.realPath(outDir).catch(() => undefined)) === this.folder.path;
    const tally = new SharedTally();
    const report = await sendAndFetch(this.tracker, list, {
      outDir,
      infoPath: this.#options.infoPath,
      timeoutMs: this.#options.timeoutMs,
      sources: this.#options.sources,
      secret: this.#options.secret,
      tls: this.#options.tlsCa,
      signal: more.signal ? AbortSignal.any([this.#abort.signal, more.signal]) : this.#abort.signal,
      limit: this.#downloadLimit,
      holdings: shared && this.#options.servePartial !== false ? this.#holdings : undefined,
      board: more.board,
      waitSeconds: more.waitSeconds,
      onWaiting: more.onWaiting,
      onAttemptFailed: (name, a) => this.#emit({ type: "attempt-failed", name, ...a }),
      onSettled: async (outcome) => {
        if (shared && outcome.ok && outcome.result.from !== "here" && !this.#abort.signal.aborted) {
          try {
            await this.folder.add(outcome.result, outcome.result.chunks);
            const entry = this.folder.entry(outcome.result.name);
            const answer = entry && await this.#announcer.added(entry);
            if (answer !== undefined) tally.announced(outcome.name, answer);
          } catch (error) {
            tally.failed(outcome.name, error);
          } finally {
            this.#holdings.retire(outcome.name); // the folder serves it now
          }
        }
        more.onSettled?.(outcome);
      },
    });
    return tally.into(report);
  }

  /**
   * Cancels running downloads (what arrived of a file over one chunk stays,
   * hidden, for the next try; the rest is removed), leaves the tracker, stops
   * accepting, and lets uploads in the middle of an answer finish it for up to
   * `shutdownGraceMs`. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#abort.abort();
      this.#link?.stop(); // no tracker reached again now: it would be told of a peer that is going
      await this.#watcher?.close();
      await Promise.allSettled([...this.#running]);
      await this.#link?.close(); // first, so that no one is sent here any more
      const grace = this.#options.shutdownGraceMs ?? Timeouts.SHUTDOWN_GRACE_MS;
      await Promise.all([this.server.close(grace), this.#http?.close(grace)]);
    })();
    return this.#closing;
  }

  /** Same as {@link Peer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** An event listener that may throw (a closed stdout) without ending the peer's background work. */
function safely(onEvent: ((event: PeerEvent) => void) | undefined): (event: PeerEvent) => void {
  return (event) => {
    try {
      onEvent?.(event);
    } catch { /* nothing to do: the event is lost */ }
  };
}
