/**
 * Crowd members that do not play by the rules, and holders from before
 * partial holders, over real loopback sockets: a partial holder that claims
 * every chunk and answers `425` to each is dropped as a liar (`EPROTO`); a
 * holder of 0.13 that knows no `HAVE` still serves a peer's download; a
 * client that asks `HAVE` of a live partial holding and then stops reading
 * an answer is still cut by the idle timeout.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { CHUNK_SIZE } from "../../protocol.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { startFileServer } from "../../peer/file_server.ts";
import { PartialHoldings } from "../../peer/partial_holdings.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { announceRaw, startChunkHolder } from "../helpers/crowd.ts";
import { within } from "../helpers/events.ts";
import { MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

const NAME = "big.bin";
const hangGuard = () => AbortSignal.timeout(20_000);

Deno.test("crowd: a partial holder that claims every chunk and answers 425 to each is dropped as a liar (EPROTO); the file lands", async () => {
  const data = randomBytes(4 * MiB + 5, 41);
  await using tracker = testTracker();
  await using seed = await testPeer(tracker.address, { [NAME]: data });
  await using liar = startChunkHolder({ name: NAME, data, kind: "partial", answer: () => "not-yet" });
  using _listed = await announceRaw(tracker.addr.port, { verb: "PARTIAL", port: liar.port, name: NAME, data });
  await using peer = await testPeer(tracker.address);

  const [outcome] = (await peer.send(NAME, { signal: hangGuard() })).outcomes;

  assert.ok(outcome.ok, JSON.stringify(outcome));
  await assertSameBytes(join(peer.dir, NAME), data);
  const failed = peer.events.of("attempt-failed");
  assert.deepEqual(failed.map((f) => [f.holder, f.code]), [[liar.address, "EPROTO"]]);
  assert.match(failed[0].message, /^said it has chunk \d+, then answered 425 /);
  assert.equal(outcome.result.sources.find((s) => s.holder === seed.address)?.bytes, data.length);
});

Deno.test("crowd: a full holder of 0.13, which answers HAVE as an unknown command and closes, still serves a peer's download", async () => {
  const data = randomBytes(3 * MiB + 1, 42);
  await using tracker = testTracker();
  await using old = startChunkHolder({ name: NAME, data, kind: "full", old: true });
  using _listed = await announceRaw(tracker.addr.port, { verb: "UPDATE", port: old.port, name: NAME, data });
  await using peer = await testPeer(tracker.address); // downloads into its shared folder: a crowd member

  const [outcome] = (await peer.send(NAME, { signal: hangGuard() })).outcomes;

  assert.ok(outcome.ok, JSON.stringify(outcome));
  await assertSameBytes(join(peer.dir, NAME), data);
  assert.deepEqual(peer.events.of("attempt-failed"), [], "an old holder is no failed one");
  assert.ok(old.requests.some((r) => r.startsWith("HAVE ")), "it was asked HAVE, once");
  assert.ok(old.requests.some((r) => r.startsWith("RANGE ")), "then fetched from as before");
});

Deno.test("crowd: a client that asks HAVE of a live partial holding, then stops reading an answer, is cut by the idle timeout", async () => {
  await using dir = await tempDir();
  const whole = randomBytes(8 * MiB, 43); // a whole file to ask for, bigger than any socket buffer
  await writeFiles(dir.path, { "whole.bin": whole });
  const folder = await SharedFolder.open(dir.path);
  await folder.scan();
  // A partial holding of another file, still downloading: it may push at any time.
  const partialData = randomBytes(3 * CHUNK_SIZE, 44);
  const partPath = join(dir.path, ".p2p-test.part");
  await Deno.writeFile(partPath, partialData);
  const holdings = new PartialHoldings();
  const version = { name: NAME, size: partialData.length, sha256: sha256(partialData), root: rootOf(partialData) };
  holdings.start(version, partPath).gained(0, new Uint8Array(3 * 32));
  const aborted = Promise.withResolvers<string>();
  await using server = startFileServer({
    hostname: "127.0.0.1",
    port: 0,
    folder,
    partials: holdings,
    idleTimeoutMs: 300,
    onEvent: (e) => {
      if (e.type === "aborted") aborted.resolve(e.message);
    },
  });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  const ask = new TextEncoder().encode(`HAVE ${NAME}\nRANGE 0 * whole.bin\n`);
  await conn.write(ask);
  // Nothing read: the answer fills the socket's buffers and stalls; only the idle timeout can end it.
  assert.equal(await within("the stalled upload cut", aborted.promise), "idle timeout");
  assert.deepEqual(server.sending(), [], "its upload slot is free");
});
