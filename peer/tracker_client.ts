/**
 * A peer's side of the tracker connection: one persistent connection,
 * requests sent one at a time, each reply read to its last line.
 *
 * @module
 */

import {
  encodeName,
  type FileEntry,
  formatEntryLine,
  formatReplyLine,
  formatReport,
  type HolderReport,
  isPush,
  type Lookup,
  parseAddress,
  parsePush,
  parseReplyLine,
  parseSendReply,
  parseStats,
  ProtocolError,
  type Push,
  type ReplyLine,
  Status,
  type TrackerStats,
} from "../protocol.ts";
import { BufferedReader } from "../io/reader.ts";
import { authenticateToServer, type Link, type Secret, SecureLink } from "../io/secret.ts";
import { closeQuietly, encodeText, errorMessage, isDisconnect, Watchdog, writeAll } from "../io/streams.ts";

/** Most lines one reply may have before the client gives up on it. */
export const MAX_REPLY_LINES = 100_000;

/** Most pages of `PEERS` {@link TrackerClient.peers} reads (100 peers each). */
export const MAX_PEER_PAGES = 1_000;

/** The tracker went away. */
export class ConnectionClosedError extends Error {
  /** Builds the error. */
  constructor(message = "the tracker closed the connection") {
    super(message);
    this.name = "ConnectionClosedError";
  }
}

/** A peer the tracker lists. */
export interface ListedPeer {
  address: string;
  files: number;
}

/** A request waiting for its reply. */
interface Waiter {
  lines: ReplyLine[];
  resolve: (lines: ReplyLine[]) => void;
  reject: (error: Error) => void;
  deadline: Watchdog;
}

/** How a wait for a file ended: someone announced it, or the time ran out. */
export type Arrival = Push["event"];

/** What {@link TrackerClient.wait} gives: the lookups, and for each name nobody held, when it arrives. */
export interface WaitReply {
  lookups: Lookup[];
  raw: string;
  /** Name → `FOUND` (look it up again now) or `EXPIRED`; rejects if the tracker connection is lost first. */
  arrivals: Map<string, Promise<Arrival>>;
}

interface Watch {
  resolve: (arrival: Arrival) => void;
  reject: (error: Error) => void;
  timer?: ReturnType<typeof setTimeout>;
  /** Told (or failed) already. */
  settled?: boolean;
}

/**
 * One persistent connection to a tracker. Replies are read all the time by
 * one loop and handed to the requests in the order they were sent, so the
 * client learns at once when the tracker goes away ({@link TrackerClient.closed}).
 */
export class TrackerClient implements AsyncDisposable {
  #conn: Link;
  #reader: BufferedReader;
  #timeoutMs: number;
  #waiting: Waiter[] = [];
  #writes: Promise<unknown> = Promise.resolve();
  #closed = false;
  #gone = Promise.withResolvers<string>();
  #heartbeat: ReturnType<typeof setInterval> | undefined;
  #loop: Promise<void>;
  /** Names waited for (WAIT), told by push lines. */
  #watches = new Map<string, Watch[]>();

  private constructor(conn: Link, timeoutMs: number) {
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#timeoutMs = timeoutMs;
    this.#loop = this.#readReplies();
  }

  /**
   * Connects to `address` (`HOST:PORT`). Connecting, and each request, may
   * take at most `timeoutMs` (default 10 s); a request that takes longer
   * closes the connection.
   */
  static async connect(address: string, timeoutMs = 10_000, secret?: Secret): Promise<TrackerClient> {
    const { host, port } = parseAddress(address);
    let conn: Deno.Conn;
    try {
      conn = await Deno.connect({ hostname: host, port, signal: AbortSignal.timeout(timeoutMs) });
    } catch (error) {
      throw new Error(`cannot reach the tracker at ${address}: ${errorMessage(error)}`);
    }
    if (!secret) return new TrackerClient(conn, timeoutMs);
    using _deadline = new Watchdog(timeoutMs, () => closeQuietly(conn));
    try {
      const shook = await authenticateToServer(conn, secret);
      return new TrackerClient(await SecureLink.over(conn, shook, secret, "client"), timeoutMs);
    } catch (error) {
      closeQuietly(conn);
      throw new Error(`the tracker at ${address} refused us: ${errorMessage(error)}`);
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
    clearInterval(this.#heartbeat);
    this.#heartbeat = setInterval(() => {
      if (this.#waiting.length === 0) this.request("PING").catch(() => {});
    }, ms);
  }

  /**
   * Sends one command line and resolves with its whole reply. Requests may
   * be sent while earlier ones wait: replies come in order.
   */
  request(line: string): Promise<ReplyLine[]> {
    if (this.#closed) return Promise.reject(new ConnectionClosedError("the tracker connection is closed"));
    const { promise, resolve, reject } = Promise.withResolvers<ReplyLine[]>();
    // Any request that takes longer than the timeout closes the connection: the next
    // reply could not be told apart.
    const deadline = new Watchdog(
      this.#timeoutMs,
      () => this.#close(`the tracker did not answer within ${this.#timeoutMs / 1000} s`),
    );
    this.#waiting.push({ lines: [], resolve, reject, deadline });
    const text = line.endsWith("\n") ? line : line + "\n";
    // The deadline is about progress: a long UPDATE on a slow link is not late while it flows.
    this.#writes = this.#writes.then(() => writeAll(this.#conn, encodeText(text), () => deadline.touch())).catch(
      (error) => {
        this.#close(isDisconnect(error) ? "the tracker closed the connection" : errorMessage(error));
      },
    );
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
        const waiter = this.#waiting[0];
        if (!waiter) throw new ProtocolError(Status.BAD_REQUEST, `a reply nobody asked for: ${raw.slice(0, 80)}`);
        waiter.lines.push(line);
        waiter.deadline.touch();
        if (!line.more) {
          this.#waiting.shift();
          waiter.deadline.stop();
          waiter.resolve(waiter.lines);
        } else if (waiter.lines.length >= MAX_REPLY_LINES) {
          throw new ProtocolError(Status.TOO_LARGE, "tracker reply too long");
        }
      }
    } catch (error) {
      if (!isDisconnect(error)) why = errorMessage(error);
    }
    this.#close(why);
  }

  #pushed(push: Push): void {
    const watches = this.#watches.get(push.name);
    this.#watches.delete(push.name);
    for (const w of watches ?? []) {
      clearTimeout(w.timer);
      w.settled = true;
      w.resolve(push.event);
    }
  }

  #close(why: string): void {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#heartbeat);
    closeQuietly(this.#conn);
    for (const w of this.#waiting.splice(0)) {
      w.deadline.stop();
      w.reject(new ConnectionClosedError(why));
    }
    for (const watches of this.#watches.values()) {
      for (const w of watches) {
        clearTimeout(w.timer);
        w.settled = true;
        w.reject(new ConnectionClosedError(why));
      }
    }
    this.#watches.clear();
    this.#gone.resolve(why);
  }

  /** Announces every file this peer serves at `port`, replacing what it announced before. */
  async update(port: number, files: readonly FileEntry[]): Promise<string> {
    const text = [`UPDATE ${port} ${files.length}`, ...files.map(formatEntryLine)].join("\n");
    return expectOk(await this.request(text)).text;
  }

  /** Adds files to (or changes them among) what this peer announced, at `port`. */
  async add(port: number, files: readonly FileEntry[]): Promise<string> {
    const text = [`ADD ${port} ${files.length}`, ...files.map(formatEntryLine)].join("\n");
    return expectOk(await this.request(text)).text;
  }

  /** Takes files out of what this peer announced. */
  async remove(names: readonly string[]): Promise<string> {
    return expectOk(await this.request([`REMOVE ${names.length}`, ...names.map(encodeName)].join("\n"))).text;
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
    let lines: ReplyLine[];
    try {
      lines = await this.request(`WAIT ${seconds} ${names.map(encodeName).join(", ")}`);
      expectOk(lines);
    } catch (error) {
      for (const [name, watch] of watches) unwatch(name, watch);
      throw error;
    }
    const lookups = parseSendReply(lines);
    const statuses = new Map(lookups.map((l) => [l.name, l.status]));
    for (const [name, watch] of watches) {
      const status = statuses.get(name);
      if (watch.settled && status !== undefined) continue; // a push for an earlier wait on the same name came first
      if (status === Status.NOT_FOUND) {
        // Should the tracker's own timer be lost, this side gives up a little later.
        watch.timer = setTimeout(() => {
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
    return { lookups, raw: lines.map(formatLine).join(""), arrivals };
  }

  /** The tracker's counters (`STATS`). */
  async stats(): Promise<TrackerStats> {
    const last = expectOk(await this.request("STATS"));
    return parseStats(last.text.replace(/^STATS\s*/, ""));
  }

  /** Looks files up; `raw` is the reply as it came, for `info.txt`. */
  async send(names: readonly string[]): Promise<{ lookups: Lookup[]; raw: string }> {
    const lines = await this.request(`SEND ${names.map(encodeName).join(", ")}`);
    expectOk(lines);
    return { lookups: parseSendReply(lines), raw: lines.map(formatLine).join("") };
  }

  /** Tells the tracker how a holder served (`REPORT`); returns its answer. */
  async report(report: HolderReport): Promise<string> {
    return expectOk(await this.request(formatReport(report))).text;
  }

  /** The peers that serve files now: every page of `PEERS` (at most {@link MAX_PEER_PAGES}). */
  async peers(): Promise<ListedPeer[]> {
    const peers: ListedPeer[] = [];
    for (let page = 1; page <= MAX_PEER_PAGES; page++) {
      const lines = await this.request(page === 1 ? "PEERS" : `PEERS --page ${page}`);
      const end = expectOk(lines);
      for (const line of lines.slice(0, -1)) {
        const m = /^PEER (\S+) (\d+)$/.exec(line.text);
        if (m) peers.push({ address: m[1], files: Number(m[2]) });
      }
      if (!end.text.includes("; next: ")) break;
    }
    return peers;
  }

  /** Sends any command and returns the reply as text lines (for `LIST`, `HELP`, …). */
  async raw(line: string): Promise<string> {
    return (await this.request(line)).map(formatLine).join("");
  }

  /** Says goodbye (unless a request is still waiting for its reply) and closes. Idempotent; never throws. */
  async quit(): Promise<void> {
    if (!this.#closed && this.#waiting.length === 0) await this.request("QUIT").catch(() => {});
    this.close();
    await this.#loop;
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    this.#close("closed by this side");
  }

  /** Same as {@link TrackerClient.close}. */
  async [Symbol.asyncDispose](): Promise<void> {
    this.close();
    await this.#loop;
  }
}

function formatLine(line: ReplyLine): string {
  return formatReplyLine(line.status, line.text, line.more) + "\n";
}

function expectOk(lines: ReplyLine[]): ReplyLine {
  const last = lines[lines.length - 1];
  if (last.status >= 400) throw new ProtocolError(last.status, last.text);
  return last;
}
