/**
 * The `peer` and `tracker` roles run as a user runs them (`deno run main.ts
 * peer|tracker …`), over loopback: a peer's commands on standard input
 * (`SEND`, `SEND --wait`, `PEERS`, `LIST`, `STATS`, `QUIT`), `--json`,
 * `--no-watch`, `--max-upload-rate`, `--max-connections`; the tracker's
 * line for each peer that leaves, and `--stats-every`. (A tracker that is
 * not there: `start_order_cli_test.ts`.) Output is in a pipe: never a control character.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { sendAndFetch } from "../../peer.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { assertSameBytes, re } from "../helpers/assert.ts";
import { runCli, startCliPeer, startCliTracker, startServer } from "../helpers/cli.ts";
import { eventually, within } from "../helpers/events.ts";
import { hashToken, sha256 } from "../helpers/hashes.ts";
import { LineClient } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { assertPlain, byName, JSON_KEYS } from "../helpers/output.ts";
import { formatBytes } from "../../cli/report.ts";
import { listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** A size as the lines print it (`96 B`, `1.50 MiB`), for a regular expression. */
const size = (n: number) => re(formatBytes(n));

Deno.test("peer: fed commands on stdin it downloads with SEND, lists with PEERS and LIST, and leaves on QUIT", async () => {
  await using tmp = await tempDir();
  const file1 = new TextEncoder().encode("the first file\n");
  const file2 = new TextEncoder().encode("# notes\n\nsecond file, fetched by a second SEND\n");
  const file3 = randomBytes(1_572_867, 3); // more than one 1 MiB chunk, not a multiple of it
  const carolOnly = new TextEncoder().encode("only carol has this\n");
  const alice = await writeFiles(join(tmp.path, "alice"), { "file1.txt": file1, "file2.md": file2 });
  const bob = await writeFiles(join(tmp.path, "bob"), { "file3 with space.bin": file3 });
  const carol = await writeFiles(join(tmp.path, "carol"), { "carol-only.txt": carolOnly });
  const info = (name: string) => join(tmp.path, `${name}-info.txt`);

  await using tracker = await startCliTracker();
  await using a = await startCliPeer(tracker.address, { dir: alice, info: info("alice") });
  await using b = await startCliPeer(tracker.address, { dir: bob, info: info("bob") });
  await using c = await startCliPeer(tracker.address, { dir: carol, info: info("carol") });
  await tracker.waitFor(new RegExp(`^${re(c.address)} announced 1 files?$`, "m"));
  const connections = () => tracker.stdout.match(/^connection from /gm)?.length ?? 0;
  assert.equal(connections(), 3);

  // SEND: two files from two holders, one missing name.
  let mark = c.mark();
  await c.write("SEND file1.txt, file3 with space.bin, missing.txt\n");
  // Each file's line comes as it settles, in any order.
  for (const name of [/missing\.txt/, /file1\.txt/, /file3 with space\.bin/]) {
    await c.waitFor(new RegExp(`^(saved|failed) ${name.source}.*$`, "m"), { since: mark });
  }
  let out = c.stdout.slice(mark);
  assert.match(out, /^failed missing\.txt: 404 /m);
  assert.match(
    out,
    new RegExp(
      `^saved file1\\.txt \\(${size(file1.length)}\\) from ${re(a.address)} -> ${re(join(carol, "file1.txt"))}$`,
      "m",
    ),
  );
  assert.match(
    out,
    new RegExp(
      `^saved file3 with space\\.bin \\(${size(file3.length)}\\) from ${re(b.address)} -> ${
        re(join(carol, "file3 with space.bin"))
      }$`,
      "m",
    ),
  );
  await assertSameBytes(join(carol, "file1.txt"), file1);
  await assertSameBytes(join(carol, "file3 with space.bin"), file3);
  // The hash cache is hidden (never shared): a restart announces without reading the files again.
  assert.deepEqual(await listDir(carol), [".p2p-hashes", "carol-only.txt", "file1.txt", "file3 with space.bin"]);
  assert.equal(
    await Deno.readTextFile(info("carol")),
    `200-HOLDER ${a.address} ${file1.length} ${sha256(file1)} file1.txt\n` +
      `200-HOLDER ${b.address} ${file3.length} ${hashToken(file3)} file3 with space.bin\n` +
      `404-NOTFOUND missing.txt\n` +
      `200 END 2 found, 1 not found\n`,
  );
  await a.waitFor(new RegExp(`^sent file1\\.txt \\(${size(file1.length)}\\) to `, "m"));
  // Carol serves what she verifies while she downloads: she fetches chunk by chunk, one range per chunk.
  await b.waitFor(
    new RegExp(
      `^sent 2 ranges of file3 with space\\.bin \\(${size(file3.length)} of ${size(file3.length)}\\) to `,
      "m",
    ),
  );

  // A second SEND on the same process, over the same tracker connection.
  mark = c.mark();
  await c.write("SEND file2.md\n");
  await c.waitFor(/^(saved|failed) file2\.md.*$/m, { since: mark });
  assert.match(
    c.stdout.slice(mark),
    new RegExp(`^saved file2\\.md \\(${size(file2.length)}\\) from ${re(a.address)} `, "m"),
  );
  await assertSameBytes(join(carol, "file2.md"), file2);
  assert.equal(
    await Deno.readTextFile(info("carol")),
    `200-HOLDER ${a.address} ${file2.length} ${sha256(file2)} file2.md\n200 END 1 found, 0 not found\n`,
  );
  await tracker.waitFor(new RegExp(`^${re(c.address)} added 1 files? \\(4 in all\\)$`, "m"));
  assert.equal(connections(), 3, "the peer reuses its tracker connection");

  // PEERS: every peer with its file count; downloads were announced.
  mark = c.mark();
  await c.write("PEERS\n");
  await c.waitFor(/^200 END \d+ peers$/m, { since: mark });
  out = c.stdout.slice(mark);
  assert.match(out, new RegExp(`^200-PEER ${re(a.address)} 2$`, "m"));
  assert.match(out, new RegExp(`^200-PEER ${re(b.address)} 1$`, "m"));
  assert.match(out, new RegExp(`^200-PEER ${re(c.address)} 4$`, "m"));
  assert.match(out, /^200 END 3 peers$/m);

  // LIST: every indexed name with its holder count; LIST text filters.
  mark = c.mark();
  await c.write("LIST\n");
  await c.waitFor(/^200 END \d+ files?$/m, { since: mark });
  out = c.stdout.slice(mark);
  assert.match(out, new RegExp(`^200-FILE ${file1.length} ${sha256(file1)} 2 file1\\.txt$`, "m"));
  assert.match(out, new RegExp(`^200-FILE ${file2.length} ${sha256(file2)} 2 file2\\.md$`, "m"));
  assert.match(out, new RegExp(`^200-FILE ${file3.length} ${sha256(file3)} 2 file3 with space\\.bin$`, "m"));
  assert.match(out, new RegExp(`^200-FILE ${carolOnly.length} ${sha256(carolOnly)} 1 carol-only\\.txt$`, "m"));
  assert.match(out, /^200 END 4 files$/m);
  mark = c.mark();
  await c.write("LIST space\n");
  await c.waitFor(/^200 END \d+ files?$/m, { since: mark });
  out = c.stdout.slice(mark);
  assert.match(out, /^200-FILE \d+ [0-9a-f]{64} 2 file3 with space\.bin$/m);
  assert.match(out, /^200 END 1 files?$/m);

  // QUIT: the peer exits 0 and the tracker forgets its files.
  await c.write("QUIT\n");
  const status = await c.exited();
  assert.equal(status.code, 0, c.stderr);
  await tracker.waitFor(new RegExp(`^${re(c.address)} left; 4 files removed from the index$`, "m"));
  mark = a.mark();
  await a.write("PEERS\n");
  await a.waitFor(/^200 END \d+ peers$/m, { since: mark });
  out = a.stdout.slice(mark);
  assert.match(out, /^200 END 2 peers$/m);
  assert.doesNotMatch(out, new RegExp(re(c.address)));
  const got = await runCli(["get", "--tracker", tracker.address, "--out", tmp.path, "carol-only.txt"]);
  assert.equal(got.code, 1, got.stdoutText + got.stderrText);
  assert.match(got.stdoutText, /^failed carol-only\.txt: 404 /m);
  assertPlain(a.stdout + b.stdout + c.stdout + tracker.stdout, "the roles' output");
});

Deno.test("tracker: prints a line when a peer leaves, and a SIGKILLed peer disappears from PEERS", async () => {
  await using tmp = await tempDir();
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "a.txt": "a\n" });
  const bobDir = await writeFiles(join(tmp.path, "bob"), { "b1.txt": "b1\n", "b2.txt": "b2\n" });
  const carolDir = await writeFiles(join(tmp.path, "carol"), { "c.txt": "c\n" });
  const info = (name: string) => join(tmp.path, `${name}-info.txt`);

  await using tracker = await startCliTracker();
  await using alice = await startCliPeer(tracker.address, { dir: aliceDir, info: info("alice") });
  await using bob = await startCliPeer(tracker.address, { dir: bobDir, info: info("bob") });
  await using carol = await startCliPeer(tracker.address, { dir: carolDir, info: info("carol") });
  const peers = async () => {
    const mark = alice.mark();
    await alice.write("PEERS\n");
    await alice.waitFor(/^200 END \d+ peers$/m, { since: mark });
    return alice.stdout.slice(mark);
  };
  const before = await peers();
  for (const p of [alice, bob, carol]) assert.match(before, new RegExp(`^200-PEER ${re(p.address)} \\d+$`, "m"));
  assert.match(before, /^200 END 3 peers$/m);

  bob.kill("SIGTERM");
  assert.equal((await bob.exited()).code, 0, bob.stderr);
  await tracker.waitFor(new RegExp(`^${re(bob.address)} left; 2 files removed from the index$`, "m"));

  carol.kill("SIGKILL");
  assert.equal((await carol.exited()).signal, "SIGKILL");
  await tracker.waitFor(new RegExp(`^${re(carol.address)} left; 1 files? removed from the index$`, "m"));
  const after = await peers();
  assert.doesNotMatch(after, new RegExp(re(bob.address)));
  assert.doesNotMatch(after, new RegExp(re(carol.address)));
  assert.match(after, new RegExp(`^200-PEER ${re(alice.address)} 1$`, "m"));
  assert.match(after, /^200 END 1 peers?$/m);
});

Deno.test("peer prompt: STATS, SEND --wait gets a file once a peer has it; --json prints JSON results; --no-watch", async () => {
  await using tmp = await tempDir();
  await using tracker = testTracker();
  const have = new TextEncoder().encode("alice has it\n");
  const late = randomBytes(1_200_000, 61);
  await using _alice = await testPeer(tracker.address, { "have.txt": have });
  const aDir = await writeFiles(join(tmp.path, "a"), {});
  const bDir = await writeFiles(join(tmp.path, "b"), {});
  await using a = await startCliPeer(tracker.address, {
    dir: aDir,
    info: join(tmp.path, "a-info.txt"),
    flags: ["--wait-timeout", "60"],
  });
  await using b = await startCliPeer(tracker.address, {
    dir: "b",
    info: join(tmp.path, "b-info.txt"),
    flags: ["--json", "--no-watch"],
    cwd: tmp.path,
  });
  assert.match(a.stdout, /^watching the folder: /m, "watching by default");
  assert.doesNotMatch(b.stdout, /^watching the folder/m, "--no-watch");

  // STATS: the tracker's counters, as it sends them.
  let mark = a.mark();
  await a.write("STATS\n");
  const stats = await a.waitFor(
    /^200 STATS sessions=(\d+) peers=(\d+) files=(\d+) holders=(\d+) partial=\d+ requests=\d+ rps=\S+ reports=\d+ reported-bytes=\d+ waiting=(\d+) uptime=\S+$/m,
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
      `^saved late\\.bin \\(${size(late.length)}\\) from ${re(carol.address)} -> ${re(join(aDir, "late.bin"))}$`,
      "m",
    ),
  );
  await assertSameBytes(join(aDir, "late.bin"), late);
  // The prompt takes commands again, and the file is now shared from here too.
  mark = a.mark();
  await a.write("STATS\n");
  const after = await a.waitFor(/^200 STATS sessions=\d+ peers=\d+ files=(\d+) holders=(\d+) /m, { since: mark });
  assert.deepEqual(after.slice(1).map(Number), [2, 4], "have.txt (alice and b) and late.bin (carol and a)");
  assertPlain(a.stdout + a.stderr + b.stdout + b.stderr, "peer output");
});

Deno.test("peer: --max-upload-rate 2M is accepted, and the peer serves", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  const data = randomBytes(300_000, 62);
  await writeFiles(dir.path, { "f.bin": data });
  await using peer = await startCliPeer(tracker.address, {
    dir: dir.path,
    info: join(dir.path, ".info.txt"),
    flags: ["--max-upload-rate", "2M"],
  });
  assert.match(peer.stdout, /^shared 1 file from /m);
  await using out = await tempDir();
  await using client = await TrackerClient.connect(tracker.address);
  const [outcome] = (await sendAndFetch(client, "f.bin", { outDir: out.path })).outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.equal(outcome.result.from, peer.address);
  await assertSameBytes(join(out.path, "f.bin"), data);
  await peer.waitFor(new RegExp(`^sent f\\.bin \\(${size(data.length)}\\) to `, "m"));
});

Deno.test("peer: with --max-connections 2 it refuses a third connection with 421 while two are open", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  await writeFiles(dir.path, { "f.txt": "f\n" });
  await using peer = await startCliPeer(tracker.address, {
    dir: dir.path,
    info: join(dir.path, ".info.txt"),
    flags: ["--max-connections", "2"],
  });
  // Two connections, each answered (so both are in), then kept open.
  using first = await LineClient.connect(peer.port);
  using second = await LineClient.connect(peer.port);
  for (const client of [first, second]) {
    const [reply] = await client.ask("HASHES nothing-here.bin\n");
    assert.equal(reply.status, 404, reply.text);
  }
  using third = await LineClient.connect(peer.port);
  // Told at once, unasked; a peer that let it in would wait for a request (bounded here by `within`).
  assert.deepEqual(await within("the third connection's refusal", third.reply()), [{
    status: 421,
    more: false,
    text: "too many connections (2)",
  }]);
  assert.ok(await third.closed(), "then closed");
  // The two admitted ones are still served.
  const [again] = await first.ask("HASHES f.txt\n");
  assert.equal(again.status, 200, again.text);

  // Once they close, a new connection is served again.
  first[Symbol.dispose]();
  second[Symbol.dispose]();
  await eventually("a new connection served once the two closed", async () => {
    using client = await LineClient.connect(peer.port);
    try {
      const [reply] = await client.ask("HASHES f.txt\n");
      return reply.status === 200;
    } catch (error) {
      // Still full: 421 and closed, or reset because our request went unread.
      if (error instanceof Deno.errors.ConnectionReset || /closed instead of answering/.test(String(error))) {
        return false;
      }
      throw error;
    }
  });
});

Deno.test("tracker --stats-every 0.05: its stdout gets a stats line, again and again", async () => {
  await using tracker = await startServer("tracker", ["--stats-every", "0.05"]);
  const line =
    /^stats: sessions=\d+ peers=\d+ files=\d+ holders=\d+ partial=\d+ requests=\d+ rps=\S+ reports=\d+ reported-bytes=\d+ waiting=\d+ uptime=\S+$/m;
  await tracker.waitFor(line);
  const first = tracker.stdout.search(line);
  await tracker.waitFor(line, { since: first + 1 });
  assertPlain(tracker.stdout, "tracker stdout");
});
