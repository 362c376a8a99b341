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
  type Holder,
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
import { writeAll, writeText } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";
import type { Counters } from "./counters.ts";
import type { PeerRecord } from "./file_index.ts";
import type { Maybe, StoreEvent, TrackerStore } from "./store.ts";
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
  | { type: "stats"; stats: TrackerStats }
  | StoreEvent;

/** What every session of one tracker shares. */
export interface TrackerState {
  /** Who holds which file, and what downloaders reported about holders. */
  store: TrackerStore;
  /** Who waits for which name, on this tracker. */
  waits: WaitingList;
  /** Requests, reports, sessions. */
  counters: Counters;
  /** Told of what the sessions do. */
  onEvent: (event: TrackerEvent) => void;
  /** Told of unexpected errors (a shared store that failed where no reply could say so). */
  onError: (error: unknown) => void;
  /** A session that completes no line for this long is closed. */
  idleMs: number;
  /** Whose time the idle watchdog counts in. */
  clock: Clock;
}

/** What `STATS` says now: this tracker's counters and sessions, the store's counts. */
export async function readStats(state: TrackerState): Promise<TrackerStats> {
  return state.counters.read(state.waits.size, await state.store.counts());
}

/** A `SEND` line's answer for `name`, from its holders. */
function lookupOf(name: string, holders: Holder[]): Lookup {
  return holders.length === 0 ? notFound(name) : { name, status: Status.OK, holders };
}

/** One connected peer. */
export class Session implements Waiter {
  /** The session's number on this tracker. */
  #number: number;
  #conn: Link;
  #reader: BufferedReader;
  #state: TrackerState;
  #watchdog: Watchdog | undefined;
  #remote: Deno.NetAddr;
  #name: string;
  #out: string[] = [];
  #outLength = 0;
  /** The write in flight, if any: replies and pushes go out one after the other. */
  #writing: Promise<void> | undefined;

  /** A session on `conn`, whose id (unique while the tracker runs) is `id`. */
  constructor(conn: Link, options: { id: number; state: TrackerState }) {
    this.#number = options.id;
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#state = options.state;
    this.#remote = conn.remoteAddr as Deno.NetAddr;
    this.#name = formatAddress(this.#remote.hostname, this.#remote.port);
  }

  /** Answers commands until the connection ends, then takes the session's files out of the index. */
  async run(): Promise<void> {
    const { waits, counters, onEvent, idleMs, clock } = this.#state;
    onEvent({ type: "joined", peer: this.#name });
    counters.sessions++;
    using watchdog = new Watchdog(idleMs, () => closeQuietly(this.#conn), { clock });
    this.#watchdog = watchdog;
    try {
      while (true) {
        // A line already buffered is answered without waiting, and most commands (a SEND answered by the memory
        // store) at once: the hot path has no await but the read and the write.
        let more: boolean | Promise<boolean>;
        try {
          const line = this.#reader.takeLine();
          more = this.#answer(line === undefined ? await this.#reader.readLine() : line);
        } catch (error) {
          more = this.#refuse(error); // a line too long, or not UTF-8
        }
        if (typeof more !== "boolean") more = await more;
        // Replies to pipelined requests go out together, once no whole line is left to answer (or past 64 KiB).
        if (!more || this.#outLength > 65_536 || !this.#reader.hasLine()) await this.#flush();
        if (!more) break;
      }
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    } finally {
      counters.sessions--;
      waits.forget(this);
      const record = await this.#leave();
      const left: TrackerEvent = { type: "left", peer: record?.address ?? this.#name, files: record?.files ?? 0 };
      if (record?.partial) left.partial = record.partial;
      onEvent(watchdog.expired ? { ...left, reason: `no request for ${idleMs / 1000} s` } : left);
    }
  }

  /** Answers one line (`null`: the connection ended); false when the session is over. */
  #answer(line: string | null): boolean | Promise<boolean> {
    this.#watchdog?.touch(); // a whole line keeps the session alive (inline: this is the hot path)
    if (line === null) return false;
    try {
      const { verb, rest } = splitCommand(line);
      if (verb === "") return true;
      this.#state.counters.requests++;
      if (verb !== "SEND") return this.#command(verb, rest);
      const lookups = this.#lookup(rest);
      // The memory store answers at once: no turn of the event loop on the hot path.
      if (lookups instanceof Promise) {
        return lookups.then((found) => this.#reply(formatSendReply(found)), (error) => this.#refuse(error));
      }
      this.#reply(formatSendReply(lookups));
      return true;
    } catch (error) {
      return this.#refuse(error);
    }
  }

  /** Answers a command other than `SEND`. */
  async #command(verb: string, rest: string): Promise<boolean> {
    try {
      switch (verb) {
        case "UPDATE":
        case "ADD":
        case "PARTIAL":
          return await this.#update(verb, rest);
        case "REMOVE":
          return await this.#remove(rest);
        case "WAIT":
          this.#reply(await this.#wait(rest));
          return true;
        case "STATS":
          this.#reply(formatStatsReply(await readStats(this.#state)));
          return true;
        case "REPORT":
          this.#reply(await this.#report(rest));
          return true;
        case "PEERS":
          this.#reply(await this.#peers(rest));
          return true;
        case "LIST":
          this.#reply(await this.#list(rest));
          return true;
        case "PING":
          this.#reply(formatStatusLine(Status.OK, "PONG"));
          return true;
        case "HELP":
          this.#reply(formatReply(TRACKER_COMMANDS.map((text) => ({ status: Status.HELP, text }))));
          return true;
        case "QUIT":
          this.#reply(formatStatusLine(Status.BYE, "bye"));
          return false;
        default:
          throw new ProtocolError(
            Status.BAD_REQUEST,
            `unknown command ${JSON.stringify(verb.slice(0, 32))}; try HELP`,
          );
      }
    } catch (error) {
      return this.#refuse(error);
    }
  }

  /** A bad request is answered with its status (and the session goes on unless it cannot); anything else is rethrown. */
  #refuse(error: unknown): boolean {
    if (!(error instanceof ProtocolError)) throw error;
    this.#state.onEvent({ type: "bad-request", peer: this.#name, status: error.status, message: error.message });
    this.#reply(formatStatusLine(error.status, error.message));
    return !(error instanceof FatalRequestError);
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
    const { store, waits, onEvent } = this.#state;
    let port = 0;
    let httpPort: number | undefined;
    const list = await this.#readBlock(() => {
      const header = parseUpdateHeader(rest, verb);
      port = header.port;
      httpPort = header.httpPort;
      return header.count;
    }, { what: "entry", parse: verb === "PARTIAL" ? parsePartialEntryLine : parseEntryLine });
    if (list === null) return false;
    const peer = { id: this.#id, address: formatAddress(this.#remote.hostname, port), httpPort };
    const { count, fresh, files, partial } = await store.announce(peer, { verb, files: list });
    for (const entry of list) waits.announced(entry.name);
    // An empty PARTIAL is a peer asking whether this tracker knows the command: nothing to tell.
    if (verb !== "PARTIAL" || count > 0) {
      onEvent({
        type: "announced",
        peer: peer.address,
        files,
        ...(verb === "UPDATE" ? {} : { added: count }),
        ...(verb === "PARTIAL" ? { partial } : {}),
      });
    }
    const total = verb === "PARTIAL" ? partial : files;
    this.#reply(formatIndexed({ verb, files: count, address: peer.address, fresh, total }));
    return true;
  }

  /** `REMOVE <count>` and its name lines: those files, whole or partial holdings, leave the index. */
  async #remove(rest: string): Promise<boolean> {
    const { store, onEvent } = this.#state;
    const names = await this.#readBlock(() => parseRemoveHeader(rest), {
      what: "name",
      parse: (line) => decodeName(line.trim()),
    });
    if (names === null) return false;
    // `left` counts whole files, as ADD's "in all" does.
    const { address, removed, left } = await store.remove(this.#id, names);
    onEvent({ type: "announced", peer: address, files: left, removed });
    this.#reply(formatRemoved({ removed, asked: names.length, left }));
    return true;
  }

  /**
   * `WAIT <seconds> <names>`: answers as SEND, and the names nobody holds
   * yet are waited for: `* FOUND <name>` comes the moment a peer announces
   * one, `* EXPIRED <name>` when `seconds` pass first.
   */
  async #wait(rest: string): Promise<string> {
    const { seconds, names } = parseWait(rest);
    const found = this.#lookup(names);
    const shared = found instanceof Promise;
    const lookups = shared ? await found : found;
    const missing = lookups.filter((l) => l.status === Status.NOT_FOUND).map((l) => l.name);
    if (missing.length > 0) {
      this.#state.waits.add(this, { names: missing, seconds });
      // A shared store: an announcement on this tracker told while the lookup was under way was missed.
      // Looking once more, now that the wait is registered, catches it (the waits of other trackers' announcements
      // are told by the store, after the lookup has its answer).
      if (shared) this.#lookAgain(missing);
    }
    return formatSendReply(lookups);
  }

  /** Tells this tracker's waits of any of `names` that someone holds now. */
  #lookAgain(names: string[]): void {
    const { store, waits, onError } = this.#state;
    Promise.all(names.map(async (name) => {
      if ((await store.lookup(name, this.#id)).length > 0) waits.announced(name);
    })).catch(onError);
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

  /** The lookups of a `SEND` or `WAIT`: at once from the memory store, as a promise from a shared one. */
  #lookup(rest: string): Maybe<Lookup[]> {
    const { store } = this.#state;
    let pending = false;
    const answers = parseSendNames(rest).map((n): Maybe<Lookup> => {
      if (!n.ok) return { name: n.raw, status: n.error.status, holders: [], message: n.error.message };
      const holders = store.lookup(n.name, this.#id);
      if (holders instanceof Promise) {
        pending = true;
        return holders.then((found) => lookupOf(n.name, found));
      }
      return lookupOf(n.name, holders);
    });
    return pending ? Promise.all(answers) : answers as Lookup[];
  }

  /** This session's peer id: unique among the trackers sharing the store. */
  get #id(): number {
    return this.#state.store.idBase + this.#number;
  }

  /** Takes this session's files out of the index; its record, if it announced. */
  async #leave(): Promise<PeerRecord | undefined> {
    try {
      return await this.#state.store.leave(this.#id);
    } catch (error) {
      // A shared store that cannot be reached now: the entries' lease runs out instead.
      this.#state.onError(error);
      return undefined;
    }
  }

  /** `REPORT <address> <OK|code> <bytes> <name>`: a downloader's verdict on one holder of one file. */
  async #report(rest: string): Promise<string> {
    const { store, counters, onEvent } = this.#state;
    const report = parseReport(rest);
    const held = await store.holderOf(report.name, report.address);
    if (held === undefined) {
      throw new ProtocolError(Status.NOT_FOUND, `${report.address} does not hold ${encodeName(report.name)}`);
    }
    if (held.peer === this.#id) throw new ProtocolError(Status.FORBIDDEN, "a peer cannot report on itself");
    // No holder serves more verified bytes of a file to one session than the file has.
    const bytes = Math.min(report.bytes, held.size);
    const score = await store.report({ reporter: this.#id, holder: held.peer, outcome: report.outcome, bytes });
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
  async #peers(rest: string): Promise<string> {
    const { page, text } = parsePaging(rest);
    if (text !== "") throw new ProtocolError(Status.BAD_REQUEST, "usage: PEERS [--page N]");
    const peers = await this.#state.store.peers();
    const skip = (page - 1) * Limits.LIST_PAGE;
    return formatPeersReply({ peers: peers.slice(skip, skip + Limits.LIST_PAGE), total: peers.length, page });
  }

  /** `LIST [--page N] [text]`: indexed names containing `text`, sorted, a page at a time. */
  async #list(rest: string): Promise<string> {
    const { page, text } = parsePaging(rest);
    const { files, matched } = await this.#state.store.list(text, {
      max: Limits.LIST_PAGE,
      skip: (page - 1) * Limits.LIST_PAGE,
    });
    return formatListReply({ files, matched, page, text });
  }

  /** Queues a reply; it is sent at the next {@link Session.#flush} (the run loop's, once no whole line is left to answer, or past 64 KiB). */
  #reply(text: string): true {
    this.#out.push(text);
    this.#outLength += text.length;
    return true;
  }

  /** Writes the queued replies and pushes, one write at a time, in order. */
  async #flush(): Promise<void> {
    // A push may flush while a reply is being written (or the other way round): wait for that write.
    while (this.#writing !== undefined) await this.#writing.catch(() => {});
    if (this.#out.length === 0) return;
    const text = this.#out.length === 1 ? this.#out[0] : this.#out.join("");
    this.#out.length = 0;
    this.#outLength = 0;
    const write = writeReply(this.#conn, text);
    this.#writing = write;
    try {
      await write;
    } finally {
      this.#writing = undefined;
    }
  }
}

/** Reply bytes: buffers lent to one write at a time, shared by all sessions (a session between writes holds none). */
const REPLY_BUFFER = 4096;
const idleBuffers: Uint8Array[] = [];
/** Idle buffers kept: about one per session writing at a time. */
const MAX_IDLE_BUFFERS = 256;

/** Writes `text` as UTF-8; a reply of one line or a few is encoded into a lent buffer, not a fresh one. */
async function writeReply(conn: Link, text: string): Promise<void> {
  if (text.length > REPLY_BUFFER) return await writeText(conn, text);
  const buffer = idleBuffers.pop() ?? new Uint8Array(REPLY_BUFFER);
  try {
    // One call into the runtime's encoder, faster than a loop of charCodeAt over a string built by concatenation.
    const { read, written } = encoder.encodeInto(text, buffer);
    // Text in another script that does not fit (up to 3 bytes a character): encoded apart.
    if (read < text.length) return await writeText(conn, text);
    const n = await conn.write(buffer.subarray(0, written));
    if (n < written) await writeAll(conn, buffer.subarray(n, written));
  } finally {
    if (idleBuffers.length < MAX_IDLE_BUFFERS) idleBuffers.push(buffer);
  }
}

const encoder = new TextEncoder();
