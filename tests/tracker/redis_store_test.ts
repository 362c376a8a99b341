/**
 * Trackers sharing one index in a real `redis-server` (and a real Redis
 * Cluster of three masters), over real loopback sockets: a file announced
 * through one tracker is found through any other; `PEERS`, `LIST`, `STATS`
 * and `REPORT` see the whole index; `WAIT` on one tracker is told of an
 * announcement on another; a session that ends takes its files out at once;
 * Redis killed makes lookups fail at once with a `503` naming the store, and
 * when it comes back empty the trackers write their sessions' files back.
 * Skipped, saying so, where `redis-server` is missing.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Status } from "../../protocol.ts";
import { startTrackerWithHttp, type Tracker, type TrackerEvent, type TrackerOptions } from "../../tracker.ts";
import { ManualClock } from "../helpers/clock.ts";
import { eventually, within } from "../helpers/events.ts";
import { announcement, LineClient, texts } from "../helpers/net.ts";
import { redisSkipReason, redisTestName, startRedis, startRedisCluster } from "../helpers/redis.ts";

const CLIENT = { client: true };
const ignore = redisSkipReason(CLIENT) !== undefined;
const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
let prefixes = 0;

/** `n` trackers on the store at `url`, under a key prefix of this test's own. */
async function trackersOn(url: string, n: number, options: Partial<TrackerOptions> = {}): Promise<Tracker[]> {
  const storePrefix = `t${Deno.pid}-${++prefixes}:`;
  const trackers: Tracker[] = [];
  for (let i = 0; i < n; i++) {
    trackers.push(await startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, store: url, storePrefix, ...options }));
  }
  return trackers;
}

async function closeAll(trackers: Tracker[]): Promise<void> {
  await Promise.all(trackers.map((t) => t.close()));
}

/** The holders' addresses of `name` in a `SEND` reply (whole and partial). */
async function holdersVia(tracker: Tracker, name: string): Promise<string[]> {
  using client = await LineClient.connect(tracker.addr.port);
  const reply = await client.ask(`SEND ${name}\n`);
  return reply.filter((l) => l.status === Status.OK && l.more).map((l) => l.text.split(" ")[1]).sort();
}

Deno.test({
  name: redisTestName(
    "redis store: three trackers share one index: SEND, PEERS, LIST and STATS through any of them",
    CLIENT,
  ),
  ignore,
  async fn() {
    await using redis = await startRedis();
    const [a, b, c] = await trackersOn(redis.url, 3);
    try {
      using onA = await LineClient.connect(a.addr.port);
      using onB = await LineClient.connect(b.addr.port);
      assert.equal(
        (await onA.ask(announcement("UPDATE", 6001, [[3, SHA_A, "a.txt"], [5, SHA_B, "b.txt"]])))[0].status,
        Status.OK,
      );
      assert.equal((await onB.ask(announcement("UPDATE", 6002, [[3, SHA_A, "a.txt"]])))[0].status, Status.OK);

      using onC = await LineClient.connect(c.addr.port);
      const send = texts(await onC.ask("SEND a.txt, b.txt, nope.txt\n"));
      assert.deepEqual(send, [
        `200-HOLDER 127.0.0.1:6001 3 ${SHA_A} a.txt`,
        `200-HOLDER 127.0.0.1:6002 3 ${SHA_A} a.txt`,
        `200-HOLDER 127.0.0.1:6001 5 ${SHA_B} b.txt`,
        "404-NOTFOUND nope.txt",
        "200 END 2 found, 1 not found",
      ]);
      assert.deepEqual(await holdersVia(c, "a.txt"), ["127.0.0.1:6001", "127.0.0.1:6002"]);
      assert.deepEqual(await holdersVia(b, "b.txt"), ["127.0.0.1:6001"]);

      const peers = texts(await onC.ask("PEERS\n"));
      assert.deepEqual(peers, ["200-PEER 127.0.0.1:6001 2", "200-PEER 127.0.0.1:6002 1", "200 END 2 peers"]);

      const list = texts(await onB.ask("LIST\n"));
      assert.deepEqual(list.slice(0, 2), [`200-FILE 3 ${SHA_A} 2 a.txt`, `200-FILE 5 ${SHA_B} 1 b.txt`]);

      const stats = await c.stats();
      assert.deepEqual(
        { peers: stats.peers, files: stats.files, holders: stats.holders, sessions: stats.sessions },
        { peers: 2, files: 2, holders: 3, sessions: 1 },
      );
    } finally {
      await closeAll([a, b, c]);
    }
  },
});

Deno.test({
  name: redisTestName("redis store: a session that ends takes its files out of every tracker's view at once", CLIENT),
  ignore,
  async fn() {
    await using redis = await startRedis();
    const [a, b] = await trackersOn(redis.url, 2);
    try {
      const onA = await LineClient.connect(a.addr.port);
      using onB = await LineClient.connect(b.addr.port);
      await onA.ask(announcement("UPDATE", 6001, [[3, SHA_A, "a.txt"]]));
      await onB.ask(announcement("UPDATE", 6002, [[3, SHA_A, "a.txt"], [5, SHA_B, "only-b.txt"]]));
      assert.deepEqual(await holdersVia(b, "a.txt"), ["127.0.0.1:6001", "127.0.0.1:6002"]);
      onA[Symbol.dispose]();
      await eventually("a's session is gone", async () => (await a.stats()).sessions === 0);
      assert.deepEqual(await holdersVia(b, "a.txt"), ["127.0.0.1:6002"]);
      // REMOVE through b shows through a.
      await onB.ask("REMOVE 1\nonly-b.txt\n");
      assert.deepEqual(await holdersVia(a, "only-b.txt"), []);
      assert.equal((await a.stats()).files, 1);
    } finally {
      await closeAll([a, b]);
    }
  },
});

Deno.test({
  name: redisTestName("redis store: WAIT on one tracker is told FOUND when a peer announces on another", CLIENT),
  ignore,
  async fn() {
    await using redis = await startRedis();
    const [a, b] = await trackersOn(redis.url, 2);
    try {
      using waiter = await LineClient.connect(b.addr.port);
      const first = texts(await waiter.ask("WAIT 60 later.bin\n"));
      assert.deepEqual(first, ["404-NOTFOUND later.bin", "200 END 0 found, 1 not found"]);
      assert.equal((await b.stats()).waiting, 1);
      using holder = await LineClient.connect(a.addr.port);
      await holder.ask(announcement("ADD", 6001, [[7, SHA_A, "later.bin"]]));
      const line = await within("the FOUND push", waiter.reader.readLine());
      assert.equal(line, "* FOUND later.bin");
      assert.equal((await b.stats()).waiting, 0);
      assert.deepEqual(await holdersVia(b, "later.bin"), ["127.0.0.1:6001"]);
    } finally {
      await closeAll([a, b]);
    }
  },
});

Deno.test({
  name: redisTestName("redis store: REPORTs through two trackers demote a holder everywhere", CLIENT),
  ignore,
  async fn() {
    await using redis = await startRedis();
    const [a, b, c] = await trackersOn(redis.url, 3, { demoteAfter: 2 });
    try {
      using holder = await LineClient.connect(a.addr.port);
      using good = await LineClient.connect(a.addr.port);
      await holder.ask(announcement("UPDATE", 6001, [[3, SHA_A, "a.txt"]]));
      await good.ask(announcement("UPDATE", 6002, [[3, SHA_A, "a.txt"]]));
      using r1 = await LineClient.connect(b.addr.port);
      using r2 = await LineClient.connect(c.addr.port);
      const noted = texts(await r1.ask("REPORT 127.0.0.1:6001 EHASH 0 a.txt\n"));
      assert.match(noted[0], /127\.0\.0\.1:6001/);
      assert.deepEqual(await holdersVia(a, "a.txt"), ["127.0.0.1:6001", "127.0.0.1:6002"], "one vote demotes nobody");
      const second = await r2.ask("REPORT 127.0.0.1:6001 ETIMEDOUT 0 a.txt\n");
      assert.equal(second[0].status, Status.OK);
      for (const t of [a, b, c]) assert.deepEqual(await holdersVia(t, "a.txt"), ["127.0.0.1:6002"]);
    } finally {
      await closeAll([a, b, c]);
    }
  },
});

Deno.test({
  name: redisTestName(
    "redis store: an entry whose tracker's lease ran out is never offered, and is cleaned up",
    CLIENT,
  ),
  ignore,
  async fn() {
    await using redis = await startRedis();
    const clock = new ManualClock(Date.now());
    // A tracker that stops renewing (its clock stands still) stands for one that died: nobody cleans up after it.
    const dyingClock = new ManualClock(Date.now());
    const [dying] = await trackersOn(redis.url, 1, { clock: dyingClock, leaseSeconds: 5 });
    const prefix = `t${Deno.pid}-${prefixes}:`;
    const [survivor] = await trackersOn(redis.url, 1, { clock, leaseSeconds: 5, storePrefix: prefix });
    try {
      using session = await LineClient.connect(dying.addr.port);
      await session.ask(announcement("UPDATE", 6001, [[3, SHA_A, "a.txt"]]));
      assert.deepEqual(await holdersVia(survivor, "a.txt"), ["127.0.0.1:6001"]);
      await clock.advance(4_000);
      assert.deepEqual(await holdersVia(survivor, "a.txt"), ["127.0.0.1:6001"], "within the lease");
      await clock.advance(2_000); // past it: the survivor's renewals look at the leases and clean up
      assert.deepEqual(await holdersVia(survivor, "a.txt"), [], "never offered past the lease");
      await eventually(
        "the dead tracker's entries are removed",
        async () =>
          (await redis.cli(["EXISTS", `${prefix}t:{1}`])).trim() === "0" &&
          (await redis.cli(["--scan", "--pattern", `${prefix}h:*`])).trim() === "",
      );
      assert.equal((await survivor.stats()).peers, 0);
      // It was alive after all (cut off, say): its next renewal finds its lease gone, and it writes its files back.
      await dyingClock.advance(7_000);
      await eventually(
        "the tracker taken for dead wrote its files back",
        async () => (await holdersVia(survivor, "a.txt")).length === 1,
      );
      assert.equal((await survivor.stats()).peers, 1);
    } finally {
      await closeAll([dying, survivor]);
    }
  },
});

Deno.test({
  name: redisTestName(
    "redis store: Redis killed → 503 naming the store at once; back empty → files written back",
    CLIENT,
  ),
  ignore,
  async fn() {
    await using redis = await startRedis();
    const events: TrackerEvent[] = [];
    const [a] = await trackersOn(redis.url, 1, { onEvent: (e) => events.push(e) });
    const [b] = await trackersOn(redis.url, 1, { storePrefix: `t${Deno.pid}-${prefixes}:`, httpPort: 0 });
    try {
      using onA = await LineClient.connect(a.addr.port);
      // A file of three chunks carries its root: written back with it.
      await onA.ask(announcement("UPDATE", 6001, [[3, SHA_A, "a.txt"], [3 << 20, `${SHA_A}:${SHA_B}`, "big.bin"]]));
      using onB = await LineClient.connect(b.addr.port);
      assert.equal((await onB.ask("SEND a.txt\n"))[0].status, Status.OK);
      await redis.kill();
      const started = performance.now();
      const [down] = await onB.ask("SEND a.txt\n");
      assert.equal(down.status, Status.BUSY);
      assert.match(down.text, new RegExp(`index store ${redis.url.replaceAll(".", "\\.")}`));
      assert.ok(performance.now() - started < 1_500, "it fails fast, not after a long wait");
      assert.equal((await onB.ask("PING\n"))[0].text, "PONG", "the session stays open");
      const web = await fetch(`http://127.0.0.1:${b.http!.port}/api/stats`);
      assert.equal(web.status, 503, "the HTTP face says so too, as a status a client may retry");
      assert.match((await web.json()).error, /index store/);
      await redis.restart(); // empty: no persistence
      await eventually("a's files are back in Redis", async () => {
        const [line] = await onB.ask("SEND a.txt\n");
        return line.status === Status.OK && line.more;
      }, { timeoutMs: 10_000 });
      assert.deepEqual(await holdersVia(a, "a.txt"), ["127.0.0.1:6001"]);
      assert.deepEqual(texts(await onB.ask("SEND big.bin\n")), [
        `200-HOLDER 127.0.0.1:6001 ${3 << 20} ${SHA_A}:${SHA_B} big.bin`,
        "200 END 1 found, 0 not found",
      ]);
      const told = events.filter((e) => e.type === "store-lost" || e.type === "store-back");
      assert.deepEqual(told, [
        { type: "store-lost", store: redis.url, reason: "connection closed" },
        { type: "store-back", store: redis.url, rewritten: 2 },
      ]);
    } finally {
      await closeAll([a, b]);
    }
  },
});

Deno.test({
  name: redisTestName(
    "redis store: a three-master Redis Cluster spreads the index; SEND, LIST pages and WAIT work",
    CLIENT,
  ),
  ignore,
  async fn() {
    await using cluster = await startRedisCluster({ masters: 3 });
    const [a, b] = await trackersOn(cluster.url, 2);
    try {
      using onA = await LineClient.connect(a.addr.port);
      const files: [number, string, string][] = Array.from({ length: 150 }, (_, i) => [i + 1, SHA_A, `f${i}.bin`]);
      assert.equal((await onA.ask(announcement("UPDATE", 6001, files)))[0].status, Status.OK);
      for (const node of cluster.nodes) {
        const keys = Number((await node.cli(["DBSIZE"])).trim());
        assert.ok(keys > 10, `master ${node.address} holds ${keys} keys: the index is spread over the masters`);
      }
      assert.deepEqual(await holdersVia(b, "f42.bin"), ["127.0.0.1:6001"]);
      using onB = await LineClient.connect(b.addr.port);
      const page1 = texts(await onB.ask("LIST\n"));
      const page2 = texts(await onB.ask("LIST --page 2\n"));
      const named = (lines: string[]) => lines.filter((l) => l.startsWith("200-FILE"));
      assert.equal(named(page1).length + named(page2).length, 150, [...page1.slice(-1), ...page2.slice(-1)].join("\n"));
      using waiter = await LineClient.connect(b.addr.port);
      await waiter.ask("WAIT 60 new.bin\n");
      await onA.ask(announcement("ADD", 6001, [[9, SHA_B, "new.bin"]]));
      const line = await within("the FOUND push", waiter.reader.readLine());
      assert.equal(line, "* FOUND new.bin");
      assert.equal((await b.stats()).holders, 151);
    } finally {
      await closeAll([a, b]);
    }
  },
});
