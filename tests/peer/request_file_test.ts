/**
 * `peer/request_file.ts`: one `GET` to one holder, as relay mode reads a
 * file: the header, then a body of exactly the bytes it announces. A holder
 * that refuses gives its `ProtocolError`; one that closes without answering
 * is `ECLOSED`; one silent for the timeout is `ETIMEDOUT`; one that dies in
 * the middle of the body is `ETRUNCATED`; our own abort is `ECANCELED`.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol.ts";
import { TransferError } from "../../io/errors.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { requestFile } from "../../peer/request_file.ts";
import { rejection } from "../helpers/assert.ts";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { servingFolder, startFakeHolder } from "../helpers/holders.ts";
import { readToEnd } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";

/** Every byte of `body`, in one array. */
async function bodyBytes(body: ReadableStream<Uint8Array>): Promise<Uint8Array> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of body) chunks.push(chunk.slice());
  return new Uint8Array(await new Blob(chunks as BlobPart[]).arrayBuffer());
}

Deno.test("request file: the header, then exactly the bytes it announces, from a real holder", async () => {
  const data = randomBytes(2 * MiB + 77, 41);
  await using holder = await servingFolder({ "f.bin": data, "empty": new Uint8Array() });
  {
    using remote = await requestFile(holder.address, "f.bin");
    assert.deepEqual(remote.header, { size: data.length, sha256: sha256(data), offset: 0, length: data.length });
    const got = await bodyBytes(remote.body);
    assert.equal(got.length, data.length);
    assert.equal(sha256(got), sha256(data));
  }
  using empty = await requestFile(holder.address, "empty");
  assert.equal(empty.header.size, 0);
  assert.equal((await bodyBytes(empty.body)).length, 0);
});

Deno.test("request file: the holder's 404 comes back as a ProtocolError", async () => {
  await using holder = await servingFolder({ "f.txt": "x" });
  const error = await rejection(requestFile(holder.address, "missing.txt"));
  assert.ok(error instanceof ProtocolError, String(error));
  assert.equal(error.status, 404);
});

Deno.test("request file: a holder that closes without answering is ECLOSED", async () => {
  await using holder = startFakeHolder({ script: () => Promise.resolve() });
  const error = await rejection(requestFile(holder.address, "f.txt"));
  assert.ok(error instanceof TransferError && error.code === "ECLOSED", String(error));
  assert.deepEqual(holder.requests, ["GET f.txt"]);
});

Deno.test("request file: a holder silent for the timeout is ETIMEDOUT, before the header and in the body", async () => {
  await using silent = startFakeHolder({ script: readToEnd });
  const error = await rejection(requestFile(silent.address, "f.txt", { timeoutMs: 100 }));
  assert.ok(error instanceof TransferError && error.code === "ETIMEDOUT", String(error));
  assert.match(error.message, /silent for 100 ms/);

  const data = randomBytes(1000, 42);
  await using stalls = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 10));
      await readToEnd(conn);
    },
  });
  using remote = await requestFile(stalls.address, "f.txt", { timeoutMs: 100 });
  const inBody = await rejection(bodyBytes(remote.body));
  assert.ok(inBody instanceof TransferError && inBody.code === "ETIMEDOUT", String(inBody));
});

Deno.test("request file: a holder that dies in the middle of the body is ETRUNCATED", async () => {
  const data = randomBytes(5000, 43);
  await using dies = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 2000));
    },
  });
  using remote = await requestFile(dies.address, "f.bin");
  const error = await rejection(bodyBytes(remote.body));
  assert.ok(error instanceof TransferError && error.code === "ETRUNCATED", String(error));
  assert.match(error.message, /after 2000 of 5000 bytes/);
});

Deno.test("request file: aborting the signal closes the connection and the body fails ECANCELED", async () => {
  const data = randomBytes(1000, 44);
  await using stalls = startFakeHolder({
    script: async (conn) => {
      await writeText(conn, `200 ${data.length} ${sha256(data)}\n`);
      await writeAll(conn, data.subarray(0, 10));
      await readToEnd(conn);
    },
  });
  const abort = new AbortController();
  using remote = await requestFile(stalls.address, "f.txt", { signal: abort.signal, timeoutMs: 60_000 });
  const reading = rejection(bodyBytes(remote.body));
  abort.abort();
  const error = await reading;
  assert.ok(error instanceof TransferError && error.code === "ECANCELED", String(error));
  await stalls.hungUp;
});
