/**
 * Specifies `io/streams.ts`, the byte path: `writeAll` writes everything
 * however few bytes a sink takes per call; `exactBytes` regroups reads into
 * chunks of `CHUNK_SIZE`, never reads past its length and fails with
 * `ETRUNCATED` when the source ends early; `sinkStream` writes and hashes
 * every byte; a `BufferPool` reuses a few buffers and takes back only its
 * own.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { CHUNK_SIZE } from "../../protocol.ts";
import { TransferError } from "../../io/errors.ts";
import { BufferPool, encodeText, exactBytes, sinkStream, writeAll, writeText } from "../../io/streams.ts";
import { ChunkSource, concat } from "../helpers/bytes.ts";
import { randomBytes, SeededRandom } from "../helpers/random.ts";

const encoder = new TextEncoder();

// ---------------------------------------------------------------------------
// writeAll

Deno.test("streams: writeAll writes everything through a sink that takes a few bytes per call, and tells onWrite each count", async () => {
  const r = new SeededRandom(5);
  const bytes = randomBytes(10_000, 6);
  const taken: number[] = [];
  const parts: Uint8Array[] = [];
  const sink = {
    write(chunk: Uint8Array) {
      const n = Math.min(chunk.length, 1 + r.int(7));
      parts.push(chunk.slice(0, n));
      taken.push(n);
      return Promise.resolve(n);
    },
  };
  const told: number[] = [];
  await writeAll(sink, bytes, { onWrite: (n) => told.push(n) });
  assert.deepEqual(concat(parts), bytes);
  assert.ok(taken.length > 1_000, `${taken.length} calls`);
  assert.deepEqual(told, taken);
  // Nothing to write: no call at all.
  await writeAll(sink, new Uint8Array(0), { onWrite: (n) => told.push(n) });
  assert.equal(taken.length, told.length);
  assert.equal(parts.length, taken.length);
});

Deno.test("streams: writeText writes the UTF-8 of any text, and encodeText agrees with TextEncoder", async () => {
  const texts = ["", "200 PONG\n", "café ☕ 日本語 🎉\n", "x".repeat(5000) + "é", "\u0000\u007f\u0080"];
  for (const text of texts) {
    assert.deepEqual(encodeText(text), encoder.encode(text), JSON.stringify(text.slice(0, 20)));
    const parts: Uint8Array[] = [];
    const threeAtATime = {
      write(bytes: Uint8Array) {
        parts.push(bytes.slice(0, 3));
        return Promise.resolve(Math.min(3, bytes.length));
      },
    };
    await writeText(threeAtATime, text);
    assert.deepEqual(concat(parts), encoder.encode(text));
  }
});

// ---------------------------------------------------------------------------
// exactBytes

/** Every chunk of a stream. */
async function collect(stream: ReadableStream<Uint8Array>): Promise<Uint8Array[]> {
  const chunks: Uint8Array[] = [];
  for await (const chunk of stream) chunks.push(chunk);
  return chunks;
}

/** `length` bytes of a pattern, in pieces of `piece` bytes. */
function patterned(length: number, piece: number): { bytes: Uint8Array; chunks: Uint8Array[] } {
  const bytes = new Uint8Array(length).map((_, i) => (i * 31 + (i >> 8)) % 251);
  const chunks: Uint8Array[] = [];
  for (let at = 0; at < length; at += piece) chunks.push(bytes.subarray(at, at + piece));
  return { bytes, chunks };
}

Deno.test("streams: exactBytes regroups small reads into chunks of CHUNK_SIZE", async () => {
  const length = 3 * CHUNK_SIZE + 5;
  const { bytes, chunks } = patterned(length + 10, 1000);
  const source = new ChunkSource(chunks);
  let onRead = 0;
  const got = await collect(exactBytes(source, length, { onRead: () => onRead++ }));
  assert.deepEqual(got.map((c) => c.length), [CHUNK_SIZE, CHUNK_SIZE, CHUNK_SIZE, 5]);
  const joined = new Uint8Array(length);
  let at = 0;
  for (const c of got) {
    joined.set(c, at);
    at += c.length;
  }
  assert.ok(joined.every((b, i) => b === bytes[i]), "bytes arrive intact and in order");
  assert.equal(source.left, 10, "it never reads past the length it was given");
  assert.equal(onRead, source.reads, "onRead is called after every read");
});

Deno.test("streams: exactBytes of zero bytes closes at once without reading", async () => {
  const source = new ChunkSource([encoder.encode("untouched")]);
  const got = await collect(exactBytes(source, 0));
  assert.deepEqual(got, []);
  assert.equal(source.reads, 0);
  assert.equal(source.left, 9);
});

Deno.test("streams: exactBytes errors with ETRUNCATED when the source ends early", async () => {
  const source = new ChunkSource([encoder.encode("0123456789")]);
  await assert.rejects(collect(exactBytes(source, 20)), (error) => {
    assert.ok(error instanceof TransferError);
    assert.equal(error.code, "ETRUNCATED");
    assert.match(error.message, /10 of 20/);
    return true;
  });
});

Deno.test("streams: exactBytes delivers whole chunks before it errors with ETRUNCATED", async () => {
  const length = CHUNK_SIZE + 10;
  const { chunks } = patterned(CHUNK_SIZE + 3, 4096);
  const reader = exactBytes(new ChunkSource(chunks), length).getReader();
  const first = await reader.read();
  assert.equal(first.value?.length, CHUNK_SIZE);
  await assert.rejects(reader.read(), (error) => {
    assert.ok(error instanceof TransferError);
    assert.equal(error.code, "ETRUNCATED");
    assert.match(error.message, new RegExp(`${CHUNK_SIZE + 3} of ${length}`));
    return true;
  });
});

// ---------------------------------------------------------------------------
// sinkStream with a hash, and the buffer pool

/** A sink that keeps copies of what it is given, writing at most `max` bytes per call. */
function recordingSink(max = Infinity) {
  const written: Uint8Array[] = [];
  return {
    written,
    write: (bytes: Uint8Array) => {
      const n = Math.min(max, bytes.length);
      written.push(bytes.slice(0, n));
      return Promise.resolve(n);
    },
  };
}

Deno.test("streams: sinkStream writes every byte (even through short writes) and hashes them like node:crypto", async () => {
  const pieces: Uint8Array[] = [1, 0, 65_536, 3, 17].map((n, i) => randomBytes(n, 20 + i));
  pieces.push(patterned(CHUNK_SIZE + 1, CHUNK_SIZE + 1).bytes);
  const expected = createHash("sha256");
  for (const p of pieces) expected.update(p);
  const sink = recordingSink(1000);
  const hash = createHash("sha256");
  await ReadableStream.from(pieces).pipeTo(sinkStream(sink, { hash }));
  assert.deepEqual(concat(sink.written), concat(pieces));
  assert.equal(hash.digest("hex"), expected.digest("hex"));
});

Deno.test("streams: sinkStream of nothing hashes to the SHA-256 of the empty string", async () => {
  const hash = createHash("sha256");
  await ReadableStream.from<Uint8Array>([]).pipeTo(sinkStream(recordingSink(), { hash }));
  assert.equal(hash.digest("hex"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

Deno.test("streams: exactBytes and sinkStream sharing a pool reuse a few buffers and keep every byte", async () => {
  const length = 5 * CHUNK_SIZE + 123;
  const { bytes, chunks } = patterned(length, 70_000);
  const pool = new BufferPool();
  const taken = new Set<ArrayBufferLike>();
  const take = pool.take.bind(pool);
  pool.take = (size) => {
    const b = take(size);
    taken.add(b.buffer);
    return b;
  };
  const sink = recordingSink();
  await exactBytes(new ChunkSource(chunks), length, { pool }).pipeTo(sinkStream(sink, { pool }));
  assert.deepEqual(concat(sink.written), bytes);
  assert.ok(taken.size <= 3, `${taken.size} distinct buffers for 6 chunks`);
});

Deno.test("streams: a BufferPool takes back only its own buffers, and each once", () => {
  const pool = new BufferPool();
  const a = pool.take(10);
  pool.give(a);
  pool.give(a); // twice: ignored
  pool.give(new Uint8Array(CHUNK_SIZE)); // not the pool's: ignored
  const b = pool.take(5);
  const c = pool.take(5);
  assert.equal(b.buffer, a.buffer);
  assert.notEqual(c.buffer, a.buffer);
});
