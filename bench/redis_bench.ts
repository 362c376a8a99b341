/**
 * The bench's `redis` case (`deno task bench --only redis`): trackers that
 * keep their index in one Redis (`--store redis://…`) beside the tracker
 * that keeps it in memory, measured in the same run. Every role is a
 * process of its own: `redis-server`, each tracker (`main.ts tracker`), the
 * announcing peers and the load client (`bench/workers.ts`).
 *
 * 1. Lookups/s: the same entries (100 peers × 100 files), the same load
 *    client (50 connections, one `SEND` in flight each), against the tracker
 *    in memory and against 1, 2 and 3 trackers on one Redis, the client's
 *    connections spread over them; the configurations take turns, run
 *    after run. The CPU each process used meanwhile (`/proc/PID/stat`) and
 *    the machine's idle time (`/proc/stat`) show where the cores went.
 * 2. Redis memory per entry: `INFO memory` `used_memory` before and after
 *    peers announce entries through two trackers, over a catalogue in which
 *    every name has 10 holders; files under one chunk, then files over one
 *    chunk, whose lines carry a chunk root.
 * 3. One `UPDATE` of 100,000 files, until its `200` reply: through a tracker
 *    on Redis and through one in memory, taking turns.
 *
 * Without `redis-server` and `redis-cli` the case says so and measures
 * nothing. It starts a server of its own rather than through
 * `tests/helpers/redis.ts`: the bench also runs where the tests are not (a
 * copy of the project in `tests/bench/bench_test.ts`). See
 * docs/PERFORMANCE.md, "Many trackers on one Redis".
 *
 * @module
 */

import type { Figure } from "./figures.ts";

/** One process of the bench that speaks lines (the bench's `Proc`). */
export interface BenchRole extends AsyncDisposable {
  /** The process. */
  readonly child: Deno.ChildProcess;
  /** The next line starting with `match`, or matching it if a pattern. */
  line(match: string | RegExp): Promise<string>;
  /** Writes `line` to its standard input. */
  send(line: string): Promise<void>;
}

/** What the case needs from the bench. */
export interface RedisCaseOptions {
  /** A CI-sized run: fewer entries, shorter loads. */
  quick: boolean;
  /** Runs of each configuration; the medians are reported. */
  runs: number;
  /** How long each lookup load lasts, seconds. */
  lookupSeconds: number;
  /** Starts `deno run` with the bench's permissions and `args` (Deno's flags, the script, its arguments). */
  deno(name: string, args: string[]): BenchRole;
  /** Records a figure: a line of the printed table, of the JSON and (with a baseline or goal) of the chart. */
  figure(figure: Figure): void;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const WORKERS = new URL("./workers.ts", import.meta.url).pathname;

/** The lookup load: the `tracker` case's 10,000-entry scale and its load client. */
const LOOKUP_PEERS = 100;
const LOOKUP_FILES = 100;
const LOOKUP_CONNS = 50;
const LOOKUP_DEPTH = 1;
/** How many trackers share the Redis in the lookup runs, in turn. */
const TRACKER_COUNTS = [1, 2, 3];
/** One lookup load's figures (medians, for several runs). */
interface LoadResult {
  perSecond: number;
  p50: number;
  p99: number;
  /**
   * Per cent of one core each used meanwhile: the load client, the trackers together, redis-server; and the
   * machine's idle time, per cent of all its cores (from /proc/stat; the kernel's network work on loopback, in
   * softirq, is in no process's share).
   */
  cpu: { client: number; trackers: number; redis?: number; idle: number };
}

/** Goals (docs/PERFORMANCE.md). */
const RATIO_GOAL = 0.3;
const BYTES_PER_ENTRY_GOAL = 200;
const ANNOUNCE_GOAL_MS = 2_000;
/** Every name of the memory catalogue has this many holders. */
const HOLDERS_PER_NAME = 10;
/** Trackers the memory runs announce through. */
const MEMORY_TRACKERS = 2;

/** The memory runs: peers × files announced, each name held by {@link HOLDERS_PER_NAME} of them. */
function memoryShape(quick: boolean): { peers: number; files: number; catalogue: number } {
  const [peers, files] = quick ? [200, 100] : [1_000, 1_000];
  return { peers, files, catalogue: peers * files / HOLDERS_PER_NAME };
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** `promise`, or a rejection saying `what` did not happen within `ms`: no step of the case waits for ever. */
async function timely<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`redis case: ${what} took more than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/** Clock ticks a second, for `/proc/PID/stat`. */
const TICKS_PER_SECOND = 100;

/**
 * CPU time (user + system) each of `pids` has used so far, ms (NaN for one that could not be read). Deno reads
 * /proc only with --allow-all: `cat` does.
 */
function cpuMs(pids: number[]): Promise<number[]> {
  return Promise.all(pids.map(async (pid) => {
    const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped", stderr: "null" })
      .output();
    const line = new TextDecoder().decode(stdout);
    if (!line.includes(")")) return NaN;
    // After the command's name in parentheses: the state, 10 more fields, then utime and stime.
    const fields = line.slice(line.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) * 1000 / TICKS_PER_SECOND;
  }));
}

/** The machine's idle and total CPU time so far, in clock ticks (the first line of /proc/stat). */
async function machineTicks(): Promise<{ idle: number; total: number }> {
  const { stdout } = await new Deno.Command("head", { args: ["-1", "/proc/stat"], stdout: "piped" }).output();
  const ticks = new TextDecoder().decode(stdout).trim().split(/\s+/).slice(1).map(Number);
  // user nice system idle iowait irq softirq steal …: idle and iowait are idle.
  return { idle: ticks[3] + ticks[4], total: ticks.slice(0, 8).reduce((a, b) => a + b, 0) };
}

/** `used_memory` of `INFO memory`, bytes. */
function usedMemory(info: string): number {
  const match = /^used_memory:(\d+)/m.exec(info);
  if (!match) throw new Error(`redis case: no used_memory in INFO memory: ${info.slice(0, 200)}`);
  return Number(match[1]);
}

/** The processes of one part of the case; disposing stops them, the last started first. */
class Roles implements AsyncDisposable {
  readonly #options: RedisCaseOptions;
  readonly #stack = new AsyncDisposableStack();

  constructor(options: RedisCaseOptions) {
    this.#options = options;
  }

  /** A role of `bench/workers.ts` (`args`: the role, then its arguments), started. */
  worker(args: string[]): BenchRole {
    return this.#stack.use(this.#options.deno(args[0], [WORKERS, ...args]));
  }

  /**
   * A tracker on a free loopback port with `extra` flags, once it listens. A
   * tracker on Redis loads npm:ioredis, whose `debug` reads the environment:
   * `--ignore-env=DEBUG`, as the tracker task.
   */
  async tracker(extra: string[] = []): Promise<{ role: BenchRole; port: number }> {
    const env = extra.includes("--store") ? ["--ignore-env=DEBUG"] : [];
    const role = this.#stack.use(
      this.#options.deno("tracker", [...env, MAIN, "tracker", "--host", "127.0.0.1", "--port", "0", ...extra]),
    );
    const line = await timely(role.line("listening on "), stepMs(this.#options), "a tracker's start");
    return { role, port: Number(line.split(":").pop()) };
  }

  [Symbol.asyncDispose](): Promise<void> {
    return this.#stack.disposeAsync();
  }
}

/** A `redis-server` of the bench's own: a free loopback port, no persistence; disposing kills it. */
interface RedisServer extends AsyncDisposable {
  /** `redis://127.0.0.1:PORT`. */
  readonly url: string;
  /** Runs `redis-cli -p PORT ...args`; what it printed. */
  cli(args: string[]): Promise<string>;
}

/** Why the case cannot run here (`redis-server` or `redis-cli` missing), or undefined. */
async function redisMissing(): Promise<string | undefined> {
  for (const command of ["redis-server", "redis-cli"]) {
    try {
      const { success } = await new Deno.Command(command, { args: ["--version"], stdout: "null", stderr: "null" })
        .output();
      if (!success) return `${command} --version failed`;
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) return `no ${command} on PATH`;
      throw error;
    }
  }
  return undefined;
}

/** `setpriv` (util-linux) makes the server die with the bench, should the bench be killed before it disposes. */
const SETPRIV = ["/usr/bin/setpriv", "/bin/setpriv"].find((path) => {
  try {
    return Deno.statSync(path).isFile;
  } catch {
    return false;
  }
});

/** Starts `redis-server` on a free loopback port (another, up to 5 tries, if one was taken meanwhile). */
async function startRedis(): Promise<RedisServer> {
  for (let tries = 1;; tries++) {
    const probe = Deno.listen({ hostname: "127.0.0.1", port: 0 });
    const port = probe.addr.port;
    probe.close();
    const server = await startRedisOn(port);
    if (server !== undefined) return server;
    if (tries === 5) throw new Error("redis case: redis-server exited at start on 5 free ports in a row");
  }
}

/** Starts `redis-server` on `port` and waits (at most 10 s) until it answers `PING`; undefined if it exited. */
async function startRedisOn(port: number): Promise<RedisServer | undefined> {
  const args = ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"];
  args.push("--protected-mode", "no", "--daemonize", "no", "--loglevel", "warning");
  const [command, prefix] = SETPRIV ? [SETPRIV, ["--pdeathsig", "KILL", "redis-server"]] : ["redis-server", []];
  const child = new Deno.Command(command, { args: [...prefix, ...args], stdout: "null", stderr: "inherit" }).spawn();
  let exited = false;
  const status = child.status.finally(() => exited = true);
  const cli = async (words: string[]) => {
    const out = await new Deno.Command("redis-cli", {
      args: ["-h", "127.0.0.1", "-p", String(port), ...words],
      stdout: "piped",
      stderr: "piped",
    }).output();
    const text = new TextDecoder();
    if (!out.success) throw new Error(`redis-cli ${words.join(" ")}: ${text.decode(out.stderr).trim()}`);
    return text.decode(out.stdout);
  };
  const stop = async () => {
    if (!exited) child.kill("SIGKILL");
    await status;
  };
  const deadline = Date.now() + 10_000;
  while (!exited) {
    if ((await cli(["PING"]).catch(() => "")).trim() === "PONG") {
      return { url: `redis://127.0.0.1:${port}`, cli, [Symbol.asyncDispose]: stop };
    }
    if (Date.now() > deadline) {
      await stop();
      throw new Error(`redis case: redis-server on port ${port} did not answer PING within 10 s`);
    }
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
  await status;
  return undefined;
}

/** Runs the case; its figures for the JSON, or `{ skipped }` saying why nothing was measured. */
export async function redisCase(options: RedisCaseOptions): Promise<Record<string, unknown>> {
  const skipped = await redisMissing();
  if (skipped !== undefined) {
    console.error(`redis: skipped, ${skipped} (install Debian's redis-server and redis-tools)`);
    options.figure({ what: "trackers on Redis", shown: "skipped", note: skipped });
    return { skipped };
  }
  await using redis = await startRedis();
  const info = await redis.cli(["INFO", "server"]);
  const redisPid = Number(/^process_id:(\d+)/m.exec(info)?.[1]);
  const version = /^redis_version:(\S+)/m.exec(info)?.[1];
  return {
    redisVersion: version,
    lookups: await lookups(options, redis, redisPid),
    memory: await memory(options, redis),
    announce: await announce(options, redis),
  };
}

/** A step's time limit: generous (a loaded machine is slow), but bounded. */
function stepMs(options: RedisCaseOptions): number {
  return options.quick ? 30_000 : 300_000;
}

async function lookups(options: RedisCaseOptions, redis: RedisServer, redisPid: number) {
  const { runs, lookupSeconds, figure } = options;
  const entries = LOOKUP_PEERS * LOOKUP_FILES;
  const limit = stepMs(options);
  const most = Math.max(...TRACKER_COUNTS);
  console.error(
    `lookups of ${entries} entries, ${LOOKUP_CONNS} conns x ${LOOKUP_DEPTH}: in memory, and 1-${most} trackers on ` +
      `one Redis, ${runs} runs`,
  );
  await using roles = new Roles(options);
  const inMemory = await roles.tracker();
  const onRedis: { role: BenchRole; port: number }[] = [];
  for (let i = 0; i < most; i++) onRedis.push(await roles.tracker(["--store", redis.url]));
  const announced = (to: { port: number }[]) =>
    roles.worker(["announce", to.map((t) => t.port).join(","), String(LOOKUP_PEERS), String(LOOKUP_FILES)]);
  await timely(announced([inMemory]).line("ready"), limit, "announcing to the tracker in memory");
  // Through every Redis tracker: each entry is found through any of them.
  await timely(announced(onRedis).line("ready"), limit, "announcing through the Redis trackers");

  const configs = [
    { name: "memory", trackers: [inMemory], redis: false },
    ...TRACKER_COUNTS.map((n) => ({ name: `redis-${n}`, trackers: onRedis.slice(0, n), redis: true })),
  ];
  const measured = new Map<string, LoadResult[]>(configs.map((c) => [c.name, []]));
  // The configurations take turns, so that a change in the machine's state touches them alike.
  for (let r = 0; r < runs; r++) {
    for (const config of configs) {
      await using once = new Roles(options);
      const load = once.worker([
        "lookups",
        config.trackers.map((t) => t.port).join(","),
        String(LOOKUP_CONNS),
        String(lookupSeconds),
        String(LOOKUP_PEERS),
        String(LOOKUP_FILES),
        String(LOOKUP_DEPTH),
      ]);
      await timely(load.line("ready"), limit, "the load client's connections");
      const pids = [
        load.child.pid,
        ...config.trackers.map((t) => t.role.child.pid),
        ...(config.redis ? [redisPid] : []),
      ];
      const [before, machineBefore] = await Promise.all([cpuMs(pids), machineTicks()]);
      const t = performance.now();
      await load.send("go");
      const result = JSON.parse(await timely(load.line("{"), lookupSeconds * 1000 + limit, "a lookup load"));
      const [after, machineAfter] = await Promise.all([cpuMs(pids), machineTicks()]);
      const wall = performance.now() - t;
      // Per cent of one core: this machine's two cores make 200 %.
      const share = (i: number) => Math.round((after[i] - before[i]) / wall * 100);
      const idle = (machineAfter.idle - machineBefore.idle) / (machineAfter.total - machineBefore.total);
      const cpu: LoadResult["cpu"] = { client: share(0), trackers: 0, idle: Math.round(idle * 100) };
      for (let k = 0; k < config.trackers.length; k++) cpu.trackers += share(1 + k);
      if (config.redis) cpu.redis = share(pids.length - 1);
      measured.get(config.name)!.push({ perSecond: result.perSecond, p50: result.p50, p99: result.p99, cpu });
    }
  }

  const mid = (name: string): LoadResult => {
    const list = measured.get(name)!;
    const of = (pick: (m: LoadResult) => number) => median(list.map(pick));
    const cpu: LoadResult["cpu"] = {
      client: of((m) => m.cpu.client),
      trackers: of((m) => m.cpu.trackers),
      idle: of((m) => m.cpu.idle),
    };
    if (list[0].cpu.redis !== undefined) cpu.redis = of((m) => m.cpu.redis!);
    return { perSecond: of((m) => m.perSecond), p50: of((m) => m.p50), p99: of((m) => m.p99), cpu };
  };
  const latency = (m: LoadResult) => `${m.p50.toFixed(2)} / ${m.p99.toFixed(2)} ms`;
  const cpuText = (m: LoadResult) =>
    `CPU % of a core: client ${m.cpu.client}, tracker${m.cpu.redis === undefined ? "" : "s"} ${m.cpu.trackers}` +
    (m.cpu.redis === undefined ? "" : `, redis ${m.cpu.redis}`) + `; machine ${m.cpu.idle} % idle`;
  const memory = mid("memory");
  const one = mid("redis-1");
  const unit = "lookups/s";
  figure({
    what: `lookups/s in memory, ${LOOKUP_CONNS} conns x ${LOOKUP_DEPTH}, ${entries} entries`,
    value: memory.perSecond,
    unit,
  });
  figure({ what: "  p50 / p99 latency", shown: latency(memory), note: cpuText(memory) });
  figure({
    what: "lookups/s through 1 tracker on Redis, the same load",
    value: one.perSecond,
    unit,
    baseline: memory.perSecond,
    baselineWhat: "in memory",
    goal: { ratio: RATIO_GOAL },
  });
  figure({ what: "  p50 / p99 latency", shown: latency(one), note: cpuText(one) });
  for (const n of TRACKER_COUNTS.slice(1)) {
    const many = mid(`redis-${n}`);
    figure({
      what: `lookups/s through ${n} trackers on one Redis`,
      value: many.perSecond,
      unit,
      baseline: one.perSecond,
      baselineWhat: "1 tracker on Redis",
    });
    figure({ what: "  p50 / p99 latency", shown: latency(many), note: cpuText(many) });
  }
  return {
    entries,
    connections: LOOKUP_CONNS,
    depth: LOOKUP_DEPTH,
    seconds: lookupSeconds,
    runs: Object.fromEntries(measured),
    medians: Object.fromEntries(configs.map((c) => [c.name, mid(c.name)])),
  };
}

async function memory(options: RedisCaseOptions, redis: RedisServer) {
  const { peers, files, catalogue } = memoryShape(options.quick);
  const entries = peers * files;
  const shapes: Record<string, unknown>[] = [];
  for (const root of [false, true]) {
    const kind = root ? "over one chunk, with a chunk root" : "under one chunk";
    console.error(
      `Redis memory: ${peers} peers x ${files} files (${kind}) through ${MEMORY_TRACKERS} trackers, ` +
        `${catalogue} names of ${HOLDERS_PER_NAME} holders each`,
    );
    await redis.cli(["FLUSHALL"]);
    await using roles = new Roles(options);
    const trackers: { role: BenchRole; port: number }[] = [];
    for (let i = 0; i < MEMORY_TRACKERS; i++) trackers.push(await roles.tracker(["--store", redis.url]));
    const before = usedMemory(await redis.cli(["INFO", "memory"]));
    const t = performance.now();
    const announcer = roles.worker([
      "announce",
      trackers.map((tr) => tr.port).join(","),
      String(peers),
      String(files),
      `catalogue=${catalogue}`,
      ...(root ? ["root"] : []),
    ]);
    await timely(announcer.line("ready"), stepMs(options), `announcing ${entries} entries`);
    const ms = performance.now() - t;
    const after = usedMemory(await redis.cli(["INFO", "memory"]));
    const keys = Number((await redis.cli(["DBSIZE"])).trim());
    // Killed before the peers hang up: the trackers' removal of what 1,000 leaving sessions held (about 7 s for a
    // million entries) is not what this measures; the next shape starts from FLUSHALL.
    for (const { role } of trackers) role.child.kill("SIGKILL");
    const perEntry = (after - before) / entries;
    shapes.push({ root, peers, files, catalogue, entries, usedBefore: before, usedAfter: after, keys, perEntry, ms });
    options.figure({
      what: `Redis memory per entry, ${entries} entries, files ${kind}`,
      value: perEntry,
      unit: "B",
      goal: { value: BYTES_PER_ENTRY_GOAL },
      higherIsBetter: false,
    });
    options.figure({
      what: `  ${peers} peers x ${files} files, ${catalogue} names x ${HOLDERS_PER_NAME} holders; announced in`,
      value: ms / 1000,
      unit: "s",
      note: `used_memory ${(before / 2 ** 20).toFixed(1)} → ${(after / 2 ** 20).toFixed(1)} MiB, ${keys} keys`,
    });
  }
  return shapes;
}

async function announce(options: RedisCaseOptions, redis: RedisServer) {
  const files = options.quick ? 10_000 : 100_000;
  const limit = stepMs(options);
  console.error(`one UPDATE of ${files} files, in memory and through Redis, ${options.runs} runs`);
  const times = { memory: [] as number[], redis: [] as number[] };
  const once = async (extra: string[]) => {
    await using roles = new Roles(options);
    const { port } = await roles.tracker(extra);
    const one = roles.worker(["announce-one", String(port), String(files)]);
    await timely(one.line("ready"), limit, "the announcing peer's start");
    await one.send("go");
    return Number((await timely(one.line("done "), limit, `an UPDATE of ${files} files`)).split(" ")[1]);
  };
  for (let r = 0; r < options.runs; r++) {
    times.memory.push(await once([]));
    await redis.cli(["FLUSHALL"]);
    times.redis.push(await once(["--store", redis.url]));
  }
  const inMemory = median(times.memory);
  const onRedis = median(times.redis);
  options.figure({
    what: `announce of ${files} files through a tracker on Redis`,
    value: onRedis,
    unit: "ms",
    baseline: inMemory,
    baselineWhat: "in memory",
    // The goal is for 100,000 files; a quick run's 10,000 are not judged.
    goal: files === 100_000 ? { value: ANNOUNCE_GOAL_MS } : undefined,
    goalShown: files === 100_000 ? undefined : `≤ ${ANNOUNCE_GOAL_MS} ms for 100,000 files`,
    higherIsBetter: false,
  });
  return { files, ms: times };
}
