/**
 * The peer's prompt: reads commands from standard input and runs them.
 *
 * @module
 */

import { ProtocolError, splitCommand } from "../protocol.ts";
import { BufferedReader } from "../io/reader.ts";
import { errorMessage } from "../io/errors.ts";
import type { Peer } from "../peer.ts";
import type { Flags } from "./flags.ts";
import { outcomePrinter, waitingPrinter } from "./printers.ts";
import type { ProgressDisplay } from "./progress.ts";
import { PEER_COMMANDS } from "./usage.ts";

/** The peer's prompt: reads commands from standard input and runs them. */
export class Prompt {
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
