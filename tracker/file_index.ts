/**
 * The tracker's index: which peer holds which file. Pure data, no I/O.
 *
 * Built for a million (file, peer) entries in little memory: an entry is a
 * slot in typed arrays (size, peer, SHA-256 as 32 bytes, links), the holders
 * of one name are a linked list of slots in announcement order, and a name
 * maps to its first slot. Measured with `--expose-gc`: about 140 bytes per
 * entry, against 460 for a map of maps of objects (docs/PERFORMANCE.md).
 *
 * A peer may hold a file whole or partially (`PARTIAL`: still downloading
 * it, serving the chunks it verified). The partial holders of a name are a
 * list of their own, so that everything that counts or offers holders
 * (`SEND`'s `HOLDER` lines, `LIST`, the HTTP face) sees whole files only,
 * and partial holders are asked for by name.
 *
 * @module
 */

import type { FileEntry, Holder, ListedFile } from "../protocol.ts";

/** A peer as the tracker knows it. */
export interface PeerRecord {
  /** The session's id, unique while the tracker runs. */
  id: number;
  /** Where other peers reach it: `HOST:PORT`. */
  address: string;
  /** How many whole files it announced. */
  files: number;
  /** How many partial holdings it announced (`PARTIAL`), when it has any. */
  partial?: number;
  /** The port of its HTTP face, on the same host, if it announced one. */
  httpPort?: number;
}

/** A peer's identity in the index: its session and where it serves. */
export interface PeerKey {
  /** The session's id. */
  id: number;
  /** Where other peers reach it: `HOST:PORT`. */
  address: string;
  /** The port of its HTTP face, if its last announcement gave one (`http=<port>`). */
  httpPort?: number;
}

/** Which partial holders {@link TrackerIndex.partialHolders} returns. */
export interface PartialScan {
  /** Most holders returned. */
  max: number;
  /** How many partial holders, in announcement order, are looked at. Default: all. */
  scan?: number;
  /** Whether a partial holder, by its peer id, is returned. Default: every one. */
  keep?: (peer: number) => boolean;
}

/** How {@link TrackerIndex.rankedHolders} orders holders. */
export interface Ranking {
  /** Most holders returned. */
  max: number;
  /** How many holders, in announcement order, are looked at. */
  scan: number;
  /** Gets their peer ids and returns positions among them, best first, at most `max`. */
  rank: (peers: number[]) => number[];
}

interface PeerSlot {
  id: number;
  address: string;
  httpPort?: number;
  /** Its entry slots, whole and partial. */
  entries: number[];
  /** How many of them are partial holdings. */
  partial: number;
}

function record(p: PeerSlot): PeerRecord {
  const peer: PeerRecord = { id: p.id, address: p.address, files: p.entries.length - p.partial };
  if (p.partial > 0) peer.partial = p.partial;
  if (p.httpPort !== undefined) peer.httpPort = p.httpPort;
  return peer;
}

const NONE = -1;
/** Character codes of the high and the low hex digit of each byte value (flat tables: no array per byte read). */
const HEX_HIGH = Uint8Array.from({ length: 256 }, (_, i) => "0123456789abcdef".charCodeAt(i >> 4));
const HEX_LOW = Uint8Array.from({ length: 256 }, (_, i) => "0123456789abcdef".charCodeAt(i & 15));
const hexScratch = new Uint8Array(64);

function hexValue(code: number): number {
  return code <= 57 ? code - 48 : code - 87; // "0"-"9", "a"-"f"; input is checked by the protocol parser
}

/**
 * Files → holders and peers → files, kept in step.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const index = new TrackerIndex();
 * const sha256 = "a".repeat(64);
 * index.announce({ id: 1, address: "10.0.0.1:5555" }, [{ name: "a.txt", size: 3, sha256 }]);
 * assert.deepEqual(index.holders("a.txt", 50), [{ address: "10.0.0.1:5555", size: 3, sha256, peer: 1 }]);
 * // A partial holding (a peer still downloading the file) is listed apart.
 * const big = { name: "big.bin", size: 3 << 20, sha256, root: "b".repeat(64) };
 * index.addPartial({ id: 2, address: "10.0.0.2:5555" }, [big]);
 * assert.deepEqual(index.holders("big.bin", 50), []);
 * assert.deepEqual(index.partialHolders("big.bin", { max: 50 }).map((h) => [h.address, h.partial]), [
 *   ["10.0.0.2:5555", true],
 * ]);
 * index.remove(1);
 * assert.deepEqual(index.holders("a.txt", 50), []);
 * ```
 */
export class TrackerIndex {
  #peers = new Map<number, PeerSlot>();
  /** name → its first whole holder's slot. */
  #byName = new Map<string, number>();
  /** name → its first partial holder's slot. */
  #partialByName = new Map<string, number>();
  #capacity = 0;
  #size = new Float64Array(0);
  /** Peer ids; a Float64Array, since ids count connections and may pass 2^31. */
  #peer = new Float64Array(0);
  /** Next holder of the same name, or NONE. */
  #next = new Int32Array(0);
  /** Previous holder; the first holder's `prev` is the last holder. */
  #prev = new Int32Array(0);
  #sha = new Uint8Array(0);
  /** 1 where the slot is a partial holding. */
  #partial = new Uint8Array(0);
  #name: (string | undefined)[] = [];
  /** Chunk roots, only for the entries that have one (files of more than one chunk): most have none. */
  #roots = new Map<number, string>();
  #free: number[] = [];
  /** The names matching the last `list()` text, sorted; dropped when a name comes or goes. Paging reads it again. */
  #listed: { needle: string; names: string[] } | undefined;
  #used = 0;
  #count = 0;
  #partialCount = 0;

  /**
   * Replaces everything peer `id` holds (partial holdings included) with the
   * whole files `files`, reachable at `address`. A name listed twice counts
   * once (the last). Hashes must be 64 lowercase hex digits, as
   * `parseEntryLine` guarantees; they are stored as bytes.
   */
  announce(peer: PeerKey, files: readonly FileEntry[]): void {
    const { id, address } = peer;
    const old = this.#peers.get(id);
    if (old) { for (const slot of old.entries) this.#unlink(slot); }
    const record: PeerSlot = old ?? { id, address, entries: [], partial: 0 };
    record.address = address;
    record.httpPort = peer.httpPort;
    record.entries = [];
    record.partial = 0;
    const seen = new Map<string, number>();
    for (const entry of files) {
      let slot = seen.get(entry.name);
      if (slot === undefined) seen.set(entry.name, slot = this.#newSlot(record, entry.name));
      this.#setEntry(slot, entry);
    }
    this.#peers.set(id, record);
  }

  /**
   * Adds the whole files `files` to what peer `id` holds, reachable at
   * `address`, or updates them when it held them already (an incremental
   * announcement); a name it held partially becomes whole, last among the
   * name's holders. Returns how many of them were new (held neither whole
   * nor partially).
   */
  add(peer: PeerKey, files: readonly FileEntry[]): number {
    return this.#put(peer, files, false);
  }

  /**
   * Adds the partial holdings `files` (files of more than one chunk, with
   * their roots, that peer `id` is still downloading) to what it holds, or
   * updates them; a name it held whole becomes partial. Returns how many of
   * them were new (held neither whole nor partially).
   */
  addPartial(peer: PeerKey, files: readonly FileEntry[]): number {
    return this.#put(peer, files, true);
  }

  #put(peer: PeerKey, files: readonly FileEntry[], partial: boolean): number {
    const { id, address } = peer;
    let record = this.#peers.get(id);
    if (!record) this.#peers.set(id, record = { id, address, entries: [], partial: 0 });
    record.address = address;
    record.httpPort = peer.httpPort;
    let added = 0;
    for (const entry of files) {
      let slot = this.#slotOf(entry.name, id);
      if (slot === NONE) {
        slot = this.#newSlot(record, entry.name, partial);
        added++;
      } else if ((this.#partial[slot] === 1) !== partial) {
        this.#detach(slot);
        this.#setPartial(record, slot, partial);
        this.#link(entry.name, slot);
      }
      this.#setEntry(slot, entry);
    }
    return added;
  }

  /** A new slot for `name`, held (whole, or `partial`) by `record`'s peer, last among the name's holders of its kind. */
  #newSlot(record: PeerSlot, name: string, partial = false): number {
    const slot = this.#allocate();
    record.entries.push(slot);
    this.#name[slot] = name;
    this.#peer[slot] = record.id;
    this.#setPartial(record, slot, partial);
    this.#link(name, slot);
    return slot;
  }

  /** Marks `slot`, not linked, as a partial holding or a whole one, and counts it. */
  #setPartial(record: PeerSlot, slot: number, partial: boolean): void {
    const was = this.#partial[slot] === 1;
    if (was === partial) return;
    this.#partial[slot] = partial ? 1 : 0;
    const step = partial ? 1 : -1;
    record.partial += step;
    this.#partialCount += step;
  }

  /** Size, hash and root of `slot`'s entry. */
  #setEntry(slot: number, entry: FileEntry): void {
    this.#size[slot] = entry.size;
    this.#setSha(slot, entry.sha256);
    if (entry.root !== undefined) this.#roots.set(slot, entry.root);
    else this.#roots.delete(slot);
  }

  /** Takes the files `names` (whole or partial) out of what peer `id` holds; returns how many it held. */
  drop(id: number, names: readonly string[]): number {
    const record = this.#peers.get(id);
    if (!record) return 0;
    const gone = new Set<number>();
    // Each distinct name once: a list repeating a popular name must not walk its holders again and again.
    for (const name of new Set(names)) {
      const slot = this.#slotOf(name, id);
      if (slot !== NONE && !gone.has(slot)) {
        gone.add(slot);
        if (this.#partial[slot] === 1) record.partial--;
        this.#unlink(slot);
      }
    }
    // One pass over the peer's entries, however many names went.
    if (gone.size > 0) record.entries = record.entries.filter((slot) => !gone.has(slot));
    return gone.size;
  }

  /** How many of `names` (distinct) peer `id` holds neither whole nor partially. */
  countNew(id: number, names: readonly string[]): number {
    let fresh = 0;
    for (const name of new Set(names)) if (this.#slotOf(name, id) === NONE) fresh++;
    return fresh;
  }

  /** How many of `names` (distinct) peer `id` holds partially. */
  countPartial(id: number, names: readonly string[]): number {
    let partial = 0;
    for (const name of new Set(names)) if (this.#slotIn(this.#partialByName, name, id) !== NONE) partial++;
    return partial;
  }

  /** The slot where peer `id` holds `name`, whole or partially, or NONE. Walks the name's holders. */
  #slotOf(name: string, id: number): number {
    const slot = this.#slotIn(this.#byName, name, id);
    return slot !== NONE || this.#partialCount === 0 ? slot : this.#slotIn(this.#partialByName, name, id);
  }

  /** The slot where peer `id` holds `name` among the holders listed from `heads`, or NONE. */
  #slotIn(heads: Map<string, number>, name: string, id: number): number {
    for (let slot = heads.get(name) ?? NONE; slot !== NONE; slot = this.#next[slot]) {
      if (this.#peer[slot] === id) return slot;
    }
    return NONE;
  }

  /** Forgets peer `id` and all it held. Unknown ids are ignored. */
  remove(id: number): void {
    const record = this.#peers.get(id);
    if (!record) return;
    for (const slot of record.entries) this.#unlink(slot);
    this.#peers.delete(id);
  }

  /** The whole holders of `name`, at most `max`, in announcement order, each with its peer's id. */
  holders(name: string, max: number): (Holder & { peer: number })[] {
    const result: (Holder & { peer: number })[] = [];
    for (let slot = this.#byName.get(name) ?? NONE; slot !== NONE && result.length < max; slot = this.#next[slot]) {
      result.push(this.#holderAt(slot));
    }
    return result;
  }

  /**
   * The holders of `name` in the order `ranking` gives: the first
   * `ranking.scan` in announcement order are ranked, and only those
   * returned are formatted.
   */
  rankedHolders(name: string, ranking: Ranking): (Holder & { peer: number })[] {
    const slots: number[] = [];
    for (
      let slot = this.#byName.get(name) ?? NONE;
      slot !== NONE && slots.length < ranking.scan;
      slot = this.#next[slot]
    ) {
      slots.push(slot);
    }
    return ranking.rank(slots.map((slot) => this.#peer[slot])).slice(0, ranking.max).map((i) =>
      this.#holderAt(slots[i])
    );
  }

  /**
   * The partial holders of `name`, in announcement order: of the first
   * `scan.scan` looked at, those `scan.keep` keeps, at most `scan.max`; each
   * with `partial: true` and its peer's id.
   */
  partialHolders(name: string, scan: PartialScan): (Holder & { peer: number })[] {
    const { max, scan: most = Infinity, keep } = scan;
    const result: (Holder & { peer: number })[] = [];
    let seen = 0;
    for (
      let slot = this.#partialByName.get(name) ?? NONE;
      slot !== NONE && result.length < max && seen < most;
      slot = this.#next[slot], seen++
    ) {
      if (keep === undefined || keep(this.#peer[slot])) result.push(this.#holderAt(slot));
    }
    return result;
  }

  #holderAt(slot: number): Holder & { peer: number } {
    const peer = this.#peers.get(this.#peer[slot])!;
    const holder: Holder & { peer: number } = {
      address: peer.address,
      size: this.#size[slot],
      sha256: this.#hex(slot),
      peer: peer.id,
    };
    const root = this.#roots.size === 0 ? undefined : this.#roots.get(slot);
    if (root !== undefined) holder.root = root;
    if (this.#partial[slot] === 1) holder.partial = true;
    return holder;
  }

  /** The peer at `address` that holds `name`, whole or partially, and the size it announced, if any. */
  holderOf(name: string, address: string): { peer: number; size: number } | undefined {
    for (const heads of [this.#byName, this.#partialByName]) {
      for (let slot = heads.get(name) ?? NONE; slot !== NONE; slot = this.#next[slot]) {
        const peer = this.#peers.get(this.#peer[slot])!;
        if (peer.address === address) return { peer: peer.id, size: this.#size[slot] };
      }
    }
    return undefined;
  }

  /** Peer `id`, if it has announced. */
  peer(id: number): PeerRecord | undefined {
    const p = this.#peers.get(id);
    return p && record(p);
  }

  /** The whole files peer `id` announced, in its order (name, size, SHA-256, and root for a file of more than one chunk). */
  filesOf(id: number): FileEntry[] {
    return this.#slotsOf(id, 0).map((slot) => {
      const entry: FileEntry = { name: this.#name[slot]!, size: this.#size[slot], sha256: this.#hex(slot) };
      const root = this.#roots.size === 0 ? undefined : this.#roots.get(slot);
      if (root !== undefined) entry.root = root;
      return entry;
    });
  }

  /** The partial holdings peer `id` announced, in its order, each with its root. */
  partialOf(id: number): FileEntry[] {
    return this.#slotsOf(id, 1).map((slot) => ({
      name: this.#name[slot]!,
      size: this.#size[slot],
      sha256: this.#hex(slot),
      root: this.#roots.get(slot)!,
    }));
  }

  /** Peer `id`'s slots of one kind (0 whole, 1 partial), in its order. */
  #slotsOf(id: number, partial: 0 | 1): number[] {
    return (this.#peers.get(id)?.entries ?? []).filter((slot) => this.#partial[slot] === partial);
  }

  /** The peers that announced, in order of their first announcement. */
  peers(): PeerRecord[] {
    return [...this.#peers.values()].map(record);
  }

  /**
   * Indexed names containing `text` (case-insensitive), sorted, at most
   * `max` after skipping the first `skip`; `matched` counts them all and
   * `truncated` says whether more follow this page. Looks at every name.
   */
  list(
    text: string,
    page: { max: number; skip?: number },
  ): { files: ListedFile[]; truncated: boolean; matched: number } {
    const { max, skip = 0 } = page;
    const needle = text.toLowerCase();
    if (this.#listed?.needle !== needle) {
      const names = [...this.#byName.keys()].filter((n) => n.toLowerCase().includes(needle)).sort();
      this.#listed = { needle, names };
    }
    const { names } = this.#listed;
    const files = names.slice(skip, skip + max).map((name) => {
      const first = this.#byName.get(name)!;
      let holders = 0;
      for (let slot = first; slot !== NONE; slot = this.#next[slot]) holders++;
      return { name, size: this.#size[first], sha256: this.#hex(first), holders };
    });
    return { files, truncated: names.length > skip + max, matched: names.length };
  }

  /** Whether anyone holds `name` whole. */
  has(name: string): boolean {
    return this.#byName.has(name);
  }

  /**
   * Counts: peers, distinct names held whole, and (file, peer) entries,
   * partial holdings included (what the index's ceiling counts).
   */
  stats(): { peers: number; names: number; entries: number } {
    return { peers: this.#peers.size, names: this.#byName.size, entries: this.#count };
  }

  /** How many of the entries are partial holdings. */
  get partialEntries(): number {
    return this.#partialCount;
  }

  #allocate(): number {
    this.#count++;
    const reused = this.#free.pop();
    if (reused !== undefined) return reused;
    if (this.#used === this.#capacity) this.#grow();
    return this.#used++;
  }

  #grow(): void {
    const capacity = Math.max(1024, this.#capacity * 2);
    const grow = <T extends Float64Array | Int32Array | Uint8Array>(old: T, make: (n: number) => T, width = 1): T => {
      const next = make(capacity * width);
      next.set(old);
      return next;
    };
    this.#size = grow(this.#size, (n) => new Float64Array(n));
    this.#peer = grow(this.#peer, (n) => new Float64Array(n));
    this.#next = grow(this.#next, (n) => new Int32Array(n));
    this.#prev = grow(this.#prev, (n) => new Int32Array(n));
    this.#sha = grow(this.#sha, (n) => new Uint8Array(n), 32);
    this.#partial = grow(this.#partial, (n) => new Uint8Array(n));
    this.#capacity = capacity;
  }

  /** The first slots of the holders of `slot`'s kind (whole or partial), by name. */
  #headsOf(slot: number): Map<string, number> {
    return this.#partial[slot] === 1 ? this.#partialByName : this.#byName;
  }

  /** Appends `slot` to the holders of `name` of its kind. */
  #link(name: string, slot: number): void {
    this.#next[slot] = NONE;
    const heads = this.#headsOf(slot);
    const first = heads.get(name);
    if (first === undefined) {
      if (heads === this.#byName) this.#listed = undefined;
      heads.set(name, slot);
      this.#prev[slot] = slot;
      return;
    }
    const last = this.#prev[first];
    this.#next[last] = slot;
    this.#prev[slot] = last;
    this.#prev[first] = slot;
  }

  /** Takes `slot` out of its name's holders of its kind; it stays allocated. */
  #detach(slot: number): void {
    const name = this.#name[slot]!;
    const heads = this.#headsOf(slot);
    const first = heads.get(name)!;
    const next = this.#next[slot];
    if (slot === first) {
      if (next === NONE) {
        heads.delete(name);
        if (heads === this.#byName) this.#listed = undefined;
      } else {
        this.#prev[next] = this.#prev[slot];
        heads.set(name, next);
      }
    } else {
      const prev = this.#prev[slot];
      this.#next[prev] = next;
      if (next === NONE) this.#prev[first] = prev;
      else this.#prev[next] = prev;
    }
  }

  /** Takes `slot` out of its name's holders and frees it (its peer's record is the caller's). */
  #unlink(slot: number): void {
    this.#detach(slot);
    if (this.#partial[slot] === 1) {
      this.#partial[slot] = 0;
      this.#partialCount--;
    }
    this.#name[slot] = undefined;
    this.#roots.delete(slot);
    this.#free.push(slot);
    this.#count--;
  }

  #setSha(slot: number, hex: string): void {
    const at = slot * 32;
    for (let i = 0; i < 32; i++) {
      this.#sha[at + i] = (hexValue(hex.charCodeAt(2 * i)) << 4) | hexValue(hex.charCodeAt(2 * i + 1));
    }
  }

  #hex(slot: number): string {
    const at = slot * 32;
    const sha = this.#sha;
    for (let i = 0; i < 32; i++) {
      const byte = sha[at + i];
      hexScratch[2 * i] = HEX_HIGH[byte];
      hexScratch[2 * i + 1] = HEX_LOW[byte];
    }
    return String.fromCharCode.apply(null, hexScratch as unknown as number[]);
  }
}
