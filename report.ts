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
