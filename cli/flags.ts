/**
 * The command line's flags: one set for every role, each checked with a
 * message naming the flag, and the exit codes.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { Limits, parseAddress } from "../protocol.ts";
import { errorMessage, UsageError } from "../io/errors.ts";
import { MAX_TIMER_MS } from "../io/clock.ts";

/** Exit codes. */
export const Exit = { OK: 0, FAILED: 1, USAGE: 2 } as const;

/** The longest timeout a timer can hold, in whole seconds. */
const MAX_TIMEOUT_S = Math.floor(MAX_TIMER_MS / 1000);

/** Every flag of every role, checked; each role reads those it has. */
export interface Flags {
  /** `--tracker HOST:PORT`. */
  tracker: string;
  /** `--host`: where to listen. */
  host: string;
  /** `--port`: where to listen. */
  port: number;
  /** `--dir`: the shared folder. */
  dir: string;
  /** `--out`: where downloads land. */
  out?: string;
  /** `--info`: where the tracker's reply is saved. */
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
  /** Not `--no-watch`. */
  watch: boolean;
  /** `--wait`. */
  wait: boolean;
  /** `--wait-timeout`, in seconds. */
  waitSeconds: number;
  /** `--json`. */
  json: boolean;
  /** `--secret`, or `P2P_SECRET`. */
  secret?: string;
  /** `--help`. */
  help: boolean;
  /** The arguments that are not flags: file names. */
  names: string[];
}

const OPTIONS = {
  tracker: { type: "string", default: "127.0.0.1:4444" },
  host: { type: "string", default: "0.0.0.0" },
  port: { type: "string" },
  dir: { type: "string", default: "./files" },
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
  "no-watch": { type: "boolean", default: false },
  wait: { type: "boolean", default: false },
  "wait-timeout": { type: "string", default: "300" },
  json: { type: "boolean", default: false },
  secret: { type: "string" },
  help: { type: "boolean", short: "h", default: false },
} as const;

/** The name of every flag the command line takes (each role reads those it has; `--help` lists them). */
export const FLAG_NAMES: readonly string[] = Object.keys(OPTIONS);

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

/** Reads `--flag value` as a number within `spec`, or throws a usage error naming the flag and the value. */
function numberFlag(flag: string, text: string, spec: NumberSpec): number {
  const value = Number(text);
  const wellFormed = spec.whole ? /^\d+$/.test(text) : text.trim() !== "" && Number.isFinite(value);
  if (wellFormed && (value >= spec.min && value <= spec.max || spec.zero && value === 0)) return value;
  throw new UsageError(`--${flag} must be ${spec.says}, got ${text}`);
}

/** Reads `R`, `RK`, `RM` or `RG` (powers of 1024) as bytes per second, for `flag`. */
export function parseRate(text: string, flag = "--max-upload-rate"): number {
  const m = /^(\d+(?:\.\d+)?)([KMG]?)$/i.exec(text.trim());
  const units: Record<string, number> = { "": 1, K: 1024, M: 1024 ** 2, G: 1024 ** 3 };
  const rate = m ? Math.floor(Number(m[1]) * units[m[2].toUpperCase()]) : NaN;
  if (!(rate >= 1 && rate <= Number.MAX_SAFE_INTEGER)) {
    throw new UsageError(`${flag} must be bytes per second like 500K or 2M, got ${text}`);
  }
  return rate;
}

/**
 * Reads a role's arguments: `defaults.port` is the role's port when
 * `--port` is not given, `defaults.secret` the secret when `--secret` is not.
 * Throws a `UsageError` naming the first bad flag.
 */
export function parseFlags(args: string[], defaults: { port: number; secret?: string }): Flags {
  let parsed;
  try {
    parsed = parseArgs({ args, allowPositionals: true, strict: true, options: OPTIONS });
  } catch (error) {
    throw new UsageError(errorMessage(error));
  }
  const v = parsed.values;
  const text = (flag: keyof typeof v) => v[flag] as string;
  const seconds = (flag: "timeout" | "idle-timeout" | "stats-every", min: number, zero = false) => {
    const says = zero ? `0 or seconds up to ${MAX_TIMEOUT_S}` : `seconds from ${min} to ${MAX_TIMEOUT_S}`;
    return Math.round(numberFlag(flag, text(flag), { min, max: MAX_TIMEOUT_S, zero, says }) * 1000);
  };
  const count = (flag: "sources" | "demote-after" | "max-connections" | "max-per-address" | "max-uploads", min = 1) =>
    numberFlag(flag, text(flag), { min, max: 1_000_000, whole: true, says: `${min}-1000000` });
  const rate = (flag: "max-upload-rate" | "max-download-rate") =>
    v[flag] === undefined ? undefined : parseRate(v[flag], `--${flag}`);
  const flags: Flags = {
    tracker: v.tracker,
    host: v.host,
    port: v.port === undefined
      ? defaults.port
      : numberFlag("port", v.port, { min: 0, max: 65_535, whole: true, says: "0-65535" }),
    dir: v.dir,
    out: v.out,
    info: v.info,
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
    watch: !v["no-watch"],
    wait: v.wait,
    waitSeconds: numberFlag("wait-timeout", text("wait-timeout"), {
      min: 1,
      max: Limits.MAX_WAIT_SECONDS,
      whole: true,
      says: `whole seconds from 1 to ${Limits.MAX_WAIT_SECONDS}`,
    }),
    json: v.json,
    secret: v.secret ?? defaults.secret,
    help: v.help,
    names: parsed.positionals,
  };
  // Checked last, as it always was: with several bad flags, the one named is the same as before.
  try {
    parseAddress(v.tracker);
  } catch {
    throw new UsageError(`--tracker must be HOST:PORT, got ${v.tracker}`);
  }
  return flags;
}
