import assert from "node:assert/strict";
import { join } from "node:path";
import { sendAndFetch } from "../peer.ts";
import { TrackerClient } from "../tracker_client.ts";
import { randomBytes, tempDir, testPeer, testTracker } from "./helpers.ts";

const MiB = 1024 * 1024;

Deno.test("swarm: a file held by 4 peers comes from all 4, byte for byte", async () => {
  const data = randomBytes(24 * MiB + 5, 7);
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "big.bin": data });
  await using b = await testPeer(tracker.address, { "big.bin": data });
  await using c = await testPeer(tracker.address, { "big.bin": data });
  await using d = await testPeer(tracker.address, { "big.bin": data });
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const report = await sendAndFetch(client, "big.bin", { outDir: out.path });
  const [outcome] = report.outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.deepEqual(await Deno.readFile(join(out.path, "big.bin")), data);
  const used = outcome.result.sources.filter((s) => s.bytes > 0).map((s) => s.holder).sort();
  assert.deepEqual(used, [a.address, b.address, c.address, d.address].sort());
  assert.equal(outcome.result.sources.reduce((n, s) => n + s.bytes, 0), data.length);
});
