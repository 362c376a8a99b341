/**
 * What a person sees: one line per event or result. Pure formatting; the
 * caller decides where the lines go.
 *
 * @module
 */

import { formatStats } from "../protocol.ts";
import type { Attempt, FileOutcome, PeerEvent, SourceReport } from "../peer.ts";
import type { TrackerEvent } from "../tracker.ts";

/** `attempt NAME from HOLDER failed: CODE message` */
export function formatAttempt(name: string, a: Attempt): string {
  return `attempt ${name} from ${a.holder} failed: ${a.code} ${a.message}`;
}

/**
 * `saved NAME (N bytes) from HOLDER -> PATH`, `have NAME already …`, or
 * `failed NAME: reason [CODE from HOLDER; …]`. A file that came from several
 * holders, or resumed an earlier run, gets one more line per holder.
 */
export function formatOutcome(o: FileOutcome): string {
  if (o.ok && o.result.from === "here") return `have ${o.name} already (${o.result.size} bytes) at ${o.result.path}`;
  if (o.ok) {
    const { result } = o;
    const delivered = result.sources.filter((s) => s.bytes > 0);
    const resumed = result.resumed > 0 ? `, ${result.resumed} resumed from an earlier run` : "";
    // From one holder: one line (failed tries were told as they happened).
    if (delivered.length <= 1 && !resumed) {
      return `saved ${o.name} (${result.size} bytes) from ${result.from} -> ${result.path}`;
    }
    const from = plural(delivered.length, "source");
    const head = `saved ${o.name} (${result.size} bytes${resumed}) from ${from} -> ${result.path}`;
    return [head, ...result.sources.map(formatSource)].join("\n");
  }
  const tries = o.attempts.map((a) => `${a.code} from ${a.holder}`).join("; ");
  return `failed ${o.name}: ${o.reason}${tries ? ` [${tries}]` : ""}`;
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

/** `  HOLDER: N chunks, N bytes` and, for a dropped holder, why. */
export function formatSource(s: SourceReport): string {
  const served = `${plural(s.chunks, "chunk")}, ${s.bytes} bytes`;
  return `  ${s.holder}: ${served}${s.code ? `; dropped: ${s.code} ${s.message ?? ""}`.trimEnd() : ""}`;
}

/** `512 B`, `1.5 KiB`, `12.0 MiB`, `3.25 GiB`: powers of 1024, three significant digits or so. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  // Two decimals under 10, one under 100, none above; what would show as 1000 or more goes to the next unit.
  const shown = (v: number) => v.toFixed(Number(v.toFixed(2)) < 10 ? 2 : Number(v.toFixed(1)) < 100 ? 1 : 0);
  let value = n / 1024;
  let unit = 0;
  while (Number(shown(value)) >= 1000 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${shown(value)} ${units[unit]}`;
}

function plural(n: number, word: string): string {
  return `${n} ${word}${n === 1 ? "" : "s"}`;
}

/** One line for a peer's event. */
export function formatPeerEvent(e: PeerEvent): string {
  switch (e.type) {
    case "served":
      return `sent ${e.name} (${e.bytes} bytes${e.ranges > 1 ? ` in ${e.ranges} ranges` : ""}) to ${e.to}`;
    case "refused":
      return `refused a request from ${e.to}: ${e.status} ${e.message}`;
    case "aborted":
      return `upload of ${e.name} to ${e.to} stopped after ${e.bytes} bytes: ${e.message}`;
    case "attempt-failed":
      return formatAttempt(e.name, e);
    case "tracker-lost":
      return `lost the tracker (${e.message}); still serving, trying to reach it again`;
    case "tracker-retry":
      return `tracker still unreachable (try ${e.attempt}: ${e.message}); next try in ${
        (e.nextInMs / 1000).toFixed(1)
      } s`;
    case "tracker-back":
      return `reached the tracker again: ${e.announced}`;
    case "hashing":
      return `hashing ${e.file}: ${e.filesDone} of ${plural(e.files, "file")}, ${formatBytes(e.bytesDone)} of ${
        formatBytes(e.bytes)
      }`;
    case "folder-changed": {
      const parts = [];
      if (e.changed.length > 0) {
        parts.push(`now sharing ${e.changed.map((f) => `${f.name} (${f.size} bytes)`).join(", ")}`);
      }
      if (e.removed.length > 0) parts.push(`no longer sharing ${e.removed.join(", ")}`);
      return `${parts.join("; ")}${e.answer ? ` (tracker: ${e.answer})` : ""}`;
    }
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
      if (e.added !== undefined) return `${e.peer} added ${e.added} files (${e.files} in all)`;
      if (e.removed !== undefined) return `${e.peer} removed ${e.removed} files (${e.files} left)`;
      return `${e.peer} announced ${e.files} files`;
    case "left":
      return `${e.peer} left${e.reason ? ` (${e.reason})` : ""}; ${e.files} files removed from the index`;
    case "bad-request":
      return `${e.peer}: answered ${e.status} ${e.message}`;
    case "reported":
      return `${e.peer} reported ${e.holder} ${e.outcome} for ${e.name}${e.demoted ? "; no longer offered" : ""}`;
    case "stats":
      return `stats: ${formatStats(e.stats)}`;
  }
}
