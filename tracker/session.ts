/**
 * One tracker session: one connected peer, its commands read one line at a
 * time and answered in order from the shared index (replies to requests
 * that arrived together go out in one write). The session's files leave
 * the index the moment it ends.
 *
 * @module
 */

import {
  type AnnounceVerb,
  decodeName,
  encodeName,
  formatAddress,
  formatIndexed,
  formatListReply,
  formatNoted,
  formatPeersReply,
  formatRemoved,
  formatReply,
  formatSendReply,
  formatStatsReply,
  formatStatusLine,
  Limits,
  type Lookup,
  notFound,
  parseEntryLine,
  parsePaging,
  parsePartialEntryLine,
  parseRemoveHeader,
  parseReport,
  parseSendNames,
  parseUpdateHeader,
  parseWait,
  ProtocolError,
  splitCommand,
  Status,
  TRACKER_COMMANDS,
  type TrackerStats,
} from "../protocol.ts";
import type { Clock } from "../io/clock.ts";
import { FatalRequestError, isDisconnect } from "../io/errors.ts";
import { closeQuietly, type Link } from "../io/link.ts";
import { BufferedReader } from "../io/reader.ts";
import { writeText } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";
import type { Counters } from "./counters.ts";
import type { HolderFeedback } from "./feedback.ts";
import type { TrackerIndex } from "./file_index.ts";
import { partialHolders, rankedHolders } from "./lookup.ts";
import type { Waiter, WaitingList } from "./waits.ts";

/**
 * What the tracker reports. `files` counts a peer's whole files; `partial`,
 * on the `announced` event of a `PARTIAL` (then `added` counts its entries)
 * and on `left` when it had any, its partial holdings.
 */
export type TrackerEvent =
  | { type: "joined"; peer: string }
  | { type: "announced"; peer: string; files: number; added?: number; removed?: number; partial?: number }
  | { type: "left"; peer: string; files: number; partial?: number; reason?: string }
  | { type: "bad-request"; peer: string; status: number; message: string }
  | { type: "reported"; peer: string; holder: string; name: string; outcome: string; demoted: boolean }
  | { type: "stats"; stats: TrackerStats };

/** What every session of one tracker shares. */
export interface TrackerState {
  /** Who holds which file. */
  index: TrackerIndex;
  /** What downloaders reported about holders. */
  feedback: HolderFeedback;
  /** Who waits for which name. */
  waits: WaitingList;
  /** Requests, reports, sessions. */
  counters: Counters;
  /** Told of what the sessions do. */
  onEvent: (event: TrackerEvent) => void;
  /** A session that completes no line for this long is closed. */
  idleMs: number;
  /** Most entries in the whole index. */
  maxEntries: number;
  /** Whose time the idle watchdog counts in. */
  clock: Clock;
}

/** One connected peer. */
export class Session implements Waiter {
  #id: number;
  #conn: Link;
  #reader: BufferedReader;
  #state: TrackerState;
  #watchdog: Watchdog | undefined;
  #remote: Deno.NetAddr;
  #name: string;
  #out: string[] = [];
  #outLength = 0;
  /** The write in flight: replies and pushes go out one after the other. */
  #writing: Promise<void> = Promise.resolve();

  /** A session on `conn`, whose id (unique while the tracker runs) is `id`. */
  constructor(conn: Link, options: { id: number; state: TrackerState }) {
    this.#id = options.id;
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#state = options.state;
    this.#remote = conn.remoteAddr as Deno.NetAddr;
    this.#name = formatAddress(this.#remote.hostname, this.#remote.port);
  }

  /** Answers commands until the connection ends, then takes the session's files out of the index. */
  async run(): Promise<void> {
    const { index, feedback, waits, counters, onEvent, idleMs, clock } = this.#state;
    onEvent({ type: "joined", peer: this.#name });
    counters.sessions++;
    using watchdog = new Watchdog(idleMs, () => closeQuietly(this.#conn), { clock });
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
      counters.sessions--;
      waits.forget(this);
      const record = index.peer(this.#id);
      index.remove(this.#id);
      if (!feedback.empty) feedback.forget(this.#id);
      const left: TrackerEvent = { type: "left", peer: record?.address ?? this.#name, files: record?.files ?? 0 };
      if (record?.partial) left.partial = record.partial;
      onEvent(watchdog.expired ? { ...left, reason: `no request for ${idleMs / 1000} s` } : left);
    }
  }

  /** Reads and answers one command; false when the session is over. */
  async #handleOne(): Promise<boolean> {
    try {
      const line = await this.#reader.readLine();
      this.#watchdog?.touch(); // a whole line keeps the session alive (inline: this is the hot path)
      if (line === null) return false;
      const { verb, rest } = splitCommand(line);
      if (verb !== "") this.#state.counters.requests++;
      switch (verb) {
        case "":
          return true;
        case "UPDATE":
        case "ADD":
        case "PARTIAL":
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
          await this.#reply(formatStatsReply(this.#state.counters.read(this.#state.waits.size)));
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
          await this.#reply(formatStatusLine(Status.OK, "PONG"));
          return true;
        case "HELP":
          await this.#reply(formatReply(TRACKER_COMMANDS.map((text) => ({ status: Status.HELP, text }))));
          return true;
        case "QUIT":
          await this.#reply(formatStatusLine(Status.BYE, "bye"));
          return false;
        default:
          throw new ProtocolError(
            Status.BAD_REQUEST,
            `unknown command ${JSON.stringify(verb.slice(0, 32))}; try HELP`,
          );
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#state.onEvent({ type: "bad-request", peer: this.#name, status: error.status, message: error.message });
      await this.#reply(formatStatusLine(error.status, error.message));
      return !(error instanceof FatalRequestError);
    }
  }

  /**
   * `UPDATE <port> <count>` and its entry lines: replaces everything this
   * peer announced; `ADD`: adds whole files to (or changes them among) what
   * it holds; `PARTIAL`: adds partial holdings (files over one chunk, with
   * their roots, that it is still downloading), at most
   * `Limits.MAX_PARTIAL_PER_PEER` in all. A name it announced already, whole
   * or partially, takes the new entry's kind.
   */
  async #update(verb: AnnounceVerb, rest: string): Promise<boolean> {
    const { index, waits, onEvent, maxEntries } = this.#state;
    let port = 0;
    let httpPort: number | undefined;
    const read = await this.#readBlock(() => {
      const header = parseUpdateHeader(rest, verb);
      port = header.port;
      httpPort = header.httpPort;
      return header.count;
    }, { what: "entry", parse: verb === "PARTIAL" ? parsePartialEntryLine : parseEntryLine });
    if (read === null) return false;
    const list = [...new Map(read.map((entry) => [entry.name, entry])).values()];
    const names = list.map((e) => e.name);
    const record = index.peer(this.#id);
    if (verb === "PARTIAL") {
      // Checked first; more names than the limit are refused without a walk through the index.
      const partialAfter = list.length > Limits.MAX_PARTIAL_PER_PEER
        ? list.length
        : (record?.partial ?? 0) + list.length - index.countPartial(this.#id, names);
      if (partialAfter > Limits.MAX_PARTIAL_PER_PEER) {
        throw new ProtocolError(
          Status.TOO_LARGE,
          `a peer may announce at most ${Limits.MAX_PARTIAL_PER_PEER} partial holdings; nothing changed`,
        );
      }
    }
    const entries = index.stats().entries;
    const mine = (record?.files ?? 0) + (record?.partial ?? 0);
    // ADD and PARTIAL: only names this peer does not hold yet, whole or partially, are new entries.
    const fresh = verb === "UPDATE" ? list.length : index.countNew(this.#id, names);
    const after = verb === "UPDATE" ? entries - mine + fresh : entries + fresh;
    if (after > maxEntries || verb !== "UPDATE" && mine + fresh > Limits.MAX_UPDATE_ENTRIES) {
      const limit = after > maxEntries
        ? `the index is full (${maxEntries} entries in all)`
        : `a peer may announce at most ${Limits.MAX_UPDATE_ENTRIES} files`;
      throw new ProtocolError(Status.TOO_LARGE, `${limit}; nothing changed`);
    }
    const peer = { id: this.#id, address: formatAddress(this.#remote.hostname, port), httpPort };
    if (verb === "UPDATE") index.announce(peer, list);
    else if (verb === "ADD") index.add(peer, list);
    else index.addPartial(peer, list);
    for (const entry of list) waits.announced(entry.name);
    const now = index.peer(this.#id)!;
    const partial = now.partial ?? 0;
    // An empty PARTIAL is a peer asking whether this tracker knows the command: nothing to tell.
    if (verb !== "PARTIAL" || list.length > 0) {
      onEvent({
        type: "announced",
        peer: peer.address,
        files: now.files,
        ...(verb === "UPDATE" ? {} : { added: list.length }),
        ...(verb === "PARTIAL" ? { partial } : {}),
      });
    }
    const total = verb === "PARTIAL" ? partial : now.files;
    await this.#reply(formatIndexed({ verb, files: list.length, address: peer.address, fresh, total }));
    return true;
  }

  /** `REMOVE <count>` and its name lines: those files, whole or partial holdings, leave the index. */
  async #remove(rest: string): Promise<boolean> {
    const { index, onEvent } = this.#state;
    const names = await this.#readBlock(() => parseRemoveHeader(rest), {
      what: "name",
      parse: (line) => decodeName(line.trim()),
    });
    if (names === null) return false;
    const record = index.peer(this.#id);
    if (!record) throw new ProtocolError(Status.BAD_REQUEST, "nothing announced yet: UPDATE or ADD first");
    const removed = index.drop(this.#id, names);
    const left = index.peer(this.#id)!.files; // whole files, as ADD's "in all" counts them
    onEvent({ type: "announced", peer: record.address, files: left, removed });
    await this.#reply(formatRemoved({ removed, asked: names.length, left }));
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
    if (missing.length > 0) this.#state.waits.add(this, { names: missing, seconds });
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
  async #readBlock<T>(
    header: () => number,
    lines: { what: string; parse: (line: string) => T },
  ): Promise<T[] | null> {
    let count;
    try {
      count = header();
    } catch (error) {
      if (error instanceof ProtocolError) {
        throw new FatalRequestError(error.status, `${error.message}; closing`, { cause: error });
      }
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
        items.push(lines.parse(line));
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        problem ??= `${lines.what} ${i}: ${error.message}`;
      }
    }
    if (problem) throw new ProtocolError(Status.BAD_REQUEST, `${problem}; nothing changed`);
    return items;
  }

  #lookup(rest: string): Lookup[] {
    return parseSendNames(rest).map((n): Lookup => {
      if (!n.ok) return { name: n.raw, status: n.error.status, holders: [], message: n.error.message };
      // Whole holders, ranked; then partial holders, apart (PARTIAL lines), but not the asker itself: a
      // downloader looking again for sources would be told of its own download.
      const max = Limits.MAX_PARTIAL_HOLDERS_PER_FILE;
      const partial = partialHolders(n.name, { ...this.#state, max: max + 1 }).filter((h) => h.peer !== this.#id)
        .slice(0, max);
      const holders = [...rankedHolders(n.name, this.#state), ...partial];
      if (holders.length === 0) return notFound(n.name);
      return { name: n.name, status: Status.OK, holders };
    });
  }

  /** `REPORT <address> <OK|code> <bytes> <name>`: a downloader's verdict on one holder of one file. */
  #report(rest: string): string {
    const { index, feedback, counters, onEvent } = this.#state;
    const report = parseReport(rest);
    const held = index.holderOf(report.name, report.address);
    if (held === undefined) {
      throw new ProtocolError(Status.NOT_FOUND, `${report.address} does not hold ${encodeName(report.name)}`);
    }
    if (held.peer === this.#id) throw new ProtocolError(Status.FORBIDDEN, "a peer cannot report on itself");
    // No holder serves more verified bytes of a file to one session than the file has.
    const bytes = Math.min(report.bytes, held.size);
    const score = feedback.report({ reporter: this.#id, holder: held.peer, outcome: report.outcome, bytes });
    counters.reports++;
    if (report.outcome === "OK") counters.reportedBytes += bytes;
    onEvent({
      type: "reported",
      peer: this.#name,
      holder: report.address,
      name: report.name,
      outcome: report.outcome,
      demoted: score.demoted,
    });
    return formatNoted(report.address, score);
  }

  /** `PEERS [--page N]`: the peers that announced, a page at a time. */
  #peers(rest: string): string {
    const { page, text } = parsePaging(rest);
    if (text !== "") throw new ProtocolError(Status.BAD_REQUEST, "usage: PEERS [--page N]");
    const peers = this.#state.index.peers();
    const skip = (page - 1) * Limits.LIST_PAGE;
    return formatPeersReply({ peers: peers.slice(skip, skip + Limits.LIST_PAGE), total: peers.length, page });
  }

  /** `LIST [--page N] [text]`: indexed names containing `text`, sorted, a page at a time. */
  #list(rest: string): string {
    const { page, text } = parsePaging(rest);
    const { files, matched } = this.#state.index.list(text, {
      max: Limits.LIST_PAGE,
      skip: (page - 1) * Limits.LIST_PAGE,
    });
    return formatListReply({ files, matched, page, text });
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
