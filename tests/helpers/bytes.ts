/**
 * Bytes in memory for tests: pieces laid end to end, a search for a run of
 * bytes, and a source that hands out given chunks as the wire would.
 *
 * @module
 */

import type { ByteSource } from "../../io/streams.ts";

/** `parts` laid end to end, in one new array. */
export function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Whether the bytes of `needle` occur, in a row, in `haystack` (an empty needle always does). */
export function containsBytes(haystack: Uint8Array, needle: Uint8Array): boolean {
  if (needle.length === 0) return true;
  for (let at = haystack.indexOf(needle[0]); at !== -1; at = haystack.indexOf(needle[0], at + 1)) {
    if (at + needle.length > haystack.length) return false;
    let i = 1;
    while (i < needle.length && haystack[at + i] === needle[i]) i++;
    if (i === needle.length) return true;
  }
  return false;
}

/** A source that hands out `chunks` one read at a time (a read never spans two chunks). */
export class ChunkSource implements ByteSource {
  #chunks: Uint8Array[];
  /** Calls of `read`. */
  reads = 0;
  /** Largest buffer a caller asked to fill. */
  largestRequest = 0;

  /** A source of `chunks`, in order (empty ones are dropped). */
  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks.filter((c) => c.length > 0);
  }

  /** Fills `buffer` from the next chunk, as far as it goes; null once every chunk is read. */
  read(buffer: Uint8Array): Promise<number | null> {
    this.reads++;
    this.largestRequest = Math.max(this.largestRequest, buffer.length);
    const chunk = this.#chunks[0];
    if (!chunk) return Promise.resolve(null);
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return Promise.resolve(n);
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.#chunks.reduce((sum, c) => sum + c.length, 0);
  }
}
