/**
 * The chunk hashes of a file, for a Metalink's `<pieces>`: asked of its
 * holders' HTTP faces (`GET /api/files/<name>`), and kept only when they
 * match the root the holders announced, so that a lying holder's list never
 * reaches a downloader. Verified lists are cached per version.
 *
 * @module
 */

import { CHUNK_SIZE, chunkCount, HASH_BYTES, hexToBytes, impliedChunks, isSha256, rootOf } from "../protocol.ts";

/** Files of more chunks than this get no `<pieces>` (16 GiB: a list of 1 MiB of hex, asked of a holder in one go). */
export const MAX_PIECES = 16_384;

/** A file version whose pieces are wanted, and where its holders serve it. */
export interface PieceRequest {
  /** The file's name. */
  name: string;
  /** Its size, in bytes. */
  size: number;
  /** Its SHA-256, in hex. */
  sha256: string;
  /** The announced root of its chunk hashes (files of more than one chunk). */
  root?: string;
  /** The file's URL at each holder's HTTP face (`…/files/<name>`), best first. */
  urls: readonly string[];
}

/** Options of {@link PieceCache}. */
export interface PieceCacheOptions {
  /** How long one holder may take to answer its list. Default 5000 ms. */
  timeoutMs?: number;
  /** How many holders are asked, in turn, before giving up. Default 3. */
  maxHolders?: number;
  /** How many verified lists are kept. Default 64. */
  maxCached?: number;
  /** Headers sent with each request (`authorization` when the HTTP faces need a bearer token). Default: none. */
  headers?: Record<string, string>;
  /** Certificates (PEM) trusted as CAs for holders' `https://` faces, besides the system's. Default: none. */
  caCerts?: string[];
}

/**
 * Verified chunk-hash lists, by (size, SHA-256, root).
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const cache = new PieceCache();
 * // A file of one chunk needs nobody: its one chunk hash is its SHA-256.
 * const pieces = await cache.pieces({ name: "a", size: 3, sha256: "a".repeat(64), urls: [] });
 * assert.deepEqual(pieces, ["a".repeat(64)]);
 * ```
 */
export class PieceCache {
  #timeoutMs: number;
  #maxHolders: number;
  #maxCached: number;
  #cache = new Map<string, string[]>();
  #pending = new Map<string, Promise<string[] | undefined>>();
  #closed = new AbortController();
  #headers: Record<string, string>;
  #client: Deno.HttpClient | undefined;

  /** An empty cache. */
  constructor(options: PieceCacheOptions = {}) {
    this.#timeoutMs = options.timeoutMs ?? 5_000;
    this.#maxHolders = options.maxHolders ?? 3;
    this.#maxCached = options.maxCached ?? 64;
    this.#headers = options.headers ?? {};
    if (options.caCerts) this.#client = Deno.createHttpClient({ caCerts: options.caCerts });
  }

  /**
   * The chunk hashes (hex) of `file`, verified against its root; `undefined`
   * when no holder asked gave a list that matches, when the file has more
   * than {@link MAX_PIECES} chunks, or when it has no announced root.
   */
  pieces(file: PieceRequest): Promise<string[] | undefined> {
    const implied = impliedChunks(file.size, file.sha256);
    if (implied) return Promise.resolve(implied.length === 0 ? [] : [file.sha256]);
    if (file.root === undefined || chunkCount(file.size) > MAX_PIECES) return Promise.resolve(undefined);
    const key = `${file.size}:${file.sha256}:${file.root}`;
    const cached = this.#cache.get(key);
    if (cached) {
      this.#cache.delete(key); // most recently used last
      this.#cache.set(key, cached);
      return Promise.resolve(cached);
    }
    let pending = this.#pending.get(key);
    if (!pending) {
      pending = this.#ask(file).then((list) => {
        if (list) this.#keep(key, list);
        return list;
      }).finally(() => this.#pending.delete(key));
      this.#pending.set(key, pending);
    }
    return pending;
  }

  /** Cancels the requests under way (their lists come back `undefined`) and every later one. */
  close(): void {
    if (this.#closed.signal.aborted) return;
    this.#closed.abort();
    this.#client?.close();
  }

  #keep(key: string, list: string[]): void {
    this.#cache.set(key, list);
    if (this.#cache.size > this.#maxCached) this.#cache.delete(this.#cache.keys().next().value!);
  }

  /** Asks each holder in turn until one list matches. */
  async #ask(file: PieceRequest): Promise<string[] | undefined> {
    for (const url of file.urls.slice(0, this.#maxHolders)) {
      if (this.#closed.signal.aborted) return undefined;
      const list = await this.#askOne(url.replace("/files/", "/api/files/"), file);
      if (list) return list;
    }
    return undefined;
  }

  async #askOne(url: string, file: PieceRequest): Promise<string[] | undefined> {
    const count = chunkCount(file.size);
    // 67 bytes a chunk hash in JSON, and room for the rest of the object.
    const maxBytes = count * (HASH_BYTES * 2 + 3) + 8_192;
    try {
      const signal = AbortSignal.any([this.#closed.signal, AbortSignal.timeout(this.#timeoutMs)]);
      const response = await fetch(url, { signal, redirect: "manual", headers: this.#headers, client: this.#client });
      const body = await readBounded(response, maxBytes);
      if (!response.ok || body === undefined) return undefined;
      return verified(JSON.parse(body), file);
    } catch (error) {
      // Unreachable, slow, cut off, not JSON: this holder gives no pieces; the next may.
      if (error instanceof TypeError || error instanceof DOMException || error instanceof SyntaxError) return undefined;
      throw error;
    }
  }
}

/** The response's body as text, or `undefined` (the body cancelled) past `maxBytes`. */
async function readBounded(response: Response, maxBytes: number): Promise<string | undefined> {
  if (response.body === null) return undefined;
  if (Number(response.headers.get("content-length") ?? 0) > maxBytes) {
    await response.body.cancel();
    return undefined;
  }
  const reader = response.body.getReader();
  const parts: Uint8Array[] = [];
  let total = 0;
  while (true) {
    const { done, value } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > maxBytes) {
      await reader.cancel();
      return undefined;
    }
    parts.push(value);
  }
  return new TextDecoder().decode(await new Blob(parts as BlobPart[]).arrayBuffer());
}

/** The chunk hashes of a holder's answer, if they are those of `file`'s announced root. */
function verified(answer: unknown, file: PieceRequest): string[] | undefined {
  if (typeof answer !== "object" || answer === null) return undefined;
  const { size, sha256, chunkSize, chunks } = answer as Record<string, unknown>;
  if (size !== file.size || sha256 !== file.sha256 || chunkSize !== CHUNK_SIZE) return undefined;
  if (!Array.isArray(chunks) || chunks.length !== chunkCount(file.size)) return undefined;
  if (!chunks.every((c) => typeof c === "string" && isSha256(c))) return undefined;
  const list = chunks as string[];
  return rootOf(hexToBytes(list.join(""))) === file.root ? list : undefined;
}
