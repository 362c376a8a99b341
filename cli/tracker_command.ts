/**
 * `deno task tracker`: runs a tracker until SIGINT or SIGTERM, printing one
 * line per event; then what it closes, and when it has stopped.
 *
 * @module
 */

import { formatAddress } from "../protocol.ts";
import { startTrackerWithHttp, type TrackerStore } from "../tracker.ts";
import { Exit, type Flags } from "./flags.ts";
import { type RoleTls, secretOf, untilSignal } from "./process.ts";
import { bearerLine, httpBearerOf, httpLine } from "./http_access.ts";
import { plural } from "../io/words.ts";
import { formatServerError, formatTrackerEvent, tlsServerLine } from "./report.ts";

/**
 * Runs the tracker role with `flags` (and `tls`, read from the files its
 * flags name); resolves with the exit code once it has stopped.
 */
export async function runTracker(flags: Flags, tls: RoleTls = {}): Promise<number> {
  const secret = await secretOf(flags.secret);
  const httpBearer = await httpBearerOf(flags);
  const tracker = await startTrackerWithHttp({
    secret,
    tls: tls.server,
    hostname: flags.host,
    port: flags.port,
    httpPort: flags.httpPort,
    httpBearer,
    demoteAfter: flags.demoteAfter,
    idleTimeoutMs: flags.idleTimeoutMs,
    maxConnections: flags.maxConnections,
    maxPerAddress: flags.maxPerAddress,
    statsIntervalMs: flags.statsEveryMs,
    store: flags.store,
    leaseSeconds: flags.leaseSeconds,
    onEvent: (e) => console.log(formatTrackerEvent(e)),
    onError: (e) => console.error(formatServerError(e)),
  });
  console.log(`listening on ${formatAddress(tracker.addr.hostname, tracker.addr.port)}`);
  if (tls.server) console.log(tlsServerLine(tls.server));
  if (tracker.http) console.log(httpLine(tracker.http, flags));
  if (httpBearer) console.log(bearerLine(httpBearer));
  console.log(storeLine(tracker.store, flags.leaseSeconds));
  if (secret) {
    console.log(`admitting only parties that know the secret; traffic encrypted${tls.server ? " by TLS" : ""}`);
  }
  const signal = await untilSignal().promise;
  const { sessions, peers } = await tracker.stats().catch(() => ({ sessions: 0, peers: 0 }));
  const closing = sessions === 0
    ? "no session open"
    : `closing ${plural(sessions, "session")} (${plural(peers, "peer")} sharing files)`;
  console.log(`${signal}: stopping; ${closing}`);
  await tracker.close();
  console.log("stopped");
  return Exit.OK;
}

/** The startup line naming the store. */
function storeLine(store: TrackerStore, leaseSeconds: number): string {
  if (store.description === "memory") {
    return "index: kept in this process's memory; --store redis://HOST:PORT would share it among trackers";
  }
  return `index: shared in ${store.description} as tracker ${store.idBase / 2 ** 32}; ` +
    `if this tracker dies, its peers' entries stay offered at most ${leaseSeconds} s (--lease)`;
}
