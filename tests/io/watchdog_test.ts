/**
 * Specifies `io/watchdog.ts`, the idle `Watchdog`, on a `ManualClock` (no
 * test sleeps): it fires once, after a whole idle period, and never while it
 * is touched; a pause does not count as silence; stop() is idempotent and a
 * stopped watchdog leaves no timer behind.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Watchdog } from "../../io/watchdog.ts";
import { ManualClock } from "../helpers/clock.ts";

const MS = 30_000;

/** A watchdog of `ms` on a fresh manual clock, counting its firings. */
function watched(ms = MS) {
  const clock = new ManualClock();
  const state = { fired: 0 };
  const dog = new Watchdog(ms, () => state.fired++, { clock });
  return { clock, dog, state };
}

Deno.test("watchdog: one that is not touched fires once, after its idle period and not before", async () => {
  const { clock, dog, state } = watched();
  await clock.advance(MS - 1);
  assert.equal(state.fired, 0, "not before its time");
  assert.equal(dog.expired, false);
  await clock.advance(1);
  assert.equal(state.fired, 1);
  assert.equal(dog.expired, true);
  await clock.advance(10 * MS); // a second firing would have had ten periods to happen
  assert.equal(state.fired, 1);
  assert.equal(clock.pending, 0, "no timer is left once it fired");
  dog.stop();
});

Deno.test("watchdog: it fires only once it has been idle for its whole period since the last touch", async () => {
  const { clock, dog, state } = watched();
  // Touched at uneven times, the last one at 2.5 periods.
  for (const step of [1_000, MS - 1, 7, MS / 2, MS - 2, 12_000]) {
    await clock.advance(step);
    assert.equal(state.fired, 0, `touched ${step} ms after the last touch`);
    dog.touch();
  }
  await clock.advance(MS - 1);
  assert.equal(state.fired, 0, "one millisecond short of a whole idle period");
  await clock.advance(1);
  assert.equal(state.fired, 1);
  assert.equal(dog.expired, true);
});

Deno.test("watchdog: one that is touched often never fires", async () => {
  const { clock, dog, state } = watched(150);
  for (let t = 0; t < 3 * 150; t += 5) {
    await clock.advance(5);
    dog.touch();
  }
  assert.equal(state.fired, 0);
  assert.equal(dog.expired, false);
  dog.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("watchdog: a paused one does not count the silence; after resume it counts from then", async () => {
  const { clock, dog, state } = watched();
  await clock.advance(MS / 2);
  dog.pause();
  dog.pause(); // two holds at once: both must end
  await clock.advance(10 * MS);
  assert.equal(state.fired, 0, "silence while paused is ours, not the other side's");
  dog.resume();
  await clock.advance(10 * MS);
  assert.equal(state.fired, 0, "still paused once");
  dog.resume();
  await clock.advance(MS - 1);
  assert.equal(state.fired, 0, "the silence counts from the resume");
  await clock.advance(1);
  assert.equal(state.fired, 1);
  assert.equal(dog.expired, true);
});

Deno.test("watchdog: a stopped one never fires, leaves no timer, and stop() may be called twice", async () => {
  const clock = new ManualClock();
  let fired = false;
  const dog = new Watchdog(20, () => fired = true, { clock });
  dog.stop();
  dog.stop();
  {
    using disposed = new Watchdog(20, () => fired = true, { clock });
    disposed.touch();
  }
  assert.equal(clock.pending, 0, "stop and dispose clear their timers");
  await clock.advance(1_000);
  assert.equal(fired, false);
  assert.equal(dog.expired, false);
});
