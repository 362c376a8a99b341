/**
 * The byte path: streams that carry a file disk → socket → disk in chunks of
 * about 1 MiB (the size measured fastest here, see ../shared/DENO-NOTES.md), with
 * backpressure, an idle watchdog and incremental SHA-256.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";
import type { ByteSource } from "./reader.ts";

/** Chunk size of every stream on the byte path. */
export const CHUNK_BYTES = 1024 * 1024;

/** Anything bytes can be written to: `Deno.Conn`, `Deno.FsFile`, stdout. */
export interface ByteSink {
  write(bytes: Uint8Array): Promise<number>;
}

/** A transfer that went wrong; `code` is what a person sees (`ETIMEDOUT`, `ETRUNCATED`, …). */
export class TransferError extends Error {
  /** Short error code. */
  readonly code: string;
  /** Builds the error. */
  constructor(code: string, message: string) {
    super(message);
    this.name = "TransferError";
    this.code = code;
  }
}

const encoder = new TextEncoder();

/** Writes a string as UTF-8. */
export function writeText(sink: ByteSink, text: string): Promise<void> {
  return writeAll(sink, encodeText(text));
}

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

/** Writes all of `bytes`, however many calls it takes; `onWrite` gets the count of each call (to feed a {@link Watchdog}). */
export async function writeAll(sink: ByteSink, bytes: Uint8Array, onWrite?: (n: number) => void): Promise<void> {
  let written = 0;
  while (written < bytes.length) {
    const n = await sink.write(bytes.subarray(written));
    written += n;
    onWrite?.(n);
  }
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

  /** A buffer of `size` bytes (at most {@link CHUNK_BYTES}), reused when one is idle. */
  take(size: number): Uint8Array {
    const buffer = this.#idle.pop() ?? new Uint8Array(CHUNK_BYTES);
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
    if (this.#idle.length < this.#max) this.#idle.push(new Uint8Array(chunk.buffer as ArrayBuffer));
  }
}

/**
 * A shared upload (or download) budget of `bytesPerSecond`: every writer
 * takes its bytes from it before writing, in turn, first come first served.
 * A writer may overdraw by one slice; the next one then waits until the
 * debt is paid back.
 */
export class RateLimit {
  /** Bytes per second. */
  readonly rate: number;
  #balance = 0;
  #last = performance.now();
  #queue: Promise<void> = Promise.resolve();

  /** A budget of `bytesPerSecond` (> 0). */
  constructor(bytesPerSecond: number) {
    this.rate = bytesPerSecond;
  }

  /** Writes slices this big, so that a slow budget still shows steady progress. */
  get slice(): number {
    return Math.max(1024, Math.min(64 * 1024, Math.floor(this.rate / 16)));
  }

  /** Resolves when `n` bytes may go; a writer `cancelled` by then spends nothing (and should not write). */
  take(n: number, cancelled?: () => boolean): Promise<void> {
    const turn = this.#queue.then(() => cancelled?.() ? undefined : this.#spend(n));
    this.#queue = turn;
    return turn;
  }

  async #spend(n: number): Promise<void> {
    const now = performance.now();
    // Credit for idle time is capped at one slice: no burst after a pause.
    this.#balance = Math.min(this.slice, this.#balance + (now - this.#last) * this.rate / 1000);
    this.#last = now;
    this.#balance -= n;
    if (this.#balance < 0) {
      await new Promise((resolve) => setTimeout(resolve, -this.#balance / this.rate * 1000));
    }
  }
}

/** Options of {@link sinkStream}. */
export interface SinkOptions {
  /** Gets the count of every write call (feed a {@link Watchdog} with it). */
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
          await writeAll(sink, slice, onWrite);
        }
        pool?.give(chunk);
        return;
      }
      const written = writeAll(sink, chunk, onWrite);
      hash?.update(chunk);
      await written;
      pool?.give(chunk);
    },
  }, { highWaterMark: 1 });
}

/** Options of {@link exactBytes}. */
export interface ExactBytesOptions {
  /** Called after every read of the source with the bytes it gave (feed a {@link Watchdog} with it). */
  onRead?: (n: number) => void;
  /** Where chunk buffers come from; give them back in the sink. */
  pool?: BufferPool;
}

/**
 * Exactly `length` bytes from `source`, regrouped into chunks of up to
 * {@link CHUNK_BYTES}. Errors with `ETRUNCATED` if the source ends early.
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
      const size = Math.min(CHUNK_BYTES, remaining);
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

/** A new incremental SHA-256 (`update`, then `digest("hex")` once). */
export function sha256Hasher(): Hash {
  return createHash("sha256");
}

/** SHA-256 of a whole file, read in {@link CHUNK_BYTES} pieces. */
export async function hashFile(path: string): Promise<{ size: number; sha256: string }> {
  using file = await Deno.open(path);
  const hash = createHash("sha256");
  const buffer = new Uint8Array(CHUNK_BYTES);
  let size = 0;
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    hash.update(buffer.subarray(0, n));
    size += n;
  }
  return { size, sha256: hash.digest("hex") };
}

/** The longest delay a timer can hold. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/**
 * Calls `onExpire` once if {@link Watchdog.touch} is not called for `ms`
 * milliseconds. One timer, re-armed lazily, however often it is touched.
 */
export class Watchdog implements Disposable {
  #ms: number;
  #last = performance.now();
  #timer: ReturnType<typeof setTimeout> | undefined;
  #onExpire: () => void;
  /** True once it has fired. */
  expired = false;
  #paused = 0;

  /** Starts watching. */
  constructor(ms: number, onExpire: () => void) {
    this.#ms = ms;
    this.#onExpire = onExpire;
    this.#arm(ms);
  }

  /** Records activity. */
  touch(): void {
    this.#last = performance.now();
  }

  /** Our own side is holding things up (waiting for rate budget, say): silence meanwhile does not count. */
  pause(): void {
    this.#paused++;
  }

  /** Ends a {@link Watchdog.pause}; the silence is counted from now. */
  resume(): void {
    this.#paused--;
    this.touch();
  }

  /** Stops watching; idempotent. */
  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Same as {@link Watchdog.stop}. */
  [Symbol.dispose](): void {
    this.stop();
  }

  #arm(delay: number): void {
    this.#timer = setTimeout(() => {
      const idle = performance.now() - this.#last;
      if (this.#paused > 0) {
        this.#arm(this.#ms);
      } else if (idle >= this.#ms) {
        this.expired = true;
        this.#timer = undefined;
        this.#onExpire();
      } else {
        this.#arm(this.#ms - idle);
      }
    }, Math.min(MAX_TIMER_MS, Math.max(1, delay)));
  }
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** Closes a resource that may already be closed. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/**
 * True for the errors a socket gives when the other side (or our own
 * shutdown) ends it, and for an encrypted link whose record was cut or
 * forged (`InvalidData`, see `secret.ts`): either way the connection is over.
 */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.InvalidData ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}
