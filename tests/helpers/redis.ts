/**
 * Real `redis-server` processes for tests (never mocks): one server on a
 * free loopback port, or a Redis Cluster of a few masters, each handed back
 * as an `await using` handle that kills the processes and removes their
 * folder on dispose, whatever the test did. Nothing persists: a restarted
 * server starts empty. A machine without `redis-server` and `redis-cli`
 * (or a test run whose permissions keep `npm:ioredis` from loading) skips
 * the tests that need them, saying so in their names.
 *
 * @example
 * ```ts
 * import { redisSkipReason, redisTestName, startRedis } from "./redis.ts";
 *
 * Deno.test({
 *   name: redisTestName("redis: a key set is read back"),
 *   ignore: redisSkipReason() !== undefined,
 *   fn: async () => {
 *     await using redis = await startRedis();
 *     await redis.cli(["SET", "k", "v"]);
 *   },
 * });
 * ```
 *
 * @module
 */

import { join } from "node:path";

/** The server, found on `PATH`. */
export const REDIS_SERVER = "redis-server";
/** The command-line client, found on `PATH`. */
export const REDIS_CLI = "redis-cli";
/** The only address the servers listen on. */
export const REDIS_HOST = "127.0.0.1";
/** How long a server (or a whole cluster) may take to answer, by default. */
export const REDIS_START_TIMEOUT_MS = 10_000;
/** How often a starting server is asked whether it answers. */
const POLL_MS = 20;
/** Tries at a free port (a port just freed can be taken again before the server binds it). */
const PORT_TRIES = 20;
/** A cluster node also listens on its port plus this (the cluster bus). */
const BUS_OFFSET = 10_000;
/** The cluster's node timeout: how soon a node that stopped answering counts as failed. */
const CLUSTER_NODE_TIMEOUT_MS = 2_000;

/** Options of {@link startRedis}. */
export interface StartRedisOptions {
  /** More `redis-server` arguments, after the harness's own (`["--maxmemory", "10mb"]`). Default none. */
  args?: string[];
  /** How long the server may take to answer `PING`, in milliseconds. Default {@link REDIS_START_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** Options of {@link startRedisCluster}. */
export interface StartRedisClusterOptions {
  /** How many masters share the 16,384 slots (no replicas). Default 3, at least 3 (`redis-cli --cluster create`). */
  masters?: number;
  /** How long the whole cluster may take to report `cluster_state:ok`, in milliseconds. Default {@link REDIS_START_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** One running `redis-server` (standalone or a cluster node). */
export interface RedisNode {
  /** Always {@link REDIS_HOST}. */
  readonly host: string;
  /** Its port. */
  readonly port: number;
  /** `127.0.0.1:PORT`, as `redis-cli --cluster` and `CLUSTER NODES` write it. */
  readonly address: string;
  /**
   * Runs `redis-cli -h 127.0.0.1 -p PORT ...args` and returns what it printed
   * (`PONG\n`; an error reply comes back as text too, `ERR …`, as redis-cli
   * exits 0 for it). Throws if redis-cli fails, e.g. `Connection refused`.
   */
  cli(args: string[]): Promise<string>;
  /** Kills the server at once (SIGKILL) and waits until it is gone. Nothing if it is not running. */
  kill(): Promise<void>;
  /**
   * Starts it again on the same port (killing it first if it runs) and waits
   * until it answers. It has no data; a cluster node keeps its cluster
   * config file, so it rejoins the cluster with its slots.
   */
  restart(): Promise<void>;
  /** Whether the process runs (it was not killed, and did not die). */
  readonly running: boolean;
}

/** A standalone server: {@link RedisNode} plus its URL; disposing stops it. */
export interface RedisServer extends RedisNode, AsyncDisposable {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** Kills the server and removes its folder. Idempotent. */
  stop(): Promise<void>;
}

/** A Redis Cluster of masters; disposing stops every node. */
export interface RedisCluster extends AsyncDisposable {
  /** Its nodes, in port order of creation; all masters. */
  readonly nodes: readonly RedisNode[];
  /** Where a cluster client starts: every node's host and port. */
  readonly seeds: readonly { host: string; port: number }[];
  /** `redis-cluster://127.0.0.1:P1,127.0.0.1:P2,...`. */
  readonly url: string;
  /** Runs `redis-cli -h 127.0.0.1 -p PORT ...args` against the node at `port` and returns what it printed. */
  cli(port: number, args: string[]): Promise<string>;
  /** Waits until every running node reports `cluster_state:ok` (after a node was restarted, say). */
  waitOk(timeoutMs?: number): Promise<void>;
  /** Kills every node and removes their folder. Idempotent. */
  stop(): Promise<void>;
}

let found: "yes" | "missing" | "not allowed" | undefined;

/** Whether `redis-server` and `redis-cli` run here (`--version` answers), are missing, or `--allow-run` is lacking. */
function probe(): "yes" | "missing" | "not allowed" {
  found ??= (() => {
    for (const command of [REDIS_SERVER, REDIS_CLI]) {
      try {
        const out = new Deno.Command(command, { args: ["--version"], stdin: "null", stdout: "null", stderr: "null" })
          .outputSync();
        if (!out.success) return "missing";
      } catch (error) {
        if (error instanceof Deno.errors.NotFound) return "missing";
        if (error instanceof Deno.errors.NotCapable) return "not allowed";
        throw error;
      }
    }
    return "yes";
  })();
  return found;
}

/** Whether `redis-server` and `redis-cli` run here; tests that need them are skipped otherwise. */
export function redisAvailable(): boolean {
  return probe() === "yes";
}

/**
 * Whether this process's permissions let `npm:ioredis` load: its `debug`
 * dependency lists every environment variable (`Object.keys(process.env)`)
 * and reads `DEBUG` when it loads, which Deno refuses unless the test runs
 * with `--ignore-env=DEBUG` (the narrow way: the listing then shows only the
 * allowed names, `DEBUG` reads as unset) or with a bare `--allow-env`.
 */
export function ioredisLoadable(): boolean {
  try {
    Deno.env.toObject();
    Deno.env.get("DEBUG");
    return true;
  } catch (error) {
    if (error instanceof Deno.errors.NotCapable) return false;
    throw error;
  }
}

/** Options of {@link redisSkipReason} and {@link redisTestName}. */
export interface RedisSkipOptions {
  /** Whether the test also loads `npm:ioredis` (see {@link ioredisLoadable}). Default false. */
  client?: boolean;
}

/** Why a test that needs Redis is skipped here, or undefined if it can run. */
export function redisSkipReason(options: RedisSkipOptions = {}): string | undefined {
  const servers = probe();
  if (servers === "missing") return `no ${REDIS_SERVER} or ${REDIS_CLI} on PATH`;
  if (servers === "not allowed") return `running ${REDIS_SERVER} needs --allow-run`;
  if (options.client && !ioredisLoadable()) return "ioredis needs --ignore-env=DEBUG (or --allow-env)";
  return undefined;
}

/** `name`, with the reason it is skipped (from {@link redisSkipReason}) when it is. */
export function redisTestName(name: string, options: RedisSkipOptions = {}): string {
  const reason = redisSkipReason(options);
  return reason === undefined ? name : `${name} (skipped: ${reason})`;
}

/** Runs `redis-cli` against `port`; its standard output. Throws with its standard error if it exits non-zero. */
async function cli(port: number, args: string[]): Promise<string> {
  const out = await new Deno.Command(REDIS_CLI, {
    args: ["-h", REDIS_HOST, "-p", String(port), ...args],
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
  }).output();
  const decoder = new TextDecoder();
  if (!out.success) {
    throw new Error(`redis-cli -p ${port} ${args.join(" ")} failed: ${decoder.decode(out.stderr).trim()}`);
  }
  return decoder.decode(out.stdout);
}

/** A loopback port nothing listens on; with `bus`, below 55,536 and with port + 10,000 free as well. */
function freePort(bus: boolean): number {
  for (let tries = 0; tries < 1_000; tries++) {
    const listener = Deno.listen({ hostname: REDIS_HOST, port: 0 });
    const port = listener.addr.port;
    try {
      if (!bus) return port;
      if (port + BUS_OFFSET > 65_535) continue;
      Deno.listen({ hostname: REDIS_HOST, port: port + BUS_OFFSET }).close();
      return port;
    } catch (error) {
      if (!(error instanceof Deno.errors.AddrInUse)) throw error;
    } finally {
      listener.close();
    }
  }
  throw new Error("Cannot find a free loopback port with a free cluster bus port after 1000 tries");
}

/** `redis-server`'s last log lines, for an error message. */
async function logTail(path: string): Promise<string> {
  try {
    return (await Deno.readTextFile(path)).trim().split("\n").slice(-5).join("\n");
  } catch {
    return "(no log)";
  }
}

/** `setpriv` (util-linux) makes a server die with its test process, should that crash before disposing. */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** A `redis-server` process in `dir`, started, killed and restarted on one port. */
class Node implements RedisNode {
  readonly host = REDIS_HOST;
  #port: number;
  #child: Deno.ChildProcess | undefined;
  #exited = true;
  readonly #dir: string;
  readonly #args: (port: number) => string[];

  constructor(port: number, dir: string, args: (port: number) => string[]) {
    this.#port = port;
    this.#dir = dir;
    this.#args = args;
  }

  get port(): number {
    return this.#port;
  }

  get address(): string {
    return `${REDIS_HOST}:${this.#port}`;
  }

  get running(): boolean {
    return !this.#exited;
  }

  get #log(): string {
    return join(this.#dir, `redis-${this.#port}.log`);
  }

  cli(args: string[]): Promise<string> {
    return cli(this.#port, args);
  }

  /** Starts the process and waits for `PONG`; false if the port was taken meanwhile (the process is gone then). */
  async start(timeoutMs: number): Promise<boolean> {
    const args = [
      "--port",
      String(this.#port),
      "--bind",
      REDIS_HOST,
      "--save",
      "",
      "--appendonly",
      "no",
      "--protected-mode",
      "no",
      "--daemonize",
      "no",
      "--dir",
      this.#dir,
      "--logfile",
      this.#log,
      "--loglevel",
      "warning",
      ...this.#args(this.#port),
    ];
    await Deno.writeTextFile(this.#log, ""); // a restart's failure shows its own lines
    const [command, prefix] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", REDIS_SERVER]] : [REDIS_SERVER, []];
    this.#child = new Deno.Command(command, {
      args: [...prefix, ...args],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    }).spawn();
    this.#exited = false;
    const child = this.#child;
    const exited = child.status.then(() => {
      if (this.#child === child) this.#exited = true;
    });
    const deadline = Date.now() + timeoutMs;
    while (true) {
      if (this.#exited) {
        await exited;
        const log = await logTail(this.#log);
        if (/already in use/i.test(log)) return false;
        throw new Error(`Cannot start redis-server on port ${this.#port}: it exited\n${log}`);
      }
      try {
        if ((await this.cli(["PING"])).trim() === "PONG") return true;
      } catch { /* not listening yet */ }
      if (Date.now() > deadline) {
        await this.kill();
        throw new Error(
          `Cannot start redis-server on port ${this.#port}: no PONG within ${timeoutMs} ms\n${await logTail(
            this.#log,
          )}`,
        );
      }
      await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    }
  }

  async kill(): Promise<void> {
    const child = this.#child;
    if (child === undefined) return;
    try {
      child.kill("SIGKILL");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // already exited
    }
    await child.status;
    this.#exited = true;
  }

  async restart(timeoutMs = REDIS_START_TIMEOUT_MS): Promise<void> {
    await this.kill();
    if (!(await this.start(timeoutMs))) {
      throw new Error(`Cannot restart redis-server on port ${this.#port}: the port was taken meanwhile`);
    }
  }

  /** Starts on a free port, trying another port if one is taken before the server binds it. */
  async startOnFreePort(bus: boolean, timeoutMs: number): Promise<void> {
    for (let tries = 1;; tries++) {
      this.#port = freePort(bus);
      if (await this.start(timeoutMs)) return;
      if (tries === PORT_TRIES) throw new Error(`Cannot start redis-server: ${PORT_TRIES} free ports were taken`);
    }
  }
}

/** Removes `dir`, quietly if it is already gone. */
async function removeDir(dir: string): Promise<void> {
  try {
    await Deno.remove(dir, { recursive: true });
  } catch (error) {
    if (!(error instanceof Deno.errors.NotFound)) throw error;
  }
}

/**
 * Starts a standalone `redis-server` on a free loopback port, with no
 * persistence, and waits until it answers `PING`.
 *
 * @example
 * ```ts
 * await using redis = await startRedis();
 * console.log(redis.url); // redis://127.0.0.1:41234
 * ```
 */
export async function startRedis(options: StartRedisOptions = {}): Promise<RedisServer> {
  const timeoutMs = options.timeoutMs ?? REDIS_START_TIMEOUT_MS;
  const dir = await Deno.makeTempDir({ prefix: "p2p-redis-" });
  const node = new Node(0, dir, () => options.args ?? []);
  try {
    await node.startOnFreePort(false, timeoutMs);
  } catch (error) {
    await node.kill();
    await removeDir(dir);
    throw error;
  }
  const stop = async () => {
    await node.kill();
    await removeDir(dir);
  };
  return {
    host: node.host,
    get port() {
      return node.port;
    },
    get address() {
      return node.address;
    },
    get url() {
      return `redis://${node.address}`;
    },
    get running() {
      return node.running;
    },
    cli: (args) => node.cli(args),
    kill: () => node.kill(),
    restart: () => node.restart(timeoutMs),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}

/** Waits until every running node of `nodes` reports `cluster_state:ok`. */
async function waitClusterOk(nodes: readonly RedisNode[], timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const pending = new Set(nodes.filter((node) => node.running));
  while (true) {
    for (const node of [...pending]) {
      try {
        if ((await node.cli(["CLUSTER", "INFO"])).includes("cluster_state:ok")) pending.delete(node);
      } catch { /* restarting */ }
    }
    if (pending.size === 0) return;
    if (Date.now() > deadline) {
      const ports = [...pending].map((node) => node.port).join(", ");
      throw new Error(`Cannot form the Redis Cluster: nodes ${ports} not at cluster_state:ok within ${timeoutMs} ms`);
    }
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  }
}

/**
 * Starts a Redis Cluster of `masters` masters (no replicas) on free loopback
 * ports below 55,536, joins them with `redis-cli --cluster create`, and waits
 * until every node reports `cluster_state:ok`.
 *
 * @example
 * ```ts
 * await using cluster = await startRedisCluster({ masters: 3 });
 * console.log(cluster.url); // redis-cluster://127.0.0.1:31001,127.0.0.1:40022,127.0.0.1:35003
 * ```
 */
export async function startRedisCluster(options: StartRedisClusterOptions = {}): Promise<RedisCluster> {
  const masters = options.masters ?? 3;
  if (!Number.isInteger(masters) || masters < 3) {
    throw new RangeError(`Cannot start a Redis Cluster of ${masters} masters: it needs at least 3`);
  }
  const timeoutMs = options.timeoutMs ?? REDIS_START_TIMEOUT_MS;
  const deadline = Date.now() + timeoutMs;
  const dir = await Deno.makeTempDir({ prefix: "p2p-redis-cluster-" });
  const clusterArgs = (port: number) => [
    "--cluster-enabled",
    "yes",
    "--cluster-config-file",
    join(dir, `nodes-${port}.conf`),
    "--cluster-node-timeout",
    String(CLUSTER_NODE_TIMEOUT_MS),
  ];
  const nodes: Node[] = [];
  const stop = async () => {
    await Promise.all(nodes.map((node) => node.kill()));
    await removeDir(dir);
  };
  try {
    // One after the other: a port picked for one node is not yet bound while the next is picked.
    for (let i = 0; i < masters; i++) {
      const node = new Node(0, dir, clusterArgs);
      nodes.push(node);
      await node.startOnFreePort(true, Math.max(deadline - Date.now(), 1));
    }
    await cli(nodes[0].port, [
      "--cluster",
      "create",
      ...nodes.map((node) => node.address),
      "--cluster-replicas",
      "0",
      "--cluster-yes",
    ]);
    await waitClusterOk(nodes, Math.max(deadline - Date.now(), 1));
  } catch (error) {
    await stop();
    throw error;
  }
  return {
    nodes,
    seeds: nodes.map((node) => ({ host: node.host, port: node.port })),
    url: `redis-cluster://${nodes.map((node) => node.address).join(",")}`,
    cli: (port, args) => cli(port, args),
    waitOk: (ms = REDIS_START_TIMEOUT_MS) => waitClusterOk(nodes, ms),
    stop,
    [Symbol.asyncDispose]: stop,
  };
}
