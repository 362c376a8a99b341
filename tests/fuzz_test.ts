/**
 * Fuzzing the parsers and the line reader with seeded random and mutated
 * inputs (the seed is printed on failure, so a failure reproduces), then a
 * live tracker fed garbage over a socket. The promise: bad input gives a
 * ProtocolError (a status for the client), never another exception, and the
 * server keeps serving.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  decodeName,
  formatEntryLine,
  formatFileRequest,
  parseEntryLine,
  parseFileHeader,
  parseFileRequest,
  parseHashesHeader,
  parseReplyLine,
  parseReport,
  parseSendNames,
  parseUpdateHeader,
  ProtocolError,
} from "../protocol.ts";
import { startTracker } from "../tracker.ts";
import { LineClient } from "./helpers.ts";
import { BufferedReader } from "../io/reader.ts";

/** A small seeded generator (xorshift32). */
function rng(seed: number) {
  let x = seed >>> 0 || 1;
  const next = () => {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    return (x >>> 0) / 2 ** 32;
  };
  const int = (n: number) => Math.floor(next() * n);
  return { next, int, pick: <T>(xs: readonly T[]): T => xs[int(xs.length)] };
}

const SHA = "ab".repeat(32);
const SEEDS = [
  "UPDATE 5555 2",
  `12 ${SHA} file.txt`,
  `${2 * 1024 * 1024} ${SHA}:${"cd".repeat(32)} big file.bin`,
  "SEND a.txt, b%2C c.txt",
  "GET notes.md",
  "RANGE 0 1048576 big.bin",
  "HASHES big.bin",
  `200 12 ${SHA}`,
  `206 100 ${SHA} 10 20`,
  `200 HASHES 3000000 ${SHA} 1048576 3`,
  "REPORT 127.0.0.1:5555 EHASH 1048576 big.bin",
  "200-HOLDER 127.0.0.1:5555 12 x",
];
const ALPHABET = [..."aZ09 ,%:.-/\\\t\r*[]", "\u0000", "\u00e9", "\u2028", "\ud83d\ude00", "%2C", "%00", "..", "\n"];

/** A random line, or a seed line with a few random edits. */
function input(r: ReturnType<typeof rng>): string {
  if (r.next() < 0.3) return Array.from({ length: r.int(40) }, () => r.pick(ALPHABET)).join("");
  let s = r.pick(SEEDS);
  for (let edits = 1 + r.int(4); edits > 0; edits--) {
    const at = r.int(s.length + 1);
    const kind = r.int(4);
    if (kind === 0) s = s.slice(0, at) + r.pick(ALPHABET) + s.slice(at);
    else if (kind === 1) s = s.slice(0, at) + s.slice(at + 1 + r.int(5));
    else if (kind === 2) s = s.slice(0, at) + String(r.int(2) ? 2 ** 53 : r.int(100_000)) + s.slice(at);
    else s = s.slice(0, at) + s.slice(at).repeat(1 + r.int(3));
  }
  return s;
}

const PARSERS: [string, (line: string) => unknown][] = [
  ["parseUpdateHeader", (l) => parseUpdateHeader(l.replace(/^UPDATE /, ""))],
  ["parseEntryLine", parseEntryLine],
  ["parseSendNames", (l) => parseSendNames(l.replace(/^SEND /, ""))],
  ["parseFileRequest", parseFileRequest],
  ["parseFileHeader", parseFileHeader],
  ["parseHashesHeader", parseHashesHeader],
  ["parseReplyLine", parseReplyLine],
  ["parseReport", (l) => parseReport(l.replace(/^REPORT /, ""))],
  ["decodeName", decodeName],
];

Deno.test("fuzz: 20,000 random and mutated lines give each parser a value or a ProtocolError, nothing else", () => {
  for (const seed of [1, 2, 3, 4]) {
    const r = rng(seed);
    for (let i = 0; i < 5_000; i++) {
      const line = input(r);
      for (const [name, parse] of PARSERS) {
        try {
          parse(line);
        } catch (error) {
          if (!(error instanceof ProtocolError)) {
            assert.fail(`seed ${seed}, input ${i}, ${name}(${JSON.stringify(line)}) threw ${error}`);
          }
          assert.ok(error.status >= 400 && error.status < 600, `${name}: status ${error.status}`);
        }
      }
    }
  }
});

Deno.test("fuzz: what parses formats back to the same request (entry lines, file requests)", () => {
  const r = rng(9);
  let checked = 0;
  for (let i = 0; i < 20_000; i++) {
    const line = input(r);
    try {
      const entry = parseEntryLine(line);
      assert.deepEqual(parseEntryLine(formatEntryLine(entry)), entry, JSON.stringify(line));
      checked++;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
    }
    try {
      const request = parseFileRequest(line);
      assert.deepEqual(parseFileRequest(formatFileRequest(request).slice(0, -1)), request, JSON.stringify(line));
      checked++;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
    }
  }
  assert.ok(checked > 1_000, `only ${checked} inputs parsed: the mutations are too harsh to test this`);
});

Deno.test("fuzz: the line reader gives the same lines however the bytes are split", async () => {
  for (const seed of [11, 12, 13]) {
    const r = rng(seed);
    // Round-tripped through UTF-8 first: a mutation may have cut a surrogate pair in half.
    const utf8 = (text: string) => new TextDecoder().decode(new TextEncoder().encode(text));
    const lines = Array.from({ length: 500 }, () => utf8(input(r).replaceAll("\n", "").replaceAll("\r", "")));
    const bytes = new TextEncoder().encode(lines.map((l, i) => l + (i % 3 === 0 ? "\r\n" : "\n")).join(""));
    let at = 0;
    const source = {
      read(buffer: Uint8Array) {
        if (at >= bytes.length) return Promise.resolve(null);
        const n = Math.min(buffer.length, 1 + r.int(r.next() < 0.1 ? 5000 : 7), bytes.length - at);
        buffer.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      },
    };
    const reader = new BufferedReader(source);
    const got: string[] = [];
    while (true) {
      const line = await reader.readLine();
      if (line === null) break;
      got.push(line);
    }
    assert.deepEqual(got, lines, `seed ${seed}`);
  }
});

Deno.test("fuzz: a tracker fed 3,000 garbage lines, split at random, keeps answering, and its index is untouched", async () => {
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
  using good = await LineClient.connect(tracker.addr.port);
  await good.ask(`UPDATE 7000 1\n3 ${"e".repeat(64)} kept.txt\n`);
  const r = rng(21);
  for (let round = 0; round < 3; round++) {
    using bad = await LineClient.connect(tracker.addr.port);
    // Garbage only, never UPDATE (whose entry lines would legitimately swallow what follows).
    const text = Array.from({ length: 1_000 }, () => input(r).replace(/^\s*update/i, "X")).join("\n") + "\nPING\n";
    const bytes = new TextEncoder().encode(text);
    const reading = (async () => {
      const lines: string[] = [];
      while (true) {
        const line = await bad.reader.readLine(1 << 20).catch(() => null);
        if (line === null || line === "200 PONG") return { lines, pong: line === "200 PONG" };
        lines.push(line);
      }
    })();
    for (let at = 0; at < bytes.length;) {
      const n = 1 + r.int(2_000);
      await bad.conn.write(bytes.subarray(at, at + n)).catch(() => 0);
      at += n;
    }
    const { pong } = await reading;
    assert.ok(pong, `round ${round}: the garbage session ended before PING was answered`);
  }
  assert.deepEqual(await good.ask("PING\n"), [{ status: 200, more: false, text: "PONG" }]);
  assert.equal(tracker.index.holders("kept.txt", 5).length, 1);
});
