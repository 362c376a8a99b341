/**
 * The tracker's waiting list (`tracker/waits.ts`), on a clock moved by
 * hand: a wait ends with `FOUND` the moment its name is announced (once,
 * and only to the sessions waiting), or with `EXPIRED` exactly when its time
 * runs out and not a millisecond before; a session's waits and their timers
 * go when it is forgotten; a session waits for at most 1,024 names.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Limits } from "../../protocol.ts";
import { type Waiter, WaitingList } from "../../tracker/waits.ts";
import { throwsStatus } from "../helpers/assert.ts";
import { ManualClock } from "../helpers/clock.ts";

/** A session as the waiting list sees it: it records what it is pushed. */
class FakeWaiter implements Waiter {
  readonly pushed: string[] = [];
  push(text: string): void {
    this.pushed.push(text);
  }
}

/** `n` names: `prefix0`, `prefix1`, … */
function names(n: number, prefix = "n"): string[] {
  return Array.from({ length: n }, (_, i) => `${prefix}${i}`);
}

Deno.test("waits: FOUND the moment a name is announced, once, and only to the sessions waiting for it", () => {
  const clock = new ManualClock();
  const waits = new WaitingList({ clock });
  const [a, b, c] = [new FakeWaiter(), new FakeWaiter(), new FakeWaiter()];
  waits.add(a, { names: ["x.bin", "y, z.bin"], seconds: 60 });
  waits.add(b, { names: ["x.bin"], seconds: 60 });
  waits.add(c, { names: ["other.bin"], seconds: 60 });
  assert.equal(waits.size, 4);
  assert.equal(clock.pending, 3, "one timer per WAIT");

  waits.announced("x.bin");
  assert.deepEqual(a.pushed, ["* FOUND x.bin\n"]);
  assert.deepEqual(b.pushed, ["* FOUND x.bin\n"]);
  assert.deepEqual(c.pushed, [], "no push to a session waiting for another name");
  assert.equal(waits.size, 2);
  assert.equal(clock.pending, 2, "b's wait is over: its timer is gone; a still waits for one name");

  waits.announced("x.bin");
  waits.announced("never-waited-for");
  assert.deepEqual([a.pushed.length, b.pushed.length, c.pushed.length], [1, 1, 0], "found once");

  waits.announced("y, z.bin");
  assert.deepEqual(a.pushed, ["* FOUND x.bin\n", "* FOUND y%2C z.bin\n"], "the name is written for the wire");
  assert.equal(waits.size, 1);
  assert.equal(clock.pending, 1);
});

Deno.test("waits: EXPIRED exactly when the time runs out, not a millisecond before, and once", async () => {
  const clock = new ManualClock();
  const waits = new WaitingList({ clock });
  const a = new FakeWaiter();
  const b = new FakeWaiter();
  waits.add(a, { names: ["gone.txt", "also gone.txt"], seconds: 60 });
  await clock.advance(10_000);
  waits.add(b, { names: ["gone.txt"], seconds: 60 }); // runs out 10 s after a's
  await clock.advance(60_000 - 10_000 - 1);
  assert.deepEqual(a.pushed, [], "nothing a millisecond before");
  assert.equal(waits.size, 3);

  await clock.advance(1);
  assert.deepEqual(a.pushed, ["* EXPIRED gone.txt\n", "* EXPIRED also gone.txt\n"]);
  assert.deepEqual(b.pushed, [], "b's own time is not over");
  assert.equal(waits.size, 1);

  await clock.advance(10_000 - 1);
  assert.deepEqual(b.pushed, []);
  await clock.advance(1);
  assert.deepEqual(b.pushed, ["* EXPIRED gone.txt\n"]);
  assert.equal(waits.size, 0);
  assert.equal(clock.pending, 0);

  await clock.advance(3_600_000);
  waits.announced("gone.txt");
  assert.deepEqual([a.pushed.length, b.pushed.length], [2, 1], "an expired wait finds nothing later");
});

Deno.test("waits: a wait partly found still expires for the names left", async () => {
  const clock = new ManualClock();
  const waits = new WaitingList({ clock });
  const a = new FakeWaiter();
  waits.add(a, { names: ["found.txt", "left.txt"], seconds: 5 });
  waits.announced("found.txt");
  await clock.advance(5_000);
  assert.deepEqual(a.pushed, ["* FOUND found.txt\n", "* EXPIRED left.txt\n"]);
  assert.equal(waits.size, 0);
});

Deno.test("waits: forget drops a session's waits and their timers, and no one else's", async () => {
  const clock = new ManualClock();
  const waits = new WaitingList({ clock });
  const leaving = new FakeWaiter();
  const staying = new FakeWaiter();
  waits.add(leaving, { names: ["a.txt", "b.txt"], seconds: 60 });
  waits.add(leaving, { names: ["c.txt"], seconds: 30 });
  waits.add(staying, { names: ["b.txt"], seconds: 60 });
  assert.equal(clock.pending, 3);
  assert.equal(waits.size, 4);

  waits.forget(leaving);
  assert.equal(waits.size, 1);
  assert.equal(clock.pending, 1, "the leaving session's two timers are cleared");
  waits.announced("a.txt");
  waits.announced("b.txt");
  await clock.advance(60_000);
  assert.deepEqual(leaving.pushed, [], "nothing for a forgotten session");
  assert.deepEqual(staying.pushed, ["* FOUND b.txt\n"]);
  assert.equal(waits.size, 0);
  assert.equal(clock.pending, 0);

  waits.forget(new FakeWaiter()); // a session that never waited: nothing happens
  assert.equal(waits.size, 0);
});

Deno.test(`waits: a session waits for at most ${Limits.MAX_WAITS_PER_SESSION} names; past it 413 and nothing added`, () => {
  assert.equal(Limits.MAX_WAITS_PER_SESSION, 1_024);
  const clock = new ManualClock();
  const waits = new WaitingList({ clock });
  const a = new FakeWaiter();
  waits.add(a, { names: names(1_000), seconds: 60 });
  waits.add(a, { names: names(24, "m"), seconds: 60 });
  assert.equal(waits.size, 1_024);
  const error = throwsStatus(() => waits.add(a, { names: ["one-more"], seconds: 60 }), 413, "the 1,025th");
  assert.equal(error.message, "a session may wait for at most 1024 names at once (1024 already)");
  assert.equal(waits.size, 1_024, "nothing added");
  assert.equal(clock.pending, 2, "no timer for the refused wait");
  throwsStatus(() => new WaitingList({ clock }).add(a, { names: names(1_025), seconds: 60 }), 413, "1,025 at once");

  const b = new FakeWaiter();
  waits.add(b, { names: ["one-more"], seconds: 60 });
  assert.equal(waits.size, 1_025, "the limit is per session");

  waits.announced("n0");
  waits.add(a, { names: ["one-more"], seconds: 60 });
  assert.equal(waits.size, 1_025, "a found name makes room");
  waits.add(a, { names: [], seconds: 60 }); // nothing to wait for: no timer
  assert.equal(clock.pending, 4);
});

Deno.test("waits: clear stops every timer and forgets every wait", async () => {
  const clock = new ManualClock();
  const waits = new WaitingList({ clock });
  const waiters = [new FakeWaiter(), new FakeWaiter(), new FakeWaiter()];
  waiters.forEach((w, i) => waits.add(w, { names: names(i + 1), seconds: 10 * (i + 1) }));
  assert.equal(clock.pending, 3);
  assert.equal(waits.size, 6);
  waits.clear();
  assert.equal(clock.pending, 0);
  assert.equal(waits.size, 0);
  await clock.advance(60_000);
  waits.announced("n0");
  assert.deepEqual(waiters.map((w) => w.pushed), [[], [], []]);
});
