/**
 * Chunks: a file cut into 1 MiB pieces, each with its own SHA-256, so that a
 * downloader can check every piece as it arrives from any holder. The list
 * of chunk hashes is bound to the file by its *root*, the SHA-256 of the
 * hashes laid end to end, which the holder announces to the tracker next to
 * the whole file's SHA-256. A file of at most one chunk needs no list: its
 * one chunk hash is the file's SHA-256, and its root follows from it.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { CHUNK_BYTES } from "../io/streams.ts";

/** Size of every chunk but the last. Fixed by the protocol: the root of a file depends on it. */
export const CHUNK_SIZE = CHUNK_BYTES;

/** Bytes of one chunk hash. */
export const HASH_BYTES = 32;

/** How many chunks a file of `size` bytes has (0 for an empty file). */
export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_SIZE);
}

/** Offset and length of chunk `index` of a file of `size` bytes. */
export function chunkSpan(index: number, size: number): { offset: number; length: number } {
  const offset = index * CHUNK_SIZE;
  return { offset, length: Math.min(CHUNK_SIZE, size - offset) };
}

/** The root of a list of chunk hashes laid end to end. */
export function rootOf(hashes: Uint8Array): string {
  return createHash("sha256").update(hashes).digest("hex");
}

/**
 * The chunk hashes of a file of at most one chunk, which follow from its
 * SHA-256 alone (none for an empty file); `undefined` for a bigger file.
 */
export function impliedChunks(size: number, sha256: string): Uint8Array | undefined {
  if (size === 0) return new Uint8Array(0);
  if (size <= CHUNK_SIZE) return hexToBytes(sha256);
  return undefined;
}

/** The root of a file of at most one chunk; `undefined` for a bigger file (its root must be announced). */
export function impliedRoot(size: number, sha256: string): string | undefined {
  const chunks = impliedChunks(size, sha256);
  return chunks && rootOf(chunks);
}

/** Lower-case hex of `bytes`. */
export function bytesToHex(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]];
  return hex;
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/** Bytes of an even-length hex string (checked by the caller). */
export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(2 * i, 2), 16);
  return bytes;
}

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

/** True when chunk `index` of `list` is `digest`. */
export function chunkMatches(list: Uint8Array, index: number, digest: Uint8Array): boolean {
  const at = index * HASH_BYTES;
  for (let i = 0; i < HASH_BYTES; i++) if (list[at + i] !== digest[i]) return false;
  return true;
}
