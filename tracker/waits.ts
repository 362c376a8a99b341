/**
 * The tracker's waiting list (`WAIT`): which session waits for which file
 * name, until when. When a peer announces a name, every session waiting
 * for it is told at once (`* FOUND`); when a wait runs out, `* EXPIRED`.
 * No polling anywhere. Pure bookkeeping plus one timer per WAIT request.
 *
 * @module
 */

import { formatPush, Limits, ProtocolError, Status } from "../protocol.ts";
import { type Clock, systemClock, type TimerHandle } from "../io/clock.ts";

/** Someone who can be told a push line: a tracker session. */
export interface Waiter {
  /** Sends `text` (a whole push line) to the session, between replies. */
  push(text: string): void;
}

interface Wait {
  waiter: Waiter;
  names: Set<string>;
  timer: TimerHandle;
}

/** Options of {@link WaitingList}. */
export interface WaitingListOptions {
  /** Whose time waits run out in. Default `systemClock`. */
  clock?: Clock;
}

/** Every session's waits, by name. */
export class WaitingList {
  #clock: Clock;
  #byName = new Map<string, Set<Wait>>();
  #bySession = new Map<Waiter, Set<Wait>>();
  #count = 0;

  /** An empty list. */
  constructor(options: WaitingListOptions = {}) {
    this.#clock = options.clock ?? systemClock;
  }

  /** How many (session, name) waits there are. */
  get size(): number {
    return this.#count;
  }

  /**
   * `waiter` waits up to `wait.seconds` for each of `wait.names`. Throws 413
   * when the session would wait for more than
   * {@link Limits.MAX_WAITS_PER_SESSION} names at once; nothing is added then.
   */
  add(waiter: Waiter, wait: { names: readonly string[]; seconds: number }): void {
    const { names, seconds } = wait;
    if (names.length === 0) return;
    if (this.#count + names.length > Limits.MAX_WAITS) {
      throw new ProtocolError(Status.TOO_LARGE, `the tracker waits for ${Limits.MAX_WAITS} names already; try later`);
    }
    const mine = this.#bySession.get(waiter);
    let already = 0;
    for (const wait of mine ?? []) already += wait.names.size;
    if (already + names.length > Limits.MAX_WAITS_PER_SESSION) {
      throw new ProtocolError(
        Status.TOO_LARGE,
        `a session may wait for at most ${Limits.MAX_WAITS_PER_SESSION} names at once (${already} already)`,
      );
    }
    const entry: Wait = {
      waiter,
      names: new Set(names),
      timer: this.#clock.setTimeout(() => this.#expire(entry), seconds * 1000),
    };
    for (const name of entry.names) {
      let set = this.#byName.get(name);
      if (!set) this.#byName.set(name, set = new Set());
      set.add(entry);
      this.#count++;
    }
    if (mine) mine.add(entry);
    else this.#bySession.set(waiter, new Set([entry]));
  }

  /** Someone announced `name`: every session waiting for it is told, and stops waiting for it. */
  announced(name: string): void {
    if (this.#count === 0) return; // the common case: an UPDATE of many files and nobody waiting
    const waits = this.#byName.get(name);
    if (!waits) return;
    this.#byName.delete(name);
    for (const wait of waits) {
      this.#take(wait, name);
      wait.waiter.push(formatPush({ event: "FOUND", name }));
    }
  }

  /** Forgets every wait of `waiter` (its session ended). */
  forget(waiter: Waiter): void {
    for (const wait of this.#bySession.get(waiter) ?? []) {
      this.#clock.clearTimeout(wait.timer);
      for (const name of wait.names) this.#unindex(wait, name);
      this.#count -= wait.names.size;
      wait.names.clear();
    }
    this.#bySession.delete(waiter);
  }

  /** Stops every timer (the tracker is closing). */
  clear(): void {
    for (const waiter of [...this.#bySession.keys()]) this.forget(waiter);
  }

  #expire(wait: Wait): void {
    const names = [...wait.names];
    for (const name of names) {
      this.#unindex(wait, name);
      this.#take(wait, name);
    }
    for (const name of names) wait.waiter.push(formatPush({ event: "EXPIRED", name }));
  }

  /** `wait` no longer waits for `name`; a wait left with no name is dropped. */
  #take(wait: Wait, name: string): void {
    if (!wait.names.delete(name)) return;
    this.#count--;
    if (wait.names.size > 0) return;
    this.#clock.clearTimeout(wait.timer);
    const mine = this.#bySession.get(wait.waiter);
    mine?.delete(wait);
    if (mine?.size === 0) this.#bySession.delete(wait.waiter);
  }

  #unindex(wait: Wait, name: string): void {
    const set = this.#byName.get(name);
    set?.delete(wait);
    if (set?.size === 0) this.#byName.delete(name);
  }
}
