/**
 * The default store: the index in this process's memory
 * ({@link TrackerIndex}) and the holders' feedback beside it
 * ({@link HolderFeedback}). Every method answers at once. Nothing third-party.
 *
 * @module
 */

import type { FileEntry, ListedFile } from "../protocol.ts";
import { Limits } from "../protocol.ts";
import { HolderFeedback, type HolderScore } from "./feedback.ts";
import { type PeerKey, type PeerRecord, TrackerIndex } from "./file_index.ts";
import { type IndexedHolder, partialHolders, rankedHolders } from "./lookup.ts";
import {
  type Announced,
  announceInto,
  type Announcement,
  type IndexCounts,
  type Removed,
  removeFrom,
  type TrackerStore,
  type Verdict,
  type WebHolder,
} from "./store.ts";

/** Options of {@link MemoryStore}. */
export interface MemoryStoreOptions {
  /** A holder reported failing by this many sessions (and by more than reported it working) is no longer offered. Default 2. */
  demoteAfter?: number;
  /** Most entries in the index. Default `Limits.MAX_INDEX_ENTRIES`. */
  maxEntries?: number;
}

/**
 * The index in memory.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const store = new MemoryStore();
 * store.announce({ id: 1, address: "10.0.0.1:5555" }, { verb: "UPDATE", files: [{ name: "a", size: 3, sha256: "a".repeat(64) }] });
 * assert.deepEqual(store.lookup("a", 2).map((h) => h.address), ["10.0.0.1:5555"]);
 * assert.equal(store.leave(1)?.files, 1);
 * assert.deepEqual(store.counts(), { peers: 0, names: 0, entries: 0, partial: 0 });
 * ```
 */
export class MemoryStore implements TrackerStore {
  readonly description = "memory";
  readonly idBase = 0;
  /** Never told: no other tracker shares this store. */
  onAnnounced?: (names: string[]) => void;
  /** Who holds what. */
  readonly index = new TrackerIndex();
  /** What downloaders reported. */
  readonly feedback: HolderFeedback;
  #maxEntries: number;

  /** An empty index. */
  constructor(options: MemoryStoreOptions = {}) {
    this.feedback = new HolderFeedback(options.demoteAfter);
    this.#maxEntries = options.maxEntries ?? Limits.MAX_INDEX_ENTRIES;
  }

  announce(peer: PeerKey, announcement: Announcement): Announced {
    return announceInto(this.index, { ...announcement, peer, maxEntries: this.#maxEntries });
  }

  remove(id: number, names: readonly string[]): Removed {
    return removeFrom(this.index, { id, names });
  }

  leave(id: number): PeerRecord | undefined {
    const record = this.index.peer(id);
    this.index.remove(id);
    if (!this.feedback.empty) this.feedback.forget(id);
    return record;
  }

  lookup(name: string, asker: number): IndexedHolder[] {
    const whole = rankedHolders(name, this);
    if (this.index.partialEntries === 0) return whole;
    // Partial holders come apart (PARTIAL lines), but not the asker itself: a downloader looking again for
    // sources would be told of its own download.
    const max = Limits.MAX_PARTIAL_HOLDERS_PER_FILE;
    const partial = partialHolders(name, { index: this.index, feedback: this.feedback, max: max + 1 }).filter((h) =>
      h.peer !== asker
    ).slice(0, max);
    return partial.length === 0 ? whole : [...whole, ...partial];
  }

  ranked(name: string): WebHolder[] {
    return rankedHolders(name, this).map((holder) => {
      const httpPort = this.index.peer(holder.peer)?.httpPort;
      return httpPort === undefined ? holder : { ...holder, httpPort };
    });
  }

  holders(name: string, max: number): IndexedHolder[] {
    return this.index.holders(name, max);
  }

  holderOf(name: string, address: string): { peer: number; size: number } | undefined {
    return this.index.holderOf(name, address);
  }

  report(verdict: Verdict): HolderScore {
    return this.feedback.report(verdict);
  }

  peers(): PeerRecord[] {
    return this.index.peers();
  }

  filesOf(id: number): FileEntry[] {
    return this.index.filesOf(id);
  }

  partialOf(id: number): FileEntry[] {
    return this.index.partialOf(id);
  }

  list(text: string, page: { max: number; skip?: number }): { files: ListedFile[]; matched: number } {
    const { files, matched } = this.index.list(text, page);
    return { files, matched };
  }

  has(name: string): boolean {
    return this.index.has(name);
  }

  counts(): IndexCounts {
    return { ...this.index.stats(), partial: this.index.partialEntries };
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
