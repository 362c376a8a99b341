/**
 * Raw sockets for tests: a line client, as a person with `nc` would be, and
 * what it sends and reads: announcements, replies as text, the bytes of an
 * answer, one request's whole answer; an address where nothing listens, and
 * whether a port still serves.
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseReplyLine, type ReplyLine } from "../../protocol.ts";
import { isDisconnect } from "../../io/errors.ts";
import { closeQuietly, type Link } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { writeText } from "../../io/streams.ts";
import { sha256 } from "./hashes.ts";

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

/**
 * `127.0.0.1:1`, where nothing listens: port 1 (tcpmux) is served by
 * nothing on these machines, and no test binds a port below 1024. A port
 * just freed (as {@link unusedPort} gives) could be taken again by a test
 * running in parallel before the refusal is asked for, and then answer.
 */
export function deadAddress(): string {
  return "127.0.0.1:1";
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

/** Reply lines as the tracker wrote them: `<status><"-" if more follow, else " "><text>`. */
export function texts(lines: ReplyLine[]): string[] {
  return lines.map((l) => `${l.status}${l.more ? "-" : " "}${l.text}`);
}

/** The holder addresses a tracker's SEND reply lists (its `HOLDER` lines), in order. */
export function holderAddresses(reply: ReplyLine[]): string[] {
  return reply.flatMap((l) => l.text.startsWith("HOLDER ") ? [l.text.split(" ")[1]] : []);
}

/** `UPDATE`/`ADD <port> <count>` and its entry lines `[size, sha256, name]`, each ended by a line feed. */
export function announcement(verb: "UPDATE" | "ADD", port: number, entries: [number, string, string][]): string {
  return [`${verb} ${port} ${entries.length}`, ...entries.map(([size, sha, name]) => `${size} ${sha} ${name}`)]
    .join("\n") + "\n";
}

/**
 * Tells the tracker at `trackerPort` that a peer at `port` of 127.0.0.1 (where
 * nothing need listen) holds `files`, each `[bytes, name]`, by their SHA-256
 * alone (no chunk root); fails unless it answers 200. The session stays open
 * until disposed: the files stay listed as long.
 */
export async function announceAt(
  trackerPort: number,
  port: number,
  files: [Uint8Array, string][],
): Promise<LineClient> {
  const session = await LineClient.connect(trackerPort);
  const entries = files.map(([bytes, name]): [number, string, string] => [bytes.length, sha256(bytes), name]);
  const [reply] = await session.ask(announcement("UPDATE", port, entries));
  assert.equal(reply.status, 200, reply.text);
  return session;
}

/** Reads exactly `n` bytes (the body after a header); throws if the connection ends first. */
export async function readBytes(reader: BufferedReader, n: number): Promise<Uint8Array> {
  const out = new Uint8Array(n);
  let filled = 0;
  while (filled < n) {
    const got = await reader.read(out.subarray(filled));
    if (got === null) throw new Error(`connection ended after ${filled} of ${n} bytes`);
    filled += got;
  }
  return out;
}

/** Reads what comes on `conn` until the other side closes (as a holder that answers nothing would). */
export async function readToEnd(conn: Link): Promise<void> {
  const reader = new BufferedReader(conn);
  const sink = new Uint8Array(4096);
  while ((await reader.read(sink)) !== null) { /* silent */ }
}

/**
 * True when a new connection to `port` is not served: refused, reset,
 * closed without an answer to `request` (a listener being closed may still
 * take it into its backlog), or told `503 the peer at … is stopping` (a
 * file server taking it in the instant before it began to stop). `request`
 * is a line the server answers while it serves.
 */
export async function notServed(port: number, request: string): Promise<boolean> {
  let client: LineClient;
  try {
    client = await LineClient.connect(port);
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused || isDisconnect(error)) return true;
    throw error;
  }
  using _ = client;
  try {
    await client.send(request);
    const line = await client.reader.readLine();
    return line === null || /^503 the peer at \S+ is stopping; try another holder$/.test(line);
  } catch (error) {
    if (isDisconnect(error)) return true;
    throw error;
  }
}
