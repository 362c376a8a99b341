/**
 * What the headers of a request for a file ask, and what a file's answer
 * says of it, for a peer's HTTP face: one byte range (`Range`), whether it
 * still holds (`If-Range`), whether the client has the file already
 * (`If-None-Match`), and the file's type by its extension. Pure.
 *
 * @module
 */

/** What a `Range` header asks of a file: all of it, bytes `start`…`end` (inclusive), or nothing it has. */
export type RangeAnswer =
  | { type: "whole" }
  | { type: "part"; start: number; end: number }
  | { type: "unsatisfiable" };

/**
 * Reads a `Range` header (RFC 9110 §14.2) for a file of `size` bytes. One
 * range (`bytes=a-b`, `bytes=a-`, `bytes=-n`) is served as a part, clamped
 * to the file; one that starts at or past the end (or `-0`) is
 * unsatisfiable. No header, a malformed one (`bytes=5-2` among them), another
 * unit, or several ranges: the whole file. Numbers of any length are read
 * exactly.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseRange("bytes=0-99", 1000), { type: "part", start: 0, end: 99 });
 * assert.deepEqual(parseRange("bytes=-100", 1000), { type: "part", start: 900, end: 999 });
 * assert.deepEqual(parseRange("bytes=1000-", 1000), { type: "unsatisfiable" });
 * assert.deepEqual(parseRange("bytes=0-1,5-6", 1000), { type: "whole" });
 * assert.deepEqual(parseRange("bytes=5-2", 1000), { type: "whole" });
 * ```
 */
export function parseRange(header: string | undefined, size: number): RangeAnswer {
  const whole = { type: "whole" } as const;
  if (header === undefined) return whole;
  const match = /^\s*bytes\s*=(.*)$/i.exec(header);
  if (!match) return whole;
  const specs = match[1].split(",").map((s) => s.trim()).filter((s) => s !== "");
  if (specs.length !== 1) return whole;
  const spec = /^(\d*)-(\d*)$/.exec(specs[0]);
  if (!spec || (spec[1] === "" && spec[2] === "")) return whole;
  const length = BigInt(size);
  if (spec[1] === "") {
    const suffix = BigInt(spec[2]);
    if (suffix === 0n) return { type: "unsatisfiable" };
    // An empty file has no byte to send: the whole of it (nothing), not a part.
    if (size === 0) return whole;
    return { type: "part", start: Number(suffix >= length ? 0n : length - suffix), end: size - 1 };
  }
  const first = BigInt(spec[1]);
  const last = spec[2] === "" ? undefined : BigInt(spec[2]);
  if (last !== undefined && last < first) return whole;
  if (first >= length) return { type: "unsatisfiable" };
  return { type: "part", start: Number(first), end: Number(last === undefined || last >= length ? length - 1n : last) };
}

const TEXT = "; charset=utf-8";
const TYPES: Record<string, string> = {
  txt: "text/plain" + TEXT,
  md: "text/markdown" + TEXT,
  html: "text/html" + TEXT,
  htm: "text/html" + TEXT,
  css: "text/css" + TEXT,
  js: "text/javascript" + TEXT,
  mjs: "text/javascript" + TEXT,
  json: "application/json" + TEXT,
  csv: "text/csv" + TEXT,
  xml: "application/xml" + TEXT,
  svg: "image/svg+xml" + TEXT,
  pdf: "application/pdf",
  png: "image/png",
  jpg: "image/jpeg",
  jpeg: "image/jpeg",
  gif: "image/gif",
  webp: "image/webp",
  ico: "image/x-icon",
  mp4: "video/mp4",
  webm: "video/webm",
  mp3: "audio/mpeg",
  ogg: "audio/ogg",
  wav: "audio/wav",
  zip: "application/zip",
  gz: "application/gzip",
  tgz: "application/gzip",
  tar: "application/x-tar",
  "7z": "application/x-7z-compressed",
  iso: "application/x-iso9660-image",
  bin: "application/octet-stream",
  wasm: "application/wasm",
};

/**
 * The `Content-Type` of a file named `name`, by its extension (text types
 * with `; charset=utf-8`); `application/octet-stream` for any other.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(contentType("notes.TXT"), "text/plain; charset=utf-8");
 * assert.equal(contentType("disk.iso"), "application/x-iso9660-image");
 * assert.equal(contentType("README"), "application/octet-stream");
 * ```
 */
export function contentType(name: string): string {
  const dot = name.lastIndexOf(".");
  return (dot > 0 && TYPES[name.slice(dot + 1).toLowerCase()]) || "application/octet-stream";
}

/**
 * `If-Range` (RFC 9110 §13.1.5): whether a range may be sent, given the
 * header (none: yes) and the file's strong `etag` and `modified` time
 * (its `Last-Modified`, ms, whole seconds): an equal strong ETag, or
 * exactly that date.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const file = { etag: '"abc"', modified: 5000 };
 * assert.equal(ifRangeHolds('"abc"', file), true);
 * assert.equal(ifRangeHolds('W/"abc"', file), false);
 * assert.equal(ifRangeHolds(new Date(5000).toUTCString(), file), true);
 * assert.equal(ifRangeHolds(new Date(6000).toUTCString(), file), false);
 * ```
 */
export function ifRangeHolds(value: string | undefined, file: { etag: string; modified?: number }): boolean {
  const { etag, modified } = file;
  if (value === undefined) return true;
  const trimmed = value.trim();
  if (trimmed.startsWith('"') || trimmed.startsWith("W/")) return trimmed === etag;
  // A date holds only when it is exactly our Last-Modified (RFC 9110 §13.1.5): a file replaced by one with an
  // older or newer time must not be spliced onto what the client has.
  const date = Date.parse(trimmed);
  return modified !== undefined && !Number.isNaN(date) && date === modified;
}

/**
 * `If-None-Match` (RFC 9110 §13.1.2): whether the client's copy is the
 * file: `*`, or one of its tags equal to `etag`, weakly compared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(noneMatch('"x", W/"abc"', '"abc"'), true);
 * assert.equal(noneMatch(undefined, '"abc"'), false);
 * ```
 */
export function noneMatch(value: string | undefined, etag: string): boolean {
  if (value === undefined) return false;
  if (value.trim() === "*") return true;
  return value.split(",").some((tag) => tag.trim().replace(/^W\//, "") === etag);
}
