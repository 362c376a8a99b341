/**
 * `LIST`, `PEERS` and `STATS` in words (`cli/listing.ts`), from replies as
 * `protocol.ts` formats and parses them: aligned sizes, `1 holder` and `2
 * holders`, short hashes, names as `SEND` takes them, and a last line with
 * the count, the range of a page and the command for the next.
 *
 * @module
 */

import assert from "node:assert/strict";
import {
  formatListReply,
  formatPeersReply,
  Limits,
  type ListedFile,
  parseListReply,
  parsePeersReply,
  parseReplyLine,
} from "../../protocol.ts";
import { formatFileList, formatPeerList, formatStatsLine, formatUptime } from "../../cli/listing.ts";
import { parseSendArguments } from "../../cli/prompt_syntax.ts";

/** A reply's text as the prompt gets it: parsed lines. */
const lines = (text: string) => text.trimEnd().split("\n").map(parseReplyLine);

const hash = (c: string) => c.repeat(64);

Deno.test("listing: LIST in words, sizes aligned, holders counted, short hash, names as SEND takes them", () => {
  const files: ListedFile[] = [
    { name: "a, b 100%.txt", size: 4, sha256: hash("a"), holders: 1 },
    { name: "big.iso", size: 3 * 1024 ** 3, sha256: hash("b"), holders: 12 },
    { name: "100% done.txt", size: 1536, sha256: hash("c"), holders: 2 },
  ];
  const page = parseListReply(lines(formatListReply({ files, matched: 3, page: 1, text: "" })));
  const shown = formatFileList(page, "");
  assert.deepEqual(shown, [
    '     4 B  1 holder    aaaaaaaa  "a, b 100%.txt"',
    "3.00 GiB  12 holders  bbbbbbbb  big.iso",
    "1.50 KiB  2 holders   cccccccc  100% done.txt",
    "3 files indexed",
  ]);
  // Every name shown is what a SEND of it fetches.
  const names = shown.slice(0, 3).map((l) => l.replace(/^.*? [0-9a-f]{8} {2}/, ""));
  assert.deepEqual(parseSendArguments(names.join(", ")).names, files.map((f) => f.name));
});

Deno.test("listing: LIST's last line: what was searched, the page's range, the next page's command, the last page", () => {
  const file = (i: number): ListedFile => ({ name: `f${i}`, size: 1, sha256: hash("d"), holders: 1 });
  const page = (n: number, count: number, total: number, text: string) =>
    formatFileList(
      parseListReply(lines(formatListReply({
        files: Array.from({ length: count }, (_, i) => file(i)),
        matched: total,
        page: n,
        text,
      }))),
      text,
    ).at(-1);
  assert.equal(page(1, 1, 1, "f"), '1 file whose names contain "f"');
  assert.equal(page(1, 1, 1, ""), "1 file indexed");
  assert.equal(
    page(1, Limits.LIST_PAGE, 250, "f"),
    'files 1-100 of 250 whose names contain "f"; next page: LIST --page 2 f',
  );
  assert.equal(page(2, Limits.LIST_PAGE, 250, ""), "files 101-200 of 250; next page: LIST --page 3");
  assert.equal(page(3, 50, 250, "f"), 'files 201-250 of 250 whose names contain "f" (the last page)');
  assert.equal(
    page(5, 0, 250, "f"),
    'page 5 is past the end: 250 files whose names contain "f", 100 a page; the last is LIST --page 3 f',
  );
  assert.deepEqual(
    formatFileList(parseListReply(lines(formatListReply({ files: [], matched: 0, page: 1, text: "zz" }))), "zz"),
    ['no indexed file name contains "zz"'],
  );
  assert.deepEqual(formatFileList({ files: [], total: 0, page: 1 }, ""), ["no files indexed yet"]);
});

Deno.test("listing: PEERS in words, addresses aligned, files counted, pages as LIST", () => {
  const peers = [{ address: "127.0.0.1:5555", files: 3 }, { address: "[::1]:60000", files: 1 }];
  assert.deepEqual(formatPeerList(parsePeersReply(lines(formatPeersReply({ peers, total: 2, page: 1 })))), [
    "127.0.0.1:5555  3 files",
    "[::1]:60000     1 file",
    "2 peers",
  ]);
  const many = Array.from({ length: Limits.LIST_PAGE }, (_, i) => ({ address: `10.0.0.1:${1000 + i}`, files: 0 }));
  assert.equal(
    formatPeerList(parsePeersReply(lines(formatPeersReply({ peers: many, total: 150, page: 1 })))).at(-1),
    "peers 1-100 of 150; next page: PEERS --page 2",
  );
  assert.deepEqual(formatPeerList({ peers: [], total: 0, page: 1 }), ["no peers share files now"]);
});

Deno.test("listing: STATS as one labelled line; uptime in words", () => {
  const stats = {
    sessions: 4,
    peers: 3,
    files: 1,
    holders: 12,
    requests: 50,
    rps: 0.5,
    reports: 1,
    reportedBytes: 2048,
    waiting: 1,
    uptime: 3725,
  };
  assert.equal(
    formatStatsLine(stats),
    "tracker: 3 peers (4 sessions), 1 file (12 copies), 1 name waited for; 50 requests (0.5/s), " +
      "1 report (2.00 KiB verified); up 1 h 2 min",
  );
  assert.deepEqual([5, 60, 3599, 3600, 90_000].map(formatUptime), ["5 s", "1 min", "59 min", "1 h 0 min", "1 day 1 h"]);
});
