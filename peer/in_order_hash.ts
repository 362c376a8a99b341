/**
 * The whole file's SHA-256 of a download whose chunks land in any order,
 * computed as they land ({@link openFileHash}): on a thread of its own for
 * a large file on a machine with cores to spare, so that the thread that
 * moves the bytes never hashes; else on this thread. A chunk is hashed in
 * its turn: from memory (on a thread, its buffer is handed over and comes
 * back to the pool once hashed), else read back from the part file. Should that thread fail, the whole part file is
 * hashed again here at the end: nothing is ever taken as verified unhashed.
 *
 * @module
 */

import { CHUNK_SIZE, chunkSpan } from "../protocol.ts";
import { LocalError } from "../io/errors.ts";
import type { BufferPool } from "../io/streams.ts";
import { type FileHash, openFileHash } from "../disk/hash_thread.ts";
import type { PartFile } from "../disk/part_file.ts";

/** Options of {@link InOrderHash}. */
export interface InOrderHashOptions {
  /** The file's size. */
  size: number;
  /** Where landed chunks are read back from. */
  part: PartFile;
  /** Where the buffers of chunks hashed from memory on the hashing thread come back to. Default: none. */
  pool?: BufferPool;
  /** True: on a thread of its own whatever the size; false: on this thread. Default: by size and cores ({@link openFileHash}). */
  thread?: boolean;
}

/**
 * The SHA-256 of a file whose chunks land in any order. Close it on every
 * path (`using`), so that the hashing thread stops with the last download
 * that used it.
 *
 * @example
 * ```ts ignore
 * using hash = new InOrderHash({ size, part, pool });
 * part.writeAt(index * CHUNK_SIZE, piece);
 * hash.landed(index, piece); // may take piece.buffer: give the piece back to the pool as ever
 * const sha256 = await hash.digest(); // once every chunk landed
 * ```
 */
export class InOrderHash implements Disposable {
  #hash: FileHash;
  #count: number;
  #options: InOrderHashOptions;
  #scratch: Uint8Array | undefined;

  /** Nothing landed yet. */
  constructor(options: InOrderHashOptions) {
    this.#options = options;
    this.#count = Math.ceil(options.size / CHUNK_SIZE);
    const { size, part, pool, thread } = options;
    this.#hash = openFileHash({ path: part.path, size, thread, onReturn: pool && ((b) => pool.adopt(b)) });
  }

  /** True when the hashing runs on a thread of its own. */
  get onThread(): boolean {
    return this.#hash.onThread;
  }

  /**
   * Chunk `index` is written in the part file; `bytes`, if given, are its
   * bytes (a pool's chunk: on a thread its buffer may be handed over, and
   * is then detached here until it comes back to the pool). Throws
   * {@link LocalError} when a chunk hashed here cannot be read back.
   */
  landed(index: number, bytes?: Uint8Array): void {
    try {
      this.#hash.landed(index, { ...chunkSpan(index, this.#options.size), bytes });
    } catch (error) {
      throw this.#localError(error);
    }
  }

  /**
   * Resolves once the hashing thread has room for one more chunk's buffer;
   * `undefined` when it has now. Waiting for it before receiving the next
   * chunk bounds the buffers over there (the hashing thread makes room
   * without anything more from here).
   */
  room(): Promise<void> | undefined {
    return this.#hash.room();
  }

  /**
   * Chunk `index`, found in the part file (an earlier run's) and read into
   * `bytes`, which stay the caller's: hashed from them here, read back
   * again on a thread.
   */
  found(index: number, bytes: Uint8Array): void {
    this.landed(index, this.#hash.onThread ? undefined : bytes);
  }

  /** A buffer of `length` bytes (at most a chunk) to read a chunk into, on this thread; reused, so one at a time. */
  scratch(length: number): Uint8Array {
    this.#scratch ??= new Uint8Array(CHUNK_SIZE);
    return this.#scratch.subarray(0, length);
  }

  /**
   * The hash, in hex; call once, when every chunk has landed. Throws
   * {@link LocalError} when the part file is shorter than written.
   */
  async digest(): Promise<string> {
    try {
      return await this.#hash.digest(this.#count);
    } catch (error) {
      if (!this.#hash.onThread) throw this.#localError(error);
    }
    // The hashing thread failed, or could not read the part file: the whole file, again, here.
    this.#hash.close();
    this.#hash = openFileHash({ path: this.#options.part.path, size: this.#options.size, thread: false });
    for (let i = 0; i < this.#count; i++) this.landed(i);
    return await this.#hash.digest(this.#count).catch((error) => Promise.reject(this.#localError(error)));
  }

  /** Stops using the hashing thread; idempotent. */
  close(): void {
    this.#hash.close();
  }

  /** {@link InOrderHash.close}, for `using`. */
  [Symbol.dispose](): void {
    this.close();
  }

  #localError(error: unknown): LocalError {
    if (error instanceof LocalError) return error;
    return new LocalError(error instanceof Error ? error.message : String(error), { cause: error });
  }
}
