/**
 * The roles, in the test's own process, on 127.0.0.1 and free ports, each
 * with an {@link EventLog} of what it reports and an `await using` handle;
 * and what a peer's events say it announced.
 *
 * The tracker suite's trackers ({@link suiteTracker}) keep their index in
 * the store that `P2P_TEST_STORE` names: memory by default, or a Redis
 * store when it is a `redis://` (or `redis-cluster://`) URL, so that the
 * same tests are the specification of both stores (`tests/run_on_redis.ts`
 * runs them so).
 *
 * @module
 */

import { formatAddress } from "../../protocol.ts";
import { Peer, type PeerEvent, type PeerOptions } from "../../peer.ts";
import {
  startTracker,
  startTrackerWithHttp,
  type Tracker,
  type TrackerEvent,
  type TrackerOptions,
} from "../../tracker.ts";
import { EventLog } from "./events.ts";
import { ioredisLoadable } from "./redis.ts";
import { tempDir, writeFiles } from "./temp.ts";

/** A tracker of the test, with its address and its events. */
export type TestTracker = Tracker & {
  /** `127.0.0.1:<port>`. */
  address: string;
  /** Everything it reported. */
  events: EventLog<TrackerEvent>;
};

/**
 * A tracker on 127.0.0.1, any free port, with `options`, its index in
 * memory, started at once (`startTracker`); its events are kept in
 * `events`. Tests of the tracker's protocol use {@link suiteTracker}.
 */
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

/** The environment variable naming the tracker suite's store. */
export const TEST_STORE_VARIABLE = "P2P_TEST_STORE";

let suiteStoreUrl: string | undefined | null = null;

/**
 * The Redis store the tracker suite runs on: `P2P_TEST_STORE` when it is a
 * `redis://` or `redis-cluster://` URL; undefined (memory) when it is
 * unset, empty or `memory`, or when the test may not read it (no
 * `--allow-env=P2P_TEST_STORE`). Throws a `TypeError` for anything else,
 * rather than run on memory when Redis was meant.
 */
export function suiteStore(): string | undefined {
  if (suiteStoreUrl !== null) return suiteStoreUrl;
  let value: string | undefined;
  try {
    value = Deno.env.get(TEST_STORE_VARIABLE);
  } catch (error) {
    if (!(error instanceof Deno.errors.NotCapable)) throw error;
  }
  if (value === undefined || value === "" || value === "memory") return suiteStoreUrl = undefined;
  if (!/^redis(-cluster)?:\/\//.test(value)) {
    throw new TypeError(
      `Cannot run the tracker suite on ${TEST_STORE_VARIABLE}=${JSON.stringify(value)}: ` +
        "it must be memory, redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT[,HOST:PORT...]",
    );
  }
  if (!ioredisLoadable()) {
    throw new Error(
      `Cannot run the tracker suite on ${value}: loading npm:ioredis needs --ignore-env=DEBUG (or --allow-env)`,
    );
  }
  return suiteStoreUrl = value;
}

/** This module's instance: test files run side by side (`--parallel`) share the process id, not this. */
const SUITE_RUN = crypto.randomUUID().slice(0, 8);
/** Key prefixes this module's instance has given. */
let suitePrefixes = 0;

/**
 * The options that put a tracker on the suite's store: none for memory;
 * for Redis, `store` and a key prefix of its own, so that trackers of
 * tests running side by side share nothing.
 */
export function suiteStoreOptions(): Pick<TrackerOptions, "store" | "storePrefix"> {
  const store = suiteStore();
  return store === undefined ? {} : { store, storePrefix: `suite-${Deno.pid}-${SUITE_RUN}-${++suitePrefixes}:` };
}

/**
 * A test of the tracker suite that cannot mean anything on a Redis store:
 * its `name` and `ignore` for `Deno.test`, skipped, saying `why` in its
 * name, when the suite runs on Redis.
 */
export function memoryOnly(name: string, why: string): { name: string; ignore: boolean } {
  const ignore = suiteStore() !== undefined;
  return { name: ignore ? `${name} (skipped on Redis: ${why})` : name, ignore };
}

/**
 * A tracker of the tracker suite: as {@link testTracker}, on the store
 * `P2P_TEST_STORE` names ({@link suiteStore}). On memory without
 * `options.httpPort` it is {@link testTracker}'s tracker exactly; on Redis,
 * or with an HTTP face, it is started by `startTrackerWithHttp` with a key
 * prefix of its own. `options.store` overrides the suite's store.
 *
 * @example
 * ```ts ignore
 * await using tracker = await suiteTracker({ demoteAfter: 1 });
 * using c = await LineClient.connect(tracker.addr.port);
 * ```
 */
export async function suiteTracker(options: Partial<TrackerOptions> = {}): Promise<TestTracker> {
  const store = suiteStoreOptions();
  if (store.store === undefined && options.store === undefined && options.httpPort === undefined) {
    return testTracker(options);
  }
  const events = new EventLog<TrackerEvent>();
  const tracker = await startTrackerWithHttp({
    hostname: "127.0.0.1",
    port: 0,
    ...store,
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
