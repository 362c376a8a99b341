/**
 * `deno task peer`: shares a folder, serves it, and takes commands at a
 * prompt (or on standard input) until `QUIT`, SIGINT or SIGTERM.
 *
 * @module
 */

import { formatAddress, ProtocolError, splitCommand } from "../protocol.ts";
import { BufferedReader } from "../io/reader.ts";
import { errorMessage } from "../io/errors.ts";
import { Peer } from "../peer.ts";
import { Exit, type Flags } from "./flags.ts";
import { hashingReporter, outcomePrinter, waitingPrinter } from "./printers.ts";
import { secretOf, untilSignal } from "./process.ts";
import { ProgressDisplay, screenOf } from "./progress.ts";
import { formatPeerEvent } from "./report.ts";
import { PEER_COMMANDS } from "./usage.ts";

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

/** The peer's prompt: reads commands from standard input and runs them. */
class Prompt {
  #peer: Peer;
  #flags: Flags;
  #out: ProgressDisplay;

  constructor(peer: Peer, options: { flags: Flags; out: ProgressDisplay }) {
    this.#peer = peer;
    this.#flags = options.flags;
    this.#out = options.out;
  }

  /** Reads and runs commands; true on `QUIT` (or end of input at a terminal), false at end of piped input. */
  async run(): Promise<boolean> {
    const interactive = Deno.stdin.isTerminal();
    const input = new BufferedReader(Deno.stdin);
    while (true) {
      if (interactive) await Deno.stdout.write(new TextEncoder().encode("> "));
      let line: string | null;
      try {
        line = await input.readLine();
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#out.log(`error: ${error.message}`);
        continue;
      }
      if (line === null) return interactive;
      if (await this.#command(line)) return true;
    }
  }

  /** Runs one command; true when it was QUIT. */
  async #command(line: string): Promise<boolean> {
    const out = this.#out;
    const { verb, rest } = splitCommand(line);
    try {
      switch (verb) {
        case "":
          return false;
        case "SEND":
          await this.#send(rest);
          return false;
        case "PEERS":
        case "LIST":
        case "STATS":
          out.log((await this.#peer.tracker.raw(line.trim())).replace(/\n$/, ""));
          return false;
        case "HELP":
          out.log(PEER_COMMANDS);
          return false;
        case "QUIT":
        case "EXIT":
          return true;
        default:
          out.log(`unknown command ${JSON.stringify(verb)}; try HELP`);
          return false;
      }
    } catch (error) {
      out.log(`error: ${errorMessage(error)}`);
      return false;
    }
  }

  /** `SEND [--wait] names`: downloads them, each result printed as it settles. */
  async #send(rest: string): Promise<void> {
    const out = this.#out;
    const wait = /^--wait(?:\s+|$)/.exec(rest);
    const report = await this.#peer.send(wait ? rest.slice(wait[0].length) : rest, {
      waitSeconds: wait ? this.#flags.waitSeconds : undefined,
      onWaiting: waitingPrinter(this.#flags.waitSeconds, out),
      board: out,
      onSettled: outcomePrinter(this.#flags.json, out),
    });
    if (report.infoError) out.log(`warning: ${report.infoError}`);
    if (report.announced) out.log(`shared the new files: ${report.announced}`);
    if (report.announceError) out.log(`warning: could not announce the new files: ${report.announceError}`);
  }
}
