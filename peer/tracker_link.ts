/**
 * A peer's lasting link to its tracker: one {@link TrackerClient} at a
 * time, kept alive by `PING`, and when it is lost, reached again with
 * exponential backoff and jitter, then told the whole folder again.
 *
 * @module
 */

import { Timeouts } from "../protocol.ts";
import { type Clock, sleep, systemClock } from "../io/clock.ts";
import { errorMessage } from "../io/errors.ts";
import type { Secret } from "../io/secret.ts";
import { TrackerClient } from "./tracker_client.ts";

/** What the link reports. */
export type TrackerLinkEvent =
  | { type: "tracker-lost"; message: string }
  | { type: "tracker-retry"; attempt: number; message: string; nextInMs: number }
  | { type: "tracker-back"; announced: string };

/** Options of {@link TrackerLink.connect}. */
export interface TrackerLinkOptions {
  /** The tracker, `HOST:PORT`. */
  address: string;
  /** Connecting, and each request. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** Prove we know this secret, and encrypt. */
  secret?: Secret;
  /** While idle, `PING` the tracker this often. Default `Timeouts.HEARTBEAT_MS`. */
  heartbeatMs?: number;
  /** Waits between tries to reach a lost tracker: doubling from `minMs` up to `maxMs`, each drawn from its upper half. Default 250 and 5,000 ms. */
  reconnect?: { minMs?: number; maxMs?: number };
  /** Tells a tracker reached again what we share; returns its answer. */
  announce: (client: TrackerClient) => Promise<string>;
  /** Told when the tracker is lost, of each failed try, and when it is back. */
  onEvent: (event: TrackerLinkEvent) => void;
  /** Whose time the heartbeat and the backoff are measured in. Default `systemClock`. */
  clock?: Clock;
  /** Where the jitter of each wait comes from: a number in [0, 1). Default `Math.random`. */
  random?: () => number;
}

/** The tracker connection of a running peer. */
export class TrackerLink {
  #client: TrackerClient;
  #options: TrackerLinkOptions;
  #clock: Clock;
  #closing = false;
  #abort = new AbortController();
  #reconnecting: Promise<void> | undefined;

  private constructor(client: TrackerClient, options: TrackerLinkOptions) {
    this.#client = client;
    this.#options = options;
    this.#clock = options.clock ?? systemClock;
  }

  /**
   * Reaches the tracker once (throwing, naming it, if it cannot); from then
   * on the link keeps itself up until {@link TrackerLink.close}. Nothing is
   * announced here: the caller announces first.
   */
  static async connect(options: TrackerLinkOptions): Promise<TrackerLink> {
    const { address, timeoutMs, secret, clock } = options;
    const link = new TrackerLink(await TrackerClient.connect(address, { timeoutMs, secret, clock }), options);
    link.#watch(link.#client);
    return link;
  }

  /** The connection now (a new one after the tracker was lost and reached again). */
  get client(): TrackerClient {
    return this.#client;
  }

  /** Keeps `client` alive, and when it is lost, reaches the tracker again. */
  #watch(client: TrackerClient): void {
    client.keepAlive(this.#options.heartbeatMs ?? Timeouts.HEARTBEAT_MS);
    client.closed.then((why) => {
      if (this.#closing || client !== this.#client) return;
      this.#options.onEvent({ type: "tracker-lost", message: why });
      this.#reconnecting = this.#reconnect();
    });
  }

  /**
   * Tries to reach the tracker until it answers or the link closes, waiting
   * longer after each failure (exponential backoff, with jitter so that many
   * peers do not come back at the same instant), then announces.
   */
  async #reconnect(): Promise<void> {
    const { address, timeoutMs, secret, announce, onEvent } = this.#options;
    const minMs = this.#options.reconnect?.minMs ?? 250;
    const maxMs = this.#options.reconnect?.maxMs ?? 5_000;
    const random = this.#options.random ?? Math.random;
    let wait = minMs / 2 + random() * minMs / 2;
    for (let attempt = 1;; attempt++) {
      if (!(await sleep(wait, { signal: this.#abort.signal, clock: this.#clock }))) return;
      let client: TrackerClient | undefined;
      try {
        client = await TrackerClient.connect(address, { timeoutMs, secret, clock: this.#clock });
        if (this.#closing) return client.close();
        this.#client = client;
        const announced = await announce(client);
        if (this.#closing) return client.close();
        onEvent({ type: "tracker-back", announced });
        this.#watch(client);
        return;
      } catch (error) {
        client?.close();
        if (this.#closing) return;
        const ceiling = Math.min(maxMs, minMs * 2 ** attempt);
        wait = ceiling / 2 + random() * ceiling / 2;
        onEvent({ type: "tracker-retry", attempt, message: errorMessage(error), nextInMs: Math.round(wait) });
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
    await this.#client.quit();
  }
}
