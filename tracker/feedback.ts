/**
 * What downloaders told the tracker about holders (`REPORT`), and what the
 * tracker makes of it: holders that served well come first in a reply, and a
 * holder that keeps failing is no longer offered. Pure data, no I/O.
 *
 * Votes are counted per reporting session, not per report, so that one
 * client repeating itself cannot demote an honest holder on its own; a vote
 * outlives its session (a one-shot `get` reports, then leaves). A holder's
 * record lives as long as the holder's session: a peer that reconnects
 * starts afresh (it may have been fixed). Each record keeps the latest
 * {@link MAX_VOTES} votes.
 *
 * Reports are taken on trust: a client that opens two connections can vote
 * twice. Demotion needs more failing votes than good ones, and bytes count
 * once per session and at most the file's size, which bounds what a liar
 * can do, not that it can.
 *
 * @module
 */

/** Votes kept per holder; the oldest are forgotten first. */
export const MAX_VOTES = 100;

/** How a holder has served, as reported. */
export interface HolderScore {
  /** Verified bytes reported as delivered, once per reporting session (its latest report). */
  served: number;
  /** Sessions that reported a success. */
  succeeded: number;
  /** Sessions that reported a failure. */
  failed: number;
  /** The last failure code reported. */
  lastFailure?: string;
  /** No longer offered. */
  demoted: boolean;
}

/** One downloader's verdict on one holder, as {@link HolderFeedback.report} takes it. */
export interface Report {
  /** The reporting session's id. */
  reporter: number;
  /** The holder's session id. */
  holder: number;
  /** `OK`, or the failure's code. */
  outcome: string;
  /** Verified bytes it delivered (capped at the file's size by the caller). */
  bytes: number;
}

interface Vote {
  ok: boolean;
  bytes: number;
}

interface Record {
  /** Each reporting session's latest vote, oldest first. */
  votes: Map<number, Vote>;
  served: number;
  failed: number;
  lastFailure?: string;
}

/**
 * Reports, by holder peer id.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const feedback = new HolderFeedback(2);
 * feedback.report({ reporter: 10, holder: 1, outcome: "EHASH", bytes: 0 });
 * const score = feedback.report({ reporter: 11, holder: 1, outcome: "ETIMEDOUT", bytes: 0 });
 * assert.equal(score.demoted, true);
 * assert.deepEqual(feedback.rank([1, 2], 50), [1]);
 * ```
 */
export class HolderFeedback {
  #records = new Map<number, Record>();
  #demoteAfter: number;

  /** A holder is demoted once at least `demoteAfter` sessions reported it failing, and more failed than succeeded. */
  constructor(demoteAfter = 2) {
    this.#demoteAfter = demoteAfter;
  }

  /**
   * Records a vote: session `reporter` got `outcome` (`OK` or a code) from
   * peer `holder`, with `bytes` verified bytes. A session's new report
   * replaces its earlier one; only a success's bytes count as served (a
   * failed transfer's bytes were worth nothing).
   */
  report(report: Report): HolderScore {
    const { reporter, holder, outcome, bytes } = report;
    let record = this.#records.get(holder);
    if (!record) this.#records.set(holder, record = { votes: new Map(), served: 0, failed: 0 });
    const ok = outcome === "OK";
    if (!ok) record.lastFailure = outcome;
    this.#unvote(record, reporter);
    const vote = { ok, bytes: ok ? bytes : 0 };
    record.votes.set(reporter, vote);
    record.served += vote.bytes;
    if (!ok) record.failed++;
    if (record.votes.size > MAX_VOTES) this.#unvote(record, record.votes.keys().next().value!);
    return this.score(holder)!;
  }

  #unvote(record: Record, reporter: number): void {
    const old = record.votes.get(reporter);
    if (!old) return;
    record.votes.delete(reporter);
    record.served -= old.bytes;
    if (!old.ok) record.failed--;
  }

  /** What is known of peer `holder`, if anything was reported. */
  score(holder: number): HolderScore | undefined {
    const r = this.#records.get(holder);
    if (!r) return undefined;
    const score = {
      served: r.served,
      succeeded: r.votes.size - r.failed,
      failed: r.failed,
      demoted: this.#demoted(r),
    };
    return r.lastFailure === undefined ? score : { ...score, lastFailure: r.lastFailure };
  }

  /** Whether peer `holder` is demoted: no longer offered. */
  isDemoted(holder: number): boolean {
    const r = this.#records.get(holder);
    return r !== undefined && this.#demoted(r);
  }

  /** Forgets what was reported about peer `id` (its session ended). Its own votes on others stay. */
  forget(id: number): void {
    this.#records.delete(id);
  }

  /** True when nothing was ever reported: replies keep announcement order at no cost. */
  get empty(): boolean {
    return this.#records.size === 0;
  }

  /**
   * Positions in `peers` (holders in announcement order) without the
   * demoted ones, best first: fewest failing sessions, then most bytes
   * served, then announcement order. At most `max`.
   */
  rank(peers: readonly number[], max: number): number[] {
    return rankScores(peers.map((p) => this.score(p)), max);
  }

  #demoted(r: Record): boolean {
    return r.failed >= this.#demoteAfter && r.failed > r.votes.size - r.failed;
  }
}

/**
 * Positions in `scores` (of holders in announcement order; `undefined` for
 * a holder nobody reported on) without the demoted ones, best first:
 * fewest failing sessions, then most bytes served, then announcement order.
 * At most `max`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const failing = { served: 0, succeeded: 0, failed: 1, demoted: false };
 * const good = { served: 10, succeeded: 1, failed: 0, demoted: false };
 * assert.deepEqual(rankScores([failing, undefined, good], 50), [2, 1, 0]);
 * ```
 */
export function rankScores(scores: readonly (HolderScore | undefined)[], max: number): number[] {
  if (scores.every((s) => s === undefined)) return scores.slice(0, max).map((_, i) => i);
  const keyed = scores.flatMap((s, order) => {
    if (s?.demoted) return [];
    return [{ order, failed: s?.failed ?? 0, served: s?.served ?? 0 }];
  });
  keyed.sort((a, b) => a.failed - b.failed || b.served - a.served || a.order - b.order);
  return keyed.slice(0, max).map((k) => k.order);
}
