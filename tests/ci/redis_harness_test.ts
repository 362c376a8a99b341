/**
 * The Redis test harness (`tests/helpers/redis.ts`) against real
 * `redis-server` processes: a standalone server that `npm:ioredis` and
 * `redis-cli` both reach, that refuses once killed and comes back empty; a
 * cluster of three masters that share the keys out and pass on a
 * published message. `ioredis` is loaded the way the tracker loads it, by
 * a specifier the module graph cannot see, so that nothing is fetched
 * unless a test here runs. Without `redis-server` (or without the
 * permissions `ioredis` needs) the tests are skipped, saying so in their
 * names.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { Cluster, Redis } from "ioredis";
import { within } from "../helpers/events.ts";
import { type RedisNode, redisSkipReason, redisTestName, startRedis, startRedisCluster } from "../helpers/redis.ts";

/** What the tests of a client need (ioredis loads), and what the harness alone needs. */
const CLIENT = { client: true };
const WAIT = { timeoutMs: 5_000 };

/**
 * Commands fail at once while the server is away (no offline queue, no
 * retry) and reconnecting starts at once; `disconnect()` lets go of a
 * socket at the next tick instead of after ioredis's 2 s grace timer, which
 * `disconnect()` starts even when the socket is already gone (while
 * reconnecting) and which the sanitizers would count as a leak.
 */
const FAIL_FAST = { enableOfflineQueue: false, maxRetriesPerRequest: 0, retryStrategy: () => 20, disconnectTimeout: 0 };

/** `npm:ioredis`, through a specifier that `deno run` cannot see ahead of time, so it is fetched only when asked for. */
async function ioredis(): Promise<typeof import("ioredis")> {
  const specifier = "ioredis";
  return await import(specifier);
}

/** Closes `client` whatever its state: `QUIT` when it is ready, else drops the socket and lets ioredis's timer of 0 ms run. */
async function close(client: Redis | Cluster): Promise<void> {
  if (client.status === "ready") {
    try {
      await client.quit();
      return;
    } catch { /* the server went away meanwhile: drop it */ }
  }
  client.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

/**
 * The arguments of `client`'s next `event`. (Not `events.once`, which rejects on an "error" event, as ioredis
 * emits for every failed reconnect attempt.)
 */
function next(client: Redis | Cluster, event: string): Promise<unknown[]> {
  return new Promise((resolve) => client.once(event, (...args: unknown[]) => resolve(args)));
}

/** Resolves when `client` is ready (now, or at its next "ready"). */
async function ready(client: Redis | Cluster): Promise<void> {
  if (client.status !== "ready") await within(`ioredis "ready"`, next(client, "ready"), WAIT);
}

/** Which master holds each slot, from `CLUSTER NODES` (`<id> <ip:port@bus> <flags> ... <from>-<to>...`): slot → port. */
async function slotOwners(node: RedisNode): Promise<(slot: number) => number | undefined> {
  const ranges: { from: number; to: number; port: number }[] = [];
  for (const line of (await node.cli(["CLUSTER", "NODES"])).trim().split("\n")) {
    const fields = line.split(" ");
    const port = Number(fields[1].split(/[:@]/)[1]);
    for (const range of fields.slice(8)) {
      const [from, to = from] = range.split("-").map(Number);
      ranges.push({ from, to, port });
    }
  }
  return (slot) => ranges.find((range) => range.from <= slot && slot <= range.to)?.port;
}

Deno.test({
  name: redisTestName("redis harness: a server answers PING on a free loopback port, and refuses after stop()"),
  ignore: redisSkipReason() !== undefined,
  fn: async () => {
    const redis = await startRedis();
    try {
      assert.equal(redis.url, `redis://127.0.0.1:${redis.port}`);
      assert.equal((await redis.cli(["PING"])).trim(), "PONG");
      assert.equal((await redis.cli(["CONFIG", "GET", "save"])).trim(), "save");
    } finally {
      await redis.stop();
    }
    await redis.stop(); // twice is fine
    assert.equal(redis.running, false);
    await assert.rejects(redis.cli(["PING"]), /Connection refused/);
  },
});

Deno.test({
  name: redisTestName(
    "redis harness: ioredis and redis-cli reach one server; killed it refuses, restarted it is empty",
    CLIENT,
  ),
  ignore: redisSkipReason(CLIENT) !== undefined,
  fn: async () => {
    await using redis = await startRedis();
    const { Redis } = await ioredis();
    const client = new Redis(redis.url, FAIL_FAST);
    client.on("error", () => {}); // reconnect attempts while it is down; the commands' own rejections are asserted
    try {
      await ready(client);
      assert.equal(await client.set("greeting", "hello"), "OK");
      assert.equal(await client.get("greeting"), "hello");
      assert.equal((await redis.cli(["GET", "greeting"])).trim(), "hello");

      await redis.kill();
      assert.equal(redis.running, false);
      await assert.rejects(redis.cli(["PING"]), /Connection refused/);
      await assert.rejects(client.get("greeting"));

      await redis.restart();
      assert.equal(redis.running, true);
      await ready(client);
      assert.equal(await client.get("greeting"), null);
      assert.equal((await redis.cli(["DBSIZE"])).trim(), "0");
    } finally {
      await close(client);
    }
  },
});

Deno.test({
  name: redisTestName("redis harness: a message published on one connection reaches a subscriber on another", CLIENT),
  ignore: redisSkipReason(CLIENT) !== undefined,
  fn: async () => {
    await using redis = await startRedis();
    const { Redis } = await ioredis();
    const client = new Redis(redis.url, FAIL_FAST);
    const subscriber = client.duplicate();
    try {
      await ready(client);
      await ready(subscriber);
      const message = next(subscriber, "message");
      assert.equal(await subscriber.subscribe("swarm"), 1);
      assert.equal(await client.publish("swarm", "peer joined"), 1);
      assert.deepEqual(await within("the published message", message, WAIT), ["swarm", "peer joined"]);
    } finally {
      await Promise.all([close(client), close(subscriber)]);
    }
  },
});

Deno.test({
  name: redisTestName(
    "redis harness: a cluster of 3 masters holds keys of different names on different masters",
    CLIENT,
  ),
  ignore: redisSkipReason(CLIENT) !== undefined,
  fn: async () => {
    await using cluster = await startRedisCluster({ masters: 3 });
    assert.equal(cluster.url, `redis-cluster://${cluster.nodes.map((node) => node.address).join(",")}`);
    for (const node of cluster.nodes) {
      assert.ok(node.port < 55_536, `port ${node.port} leaves no room for its cluster bus`);
      assert.match(await node.cli(["CLUSTER", "INFO"]), /cluster_state:ok/);
    }
    const { Cluster } = await ioredis();
    const client = new Cluster([...cluster.seeds], { enableOfflineQueue: false, redisOptions: FAIL_FAST });
    const subscriber = client.duplicate();
    try {
      await ready(client);
      assert.equal(client.nodes("master").length, 3);

      const keys = Array.from({ length: 12 }, (_, i) => `peer:${i}`);
      for (const key of keys) assert.equal(await client.set(key, key), "OK");
      const ownerOf = await slotOwners(cluster.nodes[0]);
      const owners = new Set<number>();
      for (const key of keys) {
        const slot = Number(await client.cluster("KEYSLOT", key));
        const owner = ownerOf(slot);
        assert.ok(owner !== undefined, `no master holds slot ${slot}`);
        assert.equal((await cluster.cli(owner, ["GET", key])).trim(), key, `${key} (slot ${slot}) is not on ${owner}`);
        owners.add(owner);
      }
      assert.deepEqual([...owners].sort((a, b) => a - b), cluster.nodes.map((node) => node.port).sort((a, b) => a - b));
      const sizes = await Promise.all(cluster.nodes.map(async (node) => Number(await node.cli(["DBSIZE"]))));
      assert.equal(sizes.reduce((sum, size) => sum + size, 0), keys.length);

      // A message published on any node reaches a subscriber wherever it is connected.
      await ready(subscriber);
      const message = next(subscriber, "message");
      await subscriber.subscribe("swarm");
      await cluster.cli(cluster.nodes[2].port, ["PUBLISH", "swarm", "peer joined"]);
      assert.deepEqual(await within("the published message", message, WAIT), ["swarm", "peer joined"]);
    } finally {
      await Promise.all([close(client), close(subscriber)]);
    }
    await cluster.stop();
    for (const node of cluster.nodes) await assert.rejects(node.cli(["PING"]), /Connection refused/);
  },
});
