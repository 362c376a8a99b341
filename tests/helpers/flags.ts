/**
 * Helpers for the tests of `cli/flags.ts`: read a role's flags as `main.ts`
 * would, with a fixed folder for relative paths, and check the usage error
 * a command line gets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { UsageError } from "../../io/errors.ts";
import { type Flags, parseFlags, type RoleName } from "../../cli/flags.ts";

/** The folder relative paths resolve against in these tests. */
export const CWD = "/home/me";

/** The flags `args` give `role`, with its port 5555, no secret from the environment, and {@link CWD}. */
export function parse(args: string[], role: RoleName = "peer"): Flags {
  return parseFlags(args, { role, port: 5555, cwd: CWD });
}

/** `args` for `role` are refused with a `UsageError` whose message is exactly `message` (text) or matches it. */
export function refuses(args: string[], message: string | RegExp, role: RoleName = "peer"): void {
  let thrown: unknown;
  try {
    parse(args, role);
  } catch (error) {
    thrown = error;
  }
  const what = `${role} ${args.join(" ")}`;
  assert.ok(thrown instanceof UsageError, `${what}: expected a UsageError, got ${String(thrown)}`);
  if (typeof message === "string") assert.equal(thrown.message, message, what);
  else assert.match(thrown.message, message, what);
}
