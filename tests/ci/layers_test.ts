/**
 * The layering check of `deno task check` (`.ci/layers.ts`): it names every
 * cycle and every import that points up or sideways, and the project's own
 * import graph has none.
 *
 * @module
 */

import assert from "node:assert/strict";
import { checkGraph, findCycles, placeOf, readGraph, strayFiles } from "../../.ci/layers.ts";

const ROOT = new URL("../..", import.meta.url).pathname.replace(/\/$/, "");

Deno.test("layers: every module of the project sits in a layer, protocol.ts lowest and main.ts highest", () => {
  assert.equal(placeOf("protocol.ts")?.rank, 0);
  assert.equal(placeOf("io/reader.ts")?.rank, 1);
  assert.equal(placeOf("disk/part_file.ts")?.rank, 2);
  assert.equal(placeOf("tracker/session.ts")?.rank, placeOf("peer/swarm.ts")?.rank);
  assert.ok(placeOf("tracker.ts")!.rank > placeOf("tracker/session.ts")!.rank);
  assert.ok(placeOf("cli/demo.ts")!.rank > placeOf("peer.ts")!.rank);
  assert.ok(placeOf("main.ts")!.rank > placeOf("cli/demo.ts")!.rank);
  assert.equal(placeOf("tools/x.ts"), undefined);
});

Deno.test("layers: imports pointing down pass; one pointing up, one sideways and a module in no layer are named", () => {
  assert.deepEqual(
    checkGraph(new Map([["peer/swarm.ts", ["io/streams.ts", "protocol.ts", "peer/chunk_plan.ts"]]])),
    [],
  );
  const problems = checkGraph(
    new Map([
      ["protocol.ts", ["io/streams.ts"]],
      ["tracker/session.ts", ["peer/swarm.ts"]],
      ["tools/x.ts", []],
    ]),
  );
  assert.equal(problems.length, 3, problems.join("\n"));
  assert.match(
    problems[0],
    /^protocol\.ts \(the wire\) imports io\/streams\.ts \(bytes and connections\): an import up/,
  );
  assert.match(problems[1], /^tracker\/session\.ts .* imports peer\/swarm\.ts .*: an import sideways/);
  assert.match(problems[2], /^tools\/x\.ts is in no layer/);
});

Deno.test("layers: a cycle is named with every module around it, type-only imports included", () => {
  const graph = new Map([
    ["io/a.ts", ["io/b.ts"]],
    ["io/b.ts", ["io/c.ts"]],
    ["io/c.ts", ["io/a.ts"]],
    ["io/d.ts", ["io/a.ts"]],
  ]);
  assert.deepEqual(findCycles(graph), [["io/a.ts", "io/b.ts", "io/c.ts", "io/a.ts"]]);
  assert.deepEqual(checkGraph(graph), ["import cycle: io/a.ts → io/b.ts → io/c.ts → io/a.ts"]);
});

Deno.test("layers: the project's import graph (deno info --json main.ts) has no cycle and no import against the layers", async () => {
  const graph = await readGraph(ROOT);
  assert.ok(graph.size > 40, `only ${graph.size} modules read`);
  assert.ok(graph.get("main.ts")!.length > 0);
  assert.deepEqual(graph.get("protocol.ts"), [], "protocol.ts imports no module of the project");
  assert.deepEqual(checkGraph(graph), []);
  assert.deepEqual(await strayFiles(ROOT, graph), []);
});
