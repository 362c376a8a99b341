/**
 * The bench's figures (`bench/figures.ts`): the ratio to the baseline
 * measured in the same run, goals judged either way round, and the printed
 * table's cells.
 *
 * @module
 */

import assert from "node:assert/strict";
import { figureCells, figureTable, formatNumber, goalSummary, judge, TABLE_HEADER } from "../../bench/figures.ts";

Deno.test("figures: the ratio is measured over baseline, and a ratio goal is met at or above it when more is better", () => {
  const at = (value: number) => judge({ what: "get", value, unit: "MB/s", baseline: 1_000, goal: { ratio: 0.75 } });
  assert.equal(at(750).ratio, 0.75);
  assert.equal(at(750).met, true);
  assert.equal(at(749).met, false);
});

Deno.test("figures: when less is better, a goal is met at or below it (a peak RSS, a time)", () => {
  const rss = (value: number) => judge({ what: "rss", value, unit: "MiB", goal: { value: 80 }, higherIsBetter: false });
  assert.equal(rss(80).met, true);
  assert.equal(rss(80.5).met, false);
  const slower = judge({ what: "t", value: 3, unit: "s", baseline: 2, goal: { ratio: 1.2 }, higherIsBetter: false });
  assert.equal(slower.ratio, 1.5);
  assert.equal(slower.met, false);
});

Deno.test("figures: a goal given both ways is met when either holds; a ratio goal without a baseline is not judged", () => {
  const tracker = (value: number, baseline?: number) =>
    judge({ what: "lookups", value, unit: "lookups/s", baseline, goal: { value: 100_000, ratio: 0.75 } });
  assert.equal(tracker(100_000, 200_000).met, true, "the absolute goal");
  assert.equal(tracker(80_000, 100_000).met, true, "the ratio goal, on a slower day");
  assert.equal(tracker(70_000, 100_000).met, false);
  const noSocat = judge({ what: "get", value: 900, unit: "MB/s", goal: { ratio: 0.75 } });
  assert.equal(noSocat.met, undefined);
  assert.equal(noSocat.ratio, undefined);
  assert.equal(judge({ what: "x", value: NaN, goal: { value: 1 } }).met, undefined);
});

Deno.test("figures: a row reads what, measured, the baseline with its name, the ratio, the goal and pass or miss", () => {
  const cells = figureCells(
    judge({
      what: "get over TLS",
      value: 612.4,
      unit: "MB/s",
      baseline: 1_530,
      baselineWhat: "the same in plain",
      goal: { ratio: 0.5 },
      note: "1 GiB",
    }),
  );
  assert.deepEqual(cells, [
    "get over TLS",
    "612 MB/s",
    "the same in plain: 1,530 MB/s",
    "0.40x",
    "≥ 0.50x the baseline",
    "miss",
    "1 GiB",
  ]);
  assert.equal(cells.length, TABLE_HEADER.length);
});

Deno.test("figures: a row of text (the older row()) shows its text, and — where it has nothing", () => {
  const cells = figureCells(
    judge({ what: "p50 / p99 latency", shown: "0.77 / 3.65 ms", goalShown: "p99 2 ms target" }),
  );
  assert.deepEqual(cells, ["p50 / p99 latency", "0.77 / 3.65 ms", "—", "—", "p99 2 ms target", "—", ""]);
  const old = figureCells(judge({ what: "vs loop", shown: "403 MB/s", baselineWhat: "1165 MB/s", ratioShown: "0.35" }));
  assert.deepEqual(old.slice(1, 4), ["403 MB/s", "1165 MB/s", "0.35"]);
});

Deno.test("figures: numbers are grouped from 1,000, whole from 100, one decimal from 10, two below", () => {
  assert.deepEqual([104_513.2, 822.4, 12.34, 3.8, 0.754].map(formatNumber), ["104,513", "822", "12.3", "3.80", "0.75"]);
});

Deno.test("figures: the table's columns line up, under a header and a rule", () => {
  const lines = figureTable([
    judge({ what: "a long name for a figure", value: 1, unit: "s" }),
    judge({ what: "b", value: 123_456, unit: "lookups/s", goal: { value: 100_000 } }),
  ]);
  assert.equal(lines.length, 4);
  assert.match(lines[0], /^\| what +\| measured +\| baseline, same run \| ratio \| goal +\| met +\| note \|$/);
  assert.match(lines[1], /^\| -+ \| -+ \|/);
  const widths = new Set(lines.map((l) => l.length));
  assert.equal(widths.size, 1, lines.join("\n"));
  assert.ok(lines[3].includes("| pass |"), lines[3]);
});

Deno.test("figures: the summary counts goals met and missed, naming the missed", () => {
  const figures = [
    judge({ what: "a", value: 1, goal: { value: 2 } }),
    judge({ what: "  b", value: 3, goal: { value: 2 } }),
    judge({ what: "c", value: 3 }),
  ];
  assert.equal(goalSummary(figures), "goals: 1 met, 1 missed (a), 1 figure without a goal judged here");
});
