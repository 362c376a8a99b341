/**
 * What a person sees: one line per event or result. Pure formatting; the
 * caller decides where the lines go.
 *
 * @module
 */

import { dirname } from "node:path";
import { formatStats } from "../protocol.ts";
import { errorMessage, TlsError } from "../io/errors.ts";
import type { TlsClientConfig, TlsServerConfig } from "../io/tls.ts";
import { formatBytes, plural } from "../io/words.ts";
import type {
  Attempt,
  Failure,
  FileOutcome,
  PeerEvent,
  SkippedTracker,
  SourceReport,
  TrackerFailure,
} from "../peer.ts";
import type { TrackerEvent } from "../tracker.ts";
import { discardHint } from "./leftovers.ts";

export { formatBytes };

/**
 * A server's line about TLS, under its `listening on` line:
 * `TLS: serving with the certificate /x/tracker.crt; clients connect with
 * --tls-ca (the CA that signed it)`, and for a peer, which connects too,
 * `…; trusting the CA in /x/ca.crt to reach the tracker and other peers`.
 */
export function tlsServerLine(server: TlsServerConfig, client?: TlsClientConfig): string {
  const serving = `TLS: serving with the certificate ${server.certFile}`;
  return client
    ? `${serving}; trusting the CA in ${client.caFile} to reach the tracker and other peers`
    : `${serving}; clients connect with --tls-ca (the CA that signed it)`;
}

/**
 * A server's error line: a client's failed TLS handshake (or TLS to a
 * plain server) in its own words, `error: the client at … spoke plain TCP
 * to this TLS server; …`; anything else as the runtime prints it.
 */
export function formatServerError(error: unknown): string {
  return `error: ${error instanceof TlsError ? error.message : Deno.inspect(error)}`;
}

/** `attempt NAME from HOLDER failed: CODE message` */
export function formatAttempt(name: string, a: Attempt): string {
  return `attempt ${name} from ${a.holder} failed: ${a.code} ${a.message}`;
}

/**
 * `saved NAME (96 B) from HOLDER -> PATH`, `have NAME already …`, or
 * `failed NAME: reason [CODE from HOLDER; …]`: sizes in units
 * ({@link formatBytes}); `--json` keeps the exact counts. A file that came
 * from several holders, or resumed an earlier run, gets one more line per
 * holder.
 */
export function formatOutcome(o: FileOutcome): string {
  if (o.ok && o.result.from === "here") {
    return `have ${o.name} already (${formatBytes(o.result.size)}) at ${o.result.path}`;
  }
  if (o.ok) {
    const { result } = o;
    const delivered = result.sources.filter((s) => s.bytes > 0);
    const resumed = result.resumed > 0 ? `, ${formatBytes(result.resumed)} resumed from an earlier run` : "";
    // From one holder: one line (failed tries were told as they happened).
    if (delivered.length <= 1 && !resumed) {
      return `saved ${o.name} (${formatBytes(result.size)}) from ${result.from} -> ${result.path}`;
    }
    const from = plural(delivered.length, "source");
    const head = `saved ${o.name} (${formatBytes(result.size)}${resumed}) from ${from} -> ${result.path}`;
    // A holder that was asked but gave nothing before the others had it all is not a source: left out.
    const lines = result.sources.filter((s) => s.bytes > 0 || s.code !== undefined).map(formatSource);
    return [head, ...lines].join("\n");
  }
  const tries = o.attempts.map((a) => `${a.code} from ${a.holder}`).join("; ");
  const hint = o.kept?.length ? `; ${discardHint(dirname(o.kept[0].path), o.kept.length)}` : "";
  return `failed ${o.name}: ${o.reason}${hint}${tries ? ` [${tries}]` : ""}`;
}

/**
 * The outcome of a name asked for whose download never began, because the
 * run failed first (`error`: the tracker could not be reached, say).
 */
export function notStarted(name: string, error: unknown): Failure {
  return { name, ok: false, reason: errorMessage(error), attempts: [], sources: [], kind: "failed" };
}

/** One source of a file in {@link outcomeJson}. */
export interface SourceJson {
  holder: string;
  /** `OK`, or why it was dropped or failed: a status (`404`, `503`) or an error code (`ECONNREFUSED`, `EHASH`). */
  outcome: string;
  /** Bytes it delivered that were kept (verified). */
  bytes: number;
  /** Chunks it delivered. */
  chunks: number;
  /** A partial holder: a peer still downloading the file, serving the chunks it verified. */
  partial?: true;
  message?: string;
}

/** The object `--json` prints for one file. `docs/JSON.md` describes every field. */
export interface OutcomeJson {
  name: string;
  /** `ok` (landed now), `present` (already there, same hash), `not-found`, `refused`, `cancelled`, `failed`. */
  status: "ok" | "present" | "not-found" | "refused" | "cancelled" | "failed";
  size: number | null;
  sha256: string | null;
  path: string | null;
  durationMs: number | null;
  waitedMs: number | null;
  resumedBytes: number;
  sources: SourceJson[];
  error: string | null;
}

/** What `--json` prints for one file (serialize with `JSON.stringify`, one line). */
export function outcomeJson(o: FileOutcome, absolute: (path: string) => string = (p) => p): OutcomeJson {
  const used = o.ok ? o.result.sources : o.sources;
  const attempts = o.ok ? o.result.failed : o.attempts;
  const sources: SourceJson[] = used.map((s) => ({
    holder: s.holder,
    outcome: s.code ?? "OK",
    bytes: s.bytes,
    chunks: s.chunks,
    ...(s.partial ? { partial: true } : {}),
    ...(s.message ? { message: s.message } : {}),
  }));
  // Holders that failed before delivering anything (refused the connection, say) are only among the attempts.
  for (const a of attempts) {
    if (a.holder === "here" || sources.some((s) => s.holder === a.holder && s.outcome === a.code)) continue;
    sources.push({ holder: a.holder, outcome: a.code, bytes: 0, chunks: 0, message: a.message });
  }
  const timing = { durationMs: o.durationMs ?? null, waitedMs: o.waitedMs ?? null };
  if (o.ok) {
    const r = o.result;
    const status = r.from === "here" ? "present" : "ok";
    return {
      name: o.name,
      status,
      size: r.size,
      sha256: r.sha256,
      path: absolute(r.path),
      ...timing,
      resumedBytes: r.resumed,
      sources,
      error: null,
    };
  }
  return {
    name: o.name,
    status: o.kind ?? "failed",
    size: null,
    sha256: null,
    path: null,
    ...timing,
    resumedBytes: 0,
    sources,
    error: o.reason,
  };
}

/** `  HOLDER: 14 chunks, 14.0 MiB` and, for a dropped holder, why. */
export function formatSource(s: SourceReport): string {
  const served = `${plural(s.chunks, "chunk")}, ${formatBytes(s.bytes)}${s.partial ? " (a partial holder)" : ""}`;
  return `  ${s.holder}: ${served}${s.code ? `; dropped: ${s.code} ${s.message ?? ""}`.trimEnd() : ""}`;
}

/**
 * `cat: NAME (3.00 MiB) from HOLDER`: what `cat` printed, and from where.
 */
export function formatRelayed(name: string, relayed: { size: number; from: string }): string {
  return `cat: ${name} (${formatBytes(relayed.size)}) from ${relayed.from}`;
}

/** `1 try`, `12 tries`. */
function tries(n: number): string {
  return `${n} ${n === 1 ? "try" : "tries"}`;
}

/** How long the tracker was away: `4.2 s`, `35 s`, `2 min 5 s`, `15 min`, `3 h 20 min`. */
function formatAway(ms: number): string {
  if (ms < 10_000) return `${(ms / 1000).toFixed(1)} s`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return m < 10 && s % 60 > 0 ? `${m} min ${s % 60} s` : `${m} min`;
  return m % 60 > 0 ? `${Math.floor(m / 60)} h ${m % 60} min` : `${m / 60} h`;
}

/** `127.0.0.1:4444: connection refused; 127.0.0.1:4445: no answer within 10 s`: each tracker tried, and why. */
function formatTried(tried: readonly TrackerFailure[]): string {
  return tried.map((t) => `${t.tracker}: ${t.message}`).join("; ");
}

/**
 * `cannot reach the tracker at 127.0.0.1:4444 (connection refused); trying
 * 127.0.0.1:4445`: one of several trackers did not answer (a peer's, or
 * get's and cat's, as they connect).
 */
export function formatSkipped(s: SkippedTracker): string {
  return `cannot reach the tracker at ${s.tracker} (${s.message}); trying ${s.next}`;
}

/** One line for a peer's event. */
export function formatPeerEvent(e: PeerEvent): string {
  switch (e.type) {
    case "served":
      // A whole file in one answer, or parts of it (a swarm's ranges): never the one read as the other.
      if (e.ranges === 1 && e.bytes === e.size) return `sent ${e.name} (${formatBytes(e.bytes)}) to ${e.to}`;
      return `sent ${plural(e.ranges, "range")} of ${e.name} (${formatBytes(e.bytes)} of ${
        formatBytes(e.size)
      }) to ${e.to}`;
    case "refused":
      return `refused a request from ${e.to}: ${e.status} ${e.message}`;
    case "aborted":
      return `stopped sending ${e.name} to ${e.to} after ${formatBytes(e.bytes)} of ${
        formatBytes(e.size)
      }: ${e.message}`;
    case "attempt-failed":
      return formatAttempt(e.name, e);
    case "tracker-unreachable":
      if (e.tried) {
        return `cannot reach any of the ${e.tried.length} trackers (${formatTried(e.tried)}); serving anyway, and ` +
          `trying them again in the background (a line at 1, 5 and 15 min, then hourly, while they are away)`;
      }
      return `cannot reach the tracker at ${e.tracker} (${e.message}); serving anyway, and trying again in the ` +
        `background (a line at 1, 5 and 15 min, then hourly, while it is away)`;
    case "tracker-lost":
      if (e.next !== undefined) return `lost the tracker at ${e.tracker} (${e.message}); trying ${e.next}`;
      return `lost the tracker at ${e.tracker} (${e.message}); serving anyway, and trying again in the background ` +
        `(a line at 1, 5 and 15 min, then hourly, while it is away)`;
    case "tracker-skipped":
      return formatSkipped(e);
    case "tracker-moved":
      return `now using the tracker at ${e.tracker}: ${e.announced}`;
    case "tracker-retry":
      if (e.tried) {
        return `none of the ${e.tried.length} trackers answers after ${formatAway(e.awayMs)} ` +
          `(${tries(e.attempts)}; the last of each: ${formatTried(e.tried)}); still serving, still trying`;
      }
      return `the tracker at ${e.tracker} is still unreachable after ${formatAway(e.awayMs)} ` +
        `(${tries(e.attempts)}, the last: ${e.message}); still serving, still trying`;
    case "tracker-back":
      return `reached the tracker at ${e.tracker}${e.again ? " again" : ""} after ${formatAway(e.awayMs)} ` +
        `(${tries(e.attempts)}): ${e.announced}`;
    case "hashing":
      return `hashing ${e.file}: ${e.filesDone} of ${plural(e.files, "file")}, ${formatBytes(e.bytesDone)} of ${
        formatBytes(e.bytes)
      }`;
    case "folder-changed": {
      const parts = [];
      if (e.changed.length > 0) {
        parts.push(`now sharing ${e.changed.map((f) => `${f.name} (${formatBytes(f.size)})`).join(", ")}`);
      }
      if (e.removed.length > 0) parts.push(`no longer sharing ${e.removed.join(", ")}`);
      return `${parts.join("; ")}${e.answer ? ` (tracker: ${e.answer})` : ""}`;
    }
    case "sharing-partial":
      return `serving the verified chunks of ${e.name} to other peers while it downloads (tracker: ${e.answer})`;
    case "warning":
      return `warning: ${e.message}`;
  }
}

/** One line for a tracker's event. */
export function formatTrackerEvent(e: TrackerEvent): string {
  switch (e.type) {
    case "joined":
      return `connection from ${e.peer}`;
    case "announced":
      if (e.partial !== undefined) {
        return `${e.peer} is downloading ${plural(e.added ?? 0, "file")} and serves their verified chunks ` +
          `(${plural(e.partial, "partial holding")}, ${plural(e.files, "whole file")})`;
      }
      if (e.added !== undefined) return `${e.peer} added ${plural(e.added, "file")} (${e.files} in all)`;
      if (e.removed !== undefined) return `${e.peer} removed ${plural(e.removed, "file")} (${e.files} left)`;
      return `${e.peer} announced ${plural(e.files, "file")}`;
    case "left":
      return `${e.peer} left${e.reason ? ` (${e.reason})` : ""}; ${plural(e.files, "file")}${
        e.partial ? ` and ${plural(e.partial, "partial holding")}` : ""
      } removed from the index`;
    case "bad-request":
      return `${e.peer}: answered ${e.status} ${e.message}`;
    case "reported":
      return `${e.peer} reported ${e.holder} ${e.outcome} for ${e.name}${e.demoted ? "; no longer offered" : ""}`;
    case "stats":
      return `stats: ${formatStats(e.stats)}`;
    case "store-lost":
      return `lost the index store ${e.store} (${e.reason}); lookups answer 503 and announcements wait here ` +
        "until it is back; reconnecting";
    case "store-back":
      return `the index store ${e.store} is back` +
        (e.rewritten > 0
          ? `; it had lost this tracker's entries: wrote ${plural(e.rewritten, ["entry", "entries"])} again`
          : "");
  }
}
