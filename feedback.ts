/**
 * What downloaders told the tracker about holders (`REPORT`), and what the
 * tracker makes of it: holders that served well come first in a reply, and a
 * holder that keeps failing is no longer offered. Pure data, no I/O.
 *
 * Votes are counted per reporting session, not per report, so that one
 * client repeating itself cannot demote an honest holder on its own; a vote
 * outlives its session (a one-shot `get` reports, then leaves). A holder's
 * record lives as long as the holder's session: a peer that reconnects
 * starts afresh (it may have been fixed). Each record keeps at most
 * {@link MAX_VOTES} votes of each kind, the latest.
 *
 * @module
 */

import type { Holder } from "./protocol.ts";

/** Votes of each kind kept per holder; older ones are forgotten first. */
export const MAX_VOTES = 1_000;

/** How a holder has served, as reported. */
export interface HolderScore {
  /** Verified bytes reported as delivered. */
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

interface Record {
  served: number;
  ok: Set<number>;
  failed: Set<number>;
  lastFailure?: string;
}

/** Reports, by holder peer id. */
export class HolderFeedback {
  #records = new Map<number, Record>();
  #demoteAfter: number;

  /** A holder is demoted once at least `demoteAfter` sessions reported it failing, and more failed than succeeded. */
  constructor(demoteAfter = 2) {
    this.#demoteAfter = demoteAfter;
  }

  /**
   * Records that session `reporter` got `outcome` (`OK` or a code) from peer
   * `holder`, and `bytes` verified bytes; only a success's bytes count as
   * served (a failed transfer's bytes were not worth anything).
   */
  report(reporter: number, holder: number, outcome: string, bytes: number): HolderScore {
    let record = this.#records.get(holder);
    if (!record) this.#records.set(holder, record = { served: 0, ok: new Set(), failed: new Set() });
    const [vote, other] = outcome === "OK" ? [record.ok, record.failed] : [record.failed, record.ok];
    if (outcome === "OK") record.served += bytes;
    else record.lastFailure = outcome;
    other.delete(reporter);
    vote.delete(reporter); // re-added last: the latest votes are the ones kept
    vote.add(reporter);
    if (vote.size > MAX_VOTES) vote.delete(vote.values().next().value!);
    return this.score(holder)!;
  }

  /** What is known of peer `holder`, if anything was reported. */
  score(holder: number): HolderScore | undefined {
    const r = this.#records.get(holder);
    if (!r) return undefined;
    const score = { served: r.served, succeeded: r.ok.size, failed: r.failed.size, demoted: this.#demoted(r) };
    return r.lastFailure === undefined ? score : { ...score, lastFailure: r.lastFailure };
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
   * `holders` without the demoted ones, best first: fewest failing sessions,
   * then most bytes served, then announcement order. At most `max`.
   */
  rank<T extends Holder & { peer: number }>(holders: T[], max: number): T[] {
    if (this.#records.size === 0) return holders.slice(0, max);
    const keyed = holders.flatMap((h, order) => {
      const r = this.#records.get(h.peer);
      if (r && this.#demoted(r)) return [];
      return [{ h, order, failed: r?.failed.size ?? 0, served: r?.served ?? 0 }];
    });
    keyed.sort((a, b) => a.failed - b.failed || b.served - a.served || a.order - b.order);
    return keyed.slice(0, max).map((k) => k.h);
  }

  #demoted(r: Record): boolean {
    return r.failed.size >= this.#demoteAfter && r.failed.size > r.ok.size;
  }
}
