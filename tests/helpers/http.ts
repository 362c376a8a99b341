/**
 * HTTP for tests: a peer's HTTP face over a temporary folder, in the test's
 * own process, with its events; and a raw HTTP/1.1 exchange on a socket of
 * our own (for what `fetch` would not send: `..` in a path, a 20 KiB
 * header, a request line that never ends).
 *
 * @module
 */

import type { FileServerEvent } from "../../peer/file_server.ts";
import { type PeerHttp, type PeerHttpOptions, startPeerHttp } from "../../peer/http_face.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { isDisconnect } from "../../io/errors.ts";
import { EventLog } from "./events.ts";
import { tempDir, writeFiles } from "./temp.ts";

/** An HTTP face of the test, with its folder and its events. */
export type TestHttp = PeerHttp & {
  /** Its shared folder (removed on dispose). */
  dir: string;
  /** The folder it serves. */
  folder: SharedFolder;
  /** Its port on 127.0.0.1. */
  port: number;
  /** Everything it reported. */
  events: EventLog<FileServerEvent>;
  /** `http://127.0.0.1:<port>/files/<name>`, the name percent-encoded. */
  fileUrl(name: string): string;
};

/** An HTTP face on 127.0.0.1, any free port, serving a fresh folder holding `files`; dispose closes it and removes it. */
export async function testHttp(
  files: Record<string, string | Uint8Array> = {},
  options: Partial<PeerHttpOptions> = {},
): Promise<TestHttp> {
  const temp = await tempDir();
  await writeFiles(temp.path, files);
  const events = new EventLog<FileServerEvent>();
  let http: PeerHttp;
  let folder: SharedFolder;
  try {
    folder = await SharedFolder.open(temp.path);
    await folder.scan();
    http = await startPeerHttp({ hostname: "127.0.0.1", port: 0, ...options, folder, onEvent: events.push });
  } catch (error) {
    await temp[Symbol.asyncDispose]();
    throw error;
  }
  const close = http.close;
  return Object.assign(http, {
    dir: temp.path,
    folder,
    port: http.addr.port,
    events,
    fileUrl: (name: string) => `${http.url}files/${encodeURIComponent(name)}`,
    [Symbol.asyncDispose]: async () => {
      await close();
      await temp[Symbol.asyncDispose]();
    },
  });
}

/** One HTTP answer as it came on the wire. */
export interface RawAnswer {
  /** The status code; 0 when the connection closed with no answer. */
  status: number;
  /** Header names in lower case. */
  headers: Map<string, string>;
  /** What followed the headers until the close. */
  body: Uint8Array;
}

/**
 * Sends `request` (written as is: put in the `\r\n`s and `Connection:
 * close`) to 127.0.0.1:`port`, and reads everything until the server closes
 * (or resets) the connection.
 */
export async function rawHttp(port: number, request: string | Uint8Array): Promise<RawAnswer> {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  await writeAllTo(conn, typeof request === "string" ? new TextEncoder().encode(request) : request);
  return parseAnswer(await readUntilClose(conn));
}

/** `GET <target>` with `Connection: close` and any `headers`, raw. */
export function rawGet(port: number, target: string, headers: Record<string, string> = {}): Promise<RawAnswer> {
  const lines = Object.entries(headers).map(([k, v]) => `${k}: ${v}\r\n`).join("");
  return rawHttp(port, `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\n${lines}Connection: close\r\n\r\n`);
}

/** Writes all of `bytes`; a connection the server already closed is not an error here. */
export async function writeAllTo(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  try {
    for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
  } catch (error) {
    if (!isDisconnect(error)) throw error;
  }
}

/** Every byte until the other side closes or resets the connection. */
export async function readUntilClose(conn: Deno.Conn): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  const buffer = new Uint8Array(65_536);
  try {
    for (let n = await conn.read(buffer); n !== null; n = await conn.read(buffer)) chunks.push(buffer.slice(0, n));
  } catch (error) {
    if (!isDisconnect(error)) throw error;
  }
  return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

/** Status, headers and body of the bytes of one answer. */
export function parseAnswer(bytes: Uint8Array): RawAnswer {
  let end = -1;
  for (let i = 0; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      end = i;
      break;
    }
  }
  if (end < 0) return { status: 0, headers: new Map(), body: bytes };
  const [statusLine, ...lines] = new TextDecoder().decode(bytes.subarray(0, end)).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines) {
    const colon = line.indexOf(":");
    headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
  }
  return { status: Number(statusLine.split(" ")[1]), headers, body: bytes.subarray(end + 4) };
}

/** Runs `curl`/`wget` (or anything) with `args`; its exit code and output as text. */
export async function run(
  command: string,
  args: string[],
  options: { cwd?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  const out = await new Deno.Command(command, { args, cwd: options.cwd, stdout: "piped", stderr: "piped" }).output();
  const decoder = new TextDecoder();
  return { code: out.code, stdout: decoder.decode(out.stdout), stderr: decoder.decode(out.stderr) };
}

/** Whether `path` is an executable file here (a test of a client that is missing is skipped). */
export function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
}
