/**
 * The wire: status codes, limits, file-name encoding, and the parsers and
 * formatters for every line the tracker and peers exchange. Pure functions;
 * no sockets, no files. `docs/PROTOCOL.md` describes the same in prose.
 *
 * @module
 */

import { CHUNK_SIZE, impliedRoot } from "./disk/chunks.ts";

/** Status codes, in the FTP/SMTP tradition: the first digit says the kind. */
export const Status = {
  OK: 200,
  PARTIAL: 206,
  HELP: 214,
  BYE: 221,
  BAD_REQUEST: 400,
  FORBIDDEN: 403,
  NOT_FOUND: 404,
  TOO_LARGE: 413,
  RANGE_NOT_SATISFIABLE: 416,
  TOO_MANY_CONNECTIONS: 421,
  SERVER_ERROR: 500,
  BUSY: 503,
} as const;

/** Every limit of the protocol, in one place. */
export const Limits = {
  /** Longest line, in bytes, terminator excluded. */
  MAX_LINE_BYTES: 65_536,
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
  /** Files (or peers) per page of LIST (or PEERS). */
  LIST_PAGE: 100,
  /** Most names one tracker session may wait for at once (WAIT). */
  MAX_WAITS_PER_SESSION: 1_024,
  /** Most (session, name) waits in the whole tracker. */
  MAX_WAITS: 1_000_000,
  /** Longest WAIT, in seconds (a day). */
  MAX_WAIT_SECONDS: 86_400,
  /** Largest file size accepted on the wire (2^53 - 1, JavaScript's safe integer). */
  MAX_FILE_SIZE: Number.MAX_SAFE_INTEGER,
} as const;

/** An error a remote party caused; `status` is the reply code it maps to. */
export class ProtocolError extends Error {
  /** The wire status code for this error. */
  readonly status: number;
  /** Builds an error with its wire status code. */
  constructor(status: number, message: string) {
    super(message);
    this.name = "ProtocolError";
    this.status = status;
  }
}

const HEX64 = /^[0-9a-f]{64}$/;
/** The SHA-256 of nothing. */
const EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";
/** `<sha256>` or `<sha256>:<root>`, as in UPDATE entries and HOLDER lines. */
const HASH_TOKEN = /^([0-9a-f]{64})(?::([0-9a-f]{64}))?$/;
const DIGITS = /^[0-9]+$/;

/** True for a lowercase hex SHA-256 digest. */
export function isSha256(text: string): boolean {
  return HEX64.test(text);
}

/** Parses a non-negative decimal integer no larger than `max`, or throws 400. */
export function parseCount(text: string, what: string, max: number): number {
  if (!DIGITS.test(text)) {
    throw new ProtocolError(Status.BAD_REQUEST, `${what} is not a number: ${JSON.stringify(text.slice(0, 32))}`);
  }
  const value = Number(text);
  if (text.length > 16 || value > max) {
    throw new ProtocolError(
      Status.TOO_LARGE,
      `${what} ${text.length > 16 ? text.slice(0, 16) + "…" : value} exceeds ${max}`,
    );
  }
  return value;
}

/** Parses a TCP port (1-65535), or throws 400. */
export function parsePort(text: string): number {
  const port = /^[0-9]{1,5}$/.test(text) ? Number(text) : NaN;
  if (!(port >= 1 && port <= 65_535)) {
    throw new ProtocolError(Status.BAD_REQUEST, `port must be 1-65535, got ${JSON.stringify(text.slice(0, 16))}`);
  }
  return port;
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
 */
export function checkName(name: string): string {
  const why = nameProblem(name);
  if (why) throw new ProtocolError(Status.FORBIDDEN, `refused name ${quoteName(name)}: ${why}`);
  return name;
}

/** A name for a message: quoted, escaped, and cut to 64 characters so that no reply line grows with it. */
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
 */
export function encodeName(name: string): string {
  return name
    // deno-lint-ignore no-control-regex
    .replace(/[%,\x00-\x1f\x7f]/g, (c) => "%" + c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0"))
    .replace(/^ +| +$/g, (spaces) => "%20".repeat(spaces.length));
}

/** Reads a name written by {@link encodeName}, then checks it with {@link checkName}. */
export function decodeName(text: string): string {
  if (!text.includes("%")) return checkName(text);
  let name: string;
  try {
    name = decodeURIComponent(text.replace(/%(?![0-9A-Fa-f]{2})/g, "%25"));
  } catch {
    throw new ProtocolError(Status.BAD_REQUEST, `bad %-escape in name ${quoteName(text)}`);
  }
  return checkName(name);
}

/**
 * Splits a SEND argument list: names separated by commas, white space around
 * each trimmed, each decoded. Duplicates are dropped, order kept. Throws 400
 * for an empty list, 413 for more than {@link Limits.MAX_NAMES_PER_SEND}.
 * Individual names are not checked here: see {@link parseSendNames}.
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

/** Splits and decodes a SEND list; a bad name is reported per name, not for the whole list. */
export function parseSendNames(text: string): SendName[] {
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

// ---------------------------------------------------------------------------
// Commands

/** A command line split into its verb (upper-cased) and the rest. */
export interface CommandLine {
  verb: string;
  rest: string;
}

/** Splits `VERB rest of line`; the verb is case-insensitive. */
export function splitCommand(line: string): CommandLine {
  const trimmed = line.replace(/^\s+/, "");
  const space = trimmed.search(/\s/);
  if (space < 0) return { verb: trimmed.toUpperCase(), rest: "" };
  return { verb: trimmed.slice(0, space).toUpperCase(), rest: trimmed.slice(space + 1).trim() };
}

/** One file a peer announces. */
export interface FileEntry {
  name: string;
  size: number;
  sha256: string;
  /**
   * The root of its chunk hashes (see `chunks.ts`), for a file of more than
   * one chunk; without it, no one can fetch the file from several holders.
   */
  root?: string;
}

/**
 * Reads `<sha256>` or `<sha256>:<root>` for a file of `size` bytes. A root
 * given for a file of one chunk must be the one that follows from its hash.
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

/** `<sha256>`, or `<sha256>:<root>` when the root does not follow from the hash. */
export function formatHashToken(entry: { size: number; sha256: string; root?: string }): string {
  return entry.root !== undefined && entry.size > CHUNK_SIZE ? `${entry.sha256}:${entry.root}` : entry.sha256;
}

/** `UPDATE <port> <count>` (or `ADD <port> <count>`): the header of an announcement. */
export function parseUpdateHeader(rest: string, verb = "UPDATE"): { port: number; count: number } {
  const fields = rest.split(/\s+/);
  if (fields.length !== 2) throw new ProtocolError(Status.BAD_REQUEST, `usage: ${verb} <port> <count>`);
  return {
    port: parsePort(fields[0]),
    count: parseCount(fields[1], "entry count", Limits.MAX_UPDATE_ENTRIES),
  };
}

/** `<size> <sha256> <name>`: one line of an UPDATE. */
export function parseEntryLine(line: string): FileEntry {
  const match = /^\s*(\S+)\s+(\S+)\s+(.+)$/s.exec(line);
  if (!match) throw new ProtocolError(Status.BAD_REQUEST, "entry must be <size> <sha256> <name>");
  const size = parseCount(match[1], "size", Limits.MAX_FILE_SIZE);
  return { size, ...parseHashToken(match[2], size), name: decodeName(match[3].trim()) };
}

/** Formats one UPDATE entry line. */
export function formatEntryLine(entry: FileEntry): string {
  return `${entry.size} ${formatHashToken(entry)} ${encodeName(entry.name)}`;
}

/**
 * `HOST:PORT`, with brackets around an IPv6 host (`[::1]:5555`). An
 * IPv4-mapped address (`::ffff:10.0.0.1`, what a dual-stack socket reports
 * for an IPv4 client) is written as the IPv4 address it is.
 */
export function formatAddress(host: string, port: number): string {
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(host);
  if (mapped) return `${mapped[1]}:${port}`;
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/** Parses `HOST:PORT` or `[V6]:PORT`. */
export function parseAddress(text: string): { host: string; port: number } {
  const match = /^\[([^\]]+)\]:(\d+)$/.exec(text) ?? /^([^:\s]+):(\d+)$/.exec(text);
  if (!match) {
    throw new ProtocolError(Status.BAD_REQUEST, `address must be HOST:PORT, got ${JSON.stringify(text.slice(0, 80))}`);
  }
  return { host: match[1], port: parsePort(match[2]) };
}

// ---------------------------------------------------------------------------
// Replies

/**
 * One reply line: a three-digit code, then `-` when more lines of the same
 * reply follow or a space on the last line, then text.
 */
export interface ReplyLine {
  status: number;
  more: boolean;
  text: string;
}

/** Formats a reply line (without its line feed). */
export function formatReplyLine(status: number, text: string, more = false): string {
  return `${status}${more ? "-" : " "}${text}`;
}

/** Formats a whole reply: every line but the last carries `-`. Ends with LF. */
export function formatReply(lines: readonly { status: number; text: string }[]): string {
  return lines.map((l, i) => formatReplyLine(l.status, l.text, i < lines.length - 1) + "\n").join("");
}

/** Parses one reply line. */
export function parseReplyLine(line: string): ReplyLine {
  const match = /^([1-5][0-9]{2})([ -])(.*)$/s.exec(line);
  if (!match) throw new ProtocolError(Status.BAD_REQUEST, `not a reply line: ${JSON.stringify(line.slice(0, 80))}`);
  return { status: Number(match[1]), more: match[2] === "-", text: match[3] };
}

/** What the tracker knows of one holder of a file. */
export interface Holder {
  address: string;
  size: number;
  sha256: string;
  /** The root of the holder's chunk hashes, when it announced one (files of more than one chunk). */
  root?: string;
}

/** The tracker's answer for one requested name: 200 with holders, or an error status and message. */
export interface Lookup {
  name: string;
  status: number;
  holders: Holder[];
  message?: string;
}

/** Formats a SEND reply: one `HOLDER` line per holder, one line per missing or refused name. */
export function formatSendReply(lookups: readonly Lookup[]): string {
  const lines: { status: number; text: string }[] = [];
  let found = 0;
  for (const l of lookups) {
    if (l.status === Status.OK) {
      found++;
      for (const h of l.holders) {
        lines.push({
          status: Status.OK,
          text: `HOLDER ${h.address} ${h.size} ${formatHashToken(h)} ${encodeName(l.name)}`,
        });
      }
    } else if (l.status === Status.NOT_FOUND) {
      lines.push({ status: l.status, text: `NOTFOUND ${encodeName(l.name)}` });
    } else {
      lines.push({
        status: l.status,
        text: `REFUSED ${encodeURIComponent(l.name.slice(0, 256))} ${l.message ?? "refused"}`,
      });
    }
  }
  lines.push({ status: Status.OK, text: `END ${found} found, ${lookups.length - found} not found` });
  return formatReply(lines);
}

/** Reads a SEND reply's lines back into lookups, in the order names first appear. */
export function parseSendReply(lines: readonly ReplyLine[]): Lookup[] {
  const byName = new Map<string, Lookup>();
  for (const line of lines.slice(0, -1)) {
    const { verb, rest } = splitCommand(line.text);
    if (verb === "HOLDER") {
      const m = /^(\S+) (\d+) (\S+) (.+)$/s.exec(rest);
      if (!m) throw new ProtocolError(Status.BAD_REQUEST, `bad HOLDER line: ${line.text}`);
      const name = decodeName(m[4]);
      let lookup = byName.get(name);
      if (!lookup) byName.set(name, lookup = { name, status: Status.OK, holders: [] });
      if (lookup.status === Status.OK) {
        const size = parseCount(m[2], "size", Limits.MAX_FILE_SIZE);
        lookup.holders.push({ address: m[1], size, ...parseHashToken(m[3], size) });
      }
    } else if (verb === "NOTFOUND") {
      const name = decodeURIComponentSafe(rest);
      byName.set(name, { name, status: Status.NOT_FOUND, holders: [], message: "not found" });
    } else if (verb === "REFUSED") {
      const space = rest.indexOf(" ");
      const name = decodeURIComponentSafe(space < 0 ? rest : rest.slice(0, space));
      const message = space < 0 ? "refused" : rest.slice(space + 1);
      byName.set(name, { name, status: line.status, holders: [], message });
    }
  }
  return [...byName.values()];
}

function decodeURIComponentSafe(text: string): string {
  try {
    return decodeURIComponent(text.replace(/%(?![0-9A-Fa-f]{2})/g, "%25"));
  } catch {
    return text;
  }
}

// ---------------------------------------------------------------------------
// Peer to peer

/**
 * A request to a holder: `GET` (the whole file, then the holder closes),
 * `RANGE` (part of it, and the connection stays open for the next request),
 * or `HASHES` (the file's chunk hashes; the connection stays open too).
 */
export interface FileRequest {
  verb: "GET" | "RANGE" | "HASHES";
  name: string;
  /** First byte wanted (0 for GET and HASHES). */
  offset: number;
  /** Bytes wanted; `undefined` means to the end of the file. */
  length?: number;
}

/** Parses `GET <name>`, `RANGE <offset> <length|*> <name>` or `HASHES <name>`. */
export function parseFileRequest(line: string): FileRequest {
  const { verb, rest } = splitCommand(line);
  if (verb === "GET" || verb === "HASHES") {
    if (!rest) throw new ProtocolError(Status.BAD_REQUEST, `usage: ${verb} <name>`);
    return { verb, name: decodeName(rest), offset: 0 };
  }
  if (verb === "RANGE") {
    const m = /^(\S+)\s+(\S+)\s+(.+)$/s.exec(rest);
    if (!m) throw new ProtocolError(Status.BAD_REQUEST, "usage: RANGE <offset> <length|*> <name>");
    const offset = parseCount(m[1], "offset", Limits.MAX_FILE_SIZE);
    const length = m[2] === "*" ? undefined : parseCount(m[2], "length", Limits.MAX_FILE_SIZE);
    return { verb, name: decodeName(m[3]), offset, length };
  }
  throw new ProtocolError(
    Status.BAD_REQUEST,
    `unknown command ${JSON.stringify(verb.slice(0, 32))}; a peer answers GET, RANGE and HASHES`,
  );
}

/** Formats a file request line (with its line feed). */
export function formatFileRequest(req: Omit<FileRequest, "verb"> & { verb?: FileRequest["verb"] }): string {
  if (req.verb === "HASHES") return `HASHES ${encodeName(req.name)}\n`;
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
  size: number;
  sha256: string;
  chunkSize: number;
  count: number;
}

/** `200 HASHES <size> <sha256> <chunk-size> <count>` */
export function formatHashesHeader(h: HashesHeader): string {
  return `${Status.OK} HASHES ${h.size} ${h.sha256} ${h.chunkSize} ${h.count}\n`;
}

/** Parses a `HASHES` answer's header; an error reply becomes a thrown {@link ProtocolError}. */
export function parseHashesHeader(line: string): HashesHeader {
  const reply = parseReplyLine(line);
  if (reply.status !== Status.OK) throw replyError(reply);
  const m = /^HASHES (\d+) ([0-9a-f]{64}) (\d+) (\d+)$/.exec(reply.text);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "bad HASHES header");
  const size = parseCount(m[1], "size", Limits.MAX_FILE_SIZE);
  const chunkSize = parseCount(m[3], "chunk size", Limits.MAX_FILE_SIZE);
  const count = parseCount(m[4], "chunk count", Limits.MAX_FILE_SIZE);
  return { size, sha256: m[2], chunkSize, count };
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

/** `200 <size> <sha256>` for a whole file, `206 <size> <sha256> <offset> <length>` for a range. */
export function formatFileHeader(h: FileHeader): string {
  if (h.offset === 0 && h.length === h.size) return `${Status.OK} ${h.size} ${h.sha256}\n`;
  return `${Status.PARTIAL} ${h.size} ${h.sha256} ${h.offset} ${h.length}\n`;
}

/** Parses a file header; an error reply becomes a thrown {@link ProtocolError} with its status. */
export function parseFileHeader(line: string): FileHeader {
  const reply = parseReplyLine(line);
  if (reply.status !== Status.OK && reply.status !== Status.PARTIAL) throw replyError(reply);
  const f = reply.text.split(" ");
  const size = parseCount(f[0] ?? "", "size", Limits.MAX_FILE_SIZE);
  const sha256 = f[1] ?? "";
  if (!isSha256(sha256)) throw new ProtocolError(Status.BAD_REQUEST, "bad sha256 in file header");
  if (reply.status === Status.OK) {
    if (f.length !== 2) throw new ProtocolError(Status.BAD_REQUEST, "bad file header");
    return { size, sha256, offset: 0, length: size };
  }
  if (f.length !== 4) throw new ProtocolError(Status.BAD_REQUEST, "bad range header");
  const offset = parseCount(f[2], "offset", size);
  const length = parseCount(f[3], "length", size - offset);
  return { size, sha256, offset, length };
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
  name: string;
}

const OUTCOME = /^(?:OK|[A-Z0-9_]{1,24})$/;

/** `REPORT <address> <OK|code> <bytes> <name>` (with its line feed). */
export function formatReport(r: HolderReport): string {
  return `REPORT ${r.address} ${r.outcome} ${r.bytes} ${encodeName(r.name)}\n`;
}

/** Parses the rest of a `REPORT` line. */
export function parseReport(rest: string): HolderReport {
  const m = /^(\S+)\s+(\S+)\s+(\S+)\s+(.+)$/s.exec(rest);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "usage: REPORT <host:port> <OK|code> <bytes> <name>");
  const { host, port } = parseAddress(m[1]);
  const outcome = m[2].toUpperCase();
  if (!OUTCOME.test(outcome)) {
    throw new ProtocolError(Status.BAD_REQUEST, "outcome must be OK or an error code like EHASH or 404");
  }
  const bytes = parseCount(m[3], "bytes", Limits.MAX_FILE_SIZE);
  return { address: formatAddress(host, port), outcome, bytes, name: decodeName(m[4].trim()) };
}

// ---------------------------------------------------------------------------
// Incremental announcements, waiting, paging, status

/** `REMOVE <count>`: the header of a list of names, one per line, that leave the index. */
export function parseRemoveHeader(rest: string): number {
  if (!/^\S+$/.test(rest)) throw new ProtocolError(Status.BAD_REQUEST, "usage: REMOVE <count>");
  return parseCount(rest, "name count", Limits.MAX_UPDATE_ENTRIES);
}

/** `WAIT <seconds> <name>[, <name>...]`: a SEND that also waits for the names nobody holds yet. */
export function parseWait(rest: string): { seconds: number; names: string } {
  const m = /^(\S+)\s+(.+)$/s.exec(rest);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, "usage: WAIT <seconds> <name>[, <name>...]");
  return { seconds: parseCount(m[1], "seconds", Limits.MAX_WAIT_SECONDS), names: m[2] };
}

/**
 * A line the tracker sends unasked, to a session that waits for a file:
 * `* FOUND <name>` once someone announces it, `* EXPIRED <name>` when the
 * wait ran out. It comes between replies, never inside one.
 */
export interface Push {
  event: "FOUND" | "EXPIRED";
  name: string;
}

/** Formats a push line (with its line feed). */
export function formatPush(push: Push): string {
  return `* ${push.event} ${encodeName(push.name)}\n`;
}

/** Whether a line from the tracker is a push rather than part of a reply. */
export function isPush(line: string): boolean {
  return line.startsWith("* ");
}

/** Parses a push line. */
export function parsePush(line: string): Push {
  const m = /^\* (FOUND|EXPIRED) (.+)$/s.exec(line);
  if (!m) throw new ProtocolError(Status.BAD_REQUEST, `not a push line: ${JSON.stringify(line.slice(0, 80))}`);
  return { event: m[1] as Push["event"], name: decodeName(m[2]) };
}

/** `LIST [--page N] [text]` and `PEERS [--page N]`: which page (from 1), and the rest. */
export function parsePaging(rest: string): { page: number; text: string } {
  const m = /^--page\s+(\S+)\s*(.*)$/s.exec(rest);
  if (!m) return { page: 1, text: rest };
  const page = parseCount(m[1], "page", 1_000_000_000);
  if (page < 1) throw new ProtocolError(Status.BAD_REQUEST, "pages count from 1");
  return { page, text: m[2] };
}

/** The tracker's counters, as `STATS` gives them and its periodic log line prints them. */
export interface TrackerStats {
  /** Connected sessions (announced or not). */
  sessions: number;
  /** Peers that announced. */
  peers: number;
  /** Distinct file names indexed. */
  files: number;
  /** (file, peer) entries: one per holder of each file. */
  holders: number;
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
  ["requests", "requests"],
  ["rps", "rps"],
  ["reports", "reports"],
  ["reportedBytes", "reported-bytes"],
  ["waiting", "waiting"],
  ["uptime", "uptime"],
];

/** `peers=3 files=10 …`: the text of a STATS reply and of the log line. */
export function formatStats(stats: TrackerStats): string {
  return STATS_KEYS.map(([key, label]) => `${label}=${stats[key]}`).join(" ");
}

/** Reads {@link formatStats}'s text back. */
export function parseStats(text: string): TrackerStats {
  const fields = new Map(text.trim().split(/\s+/).map((f) => f.split("=", 2) as [string, string]));
  const stats = {} as TrackerStats;
  for (const [key, label] of STATS_KEYS) {
    const text = fields.get(label) ?? "";
    const value = Number(text);
    if (!/^\d+(?:\.\d+)?$/.test(text) || !Number.isFinite(value)) {
      throw new ProtocolError(Status.BAD_REQUEST, `STATS reply lacks ${label}`);
    }
    stats[key] = value;
  }
  return stats;
}
