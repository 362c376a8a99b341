/**
 * What `--help` prints (`cli/usage.ts`): every flag the command line takes
 * is explained in some role's usage, every role has one, and the peer's
 * prompt lists every command it answers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { FLAG_NAMES } from "../../cli/flags.ts";
import { PEER_COMMANDS, USAGE } from "../../cli/usage.ts";

const ROLES = ["tracker", "peer", "get", "cat", "demo"];

Deno.test("usage: every flag the command line takes is explained in some role's usage", () => {
  const all = Object.values(USAGE).join("\n");
  for (const name of FLAG_NAMES) {
    assert.match(all, new RegExp(`^\\s+(?:-h, )?--${name}\\b`, "m"), `--${name} is explained nowhere`);
  }
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

Deno.test("usage: no line of any usage is wider than 80 columns", () => {
  for (const [role, text] of Object.entries(USAGE)) {
    for (const line of text.split("\n")) assert.ok(line.length <= 80, `${role}: ${line.length}: ${line}`);
  }
});
