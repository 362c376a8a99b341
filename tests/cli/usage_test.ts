/**
 * What `--help` prints (`cli/usage.ts`): each role's usage explains
 * exactly the flags that role takes, every description starts in one
 * column, no line is wider than 80 columns, every role has a usage, and the
 * peer's prompt lists every command it answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FLAG_NAMES, ROLE_FLAGS, type RoleName } from "../../cli/flags.ts";
import { PEER_COMMANDS, USAGE } from "../../cli/usage.ts";

const ROLES: RoleName[] = ["tracker", "peer", "get", "cat", "demo"];
/** The column every flag's description starts in. */
const COLUMN = 24;
/** A flag's line of a usage: two spaces, the flag (`-h, ` before `--help`), what follows it. */
const FLAG_LINE = /^ {2}(?:-h, )?--([a-z-]+)\b/;

/** The flags a role's usage explains, in its order. */
function explained(role: RoleName): string[] {
  return USAGE[role].split("\n").flatMap((line) => FLAG_LINE.exec(line)?.[1] ?? []);
}

Deno.test("usage: each role's usage explains exactly the flags the role takes", () => {
  for (const role of ROLES) {
    assert.deepEqual(explained(role).toSorted(), [...ROLE_FLAGS[role]].toSorted(), role);
  }
  const all = ROLES.flatMap(explained);
  for (const name of FLAG_NAMES) assert.ok(all.includes(name), `--${name} is explained nowhere`);
});

Deno.test("usage: every flag's description starts in one column; a long flag has it on the next line", () => {
  for (const role of ROLES) {
    const lines = USAGE[role].split("\n");
    for (const [i, line] of lines.entries()) {
      if (!FLAG_LINE.test(line)) continue;
      const gap = /^ {2}\S+(?: \S+)? {2,}(?=\S)/.exec(line);
      if (gap) {
        assert.equal(gap[0].length, COLUMN, `${role}: ${line}`);
      } else {
        // The flag alone on its line; the description below it, in the column.
        assert.match(line, /^ {2}\S+(?: \S+)?$/, `${role}: ${line}`);
        assert.match(lines[i + 1], new RegExp(`^ {${COLUMN}}\\S`), `${role}: after ${line}`);
      }
      // Its description's further lines, if any, are in the column too.
      for (let j = i + 1; j < lines.length && /^ {3,}/.test(lines[j]) && !FLAG_LINE.test(lines[j]); j++) {
        assert.match(lines[j], new RegExp(`^ {${COLUMN}}\\S`), `${role}: ${lines[j]}`);
      }
    }
  }
  assert.match(USAGE.get, /^ {2}--max-download-rate R\n {24}all downloads together/m);
});

Deno.test("usage: no line of any usage is wider than 80 columns", () => {
  for (const [role, text] of Object.entries(USAGE)) {
    for (const line of text.split("\n")) assert.ok(line.length <= 80, `${role}: ${line.length}: ${line}`);
  }
});

Deno.test("usage: the rates say their units are powers of 1024, with or without B or iB", () => {
  for (const role of ["peer", "get"] as const) {
    const text = USAGE[role].replace(/\n {24}/g, " ");
    assert.match(text, /K, M, G with or without B or iB: all powers of 1024/, role);
  }
});

Deno.test("usage: get shows --parts and --clean, and that they go without names", () => {
  assert.match(USAGE.get, /^ {7}get --parts \| --clean \[--out DIR\]$/m);
});

Deno.test("usage: the command line's usage names every role, and each role has its own", () => {
  for (const role of ROLES) {
    assert.match(USAGE.main, new RegExp(`^  ${role} `, "m"), role);
    assert.match(USAGE[role], /^usage: /, role);
  }
});

Deno.test("usage: the peer's prompt lists every command it answers, and the peer's usage shows that list", () => {
  for (const command of ["SEND", "PEERS", "LIST", "STATS", "HELP", "QUIT"]) {
    assert.match(PEER_COMMANDS, new RegExp(`^  ${command}\\b`, "m"), command);
  }
  assert.ok(USAGE.peer.includes(PEER_COMMANDS));
});

Deno.test("usage: the peer's --no-partial says that a download is then served only once whole", () => {
  const text = USAGE.peer.replace(/\n {24}/g, " ");
  assert.match(
    text,
    /^ {2}--no-partial {10}serve a download only once it has landed whole, not its verified chunks while it runs$/m,
  );
});
