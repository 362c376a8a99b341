/**
 * The tracker: accepts peers, one session per connection, and answers
 * UPDATE, SEND, PEERS, LIST, HELP and QUIT from its {@link TrackerIndex}.
 * A peer's files leave the index the moment its connection closes.
 *
 * @module
 */

import { HolderFeedback } from "./feedback.ts";
import type { Link } from "./secret.ts";
import { TrackerIndex } from "./index.ts";
import {
  encodeName,
  type FileEntry,
  formatAddress,
  formatReply,
  formatReplyLine,
  formatSendReply,
  Limits,
  type Lookup,
  parseEntryLine,
  parseReport,
  parseSendNames,
  parseUpdateHeader,
  ProtocolError,
  splitCommand,
  Status,
} from "./protocol.ts";
import { BufferedReader } from "./reader.ts";
import { type ListenOptions, TcpServer } from "./server.ts";
import { closeQuietly, isDisconnect, Watchdog, writeText } from "./transfer.ts";

/** What the tracker reports. */
export type TrackerEvent =
  | { type: "joined"; peer: string }
  | { type: "announced"; peer: string; files: number }
  | { type: "left"; peer: string; files: number; reason?: string }
  | { type: "bad-request"; peer: string; status: number; message: string }
  | { type: "reported"; peer: string; holder: string; name: string; outcome: string; demoted: boolean };

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
   * client dripping a line byte by byte. Peers send `PING` to stay. Default 120,000 ms.
   */
  idleTimeoutMs?: number;
  /** Most entries in the whole index; an UPDATE that would pass it gets 413. Default {@link Limits.MAX_INDEX_ENTRIES}. */
  maxEntries?: number;
}

/** A running tracker. */
export interface Tracker extends AsyncDisposable {
  /** The bound address. */
  addr: Deno.NetAddr;
  /** The index it answers from. */
  index: TrackerIndex;
  /** What downloaders reported about holders. */
  feedback: HolderFeedback;
  /** Stops accepting, closes every session. */
  close(): Promise<void>;
}

const HELP = [
  "commands, one per line:",
  "UPDATE <port> <count>, then <count> lines <size> <sha256> <name>",
  "SEND <name>[, <name>...]",
  "REPORT <host:port> <OK|code> <bytes> <name>",
  "PEERS",
  "LIST [text]",
  "PING",
  "HELP",
  "QUIT",
];

/** Starts a tracker. */
export function startTracker(options: TrackerOptions): Tracker {
  const index = new TrackerIndex();
  const feedback = new HolderFeedback(options.demoteAfter);
  const onEvent = options.onEvent ?? (() => {});
  let nextId = 1;
  const server = new TcpServer(
    options,
    (conn) =>
      new Session(nextId++, conn, {
        index,
        feedback,
        onEvent,
        idleMs: options.idleTimeoutMs ?? 120_000,
        maxEntries: options.maxEntries ?? Limits.MAX_INDEX_ENTRIES,
      }).run(),
    options.onError ?? (() => {}),
  );
  return {
    addr: server.addr,
    index,
    feedback,
    close: () => server.close(),
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** What every session shares. */
interface Shared {
  index: TrackerIndex;
  feedback: HolderFeedback;
  onEvent: (event: TrackerEvent) => void;
  idleMs: number;
  maxEntries: number;
}

/** One connected peer. */
class Session {
  #id: number;
  #conn: Link;
  #reader: BufferedReader;
  #index: TrackerIndex;
  #feedback: HolderFeedback;
  #onEvent: (event: TrackerEvent) => void;
  #idleMs: number;
  #maxEntries: number;
  #watchdog: Watchdog | undefined;
  #remote: Deno.NetAddr;
  #name: string;
  #out: string[] = [];
  #outLength = 0;

  constructor(id: number, conn: Link, shared: Shared) {
    this.#id = id;
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#index = shared.index;
    this.#feedback = shared.feedback;
    this.#onEvent = shared.onEvent;
    this.#idleMs = shared.idleMs;
    this.#maxEntries = shared.maxEntries;
    this.#remote = conn.remoteAddr as Deno.NetAddr;
    this.#name = formatAddress(this.#remote.hostname, this.#remote.port);
  }

  async run(): Promise<void> {
    this.#onEvent({ type: "joined", peer: this.#name });
    using watchdog = new Watchdog(this.#idleMs, () => closeQuietly(this.#conn));
    this.#watchdog = watchdog;
    try {
      while (true) {
        const more = await this.#handleOne();
        // Replies to pipelined requests go out together, once no whole line is left to answer.
        if (!more || !this.#reader.hasLine()) await this.#flush();
        if (!more) break;
      }
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    } finally {
      const record = this.#index.peer(this.#id);
      this.#index.remove(this.#id);
      if (!this.#feedback.empty) this.#feedback.forget(this.#id);
      const left = { type: "left" as const, peer: record?.address ?? this.#name, files: record?.files ?? 0 };
      this.#onEvent(watchdog.expired ? { ...left, reason: `no request for ${this.#idleMs / 1000} s` } : left);
    }
  }

  /** Reads and answers one command; false when the session is over. */
  async #handleOne(): Promise<boolean> {
    try {
      const line = await this.#reader.readLine();
      this.#watchdog?.touch(); // a whole line keeps the session alive (inline: this is the hot path)
      if (line === null) return false;
      const { verb, rest } = splitCommand(line);
      switch (verb) {
        case "":
          return true;
        case "UPDATE":
          return await this.#update(rest);
        case "SEND":
          await this.#reply(formatSendReply(this.#lookup(rest)));
          return true;
        case "REPORT":
          await this.#reply(this.#report(rest));
          return true;
        case "PEERS":
          await this.#reply(this.#peers());
          return true;
        case "LIST":
          await this.#reply(this.#list(rest));
          return true;
        case "PING":
          await this.#reply(formatReplyLine(Status.OK, "PONG") + "\n");
          return true;
        case "HELP":
          await this.#reply(formatReply(HELP.map((text) => ({ status: Status.HELP, text }))));
          return true;
        case "QUIT":
          await this.#reply(formatReplyLine(Status.BYE, "bye") + "\n");
          return false;
        default:
          throw new ProtocolError(
            Status.BAD_REQUEST,
            `unknown command ${JSON.stringify(verb.slice(0, 32))}; try HELP`,
          );
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#onEvent({ type: "bad-request", peer: this.#name, status: error.status, message: error.message });
      await this.#reply(formatReplyLine(error.status, error.message) + "\n");
      return !(error instanceof FatalRequest);
    }
  }

  /** `UPDATE <port> <count>` and its entry lines: replaces this peer's files. */
  async #update(rest: string): Promise<boolean> {
    let header;
    try {
      header = parseUpdateHeader(rest);
    } catch (error) {
      // Entry lines may follow that could not be told from commands: close.
      if (error instanceof ProtocolError) throw new FatalRequest(error.status, `${error.message}; closing`);
      throw error;
    }
    await this.#flush(); // a client may wait for earlier replies before it sends the entries
    const files = new Map<string, FileEntry>();
    let problem: string | undefined;
    for (let i = 1; i <= header.count; i++) {
      let line: string | null;
      try {
        line = await this.#reader.readLine();
        this.#watchdog?.touch();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        problem ??= `entry ${i}: ${error.message}`;
        continue;
      }
      if (line === null) return false;
      try {
        const entry = parseEntryLine(line);
        files.set(entry.name, entry);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        problem ??= `entry ${i}: ${error.message}`;
      }
    }
    if (problem) throw new ProtocolError(Status.BAD_REQUEST, `${problem}; nothing changed`);
    const others = this.#index.stats().entries - (this.#index.peer(this.#id)?.files ?? 0);
    if (others + files.size > this.#maxEntries) {
      throw new ProtocolError(
        Status.TOO_LARGE,
        `the index is full (${this.#maxEntries} entries in all); nothing changed`,
      );
    }
    const address = formatAddress(this.#remote.hostname, header.port);
    this.#index.announce(this.#id, address, [...files.values()]);
    this.#onEvent({ type: "announced", peer: address, files: files.size });
    await this.#reply(formatReplyLine(Status.OK, `indexed ${files.size} files as ${address}`) + "\n");
    return true;
  }

  #lookup(rest: string): Lookup[] {
    return parseSendNames(rest).map((n): Lookup => {
      if (!n.ok) return { name: n.raw, status: n.error.status, holders: [], message: n.error.message };
      const max = Limits.MAX_HOLDERS_PER_FILE;
      const holders = this.#feedback.empty ? this.#index.holders(n.name, max) : this.#index.holders(n.name, max, {
        // Demoted holders are left out: look further, so that a full reply stays full.
        scan: 4 * max,
        rank: (peers) => this.#feedback.rank(peers, max),
      });
      if (holders.length === 0) return { name: n.name, status: Status.NOT_FOUND, holders: [], message: "not found" };
      return { name: n.name, status: Status.OK, holders };
    });
  }

  /** `REPORT <address> <OK|code> <bytes> <name>`: a downloader's verdict on one holder of one file. */
  #report(rest: string): string {
    const report = parseReport(rest);
    const held = this.#index.holderOf(report.name, report.address);
    if (held === undefined) {
      throw new ProtocolError(Status.NOT_FOUND, `${report.address} does not hold ${encodeName(report.name)}`);
    }
    if (held.peer === this.#id) throw new ProtocolError(Status.FORBIDDEN, "a peer cannot report on itself");
    // No holder serves more verified bytes of a file to one session than the file has.
    const bytes = Math.min(report.bytes, held.size);
    const score = this.#feedback.report(this.#id, held.peer, report.outcome, bytes);
    this.#onEvent({
      type: "reported",
      peer: this.#name,
      holder: report.address,
      name: report.name,
      outcome: report.outcome,
      demoted: score.demoted,
    });
    const verdict = score.demoted ? "; no longer offered" : "";
    return formatReplyLine(
      Status.OK,
      `noted: ${report.address} ${score.succeeded} ok, ${score.failed} failed, ${score.served} bytes served${verdict}`,
    ) + "\n";
  }

  #peers(): string {
    const peers = this.#index.peers();
    const shown = peers.slice(0, Limits.MAX_LIST_RESULTS);
    const more = peers.length > shown.length ? ` (first ${shown.length} shown)` : "";
    return formatReply([
      ...shown.map((p) => ({ status: Status.OK, text: `PEER ${p.address} ${p.files}` })),
      { status: Status.OK, text: `END ${peers.length} peers${more}` },
    ]);
  }

  #list(text: string): string {
    const { files, truncated } = this.#index.list(text, Limits.MAX_LIST_RESULTS);
    return formatReply([
      ...files.map((f) => ({
        status: Status.OK,
        text: `FILE ${f.size} ${f.sha256} ${f.holders} ${encodeName(f.name)}`,
      })),
      {
        status: Status.OK,
        text: `END ${files.length} files${truncated ? ` (more matched; first ${Limits.MAX_LIST_RESULTS} shown)` : ""}`,
      },
    ]);
  }

  /** Queues a reply; it is sent at the next {@link Session.#flush}, or at once past 64 KiB. */
  async #reply(text: string): Promise<void> {
    this.#out.push(text);
    this.#outLength += text.length;
    if (this.#outLength > 65_536) await this.#flush();
  }

  async #flush(): Promise<void> {
    if (this.#out.length === 0) return;
    const text = this.#out.length === 1 ? this.#out[0] : this.#out.join("");
    this.#out = [];
    this.#outLength = 0;
    await writeText(this.#conn, text);
  }
}

/** A bad request after which the session cannot go on. */
class FatalRequest extends ProtocolError {}
