import assert from "node:assert/strict";
import { Limits } from "../protocol.ts";
import { LineClient, testTracker } from "./helpers.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

function texts(lines: { status: number; more: boolean; text: string }[]): string[] {
  return lines.map((l) => `${l.status}${l.more ? "-" : " "}${l.text}`);
}

Deno.test("tracker: UPDATE then SEND answers each holder with address, size and hash", async () => {
  await using tracker = testTracker();
  using a = await LineClient.connect(tracker.addr.port);
  using b = await LineClient.connect(tracker.addr.port);
  using asker = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await a.ask(`UPDATE 5001 2\n10 ${SHA_A} file1.txt\n20 ${SHA_B} file two.md\n`)), [
    "200 indexed 2 files as 127.0.0.1:5001",
  ]);
  await b.ask(`UPDATE 5002 1\n10 ${SHA_A} file1.txt\n`);
  assert.deepEqual(texts(await asker.ask("SEND file1.txt, file two.md, missing.txt\n")), [
    `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} file1.txt`,
    `200-HOLDER 127.0.0.1:5002 10 ${SHA_A} file1.txt`,
    `200-HOLDER 127.0.0.1:5001 20 ${SHA_B} file two.md`,
    "404-NOTFOUND missing.txt",
    "200 END 2 found, 1 not found",
  ]);
});

Deno.test("tracker: a peer's files leave the index as soon as its connection closes", async () => {
  await using tracker = testTracker();
  using asker = await LineClient.connect(tracker.addr.port);
  const left = tracker.waitFor("left");
  {
    using peer = await LineClient.connect(tracker.addr.port);
    await peer.ask(`UPDATE 5001 1\n10 ${SHA_A} file1.txt\n`);
    assert.equal((await asker.ask("SEND file1.txt\n"))[0].status, 200);
  }
  assert.deepEqual(await left, { type: "left", peer: "127.0.0.1:5001", files: 1 });
  assert.deepEqual(texts(await asker.ask("SEND file1.txt\n")), [
    "404-NOTFOUND file1.txt",
    "200 END 0 found, 1 not found",
  ]);
  assert.deepEqual(texts(await asker.ask("PEERS\n")), ["200 END 0 peers"]);
});

Deno.test("tracker: UPDATE replaces what the peer announced before", async () => {
  await using tracker = testTracker();
  using peer = await LineClient.connect(tracker.addr.port);
  await peer.ask(`UPDATE 5001 1\n10 ${SHA_A} old.txt\n`);
  await peer.ask(`UPDATE 5001 1\n20 ${SHA_B} new.txt\n`);
  assert.deepEqual(texts(await peer.ask("LIST\n")), [`200-FILE 20 ${SHA_B} 1 new.txt`, "200 END 1 files"]);
});

Deno.test("tracker: PEERS lists announced peers with their file counts; LIST filters by text", async () => {
  await using tracker = testTracker();
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
    "200 END 1 files",
  ]);
});

Deno.test("tracker: unknown commands, empty lines and CRLF are handled and the session goes on", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const unknown = await c.ask("FROB x\r\n");
  assert.equal(unknown[0].status, 400);
  assert.match(unknown[0].text, /unknown command "FROB"/);
  await c.send("\r\n\n");
  assert.deepEqual(texts(await c.ask("PEERS\r\n")), ["200 END 0 peers"]);
  const help = await c.ask("HELP\n");
  assert.ok(help.every((l) => l.status === 214) && help.length > 3);
});

Deno.test("tracker: an oversized line answers 413 and the session goes on", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask("SEND " + "x".repeat(Limits.MAX_LINE_BYTES + 10) + "\n");
  assert.equal(reply[0].status, 413);
  assert.deepEqual(texts(await c.ask("PEERS\n")), ["200 END 0 peers"]);
});

Deno.test("tracker: hostile names in SEND are refused one by one with 403", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.ask(`UPDATE 5001 1\n10 ${SHA_A} ok.txt\n`);
  const reply = texts(await c.ask("SEND ../etc/passwd, /etc/passwd, a%00b, .hidden, ok.txt, ..\n"));
  assert.equal(reply.length, 7);
  for (const line of reply.slice(0, 4)) assert.match(line, /^403-REFUSED /);
  assert.equal(reply[4], `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} ok.txt`);
  assert.match(reply[5], /^403-REFUSED \.\. /);
  assert.equal(reply[6], "200 END 1 found, 5 not found");
});

Deno.test("tracker: a malformed UPDATE entry changes nothing and answers 400 naming the entry", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.ask(`UPDATE 5001 1\n10 ${SHA_A} keep.txt\n`);
  const reply = await c.ask(`UPDATE 5001 3\n10 ${SHA_A} a.txt\nten ${SHA_A} b.txt\n10 ${SHA_A} ../c.txt\n`);
  assert.equal(reply[0].status, 400);
  assert.match(reply[0].text, /^entry 2: size is not a number/);
  assert.deepEqual(texts(await c.ask("LIST\n")), [`200-FILE 10 ${SHA_A} 1 keep.txt`, "200 END 1 files"]);
});

Deno.test("tracker: a malformed UPDATE header answers 400 and closes, since entry lines may follow", async () => {
  await using tracker = testTracker();
  for (const header of ["UPDATE 0 0", "UPDATE x", "UPDATE 5001 x2", "UPDATE 70000 1"]) {
    using c = await LineClient.connect(tracker.addr.port);
    const reply = await c.ask(`${header}\n`);
    assert.equal(reply[0].status, 400, header);
    assert.match(reply[0].text, /; closing$/);
    assert.equal(await c.reply(), null, header);
  }
});

Deno.test("tracker: an UPDATE announcing more entries than allowed answers 413 and closes", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask(`UPDATE 5001 ${Limits.MAX_UPDATE_ENTRIES + 1}\n`);
  assert.equal(reply[0].status, 413);
  assert.equal(await c.reply(), null);
});

Deno.test("tracker: QUIT answers 221 and closes the connection", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  assert.deepEqual(texts(await c.ask("QUIT\n")), ["221 bye"]);
  assert.equal(await c.reply(), null);
});

Deno.test("tracker: names with spaces, commas and unicode survive the client's SEND", async () => {
  await using tracker = testTracker();
  using raw = await LineClient.connect(tracker.addr.port);
  await raw.ask(`UPDATE 5001 2\n3 ${SHA_A} a, b%2C c.txt\n4 ${SHA_B} früh stück ☕.txt\n`);
  await using client = await TrackerClient.connect(tracker.address);
  const { lookups } = await client.send(["a, b, c.txt", "früh stück ☕.txt", "nope"]);
  assert.deepEqual(lookups.map((l) => [l.name, l.status, l.holders.length]), [
    ["a, b, c.txt", 200, 1],
    ["früh stück ☕.txt", 200, 1],
    ["nope", 404, 0],
  ]);
});

Deno.test("tracker: many sessions at once each get their own answers", async () => {
  await using tracker = testTracker();
  const clients = await Promise.all(Array.from({ length: 20 }, () => TrackerClient.connect(tracker.address)));
  try {
    await Promise.all(clients.map((c, i) => c.update(6000 + i, [{ name: `f${i}`, size: i + 1, sha256: SHA_A }])));
    const answers = await Promise.all(clients.map((c, i) => c.send([`f${(i + 1) % 20}`])));
    answers.forEach((a, i) => assert.equal(a.lookups[0].holders[0].address, `127.0.0.1:${6000 + (i + 1) % 20}`));
  } finally {
    for (const c of clients) c.close();
  }
});

Deno.test("tracker: a REFUSED line for a huge hostile name stays short", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  const reply = await c.ask(`SEND ${"/".repeat(30_000)}\n`);
  assert.equal(reply[0].status, 403);
  assert.ok(reply[0].text.length < 1_000, `${reply[0].text.length} characters`);
});

Deno.test("tracker client: a tracker that never answers fails the request within the timeout, then the client is closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  try {
    await using client = await TrackerClient.connect(`127.0.0.1:${listener.addr.port}`, { timeoutMs: 200 });
    await assert.rejects(client.peers(), /did not answer within 0\.2 s/);
    await assert.rejects(client.peers(), /closed/);
  } finally {
    (await accepted).close();
    listener.close();
  }
});

Deno.test("tracker: pipelined requests are answered in order", async () => {
  await using tracker = testTracker();
  using c = await LineClient.connect(tracker.addr.port);
  await c.send(`UPDATE 5001 1\n10 ${SHA_A} a.txt\nSEND a.txt\nFROB\nSEND b.txt\nPEERS\n`);
  assert.deepEqual(texts((await c.reply())!), ["200 indexed 1 files as 127.0.0.1:5001"]);
  assert.deepEqual(texts((await c.reply())!), [
    `200-HOLDER 127.0.0.1:5001 10 ${SHA_A} a.txt`,
    "200 END 1 found, 0 not found",
  ]);
  assert.equal((await c.reply())![0].status, 400);
  assert.deepEqual(texts((await c.reply())!), ["404-NOTFOUND b.txt", "200 END 0 found, 1 not found"]);
  assert.deepEqual(texts((await c.reply())!), ["200-PEER 127.0.0.1:5001 1", "200 END 1 peers"]);
});
