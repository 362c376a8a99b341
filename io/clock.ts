/**
 * Time, as the parts that wait see it: the time now and timers. Everything
 * that waits (watchdogs, rate limits, waits at the tracker, the folder
 * watcher's quiet periods, backoff) takes a {@link Clock} option, so that
 * a test can move time on by hand instead of sleeping.
 *
 * @module
 */

/** A timer a {@link Clock} set, to clear with the same clock (opaque: each clock has its own kind). */
export type TimerHandle = unknown;

/** The time now, and timers. */
export interface Clock {
  /** Milliseconds on a monotonic scale (like `performance.now()`). */
  now(): number;
  /** Calls `callback` once, after `ms`. */
  setTimeout(callback: () => void, ms: number): TimerHandle;
  /** Cancels a timer; unknown or fired handles are ignored. */
  clearTimeout(handle: TimerHandle | undefined): void;
}

/** The longest delay a timer can hold (2^31 - 1 ms). */
export const MAX_TIMER_MS = 2 ** 31 - 1;

/** The real clock: `performance.now()` and the runtime's timers. */
export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (callback, ms) => setTimeout(callback, Math.min(MAX_TIMER_MS, Math.max(0, ms))),
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout> | undefined),
};

/** Options of {@link sleep}. */
export interface SleepOptions {
  /** Ends the sleep early. */
  signal?: AbortSignal;
  /** Whose time. Default {@link systemClock}. */
  clock?: Clock;
}

/**
 * Resolves true after `ms`, or false at once when `options.signal` aborts.
 *
 * @example
 * ```ts
 * const stop = new AbortController();
 * setTimeout(() => stop.abort(), 10);
 * const slept = await sleep(60_000, { signal: stop.signal });
 * console.log(slept ? "a minute passed" : "cancelled");
 * ```
 */
export function sleep(ms: number, options: SleepOptions = {}): Promise<boolean> {
  const { signal, clock = systemClock } = options;
  if (signal?.aborted) return Promise.resolve(false);
  return new Promise((resolve) => {
    const done = (value: boolean) => {
      clock.clearTimeout(timer);
      signal?.removeEventListener("abort", abort);
      resolve(value);
    };
    const abort = () => done(false);
    const timer = clock.setTimeout(() => done(true), ms);
    signal?.addEventListener("abort", abort, { once: true });
  });
}
