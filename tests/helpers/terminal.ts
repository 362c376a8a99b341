/**
 * `main.ts` on a pseudo-terminal (util-linux `script`), typed at, and what
 * a terminal shows after a run's output, for the tests of live progress
 * lines and of the peer's prompt.
 *
 * @module
 */

import { Changes, within } from "./events.ts";
import { MAIN_PATH } from "./cli.ts";
import { BRACKETED_PASTE_ON } from "../../cli/keys.ts";

/** `script` from util-linux, if it is there and can open a pseudo-terminal here; else the terminal tests are skipped. */
export const SCRIPT: string | undefined = ["/usr/bin/script", "/bin/script"].find((path) => {
  try {
    const probe = new Deno.Command(path, {
      args: ["-qec", "true", "/dev/null"],
      stdin: "null",
      stdout: "null",
      stderr: "null",
    });
    return probe.outputSync().success;
  } catch {
    return false;
  }
});

/** Quotes `text` for a POSIX shell. */
function shellQuote(text: string): string {
  return `'${text.replaceAll("'", `'\\''`)}'`;
}

/**
 * `main.ts` run on a pseudo-terminal 100 columns wide: what it writes to the
 * terminal (both streams, unless `stdoutTo` sends standard output to a file)
 * is collected as the terminal got it, and {@link PtyRun.type} types at it.
 * Its input stays open until the run is disposed of: `script` turns the end
 * of its input into a Ctrl-D for the program.
 */
export class PtyRun implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #input: WritableStreamDefaultWriter<Uint8Array>;
  #text = "";
  #ended = false;
  #changes = new Changes();
  #pump: Promise<void>;
  #status: Promise<Deno.CommandStatus>;

  /**
   * Starts `main.ts <args>` on a new pseudo-terminal; its standard output
   * goes to the file `stdoutTo`, if given; it runs in the folder `cwd`, if
   * given (else the test's own).
   */
  constructor(args: string[], stdoutTo?: string, options: { cwd?: string } = {}) {
    const deno = [Deno.execPath(), "run", "--allow-net", "--allow-read", "--allow-write", MAIN_PATH, ...args];
    const command = `stty cols 100 rows 50; exec ${deno.map(shellQuote).join(" ")}` +
      (stdoutTo ? ` > ${shellQuote(stdoutTo)}` : "");
    const child = new Deno.Command(SCRIPT!, {
      args: ["-qfec", command, "/dev/null"],
      env: { NO_COLOR: "1", SHELL: "/bin/sh" },
      stdin: "piped",
      stdout: "piped",
      stderr: "null",
      cwd: options.cwd,
    }).spawn();
    this.#child = child;
    this.#input = child.stdin.getWriter();
    const decoder = new TextDecoder();
    this.#pump = (async () => {
      for await (const chunk of child.stdout) {
        this.#text += decoder.decode(chunk, { stream: true });
        this.#changes.changed();
      }
      this.#ended = true;
      this.#changes.changed();
    })();
    this.#status = child.status;
  }

  /** Everything the terminal got so far, as text (escape sequences and all). */
  get text(): string {
    return this.#text;
  }

  /** Waits until `pattern` matches the output from `since` on; returns where the match ends. */
  waitFor(pattern: RegExp, since = 0): Promise<number> {
    const seen = (why: string) => `no ${pattern} on the terminal${why}:\n${JSON.stringify(this.#text)}`;
    return this.#changes.until(() => {
      const match = pattern.exec(this.#text.slice(since));
      if (match) return since + match.index + match[0].length;
      if (this.#ended) throw new Error(seen(" before it closed"));
    }, { failure: () => seen("") });
  }

  /** Types `keys` (text, `\r` for Enter, `\x03` for Ctrl-C, escape sequences) at the terminal. */
  async type(keys: string): Promise<void> {
    await this.#input.write(new TextEncoder().encode(keys));
  }

  /** What the terminal shows now (see {@link screenAfter}). */
  screen(): string[] {
    return screenAfter(this.#text);
  }

  /** Waits for the exit; returns the exit code of `main.ts`. */
  async exited(): Promise<number> {
    const status = await within("the exit of main.ts on the terminal", this.#status);
    await this.#pump;
    return status.code;
  }

  /** Kills the run if it is still going, and waits until its output has ended. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      this.#child.kill("SIGKILL");
    } catch { /* already exited */ }
    await this.#status;
    await this.#pump.catch(() => {});
    await this.#input.close().catch(() => {});
  }
}

/**
 * The lines a terminal shows after `output`: text, CR, LF, `ESC[nF`,
 * `ESC[J`, `ESC[nG` and `ESC[nK`; private modes (`ESC[?2004h`, bracketed
 * paste) change nothing shown and are skipped.
 */
export function screenAfter(output: string): string[] {
  return screenState(output).lines;
}

/** What a terminal shows after `output`, and where its cursor is (row and column, from 0). */
export function screenState(output: string): { lines: string[]; row: number; col: number } {
  const lines = [""];
  let row = 0;
  let col = 0;
  // deno-lint-ignore no-control-regex
  const escape = /\x1b\[(\d*)([A-Za-z])/y;
  // deno-lint-ignore no-control-regex
  const mode = /\x1b\[\?\d+[hl]/y;
  for (let i = 0; i < output.length;) {
    mode.lastIndex = i;
    if (mode.test(output)) {
      i = mode.lastIndex;
      continue;
    }
    escape.lastIndex = i;
    const esc = escape.exec(output);
    if (esc) {
      i = escape.lastIndex;
      const n = Number(esc[1] || "1");
      if (esc[2] === "F") {
        row = Math.max(0, row - n);
        col = 0;
      } else if (esc[2] === "G") {
        col = Math.max(0, n - 1);
      } else if (esc[2] === "K") {
        // 0: to the end of the line; 2: the whole line (what Deno itself writes before a program's output).
        lines[row] = esc[1] === "2" ? "" : lines[row].slice(0, col);
      } else if (esc[2] === "J") {
        lines[row] = lines[row].slice(0, col);
        lines.length = row + 1;
      } else {
        throw new Error(`unexpected escape sequence ${JSON.stringify(esc[0])}`);
      }
      continue;
    }
    const ch = output[i++];
    if (ch === "\r") col = 0;
    else if (ch === "\n") {
      row++;
      while (lines.length <= row) lines.push("");
    } else {
      const line = lines[row].padEnd(col);
      lines[row] = line.slice(0, col) + ch + line.slice(col + 1);
      col++;
    }
  }
  return { lines: lines.filter((line, i) => line !== "" || i < lines.length - 1), row, col };
}

/** Options of {@link startPtyPeer}. */
export interface PtyPeerOptions {
  /** More flags. */
  flags?: string[];
  /** The folder it runs in (its `info.txt` goes there, unless `--info` is given). Default: the test's own. */
  cwd?: string;
}

/**
 * A peer of `tracker` serving `dir` on a free port of 127.0.0.1, on a
 * pseudo-terminal; resolves once its prompt is up (raw mode and bracketed
 * paste on, `> ` drawn: typed before that, the terminal itself would echo
 * the keys), with its port.
 */
export async function startPtyPeer(
  tracker: string,
  dir: string,
  options: PtyPeerOptions = {},
): Promise<{ run: PtyRun; port: number }> {
  const args = [
    "peer",
    "--host",
    "127.0.0.1",
    "--dir",
    dir,
    "--port",
    "0",
    "--tracker",
    tracker,
    ...options.flags ?? [],
  ];
  const run = new PtyRun(args, undefined, { cwd: options.cwd });
  try {
    await run.waitFor(new RegExp(`${BRACKETED_PASTE_ON.replace(/[[?]/g, "\\$&")}> `));
    const port = Number(/listening on 127\.0\.0\.1:(\d+)\r\n/.exec(run.text)![1]);
    return { run, port };
  } catch (error) {
    await run[Symbol.asyncDispose]();
    throw error;
  }
}
