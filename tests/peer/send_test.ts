/**
 * `peer/send.ts`: the `SEND` of a downloader, against a real tracker. With
 * a wait, a file nobody has yet downloads the moment a peer announces it; an
 * abort ends the wait at once; a tracker that goes away still settles every
 * name. Every byte received is paid from the download budget, and many
 * downloads sharing a slow budget wait their turn without a holder being
 * called silent. Each holder's service is reported to the tracker, so that
 * a holder caught lying is no longer offered.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { RateLimit } from "../../io/rate_limit.ts";
import { BufferedReader } from "../../io/reader.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { outcomeJson } from "../../cli/report.ts";
import type { FileOutcome } from "../../peer/download_all.ts";
import { sendAndFetch } from "../../peer/send.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { type HolderScore, MemoryStore } from "../../tracker.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { hashesAnswer, hashToken, MiB, sha256 } from "../helpers/hashes.ts";
import { startFakeHolder } from "../helpers/holders.ts";
import { holderAddresses, LineClient } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";

Deno.test("send: with waitSeconds, a file a peer ADDs later downloads, with waitedMs", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(200_000, 41);
  // A watching peer: a file dropped in its folder is announced by ADD.
  await using holder = await testPeer(tracker.address, {}, { watch: { quietMs: 50 } });
  await using client = await TrackerClient.connect(tracker.address);
  const waiting = Promise.withResolvers<string[]>();
  const sending = sendAndFetch(client, "x.bin, nobody-has-this.bin", {
    outDir: out.path,
    waitSeconds: 30,
    onWaiting: waiting.resolve,
  });
  assert.deepEqual(await waiting.promise, ["x.bin", "nobody-has-this.bin"]);
  await Deno.writeFile(join(holder.dir, "x.bin"), data);
  const event = await tracker.events.next("announced", (e) => e.added === 1);
  assert.ok(event.added === 1, JSON.stringify(event));
  // Add the other name too, so that the wait ends without waiting for its timeout.
  await Deno.writeFile(join(holder.dir, "nobody-has-this.bin"), data.subarray(0, 10));
  await tracker.events.next("announced", (e) => e.added === 1);

  const report = await sending;
  for (const o of report.outcomes) {
    assert.ok(o.ok, JSON.stringify(o));
    assert.equal(o.result.from, holder.address);
    assert.ok(typeof o.waitedMs === "number" && o.waitedMs >= 0, `waitedMs ${o.waitedMs}`);
    assert.ok(typeof o.durationMs === "number" && o.durationMs >= 0, `durationMs ${o.durationMs}`);
  }
  await assertSameBytes(join(out.path, "x.bin"), data);
  assert.equal(outcomeJson(report.outcomes[0]).status, "ok");
  assert.match(report.reply, /^404-NOTFOUND x\.bin$/m, "the first reply said nobody had it");
});

Deno.test("send: with waitSeconds, aborting during the wait ends it at once as cancelled", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const abort = new AbortController();
  const waiting = Promise.withResolvers<string[]>();
  const settled: FileOutcome[] = [];
  const sending = sendAndFetch(client, "never.bin", {
    outDir: out.path,
    waitSeconds: 30,
    onWaiting: waiting.resolve,
    signal: abort.signal,
    onSettled: (o) => void settled.push(o),
  });
  assert.deepEqual(await waiting.promise, ["never.bin"]);
  abort.abort();
  const report = await sending;
  const [o] = report.outcomes;
  assert.ok(!o.ok);
  assert.equal(o.kind, "cancelled");
  assert.equal(o.reason, "cancelled while waiting; nobody had announced it yet");
  assert.equal(outcomeJson(o).status, "cancelled");
  assert.deepEqual(settled, [o]);
  assert.ok(client.open, "the tracker connection stays usable");
  assert.deepEqual((await client.send(["never.bin"])).lookups.map((l) => l.status), [404]);
});

Deno.test("send: a wait that ends because the tracker went away is still told to onSettled, as failed", async () => {
  const tracker = testTracker();
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const settled: string[] = [];
  const waiting = Promise.withResolvers<void>();
  const running = sendAndFetch(client, "later.txt, missing-now.txt", {
    outDir: out.path,
    waitSeconds: 60,
    onWaiting: () => waiting.resolve(),
    onSettled: (o) => void settled.push(o.name),
  });
  await waiting.promise;
  await tracker.close();
  const report = await running;
  assert.deepEqual(settled.sort(), ["later.txt", "missing-now.txt"]);
  for (const o of report.outcomes) {
    assert.equal(o.ok, false);
    assert.equal(!o.ok && o.kind, "failed");
  }
});

Deno.test("send: with a RateLimit, every byte received is taken from the budget, and the file is exact", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(3 * MiB + 5, 71);
  await using _holder = await testPeer(tracker.address, { "big.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const limit = new RateLimit(32 * MiB);
  const take = limit.take.bind(limit);
  let paid = 0;
  let calls = 0;
  limit.take = (n, cancelled) => {
    paid += n;
    calls++;
    assert.ok(n <= limit.slice, `reads of at most a slice: ${n}`);
    return take(n, cancelled);
  };
  const report = await sendAndFetch(client, "big.bin", { outDir: out.path, limit });
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.equal(paid, data.length, "one holder, no byte twice: the budget paid for exactly the file");
  assert.ok(calls >= data.length / limit.slice, `${calls} small reads`);
  await assertSameBytes(join(out.path, "big.bin"), data);
});

Deno.test("send: many downloads sharing a slow download budget wait their turn without a holder being called silent", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const files: Record<string, Uint8Array> = {};
  for (let i = 0; i < 8; i++) files[`f${i}.bin`] = randomBytes(6 * 1024, 100 + i);
  await using _holder = await testPeer(tracker.address, files);
  await using client = await TrackerClient.connect(tracker.address);
  // 64 KiB/s in 4 KiB slices for 8 files at once: a read waits for 7 others' slices, about 0.44 s,
  // more than twice the 200 ms a holder may stay silent.
  const limit = new RateLimit(64 * 1024);
  const waits: number[] = [];
  const take = limit.take.bind(limit);
  limit.take = async (n, cancelled) => {
    const asked = performance.now();
    await take(n, cancelled);
    waits.push(performance.now() - asked);
  };
  const report = await sendAndFetch(client, Object.keys(files).join(", "), {
    outDir: out.path,
    limit,
    timeoutMs: 200,
  });
  for (const o of report.outcomes) {
    assert.ok(o.ok, JSON.stringify(o));
    assert.deepEqual(o.result.failed, [], `${o.name}: no holder was dropped`);
  }
  for (const [name, data] of Object.entries(files)) await assertSameBytes(join(out.path, name), data);
  assert.ok(Math.max(...waits) > 200, `a read waited its turn longer than the timeout: ${Math.max(...waits)} ms`);
});

/** A holder that lies: the true `HASHES` and headers for `data`, but every byte of a body inverted. */
function lyingHolder(data: Uint8Array) {
  return startFakeHolder({
    script: async (conn, first) => {
      const reader = new BufferedReader(conn);
      for (let line: string | null = first; line !== null; line = await reader.readLine()) {
        if (line.startsWith("HASHES ")) {
          await writeText(conn, hashesAnswer(data));
          continue;
        }
        const m = /^(?:GET .+|RANGE (\d+) (\d+|\*) .+)$/.exec(line)!;
        const offset = Number(m[1] ?? 0);
        const length = m[2] === undefined || m[2] === "*" ? data.length - offset : Number(m[2]);
        const bytes = data.slice(offset, offset + length).map((b) => b ^ 0xff);
        await writeText(conn, `206 ${data.length} ${sha256(data)} ${offset} ${length}\n`);
        await writeAll(conn, bytes);
        if (line.startsWith("GET ")) return;
      }
    },
  });
}

Deno.test("send: a holder caught sending bad chunks is reported EHASH, and no longer offered after two downloaders", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB + 5000, 51);
  await using liar = lyingHolder(data);
  using liarSession = await LineClient.connect(tracker.addr.port);
  const [indexed] = await liarSession.ask(`UPDATE ${liar.port} 1\n${data.length} ${hashToken(data)} f.bin\n`);
  assert.equal(indexed.status, 200);
  // Slow enough that the liar's answer (at once) always comes before the honest copy of the same chunk:
  // each source holds at most 2 of the 3 chunks, so the liar is always asked for one.
  await using honest = await testPeer(tracker.address, { "f.bin": data }, { maxUploadRate: 4 * MiB });
  const liarId = (await tracker.store.holderOf("f.bin", liar.address))!.peer;
  const honestId = (await tracker.store.holderOf("f.bin", honest.address))!.peer;
  // A holder's score is read whole only from the memory store (the store of testTracker): through the store's
  // interface, a score shows only in the answer to a report.
  const store = tracker.store;
  assert.ok(store instanceof MemoryStore);
  const score = (id: number): HolderScore | undefined => store.feedback.score(id);

  /** One download by `client`, a downloader whose session stays open: a session's votes last as long as it does. */
  const download = async (client: TrackerClient) => {
    await using out = await tempDir();
    const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path })).outcomes;
    assert.ok(outcome.ok, JSON.stringify(outcome));
    await assertSameBytes(join(out.path, "f.bin"), data);
    return outcome.result;
  };
  await using one = await TrackerClient.connect(tracker.address);
  await using two = await TrackerClient.connect(tracker.address);

  const first = await download(one);
  assert.deepEqual(first.failed.map((f) => [f.holder, f.code]), [[liar.address, "EHASH"]]);
  assert.deepEqual(score(liarId), {
    served: 0,
    succeeded: 0,
    failed: 1,
    demoted: false,
    lastFailure: "EHASH",
  });
  assert.deepEqual(score(honestId), { served: data.length, succeeded: 1, failed: 0, demoted: false });
  assert.deepEqual(holderAddresses(await liarSession.ask("SEND f.bin\n")), [honest.address, liar.address]);

  const second = await download(two);
  assert.deepEqual(second.failed.map((f) => [f.holder, f.code]), [[liar.address, "EHASH"]]);
  assert.deepEqual(score(liarId), {
    served: 0,
    succeeded: 0,
    failed: 2,
    demoted: true,
    lastFailure: "EHASH",
  });
  assert.deepEqual(holderAddresses(await liarSession.ask("SEND f.bin\n")), [honest.address]);

  // A third downloader is not offered the liar at all.
  await using three = await TrackerClient.connect(tracker.address);
  const third = await download(three);
  assert.deepEqual(third.failed, []);
  assert.deepEqual(third.sources.map((s) => [s.holder, s.bytes]), [[honest.address, data.length]]);
});
