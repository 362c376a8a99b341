import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { Limits, ProtocolError, Status } from "../protocol.ts";
import { LineTooLongError, TransferError } from "../io/errors.ts";
import { BufferedReader } from "../io/reader.ts";
import { BufferPool, type ByteSource, exactBytes, sinkStream } from "../io/streams.ts";
import { Watchdog } from "../io/watchdog.ts";
import { CHUNK_SIZE } from "../protocol.ts";

const encoder = new TextEncoder();

/** A source that hands out `chunks` one read at a time (a read never spans two chunks). */
class ChunkSource implements ByteSource {
  #chunks: Uint8Array[];
  /** Calls of `read`. */
  reads = 0;
  /** Largest buffer a caller asked to fill. */
  largestRequest = 0;

  constructor(chunks: Uint8Array[]) {
    this.#chunks = chunks.filter((c) => c.length > 0);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.reads++;
    this.largestRequest = Math.max(this.largestRequest, buffer.length);
    const chunk = this.#chunks[0];
    if (!chunk) return Promise.resolve(null);
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n === chunk.length) this.#chunks.shift();
    else this.#chunks[0] = chunk.subarray(n);
    return Promise.resolve(n);
  }

  /** Bytes not read yet. */
  get left(): number {
    return this.#chunks.reduce((sum, c) => sum + c.length, 0);
  }
}

function bytesOf(input: string | Uint8Array): Uint8Array {
  return typeof input === "string" ? encoder.encode(input) : input;
}

/** `input` cut at each of `cuts` (sorted byte offsets). */
function splitAt(input: string | Uint8Array, cuts: number[]): ChunkSource {
  const bytes = bytesOf(input);
  const points = [0, ...cuts, bytes.length];
  return new ChunkSource(points.slice(1).map((end, i) => bytes.subarray(points[i], end)));
}

/** `input` one byte per read. */
function byteByByte(input: string | Uint8Array): ChunkSource {
  const bytes = bytesOf(input);
  return new ChunkSource(Array.from(bytes, (_, i) => bytes.subarray(i, i + 1)));
}

/** Every way to feed `input`: whole, one byte per read, and cut at every single and every pair of boundaries. */
function* everySplit(input: string | Uint8Array): Generator<[string, ChunkSource]> {
  const length = bytesOf(input).length;
  yield ["whole", splitAt(input, [])];
  yield ["byte by byte", byteByByte(input)];
  for (let i = 1; i < length; i++) {
    yield [`cut at ${i}`, splitAt(input, [i])];
    for (let j = i + 1; j < length; j++) yield [`cut at ${i} and ${j}`, splitAt(input, [i, j])];
  }
}

/** Reads lines until `null`, writing an error as `!<status>`. */
async function readAll(source: ByteSource, maxBytes?: number): Promise<string[]> {
  const reader = new BufferedReader(source);
  const out: string[] = [];
  for (let i = 0; i < 100; i++) {
    try {
      const line = await reader.readLine(maxBytes);
      if (line === null) return out;
      out.push(line);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      out.push(`!${error.status}${error instanceof LineTooLongError ? " too long" : ""}`);
    }
  }
  assert.fail("readLine never returned null");
}

async function assertLinesEverySplit(input: string | Uint8Array, expected: string[], maxBytes?: number) {
  for (const [how, source] of everySplit(input)) {
    assert.deepEqual(await readAll(source, maxBytes), expected, how);
  }
}

/** A source that makes `size` bytes of `x` on demand, then `tail`; it never holds the long line. */
class LongLineSource implements ByteSource {
  #left: number;
  #tail: ChunkSource;
  largestRequest = 0;

  constructor(size: number, tail: string) {
    this.#left = size;
    this.#tail = new ChunkSource([encoder.encode(tail)]);
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.largestRequest = Math.max(this.largestRequest, buffer.length);
    if (this.#left === 0) return this.#tail.read(buffer);
    const n = Math.min(buffer.length, this.#left, 3000);
    buffer.fill(0x78, 0, n);
    this.#left -= n;
    return Promise.resolve(n);
  }
}

// ---------------------------------------------------------------------------
// BufferedReader.readLine

Deno.test("reader: lines read the same however the input is split", async () => {
  const input = "GET a\r\nRANGE 1 2 é文件🎉\n\nlast";
  await assertLinesEverySplit(input, ["GET a", "RANGE 1 2 é文件🎉", "", "last"]);
});

Deno.test("reader: LF and CRLF both end a line and a lone CR stays in the line", async () => {
  await assertLinesEverySplit("a\nb\r\nc\rd\n\r\n", ["a", "b", "c\rd", ""]);
});

Deno.test("reader: the last line without a terminator is still a line", async () => {
  await assertLinesEverySplit("one\ntwo", ["one", "two"]);
  await assertLinesEverySplit("only", ["only"]);
});

Deno.test("reader: empty input gives null, and null again", async () => {
  const reader = new BufferedReader(new ChunkSource([]));
  assert.equal(await reader.readLine(), null);
  assert.equal(await reader.readLine(), null);
  const buffer = new Uint8Array(4);
  assert.equal(await reader.read(buffer), null);
});

Deno.test("reader: a line of exactly the limit passes, with LF or CRLF", async () => {
  await assertLinesEverySplit("12345678\n12345678\r\nok\n", ["12345678", "12345678", "ok"], 8);
  await assertLinesEverySplit("12345678", ["12345678"], 8);
  await assertLinesEverySplit("12345678\r\n", ["12345678"], 8);
});

Deno.test("reader: a line over the limit answers 413 and the next line still reads", async () => {
  await assertLinesEverySplit("123456789\nnext\n", ["!413 too long", "next"], 8);
  await assertLinesEverySplit("123456789\r\nnext\r\n", ["!413 too long", "next"], 8);
  await assertLinesEverySplit("12345678901234567890\nnext\nmore", ["!413 too long", "next", "more"], 8);
  await assertLinesEverySplit("ok\n" + "x".repeat(30) + "\r\n" + "y".repeat(9) + "\nend\n", [
    "ok",
    "!413 too long",
    "!413 too long",
    "end",
  ], 8);
});

Deno.test("reader: LineTooLongError is a ProtocolError with status 413 that names the limit", async () => {
  const reader = new BufferedReader(splitAt("123456789\n", []));
  const error = await reader.readLine(8).then(() => undefined, (e) => e);
  assert.ok(error instanceof LineTooLongError);
  assert.ok(error instanceof ProtocolError);
  assert.equal(error.status, Status.TOO_LARGE);
  assert.match(error.message, /8 bytes/);
});

Deno.test("reader: a last line without terminator one byte over the limit answers 413", async () => {
  await assertLinesEverySplit("123456789", ["!413 too long"], 8);
  await assertLinesEverySplit("ok\n123456789", ["ok", "!413 too long"], 8);
});

Deno.test("reader: a last line without terminator far over the limit answers 413, then null", async () => {
  await assertLinesEverySplit("ok\n" + "x".repeat(40), ["ok", "!413 too long"], 8);
});

Deno.test("reader: a 1 MiB line with a small limit is skipped without buffering it", async () => {
  const source = new LongLineSource(1024 * 1024, "\nnext\n");
  const reader = new BufferedReader(source);
  await assert.rejects(reader.readLine(100), LineTooLongError);
  assert.equal(await reader.readLine(100), "next");
  assert.equal(await reader.readLine(100), null);
  assert.ok(source.largestRequest <= 8192, `buffer stayed small: asked for ${source.largestRequest} bytes at once`);
});

Deno.test("reader: a 1 MiB line with the default limit is skipped and the buffer stops growing near the limit", async () => {
  const source = new LongLineSource(1024 * 1024, "\r\nnext\r\n");
  const reader = new BufferedReader(source);
  const error = await reader.readLine().then(() => undefined, (e) => e);
  assert.ok(error instanceof LineTooLongError);
  assert.equal(error.status, 413);
  assert.equal(await reader.readLine(), "next");
  assert.ok(
    source.largestRequest <= 2 * Limits.MAX_LINE_BYTES,
    `buffer stayed near ${Limits.MAX_LINE_BYTES}: asked for ${source.largestRequest} bytes at once`,
  );
});

Deno.test("reader: a line of the default limit still passes", async () => {
  const line = "y".repeat(Limits.MAX_LINE_BYTES);
  const source = new ChunkSource([encoder.encode(line + "\r\n"), encoder.encode("z".repeat(10) + "\n")]);
  const reader = new BufferedReader(source);
  assert.equal(await reader.readLine(), line);
  assert.equal(await reader.readLine(), "z".repeat(10));
});

Deno.test("reader: invalid UTF-8 answers 400 and the next line still reads", async () => {
  const input = new Uint8Array([0x66, 0xff, 0xfe, 0x0a, 0x6f, 0x6b, 0x0a, 0xc3, 0x0d, 0x0a, 0x65, 0x6e, 0x64, 0xe6]);
  await assertLinesEverySplit(input, ["!400", "ok", "!400", "!400"]);
  const error = await new BufferedReader(splitAt(input, [])).readLine().then(() => undefined, (e) => e);
  assert.ok(error instanceof ProtocolError && !(error instanceof LineTooLongError));
  assert.equal(error.status, Status.BAD_REQUEST);
});

Deno.test("reader: read() hands out the bytes buffered after a header line, then reads on from the source", async () => {
  const body = new Uint8Array(300).map((_, i) => (i * 7 + 3) % 256); // holds LF, CR, 0x00 and 0xff
  assert.ok(body.includes(0x0a) && body.includes(0x0d) && body.includes(0xff));
  const header = encoder.encode("200 300 abc\r\n");
  const input = new Uint8Array([...header, ...body]);
  for (const cut of [1, 5, header.length, header.length + 1, header.length + 150, input.length - 1]) {
    for (const size of [1, 7, 4096]) {
      const reader = new BufferedReader(splitAt(input, [cut]));
      assert.equal(await reader.readLine(), "200 300 abc");
      const got: number[] = [];
      const buffer = new Uint8Array(size);
      while (true) {
        const n = await reader.read(buffer);
        if (n === null) break;
        assert.ok(n > 0 && n <= size);
        got.push(...buffer.subarray(0, n));
      }
      assert.deepEqual(new Uint8Array(got), body, `cut at ${cut}, reads of ${size}`);
      assert.equal(await reader.read(buffer), null);
    }
  }
});

Deno.test("reader: read() after the last line was read gives null", async () => {
  const reader = new BufferedReader(splitAt("a\nb", [1]));
  assert.equal(await reader.readLine(), "a");
  assert.equal(await reader.readLine(), "b");
  assert.equal(await reader.read(new Uint8Array(8)), null);
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

Deno.test("transfer: exactBytes regroups small reads into chunks of CHUNK_SIZE", async () => {
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

Deno.test("transfer: exactBytes of zero bytes closes at once without reading", async () => {
  const source = new ChunkSource([encoder.encode("untouched")]);
  const got = await collect(exactBytes(source, 0));
  assert.deepEqual(got, []);
  assert.equal(source.reads, 0);
  assert.equal(source.left, 9);
});

Deno.test("transfer: exactBytes errors with ETRUNCATED when the source ends early", async () => {
  const source = new ChunkSource([encoder.encode("0123456789")]);
  await assert.rejects(collect(exactBytes(source, 20)), (error) => {
    assert.ok(error instanceof TransferError);
    assert.equal(error.code, "ETRUNCATED");
    assert.match(error.message, /10 of 20/);
    return true;
  });
});

Deno.test("transfer: exactBytes delivers whole chunks before it errors with ETRUNCATED", async () => {
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

function concat(parts: Uint8Array[]): Uint8Array {
  const out = new Uint8Array(parts.reduce((sum, p) => sum + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

Deno.test("transfer: sinkStream writes every byte (even through short writes) and hashes them like node:crypto", async () => {
  const pieces: Uint8Array[] = [1, 0, 65_536, 3, 17].map((n) => crypto.getRandomValues(new Uint8Array(n)));
  pieces.push(patterned(CHUNK_SIZE + 1, CHUNK_SIZE + 1).bytes);
  const expected = createHash("sha256");
  for (const p of pieces) expected.update(p);
  const sink = recordingSink(1000);
  const hash = createHash("sha256");
  await ReadableStream.from(pieces).pipeTo(sinkStream(sink, { hash }));
  assert.deepEqual(concat(sink.written), concat(pieces));
  assert.equal(hash.digest("hex"), expected.digest("hex"));
});

Deno.test("transfer: sinkStream of nothing hashes to the SHA-256 of the empty string", async () => {
  const hash = createHash("sha256");
  await ReadableStream.from<Uint8Array>([]).pipeTo(sinkStream(recordingSink(), { hash }));
  assert.equal(hash.digest("hex"), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
});

Deno.test("transfer: exactBytes and sinkStream sharing a pool reuse a few buffers and keep every byte", async () => {
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

Deno.test("transfer: a BufferPool takes back only its own buffers, and each once", () => {
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

// ---------------------------------------------------------------------------
// Watchdog

function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

Deno.test("transfer: a Watchdog that is not touched fires once", async () => {
  let fired = 0;
  const { promise, resolve } = Promise.withResolvers<void>();
  const started = performance.now();
  const dog = new Watchdog(30, () => {
    fired++;
    resolve();
  });
  await promise;
  assert.ok(performance.now() - started >= 29, "not before its time");
  assert.equal(dog.expired, true);
  await delay(100); // a second firing would have had three more periods to happen
  assert.equal(fired, 1);
  dog.stop();
});

Deno.test("transfer: a Watchdog fires only once it has been idle for its whole period", async () => {
  const ms = 30;
  let lastTouch = performance.now();
  const { promise, resolve } = Promise.withResolvers<number>();
  using dog = new Watchdog(ms, () => resolve(performance.now() - lastTouch));
  const toucher = setInterval(() => {
    dog.touch();
    lastTouch = performance.now();
  }, 5);
  await delay(2 * ms);
  clearInterval(toucher);
  const idle = await promise;
  assert.ok(idle >= ms - 1, `fired ${idle} ms after the last touch`);
  assert.equal(dog.expired, true);
});

Deno.test("transfer: a Watchdog that is touched often does not fire", async () => {
  const ms = 150; // large next to the 5 ms touches, so a slow machine does not make it fire
  let fired = false;
  const dog = new Watchdog(ms, () => fired = true);
  const toucher = setInterval(() => dog.touch(), 5);
  await delay(3 * ms);
  clearInterval(toucher);
  dog.stop();
  assert.equal(fired, false);
  assert.equal(dog.expired, false);
});

Deno.test("transfer: a stopped Watchdog never fires and stop() may be called twice", async () => {
  let fired = false;
  const dog = new Watchdog(20, () => fired = true);
  dog.stop();
  dog.stop();
  {
    using disposed = new Watchdog(20, () => fired = true);
    disposed.touch();
  }
  await delay(80);
  assert.equal(fired, false);
  assert.equal(dog.expired, false);
});
