/**
 * What downloaders' reports make of a holder (`tracker/feedback.ts`), as
 * pure data: votes are per reporting session (a session's new vote replaces
 * its old one), only a success's bytes count as served, a holder is demoted
 * once `demoteAfter` sessions report it failing and more fail than succeed,
 * at most `MAX_VOTES` votes are kept per holder (the oldest go first), and
 * `rank` orders holders fewest failing first, then most served, then in
 * announcement order, leaving the demoted out.
 *
 * @module
 */

import assert from "node:assert/strict";
import { HolderFeedback, MAX_VOTES } from "../../tracker/feedback.ts";

/** Session `reporter` says holder `holder` failed with `code`. */
function fail(feedback: HolderFeedback, reporter: number, holder: number, code = "EHASH") {
  return feedback.report({ reporter, holder, outcome: code, bytes: 0 });
}

/** Session `reporter` says holder `holder` served `bytes` verified bytes. */
function ok(feedback: HolderFeedback, reporter: number, holder: number, bytes = 0) {
  return feedback.report({ reporter, holder, outcome: "OK", bytes });
}

Deno.test("feedback: nothing reported means empty, no score, and announcement order", () => {
  const feedback = new HolderFeedback();
  assert.equal(feedback.empty, true);
  assert.equal(feedback.score(1), undefined);
  assert.deepEqual(feedback.rank([7, 3, 5], 50), [0, 1, 2]);
  assert.deepEqual(feedback.rank([7, 3, 5], 2), [0, 1], "at most max");
  ok(feedback, 10, 1, 5);
  assert.equal(feedback.empty, false);
});

Deno.test("feedback: a holder is demoted once demoteAfter sessions report it failing and more fail than succeed", () => {
  const feedback = new HolderFeedback(); // demoteAfter 2 by default
  assert.deepEqual(fail(feedback, 10, 1, "EHASH"), {
    served: 0,
    succeeded: 0,
    failed: 1,
    demoted: false,
    lastFailure: "EHASH",
  });
  assert.deepEqual(fail(feedback, 11, 1, "ETIMEDOUT"), {
    served: 0,
    succeeded: 0,
    failed: 2,
    demoted: true,
    lastFailure: "ETIMEDOUT",
  });

  // Two failing sessions, but as many working: not more failing than working.
  const even = new HolderFeedback(2);
  ok(even, 10, 1, 1);
  ok(even, 11, 1, 1);
  fail(even, 12, 1);
  assert.equal(fail(even, 13, 1).demoted, false, "2 failed, 2 ok");
  assert.equal(fail(even, 14, 1).demoted, true, "3 failed, 2 ok");
  assert.equal(ok(even, 15, 1).demoted, false, "3 failed, 3 ok: offered again");

  // More failing than working, but fewer failing sessions than demoteAfter.
  const three = new HolderFeedback(3);
  fail(three, 10, 1);
  assert.equal(fail(three, 11, 1).demoted, false, "2 failing sessions of the 3 needed");
  assert.equal(fail(three, 12, 1).demoted, true, "3 failing sessions");
});

Deno.test("feedback: one session repeating itself counts once", () => {
  const feedback = new HolderFeedback(2);
  for (let i = 0; i < 5; i++) {
    assert.deepEqual(fail(feedback, 10, 1), {
      served: 0,
      succeeded: 0,
      failed: 1,
      demoted: false,
      lastFailure: "EHASH",
    });
  }
  for (let i = 0; i < 5; i++) ok(feedback, 11, 1, 100);
  assert.deepEqual(feedback.score(1), { served: 100, succeeded: 1, failed: 1, demoted: false, lastFailure: "EHASH" });
});

Deno.test("feedback: a session's new vote replaces its old one", () => {
  const feedback = new HolderFeedback(1);
  assert.equal(fail(feedback, 10, 1).demoted, true, "demoteAfter 1: one failing session is enough");
  // The same session changing its mind: its failure no longer counts.
  assert.deepEqual(ok(feedback, 10, 1, 7), {
    served: 7,
    succeeded: 1,
    failed: 0,
    demoted: false,
    lastFailure: "EHASH",
  });
  // A later success replaces the earlier one's bytes; it does not add to them.
  assert.deepEqual(ok(feedback, 10, 1, 3), {
    served: 3,
    succeeded: 1,
    failed: 0,
    demoted: false,
    lastFailure: "EHASH",
  });
  // And back to failing: its bytes go with its success.
  assert.deepEqual(fail(feedback, 10, 1, "ECONNRESET"), {
    served: 0,
    succeeded: 0,
    failed: 1,
    demoted: true,
    lastFailure: "ECONNRESET",
  });
});

Deno.test("feedback: only a success's bytes count as served", () => {
  const feedback = new HolderFeedback();
  assert.equal(feedback.report({ reporter: 10, holder: 1, outcome: "EHASH", bytes: 5_000 }).served, 0);
  assert.equal(ok(feedback, 11, 1, 1_000).served, 1_000);
  assert.equal(ok(feedback, 12, 1, 500).served, 1_500, "successes of different sessions add up");
  assert.equal(feedback.report({ reporter: 13, holder: 1, outcome: "ETIMEDOUT", bytes: 9_999 }).served, 1_500);
});

Deno.test("feedback: forget drops what was reported about a holder, not its own votes on others", () => {
  const feedback = new HolderFeedback();
  fail(feedback, 2, 1); // session 2 reports on holder 1
  ok(feedback, 1, 2, 10); // session 1 reports on holder 2
  feedback.forget(1);
  assert.equal(feedback.score(1), undefined, "holder 1 starts afresh");
  assert.deepEqual(feedback.score(2), { served: 10, succeeded: 1, failed: 0, demoted: false }, "its vote on 2 stays");
  feedback.forget(2);
  assert.equal(feedback.empty, true);
  feedback.forget(99); // unknown: nothing happens
  assert.equal(feedback.empty, true);
});

Deno.test("feedback: rank puts fewest failing first, then most served, then announcement order, without the demoted", () => {
  const feedback = new HolderFeedback(2);
  // Holders 1..6 in announcement order; 7 is never reported on.
  ok(feedback, 100, 2, 1_000); // 2: 0 failed, 1000 served
  ok(feedback, 100, 3, 3_000); // 3: 0 failed, 3000 served
  ok(feedback, 101, 4, 9_000);
  fail(feedback, 102, 4); // 4: 1 failed (one ok): still offered, after every holder with none failing
  fail(feedback, 100, 5);
  fail(feedback, 101, 5); // 5: demoted
  ok(feedback, 103, 6, 3_000); // 6: ties with 3, announced later
  const peers = [1, 2, 3, 4, 5, 6, 7];
  const order = (max: number) => feedback.rank(peers, max).map((i) => peers[i]);
  assert.deepEqual(order(50), [3, 6, 2, 1, 7, 4]);
  assert.deepEqual(order(3), [3, 6, 2], "at most max");
  assert.deepEqual(feedback.rank([5], 50), [], "a demoted holder alone: nobody offered");
});

Deno.test(`feedback: at most ${MAX_VOTES} votes are kept per holder, the oldest forgotten first`, () => {
  assert.equal(MAX_VOTES, 100);
  const feedback = new HolderFeedback(1);
  // The first session's vote is a failure; 99 more sessions report success.
  fail(feedback, 1, 42);
  for (let reporter = 2; reporter <= MAX_VOTES; reporter++) ok(feedback, reporter, 42, 1);
  assert.deepEqual(feedback.score(42), {
    served: 99,
    succeeded: 99,
    failed: 1,
    demoted: false,
    lastFailure: "EHASH",
  });
  // The 101st session's vote pushes out the first one's: its failure no longer counts.
  assert.deepEqual(ok(feedback, MAX_VOTES + 1, 42, 1), {
    served: 100,
    succeeded: 100,
    failed: 0,
    demoted: false,
    lastFailure: "EHASH",
  });
  // A session voting again is its newest vote: the next out are the oldest left (sessions 2 and 4), not session 3.
  ok(feedback, 3, 42, 50);
  assert.equal(feedback.score(42)!.served, 149);
  fail(feedback, MAX_VOTES + 2, 42);
  assert.deepEqual(feedback.score(42), {
    served: 148,
    succeeded: 99,
    failed: 1,
    demoted: false,
    lastFailure: "EHASH",
  });
  fail(feedback, MAX_VOTES + 3, 42);
  const { succeeded, failed, served } = feedback.score(42)!;
  assert.deepEqual(
    { succeeded, failed, served },
    { succeeded: 98, failed: 2, served: 147 },
    "session 3's 50 bytes stay",
  );
});
