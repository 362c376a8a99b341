/**
 * The roles, in the test's own process, on 127.0.0.1 and free ports, each
 * with an {@link EventLog} of what it reports and an `await using` handle;
 * and what a peer's events say it announced.
 *
 * @module
 */

import { formatAddress } from "../../protocol.ts";
import { Peer, type PeerEvent, type PeerOptions } from "../../peer.ts";
import { startTracker, type Tracker, type TrackerEvent, type TrackerOptions } from "../../tracker.ts";
import { EventLog } from "./events.ts";
import { tempDir, writeFiles } from "./temp.ts";

/** A tracker of the test, with its address and its events. */
export type TestTracker = Tracker & {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** Everything it reported. */
  events: EventLog<TrackerEvent>;
};

/** A tracker on 127.0.0.1, any free port, with `options`; its events are kept in `events`. */
export function testTracker(options: Partial<TrackerOptions> = {}): TestTracker {
  const events = new EventLog<TrackerEvent>();
  const tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    ...options,
    onEvent: (event) => {
      events.push(event);
      options.onEvent?.(event);
    },
  });
  return Object.assign(tracker, { address: formatAddress(tracker.addr.hostname, tracker.addr.port), events });
}

/** A peer of the test, with its folder, its address and its events. */
export type TestPeer = Peer & {
  /** Its shared folder (removed on dispose). */
  dir: string;
  /** `127.0.0.1:<port>`, as the tracker lists it. */
  address: string;
  /** Everything it reported. */
  events: EventLog<PeerEvent>;
};

/**
 * A peer of the tracker at `tracker`, serving a fresh temporary folder
 * holding `files` (or `options.dir`, which is then not removed), with
 * `options`; dispose closes it and removes its folder.
 */
export async function testPeer(
  tracker: string,
  files: Record<string, string | Uint8Array> = {},
  options: Partial<PeerOptions> = {},
): Promise<TestPeer> {
  const temp = options.dir === undefined ? await tempDir() : undefined;
  const dir = options.dir ?? temp!.path;
  await writeFiles(dir, files);
  const events = new EventLog<PeerEvent>();
  let peer: Peer;
  try {
    peer = await Peer.start({
      tracker,
      hostname: "127.0.0.1",
      port: 0,
      ...options,
      dir,
      onEvent: (event) => {
        events.push(event);
        options.onEvent?.(event);
      },
    });
  } catch (error) {
    await temp?.[Symbol.asyncDispose]();
    throw error;
  }
  const close = peer.close.bind(peer);
  return Object.assign(peer, {
    dir,
    address: formatAddress(peer.addr.hostname, peer.addr.port),
    events,
    [Symbol.asyncDispose]: async () => {
      await close();
      await temp?.[Symbol.asyncDispose]();
    },
  });
}

/** Whether a `folder-changed` event of `peer` so far announced `name` (with SHA-256 `sha`, if given). */
export function announcedChange(peer: TestPeer, name: string, sha?: string): boolean {
  return peer.events.of("folder-changed").some((c) =>
    c.changed.some((e) => e.name === name && (sha === undefined || e.sha256 === sha))
  );
}
