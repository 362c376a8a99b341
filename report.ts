/**
 * What a person sees: one line per event or result. Pure formatting; the
 * caller decides where the lines go.
 *
 * @module
 */

import type { Attempt, FileOutcome, SourceReport } from "./download.ts";
import type { PeerEvent } from "./peer.ts";
import type { TrackerEvent } from "./tracker.ts";
import { formatStats } from "./protocol.ts";

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

/** `  HOLDER: N chunks, N bytes` and, for a dropped holder, why. */
export function formatSource(s: SourceReport): string {
  const served = `${plural(s.chunks, "chunk")}, ${s.bytes} bytes`;
  return `  ${s.holder}: ${served}${s.code ? `; dropped: ${s.code} ${s.message ?? ""}`.trimEnd() : ""}`;
}

/** `512 B`, `1.5 KiB`, `12.0 MiB`, `3.25 GiB`: powers of 1024, three significant digits or so. */
export function formatBytes(n: number): string {
  if (n < 1024) return `${n} B`;
  const units = ["KiB", "MiB", "GiB", "TiB", "PiB"];
  let value = n / 1024;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return `${value.toFixed(value < 10 ? 2 : value < 100 ? 1 : 0)} ${units[unit]}`;
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
