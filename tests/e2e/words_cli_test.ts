/**
 * The words a person reads, run as a user runs the roles (`deno run main.ts
 * …`, output in a pipe): what `get` and `cat` say when the tracker cannot
 * be reached, is a peer, or needs the secret (one wording for one state,
 * naming the address and what to do), `get --json` keeping its promise of
 * one object per name even then, `cat` quiet about peers that simply do not
 * have the file, and a peer's `SEND` saying every file it shared with the
 * tracker's total, the tracker counting "1 file".
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Secret } from "../../io/secret.ts";
import { re } from "../helpers/assert.ts";
import { runCli, startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { announceAt, deadAddress } from "../helpers/net.ts";
import { JSON_KEYS } from "../helpers/output.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

/** The one line `get` and `cat` end with when nothing listens at the tracker's address. */
function unreachable(role: string, address: string): string {
  return `${role}: cannot reach the tracker at ${address} (connection refused); is it running? ` +
    "start one with 'deno task tracker' or point --tracker at it\n";
}

/** Every line of `text` as a JSON object. */
function jsonLines(text: string): Record<string, unknown>[] {
  return text.split("\n").filter((l) => l !== "").map((l) => JSON.parse(l));
}

Deno.test("get and cat: a tracker nobody runs is named, with why and what to do, in the same words; exit 1", async () => {
  await using tmp = await tempDir();
  const tracker = deadAddress();
  const [get, cat] = await Promise.all([
    runCli(["get", "--tracker", tracker, "--out", tmp.path, "a.txt"]),
    runCli(["cat", "--tracker", tracker, "a.txt"]),
  ]);
  assert.equal(get.code, 1, get.stdoutText + get.stderrText);
  assert.equal(get.stderrText, unreachable("get", tracker));
  assert.equal(get.stdoutText, "");
  assert.equal(cat.code, 1, cat.stderrText);
  assert.equal(cat.stderrText, unreachable("cat", tracker));
  assert.equal(cat.stdout.length, 0);
});

Deno.test("get --json: with the tracker unreachable, still one object per name asked, each failed with the error; exit 1", async () => {
  await using tmp = await tempDir();
  const tracker = deadAddress();
  const names = ["a.txt", "b, c.txt", "d e.bin"];
  const result = await runCli(["get", "--json", "--tracker", tracker, "--out", tmp.path, ...names]);
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  const lines = jsonLines(result.stdoutText);
  assert.deepEqual(lines.map((l) => l.name), names, result.stdoutText);
  const error = unreachable("get", tracker).slice("get: ".length, -1);
  for (const line of lines) {
    assert.deepEqual(Object.keys(line), JSON_KEYS, "every field, in the documented order");
    assert.deepEqual(line, {
      name: line.name,
      status: "failed",
      size: null,
      sha256: null,
      path: null,
      durationMs: null,
      waitedMs: null,
      resumedBytes: 0,
      sources: [],
      error,
    });
  }
  assert.equal(result.stderrText, unreachable("get", tracker), "people read standard error");
});

Deno.test("get and cat: --tracker pointed at a peer says it is a peer, not a tracker; get --json still answers per name", async () => {
  await using tmp = await tempDir();
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "a.txt": "a" });
  const [get, json, cat] = await Promise.all([
    runCli(["get", "--tracker", peer.address, "--out", tmp.path, "a.txt"]),
    runCli(["get", "--json", "--tracker", peer.address, "--out", tmp.path, "a.txt"]),
    runCli(["cat", "--tracker", peer.address, "a.txt"]),
  ]);
  const words = `${peer.address} is a peer, not a tracker; point --tracker at the tracker (default port 4444)`;
  for (const [role, run] of [["get", get], ["get", json], ["cat", cat]] as const) {
    assert.equal(run.code, 1, run.stdoutText + run.stderrText);
    assert.equal(run.stderrText, `${role}: ${words}\n`);
  }
  assert.equal(get.stdoutText, "");
  assert.deepEqual(jsonLines(json.stdoutText).map((l) => [l.name, l.status, l.error]), [["a.txt", "failed", words]]);
});

Deno.test("get: a tracker that needs the shared secret is named, with the flag and the variable that give it", async () => {
  await using tmp = await tempDir();
  await using tracker = testTracker({ secret: await Secret.from("s3cret") });
  const result = await runCli(["get", "--tracker", tracker.address, "--out", tmp.path, "a.txt"]);
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  assert.equal(
    result.stderrText,
    `get: the tracker at ${tracker.address} needs the shared secret (--secret); ` +
      "give the tracker's secret with --secret or P2P_SECRET\n",
  );
});

Deno.test("cat: peers without the file are asked in silence; none having it is one line; a real failure is told", async () => {
  await using tracker = testTracker();
  const big = randomBytes(200 * 1024, 71);
  await using _a = await testPeer(tracker.address, { "x.txt": "x" });
  await using _b = await testPeer(tracker.address, { "y.txt": "y" });
  await using c = await testPeer(tracker.address, { "big.bin": big });
  const t = ["--tracker", tracker.address];
  const [found, missing] = await Promise.all([runCli(["cat", ...t, "big.bin"]), runCli(["cat", ...t, "nope.bin"])]);

  // Asked in announcement order: the two without it answered 404 first, which is no failure in relay mode.
  assert.equal(found.code, 0, found.stderrText);
  assert.equal(found.stdout.length, big.length);
  assert.equal(found.stderrText, `cat: big.bin (200 KiB) from ${c.address}\n`);

  assert.equal(missing.code, 1, missing.stderrText);
  assert.equal(missing.stderrText, "cat: nope.bin: none of the 3 active peers has it\n");

  // A peer that announced, then vanished: refusing the connection is a real failure, and is told.
  const dead = deadAddress();
  using _vanished = await announceAt(tracker.addr.port, Number(dead.split(":")[1]), [[big, "big.bin"]]);
  const failing = await runCli(["cat", ...t, "nope.bin"]);
  assert.equal(failing.code, 1, failing.stderrText);
  assert.equal(
    failing.stderrText,
    `attempt nope.bin from ${dead} failed: ECONNREFUSED connection refused\n` +
      "cat: nope.bin: none of the 4 active peers sent it: 3 do not have it, 1 failed\n",
  );
});

Deno.test("peer SEND: one line names every file shared, counts them, gives the tracker's total; the tracker says 1 file", async () => {
  await using tmp = await tempDir();
  const own = Object.fromEntries(Array.from({ length: 7 }, (_, i) => [`own-${i}.txt`, `own ${i}\n`]));
  const dir = await writeFiles(join(tmp.path, "mine"), own);
  await using tracker = await startCliTracker();
  await using _holder = await testPeer(tracker.address, { "café.txt": "café\n", "c.bin": "c", "d.bin": "dd" });
  await using peer = await startCliPeer(tracker.address, { dir, info: join(tmp.path, "info.txt") });

  await peer.write("SEND café.txt, c.bin, d.bin\n");
  const [, names] = await peer.waitFor(
    new RegExp(`^shared the new files: (.*) \\(3 files; the tracker lists 10 in all for ${re(peer.address)}\\)$`, "m"),
  );
  assert.deepEqual(names.split(", ").toSorted(), ["c.bin", "café.txt", "d.bin"]);
  assert.doesNotMatch(peer.stdout, /\b1 files\b/);

  // The tracker's own lines: one ADD per landed file, each "1 file".
  for (const total of [8, 9, 10]) {
    await tracker.waitFor(new RegExp(`^${re(peer.address)} added 1 file \\(${total} in all\\)$`, "m"));
  }
  assert.match(tracker.stdout, new RegExp(`^${re(peer.address)} announced 7 files$`, "m"));
  assert.doesNotMatch(tracker.stdout, /\b1 files\b/);
});
