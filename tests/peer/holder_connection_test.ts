/**
 * `peer/holder_connection.ts`: one holder's connection in a download.
 * `HASHES` is checked against the announced root (`EHASHES`); each answer's
 * header is checked against the version asked for (`ECHANGED`) and the
 * range asked for (`EPROTO`); its bytes are handed on chunk by chunk, in
 * order; a holder that closes or stays silent is `ECLOSED`, `ETRUNCATED`
 * or `ETIMEDOUT`; a holder's refusal is its `ProtocolError`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { bytesToHex, ProtocolError } from "../../protocol.ts";
import { TransferError } from "../../io/errors.ts";
import { BufferPool, writeAll, writeText } from "../../io/streams.ts";
import { HolderConnection, type Version } from "../../peer/holder_connection.ts";
import { rejection } from "../helpers/assert.ts";
import { chunkHashes, entryOf, MiB, sha256 } from "../helpers/hashes.ts";
import { type FakeHolder, startFakeHolder } from "../helpers/holders.ts";
import { readToEnd } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";

const NAME = "f.bin";

/** The version of `data` the tracker would announce (with its root when over a chunk). */
function versionOf(data: Uint8Array): Version {
  return entryOf(NAME, data);
}

/** A connection to `holder` for `version`, opened; dispose closes it. */
async function connect(holder: FakeHolder, version: Version, timeoutMs = 10_000) {
  const stop = new AbortController();
  const pool = new BufferPool(8);
  const source = new HolderConnection({ holder: holder.address, bytes: 0, chunks: 0 }, {
    version,
    timeoutMs,
    stop: stop.signal,
    pool,
    finished: () => false,
  });
  await source.open();
  return Object.assign(source, {
    pool,
    [Symbol.dispose]: () => {
      stop.abort();
      source.close();
    },
  });
}

/** Asserts `error` is a `TransferError` with `code` and a message matching `message`. */
function assertTransfer(error: unknown, code: string, message: RegExp): void {
  assert.ok(error instanceof TransferError, `expected ${code}, got ${String(error)}`);
  assert.equal(error.code, code, error.message);
  assert.match(error.message, message);
}

Deno.test("holder connection: HASHES comes back checked against the root; pipelined RANGEs deliver each chunk in order", async () => {
  const data = randomBytes(3 * MiB + 500, 31);
  await using holder = startFakeHolder({ name: NAME, data });
  using source = await connect(holder, versionOf(data));
  const list = await source.fetchHashes();
  assert.equal(bytesToHex(list), chunkHashes(data).join(""));
  await source.ask({ first: 0, count: 1 });
  await source.ask({ first: 2, count: 2 });
  assert.deepEqual(source.outstanding, [{ first: 0, count: 1 }, { first: 2, count: 2 }]);
  const got: [number, string][] = [];
  const deliver = (index: number, piece: Uint8Array) => {
    got.push([index, sha256(piece)]);
    source.pool.give(piece);
  };
  assert.deepEqual(await source.receive(deliver), { first: 0, count: 1 });
  assert.deepEqual(await source.receive(deliver), { first: 2, count: 2 });
  assert.deepEqual(got, [0, 2, 3].map((i) => [i, chunkHashes(data)[i]]));
  assert.deepEqual(source.outstanding, []);
  assert.deepEqual(holder.requests, [
    `HASHES ${NAME}`,
    `RANGE 0 ${MiB} ${NAME}`,
    `RANGE ${2 * MiB} ${MiB + 500} ${NAME}`,
  ]);
  assert.ok(source.rate !== undefined && source.rate > 0, "its rate is known once a chunk came");
  assert.equal(source.partial, 0, "no byte read of an undelivered chunk");
});

Deno.test("holder connection: chunk hashes that do not come to the announced root are EHASHES", async () => {
  const data = randomBytes(2 * MiB + 3, 32);
  await using holder = startFakeHolder({ name: NAME, data, lieInHashes: true });
  using source = await connect(holder, versionOf(data));
  assertTransfer(await rejection(source.fetchHashes()), "EHASHES", /do not match the announced root/);
});

Deno.test("holder connection: a holder whose file is another version is ECHANGED, on HASHES and on RANGE", async () => {
  const data = randomBytes(2 * MiB + 3, 33);
  const other = randomBytes(data.length, 34); // same size, other bytes
  await using holder = startFakeHolder({ name: NAME, data: other });
  {
    using source = await connect(holder, versionOf(data));
    const error = await rejection(source.fetchHashes());
    assertTransfer(
      error,
      "ECHANGED",
      new RegExp(`the tracker said ${data.length} bytes sha256 ${sha256(data).slice(0, 12)}`),
    );
  }
  {
    using source = await connect(holder, versionOf(data));
    await source.ask({ first: 1, count: 1 });
    assertTransfer(await rejection(source.receive(() => assert.fail("no chunk"))), "ECHANGED", /offers \d+ bytes/);
  }
});

Deno.test("holder connection: an answer for another range than the one asked for is EPROTO", async () => {
  const data = randomBytes(2 * MiB + 3, 35);
  await using holder = startFakeHolder({
    script: async (conn) => {
      // Asked for chunk 1, it answers with chunk 0.
      await writeText(conn, `206 ${data.length} ${sha256(data)} 0 ${MiB}\n`);
      await writeAll(conn, data.subarray(0, MiB));
      await readToEnd(conn);
    },
  });
  using source = await connect(holder, versionOf(data));
  await source.ask({ first: 1, count: 1 });
  const error = await rejection(source.receive(() => assert.fail("no chunk is delivered")));
  assertTransfer(error, "EPROTO", new RegExp(`answered bytes 0\\+${MiB}, not ${MiB}\\+${MiB}`));
});

Deno.test("holder connection: a holder that refuses answers with its ProtocolError (404)", async () => {
  const data = randomBytes(100, 36);
  await using holder = startFakeHolder({ name: "another-name", data });
  using source = await connect(holder, versionOf(data));
  await source.ask({ first: 0, count: 1 });
  const error = await rejection(source.receive(() => assert.fail("no chunk")));
  assert.ok(error instanceof ProtocolError && !(error instanceof TransferError), String(error));
  assert.equal(error.status, 404);
});

Deno.test("holder connection: closing without an answer is ECLOSED; closing in the middle of the bytes is ETRUNCATED", async () => {
  const data = randomBytes(5000, 37);
  await using closes = startFakeHolder({ script: () => Promise.resolve() });
  {
    using source = await connect(closes, versionOf(data));
    await source.ask({ first: 0, count: 1 });
    assertTransfer(await rejection(source.receive(() => {})), "ECLOSED", /closed the connection without answering/);
  }
  await using dies = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 1000));
    },
  });
  using source = await connect(dies, versionOf(data));
  await source.ask({ first: 0, count: 1 });
  assertTransfer(await rejection(source.receive(() => {})), "ETRUNCATED", /after 1000 of 5000 bytes/);
});

Deno.test("holder connection: a holder silent for the timeout is ETIMEDOUT, before its header or in its bytes", async () => {
  const data = randomBytes(5000, 38);
  await using silent = startFakeHolder({ script: readToEnd });
  {
    using source = await connect(silent, versionOf(data), 100);
    await source.ask({ first: 0, count: 1 });
    assertTransfer(await rejection(source.receive(() => {})), "ETIMEDOUT", /silent for 100 ms/);
  }
  await using stalls = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 10));
      await readToEnd(conn);
    },
  });
  using source = await connect(stalls, versionOf(data), 100);
  await source.ask({ first: 0, count: 1 });
  assertTransfer(await rejection(source.receive(() => {})), "ETIMEDOUT", /silent for 100 ms/);
});

Deno.test("holder connection: late once a request waits past the silence limit, never while throttled or idle", async () => {
  const data = randomBytes(5000, 39);
  await using holder = startFakeHolder({ name: NAME, data });
  using source = await connect(holder, versionOf(data), 10_000);
  const now = performance.now();
  assert.equal(source.late(now + 60_000, 0), false, "nothing asked: never late");
  await source.ask({ first: 0, count: 1 });
  const start = source.headStart;
  assert.equal(source.late(start + 999, 0), false);
  assert.equal(source.late(start + 1_001, 0), true, "a second without a byte");
  // Slower than twice what the fastest source needs for a chunk (200 ms here), plus 100 ms: late too.
  assert.equal(source.late(start + 250, MiB / 100), false);
  assert.equal(source.late(start + 350, MiB / 100), true);
  source.throttled = true;
  assert.equal(source.late(start + 60_000, 0), false, "waiting for our own budget is not its fault");
  source.throttled = false;
  await source.receive((_, piece) => source.pool.give(piece));
});
