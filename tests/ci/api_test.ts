/**
 * The API check of `deno task check` (`.ci/api.ts`): an exported call takes
 * at most two parameters, then an options object.
 *
 * @module
 */

import assert from "node:assert/strict";
import { paramProblem } from "../../.ci/api.ts";

const param = (name: string, type = "string", optional = false) => ({
  kind: "identifier",
  name,
  optional,
  tsType: { repr: type },
});

Deno.test("api: two parameters, or two then an options object, pass; a third plain one is named", () => {
  assert.equal(paramProblem([]), undefined);
  assert.equal(paramProblem([param("a"), param("b")]), undefined);
  assert.equal(paramProblem([param("a"), param("b"), param("options", "Whatever", true)]), undefined);
  assert.equal(paramProblem([param("a"), param("b"), param("target", "RelayOptions")]), undefined);
  assert.equal(
    paramProblem([param("a"), param("b"), { kind: "assign", left: param("options", "FetchOptions") }]),
    undefined,
  );
  assert.match(paramProblem([param("a"), param("b"), param("c", "number")])!, /takes 3 parameters/);
  assert.match(
    paramProblem([param("a"), param("b"), param("c"), param("options", "XOptions")])!,
    /takes 4 parameters; take at most two, then an options object/,
  );
});
