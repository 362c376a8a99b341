/**
 * What a peer's `SEND` says it shared (`peer.ts`'s bookkeeping,
 * `peer/send.ts`'s `SharedTally` and `describeShared`), against a real
 * tracker and peers on loopback: every landed file is announced by its own
 * `ADD`, and the report names them all, counts them, and gives the
 * tracker's total after the last, not the last answer alone.
 *
 * @module
 */

import assert from "node:assert/strict";
import { describeShared, SharedTally } from "../peer/send.ts";
import { testPeer, testTracker } from "./helpers/roles.ts";

Deno.test("peer send: the report names every file of the SEND that was shared, counts them, and gives the tracker's total", async () => {
  await using tracker = testTracker();
  await using _holder = await testPeer(tracker.address, { "café.txt": "café\n", "c.bin": "c", "d.bin": "dd" });
  const own = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`own-${i}.txt`, `own ${i}`]));
  await using peer = await testPeer(tracker.address, own);

  const report = await peer.send("café.txt, c.bin, d.bin");

  assert.ok(report.outcomes.every((o) => o.ok), JSON.stringify(report.outcomes));
  assert.deepEqual(report.shared?.names.toSorted(), ["c.bin", "café.txt", "d.bin"], "all three, not the last");
  assert.equal(report.shared?.indexed?.total, 10, "7 of its own and 3 new: the tracker's total after the last ADD");
  assert.equal(report.shared?.indexed?.address, peer.address);
  // In the order they were announced; one line.
  assert.equal(
    report.announced,
    `${report.shared!.names.join(", ")} (3 files; the tracker lists 10 in all for ${peer.address})`,
  );
  assert.equal(report.announceError, undefined);
  // Each landed file went to the tracker by its own ADD, one file each: "added 1 file", never "1 files".
  const added = tracker.events.of("announced").filter((e) => e.peer === peer.address && e.added !== undefined);
  assert.deepEqual(added.map((e) => [e.added, e.files]), [[1, 8], [1, 9], [1, 10]]);
});

Deno.test("peer send: one file shared is one file; a file already there is not announced again", async () => {
  await using tracker = testTracker();
  await using _holder = await testPeer(tracker.address, { "a.txt": "a", "b.txt": "b" });
  await using peer = await testPeer(tracker.address, { "b.txt": "b" });
  const report = await peer.send("a.txt, b.txt");
  assert.deepEqual(report.shared?.names, ["a.txt"]);
  assert.equal(report.announced, `a.txt (1 file; the tracker lists 2 in all for ${peer.address})`);
});

Deno.test("describeShared and SharedTally: names (the first ten, then a count), the count, and the latest total", () => {
  const tally = new SharedTally();
  for (let i = 1; i <= 12; i++) {
    tally.announced(`f${i}`, `indexed 1 file as 127.0.0.1:5556 (1 new, ${100 + i} in all)`);
  }
  tally.failed("g", new Error("the tracker connection is closed"));
  const report = tally.into({ reply: "", outcomes: [] });
  assert.equal(
    report.announced,
    "f1, f2, f3, f4, f5, f6, f7, f8, f9, f10 and 2 more (12 files; the tracker lists 112 in all for 127.0.0.1:5556)",
  );
  assert.equal(report.announceError, "g: the tracker connection is closed");
  // A tracker before 0.12 answered "1 files": read just the same.
  const old = new SharedTally();
  old.announced("a", "indexed 1 files as 127.0.0.1:5556 (1 new, 4 in all)");
  assert.equal(
    old.into({ reply: "", outcomes: [] }).announced,
    "a (1 file; the tracker lists 4 in all for 127.0.0.1:5556)",
  );
  // An answer of no known form still counts the file.
  const odd = new SharedTally();
  odd.announced("a", "ok");
  assert.equal(odd.into({ reply: "", outcomes: [] }).announced, "a (1 file)");
  assert.deepEqual(new SharedTally().into({ reply: "", outcomes: [] }), { reply: "", outcomes: [] }, "nothing shared");
  assert.equal(describeShared({ names: ["x", "y"] }), "x, y (2 files)");
});
