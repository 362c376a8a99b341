/**
 * Partial holders (issue 14) over real loopback sockets: a peer downloading
 * a file of more than one chunk into its shared folder serves the chunks it
 * has verified (`peer/partial_holdings.ts`, `peer/file_server.ts`), tells
 * watchers of each new one (`* HAVE`), serves what it told of without a
 * break while the download lands, and withdraws (`* GONE`, `REMOVE`) when
 * its download is cancelled; the tracker forgets it when it leaves. A
 * downloader drops a partial holder that lies (EHASH, reported), that dies
 * (its chunks in flight fetched again, no more) or that says `GONE` (quietly).
 * A full holder rations a chunk among the members of a crowd (`425`), never
 * a connection that did not ask `HAVE`.
 *
 * The downloads that must stay half-done here come from a raw seed whose
 * every answer waits for the test's go ({@link Gate}), so that which chunks
 * a partial holder has is known, not raced.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import type { SendReport } from "../../peer.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { announceRaw, type ChunkHolder, chunkOf, Gate, PeerWire, rangeOf, startChunkHolder } from "../helpers/crowd.ts";
import { chunkHashes, hashToken, MiB, sha256 } from "../helpers/hashes.ts";
import { LineClient, texts } from "../helpers/net.ts";
import { servingFolder } from "../helpers/holders.ts";
import { randomBytes } from "../helpers/random.ts";
import { type TestPeer, testPeer, type TestTracker, testTracker } from "../helpers/roles.ts";

const NAME = "big.bin";

/** A download that hangs fails the test instead of hanging it (each here takes well under a second). */
const hangGuard = () => AbortSignal.timeout(20_000);

/** A peer half-way through downloading `data` as {@link NAME} from a raw seed that answers only when let. */
interface Downloading extends AsyncDisposable {
  tracker: TestTracker;
  /** The seed: a raw full holder, each `RANGE` answer held at `gate`. */
  seed: ChunkHolder;
  gate: Gate;
  /** The downloading peer: a partial holder. */
  peer: TestPeer;
  /** Its `send`, still running. */
  sending: Promise<SendReport>;
  /** The one chunk it holds (the seed has sent it that one, and is holding back its next). */
  first: number;
}

/**
 * A tracker, a seed of `data` announced whole, and a peer downloading it
 * into its shared folder that has verified exactly one chunk, and told the
 * tracker that it serves it (`sharing-partial`). Dispose closes the peer
 * (cancelling the download), then the seed and the tracker.
 */
async function downloading(data: Uint8Array, options: { signal?: AbortSignal } = {}): Promise<Downloading> {
  await using stack = new AsyncDisposableStack();
  const tracker = stack.use(testTracker());
  const gate = new Gate();
  const seed = stack.use(startChunkHolder({ name: NAME, data, kind: "full", gate }));
  stack.use(await announceRaw(tracker.addr.port, { verb: "UPDATE", port: seed.port, name: NAME, data }));
  const peer = stack.use(await testPeer(tracker.address));
  const signal = options.signal ? AbortSignal.any([options.signal, hangGuard()]) : hangGuard();
  const sending = peer.send(NAME, { signal });
  // Before the peer's own dispose (which removes its folder): the download ends with the peer.
  stack.defer(async () => {
    await peer.close();
    await sending.catch(() => {});
  });
  gate.release(1);
  const first = await seed.nthSent(1);
  await peer.events.next("sharing-partial", (e) => e.name === NAME);
  const rest = stack.move();
  return { tracker, seed, gate, peer, sending, first, [Symbol.asyncDispose]: () => rest.disposeAsync() };
}

/** The tracker's answer to `SEND big.bin`, asked on a raw session, as lines. */
async function lookUp(session: LineClient): Promise<string[]> {
  return texts(await session.ask(`SEND ${NAME}\n`));
}

/** Bytes the seed's file server reported sending of {@link NAME}: its `served` and `aborted` events. */
function bytesSent(seed: TestPeer): number {
  return seed.events.events.reduce(
    (n, e) => (e.type === "served" || e.type === "aborted") && e.name === NAME ? n + e.bytes : n,
    0,
  );
}

// ---------------------------------------------------------------------------
// A downloader and its partial sources

Deno.test("partial holders: one that sends a wrong chunk is dropped and reported (EHASH); the file lands from the seed", async () => {
  const data = randomBytes(6 * MiB + 77, 21);
  await using tracker = testTracker();
  // Slowed, so that the liar is surely asked for a chunk before the seed has sent them all.
  await using seed = await testPeer(tracker.address, { [NAME]: data }, { maxUploadRate: 16 * MiB });
  await using liar = startChunkHolder({ name: NAME, data, kind: "partial", answer: () => "wrong" });
  using _listed = await announceRaw(tracker.addr.port, { verb: "PARTIAL", port: liar.port, name: NAME, data });
  await using peer = await testPeer(tracker.address);

  const [outcome] = (await peer.send(NAME, { signal: hangGuard() })).outcomes;

  assert.ok(outcome.ok, JSON.stringify(outcome));
  await liar.faulted;
  await assertSameBytes(join(peer.dir, NAME), data);
  const failed = peer.events.of("attempt-failed");
  assert.deepEqual(failed.map((f) => [f.holder, f.code]), [[liar.address, "EHASH"]], JSON.stringify(failed));
  const { sources } = outcome.result;
  const lied = sources.find((s) => s.holder === liar.address);
  assert.deepEqual(
    lied && { partial: lied.partial, code: lied.code, bytes: lied.bytes },
    { partial: true, code: "EHASH", bytes: 0 },
    JSON.stringify(sources),
  );
  assert.equal(sources.find((s) => s.holder === seed.address)?.bytes, data.length, "the seed delivered every byte");
});

Deno.test("partial holders: one that dies in the middle of a chunk costs only its chunks in flight; the file lands from the seed", async () => {
  const data = randomBytes(6 * MiB, 22);
  await using tracker = testTracker();
  await using seed = await testPeer(tracker.address, { [NAME]: data });
  // Two chunks right, then half of the third, and it is gone: every connection closed, nothing accepted.
  await using dying = startChunkHolder({
    name: NAME,
    data,
    kind: "partial",
    answer: (n) => n <= 2 ? "good" : "cut",
  });
  using _listed = await announceRaw(tracker.addr.port, { verb: "PARTIAL", port: dying.port, name: NAME, data });
  await using peer = await testPeer(tracker.address);

  const [outcome] = (await peer.send(NAME, { signal: hangGuard() })).outcomes;

  assert.ok(outcome.ok, JSON.stringify(outcome));
  await dying.faulted;
  await assertSameBytes(join(peer.dir, NAME), data);
  const { sources } = outcome.result;
  const died = sources.find((s) => s.holder === dying.address);
  assert.ok(died?.partial && died.code !== undefined, `its failure is named: ${JSON.stringify(sources)}`);
  // A partial holder offers every chunk it has: the seed is asked only for what no partial source offers.
  assert.equal(died.chunks, 2, `the two chunks it sent whole are kept: ${JSON.stringify(sources)}`);
  assert.equal(died.bytes, 2 * MiB);
  assert.equal(sources.reduce((n, s) => n + s.bytes, 0), data.length, "every byte counted once");
  await seed.close(); // every upload reported
  const sent = bytesSent(seed);
  // The seed sent the rest, its half-sent chunk included; at most one chunk more, should an endgame race
  // (a slow chunk taken over) have cost one.
  assert.ok(
    sent >= data.length - 2 * MiB && sent <= data.length - MiB,
    `the seed sent ${sent} bytes for the ${data.length - 2 * MiB} the dead holder did not deliver`,
  );
});

Deno.test("partial holders: one that says GONE is dropped quietly; the chunks it sent are kept, the file lands from the seed", async () => {
  const data = randomBytes(5 * MiB + 9, 23);
  await using tracker = testTracker();
  await using seed = await testPeer(tracker.address, { [NAME]: data });
  await using leaving = startChunkHolder({
    name: NAME,
    data,
    kind: "partial",
    answer: (n) => n <= 2 ? "good" : "gone",
  });
  using _listed = await announceRaw(tracker.addr.port, { verb: "PARTIAL", port: leaving.port, name: NAME, data });
  await using peer = await testPeer(tracker.address);

  const [outcome] = (await peer.send(NAME, { signal: hangGuard() })).outcomes;

  assert.ok(outcome.ok, JSON.stringify(outcome));
  await leaving.faulted;
  await assertSameBytes(join(peer.dir, NAME), data);
  assert.deepEqual(peer.events.of("attempt-failed"), [], "nothing to blame: its download ended");
  // The two chunks it sent before it left (the last, of 9 bytes, may be one of them) are kept.
  const kept = leaving.sent.reduce((n, i) => n + chunkOf(data, i).length, 0);
  const left = outcome.result.sources.find((s) => s.holder === leaving.address);
  assert.deepEqual(
    left && { partial: left.partial, code: left.code, chunks: left.chunks, bytes: left.bytes },
    { partial: true, code: undefined, chunks: 2, bytes: kept },
    JSON.stringify(outcome.result.sources),
  );
  assert.equal(outcome.result.sources.find((s) => s.holder === seed.address)?.bytes, data.length - kept);
});

// ---------------------------------------------------------------------------
// A partial holder's file server

Deno.test("partial holders: RANGE of a chunk not here yet answers 425, the connection goes on, and `* HAVE i` comes when it lands", async () => {
  const data = randomBytes(4 * MiB, 24);
  await using d = await downloading(data);
  await using wire = await PeerWire.connect(d.peer.addr.port);

  assert.equal((await wire.ask(`HAVE ${NAME}\n`)).line, `200 HAVE ${data.length} ${sha256(data)} 4`);
  await wire.push(`* HAVE ${d.first} ${NAME}`);
  // Every chunk but the first is not here yet: each asked for, each refused, on the one connection.
  for (const early of [0, 1, 2, 3].filter((i) => i !== d.first)) {
    const answer = await wire.ask(rangeOf(data, early, NAME));
    assert.match(answer.line, new RegExp(`^425 not here yet: chunk ${early} of "${NAME}" has not arrived`));
  }
  const held = await wire.ask(rangeOf(data, d.first, NAME));
  assert.equal(held.line, `206 ${data.length} ${sha256(data)} ${d.first * MiB} ${MiB}`);
  assert.deepEqual(held.body, chunkOf(data, d.first));

  // The seed sends one chunk more: it is told, and served, while two are still missing.
  d.gate.release(1);
  const next = await d.seed.nthSent(2);
  await wire.push(`* HAVE ${next} ${NAME}`);
  const arrived = await wire.ask(rangeOf(data, next, NAME));
  assert.equal(arrived.line, `206 ${data.length} ${sha256(data)} ${next * MiB} ${MiB}`);
  assert.deepEqual(arrived.body, chunkOf(data, next));
  assert.deepEqual(wire.pushes, [`* HAVE ${d.first} ${NAME}`, `* HAVE ${next} ${NAME}`]);

  d.gate.open();
  await wire.push(`* DONE ${NAME}`);
  const [outcome] = (await d.sending).outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  await assertSameBytes(join(d.peer.dir, NAME), data);
  // Each chunk told once, in the order it landed, then DONE.
  const told = d.seed.sent.slice(2).map((i) => `* HAVE ${i} ${NAME}`);
  assert.deepEqual(wire.pushes.slice(2), [...told, `* DONE ${NAME}`]);
});

Deno.test("partial holders: a chunk told by `* HAVE` is served without a break while the download lands", async () => {
  const data = randomBytes(3 * MiB, 30);
  const byte = (d: Downloading) => `RANGE ${d.first * MiB} 1 ${NAME}\n`;
  const told = (d: Downloading) => `206 ${data.length} ${sha256(data)} ${d.first * MiB} 1`;
  /** Asks `wire` for one byte of the chunk told, `AHEAD` requests ahead, until the download has landed. */
  const hammer = async (d: Downloading, wire: PeerWire): Promise<string[]> => {
    const AHEAD = 16;
    const wrong: string[] = [];
    for (let i = 0; i < AHEAD; i++) await wire.send(byte(d));
    for (let outstanding = AHEAD; outstanding > 0; outstanding--) {
      const { line } = await wire.answer();
      if (line !== told(d)) wrong.push(line);
      if (!wire.pushes.includes(`* DONE ${NAME}`)) {
        await wire.send(byte(d));
        outstanding++;
      }
    }
    return wrong;
  };
  // Landing moves the bytes from the part file to the file's own name, then the holding follows them: a
  // request in between must not miss them. That moment is short: watched by several connections, over
  // several downloads.
  for (let round = 1; round <= 5; round++) {
    await using d = await downloading(data);
    await using stack = new AsyncDisposableStack();
    const wires: PeerWire[] = [];
    for (let i = 0; i < 6; i++) {
      const wire = stack.use(await PeerWire.connect(d.peer.addr.port));
      assert.equal((await wire.ask(`HAVE ${NAME}\n`)).line, `200 HAVE ${data.length} ${sha256(data)} 3`);
      await wire.push(`* HAVE ${d.first} ${NAME}`);
      wires.push(wire);
    }

    const hammering = Promise.all(wires.map((wire) => hammer(d, wire)));
    d.gate.open();

    const wrong = (await hammering).flat();
    assert.deepEqual(wrong, [], `round ${round}: ${wrong.length} answers were not the chunk told: ${wrong[0]}`);
    const [outcome] = (await d.sending).outcomes;
    assert.ok(outcome.ok, JSON.stringify(outcome));
  }
});

Deno.test("partial holders: a partial holding answers RANGE over a missing chunk 425, GET 404, HASHES 200 with every chunk hash, RANGE past the end 416", async () => {
  const data = randomBytes(4 * MiB + 100, 25);
  const [size, sha] = [data.length, sha256(data)];
  await using d = await downloading(data);
  await using wire = await PeerWire.connect(d.peer.addr.port);
  // The chunk held and a neighbour that is not: one RANGE over both.
  const missing = d.first < 4 ? d.first + 1 : d.first - 1;
  const from = Math.min(d.first, missing) * MiB;

  const across = await wire.ask(`RANGE ${from} ${2 * MiB} ${NAME}\n`);
  assert.match(across.line, new RegExp(`^425 not here yet: chunk ${missing} of "${NAME}" has not arrived`));
  const whole = await wire.ask(`RANGE 0 * ${NAME}\n`);
  assert.match(whole.line, new RegExp(`^425 not here yet: chunk ${d.first === 0 ? 1 : 0} of "${NAME}"`));
  const hashes = await wire.ask(`HASHES ${NAME}\n`);
  assert.equal(hashes.line, `200 HASHES ${size} ${sha} ${MiB} 5`);
  assert.deepEqual(hashes.lines, chunkHashes(data));
  const past = await wire.ask(`RANGE ${size + 1} 1 ${NAME}\n`);
  assert.equal(past.line, `416 offset ${size + 1} is past the end (${size} bytes)`);
  const held = await wire.ask(rangeOf(data, d.first, NAME));
  assert.deepEqual([held.line.split(" ")[0], held.body], ["206", chunkOf(data, d.first)], "and the chunk it has");

  await using getter = await PeerWire.connect(d.peer.addr.port);
  assert.equal((await getter.ask(`GET ${NAME}\n`)).line, `404 no file "${NAME}"`);
  await getter.closed();
});

Deno.test("partial holders: a seed rations a chunk among crowd members (425 while it is being sent, and after), never a connection that did not ask HAVE", async () => {
  const data = randomBytes(4 * MiB, 26);
  // 8 MiB/s: a chunk takes 125 ms to send, time enough to ask for it again meanwhile.
  await using seed = await servingFolder({ [NAME]: data }, { maxUploadRate: 8 * MiB });
  await using first = await PeerWire.connect(seed.port);
  await using second = await PeerWire.connect(seed.port);
  await using outsider = await PeerWire.connect(seed.port);
  for (const member of [first, second]) {
    assert.equal((await member.ask(`HAVE ${NAME}\n`)).line, `200 HAVE ${data.length} ${sha256(data)} 4`);
    await member.push(`* DONE ${NAME}`);
  }
  const rationed = (when: string) =>
    new RegExp(
      `^425 chunk 2 of "${NAME}" ${when}; fetch it from the peers that have it, or ask again in \\d+\\.\\d s$`,
    );

  await first.send(rangeOf(data, 2, NAME));
  assert.match(await first.begun(), /^206 /);
  assert.match((await second.ask(rangeOf(data, 2, NAME))).line, rationed("is being sent to another peer"));
  const meanwhile = await outsider.ask(rangeOf(data, 2, NAME));
  assert.deepEqual([meanwhile.line.split(" ")[0], meanwhile.body], ["206", chunkOf(data, 2)], "not of the crowd");
  assert.deepEqual((await first.answer()).body, chunkOf(data, 2));
  assert.match((await second.ask(rangeOf(data, 2, NAME))).line, rationed("went to another peer \\d+\\.\\d s ago"));

  // Only that chunk, only to the others, only asked alone.
  for (
    const [who, request, bytes] of [
      [second, rangeOf(data, 3, NAME), chunkOf(data, 3)],
      [first, rangeOf(data, 2, NAME), chunkOf(data, 2)],
      [outsider, rangeOf(data, 2, NAME), chunkOf(data, 2)],
      [second, `RANGE ${2 * MiB} ${2 * MiB} ${NAME}\n`, data.subarray(2 * MiB)],
    ] as const
  ) {
    const answer = await who.ask(request);
    assert.deepEqual([answer.line.split(" ")[0], answer.body], ["206", bytes], request);
  }
  assert.deepEqual(seed.events.of("refused").map((e) => e.status), [425, 425]);
});

// ---------------------------------------------------------------------------
// Leaving and withdrawing

Deno.test("partial holders: the tracker forgets a partial holding when its peer leaves mid-download", async () => {
  const data = randomBytes(3 * MiB, 27);
  await using d = await downloading(data);
  using asker = await LineClient.connect(d.tracker.addr.port);
  const holder = `200-HOLDER ${d.seed.address} ${data.length} ${hashToken(data)} ${NAME}`;
  assert.deepEqual(await lookUp(asker), [
    holder,
    `200-PARTIAL ${d.peer.address} ${data.length} ${hashToken(data)} ${NAME}`,
    "200 END 1 found, 0 not found",
  ]);

  await d.peer.close();

  const left = await d.tracker.events.next("left", (e) => e.peer === d.peer.address);
  assert.equal(left.partial, 1, "it still held it in part as it left");
  assert.deepEqual(await lookUp(asker), [holder, "200 END 1 found, 0 not found"]);
  const [outcome] = (await d.sending).outcomes;
  assert.equal(outcome.ok, false);
});

Deno.test("partial holders: a cancelled download withdraws: watchers get `* GONE`, the tracker forgets it, its chunks are no longer served", async () => {
  const data = randomBytes(3 * MiB + 1, 28);
  const cancel = new AbortController();
  await using d = await downloading(data, { signal: cancel.signal });
  await using wire = await PeerWire.connect(d.peer.addr.port);
  using asker = await LineClient.connect(d.tracker.addr.port);
  assert.equal((await wire.ask(`HAVE ${NAME}\n`)).line, `200 HAVE ${data.length} ${sha256(data)} 4`);
  await wire.push(`* HAVE ${d.first} ${NAME}`);

  cancel.abort();

  await wire.push(`* GONE ${NAME}`);
  const [outcome] = (await d.sending).outcomes;
  assert.equal(outcome.ok, false);
  await d.tracker.events.next("announced", (e) => e.peer === d.peer.address && e.removed === 1);
  assert.deepEqual(await lookUp(asker), [
    `200-HOLDER ${d.seed.address} ${data.length} ${hashToken(data)} ${NAME}`,
    "200 END 1 found, 0 not found",
  ]);
  assert.equal((await wire.ask(rangeOf(data, d.first, NAME))).line, `404 no file "${NAME}"`);
});

Deno.test("partial holders: a peer that closes mid-download tells its watchers `* GONE`, then that it is stopping", async () => {
  const data = randomBytes(2 * MiB + 5, 29);
  await using d = await downloading(data);
  const wire = await PeerWire.connect(d.peer.addr.port);
  try {
    assert.equal((await wire.ask(`HAVE ${NAME}\n`)).line, `200 HAVE ${data.length} ${sha256(data)} 3`);
    await wire.push(`* HAVE ${d.first} ${NAME}`);

    const closing = d.peer.close();

    const stopping = await wire.answer(); // unasked: the peer stops while this connection waits
    assert.match(stopping.line, /^503 the peer at 127\.0\.0\.1:\d+ is stopping; try another holder$/);
    assert.deepEqual(wire.pushes, [`* HAVE ${d.first} ${NAME}`, `* GONE ${NAME}`], "GONE came first");
    await wire[Symbol.asyncDispose](); // the peer waits for us to hang up after its 503 (or 1 s)
    await closing;
  } finally {
    await wire[Symbol.asyncDispose]();
  }
});
