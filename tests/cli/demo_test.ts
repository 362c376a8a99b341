/**
 * The demonstration (`cli/demo.ts`, `main.ts demo`): run as a user runs it,
 * it moves every file it says it moves and ends with `demo done: N files
 * moved…` and exit 0; run in this process with one step disturbed (a sample
 * file gone from alice's folder before she shares it), `runDemo` resolves
 * false and its last line names what did not arrive instead.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDemo } from "../../cli/demo.ts";
import { runCli } from "../helpers/cli.ts";

Deno.test("demo: runs to completion, exits 0 and its last line says demo done with every file it moved", async () => {
  const demo = await runCli(["demo"]);
  assert.equal(demo.code, 0, demo.stdoutText + demo.stderrText);
  assert.match(demo.stdoutText, /^\[carol\] saved random 8MiB\.bin \(8388608 bytes\) from /m);
  // The fall-back: alice stopped serving, so notes.md fails naming her, and the rest still come.
  assert.match(demo.stdoutText, /^\[dave\] failed notes\.md: /m);
  assert.match(demo.stdoutText, /^\[dave\] cat: \d+ bytes from /m);
  // The watched folder and the wait: a file dropped into bob's folder reaches dave, who was waiting for it.
  assert.match(demo.stdoutText, /^\[bob\] now sharing news\.txt \(46 bytes\)/m);
  assert.match(demo.stdoutText, /^\[dave\] saved news\.txt \(46 bytes\) from /m);
  assert.match(demo.stdoutText, /^demo done/m);
  // Carol 3, dave 3 by get, 1 by cat, 1 after waiting.
  assert.equal(
    demo.stdoutText.trimEnd().split("\n").at(-1),
    "demo done: 8 files moved peer to peer over 127.0.0.1, each verified by SHA-256.",
  );
  assert.doesNotMatch(demo.stdoutText, /problem/);
  assert.equal(demo.stderrText, "");
});

Deno.test("demo: when a step does not go as shown, runDemo resolves false and the last line names the problem", async () => {
  const lines: string[] = [];
  let removed = false;
  const ok = await runDemo((line) => {
    lines.push(line);
    // Alice says where her folder is as she starts listening, before she reads it: a sample goes missing there.
    const alice = /^\[alice\] listening on \S+, sharing (.+)$/.exec(line);
    if (alice) {
      Deno.removeSync(join(alice[1], "table, with comma.csv"));
      removed = true;
    }
  });
  assert.ok(removed, "alice's folder was seen");
  assert.equal(ok, false);
  const last = lines.at(-1)!;
  assert.equal(
    last,
    "\ndemo finished with 2 problem(s): carol: table, with comma.csv did not arrive; " +
      "dave: table, with comma.csv did not arrive",
  );
  assert.ok(!lines.some((l) => l.includes("demo done")), "no claim that it all went well");
  // The other steps still ran and said what happened.
  assert.ok(lines.some((l) => /^\[carol\] failed table, with comma\.csv: 404 /.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /^\[dave\] saved news\.txt \(46 bytes\) from /.test(l)), lines.join("\n"));
});
