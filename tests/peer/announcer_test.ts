/**
 * `peer/announcer.ts`: what a peer tells its tracker of its folder, against
 * a real tracker. The whole folder goes as one `UPDATE`; each change since
 * as `ADD` and `REMOVE`, one after the other in the order they were made,
 * even when the next is handed over before the last is answered; a refused
 * change does not stop the next; nothing is sent while the tracker is away
 * or the peer is closing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { Announcer } from "../../peer/announcer.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { entryOf, sha256 } from "../helpers/hashes.ts";
import { testTracker } from "../helpers/roles.ts";
import { tempDir, writeOld } from "../helpers/temp.ts";

const PORT = 7300;
const ADDRESS = `127.0.0.1:${PORT}`;

Deno.test("announcer: all() announces the whole folder as one UPDATE, replacing what was announced", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  await writeOld(dir.path, { "a.txt": "aaa", "b.txt": "bb" });
  const folder = await SharedFolder.open(dir.path);
  await folder.scan();
  await using client = await TrackerClient.connect(tracker.address);
  const announcer = new Announcer({ folder, port: PORT, client: () => client, closing: () => false });
  assert.equal(await announcer.all(), `indexed 2 files as ${ADDRESS}`);
  assert.deepEqual((await tracker.store.holders("a.txt", 5)).map(({ peer: _, ...h }) => h), [
    { address: ADDRESS, size: 3, sha256: sha256("aaa") },
  ]);
  await Deno.remove(join(dir.path, "b.txt"));
  await folder.refresh(["b.txt"]);
  assert.equal(await announcer.all(), `indexed 1 file as ${ADDRESS}`);
  assert.deepEqual(await tracker.store.holders("b.txt", 5), [], "a new UPDATE replaces the old one");
  assert.deepEqual(tracker.events.of("announced").map((e) => e.files), [2, 1]);
});

Deno.test("announcer: changes go as ADD and REMOVE, in the order they were made, though handed over at once", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  const folder = await SharedFolder.open(dir.path);
  await using client = await TrackerClient.connect(tracker.address);
  const announcer = new Announcer({ folder, port: PORT, client: () => client, closing: () => false });
  await announcer.all();
  // Three changes handed over without waiting: added, removed, added again with other bytes.
  const answers = await Promise.all([
    announcer.changes({ changed: [entryOf("x.txt", "one")], removed: [] }),
    announcer.changes({ changed: [], removed: ["x.txt"] }),
    announcer.changes({ changed: [entryOf("x.txt", "three"), entryOf("y.txt", "y")], removed: ["gone.txt"] }),
    announcer.added(entryOf("z.txt", "zz")),
  ]);
  assert.deepEqual(answers, [
    `indexed 1 file as ${ADDRESS} (1 new, 1 in all)`,
    "removed 1 of 1 file (0 left)",
    `indexed 2 files as ${ADDRESS} (2 new, 2 in all); removed 0 of 1 file (2 left)`,
    `indexed 1 file as ${ADDRESS} (1 new, 3 in all)`,
  ]);
  const x = await tracker.store.holders("x.txt", 5);
  assert.deepEqual(x.map((h) => [h.size, h.sha256]), [[5, sha256("three")]], "the last change of x.txt wins");
  assert.deepEqual(
    tracker.events.of("announced").map(({ files, added, removed }) => ({ files, added, removed })),
    [
      { files: 0, added: undefined, removed: undefined },
      { files: 1, added: 1, removed: undefined },
      { files: 0, added: undefined, removed: 1 },
      { files: 2, added: 2, removed: undefined },
      { files: 2, added: undefined, removed: 0 },
      { files: 3, added: 1, removed: undefined },
    ],
  );
});

Deno.test("announcer: a refused change rejects, and the next change still goes", async () => {
  await using tracker = testTracker({ maxEntries: 1 });
  await using dir = await tempDir();
  const folder = await SharedFolder.open(dir.path);
  await using client = await TrackerClient.connect(tracker.address);
  const announcer = new Announcer({ folder, port: PORT, client: () => client, closing: () => false });
  await announcer.changes({ changed: [entryOf("a.txt", "a")], removed: [] });
  const refused = announcer.changes({ changed: [entryOf("b.txt", "b")], removed: [] });
  const next = announcer.changes({ changed: [], removed: ["a.txt"] });
  await assert.rejects(refused, /index is full/);
  assert.equal(await next, "removed 1 of 1 file (0 left)");
  assert.equal((await tracker.store.counts()).entries, 0);
});

Deno.test("announcer: nothing is sent while the tracker is away or the peer is closing", async () => {
  await using tracker = testTracker();
  await using dir = await tempDir();
  const folder = await SharedFolder.open(dir.path);
  const client = await TrackerClient.connect(tracker.address);
  let closing = false;
  const announcer = new Announcer({ folder, port: PORT, client: () => client, closing: () => closing });
  await announcer.all();
  closing = true;
  assert.equal(await announcer.changes({ changed: [entryOf("a.txt", "a")], removed: [] }), undefined);
  closing = false;
  client.close();
  assert.equal(await announcer.added(entryOf("b.txt", "b")), undefined);
  await client[Symbol.asyncDispose]();
  assert.deepEqual(tracker.events.of("announced").map((e) => e.files), [0], "only the first UPDATE");
  assert.equal((await tracker.store.counts()).entries, 0);
});
