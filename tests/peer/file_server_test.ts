/**
 * `peer/file_server.ts`: the holder's side of the wire, spoken to raw on
 * loopback. `GET` (then close), `RANGE` and `HASHES` (the connection kept
 * for more), hostile and missing names; the caps: `maxConnections` (`421`),
 * `maxUploads` (`503 busy`, the connection goes on); a connection silent
 * for the idle time is closed, one that keeps asking is not; `close(grace)`
 * stops accepting, tells idle connections `503 … is stopping` and closes
 * them at once, lets an upload in the middle of an answer finish within the
 * grace and cuts it after, answers every later request `503 … is stopping`,
 * and says how much of each file it sent, and why it stopped. Time is a
 * {@link ManualClock}; an upload is held in the middle of its answer by a
 * client that stops reading (TCP's own flow control), never by a timer.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { isDisconnect } from "../../io/errors.ts";
import type { BufferedReader } from "../../io/reader.ts";
import { SharedFolder } from "../../disk/shared_folder.ts";
import { downloadFile } from "../../peer/download.ts";
import { type FileServerEvent, startFileServer, STOP_LINGER_MS } from "../../peer/file_server.ts";
import { ManualClock, settled } from "../helpers/clock.ts";
import { EventLog, eventually, within } from "../helpers/events.ts";
import { chunkHashes, MiB, sha256 } from "../helpers/hashes.ts";
import { servingFolder } from "../helpers/holders.ts";
import { LineClient, notServed, rawRequest, readBytes, text } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

/** Reads until the connection ends (or breaks); returns how many bytes came (the count, not the bytes). */
async function bytesUntilClose(reader: BufferedReader): Promise<number> {
  const sink = new Uint8Array(MiB);
  let total = 0;
  try {
    for (let n = await reader.read(sink); n !== null; n = await reader.read(sink)) total += n;
  } catch (error) {
    if (!isDisconnect(error)) throw error;
  }
  return total;
}

// --- requests ----------------------------------------------------------------

Deno.test("file server: GET sends a header then the bytes; RANGE sends a part", async () => {
  await using src = await servingFolder({ "f.txt": "0123456789" });
  assert.equal(text(await rawRequest(src.port, "GET f.txt\n")), `200 10 ${sha256("0123456789")}\n0123456789`);
  assert.equal(text(await rawRequest(src.port, "RANGE 3 4 f.txt\r\n")), `206 10 ${sha256("0123456789")} 3 4\n3456`);
  assert.equal(text(await rawRequest(src.port, "RANGE 8 * f.txt\n")), `206 10 ${sha256("0123456789")} 8 2\n89`);
  assert.match(text(await rawRequest(src.port, "RANGE 11 * f.txt\n")), /^416 /);
});

Deno.test("file server: hostile names are refused with 403 and missing ones with 404", async () => {
  await using outside = await tempDir();
  await Deno.writeTextFile(join(outside.path, "secret"), "secret");
  await using src = await servingFolder({ "f.txt": "x", ".hidden": "h" });
  await Deno.symlink(join(outside.path, "secret"), join(src.dir, "link-out"));
  await Deno.symlink(join(src.dir, "f.txt"), join(src.dir, "link-in"));
  await Deno.mkdir(join(src.dir, "sub"));
  for (const name of ["../secret", "/etc/passwd", "a%00b", ".hidden", "..", "sub%2F..%2Ff.txt", "link-out"]) {
    assert.match(text(await rawRequest(src.port, `GET ${name}\n`)), /^403 /, name);
  }
  assert.match(text(await rawRequest(src.port, "GET nothing\n")), /^404 /);
  assert.match(text(await rawRequest(src.port, "GET sub\n")), /^404 /);
  assert.equal(text(await rawRequest(src.port, "GET link-in\n")), `200 1 ${sha256("x")}\nx`);
  assert.match(text(await rawRequest(src.port, "HELLO\n")), /^400 unknown command/);
  assert.match(text(await rawRequest(src.port, "GET " + "x".repeat(70_000) + "\n")), /^413 /);
});

Deno.test("file server: serves many downloads at once", async () => {
  const data = randomBytes(1_000_000);
  await using src = await servingFolder({ "f.bin": data });
  const outs = await Promise.all(Array.from({ length: 8 }, () => tempDir()));
  try {
    await Promise.all(
      outs.map((o) => downloadFile({ name: "f.bin", status: 200, holders: [src.holder("f.bin")] }, { outDir: o.path })),
    );
    for (const o of outs) assert.deepEqual(await Deno.readFile(join(o.path, "f.bin")), data);
  } finally {
    for (const o of outs) await o[Symbol.asyncDispose]();
  }
});

Deno.test("file server: HASHES lists the SHA-256 of every 1 MiB chunk, the last one short, on one kept connection", async () => {
  const big = randomBytes(2 * MiB + MiB / 2, 21);
  const small = randomBytes(1000, 22);
  await using src = await servingFolder({ "big.bin": big, "small.bin": small, "empty": new Uint8Array() });
  using raw = await LineClient.connect(src.port);
  const hashes = async (name: string, expected: Uint8Array) => {
    await raw.send(`HASHES ${name}\n`);
    const list = chunkHashes(expected);
    assert.equal(
      await raw.reader.readLine(),
      `200 HASHES ${expected.length} ${sha256(expected)} ${MiB} ${list.length}`,
    );
    const lines = [];
    for (let i = 0; i < list.length; i++) lines.push(await raw.reader.readLine());
    assert.deepEqual(lines, list, name);
  };
  await hashes("big.bin", big);
  assert.equal(chunkHashes(big).length, 3);
  await hashes("small.bin", small); // one chunk: its hash is the file's
  await hashes("empty", new Uint8Array()); // no chunk
});

Deno.test("file server: two RANGE requests sent together are both answered, in order, on one connection", async () => {
  const data = randomBytes(3 * MiB + 11, 23);
  await using src = await servingFolder({ "f.bin": data });
  using raw = await LineClient.connect(src.port);
  await raw.send(`RANGE 10 100 f.bin\nRANGE ${2 * MiB} * f.bin\n`);
  assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} 10 100`);
  assert.deepEqual(await readBytes(raw.reader, 100), data.subarray(10, 110));
  assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} ${2 * MiB} ${MiB + 11}`);
  assert.deepEqual(await readBytes(raw.reader, MiB + 11), data.subarray(2 * MiB));
  // Still open: a third request is answered (the whole file as a range is a plain 200).
  await raw.send("RANGE 0 * f.bin\n");
  assert.equal(await raw.reader.readLine(), `200 ${data.length} ${sha256(data)}`);
  assert.deepEqual(await readBytes(raw.reader, data.length), data);
});

Deno.test("file server: GET sends the whole file then closes, even with a request after it, after a RANGE too", async () => {
  const data = randomBytes(MiB + 5, 24);
  await using src = await servingFolder({ "f.bin": data });
  using raw = await LineClient.connect(src.port);
  await raw.send("RANGE 0 5 f.bin\nGET f.bin\nRANGE 0 5 f.bin\n");
  assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} 0 5`);
  assert.deepEqual(await readBytes(raw.reader, 5), data.subarray(0, 5));
  assert.equal(await raw.reader.readLine(), `200 ${data.length} ${sha256(data)}`);
  assert.deepEqual(await readBytes(raw.reader, data.length), data);
  // The end of the connection (so that nc ends), not an answer to the request after GET.
  const next = await raw.reader.readLine().catch((e) => isDisconnect(e) ? null : Promise.reject(e));
  assert.equal(next, null, "the holder closes after GET");
});

Deno.test("file server: a RANGE or HASHES of a missing file answers 404 and the connection serves the next request", async () => {
  await using src = await servingFolder({ "f.txt": "0123456789" });
  using raw = await LineClient.connect(src.port);
  await raw.send("RANGE 0 * missing.bin\n");
  assert.match((await raw.reader.readLine())!, /^404 /);
  await raw.send("HASHES missing.bin\n");
  assert.match((await raw.reader.readLine())!, /^404 /);
  await raw.send("RANGE 2 3 f.txt\n");
  assert.equal(await raw.reader.readLine(), `206 10 ${sha256("0123456789")} 2 3`);
  assert.equal(text(await readBytes(raw.reader, 3)), "234");
});

// --- caps ----------------------------------------------------------------------

/** A file big enough that a client that stops reading holds its upload in the middle of the answer. */
const BIG = 16 * MiB;

Deno.test("file server: at its most uploads, one more answers 503 busy at once, and the connection goes on", async () => {
  const big = randomBytes(BIG, 91);
  await using src = await servingFolder({ "a.bin": big, "small.txt": "small" }, { maxUploads: 1 });
  using first = await LineClient.connect(src.port);
  await first.send("GET a.bin\n");
  assert.equal(await first.reader.readLine(), `200 ${BIG} ${sha256(big)}`); // and it reads no more
  using second = await LineClient.connect(src.port);
  const [busy] = await second.ask("RANGE 0 5 small.txt\n");
  assert.equal(busy.status, 503);
  assert.match(busy.text, /busy: 1 uploads at once; try later/);
  // The connection goes on: HASHES is no upload, and once the first upload ends, a RANGE is served.
  const [hashes] = await second.ask("HASHES small.txt\n");
  assert.equal(hashes.status, 200);
  assert.equal(await second.reader.readLine(), sha256("small"));
  first[Symbol.dispose](); // the first upload is cut
  const aborted = await src.events.next("aborted");
  assert.equal(aborted.name, "a.bin");
  const [served] = await second.ask("RANGE 0 4 small.txt\n");
  assert.equal(served.status, 206);
  assert.match(served.text, /^5 [0-9a-f]{64} 0 4$/);
  assert.equal(text(await readBytes(second.reader, 4)), "smal");
});

Deno.test("file server: with maxConnections 2, a third connection gets 421 while two are open, and is served once one closes", async () => {
  await using src = await servingFolder({ "f.txt": "0123456789" }, { maxConnections: 2 });
  using one = await LineClient.connect(src.port);
  using two = await LineClient.connect(src.port);
  assert.equal((await one.ask("RANGE 0 1 f.txt\n"))[0].status, 206);
  assert.equal(text(await readBytes(one.reader, 1)), "0");
  assert.equal((await two.ask("HASHES f.txt\n"))[0].status, 200);
  assert.equal(await two.reader.readLine(), sha256("0123456789"));
  {
    using third = await LineClient.connect(src.port);
    assert.equal(await within("the 421 line", third.reader.readLine()), "421 too many connections (2)");
    assert.equal(await third.reader.readLine(), null, "and closed");
  }
  one[Symbol.dispose]();
  await src.events.next("served"); // the server is done with it
  using fourth = await LineClient.connect(src.port);
  const [reply] = await fourth.ask("RANGE 2 3 f.txt\n");
  assert.equal(reply.status, 206);
  assert.equal(text(await readBytes(fourth.reader, 3)), "234");
});

// --- idle time and shutdown, on a manual clock -----------------------------------

Deno.test("file server: a connection silent for the idle time is closed; one that keeps asking is not", async () => {
  const clock = new ManualClock();
  await using src = await servingFolder({ "f.txt": "0123456789" }, { clock, idleTimeoutMs: 1_000 });
  using silent = await LineClient.connect(src.port);
  using busy = await LineClient.connect(src.port);
  const ask = async (client: LineClient) => {
    assert.equal((await client.ask("RANGE 0 2 f.txt\n"))[0].status, 206);
    assert.equal(text(await readBytes(client.reader, 2)), "01");
  };
  await ask(silent);
  await ask(busy);
  const silentEnd = silent.reader.readLine();
  await clock.advance(600);
  await ask(busy);
  assert.equal(await settled(silentEnd), false, "not closed before its idle time");
  await clock.advance(600); // 1.2 s without a request from the silent one; 0.6 s from the busy one
  assert.equal(await within("the silent one's close", silentEnd), null, "the silent one is closed");
  const aborted = await src.events.next("aborted");
  assert.equal(aborted.message, "idle timeout");
  for (let i = 0; i < 3; i++) {
    await ask(busy);
    await clock.advance(600);
  }
  await ask(busy); // 3 idle times since the start, and still served
  assert.equal(src.events.of("aborted").length, 1);
});

Deno.test("file server: close(grace) stops accepting, tells idle connections it is stopping and closes them at once, and lets an upload in the middle of its answer finish", async () => {
  const clock = new ManualClock();
  const big = randomBytes(BIG, 92);
  await using src = await servingFolder({ "big.bin": big, "small.txt": "small" }, { clock });
  using idle = await LineClient.connect(src.port);
  assert.equal((await idle.ask("HASHES small.txt\n"))[0].status, 200);
  assert.equal(await idle.reader.readLine(), sha256("small"));
  using upload = await LineClient.connect(src.port);
  await upload.send("GET big.bin\n");
  assert.equal(await upload.reader.readLine(), `200 ${BIG} ${sha256(big)}`); // and it reads no more, for now

  const closing = src.close(10_000);
  assert.equal(await notServed(src.port, "PING\n"), true, "a new connection is not served");
  // Told unasked, so that the request it sends next reads why; then the end of the connection: it hangs up.
  assert.equal(
    await within("the idle one's 503", idle.reader.readLine()),
    `503 the peer at ${src.address} is stopping; try another holder`,
  );
  assert.equal(await within("the idle one's end", idle.closed()), true, "the idle connection is ended at once");
  idle[Symbol.dispose]();
  assert.equal(await settled(closing), false, "the upload is still running");
  // The clock never moves: the grace never runs out, and the upload finishes.
  const got = await readBytes(upload.reader, BIG);
  assert.equal(sha256(got), sha256(big));
  await within("close()", closing);
  assert.equal(await upload.reader.readLine(), null, "closed after the answer");
  const served = await src.events.next("served");
  assert.deepEqual([served.name, served.bytes, served.size, served.ranges], ["big.bin", BIG, BIG, 1]);
  assert.deepEqual(src.events.of("aborted"), [], "the idle one had only asked for hashes: no upload was cut");
});

Deno.test("file server: close(grace) cuts an upload still in the middle of its answer when the grace runs out, not before", async () => {
  const clock = new ManualClock();
  const big = randomBytes(BIG, 93);
  await using src = await servingFolder({ "big.bin": big }, { clock });
  using upload = await LineClient.connect(src.port);
  await upload.send("GET big.bin\n");
  assert.equal(await upload.reader.readLine(), `200 ${BIG} ${sha256(big)}`); // and it reads no more
  const timers = clock.pending; // the upload's idle watchdog
  const closing = src.close(1_000);
  await eventually("the grace period begins", () => clock.pending === timers + 1);
  await clock.advance(999);
  assert.equal(await settled(closing), false, "the grace has not run out");
  await clock.advance(1);
  await within("close()", closing);
  const got = await bytesUntilClose(upload.reader);
  assert.ok(got < BIG, `cut: ${got} of ${BIG} bytes came`);
  const aborted = await src.events.next("aborted");
  assert.deepEqual([aborted.name, aborted.size, aborted.message], ["big.bin", BIG, "this peer is stopping"]);
  assert.ok(aborted.bytes < BIG, `${aborted.bytes} bytes`);
  assert.equal(src.events.of("served").length, 0);
});

/** A file server over a fresh folder holding `files`, whose events and `sending()` the test reads. */
async function fileServer(files: Record<string, Uint8Array>, clock: ManualClock) {
  const dir = await tempDir();
  await writeFiles(dir.path, files);
  const folder = await SharedFolder.open(dir.path);
  await folder.scan();
  const events = new EventLog<FileServerEvent>();
  const server = startFileServer({ hostname: "127.0.0.1", port: 0, folder, onEvent: events.push, clock });
  return {
    server,
    events,
    address: `127.0.0.1:${server.addr.port}`,
    [Symbol.asyncDispose]: async () => {
      await server.close();
      await dir[Symbol.asyncDispose]();
    },
  };
}

Deno.test("file server: once it is stopping, the request after the answer in progress is told 503 the peer at HOST:PORT is stopping, as is every one after it; the upload is told stopped after the bytes it sent", async () => {
  const clock = new ManualClock();
  const big = randomBytes(BIG, 94);
  const half = BIG / 2;
  await using src = await fileServer({ "big.bin": big }, clock);
  using swarm = await LineClient.connect(src.server.addr.port);
  const me = `127.0.0.1:${(swarm.conn.localAddr as Deno.NetAddr).port}`;
  // As a swarm asks: ranges, the next one sent before the first is answered.
  await swarm.send(`RANGE 0 ${half} big.bin\nRANGE ${half} ${half} big.bin\n`);
  assert.equal(await swarm.reader.readLine(), `206 ${BIG} ${sha256(big)} 0 ${half}`); // and it reads no more, for now
  const [sending] = src.server.sending();
  assert.deepEqual({ ...sending, bytes: 0 }, { name: "big.bin", to: me, bytes: 0, size: BIG });

  const closing = src.server.close(10_000);
  assert.equal(await notServed(src.server.addr.port, "HASHES big.bin\n"), true, "a new connection is not served");
  assert.deepEqual(await readBytes(swarm.reader, half), big.subarray(0, half), "the answer in progress finishes");
  const stopping = `503 the peer at ${src.address} is stopping; try another holder`;
  assert.equal(await swarm.reader.readLine(), stopping, "the request after it is not answered with bytes");
  assert.equal(await swarm.reader.readLine(), null, "and the holder's side ends");
  // A request still on its way is read, not met by a reset: the connection is closed only after a while.
  await swarm.send("HASHES big.bin\n");
  assert.equal(await settled(closing), false, "still read from, for the downloader to hang up");
  await clock.advance(STOP_LINGER_MS);
  await within("close()", closing);
  assert.deepEqual(src.events.events, [
    { type: "aborted", name: "big.bin", to: me, bytes: half, size: BIG, message: "this peer is stopping" },
  ]);
  assert.deepEqual(src.server.sending(), []);
});

Deno.test("file server: once it is stopping, a connection whose answer just finished is told 503 unasked, and an upload of the whole file is told sent", async () => {
  const clock = new ManualClock();
  const big = randomBytes(BIG, 95);
  await using src = await fileServer({ "big.bin": big }, clock);
  using client = await LineClient.connect(src.server.addr.port);
  const me = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
  // The whole file in one range, and nothing asked after it.
  await client.send(`RANGE 0 ${BIG} big.bin\n`);
  assert.equal(await client.reader.readLine(), `200 ${BIG} ${sha256(big)}`); // the whole: answered as such
  const closing = src.server.close(10_000);
  assert.deepEqual(await readBytes(client.reader, BIG), big, "the answer in progress finishes");
  // Without asking again: the downloader learns at once that this holder is stopping, and the stop does not wait on it.
  assert.equal(
    await within("the 503, unasked", client.reader.readLine()),
    `503 the peer at ${src.address} is stopping; try another holder`,
  );
  assert.equal(await client.reader.readLine(), null);
  await clock.advance(STOP_LINGER_MS);
  await within("close()", closing);
  assert.deepEqual(src.events.events, [{ type: "served", name: "big.bin", to: me, bytes: BIG, ranges: 1, size: BIG }]);
});

Deno.test("file server: once it is stopping, the rest of a file sent from an offset (a resume) is told sent, not cut", async () => {
  const clock = new ManualClock();
  const big = randomBytes(BIG, 96);
  const from = 3 * MiB;
  await using src = await fileServer({ "big.bin": big }, clock);
  using client = await LineClient.connect(src.server.addr.port);
  const me = `127.0.0.1:${(client.conn.localAddr as Deno.NetAddr).port}`;
  await client.send(`RANGE ${from} * big.bin\n`);
  assert.equal(await client.reader.readLine(), `206 ${BIG} ${sha256(big)} ${from} ${BIG - from}`);
  const closing = src.server.close(10_000);
  assert.deepEqual(await readBytes(client.reader, BIG - from), big.subarray(from));
  assert.match((await within("the 503, unasked", client.reader.readLine()))!, /^503 .* is stopping; /);
  await clock.advance(STOP_LINGER_MS);
  await within("close()", closing);
  assert.deepEqual(src.events.events, [
    { type: "served", name: "big.bin", to: me, bytes: BIG - from, ranges: 1, size: BIG },
  ]);
});

Deno.test("file server: a file sent in several ranges is under way while its connection is open, then told as ranges, with its bytes and its size", async () => {
  const data = randomBytes(3 * MiB, 25);
  await using src = await fileServer({ "f.bin": data }, new ManualClock());
  {
    using raw = await LineClient.connect(src.server.addr.port);
    const me = `127.0.0.1:${(raw.conn.localAddr as Deno.NetAddr).port}`;
    await raw.send(`RANGE 0 ${MiB} f.bin\nRANGE ${2 * MiB} ${MiB} f.bin\n`);
    for (const at of [0, 2 * MiB]) {
      assert.equal(await raw.reader.readLine(), `206 ${data.length} ${sha256(data)} ${at} ${MiB}`);
      assert.deepEqual(await readBytes(raw.reader, MiB), data.subarray(at, at + MiB));
    }
    // Between two answers, a shutdown would stop it: it is an upload under way.
    await eventually("both answers sent", () => src.server.sending()[0]?.bytes === 2 * MiB);
    assert.deepEqual(src.server.sending(), [{ name: "f.bin", to: me, bytes: 2 * MiB, size: data.length }]);
  }
  const served = await src.events.next("served");
  assert.deepEqual([served.name, served.bytes, served.ranges, served.size], ["f.bin", 2 * MiB, 2, data.length]);
});
