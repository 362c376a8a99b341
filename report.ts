/**
 * What a person sees: one line per event or result. Pure formatting; the
 * caller decides where the lines go.
 *
 * @module
 */

import type { Attempt, FileOutcome } from "./download.ts";
import type { PeerEvent } from "./peer.ts";
import type { TrackerEvent } from "./tracker.ts";

/** `attempt NAME from HOLDER failed: CODE message` */
export function formatAttempt(name: string, a: Attempt): string {
  return `attempt ${name} from ${a.holder} failed: ${a.code} ${a.message}`;
}

/** `saved NAME (N bytes) from HOLDER -> PATH`, `have NAME already …`, or `failed NAME: reason [CODE from HOLDER; …]`. */
export function formatOutcome(o: FileOutcome): string {
  if (o.ok && o.result.from === "here") return `have ${o.name} already (${o.result.size} bytes) at ${o.result.path}`;
  if (o.ok) return `saved ${o.name} (${o.result.size} bytes) from ${o.result.from} -> ${o.result.path}`;
  const tries = o.attempts.map((a) => `${a.code} from ${a.holder}`).join("; ");
  return `failed ${o.name}: ${o.reason}${tries ? ` [${tries}]` : ""}`;
}

/** One line for a peer's event. */
export function formatPeerEvent(e: PeerEvent): string {
  switch (e.type) {
    case "served":
      return `sent ${e.name} (${e.bytes} bytes) to ${e.to}`;
    case "refused":
      return `refused a request from ${e.to}: ${e.status} ${e.message}`;
    case "aborted":
      return `upload of ${e.name} to ${e.to} stopped after ${e.bytes} bytes: ${e.message}`;
    case "attempt-failed":
      return formatAttempt(e.name, e);
  }
}

/** One line for a tracker's event. */
export function formatTrackerEvent(e: TrackerEvent): string {
  switch (e.type) {
    case "joined":
      return `connection from ${e.peer}`;
    case "announced":
      return `${e.peer} announced ${e.files} files`;
    case "left":
      return `${e.peer} left; ${e.files} files removed from the index`;
    case "bad-request":
      return `${e.peer}: answered ${e.status} ${e.message}`;
  }
}
