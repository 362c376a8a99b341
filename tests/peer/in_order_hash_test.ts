/**
 * `peer/in_order_hash.ts`: the whole file's SHA-256 of a download whose
 * chunks land in any order, on this thread or on the hashing thread. A
 * chunk that lands in its turn is hashed from memory; one that lands early
 * waits in the part file and is read back once the chunks before it are
 * in. Over a real part file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LocalError } from "../../io/errors.ts";
import { BufferPool } from "../../io/streams.ts";
import { PartFile } from "../../disk/part_file.ts";
import { InOrderHash } from "../../peer/in_order_hash.ts";
import { MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";

/** Chunk `i` of `data`. */
const chunk = (data: Uint8Array, i: number) => data.subarray(i * MiB, (i + 1) * MiB);

for (const thread of [false, true]) {
  const where = thread ? "on the hashing thread" : "here";

  Deno.test(`in-order hash (${where}): chunks landing out of order give the file's SHA-256`, async () => {
    await using dir = await tempDir();
    const data = randomBytes(4 * MiB + 100, 3);
    const target = { name: "f.bin", size: data.length, sha256: sha256(data), root: rootOf(data) };
    const part = await PartFile.open(dir.path, target);
    const pool = new BufferPool(8);
    try {
      using hash = new InOrderHash({ size: data.length, part, pool, thread });
      assert.equal(hash.onThread, thread);
      for (const i of [2, 4, 0, 1, 3]) {
        const piece = pool.take(chunk(data, i).length);
        piece.set(chunk(data, i));
        part.writeAt(i * MiB, piece);
        hash.landed(i, piece); // may take the buffer: given back as ever
        pool.give(piece);
        await hash.room();
      }
      assert.equal(await hash.digest(), sha256(data));
    } finally {
      await part.close(false);
    }
  });

  Deno.test(`in-order hash (${where}): chunks found from an earlier run are hashed with the new ones`, async () => {
    await using dir = await tempDir();
    const data = randomBytes(3 * MiB + 7, 4);
    const part = await PartFile.open(dir.path, { name: "g.bin", size: data.length, sha256: sha256(data) });
    try {
      using hash = new InOrderHash({ size: data.length, part, thread });
      for (let i = 0; i < 4; i++) part.writeAt(i * MiB, chunk(data, i));
      const scratch = hash.scratch(MiB);
      scratch.set(chunk(data, 0));
      hash.found(0, scratch);
      assert.equal(scratch.length, MiB, "found chunks stay the caller's");
      hash.landed(1);
      hash.found(2, chunk(data, 2));
      hash.landed(3);
      assert.equal(await hash.digest(), sha256(data));
    } finally {
      await part.close(false);
    }
  });

  Deno.test(`in-order hash (${where}): a chunk marked landed that the part file does not hold is our disk's failure (LocalError)`, async () => {
    await using dir = await tempDir();
    const data = randomBytes(3 * MiB, 5);
    const part = await PartFile.open(dir.path, { name: "h.bin", size: data.length, sha256: sha256(data) });
    try {
      using hash = new InOrderHash({ size: data.length, part, thread });
      part.writeAt(0, chunk(data, 0));
      hash.landed(0);
      // Chunk 1 never written: the part file ends after chunk 0.
      const landing = async () => {
        hash.landed(1);
        hash.landed(2);
        return await hash.digest();
      };
      await assert.rejects(
        landing(),
        (e: unknown) => e instanceof LocalError && /shorter than written/.test(e.message),
      );
    } finally {
      await part.close(false);
    }
  });
}

Deno.test("in-order hash: when the hashing thread fails, the whole part file is hashed again here", async () => {
  await using dir = await tempDir();
  const data = randomBytes(3 * MiB + 3, 6);
  const part = await PartFile.open(dir.path, { name: "i.bin", size: data.length, sha256: sha256(data) });
  try {
    using hash = new InOrderHash({ size: data.length, part, thread: true });
    assert.equal(hash.onThread, true);
    for (let i = 0; i < 4; i++) part.writeAt(i * MiB, chunk(data, i));
    // Chunk 1 is never told: the hashing thread cannot give the hash of all four, and says so.
    for (const i of [0, 2, 3]) hash.landed(i);
    assert.equal(await hash.digest(), sha256(data), "the part file holds every chunk: hashed here from its start");
    assert.equal(hash.onThread, false);
  } finally {
    await part.close(false);
  }
});

Deno.test("in-order hash: an empty file needs no chunk, and hashes to the empty hash", async () => {
  await using dir = await tempDir();
  const part = await PartFile.open(dir.path, { name: "empty", size: 0, sha256: sha256("") });
  try {
    using hash = new InOrderHash({ size: 0, part });
    const a = hash.scratch(10);
    const b = hash.scratch(MiB);
    assert.equal(a.buffer, b.buffer, "one scratch buffer, reused");
    assert.equal(hash.room(), undefined, "room at once");
    assert.equal(await hash.digest(), sha256(new Uint8Array()));
  } finally {
    await part.close(false);
  }
});
