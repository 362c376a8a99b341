/**
 * What `cli/keys.ts` reads from a terminal's bytes: text (UTF-8 split
 * anywhere), Enter as CR, LF or CR LF (once, even split between reads),
 * the control keys, the escape sequences of xterm, VT100 and the Linux
 * console (also cut between reads), Alt and Ctrl with arrows, a bracketed
 * paste (text and line ends only, whatever it holds), and what it drops.
 *
 * @module
 */

import assert from "node:assert/strict";
import { type Key, KeyDecoder } from "../../cli/keys.ts";

const encode = (text: string) => new TextEncoder().encode(text);

/** The keys of `text` fed at once. */
function keysOf(text: string): Key[] {
  return new KeyDecoder().feed(encode(text));
}

/** The keys of `bytes` fed in pieces cut at `cuts`. */
function keysCut(bytes: Uint8Array, cuts: number[]): Key[] {
  const decoder = new KeyDecoder();
  const keys: Key[] = [];
  let from = 0;
  for (const to of [...cuts, bytes.length]) {
    keys.push(...decoder.feed(bytes.subarray(from, to)));
    from = to;
  }
  // Text cut in two comes as two runs: join them to compare.
  return keys.reduce<Key[]>((all, key) => {
    const last = all.at(-1);
    if (key.name === "text" && last?.name === "text") {
      all[all.length - 1] = { name: "text", text: last.text + key.text };
    } else all.push(key);
    return all;
  }, []);
}

Deno.test("keys: printable text in runs, Enter as CR, LF or CR LF", () => {
  assert.deepEqual(keysOf("LIST café 日本 👍🏽\r"), [{ name: "text", text: "LIST café 日本 👍🏽" }, { name: "enter" }]);
  assert.deepEqual(keysOf("a\nb\r\nc\r"), [
    { name: "text", text: "a" },
    { name: "enter" },
    { name: "text", text: "b" },
    { name: "enter" },
    { name: "text", text: "c" },
    { name: "enter" },
  ]);
});

Deno.test("keys: the control keys", () => {
  const cases: [string, Key["name"]][] = [
    ["\x01", "home"],
    ["\x02", "left"],
    ["\x03", "interrupt"],
    ["\x04", "eof"],
    ["\x05", "end"],
    ["\x06", "right"],
    ["\x08", "backspace"],
    ["\x7f", "backspace"],
    ["\x0b", "kill-end"],
    ["\x0e", "down"],
    ["\x10", "up"],
    ["\x15", "kill-start"],
    ["\x17", "kill-word"],
  ];
  for (const [text, name] of cases) assert.deepEqual(keysOf(text), [{ name }], JSON.stringify(text));
  // Tab, Ctrl-Z, Ctrl-L and a C1 control do nothing here.
  assert.deepEqual(keysOf("\t\x1a\x0c\u0085"), []);
});

Deno.test("keys: escape sequences of xterm, VT100 and the Linux console; Alt and Ctrl with arrows; unknown ones dropped", () => {
  const cases: [string, Key["name"]][] = [
    ["\x1b[A", "up"],
    ["\x1b[B", "down"],
    ["\x1b[C", "right"],
    ["\x1b[D", "left"],
    ["\x1bOA", "up"],
    ["\x1bOD", "left"],
    ["\x1b[H", "home"],
    ["\x1b[F", "end"],
    ["\x1bOH", "home"],
    ["\x1bOF", "end"],
    ["\x1b[1~", "home"],
    ["\x1b[7~", "home"],
    ["\x1b[4~", "end"],
    ["\x1b[8~", "end"],
    ["\x1b[3~", "delete"],
    ["\x1b[1;5D", "word-left"],
    ["\x1b[1;5C", "word-right"],
    ["\x1b[1;3D", "word-left"],
    ["\x1bb", "word-left"],
    ["\x1bf", "word-right"],
    ["\x1b\x7f", "kill-word"],
    ["\x1b\x1b[D", "left"],
  ];
  for (const [text, name] of cases) assert.deepEqual(keysOf(text), [{ name }], JSON.stringify(text));
  // F1, F5, Insert, Alt-x: nothing.
  assert.deepEqual(keysOf("\x1bOP\x1b[15~\x1b[2~\x1bx"), []);
});

Deno.test("keys: a sequence or a character cut between two reads waits for the rest, at every cut", () => {
  const typed = "é日\x1b[1;5Dx\x1b[3~👍\x1bOA\r\n\x03";
  const whole = keysOf(typed);
  assert.deepEqual(whole, [
    { name: "text", text: "é日" },
    { name: "word-left" },
    { name: "text", text: "x" },
    { name: "delete" },
    { name: "text", text: "👍" },
    { name: "up" },
    { name: "enter" },
    { name: "interrupt" },
  ]);
  const bytes = encode(typed);
  for (let cut = 1; cut < bytes.length; cut++) {
    assert.deepEqual(keysCut(bytes, [cut]), whole, `cut at byte ${cut}`);
  }
  // Every byte on its own.
  assert.deepEqual(keysCut(bytes, Array.from({ length: bytes.length - 1 }, (_, i) => i + 1)), whole);
});

Deno.test("keys: a bracketed paste is text and line ends only; what it holds does nothing else", () => {
  const paste = "\x1b[200~SEND a.txt\r\nPEERS\x03\x1b[A\tx\rLIST\x1b[201~";
  assert.deepEqual(keysOf(paste + "\x1b[D"), [
    { name: "text", text: "SEND a.txt" },
    { name: "enter" },
    { name: "text", text: "PEERS[A x" },
    { name: "enter" },
    { name: "text", text: "LIST" },
    { name: "left" },
  ]);
  // Cut anywhere, the end marker included, it reads the same.
  const bytes = encode(paste);
  const whole = keysOf(paste);
  for (let cut = 1; cut < bytes.length; cut++) assert.deepEqual(keysCut(bytes, [cut]), whole, `cut at ${cut}`);
});
