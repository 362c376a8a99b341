/**
 * Specifies `protocol.ts`, the wire: every line's formatter and parser
 * (names and their encoding, SEND lists, announcements, removals, lookups,
 * waits, pushes, pages of PEERS and LIST, STATS, REPORT answers, file
 * requests and headers, chunk hashes, the `--secret` handshake's lines),
 * the status codes, and the chunk rule, checked against hashes computed
 * independently in `tests/helpers/hashes.ts`. Parsers are also fed 20,000
 * seeded random and mutated lines: each gives a value or a
 * `ProtocolError`, never another exception.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import {
  bytesToHex,
  checkName,
  CHUNK_SIZE,
  chunkCount,
  chunkHash,
  chunkSpan,
  decodeName,
  EMPTY_SHA256,
  encodeName,
  Fields,
  type FileEntry,
  type FileHeader,
  type FileRequest,
  formatAddress,
  formatAnnouncement,
  formatAuth,
  formatChunkHashes,
  formatEntryLine,
  formatFileHeader,
  formatFileRequest,
  formatHashesHeader,
  formatHashToken,
  formatIndexed,
  formatListReply,
  formatLookup,
  formatNoted,
  formatPageRequest,
  formatPeersReply,
  formatPush,
  formatRemoval,
  formatRemoved,
  formatReply,
  formatReport,
  formatSendReply,
  formatStats,
  formatStatsReply,
  formatStatusLine,
  formatWaitRequest,
  HASH_BYTES,
  impliedChunks,
  impliedRoot,
  isPeerRefusal,
  isPush,
  Limits,
  type ListedFile,
  type ListedPeer,
  type Lookup,
  notFound,
  parseAddress,
  parseAuth,
  parseAuthReply,
  parseChunkHash,
  parseCount,
  parseEntryLine,
  parseFileHeader,
  parseFileRequest,
  parseHashesHeader,
  parseHashToken,
  parseIndexed,
  parseListReply,
  parsePaging,
  parsePartialEntryLine,
  parsePeersReply,
  parsePort,
  parsePush,
  parseRemoveHeader,
  parseReplyLine,
  parseReport,
  parseSendNames,
  parseSendReply,
  parseStats,
  parseStatsReply,
  parseUpdateHeader,
  parseWait,
  ProtocolError,
  rootOf,
  splitCommand,
  splitNameList,
  Status,
  type TrackerStats,
} from "../protocol.ts";
import { throwsStatus } from "./helpers/assert.ts";
import { chunkHashes, hashToken, MiB, rootOf as rootOfBytes, sha256 } from "./helpers/hashes.ts";
import { mutatedLine, PROTOCOL_LINES, randomBytes, SeededRandom } from "./helpers/random.ts";

const SHA = "0123456789abcdef".repeat(4);
const SHA2 = "fedcba9876543210".repeat(4);

/** Splits a formatted reply into parsed reply lines. */
function replyLines(text: string) {
  assert.ok(text.endsWith("\n"), "a reply ends with a line feed");
  return text.slice(0, -1).split("\n").map(parseReplyLine);
}

// ---------------------------------------------------------------------------
// Names

const ODD_NAMES = [
  "plain.txt",
  "with space.txt",
  "two  spaces inside",
  "a,b,c.txt",
  ",leading comma",
  "100% done.txt",
  "%",
  "%%41",
  "%41 looks escaped",
  "%2C not a comma",
  "ünïcødé 日本語.txt",
  "emoji 🎉👍🏽",
  "file..txt",
  "a+b=c&d?e#f",
];

Deno.test("protocol: names with spaces, commas, % and Unicode survive encodeName then decodeName", () => {
  for (const name of ODD_NAMES) {
    const wire = encodeName(name);
    assert.ok(!wire.includes(","), `${JSON.stringify(wire)} has no raw comma`);
    assert.doesNotMatch(wire, /%(?![0-9A-F]{2})/, "every % on the wire starts an escape");
    assert.equal(decodeName(wire), name);
  }
});

Deno.test("protocol: encodeName escapes only %, comma and control characters", () => {
  assert.equal(encodeName("a b é 日"), "a b é 日");
  assert.equal(encodeName("a,b%c"), "a%2Cb%25c");
  assert.equal(encodeName("\x00\x01\t\n\r\x1b\x1f\x7f"), "%00%01%09%0A%0D%1B%1F%7F");
});

Deno.test("protocol: a name with control characters encodes to one clean line and decodes to 403", () => {
  for (const name of ["a\nb", "a\rb", "tab\there", "nul\x00", "esc\x1b[2J", "del\x7f"]) {
    const wire = encodeName(name);
    // deno-lint-ignore no-control-regex
    assert.doesNotMatch(wire, /[\x00-\x1f\x7f]/, `${JSON.stringify(wire)} carries no control character`);
    assert.equal(decodeURIComponent(wire), name, "the escape itself round-trips");
    throwsStatus(() => decodeName(wire), Status.FORBIDDEN, JSON.stringify(name));
  }
});

Deno.test("protocol: decodeName keeps a lone % literal and accepts lowercase escapes", () => {
  assert.equal(decodeName("50%"), "50%");
  assert.equal(decodeName("a%zz"), "a%zz");
  assert.equal(decodeName("a%2cb"), "a,b");
  assert.equal(decodeName("caf%C3%A9"), "café");
});

Deno.test("protocol: decodeName answers 400 for escapes that are not UTF-8", () => {
  throwsStatus(() => decodeName("x%FF"), Status.BAD_REQUEST, "%FF");
  throwsStatus(() => decodeName("x%C3"), Status.BAD_REQUEST, "truncated %C3");
});

Deno.test("protocol: decodeName refuses a path hidden in escapes with 403", () => {
  throwsStatus(() => decodeName("a%2Fb"), Status.FORBIDDEN, "a%2Fb");
  throwsStatus(() => decodeName("a%5Cb"), Status.FORBIDDEN, "a%5Cb");
  throwsStatus(() => decodeName("%2E%2E"), Status.FORBIDDEN, "%2E%2E");
  throwsStatus(() => decodeName("%2E%2E%2Fetc%2Fpasswd"), Status.FORBIDDEN, "../etc/passwd");
});

Deno.test("protocol: checkName accepts plain names and returns them", () => {
  for (const name of ["a", "a b", "a.b.c", "file..txt", "trailing.", "ünïcødé", "x".repeat(255)]) {
    assert.equal(checkName(name), name);
  }
});

Deno.test("protocol: checkName counts the 255-byte limit in UTF-8 bytes, not characters", () => {
  assert.equal(Limits.MAX_NAME_BYTES, 255);
  assert.equal(checkName("€".repeat(85)), "€".repeat(85)); // 255 bytes
  throwsStatus(() => checkName("€".repeat(86)), Status.FORBIDDEN, "258 bytes in 86 characters");
  throwsStatus(() => checkName("x".repeat(256)), Status.FORBIDDEN, "256 ASCII bytes");
  throwsStatus(() => checkName("a" + "😀".repeat(64)), Status.FORBIDDEN, "257 bytes in 129 UTF-16 units");
});

Deno.test("protocol: checkName refuses empty, relative, hidden, path and white-space names with 403", () => {
  const refused: [string, RegExp][] = [
    ["", /empty/],
    [".", /starts with '\.'/],
    ["..", /starts with '\.'/],
    [".hidden", /starts with '\.'/],
    [".part.download", /starts with '\.'/],
    ["a/b", /path separator/],
    ["/etc/passwd", /path separator/],
    ["a\\b", /path separator/],
    ["..\\x", /./],
    [" lead", /white space/],
    ["trail ", /white space/],
    ["trail\u00a0", /white space/],
    ["\u3000ideographic", /white space/],
  ];
  for (const [name, why] of refused) {
    const error = throwsStatus(() => checkName(name), Status.FORBIDDEN, JSON.stringify(name));
    assert.match(error.message, why, JSON.stringify(name));
  }
});

Deno.test("protocol: checkName refuses NUL and C0 control characters with 403", () => {
  for (const name of ["a\x00b", "a\nb", "a\rb", "a\tb", "a\x1bb", "a\x1fb", "a\x7fb", "\x01"]) {
    const error = throwsStatus(() => checkName(name), Status.FORBIDDEN, JSON.stringify(name));
    assert.match(error.message, /control character/);
  }
});

Deno.test("protocol: checkName refuses C1 control characters (NEL, CSI) like the other control characters", () => {
  // The JSDoc promises "NUL or other control characters"; U+0080..U+009F are
  // control characters (Unicode category Cc), and U+009B is a terminal CSI.
  for (const name of ["a\u0085b", "a\u009b2Jb", "a\u0080b", "a\u009fb"]) {
    throwsStatus(
      () => checkName(name),
      Status.FORBIDDEN,
      `name with U+00${name.charCodeAt(1).toString(16).toUpperCase()}`,
    );
  }
});

// ---------------------------------------------------------------------------
// SEND lists

Deno.test("protocol: splitNameList splits on commas and trims each name", () => {
  assert.deepEqual(splitNameList("a,b , c"), ["a", "b", "c"]);
  assert.deepEqual(splitNameList("  my file.txt  ,\tother one "), ["my file.txt", "other one"]);
  assert.deepEqual(splitNameList(" a ,, ,b,"), ["a", "b"]);
});

Deno.test("protocol: splitNameList leaves escapes alone, so an encoded comma stays inside its name", () => {
  assert.deepEqual(splitNameList("a%2Cb,c"), ["a%2Cb", "c"]);
  assert.deepEqual(splitNameList(encodeName("x,y") + "," + encodeName("z")), ["x%2Cy", "z"]);
});

Deno.test("protocol: splitNameList drops duplicates and keeps first-seen order", () => {
  assert.deepEqual(splitNameList("b,a,b, a ,c,a"), ["b", "a", "c"]);
});

Deno.test("protocol: an empty SEND list answers 400", () => {
  for (const text of ["", " ", ",", " , ,, ", "\t"]) {
    throwsStatus(() => splitNameList(text), Status.BAD_REQUEST, JSON.stringify(text));
    throwsStatus(() => parseSendNames(text), Status.BAD_REQUEST, JSON.stringify(text));
  }
});

Deno.test("protocol: a SEND list of 256 names passes and 257 answers 413", () => {
  assert.equal(Limits.MAX_NAMES_PER_SEND, 256);
  const names = (n: number) => Array.from({ length: n }, (_, i) => `f${i}`).join(",");
  assert.equal(splitNameList(names(256)).length, 256);
  assert.equal(parseSendNames(names(256)).length, 256);
  throwsStatus(() => splitNameList(names(257)), Status.TOO_LARGE, "257 names");
  throwsStatus(() => parseSendNames(names(257)), Status.TOO_LARGE, "257 names");
});

Deno.test("protocol: parseSendNames reports a bad name on its own and decodes the good ones", () => {
  const result = parseSendNames("good.txt, ../etc, a%2Fb, x%FF, fine name, a%2Cb");
  assert.equal(result.length, 6);
  assert.deepEqual(result[0], { ok: true, name: "good.txt" });
  assert.deepEqual(result[4], { ok: true, name: "fine name" });
  assert.deepEqual(result[5], { ok: true, name: "a,b" });
  const bad = [[1, "../etc", Status.FORBIDDEN], [2, "a%2Fb", Status.FORBIDDEN], [
    3,
    "x%FF",
    Status.BAD_REQUEST,
  ]] as const;
  for (const [i, raw, status] of bad) {
    const r = result[i];
    assert.ok(!r.ok, `${raw} is refused`);
    assert.equal(r.raw, raw);
    assert.ok(r.error instanceof ProtocolError);
    assert.equal(r.error.status, status, raw);
  }
});

// ---------------------------------------------------------------------------
// UPDATE

Deno.test("protocol: parseUpdateHeader reads a port and an entry count", () => {
  assert.deepEqual(parseUpdateHeader("8000 3"), { port: 8000, count: 3 });
  assert.deepEqual(parseUpdateHeader("1 0"), { port: 1, count: 0 });
  assert.deepEqual(parseUpdateHeader("65535\t100000"), { port: 65535, count: Limits.MAX_UPDATE_ENTRIES });
});

Deno.test("protocol: parseUpdateHeader answers 413 for a count over the limit", () => {
  throwsStatus(() => parseUpdateHeader("8000 100001"), Status.TOO_LARGE, "100001");
  throwsStatus(() => parseUpdateHeader("8000 9999999999999999"), Status.TOO_LARGE, "16 digits");
});

Deno.test("protocol: parseUpdateHeader answers 400 for anything that is not two plain numbers", () => {
  for (
    const rest of ["", "8000", "8000 3 extra", "x 3", "8000 x", "8000 -1", "8000 +1", "8000 1.5", "8000 1e3", "0 3"]
  ) {
    throwsStatus(() => parseUpdateHeader(rest), Status.BAD_REQUEST, JSON.stringify(rest));
  }
});

Deno.test("protocol: parseUpdateHeader refuses a port over 65535 as a bad request", () => {
  const error = throwsStatus(() => parseUpdateHeader("65536 1"), Status.BAD_REQUEST, "65536");
  assert.match(error.message, /port/);
});

Deno.test("protocol: parseEntryLine reads size, sha256 and a name with spaces", () => {
  assert.deepEqual(parseEntryLine(`12 ${SHA} my file.txt`), { size: 12, sha256: SHA, name: "my file.txt" });
  assert.deepEqual(parseEntryLine(`7 ${SHA} a%2Cb%25`), { size: 7, sha256: SHA, name: "a,b%" });
  assert.deepEqual(parseEntryLine(`  7\t${SHA}   x  `), { size: 7, sha256: SHA, name: "x" });
});

Deno.test("protocol: parseEntryLine lowercases an upper-case sha256", () => {
  assert.equal(parseEntryLine(`1 ${SHA.toUpperCase()} x`).sha256, SHA);
});

Deno.test("protocol: parseEntryLine answers 400 for a bad size or sha256, 413 for a size over 2^53-1", () => {
  const bad = ["", "12", `12 ${SHA}`, `x ${SHA} a`, `-1 ${SHA} a`, `1.5 ${SHA} a`, `1e3 ${SHA} a`];
  for (const line of bad) throwsStatus(() => parseEntryLine(line), Status.BAD_REQUEST, JSON.stringify(line));
  for (const sha of [SHA.slice(1), SHA + "0", "g" + SHA.slice(1), SHA.slice(0, 32)]) {
    const error = throwsStatus(() => parseEntryLine(`1 ${sha} a`), Status.BAD_REQUEST, sha);
    assert.match(error.message, /sha256/);
  }
  throwsStatus(() => parseEntryLine(`9007199254740992 ${SHA} a`), Status.TOO_LARGE, "2^53");
  assert.equal(parseEntryLine(`9007199254740991 ${SHA} a`).size, Number.MAX_SAFE_INTEGER);
});

Deno.test("protocol: parseEntryLine refuses a bad name with 403", () => {
  throwsStatus(() => parseEntryLine(`1 ${SHA} ../x`), Status.FORBIDDEN, "../x");
  throwsStatus(() => parseEntryLine(`1 ${SHA} .hidden`), Status.FORBIDDEN, ".hidden");
  throwsStatus(() => parseEntryLine(`1 ${SHA} a%2Fb`), Status.FORBIDDEN, "a%2Fb");
});

Deno.test("protocol: formatEntryLine then parseEntryLine gives the entry back", () => {
  for (const name of ODD_NAMES) {
    const entry = { name, size: 123456789, sha256: SHA };
    const line = formatEntryLine(entry);
    assert.ok(!line.includes("\n"));
    assert.deepEqual(parseEntryLine(line), entry);
  }
});

Deno.test("protocol: a name with U+2028 or U+2029 that checkName accepts survives every line it travels in", () => {
  // Linux allows these characters in file names and checkName accepts them,
  // but they must not break the parsers of the lines that carry a name.
  const failures: string[] = [];
  for (const name of ["a\u2028b", "a\u2029b"]) {
    assert.equal(checkName(name), name);
    const entry = { name, size: 3, sha256: SHA };
    const range: FileRequest = { verb: "RANGE", name, offset: 1, length: 2 };
    const found: Lookup[] = [{ name, status: Status.OK, holders: [{ address: "h:1", size: 3, sha256: SHA }] }];
    const missing: Lookup[] = [{ name, status: Status.NOT_FOUND, holders: [], message: "not found" }];
    const cases: [string, () => unknown, unknown][] = [
      ["UPDATE entry line", () => parseEntryLine(formatEntryLine(entry)), entry],
      ["GET request", () => parseFileRequest(formatFileRequest({ name, offset: 0 }).slice(0, -1)), {
        verb: "GET",
        name,
        offset: 0,
      }],
      ["RANGE request", () => parseFileRequest(formatFileRequest(range).slice(0, -1)), range],
      ["SEND reply HOLDER", () => parseSendReply(replyLines(formatSendReply(found))), found],
      ["SEND reply NOTFOUND", () => parseSendReply(replyLines(formatSendReply(missing))), missing],
    ];
    for (const [what, parse, expected] of cases) {
      const label = `${what} with U+${name.codePointAt(1)!.toString(16).toUpperCase()}`;
      try {
        assert.deepEqual(parse(), expected, label);
      } catch (error) {
        failures.push(`${label}: ${error instanceof Error ? error.message.split("\n")[0] : error}`);
      }
    }
  }
  assert.deepEqual(failures, []);
});

// ---------------------------------------------------------------------------
// Addresses

Deno.test("protocol: parseAddress reads HOST:PORT and [IPv6]:PORT", () => {
  assert.deepEqual(parseAddress("127.0.0.1:8000"), { host: "127.0.0.1", port: 8000 });
  assert.deepEqual(parseAddress("example.com:1"), { host: "example.com", port: 1 });
  assert.deepEqual(parseAddress("[::1]:65535"), { host: "::1", port: 65535 });
  assert.deepEqual(parseAddress("[fe80::1%eth0]:80"), { host: "fe80::1%eth0", port: 80 });
});

Deno.test("protocol: formatAddress brackets IPv6 hosts and parseAddress reads it back", () => {
  assert.equal(formatAddress("::1", 8080), "[::1]:8080");
  assert.equal(formatAddress("2001:db8::2", 1), "[2001:db8::2]:1");
  assert.equal(formatAddress("10.0.0.1", 80), "10.0.0.1:80");
  assert.equal(formatAddress("localhost", 443), "localhost:443");
  for (const [host, port] of [["::1", 8080], ["2001:db8::2", 1], ["10.0.0.1", 80], ["peer.example", 65535]] as const) {
    assert.deepEqual(parseAddress(formatAddress(host, port)), { host, port });
  }
});

Deno.test("protocol: parseAddress answers 400 for an unbracketed IPv6, a missing part or port 0", () => {
  const bad = [
    "::1:80",
    "host",
    "host:",
    ":80",
    "host:0",
    "host:-1",
    "host:x",
    "a b:80",
    "[::1]",
    "[::1]:",
    "[::1]:x",
    "",
  ];
  for (const text of [...bad, "host:80 ", " host:80", "[::1]:80x"]) {
    throwsStatus(() => parseAddress(text), Status.BAD_REQUEST, JSON.stringify(text));
  }
});

Deno.test("protocol: parseAddress refuses a port over 65535", () => {
  assert.throws(() => parseAddress("host:65536"), ProtocolError);
  assert.throws(() => parseAddress("[::1]:99999"), ProtocolError);
});

// ---------------------------------------------------------------------------
// Replies

Deno.test("protocol: formatReply marks every line but the last with '-'", () => {
  assert.equal(formatReply([{ status: 200, text: "ok" }]), "200 ok\n");
  const text = formatReply([{ status: 214, text: "one" }, { status: 214, text: "two words" }, {
    status: 214,
    text: "end",
  }]);
  assert.equal(text, "214-one\n214-two words\n214 end\n");
  assert.deepEqual(replyLines(text), [
    { status: 214, more: true, text: "one" },
    { status: 214, more: true, text: "two words" },
    { status: 214, more: false, text: "end" },
  ]);
});

Deno.test("protocol: parseReplyLine reads status, continuation and text", () => {
  assert.deepEqual(parseReplyLine("200 ok"), { status: 200, more: false, text: "ok" });
  assert.deepEqual(parseReplyLine("404-not here - really"), { status: 404, more: true, text: "not here - really" });
  assert.deepEqual(parseReplyLine("221 "), { status: 221, more: false, text: "" });
  assert.deepEqual(parseReplyLine("500  two spaces"), { status: 500, more: false, text: " two spaces" });
});

Deno.test("protocol: parseReplyLine answers 400 for a line that is not a reply", () => {
  for (const line of ["", "200", "200x", "20 ok", "2000 ok", "600 ok", "099 ok", "abc ok", " 200 ok", "2OO ok"]) {
    throwsStatus(() => parseReplyLine(line), Status.BAD_REQUEST, JSON.stringify(line));
  }
});

Deno.test("protocol: a SEND reply round-trips holders, missing names and refused names", () => {
  const lookups: Lookup[] = [
    {
      name: "song, live at 100%.mp3",
      status: Status.OK,
      holders: [
        { address: "10.0.0.1:7000", size: 42, sha256: SHA },
        { address: "[::1]:7001", size: 42, sha256: SHA },
      ],
    },
    { name: "not here, sorry 50%", status: Status.NOT_FOUND, holders: [] },
    { name: "other file.txt", status: Status.OK, holders: [{ address: "h:1", size: 9, sha256: SHA2 }] },
    {
      name: "a b,c/d",
      status: Status.FORBIDDEN,
      holders: [],
      message: 'refused name "a b,c/d": contains a path separator',
    },
    { name: "x%FF", status: Status.BAD_REQUEST, holders: [], message: "bad %-escape" },
  ];
  const text = formatSendReply(lookups);
  const lines = replyLines(text);
  assert.equal(lines.length, 7);
  assert.deepEqual(lines.map((l) => l.more), [true, true, true, true, true, true, false]);
  assert.deepEqual(lines.at(-1), { status: 200, more: false, text: "END 2 found, 3 not found" });
  assert.deepEqual(parseSendReply(lines), [
    lookups[0],
    { ...lookups[1], message: "not found" },
    lookups[2],
    lookups[3],
    lookups[4],
  ]);
});

Deno.test("protocol: a SEND reply of only an END line has no lookups", () => {
  assert.equal(formatSendReply([]), "200 END 0 found, 0 not found\n");
  assert.deepEqual(parseSendReply(replyLines(formatSendReply([]))), []);
});

// ---------------------------------------------------------------------------
// Partial holders (`PARTIAL`)

/** A file of three chunks with its root, as a partial holder announces it. */
const BIG = { size: 3 * CHUNK_SIZE, sha256: SHA, root: SHA2 };

Deno.test("protocol: PARTIAL announces entries as UPDATE does; each must be a file over one chunk with its root", () => {
  const entry = { name: "big, file.bin", ...BIG };
  const text = formatAnnouncement({ verb: "PARTIAL", port: 5555, httpPort: 8080 }, [entry]);
  assert.equal(text, `PARTIAL 5555 1 http=8080\n3145728 ${SHA}:${SHA2} big%2C file.bin\n`);
  const [header, line] = text.slice(0, -1).split("\n");
  assert.deepEqual(parseUpdateHeader(header.slice("PARTIAL ".length), "PARTIAL"), {
    port: 5555,
    count: 1,
    httpPort: 8080,
  });
  assert.deepEqual(parsePartialEntryLine(line), entry);
  const refused = [
    `3145728 ${SHA} big.bin`, // no root
    `${CHUNK_SIZE} ${SHA} one.bin`, // one chunk: its root follows from its hash and is never written
    `1 ${SHA} tiny.bin`,
    `0 ${EMPTY_SHA256} empty.bin`,
  ];
  for (const bad of refused) {
    const error = throwsStatus(() => parsePartialEntryLine(bad), Status.BAD_REQUEST, bad);
    assert.equal(error.message, "a partial holding needs a file over one chunk (1 MiB) with its chunk root", bad);
  }
  // The entry's own faults come first, as parseEntryLine names them.
  throwsStatus(() => parsePartialEntryLine(`3145728 ${SHA}:${SHA2} .hidden`), Status.FORBIDDEN, "refused name");
  throwsStatus(() => parseUpdateHeader("5555 100001", "PARTIAL"), Status.TOO_LARGE, "over the entry count");
});

Deno.test("protocol: a SEND reply lists partial holders on PARTIAL lines after the holders, and reads them back after them", () => {
  const whole = { address: "10.0.0.1:5555", ...BIG };
  const partials = [
    { address: "10.0.0.2:5555", ...BIG, partial: true as const },
    { address: "[::1]:5556", ...BIG, partial: true as const },
  ];
  // Given mixed, written whole first: the PARTIAL lines of a name follow its HOLDER lines.
  const lookups: Lookup[] = [
    { name: "big file.bin", status: Status.OK, holders: [partials[0], whole, partials[1]] },
    { name: "only partial.bin", status: Status.OK, holders: [partials[1]] },
    { name: "gone.bin", status: Status.NOT_FOUND, holders: [], message: "not found" },
  ];
  const lines = replyLines(formatSendReply(lookups));
  assert.deepEqual(lines.map((l) => `${l.status}${l.more ? "-" : " "}${l.text}`), [
    `200-HOLDER 10.0.0.1:5555 3145728 ${SHA}:${SHA2} big file.bin`,
    `200-PARTIAL 10.0.0.2:5555 3145728 ${SHA}:${SHA2} big file.bin`,
    `200-PARTIAL [::1]:5556 3145728 ${SHA}:${SHA2} big file.bin`,
    `200-PARTIAL [::1]:5556 3145728 ${SHA}:${SHA2} only partial.bin`,
    "404-NOTFOUND gone.bin",
    "200 END 2 found, 1 not found",
  ]);
  assert.deepEqual(parseSendReply(lines), [
    { name: "big file.bin", status: Status.OK, holders: [whole, ...partials] },
    lookups[1],
    lookups[2],
  ]);
  // Lines as a tracker might interleave them: still holders first, each kind in its order.
  const mixed = [
    `200-PARTIAL 10.0.0.2:5555 3145728 ${SHA}:${SHA2} big file.bin`,
    `200-HOLDER 10.0.0.1:5555 3145728 ${SHA}:${SHA2} big file.bin`,
    `200-PARTIAL [::1]:5556 3145728 ${SHA}:${SHA2} big file.bin`,
    "200 END 1 found, 0 not found",
  ].map(parseReplyLine);
  assert.deepEqual(parseSendReply(mixed)[0].holders, [whole, ...partials]);
});

Deno.test("protocol: parseSendReply skips line words it does not know, and refuses a PARTIAL line no partial holder sends", () => {
  const lines = [
    `200-HOLDER 10.0.0.1:5555 3 ${SHA} a.txt`,
    `200-SEEDER 10.0.0.9:5555 3 ${SHA} a.txt`, // a kind of line of some later tracker
    "200 END 1 found, 0 not found",
  ].map(parseReplyLine);
  assert.deepEqual(parseSendReply(lines), [
    { name: "a.txt", status: Status.OK, holders: [{ address: "10.0.0.1:5555", size: 3, sha256: SHA }] },
  ]);
  const bad = [
    `PARTIAL 10.0.0.2:5555 3145728 ${SHA} big.bin`, // no root
    `PARTIAL 10.0.0.2:5555 3 ${SHA} small.bin`, // one chunk
    `PARTIAL 10.0.0.2:5555 x ${SHA}:${SHA2} big.bin`,
    `PARTIAL not-an-address 3145728 ${SHA}:${SHA2} big.bin`,
    "PARTIAL 10.0.0.2:5555 3145728",
  ];
  for (const text of bad) {
    const reply = [{ status: 200, more: true, text }, { status: 200, more: false, text: "END" }];
    throwsStatus(() => parseSendReply(reply), Status.BAD_REQUEST, text);
  }
  // A name answered NOTFOUND after its PARTIAL lines is not found, and keeps no partial holder.
  const replaced = [
    `200-PARTIAL 10.0.0.2:5555 3145728 ${SHA}:${SHA2} big.bin`,
    "404-NOTFOUND big.bin",
    "200 END 0 found, 1 not found",
  ].map(parseReplyLine);
  assert.deepEqual(parseSendReply(replaced), [notFound("big.bin")]);
});

Deno.test("protocol: parseSendReply answers 400 for a malformed HOLDER line", () => {
  const bad = [
    `HOLDER h:1 12 ${SHA.slice(1)} name`,
    `HOLDER h:1 x ${SHA} name`,
    "HOLDER h:1 12",
    `HOLDER not-an-address 12 ${SHA} name`,
    `HOLDER h:0 12 ${SHA} name`,
  ];
  for (const text of bad) {
    const lines = [{ status: 200, more: true, text }, { status: 200, more: false, text: "END" }];
    throwsStatus(() => parseSendReply(lines), Status.BAD_REQUEST, text);
  }
});

// ---------------------------------------------------------------------------
// Peer to peer

Deno.test("protocol: parseFileRequest reads GET with a name that has spaces and escapes", () => {
  assert.deepEqual(parseFileRequest("GET my file.txt"), { verb: "GET", name: "my file.txt", offset: 0 });
  assert.deepEqual(parseFileRequest("get a%2Cb"), { verb: "GET", name: "a,b", offset: 0 });
  assert.deepEqual(parseFileRequest("  GET   x  "), { verb: "GET", name: "x", offset: 0 });
});

Deno.test("protocol: an empty file can only have the empty SHA-256; a root is kept only over one chunk", () => {
  const empty = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
  assert.deepEqual(parseEntryLine(`0 ${empty} e`), { size: 0, sha256: empty, name: "e" });
  throwsStatus(() => parseEntryLine(`0 ${SHA} e`), Status.BAD_REQUEST, "empty file, other hash");
  const root = "ab".repeat(32);
  assert.deepEqual(parseEntryLine(`${1024 * 1024 + 1} ${SHA}:${root} big`), {
    size: 1024 * 1024 + 1,
    sha256: SHA,
    root,
    name: "big",
  });
  throwsStatus(() => parseEntryLine(`10 ${SHA}:${root} small`), Status.BAD_REQUEST, "a made-up root for one chunk");
  throwsStatus(() => parseEntryLine(`10 ${SHA}:xyz small`), Status.BAD_REQUEST, "a root that is not hex");
});

Deno.test("protocol: parseFileRequest reads RANGE with a length or '*'", () => {
  assert.deepEqual(parseFileRequest("RANGE 10 20 my file"), { verb: "RANGE", name: "my file", offset: 10, length: 20 });
  assert.deepEqual(parseFileRequest("range 5 * f"), { verb: "RANGE", name: "f", offset: 5, length: undefined });
  assert.deepEqual(parseFileRequest("RANGE 0 0 f"), { verb: "RANGE", name: "f", offset: 0, length: 0 });
  assert.deepEqual(parseFileRequest("hashes my file"), { verb: "HASHES", name: "my file", offset: 0 });
});

Deno.test("protocol: formatFileRequest then parseFileRequest gives the request back", () => {
  const requests: FileRequest[] = [
    { verb: "GET", name: "a, b 100%.txt", offset: 0 },
    { verb: "RANGE", name: "a, b 100%.txt", offset: 7, length: 9 },
    { verb: "RANGE", name: "ünïcødé", offset: 3, length: undefined },
    { verb: "RANGE", name: "x", offset: 0, length: 4 },
    { verb: "RANGE", name: "x", offset: 0, length: undefined },
    { verb: "HASHES", name: "a, b 100%.txt", offset: 0 },
  ];
  for (const req of requests) {
    const line = formatFileRequest(req);
    assert.ok(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, "one line");
    assert.deepEqual(parseFileRequest(line.slice(0, -1)), req);
  }
});

Deno.test("protocol: parseFileRequest answers 400 for a malformed GET or RANGE", () => {
  const bad = ["GET", "GET   ", "RANGE", "RANGE 1 2", "RANGE x 2 f", "RANGE 1 -2 f", "RANGE 1 2.5 f", "RANGE 1 ** f"];
  for (const line of bad) throwsStatus(() => parseFileRequest(line), Status.BAD_REQUEST, JSON.stringify(line));
  throwsStatus(() => parseFileRequest(`RANGE ${2 ** 53} 1 f`), Status.TOO_LARGE, "offset over 2^53-1");
});

Deno.test("protocol: parseFileRequest refuses a bad name with 403", () => {
  for (const line of ["GET ../secret", "GET .hidden", "RANGE 0 * a%2Fb", "GET a\\b"]) {
    throwsStatus(() => parseFileRequest(line), Status.FORBIDDEN, JSON.stringify(line));
  }
});

Deno.test("protocol: parseFileRequest answers 400 for an unknown verb and names the verbs it knows", () => {
  for (const line of ["PUT x", "", "SEND a", "GETX a"]) {
    const error = throwsStatus(() => parseFileRequest(line), Status.BAD_REQUEST, JSON.stringify(line));
    assert.match(error.message, /GET, RANGE and HASHES/);
  }
});

Deno.test("protocol: formatFileHeader writes 200 for a whole file and 206 for a range", () => {
  assert.equal(formatFileHeader({ size: 10, sha256: SHA, offset: 0, length: 10 }), `200 10 ${SHA}\n`);
  assert.equal(formatFileHeader({ size: 10, sha256: SHA, offset: 2, length: 5 }), `206 10 ${SHA} 2 5\n`);
  assert.equal(formatFileHeader({ size: 10, sha256: SHA, offset: 0, length: 4 }), `206 10 ${SHA} 0 4\n`);
});

Deno.test("protocol: formatFileHeader then parseFileHeader gives the header back", () => {
  const headers: FileHeader[] = [
    { size: 10, sha256: SHA, offset: 0, length: 10 },
    { size: 0, sha256: SHA, offset: 0, length: 0 },
    { size: 10, sha256: SHA, offset: 2, length: 5 },
    { size: 10, sha256: SHA, offset: 10, length: 0 },
    { size: Number.MAX_SAFE_INTEGER, sha256: SHA2, offset: 1, length: Number.MAX_SAFE_INTEGER - 1 },
  ];
  for (const h of headers) assert.deepEqual(parseFileHeader(formatFileHeader(h).slice(0, -1)), h);
});

Deno.test("protocol: parseFileHeader turns an error reply into a ProtocolError with its status", () => {
  for (
    const [line, status] of [["404 no such file", 404], ["403 refused", 403], ["416 bad range", 416], [
      "500 oops",
      500,
    ]] as const
  ) {
    const error = throwsStatus(() => parseFileHeader(line), status, line);
    assert.equal(error.message, line.slice(4));
  }
});

Deno.test("protocol: parseFileHeader answers 400 for a malformed header", () => {
  const bad = [
    "garbage",
    "200 10",
    "200 10 XYZ",
    `200 -1 ${SHA}`,
    `200 10 ${SHA} 0 10`,
    `206 10 ${SHA} 2`,
    `206 10 ${SHA} x 2`,
    `206 10 ${SHA}`,
  ];
  for (const line of bad) throwsStatus(() => parseFileHeader(line), Status.BAD_REQUEST, JSON.stringify(line));
});

Deno.test("protocol: parseFileHeader refuses a range that does not fit in the file", () => {
  throwsStatus(() => parseFileHeader(`206 10 ${SHA} 11 0`), Status.TOO_LARGE, "offset past the end");
  throwsStatus(() => parseFileHeader(`206 10 ${SHA} 5 6`), Status.TOO_LARGE, "length past the end");
});

Deno.test("protocol: parseCount answers 400 for non-digits and 413 for any count over the limit, however long", () => {
  assert.equal(parseCount("42", { what: "n", max: 100 }), 42);
  throwsStatus(() => parseCount("4x", { what: "n", max: 100 }), Status.BAD_REQUEST);
  throwsStatus(() => parseCount("", { what: "n", max: 100 }), Status.BAD_REQUEST);
  throwsStatus(() => parseCount("101", { what: "n", max: 100 }), Status.TOO_LARGE);
  throwsStatus(() => parseCount("9".repeat(40), { what: "n", max: Number.MAX_SAFE_INTEGER }), Status.TOO_LARGE);
});

// ---------------------------------------------------------------------------
// REMOVE, WAIT, pushes, pages, STATS

Deno.test("protocol: parseRemoveHeader and parseWait read their headers; bad ones are ProtocolErrors", () => {
  assert.equal(parseRemoveHeader("3"), 3);
  assert.equal(parseRemoveHeader("0"), 0);
  assert.equal(parseRemoveHeader(String(Limits.MAX_UPDATE_ENTRIES)), Limits.MAX_UPDATE_ENTRIES);
  for (const bad of ["", "x", "1 2", "-1", "1.5", " "]) throwsStatus(() => parseRemoveHeader(bad), 400, bad);
  throwsStatus(() => parseRemoveHeader(String(Limits.MAX_UPDATE_ENTRIES + 1)), 413, "too many");

  assert.deepEqual(parseWait("30 a.txt, b c.txt"), { seconds: 30, names: "a.txt, b c.txt" });
  assert.deepEqual(parseWait("0 x"), { seconds: 0, names: "x" });
  assert.deepEqual(parseWait(`${Limits.MAX_WAIT_SECONDS} x`), { seconds: Limits.MAX_WAIT_SECONDS, names: "x" });
  for (const bad of ["", "30", "x a.txt", "-1 a.txt", "1e3 a.txt"]) throwsStatus(() => parseWait(bad), 400, bad);
  throwsStatus(() => parseWait(`${Limits.MAX_WAIT_SECONDS + 1} a`), 413, "a day and a second");
});

Deno.test("protocol: push lines round-trip through formatPush, isPush and parsePush", () => {
  for (const name of ["a.txt", "a, b%2C c.txt", "100%.txt", "früh stück ☕.txt"]) {
    for (const event of ["FOUND", "EXPIRED"] as const) {
      const line = formatPush({ event, name });
      assert.ok(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, JSON.stringify(line));
      assert.ok(isPush(line.trimEnd()));
      assert.deepEqual(parsePush(line.slice(0, -1)), { event, name });
    }
  }
  assert.equal(formatPush({ event: "FOUND", name: "a, b.txt" }), "* FOUND a%2C b.txt\n");
  for (const reply of ["200 PONG", "200-HOLDER x", "404-NOTFOUND *", "*FOUND x", ""]) {
    assert.equal(isPush(reply), false);
  }
  for (const bad of ["* LOST x", "* found x", "* FOUND ", "* FOUND", "FOUND x", "** FOUND x", ""]) {
    throwsStatus(() => parsePush(bad), 400, bad);
  }
  throwsStatus(() => parsePush("* FOUND ../etc/passwd"), 403, "a path");
  throwsStatus(() => parsePush("* EXPIRED .hidden"), 403, "hidden");
});

Deno.test("protocol: parsePaging reads --page N and the text after it", () => {
  assert.deepEqual(parsePaging(""), { page: 1, text: "" });
  assert.deepEqual(parsePaging("abc"), { page: 1, text: "abc" });
  assert.deepEqual(parsePaging("--page 3"), { page: 3, text: "" });
  assert.deepEqual(parsePaging("--page 2 my file"), { page: 2, text: "my file" });
  assert.deepEqual(parsePaging("--page\t7  x"), { page: 7, text: "x" });
  for (const bad of ["--page 0", "--page x", "--page -2", "--page 1.5 a"]) {
    throwsStatus(() => parsePaging(bad), 400, bad);
  }
  throwsStatus(() => parsePaging("--page 1000000001"), 413, "a billion and one");
});

Deno.test("protocol: formatStats and parseStats round-trip; a missing or bad field is a ProtocolError", () => {
  const stats: TrackerStats = {
    sessions: 3,
    peers: 2,
    files: 10,
    holders: 12,
    requests: 4567,
    rps: 12.5,
    reports: 7,
    reportedBytes: 2 ** 40,
    waiting: 1,
    uptime: 86_400,
  };
  const text = formatStats(stats);
  assert.equal(
    text,
    "sessions=3 peers=2 files=10 holders=12 requests=4567 rps=12.5 reports=7 reported-bytes=1099511627776 waiting=1 uptime=86400",
  );
  assert.deepEqual(parseStats(text), stats);
  assert.deepEqual(parseStats(`  ${text.split(" ").reverse().join("  ")} extra=9 `), stats, "any order, extra fields");
  for (const label of ["sessions", "rps", "reported-bytes", "uptime"]) {
    const without = text.split(" ").filter((f) => !f.startsWith(`${label}=`)).join(" ");
    throwsStatus(() => parseStats(without), 400, `without ${label}`);
    throwsStatus(() => parseStats(text.replace(`${label}=`, `${label}=x`)), 400, `${label} not a number`);
    throwsStatus(() => parseStats(text.replace(`${label}=`, `${label}=-`)), 400, `${label} negative`);
  }
  for (const bad of ["", "nonsense", "sessions"]) throwsStatus(() => parseStats(bad), 400, JSON.stringify(bad));
});

Deno.test("protocol: STATS writes partial= after holders when it is given; parseStats reads it, and does without it", () => {
  const stats: TrackerStats = {
    sessions: 3,
    peers: 2,
    files: 10,
    holders: 12,
    partial: 4,
    requests: 45,
    rps: 1,
    reports: 7,
    reportedBytes: 9,
    waiting: 1,
    uptime: 5,
  };
  const text = formatStats(stats);
  assert.equal(
    text,
    "sessions=3 peers=2 files=10 holders=12 partial=4 requests=45 rps=1 reports=7 reported-bytes=9 waiting=1 uptime=5",
  );
  assert.deepEqual(parseStats(text), stats);
  // A tracker from before PARTIAL does not write it: the stats are read without it, not as 0.
  const { partial: _, ...older } = stats;
  assert.deepEqual(parseStats(text.replace(" partial=4", "")), older);
  assert.equal("partial" in parseStats(text.replace(" partial=4", "")), false);
  for (const bad of ["partial=", "partial=x", "partial=-1"]) {
    throwsStatus(() => parseStats(text.replace("partial=4", bad)), 400, bad);
  }
});

Deno.test("protocol: parseStats refuses a field with no value rather than reading it as 0", () => {
  const text = formatStats({
    sessions: 3,
    peers: 2,
    files: 10,
    holders: 12,
    requests: 45,
    rps: 1,
    reports: 7,
    reportedBytes: 9,
    waiting: 1,
    uptime: 5,
  });
  throwsStatus(() => parseStats(text.replace("sessions=3", "sessions=")), 400, "sessions=");
});

// ---------------------------------------------------------------------------
// Random and mutated lines

const FUZZ_SEEDS = [
  ...PROTOCOL_LINES,
  // The lines added since: REMOVE, WAIT, pushes, pages, STATS, the handshake.
  "REMOVE 2",
  "WAIT 60 a.txt, b.txt",
  "--page 2 notes",
  "* FOUND a%2C b.txt",
  "200-PEER 127.0.0.1:5555 3\n200 END 101 peers (page 1, 100 per page; next: PEERS --page 2)",
  `200-FILE 12 ${"ab".repeat(32)} 2 a.txt\n200 END 250 files (page 2, 100 per page; next: LIST --page 3 a)`,
  "200 STATS sessions=4 peers=3 files=9 holders=12 requests=50 rps=0.5 reports=1 reported-bytes=2048 waiting=0 uptime=60",
  // A partial holding's entry line (PARTIAL).
  `3145728 ${"ab".repeat(32)}:${"cd".repeat(32)} big%2C file.bin`,
  `AUTH ${"0123456789abcdef".repeat(2)}`,
  `334 ${"0123456789abcdef".repeat(2)}`,
];

/**
 * More lines for the parsers (not for the round trip of entry lines and
 * requests, whose share of the seeds they would thin): `PARTIAL`'s header,
 * and what the tracker answers of partial holders.
 */
const PARTIAL_SEEDS = [
  "PARTIAL 5555 1 http=8080",
  `200-HOLDER 10.0.0.1:5555 3145728 ${"ab".repeat(32)}:${"cd".repeat(32)} big.bin\n` +
  `200-PARTIAL [::1]:5556 3145728 ${"ab".repeat(32)}:${"cd".repeat(32)} big.bin\n200 END 1 found, 0 not found`,
  "200 indexed 1 partial holding as 127.0.0.1:5555 (1 new, 3 in all)",
  "200 STATS sessions=4 peers=3 files=9 holders=12 partial=2 requests=50 rps=0.5 reports=1 reported-bytes=2048 waiting=0 uptime=60",
];

/** Reply lines of a (possibly multi-line) input, for the parsers of whole replies. */
const asReply = (text: string) => text.split("\n").map(parseReplyLine);

const PARSERS: [string, (line: string) => unknown][] = [
  ["parseUpdateHeader", (l) => parseUpdateHeader(l.replace(/^UPDATE /, ""))],
  ["parseUpdateHeader (PARTIAL)", (l) => parseUpdateHeader(l.replace(/^PARTIAL /, ""), "PARTIAL")],
  ["parseEntryLine", parseEntryLine],
  ["parsePartialEntryLine", parsePartialEntryLine],
  ["parseSendNames", (l) => parseSendNames(l.replace(/^SEND /, ""))],
  ["parseFileRequest", parseFileRequest],
  ["parseFileHeader", parseFileHeader],
  ["parseHashesHeader", parseHashesHeader],
  ["parseReplyLine", parseReplyLine],
  ["parseReport", (l) => parseReport(l.replace(/^REPORT /, ""))],
  ["decodeName", decodeName],
  ["parseRemoveHeader", (l) => parseRemoveHeader(l.replace(/^REMOVE /, ""))],
  ["parseWait", (l) => parseWait(l.replace(/^WAIT /, ""))],
  ["parsePaging", parsePaging],
  ["parsePush", parsePush],
  ["parseStats", parseStats],
  ["parseAddress", parseAddress],
  ["parsePort", parsePort],
  ["parseCount", (l) => parseCount(l, Fields.SIZE)],
  ["parseHashToken", (l) => parseHashToken(l, 2 * CHUNK_SIZE)],
  ["parseChunkHash", parseChunkHash],
  ["parseAuth", (l) => [parseAuth(l, "nonce"), parseAuth(l, "proof")]],
  ["parseAuthReply", (l) => [parseAuthReply(l, Status.AUTH_CHALLENGE), parseAuthReply(l, Status.AUTH_OK)]],
  ["splitCommand", splitCommand],
  ["parseSendReply", (l) => parseSendReply(asReply(l))],
  ["parsePeersReply", (l) => parsePeersReply(asReply(l))],
  ["parseListReply", (l) => parseListReply(asReply(l))],
  ["parseStatsReply", (l) => parseStatsReply(asReply(l))],
  ["parseIndexed", (l) => parseIndexed(l.replace(/^200 /, ""))],
  ["isPeerRefusal", (l) => isPeerRefusal(parseReplyLine(l))],
];

Deno.test("protocol: 20,000 random and mutated lines give each parser a value or a ProtocolError, nothing else", () => {
  // Most lines are refused: stack traces would be most of the cost, and a failure names its input anyway.
  const stackTraceLimit = Error.stackTraceLimit;
  Error.stackTraceLimit = 0;
  try {
    fuzzEveryParser();
  } finally {
    Error.stackTraceLimit = stackTraceLimit;
  }
});

function fuzzEveryParser(): void {
  const seeds = [...FUZZ_SEEDS, ...PARTIAL_SEEDS];
  for (const seed of [1, 2, 3, 4]) {
    const r = new SeededRandom(seed);
    for (let i = 0; i < 5_000; i++) {
      const line = mutatedLine(r, seeds);
      for (const [name, parse] of PARSERS) {
        try {
          parse(line);
        } catch (error) {
          if (!(error instanceof ProtocolError)) {
            assert.fail(`seed ${seed}, input ${i}, ${name}(${JSON.stringify(line)}) threw ${error}`);
          }
          assert.ok(error.status >= 400 && error.status < 600, `${name}: status ${error.status}`);
        }
      }
    }
  }
}

Deno.test("protocol: what parses from a random or mutated line formats back to the same value", () => {
  const r = new SeededRandom(9);
  let checked = 0;
  const others = { push: 0, report: 0, header: 0, hashes: 0 };
  /** Runs `check` if `parse` gives a value; a ProtocolError means the line did not parse. */
  const ifParsed = <T>(parse: () => T, check: (value: T) => void): boolean => {
    let value: T;
    try {
      value = parse();
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      return false;
    }
    check(value);
    return true;
  };
  for (let i = 0; i < 20_000; i++) {
    const line = mutatedLine(r, FUZZ_SEEDS);
    const label = JSON.stringify(line);
    if (ifParsed(() => parseEntryLine(line), (e) => assert.deepEqual(parseEntryLine(formatEntryLine(e)), e, label))) {
      checked++;
    }
    const request = () => parseFileRequest(line);
    if (ifParsed(request, (q) => assert.deepEqual(parseFileRequest(formatFileRequest(q).slice(0, -1)), q, label))) {
      checked++;
    }
    if (ifParsed(() => parsePush(line), (p) => assert.deepEqual(parsePush(formatPush(p).slice(0, -1)), p, label))) {
      others.push++;
    }
    const report = () => parseReport(line.replace(/^REPORT /, ""));
    if (ifParsed(report, (p) => assert.deepEqual(parseReport(formatReport(p).slice(7, -1)), p, label))) {
      others.report++;
    }
    const header = () => parseFileHeader(line);
    if (ifParsed(header, (h) => assert.deepEqual(parseFileHeader(formatFileHeader(h).slice(0, -1)), h, label))) {
      others.header++;
    }
    const hashes = () => parseHashesHeader(line);
    if (ifParsed(hashes, (h) => assert.deepEqual(parseHashesHeader(formatHashesHeader(h).slice(0, -1)), h, label))) {
      others.hashes++;
    }
  }
  assert.ok(checked > 1_000, `only ${checked} inputs parsed: the mutations are too harsh to test this`);
  for (const [kind, n] of Object.entries(others)) assert.ok(n > 20, `only ${n} ${kind} lines parsed`);
});

// ---------------------------------------------------------------------------
// Hostile names, wherever a name is read

/** Names as they may come on the wire that must never reach the disk. */
const HOSTILE_NAMES = [
  ".",
  "..",
  "../etc/passwd",
  "/etc/passwd",
  "a/b",
  "a\\b",
  "..\\..\\windows",
  "nul\x00.txt",
  "nul%00.txt",
  "line%0Abreak",
  "esc\x1b[2J",
  "esc%1B%5B2J",
  "csi\u009b2J",
  ".hidden",
  ".env",
  "%2Ehidden",
  "%2E%2E",
  "%2E%2E%2Fetc%2Fpasswd",
  "%2Fetc%2Fpasswd",
  "a%2Fb",
  "a%5Cb",
  "..%2F..%2Fetc",
];

Deno.test("protocol: hostile names (.., /etc/passwd, NUL, control characters, hidden names, escapes that hide a path) are refused with 403 by every parser that reads a name", () => {
  for (const raw of HOSTILE_NAMES) {
    const label = JSON.stringify(raw);
    throwsStatus(() => decodeName(raw), Status.FORBIDDEN, `decodeName ${label}`);
    throwsStatus(() => parseEntryLine(`1 ${SHA} ${raw}`), Status.FORBIDDEN, `UPDATE entry ${label}`);
    throwsStatus(() => parseFileRequest(`GET ${raw}`), Status.FORBIDDEN, `GET ${label}`);
    throwsStatus(() => parseFileRequest(`RANGE 0 * ${raw}`), Status.FORBIDDEN, `RANGE ${label}`);
    throwsStatus(() => parseFileRequest(`HASHES ${raw}`), Status.FORBIDDEN, `HASHES ${label}`);
    throwsStatus(() => parsePush(`* FOUND ${raw}`), Status.FORBIDDEN, `push ${label}`);
    throwsStatus(() => parseReport(`10.0.0.1:5555 OK 1 ${raw}`), Status.FORBIDDEN, `REPORT ${label}`);
    const holder = [`200-HOLDER 10.0.0.1:5555 1 ${SHA} ${raw}`, "200 END 1 found, 0 not found"];
    throwsStatus(() => parseSendReply(holder.map(parseReplyLine)), Status.FORBIDDEN, `HOLDER ${label}`);
    const file = [`200-FILE 1 ${SHA} 1 ${raw}`, "200 END 1 files"];
    throwsStatus(() => parseListReply(file.map(parseReplyLine)), Status.FORBIDDEN, `FILE ${label}`);
    const [sent] = parseSendNames(raw);
    assert.ok(!sent.ok, `SEND ${label} is refused`);
    assert.equal(sent.error.status, Status.FORBIDDEN, `SEND ${label}: ${sent.error.message}`);
  }
});

// ---------------------------------------------------------------------------
// Requests to the tracker, formatted then read back as the tracker reads them

/** A request of one or more lines: its lines without the last line feed. */
function requestLines(text: string): string[] {
  assert.ok(text.endsWith("\n"), `${JSON.stringify(text.slice(0, 40))} ends with a line feed`);
  return text.slice(0, -1).split("\n");
}

Deno.test("protocol: formatAnnouncement reads back through parseUpdateHeader and parseEntryLine, for UPDATE and ADD", () => {
  const entries: FileEntry[] = [
    ...ODD_NAMES.map((name, i) => ({ name, size: 1 + i * 1000, sha256: i % 2 ? SHA : SHA2 })),
    { name: "empty", size: 0, sha256: EMPTY_SHA256 },
    { name: "one chunk", size: CHUNK_SIZE, sha256: SHA },
    { name: "big, 3 chunks.bin", size: 3 * CHUNK_SIZE + 5, sha256: SHA, root: SHA2 },
  ];
  for (const verb of ["UPDATE", "ADD"] as const) {
    const lines = requestLines(formatAnnouncement({ verb, port: 5555 }, entries));
    assert.equal(lines.length, entries.length + 1);
    const command = splitCommand(lines[0]);
    assert.equal(command.verb, verb);
    assert.deepEqual(parseUpdateHeader(command.rest, verb), { port: 5555, count: entries.length });
    assert.deepEqual(lines.slice(1).map(parseEntryLine), entries);
  }
  // A root that follows from the hash of a file of one chunk is not sent, and not read back.
  const small = { name: "small", size: 100, sha256: SHA, root: impliedRoot(100, SHA) };
  const [header, line] = requestLines(formatAnnouncement({ verb: "ADD", port: 1 }, [small]));
  assert.equal(header, "ADD 1 1");
  assert.deepEqual(parseEntryLine(line), { name: "small", size: 100, sha256: SHA });
  assert.equal(formatAnnouncement({ verb: "UPDATE", port: 65535 }, []), "UPDATE 65535 0\n");
});

Deno.test("protocol: formatRemoval reads back through parseRemoveHeader and decodeName", () => {
  const lines = requestLines(formatRemoval(ODD_NAMES));
  const command = splitCommand(lines[0]);
  assert.equal(command.verb, "REMOVE");
  assert.equal(parseRemoveHeader(command.rest), ODD_NAMES.length);
  assert.deepEqual(lines.slice(1).map(decodeName), ODD_NAMES);
  assert.equal(formatRemoval([]), "REMOVE 0\n");
  assert.equal(formatRemoval(["a,b.txt", " x "]), "REMOVE 2\na%2Cb.txt\n%20x%20\n");
});

Deno.test("protocol: formatLookup reads back through splitCommand and parseSendNames, as one line", () => {
  const names = [...ODD_NAMES, " spaces around ", "tab\tinside"];
  const [line, ...more] = requestLines(formatLookup(names));
  assert.deepEqual(more, []);
  const { verb, rest } = splitCommand(line);
  assert.equal(verb, "SEND");
  const read = parseSendNames(rest);
  assert.deepEqual(read.slice(0, ODD_NAMES.length), ODD_NAMES.map((name) => ({ ok: true, name })));
  // Spaces at either end and control characters travel escaped (not trimmed, not breaking the line); once read, refused.
  assert.deepEqual(read.slice(ODD_NAMES.length).map((n) => n.ok ? n.name : `${n.raw} ${n.error.status}`), [
    "%20spaces around%20 403",
    "tab%09inside 403",
  ]);
  assert.equal(formatLookup(["a.txt"]), "SEND a.txt\n");
});

Deno.test("protocol: formatWaitRequest reads back through parseWait and parseSendNames", () => {
  for (const seconds of [0, 60, Limits.MAX_WAIT_SECONDS]) {
    const [line, ...more] = requestLines(formatWaitRequest({ seconds, names: ODD_NAMES }));
    assert.deepEqual(more, []);
    const { verb, rest } = splitCommand(line);
    assert.equal(verb, "WAIT");
    const wait = parseWait(rest);
    assert.equal(wait.seconds, seconds);
    assert.deepEqual(parseSendNames(wait.names), ODD_NAMES.map((name) => ({ ok: true, name })));
  }
  assert.equal(formatWaitRequest({ seconds: 5, names: ["a, b.txt"] }), "WAIT 5 a%2C b.txt\n");
});

Deno.test("protocol: formatPageRequest reads back through parsePaging; page 1 is asked without --page", () => {
  const cases = [
    { verb: "PEERS", page: undefined, text: undefined, line: "PEERS" },
    { verb: "PEERS", page: 1, text: undefined, line: "PEERS" },
    { verb: "PEERS", page: 7, text: undefined, line: "PEERS --page 7" },
    { verb: "LIST", page: 1, text: "notes", line: "LIST notes" },
    { verb: "LIST", page: 3, text: "my notes 2024", line: "LIST --page 3 my notes 2024" },
    { verb: "LIST", page: 2, text: "", line: "LIST --page 2" },
  ] as const;
  for (const { verb, page, text, line } of cases) {
    const [sent] = requestLines(formatPageRequest({ verb, page, text }));
    assert.equal(sent, line);
    const command = splitCommand(sent);
    assert.equal(command.verb, verb);
    assert.deepEqual(parsePaging(command.rest), { page: page ?? 1, text: text ?? "" }, line);
  }
});

// ---------------------------------------------------------------------------
// Pages of PEERS and LIST

const PAGE = Limits.LIST_PAGE;

Deno.test("protocol: a PEERS page reads back with its END line's total, page and next page: first, middle, last, past the end", () => {
  assert.equal(PAGE, 100);
  const all: ListedPeer[] = Array.from(
    { length: 250 },
    (_, i) => ({ address: `10.0.${i >> 8}.${i & 255}:5555`, files: i }),
  );
  const cases = [
    { page: 1, end: "END 250 peers (page 1, 100 per page; next: PEERS --page 2)", nextPage: 2 },
    { page: 2, end: "END 250 peers (page 2, 100 per page; next: PEERS --page 3)", nextPage: 3 },
    { page: 3, end: "END 250 peers (page 3, 100 per page; the last)", nextPage: undefined },
    { page: 4, end: "END 250 peers (page 4, 100 per page; the last)", nextPage: undefined },
  ];
  for (const { page, end, nextPage } of cases) {
    const peers = all.slice((page - 1) * PAGE, page * PAGE);
    const lines = replyLines(formatPeersReply({ peers, total: all.length, page }));
    assert.equal(lines.length, peers.length + 1, `page ${page}`);
    assert.deepEqual(lines.at(-1), { status: 200, more: false, text: end });
    const read = parsePeersReply(lines);
    assert.deepEqual(read, { peers, total: 250, page, ...(nextPage === undefined ? {} : { nextPage }) });
    assert.equal("nextPage" in read, nextPage !== undefined, `page ${page}`);
  }
  // One page, and none at all: an END line without page details.
  const three = all.slice(0, 3);
  assert.deepEqual(parsePeersReply(replyLines(formatPeersReply({ peers: three, total: 3, page: 1 }))), {
    peers: three,
    total: 3,
    page: 1,
  });
  assert.equal(formatPeersReply({ peers: [], total: 0, page: 1 }), "200 END 0 peers\n");
  assert.deepEqual(parsePeersReply(replyLines("200 END 0 peers\n")), { peers: [], total: 0, page: 1 });
});

Deno.test("protocol: a malformed END or PEER line of a PEERS page answers 400; an error reply keeps its status", () => {
  const peer = "200-PEER 10.0.0.1:5555 3";
  const badEnds = [
    "200 END peers",
    "200 END 3 files",
    "200 END 3 peers extra",
    "200 END -3 peers",
    "200 END 3 peers (page x, 100 per page; the last)",
    "200 END 3 peers (page 2, 100 per page)",
    "200 END 3 peers (page 2, 100 per page; next: PEERS)",
    "200 ENDS 3 peers",
    "200 3 peers",
  ];
  for (const end of badEnds) throwsStatus(() => parsePeersReply([peer, end].map(parseReplyLine)), 400, end);
  // The END line must be the last of the reply.
  throwsStatus(() => parsePeersReply([parseReplyLine("200-END 3 peers")]), 400, "END with more to come");
  const badPeers = [
    "200-PEER 10.0.0.1:5555",
    "200-PEER 10.0.0.1:5555 x",
    "200-PEER a b c",
    "200-PEERS a 1",
    "200-x",
    "200-PEER not-an-address 3",
    "200-PEER 10.0.0.1:99999 3",
  ];
  for (const line of badPeers) {
    throwsStatus(() => parsePeersReply([line, "200 END 1 peers"].map(parseReplyLine)), 400, line);
  }
  throwsStatus(() => parsePeersReply([parseReplyLine("400 pages count from 1")]), 400, "error reply");
  throwsStatus(() => parsePeersReply([parseReplyLine("500 oops")]), 500, "server error");
});

Deno.test("protocol: a LIST page reads back with its END line's total, page and next page: first, middle, last, past the end", () => {
  const all: ListedFile[] = Array.from({ length: 250 }, (_, i) => ({
    name: `${ODD_NAMES[i % ODD_NAMES.length]} ${i}`,
    size: i * 1000,
    sha256: i % 2 ? SHA : SHA2,
    holders: 1 + (i % 5),
  }));
  const text = "my notes";
  const cases = [
    { page: 1, end: "END 250 files (page 1, 100 per page; next: LIST --page 2 my notes)", nextPage: 2 },
    { page: 2, end: "END 250 files (page 2, 100 per page; next: LIST --page 3 my notes)", nextPage: 3 },
    { page: 3, end: "END 250 files (page 3, 100 per page; the last)", nextPage: undefined },
    { page: 4, end: "END 250 files (page 4, 100 per page; the last)", nextPage: undefined },
  ];
  for (const { page, end, nextPage } of cases) {
    const files = all.slice((page - 1) * PAGE, page * PAGE);
    const lines = replyLines(formatListReply({ files, matched: all.length, page, text }));
    assert.equal(lines.length, files.length + 1, `page ${page}`);
    assert.deepEqual(lines.at(-1), { status: 200, more: false, text: end });
    const read = parseListReply(lines);
    assert.deepEqual(read, { files, total: 250, page, ...(nextPage === undefined ? {} : { nextPage }) });
    assert.equal("nextPage" in read, nextPage !== undefined, `page ${page}`);
  }
  // Without a text, the next request has none either.
  const first = formatListReply({ files: all.slice(0, PAGE), matched: 101, page: 1, text: "" });
  assert.ok(first.endsWith("200 END 101 files (page 1, 100 per page; next: LIST --page 2)\n"));
  assert.deepEqual(parseListReply(replyLines("200 END 0 files\n")), { files: [], total: 0, page: 1 });
});

Deno.test("protocol: a malformed END or FILE line of a LIST page answers 400", () => {
  const file = `200-FILE 0 ${EMPTY_SHA256} 2 a.txt`;
  for (const end of ["200 END files", "200 END 3 peers", "200 END 3 files (page 2)", "200 END x files"]) {
    throwsStatus(() => parseListReply([file, end].map(parseReplyLine)), 400, end);
  }
  const badFiles = [
    `200-FILE x ${SHA} 2 a.txt`,
    `200-FILE 0 ${SHA.toUpperCase()} 2 a.txt`,
    `200-FILE 0 ${SHA.slice(1)} 2 a.txt`,
    `200-FILE 0 ${SHA} 2`,
    `200-FILE 0 ${SHA} x a.txt`,
    "200-FILE",
    "200-HOLDER a.txt",
  ];
  for (const line of badFiles) {
    throwsStatus(() => parseListReply([line, "200 END 1 files"].map(parseReplyLine)), 400, line);
  }
  throwsStatus(() => parseListReply([parseReplyLine("404 nothing matches")]), 404, "error reply");
});

// ---------------------------------------------------------------------------
// The tracker's one-line answers

Deno.test("protocol: formatIndexed, formatRemoved and formatNoted are one 200 line each", () => {
  const added = { verb: "ADD" as const, files: 2, address: "[::1]:5555", fresh: 1, total: 4 };
  const expected = [
    [formatIndexed(added), "indexed 2 files as [::1]:5555 (1 new, 4 in all)"],
    [formatIndexed({ ...added, verb: "UPDATE" }), "indexed 2 files as [::1]:5555"],
    [formatIndexed({ ...added, verb: "PARTIAL" }), "indexed 2 partial holdings as [::1]:5555 (1 new, 4 in all)"],
    [formatRemoved({ removed: 0, asked: 3, left: 0 }), "removed 0 of 3 files (0 left)"],
    [
      formatNoted("10.0.0.1:5555", { succeeded: 0, failed: 3, served: 0, demoted: true }),
      "noted: 10.0.0.1:5555 0 ok, 3 failed, 0 bytes served; no longer offered",
    ],
    [
      formatNoted("10.0.0.1:5555", { succeeded: 4, failed: 0, served: 2 ** 40, demoted: false }),
      "noted: 10.0.0.1:5555 4 ok, 0 failed, 1099511627776 bytes served",
    ],
  ];
  for (const [line, text] of expected) {
    assert.deepEqual(replyLines(line), [{ status: Status.OK, more: false, text }]);
  }
});

Deno.test("protocol: one file, one byte: the tracker's answers count in the singular for one", () => {
  const one = { verb: "ADD" as const, files: 1, address: "127.0.0.1:5556", fresh: 1, total: 10 };
  const lines = [
    formatIndexed(one),
    formatIndexed({ ...one, verb: "UPDATE" }),
    formatRemoved({ removed: 1, asked: 1, left: 9 }),
    formatNoted("10.0.0.1:5555", { succeeded: 1, failed: 0, served: 1, demoted: false }),
    formatListReply({ files: [], matched: 1, page: 2, text: "" }),
  ];
  assert.deepEqual(lines.map((l) => replyLines(l).at(-1)!.text), [
    "indexed 1 file as 127.0.0.1:5556 (1 new, 10 in all)",
    "indexed 1 file as 127.0.0.1:5556",
    "removed 1 of 1 file (9 left)",
    "noted: 10.0.0.1:5555 1 ok, 0 failed, 1 byte served",
    "END 1 file (page 2, 100 per page; the last)",
  ]);
  // PEERS keeps "peers" for every count: peers before 0.12 read its END line strictly (cat would fail on "1 peer").
  assert.equal(
    replyLines(formatPeersReply({ peers: [{ address: "10.0.0.1:5555", files: 3 }], total: 1, page: 1 })).at(-1)!.text,
    "END 1 peers",
  );
});

Deno.test("protocol: the answers of trackers before and after 0.12 both read back: '1 file' and '1 files', '1 peer' and '1 peers'", () => {
  for (const noun of ["file", "files"]) {
    assert.deepEqual(parseIndexed(`indexed 1 ${noun} as 127.0.0.1:5556 (1 new, 10 in all)`), {
      files: 1,
      address: "127.0.0.1:5556",
      fresh: 1,
      total: 10,
    });
    assert.deepEqual(parseIndexed(`indexed 1 ${noun} as [::1]:5556`), { files: 1, address: "[::1]:5556" });
    assert.deepEqual(parseListReply(replyLines(`200 END 1 ${noun}\n`)), { files: [], total: 1, page: 1 });
    assert.deepEqual(
      parseListReply(replyLines(`200 END 101 ${noun} (page 1, 100 per page; next: LIST --page 2)\n`)),
      { files: [], total: 101, page: 1, nextPage: 2 },
    );
  }
  for (const noun of ["peer", "peers"]) {
    assert.deepEqual(parsePeersReply(replyLines(`200-PEER 10.0.0.1:5555 3\n200 END 1 ${noun}\n`)), {
      peers: [{ address: "10.0.0.1:5555", files: 3 }],
      total: 1,
      page: 1,
    });
  }
  for (
    const bad of ["indexed 1 file", "indexed x files as 1.2.3.4:5", "indexed 1 file as nowhere", "removed 1 of 1 file"]
  ) {
    throwsStatus(() => parseIndexed(bad), 400, bad);
  }
  throwsStatus(() => parseListReply(replyLines("200 END 1 peer\n")), 400, "a PEERS end is no LIST end");
});

Deno.test("protocol: isPeerRefusal tells a peer's answer to a tracker command from a tracker's own refusals", () => {
  for (const line of ["SEND a.txt", "UPDATE 5555 1", "PEERS", "AUTH 0123", "WAIT 5 a"]) {
    const refused = (() => {
      try {
        parseFileRequest(line);
      } catch (error) {
        if (error instanceof ProtocolError) return formatStatusLine(error.status, error.message);
      }
      assert.fail(`a peer took ${line}`);
    })();
    assert.equal(isPeerRefusal(replyLines(refused)[0]), true, refused);
  }
  // What peers before 0.12 answered, byte for byte.
  assert.equal(isPeerRefusal(parseReplyLine('400 unknown command "SEND"; a peer answers GET, RANGE and HASHES')), true);
  for (
    const line of [
      '400 unknown command "FROB"; try HELP',
      "400 entry 1: size is not a number; nothing changed",
      '400-unknown command "SEND"; a peer answers GET, RANGE and HASHES',
      '500 unknown command "SEND"; a peer answers GET, RANGE and HASHES',
      "530 this server needs the shared secret (--secret)",
    ]
  ) {
    assert.equal(isPeerRefusal(parseReplyLine(line)), false, line);
  }
});

Deno.test("protocol: formatStatsReply reads back through parseStatsReply; another reply is refused", () => {
  const stats: TrackerStats = {
    sessions: 10_000,
    peers: 9_999,
    files: 1_000_000,
    holders: 5_000_000,
    requests: 123_456_789,
    rps: 1234.5,
    reports: 0,
    reportedBytes: Number.MAX_SAFE_INTEGER,
    waiting: 3,
    uptime: 0,
  };
  const lines = replyLines(formatStatsReply(stats));
  assert.equal(lines.length, 1);
  assert.deepEqual(parseStatsReply(lines), stats);
  throwsStatus(() => parseStatsReply([parseReplyLine("200 PONG")]), 400, "not STATS");
  throwsStatus(() => parseStatsReply([parseReplyLine("200 STATS peers=1")]), 400, "fields missing");
  throwsStatus(() => parseStatsReply([parseReplyLine("500 stats unavailable")]), 500, "an error reply");
});

// ---------------------------------------------------------------------------
// Chunk hashes

Deno.test("protocol: formatChunkHashes writes one hash a line and parseChunkHash reads each back", () => {
  const list = randomBytes(5 * HASH_BYTES, 3);
  const lines = requestLines(formatChunkHashes(list));
  assert.equal(lines.length, 5);
  const read = new Uint8Array(list.length);
  lines.forEach((line, i) => {
    assert.match(line, /^[0-9a-f]{64}$/);
    const hash = parseChunkHash(line);
    assert.ok(hash, line);
    read.set(hash, i * HASH_BYTES);
  });
  assert.deepEqual(read, list);
  assert.equal(formatChunkHashes(new Uint8Array(0)), "");
  for (const bad of ["", SHA.toUpperCase(), SHA.slice(1), SHA + "0", "g" + SHA.slice(1), ` ${SHA}`, `${SHA} `]) {
    assert.equal(parseChunkHash(bad), undefined, JSON.stringify(bad));
  }
});

// ---------------------------------------------------------------------------
// The handshake of --secret

Deno.test("protocol: AUTH lines carry a nonce of 32 hex digits or a proof of 64; anything else is not one", () => {
  const nonce = "0123456789abcdef".repeat(2);
  const proof = SHA;
  assert.equal(formatAuth(nonce), `AUTH ${nonce}\n`);
  assert.equal(parseAuth(formatAuth(nonce).slice(0, -1), "nonce"), nonce);
  assert.equal(parseAuth(formatAuth(proof).slice(0, -1), "proof"), proof);
  assert.equal(parseAuth(`AUTH ${nonce}`, "proof"), undefined, "a nonce is not a proof");
  assert.equal(parseAuth(`AUTH ${proof}`, "nonce"), undefined, "a proof is not a nonce");
  const notNonces = [
    `AUTH ${nonce.toUpperCase()}`,
    `AUTH ${nonce.slice(1)}`,
    `AUTH ${nonce}0`,
    `AUTH  ${nonce}`,
    `AUTH ${nonce} `,
    `auth ${nonce}`,
    `AUTH ${nonce} ${nonce}`,
    `AUTH\t${nonce}`,
    `AUTH ${"g".repeat(32)}`,
    "AUTH",
    "GET a.txt",
    "",
  ];
  for (const line of notNonces) assert.equal(parseAuth(line, "nonce"), undefined, JSON.stringify(line));
  for (const line of [`AUTH ${proof.slice(1)}`, `AUTH ${proof.toUpperCase()}`, `AUTH ${proof}0`]) {
    assert.equal(parseAuth(line, "proof"), undefined, JSON.stringify(line));
  }
});

Deno.test("protocol: parseAuthReply gives the token of 334 or 235, any other reply as a refusal, and 400 for a non-reply", () => {
  const nonce = "0123456789abcdef".repeat(2);
  const proof = SHA;
  assert.deepEqual(parseAuthReply(`334 ${nonce}`, Status.AUTH_CHALLENGE), { token: nonce });
  assert.deepEqual(parseAuthReply(`235 ${proof}`, Status.AUTH_OK), { token: proof });
  const refusals: [string, 334 | 235, number][] = [
    [`334 ${proof}`, Status.AUTH_CHALLENGE, 334],
    [`235 ${nonce}`, Status.AUTH_OK, 235],
    [`334-${nonce}`, Status.AUTH_CHALLENGE, 334],
    [`235 ${proof}`, Status.AUTH_CHALLENGE, 235],
    [`334 ${nonce}`, Status.AUTH_OK, 334],
    [`334 ${nonce.toUpperCase()}`, Status.AUTH_CHALLENGE, 334],
    ["530 this server needs the shared secret (--secret)", Status.AUTH_CHALLENGE, 530],
    ["535 wrong secret", Status.AUTH_OK, 535],
    ["421 too many connections (1)", Status.AUTH_CHALLENGE, 421],
    ['400 unknown command "AUTH"', Status.AUTH_CHALLENGE, 400],
  ];
  for (const [line, expect, status] of refusals) {
    const reply = parseAuthReply(line, expect);
    assert.ok("refusal" in reply, `${line} is a refusal`);
    assert.deepEqual(reply.refusal, parseReplyLine(line));
    assert.equal(reply.refusal.status, status);
  }
  for (const line of ["", "hello", nonce, `AUTH ${nonce}`]) {
    throwsStatus(() => parseAuthReply(line, Status.AUTH_CHALLENGE), 400, JSON.stringify(line));
  }
});

// ---------------------------------------------------------------------------
// The chunk rule, against hashes computed without protocol.ts

Deno.test("protocol: the chunk rule (chunkCount, chunkSpan, rootOf, impliedChunks, impliedRoot) agrees with hashes computed independently", () => {
  assert.equal(CHUNK_SIZE, MiB);
  for (const [i, size] of [0, 1, MiB, MiB + 1, 3 * MiB + 5].entries()) {
    const bytes = randomBytes(size, 40 + i);
    const expected = chunkHashes(bytes);
    assert.equal(chunkCount(size), expected.length, `chunkCount(${size})`);
    const list = new Uint8Array(expected.length * HASH_BYTES);
    let covered = 0;
    for (let c = 0; c < expected.length; c++) {
      const span = chunkSpan(c, size);
      assert.deepEqual(span, { offset: covered, length: Math.min(MiB, size - covered) }, `chunkSpan(${c}, ${size})`);
      const hash = chunkHash(bytes.subarray(span.offset, span.offset + span.length));
      assert.equal(bytesToHex(hash), expected[c], `chunk ${c} of ${size}`);
      list.set(hash, c * HASH_BYTES);
      covered += span.length;
    }
    assert.equal(covered, size, `the chunks of ${size} bytes cover it exactly`);
    assert.equal(rootOf(list), rootOfBytes(bytes), `rootOf, ${size} bytes`);
    const whole = sha256(bytes);
    assert.equal(formatHashToken({ size, sha256: whole, root: rootOf(list) }), hashToken(bytes), `token, ${size}`);
    if (size <= MiB) {
      assert.deepEqual(impliedChunks(size, whole), list, `impliedChunks(${size})`);
      assert.equal(impliedRoot(size, whole), rootOfBytes(bytes), `impliedRoot(${size})`);
    } else {
      assert.equal(impliedChunks(size, whole), undefined, `impliedChunks(${size})`);
      assert.equal(impliedRoot(size, whole), undefined, `impliedRoot(${size})`);
    }
  }
});

// ---------------------------------------------------------------------------
// Status codes

Deno.test("protocol: Status gives every code one name, and no two names the same code", () => {
  const codes = Object.values(Status);
  assert.equal(new Set(codes).size, codes.length, `duplicates in ${JSON.stringify(Status)}`);
  for (const code of codes) assert.ok(Number.isInteger(code) && code >= 100 && code <= 599, `${code}`);
});

/** Every `.ts` file under `dir` (relative to the project), recursively. */
async function sourceFiles(dir: string): Promise<string[]> {
  const root = join(import.meta.dirname!, "..");
  const files: string[] = [];
  for await (const entry of Deno.readDir(join(root, dir))) {
    const path = join(dir, entry.name);
    if (entry.isDirectory) files.push(...await sourceFiles(path));
    else if (entry.name.endsWith(".ts")) files.push(path);
  }
  return files.sort();
}

Deno.test("protocol: every status code the code base sends is a named Status, never a bare number", async () => {
  const root = join(import.meta.dirname!, "..");
  const files = ["main.ts", "tracker.ts", "peer.ts"];
  for (const dir of ["io", "disk", "tracker", "peer", "cli"]) files.push(...await sourceFiles(dir));
  assert.ok(files.length > 30, `only ${files.length} source files found`);
  const bare = [
    /formatStatusLine\(\s*\d/,
    /new (?:ProtocolError|AuthError|FatalRequestError)\(\s*\d/,
    /\bstatus:\s*\d/,
  ];
  const found: string[] = [];
  for (const file of files) {
    // Comments (examples in doc comments among them) send nothing.
    const code = (await Deno.readTextFile(join(root, file))).replace(
      /\/\*[\s\S]*?\*\//g,
      (c) => c.replace(/[^\n]/g, ""),
    );
    code.split("\n").forEach((line, i) => {
      const text = line.replace(/^\s*\/\/.*$/, "");
      if (bare.some((pattern) => pattern.test(text))) found.push(`${file}:${i + 1}: ${line.trim()}`);
    });
  }
  assert.deepEqual(found, [], "status codes written as bare numbers");
});

Deno.test("protocol: a SEND reply for a refused name cut through a surrogate pair is one well-formed line", () => {
  const name = "a".repeat(255) + "😀";
  const lookups: Lookup[] = [
    { name, status: Status.FORBIDDEN, holders: [], message: "longer than 255 bytes" },
    { name: "b.txt", status: Status.NOT_FOUND, holders: [], message: "not found" },
  ];
  const text = formatSendReply(lookups);
  assert.ok(text.isWellFormed());
  const lines = replyLines(text);
  assert.equal(lines.length, 3);
  assert.equal(lines[0].status, Status.FORBIDDEN);
  assert.ok(lines[0].text.length < 1024, "the name is cut, so the line does not grow with it");
  // The cut leaves 255 "a" and half of the emoji, which becomes U+FFFD.
  assert.deepEqual(parseSendReply(lines), [
    { name: "a".repeat(255) + "\ufffd", status: Status.FORBIDDEN, holders: [], message: "longer than 255 bytes" },
    lookups[1],
  ]);
  // One unit shorter, the cut falls after the whole emoji: the name comes back whole.
  const whole = "a".repeat(254) + "😀";
  assert.equal(parseSendReply(replyLines(formatSendReply([{ ...lookups[0], name: whole }])))[0].name, whole);
});
