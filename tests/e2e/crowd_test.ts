/**
 * A flash crowd (issue 14), end to end on loopback: one seed whose upload is
 * the bottleneck, and a crowd of peers that all ask for its file at the same
 * moment. Each downloader serves the chunks it has verified while it
 * downloads (a partial holder), the tracker lists it, and the others fetch
 * from it; the seed rations its chunks among the crowd. Every copy must land
 * intact, the crowd must have traded, and the seed must have sent the file
 * well under twice.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { FileOutcome } from "../../peer.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { MiB } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { type TestPeer, testPeer, testTracker } from "../helpers/roles.ts";

const NAME = "big.bin";
/** Six chunks: as many as downloaders, so that each can be given one of its own. */
const SIZE = 6 * MiB;
/** Every peer's upload: the seed alone needs 0.5 s to send the file once, 3 s to send it to each. */
const RATE = 12 * MiB;
const DOWNLOADERS = 6;

Deno.test("crowd: 6 peers asking a rate-limited seed for one file at once trade its chunks; each lands intact and the seed sends it less than 1.5 times", async () => {
  const data = randomBytes(SIZE, 14);
  await using tracker = testTracker();
  await using seed = await testPeer(tracker.address, { [NAME]: data }, { maxUploadRate: RATE });
  await using crowd = new AsyncDisposableStack();
  const peers: TestPeer[] = [];
  for (let i = 0; i < DOWNLOADERS; i++) {
    peers.push(crowd.use(await testPeer(tracker.address, {}, { maxUploadRate: RATE })));
  }

  // A hang fails the test rather than hanging it: far longer than the ~3 s this takes.
  const signal = AbortSignal.timeout(30_000);
  const reports = await Promise.all(peers.map((peer) => peer.send(NAME, { signal })));

  const outcomes = reports.map((r) => r.outcomes[0]);
  for (const [i, outcome] of outcomes.entries()) {
    assert.ok(outcome.ok, `peer ${i}: ${JSON.stringify(outcome)}`);
    await assertSameBytes(join(peers[i].dir, NAME), data);
  }
  const landed = outcomes.filter((o): o is Extract<FileOutcome, { ok: true }> => o.ok);
  const fromPartial = landed.filter((o) => o.result.sources.some((s) => s.partial && s.bytes > 0));
  assert.ok(fromPartial.length > 0, `no download used a partial source: ${describe(landed)}`);
  await seed.close(); // every upload reported
  const sent = seed.events.events.reduce(
    (n, e) => (e.type === "served" || e.type === "aborted") && e.name === NAME ? n + e.bytes : n,
    0,
  );
  assert.ok(sent < 1.5 * SIZE, `the seed sent ${(sent / MiB).toFixed(2)} MiB of an ${SIZE / MiB} MiB file`);
});

/** Who delivered what to each download, for a failure message. */
function describe(outcomes: Extract<FileOutcome, { ok: true }>[]): string {
  return outcomes.map((o) =>
    o.result.sources.map((s) => `${s.holder}${s.partial ? " (partial)" : ""} ${s.bytes}`).join(", ")
  ).join(" | ");
}
