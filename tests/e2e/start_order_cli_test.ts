/**
 * How a peer process starts, as a user starts it: before its tracker it
 * serves anyway, says so once, gives every command that needs the tracker
 * the same error, and announces when the tracker comes; its first lines say
 * who can download what it shares; a `--dir` that does not exist is created
 * (and one that cannot be is named, with the flag); an address it cannot
 * listen on is named, with what to do, by the peer and by the tracker.
 * `get` stays fail-fast.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { re } from "../helpers/assert.ts";
import { CliServer, runCli, spawnCli, startCliPeer } from "../helpers/cli.ts";
import { unusedPort } from "../helpers/net.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

Deno.test("peer: started before its tracker it serves, says so once, gives PEERS and SEND the same error, and announces when the tracker comes", async () => {
  await using tmp = await tempDir();
  const dir = await writeFiles(join(tmp.path, "files"), { "a.txt": "a\n", "b.txt": "b\n" });
  const trackerPort = unusedPort();
  const tracker = `127.0.0.1:${trackerPort}`;
  await using peer = await startCliPeer(tracker, { dir, info: join(tmp.path, "info.txt") });
  const cannot = new RegExp(
    `^cannot reach the tracker at ${re(tracker)} \\(connection refused\\); serving anyway, and trying again in the ` +
      "background \\(a line at 1, 5 and 15 min, then hourly, while it is away\\)$",
    "gm",
  );
  assert.equal(peer.stdout.match(cannot)?.length, 1, peer.stdout);

  // Two commands that need the tracker: one error, in the same words.
  let mark = peer.mark();
  await peer.write("PEERS\nSEND a.txt\n");
  await peer.waitFor(/^error: [^\n]*\n(.*\n)*error: [^\n]*$/m, { since: mark });
  const errors = peer.stdout.slice(mark).match(/^error: .*$/gm) ?? [];
  assert.equal(errors.length, 2, peer.stdout.slice(mark));
  assert.equal(errors[0], errors[1], "PEERS and SEND say the same");
  assert.match(
    errors[0],
    new RegExp(
      `^error: the tracker at ${re(tracker)} is unreachable since \\d\\d:\\d\\d:\\d\\d \\(connection refused\\); ` +
        "still trying in the background, uploads go on; try again once a line says it is back$",
    ),
  );

  // The tracker comes: the peer says so once, announcing its folder, and PEERS works.
  await using trackerProcess = await new CliServer(["tracker", "--host", "127.0.0.1", "--port", `${trackerPort}`])
    .listening();
  const back = await peer.waitFor(/^reached the tracker at .*$/m);
  assert.match(
    back[0],
    new RegExp(`^reached the tracker at ${re(tracker)} after \\S+ s \\(\\d+ tr(?:y|ies)\\): indexed 2 `),
  );
  await trackerProcess.waitFor(new RegExp(`^${re(peer.address)} announced 2 files$`, "m"));
  mark = peer.mark();
  await peer.write("PEERS\n");
  await peer.waitFor(new RegExp(`^200-PEER ${re(peer.address)} 2$`, "m"), { since: mark });
  assert.doesNotMatch(peer.stdout, /still unreachable/, "nothing more was said while it was away");
});

Deno.test("get: with no tracker it still fails at once, naming the tracker", async () => {
  await using tmp = await tempDir();
  const tracker = `127.0.0.1:${unusedPort()}`;
  const result = await runCli(["get", "--tracker", tracker, "--out", tmp.path, "a.txt"]);
  assert.equal(result.code, 1, result.stdoutText + result.stderrText);
  assert.match(result.stderrText, new RegExp(`^get: cannot reach the tracker at ${re(tracker)}\\b`, "m"));
});

Deno.test("peer: its first lines say who can download what it shares: anyone who reaches the machine, only this machine, or only with the secret", async () => {
  await using tmp = await tempDir();
  const dir = await writeFiles(join(tmp.path, "files"), { "a.txt": "a\n" });
  const real = await Deno.realPath(dir);
  const tracker = `127.0.0.1:${unusedPort()}`; // away: a peer starts all the same
  const firstLines = async (host: string, more: string[] = []) => {
    const args = ["peer", "--host", host, "--port", "0", "--tracker", tracker, "--dir", dir, "--no-watch", ...more];
    await using peer = spawnCli([...args, "--info", join(tmp.path, "info.txt")]);
    await peer.waitFor(/^shared \d+ files? from /m);
    return peer.stdout.split("\n").slice(0, 2);
  };

  const [listening, everyone] = await firstLines("0.0.0.0");
  const port = /^listening on 0\.0\.0\.0:(\d+)$/.exec(listening)?.[1];
  assert.ok(port, listening);
  assert.equal(
    everyone,
    `anyone who can reach this machine on port ${port} can download the files in ${real}; ` +
      "--host 127.0.0.1 keeps them to this machine",
  );
  assert.equal((await firstLines("127.0.0.1"))[1], `only this machine can download the files in ${real}`);
  const [listeningToo, withSecret] = await firstLines("0.0.0.0", ["--secret", "s3cret"]);
  const portToo = /^listening on 0\.0\.0\.0:(\d+)$/.exec(listeningToo)?.[1];
  assert.equal(
    withSecret,
    `anyone who can reach this machine on port ${portToo} and knows the secret can download the files in ${real}`,
  );
});

Deno.test("peer: a --dir that does not exist is created, empty, and said so; one that cannot be is named with --dir", async () => {
  await using tmp = await tempDir();
  const tracker = `127.0.0.1:${unusedPort()}`;
  const mine = join(tmp.path, "mine", "deeper");
  {
    await using peer = await startCliPeer(tracker, { dir: mine, info: join(tmp.path, "info.txt") });
    const lines = peer.stdout.split("\n");
    assert.match(lines[0], /^listening on /);
    assert.equal(lines[1], `created the shared folder ${mine} (empty)`);
    assert.match(peer.stdout, new RegExp(`^shared 0 files from ${re(mine)}$`, "m"));
    assert.ok((await Deno.stat(mine)).isDirectory);
  }
  // Once there, it is just the shared folder.
  {
    await using peer = await startCliPeer(tracker, { dir: mine, info: join(tmp.path, "info.txt") });
    assert.doesNotMatch(peer.stdout, /created/);
  }

  const file = join(tmp.path, "a-file");
  await Deno.writeTextFile(file, "not a folder");
  const run = (dir: string) =>
    runCli(["peer", "--host", "127.0.0.1", "--port", "0", "--tracker", tracker, "--dir", dir, "--no-watch"]);
  const onFile = await run(file);
  assert.equal(onFile.code, 1, onFile.stdoutText + onFile.stderrText);
  assert.match(
    onFile.stderrText,
    new RegExp(`^peer: shared folder ${re(file)} is not a folder; choose a folder with --dir$`, "m"),
  );
  const under = join(file, "sub");
  const underFile = await run(under);
  assert.equal(underFile.code, 1, underFile.stdoutText + underFile.stderrText);
  assert.match(
    underFile.stderrText,
    new RegExp(`^peer: cannot create the shared folder ${re(under)}: .*; choose another --dir$`, "m"),
  );
});

Deno.test("peer and tracker: an address they cannot listen on is named, with what to do", async () => {
  await using tmp = await tempDir();
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const address = `127.0.0.1:${taken.addr.port}`;
  const inUse =
    `cannot listen on ${address}: the address is in use (another peer or tracker?); choose another with --port`;
  const peerArgs = ["--tracker", `127.0.0.1:${unusedPort()}`, "--dir", tmp.path, "--no-watch"];
  for (const role of ["tracker", "peer"]) {
    const flags = ["--host", "127.0.0.1", "--port", `${taken.addr.port}`, ...role === "peer" ? peerArgs : []];
    const result = await runCli([role, ...flags]);
    assert.equal(result.code, 1, result.stdoutText + result.stderrText);
    assert.equal(result.stderrText, `${role}: ${inUse}\n`);
    assert.equal(result.stdoutText, "", "no listening line");
  }
  // A folder the peer would have made for itself is not left behind when it cannot listen.
  const fresh = join(tmp.path, "never", "made"); // two folders it would make
  const tracker = ["--tracker", `127.0.0.1:${unusedPort()}`, "--no-watch"];
  const failed = await runCli([
    "peer",
    "--host",
    "127.0.0.1",
    "--port",
    `${taken.addr.port}`,
    ...tracker,
    "--dir",
    fresh,
  ]);
  assert.equal(failed.code, 1, failed.stdoutText + failed.stderrText);
  assert.equal(await Deno.stat(join(tmp.path, "never")).then(() => "there", () => "gone"), "gone");
  assert.match(
    failed.stdoutText,
    new RegExp(`^removed the shared folder ${re(fresh)} again, as the peer did not start$`, "m"),
  );
  // An address of another machine (TEST-NET-1, never this one).
  const elsewhere = await runCli(["tracker", "--host", "192.0.2.1", "--port", "0"]);
  assert.equal(elsewhere.code, 1);
  assert.equal(
    elsewhere.stderrText,
    "tracker: cannot listen on 192.0.2.1:0: 192.0.2.1 is not an address of this machine; check --host\n",
  );
});
