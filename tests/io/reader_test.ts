/**
 * Specifies `io/reader.ts`, the `BufferedReader`: lines end at LF or CRLF
 * and read the same however the bytes are split on the wire; a line over
 * the limit (65,536 bytes by default) is answered 413 and skipped without
 * buffering it, and the next line reads; invalid UTF-8 is 400; `read()`
 * hands out the bytes buffered after a header, then reads on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Limits, ProtocolError, Status } from "../../protocol.ts";
import { LineTooLongError } from "../../io/errors.ts";
import { BufferedReader } from "../../io/reader.ts";
import { type ByteSource, writeAll } from "../../io/streams.ts";
import { ChunkSource } from "../helpers/bytes.ts";
import { within } from "../helpers/events.ts";
import { mutatedLine, SeededRandom } from "../helpers/random.ts";

const encoder = new TextEncoder();

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
async function readLines(source: ByteSource, maxBytes?: number): Promise<string[]> {
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
    assert.deepEqual(await readLines(source, maxBytes), expected, how);
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
// BufferedReader.takeLine: a line already buffered, without waiting

/** A source that counts its reads. */
class CountingSource implements ByteSource {
  reads = 0;
  #inner: ChunkSource;

  constructor(chunks: string[]) {
    this.#inner = new ChunkSource(chunks.map((c) => encoder.encode(c)));
  }

  read(buffer: Uint8Array): Promise<number | null> {
    this.reads++;
    return this.#inner.read(buffer);
  }
}

Deno.test("reader: takeLine() gives the lines already buffered without reading, then undefined, consuming nothing", async () => {
  const source = new CountingSource(["SEND a\nSEND b\r\nSEN", "D c\n"]);
  const reader = new BufferedReader(source);
  assert.equal(reader.takeLine(), undefined, "nothing is buffered before the first read");
  assert.equal(source.reads, 0);
  assert.equal(await reader.readLine(), "SEND a");
  assert.equal(source.reads, 1);
  assert.equal(reader.hasLine(), true);
  assert.equal(reader.takeLine(), "SEND b");
  assert.equal(reader.hasLine(), false);
  assert.equal(reader.takeLine(), undefined, "half a line is not a line");
  assert.equal(reader.takeLine(), undefined, "and asking again consumes nothing");
  assert.equal(source.reads, 1);
  assert.equal(await reader.readLine(), "SEND c", "the half line is kept and completed by the next read");
  assert.equal(await reader.readLine(), null);
});

Deno.test("reader: takeLine() answers a buffered line over the limit with 413, and invalid UTF-8 with 400, then goes on", async () => {
  const input = new Uint8Array([
    ...encoder.encode("ok\n123456789\r\n"),
    0x66,
    0xff,
    0x0a,
    ...encoder.encode("12345678\r\nend\n"),
  ]);
  const reader = new BufferedReader(splitAt(input, []));
  assert.equal(await reader.readLine(8), "ok"); // one read brings everything
  assert.throws(() => reader.takeLine(8), LineTooLongError);
  assert.throws(
    () => reader.takeLine(8),
    (e) => e instanceof ProtocolError && !(e instanceof LineTooLongError) && e.status === Status.BAD_REQUEST,
  );
  assert.equal(reader.takeLine(8), "12345678", "a line of exactly the limit, CRLF ended, passes");
  assert.equal(reader.takeLine(8), "end");
  assert.equal(reader.takeLine(8), undefined);
  assert.equal(await reader.readLine(8), null);
});

// ---------------------------------------------------------------------------
// Over a real socket, and however the bytes are split

/** `bytes` sent over a loopback connection (then our side ends); the lines the other side reads, errors as `!<status>`. */
async function linesOverSocket(bytes: Uint8Array): Promise<string[]> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using server = await listener.accept();
  const sending = writeAll(client, bytes).then(() => client.closeWrite());
  const [lines] = await within("the lines", Promise.all([readLines(server), sending]));
  return lines;
}

Deno.test("reader: over a socket, a line of 65,537 bytes answers 413, is skipped, and the next line reads; 65,536 bytes pass", async () => {
  assert.equal(Limits.MAX_LINE_BYTES, 65_536);
  const over = "x".repeat(Limits.MAX_LINE_BYTES + 1);
  const exact = "y".repeat(Limits.MAX_LINE_BYTES);
  const input = `PING\n${over}\nnext\n${over}\r\n${exact}\r\n${exact}\nlast`;
  assert.deepEqual(await linesOverSocket(encoder.encode(input)), [
    "PING",
    "!413 too long",
    "next",
    "!413 too long",
    exact,
    exact,
    "last",
  ]);
});

Deno.test("reader: 1,500 random lines read the same however the bytes are split", async () => {
  for (const seed of [11, 12, 13]) {
    const r = new SeededRandom(seed);
    // Round-tripped through UTF-8 first: a mutation may have cut a surrogate pair in half.
    const utf8 = (text: string) => new TextDecoder().decode(encoder.encode(text));
    const lines = Array.from({ length: 500 }, () => utf8(mutatedLine(r).replaceAll("\n", "").replaceAll("\r", "")));
    const bytes = encoder.encode(lines.map((l, i) => l + (i % 3 === 0 ? "\r\n" : "\n")).join(""));
    let at = 0;
    const source = {
      read(buffer: Uint8Array) {
        if (at >= bytes.length) return Promise.resolve(null);
        const n = Math.min(buffer.length, 1 + r.int(r.next() < 0.1 ? 5000 : 7), bytes.length - at);
        buffer.set(bytes.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      },
    };
    const reader = new BufferedReader(source);
    const got: string[] = [];
    while (true) {
      const line = await reader.readLine();
      if (line === null) break;
      got.push(line);
    }
    assert.deepEqual(got, lines, `seed ${seed}`);
  }
});
