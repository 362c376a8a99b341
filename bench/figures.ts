/**
 * The bench's figures: each measured value beside the baseline measured in
 * the same run and the goal it is held to, judged (ratio, goal met or
 * missed) and laid out as the printed table's rows. `bench/bench.ts`
 * collects them, prints {@link figureTable}, keeps them in its JSON, and
 * draws them with `bench/chart.ts`. Pure: nothing here measures or prints.
 *
 * @module
 */

/**
 * A goal for a figure: a ratio to the baseline measured in the same run
 * (`{ ratio: 0.75 }`: at least 0.75 of socat), an absolute value in the
 * figure's unit (`{ value: 80 }` with unit `MiB` and `higherIsBetter: false`:
 * at most 80 MiB), or both, when the goal is one or the other (issue 16's
 * tracker: 100,000 lookups/s, or on a slower day 0.75 of a bare line server
 * measured in the same run): then it is met when either holds.
 */
export interface Goal {
  /** The least (or, lower being better, the most) `value / baseline`. */
  ratio?: number;
  /** The least (or, lower being better, the most) value, in the figure's unit. */
  value?: number;
}

/**
 * One measured figure. Only `what` is required: a figure with no `value`
 * is a line of text in the table (`shown`), which the chart leaves out.
 *
 * @example
 * ```ts
 * import { judge, type Figure } from "./figures.ts";
 *
 * const get: Figure = {
 *   what: "1 file, verified: a whole get process",
 *   value: 1_050,
 *   unit: "MB/s",
 *   baseline: 1_500,
 *   baselineWhat: "socat -b 1048576",
 *   goal: { ratio: 0.75 },
 * };
 * judge(get).met; // false: 0.70 of socat, short of 0.75
 * ```
 */
export interface Figure {
  /** What was measured, as the table's first column says it (a leading space or two: a detail of the row above). */
  what: string;
  /** The measured value (a median), in `unit`. */
  value?: number;
  /** The unit of `value`, `baseline` and `goal.value`: `MB/s`, `ms`, `s`, `MiB`, `B`, `lookups/s`, `x`, … */
  unit?: string;
  /** How the table shows the value, when not as `value` and `unit` (e.g. `0.77 / 3.65 ms`). */
  shown?: string;
  /** The same quantity measured in the same run by something else (socat, a bare server, the code before). */
  baseline?: number;
  /** What the baseline is (`socat -b 1048576`); alone, without `baseline`, a line of text for the column. */
  baselineWhat?: string;
  /** The goal; none: the figure is there to be read, not judged. */
  goal?: Goal;
  /** A goal written out, when it cannot be judged here (an old `row()` caller's "80 MiB target"). */
  goalShown?: string;
  /** Whether more is better (a rate) or less (a time, a size). Default true. */
  higherIsBetter?: boolean;
  /** The ratio as an old `row()` caller worked it out, when there is no `baseline` to work it from. */
  ratioShown?: string;
  /** Anything else a reader needs (where the CPU went, the file's size). */
  note?: string;
}

/** A figure with its ratio to the baseline and whether its goal was met. */
export interface JudgedFigure extends Figure {
  /** `value / baseline`, when both are there. */
  ratio?: number;
  /** True: the goal was met; false: missed; undefined: no goal, or nothing to judge it with (no baseline). */
  met?: boolean;
}

/**
 * Works out a figure's ratio to its baseline and whether it met its goal.
 * A ratio goal needs a baseline: without one (socat missing) the goal is
 * not judged. With both kinds of goal, either one met is enough.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { judge } from "./figures.ts";
 *
 * const rss = judge({ what: "peak RSS", value: 92, unit: "MiB", goal: { value: 80 }, higherIsBetter: false });
 * assert.equal(rss.met, false);
 * ```
 */
export function judge(figure: Figure): JudgedFigure {
  const { value, baseline, goal } = figure;
  const higher = figure.higherIsBetter ?? true;
  const known = (x: number | undefined): x is number => x !== undefined && Number.isFinite(x);
  const ratio = known(value) && known(baseline) && baseline !== 0 ? value / baseline : undefined;
  const holds = (x: number, bound: number) => higher ? x >= bound : x <= bound;
  const checks: boolean[] = [];
  if (goal?.ratio !== undefined && ratio !== undefined) checks.push(holds(ratio, goal.ratio));
  if (goal?.value !== undefined && known(value)) checks.push(holds(value, goal.value));
  const judged: JudgedFigure = { ...figure };
  if (ratio !== undefined) judged.ratio = ratio;
  if (checks.length > 0) judged.met = checks.some((ok) => ok);
  return judged;
}

/**
 * A number as the table and the chart show it: grouped thousands from
 * 1,000, whole from 100, one decimal from 10, two below.
 *
 * @example
 * ```ts
 * import { formatNumber } from "./figures.ts";
 *
 * formatNumber(104_513.2); // "104,513"
 * formatNumber(0.754); // "0.75"
 * ```
 */
export function formatNumber(x: number): string {
  if (!Number.isFinite(x)) return String(x);
  const size = Math.abs(x);
  if (size >= 1_000) return Math.round(x).toLocaleString("en-US");
  if (size >= 100) return x.toFixed(0);
  if (size >= 10) return x.toFixed(1);
  return x.toFixed(2);
}

/**
 * A value with its unit: `1,581 MB/s`, `3.80x`, `12.5 ms`.
 *
 * @example
 * ```ts
 * import { formatValue } from "./figures.ts";
 *
 * formatValue(3.8, "x"); // "3.80x"
 * ```
 */
export function formatValue(x: number, unit = ""): string {
  const n = formatNumber(x);
  if (unit === "") return n;
  return unit === "x" ? `${n}x` : `${n} ${unit}`;
}

/**
 * A goal written out: `≥ 0.75x the baseline`, `≤ 80 MiB`, or both
 * joined by `or`; the empty string for none.
 *
 * @example
 * ```ts
 * import { goalText } from "./figures.ts";
 *
 * goalText({ what: "lookups/s", unit: "lookups/s", goal: { value: 100_000, ratio: 0.75 } });
 * // "≥ 100,000 lookups/s or ≥ 0.75x the baseline"
 * ```
 */
export function goalText(figure: Figure): string {
  const { goal } = figure;
  if (goal === undefined) return figure.goalShown ?? "";
  const sign = figure.higherIsBetter ?? true ? "≥" : "≤";
  const parts: string[] = [];
  if (goal.value !== undefined) parts.push(`${sign} ${formatValue(goal.value, figure.unit)}`);
  if (goal.ratio !== undefined) parts.push(`${sign} ${goal.ratio.toFixed(2)}x the baseline`);
  return parts.join(" or ");
}

/** The table's columns, in order. */
export const TABLE_HEADER = ["what", "measured", "baseline, same run", "ratio", "goal", "met", "note"] as const;

/** What the table shows for a figure or column that has nothing to show. */
const NONE = "—";

/**
 * A judged figure's cells, in the order of {@link TABLE_HEADER}: the
 * measured value, the baseline (its name and value, or `—`), the ratio
 * (`0.70x`), the goal, `pass` or `miss` (`—` when not judged), and the note.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { figureCells, judge } from "./figures.ts";
 *
 * const cells = figureCells(judge({ what: "announce", value: 822, unit: "ms", goal: { value: 1000 }, higherIsBetter: false }));
 * assert.deepEqual(cells, ["announce", "822 ms", "—", "—", "≤ 1,000 ms", "pass", ""]);
 * ```
 */
export function figureCells(figure: JudgedFigure): string[] {
  const measured = figure.shown ?? (figure.value === undefined ? NONE : formatValue(figure.value, figure.unit));
  let baseline = NONE;
  if (figure.baseline !== undefined) {
    const shown = formatValue(figure.baseline, figure.unit);
    baseline = figure.baselineWhat ? `${figure.baselineWhat}: ${shown}` : shown;
  } else if (figure.baselineWhat) {
    baseline = figure.baselineWhat;
  }
  const ratio = figure.ratio !== undefined ? `${figure.ratio.toFixed(2)}x` : figure.ratioShown || NONE;
  const met = figure.met === undefined ? NONE : figure.met ? "pass" : "miss";
  return [figure.what, measured, baseline, ratio, goalText(figure) || NONE, met, figure.note ?? ""];
}

/**
 * The figures as a markdown table (header, rule, one row each), columns
 * padded to line up.
 *
 * @example
 * ```ts
 * import { figureTable, judge } from "./figures.ts";
 *
 * console.log(figureTable([judge({ what: "announce of 100000 files", value: 822, unit: "ms" })]).join("\n"));
 * ```
 */
export function figureTable(figures: JudgedFigure[]): string[] {
  const rows = figures.map(figureCells);
  const widths = TABLE_HEADER.map((title, i) => Math.max(title.length, ...rows.map((r) => r[i].length)));
  const line = (cells: readonly string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
  return [line(TABLE_HEADER), line(widths.map((w) => "-".repeat(w))), ...rows.map(line)];
}

/**
 * How many goals were met, missed, and not judged, for the line under the
 * table: `goals: 9 met, 3 missed (…), 12 figures without a goal`.
 *
 * @example
 * ```ts
 * import { goalSummary, judge } from "./figures.ts";
 *
 * goalSummary([judge({ what: "a", value: 1, goal: { value: 2 } })]); // "goals: 0 met, 1 missed (a)"
 * ```
 */
export function goalSummary(figures: JudgedFigure[]): string {
  const met = figures.filter((f) => f.met === true).length;
  const missed = figures.filter((f) => f.met === false).map((f) => f.what.trim());
  const unjudged = figures.length - met - missed.length;
  const parts = [`goals: ${met} met`, `${missed.length} missed${missed.length ? ` (${missed.join("; ")})` : ""}`];
  if (unjudged > 0) parts.push(`${unjudged} figure${unjudged === 1 ? "" : "s"} without a goal judged here`);
  return parts.join(", ");
}
