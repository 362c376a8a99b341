/**
 * How the roles print what happens while downloads run: each line through
 * the progress display (so that it lands above the live lines), results as
 * text or as `--json` objects, and the hashing of a folder.
 *
 * @module
 */

import { resolve } from "node:path";
import type { FileOutcome, PeerEvent } from "../peer.ts";
import type { ProgressDisplay } from "./progress.ts";
import { formatBytes, formatOutcome, formatPeerEvent, outcomeJson } from "./report.ts";

/**
 * Shows the hashing of files not seen before: a live line on a terminal
 * (redrawn at most ten times a second), else one line at the start and one
 * at the end.
 */
export function hashingReporter(out: ProgressDisplay): (e: Extract<PeerEvent, { type: "hashing" }>) => void {
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

/** Says which files a `--wait` waits for, and for how long at most. */
export function waitingPrinter(waitSeconds: number, out: ProgressDisplay): (names: string[]) => void {
  return (names) => out.log(`waiting for ${names.join(", ")} (up to ${waitSeconds} s)`);
}

/** Prints one file's outcome: its result lines, or with `json` one JSON object on standard output. */
export function outcomePrinter(json: boolean, out: ProgressDisplay): (outcome: FileOutcome) => void {
  if (json) {
    // Around the live area, which may be on the same terminal.
    return (o) => out.interrupt(() => console.log(JSON.stringify(outcomeJson(o, (path) => resolve(path)))));
  }
  return (o) => out.log(formatOutcome(o));
}
