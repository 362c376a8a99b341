/**
 * Progress on a terminal: one live line per running transfer (name, bytes,
 * percent, speed, time left, sources in use), redrawn a few times a second
 * below the lines already printed, and under them the prompt line being
 * typed, if any (with the cursor where the typing is); a finished transfer
 * leaves only its result line. When the output is not a terminal nothing
 * live is drawn and no control character is written: result lines only.
 *
 * @module
 */

import type { Transfer, TransferBoard } from "../peer.ts";
import { formatBytes } from "./report.ts";

/** Where a display writes. */
export interface Screen {
  write(text: string): void;
  /** True for a terminal: live lines are drawn. False: plain lines only. */
  isTerminal: boolean;
  /** Its width in columns now. */
  columns(): number;
}

/** A {@link Screen} over stdout or stderr. */
export function screenOf(stream: typeof Deno.stdout | typeof Deno.stderr): Screen {
  const encoder = new TextEncoder();
  return {
    write: (text) => {
      const bytes = encoder.encode(text);
      for (let done = 0; done < bytes.length;) done += stream.writeSync(bytes.subarray(done));
    },
    isTerminal: stream.isTerminal(),
    columns: () => {
      try {
        // A pseudo-terminal with no size set says 0.
        return Deno.consoleSize().columns || 80;
      } catch {
        return 80;
      }
    },
  };
}

/** `0:07`, `12:34`, `2h05m`; `--` when unknown. */
export function formatDuration(seconds: number): string {
  if (!Number.isFinite(seconds) || seconds < 0) return "--";
  const s = Math.round(seconds);
  if (s >= 100 * 3600) return ">99h";
  if (s >= 3600) return `${Math.floor(s / 3600)}h${String(Math.floor(s % 3600 / 60)).padStart(2, "0")}m`;
  return `${Math.floor(s / 60)}:${String(s % 60).padStart(2, "0")}`;
}

/**
 * One live line, at most `columns - 1` characters (a full line would wrap
 * on some terminals): the name is shortened with `…` first, then the bar
 * goes, then the details from the right.
 *
 * `big.bin [######------]  45%  18.0 MiB / 40.0 MiB  12.5 MiB/s  ETA 0:02  4 sources`, or, with peers
 * that are still downloading it themselves among them, `… 6 sources (5 partial)`
 */
export function formatProgressLine(t: Transfer, view: { speed: number; columns: number }): string {
  const { speed: speedGiven, columns } = view;
  const bytesPerSecond = speedGiven >= 0.5 ? speedGiven : 0; // what shows as 0 B/s is 0: no ETA from it
  const width = Math.max(1, columns - 1);
  const fraction = t.size > 0 ? Math.min(1, t.bytes / t.size) : 1;
  const percent = `${Math.floor(fraction * 100)}%`.padStart(4);
  const amount = `${formatBytes(t.bytes)} / ${formatBytes(t.size)}`;
  const speed = `${formatBytes(Math.round(bytesPerSecond))}/s`;
  const eta = `ETA ${bytesPerSecond > 0 ? formatDuration((t.size - t.bytes) / bytesPerSecond) : "--"}`;
  const partial = t.partialSources ? ` (${t.partialSources} partial)` : "";
  const sources = `${t.sources} source${t.sources === 1 ? "" : "s"}${partial}`;
  const barWidth = 12;
  // Floor, as the percent: the bar is full only when the transfer is whole.
  const bar = `[${"#".repeat(Math.floor(fraction * barWidth)).padEnd(barWidth, "-")}]`;
  // Code points, not UTF-16 units: shortening must not cut a character in two.
  const name = Array.from(t.name);
  // Drop what does not fit, least useful first: the bar, sources, ETA, speed, amount.
  let shown = [bar, percent, amount, speed, eta, sources];
  const fits = (parts: string[], nameLength: number) => nameLength + 1 + parts.join("  ").length <= width;
  const minName = Math.min(name.length, 12);
  for (const drop of [bar, sources, eta, speed, amount]) {
    if (fits(shown, minName)) break;
    shown = shown.filter((p) => p !== drop);
  }
  const tail = shown.join("  ");
  const room = Math.max(1, width - tail.length - 1);
  const shortName = name.length <= room ? name : [...name.slice(0, Math.max(0, room - 1)), "…"];
  return Array.from(`${shortName.join("")} ${tail}`).slice(0, width).join("");
}

/** Most transfer lines drawn; more would not fit a terminal's height (and scroll the area apart). */
export const MAX_LIVE_LINES = 10;

/** No byte for this long: the speed shows 0 and the ETA `--`. */
const STALLED_MS = 3_000;

/** Speed samples are taken at least this far apart (a shorter span measures the event loop, not the transfer). */
const SAMPLE_MS = 100;

/**
 * The speed shown is what came over about this long: long enough that bytes
 * arriving in bursts (a chunk at a time, a rate limit's slices, an event
 * loop busy with another transfer) do not read as 0 between bursts.
 */
const WINDOW_MS = 2_000;

interface Live {
  transfer: Transfer;
  /** When it began, and so when its bytes began to come. */
  begunAt: number;
  /** Samples over the last {@link WINDOW_MS} or so, oldest first (the first is the first look). */
  samples: { at: number; bytes: number }[];
  /** When the bytes last moved. */
  movedAt: number;
  /** Looked at once: bytes found by then (resumed from an earlier run, say) are kept out of the samples. */
  looked: boolean;
}

/** What the prompt line shows: its text (at most the width less one) and the column the cursor stands in, from 0. */
export interface PromptView {
  /** The whole line, the prompt included, at most `columns - 1` columns wide. */
  text: string;
  /** The column the cursor goes to, from 0. */
  cursor: number;
}

/** Options of {@link ProgressDisplay}. */
export interface DisplayOptions {
  /** Redraw this often on a terminal. Default 200 ms. */
  intervalMs?: number;
  /** The clock, ms (for tests). Default `performance.now`. */
  now?: () => number;
}

/**
 * The live area under the printed lines. Every line printed while it runs
 * must go through {@link ProgressDisplay.log}, so that it lands above the
 * live lines (and the prompt line) instead of through them.
 *
 * The area is the live lines, each ended by a line feed, then the prompt
 * line, if one is set, with no line feed: the cursor stays in it, where the
 * typing is. To clear the area the cursor goes to the start of the prompt
 * line, up over the live lines, and everything below is erased.
 */
export class ProgressDisplay implements TransferBoard, Disposable {
  #screen: Screen;
  #now: () => number;
  #live = new Set<Live>();
  #status: string | undefined;
  /** Live lines now on the screen, each ended by a line feed. */
  #drawn = 0;
  /** The cursor is in a prompt line drawn below them. */
  #promptDrawn = false;
  #prompt: ((columns: number) => PromptView) | undefined;
  #timer: ReturnType<typeof setInterval> | undefined;
  #intervalMs: number;

  constructor(screen: Screen, options: DisplayOptions = {}) {
    this.#screen = screen;
    this.#now = options.now ?? (() => performance.now());
    this.#intervalMs = options.intervalMs ?? 200;
  }

  /** Whether live lines are drawn (the screen is a terminal). */
  get live(): boolean {
    return this.#screen.isTerminal;
  }

  begin(name: string, size: number): Transfer {
    const transfer: Transfer = { name, size, bytes: 0, sources: 0 };
    if (!this.#screen.isTerminal) return transfer;
    const now = this.#now();
    this.#live.add({
      transfer,
      begunAt: now,
      samples: [],
      movedAt: now,
      looked: false,
    });
    this.#timer ??= setInterval(() => this.draw(), this.#intervalMs);
    return transfer;
  }

  end(transfer: Transfer): void {
    for (const live of this.#live) if (live.transfer === transfer) this.#live.delete(live);
    this.#idle();
    if (this.#screen.isTerminal) this.draw();
  }

  /** A live line of its own (hashing a folder, say); `undefined` removes it. Terminal only. */
  status(text: string | undefined): void {
    if (!this.#screen.isTerminal) return;
    this.#status = text;
    this.draw();
  }

  /**
   * Sets the prompt line, drawn at the bottom of the area by `render` (given
   * the width in columns), or with `undefined` takes it away. Terminal only:
   * elsewhere nothing is drawn.
   */
  setPrompt(render: ((columns: number) => PromptView) | undefined): void {
    if (!this.#screen.isTerminal) return;
    this.#screen.write(this.#clear());
    this.#prompt = render;
    this.#screen.write(this.#area());
  }

  /** Draws the prompt line again after its text or cursor changed; the live lines stay as they are. */
  promptChanged(): void {
    if (!this.#screen.isTerminal || !this.#prompt) return;
    if (!this.#promptDrawn) return this.draw();
    this.#screen.write(`\r${this.#promptLine()}`);
  }

  /**
   * Runs `write`, which prints something on its own (on the same terminal,
   * say JSON on standard output), with the live area out of its way.
   */
  interrupt(write: () => void): void {
    if (!this.#screen.isTerminal) return write();
    this.#screen.write(this.#clear());
    try {
      write();
    } finally {
      this.#screen.write(this.#area());
    }
  }

  /** Prints `line` (several lines allowed) above the live area. */
  log(line: string): void {
    if (!this.#screen.isTerminal) {
      this.#screen.write(line + "\n");
      return;
    }
    this.#screen.write(this.#clear() + line + "\n" + this.#area());
  }

  /**
   * The live lines as they would be drawn now (speeds updated), without
   * the prompt line.
   *
   * The speed of a transfer is what came over the last {@link WINDOW_MS}
   * of samples at least {@link SAMPLE_MS} apart, counted from the first look
   * at it, so that what was there at once (resumed from an earlier run) is
   * not taken for speed. Until the first sample it is the average since the
   * transfer began: a first look that comes late (a busy event loop, a fast
   * transfer) must not show a transfer that moved 100 MiB as `0 B/s`. It is
   * 0 only once nothing came for {@link STALLED_MS}.
   */
  render(): string[] {
    const now = this.#now();
    const columns = this.#screen.columns();
    const lines: string[] = [];
    let shown = 0;
    for (const live of this.#live) {
      if (shown++ === MAX_LIVE_LINES) {
        lines.push(`… and ${this.#live.size - MAX_LIVE_LINES} more running`);
        break;
      }
      const t = live.transfer;
      // What came now: the bytes found on disk from an earlier run are no speed, whenever they are counted.
      const received = t.bytes - (t.resumed ?? 0);
      if (!live.looked) {
        live.looked = true;
        live.samples.push({ at: now, bytes: received });
        live.movedAt = now;
      }
      const last = live.samples.at(-1)!;
      if (now - last.at >= SAMPLE_MS) {
        if (received !== last.bytes) live.movedAt = now;
        live.samples.push({ at: now, bytes: received });
        // Keep one sample at least WINDOW_MS old, as the window's start.
        while (live.samples.length > 2 && now - live.samples[1].at >= WINDOW_MS) live.samples.shift();
      }
      const first = live.samples[0];
      const newest = live.samples.at(-1)!;
      const sampled = newest.at > first.at ? (newest.bytes - first.bytes) * 1000 / (newest.at - first.at) : undefined;
      const average = now > live.begunAt ? received * 1000 / (now - live.begunAt) : 0;
      // Stalled for STALLED_MS: 0 (and no ETA), not a speed that only shrinks.
      const stalled = now - live.movedAt >= STALLED_MS;
      lines.push(formatProgressLine(t, { speed: stalled ? 0 : sampled ?? average, columns }));
    }
    if (this.#status !== undefined) lines.push(this.#status.slice(0, Math.max(20, columns - 1)));
    return lines;
  }

  /** Redraws the live area. */
  draw(): void {
    if (!this.#screen.isTerminal) return;
    this.#screen.write(this.#clear() + this.#area());
  }

  /** Moves to the top of the live area and clears it (the prompt line too). */
  #clear(): string {
    if (this.#drawn === 0 && !this.#promptDrawn) return ""; // nothing drawn: leave the line alone
    // ESC[nF goes to the start of the line n up (n = 0 means 1 to a terminal: not written then).
    const up = this.#drawn > 0 ? `\x1b[${this.#drawn}F\x1b[J` : "\r\x1b[J";
    this.#drawn = 0;
    this.#promptDrawn = false;
    return up;
  }

  /** The live lines, then the prompt line. */
  #area(): string {
    const live = this.render();
    this.#drawn = live.length;
    const text = live.map((l) => l + "\n").join("");
    if (!this.#prompt) return text;
    this.#promptDrawn = true;
    return text + this.#promptLine();
  }

  /** The prompt line from its start: its text, the rest of the line erased, the cursor put in place. */
  #promptLine(): string {
    const { text, cursor } = this.#prompt!(this.#screen.columns());
    return `${text}\x1b[K\x1b[${cursor + 1}G`;
  }

  #idle(): void {
    if (this.#live.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Clears the live area (and the prompt line) and stops redrawing. */
  close(): void {
    this.#live.clear();
    this.#status = undefined;
    this.#prompt = undefined;
    this.#idle();
    if (this.#screen.isTerminal) this.#screen.write(this.#clear());
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
