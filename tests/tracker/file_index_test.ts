/**
 * The tracker's index (`tracker/file_index.ts`) as pure data: which peer
 * holds which file, in announcement order; peers in order of arrival;
 * announcements that replace, add and drop; sorted, filtered pages of names;
 * counts; slots reused as peers come and go.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { FileEntry } from "../../protocol.ts";
import { TrackerIndex } from "../../tracker/file_index.ts";

/** Holders without their peer ids, which these tests do not look at. */
function plain(holders: { peer: number }[]): unknown[] {
  return holders.map(({ peer: _, ...rest }) => rest);
}

const sha = (c: string) => c.repeat(64);

function entry(name: string, size = name.length, digest = sha("a")): FileEntry {
  return { name, size, sha256: digest };
}

Deno.test("file index: an empty index has no peers, holders or files", () => {
  const index = new TrackerIndex();
  assert.deepEqual(index.peers(), []);
  assert.equal(index.peer(1), undefined);
  assert.deepEqual(index.holders("x", 10), []);
  assert.deepEqual(index.list("", { max: 10 }), { files: [], truncated: false, matched: 0 });
  assert.deepEqual(index.stats(), { peers: 0, names: 0, entries: 0 });
});

Deno.test("file index: an announced file is held by the peer at its address", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "10.0.0.1:7000" }, [entry("song.mp3", 42, sha("b")), entry("notes.txt", 3)]);
  assert.deepEqual(plain(index.holders("song.mp3", 10)), [{ address: "10.0.0.1:7000", size: 42, sha256: sha("b") }]);
  assert.deepEqual(plain(index.holders("notes.txt", 10)), [{ address: "10.0.0.1:7000", size: 3, sha256: sha("a") }]);
  assert.deepEqual(index.holders("other", 10), []);
  const peer = index.peer(1);
  assert.equal(peer?.id, 1);
  assert.equal(peer?.address, "10.0.0.1:7000");
  assert.equal(peer?.files, 2);
  assert.deepEqual(index.filesOf(1), [entry("song.mp3", 42, sha("b")), entry("notes.txt", 3)]);
});

Deno.test("file index: names are exact, so holders() does not match another case", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "h:1" }, [entry("Song.mp3")]);
  assert.equal(index.holders("Song.mp3", 10).length, 1);
  assert.deepEqual(index.holders("song.mp3", 10), []);
});

Deno.test("file index: holders come in announcement order, at most max", () => {
  const index = new TrackerIndex();
  index.announce({ id: 3, address: "c:3" }, [entry("f", 1, sha("c"))]);
  index.announce({ id: 1, address: "a:1" }, [entry("f", 1, sha("a"))]);
  index.announce({ id: 2, address: "b:2" }, [entry("f", 1, sha("b"))]);
  assert.deepEqual(index.holders("f", 10).map((h) => h.address), ["c:3", "a:1", "b:2"]);
  assert.deepEqual(index.holders("f", 2).map((h) => h.address), ["c:3", "a:1"]);
  assert.deepEqual(plain(index.holders("f", 1)), [{ address: "c:3", size: 1, sha256: sha("c") }]);
  assert.deepEqual(index.holders("f", 0), []);
});

Deno.test("file index: each holder reports its own size and sha256", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("f", 10, sha("a"))]);
  index.announce({ id: 2, address: "b:2" }, [entry("f", 20, sha("b"))]);
  assert.deepEqual(plain(index.holders("f", 10)), [
    { address: "a:1", size: 10, sha256: sha("a") },
    { address: "b:2", size: 20, sha256: sha("b") },
  ]);
});

Deno.test("file index: a second announce replaces what the peer held", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("old"), entry("kept", 1)]);
  index.announce({ id: 2, address: "b:2" }, [entry("old")]);
  index.announce({ id: 1, address: "a:9" }, [entry("kept", 2), entry("new")]);
  assert.deepEqual(index.holders("old", 10).map((h) => h.address), ["b:2"]);
  assert.deepEqual(plain(index.holders("kept", 10)), [{ address: "a:9", size: 2, sha256: sha("a") }]);
  assert.deepEqual(index.holders("new", 10).map((h) => h.address), ["a:9"]);
  assert.deepEqual(index.filesOf(1).map((e) => e.name), ["kept", "new"]);
  assert.equal(index.peer(1)!.address, "a:9");
  assert.deepEqual(index.stats(), { peers: 2, names: 3, entries: 3 });
});

Deno.test("file index: an announce of nothing empties the peer but keeps it known", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("x"), entry("y")]);
  index.announce({ id: 1, address: "a:1" }, []);
  assert.deepEqual(index.holders("x", 10), []);
  assert.deepEqual(index.list("", { max: 10 }).files, []);
  assert.equal(index.peer(1)?.files, 0);
  assert.deepEqual(index.stats(), { peers: 1, names: 0, entries: 0 });
});

Deno.test("file index: removing a peer keeps the other peers' holders", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("shared"), entry("only-a")]);
  index.announce({ id: 2, address: "b:2" }, [entry("shared"), entry("only-b")]);
  index.remove(1);
  assert.equal(index.peer(1), undefined);
  assert.deepEqual(index.peers().map((p) => p.id), [2]);
  assert.deepEqual(index.holders("shared", 10).map((h) => h.address), ["b:2"]);
  assert.deepEqual(index.holders("only-a", 10), []);
  assert.deepEqual(index.holders("only-b", 10).map((h) => h.address), ["b:2"]);
  assert.deepEqual(index.list("", { max: 10 }).files.map((f) => f.name), ["only-b", "shared"]);
  assert.deepEqual(index.stats(), { peers: 1, names: 2, entries: 2 });
});

Deno.test("file index: removing an unknown peer, or a peer twice, changes nothing", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("x")]);
  index.remove(99);
  assert.deepEqual(index.stats(), { peers: 1, names: 1, entries: 1 });
  index.remove(1);
  index.remove(1);
  assert.deepEqual(index.stats(), { peers: 0, names: 0, entries: 0 });
  assert.deepEqual(index.list("", { max: 10 }), { files: [], truncated: false, matched: 0 });
});

Deno.test("file index: peers() lists the peers in order of arrival", () => {
  const index = new TrackerIndex();
  index.announce({ id: 5, address: "e:5" }, []);
  index.announce({ id: 2, address: "b:2" }, [entry("x")]);
  index.announce({ id: 9, address: "i:9" }, [entry("y")]);
  assert.deepEqual(index.peers().map((p) => [p.id, p.address]), [[5, "e:5"], [2, "b:2"], [9, "i:9"]]);
});

Deno.test("file index: list() filters case-insensitively and sorts the names", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [
    entry("zeta.MP3"),
    entry("alpha.mp3"),
    entry("readme.txt"),
    entry("Mp3 list.doc"),
  ]);
  index.announce({ id: 2, address: "b:2" }, [entry("beta.mp3")]);
  const { files, truncated } = index.list("mP3", { max: 10 });
  assert.deepEqual(files.map((f) => f.name), ["Mp3 list.doc", "alpha.mp3", "beta.mp3", "zeta.MP3"]);
  assert.equal(truncated, false);
  assert.deepEqual(index.list("README", { max: 10 }).files.map((f) => f.name), ["readme.txt"]);
  assert.deepEqual(index.list("nothing", { max: 10 }), { files: [], truncated: false, matched: 0 });
  assert.equal(index.list("", { max: 10 }).files.length, 5);
});

Deno.test("file index: list() gives size and sha256 of the first holder and counts the holders", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("f", 10, sha("a"))]);
  index.announce({ id: 2, address: "b:2" }, [entry("f", 20, sha("b")), entry("g", 5, sha("c"))]);
  assert.deepEqual(index.list("", { max: 10 }).files, [
    { name: "f", size: 10, sha256: sha("a"), holders: 2 },
    { name: "g", size: 5, sha256: sha("c"), holders: 1 },
  ]);
});

Deno.test("file index: list() keeps the first max names and says it truncated", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, ["d", "b", "e", "a", "c"].map((n) => entry(n)));
  assert.deepEqual(index.list("", { max: 3 }), {
    files: ["a", "b", "c"].map((name) => ({ name, size: 1, sha256: sha("a"), holders: 1 })),
    truncated: true,
    matched: 5,
  });
  assert.equal(index.list("", { max: 5 }).truncated, false, "exactly max is not truncated");
  assert.equal(index.list("", { max: 4 }).truncated, true);
  assert.deepEqual(index.list("", { max: 0 }), { files: [], truncated: true, matched: 5 });
  assert.deepEqual(index.list("", { max: 2, skip: 4 }).files.map((f) => f.name), ["e"], "skip: the last page");
  assert.equal(index.list("", { max: 2, skip: 4 }).truncated, false);
  assert.deepEqual(index.list("", { max: 2, skip: 9 }).files, [], "skip past the end");
});

Deno.test("file index: add() and drop() change one peer's files without touching the rest", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("keep"), entry("go")]);
  index.announce({ id: 2, address: "b:2" }, [entry("go"), entry("other")]);
  assert.equal(index.add({ id: 1, address: "a:1" }, [entry("new", 7), entry("keep", 9)]), 1, "one new, one updated");
  assert.deepEqual(index.filesOf(1).map((f) => [f.name, f.size]).sort(), [["go", 2], ["keep", 9], ["new", 7]]);
  assert.equal(index.drop(1, ["go", "missing", "go"]), 1);
  assert.deepEqual(index.filesOf(1).map((f) => f.name).sort(), ["keep", "new"]);
  assert.deepEqual(index.holders("go", 10).map((h) => h.address), ["b:2"], "the other holder stays");
  assert.equal(index.has("new"), true);
  assert.equal(index.drop(1, ["new"]), 1);
  assert.equal(index.has("new"), false);
  assert.deepEqual(index.stats(), { peers: 2, names: 3, entries: 3 });
  assert.equal(index.drop(9, ["keep"]), 0, "an unknown peer drops nothing");
  assert.equal(index.add({ id: 3, address: "c:3" }, [entry("fresh")]), 1, "add() without an announce first");
  assert.deepEqual(index.peer(3), { id: 3, address: "c:3", files: 1 });
});

Deno.test("file index: stats() counts peers, distinct names and (file, peer) entries", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("x"), entry("y")]);
  index.announce({ id: 2, address: "b:2" }, [entry("x"), entry("z")]);
  index.announce({ id: 3, address: "c:3" }, []);
  assert.deepEqual(index.stats(), { peers: 3, names: 3, entries: 4 });
});

Deno.test("file index: a peer that announces again keeps its place in the peer list", () => {
  const index = new TrackerIndex();
  const entry = { name: "a", size: 1, sha256: "0".repeat(64) };
  index.announce({ id: 1, address: "h:1" }, [entry]);
  index.announce({ id: 2, address: "h:2" }, [entry]);
  index.announce({ id: 1, address: "h:1" }, [{ ...entry, name: "b" }]);
  assert.deepEqual(index.peers().map((p) => p.id), [1, 2]);
  assert.deepEqual(index.holders("a", 10).map((h) => h.address), ["h:2"]);
});

Deno.test("file index: holders stay in order through removals from the front, middle and end", () => {
  const index = new TrackerIndex();
  for (let id = 1; id <= 5; id++) index.announce({ id: id, address: `p:${id}` }, [entry("f")]);
  const order = () => index.holders("f", 10).map((h) => h.address);
  index.remove(3);
  assert.deepEqual(order(), ["p:1", "p:2", "p:4", "p:5"]);
  index.remove(1);
  assert.deepEqual(order(), ["p:2", "p:4", "p:5"]);
  index.remove(5);
  assert.deepEqual(order(), ["p:2", "p:4"]);
  index.announce({ id: 6, address: "p:6" }, [entry("f")]);
  assert.deepEqual(order(), ["p:2", "p:4", "p:6"]);
  index.remove(2);
  index.remove(4);
  index.remove(6);
  assert.deepEqual(order(), []);
  assert.deepEqual(index.stats(), { peers: 0, names: 0, entries: 0 });
});

Deno.test("file index: slots freed by departed peers are reused, and thousands of entries keep their data", () => {
  const index = new TrackerIndex();
  const hexOf = (i: number) => i.toString(16).padStart(64, "0");
  for (let round = 0; round < 3; round++) {
    for (let id = 0; id < 50; id++) {
      index.announce(
        { id, address: `p:${id}` },
        Array.from({ length: 100 }, (_, i) => entry(`n${i}`, id * 1000 + i, hexOf(id * 100 + i))),
      );
    }
    assert.deepEqual(index.stats(), { peers: 50, names: 100, entries: 5000 });
    const holders = index.holders("n7", 100);
    assert.equal(holders.length, 50);
    holders.forEach((h, id) =>
      assert.deepEqual(h, { address: `p:${id}`, size: id * 1000 + 7, sha256: hexOf(id * 100 + 7), peer: id })
    );
    for (let id = 0; id < 50; id++) index.remove(id);
    assert.deepEqual(index.stats(), { peers: 0, names: 0, entries: 0 });
  }
});

Deno.test("file index: a name announced twice by one peer counts once, with the last size and hash", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("f", 1, sha("a")), entry("f", 2, sha("b"))]);
  assert.deepEqual(plain(index.holders("f", 10)), [{ address: "a:1", size: 2, sha256: sha("b") }]);
  assert.deepEqual(index.stats(), { peers: 1, names: 1, entries: 1 });
});

Deno.test("file index: peer ids past 2^31 keep working", () => {
  const index = new TrackerIndex();
  const big = 2 ** 31 + 5;
  index.announce({ id: big, address: "far:1" }, [entry("f")]);
  assert.deepEqual(index.holders("f", 10).map((h) => h.address), ["far:1"]);
  index.remove(big);
  assert.deepEqual(index.stats(), { peers: 0, names: 0, entries: 0 });
});

Deno.test("file index: list() pages come from one sorted list, which follows names that come and go", () => {
  const index = new TrackerIndex();
  const sha = "b".repeat(64);
  index.announce({ id: 1, address: "h:1" }, ["c", "a", "b"].map((name) => ({ name, size: 1, sha256: sha })));
  assert.deepEqual(index.list("", { max: 2 }).files.map((f) => f.name), ["a", "b"]);
  assert.deepEqual(index.list("", { max: 2, skip: 2 }).files.map((f) => f.name), ["c"]);
  index.add({ id: 2, address: "h:2" }, [{ name: "aa", size: 1, sha256: sha }]);
  assert.deepEqual(index.list("", { max: 10 }).files.map((f) => f.name), ["a", "aa", "b", "c"], "a new name");
  index.drop(1, ["b"]);
  assert.deepEqual(index.list("", { max: 10 }).files.map((f) => f.name), ["a", "aa", "c"], "a name gone");
  assert.deepEqual(index.list("a", { max: 10 }).files.map((f) => f.name), ["a", "aa"], "another text");
  index.remove(2);
  assert.deepEqual(index.list("a", { max: 10 }).files.map((f) => f.name), ["a"], "a peer gone");
});

// ---------------------------------------------------------------------------
// Partial holdings

/** A file of three chunks with its root, as a partial holder announces it. */
function big(name: string, digest = sha("c")): FileEntry {
  return { name, size: 3 * 1024 * 1024, sha256: digest, root: sha("d") };
}

Deno.test("file index: a partial holding is listed apart: not among holders() nor in list(), but in partialHolders()", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [big("both.bin")]);
  index.addPartial({ id: 2, address: "b:2" }, [big("both.bin"), big("only.bin")]);
  assert.deepEqual(index.holders("both.bin", 10).map((h) => h.address), ["a:1"]);
  assert.deepEqual(index.holders("only.bin", 10), []);
  assert.deepEqual(plain(index.partialHolders("only.bin", { max: 10 })), [
    { address: "b:2", size: 3 * 1024 * 1024, sha256: sha("c"), root: sha("d"), partial: true },
  ]);
  assert.deepEqual(index.list("", { max: 10 }), {
    files: [{ name: "both.bin", size: 3 * 1024 * 1024, sha256: sha("c"), holders: 1 }],
    truncated: false,
    matched: 1,
  });
  assert.equal(index.has("only.bin"), false, "has() asks for whole holders");
  assert.deepEqual(index.peer(2), { id: 2, address: "b:2", files: 0, partial: 2 });
  assert.deepEqual(index.filesOf(2), []);
  assert.deepEqual(index.partialOf(2), [big("both.bin"), big("only.bin")]);
  assert.deepEqual(index.stats(), { peers: 2, names: 1, entries: 3 }, "entries count partial holdings too");
  assert.equal(index.partialEntries, 2);
});

Deno.test("file index: add() makes a partial holding whole, last among the holders; addPartial() makes a whole one partial", () => {
  const index = new TrackerIndex();
  index.addPartial({ id: 1, address: "a:1" }, [big("f")]);
  index.announce({ id: 2, address: "b:2" }, [big("f")]);
  index.announce({ id: 3, address: "c:3" }, [big("f")]);
  assert.equal(index.add({ id: 1, address: "a:1" }, [big("f", sha("e"))]), 0, "not new: held partially before");
  assert.deepEqual(index.holders("f", 10).map((h) => [h.address, h.sha256[0], h.partial]), [
    ["b:2", "c", undefined],
    ["c:3", "c", undefined],
    ["a:1", "e", undefined],
  ]);
  assert.deepEqual(index.partialHolders("f", { max: 10 }), []);
  assert.deepEqual(index.peer(1), { id: 1, address: "a:1", files: 1 });
  assert.equal(index.addPartial({ id: 2, address: "b:2" }, [big("f")]), 0);
  assert.deepEqual(index.holders("f", 10).map((h) => h.address), ["c:3", "a:1"]);
  assert.deepEqual(index.partialHolders("f", { max: 10 }).map((h) => h.address), ["b:2"]);
  assert.equal(index.countPartial(2, ["f", "f", "g"]), 1);
  assert.equal(index.countNew(2, ["f", "g"]), 1, "a partial holding is not new");
  assert.deepEqual([index.stats().entries, index.partialEntries], [3, 1]);
});

Deno.test("file index: drop(), remove() and a new announce() take partial holdings out, and the counts follow", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [entry("keep")]);
  index.addPartial({ id: 1, address: "a:1" }, [big("p1"), big("p2"), big("p3")]);
  assert.equal(index.drop(1, ["p1", "keep"]), 2);
  assert.deepEqual(index.peer(1), { id: 1, address: "a:1", files: 0, partial: 2 });
  assert.deepEqual(index.partialHolders("p1", { max: 10 }), []);
  index.announce({ id: 1, address: "a:1" }, [entry("x")]);
  assert.deepEqual(index.peer(1), { id: 1, address: "a:1", files: 1 });
  assert.deepEqual(index.partialHolders("p2", { max: 10 }), []);
  assert.equal(index.partialEntries, 0);
  index.addPartial({ id: 2, address: "b:2" }, [big("p2")]);
  index.remove(2);
  assert.deepEqual([index.stats(), index.partialEntries], [{ peers: 1, names: 1, entries: 1 }, 0]);
});

Deno.test("file index: holderOf() finds a partial holder as it finds a whole one", () => {
  const index = new TrackerIndex();
  index.announce({ id: 1, address: "a:1" }, [big("f")]);
  index.addPartial({ id: 2, address: "b:2" }, [big("f")]);
  assert.deepEqual(index.holderOf("f", "a:1"), { peer: 1, size: 3 * 1024 * 1024 });
  assert.deepEqual(index.holderOf("f", "b:2"), { peer: 2, size: 3 * 1024 * 1024 });
  assert.equal(index.holderOf("f", "c:3"), undefined);
});

Deno.test("file index: partialHolders() keeps announcement order, stops at max, looks at most scan, and skips what keep refuses", () => {
  const index = new TrackerIndex();
  for (let id = 1; id <= 6; id++) index.addPartial({ id, address: `p:${id}` }, [big("f")]);
  const of = (scan: Parameters<TrackerIndex["partialHolders"]>[1]) =>
    index.partialHolders("f", scan).map((h) => h.peer);
  assert.deepEqual(of({ max: 10 }), [1, 2, 3, 4, 5, 6]);
  assert.deepEqual(of({ max: 2 }), [1, 2]);
  assert.deepEqual(of({ max: 10, keep: (peer) => peer % 2 === 0 }), [2, 4, 6]);
  assert.deepEqual(of({ max: 10, scan: 3, keep: (peer) => peer % 2 === 0 }), [2]);
  index.remove(1);
  index.remove(4);
  assert.deepEqual(of({ max: 10 }), [2, 3, 5, 6]);
});
