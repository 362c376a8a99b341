/**
 * Start order (`Peer.start`), in this process on loopback: a peer started
 * before its tracker starts the same way as one whose tracker goes away
 * later. It serves its folder, hashed, at once; says once that the tracker
 * cannot be reached; every use of the tracker meanwhile fails with the same
 * words; and the first connection that works announces the folder as it is
 * then (a file added meanwhile included). A wrong secret still stops the
 * start: trying again cannot mend it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer } from "../peer.ts";
import { Secret } from "../io/secret.ts";
import { downloadFile } from "../peer/download.ts";
import { assertSameBytes } from "./helpers/assert.ts";
import { eventually } from "./helpers/events.ts";
import { holderOf, MiB } from "./helpers/hashes.ts";
import { unusedPort } from "./helpers/net.ts";
import { randomBytes } from "./helpers/random.ts";
import { testPeer, testTracker } from "./helpers/roles.ts";
import { tempDir } from "./helpers/temp.ts";

Deno.test("peer: started before its tracker it serves its hashed folder at once, says so once, and announces when the tracker comes", async () => {
  const port = unusedPort();
  const address = `127.0.0.1:${port}`;
  const data = randomBytes(2 * MiB + 3, 121);
  await using peer = await testPeer(address, { "big.bin": data, "a.txt": "a" }, {
    reconnect: { minMs: 5, maxMs: 20 },
    watch: { quietMs: 20 },
  });
  assert.deepEqual(peer.events.of("tracker-unreachable"), [
    { type: "tracker-unreachable", tracker: address, message: "connection refused" },
  ]);
  assert.deepEqual(peer.folder.entries().map((e) => e.name), ["a.txt", "big.bin"], "hashed");

  // It serves: a download straight from it works.
  await using out = await tempDir();
  const got = await downloadFile({ name: "big.bin", status: 200, holders: [holderOf(peer.address, data)] }, {
    outDir: out.path,
  });
  await assertSameBytes(got.path, data);

  // Every use of the tracker says the same: which, since when, why, and that uploads go on.
  const words = new RegExp(
    `^the tracker at ${address.replaceAll(".", "\\.")} is unreachable since \\d\\d:\\d\\d:\\d\\d ` +
      "\\(connection refused\\); still trying in the background, uploads go on; try again once a line says it is back$",
  );
  const fromSend = await peer.send("a.txt").then(() => assert.fail("SEND without a tracker"), (e: Error) => e);
  assert.match(fromSend.message, words);
  assert.throws(() => peer.tracker, (e: Error) => e.message === fromSend.message);
  await assert.rejects(peer.announce(), (e: Error) => e.message === fromSend.message);

  // A file added meanwhile is noticed, and nothing is lost for want of a tracker.
  await Deno.writeTextFile(join(peer.dir, "late.txt"), "late");
  await eventually("late.txt noticed", () => peer.folder.entry("late.txt") !== undefined);

  // The tracker comes: the next try reaches it and announces the folder as it is now.
  await using tracker = testTracker({ port });
  const back = await peer.events.next("tracker-back");
  assert.equal(back.again, false, "reached for the first time");
  assert.ok(back.attempts >= 1);
  assert.deepEqual((await tracker.store.holders("late.txt", 5)).map((h) => h.address), [peer.address]);
  assert.deepEqual(await tracker.store.counts(), { peers: 1, names: 3, entries: 3, partial: 0 });
  assert.equal(peer.events.of("tracker-unreachable").length, 1, "said once");
  assert.deepEqual(peer.events.of("tracker-retry"), [], "nothing more to say within a minute");
  // And it works as any peer: SEND goes through the tracker now.
  const report = await peer.send("a.txt");
  assert.ok(report.outcomes[0].ok && report.outcomes[0].result.from === "here", JSON.stringify(report.outcomes));
});

Deno.test("peer: a tracker that refuses our secret still stops the start, naming it; the port is free again", async () => {
  await using tracker = testTracker({ secret: await Secret.from("the right one") });
  await using dir = await tempDir();
  const port = unusedPort();
  await assert.rejects(
    Peer.start({
      tracker: tracker.address,
      hostname: "127.0.0.1",
      port,
      dir: dir.path,
      secret: await Secret.from("a wrong one"),
    }),
    new RegExp(`the tracker at ${tracker.address.replaceAll(".", "\\.")} refused us: the server refused our secret`),
  );
  Deno.listen({ hostname: "127.0.0.1", port }).close(); // nothing of the peer still listens
});
