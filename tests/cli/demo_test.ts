/**
 * The demonstration (`cli/demo.ts`, `main.ts demo`): run as a user runs it,
 * it moves every file it says it moves and ends with `demo done: N files
 * moved…` and exit 0; each peer sums up its hashing in one line; every file
 * it names is in the temporary folder it says it removes at the end, and
 * that folder is gone; piped, it does not pause. On a terminal it is paced:
 * a pause before each step and a throttled download with its live progress
 * line. Run in this process with one step disturbed (a sample file gone
 * from alice's folder before she shares it), `runDemo` resolves false and
 * its last line names what did not arrive instead.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runDemo } from "../../cli/demo.ts";
import { runCli } from "../helpers/cli.ts";
import { PtyRun, screenAfter, SCRIPT } from "../helpers/terminal.ts";

/** The folder the demo's first lines say it works in and removes at the end. */
function demoFolder(output: string): string {
  const m = /^\s+their folders are in (\/\S+),\n\s+removed when the demo ends/m.exec(output);
  assert.ok(m, `the demo names its folder and says it is removed:\n${output}`);
  return m[1];
}

Deno.test("demo: piped, it runs to completion at full speed, sums up each hashing, and says where its files go", async (t) => {
  // One run, looked at three ways (the demo is a whole process: one run is a second of both cores).
  const demo = await runCli(["demo"]);
  assert.equal(demo.code, 0, demo.stdoutText + demo.stderrText);

  await t.step("it exits 0 and its last line says demo done with every file it moved", () => {
    assert.match(demo.stdoutText, /^\[carol\] saved random 8MiB\.bin \(8\.00 MiB\) from /m);
    // The fall-back: alice stopped serving, so notes.md fails naming her, and the rest still come.
    assert.match(demo.stdoutText, /^\[dave\] failed notes\.md: /m);
    assert.match(demo.stdoutText, /^\[dave\] cat: \d+ B from /m);
    // The watched folder and the wait: a file dropped into bob's folder reaches dave, who was waiting for it.
    assert.match(demo.stdoutText, /^\[bob\] now sharing news\.txt \(46 B\)/m);
    assert.match(demo.stdoutText, /^\[dave\] saved news\.txt \(46 B\) from /m);
    // The crowd: three peers fetch heidi's file at once, trading chunks among themselves.
    for (const who of ["erin", "frank", "grace"]) {
      assert.match(demo.stdoutText, new RegExp(`^\\[${who}\\] serving the verified chunks of crowd 8MiB\\.bin `, "m"));
      assert.match(demo.stdoutText, new RegExp(`^\\[${who}\\] saved crowd 8MiB\\.bin \\(8\\.00 MiB\\) from `, "m"));
    }
    const crowd =
      /^\[demo\] the last of the three had it after \S+ s .*; heidi sent (\S+) MiB .*; (\d+) of their 24 chunks came from each other$/m
        .exec(demo.stdoutText);
    assert.ok(crowd, demo.stdoutText);
    assert.ok(Number(crowd[1]) < 12, `heidi sent ${crowd[1]} MiB of an 8 MiB file to a crowd of three`);
    assert.ok(Number(crowd[2]) > 0, "no chunk passed between the members of the crowd");
    // Carol 3, dave 3 by get, 1 by cat, 1 after waiting, and the crowd's 3.
    assert.equal(
      demo.stdoutText.trimEnd().split("\n").at(-1),
      "demo done: 11 files moved peer to peer over 127.0.0.1, each verified by SHA-256.",
    );
    assert.doesNotMatch(demo.stdoutText, /problem/);
    assert.equal(demo.stderrText, "");
    // Piped: no pause, no throttle.
    assert.doesNotMatch(demo.stdoutText, /paced|max-download-rate|held to/);
  });

  await t.step("each peer sums up its hashing in one line at most, as a peer does when not on a terminal", () => {
    const hashing = demo.stdoutText.split("\n").filter((l) => /^\[\w+\] hash/.test(l));
    for (const who of ["alice", "bob", "carol"]) {
      const lines = hashing.filter((l) => l.startsWith(`[${who}] `));
      assert.ok(lines.length <= 1, `${who}: ${lines.length} hashing lines:\n${lines.join("\n")}`);
    }
    assert.match(demo.stdoutText, /^\[alice\] hashed 3 files \(323 B\) in \d+\.\d s$/m);
    assert.match(demo.stdoutText, /^\[bob\] hashed 2 files \(8\.00 MiB\) in \d+\.\d s$/m);
  });

  await t.step(
    "every file it names is in the folder it says it removes at the end, and that folder is gone",
    async () => {
      const root = demoFolder(demo.stdoutText);
      // What it says it saved: the tracker's reply, and every download.
      const saved = [
        ...[...demo.stdoutText.matchAll(/ saved to (.+):$/gm)].map((m) => m[1]),
        ...[...demo.stdoutText.matchAll(/^\[\w+\] saved .* -> (.+)$/gm)].map((m) => m[1]),
      ];
      assert.ok(saved.length >= 8, saved.join("\n"));
      for (const path of saved) assert.ok(path.startsWith(`${root}/`), `${path} is not in ${root}`);
      assert.ok(saved.some((p) => p.endsWith("/carol-info.txt")), saved.join("\n"));
      assert.equal(await Deno.lstat(root).then(() => "there", () => "gone"), "gone", `${root} is removed, as said`);
    },
  );
});

Deno.test("demo: paced, it pauses before each step and holds dave's get to a rate, drawing its live line", async () => {
  // In this process, on a fake terminal: the pace given here is the one a terminal gets (1.5 s pauses, 2 MiB/s), made
  // quicker so that the test is not a minute long; what is checked is what it draws, not how long it took.
  let written = "";
  // A terminal turns each LF into CR LF (ONLCR), as screenAfter expects.
  const screen = {
    write: (text: string) => void (written += text.replaceAll("\n", "\r\n")),
    isTerminal: true,
    columns: () => 100,
  };
  const ok = await runDemo((line) => screen.write(line + "\n"), {
    paced: { pauseMs: 1, rate: 8 * 1024 * 1024, screen },
  });
  assert.equal(ok, true, written);
  assert.match(written, /removed when the demo ends; paced: a pause before each step/);
  assert.match(written, /^\[dave\] \$ get --max-download-rate 8M /m);
  assert.match(written, /\(held to 8\.00 MiB\/s, so that you can watch it arrive\)/);
  // A live line of the throttled download, part-way (8 MiB at 8 MiB/s: a second, redrawn every 200 ms), from both
  // holders at once.
  assert.match(written, /random 8MiB\.bin \[[#-]{12}\] +[1-9]\d?% {2}[^\r\n]* 2 sources\r\n/);
  // What stays on the screen: the result lines, no live line left over.
  const shown = screenAfter(written);
  assert.equal(shown.at(-1), "demo done: 11 files moved peer to peer over 127.0.0.1, each verified by SHA-256.");
  assert.ok(!shown.some((l) => /\[[#-]{12}\]/.test(l)), shown.join("\n"));
  assert.ok(shown.some((l) => /^\[dave\] saved random 8MiB\.bin \(8\.00 MiB\) from 2 sources -> /.test(l)));
});

Deno.test({
  name: "demo: on a terminal it is paced; Ctrl-C stops it, and its folders go too",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using run = new PtyRun(["demo"]);
    await run.waitFor(/their folders are in .*\r?\n.*removed when the demo ends; paced: a pause before each step/);
    const folder = /their folders are in (\/\S+),/.exec(run.text)![1];
    await run.type("\x03");
    await run.waitFor(/demo stopped by SIGINT; removed its folders \(/);
    assert.equal(await run.exited(), 130);
    await assert.rejects(Deno.stat(folder), Deno.errors.NotFound);
  },
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
  }, { paced: false });
  assert.ok(removed, "alice's folder was seen");
  assert.equal(ok, false);
  const last = lines.at(-1)!;
  assert.equal(
    last,
    "\ndemo finished with 2 problems: carol: table, with comma.csv did not arrive; " +
      "dave: table, with comma.csv did not arrive",
  );
  assert.ok(!lines.some((l) => l.includes("demo done")), "no claim that it all went well");
  // The other steps still ran and said what happened.
  assert.ok(lines.some((l) => /^\[carol\] failed table, with comma\.csv: 404 /.test(l)), lines.join("\n"));
  assert.ok(lines.some((l) => /^\[dave\] saved news\.txt \(46 (?:bytes|B)\) from /.test(l)), lines.join("\n"));
});
