/**
 * `deno task bench [--quick] [--size MIB] [--runs N] [--json FILE] [--only one,four,swarm,tracker,announce,live,http,crowd,redis] [--tmp DIR]`:
 * measures the system on loopback beside baselines measured in the same
 * run, prints a table and writes the same figures as JSON: to `--json FILE`,
 * else to docs/bench.json, except with `--quick`, whose figures (a CI-sized
 * run) mean little and are written only where `--json` says. See
 * docs/PERFORMANCE.md.
 *
 * Every role runs in its own process (`bench/workers.ts`, `main.ts`,
 * `redis-server`), started and set up before the clock starts. The `redis`
 * case (trackers sharing an index in Redis) is in `bench/redis_bench.ts`.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { BufferedReader } from "../io/reader.ts";
import { writeAll, writeText } from "../io/streams.ts";
import { plural } from "../io/words.ts";
import { redisCase } from "./redis_bench.ts";

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
    only: { type: "string", default: "one,four,swarm,tracker,announce,live,http,crowd,redis" },
    tmp: { type: "string" },
  },
});
const QUICK = flags.quick;
/** Where the figures go: docs/bench.json is the record of a full run; a quick run's are thrown away unless asked for. */
const JSON_PATH = flags.json ?? (QUICK ? undefined : join(HERE, "..", "docs", "bench.json"));
const CASES = ["one", "four", "swarm", "tracker", "announce", "live", "http", "crowd", "redis"];
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
const rows: [string, string, string, string][] = [];
const row = (what: string, value: string, baseline = "", ratio = "") => {
  rows.push([what, value, baseline, ratio]);
  console.error(`  ${what}: ${value}${baseline ? `  (${baseline}${ratio ? `, ratio ${ratio}` : ""})` : ""}`);
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

async function oneFile(hasSocat: boolean) {
  console.error(`one file of ${SIZE / MiB} MiB, one holder, ${RUNS} runs`);
  const src = join(root, "src1");
  const out = join(root, "out1");
  await Deno.mkdir(src);
  await Deno.mkdir(out);
  await makeFile(join(src, "big.bin"), SIZE, 1);
  await using tracker = await startTracker();
  await using peer = await startPeer(tracker.port, src);
  const ours: number[] = [];
  const socat: number[] = [];
  const socatSha: number[] = [];
  const raw: number[] = [];
  let receiverPeak = 0;
  for (let r = 0; r < RUNS; r++) {
    await clean(out);
    const got = await timedGet(tracker.port, ["big.bin"], out);
    ours.push(got.ms);
    receiverPeak = Math.max(receiverPeak, got.peak);
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
    rawDenoMs: raw,
    socatMs: socat,
    socatThenSha256sumMs: socatSha,
    senderPeakRss: senderPeak,
    receiverPeakRss: receiverPeak,
  };
  row("1 file, verified (ours)", fmtRate(oursRate));
  row(
    "  vs Deno loop, 1 MiB buffer, unverified",
    fmtRate(oursRate),
    fmtRate(mbps(SIZE, median(raw))),
    (median(raw) / median(ours)).toFixed(2),
  );
  if (hasSocat) {
    row(
      "  vs socat -b 1048576, unverified",
      fmtRate(oursRate),
      fmtRate(mbps(SIZE, median(socat))),
      (median(socat) / median(ours)).toFixed(2),
    );
    row(
      "  vs socat then sha256sum",
      fmtRate(oursRate),
      fmtRate(mbps(SIZE, median(socatSha))),
      (median(socatSha) / median(ours)).toFixed(2),
    );
  }
  row("peak RSS, serving peer (whole life)", `${(senderPeak / MiB).toFixed(1)} MiB`, "80 MiB target");
  row("peak RSS, downloader (whole life)", `${(receiverPeak / MiB).toFixed(1)} MiB`, "80 MiB target");
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
    const ours: number[] = [];
    const socat: number[] = [];
    for (let r = 0; r < RUNS; r++) {
      await clean(out);
      ours.push((await timedGet(tracker.port, ["part0.bin", "part1.bin", "part2.bin", "part3.bin"], out)).ms);
      if (hasSocat) {
        await clean(out);
        await settle();
        const t = performance.now();
        await Promise.all(srcs.map((s, i) => socatPair(s, join(out, `s${i}.bin`))));
        socat.push(performance.now() - t);
      }
    }
    results.fourFiles = { bytesEach: PARALLEL_SIZE, oursMs: ours, socatMs: socat };
    const total = 4 * PARALLEL_SIZE;
    row("4 files from 4 holders (ours, total)", fmtRate(mbps(total, median(ours))));
    if (hasSocat) {
      row(
        "  vs four socat pairs",
        fmtRate(mbps(total, median(ours))),
        fmtRate(mbps(total, median(socat))),
        (median(socat) / median(ours)).toFixed(2),
      );
    }
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
    row(
      `1 file from 1 holder limited to ${shown}`,
      fmtRate(r1),
      `R = ${limit.toFixed(1)} MB/s`,
      (r1 / limit).toFixed(2),
    );
    row(`1 file from 4 holders limited to ${shown} each`, fmtRate(r4), "3.5 R target", (r4 / limit).toFixed(2));
    row("  swarm speed-up over one holder", `${(median(single) / median(four)).toFixed(2)}x`, "3.5x target");
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
      const run = { ...await crowdRun(seedDir, c), goal: c.goal };
      runs.push(run);
      const last = run.capped || run.doneMs.length < c.downloaders ? undefined : run.doneMs.at(-1)!;
      const landed = `${run.doneMs.length} of ${c.downloaders} landed${
        run.capped ? ` in ${CROWD_CAP_MS / 1000} s` : ""
      }`;
      row(
        `crowd of ${c.downloaders}, ${c.partial ? "partial serving" : "--no-partial (before)"}: last landed`,
        last === undefined ? `only ${landed}` : `${(last / 1000).toFixed(1)} s`,
        c.goal === undefined
          ? `ideal ${ideal} s; all about 64 s before`
          : `ideal ${ideal} s; goal ≤ ${c.goal}x (${c.goal * ideal} s)`,
        last === undefined ? "" : (last / CROWD_IDEAL_MS).toFixed(2),
      );
      if (run.doneMs.length > 0) {
        const first = run.doneMs[0] / 1000;
        const mid = median(run.doneMs) / 1000;
        row("  first / median landed", `${first.toFixed(1)} / ${mid.toFixed(1)} s`);
      }
      const sent = run.seedSentBytes / CROWD_SIZE;
      row(
        "  seed sent, × the file",
        `${sent.toFixed(2)}x (${(run.seedSentBytes / MiB).toFixed(1)} MiB)`,
        c.partial ? `goal ≤ ${CROWD_SEED_GOAL}x` : "",
        c.partial ? (sent / CROWD_SEED_GOAL).toFixed(2) : "",
      );
    }
  } finally {
    await Deno.remove(seedDir, { recursive: true });
  }
  const lastOf = (r: CrowdRun | undefined) => r && !r.capped && r.failed.length === 0 ? r.doneMs.at(-1) : undefined;
  const baseline = runs.find((r) => !r.partial);
  const before = lastOf(baseline);
  const after = lastOf(runs.find((r) => r.partial && r.downloaders === baseline?.downloaders));
  if (before !== undefined && after !== undefined) {
    row(`partial serving's speed-up, crowd of ${baseline!.downloaders}`, `${(before / after).toFixed(2)}x`);
  }
  const single = await singleFromOneHolder();
  const partialRate = mbps(SIZE, median(single.servePartialMs));
  row(
    `1 file (${SIZE / MiB} MiB) into a peer's folder from 1 holder (${plural(AB_RUNS, "run")})`,
    fmtRate(partialRate),
    `--no-partial ${fmtRate(mbps(SIZE, median(single.noPartialMs)))}; goal: no slower`,
    (median(single.noPartialMs) / median(single.servePartialMs)).toFixed(2),
  );
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
  const tracker = await startTracker();
  const before = await rss(tracker.child.pid, "VmRSS");
  const announcer = Proc.deno("announce", [WORKERS, "announce", String(tracker.port), String(peers), String(files)]);
  await announcer.line("ready");
  const after = await rss(tracker.child.pid, "VmRSS");
  return {
    port: tracker.port,
    growth: after - before,
    before,
    after,
    [Symbol.asyncDispose]: async () => {
      await announcer[Symbol.asyncDispose]();
      await tracker[Symbol.asyncDispose]();
    },
  };
}

async function trackerScale() {
  const scale: unknown[] = [];
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
        `lookups/s, 50 conns x ${depth} in flight, ${entries} entries`,
        result.perSecond.toFixed(0),
        "100000 target",
        (result.perSecond / 100_000).toFixed(2),
      );
      row(`  p50 / p99 latency`, `${result.p50.toFixed(2)} / ${result.p99.toFixed(2)} ms`, "p99 2 ms target");
    }
    scale.push({ entries, rssBefore: before, rssAfter: after, bytesPerEntry: perEntry, lookups });
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
  row(`announce of ${ANNOUNCE_FILES} files`, `${median(times).toFixed(0)} ms`, "1000 ms target (100,000 files)");
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
  row(`peer start, ${LIVE_FILES} files, none hashed yet`, `${median(firsts).toFixed(0)} ms`, "hashing every file");
  row(`peer restart, ${LIVE_FILES} files, hash cache`, `${median(restarts).toFixed(0)} ms`, "no file read again");
  row("file dropped in → a waiting client told", `${median(changes).toFixed(0)} ms`, "about 1 s target");
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
    row(`1 file to curl -o FILE from a peer's HTTP face (${SIZE / MiB} MiB)`, fmtRate(mbps(SIZE, median(ours))));
    if (hasSocat) {
      row(
        "  vs socat -b 1048576 file to file (goal 0.8)",
        "",
        fmtRate(mbps(SIZE, median(socat))),
        (median(socat) / median(ours)).toFixed(2),
      );
      row(
        "  vs curl from socat sending a canned answer (curl's ceiling)",
        "",
        fmtRate(mbps(SIZE, median(ceiling))),
        (median(ceiling) / median(ours)).toFixed(2),
      );
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
  row(
    `peer serving ${HTTP_CLIENTS} HTTP downloads at once: peak RSS`,
    `${(peak / MiB).toFixed(0)} MiB`,
    "100 MiB goal",
    (peak / (100 * MiB)).toFixed(2),
  );
  row("  the same peer's peak before they started", `${(before / MiB).toFixed(0)} MiB`);
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
    row(`aria2c, Metalink, 4 peers limited to ${shown} each`, fmtRate(got), "3.5 R goal", (got / limit).toFixed(2));
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
      row,
    });
  }
} finally {
  await Deno.remove(root, { recursive: true });
}
results.machine = { deno: version, cores, quick: QUICK, runs: RUNS, date: new Date().toISOString() };
results.rows = rows;
if (JSON_PATH !== undefined) await Deno.writeTextFile(JSON_PATH, JSON.stringify(results, null, 2) + "\n");

const widths = [0, 1, 2, 3].map((i) =>
  Math.max(...rows.map((r) => r[i].length), ["what", "measured", "baseline / target", "ratio"][i].length)
);
const line = (cells: string[]) => "| " + cells.map((c, i) => c.padEnd(widths[i])).join(" | ") + " |";
const out = [
  `Deno ${version}, ${cores} cores, ${RUNS} run(s) each, medians. Figures are noisy; compare the ratios, measured in the same run.`,
  "",
  line(["what", "measured", "baseline / target", "ratio"]),
  line(widths.map((w) => "-".repeat(w))),
  ...rows.map(line),
  "",
  JSON_PATH !== undefined
    ? `(JSON: ${JSON_PATH})`
    : "(quick: the figures are not written, docs/bench.json keeps the last full run; --json FILE to keep them)",
];
await writeText(Deno.stdout, out.join("\n") + "\n");
