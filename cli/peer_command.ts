/**
 * `deno task peer`: shares a folder, serves it, and takes commands at a
 * prompt (or on standard input) until `QUIT`, SIGINT or SIGTERM.
 *
 * @module
 */

import { formatAddress } from "../protocol.ts";
import { Peer } from "../peer.ts";
import { Exit, type Flags } from "./flags.ts";
import { hashingReporter } from "./printers.ts";
import { Prompt } from "./prompt.ts";
import { secretOf, untilSignal } from "./process.ts";
import { ProgressDisplay, screenOf } from "./progress.ts";
import { formatPeerEvent } from "./report.ts";

/** Runs the peer role with `flags`; resolves with the exit code once it has stopped. */
export async function runPeer(flags: Flags): Promise<number> {
  const secret = await secretOf(flags.secret);
  using out = new ProgressDisplay(screenOf(Deno.stdout));
  const hashing = hashingReporter(out);
  const stop = untilSignal();
  const starting = Peer.start({
    secret,
    tracker: flags.tracker,
    hostname: flags.host,
    port: flags.port,
    dir: flags.dir,
    out: flags.out,
    infoPath: flags.info ?? "info.txt",
    timeoutMs: flags.timeoutMs,
    sources: flags.sources,
    maxUploadRate: flags.maxUploadRate,
    maxUploads: flags.maxUploads,
    maxConnections: flags.maxConnections,
    maxPerAddress: flags.maxPerAddress,
    maxDownloadRate: flags.maxDownloadRate,
    watch: flags.watch,
    hashCache: true,
    onEvent: (e) => e.type === "hashing" ? hashing(e) : out.log(formatPeerEvent(e)),
    onError: (e) => console.error("error:", e),
    onListening: (addr) => out.log(`listening on ${formatAddress(addr.hostname, addr.port)}`),
  });
  const peer = await Promise.race([starting, stop.promise.then(() => null)]);
  if (peer === null) return Exit.OK;
  out.log(`shared ${peer.folder.entries().length} files from ${peer.folder.path}`);
  if (secret) out.log("dealing only with parties that know the secret; traffic encrypted");
  if (flags.watch) out.log("watching the folder: files added, changed or removed are announced");
  for (const skipped of peer.folder.skipped) out.log(`not shared: ${skipped}`);
  const prompt = new Prompt(peer, { flags, out });
  const quit = await Promise.race([prompt.run(), stop.promise.then(() => true)]);
  if (!quit) await stop.promise;
  try {
    // Still listening while it closes: a second signal exits at once instead of waiting for uploads.
    await peer.close();
  } finally {
    stop.cancel();
  }
  return Exit.OK;
}
