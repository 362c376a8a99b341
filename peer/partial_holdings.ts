/**
 * What a peer serves of the files it is still downloading: for each, the
 * chunks verified so far, in its hidden part file. A holding is published
 * (served, and told to the tracker as `PARTIAL`) at its first verified
 * chunk; each chunk after is pushed to every connection that asked `HAVE`;
 * when the download lands, the holding serves the landed file until the
 * folder has taken it over; when the download fails or is cancelled, the
 * holding withdraws (see {@link PartialHolding.withdraw} for why).
 *
 * Pure bookkeeping and push fan-out: the file server reads the bytes, the
 * swarm says what landed, the peer tells the tracker.
 *
 * @module
 */

import { CHUNK_SIZE, chunkCount, formatChunkPush, formatHaveChunk, formatHaveLines, Limits } from "../protocol.ts";

/** The version a holding is part of: a file of more than one chunk, with its root. */
export interface HeldVersion {
  /** The file's name. */
  name: string;
  /** Its size. */
  size: number;
  /** Its SHA-256. */
  sha256: string;
  /** Its chunk root. */
  root: string;
}

/** Options of {@link PartialHoldings}. */
export interface PartialHoldingsOptions {
  /** Told when a holding is published (its first chunk verified): the peer tells the tracker. */
  onPublish?: (version: HeldVersion) => void;
  /** Told when a published holding withdraws (its download failed or was cancelled). */
  onWithdraw?: (name: string) => void;
  /** Most holdings published at once. Default `Limits.MAX_PARTIAL_PER_PEER`. */
  max?: number;
}

/**
 * Every partial holding of one peer, by name.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHUNK_SIZE } from "../protocol.ts";
 *
 * const told: string[] = [];
 * const holdings = new PartialHoldings({ onPublish: (v) => told.push(v.name) });
 * const version = { name: "big.bin", size: 3 * CHUNK_SIZE, sha256: "a".repeat(64), root: "b".repeat(64) };
 * const holding = holdings.start(version, "/downloads/.p2p-0123.part");
 * assert.equal(holdings.get("big.bin"), undefined, "nothing is served before a chunk is verified");
 * holding.gained(1, new Uint8Array(3 * 32));
 * assert.deepEqual(told, ["big.bin"]);
 * assert.equal(holdings.get("big.bin"), holding);
 * ```
 */
export class PartialHoldings {
  #byName = new Map<string, PartialHolding>();
  #options: PartialHoldingsOptions;

  /** Holdings told to `options`. */
  constructor(options: PartialHoldingsOptions = {}) {
    this.#options = options;
  }

  /** The published holding of `name`, if any. */
  get(name: string): PartialHolding | undefined {
    return this.#byName.get(name);
  }

  /** The versions of every published holding still downloading. */
  published(): HeldVersion[] {
    return [...this.#byName.values()].filter((h) => !h.complete).map((h) => h.version);
  }

  /**
   * A holding-to-be for a download of `version` into the part file at
   * `path`: nothing is served until its first chunk is verified
   * ({@link PartialHolding.gained}).
   */
  start(version: HeldVersion, path: string): PartialHolding {
    return new PartialHolding(version, { path, owner: this });
  }

  /** Publishes `holding`, unless another of that name is, or the ceiling is reached. */
  publish(holding: PartialHolding): boolean {
    const max = this.#options.max ?? Limits.MAX_PARTIAL_PER_PEER;
    if (this.#byName.has(holding.version.name) || this.#byName.size >= max) return false;
    this.#byName.set(holding.version.name, holding);
    this.#options.onPublish?.(holding.version);
    return true;
  }

  /** Forgets `holding`, withdrawn (its download failed or was cancelled), and tells `onWithdraw`. */
  withdraw(holding: PartialHolding): void {
    if (this.#byName.get(holding.version.name) !== holding) return;
    this.#byName.delete(holding.version.name);
    this.#options.onWithdraw?.(holding.version.name);
  }

  /** Forgets the holding of `name` once its landed file is served from the folder. */
  retire(name: string): void {
    const holding = this.#byName.get(name);
    if (holding?.complete) this.#byName.delete(name);
  }
}

/**
 * One file being downloaded, as far as it can be served.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { CHUNK_SIZE } from "../protocol.ts";
 *
 * const version = { name: "big.bin", size: 3 * CHUNK_SIZE, sha256: "a".repeat(64), root: "b".repeat(64) };
 * const holding = new PartialHoldings().start(version, "/downloads/.p2p-0123.part");
 * holding.gained(0, new Uint8Array(3 * 32));
 * const pushed: string[] = [];
 * holding.watch((line) => pushed.push(line));
 * holding.gained(2, new Uint8Array(3 * 32));
 * assert.deepEqual(holding.state(), ["* HAVE 0,2 big.bin\n"]);
 * assert.equal(holding.holds(0, CHUNK_SIZE), true);
 * assert.equal(holding.holds(0, 2 * CHUNK_SIZE), false, "chunk 1 is not here yet");
 * holding.landed("/downloads/big.bin");
 * assert.deepEqual(pushed, ["* HAVE 2 big.bin\n", "* DONE big.bin\n"]);
 * ```
 */
export class PartialHolding {
  /** What it is part of. */
  readonly version: HeldVersion;
  /** Where its bytes are: the part file, then the landed file. */
  path: string;
  /** The chunk hashes, checked against the root: answered to `HASHES`. */
  chunks: Uint8Array | undefined;
  /** 1 for each chunk verified and written. */
  readonly have: Uint8Array;
  #held = 0;
  #owner: PartialHoldings;
  #published = false;
  #ended = false;
  #watchers = new Set<(line: string) => void>();

  /** A holding of `version` in the part file at `how.path`, published to `how.owner` at its first chunk. */
  constructor(version: HeldVersion, how: { path: string; owner: PartialHoldings }) {
    this.version = version;
    this.path = how.path;
    this.#owner = how.owner;
    this.have = new Uint8Array(chunkCount(version.size));
  }

  /** True once every chunk is held (the download landed). */
  get complete(): boolean {
    return this.#held === this.have.length;
  }

  /** Whether every chunk under bytes `offset` to `offset + length` is held. */
  holds(offset: number, length: number): boolean {
    return offset <= this.version.size && this.missing(offset, length) === undefined;
  }

  /** The first chunk under bytes `offset` to `offset + length` not held yet, if any. */
  missing(offset: number, length: number): number | undefined {
    const last = Math.floor((offset + length - 1) / CHUNK_SIZE);
    for (let i = Math.floor(offset / CHUNK_SIZE); i <= last; i++) if (!this.have[i]) return i;
    return undefined;
  }

  /**
   * Chunk `index` is verified and written: served from now on, and pushed
   * to every watcher. The first one publishes the holding.
   */
  gained(index: number, chunks: Uint8Array): void {
    if (this.#ended || this.have[index]) return;
    this.chunks = chunks;
    this.have[index] = 1;
    this.#held++;
    if (!this.#published) {
      this.#published = this.#owner.publish(this);
      return;
    }
    this.#push(formatHaveChunk(this.version.name, index));
  }

  /** The lines that tell a new watcher what is held now: `* HAVE` ranges, or `* DONE`. */
  state(): string[] {
    if (this.complete) return [formatChunkPush({ event: "DONE", name: this.version.name })];
    return formatHaveLines(this.version.name, this.have);
  }

  /**
   * Sends `watcher` each change from now on (a `* HAVE`, then `* DONE` or
   * `* GONE`); returns what stops it.
   */
  watch(watcher: (line: string) => void): () => void {
    if (this.#ended) return () => {};
    this.#watchers.add(watcher);
    return () => this.#watchers.delete(watcher);
  }

  /** True while watchers may still hear of new chunks. */
  get live(): boolean {
    return !this.#ended;
  }

  /** The download landed at `path`: served whole from there until the folder takes it over. */
  landed(path: string): void {
    if (this.#ended) return;
    this.path = path;
    this.have.fill(1);
    this.#held = this.have.length;
    this.#end("DONE");
  }

  /**
   * The download failed or was cancelled: the holding stops serving at once
   * and the tracker is told. Withdrawing, rather than serving on from the
   * part file, because no download owns that file any more: a cancelled one
   * keeps it for a later run (which may be in another process) and a failed
   * one removes it, and its disk or its owner is often why it failed.
   */
  withdraw(): void {
    if (this.#ended) return;
    this.#end("GONE");
    this.#owner.withdraw(this);
  }

  #end(event: "DONE" | "GONE"): void {
    this.#ended = true;
    this.#push(formatChunkPush({ event, name: this.version.name }));
    this.#watchers.clear();
  }

  #push(line: string): void {
    for (const watcher of this.#watchers) watcher(line);
  }
}
