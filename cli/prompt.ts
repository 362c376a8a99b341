/**
 * The peer's prompt: reads commands and runs them, in one of two ways.
 *
 * **At a terminal** (standard input and output both terminals) the line is
 * edited in raw mode by {@link LineEditor} and drawn as the last line of
 * the {@link ProgressDisplay}, under the live progress lines; every other
 * line is printed above both, and the typed text is drawn again after it,
 * the cursor where it was. Raw rather than cbreak mode, so that Ctrl-C
 * comes as a key and can mean "cancel" rather than a signal that stops the
 * peer (Deno's raw mode keeps output processing: a line feed still starts
 * a new line). Commands run concurrently: a `SEND` that downloads or waits
 * never holds up `PEERS`, `LIST`, `STATS`, `HELP` or another `SEND`. Each
 * entered line is printed above, as typed, before its answer.
 *
 * Ctrl-C at the terminal cancels every running download and wait (what
 * arrived of a big file is kept for the next try) and says which; with
 * nothing running it clears a typed line; on an empty line with nothing
 * running it stops the peer. `QUIT`, `EXIT` and Ctrl-D on an empty line
 * stop it, cancelling what runs and saying so. SIGINT and SIGTERM (sent
 * with `kill`) stop it too. The terminal's mode is given back on every way
 * out, `Deno.exit` included.
 *
 * **Otherwise** (commands piped in, `printf 'SEND a\nQUIT\n' | peer`)
 * lines are read one by one and each command runs to its end before the
 * next is read, so that a script means what it says (`QUIT` after a
 * `SEND` quits once the files are in); no prompt is drawn, and SIGINT
 * stops the peer.
 *
 * `LIST`, `PEERS` and `STATS` answer in words ({@link formatFileList})
 * when standard output is a terminal; when it is not (a script reads it),
 * with the tracker's own lines as they came (docs/PROTOCOL.md describes
 * them); with `--json`, one JSON object per answer on one line:
 * `{"files":[{"name","size","sha256","holders"}],"total","page","nextPage"?}`,
 * `{"peers":[{"address","files"}],"total","page","nextPage"?}` or
 * `{"stats":{…}}` with the fields of `TrackerStats`.
 *
 * @module
 */

import {
  formatCommand,
  formatPageRequest,
  parseListReply,
  parsePaging,
  parsePeersReply,
  parseStatsReply,
  ProtocolError,
  splitCommand,
} from "../protocol.ts";
import { BufferedReader } from "../io/reader.ts";
import { errorMessage } from "../io/errors.ts";
import type { Peer, Reply } from "../peer.ts";
import type { Flags } from "./flags.ts";
import { BRACKETED_PASTE_OFF, BRACKETED_PASTE_ON, KeyDecoder } from "./keys.ts";
import { cleanLeftovers, leftoverLines } from "./leftovers.ts";
import { LineEditor } from "./line_editor.ts";
import { formatFileList, formatPeerList, formatStatsLine } from "./listing.ts";
import { outcomePrinter, waitingPrinter } from "./printers.ts";
import type { ProgressDisplay } from "./progress.ts";
import { parseSendArguments, SendSyntaxError, showName } from "./prompt_syntax.ts";
import { PEER_COMMANDS } from "./usage.ts";

/** What is drawn before the typed text. */
export const PROMPT = "> ";

/** The keys of the prompt at a terminal, as `HELP` lists them there. */
export const PROMPT_KEYS = `Keys: Left/Right (Alt: a word), Home/End (Ctrl-A/E), Up/Down for earlier lines,
  Backspace, Delete, Ctrl-U/K erase before/after the cursor, Ctrl-W a word;
  Ctrl-C cancels the running downloads and waits, or clears the line, or on an
  empty line with nothing running stops the peer; Ctrl-D on an empty line: QUIT`;

/** Standard input as the prompt reads it. */
export interface Keyboard {
  /** Reads what was typed into `buffer`: the count, or `null` at the end of input. */
  read(buffer: Uint8Array): Promise<number | null>;
  /** Whether it is a terminal. */
  isTerminal(): boolean;
  /** Raw mode on (each key as it is typed, nothing echoed, pastes marked) or back off. */
  setRaw(raw: boolean): void;
}

/** Standard input, with raw mode and bracketed paste (written to standard output) for a terminal. */
export function stdinKeyboard(): Keyboard {
  return {
    read: (buffer) => Deno.stdin.read(buffer),
    isTerminal: () => Deno.stdin.isTerminal(),
    setRaw: (raw) => {
      Deno.stdin.setRaw(raw);
      Deno.stdout.writeSync(new TextEncoder().encode(raw ? BRACKETED_PASTE_ON : BRACKETED_PASTE_OFF));
    },
  };
}

/** Options of {@link Prompt}. */
export interface PromptOptions {
  /** The peer's flags: `--json` and `--wait-timeout` are used. */
  flags: Pick<Flags, "json" | "waitSeconds">;
  /** Where every line goes (and, at a terminal, the prompt line). */
  out: ProgressDisplay;
  /** Resolves when the peer must stop (a signal): {@link Prompt.run} then ends. Default: never. */
  stopped?: Promise<unknown>;
  /** Where commands come from. Default {@link stdinKeyboard}. */
  keyboard?: Keyboard;
}

/** A `SEND` in flight: its names not settled yet, those waited for, and the signal that cancels it. */
interface RunningSend {
  signal: AbortSignal;
  unsettled: Set<string>;
  waiting: Set<string>;
}

/** What `stopped` resolved with, marked so that a line read at the same time is not taken for it. */
interface Stopped {
  why: string;
}

/** The peer's prompt: reads commands from standard input and runs them. */
export class Prompt {
  #peer: Peer;
  #flags: Pick<Flags, "json" | "waitSeconds">;
  #out: ProgressDisplay;
  #stopped: Promise<Stopped>;
  #keyboard: Keyboard;
  /** Cancels the `SEND`s started since the last Ctrl-C. */
  #cancel = new AbortController();
  #sends = new Set<RunningSend>();
  #tasks = new Set<Promise<void>>();
  /** Resolved as each running `SEND` ends. */
  #sendEnds = new Set<Promise<void>>();

  /** A prompt for `peer`; nothing is read until {@link Prompt.run}. */
  constructor(peer: Peer, options: PromptOptions) {
    this.#peer = peer;
    this.#flags = options.flags;
    this.#out = options.out;
    this.#stopped = (options.stopped ?? new Promise<never>(() => {})).then((why) => ({ why: String(why) }));
    this.#keyboard = options.keyboard ?? stdinKeyboard();
  }

  /**
   * Reads and runs commands until the peer is to stop, and says what
   * stopped it: `QUIT`, `EXIT`, `Ctrl-C`, `Ctrl-D`, `end of input` (of a
   * terminal), or what `stopped` resolved with (a signal's name); `false`
   * at the end of piped input (the peer then goes on serving).
   */
  async run(): Promise<string | false> {
    if (!this.#keyboard.isTerminal() || !this.#out.live) return await this.#lines();
    const why = await this.#interactive();
    // Stopped from the keyboard: the SENDs it cancelled print their lines before the peer says it stops (not the
    // PEERS or LIST still waiting on the tracker, which the stop cuts); a signal meanwhile ends the wait.
    if (["QUIT", "EXIT", "Ctrl-C", "Ctrl-D", "end of input"].includes(why)) {
      await Promise.race([Promise.allSettled([...this.#sendEnds]), this.#stopped]);
    }
    return why;
  }

  /** Commands started at a terminal and still running, for tests: resolves once they have all ended. */
  async settled(): Promise<void> {
    while (this.#tasks.size > 0) await Promise.all(this.#tasks);
  }

  /** Piped input: one line at a time, each command to its end. */
  async #lines(): Promise<string | false> {
    const input = new BufferedReader(this.#keyboard);
    while (true) {
      let line: string | null | Stopped;
      try {
        line = await Promise.race([input.readLine(), this.#stopped]);
      } catch (error) {
        if (!(error instanceof ProtocolError)) throw error;
        this.#out.log(`error: ${error.message}; the line was skipped`);
        continue;
      }
      if (typeof line === "object" && line !== null) return line.why;
      // The end of a terminal's input is Ctrl-D: QUIT; a script's ends, and the peer goes on serving.
      if (line === null) return this.#keyboard.isTerminal() ? "Ctrl-D" : false;
      const quit = this.#quits(line);
      if (quit) return quit;
      if (quit === "") continue; // refused, and said so
      const done = await Promise.race([this.#command(line), this.#stopped]);
      if (done) return done.why;
    }
  }

  /** A terminal: the line editor in raw mode, commands run as they are entered. */
  async #interactive(): Promise<string> {
    const editor = new LineEditor();
    const keys = new KeyDecoder();
    const buffer = new Uint8Array(4096);
    const restore = () => {
      try {
        this.#keyboard.setRaw(false);
      } catch { /* the terminal is gone: nothing to give back */ }
    };
    this.#keyboard.setRaw(true);
    globalThis.addEventListener("unload", restore);
    this.#out.setPrompt((columns) => editor.view(PROMPT, columns));
    try {
      while (true) {
        const read = await Promise.race([this.#keyboard.read(buffer), this.#stopped]);
        if (typeof read === "object" && read !== null) return read.why;
        if (read === null) {
          this.#stopping("end of input");
          return "end of input";
        }
        // Lines printed draw the prompt line again: only an edit after the last of them needs a redraw.
        let edited = false;
        for (const key of keys.feed(buffer.subarray(0, read))) {
          const action = editor.key(key);
          edited = action.type === "edit" || (edited && action.type === "none");
          if (action.type === "submit") {
            this.#out.log(PROMPT + action.line);
            const quit = this.#quits(action.line);
            if (quit) return quit;
            if (quit === undefined) this.#start(action.line);
          } else if (action.type === "interrupt") {
            if (this.#interrupt(action.line)) return "Ctrl-C";
          } else if (action.type === "eof") {
            this.#out.log(`${PROMPT}^D`);
            this.#stopping("Ctrl-D");
            return "Ctrl-D";
          }
        }
        if (edited) this.#out.promptChanged();
      }
    } finally {
      this.#out.setPrompt(undefined);
      restore();
      globalThis.removeEventListener("unload", restore);
    }
  }

  /** Runs `line` in the background; its lines are printed as they come. */
  #start(line: string): void {
    const task = this.#command(line).finally(() => this.#tasks.delete(task));
    this.#tasks.add(task);
  }

  /** Ctrl-C with `typed` on the line: true when it stops the peer. */
  #interrupt(typed: string): boolean {
    this.#out.log(`${PROMPT}${typed}^C`);
    const running = this.#running();
    if (running) {
      this.#cancelRunning();
      this.#out.log(`cancelled ${running}; Ctrl-C again or QUIT stops the peer`);
      return false;
    }
    if (typed !== "") {
      this.#out.log("cleared the line; Ctrl-C again or QUIT stops the peer");
      return false;
    }
    return true;
  }

  /**
   * `QUIT` or `EXIT`: the word, after cancelling what runs (and saying so);
   * `""` when it had more after it, which is refused (and said); undefined
   * for any other command.
   */
  #quits(line: string): string | undefined {
    const { verb, rest } = splitCommand(line);
    if (verb !== "QUIT" && verb !== "EXIT") return undefined;
    if (rest !== "") {
      this.#out.log(`${verb}: unexpected ${JSON.stringify(rest)}; type ${verb} alone to stop the peer`);
      return "";
    }
    this.#stopping(verb);
    return verb;
  }

  /** The peer is to stop because of `why`: the running downloads and waits are cancelled, and told. */
  #stopping(why: string): void {
    const running = this.#running();
    if (!running) return;
    this.#cancelRunning();
    this.#out.log(`${why}: cancelled ${running}`);
  }

  /** The downloads and waits not cancelled yet, in words (`1 download (a.bin) and 1 wait (b.txt)`), or "". */
  #running(): string {
    const downloads: string[] = [];
    const waits: string[] = [];
    for (const send of this.#sends) {
      if (send.signal.aborted) continue;
      for (const name of send.unsettled) (send.waiting.has(name) ? waits : downloads).push(showName(name));
    }
    const part = (names: string[], noun: string) => {
      if (names.length === 0) return [];
      const listed = names.length > 5
        ? `${names.slice(0, 5).join(", ")} and ${names.length - 5} more`
        : names.join(", ");
      return [`${names.length} ${noun}${names.length === 1 ? "" : "s"} (${listed})`];
    };
    return [...part(downloads, "download"), ...part(waits, "wait")].join(" and ");
  }

  #cancelRunning(): void {
    this.#cancel.abort();
    this.#cancel = new AbortController();
  }

  /** Runs one command (not QUIT) to its end; what goes wrong is printed, never thrown. */
  async #command(line: string): Promise<void> {
    const out = this.#out;
    const { verb, rest } = splitCommand(line);
    try {
      switch (verb) {
        case "":
          return;
        case "SEND":
          return await this.#send(rest);
        case "PEERS":
        case "LIST":
          return await this.#page(verb, rest);
        case "STATS":
          nothingAfter(verb, rest);
          return this.#print(verb, await this.#peer.tracker.request(formatCommand("STATS")), "");
        case "PARTS":
          nothingAfter(verb, rest);
          out.log((await leftoverLines(this.#peer.outDir)).join("\n"));
          return;
        case "CLEAN":
          nothingAfter(verb, rest);
          out.log((await cleanLeftovers(this.#peer.outDir)).join("\n"));
          return;
        case "HELP":
          out.log(this.#keyboard.isTerminal() && out.live ? `${PEER_COMMANDS}\n${PROMPT_KEYS}` : PEER_COMMANDS);
          return;
        default:
          out.log(`unknown command ${JSON.stringify(verb)}; try HELP`);
      }
    } catch (error) {
      out.log(
        error instanceof SendSyntaxError || error instanceof UsageLine
          ? error.message
          : `error: ${errorMessage(error)}`,
      );
    }
  }

  /** `SEND [--wait] [--] names`: downloads them, each result printed as it settles. */
  async #send(rest: string): Promise<void> {
    const out = this.#out;
    const args = parseSendArguments(rest);
    const running: RunningSend = { signal: this.#cancel.signal, unsettled: new Set(args.names), waiting: new Set() };
    const waiting = waitingPrinter(this.#flags.waitSeconds, out);
    const settled = outcomePrinter(this.#flags.json, out);
    this.#sends.add(running);
    const ended = Promise.withResolvers<void>();
    this.#sendEnds.add(ended.promise);
    try {
      const report = await this.#peer.send(args.list, {
        waitSeconds: args.wait ? this.#flags.waitSeconds : undefined,
        onWaiting: (names) => {
          for (const name of names) running.waiting.add(name);
          waiting(names);
        },
        board: out,
        onSettled: (outcome) => {
          running.unsettled.delete(outcome.name);
          settled(outcome);
        },
        signal: running.signal,
      });
      if (report.infoError) out.log(`warning: ${report.infoError}`);
      if (report.announced) out.log(`shared the new files: ${report.announced}`);
      if (report.announceError) out.log(`warning: could not announce the new files: ${report.announceError}`);
    } finally {
      this.#sends.delete(running);
      this.#sendEnds.delete(ended.promise);
      ended.resolve();
    }
  }

  /** `LIST [--page N] [text]` or `PEERS [--page N]`: one page. */
  async #page(verb: "LIST" | "PEERS", rest: string): Promise<void> {
    let paging: { page: number; text: string };
    try {
      paging = parsePaging(rest);
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      throw new UsageLine(
        `${verb}: ${error.message}; type ${verb} --page N${verb === "LIST" ? " [text]" : ""}, N from 1`,
      );
    }
    const { page, text } = paging;
    if (verb === "PEERS" && text !== "") {
      throw new UsageLine(`PEERS: unexpected ${JSON.stringify(text)}; type PEERS, or PEERS --page N for page N`);
    }
    this.#print(verb, await this.#peer.tracker.request(formatPageRequest({ verb, page, text })), text);
  }

  /** The tracker's `reply` to `verb`: in words at a terminal, as it came for a script, or as JSON. */
  #print(verb: "LIST" | "PEERS" | "STATS", reply: Reply, text: string): void {
    if (!this.#flags.json && !this.#out.live) {
      this.#out.log(reply.text.replace(/\n$/, ""));
      return;
    }
    const json = this.#flags.json;
    if (verb === "STATS") {
      const stats = parseStatsReply(reply.lines);
      this.#out.log(json ? JSON.stringify({ stats }) : formatStatsLine(stats));
    } else if (verb === "LIST") {
      const list = parseListReply(reply.lines);
      this.#out.log(json ? JSON.stringify(list) : formatFileList(list, text).join("\n"));
    } else {
      const peers = parsePeersReply(reply.lines);
      this.#out.log(json ? JSON.stringify(peers) : formatPeerList(peers).join("\n"));
    }
  }
}

/** A command typed wrongly: its message says what to type instead, and is printed as it is. */
class UsageLine extends Error {}

/** Refuses words after a command that takes none: nothing typed is silently dropped. */
function nothingAfter(verb: string, rest: string): void {
  if (rest !== "") throw new UsageLine(`${verb}: unexpected ${JSON.stringify(rest)}; ${verb} takes nothing after it`);
}
