/**
 * A peer's lasting link to its tracker: one {@link TrackerClient} at a
 * time, kept alive by `PING`, told the whole folder on every connection,
 * and, while the tracker cannot be reached (at start or after it was lost),
 * tried again with exponential backoff and jitter. The peer is told once
 * that the tracker is away, then less and less often ({@link AWAY_NOTES_MS}),
 * and once more when it is back.
 *
 * @module
 */

import { Timeouts } from "../protocol.ts";
import { type Clock, sleep, systemClock } from "../io/clock.ts";
import {
  AuthError,
  ConnectionClosedError,
  errorMessage,
  NotATrackerError,
  TrackerUnreachableError,
} from "../io/errors.ts";
import type { Secret } from "../io/secret.ts";
import { TrackerClient } from "./tracker_client.ts";

/**
 * While the tracker is away, how long after it went away the peer is told
 * it still is: at 1, 5 and 15 minutes, then every hour (the last step
 * repeats). Tries go on every few seconds all the while.
 */
export const AWAY_NOTES_MS: readonly number[] = [60_000, 300_000, 900_000, 3_600_000];

/** What the link reports. `tracker` is the tracker's address, `HOST:PORT`. */
export type TrackerLinkEvent =
  /** The first try at start failed: the peer serves anyway, and tries again in the background. */
  | { type: "tracker-unreachable"; tracker: string; message: string }
  /** A connection that was up is gone; tries to reach the tracker again begin. */
  | { type: "tracker-lost"; tracker: string; message: string }
  /** Still away, `awayMs` after it went (at each of {@link AWAY_NOTES_MS}); `attempts` tries so far. */
  | { type: "tracker-retry"; tracker: string; attempts: number; message: string; awayMs: number }
  /** Reached after being away (`again`: it had been reached before), and told the folder. */
  | { type: "tracker-back"; tracker: string; announced: string; awayMs: number; attempts: number; again: boolean };

/** Options of {@link TrackerLink.start}. */
export interface TrackerLinkOptions {
  /** The tracker, `HOST:PORT`. */
  address: string;
  /** Connecting, and each request. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Prove we know this secret, and encrypt. */
  secret?: Secret;
  /** While idle, `PING` the tracker this often. Default `Timeouts.HEARTBEAT_MS`. */
  heartbeatMs?: number;
  /** Waits between tries to reach the tracker: doubling from `minMs` up to `maxMs`, each drawn from its upper half. Default 250 and 5,000 ms. */
  reconnect?: { minMs?: number; maxMs?: number };
  /** Tells a tracker just reached what we share; returns its answer. Called on every connection, the first included. */
  announce: (client: TrackerClient) => Promise<string>;
  /** Told when the tracker cannot be reached or is lost, now and then while it is away, and when it is back. */
  onEvent: (event: TrackerLinkEvent) => void;
  /** Whose time the heartbeat, the backoff and the notes while away are measured in. Default `systemClock`. */
  clock?: Clock;
  /** Where the jitter of each wait comes from: a number in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** Since when, and why, the tracker is away. */
interface Away {
  /** On the link's clock. */
  since: number;
  /** The time of day, for people. */
  sinceDate: Date;
  /** Why the last try failed (or why the connection was lost). */
  reason: string;
  /** Tries made since. */
  attempts: number;
  /** Notes told since (an index into {@link AWAY_NOTES_MS}, past its end: hourly). */
  notes: number;
}

/**
 * The tracker connection of a running peer.
 *
 * @example
 * ```ts ignore
 * const link = await TrackerLink.start({
 *   address: "127.0.0.1:4444",
 *   announce: (client) => client.update(5555, []),
 *   onEvent: (event) => console.log(event.type),
 * });
 * const peers = await link.client.peers(); // throws, saying since when, while the tracker is away
 * await link.close();
 * ```
 */
export class TrackerLink {
  #client: TrackerClient | undefined;
  #options: TrackerLinkOptions;
  #clock: Clock;
  #closing = false;
  #abort = new AbortController();
  #reconnecting: Promise<void> | undefined;
  #away: Away | undefined;
  #reached = false;

  private constructor(options: TrackerLinkOptions) {
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Tries once to reach the tracker and tell it the folder. Resolves either
   * way: when that fails, the link says so (`tracker-unreachable`) and keeps
   * trying in the background until {@link TrackerLink.close}; the first
   * connection that works announces. Throws only for what trying again
   * cannot mend, this run's own mistakes: the tracker refused our secret,
   * or needs one we lack, or what answers is a peer, not a tracker.
   */
  static async start(options: TrackerLinkOptions): Promise<TrackerLink> {
    const link = new TrackerLink(options);
    try {
      await link.#connect();
    } catch (error) {
      if (isMistake(error)) throw error;
      link.#goneAway("tracker-unreachable", reasonOf(error, options.address));
    }
    return link;
  }

  /**
   * The connection now (a new one after the tracker was lost and reached
   * again). Throws a {@link ConnectionClosedError} saying which tracker is
   * unreachable, since when and why, while there is none.
   */
  get client(): TrackerClient {
    const client = this.#client;
    if (client?.open && !this.#closing) return client;
    throw new ConnectionClosedError(this.#closing ? "the peer is stopping" : this.#unreachable());
  }

  /** The connection if it is up, else undefined. */
  get current(): TrackerClient | undefined {
    return this.#client?.open && !this.#closing ? this.#client : undefined;
  }

  /** Why there is no connection, for people: the same words whoever asks. */
  #unreachable(): string {
    const { address } = this.#options;
    const away = this.#away;
    const since = away ? ` since ${away.sinceDate.toTimeString().slice(0, 8)}` : "";
    const reason = away ? ` (${away.reason})` : "";
    return `the tracker at ${address} is unreachable${since}${reason}; still trying in the background, ` +
      "uploads go on; try again once a line says it is back";
  }

  /** Connects, announces, and from then on keeps the connection alive and watches it; returns the tracker's answer. */
  async #connect(): Promise<string> {
    const { address, timeoutMs, secret, announce } = this.#options;
    const client = await TrackerClient.connect(address, { timeoutMs, secret, clock: this.#clock });
    if (this.#closing) {
      client.close();
      throw new ConnectionClosedError("the peer is stopping");
    }
    this.#client = client; // so that close() says goodbye on it, even while it is being told the folder
    try {
      const announced = await announce(client);
      if (this.#closing) throw new ConnectionClosedError("the peer is stopping");
      this.#watch(client);
      this.#reached = true;
      return announced;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** Keeps `client` alive, and when it is lost, reaches the tracker again. */
  #watch(client: TrackerClient): void {
    client.keepAlive(this.#options.heartbeatMs ?? Timeouts.HEARTBEAT_MS);
    client.closed.then((why) => {
      if (this.#closing || client !== this.#client) return;
      this.#goneAway("tracker-lost", why);
    });
  }

  /** The tracker is away from now on: says so once, and tries to reach it in the background. */
  #goneAway(type: "tracker-unreachable" | "tracker-lost", reason: string): void {
    this.#away = { since: this.#clock.now(), sinceDate: new Date(), reason, attempts: 0, notes: 0 };
    this.#options.onEvent({ type, tracker: this.#options.address, message: reason });
    this.#reconnecting = this.#reconnect(this.#away);
  }

  /**
   * Tries to reach the tracker until it answers or the link closes, waiting
   * longer after each failure (exponential backoff, with jitter so that many
   * peers do not come back at the same instant), then announces. Tells how
   * it goes only at the times of {@link AWAY_NOTES_MS}, and when it is back.
   */
  async #reconnect(away: Away): Promise<void> {
    const { address, onEvent } = this.#options;
    const minMs = this.#options.reconnect?.minMs ?? 250;
    const maxMs = this.#options.reconnect?.maxMs ?? 5_000;
    const random = this.#options.random ?? Math.random;
    let wait = minMs / 2 + random() * minMs / 2;
    while (true) {
      if (!(await sleep(wait, { signal: this.#abort.signal, clock: this.#clock }))) return;
      away.attempts++;
      const again = this.#reached;
      try {
        const announced = await this.#connect();
        this.#away = undefined;
        const awayMs = this.#clock.now() - away.since;
        onEvent({ type: "tracker-back", tracker: address, announced, awayMs, attempts: away.attempts, again });
        return;
      } catch (error) {
        if (this.#closing) return;
        away.reason = reasonOf(error, address);
        const ceiling = Math.min(maxMs, minMs * 2 ** away.attempts);
        wait = ceiling / 2 + random() * ceiling / 2;
        const awayMs = this.#clock.now() - away.since;
        if (awayMs >= noteAt(away.notes)) {
          while (awayMs >= noteAt(away.notes)) away.notes++; // a long try (a timeout) may pass more than one
          onEvent({ type: "tracker-retry", tracker: address, attempts: away.attempts, message: away.reason, awayMs });
        }
      }
    }
  }

  /** Stops reaching the tracker again (a try under way gives up), without leaving it yet. Idempotent. */
  stop(): void {
    this.#closing = true;
    this.#abort.abort();
  }

  /** Stops reaching the tracker again, and says goodbye to it. Idempotent. */
  async close(): Promise<void> {
    this.stop();
    await this.#reconnecting;
    await this.#client?.quit();
  }
}

/** A failure of the first try that is this run's mistake (`--secret`, `--tracker`), not the tracker's absence. */
function isMistake(error: unknown): boolean {
  return error instanceof AuthError || error instanceof NotATrackerError ||
    error instanceof ConnectionClosedError && error.cause instanceof AuthError;
}

/** When the `n`-th note (from 0) while away is due, ms after the tracker went away. */
function noteAt(n: number): number {
  const last = AWAY_NOTES_MS.length - 1;
  return n <= last ? AWAY_NOTES_MS[n] : AWAY_NOTES_MS[last] * (n - last + 1);
}

/** Why a try failed, without the tracker's address again: `connection refused`, `no answer within 10 s`. */
function reasonOf(error: unknown, address: string): string {
  if (error instanceof TrackerUnreachableError) return error.reason;
  if (error instanceof ConnectionClosedError && error.cause instanceof Deno.errors.ConnectionRefused) {
    return "connection refused";
  }
  const message = errorMessage(error);
  const prefix = `cannot reach the tracker at ${address}: `;
  return message.startsWith(prefix) ? message.slice(prefix.length) : message;
}
