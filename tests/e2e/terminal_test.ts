/**
 * `get`, `cat` and the peer's prompt on a terminal (a pseudo-terminal from
 * util-linux `script`, 100 columns): a live progress line while a file
 * comes, redrawn in place and gone when it lands, so that the screen ends
 * with the result lines only; `--json` lines are never drawn over. At the
 * peer's prompt: commands run while a download runs, a line printed while
 * a command is being typed lands above the prompt line and the typed text
 * is drawn again, Ctrl-C cancels what runs before it stops the peer, `SEND`
 * refuses an unknown option, and `LIST` shows names as `SEND` takes them.
 * Each holder here sends half of its file and waits to be released, so
 * that the live line is certainly on the screen when it is looked for.
 * Skipped only where no pseudo-terminal can be had.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { assertSameBytes } from "../helpers/assert.ts";
import { MiB } from "../helpers/hashes.ts";
import { type GatedHolder, gatedHolder } from "../helpers/holders.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";
import { formatFileRequest } from "../../protocol.ts";
import { formatBytes } from "../../cli/report.ts";
import { announceAt, type LineClient, rawRequest } from "../helpers/net.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { PtyRun, screenAfter, screenState, SCRIPT, startPtyPeer } from "../helpers/terminal.ts";

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
      `saved slow.bin (${formatBytes(data.length)}) from ${slow.address} -> ${join(tmp.path, "slow.bin")}`,
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
    assert.deepEqual(screenAfter(run.text), [`cat: slow.bin (${formatBytes(data.length)}) from ${slow.address}`]);
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
      for (const line of screen) assert.match(line, /^saved f\d\d\.bin \(195 KiB\) from /);
    } finally {
      for (const session of sessions) session[Symbol.dispose]();
      for (const holder of holders) await holder[Symbol.asyncDispose]();
    }
  },
});

// ---------------------------------------------------------------------------
// The peer's prompt

/** A peer on a terminal, its shared folder `dir`, its replies in `info.txt` beside it; see {@link startPtyPeer}. */
function ptyPeer(tracker: string, dir: string, more: string[] = []): Promise<{ run: PtyRun; port: number }> {
  return startPtyPeer(tracker, dir, { flags: ["--info", join(dir, "..", "info.txt"), ...more] });
}

/**
 * `text` printed as a whole line: after a line feed, or where the live
 * area was cleared (`ESC[J`) for it; `more: true` lets the line go on after it.
 */
function printedLine(text: string, options: { more?: boolean } = {}): RegExp {
  const escaped = text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
  return new RegExp(`(?:\\n|\\x1b\\[J)${escaped}${options.more ? "[^\\r]*" : ""}\\r\\n`);
}

/** The terminal's lines from the one after the last that matches `pattern`. */
function after(screen: string[], pattern: RegExp): string[] {
  const at = screen.findLastIndex((line) => pattern.test(line));
  assert.ok(at >= 0, `no ${pattern} on the screen:\n${screen.join("\n")}`);
  return screen.slice(at + 1);
}

Deno.test({
  name: "terminal prompt: PEERS is answered while a SEND still downloads, above the live line and the prompt",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const data = randomBytes(600_000, 161);
    await using slow = gatedHolder(data, 300_000);
    using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
    const mine = join(tmp.path, "mine");
    const { run, port } = await ptyPeer(tracker.address, mine, ["--timeout", "60"]);
    await using _run = run;
    await run.type("SEND slow.bin\r");
    const drawn = await run.waitFor(/slow\.bin \[#{6}-{6}\] {3}50% /);
    // The holder holds the second half back until released: the download certainly runs while PEERS is answered.
    await run.type("PEERS\r");
    const answered = await run.waitFor(printedLine("2 peers"), drawn);
    assert.doesNotMatch(run.text, /(saved|failed) slow\.bin/, "answered while the download runs");
    const screen = screenAfter(run.text.slice(0, answered + 200)).filter((l) => l !== "");
    assert.deepEqual(
      after(screen, /^> PEERS$/).slice(0, 3).sort(),
      [
        `127.0.0.1:${port}  0 files`,
        `127.0.0.1:${slow.port}  1 file`,
        "2 peers",
      ].sort(),
    );
    slow.release();
    await run.waitFor(/saved slow\.bin \(586 KiB\) from /);
    await run.type("QUIT\r");
    assert.equal(await run.exited(), 0, run.text);
    const end = run.screen().filter((l) => l !== "");
    assert.ok(!end.some((l) => l.startsWith("slow.bin [")), `no stale live line:\n${end.join("\n")}`);
    assert.equal(end.at(-1), "stopped");
    await assertSameBytes(join(mine, "slow.bin"), data);
  },
});

Deno.test({
  name:
    "terminal prompt: a line printed while a command is typed lands above it; the typed text is drawn again and runs",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const mine = join(tmp.path, "mine");
    await Deno.mkdir(mine);
    await Deno.writeTextFile(join(mine, "hello.txt"), "hello\n");
    const { run, port } = await ptyPeer(tracker.address, mine);
    await using _run = run;
    // Typed, not entered; Left twice and a letter in the middle, to see the cursor kept too.
    await run.type("LIST hel");
    await run.type("\x1b[D\x1b[DX");
    // deno-lint-ignore no-control-regex
    let typed = await run.waitFor(/> LIST hXel\x1b\[K\x1b\[10G/);
    // Someone downloads hello.txt from this peer: the peer prints a line while the command is half typed.
    await rawRequest(port, formatFileRequest({ name: "hello.txt", offset: 0 }));
    // deno-lint-ignore no-control-regex
    typed = await run.waitFor(/sent hello\.txt \(6 B\) to 127\.0\.0\.1:\d+\r\n> LIST hXel\x1b\[K\x1b\[10G/, typed);
    const state = screenState(run.text.slice(0, typed));
    const lines = state.lines.filter((l) => l !== "");
    assert.match(lines.at(-2)!, /^sent hello\.txt \(6 B\) to 127\.0\.0\.1:\d+$/);
    assert.equal(lines.at(-1), "> LIST hXel");
    assert.equal(state.col, 9, "the cursor is back after the X");
    // Delete the X, go to the end, finish the word: the command as typed runs.
    await run.type("\x7f\x05lo\r");
    await run.waitFor(/1 file whose names contain "hello"\r\n/, typed);
    const answer = after(run.screen().filter((l) => l !== ""), /^> LIST hello$/);
    assert.match(answer[0], /^6 B {2}1 holder +[0-9a-f]{8} {2}hello\.txt$/);
    await run.type("QUIT\r");
    assert.equal(await run.exited(), 0, run.text);
  },
});

Deno.test({
  name: "terminal prompt: Ctrl-C cancels a SEND --wait and the peer goes on; Ctrl-C on an empty prompt then stops it",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const { run } = await ptyPeer(tracker.address, join(tmp.path, "mine"));
    await using _run = run;
    await run.type("SEND --wait later.txt\r");
    let at = await run.waitFor(/waiting for later\.txt \(up to 300 s\)\r\n/);
    await run.type("\x03");
    at = await run.waitFor(/cancelled 1 wait \(later\.txt\); Ctrl-C again or QUIT stops the peer\r\n/, at);
    await run.waitFor(/failed later\.txt: cancelled while waiting; nobody had announced it yet\r\n/, at);
    // Still running: it answers, and the wait is gone.
    await run.type("PEERS\r");
    at = await run.waitFor(printedLine("1 peer"), at);
    await run.type("\x03");
    assert.equal(await run.exited(), 0, run.text);
    const end = after(run.screen().filter((l) => l !== ""), /^1 peer$/);
    assert.equal(end[0], "> ^C");
    assert.match(end[1], /^Ctrl-C: stopping; /);
    assert.equal(end.at(-1), "stopped");
  },
});

Deno.test({
  name: "terminal prompt: SEND --wiat is refused naming --wait; SEND -- --odd.txt asks for the file --odd.txt",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const { run } = await ptyPeer(tracker.address, join(tmp.path, "mine"));
    await using _run = run;
    await run.type("SEND --wiat x.txt\r");
    let at = await run.waitFor(
      printedLine(
        "SEND: unknown option --wiat (did you mean --wait?); a name starting with -- goes after --: SEND -- --wiat x.txt",
      ),
    );
    await run.type("SEND -- --odd.txt\r");
    at = await run.waitFor(printedLine("failed --odd.txt: 404 not found", { more: true }), at);
    assert.doesNotMatch(run.text, /failed --wiat/);
    await run.type("QUIT\r");
    assert.equal(await run.exited(), 0, run.text);
  },
});

Deno.test({
  name:
    "terminal prompt: LIST shows a name with a comma, spaces and a percent as SEND takes it, and SEND of it fetches it",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const name = "a, b 100%.txt";
    await using _holder = await testPeer(tracker.address, { [name]: "odd name\n", "50% off.txt": "plain\n" });
    const mine = join(tmp.path, "mine");
    const { run } = await ptyPeer(tracker.address, mine);
    await using _run = run;
    await run.type("LIST %\r");
    const listed = await run.waitFor(/2 files whose names contain "%"\r\n/);
    const lines = after(screenAfter(run.text.slice(0, listed)).filter((l) => l !== ""), /^> LIST %$/);
    const shown = lines.map((l) => /^\d+ B {2}1 holder +[0-9a-f]{8} {2}(.+)$/.exec(l)?.[1]).filter((n) => n);
    assert.deepEqual(shown, ["50% off.txt", '"a, b 100%.txt"'], lines.join("\n"));
    await run.type(`SEND ${shown[1]}, ${shown[0]}\r`);
    await run.waitFor(/saved a, b 100%\.txt \(9 B\) from /, listed);
    await run.waitFor(/saved 50% off\.txt \(6 B\) from /, listed);
    assert.equal(await Deno.readTextFile(join(mine, name)), "odd name\n");
    assert.equal(await Deno.readTextFile(join(mine, "50% off.txt")), "plain\n");
    await run.type("QUIT\r");
    assert.equal(await run.exited(), 0, run.text);
  },
});

Deno.test({
  name: "terminal prompt: after QUIT, while an upload holds the stop up, one Ctrl-C stops the peer at once (exit 1)",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await tempDir();
    await using tracker = testTracker();
    const mine = join(tmp.path, "mine");
    await Deno.mkdir(mine);
    await Deno.writeFile(join(mine, "big.bin"), randomBytes(1_000_000, 181));
    // 64 KiB/s: the upload below takes about 15 s, longer than the 10 s a stop gives it.
    const { run, port } = await ptyPeer(tracker.address, mine, ["--max-upload-rate", "64K"]);
    await using _run = run;
    using conn = await Deno.connect({ hostname: "127.0.0.1", port });
    await conn.write(new TextEncoder().encode(formatFileRequest({ name: "big.bin", offset: 0 })));
    await conn.read(new Uint8Array(1024)); // the header and the first bytes: the upload is under way
    await run.type("QUIT\r");
    await run.waitFor(/QUIT: stopping; 1 upload under way [^\r]*; SIGINT or SIGTERM stops at once\r\n/);
    // The terminal is back in its own mode: Ctrl-C is a SIGINT now, the first after QUIT.
    await run.type("\x03");
    assert.equal(await run.exited(), 1, run.text);
    assert.doesNotMatch(run.text, /stopped\r\n/);
  },
});
