/**
 * `peer/relay.ts`: relay mode (`cat`), against a real tracker and real
 * peers. Each active peer is asked in turn and the first copy is written,
 * checked against its header; a file no peer has fails naming every peer
 * tried; a sink that keeps the chunks it is given gets the right bytes; a
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
  const relayed = await relayFile(client, "wanted.bin", { out });
  assert.equal(relayed.from, b.address);
  assert.deepEqual(relayed.failed.map((f) => [f.holder, f.code]), [[a.address, "404"]]);
  assert.deepEqual(await out.bytes(), data);
  assert.deepEqual([relayed.size, relayed.sha256], [data.length, sha256(data)]);
});

Deno.test("relay: cat of a file no peer has fails naming every peer tried", async () => {
  await using tracker = testTracker();
  await using a = await testPeer(tracker.address, { "x": "x" });
  await using b = await testPeer(tracker.address, { "y": "y" });
  await using client = await TrackerClient.connect(tracker.address);
  await assert.rejects(
    relayFile(client, "nope", { out: { write: (bytes) => Promise.resolve(bytes.length) } }),
    (e: DownloadError) =>
      e.message === "none of 2 active peers has it" && e.attempts.length === 2 &&
      e.attempts.map((t) => t.holder).sort().join() === [a.address, b.address].sort().join() &&
      e.attempts.every((t) => t.code === "404"),
  );
});

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
