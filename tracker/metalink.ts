/**
 * A Metalink 4 document (RFC 5854) for one file: its size, its SHA-256,
 * its 1 MiB pieces' hashes when known, and its holders' URLs, best first.
 * A download manager (aria2c) fetches from several holders at once with it
 * and checks every piece as it lands.
 *
 * @module
 */

import { CHUNK_SIZE } from "../protocol.ts";

/** The media type of a Metalink 4 document. */
export const METALINK_TYPE = "application/metalink4+xml";

/** What a Metalink describes. */
export interface MetalinkFile {
  /** The file's name. */
  name: string;
  /** Its size, in bytes. */
  size: number;
  /** Its SHA-256, in hex. */
  sha256: string;
  /** Its chunk hashes (hex, one per {@link CHUNK_SIZE} bytes), when verified; none: no `<pieces>`. */
  pieces?: readonly string[];
  /** Where to fetch it, best first (`priority` 1, 2, …). */
  urls: readonly string[];
}

/** Options of {@link formatMetalink}. */
export interface MetalinkOptions {
  /** The `<generator>`. Default `p2p-transfer`. */
  generator?: string;
  /** The `<published>` time. Default: now. */
  published?: Date;
}

/**
 * The Metalink 4 document of `file`, as text. Only elements of the Metalink
 * namespace (aria2 refuses a document with others directly under
 * `<metalink>`); names and URLs XML-escaped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const xml = formatMetalink(
 *   { name: "a&b.txt", size: 3, sha256: "a".repeat(64), urls: ["http://10.0.0.1:8080/files/a%26b.txt"] },
 *   { published: new Date(0) },
 * );
 * assert.match(xml, /<file name="a&amp;b.txt"><size>3<\/size>/);
 * assert.match(xml, /<url priority="1">http:\/\/10.0.0.1:8080\/files\/a%26b.txt<\/url>/);
 * ```
 */
export function formatMetalink(file: MetalinkFile, options: MetalinkOptions = {}): string {
  const published = (options.published ?? new Date()).toISOString().replace(/\.\d{3}Z$/, "Z");
  const lines = [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<metalink xmlns="urn:ietf:params:xml:ns:metalink">`,
    `  <generator>${escapeXml(options.generator ?? "p2p-transfer")}</generator>`,
    `  <published>${published}</published>`,
    `  <file name="${escapeXml(file.name)}"><size>${file.size}</size>`,
    `    <hash type="sha-256">${file.sha256}</hash>`,
  ];
  if (file.pieces && file.pieces.length > 0) {
    lines.push(`    <pieces length="${CHUNK_SIZE}" type="sha-256">`);
    for (const hash of file.pieces) lines.push(`      <hash>${hash}</hash>`);
    lines.push(`    </pieces>`);
  }
  file.urls.forEach((url, i) => lines.push(`    <url priority="${Math.min(i + 1, 999_999)}">${escapeXml(url)}</url>`));
  lines.push(`  </file>`, `</metalink>`, ``);
  return lines.join("\n");
}

/**
 * Text safe inside an XML element or a double-quoted attribute. Characters
 * XML 1.0 cannot carry at all (control characters but tab, line feed and
 * carriage return; names never hold them) are dropped.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(escapeXml(`<a href="x">&'</a>`), "&lt;a href=&quot;x&quot;&gt;&amp;&apos;&lt;/a&gt;");
 * ```
 */
export function escapeXml(text: string): string {
  return text
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b\u000c\u000e-\u001f\ufffe\uffff]/g, "")
    .replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;")
    .replace(/"/g, "&quot;").replace(/'/g, "&apos;");
}
