/**
 * A peer's lasting link to its tracker: one {@link TrackerClient} at a
 * time, kept alive by `PING`, told the whole folder on every connection,
 * and, while the tracker cannot be reached (at start or after it was lost),
 * tried again with exponential backoff and jitter. The peer is told once
 * that the tracker is away, then less and less often ({@link AWAY_NOTES_MS}),
 * and once more when it is back.
 *
 * With several trackers sharing one index (any of them can serve the peer),
 * the first that answers at start is used; when it is lost, the others are
 * tried at once, from the one after it, each failure told; when none
 * answers, the whole list is tried in rounds from there, with the backoff
 * between rounds. Whichever answers is told the whole folder, as one
 * reached again always was.
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
  TlsError,
  TrackerUnreachableError,
} from "../io/errors.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
import { listed } from "../io/words.ts";
import { TrackerClient } from "./tracker_client.ts";
import { type TrackerAddresses, trackerList } from "./tracker_list.ts";

/**
 * While the tracker is away, how long after it went away the peer is told
 * it still is: at 1, 5 and 15 minutes, then every hour (the last step
 * repeats). Tries go on every few seconds all the while.
 */
export const AWAY_NOTES_MS: readonly number[] = [60_000, 300_000, 900_000, 3_600_000];

/** A tracker of several, and why the last try of it failed. */
export interface TrackerFailure {
  /** The tracker, `HOST:PORT`. */
  tracker: string;
  /** Why, in a few words: `connection refused`, `the tracker closed the connection`. */
  message: string;
}

/**
 * What the link reports. `tracker` is the tracker's address, `HOST:PORT`;
 * `next` and `tried` come only with several trackers, and
 * `tracker-skipped` and `tracker-moved` only then.
 */
export type TrackerLinkEvent =
  /**
   * No tracker answered the first round at start (with several, each was
   * tried once, in order), or, with several, none of the others answered
   * right after the one in use was lost: the peer serves anyway, and tries
   * again in the background. `tracker` is the last one tried and `message`
   * why it failed; `tried`, every tracker and why, in the order given.
   */
  | { type: "tracker-unreachable"; tracker: string; message: string; tried?: TrackerFailure[] }
  /** A connection that was up is gone; with several trackers, `next` is tried at once, else tries begin after a wait. */
  | { type: "tracker-lost"; tracker: string; message: string; next?: string }
  /** With several trackers, at start or right after a loss: `tracker` did not answer (`message`: why); `next` is tried at once. */
  | { type: "tracker-skipped"; tracker: string; message: string; next: string }
  /** With several trackers: `tracker` answered, at start after the first did not, or right after a loss, and was told the folder. */
  | { type: "tracker-moved"; tracker: string; announced: string }
  /**
   * Still away, `awayMs` after it went (at each of {@link AWAY_NOTES_MS});
   * `attempts` tries so far (of any tracker); the last failed at `tracker`,
   * for `message`; `tried`: why each last failed.
   */
  | {
    type: "tracker-retry";
    tracker: string;
    attempts: number;
    message: string;
    awayMs: number;
    tried?: TrackerFailure[];
  }
  /** `tracker` was reached after being away (`again`: it had been reached before), and told the folder. */
  | { type: "tracker-back"; tracker: string; announced: string; awayMs: number; attempts: number; again: boolean };

/** Options of {@link TrackerLink.start}. */
export interface TrackerLinkOptions {
  /**
   * The tracker, `HOST:PORT`, or several sharing one index, in the order
   * they are tried: at start the first that answers is used; when it is
   * lost the next ones are tried at once, then the whole list, from the one
   * after the lost, in rounds with backoff between them.
   */
  address: TrackerAddresses;
  /** Connecting, and each request. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Prove we know this secret (and over plain TCP, encrypt). */
  secret?: Secret;
  /** Connect with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
  /** While idle, `PING` the tracker this often. Default `Timeouts.HEARTBEAT_MS`. */
  heartbeatMs?: number;
  /**
   * Waits between rounds of tries to reach a tracker (one try of each):
   * doubling from `minMs` up to `maxMs`, each drawn from its upper half.
   * Default 250 and 5,000 ms.
   */
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

/** Tries of trackers, and how the last of each failed. */
interface Tries {
  /** Tries made, of any tracker. */
  attempts: number;
  /** Why the last try of each tracker failed, as far as tried. */
  reasons: Map<string, string>;
  /** The last try that failed (or the connection lost), and why. */
  last?: TrackerFailure;
}

/** Since when, and why, no tracker is connected. */
interface Away extends Tries {
  /** On the link's clock. */
  since: number;
  /** The time of day, for people. */
  sinceDate: Date;
  last: TrackerFailure;
  /** Rounds made since, after a wait each: what the backoff doubles with. */
  rounds: number;
  /** Notes told since (an index into {@link AWAY_NOTES_MS}, past its end: hourly). */
  notes: number;
}

/**
 * The tracker connection of a running peer.
 *
 * @example
 * ```ts ignore
 * const link = await TrackerLink.start({
 *   address: ["127.0.0.1:4444", "127.0.0.1:4445"],
 *   announce: (client) => client.update(5555, []),
 *   onEvent: (event) => console.log(event.type),
 * });
 * const peers = await link.client.peers(); // throws, saying since when, while no tracker answers
 * await link.close();
 * ```
 */
export class TrackerLink {
  #client: TrackerClient | undefined;
  #options: TrackerLinkOptions;
  #addresses: readonly string[];
  #clock: Clock;
  #closing = false;
  #abort = new AbortController();
  #reconnecting: Promise<void> | undefined;
  #away: Away | undefined;
  /** The trackers reached so far: one reached again is `again`. */
  #reached = new Set<string>();

  private constructor(options: TrackerLinkOptions) {
    this.#options = options;
    this.#addresses = trackerList(options.address);
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Tries once to reach the tracker (each of several, in order, until one
   * answers) and tell it the folder. Resolves either way: when that fails,
   * the link says so (`tracker-unreachable`) and keeps trying in the
   * background until {@link TrackerLink.close}; the first connection that
   * works announces. Throws only for what trying again cannot mend, this
   * run's own mistakes: a tracker refused our secret, or needs one we lack,
   * or what answers is a peer, not a tracker (with several trackers, the
   * first such one tried, naming it).
   */
  static async start(options: TrackerLinkOptions): Promise<TrackerLink> {
    const link = new TrackerLink(options);
    const tries: Tries = { attempts: 0, reasons: new Map() };
    const reached = await link.#round(tries, link.#addresses, { loud: true, mistakes: true });
    if (reached === undefined) {
      // Away from now on: the tries at start are not counted among the tries to come back.
      link.#goneAway(link.#newAway(tries.last!, tries.reasons), { type: "tracker-unreachable", from: -1 });
    } else if (reached.tracker !== link.#addresses[0]) {
      options.onEvent({ type: "tracker-moved", tracker: reached.tracker, announced: reached.announced });
    }
    return link;
  }

  /**
   * The connection now (a new one after the tracker was lost and one was
   * reached again). Throws a {@link ConnectionClosedError} saying which
   * trackers are unreachable, since when and why, while there is none.
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
    const away = this.#away;
    const since = away ? ` since ${away.sinceDate.toTimeString().slice(0, 8)}` : "";
    if (this.#addresses.length === 1) {
      const reason = away ? ` (${away.last.message})` : "";
      return `the tracker at ${this.#addresses[0]} is unreachable${since}${reason}; still trying in the background, ` +
        "uploads go on; try again once a line says it is back";
    }
    const reasons = away ? ` (${this.#tried(away).map((t) => `${t.tracker}: ${t.message}`).join("; ")})` : "";
    return `the trackers at ${listed(this.#addresses)} are unreachable${since}${reasons}; still trying them in the ` +
      "background, uploads go on; try again once a line says one is back";
  }

  /** Why each tracker tried since `away` began last failed, in the order given. */
  #tried(away: Away): TrackerFailure[] {
    return this.#addresses.flatMap((tracker) => {
      const message = away.reasons.get(tracker);
      return message === undefined ? [] : [{ tracker, message }];
    });
  }

  /** From now on no tracker is connected, for `last` (and `reasons`: why each failed so far). */
  #newAway(last: TrackerFailure, reasons = new Map([[last.tracker, last.message]])): Away {
    return { since: this.#clock.now(), sinceDate: new Date(), last, reasons, attempts: 0, rounds: 0, notes: 0 };
  }

  /** Connects to `address`, announces, and from then on keeps the connection alive and watches it; returns the answer. */
  async #connect(address: string): Promise<string> {
    const { timeoutMs, secret, tls, announce } = this.#options;
    const client = await TrackerClient.connect(address, { timeoutMs, secret, tls, clock: this.#clock });
    if (this.#closing) {
      client.close();
      throw new ConnectionClosedError("the peer is stopping");
    }
    this.#client = client; // so that close() says goodbye on it, even while it is being told the folder
    try {
      const announced = await announce(client);
      if (this.#closing) throw new ConnectionClosedError("the peer is stopping");
      this.#watch(client);
      this.#away = undefined;
      return announced;
    } catch (error) {
      client.close();
      throw error;
    }
  }

  /** Keeps `client` alive, and when it is lost, reaches a tracker again. */
  #watch(client: TrackerClient): void {
    client.keepAlive(this.#options.heartbeatMs ?? Timeouts.HEARTBEAT_MS);
    client.closed.then((why) => {
      if (this.#closing || client !== this.#client) return;
      const from = this.#addresses.indexOf(client.address);
      this.#goneAway(this.#newAway({ tracker: client.address, message: why }), { type: "tracker-lost", from });
    });
  }

  /**
   * No tracker is connected from now on: says so once, and tries to reach
   * one in the background, from the one after `from` (the index of the one
   * lost; -1 at start).
   */
  #goneAway(away: Away, how: { type: "tracker-unreachable" | "tracker-lost"; from: number }): void {
    this.#away = away;
    const n = this.#addresses.length;
    const start = (how.from + 1) % n;
    if (how.type === "tracker-unreachable") {
      this.#options.onEvent({ type: how.type, ...away.last, ...this.#several(away) });
      this.#reconnecting = this.#reconnect(away, start);
      return;
    }
    const next = n > 1 ? { next: this.#addresses[start] } : {};
    this.#options.onEvent({ type: "tracker-lost", ...away.last, ...next });
    this.#reconnecting = this.#afterLoss(away, start);
  }

  /** With several trackers, `tried`: why each failed. */
  #several(away: Away): { tried?: TrackerFailure[] } {
    return this.#addresses.length > 1 ? { tried: this.#tried(away) } : {};
  }

  /** The trackers in round-robin order from index `start`. */
  #rotation(start: number): string[] {
    return [...this.#addresses.slice(start), ...this.#addresses.slice(0, start)];
  }

  /**
   * Right after a loss: the other trackers at once, each failure told; when
   * none answers, says so, and tries in rounds with backoff.
   */
  async #afterLoss(away: Away, start: number): Promise<void> {
    const others = this.#rotation(start).slice(0, -1);
    if (others.length > 0) {
      const moved = await this.#round(away, others, { loud: true });
      if (moved) {
        this.#options.onEvent({ type: "tracker-moved", tracker: moved.tracker, announced: moved.announced });
        return;
      }
      if (this.#closing) return;
      this.#options.onEvent({ type: "tracker-unreachable", ...away.last, ...this.#several(away) });
    }
    await this.#reconnect(away, start);
  }

  /**
   * One try of each of `trackers`, in order, until one answers and is told
   * the folder: which, its answer, and whether it had been reached before.
   * `loud`: each failure followed by another try is told
   * (`tracker-skipped`). `mistakes`: this run's own mistakes are thrown (at
   * start). Undefined when none answered, or the link closes.
   */
  async #round(
    tries: Tries,
    trackers: readonly string[],
    how: { loud: boolean; mistakes?: boolean },
  ): Promise<{ tracker: string; announced: string; again: boolean } | undefined> {
    for (const [i, tracker] of trackers.entries()) {
      tries.attempts++;
      try {
        const announced = await this.#connect(tracker);
        const again = this.#reached.has(tracker);
        this.#reached.add(tracker);
        return { tracker, announced, again };
      } catch (error) {
        if (how.mistakes && isMistake(error)) throw error;
        if (this.#closing) return undefined;
        const last = tries.last = { tracker, message: reasonOf(error, tracker) };
        tries.reasons.set(tracker, last.message);
        const next = trackers[i + 1];
        if (how.loud && next !== undefined) this.#options.onEvent({ type: "tracker-skipped", ...last, next });
      }
    }
    return undefined;
  }

  /**
   * Tries to reach a tracker until one answers or the link closes: a round
   * of one try of each, from index `start`, then a longer wait after each
   * failed round (exponential backoff, with jitter so that many peers do not
   * come back at the same instant); the one reached is told the folder.
   * Tells how it goes only at the times of {@link AWAY_NOTES_MS}, and when
   * it is back.
   */
  async #reconnect(away: Away, start: number): Promise<void> {
    const { onEvent } = this.#options;
    const minMs = this.#options.reconnect?.minMs ?? 250;
    const maxMs = this.#options.reconnect?.maxMs ?? 5_000;
    const random = this.#options.random ?? Math.random;
    const round = this.#rotation(start);
    let wait = minMs / 2 + random() * minMs / 2;
    while (true) {
      if (!(await sleep(wait, { signal: this.#abort.signal, clock: this.#clock }))) return;
      away.rounds++;
      const reached = await this.#round(away, round, { loud: false });
      if (reached) {
        const { tracker, announced, again } = reached;
        const awayMs = this.#clock.now() - away.since;
        onEvent({ type: "tracker-back", tracker, announced, awayMs, attempts: away.attempts, again });
        return;
      }
      if (this.#closing) return;
      const ceiling = Math.min(maxMs, minMs * 2 ** away.rounds);
      wait = ceiling / 2 + random() * ceiling / 2;
      const awayMs = this.#clock.now() - away.since;
      if (awayMs >= noteAt(away.notes)) {
        while (awayMs >= noteAt(away.notes)) away.notes++; // a long try (a timeout) may pass more than one
        onEvent({
          type: "tracker-retry",
          ...away.last,
          attempts: away.attempts,
          awayMs,
          ...this.#several(away),
        });
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

/**
 * A failure of the first try that is this run's mistake (`--secret`, `--tracker`, TLS on one side only or a
 * certificate not trusted), not the tracker's absence.
 */
function isMistake(error: unknown): boolean {
  return error instanceof AuthError || error instanceof NotATrackerError ||
    error instanceof ConnectionClosedError && (error.cause instanceof AuthError || error.cause instanceof TlsError);
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
