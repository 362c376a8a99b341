/**
 * The tracker's newer commands on real loopback sockets: ADD and REMOVE
 * (incremental announcements), WAIT with its FOUND/EXPIRED pushes, STATS
 * and the periodic stats event, LIST and PEERS by pages; and the parsers
 * protocol.ts has for their lines.
 */

import assert from "node:assert/strict";
import {
  formatPush,
  formatStats,
  isPush,
  Limits,
  parsePaging,
  parsePush,
  parseRemoveHeader,
  parseReplyLine,
  parseStats,
  parseWait,
  ProtocolError,
  type ReplyLine,
  type TrackerStats,
} from "../protocol.ts";
import { formatTrackerEvent } from "../cli/report.ts";
import { startTracker, type Tracker, type TrackerEvent, type TrackerOptions } from "../tracker.ts";
import { LineClient } from "./helpers.ts";
import { ConnectionClosedError } from "../io/errors.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
const SHA_C = "c".repeat(64);

type LiveTracker = Tracker & {
  address: string;
  port: number;
  /** Resolves on the next event of `type` (told after this call). */
  next: <T extends TrackerEvent["type"]>(type: T) => Promise<Extract<TrackerEvent, { type: T }>>;
};

/** A tracker on 127.0.0.1, any free port, with a way to wait for its next event of a type. */
function liveTracker(options: Partial<TrackerOptions> = {}): LiveTracker {
  const waiters: { type: string; resolve: (e: TrackerEvent) => void }[] = [];
  const tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    ...options,
    onEvent: (e) => {
      options.onEvent?.(e);
      const i = waiters.findIndex((w) => w.type === e.type);
      if (i >= 0) waiters.splice(i, 1)[0].resolve(e);
    },
  });
  return Object.assign(tracker, {
    address: `127.0.0.1:${tracker.addr.port}`,
    port: tracker.addr.port,
    next: <T extends TrackerEvent["type"]>(type: T) =>
      new Promise<Extract<TrackerEvent, { type: T }>>((resolve) =>
        waiters.push({ type, resolve: resolve as (e: TrackerEvent) => void })
      ),
  });
}

function texts(lines: ReplyLine[]): string[] {
  return lines.map((l) => `${l.status}${l.more ? "-" : " "}${l.text}`);
}

/** `UPDATE`/`ADD <port> <count>` and its entry lines `[size, sha256, name]`. */
function announcement(verb: "UPDATE" | "ADD", port: number, entries: [number, string, string][]): string {
  return [`${verb} ${port} ${entries.length}`, ...entries.map(([size, sha, name]) => `${size} ${sha} ${name}`)]
    .join("\n") + "\n";
}

/**
 * The next raw line from the tracker (a reply line or a push); fails if the
 * connection ends. The 30 s limit only keeps a missing push from hanging the
 * run: it asserts nothing about timing.
 */
async function nextLine(c: LineClient): Promise<string> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error("no line from the tracker in 30 s")), 30_000);
  });
  try {
    const line = await Promise.race([c.reader.readLine(), hung]);
    assert.notEqual(line, null, "the tracker closed the connection");
    return line!;
  } finally {
    clearTimeout(timer);
  }
}

/** Files the peer announcing as `address` holds, as `name size sha256`, sorted. */
function filesAt(tracker: Tracker, address: string): string[] {
  const peer = tracker.index.peers().find((p) => p.address === address);
  assert.ok(peer, `no peer ${address} in the index`);
  return tracker.index.filesOf(peer.id).map((f) => `${f.name} ${f.size} ${f.sha256[0]}`).sort();
}

function holdersOf(tracker: Tracker, name: string): string[] {
  return tracker.index.holders(name, 100).map((h) => h.address);
}

/** Asserts that `fn` throws a ProtocolError with `status` (and not any other kind of exception). */
function throwsProtocol(fn: () => unknown, status: number, what: string): void {
  assert.throws(fn, (error: unknown) => {
    assert.ok(error instanceof ProtocolError, `${what}: ${error} is not a ProtocolError`);
    assert.equal(error.status, status, `${what}: ${error.message}`);
    return true;
  });
}

// ---------------------------------------------------------------------------
// ADD

Deno.test("tracker ADD: adds and changes files without touching the others, and says how many in all", async () => {
  await using tracker = liveTracker();
  using a = await LineClient.connect(tracker.port);
  await a.ask(announcement("UPDATE", 5001, [[10, SHA_A, "keep.txt"], [20, SHA_B, "change.txt"]]));
  const announced = tracker.next("announced");
  const reply = await a.ask(announcement("ADD", 5001, [[30, SHA_C, "new one.txt"], [21, SHA_C, "change.txt"]]));
  assert.deepEqual(texts(reply), ["200 indexed 2 files as 127.0.0.1:5001 (1 new, 3 in all)"]);
  assert.deepEqual(await announced, { type: "announced", peer: "127.0.0.1:5001", files: 3, added: 2 });
  assert.deepEqual(filesAt(tracker, "127.0.0.1:5001"), ["change.txt 21 c", "keep.txt 10 a", "new one.txt 30 c"]);
  assert.deepEqual(tracker.index.stats(), { peers: 1, names: 3, entries: 3 });
  assert.deepEqual(texts(await a.ask("SEND change.txt\n")), [
    `200-HOLDER 127.0.0.1:5001 21 ${SHA_C} change.txt`,
    "200 END 1 found, 0 not found",
  ]);
});

Deno.test("tracker ADD: works before any UPDATE, makes a peer, and a later UPDATE replaces it all", async () => {
  await using tracker = liveTracker();
  using a = await LineClient.connect(tracker.port);
  using other = await LineClient.connect(tracker.port);
  await other.ask(announcement("UPDATE", 5002, [[1, SHA_A, "shared.txt"]]));
  assert.deepEqual(texts(await a.ask(announcement("ADD", 5001, [[1, SHA_A, "shared.txt"]]))), [
    "200 indexed 1 files as 127.0.0.1:5001 (1 new, 1 in all)",
  ]);
  assert.deepEqual(texts(await a.ask("PEERS\n")), [
    "200-PEER 127.0.0.1:5002 1",
    "200-PEER 127.0.0.1:5001 1",
    "200 END 2 peers",
  ]);
  assert.deepEqual(holdersOf(tracker, "shared.txt"), ["127.0.0.1:5002", "127.0.0.1:5001"]);
  await a.ask(announcement("UPDATE", 5001, [[2, SHA_B, "only.txt"]]));
  assert.deepEqual(filesAt(tracker, "127.0.0.1:5001"), ["only.txt 2 b"]);
  assert.deepEqual(holdersOf(tracker, "shared.txt"), ["127.0.0.1:5002"], "the other peer's holder stays");
});

Deno.test("tracker ADD: a bad entry line answers 400 naming it, changes nothing, and the session goes on", async () => {
  await using tracker = liveTracker();
  using a = await LineClient.connect(tracker.port);
  await a.ask(announcement("UPDATE", 5001, [[10, SHA_A, "keep.txt"]]));
  const reply = await a.ask(`ADD 5001 3\n5 ${SHA_B} fine.txt\n5 ${SHA_B} ../escape.txt\nten ${SHA_B} x.txt\n`);
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 400);
  assert.match(reply[0].text, /^entry 2: refused name .*; nothing changed$/);
  assert.deepEqual(filesAt(tracker, "127.0.0.1:5001"), ["keep.txt 10 a"]);
  assert.equal(tracker.index.has("fine.txt"), false);
  assert.deepEqual(texts(await a.ask("PING\n")), ["200 PONG"], "every entry line was read, none taken as a command");
});

Deno.test("tracker ADD: 413 when the index would pass maxEntries; nothing changes and the session goes on", async () => {
  await using tracker = liveTracker({ maxEntries: 3 });
  using a = await LineClient.connect(tracker.port);
  using b = await LineClient.connect(tracker.port);
  await a.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a1"], [1, SHA_A, "a2"]]));
  const full = await b.ask(announcement("ADD", 5002, [[1, SHA_B, "b1"], [1, SHA_B, "b2"]]));
  assert.deepEqual(texts(full), ["413 the index is full (3 entries in all); nothing changed"]);
  assert.equal(tracker.index.has("b1"), false);
  assert.equal(tracker.index.peers().length, 1, "a refused ADD makes no peer");
  assert.deepEqual(texts(await b.ask(announcement("ADD", 5002, [[1, SHA_B, "b1"]]))), [
    "200 indexed 1 files as 127.0.0.1:5002 (1 new, 1 in all)",
  ]);
  assert.equal((await b.ask(announcement("ADD", 5002, [[1, SHA_B, "b2"]])))[0].status, 413);
  assert.deepEqual(tracker.index.stats(), { peers: 2, names: 3, entries: 3 });
});

Deno.test("tracker ADD: changing a file already held is not refused when the index is full", async () => {
  // peer.ts re-announces a changed file with ADD: it must not be refused as if it grew the index.
  await using tracker = liveTracker({ maxEntries: 2 });
  using a = await LineClient.connect(tracker.port);
  await a.ask(announcement("UPDATE", 5001, [[1, SHA_A, "x.txt"], [1, SHA_A, "y.txt"]]));
  assert.deepEqual(
    texts(await a.ask(announcement("UPDATE", 5001, [[2, SHA_B, "x.txt"], [1, SHA_A, "y.txt"]]))),
    ["200 indexed 2 files as 127.0.0.1:5001"],
    "an UPDATE with the same names fits",
  );
  const reply = await a.ask(announcement("ADD", 5001, [[3, SHA_C, "x.txt"]]));
  assert.equal(reply[0].status, 200, `ADD of a held name at a full index: ${texts(reply)}`);
  assert.deepEqual(filesAt(tracker, "127.0.0.1:5001"), ["x.txt 3 c", "y.txt 1 a"]);
});

// ---------------------------------------------------------------------------
// REMOVE

Deno.test("tracker REMOVE: takes this peer's files out, keeps other peers' holders, counts what it held", async () => {
  await using tracker = liveTracker();
  using a = await LineClient.connect(tracker.port);
  using b = await LineClient.connect(tracker.port);
  await a.ask(
    announcement("UPDATE", 5001, [[1, SHA_A, "both.txt"], [2, SHA_A, "stay.txt"], [3, SHA_A, "go, now.txt"]]),
  );
  await b.ask(announcement("UPDATE", 5002, [[1, SHA_A, "both.txt"]]));
  const announced = tracker.next("announced");
  const reply = await a.ask("REMOVE 4\nboth.txt\ngo%2C now.txt\nnever-had.txt\nboth.txt\n");
  assert.deepEqual(texts(reply), ["200 removed 2 of 4 files (1 left)"]);
  assert.deepEqual(await announced, { type: "announced", peer: "127.0.0.1:5001", files: 1, removed: 2 });
  assert.deepEqual(filesAt(tracker, "127.0.0.1:5001"), ["stay.txt 2 a"]);
  assert.deepEqual(holdersOf(tracker, "both.txt"), ["127.0.0.1:5002"]);
  assert.equal(tracker.index.has("go, now.txt"), false);
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

Deno.test("tracker REMOVE: before any announcement answers 400, having read its name lines", async () => {
  await using tracker = liveTracker();
  using c = await LineClient.connect(tracker.port);
  const reply = await c.ask("REMOVE 2\nPING\nQUIT\n");
  assert.deepEqual(texts(reply), ["400 nothing announced yet: UPDATE or ADD first"]);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"], "the name lines were not taken as commands");
  assert.equal(tracker.index.stats().peers, 0);
});

Deno.test("tracker REMOVE: a bad name line answers 400 naming it and nothing changes", async () => {
  await using tracker = liveTracker();
  using c = await LineClient.connect(tracker.port);
  await c.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a.txt"], [1, SHA_A, "b.txt"]]));
  const reply = await c.ask("REMOVE 3\na.txt\n../b.txt\nb.txt\n");
  assert.equal(reply[0].status, 400);
  assert.match(reply[0].text, /^name 2: refused name "\.\.\/b\.txt".*; nothing changed$/);
  assert.deepEqual(filesAt(tracker, "127.0.0.1:5001"), ["a.txt 1 a", "b.txt 1 a"]);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker ADD and REMOVE: a bad header answers 400 or 413 and closes, like UPDATE's", async () => {
  await using tracker = liveTracker();
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
    using c = await LineClient.connect(tracker.port);
    await c.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a.txt"]]));
    const reply = await c.ask(`${header}\na.txt\n`);
    assert.equal(reply[0].status, status, header);
    assert.match(reply[0].text, /; closing$/, header);
    assert.equal(await c.reply(), null, `${header}: the connection is closed`);
  }
});

Deno.test("tracker client: add() and remove() round-trip names that need encoding", async () => {
  await using tracker = liveTracker();
  await using client = await TrackerClient.connect(tracker.address);
  const names = ["a, b.txt", "100%.txt", "früh stück ☕.txt"];
  assert.equal(
    await client.add(7001, names.map((name, i) => ({ name, size: i + 1, sha256: SHA_A }))),
    "indexed 3 files as 127.0.0.1:7001 (3 new, 3 in all)",
  );
  assert.deepEqual(tracker.index.peers().map((p) => [p.address, p.files]), [["127.0.0.1:7001", 3]]);
  assert.equal(await client.remove([names[0], names[2], "nope.txt"]), "removed 2 of 3 files (1 left)");
  assert.deepEqual(filesAt(tracker, "127.0.0.1:7001"), ["100%.txt 2 a"]);
  const { lookups } = await client.send(names);
  assert.deepEqual(lookups.map((l) => [l.name, l.status]), [["a, b.txt", 404], ["100%.txt", 200], [names[2], 404]]);
  await assert.rejects(client.remove(["../x"]), (e: unknown) => e instanceof ProtocolError && e.status === 400);
});

// ---------------------------------------------------------------------------
// WAIT

Deno.test("tracker WAIT: answers like SEND, then pushes FOUND when another session UPDATEs the name", async () => {
  await using tracker = liveTracker();
  using holder = await LineClient.connect(tracker.port);
  using waiter = await LineClient.connect(tracker.port);
  using later = await LineClient.connect(tracker.port);
  await holder.ask(announcement("UPDATE", 5001, [[10, SHA_A, "have.txt"]]));
  assert.deepEqual(texts(await waiter.ask("WAIT 60 have.txt, want%2C it.txt, a/b\n")), [
    `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} have.txt`,
    "404-NOTFOUND want%2C it.txt",
    `403-REFUSED a%2Fb refused name "a/b": contains a path separator`,
    "200 END 1 found, 2 not found",
  ]);
  assert.equal(tracker.stats().waiting, 1, "only the missing name is waited for");
  await later.ask(announcement("UPDATE", 5002, [[5, SHA_B, "unrelated.txt"], [7, SHA_B, "want%2C it.txt"]]));
  assert.equal(await nextLine(waiter), "* FOUND want%2C it.txt");
  assert.equal(tracker.stats().waiting, 0);
  // Found once: another announcement of the name pushes nothing more.
  using third = await LineClient.connect(tracker.port);
  await third.ask(announcement("UPDATE", 5003, [[7, SHA_B, "want%2C it.txt"]]));
  assert.deepEqual(texts(await waiter.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker WAIT: an ADD from another session pushes FOUND too, and only to the sessions waiting", async () => {
  await using tracker = liveTracker();
  using w1 = await LineClient.connect(tracker.port);
  using w2 = await LineClient.connect(tracker.port);
  using bystander = await LineClient.connect(tracker.port);
  using adder = await LineClient.connect(tracker.port);
  await w1.ask("WAIT 60 x.bin, y.bin\n");
  await w2.ask("WAIT 60 x.bin\n");
  assert.equal(tracker.stats().waiting, 3);
  await adder.ask(announcement("UPDATE", 5009, [[1, SHA_A, "z.bin"]]));
  await adder.ask(announcement("ADD", 5009, [[1, SHA_A, "x.bin"]]));
  assert.equal(await nextLine(w1), "* FOUND x.bin");
  assert.equal(await nextLine(w2), "* FOUND x.bin");
  assert.equal(tracker.stats().waiting, 1, "w1 still waits for y.bin");
  assert.deepEqual(texts(await bystander.ask("PING\n")), ["200 PONG"], "no push to a session that did not wait");
  await adder.ask(announcement("ADD", 5009, [[1, SHA_A, "y.bin"]]));
  assert.equal(await nextLine(w1), "* FOUND y.bin");
  assert.deepEqual(texts(await w2.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker WAIT: a name nobody announces in time gets EXPIRED, once, after the reply", async () => {
  await using tracker = liveTracker();
  using waiter = await LineClient.connect(tracker.port);
  using late = await LineClient.connect(tracker.port);
  assert.deepEqual(texts(await waiter.ask("WAIT 1 gone.txt, also gone.txt\n")), [
    "404-NOTFOUND gone.txt",
    "404-NOTFOUND also gone.txt",
    "200 END 0 found, 2 not found",
  ]);
  assert.equal(tracker.stats().waiting, 2);
  const pushes = [await nextLine(waiter), await nextLine(waiter)];
  assert.deepEqual(pushes, ["* EXPIRED gone.txt", "* EXPIRED also gone.txt"]);
  assert.equal(tracker.stats().waiting, 0);
  await late.ask(announcement("UPDATE", 5002, [[1, SHA_A, "gone.txt"]]));
  assert.deepEqual(texts(await waiter.ask("PING\n")), ["200 PONG"], "an expired wait finds nothing later");
});

Deno.test("tracker WAIT: pushes come between replies, never inside one, while requests are pipelined", async () => {
  await using tracker = liveTracker();
  using holder = await LineClient.connect(tracker.port);
  using waiter = await LineClient.connect(tracker.port);
  using announcer = await LineClient.connect(tracker.port);
  const held = Array.from({ length: 150 }, (_, i): [number, string, string] => [i + 1, SHA_A, `h${i}`]);
  await holder.ask(announcement("UPDATE", 5001, held));
  const wanted = Array.from({ length: 20 }, (_, i) => `w${i}.bin`);
  assert.equal((await waiter.ask(`WAIT 60 ${wanted.join(", ")}\n`)).length, 21);

  // Many multi-line replies in flight on the waiter's connection while another session announces.
  const ROUNDS = 60;
  const send = `SEND ${held.slice(0, 40).map((h) => h[2]).join(", ")}, nope\n`; // 42 lines
  const batch = Array.from({ length: ROUNDS }, (_, i) => i % 2 === 0 ? "LIST\n" : send).join("");
  const sending = waiter.send(batch);
  const announcing = (async () => {
    for (const name of wanted) await announcer.ask(announcement("ADD", 5002, [[1, SHA_B, name]]));
  })();

  const pushes: string[] = [];
  const replyLengths: number[] = [];
  let current = 0;
  for (let i = 0; i < ROUNDS * 101 + wanted.length && (replyLengths.length < ROUNDS || pushes.length < 20); i++) {
    const raw = await nextLine(waiter);
    if (isPush(raw)) {
      assert.equal(current, 0, `a push inside a reply, after ${current} of its lines: ${raw}`);
      pushes.push(raw);
      continue;
    }
    const line = parseReplyLine(raw);
    current++;
    if (!line.more) {
      replyLengths.push(current);
      current = 0;
    }
  }
  await sending;
  await announcing;
  assert.deepEqual(replyLengths, Array.from({ length: ROUNDS }, (_, i) => i % 2 === 0 ? 101 : 42));
  assert.deepEqual(pushes.sort(), wanted.map((n) => `* FOUND ${n}`).sort());
  assert.deepEqual(texts(await waiter.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker WAIT: a session that closes forgets its waits", async () => {
  await using tracker = liveTracker();
  using stays = await LineClient.connect(tracker.port);
  using announcer = await LineClient.connect(tracker.port);
  await stays.ask("WAIT 60 b.txt\n");
  {
    using leaving = await LineClient.connect(tracker.port);
    await leaving.ask("WAIT 60 a.txt, b.txt, c.txt\n");
    assert.equal(tracker.stats().waiting, 4);
    const left = tracker.next("left");
    leaving.conn.close();
    await left;
  }
  assert.equal(tracker.stats().waiting, 1);
  await announcer.ask(announcement("UPDATE", 5002, [[1, SHA_A, "a.txt"], [1, SHA_A, "b.txt"]]));
  assert.equal(await nextLine(stays), "* FOUND b.txt");
  assert.equal(tracker.stats().waiting, 0);
});

Deno.test("tracker WAIT: more than 1024 names waited for in one session answers 413; held names do not count", async () => {
  await using tracker = liveTracker();
  using waiter = await LineClient.connect(tracker.port);
  using other = await LineClient.connect(tracker.port);
  using announcer = await LineClient.connect(tracker.port);
  await announcer.ask(announcement("UPDATE", 5002, [[1, SHA_A, "held.txt"]]));
  const per = Limits.MAX_NAMES_PER_SEND;
  for (let i = 0; i < Limits.MAX_WAITS_PER_SESSION / per; i++) {
    const names = Array.from({ length: per }, (_, j) => `n${i * per + j}`);
    const reply = await waiter.ask(`WAIT 60 ${names.join(", ")}\n`);
    assert.equal(reply.at(-1)!.text, `END 0 found, ${per} not found`);
  }
  assert.equal(tracker.stats().waiting, Limits.MAX_WAITS_PER_SESSION);
  assert.deepEqual(texts(await waiter.ask("WAIT 60 one-more.txt\n")), [
    "413 a session may wait for at most 1024 names at once (1024 already)",
  ]);
  assert.equal(tracker.stats().waiting, Limits.MAX_WAITS_PER_SESSION, "nothing added");
  assert.equal((await waiter.ask("WAIT 60 held.txt\n"))[0].status, 200, "a held name needs no wait");
  assert.equal((await other.ask("WAIT 60 one-more.txt\n")).at(-1)!.status, 200, "the limit is per session");
  await announcer.ask(announcement("ADD", 5002, [[1, SHA_A, "n0"]]));
  assert.equal(await nextLine(waiter), "* FOUND n0");
  assert.equal((await waiter.ask("WAIT 60 one-more.txt\n")).at(-1)!.text, "END 0 found, 1 not found");
  assert.equal(tracker.stats().waiting, Limits.MAX_WAITS_PER_SESSION + 1);
});

Deno.test("tracker WAIT: a bad WAIT line answers 400 or 413 and the session goes on", async () => {
  await using tracker = liveTracker();
  using c = await LineClient.connect(tracker.port);
  for (const [line, status] of [["WAIT", 400], ["WAIT 5", 400], ["WAIT x a.txt", 400], ["WAIT 86401 a.txt", 413]]) {
    const reply = await c.ask(`${line}\n`);
    assert.equal(reply.length, 1, String(line));
    assert.equal(reply[0].status, status, String(line));
  }
  assert.equal(tracker.stats().waiting, 0);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker client: wait() watches only the names not held; FOUND and EXPIRED resolve them", async () => {
  await using tracker = liveTracker();
  using holder = await LineClient.connect(tracker.port);
  await holder.ask(announcement("UPDATE", 5001, [[3, SHA_A, "have.txt"]]));
  await using client = await TrackerClient.connect(tracker.address);
  const reply = await client.wait(["have.txt", "want, it.txt", "never.txt", "../x"], 1);
  assert.deepEqual(reply.lookups.map((l) => [l.name, l.status, l.holders.length]), [
    ["have.txt", 200, 1],
    ["want, it.txt", 404, 0],
    ["never.txt", 404, 0],
    ["../x", 403, 0],
  ]);
  assert.deepEqual([...reply.arrivals.keys()], ["want, it.txt", "never.txt"]);
  assert.match(reply.raw, /^200-HOLDER 127\.0\.0\.1:5001 3 a+ have\.txt\n/);
  await holder.ask(announcement("ADD", 5001, [[4, SHA_B, "want%2C it.txt"]]));
  assert.equal(await reply.arrivals.get("want, it.txt"), "FOUND");
  assert.equal(await reply.arrivals.get("never.txt"), "EXPIRED");
  const again = await client.send(["want, it.txt"]);
  assert.equal(again.lookups[0].holders[0].size, 4);
  assert.equal(tracker.stats().waiting, 0);
});

Deno.test("tracker client: closing the tracker rejects pending arrivals with ConnectionClosedError", async () => {
  await using tracker = liveTracker();
  await using client = await TrackerClient.connect(tracker.address);
  const { arrivals } = await client.wait(["a.txt", "b.txt"], 60);
  assert.equal(tracker.stats().waiting, 2);
  const rejected = Promise.all([...arrivals.values()].map((p) => assert.rejects(p, ConnectionClosedError)));
  await tracker.close();
  await rejected;
  assert.equal(tracker.stats().waiting, 0);
  assert.equal(await client.closed, "the tracker closed the connection");
});

Deno.test("tracker client: wait() with a name given twice leaves no unhandled rejection when the connection closes", async () => {
  const unhandled: unknown[] = [];
  const onUnhandled = (event: PromiseRejectionEvent) => {
    event.preventDefault();
    unhandled.push(event.reason);
  };
  globalThis.addEventListener("unhandledrejection", onUnhandled);
  try {
    await using tracker = liveTracker();
    await using client = await TrackerClient.connect(tracker.address);
    const { arrivals } = await client.wait(["dup.txt", "dup.txt"], 60);
    assert.deepEqual([...arrivals.keys()], ["dup.txt"]);
    const settled = Promise.allSettled(arrivals.values());
    await tracker.close();
    await settled;
    await client.closed;
    // Unhandled rejections are told once the current task's microtasks are done: let one task pass.
    await new Promise((resolve) => setTimeout(resolve, 0));
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  assert.deepEqual(unhandled.map(String), []);
});

// ---------------------------------------------------------------------------
// STATS

Deno.test("tracker STATS: one line whose counters agree with what the sessions did", async () => {
  await using tracker = liveTracker();
  using a = await LineClient.connect(tracker.port);
  using b = await LineClient.connect(tracker.port);
  using c = await LineClient.connect(tracker.port);
  await a.ask(announcement("UPDATE", 5001, [[10, SHA_A, "a.txt"], [20, SHA_B, "b.txt"]])); // 1
  await b.ask(announcement("UPDATE", 5002, [[10, SHA_A, "a.txt"]])); // 2
  await c.send("\n\r\n"); // empty lines are no requests
  await c.ask("SEND a.txt\n"); // 3
  assert.deepEqual(texts(await c.ask("REPORT 127.0.0.1:5001 OK 1000000 a.txt\n")), [ // 4
    "200 noted: 127.0.0.1:5001 1 ok, 0 failed, 10 bytes served",
  ]);
  await c.ask("REPORT 127.0.0.1:5001 OK 4 a.txt\n"); // 5
  await c.ask("REPORT 127.0.0.1:5002 EHASH 7 a.txt\n"); // 6: not OK, no bytes
  assert.equal((await a.ask("REPORT 127.0.0.1:5001 OK 5 a.txt\n"))[0].status, 403); // 7: on itself, not taken
  await c.ask("WAIT 60 later.txt\n"); // 8
  const reply = await c.ask("STATS\n"); // 9
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 200);
  assert.match(
    reply[0].text,
    /^STATS sessions=\d+ peers=\d+ files=\d+ holders=\d+ requests=\d+ rps=\d+(\.\d)? reports=\d+ reported-bytes=\d+ waiting=\d+ uptime=\d+$/,
  );
  const stats = parseStats(reply[0].text.slice("STATS ".length));
  const { rps, uptime, ...rest } = stats;
  assert.deepEqual(rest, {
    sessions: 3,
    peers: 2,
    files: 2,
    holders: 3,
    requests: 9,
    reports: 3,
    reportedBytes: 14,
    waiting: 1,
  });
  assert.ok(rps > 0 && uptime >= 0, formatStats(stats));
  const direct = tracker.stats();
  assert.deepEqual({ ...direct, rps: 0, uptime: 0 }, { ...stats, rps: 0, uptime: 0 });
});

Deno.test("tracker client: stats() parses STATS; sessions and peers drop as sessions leave", async () => {
  await using tracker = liveTracker();
  await using client = await TrackerClient.connect(tracker.address);
  await client.update(7001, [{ name: "x.txt", size: 1, sha256: SHA_A }]);
  {
    await using other = await TrackerClient.connect(tracker.address);
    await other.add(7002, [{ name: "x.txt", size: 1, sha256: SHA_A }, { name: "y.txt", size: 2, sha256: SHA_B }]);
    const stats = await client.stats();
    assert.deepEqual([stats.sessions, stats.peers, stats.files, stats.holders, stats.requests], [2, 2, 2, 3, 3]);
    const left = tracker.next("left");
    other.close();
    await left;
  }
  const stats = await client.stats();
  assert.deepEqual([stats.sessions, stats.peers, stats.files, stats.holders, stats.requests], [1, 1, 1, 1, 4]);
});

Deno.test("tracker: statsIntervalMs tells periodic stats events with the counters", async () => {
  const waiting: ((stats: TrackerStats) => void)[] = [];
  const nextStats = () => new Promise<TrackerStats>((resolve) => waiting.push(resolve));
  await using tracker = liveTracker({
    statsIntervalMs: 50,
    onEvent: (e) => {
      if (e.type === "stats") waiting.splice(0).forEach((resolve) => resolve(e.stats));
    },
  });
  const first = await nextStats();
  assert.equal(first.peers, 0);
  using c = await LineClient.connect(tracker.port);
  await c.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a.txt"], [1, SHA_A, "b.txt"]]));
  await c.ask("WAIT 60 c.txt\n");
  const event = tracker.next("stats");
  const { rps: _rps, uptime: _uptime, ...counters } = (await event).stats;
  assert.deepEqual(counters, {
    sessions: 1,
    peers: 1,
    files: 2,
    holders: 2,
    requests: 2,
    reports: 0,
    reportedBytes: 0,
    waiting: 1,
  });
  assert.match(formatTrackerEvent(await event), /^stats: sessions=1 peers=1 files=2 holders=2 requests=2 rps=/);
});

// ---------------------------------------------------------------------------
// LIST and PEERS by pages

/** 150 names with "abc" in them and 100 without, in one UPDATE. */
function twoHundredFifty(): [number, string, string][] {
  const pad = (i: number) => String(i).padStart(3, "0");
  return [
    ...Array.from({ length: 150 }, (_, i): [number, string, string] => [i + 1, SHA_A, `abc-${pad(i)}.txt`]),
    ...Array.from({ length: 100 }, (_, i): [number, string, string] => [i + 1, SHA_B, `zzz-${pad(i)}.bin`]),
  ];
}

function fileNames(reply: ReplyLine[]): string[] {
  return reply.slice(0, -1).map((l) => {
    assert.match(l.text, /^FILE \d+ [0-9a-f]{64} \d+ /);
    assert.equal(l.more, true);
    return l.text.split(" ").slice(4).join(" ");
  });
}

Deno.test("tracker LIST: pages of 100 with a pointer to the next page, the last page said, past the end empty", async () => {
  await using tracker = liveTracker();
  using c = await LineClient.connect(tracker.port);
  const entries = twoHundredFifty();
  await c.ask(announcement("UPDATE", 5001, entries));
  const all = entries.map((e) => e[2]).sort();

  const page1 = await c.ask("LIST\n");
  assert.equal(page1.length, Limits.LIST_PAGE + 1);
  assert.deepEqual(fileNames(page1), all.slice(0, 100));
  assert.equal(page1[0].text, `FILE 1 ${SHA_A} 1 abc-000.txt`);
  assert.equal(page1.at(-1)!.text, "END 250 files (page 1, 100 per page; next: LIST --page 2)");
  assert.deepEqual(fileNames(await c.ask("list --page 1\n")), all.slice(0, 100));

  const page2 = await c.ask("LIST --page 2\n");
  assert.deepEqual(fileNames(page2), all.slice(100, 200));
  assert.equal(page2.at(-1)!.text, "END 250 files (page 2, 100 per page; next: LIST --page 3)");

  const page3 = await c.ask("LIST --page 3\n");
  assert.deepEqual(fileNames(page3), all.slice(200));
  assert.equal(page3.length, 51);
  assert.equal(page3.at(-1)!.text, "END 250 files (page 3, 100 per page; the last)");

  assert.deepEqual(texts(await c.ask("LIST --page 4\n")), ["200 END 250 files (page 4, 100 per page; the last)"]);
});

Deno.test("tracker LIST: a text filter works with paging, and the next-page pointer keeps it", async () => {
  await using tracker = liveTracker();
  await using client = await TrackerClient.connect(tracker.address);
  await client.update(7001, twoHundredFifty().map(([size, sha256, name]) => ({ name, size, sha256 })));
  const first = (await client.raw("LIST ABC")).trimEnd().split("\n");
  assert.equal(first.length, 101);
  assert.equal(first.at(-1), "200 END 150 files (page 1, 100 per page; next: LIST --page 2 ABC)");
  const second = (await client.raw("LIST --page 2 ABC")).trimEnd().split("\n");
  assert.equal(second.length, 51);
  assert.equal(second[0], `200-FILE 101 ${SHA_A} 1 abc-100.txt`);
  assert.equal(second.at(-2), `200-FILE 150 ${SHA_A} 1 abc-149.txt`);
  assert.equal(second.at(-1), "200 END 150 files (page 2, 100 per page; the last)");
  assert.equal(
    await client.raw("LIST zzz-09"),
    [
      ...Array.from({ length: 10 }, (_, i) => `200-FILE ${91 + i} ${SHA_B} 1 zzz-09${i}.bin`),
      "200 END 10 files",
    ].join("\n") + "\n",
    "one page only: no page note",
  );
});

Deno.test("tracker LIST and PEERS: --page 0, --page x and the like answer 400; the session goes on", async () => {
  await using tracker = liveTracker();
  using c = await LineClient.connect(tracker.port);
  await c.ask(announcement("UPDATE", 5001, [[1, SHA_A, "a.txt"]]));
  const cases: [string, number, RegExp][] = [
    ["LIST --page 0", 400, /pages count from 1/],
    ["LIST --page x", 400, /page is not a number/],
    ["LIST --page -1 a", 400, /page is not a number/],
    ["PEERS --page 0", 400, /pages count from 1/],
    ["PEERS --page x", 400, /page is not a number/],
    ["PEERS everyone", 400, /usage: PEERS \[--page N\]/],
    ["PEERS --page 2 x", 400, /usage: PEERS/],
    ["LIST --page 99999999999999999", 413, /exceeds/],
  ];
  for (const [line, status, message] of cases) {
    const reply = await c.ask(`${line}\n`);
    assert.equal(reply.length, 1, line);
    assert.equal(reply[0].status, status, line);
    assert.match(reply[0].text, message, line);
  }
  assert.deepEqual(texts(await c.ask("LIST\n")), [`200-FILE 1 ${SHA_A} 1 a.txt`, "200 END 1 files"]);
});

Deno.test("tracker PEERS: pages of 100 peers with a pointer to the next page", async () => {
  await using tracker = liveTracker();
  const peers: LineClient[] = [];
  try {
    for (let i = 0; i < 105; i++) {
      const c = await LineClient.connect(tracker.port);
      peers.push(c);
      await c.ask(announcement("UPDATE", 10_000 + i, i % 2 ? [[1, SHA_A, `f${i}`]] : []));
    }
    const asker = peers[0];
    const page1 = await asker.ask("PEERS\n");
    assert.equal(page1.length, 101);
    assert.deepEqual(
      texts(page1.slice(0, 3)),
      ["200-PEER 127.0.0.1:10000 0", "200-PEER 127.0.0.1:10001 1", "200-PEER 127.0.0.1:10002 0"],
    );
    assert.equal(page1.at(-1)!.text, "END 105 peers (page 1, 100 per page; next: PEERS --page 2)");
    assert.deepEqual(texts(await asker.ask("PEERS --page 2\n")), [
      ...[100, 101, 102, 103, 104].map((i) => `200-PEER 127.0.0.1:${10_000 + i} ${i % 2}`),
      "200 END 105 peers (page 2, 100 per page; the last)",
    ]);
    assert.deepEqual(texts(await asker.ask("PEERS --page 3\n")), [
      "200 END 105 peers (page 3, 100 per page; the last)",
    ]);
  } finally {
    for (const c of peers) c[Symbol.dispose]();
  }
});

// ---------------------------------------------------------------------------
// protocol.ts: the new lines' parsers

Deno.test("protocol: parseRemoveHeader and parseWait read their headers; bad ones are ProtocolErrors", () => {
  assert.equal(parseRemoveHeader("3"), 3);
  assert.equal(parseRemoveHeader("0"), 0);
  assert.equal(parseRemoveHeader(String(Limits.MAX_UPDATE_ENTRIES)), Limits.MAX_UPDATE_ENTRIES);
  for (const bad of ["", "x", "1 2", "-1", "1.5", " "]) throwsProtocol(() => parseRemoveHeader(bad), 400, bad);
  throwsProtocol(() => parseRemoveHeader(String(Limits.MAX_UPDATE_ENTRIES + 1)), 413, "too many");

  assert.deepEqual(parseWait("30 a.txt, b c.txt"), { seconds: 30, names: "a.txt, b c.txt" });
  assert.deepEqual(parseWait("0 x"), { seconds: 0, names: "x" });
  assert.deepEqual(parseWait(`${Limits.MAX_WAIT_SECONDS} x`), { seconds: Limits.MAX_WAIT_SECONDS, names: "x" });
  for (const bad of ["", "30", "x a.txt", "-1 a.txt", "1e3 a.txt"]) throwsProtocol(() => parseWait(bad), 400, bad);
  throwsProtocol(() => parseWait(`${Limits.MAX_WAIT_SECONDS + 1} a`), 413, "a day and a second");
});

Deno.test("protocol: push lines round-trip through formatPush, isPush and parsePush", () => {
  for (const name of ["a.txt", "a, b%2C c.txt", "100%.txt", "früh stück ☕.txt"]) {
    for (const event of ["FOUND", "EXPIRED"] as const) {
      const line = formatPush({ event, name });
      assert.ok(line.endsWith("\n") && line.indexOf("\n") === line.length - 1, JSON.stringify(line));
      assert.ok(isPush(line.trimEnd()));
      assert.deepEqual(parsePush(line.slice(0, -1)), { event, name });
    }
  }
  assert.equal(formatPush({ event: "FOUND", name: "a, b.txt" }), "* FOUND a%2C b.txt\n");
  for (const reply of ["200 PONG", "200-HOLDER x", "404-NOTFOUND *", "*FOUND x", ""]) {
    assert.equal(isPush(reply), false);
  }
  for (const bad of ["* LOST x", "* found x", "* FOUND ", "* FOUND", "FOUND x", "** FOUND x", ""]) {
    throwsProtocol(() => parsePush(bad), 400, bad);
  }
  throwsProtocol(() => parsePush("* FOUND ../etc/passwd"), 403, "a path");
  throwsProtocol(() => parsePush("* EXPIRED .hidden"), 403, "hidden");
});

Deno.test("protocol: parsePaging reads --page N and the text after it", () => {
  assert.deepEqual(parsePaging(""), { page: 1, text: "" });
  assert.deepEqual(parsePaging("abc"), { page: 1, text: "abc" });
  assert.deepEqual(parsePaging("--page 3"), { page: 3, text: "" });
  assert.deepEqual(parsePaging("--page 2 my file"), { page: 2, text: "my file" });
  assert.deepEqual(parsePaging("--page\t7  x"), { page: 7, text: "x" });
  for (const bad of ["--page 0", "--page x", "--page -2", "--page 1.5 a"]) {
    throwsProtocol(() => parsePaging(bad), 400, bad);
  }
  throwsProtocol(() => parsePaging("--page 1000000001"), 413, "a billion and one");
});

Deno.test("protocol: formatStats and parseStats round-trip; a missing or bad field is a ProtocolError", () => {
  const stats: TrackerStats = {
    sessions: 3,
    peers: 2,
    files: 10,
    holders: 12,
    requests: 4567,
    rps: 12.5,
    reports: 7,
    reportedBytes: 2 ** 40,
    waiting: 1,
    uptime: 86_400,
  };
  const text = formatStats(stats);
  assert.equal(
    text,
    "sessions=3 peers=2 files=10 holders=12 requests=4567 rps=12.5 reports=7 reported-bytes=1099511627776 waiting=1 uptime=86400",
  );
  assert.deepEqual(parseStats(text), stats);
  assert.deepEqual(parseStats(`  ${text.split(" ").reverse().join("  ")} extra=9 `), stats, "any order, extra fields");
  for (const label of ["sessions", "rps", "reported-bytes", "uptime"]) {
    const without = text.split(" ").filter((f) => !f.startsWith(`${label}=`)).join(" ");
    throwsProtocol(() => parseStats(without), 400, `without ${label}`);
    throwsProtocol(() => parseStats(text.replace(`${label}=`, `${label}=x`)), 400, `${label} not a number`);
    throwsProtocol(() => parseStats(text.replace(`${label}=`, `${label}=-`)), 400, `${label} negative`);
  }
  for (const bad of ["", "nonsense", "sessions"]) throwsProtocol(() => parseStats(bad), 400, JSON.stringify(bad));
});

Deno.test("protocol: parseStats refuses a field with no value rather than reading it as 0", () => {
  const text = formatStats({
    sessions: 3,
    peers: 2,
    files: 10,
    holders: 12,
    requests: 45,
    rps: 1,
    reports: 7,
    reportedBytes: 9,
    waiting: 1,
    uptime: 5,
  });
  throwsProtocol(() => parseStats(text.replace("sessions=3", "sessions=")), 400, "sessions=");
});
