/**
 * `deno task bench [--quick] [--size MIB] [--runs N] [--json FILE] [--only one,four,swarm,tracker,announce,live,http,crowd,redis,tls] [--tmp DIR]`:
 * measures the system on loopback beside baselines measured in the same
 * run, prints a table (each figure, its baseline, the ratio, its goal, met
 * or missed: `bench/figures.ts`), writes the same figures as JSON and draws
 * them as an SVG chart next to it (`bench/chart.ts`): to `--json FILE` and
 * the `.svg` beside it, else to docs/bench.json and docs/bench.svg, except
 * with `--quick`, whose figures (a CI-sized run) mean little and are
 * written only where `--json` says. See docs/PERFORMANCE.md.
 *
 * Every role runs in its own process (`bench/workers.ts`, `main.ts`,
 * `redis-server`), started and set up before the clock starts. The `redis`
 * case (trackers sharing an index in Redis) is in `bench/redis_bench.ts`,
 * the `tls` case (a download over TLS beside the same in plain) in
 * `bench/tls_bench.ts`. The `tracker` case measures the tracker, and a
 * bare Deno line server as its baseline (`bench/line_server.ts`), with a
 * second load client that shares no code with the project
 * (`bench/load_client.ts`), beside the project's own client.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { BufferedReader } from "../io/reader.ts";
import { writeAll, writeText } from "../io/streams.ts";
import { plural } from "../io/words.ts";
import { redisCase } from "./redis_bench.ts";
import { tlsCase } from "./tls_bench.ts";
import { type Figure, figureCells, figureTable, goalSummary, judge } from "./figures.ts";
import { benchChart } from "./chart.ts";

const HERE = new URL(".", import.meta.url).pathname;
const MAIN = join(HERE, "..", "main.ts");
const WORKERS = join(HERE, "workers.ts");
const MiB = 1024 * 1024;

const { values: flags } = parseArgs({
  args: Deno.args,
  options: {
    quick: { type: "boolean", default: false },
    size: { type: "string" },
    runs: { type: "string" },
    json: { type: "string" },
    only: { type: "string", default: "one,four,swarm,tracker,announce,live,http,crowd,redis,tls" },
    tmp: { type: "string" },
  },
});
const QUICK = flags.quick;
/** Where the figures go: docs/bench.json is the record of a full run; a quick run's are thrown away unless asked for. */
const JSON_PATH = flags.json ?? (QUICK ? undefined : join(HERE, "..", "docs", "bench.json"));
const CASES = ["one", "four", "swarm", "tracker", "announce", "live", "http", "crowd", "redis", "tls"];
const ONLY = new Set(flags.only!.split(","));
for (const name of ONLY) {
  if (!CASES.includes(name)) {
    console.error(`bench: --only ${name}: no such case; the cases are ${CASES.join(",")}`);
    Deno.exit(2);
  }
}
const SIZE = Number(flags.size ?? (QUICK ? 16 : 1024)) * MiB;
const PARALLEL_SIZE = Math.max(MiB, Math.floor(SIZE / 4));
const RUNS = Number(flags.runs ?? (QUICK ? 1 : 3));
const LOOKUP_SECONDS = QUICK ? 0.5 : 4;
const SCALES = QUICK ? [[10, 100], [100, 100]] : [[10, 100], [100, 100], [1_000, 100], [10_000, 100]];
const ANNOUNCE_FILES = QUICK ? 10_000 : 100_000;
/** Files in the folder of the live-peer case, 8 KiB each. */
const LIVE_FILES = QUICK ? 1_000 : 10_000;
/** The swarm case: a file held by 4 peers, each uploading at most SWARM_RATE bytes/s. */
const SWARM_SIZE = (QUICK ? 16 : 128) * MiB;
const SWARM_RATE = (QUICK ? 8 : 16) * MiB;
/** The memory case: this many HTTP downloads at once from one peer, of a file this big, each client at this rate. */
const HTTP_CLIENTS = 50;
const HTTP_MEMORY_SIZE = (QUICK ? 8 : 64) * MiB;
const HTTP_CLIENT_RATE = "20M";
/**
 * The crowd case: a seed and every downloader each upload at most CROWD_RATE bytes/s; the file is 8 × CROWD_RATE
 * (with --quick, 2 × CROWD_RATE: a check that the case runs, in a few seconds).
 */
const CROWD_RATE = 4 * MiB;
const CROWD_SIZE = (QUICK ? 2 : 8) * CROWD_RATE;
const CROWD_FILE = "big.bin";
/** The ideal: the seed sends the file once, at its rate, while the crowd passes each chunk on as it arrives. */
const CROWD_IDEAL_MS = CROWD_SIZE / CROWD_RATE * 1000;
/**
 * The crowds, in order: how many downloaders, whether they serve what they verified while they download (false:
 * `--no-partial`, the behaviour before issue 14, where all of 8 finish at about 64 s), and the goal for the last one
 * to land, × the ideal. The baseline runs in the full run only, to keep `--quick` short.
 */
const CROWDS: { downloaders: number; partial: boolean; goal?: number }[] = QUICK
  ? [{ downloaders: 4, partial: true, goal: 2 }]
  : [
    { downloaders: 8, partial: true, goal: 2 },
    { downloaders: 8, partial: false },
    { downloaders: 16, partial: true, goal: 2.5 },
  ];
/** How long a crowd may take before the bench stops waiting and reports who had landed by then. */
const CROWD_CAP_MS = (QUICK ? 4 : 15) * CROWD_IDEAL_MS;
/** The goal for the seed's bytes sent, as a multiple of the file's size. */
const CROWD_SEED_GOAL = 1.5;
/**
 * Runs of each side of the A/B of a peer's download from one holder, with and without `--no-partial`: more than
 * the other cases' by default, as run-to-run noise here (±30 %) is larger than the difference it looks for.
 */
const AB_RUNS = Number(flags.runs ?? (QUICK ? 1 : 5));

/** A line waited for: its start, or a pattern. */
type LineMatch = string | RegExp;

function matches(line: string, match: LineMatch): boolean {
  return typeof match === "string" ? line.startsWith(match) : match.test(line);
}

function shownMatch(match: LineMatch): string {
  return typeof match === "string" ? `"${match}"` : String(match);
}

/**
 * A child process speaking lines. Its output is read all the time (a child
 * blocked on a full pipe would stall); lines nobody waits for are kept, the
 * last 100.
 */
class Proc implements AsyncDisposable {
  readonly child: Deno.ChildProcess;
  readonly name: string;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #kept: string[] = [];
  #waiters: { match: LineMatch; resolve: (line: string) => void; reject: (e: Error) => void }[] = [];
  #listeners: ((line: string) => void)[] = [];
  #ended = false;
  #pump: Promise<void>;

  constructor(name: string, cmd: string, args: string[]) {
    this.name = name;
    this.child = new Deno.Command(cmd, { args, stdin: "piped", stdout: "piped", stderr: "inherit" }).spawn();
    this.#stdin = this.child.stdin.getWriter();
    this.#pump = this.#read();
  }

  static deno(name: string, args: string[]): Proc {
    // Deno opens files under /dev (such as /dev/shm) only with --allow-all.
    const permissions = flags.tmp?.startsWith("/dev/")
      ? ["--allow-all"]
      : ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"];
    return new Proc(name, Deno.execPath(), ["run", ...permissions, ...args]);
  }

  async #read(): Promise<void> {
    const reader = this.child.stdout.getReader();
    let pending = new Uint8Array();
    const lines = new BufferedReader({
      read: async (buffer) => {
        if (pending.length === 0) {
          const { value, done } = await reader.read();
          if (done) return null;
          pending = value;
        }
        const n = Math.min(pending.length, buffer.length);
        buffer.set(pending.subarray(0, n));
        pending = pending.subarray(n);
        return n;
      },
    });
    try {
      while (true) {
        const line = await lines.readLine();
        if (line === null) break;
        for (const listener of this.#listeners) listener(line);
        const i = this.#waiters.findIndex((w) => matches(line, w.match));
        if (i >= 0) this.#waiters.splice(i, 1)[0].resolve(line);
        else this.#kept = [...this.#kept.slice(-99), line];
      }
    } finally {
      this.#ended = true;
      for (const w of this.#waiters) w.reject(new Error(`${this.name} ended before printing ${shownMatch(w.match)}`));
      reader.releaseLock();
    }
  }

  /** The next line starting with `match`, or matching it if a pattern (other lines are passed over). */
  line(match: LineMatch): Promise<string> {
    const i = this.#kept.findIndex((l) => matches(l, match));
    if (i >= 0) return Promise.resolve(this.#kept.splice(0, i + 1).pop()!);
    if (this.#ended) return Promise.reject(new Error(`${this.name} ended before printing ${shownMatch(match)}`));
    return new Promise((resolve, reject) => this.#waiters.push({ match, resolve, reject }));
  }

  /** Calls `listener` with every line read from now on, waited for or not (the kept ones are only the last 100). */
  onLine(listener: (line: string) => void): void {
    this.#listeners.push(listener);
  }

  send(line: string): Promise<void> {
    return this.#stdin.write(new TextEncoder().encode(line + "\n"));
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.#stdin.close().catch(() => {});
    try {
      this.child.kill("SIGTERM");
    } catch { /* already gone */ }
    await this.child.status;
    await this.#pump.catch(() => {});
  }
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Resident (VmRSS) or peak resident (VmHWM) memory of a process, bytes. Deno reads /proc only with
 * --allow-all, so `cat` reads it. */
async function rss(pid: number, field: "VmRSS" | "VmHWM"): Promise<number> {
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/status`], stdout: "piped" }).output();
  const status = new TextDecoder().decode(stdout);
  return Number(new RegExp(`${field}:\\s+(\\d+) kB`).exec(status)?.[1]) * 1024;
}

function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = l.addr.port;
  l.close();
  return port;
}

async function run(cmd: string, args: string[]): Promise<void> {
  const { code, stderr } = await new Deno.Command(cmd, { args, stdout: "null", stderr: "piped" }).output();
  if (code !== 0) throw new Error(`${cmd} ${args.join(" ")}: ${new TextDecoder().decode(stderr)}`);
}

async function have(cmd: string, args = ["-V"]): Promise<boolean> {
  try {
    return (await new Deno.Command(cmd, { args, stdout: "null", stderr: "null" }).output()).success;
  } catch {
    return false;
  }
}

async function makeFile(path: string, size: number, seed: number): Promise<void> {
  using file = await Deno.open(path, { write: true, create: true, truncate: true });
  const block = new Uint8Array(MiB);
  for (let i = 0; i < block.length; i += 65_536) crypto.getRandomValues(block.subarray(i, i + 65_536));
  for (let written = 0; written < size; written += MiB) {
    new DataView(block.buffer).setUint32(0, written / MiB + seed * 1_000_003);
    await writeAll(file, block.subarray(0, Math.min(MiB, size - written)));
  }
}

// ---------------------------------------------------------------------------

const root = await Deno.makeTempDir({ dir: flags.tmp, prefix: "p2p-bench-" });
const results: Record<string, unknown> = {};
/** Every figure measured, in order: the table, the JSON's `figures` and the chart (bench/figures.ts, bench/chart.ts). */
const figures: Figure[] = [];
/** Records a figure (its value beside its baseline measured in the same run, and its goal) and says it on stderr. */
const figure = (f: Figure) => {
  figures.push(f);
  const [what, measured, baseline, ratio, goal, met] = figureCells(judge(f));
  const verdict = met === "—" ? goal : `${goal}: ${met}`;
  const beside = [baseline, ratio === "—" ? "" : `ratio ${ratio}`, goal === "—" ? "" : `goal ${verdict}`];
  console.error(`  ${what}: ${measured}  (${beside.filter((t) => t && t !== "—").join(", ") || "no baseline"})`);
};
/**
 * The older way to add a row, all text: a line of the table that is neither judged nor drawn. A `baseline` that
 * names a target or goal ("80 MiB target") goes to the goal column, anything else to the baseline column.
 */
const row = (what: string, value: string, baseline = "", ratio = "") => {
  const isGoal = /\b(target|goal)\b/i.test(baseline);
  figure({
    what,
    shown: value || "—",
    baselineWhat: baseline && !isGoal ? baseline : undefined,
    goalShown: isGoal ? baseline : undefined,
    ratioShown: ratio || undefined,
  });
};

const mbps = (bytes: number, ms: number) => bytes / 1e6 / (ms / 1000);
const fmtRate = (x: number) => `${x.toFixed(0)} MB/s`;

async function startTracker(extra: string[] = []): Promise<Proc & { port: number }> {
  const t = Proc.deno("tracker", [MAIN, "tracker", "--host", "127.0.0.1", "--port", "0", ...extra]);
  const port = Number((await t.line("listening on ")).split(":").pop());
  return Object.assign(t, { port });
}

/** The URL after a role's `http on URL` line. */
async function httpUrl(proc: Proc): Promise<string> {
  return (await proc.line("http on ")).slice("http on ".length);
}

/** A peer of `tracker` sharing `dir` on a free loopback port, started; {@link startPeer} waits until it shares. */
function peerProc(tracker: number, dir: string, extra: string[] = []): Proc {
  return Proc.deno("peer", [
    MAIN,
    "peer",
    "--tracker",
    `127.0.0.1:${tracker}`,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--dir",
    dir,
    "--info",
    join(root, "info.txt"),
    ...extra,
  ]);
}

async function startPeer(tracker: number, dir: string, extra: string[] = []): Promise<Proc> {
  const p = peerProc(tracker, dir, extra);
  await p.line("shared ");
  return p;
}

/** Whether `promise` settles within `ms` (a rejection is thrown). */
async function within(ms: number, promise: Promise<unknown>): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<false>((resolve) => timer = setTimeout(() => resolve(false), ms));
  try {
    return await Promise.race([promise.then(() => true), late]);
  } finally {
    clearTimeout(timer);
  }
}

/** One timed download by a `get` worker; returns ms and the worker's peak RSS. */
async function timedGet(tracker: number, names: string[], outDir: string): Promise<{ ms: number; peak: number }> {
  await using worker = Proc.deno("get", [WORKERS, "get", `127.0.0.1:${tracker}`, outDir]);
  await worker.line("ready");
  await settle();
  await worker.send(`go ${names.join(",")}`);
  const [, ms, ok] = (await worker.line("done ")).split(" ");
  if (ok !== "ok") throw new Error("download failed");
  return { ms: Number(ms), peak: await rss(worker.child.pid, "VmHWM") };
}

function socatPair(src: string, out: string): Promise<void> {
  const port = freePort();
  const recv = new Deno.Command("socat", {
    args: ["-u", "-b", "1048576", `TCP-LISTEN:${port},reuseaddr`, `OPEN:${out},creat,trunc`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  // socat retries until the listener is up; the clock starts when both are spawned.
  const send = new Deno.Command("socat", {
    args: ["-u", "-b", "1048576", `OPEN:${src}`, `TCP:127.0.0.1:${port},retry=200,interval=0.005`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return Promise.all([recv.status, send.status]).then(([a, b]) => {
    if (!a.success || !b.success) throw new Error("socat failed");
  });
}

/**
 * Flushes dirty pages to disk before a timed run, so that no run pays for
 * the write-back of the one before (the kernel throttles writers once dirty
 * memory passes its threshold; seen here as 300 MB/s instead of 1.4 GB/s).
 */
async function settle() {
  await run("sync", []);
}

async function clean(dir: string) {
  for await (const e of Deno.readDir(dir)) await Deno.remove(join(dir, e.name), { recursive: true });
}

// --- Scenario 1 and 6: one file, one holder -----------------------------------

/** What a person runs: the `get` task's permission flags, read from deno.json (all of them, for a tmp under /dev). */
async function getTaskFlags(): Promise<string[]> {
  if (flags.tmp?.startsWith("/dev/")) return ["--allow-all"];
  const { tasks } = JSON.parse(await Deno.readTextFile(join(HERE, "..", "deno.json")));
  return (tasks.get as string).split(/\s+/).filter((word) => word.startsWith("--"));
}

/**
 * One whole `get` process (`deno run <the get task's flags> main.ts get`),
 * timed from spawn to exit, start-up included; its peak RSS from
 * `/usr/bin/time` when there (`undefined` otherwise).
 */
async function getProcess(
  tracker: number,
  names: string[],
  options: { outDir: string; permissions: string[]; time: boolean },
): Promise<{ ms: number; peak?: number }> {
  const { outDir, permissions, time } = options;
  const args = ["run", ...permissions, MAIN, "get", "--tracker", `127.0.0.1:${tracker}`, "--out", outDir];
  const rssFile = join(root, "get.rss");
  const [cmd, ...rest] = time
    ? ["/usr/bin/time", "-f", "%M", "-o", rssFile, Deno.execPath(), ...args, ...names]
    : [Deno.execPath(), ...args, ...names];
  await settle();
  const t = performance.now();
  const { success, stdout, stderr } = await new Deno.Command(cmd, { args: rest, stdout: "piped", stderr: "piped" })
    .output();
  const ms = performance.now() - t;
  if (!success) {
    const text = new TextDecoder().decode(new Uint8Array([...stdout, ...stderr]));
    throw new Error(`get ${names.join(" ")} failed: ${text.trim()}`);
  }
  const peak = time ? Number((await Deno.readTextFile(rssFile)).trim().split("\n").pop()) * 1024 : undefined;
  return { ms, peak };
}

/** `get` beside socat measured in the same run, against its goal (a ratio: 1 is as fast as socat). */
function vsSocat(what: string, bytes: number, times: { ours: number[]; socat: number[]; goal: number }) {
  const { ours, socat, goal } = times;
  figure({
    what,
    value: mbps(bytes, median(ours)),
    unit: "MB/s",
    baseline: socat.length > 0 ? mbps(bytes, median(socat)) : undefined,
    baselineWhat: socat.length > 0 ? "socat -b 1048576" : undefined,
    goal: { ratio: goal },
    note: "whole processes, start-up included",
  });
}

/** A peak RSS against the 80 MiB goal. */
function peakRss(what: string, bytes: number) {
  figure({ what, value: bytes / MiB, unit: "MiB", goal: { value: 80 }, higherIsBetter: false });
}

async function oneFile(hasSocat: boolean) {
  console.error(`one file of ${SIZE / MiB} MiB, one holder, ${RUNS} runs`);
  const src = join(root, "src1");
  const out = join(root, "out1");
  await Deno.mkdir(src);
  await Deno.mkdir(out);
  await makeFile(join(src, "big.bin"), SIZE, 1);
  await using tracker = await startTracker();
  await using peer = await startPeer(tracker.port, src);
  const permissions = await getTaskFlags();
  const time = await have("/usr/bin/time", ["true"]);
  const ours: number[] = [];
  const socat: number[] = [];
  const socatSha: number[] = [];
  const raw: number[] = [];
  let receiverPeak = 0;
  for (let r = 0; r < RUNS; r++) {
    await clean(out);
    const got = await getProcess(tracker.port, ["big.bin"], { outDir: out, permissions, time });
    ours.push(got.ms);
    receiverPeak = Math.max(receiverPeak, got.peak ?? 0);
    await clean(out);
    {
      await using recv = Proc.deno("raw-recv", [WORKERS, "raw-recv", join(out, "raw.bin")]);
      const port = (await recv.line("ready ")).split(" ")[1];
      await using send = Proc.deno("raw-send", [WORKERS, "raw-send", join(src, "big.bin")]);
      await send.line("ready");
      await settle();
      const t = performance.now();
      await send.send(`go ${port}`);
      await recv.line("done ");
      raw.push(performance.now() - t);
    }
    if (hasSocat) {
      await clean(out);
      await settle();
      let t = performance.now();
      await socatPair(join(src, "big.bin"), join(out, "s.bin"));
      const transfer = performance.now() - t;
      socat.push(transfer);
      t = performance.now();
      await run("sha256sum", [join(out, "s.bin")]);
      socatSha.push(transfer + performance.now() - t);
    }
  }
  const senderPeak = await rss(peer.child.pid, "VmHWM");
  const oursRate = mbps(SIZE, median(ours));
  results.oneFile = {
    bytes: SIZE,
    oursMs: ours,
    whole: "a whole get process, from spawn to exit (start-up included)",
    rawDenoMs: raw,
    socatMs: socat,
    socatThenSha256sumMs: socatSha,
    senderPeakRss: senderPeak,
    receiverPeakRss: time ? receiverPeak : undefined,
  };
  vsSocat("1 file, verified: a whole get process", SIZE, { ours, socat, goal: 0.75 });
  row(
    "  vs Deno loop, 1 MiB buffer, unverified (timed from go)",
    fmtRate(oursRate),
    fmtRate(mbps(SIZE, median(raw))),
    (median(raw) / median(ours)).toFixed(2),
  );
  if (hasSocat) {
    row(
      "  vs socat then sha256sum",
      fmtRate(oursRate),
      fmtRate(mbps(SIZE, median(socatSha))),
      (median(socatSha) / median(ours)).toFixed(2),
    );
  }
  peakRss("peak RSS, serving peer (whole life)", senderPeak);
  if (time) peakRss("peak RSS, get process (whole life)", receiverPeak);
  await clean(out);
  await peer[Symbol.asyncDispose](); // first: a watching peer would see its folder go
  await Deno.remove(src, { recursive: true });
}

// --- Scenario 2: four files from four holders ----------------------------------

async function fourFiles(hasSocat: boolean) {
  console.error(`four files of ${PARALLEL_SIZE / MiB} MiB from four holders, ${RUNS} runs`);
  const out = join(root, "out4");
  await Deno.mkdir(out);
  await using tracker = await startTracker();
  const permissions = await getTaskFlags();
  const time = await have("/usr/bin/time", ["true"]);
  const peers: Proc[] = [];
  const srcs: string[] = [];
  try {
    for (let i = 0; i < 4; i++) {
      const dir = join(root, `src4-${i}`);
      await Deno.mkdir(dir);
      await makeFile(join(dir, `part${i}.bin`), PARALLEL_SIZE, 10 + i);
      srcs.push(join(dir, `part${i}.bin`));
      peers.push(await startPeer(tracker.port, dir));
    }
    const names = ["part0.bin", "part1.bin", "part2.bin", "part3.bin"];
    const ours: number[] = [];
    const socat: number[] = [];
    let receiverPeak = 0;
    for (let r = 0; r < RUNS; r++) {
      await clean(out);
      const got = await getProcess(tracker.port, names, { outDir: out, permissions, time });
      ours.push(got.ms);
      receiverPeak = Math.max(receiverPeak, got.peak ?? 0);
      if (hasSocat) {
        await clean(out);
        await settle();
        const t = performance.now();
        await Promise.all(srcs.map((s, i) => socatPair(s, join(out, `s${i}.bin`))));
        socat.push(performance.now() - t);
      }
    }
    let senderPeak = 0;
    for (const p of peers) senderPeak = Math.max(senderPeak, await rss(p.child.pid, "VmHWM"));
    results.fourFiles = {
      bytesEach: PARALLEL_SIZE,
      oursMs: ours,
      whole: "one get process for the four names, from spawn to exit (start-up included)",
      socatMs: socat,
      senderPeakRss: senderPeak,
      receiverPeakRss: time ? receiverPeak : undefined,
    };
    const total = 4 * PARALLEL_SIZE;
    const what = "4 files from 4 holders, one get process (total)";
    vsSocat(what, total, { ours, socat, goal: 0.8 });
    peakRss("peak RSS, serving peers (largest, whole life)", senderPeak);
    if (time) peakRss("peak RSS, get of 4 files (whole life)", receiverPeak);
  } finally {
    for (const p of peers) await p[Symbol.asyncDispose]();
    await clean(out);
  }
}

// --- Scenario 3: one file held by four rate-limited peers ------------------------

async function swarm() {
  const rate = `${SWARM_RATE / MiB}M`;
  const shown = `${SWARM_RATE / MiB} MiB/s`;
  console.error(`one file of ${SWARM_SIZE / MiB} MiB, holders uploading at most ${shown} each, ${RUNS} runs`);
  const out = join(root, "out-swarm");
  await Deno.mkdir(out);
  const dirs: string[] = [];
  for (let i = 0; i < 5; i++) {
    dirs.push(join(root, `src-swarm-${i}`));
    await Deno.mkdir(dirs[i]);
  }
  await makeFile(join(dirs[0], "swarm.bin"), SWARM_SIZE, 42);
  for (const dir of dirs.slice(1)) await Deno.copyFile(join(dirs[0], "swarm.bin"), join(dir, "swarm.bin"));
  // Two trackers: one knows a single holder, the other four holders, all with the same upload limit.
  await using alone = await startTracker();
  await using many = await startTracker();
  const peers: Proc[] = [];
  try {
    peers.push(await startPeer(alone.port, dirs[0], ["--max-upload-rate", rate]));
    for (const dir of dirs.slice(1)) peers.push(await startPeer(many.port, dir, ["--max-upload-rate", rate]));
    const single: number[] = [];
    const four: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      await clean(out);
      single.push((await timedGet(alone.port, ["swarm.bin"], out)).ms);
      await clean(out);
      four.push((await timedGet(many.port, ["swarm.bin"], out)).ms);
    }
    const r1 = mbps(SWARM_SIZE, median(single));
    const r4 = mbps(SWARM_SIZE, median(four));
    const limit = SWARM_RATE / 1e6;
    results.swarm = { bytes: SWARM_SIZE, rateLimit: SWARM_RATE, singleHolderMs: single, fourHoldersMs: four };
    figure({
      what: `1 file from 1 holder limited to ${shown}`,
      value: r1,
      unit: "MB/s",
      note: `${(r1 / limit).toFixed(2)} of the limit R = ${limit.toFixed(1)} MB/s`,
    });
    figure({
      what: `1 file from 4 holders limited to ${shown} each`,
      value: r4,
      unit: "MB/s",
      baseline: r1,
      baselineWhat: "1 holder, same limit",
      goal: { ratio: 3.5 },
      note: `${(r4 / limit).toFixed(2)} R`,
    });
  } finally {
    for (const p of peers) await p[Symbol.asyncDispose]();
    await clean(out);
  }
}

// --- Scenario 8: a flash crowd (issue 14) -----------------------------------------

/** The crowd's file's name in a pattern. */
const FILE_PATTERN = CROWD_FILE.replace(".", "\\.");
/** What a peer prints when a download of the crowd's file ended: `saved big.bin (…) from …` or `failed big.bin: …`. */
const LANDED = new RegExp(`^(?:saved|failed) ${FILE_PATTERN}[ :]`);

/** A size as `formatBytes` (cli/report.ts) shows it: `96 B`, `8.00 MiB`, `32.0 MiB`. */
const SHOWN_BYTES = String.raw`(\d+(?:\.\d+)?) (B|KiB|MiB|GiB)`;
const UNITS: Record<string, number> = { B: 1, KiB: 1024, MiB, GiB: 1024 * MiB };
/** The lines of a serving peer that tell how much of the crowd's file it sent (cli/report.ts `formatPeerEvent`). */
const SENT_LINES = [
  // `sent 8 ranges of big.bin (8.00 MiB of 32.0 MiB) to HOST:PORT`
  new RegExp(`^sent \\d+ ranges? of ${FILE_PATTERN} \\(${SHOWN_BYTES} of `),
  // `sent big.bin (32.0 MiB) to HOST:PORT`: the whole file in one answer
  new RegExp(`^sent ${FILE_PATTERN} \\(${SHOWN_BYTES}\\) to `),
  // `stopped sending big.bin to HOST:PORT after 1.50 MiB of 32.0 MiB: why`
  new RegExp(`^stopped sending ${FILE_PATTERN} to \\S+ after ${SHOWN_BYTES} of `),
];

/**
 * The bytes of the crowd's file a serving peer's line says it sent; 0 for
 * any other line. The sizes are shown to three figures, so each line's is
 * within half a percent.
 */
function sentBytes(line: string): number {
  for (const pattern of SENT_LINES) {
    const m = pattern.exec(line);
    if (m) return Math.round(Number(m[1]) * UNITS[m[2]]);
  }
  return 0;
}

/** One crowd: how long each download took, and what the seed sent. */
interface CrowdRun {
  downloaders: number;
  /** False: the downloaders ran with `--no-partial`. */
  partial: boolean;
  /** The goal for the last to land, × the ideal; none for the baseline. */
  goal?: number;
  /** From the moment every downloader was told `SEND` to each landing, ms, in the order they landed. */
  doneMs: number[];
  /** The downloads that failed, as their peers said. */
  failed: string[];
  /** True when {@link CROWD_CAP_MS} passed before every download had landed or failed. */
  capped: boolean;
  /** Bytes of the file the seed sent, from its `sent …` and `stopped sending …` lines. */
  seedSentBytes: number;
}

/**
 * A crowd of `crowd.downloaders` peers, each in its own fresh folder and
 * uploading at most CROWD_RATE, all told `SEND big.bin` at once; the seed,
 * sharing `seedDir` at the same rate, is the only holder when they start.
 * Every process is started and has announced before the clock starts.
 */
async function crowdRun(seedDir: string, crowd: { downloaders: number; partial: boolean }): Promise<CrowdRun> {
  const rate = String(CROWD_RATE);
  const run = { ...crowd, doneMs: [] as number[], failed: [] as string[], capped: false, seedSentBytes: 0 };
  await using tracker = await startTracker();
  const seed = await startPeer(tracker.port, seedDir, ["--max-upload-rate", rate]);
  seed.onLine((line) => run.seedSentBytes += sentBytes(line));
  const peers: Proc[] = [];
  const dirs: string[] = [];
  let over = false;
  try {
    const extra = ["--max-upload-rate", rate, ...crowd.partial ? [] : ["--no-partial"]];
    for (let i = 0; i < crowd.downloaders; i++) {
      dirs.push(await Deno.makeTempDir({ dir: root, prefix: "crowd-" }));
      peers.push(peerProc(tracker.port, dirs[i], extra));
    }
    await Promise.all(peers.map((p) => p.line("shared ")));
    await settle();
    const t = performance.now();
    const ended = peers.map((p) =>
      p.line(LANDED).then(
        (line) => line.startsWith("saved") ? run.doneMs.push(performance.now() - t) : run.failed.push(line),
        (error) => over || run.failed.push(`${p.name}: ${error.message}`), // after the cap: stopped by the bench
      )
    );
    await Promise.all(peers.map((p) => p.send(`SEND ${CROWD_FILE}`)));
    run.capped = !await within(CROWD_CAP_MS, Promise.all(ended));
  } finally {
    over = true;
    await Promise.all(peers.map((p) => p[Symbol.asyncDispose]()));
    // After the downloaders: every connection to the seed has ended, and its lines (read to the end) are counted.
    await seed[Symbol.asyncDispose]();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
  for (const line of run.failed) console.error(`  crowd: ${line}`);
  return run;
}

/** A fresh peer downloading `big.bin` into its folder, `--no-partial` or not; ms from `SEND` to its landing. */
async function peerDownload(tracker: number, partial: boolean): Promise<number> {
  const dir = await Deno.makeTempDir({ dir: root, prefix: "peer-one-" });
  try {
    await using peer = await startPeer(tracker, dir, partial ? [] : ["--no-partial"]);
    await settle();
    const t = performance.now();
    await peer.send(`SEND ${CROWD_FILE}`);
    const line = await peer.line(LANDED);
    const ms = performance.now() - t;
    if (!line.startsWith("saved")) throw new Error(`a peer's download from one holder: ${line}`);
    return ms;
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
}

/**
 * A single download into a peer's folder from one full holder, with and
 * without `--no-partial`, in turns: partial serving checks each chunk as it
 * arrives even from one holder, and this A/B says what that costs.
 */
async function singleFromOneHolder(): Promise<{ bytes: number; servePartialMs: number[]; noPartialMs: number[] }> {
  console.error(
    `one file of ${
      SIZE / MiB
    } MiB into a peer's folder from one holder, with and without --no-partial, ${AB_RUNS} runs`,
  );
  const src = join(root, "src-peer-one");
  await Deno.mkdir(src);
  await makeFile(join(src, CROWD_FILE), SIZE, 21);
  const times = { bytes: SIZE, servePartialMs: [] as number[], noPartialMs: [] as number[] };
  await using tracker = await startTracker();
  const holder = await startPeer(tracker.port, src);
  try {
    for (let r = 0; r < AB_RUNS; r++) {
      // Turn about, so that neither always goes first.
      for (const partial of r % 2 === 0 ? [true, false] : [false, true]) {
        (partial ? times.servePartialMs : times.noPartialMs).push(await peerDownload(tracker.port, partial));
      }
    }
  } finally {
    await holder[Symbol.asyncDispose](); // first: a watching peer would see its folder go
    await Deno.remove(src, { recursive: true });
  }
  return times;
}

async function crowd() {
  const ideal = CROWD_IDEAL_MS / 1000;
  const seedDir = join(root, "src-crowd");
  await Deno.mkdir(seedDir);
  await makeFile(join(seedDir, CROWD_FILE), CROWD_SIZE, 77);
  const runs: CrowdRun[] = [];
  try {
    for (const c of CROWDS) {
      const how = c.partial ? "serving verified chunks" : "--no-partial";
      console.error(
        `a crowd of ${c.downloaders} (${how}) for a ${CROWD_SIZE / MiB} MiB file from one seed, ` +
          `every peer uploading at most ${CROWD_RATE / MiB} MiB/s`,
      );
      runs.push({ ...await crowdRun(seedDir, c), goal: c.goal });
    }
  } finally {
    await Deno.remove(seedDir, { recursive: true });
  }
  const lastOf = (r: CrowdRun | undefined) => r && !r.capped && r.failed.length === 0 ? r.doneMs.at(-1) : undefined;
  for (const run of runs) {
    const last = run.capped || run.doneMs.length < run.downloaders ? undefined : run.doneMs.at(-1)!;
    const landed = `${run.doneMs.length} of ${run.downloaders} landed${
      run.capped ? ` in ${CROWD_CAP_MS / 1000} s` : ""
    }`;
    // The crowd of the same size with --no-partial, measured in the same (full) run: the behaviour before issue 14.
    const before = run.partial ? lastOf(runs.find((r) => !r.partial && r.downloaders === run.downloaders)) : undefined;
    figure({
      what: `crowd of ${run.downloaders}, ${run.partial ? "partial serving" : "--no-partial (before)"}: last landed`,
      // Capped: at least the cap, which is what a goal is judged against.
      value: (last ?? CROWD_CAP_MS) / 1000,
      unit: "s",
      shown: last === undefined ? `only ${landed}` : undefined,
      baseline: before === undefined ? undefined : before / 1000,
      baselineWhat: before === undefined ? undefined : "--no-partial",
      goal: run.goal === undefined ? undefined : { value: run.goal * ideal },
      higherIsBetter: false,
      note: run.goal === undefined
        ? `ideal ${ideal} s; all about 64 s before issue 14`
        : `ideal ${ideal} s; goal ≤ ${run.goal}x the ideal`,
    });
    if (run.doneMs.length > 0) {
      const first = run.doneMs[0] / 1000;
      const mid = median(run.doneMs) / 1000;
      figure({ what: "  first / median landed", shown: `${first.toFixed(1)} / ${mid.toFixed(1)} s` });
    }
    const sent = run.seedSentBytes / CROWD_SIZE;
    figure({
      what: "  seed sent, × the file",
      value: sent,
      unit: "x",
      shown: `${sent.toFixed(2)}x (${(run.seedSentBytes / MiB).toFixed(1)} MiB)`,
      goal: run.partial ? { value: CROWD_SEED_GOAL } : undefined,
      higherIsBetter: false,
    });
  }
  const single = await singleFromOneHolder();
  figure({
    what: `1 file (${SIZE / MiB} MiB) into a peer's folder from 1 holder (${plural(AB_RUNS, "run")})`,
    value: mbps(SIZE, median(single.servePartialMs)),
    unit: "MB/s",
    baseline: mbps(SIZE, median(single.noPartialMs)),
    baselineWhat: "--no-partial",
    goal: { ratio: 1 },
    note: "goal: no slower (run-to-run noise here is about ±30 %)",
  });
  results.crowd = {
    fileBytes: CROWD_SIZE,
    rateLimit: CROWD_RATE,
    idealMs: CROWD_IDEAL_MS,
    capMs: CROWD_CAP_MS,
    seedSentGoal: CROWD_SEED_GOAL,
    runs,
    singleFromOneHolder: single,
  };
}

// --- Scenarios 4 and 5: the tracker ---------------------------------------------

/**
 * A fresh tracker to which `peers` connections have announced `files` files
 * each (they stay connected until disposed), with its RSS before and after.
 */
async function announcedTracker(peers: number, files: number) {
  // The announcing peers stay silent while the lookups are measured, which can take longer than the default idle
  // timeout (120 s) with a million entries: their sessions must not be closed under the measurement.
  const tracker = await startTracker(["--idle-timeout", "3600"]);
  const before = await rss(tracker.child.pid, "VmRSS");
  const announcer = Proc.deno("announce", [WORKERS, "announce", String(tracker.port), String(peers), String(files)]);
  await announcer.line("ready");
  const after = await rss(tracker.child.pid, "VmRSS");
  return {
    port: tracker.port,
    pid: tracker.child.pid,
    growth: after - before,
    before,
    after,
    [Symbol.asyncDispose]: async () => {
      await announcer[Symbol.asyncDispose]();
      await tracker[Symbol.asyncDispose]();
    },
  };
}

const LINE_SERVER = join(HERE, "line_server.ts");
const LOAD_CLIENT = join(HERE, "load_client.ts");
/** Scales (entries) at which the tracker is also measured by the external client beside the bare line server. */
const EXTERNAL_SCALES = [10_000, 1_000_000];
/** Seconds each external measurement counts (after its own 0.5 s warm-up); rounds alternate server and tracker. */
const EXTERNAL_SECONDS = QUICK ? 0.5 : 2;
/** Names the external client asks for, at most: a sample of the index, the same every run. */
const EXTERNAL_NAMES = 20_000;

/** What `bench/load_client.ts` prints, and the CPU time the server spent meanwhile. */
interface LoadResult {
  requests: number;
  seconds: number;
  rps: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  /** Every reply the client got, warm-up included. */
  replies: number;
  /** Server CPU (user + system) per reply over the client's whole run, µs (its connections' set-up included). */
  cpuUs: number;
}

/** User + system CPU time of process `pid`, seconds (Deno reads /proc only with --allow-all, so `cat` reads it). */
async function cpuSeconds(pid: number): Promise<number> {
  const { stdout } = await new Deno.Command("cat", { args: [`/proc/${pid}/stat`], stdout: "piped" }).output();
  // The fields after the command name, which is in parentheses and may hold spaces: utime and stime are 14 and 15.
  const fields = new TextDecoder().decode(stdout).split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100; // clock ticks of 1/100 s (getconf CLK_TCK)
}

/** One run of `bench/load_client.ts` (a process of its own, sharing no code with the project) against `port`. */
async function loadClient(port: number, pid: number, options: { depth: number; names: string }): Promise<LoadResult> {
  const before = await cpuSeconds(pid);
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--allow-net=127.0.0.1", "--allow-read", LOAD_CLIENT, "--to", `127.0.0.1:${port}`]
      .concat(["--connections", "50", "--depth", String(options.depth), "--seconds", String(EXTERNAL_SECONDS)])
      .concat(["--names", options.names]),
    stdout: "piped",
    stderr: "piped",
  }).output();
  const cpu = await cpuSeconds(pid) - before;
  const text = new TextDecoder();
  if (!success) throw new Error(`load_client against 127.0.0.1:${port} failed: ${text.decode(stderr).trim()}`);
  const result = JSON.parse(text.decode(stdout).trim().split("\n").pop()!);
  return { ...result, cpuUs: result.replies > 0 ? cpu / result.replies * 1e6 : NaN };
}

/** The names `bench/workers.ts announce` gives file `i` of peer `p` (its `fakeName`); the external client asks for them. */
function announcedName(p: number, i: number): string {
  return `peer${p}-file${i}.bin`;
}

/**
 * The tracker at `port` (process `pid`, `peers` × `files` entries) and the
 * bare line server at `line`, measured alternately by the external client
 * at depths 1 and 4: medians of `AB_RUNS` rounds, each figure beside the
 * bare server's. The goal (issue 16): 100,000 lookups/s, or 0.75 of the
 * bare server; p99 at most 2 ms.
 */
async function externalLookups(
  tracker: { port: number; pid: number },
  scale: { peers: number; files: number; line: { port: number; pid: number } },
): Promise<Record<string, unknown>[]> {
  const { peers, files, line } = scale;
  const entries = peers * files;
  // A sample of the indexed names, every one when there are few, drawn the same way each run.
  const names: string[] = [];
  if (entries <= EXTERNAL_NAMES) {
    for (let p = 0; p < peers; p++) for (let i = 0; i < files; i++) names.push(announcedName(p, i));
  } else {
    let seed = 7;
    const next = (n: number) => (seed = (seed * 1_103_515_245 + 12_345) & 0x7fffffff) % n;
    for (let k = 0; k < EXTERNAL_NAMES; k++) names.push(announcedName(next(peers), next(files)));
  }
  const namesFile = join(root, `names-${entries}.txt`);
  await Deno.writeTextFile(namesFile, names.join("\n") + "\n");
  const measured: Record<string, unknown>[] = [];
  for (const depth of [1, 4]) {
    const ours: LoadResult[] = [];
    const bare: LoadResult[] = [];
    for (let r = 0; r < AB_RUNS; r++) {
      // Alternately first: neither is always measured on a machine just warmed (or just slowed) by the other.
      const order = r % 2 === 0 ? [bare, ours] : [ours, bare];
      for (const into of order) {
        const server = into === ours ? tracker : line;
        into.push(await loadClient(server.port, server.pid, { depth, names: namesFile }));
      }
    }
    const med = (results: LoadResult[], key: keyof LoadResult) => median(results.map((x) => x[key]));
    const errors = ours.reduce((sum, x) => sum + x.errors, 0) + bare.reduce((sum, x) => sum + x.errors, 0);
    const rounds = `${plural(AB_RUNS, "round")} of ${EXTERNAL_SECONDS} s`;
    figure({
      what: `lookups/s, 50 conns x ${depth} in flight, ${entries} entries, external client`,
      value: med(ours, "rps"),
      unit: "lookups/s",
      baseline: med(bare, "rps"),
      baselineWhat: "bare Deno line server, same client",
      goal: { value: 100_000, ratio: 0.75 },
      note: `bench/load_client.ts, ${rounds} alternating with the bare server; every run: ${
        ours.map((x) => x.rps).join(" / ")
      } vs ${bare.map((x) => x.rps).join(" / ")}${errors > 0 ? `; ${errors} bad or missing replies` : ""}`,
    });
    figure({
      what: `  p99 latency (shown: p50 / p99), external client`,
      value: med(ours, "p99Ms"),
      unit: "ms",
      shown: `${med(ours, "p50Ms").toFixed(2)} / ${med(ours, "p99Ms").toFixed(2)} ms`,
      baseline: med(bare, "p99Ms"),
      baselineWhat: "bare server's p99",
      goal: { value: 2 },
      higherIsBetter: false,
      note: `the bare server's p50 / p99: ${med(bare, "p50Ms").toFixed(2)} / ${med(bare, "p99Ms").toFixed(2)} ms`,
    });
    figure({
      what: `  server CPU per lookup (user + system)`,
      value: med(ours, "cpuUs"),
      unit: "µs",
      baseline: med(bare, "cpuUs"),
      baselineWhat: "bare server, per line",
      higherIsBetter: false,
      note: "the kernel's share (loopback send and receive, wake-ups) is in both",
    });
    if (errors > 0) {
      console.error(`  the external client counted ${errors} bad or missing replies: a lookup went wrong`);
    }
    measured.push({ depth, tracker: ours, bareServer: bare });
  }
  return measured;
}

async function trackerScale() {
  const scale: unknown[] = [];
  // The baseline of the external measurements: a bare Deno line server, up for the whole case.
  await using line = Proc.deno("line server", [LINE_SERVER]);
  const linePort = Number((await line.line("listening on ")).split(" ").pop());
  // What the connections alone cost: the same number of peers, announcing nothing.
  const [maxPeers, maxFiles] = SCALES[SCALES.length - 1];
  console.error(`tracker with ${maxPeers} peers announcing nothing`);
  let perPeer: number;
  {
    await using idle = await announcedTracker(maxPeers, 0);
    perPeer = idle.growth / maxPeers;
  }
  row(`tracker memory per connected peer (${maxPeers} peers, no files)`, `${(perPeer / 1024).toFixed(1)} KiB`);
  results.trackerPerPeerRss = perPeer;
  for (const [peers, files] of SCALES) {
    const entries = peers * files;
    console.error(`tracker with ${entries} entries (${peers} peers x ${files} files)`);
    await using tracker = await announcedTracker(peers, files);
    const { before, after } = tracker;
    const perEntry = (after - before) / entries;
    const lookups: Record<string, unknown>[] = [];
    for (const depth of [1, 4]) {
      await using load = Proc.deno("lookups", [
        WORKERS,
        "lookups",
        String(tracker.port),
        "50",
        String(LOOKUP_SECONDS),
        String(peers),
        String(files),
        String(depth),
      ]);
      await load.line("ready");
      await load.send("go");
      const result = JSON.parse(await load.line("{"));
      lookups.push(result);
      row(
        `lookups/s, 50 conns x ${depth} in flight, ${entries} entries, the project's own client`,
        result.perSecond.toFixed(0),
        "100000 target",
        (result.perSecond / 100_000).toFixed(2),
      );
      row(`  p50 / p99 latency`, `${result.p50.toFixed(2)} / ${result.p99.toFixed(2)} ms`, "p99 2 ms target");
    }
    const external = EXTERNAL_SCALES.includes(entries)
      ? await externalLookups(tracker, { peers, files, line: { port: linePort, pid: line.child.pid } })
      : undefined;
    scale.push({ entries, rssBefore: before, rssAfter: after, bytesPerEntry: perEntry, lookups, external });
    row(`  tracker memory per entry (RSS after - before)`, `${perEntry.toFixed(0)} B`, "200 B target");
    if (peers === maxPeers && files === maxFiles) {
      const withoutPeers = (after - before - perPeer * peers) / entries;
      row(`  the same, less the connections' own cost`, `${withoutPeers.toFixed(0)} B`, "200 B target");
      results.trackerPerEntryLessConnections = withoutPeers;
    }
  }
  results.trackerScale = scale;
}

async function announceOne() {
  console.error(`one peer announcing ${ANNOUNCE_FILES} files`);
  const times: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    await using tracker = await startTracker();
    await using one = Proc.deno("announce-one", [
      WORKERS,
      "announce-one",
      String(tracker.port),
      String(ANNOUNCE_FILES),
    ]);
    await one.line("ready");
    await one.send("go");
    times.push(Number((await one.line("done ")).split(" ")[1]));
  }
  results.announce = { files: ANNOUNCE_FILES, ms: times };
  figure({
    what: `announce of ${ANNOUNCE_FILES} files`,
    value: median(times),
    unit: "ms",
    // The goal is for 100,000 files; a quick run's 10,000 are not judged.
    goal: ANNOUNCE_FILES === 100_000 ? { value: 1_000 } : undefined,
    goalShown: ANNOUNCE_FILES === 100_000 ? undefined : "≤ 1,000 ms for 100,000 files",
    higherIsBetter: false,
  });
}

/** A peer's start with and without its hash cache, and how soon a file dropped into its folder is announced. */
async function livePeer() {
  console.error(`a peer on ${LIVE_FILES} files of 8 KiB: first start, restart, a file dropped in`);
  const firsts: number[] = [];
  const restarts: number[] = [];
  const changes: number[] = [];
  for (let r = 0; r < RUNS; r++) {
    const dir = join(root, `live-${r}`);
    await Deno.mkdir(dir);
    const data = new Uint8Array(8 * 1024);
    for (let i = 0; i < LIVE_FILES; i++) {
      data.fill(i & 0xff, 0, 8);
      new DataView(data.buffer).setUint32(8, i);
      await Deno.writeFile(join(dir, `file-${i}.dat`), data);
    }
    // A folder that was there before the peer: files changed just before they are hashed are not cached.
    const hourAgo = new Date(Date.now() - 3_600_000);
    for (let i = 0; i < LIVE_FILES; i++) await Deno.utime(join(dir, `file-${i}.dat`), hourAgo, hourAgo);
    await using tracker = await startTracker();
    await using live = Proc.deno("live", [WORKERS, "live", String(tracker.port), dir]);
    const [, first, restart, change] = (await live.line("done ")).split(" ").map(Number);
    firsts.push(first);
    restarts.push(restart);
    changes.push(change);
    await clean(dir);
  }
  results.live = { files: LIVE_FILES, firstMs: firsts, restartMs: restarts, changeMs: changes };
  figure({
    what: `peer restart, ${LIVE_FILES} files, hash cache`,
    value: median(restarts),
    unit: "ms",
    baseline: median(firsts),
    baselineWhat: "first start, hashing every file",
    higherIsBetter: false,
    note: "no file read again",
  });
  figure({
    what: "file dropped in → a waiting client told",
    value: median(changes),
    unit: "ms",
    goal: { value: 1_000 },
    higherIsBetter: false,
    note: "about 1 s",
  });
}

// --- Scenario 7: clients nobody here wrote (curl, aria2c) over the HTTP faces ----------

/** Runs `cmd` and returns how long it took, ms; throws when it fails. */
async function timed(cmd: string, args: string[]): Promise<number> {
  const t = performance.now();
  await run(cmd, args);
  return performance.now() - t;
}

/**
 * socat serving `answer` (an HTTP header, then the file) once on a free
 * port: curl fetching from it is curl's own ceiling on this machine.
 */
function socatAnswer(answer: string): { url: string; done: Promise<void> } {
  const port = freePort();
  const child = new Deno.Command("socat", {
    // The file one way; the request, read (not left unread, which would reset the connection), into /dev/null.
    args: ["-b", "1048576", `OPEN:${answer}!!OPEN:/dev/null`, `TCP-LISTEN:${port},reuseaddr`],
    stdout: "null",
    stderr: "inherit",
  }).spawn();
  return { url: `http://127.0.0.1:${port}/`, done: child.status.then(() => {}) };
}

async function httpClients(hasSocat: boolean) {
  const tools = { curl: await have("curl"), aria2c: await have("aria2c", ["--version"]) };
  if (!tools.curl) console.error("curl not found: the HTTP cases that use it are skipped");
  if (!tools.aria2c) console.error("aria2c not found: the Metalink case is skipped");
  const src = join(root, "src-http");
  const out = join(root, "out-http");
  await Deno.mkdir(src);
  await Deno.mkdir(out);
  await makeFile(join(src, "big.bin"), SIZE, 7);
  await makeFile(join(src, "mem.bin"), HTTP_MEMORY_SIZE, 8);
  await using tracker = await startTracker();
  await using peer = await startPeer(tracker.port, src, ["--http-port", "0"]);
  const base = await httpUrl(peer);
  if (tools.curl) {
    console.error(`one file of ${SIZE / MiB} MiB to curl from a peer's HTTP face, ${RUNS} runs`);
    const ours: number[] = [];
    const socat: number[] = [];
    const ceiling: number[] = [];
    const answer = join(root, "answer.bin");
    if (hasSocat) {
      const header = `HTTP/1.1 200 OK\r\nContent-Length: ${SIZE}\r\nConnection: close\r\n\r\n`;
      await Deno.writeTextFile(answer, header);
      using file = await Deno.open(answer, { append: true });
      using big = await Deno.open(join(src, "big.bin"));
      await big.readable.pipeTo(file.writable, { preventClose: true });
    }
    for (let r = 0; r < RUNS; r++) {
      await clean(out);
      await settle();
      ours.push(await timed("curl", ["-sS", "--fail", "-o", join(out, "c.bin"), `${base}files/big.bin`]));
      if ((await Deno.stat(join(out, "c.bin"))).size !== SIZE) throw new Error("curl got a short file");
      if (!hasSocat) continue;
      await clean(out);
      await settle();
      const t = performance.now();
      await socatPair(join(src, "big.bin"), join(out, "s.bin"));
      socat.push(performance.now() - t);
      await clean(out);
      await settle();
      const served = socatAnswer(answer);
      // curl retries until socat listens; the clock starts as both are spawned.
      ceiling.push(
        await timed("curl", [
          "-sS",
          "--retry",
          "50",
          "--retry-connrefused",
          "--retry-delay",
          "0",
          "-o",
          join(out, "c.bin"),
          served.url,
        ]),
      );
      await served.done;
    }
    results.httpCurl = { bytes: SIZE, oursMs: ours, socatMs: socat, socatToCurlMs: ceiling };
    const what = `1 file to curl -o FILE from a peer's HTTP face (${SIZE / MiB} MiB)`;
    const value = mbps(SIZE, median(ours));
    if (!hasSocat) figure({ what, value, unit: "MB/s" });
    else {
      const socatRate = mbps(SIZE, median(socat));
      figure({
        what,
        value,
        unit: "MB/s",
        baseline: socatRate,
        baselineWhat: "socat -b 1048576",
        goal: { ratio: 0.8 },
      });
      figure({
        what: "  the same, beside curl from socat sending a canned answer",
        value,
        unit: "MB/s",
        baseline: mbps(SIZE, median(ceiling)),
        baselineWhat: "curl's ceiling",
      });
    }
    await clean(out);
  }
  if (tools.curl) await httpMemory(tracker.port, src);
  if (tools.aria2c) await metalinkSwarm(out);
}

/** The peak memory of a peer (fresh, so that no earlier case set its peak) serving many HTTP downloads at once. */
async function httpMemory(tracker: number, src: string) {
  await using peer = await startPeer(tracker, src, ["--http-port", "0"]);
  const base = await httpUrl(peer);
  console.error(
    `${HTTP_CLIENTS} curl downloads of ${
      HTTP_MEMORY_SIZE / MiB
    } MiB at once from one peer, each at most ${HTTP_CLIENT_RATE}B/s`,
  );
  const before = await rss(peer.child.pid, "VmHWM");
  const t = performance.now();
  const get = ["-sS", "--fail", "--limit-rate", HTTP_CLIENT_RATE, "-o", "/dev/null", `${base}files/mem.bin`];
  await Promise.all(Array.from({ length: HTTP_CLIENTS }, () => timed("curl", get)));
  const ms = performance.now() - t;
  const peak = await rss(peer.child.pid, "VmHWM");
  results.httpMemory = {
    clients: HTTP_CLIENTS,
    bytesEach: HTTP_MEMORY_SIZE,
    ms,
    peakBeforeBytes: before,
    peakBytes: peak,
  };
  figure({
    what: `peer serving ${HTTP_CLIENTS} HTTP downloads at once: peak RSS`,
    value: peak / MiB,
    unit: "MiB",
    baseline: before / MiB,
    baselineWhat: "its peak before they started",
    goal: { value: 100 },
    higherIsBetter: false,
  });
}

/** aria2c given the tracker's Metalink of a file four peers hold, each uploading at most SWARM_RATE. */
async function metalinkSwarm(out: string) {
  const rate = `${SWARM_RATE / MiB}M`;
  const shown = `${SWARM_RATE / MiB} MiB/s`;
  console.error(
    `aria2c with the Metalink of a ${SWARM_SIZE / MiB} MiB file, 4 peers at most ${shown} each, ${RUNS} runs`,
  );
  const dirs: string[] = [];
  for (let i = 0; i < 4; i++) {
    dirs.push(join(root, `src-meta-${i}`));
    await Deno.mkdir(dirs[i]);
  }
  await makeFile(join(dirs[0], "swarm.bin"), SWARM_SIZE, 43);
  for (const dir of dirs.slice(1)) await Deno.copyFile(join(dirs[0], "swarm.bin"), join(dir, "swarm.bin"));
  await using tracker = await startTracker(["--http-port", "0"]);
  const page = await httpUrl(tracker);
  const peers: Proc[] = [];
  try {
    for (const dir of dirs) {
      peers.push(await startPeer(tracker.port, dir, ["--http-port", "0", "--max-upload-rate", rate]));
    }
    const runs: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      await clean(out);
      runs.push(
        await timed("aria2c", [
          "--dir",
          out,
          "--allow-overwrite=true",
          "--auto-file-renaming=false",
          "--summary-interval=0",
          "--console-log-level=error",
          "--download-result=hide",
          "--split=4",
          "--max-connection-per-server=4", // aria2 counts per host, and every peer here is 127.0.0.1
          "--min-split-size=1M",
          `${page}files/swarm.bin.meta4`,
        ]),
      );
      if ((await Deno.stat(join(out, "swarm.bin"))).size !== SWARM_SIZE) throw new Error("aria2c got a short file");
    }
    const got = mbps(SWARM_SIZE, median(runs));
    const limit = SWARM_RATE / 1e6;
    results.httpMetalink = { bytes: SWARM_SIZE, rateLimit: SWARM_RATE, holders: 4, ms: runs };
    figure({
      what: `aria2c, Metalink, 4 peers limited to ${shown} each`,
      value: got,
      unit: "MB/s",
      goal: { value: 3.5 * limit },
      note: `${(got / limit).toFixed(2)} R; goal 3.5 R`,
    });
  } finally {
    for (const p of peers) await p[Symbol.asyncDispose]();
    await clean(out);
  }
}

// ---------------------------------------------------------------------------

const version = Deno.version.deno;
const cores = navigator.hardwareConcurrency;
console.error(`bench: Deno ${version}, ${cores} cores, files in ${root}${QUICK ? " (quick)" : ""}`);
const hasSocat = await have("socat");
if (!hasSocat) console.error("socat not found: its baselines are skipped (the bench task installs it where it can)");
try {
  if (ONLY.has("one")) await oneFile(hasSocat);
  if (ONLY.has("four")) await fourFiles(hasSocat);
  if (ONLY.has("swarm")) await swarm();
  if (ONLY.has("tracker")) await trackerScale();
  if (ONLY.has("announce")) await announceOne();
  if (ONLY.has("live")) await livePeer();
  if (ONLY.has("http")) await httpClients(hasSocat);
  if (ONLY.has("crowd")) await crowd();
  if (ONLY.has("redis")) {
    results.redis = await redisCase({
      quick: QUICK,
      runs: RUNS,
      lookupSeconds: LOOKUP_SECONDS,
      deno: (name, args) => Proc.deno(name, args),
      figure,
    });
  }
  if (ONLY.has("tls")) {
    results.tls = await tlsCase({
      runs: RUNS,
      size: SIZE,
      root,
      permissions: flags.tmp?.startsWith("/dev/")
        ? ["--allow-all"]
        : ["--allow-net=127.0.0.1", "--allow-read", "--allow-write"],
      deno: (name, args) => Proc.deno(name, args),
      makeFile,
      settle,
      figure,
    });
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
results.machine = { deno: version, cores, quick: QUICK, runs: RUNS, date: new Date().toISOString() };
const judged = figures.map(judge);
const table = figureTable(judged);
results.figures = judged;
/** The printed table's cells, as before the figures had a structure (what, measured, baseline, ratio, goal, met, note). */
results.rows = judged.map(figureCells);
/** The chart goes next to the JSON: docs/bench.svg beside docs/bench.json. */
const SVG_PATH = JSON_PATH === undefined ? undefined : JSON_PATH.replace(/\.json$/, "") + ".svg";
if (JSON_PATH !== undefined) await Deno.writeTextFile(JSON_PATH, JSON.stringify(results, null, 2) + "\n");
if (SVG_PATH !== undefined) {
  const sizes = `--size ${SIZE / MiB} MiB`;
  const when = new Date().toISOString().slice(0, 16).replace("T", " ");
  const subtitle = `Deno ${version}, ${cores} cores, ${plural(RUNS, "run")} each, medians, ${sizes}` +
    `${QUICK ? " (quick: CI-sized, the figures mean little)" : ""}; ${when} UTC`;
  await Deno.writeTextFile(SVG_PATH, benchChart(figures, { subtitle }));
}

const out = [
  `Deno ${version}, ${cores} cores, ${RUNS} run(s) each, medians. Figures are noisy; compare the ratios, measured in the same run.`,
  "",
  ...table,
  "",
  goalSummary(judged),
  "",
  JSON_PATH !== undefined
    ? `(JSON: ${JSON_PATH})\n(chart: ${SVG_PATH})`
    : "(quick: the figures are not written, docs/bench.json keeps the last full run; --json FILE to keep them)",
];
await writeText(Deno.stdout, out.join("\n") + "\n");
