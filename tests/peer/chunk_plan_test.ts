/**
 * `peer/chunk_plan.ts`: which chunks of a download to ask for next. The
 * first chunk neither done nor asked for comes first; a streaming source
 * gets the whole run up to the next gap; what a source did not deliver is
 * free again once it lets go; a chunk is done once.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ChunkPlan } from "../../peer/chunk_plan.ts";

Deno.test("chunk plan: next gives the first chunk neither done nor asked for, one at a time without run", () => {
  const plan = new ChunkPlan(4);
  assert.deepEqual(plan.next({ run: false }), { first: 0, count: 1 });
  // next only looks: nothing is taken until take.
  assert.deepEqual(plan.next({ run: false }), { first: 0, count: 1 });
  plan.take({ first: 0, count: 1 });
  assert.deepEqual(plan.next({ run: false }), { first: 1, count: 1 });
  plan.take({ first: 1, count: 1 });
  plan.markDone(2);
  assert.deepEqual(plan.next({ run: false }), { first: 3, count: 1 }, "a done chunk is skipped");
  plan.take({ first: 3, count: 1 });
  assert.equal(plan.next({ run: false }), undefined, "every chunk is done or asked for");
  assert.deepEqual([0, 1, 2, 3].map((i) => plan.owners(i)), [1, 1, 0, 1]);
});

Deno.test("chunk plan: with run, a request spans the missing, unasked chunks up to the next gap", () => {
  const plan = new ChunkPlan(10);
  plan.markDone(0);
  plan.markDone(4);
  plan.take({ first: 7, count: 1 });
  assert.deepEqual(plan.next({ run: true }), { first: 1, count: 3 }, "chunks 1-3: 4 is done");
  plan.take({ first: 1, count: 3 });
  assert.deepEqual(plan.next({ run: true }), { first: 5, count: 2 }, "chunks 5-6: 7 is asked for");
  plan.take({ first: 5, count: 2 });
  assert.deepEqual(plan.next({ run: true }), { first: 8, count: 2 }, "chunks 8-9: up to the end");
  assert.deepEqual(new ChunkPlan(3).next({ run: true }), { first: 0, count: 3 }, "a fresh plan: everything at once");
});

Deno.test("chunk plan: release frees what was not delivered, and next goes back to it", () => {
  const plan = new ChunkPlan(6);
  plan.take({ first: 0, count: 4 });
  assert.deepEqual(plan.next({ run: true }), { first: 4, count: 2 });
  plan.markDone(0);
  plan.markDone(1);
  // The source is dropped after two chunks: 2 and 3 are free again, 0 and 1 stay done.
  plan.release({ first: 0, count: 4 });
  assert.deepEqual([0, 1, 2, 3].map((i) => plan.owners(i)), [0, 0, 0, 0]);
  assert.deepEqual(plan.next({ run: true }), { first: 2, count: 4 });
  assert.deepEqual(plan.next({ run: false }), { first: 2, count: 1 });
});

Deno.test("chunk plan: a chunk asked of two sources keeps its owner until both let go", () => {
  const plan = new ChunkPlan(2);
  plan.take({ first: 0, count: 1 });
  plan.take({ first: 0, count: 1 }); // the endgame: a second source asks for a late chunk
  assert.equal(plan.owners(0), 2);
  plan.release({ first: 0, count: 1 });
  assert.equal(plan.owners(0), 1);
  assert.deepEqual(plan.next({ run: false }), { first: 1, count: 1 }, "still asked of one source");
  plan.release({ first: 0, count: 1 });
  assert.deepEqual(plan.next({ run: false }), { first: 0, count: 1 }, "nobody has it now");
});

Deno.test("chunk plan: markDone counts each chunk once; complete once every chunk is done", () => {
  const plan = new ChunkPlan(3);
  assert.equal(plan.complete, false);
  assert.equal(plan.markDone(1), true);
  assert.equal(plan.markDone(1), false, "a second copy of a chunk is not progress");
  assert.equal(plan.doneCount, 1);
  assert.equal(plan.isDone(1), true);
  assert.equal(plan.isDone(0), false);
  plan.markDone(0);
  plan.markDone(2);
  assert.equal(plan.doneCount, 3);
  assert.equal(plan.complete, true);
  assert.equal(plan.next({ run: true }), undefined);
  const empty = new ChunkPlan(0);
  assert.equal(empty.complete, true, "an empty file has nothing to fetch");
  assert.equal(empty.next({ run: false }), undefined);
});
