/**
 * Crowds for tests (issue 14): a raw holder that speaks `HAVE`, whole or
 * as a partial holder, each `RANGE` answer of which can be held back at a
 * {@link Gate}, sent wrong, cut half-way (the holder dies) or replaced by
 * `* GONE`; a raw client of a peer's file server that keeps push lines apart
 * from answers; and raw tracker sessions that announce a file whole or in
 * part. The wire format is written out here, not taken from `protocol.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isDisconnect } from "../../io/errors.ts";
import { closeQuietly, type Link } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { TcpServer } from "../../io/server.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { Changes } from "./events.ts";
import { chunkHashes, hashToken, MiB, sha256 } from "./hashes.ts";
import { LineClient, readBytes } from "./net.ts";

/** Answers held back until the test lets them go, one at a time or all. */
export class Gate {
  #tokens = 0;
  #open = false;
  #waiting: (() => void)[] = [];

  /** Lets `n` more answers go. */
  release(n = 1): void {
    this.#tokens += n;
    this.#wake();
  }

  /** Lets every answer go, from now on. */
  open(): void {
    this.#open = true;
    this.#wake();
  }

  /** Resolves when this answer may go. */
  pass(): Promise<void> {
    return new Promise((resolve) => {
      this.#waiting.push(resolve);
      this.#wake();
    });
  }

  #wake(): void {
    while (this.#waiting.length > 0 && (this.#open || this.#tokens > 0)) {
      if (!this.#open) this.#tokens--;
      this.#waiting.shift()!();
    }
  }
}

/**
 * How a {@link ChunkHolder} answers one `RANGE`: `good`; `wrong` (the right
 * header, the first byte of the body flipped); `cut` (the header and half
 * the body, then the holder dies: every connection closed, nothing more
 * accepted); `gone` (no answer: `* GONE <name>` pushed, the connection
 * closed, and every later request of the file answered `404`, as a partial
 * holder whose download ended).
 */
export type ChunkAnswer = "good" | "wrong" | "cut" | "gone" | "not-yet";

/** Options of {@link startChunkHolder}. */
export interface ChunkHolderOptions {
  /** The one name it holds; any other is answered `404`. */
  name: string;
  /** The file's bytes (over one chunk: it is fetched chunk by chunk). */
  data: Uint8Array;
  /** `full` answers `HAVE` with `* DONE`; `partial` with `* HAVE 0-<last>` (it claims every chunk). */
  kind: "full" | "partial";
  /** How it answers its `n`th `RANGE` (from 1, over all its connections). Default: every answer `good`. */
  answer?: (n: number) => ChunkAnswer;
  /** Every `RANGE` answer waits for this gate first. Default: answers at once. */
  gate?: Gate;
  /** A holder of 0.13 or before: it knows no `HAVE`, answers it as a peer answers an unknown command, and closes. */
  old?: boolean;
}

/** A running {@link startChunkHolder}. */
export interface ChunkHolder extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** Its port. */
  port: number;
  /** Every request line it received, in order, over all its connections. */
  requests: string[];
  /** The chunks it sent in full and right, in order (one entry per answer of exactly one chunk). */
  sent: number[];
  /** Resolves with the `n`th chunk it sent in full and right (from 1), once it has. */
  nthSent(n: number): Promise<number>;
  /** Resolves once it has misbehaved: sent a wrong chunk, died half-way, or said `GONE`. */
  faulted: Promise<void>;
}

/**
 * A raw holder of `options.data` on 127.0.0.1 that answers `HASHES`,
 * `HAVE` and `RANGE` (pipelined, in order; the connection stays open), each
 * `RANGE` as `options.answer` says. Disposing of it lets every held answer
 * go (unanswered), closes every connection, and throws an unexpected error
 * of its own, if there was one.
 */
export function startChunkHolder(options: ChunkHolderOptions): ChunkHolder {
  const { name, data } = options;
  const size = data.length;
  const hash = sha256(data);
  const hashes = chunkHashes(data);
  const last = hashes.length - 1;
  const requests: string[] = [];
  const sent: number[] = [];
  const changes = new Changes();
  const faulted = Promise.withResolvers<void>();
  const closing = Promise.withResolvers<"closing">();
  const errors: unknown[] = [];
  let ranges = 0;
  let gone = false;

  const serve = async (conn: Link) => {
    const reader = new BufferedReader(conn);
    try {
      while (true) {
        const line = await reader.readLine();
        if (line === null) return;
        requests.push(line);
        const m = /^(?:(HASHES|HAVE) (.+)|RANGE (\d+) (\d+) (.+))$/.exec(line);
        if (options.old && m?.[1] === "HAVE") {
          await writeText(conn, `400 unknown command "HAVE"; a peer answers GET, RANGE and HASHES\n`);
          return;
        }
        if (!m) {
          await writeText(conn, `400 unknown command\n`);
          return;
        }
        const asked = m[2] ?? m[5];
        if (asked !== name || gone) {
          await writeText(conn, `404 no file "${asked}"\n`);
          continue;
        }
        if (m[1] === "HASHES") {
          await writeText(conn, `200 HASHES ${size} ${hash} ${MiB} ${hashes.length}\n${hashes.join("\n")}\n`);
          continue;
        }
        if (m[1] === "HAVE") {
          const what = options.kind === "full" ? `* DONE ${name}` : `* HAVE 0-${last} ${name}`;
          await writeText(conn, `200 HAVE ${size} ${hash} ${hashes.length}\n${what}\n`);
          continue;
        }
        const n = ++ranges;
        if (options.gate && await Promise.race([options.gate.pass(), closing.promise]) === "closing") return;
        const offset = Number(m[3]), length = Number(m[4]);
        const body = data.slice(offset, offset + length);
        const header = `206 ${size} ${hash} ${offset} ${body.length}\n`;
        const answer = options.answer?.(n) ?? "good";
        if (answer === "gone") {
          gone = true;
          await writeText(conn, `* GONE ${name}\n`);
          faulted.resolve();
          return;
        }
        if (answer === "cut") {
          await writeText(conn, header);
          await writeAll(conn, body.subarray(0, body.length >> 1));
          faulted.resolve();
          void server.close(); // dies: this connection and every other closed, nothing more accepted
          return;
        }
        if (answer === "not-yet") {
          await writeText(conn, `425 not here yet: chunk ${offset / MiB} of "${name}" has not arrived\n`);
          continue;
        }
        if (answer === "wrong") body[0] ^= 0xff;
        await writeText(conn, header);
        await writeAll(conn, body);
        if (answer === "wrong") faulted.resolve();
        else if (offset % MiB === 0 && body.length === Math.min(MiB, size - offset)) {
          sent.push(offset / MiB);
          changes.changed();
        }
      }
    } catch (error) {
      if (!isDisconnect(error)) errors.push(error);
    }
  };

  const server = new TcpServer(serve, { hostname: "127.0.0.1", port: 0, onError: (error) => errors.push(error) });
  return {
    address: `127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    sent,
    nthSent: (n) =>
      changes.until(() => sent[n - 1], {
        failure: () => `the holder sent ${sent.length} chunks, not ${n} (requests: ${requests.join("; ")})`,
      }),
    faulted: faulted.promise,
    [Symbol.asyncDispose]: async () => {
      closing.resolve("closing");
      await server.close();
      if (errors.length > 0) throw errors[0];
    },
  };
}

/**
 * A raw tracker session that announces `name` (`data`) as held at
 * 127.0.0.1:`port`: whole (`UPDATE`) or in part (`PARTIAL`), with its chunk
 * root; fails unless the tracker answers 200. The announcement lasts as long
 * as the session.
 */
export async function announceRaw(
  trackerPort: number,
  how: { verb: "UPDATE" | "PARTIAL"; port: number; name: string; data: Uint8Array },
): Promise<LineClient> {
  const session = await LineClient.connect(trackerPort);
  try {
    const entry = `${how.data.length} ${hashToken(how.data)} ${how.name}`;
    const [reply] = await session.ask(`${how.verb} ${how.port} 1\n${entry}\n`);
    assert.equal(reply.status, 200, reply.text);
    return session;
  } catch (error) {
    session[Symbol.dispose]();
    throw error;
  }
}

/** One answer of a holder: its first line, and the bytes (`200`/`206`) or hash lines (`HASHES`) after it. */
export interface WireAnswer {
  /** Its first line. */
  line: string;
  /** The bytes of a `200 <size> <sha256>` or `206 …` answer. */
  body?: Uint8Array;
  /** The hash lines of a `200 HASHES …` answer. */
  lines?: string[];
}

/**
 * A raw client of a peer's file server, as a downloader of a crowd is:
 * push lines (`* HAVE`, `* DONE`, `* GONE`) are kept apart, in order, as
 * they come; answers are read whole (their bytes or hash lines too), in
 * order. Reads run on their own until the peer closes or we dispose.
 */
export class PeerWire implements AsyncDisposable {
  /** The connection. */
  readonly conn: Deno.TcpConn;
  /** Every push line, in order. */
  readonly pushes: string[] = [];
  #reader: BufferedReader;
  /** First lines of answers, as soon as each arrives (its body may still be coming). */
  #begun: string[] = [];
  #answers: WireAnswer[] = [];
  #taken = 0;
  #ended = false;
  #error: unknown;
  #changes = new Changes();
  #pump: Promise<void>;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.#reader = new BufferedReader(conn);
    this.#pump = this.#run();
  }

  /** Connects to 127.0.0.1:`port`. */
  static async connect(port: number): Promise<PeerWire> {
    return new PeerWire(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

  /** Sends `text` as it is (put the line feeds in). */
  send(text: string): Promise<void> {
    return writeText(this.conn, text);
  }

  /** Sends `text`, then reads the next answer. */
  async ask(text: string): Promise<WireAnswer> {
    await this.send(text);
    return await this.answer();
  }

  /** The next answer not read yet, whole; fails if the connection ends first. */
  answer(): Promise<WireAnswer> {
    return this.#changes.until(() => {
      const next = this.#answers[this.#taken];
      if (next) {
        this.#taken++;
        return next;
      }
      this.#checkOpen("an answer");
    }, { failure: () => `no answer came (pushes: ${this.pushes.join("; ")})` });
  }

  /** The first line of the next answer not read yet, as soon as it arrives (its bytes may still be coming). */
  begun(): Promise<string> {
    return this.#changes.until(() => this.#begun[this.#taken] ?? this.#checkOpen("an answer"), {
      failure: () => "no answer began",
    });
  }

  /** Resolves once the push line `line` has come (now or before). */
  async push(line: string): Promise<void> {
    await this.#changes.until(() => this.pushes.includes(line) ? true : this.#checkOpen(JSON.stringify(line)), {
      failure: () => `no push ${JSON.stringify(line)} (pushes: ${this.pushes.join("; ")})`,
    });
  }

  /** Resolves once the peer has closed the connection. */
  async closed(): Promise<void> {
    await this.#changes.until(() => this.#ended || undefined, { failure: () => "the peer did not close" });
  }

  /** Fails a wait that the end of the connection makes hopeless. */
  #checkOpen(what: string): undefined {
    if (this.#ended) throw new Error(`the connection ended before ${what}`, { cause: this.#error });
    return undefined;
  }

  async #run(): Promise<void> {
    try {
      while (true) {
        const line = await this.#reader.readLine();
        if (line === null) return;
        if (line.startsWith("* ")) {
          this.pushes.push(line);
          this.#changes.changed();
          continue;
        }
        this.#begun.push(line);
        this.#changes.changed();
        const answer: WireAnswer = { line };
        const bytes = /^(?:200 (\d+) [0-9a-f]{64}|206 \d+ [0-9a-f]{64} \d+ (\d+))$/.exec(line);
        if (bytes) answer.body = await readBytes(this.#reader, Number(bytes[2] ?? bytes[1]));
        const hashes = /^200 HASHES \d+ [0-9a-f]{64} \d+ (\d+)$/.exec(line);
        if (hashes) {
          answer.lines = [];
          for (let i = 0; i < Number(hashes[1]); i++) answer.lines.push((await this.#reader.readLine()) ?? "");
        }
        this.#answers.push(answer);
        this.#changes.changed();
      }
    } catch (error) {
      this.#error = error; // our own close, or the peer's
    } finally {
      this.#ended = true;
      this.#changes.changed();
    }
  }

  /** Closes the connection and waits for its reads to end. */
  async [Symbol.asyncDispose](): Promise<void> {
    closeQuietly(this.conn);
    await this.#pump;
  }
}

/** The bytes of chunk `index` of `data`. */
export function chunkOf(data: Uint8Array, index: number): Uint8Array {
  return data.subarray(index * MiB, Math.min(data.length, (index + 1) * MiB));
}

/** `RANGE <offset> <length> <name>` for chunk `index` of `data` (its exact span), with its line feed. */
export function rangeOf(data: Uint8Array, index: number, name: string): string {
  return `RANGE ${index * MiB} ${chunkOf(data, index).length} ${name}\n`;
}
