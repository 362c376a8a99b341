/**
 * `peer/download_all.ts`: every file of one `SEND` at once. Outcomes come
 * in the order asked, whatever order they settle in; a name nobody holds is
 * `not-found`, a name refused is `refused`; a pending lookup that fails (the
 * tracker went away) is still an outcome, and every outcome is told to
 * `onSettled` as soon as it is known.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { Lookup } from "../../protocol.ts";
import { ConnectionClosedError } from "../../io/errors.ts";
import { downloadAll, type FileOutcome } from "../../peer/download_all.ts";
import { sha256 } from "../helpers/hashes.ts";
import { servingFolder, startFakeHolder } from "../helpers/holders.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";

Deno.test("download all: several files from different peers in parallel, each compared byte for byte", async () => {
  const files = { "a.bin": randomBytes(2_000_000, 1), "b.bin": randomBytes(3_000_000, 2), "c d, e.txt": "text" };
  await using p1 = await servingFolder({ "a.bin": files["a.bin"] });
  await using p2 = await servingFolder({ "b.bin": files["b.bin"], "c d, e.txt": files["c d, e.txt"] });
  await using out = await tempDir();
  const outcomes = await downloadAll([
    { name: "a.bin", status: 200, holders: [p1.holder("a.bin")] },
    { name: "b.bin", status: 200, holders: [p2.holder("b.bin")] },
    { name: "missing", status: 404, holders: [], message: "not found" },
    { name: "c d, e.txt", status: 200, holders: [p2.holder("c d, e.txt")] },
  ], { outDir: out.path });
  assert.deepEqual(outcomes.map((o) => [o.name, o.ok]), [
    ["a.bin", true],
    ["b.bin", true],
    ["missing", false],
    ["c d, e.txt", true],
  ]);
  assert.deepEqual(await Deno.readFile(join(out.path, "a.bin")), files["a.bin"]);
  assert.deepEqual(await Deno.readFile(join(out.path, "b.bin")), files["b.bin"]);
  assert.equal(await Deno.readTextFile(join(out.path, "c d, e.txt")), "text");
  const missing = outcomes[2];
  assert.ok(!missing.ok && /404/.test(missing.reason));
});

Deno.test("download all: outcomes come in the order asked, though the first settles last", async () => {
  const slow = randomBytes(5000, 3);
  const gate = Promise.withResolvers<void>();
  await using gated = startFakeHolder({ name: "slow.bin", data: slow, gate: gate.promise });
  await using quick = await servingFolder({ "quick.txt": "at once" });
  await using out = await tempDir();
  const settled: string[] = [];
  const running = downloadAll([
    { name: "slow.bin", status: 200, holders: [{ address: gated.address, size: slow.length, sha256: sha256(slow) }] },
    { name: "quick.txt", status: 200, holders: [quick.holder("quick.txt")] },
  ], {
    outDir: out.path,
    onSettled: (o) => {
      settled.push(o.name);
      // The quick one lands while the slow one waits: only then is the slow one let go.
      if (o.name === "quick.txt") gate.resolve();
    },
  });
  const outcomes = await running;
  assert.deepEqual(settled, ["quick.txt", "slow.bin"], "told as each settles");
  assert.deepEqual(
    outcomes.map((o) => [o.name, o.ok]),
    [["slow.bin", true], ["quick.txt", true]],
    "in the order asked",
  );
  for (const o of outcomes) {
    assert.ok(typeof o.durationMs === "number" && o.durationMs >= 0, `${o.name}: durationMs ${o.durationMs}`);
    assert.equal(o.waitedMs, undefined, `${o.name}: nothing was waited for`);
  }
});

Deno.test("download all: a name nobody holds is not-found, a refused name is refused; both are told to onSettled", async () => {
  await using out = await tempDir();
  const told: FileOutcome[] = [];
  const outcomes = await downloadAll([
    { name: "nobody.txt", status: 404, holders: [], message: "not found" },
    { name: "../etc/passwd", status: 403, holders: [], message: "forbidden name" },
  ], { outDir: out.path, onSettled: (o) => void told.push(o) });
  assert.deepEqual(outcomes.map((o) => [o.name, o.ok, !o.ok && o.kind, !o.ok && o.reason]), [
    ["nobody.txt", false, "not-found", "404 not found"],
    ["../etc/passwd", false, "refused", "403 forbidden name"],
  ]);
  assert.deepEqual(told.map((o) => o.name).sort(), ["../etc/passwd", "nobody.txt"]);
  for (const o of outcomes) assert.ok(!o.ok && o.attempts.length === 0 && o.sources.length === 0);
});

Deno.test("download all: a pending lookup that rejects (the tracker went away) is still an outcome, failed, and told", async () => {
  await using out = await tempDir();
  const gone = Promise.withResolvers<Lookup>();
  const arrives = Promise.withResolvers<Lookup>();
  await using holder = await servingFolder({ "late.txt": "came later" });
  const told: FileOutcome[] = [];
  const running = downloadAll([
    { name: "never.txt", later: gone.promise },
    { name: "late.txt", later: arrives.promise },
  ], { outDir: out.path, onSettled: (o) => void told.push(o) });
  gone.reject(new ConnectionClosedError("the tracker closed the connection"));
  arrives.resolve({ name: "late.txt", status: 200, holders: [holder.holder("late.txt")] });
  const [never, late] = await running;
  assert.ok(!never.ok, JSON.stringify(never));
  assert.equal(never.kind, "failed");
  assert.equal(never.reason, "the tracker closed the connection");
  assert.ok(late.ok, JSON.stringify(late));
  assert.ok(typeof late.waitedMs === "number" && late.waitedMs >= 0, `waitedMs ${late.waitedMs}`);
  assert.equal(await Deno.readTextFile(join(out.path, "late.txt")), "came later");
  assert.deepEqual(told.map((o) => o.name).sort(), ["late.txt", "never.txt"]);
});

Deno.test("download all: after our own abort, an unfound name is cancelled, not not-found", async () => {
  await using out = await tempDir();
  const abort = new AbortController();
  abort.abort();
  const [o] = await downloadAll([{ name: "x.txt", status: 404, holders: [], message: "not found" }], {
    outDir: out.path,
    signal: abort.signal,
  });
  assert.ok(!o.ok && o.kind === "cancelled", JSON.stringify(o));
});
