/**
 * What `cli/progress.ts` draws: the live progress line of one transfer
 * (`formatProgressLine`, `formatDuration`), the live area of
 * {@link ProgressDisplay} on a fake terminal with a {@link ManualClock}
 * (redrawn in place, never more than ten transfer lines, lines printed
 * above it), its plain behaviour when the screen is not a terminal (no
 * control character, ever), and the display fed by a real download over
 * loopback. Each display is closed, so that no redraw timer outlives its test.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatAddress } from "../../protocol.ts";
import { sendAndFetch } from "../../peer.ts";
import {
  formatDuration,
  formatProgressLine,
  MAX_LIVE_LINES,
  ProgressDisplay,
  type Screen,
  screenOf,
} from "../../cli/progress.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import type { Transfer } from "../../peer/transfer_board.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { ManualClock } from "../helpers/clock.ts";
import { EventLog } from "../helpers/events.ts";
import { MiB } from "../helpers/hashes.ts";
import { gatedHolder } from "../helpers/holders.ts";
import { announceAt } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { testTracker } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";
import { screenAfter, screenState } from "../helpers/terminal.ts";

const KiB = 1024;
const GiB = 1024 * MiB;
/** Long enough that the display's own timer never fires while a test runs: every draw is the test's. */
const NEVER_MS = 3_600_000;

/** A screen that keeps every write; a terminal or not, of a width the test may change. */
class FakeScreen implements Screen {
  writes: string[] = [];
  readonly isTerminal: boolean;
  width: number;

  constructor(isTerminal: boolean, width = 80) {
    this.isTerminal = isTerminal;
    this.width = width;
  }

  write(text: string): void {
    this.writes.push(text);
  }

  columns(): number {
    return this.width;
  }

  /** Everything written so far. */
  get text(): string {
    return this.writes.join("");
  }

  /** What was written since the last call (or since the start). */
  take(): string {
    const text = this.text;
    this.writes = [];
    return text;
  }
}

/** The sequence that moves up over `n` drawn lines and clears them. */
function up(n: number): string {
  return `\x1b[${n}F\x1b[J`;
}

/** The lines of a drawn area (each ends with a newline). */
function linesOf(area: string): string[] {
  assert.ok(area === "" || area.endsWith("\n"), `every drawn line ends with a newline: ${JSON.stringify(area)}`);
  return area === "" ? [] : area.slice(0, -1).split("\n");
}

function transfer(name: string, size: number, bytes: number, sources = 1): Transfer {
  return { name, size, bytes, sources };
}

// ---------------------------------------------------------------------------
// formatDuration

Deno.test("formatDuration: m:ss under an hour, XhYYm from an hour, -- when unknown", () => {
  const cases: [number, string][] = [
    [0, "0:00"],
    [0.4, "0:00"],
    [7, "0:07"],
    [59.4, "0:59"],
    [59.5, "1:00"],
    [60, "1:00"],
    [754, "12:34"],
    [3599, "59:59"],
    [3599.6, "1h00m"],
    [3600, "1h00m"],
    [7500, "2h05m"],
    [36_000 + 59 * 60, "10h59m"],
    [100 * 3600, ">99h"],
    [-1, "--"],
    [NaN, "--"],
    [Infinity, "--"],
  ];
  for (const [seconds, text] of cases) assert.equal(formatDuration(seconds), text, `formatDuration(${seconds})`);
});

// ---------------------------------------------------------------------------
// formatProgressLine

Deno.test("formatProgressLine: name, bar, percent, bytes, speed, ETA and sources on a wide terminal", () => {
  const line = formatProgressLine(transfer("big.bin", 40 * MiB, 18 * MiB, 4), { speed: 12.5 * MiB, columns: 120 });
  // 45% of 12 marks is 5.4: 5 marks. 22 MiB left at 12.5 MiB/s: 1.76 s, about 2.
  assert.equal(line, "big.bin [#####-------]   45%  18.0 MiB / 40.0 MiB  12.5 MiB/s  ETA 0:02  4 sources");
  assert.ok(line.length <= 119);
});

Deno.test("formatProgressLine: singular source, full and empty bars, ETA from the speed", () => {
  const one = formatProgressLine(transfer("a", 10 * MiB, 0, 1), { speed: 1 * MiB, columns: 120 });
  assert.match(one, /^a \[-{12}\] {4}0% {2}0 B \/ 10\.0 MiB {2}1\.00 MiB\/s {2}ETA 0:10 {2}1 source$/);
  const done = formatProgressLine(transfer("a", 10 * MiB, 10 * MiB, 0), { speed: 1 * MiB, columns: 120 });
  assert.match(done, /^a \[#{12}\] {2}100% {2}10\.0 MiB \/ 10\.0 MiB {2}1\.00 MiB\/s {2}ETA 0:00 {2}0 sources$/);
  const long = formatProgressLine(transfer("a", 10 * GiB, 0, 2), { speed: 1 * MiB, columns: 120 });
  assert.match(long, / {2}ETA 2h50m {2}2 sources$/, "10 GiB at 1 MiB/s: 10240 s, 2 h 50 min 40 s");
});

Deno.test("formatProgressLine: partial sources (peers still downloading the file) are counted among the sources", () => {
  const crowd = { ...transfer("big.bin", 32 * MiB, 8 * MiB, 6), partialSources: 5 };
  assert.match(formatProgressLine(crowd, { speed: 4 * MiB, columns: 120 }), / {2}6 sources \(5 partial\)$/);
});

Deno.test("formatProgressLine: the bar is full only when the transfer is whole (floor, as the percent)", () => {
  const bar = (bytes: number) =>
    /\[(#*)-*\]/.exec(formatProgressLine(transfer("a", 1000, bytes), { speed: 1, columns: 120 }))![1].length;
  assert.equal(bar(970), 11, "97%: not full");
  assert.equal(bar(999), 11, "99.9%: not full");
  assert.equal(bar(1000), 12);
  assert.equal(bar(40), 0, "4%: not a mark yet");
  assert.equal(bar(84), 1, "8.4%: one mark of 12");
});

Deno.test("formatProgressLine: speed 0 gives ETA --, never a division by zero", () => {
  const line = formatProgressLine(transfer("slow.bin", 5 * MiB, 1 * MiB, 0), { speed: 0, columns: 120 });
  assert.match(line, / {2}0 B\/s {2}ETA -- {2}0 sources$/);
  assert.doesNotMatch(line, /Infinity|NaN/);
});

Deno.test("formatProgressLine: a size of 0 is 100% done, and bytes past the size stay at 100%", () => {
  const empty = formatProgressLine(transfer("empty.txt", 0, 0, 0), { speed: 0, columns: 120 });
  assert.match(empty, /^empty\.txt \[#{12}\] {2}100% {2}0 B \/ 0 B {2}0 B\/s {2}ETA -- {2}0 sources$/);
  const over = formatProgressLine(transfer("over.bin", 100, 150, 1), { speed: 10, columns: 120 });
  assert.match(over, / 100% /);
  assert.match(over, /\[#{12}\]/);
});

Deno.test("formatProgressLine: never longer than columns - 1, whatever the name and the numbers", () => {
  const names = ["a", "data.bin", "x".repeat(12), "a rather long file name with spaces.tar.gz", "n".repeat(300)];
  const states: [number, number, number, number][] = [
    [0, 0, 0, 0],
    [40 * MiB, 18 * MiB, 12.5 * MiB, 4],
    [3 * 1024 * GiB, 1, 1, 64], // a huge ETA and big numbers
    [999, 998, 1_000_000_000_000, 12],
  ];
  for (let columns = 21; columns <= 200; columns++) {
    for (const name of names) {
      for (const [size, bytes, speed, sources] of states) {
        const line = formatProgressLine(transfer(name, size, bytes, sources), { speed: speed, columns: columns });
        assert.ok(line.length <= columns - 1, `${columns} columns: ${line.length} > ${columns - 1}: ${line}`);
        assert.ok(!line.includes("\n") && !line.includes("\r") && !line.includes("\x1b"), line);
      }
    }
  }
});

Deno.test("formatProgressLine: a long name is shortened with … and the details stay whole", () => {
  const name = "n".repeat(100);
  const wide = formatProgressLine(transfer(name, 40 * MiB, 18 * MiB, 4), { speed: 12.5 * MiB, columns: 120 });
  // Every detail (74 characters with the bar) fits; the name gets the rest: 119 - 74 - 1 = 44, "…" included.
  assert.equal(wide, `${"n".repeat(43)}… [#####-------]   45%  18.0 MiB / 40.0 MiB  12.5 MiB/s  ETA 0:02  4 sources`);
  assert.equal(wide.length, 119);
  const narrow = formatProgressLine(transfer(name, 40 * MiB, 18 * MiB, 4), { speed: 12.5 * MiB, columns: 21 });
  assert.equal(narrow, `${"n".repeat(14)}…  45%`);
  // A name that fits is never shortened.
  const fits = formatProgressLine(transfer("just-fits.bin", 40 * MiB, 18 * MiB, 4), { speed: 12.5 * MiB, columns: 21 });
  assert.equal(fits, "just-fits.bin  45%");
});

Deno.test("formatProgressLine: narrower terminals drop the bar, then sources, ETA, speed, amount; name and percent stay", () => {
  const t = transfer("data.bin", 40 * MiB, 18 * MiB, 4);
  const parts: Record<string, RegExp> = {
    bar: /\[[#-]{12}\]/,
    sources: / 4 sources$/,
    eta: / ETA 0:02/,
    speed: / 12\.5 MiB\/s/,
    amount: / 18\.0 MiB \/ 40\.0 MiB/,
  };
  /** The narrowest width, in columns, at which each part is still shown. */
  const narrowest: Record<string, number> = {};
  for (let columns = 200; columns >= 21; columns--) {
    const line = formatProgressLine(t, { speed: 12.5 * MiB, columns });
    assert.ok(line.startsWith("data.bin "), `${columns}: the name is kept whole: ${line}`);
    assert.match(line, / 45%/, `${columns}: the percent is always there`);
    for (const [part, pattern] of Object.entries(parts)) {
      if (!pattern.test(line)) continue;
      assert.ok(narrowest[part] === undefined || narrowest[part] === columns + 1, `${part} came back at ${columns}`);
      narrowest[part] = columns;
    }
  }
  // Each goes exactly when the line would no longer fit in columns - 1 with it:
  // name 8 + space 1 + details joined by two spaces (bar 14, percent 4, amount 19, speed 10, ETA 8, sources 9).
  assert.deepEqual(narrowest, { bar: 84, sources: 68, eta: 57, speed: 47, amount: 35 });
  assert.equal(formatProgressLine(t, { speed: 12.5 * MiB, columns: 34 }), "data.bin  45%");
});

Deno.test("formatProgressLine: a terminal narrower than 21 columns still gets at most columns - 1", () => {
  // The doc promises columns - 1 at most, since a full line wraps and the live area then miscounts its lines.
  // A long name can always be shortened further: "a-rather-…  45%" fits 16 columns.
  for (const columns of [12, 16, 20]) {
    const line = formatProgressLine(transfer("a-rather-long-file-name.bin", 40 * MiB, 18 * MiB, 4), {
      speed: 0,
      columns: columns,
    });
    assert.ok(line.length <= columns - 1, `${columns} columns: ${JSON.stringify(line)} is ${line.length} long`);
  }
});

Deno.test("formatProgressLine: shortening a name never splits a character in two", () => {
  // Names are any Unicode; slicing by UTF-16 units can keep half of a surrogate pair, which a terminal shows as �.
  for (let columns = 21; columns <= 60; columns++) {
    const line = formatProgressLine(transfer("😀".repeat(40) + ".bin", 100, 45, 1), { speed: 0, columns });
    const lone = /[\uD800-\uDBFF](?![\uDC00-\uDFFF])|(?<![\uD800-\uDBFF])[\uDC00-\uDFFF]/.exec(line);
    assert.equal(lone, null, `${columns} columns: a lone surrogate in ${JSON.stringify(line)}`);
  }
});

// ---------------------------------------------------------------------------
// ProgressDisplay on a terminal

Deno.test("ProgressDisplay on a terminal: one line per transfer, redrawn in place, speed from the clock", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  assert.equal(display.live, true);
  const a = display.begin("a.bin", 4 * MiB);
  const b = display.begin("b.bin", 8 * MiB);
  assert.deepEqual(a, { name: "a.bin", size: 4 * MiB, bytes: 0, sources: 0 });
  assert.equal(screen.take(), "", "begin draws nothing by itself");

  // The first draw: nothing to move over yet (a prompt on the line stays alone).
  display.draw();
  const first = screen.take();
  assert.ok(!first.startsWith("\x1b"), JSON.stringify(first));
  let lines = linesOf(first);
  assert.equal(lines.length, 2);
  assert.match(lines[0], /^a\.bin \[-{12}\] {4}0% {2}0 B \/ 4\.00 MiB {2}0 B\/s {2}ETA -- {2}0 sources$/);
  assert.match(lines[1], /^b\.bin \[-{12}\] {4}0% {2}0 B \/ 8\.00 MiB {2}0 B\/s {2}ETA -- {2}0 sources$/);

  // One second later a got 1 MiB from 2 sources, b 2 MiB from 1.
  a.bytes = 1 * MiB;
  a.sources = 2;
  b.bytes = 2 * MiB;
  b.sources = 1;
  await clock.advance(1000); // at 1000 ms
  display.draw();
  let written = screen.take();
  assert.ok(written.startsWith(up(2)), `moves up over the 2 lines drawn before: ${JSON.stringify(written)}`);
  lines = linesOf(written.slice(up(2).length));
  assert.equal(lines.length, 2);
  assert.equal(lines[0], "a.bin [###---------]   25%  1.00 MiB / 4.00 MiB  1.00 MiB/s  ETA 0:03  2 sources");
  assert.equal(lines[1], "b.bin [###---------]   25%  2.00 MiB / 8.00 MiB  2.00 MiB/s  ETA 0:03  1 source");
  assert.deepEqual(display.render(), lines, "render gives the same lines without writing");
  assert.equal(screen.take(), "");

  // log: the line lands above the live area, which is drawn again below it.
  display.log("saved c.bin (3 bytes) from 127.0.0.1:1 -> c.bin");
  written = screen.take();
  assert.ok(written.startsWith(up(2) + "saved c.bin (3 bytes) from 127.0.0.1:1 -> c.bin\n"), JSON.stringify(written));
  lines = linesOf(written.slice(up(2).length));
  assert.equal(lines.length, 3);
  assert.match(lines[1], /^a\.bin /);
  assert.match(lines[2], /^b\.bin /);

  // end: the line goes; the rest is drawn again.
  display.end(a);
  written = screen.take();
  assert.ok(written.startsWith(up(2)), JSON.stringify(written));
  lines = linesOf(written.slice(up(2).length));
  assert.equal(lines.length, 1);
  assert.match(lines[0], /^b\.bin /);

  // A status line joins the area, and goes with undefined.
  display.status("hashing x.iso: 0 of 1 file, 0 B of 4.00 GiB (0%)");
  written = screen.take();
  assert.ok(written.startsWith(up(1)), JSON.stringify(written));
  assert.deepEqual(linesOf(written.slice(up(1).length)).map((l) => l.split(" ")[0]), ["b.bin", "hashing"]);
  display.status(undefined);
  written = screen.take();
  assert.ok(written.startsWith(up(2)), JSON.stringify(written));
  assert.equal(linesOf(written.slice(up(2).length)).length, 1);

  // close: the area is cleared, and a second close writes nothing.
  display.close();
  assert.equal(screen.take(), up(1));
  display.close();
  assert.equal(screen.take(), "");
  assert.deepEqual(display.render(), []);
});

Deno.test("ProgressDisplay: speed is what came over the last 2 s of draws at least 100 ms apart; the average fills in before", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("s.bin", 100 * MiB);
  display.draw(); // first draw at the start
  // 50 ms later: too soon for a sample; the average since the start is shown (1 MiB in 50 ms: 20 MiB/s).
  t.bytes = 1 * MiB;
  await clock.advance(50); // at 50 ms
  assert.match(display.render()[0], / 20\.0 MiB\/s /);
  // At 1000 ms: the first sample, 1 MiB in 1 s.
  await clock.advance(950); // at 1000 ms
  assert.match(display.render()[0], / 1\.00 MiB\/s /);
  // At 2000 ms, 5 MiB more: 6 MiB over the 2 s window.
  t.bytes = 6 * MiB;
  await clock.advance(1000); // at 2000 ms
  assert.match(display.render()[0], / 3\.00 MiB\/s /);
  // Nothing for a second: the window moves on (from 1000 ms: 5 MiB in 2 s), not 0 at once.
  await clock.advance(1000); // at 3000 ms
  assert.match(display.render()[0], / 2\.50 MiB\/s /);
});

Deno.test("ProgressDisplay: bytes resumed from an earlier run found after the first draw (a big part file re-hashed) are no speed either", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("r.bin", 8 * GiB);
  display.draw();
  // 200 ms in, 4 GiB found verified on disk (the swarm marks them resumed), then 1 MiB/s arrives.
  await clock.advance(200);
  t.bytes += 4 * GiB;
  t.resumed = 4 * GiB;
  for (let at = 400; at <= 3_000; at += 200) {
    t.bytes += MiB / 5;
    await clock.advance(200);
    const line = display.render()[0];
    assert.doesNotMatch(line, /GiB\/s/, `at ${at} ms: ${line}`);
  }
  assert.match(display.render()[0], / 1\.00 MiB\/s /);
});

Deno.test("ProgressDisplay: bytes that come in bursts (a chunk every 500 ms) never read as 0 B/s between them", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("b.bin", 100 * MiB);
  display.draw();
  for (let at = 100; at <= 5_000; at += 100) {
    if (at % 500 === 0) t.bytes += MiB;
    await clock.advance(100);
    const line = display.render()[0];
    if (at >= 500) assert.doesNotMatch(line, / 0 B\/s /, `at ${at} ms: ${line}`); // from the first burst on
    if (at >= 2_500) assert.match(line, / 2\.\d\d MiB\/s /, `at ${at} ms: ${line}`);
  }
});

Deno.test("ProgressDisplay: bytes resumed from an earlier run before the first draw do not count as speed", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("r.bin", 8 * MiB);
  t.bytes = 4 * MiB; // found verified in the part file, at once
  display.draw();
  assert.match(display.render()[0], / {3}50% {2}4\.00 MiB \/ 8\.00 MiB {2}0 B\/s {2}ETA -- /);
  // One second later 1 MiB more arrived: 1 MiB/s, not the 5 MiB the transfer holds.
  t.bytes += 1 * MiB;
  await clock.advance(1000); // at 1000 ms
  display.draw();
  const line = linesOf(screen.take().split(up(1)).at(-1)!)[0];
  assert.match(line, / 5\.00 MiB \/ 8\.00 MiB {2}1\.00 MiB\/s {2}ETA 0:03 /, line);
});

Deno.test("ProgressDisplay: a stalled transfer shows 0 B/s with ETA --, never an ETA like 2.8e+25h (stalled: the speed is 0, not a shrinking one)", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("stalled.bin", 8 * MiB);
  display.draw();
  t.bytes = 1 * MiB;
  await clock.advance(1000); // at 1000 ms
  display.draw();
  // Then nothing more comes: the holder stalls for a minute, redrawn every 200 ms as on a terminal.
  const seen = new Set<string>();
  for (let draw = 0; draw < 300; draw++) {
    await clock.advance(200);
    const line = display.render()[0];
    assert.doesNotMatch(line, /e\+/, `after ${draw + 1} draws: ${line}`);
    if (/ 0 B\/s /.test(line)) seen.add(line.replace(/^.* 0 B\/s {2}/, ""));
  }
  assert.deepEqual([...seen], ["ETA --  0 sources"], "at 0 B/s the time left is unknown");
  // The same, formatted directly: a speed that rounds to 0 B/s.
  assert.match(
    formatProgressLine(transfer("s", 8 * MiB, MiB, 1), { speed: 1e-20, columns: 120 }),
    / 0 B\/s {2}ETA -- /,
  );
});

Deno.test("ProgressDisplay: a fast transfer first looked at after 100 MiB arrived shows its speed and ETA, not 0 B/s", async () => {
  // The first draw comes when the redraw timer first fires (or later, with a busy event loop): 100 MiB are in by then.
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("fast.bin", 200 * MiB);
  await clock.advance(200);
  t.bytes = 100 * MiB;
  display.draw();
  const first = linesOf(screen.take())[0];
  assert.match(first, / 100 MiB \/ 200 MiB {2}500 MiB\/s {2}ETA 0:00 /, first);
  // Then the samples take over: 31 MiB in the next 100 ms.
  t.bytes += 31 * MiB;
  await clock.advance(100);
  assert.match(display.render()[0], / 131 MiB \/ 200 MiB {2}310 MiB\/s {2}ETA 0:00 /);
});

Deno.test("ProgressDisplay: log before anything is drawn writes just the line; several lines at once", () => {
  const screen = new FakeScreen(true, 80);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => 0 });
  display.log("listening on 127.0.0.1:5555");
  display.log("one\ntwo");
  assert.equal(screen.take(), "listening on 127.0.0.1:5555\none\ntwo\n");
  display.close();
  assert.equal(screen.take(), "", "nothing drawn: close writes nothing");
});

Deno.test("ProgressDisplay: live lines and a status line fit the terminal's width as it is at each draw", async () => {
  const screen = new FakeScreen(true, 120);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const t = display.begin("w".repeat(150), 10 * MiB);
  t.bytes = 3 * MiB;
  display.status("s".repeat(300));
  for (const width of [120, 80, 40]) {
    screen.width = width;
    await clock.advance(1000);
    const lines = display.render();
    assert.equal(lines.length, 2);
    for (const line of lines) assert.ok(line.length <= width - 1, `${width}: ${line}`);
    assert.match(lines[0], /…/);
  }
  display.end(t);
  display.status(undefined);
});

Deno.test("ProgressDisplay: on a terminal it redraws on its own every intervalMs while a transfer runs", async () => {
  const writes = new EventLog<{ type: "write"; text: string }>();
  const screen: Screen = { isTerminal: true, columns: () => 80, write: (text) => writes.push({ type: "write", text }) };
  using display = new ProgressDisplay(screen, { intervalMs: 5 });
  const t = display.begin("tick.bin", 100);
  t.bytes = 40;
  // Nothing but the display's own timer draws here.
  const { text } = await writes.next("write", (w) => w.text.includes("tick.bin"));
  assert.match(text, /^tick\.bin \[#{4}-{8}\] {3}40% {2}40 B \/ 100 B /m);
  display.end(t); // the last transfer ends: the timer stops (the sanitizers fail a test that leaks it)
});

Deno.test("ProgressDisplay: the redraw timer stops when the last transfer ends, without close", () => {
  const screen = new FakeScreen(true, 80);
  const display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => 0 });
  const a = display.begin("a", 10);
  const b = display.begin("b", 10);
  display.end(a);
  display.end(b);
  // No close(): were the interval still set, the op sanitizer would report it leaking from this test.
  assert.deepEqual(display.render(), []);
});

Deno.test("ProgressDisplay: a terminal shows at most 10 download lines, then how many more are running", () => {
  const screen = new FakeScreen(true, 100);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS });
  const transfers = Array.from({ length: 12 }, (_, i) => display.begin(`f${i}.bin`, 100));
  const lines = display.render();
  assert.equal(lines.length, 11, "ten lines and a note");
  assert.equal(lines.length, MAX_LIVE_LINES + 1);
  assert.deepEqual(
    lines.slice(0, MAX_LIVE_LINES).map((l) => l.split(" ")[0]),
    transfers.slice(0, 10).map((t) => t.name),
  );
  assert.equal(lines.at(-1), "… and 2 more running");
  for (const t of transfers.slice(0, 3)) display.end(t);
  assert.equal(display.render().length, 9, "nine left: no note");
});

// ---------------------------------------------------------------------------
// ProgressDisplay when the screen is not a terminal

Deno.test("ProgressDisplay not on a terminal: begin, draw, status and end write nothing; log writes the line", async () => {
  const screen = new FakeScreen(false, 80);
  const clock = new ManualClock(0);
  const display = new ProgressDisplay(screen, { intervalMs: 1, now: () => clock.now() });
  assert.equal(display.live, false);
  const a = display.begin("a.bin", 10 * MiB);
  const b = display.begin("b.bin", 0);
  assert.deepEqual(a, { name: "a.bin", size: 10 * MiB, bytes: 0, sources: 0 }, "still a record to update");
  a.bytes = 5 * MiB;
  a.sources = 3;
  await clock.advance(1000); // at 1000 ms
  display.draw();
  display.status("hashing big.iso (10%)");
  display.draw();
  display.status(undefined);
  assert.equal(screen.text, "", "no live output at all");
  assert.deepEqual(display.render(), [], "nothing is tracked");

  display.log("saved a.bin (10485760 bytes) from 127.0.0.1:5555 -> a.bin");
  assert.equal(screen.take(), "saved a.bin (10485760 bytes) from 127.0.0.1:5555 -> a.bin\n");
  display.log("saved b.bin (2 sources)\n  127.0.0.1:1: 1 chunk, 5 bytes");
  assert.equal(screen.take(), "saved b.bin (2 sources)\n  127.0.0.1:1: 1 chunk, 5 bytes\n");
  display.end(a);
  display.end(b);
  display.log("");
  assert.equal(screen.take(), "\n");
  display.close();
  assert.equal(screen.text, "", "close has nothing to clear");
});

Deno.test("ProgressDisplay not on a terminal: begin starts no redraw timer", () => {
  const display = new ProgressDisplay(new FakeScreen(false, 80), { intervalMs: 1 });
  display.begin("never-ended.bin", 100);
  // Neither end() nor close(): a redraw interval started by begin would be reported leaking by the op sanitizer.
  assert.equal(display.live, false);
});

Deno.test("ProgressDisplay not on a terminal: nothing ever written contains an escape or a carriage return", async () => {
  const screen = new FakeScreen(false, 40);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const transfers = ["x", "y", "z"].map((n) => display.begin(n, 3 * MiB));
  for (let step = 1; step <= 20; step++) {
    await clock.advance(150);
    for (const t of transfers) t.bytes = Math.min(t.size, t.bytes + 200 * KiB);
    display.draw();
    if (step % 3 === 0) display.log(`step ${step}`);
    if (step % 5 === 0) display.status(`status ${step}`);
    if (step === 10) display.end(transfers.pop()!);
  }
  for (const t of transfers) display.end(t);
  display.close();
  assert.equal(screen.text, "step 3\nstep 6\nstep 9\nstep 12\nstep 15\nstep 18\n");
  for (const w of screen.writes) assert.ok(!w.includes("\x1b") && !w.includes("\r"), JSON.stringify(w));
});

Deno.test("screenOf: a Screen over a real stream says whether it is a terminal, and has a width", () => {
  for (const stream of [Deno.stdout, Deno.stderr]) {
    const screen = screenOf(stream);
    assert.equal(screen.isTerminal, stream.isTerminal());
    const columns = screen.columns();
    assert.ok(Number.isInteger(columns) && columns > 0, `columns ${columns}`);
  }
  const screen = screenOf(Deno.stderr);
  screen.write(""); // nothing to write: returns at once
});
// ---------------------------------------------------------------------------
// ProgressDisplay fed by a real download

Deno.test("ProgressDisplay: on a terminal it draws a live line while a real download runs, and clears it when the file lands", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(600_000, 111);
  await using slow = gatedHolder(data, 300_000);
  using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
  await using client = await TrackerClient.connect(tracker.address);
  const writes = new EventLog<{ type: "write"; text: string }>();
  const screen: Screen = {
    isTerminal: true,
    columns: () => 100,
    write: (text) => writes.push({ type: "write", text }),
  };
  using display = new ProgressDisplay(screen, { intervalMs: 10 });
  const abort = new AbortController();
  const downloading = sendAndFetch(client, "slow.bin", {
    outDir: out.path,
    board: display,
    timeoutMs: 30_000,
    signal: abort.signal,
  });
  try {
    // The holder sent half and waits: the display shows it, redrawn by its own timer.
    await writes.next("write", (w) => /slow\.bin \[#{6}-{6}\] {3}50% {2}293 KiB \/ 586 KiB /.test(w.text));
  } catch (error) {
    abort.abort(); // leave nothing running into the next test
    await downloading;
    throw error;
  }
  assert.equal(display.render().length, 1);
  slow.release();
  const report = await downloading;
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.equal(report.outcomes[0].result.from, formatAddress("127.0.0.1", slow.port));
  assert.deepEqual(display.render(), [], "the transfer left the board");
  const texts = writes.events.map((w) => w.text);
  // deno-lint-ignore no-control-regex
  assert.match(texts.at(-1)!, /^\x1b\[1F\x1b\[J$/, "the last write clears the live line");
  for (const text of texts) {
    // deno-lint-ignore no-control-regex
    for (const line of text.replace(/\x1b\[\d+F\x1b\[J/g, "").split("\n").filter((l) => l)) {
      assert.ok(line.length <= 99 && line.startsWith("slow.bin "), JSON.stringify(line));
    }
  }
  await assertSameBytes(join(out.path, "slow.bin"), data);
});

// ---------------------------------------------------------------------------
// ProgressDisplay with a prompt line

/** The prompt line of a fake line editor: `> ` and `text`, the cursor `cursor` characters into the text. */
function promptOf(state: { text: string; cursor: number }) {
  return () => ({ text: `> ${state.text}`, cursor: 2 + state.cursor });
}

Deno.test("ProgressDisplay with a prompt: the prompt line is drawn last with the cursor in it; lines land above it and it is drawn again", async () => {
  const screen = new FakeScreen(true, 100);
  const clock = new ManualClock(0);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => clock.now() });
  const typed = { text: "", cursor: 0 };
  display.setPrompt(promptOf(typed));
  assert.equal(screen.take(), "> \x1b[K\x1b[3G", "the prompt alone: no line feed, the cursor after it");
  typed.text = "LIST hel";
  typed.cursor = 8;
  display.promptChanged();
  assert.equal(screen.take(), "\r> LIST hel\x1b[K\x1b[11G", "only the prompt line is written again");
  // A transfer: its live line goes above the prompt line.
  const t = display.begin("big.bin", 100 * MiB);
  t.bytes = 13 * MiB;
  display.draw();
  let written = screen.take();
  assert.ok(written.startsWith("\r\x1b[J"), JSON.stringify(written));
  assert.deepEqual(screenAfter(written.slice(4).replaceAll("\n", "\r\n")), [
    "big.bin [#-----------]   13%  13.0 MiB / 100 MiB  0 B/s  ETA --  0 sources",
    "> LIST hel",
  ]);
  // A line printed in the background, the cursor moved into the text meanwhile: above both, the text and cursor kept.
  typed.cursor = 5;
  display.log("sent hello.txt (6 B) to 127.0.0.1:5555");
  written = screen.take();
  assert.ok(written.startsWith("\x1b[1F\x1b[J"), "up over the live line, from the prompt line");
  assert.ok(written.endsWith("> LIST hel\x1b[K\x1b[8G"), JSON.stringify(written));
  assert.deepEqual(screenAfter(written.replaceAll("\n", "\r\n")), [
    "sent hello.txt (6 B) to 127.0.0.1:5555",
    "big.bin [#-----------]   13%  13.0 MiB / 100 MiB  0 B/s  ETA --  0 sources",
    "> LIST hel",
  ]);
  // Redrawn by the timer: the same.
  await clock.advance(1000);
  display.draw();
  written = screen.take();
  assert.ok(
    written.startsWith("\x1b[1F\x1b[J") && written.endsWith("> LIST hel\x1b[K\x1b[8G"),
    JSON.stringify(written),
  );
  // The transfer ends: its line goes; the prompt stays, alone.
  display.end(t);
  assert.equal(screen.take(), "\x1b[1F\x1b[J> LIST hel\x1b[K\x1b[8G");
  // The prompt taken away: the line is cleared, nothing is drawn; a line then prints as with no prompt.
  display.setPrompt(undefined);
  assert.equal(screen.take(), "\r\x1b[J");
  display.log("stopped");
  assert.equal(screen.take(), "stopped\n");
});

Deno.test("ProgressDisplay with a prompt: the whole screen, as a terminal shows it, after lines, redraws and typing", () => {
  const screen = new FakeScreen(true, 100);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS, now: () => 0 });
  const typed = { text: "", cursor: 0 };
  display.log("listening on 127.0.0.1:5555");
  display.setPrompt(promptOf(typed));
  const t = display.begin("slow.bin", 1000);
  t.bytes = 500;
  display.draw();
  typed.text = "PEERS";
  typed.cursor = 5;
  display.promptChanged();
  display.log("> STATS");
  display.log("tracker: 1 peer");
  display.draw();
  // A terminal turns each line feed into CR LF (output processing, kept in Deno's raw mode).
  const state = screenState(screen.text.replaceAll("\n", "\r\n"));
  assert.deepEqual(state.lines, [
    "listening on 127.0.0.1:5555",
    "> STATS",
    "tracker: 1 peer",
    "slow.bin [######------]   50%  500 B / 1000 B  0 B/s  ETA --  0 sources",
    "> PEERS",
  ]);
  assert.deepEqual({ row: state.row, col: state.col }, { row: 4, col: 7 }, "the cursor at the end of the typed text");
  display.end(t);
  display.close();
  assert.deepEqual(screenAfter(screen.text.replaceAll("\n", "\r\n")), [
    "listening on 127.0.0.1:5555",
    "> STATS",
    "tracker: 1 peer",
  ]);
});

Deno.test("ProgressDisplay with a prompt: not on a terminal nothing of it is drawn", () => {
  const screen = new FakeScreen(false, 80);
  using display = new ProgressDisplay(screen, { intervalMs: NEVER_MS });
  display.setPrompt(() => ({ text: "> x", cursor: 3 }));
  display.promptChanged();
  display.log("a line");
  display.setPrompt(undefined);
  assert.equal(screen.text, "a line\n");
});
