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

  const quick = await bench(project, ["--quick", "--only", "announce"]);
  assert.equal(quick.code, 0, quick.stdout + quick.stderr);
  assert.deepEqual(await record(docs), before, "docs/bench.json untouched");
  assert.match(quick.stdout, /\| announce of 10000 files \|/);
  assert.match(quick.stdout, /^\(quick: the figures are not written, docs\/bench\.json keeps the last full run; /m);

  // What .ci/run does: a file of its own.
  const file = join(dir.path, "quick.json");
  const kept = await bench(project, ["--quick", "--only", "announce", "--json", file]);
  assert.equal(kept.code, 0, kept.stdout + kept.stderr);
  assert.ok(kept.stdout.includes(`(JSON: ${file})`), kept.stdout);
  const figures = JSON.parse(await Deno.readTextFile(file));
  assert.equal(figures.machine.quick, true);
  assert.equal(figures.announce.files, 10_000);
  assert.deepEqual(await record(docs), before, "docs/bench.json untouched");
});

Deno.test("bench: a full run (here of one case) records its figures in docs/bench.json", async () => {
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
    "bench: --only annonce: no such case; the cases are one,four,swarm,tracker,announce,live,http,crowd,redis\n",
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
    /^\| crowd of 4, partial serving: last landed +\| [\d.]+ s +\| ideal 2 s; goal ≤ 2x \(4 s\) /m,
  );
  assert.match(run.stdout, /^\| {3}seed sent, × the file +\| [\d.]+x \([\d.]+ MiB\) +\| goal ≤ 1\.5x /m);
  assert.match(
    run.stdout,
    /^\| 1 file \(16 MiB\) into a peer's folder from 1 holder \(1 run\) +\| \d+ MB\/s +\| --no-partial \d+ MB\/s/m,
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
