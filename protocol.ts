/**
 * The wire: every line the tracker and peers exchange, each with its
 * formatter and its parser; the status codes, the limits and timeouts, the
 * file-name rules and encoding, and the chunk size and root rule. Pure
 * functions: no sockets, no files, and no other module of the project
 * (`docs/PROTOCOL.md` says the same in prose).
 *
 * Formatters of a whole line or reply return it ready to send, line feed
 * included; formatters of a field (an address, a hash, a name) return the
 * field. Parsers take a line without its line feed, validate every field
 * and clamp every count, and throw {@link ProtocolError} (whose `status`
 * is the reply the other side gets) for anything else.
 *
 * @example
 * ```ts
 * import { formatLookup, parseSendReply, parseReplyLine } from "./protocol.ts";
 *
 * const request = formatLookup(["hello.txt"]); // "SEND hello.txt\n"
 * const lines = ["404-NOTFOUND hello.txt", "200 END 0 found, 1 not found"].map(parseReplyLine);
 * const [lookup] = parseSendReply(lines); // { name: "hello.txt", status: 404, holders: [], … }
 * ```
 *
 * @module
 */

import { createHash } from "node:crypto";

/** Status codes, in the FTP/SMTP tradition: the first digit says the kind. */
export const Status = {
  /** Done; a whole file follows a peer's header. */
  OK: 200,
  /** Part of a file follows (`RANGE`). */
  PARTIAL: 206,
  /** Help text. */
  HELP: 214,
  /** Bye: the server closes the connection. */
  BYE: 221,
  /** The handshake's last line: the server's proof (`--secret`). */
  AUTH_OK: 235,
  /** The handshake's challenge: the server's nonce (`--secret`). */
  AUTH_CHALLENGE: 334,
  /** HTTP: the copy the client has (its `If-None-Match`) is the one we have. */
  NOT_MODIFIED: 304,
  /** HTTP: see another URL for it (the tracker's redirect to a holder). */
  TEMPORARY_REDIRECT: 307,
  /** A malformed line, an unknown command, a bad number. */
  BAD_REQUEST: 400,
  /** A name that is not a plain file name, or an action not allowed. */
  FORBIDDEN: 403,
  /** Nobody holds it, or no such file here. */
  NOT_FOUND: 404,
  /** HTTP: a method other than `GET` or `HEAD`. */
  METHOD_NOT_ALLOWED: 405,
  /** A line, a count or a list over its limit. */
  TOO_LARGE: 413,
  /** A `RANGE` past the end of the file. */
  RANGE_NOT_SATISFIABLE: 416,
  /**
   * Not here yet: a partial holder asked for a chunk it has not verified, or
   * a full holder's chunk that went to another member of a crowd a moment
   * ago. Not a failure: ask for another chunk, or this one again later.
   */
  NOT_YET: 425,
  /** Too many connections: the server closes this one. */
  TOO_MANY_CONNECTIONS: 421,
  /** Something failed inside the server. */
  SERVER_ERROR: 500,
  /** A holder sending its most answers at once: try later. */
  BUSY: 503,
  /** A server with a secret got something other than the handshake. */
  NEEDS_SECRET: 530,
  /** A wrong proof in the handshake. */
  WRONG_SECRET: 535,
} as const;

/** Every limit of the protocol, in one place. */
export const Limits = {
  /** Longest line, in bytes, terminator excluded. */
  MAX_LINE_BYTES: 65_536,
  /** Longest header line a downloader or a handshake reads (a file header, a `HASHES` line, `AUTH`). */
  MAX_HEADER_BYTES: 4_096,
  /** Longest file name, in UTF-8 bytes, after decoding (as most file systems). */
  MAX_NAME_BYTES: 255,
  /** Most names in one SEND. */
  MAX_NAMES_PER_SEND: 256,
  /** Most file entries in one UPDATE (and so files per peer). */
  MAX_UPDATE_ENTRIES: 100_000,
  /** Most (file, peer) entries the tracker's index holds in all (about 200 bytes each). */
  MAX_INDEX_ENTRIES: 5_000_000,
  /** Most holders listed per file in a SEND reply. */
  MAX_HOLDERS_PER_FILE: 50,
  /** Most partial holders (`PARTIAL` lines) listed per file in a SEND reply, after its holders. */
  MAX_PARTIAL_HOLDERS_PER_FILE: 50,
  /** Most partial holdings one tracker session may announce (`PARTIAL`). */
  MAX_PARTIAL_PER_PEER: 64,
  /** Files (or peers) per page of LIST (or PEERS). */
  LIST_PAGE: 100,
  /** Most pages of `PEERS` a client reads. */
  MAX_PEER_PAGES: 1_000,
  /** Most lines of one reply a client accepts. */
  MAX_REPLY_LINES: 100_000,
  /** Most names one tracker session may wait for at once (WAIT). */
  MAX_WAITS_PER_SESSION: 1_024,
  /** Most (session, name) waits in the whole tracker. */
  MAX_WAITS: 1_000_000,
  /** Longest WAIT, in seconds (a day). */
  MAX_WAIT_SECONDS: 86_400,
  /** Largest file size accepted on the wire (2^53 - 1, JavaScript's safe integer). */
  MAX_FILE_SIZE: Number.MAX_SAFE_INTEGER,
  /** Most connections a server (tracker or holder) keeps at once; one more gets `421`. */
  MAX_CONNECTIONS: 20_000,
  /** Most answers a holder sends at once; one more request gets `503`. */
  MAX_UPLOADS: 64,
  /** `RANGE` requests a downloader keeps sent ahead on one connection. */
  REQUESTS_AHEAD: 2,
  /** Most plain bytes in one encrypted record (`--secret`). */
  RECORD_BYTES: 64 * 1024,
  /** Most bytes of an HTTP request's line and headers together; more is answered `431`. */
  MAX_HTTP_HEADER_BYTES: 16 * 1024,
} as const;

/** How long each side waits, in one place (each is the default of an option). */
export const Timeouts = {
  /** The tracker closes a session that completes no line for this long. */
  TRACKER_IDLE_MS: 120_000,
  /** A peer sends `PING` this often while it has nothing else to ask. */
  HEARTBEAT_MS: 30_000,
  /** A holder closes a connection silent (no byte read or written) for this long. */
  HOLDER_IDLE_MS: 30_000,
  /** Connecting, one tracker request, or silence while a holder should be sending: longer fails it. */
  REQUEST_MS: 10_000,
  /** A client has this long to prove it knows the secret. */
  HANDSHAKE_MS: 10_000,
  /** On shutdown, uploads in the middle of an answer may take this long to finish it. */
  SHUTDOWN_GRACE_MS: 10_000,
  /** An HTTP client has this long to send a request's line and headers; slower is answered `408` and closed. */
  HTTP_HEADERS_MS: 10_000,
} as const;

/** An error a remote party caused (or would be told of); `status` is the reply code it maps to. */
export class ProtocolError extends Error {
  /** The wire status code for this error. */
  readonly status: number;
  /**
   * Builds an error with its wire status code.
   *
   * @example
   * ```ts
   * import assert from "node:assert/strict";
   *
   * const error = new ProtocolError(Status.NOT_FOUND, `no file "x"`);
   * assert.ok(error instanceof Error);
   * assert.equal(error.name, "ProtocolError");
   * assert.equal(error.status, 404);
   * assert.equal(error.message, 'no file "x"');
   * ```
   */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "ProtocolError";
    this.status = status;
  }
}

// ---------------------------------------------------------------------------
// Numbers, hashes, addresses

/** A count field: what to call it in a message, and the most it may be. */
export interface CountField {
  /** Its name in messages: `size`, `entry count`. */
  what: string;
  /** The largest value accepted; more is `413`. */
  max: number;
}

/** The count fields of the protocol. */
export const Fields = {
  /** A file's size, in bytes. */
  SIZE: { what: "size", max: Limits.MAX_FILE_SIZE },
  /** An offset in a file. */
  OFFSET: { what: "offset", max: Limits.MAX_FILE_SIZE },
  /** A length of bytes. */
  LENGTH: { what: "length", max: Limits.MAX_FILE_SIZE },
  /** Bytes a downloader reports. */
  BYTES: { what: "bytes", max: Limits.MAX_FILE_SIZE },
  /** The entries of an `UPDATE` or `ADD`. */
  ENTRIES: { what: "entry count", max: Limits.MAX_UPDATE_ENTRIES },
  /** The names of a `REMOVE`. */
  NAMES: { what: "name count", max: Limits.MAX_UPDATE_ENTRIES },
  /** The seconds of a `WAIT`. */
  SECONDS: { what: "seconds", max: Limits.MAX_WAIT_SECONDS },
  /** A page of `LIST` or `PEERS`. */
  PAGE: { what: "page", max: 1_000_000_000 },
  /** The chunk size in a `HASHES` header. */
  CHUNK_SIZE: { what: "chunk size", max: Limits.MAX_FILE_SIZE },
  /** The chunk count in a `HASHES` header. */
  CHUNKS: { what: "chunk count", max: Limits.MAX_FILE_SIZE },
} as const satisfies Record<string, CountField>;

const HEX64 = /^[0-9a-f]{64}$/;
const HEX32 = /^[0-9a-f]{32}$/;
/** The SHA-256 of nothing: an empty file's. */
export const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** `<sha256>` or `<sha256>:<root>`, as in UPDATE entries and HOLDER lines. */
const HASH_TOKEN = /^([0-9a-f]{64})(?::([0-9a-f]{64}))?$/;
const DIGITS = /^[0-9]+$/;

/**
 * True for a lowercase hex SHA-256 digest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(isSha256(EMPTY_SHA256), true);
 * assert.equal(isSha256("A".repeat(64)), false);
 * assert.equal(isSha256("a".repeat(63)), false);
 * ```
 */
export function isSha256(text: string): boolean {
  return HEX64.test(text);
}

/**
 * Parses a non-negative decimal integer no larger than `field.max`: `400`
 * for anything but digits, `413` for more (however many digits).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseCount("42", Fields.SIZE), 42);
 * assert.throws(() => parseCount("-1", Fields.SIZE), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parseCount("86401", Fields.SECONDS), (e: ProtocolError) => e.status === Status.TOO_LARGE);
 * ```
 */
export function parseCount(text: string, field: CountField): number {
  if (!DIGITS.test(text)) {
    throw new ProtocolError(
      Status.BAD_REQUEST,
      `${field.what} is not a number: ${JSON.stringify(text.slice(0, 32))}`,
    );
  }
  const value = Number(text);
  if (text.length > 16 || value > field.max) {
    throw new ProtocolError(
      Status.TOO_LARGE,
      `${field.what} ${text.length > 16 ? text.slice(0, 16) + "…" : value} exceeds ${field.max}`,
    );
  }
  return value;
}

/**
 * Parses a TCP port (1-65535), or throws 400.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(parsePort("5555"), 5555);
 * assert.throws(() => parsePort("0"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parsePort("65536"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parsePort(text: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65_535)) {
    throw new ProtocolError(Status.BAD_REQUEST, `port must be 1-65535, got ${JSON.stringify(text.slice(0, 16))}`);
  }
  return port;
}

/**
 * `HOST:PORT`, with brackets around an IPv6 host (`[::1]:5555`). An
 * IPv4-mapped address (`::ffff:10.0.0.1`, what a dual-stack socket reports
 * for an IPv4 client) is written as the IPv4 address it is.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatAddress("10.0.0.1", 5555), "10.0.0.1:5555");
 * assert.equal(formatAddress("::1", 5555), "[::1]:5555");
 * assert.equal(formatAddress("::ffff:10.0.0.1", 80), "10.0.0.1:80");
 * ```
 */
export function formatAddress(host: string, port: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return `${mapped[1]}:${port}`;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Parses `HOST:PORT` or `[V6]:PORT`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseAddress("10.0.0.1:5555"), { host: "10.0.0.1", port: 5555 });
 * assert.deepEqual(parseAddress("[::1]:5555"), { host: "::1", port: 5555 });
 * assert.throws(() => parseAddress("::1:5555"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseAddress(text: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  if (!match) {
    throw new ProtocolError(Status.BAD_REQUEST, `address must be HOST:PORT, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { host: match[1], port: parsePort(match[2]) };
}

// ---------------------------------------------------------------------------
// Chunks: the fixed chunk size and the root rule

/** Size of every chunk but the last. Fixed by the protocol: the root of a file depends on it. */
export const CHUNK_SIZE = 1024 * 1024;

/** Bytes of one chunk hash. */
export const HASH_BYTES = 32;

/**
 * How many chunks a file of `size` bytes has (0 for an empty file).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(chunkCount(0), 0);
 * assert.equal(chunkCount(CHUNK_SIZE), 1);
 * assert.equal(chunkCount(CHUNK_SIZE + 1), 2);
 * ```
 */
export function chunkCount(size: number): number {
  return Math.ceil(size / CHUNK_SIZE);
}

/**
 * Offset and length of chunk `index` of a file of `size` bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(chunkSpan(0, 100), { offset: 0, length: 100 });
 * assert.deepEqual(chunkSpan(1, CHUNK_SIZE + 10), { offset: CHUNK_SIZE, length: 10 });
 * ```
 */
export function chunkSpan(index: number, size: number): { offset: number; length: number } {
  const offset = index * CHUNK_SIZE;
  return { offset, length: Math.min(CHUNK_SIZE, size - offset) };
}

/**
 * The root of a list of chunk hashes laid end to end: their SHA-256, in hex.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(rootOf(new Uint8Array(0)), EMPTY_SHA256);
 * assert.equal(rootOf(hexToBytes(EMPTY_SHA256)), "5df6e0e2761359d30a8275058e299fcc0381534545f55cf43e41983f5d4c9456");
 * ```
 */
export function rootOf(hashes: Uint8Array): string {
  return createHash("sha256").update(hashes).digest("hex");
}

/**
 * The raw SHA-256 of `bytes` (a chunk's hash, as a chunk list holds it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const hash = chunkHash(new TextEncoder().encode("abc"));
 * assert.equal(hash.length, HASH_BYTES);
 * assert.equal(bytesToHex(hash), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
 * ```
 */
export function chunkHash(bytes: Uint8Array): Uint8Array {
  return createHash("sha256").update(bytes).digest();
}

/**
 * Chunk `index`'s hash in a list of chunk hashes laid end to end.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const list = hexToBytes("a".repeat(64) + "b".repeat(64));
 * assert.equal(bytesToHex(chunkHashAt(list, 1)), "b".repeat(64));
 * assert.equal(chunkHashAt(list, 2).length, 0);
 * ```
 */
export function chunkHashAt(list: Uint8Array, index: number): Uint8Array {
  return list.subarray(index * HASH_BYTES, (index + 1) * HASH_BYTES);
}

/**
 * True when two byte strings are the same.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 2])), true);
 * assert.equal(sameBytes(new Uint8Array([1, 2]), new Uint8Array([1, 3])), false);
 * assert.equal(sameBytes(new Uint8Array([1]), new Uint8Array([1, 2])), false);
 * ```
 */
export function sameBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

/**
 * The chunk hashes of a file of at most one chunk, which follow from its
 * SHA-256 alone (none for an empty file); `undefined` for a bigger file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(impliedChunks(0, EMPTY_SHA256), new Uint8Array(0));
 * assert.deepEqual(impliedChunks(100, "a".repeat(64)), new Uint8Array(HASH_BYTES).fill(0xaa));
 * assert.equal(impliedChunks(CHUNK_SIZE + 1, "a".repeat(64)), undefined);
 * ```
 */
export function impliedChunks(size: number, sha256: string): Uint8Array | undefined {
  if (size === 0) return new Uint8Array(0);
  if (size <= CHUNK_SIZE) return hexToBytes(sha256);
  return undefined;
}

/**
 * The root of a file of at most one chunk; `undefined` for a bigger file (its root must be announced).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(impliedRoot(0, EMPTY_SHA256), EMPTY_SHA256);
 * assert.equal(impliedRoot(100, "a".repeat(64)), "e0e77a507412b120f6ede61f62295b1a7b2ff19d3dcc8f7253e51663470c888e");
 * assert.equal(impliedRoot(CHUNK_SIZE + 1, "a".repeat(64)), undefined);
 * ```
 */
export function impliedRoot(size: number, sha256: string): string | undefined {
  const chunks = impliedChunks(size, sha256);
  return chunks && rootOf(chunks);
}

const HEX = Array.from({ length: 256 }, (_, i) => i.toString(16).padStart(2, "0"));

/**
 * Lower-case hex of `bytes`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(bytesToHex(new Uint8Array([0, 15, 255])), "000fff");
 * assert.equal(bytesToHex(new Uint8Array(0)), "");
 * ```
 */
export function bytesToHex(bytes: Uint8Array): string {
  let hex = "";
  for (let i = 0; i < bytes.length; i++) hex += HEX[bytes[i]];
  return hex;
}

/**
 * Bytes of an even-length hex string (checked by the caller).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(hexToBytes("000fff"), new Uint8Array([0, 15, 255]));
 * assert.deepEqual(hexToBytes(""), new Uint8Array(0));
 * ```
 */
export function hexToBytes(hex: string): Uint8Array<ArrayBuffer> {
  const bytes = new Uint8Array(hex.length >>> 1);
  for (let i = 0; i < bytes.length; i++) bytes[i] = parseInt(hex.substr(2 * i, 2), 16);
  return bytes;
}

// ---------------------------------------------------------------------------
// File names

const encoder = new TextEncoder();

/**
 * Checks that `name` may stand for a plain file directly inside a shared
 * folder, and returns it. Refused: empty, `.` and `..`, anything with `/` or
 * `\`, NUL or other control characters, names starting with `.` (hidden files
 * and partial downloads are never shared), and names over
 * {@link Limits.MAX_NAME_BYTES} bytes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkName("notes 2024.txt"), "notes 2024.txt");
 * assert.throws(() => checkName("../notes.txt"), (e: ProtocolError) => e.status === Status.FORBIDDEN);
 * assert.throws(() => checkName(".hidden"), (e: ProtocolError) => e.status === Status.FORBIDDEN);
 * ```
 */
export function checkName(name: string): string {
  const why = nameProblem(name);
  if (why) throw new ProtocolError(Status.FORBIDDEN, `refused name ${quoteName(name)}: ${why}`);
  return name;
}

/**
 * A name for a message: quoted, escaped, and cut to 64 characters so that no reply line grows with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(quoteName('say "hi"'), '"say \\"hi\\""');
 * assert.equal(quoteName("x".repeat(70)), `"${"x".repeat(64)}…"`);
 * ```
 */
export function quoteName(name: string): string {
  return JSON.stringify(name.length > 64 ? name.slice(0, 64) + "…" : name);
}

function nameProblem(name: string): string | undefined {
  if (name.length === 0) return "empty";
  if (name.startsWith(".")) return "hidden or relative (starts with '.')";
  if (name.includes("/") || name.includes("\\")) return "contains a path separator";
  if (/\p{Cc}/u.test(name)) return "contains a control character";
  if (name !== name.trim()) return "starts or ends with white space";
  // A UTF-16 unit is at most 3 UTF-8 bytes: only long names need counting.
  if (name.length * 3 > Limits.MAX_NAME_BYTES && encoder.encode(name).length > Limits.MAX_NAME_BYTES) {
    return `longer than ${Limits.MAX_NAME_BYTES} bytes`;
  }
  return undefined;
}

/**
 * Writes a file name for the wire: `%`, `,` and control characters become
 * `%XX` so that a name never breaks a line or a comma-separated list, and so
 * do spaces at either end, which a list would trim. Other spaces and Unicode
 * stay as they are.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(encodeName("a, b%.txt"), "a%2C b%25.txt");
 * assert.equal(encodeName("line\nbreak"), "line%0Abreak");
 * assert.equal(encodeName(" café "), "%20café%20");
 * ```
 */
export function encodeName(name: string): string {
  // Most names need nothing: no regular expression runs for them (a hot path of the tracker's SEND replies).
  if (!needsEncoding(name)) return name;
  return name
    // deno-lint-ignore no-control-regex
    .replace(/[%,\x00-\x1f\x7f]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"))
    .replace(/^ +| +$/g, (spaces) => "%20".repeat(spaces.length));
}

/** Whether {@link encodeName} changes `name`: a `%`, `,` or control character in it, or a space at either end. */
function needsEncoding(name: string): boolean {
  const length = name.length;
  if (length > 0 && (name.charCodeAt(0) === 0x20 || name.charCodeAt(length - 1) === 0x20)) return true;
  for (let i = 0; i < length; i++) {
    const code = name.charCodeAt(i);
    if (code < 0x20 || code === 0x7f || code === 0x25 || code === 0x2c) return true;
  }
  return false;
}

/**
 * Reads a name written by {@link encodeName}, then checks it with {@link checkName}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(decodeName("a%2C b%25.txt"), "a, b%.txt");
 * assert.equal(decodeName("100%.txt"), "100%.txt");
 * assert.throws(() => decodeName("a%2Fb.txt"), (e: ProtocolError) => e.status === Status.FORBIDDEN);
 * assert.throws(() => decodeName("%FF.txt"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function decodeName(text: string): string {
  if (!text.includes("%")) return checkName(text);
  let name: string;
  try {
    name = decodeURIComponent(literalPercents(text));
  } catch (error) {
    throw new ProtocolError(Status.BAD_REQUEST, `bad %-escape in name ${quoteName(text)}`, { cause: error });
  }
  return checkName(name);
}

/** `%` not followed by two hex digits stands for itself. */
function literalPercents(text: string): string {
  return text.replace(/%(?![0-9A-Fa-f]{2})/g, "%25");
}

/**
 * Splits a SEND argument list: names separated by commas, white space around
 * each trimmed, still encoded. Duplicates are dropped, order kept. Throws 400
 * for an empty list, 413 for more than {@link Limits.MAX_NAMES_PER_SEND}.
 * Individual names are not checked here: see {@link parseSendNames}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitNameList(" a.txt , b%2C c.txt, a.txt,"), ["a.txt", "b%2C c.txt"]);
 * assert.deepEqual(splitNameList(" hello.txt "), ["hello.txt"]);
 * assert.throws(() => splitNameList(" , "), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function splitNameList(text: string): string[] {
  if (!text.includes(",")) {
    // The common case, one name: no list to split (a hot path of the tracker).
    const name = text.trim();
    if (name.length === 0) throw new ProtocolError(Status.BAD_REQUEST, "SEND needs at least one file name");
    return [name];
  }
  const parts = text.split(",").map((p) => p.trim()).filter((p) => p.length > 0);
  if (parts.length === 0) throw new ProtocolError(Status.BAD_REQUEST, "SEND needs at least one file name");
  if (parts.length > Limits.MAX_NAMES_PER_SEND) {
    throw new ProtocolError(
      Status.TOO_LARGE,
      `SEND names ${parts.length} files; at most ${Limits.MAX_NAMES_PER_SEND}`,
    );
  }
  return [...new Set(parts)];
}

/** One name of a SEND list: decoded, or the reason it was refused. */
export type SendName = { ok: true; name: string } | { ok: false; raw: string; error: ProtocolError };

/**
 * Splits and decodes a SEND list; a bad name is reported per name, not for the whole list.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const names = parseSendNames("a.txt, a%2Etxt, .env, b%2C c.txt");
 * assert.deepEqual(names.map((n) => n.ok ? n.name : `${n.raw} ${n.error.status}`), ["a.txt", ".env 403", "b, c.txt"]);
 * ```
 */
export function parseSendNames(text: string): SendName[] {
  // The common case, one plain name (printable ASCII, nothing to decode, nothing checkName refuses): no list, no
  // set, no decoding (a hot path of the tracker).
  if (isPlainName(text)) return [{ ok: true, name: text }];
  const seen = new Set<string>();
  return splitNameList(text).flatMap((raw): SendName[] => {
    try {
      const name = decodeName(raw);
      if (seen.has(name)) return [];
      seen.add(name);
      return [{ ok: true, name }];
    } catch (error) {
      if (error instanceof ProtocolError) return [{ ok: false, raw, error }];
      throw error;
    }
  });
}

/**
 * True when `text` is one name that needs neither splitting, trimming nor
 * decoding, and that {@link checkName} accepts: printable ASCII without `,`,
 * `%`, `/` or `\`, no space at either end, not starting with `.`, not too long.
 */
function isPlainName(text: string): boolean {
  const length = text.length;
  if (length === 0 || length > Limits.MAX_NAME_BYTES) return false;
  if (text.charCodeAt(0) === 0x2e || text.charCodeAt(0) === 0x20 || text.charCodeAt(length - 1) === 0x20) return false;
  for (let i = 0; i < length; i++) {
    const code = text.charCodeAt(i);
    // "%" 0x25, "," 0x2c, "/" 0x2f, backslash 0x5c; below 0x20 and from 0x7f on: control characters or not ASCII.
    if (code < 0x20 || code >= 0x7f || code === 0x25 || code === 0x2c || code === 0x2f || code === 0x5c) return false;
  }
  return true;
}

/**
 * A list of names as a SEND argument: each encoded, joined by `, `.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatNameList(["a.txt", "b, c.txt"]), "a.txt, b%2C c.txt");
 * ```
 */
export function formatNameList(names: readonly string[]): string {
  return names.map(encodeName).join(", ");
}

// ---------------------------------------------------------------------------
// Commands

/** A command line split into its verb (upper-cased) and the rest. */
export interface CommandLine {
  /** The first word, upper-cased: commands are case-insensitive. */
  verb: string;
  /** What follows the verb, white space around it trimmed. */
  rest: string;
}

/**
 * Splits `VERB rest of line`; the verb is case-insensitive.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(splitCommand("  send a.txt, b.txt "), { verb: "SEND", rest: "a.txt, b.txt" });
 * assert.deepEqual(splitCommand("ping"), { verb: "PING", rest: "" });
 * ```
 */
export function splitCommand(line: string): CommandLine {
  // The common case, ASCII letters from the start of the line to a space or its end (`SEND a.txt`): no regular
  // expression (a hot path of the tracker). The same split as below.
  let i = 0;
  for (let code = line.charCodeAt(0); (code | 0x20) >= 0x61 && (code | 0x20) <= 0x7a; code = line.charCodeAt(++i));
  if (i > 0 && i === line.length) return { verb: line.toUpperCase(), rest: "" };
  if (i > 0 && line.charCodeAt(i) === 0x20) {
    return { verb: line.slice(0, i).toUpperCase(), rest: line.slice(i + 1).trim() };
  }
  const trimmed = line.replace(/^\s+/, "");
  const space = trimmed.search(/\s/);
  if (space < 0) return { verb: trimmed.toUpperCase(), rest: "" };
  return { verb: trimmed.slice(0, space).toUpperCase(), rest: trimmed.slice(space + 1).trim() };
}

/** A command of one word, with nothing after it. */
export type SimpleCommand = "PING" | "STATS" | "HELP" | "QUIT";

/**
 * `PING\n` and the like.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatCommand("PING"), "PING\n");
 * ```
 */
export function formatCommand(verb: SimpleCommand): string {
  return `${verb}\n`;
}

/** One file a peer announces. */
export interface FileEntry {
  /** The file's name in its folder. */
  name: string;
  /** Its size in bytes. */
  size: number;
  /** The SHA-256 of the whole file, in hex. */
  sha256: string;
  /**
   * The root of its chunk hashes, for a file of more than one chunk;
   * without it, no one can fetch the file from several holders.
   */
  root?: string;
}

/**
 * Reads `<sha256>` or `<sha256>:<root>` for a file of `size` bytes. A root
 * given for a file of one chunk must be the one that follows from its hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const a = "a".repeat(64), b = "b".repeat(64);
 * assert.deepEqual(parseHashToken(`${a}:${b}`, 2 * CHUNK_SIZE), { sha256: a, root: b });
 * assert.deepEqual(parseHashToken(a.toUpperCase(), 100), { sha256: a });
 * assert.throws(() => parseHashToken(`${a}:${b}`, 100), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parseHashToken(a, 0), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseHashToken(token: string, size: number): { sha256: string; root?: string } {
  const match = HASH_TOKEN.exec(token.toLowerCase());
  if (!match) throw new ProtocolError(Status.BAD_REQUEST, "sha256 must be 64 hex digits (then :<root>, optionally)");
  const [, sha256, root] = match;
  if (size === 0 && sha256 !== EMPTY_SHA256) {
    throw new ProtocolError(Status.BAD_REQUEST, `an empty file's sha256 is ${EMPTY_SHA256}`);
  }
  if (root === undefined) return { sha256 };
  const implied = impliedRoot(size, sha256);
  if (implied !== undefined && implied !== root) {
    throw new ProtocolError(Status.BAD_REQUEST, "the chunk root of a file of one chunk must follow from its sha256");
  }
  return implied === undefined ? { sha256, root } : { sha256 };
}

/**
 * `<sha256>`, or `<sha256>:<root>` when the root does not follow from the hash.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const a = "a".repeat(64), b = "b".repeat(64);
 * assert.equal(formatHashToken({ size: 2 * CHUNK_SIZE, sha256: a, root: b }), `${a}:${b}`);
 * assert.equal(formatHashToken({ size: 100, sha256: a, root: b }), a);
 * ```
 */
export function formatHashToken(entry: { size: number; sha256: string; root?: string }): string {
  return entry.root !== undefined && entry.size > CHUNK_SIZE ? `${entry.sha256}:${entry.root}` : entry.sha256;
}

/**
 * The verbs that announce files: `UPDATE` replaces what a peer announced,
 * `ADD` adds whole files to it, `PARTIAL` adds partial holdings (files it is
 * still downloading, of which it serves the chunks it verified).
 */
export type AnnounceVerb = "UPDATE" | "ADD" | "PARTIAL";

/** The header of an announcement: where the peer serves, how many entry lines follow. */
export interface AnnounceHeader {
  /** Where the peer serves files over TCP. */
  port: number;
  /** How many entry lines follow. */
  count: number;
  /** Where the peer also serves them over HTTP (`http=<port>`), when it does. */
  httpPort?: number;
}

/**
 * `UPDATE <port> <count> [http=<port>]` (or `ADD …`, `PARTIAL …`): the
 * header of an announcement. `http=<port>`: the peer also serves its files
 * over HTTP on that port (trackers up to 0.12 refuse the extra field; peers
 * without an HTTP face do not send it).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseUpdateHeader("5555 2"), { port: 5555, count: 2 });
 * assert.deepEqual(parseUpdateHeader("5555 0", "ADD"), { port: 5555, count: 0 });
 * assert.deepEqual(parseUpdateHeader("5555 1", "PARTIAL"), { port: 5555, count: 1 });
 * assert.throws(() => parseUpdateHeader("5555", "PARTIAL"), { message: "usage: PARTIAL <port> <count> [http=<port>]" });
 * assert.deepEqual(parseUpdateHeader("5555 1 http=8080"), { port: 5555, count: 1, httpPort: 8080 });
 * assert.throws(() => parseUpdateHeader("5555"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parseUpdateHeader("5555 1 http=0"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parseUpdateHeader("5555 100001"), (e: ProtocolError) => e.status === Status.TOO_LARGE);
 * ```
 */
export function parseUpdateHeader(rest: string, verb: AnnounceVerb = "UPDATE"): AnnounceHeader {
  const fields = rest.split(/\s+/);
  const usage = `usage: ${verb} <port> <count> [http=<port>]`;
  if (fields.length !== 2 && !(fields.length === 3 && fields[2].startsWith("http="))) {
    throw new ProtocolError(Status.BAD_REQUEST, usage);
  }
  const header: AnnounceHeader = { port: parsePort(fields[0]), count: parseCount(fields[1], Fields.ENTRIES) };
  if (fields.length === 3) header.httpPort = parsePort(fields[2].slice("http=".length));
  return header;
}

/**
 * `<size> <sha256> <name>`: one line of an UPDATE.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const entry = parseEntryLine(`0 ${EMPTY_SHA256} a%2C b.txt`);
 * assert.deepEqual(entry, { size: 0, sha256: EMPTY_SHA256, name: "a, b.txt" });
 * assert.throws(() => parseEntryLine(`0 ${EMPTY_SHA256} .env`), (e: ProtocolError) => e.status === Status.FORBIDDEN);
 * assert.throws(
 *   () => parseEntryLine(`x ${EMPTY_SHA256} a.txt`),
 *   (e: ProtocolError) => e.status === Status.BAD_REQUEST,
 * );
 * ```
 */
export function parseEntryLine(line: string): FileEntry {
  const match = /^\s*(\S+)\s+(\S+)\s+(.+)$/s.exec(line);
  if (!match) throw new ProtocolError(Status.BAD_REQUEST, "entry must be <size> <sha256> <name>");
  const size = parseCount(match[1], Fields.SIZE);
  return { size, ...parseHashToken(match[2], size), name: decodeName(match[3].trim()) };
}

/**
 * `<size> <sha256>:<root> <name>`: one line of a `PARTIAL`. As
 * {@link parseEntryLine}, and the file must be of more than one chunk, with
 * its root: a partial holder serves chunks, and a downloader checks them
 * against the root.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const a = "a".repeat(64), b = "b".repeat(64);
 * const size = 3 * CHUNK_SIZE;
 * assert.deepEqual(parsePartialEntryLine(`${size} ${a}:${b} big.bin`), { size, sha256: a, root: b, name: "big.bin" });
 * assert.throws(() => parsePartialEntryLine(`${size} ${a} big.bin`), (e: ProtocolError) => e.status === 400);
 * assert.throws(() => parsePartialEntryLine(`${CHUNK_SIZE} ${a} one.bin`), (e: ProtocolError) => e.status === 400);
 * ```
 */
export function parsePartialEntryLine(line: string): FileEntry {
  const entry = parseEntryLine(line);
  if (entry.size <= CHUNK_SIZE || entry.root === undefined) {
    throw new ProtocolError(
      Status.BAD_REQUEST,
      "a partial holding needs a file over one chunk (1 MiB) with its chunk root",
    );
  }
  return entry;
}

/**
 * One entry line of an announcement, without its line feed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const entry = { name: "a, b.txt", size: 0, sha256: EMPTY_SHA256 };
 * assert.equal(formatEntryLine(entry), `0 ${EMPTY_SHA256} a%2C b.txt`);
 * ```
 */
export function formatEntryLine(entry: FileEntry): string {
  return `${entry.size} ${formatHashToken(entry)} ${encodeName(entry.name)}`;
}

/**
 * A whole announcement: `UPDATE <port> <count> [http=<port>]` (or `ADD`,
 * `PARTIAL`), then one line per entry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const entry = { name: "a.txt", size: 0, sha256: EMPTY_SHA256 };
 * assert.equal(formatAnnouncement({ verb: "ADD", port: 5555 }, [entry]), `ADD 5555 1\n0 ${EMPTY_SHA256} a.txt\n`);
 * const big = { name: "big.bin", size: 2 * CHUNK_SIZE, sha256: "a".repeat(64), root: "b".repeat(64) };
 * assert.equal(
 *   formatAnnouncement({ verb: "PARTIAL", port: 5555 }, [big]),
 *   `PARTIAL 5555 1\n2097152 ${"a".repeat(64)}:${"b".repeat(64)} big.bin\n`,
 * );
 * assert.equal(formatAnnouncement({ verb: "UPDATE", port: 5555 }, []), "UPDATE 5555 0\n");
 * assert.equal(formatAnnouncement({ verb: "UPDATE", port: 5555, httpPort: 8080 }, []), "UPDATE 5555 0 http=8080\n");
 * ```
 */
export function formatAnnouncement(
  header: { verb: AnnounceVerb; port: number; httpPort?: number },
  entries: readonly FileEntry[],
): string {
  const http = header.httpPort === undefined ? "" : ` http=${header.httpPort}`;
  const lines = [`${header.verb} ${header.port} ${entries.length}${http}`];
  for (const entry of entries) lines.push(formatEntryLine(entry));
  return lines.join("\n") + "\n";
}

/**
 * `REMOVE <count>`, then one name per line: those files leave the index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatRemoval(["a.txt", "b,c.txt"]), "REMOVE 2\na.txt\nb%2Cc.txt\n");
 * assert.equal(formatRemoval([]), "REMOVE 0\n");
 * ```
 */
export function formatRemoval(names: readonly string[]): string {
  return [`REMOVE ${names.length}`, ...names.map(encodeName)].join("\n") + "\n";
}

/**
 * `REMOVE <count>`: the header of a list of names, one per line, that leave the index.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(parseRemoveHeader("2"), 2);
 * assert.throws(() => parseRemoveHeader("2 a.txt"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parseRemoveHeader("100001"), (e: ProtocolError) => e.status === Status.TOO_LARGE);
 * ```
 */
export function parseRemoveHeader(rest: string): number {
  if (!/^\S+$/.test(rest)) throw new ProtocolError(Status.BAD_REQUEST, "usage: REMOVE <count>");
  return parseCount(rest, Fields.NAMES);
}

/**
 * `SEND <name>[, <name>...]`: where are these files?
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatLookup(["a.txt", "b, c.txt"]), "SEND a.txt, b%2C c.txt\n");
 * ```
 */
export function formatLookup(names: readonly string[]): string {
  return `SEND ${formatNameList(names)}\n`;
}

/**
 * `WAIT <seconds> <name>[, <name>...]`: a SEND that also waits for the names nobody holds yet.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatWaitRequest({ seconds: 60, names: ["a.txt", "b.txt"] }), "WAIT 60 a.txt, b.txt\n");
 * ```
 */
export function formatWaitRequest(request: { seconds: number; names: readonly string[] }): string {
  return `WAIT ${request.seconds} ${formatNameList(request.names)}\n`;
}

/**
 * Parses the rest of a `WAIT` line: the seconds, and the name list as {@link parseSendNames} reads it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseWait("60 a.txt, b.txt"), { seconds: 60, names: "a.txt, b.txt" });
 * assert.throws(() => parseWait("60"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parseWait("86401 a.txt"), (e: ProtocolError) => e.status === Status.TOO_LARGE);
 * ```
 */
export function parseWait(rest: string): { seconds: number; names: string } {
  const m = /^(\S+)\s+(.+)$/s.exec(rest);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "usage: WAIT <seconds> <name>[, <name>...]");
  return { seconds: parseCount(m[1], Fields.SECONDS), names: m[2] };
}

/** The tracker's commands, as `HELP` lists them. */
export const TRACKER_COMMANDS: readonly string[] = [
  "commands, one per line:",
  "UPDATE <port> <count>, then <count> lines <size> <sha256> <name>",
  "ADD <port> <count>, then <count> lines <size> <sha256> <name>",
  "PARTIAL <port> <count>, then <count> lines <size> <sha256>:<root> <name> (files still downloading)",
  "REMOVE <count>, then <count> lines <name>",
  "SEND <name>[, <name>...]",
  "WAIT <seconds> <name>[, <name>...]",
  "REPORT <host:port> <OK|code> <bytes> <name>",
  "PEERS [--page N]",
  "LIST [--page N] [text]",
  "STATS",
  "PING",
  "HELP",
  "QUIT",
];

// ---------------------------------------------------------------------------
// Replies

/**
 * One reply line: a three-digit code, then `-` when more lines of the same
 * reply follow or a space on the last line, then text.
 */
export interface ReplyLine {
  /** The three-digit status. */
  status: number;
  /** True when more lines of the same reply follow (`-` after the code). */
  more: boolean;
  /** What follows the code and its separator. */
  text: string;
}

/**
 * A reply of one line, `<status> <text>\n`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatStatusLine(Status.NOT_FOUND, "no such file"), "404 no such file\n");
 * ```
 */
export function formatStatusLine(status: number, text: string): string {
  return `${status} ${text}\n`;
}

/**
 * Formats a whole reply: every line but the last carries `-`. Ends with LF.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const lines = [{ status: Status.HELP, text: "commands:" }, { status: Status.HELP, text: "PING" }];
 * assert.equal(formatReply(lines), "214-commands:\n214 PING\n");
 * ```
 */
export function formatReply(lines: readonly { status: number; text: string }[]): string {
  let out = "";
  for (let i = 0; i < lines.length; i++) {
    out += `${lines[i].status}${i < lines.length - 1 ? "-" : " "}${lines[i].text}\n`;
  }
  return out;
}

/**
 * Parses one reply line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseReplyLine("214-commands:"), { status: 214, more: true, text: "commands:" });
 * assert.deepEqual(parseReplyLine("404 not found"), { status: 404, more: false, text: "not found" });
 * assert.throws(() => parseReplyLine("OK"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseReplyLine(line: string): ReplyLine {
  const match = /^([1-5][0-9]{2})([ -])(.*)$/s.exec(line);
  if (!match) throw new ProtocolError(Status.BAD_REQUEST, `not a reply line: ${JSON.stringify(line.slice(0, 80))}`);
  return { status: Number(match[1]), more: match[2] === "-", text: match[3] };
}

/**
 * The last line of a reply, if it says success; a `4xx`/`5xx` becomes a thrown {@link ProtocolError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const lines = ["214-commands:", "214 PING"].map(parseReplyLine);
 * assert.deepEqual(expectOk(lines), { status: 214, more: false, text: "PING" });
 * assert.throws(
 *   () => expectOk([parseReplyLine("413 line too long")]),
 *   (e: ProtocolError) => e.status === Status.TOO_LARGE,
 * );
 * ```
 */
export function expectOk(lines: readonly ReplyLine[]): ReplyLine {
  const last = lines[lines.length - 1];
  if (last.status >= 400) throw new ProtocolError(last.status, last.text);
  return last;
}

/** What the tracker knows of one holder of a file. */
export interface Holder {
  /** Where the holder serves: `HOST:PORT`. */
  address: string;
  /** The size it announced. */
  size: number;
  /** The SHA-256 it announced. */
  sha256: string;
  /** The root of the holder's chunk hashes, when it announced one (files of more than one chunk). */
  root?: string;
  /**
   * A partial holder (a `PARTIAL` line): a peer still downloading this
   * version, which serves only the chunks it has verified. Always with a
   * root, for a file of more than one chunk.
   */
  partial?: true;
}

/** The tracker's answer for one requested name: 200 with holders, or an error status and message. */
export interface Lookup {
  /** The name asked for (as sent, for a refused one). */
  name: string;
  /** `200` with holders, `404` nobody holds it, `403` a refused name. */
  status: number;
  /** Its holders, best first, then its partial holders (`partial: true`); empty unless `status` is 200. */
  holders: Holder[];
  /** Why it was not found or refused. */
  message?: string;
}

/**
 * A lookup that found nobody.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(notFound("a.txt"), { name: "a.txt", status: Status.NOT_FOUND, holders: [], message: "not found" });
 * assert.equal(notFound("a.txt", "gone").message, "gone");
 * ```
 */
export function notFound(name: string, message = "not found"): Lookup {
  return { name, status: Status.NOT_FOUND, holders: [], message };
}

/**
 * Formats a SEND reply: one `HOLDER` line per holder, then one `PARTIAL`
 * line per partial holder of the same name, one line per missing or
 * refused name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const holders = [{ address: "10.0.0.1:5555", size: 0, sha256: EMPTY_SHA256 }];
 * assert.equal(
 *   formatSendReply([{ name: "a.txt", status: Status.OK, holders }, notFound("b.txt")]),
 *   `200-HOLDER 10.0.0.1:5555 0 ${EMPTY_SHA256} a.txt\n404-NOTFOUND b.txt\n200 END 1 found, 1 not found\n`,
 * );
 * const [a, b] = ["a".repeat(64), "b".repeat(64)];
 * const crowd = [
 *   { address: "10.0.0.2:5555", size: 2 * CHUNK_SIZE, sha256: a, root: b, partial: true as const },
 *   { address: "10.0.0.1:5555", size: 2 * CHUNK_SIZE, sha256: a, root: b },
 * ];
 * assert.equal(
 *   formatSendReply([{ name: "big.bin", status: Status.OK, holders: crowd }]),
 *   `200-HOLDER 10.0.0.1:5555 2097152 ${a}:${b} big.bin\n` +
 *     `200-PARTIAL 10.0.0.2:5555 2097152 ${a}:${b} big.bin\n200 END 1 found, 0 not found\n`,
 * );
 * ```
 */
export function formatSendReply(lookups: readonly Lookup[]): string {
  // Built as one string (every line but the last continues the reply: `200-…`): the tracker's hot path.
  let out = "";
  let found = 0;
  for (const l of lookups) {
    if (l.status === Status.OK) {
      found++;
      const name = encodeName(l.name);
      // Holders first, then partial holders, each kind in the order given.
      let partials = false;
      for (const h of l.holders) {
        if (h.partial === true) partials = true;
        else out += `${Status.OK}-HOLDER ${h.address} ${h.size} ${formatHashToken(h)} ${name}\n`;
      }
      if (!partials) continue;
      for (const h of l.holders) {
        if (h.partial === true) out += `${Status.OK}-PARTIAL ${h.address} ${h.size} ${formatHashToken(h)} ${name}\n`;
      }
    } else if (l.status === Status.NOT_FOUND) {
      out += `${l.status}-NOTFOUND ${encodeName(l.name)}\n`;
    } else {
      // Cut to 256 units, then made well-formed: a cut through a surrogate pair must not throw.
      out += `${l.status}-REFUSED ${encodeURIComponent(l.name.slice(0, 256).toWellFormed())} ${
        l.message ?? "refused"
      }\n`;
    }
  }
  return `${out}${Status.OK} END ${found} found, ${lookups.length - found} not found\n`;
}

/**
 * Reads a SEND reply's lines back into lookups, in the order names first
 * appear; each name's holders as they came, then its partial holders
 * (`partial: true`) as they came. Lines of a kind it does not know are
 * skipped, so that a later tracker may add some.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const reply = `200-HOLDER 10.0.0.1:5555 0 ${EMPTY_SHA256} a.txt\n404-NOTFOUND b.txt\n200 END 1 found, 1 not found`;
 * const holders = [{ address: "10.0.0.1:5555", size: 0, sha256: EMPTY_SHA256 }];
 * assert.deepEqual(parseSendReply(reply.split("\n").map(parseReplyLine)), [
 *   { name: "a.txt", status: Status.OK, holders },
 *   notFound("b.txt"),
 * ]);
 * const [a, b] = ["a".repeat(64), "b".repeat(64)];
 * const crowd = `200-PARTIAL 10.0.0.2:5555 2097152 ${a}:${b} big.bin\n200 END 1 found, 0 not found`;
 * assert.deepEqual(parseSendReply(crowd.split("\n").map(parseReplyLine)), [{
 *   name: "big.bin",
 *   status: Status.OK,
 *   holders: [{ address: "10.0.0.2:5555", size: 2 * CHUNK_SIZE, sha256: a, root: b, partial: true }],
 * }]);
 * ```
 */
export function parseSendReply(lines: readonly ReplyLine[]): Lookup[] {
  const byName = new Map<string, Lookup>();
  const partials = new Map<Lookup, Holder[]>();
  for (const line of lines.slice(0, -1)) {
    const { verb, rest } = splitCommand(line.text);
    if (verb === "HOLDER" || verb === "PARTIAL") {
      const m = /^(\S+) (\d+) (\S+) (.+)$/s.exec(rest);
      if (!m) throw new ProtocolError(Status.BAD_REQUEST, `bad ${verb} line: ${line.text}`);
      const name = decodeName(m[4]);
      let lookup = byName.get(name);
      if (!lookup) byName.set(name, lookup = { name, status: Status.OK, holders: [] });
      if (lookup.status !== Status.OK) continue;
      const size = parseCount(m[2], Fields.SIZE);
      parseAddress(m[1]); // a holder's address must be one, or the line is refused
      const holder: Holder = { address: m[1], size, ...parseHashToken(m[3], size) };
      if (verb === "HOLDER") {
        lookup.holders.push(holder);
        continue;
      }
      if (holder.root === undefined || size <= CHUNK_SIZE) {
        throw new ProtocolError(Status.BAD_REQUEST, `bad PARTIAL line: not a file over one chunk with its root`);
      }
      let list = partials.get(lookup);
      if (!list) partials.set(lookup, list = []);
      list.push({ ...holder, partial: true });
    } else if (verb === "NOTFOUND") {
      const name = decodeLoosely(rest);
      byName.set(name, notFound(name));
    } else if (verb === "REFUSED") {
      const space = rest.indexOf(" ");
      const name = decodeLoosely(space < 0 ? rest : rest.slice(0, space));
      const message = space < 0 ? "refused" : rest.slice(space + 1);
      byName.set(name, { name, status: line.status, holders: [], message });
    }
  }
  // A NOTFOUND or REFUSED line after a name's holders replaces its lookup: its partial holders go with it.
  for (const [lookup, list] of partials) if (byName.get(lookup.name) === lookup) lookup.holders.push(...list);
  return [...byName.values()];
}

/** A %-encoded name that may not be a valid one (a refused name): decoded where possible, else as it came. */
function decodeLoosely(text: string): string {
  try {
    return decodeURIComponent(literalPercents(text));
  } catch {
    return text;
  }
}

/** `1 file`, `2 files`: a count and its noun, in the singular for one. */
function counted(n: number, noun: string): string {
  return `${n} ${noun}${n === 1 ? "" : "s"}`;
}

/** What the tracker did with an announcement, as its answer says. */
export interface Indexed {
  /** The entries of the announcement. */
  files: number;
  /** Where the tracker lists the announcer: `HOST:PORT`. */
  address: string;
  /** For an `ADD` or `PARTIAL`: how many of them the peer did not announce before (whole or partial). */
  fresh?: number;
  /**
   * For an `ADD`: how many whole files the tracker now lists for the peer in
   * all; for a `PARTIAL`, how many partial holdings.
   */
  total?: number;
  /** The answer to a `PARTIAL`: the entries are partial holdings. */
  partial?: true;
}

/**
 * `indexed N file(s) as ADDR`, and for an `ADD` ` (F new, T in all)`: the
 * answer to an announcement. A `PARTIAL`'s counts `partial holding(s)`,
 * and its `T` is the peer's partial holdings in all.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const result = { verb: "ADD" as const, files: 2, address: "10.0.0.1:5555", fresh: 1, total: 4 };
 * assert.equal(formatIndexed(result), "200 indexed 2 files as 10.0.0.1:5555 (1 new, 4 in all)\n");
 * assert.equal(formatIndexed({ ...result, verb: "UPDATE" }), "200 indexed 2 files as 10.0.0.1:5555\n");
 * assert.equal(formatIndexed({ ...result, files: 1 }), "200 indexed 1 file as 10.0.0.1:5555 (1 new, 4 in all)\n");
 * assert.equal(
 *   formatIndexed({ ...result, verb: "PARTIAL", files: 1, total: 3 }),
 *   "200 indexed 1 partial holding as 10.0.0.1:5555 (1 new, 3 in all)\n",
 * );
 * ```
 */
export function formatIndexed(
  result: { verb: AnnounceVerb; files: number; address: string; fresh: number; total: number },
): string {
  const noun = result.verb === "PARTIAL" ? "partial holding" : "file";
  const text = `indexed ${counted(result.files, noun)} as ${result.address}`;
  return formatStatusLine(
    Status.OK,
    result.verb === "UPDATE" ? text : `${text} (${result.fresh} new, ${result.total} in all)`,
  );
}

/**
 * Reads the text of the answer to an `UPDATE`, `ADD` or `PARTIAL` (see
 * {@link formatIndexed}); `file` and `files` are both taken, whatever the
 * count, as trackers before 0.12 wrote `1 files`. Throws `ProtocolError`
 * (`400`) for any other text.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseIndexed("indexed 1 file as 10.0.0.1:5555 (1 new, 4 in all)"), {
 *   files: 1,
 *   address: "10.0.0.1:5555",
 *   fresh: 1,
 *   total: 4,
 * });
 * assert.deepEqual(parseIndexed("indexed 1 files as [::1]:5555"), { files: 1, address: "[::1]:5555" });
 * assert.deepEqual(parseIndexed("indexed 2 partial holdings as 10.0.0.1:5555 (1 new, 3 in all)"), {
 *   files: 2,
 *   address: "10.0.0.1:5555",
 *   fresh: 1,
 *   total: 3,
 *   partial: true,
 * });
 * assert.throws(() => parseIndexed("indexed many"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseIndexed(text: string): Indexed {
  const m = /^indexed (\d+) (files?|partial holdings?) as (\S+)(?: \((\d+) new, (\d+) in all\))?$/.exec(text);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, `not an answer to an announcement: ${text.slice(0, 80)}`);
  const files = parseCount(m[1], Fields.ENTRIES);
  const { host, port } = parseAddress(m[3]);
  const address = formatAddress(host, port);
  const indexed: Indexed = m[4] === undefined
    ? { files, address }
    : { files, address, fresh: parseCount(m[4], Fields.ENTRIES), total: parseCount(m[5], Fields.ENTRIES) };
  if (m[2].startsWith("partial")) indexed.partial = true;
  return indexed;
}

/**
 * `removed R of N file(s) (T left)`: the answer to a `REMOVE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatRemoved({ removed: 1, asked: 2, left: 3 }), "200 removed 1 of 2 files (3 left)\n");
 * assert.equal(formatRemoved({ removed: 1, asked: 1, left: 0 }), "200 removed 1 of 1 file (0 left)\n");
 * ```
 */
export function formatRemoved(result: { removed: number; asked: number; left: number }): string {
  const text = `removed ${result.removed} of ${counted(result.asked, "file")} (${result.left} left)`;
  return formatStatusLine(Status.OK, text);
}

// ---------------------------------------------------------------------------
// Pages: PEERS and LIST

/**
 * `LIST [--page N] [text]` and `PEERS [--page N]`: which page (from 1), and the rest.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parsePaging("--page 2 notes"), { page: 2, text: "notes" });
 * assert.deepEqual(parsePaging("notes"), { page: 1, text: "notes" });
 * assert.throws(() => parsePaging("--page 0"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * assert.throws(() => parsePaging("--page two"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parsePaging(rest: string): { page: number; text: string } {
  const m = /^--page\s+(\S+)\s*(.*)$/s.exec(rest);
  if (!m) return { page: 1, text: rest };
  const page = parseCount(m[1], Fields.PAGE);
  if (page < 1) throw new ProtocolError(Status.BAD_REQUEST, "pages count from 1");
  return { page, text: m[2] };
}

/**
 * `PEERS [--page N]` or `LIST [--page N] [text]`, as a client asks for a page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatPageRequest({ verb: "LIST", page: 2, text: "notes" }), "LIST --page 2 notes\n");
 * assert.equal(formatPageRequest({ verb: "PEERS", page: 1 }), "PEERS\n");
 * ```
 */
export function formatPageRequest(request: { verb: "PEERS" | "LIST"; page?: number; text?: string }): string {
  const page = request.page !== undefined && request.page > 1 ? ` --page ${request.page}` : "";
  const text = request.text ? ` ${request.text}` : "";
  return `${request.verb}${page}${text}\n`;
}

/** Where a page stands among the others, as its `END` line says. */
export interface PageEnd {
  /** Everything that matched, over every page. */
  total: number;
  /** This page, from 1. */
  page: number;
  /** The page to ask for next; absent on the last page. */
  nextPage?: number;
}

/**
 * `END 250 files`, or with more than one page
 * `END 250 files (page 2, 100 per page; next: LIST --page 3 text)` and
 * `(page 3, 100 per page; the last)`: the last line of a page. `LIST`
 * counts `1 file`; `PEERS` writes `peers` whatever the count, since peers
 * before 0.12 read its `END` line strictly and `cat` would fail on `1 peer`.
 */
function formatPageEnd(end: { total: number; noun: "file" | "peer"; page: number; more: boolean; next: string }) {
  const head = `END ${end.noun === "peer" ? `${end.total} peers` : counted(end.total, end.noun)}`;
  if (end.page === 1 && !end.more) return head;
  const next = end.more ? `; next: ${end.next}` : "; the last";
  return `${head} (page ${end.page}, ${Limits.LIST_PAGE} per page${next})`;
}

/** Reads a page's `END` line (see {@link formatPageEnd}); the noun may be singular or plural, whatever the count. */
function parsePageEnd(line: ReplyLine, noun: "file" | "peer"): PageEnd {
  const m = new RegExp(
    `^END (\\d+) ${noun}s?(?: \\(page (\\d+), \\d+ per page; (?:next: \\S+ --page (\\d+)(?: .*)?|the last)\\))?$`,
    "s",
  )
    .exec(line.text);
  if (line.more || !m) throw new ProtocolError(Status.BAD_REQUEST, `bad END line: ${line.text.slice(0, 80)}`);
  const total = parseCount(m[1], { what: `${noun} count`, max: Limits.MAX_FILE_SIZE });
  const page = m[2] === undefined ? 1 : parseCount(m[2], Fields.PAGE);
  return m[3] === undefined ? { total, page } : { total, page, nextPage: parseCount(m[3], Fields.PAGE) };
}

/** A peer the tracker lists. */
export interface ListedPeer {
  /** Where it serves: `HOST:PORT`. */
  address: string;
  /** How many files it announced. */
  files: number;
}

/**
 * A `PEERS` page: `PEER <address> <files>` lines, then `END`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const peers = [{ address: "10.0.0.1:5555", files: 3 }];
 * assert.equal(formatPeersReply({ peers, total: 1, page: 1 }), "200-PEER 10.0.0.1:5555 3\n200 END 1 peers\n");
 * assert.equal(
 *   formatPeersReply({ peers, total: 101, page: 1 }),
 *   "200-PEER 10.0.0.1:5555 3\n200 END 101 peers (page 1, 100 per page; next: PEERS --page 2)\n",
 * );
 * ```
 */
export function formatPeersReply(page: { peers: readonly ListedPeer[]; total: number; page: number }): string {
  const more = (page.page - 1) * Limits.LIST_PAGE + page.peers.length < page.total;
  return formatReply([
    ...page.peers.map((p) => ({ status: Status.OK, text: `PEER ${p.address} ${p.files}` })),
    {
      status: Status.OK,
      text: formatPageEnd({
        total: page.total,
        noun: "peer",
        page: page.page,
        more,
        next: `PEERS --page ${page.page + 1}`,
      }),
    },
  ]);
}

/**
 * Reads a `PEERS` page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const lines = ["200-PEER 10.0.0.1:5555 3", "200 END 101 peers (page 1, 100 per page; next: PEERS --page 2)"];
 * assert.deepEqual(parsePeersReply(lines.map(parseReplyLine)), {
 *   peers: [{ address: "10.0.0.1:5555", files: 3 }],
 *   total: 101,
 *   page: 1,
 *   nextPage: 2,
 * });
 * assert.equal(parsePeersReply([parseReplyLine("200 END 1 peer")]).total, 1); // a singular is read too
 * assert.throws(
 *   () => parsePeersReply([parseReplyLine("200 END peers")]),
 *   (e: ProtocolError) => e.status === Status.BAD_REQUEST,
 * );
 * ```
 */
export function parsePeersReply(lines: readonly ReplyLine[]): { peers: ListedPeer[] } & PageEnd {
  const end = parsePageEnd(expectOk(lines), "peer");
  const peers = lines.slice(0, -1).map((line) => {
    const m = /^PEER (\S+) (\d+)$/.exec(line.text);
    if (!m) throw new ProtocolError(Status.BAD_REQUEST, `bad PEER line: ${line.text.slice(0, 80)}`);
    parseAddress(m[1]); // a peer's address must be one, or the line is refused
    return { address: m[1], files: parseCount(m[2], Fields.ENTRIES) };
  });
  return { peers, ...end };
}

/** One indexed file name and how many peers hold it. */
export interface ListedFile {
  /** The file's name. */
  name: string;
  /** Size, as its first holder announced it. */
  size: number;
  /** SHA-256, as its first holder announced it. */
  sha256: string;
  /** How many peers hold it. */
  holders: number;
}

/**
 * A `LIST` page: `FILE <size> <sha256> <holders> <name>` lines, then `END`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const files = [{ name: "a.txt", size: 0, sha256: EMPTY_SHA256, holders: 2 }];
 * const line = `200-FILE 0 ${EMPTY_SHA256} 2 a.txt\n`;
 * assert.equal(formatListReply({ files, matched: 1, page: 1, text: "" }), `${line}200 END 1 file\n`);
 * assert.equal(
 *   formatListReply({ files, matched: 101, page: 1, text: "a" }),
 *   `${line}200 END 101 files (page 1, 100 per page; next: LIST --page 2 a)\n`,
 * );
 * ```
 */
export function formatListReply(
  page: { files: readonly ListedFile[]; matched: number; page: number; text: string },
): string {
  const more = (page.page - 1) * Limits.LIST_PAGE + page.files.length < page.matched;
  const next = `LIST --page ${page.page + 1}${page.text ? " " + page.text : ""}`;
  return formatReply([
    ...page.files.map((f) => ({
      status: Status.OK,
      text: `FILE ${f.size} ${f.sha256} ${f.holders} ${encodeName(f.name)}`,
    })),
    { status: Status.OK, text: formatPageEnd({ total: page.matched, noun: "file", page: page.page, more, next }) },
  ]);
}

/**
 * Reads a `LIST` page.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const lines = [`200-FILE 0 ${EMPTY_SHA256} 2 a%2C b.txt`, "200 END 1 file"].map(parseReplyLine);
 * assert.deepEqual(parseListReply(lines), {
 *   files: [{ name: "a, b.txt", size: 0, sha256: EMPTY_SHA256, holders: 2 }],
 *   total: 1,
 *   page: 1,
 * });
 * // Trackers before 0.12 wrote "1 files": still read.
 * assert.equal(parseListReply([...lines.slice(0, 1), parseReplyLine("200 END 1 files")]).total, 1);
 * assert.throws(
 *   () => parseListReply([parseReplyLine("400 bad page")]),
 *   (e: ProtocolError) => e.status === Status.BAD_REQUEST,
 * );
 * ```
 */
export function parseListReply(lines: readonly ReplyLine[]): { files: ListedFile[] } & PageEnd {
  const end = parsePageEnd(expectOk(lines), "file");
  const files = lines.slice(0, -1).map((line) => {
    const m = /^FILE (\d+) ([0-9a-f]{64}) (\d+) (.+)$/s.exec(line.text);
    if (!m) throw new ProtocolError(Status.BAD_REQUEST, `bad FILE line: ${line.text.slice(0, 80)}`);
    return {
      name: decodeName(m[4]),
      size: parseCount(m[1], Fields.SIZE),
      sha256: m[2],
      holders: parseCount(m[3], Fields.ENTRIES),
    };
  });
  return { files, ...end };
}

// ---------------------------------------------------------------------------
// Peer to peer

/**
 * A request to a holder: `GET` (the whole file, then the holder closes),
 * `RANGE` (part of it, and the connection stays open for the next request),
 * `HASHES` (the file's chunk hashes; the connection stays open too), or
 * `HAVE` (which chunks it holds, and, from a partial holder, each new one as
 * it lands, pushed on this connection).
 */
export interface FileRequest {
  /** Which kind of request. */
  verb: "GET" | "RANGE" | "HASHES" | "HAVE";
  /** The file asked for. */
  name: string;
  /** First byte wanted (0 for GET and HASHES). */
  offset: number;
  /** Bytes wanted; `undefined` means to the end of the file. */
  length?: number;
}

/**
 * Parses `GET <name>`, `RANGE <offset> <length|*> <name>`, `HASHES <name>` or `HAVE <name>`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseFileRequest("get a%2C b.txt"), { verb: "GET", name: "a, b.txt", offset: 0 });
 * const range = parseFileRequest("RANGE 10 * a.txt");
 * assert.deepEqual(range, { verb: "RANGE", name: "a.txt", offset: 10, length: undefined });
 * assert.deepEqual(parseFileRequest("RANGE 10 5 a.txt"), { verb: "RANGE", name: "a.txt", offset: 10, length: 5 });
 * assert.deepEqual(parseFileRequest("HAVE a.txt"), { verb: "HAVE", name: "a.txt", offset: 0 });
 * assert.throws(() => parseFileRequest("PUT a.txt"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseFileRequest(line: string): FileRequest {
  const { verb, rest } = splitCommand(line);
  if (verb === "GET" || verb === "HASHES" || verb === "HAVE") {
    if (!rest) throw new ProtocolError(Status.BAD_REQUEST, `usage: ${verb} <name>`);
    return { verb, name: decodeName(rest), offset: 0 };
  }
  if (verb === "RANGE") {
    const m = /^(\S+)\s+(\S+)\s+(.+)$/s.exec(rest);
    if (!m) throw new ProtocolError(Status.BAD_REQUEST, "usage: RANGE <offset> <length|*> <name>");
    const offset = parseCount(m[1], Fields.OFFSET);
    const length = m[2] === "*" ? undefined : parseCount(m[2], Fields.LENGTH);
    return { verb, name: decodeName(m[3]), offset, length };
  }
  throw new ProtocolError(
    Status.BAD_REQUEST,
    `unknown command ${JSON.stringify(verb.slice(0, 32))}; ${PEER_REQUESTS}`,
  );
}

/** How a peer's answer to a line that is not a file request ends, in every version: what tells it from a tracker. */
const PEER_REQUESTS = "a peer answers GET, RANGE and HASHES";

/**
 * True for a peer's answer to a line that is not a file request
 * (`400 unknown command "SEND"; a peer answers GET, RANGE and HASHES`): a
 * client that meant to talk to a tracker has reached a peer.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const refused = () => parseFileRequest("SEND a.txt");
 * assert.throws(refused, (e: ProtocolError) => isPeerRefusal({ status: e.status, more: false, text: e.message }));
 * assert.equal(isPeerRefusal(parseReplyLine('400 unknown command "FROB"; try HELP')), false); // a tracker's
 * ```
 */
export function isPeerRefusal(line: ReplyLine): boolean {
  return line.status === Status.BAD_REQUEST && !line.more && line.text.startsWith("unknown command ") &&
    line.text.endsWith(`; ${PEER_REQUESTS}`);
}

/**
 * Formats a file request line (with its line feed); without a verb, `GET` for a whole file, else `RANGE`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatFileRequest({ name: "a, b.txt", offset: 0 }), "GET a%2C b.txt\n");
 * assert.equal(formatFileRequest({ name: "a.txt", offset: 10, length: 5 }), "RANGE 10 5 a.txt\n");
 * assert.equal(formatFileRequest({ verb: "RANGE", name: "a.txt", offset: 0 }), "RANGE 0 * a.txt\n");
 * assert.equal(formatFileRequest({ verb: "HASHES", name: "a.txt", offset: 0 }), "HASHES a.txt\n");
 * assert.equal(formatFileRequest({ verb: "HAVE", name: "a.txt", offset: 0 }), "HAVE a.txt\n");
 * ```
 */
export function formatFileRequest(req: Omit<FileRequest, "verb"> & { verb?: FileRequest["verb"] }): string {
  if (req.verb === "HASHES" || req.verb === "HAVE") return `${req.verb} ${encodeName(req.name)}\n`;
  if (req.verb !== "RANGE" && req.offset === 0 && req.length === undefined) return `GET ${encodeName(req.name)}\n`;
  return `RANGE ${req.offset} ${req.length ?? "*"} ${encodeName(req.name)}\n`;
}

/** A holder's answer that is not the one asked for: its own error status, or 400 for an unexpected success code. */
function replyError(reply: ReplyLine): ProtocolError {
  if (reply.status >= 400) return new ProtocolError(reply.status, reply.text);
  return new ProtocolError(Status.BAD_REQUEST, `unexpected answer ${reply.status} ${reply.text.slice(0, 80)}`);
}

/** The header of a `HASHES` answer; `count` lines of 64 hex digits follow, one chunk hash each. */
export interface HashesHeader {
  /** The file's size. */
  size: number;
  /** The file's SHA-256. */
  sha256: string;
  /** The chunk size the hashes are of ({@link CHUNK_SIZE}). */
  chunkSize: number;
  /** How many chunk hash lines follow. */
  count: number;
}

/**
 * `200 HASHES <size> <sha256> <chunk-size> <count>`
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const header = { size: 0, sha256: EMPTY_SHA256, chunkSize: CHUNK_SIZE, count: 0 };
 * assert.equal(formatHashesHeader(header), `200 HASHES 0 ${EMPTY_SHA256} 1048576 0\n`);
 * ```
 */
export function formatHashesHeader(h: HashesHeader): string {
  return formatStatusLine(Status.OK, `HASHES ${h.size} ${h.sha256} ${h.chunkSize} ${h.count}`);
}

/**
 * Parses a `HASHES` answer's header; an error reply becomes a thrown {@link ProtocolError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const header = parseHashesHeader(`200 HASHES 0 ${EMPTY_SHA256} 1048576 0`);
 * assert.deepEqual(header, { size: 0, sha256: EMPTY_SHA256, chunkSize: CHUNK_SIZE, count: 0 });
 * assert.throws(() => parseHashesHeader("404 no such file"), (e: ProtocolError) => e.status === Status.NOT_FOUND);
 * assert.throws(
 *   () => parseHashesHeader(`200 0 ${EMPTY_SHA256}`),
 *   (e: ProtocolError) => e.status === Status.BAD_REQUEST,
 * );
 * ```
 */
export function parseHashesHeader(line: string): HashesHeader {
  const reply = parseReplyLine(line);
  if (reply.status !== Status.OK) throw replyError(reply);
  const m = /^HASHES (\d+) ([0-9a-f]{64}) (\d+) (\d+)$/.exec(reply.text);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "bad HASHES header");
  return {
    size: parseCount(m[1], Fields.SIZE),
    sha256: m[2],
    chunkSize: parseCount(m[3], Fields.CHUNK_SIZE),
    count: parseCount(m[4], Fields.CHUNKS),
  };
}

/**
 * The lines after a `HASHES` header: one chunk hash in hex per line, chunk 0 first.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const list = hexToBytes("a".repeat(64) + "b".repeat(64));
 * assert.equal(formatChunkHashes(list), `${"a".repeat(64)}\n${"b".repeat(64)}\n`);
 * assert.equal(formatChunkHashes(new Uint8Array(0)), "");
 * ```
 */
export function formatChunkHashes(list: Uint8Array): string {
  let out = "";
  for (let at = 0; at < list.length; at += HASH_BYTES) out += bytesToHex(list.subarray(at, at + HASH_BYTES)) + "\n";
  return out;
}

/**
 * One line after a `HASHES` header: a chunk hash, or undefined when the line is not 64 hex digits.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseChunkHash("a".repeat(64)), new Uint8Array(HASH_BYTES).fill(0xaa));
 * assert.equal(parseChunkHash("A".repeat(64)), undefined);
 * assert.equal(parseChunkHash("a".repeat(63)), undefined);
 * ```
 */
export function parseChunkHash(line: string): Uint8Array | undefined {
  return HEX64.test(line) ? hexToBytes(line) : undefined;
}

/** The header a peer sends before a file's bytes. */
export interface FileHeader {
  /** Size of the whole file. */
  size: number;
  /** SHA-256 of the whole file. */
  sha256: string;
  /** First byte sent. */
  offset: number;
  /** Bytes that follow the header. */
  length: number;
}

/**
 * `200 <size> <sha256>` for a whole file, `206 <size> <sha256> <offset> <length>` for a range.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const sha256 = "a".repeat(64);
 * assert.equal(formatFileHeader({ size: 10, sha256, offset: 0, length: 10 }), `200 10 ${sha256}\n`);
 * assert.equal(formatFileHeader({ size: 10, sha256, offset: 2, length: 5 }), `206 10 ${sha256} 2 5\n`);
 * ```
 */
export function formatFileHeader(h: FileHeader): string {
  if (h.offset === 0 && h.length === h.size) return formatStatusLine(Status.OK, `${h.size} ${h.sha256}`);
  return formatStatusLine(Status.PARTIAL, `${h.size} ${h.sha256} ${h.offset} ${h.length}`);
}

/**
 * Parses a file header; an error reply becomes a thrown {@link ProtocolError} with its status.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const sha256 = "a".repeat(64);
 * assert.deepEqual(parseFileHeader(`200 10 ${sha256}`), { size: 10, sha256, offset: 0, length: 10 });
 * assert.deepEqual(parseFileHeader(`206 10 ${sha256} 2 5`), { size: 10, sha256, offset: 2, length: 5 });
 * assert.throws(() => parseFileHeader(`206 10 ${sha256} 8 5`), (e: ProtocolError) => e.status === Status.TOO_LARGE);
 * assert.throws(() => parseFileHeader("503 busy"), (e: ProtocolError) => e.status === Status.BUSY);
 * ```
 */
export function parseFileHeader(line: string): FileHeader {
  const reply = parseReplyLine(line);
  if (reply.status !== Status.OK && reply.status !== Status.PARTIAL) throw replyError(reply);
  const f = reply.text.split(" ");
  const size = parseCount(f[0] ?? "", Fields.SIZE);
  const sha256 = f[1] ?? "";
  if (!isSha256(sha256)) throw new ProtocolError(Status.BAD_REQUEST, "bad sha256 in file header");
  if (reply.status === Status.OK) {
    if (f.length !== 2) throw new ProtocolError(Status.BAD_REQUEST, "bad file header");
    return { size, sha256, offset: 0, length: size };
  }
  if (f.length !== 4) throw new ProtocolError(Status.BAD_REQUEST, "bad range header");
  const offset = parseCount(f[2], { what: "offset", max: size });
  const length = parseCount(f[3], { what: "length", max: size - offset });
  return { size, sha256, offset, length };
}

// ---------------------------------------------------------------------------
// Who has which chunk (`HAVE`)

/**
 * `200 HAVE <size> <sha256> <count>`: the answer to `HAVE <name>`; the
 * chunks held follow as push lines ({@link ChunkPush}).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const sha256 = "a".repeat(64);
 * assert.equal(formatHaveHeader({ size: 3 * CHUNK_SIZE, sha256 }), `200 HAVE 3145728 ${sha256} 3\n`);
 * ```
 */
export function formatHaveHeader(h: { size: number; sha256: string }): string {
  return formatStatusLine(Status.OK, `HAVE ${h.size} ${h.sha256} ${chunkCount(h.size)}`);
}

/**
 * Parses a `HAVE` answer; an error reply becomes a thrown {@link ProtocolError}.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const sha256 = "a".repeat(64);
 * assert.deepEqual(parseHaveHeader(`200 HAVE 3145728 ${sha256} 3`), { size: 3 * CHUNK_SIZE, sha256 });
 * assert.throws(() => parseHaveHeader(`200 HAVE 3145728 ${sha256} 2`), (e: ProtocolError) => e.status === 400);
 * assert.throws(() => parseHaveHeader("404 no file"), (e: ProtocolError) => e.status === Status.NOT_FOUND);
 * ```
 */
export function parseHaveHeader(line: string): { size: number; sha256: string } {
  const reply = parseReplyLine(line);
  if (reply.status !== Status.OK) throw replyError(reply);
  const m = /^HAVE (\d+) ([0-9a-f]{64}) (\d+)$/.exec(reply.text);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "bad HAVE header");
  const size = parseCount(m[1], Fields.SIZE);
  if (parseCount(m[3], Fields.CHUNKS) !== chunkCount(size)) {
    throw new ProtocolError(Status.BAD_REQUEST, `a file of ${size} bytes has ${chunkCount(size)} chunks`);
  }
  return { size, sha256: m[2] };
}

/**
 * A line a holder pushes, unasked, on a connection that sent `HAVE <name>`,
 * between answers (never inside one): `* HAVE <ranges> <name>` (it holds
 * those chunks now, as `0-3,7`), `* DONE <name>` (it holds the whole file),
 * `* GONE <name>` (it no longer serves any of it).
 */
export type ChunkPush =
  | { event: "HAVE"; name: string; ranges: [number, number][] }
  | { event: "DONE" | "GONE"; name: string };

/** Most characters of ranges in one `* HAVE` line: with a name of 255 bytes %-encoded, the line fits 4 KiB. */
const MAX_RANGES_TEXT = 3_000;

/**
 * The push lines for the chunks `have` marks (1 = held): as few `* HAVE`
 * lines as fit {@link Limits.MAX_HEADER_BYTES} each; none when it holds none.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(formatHaveLines("a.bin", new Uint8Array([1, 1, 1, 0, 1])), ["* HAVE 0-2,4 a.bin\n"]);
 * assert.deepEqual(formatHaveLines("a.bin", new Uint8Array(3)), []);
 * ```
 */
export function formatHaveLines(name: string, have: Uint8Array): string[] {
  const lines: string[] = [];
  let text = "";
  for (let i = 0; i < have.length; i++) {
    if (!have[i]) continue;
    let last = i;
    while (last + 1 < have.length && have[last + 1]) last++;
    const range = last === i ? `${i}` : `${i}-${last}`;
    if (text.length + range.length + 1 > MAX_RANGES_TEXT) {
      lines.push(`* HAVE ${text} ${encodeName(name)}\n`);
      text = "";
    }
    text += text ? `,${range}` : range;
    i = last;
  }
  if (text) lines.push(`* HAVE ${text} ${encodeName(name)}\n`);
  return lines;
}

/**
 * `* HAVE <index> <name>`: one more chunk held (with its line feed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatHaveChunk("a, b.bin", 7), "* HAVE 7 a%2C b.bin\n");
 * ```
 */
export function formatHaveChunk(name: string, index: number): string {
  return `* HAVE ${index} ${encodeName(name)}\n`;
}

/**
 * Formats `* DONE <name>` or `* GONE <name>` (with its line feed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatChunkPush({ event: "GONE", name: "a, b.bin" }), "* GONE a%2C b.bin\n");
 * ```
 */
export function formatChunkPush(push: { event: "DONE" | "GONE"; name: string }): string {
  return `* ${push.event} ${encodeName(push.name)}\n`;
}

/**
 * Parses a chunk push line; ranges must be ascending chunk indexes below `count`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseChunkPush("* HAVE 0-2,4 a.bin", 5), { event: "HAVE", name: "a.bin", ranges: [[0, 2], [4, 4]] });
 * assert.deepEqual(parseChunkPush("* DONE a%2C b.bin", 5), { event: "DONE", name: "a, b.bin" });
 * assert.throws(() => parseChunkPush("* HAVE 3-9 a.bin", 5), (e: ProtocolError) => e.status === 400);
 * assert.throws(() => parseChunkPush("* FOUND a.bin", 5), (e: ProtocolError) => e.status === 400);
 * ```
 */
export function parseChunkPush(line: string, count: number): ChunkPush {
  const m = /^\* (HAVE (\S+)|DONE|GONE) (.+)$/s.exec(line);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, `not a chunk push: ${JSON.stringify(line.slice(0, 80))}`);
  const name = decodeName(m[3]);
  if (m[2] === undefined) return { event: m[1] as "DONE" | "GONE", name };
  const ranges: [number, number][] = [];
  let floor = 0;
  for (const part of m[2].split(",")) {
    const r = /^(\d{1,15})(?:-(\d{1,15}))?$/.exec(part);
    const first = Number(r?.[1]), last = Number(r?.[2] ?? r?.[1]);
    if (!r || first < floor || last < first || last >= count) {
      throw new ProtocolError(Status.BAD_REQUEST, `bad chunk range "${part.slice(0, 40)}" of ${count} chunks`);
    }
    ranges.push([first, last]);
    floor = last + 1;
  }
  return { event: "HAVE", name, ranges };
}

// ---------------------------------------------------------------------------
// Feedback to the tracker

/** What a downloader tells the tracker about one holder of one file. */
export interface HolderReport {
  /** The holder, as the tracker listed it. */
  address: string;
  /** `OK`, or the code of the failure (`EHASH`, `ETIMEDOUT`, `404`, …). */
  outcome: string;
  /** Verified bytes it delivered. */
  bytes: number;
  /** The file. */
  name: string;
}

const OUTCOME = /^(?:OK|[A-Z0-9_]{1,24})$/;

/**
 * `REPORT <address> <OK|code> <bytes> <name>` (with its line feed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const report = { address: "10.0.0.1:5555", outcome: "EHASH", bytes: 0, name: "a, b.txt" };
 * assert.equal(formatReport(report), "REPORT 10.0.0.1:5555 EHASH 0 a%2C b.txt\n");
 * ```
 */
export function formatReport(r: HolderReport): string {
  return `REPORT ${r.address} ${r.outcome} ${r.bytes} ${encodeName(r.name)}\n`;
}

/**
 * Parses the rest of a `REPORT` line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseReport("[::ffff:10.0.0.1]:5555 ok 42 a.txt"), {
 *   address: "10.0.0.1:5555",
 *   outcome: "OK",
 *   bytes: 42,
 *   name: "a.txt",
 * });
 * assert.throws(
 *   () => parseReport("10.0.0.1:5555 E-HASH 0 a.txt"),
 *   (e: ProtocolError) => e.status === Status.BAD_REQUEST,
 * );
 * ```
 */
export function parseReport(rest: string): HolderReport {
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(.+)$/s.exec(rest);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "usage: REPORT <host:port> <OK|code> <bytes> <name>");
  const { host, port } = parseAddress(m[1]);
  const outcome = m[2].toUpperCase();
  if (!OUTCOME.test(outcome)) {
    throw new ProtocolError(Status.BAD_REQUEST, "outcome must be OK or an error code like EHASH or 404");
  }
  const bytes = parseCount(m[3], Fields.BYTES);
  return { address: formatAddress(host, port), outcome, bytes, name: decodeName(m[4].trim()) };
}

/** How the tracker scores a holder after a `REPORT`. */
export interface ReportScore {
  /** Sessions that reported a success. */
  succeeded: number;
  /** Sessions that reported a failure. */
  failed: number;
  /** Verified bytes reported as served. */
  served: number;
  /** No longer offered. */
  demoted: boolean;
}

/**
 * `noted: ADDR S ok, F failed, B bytes served[; no longer offered]`: the answer to a `REPORT`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const score = { succeeded: 2, failed: 1, served: 100, demoted: false };
 * assert.equal(formatNoted("10.0.0.1:5555", score), "200 noted: 10.0.0.1:5555 2 ok, 1 failed, 100 bytes served\n");
 * assert.equal(
 *   formatNoted("10.0.0.1:5555", { ...score, demoted: true }),
 *   "200 noted: 10.0.0.1:5555 2 ok, 1 failed, 100 bytes served; no longer offered\n",
 * );
 * ```
 */
export function formatNoted(address: string, score: ReportScore): string {
  const verdict = score.demoted ? "; no longer offered" : "";
  return formatStatusLine(
    Status.OK,
    `noted: ${address} ${score.succeeded} ok, ${score.failed} failed, ${
      counted(score.served, "byte")
    } served${verdict}`,
  );
}

// ---------------------------------------------------------------------------
// Pushes (WAIT)

/**
 * A line the tracker sends unasked, to a session that waits for a file:
 * `* FOUND <name>` once someone announces it, `* EXPIRED <name>` when the
 * wait ran out. It comes between replies, never inside one.
 */
export interface Push {
  /** `FOUND`: someone announced it; `EXPIRED`: the wait ran out. */
  event: "FOUND" | "EXPIRED";
  /** The name waited for. */
  name: string;
}

/**
 * Formats a push line (with its line feed).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(formatPush({ event: "FOUND", name: "a, b.txt" }), "* FOUND a%2C b.txt\n");
 * assert.equal(formatPush({ event: "EXPIRED", name: "a.txt" }), "* EXPIRED a.txt\n");
 * ```
 */
export function formatPush(push: Push): string {
  return `* ${push.event} ${encodeName(push.name)}\n`;
}

/**
 * Whether a line from the tracker is a push rather than part of a reply.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(isPush("* FOUND a.txt"), true);
 * assert.equal(isPush("200 END 1 found, 0 not found"), false);
 * ```
 */
export function isPush(line: string): boolean {
  return line.startsWith("* ");
}

/**
 * Parses a push line.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parsePush("* EXPIRED a%2C b.txt"), { event: "EXPIRED", name: "a, b.txt" });
 * assert.throws(() => parsePush("* LOST a.txt"), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parsePush(line: string): Push {
  const m = /^\* (FOUND|EXPIRED) (.+)$/s.exec(line);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, `not a push line: ${JSON.stringify(line.slice(0, 80))}`);
  return { event: m[1] as Push["event"], name: decodeName(m[2]) };
}

// ---------------------------------------------------------------------------
// STATS

/** The tracker's counters, as `STATS` gives them and its periodic log line prints them. */
export interface TrackerStats {
  /** Connected sessions (announced or not). */
  sessions: number;
  /** Peers that announced. */
  peers: number;
  /** Distinct file names indexed, held whole by someone (a name held only partially is not counted). */
  files: number;
  /** (file, peer) entries of whole files: one per holder of each file. */
  holders: number;
  /**
   * Partial holdings (`PARTIAL`): one per (file, peer) still downloading it.
   * Absent when the tracker did not say (trackers before `PARTIAL`).
   */
  partial?: number;
  /** Requests answered since start. */
  requests: number;
  /** Requests per second over the last minute (or since start, if shorter). */
  rps: number;
  /** REPORT lines taken. */
  reports: number;
  /** Bytes downloaders reported as served and verified (each capped at the file's size). */
  reportedBytes: number;
  /** Names sessions are waiting for. */
  waiting: number;
  /** Seconds since start. */
  uptime: number;
}

const STATS_KEYS: [keyof TrackerStats, string][] = [
  ["sessions", "sessions"],
  ["peers", "peers"],
  ["files", "files"],
  ["holders", "holders"],
  ["partial", "partial"],
  ["requests", "requests"],
  ["rps", "rps"],
  ["reports", "reports"],
  ["reportedBytes", "reported-bytes"],
  ["waiting", "waiting"],
  ["uptime", "uptime"],
];

/** The fields of STATS that older trackers do not write: read when present, left out when absent. */
const OPTIONAL_STATS = new Set<keyof TrackerStats>(["partial"]);

/**
 * `peers=3 files=10 …`: the text of a STATS reply and of the log line
 * (`partial=` only when `stats.partial` is given).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stats = { sessions: 4, peers: 3, files: 9, holders: 12, requests: 50, rps: 0.5, reports: 1 };
 * assert.equal(
 *   formatStats({ ...stats, reportedBytes: 2048, waiting: 0, uptime: 60 }),
 *   "sessions=4 peers=3 files=9 holders=12 requests=50 rps=0.5 reports=1 reported-bytes=2048 waiting=0 uptime=60",
 * );
 * assert.match(formatStats({ ...stats, partial: 2, reportedBytes: 0, waiting: 0, uptime: 0 }), / holders=12 partial=2 /);
 * ```
 */
export function formatStats(stats: TrackerStats): string {
  return STATS_KEYS.flatMap(([key, label]) => stats[key] === undefined ? [] : [`${label}=${stats[key]}`]).join(" ");
}

/**
 * Reads {@link formatStats}'s text back. `partial` is left out when the
 * text lacks it (trackers before `PARTIAL` do not write it); every other field
 * must be there.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = "sessions=4 peers=3 files=9 holders=12 requests=50 rps=0.5 reports=1 reported-bytes=2048";
 * const stats = { sessions: 4, peers: 3, files: 9, holders: 12, requests: 50, rps: 0.5, reports: 1 };
 * const parsed = parseStats(`${text} waiting=0 uptime=60`);
 * assert.deepEqual(parsed, { ...stats, reportedBytes: 2048, waiting: 0, uptime: 60 });
 * assert.equal(parseStats(`${text} waiting=0 uptime=60 partial=5`).partial, 5);
 * assert.throws(() => parseStats(text), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseStats(text: string): TrackerStats {
  const fields = new Map(text.trim().split(/\s+/).map((f) => f.split("=", 2) as [string, string]));
  const stats = {} as TrackerStats;
  for (const [key, label] of STATS_KEYS) {
    if (OPTIONAL_STATS.has(key) && !fields.has(label)) continue;
    const text = fields.get(label) ?? "";
    const value = Number(text);
    if (!/^\d+(?:\.\d+)?$/.test(text) || !Number.isFinite(value)) {
      throw new ProtocolError(Status.BAD_REQUEST, `STATS reply lacks ${label}`);
    }
    stats[key] = value;
  }
  return stats;
}

/**
 * `200 STATS peers=3 files=10 …`: the answer to `STATS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const zero = { sessions: 0, peers: 0, files: 0, holders: 0, requests: 0, rps: 0, reports: 0, reportedBytes: 0 };
 * assert.equal(
 *   formatStatsReply({ ...zero, waiting: 0, uptime: 5 }),
 *   "200 STATS sessions=0 peers=0 files=0 holders=0 requests=0 rps=0 reports=0 reported-bytes=0 waiting=0 uptime=5\n",
 * );
 * ```
 */
export function formatStatsReply(stats: TrackerStats): string {
  return formatStatusLine(Status.OK, `STATS ${formatStats(stats)}`);
}

/**
 * Reads the answer to `STATS`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const text = "sessions=4 peers=3 files=9 holders=12 requests=50 rps=0.5 reports=1 reported-bytes=2048";
 * const stats = { sessions: 4, peers: 3, files: 9, holders: 12, requests: 50, rps: 0.5, reports: 1 };
 * const lines = [parseReplyLine(`200 STATS ${text} waiting=0 uptime=60`)];
 * assert.deepEqual(parseStatsReply(lines), { ...stats, reportedBytes: 2048, waiting: 0, uptime: 60 });
 * assert.throws(
 *   () => parseStatsReply([parseReplyLine("200 pong")]),
 *   (e: ProtocolError) => e.status === Status.BAD_REQUEST,
 * );
 * ```
 */
export function parseStatsReply(lines: readonly ReplyLine[]): TrackerStats {
  const last = expectOk(lines);
  if (!last.text.startsWith("STATS")) throw new ProtocolError(Status.BAD_REQUEST, "not a STATS reply");
  return parseStats(last.text.slice("STATS".length));
}

// ---------------------------------------------------------------------------
// The handshake of `--secret`

/** The two tokens of the handshake: a nonce (16 bytes in hex) and a proof (an HMAC-SHA-256 in hex). */
export type AuthToken = "nonce" | "proof";

/**
 * `AUTH <token>`: the client's two lines of the handshake, first its nonce, then its proof.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const nonce = "0123456789abcdef".repeat(2);
 * assert.equal(formatAuth(nonce), `AUTH ${nonce}\n`);
 * ```
 */
export function formatAuth(token: string): string {
  return `AUTH ${token}\n`;
}

/**
 * The token of a client's `AUTH` line, or undefined when the line is anything else.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const nonce = "0123456789abcdef".repeat(2);
 * assert.equal(parseAuth(`AUTH ${nonce}`, "nonce"), nonce);
 * assert.equal(parseAuth(`AUTH ${nonce}`, "proof"), undefined);
 * assert.equal(parseAuth("GET a.txt", "nonce"), undefined);
 * ```
 */
export function parseAuth(line: string, kind: AuthToken): string | undefined {
  const m = /^AUTH (\S+)$/.exec(line);
  return m && isToken(m[1], kind) ? m[1] : undefined;
}

/**
 * A server's handshake reply: the token of `334 <nonce>` or `235 <proof>`
 * (`expect` says which), or the reply line it was instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const nonce = "0123456789abcdef".repeat(2);
 * assert.deepEqual(parseAuthReply(`334 ${nonce}`, Status.AUTH_CHALLENGE), { token: nonce });
 * const refusal = { status: 530, more: false, text: "secret needed" };
 * assert.deepEqual(parseAuthReply("530 secret needed", Status.AUTH_CHALLENGE), { refusal });
 * assert.throws(() => parseAuthReply("hello", Status.AUTH_OK), (e: ProtocolError) => e.status === Status.BAD_REQUEST);
 * ```
 */
export function parseAuthReply(
  line: string,
  expect: typeof Status.AUTH_CHALLENGE | typeof Status.AUTH_OK,
): { token: string } | { refusal: ReplyLine } {
  const reply = parseReplyLine(line);
  const kind = expect === Status.AUTH_CHALLENGE ? "nonce" : "proof";
  if (reply.status === expect && !reply.more && isToken(reply.text, kind)) return { token: reply.text };
  return { refusal: reply };
}

function isToken(text: string, kind: AuthToken): boolean {
  return kind === "nonce" ? HEX32.test(text) : HEX64.test(text);
}
