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
  return writeAll(sink, encoder.encode(text));
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
 * A `WritableStream` over a {@link ByteSink}; it never closes the sink, its
 * owner does. `onWrite` gets the count of every write call.
 */
export function sinkStream(sink: ByteSink, onWrite?: (n: number) => void): WritableStream<Uint8Array> {
  return new WritableStream({ write: (chunk) => writeAll(sink, chunk, onWrite) }, { highWaterMark: 1 });
}

/**
 * Exactly `length` bytes from `source`, regrouped into chunks of up to
 * {@link CHUNK_BYTES}. Errors with `ETRUNCATED` if the source ends early.
 * While waiting on the source, `onRead` is called after every read (feed a
 * {@link Watchdog} with it).
 */
export function exactBytes(
  source: ByteSource,
  length: number,
  onRead: () => void = () => {},
): ReadableStream<Uint8Array> {
  let remaining = length;
  return new ReadableStream<Uint8Array>({
    async pull(controller) {
      if (remaining === 0) {
        controller.close();
        return;
      }
      const chunk = new Uint8Array(Math.min(CHUNK_BYTES, remaining));
      let filled = 0;
      while (filled < chunk.length) {
        const n = await source.read(chunk.subarray(filled));
        onRead();
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

/** A pass-through stream that hashes (SHA-256) and counts what flows through it. */
export class DigestStream extends TransformStream<Uint8Array, Uint8Array> {
  #hash: Hash;
  #bytes = { count: 0 };

  /** Starts a new digest. */
  constructor() {
    const hash = createHash("sha256");
    const bytes = { count: 0 };
    super({
      transform(chunk, controller) {
        hash.update(chunk);
        bytes.count += chunk.length;
        controller.enqueue(chunk);
      },
    });
    this.#hash = hash;
    this.#bytes = bytes;
  }

  /** Bytes seen so far. */
  get bytes(): number {
    return this.#bytes.count;
  }

  /** The hex digest; call once, after the stream has ended. */
  digest(): string {
    return this.#hash.digest("hex");
  }
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
      if (idle >= this.#ms) {
        this.expired = true;
        this.#timer = undefined;
        this.#onExpire();
      } else {
        this.#arm(this.#ms - idle);
      }
    }, Math.min(MAX_TIMER_MS, Math.max(1, delay)));
  }
}

/** Closes a resource that may already be closed. */
export function closeQuietly(resource: { close(): void }): void {
  try {
    resource.close();
  } catch (error) {
    if (!(error instanceof Deno.errors.BadResource)) throw error;
  }
}

/** True for the errors a socket gives when the other side (or our own shutdown) ends it. */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}
