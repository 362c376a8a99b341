/**
 * Progress on a terminal: one live line per running transfer (name, bytes,
 * percent, speed, time left, sources in use), redrawn a few times a second
 * below the lines already printed; a finished transfer leaves only its
 * result line. When the output is not a terminal nothing live is drawn and
 * no control character is written: result lines only.
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
 * `big.bin [######------]  45%  18.0 MiB / 40.0 MiB  12.5 MiB/s  ETA 0:02  4 sources`
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
  const sources = `${t.sources} source${t.sources === 1 ? "" : "s"}`;
  const barWidth = 12;
  const bar = `[${"#".repeat(Math.round(fraction * barWidth)).padEnd(barWidth, "-")}]`;
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

interface Live {
  transfer: Transfer;
  /** Smoothed bytes per second. */
  speed: number;
  lastBytes: number;
  lastAt: number;
  /** When the bytes last moved. */
  movedAt: number;
  startedAt: number;
  startBytes: number;
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
 * live lines instead of through them.
 */
export class ProgressDisplay implements TransferBoard, Disposable {
  #screen: Screen;
  #now: () => number;
  #live = new Set<Live>();
  #status: string | undefined;
  /** Lines of the live area now on the screen. */
  #drawn = 0;
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
    this.#live.add({ transfer, speed: 0, lastBytes: 0, lastAt: now, movedAt: now, startedAt: now, startBytes: -1 });
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

  /** The live lines as they would be drawn now (speeds updated). */
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
      if (live.startBytes < 0) {
        // What was there before the first look (resumed from an earlier run) is not speed.
        live.startBytes = live.lastBytes = t.bytes;
        live.lastAt = live.startedAt = live.movedAt = now;
      }
      const elapsed = now - live.lastAt;
      if (elapsed >= 100) {
        const instant = (t.bytes - live.lastBytes) * 1000 / elapsed;
        if (t.bytes !== live.lastBytes) live.movedAt = now;
        // Stalled for STALLED_MS: 0 (and no ETA), not a speed that only shrinks.
        if (now - live.movedAt >= STALLED_MS) live.speed = 0;
        else live.speed = live.speed === 0 ? instant : 0.7 * live.speed + 0.3 * instant;
        live.lastBytes = t.bytes;
        live.lastAt = now;
      }
      const average = now > live.startedAt ? (t.bytes - live.startBytes) * 1000 / (now - live.startedAt) : 0;
      const stalled = now - live.movedAt >= STALLED_MS;
      lines.push(formatProgressLine(t, { speed: stalled ? 0 : live.speed || average, columns }));
    }
    if (this.#status !== undefined) lines.push(this.#status.slice(0, Math.max(20, columns - 1)));
    return lines;
  }

  /** Redraws the live area. */
  draw(): void {
    if (!this.#screen.isTerminal) return;
    this.#screen.write(this.#clear() + this.#area());
  }

  /** Moves to the top of the live area and clears it. */
  #clear(): string {
    if (this.#drawn === 0) return ""; // nothing drawn: leave the line (a prompt, say) alone
    const up = `\x1b[${this.#drawn}F\x1b[J`;
    this.#drawn = 0;
    return up;
  }

  #area(): string {
    const lines = this.render();
    this.#drawn = lines.length;
    return lines.map((l) => l + "\n").join("");
  }

  #idle(): void {
    if (this.#live.size > 0) return;
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Clears the live area and stops redrawing. */
  close(): void {
    this.#live.clear();
    this.#status = undefined;
    this.#idle();
    if (this.#screen.isTerminal && this.#drawn > 0) this.#screen.write(this.#clear());
  }

  [Symbol.dispose](): void {
    this.close();
  }
}
