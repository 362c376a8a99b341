/**
 * The command line's door, `main(args)`, called in this process: `--help`
 * and `help ROLE`, role dispatch, `<role> --help`, and exit code 2 with one
 * line, `<role>: <message>; run '<role> --help' for the flags`, for a usage
 * error. Only what is decided before a role starts is run here (a role that
 * starts gives up permissions for the rest of its process); the roles
 * themselves run as processes in tests/e2e/.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Exit, main } from "../main.ts";
import { USAGE } from "../cli/usage.ts";

const ROLES = ["tracker", "peer", "get", "cat", "demo"];

/** What one `main(args)` returned and printed. */
interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `main(args)`, collecting what it prints with `console.log` (stdout) and `console.error` (stderr). */
async function runMain(args: string[]): Promise<Run> {
  const out: string[] = [];
  const err: string[] = [];
  const { log, error } = console;
  console.log = (...data: unknown[]) => void out.push(data.join(" ") + "\n");
  console.error = (...data: unknown[]) => void err.push(data.join(" ") + "\n");
  try {
    const code = await main(args);
    return { code, stdout: out.join(""), stderr: err.join("") };
  } finally {
    console.log = log;
    console.error = error;
  }
}

Deno.test("main: --help (or -h, or help) prints the usage with every role on stdout and exits 0", async () => {
  for (const flag of ["--help", "-h", "help"]) {
    const help = await runMain([flag]);
    assert.equal(help.code, Exit.OK, flag);
    assert.equal(help.stdout, USAGE.main + "\n");
    assert.match(help.stdout, /^usage: main\.ts <role> \[flags\]/m);
    for (const role of ROLES) assert.match(help.stdout, new RegExp(`^  ${role} `, "m"), `${flag}: ${role}`);
    assert.equal(help.stderr, "");
  }
});

Deno.test("main: help ROLE (or --help ROLE) prints that role's usage; an unknown or a second role is a usage error", async () => {
  for (const role of ROLES) {
    for (const flag of ["help", "--help"]) {
      const help = await runMain([flag, role]);
      assert.equal(help.code, Exit.OK, `${flag} ${role}`);
      assert.equal(help.stdout, USAGE[role] + "\n");
    }
  }
  const unknown = await runMain(["help", "fly"]);
  assert.equal(unknown.code, Exit.USAGE);
  assert.equal(
    unknown.stderr,
    `unknown role "fly"; the roles are tracker, peer, get, cat and demo; run with --help for more\n`,
  );
  const two = await runMain(["help", "peer", "get"]);
  assert.equal(two.code, Exit.USAGE);
  assert.equal(two.stderr, "help takes one role at most, got peer get; run with --help for the roles\n");
  assert.equal(two.stdout, "");
});

Deno.test("main: no role prints the usage and exits 2", async () => {
  const noRole = await runMain([]);
  assert.equal(noRole.code, Exit.USAGE);
  assert.match(noRole.stdout, /^usage: main\.ts <role>/m);
});

Deno.test("main: an unknown role exits 2 with one line naming it, the roles, and a close one if any", async () => {
  const cases: [string[], string][] = [
    [["fly"], `unknown role "fly"; the roles are tracker, peer, get, cat and demo; run with --help for more`],
    [["fly", "--help"], `unknown role "fly"; the roles are tracker, peer, get, cat and demo; run with --help for more`],
    [
      ["Tracker"],
      `unknown role "Tracker" (did you mean tracker?); the roles are tracker, peer, get, cat and demo; run with --help for more`,
    ],
    [
      ["pear"],
      `unknown role "pear" (did you mean peer?); the roles are tracker, peer, get, cat and demo; run with --help for more`,
    ],
    // Not a role, though every object has one by that name.
    [
      ["constructor"],
      `unknown role "constructor"; the roles are tracker, peer, get, cat and demo; run with --help for more`,
    ],
  ];
  for (const [args, line] of cases) {
    const unknown = await runMain(args);
    assert.equal(unknown.code, Exit.USAGE, args.join(" "));
    assert.equal(unknown.stderr, line + "\n");
    assert.equal(unknown.stdout, "");
  }
});

Deno.test("main: <role> --help (or -h) prints that role's usage and exits 0, starting nothing", async () => {
  for (const [role, flag] of [...ROLES.map((role) => [role, "--help"]), ["peer", "-h"]]) {
    const help = await runMain([role, flag]);
    assert.equal(help.code, Exit.OK, `${role} ${flag}: ${help.stderr}`);
    assert.equal(help.stdout, USAGE[role] + "\n");
    assert.match(help.stdout, new RegExp(`^usage: ${role}\\b`), `${role} ${flag}`);
    assert.doesNotMatch(help.stdout, /^listening on/m, `${role} ${flag} starts nothing`);
  }
  // --help after other flags still prints the usage, and starts nothing.
  const help = await runMain(["tracker", "--port", "0", "--help"]);
  assert.equal(help.code, Exit.OK);
  assert.match(help.stdout, /^usage: tracker /);
});

Deno.test("main: a usage error exits 2 with one line, '<role>: <message>; run '<role> --help' for the flags', nothing else", async () => {
  const cases: [string[], string][] = [
    [["peer", "/tmp/p6", "--port", "5609"], "unexpected argument /tmp/p6 (did you mean --dir /tmp/p6?)"],
    [["tracker", "4603"], "unexpected argument 4603 (did you mean --port 4603?)"],
    [["peer", "--prot", "5609"], "unknown flag --prot (did you mean --port?)"],
    [["tracker", "--dir", "x"], "--dir is not a tracker flag (peer takes it)"],
    [["get", "--tracker", "127.0.0.1:1", "--bogus", "file1.txt"], "unknown flag --bogus"],
    [["get", "--port", "abc", "file1.txt"], "--port is not a get flag (tracker and peer take it)"],
    [["peer", "--timeout", "-1"], "--timeout must be seconds from 0.001 to 2147483, got -1"],
    [["get", "--timeout", "1e3", "x"], "--timeout must be seconds from 0.001 to 2147483, got 1e3"],
    [
      ["get", "--max-download-rate", "abc", "x"],
      "--max-download-rate must be bytes per second like 10M, 512K or 1048576 (K, M, G: powers of 1024), got abc",
    ],
    [
      ["get", "--max-download-rate", "0", "x"],
      "--max-download-rate 0 would stop every download; leave the flag out for no limit",
    ],
    [
      ["peer", "--max-upload-rate", "0"],
      "--max-upload-rate 0 would stop every upload; leave the flag out for no limit",
    ],
    [
      ["get", "--wait-timeout", "5", "x"],
      "--wait-timeout only applies with --wait; add --wait, or leave --wait-timeout out",
    ],
    [["get", "--wait", "--wait-timeout", "0", "x"], "--wait-timeout must be whole seconds from 1 to 86400, got 0"],
    [["peer", "--wait-timeout", "86401"], "--wait-timeout must be whole seconds from 1 to 86400, got 86401"],
    [["tracker", "--stats-every", "-1"], "--stats-every must be 0 or seconds up to 2147483, got -1"],
    [["tracker", "--port", "0", "--demote-after", "0"], "--demote-after must be 1 or more, got 0"],
    [["get", "--sources", "65", "f.txt"], "--sources must be 1-64, got 65"],
    [["cat", "--sources", "2", "x"], "--sources is not a cat flag (peer and get take it)"],
    [["cat", "--tracker", "nowhere", "x"], "--tracker must be HOST:PORT, got nowhere"],
    [["demo", "--timeout", "0"], "--timeout is not a demo flag (peer, get and cat take it)"],
    [["demo", "--secret", "s"], "--secret is not a demo flag (tracker, peer, get and cat take it)"],
    [
      ["get", "--parts", "--clean"],
      "--parts and --clean go one at a time: --parts lists the leftovers, --clean discards them",
    ],
  ];
  for (const [args, message] of cases) {
    const r = await runMain(args);
    const what = args.join(" ");
    const role = args[0];
    assert.equal(r.code, Exit.USAGE, `${what}: ${r.stdout}${r.stderr}`);
    assert.equal(r.stderr, `${role}: ${message}; run '${role} --help' for the flags\n`, what);
    assert.equal(r.stdout, "", `${what}: nothing started`);
  }
});
