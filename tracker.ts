/**
 * The tracker: accepts peers, one session per connection, and answers
 * UPDATE, ADD, REMOVE, SEND, WAIT, REPORT, PEERS, LIST, STATS, PING, HELP
 * and QUIT from its {@link TrackerIndex}. A peer's files leave the index the
 * moment its connection closes.
 *
 * @module
 */

import { HolderFeedback } from "./tracker/feedback.ts";
import type { Link } from "./io/secret.ts";
import { TrackerIndex } from "./tracker/file_index.ts";
import {
  decodeName,
  encodeName,
  formatAddress,
  formatReply,
  formatReplyLine,
  formatSendReply,
  formatStats,
  Limits,
  type Lookup,
  parseEntryLine,
  parsePaging,
  parseRemoveHeader,
  parseReport,
  parseSendNames,
  parseUpdateHeader,
  parseWait,
  ProtocolError,
  splitCommand,
  Status,
  type TrackerStats,
} from "./protocol.ts";
import { BufferedReader } from "./io/reader.ts";
import { type ListenOptions, TcpServer } from "./io/server.ts";
import { closeQuietly, isDisconnect, Watchdog, writeText } from "./io/streams.ts";
import { type Waiter, WaitingList } from "./tracker/waits.ts";

/** What the tracker reports. */
export type TrackerEvent =
  | { type: "joined"; peer: string }
  | { type: "announced"; peer: string; files: number; added?: number; removed?: number }
  | { type: "left"; peer: string; files: number; reason?: string }
  | { type: "bad-request"; peer: string; status: number; message: string }
  | { type: "reported"; peer: string; holder: string; name: string; outcome: string; demoted: boolean }
  | { type: "stats"; stats: TrackerStats };

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
  /** Tell a `stats` event this often (the periodic log line); 0 or absent: never. */
  statsIntervalMs?: number;
}

/** A running tracker. */
export interface Tracker extends AsyncDisposable {
  /** The bound address. */
  addr: Deno.NetAddr;
  /** The index it answers from. */
  index: TrackerIndex;
  /** What downloaders reported about holders. */
  feedback: HolderFeedback;
  /** Its counters now, as `STATS` gives them. */
  stats(): TrackerStats;
  /** Stops accepting, closes every session. */
  close(): Promise<void>;
}

const HELP = [
  "commands, one per line:",
  "UPDATE <port> <count>, then <count> lines <size> <sha256> <name>",
  "ADD <port> <count>, then <count> lines <size> <sha256> <name>",
  "REMOVE <count>, then <count> lines <name>",
  "SEND <name>[, <name>...]",
  "WAIT <seconds> <name>[, <name>...]",
  "REPORT <host:port> <OK|code> <bytes> <name>",
  "PEERS [--page N]",
  "LIST [--page N] [text]",
  "STATS",
  "PING",
  "HELP",
  "QUIT",
];

/** Starts a tracker. */
export function startTracker(options: TrackerOptions): Tracker {
  const index = new TrackerIndex();
  const feedback = new HolderFeedback(options.demoteAfter);
  const onEvent = options.onEvent ?? (() => {});
  const counters = new Counters(index);
  let nextId = 1;
  const shared: Shared = {
    index,
    feedback,
    onEvent,
    idleMs: options.idleTimeoutMs ?? 120_000,
    maxEntries: options.maxEntries ?? Limits.MAX_INDEX_ENTRIES,
    waits: new WaitingList(),
    counters,
  };
  const server = new TcpServer(
    options,
    (conn) => new Session(nextId++, conn, shared).run(),
    options.onError ?? (() => {}),
  );
  const log = options.statsIntervalMs
    ? setInterval(() => onEvent({ type: "stats", stats: counters.read(shared.waits.size) }), options.statsIntervalMs)
    : undefined;
  const close = async () => {
    clearInterval(log);
    counters.stop();
    await server.close();
    shared.waits.clear();
  };
  return {
    addr: server.addr,
    index,
    feedback,
    stats: () => counters.read(shared.waits.size),
    close,
    [Symbol.asyncDispose]: close,
  };
}

/** How much the tracker did: requests, reports, sessions; requests per second over the last minute. */
class Counters {
  requests = 0;
  reports = 0;
  reportedBytes = 0;
  sessions = 0;
  #index: TrackerIndex;
  #started = performance.now();
  /** [time, requests] every 5 s, the last minute's worth. */
  #samples: [number, number][] = [[performance.now(), 0]];
  #sampler: ReturnType<typeof setInterval>;

  constructor(index: TrackerIndex) {
    this.#index = index;
    this.#sampler = setInterval(() => {
      this.#samples.push([performance.now(), this.requests]);
      if (this.#samples.length > 13) this.#samples.shift();
    }, 5_000);
    Deno.unrefTimer(this.#sampler);
  }

  read(waiting: number): TrackerStats {
    const now = performance.now();
    const [since, before] = this.#samples[0];
    const seconds = (now - since) / 1000;
    const { peers, names, entries } = this.#index.stats();
    return {
      sessions: this.sessions,
      peers,
      files: names,
      holders: entries,
      requests: this.requests,
      rps: seconds > 0 ? Math.round((this.requests - before) / seconds * 10) / 10 : 0,
      reports: this.reports,
      reportedBytes: this.reportedBytes,
      waiting,
      uptime: Math.floor((now - this.#started) / 1000),
    };
  }

  stop(): void {
    clearInterval(this.#sampler);
  }
}

/** What every session shares. */
interface Shared {
  index: TrackerIndex;
  feedback: HolderFeedback;
  onEvent: (event: TrackerEvent) => void;
  idleMs: number;
  maxEntries: number;
  waits: WaitingList;
  counters: Counters;
}

/** One connected peer. */
class Session implements Waiter {
  #id: number;
  #conn: Link;
  #reader: BufferedReader;
  #index: TrackerIndex;
  #feedback: HolderFeedback;
  #onEvent: (event: TrackerEvent) => void;
  #idleMs: number;
  #maxEntries: number;
  #waits: WaitingList;
  #counters: Counters;
  #watchdog: Watchdog | undefined;
  #remote: Deno.NetAddr;
  #name: string;
  #out: string[] = [];
  #outLength = 0;
  /** The write in flight: replies and pushes go out one after the other. */
  #writing: Promise<void> = Promise.resolve();

  constructor(id: number, conn: Link, shared: Shared) {
    this.#id = id;
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#index = shared.index;
    this.#feedback = shared.feedback;
    this.#onEvent = shared.onEvent;
    this.#idleMs = shared.idleMs;
    this.#maxEntries = shared.maxEntries;
    this.#waits = shared.waits;
    this.#counters = shared.counters;
    this.#remote = conn.remoteAddr as Deno.NetAddr;
    this.#name = formatAddress(this.#remote.hostname, this.#remote.port);
  }

  async run(): Promise<void> {
    this.#onEvent({ type: "joined", peer: this.#name });
    this.#counters.sessions++;
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
      this.#counters.sessions--;
      this.#waits.forget(this);
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
      if (verb !== "") this.#counters.requests++;
      switch (verb) {
        case "":
          return true;
        case "UPDATE":
        case "ADD":
          return await this.#update(verb, rest);
        case "REMOVE":
          return await this.#remove(rest);
        case "SEND":
          await this.#reply(formatSendReply(this.#lookup(rest)));
          return true;
        case "WAIT":
          await this.#reply(this.#wait(rest));
          return true;
        case "STATS":
          await this.#reply(
            formatReplyLine(Status.OK, `STATS ${formatStats(this.#counters.read(this.#waits.size))}`) + "\n",
          );
          return true;
        case "REPORT":
          await this.#reply(this.#report(rest));
          return true;
        case "PEERS":
          await this.#reply(this.#peers(rest));
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

  /**
   * `UPDATE <port> <count>` and its entry lines: replaces this peer's files;
   * `ADD`: adds them to (or changes them among) what it holds.
   */
  async #update(verb: "UPDATE" | "ADD", rest: string): Promise<boolean> {
    let port = 0;
    const read = await this.#readBlock(
      () => {
        const header = parseUpdateHeader(rest, verb);
        port = header.port;
        return header.count;
      },
      "entry",
      parseEntryLine,
    );
    if (read === null) return false;
    const files = new Map(read.map((entry) => [entry.name, entry]));
    const entries = this.#index.stats().entries;
    const mine = this.#index.peer(this.#id)?.files ?? 0;
    const list = [...files.values()];
    // ADD: only names this peer does not hold yet are new entries.
    const fresh = verb === "UPDATE" ? list.length : this.#index.countNew(this.#id, list.map((e) => e.name));
    const after = verb === "UPDATE" ? entries - mine + fresh : entries + fresh;
    if (after > this.#maxEntries || verb === "ADD" && mine + fresh > Limits.MAX_UPDATE_ENTRIES) {
      const limit = after > this.#maxEntries
        ? `the index is full (${this.#maxEntries} entries in all)`
        : `a peer may announce at most ${Limits.MAX_UPDATE_ENTRIES} files`;
      throw new ProtocolError(Status.TOO_LARGE, `${limit}; nothing changed`);
    }
    const address = formatAddress(this.#remote.hostname, port);
    if (verb === "UPDATE") this.#index.announce(this.#id, address, list);
    else this.#index.add(this.#id, address, list);
    for (const entry of list) this.#waits.announced(entry.name);
    const total = this.#index.peer(this.#id)?.files ?? 0;
    this.#onEvent({
      type: "announced",
      peer: address,
      files: total,
      ...(verb === "ADD" ? { added: list.length } : {}),
    });
    const text = verb === "UPDATE"
      ? `indexed ${list.length} files as ${address}`
      : `indexed ${list.length} files as ${address} (${fresh} new, ${total} in all)`;
    await this.#reply(formatReplyLine(Status.OK, text) + "\n");
    return true;
  }

  /** `REMOVE <count>` and its name lines: those files leave the index. */
  async #remove(rest: string): Promise<boolean> {
    const names = await this.#readBlock(() => parseRemoveHeader(rest), "name", (line) => decodeName(line.trim()));
    if (names === null) return false;
    const record = this.#index.peer(this.#id);
    if (!record) throw new ProtocolError(Status.BAD_REQUEST, "nothing announced yet: UPDATE or ADD first");
    const removed = this.#index.drop(this.#id, names);
    const total = record.files - removed;
    this.#onEvent({ type: "announced", peer: record.address, files: total, removed });
    await this.#reply(formatReplyLine(Status.OK, `removed ${removed} of ${names.length} files (${total} left)`) + "\n");
    return true;
  }

  /**
   * `WAIT <seconds> <names>`: answers as SEND, and the names nobody holds
   * yet are waited for: `* FOUND <name>` comes the moment a peer announces
   * one, `* EXPIRED <name>` when `seconds` pass first.
   */
  #wait(rest: string): string {
    const { seconds, names } = parseWait(rest);
    const lookups = this.#lookup(names);
    const missing = lookups.filter((l) => l.status === Status.NOT_FOUND).map((l) => l.name);
    this.#waits.add(this, missing, seconds);
    return formatSendReply(lookups);
  }

  /** Sends a push line between replies (a file this session waits for was announced, or the wait ran out). */
  push(text: string): void {
    this.#out.push(text);
    this.#outLength += text.length;
    this.#flush().catch(() => closeQuietly(this.#conn));
  }

  /**
   * The `<count>` lines that follow a block header (`UPDATE`, `ADD`,
   * `REMOVE`). A bad header closes the session: the lines after it could not
   * be told from commands. Every line is read, and the first bad one fails
   * the whole block (`400 …; nothing changed`). `null` when the connection
   * ends first.
   */
  async #readBlock<T>(header: () => number, what: string, parse: (line: string) => T): Promise<T[] | null> {
    let count;
    try {
      count = header();
    } catch (error) {
      if (error instanceof ProtocolError) throw new FatalRequest(error.status, `${error.message}; closing`);
      throw error;
    }
    await this.#flush(); // a client may wait for earlier replies before it sends the lines
    const items: T[] = [];
    let problem: string | undefined;
    for (let i = 1; i <= count; i++) {
      try {
        const line = await this.#reader.readLine();
        this.#watchdog?.touch();
        if (line === null) return null;
        items.push(parse(line));
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        problem ??= `${what} ${i}: ${error.message}`;
      }
    }
    if (problem) throw new ProtocolError(Status.BAD_REQUEST, `${problem}; nothing changed`);
    return items;
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
    this.#counters.reports++;
    if (report.outcome === "OK") this.#counters.reportedBytes += bytes;
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

  /** `PEERS [--page N]`: the peers that announced, a page at a time. */
  #peers(rest: string): string {
    const { page, text } = parsePaging(rest);
    if (text !== "") throw new ProtocolError(Status.BAD_REQUEST, "usage: PEERS [--page N]");
    const peers = this.#index.peers();
    const skip = (page - 1) * Limits.LIST_PAGE;
    const shown = peers.slice(skip, skip + Limits.LIST_PAGE);
    const more = pageNote(page, skip + shown.length < peers.length, "PEERS");
    return formatReply([
      ...shown.map((p) => ({ status: Status.OK, text: `PEER ${p.address} ${p.files}` })),
      { status: Status.OK, text: `END ${peers.length} peers${more}` },
    ]);
  }

  /** `LIST [--page N] [text]`: indexed names containing `text`, sorted, a page at a time. */
  #list(rest: string): string {
    const { page, text } = parsePaging(rest);
    const { files, truncated, matched } = this.#index.list(text, Limits.LIST_PAGE, (page - 1) * Limits.LIST_PAGE);
    return formatReply([
      ...files.map((f) => ({
        status: Status.OK,
        text: `FILE ${f.size} ${f.sha256} ${f.holders} ${encodeName(f.name)}`,
      })),
      { status: Status.OK, text: `END ${matched} files${pageNote(page, truncated, `LIST${text ? " " + text : ""}`)}` },
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
    // A push may flush while a reply is being written: one write at a time.
    const write = this.#writing.then(() => writeText(this.#conn, text));
    this.#writing = write.catch(() => {});
    await write;
  }
}

/** `` (one page), ` (page 2 of more; next: LIST --page 3 text)` and the like. */
function pageNote(page: number, more: boolean, command: string): string {
  if (page === 1 && !more) return "";
  const [verb, ...rest] = command.split(" ");
  const next = more ? `; next: ${[verb, "--page", page + 1, ...rest].join(" ")}` : "; the last";
  return ` (page ${page}, ${Limits.LIST_PAGE} per page${next})`;
}

/** A bad request after which the session cannot go on. */
class FatalRequest extends ProtocolError {}
