/**
 * Leftovers as a user meets them: while a `get` runs, `get --parts` says
 * so and `get --clean` leaves its files alone; cancelled with SIGINT, it
 * says where it kept what arrived, how much, and which command discards
 * it; `get --parts` lists it (in `--out DIR`, or in the current folder),
 * that very command removes it, and nothing else in the folder is touched
 * (an ordinary file, a hidden file of someone else, a symbolic link named
 * like a part file, nor what it points to). Neither command needs a
 * tracker.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, spawnCli } from "../helpers/cli.ts";
import { eventually } from "../helpers/events.ts";
import { hashToken, MiB } from "../helpers/hashes.ts";
import { startFakeHolder } from "../helpers/holders.ts";
import { LineClient } from "../helpers/net.ts";
import { hiddenFiles, journaledChunks } from "../helpers/part_files.ts";
import { randomBytes } from "../helpers/random.ts";
import { testTracker } from "../helpers/roles.ts";
import { listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** A name shaped like a part file's, but a symbolic link: not ours, never followed. */
const LINK_NAME = `.p2p-${"cd".repeat(16)}.part`;

/**
 * Runs `get big.bin` into `out` (a separate process) from a holder that
 * sends 3 chunks of 6 and stalls, runs `whileRunning` once they are
 * journaled, then stops it with SIGINT; returns what it printed.
 */
async function cancelledGet(out: string, whileRunning: () => Promise<void>) {
  await using tracker = testTracker();
  const data = randomBytes(6 * MiB + 10, 41);
  await using holder = startFakeHolder({ name: "big.bin", data, stall: 3 });
  using session = await LineClient.connect(tracker.addr.port);
  const [reply] = await session.ask(`UPDATE ${holder.port} 1\n${data.length} ${hashToken(data)} big.bin\n`);
  assert.equal(reply.status, 200, reply.text);
  await using get = spawnCli(["get", "--tracker", tracker.address, "--out", out, "big.bin"]);
  await eventually("3 chunks journaled", async () => {
    if (!get.running) throw new Error(`get exited early:\n${get.stdout}\n${get.stderr}`);
    return await journaledChunks(out, "big.bin") >= 3;
  });
  await whileRunning();
  get.kill("SIGINT");
  return await get.result();
}

Deno.test("leftovers: a running get is left alone by a clean; cancelled with SIGINT, it says where it kept what arrived; get --parts lists it, the command it names discards it and nothing else", async () => {
  await using dir = await tempDir();
  await using outside = await tempDir();
  const out = join(dir.path, "downloads");
  await Deno.mkdir(out);

  // While the get runs, its part file is listed as such, and a clean from another process leaves it alone.
  const cancelled = await cancelledGet(out, async () => {
    const parts = await runCli(["get", "--parts", "--out", out]);
    assert.match(parts.stdoutText, /^big\.bin: being downloaded now \(3\.00 MiB of 6\.00 MiB so far\), in /m);
    const clean = await runCli(["get", "--clean", "--out", out]);
    assert.match(
      clean.stdoutText,
      /^left \S+\.part alone: a download is writing it now \(stop that download first\)$/m,
    );
    assert.equal((await hiddenFiles(out)).names.length, 2, "both files still there");
  });
  assert.equal(cancelled.code, 1, cancelled.stdoutText + cancelled.stderrText);
  const { part } = await hiddenFiles(out);
  assert.ok(part);
  const said = `failed big.bin: cancelled; kept 3.00 MiB of big.bin in ${part} for the next try; ` +
    `get --clean --out ${out} (CLEAN at a peer's prompt) discards it`;
  assert.ok(cancelled.stdoutText.split("\n").includes(said), cancelled.stdoutText);

  // Beside it, what is not ours.
  await writeFiles(out, { "notes.txt": "an ordinary file\n", ".hidden": "someone else's\n" });
  await Deno.writeTextFile(join(outside.path, "precious.bin"), "not ours\n");
  await Deno.symlink(join(outside.path, "precious.bin"), join(out, LINK_NAME));
  const before = await listDir(out);

  // Listed, in --out DIR or in the current folder; no tracker asked (none is running now).
  const parts = await runCli(["get", "--parts", "--out", out]);
  assert.equal(parts.code, 0, parts.stderrText);
  assert.equal(parts.stderrText, "");
  const lines = parts.stdoutText.trimEnd().split("\n");
  assert.equal(lines.length, 2, parts.stdoutText);
  assert.match(lines[0], /^big\.bin: 3\.00 MiB of 6\.00 MiB arrived, last written \d{4}-\d\d-\d\d \d\d:\d\d, in /);
  assert.ok(lines[0].endsWith(`, in ${part}`), lines[0]);
  assert.equal(
    lines[1],
    `the same get carries on from what arrived; get --clean --out ${out} (CLEAN at a peer's prompt) discards it`,
  );
  const here = await runCli(["get", "--parts"], { cwd: out });
  assert.equal(here.code, 0, here.stderrText);
  assert.equal(here.stdoutText, parts.stdoutText, "the current folder is the default --out");
  assert.deepEqual(await listDir(out), before, "listing touches nothing");

  // The command the cancel message named, as a user would type it.
  const command = /; (get --clean --out \S+) \(CLEAN/.exec(said)![1].split(" ");
  const clean = await runCli(command);
  assert.equal(clean.code, 0, clean.stderrText);
  assert.equal(
    clean.stdoutText,
    `removed ${part} and its journal (3.00 MiB of big.bin)\n` +
      `removed 1 leftover download from ${out}: 3.00 MiB freed\n`,
  );
  assert.deepEqual(await listDir(out), [".hidden", LINK_NAME, "notes.txt"]);
  assert.equal(await Deno.readTextFile(join(out, "notes.txt")), "an ordinary file\n");
  assert.equal(await Deno.readTextFile(join(out, ".hidden")), "someone else's\n");
  assert.ok((await Deno.lstat(join(out, LINK_NAME))).isSymlink);
  assert.equal(await Deno.readTextFile(join(outside.path, "precious.bin")), "not ours\n");

  const again = await runCli(["get", "--clean", "--out", out]);
  assert.equal(again.code, 0, again.stderrText);
  assert.equal(again.stdoutText, `no leftover part files in ${out}: nothing removed\n`);
});
