/**
 * What the command line prints into a pipe: `--json` lines with the fields
 * docs/JSON.md gives, in its order, and plain text with no terminal control.
 *
 * @module
 */

import assert from "node:assert/strict";

/** The fields of a `--json` line, in the order docs/JSON.md gives. */
export const JSON_KEYS: readonly string[] = [
  "name",
  "status",
  "size",
  "sha256",
  "path",
  "durationMs",
  "waitedMs",
  "resumedBytes",
  "sources",
  "error",
];

/** The JSON line of `name` among `lines` (exactly one). */
export function byName(lines: Record<string, unknown>[], name: string): Record<string, unknown> {
  const found = lines.filter((l) => l.name === name);
  assert.equal(found.length, 1, `one line for ${name}: ${JSON.stringify(lines)}`);
  return found[0];
}

/** No terminal control in output meant for a pipe: no escape sequence, no carriage return. */
export function assertPlain(text: string, what: string): void {
  assert.ok(!text.includes("\x1b"), `${what} holds an escape character: ${JSON.stringify(text)}`);
  assert.ok(!text.includes("\r"), `${what} holds a carriage return: ${JSON.stringify(text)}`);
}
