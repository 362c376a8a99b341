/**
 * The hash cache: what hashing a shared folder's files found, kept on disk
 * in a hidden file of the folder (`.p2p-hashes`, never shared), so that a
 * restarted peer announces at once instead of reading every file again.
 * An entry counts only while the file's size, modification time and change
 * time are those recorded (the change time catches a file replaced by one
 * of the same size with its old modification time restored, as `cp -p` or
 * a backup restore do).
 *
 * One line per file, plain text:
 *
 * ```text
 * p2p-hash-cache 2
 * <size> <mtime ms> <ctime ms> <sha256> <chunk hashes in hex, or -> <name, %-encoded>
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { bytesToHex, CHUNK_SIZE, decodeName, encodeName, HASH_BYTES, hexToBytes, impliedChunks } from "../protocol.ts";
import { errorMessage } from "../io/errors.ts";

/** The cache's file name inside the shared folder. */
export const CACHE_FILE = ".p2p-hashes";
const HEADER = "p2p-hash-cache 2";
/**
 * On a file system whose times count whole seconds, a file changed within
 * this long before it was hashed is not written to the cache: another
 * change in the same second would leave size and times as recorded, and the
 * cache would lie (the "racy" case). Finer times make that case moot.
 */
const RACY_MS = 2_000;

/** Size and times of a file, as its stat gives them; what a cache entry is keyed by (with the name). */
export interface Stamp {
  size: number;
  mtimeMs: number;
  ctimeMs: number;
}

/** The stamp of `info`, or `undefined` where the file system gives no times (then nothing is cached). */
export function stampOf(info: Deno.FileInfo): Stamp | undefined {
  const mtimeMs = info.mtime?.getTime();
  const ctimeMs = info.ctime?.getTime();
  return mtimeMs === undefined || ctimeMs === undefined ? undefined : { size: info.size, mtimeMs, ctimeMs };
}

/** Whether two stamps are the same. */
export function sameStamp(a: Stamp | undefined, b: Stamp | undefined): boolean {
  return a !== undefined && b !== undefined && a.size === b.size && a.mtimeMs === b.mtimeMs &&
    a.ctimeMs === b.ctimeMs;
}

/** What the cache remembers of one file. */
export interface CachedDigest {
  stamp: Stamp;
  sha256: string;
  /** Chunk hashes, 32 bytes each. */
  chunks: Uint8Array;
}

/** Options of {@link HashCache.set}. */
export interface CacheSetOptions {
  /** When the hashing began (ms since the epoch, taken before the file was read): a file changed just before is racy. */
  hashedSince: number;
  /** A file we wrote ourselves and verified (a download): never racy. Default false. */
  trusted?: boolean;
}

/** The cache of one folder. */
export class HashCache {
  /** Where the cache file is. */
  readonly path: string;
  #entries = new Map<string, CachedDigest & { racy: boolean }>();
  #dirty = false;

  private constructor(folder: string) {
    this.path = join(folder, CACHE_FILE);
  }

  /**
   * Reads the cache of `folder`; a missing or unreadable cache is an empty
   * one, bad lines are skipped, and so is a last line without its line feed.
   */
  static async load(folder: string): Promise<HashCache> {
    const cache = new HashCache(folder);
    let text: string;
    try {
      text = await Deno.readTextFile(cache.path);
    } catch {
      return cache;
    }
    const lines = text.split("\n");
    if (lines[0] !== HEADER) return cache;
    // After the last line feed: nothing, or a line cut short (a cache written half-way by something else), which
    // could still parse, as another file's entry under a name cut to this one's.
    lines.pop();
    for (const line of lines.slice(1)) {
      const entry = parseLine(line);
      // Entries on disk were not racy when written.
      if (entry) cache.#entries.set(entry.name, { ...entry.digest, racy: false });
    }
    return cache;
  }

  /** How many files it knows. */
  get size(): number {
    return this.#entries.size;
  }

  /** What it knows of `name`, if the file still has that stamp. */
  get(name: string, stamp: Stamp | undefined): CachedDigest | undefined {
    const entry = this.#entries.get(name);
    return entry && sameStamp(entry.stamp, stamp) ? entry : undefined;
  }

  /** Records what hashing `name` gave; see {@link CacheSetOptions} for when it is kept. */
  set(name: string, digest: CachedDigest, options: CacheSetOptions): void {
    const { mtimeMs } = digest.stamp;
    const racy = !options.trusted && mtimeMs % 1000 === 0 && options.hashedSince - mtimeMs < RACY_MS;
    this.#entries.set(name, { ...digest, racy });
    this.#dirty = true;
  }

  /** Forgets the files not in `names` (they left the folder). */
  keepOnly(names: ReadonlySet<string>): void {
    for (const name of this.#entries.keys()) {
      if (!names.has(name)) {
        this.#entries.delete(name);
        this.#dirty = true;
      }
    }
  }

  /** Forgets `name`. */
  delete(name: string): void {
    if (this.#entries.delete(name)) this.#dirty = true;
  }

  /**
   * Writes the cache if it changed: to a temporary file, then renamed over
   * the old one, so that a crash leaves the old cache or the new, never half.
   */
  async save(): Promise<void> {
    if (!this.#dirty) return;
    this.#dirty = false;
    const lines = [HEADER];
    for (const [name, e] of this.#entries) {
      if (e.racy) continue;
      const { size, mtimeMs, ctimeMs } = e.stamp;
      const chunks = size > CHUNK_SIZE ? bytesToHex(e.chunks) : "-";
      lines.push(`${size} ${mtimeMs} ${ctimeMs} ${e.sha256} ${chunks} ${encodeName(name)}`);
    }
    const temporary = `${this.path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await Deno.writeTextFile(temporary, lines.join("\n") + "\n");
      await Deno.rename(temporary, this.path);
    } catch (error) {
      this.#dirty = true;
      await Deno.remove(temporary).catch(() => {});
      // The same failure reads the same each time (not with a new temporary name), so that it is told once.
      const message = errorMessage(error).replaceAll(temporary, `${this.path}.<random>.tmp`);
      throw new Error(message, { cause: error });
    }
  }
}

function parseLine(line: string): { name: string; digest: CachedDigest } | undefined {
  const m = /^(\d+) (\d+) (\d+) ([0-9a-f]{64}) ([0-9a-f]+|-) (.+)$/.exec(line);
  if (!m) return undefined;
  const [size, mtimeMs, ctimeMs] = [m[1], m[2], m[3]].map(Number);
  const sha256 = m[4];
  if (![size, mtimeMs, ctimeMs].every(Number.isSafeInteger)) return undefined;
  let chunks = impliedChunks(size, sha256);
  if (!chunks) {
    if (m[5].length !== Math.ceil(size / CHUNK_SIZE) * HASH_BYTES * 2) return undefined;
    chunks = hexToBytes(m[5]);
  }
  try {
    return { name: decodeName(m[6]), digest: { stamp: { size, mtimeMs, ctimeMs }, sha256, chunks } };
  } catch {
    return undefined;
  }
}
