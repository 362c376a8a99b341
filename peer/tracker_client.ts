/**
 * A peer's side of the tracker connection: one persistent connection,
 * requests written in order, replies read all the time by one loop and
 * handed to the requests in the order they were sent. Every line goes
 * through `protocol.ts`'s formatters and parsers.
 *
 * @module
 */

import {
  expectOk,
  type FileEntry,
  formatAnnouncement,
  formatCommand,
  formatLookup,
  formatPageRequest,
  formatRemoval,
  formatReport,
  formatWaitRequest,
  type HolderReport,
  isPeerRefusal,
  isPush,
  Limits,
  type ListedPeer,
  type Lookup,
  parsePeersReply,
  parsePush,
  parseReplyLine,
  parseSendReply,
  parseStatsReply,
  ProtocolError,
  type Push,
  type ReplyLine,
  Status,
  Timeouts,
  type TrackerStats,
} from "../protocol.ts";
import { type Clock, systemClock, type TimerHandle } from "../io/clock.ts";
import { dial } from "../io/dial.ts";
import {
  AuthError,
  classify,
  ConnectionClosedError,
  errorMessage,
  isDisconnect,
  NotATrackerError,
  TlsError,
  TrackerUnreachableError,
} from "../io/errors.ts";
import { closeQuietly, type Link } from "../io/link.ts";
import { BufferedReader } from "../io/reader.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
import { encodeText, writeAll } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";

/** A whole reply: its lines parsed, and its text as it came (for `info.txt`). */
export interface Reply {
  /** Each line, parsed. */
  lines: ReplyLine[];
  /** The lines as they came, each with its line feed. */
  text: string;
}

/** What a request to a tracker that needs `--secret` fails with. */
function needsSecret(address: string): string {
  return `the tracker at ${address} needs the shared secret (--secret); give the tracker's secret with --secret or P2P_SECRET`;
}

/** The reply line an error from the other side carries. */
function replyOf(error: ProtocolError): ReplyLine {
  return { status: error.status, more: false, text: error.message };
}

/** A request waiting for its reply. */
interface Pending {
  lines: ReplyLine[];
  text: string;
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
  deadline: Watchdog;
}

/** How a wait for a file ended: someone announced it, or the time ran out. */
export type Arrival = Push["event"];

/** What {@link TrackerClient.wait} gives: the lookups, and for each name nobody held, when it arrives. */
export interface WaitReply {
  /** The tracker's answer, as for `SEND`. */
  lookups: Lookup[];
  /** The reply as it came. */
  raw: string;
  /** Name → `FOUND` (look it up again now) or `EXPIRED`; rejects if the tracker connection is lost first. */
  arrivals: Map<string, Promise<Arrival>>;
}

interface Watch {
  resolve: (arrival: Arrival) => void;
  reject: (error: Error) => void;
  timer?: TimerHandle;
  /** Told (or failed) already. */
  settled?: boolean;
}

/** Options of {@link TrackerClient.update}, {@link TrackerClient.add} and {@link TrackerClient.partial}. */
export interface AnnounceOptions {
  /** The port of this peer's HTTP face, announced as `http=<port>`. Default: none. */
  httpPort?: number;
}

/** Options of {@link TrackerClient.connect}. */
export interface TrackerClientOptions {
  /** Connecting (with the handshake), and each request, may take at most this long. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Prove we know this secret (and over plain TCP, encrypt). Default: no secret. */
  secret?: Secret;
  /** Connect with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
  /** Whose time deadlines, the heartbeat and waits are measured in. Default `systemClock`. */
  clock?: Clock;
}

/**
 * One persistent connection to a tracker. Replies are read all the time by
 * one loop and handed to the requests in the order they were sent, so the
 * client learns at once when the tracker goes away ({@link TrackerClient.closed}).
 *
 * @example
 * ```ts
 * await using tracker = await TrackerClient.connect("127.0.0.1:4444");
 * const { lookups } = await tracker.send(["hello.txt"]);
 * ```
 */
export class TrackerClient implements AsyncDisposable {
  #address: string;
  #conn: Link;
  #reader: BufferedReader;
  #timeoutMs: number;
  #clock: Clock;
  #pending: Pending[] = [];
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;
  #gone = Promise.withResolvers<string>();
  #heartbeat: TimerHandle | undefined;
  #loop: Promise<void>;
  /**
   * Set once what answers turned out to be a peer, or to speak TLS when we do not: what every request then
   * fails with.
   */
  #fatal: ConnectionClosedError | undefined;
  /** Names waited for (WAIT), told by push lines. */
  #watches = new Map<string, Watch[]>();

  private constructor(conn: Link, options: { address: string; timeoutMs: number; clock: Clock }) {
    this.#address = options.address;
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#timeoutMs = options.timeoutMs;
    this.#clock = options.clock;
    this.#loop = this.#readReplies();
  }

  /** The tracker's address, `HOST:PORT`, as given. */
  get address(): string {
    return this.#address;
  }

  /**
   * Connects to `address` (`HOST:PORT`). A request that takes longer than
   * the timeout closes the connection (the next reply could not be told
   * apart). Throws an error saying which tracker could not be reached, why,
   * and what to do (the original error is its `cause`):
   * `cannot reach the tracker at 127.0.0.1:4444 (connection refused); is it
   * running? start one with 'deno task tracker' or point --tracker at it`.
   *
   * What answers at `address` may turn out to be a peer rather than a
   * tracker: the first reply (or the `--secret` handshake) tells, and every
   * request then fails with `ADDRESS is a peer, not a tracker; …`.
   *
   * TLS on one side only, or a certificate not trusted, fails with a
   * `ConnectionClosedError` whose `cause` is the `TlsError` and whose
   * message says which and what to do: at once with `options.tls`; without
   * it, on the tracker's first answer (a TLS alert), as every request then.
   */
  static async connect(address: string, options: TrackerClientOptions = {}): Promise<TrackerClient> {
    const timeoutMs = options.timeoutMs ?? Timeouts.REQUEST_MS;
    try {
      const conn = await dial(address, { timeoutMs, secret: options.secret, tls: options.tls, party: "tracker" });
      return new TrackerClient(conn, { address, timeoutMs, clock: options.clock ?? systemClock });
    } catch (error) {
      // TLS on one side only, or a certificate not trusted: a flag or a certificate must change, not the tracker start.
      if (error instanceof TlsError) throw new ConnectionClosedError(error.message, { cause: error });
      if (error instanceof AuthError) {
        // A peer without a secret answers AUTH as any command it does not know: it is no tracker.
        if (error.cause instanceof ProtocolError && isPeerRefusal(replyOf(error.cause))) {
          throw new NotATrackerError(address, { cause: error });
        }
        throw new ConnectionClosedError(`the tracker at ${address} refused us: ${error.message}`, { cause: error });
      }
      const why = error instanceof DOMException && error.name === "TimeoutError"
        ? `no answer within ${timeoutMs / 1000} s`
        : classify(error).message;
      throw new TrackerUnreachableError(address, why, { cause: error });
    }
  }

  /** False once the connection is gone. */
  get open(): boolean {
    return !this.#closed;
  }

  /** Resolves, with why, once the connection is gone: closed by either side, broken, or timed out. */
  get closed(): Promise<string> {
    return this.#gone.promise;
  }

  /**
   * Sends `PING` every `ms` while no request is waiting, so that a tracker
   * that vanished without closing (half-open) is noticed within `ms` plus
   * the timeout, and so that the tracker does not drop this quiet session.
   */
  keepAlive(ms: number): void {
    if (this.#closed) return;
    this.#clock.clearTimeout(this.#heartbeat);
    const beat = () => {
      this.#heartbeat = this.#clock.setTimeout(() => {
        if (this.#pending.length === 0) this.request(formatCommand("PING")).catch(() => {});
        if (!this.#closed) beat();
      }, ms);
    };
    beat();
  }

  /**
   * Sends `text` (whole lines, as `protocol.ts` formats them) and resolves
   * with the whole reply. Requests may be sent while earlier ones wait:
   * replies come in order.
   */
  request(text: string): Promise<Reply> {
    if (this.#closed) {
      return Promise.reject(this.#fatal ?? new ConnectionClosedError("the tracker connection is closed"));
    }
    const { promise, resolve, reject } = Promise.withResolvers<Reply>();
    const deadline = new Watchdog(
      this.#timeoutMs,
      () => this.#close(`the tracker did not answer within ${this.#timeoutMs / 1000} s`),
      { clock: this.#clock },
    );
    this.#pending.push({ lines: [], text: "", resolve, reject, deadline });
    const line = text.endsWith("\n") ? text : text + "\n";
    // The deadline is about progress: a long UPDATE on a slow link is not late while it flows.
    this.#writes = this.#writes
      .then(() => writeAll(this.#conn, encodeText(line), { onWrite: () => deadline.touch() }))
      .catch((error) => {
        this.#close(isDisconnect(error) ? "the tracker closed the connection" : errorMessage(error));
      });
    return promise;
  }

  async #readReplies(): Promise<void> {
    let why = "the tracker closed the connection";
    try {
      while (true) {
        const raw = await this.#reader.readLine();
        if (raw === null) break;
        if (isPush(raw)) {
          this.#pushed(parsePush(raw));
          continue;
        }
        const line = parseReplyLine(raw);
        // A peer answers a tracker's command so, and closes: every request would fail the same way.
        if (isPeerRefusal(line)) {
          this.#fatal = new NotATrackerError(this.#address);
          break;
        }
        const pending = this.#pending[0];
        if (!pending) throw new ProtocolError(Status.BAD_REQUEST, `a reply nobody asked for: ${raw.slice(0, 80)}`);
        if (line.status === Status.NEEDS_SECRET && !line.more) {
          // The tracker closes after it: the request fails saying which tracker, and how to give the secret.
          this.#pending.shift();
          pending.deadline.stop();
          pending.reject(new AuthError(Status.NEEDS_SECRET, needsSecret(this.#address)));
          continue;
        }
        pending.lines.push(line);
        pending.text += raw + "\n";
        pending.deadline.touch();
        if (!line.more) {
          this.#pending.shift();
          pending.deadline.stop();
          pending.resolve({ lines: pending.lines, text: pending.text });
        } else if (pending.lines.length >= Limits.MAX_REPLY_LINES) {
          throw new ProtocolError(Status.TOO_LARGE, "tracker reply too long");
        }
      }
    } catch (error) {
      // A TLS tracker answers our plain first line with an alert: trying again cannot help.
      if (error instanceof TlsError) this.#fatal = new ConnectionClosedError(error.message, { cause: error });
      if (!isDisconnect(error)) why = errorMessage(error);
    }
    this.#close(this.#fatal?.message ?? why);
  }

  #pushed(push: Push): void {
    const watches = this.#watches.get(push.name);
    this.#watches.delete(push.name);
    for (const w of watches ?? []) {
      this.#clock.clearTimeout(w.timer);
      w.settled = true;
      w.resolve(push.event);
    }
  }

  #close(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#heartbeat);
    closeQuietly(this.#conn);
    for (const p of this.#pending.splice(0)) {
      p.deadline.stop();
      p.reject(this.#fatal ?? new ConnectionClosedError(why));
    }
    for (const watches of this.#watches.values()) {
      for (const w of watches) {
        this.#clock.clearTimeout(w.timer);
        w.settled = true;
        w.reject(new ConnectionClosedError(why));
      }
    }
    this.#watches.clear();
    this.#gone.resolve(why);
  }

  /** Announces every file this peer serves at `port`, replacing what it announced before; the tracker's answer. */
  async update(port: number, files: readonly FileEntry[], options: AnnounceOptions = {}): Promise<string> {
    const header = { verb: "UPDATE" as const, port, httpPort: options.httpPort };
    return expectOk((await this.request(formatAnnouncement(header, files))).lines).text;
  }

  /** Adds files to (or changes them among) what this peer announced, at `port`. */
  async add(port: number, files: readonly FileEntry[], options: AnnounceOptions = {}): Promise<string> {
    const header = { verb: "ADD" as const, port, httpPort: options.httpPort };
    return expectOk((await this.request(formatAnnouncement(header, files))).lines).text;
  }

  /**
   * Tells the tracker this peer, at `port`, holds part of `files` (files of
   * more than one chunk, each with its root, that it is still downloading
   * and serves the verified chunks of): `PARTIAL`. A name it announced
   * before, whole or partially, becomes a partial holding; a later `add`
   * makes it whole, `remove` takes it out. At most
   * `Limits.MAX_PARTIAL_PER_PEER` in all (`413` beyond).
   */
  async partial(port: number, files: readonly FileEntry[], options: AnnounceOptions = {}): Promise<string> {
    const header = { verb: "PARTIAL" as const, port, httpPort: options.httpPort };
    return expectOk((await this.request(formatAnnouncement(header, files))).lines).text;
  }

  /** Takes files out of what this peer announced. */
  async remove(names: readonly string[]): Promise<string> {
    return expectOk((await this.request(formatRemoval(names))).lines).text;
  }

  /** Looks files up; `raw` is the reply as it came, for `info.txt`. */
  async send(names: readonly string[]): Promise<{ lookups: Lookup[]; raw: string }> {
    const reply = await this.request(formatLookup(names));
    expectOk(reply.lines);
    return { lookups: parseSendReply(reply.lines), raw: reply.text };
  }

  /**
   * Looks files up like {@link TrackerClient.send}, and the tracker tells
   * this client the moment someone announces a name nobody holds now, for
   * up to `seconds` (`WAIT`).
   */
  async wait(names: readonly string[], seconds: number): Promise<WaitReply> {
    // Watch first: the push may come right behind the reply.
    const arrivals = new Map<string, Promise<Arrival>>();
    const watches = new Map<string, Watch>();
    for (const name of new Set(names)) {
      const { promise, resolve, reject } = Promise.withResolvers<Arrival>();
      promise.catch(() => {}); // a caller that drops the arrivals must not get an unhandled rejection
      const watch: Watch = { resolve, reject };
      watches.set(name, watch);
      arrivals.set(name, promise);
      let list = this.#watches.get(name);
      if (!list) this.#watches.set(name, list = []);
      list.push(watch);
    }
    const unwatch = (name: string, watch: Watch) => {
      const list = this.#watches.get(name)?.filter((w) => w !== watch) ?? [];
      if (list.length > 0) this.#watches.set(name, list);
      else this.#watches.delete(name);
    };
    let reply: Reply;
    try {
      reply = await this.request(formatWaitRequest({ seconds, names }));
      expectOk(reply.lines);
    } catch (error) {
      for (const [name, watch] of watches) unwatch(name, watch);
      throw error;
    }
    const lookups = parseSendReply(reply.lines);
    const statuses = new Map(lookups.map((l) => [l.name, l.status]));
    for (const [name, watch] of watches) {
      const status = statuses.get(name);
      if (watch.settled && status !== undefined) continue; // a push for an earlier wait on the same name came first
      if (status === Status.NOT_FOUND) {
        // Should the tracker's own timer be lost, this side gives up a little later.
        watch.timer = this.#clock.setTimeout(() => {
          unwatch(name, watch);
          watch.settled = true;
          watch.resolve("EXPIRED");
        }, seconds * 1000 + this.#timeoutMs);
      } else {
        // Held already (or not in the reply): nothing to wait for.
        unwatch(name, watch);
        arrivals.delete(name);
      }
    }
    return { lookups, raw: reply.text, arrivals };
  }

  /** The tracker's counters (`STATS`). */
  async stats(): Promise<TrackerStats> {
    return parseStatsReply((await this.request(formatCommand("STATS"))).lines);
  }

  /** Tells the tracker how a holder served (`REPORT`); returns its answer. */
  async report(report: HolderReport): Promise<string> {
    return expectOk((await this.request(formatReport(report))).lines).text;
  }

  /** The peers that serve files now: every page of `PEERS` (at most `Limits.MAX_PEER_PAGES`). */
  async peers(): Promise<ListedPeer[]> {
    const peers: ListedPeer[] = [];
    let page: number | undefined = 1;
    for (let read = 0; page !== undefined && read < Limits.MAX_PEER_PAGES; read++) {
      const reply = parsePeersReply((await this.request(formatPageRequest({ verb: "PEERS", page }))).lines);
      peers.push(...reply.peers);
      page = reply.nextPage;
    }
    return peers;
  }

  /** Sends a line a person typed (`LIST x`, `HELP`, …) and returns the reply as it came. */
  async raw(line: string): Promise<string> {
    return (await this.request(line)).text;
  }

  /** Says goodbye (unless a request is still waiting for its reply) and closes. Idempotent; never throws. */
  async quit(): Promise<void> {
    if (!this.#closed && this.#pending.length === 0) await this.request(formatCommand("QUIT")).catch(() => {});
    this.close();
    await this.#loop;
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    this.#close("closed by this side");
  }

  /** Same as {@link TrackerClient.close}, and waits for the reading loop to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#loop;
  }
}
