/**
 * `disk/hash_thread.ts`: a file's SHA-256 computed as its pieces land, in
 * index order, on the hashing thread (a `Worker`) or here: from the bytes
 * handed over (whose buffer goes over and comes back) or read back from
 * the file. And the hashing thread under each role's permissions, as the
 * tasks of `deno.json` grant them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { openFileHash, THREAD_BYTES, THREAD_CORES } from "../../disk/hash_thread.ts";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";
import { within } from "../helpers/events.ts";

/** Piece `i` of `data` (pieces of 1 MiB), and where it lies. */
const piece = (data: Uint8Array, i: number) => ({
  span: { offset: i * MiB, length: Math.min(MiB, data.length - i * MiB) },
  bytes: data.subarray(i * MiB, (i + 1) * MiB),
});

/** A copy of `bytes` in a buffer of its own (one that may be handed over). */
const own = (bytes: Uint8Array) => new Uint8Array(bytes);

for (const thread of [false, true]) {
  const where = thread ? "on the hashing thread" : "here";

  Deno.test(`hash thread (${where}): pieces landing in any order, from memory or read back, hash to the file's SHA-256`, async () => {
    await using dir = await tempDir();
    const data = randomBytes(5 * MiB + 11, 21);
    const path = join(dir.path, "f.bin");
    await Deno.writeFile(path, data);
    using hash = openFileHash({ path, size: data.length, thread });
    assert.equal(hash.onThread, thread);
    for (const [i, withBytes] of [[3, true], [0, true], [1, false], [5, true], [2, true], [4, false]] as const) {
      const { span, bytes } = piece(data, i);
      hash.landed(i, { ...span, bytes: withBytes ? own(bytes) : undefined });
      await hash.room();
    }
    assert.equal(await hash.digest(6), sha256(data));
  });

  Deno.test(`hash thread (${where}): a piece that was never written fails the digest`, async () => {
    await using dir = await tempDir();
    const data = randomBytes(2 * MiB, 22);
    const path = join(dir.path, "g.bin");
    await Deno.writeFile(path, data.subarray(0, MiB));
    using hash = openFileHash({ path, size: data.length, thread });
    hash.landed(0, piece(data, 0).span);
    const digest = async () => {
      hash.landed(1, piece(data, 1).span); // here: read at once, and thrown at once
      return await hash.digest(2);
    };
    await assert.rejects(digest(), /shorter than written/);
  });
}

Deno.test("hash thread: the piece next in line goes over with its buffer, which comes back; early pieces' bytes are not kept", async () => {
  await using dir = await tempDir();
  const data = randomBytes(3 * MiB, 23);
  const path = join(dir.path, "h.bin");
  await Deno.writeFile(path, data);
  const back: ArrayBuffer[] = [];
  using hash = openFileHash({ path, size: data.length, thread: true, inFlight: 1, onReturn: (b) => back.push(b) });
  const early = own(piece(data, 2).bytes);
  assert.equal(
    hash.landed(2, { ...piece(data, 2).span, bytes: early }),
    false,
    "an early piece is read back in its turn",
  );
  assert.equal(early.length, MiB, "its bytes stay the caller's");
  const first = own(piece(data, 0).bytes);
  assert.equal(hash.landed(0, { ...piece(data, 0).span, bytes: first }), true, "the piece next in line is taken");
  assert.equal(first.length, 0, "its buffer went over (detached here)");
  const second = own(piece(data, 1).bytes);
  assert.equal(
    hash.landed(1, { ...piece(data, 1).span, bytes: second }),
    false,
    "no room for a second buffer: read back instead",
  );
  await hash.room();
  assert.equal(back.length, 1, "room again once the buffer came back");
  assert.equal(back[0].byteLength, MiB);
  assert.equal(await hash.digest(3), sha256(data));
});

Deno.test("hash thread: a buffer coming back wakes every source waiting for room, not one", async () => {
  await using dir = await tempDir();
  const data = randomBytes(4 * MiB, 29);
  const path = join(dir.path, "w.bin");
  await Deno.writeFile(path, data);
  using hash = openFileHash({ path, size: data.length, thread: true, inFlight: 1 });
  assert.equal(hash.landed(0, { ...piece(data, 0).span, bytes: own(piece(data, 0).bytes) }), true);
  // Two sources wait for room; the first, woken, lands a piece out of line, which sends nothing over: only the
  // buffer already there can wake the second.
  const first = hash.room();
  const second = hash.room();
  assert.ok(first && second, "both wait: the one buffer allowed is over there");
  await within("the first source woken", first);
  assert.equal(hash.landed(2, { ...piece(data, 2).span, bytes: own(piece(data, 2).bytes) }), false);
  await within("the second source woken too", second);
  hash.landed(1, piece(data, 1).span);
  hash.landed(3, piece(data, 3).span);
  assert.equal(await hash.digest(4), sha256(data));
});

Deno.test("hash thread: a small file is hashed here unless a thread is asked for", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "small.bin");
  await Deno.writeFile(path, new Uint8Array(10));
  using small = openFileHash({ path, size: 10 });
  assert.equal(small.onThread, false);
  assert.equal(small.room(), undefined);
  small.landed(0, { offset: 0, length: 10, bytes: new Uint8Array(10) });
  assert.equal(await small.digest(1), sha256(new Uint8Array(10)));
});

Deno.test("hash thread: by default a large file is hashed on a thread only on a machine of THREAD_CORES cores or more", async () => {
  await using dir = await tempDir();
  const path = join(dir.path, "large.bin");
  await Deno.writeFile(path, new Uint8Array(10));
  using large = openFileHash({ path, size: THREAD_BYTES });
  assert.equal(large.onThread, navigator.hardwareConcurrency >= THREAD_CORES);
  using below = openFileHash({ path, size: THREAD_BYTES - 1 });
  assert.equal(below.onThread, false);
  large.landed(0, { offset: 0, length: 10 });
  assert.equal(await large.digest(1), sha256(new Uint8Array(10)));
});

/** The permission flags of `deno task ROLE`, as deno.json has them. */
async function taskFlags(role: string): Promise<string[]> {
  const { tasks } = JSON.parse(await Deno.readTextFile(new URL("../../deno.json", import.meta.url)));
  return (tasks[role] as string).split(/\s+/).filter((word) => word.startsWith("--") && !word.startsWith("--ignore"));
}

/** 3 MiB whose byte i is i mod 251: made the same way in the test and in the child. */
function pattern(): Uint8Array {
  const data = new Uint8Array(3 * MiB);
  for (let i = 0; i < data.length; i++) data[i] = i % 251;
  return data;
}

/** Runs, with `flags` and the role's narrowed permissions, a hash of 3 MiB on the hashing thread if it may. */
async function hashUnder(role: string, flags: string[], dir: string): Promise<{ onThread: boolean; sha256: string }> {
  const script = join(dir, `${role}.ts`);
  const module = (p: string) => new URL(p, import.meta.url).href;
  await Deno.writeTextFile(
    script,
    `import { openFileHash } from ${JSON.stringify(module("../../disk/hash_thread.ts"))};
import { narrowPermissions } from ${JSON.stringify(module("../../cli/process.ts"))};
narrowPermissions(${JSON.stringify(role)});
const hash = openFileHash({ path: "unread", size: 3 * 1048576, thread: true });
for (let i = 0; i < 3; i++) {
  const bytes = new Uint8Array(1048576);
  for (let j = 0; j < bytes.length; j++) bytes[j] = (i * 1048576 + j) % 251;
  hash.landed(i, { offset: i * 1048576, length: 1048576, bytes });
}
const sha256 = await hash.digest(3);
hash.close();
console.log(JSON.stringify({ onThread: hash.onThread, sha256 }));
`,
  );
  // The script is the program, read as main.ts is: that needs no permission; a worker's module does.
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-config", ...flags, script],
    stdout: "piped",
    stderr: "piped",
  }).output();
  assert.ok(success, new TextDecoder().decode(stderr));
  const result = JSON.parse(new TextDecoder().decode(stdout));
  assert.equal(result.sha256, sha256(pattern()));
  return result;
}

Deno.test("hash thread: starts under the permissions of the get and peer tasks, and is not needed by cat's", async () => {
  await using dir = await tempDir();
  assert.equal((await hashUnder("get", await taskFlags("get"), dir.path)).onThread, true, "get");
  assert.equal((await hashUnder("peer", await taskFlags("peer"), dir.path)).onThread, true, "peer");
  // cat may not read files (no --allow-read): a hash there is made here (cat's own, of what it relays, always is).
  assert.equal((await hashUnder("cat", await taskFlags("cat"), dir.path)).onThread, false, "cat");
});
