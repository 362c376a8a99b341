/**
 * Looking things up at the tracker, over real loopback sockets: `SEND`
 * (at most 50 holders a file; hostile names refused one by one, in short
 * lines), `LIST` and `PEERS` (100 lines a page), `STATS`, and `REPORT`
 * (votes per session; a holder failing for enough sessions is no longer
 * offered, and holders come fewest failing first, then most served).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Limits, parseStats, type ReplyLine } from "../../protocol.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { MemoryStore } from "../../tracker.ts";
import { ManualClock } from "../helpers/clock.ts";
import { announcement, holderAddresses, LineClient, texts } from "../helpers/net.ts";
import { suiteTracker } from "../helpers/roles.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

/**
 * `count` sessions, each announcing `name` (`size` bytes) from port
 * `firstPort + i`, closed with `stack`; their addresses in announcement order.
 */
async function holders(
  stack: DisposableStack,
  port: number,
  options: { count: number; name: string; size?: number },
): Promise<{ sessions: LineClient[]; addresses: string[] }> {
  const { count, name, size = 7 } = options;
  const sessions: LineClient[] = [];
  for (let i = 0; i < count; i++) {
    const c = stack.use(await LineClient.connect(port));
    await c.ask(`UPDATE ${10_000 + i} 1\n${size} ${SHA_A} ${name}\n`);
    sessions.push(c);
  }
  return { sessions, addresses: sessions.map((_, i) => `127.0.0.1:${10_000 + i}`) };
}

// ---------------------------------------------------------------------------
// SEND

Deno.test(`tracker SEND: a reply lists at most ${Limits.MAX_HOLDERS_PER_FILE} holders of a file`, async () => {
  assert.equal(Limits.MAX_HOLDERS_PER_FILE, 50);
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  const { addresses } = await holders(stack, tracker.addr.port, { count: 60, name: "f.txt" });
  using asker = await LineClient.connect(tracker.addr.port);
  const reply = await asker.ask("SEND f.txt, other.txt\n");
  assert.deepEqual(holderAddresses(reply), addresses.slice(0, 50), "the first 50 announced, in order");
  assert.deepEqual(texts(reply.slice(-2)), ["404-NOTFOUND other.txt", "200 END 1 found, 1 not found"]);
  assert.equal(reply.length, 52);
  // Ranked by reports, too: the 60th is reported working and comes first; still 50 in all.
  await asker.ask(`REPORT ${addresses[59]} OK 7 f.txt\n`);
  const ranked = holderAddresses(await asker.ask("SEND f.txt\n"));
  assert.deepEqual(ranked, [addresses[59], ...addresses.slice(0, 49)]);
  for (const unlisted of addresses.slice(49, 59)) assert.ok(!ranked.includes(unlisted), unlisted);
});

Deno.test("tracker SEND: hostile names are refused one by one with 403", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.ask(`UPDATE 5001 1\n10 ${SHA_A} ok.txt\n`);
  const reply = texts(await c.ask("SEND ../etc/passwd, /etc/passwd, a%00b, .hidden, ok.txt, ..\n"));
  assert.equal(reply.length, 7);
  for (const line of reply.slice(0, 4)) assert.match(line, /^403-REFUSED /);
  assert.equal(reply[4], `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} ok.txt`);
  assert.match(reply[5], /^403-REFUSED \.\. /);
  assert.equal(reply[6], "200 END 1 found, 5 not found");
});

Deno.test("tracker SEND: a REFUSED line for a huge hostile name stays short", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask(`SEND ${"/".repeat(30_000)}\n`);
  assert.equal(reply.length, 2);
  assert.equal(reply[0].status, 403);
  assert.ok(reply[0].text.length < 1_000, `${reply[0].text.length} characters`);
});

Deno.test("tracker SEND: a refused name cut through a surrogate pair gets a 403 REFUSED line, and the session goes on", async () => {
  const errors: unknown[] = [];
  await using tracker = await suiteTracker({ onError: (error) => errors.push(error) });
  using c = await LineClient.connect(tracker.addr.port);
  // 255 + 4 UTF-8 bytes: too long; the line names its first 256 UTF-16 units, which end in half of the emoji.
  const name = "a".repeat(255) + "😀";
  assert.deepEqual(texts(await c.ask(`SEND ${name}, b.txt\n`)), [
    `403-REFUSED ${"a".repeat(255)}%EF%BF%BD refused name "${"a".repeat(64)}…": longer than 255 bytes`,
    "404-NOTFOUND b.txt",
    "200 END 0 found, 2 not found",
  ]);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
  assert.deepEqual(errors, []);
});

Deno.test("tracker SEND: names with spaces, commas and unicode survive the client's SEND", async () => {
  await using tracker = await suiteTracker();
  using raw = await LineClient.connect(tracker.addr.port);
  await raw.ask(`UPDATE 5001 2\n3 ${SHA_A} a, b%2C c.txt\n4 ${SHA_B} früh stück ☕.txt\n`);
  await using client = await TrackerClient.connect(tracker.address);
  const { lookups } = await client.send(["a, b, c.txt", "früh stück ☕.txt", "nope"]);
  assert.deepEqual(lookups.map((l) => [l.name, l.status, l.holders.length]), [
    ["a, b, c.txt", 200, 1],
    ["früh stück ☕.txt", 200, 1],
    ["nope", 404, 0],
  ]);
  assert.deepEqual(lookups[1].holders, [{ address: "127.0.0.1:5001", size: 4, sha256: SHA_B }]);
});

Deno.test("tracker SEND: replies of every length arrive whole, in another script too (more bytes than characters)", async () => {
  await using tracker = await suiteTracker();
  using raw = await LineClient.connect(tracker.addr.port);
  // Names of 80 characters and 240 bytes each: 20 of them make a reply of about 3,700 characters and 6,900 bytes.
  const names = Array.from({ length: 40 }, (_, i) => `${i}`.padStart(2, "0") + "文".repeat(78));
  await raw.ask(`UPDATE 5001 ${names.length}\n${names.map((name) => `3 ${SHA_A} ${name}`).join("\n")}\n`);
  for (const count of [1, 5, 20, 40]) {
    const asked = names.slice(0, count);
    const reply = texts(await raw.ask(`SEND ${asked.join(", ")}\n`));
    assert.deepEqual(reply, [
      ...asked.map((name) => `200-HOLDER 127.0.0.1:5001 3 ${SHA_A} ${name}`),
      `200 END ${count} found, 0 not found`,
    ]);
  }
  // ASCII past the size of one write's buffer, pipelined with a short one: each whole, in order.
  const long = Array.from({ length: 60 }, (_, i) => `x${i}.txt`);
  await raw.ask(`ADD 5001 ${long.length}\n${long.map((name) => `3 ${SHA_B} ${name}`).join("\n")}\n`);
  await raw.send(`SEND ${long.join(", ")}\nSEND x1.txt\n`);
  assert.equal(texts((await raw.reply())!).at(-1), "200 END 60 found, 0 not found");
  assert.deepEqual(texts((await raw.reply())!), [
    `200-HOLDER 127.0.0.1:5001 3 ${SHA_B} x1.txt`,
    "200 END 1 found, 0 not found",
  ]);
});

// ---------------------------------------------------------------------------
// LIST and PEERS

Deno.test("tracker PEERS and LIST: PEERS lists announced peers with their file counts; LIST filters by text", async () => {
  await using tracker = await suiteTracker();
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  using lookupOnly = await LineClient.connect(tracker.addr.port);
  await a.ask(`UPDATE 5001 2\n1 ${SHA_A} Report.pdf\n2 ${SHA_B} photo.jpg\n`);
  await b.ask(`UPDATE 5002 1\n1 ${SHA_A} Report.pdf\n`);
  assert.deepEqual(texts(await lookupOnly.ask("PEERS\n")), [
    "200-PEER 127.0.0.1:5001 2",
    "200-PEER 127.0.0.1:5002 1",
    "200 END 2 peers",
  ]);
  assert.deepEqual(texts(await lookupOnly.ask("list report\n")), [
    `200-FILE 1 ${SHA_A} 2 Report.pdf`,
    "200 END 1 file",
  ]);
});

/** 150 names with "abc" in them and 100 without, as entry lines. */
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

Deno.test(`tracker LIST: pages of ${Limits.LIST_PAGE} with a pointer to the next page, the last page said, past the end empty`, async () => {
  assert.equal(Limits.LIST_PAGE, 100);
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
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
  await using tracker = await suiteTracker();
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
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
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
  assert.deepEqual(texts(await c.ask("LIST\n")), [`200-FILE 1 ${SHA_A} 1 a.txt`, "200 END 1 file"]);
});

Deno.test(`tracker PEERS: pages of ${Limits.LIST_PAGE} peers with a pointer to the next page`, async () => {
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  const peers: LineClient[] = [];
  for (let i = 0; i < 105; i++) {
    const c = stack.use(await LineClient.connect(tracker.addr.port));
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
  assert.deepEqual(
    texts(page1.slice(0, 100)),
    Array.from({ length: 100 }, (_, i) => `200-PEER 127.0.0.1:${10_000 + i} ${i % 2}`),
  );
  assert.equal(page1.at(-1)!.text, "END 105 peers (page 1, 100 per page; next: PEERS --page 2)");
  assert.deepEqual(texts(await asker.ask("PEERS --page 2\n")), [
    ...[100, 101, 102, 103, 104].map((i) => `200-PEER 127.0.0.1:${10_000 + i} ${i % 2}`),
    "200 END 105 peers (page 2, 100 per page; the last)",
  ]);
  assert.deepEqual(texts(await asker.ask("PEERS --page 3\n")), [
    "200 END 105 peers (page 3, 100 per page; the last)",
  ]);
});

// ---------------------------------------------------------------------------
// STATS

Deno.test("tracker STATS: one line whose counters agree with what the sessions did", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock });
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  using c = await LineClient.connect(tracker.addr.port);
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
  await clock.advance(2_000);
  const reply = await c.ask("STATS\n"); // 9
  assert.equal(reply.length, 1);
  assert.equal(reply[0].status, 200);
  assert.match(
    reply[0].text,
    /^STATS sessions=\d+ peers=\d+ files=\d+ holders=\d+ partial=\d+ requests=\d+ rps=\d+(\.\d)? reports=\d+ reported-bytes=\d+ waiting=\d+ uptime=\d+$/,
  );
  const stats = parseStats(reply[0].text.slice("STATS ".length));
  assert.deepEqual(stats, {
    sessions: 3,
    peers: 2,
    files: 2,
    holders: 3,
    partial: 0,
    requests: 9,
    rps: 4.5, // 9 requests in 2 s
    reports: 3,
    reportedBytes: 14,
    waiting: 1,
    uptime: 2,
  });
  assert.deepEqual(await tracker.stats(), stats);
});

// ---------------------------------------------------------------------------
// REPORT

Deno.test("tracker REPORT: 404 for an unknown holder or file, 400 for bad syntax, 403 on oneself", async () => {
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  const { sessions: [holder], addresses: [address] } = await holders(stack, tracker.addr.port, {
    count: 1,
    name: "f.txt",
  });
  using reporter = await LineClient.connect(tracker.addr.port);
  const status = async (c: LineClient, line: string) => {
    const reply = await c.ask(line + "\n");
    assert.equal(reply.length, 1, JSON.stringify(reply));
    return reply[0].status;
  };
  assert.equal(await status(reporter, `REPORT 127.0.0.1:1 OK 7 f.txt`), 404);
  assert.equal(await status(reporter, `REPORT ${address} OK 7 other.txt`), 404);
  for (
    const bad of [
      "REPORT",
      `REPORT ${address}`,
      `REPORT ${address} OK 7`,
      `REPORT ${address} OK seven f.txt`,
      `REPORT ${address} OK -7 f.txt`,
      `REPORT ${address} E-HASH 0 f.txt`,
      `REPORT ${address} ABCDEFGHIJKLMNOPQRSTUVWXYZ 0 f.txt`,
      `REPORT nohost EHASH 0 f.txt`,
      `REPORT 127.0.0.1:99999 EHASH 0 f.txt`,
    ]
  ) {
    assert.equal(await status(reporter, bad), 400, bad);
  }
  assert.deepEqual(texts(await holder.ask(`REPORT ${address} OK 7 f.txt\n`)), [
    "403 a peer cannot report on itself",
  ]);
  // Only the memory store shows its feedback whole; through any store, the good report below is the holder's first vote.
  if (tracker.store instanceof MemoryStore) assert.ok(tracker.store.feedback.empty, "no refused report counted");
  assert.equal((await tracker.stats()).reports, 0);
  // The session goes on: a good report is noted.
  const [ok] = await reporter.ask(`REPORT ${address} ok 7 f.txt\n`);
  assert.deepEqual(ok, { status: 200, more: false, text: `noted: ${address} 1 ok, 0 failed, 7 bytes served` });
});

Deno.test("tracker REPORT: a holder two sessions report failing is no longer offered; the other still is", async () => {
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  const { addresses: [a, b] } = await holders(stack, tracker.addr.port, { count: 2, name: "f.txt" });
  using first = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  const offered = async () => holderAddresses(await asker.ask("SEND f.txt\n"));

  const [one] = await first.ask(`REPORT ${a} EHASH 0 f.txt\n`);
  assert.equal(one.text, `noted: ${a} 0 ok, 1 failed, 0 bytes served`);
  assert.deepEqual(await offered(), [b, a], "one failing session moves it last, no more");
  await tracker.events.next("reported");

  {
    using second = await LineClient.connect(tracker.addr.port);
    const [two] = await second.ask(`REPORT ${a} ETIMEDOUT 0 f.txt\n`);
    assert.equal(two.text, `noted: ${a} 0 ok, 2 failed, 0 bytes served; no longer offered`);
    assert.deepEqual(await tracker.events.next("reported"), {
      type: "reported",
      peer: `127.0.0.1:${(second.conn.localAddr as Deno.NetAddr).port}`,
      holder: a,
      name: "f.txt",
      outcome: "ETIMEDOUT",
      demoted: true,
    });
    assert.deepEqual(await offered(), [b]);
    const held = await tracker.store.holderOf("f.txt", a);
    assert.ok(held, `${a} still holds f.txt`);
    // A score is read whole only from the memory store; its other fields are in the noted line above, through any.
    if (tracker.store instanceof MemoryStore) {
      assert.deepEqual(tracker.store.feedback.score(held.peer), {
        served: 0,
        succeeded: 0,
        failed: 2,
        demoted: true,
        lastFailure: "ETIMEDOUT",
      });
    }
  }
  await tracker.events.next("left");
  // A vote outlives its session: a one-shot `get` reports, then leaves.
  assert.deepEqual(await offered(), [b]);
});

Deno.test("tracker REPORT: one session repeating a failure report five times does not demote a holder", async () => {
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  const { addresses: [a, b] } = await holders(stack, tracker.addr.port, { count: 2, name: "f.txt" });
  using reporter = await LineClient.connect(tracker.addr.port);
  for (let i = 0; i < 5; i++) {
    const [reply] = await reporter.ask(`REPORT ${a} EHASH 0 f.txt\n`);
    assert.equal(reply.text, `noted: ${a} 0 ok, 1 failed, 0 bytes served`);
  }
  const held = await tracker.store.holderOf("f.txt", a);
  assert.ok(held, `${a} still holds f.txt`);
  if (tracker.store instanceof MemoryStore) assert.equal(tracker.store.feedback.score(held.peer)?.demoted, false);
  assert.deepEqual(holderAddresses(await reporter.ask("SEND f.txt\n")), [b, a]);
  // The same session changing its mind counts once, the other way.
  const [changed] = await reporter.ask(`REPORT ${a} OK 7 f.txt\n`);
  assert.equal(changed.text, `noted: ${a} 1 ok, 0 failed, 7 bytes served`);
});

Deno.test("tracker REPORT: holders come fewest failing sessions first, then most bytes served", async () => {
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  // Reported bytes count up to the file's size.
  const { addresses: [a, b, c] } = await holders(stack, tracker.addr.port, { count: 3, name: "f.txt", size: 5000 });
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  const offered = async () => holderAddresses(await one.ask("SEND f.txt\n"));
  assert.deepEqual(await offered(), [a, b, c], "announcement order while nothing is known");
  await one.ask(`REPORT ${b} OK 1000 f.txt\n`);
  await one.ask(`REPORT ${c} OK 3000 f.txt\n`);
  assert.deepEqual(await offered(), [c, b, a]);
  // One failing session puts c last despite its bytes (one ok, one failed: still offered).
  await two.ask(`REPORT ${c} ECONNRESET 0 f.txt\n`);
  assert.deepEqual(await offered(), [b, a, c]);
  // A session's new report replaces its old one; bytes count at most the file's size.
  const [again] = await one.ask(`REPORT ${b} OK 999999 f.txt\n`);
  assert.equal(again.text, `noted: ${b} 1 ok, 0 failed, 5000 bytes served`);
  assert.equal((await tracker.stats()).reportedBytes, 1000 + 3000 + 5000);
});

Deno.test("tracker REPORT: demoted holders are not offered while others are, and those announced later fill the reply", async () => {
  await using tracker = await suiteTracker();
  using stack = new DisposableStack();
  const { addresses } = await holders(stack, tracker.addr.port, { count: 60, name: "f.txt" });
  using one = await LineClient.connect(tracker.addr.port);
  using two = await LineClient.connect(tracker.addr.port);
  // Two sessions report the first ten failing: demoted (the default --demote-after is 2).
  for (const address of addresses.slice(0, 10)) {
    assert.equal((await one.ask(`REPORT ${address} EHASH 0 f.txt\n`))[0].text.endsWith("no longer offered"), false);
    assert.equal((await two.ask(`REPORT ${address} ETIMEDOUT 0 f.txt\n`))[0].text.endsWith("no longer offered"), true);
  }
  const offered = holderAddresses(await one.ask("SEND f.txt\n"));
  assert.deepEqual(offered, addresses.slice(10, 60), "a full reply: the 51st to 60th announced take their places");
});
