/**
 * What the tracker and a peer say of their HTTP face at start: its address
 * (`https://` with `--tls-cert`), and with `--secret` the bearer token every
 * request to it must carry (derived from the secret: `io/bearer.ts`).
 *
 * @module
 */

import { formatAddress } from "../protocol.ts";
import { bearerToken } from "../io/bearer.ts";
import type { Flags } from "./flags.ts";

/**
 * The bearer token of the HTTP face: with `--http-port` and a secret, that
 * of the secret; else `undefined` (the face admits everyone).
 */
export async function httpBearerOf(flags: Pick<Flags, "httpPort" | "secret">): Promise<string | undefined> {
  if (flags.httpPort === undefined || flags.secret === undefined || flags.secret === "") return undefined;
  return await bearerToken(flags.secret);
}

/**
 * `http on http://HOST:PORT/`, or `http on https://HOST:PORT/` with `--tls-cert`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const http = { transport: "tcp", hostname: "127.0.0.1", port: 8443 } as const;
 * assert.equal(httpLine(http, { tlsCert: "c.pem" }), "http on https://127.0.0.1:8443/");
 * ```
 */
export function httpLine(http: Deno.NetAddr, flags: Pick<Flags, "tlsCert">): string {
  const scheme = flags.tlsCert === undefined ? "http" : "https";
  return `http on ${scheme}://${formatAddress(http.hostname, http.port)}/`;
}

/**
 * The line that tells the token: what every request to the HTTP face must carry.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.match(bearerLine("abc"), /^http asks every request for the header "Authorization: Bearer abc" /);
 * ```
 */
export function bearerLine(token: string): string {
  return `http asks every request for the header "Authorization: Bearer ${token}" ` +
    "(derived from the secret, the same at the tracker and every peer of it; docs/HTTP.md)";
}
