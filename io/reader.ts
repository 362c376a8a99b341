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
  /** Bytes from `#start` up to here hold no LF (0: nothing known). */
  #scanned = 0;
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
    while (true) {
      const line = this.takeLine(maxBytes);
      if (line !== undefined) return line;
      if (this.#end - this.#start > maxBytes + 1) {
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

  /**
   * The next line if a whole one is buffered already, as {@link BufferedReader.readLine}
   * would return it (or throw, for a line over `maxBytes` or not UTF-8); `undefined` when
   * no whole line is buffered (then nothing was consumed). Never waits: a server answers
   * the lines that arrived together without a turn of the event loop for each.
   */
  takeLine(maxBytes: number = Limits.MAX_LINE_BYTES): string | undefined {
    const lineEnd = this.#nextLF();
    if (lineEnd < 0) return undefined;
    const start = this.#start;
    this.#start = lineEnd + 1;
    const end = lineEnd > start && this.#buffer[lineEnd - 1] === CR ? lineEnd - 1 : lineEnd;
    if (end - start > maxBytes) throw new LineTooLongError(maxBytes);
    return this.#decode(start, end);
  }

  /** True when a whole line is already buffered, so that `readLine()` will not wait for input. */
  hasLine(): boolean {
    return this.#nextLF() >= 0;
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

  /**
   * Where the next LF is in the buffer, or -1. Bytes before `#scanned` are
   * known to hold none, so a line that arrives in many reads is scanned once.
   */
  #nextLF(): number {
    const buffer = this.#buffer;
    const end = this.#end;
    // A loop, not `subarray(…).indexOf()`: no view allocated per line (short lines are the common case).
    for (let i = Math.max(this.#start, this.#scanned); i < end; i++) {
      if (buffer[i] === LF) {
        this.#scanned = 0;
        return i;
      }
    }
    this.#scanned = end;
    return -1;
  }

  /** The text of `bytes`, or of the buffer from `start` to `end`. */
  #decode(bytes: Uint8Array): string;
  #decode(start: number, end: number): string;
  #decode(from: Uint8Array | number, to?: number): string {
    const buffer = typeof from === "number" ? this.#buffer : from;
    const start = typeof from === "number" ? from : 0;
    const end = typeof from === "number" ? to! : from.length;
    // Short ASCII lines (nearly every command) are built here, without a call into the runtime.
    if (end - start <= 256) {
      let ascii = true;
      for (let i = start; i < end; i++) {
        if (buffer[i] >= 0x80) {
          ascii = false;
          break;
        }
      }
      if (ascii) return latin1(buffer, start, end);
    }
    try {
      return this.#decoder.decode(buffer.subarray(start, end));
    } catch (error) {
      throw new ProtocolError(Status.BAD_REQUEST, "line is not valid UTF-8", { cause: error });
    }
  }

  /** Reads more into the buffer, growing it up to `limit`. False at end of input. */
  async #fill(limit: number): Promise<boolean> {
    if (this.#start > 0) {
      this.#buffer.copyWithin(0, this.#start, this.#end);
      this.#scanned = Math.max(0, this.#scanned - this.#start);
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
    this.#scanned = 0;
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

/** The bytes from `start` to `end` (all under 0x80, at most 256 of them) as a string. */
function latin1(buffer: Uint8Array, start: number, end: number): string {
  // Eight characters a call: fewer intermediate strings than one by one, and no array allocated.
  let text = "";
  let i = start;
  for (; i + 8 <= end; i += 8) {
    text += String.fromCharCode(
      buffer[i],
      buffer[i + 1],
      buffer[i + 2],
      buffer[i + 3],
      buffer[i + 4],
      buffer[i + 5],
      buffer[i + 6],
      buffer[i + 7],
    );
  }
  for (; i < end; i++) text += String.fromCharCode(buffer[i]);
  return text;
}
