/**
 * `WAIT` at the tracker, over real loopback sockets: it answers like `SEND`,
 * then pushes `* FOUND` the moment another session announces a name it
 * waits for (only to the sessions waiting), or `* EXPIRED` when its seconds
 * run out and not before (on a clock moved by hand); pushes come between
 * replies, never inside one; a `PARTIAL` announcement pushes `FOUND` too;
 * a closed session's waits are forgotten; a session waits for at most
 * 1,024 names.
 *
 * @module
 */

import assert from "node:assert/strict";
import { isPush, Limits, parseReplyLine } from "../../protocol.ts";
import { ManualClock } from "../helpers/clock.ts";
import { eventually, within } from "../helpers/events.ts";
import { announcement, LineClient, texts } from "../helpers/net.ts";
import { suiteTracker } from "../helpers/roles.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

/**
 * The next raw line from the tracker (a reply line or a push); fails if the
 * connection ends, or if no line comes within the helpers' wait (which only
 * keeps a missing push from hanging the run: it asserts nothing about timing).
 */
async function nextLine(c: LineClient): Promise<string> {
  const line = await within("a line from the tracker", c.reader.readLine());
  assert.notEqual(line, null, "the tracker closed the connection");
  return line!;
}

Deno.test("tracker WAIT: answers like SEND, then pushes FOUND when another session UPDATEs the name", async () => {
  await using tracker = await suiteTracker();
  using holder = await LineClient.connect(tracker.addr.port);
  using waiter = await LineClient.connect(tracker.addr.port);
  using later = await LineClient.connect(tracker.addr.port);
  using bystander = await LineClient.connect(tracker.addr.port);
  await bystander.ask("WAIT 60 something else.txt\n"); // a wait that stays open all along
  await holder.ask(announcement("UPDATE", 5001, [[10, SHA_A, "have.txt"]]));
  assert.deepEqual(texts(await waiter.ask("WAIT 60 have.txt, want%2C it.txt, a/b\n")), [
    `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} have.txt`,
    "404-NOTFOUND want%2C it.txt",
    `403-REFUSED a%2Fb refused name "a/b": contains a path separator`,
    "200 END 1 found, 2 not found",
  ]);
  assert.equal((await tracker.stats()).waiting, 2, "only the missing name is waited for (and the bystander's)");
  await later.ask(announcement("UPDATE", 5002, [[5, SHA_B, "unrelated.txt"], [7, SHA_B, "want%2C it.txt"]]));
  assert.equal(await nextLine(waiter), "* FOUND want%2C it.txt");
  assert.equal((await tracker.stats()).waiting, 1);
  // Found once: another announcement of the name pushes nothing more.
  using third = await LineClient.connect(tracker.addr.port);
  await third.ask(announcement("UPDATE", 5003, [[7, SHA_B, "want%2C it.txt"]]));
  assert.deepEqual(texts(await waiter.ask("PING\n")), ["200 PONG"]);
  assert.deepEqual(texts(await bystander.ask("PING\n")), ["200 PONG"], "nothing for the bystander");
});

Deno.test("tracker WAIT: an ADD from another session pushes FOUND too, and only to the sessions waiting", async () => {
  await using tracker = await suiteTracker();
  using w1 = await LineClient.connect(tracker.addr.port);
  using w2 = await LineClient.connect(tracker.addr.port);
  using bystander = await LineClient.connect(tracker.addr.port);
  using adder = await LineClient.connect(tracker.addr.port);
  await w1.ask("WAIT 60 x.bin, y.bin\n");
  await w2.ask("WAIT 60 x.bin\n");
  assert.equal((await tracker.stats()).waiting, 3);
  await adder.ask(announcement("UPDATE", 5009, [[1, SHA_A, "z.bin"]]));
  await adder.ask(announcement("ADD", 5009, [[1, SHA_A, "x.bin"]]));
  assert.equal(await nextLine(w1), "* FOUND x.bin");
  assert.equal(await nextLine(w2), "* FOUND x.bin");
  assert.equal((await tracker.stats()).waiting, 1, "w1 still waits for y.bin");
  assert.deepEqual(texts(await bystander.ask("PING\n")), ["200 PONG"], "no push to a session that did not wait");
  await adder.ask(announcement("ADD", 5009, [[1, SHA_A, "y.bin"]]));
  assert.equal(await nextLine(w1), "* FOUND y.bin");
  assert.deepEqual(texts(await w2.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker WAIT: a PARTIAL announcement pushes FOUND as an ADD does, and SEND then finds the partial holder", async () => {
  await using tracker = await suiteTracker();
  using waiter = await LineClient.connect(tracker.addr.port);
  using downloader = await LineClient.connect(tracker.addr.port);
  const size = 3 * 1024 * 1024;
  const hash = `${SHA_A}:${SHA_B}`;
  assert.deepEqual(texts(await waiter.ask("WAIT 60 big.bin\n")), [
    "404-NOTFOUND big.bin",
    "200 END 0 found, 1 not found",
  ]);
  assert.equal((await downloader.ask(`PARTIAL 5001 1\n${size} ${hash} big.bin\n`))[0].status, 200);
  assert.equal(await nextLine(waiter), "* FOUND big.bin");
  assert.equal((await tracker.stats()).waiting, 0);
  assert.deepEqual(texts(await waiter.ask("SEND big.bin\n")), [
    `200-PARTIAL 127.0.0.1:5001 ${size} ${hash} big.bin`,
    "200 END 1 found, 0 not found",
  ]);
});

Deno.test("tracker WAIT: a name nobody announces in time gets EXPIRED after its seconds, not before, and once", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock });
  using waiter = await LineClient.connect(tracker.addr.port);
  using late = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await waiter.ask("WAIT 60 gone.txt, also gone.txt\n")), [
    "404-NOTFOUND gone.txt",
    "404-NOTFOUND also gone.txt",
    "200 END 0 found, 2 not found",
  ]);
  assert.equal((await tracker.stats()).waiting, 2);
  await clock.advance(60_000 - 1);
  // A push would come before the next reply: the next line is PING's answer.
  await waiter.send("PING\n");
  assert.equal(await nextLine(waiter), "200 PONG", "nothing a millisecond before the 60 s");
  assert.equal((await tracker.stats()).waiting, 2);
  await clock.advance(1);
  assert.deepEqual([await nextLine(waiter), await nextLine(waiter)], [
    "* EXPIRED gone.txt",
    "* EXPIRED also gone.txt",
  ]);
  assert.equal((await tracker.stats()).waiting, 0);
  await late.ask(announcement("UPDATE", 5002, [[1, SHA_A, "gone.txt"]]));
  await clock.advance(60_000);
  assert.deepEqual(
    texts(await waiter.ask("PING\n")),
    ["200 PONG"],
    "expired once; an expired wait finds nothing later",
  );
});

Deno.test("tracker WAIT: pushes come between replies, never inside one, while requests are pipelined", async () => {
  await using tracker = await suiteTracker();
  using holder = await LineClient.connect(tracker.addr.port);
  using waiter = await LineClient.connect(tracker.addr.port);
  using announcer = await LineClient.connect(tracker.addr.port);
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
  // Both are awaited below; handled here too, so that a failed assertion is what the test reports.
  sending.catch(() => {});
  announcing.catch(() => {});

  const pushes: string[] = [];
  const replyLengths: number[] = [];
  let current = 0;
  while (replyLengths.length < ROUNDS || pushes.length < wanted.length) {
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

Deno.test("tracker WAIT: pushes to a session whose replies are backed up come between two of them", async () => {
  await using tracker = await suiteTracker();
  using holder = await LineClient.connect(tracker.addr.port);
  using waiter = await LineClient.connect(tracker.addr.port);
  using announcer = await LineClient.connect(tracker.addr.port);
  const held = Array.from({ length: 150 }, (_, i): [number, string, string] => [i + 1, SHA_A, `h${i}`]);
  await holder.ask(announcement("UPDATE", 5001, held));
  const wanted = Array.from({ length: 20 }, (_, i) => `w${i}.bin`);
  assert.equal((await waiter.ask(`WAIT 60 ${wanted.join(", ")}\n`)).length, 21);

  // About 6.6 MB of replies to a waiter that reads nothing yet: the tracker fills the connection and waits, mid-write.
  const PAGES = 800;
  await waiter.send("LIST\n".repeat(PAGES));
  let last = -1;
  await eventually("the tracker waiting to write to the waiter", async () => {
    const now = (await tracker.stats()).requests;
    const still = now === last;
    last = now;
    return still;
  }, { everyMs: 20 });

  const pushedAfter: number[] = []; // how many replies had come before each push
  let replies = 0;
  let current = 0;
  const read = async (lines: number) => {
    for (let i = 0; i < lines; i++) {
      const raw = await nextLine(waiter);
      if (isPush(raw)) {
        assert.equal(current, 0, `a push inside a reply, after ${current} of its lines: ${raw}`);
        pushedAfter.push(replies);
        continue;
      }
      current++;
      if (!parseReplyLine(raw).more) {
        assert.equal(current, Limits.LIST_PAGE + 1, `reply ${replies + 1}`);
        replies++;
        current = 0;
      }
    }
  };
  // The waiter drains a little at a time, and a name it waits for is announced each time: the tracker is mid-write.
  for (const name of wanted) {
    await read(150);
    await announcer.ask(announcement("ADD", 5002, [[1, SHA_B, name]]));
  }
  while (replies < PAGES || pushedAfter.length < wanted.length) await read(1);
  assert.equal(current, 0);
  assert.equal(pushedAfter.length, wanted.length);
  assert.ok(pushedAfter.at(-1)! < PAGES, `the pushes came while replies were still queued (${pushedAfter})`);
  assert.deepEqual(texts(await waiter.ask("PING\n")), ["200 PONG"]);
});

Deno.test("tracker WAIT: a session that closes forgets its waits", async () => {
  const clock = new ManualClock();
  await using tracker = await suiteTracker({ clock });
  using stays = await LineClient.connect(tracker.addr.port);
  using announcer = await LineClient.connect(tracker.addr.port);
  await stays.ask("WAIT 60 b.txt\n");
  const timers = clock.pending;
  {
    using leaving = await LineClient.connect(tracker.addr.port);
    await leaving.ask("WAIT 60 a.txt, b.txt, c.txt\n");
    await leaving.ask("WAIT 30 d.txt\n");
    assert.equal((await tracker.stats()).waiting, 5);
  }
  await tracker.events.next("left");
  assert.equal((await tracker.stats()).waiting, 1);
  assert.equal(clock.pending, timers, "the leaving session's timers (its two waits, its idle watchdog) are gone");
  await announcer.ask(announcement("UPDATE", 5002, [[1, SHA_A, "a.txt"], [1, SHA_A, "b.txt"]]));
  assert.equal(await nextLine(stays), "* FOUND b.txt");
  assert.equal((await tracker.stats()).waiting, 0);
  await clock.advance(60_000);
  assert.deepEqual(texts(await stays.ask("PING\n")), ["200 PONG"], "and nothing else was pushed");
  assert.equal((await tracker.stats()).waiting, 0);
});

Deno.test(`tracker WAIT: more than ${Limits.MAX_WAITS_PER_SESSION} names waited for in one session answers 413; held names do not count`, async () => {
  await using tracker = await suiteTracker();
  using waiter = await LineClient.connect(tracker.addr.port);
  using other = await LineClient.connect(tracker.addr.port);
  using announcer = await LineClient.connect(tracker.addr.port);
  await announcer.ask(announcement("UPDATE", 5002, [[1, SHA_A, "held.txt"]]));
  const per = Limits.MAX_NAMES_PER_SEND;
  for (let i = 0; i < Limits.MAX_WAITS_PER_SESSION / per; i++) {
    const names = Array.from({ length: per }, (_, j) => `n${i * per + j}`);
    const reply = await waiter.ask(`WAIT 60 ${names.join(", ")}\n`);
    assert.equal(reply.at(-1)!.text, `END 0 found, ${per} not found`);
  }
  assert.equal((await tracker.stats()).waiting, Limits.MAX_WAITS_PER_SESSION);
  assert.deepEqual(texts(await waiter.ask("WAIT 60 one-more.txt\n")), [
    "413 a session may wait for at most 1024 names at once (1024 already)",
  ]);
  assert.equal((await tracker.stats()).waiting, Limits.MAX_WAITS_PER_SESSION, "nothing added");
  assert.equal((await waiter.ask("WAIT 60 held.txt\n"))[0].status, 200, "a held name needs no wait");
  assert.equal((await other.ask("WAIT 60 one-more.txt\n")).at(-1)!.status, 200, "the limit is per session");
  await announcer.ask(announcement("ADD", 5002, [[1, SHA_A, "n0"]]));
  assert.equal(await nextLine(waiter), "* FOUND n0");
  assert.equal((await waiter.ask("WAIT 60 one-more.txt\n")).at(-1)!.text, "END 0 found, 1 not found");
  assert.equal((await tracker.stats()).waiting, Limits.MAX_WAITS_PER_SESSION + 1);
});

Deno.test("tracker WAIT: a bad WAIT line answers 400 or 413 and the session goes on", async () => {
  await using tracker = await suiteTracker();
  using c = await LineClient.connect(tracker.addr.port);
  for (const [line, status] of [["WAIT", 400], ["WAIT 5", 400], ["WAIT x a.txt", 400], ["WAIT 86401 a.txt", 413]]) {
    const reply = await c.ask(`${line}\n`);
    assert.equal(reply.length, 1, String(line));
    assert.equal(reply[0].status, status, String(line));
  }
  assert.equal((await tracker.stats()).waiting, 0);
  assert.deepEqual(texts(await c.ask("PING\n")), ["200 PONG"]);
});
