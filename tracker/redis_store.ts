/**
 * The Redis store: the index kept in Redis (or a Redis Cluster), shared by
 * every tracker given the same store, so that a file announced through one
 * is found through any other. `docs/SCALING.md` tells how to run it and
 * what happens when each part fails.
 *
 * The client is `npm:ioredis` (pinned in `deno.json`), loaded by a dynamic
 * `import()` only when a Redis store is opened: a tracker in memory loads
 * nothing third-party.
 *
 * Each tracker keeps its own sessions' entries in memory too (a
 * {@link TrackerIndex} of them): the limits are checked there, every change
 * is written to Redis as the difference it makes, and when Redis comes back
 * empty (a restart without persistence) the tracker writes them all back.
 *
 * Keys (each command touches one key; `{}` marks the part a cluster hashes):
 * - `<p>trackers`: sorted set, tracker number → when its lease runs out (ms).
 * - `<p>tracker-seq`: the last tracker number given.
 * - `<p>h:{b}:<name>`: a hash of the holders of `name`: field `<peer id>@<address>`,
 *   value `<w|p> <seq> <size> <sha256> [<root>]` (whole or partial; seq and
 *   size base 36, hashes base64url, so that an entry fits Redis's compact
 *   encoding), and field `#`, how many hold it whole. `b` is one of 256
 *   buckets, from a hash of the name: a cluster spreads the buckets over its
 *   masters, and one script call writes many names of one bucket.
 * - `<p>n:{b}`: the set of the names of bucket `b` held whole (`LIST`).
 * - `<p>t:{T}`: tracker T's peers: field `<session>` → `<address> <files>
 *   <partial> [<http port>]`, and field `#` → `<entries> <partial>`.
 * - `<p>g:{T}`: tracker T's peers' names (field `<session>` → `w<name>` or
 *   `p<name>` lines), read to clean up after a tracker that died.
 * - `<p>{fb}:s`, `<p>{fb}:v:<peer id>`: holders' scores and the votes behind them.
 * - channel `<p>events`: `A <tracker>` and the names announced, one a line;
 *   `R <tracker>` when a report was made.
 *
 * A peer's id is its tracker's number × 2^32 + its session's number. An
 * entry is offered only while its tracker's lease runs; a live tracker
 * renews it every second. When a tracker sees another's lease run out, it
 * removes that tracker's entries (once: the first to claim the clean-up).
 *
 * @module
 */

import type { Cluster, Redis } from "ioredis";
import { type FileEntry, Limits, type ListedFile, ProtocolError, Status } from "../protocol.ts";
import { type Clock, systemClock, type TimerHandle } from "../io/clock.ts";
import { HolderFeedback, type HolderScore, MAX_VOTES, rankScores } from "./feedback.ts";
import { type PeerKey, type PeerRecord, TrackerIndex } from "./file_index.ts";
import type { IndexedHolder } from "./lookup.ts";
import {
  type Announced,
  type Announcement,
  type IndexCounts,
  planAnnouncement,
  type Removed,
  removeFrom,
  type StoreEvent,
  type TrackerStore,
  type Verdict,
  type WebHolder,
} from "./store.ts";

/** Where a Redis store lives, as `--store` names it. */
export interface StoreUrl {
  /** `redis` (one server) or `redis-cluster`. */
  kind: "redis" | "redis-cluster";
  /** The server, or the cluster's seed nodes. */
  nodes: { host: string; port: number }[];
  /** The database (one server only). */
  db: number;
  /** The URL as given, for messages (it holds no password: none is accepted). */
  text: string;
}

/**
 * Reads `redis://HOST:PORT[/DB]` or `redis-cluster://HOST:PORT[,HOST:PORT...]`;
 * throws a `TypeError` saying what is wrong.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseStoreUrl("redis://127.0.0.1:6379/2").nodes, [{ host: "127.0.0.1", port: 6379 }]);
 * assert.equal(parseStoreUrl("redis-cluster://127.0.0.1:7000,127.0.0.1:7001").nodes.length, 2);
 * assert.throws(() => parseStoreUrl("mysql://x"), /redis:\/\//);
 * ```
 */
export function parseStoreUrl(text: string): StoreUrl {
  const usage = "--store must be memory, redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT[,HOST:PORT...]";
  const match = /^(redis|redis-cluster):\/\/([^/]+)(?:\/(\d+))?\/?$/.exec(text);
  if (!match) throw new TypeError(`${usage}, got ${JSON.stringify(text)}`);
  const kind = match[1] as StoreUrl["kind"];
  if (match[2].includes("@")) throw new TypeError(`--store takes no user or password (Redis AUTH is not supported)`);
  const nodes = match[2].split(",").map((item) => {
    const at = /^(\[[0-9a-fA-F:.]+\]|[^:\[\]]+):(\d{1,5})$/.exec(item.trim());
    const port = Number(at?.[2]);
    if (!at || port < 1 || port > 65_535) throw new TypeError(`${usage}: ${JSON.stringify(item)} is not HOST:PORT`);
    return { host: at[1].replace(/^\[|\]$/g, ""), port };
  });
  if (kind === "redis" && nodes.length > 1) {
    throw new TypeError(`redis:// names one server; for several use redis-cluster://, got ${JSON.stringify(text)}`);
  }
  const db = Number(match[3] ?? 0);
  if (kind === "redis-cluster" && db !== 0) throw new TypeError("a Redis Cluster has only database 0");
  return { kind, nodes, db, text };
}

/** Options of {@link openRedisStore}. */
export interface RedisStoreOptions {
  /**
   * Whose timers renew the lease, and whose time leases are counted in.
   * Default: the real clock, whose leases are written in wall-clock time
   * (`Date.now()`), which every tracker reads alike; another clock's `now()`
   * is used as it is (tests start theirs at `Date.now()`).
   */
  clock?: Clock;
  /** A holder reported failing by this many sessions (and by more than reported it working) is no longer offered. Default 2. */
  demoteAfter?: number;
  /** Most entries this tracker's sessions may announce in all. Default `Limits.MAX_INDEX_ENTRIES`. */
  maxEntries?: number;
  /** How long this tracker's entries outlive it if it dies without cleaning up, ms. Default 60 s. */
  leaseMs?: number;
  /** Prefix of every key and of the channel. Default `p2p:`. */
  prefix?: string;
  /** Told of failures no reply can carry (a write back, a clean-up). */
  onError?: (error: unknown) => void;
  /** Most time a command may take before it fails, ms. Default 5 s. */
  commandTimeoutMs?: number;
}

/** How often the lease is renewed and other trackers' leases are looked at, ms (at most; a third of the lease if shorter). */
const RENEW_MS = 1_000;
/** Buckets of names: each a hash tag of its own, so a cluster spreads them. */
const BUCKETS = 256;
/** How long a read of every name held whole serves `LIST`, ms. */
const NAMES_MS = 1_000;
/** Most names one script call writes. */
const BATCH = 500;

/**
 * Sets one peer's entries in one bucket: KEYS[1] is the bucket's set of
 * names held whole, KEYS[2..] the names' hashes. ARGV: the field, the
 * length of the hash keys' part before the name (in bytes), then each
 * hash's value. A new whole holder counts in its name's `#` and puts the
 * name in the bucket's set.
 */
const PUT = `
local field, skip = ARGV[1], tonumber(ARGV[2])
local names = {}
for i = 2, #KEYS do
  local value = ARGV[i + 1]
  if redis.call('HSET', KEYS[i], field, value) == 1 and string.byte(value, 1) == 119 then
    redis.call('HINCRBY', KEYS[i], '#', 1)
    names[#names + 1] = string.sub(KEYS[i], skip + 1)
  end
end
if #names > 0 then redis.call('SADD', KEYS[1], unpack(names)) end
return 0`;

/** Takes one peer's entries out of one bucket. KEYS and the first two ARGV as {@link PUT}'s. */
const DROP = `
local field, skip = ARGV[1], tonumber(ARGV[2])
for i = 2, #KEYS do
  local old = redis.call('HGET', KEYS[i], field)
  if old then
    redis.call('HDEL', KEYS[i], field)
    if string.byte(old, 1) == 119 and redis.call('HINCRBY', KEYS[i], '#', -1) <= 0 then
      redis.call('SREM', KEYS[1], string.sub(KEYS[i], skip + 1))
    end
    -- Nobody left but the count: the name's hash goes.
    if redis.call('HLEN', KEYS[i]) == 1 and redis.call('HEXISTS', KEYS[i], '#') == 1 then redis.call('DEL', KEYS[i]) end
  end
end
return 0`;

/** Raises the counter KEYS[1] to ARGV[1] if it is lower (tracker numbers stay unique after Redis lost the counter). */
const AT_LEAST = `
if tonumber(redis.call('GET', KEYS[1]) or '0') < tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) end
return 0`;

/** The scripts, as ioredis's `defineCommand` adds them to a client. */
interface Scripts {
  p2pPut(keys: number, ...args: string[]): Promise<number>;
  p2pDrop(keys: number, ...args: string[]): Promise<number>;
  p2pAtLeast(key: string, value: string): Promise<number>;
}
const TWO_32 = 2 ** 32;

type Client = (Redis | Cluster) & Scripts;

/** A peer's entries by name, each whole or partial. */
type Holdings = Map<string, { entry: FileEntry; partial: boolean }>;

/** One entry as stored: `pid@address` → `seq size sha [root]`. */
interface StoredHolder extends IndexedHolder {
  /** Announcement order. */
  seq: number;
}

/**
 * Connects to the Redis store `url` (loading `npm:ioredis`), registers this
 * tracker and starts renewing its lease. Throws a `ProtocolError` (503)
 * naming the store when it cannot be reached.
 */
export async function openRedisStore(url: StoreUrl, options: RedisStoreOptions = {}): Promise<RedisStore> {
  // A specifier the module graph does not see: the package is fetched and loaded only here, when asked for.
  const specifier = "ioredis";
  const ioredis = await import(specifier) as typeof import("ioredis");
  const timeout = options.commandTimeoutMs ?? 5_000;
  const common = {
    enableAutoPipelining: true,
    // A script call goes out the moment it is made, so that Redis runs the first while the rest are being built.
    autoPipeliningIgnoredCommands: ["p2pPut", "p2pDrop", "p2pAtLeast"],
    // A command while Redis is unreachable fails at once instead of waiting in a queue.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: timeout,
    connectTimeout: timeout,
    retryStrategy: (times: number) => Math.min(100 * times, 1_000),
    // disconnect() lets go at once (else a 2 s timer outlives the store).
    disconnectTimeout: 0,
    lazyConnect: true,
  };
  const make = (): Client =>
    (url.kind === "redis"
      ? new ioredis.Redis({ ...common, host: url.nodes[0].host, port: url.nodes[0].port, db: url.db })
      : new ioredis.Cluster(url.nodes, {
        enableAutoPipelining: true,
        // ioredis groups a script call by a key it reads wrongly (the key count): scripts go out on their own.
        autoPipeliningIgnoredCommands: ["p2pPut", "p2pDrop", "p2pAtLeast"],
        enableOfflineQueue: false,
        clusterRetryStrategy: (times: number) => Math.min(100 * times, 1_000),
        // The nodes' own connections are the cluster's: they queue while they connect (the first CLUSTER SLOTS goes
        // out before they are up), and commandTimeout still bounds every command.
        redisOptions: {
          commandTimeout: timeout,
          connectTimeout: timeout,
          disconnectTimeout: 0,
          maxRetriesPerRequest: 0,
        },
        lazyConnect: true,
      })) as Client;
  const client = make();
  client.defineCommand("p2pPut", { lua: PUT });
  client.defineCommand("p2pDrop", { lua: DROP });
  client.defineCommand("p2pAtLeast", { lua: AT_LEAST, numberOfKeys: 1 });
  const subscriber = make();
  const store = new RedisStore({ url, client, subscriber }, options);
  try {
    await store.start();
  } catch (error) {
    await store.close();
    const why = error instanceof ProtocolError && error.cause instanceof Error ? error.cause.message : String(error);
    throw new ProtocolError(
      Status.BUSY,
      `cannot reach the index store ${url.text} (${why.slice(0, 120)}); is redis-server running there? ` +
        "Start it, or leave --store out to keep the index in memory",
      { cause: error },
    );
  }
  return store;
}

/**
 * The index in Redis, shared by trackers. Open it with {@link openRedisStore}.
 *
 * @example
 * ```ts ignore
 * const store = await openRedisStore(parseStoreUrl("redis://127.0.0.1:6379"));
 * await store.announce({ id: store.idBase + 1, address: "10.0.0.1:5555" }, { verb: "UPDATE", files: [] });
 * await store.close();
 * ```
 */
export class RedisStore implements TrackerStore {
  readonly description: string;
  idBase = 0;
  onAnnounced?: (names: string[]) => void;
  onStoreEvent?: (event: StoreEvent) => void;
  #client: Client;
  #subscriber: Client;
  #p: string;
  #clock: Clock;
  #leaseMs: number;
  #maxEntries: number;
  #demoteAfter: number;
  #onError: (error: unknown) => void;
  /** This tracker's number. */
  #number = 0;
  /** Each bucket's hash keys' part before the name, and its length in bytes. */
  #heads: { key: string; skip: string }[];
  /** This tracker's sessions' entries. */
  #mine = new TrackerIndex();
  /** Other trackers' lease ends as last read, by number. */
  #leases = new Map<number, number>();
  #renewal: TimerHandle | undefined;
  #closed = false;
  /** A write failed: everything of this tracker is written again at the next renewal that reaches Redis. */
  #dirty = false;
  /** Someone reported on a holder: lookups read scores. */
  #feedback = false;
  #seq = 0;
  /** The connection to Redis was lost, and no renewal went through since. */
  #lost = false;
  /** The last read of every name held whole, for `LIST` (see {@link RedisStore.#allNames}). */
  #names: { at: number; names: Promise<string[]> } | undefined;
  /** The renewal under way, so that two never overlap. */
  #renewing: Promise<void> | undefined;
  /** The write-back and clean-ups under way (apart from the renewal, which they must never hold up). */
  #maintaining: Promise<void> | undefined;
  /** When the lease was last renewed, in the clock's time. */
  #renewedAt = 0;

  /** A store on connected clients; {@link openRedisStore} makes one. */
  constructor(clients: { url: StoreUrl; client: Client; subscriber: Client }, options: RedisStoreOptions = {}) {
    const { url, client, subscriber } = clients;
    this.description = url.text;
    this.#client = client;
    this.#subscriber = subscriber;
    this.#p = options.prefix ?? "p2p:";
    this.#heads = Array.from({ length: BUCKETS }, (_, b) => {
      const key = this.#key(`h:{${b}}:`);
      return { key, skip: String(new TextEncoder().encode(key).length) };
    });
    this.#clock = options.clock ?? systemClock;
    this.#leaseMs = options.leaseMs ?? 60_000;
    this.#maxEntries = options.maxEntries ?? Limits.MAX_INDEX_ENTRIES;
    this.#demoteAfter = options.demoteAfter ?? 2;
    this.#onError = options.onError ?? (() => {});
    // ioredis tells connection trouble as "error" events, and prints those nobody listens to on every retry: the
    // failures reach the callers as rejected commands instead.
    client.on("error", () => {});
    subscriber.on("error", () => {});
  }

  /** Connects, takes a tracker number, registers the lease and listens to the other trackers. */
  async start(): Promise<void> {
    await this.#call(async () => {
      await Promise.all([this.#client.connect(), this.#subscriber.connect()]);
      // A number no live tracker holds (the counter may have been lost with Redis's data, see #renew).
      for (let tries = 0; this.#number === 0; tries++) {
        const n = await this.#client.incr(this.#key("tracker-seq"));
        const until = String(this.#time() + this.#leaseMs);
        if (await this.#client.zadd(this.#key("trackers"), "NX", until, String(n)) === 1 || tries >= 100) {
          this.#number = n;
        }
      }
      this.idBase = this.#number * TWO_32;
      this.#renewedAt = this.#time();
      this.#feedback = (await this.#client.exists(`${this.#p}{fb}:s`)) > 0;
      this.#subscriber.on("messageBuffer", (_channel: Uint8Array, message: Uint8Array) => this.#heard(message));
      await this.#subscriber.subscribe(`${this.#p}events`);
      await this.#readLeases();
    });
    this.#client.on("ready", () => {
      if (this.#lost) this.#renewSoon();
    });
    // A report told while the subscriber was away is not heard: ask whether any was made.
    this.#subscriber.on("ready", () => {
      if (this.#feedback || this.#closed) return;
      this.#client.exists(this.#key("{fb}:s")).then((n) => this.#feedback ||= n > 0, () => {});
    });
    this.#client.on("close", () => {
      if (this.#lost || this.#closed) return;
      this.#lost = true;
      this.onStoreEvent?.({ type: "store-lost", store: this.description, reason: "connection closed" });
    });
    this.#schedule();
  }

  async announce(peer: PeerKey, announcement: Announcement): Promise<Announced> {
    const { verb, files } = announcement;
    const apply = planAnnouncement(this.#mine, { peer, verb, files, maxEntries: this.#maxEntries });
    const before = this.#entriesOf(peer.id);
    const old = this.#mine.peer(peer.id);
    const after: Holdings = verb === "UPDATE" ? new Map() : new Map(before);
    for (const entry of files) after.set(entry.name, { entry, partial: verb === "PARTIAL" });
    let done: Announced | undefined;
    // The entries go out first; this tracker's own copy is brought up to date while Redis writes them.
    await this.#write(peer.id, { before, after, old, address: peer.address, mirror: () => done = apply() });
    if (done!.count > 0) this.#tell(`A ${this.#number}\n${files.map((f) => f.name).join("\n")}`);
    return done!;
  }

  async remove(id: number, names: readonly string[]): Promise<Removed> {
    const before = this.#entriesOf(id);
    const old = this.#mine.peer(id);
    const removed = removeFrom(this.#mine, { id, names });
    const after = new Map(before);
    for (const name of names) after.delete(name);
    await this.#write(id, { before, after, old, address: old?.address });
    return removed;
  }

  async leave(id: number): Promise<PeerRecord | undefined> {
    const old = this.#mine.peer(id);
    if (!old) return undefined;
    const before = this.#entriesOf(id);
    this.#mine.remove(id);
    await this.#write(id, { before, after: new Map(), old, address: undefined });
    if (this.#feedback) {
      await this.#call(() =>
        Promise.all([this.#client.hdel(this.#key("{fb}:s"), String(id)), this.#client.del(this.#votesKey(id))])
      );
    }
    return old;
  }

  async lookup(name: string, asker: number): Promise<IndexedHolder[]> {
    const { whole, partial } = await this.#holdersOf(name);
    const ranked = await this.#rank(whole, Limits.MAX_HOLDERS_PER_FILE);
    const partials = (await this.#rank(partial, Infinity, true))
      .filter((h) => h.peer !== asker).slice(0, Limits.MAX_PARTIAL_HOLDERS_PER_FILE);
    return [...ranked, ...partials];
  }

  async ranked(name: string): Promise<WebHolder[]> {
    const ranked = await this.#rank((await this.#holdersOf(name)).whole, Limits.MAX_HOLDERS_PER_FILE);
    if (ranked.length === 0) return [];
    const ports = await this.#httpPorts(ranked.map((h) => h.peer));
    return ranked.map((h) => {
      const httpPort = ports.get(h.peer);
      return httpPort === undefined ? h : { ...h, httpPort };
    });
  }

  async holders(name: string, max: number): Promise<IndexedHolder[]> {
    return (await this.#holdersOf(name)).whole.slice(0, max).map(strip);
  }

  async holderOf(name: string, address: string): Promise<{ peer: number; size: number } | undefined> {
    const { whole, partial } = await this.#holdersOf(name);
    const held = [...whole, ...partial].find((h) => h.address === address);
    return held && { peer: held.peer, size: held.size };
  }

  async report(verdict: Verdict): Promise<HolderScore> {
    const { reporter, holder, outcome, bytes } = verdict;
    const votesKey = this.#votesKey(holder);
    return await this.#call(async () => {
      await this.#client.hset(votesKey, String(reporter), `${this.#nextSeq()} ${outcome} ${bytes}`);
      const votes = Object.entries(await this.#client.hgetall(votesKey)).map(([who, text]) => {
        const [seq, outcome, bytes] = text.split(" ");
        return { who: Number(who), seq: Number(seq), outcome, bytes: Number(bytes) };
      }).sort((a, b) => a.seq - b.seq);
      // The same rules as in memory, over the votes every tracker took.
      const replay = new HolderFeedback(this.#demoteAfter);
      for (const vote of votes) replay.report({ reporter: vote.who, holder, outcome: vote.outcome, bytes: vote.bytes });
      const score = replay.score(holder)!;
      const stale = votes.slice(0, Math.max(0, votes.length - MAX_VOTES)).map((v) => String(v.who));
      if (stale.length > 0) await this.#client.hdel(votesKey, ...stale);
      await this.#client.hset(this.#key("{fb}:s"), String(holder), JSON.stringify(score));
      if (!this.#feedback) {
        this.#feedback = true;
        this.#tell(`R ${this.#number}`);
      }
      return score;
    });
  }

  async peers(): Promise<PeerRecord[]> {
    const trackers = await this.#liveTrackers();
    const tables = await this.#call(() =>
      Promise.all(trackers.map((t) => this.#client.hgetall(this.#key(`t:{${t}}`))))
    );
    return tables.flatMap((table, i) =>
      Object.entries(table).filter(([session]) => session !== "#").map(([session, text]) =>
        peerRecord(trackers[i] * TWO_32 + Number(session), text)
      ).sort((a, b) => a.id - b.id)
    );
  }

  filesOf(id: number): Promise<FileEntry[]> {
    return this.#entriesOfAny(id, "w");
  }

  partialOf(id: number): Promise<FileEntry[]> {
    return this.#entriesOfAny(id, "p");
  }

  async list(text: string, page: { max: number; skip?: number }): Promise<{ files: ListedFile[]; matched: number }> {
    const { max, skip = 0 } = page;
    const needle = text.toLowerCase();
    const names = (await this.#allNames()).filter((n) => n.toLowerCase().includes(needle));
    const shown = names.slice(skip, skip + max);
    const tables = await Promise.all(shown.map((n) => this.#holdersOf(n)));
    const files: ListedFile[] = [];
    for (const [i, { whole: holders }] of tables.entries()) {
      if (holders.length === 0) continue; // its last holder left a moment ago
      const { size, sha256 } = holders[0];
      files.push({ name: shown[i], size, sha256, holders: holders.length });
    }
    return { files, matched: names.length };
  }

  /**
   * Every name held whole, sorted: read from the 256 sets at most once a
   * second ({@link NAMES_MS}), however many listings ask meanwhile, and
   * again after this tracker's own sessions changed what they hold. Another
   * tracker's change shows within that second.
   */
  #allNames(): Promise<string[]> {
    const now = this.#time();
    if (this.#names && now - this.#names.at < NAMES_MS) return this.#names.names;
    const names = this.#call(() =>
      Promise.all(Array.from({ length: BUCKETS }, (_, b) => this.#client.smembers(this.#key(`n:{${b}}`))))
    ).then((buckets) => buckets.flat().sort());
    const read = { at: now, names };
    this.#names = read;
    names.catch(() => {
      if (this.#names === read) this.#names = undefined; // a failed read is not kept
    });
    return names;
  }

  async has(name: string): Promise<boolean> {
    return (await this.holders(name, 1)).length > 0;
  }

  async counts(): Promise<IndexCounts> {
    const trackers = await this.#liveTrackers();
    const [totals, sizes, names] = await this.#call(() =>
      Promise.all([
        Promise.all(trackers.map((t) => this.#client.hget(this.#key(`t:{${t}}`), "#"))),
        Promise.all(trackers.map((t) => this.#client.hlen(this.#key(`t:{${t}}`)))),
        Promise.all(Array.from({ length: BUCKETS }, (_, b) => this.#client.scard(this.#key(`n:{${b}}`)))),
      ])
    );
    let entries = 0;
    let partial = 0;
    let peers = 0;
    for (const [i, total] of totals.entries()) {
      if (total === null) continue;
      const [e, p] = total.split(" ").map(Number);
      entries += e;
      partial += p;
      peers += sizes[i] - 1;
    }
    return { peers, names: names.reduce((a, b) => a + b, 0), entries, partial };
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#clock.clearTimeout(this.#renewal);
    await this.#renewing?.catch(() => {});
    await this.#maintaining?.catch(() => {});
    // Leave the shared index as a session would: this tracker's entries go, and its lease.
    if (this.#number > 0 && this.#client.status === "ready") {
      try {
        await this.#clearTracker(this.#number);
        await this.#client.zrem(this.#key("trackers"), String(this.#number));
      } catch (error) {
        this.#onError(error); // its lease runs out instead
      }
    }
    await Promise.all([quit(this.#subscriber), quit(this.#client)]);
  }

  // ---- writing this tracker's entries

  /** Peer `id`'s entries in this tracker's memory, by name, with their kind. */
  #entriesOf(id: number): Holdings {
    const out: Holdings = new Map();
    for (const entry of this.#mine.filesOf(id)) out.set(entry.name, { entry, partial: false });
    for (const entry of this.#mine.partialOf(id)) out.set(entry.name, { entry, partial: true });
    return out;
  }

  /** Writes to Redis what changed for peer `id`: its entries were `before` and are `after`; its record was `old`. */
  async #write(
    id: number,
    change: {
      before: Holdings;
      after: Holdings;
      old: PeerRecord | undefined;
      /** Where the peer serves now; undefined when it left. */
      address: string | undefined;
      /** Brings this tracker's own copy up to date: called once the entries' writes are on their way. */
      mirror?: () => void;
    },
  ): Promise<void> {
    const { before, after, old, address } = change;
    const moved = old !== undefined && address !== undefined && old.address !== address;
    const gone: { name: string; partial: boolean; field: string }[] = [];
    const put: { name: string; partial: boolean; field: string; value: string }[] = [];
    for (const [name, was] of before) {
      const is = after.get(name);
      if (!is || moved || is.partial !== was.partial) {
        gone.push({ name, partial: was.partial, field: `${id}@${old!.address}` });
      }
    }
    for (const [name, is] of after) {
      const was = before.get(name);
      if (!moved && was && was.partial === is.partial && sameEntry(was.entry, is.entry)) continue;
      put.push({ name, partial: is.partial, field: `${id}@${address!}`, value: this.#value(is.entry, is.partial) });
    }
    try {
      await this.#apply(id, {
        gone,
        put,
        names: nameLinesOf(after),
        mirror: change.mirror,
      });
    } catch (error) {
      this.#dirty = true; // written back whole at the next renewal that reaches Redis
      throw this.#unreachable(error, "this tracker keeps the change and writes it there when it is back");
    } finally {
      this.#names = undefined; // the next listing reads the names again, this change in them
    }
  }

  /** Deletes `gone`, sets `put`, and rewrites peer `id`'s record, name lines and this tracker's totals. */
  async #apply(
    id: number,
    change: {
      gone: { name: string; field: string }[];
      put: { name: string; field: string; value: string }[];
      /** Its names now, each after `w` (whole) or `p` (partial). */
      names: string[];
      /** Called once the entries' writes are sent, before the peer's record is written. */
      mirror?: () => void;
    },
  ): Promise<void> {
    const { gone, put } = change;
    const c = this.#client;
    const session = String(id - this.idBase);
    // Removals first: a name that changed kind or address is dropped, then put again. One name's keys live on one
    // connection (one server, or the node of its slot), which keeps commands in the order they were sent.
    const writes: Promise<unknown>[] = [
      ...this.#batches(gone, (keys, args) => c.p2pDrop(keys.length, ...keys, ...args)),
      ...this.#batches(put, (keys, args) => c.p2pPut(keys.length, ...keys, ...args)),
    ];
    change.mirror?.();
    const record = this.#mine.peer(id);
    const table = this.#key(`t:{${this.#number}}`);
    const lines = this.#key(`g:{${this.#number}}`);
    if (record) {
      writes.push(c.hset(table, session, peerText(record)));
      writes.push(c.hset(lines, session, change.names.join("\n")));
    } else {
      writes.push(c.hdel(table, session), c.hdel(lines, session));
    }
    writes.push(c.hset(table, "#", this.#totals()));
    await Promise.all(writes);
  }

  /**
   * One script call per field and bucket, at most {@link BATCH} names each
   * (a script's keys share a slot, as a cluster needs; and a bucket's set
   * and key prefix are sent once a call, not once a name): `call` gets the
   * keys (the bucket's set, then the names' hashes) and the arguments (the
   * field, the length of the hash keys before the name, then each item's
   * value if it has one).
   */
  #batches(
    items: { name: string; field: string; value?: string }[],
    call: (keys: string[], args: string[]) => Promise<unknown>,
  ): Promise<unknown>[] {
    const groups = new Map<string, { bucket: number; field: string; items: typeof items }>();
    for (const item of items) {
      const bucket = bucketOf(item.name);
      const id = `${bucket} ${item.field}`;
      let group = groups.get(id);
      if (!group) groups.set(id, group = { bucket, field: item.field, items: [] });
      group.items.push(item);
    }
    const calls: Promise<unknown>[] = [];
    for (const { bucket, field, items } of groups.values()) {
      const head = this.#heads[bucket];
      for (let at = 0; at < items.length; at += BATCH) {
        const keys = [this.#key(`n:{${bucket}}`)];
        const args = [field, head.skip];
        for (const item of items.slice(at, at + BATCH)) {
          keys.push(head.key + item.name);
          if (item.value !== undefined) args.push(item.value);
        }
        calls.push(call(keys, args));
      }
    }
    return calls;
  }

  /**
   * Removes tracker `t`'s entries, records and votes from Redis, as its
   * tables there list them, one peer at a time. `stop` is asked before each
   * peer: true ends the clean-up there (the tracker came back).
   */
  async #clearTracker(t: number, stop: () => Promise<boolean> = () => Promise.resolve(false)): Promise<void> {
    const c = this.#client;
    const table = this.#key(`t:{${t}}`);
    const lines = this.#key(`g:{${t}}`);
    const [peers, names] = await Promise.all([c.hgetall(table), c.hgetall(lines)]);
    for (const [session, text] of Object.entries(peers)) {
      if (session === "#") continue;
      if (await stop()) return;
      const id = t * TWO_32 + Number(session);
      const field = `${id}@${peerRecord(id, text).address}`;
      const gone = nameLines(names[session]).map(({ name }) => ({ name, field }));
      const writes = this.#batches(gone, (keys, args) => c.p2pDrop(keys.length, ...keys, ...args));
      if (this.#feedback) writes.push(c.hdel(this.#key("{fb}:s"), String(id)), c.del(this.#votesKey(id)));
      writes.push(c.hdel(table, session), c.hdel(lines, session));
      await Promise.all(writes);
    }
    await Promise.all([c.del(table), c.del(lines)]);
  }

  /**
   * Makes Redis hold exactly this tracker's sessions' entries again (after
   * Redis lost them, missed a change, or another tracker took this one for
   * dead): drops what Redis lists for it that its sessions no longer hold,
   * then writes every entry again, one peer at a time (writing an entry that
   * is there already changes nothing). Tells the other trackers' waits of
   * every name. Returns how many entries it wrote.
   */
  async #writeBack(): Promise<number> {
    const c = this.#client;
    const table = this.#key(`t:{${this.#number}}`);
    const lines = this.#key(`g:{${this.#number}}`);
    const [peers, listed] = await Promise.all([c.hgetall(table), c.hgetall(lines)]);
    for (const [session, text] of Object.entries(peers)) {
      if (session === "#") continue;
      const id = this.idBase + Number(session);
      const was = peerRecord(id, text);
      const now = this.#mine.peer(id);
      const held = now ? this.#entriesOf(id) : new Map();
      const gone = nameLines(listed[session]).filter(({ name, partial }) =>
        now?.address !== was.address || held.get(name)?.partial !== partial
      ).map(({ name }) => ({ name, field: `${id}@${was.address}` }));
      const writes = this.#batches(gone, (keys, args) => c.p2pDrop(keys.length, ...keys, ...args));
      if (!now) writes.push(c.hdel(table, session), c.hdel(lines, session));
      await Promise.all(writes);
    }
    let written = 0;
    for (const peer of this.#mine.peers()) {
      const held = this.#entriesOf(peer.id);
      const put = [...held].map(([name, { entry, partial }]) => ({
        name,
        field: `${peer.id}@${peer.address}`,
        value: this.#value(entry, partial),
      }));
      await this.#apply(peer.id, { gone: [], put, names: nameLinesOf(held) });
      written += put.length;
      if (put.length > 0) this.#tell(`A ${this.#number}\n${[...held.keys()].join("\n")}`);
    }
    await c.hset(table, "#", this.#totals());
    return written;
  }

  // ---- leases

  #schedule(): void {
    if (this.#closed) return;
    this.#renewal = this.#clock.setTimeout(() => {
      this.#renewSoon();
      this.#schedule();
    }, Math.min(RENEW_MS, this.#leaseMs / 3));
    if (this.#clock === systemClock) Deno.unrefTimer(this.#renewal as number);
  }

  /** Renews the lease now (unless a renewal is under way). */
  #renewSoon(): void {
    if (this.#renewing || this.#closed) return;
    this.#renewing = this.#renew().catch((error) => this.#onError(error)).finally(() => this.#renewing = undefined);
  }

  /**
   * Renews this tracker's lease and reads the others'. A write-back is due
   * when the lease was gone (Redis lost its data, or another tracker took
   * this one for dead and cleaned up) or was not renewed for longer than
   * itself, or a write failed; it runs apart ({@link #maintainSoon}), so
   * that however long it takes, the lease goes on being renewed.
   */
  async #renew(): Promise<void> {
    if (this.#client.status !== "ready") return;
    const now = this.#time();
    const added = await this.#client.zadd(this.#key("trackers"), now + this.#leaseMs, String(this.#number));
    if (added > 0 || now - this.#renewedAt > this.#leaseMs) this.#dirty = true;
    this.#renewedAt = now;
    // Redis may have lost the tracker counter with the rest: no newcomer may get this tracker's number.
    if (added > 0) await this.#client.p2pAtLeast(this.#key("tracker-seq"), String(this.#number));
    await this.#readLeases();
    this.#maintainSoon();
  }

  /** Runs the write-back and clean-ups that are due (unless they run already). */
  #maintainSoon(): void {
    if (this.#maintaining || this.#closed) return;
    this.#maintaining = this.#maintain().catch((error) => this.#onError(error)).finally(() =>
      this.#maintaining = undefined
    );
  }

  async #maintain(): Promise<void> {
    let rewritten = 0;
    if (this.#dirty) {
      this.#dirty = false;
      try {
        rewritten = await this.#writeBack();
      } catch (error) {
        this.#dirty = true;
        throw error;
      }
      // A clean-up of this tracker by another, under way meanwhile, may have dropped some of what was written.
      if (await this.#client.exists(this.#key(`gc:{${this.#number}}`)) > 0) this.#dirty = true;
    }
    if (this.#lost) {
      this.#lost = false;
      this.onStoreEvent?.({ type: "store-back", store: this.description, rewritten });
    }
    const now = this.#time();
    const dead = [...this.#leases].filter(([t, until]) => until <= now && t !== this.#number).map(([t]) => t);
    const unfinished = (await this.#client.smembers(this.#key("dead"))).map(Number);
    for (const t of new Set([...dead, ...unfinished])) {
      if (t === this.#number) continue;
      // The first live tracker to see it claims the clean-up; one that stopped halfway is finished by another.
      const claimed = await this.#client.set(this.#key(`gc:{${t}}`), String(this.#number), "PX", this.#leaseMs, "NX");
      if (claimed !== "OK") continue;
      // Its lease goes first: were it alive after all, its next renewal finds it gone and writes everything again.
      await this.#client.sadd(this.#key("dead"), String(t));
      await this.#client.zrem(this.#key("trackers"), String(t));
      this.#leases.delete(t);
      let back = false;
      await this.#clearTracker(
        t,
        async () => back = (await this.#client.zscore(this.#key("trackers"), String(t))) !== null,
      );
      await this.#client.srem(this.#key("dead"), String(t));
      if (!back) await this.#client.del(this.#key(`gc:{${t}}`));
    }
  }

  async #readLeases(): Promise<void> {
    const flat = await this.#client.zrange(this.#key("trackers"), "0", "-1", "WITHSCORES");
    this.#leases.clear();
    for (let i = 0; i + 1 < flat.length; i += 2) this.#leases.set(Number(flat[i]), Number(flat[i + 1]));
  }

  /** Reads tracker `t`'s lease end (0 when it has none). */
  async #leaseOf(t: number): Promise<void> {
    const score = await this.#client.zscore(this.#key("trackers"), String(t));
    this.#leases.set(t, score === null ? 0 : Number(score));
  }

  async #liveTrackers(): Promise<number[]> {
    await this.#call(() => this.#readLeases());
    const now = this.#time();
    return [...this.#leases].filter(([t, until]) => t === this.#number || until > now).map(([t]) => t)
      .sort((a, b) => a - b);
  }

  // ---- reading entries

  /** The whole and the partial holders of `name` whose tracker's lease runs, each in announcement order. */
  async #holdersOf(name: string): Promise<{ whole: StoredHolder[]; partial: StoredHolder[] }> {
    const table = await this.#call(() => this.#client.hgetall(this.#nameKey(name)));
    const all = await this.#live(table);
    return { whole: all.filter((h) => !h.partial), partial: all.filter((h) => h.partial) };
  }

  /** The holders in `table` (a name's hash) whose tracker's lease runs, in announcement order. */
  async #live(table: Record<string, string>): Promise<StoredHolder[]> {
    const all: StoredHolder[] = [];
    let unknown: Set<number> | undefined;
    for (const [field, value] of Object.entries(table)) {
      if (field === "#") continue;
      const at = field.indexOf("@");
      const peer = Number(field.slice(0, at));
      const t = Math.floor(peer / TWO_32);
      if (t !== this.#number && !this.#leases.has(t)) (unknown ??= new Set()).add(t);
      const [kind, seq, size, sha, root] = value.split(" ");
      const holder: StoredHolder = {
        address: field.slice(at + 1),
        size: parseInt(size, 36),
        sha256: fromStored(sha),
        peer,
        seq: parseInt(seq, 36),
      };
      if (root !== undefined) holder.root = fromStored(root);
      if (kind === "p") holder.partial = true;
      all.push(holder);
    }
    // A tracker that started since the leases were last read.
    if (unknown) await this.#call(() => Promise.all([...unknown].map((t) => this.#leaseOf(t))));
    const now = this.#time();
    const live = all.filter((h) => {
      const t = Math.floor(h.peer / TWO_32);
      return t === this.#number || (this.#leases.get(t) ?? 0) > now;
    });
    live.sort((a, b) => a.seq - b.seq || a.peer - b.peer);
    // A peer that moved to another tracker is listed twice until the first one's lease runs out: the later entry
    // of an address, of each kind, is the one kept.
    const last = new Map<string, StoredHolder>();
    for (const h of live) last.set(`${h.partial ? "p" : "w"}${h.address}`, h);
    return last.size === live.length
      ? live
      : live.filter((h) => last.get(`${h.partial ? "p" : "w"}${h.address}`) === h);
  }

  /** `holders` best first, demoted ones left out, at most `max`. */
  async #rank(holders: StoredHolder[], max: number, keepOrder = false): Promise<IndexedHolder[]> {
    if (!this.#feedback || holders.length === 0) return holders.slice(0, max).map(strip);
    const texts = await this.#call(() =>
      this.#client.hmget(this.#key("{fb}:s"), ...holders.map((h) => String(h.peer)))
    );
    const scores = texts.map((t): HolderScore | undefined => t === null ? undefined : JSON.parse(t));
    if (keepOrder) return holders.filter((_, i) => !scores[i]?.demoted).slice(0, max).map(strip);
    return rankScores(scores, max).map((i) => strip(holders[i]));
  }

  async #httpPorts(peers: number[]): Promise<Map<number, number>> {
    const out = new Map<number, number>();
    const texts = await this.#call(() =>
      Promise.all(
        peers.map((id) => this.#client.hget(this.#key(`t:{${Math.floor(id / TWO_32)}}`), String(id % TWO_32))),
      )
    );
    for (const [i, text] of texts.entries()) {
      const http = text === null ? undefined : peerRecord(peers[i], text).httpPort;
      if (http !== undefined) out.set(peers[i], http);
    }
    return out;
  }

  /** Peer `id`'s entries of one kind: from memory when it is this tracker's, else as Redis lists them. */
  async #entriesOfAny(id: number, kind: "w" | "p"): Promise<FileEntry[]> {
    const t = Math.floor(id / TWO_32);
    if (t === this.#number) return kind === "w" ? this.#mine.filesOf(id) : this.#mine.partialOf(id);
    const [peerText, lines] = await this.#call(() =>
      Promise.all([
        this.#client.hget(this.#key(`t:{${t}}`), String(id % TWO_32)),
        this.#client.hget(this.#key(`g:{${t}}`), String(id % TWO_32)),
      ])
    );
    if (peerText === null || lines === null) return [];
    const address = peerRecord(id, peerText).address;
    const names = lines.split("\n").filter((l) => l[0] === kind).map((l) => l.slice(1));
    const tables = await this.#call(() =>
      Promise.all(names.map((n) => this.#client.hget(this.#nameKey(n), `${id}@${address}`)))
    );
    return names.flatMap((name, i) => {
      const value = tables[i];
      if (value === null) return [];
      const [, , size, sha, root] = value.split(" ");
      const entry: FileEntry = { name, size: parseInt(size, 36), sha256: fromStored(sha) };
      if (root !== undefined) entry.root = fromStored(root);
      return [entry];
    });
  }

  // ---- pub/sub

  #tell(message: string): void {
    this.#client.publish(this.#key("events"), message).catch(() => {
      // Waiters elsewhere miss this announcement; they are told of later ones.
    });
  }

  #heard(message: Uint8Array): void {
    const text = new TextDecoder().decode(message);
    const lines = text.split("\n");
    const [kind, from] = lines[0].split(" ");
    if (Number(from) === this.#number) return;
    if (kind === "R") this.#feedback = true;
    else if (kind === "A") this.onAnnounced?.(lines.slice(1));
  }

  // ---- small parts

  #key(name: string): string {
    return `${this.#p}${name}`;
  }

  #nameKey(name: string): string {
    return `${this.#p}h:{${bucketOf(name)}}:${name}`;
  }

  #votesKey(holder: number): string {
    return `${this.#p}{fb}:v:${holder}`;
  }

  #nextSeq(): number {
    this.#seq = Math.max(this.#seq + 1, this.#time());
    return this.#seq;
  }

  #value(entry: FileEntry, partial: boolean): string {
    const kind = partial ? "p" : "w";
    const value = `${kind} ${this.#nextSeq().toString(36)} ${entry.size.toString(36)} ${toStored(entry.sha256)}`;
    return entry.root === undefined ? value : `${value} ${toStored(entry.root)}`;
  }

  #totals(): string {
    const { entries } = this.#mine.stats();
    return `${entries} ${this.#mine.partialEntries}`;
  }

  /**
   * The time leases and announcement order are written in: one every
   * tracker sharing the store reads alike, so wall-clock milliseconds
   * (`Date.now()`), not the monotonic clock that counts from each process's
   * start. A clock of the tests' own is taken as it is.
   */
  #time(): number {
    return this.#clock === systemClock ? Date.now() : Math.floor(this.#clock.now());
  }

  /** Runs `work` against Redis; a failure to reach it becomes a `503` naming the store. */
  async #call<T>(work: () => Promise<T>): Promise<T> {
    try {
      return await work();
    } catch (error) {
      if (error instanceof ProtocolError) throw error;
      throw this.#unreachable(error, "try again in a few seconds");
    }
  }

  #unreachable(error: unknown, next: string): ProtocolError {
    // While the connection is down, ioredis refuses with words of its own ("Stream isn't writeable…").
    const why = this.#closed
      ? "closed: the tracker is stopping"
      : this.#client.status !== "ready"
      ? "connection lost; reconnecting"
      : error instanceof Error
      ? error.message
      : String(error);
    return new ProtocolError(
      Status.BUSY,
      `the index store ${this.description} did not answer (${why.slice(0, 120)}); ${next}`,
      { cause: error },
    );
  }
}

/** Closes `client` whatever its state: `QUIT` when it is ready, else drops the socket (and lets ioredis's 0 ms timer run). */
async function quit(client: Client): Promise<void> {
  if (client.status === "ready") {
    try {
      await client.quit();
      return;
    } catch {
      // Redis went away meanwhile: drop the socket.
    }
  }
  client.disconnect();
  await new Promise((resolve) => setTimeout(resolve, 0));
}

function strip(holder: StoredHolder): IndexedHolder {
  const { seq: _, ...rest } = holder;
  return rest;
}

function sameEntry(a: FileEntry, b: FileEntry): boolean {
  return a.size === b.size && a.sha256 === b.sha256 && a.root === b.root;
}

/** A peer's holdings as its name lines in `g:{T}`: `w<name>` or `p<name>`. */
function nameLinesOf(holdings: Holdings): string[] {
  return [...holdings].map(([name, { partial }]) => (partial ? "p" : "w") + name);
}

/** A peer's name lines in `g:{T}` (`w<name>` or `p<name>`, one a line; names hold no line feed) → names and kinds. */
function nameLines(text: string | undefined): { name: string; partial: boolean }[] {
  if (!text) return [];
  return text.split("\n").filter((line) => line !== "").map((line) => ({
    name: line.slice(1),
    partial: line[0] === "p",
  }));
}

/** `<address> <files> <partial> [<http port>]` → a record. */
function peerRecord(id: number, text: string): PeerRecord {
  const [address, files, partial, http] = text.split(" ");
  const record: PeerRecord = { id, address, files: Number(files) };
  if (Number(partial) > 0) record.partial = Number(partial);
  if (http !== undefined) record.httpPort = Number(http);
  return record;
}

function peerText(record: PeerRecord): string {
  const text = `${record.address} ${record.files} ${record.partial ?? 0}`;
  return record.httpPort === undefined ? text : `${text} ${record.httpPort}`;
}

const B64URL = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const B64_CODES = [...B64URL].map((c) => c.charCodeAt(0));
/** Character code → its value, in hex and in base64url. */
const HEX_VALUE = new Uint8Array(128);
const B64_VALUE = new Uint8Array(128);
for (let i = 0; i < 16; i++) HEX_VALUE["0123456789abcdef".charCodeAt(i)] = i;
for (let i = 0; i < 64; i++) B64_VALUE[B64_CODES[i]] = i;
const HEX_CODES = [..."0123456789abcdef"].map((c) => c.charCodeAt(0));
const codes = new Array<number>(64);

/**
 * A SHA-256 (or root) in hex → base64url without padding: 43 characters
 * instead of 64, so that an entry's value fits Redis's compact encoding
 * (64 bytes). By hand: a `Buffer` round trip per entry cost more than the
 * rest of an announcement's preparation.
 */
function toStored(hex: string): string {
  codes.length = 43;
  let out = 0;
  // 64 hex digits are 256 bits: 42 groups of 6 bits (from 3 digits per 2 groups), then 4 bits left.
  for (let i = 0; i + 3 <= 63; i += 3) {
    const v = (HEX_VALUE[hex.charCodeAt(i)] << 8) | (HEX_VALUE[hex.charCodeAt(i + 1)] << 4) |
      HEX_VALUE[hex.charCodeAt(i + 2)];
    codes[out++] = B64_CODES[v >> 6];
    codes[out++] = B64_CODES[v & 63];
  }
  codes[out] = B64_CODES[HEX_VALUE[hex.charCodeAt(63)] << 2];
  return String.fromCharCode.apply(null, codes);
}

/** The inverse of {@link toStored}. */
function fromStored(text: string): string {
  codes.length = 64;
  let out = 0;
  for (let i = 0; i + 2 <= 42; i += 2) {
    const v = (B64_VALUE[text.charCodeAt(i)] << 6) | B64_VALUE[text.charCodeAt(i + 1)];
    codes[out++] = HEX_CODES[v >> 8];
    codes[out++] = HEX_CODES[(v >> 4) & 15];
    codes[out++] = HEX_CODES[v & 15];
  }
  codes[out] = HEX_CODES[B64_VALUE[text.charCodeAt(42)] >> 2];
  return String.fromCharCode.apply(null, codes);
}

/** Which of the {@link BUCKETS} holds `name`: a small hash of it. */
function bucketOf(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return h % BUCKETS;
}
