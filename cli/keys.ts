/**
 * The keys a terminal in raw mode sends, decoded from its bytes: text
 * (UTF-8, a character split across two reads included), Enter, the editing
 * and moving keys with their usual control and escape sequences (xterm,
 * VT100 and the Linux console), and pasted text. A paste in bracketed mode
 * (`ESC[200~` … `ESC[201~`, asked for with {@link BRACKETED_PASTE_ON}) is
 * taken as text and line ends only, so that a pasted control character does
 * nothing; a paste without it is the same as typing it. A sequence cut
 * between two reads waits for the rest. Pure: no terminal is touched here.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const keys = new KeyDecoder();
 * const bytes = new TextEncoder().encode("LS\x1b[DI\r");
 * assert.deepEqual(keys.feed(bytes), [
 *   { name: "text", text: "LS" },
 *   { name: "left" },
 *   { name: "text", text: "I" },
 *   { name: "enter" },
 * ]);
 * ```
 *
 * @module
 */

/** Written to a terminal: it then marks pasted text (xterm's bracketed paste mode). */
export const BRACKETED_PASTE_ON = "\x1b[?2004h";
/** Written to a terminal: pasted text is no longer marked. */
export const BRACKETED_PASTE_OFF = "\x1b[?2004l";

/** A key that does something at the prompt (anything else is dropped here). */
export type KeyName =
  | "enter"
  | "backspace"
  | "delete"
  | "left"
  | "right"
  | "word-left"
  | "word-right"
  | "home"
  | "end"
  | "up"
  | "down"
  /** Ctrl-C. */
  | "interrupt"
  /** Ctrl-D. */
  | "eof"
  /** Ctrl-U: deletes from the start of the line to the cursor. */
  | "kill-start"
  /** Ctrl-K: deletes from the cursor to the end of the line. */
  | "kill-end"
  /** Ctrl-W (and Alt-Backspace): deletes the word before the cursor. */
  | "kill-word";

/** One key, or a run of printable text (typed or pasted). */
export type Key = { name: KeyName } | { name: "text"; text: string };

/** Control characters, by byte. */
const CONTROL: Record<number, KeyName> = {
  0x01: "home", // Ctrl-A
  0x02: "left", // Ctrl-B
  0x03: "interrupt", // Ctrl-C
  0x04: "eof", // Ctrl-D
  0x05: "end", // Ctrl-E
  0x06: "right", // Ctrl-F
  0x08: "backspace", // Ctrl-H
  0x0b: "kill-end", // Ctrl-K
  0x0d: "enter", // CR: Enter in raw mode
  0x0a: "enter", // LF: Enter in a paste, or from a terminal that sends it
  0x0e: "down", // Ctrl-N
  0x10: "up", // Ctrl-P
  0x15: "kill-start", // Ctrl-U
  0x17: "kill-word", // Ctrl-W
  0x7f: "backspace",
};

/** `ESC [ params final` and `ESC O final`, as far as they go; the groups are the introducer, params and final. */
// deno-lint-ignore no-control-regex
const SEQUENCE = /^\x1b(?:(\[)([0-9;]*)([\x40-\x7e])?|(O)([\x40-\x7e])?)?/;

const CSI_FINAL: Record<string, KeyName> = {
  A: "up",
  B: "down",
  C: "right",
  D: "left",
  H: "home",
  F: "end",
};

const TILDE: Record<string, KeyName> = {
  "1": "home",
  "7": "home",
  "4": "end",
  "8": "end",
  "3": "delete",
};

const PASTE_START = "200";
const PASTE_END = "\x1b[201~";

/** Turns the bytes a terminal sends into {@link Key}s; keeps what a read cut off until the next. */
export class KeyDecoder {
  #decoder = new TextDecoder();
  #pending = "";
  #pasting = false;
  /** The last line end was a CR: a LF right after it (in the next read) ends no other line. */
  #afterCR = false;
  #keys: Key[] = [];

  /** The keys in `bytes` (and in what an earlier call kept back). */
  feed(bytes: Uint8Array): Key[] {
    let input = this.#pending + this.#decoder.decode(bytes, { stream: true });
    this.#keys = [];
    while (input.length > 0) {
      const before = input;
      input = this.#pasting ? this.#paste(input) : this.#key(input);
      if (input === before) break; // cut off: wait for the rest
    }
    this.#pending = input;
    return this.#keys;
  }

  /** Reads one key (or run of text) from the start of `input`; returns the rest, or `input` itself when cut off. */
  #key(input: string): string {
    const code = input.charCodeAt(0);
    if (code === 0x1b) return this.#escape(input);
    if (code === 0x0a && this.#afterCR) {
      this.#afterCR = false;
      return input.slice(1);
    }
    this.#afterCR = code === 0x0d;
    const control = CONTROL[code];
    if (control) {
      this.#keys.push({ name: control });
      return input.slice(1);
    }
    const printable = PRINTABLE.exec(input);
    if (printable) {
      this.#text(printable[0]);
      return input.slice(printable[0].length);
    }
    return input.slice(1); // another control character (Tab, Ctrl-Z in raw mode): nothing to do
  }

  /** An escape sequence at the start of `input`. */
  #escape(input: string): string {
    const m = SEQUENCE.exec(input)!;
    const [whole, csi, csiParams, csiFinal, ss3, ss3Final] = m;
    if (input.length === 1) return input; // ESC alone, so far
    if ((csi || ss3) && (csiFinal ?? ss3Final) === undefined && whole.length === input.length) return input;
    this.#afterCR = false;
    if (!csi && !ss3) {
      // ESC then a character: Alt with that key (ESC ESC: the first is dropped, the second starts a sequence).
      if (input[1] === "\x1b") return input.slice(1);
      const alt = ALT[input[1]];
      if (alt) this.#keys.push({ name: alt });
      return input.slice(2);
    }
    const rest = input.slice(whole.length);
    if (csi && csiFinal === "~") {
      if (csiParams === PASTE_START) this.#pasting = true;
      else if (TILDE[csiParams]) this.#keys.push({ name: TILDE[csiParams] });
      return rest;
    }
    const named = CSI_FINAL[csiFinal ?? ss3Final ?? ""];
    if (!named) return rest; // a key this prompt has no use for (F1, say)
    const byWord = csi && /;[35]$/.test(csiParams); // Ctrl (5) or Alt (3) with an arrow: a word at a time
    this.#keys.push({
      name: byWord && named === "left" ? "word-left" : byWord && named === "right" ? "word-right" : named,
    });
    return rest;
  }

  /** Pasted text up to the end of the paste (or of `input`, keeping a start of the end marker back). */
  #paste(input: string): string {
    const end = input.indexOf(PASTE_END);
    const body = end >= 0 ? input.slice(0, end) : input.slice(0, cutBefore(input, PASTE_END));
    // A CR LF cut between two reads is one line end.
    const lines = (this.#afterCR && body.startsWith("\n") ? body.slice(1) : body).split(/\r\n|\r|\n/);
    if (body !== "") this.#afterCR = body.endsWith("\r");
    lines.forEach((line, i) => {
      if (i > 0) this.#keys.push({ name: "enter" });
      // Only text from a paste: a control character in it does nothing; a Tab is a space.
      const clean = line.replaceAll("\t", " ").replace(CONTROLS, "");
      if (clean) this.#text(clean);
    });
    if (end < 0) return input.slice(body.length);
    this.#pasting = false;
    return input.slice(end + PASTE_END.length);
  }

  #text(text: string): void {
    const last = this.#keys.at(-1);
    if (last?.name === "text") last.text += text;
    else this.#keys.push({ name: "text", text });
  }
}

// deno-lint-ignore no-control-regex
const CONTROLS = /[\x00-\x1f\x7f\x80-\x9f]/g;
// deno-lint-ignore no-control-regex
const PRINTABLE = /^[^\x00-\x1f\x7f\x80-\x9f]+/;

const ALT: Record<string, KeyName> = { b: "word-left", f: "word-right", "\x7f": "kill-word", "\x08": "kill-word" };

/** Where `text` must be cut so that a start of `marker` at its end stays for later. */
function cutBefore(text: string, marker: string): number {
  for (let keep = Math.min(marker.length - 1, text.length); keep > 0; keep--) {
    if (text.endsWith(marker.slice(0, keep))) return text.length - keep;
  }
  return text.length;
}
