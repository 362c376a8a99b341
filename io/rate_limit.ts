/**
 * A shared byte budget (`--max-upload-rate`, `--max-download-rate`): every
 * writer or reader takes its bytes from it, in turn.
 *
 * @module
 */

import { type Clock, sleep, systemClock } from "./clock.ts";

/** Options of {@link RateLimit}. */
export interface RateLimitOptions {
  /** Whose time. Default {@link systemClock}. */
  clock?: Clock;
}

/**
 * A shared budget of `bytesPerSecond`: every writer takes its bytes from it
 * before writing, in turn, first come first served. A writer may overdraw by
 * one slice; the next one then waits until the debt is paid back.
 *
 * @example
 * ```ts
 * const limit = new RateLimit(64 * 1024);
 * const bytes = new Uint8Array(128 * 1024);
 * for (let at = 0; at < bytes.length; at += limit.slice) {
 *   const slice = bytes.subarray(at, at + limit.slice);
 *   await limit.take(slice.length);
 *   await Deno.stdout.write(slice);
 * }
 * ```
 */
export class RateLimit {
  /** Bytes per second. */
  readonly rate: number;
  #clock: Clock;
  #balance = 0;
  #last: number;
  #queue: Promise<void> = Promise.resolve();

  /** A budget of `bytesPerSecond` (> 0). */
  constructor(bytesPerSecond: number, options: RateLimitOptions = {}) {
    this.rate = bytesPerSecond;
    this.#clock = options.clock ?? systemClock;
    this.#last = this.#clock.now();
  }

  /** Writes slices this big, so that a slow budget still shows steady progress. */
  get slice(): number {
    return Math.max(1024, Math.min(64 * 1024, Math.floor(this.rate / 16)));
  }

  /** Resolves when `n` bytes may go; a writer `cancelled` by then spends nothing (and should not write). */
  take(n: number, cancelled?: () => boolean): Promise<void> {
    const turn = this.#queue.then(() => cancelled?.() ? undefined : this.#spend(n));
    this.#queue = turn;
    return turn;
  }

  async #spend(n: number): Promise<void> {
    const now = this.#clock.now();
    // Credit for idle time is capped at one slice: no burst after a pause.
    this.#balance = Math.min(this.slice, this.#balance + (now - this.#last) * this.rate / 1000);
    this.#last = now;
    this.#balance -= n;
    if (this.#balance < 0) await sleep(-this.#balance / this.rate * 1000, { clock: this.#clock });
  }
}
