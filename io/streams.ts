/**
 * The byte path: streams that carry a file disk → socket → disk in chunks of
 * one protocol chunk, 1 MiB (the size measured fastest here, see
 * ../shared/DENO-NOTES.md), with backpressure, pooled buffers and optional
 * hashing and rate limiting on the way.
 *
 * @module
 */

import type { Hash } from "node:crypto";
import { CHUNK_SIZE } from "../protocol.ts";
import { TransferError } from "./errors.ts";
import type { RateLimit } from "./rate_limit.ts";

/** What bytes are read from: `Deno.Conn`, `Deno.FsFile` and the like. */
export interface ByteSource {
  /** Reads into `buffer`; the count read, or `null` at end of input. */
  read(buffer: Uint8Array): Promise<number | null>;
}

/** Anything bytes can be written to: `Deno.Conn`, `Deno.FsFile`, stdout. */
export interface ByteSink {
  /** Writes some of `bytes`; the count written. */
  write(bytes: Uint8Array): Promise<number>;
}

const encoder = new TextEncoder();

/** UTF-8 bytes of `text`; short ASCII text (most replies) is encoded here, without a call into the runtime. */
export function encodeText(text: string): Uint8Array {
  if (text.length > 4096) return encoder.encode(text);
  const bytes = new Uint8Array(text.length);
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code >= 0x80) return encoder.encode(text);
    bytes[i] = code;
  }
  return bytes;
}

/** Options of {@link writeAll}. */
export interface WriteOptions {
  /** Gets the count of each write call (to feed a `Watchdog`). */
  onWrite?: (n: number) => void;
}

/** Writes all of `bytes`, however many calls it takes. */
export async function writeAll(sink: ByteSink, bytes: Uint8Array, options: WriteOptions = {}): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const n = await sink.write(bytes.subarray(written));
    written += n;
    options.onWrite?.(n);
  }
}

/** Writes a string as UTF-8. */
export function writeText(sink: ByteSink, text: string): Promise<void> {
  return writeAll(sink, encodeText(text));
}

/**
 * Recycles the chunk buffers of the byte path: a fresh 1 MiB buffer per
 * chunk costs zeroing, page faults and garbage (measured: 1,500 vs 1,800
 * MB/s hashing, and a peer's memory growing to 120 MiB during a 1 GiB
 * transfer). A stream takes buffers from its pool; its final sink gives
 * them back once written. At most `max` idle buffers are kept.
 */
export class BufferPool {
  #idle: Uint8Array[] = [];
  /** Buffers handed out and not yet given back: only those are taken back. */
  #out = new Set<ArrayBufferLike>();
  #max: number;

  /** A pool keeping up to `max` idle buffers (default 4). */
  constructor(max = 4) {
    this.#max = max;
  }

  /** A buffer of `size` bytes (at most {@link CHUNK_SIZE}), reused when one is idle. */
  take(size: number): Uint8Array {
    const buffer = this.#idle.pop() ?? new Uint8Array(CHUNK_SIZE);
    this.#out.add(buffer.buffer);
    return buffer.subarray(0, size);
  }

  /**
   * Returns a buffer handed out by {@link BufferPool.take}; the caller must
   * not use it afterwards. Anything else, or a buffer given back twice, is
   * ignored, so that two users never share one buffer.
   */
  give(chunk: Uint8Array): void {
    if (!this.#out.delete(chunk.buffer)) return;
    // Detached: transferred to another thread, it comes back through adopt().
    if (chunk.buffer.byteLength === 0) return;
    if (this.#idle.length < this.#max) this.#idle.push(new Uint8Array(chunk.buffer as ArrayBuffer));
  }

  /**
   * Takes in a chunk's buffer that was transferred to another thread
   * (`postMessage(…, [buffer])`, which detached it here) and has come back
   * (a new `ArrayBuffer` over the same memory). Anything but a buffer of
   * {@link CHUNK_SIZE} bytes is ignored.
   */
  adopt(buffer: ArrayBuffer): void {
    if (buffer.byteLength !== CHUNK_SIZE || this.#out.has(buffer)) return;
    if (this.#idle.length < this.#max && !this.#idle.some((b) => b.buffer === buffer)) {
      this.#idle.push(new Uint8Array(buffer));
    }
  }
}

/** Options of {@link sinkStream}. */
export interface SinkOptions {
  /** Gets the count of every write call (feed a `Watchdog` with it). */
  onWrite?: (n: number) => void;
  /** Where written chunks go back to. */
  pool?: BufferPool;
  /** Hashes every chunk while its write is in flight. */
  hash?: Hash;
  /** Bytes wait for this budget before they are written. */
  limit?: RateLimit;
  /** True once the sink is gone (its connection closed): its queued turns at `limit` spend nothing. */
  cancelled?: () => boolean;
}

/**
 * A `WritableStream` over a {@link ByteSink}; it never closes the sink, its
 * owner does. With `hash`, each chunk is hashed while it is being written, so
 * that the hashing (on this thread) and the write overlap.
 */
export function sinkStream(sink: ByteSink, options: SinkOptions = {}): WritableStream<Uint8Array> {
  const { onWrite, pool, hash, limit, cancelled } = options;
  return new WritableStream({
    async write(chunk) {
      if (limit) {
        hash?.update(chunk);
        for (let at = 0; at < chunk.length; at += limit.slice) {
          const slice = chunk.subarray(at, at + limit.slice);
          await limit.take(slice.length, cancelled);
          await writeAll(sink, slice, { onWrite });
        }
        pool?.give(chunk);
        return;
      }
      const written = writeAll(sink, chunk, { onWrite });
      hash?.update(chunk);
      await written;
      pool?.give(chunk);
    },
  }, { highWaterMark: 1 });
}

/** Options of {@link exactBytes}. */
export interface ExactBytesOptions {
  /** Called after every read of the source with the bytes it gave (feed a `Watchdog` with it). */
  onRead?: (n: number) => void;
  /** Where chunk buffers come from; give them back in the sink. Default: a fresh buffer per chunk. */
  pool?: BufferPool;
}

/**
 * Exactly `length` bytes from `source`, regrouped into chunks of up to
 * {@link CHUNK_SIZE}. Errors with `ETRUNCATED` if the source ends early.
 */
export function exactBytes(
  source: ByteSource,
  length: number,
  options: ExactBytesOptions = {},
): ReadableStream<Uint8Array> {
  const { onRead, pool } = options;
  let remaining = length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (remaining === 0) {
        controller.close();
        return;
      }
      const size = Math.min(CHUNK_SIZE, remaining);
      const chunk = pool ? pool.take(size) : new Uint8Array(size);
      let filled = 0;
      while (filled < chunk.length) {
        const n = await source.read(chunk.subarray(filled));
        onRead?.(n ?? 0);
        if (n === null) {
          const got = length - remaining + filled;
          throw new TransferError("ETRUNCATED", `stream ended after ${got} of ${length} bytes`);
        }
        filled += n;
      }
      remaining -= filled;
      controller.enqueue(chunk);
    },
  }, { highWaterMark: 1 });
}
