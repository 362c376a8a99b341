/**
 * The peer role's shutdown (`Peer.close`), against a real tracker: it
 * leaves the tracker first (the tracker lets it go while its file server
 * still accepts), then stops accepting, tells idle connections it is
 * stopping and closes them at once, lets an upload in the middle of a file
 * finish within `shutdownGraceMs`, and cuts one that needs longer, saying
 * so. A swarm download whose holder stops is told `503 the peer at … is
 * stopping` and finishes from the other holder, naming why. An upload is
 * held in the middle of its answer by a client that stops reading (TCP's
 * own flow control), or slowed by `maxUploadRate` or by the downloader's
 * budget on a clock of the test's; the order of what happens is checked,
 * not a window of time.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RateLimit } from "../io/rate_limit.ts";
import { downloadFile } from "../peer/download.ts";
import type { Transfer, TransferBoard } from "../peer/transfer_board.ts";
import { assertSameBytes } from "./helpers/assert.ts";
import { ManualClock } from "./helpers/clock.ts";
import { WAIT_MS, within } from "./helpers/events.ts";
import { holderOf, MiB, sha256 } from "./helpers/hashes.ts";
import { LineClient, notServed, readBytes } from "./helpers/net.ts";
import { randomBytes } from "./helpers/random.ts";
import { testPeer, testTracker } from "./helpers/roles.ts";
import { listDir, tempDir } from "./helpers/temp.ts";

Deno.test("peer: close() leaves the tracker while its file server still accepts, then stops accepting and ends idle connections at once", async () => {
  let peerAddress = "";
  let peerPort = 0;
  const order: string[] = [];
  let probe: Promise<Deno.TcpConn> | undefined;
  await using tracker = testTracker({
    onEvent: (event) => {
      if (event.type !== "left" || event.peer !== peerAddress) return;
      order.push("left the tracker");
      // The moment the tracker lets the peer go, a new connection to it is still taken.
      probe = Deno.connect({ hostname: "127.0.0.1", port: peerPort });
      probe.catch(() => {});
    },
  });
  // A grace far longer than the test: close() ends only because idle connections are closed at once.
  const peer = await testPeer(tracker.address, { "f.txt": "0123456789" }, { shutdownGraceMs: 10 * WAIT_MS });
  peerAddress = peer.address;
  peerPort = peer.addr.port;
  try {
    using idle = await LineClient.connect(peerPort);
    assert.equal((await idle.ask("HASHES f.txt\n"))[0].status, 200);
    assert.equal(await idle.reader.readLine(), sha256("0123456789"));
    const idleClosed = idle.closed().then(() => {
      order.push("idle connection closed");
      idle[Symbol.dispose](); // as a downloader does at the end of the connection (else the peer waits a moment for it)
    });

    await within("close()", peer.close());
    await within("the idle connection's close", idleClosed);
    assert.deepEqual(order, ["left the tracker", "idle connection closed"]);
    assert.ok(probe, "the tracker told the peer left");
    const conn = await probe.then((c) => c, (e) => assert.fail(`refused at the moment it left the tracker: ${e}`));
    conn.close();
    assert.equal(await notServed(peerPort, "HASHES f.txt\n"), true, "after close() nothing is served");
    assert.deepEqual(await tracker.store.holders("f.txt", 5), []);
  } finally {
    await peer[Symbol.asyncDispose]();
  }
});

Deno.test("peer: close() lets an upload in the middle of a file finish within shutdownGraceMs, serving nothing new meanwhile", async () => {
  await using tracker = testTracker();
  const big = randomBytes(16 * MiB, 71); // big enough that a client that stops reading holds the upload
  const peer = await testPeer(tracker.address, { "big.bin": big, "f.txt": "x" }, { shutdownGraceMs: 10 * WAIT_MS });
  try {
    using upload = await LineClient.connect(peer.addr.port);
    await upload.send("GET big.bin\n");
    assert.equal(await upload.reader.readLine(), `200 ${big.length} ${sha256(big)}`); // and it reads no more, for now
    let closed = false;
    const closing = peer.close().then(() => closed = true);

    // While the upload is held: the tracker has let the peer go, and nothing new is served.
    const left = await tracker.events.next("left", (e) => e.peer === peer.address);
    assert.equal(left.files, 2);
    assert.equal((await tracker.store.counts()).entries, 0);
    assert.ok(await notServed(peer.addr.port, "HASHES f.txt\n"), "a new connection is not served");
    assert.equal(closed, false, "close() waits for the upload");

    // The downloader reads on: the whole file arrives, then close() ends.
    const got = await readBytes(upload.reader, big.length);
    assert.equal(sha256(got), sha256(big));
    await within("close()", closing);
    const served = await peer.events.next("served", (e) => e.name === "big.bin");
    assert.equal(served.bytes, big.length);
    assert.deepEqual(peer.events.of("aborted"), []);
  } finally {
    await peer[Symbol.asyncDispose]();
  }
});

/** A board whose one transfer tells when its first bytes came. */
function flowBoard(): TransferBoard & { flowing: Promise<void>; transfer?: Transfer } {
  const flowing = Promise.withResolvers<void>();
  const board: TransferBoard & { flowing: Promise<void>; transfer?: Transfer } = {
    flowing: flowing.promise,
    begin(name, size) {
      let bytes = 0;
      board.transfer = {
        name,
        size,
        sources: 0,
        get bytes() {
          return bytes;
        },
        set bytes(value: number) {
          bytes = value;
          if (value > 0) flowing.resolve();
        },
      };
      return board.transfer;
    },
    end() {},
  };
  return board;
}

Deno.test("peer: close() cuts an upload that needs longer than shutdownGraceMs", async () => {
  await using tracker = testTracker();
  const data = randomBytes(4 * MiB, 72);
  // 4 MiB at 256 KiB/s: 16 s to send, far more than the grace of 0.2 s.
  const peer = await testPeer(tracker.address, { "slow.bin": data }, {
    maxUploadRate: 256 * 1024,
    shutdownGraceMs: 200,
  });
  try {
    await using out = await tempDir();
    const board = flowBoard();
    const download = downloadFile({ name: "slow.bin", status: 200, holders: [holderOf(peer.address, data)] }, {
      outDir: out.path,
      board,
      sources: 1,
    });
    download.catch(() => {}); // looked at below
    await board.flowing;
    await within("close()", peer.close());
    const error = await download.then(() => undefined, (e) => e);
    assert.ok(error, "the download did not finish");
    assert.ok(
      error.attempts.some((a: { code: string }) => ["ETRUNCATED", "ECONNRESET"].includes(a.code)),
      JSON.stringify(error.attempts),
    );
    const aborted = await peer.events.next("aborted");
    assert.deepEqual([aborted.name, aborted.size, aborted.message], ["slow.bin", data.length, "this peer is stopping"]);
    assert.ok(aborted.bytes < data.length, `cut after ${aborted.bytes} of ${data.length} bytes`);
    assert.deepEqual(peer.events.of("served"), []);
    assert.ok(!(await listDir(out.path)).includes("slow.bin"), "nothing landed");
  } finally {
    await peer[Symbol.asyncDispose]();
  }
});

Deno.test("peer: a holder that stops during a swarm download tells the downloader 503 the peer at HOST:PORT is stopping; the file comes from the other holder, and the holder says how much it sent", async () => {
  await using tracker = testTracker();
  const data = randomBytes(8 * MiB, 73);
  const leaving = await testPeer(tracker.address, { "big.bin": data }, { shutdownGraceMs: 10 * WAIT_MS });
  await using staying = await testPeer(tracker.address, { "big.bin": data });
  try {
    await using out = await tempDir();
    // The download is paid from a budget on a clock of the test's: it moves only as the test moves time.
    const clock = new ManualClock();
    const board = flowBoard();
    let finished = false;
    const download = downloadFile({
      name: "big.bin",
      status: 200,
      holders: [holderOf(leaving.address, data), holderOf(staying.address, data)],
    }, { outDir: out.path, board, sources: 2, limit: new RateLimit(MiB, { clock }) }).finally(() => finished = true);
    download.catch(() => {}); // looked at below
    let flowing = false;
    board.flowing.then(() => flowing = true);
    while (!flowing) await clock.advance(50);

    const closing = leaving.close(); // with most of the file still to come
    while (!finished) await clock.advance(100);
    await within("close()", closing);

    const got = await download;
    await assertSameBytes(got.path, data);
    const stopped = got.sources.find((s) => s.holder === leaving.address);
    assert.deepEqual([stopped?.code, stopped?.message], [
      "503",
      `the peer at ${leaving.address} is stopping; try another holder`,
    ]);
    assert.equal(got.sources.find((s) => s.holder === staying.address)?.code, undefined, "the other served to the end");
    const [aborted] = leaving.events.of("aborted");
    assert.deepEqual([aborted.size, aborted.message], [data.length, "this peer is stopping"]);
    assert.ok(aborted.bytes > 0 && aborted.bytes < data.length, `${aborted.bytes} of ${data.length} bytes`);
    assert.deepEqual(leaving.events.of("served"), [], "not told as a file sent");
  } finally {
    await leaving[Symbol.asyncDispose]();
  }
});
