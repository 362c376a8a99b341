/**
 * Which holders of a name the tracker offers, best first: the one ranking
 * that a `SEND` reply and the HTTP face (its redirect, its Metalink) share;
 * and which partial holders a `SEND` reply lists after them (the HTTP face
 * offers none: a partial holder has no HTTP face for its chunks).
 *
 * @module
 */

import { type Holder, Limits } from "../protocol.ts";
import type { HolderFeedback } from "./feedback.ts";
import type { TrackerIndex } from "./file_index.ts";

/** A holder as the index gives it: where it serves, what it holds (`partial` for a partial holding), and its peer's id. */
export type IndexedHolder = Holder & { peer: number };

/** Options of {@link rankedHolders}. */
export interface LookupOptions {
  /** Who holds what. */
  index: TrackerIndex;
  /** What downloaders reported: orders the holders and leaves demoted ones out. */
  feedback: HolderFeedback;
  /**
   * Most holders returned. Default `Limits.MAX_HOLDERS_PER_FILE` (for
   * {@link partialHolders}, `Limits.MAX_PARTIAL_HOLDERS_PER_FILE`).
   */
  max?: number;
}

/**
 * The whole holders of `name`, best first (fewest failing reports, then most bytes
 * served, then announcement order), demoted holders left out, at most
 * `options.max`. While nothing was ever reported: announcement order, at no
 * cost.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { HolderFeedback } from "./feedback.ts";
 * import { TrackerIndex } from "./file_index.ts";
 *
 * const index = new TrackerIndex();
 * const sha256 = "a".repeat(64);
 * index.announce({ id: 1, address: "10.0.0.1:5555" }, [{ name: "a.txt", size: 3, sha256 }]);
 * index.announce({ id: 2, address: "10.0.0.2:5555" }, [{ name: "a.txt", size: 3, sha256 }]);
 * const feedback = new HolderFeedback(1);
 * feedback.report({ reporter: 3, holder: 1, outcome: "EHASH", bytes: 0 });
 * assert.deepEqual(rankedHolders("a.txt", { index, feedback }).map((h) => h.peer), [2]);
 * ```
 */
export function rankedHolders(name: string, options: LookupOptions): IndexedHolder[] {
  const { index, feedback } = options;
  const max = options.max ?? Limits.MAX_HOLDERS_PER_FILE;
  if (feedback.empty) return index.holders(name, max);
  return index.rankedHolders(name, {
    max,
    // Demoted holders are left out: look further, so that a full reply stays full.
    scan: 4 * max,
    rank: (peers) => feedback.rank(peers, max),
  });
}

/**
 * The partial holders of `name` (peers still downloading it, which serve
 * the chunks they verified), in announcement order, demoted ones left out,
 * at most `options.max` (default `Limits.MAX_PARTIAL_HOLDERS_PER_FILE`);
 * each with `partial: true`.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHUNK_SIZE } from "../protocol.ts";
 * import { HolderFeedback } from "./feedback.ts";
 * import { TrackerIndex } from "./file_index.ts";
 *
 * const index = new TrackerIndex();
 * const big = { name: "big.bin", size: 2 * CHUNK_SIZE, sha256: "a".repeat(64), root: "b".repeat(64) };
 * index.announce({ id: 1, address: "10.0.0.1:5555" }, [big]);
 * index.addPartial({ id: 2, address: "10.0.0.2:5555" }, [big]);
 * const feedback = new HolderFeedback();
 * assert.deepEqual(rankedHolders("big.bin", { index, feedback }).map((h) => h.peer), [1]);
 * assert.deepEqual(partialHolders("big.bin", { index, feedback }).map((h) => [h.peer, h.partial]), [[2, true]]);
 * ```
 */
export function partialHolders(name: string, options: LookupOptions): IndexedHolder[] {
  const { index, feedback } = options;
  const max = options.max ?? Limits.MAX_PARTIAL_HOLDERS_PER_FILE;
  if (feedback.empty) return index.partialHolders(name, { max });
  // Demoted holders are left out: look further, as for whole holders, so that a full reply stays full.
  return index.partialHolders(name, { max, scan: 4 * max, keep: (peer) => !feedback.isDemoted(peer) });
}
