/**
 * What `cli/report.ts` prints, one line per event or result: byte counts
 * (`formatBytes`), a file's outcome as text (`formatOutcome`,
 * `formatSource`, `formatAttempt`) and as the `--json` object
 * (`outcomeJson`, every field in the order docs/JSON.md gives), and the
 * lines of peer and tracker events. Pure formatting: no socket, no clock.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { PeerEvent } from "../../peer.ts";
import {
  formatAttempt,
  formatBytes,
  formatOutcome,
  formatPeerEvent,
  formatRelayed,
  formatSource,
  formatTrackerEvent,
  notStarted,
  outcomeJson,
} from "../../cli/report.ts";
import type { Attempt, SourceReport } from "../../io/errors.ts";
import type { Downloaded } from "../../peer/download.ts";
import type { FileOutcome } from "../../peer/download_all.ts";
import { MiB } from "../helpers/hashes.ts";
import { JSON_KEYS } from "../helpers/output.ts";

const KiB = 1024;
const GiB = 1024 * MiB;
const SHA = "ab".repeat(32);

/** A file of 2 MiB that landed in `out/` from 127.0.0.1:2, with `overrides`. */
function landed(overrides: Partial<Downloaded> = {}): Downloaded {
  return {
    name: "f.bin",
    path: "out/f.bin",
    size: 2 * MiB,
    sha256: SHA,
    from: "127.0.0.1:2",
    failed: [],
    sources: [],
    resumed: 0,
    ...overrides,
  };
}

// ---------------------------------------------------------------------------
// formatBytes

Deno.test("formatBytes: bytes below 1 KiB, then powers of 1024 with about three significant digits", () => {
  const cases: [number, string][] = [
    [0, "0 B"],
    [1, "1 B"],
    [512, "512 B"],
    [1023, "1023 B"],
    [1024, "1.00 KiB"],
    [1536, "1.50 KiB"],
    [10 * KiB, "10.0 KiB"],
    [100 * KiB, "100 KiB"],
    [MiB, "1.00 MiB"],
    [12.5 * MiB, "12.5 MiB"],
    [18 * MiB, "18.0 MiB"],
    [1.5 * GiB, "1.50 GiB"],
    [3.25 * GiB, "3.25 GiB"],
    [1024 * GiB, "1.00 TiB"],
    [1024 * 1024 * GiB, "1.00 PiB"],
    [2048 * 1024 * 1024 * GiB, "2048 PiB"], // no unit above PiB
  ];
  for (const [n, text] of cases) assert.equal(formatBytes(n), text, `formatBytes(${n})`);
});

Deno.test("formatBytes: a value just under the next unit never shows as 1024 of this one (or four digits)", () => {
  // 1 MiB - 1 is 1023.999 KiB: rounded to "1024 KiB" it should read "1.00 MiB".
  for (const n of [MiB - 1, GiB - 1, 10 * KiB - 1, 100 * KiB - 1]) {
    const text = formatBytes(n);
    assert.doesNotMatch(text, /^1024 /, `formatBytes(${n}) = ${text}`);
    assert.ok(text.replace(/\D/g, "").length <= 3, `formatBytes(${n}) = ${text}: at most three digits`);
  }
});

// ---------------------------------------------------------------------------
// formatOutcome, formatSource, formatAttempt

Deno.test("formatOutcome: one line for a file from one holder, a line per source for several or a resume", () => {
  const one: FileOutcome = { name: "a.txt", ok: true, result: landed({ name: "a.txt", path: "out/a.txt", size: 5 }) };
  assert.equal(formatOutcome(one), "saved a.txt (5 B) from 127.0.0.1:2 -> out/a.txt");
  const sources: SourceReport[] = [
    { holder: "127.0.0.1:2", bytes: MiB, chunks: 1 },
    { holder: "127.0.0.1:3", bytes: MiB, chunks: 1 },
    { holder: "127.0.0.1:4", bytes: 0, chunks: 0, code: "EHASH", message: "chunk 1 does not match" },
    // Asked, but the others had it all before it gave a byte: not a source, not listed.
    { holder: "127.0.0.1:5", bytes: 0, chunks: 0 },
  ];
  const several: FileOutcome = { name: "f.bin", ok: true, result: landed({ sources }) };
  assert.equal(
    formatOutcome(several),
    "saved f.bin (2.00 MiB) from 2 sources -> out/f.bin\n" +
      "  127.0.0.1:2: 1 chunk, 1.00 MiB\n" +
      "  127.0.0.1:3: 1 chunk, 1.00 MiB\n" +
      "  127.0.0.1:4: 0 chunks, 0 B; dropped: EHASH chunk 1 does not match",
  );
  const resumed: FileOutcome = {
    name: "f.bin",
    ok: true,
    result: landed({ sources: [{ holder: "127.0.0.1:2", bytes: MiB, chunks: 1 }], resumed: MiB }),
  };
  assert.equal(
    formatOutcome(resumed),
    "saved f.bin (2.00 MiB, 1.00 MiB resumed from an earlier run) from 1 source -> out/f.bin\n" +
      "  127.0.0.1:2: 1 chunk, 1.00 MiB",
  );
});

Deno.test("formatOutcome: a file already there says so; a failure gives the reason and every failed try", () => {
  const here: FileOutcome = {
    name: "p",
    ok: true,
    result: landed({ name: "p", path: "out/p", size: 3, from: "here" }),
  };
  assert.equal(formatOutcome(here), "have p already (3 B) at out/p");
  const failed: FileOutcome = {
    name: "g.txt",
    ok: false,
    reason: "all 2 holders failed",
    attempts: [
      { holder: "127.0.0.1:7", code: "404", message: "not found" },
      { holder: "127.0.0.1:8", code: "ECONNREFUSED", message: "connection refused" },
    ],
    sources: [],
  };
  assert.equal(
    formatOutcome(failed),
    "failed g.txt: all 2 holders failed [404 from 127.0.0.1:7; ECONNREFUSED from 127.0.0.1:8]",
  );
  assert.equal(formatOutcome({ ...failed, reason: "404 not found", attempts: [] }), "failed g.txt: 404 not found");
});

Deno.test("formatOutcome: a failure that kept a part file says how to discard it, in the words get --parts uses", () => {
  const failed: FileOutcome = {
    name: "big.bin",
    ok: false,
    reason: "the holder failed; kept 3.00 MiB of big.bin in /tmp/dl/.p2p-0.part for the next try",
    attempts: [{ holder: "127.0.0.1:7", code: "ETRUNCATED", message: "stream ended" }],
    sources: [],
    kept: [{ path: "/tmp/dl/.p2p-0.part", bytes: 3 * MiB }],
  };
  assert.equal(
    formatOutcome(failed),
    "failed big.bin: the holder failed; kept 3.00 MiB of big.bin in /tmp/dl/.p2p-0.part for the next try; " +
      "get --clean --out /tmp/dl (CLEAN at a peer's prompt) discards it [ETRUNCATED from 127.0.0.1:7]",
  );
});

Deno.test("formatSource and formatAttempt: a holder's share, and a failed try", () => {
  assert.equal(formatSource({ holder: "h:1", bytes: 10, chunks: 1 }), "  h:1: 1 chunk, 10 B");
  assert.equal(
    formatSource({ holder: "h:1", bytes: 0, chunks: 0, code: "ETIMEDOUT" }),
    "  h:1: 0 chunks, 0 B; dropped: ETIMEDOUT",
  );
  const a: Attempt = { holder: "127.0.0.1:9", code: "503", message: "busy" };
  assert.equal(formatAttempt("x.bin", a), "attempt x.bin from 127.0.0.1:9 failed: 503 busy");
});

Deno.test("formatSource and outcomeJson: a partial holder (a peer still downloading the file) is marked as one", () => {
  const partial = { holder: "h:2", bytes: 2 * 1024 * 1024, chunks: 2, partial: true as const };
  assert.equal(formatSource(partial), "  h:2: 2 chunks, 2.00 MiB (a partial holder)");
  const outcome: FileOutcome = {
    name: "big.bin",
    ok: true,
    result: {
      name: "big.bin",
      path: "/x/big.bin",
      size: 3 * 1024 * 1024,
      sha256: "a".repeat(64),
      from: "h:1",
      failed: [],
      resumed: 0,
      sources: [{ holder: "h:1", bytes: 1024 * 1024, chunks: 1 }, partial],
    },
  };
  const sources = outcomeJson(outcome).sources;
  assert.deepEqual(sources.map((s) => [s.holder, s.partial]), [["h:1", undefined], ["h:2", true]]);
  assert.ok(!("partial" in sources[0]), "a full holder's object has no partial key");
});

// ---------------------------------------------------------------------------
// outcomeJson: the --json object

Deno.test("outcomeJson: a landed file with every holder tried, the dead one first, and an absolute path", () => {
  const dead: Attempt = { holder: "127.0.0.1:1", code: "ECONNREFUSED", message: "connection refused" };
  const sources: SourceReport[] = [
    { holder: "127.0.0.1:1", bytes: 0, chunks: 0, code: "ECONNREFUSED", message: "connection refused" },
    { holder: "127.0.0.1:2", bytes: MiB, chunks: 1 },
    { holder: "127.0.0.1:3", bytes: MiB, chunks: 1 },
  ];
  const o: FileOutcome = {
    name: "f.bin",
    ok: true,
    result: landed({ failed: [dead], sources, resumed: 5 }),
    durationMs: 12,
  };
  const json = outcomeJson(o, (p) => `/abs/${p}`);
  assert.deepEqual(Object.keys(json), JSON_KEYS);
  assert.deepEqual(json, {
    name: "f.bin",
    status: "ok",
    size: 2 * MiB,
    sha256: SHA,
    path: "/abs/out/f.bin",
    durationMs: 12,
    waitedMs: null,
    resumedBytes: 5,
    sources: [
      { holder: "127.0.0.1:1", outcome: "ECONNREFUSED", bytes: 0, chunks: 0, message: "connection refused" },
      { holder: "127.0.0.1:2", outcome: "OK", bytes: MiB, chunks: 1 },
      { holder: "127.0.0.1:3", outcome: "OK", bytes: MiB, chunks: 1 },
    ],
    error: null,
  });
  assert.ok(!("message" in json.sources[1]), "no message for a holder that served");
});

Deno.test("outcomeJson: a holder that failed before it was a source is added from the attempts, once", () => {
  const o: FileOutcome = {
    name: "g.txt",
    ok: false,
    reason: "all 2 holders failed",
    attempts: [
      { holder: "127.0.0.1:7", code: "404", message: "not found" },
      { holder: "127.0.0.1:8", code: "ECONNREFUSED", message: "connection refused" },
    ],
    sources: [{ holder: "127.0.0.1:7", bytes: 0, chunks: 0, code: "404", message: "not found" }],
    kind: "failed",
    durationMs: 3,
    waitedMs: 1500,
  };
  assert.deepEqual(outcomeJson(o), {
    name: "g.txt",
    status: "failed",
    size: null,
    sha256: null,
    path: null,
    durationMs: 3,
    waitedMs: 1500,
    resumedBytes: 0,
    sources: [
      { holder: "127.0.0.1:7", outcome: "404", bytes: 0, chunks: 0, message: "not found" },
      { holder: "127.0.0.1:8", outcome: "ECONNREFUSED", bytes: 0, chunks: 0, message: "connection refused" },
    ],
    error: "all 2 holders failed",
  });
});

Deno.test("outcomeJson: present, not-found, refused, cancelled, and failed when no kind is known", () => {
  const here: FileOutcome = { name: "p", ok: true, result: landed({ name: "p", path: "p", from: "here" }) };
  const present = outcomeJson(here, (p) => `/w/${p}`);
  assert.equal(present.status, "present");
  assert.equal(present.path, "/w/p");
  assert.deepEqual(present.sources, []);
  assert.equal(present.durationMs, null, "no timing given: null");
  const failure = (kind?: "not-found" | "refused" | "cancelled"): FileOutcome => ({
    name: "n",
    ok: false,
    reason: "why",
    attempts: [{ holder: "here", code: "EEXIST", message: "in the way" }],
    sources: [],
    ...(kind ? { kind } : {}),
  });
  assert.equal(outcomeJson(failure("not-found")).status, "not-found");
  assert.equal(outcomeJson(failure("refused")).status, "refused");
  assert.equal(outcomeJson(failure("cancelled")).status, "cancelled");
  const plain = outcomeJson(failure());
  assert.equal(plain.status, "failed");
  assert.deepEqual(plain.sources, [], "'here' is not a holder");
  assert.equal(plain.error, "why");
  assert.equal(JSON.stringify(plain).includes("\n"), false, "one line");
});

// ---------------------------------------------------------------------------
// formatPeerEvent, formatTrackerEvent

Deno.test("formatPeerEvent and formatTrackerEvent: hashing, folder changes, warnings, retries, stats", () => {
  const cases: [PeerEvent, string][] = [
    [
      { type: "hashing", file: "a.iso", filesDone: 1, files: 3, bytesDone: 1.5 * MiB, bytes: 3 * GiB },
      "hashing a.iso: 1 of 3 files, 1.50 MiB of 3.00 GiB",
    ],
    [
      { type: "hashing", file: "b", filesDone: 0, files: 1, bytesDone: 0, bytes: 10 },
      "hashing b: 0 of 1 file, 0 B of 10 B",
    ],
    [
      {
        type: "folder-changed",
        changed: [{ name: "new.txt", size: 5, sha256: SHA }, { name: "b c.txt", size: 0, sha256: SHA }],
        removed: ["old.txt", "gone.bin"],
        answer: "indexed 2 more files as 127.0.0.1:5555 (3 in all)",
      },
      "now sharing new.txt (5 B), b c.txt (0 B); no longer sharing old.txt, gone.bin " +
      "(tracker: indexed 2 more files as 127.0.0.1:5555 (3 in all))",
    ],
    [
      { type: "folder-changed", changed: [], removed: ["x"], answer: "" },
      "no longer sharing x",
    ],
    [{ type: "warning", message: "cannot write the hash cache" }, "warning: cannot write the hash cache"],
    [
      { type: "tracker-retry", tracker: "127.0.0.1:4444", attempts: 3, message: "connection refused", awayMs: 65_000 },
      "the tracker at 127.0.0.1:4444 is still unreachable after 1 min 5 s (3 tries, the last: connection refused); " +
      "still serving, still trying",
    ],
  ];
  for (const [event, line] of cases) assert.equal(formatPeerEvent(event), line);
  const stats = {
    sessions: 3,
    peers: 2,
    files: 10,
    holders: 12,
    requests: 40,
    rps: 0.5,
    reports: 1,
    reportedBytes: 99,
    waiting: 1,
    uptime: 7,
  };
  assert.equal(
    formatTrackerEvent({ type: "stats", stats }),
    "stats: sessions=3 peers=2 files=10 holders=12 requests=40 rps=0.5 reports=1 reported-bytes=99 waiting=1 uptime=7",
  );
});

Deno.test("formatPeerEvent: uploads, refusals, failed tries and the tracker lost and back", () => {
  const cases: [PeerEvent, string][] = [
    [
      { type: "served", name: "a.bin", to: "127.0.0.1:9", bytes: 10, ranges: 1, size: 10 },
      "sent a.bin (10 B) to 127.0.0.1:9",
    ],
    [
      { type: "served", name: "a.bin", to: "127.0.0.1:9", bytes: 10, ranges: 3, size: 3 * MiB },
      "sent 3 ranges of a.bin (10 B of 3.00 MiB) to 127.0.0.1:9",
    ],
    [
      { type: "refused", to: "127.0.0.1:9", status: 503, message: "busy" },
      "refused a request from 127.0.0.1:9: 503 busy",
    ],
    [
      { type: "aborted", name: "a.bin", to: "127.0.0.1:9", bytes: 4, size: 10, message: "connection reset" },
      "stopped sending a.bin to 127.0.0.1:9 after 4 B of 10 B: connection reset",
    ],
    [
      { type: "attempt-failed", name: "a.bin", holder: "127.0.0.1:8", code: "404", message: "not found" },
      "attempt a.bin from 127.0.0.1:8 failed: 404 not found",
    ],
    [
      { type: "tracker-lost", tracker: "127.0.0.1:4444", message: "connection reset" },
      "lost the tracker at 127.0.0.1:4444 (connection reset); serving anyway, and trying again in the background " +
      "(a line at 1, 5 and 15 min, then hourly, while it is away)",
    ],
    [
      {
        type: "tracker-back",
        tracker: "127.0.0.1:4444",
        announced: "indexed 2 files as 127.0.0.1:5555",
        awayMs: 4200,
        attempts: 2,
        again: true,
      },
      "reached the tracker at 127.0.0.1:4444 again after 4.2 s (2 tries): indexed 2 files as 127.0.0.1:5555",
    ],
  ];
  for (const [event, line] of cases) assert.equal(formatPeerEvent(event), line);
});

Deno.test("formatTrackerEvent: joins, announcements, leaves, bad requests and reports", () => {
  assert.equal(formatTrackerEvent({ type: "joined", peer: "127.0.0.1:50000" }), "connection from 127.0.0.1:50000");
  assert.equal(formatTrackerEvent({ type: "announced", peer: "p:1", files: 3 }), "p:1 announced 3 files");
  assert.equal(
    formatTrackerEvent({ type: "announced", peer: "p:1", files: 5, added: 2 }),
    "p:1 added 2 files (5 in all)",
  );
  assert.equal(
    formatTrackerEvent({ type: "announced", peer: "p:1", files: 1, removed: 4 }),
    "p:1 removed 4 files (1 left)",
  );
  assert.equal(formatTrackerEvent({ type: "left", peer: "p:1", files: 2 }), "p:1 left; 2 files removed from the index");
  assert.equal(
    formatTrackerEvent({ type: "left", peer: "p:1", files: 0, reason: "idle timeout" }),
    "p:1 left (idle timeout); 0 files removed from the index",
  );
  assert.equal(
    formatTrackerEvent({ type: "bad-request", peer: "p:1", status: 400, message: "unknown command" }),
    "p:1: answered 400 unknown command",
  );
  const report = { type: "reported", peer: "p:1", holder: "h:2", name: "f", outcome: "EHASH", demoted: false } as const;
  assert.equal(formatTrackerEvent(report), "p:1 reported h:2 EHASH for f");
  assert.equal(formatTrackerEvent({ ...report, demoted: true }), "p:1 reported h:2 EHASH for f; no longer offered");
});

Deno.test("formatTrackerEvent: one file is a file, in every line that counts files", () => {
  const lines = [
    formatTrackerEvent({ type: "announced", peer: "p:1", files: 1 }),
    formatTrackerEvent({ type: "announced", peer: "p:1", files: 1, added: 1 }),
    formatTrackerEvent({ type: "announced", peer: "p:1", files: 0, removed: 1 }),
    formatTrackerEvent({ type: "left", peer: "p:1", files: 1 }),
  ];
  assert.deepEqual(lines, [
    "p:1 announced 1 file",
    "p:1 added 1 file (1 in all)",
    "p:1 removed 1 file (0 left)",
    "p:1 left; 1 file removed from the index",
  ]);
});

Deno.test("formatOutcome, formatSource, formatRelayed: sizes in units; the --json object keeps exact bytes", () => {
  const big: FileOutcome = {
    name: "big.bin",
    ok: true,
    result: landed({
      name: "big.bin",
      path: "big.bin",
      size: 200 * MiB,
      sources: [{ holder: "127.0.0.1:2", bytes: 150 * MiB, chunks: 150 }, {
        holder: "127.0.0.1:3",
        bytes: 50 * MiB,
        chunks: 50,
      }],
    }),
  };
  assert.equal(
    formatOutcome(big),
    "saved big.bin (200 MiB) from 2 sources -> big.bin\n  127.0.0.1:2: 150 chunks, 150 MiB\n  127.0.0.1:3: 50 chunks, 50.0 MiB",
  );
  const hello: FileOutcome = { name: "hello.txt", ok: true, result: landed({ name: "hello.txt", size: 96 }) };
  assert.match(formatOutcome(hello), /^saved hello\.txt \(96 B\) from 127\.0\.0\.1:2 /);
  assert.equal(outcomeJson(big).size, 200 * MiB, "exact in JSON");
  assert.equal(outcomeJson(big).sources[1].bytes, 50 * MiB, "exact in JSON");
  assert.equal(
    formatRelayed("big.bin", { size: 3 * MiB + 77, from: "127.0.0.1:2" }),
    "cat: big.bin (3.00 MiB) from 127.0.0.1:2",
  );
});

Deno.test("notStarted: a name whose download never began is failed, with the run's error, in text and in JSON", () => {
  const outcome = notStarted("a.txt", new Error("cannot reach the tracker at 127.0.0.1:4444 (connection refused)"));
  assert.equal(formatOutcome(outcome), "failed a.txt: cannot reach the tracker at 127.0.0.1:4444 (connection refused)");
  assert.deepEqual(outcomeJson(outcome), {
    name: "a.txt",
    status: "failed",
    size: null,
    sha256: null,
    path: null,
    durationMs: null,
    waitedMs: null,
    resumedBytes: 0,
    sources: [],
    error: "cannot reach the tracker at 127.0.0.1:4444 (connection refused)",
  });
});
