/**
 * `get` and `cat` on a terminal (a pseudo-terminal from util-linux
 * `script`, 100 columns): a live progress line while a file comes, redrawn
 * in place and gone when it lands, so that the screen ends with the result
 * lines only; `--json` lines are never drawn over. Each holder here sends
 * half of its file and waits to be released, so that the live line is
 * certainly on the screen when it is looked for. Skipped only where no
 * pseudo-terminal can be had.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { assertSameBytes } from "../helpers/assert.ts";
import { MiB } from "../helpers/hashes.ts";
import { type GatedHolder, gatedHolder } from "../helpers/holders.ts";
import { announceAt, type LineClient } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { testTracker } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";
import { PtyRun, screenAfter, SCRIPT } from "../helpers/terminal.ts";

Deno.test({
  name: "terminal: get draws a live line while a file comes, and leaves only the result lines",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const data = randomBytes(600_000, 121);
    await using slow = gatedHolder(data, 300_000);
    using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
    await using run = new PtyRun([
      "get",
      "--timeout",
      "60",
      "--tracker",
      tracker.address,
      "--out",
      tmp.path,
      "slow.bin",
      "missing.txt",
    ]);
    await run.waitFor(/failed missing\.txt: 404 not found\r\n/);
    await run.waitFor(/slow\.bin \[#{6}-{6}\] {3}50% {2}293 KiB \/ 586 KiB /);
    slow.release();
    assert.equal(await run.exited(), 1, run.text);
    assert.deepEqual(screenAfter(run.text), [
      "failed missing.txt: 404 not found",
      `saved slow.bin (${data.length} bytes) from ${slow.address} -> ${join(tmp.path, "slow.bin")}`,
    ]);
    await assertSameBytes(join(tmp.path, "slow.bin"), data);
  },
});

Deno.test({
  name: "terminal: cat with stdout in a file shows its progress on stderr, then only its result line",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    // cat counts what it has written, and writes whole 1 MiB pieces: the holder stops after the first one.
    const data = randomBytes(2 * MiB, 131);
    await using slow = gatedHolder(data, MiB);
    using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
    const file = join(tmp.path, "cat.out");
    await using run = new PtyRun(["cat", "--timeout", "60", "--tracker", tracker.address, "slow.bin"], file);
    await run.waitFor(/slow\.bin \[#{6}-{6}\] {3}50% {2}1\.00 MiB \/ 2\.00 MiB {2}\S+ \S+\/s {2}ETA \S+ {2}1 source/);
    slow.release();
    assert.equal(await run.exited(), 0, run.text);
    assert.deepEqual(screenAfter(run.text), [`cat: slow.bin (${data.length} bytes) from ${slow.address}`]);
    await assertSameBytes(file, data);
  },
});

Deno.test({
  name: "terminal: get --json on a terminal keeps every JSON line on the screen (the live area steps aside for it)",
  ignore: SCRIPT === undefined,
  fn: async () => {
    // stdout and stderr are the same terminal: the progress (stderr) must not wipe the JSON (stdout).
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const slowData = randomBytes(600_000, 141);
    const fastData = new TextEncoder().encode("fast\n");
    await using slow = gatedHolder(slowData, 300_000);
    await using fast = gatedHolder(fastData, 0);
    using _slowAnnounced = await announceAt(tracker.addr.port, slow.port, [[slowData, "slow.bin"]]);
    using _fastAnnounced = await announceAt(tracker.addr.port, fast.port, [[fastData, "fast.txt"]]);
    await using run = new PtyRun([
      "get",
      "--json",
      "--tracker",
      tracker.address,
      "--out",
      tmp.path,
      "slow.bin",
      "fast.txt",
    ]);
    // slow.bin is drawn live at 50%; then fast.txt lands and its JSON line is printed under the live line.
    await run.waitFor(/slow\.bin \[#{6}-{6}\] {3}50% /);
    fast.release();
    const printed = await run.waitFor(/\{"name":"fast\.txt".*\}\r?\n/);
    // The display goes on redrawing slow.bin's line while it runs.
    // deno-lint-ignore no-control-regex
    await run.waitFor(/\x1b\[\d+F\x1b\[J/, printed);
    slow.release();
    assert.equal(await run.exited(), 0, run.text);
    const screen = screenAfter(run.text);
    const json = screen.filter((l) => l.startsWith("{"));
    assert.deepEqual(
      json.map((l) => JSON.parse(l).name).sort(),
      ["fast.txt", "slow.bin"],
      `both JSON lines stay on the screen:\n${screen.join("\n")}`,
    );
    assert.ok(!screen.some((l) => l.startsWith("slow.bin [")), `no stale live line:\n${screen.join("\n")}`);
    // Nothing but the JSON lines is left: no result line of text, no live line.
    assert.equal(screen.filter((l) => l !== "").length, 2, screen.join("\n"));
  },
});

Deno.test({
  name: "terminal: more than ten downloads at once show ten live lines and how many more are running",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const holders: GatedHolder[] = [];
    const sessions: LineClient[] = [];
    const names: string[] = [];
    try {
      for (let i = 0; i < 12; i++) {
        const data = randomBytes(200_000, 150 + i);
        const holder = gatedHolder(data, 100_000);
        holders.push(holder);
        names.push(`f${String(i).padStart(2, "0")}.bin`);
        sessions.push(await announceAt(tracker.addr.port, holder.port, [[data, names[i]]]));
      }
      await using run = new PtyRun([
        "get",
        "--timeout",
        "60",
        "--tracker",
        tracker.address,
        "--out",
        tmp.path,
        ...names,
      ]);
      // All twelve are half-way and waiting: the live area holds ten lines at 50% and a note for the other two.
      const end = await run.waitFor(/(?:f\d\d\.bin \[#{6}-{6}\] {3}50% [^\r\n]*\r?\n){10}… and 2 more running\r?\n/);
      const area = screenAfter(run.text.slice(0, end)).filter((l) => l !== "");
      assert.equal(area.length, 11, area.join("\n"));
      const shown = area.slice(0, 10).map((l) => l.split(" ")[0]);
      assert.equal(new Set(shown).size, 10, `ten different downloads: ${shown}`);
      for (const name of shown) assert.ok(names.includes(name), name);
      assert.equal(area[10], "… and 2 more running");
      for (const holder of holders) holder.release();
      assert.equal(await run.exited(), 0, run.text);
      const screen = screenAfter(run.text).filter((l) => l !== "");
      assert.equal(screen.length, 12, screen.join("\n"));
      for (const line of screen) assert.match(line, /^saved f\d\d\.bin \(200000 bytes\) from /);
    } finally {
      for (const session of sessions) session[Symbol.dispose]();
      for (const holder of holders) await holder[Symbol.asyncDispose]();
    }
  },
});
