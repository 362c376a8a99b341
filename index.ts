/**
 * The tracker's index: which peer holds which file. Pure data, no I/O.
 *
 * @module
 */

import type { FileEntry, Holder } from "./protocol.ts";

/** A peer as the tracker knows it. */
export interface PeerRecord {
  /** The session's id, unique while the tracker runs. */
  id: number;
  /** Where other peers reach it: `HOST:PORT`. */
  address: string;
  /** Its files by name. */
  files: Map<string, FileEntry>;
}

/** One indexed file name and how many peers hold it. */
export interface ListedFile {
  name: string;
  size: number;
  sha256: string;
  holders: number;
}

/** Files → holders and peers → files, kept in step. */
export class TrackerIndex {
  #peers = new Map<number, PeerRecord>();
  /** name → (peer id → entry), holders in announcement order. */
  #byName = new Map<string, Map<number, FileEntry>>();

  /** Replaces everything peer `id` holds with `files`, reachable at `address`. */
  announce(id: number, address: string, files: readonly FileEntry[]): void {
    const old = this.#peers.get(id);
    if (old) this.#forgetFiles(old);
    const record: PeerRecord = { id, address, files: new Map() };
    for (const entry of files) {
      record.files.set(entry.name, entry);
      let holders = this.#byName.get(entry.name);
      if (!holders) this.#byName.set(entry.name, holders = new Map());
      holders.set(id, entry);
    }
    this.#peers.set(id, record);
  }

  /** Forgets peer `id` and all it held. Unknown ids are ignored. */
  remove(id: number): void {
    const record = this.#peers.get(id);
    if (!record) return;
    this.#forgetFiles(record);
    this.#peers.delete(id);
  }

  #forgetFiles(record: PeerRecord): void {
    for (const name of record.files.keys()) {
      const holders = this.#byName.get(name);
      holders?.delete(record.id);
      if (holders?.size === 0) this.#byName.delete(name);
    }
  }

  /** The holders of `name`, at most `max`, in announcement order. */
  holders(name: string, max: number): Holder[] {
    const result: Holder[] = [];
    for (const [id, entry] of this.#byName.get(name) ?? []) {
      if (result.length >= max) break;
      const peer = this.#peers.get(id)!;
      result.push({ address: peer.address, size: entry.size, sha256: entry.sha256 });
    }
    return result;
  }

  /** Peer `id`, if it has announced. */
  peer(id: number): PeerRecord | undefined {
    return this.#peers.get(id);
  }

  /** The peers that announced, in order of their first announcement. */
  peers(): PeerRecord[] {
    return [...this.#peers.values()];
  }

  /**
   * Indexed names containing `text` (case-insensitive), sorted, at most
   * `max`; `truncated` says whether more matched.
   */
  list(text: string, max: number): { files: ListedFile[]; truncated: boolean } {
    const needle = text.toLowerCase();
    const names = [...this.#byName.keys()].filter((n) => n.toLowerCase().includes(needle)).sort();
    const files = names.slice(0, max).map((name) => {
      const holders = this.#byName.get(name)!;
      const first = holders.values().next().value!;
      return { name, size: first.size, sha256: first.sha256, holders: holders.size };
    });
    return { files, truncated: names.length > max };
  }

  /** Counts: peers, distinct names, (file, peer) entries. */
  stats(): { peers: number; names: number; entries: number } {
    let entries = 0;
    for (const holders of this.#byName.values()) entries += holders.size;
    return { peers: this.#peers.size, names: this.#byName.size, entries };
  }
}
