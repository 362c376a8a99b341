/**
 * Partial holders at the tracker (`PARTIAL`), over real loopback sockets: a
 * peer still downloading a file of more than one chunk announces it as a
 * partial holding; `SEND` lists it on a `PARTIAL` line after the file's
 * holders (a name held only partially is found); `ADD` makes it whole,
 * `REMOVE` and `UPDATE` take it out, and so does the session's end; an entry
 * of one chunk or without its root is refused, and so is a 65th partial
 * holding; `REPORT` and demotion work on partial holders as on whole ones;
 * `LIST`, `PEERS` and `STATS` count whole files apart from partial holdings.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CHUNK_SIZE, Limits, parseIndexed, parseSendReply } from "../../protocol.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { HolderFeedback, TrackerIndex } from "../../tracker.ts";
import { partialHolders, rankedHolders } from "../../tracker/lookup.ts";
import { announcement, LineClient, texts } from "../helpers/net.ts";
import { suiteTracker } from "../helpers/roles.ts";
import { fileLinesAt } from "../helpers/tracker_index.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const ROOT = "f".repeat(64);
/** Three chunks: a file a partial holder may announce. */
const SIZE = 3 * CHUNK_SIZE;
/** The hash field of a file of more than one chunk: its SHA-256 and its root. */
const A = `${SHA_A}:${ROOT}`;
const B = `${SHA_B}:${ROOT}`;

/** A `PARTIAL` block: `entries` are `[size, hash field, name]`, as in `announcement`. */
function partial(port: number, entries: [number, string, string][]): string {
  return [`PARTIAL ${port} ${entries.length}`, ...entries.map(([size, hash, name]) => `${size} ${hash} ${name}`)]
    .join("\n") + "\n";
}

/** `count` partial holdings of three-chunk files, named `<prefix>0`, `<prefix>1`, … */
function many(count: number, prefix: string): [number, string, string][] {
  return Array.from({ length: count }, (_, i): [number, string, string] => [SIZE, A, `${prefix}${i}`]);
}

// ---------------------------------------------------------------------------
// Announcing, and SEND

Deno.test("tracker PARTIAL: SEND lists partial holders on PARTIAL lines after the holders; a name held only partially is found", async () => {
  await using tracker = await suiteTracker();
  using early = await LineClient.connect(tracker.addr.port);
  using whole = await LineClient.connect(tracker.addr.port);
  using late = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  // The partial holder announces first: its line still comes after the holder's.
  assert.deepEqual(texts(await early.ask(partial(5001, [[SIZE, A, "big file.bin"]]))), [
    "200 indexed 1 partial holding as 127.0.0.1:5001 (1 new, 1 in all)",
  ]);
  assert.deepEqual(await tracker.events.next("announced"), {
    type: "announced",
    peer: "127.0.0.1:5001",
    files: 0,
    added: 1,
    partial: 1,
  });
  await whole.ask(announcement("UPDATE", 5002, [[SIZE, A, "big file.bin"]]));
  await late.ask(partial(5003, [[SIZE, A, "big file.bin"], [SIZE, B, "only%2C partial.bin"]]));
  const reply = await asker.ask("SEND big file.bin, only%2C partial.bin, missing.bin\n");
  assert.deepEqual(texts(reply), [
    `200-HOLDER 127.0.0.1:5002 ${SIZE} ${A} big file.bin`,
    `200-PARTIAL 127.0.0.1:5001 ${SIZE} ${A} big file.bin`,
    `200-PARTIAL 127.0.0.1:5003 ${SIZE} ${A} big file.bin`,
    `200-PARTIAL 127.0.0.1:5003 ${SIZE} ${B} only%2C partial.bin`,
    "404-NOTFOUND missing.bin",
    "200 END 2 found, 1 not found",
  ]);
  const [big, only] = parseSendReply(reply);
  assert.deepEqual(big.holders.map((h) => [h.address, h.partial]), [
    ["127.0.0.1:5002", undefined],
    ["127.0.0.1:5001", true],
    ["127.0.0.1:5003", true],
  ]);
  assert.deepEqual(only.holders, [{ address: "127.0.0.1:5003", size: SIZE, sha256: SHA_B, root: ROOT, partial: true }]);
});

Deno.test("tracker PARTIAL: adds to what the session announced; a name it held, whole or partially, takes the new entry", async () => {
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  await peer.ask(announcement("UPDATE", 5001, [[SIZE, A, "big.bin"], [10, SHA_A, "keep.txt"]]));
  assert.deepEqual(texts(await peer.ask(partial(5001, [[SIZE, A, "big.bin"], [SIZE, A, "other.bin"]]))), [
    "200 indexed 2 partial holdings as 127.0.0.1:5001 (1 new, 2 in all)",
  ]);
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:5001"), ["keep.txt 10 a"], "big.bin is no longer whole");
  assert.deepEqual(texts(await asker.ask("SEND big.bin\n")), [
    `200-PARTIAL 127.0.0.1:5001 ${SIZE} ${A} big.bin`,
    "200 END 1 found, 0 not found",
  ]);
  // Another version of a partial holding replaces it.
  assert.deepEqual(texts(await peer.ask(partial(5001, [[SIZE + 1, B, "big.bin"]]))), [
    "200 indexed 1 partial holding as 127.0.0.1:5001 (0 new, 2 in all)",
  ]);
  assert.deepEqual(texts(await asker.ask("SEND big.bin\n")), [
    `200-PARTIAL 127.0.0.1:5001 ${SIZE + 1} ${B} big.bin`,
    "200 END 1 found, 0 not found",
  ]);
  assert.deepEqual((await tracker.store.peers()).map((p) => [p.files, p.partial]), [[1, 2]]);
});

Deno.test("tracker ADD after PARTIAL: the partial holding becomes whole: a HOLDER line, last among the holders, and no PARTIAL line", async () => {
  await using tracker = await suiteTracker();
  using downloader = await LineClient.connect(tracker.addr.port);
  using seeder = await LineClient.connect(tracker.addr.port);
  await downloader.ask(partial(5001, [[SIZE, A, "big.bin"]]));
  await seeder.ask(announcement("UPDATE", 5002, [[SIZE, A, "big.bin"]]));
  assert.deepEqual(texts(await downloader.ask(announcement("ADD", 5001, [[SIZE, A, "big.bin"]]))), [
    "200 indexed 1 file as 127.0.0.1:5001 (0 new, 1 in all)",
  ]);
  assert.deepEqual(texts(await seeder.ask("SEND big.bin\n")), [
    `200-HOLDER 127.0.0.1:5002 ${SIZE} ${A} big.bin`,
    `200-HOLDER 127.0.0.1:5001 ${SIZE} ${A} big.bin`,
    "200 END 1 found, 0 not found",
  ]);
  assert.deepEqual((await tracker.store.peers()).map((p) => [p.address, p.files, p.partial]), [
    ["127.0.0.1:5001", 1, undefined],
    ["127.0.0.1:5002", 1, undefined],
  ]);
});

Deno.test("tracker REMOVE and UPDATE: take partial holdings out as they do whole files", async () => {
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  await peer.ask(announcement("UPDATE", 5001, [[10, SHA_A, "keep.txt"]]));
  await peer.ask(partial(5001, [[SIZE, A, "p1.bin"], [SIZE, A, "p2.bin"]]));
  // `(1 left)`: whole files, as ADD's `in all` counts them.
  assert.deepEqual(texts(await peer.ask("REMOVE 1\np1.bin\n")), ["200 removed 1 of 1 file (1 left)"]);
  assert.deepEqual(texts(await asker.ask("SEND p1.bin, p2.bin\n")), [
    "404-NOTFOUND p1.bin",
    `200-PARTIAL 127.0.0.1:5001 ${SIZE} ${A} p2.bin`,
    "200 END 1 found, 1 not found",
  ]);
  await peer.ask(announcement("UPDATE", 5001, [[10, SHA_A, "keep.txt"]]));
  assert.deepEqual(texts(await asker.ask("SEND p2.bin\n")), ["404-NOTFOUND p2.bin", "200 END 0 found, 1 not found"]);
  assert.equal((await tracker.store.counts()).partial, 0);
});

Deno.test("tracker PARTIAL: a session that closes takes its partial holdings with it", async () => {
  await using tracker = await suiteTracker();
  using asker = await LineClient.connect(tracker.addr.port);
  {
    using peer = await LineClient.connect(tracker.addr.port);
    await peer.ask(partial(5001, [[SIZE, A, "big.bin"], [SIZE, B, "other.bin"]]));
    assert.equal((await asker.ask("SEND big.bin\n"))[0].text.split(" ")[0], "PARTIAL");
  }
  assert.deepEqual(await tracker.events.next("left", (e) => e.peer === "127.0.0.1:5001"), {
    type: "left",
    peer: "127.0.0.1:5001",
    files: 0,
    partial: 2,
  });
  assert.deepEqual(texts(await asker.ask("SEND big.bin\n")), ["404-NOTFOUND big.bin", "200 END 0 found, 1 not found"]);
  const { entries, partial: partialEntries } = await tracker.store.counts();
  assert.deepEqual([entries, partialEntries], [0, 0]);
});

// ---------------------------------------------------------------------------
// What is refused

Deno.test("tracker PARTIAL: a file of one chunk, or one without its root, answers 400 naming the entry; nothing changes", async () => {
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  await peer.ask(partial(5001, [[SIZE, A, "held.bin"]]));
  const cases: [number, string, string][] = [
    [CHUNK_SIZE, SHA_A, "one chunk.bin"],
    [10, SHA_A, "small.txt"],
    [SIZE, SHA_A, "no root.bin"],
  ];
  for (const bad of cases) {
    const reply = await peer.ask(partial(5001, [[SIZE, B, "fine.bin"], bad, [SIZE, B, "after.bin"]]));
    assert.deepEqual(texts(reply), [
      "400 entry 2: a partial holding needs a file over one chunk (1 MiB) with its chunk root; nothing changed",
    ], bad[2]);
    assert.deepEqual(
      texts(await peer.ask("PING\n")),
      ["200 PONG"],
      "every entry line was read, none taken as a command",
    );
  }
  const [record] = await tracker.store.peers();
  assert.deepEqual((await tracker.store.partialOf(record.id)).map((e) => e.name), ["held.bin"]);
});

Deno.test("tracker PARTIAL: past 64 partial holdings answers 413 and changes nothing; the session goes on", async () => {
  assert.equal(Limits.MAX_PARTIAL_PER_PEER, 64);
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  assert.equal((await peer.ask(partial(5001, many(64, "p"))))[0].status, 200);
  const refused = "413 a peer may announce at most 64 partial holdings; nothing changed";
  assert.deepEqual(texts(await peer.ask(partial(5001, [[SIZE, A, "one more.bin"]]))), [refused]);
  assert.equal((await tracker.store.counts()).partial, 64);
  // Announcing one it holds again, or as another version, adds none.
  assert.deepEqual(texts(await peer.ask(partial(5001, [[SIZE, B, "p7"]]))), [
    "200 indexed 1 partial holding as 127.0.0.1:5001 (0 new, 64 in all)",
  ]);
  // One that becomes whole makes room for another.
  await peer.ask(announcement("ADD", 5001, [[SIZE, A, "p0"]]));
  assert.equal((await peer.ask(partial(5001, [[SIZE, A, "one more.bin"]])))[0].status, 200);
  assert.deepEqual(texts(await peer.ask("PING\n")), ["200 PONG"]);
  // In one block too, and on a session of its own.
  using other = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await other.ask(partial(5002, many(65, "q")))), [refused]);
  assert.deepEqual(texts(await other.ask("PING\n")), ["200 PONG"], "all 65 lines were read");
  assert.equal((await tracker.store.peers()).length, 1, "a refused PARTIAL makes no peer");
});

Deno.test("tracker PARTIAL: partial holdings count against the index's ceiling", async () => {
  await using tracker = await suiteTracker({ maxEntries: 3 });
  using peer = await LineClient.connect(tracker.addr.port);
  await peer.ask(announcement("UPDATE", 5001, [[10, SHA_A, "a.txt"], [SIZE, A, "big.bin"]]));
  assert.deepEqual(texts(await peer.ask(partial(5001, [[SIZE, A, "p1"], [SIZE, A, "p2"]]))), [
    "413 the index is full (3 entries in all); nothing changed",
  ]);
  // A held name turned partial is no new entry.
  assert.equal((await peer.ask(partial(5001, [[SIZE, A, "big.bin"], [SIZE, A, "p1"]])))[0].status, 200);
  const { entries, partial: partialEntries } = await tracker.store.counts();
  assert.deepEqual([entries, partialEntries], [3, 2]);
});

Deno.test("tracker PARTIAL: a bad header answers 400 or 413 and closes, like UPDATE's", async () => {
  await using tracker = await suiteTracker();
  const cases: [string, number][] = [
    ["PARTIAL", 400],
    ["PARTIAL 5001", 400],
    ["PARTIAL 0 1", 400],
    ["PARTIAL 5001 x", 400],
    ["PARTIAL 5001 1 2", 400],
    ["PARTIAL 5001 1 http=0", 400],
    [`PARTIAL 5001 ${Limits.MAX_UPDATE_ENTRIES + 1}`, 413],
  ];
  for (const [header, status] of cases) {
    using c = await LineClient.connect(tracker.addr.port);
    const reply = await c.ask(`${header}\n${SIZE} ${A} big.bin\n`);
    assert.equal(reply.length, 1, header);
    assert.equal(reply[0].status, status, header);
    assert.match(reply[0].text, /; closing$/, header);
    assert.equal(await c.reply(), null, `${header}: the connection is closed`);
  }
  assert.equal((await tracker.store.counts()).peers, 0);
});

// ---------------------------------------------------------------------------
// REPORT, and the cap per file

Deno.test("tracker REPORT: on a partial holder works as on a whole one, and a demoted partial holder is left out", async () => {
  await using tracker = await suiteTracker({ demoteAfter: 1 });
  using bad = await LineClient.connect(tracker.addr.port);
  using good = await LineClient.connect(tracker.addr.port);
  using reporter = await LineClient.connect(tracker.addr.port);
  await bad.ask(partial(5001, [[SIZE, A, "big.bin"]]));
  await good.ask(partial(5002, [[SIZE, A, "big.bin"]]));
  assert.deepEqual(texts(await reporter.ask("REPORT 127.0.0.1:5002 OK 1048576 big.bin\n")), [
    "200 noted: 127.0.0.1:5002 1 ok, 0 failed, 1048576 bytes served",
  ]);
  assert.deepEqual(texts(await reporter.ask("REPORT 127.0.0.1:5001 EHASH 0 big.bin\n")), [
    "200 noted: 127.0.0.1:5001 0 ok, 1 failed, 0 bytes served; no longer offered",
  ]);
  assert.deepEqual(texts(await reporter.ask("SEND big.bin\n")), [
    `200-PARTIAL 127.0.0.1:5002 ${SIZE} ${A} big.bin`,
    "200 END 1 found, 0 not found",
  ]);
  assert.equal((await bad.ask("REPORT 127.0.0.1:5001 OK 1 big.bin\n"))[0].status, 403, "not on itself");
  assert.equal((await reporter.ask("REPORT 127.0.0.1:5009 OK 1 big.bin\n"))[0].status, 404);
});

Deno.test("tracker SEND: at most 50 holders and, apart, 50 partial holders per file, the partial ones in announcement order", () => {
  assert.equal(Limits.MAX_PARTIAL_HOLDERS_PER_FILE, 50);
  const index = new TrackerIndex();
  const entry = { name: "big.bin", size: SIZE, sha256: SHA_A, root: ROOT };
  for (let id = 1; id <= 60; id++) index.announce({ id, address: `10.0.0.1:${id}` }, [entry]);
  for (let id = 101; id <= 160; id++) index.addPartial({ id, address: `10.0.0.2:${id}` }, [entry]);
  const feedback = new HolderFeedback(1);
  assert.equal(rankedHolders("big.bin", { index, feedback }).length, 50);
  const ids = (holders: { peer: number }[]) => holders.map((h) => h.peer);
  assert.deepEqual(ids(partialHolders("big.bin", { index, feedback })), Array.from({ length: 50 }, (_, i) => 101 + i));
  // Feedback demotes partial holders too; the next ones fill the reply.
  feedback.report({ reporter: 999, holder: 102, outcome: "EHASH", bytes: 0 });
  const after = ids(partialHolders("big.bin", { index, feedback }));
  assert.equal(after.length, 50);
  assert.deepEqual(after.slice(0, 3), [101, 103, 104]);
  assert.equal(after.at(-1), 151);
});

// ---------------------------------------------------------------------------
// LIST, PEERS, STATS

Deno.test("tracker LIST and PEERS: a file held only partially is not listed, and partial holdings are not counted", async () => {
  await using tracker = await suiteTracker();
  using whole = await LineClient.connect(tracker.addr.port);
  using part = await LineClient.connect(tracker.addr.port);
  await whole.ask(announcement("UPDATE", 5001, [[SIZE, A, "big.bin"]]));
  await part.ask(partial(5002, [[SIZE, A, "big.bin"], [SIZE, B, "only partial.bin"]]));
  assert.deepEqual(texts(await part.ask("LIST\n")), [`200-FILE ${SIZE} ${SHA_A} 1 big.bin`, "200 END 1 file"]);
  assert.deepEqual(texts(await part.ask("LIST partial\n")), ["200 END 0 files"]);
  assert.deepEqual(texts(await part.ask("PEERS\n")), [
    "200-PEER 127.0.0.1:5001 1",
    "200-PEER 127.0.0.1:5002 0",
    "200 END 2 peers",
  ]);
});

Deno.test("tracker STATS: partial counts partial holdings; files and holders count whole files only", async () => {
  await using tracker = await suiteTracker();
  using whole = await LineClient.connect(tracker.addr.port);
  using part = await LineClient.connect(tracker.addr.port);
  await whole.ask(announcement("UPDATE", 5001, [[SIZE, A, "big.bin"], [10, SHA_B, "small.txt"]]));
  await part.ask(partial(5002, [[SIZE, A, "big.bin"], [SIZE, B, "only partial.bin"]]));
  const [reply] = await part.ask("STATS\n");
  assert.match(reply.text, / files=2 holders=2 partial=2 requests=/);
  assert.deepEqual(
    (({ peers, files, holders, partial }) => ({ peers, files, holders, partial }))(await tracker.stats()),
    { peers: 2, files: 2, holders: 2, partial: 2 },
  );
});

// ---------------------------------------------------------------------------
// The peer's client

Deno.test("tracker PARTIAL: TrackerClient.partial announces, and send() reads the PARTIAL lines back", async () => {
  await using tracker = await suiteTracker();
  await using downloader = await TrackerClient.connect(tracker.address);
  await using other = await TrackerClient.connect(tracker.address);
  const entry = { name: "big, file.bin", size: SIZE, sha256: SHA_A, root: ROOT };
  const answer = await downloader.partial(5001, [entry], { httpPort: 8001 });
  assert.deepEqual(parseIndexed(answer), { files: 1, address: "127.0.0.1:5001", fresh: 1, total: 1, partial: true });
  assert.equal((await tracker.store.peers())[0].httpPort, 8001);
  const { lookups } = await other.send(["big, file.bin"]);
  assert.deepEqual(lookups, [{
    name: "big, file.bin",
    status: 200,
    holders: [{ address: "127.0.0.1:5001", size: SIZE, sha256: SHA_A, root: ROOT, partial: true }],
  }]);
  // The tracker refuses what no partial holder may announce: the client's request fails with its status.
  await assert.rejects(
    () => downloader.partial(5001, [{ name: "small.txt", size: 10, sha256: SHA_A }]),
    (e: Error & { status?: number }) => e.status === 400,
  );
});

Deno.test("tracker PARTIAL: one of no entry answers 200 and changes nothing, so that a peer can tell a tracker that knows it", async () => {
  await using tracker = await suiteTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  await peer.ask(`UPDATE 5001 1 http=8001\n${SIZE} ${A} big.bin\n`);
  assert.deepEqual(texts(await peer.ask("PARTIAL 5001 0 http=8001\n")), [
    "200 indexed 0 partial holdings as 127.0.0.1:5001 (0 new, 0 in all)",
  ]);
  const peers = await tracker.store.peers();
  assert.deepEqual(peers, [{
    id: peers[0].id,
    address: "127.0.0.1:5001",
    files: 1,
    httpPort: 8001,
  }]);
  assert.ok((await peer.ask("HELP\n")).some((line) => line.text.startsWith("PARTIAL <port> <count>")), "HELP lists it");
});
