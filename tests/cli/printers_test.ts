/**
 * How `cli/printers.ts` prints while downloads run: a file's outcome as its
 * result line or, with `--json`, as one JSON object on standard output with
 * the live area stepping aside; which names a `--wait` waits for and for
 * how long; and the hashing of a folder, as a start and an end line when
 * the output is not a terminal. The display writes to a fake screen;
 * standard output is what `console.log` is handed.
 *
 * @module
 */

import assert from "node:assert/strict";
import { hashingReporter, outcomePrinter, waitingPrinter } from "../../cli/printers.ts";
import { ProgressDisplay, type Screen } from "../../cli/progress.ts";
import { outcomeJson } from "../../cli/report.ts";
import type { FileOutcome } from "../../peer/download_all.ts";
import { MiB } from "../helpers/hashes.ts";

/** Long enough that the display's own timer never fires while a test runs. */
const NEVER_MS = 3_600_000;

/** One thing written, in order: to the display's screen, or to standard output by `console.log`. */
type Write = { to: "screen" | "stdout"; text: string };

/** A screen of 100 columns, a terminal or not, writing into `writes`. */
function screen(isTerminal: boolean, writes: Write[]): Screen {
  return { isTerminal, columns: () => 100, write: (text) => void writes.push({ to: "screen", text }) };
}

/** Runs `fn` with `console.log` writing into `writes`. */
function capturingStdout(writes: Write[], fn: () => void): void {
  const log = console.log;
  console.log = (...data: unknown[]) => void writes.push({ to: "stdout", text: data.join(" ") + "\n" });
  try {
    fn();
  } finally {
    console.log = log;
  }
}

const SHA = "cd".repeat(32);

const LANDED: FileOutcome = {
  name: "a b.bin",
  ok: true,
  result: {
    name: "a b.bin",
    path: "out/a b.bin",
    size: 5,
    sha256: SHA,
    from: "127.0.0.1:2",
    failed: [],
    sources: [{ holder: "127.0.0.1:2", bytes: 5, chunks: 1 }],
    resumed: 0,
  },
  durationMs: 7,
};

const MISSING: FileOutcome = {
  name: "missing.txt",
  ok: false,
  reason: "404 not found",
  attempts: [],
  sources: [],
  kind: "not-found",
  durationMs: 0,
};

Deno.test("printers: outcomePrinter without --json prints each outcome's result line through the display", () => {
  const writes: Write[] = [];
  using display = new ProgressDisplay(screen(false, writes), { intervalMs: NEVER_MS });
  const print = outcomePrinter(false, display);
  capturingStdout(writes, () => {
    print(LANDED);
    print(MISSING);
  });
  assert.deepEqual(writes, [
    { to: "screen", text: "saved a b.bin (5 B) from 127.0.0.1:2 -> out/a b.bin\n" },
    { to: "screen", text: "failed missing.txt: 404 not found\n" },
  ]);
});

Deno.test("printers: outcomePrinter with --json prints one JSON object per outcome on stdout, with an absolute path", () => {
  const writes: Write[] = [];
  using display = new ProgressDisplay(screen(false, writes), { intervalMs: NEVER_MS });
  const print = outcomePrinter(true, display);
  capturingStdout(writes, () => {
    print(LANDED);
    print(MISSING);
  });
  assert.deepEqual(writes.map((w) => w.to), ["stdout", "stdout"], "nothing on the display's screen");
  const [landed, missing] = writes.map((w) => {
    assert.ok(w.text.endsWith("}\n") && w.text.indexOf("\n") === w.text.length - 1, `one line: ${w.text}`);
    return JSON.parse(w.text);
  });
  assert.equal(landed.path, `${Deno.cwd()}/out/a b.bin`, "resolved against the working folder");
  assert.deepEqual(landed, outcomeJson(LANDED, () => `${Deno.cwd()}/out/a b.bin`));
  assert.equal(landed.status, "ok");
  assert.deepEqual(missing, outcomeJson(MISSING));
  assert.equal(missing.status, "not-found");
});

Deno.test("printers: outcomePrinter with --json on a terminal clears the live lines, prints the JSON, then draws them again", () => {
  const writes: Write[] = [];
  using display = new ProgressDisplay(screen(true, writes), { intervalMs: NEVER_MS });
  const running = display.begin("big.bin", 4 * MiB);
  display.draw();
  writes.length = 0;
  capturingStdout(writes, () => outcomePrinter(true, display)(MISSING));
  assert.deepEqual(writes.map((w) => w.to), ["screen", "stdout", "screen"]);
  assert.equal(writes[0].text, "\x1b[1F\x1b[J", "the one live line is cleared first");
  assert.equal(JSON.parse(writes[1].text).name, "missing.txt");
  assert.match(writes[2].text, /^big\.bin \[-{12}\] {4}0% /, "then drawn again below the JSON");
  display.end(running);
});

Deno.test("printers: waitingPrinter names the files waited for and the seconds it waits at most", () => {
  const writes: Write[] = [];
  using display = new ProgressDisplay(screen(false, writes), { intervalMs: NEVER_MS });
  waitingPrinter(300, display)(["late.bin", "a, b.csv"]);
  waitingPrinter(1, display)(["nobody.bin"]);
  assert.deepEqual(writes.map((w) => w.text), [
    "waiting for late.bin, a, b.csv (up to 300 s)\n",
    "waiting for nobody.bin (up to 1 s)\n",
  ]);
});

Deno.test("printers: hashingReporter not on a terminal prints a start line and an end line, nothing between", () => {
  const writes: Write[] = [];
  using display = new ProgressDisplay(screen(false, writes), { intervalMs: NEVER_MS });
  const report = hashingReporter(display);
  const bytes = 3 * MiB;
  report({ type: "hashing", file: "a.iso", filesDone: 0, files: 2, bytesDone: 0, bytes });
  report({ type: "hashing", file: "a.iso", filesDone: 0, files: 2, bytesDone: MiB, bytes });
  report({ type: "hashing", file: "b.iso", filesDone: 1, files: 2, bytesDone: 2 * MiB, bytes });
  report({ type: "hashing", file: "b.iso", filesDone: 2, files: 2, bytesDone: bytes, bytes });
  const lines = writes.map((w) => w.text);
  assert.equal(lines.length, 2, JSON.stringify(lines));
  assert.equal(lines[0], "hashing 2 files (3.00 MiB) not seen before\n");
  assert.match(lines[1], /^hashed 2 files \(3\.00 MiB\) in \d+\.\d s\n$/);
  for (const line of lines) assert.ok(!line.includes("\x1b") && !line.includes("\r"), JSON.stringify(line));
});

Deno.test("printers: hashingReporter on a terminal shows a live status line, then only the end line", () => {
  const writes: Write[] = [];
  using display = new ProgressDisplay(screen(true, writes), { intervalMs: NEVER_MS });
  const report = hashingReporter(display);
  report({ type: "hashing", file: "one.bin", filesDone: 0, files: 1, bytesDone: 0, bytes: 10 });
  assert.deepEqual(display.render(), ["hashing one.bin: 0 of 1 file, 0 B of 10 B (0%)"]);
  report({ type: "hashing", file: "one.bin", filesDone: 1, files: 1, bytesDone: 10, bytes: 10 });
  assert.deepEqual(display.render(), [], "the status line is gone");
  const text = writes.map((w) => w.text).join("");
  assert.doesNotMatch(text, /not seen before/, "no start line on a terminal: the live line says it");
  // deno-lint-ignore no-control-regex
  assert.match(text, /\x1b\[1F\x1b\[Jhashed 1 file \(10 B\) in \d+\.\d s\n$/);
});
