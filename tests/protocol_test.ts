import assert from "node:assert/strict";
import {
  checkName,
  decodeName,
  encodeName,
  type FileHeader,
  type FileRequest,
  formatAddress,
  formatEntryLine,
  formatFileHeader,
  formatFileRequest,
  formatReply,
  formatSendReply,
  Limits,
  type Lookup,
  parseAddress,
  parseCount,
  parseEntryLine,
  parseFileHeader,
  parseFileRequest,
  parseReplyLine,
  parseSendNames,
  parseSendReply,
  parseUpdateHeader,
  ProtocolError,
  splitNameList,
  Status,
} from "../protocol.ts";

const SHA = "0123456789abcdef".repeat(4);
const SHA2 = "fedcba9876543210".repeat(4);

/** Runs `fn`, which must throw a {@link ProtocolError} with `status`; returns the error. */
function throwsStatus(fn: () => unknown, status: number, label = ""): ProtocolError {
  try {
    fn();
  } catch (error) {
    assert.ok(error instanceof ProtocolError, `${label}: expected a ProtocolError, got ${error}`);
    assert.equal(error.status, status, `${label}: ${error.message}`);
    return error;
  }
  assert.fail(`${label}: expected a ProtocolError ${status}, nothing was thrown`);
}

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

Deno.test("protocol: parseSendReply answers 400 for a malformed HOLDER line", () => {
  const bad = [`HOLDER h:1 12 ${SHA.slice(1)} name`, `HOLDER h:1 x ${SHA} name`, "HOLDER h:1 12"];
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
