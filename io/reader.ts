/**
 * A small buffered reader over anything with `read(buffer)` (a `Deno.Conn`,
 * an `FsFile`): bounded `readLine()` for the text protocol, then `read()`
 * that hands out what was buffered before reading on, for the raw bytes
 * that follow a header.
 *
 * @module
 */

import { Limits, ProtocolError, Status } from "../protocol.ts";
import { LineTooLongError } from "./errors.ts";
import type { ByteSource } from "./streams.ts";

const LF = 0x0a;
const CR = 0x0d;
// Small: a tracker holds one reader per peer, and 10,000 peers are a normal load.
const INITIAL_SIZE = 1024;

/** Reads lines, then bytes, from a {@link ByteSource}, never holding more than one line's limit. */
export class BufferedReader {
  #source: ByteSource;
  #buffer = new Uint8Array(INITIAL_SIZE);
  #start = 0;
  #end = 0;
  #eof = false;
  #decoder = new TextDecoder("utf-8", { fatal: true });

  /** Wraps `source`; nothing is read until asked. */
  constructor(source: ByteSource) {
    this.#source = source;
  }

  /**
   * Reads one line, LF or CRLF terminated, without its terminator. Returns
   * `null` at end of input. A last line without terminator is returned as a
   * line. Throws {@link LineTooLongError} (after skipping the whole line) if
   * the line is longer than `maxBytes`, and a 400 {@link ProtocolError} if it
   * is not valid UTF-8.
   */
  async readLine(maxBytes: number = Limits.MAX_LINE_BYTES): Promise<string | null> {
    let scanned = 0;
    while (true) {
      const at = this.#buffer.subarray(this.#start + scanned, this.#end).indexOf(LF);
      if (at >= 0) {
        const lineEnd = this.#start + scanned + at;
        const bytes = this.#buffer.subarray(this.#start, lineEnd);
        this.#start = lineEnd + 1;
        const trimmed = bytes.at(-1) === CR ? bytes.subarray(0, -1) : bytes;
        if (trimmed.length > maxBytes) throw new LineTooLongError(maxBytes);
        return this.#decode(trimmed);
      }
      scanned = this.#end - this.#start;
      if (scanned > maxBytes + 1) {
        await this.#skipLine();
        throw new LineTooLongError(maxBytes);
      }
      if (this.#eof || !(await this.#fill(maxBytes + 2))) {
        if (this.#end === this.#start) return null;
        const bytes = this.#buffer.subarray(this.#start, this.#end);
        this.#start = this.#end;
        if (bytes.length > maxBytes) throw new LineTooLongError(maxBytes);
        return this.#decode(bytes);
      }
    }
  }

  /** True when a whole line is already buffered, so that `readLine()` will not wait for input. */
  hasLine(): boolean {
    return this.#buffer.subarray(this.#start, this.#end).indexOf(LF) >= 0;
  }

  /**
   * Reads bytes into `target`: first whatever is buffered, then straight from
   * the source. Returns the count, or `null` at end of input.
   */
  async read(target: Uint8Array): Promise<number | null> {
    if (this.#start < this.#end) {
      const n = Math.min(target.length, this.#end - this.#start);
      target.set(this.#buffer.subarray(this.#start, this.#start + n));
      this.#start += n;
      return n;
    }
    if (this.#eof) return null;
    return await this.#source.read(target);
  }

  #decode(bytes: Uint8Array): string {
    // Short ASCII lines (nearly every command) skip the decoder's call into the runtime.
    if (bytes.length <= 256 && isAscii(bytes)) return String.fromCharCode.apply(null, bytes as unknown as number[]);
    try {
      return this.#decoder.decode(bytes);
    } catch (error) {
      throw new ProtocolError(Status.BAD_REQUEST, "line is not valid UTF-8", { cause: error });
    }
  }

  /** Reads more into the buffer, growing it up to `limit`. False at end of input. */
  async #fill(limit: number): Promise<boolean> {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#end -= this.#start;
      this.#start = 0;
    }
    if (this.#end === this.#buffer.length) {
      const grown = new Uint8Array(Math.min(this.#buffer.length * 2, Math.max(limit, this.#buffer.length)));
      grown.set(this.#buffer);
      this.#buffer = grown;
    }
    const n = await this.#source.read(this.#buffer.subarray(this.#end));
    if (n === null) {
      this.#eof = true;
      return false;
    }
    this.#end += n;
    return true;
  }

  /** Drops bytes up to and including the next LF (or to end of input). */
  async #skipLine(): Promise<void> {
    while (true) {
      const at = this.#buffer.subarray(this.#start, this.#end).indexOf(LF);
      if (at >= 0) {
        this.#start += at + 1;
        return;
      }
      this.#start = this.#end = 0;
      if (this.#eof) return;
      const n = await this.#source.read(this.#buffer);
      if (n === null) {
        this.#eof = true;
        return;
      }
      this.#end = n;
    }
  }
}

function isAscii(bytes: Uint8Array): boolean {
  for (let i = 0; i < bytes.length; i++) if (bytes[i] >= 0x80) return false;
  return true;
}
