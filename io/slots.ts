/**
 * A count of things under way with a ceiling, shared by whoever takes from
 * it: the TCP file server and the HTTP face take their connections (and
 * their uploads) from one count, so that `--max-connections` and
 * `--max-uploads` hold for both together.
 *
 * @module
 */

/**
 * At most `max` taken at once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const slots = new Slots(1);
 * assert.equal(slots.take(), true);
 * assert.equal(slots.take(), false);
 * slots.release();
 * assert.equal(slots.take(), true);
 * ```
 */
export class Slots {
  /** The ceiling. */
  readonly max: number;
  #used = 0;

  /** A count with ceiling `max`. */
  constructor(max: number) {
    this.max = max;
  }

  /** How many are taken now. */
  get used(): number {
    return this.#used;
  }

  /** Takes one if one is free; false (nothing taken) when all `max` are. */
  take(): boolean {
    if (this.#used >= this.max) return false;
    this.#used++;
    return true;
  }

  /** Gives one back. */
  release(): void {
    if (this.#used > 0) this.#used--;
  }
}
