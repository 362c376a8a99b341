/**
 * `peer/in_order_hash.ts`: the whole file's SHA-256 of a download whose
 * chunks land in any order. A chunk that lands in its turn is fed from
 * memory; one that lands early waits in the part file and is read back
 * (`drain`) once the chunks before it are in. Over a real part file.
 *
 * @module
 */

import assert from "node:assert/strict";
import { LocalError } from "../../io/errors.ts";
import { PartFile } from "../../disk/part_file.ts";
import { InOrderHash } from "../../peer/in_order_hash.ts";
import { MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";

/** Chunk `i` of `data`. */
const chunk = (data: Uint8Array, i: number) => data.subarray(i * MiB, (i + 1) * MiB);

Deno.test("in-order hash: chunks landing out of order are hashed in order, read back from the part file", async () => {
  await using dir = await tempDir();
  const data = randomBytes(4 * MiB + 100, 3);
  const target = { name: "f.bin", size: data.length, sha256: sha256(data), root: rootOf(data) };
  const part = await PartFile.open(dir.path, target);
  try {
    const done = new Set<number>();
    const hash = new InOrderHash({ size: data.length, part, isDone: (i) => done.has(i) });
    const land = (i: number) => {
      part.writeAt(i * MiB, chunk(data, i));
      done.add(i);
      return hash.offer(i, chunk(data, i));
    };
    assert.equal(land(2), false, "chunk 2 is not next: it waits on disk");
    assert.equal(land(4), false);
    assert.equal(land(0), true, "chunk 0 is next: fed from memory");
    hash.drain(); // chunk 1 is missing: nothing more can be fed
    assert.equal(land(1), true);
    hash.drain(); // chunk 2 is read back; 3 is missing
    assert.equal(land(3), true, "3 is next now that 2 was read back");
    hash.drain(); // chunk 4, read back
    assert.equal(hash.digest(), sha256(data));
  } finally {
    await part.close(false);
  }
});

Deno.test("in-order hash: chunks landing in order need no reading back and give the file's SHA-256", async () => {
  await using dir = await tempDir();
  const data = randomBytes(2 * MiB + 1, 4);
  const part = await PartFile.open(dir.path, { name: "g.bin", size: data.length, sha256: sha256(data) });
  try {
    // Nothing is written to the part file: reading back would fail the hash.
    const hash = new InOrderHash({ size: data.length, part, isDone: () => false });
    for (let i = 0; i < 3; i++) assert.equal(hash.offer(i, chunk(data, i)), true);
    hash.drain();
    assert.equal(hash.digest(), sha256(data));
  } finally {
    await part.close(false);
  }
});

Deno.test("in-order hash: a chunk marked landed that the part file does not hold is our disk's failure (LocalError)", async () => {
  await using dir = await tempDir();
  const data = randomBytes(3 * MiB, 5);
  const part = await PartFile.open(dir.path, { name: "h.bin", size: data.length, sha256: sha256(data) });
  try {
    const hash = new InOrderHash({ size: data.length, part, isDone: (i) => i === 1 });
    assert.equal(hash.offer(0, chunk(data, 0)), true);
    assert.throws(
      () => hash.drain(),
      (e: unknown) => e instanceof LocalError && /shorter than written/.test(e.message),
    );
  } finally {
    await part.close(false);
  }
});

Deno.test("in-order hash: scratch hands out one reused buffer of at most a chunk; nothing fed is the empty hash", async () => {
  await using dir = await tempDir();
  const part = await PartFile.open(dir.path, { name: "empty", size: 0, sha256: sha256("") });
  try {
    const hash = new InOrderHash({ size: 0, part, isDone: () => true });
    const a = hash.scratch(10);
    const b = hash.scratch(MiB);
    assert.equal(a.length, 10);
    assert.equal(b.length, MiB);
    assert.equal(a.buffer, b.buffer, "one buffer, reused");
    hash.drain(); // no chunk: nothing to read back
    assert.equal(hash.digest(), sha256(new Uint8Array()));
  } finally {
    await part.close(false);
  }
});
