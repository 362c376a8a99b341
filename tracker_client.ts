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
  type Lookup,
  parseAddress,
  parseReplyLine,
  parseSendReply,
  ProtocolError,
  type ReplyLine,
  Status,
} from "./protocol.ts";
import { BufferedReader } from "./reader.ts";
import { closeQuietly, errorMessage, isDisconnect, Watchdog, writeText } from "./transfer.ts";

/** Most lines one reply may have before the client gives up on it. */
export const MAX_REPLY_LINES = 100_000;

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

/** One persistent connection to a tracker. */
export class TrackerClient implements AsyncDisposable {
  #conn: Deno.Conn;
  #reader: BufferedReader;
  #timeoutMs: number;
  #queue: Promise<unknown> = Promise.resolve();
  #busy = false;
  #closed = false;

  private constructor(conn: Deno.Conn, timeoutMs: number) {
    this.#conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#timeoutMs = timeoutMs;
  }

  /**
   * Connects to `address` (`HOST:PORT`). Connecting, and each request, may
   * take at most `timeoutMs` (default 10 s); a request that takes longer
   * closes the connection.
   */
  static async connect(address: string, timeoutMs = 10_000): Promise<TrackerClient> {
    const { host, port } = parseAddress(address);
    try {
      const conn = await Deno.connect({ hostname: host, port, signal: AbortSignal.timeout(timeoutMs) });
      return new TrackerClient(conn, timeoutMs);
    } catch (error) {
      throw new Error(`cannot reach the tracker at ${address}: ${errorMessage(error)}`);
    }
  }

  /**
   * Sends one command line and reads its whole reply. Requests queue up and
   * run one after the other.
   */
  request(line: string): Promise<ReplyLine[]> {
    const result = this.#queue.then(() => this.#exchange(line));
    this.#queue = result.catch(() => {});
    return result;
  }

  /** One request and its reply. Any failure closes the connection: the next reply could not be told apart. */
  async #exchange(text: string): Promise<ReplyLine[]> {
    if (this.#closed) throw new ConnectionClosedError("the tracker connection is closed");
    this.#busy = true;
    // Never touched, so it is a deadline for the whole exchange.
    using deadline = new Watchdog(this.#timeoutMs, () => this.close());
    try {
      await writeText(this.#conn, text.endsWith("\n") ? text : text + "\n");
      const lines: ReplyLine[] = [];
      while (true) {
        const raw = await this.#reader.readLine();
        if (raw === null) throw new ConnectionClosedError();
        const line = parseReplyLine(raw);
        lines.push(line);
        if (!line.more) return lines;
        if (lines.length >= MAX_REPLY_LINES) throw new ProtocolError(Status.TOO_LARGE, "tracker reply too long");
      }
    } catch (error) {
      this.close();
      if (deadline.expired) {
        throw new ConnectionClosedError(`the tracker did not answer within ${this.#timeoutMs / 1000} s`);
      }
      if (isDisconnect(error)) throw new ConnectionClosedError();
      throw error;
    } finally {
      this.#busy = false;
    }
  }

  /** Announces every file this peer serves at `port`, replacing what it announced before. */
  async update(port: number, files: readonly FileEntry[]): Promise<string> {
    const text = [`UPDATE ${port} ${files.length}`, ...files.map(formatEntryLine)].join("\n");
    return expectOk(await this.request(text)).text;
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

  /** The peers that serve files now. */
  async peers(): Promise<ListedPeer[]> {
    const lines = await this.request("PEERS");
    expectOk(lines);
    return lines.slice(0, -1).flatMap((line) => {
      const m = /^PEER (\S+) (\d+)$/.exec(line.text);
      return m ? [{ address: m[1], files: Number(m[2]) }] : [];
    });
  }

  /** Sends any command and returns the reply as text lines (for `LIST`, `HELP`, …). */
  async raw(line: string): Promise<string> {
    return (await this.request(line)).map(formatLine).join("");
  }

  /** Says goodbye (unless a request is still waiting for its reply) and closes. Idempotent; never throws. */
  async quit(): Promise<void> {
    if (!this.#closed && !this.#busy) await this.request("QUIT").catch(() => {});
    this.close();
  }

  /** Closes the connection. Idempotent. */
  close(): void {
    this.#closed = true;
    closeQuietly(this.#conn);
  }

  /** Same as {@link TrackerClient.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    this.close();
    return Promise.resolve();
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
