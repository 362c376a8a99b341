/**
 * The command line's flags: which role takes which, each checked with a
 * message naming the flag, and the exit codes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { isAbsolute, resolve } from "node:path";
import { Limits, parseAddress } from "../protocol.ts";
import { parseStoreUrl } from "../tracker.ts";
import { UsageError } from "../io/errors.ts";
import { MAX_TIMER_MS } from "../io/clock.ts";
import { editDistance, listed, shellWord } from "../io/words.ts";

/** Exit codes. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** The longest timeout a timer can hold, in whole seconds. */
const MAX_TIMEOUT_S = Math.floor(MAX_TIMER_MS / 1000);

/** Every flag of every role, checked; each role is given only its own (see {@link ROLE_FLAGS}). */
export interface Flags {
  /**
   * `--tracker HOST:PORT[,HOST:PORT...]`: the trackers, in the order they are
   * tried (see {@link parseTrackerList}); at least one. Default
   * `["127.0.0.1:4444"]`.
   */
  trackers: string[];
  /** `--host`: where to listen. */
  host: string;
  /** `--port`: where to listen. */
  port: number;
  /** `--http-port`: where the HTTP face listens (0: a free port); `undefined`: no HTTP face. */
  httpPort?: number;
  /** `--dir`: the peer's shared folder, absolute (default `CWD/files`); `""` for the roles without `--dir`. */
  dir: string;
  /** `--out`, absolute: where downloads land. peer: `undefined` is the shared folder; get: default `CWD`. */
  out?: string;
  /** `--info`, absolute: where the tracker's reply is saved. peer: default `CWD/info.txt`; get: only when given. */
  info?: string;
  /** `--timeout`, in ms. */
  timeoutMs: number;
  /** `--sources`. */
  sources: number;
  /** `--max-upload-rate`, bytes per second. */
  maxUploadRate?: number;
  /** `--max-download-rate`, bytes per second. */
  maxDownloadRate?: number;
  /** `--demote-after`. */
  demoteAfter: number;
  /** `--idle-timeout`, in ms. */
  idleTimeoutMs: number;
  /** `--max-connections`. */
  maxConnections: number;
  /** `--max-per-address`. */
  maxPerAddress: number;
  /** `--max-uploads`. */
  maxUploads: number;
  /** `--stats-every`, in ms (0: never). */
  statsEveryMs: number;
  /** `--store`: `memory`, or a `redis://` or `redis-cluster://` URL (checked). */
  store: string;
  /** `--lease`, in seconds. */
  leaseSeconds: number;
  /** Not `--no-watch`. */
  watch: boolean;
  /** Not `--no-partial`: a peer serves the verified chunks of a download into its shared folder while it runs. */
  servePartial: boolean;
  /** `--wait`. */
  wait: boolean;
  /** `--wait-timeout`, in seconds. */
  waitSeconds: number;
  /** `--json`. */
  json: boolean;
  /** get `--parts`: list the leftover part files of interrupted downloads in the `--out` folder. */
  parts: boolean;
  /** get `--clean`: discard them. */
  clean: boolean;
  /** `--secret`, or `P2P_SECRET`. */
  secret?: string;
  /** `--tls-cert`: the certificate to listen with TLS, resolved against the working folder. */
  tlsCert?: string;
  /** `--tls-key`: its private key, resolved likewise. */
  tlsKey?: string;
  /** `--tls-ca`: the CA to trust when connecting with TLS, resolved likewise. */
  tlsCa?: string;
  /** `--help` (or `-h`). */
  help: boolean;
  /** The arguments that are not flags: file names (get and cat only). */
  names: string[];
}

const OPTIONS = {
  tracker: { type: "string", default: "127.0.0.1:4444" },
  host: { type: "string", default: "0.0.0.0" },
  port: { type: "string" },
  "http-port": { type: "string" },
  dir: { type: "string", default: "files" },
  out: { type: "string" },
  info: { type: "string" },
  timeout: { type: "string", default: "10" },
  sources: { type: "string", default: "4" },
  "max-upload-rate": { type: "string" },
  "demote-after": { type: "string", default: "2" },
  "idle-timeout": { type: "string", default: "120" },
  "max-connections": { type: "string", default: String(Limits.MAX_CONNECTIONS) },
  "max-per-address": { type: "string", default: "0" },
  "max-uploads": { type: "string", default: String(Limits.MAX_UPLOADS) },
  "max-download-rate": { type: "string" },
  "stats-every": { type: "string", default: "60" },
  store: { type: "string", default: "memory" },
  lease: { type: "string", default: "60" },
  "no-watch": { type: "boolean", default: false },
  "no-partial": { type: "boolean", default: false },
  wait: { type: "boolean", default: false },
  "wait-timeout": { type: "string", default: "300" },
  json: { type: "boolean", default: false },
  parts: { type: "boolean", default: false },
  clean: { type: "boolean", default: false },
  secret: { type: "string" },
  "tls-cert": { type: "string" },
  "tls-key": { type: "string" },
  "tls-ca": { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** A flag's name, without its dashes. */
export type FlagName = keyof typeof OPTIONS;

/** `--store`'s value, checked: `memory`, or a Redis URL that `parseStoreUrl` reads. */
function storeFlag(text: string): string {
  if (text === "memory") return text;
  try {
    parseStoreUrl(text);
  } catch (error) {
    if (error instanceof TypeError) throw new UsageError(error.message);
    throw error;
  }
  return text;
}

/** The name of every flag the command line takes (each role takes those {@link ROLE_FLAGS} gives it). */
export const FLAG_NAMES: readonly FlagName[] = Object.keys(OPTIONS) as FlagName[];

/** A role of the command line. */
export type RoleName = "tracker" | "peer" | "get" | "cat" | "demo";

/**
 * The flags each role takes: those its command reads, nothing else, so that
 * no flag is silently ignored. (`cat` takes no `--sources`: a relay reads
 * the whole file from one peer at a time.)
 */
export const ROLE_FLAGS: Readonly<Record<RoleName, readonly FlagName[]>> = {
  tracker: [
    "host",
    "port",
    "http-port",
    "demote-after",
    "idle-timeout",
    "max-connections",
    "max-per-address",
    "stats-every",
    "store",
    "lease",
    "secret",
    "tls-cert",
    "tls-key",
    "help",
  ],
  peer: [
    "dir",
    "out",
    "info",
    "host",
    "port",
    "http-port",
    "tracker",
    "timeout",
    "sources",
    "max-upload-rate",
    "max-uploads",
    "max-connections",
    "max-per-address",
    "no-watch",
    "no-partial",
    "max-download-rate",
    "wait-timeout",
    "json",
    "secret",
    "tls-cert",
    "tls-key",
    "tls-ca",
    "help",
  ],
  get: [
    "out",
    "info",
    "wait",
    "wait-timeout",
    "tracker",
    "timeout",
    "sources",
    "max-download-rate",
    "json",
    "parts",
    "clean",
    "secret",
    "tls-ca",
    "help",
  ],
  cat: ["tracker", "timeout", "secret", "tls-ca", "help"],
  demo: ["help"],
};

/** The roles that take file names after their flags; the others take no argument but flags. */
const TAKES_NAMES: readonly RoleName[] = ["get", "cat"];

/** With `--parts` or `--clean`, get touches only the `--out` folder: these are all the flags that then apply. */
const PARTS_FLAGS: readonly FlagName[] = ["out", "parts", "clean"];

/** What follows each flag that takes a value, in the messages (as in `--help`). */
const VALUE_NAMES: Partial<Record<FlagName, string>> = {
  tracker: "HOST:PORT[,...]",
  host: "HOST",
  port: "PORT",
  "http-port": "PORT",
  dir: "DIR",
  out: "DIR",
  info: "FILE",
  timeout: "SECONDS",
  sources: "N",
  "max-upload-rate": "R",
  "max-download-rate": "R",
  "demote-after": "N",
  "idle-timeout": "S",
  "max-connections": "N",
  "max-per-address": "N",
  "max-uploads": "N",
  "stats-every": "S",
  store: "URL",
  lease: "S",
  "wait-timeout": "S",
  secret: "S",
  "tls-cert": "FILE",
  "tls-key": "FILE",
  "tls-ca": "FILE",
};

/** Options of {@link parseFlags}. */
export interface ParseFlagsOptions {
  /** The role whose flags these are: it takes only its own ({@link ROLE_FLAGS}). */
  role: RoleName;
  /** The role's port when `--port` is not given. */
  port: number;
  /** The secret when `--secret` is not given (from `P2P_SECRET`). Default: none. */
  secret?: string;
  /**
   * The folder relative paths (`--dir`, `--out`, `--info` and their
   * defaults) are resolved against: where the user typed the command
   * (`deno task` runs in the project's folder and passes that one as
   * `INIT_CWD`). Default: `Deno.cwd()`.
   */
  cwd?: string;
}

/**
 * The word of `candidates` closest to `word`, if it is close: at most one
 * edit for a word of up to five letters, then one more per three letters,
 * at most three. The first of equally close ones wins.
 */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  const most = Math.min(3, Math.max(1, Math.floor(word.length / 3)));
  let best: string | undefined;
  let bestDistance = most + 1;
  for (const candidate of candidates) {
    const distance = editDistance(word.toLowerCase(), candidate);
    if (distance < bestDistance) [best, bestDistance] = [candidate, distance];
  }
  return best;
}

/** How a number flag is read. */
interface NumberSpec {
  /** Smallest value allowed. */
  min: number;
  /** Largest value allowed. */
  max: number;
  /** Whole numbers only. */
  whole?: boolean;
  /** Also allowed, below `min`: 0 for "never". */
  zero?: boolean;
  /** What the message says the value must be: `1-64`, `seconds from 0.01 to 2147483`. */
  says: string;
}

/**
 * Reads `--flag value` as a number within `spec`, or throws a usage error
 * naming the flag and the value. Only plain decimals are numbers here:
 * `1e3`, `0x10`, `+5`, ` 5` and `Infinity` are refused, though
 * JavaScript's `Number` reads them, since `--timeout 1e3` is more likely a
 * slip than a wish for 1000 seconds, and `--help` shows only decimals.
 */
function numberFlag(flag: FlagName, text: string, spec: NumberSpec): number {
  const value = Number(text);
  const wellFormed = (spec.whole ? /^\d+$/ : /^(?:\d+(?:\.\d*)?|\.\d+)$/).test(text);
  if (wellFormed && (value >= spec.min && value <= spec.max || spec.zero && value === 0)) return value;
  throw new UsageError(`--${flag} must be ${spec.says}, got ${shellWord(text)}`);
}

/** The units of a rate: K, M and G are powers of 1024, with or without `B` or `iB` after them. */
const RATE_UNITS: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };

/**
 * Reads a rate for `flag` (`--max-upload-rate`, `--max-download-rate`) as
 * bytes per second: a number, whole or decimal, then optionally `K`, `M` or
 * `G` (any case: all powers of 1024), then optionally `B` or `iB`. So `10M`,
 * `10m`, `10MB` and `10MiB` are all 10485760; `1.5G` and `1048576` work too.
 * A lowercase `b` (bits) is refused rather than read as bytes.
 */
export function parseRate(text: string, flag = "--max-upload-rate"): number {
  const m = /^(\d+(?:\.\d+)?)(?:([KMG])(i?B)?)?$/i.exec(text);
  const bytes = m !== null && (m[3] === undefined || m[3].endsWith("B"));
  if (bytes && Number(m[1]) === 0) {
    const what = flag.includes("upload") ? "upload" : "download";
    throw new UsageError(`${flag} ${shellWord(text)} would stop every ${what}; leave the flag out for no limit`);
  }
  const rate = bytes ? Math.floor(Number(m[1]) * RATE_UNITS[(m[2] ?? "").toUpperCase()]) : NaN;
  if (rate >= 1 && rate <= Number.MAX_SAFE_INTEGER) return rate;
  const bits = m !== null && !bytes ? " (b is bits: write B for bytes)" : "";
  throw new UsageError(
    `${flag} must be bytes per second like 10M, 512K or 1048576 (K, M, G: powers of 1024), got ${
      shellWord(text)
    }${bits}`,
  );
}

/** A token of `parseArgs` that is a flag. */
interface OptionToken {
  name: string;
  rawName: string;
  index: number;
  value?: string;
  inlineValue?: boolean;
}

/** True when `arg` is a flag of any role (`--json`, `--port=1`, `-h`): then it is not the value of the flag before. */
function isFlag(arg: string): boolean {
  const name = arg.startsWith("--") ? arg.slice(2).split("=")[0] : undefined;
  return arg === "-h" || name !== undefined && Object.hasOwn(OPTIONS, name);
}

/**
 * Checks one flag as typed against `role`: known, the role's own, with a
 * value if it takes one (a value starting with `-`, like `-1`, is its value
 * and checked as such), none if it is a switch. `given` collects each flag
 * given with its value (`""` for a switch).
 */
function checkToken(token: OptionToken, args: readonly string[], role: RoleName, given: Map<FlagName, string>): void {
  const own = ROLE_FLAGS[role];
  const arg = args[token.index];
  if (!Object.hasOwn(OPTIONS, token.name)) {
    // `-port` reads as -p -o -r -t; the word typed is what the message names.
    const typed = arg.startsWith("--") ? token.rawName : arg.split("=")[0];
    const near = closest(typed.replace(/^--?/, ""), own);
    throw new UsageError(`unknown flag ${typed}${near ? ` (did you mean --${near}?)` : ""}`);
  }
  const name = token.name as FlagName;
  if (!own.includes(name)) {
    const takers = (Object.keys(ROLE_FLAGS) as RoleName[]).filter((r) => ROLE_FLAGS[r].includes(name));
    throw new UsageError(
      `--${name} is not a ${role} flag (${listed(takers)} ${takers.length > 1 ? "take" : "takes"} it)`,
    );
  }
  if (OPTIONS[name].type === "boolean") {
    if (token.inlineValue) {
      throw new UsageError(`--${name} takes no value, got ${shellWord(arg)}; write --${name} alone`);
    }
    given.set(name, "");
    return;
  }
  const form = `--${name} ${VALUE_NAMES[name]}`;
  if (token.value === undefined) throw new UsageError(`--${name} needs a value (${form})`);
  if (!token.inlineValue && isFlag(token.value)) {
    throw new UsageError(
      `--${name} needs a value (${form}), got the flag ${token.value}; for a value starting with a dash write --${name}=VALUE`,
    );
  }
  const before = given.get(name);
  if (before !== undefined) {
    throw new UsageError(`--${name} given twice (${shellWord(before)}, then ${shellWord(token.value)}); give it once`);
  }
  given.set(name, token.value);
}

/** Refuses the arguments that are not flags, for a role that takes none, saying what they likely meant. */
function refuseArguments(role: RoleName, positionals: readonly string[]): void {
  const shown = positionals.map(shellWord).join(" ");
  const own = ROLE_FLAGS[role];
  const only = own.length > 1 ? `the ${role} takes flags only` : `the ${role} takes no argument`;
  if (positionals.length > 1) throw new UsageError(`unexpected arguments ${shown} (${only})`);
  const [arg] = positionals;
  const meant = /^\d+$/.test(arg) && Number(arg) <= 65_535 && own.includes("port")
    ? `did you mean --port ${arg}?`
    : own.includes("dir")
    ? `did you mean --dir ${shown}?`
    : only;
  throw new UsageError(`unexpected argument ${shown} (${meant})`);
}

/** Get's checks of flags that depend on one another. */
function checkGet(given: ReadonlySet<FlagName>, positionals: readonly string[]): void {
  if (given.has("parts") && given.has("clean")) {
    throw new UsageError("--parts and --clean go one at a time: --parts lists the leftovers, --clean discards them");
  }
  const mode = given.has("parts") ? "parts" : given.has("clean") ? "clean" : undefined;
  if (mode !== undefined) {
    const does = mode === "parts" ? "lists" : "discards";
    if (positionals.length > 0) {
      throw new UsageError(
        `--${mode} takes no file name, got ${positionals.map(shellWord).join(" ")}; ` +
          `it ${does} the leftovers of every interrupted download in the --out folder`,
      );
    }
    const stray = [...given].find((flag) => !PARTS_FLAGS.includes(flag));
    if (stray !== undefined) {
      throw new UsageError(
        `--${stray} does not apply to --${mode}, which looks only at the --out folder; leave it out`,
      );
    }
  }
  if (given.has("wait-timeout") && !given.has("wait")) {
    throw new UsageError("--wait-timeout only applies with --wait; add --wait, or leave --wait-timeout out");
  }
}

/**
 * Reads `args`, the arguments after the role's name, as `options.role`'s
 * flags (then file names, for get and cat). Throws a `UsageError` naming
 * the first problem: a flag unknown or of another role, a missing or bad
 * value, a flag given twice, an argument the role does not take. With
 * `--help` (or `-h`) anywhere nothing else is checked, since nothing is
 * going to run: the result has `help` set and every other field at its
 * default.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const flags = parseFlags(["--port", "5609", "--dir", "p6"], { role: "peer", port: 5555, cwd: "/home/me" });
 * assert.equal(flags.port, 5609);
 * assert.equal(flags.dir, "/home/me/p6");
 * assert.throws(() => parseFlags(["--dir", "x"], { role: "tracker", port: 4444 }), /not a tracker flag/);
 * ```
 */
export function parseFlags(args: string[], options: ParseFlagsOptions): Flags {
  const { role } = options;
  // Not strict: the checks below name each problem in our words, and a value
  // starting with a dash (`--timeout -1`) stays the flag's value.
  const { values: v, positionals, tokens } = parseArgs({
    args,
    allowPositionals: true,
    strict: false,
    tokens: true,
    options: OPTIONS,
  });
  const flagTokens = tokens.filter((t) => t.kind === "option");
  if (flagTokens.some((t) => t.name === "help")) return { ...parseFlags([], options), help: true };
  const given = new Map<FlagName, string>();
  for (const token of flagTokens) checkToken(token, args, role, given);
  if (positionals.length > 0 && !TAKES_NAMES.includes(role)) refuseArguments(role, positionals);
  if (role === "get") checkGet(new Set(given.keys()), positionals);

  const text = (flag: FlagName) => v[flag] as string;
  const seconds = (flag: "timeout" | "idle-timeout" | "stats-every", min: number, zero = false) => {
    const says = zero ? `0 or seconds up to ${MAX_TIMEOUT_S}` : `seconds from ${min} to ${MAX_TIMEOUT_S}`;
    return Math.round(numberFlag(flag, text(flag), { min, max: MAX_TIMEOUT_S, zero, says }) * 1000);
  };
  const count = (flag: "demote-after" | "max-connections" | "max-per-address" | "max-uploads", min = 1) =>
    numberFlag(flag, text(flag), { min, max: 1_000_000, whole: true, says: `${min}-1000000` });
  const rate = (flag: "max-upload-rate" | "max-download-rate") =>
    v[flag] === undefined ? undefined : parseRate(text(flag), `--${flag}`);
  // Relative paths are the user's, typed where they stand: resolved against that folder now, so that
  // every later message shows the whole path. The folder is looked up only when a relative path needs it
  // (a tracker without --tls-* files never asks for it).
  const own = ROLE_FLAGS[role];
  const cwd = () => options.cwd ?? Deno.cwd();
  const path = (flag: "dir" | "out" | "info" | "tls-cert" | "tls-key" | "tls-ca", fallback?: string) => {
    const typed = v[flag] as string | undefined;
    const folder = flag === "dir" || flag === "out";
    if (typed === "") throw new UsageError(`--${flag} must name a ${folder ? "folder" : "file"}, got ''`);
    const chosen = typed ?? fallback;
    return chosen === undefined ? undefined : isAbsolute(chosen) ? chosen : resolve(cwd(), chosen);
  };
  const flags: Flags = {
    trackers: [], // read last, below
    host: text("host"),
    port: v.port === undefined
      ? options.port
      : numberFlag("port", text("port"), { min: 0, max: 65_535, whole: true, says: "0-65535" }),
    httpPort: v["http-port"] === undefined
      ? undefined
      : numberFlag("http-port", text("http-port"), { min: 0, max: 65_535, whole: true, says: "0-65535" }),
    dir: own.includes("dir") ? path("dir", text("dir")) ?? "" : "",
    // get saves into the folder the command was typed in; a peer into its shared folder (undefined).
    out: own.includes("out") ? path("out", role === "get" ? "." : undefined) : undefined,
    // A peer always keeps the tracker's last reply; get only when asked.
    info: own.includes("info") ? path("info", role === "peer" ? "info.txt" : undefined) : undefined,
    timeoutMs: seconds("timeout", 0.001),
    sources: numberFlag("sources", text("sources"), { min: 1, max: 64, whole: true, says: "1-64" }),
    maxUploadRate: rate("max-upload-rate"),
    maxDownloadRate: rate("max-download-rate"),
    demoteAfter: numberFlag("demote-after", text("demote-after"), {
      min: 1,
      max: 1_000_000,
      whole: true,
      says: "1 or more",
    }),
    idleTimeoutMs: seconds("idle-timeout", 0.01),
    maxConnections: count("max-connections"),
    maxPerAddress: count("max-per-address", 0),
    maxUploads: count("max-uploads"),
    statsEveryMs: seconds("stats-every", 0.01, true),
    store: storeFlag(text("store")),
    leaseSeconds: numberFlag("lease", text("lease"), {
      min: 1,
      max: 86_400,
      whole: true,
      says: "whole seconds 1-86400",
    }),
    watch: !v["no-watch"],
    servePartial: !v["no-partial"],
    wait: v.wait === true,
    waitSeconds: numberFlag("wait-timeout", text("wait-timeout"), {
      min: 1,
      max: Limits.MAX_WAIT_SECONDS,
      whole: true,
      says: `whole seconds from 1 to ${Limits.MAX_WAIT_SECONDS}`,
    }),
    json: v.json === true,
    parts: v.parts === true,
    clean: v.clean === true,
    secret: (v.secret as string | undefined) ?? options.secret,
    tlsCert: path("tls-cert"),
    tlsKey: path("tls-key"),
    tlsCa: path("tls-ca"),
    help: false,
    names: positionals,
  };
  if (v.host === "") throw new UsageError("--host must be an address to listen on, like 0.0.0.0 or 127.0.0.1, got ''");
  if (v.secret === "") throw new UsageError("--secret must not be empty; leave it out for no secret");
  checkTls(role, flags);
  // With a secret the HTTP face asks every request for a bearer token (derived from the secret), which plain HTTP
  // would show to anyone on the way: so only over HTTPS.
  if (flags.httpPort !== undefined && flags.secret !== undefined && flags.tlsCert === undefined) {
    const from = v.secret === undefined ? "P2P_SECRET" : "--secret";
    throw new UsageError(
      `--http-port with ${from} needs --tls-cert and --tls-key: the HTTP face then asks every request for a ` +
        `bearer token derived from the secret, which plain HTTP would show to anyone on the way; ` +
        `add --tls-cert FILE --tls-key FILE, drop --http-port, or ${
          from === "--secret" ? "drop --secret" : "unset P2P_SECRET"
        }`,
    );
  }
  if (flags.httpPort !== undefined && flags.httpPort !== 0 && flags.httpPort === flags.port) {
    throw new UsageError(`--http-port ${flags.httpPort} is the --port as well; choose another, or 0 for any free one`);
  }
  // Checked last, as it always was: with several bad flags, the one named is the same as before.
  flags.trackers = parseTrackerList(text("tracker"));
  return flags;
}

/**
 * A network is all TLS or all plain: `--tls-cert` and `--tls-key` go
 * together, and a peer, which both serves and connects, takes all three
 * TLS flags or none (serving plain while connecting with TLS, or the other
 * way round, would cut it off from half of its network).
 */
function checkTls(role: RoleName, flags: Flags): void {
  const { tlsCert, tlsKey, tlsCa } = flags;
  if ((tlsCert === undefined) !== (tlsKey === undefined)) {
    const [given, missing] = tlsCert === undefined ? ["--tls-key", "--tls-cert"] : ["--tls-cert", "--tls-key"];
    throw new UsageError(`${given} needs ${missing} as well: TLS needs both the certificate and its key`);
  }
  if (role !== "peer") return;
  const serves = tlsCert !== undefined;
  if (serves !== (tlsCa !== undefined)) {
    throw new UsageError(
      serves
        ? "--tls-cert and --tls-key need --tls-ca as well: a peer that serves with TLS connects with TLS too " +
          "(a network is all TLS or all plain); give the CA that signed the tracker's and peers' certificates"
        : "--tls-ca needs --tls-cert and --tls-key as well: a peer that connects with TLS serves with TLS too " +
          "(a network is all TLS or all plain); give this peer's certificate and key",
    );
  }
}

/**
 * Reads `--tracker`'s value: one `HOST:PORT`, or several separated by
 * commas (spaces around a comma allowed), in the order they are to be
 * tried. Throws a `UsageError` naming the bad item: one that is not
 * `HOST:PORT`, an empty one (`a:1,,b:2`), or one given twice. A tracker
 * listed twice is refused rather than collapsed: it is more likely a slip
 * (another port meant) than a wish. Twice means the same port and the same
 * host, case aside; `localhost` and `127.0.0.1` are not compared, as that
 * would need a name look-up.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseTrackerList("10.0.0.1:4444, 10.0.0.2:4444"), ["10.0.0.1:4444", "10.0.0.2:4444"]);
 * assert.throws(() => parseTrackerList("10.0.0.1:4444,nowhere"), /got nowhere \(item 2 of 10\.0\.0\.1:4444,nowhere\)/);
 * ```
 */
export function parseTrackerList(text: string): string[] {
  const items = text.split(/\s*,\s*/);
  // One address: the message of old; of a list, the message names the item and where it stands.
  const where = (i: number) => items.length === 1 ? "" : ` (item ${i + 1} of ${shellWord(text)})`;
  const seen = new Map<string, number>();
  for (const [i, item] of items.entries()) {
    if (item === "" && items.length > 1) {
      throw new UsageError(
        `--tracker has an empty item${where(i)}; separate trackers with one comma: HOST:PORT,HOST:PORT`,
      );
    }
    let key: string;
    try {
      const { host, port } = parseAddress(item);
      key = `${host.toLowerCase()}:${port}`;
    } catch {
      throw new UsageError(`--tracker must be HOST:PORT, got ${shellWord(item)}${where(i)}`);
    }
    const before = seen.get(key);
    if (before !== undefined) {
      throw new UsageError(
        `--tracker lists ${shellWord(item)} twice (items ${before + 1} and ${i + 1} of ${shellWord(text)}); ` +
          "give each tracker once",
      );
    }
    seen.set(key, i);
  }
  return items;
}
