/**
 * Where the bench writes its figures (`bench/bench.ts`): a full run records
 * them in docs/bench.json, the tracked record of the last full run; a
 * `--quick` run (CI-sized, its figures mean little) leaves that file as it
 * is and writes only where `--json FILE` says. Each run measures one cheap
 * case (`--only announce`), in a copy of the project, so that the real
 * docs/bench.json is never at risk.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { tempDir } from "../helpers/temp.ts";

/** The project's folder. */
const PROJECT = join(import.meta.dirname!, "..", "..");

/** Copies the project's sources (not `.git`, not the tests) into `to`. */
async function copyProject(from: string, to: string): Promise<void> {
  await Deno.mkdir(to, { recursive: true });
  for await (const entry of Deno.readDir(from)) {
    if (entry.name === ".git" || entry.name === "tests" || entry.name === "node_modules") continue;
    const source = join(from, entry.name);
    if (entry.isDirectory) await copyProject(source, join(to, entry.name));
    else if (entry.isFile) await Deno.copyFile(source, join(to, entry.name));
  }
}

/** Runs the copy's bench with `args`; its exit code and output. */
async function bench(project: string, args: string[]) {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--allow-run",
      "--allow-net=127.0.0.1",
      "--allow-read",
      "--allow-write",
      join(project, "bench", "bench.ts"),
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdout: "piped",
    stderr: "piped",
  }).output();
  const text = new TextDecoder();
  return { code, stdout: text.decode(stdout), stderr: text.decode(stderr) };
}

/** The record's bytes and modification time. */
async function record(path: string) {
  return { text: await Deno.readTextFile(path), mtime: (await Deno.stat(path)).mtime?.getTime() };
}

Deno.test("bench: --quick leaves docs/bench.json as it is, and says where its figures went (nowhere, or --json FILE)", async () => {
  await using dir = await tempDir();
  const project = join(dir.path, "project");
  await copyProject(PROJECT, project);
  const docs = join(project, "docs", "bench.json");
  const before = await record(docs);

  const chart = join(project, "docs", "bench.svg");
  const chartBefore = await record(chart).catch(() => undefined);

  const quick = await bench(project, ["--quick", "--only", "announce"]);
  assert.equal(quick.code, 0, quick.stdout + quick.stderr);
  assert.deepEqual(await record(docs), before, "docs/bench.json untouched");
  assert.deepEqual(await record(chart).catch(() => undefined), chartBefore, "docs/bench.svg untouched");
  assert.match(quick.stdout, /^\| what +\| measured +\| baseline, same run +\| ratio +\| goal +\| met +\| note +\|$/m);
  assert.match(
    quick.stdout,
    /^\| announce of 10000 files +\| [\d.,]+ ms +\| — +\| — +\| ≤ 1,000 ms for 100,000 files +\| — +\|/m,
  );
  assert.match(quick.stdout, /^goals: 0 met, 0 missed, 1 figure without a goal judged here$/m);
  assert.match(quick.stdout, /^\(quick: the figures are not written, docs\/bench\.json keeps the last full run; /m);

  // What .ci/run does: a file of its own.
  const file = join(dir.path, "quick.json");
  const kept = await bench(project, ["--quick", "--only", "announce", "--json", file]);
  assert.equal(kept.code, 0, kept.stdout + kept.stderr);
  assert.ok(kept.stdout.includes(`(JSON: ${file})`), kept.stdout);
  const figures = JSON.parse(await Deno.readTextFile(file));
  assert.equal(figures.machine.quick, true);
  assert.equal(figures.announce.files, 10_000);
  // The structured figures, judged, beside the printed rows.
  assert.equal(figures.figures.length, 1);
  assert.equal(figures.figures[0].what, "announce of 10000 files");
  assert.equal(figures.figures[0].unit, "ms");
  assert.equal(figures.figures[0].value, figures.announce.ms[0]);
  // The chart, next to the JSON.
  const svg = join(dir.path, "quick.svg");
  assert.ok(kept.stdout.includes(`(chart: ${svg})`), kept.stdout);
  assert.match(
    await Deno.readTextFile(svg),
    /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg" /,
  );
  assert.deepEqual(await record(docs), before, "docs/bench.json untouched");
  assert.deepEqual(await record(chart).catch(() => undefined), chartBefore, "docs/bench.svg untouched");
});

Deno.test("bench: a full run (here of one case) records its figures in docs/bench.json and draws them in docs/bench.svg", async () => {
  await using dir = await tempDir();
  const project = join(dir.path, "project");
  await copyProject(PROJECT, project);
  const docs = join(project, "docs", "bench.json");

  const full = await bench(project, ["--only", "announce", "--runs", "1"]);
  assert.equal(full.code, 0, full.stdout + full.stderr);
  assert.ok(full.stdout.includes(`(JSON: ${docs})`), full.stdout);
  const figures = JSON.parse(await Deno.readTextFile(docs));
  assert.equal(figures.machine.quick, false);
  assert.equal(figures.announce.files, 100_000);
  const chart = join(project, "docs", "bench.svg");
  assert.ok(full.stdout.includes(`(chart: ${chart})`), full.stdout);
  const svg = await Deno.readTextFile(chart);
  // The announce has an absolute goal in the full run: a group of its own, with its measured bar and goal marker.
  assert.equal(svg.match(/<g class="figure">/g)?.length, 1, svg);
  assert.match(svg, /<text [^>]*>announce of 100000 files {2}\(goal ≤ 1,000 ms; lower is better\)<\/text>/);
  assert.equal(svg.match(/<rect class="measured (met|missed)"/g)?.length, 1, svg);
  assert.equal(svg.match(/<line class="goal"/g)?.length, 1, svg);
});

Deno.test("bench: an unknown --only case is refused, naming the cases, before anything is measured", async () => {
  await using dir = await tempDir();
  const project = join(dir.path, "project");
  await copyProject(PROJECT, project);
  const run = await bench(project, ["--quick", "--only", "annonce"]);
  assert.equal(run.code, 2);
  assert.equal(run.stdout, "");
  assert.equal(
    run.stderr,
    "bench: --only annonce: no such case; the cases are one,four,swarm,tracker,announce,live,http,crowd,redis,tls\n",
  );
});

Deno.test("bench: --quick --only crowd times a crowd of 4 peers against one seed, and a peer's download with and without --no-partial", async () => {
  await using dir = await tempDir();
  const project = join(dir.path, "project");
  await copyProject(PROJECT, project);
  const file = join(dir.path, "crowd.json");

  const run = await bench(project, ["--quick", "--only", "crowd", "--json", file]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  assert.match(
    run.stdout,
    /^\| crowd of 4, partial serving: last landed +\| [\d.]+ s +\| — +\| — +\| ≤ 4\.00 s +\| (pass|miss) +\| ideal 2 s; goal ≤ 2x the ideal +\|$/m,
  );
  assert.match(
    run.stdout,
    /^\| {3}seed sent, × the file +\| [\d.]+x \([\d.]+ MiB\) +\| — +\| — +\| ≤ 1\.50x +\| (pass|miss) /m,
  );
  assert.match(
    run.stdout,
    /^\| 1 file \(16 MiB\) into a peer's folder from 1 holder \(1 run\) +\| [\d,.]+ MB\/s +\| --no-partial: [\d,.]+ MB\/s +\| [\d.]+x +\| ≥ 1\.00x the baseline +\| (pass|miss) /m,
  );
  const { crowd } = JSON.parse(await Deno.readTextFile(file));
  assert.deepEqual([crowd.fileBytes, crowd.rateLimit, crowd.idealMs], [8 * 1024 * 1024, 4 * 1024 * 1024, 2000]);
  const [four] = crowd.runs;
  assert.deepEqual([four.downloaders, four.partial, four.capped, four.failed], [4, true, false, []]);
  assert.equal(four.doneMs.length, 4);
  // The seed sent the file at least once (the crowd had nobody else to get it from), read from its lines.
  assert.ok(four.seedSentBytes >= crowd.fileBytes * 0.99, String(four.seedSentBytes));
  assert.equal(crowd.singleFromOneHolder.servePartialMs.length, 1);
  assert.equal(crowd.singleFromOneHolder.noPartialMs.length, 1);
});

Deno.test("bench: --quick --only tls times a whole get over TLS beside the same in plain, and --secret both ways", async () => {
  await using dir = await tempDir();
  const project = join(dir.path, "project");
  await copyProject(PROJECT, project);
  const file = join(dir.path, "tls.json");

  const run = await bench(project, ["--quick", "--only", "tls", "--json", file]);
  assert.equal(run.code, 0, run.stdout + run.stderr);
  const { tls, figures } = JSON.parse(await Deno.readTextFile(file));
  if (tls.skipped !== undefined) {
    // No openssl here: the case says so rather than measuring TLS that is not there.
    assert.match(run.stdout, /^\| get over TLS +\| skipped +\|/m);
    return;
  }
  assert.match(
    run.stdout,
    /^\| get over TLS \(16 MiB, whole process\) +\| [\d.,]+ MB\/s +\| the same in plain: [\d.,]+ MB\/s +\| [\d.]+x +\| ≥ 0\.50x the baseline +\| (pass|miss) +\|/m,
  );
  assert.match(run.stdout, /^\| get with --secret over TLS \(16 MiB\) +\| [\d.,]+ MB\/s +\| --secret in plain: /m);
  assert.equal(tls.bytes, 16 * 1024 * 1024);
  for (const network of ["plain", "tls", "secret", "secret-tls"]) assert.equal(tls.ms[network].length, 1, network);
  const overTls = figures.find((f: { what: string }) => f.what.startsWith("get over TLS"));
  assert.deepEqual(overTls.goal, { ratio: 0.5 });
  assert.equal(overTls.ratio, overTls.value / overTls.baseline);
});
