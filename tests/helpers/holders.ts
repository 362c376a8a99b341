/**
 * Holders for tests: one fake holder that serves given bytes and can
 * misbehave in one named way (or runs a script of its own), a holder that
 * sends part of a file and the rest once released, and a real file server
 * over a temporary folder.
 *
 * @module
 */

import { join } from "node:path";
import type { Holder } from "../../protocol.ts";
import { isDisconnect } from "../../io/errors.ts";
import type { Link } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { TcpServer } from "../../io/server.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { downloadFile, type DownloadOptions } from "../../peer/download.ts";
import { type FileServerEvent, type FileServerOptions, startFileServer } from "../../peer/file_server.ts";
import { EventLog } from "./events.ts";
import { chunkHashes, MiB, sha256 } from "./hashes.ts";
import { tempDir, writeFiles } from "./temp.ts";

/** What a fake holder serves, and how it misbehaves (in one named way at most). */
export interface FakeHolderFile {
  /** The one name it holds; any other name is answered `404`. */
  name: string;
  /** The bytes it serves; their size and SHA-256 are in every header it sends. */
  data: Uint8Array;
  /**
   * Sends this chunk with its first byte flipped, every time it is asked for
   * it: an index, or `"first"` for the first chunk of the first `RANGE` it
   * gets (and only that once). Default: no chunk.
   */
  corrupt?: number | "first";
  /**
   * Sends the header and half of this chunk (an index, or `"first"` as for
   * `corrupt`), then nothing more on that connection, reading on until the
   * downloader hangs up. Default: never stalls.
   */
  stall?: number | "first";
  /** Lists a wrong hash for chunk 0 in its `HASHES` answer, so that its list does not come to the root. Default: false. */
  lieInHashes?: boolean;
  /** Reads `HASHES` and never answers it (nor anything after it). Default: false. */
  stallHashes?: boolean;
  /** Every `RANGE` and `GET` answer waits for this. Default: answers at once. */
  gate?: Promise<unknown>;
}

/**
 * A fake holder that runs `script` for each connection, with the first
 * line it received, instead of serving a file: for one-off behaviours
 * (answer a lie, die half-way, never answer). The connection is closed when
 * the script ends; errors of the script (the downloader hung up) are
 * ignored.
 */
export interface FakeHolderScript {
  /** What to do with one connection and its first request line. */
  script: (conn: Link, request: string) => Promise<void>;
}

/** Options of {@link startFakeHolder}: a file to serve, or a script. */
export type FakeHolderOptions = FakeHolderFile | FakeHolderScript;

/** A running {@link startFakeHolder}. */
export interface FakeHolder extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** Its port. */
  port: number;
  /** Every request line it received, in order, over all its connections. */
  requests: string[];
  /** Resolves once it has misbehaved: sent the corrupt chunk, stalled, or sent its lying list. */
  faulted: Promise<void>;
  /** Resolves once a connection to it has ended (the downloader hung up, for instance after dropping it). */
  hungUp: Promise<void>;
}

/**
 * The one fake holder of the tests, on 127.0.0.1. Given a file, it answers
 * `HASHES`, `RANGE` (connection kept open, pipelined requests answered in
 * order) and `GET` (then closes) over `options.data`, with the wire format
 * written out here rather than taken from `protocol.ts`; given a script, it
 * runs it. Disposing of it closes every connection; an unexpected error of
 * a file holder (not a disconnect) is thrown then.
 */
export function startFakeHolder(options: FakeHolderOptions): FakeHolder {
  if ("script" in options) return scripted(options.script);
  const { name, data } = options;
  const size = data.length;
  const hash = sha256(data);
  const hashes = chunkHashes(data);
  if (options.lieInHashes) hashes[0] = sha256("not chunk 0");
  const hashesAnswer = `200 HASHES ${size} ${hash} ${MiB} ${hashes.length}\n` + hashes.map((h) => h + "\n").join("");
  const requests: string[] = [];
  const faulted = Promise.withResolvers<void>();
  const hungUp = Promise.withResolvers<void>();
  const errors: unknown[] = [];
  const closing = Promise.withResolvers<void>();
  const closed = Symbol("closed");
  let ranges = 0;
  // The chunk an option names, for a RANGE starting at `offset` (the `n`th RANGE it got, from 1).
  const target = (option: number | "first" | undefined, offset: number, n: number) =>
    option === "first" ? (n === 1 ? Math.floor(offset / MiB) : undefined) : option;

  const serve = async (conn: Link) => {
    const reader = new BufferedReader(conn);
    try {
      while (true) {
        const line = await reader.readLine();
        if (line === null) return;
        requests.push(line);
        const m = /^(?:(GET|HASHES) (.+)|RANGE (\d+) (\d+|\*) (.+))$/.exec(line);
        if (!m) {
          await writeText(conn, "400 unknown command\n");
          return;
        }
        const verb = m[1] ?? "RANGE";
        if ((m[2] ?? m[5]) !== name) {
          await writeText(conn, `404 no file "${m[2] ?? m[5]}"\n`);
          if (verb === "GET") return;
          continue;
        }
        if (verb === "HASHES") {
          if (options.stallHashes) {
            faulted.resolve();
            await closing.promise;
            return;
          }
          await writeText(conn, hashesAnswer);
          if (options.lieInHashes) faulted.resolve();
          continue;
        }
        // A gate that never opens must not keep the fake from closing.
        if (await Promise.race([options.gate, closing.promise.then(() => closed)]) === closed) return;
        const n = ++ranges;
        const offset = verb === "GET" ? 0 : Number(m[3]);
        if (offset > size) {
          await writeText(conn, `416 offset ${offset} is past the end (${size} bytes)\n`);
          continue;
        }
        const length = Math.min(m[4] === undefined || m[4] === "*" ? size : Number(m[4]), size - offset);
        const header = offset === 0 && length === size
          ? `200 ${size} ${hash}\n`
          : `206 ${size} ${hash} ${offset} ${length}\n`;
        const body = data.slice(offset, offset + length);
        const within = (chunk: number | undefined) =>
          chunk !== undefined && chunk * MiB >= offset && chunk * MiB < offset + length;
        const stall = target(options.stall, offset, n);
        if (within(stall)) {
          const half = Math.floor(Math.min(MiB, size - stall! * MiB) / 2);
          await writeText(conn, header);
          await writeAll(conn, body.subarray(0, stall! * MiB - offset + half));
          faulted.resolve();
          const sink = new Uint8Array(64 * 1024);
          while (await reader.read(sink) !== null) {
            // stalled: read what comes, answer nothing, until the downloader hangs up
          }
          return;
        }
        const corrupt = target(options.corrupt, offset, n);
        if (within(corrupt)) body[corrupt! * MiB - offset] ^= 0xff;
        await writeText(conn, header);
        await writeAll(conn, body);
        if (within(corrupt)) faulted.resolve();
        if (verb === "GET") return;
      }
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    } finally {
      hungUp.resolve();
    }
  };

  const server = new TcpServer(serve, { hostname: "127.0.0.1", port: 0, onError: (error) => errors.push(error) });
  return {
    address: `127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    faulted: faulted.promise,
    hungUp: hungUp.promise,
    [Symbol.asyncDispose]: async () => {
      closing.resolve();
      await server.close();
      if (errors.length > 0) throw errors[0];
    },
  };
}

/** The fake holder of {@link startFakeHolder} given a script: runs it for each connection. */
function scripted(script: FakeHolderScript["script"]): FakeHolder {
  const requests: string[] = [];
  const hungUp = Promise.withResolvers<void>();
  const server = new TcpServer(async (conn) => {
    try {
      const request = await new BufferedReader(conn).readLine();
      requests.push(request ?? "");
      await script(conn, request ?? "");
    } catch {
      // the downloader hung up, or the script gave up: expected in these tests
    } finally {
      hungUp.resolve();
    }
  }, { hostname: "127.0.0.1", port: 0 });
  return {
    address: `127.0.0.1:${server.addr.port}`,
    port: server.addr.port,
    requests,
    faulted: Promise.resolve(),
    hungUp: hungUp.promise,
    [Symbol.asyncDispose]: () => server.close(),
  };
}

/** Options of {@link gatedHolder}. */
export interface GatedHolderOptions {
  /** The SHA-256 its header gives. Default: that of the bytes it sends (give another to make it a liar). */
  sha256?: string;
}

/** A {@link FakeHolder} that holds back the end of its answers until {@link GatedHolder.release}. */
export interface GatedHolder extends FakeHolder {
  /** Lets every answer, held or to come, send the rest of its bytes. */
  release(): void;
}

/**
 * A fake holder that answers any request with the whole of `data` (so list
 * it without a chunk root: it is one stream, from one holder): a `200`
 * header, the first `firstPart` bytes at once, the rest once released (or
 * disposed of, so that a failed test leaves nothing waiting).
 */
export function gatedHolder(data: Uint8Array, firstPart: number, options: GatedHolderOptions = {}): GatedHolder {
  const gate = Promise.withResolvers<void>();
  const hash = options.sha256 ?? sha256(data);
  const holder = startFakeHolder({
    script: async (conn: Link) => {
      await writeText(conn, `200 ${data.length} ${hash}\n`);
      await writeAll(conn, data.subarray(0, firstPart));
      await gate.promise;
      await writeAll(conn, data.subarray(firstPart));
    },
  });
  const close = holder[Symbol.asyncDispose];
  return Object.assign(holder, {
    release: () => gate.resolve(),
    [Symbol.asyncDispose]: () => (gate.resolve(), close()),
  });
}

/** A real file server over a temporary folder, what it reported, and how the tracker would list its files. */
export interface ServingFolder extends AsyncDisposable {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** Its port. */
  port: number;
  /** The folder it serves. */
  dir: string;
  /** The shared folder, scanned. */
  folder: SharedFolder;
  /** Everything the file server reported. */
  events: EventLog<FileServerEvent>;
  /** Closes the file server, giving running uploads `graceMs` (default 0) to finish; the folder stays until dispose. */
  close(graceMs?: number): Promise<void>;
  /** How the tracker lists this server as a holder of `name`. */
  holder(name: string): Holder;
  /** Downloads `name` as the tracker would offer it: first from `first` (a bad holder), then from here. */
  fetchAfter(name: string, first: string, options: DownloadOptions): ReturnType<typeof downloadFile>;
}

/**
 * A real file server (`peer/file_server.ts`) on 127.0.0.1 over a new
 * temporary folder holding `files`, with `options`; its events are kept in
 * `events`. Dispose closes it and removes the folder.
 */
export async function servingFolder(
  files: Record<string, string | Uint8Array>,
  options: Partial<FileServerOptions> = {},
): Promise<ServingFolder> {
  const dir = await tempDir();
  await writeFiles(dir.path, files);
  const folder = await SharedFolder.open(dir.path);
  const entries = await folder.scan();
  const events = new EventLog<FileServerEvent>();
  const server = startFileServer({ hostname: "127.0.0.1", port: 0, folder, onEvent: events.push, ...options });
  const address = `127.0.0.1:${server.addr.port}`;
  const holder = (name: string): Holder => {
    const e = entries.find((x) => x.name === name);
    if (!e) throw new Error(`servingFolder: no file ${name} in ${join(dir.path)}`);
    return e.root === undefined
      ? { address, size: e.size, sha256: e.sha256 }
      : { address, size: e.size, sha256: e.sha256, root: e.root };
  };
  return {
    address,
    port: server.addr.port,
    dir: dir.path,
    folder,
    events,
    close: server.close,
    holder,
    fetchAfter: (name, first, options) =>
      downloadFile({ name, status: 200, holders: [{ ...holder(name), address: first }, holder(name)] }, options),
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}
