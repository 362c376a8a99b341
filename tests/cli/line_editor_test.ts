/**
 * The line being typed at the prompt (`cli/line_editor.ts`), fed key
 * sequences as a terminal sends them (through `cli/keys.ts`): the text and
 * cursor after each, history, what Enter, Ctrl-C and Ctrl-D ask of the
 * prompt, and the line as drawn: within the width at every width, the
 * cursor where the typing is, scrolled sideways with `…`, wide characters
 * counted as two columns.
 *
 * @module
 */

import assert from "node:assert/strict";
import { KeyDecoder } from "../../cli/keys.ts";
import { type EditorAction, LineEditor, width } from "../../cli/line_editor.ts";

/** Feeds `typed` (bytes as a terminal sends them) to `editor`; the actions that were not plain edits. */
function type(editor: LineEditor, typed: string): EditorAction[] {
  const keys = new KeyDecoder().feed(new TextEncoder().encode(typed));
  return keys.map((k) => editor.key(k)).filter((a) => a.type !== "edit" && a.type !== "none");
}

/** The text with `|` where the cursor is. */
function state(editor: LineEditor): string {
  return editor.text.slice(0, editor.cursor) + "|" + editor.text.slice(editor.cursor);
}

const LEFT = "\x1b[D";
const RIGHT = "\x1b[C";
const UP = "\x1b[A";
const DOWN = "\x1b[B";

Deno.test("line editor: typing, Left/Right, Home/End (and Ctrl-A/E), Backspace and Delete", () => {
  const cases: [string, string][] = [
    ["PERS", "PERS|"],
    [`PERS${LEFT}${LEFT}E`, "PEE|RS"],
    [`abc\x01X`, "X|abc"],
    [`abc\x1b[HX\x05Y`, "XabcY|"],
    [`abc${LEFT}${LEFT}${LEFT}${LEFT}${LEFT}`, "|abc"],
    [`abc${RIGHT}${RIGHT}`, "abc|"],
    [`abc\x7f`, "ab|"],
    [`abc${LEFT}\x7f`, "a|c"],
    [`abc\x01\x7f`, "|abc"],
    [`abc\x01\x1b[3~`, "|bc"],
    [`abc\x1b[3~`, "abc|"],
    [`abc${LEFT}\x04`, "ab|"],
  ];
  for (const [typed, expected] of cases) {
    const editor = new LineEditor();
    assert.deepEqual(type(editor, typed), [], JSON.stringify(typed));
    assert.equal(state(editor), expected, JSON.stringify(typed));
  }
});

Deno.test("line editor: Ctrl-U, Ctrl-K and Ctrl-W erase before, after, and the word before the cursor", () => {
  const cases: [string, string][] = [
    [`SEND a.txt${LEFT}${LEFT}\x15`, "|xt"],
    [`SEND a.txt\x01${RIGHT}${RIGHT}\x0b`, "SE|"],
    ["SEND a.txt, b.txt  \x17", "SEND a.txt, |"],
    ["SEND a.txt\x17\x17", "|"],
    [`SEND a.txt\x1b[1;5D\x17`, "|a.txt"],
    [`one two three\x1bb\x1bb\x1bf`, "one two| three"],
  ];
  for (const [typed, expected] of cases) {
    const editor = new LineEditor();
    type(editor, typed);
    assert.equal(state(editor), expected, JSON.stringify(typed));
  }
});

Deno.test("line editor: the cursor moves over what shows as one character (accents, flags, emoji with skin tones)", () => {
  const editor = new LineEditor();
  type(editor, `ae\u0301🇫🇷👍🏽z${LEFT}${LEFT}\x7f`);
  assert.equal(state(editor), "ae\u0301|👍🏽z", "the flag went whole");
  type(editor, `${LEFT}\x7f`);
  assert.equal(state(editor), "|e\u0301👍🏽z");
  type(editor, "\x1b[3~");
  assert.equal(state(editor), "|👍🏽z", "the e and its accent went together");
  type(editor, "\x1b[3~");
  assert.equal(state(editor), "|z", "the thumb and its skin tone went together");
});

Deno.test("line editor: Enter submits the line and empties it; Ctrl-C hands the line back, cleared; Ctrl-D quits only when empty", () => {
  const editor = new LineEditor();
  assert.deepEqual(type(editor, "PEERS\r"), [{ type: "submit", line: "PEERS" }]);
  assert.equal(state(editor), "|");
  assert.deepEqual(type(editor, "\r"), [{ type: "submit", line: "" }]);
  assert.deepEqual(type(editor, "LIST x\x03"), [{ type: "interrupt", line: "LIST x" }]);
  assert.equal(state(editor), "|");
  assert.deepEqual(type(editor, "\x03"), [{ type: "interrupt", line: "" }]);
  assert.deepEqual(type(editor, "ab\x04"), [], "Ctrl-D on text at its end: nothing");
  assert.deepEqual(type(editor, "\x15\x04"), [{ type: "eof" }]);
  // Several lines at once, as pasted: each submitted in turn.
  assert.deepEqual(type(editor, "\x1b[200~SEND a\nPEERS\n\x1b[201~"), [
    { type: "submit", line: "SEND a" },
    { type: "submit", line: "PEERS" },
  ]);
});

Deno.test("line editor: Up and Down go through earlier lines and back to what was being typed", () => {
  const editor = new LineEditor({ historySize: 3 });
  type(editor, "one\rtwo\rtwo\r\r   \rthree\rfour\r");
  assert.deepEqual(editor.history, ["two", "three", "four"], "no repeats, no blank lines, at most 3");
  type(editor, "draft");
  type(editor, UP);
  assert.equal(state(editor), "four|");
  type(editor, `${UP}${UP}${UP}${UP}`);
  assert.equal(state(editor), "two|", "stops at the oldest");
  type(editor, `X${DOWN}`);
  assert.equal(state(editor), "three|");
  type(editor, `${DOWN}${DOWN}${DOWN}`);
  assert.equal(state(editor), "draft|", "back to the line being typed");
  assert.deepEqual(type(editor, `${UP}\r`), [{ type: "submit", line: "four" }]);
  assert.deepEqual(editor.history, ["two", "three", "four"]);
  type(editor, `${UP}${UP}\x03${UP}`);
  assert.equal(state(editor), "four|", "after Ctrl-C, Up starts from the newest again");
});

Deno.test("line editor: a line that fits is drawn whole, the cursor after the prompt and the text before it", () => {
  const editor = new LineEditor();
  type(editor, `SEND 日本.txt${LEFT}${LEFT}${LEFT}${LEFT}`);
  assert.deepEqual(editor.view("> ", 80), { text: "> SEND 日本.txt", cursor: 2 + 5 + 4 });
  assert.deepEqual(new LineEditor().view("> ", 80), { text: "> ", cursor: 2 });
});

Deno.test("line editor: a long line scrolls sideways with … at the ends, never wider than the width less one, the cursor on it", () => {
  const words = "SEND " + Array.from({ length: 30 }, (_, i) => `file-${i}.bin`).join(", ");
  const editor = new LineEditor();
  type(editor, words);
  let view = editor.view("> ", 40);
  assert.ok(view.text.startsWith("> …"), view.text);
  assert.ok(view.text.endsWith(words.slice(-(39 - 3 - 1))), view.text);
  assert.equal(width(view.text), 38, "the text and a cell for the cursor fill 39 columns");
  assert.equal(view.cursor, 38);
  type(editor, "\x01");
  view = editor.view("> ", 40);
  assert.equal(view.text, `> ${words.slice(0, 39 - 2 - 1)}…`);
  assert.equal(view.cursor, 2);
  // Moving right to the edge scrolls one at a time, keeping what was shown where possible.
  for (let i = 0; i < 36; i++) type(editor, RIGHT);
  view = editor.view("> ", 40);
  assert.ok(view.text.startsWith("> …"), view.text);
  assert.ok(view.cursor <= 38 - 1, `${view.cursor}`);
  // At every width, for every cursor position, with wide characters too.
  for (const text of [words, "日本語のファイル名".repeat(8) + ".txt", "👍🏽a".repeat(30)]) {
    const e = new LineEditor();
    type(e, text + "\x01");
    for (let columns = 8; columns <= 60; columns++) {
      for (let step = 0; step <= Array.from(text).length; step++) {
        const v = e.view("> ", columns);
        assert.ok(width(v.text) <= columns - 1, `${columns}: ${JSON.stringify(v.text)} is ${width(v.text)} wide`);
        assert.ok(v.cursor <= columns - 1 && v.cursor >= 2, `${columns}: cursor ${v.cursor}`);
        type(e, RIGHT);
      }
      type(e, "\x01");
    }
  }
});

Deno.test("width: columns a terminal gives text (wide CJK and emoji two, marks none)", () => {
  assert.equal(width("SEND"), 4);
  assert.equal(width("日本.txt"), 8);
  assert.equal(width("e\u0301"), 1);
  assert.equal(width("👍🏽"), 2);
  assert.equal(width("🇫🇷"), 2);
  assert.equal(width("❤️"), 2);
  assert.equal(width("…"), 1);
});
