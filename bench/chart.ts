/**
 * The bench's figures drawn as an SVG chart (`docs/bench.svg`, shown by
 * docs/PERFORMANCE.md): for each figure that has a baseline or a goal, a
 * group of horizontal bars, the measured value and the baseline measured in
 * the same run, with the goal as a dashed marker. Figures differ in units,
 * so each group has its own scale (its longest bar or goal is the full
 * width) and the labels give the real values. Pure: figures in, text out,
 * no library.
 *
 * @module
 */

import { type Figure, formatValue, goalText, judge, type JudgedFigure } from "./figures.ts";

/** Options of {@link benchChart}. */
export interface ChartOptions {
  /** The chart's title. Default: `deno task bench`. */
  title?: string;
  /** A line under the title (the machine, the date, the runs). Default: none. */
  subtitle?: string;
}

const WIDTH = 1000;
const MARGIN = 20;
/** Where the bars start; the bars' names are on their left. */
const BAR_X = 250;
/** The longest bar of a group. */
const BAR_MAX = 480;
const BAR_HEIGHT = 14;
const ROW = 20;
/** Characters of a bar's name (12 px monospace) that fit left of the bars. */
const NAME_CHARS = 30;
/** Characters of a group's title that fit across the chart (13 px bold monospace). */
const TITLE_CHARS = 118;
const FONT = "DejaVu Sans Mono, Menlo, Consolas, monospace";
const COLOURS = {
  met: "#2e7d32",
  missed: "#c62828",
  unjudged: "#1565c0",
  baseline: "#9e9e9e",
  goal: "#111111",
  text: "#111111",
  faint: "#555555",
};

/**
 * Text made safe for XML text and attribute values.
 *
 * @example
 * ```ts
 * import { escapeXml } from "./chart.ts";
 *
 * escapeXml(`a < b & "c"`); // "a &lt; b &amp; &quot;c&quot;"
 * ```
 */
export function escapeXml(text: string): string {
  return text.replace(
    /[<>&"']/g,
    (c) => ({ "<": "&lt;", ">": "&gt;", "&": "&amp;", '"': "&quot;", "'": "&apos;" })[c]!,
  );
}

/** `text` cut to `max` characters, an ellipsis marking the cut. */
function fit(text: string, max: number): string {
  return text.length <= max ? text : text.slice(0, max - 1) + "…";
}

/** Whether a figure can be drawn: a measured number, and a baseline or a goal in its unit to set it beside. */
function drawable(figure: JudgedFigure): boolean {
  const finite = (x: number | undefined) => x !== undefined && Number.isFinite(x);
  if (!finite(figure.value)) return false;
  return finite(figure.baseline) || figure.goal?.value !== undefined;
}

/** The goal's positions in the figure's unit: the absolute one, and the ratio one worked out from the baseline. */
function goalValues(figure: JudgedFigure): number[] {
  const at: number[] = [];
  if (figure.goal?.value !== undefined) at.push(figure.goal.value);
  if (figure.goal?.ratio !== undefined && figure.baseline !== undefined) at.push(figure.goal.ratio * figure.baseline);
  return at.filter(Number.isFinite);
}

/** An SVG element: its name, attributes (escaped) and, if any, its text (escaped). */
function element(name: string, attributes: Record<string, string | number>, text?: string): string {
  const attrs = Object.entries(attributes).map(([k, v]) => ` ${k}="${escapeXml(String(v))}"`).join("");
  return text === undefined ? `<${name}${attrs}/>` : `<${name}${attrs}>${escapeXml(text)}</${name}>`;
}

/** Width of `text` in 12 px monospace, px (about). */
const CHAR_WIDTH = 7.3;

/**
 * Where a bar's value label starts: just after the bar's end, or, when a
 * goal marker would cross the label, just after the marker.
 */
function labelX(barEnd: number, label: string, markers: number[]): number {
  let x = barEnd + 6;
  for (const marker of [...markers].sort((a, b) => a - b)) {
    if (marker >= barEnd - 2 && marker <= x + label.length * CHAR_WIDTH) x = Math.max(x, marker + 6);
  }
  return x;
}

/**
 * One figure's group, drawn from `y` down; its SVG and its height. `parent`
 * is the figure above a detail line (one whose `what` starts with spaces),
 * whose name the title takes first so that the group reads on its own.
 */
function group(figure: JudgedFigure, y: number, parent?: string): { svg: string; height: number } {
  const value = figure.value!;
  const goals = goalValues(figure);
  const hasBaseline = figure.baseline !== undefined && Number.isFinite(figure.baseline);
  const largest = Math.max(value, hasBaseline ? figure.baseline! : 0, ...goals);
  const scale = largest > 0 ? BAR_MAX / largest : 0;
  const width = (x: number) => Math.max(0, x * scale);
  const parts: string[] = [];
  const goal = goalText(figure);
  const better = figure.higherIsBetter ?? true ? "higher is better" : "lower is better";
  const name = parent === undefined ? figure.what.trim() : `${parent.trim()}: ${figure.what.trim()}`;
  const title = `${name}  (${goal ? `goal ${goal}; ` : ""}${better})`;
  parts.push(
    element(
      "text",
      { x: MARGIN, y: y + 13, "font-size": 13, "font-weight": "bold", fill: COLOURS.text },
      fit(title, TITLE_CHARS),
    ),
  );
  const status = figure.met === undefined ? "unjudged" : figure.met ? "met" : "missed";
  const bars: { name: string; x: number; kind: string; colour: string }[] = [
    { name: "measured", x: value, kind: `measured ${status}`, colour: COLOURS[status] },
  ];
  if (hasBaseline) {
    bars.push({
      name: figure.baselineWhat || "baseline",
      x: figure.baseline!,
      kind: "baseline",
      colour: COLOURS.baseline,
    });
  }
  const top = y + 20;
  const markers = goals.map((at) => BAR_X + width(at));
  for (const [i, bar] of bars.entries()) {
    const barY = top + i * ROW;
    parts.push(
      element(
        "text",
        { x: BAR_X - 8, y: barY + 11, "text-anchor": "end", fill: COLOURS.text },
        fit(bar.name, NAME_CHARS),
      ),
    );
    parts.push(
      `<rect class="${bar.kind}" x="${BAR_X}" y="${barY}" width="${width(bar.x).toFixed(1)}" height="${BAR_HEIGHT}" ` +
        `fill="${bar.colour}">${element("title", {}, `${bar.name}: ${formatValue(bar.x, figure.unit)}`)}</rect>`,
    );
    const label = formatValue(bar.x, figure.unit);
    const x = labelX(BAR_X + width(bar.x), label, markers);
    parts.push(element("text", { x: x.toFixed(1), y: barY + 11, fill: COLOURS.text }, label));
  }
  const bottom = top + bars.length * ROW;
  for (const at of goals) {
    const x = (BAR_X + width(at)).toFixed(1);
    parts.push(
      `<line class="goal" x1="${x}" y1="${top - 4}" x2="${x}" y2="${bottom - 2}" stroke="${COLOURS.goal}" ` +
        `stroke-width="2" stroke-dasharray="4 3">${
          element("title", {}, `goal: ${formatValue(at, figure.unit)}`)
        }</line>`,
    );
  }
  const verdict = figure.met === undefined ? "" : figure.met ? "pass" : "MISS";
  const ratio = figure.ratio === undefined ? "" : `${figure.ratio.toFixed(2)}x`;
  if (ratio) {
    parts.push(
      element("text", { x: WIDTH - MARGIN - 60, y: top + 11, "text-anchor": "end", fill: COLOURS.faint }, ratio),
    );
  }
  if (verdict) {
    parts.push(
      element(
        "text",
        {
          class: figure.met ? "pass" : "miss",
          x: WIDTH - MARGIN,
          y: top + 11,
          "text-anchor": "end",
          "font-weight": "bold",
          fill: figure.met ? COLOURS.met : COLOURS.missed,
        },
        verdict,
      ),
    );
  }
  const height = bottom - y + 10;
  return { svg: `<g class="figure">${parts.join("")}</g>`, height };
}

/** The legend: a swatch and a word for each kind of mark. */
function legend(y: number): string {
  const items: [string, string][] = [
    [COLOURS.met, "measured, goal met"],
    [COLOURS.missed, "measured, goal missed"],
    [COLOURS.unjudged, "measured, no goal"],
    [COLOURS.baseline, "baseline, same run"],
  ];
  const parts: string[] = [];
  let x = MARGIN;
  for (const [colour, words] of items) {
    parts.push(element("rect", { x, y, width: 14, height: 12, fill: colour }));
    parts.push(element("text", { x: x + 20, y: y + 11, fill: COLOURS.text }, words));
    x += 20 + words.length * CHAR_WIDTH + 24;
  }
  parts.push(
    element("line", {
      x1: x + 7,
      y1: y - 2,
      x2: x + 7,
      y2: y + 14,
      stroke: COLOURS.goal,
      "stroke-width": 2,
      "stroke-dasharray": "4 3",
    }),
  );
  parts.push(element("text", { x: x + 20, y: y + 11, fill: COLOURS.text }, "goal"));
  return `<g class="legend">${parts.join("")}</g>`;
}

/**
 * The figures as an SVG document: a title, a legend, then one group per
 * figure that has a measured value and a baseline or an absolute goal (the
 * others are in the table only, as the last line says). In each group the
 * measured bar is green when its goal was met, red when missed, blue when
 * there is no goal to judge; the baseline bar is grey; a dashed line marks
 * the goal; on the right, the ratio to the baseline and `pass` or `MISS`.
 *
 * @example
 * ```ts
 * import { benchChart } from "./chart.ts";
 *
 * const svg = benchChart([
 *   { what: "1 GiB get over TLS", value: 700, unit: "MB/s", baseline: 1_100, baselineWhat: "plain", goal: { ratio: 0.5 } },
 * ], { subtitle: "Deno 2.9.6, 2 cores" });
 * await Deno.writeTextFile("bench.svg", svg);
 * ```
 */
export function benchChart(figures: Figure[], options: ChartOptions = {}): string {
  const judged = figures.map(judge);
  const shown = judged.filter(drawable);
  const parts: string[] = [];
  let y = MARGIN;
  parts.push(
    element(
      "text",
      { x: MARGIN, y: y + 16, "font-size": 18, "font-weight": "bold", fill: COLOURS.text },
      options.title ?? "deno task bench",
    ),
  );
  y += 26;
  if (options.subtitle) {
    parts.push(element("text", { x: MARGIN, y: y + 12, fill: COLOURS.faint }, fit(options.subtitle, 130)));
    y += 20;
  }
  parts.push(
    element(
      "text",
      { x: MARGIN, y: y + 12, fill: COLOURS.faint },
      "Each figure has its own scale: its longest bar or goal spans the width; the labels give the real values.",
    ),
  );
  y += 24;
  parts.push(legend(y));
  y += 30;
  // A detail line (its `what` indented) is drawn under its parent's name: the figure above it that is not indented.
  let parent: string | undefined;
  for (const figure of judged) {
    const detail = /^\s/.test(figure.what);
    if (!detail) parent = figure.what;
    if (!drawable(figure)) continue;
    const drawn = group(figure, y, detail ? parent : undefined);
    parts.push(drawn.svg);
    y += drawn.height;
  }
  const left = judged.length - shown.length;
  const footer = shown.length === 0
    ? "No figure has a measured value beside a baseline or a goal: see the table."
    : left > 0
    ? `${left} more figure${left === 1 ? "" : "s"} without a baseline or a goal in their unit: see the table.`
    : "";
  if (footer) {
    parts.push(element("text", { x: MARGIN, y: y + 14, fill: COLOURS.faint }, footer));
    y += 24;
  }
  const height = Math.ceil(y + MARGIN);
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" ` +
    `font-family="${FONT}" font-size="12">`,
    element("rect", { x: 0, y: 0, width: WIDTH, height, fill: "#ffffff" }),
    ...parts,
    `</svg>`,
    "",
  ].join("\n");
}
