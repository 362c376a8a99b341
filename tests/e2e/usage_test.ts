/**
 * Usage errors as a user meets them (`deno run main.ts <role> <bad
 * arguments>`): the process exits 2, standard error holds one line,
 * `<role>: <message>; run '<role> --help' for the flags` (never the
 * parser's own words, never the whole usage), and nothing starts
 * (standard output stays empty). Every flag's messages are in
 * tests/cli/flags_test.ts, and how `main` prints them in tests/main_test.ts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { runCli } from "../helpers/cli.ts";

Deno.test("usage: a usage error of each role exits 2 with one line ending in the pointer to --help, and starts nothing", async () => {
  const cases: [string[], string][] = [
    // Each would have started a server that ignored what was typed.
    [
      ["peer", "/tmp/p6", "--port", "5609"],
      "peer: unexpected argument /tmp/p6 (did you mean --dir /tmp/p6?); run 'peer --help' for the flags",
    ],
    [
      ["tracker", "4603"],
      "tracker: unexpected argument 4603 (did you mean --port 4603?); run 'tracker --help' for the flags",
    ],
    [
      ["tracker", "--port", "0", "--dir", "x"],
      "tracker: --dir is not a tracker flag (peer takes it); run 'tracker --help' for the flags",
    ],
    [
      ["peer", "--prot", "5609"],
      "peer: unknown flag --prot (did you mean --port?); run 'peer --help' for the flags",
    ],
    [
      ["peer", "--port", "0", "--timeout", "-1"],
      "peer: --timeout must be seconds from 0.001 to 2147483, got -1; run 'peer --help' for the flags",
    ],
    [
      ["tracker", "--port", "0", "--stats-every", "abc"],
      "tracker: --stats-every must be 0 or seconds up to 2147483, got abc; run 'tracker --help' for the flags",
    ],
    [
      ["peer", "--port", "0", "--max-upload-rate", "0"],
      "peer: --max-upload-rate 0 would stop every upload; leave the flag out for no limit; run 'peer --help' for the flags",
    ],
    [
      ["get", "--tracker", "127.0.0.1:1", "--wait-timeout", "5", "x"],
      "get: --wait-timeout only applies with --wait; add --wait, or leave --wait-timeout out; run 'get --help' for the flags",
    ],
    [
      ["get", "--tracker", "127.0.0.1:1"],
      "get: no file name given (get [flags] NAME...); run 'get --help' for the flags",
    ],
    [
      ["get", "--tracker", "127.0.0.1:1", "a", ""],
      "get: file name 2 of 2 is empty (''); run 'get --help' for the flags",
    ],
    [
      ["get", "--tracker", "127.0.0.1:1", ...Array.from({ length: 257 }, (_, i) => `f${i}`)],
      "get: 257 file names given, at most 256 at once; split them over several runs; run 'get --help' for the flags",
    ],
    [["cat", "--tracker", "127.0.0.1:1"], "cat: no file name given (cat [flags] NAME); run 'cat --help' for the flags"],
    [
      ["cat", "--tracker", "127.0.0.1:1", "a", "b"],
      "cat: 2 file names given; it prints one file at a time; run 'cat --help' for the flags",
    ],
    [
      ["cat", "--sources", "2", "x"],
      "cat: --sources is not a cat flag (peer and get take it); run 'cat --help' for the flags",
    ],
    [["demo", "7"], "demo: unexpected argument 7 (the demo takes no argument); run 'demo --help' for the flags"],
  ];
  const results = await Promise.all(cases.map(([args]) => runCli(args)));
  for (const [i, [args, line]] of cases.entries()) {
    const r = results[i];
    const what = args.slice(0, 6).join(" ");
    assert.equal(r.code, 2, `${what}: ${r.stdoutText}${r.stderrText}`);
    assert.equal(r.stderrText, line + "\n", what);
    assert.equal(r.stdoutText, "", `${what}: nothing started`);
  }
});
