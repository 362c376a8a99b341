/**
 * Hashing files (`disk/digest.ts`): `digestFile` reads a file once and gives
 * its size, SHA-256, chunk hashes and chunk root; `digestSmall` gives the
 * same for the bytes of a file of at most one chunk; `hashFile` gives the
 * whole file's SHA-256. Each is checked against hashes computed
 * independently in `tests/helpers/hashes.ts`, at the chunk boundaries.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { digestFile, digestSmall, type FileDigest, hashFile } from "../../disk/digest.ts";
import { chunkHashes, MiB, rootOfHex, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";

/** Sizes around the chunk boundary: empty, one byte, one chunk exactly, one byte over, several chunks and a bit. */
const SIZES = [0, 1, MiB, MiB + 1, 3 * MiB + 5];

/** A digest as plain values: the chunk hashes in hex, so that a failure names the chunk that differs. */
function digestInHex(digest: FileDigest) {
  const hex = Array.from(digest.chunks, (b) => b.toString(16).padStart(2, "0")).join("");
  return { size: digest.size, sha256: digest.sha256, chunks: hex.match(/.{64}/g) ?? [], root: digest.root };
}

/** What a digest of `bytes` must be, computed without `protocol.ts`. */
function expectedDigest(bytes: Uint8Array) {
  const chunks = chunkHashes(bytes);
  return { size: bytes.length, sha256: sha256(bytes), chunks, root: rootOfHex(chunks) };
}

Deno.test("digest: digestFile gives size, SHA-256, chunk hashes and root for files around the chunk size", async () => {
  await using dir = await tempDir();
  for (const [i, size] of SIZES.entries()) {
    const bytes = randomBytes(size, 10 + i);
    const path = join(dir.path, `f${size}.bin`);
    await Deno.writeFile(path, bytes);
    const pieces: number[] = [];
    const digest = await digestFile(path, (n) => pieces.push(n));
    assert.deepEqual(digestInHex(digest), expectedDigest(bytes), `${size} bytes`);
    assert.equal(digest.chunks.length, 32 * Math.ceil(size / MiB), `${size} bytes: one 32-byte hash per chunk`);
    assert.equal(pieces.reduce((a, b) => a + b, 0), size, `${size} bytes: onBytes adds up to the size`);
    assert.ok(pieces.every((n) => n > 0 && n <= MiB), `${size} bytes: pieces ${pieces.join(", ")}`);
  }
});

Deno.test("digest: the one chunk of a file up to 1 MiB has the file's own SHA-256 as its hash", async () => {
  await using dir = await tempDir();
  for (const size of [1, 1000, MiB]) {
    const bytes = randomBytes(size, size);
    const path = join(dir.path, "one.bin");
    await Deno.writeFile(path, bytes);
    const digest = digestInHex(await digestFile(path));
    assert.deepEqual(digest.chunks, [sha256(bytes)], `${size} bytes`);
  }
  const empty = join(dir.path, "empty.bin");
  await Deno.writeFile(empty, new Uint8Array(0));
  const digest = digestInHex(await digestFile(empty));
  assert.deepEqual(digest.chunks, [], "an empty file has no chunk");
  assert.equal(digest.root, sha256(""), "and the root of no chunk hashes");
});

Deno.test("digest: digestSmall gives from the bytes what digestFile gives from the file, and refuses more than one chunk", async () => {
  await using dir = await tempDir();
  for (const [i, size] of SIZES.filter((s) => s <= MiB).entries()) {
    const bytes = randomBytes(size, 20 + i);
    const path = join(dir.path, `f${size}.bin`);
    await Deno.writeFile(path, bytes);
    assert.deepEqual(digestInHex(digestSmall(bytes)), expectedDigest(bytes), `${size} bytes`);
    assert.deepEqual(digestSmall(bytes), await digestFile(path), `${size} bytes: the same as digestFile`);
  }
  assert.throws(() => digestSmall(randomBytes(MiB + 1, 29)), RangeError);
});

Deno.test("digest: hashFile gives the size and SHA-256 of a whole file", async () => {
  await using dir = await tempDir();
  for (const [i, size] of SIZES.entries()) {
    const bytes = randomBytes(size, 30 + i);
    const path = join(dir.path, `f${size}.bin`);
    await Deno.writeFile(path, bytes);
    assert.deepEqual(await hashFile(path), { size, sha256: sha256(bytes) }, `${size} bytes`);
  }
});

Deno.test("digest: a missing file is an error (NotFound), not an empty digest", async () => {
  await using dir = await tempDir();
  await assert.rejects(() => digestFile(join(dir.path, "missing")), Deno.errors.NotFound);
  await assert.rejects(() => hashFile(join(dir.path, "missing")), Deno.errors.NotFound);
});
