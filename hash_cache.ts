/**
 * The hash cache: what hashing a shared folder's files found, kept on disk
 * in a hidden file of the folder (`.p2p-hashes`, never shared), so that a
 * restarted peer announces at once instead of reading every file again.
 * An entry counts only while the file's size and modification time are
 * those recorded.
 *
 * One line per file, plain text:
 *
 * ```text
 * p2p-hash-cache 1
 * <size> <mtime ms> <sha256> <chunk hashes in hex, or -> <name, %-encoded>
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { bytesToHex, CHUNK_SIZE, HASH_BYTES, hexToBytes, impliedChunks } from "./chunks.ts";
import { decodeName, encodeName } from "./protocol.ts";

/** The cache's file name inside the shared folder. */
export const CACHE_FILE = ".p2p-hashes";
const HEADER = "p2p-hash-cache 1";
/**
 * A file changed within this long before it was hashed is not written to
 * the cache: another change within the same clock tick would leave size and
 * time as recorded, and the cache would lie (the "racy" case).
 */
const RACY_MS = 2_000;

/** What the cache remembers of one file. */
export interface CachedDigest {
  size: number;
  mtimeMs: number;
  sha256: string;
  /** Chunk hashes, 32 bytes each. */
  chunks: Uint8Array;
}

/** The cache of one folder. */
export class HashCache {
  readonly path: string;
  #entries = new Map<string, CachedDigest & { hashedAt: number }>();
  #dirty = false;

  private constructor(folder: string) {
    this.path = join(folder, CACHE_FILE);
  }

  /** Reads the cache of `folder`; a missing or unreadable cache is an empty one, bad lines are skipped. */
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
    for (const line of lines.slice(1)) {
      const entry = parseLine(line);
      // Entries on disk were not racy when written.
      if (entry) cache.#entries.set(entry.name, { ...entry.digest, hashedAt: Infinity });
    }
    return cache;
  }

  /** How many files it knows. */
  get size(): number {
    return this.#entries.size;
  }

  /** What it knows of `name`, if the file still has that size and modification time. */
  get(name: string, size: number, mtimeMs: number | null): CachedDigest | undefined {
    const entry = this.#entries.get(name);
    if (!entry || mtimeMs === null || entry.size !== size || entry.mtimeMs !== mtimeMs) return undefined;
    return entry;
  }

  /** Records a file just hashed (or verified). */
  set(name: string, digest: CachedDigest): void {
    this.#entries.set(name, { ...digest, hashedAt: Date.now() });
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
      if (e.hashedAt - e.mtimeMs < RACY_MS) continue;
      const chunks = e.size > CHUNK_SIZE ? bytesToHex(e.chunks) : "-";
      lines.push(`${e.size} ${e.mtimeMs} ${e.sha256} ${chunks} ${encodeName(name)}`);
    }
    const temporary = `${this.path}.${crypto.randomUUID().slice(0, 8)}.tmp`;
    try {
      await Deno.writeTextFile(temporary, lines.join("\n") + "\n");
      await Deno.rename(temporary, this.path);
    } catch (error) {
      this.#dirty = true;
      await Deno.remove(temporary).catch(() => {});
      throw error;
    }
  }
}

function parseLine(line: string): { name: string; digest: CachedDigest } | undefined {
  const m = /^(\d+) (\d+) ([0-9a-f]{64}) ([0-9a-f]+|-) (.+)$/.exec(line);
  if (!m) return undefined;
  const size = Number(m[1]);
  const mtimeMs = Number(m[2]);
  const sha256 = m[3];
  if (!Number.isSafeInteger(size) || !Number.isSafeInteger(mtimeMs)) return undefined;
  let chunks = impliedChunks(size, sha256);
  if (!chunks) {
    if (m[4].length !== Math.ceil(size / CHUNK_SIZE) * HASH_BYTES * 2) return undefined;
    chunks = hexToBytes(m[4]);
  }
  try {
    return { name: decodeName(m[5]), digest: { size, mtimeMs, sha256, chunks } };
  } catch {
    return undefined;
  }
}
