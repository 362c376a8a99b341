/**
 * The peer role with `--secret` (`PeerOptions.secret`), against trackers
 * with the same secret, on loopback: peers that share it find and fetch
 * files, from two holders at once; the bytes between two peers, and between
 * a peer and its tracker, are encrypted on the wire (a relay in the middle
 * records every byte, and neither the file's bytes, nor its name, nor the
 * secret are ever in them); a wrong secret is refused by the tracker and by
 * a holder; a plain `GET` to a holder with a secret gets `530`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer } from "../peer.ts";
import { DownloadError, isDisconnect } from "../io/errors.ts";
import { closeQuietly } from "../io/link.ts";
import { Secret } from "../io/secret.ts";
import { writeAll } from "../io/streams.ts";
import { downloadFile } from "../peer/download.ts";
import { requestFile } from "../peer/request_file.ts";
import { TrackerClient } from "../peer/tracker_client.ts";
import { assertSameBytes } from "./helpers/assert.ts";
import { containsBytes } from "./helpers/bytes.ts";
import { holderOf, MiB } from "./helpers/hashes.ts";
import { LineClient } from "./helpers/net.ts";
import { randomBytes } from "./helpers/random.ts";
import { testPeer, testTracker } from "./helpers/roles.ts";
import { tempDir } from "./helpers/temp.ts";

const SECRET = "correct horse battery staple";
const secret = await Secret.from(SECRET);
const wrong = await Secret.from("not the secret");

/**
 * A TCP relay on 127.0.0.1 to `port`, as a machine in the middle would be:
 * it forwards every byte both ways and keeps a copy of each.
 */
function recordingRelay(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const recorded: Uint8Array[] = [];
  const conns = new Set<Deno.Conn>();
  const pumps: Promise<void>[] = [];
  const pump = async (from: Deno.Conn, to: Deno.Conn) => {
    const buffer = new Uint8Array(64 * 1024);
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        recorded.push(buffer.slice(0, n));
        await writeAll(to, buffer.subarray(0, n));
      }
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    } finally {
      closeQuietly(from);
      closeQuietly(to);
    }
  };
  const accepting = (async () => {
    for await (const client of listener) {
      conns.add(client);
      const server = await Deno.connect({ hostname: "127.0.0.1", port }).catch(() => undefined);
      if (!server) {
        closeQuietly(client);
        continue;
      }
      conns.add(server);
      pumps.push(pump(client, server), pump(server, client));
    }
  })().catch((error) => {
    if (!isDisconnect(error)) throw error;
  });
  return {
    address: `127.0.0.1:${listener.addr.port}`,
    port: listener.addr.port,
    /** Every byte that went through, both ways, in one array. */
    bytes: async () => new Uint8Array(await new Blob(recorded as BlobPart[]).arrayBuffer()),
    [Symbol.asyncDispose]: async () => {
      closeQuietly(listener);
      await accepting;
      for (const conn of conns) closeQuietly(conn);
      await Promise.all(pumps);
    },
  };
}

const encode = (text: string) => new TextEncoder().encode(text);

Deno.test("peer: peers that share the secret find and fetch files, from two holders at once", async () => {
  await using tracker = testTracker({ secret });
  const data = randomBytes(3 * MiB + 17, 101);
  await using a = await testPeer(tracker.address, { "s.bin": data }, { secret });
  await using b = await testPeer(tracker.address, { "s.bin": data }, { secret });
  await using c = await testPeer(tracker.address, {}, { secret });
  const report = await c.send("s.bin");
  const [outcome] = report.outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.deepEqual(
    outcome.result.sources.filter((s) => s.bytes > 0).map((s) => s.holder).sort(),
    [a.address, b.address].sort(),
  );
  await assertSameBytes(join(c.dir, "s.bin"), data);
});

Deno.test("peer: with a secret, the bytes between two peers and to the tracker are encrypted; the secret is never sent", async () => {
  const data = randomBytes(2 * MiB + 33, 102);
  const name = "confidential-report.bin";
  // The holder is known to its own tracker; the downloader's tracker lists the holder at a relay's address.
  await using holderTracker = testTracker({ secret });
  await using holder = await testPeer(holderTracker.address, { [name]: data }, { secret });
  await using toHolder = recordingRelay(holder.addr.port);
  await using tracker = testTracker({ secret });
  await using toTracker = recordingRelay(tracker.addr.port);
  // Its announcement lasts as long as its session.
  await using lister = await TrackerClient.connect(tracker.address, { secret });
  const { address: _, ...version } = holderOf("", data);
  await lister.update(toHolder.port, [{ name, ...version }]);
  await using downloader = await testPeer(toTracker.address, {}, { secret });
  const report = await downloader.send(name);
  const [outcome] = report.outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.deepEqual(outcome.result.sources.map((s) => [s.holder, s.bytes]), [[toHolder.address, data.length]]);
  await assertSameBytes(join(downloader.dir, name), data);

  const peerBytes = await toHolder.bytes();
  const trackerBytes = await toTracker.bytes();
  assert.ok(peerBytes.length > data.length, `the relay carried the file: ${peerBytes.length} bytes`);
  for (const at of [0, 1000, MiB - 10, MiB + 12_345, data.length - 40]) {
    assert.ok(!containsBytes(peerBytes, data.subarray(at, at + 32)), `the file's bytes at ${at} are on the wire`);
  }
  assert.ok(!containsBytes(peerBytes, encode(name)), "the file's name is on the wire between the peers");
  assert.ok(!containsBytes(trackerBytes, encode(name)), "the file's name is on the wire to the tracker");
  for (const [what, wire] of [["the peers", peerBytes], ["the tracker", trackerBytes]] as const) {
    assert.ok(!containsBytes(wire, encode(SECRET)), `the secret is on the wire to ${what}`);
    assert.ok(!containsBytes(wire, encode("correct horse")), `part of the secret is on the wire to ${what}`);
  }
  // Only the handshake's lines are in the clear.
  assert.ok(containsBytes(peerBytes, encode("AUTH ")) && containsBytes(trackerBytes, encode("AUTH ")));
});

Deno.test("peer: a wrong secret is refused clearly, by the tracker and by a holder", async () => {
  await using tracker = testTracker({ secret });
  await assert.rejects(
    () => TrackerClient.connect(tracker.address, { timeoutMs: 5_000, secret: wrong }),
    /refused us: the server refused our secret \(wrong --secret on one side\)/,
  );
  // Without a secret the connection opens; its first request is refused, and it is closed.
  await using plain = await TrackerClient.connect(tracker.address, { timeoutMs: 5_000 });
  await assert.rejects(() => plain.send(["x"]), /needs the shared secret \(--secret\)/);
  assert.equal(await plain.closed, "the tracker closed the connection");
  // A peer with the wrong secret does not start, and says why.
  await using dir = await tempDir();
  await assert.rejects(
    () => Peer.start({ tracker: tracker.address, hostname: "127.0.0.1", port: 0, dir: dir.path, secret: wrong }),
    /refused us/,
  );
  // And a peer with a secret facing a tracker without one is told so.
  await using open = testTracker();
  await assert.rejects(
    () => TrackerClient.connect(open.address, { timeoutMs: 5_000, secret }),
    /runs without a secret/,
  );

  // A holder with the secret refuses a downloader with another one: nothing is sent.
  const data = randomBytes(5000, 103);
  await using holder = await testPeer(tracker.address, { "f.bin": data }, { secret });
  await using out = await tempDir();
  const error = await downloadFile({ name: "f.bin", status: 200, holders: [holderOf(holder.address, data)] }, {
    outDir: out.path,
    secret: wrong,
  }).then(() => undefined, (e) => e);
  assert.ok(error instanceof DownloadError, String(error));
  assert.deepEqual(error.attempts.map((a) => [a.holder, a.code]), [[holder.address, "EAUTH"]]);
  assert.match(error.attempts[0].message, /refused our secret/);
  await assert.rejects(requestFile(holder.address, "f.bin", { secret: wrong }), /refused our secret/);
  assert.deepEqual(holder.events.of("served"), [], "the holder served nothing");
  // The right secret gets the file from the same holder.
  const got = await downloadFile({ name: "f.bin", status: 200, holders: [holderOf(holder.address, data)] }, {
    outDir: out.path,
    secret,
  });
  assert.equal(got.from, holder.address);
});

Deno.test("peer: a holder with a secret answers a plain GET with 530 and a close", async () => {
  await using tracker = testTracker({ secret });
  await using peer = await testPeer(tracker.address, { "f.txt": "private" }, { secret });
  using raw = await LineClient.connect(peer.addr.port);
  await raw.send("GET f.txt\n");
  assert.equal(await raw.reader.readLine(), "530 this server needs the shared secret (--secret)");
  assert.equal(await raw.reader.readLine(), null);
});
