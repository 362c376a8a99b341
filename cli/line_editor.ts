/**
 * The line being typed at the peer's prompt: its text and cursor, changed
 * by {@link Key}s (typing and pasting, Backspace, Delete, Left/Right by
 * character or word, Home/End, Ctrl-U/K/W, history with Up/Down, Enter,
 * Ctrl-C, Ctrl-D), and how it is drawn in one terminal line.
 *
 * The cursor moves by what a person sees as one character (a grapheme:
 * `é` written as `e` and a combining accent, a flag, a family emoji), and
 * each is counted in the columns a terminal gives it (two for wide CJK
 * characters and emoji). A line wider than the terminal scrolls
 * sideways, with `…` where it goes on, so that the prompt is always one
 * line: the live area above it counts on that. Pure: it draws nothing.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const editor = new LineEditor();
 * editor.key({ name: "text", text: "PERS" });
 * editor.key({ name: "left" });
 * editor.key({ name: "left" });
 * editor.key({ name: "text", text: "E" });
 * assert.deepEqual(editor.view("> ", 80), { text: "> PEERS", cursor: 5 });
 * assert.deepEqual(editor.key({ name: "enter" }), { type: "submit", line: "PEERS" });
 * ```
 *
 * @module
 */

import type { Key } from "./keys.ts";
import type { PromptView } from "./progress.ts";

/** What a key did that the prompt must act on; `edit` and `none` need only a redraw (or nothing). */
export type EditorAction =
  | { type: "none" }
  | { type: "edit" }
  /** Enter: the line typed (the editor is empty again). */
  | { type: "submit"; line: string }
  /** Ctrl-C: the line that was typed, now cleared. */
  | { type: "interrupt"; line: string }
  /** Ctrl-D on an empty line. */
  | { type: "eof" };

/** Options of {@link LineEditor}. */
export interface LineEditorOptions {
  /** Most lines kept for Up and Down. Default 500. */
  historySize?: number;
}

const segmenter = new Intl.Segmenter(undefined, { granularity: "grapheme" });

/** A grapheme of the text: where it starts (UTF-16 units), itself, and the columns it takes. */
interface Cell {
  at: number;
  text: string;
  width: number;
}

/** The line being typed, its cursor, its history, and its view in a terminal line. */
export class LineEditor {
  #text = "";
  /** Where the cursor is, in UTF-16 units, always between two graphemes. */
  #cursor = 0;
  #history: string[] = [];
  /** Which history line is shown; `history.length` for the line being typed. */
  #recalled = 0;
  /** The line being typed, kept while older ones are recalled. */
  #draft = "";
  #historySize: number;
  /** The first grapheme shown, in UTF-16 units (the view scrolls sideways). */
  #scroll = 0;
  #segmented: { text: string; cells: Cell[] } | undefined;

  /** An empty line, with no history. */
  constructor(options: LineEditorOptions = {}) {
    this.#historySize = options.historySize ?? 500;
  }

  /** The text typed so far. */
  get text(): string {
    return this.#text;
  }

  /** The cursor, in UTF-16 units from the start of {@link LineEditor.text}. */
  get cursor(): number {
    return this.#cursor;
  }

  /** Lines entered, oldest first. */
  get history(): readonly string[] {
    return this.#history;
  }

  /** Applies `key`; says what the prompt must do. */
  key(key: Key): EditorAction {
    const text = this.#text;
    const at = this.#cursor;
    switch (key.name) {
      case "text":
        return this.#set(text.slice(0, at) + key.text + text.slice(at), at + key.text.length);
      case "enter": {
        const line = text;
        if (line.trim() !== "" && this.#history.at(-1) !== line) this.#history.push(line);
        if (this.#history.length > this.#historySize) this.#history.shift();
        this.#clear();
        return { type: "submit", line };
      }
      case "interrupt":
        this.#recalled = this.#history.length;
        this.#clear();
        return { type: "interrupt", line: text };
      case "eof":
        if (text === "") return { type: "eof" };
        return this.#deleteForward();
      case "backspace": {
        const before = previous(text, at);
        return this.#set(text.slice(0, before) + text.slice(at), before);
      }
      case "delete":
        return this.#deleteForward();
      case "left":
        return this.#move(previous(text, at));
      case "right":
        return this.#move(next(text, at));
      case "word-left":
        return this.#move(wordStart(text, at));
      case "word-right":
        return this.#move(wordEnd(text, at));
      case "home":
        return this.#move(0);
      case "end":
        return this.#move(text.length);
      case "kill-start":
        return this.#set(text.slice(at), 0);
      case "kill-end":
        return this.#set(text.slice(0, at), at);
      case "kill-word": {
        const start = wordStart(text, at);
        return this.#set(text.slice(0, start) + text.slice(at), start);
      }
      case "up":
        return this.#recall(this.#recalled - 1);
      case "down":
        return this.#recall(this.#recalled + 1);
    }
  }

  /**
   * The prompt line as drawn `columns` wide: `prompt` and the part of the
   * text around the cursor, at most `columns - 1` columns (a full line
   * would wrap on some terminals), `…` at an end where the text goes on;
   * and the column the cursor is in.
   */
  view(prompt: string, columns: number): PromptView {
    const cells = this.#cells();
    const room = Math.max(1, columns - 1 - width(prompt));
    const found = cells.findIndex((c) => c.at >= this.#cursor);
    const at = found < 0 ? cells.length : found;
    const left = (first: number) => first > 0 ? 1 : 0; // the … before
    // The cursor's own cell (a space past the end), and room for a … after it unless it is at the end.
    const cursorCell = at < cells.length ? cells[at].width + (at + 1 < cells.length ? 1 : 0) : 1;
    const showsCursor = (first: number) => left(first) + sum(cells, first, at) + cursorCell <= room;
    const showsEnd = (first: number) => left(first) + sum(cells, first, cells.length) + 1 <= room;
    // Keep the first grapheme shown where it was, unless the cursor left the view or there is room for more.
    let first = this.#scroll >= this.#text.length ? cells.length : cells.findIndex((c) => c.at >= this.#scroll);
    first = Math.min(Math.max(0, first), at);
    while (first > 0 && showsEnd(first - 1)) first--;
    while (first < at && !showsCursor(first)) first++;
    this.#scroll = first < cells.length ? cells[first].at : this.#text.length;
    let shown = first > 0 ? "…" : "";
    let used = left(first);
    let last = first;
    for (; last < cells.length; last++) {
      const closing = last + 1 < cells.length ? 1 : 0; // room for the … after, unless this is the last
      if (used + cells[last].width + closing > room) break;
      shown += cells[last].text;
      used += cells[last].width;
    }
    if (last < cells.length) shown += "…";
    return { text: prompt + shown, cursor: width(prompt) + left(first) + sum(cells, first, at) };
  }

  /** The text's graphemes: where each starts, and its width (kept until the text changes). */
  #cells(): Cell[] {
    if (this.#segmented?.text !== this.#text) {
      const cells = Array.from(
        segmenter.segment(this.#text),
        (s) => ({ at: s.index, text: s.segment, width: width(s.segment) }),
      );
      this.#segmented = { text: this.#text, cells };
    }
    return this.#segmented.cells;
  }

  #set(text: string, cursor: number): EditorAction {
    if (text === this.#text && cursor === this.#cursor) return { type: "none" };
    this.#text = text;
    this.#cursor = cursor;
    return { type: "edit" };
  }

  #move(cursor: number): EditorAction {
    return this.#set(this.#text, cursor);
  }

  #deleteForward(): EditorAction {
    const at = this.#cursor;
    return this.#set(this.#text.slice(0, at) + this.#text.slice(next(this.#text, at)), at);
  }

  #clear(): void {
    this.#text = "";
    this.#cursor = 0;
    this.#scroll = 0;
    this.#draft = "";
    this.#recalled = this.#history.length;
  }

  /** Shows history line `index` (the line being typed at `history.length`), cursor at its end. */
  #recall(index: number): EditorAction {
    if (index < 0 || index > this.#history.length) return { type: "none" };
    if (this.#recalled === this.#history.length) this.#draft = this.#text;
    this.#recalled = index;
    const text = index === this.#history.length ? this.#draft : this.#history[index];
    return this.#set(text, text.length);
  }
}

/** The grapheme boundary before `at` (0 at the start). */
function previous(text: string, at: number): number {
  let before = 0;
  for (const { index } of segmenter.segment(text.slice(0, at))) before = index;
  return at === 0 ? 0 : before;
}

/** The grapheme boundary after `at` (the end at the end). */
function next(text: string, at: number): number {
  if (at >= text.length) return text.length;
  const first = segmenter.segment(text.slice(at))[Symbol.iterator]().next().value!;
  return at + first.segment.length;
}

/** The start of the word before `at`: back over spaces, then over what is not a space (as Ctrl-W in a shell). */
function wordStart(text: string, at: number): number {
  let i = at;
  while (i > 0 && /\s/.test(text[i - 1])) i--;
  while (i > 0 && !/\s/.test(text[i - 1])) i--;
  return i;
}

/** The end of the word after `at`: over spaces, then over what is not a space. */
function wordEnd(text: string, at: number): number {
  let i = at;
  while (i < text.length && /\s/.test(text[i])) i++;
  while (i < text.length && !/\s/.test(text[i])) i++;
  return i;
}

function sum(cells: { width: number }[], from: number, to: number): number {
  let total = 0;
  for (let i = from; i < to; i++) total += cells[i].width;
  return total;
}

/** East Asian wide and fullwidth characters: two columns. */
const WIDE =
  /[\u1100-\u115f\u231a\u231b\u2329\u232a\u2e80-\u303e\u3041-\u33ff\u3400-\u4dbf\u4e00-\u9fff\ua000-\ua4cf\ua960-\ua97f\uac00-\ud7a3\uf900-\ufaff\ufe10-\ufe19\ufe30-\ufe6f\uff00-\uff60\uffe0-\uffe6\u{16fe0}-\u{18aff}\u{1b000}-\u{1b2ff}\u{20000}-\u{3fffd}]/u;

/**
 * The columns a terminal gives `text`: per grapheme, two for a wide one
 * (East Asian wide or fullwidth, or an emoji shown as one), none for one
 * made only of marks and joiners, else one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(width("abc"), 3);
 * assert.equal(width("日本"), 4);
 * assert.equal(width("e\u0301"), 1);
 * assert.equal(width("👍🏽"), 2);
 * ```
 */
export function width(text: string): number {
  let columns = 0;
  for (const { segment } of segmenter.segment(text)) {
    if (WIDE.test(segment) || /\p{Emoji_Presentation}|\p{Extended_Pictographic}\uFE0F/u.test(segment)) columns += 2;
    else if (/^[\p{M}\u200B-\u200D\u2060\uFEFF]+$/u.test(segment)) columns += 0;
    else columns += 1;
  }
  return columns;
}
