/**
 * A file as the tracker's HTTP face offers it: the version to serve (when
 * holders disagree on the content) and its holders' HTTP URLs, best first.
 *
 * @module
 */

import { formatAddress, parseAddress } from "../protocol.ts";
import { filePath } from "../io/http_server.ts";
import type { IndexedHolder } from "./lookup.ts";
import type { WebHolder } from "./store.ts";

/** One version of a file and who holds it, best first. */
export interface FileChoice {
  /** The file's name. */
  name: string;
  /** Its size, in bytes. */
  size: number;
  /** Its SHA-256, in hex. */
  sha256: string;
  /** The root of its chunk hashes, for a file of more than one chunk, if announced. */
  root?: string;
  /** The live holders of this version, best first (demoted ones left out). */
  holders: (IndexedHolder & { http?: string })[];
  /** The URL of the file at each of them with an HTTP face, best first. */
  urls: string[];
}

/**
 * How holders' HTTP faces are reached: `http`, or `https` in a network that
 * is all TLS (the tracker serving with TLS means its peers do too).
 */
export type Scheme = "http" | "https";

/**
 * `http://HOST:PORT/files/<name>`: the file at a holder's HTTP face, on the
 * host of its peer address (IPv6 in brackets); `https://` with `scheme`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(holderUrl("10.0.0.1:5555", { httpPort: 8080, name: "a b.txt" }), "http://10.0.0.1:8080/files/a%20b.txt");
 * assert.equal(holderUrl("[::1]:5555", { httpPort: 8080, name: "x" }), "http://[::1]:8080/files/x");
 * assert.equal(holderUrl("10.0.0.1:5555", { httpPort: 8443, name: "x", scheme: "https" }), "https://10.0.0.1:8443/files/x");
 * ```
 */
export function holderUrl(address: string, file: { httpPort: number; name: string; scheme?: Scheme }): string {
  return httpBase(address, { port: file.httpPort, scheme: file.scheme }) + filePath(file.name).slice(1);
}

/**
 * `http://HOST:PORT/`: a holder's HTTP face, on the host of its peer
 * address; `https://` with `face.scheme`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(httpBase("10.0.0.1:5555", { port: 8080 }), "http://10.0.0.1:8080/");
 * assert.equal(httpBase("10.0.0.1:5555", { port: 8443, scheme: "https" }), "https://10.0.0.1:8443/");
 * ```
 */
export function httpBase(address: string, face: { port: number; scheme?: Scheme }): string {
  return `${face.scheme ?? "http"}://${formatAddress(parseAddress(address).host, face.port)}/`;
}

/** Options of {@link chooseVersion}. */
export interface ChooseOptions {
  /** The scheme of the holders' URLs. Default `http`. */
  scheme?: Scheme;
}

/**
 * The version of `name` to offer among its `ranked` holders (best first): that of the best-ranked
 * holder with an HTTP face (else of the best-ranked holder), and only the
 * holders of that same version (same size, SHA-256 and root). `undefined`
 * when nobody (not demoted) holds it.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const choice = chooseVersion("a", [
 *   { address: "10.0.0.1:5555", size: 3, sha256: "a".repeat(64), peer: 1 },
 *   { address: "10.0.0.2:5555", size: 3, sha256: "b".repeat(64), peer: 2, httpPort: 80 },
 * ])!;
 * assert.equal(choice.sha256, "b".repeat(64));
 * assert.deepEqual(choice.urls, ["http://10.0.0.2:80/files/a"]);
 * ```
 */
export function chooseVersion(
  name: string,
  ranked: readonly WebHolder[],
  options: ChooseOptions = {},
): FileChoice | undefined {
  const { scheme } = options;
  const offered = ranked.map(({ httpPort, ...holder }): IndexedHolder & { http?: string } =>
    httpPort === undefined ? holder : { ...holder, http: holderUrl(holder.address, { httpPort, name, scheme }) }
  );
  const best = offered.find((h) => h.http !== undefined) ?? offered[0];
  if (best === undefined) return undefined;
  const holders = offered.filter((h) => h.size === best.size && h.sha256 === best.sha256 && h.root === best.root);
  const urls = holders.flatMap((h) => h.http === undefined ? [] : [h.http]);
  const choice: FileChoice = { name, size: best.size, sha256: best.sha256, holders, urls };
  if (best.root !== undefined) choice.root = best.root;
  return choice;
}
