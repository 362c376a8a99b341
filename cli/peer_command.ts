/**
 * `deno task peer`: shares a folder (creating it if it does not exist),
 * serves it, says who can reach it, and takes commands at a prompt (or on
 * standard input) until `QUIT`, SIGINT or SIGTERM; then says what stopping
 * waits for, and when it has stopped.
 *
 * @module
 */

import { dirname } from "node:path";
import { formatAddress, Timeouts } from "../protocol.ts";
import { errorMessage, LocalError, localError } from "../io/errors.ts";
import { Peer, type Sending } from "../peer.ts";
import { Exit, type Flags } from "./flags.ts";
import { hashingReporter } from "./printers.ts";
import { Prompt } from "./prompt.ts";
import { type RoleTls, secretOf, untilSignal } from "./process.ts";
import { bearerLine, httpBearerOf, httpLine } from "./http_access.ts";
import { ProgressDisplay, screenOf } from "./progress.ts";
import { formatPeerEvent, tlsServerLine } from "./report.ts";

/**
 * Runs the peer role with `flags` (and `tls`, read from the files its
 * flags name); resolves with the exit code once it has stopped.
 */
export async function runPeer(flags: Flags, tls: RoleTls = {}): Promise<number> {
  const secret = await secretOf(flags.secret);
  const httpBearer = await httpBearerOf(flags);
  using out = new ProgressDisplay(screenOf(Deno.stdout));
  const hashing = hashingReporter(out);
  const stop = untilSignal();
  let signalled: string | undefined;
  stop.promise.then((signal) => signalled = signal);
  const made = await createFolder(flags.dir);
  const starting = Peer.start({
    secret,
    tls: tls.server,
    tlsCa: tls.client,
    tracker: flags.trackers,
    hostname: flags.host,
    port: flags.port,
    httpPort: flags.httpPort,
    httpBearer,
    dir: flags.dir,
    out: flags.out,
    infoPath: flags.info,
    timeoutMs: flags.timeoutMs,
    sources: flags.sources,
    maxUploadRate: flags.maxUploadRate,
    maxUploads: flags.maxUploads,
    maxConnections: flags.maxConnections,
    maxPerAddress: flags.maxPerAddress,
    maxDownloadRate: flags.maxDownloadRate,
    watch: flags.watch,
    servePartial: flags.servePartial,
    hashCache: true,
    onEvent: (e) => e.type === "hashing" ? hashing(e) : out.log(formatPeerEvent(e)),
    // Through the display, so that it lands above the live lines and the prompt line (which it draws again).
    onError: (e) => out.log(`error: ${errorMessage(e)}`),
    onListening: (addr, folder, http) => {
      out.log(`listening on ${formatAddress(addr.hostname, addr.port)}`);
      if (tls.server) out.log(tlsServerLine(tls.server, tls.client));
      if (http) out.log(httpLine(http, flags));
      if (http && httpBearer) out.log(bearerLine(httpBearer));
      if (made.length > 0) out.log(`created the shared folder ${folder.path} (empty)`);
      out.log(exposure(addr, folder.path, { secret: secret !== undefined, httpPort: http?.port }));
    },
  });
  // A folder made for a peer that then could not start (its port taken, say) is not left behind, if still empty.
  const started = starting.catch(async (error) => {
    await removeMade(made, out);
    throw error;
  });
  const peer = await Promise.race([started, stop.promise.then(() => null)]);
  if (peer === null) {
    out.log(`${signalled}: stopping before the peer had started`);
    out.log("stopped");
    return Exit.OK;
  }
  const count = peer.folder.entries().length;
  out.log(`shared ${count} ${count === 1 ? "file" : "files"} from ${peer.folder.path}`);
  if (secret) {
    out.log(`dealing only with parties that know the secret; traffic encrypted${tls.server ? " by TLS" : ""}`);
  }
  if (flags.watch) out.log("watching the folder: files added, changed or removed are announced");
  for (const skipped of peer.folder.skipped) out.log(`not shared: ${skipped}`);
  const prompt = new Prompt(peer, { flags, out, stopped: stop.promise });
  // What ended the prompt (QUIT, Ctrl-C, Ctrl-D, a signal); false at the end of piped input: serve until a signal.
  const quit = await prompt.run();
  if (quit) {
    signalled ??= quit; // the stopping line names it
    stop.stopping(); // from now on a signal stops at once
  }
  if (!quit) await stop.promise;
  out.log(stopping(signalled ?? "QUIT", peer.sending()));
  try {
    // Still listening while it closes: a second signal exits at once instead of waiting for uploads.
    await peer.close();
  } finally {
    stop.cancel();
  }
  out.log("stopped");
  return Exit.OK;
}

/**
 * Creates the shared folder `dir` when nothing is there (it is then an
 * empty shared folder and where downloads land); true if it did. Anything
 * already there is left to `Peer.start`, which says when it is not a folder.
 */
async function createFolder(dir: string): Promise<string[]> {
  try {
    await Deno.lstat(dir);
    return [];
  } catch (error) {
    // Not there, or a part of the path is a file (creating it says so); anything else, Peer.start says.
    if (!(error instanceof Deno.errors.NotFound || error instanceof Deno.errors.NotADirectory)) return [];
  }
  // The folders it makes, the deepest first: what to remove again if the peer does not start.
  const made: string[] = [];
  for (let path = dir; path !== dirname(path); path = dirname(path)) {
    if (await Deno.lstat(path).then(() => true, () => false)) break;
    made.push(path);
  }
  try {
    await Deno.mkdir(dir, { recursive: true });
    return made;
  } catch (error) {
    const what = `cannot create the shared folder ${dir}`;
    const told = localError(what, error, { flag: "--dir" });
    // A part of the path that is a file, say: no hint of localError's fits, the flag still does.
    if (told.message.includes("--dir")) throw told;
    throw new LocalError(`${what}: ${errorMessage(error)}; choose another --dir`, { cause: error });
  }
}

/** Removes the folders `createFolder` made (the deepest first), each only if still empty; says so. */
async function removeMade(made: string[], out: ProgressDisplay): Promise<void> {
  for (const path of made) {
    try {
      await Deno.remove(path);
    } catch {
      return; // not empty (someone wrote into it), or gone: left as it is
    }
  }
  if (made.length > 0) out.log(`removed the shared folder ${made[0]} again, as the peer did not start`);
}

/**
 * Who can download what this peer shares, said once as it starts listening:
 * the whole network by default (`0.0.0.0`), one address, or only this
 * machine; with a secret, only parties that know it.
 */
function exposure(addr: Deno.NetAddr, path: string, options: { secret: boolean; httpPort?: number }): string {
  const { secret, httpPort } = options;
  const what = `the files in ${path}${httpPort === undefined ? "" : ", with any HTTP client too"}`;
  const loopback = /^127\./.test(addr.hostname) || addr.hostname === "::1";
  if (loopback) return `only this machine can download ${what}${secret ? ", and only with the secret" : ""}`;
  const anyAddress = addr.hostname === "0.0.0.0" || addr.hostname === "::";
  const ports = httpPort === undefined ? `port ${addr.port}` : `ports ${addr.port} and ${httpPort} (HTTP)`;
  const who = anyAddress
    ? `anyone who can reach this machine on ${ports}`
    : `anyone who can reach ${addr.hostname} on ${ports}`;
  if (secret) return `${who} and knows the secret can download ${what}`;
  return `${who} can download ${what}; --host 127.0.0.1 keeps them to this machine`;
}

/**
 * `SIGTERM: stopping; 1 upload under way gets up to 10 s to finish what it
 * is sending (big.bin to 127.0.0.1:50123); SIGINT or SIGTERM again stops at
 * once`, or `SIGTERM: stopping; no upload under way`.
 */
function stopping(why: string, sending: Sending[]): string {
  // After a signal, the next one is a second; after QUIT or a key, it is the first.
  const again = /^SIG/.test(why) ? "SIGINT or SIGTERM again" : "SIGINT or SIGTERM";
  if (sending.length === 0) return `${why}: stopping; no upload under way`;
  const shown = sending.slice(0, 3).map((u) => `${u.name} to ${u.to}`);
  if (sending.length > 3) shown.push(`${sending.length - 3} more`);
  const [uploads, get, they] = sending.length === 1
    ? ["1 upload under way", "gets", "it is"]
    : [`${sending.length} uploads under way`, "get", "they are"];
  const grace = `up to ${Timeouts.SHUTDOWN_GRACE_MS / 1000} s to finish what ${they} sending`;
  return `${why}: stopping; ${uploads} ${get} ${grace} (${shown.join(", ")}); ${again} stops at once`;
}
