/**
 * Several trackers sharing one index, any of which can serve a peer: the
 * list a peer or a one-shot command is given (`--tracker A,B`), and, for the
 * one-shot commands (`get`, `cat`), a connection to the first of them that
 * answers. A running peer moves between them in `tracker_link.ts`.
 *
 * @module
 */

import { classify, TrackersUnreachableError, type TrackerTry, TrackerUnreachableError } from "../io/errors.ts";
import { TrackerClient, type TrackerClientOptions } from "./tracker_client.ts";

/** One tracker, `HOST:PORT`, or several, in the order they are tried. */
export type TrackerAddresses = string | readonly string[];

/** A tracker that did not answer, why, and the one tried next. */
export interface SkippedTracker {
  /** The tracker that did not answer, `HOST:PORT`. */
  tracker: string;
  /** Why, in a few words: `connection refused`, `no answer within 10 s`. */
  message: string;
  /** The tracker tried next, `HOST:PORT`. */
  next: string;
}

/** Options of {@link connectTracker}. */
export interface ConnectTrackerOptions extends TrackerClientOptions {
  /** Told each tracker that did not answer when another is left to try. Default: nobody. */
  onSkipped?: (skipped: SkippedTracker) => void;
}

/** `addresses` as a list, in order; throws a `RangeError` for an empty one. */
export function trackerList(addresses: TrackerAddresses): string[] {
  const list = typeof addresses === "string" ? [addresses] : [...addresses];
  if (list.length === 0) throw new RangeError("no tracker given: name at least one, HOST:PORT");
  return list;
}

/**
 * Connects to the first tracker of `addresses` that answers, trying them in
 * order. One tracker fails as {@link TrackerClient.connect} does; of
 * several, a tracker that cannot be reached is skipped (told to
 * `options.onSkipped`), and when none can be, this throws a
 * {@link TrackersUnreachableError} naming each with its code and why. A
 * tracker that refuses our secret, or a peer given as a tracker, is this
 * run's own mistake: thrown at once, naming it, without trying the rest.
 *
 * @example
 * ```ts
 * await using tracker = await connectTracker(["127.0.0.1:4444", "127.0.0.1:4445"], {
 *   onSkipped: (s) => console.error(`cannot reach the tracker at ${s.tracker} (${s.message}); trying ${s.next}`),
 * });
 * const { lookups } = await tracker.send(["hello.txt"]);
 * ```
 */
export async function connectTracker(
  addresses: TrackerAddresses,
  options: ConnectTrackerOptions = {},
): Promise<TrackerClient> {
  const list = trackerList(addresses);
  const { onSkipped, ...connect } = options;
  if (list.length === 1) return await TrackerClient.connect(list[0], connect);
  const tried: TrackerTry[] = [];
  const errors: unknown[] = [];
  for (const [i, address] of list.entries()) {
    try {
      return await TrackerClient.connect(address, connect);
    } catch (error) {
      if (!(error instanceof TrackerUnreachableError)) throw error;
      tried.push({ address, code: classify(error.cause).code, reason: error.reason });
      errors.push(error);
      if (i + 1 < list.length) onSkipped?.({ tracker: address, message: error.reason, next: list[i + 1] });
    }
  }
  throw new TrackersUnreachableError(tried, { cause: new AggregateError(errors) });
}
