/**
 * The tracker role: accepts peers, one session per connection, and answers
 * `UPDATE`, `ADD`, `REMOVE`, `SEND`, `WAIT`, `REPORT`, `PEERS`, `LIST`,
 * `STATS`, `PING`, `HELP` and `QUIT` from its index (`docs/PROTOCOL.md`).
 * A peer's files leave the index the moment its connection closes.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 * import { TrackerClient } from "./peer.ts";
 *
 * await using tracker = startTracker({ hostname: "127.0.0.1", port: 0 });
 * await using client = await TrackerClient.connect(`127.0.0.1:${tracker.addr.port}`);
 * await client.update(5555, [{ name: "hello.txt", size: 5, sha256: "a".repeat(64) }]);
 * const { lookups } = await client.send(["hello.txt"]);
 * assert.equal(lookups[0].holders[0].address, "127.0.0.1:5555");
 * ```
 *
 * @module
 */

import { Limits, Timeouts, type TrackerStats } from "./protocol.ts";
import { type Clock, systemClock, type TimerHandle } from "./io/clock.ts";
import { type ListenOptions, TcpServer } from "./io/server.ts";
import { Counters } from "./tracker/counters.ts";
import { HolderFeedback } from "./tracker/feedback.ts";
import { TrackerIndex } from "./tracker/file_index.ts";
import { Session, type TrackerEvent, type TrackerState } from "./tracker/session.ts";
import { WaitingList } from "./tracker/waits.ts";

export type { TrackerEvent } from "./tracker/session.ts";
export type { HolderScore, Report } from "./tracker/feedback.ts";
export type { PeerKey, PeerRecord, Ranking } from "./tracker/file_index.ts";
export type { ListenOptions } from "./io/server.ts";
export type { Clock, TimerHandle } from "./io/clock.ts";
export type { Claim, Nonces, Secret, Side } from "./io/secret.ts";
export { HolderFeedback, TrackerIndex };

/** Options of {@link startTracker}. */
export interface TrackerOptions extends ListenOptions {
  /** Told of peers joining, announcing, leaving, and of bad requests. Default: nothing. */
  onEvent?: (event: TrackerEvent) => void;
  /** Told of unexpected errors. Default: nothing. */
  onError?: (error: unknown) => void;
  /** A holder reported failing by this many sessions (and by more than reported it working) is no longer offered. Default 2. */
  demoteAfter?: number;
  /**
   * A session that completes no line for this long is closed, and its files
   * leave the index: a silent peer, a vanished machine (half-open), or a
   * client dripping a line byte by byte. Peers send `PING` to stay.
   * Default `Timeouts.TRACKER_IDLE_MS` (120 s).
   */
  idleTimeoutMs?: number;
  /** Most entries in the whole index; an UPDATE that would pass it gets 413. Default `Limits.MAX_INDEX_ENTRIES`. */
  maxEntries?: number;
  /** Tell a `stats` event this often (the periodic log line), in the time of `clock`; 0 or absent: never. */
  statsIntervalMs?: number;
  /** Whose time idle sessions, waits, statistics and the stats interval are measured in. Default: the real clock. */
  clock?: Clock;
}

/** A running tracker. */
export interface Tracker extends AsyncDisposable {
  /** The bound address. */
  addr: Deno.NetAddr;
  /** The index it answers from. */
  index: TrackerIndex;
  /** What downloaders reported about holders. */
  feedback: HolderFeedback;
  /** Its counters now, as `STATS` gives them. */
  stats(): TrackerStats;
  /** Stops accepting, closes every session. */
  close(): Promise<void>;
}

/**
 * Starts a tracker: it listens at once (throwing `Deno.errors.AddrInUse`
 * and the like) and serves until closed.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const events: string[] = [];
 * const tracker = startTracker({ hostname: "127.0.0.1", port: 0, onEvent: (e) => events.push(e.type) });
 * const conn = await Deno.connect({ hostname: "127.0.0.1", port: tracker.addr.port });
 * await conn.write(new TextEncoder().encode("QUIT\n"));
 * const reply = new Uint8Array(64);
 * assert.equal(new TextDecoder().decode(reply.subarray(0, (await conn.read(reply))!)), "221 bye\n");
 * conn.close();
 * await tracker.close();
 * assert.deepEqual(events, ["joined", "left"]);
 * ```
 */
export function startTracker(options: TrackerOptions): Tracker {
  const clock = options.clock ?? systemClock;
  const index = new TrackerIndex();
  const state: TrackerState = {
    index,
    feedback: new HolderFeedback(options.demoteAfter),
    waits: new WaitingList({ clock }),
    counters: new Counters(index, { clock }),
    onEvent: options.onEvent ?? (() => {}),
    idleMs: options.idleTimeoutMs ?? Timeouts.TRACKER_IDLE_MS,
    maxEntries: options.maxEntries ?? Limits.MAX_INDEX_ENTRIES,
    clock,
  };
  let nextId = 1;
  let server: TcpServer;
  try {
    server = new TcpServer((conn) => new Session(conn, { id: nextId++, state }).run(), options);
  } catch (error) {
    state.counters.stop(); // a tracker that could not listen leaves no timer behind
    throw error;
  }
  const stats = () => state.counters.read(state.waits.size);
  const every = options.statsIntervalMs;
  let log: TimerHandle | undefined;
  const tell = () => {
    log = clock.setTimeout(tell, every!);
    state.onEvent({ type: "stats", stats: stats() });
  };
  if (every) log = clock.setTimeout(tell, every);
  const close = async () => {
    clock.clearTimeout(log);
    log = undefined;
    state.counters.stop();
    await server.close();
    state.waits.clear();
  };
  return { addr: server.addr, index, feedback: state.feedback, stats, close, [Symbol.asyncDispose]: close };
}
