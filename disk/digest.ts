/**
 * Hashing files: the whole file's SHA-256 and, chunk by chunk, the chunk
 * hashes and their root (the rule is `protocol.ts`'s), in one read.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CHUNK_SIZE, HASH_BYTES, impliedChunks, rootOf } from "../protocol.ts";

/** What a full read of a file gives: its size, SHA-256, chunk hashes and root. */
export interface FileDigest {
  size: number;
  sha256: string;
  /** The chunk hashes, {@link HASH_BYTES} each, in order. */
  chunks: Uint8Array;
  root: string;
}

/**
 * Reads a file once and hashes it whole and chunk by chunk. A file of one
 * chunk is hashed once (its chunk hash is its SHA-256). `onBytes` is told
 * each piece read (for a progress display).
 */
export async function digestFile(path: string, onBytes?: (n: number) => void): Promise<FileDigest> {
  using file = await Deno.open(path);
  const whole = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_SIZE);
  const hashes: Uint8Array[] = [];
  let size = 0;
  while (true) {
    let filled = 0;
    while (filled < CHUNK_SIZE) {
      const n = await file.read(buffer.subarray(filled));
      if (n === null) break;
      filled += n;
    }
    if (filled === 0) break;
    const chunk = buffer.subarray(0, filled);
    whole.update(chunk);
    size += filled;
    onBytes?.(filled);
    // A short first chunk is the whole file: its hash is the file's, no second pass.
    if (size < CHUNK_SIZE) break;
    hashes.push(createHash("sha256").update(chunk).digest());
    if (filled < CHUNK_SIZE) break;
  }
  const sha256 = whole.digest("hex");
  const chunks = impliedChunks(size, sha256) ?? new Uint8Array(hashes.length * HASH_BYTES);
  if (size > CHUNK_SIZE) hashes.forEach((h, i) => chunks.set(h, i * HASH_BYTES));
  return { size, sha256, chunks, root: rootOf(chunks) };
}

/** The digest of a file of at most one chunk, from its bytes. */
export function digestSmall(bytes: Uint8Array): FileDigest {
  if (bytes.length > CHUNK_SIZE) throw new RangeError("more than one chunk");
  const sha256 = createHash("sha256").update(bytes).digest("hex");
  const chunks = impliedChunks(bytes.length, sha256)!;
  return { size: bytes.length, sha256, chunks, root: rootOf(chunks) };
}

/** SHA-256 of a whole file, read in {@link CHUNK_SIZE} pieces. */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  using file = await Deno.open(path);
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_SIZE);
  let size = 0;
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    size += n;
  }
  return { size, sha256: hash.digest("hex") };
}
