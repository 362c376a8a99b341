/**
 * `--tracker A,B` run as a user runs the roles (`deno run main.ts …`,
 * output in a pipe): `get` and `cat` skip a dead first tracker, saying so,
 * and use the next; with none answering they name each tracker with its
 * code (`get --json` still one object per name); a peer whose tracker goes
 * away says so, names the one it tries next, and says what it announced
 * there, where another client then finds its file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startCliPeer } from "../helpers/cli.ts";
import { deadAddress } from "../helpers/net.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { re } from "../helpers/assert.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

/** A second address where nothing listens. */
const DEAD_TOO = "127.0.0.1:2";

Deno.test("get and cat: a dead first tracker is skipped with one line naming it and the next; the file comes through the next", async () => {
  await using tracker = testTracker();
  await using holder = await testPeer(tracker.address, { "a.txt": "from a" });
  await using tmp = await tempDir();
  const list = `${deadAddress()}, ${tracker.address}`;
  const [get, cat] = await Promise.all([
    runCli(["get", "--tracker", list, "--out", tmp.path, "a.txt"]),
    runCli(["cat", "--tracker", list, "a.txt"]),
  ]);
  const skipped = `cannot reach the tracker at ${deadAddress()} (connection refused); trying ${tracker.address}\n`;
  assert.equal(get.code, 0, get.stdoutText + get.stderrText);
  assert.equal(get.stdoutText, `${skipped}saved a.txt (6 B) from ${holder.address} -> ${join(tmp.path, "a.txt")}\n`);
  assert.equal(await Deno.readTextFile(join(tmp.path, "a.txt")), "from a");
  assert.equal(cat.code, 0, cat.stderrText);
  assert.equal(cat.stdoutText, "from a");
  assert.equal(cat.stderrText, `${skipped}cat: a.txt (6 B) from ${holder.address}\n`);
});

Deno.test("get and cat: with no tracker answering, the one error names each tracker tried with its code; get --json still answers per name; exit 1", async () => {
  await using tmp = await tempDir();
  const list = `${deadAddress()},${DEAD_TOO}`;
  const [get, json, cat] = await Promise.all([
    runCli(["get", "--tracker", list, "--out", tmp.path, "a.txt"]),
    runCli(["get", "--json", "--tracker", list, "--out", tmp.path, "a.txt"]),
    runCli(["cat", "--tracker", list, "a.txt"]),
  ]);
  const error = `cannot reach any of the 2 trackers (${deadAddress()}: ECONNREFUSED connection refused; ${DEAD_TOO}: ` +
    "ECONNREFUSED connection refused); is one of them running? start one with 'deno task tracker' or point " +
    "--tracker at one";
  const skipped = `cannot reach the tracker at ${deadAddress()} (connection refused); trying ${DEAD_TOO}\n`;
  for (const [role, run] of [["get", get], ["get", json], ["cat", cat]] as const) {
    assert.equal(run.code, 1, run.stdoutText + run.stderrText);
    assert.match(run.stderrText, new RegExp(`${re(`${role}: ${error}`)}\n$`));
  }
  assert.equal(get.stdoutText, skipped, "get says what it tried on standard output, as it says its tries of holders");
  assert.equal(cat.stderrText, `${skipped}cat: ${error}\n`);
  // With --json, standard output carries only the objects: the skipped tracker is told on standard error.
  const objects = json.stdoutText.trimEnd().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(objects.map((o) => [o.name, o.status, o.error]), [["a.txt", "failed", error]]);
  assert.equal(json.stderrText, `${skipped}get: ${error}\n`);
});

Deno.test("peer: its tracker gone, it names the one it tries next and says what it announced there; another client finds its file through it", async () => {
  const first = testTracker();
  await using second = testTracker();
  await using tmp = await tempDir();
  const dir = join(tmp.path, "shared");
  await writeFiles(dir, { "hello.txt": "hello" });
  await using peer = await startCliPeer(`${first.address},${second.address}`, {
    dir,
    info: join(tmp.path, "info.txt"),
    flags: ["--no-watch"],
  });
  const since = peer.mark();
  await first.close();
  await peer.waitFor(
    new RegExp(
      `^lost the tracker at ${re(first.address)} \\(the tracker closed the connection\\); trying ${
        re(second.address)
      }$`,
      "m",
    ),
    { since },
  );
  await peer.waitFor(
    new RegExp(`^now using the tracker at ${re(second.address)}: indexed 1 file as ${re(peer.address)}$`, "m"),
    { since },
  );
  await using client = await TrackerClient.connect(second.address);
  const { lookups: [lookup] } = await client.send(["hello.txt"]);
  assert.deepEqual(lookup.holders.map((h) => h.address), [peer.address]);
});
