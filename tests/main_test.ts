/**
 * The command line's door, `main(args)`, called in this process: `--help`
 * and the usage, role dispatch, `<role> --help`, and exit code 2 with
 * `<role>: <message>` and the role's usage for a usage error. Only what is
 * decided before a role starts is run here (a role that starts gives up
 * permissions for the rest of its process); the roles themselves run as
 * processes in tests/e2e/.
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

Deno.test("main: no role prints the usage and exits 2", async () => {
  const noRole = await runMain([]);
  assert.equal(noRole.code, Exit.USAGE);
  assert.match(noRole.stdout, /^usage: main\.ts <role>/m);
});

Deno.test("main: an unknown role exits 2 naming it, then the usage, on stderr", async () => {
  for (const args of [["fly"], ["fly", "--help"], ["Tracker"]]) {
    const unknown = await runMain(args);
    assert.equal(unknown.code, Exit.USAGE, args.join(" "));
    assert.match(unknown.stderr, new RegExp(`^unknown role "${args[0]}"$`, "m"));
    assert.match(unknown.stderr, /^usage: main\.ts <role>/m);
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

Deno.test("main: a bad flag value exits 2 with '<role>: <message>', a blank line and the role's usage, nothing on stdout", async () => {
  const cases: [string[], RegExp][] = [
    [
      ["get", "--max-download-rate", "abc", "x"],
      /^get: --max-download-rate must be bytes per second like 500K or 2M, got abc$/m,
    ],
    [["get", "--max-download-rate", "0", "x"], /^get: --max-download-rate must be bytes per second .*, got 0$/m],
    [["peer", "--max-download-rate=-1M"], /^peer: --max-download-rate must be bytes per second .*, got -1M$/m],
    [
      ["get", "--wait", "--wait-timeout", "0", "x"],
      /^get: --wait-timeout must be whole seconds from 1 to 86400, got 0$/m,
    ],
    [["get", "--wait-timeout", "1.5", "x"], /^get: --wait-timeout must be whole seconds from 1 to 86400, got 1\.5$/m],
    [["peer", "--wait-timeout", "86401"], /^peer: --wait-timeout must be whole seconds from 1 to 86400, got 86401$/m],
    [["tracker", "--stats-every=-1"], /^tracker: --stats-every must be 0 or seconds up to \d+, got -1$/m],
    [["tracker", "--stats-every", "abc"], /^tracker: --stats-every must be 0 or seconds up to \d+, got abc$/m],
    [["tracker", "--stats-every", "0.001"], /^tracker: --stats-every must be 0 or seconds up to \d+, got 0\.001$/m],
    [["get", "--tracker", "127.0.0.1:1", "--sources", "0", "f.txt"], /^get: --sources must be 1-64, got 0$/m],
    [["get", "--tracker", "127.0.0.1:1", "--sources", "x", "f.txt"], /^get: --sources must be 1-64, got x$/m],
    [["get", "--tracker", "127.0.0.1:1", "--sources", "65", "f.txt"], /^get: --sources must be 1-64, got 65$/m],
    [
      ["peer", "--tracker", "127.0.0.1:1", "--max-upload-rate", "fast"],
      /^peer: --max-upload-rate must be bytes per second like 500K or 2M, got fast$/m,
    ],
    [
      ["peer", "--tracker", "127.0.0.1:1", "--max-upload-rate", "0"],
      /^peer: --max-upload-rate must be bytes per second like 500K or 2M, got 0$/m,
    ],
    [["tracker", "--port", "0", "--demote-after", "0"], /^tracker: --demote-after must be 1 or more, got 0$/m],
    [["get", "--tracker", "127.0.0.1:1", "--bogus", "file1.txt"], /^get: Unknown option '--bogus'/m],
    [["get", "--port", "abc", "file1.txt"], /^get: --port must be 0-65535, got abc$/m],
    [["get", "--port", "65536", "file1.txt"], /^get: --port must be 0-65535, got 65536$/m],
    [["cat", "--tracker", "nowhere", "x"], /^cat: --tracker must be HOST:PORT, got nowhere$/m],
    [["demo", "--timeout", "0"], /^demo: --timeout must be seconds from 0\.001 to \d+, got 0$/m],
  ];
  for (const [args, message] of cases) {
    const r = await runMain(args);
    const what = args.join(" ");
    assert.equal(r.code, Exit.USAGE, `${what}: ${r.stdout}${r.stderr}`);
    assert.match(r.stderr, message, what);
    assert.match(r.stderr, new RegExp(`^usage: ${args[0]}\\b`, "m"), what);
    // The message, a blank line, the usage: nothing else.
    assert.ok(r.stderr.endsWith(`\n\n${USAGE[args[0]]}\n`), `${what}: ${JSON.stringify(r.stderr)}`);
    assert.equal(r.stderr.split("\n\n")[0].split("\n").length, 1, `${what}: one line before the usage`);
    assert.equal(r.stdout, "", `${what}: nothing started`);
  }
});
