/**
 * A crowd that loses its only full holder: the members hold some chunks,
 * nobody holds the rest. Each download fails after its timeout with
 * `ESTALLED`, blaming nobody, keeps what it verified, and withdraws its
 * partial holding; none waits for ever.
 *
 * @module
 */

import assert from "node:assert/strict";
import { chunkCount } from "../../protocol.ts";
import { eventually } from "../helpers/events.ts";
import { readJournal } from "../helpers/part_files.ts";
import { MiB } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";

const NAME = "big.bin";

Deno.test("crowd: when the only full holder dies, the members' downloads fail with ESTALLED after their timeout, blaming nobody", async () => {
  const data = randomBytes(6 * MiB + 3, 31);
  await using tracker = testTracker();
  // A real seed (it rations its chunks among the crowd), slow enough that the crowd is half-way when it goes.
  await using seed = await testPeer(tracker.address, { [NAME]: data }, { maxUploadRate: MiB, shutdownGraceMs: 0 });
  const timeoutMs = 500;
  await using a = await testPeer(tracker.address, {}, { timeoutMs });
  await using b = await testPeer(tracker.address, {}, { timeoutMs });
  const guard = AbortSignal.timeout(20_000); // a hang fails the test instead of hanging it

  const sending = Promise.all([a, b].map((p) => p.send(NAME, { signal: guard })));
  // The members found each other (the tracker lists each as a partial holder) and traded: both hold both chunks.
  await eventually("both members hold the seed's two chunks", async () => {
    for (const p of [a, b]) if ((await readJournal(p.dir)).chunks.length < 2) return false;
    return true;
  });
  const started = performance.now();
  await seed.close(); // its answers under way are cut
  const outcomes = (await sending).map((r) => r.outcomes[0]);
  const took = performance.now() - started;

  assert.ok(!guard.aborted, "the downloads ended on their own");
  const stalled = outcomes.filter((o) =>
    !o.ok && /^nothing arrived for 0\.5 s: none of the \d+ sources/.test(o.reason)
  );
  // The first to stall withdraws (`* GONE`): the other may then have lost its last source instead.
  assert.ok(stalled.length >= 1, JSON.stringify(outcomes.map((o) => o.ok ? "ok" : o.reason)));
  for (const o of outcomes) {
    assert.equal(o.ok, false, "nobody holds the whole file any more");
    if (o.ok) continue;
    assert.match(o.reason, /kept \d+\.\d\d MiB of big\.bin in .*\.part for the next try/, "what was verified stays");
    // No source is blamed for chunks that nobody had: only the seed's own failure is named.
    for (const s of o.sources) if (s.holder !== seed.address) assert.equal(s.code, undefined, JSON.stringify(s));
  }
  assert.ok(took < 10_000, `the stall was seen within the timeout, not later (${took.toFixed(0)} ms)`);
  // The two chunks the seed sent whole were traded: each member was a partial holder, and withdrew at the end.
  assert.ok(chunkCount(data.length) > 2);
  for (const p of [a, b]) assert.ok(p.events.of("sharing-partial").length === 1, "it served what it had verified");
  const partial = await Promise.all((await tracker.store.peers()).map((p) => tracker.store.partialOf(p.id)));
  assert.deepEqual(partial.flat().filter((e) => e.name === NAME), [], "both withdrew their partial holdings");
});
