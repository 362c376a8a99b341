/**
 * The one random source of the tests: seeded (xorshift32), so that a
 * failure reproduces with the same bytes and the same choices.
 *
 * @module
 */

/** A seeded generator of numbers, choices and bytes. */
export class SeededRandom {
  #x: number;

  /** A generator; the same seed gives the same sequence. */
  constructor(seed = 1) {
    this.#x = seed >>> 0 || 1;
  }

  /** The next 32 random bits, as an unsigned integer. */
  bits(): number {
    this.#x ^= this.#x << 13;
    this.#x ^= this.#x >>> 17;
    this.#x ^= this.#x << 5;
    return this.#x >>> 0;
  }

  /** A number in [0, 1). */
  next(): number {
    return this.bits() / 2 ** 32;
  }

  /** An integer in [0, n). */
  int(n: number): number {
    return Math.floor(this.next() * n);
  }

  /** One of `items`. */
  pick<T>(items: readonly T[]): T {
    return items[this.int(items.length)];
  }

  /** `n` bytes; the first 256 are every byte value in turn, so that any byte that would break a line is there. */
  bytes(n: number): Uint8Array<ArrayBuffer> {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i++) out[i] = i < 256 ? i : this.bits() & 0xff;
    return out;
  }
}

/** `n` seeded pseudo-random bytes (the same `seed`, the same bytes), every byte value among the first 256. */
export function randomBytes(n: number, seed = 1): Uint8Array<ArrayBuffer> {
  return new SeededRandom(seed).bytes(n);
}
