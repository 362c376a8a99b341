/**
 * Specifies `io/clock.ts`: `sleep` resolves true once its time has passed
 * on the clock it is given, and false at once when its signal aborts (or
 * was aborted already), leaving no timer behind; `systemClock` runs real
 * timers, clears them, and holds a delay too long for the runtime instead
 * of firing it at once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { MAX_TIMER_MS, sleep, systemClock } from "../../io/clock.ts";
import { within } from "../helpers/events.ts";
import { ManualClock, settle } from "../helpers/clock.ts";

/** Tracks whether a promise has settled, and with what: a state that changes as it does. */
function settlement<T>(promise: Promise<T>): { settled: boolean; value?: T } {
  const state: { settled: boolean; value?: T } = { settled: false };
  promise.then((value) => Object.assign(state, { settled: true, value }));
  return state;
}

/** Resolves after `ms` of real time: for the tests of the real clock only. */
function realDelay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("clock: sleep resolves true once its time has passed on its clock, not before", async () => {
  const clock = new ManualClock();
  const slept = settlement(sleep(100, { clock }));
  await clock.advance(99);
  assert.equal(slept.settled, false);
  await clock.advance(1);
  assert.deepEqual(slept, { settled: true, value: true });
  assert.equal(clock.pending, 0);
});

Deno.test("clock: sleep resolves false at once when its signal aborts, and clears its timer", async () => {
  const clock = new ManualClock();
  const stop = new AbortController();
  const slept = settlement(sleep(60_000, { clock, signal: stop.signal }));
  await settle();
  assert.equal(slept.settled, false);
  assert.equal(clock.pending, 1);
  stop.abort();
  await settle();
  assert.deepEqual(slept, { settled: true, value: false });
  assert.equal(clock.pending, 0, "the timer is cleared");
  // A sleep that ran its course is not changed by a later abort.
  const other = new AbortController();
  const done = settlement(sleep(10, { clock, signal: other.signal }));
  await clock.advance(10);
  other.abort();
  await settle();
  assert.deepEqual(done, { settled: true, value: true });
});

Deno.test("clock: sleep with a signal already aborted resolves false without setting a timer", async () => {
  const clock = new ManualClock();
  assert.equal(await sleep(60_000, { clock, signal: AbortSignal.abort() }), false);
  assert.equal(clock.pending, 0);
});

Deno.test("clock: systemClock fires a 1 ms timer, clears another, and its time moves on", async () => {
  const before = systemClock.now();
  let cleared = false;
  const handle = systemClock.setTimeout(() => cleared = true, 1);
  systemClock.clearTimeout(handle);
  systemClock.clearTimeout(undefined); // ignored
  await within("a 1 ms timer", new Promise<void>((resolve) => systemClock.setTimeout(resolve, 1)));
  await realDelay(5);
  assert.equal(cleared, false, "a cleared timer does not fire");
  assert.ok(systemClock.now() > before);
  assert.equal(await within("sleep(1)", sleep(1)), true, "sleep uses the system clock by default");
});

Deno.test("clock: systemClock holds a delay longer than the runtime's timers take instead of firing at once", async () => {
  let fired = false;
  const handle = systemClock.setTimeout(() => fired = true, MAX_TIMER_MS * 4);
  try {
    await realDelay(20);
    assert.equal(fired, false);
  } finally {
    systemClock.clearTimeout(handle);
  }
});
