/**
 * `LIST`, `PEERS` and `STATS` at a peer's prompt, in words: names decoded
 * (and quoted only where `SEND` needs it, so that a name copied from the
 * list fetches that file), sizes as `1.50 MiB`, `2 holders`, a short hash,
 * and a last line with the count and the command for the next page. Pure
 * formatting over what `protocol.ts` parsed; the prompt decides when to use
 * it (a terminal) and when the tracker's own lines are printed instead.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const files = [{ name: "a, b.txt", size: 1536, sha256: "bfe9".padEnd(64, "0"), holders: 2 }];
 * assert.deepEqual(formatFileList({ files, total: 1, page: 1 }, ""), [
 *   '1.50 KiB  2 holders  bfe90000  "a, b.txt"',
 *   "1 file indexed",
 * ]);
 * ```
 *
 * @module
 */

import { Limits, type ListedFile, type ListedPeer, type PageEnd, type TrackerStats } from "../protocol.ts";
import { showName } from "./prompt_syntax.ts";
import { formatBytes } from "./report.ts";
import { plural } from "../io/words.ts";

/** Hex digits of a file's SHA-256 shown: enough to tell two versions apart at a glance. */
export const SHORT_HASH = 8;

/**
 * A `LIST` page: one line per file (size, holders, short hash, name as
 * `SEND` takes it), then what was found and how to get the next page.
 * `text` is what the names were searched for.
 */
export function formatFileList(page: { files: readonly ListedFile[] } & PageEnd, text: string): string[] {
  const sizes = page.files.map((f) => formatBytes(f.size));
  const holders = page.files.map((f) => plural(f.holders, "holder"));
  const sizeWidth = Math.max(0, ...sizes.map((s) => s.length));
  const holdersWidth = Math.max(0, ...holders.map((h) => h.length));
  const lines = page.files.map((f, i) =>
    `${sizes[i].padStart(sizeWidth)}  ${holders[i].padEnd(holdersWidth)}  ${f.sha256.slice(0, SHORT_HASH)}  ` +
    showName(f.name)
  );
  const matching = text ? ` whose names contain ${JSON.stringify(text)}` : "";
  if (page.total === 0) {
    return [text ? `no indexed file name contains ${JSON.stringify(text)}` : "no files indexed yet"];
  }
  lines.push(pageFooter(page, { noun: "file", matching, next: (n) => listCommand(n, text) }));
  return lines;
}

/** A `PEERS` page: each peer's address and how many files it shares, then the count and the next page. */
export function formatPeerList(page: { peers: readonly ListedPeer[] } & PageEnd): string[] {
  if (page.total === 0) return ["no peers share files now"];
  const width = Math.max(0, ...page.peers.map((p) => p.address.length));
  const lines = page.peers.map((p) => `${p.address.padEnd(width)}  ${plural(p.files, "file")}`);
  lines.push(pageFooter(page, { noun: "peer", matching: "", next: (n) => `PEERS --page ${n}` }));
  return lines;
}

/**
 * The tracker's counters, labelled:
 * `tracker: 3 peers (4 sessions), 9 files (12 copies), 1 name waited for; 50 requests (0.5/s), 1 report (2.00 KiB verified); up 1 min`
 */
export function formatStatsLine(stats: TrackerStats): string {
  return `tracker: ${plural(stats.peers, "peer")} (${plural(stats.sessions, "session")}), ` +
    `${plural(stats.files, "file")} (${plural(stats.holders, ["copy", "copies"])}), ` +
    `${plural(stats.waiting, "name")} waited for; ` +
    `${plural(stats.requests, "request")} (${stats.rps}/s), ` +
    `${plural(stats.reports, "report")} (${formatBytes(stats.reportedBytes)} verified); up ${
      formatUptime(stats.uptime)
    }`;
}

/** `5 s`, `12 min`, `3 h 20 min`, `4 days 2 h`. */
export function formatUptime(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86_400) return `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`;
  return `${plural(Math.floor(s / 86_400), "day")} ${Math.floor(s % 86_400 / 3600)} h`;
}

/** `LIST --page 2 text`, as typed at the prompt. */
function listCommand(page: number, text: string): string {
  return `LIST --page ${page}${text ? ` ${text}` : ""}`;
}

/** The last line of a page: the count, which of them this page shows, and the command for the next. */
function pageFooter(
  page: PageEnd & { files?: readonly unknown[]; peers?: readonly unknown[] },
  how: { noun: string; matching: string; next: (page: number) => string },
): string {
  const shown = (page.files ?? page.peers ?? []).length;
  const pages = Math.ceil(page.total / Limits.LIST_PAGE);
  const all = `${plural(page.total, how.noun)}${how.matching}`;
  if (page.page === 1 && page.nextPage === undefined && shown === page.total) {
    return how.noun === "file" && !how.matching ? `${all} indexed` : all;
  }
  if (shown === 0) {
    return `page ${page.page} is past the end: ${all}, ${Limits.LIST_PAGE} a page; the last is ${how.next(pages)}`;
  }
  const from = (page.page - 1) * Limits.LIST_PAGE + 1;
  const range = `${how.noun}s ${from}-${from + shown - 1} of ${page.total}${how.matching}`;
  return page.nextPage === undefined ? `${range} (the last page)` : `${range}; next page: ${how.next(page.nextPage)}`;
}
