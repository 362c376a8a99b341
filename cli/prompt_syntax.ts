/**
 * What `SEND` takes at the peer's prompt, beyond the wire's name list:
 * the option `--wait`, `--` before names that start with `--`, and names
 * in double quotes, taken as written (a comma, `%41` or a leading `--`
 * inside stays part of the name; `\"` and `\\` as in JSON). A name not in
 * quotes is read as on the wire (`%2C` for a comma). {@link showName}
 * writes a name the way `SEND` reads it back, so that a name copied from
 * `LIST` fetches that file.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.deepEqual(parseSendArguments('--wait "a, b.txt", c.txt'), {
 *   wait: true,
 *   names: ["a, b.txt", "c.txt"],
 *   list: "a%2C b.txt, c.txt",
 * });
 * assert.equal(showName("a, b.txt"), '"a, b.txt"');
 * assert.equal(showName("100% done.txt"), "100% done.txt");
 * ```
 *
 * @module
 */

import { decodeName, encodeName } from "../protocol.ts";
import { editDistance } from "../io/words.ts";

/** The options `SEND` knows. */
const OPTIONS = ["--wait"] as const;

/** A `SEND` line that cannot be run, and why, in words that say what to type instead. */
export class SendSyntaxError extends Error {
  /** `SendSyntaxError`. */
  override name = "SendSyntaxError";
}

/** A `SEND` line, read. */
export interface SendArguments {
  /** `--wait` was given. */
  wait: boolean;
  /** The names, decoded as far as they can be (a bad one as typed: the download refuses it, saying why). */
  names: string[];
  /** The names as a wire list (each encoded, joined by `, `), for `Peer.send`. */
  list: string;
}

/**
 * Reads what follows `SEND`. Throws {@link SendSyntaxError} for an
 * unknown option (suggesting the one meant, and `--` for a name that
 * starts with `--`), a quote that does not close, and no name at all.
 */
export function parseSendArguments(rest: string): SendArguments {
  let wait = false;
  let at = 0;
  const given: string[] = [];
  while (true) {
    const word = /^\s*(\S+)/.exec(rest.slice(at));
    if (!word || !word[1].startsWith("--")) break;
    at += word[0].length;
    if (word[1] === "--") {
      given.push("--");
      break;
    }
    if (word[1] === "--wait") {
      wait = true;
      given.push(word[1]);
      continue;
    }
    const meant = closest(word[1]);
    const guess = meant ? ` (did you mean ${meant}?)` : ` (SEND knows ${OPTIONS.join(", ")})`;
    const typed = ["SEND", ...given, "--", rest.slice(at - word[1].length).trim()].join(" ");
    throw new SendSyntaxError(
      `SEND: unknown option ${word[1]}${guess}; a name starting with -- goes after --: ${typed}`,
    );
  }
  const names: string[] = [];
  const encoded: string[] = [];
  for (const item of splitItems(rest.slice(at))) {
    if (item.quoted) {
      names.push(item.text);
      encoded.push(encodeName(item.text));
    } else {
      names.push(decodedOrTyped(item.text));
      encoded.push(item.text);
    }
  }
  if (names.length === 0) {
    throw new SendSyntaxError(`SEND: no file name given; type SEND name[, name...]${wait ? " after --wait" : ""}`);
  }
  return { wait, names, list: encoded.join(", ") };
}

/**
 * `name` as `SEND` reads it back: as it is, or in double quotes when it
 * holds a comma, something that reads as a `%`-escape, or starts with `--`
 * or a quote.
 */
export function showName(name: string): string {
  const plain = !name.includes(",") && !/%[0-9A-Fa-f]{2}/.test(name) && !name.startsWith("--") &&
    !name.startsWith('"') && name === name.trim();
  return plain ? name : JSON.stringify(name);
}

/** The list's items: quoted ones taken as written, the others trimmed and still encoded; empty ones dropped. */
function splitItems(text: string): { text: string; quoted: boolean }[] {
  const items: { text: string; quoted: boolean }[] = [];
  let at = 0;
  while (at < text.length) {
    const space = /^\s*/.exec(text.slice(at))![0].length;
    at += space;
    if (text[at] !== '"') {
      const comma = text.indexOf(",", at);
      const end = comma < 0 ? text.length : comma;
      const bare = text.slice(at, end).trim();
      if (bare) items.push({ text: bare, quoted: false });
      at = end + 1;
      continue;
    }
    const quoted = /^"(?:[^"\\]|\\.)*"/.exec(text.slice(at));
    if (!quoted) {
      throw new SendSyntaxError(
        `SEND: the quote before ${text.slice(at, at + 20)} does not close; write a name with a comma in quotes: ` +
          `SEND "a, b.txt"`,
      );
    }
    let name: string;
    try {
      name = JSON.parse(quoted[0]);
    } catch (error) {
      throw new SendSyntaxError(
        `SEND: cannot read ${quoted[0]}: ${(error as Error).message}; inside quotes write \\" and \\\\`,
      );
    }
    at += quoted[0].length;
    const after = /^\s*(,|$)/.exec(text.slice(at));
    if (!after) {
      throw new SendSyntaxError(
        `SEND: ${text.slice(at).trim().slice(0, 20)} follows the quoted name ${quoted[0]}; put it inside the quotes, ` +
          `or a comma between names`,
      );
    }
    at += after[0].length;
    items.push({ text: name, quoted: true });
  }
  return items;
}

/** A name from the wire's encoding, or as typed when it is not a valid name (its download says why). */
function decodedOrTyped(text: string): string {
  try {
    return decodeName(text);
  } catch {
    return text;
  }
}

/** The option `word` was probably meant to be: the same but for case, a start of it, or two edits away. */
function closest(word: string): string | undefined {
  const typed = word.toLowerCase();
  return OPTIONS.find((option) => (typed.length >= 3 && option.startsWith(typed)) || editDistance(typed, option) <= 2);
}
