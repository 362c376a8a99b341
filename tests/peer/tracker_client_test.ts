/**
 * `peer/tracker_client.ts`: a peer's one persistent connection to the
 * tracker, against a real tracker on loopback (and a silent listener for
 * the timeout). Requests round-trip names that need encoding; `wait()`
 * watches only the names nobody holds and resolves them on `FOUND` or
 * `EXPIRED`; a tracker that closes is known at once (`closed`, pending
 * requests and arrivals rejected); one that never answers fails the request
 * at the timeout, measured on the client's clock, and closes the client.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol.ts";
import { ConnectionClosedError, NotATrackerError, TrackerUnreachableError } from "../../io/errors.ts";
import { Secret } from "../../io/secret.ts";
import { BufferedReader } from "../../io/reader.ts";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { ManualClock, settle, settled } from "../helpers/clock.ts";
import { within } from "../helpers/events.ts";
import { deadAddress, LineClient } from "../helpers/net.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { fileLinesAt } from "../helpers/tracker_index.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);

Deno.test("tracker client: a tracker that never answers fails the request at the timeout, not before, then the client is closed", async () => {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const clock = new ManualClock();
  try {
    await using client = await TrackerClient.connect(`127.0.0.1:${listener.addr.port}`, { timeoutMs: 200, clock });
    const peers = client.peers();
    peers.catch(() => {}); // looked at below
    // The request is out (the deadline counts from its last byte written): the tracker got it, and says nothing.
    assert.equal(await new BufferedReader(await accepted).readLine(), "PEERS");
    await settle();
    await clock.advance(199);
    assert.equal(await settled(peers), false, "still waiting 1 ms before the timeout");
    assert.equal(client.open, true);
    await clock.advance(1);
    await assert.rejects(peers, /did not answer within 0\.2 s/);
    assert.equal(client.open, false);
    assert.equal(await client.closed, "the tracker did not answer within 0.2 s");
    await assert.rejects(
      client.peers(),
      (e: unknown) => e instanceof ConnectionClosedError && /closed/.test(e.message),
    );
  } finally {
    (await accepted).close();
    listener.close();
  }
});

Deno.test("tracker client: learns at once that the tracker closed; requests after it fail", async () => {
  const tracker = testTracker();
  await using client = await TrackerClient.connect(tracker.address);
  await tracker.close();
  assert.equal(await within("closed", client.closed), "the tracker closed the connection");
  assert.equal(client.open, false);
  await assert.rejects(() => client.send(["x"]), /closed/);
});

Deno.test("tracker client: add() and remove() round-trip names that need encoding", async () => {
  await using tracker = testTracker();
  await using client = await TrackerClient.connect(tracker.address);
  const names = ["a, b.txt", "100%.txt", "früh stück ☕.txt"];
  assert.equal(
    await client.add(7001, names.map((name, i) => ({ name, size: i + 1, sha256: SHA_A }))),
    "indexed 3 files as 127.0.0.1:7001 (3 new, 3 in all)",
  );
  assert.deepEqual((await tracker.store.peers()).map((p) => [p.address, p.files]), [["127.0.0.1:7001", 3]]);
  assert.equal(await client.remove([names[0], names[2], "nope.txt"]), "removed 2 of 3 files (1 left)");
  assert.deepEqual(await fileLinesAt(tracker, "127.0.0.1:7001"), ["100%.txt 2 a"]);
  const { lookups } = await client.send(names);
  assert.deepEqual(lookups.map((l) => [l.name, l.status]), [["a, b.txt", 404], ["100%.txt", 200], [names[2], 404]]);
  await assert.rejects(client.remove(["../x"]), (e: unknown) => e instanceof ProtocolError && e.status === 400);
});

Deno.test("tracker client: wait() watches only the names not held; FOUND and EXPIRED resolve them", async () => {
  const clock = new ManualClock();
  await using tracker = testTracker({ clock });
  using holder = await LineClient.connect(tracker.addr.port);
  await holder.ask(`UPDATE 5001 1\n3 ${SHA_A} have.txt\n`);
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
  await holder.ask(`ADD 5001 1\n4 ${SHA_B} want%2C it.txt\n`);
  assert.equal(await reply.arrivals.get("want, it.txt"), "FOUND");
  // The tracker's wait lasts 1 s of its clock.
  const never = reply.arrivals.get("never.txt")!;
  await clock.advance(999);
  assert.equal(await settled(never), false, "not expired before its time");
  await clock.advance(1);
  assert.equal(await never, "EXPIRED");
  const again = await client.send(["want, it.txt"]);
  assert.equal(again.lookups[0].holders[0].size, 4);
  assert.equal((await tracker.stats()).waiting, 0);
});

Deno.test("tracker client: closing the tracker rejects pending arrivals with ConnectionClosedError", async () => {
  await using tracker = testTracker();
  await using client = await TrackerClient.connect(tracker.address);
  const { arrivals } = await client.wait(["a.txt", "b.txt"], 60);
  assert.equal((await tracker.stats()).waiting, 2);
  const rejected = Promise.all([...arrivals.values()].map((p) => assert.rejects(p, ConnectionClosedError)));
  await tracker.close();
  await rejected;
  assert.equal((await tracker.stats()).waiting, 0);
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
    await using tracker = testTracker();
    await using client = await TrackerClient.connect(tracker.address);
    const { arrivals } = await client.wait(["dup.txt", "dup.txt"], 60);
    assert.deepEqual([...arrivals.keys()], ["dup.txt"]);
    const all = Promise.allSettled(arrivals.values());
    await tracker.close();
    await all;
    await client.closed;
    // Unhandled rejections are told once the current task's microtasks are done: let one task pass.
    await settle();
  } finally {
    globalThis.removeEventListener("unhandledrejection", onUnhandled);
  }
  assert.deepEqual(unhandled.map(String), []);
});

Deno.test("tracker client: stats() parses STATS; sessions and peers drop as sessions leave", async () => {
  await using tracker = testTracker();
  await using client = await TrackerClient.connect(tracker.address);
  await client.update(7001, [{ name: "x.txt", size: 1, sha256: SHA_A }]);
  {
    await using other = await TrackerClient.connect(tracker.address);
    await other.add(7002, [{ name: "x.txt", size: 1, sha256: SHA_A }, { name: "y.txt", size: 2, sha256: SHA_B }]);
    const stats = await client.stats();
    assert.deepEqual([stats.sessions, stats.peers, stats.files, stats.holders, stats.requests], [2, 2, 2, 3, 3]);
    other.close();
    await tracker.events.next("left", (e) => e.peer === "127.0.0.1:7002");
  }
  const stats = await client.stats();
  assert.deepEqual([stats.sessions, stats.peers, stats.files, stats.holders, stats.requests], [1, 1, 1, 1, 4]);
});

Deno.test("tracker client: quit says goodbye and the tracker forgets the peer; the client is closed after it", async () => {
  await using tracker = testTracker();
  const client = await TrackerClient.connect(tracker.address);
  await client.update(7003, [{ name: "q.txt", size: 1, sha256: SHA_A }]);
  await client.quit();
  assert.equal(client.open, false);
  assert.equal(await client.closed, "closed by this side");
  const left = await tracker.events.next("left", (e) => e.peer === "127.0.0.1:7003");
  assert.equal(left.files, 1);
  assert.equal(left.reason, undefined, "it left, it was not dropped");
  assert.deepEqual(await tracker.store.holders("q.txt", 10), []);
  await client.quit(); // idempotent
});

Deno.test("tracker client: a tracker nobody runs is named, with why and what to do", async () => {
  const address = deadAddress();
  const error = await TrackerClient.connect(address).then(() => undefined, (e) => e);
  assert.ok(error instanceof TrackerUnreachableError, String(error));
  assert.equal(
    error.message,
    `cannot reach the tracker at ${address} (connection refused); is it running? ` +
      "start one with 'deno task tracker' or point --tracker at it",
  );
  assert.deepEqual([error.address, error.reason], [address, "connection refused"]);
  assert.ok(error.cause instanceof Deno.errors.ConnectionRefused, "the original error is the cause");
});

Deno.test("tracker client: pointed at a peer, every request fails saying it is a peer, not a tracker", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "a.txt": "a" });
  const notATracker = `${peer.address} is a peer, not a tracker; point --tracker at the tracker (default port 4444)`;
  // get and cat ask first (SEND, PEERS); a peer's role announces first (UPDATE and its lines).
  for (const ask of [(c: TrackerClient) => c.send(["a.txt"]), (c: TrackerClient) => c.peers(), announce]) {
    await using client = await TrackerClient.connect(peer.address, { timeoutMs: 5_000 });
    const isPeer = (e: unknown) =>
      e instanceof NotATrackerError && e instanceof ConnectionClosedError && e.message === notATracker &&
      e.address === peer.address;
    await assert.rejects(ask(client), isPeer);
    assert.equal(await client.closed, notATracker);
    await assert.rejects(client.send(["a.txt"]), isPeer, "and every request after it");
  }
});

Deno.test("tracker client: pointed with --secret at a peer without one, connecting says it is a peer, not a tracker", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "a.txt": "a" });
  const secret = await Secret.from("s3cret");
  await assert.rejects(
    TrackerClient.connect(peer.address, { timeoutMs: 5_000, secret }),
    (e: unknown) =>
      e instanceof NotATrackerError &&
      e.message === `${peer.address} is a peer, not a tracker; point --tracker at the tracker (default port 4444)`,
  );
});

Deno.test("tracker client: a tracker that needs the secret is named, with the flag and the variable that give it", async () => {
  await using tracker = testTracker({ secret: await Secret.from("s3cret") });
  await using client = await TrackerClient.connect(tracker.address, { timeoutMs: 5_000 });
  await assert.rejects(client.send(["a.txt"]), {
    message: `the tracker at ${tracker.address} needs the shared secret (--secret); ` +
      "give the tracker's secret with --secret or P2P_SECRET",
  });
});

/** Announces one file, as a peer's role does first. */
function announce(client: TrackerClient): Promise<string> {
  return client.update(5555, [{ name: "a.txt", size: 1, sha256: SHA_A }]);
}
