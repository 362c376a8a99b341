/**
 * How a peer process stops, as a user stops it: with its standard input
 * ended it keeps serving until a signal; on SIGTERM it says what it waits
 * for, leaves the tracker first, stops accepting, tells idle connections it
 * is stopping, lets an upload in the middle of a file finish (for up to 10
 * s), says `stopped` and exits 0; a second signal while it waits exits at
 * once with 1. A holder stopped in the middle of a swarm download says how
 * much it sent and why, and the downloader is told why and finishes from
 * the other holder. The tracker says what it closes, and that it stopped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatBytes } from "../../cli/report.ts";
import { assertSameBytes, re } from "../helpers/assert.ts";
import { startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { eventually } from "../helpers/events.ts";
import { MiB } from "../helpers/hashes.ts";
import { LineClient } from "../helpers/net.ts";
import { readJournal } from "../helpers/part_files.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

/** A size as the lines print it (`96 B`, `1.50 MiB`), for a regular expression. */
const size = (n: number) => re(formatBytes(n));

/** True if a connection to 127.0.0.1:`port` is refused. */
async function refused(port: number): Promise<boolean> {
  try {
    using _conn = await Deno.connect({ hostname: "127.0.0.1", port });
    return false;
  } catch (error) {
    if (error instanceof Deno.errors.ConnectionRefused) return true;
    throw error;
  }
}

Deno.test("peer: with its stdin ended it keeps serving until SIGTERM, then exits 0", async () => {
  await using tmp = await tempDir();
  const shared = randomBytes(300_001, 4);
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "shared.bin": shared });
  const bobDir = await writeFiles(join(tmp.path, "bob"), {});

  await using tracker = await startCliTracker();
  await using alice = await startCliPeer(tracker.address, {
    dir: aliceDir,
    info: join(tmp.path, "alice-info.txt"),
    stdin: "closed",
  });
  await using bob = await startCliPeer(tracker.address, { dir: bobDir, info: join(tmp.path, "bob-info.txt") });
  await bob.write("SEND shared.bin\n");
  await bob.waitFor(/^(saved|failed) shared\.bin.*$/m);
  assert.match(
    bob.stdout,
    new RegExp(`^saved shared\\.bin \\(${size(shared.length)}\\) from ${re(alice.address)} `, "m"),
  );
  await assertSameBytes(join(bobDir, "shared.bin"), shared);
  await alice.waitFor(new RegExp(`^sent shared\\.bin \\(${size(shared.length)}\\) to `, "m"));
  assert.ok(alice.running, "the peer is still running after its stdin ended");
  assert.doesNotMatch(alice.stdout, /^> /m, "no prompt when stdin is not a terminal");

  alice.kill("SIGTERM");
  const status = await alice.exited();
  assert.equal(status.code, 0, alice.stderr);
  await tracker.waitFor(new RegExp(`^${re(alice.address)} left; 1 files? removed from the index$`, "m"));
  // What it did, said as it began, and that it is done, said last.
  assert.match(alice.stdout, /\nSIGTERM: stopping; no upload under way\nstopped\n$/);
});

Deno.test("peer: on SIGTERM it leaves the tracker, stops accepting, closes idle connections, finishes the upload under way, exits 0", async () => {
  await using tmp = await tempDir();
  // At 2 MiB/s the upload takes about 2.5 s: the signal comes after its first chunk, 2 s before its end.
  const big = randomBytes(5 * MiB + 5, 5);
  const holderDir = await writeFiles(join(tmp.path, "holder"), { "big.bin": big });
  const getterDir = await writeFiles(join(tmp.path, "getter"), {});
  await using tracker = await startCliTracker();
  await using holder = await startCliPeer(tracker.address, {
    dir: holderDir,
    info: join(tmp.path, "holder-info.txt"),
    flags: ["--max-upload-rate", "2M"],
  });
  // --no-partial: the getter streams the file in one answer, the upload under way that the stop lets finish (a
  // getter that serves its verified chunks fetches chunk by chunk, and the stop would end it at the chunk under way).
  await using getter = await startCliPeer(tracker.address, {
    dir: getterDir,
    info: join(tmp.path, "getter-info.txt"),
    flags: ["--no-partial"],
  });

  // An idle connection: it asked once, was answered, and now sends nothing.
  using idle = await LineClient.connect(holder.port);
  assert.equal((await idle.ask("HASHES nothing-here.bin\n"))[0].status, 404);

  // A slow download from the holder, under way: its first chunk is on the getter's disk.
  await getter.write("SEND big.bin\n");
  await eventually(
    "the first chunk journaled by the getter",
    async () => (await readJournal(getterDir)).chunks.length >= 1,
  );
  // The upload ends when the holder has sent the last byte: it prints `sent big.bin …` then, before it
  // closes anything else; the getter prints `saved big.bin …` later still.
  const uploadEnded = () => /^sent big\.bin /m.test(holder.stdout) || /^saved big\.bin /m.test(getter.stdout);
  assert.ok(!uploadEnded(), "the download is still running when the signal comes");

  holder.kill("SIGTERM");
  // 1. It leaves the tracker first, while the upload still runs.
  await tracker.waitFor(new RegExp(`^${re(holder.address)} left; 1 files? removed from the index$`, "m"));
  assert.ok(!uploadEnded(), "the tracker was told before the upload ended");
  // 2. The idle connection is closed at once, not when the upload ends.
  assert.equal(await idle.closed(), true);
  assert.ok(!uploadEnded(), "the idle connection was closed while the upload still ran");
  // 3. It accepts no new connection.
  await eventually("a new connection refused", () => refused(holder.port));
  assert.ok(!uploadEnded(), "it stopped accepting while the upload still ran");
  assert.ok(holder.running, "the holder waits for its upload");

  // 4. The upload in the middle of the file finishes, the file lands verified, and the holder exits 0.
  const [outcome] = await getter.waitFor(/^(saved|failed) big\.bin.*$/m);
  assert.match(outcome, new RegExp(`^saved big\\.bin \\(${size(big.length)}\\) from ${re(holder.address)} -> `));
  await assertSameBytes(join(getterDir, "big.bin"), big);
  await holder.waitFor(new RegExp(`^sent big\\.bin \\(${size(big.length)}\\) to `, "m"));
  const status = await holder.exited();
  assert.equal(status.code, 0, holder.stdout + holder.stderr);
  assert.equal(status.signal, null);
  // 5. What it waited for was said when the signal came, and that it stopped, last.
  const said = holder.stdout.slice(holder.stdout.indexOf("SIGTERM: "));
  assert.match(
    said,
    /^SIGTERM: stopping; 1 upload under way gets up to 10 s to finish what it is sending \(big\.bin to 127\.0\.0\.1:\d+\); SIGINT or SIGTERM again stops at once\n/,
  );
  assert.match(said, /\nstopped\n$/);
});

Deno.test("peer: a second SIGTERM while an upload holds up the shutdown exits at once with 1", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  // At 100 KiB/s this upload would take almost a minute: far past the 10 s the shutdown waits for it.
  await writeFiles(dir.path, { "big.bin": randomBytes(5 * MiB, 6) });
  await using holder = await startCliPeer(tracker.address, {
    dir: dir.path,
    info: join(dir.path, ".info.txt"),
    flags: ["--max-upload-rate", "100K"],
  });
  using downloader = await LineClient.connect(holder.port);
  await downloader.send("GET big.bin\n");
  assert.match((await downloader.reader.readLine())!, /^200 5242880 [0-9a-f]{64}$/, "the upload has begun");

  holder.kill("SIGTERM");
  await tracker.events.next("left", (e) => e.peer === holder.address); // the first signal is being acted on
  assert.ok(holder.running, "the first signal waits for the upload");
  holder.kill("SIGTERM");
  const status = await holder.exited();
  assert.equal(status.code, 1, holder.stdout + holder.stderr);
  assert.equal(status.signal, null, "it exits on its own, not killed by the signal");
});

Deno.test("peer: stopped in the middle of a swarm download, the holder says how much it sent and that it is stopping; the downloader is told 503 the peer at HOST:PORT is stopping and gets the rest from the other holder", async () => {
  await using tmp = await tempDir();
  const big = randomBytes(8 * MiB, 7);
  await using tracker = testTracker();
  await using leaving = await startCliPeer(tracker.address, {
    dir: await writeFiles(join(tmp.path, "leaving"), { "big.bin": big }),
    info: join(tmp.path, "leaving-info.txt"),
  });
  await using _staying = await testPeer(tracker.address, { "big.bin": big });
  // At 4 MiB/s the download takes about 2 s, from both holders at once.
  const getterDir = await writeFiles(join(tmp.path, "getter"), {});
  await using getter = await startCliPeer(tracker.address, {
    dir: getterDir,
    info: join(tmp.path, "getter-info.txt"),
    flags: ["--max-download-rate", "4M"],
  });
  await getter.write("SEND big.bin\n");
  await eventually("two chunks journaled by the getter", async () => (await readJournal(getterDir)).chunks.length >= 2);
  assert.doesNotMatch(getter.stdout, /^saved big\.bin /m, "the download is still running when the signal comes");

  leaving.kill("SIGTERM");
  // The holder: what it stops in the middle of, how much of the file it sent, and why; then that it has stopped.
  await leaving.waitFor(
    /^SIGTERM: stopping; 1 upload under way gets up to 10 s to finish what it is sending \(big\.bin to 127\.0\.0\.1:\d+\); /m,
  );
  const [cut] = await leaving.waitFor(/^stopped sending big\.bin .*$/m);
  assert.match(
    cut,
    new RegExp(
      `^stopped sending big\\.bin to 127\\.0\\.0\\.1:\\d+ after \\S+ \\S+ of ${
        size(big.length)
      }: this peer is stopping$`,
    ),
  );
  assert.equal((await leaving.exited()).code, 0, leaving.stdout + leaving.stderr);
  assert.match(leaving.stdout, /\nstopped\n$/);
  assert.doesNotMatch(leaving.stdout, /^sent /m, "nothing reads as a file sent");

  // The downloader: why that holder failed, and the file from the other one, verified.
  const stopping = `503 the peer at ${re(leaving.address)} is stopping; try another holder`;
  await getter.waitFor(new RegExp(`^attempt big\\.bin from ${re(leaving.address)} failed: ${stopping}$`, "m"));
  const [saved] = await getter.waitFor(/^(saved|failed) big\.bin(.*\n {2}.*)*$/m);
  assert.match(saved, new RegExp(`^saved big\\.bin \\(${size(big.length)}\\) from 2 sources -> `));
  assert.match(saved, new RegExp(`^ {2}${re(leaving.address)}: .*; dropped: ${stopping}$`, "m"));
  await assertSameBytes(join(getterDir, "big.bin"), big);
  assert.doesNotMatch(getter.stdout, /ECONNRESET|ETRUNCATED/);
});

Deno.test("tracker: on SIGINT it says what it closes, and then that it has stopped", async () => {
  await using tracker = await startCliTracker();
  await using _peer = await testPeer(tracker.address, { "a.txt": "a" }, { reconnect: { minMs: 60_000 } });
  using _downloader = await LineClient.connect(tracker.port);
  await tracker.waitFor(/^127\.0\.0\.1:\d+ announced 1 files?$/m);
  await eventually("two sessions", () => (tracker.stdout.match(/^connection from /gm) ?? []).length === 2);
  tracker.kill("SIGINT");
  assert.equal((await tracker.exited()).code, 0, tracker.stderr);
  const said = tracker.stdout.slice(tracker.stdout.indexOf("SIGINT"));
  assert.match(said, /^SIGINT: stopping; closing 2 sessions \(1 peer sharing files\)\n/);
  assert.match(said, /\n127\.0\.0\.1:\d+ left; 1 files? removed from the index\n/);
  assert.match(said, /\nstopped\n$/);
});
