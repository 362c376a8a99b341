/**
 * A peer: serves its shared folder, keeps one connection to the tracker,
 * announces its files, and fetches what it is asked for.
 *
 * @module
 */

import { downloadAll, type DownloadAllOptions, type FileOutcome, type PendingLookup } from "./peer/download.ts";
import { type FileServer, type FileServerEvent, startFileServer } from "./peer/file_server.ts";
import { FolderWatcher } from "./disk/folder_watch.ts";
import { type FileEntry, type Lookup, parseSendNames } from "./protocol.ts";
import { type FolderChanges, type HashProgress, SharedFolder } from "./disk/shared_folder.ts";
import type { Secret } from "./io/secret.ts";
import { type Arrival, TrackerClient } from "./peer/tracker_client.ts";
import { errorMessage, RateLimit } from "./io/streams.ts";
import type { TransferBoard } from "./cli/progress.ts";

/** What a peer reports as it works. */
export type PeerEvent =
  | FileServerEvent
  | { type: "attempt-failed"; name: string; holder: string; code: string; message: string }
  | { type: "tracker-lost"; message: string }
  | { type: "tracker-retry"; attempt: number; message: string; nextInMs: number }
  | { type: "tracker-back"; announced: string }
  | ({ type: "hashing" } & HashProgress)
  | { type: "folder-changed"; changed: FileEntry[]; removed: string[]; answer: string }
  | { type: "warning"; message: string };

/** Options of {@link Peer.start}. */
export interface PeerOptions {
  /** The tracker, `HOST:PORT`. */
  tracker: string;
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
  /** Connect and idle timeout of a download try, ms. Default 10,000. */
  timeoutMs?: number;
  /** Most holders one download uses at once. Default 4. */
  sources?: number;
  /** All uploads together send at most this many bytes per second. Default: no limit. */
  maxUploadRate?: number;
  /** Most uploads at once; one more request is answered `503 busy`. Default 64. */
  maxUploads?: number;
  /** All downloads together receive at most this many bytes per second. Default: no limit. */
  maxDownloadRate?: number;
  /** Deal only with a tracker and peers that know this secret; peer traffic encrypted. Default: open. */
  secret?: Secret;
  /** On close, uploads in the middle of an answer may take this long to finish it. Default 10,000 ms. */
  shutdownGraceMs?: number;
  /** While idle, `PING` the tracker this often, to stay known and to notice a vanished tracker. Default 30,000 ms. */
  heartbeatMs?: number;
  /** Waits between tries to reach a lost tracker: doubling from `minMs` up to `maxMs`, each drawn from its upper half. Default 250 and 5,000 ms. */
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
  /** Told the bound address as soon as the file server listens, before the tracker is contacted. */
  onListening?: (addr: Deno.NetAddr) => void;
}

/** What one SEND did. */
export interface SendReport {
  /** The tracker's reply, as written to `info.txt`; empty if no name was valid. */
  reply: string;
  /** One outcome per requested name, in the order asked. */
  outcomes: FileOutcome[];
  /** The tracker's answer when files that landed in the shared folder were announced. */
  announced?: string;
  /** Why announcing the files that landed failed (they are still there). */
  announceError?: string;
  /** Why `info.txt` could not be written (the downloads went on). */
  infoError?: string;
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
}

/** Resolves true after `ms`, or false at once when `signal` aborts. */
function sleep(ms: number, signal: AbortSignal): Promise<boolean> {
  if (signal.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clearTimeout(timer);
      signal.removeEventListener("abort", abort);
      resolve(value);
    };
    const abort = () => done(false);
    const timer = setTimeout(() => done(true), ms);
    signal.addEventListener("abort", abort, { once: true });
  });
}

/** Options of {@link sendAndFetch}. */
export interface FetchOptions extends DownloadAllOptions {
  /** Where to write the tracker's reply; `undefined` writes none. */
  infoPath?: string;
  /**
   * Wait up to this many seconds for files nobody holds yet (`WAIT`): each
   * downloads the moment a peer announces it. Default: no waiting.
   */
  waitSeconds?: number;
  /** Told which names are being waited for. */
  onWaiting?: (names: string[]) => void;
}

/**
 * The SEND of the original design: asks the tracker where the files of
 * `list` are (names separated by commas, `%2C` for a comma inside a name),
 * writes its reply to `options.infoPath`, then downloads every found file in
 * parallel. A name that is not a valid file name is refused without asking.
 * As each file settles, the tracker is told how each holder served it
 * (`REPORT`), then `options.onSettled` is called.
 */
export async function sendAndFetch(tracker: TrackerClient, list: string, options: FetchOptions): Promise<SendReport> {
  const parsed = parseSendNames(list);
  const valid = parsed.flatMap((n) => n.ok ? [n.name] : []);
  let lookups: Lookup[] = [];
  let reply = "";
  let infoError: string | undefined;
  let arrivals = new Map<string, Promise<Arrival>>();
  const saveInfo = async (text: string, append: boolean) => {
    if (!options.infoPath) return;
    await Deno.writeTextFile(options.infoPath, text, { append }).catch((error) => {
      infoError = `cannot write ${options.infoPath}: ${errorMessage(error)}`;
    });
  };
  if (valid.length > 0) {
    if (options.waitSeconds === undefined) ({ lookups, raw: reply } = await tracker.send(valid));
    else ({ lookups, raw: reply, arrivals } = await tracker.wait(valid, options.waitSeconds));
    await saveInfo(reply, false);
  }
  if (arrivals.size > 0) options.onWaiting?.([...arrivals.keys()]);
  const byName = new Map(lookups.map((l) => [l.name, l]));
  const ordered = parsed.map((n): Lookup | PendingLookup => {
    if (!n.ok) return { name: n.raw, status: n.error.status, holders: [], message: n.error.message };
    const arrival = arrivals.get(n.name);
    if (arrival) return { name: n.name, later: lookUpOnArrival(tracker, n.name, arrival, options, saveInfo) };
    return byName.get(n.name) ?? { name: n.name, status: 404, holders: [], message: "not in the tracker's reply" };
  });
  const outcomes = await downloadAll(ordered, {
    ...options,
    onSettled: async (outcome) => {
      // After our own cancellation, what the holders did says nothing about them.
      if (!options.signal?.aborted) await reportHolders(tracker, outcome);
      await options.onSettled?.(outcome);
    },
  });
  return infoError ? { reply, outcomes, infoError } : { reply, outcomes };
}

/**
 * Once `arrival` says someone announced `name`, looks it up again (its
 * reply is added to `info.txt`). An expired wait, or a cancellation, is a
 * lookup with no holder.
 */
async function lookUpOnArrival(
  tracker: TrackerClient,
  name: string,
  arrival: Promise<Arrival>,
  options: FetchOptions,
  saveInfo: (text: string, append: boolean) => Promise<void>,
): Promise<Lookup> {
  const { signal } = options;
  const { promise: cancelled, resolve } = Promise.withResolvers<"CANCELLED">();
  const abort = () => resolve("CANCELLED");
  if (signal?.aborted) abort();
  signal?.addEventListener("abort", abort, { once: true });
  const event = await Promise.race([arrival, cancelled]).finally(() => signal?.removeEventListener("abort", abort));
  if (event === "CANCELLED") return { name, status: 404, holders: [], message: "not found; cancelled while waiting" };
  if (event === "EXPIRED") {
    return {
      name,
      status: 404,
      holders: [],
      message: `not found; nobody announced it within ${options.waitSeconds} s`,
    };
  }
  const { lookups, raw } = await tracker.send([name]);
  await saveInfo(raw, true);
  return lookups.find((l) => l.name === name) ?? { name, status: 404, holders: [], message: "not found" };
}

/** Tells the tracker how each holder of a settled download served. */
async function reportHolders(tracker: TrackerClient, outcome: FileOutcome): Promise<void> {
  const sources = outcome.ok ? outcome.result.sources : outcome.sources;
  for (const s of sources) {
    if (s.code === undefined && s.bytes === 0) continue; // used, but nothing to say
    if (s.code === "503") continue; // busy is not a failure: it said so, and said when
    // The tracker may be gone or may have forgotten the holder: the download's outcome stands anyway.
    await tracker.report({ address: s.holder, outcome: s.code ?? "OK", bytes: s.bytes, name: outcome.name })
      .catch(() => {});
  }
}

/** A running peer. */
export class Peer implements AsyncDisposable {
  /** The folder it serves. */
  readonly folder: SharedFolder;
  /** The file server. */
  readonly server: FileServer;
  #tracker: TrackerClient;
  #reconnecting: Promise<void> | undefined;
  #options: PeerOptions;
  #emit: (event: PeerEvent) => void;
  #closing: Promise<void> | undefined;
  #abort = new AbortController();
  #running = new Set<Promise<SendReport>>();
  /** The last change announced (`ADD`/`REMOVE`): the next goes after it, so that they arrive in order. */
  #lastAnnounce: Promise<unknown> = Promise.resolve();
  #watcher: FolderWatcher | undefined;
  #downloadLimit: RateLimit | undefined;

  private constructor(options: PeerOptions, folder: SharedFolder, server: FileServer, tracker: TrackerClient) {
    this.#options = options;
    const onEvent = options.onEvent ?? (() => {});
    // A listener that throws (a closed stdout) must not end the peer's background work.
    this.#emit = (event) => {
      try {
        onEvent(event);
      } catch { /* nothing to do: the event is lost */ }
    };
    this.folder = folder;
    this.server = server;
    this.#tracker = tracker;
    this.#downloadLimit = options.maxDownloadRate ? new RateLimit(options.maxDownloadRate) : undefined;
    this.#watch(tracker);
  }

  /** Its tracker connection (a new one after the tracker was lost and reached again). */
  get tracker(): TrackerClient {
    return this.#tracker;
  }

  /** Keeps `client` alive, and when it is lost, reaches the tracker again. */
  #watch(client: TrackerClient): void {
    client.keepAlive(this.#options.heartbeatMs ?? 30_000);
    client.closed.then((why) => {
      if (this.#closing || client !== this.#tracker) return;
      this.#emit({ type: "tracker-lost", message: why });
      this.#reconnecting = this.#reconnect();
    });
  }

  /**
   * Tries to reach the tracker until it answers or the peer closes, waiting
   * longer after each failure (exponential backoff, with jitter so that many
   * peers do not come back at the same instant), then announces the folder.
   * The file server goes on serving meanwhile.
   */
  async #reconnect(): Promise<void> {
    const minMs = this.#options.reconnect?.minMs ?? 250;
    const maxMs = this.#options.reconnect?.maxMs ?? 5_000;
    let wait = minMs / 2 + Math.random() * minMs / 2;
    for (let attempt = 1;; attempt++) {
      if (!(await sleep(wait, this.#abort.signal))) return;
      let client: TrackerClient | undefined;
      try {
        client = await TrackerClient.connect(this.#options.tracker, this.#options.timeoutMs, this.#options.secret);
        if (this.#closing) return client.close();
        this.#tracker = client;
        const announced = await this.announce();
        if (this.#closing) return client.close();
        this.#emit({ type: "tracker-back", announced });
        this.#watch(client);
        return;
      } catch (error) {
        client?.close();
        if (this.#closing) return;
        const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
        wait = ceiling / 2 + Math.random() * ceiling / 2;
        this.#emit({ type: "tracker-retry", attempt, message: errorMessage(error), nextInMs: Math.round(wait) });
      }
    }
  }

  /** Starts serving the folder, scans it, connects to the tracker and announces. */
  static async start(options: PeerOptions): Promise<Peer> {
    const folder = await SharedFolder.open(options.dir, { cache: options.hashCache });
    // Listening first (a request meanwhile hashes the file it asks for), so that a long first hashing
    // comes after the `listening on` line.
    const server = startFileServer({
      hostname: options.hostname,
      port: options.port,
      maxUploadRate: options.maxUploadRate,
      maxUploads: options.maxUploads,
      secret: options.secret,
      folder,
      onEvent: options.onEvent,
      onError: options.onError,
    });
    options.onListening?.(server.addr);
    let tracker: TrackerClient;
    try {
      await folder.scan((progress) => options.onEvent?.({ type: "hashing", ...progress }));
      if (folder.cacheError) options.onEvent?.({ type: "warning", message: folder.cacheError });
      tracker = await TrackerClient.connect(options.tracker, options.timeoutMs, options.secret);
    } catch (error) {
      await server.close();
      throw error;
    }
    const peer = new Peer(options, folder, server, tracker);
    try {
      await peer.announce();
      if (options.watch) {
        let cacheError = folder.cacheError;
        peer.#watcher = FolderWatcher.start(folder, {
          quietMs: typeof options.watch === "object" ? options.watch.quietMs : undefined,
          onChanges: async (changes) => {
            if (folder.cacheError && folder.cacheError !== cacheError) {
              peer.#emit({ type: "warning", message: folder.cacheError });
            }
            cacheError = folder.cacheError;
            await peer.#announceChanges(changes).catch((error) => {
              // Refused (the index is full, say) or the tracker is gone: reaching it again announces everything.
              const files = [...changes.changed.map((f) => f.name), ...changes.removed].join(", ");
              peer.#emit({
                type: "warning",
                message: `the tracker did not take the change of ${files}: ${errorMessage(error)}`,
              });
            });
          },
          onError: (message) => peer.#emit({ type: "warning", message }),
        });
      }
    } catch (error) {
      await peer.close();
      throw error;
    }
    return peer;
  }

  /**
   * Tells the tracker what changed in the folder, incrementally (`ADD`,
   * `REMOVE`), after any announcement in flight. While the tracker is
   * unreachable nothing is sent: reaching it again announces the whole folder.
   */
  #announceChanges(changes: FolderChanges, tell = true): Promise<string> {
    const next = this.#lastAnnounce.catch(() => {}).then(async () => {
      if (!this.#tracker.open || this.#closing) return "";
      const answers: string[] = [];
      if (changes.changed.length > 0) answers.push(await this.#tracker.add(this.addr.port, changes.changed));
      if (changes.removed.length > 0) answers.push(await this.#tracker.remove(changes.removed));
      const answer = answers.join("; ");
      if (tell) this.#emit({ type: "folder-changed", changed: changes.changed, removed: changes.removed, answer });
      return answer;
    });
    this.#lastAnnounce = next;
    return next;
  }

  /** The address the file server is bound to. */
  get addr(): Deno.NetAddr {
    return this.server.addr;
  }

  /** Tells the tracker every file of the folder, as it is now known; returns the tracker's answer. */
  announce(): Promise<string> {
    return this.tracker.update(this.addr.port, this.folder.entries());
  }

  /**
   * Looks up `list` (names separated by commas) and downloads every found
   * file in parallel, as {@link sendAndFetch}. Each file that lands in the
   * shared folder is announced as soon as it is verified, so that the next
   * downloader can fetch it from here (`announced` holds the tracker's last
   * answer).
   */
  send(list: string, options: SendOptions = {}): Promise<SendReport> {
    if (this.#closing) return Promise.reject(new Error("the peer is closing"));
    const running = this.#send(list, options);
    this.#running.add(running);
    return running.finally(() => this.#running.delete(running));
  }

  async #send(list: string, more: SendOptions): Promise<SendReport> {
    if (!this.#tracker.open) {
      throw new Error("the tracker is unreachable, trying again in the background (uploads go on)");
    }
    const outDir = this.#options.out ?? this.folder.path;
    const shared = (await Deno.realPath(outDir).catch(() => undefined)) === this.folder.path;
    let announced: string | undefined;
    let announceError: string | undefined;
    const report = await sendAndFetch(this.tracker, list, {
      outDir,
      infoPath: this.#options.infoPath,
      timeoutMs: this.#options.timeoutMs,
      sources: this.#options.sources,
      secret: this.#options.secret,
      signal: this.#abort.signal,
      limit: this.#downloadLimit,
      board: more.board,
      waitSeconds: more.waitSeconds,
      onWaiting: more.onWaiting,
      onAttemptFailed: (name, a) => this.#emit({ type: "attempt-failed", name, ...a }),
      onSettled: async (outcome) => {
        if (shared && outcome.ok && outcome.result.from !== "here" && !this.#abort.signal.aborted) {
          try {
            await this.folder.add(outcome.result, outcome.result.chunks);
            const entry = this.folder.entry(outcome.result.name);
            if (entry) announced = await this.#announceChanges({ changed: [entry], removed: [] }, false);
          } catch (error) {
            announceError = errorMessage(error);
          }
        }
        more.onSettled?.(outcome);
      },
    });
    if (announceError !== undefined) return { ...report, announceError };
    return announced === undefined ? report : { ...report, announced };
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
      await this.#watcher?.close();
      await Promise.allSettled([...this.#running]);
      await this.#reconnecting;
      await this.#tracker.quit(); // first, so that no one is sent here any more
      await this.server.close(this.#options.shutdownGraceMs ?? 10_000);
    })();
    return this.#closing;
  }

  /** Same as {@link Peer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
