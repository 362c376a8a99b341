/**
 * The tracker's in-memory store (`tracker/memory_store.ts`) as pure data,
 * through the {@link TrackerStore} interface: announcing (`UPDATE`, `ADD`,
 * `PARTIAL`), `REMOVE`, a session's end, lookups (whole holders best first,
 * then partial holders but the asker), the HTTP face's ranked holders with
 * their HTTP ports, reports and demotion, peers, pages of names, counts; and
 * the limits `announceInto` (`tracker/store.ts`) applies, each a 413 that
 * changes nothing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CHUNK_SIZE, type FileEntry, Limits, ProtocolError, Status } from "../../protocol.ts";
import { MemoryStore } from "../../tracker/memory_store.ts";
import type { IndexCounts, TrackerStore } from "../../tracker/store.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const ROOT = "f".repeat(64);

/** A whole file of `size` bytes. */
function file(name: string, size = 3, sha256 = SHA_A): FileEntry {
  return { name, size, sha256 };
}

/** A file of three chunks, with its root: one a partial holder may announce. */
function big(name: string, sha256 = SHA_A): FileEntry {
  return { name, size: 3 * CHUNK_SIZE, sha256, root: ROOT };
}

/** Peer `id` at `10.0.0.<id>:5000`, with an HTTP port if given. */
function peer(id: number, httpPort?: number): { id: number; address: string; httpPort?: number } {
  const key = { id, address: `10.0.0.${id}:5000` };
  return httpPort === undefined ? key : { ...key, httpPort };
}

/** The addresses of holders, with `partial` marked. */
function where(holders: { address: string; partial?: boolean }[]): string[] {
  return holders.map((h) => h.partial ? `${h.address} partial` : h.address);
}

/** Whether `fn` throws a `ProtocolError` of `status` whose message matches `message`. */
function throwsStatus(fn: () => unknown, status: number, message: RegExp): void {
  assert.throws(fn, (e: unknown) => {
    assert.ok(e instanceof ProtocolError, String(e));
    assert.equal(e.status, status);
    assert.match(e.message, message);
    return true;
  });
}

/** Everything the store answers about its peers and names, to tell that a refused announcement changed nothing. */
function everything(store: MemoryStore) {
  return {
    counts: store.counts(),
    peers: store.peers().map((p) => ({ record: p, whole: store.filesOf(p.id), partial: store.partialOf(p.id) })),
    names: store.list("", { max: Number.MAX_SAFE_INTEGER }).files,
  };
}

const EMPTY: IndexCounts = { peers: 0, names: 0, entries: 0, partial: 0 };

// ---------------------------------------------------------------------------
// Announcing, removing, leaving

Deno.test("memory store: is a TrackerStore answering at once, described as memory, with ids unchanged", async () => {
  const store: TrackerStore = new MemoryStore();
  assert.equal(store.description, "memory");
  assert.equal(store.idBase, 0);
  const counts = store.counts();
  assert.ok(!(counts instanceof Promise), "the memory store answers at once");
  assert.deepEqual(counts, EMPTY);
  assert.deepEqual(store.peers(), []);
  assert.deepEqual(store.lookup("x", 1), []);
  assert.equal(store.has("x"), false);
  await store.close();
});

Deno.test("memory store: UPDATE replaces, ADD adds, PARTIAL adds partial holdings; each says what it did", () => {
  const store = new MemoryStore();
  assert.deepEqual(store.announce(peer(1), { verb: "UPDATE", files: [file("a"), file("b")] }), {
    count: 2,
    fresh: 2,
    files: 2,
    partial: 0,
  });
  const { count, files, partial } = store.announce(peer(1), {
    verb: "UPDATE",
    files: [file("b", 4, SHA_B), file("c")],
  });
  assert.deepEqual({ count, files, partial }, { count: 2, files: 2, partial: 0 });
  assert.deepEqual(store.filesOf(1), [file("b", 4, SHA_B), file("c")], "a is gone, b changed");
  // ADD: only names the peer did not hold are fresh; a name listed twice counts once, the last entry.
  assert.deepEqual(store.announce(peer(1), { verb: "ADD", files: [file("c", 9), file("d"), file("d", 5)] }), {
    count: 2,
    fresh: 1,
    files: 3,
    partial: 0,
  });
  assert.deepEqual(store.filesOf(1), [file("b", 4, SHA_B), file("c", 9), file("d", 5)]);
  // PARTIAL: a name held whole becomes partial (no new entry); a new one is fresh.
  assert.deepEqual(store.announce(peer(1), { verb: "PARTIAL", files: [big("d"), big("e")] }), {
    count: 2,
    fresh: 1,
    files: 2,
    partial: 2,
  });
  assert.deepEqual(store.filesOf(1).map((f) => f.name), ["b", "c"]);
  assert.deepEqual(store.partialOf(1), [big("d"), big("e")]);
  assert.deepEqual(store.counts(), { peers: 1, names: 2, entries: 4, partial: 2 });
  // ADD makes a partial holding whole.
  assert.deepEqual(store.announce(peer(1), { verb: "ADD", files: [big("e")] }), {
    count: 1,
    fresh: 0,
    files: 3,
    partial: 1,
  });
  assert.deepEqual(store.partialOf(1).map((f) => f.name), ["d"]);
  assert.equal(store.has("e"), true);
  assert.equal(store.has("d"), false, "a name held only partially is not held");
});

Deno.test("memory store: REMOVE takes names out of what the peer holds, whole or partial, and says how many are left", () => {
  const store = new MemoryStore();
  throwsStatus(() => store.remove(1, ["a"]), Status.BAD_REQUEST, /^nothing announced yet/);
  store.announce(peer(1), { verb: "UPDATE", files: [file("a"), file("b"), file("c")] });
  store.announce(peer(1), { verb: "PARTIAL", files: [big("p")] });
  store.announce(peer(2), { verb: "UPDATE", files: [file("a")] });
  assert.deepEqual(store.remove(1, ["a", "p", "never", "a"]), { address: "10.0.0.1:5000", removed: 2, left: 2 });
  assert.deepEqual(store.filesOf(1).map((f) => f.name), ["b", "c"]);
  assert.deepEqual(store.partialOf(1), []);
  assert.deepEqual(where(store.holders("a", 10)), ["10.0.0.2:5000"], "the other peer's holding stays");
  assert.deepEqual(store.counts(), { peers: 2, names: 3, entries: 3, partial: 0 });
});

Deno.test("memory store: leave takes all a peer holds with it, and what was reported about it; its record is returned", () => {
  const store = new MemoryStore({ demoteAfter: 1 });
  assert.equal(store.leave(1), undefined, "a session that announced nothing");
  store.announce(peer(1, 8001), { verb: "UPDATE", files: [file("a")] });
  store.announce(peer(1, 8001), { verb: "PARTIAL", files: [big("p")] });
  store.announce(peer(2), { verb: "UPDATE", files: [file("a")] });
  store.report({ reporter: 3, holder: 1, outcome: "EHASH", bytes: 0 });
  assert.deepEqual(store.lookup("a", 3).map((h) => h.peer), [2], "demoted");
  assert.deepEqual(store.leave(1), { id: 1, address: "10.0.0.1:5000", files: 1, partial: 1, httpPort: 8001 });
  assert.equal(store.feedback.score(1), undefined, "its score is forgotten");
  assert.deepEqual(store.peers().map((p) => p.id), [2]);
  assert.deepEqual(store.lookup("p", 3), []);
  assert.deepEqual(store.counts(), { peers: 1, names: 1, entries: 1, partial: 0 });
  assert.equal(store.leave(1), undefined, "a second leave finds nothing");
});

// ---------------------------------------------------------------------------
// Looking up

Deno.test("memory store: lookup gives the whole holders, then the partial holders but the asker's own holding", () => {
  const store = new MemoryStore();
  store.announce(peer(1), { verb: "PARTIAL", files: [big("f")] });
  store.announce(peer(2), { verb: "UPDATE", files: [big("f")] });
  store.announce(peer(3), { verb: "PARTIAL", files: [big("f")] });
  store.announce(peer(4), { verb: "PARTIAL", files: [big("only partial")] });
  assert.deepEqual(where(store.lookup("f", 9)), ["10.0.0.2:5000", "10.0.0.1:5000 partial", "10.0.0.3:5000 partial"]);
  assert.deepEqual(where(store.lookup("f", 1)), ["10.0.0.2:5000", "10.0.0.3:5000 partial"], "not its own download");
  assert.deepEqual(where(store.lookup("only partial", 9)), ["10.0.0.4:5000 partial"]);
  assert.deepEqual(store.lookup("only partial", 4), [], "only itself holds it");
  assert.deepEqual(store.lookup("f", 9)[1], {
    address: "10.0.0.1:5000",
    size: 3 * CHUNK_SIZE,
    sha256: SHA_A,
    root: ROOT,
    partial: true,
    peer: 1,
  });
  assert.deepEqual(store.lookup("missing", 9), []);
});

Deno.test("memory store: lookup gives at most 50 whole and 50 partial holders, the asker left out before the cap", () => {
  const store = new MemoryStore();
  for (let id = 1; id <= 60; id++) store.announce(peer(id), { verb: "UPDATE", files: [big("f")] });
  for (let id = 101; id <= 160; id++) {
    store.announce({ id, address: `10.0.1.${id}:5000` }, { verb: "PARTIAL", files: [big("f")] });
  }
  const found = store.lookup("f", 101);
  const whole = found.filter((h) => !h.partial).map((h) => h.peer);
  const partial = found.filter((h) => h.partial).map((h) => h.peer);
  assert.deepEqual(whole, Array.from({ length: Limits.MAX_HOLDERS_PER_FILE }, (_, i) => 1 + i));
  assert.deepEqual(partial, Array.from({ length: Limits.MAX_PARTIAL_HOLDERS_PER_FILE }, (_, i) => 102 + i));
});

Deno.test("memory store: ranked gives the whole holders best first, each with its HTTP port if it announced one", () => {
  const store = new MemoryStore();
  store.announce(peer(1), { verb: "UPDATE", files: [file("f")] });
  store.announce(peer(2, 8002), { verb: "UPDATE", files: [file("f", 4, SHA_B)] });
  store.announce(peer(3, 8003), { verb: "PARTIAL", files: [big("f")] });
  assert.deepEqual(store.ranked("f"), [
    { address: "10.0.0.1:5000", size: 3, sha256: SHA_A, peer: 1 },
    { address: "10.0.0.2:5000", size: 4, sha256: SHA_B, peer: 2, httpPort: 8002 },
  ]);
  assert.equal("httpPort" in store.ranked("f")[0], false, "no port: no field");
  store.report({ reporter: 9, holder: 2, outcome: "OK", bytes: 4 });
  assert.deepEqual(store.ranked("f").map((h) => h.peer), [2, 1], "the one that served comes first");
  assert.deepEqual(store.ranked("missing"), []);
});

Deno.test("memory store: holderOf finds the peer at an address holding a name, whole or partially, with its size", () => {
  const store = new MemoryStore();
  store.announce(peer(1), { verb: "UPDATE", files: [file("f", 7)] });
  store.announce(peer(2), { verb: "PARTIAL", files: [big("f")] });
  assert.deepEqual(store.holderOf("f", "10.0.0.1:5000"), { peer: 1, size: 7 });
  assert.deepEqual(store.holderOf("f", "10.0.0.2:5000"), { peer: 2, size: 3 * CHUNK_SIZE });
  assert.equal(store.holderOf("f", "10.0.0.3:5000"), undefined);
  assert.equal(store.holderOf("g", "10.0.0.1:5000"), undefined);
});

Deno.test("memory store: report counts votes per reporter; a demoted holder is left out of lookups but not of holders", () => {
  const store = new MemoryStore(); // demoted after 2 failing sessions
  store.announce(peer(1), { verb: "UPDATE", files: [file("f")] });
  store.announce(peer(2), { verb: "UPDATE", files: [file("f")] });
  assert.deepEqual(store.report({ reporter: 10, holder: 1, outcome: "EHASH", bytes: 0 }), {
    served: 0,
    succeeded: 0,
    failed: 1,
    demoted: false,
    lastFailure: "EHASH",
  });
  assert.equal(store.report({ reporter: 10, holder: 1, outcome: "EHASH", bytes: 0 }).failed, 1, "one vote a reporter");
  assert.deepEqual(store.lookup("f", 10).map((h) => h.peer), [2, 1], "one failing session moves it last");
  assert.deepEqual(store.report({ reporter: 11, holder: 1, outcome: "ETIMEDOUT", bytes: 0 }), {
    served: 0,
    succeeded: 0,
    failed: 2,
    demoted: true,
    lastFailure: "ETIMEDOUT",
  });
  assert.deepEqual(store.lookup("f", 10).map((h) => h.peer), [2]);
  assert.deepEqual(store.ranked("f").map((h) => h.peer), [2]);
  assert.deepEqual(store.holders("f", 10).map((h) => h.peer), [1, 2], "holders: announcement order, demoted ones too");
  assert.deepEqual(store.holders("f", 1).map((h) => h.peer), [1], "at most max");
});

Deno.test("memory store: peers in order of arrival, pages of names, has and counts", () => {
  const store = new MemoryStore();
  store.announce(peer(2, 8002), { verb: "UPDATE", files: [file("Notes.txt"), file("b.bin")] });
  store.announce(peer(1), { verb: "UPDATE", files: [file("notes.md", 5, SHA_B), file("b.bin")] });
  store.announce(peer(3), { verb: "PARTIAL", files: [big("notes partial")] });
  assert.deepEqual(store.peers(), [
    { id: 2, address: "10.0.0.2:5000", files: 2, httpPort: 8002 },
    { id: 1, address: "10.0.0.1:5000", files: 2 },
    { id: 3, address: "10.0.0.3:5000", files: 0, partial: 1 },
  ]);
  const notes = store.list("NOTES", { max: 10 });
  assert.deepEqual(notes.files, [
    { name: "Notes.txt", size: 3, sha256: SHA_A, holders: 1 },
    { name: "notes.md", size: 5, sha256: SHA_B, holders: 1 },
  ]);
  assert.equal(notes.matched, 2, "a partial holding is not listed");
  const second = store.list("", { max: 1, skip: 1 });
  assert.deepEqual(second.files.map((f) => f.name), ["b.bin"], "sorted: Notes.txt, b.bin, notes.md");
  assert.equal(second.matched, 3);
  assert.deepEqual(store.list("b.bin", { max: 10 }).files, [{ name: "b.bin", size: 3, sha256: SHA_A, holders: 2 }]);
  assert.equal(store.has("b.bin"), true);
  assert.equal(store.has("B.BIN"), false, "names are exact");
  assert.deepEqual(store.counts(), { peers: 3, names: 3, entries: 5, partial: 1 });
});

// ---------------------------------------------------------------------------
// The limits (announceInto): 413, nothing changed

Deno.test("memory store: more than 64 partial holdings of a peer answer 413 and change nothing", () => {
  assert.equal(Limits.MAX_PARTIAL_PER_PEER, 64);
  const store = new MemoryStore();
  const many = (n: number, prefix: string) => Array.from({ length: n }, (_, i) => big(`${prefix}${i}`));
  const refused = /^a peer may announce at most 64 partial holdings; nothing changed$/;
  throwsStatus(() => store.announce(peer(1), { verb: "PARTIAL", files: many(65, "p") }), Status.TOO_LARGE, refused);
  assert.deepEqual(store.counts(), EMPTY, "a refused PARTIAL makes no peer");
  store.announce(peer(1), { verb: "UPDATE", files: [big("w")] });
  assert.equal(store.announce(peer(1), { verb: "PARTIAL", files: many(64, "p") }).partial, 64);
  const before = everything(store);
  throwsStatus(() => store.announce(peer(1), { verb: "PARTIAL", files: [big("one more")] }), Status.TOO_LARGE, refused);
  // A held name turned partial is one more partial holding too.
  throwsStatus(() => store.announce(peer(1), { verb: "PARTIAL", files: [big("w")] }), Status.TOO_LARGE, refused);
  assert.deepEqual(everything(store), before);
  // Holdings announced again, or as another version, are not new ones; one made whole makes room.
  assert.deepEqual(store.announce(peer(1), { verb: "PARTIAL", files: [big("p0", SHA_B), big("p1")] }), {
    count: 2,
    fresh: 0,
    files: 1,
    partial: 64,
  });
  store.announce(peer(1), { verb: "ADD", files: [big("p2")] });
  assert.equal(store.announce(peer(1), { verb: "PARTIAL", files: [big("one more")] }).partial, 64);
  // Another peer has its own 64.
  assert.equal(store.announce(peer(2), { verb: "PARTIAL", files: many(64, "q") }).partial, 64);
});

Deno.test("memory store: an announcement past maxEntries answers 413 and changes nothing; replacing counts only the difference", () => {
  const store = new MemoryStore({ maxEntries: 4 });
  const full = /^the index is full \(4 entries in all\); nothing changed$/;
  store.announce(peer(1), { verb: "UPDATE", files: [file("a1"), file("a2"), file("a3")] });
  const before = everything(store);
  throwsStatus(
    () => store.announce(peer(2), { verb: "UPDATE", files: [file("b1"), file("b2")] }),
    Status.TOO_LARGE,
    full,
  );
  throwsStatus(() => store.announce(peer(2), { verb: "ADD", files: [file("b1"), file("b2")] }), Status.TOO_LARGE, full);
  throwsStatus(
    () => store.announce(peer(2), { verb: "PARTIAL", files: [big("b1"), big("b2")] }),
    Status.TOO_LARGE,
    full,
  );
  throwsStatus(() => store.announce(peer(1), { verb: "ADD", files: [file("a4"), file("a5")] }), Status.TOO_LARGE, full);
  assert.deepEqual(everything(store), before, "nothing changed, and no peer was made");
  // Replacing one's own entries, changing held ones, or turning one partial, adds none.
  assert.equal(
    store.announce(peer(1), { verb: "UPDATE", files: [file("a1", 9), file("a2"), file("x"), file("y")] }).files,
    4,
  );
  assert.equal(store.announce(peer(1), { verb: "ADD", files: [file("x", 5), file("y", 6)] }).fresh, 0);
  assert.equal(store.announce(peer(1), { verb: "PARTIAL", files: [big("x")] }).fresh, 0);
  assert.deepEqual(store.counts(), { peers: 1, names: 3, entries: 4, partial: 1 });
  throwsStatus(() => store.announce(peer(2), { verb: "ADD", files: [file("b1")] }), Status.TOO_LARGE, full);
  // An entry that leaves makes room.
  store.remove(1, ["y"]);
  assert.equal(store.announce(peer(2), { verb: "ADD", files: [file("b1")] }).fresh, 1);
});

Deno.test("memory store: ADD or PARTIAL past 100,000 entries of one peer answers 413 and changes nothing", () => {
  assert.equal(Limits.MAX_UPDATE_ENTRIES, 100_000);
  const store = new MemoryStore({ maxEntries: Limits.MAX_UPDATE_ENTRIES + 10 });
  const all = Array.from({ length: Limits.MAX_UPDATE_ENTRIES }, (_, i) => file(`f${i}`));
  assert.equal(store.announce(peer(1), { verb: "UPDATE", files: all }).files, Limits.MAX_UPDATE_ENTRIES);
  const tooMany = /^a peer may announce at most 100000 files; nothing changed$/;
  throwsStatus(() => store.announce(peer(1), { verb: "ADD", files: [file("one more")] }), Status.TOO_LARGE, tooMany);
  throwsStatus(() => store.announce(peer(1), { verb: "PARTIAL", files: [big("one more")] }), Status.TOO_LARGE, tooMany);
  assert.deepEqual(store.counts(), { peers: 1, names: Limits.MAX_UPDATE_ENTRIES, entries: 100_000, partial: 0 });
  assert.equal(store.has("one more"), false);
  // Changing held files adds none, and another peer has room of its own.
  assert.equal(store.announce(peer(1), { verb: "ADD", files: [file("f0", 9)] }).fresh, 0);
  assert.equal(store.announce(peer(2), { verb: "ADD", files: [file("g")] }).fresh, 1);
});
