/**
 * `peer/http_file_headers.ts`: a `Range` header read for a file of a given
 * size (every form, huge numbers, every split), and the type by extension.
 *
 * @module
 */

import assert from "node:assert/strict";
import { contentType, parseRange } from "../../peer/http_file_headers.ts";

Deno.test("http range: each single-range form is a part, clamped to the file", () => {
  assert.deepEqual(parseRange("bytes=0-99", 1000), { type: "part", start: 0, end: 99 });
  assert.deepEqual(parseRange("bytes=100-", 1000), { type: "part", start: 100, end: 999 });
  assert.deepEqual(parseRange("bytes=-100", 1000), { type: "part", start: 900, end: 999 });
  assert.deepEqual(parseRange("bytes=-5000", 1000), { type: "part", start: 0, end: 999 });
  assert.deepEqual(parseRange("bytes=990-5000", 1000), { type: "part", start: 990, end: 999 });
  assert.deepEqual(parseRange("bytes=999-999", 1000), { type: "part", start: 999, end: 999 });
  assert.deepEqual(parseRange("BYTES = 5-9 ", 1000), { type: "part", start: 5, end: 9 });
  assert.deepEqual(parseRange("bytes=5-9,", 1000), { type: "part", start: 5, end: 9 });
});

Deno.test("http range: past the end, and -0, are unsatisfiable", () => {
  assert.deepEqual(parseRange("bytes=1000-", 1000), { type: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=1000-2000", 1000), { type: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=-0", 1000), { type: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=0-", 0), { type: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=0-0", 0), { type: "unsatisfiable" });
});

Deno.test("http range: huge numbers are read exactly, never wrapped or rounded", () => {
  const huge = "9".repeat(40);
  assert.deepEqual(parseRange(`bytes=0-${huge}`, 1000), { type: "part", start: 0, end: 999 });
  assert.deepEqual(parseRange(`bytes=-${huge}`, 1000), { type: "part", start: 0, end: 999 });
  assert.deepEqual(parseRange(`bytes=${huge}-`, 1000), { type: "unsatisfiable" });
  // 2^53 + 1 and 2^53 + 2 are the same double: compared exactly, this is a valid (unsatisfiable) range.
  assert.deepEqual(parseRange("bytes=9007199254740993-9007199254740994", 1000), { type: "unsatisfiable" });
  assert.deepEqual(parseRange("bytes=9007199254740994-9007199254740993", 1000), { type: "whole" });
  const big = Number.MAX_SAFE_INTEGER;
  assert.deepEqual(parseRange(`bytes=${big - 1}-`, big), { type: "part", start: big - 1, end: big - 1 });
});

Deno.test("http range: no header, a malformed one, another unit or several ranges mean the whole file", () => {
  for (
    const header of [
      undefined,
      "",
      "bytes=",
      "bytes=-",
      "bytes=5-2",
      "bytes=a-b",
      "bytes=1.5-2",
      "bytes=+1-2",
      "bytes=0x10-",
      "bytes 0-1",
      "items=0-1",
      "bytes=0-1,5-6",
      "bytes=0-1,-5",
      "bytes=1000-,0-1",
      "bytes=--1",
      "bytes=1-2-3",
    ]
  ) {
    assert.deepEqual(parseRange(header, 1000), { type: "whole" }, String(header));
  }
  assert.deepEqual(parseRange("bytes=-5", 0), { type: "whole" }, "an empty file has nothing to cut");
});

Deno.test("http range: every split of a valid header parses to the same answer or to the whole", () => {
  // A header cut short anywhere must never throw nor give a part outside the file.
  const header = "bytes=12345-67890";
  for (let at = 0; at <= header.length; at++) {
    const answer = parseRange(header.slice(0, at), 50_000);
    if (answer.type === "part") assert.ok(answer.start <= answer.end && answer.end < 50_000, header.slice(0, at));
  }
});

Deno.test("http content type: by extension, text with charset, octet-stream otherwise", () => {
  assert.equal(contentType("a.txt"), "text/plain; charset=utf-8");
  assert.equal(contentType("A.JSON"), "application/json; charset=utf-8");
  assert.equal(contentType("x.tar.gz"), "application/gzip");
  assert.equal(contentType("photo.jpeg"), "image/jpeg");
  assert.equal(contentType("movie.mp4"), "video/mp4");
  assert.equal(contentType("noext"), "application/octet-stream");
  assert.equal(contentType("archive.unknown"), "application/octet-stream");
});
