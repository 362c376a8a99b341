/** Shared test helpers: temporary folders, in-process tracker and peers, a raw line client, fake holders. */

import { join } from "node:path";
import { formatAddress, parseReplyLine, type ReplyLine } from "../protocol.ts";
import { Peer, type PeerOptions } from "../peer.ts";
import { startTracker, type Tracker, type TrackerEvent } from "../tracker.ts";
import { createHash } from "node:crypto";
import { closeQuietly } from "../io/link.ts";
import { BufferedReader } from "../io/reader.ts";
import { writeText } from "../io/streams.ts";

/** A temporary folder removed on dispose. */
export async function tempDir(): Promise<{ path: string } & AsyncDisposable> {
  const path = await Deno.makeTempDir({ prefix: "p2p-test-" });
  return { path, [Symbol.asyncDispose]: () => Deno.remove(path, { recursive: true }) };
}

/** Writes `files` (name → content) into `dir`. */
export async function writeFiles(dir: string, files: Record<string, string | Uint8Array>): Promise<void> {
  for (const [name, content] of Object.entries(files)) {
    if (typeof content === "string") await Deno.writeTextFile(join(dir, name), content);
    else await Deno.writeFile(join(dir, name), content);
  }
}

/** `n` pseudo-random bytes (seeded, so failures reproduce). */
export function randomBytes(n: number, seed = 1): Uint8Array {
  const out = new Uint8Array(n);
  let x = seed >>> 0 || 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    out[i] = x & 0xff;
  }
  return out;
}

/** Hex SHA-256 of bytes. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/**
 * The hash field the tracker lists for `bytes`: its SHA-256, and for a file
 * over 1 MiB `:` and the chunk root (SHA-256 of the SHA-256s of its 1 MiB
 * chunks laid end to end), computed here independently of `chunks.ts`.
 */
export function hashToken(bytes: Uint8Array): string {
  const chunk = 1024 * 1024;
  if (bytes.length <= chunk) return sha256(bytes);
  const root = createHash("sha256");
  for (let at = 0; at < bytes.length; at += chunk) {
    root.update(createHash("sha256").update(bytes.subarray(at, at + chunk)).digest());
  }
  return `${sha256(bytes)}:${root.digest("hex")}`;
}

/** A tracker on 127.0.0.1, any free port; `waitFor` resolves on the next event of a type. */
export function testTracker(): Tracker & {
  address: string;
  waitFor: (type: TrackerEvent["type"]) => Promise<TrackerEvent>;
} {
  const waiters: { type: string; resolve: (e: TrackerEvent) => void }[] = [];
  const tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    onEvent: (e) => {
      const i = waiters.findIndex((w) => w.type === e.type);
      if (i >= 0) waiters.splice(i, 1)[0].resolve(e);
    },
  });
  return Object.assign(tracker, {
    address: formatAddress(tracker.addr.hostname, tracker.addr.port),
    waitFor: (type: TrackerEvent["type"]) => new Promise<TrackerEvent>((resolve) => waiters.push({ type, resolve })),
  });
}

/** A peer serving a fresh temporary folder holding `files`; dispose closes it and removes the folder. */
export async function testPeer(
  tracker: string,
  files: Record<string, string | Uint8Array> = {},
  options: Partial<PeerOptions> = {},
): Promise<Peer & { dir: string; address: string }> {
  const dir = await Deno.makeTempDir({ prefix: "p2p-peer-" });
  await writeFiles(dir, files);
  const peer = await Peer.start({ tracker, hostname: "127.0.0.1", port: 0, dir, ...options });
  const close = peer.close.bind(peer);
  return Object.assign(peer, {
    dir,
    address: formatAddress(peer.addr.hostname, peer.addr.port),
    [Symbol.asyncDispose]: async () => {
      await close();
      await Deno.remove(dir, { recursive: true });
    },
  });
}

/** A raw protocol client, as a person with `nc` would be. */
export class LineClient implements Disposable {
  readonly conn: Deno.Conn;
  readonly reader: BufferedReader;

  private constructor(conn: Deno.Conn) {
    this.conn = conn;
    this.reader = new BufferedReader(conn);
  }

  static async connect(port: number): Promise<LineClient> {
    return new LineClient(await Deno.connect({ hostname: "127.0.0.1", port }));
  }

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

  /** Sends `text` and reads the reply. */
  async ask(text: string): Promise<ReplyLine[]> {
    await this.send(text);
    const reply = await this.reply();
    if (reply === null) throw new Error("connection closed");
    return reply;
  }

  [Symbol.dispose](): void {
    closeQuietly(this.conn);
  }
}

/** A fake holder: a server on 127.0.0.1 that runs `handle` for each connection. */
export function fakeHolder(
  handle: (conn: Deno.Conn, request: string) => Promise<void>,
): { address: string; port: number } & AsyncDisposable {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const conns = new Set<Deno.Conn>();
  const sessions: Promise<void>[] = [];
  const loop = (async () => {
    for await (const conn of listener) {
      conns.add(conn);
      sessions.push((async () => {
        try {
          const request = await new BufferedReader(conn).readLine();
          await handle(conn, request ?? "");
        } catch {
          // the downloader hung up: expected in these tests
        } finally {
          closeQuietly(conn);
          conns.delete(conn);
        }
      })());
    }
  })();
  return {
    port: listener.addr.port,
    address: `127.0.0.1:${listener.addr.port}`,
    [Symbol.asyncDispose]: async () => {
      closeQuietly(listener);
      await loop.catch(() => {});
      for (const c of conns) closeQuietly(c);
      await Promise.allSettled(sessions);
    },
  };
}

/** An address where nothing listens (a port bound, then freed). */
export function deadAddress(): string {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = listener.addr.port;
  listener.close();
  return `127.0.0.1:${port}`;
}

/** Names in `dir`, sorted. */
export async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const e of Deno.readDir(dir)) names.push(e.name);
  return names.sort();
}
