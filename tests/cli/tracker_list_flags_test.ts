/**
 * `--tracker HOST:PORT[,HOST:PORT...]` (`cli/flags.ts`), called directly:
 * one tracker or several, in the order given, spaces around a comma
 * allowed, for the peer, get and cat; each item checked as one address
 * always was, and a bad one refused with a message naming it and where it
 * stands; an empty item and a tracker given twice refused; one address read
 * and refused exactly as before (tests/cli/flags_test.ts).
 *
 * @module
 */

import assert from "node:assert/strict";
import { parseTrackerList } from "../../cli/flags.ts";
import { parse, refuses } from "../helpers/flags.ts";

Deno.test("flags: --tracker takes several trackers separated by commas, in the order given, spaces around a comma allowed", () => {
  const cases: [string, string[]][] = [
    ["10.0.0.1:4444,10.0.0.2:4444", ["10.0.0.1:4444", "10.0.0.2:4444"]],
    ["10.0.0.1:4444, 10.0.0.2:4445 ,localhost:1", ["10.0.0.1:4444", "10.0.0.2:4445", "localhost:1"]],
    ["[::1]:5,[::1]:6", ["[::1]:5", "[::1]:6"]],
    ["b.example:4444,a.example:4444", ["b.example:4444", "a.example:4444"]],
  ];
  for (const role of ["peer", "get", "cat"] as const) {
    for (const [typed, trackers] of cases) {
      assert.deepEqual(parse(["--tracker", typed], role).trackers, trackers, `${role} --tracker ${typed}`);
      assert.deepEqual(parse([`--tracker=${typed}`], role).trackers, trackers, `${role} --tracker=${typed}`);
    }
  }
  assert.deepEqual(parse([]).trackers, ["127.0.0.1:4444"], "the default: one tracker");
  assert.deepEqual(parse(["--tracker", "10.0.0.1:4444"]).trackers, ["10.0.0.1:4444"], "one: a list of one");
});

Deno.test("flags: a bad tracker of a list is refused, named, with where it stands in what was given", () => {
  const cases: [string, string][] = [
    ["10.0.0.1:4444,nowhere", "--tracker must be HOST:PORT, got nowhere (item 2 of 10.0.0.1:4444,nowhere)"],
    ["h:0,10.0.0.1:4444", "--tracker must be HOST:PORT, got h:0 (item 1 of h:0,10.0.0.1:4444)"],
    ["a:1, b:99999", "--tracker must be HOST:PORT, got b:99999 (item 2 of 'a:1, b:99999')"],
    ["a:1,b c:2", "--tracker must be HOST:PORT, got 'b c:2' (item 2 of 'a:1,b c:2')"],
    [" a:1,b:2", "--tracker must be HOST:PORT, got ' a:1' (item 1 of ' a:1,b:2')"],
    ["a:1;b:2", "--tracker must be HOST:PORT, got 'a:1;b:2'"],
  ];
  for (const [typed, message] of cases) {
    refuses(["--tracker", typed], message, "peer");
    refuses([`--tracker=${typed}`], message, "get");
    refuses(["--tracker", typed, "x"], message, "cat");
  }
});

Deno.test("flags: an empty item of --tracker is refused, saying how to separate trackers", () => {
  const cases: [string, string][] = [
    ["a:1,,b:2", "item 2 of a:1,,b:2"],
    ["a:1,", "item 2 of a:1,"],
    [",a:1", "item 1 of ,a:1"],
    ["a:1, ,b:2", "item 2 of 'a:1, ,b:2'"],
    [",", "item 1 of ,"],
  ];
  for (const [typed, where] of cases) {
    refuses(
      ["--tracker", typed],
      `--tracker has an empty item (${where}); separate trackers with one comma: HOST:PORT,HOST:PORT`,
    );
  }
  refuses(["--tracker", ""], "--tracker must be HOST:PORT, got ''", "get");
});

Deno.test("flags: a tracker given twice in --tracker is refused, naming both places, rather than quietly dropped", () => {
  refuses(
    ["--tracker", "10.0.0.1:4444,10.0.0.2:4444,10.0.0.1:4444"],
    "--tracker lists 10.0.0.1:4444 twice (items 1 and 3 of 10.0.0.1:4444,10.0.0.2:4444,10.0.0.1:4444); " +
      "give each tracker once",
  );
  // The same host in other letters is the same tracker; another port is another.
  refuses(
    ["--tracker", "Tracker.example:4444, tracker.EXAMPLE:4444"],
    "--tracker lists tracker.EXAMPLE:4444 twice (items 1 and 2 of 'Tracker.example:4444, tracker.EXAMPLE:4444'); " +
      "give each tracker once",
    "get",
  );
  assert.deepEqual(parseTrackerList("h:1,h:2"), ["h:1", "h:2"]);
});

Deno.test("flags: with several bad flags, a bad --tracker is still the last named, as one address always was", () => {
  refuses(["--tracker", "a:1,nowhere", "--timeout", "0"], /^--timeout must be/, "get");
});
