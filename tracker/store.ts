/**
 * The one interface behind which the tracker keeps its index: who holds
 * which file, what downloaders reported about holders, and the counts.
 * Sessions and the HTTP face ask only this. Two implementations: the
 * in-memory store (`tracker/memory_store.ts`, the default, synchronous)
 * and the Redis store (`tracker/redis_store.ts`, shared by any number of
 * trackers). A method may answer at once or with a promise: the memory
 * store answers at once, so the lookup path costs no extra turn of the
 * event loop there.
 *
 * This module also holds the announcement rules both stores apply to the
 * entries of their own sessions (the per-peer limits and the index's
 * ceiling), on a {@link TrackerIndex} of them.
 *
 * @module
 */

import { type AnnounceVerb, type FileEntry, Limits, type ListedFile, ProtocolError, Status } from "../protocol.ts";
import type { HolderScore } from "./feedback.ts";
import type { PeerKey, PeerRecord, TrackerIndex } from "./file_index.ts";
import type { IndexedHolder } from "./lookup.ts";

/** A value now, or a promise of it. */
export type Maybe<T> = T | Promise<T>;

/** An announcement: `UPDATE`, `ADD` or `PARTIAL`, and its entries. */
export interface Announcement {
  /** Which. */
  verb: AnnounceVerb;
  /** The entries (a name listed twice counts once: the last). */
  files: readonly FileEntry[];
}

/** What an announcement did to the peer's entries. */
export interface Announced {
  /** How many distinct names were announced. */
  count: number;
  /** `ADD`, `PARTIAL`: how many of the names the peer held neither whole nor partially before; `UPDATE`: all of them. */
  fresh: number;
  /** Whole files it holds now. */
  files: number;
  /** Partial holdings it holds now. */
  partial: number;
}

/** What `REMOVE` did. */
export interface Removed {
  /** Where the peer serves. */
  address: string;
  /** How many of the names it held. */
  removed: number;
  /** Whole files it holds now. */
  left: number;
}

/** A downloader's verdict on a holder, as a store takes it: the holder by its peer id. */
export interface Verdict {
  /** The reporting session's peer id. */
  reporter: number;
  /** The holder's peer id. */
  holder: number;
  /** `OK`, or the failure's code. */
  outcome: string;
  /** Verified bytes it delivered, capped at the file's size. */
  bytes: number;
}

/** The index's counts, as `STATS` gives them. */
export interface IndexCounts {
  /** Peers that announced. */
  peers: number;
  /** Distinct names held whole. */
  names: number;
  /** (file, peer) entries, partial holdings included. */
  entries: number;
  /** Of them, partial holdings. */
  partial: number;
}

/**
 * A shared store lost (`lost`: lookups answer 503 until it is back) or
 * reached again (`back`; `rewritten`: how many entries of this tracker's
 * sessions it wrote there again, because the store had lost them).
 */
export type StoreEvent =
  | { type: "store-lost"; store: string; reason: string }
  | { type: "store-back"; store: string; rewritten: number };

/** A holder as the HTTP face needs it: with its peer's HTTP port, if it announced one. */
export type WebHolder = IndexedHolder & { httpPort?: number };

/** The tracker's index, as sessions and the HTTP face ask it. */
export interface TrackerStore {
  /** What the startup line names: `memory`, or the Redis address (never a password). */
  readonly description: string;
  /**
   * Added to a session's number to make its peer id, distinct among every
   * tracker sharing the store: 0 in memory; for a Redis store, this
   * tracker's number × 2^32.
   */
  readonly idBase: number;
  /** Told of names announced through other trackers sharing the store (their `WAIT`s). Set by the tracker. */
  onAnnounced?: (names: string[]) => void;
  /** Told when a shared store is lost and when it is back. Set by the tracker. */
  onStoreEvent?: (event: StoreEvent) => void;
  /**
   * Applies an announcement of peer `peer.id` (see `docs/PROTOCOL.md`):
   * `UPDATE` replaces everything it holds, `ADD` adds whole files, `PARTIAL`
   * partial holdings. Throws a `ProtocolError` (413) past a limit; nothing
   * changes then.
   */
  announce(peer: PeerKey, announcement: Announcement): Maybe<Announced>;
  /** Takes `names` out of what peer `id` holds; throws a `ProtocolError` (400) if it announced nothing. */
  remove(id: number, names: readonly string[]): Maybe<Removed>;
  /** Peer `id`'s session ended: everything it holds leaves, and what was reported about it. Its record, if any. */
  leave(id: number): Maybe<PeerRecord | undefined>;
  /**
   * A `SEND` of `name` by peer `asker`: the whole holders, best first,
   * demoted ones left out (at most `Limits.MAX_HOLDERS_PER_FILE`), then the
   * partial holders but the asker (at most `Limits.MAX_PARTIAL_HOLDERS_PER_FILE`).
   */
  lookup(name: string, asker: number): Maybe<IndexedHolder[]>;
  /** The whole holders of `name`, best first, demoted ones left out, each with its HTTP port if any. */
  ranked(name: string): Maybe<WebHolder[]>;
  /** The whole holders of `name` in announcement order, at most `max`, demoted ones included. */
  holders(name: string, max: number): Maybe<IndexedHolder[]>;
  /** The peer at `address` that holds `name`, whole or partially, and the size it announced. */
  holderOf(name: string, address: string): Maybe<{ peer: number; size: number } | undefined>;
  /** Records a verdict; the holder's score after it. */
  report(verdict: Verdict): Maybe<HolderScore>;
  /** The peers that announced, in a stable order. */
  peers(): Maybe<PeerRecord[]>;
  /** The whole files peer `id` holds, in its order. */
  filesOf(id: number): Maybe<FileEntry[]>;
  /** The partial holdings of peer `id`, in its order, each with its root. */
  partialOf(id: number): Maybe<FileEntry[]>;
  /** Names held whole containing `text` (any case), sorted; a page of them, and how many match. */
  list(text: string, page: { max: number; skip?: number }): Maybe<{ files: ListedFile[]; matched: number }>;
  /** Whether anyone holds `name` whole. */
  has(name: string): Maybe<boolean>;
  /** The counts. */
  counts(): Maybe<IndexCounts>;
  /** Lets go of what the store holds open (connections, timers). */
  close(): Promise<void>;
}

/**
 * Checks an announcement against the limits (at most
 * `Limits.MAX_PARTIAL_PER_PEER` partial holdings and
 * `Limits.MAX_UPDATE_ENTRIES` entries a peer, at most
 * `announcement.maxEntries` in `index`) and applies it to `index`. Throws a `ProtocolError` (413), with
 * nothing changed, past a limit. A list naming a file twice counts it once
 * (the last).
 */
export function announceInto(
  index: TrackerIndex,
  announcement: Announcement & { peer: PeerKey; maxEntries: number },
): Announced {
  return planAnnouncement(index, announcement)();
}

/**
 * {@link announceInto} in two steps: checks the limits now (throwing as it
 * does), and returns the step that applies the announcement to `index`,
 * for a caller with something to start in between.
 */
export function planAnnouncement(
  index: TrackerIndex,
  announcement: Announcement & { peer: PeerKey; maxEntries: number },
): () => Announced {
  const { peer, verb, maxEntries } = announcement;
  const list = [...new Map(announcement.files.map((entry) => [entry.name, entry])).values()];
  const names = list.map((e) => e.name);
  const record = index.peer(peer.id);
  if (verb === "PARTIAL") {
    // Checked first; more names than the limit are refused without a walk through the index.
    const partialAfter = list.length > Limits.MAX_PARTIAL_PER_PEER
      ? list.length
      : (record?.partial ?? 0) + list.length - index.countPartial(peer.id, names);
    if (partialAfter > Limits.MAX_PARTIAL_PER_PEER) {
      throw new ProtocolError(
        Status.TOO_LARGE,
        `a peer may announce at most ${Limits.MAX_PARTIAL_PER_PEER} partial holdings; nothing changed`,
      );
    }
  }
  const entries = index.stats().entries;
  const mine = (record?.files ?? 0) + (record?.partial ?? 0);
  // ADD and PARTIAL: only names this peer does not hold yet, whole or partially, are new entries.
  const fresh = verb === "UPDATE" ? list.length : index.countNew(peer.id, names);
  const after = verb === "UPDATE" ? entries - mine + fresh : entries + fresh;
  if (after > maxEntries || verb !== "UPDATE" && mine + fresh > Limits.MAX_UPDATE_ENTRIES) {
    const limit = after > maxEntries
      ? `the index is full (${maxEntries} entries in all)`
      : `a peer may announce at most ${Limits.MAX_UPDATE_ENTRIES} files`;
    throw new ProtocolError(Status.TOO_LARGE, `${limit}; nothing changed`);
  }
  return () => {
    if (verb === "UPDATE") index.announce(peer, list);
    else if (verb === "ADD") index.add(peer, list);
    else index.addPartial(peer, list);
    const now = index.peer(peer.id)!;
    return { count: list.length, fresh, files: now.files, partial: now.partial ?? 0 };
  };
}

/** Takes `removal.names` out of what peer `removal.id` holds in `index`; throws a `ProtocolError` (400) if it announced nothing. */
export function removeFrom(index: TrackerIndex, removal: { id: number; names: readonly string[] }): Removed {
  const { id, names } = removal;
  const record = index.peer(id);
  if (!record) throw new ProtocolError(Status.BAD_REQUEST, "nothing announced yet: UPDATE or ADD first");
  const removed = index.drop(id, names);
  return { address: record.address, removed, left: index.peer(id)!.files };
}
