/**
 * Which chunks of a download are done, which are asked for and by how many
 * sources, and which to ask for next: the first chunk nobody has and nobody
 * fetches. Pure bookkeeping, no I/O.
 *
 * @module
 */

/** A request for `count` chunks from chunk `first` on (one `RANGE`). */
export interface ChunkRequest {
  /** The first chunk. */
  first: number;
  /** How many chunks, in a row. */
  count: number;
}

/** The chunks of one download. */
export class ChunkPlan {
  /** How many chunks the file has. */
  readonly count: number;
  #done: Uint8Array;
  #doneCount = 0;
  /** How many sources have each chunk asked for now. */
  #owners: Uint16Array;
  /** Every chunk before it is done or asked for. */
  #cursor = 0;

  /** A plan for `count` chunks, none done. */
  constructor(count: number) {
    this.count = count;
    this.#done = new Uint8Array(count);
    this.#owners = new Uint16Array(count);
  }

  /** True once every chunk is done. */
  get complete(): boolean {
    return this.#doneCount === this.count;
  }

  /** How many chunks are done. */
  get doneCount(): number {
    return this.#doneCount;
  }

  /** Whether chunk `index` is done. */
  isDone(index: number): boolean {
    return this.#done[index] === 1;
  }

  /** Records chunk `index` as done (verified and written); false if it was already. */
  markDone(index: number): boolean {
    if (this.#done[index]) return false;
    this.#done[index] = 1;
    this.#doneCount++;
    return true;
  }

  /** How many sources have chunk `index` asked for now. */
  owners(index: number): number {
    return this.#owners[index];
  }

  /**
   * The first chunk neither done nor asked for; with `run`, the missing,
   * unasked chunks after it up to the next gap too (one `RANGE` for a
   * streaming source). `undefined` when every chunk is done or asked for.
   */
  next(options: { run: boolean }): ChunkRequest | undefined {
    while (this.#cursor < this.count && (this.#done[this.#cursor] || this.#owners[this.#cursor] > 0)) this.#cursor++;
    if (this.#cursor >= this.count) return undefined;
    const first = this.#cursor;
    let count = 1;
    if (options.run) {
      while (first + count < this.count && !this.#done[first + count] && this.#owners[first + count] === 0) count++;
    }
    return { first, count };
  }

  /** A source asked for `request`. */
  take(request: ChunkRequest): void {
    for (let i = request.first; i < request.first + request.count; i++) this.#owners[i]++;
  }

  /** A source is done with `request` (answered, or dropped): what it did not deliver is free again. */
  release(request: ChunkRequest): void {
    for (let i = request.first; i < request.first + request.count; i++) {
      this.#owners[i]--;
      if (!this.#done[i] && this.#owners[i] === 0) this.#cursor = Math.min(this.#cursor, i);
    }
  }
}
