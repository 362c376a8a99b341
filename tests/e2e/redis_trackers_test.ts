/**
 * Trackers on one real `redis-server`, run as a user runs them
 * (`main.ts tracker --store redis://…`), with peers spread over them: the
 * startup line names the store; a file shared through one tracker is
 * fetched through another (trackers started more than a lease apart
 * included); a tracker killed with SIGKILL (no clean-up) —
 * its peer that knows a second tracker moves there and stays findable, its
 * peer that knows no other disappears once the lease runs out. Skipped,
 * saying so, where `redis-server` is missing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { eventually } from "../helpers/events.ts";
import { LineClient } from "../helpers/net.ts";
import { redisSkipReason, redisTestName, startRedis } from "../helpers/redis.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

const CLIENT = { client: true };

/** The addresses of the holders of `name`, as the tracker on `port` answers `SEND`. */
async function holdersAt(port: number, name: string): Promise<string[]> {
  using client = await LineClient.connect(port);
  const reply = await client.ask(`SEND ${name}\n`);
  return reply.filter((l) => l.status === 200 && l.more).map((l) => l.text.split(" ")[1]).sort();
}

Deno.test({
  name: redisTestName(
    "trackers on one Redis: a SIGKILLed tracker's peer moves to the next; one with no other fades after the lease",
    CLIENT,
  ),
  ignore: redisSkipReason(CLIENT) !== undefined,
  async fn() {
    await using redis = await startRedis();
    await using tmp = await tempDir();
    const flags = ["--store", redis.url, "--lease", "1"];
    await using a = await startCliTracker(flags);
    // More than a lease apart: their leases must be read alike by processes that started at different times.
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    await using b = await startCliTracker(flags);
    await a.waitFor(/^index: shared in redis:\/\/127\.0\.0\.1:\d+ as tracker \d+; .* at most 1 s \(--lease\)$/m);
    const [movable, stranded] = [join(tmp.path, "movable"), join(tmp.path, "stranded")];
    await writeFiles(movable, { "both.txt": "from the movable peer" });
    await writeFiles(stranded, { "stranded.txt": "from the stranded peer" });
    await using p1 = await startCliPeer(`${a.address},${b.address}`, {
      dir: movable,
      info: join(tmp.path, "info1.txt"),
      stdin: "closed",
    });
    await using p2 = await startCliPeer(a.address, {
      dir: stranded,
      info: join(tmp.path, "info2.txt"),
      stdin: "closed",
    });
    await writeFiles(join(tmp.path, "third"), { "third.txt": "from the third peer" });
    await using p3 = await startCliPeer(b.address, {
      dir: join(tmp.path, "third"),
      info: join(tmp.path, "info3.txt"),
      stdin: "closed",
    });
    // Announced through one, found through the other.
    assert.deepEqual(await holdersAt(a.port, "third.txt"), [p3.address]);
    assert.deepEqual(await holdersAt(b.port, "both.txt"), [p1.address]);
    assert.deepEqual(await holdersAt(b.port, "stranded.txt"), [p2.address]);
    const out = join(tmp.path, "out");
    await Deno.mkdir(join(out, "2"), { recursive: true });
    const got = await runCli(["get", "--tracker", b.address, "--out", out, "both.txt"]);
    assert.equal(got.code, 0, got.stdoutText + got.stderrText);
    assert.equal(await Deno.readTextFile(join(out, "both.txt")), "from the movable peer");

    a.kill("SIGKILL"); // no clean-up: its entries stay in Redis until their lease runs out
    await a.exited();
    await p1.waitFor(new RegExp(`now using the tracker at ${b.address.replaceAll(".", "\\.")}`));
    await eventually(
      "the stranded peer's entry is no longer offered",
      async () => (await holdersAt(b.port, "stranded.txt")).length === 0,
      { timeoutMs: 10_000 },
    );
    assert.deepEqual(await holdersAt(b.port, "both.txt"), [p1.address], "the movable peer stays findable");
    const again = await runCli(["get", "--tracker", `${a.address},${b.address}`, "--out", join(out, "2"), "both.txt"]);
    assert.equal(again.code, 0, again.stdoutText + again.stderrText);
    assert.match(again.stdoutText, /cannot reach the tracker at .*; trying /);
  },
});
