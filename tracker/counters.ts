/**
 * How much the tracker did: requests, reports, sessions, and requests per
 * second over the last minute, read together with the index's counts as
 * `STATS` gives them.
 *
 * @module
 */

import type { TrackerStats } from "../protocol.ts";
import { type Clock, systemClock, type TimerHandle } from "../io/clock.ts";
import type { IndexCounts } from "./store.ts";

/** How often a sample of the request count is kept, ms. */
const SAMPLE_MS = 5_000;
/** Samples kept: a minute's worth, and one more for its start. */
const SAMPLES = 13;

/** Options of {@link Counters}. */
export interface CountersOptions {
  /** Whose time the rate and the uptime are measured in. Default `systemClock`. */
  clock?: Clock;
}

/** The tracker's counters; the sessions add to them as they work. */
export class Counters {
  /** Requests answered since start. */
  requests = 0;
  /** `REPORT` lines taken. */
  reports = 0;
  /** Verified bytes reported served (each report capped at the file's size). */
  reportedBytes = 0;
  /** Sessions connected now. */
  sessions = 0;
  #clock: Clock;
  #started: number;
  /** [time, requests] every {@link SAMPLE_MS}, the last minute's worth. */
  #samples: [number, number][];
  #sampler: TimerHandle | undefined;

  /** Counts for one tracker, from now. */
  constructor(options: CountersOptions = {}) {
    this.#clock = options.clock ?? systemClock;
    this.#started = this.#clock.now();
    this.#samples = [[this.#started, 0]];
    this.#sample();
  }

  #sample(): void {
    this.#sampler = this.#clock.setTimeout(() => {
      this.#samples.push([this.#clock.now(), this.requests]);
      if (this.#samples.length > SAMPLES) this.#samples.shift();
      this.#sample();
    }, SAMPLE_MS);
    // A tracker that is otherwise done must not be kept alive by its statistics. Only the runtime's timers can be
    // unref'd (they are objects here, not numbers); another clock's handle is its own business.
    if (this.#clock === systemClock) Deno.unrefTimer(this.#sampler as number);
  }

  /** Everything `STATS` says; `waiting` comes from the waiting list, `counts` from the store. */
  read(waiting: number, counts: IndexCounts): TrackerStats {
    const now = this.#clock.now();
    const [since, before] = this.#samples[0];
    const seconds = (now - since) / 1000;
    const { peers, names, entries, partial } = counts;
    return {
      sessions: this.sessions,
      peers,
      files: names,
      holders: entries - partial,
      partial,
      requests: this.requests,
      rps: seconds > 0 ? Math.round((this.requests - before) / seconds * 10) / 10 : 0,
      reports: this.reports,
      reportedBytes: this.reportedBytes,
      waiting,
      uptime: Math.floor((now - this.#started) / 1000),
    };
  }

  /** Stops sampling. */
  stop(): void {
    this.#clock.clearTimeout(this.#sampler);
  }
}
