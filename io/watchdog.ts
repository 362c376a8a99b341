/**
 * An idle watchdog: calls back once when nothing was recorded for a while.
 * One timer, re-armed lazily, however often it is touched (the byte path
 * touches it on every read).
 *
 * @module
 */

import { type Clock, systemClock, type TimerHandle } from "./clock.ts";

/** Options of {@link Watchdog}. */
export interface WatchdogOptions {
  /** Whose time. Default {@link systemClock}. */
  clock?: Clock;
}

/**
 * Calls `onExpire` once if {@link Watchdog.touch} is not called for `ms`
 * milliseconds.
 *
 * @example
 * ```ts
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: 5555 });
 * using watchdog = new Watchdog(30_000, () => conn.close());
 * const buffer = new Uint8Array(65_536);
 * while ((await conn.read(buffer)) !== null) watchdog.touch();
 * ```
 */
export class Watchdog implements Disposable {
  #ms: number;
  #clock: Clock;
  #last: number;
  #timer: TimerHandle | undefined;
  #onExpire: () => void;
  #expired = false;
  #paused = 0;

  /** Starts watching. */
  constructor(ms: number, onExpire: () => void, options: WatchdogOptions = {}) {
    this.#ms = ms;
    this.#onExpire = onExpire;
    this.#clock = options.clock ?? systemClock;
    this.#last = this.#clock.now();
    this.#arm(ms);
  }

  /** True once it has fired. */
  get expired(): boolean {
    return this.#expired;
  }

  /** Records activity. */
  touch(): void {
    this.#last = this.#clock.now();
  }

  /** Our own side is holding things up (waiting for rate budget, say): silence meanwhile does not count. */
  pause(): void {
    this.#paused++;
  }

  /** Ends a {@link Watchdog.pause}; the silence is counted from now. */
  resume(): void {
    this.#paused--;
    this.touch();
  }

  /** Stops watching; idempotent. */
  stop(): void {
    this.#clock.clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Same as {@link Watchdog.stop}. */
  [Symbol.dispose](): void {
    this.stop();
  }

  #arm(delay: number): void {
    this.#timer = this.#clock.setTimeout(() => {
      const idle = this.#clock.now() - this.#last;
      if (this.#paused > 0) {
        this.#arm(this.#ms);
      } else if (idle >= this.#ms) {
        this.#expired = true;
        this.#timer = undefined;
        this.#onExpire();
      } else {
        this.#arm(this.#ms - idle);
      }
    }, Math.max(1, delay));
  }
}
