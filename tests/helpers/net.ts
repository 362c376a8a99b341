/**
 * Raw sockets for tests: a line client, as a person with `nc` would be, an
 * address where nothing listens, and one request's whole answer.
 *
 * @module
 */

import { parseReplyLine, type ReplyLine } from "../../protocol.ts";
import { closeQuietly } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { writeText } from "../../io/streams.ts";

/** A raw protocol client, as a person with `nc` would be. */
export class LineClient implements Disposable {
  /** The connection. */
  readonly conn: Deno.TcpConn;
  /** What it reads lines (and bytes) with. */
  readonly reader: BufferedReader;

  private constructor(conn: Deno.TcpConn) {
    this.conn = conn;
    this.reader = new BufferedReader(conn);
  }

  /** Connects to 127.0.0.1 (or `hostname`) at `port`. */
  static async connect(port: number, hostname = "127.0.0.1"): Promise<LineClient> {
    return new LineClient(await Deno.connect({ hostname, port }));
  }

  /** Sends `text` as it is (put the line feeds in). */
  send(text: string): Promise<void> {
    return writeText(this.conn, text);
  }

  /** Reads one whole reply (to its line without `-`); null if the connection ends first. */
  async reply(): Promise<ReplyLine[] | null> {
    const lines: ReplyLine[] = [];
    while (true) {
      const line = await this.reader.readLine();
      if (line === null) return null;
      const parsed = parseReplyLine(line);
      lines.push(parsed);
      if (!parsed.more) return lines;
    }
  }

  /** Sends `text` and reads the reply; throws if the connection ends first. */
  async ask(text: string): Promise<ReplyLine[]> {
    await this.send(text);
    const reply = await this.reply();
    if (reply === null) throw new Error(`the connection closed instead of answering ${JSON.stringify(text)}`);
    return reply;
  }

  /** Reads until the other side closes; true if it did (the bytes are dropped). */
  async closed(): Promise<boolean> {
    const sink = new Uint8Array(65_536);
    while ((await this.reader.read(sink)) !== null) { /* drain */ }
    return true;
  }

  /** Closes the connection. */
  [Symbol.dispose](): void {
    closeQuietly(this.conn);
  }
}

/** A loopback port where nothing listens (just released by a listener of our own). */
export function unusedPort(): number {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  return listener.addr.port;
}

/** `127.0.0.1:<port>` where nothing listens. */
export function deadAddress(): string {
  return `127.0.0.1:${unusedPort()}`;
}

/** Sends `line` to 127.0.0.1:`port`, ends our side, and returns every byte of the answer until the close. */
export async function rawRequest(port: number, line: string): Promise<Uint8Array> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeText(conn, line);
  // Nothing more comes: a holder that keeps the connection open (after RANGE) then closes it at once.
  await conn.closeWrite();
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65_536);
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    chunks.push(buffer.slice(0, n));
  }
  return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/** Bytes as text. */
export function text(bytes: Uint8Array): string {
  return new TextDecoder().decode(bytes);
}
