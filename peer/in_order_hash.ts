/**
 * The whole file's SHA-256 of a download whose chunks land in any order:
 * each chunk is fed when its turn comes, from memory if it lands in order,
 * else read back from the part file once the chunks before it are in.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import { CHUNK_SIZE, chunkSpan } from "../protocol.ts";
import { LocalError } from "../io/errors.ts";
import type { PartFile } from "../disk/part_file.ts";

/** Options of {@link InOrderHash}. */
export interface InOrderHashOptions {
  /** The file's size. */
  size: number;
  /** Where landed chunks are read back from. */
  part: PartFile;
  /** Whether chunk `index` has landed. */
  isDone: (index: number) => boolean;
}

/** The SHA-256 of a file, fed in chunk order. */
export class InOrderHash {
  #whole: Hash = createHash("sha256");
  #next = 0;
  #count: number;
  #options: InOrderHashOptions;
  #scratch: Uint8Array | undefined;

  /** Nothing fed yet. */
  constructor(options: InOrderHashOptions) {
    this.#options = options;
    this.#count = Math.ceil(options.size / CHUNK_SIZE);
  }

  /** Feeds chunk `index` from `bytes` if it is the next one; true if it was. */
  offer(index: number, bytes: Uint8Array): boolean {
    if (index !== this.#next) return false;
    this.#whole.update(bytes);
    this.#next++;
    return true;
  }

  /** Feeds every landed chunk whose turn has come, read back from the part file. */
  drain(): void {
    const { size, part, isDone } = this.#options;
    while (this.#next < this.#count && isDone(this.#next)) {
      const { offset, length } = chunkSpan(this.#next, size);
      const buffer = this.scratch(length);
      if (!part.readAt(offset, buffer)) throw new LocalError(`${part.path} is shorter than written`);
      this.#whole.update(buffer);
      this.#next++;
    }
  }

  /** A buffer of `length` bytes (at most a chunk) to read a chunk back into; reused, so one at a time. */
  scratch(length: number): Uint8Array {
    this.#scratch ??= new Uint8Array(CHUNK_SIZE);
    return this.#scratch.subarray(0, length);
  }

  /** The hash, in hex; call once, when every chunk was fed. */
  digest(): string {
    return this.#whole.digest("hex");
  }
}
