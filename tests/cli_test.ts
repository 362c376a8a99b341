/**
 * End-to-end tests of the command line: every role run as a user runs it,
 * as a separate `deno run main.ts …` process, over real loopback sockets,
 * with folders in a temporary directory.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { hashToken } from "./helpers.ts";
import {
  makeTempDir,
  randomBytes,
  runCli,
  sha256,
  startPeer,
  startTracker,
  unusedPort,
  writeFiles,
} from "./cli_helpers.ts";

/** Escapes `text` for use inside a regular expression. */
function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** The names in `dir`, sorted. */
async function listDir(dir: string): Promise<string[]> {
  const names: string[] = [];
  for await (const entry of Deno.readDir(dir)) names.push(entry.name);
  return names.sort();
}

/** Asserts that `path` holds exactly `expected`, comparing SHA-256 first for a short message. */
async function assertSameBytes(path: string, expected: Uint8Array): Promise<void> {
  const actual = await Deno.readFile(path);
  assert.equal(actual.length, expected.length, `${path}: size`);
  assert.equal(sha256(actual), sha256(expected), `${path}: sha256`);
  assert.deepEqual(actual, expected);
}

Deno.test("cli: a peer fed commands on stdin downloads with SEND, lists with PEERS and LIST, and leaves on QUIT", async () => {
  await using tmp = await makeTempDir();
  const file1 = new TextEncoder().encode("the first file\n");
  const file2 = new TextEncoder().encode("# notes\n\nsecond file, fetched by a second SEND\n");
  const file3 = randomBytes(1_572_867); // more than one 1 MiB chunk, not a multiple of it
  const carolOnly = new TextEncoder().encode("only carol has this\n");
  const alice = await writeFiles(join(tmp.path, "alice"), { "file1.txt": file1, "file2.md": file2 });
  const bob = await writeFiles(join(tmp.path, "bob"), { "file3 with space.bin": file3 });
  const carol = await writeFiles(join(tmp.path, "carol"), { "carol-only.txt": carolOnly });
  const info = (name: string) => join(tmp.path, `${name}-info.txt`);

  await using tracker = await startTracker();
  await using a = await startPeer(tracker.address, { dir: alice, info: info("alice") });
  await using b = await startPeer(tracker.address, { dir: bob, info: info("bob") });
  await using c = await startPeer(tracker.address, { dir: carol, info: info("carol") });
  await tracker.waitFor(new RegExp(`^${re(c.address)} announced 1 files$`, "m"));
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
      `^saved file1\\.txt \\(${file1.length} bytes\\) from ${re(a.address)} -> ${re(join(carol, "file1.txt"))}$`,
      "m",
    ),
  );
  assert.match(
    out,
    new RegExp(
      `^saved file3 with space\\.bin \\(${file3.length} bytes\\) from ${re(b.address)} -> ${
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
  await a.waitFor(/^sent file1\.txt \(\d+ bytes\) to /m);
  await b.waitFor(/^sent file3 with space\.bin \(\d+ bytes\) to /m);

  // A second SEND on the same process, over the same tracker connection.
  mark = c.mark();
  await c.write("SEND file2.md\n");
  await c.waitFor(/^(saved|failed) file2\.md.*$/m, { since: mark });
  assert.match(
    c.stdout.slice(mark),
    new RegExp(`^saved file2\\.md \\(${file2.length} bytes\\) from ${re(a.address)} `, "m"),
  );
  await assertSameBytes(join(carol, "file2.md"), file2);
  assert.equal(
    await Deno.readTextFile(info("carol")),
    `200-HOLDER ${a.address} ${file2.length} ${sha256(file2)} file2.md\n200 END 1 found, 0 not found\n`,
  );
  await tracker.waitFor(new RegExp(`^${re(c.address)} added 1 files \\(4 in all\\)$`, "m"));
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
  await c.waitFor(/^200 END \d+ files$/m, { since: mark });
  out = c.stdout.slice(mark);
  assert.match(out, new RegExp(`^200-FILE ${file1.length} ${sha256(file1)} 2 file1\\.txt$`, "m"));
  assert.match(out, new RegExp(`^200-FILE ${file2.length} ${sha256(file2)} 2 file2\\.md$`, "m"));
  assert.match(out, new RegExp(`^200-FILE ${file3.length} ${sha256(file3)} 2 file3 with space\\.bin$`, "m"));
  assert.match(out, new RegExp(`^200-FILE ${carolOnly.length} ${sha256(carolOnly)} 1 carol-only\\.txt$`, "m"));
  assert.match(out, /^200 END 4 files$/m);
  mark = c.mark();
  await c.write("LIST space\n");
  await c.waitFor(/^200 END \d+ files$/m, { since: mark });
  out = c.stdout.slice(mark);
  assert.match(out, /^200-FILE \d+ [0-9a-f]{64} 2 file3 with space\.bin$/m);
  assert.match(out, /^200 END 1 files$/m);

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
});

Deno.test("cli: a peer whose stdin ends keeps serving until SIGTERM, then exits 0", async () => {
  await using tmp = await makeTempDir();
  const shared = randomBytes(300_001);
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "shared.bin": shared });
  const bobDir = await writeFiles(join(tmp.path, "bob"), {});

  await using tracker = await startTracker();
  await using alice = await startPeer(tracker.address, {
    dir: aliceDir,
    info: join(tmp.path, "alice-info.txt"),
    stdin: "closed",
  });
  await using bob = await startPeer(tracker.address, { dir: bobDir, info: join(tmp.path, "bob-info.txt") });
  await bob.write("SEND shared.bin\n");
  await bob.waitFor(/^(saved|failed) shared\.bin.*$/m);
  assert.match(
    bob.stdout,
    new RegExp(`^saved shared\\.bin \\(${shared.length} bytes\\) from ${re(alice.address)} `, "m"),
  );
  await assertSameBytes(join(bobDir, "shared.bin"), shared);
  await alice.waitFor(/^sent shared\.bin \(300001 bytes\) to /m);
  assert.ok(alice.running, "the peer is still running after its stdin ended");
  assert.doesNotMatch(alice.stdout, /^> /m, "no prompt when stdin is not a terminal");

  alice.kill("SIGTERM");
  const status = await alice.exited();
  assert.equal(status.code, 0, alice.stderr);
  await tracker.waitFor(new RegExp(`^${re(alice.address)} left; 1 files removed from the index$`, "m"));
});

Deno.test("cli: get exits 0 when every file arrives, 1 when any is missing, 2 on usage errors, and respects --out", async () => {
  await using tmp = await makeTempDir();
  const files = {
    "file1.txt": new TextEncoder().encode("plain\n"),
    "name with space.txt": new TextEncoder().encode("spaces in the name\n"),
    "a, b.csv": new TextEncoder().encode("a,b\n1,2\n"),
    "bin.dat": randomBytes(1_048_577),
  };
  const aliceDir = await writeFiles(join(tmp.path, "alice"), files);
  const cwd = await writeFiles(join(tmp.path, "cwd"), {});
  const out1 = await writeFiles(join(tmp.path, "out1"), {});
  const out2 = await writeFiles(join(tmp.path, "out2"), {});
  const getInfo = join(tmp.path, "get-info.txt");

  await using tracker = await startTracker();
  await using alice = await startPeer(tracker.address, { dir: aliceDir, info: join(tmp.path, "alice-info.txt") });
  const t = ["--tracker", tracker.address];
  const [allThere, oneMissing, noNames, unknownFlag, badPort, hugePort] = await Promise.all([
    runCli(["get", ...t, "--out", out1, "--info", getInfo, "name with space.txt", "a, b.csv", "bin.dat"], { cwd }),
    runCli(["get", ...t, "--out", out2, "file1.txt", "missing.txt"], { cwd }),
    runCli(["get", ...t, "--out", out1], { cwd }),
    runCli(["get", ...t, "--bogus", "file1.txt"], { cwd }),
    runCli(["get", ...t, "--port", "abc", "file1.txt"], { cwd }),
    runCli(["get", ...t, "--port", "65536", "file1.txt"], { cwd }),
  ]);

  assert.equal(allThere.code, 0, allThere.stdoutText + allThere.stderrText);
  for (const name of ["name with space.txt", "a, b.csv", "bin.dat"] as const) {
    assert.match(
      allThere.stdoutText,
      new RegExp(`^saved ${re(name)} \\(\\d+ bytes\\) from ${re(alice.address)} `, "m"),
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

  for (
    const [result, message] of [
      [noNames, /get needs at least one file name/],
      [unknownFlag, /bogus/],
      [badPort, /--port must be 0-65535, got abc/],
      [hugePort, /--port must be 0-65535, got 65536/],
    ] as const
  ) {
    assert.equal(result.code, 2, result.stdoutText + result.stderrText);
    assert.match(result.stderrText, message);
    assert.match(result.stderrText, /usage: get /);
  }
});

Deno.test("cli: cat prints a binary file byte for byte, and exits 1 naming a file no peer has", async () => {
  await using tmp = await makeTempDir();
  const blob = randomBytes(1_100_003);
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "blob.bin": blob });

  await using tracker = await startTracker();
  await using alice = await startPeer(tracker.address, { dir: aliceDir, info: join(tmp.path, "alice-info.txt") });
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
    new RegExp(`^cat: blob\\.bin \\(${blob.length} bytes\\) from ${re(alice.address)}$`, "m"),
  );

  assert.equal(missing.code, 1, missing.stderrText);
  assert.equal(missing.stdout.length, 0, "nothing on stdout");
  assert.match(missing.stderrText, new RegExp(`^attempt nope\\.bin from ${re(alice.address)} failed: 404 `, "m"));
  assert.match(missing.stderrText, /^cat: nope\.bin: none of 1 active peers has it$/m);

  assert.equal(twoNames.code, 2, twoNames.stderrText);
  assert.match(twoNames.stderrText, /cat needs exactly one file name/);
});

Deno.test("cli: --help on every role exits 0 with its usage; an unknown role exits 2", async () => {
  const roles = ["tracker", "peer", "get", "cat", "demo"];
  const [main, noRole, unknown, ...helps] = await Promise.all([
    runCli(["--help"]),
    runCli([]),
    runCli(["fly", "--help"]),
    ...roles.map((role) => runCli([role, "--help"])),
    runCli(["peer", "-h"]),
  ]);
  assert.equal(main.code, 0, main.stderrText);
  assert.match(main.stdoutText, /^usage: main\.ts <role> \[flags\]/m);
  for (const role of roles) assert.match(main.stdoutText, new RegExp(`^  ${role} `, "m"));
  assert.equal(noRole.code, 2);
  assert.match(noRole.stdoutText, /^usage: main\.ts <role>/m);
  assert.equal(unknown.code, 2);
  assert.match(unknown.stderrText, /^unknown role "fly"$/m);
  assert.match(unknown.stderrText, /^usage: main\.ts <role>/m);
  for (const [i, role] of [...roles, "peer"].entries()) {
    const help = helps[i];
    assert.equal(help.code, 0, `${role} --help: ${help.stderrText}`);
    assert.match(help.stdoutText, new RegExp(`^usage: ${role}\\b`), `${role} --help`);
    assert.doesNotMatch(help.stdoutText, /^listening on/m, `${role} --help starts nothing`);
  }
});

Deno.test("cli: the tracker prints a line when a peer leaves, and a SIGKILLed peer disappears from PEERS", async () => {
  await using tmp = await makeTempDir();
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "a.txt": "a\n" });
  const bobDir = await writeFiles(join(tmp.path, "bob"), { "b1.txt": "b1\n", "b2.txt": "b2\n" });
  const carolDir = await writeFiles(join(tmp.path, "carol"), { "c.txt": "c\n" });
  const info = (name: string) => join(tmp.path, `${name}-info.txt`);

  await using tracker = await startTracker();
  await using alice = await startPeer(tracker.address, { dir: aliceDir, info: info("alice") });
  await using bob = await startPeer(tracker.address, { dir: bobDir, info: info("bob") });
  await using carol = await startPeer(tracker.address, { dir: carolDir, info: info("carol") });
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
  await tracker.waitFor(new RegExp(`^${re(carol.address)} left; 1 files removed from the index$`, "m"));
  const after = await peers();
  assert.doesNotMatch(after, new RegExp(re(bob.address)));
  assert.doesNotMatch(after, new RegExp(re(carol.address)));
  assert.match(after, new RegExp(`^200-PEER ${re(alice.address)} 1$`, "m"));
  assert.match(after, /^200 END 1 peers$/m);
});

Deno.test("cli: a peer pointed at a tracker port where nothing listens exits 1 naming the tracker", async () => {
  await using tmp = await makeTempDir();
  const dir = await writeFiles(join(tmp.path, "alice"), { "a.txt": "a\n" });
  const tracker = `127.0.0.1:${unusedPort()}`;
  const result = await runCli([
    "peer",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--tracker",
    tracker,
    "--dir",
    dir,
    "--info",
    join(tmp.path, "info.txt"),
  ]);
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  assert.match(result.stderrText, new RegExp(`^peer: cannot reach the tracker at ${re(tracker)}: `, "m"));
  assert.doesNotMatch(result.stdoutText, /^shared /m);
});

Deno.test("cli: demo runs to completion, exits 0 and prints demo done", async () => {
  const demo = await runCli(["demo"]);
  assert.equal(demo.code, 0, demo.stdoutText + demo.stderrText);
  assert.match(demo.stdoutText, /^\[carol\] saved random 8MiB\.bin \(8388608 bytes\) from /m);
  // The watched folder and the wait: a file dropped into bob's folder reaches dave, who was waiting for it.
  assert.match(demo.stdoutText, /^\[bob\] now sharing news\.txt \(46 bytes\)/m);
  assert.match(demo.stdoutText, /^\[dave\] saved news\.txt \(46 bytes\) from /m);
  assert.match(demo.stdoutText, /^demo done/m);
});
