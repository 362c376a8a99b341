/**
 * The one random source of the tests: seeded (xorshift32), so that a
 * failure reproduces with the same bytes and the same choices; and the
 * random lines it makes for the fuzz tests (lines of the protocol with
 * random edits, or random text).
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

/** One line of each kind the protocol carries (requests, entries, answers, reply lines): seeds for {@link mutatedLine}. */
export const PROTOCOL_LINES: readonly string[] = [
  "UPDATE 5555 2",
  `12 ${"ab".repeat(32)} file.txt`,
  `${2 * 1024 * 1024} ${"ab".repeat(32)}:${"cd".repeat(32)} big file.bin`,
  "SEND a.txt, b%2C c.txt",
  "GET notes.md",
  "RANGE 0 1048576 big.bin",
  "HASHES big.bin",
  `200 12 ${"ab".repeat(32)}`,
  `206 100 ${"ab".repeat(32)} 10 20`,
  `200 HASHES 3000000 ${"ab".repeat(32)} 1048576 3`,
  "REPORT 127.0.0.1:5555 EHASH 1048576 big.bin",
  "200-HOLDER 127.0.0.1:5555 12 x",
];

/** What {@link mutatedLine} builds random text from and inserts: separators, escapes, NUL, non-ASCII, line breaks. */
export const LINE_ALPHABET: readonly string[] = [
  ..."aZ09 ,%:.-/\\\t\r*[]",
  "\u0000",
  "\u00e9",
  "\u2028",
  "\ud83d\ude00",
  "%2C",
  "%00",
  "..",
  "\n",
];

/**
 * A random line of {@link LINE_ALPHABET} (three times in ten), or one of
 * `seeds` with one to four random edits: a piece inserted, a few characters
 * cut, a number (sometimes 2^53) inserted, or its tail repeated.
 */
export function mutatedLine(r: SeededRandom, seeds: readonly string[] = PROTOCOL_LINES): string {
  if (r.next() < 0.3) return Array.from({ length: r.int(40) }, () => r.pick(LINE_ALPHABET)).join("");
  let s = r.pick(seeds);
  for (let edits = 1 + r.int(4); edits > 0; edits--) {
    const at = r.int(s.length + 1);
    const kind = r.int(4);
    if (kind === 0) s = s.slice(0, at) + r.pick(LINE_ALPHABET) + s.slice(at);
    else if (kind === 1) s = s.slice(0, at) + s.slice(at + 1 + r.int(5));
    else if (kind === 2) s = s.slice(0, at) + String(r.int(2) ? 2 ** 53 : r.int(100_000)) + s.slice(at);
    else s = s.slice(0, at) + s.slice(at).repeat(1 + r.int(3));
  }
  return s;
}
