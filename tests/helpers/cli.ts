/**
 * Helpers for end-to-end tests of the command line: each spawns `main.ts`
 * as a user runs it (`deno run … main.ts <role> [flags]`), with piped
 * standard streams, and returns an `await using` handle that drains the
 * output into a buffer, waits for lines with a bounded deadline, and on
 * dispose stops the process and closes every stream.
 *
 * @example
 * ```ts ignore
 * await using tracker = await startCliTracker();
 * await using peer = await startCliPeer(tracker.address, { dir, info });
 * await peer.write("SEND hello.txt\n");
 * await peer.waitFor(/^saved hello\.txt /m);
 * ```
 *
 * @module
 */

import { join } from "node:path";
import { Changes, WAIT_MS } from "./events.ts";

/** Absolute path of the command line under test. */
export const MAIN_PATH: string = join(import.meta.dirname!, "..", "..", "main.ts");

/** How long any wait lasts before it fails the test, ms. Generous: a slow machine must not fail a test. */
export const DEFAULT_TIMEOUT_MS: number = WAIT_MS;

/** The first line a server role prints on standard output. */
export const LISTENING_LINE: RegExp = /^listening on (\S+):(\d+)$/m;

/** Which output stream to look at. */
export type OutputStream = "stdout" | "stderr";

/** Options of {@link spawnCli}. */
export interface SpawnOptions {
  /** Working folder of the process. Default: the test's own. */
  cwd?: string;
}

/** Options of {@link CliProcess.waitFor}. */
export interface WaitOptions {
  /** The stream to search. Default `"stdout"`. */
  stream?: OutputStream;
  /** Search only the text from this offset on (see {@link CliProcess.mark}). Default 0. */
  since?: number;
  /** Fail after this long, ms. Default {@link DEFAULT_TIMEOUT_MS}. */
  timeoutMs?: number;
}

/** A finished run: exit status and everything printed. */
export interface CliResult {
  /** Exit code (`128 + n` when killed by a signal). */
  code: number;
  /** The signal that ended it, if any. */
  signal: Deno.Signal | null;
  /** Standard output, as bytes. */
  stdout: Uint8Array;
  /** Standard output, as text. */
  stdoutText: string;
  /** Standard error, as text. */
  stderrText: string;
}

/** Output collected from one stream. */
class Drain {
  readonly chunks: Uint8Array[] = [];
  text = "";
  ended = false;
  readonly done: Promise<void>;
  #reader: ReadableStreamDefaultReader<Uint8Array>;
  #decoder = new TextDecoder();

  constructor(stream: ReadableStream<Uint8Array>, onChange: () => void) {
    this.#reader = stream.getReader();
    this.done = this.#pump(onChange);
  }

  async #pump(onChange: () => void): Promise<void> {
    try {
      while (true) {
        const { value, done } = await this.#reader.read();
        if (done) break;
        this.chunks.push(value);
        this.text += this.#decoder.decode(value, { stream: true });
        onChange();
      }
      this.text += this.#decoder.decode();
    } catch (error) {
      // Only our own cancel() on dispose ends a read with an error here.
      if (!this.ended) throw error;
    } finally {
      this.ended = true;
      this.#reader.releaseLock();
      onChange();
    }
  }

  bytes(): Uint8Array {
    const all = new Uint8Array(this.chunks.reduce((n, c) => n + c.length, 0));
    let at = 0;
    for (const chunk of this.chunks) {
      all.set(chunk, at);
      at += chunk.length;
    }
    return all;
  }

  async cancel(): Promise<void> {
    if (this.ended) return;
    this.ended = true;
    await this.#reader.cancel().catch(() => {});
  }
}

/**
 * One running `main.ts` process. Its standard output and error are read
 * all the time into buffers, so it never blocks on a full pipe, and
 * {@link CliProcess.waitFor} can look for any line printed so far or later.
 */
export class CliProcess implements AsyncDisposable {
  /** The arguments after `main.ts`. */
  readonly args: readonly string[];
  #child: Deno.ChildProcess;
  #stdin: WritableStreamDefaultWriter<Uint8Array>;
  #stdinClosed = false;
  #out: Record<OutputStream, Drain>;
  #status: Deno.CommandStatus | undefined;
  #statusPromise: Promise<Deno.CommandStatus>;
  #changes = new Changes();

  /** Spawns `main.ts` with `args`; see {@link spawnCli}. */
  constructor(args: readonly string[], options: SpawnOptions = {}) {
    this.args = args;
    this.#child = new Deno.Command(Deno.execPath(), {
      // --ignore-env=DEBUG: what a tracker with a Redis store needs to load npm:ioredis (see deno.json's tracker task).
      args: ["run", "--allow-net", "--allow-read", "--allow-write", "--ignore-env=DEBUG", MAIN_PATH, ...args],
      cwd: options.cwd,
      env: { NO_COLOR: "1" },
      stdin: "piped",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    this.#stdin = this.#child.stdin.getWriter();
    const changed = () => this.#changes.changed();
    this.#out = { stdout: new Drain(this.#child.stdout, changed), stderr: new Drain(this.#child.stderr, changed) };
    this.#statusPromise = this.#child.status.then((status) => {
      this.#status = status;
      changed();
      return status;
    });
  }

  /** The process id. */
  get pid(): number {
    return this.#child.pid;
  }

  /** True until the process has exited. */
  get running(): boolean {
    return this.#status === undefined;
  }

  /** Everything printed on standard output so far, as text. */
  get stdout(): string {
    return this.#out.stdout.text;
  }

  /** Everything printed on standard error so far, as text. */
  get stderr(): string {
    return this.#out.stderr.text;
  }

  /** Everything printed on standard output so far, as bytes. */
  stdoutBytes(): Uint8Array {
    return this.#out.stdout.bytes();
  }

  /** The current length of a stream's text: pass it as `since` to wait only for what comes next. */
  mark(stream: OutputStream = "stdout"): number {
    return this.#out[stream].text.length;
  }

  /** Writes `text` to the process's standard input. */
  async write(text: string): Promise<void> {
    await this.#stdin.write(new TextEncoder().encode(text));
  }

  /** Closes standard input (the process reads end of input). Idempotent. */
  async closeStdin(): Promise<void> {
    if (this.#stdinClosed) return;
    this.#stdinClosed = true;
    // The process may have exited already; then the pipe is broken, which is fine.
    await this.#stdin.close().catch(() => {});
    this.#stdin.releaseLock();
  }

  /** Sends `signal` to the process, unless it has exited. */
  kill(signal: Deno.Signal = "SIGTERM"): void {
    if (!this.running) return;
    try {
      this.#child.kill(signal);
    } catch (error) {
      // It exited between the check and the kill.
      if (!(error instanceof TypeError) || this.running) throw error;
    }
  }

  /**
   * Waits until `pattern` matches the text of `options.stream` (from
   * `options.since` on) and returns the match. Fails when the deadline
   * passes or the stream ends without a match, quoting all output.
   */
  waitFor(pattern: RegExp, options: WaitOptions = {}): Promise<RegExpExecArray> {
    const stream = options.stream ?? "stdout";
    const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    const regex = new RegExp(pattern.source, pattern.flags.replace("g", ""));
    return this.#changes.until(() => {
      const match = regex.exec(this.#out[stream].text.slice(options.since ?? 0));
      if (match) return match;
      if (this.#out[stream].ended) {
        throw new Error(`${this.#describe()}: ${stream} ended without matching ${pattern}${this.#dump()}`);
      }
    }, {
      timeoutMs,
      failure: () => `${this.#describe()}: no ${pattern} on ${stream} within ${timeoutMs} ms${this.#dump()}`,
    });
  }

  /**
   * Waits for the process to exit, then for its output to end; returns the
   * status. Fails (leaving the process to dispose) after `timeoutMs`.
   */
  exited(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<Deno.CommandStatus> {
    return this.#changes.until(
      () => this.#out.stdout.ended && this.#out.stderr.ended ? this.#status : undefined,
      { timeoutMs, failure: () => `${this.#describe()}: did not exit within ${timeoutMs} ms${this.#dump()}` },
    );
  }

  /** Closes standard input, waits for the exit, and returns the status and all output. */
  async result(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<CliResult> {
    await this.closeStdin();
    const status = await this.exited(timeoutMs);
    return {
      code: status.code,
      signal: status.signal,
      stdout: this.stdoutBytes(),
      stdoutText: this.stdout,
      stderrText: this.stderr,
    };
  }

  /**
   * Stops the process with SIGTERM if it still runs (SIGKILL if that is not
   * enough within the default timeout), closes standard input, waits for
   * the exit and drains or cancels both output streams.
   */
  async [Symbol.asyncDispose](): Promise<void> {
    this.kill("SIGTERM");
    await this.closeStdin();
    try {
      await this.exited();
    } catch {
      this.kill("SIGKILL");
      await this.#statusPromise;
    }
    await Promise.all([this.#out.stdout.cancel(), this.#out.stderr.cancel()]);
    await Promise.all([this.#out.stdout.done, this.#out.stderr.done, this.#statusPromise]);
  }

  #describe(): string {
    const status = this.#status ? ` (exited ${this.#status.code})` : "";
    return `main.ts ${this.args.join(" ")}${status}`;
  }

  #dump(): string {
    return `\n--- stdout ---\n${this.stdout}\n--- stderr ---\n${this.stderr}`;
  }
}

/** Spawns `main.ts <role> [flags]` (`args`), with piped stdin, stdout and stderr. */
export function spawnCli(args: readonly string[], options: SpawnOptions = {}): CliProcess {
  return new CliProcess(args, options);
}

/** Runs a one-shot command (`get`, `cat`, `--help`, …) with standard input closed; returns its status and output. */
export async function runCli(args: readonly string[], options: SpawnOptions = {}): Promise<CliResult> {
  await using proc = spawnCli(args, options);
  return await proc.result();
}

/** A server role that has printed its `listening on HOST:PORT` line. */
export class CliServer extends CliProcess {
  #host = "";
  #port = 0;

  /** The host it listens on. */
  get host(): string {
    return this.#host;
  }

  /** The port it listens on. */
  get port(): number {
    return this.#port;
  }

  /** `HOST:PORT`, as other roles take it in `--tracker` and as the tracker lists it. */
  get address(): string {
    return `${this.#host}:${this.#port}`;
  }

  /** Waits for the `listening on` line and reads the address from it. */
  async listening(timeoutMs: number = DEFAULT_TIMEOUT_MS): Promise<this> {
    const match = await this.waitFor(LISTENING_LINE, { timeoutMs });
    this.#host = match[1];
    this.#port = Number(match[2]);
    return this;
  }
}

/**
 * Starts a server role (`tracker`, `peer`) on `127.0.0.1`, port 0, with
 * extra `flags`, and returns once it prints `listening on HOST:PORT`. If it
 * fails to, the process is stopped and the error (with its output) thrown.
 */
export async function startServer(role: string, flags: readonly string[] = [], options: SpawnOptions = {}) {
  const server = new CliServer([role, "--host", "127.0.0.1", "--port", "0", ...flags], options);
  try {
    return await server.listening();
  } catch (error) {
    await server[Symbol.asyncDispose]();
    throw error;
  }
}

/** Starts a tracker on `127.0.0.1`, any free port, with extra `flags`. */
export function startCliTracker(flags: readonly string[] = []): Promise<CliServer> {
  return startServer("tracker", flags);
}

/** Options of {@link startCliPeer}. */
export interface CliPeerOptions extends SpawnOptions {
  /** The shared folder (`--dir`). */
  dir: string;
  /** Where the tracker's reply to SEND is saved (`--info`); always inside the test's temp folder. */
  info: string;
  /** Where downloads land (`--out`). Default: the shared folder. */
  out?: string;
  /** Leave standard input open for commands (default) or close it at once. */
  stdin?: "open" | "closed";
  /** More flags. */
  flags?: readonly string[];
}

/**
 * Starts a peer of the tracker at `tracker` (`HOST:PORT`) and returns once
 * it has announced its files (its `shared N files from DIR` line).
 */
export async function startCliPeer(tracker: string, options: CliPeerOptions): Promise<CliServer> {
  const flags = ["--tracker", tracker, "--dir", options.dir, "--info", options.info, ...options.flags ?? []];
  if (options.out !== undefined) flags.push("--out", options.out);
  const peer = await startServer("peer", flags, options);
  try {
    if (options.stdin === "closed") await peer.closeStdin();
    await peer.waitFor(/^shared \d+ files? from /m);
    return peer;
  } catch (error) {
    await peer[Symbol.asyncDispose]();
    throw error;
  }
}
