/**
 * A usage error, once per role, as a user meets it (`deno run main.ts
 * <role> <bad flags>`): the process exits 2, standard error says
 * `<role>: <message>` then the role's usage, and nothing starts (standard
 * output stays empty). Every flag's messages are in tests/cli/flags_test.ts,
 * and how `main` prints them in tests/main_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { USAGE } from "../../cli/usage.ts";
import { re } from "../helpers/assert.ts";
import { runCli } from "../helpers/cli.ts";

Deno.test("usage: a usage error of each role exits 2 with the message, then the usage, and starts nothing", async () => {
  const cases: [string[], string][] = [
    [
      ["tracker", "--port", "0", "--stats-every", "abc"],
      "tracker: --stats-every must be 0 or seconds up to 2147483, got abc",
    ],
    [
      ["peer", "--port", "0", "--max-upload-rate", "fast"],
      "peer: --max-upload-rate must be bytes per second like 500K or 2M, got fast",
    ],
    [
      ["get", "--tracker", "127.0.0.1:1", "--wait-timeout", "0", "x"],
      "get: --wait-timeout must be whole seconds from 1 to 86400, got 0",
    ],
    [["cat", "--tracker", "nowhere", "x"], "cat: --tracker must be HOST:PORT, got nowhere"],
    [["demo", "--secret", "s"], "demo: demo runs without a secret"],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, [args, message]] of cases.entries()) {
    const r = results[i];
    const what = args.join(" ");
    assert.equal(r.code, 2, `${what}: ${r.stdoutText}${r.stderrText}`);
    assert.match(r.stderrText, new RegExp(`^${re(message)}$`, "m"), what);
    assert.match(r.stderrText, new RegExp(`^usage: ${args[0]}\\b`, "m"), what);
    assert.ok(r.stderrText.includes(USAGE[args[0]]), `${what}: the whole usage`);
    assert.equal(r.stdoutText, "", `${what}: nothing started`);
  }
});
