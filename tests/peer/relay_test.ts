/**
 * `peer/relay.ts`: relay mode (`cat`), against a real tracker and real
 * peers. Each active peer is asked in turn and the first copy is written,
 * checked against its header; a peer without the file (404) is expected,
 * not told as a failure; a file no peer has fails with one summary (`none
 * of the 3 active peers has it`), real failures told and counted apart; a sink that keeps the chunks it is given gets the right bytes; a
 * progress board sees one transfer of the header's size from one source.
 *
 * @module
 */

import assert from "node:assert/strict";
import { DownloadError } from "../../io/errors.ts";
import type { ByteSink } from "../../io/streams.ts";
import { relayFile } from "../../peer/relay.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { RecordingBoard } from "../helpers/board.ts";
import { announceAt, deadAddress } from "../helpers/net.ts";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";

/** A sink that keeps a copy of every write; `bytes()` is all of it. */
function copyingSink(): ByteSink & { bytes(): Promise<Uint8Array> } {
  const chunks: Uint8Array[] = [];
  return {
    write: (bytes) => {
      chunks.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
    bytes: async () => new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer()),
  };
}

Deno.test("relay: cat asks each active peer in turn and writes the first copy", async () => {
  await using tracker = testTracker();
  const data = randomBytes(1_500_000);
  await using a = await testPeer(tracker.address, { "other.txt": "x" });
  await using b = await testPeer(tracker.address, { "wanted.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const out = copyingSink();
  const told: string[] = [];
  const relayed = await relayFile(client, "wanted.bin", { out, onAttemptFailed: (t) => told.push(t.holder) });
  assert.equal(relayed.from, b.address);
  assert.deepEqual(relayed.failed.map((f) => [f.holder, f.code]), [[a.address, "404"]]);
  assert.deepEqual(told, [], "a peer without the file is expected in relay mode: not told as a failure");
  assert.deepEqual(await out.bytes(), data);
  assert.deepEqual([relayed.size, relayed.sha256], [data.length, sha256(data)]);
});

Deno.test("relay: cat of a file no peer has fails with one summary, keeping every peer tried", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "x": "x" });
  await using b = await testPeer(tracker.address, { "y": "y" });
  await using c = await testPeer(tracker.address, { "z": "z" });
  await using client = await TrackerClient.connect(tracker.address);
  const told: string[] = [];
  await assert.rejects(
    relayFile(client, "nope", { out: discard, onAttemptFailed: (t) => told.push(t.holder) }),
    (e: DownloadError) =>
      e.message === "none of the 3 active peers has it" && e.attempts.length === 3 &&
      e.attempts.map((t) => t.holder).sort().join() === [a.address, b.address, c.address].sort().join() &&
      e.attempts.every((t) => t.code === "404"),
  );
  assert.deepEqual(told, [], "nothing told one by one");
});

Deno.test("relay: a real failure is told and counted apart from the peers without the file; one peer, or none, said so", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "x": "x" });
  const dead = deadAddress();
  const told: string[] = [];
  {
    // A peer that announced, then vanished: listed, and refuses the connection.
    using _vanished = await announceAt(tracker.addr.port, Number(dead.split(":")[1]), [[new Uint8Array(1), "v"]]);
    await using client = await TrackerClient.connect(tracker.address);
    await assert.rejects(
      relayFile(client, "nope", { out: discard, onAttemptFailed: (t) => told.push(`${t.holder} ${t.code}`) }),
      { message: "none of the 2 active peers sent it: 1 does not have it, 1 failed" },
    );
    assert.deepEqual(told, [`${dead} ECONNREFUSED`], "the refused connection is told; the 404 is not");
  }
  await tracker.events.next("left", (e) => e.peer === dead);
  {
    await using client = await TrackerClient.connect(tracker.address);
    await assert.rejects(relayFile(client, "nope", { out: discard }), {
      message: "the one active peer does not have it",
    });
  }
  await a.close();
  await tracker.events.next("left", (e) => e.peer === a.address);
  await using client = await TrackerClient.connect(tracker.address);
  await assert.rejects(relayFile(client, "nope", { out: discard }), {
    message: "no peer is active at the tracker; start one that shares the file",
  });
});

/** A sink that drops what it is given. */
const discard: ByteSink = { write: (bytes) => Promise.resolve(bytes.length) };

Deno.test("relay: a sink that keeps the chunks it is given still gets the right bytes", async () => {
  await using tracker = testTracker();
  const data = randomBytes(5 * MiB + 123);
  await using _holder = await testPeer(tracker.address, { "big.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const kept: Uint8Array[] = [];
  await relayFile(client, "big.bin", {
    out: {
      write: (bytes) => {
        kept.push(bytes); // no copy: the relay must not reuse this memory
        return Promise.resolve(bytes.length);
      },
    },
  });
  const got = new Uint8Array(await new Blob(kept as BlobPart[]).arrayBuffer());
  assert.equal(got.length, data.length);
  assert.equal(sha256(got), sha256(data)); // a hash, not deepEqual: a diff of 5 MiB would swamp the report
});

Deno.test("relay: a board shows one transfer of the header's size from one source", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB + 9, 101);
  await using _other = await testPeer(tracker.address, { "other.txt": "o" });
  await using holder = await testPeer(tracker.address, { "r.bin": data });
  await using client = await TrackerClient.connect(tracker.address);
  const board = new RecordingBoard();
  const out = copyingSink();
  const relayed = await relayFile(client, "r.bin", { out, board });
  assert.equal(relayed.from, holder.address);
  assert.deepEqual(board.begun.map((b) => [b.name, b.size]), [["r.bin", data.length]], "begin once, with the size");
  assert.equal(board.ended.length, 1, "end once");
  assert.equal(board.ended[0].transfer, board.begun[0].transfer, "the transfer begun is the one ended");
  assert.equal(board.ended[0].bytes, data.length, "exactly the bytes written");
  assert.deepEqual(board.sourcesSet, [1]);
  assert.equal(board.lateSets, 0, "nothing updates a transfer after its end");
  assert.equal(board.bytesBack, 0, "bytes never go down");
  assert.equal(sha256(await out.bytes()), sha256(data));
});
