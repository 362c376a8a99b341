/**
 * `get` and `cat` run as a user runs them (`deno run main.ts get|cat …`,
 * output in a pipe), against a tracker and peers on loopback: exit codes,
 * `--out`, `--info`, result lines with no control character, `--json` (one
 * object per file on stdout, people's lines on stderr), `--wait` and
 * `--wait-timeout`, and `--max-download-rate` (the bytes exact, the time at
 * least size / rate).
 *
 * @module
 */

import assert from "node:assert/strict";
import { isAbsolute, join } from "node:path";
import { assertSameBytes, re } from "../helpers/assert.ts";
import { runCli, spawnCli, startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { announceAt, deadAddress } from "../helpers/net.ts";
import { assertPlain, byName, JSON_KEYS } from "../helpers/output.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** Every line of `text` parsed as JSON; fails on any line that is not one compact JSON object. */
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

Deno.test("get: exits 0 when every file arrives, 1 when any is missing, 2 without a name; lands in --out, saves --info", async () => {
  await using tmp = await tempDir();
  const files = {
    "file1.txt": new TextEncoder().encode("plain\n"),
    "name with space.txt": new TextEncoder().encode("spaces in the name\n"),
    "a, b.csv": new TextEncoder().encode("a,b\n1,2\n"),
    "bin.dat": randomBytes(1_048_577, 1),
  };
  const aliceDir = await writeFiles(join(tmp.path, "alice"), files);
  const cwd = await writeFiles(join(tmp.path, "cwd"), {});
  const out1 = await writeFiles(join(tmp.path, "out1"), {});
  const out2 = await writeFiles(join(tmp.path, "out2"), {});
  const getInfo = join(tmp.path, "get-info.txt");

  await using tracker = await startCliTracker();
  await using alice = await startCliPeer(tracker.address, { dir: aliceDir, info: join(tmp.path, "alice-info.txt") });
  const t = ["--tracker", tracker.address];
  const [allThere, oneMissing, noNames] = await Promise.all([
    runCli(["get", ...t, "--out", out1, "--info", getInfo, "name with space.txt", "a, b.csv", "bin.dat"], { cwd }),
    runCli(["get", ...t, "--out", out2, "file1.txt", "missing.txt"], { cwd }),
    runCli(["get", ...t, "--out", out1], { cwd }),
  ]);

  assert.equal(allThere.code, 0, allThere.stdoutText + allThere.stderrText);
  // Sizes in units a person reads; --json keeps the exact bytes.
  const shown = { "name with space.txt": "19 B", "a, b.csv": "8 B", "bin.dat": "1.00 MiB" };
  for (const name of ["name with space.txt", "a, b.csv", "bin.dat"] as const) {
    assert.match(
      allThere.stdoutText,
      new RegExp(`^saved ${re(name)} \\(${re(shown[name])}\\) from ${re(alice.address)} `, "m"),
    );
    await assertSameBytes(join(out1, name), files[name]);
  }
  assert.deepEqual(await listDir(out1), ["a, b.csv", "bin.dat", "name with space.txt"]);
  assert.match(await Deno.readTextFile(getInfo), /^200-HOLDER \S+ \d+ [0-9a-f]{64} a%2C b\.csv$/m);

  assert.equal(oneMissing.code, 1, oneMissing.stdoutText + oneMissing.stderrText);
  assert.match(oneMissing.stdoutText, /^failed missing\.txt: 404 /m);
  assert.match(oneMissing.stdoutText, /^saved file1\.txt /m);
  await assertSameBytes(join(out2, "file1.txt"), files["file1.txt"]);
  assert.deepEqual(await listDir(out2), ["file1.txt"], "nothing else, no partial file, lands in --out");
  assert.deepEqual(await listDir(cwd), [], "nothing lands in the working folder when --out is given");

  assert.equal(noNames.code, 2, noNames.stdoutText + noNames.stderrText);
  assert.match(
    noNames.stderrText,
    /^get: no file name given \(get \[flags\] NAME\.\.\.\); run 'get --help' for the flags$/m,
  );
});

Deno.test("cat: prints a binary file byte for byte, exits 1 naming a file no peer has, 2 for two names", async () => {
  await using tmp = await tempDir();
  const blob = randomBytes(1_100_003, 2);
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "blob.bin": blob });

  await using tracker = await startCliTracker();
  await using alice = await startCliPeer(tracker.address, { dir: aliceDir, info: join(tmp.path, "alice-info.txt") });
  const [found, missing, twoNames] = await Promise.all([
    runCli(["cat", "--tracker", tracker.address, "blob.bin"]),
    runCli(["cat", "--tracker", tracker.address, "nope.bin"]),
    runCli(["cat", "--tracker", tracker.address, "blob.bin", "nope.bin"]),
  ]);

  assert.equal(found.code, 0, found.stderrText);
  assert.equal(found.stdout.length, blob.length);
  assert.equal(sha256(found.stdout), sha256(blob));
  assert.deepEqual(found.stdout, blob);
  assert.match(
    found.stderrText,
    new RegExp(`^cat: blob\\.bin \\(1\\.05 MiB\\) from ${re(alice.address)}$`, "m"),
  );

  assert.equal(missing.code, 1, missing.stderrText);
  assert.equal(missing.stdout.length, 0, "nothing on stdout");
  // Asking the peers in turn, one without the file is no failure: no attempt line, one summary.
  assert.doesNotMatch(missing.stderrText, /^attempt /m);
  assert.match(missing.stderrText, /^cat: nope\.bin: the one active peer does not have it$/m);

  assert.equal(twoNames.code, 2, twoNames.stderrText);
  assert.match(twoNames.stderrText, /^cat: 2 file names given; it prints one file at a time; run 'cat --help' /m);
  assert.equal(twoNames.stdout.length, 0);
});

Deno.test("get --json: stdout is one JSON line per file (ok, present, not-found, failed), human lines on stderr, exit 1", async () => {
  await using tmp = await tempDir();
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
  await assertSameBytes(join(out, "ok.bin"), okData);

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
  assert.equal(failed.error, "the holder failed");

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

Deno.test("get and cat in a pipe: result lines only, no escape or carriage return; --max-download-rate lands the file byte for byte and takes at least size / rate", async () => {
  await using tmp = await tempDir();
  await using tracker = testTracker();
  const big = randomBytes(3 * MiB + 77, 21);
  const small = new TextEncoder().encode("small\n");
  await using alice = await testPeer(tracker.address, { "big.bin": big, "small.txt": small });
  await writeFiles(join(tmp.path, "plain"), {});
  await writeFiles(join(tmp.path, "limited"), {});
  await writeFiles(join(tmp.path, "timed"), {});
  const t = ["--tracker", tracker.address];
  /** The rate of the timed run, bytes per second (4M). */
  const rate = 4 * MiB;
  const [got, limited, timed, cat] = await Promise.all([
    runCli(["get", ...t, "--out", "plain", "big.bin", "small.txt", "missing.txt"], { cwd: tmp.path }),
    runCli(["get", ...t, "--max-download-rate", "16M", "--out", "limited", "big.bin"], { cwd: tmp.path }),
    runCli(["get", ...t, "--json", "--max-download-rate", "4M", "--out", "timed", "big.bin"], { cwd: tmp.path }),
    runCli(["cat", ...t, "big.bin"]),
  ]);

  assert.equal(got.code, 1, got.stdoutText + got.stderrText);
  assertPlain(got.stdoutText, "get stdout");
  assertPlain(got.stderrText, "get stderr");
  const lines = got.stdoutText.split("\n").filter((l) => l !== "").sort();
  assert.deepEqual(lines, [
    "failed missing.txt: 404 not found",
    `saved big.bin (3.00 MiB) from ${alice.address} -> ${join(tmp.path, "plain", "big.bin")}`,
    `saved small.txt (6 B) from ${alice.address} -> ${join(tmp.path, "plain", "small.txt")}`,
  ]);
  assert.equal(got.stderrText, "");
  await assertSameBytes(join(tmp.path, "plain", "big.bin"), big);

  assert.equal(limited.code, 0, limited.stdoutText + limited.stderrText);
  assertPlain(limited.stdoutText + limited.stderrText, "get --max-download-rate output");
  assert.match(limited.stdoutText, /^saved big\.bin \(3\.00 MiB\) from /m);
  await assertSameBytes(join(tmp.path, "limited", "big.bin"), big);

  // The time: every byte received waits for the budget, which starts empty and may be overdrawn by one
  // slice (64 KiB at this rate): at most size - 2 slices can come faster than the rate.
  assert.equal(timed.code, 0, timed.stdoutText + timed.stderrText);
  assertPlain(timed.stdoutText + timed.stderrText, "get --json --max-download-rate output");
  const [line] = jsonLines(timed.stdoutText);
  assert.equal(line.status, "ok");
  assert.equal(line.size, big.length);
  assert.equal(line.sha256, sha256(big));
  await assertSameBytes(join(tmp.path, "timed", "big.bin"), big);
  const leastMs = (big.length - 2 * 64 * 1024) / rate * 1000;
  assert.ok(
    typeof line.durationMs === "number" && line.durationMs >= Math.floor(leastMs),
    `${big.length} bytes at ${rate} bytes/s took ${line.durationMs} ms, less than ${leastMs.toFixed(0)} ms`,
  );

  // cat: the file on stdout; stderr is not a terminal, so it carries the result line and no progress.
  assert.equal(cat.code, 0, cat.stderrText);
  assert.equal(sha256(cat.stdout), sha256(big));
  assertPlain(cat.stderrText, "cat stderr");
  assert.equal(cat.stderrText, `cat: big.bin (3.00 MiB) from ${alice.address}\n`);
});

Deno.test("get --wait --json: waits for a file nobody has, gets it the moment a peer announces it, exits 0", async () => {
  await using tmp = await tempDir();
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
  await assertSameBytes(join(tmp.path, "late.bin"), late);
});

Deno.test("get --wait --wait-timeout 1: nobody announces it, exit 1 naming the wait", async () => {
  await using tmp = await tempDir();
  await using tracker = testTracker();
  const result = await runCli(
    ["get", "--wait", "--wait-timeout", "1", "--tracker", tracker.address, "--out", tmp.path, "nobody.bin"],
  );
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  assertPlain(result.stdoutText + result.stderrText, "output");
  assert.match(result.stdoutText, /^waiting for nobody\.bin \(up to 1 s\)$/m);
  assert.match(result.stdoutText, /^failed nobody\.bin: 404 not found; nobody announced it within 1 s$/m);
  assert.deepEqual(await listDir(tmp.path), [], "nothing lands");
});
