/**
 * Announcing at the tracker, over real loopback sockets: `UPDATE` replaces a
 * peer's files, `ADD` adds to them, `REMOVE` takes some out; a bad entry or
 * name line fails the whole block and changes nothing (every line of it is
 * still read); a bad header, or one over 100,000 entries, closes the session
 * (the lines after it could not be told from commands); the index has a
 * ceiling that an announcement may not pass.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CHUNK_SIZE, Limits } from "../../protocol.ts";
import type { Tracker } from "../../tracker.ts";
import { announcement, LineClient, texts } from "../helpers/net.ts";
import { suiteTracker } from "../helpers/roles.ts";
import { fileLinesAt } from "../helpers/tracker_index.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const SHA_C = "c".repeat(64);

async function holdersOf(tracker: Tracker, name: string): Promise<string[]> {
  return (await tracker.store.holders(name, 100)).map((h) => h.address);
}

// ---------------------------------------------------------------------------
// UPDATE

Deno.test("tracker UPDATE: then SEND answers each holder with address, size and hash", async () => {
  await using tracker = await suiteTracker();
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await a.ask(`UPDATE 5001 2\n10 ${SHA_A} file1.txt\n20 ${SHA_B} file two.md\n`)), [
    "200 indexed 2 files as 127.0.0.1:5001",
  ]);
  assert.deepEqual(await tracker.events.next("announced"), { type: "announced", peer: "127.0.0.1:5001", files: 2 });
  await b.ask(`UPDATE 5002 1\n10 ${SHA_A} file1.txt\n`);
  assert.deepEqual(texts(await asker.ask("SEND file1.txt, file two.md, missing.txt\n")), [
    `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} file1.txt`,
    `200-HOLDER 127.0.0.1:5002 10 ${SHA_A} file1.txt`,
    `200-HOLDER 127.0.0.1:5001 20 ${SHA_B} file two.md`,
    "404-NOTFOUND missing.txt",
    "200 END 2 found, 1 not found",
  ]);
});

Deno.test("tracker UPDATE: replaces what the peer announced before", async () => {
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  await peer.ask(`UPDATE 5001 1\n10 ${SHA_A} old.txt\n`);
  await peer.ask(`UPDATE 5001 1\n20 ${SHA_B} new.txt\n`);
  assert.deepEqual(texts(await peer.ask("LIST\n")), [`200-FILE 20 ${SHA_B} 1 new.txt`, "200 END 1 file"]);
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["new.txt 20 b"]);
});

Deno.test("tracker UPDATE: a malformed entry changes nothing and answers 400 naming the entry; the session goes on", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.ask(`UPDATE 5001 1\n10 ${SHA_A} keep.txt\n`);
  const reply = await c.ask(`UPDATE 5002 3\n10 ${SHA_A} a.txt\nten ${SHA_A} b.txt\n10 ${SHA_A} ../c.txt\n`);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 400);
  assert.match(reply[0].text, /^entry 2: size is not a number.*; nothing changed$/);
  // Every entry line was read, none taken as a command: the next reply is LIST's.
  assert.deepEqual(texts(await c.ask("LIST\n")), [`200-FILE 10 ${SHA_A} 1 keep.txt`, "200 END 1 file"]);
  assert.deepEqual(
    (await tracker.store.peers()).map((p) => [p.address, p.files]),
    [["127.0.0.1:5001", 1]],
    "port unchanged",
  );
});

Deno.test("tracker UPDATE: a malformed header answers 400 and closes, since entry lines may follow", async () => {
  await using tracker = await suiteTracker();
  for (const header of ["UPDATE", "UPDATE 0 0", "UPDATE x", "UPDATE 5001 x2", "UPDATE 70000 1", "UPDATE 5001 1 2"]) {
    using c = await LineClient.connect(tracker.addr.port);
    const reply = await c.ask(`${header}\nPING\n`);
    assert.equal(reply.length, 1, header);
    assert.equal(reply[0].status, 400, header);
    assert.match(reply[0].text, /; closing$/, header);
    assert.equal(await c.reply(), null, `${header}: closed, the PING after it unanswered`);
  }
  assert.equal((await tracker.store.counts()).peers, 0);
});

Deno.test("tracker UPDATE: announcing more than 100,000 entries answers 413 and closes", async () => {
  assert.equal(Limits.MAX_UPDATE_ENTRIES, 100_000);
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask(`UPDATE 5001 ${Limits.MAX_UPDATE_ENTRIES + 1}\n1 ${SHA_A} a.txt\nPING\n`);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 413);
  assert.match(reply[0].text, /; closing$/);
  assert.equal(await c.reply(), null);
  assert.equal((await tracker.store.counts()).peers, 0);
});

Deno.test("tracker UPDATE: the index has a ceiling: an UPDATE that would pass it gets 413 and changes nothing", async () => {
  await using tracker = await suiteTracker({ maxEntries: 5 });
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  const entries = (n: number, prefix: string, sha = SHA_A) =>
    Array.from({ length: n }, (_, i) => `1 ${sha} ${prefix}${i}`).join("\n") + "\n";
  assert.equal((await one.ask(`UPDATE 7001 3\n${entries(3, "a")}`))[0].status, 200);
  const [full] = await two.ask(`UPDATE 7002 3\n${entries(3, "b")}`);
  assert.deepEqual(full, { status: 413, more: false, text: "the index is full (5 entries in all); nothing changed" });
  assert.deepEqual(await tracker.store.counts(), { peers: 1, names: 3, entries: 3, partial: 0 });
  assert.deepEqual(
    (await tracker.store.peers()).map((p) => p.address),
    ["127.0.0.1:7001"],
    "a refused UPDATE makes no peer",
  );
  // Nor does it change what the peer held.
  assert.equal((await two.ask(`UPDATE 7002 1\n${entries(1, "b")}`))[0].status, 200);
  const [again] = await two.ask(`UPDATE 7002 3\n${entries(3, "c", SHA_B)}`);
  assert.equal(again.status, 413);
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:7002"), ["b0 1 a"]);
  // A peer replacing its own announcement counts only the difference.
  assert.equal((await one.ask(`UPDATE 7001 4\n${entries(4, "a")}`))[0].status, 200);
  assert.deepEqual(await tracker.store.counts(), { peers: 2, names: 5, entries: 5, partial: 0 });
  assert.equal((await two.ask("PING\n"))[0].text, "PONG", "the refused session goes on");
});

// ---------------------------------------------------------------------------
// ADD

Deno.test("tracker ADD: adds and changes files without touching the others, and says how many in all", async () => {
  await using tracker = await suiteTracker();
  using a = await LineClient.connect(tracker.addr.port);
  await a.ask(announcement("UPDATE", 5001, [[10, SHA_A, "keep.txt"], [20, SHA_B, "change.txt"]]));
  await tracker.events.next("announced");
  const reply = await a.ask(announcement("ADD", 5001, [[30, SHA_C, "new one.txt"], [21, SHA_C, "change.txt"]]));
  assert.deepEqual(texts(reply), ["200 indexed 2 files as 127.0.0.1:5001 (1 new, 3 in all)"]);
  assert.deepEqual(await tracker.events.next("announced"), {
    type: "announced",
    peer: "127.0.0.1:5001",
    files: 3,
    added: 2,
  });
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), [
    "change.txt 21 c",
    "keep.txt 10 a",
    "new one.txt 30 c",
  ]);
  assert.deepEqual(await tracker.store.counts(), { peers: 1, names: 3, entries: 3, partial: 0 });
  assert.deepEqual(texts(await a.ask("SEND change.txt\n")), [
    `200-HOLDER 127.0.0.1:5001 21 ${SHA_C} change.txt`,
    "200 END 1 found, 0 not found",
  ]);
});

Deno.test("tracker ADD: works before any UPDATE, makes a peer, and a later UPDATE replaces it all", async () => {
  await using tracker = await suiteTracker();
  using a = await LineClient.connect(tracker.addr.port);
  using other = await LineClient.connect(tracker.addr.port);
  await other.ask(announcement("UPDATE", 5002, [[1, SHA_A, "shared.txt"]]));
  assert.deepEqual(texts(await a.ask(announcement("ADD", 5001, [[1, SHA_A, "shared.txt"]]))), [
    "200 indexed 1 file as 127.0.0.1:5001 (1 new, 1 in all)",
  ]);
  const peers = texts(await a.ask("PEERS\n"));
  // PEERS lists peers in an order of the store's own (a stable one, for its pages): the set is what counts here.
  assert.deepEqual(peers.slice(0, -1).sort(), ["200-PEER 127.0.0.1:5001 1", "200-PEER 127.0.0.1:5002 1"]);
  assert.equal(peers.at(-1), "200 END 2 peers");
  assert.deepEqual(await holdersOf(tracker, "shared.txt"), ["127.0.0.1:5002", "127.0.0.1:5001"]);
  await a.ask(announcement("UPDATE", 5001, [[2, SHA_B, "only.txt"]]));
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["only.txt 2 b"]);
  assert.deepEqual(await holdersOf(tracker, "shared.txt"), ["127.0.0.1:5002"], "the other peer's holder stays");
});

Deno.test("tracker ADD: a bad entry line answers 400 naming it, changes nothing, and the session goes on", async () => {
  await using tracker = await suiteTracker();
  using a = await LineClient.connect(tracker.addr.port);
  await a.ask(announcement("UPDATE", 5001, [[10, SHA_A, "keep.txt"]]));
  const reply = await a.ask(`ADD 5001 3\n5 ${SHA_B} fine.txt\n5 ${SHA_B} ../escape.txt\nten ${SHA_B} x.txt\n`);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 400);
  assert.match(reply[0].text, /^entry 2: refused name .*; nothing changed$/);
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["keep.txt 10 a"]);
  assert.equal(await tracker.store.has("fine.txt"), false);
  assert.deepEqual(texts(await a.ask("PING\n")), ["200 PONG"], "every entry line was read, none taken as a command");
});

Deno.test("tracker ADD: 413 when the index would pass maxEntries; nothing changes and the session goes on", async () => {
  await using tracker = await suiteTracker({ maxEntries: 3 });
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  await a.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a1"], [1, SHA_A, "a2"]]));
  const full = await b.ask(announcement("ADD", 5002, [[1, SHA_B, "b1"], [1, SHA_B, "b2"]]));
  assert.deepEqual(texts(full), ["413 the index is full (3 entries in all); nothing changed"]);
  assert.equal(await tracker.store.has("b1"), false);
  assert.equal((await tracker.store.peers()).length, 1, "a refused ADD makes no peer");
  assert.deepEqual(texts(await b.ask(announcement("ADD", 5002, [[1, SHA_B, "b1"]]))), [
    "200 indexed 1 file as 127.0.0.1:5002 (1 new, 1 in all)",
  ]);
  assert.equal((await b.ask(announcement("ADD", 5002, [[1, SHA_B, "b2"]])))[0].status, 413);
  assert.deepEqual(await tracker.store.counts(), { peers: 2, names: 3, entries: 3, partial: 0 });
});

Deno.test("tracker ADD: from another port moves every file the peer held there, each with its size, hash and root", async () => {
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  const big = `${SHA_A}:${SHA_C}`; // a file over one chunk, with its chunk root
  await peer.ask(announcement("UPDATE", 5001, [[3 * CHUNK_SIZE, big, "big.bin"], [10, SHA_B, "small.txt"]]));
  assert.deepEqual(texts(await peer.ask(announcement("ADD", 5002, [[20, SHA_B, "new.txt"]]))), [
    "200 indexed 1 file as 127.0.0.1:5002 (1 new, 3 in all)",
  ]);
  assert.deepEqual(texts(await asker.ask("SEND big.bin, small.txt, new.txt\n")), [
    `200-HOLDER 127.0.0.1:5002 ${3 * CHUNK_SIZE} ${big} big.bin`,
    `200-HOLDER 127.0.0.1:5002 10 ${SHA_B} small.txt`,
    `200-HOLDER 127.0.0.1:5002 20 ${SHA_B} new.txt`,
    "200 END 3 found, 0 not found",
  ]);
});

Deno.test("tracker ADD: changing a file already held is not refused when the index is full", async () => {
  // peer.ts re-announces a changed file with ADD: it must not be refused as if it grew the index.
  await using tracker = await suiteTracker({ maxEntries: 2 });
  using a = await LineClient.connect(tracker.addr.port);
  await a.ask(announcement("UPDATE", 5001, [[1, SHA_A, "x.txt"], [1, SHA_A, "y.txt"]]));
  assert.deepEqual(
    texts(await a.ask(announcement("UPDATE", 5001, [[2, SHA_B, "x.txt"], [1, SHA_A, "y.txt"]]))),
    ["200 indexed 2 files as 127.0.0.1:5001"],
    "an UPDATE with the same names fits",
  );
  const reply = await a.ask(announcement("ADD", 5001, [[3, SHA_C, "x.txt"]]));
  assert.equal(reply[0].status, 200, `ADD of a held name at a full index: ${texts(reply)}`);
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["x.txt 3 c", "y.txt 1 a"]);
});

// ---------------------------------------------------------------------------
// REMOVE

Deno.test("tracker REMOVE: takes this peer's files out, keeps other peers' holders, counts what it held", async () => {
  await using tracker = await suiteTracker();
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  await a.ask(
    announcement("UPDATE", 5001, [[1, SHA_A, "both.txt"], [2, SHA_A, "stay.txt"], [3, SHA_A, "go, now.txt"]]),
  );
  await b.ask(announcement("UPDATE", 5002, [[1, SHA_A, "both.txt"]]));
  const reply = await a.ask("REMOVE 4\nboth.txt\ngo%2C now.txt\nnever-had.txt\nboth.txt\n");
  assert.deepEqual(texts(reply), ["200 removed 2 of 4 files (1 left)"]);
  assert.deepEqual(await tracker.events.next("announced", (e) => e.removed !== undefined), {
    type: "announced",
    peer: "127.0.0.1:5001",
    files: 1,
    removed: 2,
  });
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["stay.txt 2 a"]);
  assert.deepEqual(await holdersOf(tracker, "both.txt"), ["127.0.0.1:5002"]);
  assert.equal(await tracker.store.has("go, now.txt"), false);
  assert.deepEqual(texts(await b.ask("SEND both.txt, go%2C now.txt\n")), [
    `200-HOLDER 127.0.0.1:5002 1 ${SHA_A} both.txt`,
    "404-NOTFOUND go%2C now.txt",
    "200 END 1 found, 1 not found",
  ]);
  assert.deepEqual(texts(await b.ask("PEERS\n")), [
    "200-PEER 127.0.0.1:5001 1",
    "200-PEER 127.0.0.1:5002 1",
    "200 END 2 peers",
  ]);
});

Deno.test("tracker REMOVE: repeating one name counts it once, and leaves the other holders of it", async () => {
  await using tracker = await suiteTracker();
  const holders: LineClient[] = [];
  try {
    for (let i = 1; i <= 50; i++) {
      const c = await LineClient.connect(tracker.addr.port);
      holders.push(c);
      await c.ask(announcement("UPDATE", 5000 + i, [[1, SHA_A, "popular"]]));
    }
    const last = holders.at(-1)!;
    const reply = await last.ask(`REMOVE 10000\n${"popular\n".repeat(10_000)}`);
    assert.deepEqual(texts(reply), ["200 removed 1 of 10000 files (0 left)"]);
    const left = (await tracker.store.holders("popular", 100)).map((h) => h.address);
    assert.equal(left.length, 49);
    assert.deepEqual(left, Array.from({ length: 49 }, (_, i) => `127.0.0.1:${5001 + i}`));
  } finally {
    for (const c of holders) c[Symbol.dispose]();
  }
});

Deno.test("tracker REMOVE: before any announcement answers 400, having read its name lines", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask("REMOVE 2\nPING\nQUIT\n");
  assert.deepEqual(texts(reply), ["400 nothing announced yet: UPDATE or ADD first"]);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"], "the name lines were not taken as commands");
  assert.equal((await tracker.store.counts()).peers, 0);
});

Deno.test("tracker REMOVE: a bad name line answers 400 naming it and nothing changes", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a.txt"], [1, SHA_A, "b.txt"]]));
  const reply = await c.ask("REMOVE 3\na.txt\n../b.txt\nb.txt\n");
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 400);
  assert.match(reply[0].text, /^name 2: refused name "\.\.\/b\.txt".*; nothing changed$/);
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["a.txt 1 a", "b.txt 1 a"]);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker ADD and REMOVE: a bad header answers 400 or 413 and closes, like UPDATE's", async () => {
  await using tracker = await suiteTracker();
  const cases: [string, number][] = [
    ["REMOVE", 400],
    ["REMOVE x", 400],
    ["REMOVE 1 2", 400],
    ["REMOVE -1", 400],
    [`REMOVE ${Limits.MAX_UPDATE_ENTRIES + 1}`, 413],
    ["ADD 5001", 400],
    ["ADD 0 1", 400],
    ["ADD 5001 x", 400],
    [`ADD 5001 ${Limits.MAX_UPDATE_ENTRIES + 1}`, 413],
  ];
  for (const [header, status] of cases) {
    using c = await LineClient.connect(tracker.addr.port);
    await c.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a.txt"]]));
    const reply = await c.ask(`${header}\na.txt\n`);
    assert.equal(reply.length, 1, header);
    assert.equal(reply[0].status, status, header);
    assert.match(reply[0].text, /; closing$/, header);
    assert.equal(await c.reply(), null, `${header}: the connection is closed`);
  }
});
