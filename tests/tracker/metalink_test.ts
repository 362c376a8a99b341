/**
 * Metalinks: the document itself (well-formed, only Metalink elements,
 * escaped), and its pieces, asked of holders' HTTP faces and kept only when
 * they match the announced root: a lying holder's list never reaches a
 * Metalink. Holders here are small fake HTTP faces of the test's own.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeName } from "../../protocol.ts";
import { type HttpServer, startHttpServer } from "../../io/http_server.ts";
import { escapeXml, formatMetalink } from "../../tracker/metalink.ts";
import { MAX_PIECES, PieceCache } from "../../tracker/pieces.ts";
import { chunkHashes, MiB, rootOfHex, sha256 } from "../helpers/hashes.ts";
import { LineClient } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { suiteTracker } from "../helpers/roles.ts";

// ---------------------------------------------------------------------------
// A small XML reader: enough to check the document's structure, not a general parser.

interface XmlElement {
  name: string;
  attributes: Record<string, string>;
  children: XmlElement[];
  text: string;
}

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

function unescape(text: string): string {
  return text.replace(/&(amp|lt|gt|quot|apos);/g, (_, e) => ENTITIES[e]);
}

/** The root element of `xml`; throws on a mismatched tag, a bare `&` or `<`, or text outside the root. */
function parseXml(xml: string): XmlElement {
  const declaration = /^<\?xml version="1\.0" encoding="UTF-8"\?>\s*/.exec(xml);
  assert.ok(declaration, "an XML declaration first");
  const stack: XmlElement[] = [{ name: "", attributes: {}, children: [], text: "" }];
  const token = /<(\/?)([A-Za-z][\w:.-]*)((?:\s+[\w:.-]+="[^"<]*")*)\s*(\/?)>|([^<]+)/gy;
  token.lastIndex = declaration[0].length;
  while (token.lastIndex < xml.length) {
    const at = token.lastIndex;
    const m = token.exec(xml);
    assert.ok(m, `cannot read XML at ${at}: ${JSON.stringify(xml.slice(at, at + 40))}`);
    const [, closing, name, attrs, selfClosing, text] = m;
    const top = stack[stack.length - 1];
    if (text !== undefined) {
      assert.doesNotMatch(text, /&(?!(amp|lt|gt|quot|apos);)/, "a bare &");
      if (stack.length === 1) assert.match(text, /^\s*$/, "text outside the root");
      top.text += unescape(text);
    } else if (closing) {
      assert.equal(top.name, name, `</${name}> closes <${top.name}>`);
      stack.pop();
    } else {
      const attributes: Record<string, string> = {};
      for (const [, key, value] of attrs.matchAll(/([\w:.-]+)="([^"]*)"/g)) attributes[key] = unescape(value);
      const element = { name, attributes, children: [], text: "" };
      top.children.push(element);
      if (!selfClosing) stack.push(element);
    }
  }
  assert.equal(stack.length, 1, `<${stack[stack.length - 1].name}> never closed`);
  assert.equal(stack[0].children.length, 1, "one root element");
  return stack[0].children[0];
}

function child(element: XmlElement, name: string): XmlElement[] {
  return element.children.filter((c) => c.name === name);
}

/** What a Metalink says of its one file, its structure checked against RFC 5854 on the way. */
function readMetalink(xml: string): { name: string; size: number; sha256: string; pieces?: string[]; urls: string[] } {
  const root = parseXml(xml);
  assert.equal(root.name, "metalink");
  assert.equal(root.attributes.xmlns, "urn:ietf:params:xml:ns:metalink");
  // Only Metalink elements directly under <metalink>: aria2 1.36 refuses others.
  for (const c of root.children) assert.ok(["generator", "published", "file"].includes(c.name), c.name);
  assert.match(child(root, "published")[0].text, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$/);
  const [file] = child(root, "file");
  const hash = child(file, "hash");
  assert.equal(hash.length, 1);
  assert.equal(hash[0].attributes.type, "sha-256");
  const pieces = child(file, "pieces");
  if (pieces.length > 0) {
    assert.deepEqual(pieces[0].attributes, { length: String(MiB), type: "sha-256" });
    for (const h of pieces[0].children) assert.equal(h.name, "hash");
  }
  const urls = child(file, "url");
  urls.forEach((u, i) => assert.equal(u.attributes.priority, String(i + 1)));
  const read = {
    name: file.attributes.name,
    size: Number(child(file, "size")[0].text),
    sha256: hash[0].text,
    urls: urls.map((u) => u.text),
  };
  return pieces.length === 0 ? read : { ...read, pieces: pieces[0].children.map((h) => h.text) };
}

// ---------------------------------------------------------------------------
// Fake holders: each answers /api/files/<name> one way.

type Behaviour = "honest" | "lies" | "wrong-count" | "not-json" | "huge" | "silent";

interface FakeHolder extends AsyncDisposable {
  port: number;
  /** `http://127.0.0.1:<port>/files/<name>`. */
  url(name: string): string;
  /** Requests it got for `/api/files/…`. */
  asked: number;
}

async function fakeHolder(bytes: Uint8Array, behaviour: Behaviour): Promise<FakeHolder> {
  const chunks = chunkHashes(bytes);
  const stalled = new Set<() => void>();
  let asked = 0;
  const server: HttpServer = await startHttpServer((request, response) => {
    if (!request.url?.startsWith("/api/files/")) {
      response.writeHead(404).end();
      return;
    }
    asked++;
    const name = decodeURIComponent(request.url.slice("/api/files/".length));
    const honest = { name, size: bytes.length, sha256: sha256(bytes), chunkSize: MiB, chunks };
    if (behaviour === "silent") {
      return new Promise<void>((resolve) => stalled.add(resolve)); // answers nothing until closed
    }
    const body = behaviour === "honest"
      ? JSON.stringify(honest)
      : behaviour === "lies"
      ? JSON.stringify({ ...honest, chunks: chunks.map((c, i) => i === 1 ? "0".repeat(64) : c) })
      : behaviour === "wrong-count"
      ? JSON.stringify({ ...honest, chunks: chunks.slice(1) })
      : behaviour === "huge"
      ? JSON.stringify({ ...honest, padding: "x".repeat(4 * MiB) })
      : "<html>not json</html>";
    response.writeHead(200, { "content-type": "application/json" }).end(body);
  }, { hostname: "127.0.0.1", port: 0 });
  return {
    port: server.addr.port,
    url: (name) => `http://127.0.0.1:${server.addr.port}/files/${encodeURIComponent(name)}`,
    get asked() {
      return asked;
    },
    async [Symbol.asyncDispose]() {
      for (const resolve of stalled) resolve();
      await server.close();
    },
  };
}

const BYTES = randomBytes(3 * MiB + 17, 13);
const FILE = { name: "big.bin", size: BYTES.length, sha256: sha256(BYTES), root: rootOfHex(chunkHashes(BYTES)) };

// ---------------------------------------------------------------------------
// The document

Deno.test("metalink: the document is well-formed RFC 5854 with the size, hash, pieces and URLs by priority", () => {
  const pieces = chunkHashes(BYTES);
  const urls = ["http://127.0.0.1:8001/files/big.bin", "http://[::1]:8002/files/big.bin"];
  const xml = formatMetalink({ ...FILE, pieces, urls }, { published: new Date(Date.UTC(2024, 0, 2, 3, 4, 5, 678)) });
  assert.deepEqual(readMetalink(xml), { name: "big.bin", size: FILE.size, sha256: FILE.sha256, pieces, urls });
  assert.match(xml, /<published>2024-01-02T03:04:05Z<\/published>/);
  assert.match(xml, /<generator>p2p-transfer<\/generator>/);
});

Deno.test("metalink: names and URLs are escaped, and no pieces without a verified list", () => {
  const name = `a<b>&"c" 'd'.txt`;
  const url = `http://127.0.0.1:8001/files/${encodeURIComponent(name)}`;
  const xml = formatMetalink({ name, size: 3, sha256: "a".repeat(64), urls: [url] }, { generator: "x & y" });
  const read = readMetalink(xml);
  assert.deepEqual(read, { name, size: 3, sha256: "a".repeat(64), urls: [url] });
  assert.match(xml, /<generator>x &amp; y<\/generator>/);
  assert.equal(escapeXml("a\u0001b\u0000"), "ab");
});

// ---------------------------------------------------------------------------
// Pieces

Deno.test("pieces: an honest holder's chunk list is taken, and kept: a second ask asks nobody", async () => {
  await using honest = await fakeHolder(BYTES, "honest");
  const cache = new PieceCache();
  const request = { ...FILE, urls: [honest.url(FILE.name)] };
  assert.deepEqual(await cache.pieces(request), chunkHashes(BYTES));
  assert.deepEqual(await cache.pieces(request), chunkHashes(BYTES));
  assert.equal(honest.asked, 1);
});

Deno.test("pieces: lying, miscounting, non-JSON, oversized and dead holders are passed over for the next", async () => {
  for (const behaviour of ["lies", "wrong-count", "not-json", "huge"] as const) {
    await using bad = await fakeHolder(BYTES, behaviour);
    await using honest = await fakeHolder(BYTES, "honest");
    const cache = new PieceCache();
    const dead = `http://127.0.0.1:1/files/${FILE.name}`;
    const pieces = await cache.pieces({ ...FILE, urls: [dead, bad.url(FILE.name), honest.url(FILE.name)] });
    assert.deepEqual(pieces, chunkHashes(BYTES), behaviour);
    assert.equal(bad.asked, 1, behaviour);
  }
});

Deno.test("pieces: with only a lying holder there are none, and nothing is kept", async () => {
  await using liar = await fakeHolder(BYTES, "lies");
  const cache = new PieceCache();
  const request = { ...FILE, urls: [liar.url(FILE.name)] };
  assert.equal(await cache.pieces(request), undefined);
  assert.equal(await cache.pieces(request), undefined);
  assert.equal(liar.asked, 2);
});

Deno.test("pieces: a holder that never answers is given up on after the timeout", async () => {
  await using silent = await fakeHolder(BYTES, "silent");
  await using honest = await fakeHolder(BYTES, "honest");
  const cache = new PieceCache({ timeoutMs: 200 });
  const pieces = await cache.pieces({ ...FILE, urls: [silent.url(FILE.name), honest.url(FILE.name)] });
  assert.deepEqual(pieces, chunkHashes(BYTES));
});

Deno.test("pieces: files of one chunk need nobody; no root or too many chunks: none, nobody asked", async () => {
  const cache = new PieceCache();
  assert.deepEqual(await cache.pieces({ name: "e", size: 0, sha256: sha256(""), urls: [] }), []);
  assert.deepEqual(await cache.pieces({ name: "s", size: MiB, sha256: "a".repeat(64), urls: [] }), ["a".repeat(64)]);
  await using honest = await fakeHolder(BYTES, "honest");
  const { root: _, ...rootless } = FILE;
  assert.equal(await cache.pieces({ ...rootless, urls: [honest.url(FILE.name)] }), undefined);
  const huge = { ...FILE, size: (MAX_PIECES + 1) * MiB, urls: [honest.url(FILE.name)] };
  assert.equal(await cache.pieces(huge), undefined);
  assert.equal(honest.asked, 0);
});

// ---------------------------------------------------------------------------
// Through the tracker

Deno.test("tracker HTTP: a .meta4 carries the pieces an honest holder gave, verified; a liar's never", async () => {
  await using liar = await fakeHolder(BYTES, "lies");
  await using honest = await fakeHolder(BYTES, "honest");
  await using tracker = await suiteTracker({ httpPort: 0 });
  const token = `${FILE.sha256}:${FILE.root}`;
  const announce = async (port: number, http: number) => {
    const session = await LineClient.connect(tracker.addr.port);
    await session.ask(`UPDATE ${port} 1 http=${http}\n${FILE.size} ${token} ${encodeName(FILE.name)}\n`);
    return session;
  };
  const url = `http://127.0.0.1:${tracker.http!.port}/files/big.bin.meta4`;
  {
    using _liar = await announce(5001, liar.port);
    const lied = await fetch(url);
    assert.equal(lied.headers.get("content-type"), "application/metalink4+xml");
    const read = readMetalink(await lied.text());
    assert.equal(read.pieces, undefined);
    assert.deepEqual(read.urls, [liar.url(FILE.name)]);
    using _honest = await announce(5002, honest.port);
    const answer = await fetch(url);
    const withPieces = readMetalink(await answer.text());
    assert.deepEqual(withPieces, {
      name: FILE.name,
      size: FILE.size,
      sha256: FILE.sha256,
      pieces: chunkHashes(BYTES),
      urls: [liar.url(FILE.name), honest.url(FILE.name)],
    });
    assert.equal(liar.asked, 2);
    assert.equal(honest.asked, 1);
  }
});
