/**
 * What the tracker, a holder and a shared folder say of a file, computed
 * here from the bytes independently of `protocol.ts` (so that a test of the
 * chunk rule does not check the code against itself).
 *
 * @module
 */

import { createHash } from "node:crypto";
import type { FileEntry, Holder } from "../../protocol.ts";

/** One chunk, as the protocol fixes it: 1 MiB. */
export const MiB = 1024 * 1024;

/** Hex SHA-256 of bytes or text. */
export function sha256(bytes: Uint8Array | string): string {
  return createHash("sha256").update(bytes).digest("hex");
}

/** The SHA-256 of every 1 MiB chunk of `bytes`, in hex, chunk 0 first (none for an empty file). */
export function chunkHashes(bytes: Uint8Array): string[] {
  const hashes: string[] = [];
  for (let at = 0; at < bytes.length; at += MiB) hashes.push(sha256(bytes.subarray(at, at + MiB)));
  return hashes;
}

/** The chunk root of `hashes` (hex chunk hashes): the SHA-256 of their bytes laid end to end. */
export function rootOfHex(hashes: string[]): string {
  const root = createHash("sha256");
  for (const h of hashes) root.update(Uint8Array.from(h.match(/../g) ?? [], (b) => parseInt(b, 16)));
  return root.digest("hex");
}

/** The chunk root of a file's bytes. */
export function rootOf(bytes: Uint8Array): string {
  return rootOfHex(chunkHashes(bytes));
}

/**
 * The hash field the tracker lists for `bytes`: its SHA-256, and for a file
 * over 1 MiB `:` and the chunk root.
 */
export function hashToken(bytes: Uint8Array): string {
  return bytes.length <= MiB ? sha256(bytes) : `${sha256(bytes)}:${rootOf(bytes)}`;
}

/** How the tracker lists a holder of `bytes` at `address`: size, SHA-256, and the chunk root of a file over 1 MiB. */
export function holderOf(address: string, bytes: Uint8Array): Holder {
  const base = { address, size: bytes.length, sha256: sha256(bytes) };
  return bytes.length > MiB ? { ...base, root: rootOf(bytes) } : base;
}

/** How the tracker lists any holder of `bytes`, but for its address: size, SHA-256, and the root of a file over 1 MiB. */
export function listedAs(bytes: Uint8Array | string): Omit<Holder, "address"> {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const { address: _, ...rest } = holderOf("", data);
  return rest;
}

/** The entry a shared folder gives (and a peer announces) for `name` holding `bytes`: size, SHA-256, and root over 1 MiB. */
export function entryOf(name: string, bytes: Uint8Array | string): FileEntry {
  const data = typeof bytes === "string" ? new TextEncoder().encode(bytes) : bytes;
  const entry = { name, size: data.length, sha256: sha256(data) };
  return data.length > MiB ? { ...entry, root: rootOf(data) } : entry;
}

/** A holder's answer to `HASHES` for `bytes`, written out here. */
export function hashesAnswer(bytes: Uint8Array): string {
  const hashes = chunkHashes(bytes);
  return `200 HASHES ${bytes.length} ${sha256(bytes)} ${MiB} ${hashes.length}\n` + hashes.map((h) => h + "\n").join("");
}
