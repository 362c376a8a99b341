/**
 * The bench's chart (`bench/chart.ts`): a well-formed SVG document, text
 * escaped, one bar per measured and baseline value, a goal marker, each
 * figure on its own scale, a missed goal marked.
 *
 * @module
 */

import assert from "node:assert/strict";
import { benchChart, escapeXml } from "../../bench/chart.ts";
import type { Figure } from "../../bench/figures.ts";

/**
 * Checks that `svg` is well-formed XML of the shapes the chart writes: one
 * `<svg>` root, every tag closed in order, attribute values quoted, `&` only
 * in the five predefined entities. Throws naming the first fault.
 */
function assertWellFormed(svg: string): void {
  const body = svg.replace(/^<\?xml [^?]*\?>\s*/, "");
  const entity = /&(?!(?:amp|lt|gt|quot|apos);)/;
  const tag = /^<(\/?)([A-Za-z][\w:-]*)((?:\s+[\w:-]+="[^"<]*")*)\s*(\/?)>$/;
  const open: string[] = [];
  let roots = 0;
  for (const token of body.match(/<[^>]*>|[^<]+/g) ?? []) {
    if (!token.startsWith("<")) {
      if (open.length === 0 && token.trim() !== "") throw new Error(`text outside the root: ${token}`);
      if (entity.test(token)) throw new Error(`a bare & in text: ${token}`);
      continue;
    }
    const m = tag.exec(token);
    if (!m) throw new Error(`not a well-formed tag: ${token}`);
    const [, closing, name, attributes, selfClosing] = m;
    if (entity.test(attributes)) throw new Error(`a bare & in attributes: ${token}`);
    if (closing) {
      const expected = open.pop();
      if (expected !== name) throw new Error(`</${name}> closes <${expected}>`);
      continue;
    }
    if (open.length === 0) roots++;
    if (!selfClosing) open.push(name);
  }
  if (open.length > 0) throw new Error(`not closed: ${open.join(", ")}`);
  assert.equal(roots, 1, "one root element");
  assert.match(body, /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /);
}

/** Every `<tag …>` of the given class (its opening tag). */
function tagsOf(svg: string, name: string, className: string): string[] {
  return svg.match(new RegExp(`<${name} class="${className}"[^>]*>`, "g")) ?? [];
}

/** A number attribute of a tag. */
function attribute(tag: string, name: string): number {
  return Number(new RegExp(` ${name}="([^"]*)"`).exec(tag)?.[1]);
}

const get: Figure = {
  what: "1 file, verified: a whole get process",
  value: 1_200,
  unit: "MB/s",
  baseline: 1_500,
  baselineWhat: "socat -b 1048576",
  goal: { ratio: 0.75 },
};

Deno.test("chart: the checker used here refuses broken XML (an unclosed tag, a bare &, a stray closing tag)", () => {
  assert.throws(() => assertWellFormed(`<svg xmlns="http://www.w3.org/2000/svg" ><g></svg>`), /closes/);
  assert.throws(() => assertWellFormed(`<svg xmlns="http://www.w3.org/2000/svg" ><text>a & b</text></svg>`), /bare &/);
  assert.throws(() => assertWellFormed(`<svg xmlns="http://www.w3.org/2000/svg" ></g></svg>`), /closes/);
  assertWellFormed(`<svg xmlns="http://www.w3.org/2000/svg" ><text x="1">a &amp; b</text></svg>`);
});

Deno.test("chart: a figure with a baseline and a goal is one measured bar, one baseline bar and a goal marker", () => {
  const svg = benchChart([get]);
  assertWellFormed(svg);
  assert.equal(tagsOf(svg, "g", "figure").length, 1);
  assert.equal(tagsOf(svg, "rect", "measured [a-z]+").length, 1);
  assert.equal(tagsOf(svg, "rect", "baseline").length, 1);
  assert.equal(tagsOf(svg, "line", "goal").length, 1);
  // The real values are written beside the bars, and the goal in the group's title.
  assert.ok(svg.includes(">1,200 MB/s</text>"), svg);
  assert.ok(svg.includes(">1,500 MB/s</text>"), svg);
  assert.ok(svg.includes("goal ≥ 0.75x the baseline"), svg);
  assert.ok(svg.includes(">socat -b 1048576</text>"), svg);
});

Deno.test("chart: the goal marker stands where the goal is: a ratio goal at ratio × baseline on the group's scale", () => {
  const svg = benchChart([get]);
  const [measured] = tagsOf(svg, "rect", "measured [a-z]+");
  const [baseline] = tagsOf(svg, "rect", "baseline");
  const [goal] = tagsOf(svg, "line", "goal");
  const x0 = attribute(baseline, "x");
  const full = attribute(baseline, "width"); // the baseline, 1,500, is the group's largest
  assert.ok(Math.abs(attribute(measured, "width") - full * 1_200 / 1_500) < 0.2);
  assert.ok(Math.abs(attribute(goal, "x1") - (x0 + full * 0.75)) < 0.2);
});

Deno.test("chart: each figure has its own scale: the largest of each group spans the same width, whatever its unit", () => {
  const svg = benchChart([
    { what: "small", value: 10, unit: "ms", baseline: 20, higherIsBetter: false },
    { what: "large", value: 120_000, unit: "lookups/s", baseline: 60_000 },
  ]);
  assertWellFormed(svg);
  const measured = tagsOf(svg, "rect", "measured [a-z]+").map((t) => attribute(t, "width"));
  const baselines = tagsOf(svg, "rect", "baseline").map((t) => attribute(t, "width"));
  assert.equal(baselines[0], measured[1], "the largest bar of each group is as long");
  assert.equal(measured[0], baselines[0] / 2);
  assert.equal(baselines[1], measured[1] / 2);
});

Deno.test("chart: text is escaped, so that < and & in a figure's name leave the document well-formed", () => {
  const svg = benchChart([{
    what: `lookups <depth 4> & "p99"`,
    value: 3,
    unit: "ms",
    goal: { value: 2 },
    higherIsBetter: false,
  }], {
    title: "bench <quick> & co",
    subtitle: "Deno 'x' & <y>",
  });
  assertWellFormed(svg);
  assert.ok(svg.includes("lookups &lt;depth 4&gt; &amp; &quot;p99&quot;"), svg);
  assert.ok(svg.includes("bench &lt;quick&gt; &amp; co"), svg);
  assert.ok(svg.includes("Deno &apos;x&apos; &amp; &lt;y&gt;"), svg);
  assert.equal(escapeXml(`<&>"'`), "&lt;&amp;&gt;&quot;&apos;");
});

Deno.test("chart: a missed goal is marked: a red measured bar and MISS; a met one green and pass", () => {
  const svg = benchChart([
    { what: "peak RSS, get process", value: 92, unit: "MiB", goal: { value: 80 }, higherIsBetter: false },
    { what: "get over TLS", value: 700, unit: "MB/s", baseline: 1_000, goal: { ratio: 0.5 } },
  ]);
  assertWellFormed(svg);
  const [missed] = tagsOf(svg, "rect", "measured missed");
  const [met] = tagsOf(svg, "rect", "measured met");
  assert.ok(missed && met, svg);
  assert.match(missed, /fill="#c62828"/);
  assert.match(met, /fill="#2e7d32"/);
  assert.equal(tagsOf(svg, "text", "miss").length, 1);
  assert.ok(/<text class="miss"[^>]*>MISS<\/text>/.test(svg), svg);
  assert.ok(/<text class="pass"[^>]*>pass<\/text>/.test(svg), svg);
});

Deno.test("chart: figures with no number, or with neither a baseline nor an absolute goal, are left to the table", () => {
  const svg = benchChart([
    get,
    { what: "p50 / p99 latency", shown: "0.77 / 3.65 ms" },
    { what: "announce", value: 822, unit: "ms" },
    { what: "ratio goal but no baseline (socat missing)", value: 900, unit: "MB/s", goal: { ratio: 0.75 } },
  ]);
  assertWellFormed(svg);
  assert.equal(tagsOf(svg, "g", "figure").length, 1);
  assert.ok(svg.includes("3 more figures without a baseline or a goal in their unit: see the table."), svg);
  assert.ok(!svg.includes("announce"), "left out");
});

Deno.test("chart: with nothing to draw it is still a valid document that says so", () => {
  const svg = benchChart([{ what: "trackers on Redis", shown: "skipped" }]);
  assertWellFormed(svg);
  assert.equal(tagsOf(svg, "g", "figure").length, 0);
  assert.ok(svg.includes("No figure has a measured value beside a baseline or a goal"), svg);
});

Deno.test("chart: a detail line (its name indented) is titled with the figure above it, so that its group reads alone", () => {
  const svg = benchChart([
    { what: "crowd of 8: last landed", value: 12, unit: "s", goal: { value: 16 }, higherIsBetter: false },
    { what: "  seed sent, × the file", value: 1.2, unit: "x", goal: { value: 1.5 }, higherIsBetter: false },
  ]);
  assertWellFormed(svg);
  assert.ok(
    svg.includes(">crowd of 8: last landed: seed sent, × the file  (goal ≤ 1.50x; lower is better)</text>"),
    svg,
  );
});

Deno.test("chart: a value's label that a goal marker would cross starts after the marker", () => {
  const svg = benchChart([{ what: "swarm", value: 26.9, unit: "MB/s", baseline: 8, goal: { ratio: 3.5 } }]);
  const [goal] = tagsOf(svg, "line", "goal");
  const label = /<text x="([\d.]+)"[^>]*>26\.9 MB\/s<\/text>/.exec(svg);
  assert.ok(label, svg);
  assert.ok(Number(label[1]) > attribute(goal, "x1"), `${label[1]} after ${attribute(goal, "x1")}`);
});
