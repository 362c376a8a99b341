/**
 * A clock a test moves by hand: timers fire only when the test says time
 * has passed, so a test of a timeout takes no time and cannot be late;
 * and, once what is ready has run, whether a promise has settled yet (so
 * that a test can say "not before" without waiting).
 *
 * @module
 */

import type { Clock, TimerHandle } from "../../io/clock.ts";

interface Timer {
  at: number;
  callback: () => void;
}

/** A {@link Clock} that stands still until {@link ManualClock.advance}. */
export class ManualClock implements Clock {
  #now: number;
  #timers = new Map<number, Timer>();
  #nextId = 1;

  /** A clock at `start` ms. */
  constructor(start = 1_000_000) {
    this.#now = start;
  }

  /** The time now, ms. */
  now(): number {
    return this.#now;
  }

  /** Calls `callback` once the clock has been moved `ms` on. */
  setTimeout(callback: () => void, ms: number): TimerHandle {
    const id = this.#nextId++;
    this.#timers.set(id, { at: this.#now + Math.max(0, ms), callback });
    return id;
  }

  /** Cancels a timer. */
  clearTimeout(handle: TimerHandle | undefined): void {
    this.#timers.delete(handle as number);
  }

  /** Timers set and not yet fired or cleared. */
  get pending(): number {
    return this.#timers.size;
  }

  /** Ms until the first pending timer is due; `Infinity` when none is. */
  get nextDueMs(): number {
    let at = Infinity;
    for (const timer of this.#timers.values()) at = Math.min(at, timer.at);
    return at - this.#now;
  }

  /**
   * Moves the clock `ms` on, firing every timer due on the way in order;
   * after each, what it set off (promises, and one turn of the event loop
   * for I/O) runs before the next fires.
   */
  async advance(ms: number): Promise<void> {
    const target = this.#now + ms;
    while (true) {
      let next: [number, Timer] | undefined;
      for (const entry of this.#timers) if (entry[1].at <= target && (!next || entry[1].at < next[1].at)) next = entry;
      if (!next) break;
      this.#timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].callback();
      await settle();
    }
    this.#now = target;
    await settle();
  }
}

/** Lets what is ready run: promise reactions, and one turn of the event loop. */
export async function settle(): Promise<void> {
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/** Whether `promise` has settled (after letting what is ready run, as {@link settle} does). */
export async function settled(promise: Promise<unknown>): Promise<boolean> {
  let done = false;
  promise.then(() => done = true, () => done = true);
  await settle();
  return done;
}
