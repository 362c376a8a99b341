/**
 * What a person (or a script) sees of downloads, end to end on real
 * loopback sockets: `get --json`, plain output in a pipe, `--wait` and
 * `--wait-timeout`, `SEND --wait` and `STATS` at a peer's prompt, `peer
 * --json`, `--no-watch`, `--max-download-rate`, the tracker's
 * `--stats-every`, progress boards fed by real downloads (`sendAndFetch`,
 * `Peer.send`, `relayFile`), and, when `script` (util-linux) can give a
 * process a pseudo-terminal, the live lines on a terminal.
 *
 * The tracker and most holders run in this process (`startTracker`,
 * `Peer.start`), the command line as subprocesses (`cli_helpers.ts`). No
 * test measures time: each waits for the output or event it expects, with
 * a safety timeout that fails it rather than hang.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isAbsolute, join } from "node:path";
import { sendAndFetch } from "../peer.ts";
import { relayFile } from "../peer/relay.ts";
import { outcomeJson } from "../cli/report.ts";
import { MAIN_PATH, makeTempDir, runCli, spawnCli, startServer, writeFiles } from "./cli_helpers.ts";
import { deadAddress, fakeHolder, LineClient, randomBytes, sha256, tempDir, testPeer, testTracker } from "./helpers.ts";
import { ProgressDisplay, type Screen } from "../cli/progress.ts";
import { RateLimit } from "../io/rate_limit.ts";
import { writeAll, writeText } from "../io/streams.ts";
import { type FileOutcome } from "../peer/download_all.ts";
import { TrackerClient } from "../peer/tracker_client.ts";
import { type Transfer, type TransferBoard } from "../peer/transfer_board.ts";

const MiB = 1024 * 1024;
/** A wait that has not come true by then fails the test. */
const SAFETY_MS = 20_000;

// ---------------------------------------------------------------------------
// Helpers

/** Escapes `text` for use inside a regular expression. */
function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Resolves with `promise`, or fails naming `what` after `ms`. */
async function within<T>(what: string, promise: Promise<T>, ms = SAFETY_MS): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Every line of `text` parsed as JSON; fails on any line that is not one JSON object. */
function jsonLines(text: string): Record<string, unknown>[] {
  assert.ok(text.endsWith("\n"), `ends with a newline: ${JSON.stringify(text.slice(-80))}`);
  return text.slice(0, -1).split("\n").map((line) => {
    let value: unknown;
    try {
      value = JSON.parse(line);
    } catch {
      assert.fail(`not a JSON line: ${JSON.stringify(line)}\n--- whole output ---\n${text}`);
    }
    assert.ok(value !== null && typeof value === "object" && !Array.isArray(value), line);
    assert.equal(JSON.stringify(value), line, "one compact object per line");
    return value as Record<string, unknown>;
  });
}

/** The JSON line of `name` among `lines` (exactly one). */
function byName(lines: Record<string, unknown>[], name: string): Record<string, unknown> {
  const found = lines.filter((l) => l.name === name);
  assert.equal(found.length, 1, `one line for ${name}: ${JSON.stringify(lines)}`);
  return found[0];
}

const JSON_KEYS = [
  "name",
  "status",
  "size",
  "sha256",
  "path",
  "durationMs",
  "waitedMs",
  "resumedBytes",
  "sources",
  "error",
];

/** No terminal control in output meant for a pipe: no escape sequence, no carriage return. */
function assertPlain(text: string, what: string): void {
  assert.ok(!text.includes("\x1b"), `${what} holds an escape character: ${JSON.stringify(text)}`);
  assert.ok(!text.includes("\r"), `${what} holds a carriage return: ${JSON.stringify(text)}`);
}

/** Starts `main.ts peer` on 127.0.0.1 with extra `flags`; returns once it has announced its folder. */
async function cliPeer(tracker: string, dir: string, info: string, flags: string[] = [], cwd?: string) {
  const peer = await startServer("peer", ["--tracker", tracker, "--dir", dir, "--info", info, ...flags], { cwd });
  try {
    await peer.waitFor(/^shared \d+ files from /m);
    return peer;
  } catch (error) {
    await peer[Symbol.asyncDispose]();
    throw error;
  }
}

/** Announces files at `port` of 127.0.0.1, as a peer that may not be there; keep the session open while it counts. */
async function announceAt(trackerPort: number, port: number, files: [Uint8Array, string][]): Promise<LineClient> {
  const session = await LineClient.connect(trackerPort);
  const lines = files.map(([bytes, name]) => `${bytes.length} ${sha256(bytes)} ${name}\n`).join("");
  const [reply] = await session.ask(`UPDATE ${port} ${files.length}\n${lines}`);
  assert.equal(reply.status, 200, reply.text);
  return session;
}

/**
 * A holder of one file that answers any request (`GET`, or `RANGE` of the
 * whole of a file of one chunk) with the whole file: the first `firstPart`
 * bytes, then, after `release()`, the rest.
 */
function gatedHolder(data: Uint8Array, firstPart: number) {
  const gate = Promise.withResolvers<void>();
  const holder = fakeHolder(async (conn) => {
    await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
    await writeAll(conn, data.subarray(0, firstPart));
    await gate.promise;
    await writeAll(conn, data.subarray(firstPart));
  });
  const close = holder[Symbol.asyncDispose];
  return Object.assign(holder, {
    release: () => gate.resolve(),
    // A test that failed before releasing it must not leave its answers waiting forever.
    [Symbol.asyncDispose]: () => (gate.resolve(), close()),
  });
}

/** A board that records what a download tells it: each begin and end, every value set on its transfers. */
class RecordingBoard implements TransferBoard {
  begun: { name: string; size: number; transfer: Transfer }[] = [];
  ended: { transfer: Transfer; bytes: number; sources: number }[] = [];
  /** Every value given to `sources`, in order. */
  sourcesSet: number[] = [];
  /** Values set on a transfer after it ended. */
  lateSets = 0;
  /** Times `bytes` went down. */
  bytesBack = 0;
  /** The most `bytes` ever was. */
  maxBytes = 0;

  begin(name: string, size: number): Transfer {
    let bytes = 0;
    let sources = 0;
    let over = false;
    // deno-lint-ignore no-this-alias
    const board = this;
    const transfer: Transfer & { over: () => void } = {
      name,
      size,
      get bytes() {
        return bytes;
      },
      set bytes(value: number) {
        if (over) board.lateSets++;
        if (value < bytes) board.bytesBack++;
        bytes = value;
        board.maxBytes = Math.max(board.maxBytes, value);
      },
      get sources() {
        return sources;
      },
      set sources(value: number) {
        if (over) board.lateSets++;
        board.sourcesSet.push(value);
        sources = value;
      },
      over: () => over = true,
    };
    this.begun.push({ name, size, transfer });
    return transfer;
  }

  end(transfer: Transfer): void {
    this.ended.push({ transfer, bytes: transfer.bytes, sources: transfer.sources });
    (transfer as Transfer & { over: () => void }).over();
  }
}

/** Checks that `board` saw exactly one transfer of `name`, `size` bytes, run from start to end. */
function assertOneTransfer(board: RecordingBoard, name: string, size: number): void {
  assert.deepEqual(board.begun.map((b) => [b.name, b.size]), [[name, size]], "begin once, with the size");
  assert.equal(board.ended.length, 1, "end once");
  assert.equal(board.ended[0].transfer, board.begun[0].transfer, "the transfer begun is the one ended");
  assert.ok(board.ended[0].bytes >= size, `bytes reach the size: ${board.ended[0].bytes} of ${size}`);
  assert.ok(board.sourcesSet.some((n) => n > 0), `sources in use seen while it ran: ${board.sourcesSet}`);
  assert.equal(board.lateSets, 0, "nothing updates a transfer after its end");
  assert.equal(board.bytesBack, 0, "bytes never go down");
}

// ---------------------------------------------------------------------------
// get --json, and plain output in a pipe

Deno.test("get --json: stdout is one JSON line per file (ok, present, not-found, failed), human lines on stderr, exit 1", async () => {
  await using tmp = await makeTempDir();
  await using tracker = testTracker();
  const okData = randomBytes(1_300_000, 11); // two chunks: announced with a root
  const mixed = new TextEncoder().encode("served by the second holder tried\n");
  const present = new TextEncoder().encode("already in --out\n");
  const dead = deadAddress();
  // A peer that announced and then vanished: it is listed first for mixed.txt, and alone for dead.bin.
  using _vanished = await announceAt(tracker.addr.port, Number(dead.split(":")[1]), [
    [randomBytes(1000, 12), "dead.bin"],
    [mixed, "mixed.txt"],
  ]);
  await using alice = await testPeer(tracker.address, { "ok.bin": okData, "mixed.txt": mixed, "present.txt": present });
  await writeFiles(join(tmp.path, "out"), { "present.txt": present });

  const result = await runCli(
    [
      "get",
      "--json",
      "--tracker",
      tracker.address,
      "--out",
      "out",
      "ok.bin",
      "present.txt",
      "missing.txt",
      "dead.bin",
      "mixed.txt",
    ],
    { cwd: tmp.path },
  );
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  assertPlain(result.stdoutText, "stdout");
  assertPlain(result.stderrText, "stderr");
  const lines = jsonLines(result.stdoutText);
  assert.equal(lines.length, 5, result.stdoutText);
  for (const line of lines) {
    assert.deepEqual(Object.keys(line), JSON_KEYS, "every field, in the documented order");
    assert.ok(typeof line.durationMs === "number" && line.durationMs >= 0, `durationMs ${line.durationMs}`);
    assert.equal(line.waitedMs, null, "nothing was waited for");
    assert.equal(line.resumedBytes, 0);
  }
  const out = join(tmp.path, "out");

  const ok = byName(lines, "ok.bin");
  assert.equal(ok.status, "ok");
  assert.equal(ok.size, okData.length);
  assert.equal(ok.sha256, sha256(okData));
  assert.equal(ok.path, join(out, "ok.bin"));
  assert.ok(isAbsolute(ok.path as string), "the path is absolute though --out was relative");
  assert.deepEqual(ok.sources, [{ holder: alice.address, outcome: "OK", bytes: okData.length, chunks: 2 }]);
  assert.equal(ok.error, null);
  assert.equal(sha256(await Deno.readFile(join(out, "ok.bin"))), sha256(okData));

  const there = byName(lines, "present.txt");
  assert.equal(there.status, "present");
  assert.equal(there.path, join(out, "present.txt"));
  assert.equal(there.size, present.length);
  assert.equal(there.sha256, sha256(present));
  assert.deepEqual(there.sources, [], "nobody was asked");

  const missing = byName(lines, "missing.txt");
  assert.equal(missing.status, "not-found");
  assert.deepEqual([missing.size, missing.sha256, missing.path], [null, null, null]);
  assert.deepEqual(missing.sources, []);
  assert.equal(missing.error, "404 not found");

  const failed = byName(lines, "dead.bin");
  assert.equal(failed.status, "failed");
  assert.deepEqual([failed.size, failed.sha256, failed.path], [null, null, null]);
  assert.deepEqual(failed.sources, [
    { holder: dead, outcome: "ECONNREFUSED", bytes: 0, chunks: 0, message: "connection refused" },
  ]);
  assert.equal(failed.error, "all 1 holders failed");

  // Every holder tried, in order: the vanished one first, then the one that served.
  const fellBack = byName(lines, "mixed.txt");
  assert.equal(fellBack.status, "ok");
  assert.deepEqual(fellBack.sources, [
    { holder: dead, outcome: "ECONNREFUSED", bytes: 0, chunks: 0, message: "connection refused" },
    { holder: alice.address, outcome: "OK", bytes: mixed.length, chunks: 1 },
  ]);

  // People read standard error: the failed tries are told there, and no result line is.
  assert.match(result.stderrText, new RegExp(`^attempt dead\\.bin from ${re(dead)} failed: ECONNREFUSED `, "m"));
  assert.match(result.stderrText, new RegExp(`^attempt mixed\\.txt from ${re(dead)} failed: ECONNREFUSED `, "m"));
  assert.doesNotMatch(result.stderrText, /^(saved|failed|have) /m);
});

Deno.test("get and cat in a pipe: result lines only, no escape or carriage return; --max-download-rate lands the file byte for byte", async () => {
  await using tmp = await makeTempDir();
  await using tracker = testTracker();
  const big = randomBytes(3 * MiB + 77, 21);
  const small = new TextEncoder().encode("small\n");
  await using alice = await testPeer(tracker.address, { "big.bin": big, "small.txt": small });
  await writeFiles(join(tmp.path, "plain"), {});
  await writeFiles(join(tmp.path, "limited"), {});
  const t = ["--tracker", tracker.address];
  const [got, limited, cat] = await Promise.all([
    runCli(["get", ...t, "--out", "plain", "big.bin", "small.txt", "missing.txt"], { cwd: tmp.path }),
    runCli(["get", ...t, "--max-download-rate", "16M", "--out", "limited", "big.bin"], { cwd: tmp.path }),
    runCli(["cat", ...t, "big.bin"]),
  ]);

  assert.equal(got.code, 1, got.stdoutText + got.stderrText);
  assertPlain(got.stdoutText, "get stdout");
  assertPlain(got.stderrText, "get stderr");
  const lines = got.stdoutText.split("\n").filter((l) => l !== "").sort();
  assert.deepEqual(lines, [
    "failed missing.txt: 404 not found",
    `saved big.bin (${big.length} bytes) from ${alice.address} -> ${join("plain", "big.bin")}`,
    `saved small.txt (${small.length} bytes) from ${alice.address} -> ${join("plain", "small.txt")}`,
  ]);
  assert.equal(got.stderrText, "");
  assert.equal(sha256(await Deno.readFile(join(tmp.path, "plain", "big.bin"))), sha256(big));

  assert.equal(limited.code, 0, limited.stdoutText + limited.stderrText);
  assertPlain(limited.stdoutText + limited.stderrText, "get --max-download-rate output");
  assert.match(limited.stdoutText, new RegExp(`^saved big\\.bin \\(${big.length} bytes\\) from `, "m"));
  const landed = await Deno.readFile(join(tmp.path, "limited", "big.bin"));
  assert.equal(landed.length, big.length);
  assert.equal(sha256(landed), sha256(big));

  // cat: the file on stdout; stderr is not a terminal, so it carries the result line and no progress.
  assert.equal(cat.code, 0, cat.stderrText);
  assert.equal(sha256(cat.stdout), sha256(big));
  assertPlain(cat.stderrText, "cat stderr");
  assert.equal(cat.stderrText, `cat: big.bin (${big.length} bytes) from ${alice.address}\n`);
});

// ---------------------------------------------------------------------------
// Waiting for files nobody has yet

Deno.test("get --wait --json: waits for a file nobody has, gets it the moment a peer announces it, exits 0", async () => {
  await using tmp = await makeTempDir();
  await using tracker = testTracker();
  const now = new TextEncoder().encode("held from the start\n");
  const late = randomBytes(1_500_000, 31);
  await using _alice = await testPeer(tracker.address, { "now.txt": now });
  await using get = spawnCli(
    ["get", "--wait", "--json", "--tracker", tracker.address, "--out", tmp.path, "late.bin", "now.txt"],
  );
  // Human lines on stderr with --json; the file someone has is told at once, before the wait ends.
  await get.waitFor(/^waiting for late\.bin \(up to 300 s\)$/m, { stream: "stderr" });
  await get.waitFor(/^\{"name":"now\.txt".*\}$/m);
  assert.ok(get.running, "still waiting for late.bin");

  await using bob = await testPeer(tracker.address, { "late.bin": late });
  const status = await get.exited();
  assert.equal(status.code, 0, get.stdout + get.stderr);
  assertPlain(get.stdout + get.stderr, "output");
  const lines = jsonLines(get.stdout);
  assert.deepEqual(lines.map((l) => l.name), ["now.txt", "late.bin"], "in the order they settled");
  const arrived = byName(lines, "late.bin");
  assert.equal(arrived.status, "ok");
  assert.equal(arrived.path, join(tmp.path, "late.bin"));
  assert.ok(typeof arrived.waitedMs === "number" && arrived.waitedMs >= 0, `waitedMs ${arrived.waitedMs}`);
  assert.deepEqual(arrived.sources, [{ holder: bob.address, outcome: "OK", bytes: late.length, chunks: 2 }]);
  assert.equal(byName(lines, "now.txt").waitedMs, null, "not waited for");
  assert.equal(sha256(await Deno.readFile(join(tmp.path, "late.bin"))), sha256(late));
});

Deno.test("get --wait --wait-timeout 1: nobody announces it, exit 1 naming the wait", async () => {
  await using tmp = await makeTempDir();
  await using tracker = testTracker();
  const result = await runCli(
    ["get", "--wait", "--wait-timeout", "1", "--tracker", tracker.address, "--out", tmp.path, "nobody.bin"],
  );
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  assertPlain(result.stdoutText + result.stderrText, "output");
  assert.match(result.stdoutText, /^waiting for nobody\.bin \(up to 1 s\)$/m);
  assert.match(result.stdoutText, /^failed nobody\.bin: 404 not found; nobody announced it within 1 s$/m);
  assert.deepEqual([...Deno.readDirSync(tmp.path)], [], "nothing lands");
});

Deno.test("sendAndFetch with waitSeconds: a file a peer ADDs later downloads, with waitedMs", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(200_000, 41);
  // A watching peer: a file dropped in its folder is announced by ADD.
  await using holder = await testPeer(tracker.address, {}, { watch: { quietMs: 50 } });
  await using client = await TrackerClient.connect(tracker.address);
  const waiting = Promise.withResolvers<string[]>();
  const sending = sendAndFetch(client, "x.bin, nobody-has-this.bin", {
    outDir: out.path,
    waitSeconds: 30,
    onWaiting: waiting.resolve,
  });
  assert.deepEqual(await within("onWaiting", waiting.promise), ["x.bin", "nobody-has-this.bin"]);
  const added = tracker.waitFor("announced");
  await Deno.writeFile(join(holder.dir, "x.bin"), data);
  const event = await within("the ADD of x.bin", added);
  assert.ok(event.type === "announced" && event.added === 1, JSON.stringify(event));
  // Add the other name too, so that the wait ends without waiting for its timeout.
  const second = tracker.waitFor("announced");
  await Deno.writeFile(join(holder.dir, "nobody-has-this.bin"), data.subarray(0, 10));
  await within("the second ADD", second);

  const report = await within("the downloads", sending);
  for (const o of report.outcomes) {
    assert.ok(o.ok, JSON.stringify(o));
    assert.equal(o.result.from, holder.address);
    assert.ok(typeof o.waitedMs === "number" && o.waitedMs >= 0, `waitedMs ${o.waitedMs}`);
    assert.ok(typeof o.durationMs === "number" && o.durationMs >= 0, `durationMs ${o.durationMs}`);
  }
  assert.equal(sha256(await Deno.readFile(join(out.path, "x.bin"))), sha256(data));
  assert.equal(outcomeJson(report.outcomes[0]).status, "ok");
  assert.match(report.reply, /^404-NOTFOUND x\.bin$/m, "the first reply said nobody had it");
});

Deno.test("sendAndFetch with waitSeconds: aborting during the wait ends it at once as cancelled", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const abort = new AbortController();
  const waiting = Promise.withResolvers<string[]>();
  const settled: FileOutcome[] = [];
  const sending = sendAndFetch(client, "never.bin", {
    outDir: out.path,
    waitSeconds: 30,
    onWaiting: waiting.resolve,
    signal: abort.signal,
    onSettled: (o) => void settled.push(o),
  });
  assert.deepEqual(await within("onWaiting", waiting.promise), ["never.bin"]);
  abort.abort();
  const report = await within("the end of the wait after abort", sending);
  const [o] = report.outcomes;
  assert.ok(!o.ok);
  assert.equal(o.kind, "cancelled");
  assert.match(o.reason, /cancelled while waiting/);
  assert.equal(outcomeJson(o).status, "cancelled");
  assert.deepEqual(settled, [o]);
  assert.ok(client.open, "the tracker connection stays usable");
  assert.deepEqual((await client.send(["never.bin"])).lookups.map((l) => l.status), [404]);
});

Deno.test("Peer.send with waitSeconds, board and onSettled: lands, shows on the board, is shared; close cancels a wait", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB + 5, 51);
  await using downloader = await testPeer(tracker.address);
  const board = new RecordingBoard();
  const settled: FileOutcome[] = [];
  const waiting = Promise.withResolvers<string[]>();
  const sending = downloader.send("late.bin", {
    waitSeconds: 30,
    onWaiting: waiting.resolve,
    board,
    onSettled: (o) => void settled.push(o),
  });
  assert.deepEqual(await within("onWaiting", waiting.promise), ["late.bin"]);
  assert.equal(board.begun.length, 0, "nothing to show while nobody has it");
  await using holder = await testPeer(tracker.address, { "late.bin": data });
  const report = await within("the download", sending);
  const [o] = report.outcomes;
  assert.ok(o.ok, JSON.stringify(o));
  assert.equal(o.result.from, holder.address);
  assert.equal(typeof o.waitedMs, "number");
  assert.deepEqual(settled, [o], "onSettled told once, with the outcome");
  assertOneTransfer(board, "late.bin", data.length);
  assert.equal(sha256(await Deno.readFile(join(downloader.dir, "late.bin"))), sha256(data));
  assert.ok(report.announced, "the file that landed in the shared folder was announced");
  assert.deepEqual(tracker.index.holders("late.bin", 10).map((h) => h.address), [holder.address, downloader.address]);

  // Closing the peer while a SEND waits ends the wait as cancelled.
  const waitingAgain = Promise.withResolvers<string[]>();
  const pending = downloader.send("never.bin", { waitSeconds: 30, onWaiting: waitingAgain.resolve });
  await within("onWaiting", waitingAgain.promise);
  await within("close", downloader.close());
  const cancelled = (await within("the cancelled SEND", pending)).outcomes[0];
  assert.ok(!cancelled.ok && cancelled.kind === "cancelled", JSON.stringify(cancelled));
});

// ---------------------------------------------------------------------------
// The peer's prompt

Deno.test("peer prompt: STATS, SEND --wait gets a file once a peer has it; --json prints JSON results; --no-watch", async () => {
  await using tmp = await makeTempDir();
  await using tracker = testTracker();
  const have = new TextEncoder().encode("alice has it\n");
  const late = randomBytes(1_200_000, 61);
  await using _alice = await testPeer(tracker.address, { "have.txt": have });
  const aDir = await writeFiles(join(tmp.path, "a"), {});
  const bDir = await writeFiles(join(tmp.path, "b"), {});
  await using a = await cliPeer(tracker.address, aDir, join(tmp.path, "a-info.txt"), ["--wait-timeout", "60"]);
  await using b = await cliPeer(tracker.address, "b", join(tmp.path, "b-info.txt"), ["--json", "--no-watch"], tmp.path);
  assert.match(a.stdout, /^watching the folder: /m, "watching by default");
  assert.doesNotMatch(b.stdout, /^watching the folder/m, "--no-watch");

  // STATS: the tracker's counters, as it sends them.
  let mark = a.mark();
  await a.write("STATS\n");
  const stats = await a.waitFor(
    /^200 STATS sessions=(\d+) peers=(\d+) files=(\d+) holders=(\d+) requests=\d+ rps=\S+ reports=\d+ reported-bytes=\d+ waiting=(\d+) uptime=\S+$/m,
    { since: mark },
  );
  assert.deepEqual(stats.slice(1).map(Number), [3, 3, 1, 1, 0], "3 sessions and peers, 1 file, 1 holder, 0 waits");

  // --json: one JSON object per file of a SEND; other lines stay text.
  mark = b.mark();
  await b.write("SEND have.txt, missing.txt\n");
  await b.waitFor(/^\{"name":"have\.txt".*\}$/m, { since: mark });
  await b.waitFor(/^\{"name":"missing\.txt".*\}$/m, { since: mark });
  const json = b.stdout.slice(mark).split("\n").filter((l) => l.startsWith("{")).map((l) => JSON.parse(l));
  assert.equal(json.length, 2);
  const got = byName(json, "have.txt");
  assert.deepEqual(Object.keys(got), JSON_KEYS);
  assert.equal(got.status, "ok");
  assert.equal(got.path, join(bDir, "have.txt"), "absolute though --dir was relative");
  assert.equal(got.sha256, sha256(have));
  assert.equal(byName(json, "missing.txt").status, "not-found");
  assert.doesNotMatch(b.stdout.slice(mark), /^(saved|failed) /m, "no text result lines in --json");
  assert.equal(await Deno.readTextFile(join(bDir, "have.txt")), "alice has it\n");

  // SEND --wait: waits, then downloads when another peer has the file.
  mark = a.mark();
  await a.write("SEND --wait late.bin\n");
  await a.waitFor(/^waiting for late\.bin \(up to 60 s\)$/m, { since: mark });
  await using carol = await testPeer(tracker.address, { "late.bin": late });
  await a.waitFor(/^(saved|failed) late\.bin.*$/m, { since: mark });
  assert.match(
    a.stdout.slice(mark),
    new RegExp(
      `^saved late\\.bin \\(${late.length} bytes\\) from ${re(carol.address)} -> ${re(join(aDir, "late.bin"))}$`,
      "m",
    ),
  );
  assert.equal(sha256(await Deno.readFile(join(aDir, "late.bin"))), sha256(late));
  // The prompt takes commands again, and the file is now shared from here too.
  mark = a.mark();
  await a.write("STATS\n");
  const after = await a.waitFor(/^200 STATS sessions=\d+ peers=\d+ files=(\d+) holders=(\d+) /m, { since: mark });
  assert.deepEqual(after.slice(1).map(Number), [2, 4], "have.txt (alice and b) and late.bin (carol and a)");
  assertPlain(a.stdout + a.stderr + b.stdout + b.stderr, "peer output");
});

// ---------------------------------------------------------------------------
// --max-download-rate: every byte received is paid for

Deno.test("sendAndFetch with a RateLimit: every byte received is taken from the budget, and the file is exact", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(3 * MiB + 5, 71);
  await using _holder = await testPeer(tracker.address, { "big.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const limit = new RateLimit(32 * MiB);
  const take = limit.take.bind(limit);
  let paid = 0;
  let calls = 0;
  limit.take = (n, cancelled) => {
    paid += n;
    calls++;
    assert.ok(n <= limit.slice, `reads of at most a slice: ${n}`);
    return take(n, cancelled);
  };
  const report = await sendAndFetch(client, "big.bin", { outDir: out.path, limit });
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.equal(paid, data.length, "one holder, no byte twice: the budget paid for exactly the file");
  assert.ok(calls >= data.length / limit.slice, `${calls} small reads`);
  const landed = await Deno.readFile(join(out.path, "big.bin"));
  assert.equal(sha256(landed), sha256(data));
});

Deno.test("Peer with maxDownloadRate: its downloads all go through one budget of that rate", async () => {
  await using tracker = testTracker();
  const one = randomBytes(2 * MiB + 1, 81);
  const two = randomBytes(700_000, 82);
  await using _holder = await testPeer(tracker.address, { "one.bin": one, "two.bin": two });
  await using peer = await testPeer(tracker.address, {}, { maxDownloadRate: 48 * MiB });
  const original = RateLimit.prototype.take;
  const paid = new Map<RateLimit, number>();
  RateLimit.prototype.take = function (this: RateLimit, n: number, cancelled?: () => boolean) {
    paid.set(this, (paid.get(this) ?? 0) + n);
    return original.call(this, n, cancelled);
  };
  try {
    const report = await peer.send("one.bin, two.bin");
    assert.ok(report.outcomes.every((o) => o.ok), JSON.stringify(report.outcomes));
    const second = await peer.send("two.bin"); // already there: nothing received
    assert.ok(second.outcomes[0].ok && second.outcomes[0].result.from === "here");
  } finally {
    RateLimit.prototype.take = original;
  }
  assert.equal(paid.size, 1, "one budget for every download of the peer");
  const [[limit, bytes]] = [...paid];
  assert.equal(limit.rate, 48 * MiB);
  assert.equal(bytes, one.length + two.length);
  assert.equal(sha256(await Deno.readFile(join(peer.dir, "one.bin"))), sha256(one));
  assert.equal(sha256(await Deno.readFile(join(peer.dir, "two.bin"))), sha256(two));
});

// ---------------------------------------------------------------------------
// Progress boards fed by real downloads

Deno.test("board: a download from 2 holders begins once with the size, counts every byte and both sources, ends once", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(6 * MiB + 123, 91);
  await using a = await testPeer(tracker.address, { "six.bin": data });
  await using b = await testPeer(tracker.address, { "six.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const board = new RecordingBoard();
  const report = await sendAndFetch(client, "six.bin", { outDir: out.path, board });
  const [o] = report.outcomes;
  assert.ok(o.ok, JSON.stringify(o));
  assert.deepEqual(o.result.sources.map((s) => s.holder).sort(), [a.address, b.address].sort());
  assertOneTransfer(board, "six.bin", data.length);
  assert.equal(Math.max(...board.sourcesSet), 2, `both holders in use at once: ${board.sourcesSet}`);
  assert.equal(board.ended[0].sources, 0, "no source in use once it is over");
  assert.equal(sha256(await Deno.readFile(join(out.path, "six.bin"))), sha256(data));
});

Deno.test("board: bytes of a holder that broke off mid-chunk are not counted again when another sends them (progress never passes 100%)", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(600_000, 95);
  // Listed first, it sends 500,000 of the 600,000 bytes (less than the one chunk) and hangs up.
  await using broken = fakeHolder(async (conn) => {
    await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
    await writeAll(conn, data.subarray(0, 500_000));
  });
  using _announced = await announceAt(tracker.addr.port, broken.port, [[data, "f.bin"]]);
  await using good = await testPeer(tracker.address, { "f.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const board = new RecordingBoard();
  const report = await sendAndFetch(client, "f.bin", { outDir: out.path, board });
  const [o] = report.outcomes;
  assert.ok(o.ok, JSON.stringify(o));
  assert.deepEqual(o.result.sources.map((s) => [s.holder, s.code ?? "OK", s.bytes]), [
    [broken.address, "ETRUNCATED", 0],
    [good.address, "OK", data.length],
  ]);
  assert.equal(sha256(await Deno.readFile(join(out.path, "f.bin"))), sha256(data));
  // The line reads "bytes / size": the 500,000 bytes thrown away must not stay in it.
  assert.equal(board.ended[0].bytes, data.length, `bytes at the end: ${board.ended[0].bytes} of ${data.length}`);
  assert.ok(board.maxBytes <= data.length, `bytes went up to ${board.maxBytes} of ${data.length}`);
});

Deno.test("board: relayFile shows one transfer of the header's size from one source", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB + 9, 101);
  await using _other = await testPeer(tracker.address, { "other.txt": "o" });
  await using holder = await testPeer(tracker.address, { "r.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const board = new RecordingBoard();
  const chunks: Uint8Array[] = [];
  const relayed = await relayFile(client, "r.bin", {
    out: {
      write: (bytes) => {
        chunks.push(bytes.slice());
        return Promise.resolve(bytes.length);
      },
    },
    board,
  });
  assert.equal(relayed.from, holder.address);
  assertOneTransfer(board, "r.bin", data.length);
  assert.equal(board.ended[0].bytes, data.length, "exactly the bytes written");
  assert.deepEqual(board.sourcesSet, [1]);
  assert.equal(sha256(new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer())), sha256(data));
});

Deno.test("board: a ProgressDisplay on a terminal draws a live line while a download runs, and clears it when it lands", async () => {
  await using tracker = testTracker();
  await using out = await tempDir();
  const data = randomBytes(600_000, 111);
  await using slow = gatedHolder(data, 300_000);
  using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
  await using client = await TrackerClient.connect(tracker.address);
  const writes: string[] = [];
  const half = Promise.withResolvers<void>();
  const screen: Screen = {
    isTerminal: true,
    columns: () => 100,
    write: (text) => {
      writes.push(text);
      if (/slow\.bin \[#{6}-{6}\] {3}50% {2}293 KiB \/ 586 KiB /.test(text)) half.resolve();
    },
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
    await within("a live line at 50%", half.promise);
  } catch (error) {
    abort.abort(); // leave nothing running into the next test
    await downloading;
    throw error;
  }
  assert.equal(display.render().length, 1);
  slow.release();
  const report = await within("the download", downloading);
  assert.ok(report.outcomes[0].ok, JSON.stringify(report.outcomes[0]));
  assert.deepEqual(display.render(), [], "the transfer left the board");
  // deno-lint-ignore no-control-regex
  assert.match(writes.at(-1)!, /^\x1b\[1F\x1b\[J$/, "the last write clears the live line");
  for (const text of writes) {
    // deno-lint-ignore no-control-regex
    for (const line of text.replace(/\x1b\[\d+F\x1b\[J/g, "").split("\n").filter((l) => l)) {
      assert.ok(line.length <= 99 && line.startsWith("slow.bin "), JSON.stringify(line));
    }
  }
  assert.equal(sha256(await Deno.readFile(join(out.path, "slow.bin"))), sha256(data));
});

// ---------------------------------------------------------------------------
// Flags

Deno.test("bad values of the new flags exit 2 with a message naming the flag", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["get", "--max-download-rate", "abc", "x"],
      /^get: --max-download-rate must be bytes per second like 500K or 2M, got abc$/m,
    ],
    [["get", "--max-download-rate", "0", "x"], /^get: --max-download-rate must be bytes per second .*, got 0$/m],
    [["peer", "--max-download-rate=-1M"], /^peer: --max-download-rate must be bytes per second .*, got -1M$/m],
    [
      ["get", "--wait", "--wait-timeout", "0", "x"],
      /^get: --wait-timeout must be whole seconds from 1 to 86400, got 0$/m,
    ],
    [["get", "--wait-timeout", "1.5", "x"], /^get: --wait-timeout must be whole seconds from 1 to 86400, got 1\.5$/m],
    [["peer", "--wait-timeout", "86401"], /^peer: --wait-timeout must be whole seconds from 1 to 86400, got 86401$/m],
    [["tracker", "--stats-every=-1"], /^tracker: --stats-every must be 0 or seconds up to \d+, got -1$/m],
    [["tracker", "--stats-every", "abc"], /^tracker: --stats-every must be 0 or seconds up to \d+, got abc$/m],
    [["tracker", "--stats-every", "0.001"], /^tracker: --stats-every must be 0 or seconds up to \d+, got 0\.001$/m],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i];
    assert.equal(r.code, 2, `${args.join(" ")}: ${r.stdoutText}${r.stderrText}`);
    assert.match(r.stderrText, message, args.join(" "));
    assert.match(r.stderrText, new RegExp(`^usage: ${args[0]} `, "m"), args.join(" "));
    assert.equal(r.stdoutText, "", "nothing started");
  }
});

Deno.test("tracker --stats-every 0.05: its stdout gets a stats line, again and again", async () => {
  await using tracker = await startServer("tracker", ["--stats-every", "0.05"]);
  const line =
    /^stats: sessions=\d+ peers=\d+ files=\d+ holders=\d+ requests=\d+ rps=\S+ reports=\d+ reported-bytes=\d+ waiting=\d+ uptime=\S+$/m;
  await tracker.waitFor(line);
  const first = tracker.stdout.search(line);
  await tracker.waitFor(line, { since: first + 1 });
  assertPlain(tracker.stdout, "tracker stdout");
});

// ---------------------------------------------------------------------------
// On a terminal (a pseudo-terminal from util-linux `script`)

/** `script` from util-linux, if it is there and can open a pseudo-terminal here; else the terminal tests are skipped. */
const SCRIPT = ["/usr/bin/script", "/bin/script"].find((path) => {
  try {
    const probe = new Deno.Command(path, {
      args: ["-qec", "true", "/dev/null"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    return probe.outputSync().success;
  } catch {
    return false;
  }
});

/** Quotes `text` for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * `main.ts` run on a pseudo-terminal 100 columns wide: what it writes to the
 * terminal (both streams, unless `stdoutTo` sends standard output to a file)
 * is collected as the terminal got it.
 */
class PtyRun implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #text = "";
  #ended = false;
  #listeners = new Set<() => void>();
  #pump: Promise<void>;
  #status: Promise<Deno.CommandStatus>;

  constructor(args: string[], stdoutTo?: string) {
    const deno = [Deno.execPath(), "run", "--allow-net", "--allow-read", "--allow-write", MAIN_PATH, ...args];
    const command = `stty cols 100 rows 50; exec ${deno.map(shellQuote).join(" ")}` +
      (stdoutTo ? ` > ${shellQuote(stdoutTo)}` : "");
    const child = new Deno.Command(SCRIPT!, {
      args: ["-qfec", command, "/dev/null"],
      env: { NO_COLOR: "1", SHELL: "/bin/sh" },
      stdin: "null",
      stdout: "piped",
      stderr: "null",
    }).spawn();
    this.#child = child;
    const decoder = new TextDecoder();
    this.#pump = (async () => {
      for await (const chunk of child.stdout) {
        this.#text += decoder.decode(chunk, { stream: true });
        this.#listeners.forEach((l) => l());
      }
      this.#ended = true;
      this.#listeners.forEach((l) => l());
    })();
    this.#status = child.status;
  }

  get text(): string {
    return this.#text;
  }

  /** Waits until `pattern` matches the output from `since` on; returns where the match ends. */
  async waitFor(pattern: RegExp, since = 0): Promise<number> {
    const deadline = Date.now() + SAFETY_MS;
    while (true) {
      const match = pattern.exec(this.#text.slice(since));
      if (match) return since + match.index + match[0].length;
      const left = deadline - Date.now();
      if (this.#ended || left <= 0) {
        throw new Error(
          `no ${pattern} on the terminal${this.#ended ? " before it closed" : ""}:\n${JSON.stringify(this.#text)}`,
        );
      }
      const { promise, resolve } = Promise.withResolvers<void>();
      const timer = setTimeout(resolve, left);
      this.#listeners.add(resolve);
      await promise;
      clearTimeout(timer);
      this.#listeners.delete(resolve);
    }
  }

  /** Waits for the exit; returns the exit code of `main.ts`. */
  async exited(): Promise<number> {
    const status = await within("the exit", this.#status);
    await this.#pump;
    return status.code;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already exited */ }
    await this.#status;
    await this.#pump.catch(() => {});
  }
}

/** The lines a terminal shows after `output`: text, CR, LF, `ESC[nF`, `ESC[J`, `ESC[nG` and `ESC[nK`. */
function screenAfter(output: string): string[] {
  const lines = [""];
  let row = 0;
  let col = 0;
  // deno-lint-ignore no-control-regex
  const escape = /\x1b\[(\d*)([A-Za-z])/y;
  for (let i = 0; i < output.length;) {
    escape.lastIndex = i;
    const esc = escape.exec(output);
    if (esc) {
      i = escape.lastIndex;
      const n = Number(esc[1] || "1");
      if (esc[2] === "F") {
        row = Math.max(0, row - n);
        col = 0;
      } else if (esc[2] === "G") {
        col = Math.max(0, n - 1);
      } else if (esc[2] === "K") {
        // 0: to the end of the line; 2: the whole line (what Deno itself writes before a program's output).
        lines[row] = esc[1] === "2" ? "" : lines[row].slice(0, col);
      } else if (esc[2] === "J") {
        lines[row] = lines[row].slice(0, col);
        lines.length = row + 1;
      } else {
        throw new Error(`unexpected escape sequence ${JSON.stringify(esc[0])}`);
      }
      continue;
    }
    const ch = output[i++];
    if (ch === "\r") col = 0;
    else if (ch === "\n") {
      row++;
      while (lines.length <= row) lines.push("");
    } else {
      const line = lines[row].padEnd(col);
      lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
      col++;
    }
  }
  return lines.filter((line, i) => line !== "" || i < lines.length - 1);
}

Deno.test({
  name: "terminal: get draws a live line while a file comes, and leaves only the result lines",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await makeTempDir();
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
    assert.equal(sha256(await Deno.readFile(join(tmp.path, "slow.bin"))), sha256(data));
  },
});

Deno.test({
  name: "terminal: cat with stdout in a file shows its progress on stderr, then only its result line",
  ignore: SCRIPT === undefined,
  fn: async () => {
    await using tmp = await makeTempDir();
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
    assert.equal(sha256(await Deno.readFile(file)), sha256(data));
  },
});

Deno.test({
  name: "terminal: get --json on a terminal keeps every JSON line on the screen (the live area steps aside for it)",
  ignore: SCRIPT === undefined,
  fn: async () => {
    // stdout and stderr are the same terminal: the progress (stderr) must not wipe the JSON (stdout).
    await using tmp = await makeTempDir();
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
  },
});
