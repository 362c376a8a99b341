/**
 * The command line: `main.ts <role> [flags]` with role `tracker`, `peer`,
 * `get`, `cat` or `demo`. Flags, what a person sees, exit codes; the work
 * itself is in the role modules.
 *
 * @example
 * ```sh
 * deno run --allow-net main.ts tracker --port 4444
 * deno run --allow-net --allow-read --allow-write main.ts peer --dir ./files
 * ```
 *
 * @module
 */

import { resolve } from "node:path";
import { parseArgs } from "node:util";
import { runDemo } from "./cli/demo.ts";
import { DownloadError } from "./peer/download.ts";
import { encodeName, formatAddress, Limits, parseAddress, ProtocolError, splitCommand } from "./protocol.ts";
import { BufferedReader } from "./io/reader.ts";
import { Peer, type PeerEvent, sendAndFetch } from "./peer.ts";
import { ProgressDisplay, screenOf } from "./cli/progress.ts";
import { relayFile } from "./peer/relay.ts";
import {
  formatAttempt,
  formatBytes,
  formatOutcome,
  formatPeerEvent,
  formatTrackerEvent,
  outcomeJson,
} from "./cli/report.ts";
import type { FileOutcome } from "./peer/download.ts";
import { RateLimit } from "./io/streams.ts";
import { Secret } from "./io/secret.ts";
import { startTracker } from "./tracker.ts";
import { TrackerClient } from "./peer/tracker_client.ts";
import { errorMessage } from "./io/streams.ts";

/** Exit codes. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2 } as const;

const COMMON = `  --secret S          deal only with parties that know the secret S (or set
                      P2P_SECRET instead, which no process listing shows);
                      peer traffic is then encrypted (default: open)
  --help              this text`;
const NET = `  --tracker HOST:PORT the tracker (default 127.0.0.1:4444)
  --timeout SECONDS   connect and idle timeout of each try (default 10)
  --sources N         most holders one file is fetched from at once (default 4)`;
const DOWNLOADS = `  --max-download-rate R  all downloads together receive at most R bytes
                      per second (suffix K, M or G; default: no limit)
  --wait-timeout S    how long --wait (or SEND --wait) waits (default 300)
  --json              print one JSON object per file (docs/JSON.md)`;

const PEER_COMMANDS = `  SEND name[, name...]   download files (write a comma inside a name as %2C)
  SEND --wait name[, ...] the same, waiting for files nobody has yet
  PEERS [--page N]       list the active peers
  LIST [--page N] [text] list indexed files whose names contain text
  STATS                  the tracker's counters
  HELP                   this list
  QUIT                   leave the tracker and stop`;

const USAGE: Record<string, string> = {
  main: `p2p: peer-to-peer file transfer with a central tracker

usage: main.ts <role> [flags]   (deno task <role> [flags])

roles:
  tracker   run the tracker (default 0.0.0.0:4444)
  peer      share a folder, serve it (default 0.0.0.0:5555), download at a prompt
  get       download files once and exit: 0 all arrived, 1 some failed, 2 usage
  cat       relay mode: print a file from the first active peer that has it
  demo      a tracker and three peers on loopback, moving files while you watch

'main.ts <role> --help' tells more.`,
  tracker: `usage: tracker [--host HOST] [--port PORT] [--demote-after N]

  --host HOST         address to listen on (default 0.0.0.0)
  --port PORT         port to listen on, 0 for any free one (default 4444)
  --demote-after N    stop offering a holder once N downloaders reported it
                      failing (and more failed than succeeded; default 2)
  --idle-timeout S    close a session that sends no whole line for S seconds;
                      its files leave the index (default 120; peers PING)
  --max-connections N refuse connections beyond N with 421 (default 20000)
  --max-per-address N the same, per remote address; 0: no limit (default 0)
  --stats-every S     log a stats line every S seconds; 0: never (default 60)
${COMMON}

Prints 'listening on HOST:PORT', then one line per peer event. SIGINT or
SIGTERM stops it.`,
  peer: `usage: peer [--dir DIR] [--out DIR] [--host HOST] [--port PORT] [--tracker HOST:PORT]

  --dir DIR           the shared folder (default ./files)
  --out DIR           where downloads land (default: the shared folder,
                      and they are then shared too)
  --info FILE         where the tracker's reply to SEND is saved (default info.txt)
  --host HOST         address to serve on (default 0.0.0.0)
  --port PORT         port to serve on, 0 for any free one (default 5555)
  --max-upload-rate R all uploads together send at most R bytes per second
                      (suffix K, M or G: powers of 1024; default: no limit)
  --max-uploads N     most uploads at once; more get 503 busy (default 64)
  --no-watch          do not watch the folder (by default files added, changed
                      or removed are announced within about a second)
${NET}
${DOWNLOADS}
${COMMON}

Hashes are kept in DIR/.p2p-hashes, so a restart announces at once.
Commands, at the prompt or on standard input:
${PEER_COMMANDS}`,
  get: `usage: get [--out DIR] [--tracker HOST:PORT] NAME...

Downloads every NAME (each argument is one file name, spaces and commas
included) in parallel, then exits: 0 when all arrived, 1 when any failed,
2 on a usage error.

  --out DIR           where the files land (default: the current folder)
  --info FILE         also save the tracker's reply there
  --wait              wait for files nobody has yet, downloading each the
                      moment a peer announces it (up to --wait-timeout)
${NET}
${DOWNLOADS}
${COMMON}

On a terminal each running download shows a live progress line.`,
  cat: `usage: cat [--tracker HOST:PORT] NAME

Relay mode: asks the tracker for the active peers, asks each in turn for
NAME, writes the first copy to standard output. Exits 1 if none has it.
When standard error is a terminal, it shows the transfer's progress there.

${NET}
${COMMON}`,
  demo: `usage: demo

Starts a tracker and three peers on 127.0.0.1 with sample folders in a
temporary directory, downloads files between them (one from a holder that
has stopped serving, to show the fall-back), relays one with cat, waits
for a file that then appears in a watched folder, and cleans up.`,
};

class UsageError extends Error {}

/** The longest timeout a timer can hold (2^31 - 1 ms), in whole seconds. */
const MAX_TIMEOUT_S = 2_147_483;

interface Flags {
  tracker: string;
  host: string;
  port: number;
  dir: string;
  out?: string;
  info?: string;
  timeoutMs: number;
  sources: number;
  maxUploadRate?: number;
  maxDownloadRate?: number;
  demoteAfter: number;
  idleTimeoutMs: number;
  maxConnections: number;
  maxPerAddress: number;
  maxUploads: number;
  statsEveryMs: number;
  watch: boolean;
  wait: boolean;
  waitSeconds: number;
  json: boolean;
  secret?: string;
  help: boolean;
  names: string[];
}

/**
 * Gives up, for the rest of the run, the permissions this role never uses,
 * whatever it was started with: a tracker and `cat` touch no file; no role
 * runs programs, loads native code or reads system information; only
 * `P2P_SECRET` is ever read from the environment, and it has been by now.
 * (Deno cannot narrow a granted permission to some paths at run time: for
 * that, start the role with `--allow-read=DIR` and the like; see the README.)
 */
function narrowPermissions(role: string): void {
  const unused: Deno.PermissionName[] = ["run", "ffi", "sys", "env"];
  if (role === "tracker" || role === "cat") unused.push("read", "write");
  for (const name of unused) Deno.permissions.revokeSync({ name });
}

/** `P2P_SECRET`, if set and readable (the tasks allow reading that one variable). */
function secretFromEnvironment(): string | undefined {
  // Asked first, so that a run without --allow-env never prompts for it.
  const allowed = Deno.permissions.querySync({ name: "env", variable: "P2P_SECRET" }).state === "granted";
  return allowed ? Deno.env.get("P2P_SECRET") || undefined : undefined;
}

/** The secret's keys, if there is one; an empty secret is a usage error. */
async function secretOf(flags: Flags): Promise<Secret | undefined> {
  if (flags.secret === undefined) return undefined;
  if (flags.secret.length === 0) throw new UsageError("--secret must not be empty");
  return await Secret.from(flags.secret);
}

/** Reads `R`, `RK`, `RM` or `RG` (powers of 1024) as bytes per second. */
export function parseRate(text: string, flag = "--max-upload-rate"): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(text.trim());
  const units: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  const rate = m ? Math.floor(Number(m[1]) * units[m[2].toUpperCase()]) : NaN;
  if (!(rate >= 1 && rate <= Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`${flag} must be bytes per second like 500K or 2M, got ${text}`);
  }
  return rate;
}

function parseFlags(args: string[], defaults: { port: number }): Flags {
  let parsed;
  try {
    parsed = parseArgs({
      args,
      allowPositionals: true,
      strict: true,
      options: {
        tracker: { type: "string", default: "127.0.0.1:4444" },
        host: { type: "string", default: "0.0.0.0" },
        port: { type: "string", default: String(defaults.port) },
        dir: { type: "string", default: "./files" },
        out: { type: "string" },
        info: { type: "string" },
        timeout: { type: "string", default: "10" },
        sources: { type: "string", default: "4" },
        "max-upload-rate": { type: "string" },
        "demote-after": { type: "string", default: "2" },
        "idle-timeout": { type: "string", default: "120" },
        "max-connections": { type: "string", default: "20000" },
        "max-per-address": { type: "string", default: "0" },
        "max-uploads": { type: "string", default: "64" },
        "max-download-rate": { type: "string" },
        "stats-every": { type: "string", default: "60" },
        "no-watch": { type: "boolean", default: false },
        wait: { type: "boolean", default: false },
        "wait-timeout": { type: "string", default: "300" },
        json: { type: "boolean", default: false },
        secret: { type: "string" },
        help: { type: "boolean", short: "h", default: false },
      },
    });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const v = parsed.values;
  const port = Number(v.port);
  if (!/^\d+$/.test(v.port) || port > 65_535) throw new UsageError(`--port must be 0-65535, got ${v.port}`);
  const timeout = Number(v.timeout);
  if (!(timeout >= 0.001 && timeout <= MAX_TIMEOUT_S)) {
    throw new UsageError(`--timeout must be seconds from 0.001 to ${MAX_TIMEOUT_S}, got ${v.timeout}`);
  }
  const sources = Number(v.sources);
  if (!/^\d+$/.test(v.sources) || sources < 1 || sources > 64) {
    throw new UsageError(`--sources must be 1-64, got ${v.sources}`);
  }
  const demoteAfter = Number(v["demote-after"]);
  if (!/^\d+$/.test(v["demote-after"]) || demoteAfter < 1 || demoteAfter > 1_000_000) {
    throw new UsageError(`--demote-after must be 1 or more, got ${v["demote-after"]}`);
  }
  const count = (flag: "max-connections" | "max-per-address" | "max-uploads", min: number) => {
    const n = Number(v[flag]);
    if (!/^\d+$/.test(v[flag]) || n < min || n > 1_000_000) throw new UsageError(`--${flag} must be ${min}-1000000`);
    return n;
  };
  const idle = Number(v["idle-timeout"]);
  if (!(idle >= 0.01 && idle <= MAX_TIMEOUT_S)) {
    throw new UsageError(`--idle-timeout must be seconds from 0.01 to ${MAX_TIMEOUT_S}, got ${v["idle-timeout"]}`);
  }
  const statsEvery = Number(v["stats-every"]);
  if (!(statsEvery === 0 || statsEvery >= 0.01 && statsEvery <= MAX_TIMEOUT_S)) {
    throw new UsageError(`--stats-every must be 0 or seconds up to ${MAX_TIMEOUT_S}, got ${v["stats-every"]}`);
  }
  const waitSeconds = Number(v["wait-timeout"]);
  if (!/^\d+$/.test(v["wait-timeout"]) || waitSeconds < 1 || waitSeconds > Limits.MAX_WAIT_SECONDS) {
    throw new UsageError(`--wait-timeout must be whole seconds from 1 to ${Limits.MAX_WAIT_SECONDS}`);
  }
  try {
    parseAddress(v.tracker);
  } catch {
    throw new UsageError(`--tracker must be HOST:PORT, got ${v.tracker}`);
  }
  return {
    tracker: v.tracker,
    host: v.host,
    port,
    dir: v.dir,
    out: v.out,
    info: v.info,
    timeoutMs: Math.round(timeout * 1000),
    sources,
    maxUploadRate: v["max-upload-rate"] === undefined ? undefined : parseRate(v["max-upload-rate"]),
    demoteAfter,
    idleTimeoutMs: Math.round(idle * 1000),
    maxConnections: count("max-connections", 1),
    maxPerAddress: count("max-per-address", 0),
    maxUploads: count("max-uploads", 1),
    maxDownloadRate: v["max-download-rate"] === undefined
      ? undefined
      : parseRate(v["max-download-rate"], "--max-download-rate"),
    statsEveryMs: Math.round(statsEvery * 1000),
    watch: !v["no-watch"],
    wait: v.wait,
    waitSeconds,
    json: v.json,
    secret: v.secret ?? secretFromEnvironment(),
    help: v.help,
    names: parsed.positionals,
  };
}

/**
 * Resolves on the first SIGINT or SIGTERM, so that the caller can shut down
 * cleanly; a second signal exits at once. `cancel` removes the listeners.
 */
function untilSignal(): { promise: Promise<string>; cancel: () => void } {
  const { promise, resolve } = Promise.withResolvers<string>();
  let received = false;
  const handler = (signal: "SIGINT" | "SIGTERM") => () => {
    if (received) Deno.exit(Exit.FAILED);
    received = true;
    resolve(signal);
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => [signal, handler(signal)] as const);
  for (const [signal, h] of handlers) Deno.addSignalListener(signal, h);
  const cancel = () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h));
  return { promise, cancel };
}

async function runTracker(flags: Flags): Promise<number> {
  const secret = await secretOf(flags);
  const tracker = startTracker({
    secret,
    hostname: flags.host,
    port: flags.port,
    demoteAfter: flags.demoteAfter,
    idleTimeoutMs: flags.idleTimeoutMs,
    maxConnections: flags.maxConnections,
    maxPerAddress: flags.maxPerAddress,
    statsIntervalMs: flags.statsEveryMs,
    onEvent: (e) => console.log(formatTrackerEvent(e)),
    onError: (e) => console.error("error:", e),
  });
  console.log(`listening on ${formatAddress(tracker.addr.hostname, tracker.addr.port)}`);
  if (secret) console.log("admitting only parties that know the secret; traffic encrypted");
  const signal = await untilSignal().promise;
  console.log(`${signal}: closing`);
  await tracker.close();
  return Exit.OK;
}

async function runPeer(flags: Flags): Promise<number> {
  const secret = await secretOf(flags);
  using out = new ProgressDisplay(screenOf(Deno.stdout));
  const hashing = hashingReporter(out);
  const stop = untilSignal();
  const starting = Peer.start({
    secret,
    tracker: flags.tracker,
    hostname: flags.host,
    port: flags.port,
    dir: flags.dir,
    out: flags.out,
    infoPath: flags.info ?? "info.txt",
    timeoutMs: flags.timeoutMs,
    sources: flags.sources,
    maxUploadRate: flags.maxUploadRate,
    maxUploads: flags.maxUploads,
    maxDownloadRate: flags.maxDownloadRate,
    watch: flags.watch,
    hashCache: true,
    onEvent: (e) => e.type === "hashing" ? hashing(e) : out.log(formatPeerEvent(e)),
    onError: (e) => console.error("error:", e),
    onListening: (addr) => out.log(`listening on ${formatAddress(addr.hostname, addr.port)}`),
  });
  const peer = await Promise.race([starting, stop.promise.then(() => null)]);
  if (peer === null) return Exit.OK;
  out.log(`shared ${peer.folder.entries().length} files from ${peer.folder.path}`);
  if (secret) out.log("dealing only with parties that know the secret; traffic encrypted");
  if (flags.watch) out.log("watching the folder: files added, changed or removed are announced");
  for (const skipped of peer.folder.skipped) out.log(`not shared: ${skipped}`);
  const interactive = Deno.stdin.isTerminal();
  const commands = (async () => {
    const input = new BufferedReader(Deno.stdin);
    while (true) {
      if (interactive) await Deno.stdout.write(new TextEncoder().encode("> "));
      let line: string | null;
      try {
        line = await input.readLine();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        out.log(`error: ${error.message}`);
        continue;
      }
      if (line === null) return interactive;
      if (await peerCommand(peer, line, flags, out)) return true;
    }
  })();
  const quit = await Promise.race([commands, stop.promise.then(() => true)]);
  if (!quit) await stop.promise;
  stop.cancel();
  await peer.close();
  return Exit.OK;
}

/**
 * Shows the hashing of files not seen before: a live line on a terminal
 * (redrawn at most ten times a second), else one line at the start and one
 * at the end.
 */
function hashingReporter(out: ProgressDisplay): (e: Extract<PeerEvent, { type: "hashing" }>) => void {
  let started: number | undefined;
  let drawn = 0;
  return (e) => {
    const now = performance.now();
    const amount = `${e.files} file${e.files === 1 ? "" : "s"} (${formatBytes(e.bytes)})`;
    if (started === undefined) {
      started = now;
      if (!out.live) out.log(`hashing ${amount} not seen before`);
    }
    if (e.filesDone === e.files) {
      out.status(undefined);
      out.log(`hashed ${amount} in ${((now - started) / 1000).toFixed(1)} s`);
    } else if (out.live && now - drawn >= 100) {
      drawn = now;
      const percent = e.bytes > 0 ? Math.floor(e.bytesDone / e.bytes * 100) : 100;
      out.status(`${formatPeerEvent(e)} (${percent}%)`);
    }
  };
}

/** Says which files a `--wait` waits for. */
function waitingPrinter(flags: Flags, out: ProgressDisplay): (names: string[]) => void {
  return (names) => out.log(`waiting for ${names.join(", ")} (up to ${flags.waitSeconds} s)`);
}

/** Prints one file's outcome: its result lines, or with --json one JSON object. */
function outcomePrinter(flags: Flags, out: ProgressDisplay): (outcome: FileOutcome) => void {
  if (flags.json) {
    // Around the live area, which may be on the same terminal.
    return (o) => out.interrupt(() => console.log(JSON.stringify(outcomeJson(o, (path) => resolve(path)))));
  }
  return (o) => out.log(formatOutcome(o));
}

/** Runs one prompt command; true when it was QUIT. */
async function peerCommand(peer: Peer, line: string, flags: Flags, out: ProgressDisplay): Promise<boolean> {
  const { verb, rest } = splitCommand(line);
  try {
    switch (verb) {
      case "":
        return false;
      case "SEND": {
        const wait = /^--wait(?:\s+|$)/.exec(rest);
        const report = await peer.send(wait ? rest.slice(wait[0].length) : rest, {
          waitSeconds: wait ? flags.waitSeconds : undefined,
          onWaiting: waitingPrinter(flags, out),
          board: out,
          onSettled: outcomePrinter(flags, out),
        });
        if (report.infoError) out.log(`warning: ${report.infoError}`);
        if (report.announced) out.log(`shared the new files: ${report.announced}`);
        if (report.announceError) out.log(`warning: could not announce the new files: ${report.announceError}`);
        return false;
      }
      case "PEERS":
      case "LIST":
      case "STATS":
        out.log((await peer.tracker.raw(line.trim())).replace(/\n$/, ""));
        return false;
      case "HELP":
        out.log(PEER_COMMANDS);
        return false;
      case "QUIT":
      case "EXIT":
        return true;
      default:
        out.log(`unknown command ${JSON.stringify(verb)}; try HELP`);
        return false;
    }
  } catch (error) {
    out.log(`error: ${errorMessage(error)}`);
    return false;
  }
}

async function runGet(flags: Flags): Promise<number> {
  if (flags.names.length === 0) throw new UsageError("get needs at least one file name");
  if (flags.names.some((n) => n === "")) throw new UsageError("a file name cannot be empty");
  if (flags.names.length > Limits.MAX_NAMES_PER_SEND) {
    throw new UsageError(`get takes at most ${Limits.MAX_NAMES_PER_SEND} names at once`);
  }
  const secret = await secretOf(flags);
  await using tracker = await TrackerClient.connect(flags.tracker, flags.timeoutMs, secret);
  // With --json, standard output carries only the JSON; people read standard error.
  using out = new ProgressDisplay(screenOf(flags.json ? Deno.stderr : Deno.stdout));
  const stop = untilSignal();
  const interrupt = new AbortController();
  stop.promise.then(() => interrupt.abort());
  const report = await sendAndFetch(tracker, flags.names.map(encodeName).join(", "), {
    outDir: flags.out ?? ".",
    infoPath: flags.info,
    timeoutMs: flags.timeoutMs,
    sources: flags.sources,
    secret,
    signal: interrupt.signal,
    limit: flags.maxDownloadRate ? new RateLimit(flags.maxDownloadRate) : undefined,
    board: out,
    waitSeconds: flags.wait ? flags.waitSeconds : undefined,
    onWaiting: waitingPrinter(flags, out),
    onAttemptFailed: (name, a) => out.log(formatAttempt(name, a)),
    onSettled: outcomePrinter(flags, out),
  }).finally(stop.cancel);
  if (report.infoError) out.log(`warning: ${report.infoError}`);
  await tracker.quit();
  return report.outcomes.every((o) => o.ok) ? Exit.OK : Exit.FAILED;
}

async function runCat(flags: Flags): Promise<number> {
  if (flags.names.length !== 1) throw new UsageError("cat needs exactly one file name");
  const secret = await secretOf(flags);
  await using tracker = await TrackerClient.connect(flags.tracker, flags.timeoutMs, secret);
  // Progress on standard error, unless the file itself is going to the same terminal.
  using out = new ProgressDisplay(screenOf(Deno.stderr));
  const relayed = await relayFile(tracker, flags.names[0], Deno.stdout, {
    timeoutMs: flags.timeoutMs,
    secret,
    board: out.live && !Deno.stdout.isTerminal() ? out : undefined,
    onAttemptFailed: (a) => out.log(formatAttempt(flags.names[0], a)),
  });
  out.log(`cat: ${flags.names[0]} (${relayed.size} bytes) from ${relayed.from}`);
  await tracker.quit();
  return Exit.OK;
}

const ROLES: Record<string, { port: number; run: (flags: Flags) => Promise<number> }> = {
  tracker: { port: 4444, run: runTracker },
  peer: { port: 5555, run: runPeer },
  get: { port: 0, run: runGet },
  cat: { port: 0, run: runCat },
  demo: {
    port: 0,
    run: (flags) => {
      if (flags.secret !== undefined) throw new UsageError("demo runs without a secret");
      return runDemo(console.log).then(() => Exit.OK);
    },
  },
};

/** Runs the command line `args`; returns the exit code. */
export async function main(args: string[]): Promise<number> {
  const [roleName, ...rest] = args;
  if (roleName === undefined || roleName === "--help" || roleName === "-h" || roleName === "help") {
    console.log(USAGE.main);
    return roleName === undefined ? Exit.USAGE : Exit.OK;
  }
  const role = ROLES[roleName];
  if (!role) {
    console.error(`unknown role ${JSON.stringify(roleName)}\n\n${USAGE.main}`);
    return Exit.USAGE;
  }
  try {
    const flags = parseFlags(rest, role);
    if (flags.help) {
      console.log(USAGE[roleName]);
      return Exit.OK;
    }
    narrowPermissions(roleName);
    return await role.run(flags);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${roleName}: ${error.message}\n\n${USAGE[roleName]}`);
      return Exit.USAGE;
    }
    const message = error instanceof DownloadError ? `${error.file}: ${error.message}` : errorMessage(error);
    console.error(`${roleName}: ${message}`);
    return Exit.FAILED;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
