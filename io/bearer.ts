/**
 * The bearer token of the HTTP faces (`--secret` with `--http-port`): every
 * request carries `Authorization: Bearer <token>`, where the token is
 * derived from the secret, never the secret itself:
 *
 * ```
 * token = base64url, no padding ( PBKDF2-HMAC-SHA256( password = the secret (UTF-8),
 *                                                     salt = "p2p http bearer v1",
 *                                                     iterations = 100000, length = 32 bytes ) )
 * ```
 *
 * The same as the TCP handshake's stretching, with a salt of its own: a
 * token seen (in a log, on a screen) costs a guesser as much per guess at
 * the secret as a recorded handshake does, and says nothing that helps
 * against the handshake. `openssl kdf` (OpenSSL 3) or Python's
 * `hashlib.pbkdf2_hmac` compute it too (`docs/HTTP.md` shows how).
 *
 * @module
 */

import { createHash, timingSafeEqual } from "node:crypto";

/** The salt of the token's PBKDF2: names what the token is for, and its version. */
export const BEARER_SALT = "p2p http bearer v1";
/** PBKDF2 rounds of the token (the handshake's count). */
export const BEARER_ROUNDS = 100_000;
/** The realm a `401` names in `WWW-Authenticate`. */
export const BEARER_REALM = "p2p";

const encoder = new TextEncoder();

/**
 * The bearer token of `secret` (any non-empty text): 43 characters of
 * base64url. About 0.1 s of PBKDF2; compute it once.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(await bearerToken("s3cret"), await bearerToken("s3cret"));
 * assert.match(await bearerToken("s3cret"), /^[A-Za-z0-9_-]{43}$/);
 * ```
 */
export async function bearerToken(secret: string): Promise<string> {
  if (secret.length === 0) throw new RangeError("the secret is empty");
  const password = await crypto.subtle.importKey("raw", encoder.encode(secret), "PBKDF2", false, ["deriveBits"]);
  const bits = await crypto.subtle.deriveBits(
    { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode(BEARER_SALT), iterations: BEARER_ROUNDS },
    password,
    256,
  );
  const base64 = btoa(String.fromCharCode(...new Uint8Array(bits)));
  return base64.replaceAll("+", "-").replaceAll("/", "_").replace(/=+$/, "");
}

/** What an `Authorization` header was, against the token expected. */
export type BearerCheck = "ok" | "missing" | "wrong";

/**
 * Whether `authorization` (a request's `Authorization` header, if any) is
 * `Bearer <token>` (the scheme in any case). The tokens are compared in
 * constant time (their SHA-256s, so that not even the length shows).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(checkBearer("Bearer abc", "abc"), "ok");
 * assert.equal(checkBearer("bearer  abc", "abc"), "ok");
 * assert.equal(checkBearer("Bearer abd", "abc"), "wrong");
 * assert.equal(checkBearer("Basic YTpi", "abc"), "wrong");
 * assert.equal(checkBearer(undefined, "abc"), "missing");
 * ```
 */
export function checkBearer(authorization: string | undefined, token: string): BearerCheck {
  if (authorization === undefined || authorization.trim() === "") return "missing";
  const match = /^\s*bearer\s+(\S+)\s*$/i.exec(authorization);
  const given = match?.[1] ?? "";
  const same = timingSafeEqual(digest(given), digest(token));
  return match && same ? "ok" : "wrong";
}

function digest(text: string): Uint8Array {
  return createHash("sha256").update(text).digest();
}

/** What {@link checkHttpAccess} looks at: a role's options. */
export interface HttpAccess {
  /** The HTTP face's port, if it has one. */
  httpPort?: number;
  /** The network's secret, if any. */
  secret?: unknown;
  /** The token every request must carry, if any. */
  httpBearer?: string;
  /** The HTTP face's TLS, if any. */
  tls?: unknown;
}

/**
 * Throws a `TypeError` for an HTTP face that would admit the wrong people:
 * with a `secret` it needs `httpBearer` (else it admits anyone), and
 * `httpBearer` needs `tls` (only HTTPS keeps the token from being read on
 * the way). The tracker and the peer check their options with it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * checkHttpAccess({ httpPort: 8080, secret: "s", httpBearer: "t", tls: {} });
 * assert.throws(() => checkHttpAccess({ httpPort: 8080, secret: "s" }), TypeError);
 * ```
 */
export function checkHttpAccess(options: HttpAccess): void {
  if (options.httpPort === undefined) return;
  if (options.secret !== undefined && options.httpBearer === undefined) {
    throw new TypeError("an HTTP face with a secret needs httpBearer (bearerToken of the secret), or it admits anyone");
  }
  if (options.httpBearer !== undefined && options.tls === undefined) {
    throw new TypeError("httpBearer needs tls: a bearer token sent over plain HTTP could be read on the way");
  }
}
