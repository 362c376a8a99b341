/**
 * The one error vocabulary: every error class of the project but the wire's
 * own {@link ProtocolError} (which `protocol.ts` keeps, as it imports
 * nothing), the codes a person sees (`ECONNREFUSED`, `EHASH`, `404`, …),
 * and {@link classify}, the one map from any failure to its code and
 * message. Messages say what could not be done and why; an error that
 * wraps another keeps it as `cause`.
 *
 * @module
 */

import { ProtocolError, Status } from "../protocol.ts";

/**
 * The codes a failed try is printed with, and what each means. A holder's
 * refusal is printed as its wire status instead (`404`, `403`, `503`).
 */
export const CODES = {
  ECONNREFUSED: "nothing listens at the address",
  ECONNRESET: "the connection broke",
  ENETUNREACH: "no route to the holder's network",
  EHOSTUNREACH: "no route to the holder",
  EADDRNOTAVAIL: "the address cannot be used from here",
  ETIMEDOUT: "no byte for the timeout (connecting, or while the holder should be sending)",
  ECLOSED: "closed without answering",
  ETRUNCATED: "closed in the middle of the file",
  ECHANGED: "the holder's file is no longer the one it announced",
  EHASH: "bytes that do not match their hash",
  EHASHES: "chunk hashes that do not come to the announced root",
  EPROTO: "an answer that breaks the protocol",
  ESTALLED: "nothing arrived for the timeout: no source in use has the chunks still missing",
  EAUTH: "the handshake of --secret failed, or the server needs the secret",
  ETLS: "TLS on one side only, or a certificate not trusted (another CA, expired, not for that address)",
  ECANCELED: "cancelled on our side",
  EEXIST: "a different file is in the way at the target",
  ELOCAL: "our own disk failed",
  EUNKNOWN: "an error of no known kind",
} as const;

/** A code of {@link CODES}. */
export type ErrorCode = keyof typeof CODES;

/** A transfer that went wrong; `code` is what a person sees. */
export class TransferError extends Error {
  /** Short error code. */
  readonly code: ErrorCode;
  /** Builds the error. */
  constructor(code: ErrorCode, message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "TransferError";
    this.code = code;
  }
}

/**
 * A TLS connection that could not be made, or a party that speaks TLS to
 * one that does not (see `tls.ts`): trying again cannot help, a flag or a
 * certificate must change. Code `ETLS`; the message names the address and
 * what to do.
 */
export class TlsError extends TransferError {
  /** The other side, `HOST:PORT`. */
  readonly address: string;
  /** Builds the error; the runtime's error goes in `options.cause`. */
  constructor(address: string, message: string, options?: ErrorOptions) {
    super("ETLS", message, options);
    this.name = "TlsError";
    this.address = address;
  }
}

/** The other side of a persistent connection (the tracker) went away; requests waiting on it fail with this. */
export class ConnectionClosedError extends Error {
  /** Builds the error; the message says why the connection ended. */
  constructor(message = "the tracker closed the connection", options?: ErrorOptions) {
    super(message, options);
    this.name = "ConnectionClosedError";
  }
}

/**
 * A tracker that could not be reached: `reason` says why in a few words
 * (`connection refused`, `no answer within 10 s`), the message also what to
 * do: `cannot reach the tracker at 127.0.0.1:4444 (connection refused); is
 * it running? start one with 'deno task tracker' or point --tracker at it`.
 */
export class TrackerUnreachableError extends ConnectionClosedError {
  /** The tracker, `HOST:PORT`. */
  readonly address: string;
  /** Why, in a few words. */
  readonly reason: string;
  /** Builds the error; the original error goes in `options.cause`. */
  constructor(address: string, reason: string, options?: ErrorOptions) {
    super(
      `cannot reach the tracker at ${address} (${reason}); is it running? ` +
        "start one with 'deno task tracker' or point --tracker at it",
      options,
    );
    this.name = "TrackerUnreachableError";
    this.address = address;
    this.reason = reason;
  }
}

/** One tracker of several that could not be reached: its address, the code of {@link classify} and why. */
export interface TrackerTry {
  /** The tracker, `HOST:PORT`. */
  address: string;
  /** `ECONNREFUSED`, `ETIMEDOUT`, …. */
  code: string;
  /** Why, in a few words: `connection refused`, `no answer within 10 s`. */
  reason: string;
}

/**
 * None of several trackers could be reached: each is named with its code
 * and why, in the order tried, then what to do: `cannot reach any of the 2
 * trackers (127.0.0.1:4444: ECONNREFUSED connection refused; 127.0.0.1:4445:
 * ETIMEDOUT no answer within 10 s); is one of them running? start one with
 * 'deno task tracker' or point --tracker at one`. (One tracker alone fails
 * with a {@link TrackerUnreachableError}.)
 */
export class TrackersUnreachableError extends ConnectionClosedError {
  /** Each tracker tried, in order. */
  readonly tried: readonly TrackerTry[];
  /** Builds the error; `options.cause` may hold the errors of the tries. */
  constructor(tried: readonly TrackerTry[], options?: ErrorOptions) {
    const each = tried.map((t) => `${t.address}: ${t.code} ${t.reason}`).join("; ");
    super(
      `cannot reach any of the ${tried.length} trackers (${each}); is one of them running? ` +
        "start one with 'deno task tracker' or point --tracker at one",
      options,
    );
    this.name = "TrackersUnreachableError";
    this.tried = tried;
  }
}

/**
 * What answers at a tracker's address is a peer (it answered a tracker's
 * command as peers do): `127.0.0.1:5555 is a peer, not a tracker; point
 * --tracker at the tracker (default port 4444)`. Trying again cannot help.
 */
export class NotATrackerError extends ConnectionClosedError {
  /** The address given as the tracker's, `HOST:PORT`. */
  readonly address: string;
  /** Builds the error. */
  constructor(address: string, options?: ErrorOptions) {
    super(`${address} is a peer, not a tracker; point --tracker at the tracker (default port 4444)`, options);
    this.name = "NotATrackerError";
    this.address = address;
  }
}

/** A failed `--secret` handshake; `status` is what the other side was or should be told. */
export class AuthError extends ProtocolError {
  /** Builds the error. */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(status, message, options);
    this.name = "AuthError";
  }
}

/** A line longer than the limit. The reader has skipped past it, so reading can go on. */
export class LineTooLongError extends ProtocolError {
  /** Builds the error for a line over `max` bytes. */
  constructor(max: number) {
    super(Status.TOO_LARGE, `line exceeds ${max} bytes`);
    this.name = "LineTooLongError";
  }
}

/** A bad request after which a tracker session cannot go on (the lines after it could not be told from commands). */
export class FatalRequestError extends ProtocolError {
  /** Builds the error; the session is closed once it is answered. */
  constructor(status: number, message: string, options?: ErrorOptions) {
    super(status, message, options);
    this.name = "FatalRequestError";
  }
}

/** A failure of our own disk, which no holder can mend. */
export class LocalError extends Error {
  /** Builds the error. */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = "LocalError";
  }
}

/**
 * What went wrong with our own disk, and what a person can do about it:
 * `cannot write /x/.p2p-….part: No space left on device (os error 28); free
 * some space or choose another --out` (`options.flag` names the flag the
 * folder came from; default `--out`).
 */
export function localError(what: string, error: unknown, options: { flag?: string } = {}): LocalError {
  const flag = options.flag ?? "--out";
  const message = errorMessage(error);
  let hint = "";
  if (error instanceof Deno.errors.NotFound) hint = `; create the folder or choose another ${flag}`;
  else if (error instanceof Deno.errors.PermissionDenied || /permission denied/i.test(message)) {
    hint = `; check the folder's permissions or choose another ${flag}`;
  } else if (/no space left|os error 28\b|quota/i.test(message)) hint = `; free some space or choose another ${flag}`;
  else if (/read-only file system|os error 30\b/i.test(message)) hint = `; choose a writable ${flag}`;
  return new LocalError(`${what}: ${message}${hint}`, { cause: error });
}

/** One failed try of one holder. `code` is a wire status (`404`) or an error code (`ECONNREFUSED`). */
export interface Attempt {
  /** The holder tried, `HOST:PORT` (`here` for the target itself). */
  holder: string;
  /** What went wrong, as printed. */
  code: string;
  /** Why, in words. */
  message: string;
}

/** How one holder served one download. */
export interface SourceReport {
  /** The holder, `HOST:PORT`. */
  holder: string;
  /** Bytes it delivered that landed (duplicates and rejected chunks not counted). */
  bytes: number;
  /** Chunks it delivered that landed. */
  chunks: number;
  /** Why it was dropped (`EHASH`, `ETIMEDOUT`, `404`, …); absent if it served to the end. */
  code?: string;
  /** Why, in words. */
  message?: string;
  /** The tracker listed it as a partial holder (one still downloading the file). */
  partial?: true;
}

/** Options of {@link FetchError}. */
export interface FetchErrorOptions extends ErrorOptions {
  /** Every holder used, and what it did. */
  sources: SourceReport[];
  /** The failure is ours (the disk), not the holders'. Default false. */
  local?: boolean;
  /** Verified chunks are in the part file, and a later run can carry on from them. Default false. */
  resumable?: boolean;
  /** Every byte arrived but the whole was wrong: nothing in the part file can be trusted. Default false. */
  corrupt?: boolean;
}

/** One version of a file could not be fetched from its holders; `sources` says what each did. */
export class FetchError extends Error {
  /** Every holder used. */
  readonly sources: SourceReport[];
  /** True when the failure is ours (the disk), not the holders'. */
  readonly local: boolean;
  /** True when verified chunks are in the part file and a later run can carry on from them. */
  readonly resumable: boolean;
  /** True when every byte arrived but the whole was wrong. */
  readonly corrupt: boolean;
  /** Builds the error. */
  constructor(message: string, options: FetchErrorOptions) {
    super(message, options);
    this.name = "FetchError";
    this.sources = options.sources;
    this.local = options.local ?? false;
    this.resumable = options.resumable ?? false;
    this.corrupt = options.corrupt ?? false;
  }
}

/** Options of {@link DownloadError}. */
export interface DownloadErrorOptions extends ErrorOptions {
  /** The file asked for. */
  file: string;
  /** Every failed try, in order. Default none. */
  attempts?: Attempt[];
  /** Every holder used and what it delivered. Default none. */
  sources?: SourceReport[];
  /** What arrived and was kept, hidden, for the next try: a part file per version tried. Default: nothing kept. */
  kept?: Kept[];
}

/** What a download that did not land kept for the next try: its hidden part file. */
export interface Kept {
  /** The part file. */
  path: string;
  /** Verified bytes in it. */
  bytes: number;
}

/** A file did not arrive: every holder failed, or it could not be written here. */
export class DownloadError extends Error {
  /** The file asked for. */
  readonly file: string;
  /** Every failed try, in order. */
  readonly attempts: Attempt[];
  /** Every holder used and what it delivered. */
  readonly sources: SourceReport[];
  /** What was kept for the next try (a part file per version tried), if anything. */
  readonly kept?: Kept[];
  /** Builds the error. */
  constructor(message: string, options: DownloadErrorOptions) {
    super(message, options);
    this.name = "DownloadError";
    this.file = options.file;
    this.attempts = options.attempts ?? [];
    this.sources = options.sources ?? [];
    this.kept = options.kept;
  }
}

/** A command line a role cannot run: a bad flag, a missing name. The role prints its usage and exits 2. */
export class UsageError extends Error {
  /** Builds the error. */
  constructor(message: string) {
    super(message);
    this.name = "UsageError";
  }
}

/**
 * The one map from a failure to what a person sees: the code (a wire
 * status for a holder's refusal, else one of {@link CODES}) and a message.
 * With `signal` aborted, every failure is `ECANCELED`: it was our doing.
 */
export function classify(error: unknown, signal?: AbortSignal): { code: string; message: string } {
  if (signal?.aborted) return { code: "ECANCELED", message: "cancelled" };
  if (error instanceof AuthError) return { code: "EAUTH", message: error.message };
  // A server with a secret answers a plain request so (its words name neither it nor how to give the secret).
  if (error instanceof ProtocolError && error.status === Status.NEEDS_SECRET) {
    return { code: "EAUTH", message: "needs the shared secret (--secret); give it with --secret or P2P_SECRET" };
  }
  if (error instanceof ProtocolError) return { code: String(error.status), message: error.message };
  if (error instanceof TransferError) return { code: error.code, message: error.message };
  if (error instanceof LocalError) return { code: "ELOCAL", message: error.message };
  if (error instanceof ConnectionClosedError) return { code: "ECLOSED", message: error.message };
  if (error instanceof DOMException && error.name === "TimeoutError") {
    return { code: "ETIMEDOUT", message: "connect timed out" };
  }
  if (error instanceof DOMException && error.name === "AbortError") return { code: "ECANCELED", message: "cancelled" };
  if (error instanceof Deno.errors.ConnectionRefused) return { code: "ECONNREFUSED", message: "connection refused" };
  if (isDisconnect(error)) return { code: "ECONNRESET", message: "connection lost: " + errorMessage(error) };
  const message = errorMessage(error);
  if (error instanceof Deno.errors.NetworkUnreachable) return { code: "ENETUNREACH", message };
  if (error instanceof Deno.errors.AddrNotAvailable) return { code: "EADDRNOTAVAIL", message };
  if (error instanceof Deno.errors.TimedOut) return { code: "ETIMEDOUT", message };
  // An error the system names with one of our codes (EHOSTUNREACH, say) keeps it.
  const system = (error as { code?: unknown } | undefined)?.code;
  if (typeof system === "string" && Object.hasOwn(CODES, system)) return { code: system, message };
  return { code: "EUNKNOWN", message };
}

/** The message of anything thrown. */
export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/**
 * True for the errors a socket gives when the other side (or our own
 * shutdown) ends it, and for an encrypted link whose record was cut or
 * forged (`InvalidData`, see `secret.ts`): either way the connection is over.
 */
export function isDisconnect(error: unknown): boolean {
  return error instanceof Deno.errors.BadResource || error instanceof Deno.errors.InvalidData ||
    error instanceof Deno.errors.ConnectionReset ||
    error instanceof Deno.errors.BrokenPipe || error instanceof Deno.errors.Interrupted ||
    error instanceof Deno.errors.ConnectionAborted || error instanceof Deno.errors.UnexpectedEof ||
    error instanceof Deno.errors.NotConnected;
}
