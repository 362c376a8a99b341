/**
 * Which role takes which flag (`ROLE_FLAGS` in `cli/flags.ts`), called
 * directly: each role takes its own flags and refuses every other with a
 * message naming the roles that take it; a flag no role has is refused
 * with the closest of the role's own when one is close; an argument a role
 * does not take is refused with what it likely meant; and none of the
 * parser's own messages ever reaches a person.
 *
 * @module
 */

import assert from "node:assert/strict";
import { UsageError } from "../../io/errors.ts";
import { closest, FLAG_NAMES, type FlagName, parseFlags, ROLE_FLAGS, type RoleName } from "../../cli/flags.ts";
import { refuses } from "../helpers/flags.ts";

const ROLES: RoleName[] = ["tracker", "peer", "get", "cat", "demo"];

/** A value each flag that takes one accepts. */
const SAMPLE: Partial<Record<FlagName, string>> = {
  tracker: "10.0.0.1:4000",
  host: "127.0.0.1",
  port: "4603",
  "http-port": "8080",
  dir: "d",
  out: "o",
  info: "i.txt",
  timeout: "3",
  sources: "2",
  "max-upload-rate": "1M",
  "max-download-rate": "1M",
  "demote-after": "3",
  "idle-timeout": "30",
  "max-connections": "10",
  "max-per-address": "2",
  "max-uploads": "8",
  "stats-every": "5",
  store: "redis://127.0.0.1:6379",
  lease: "30",
  "wait-timeout": "9",
  secret: "s",
  "tls-cert": "c.pem",
  "tls-key": "k.pem",
  "tls-ca": "ca.pem",
};

const TLS_FLAGS: FlagName[] = ["tls-cert", "tls-key", "tls-ca"];

/**
 * `flag` as typed, with a sample value if it takes one (and `--wait` before get's `--wait-timeout`; a TLS flag
 * with the role's other TLS flags, which it needs).
 */
function typed(role: RoleName, flag: FlagName): string[] {
  const value = SAMPLE[flag];
  const companions = TLS_FLAGS.includes(flag) && ROLE_FLAGS[role].includes(flag)
    ? TLS_FLAGS.filter((f) => f !== flag && ROLE_FLAGS[role].includes(f)).flatMap((f) => [`--${f}`, SAMPLE[f]!])
    : [];
  const before = role === "get" && flag === "wait-timeout" ? ["--wait"] : companions;
  return [...before, `--${flag}`, ...value === undefined ? [] : [value]];
}

Deno.test("flags: each role takes the flags its command reads, and cat no --sources", () => {
  assert.deepEqual(ROLE_FLAGS, {
    tracker: [
      "host",
      "port",
      "http-port",
      "demote-after",
      "idle-timeout",
      "max-connections",
      "max-per-address",
      "stats-every",
      "store",
      "lease",
      "secret",
      "tls-cert",
      "tls-key",
      "help",
    ],
    peer: [
      "dir",
      "out",
      "info",
      "host",
      "port",
      "http-port",
      "tracker",
      "timeout",
      "sources",
      "max-upload-rate",
      "max-uploads",
      "max-connections",
      "max-per-address",
      "no-watch",
      "no-partial",
      "max-download-rate",
      "wait-timeout",
      "json",
      "secret",
      "tls-cert",
      "tls-key",
      "tls-ca",
      "help",
    ],
    get: [
      "out",
      "info",
      "wait",
      "wait-timeout",
      "tracker",
      "timeout",
      "sources",
      "max-download-rate",
      "json",
      "parts",
      "clean",
      "secret",
      "tls-ca",
      "help",
    ],
    cat: ["tracker", "timeout", "secret", "tls-ca", "help"],
    demo: ["help"],
  });
  // Every flag belongs to some role.
  for (const flag of FLAG_NAMES) assert.ok(ROLES.some((role) => ROLE_FLAGS[role].includes(flag)), flag);
});

Deno.test("flags: a role takes each of its own flags, and refuses every other naming the roles that take it", () => {
  for (const role of ROLES) {
    for (const flag of FLAG_NAMES) {
      const args = typed(role, flag);
      if (ROLE_FLAGS[role].includes(flag)) {
        parseFlags(args, { role, port: 1, cwd: "/x" });
        continue;
      }
      const takers = ROLES.filter((r) => ROLE_FLAGS[r].includes(flag));
      const names = takers.length === 1 ? takers[0] : `${takers.slice(0, -1).join(", ")} and ${takers.at(-1)}`;
      const verb = takers.length === 1 ? "takes" : "take";
      refuses(args, `--${flag} is not a ${role} flag (${names} ${verb} it)`, role);
    }
  }
  refuses(["--dir", "x"], "--dir is not a tracker flag (peer takes it)", "tracker");
  refuses(["--sources", "3", "x"], "--sources is not a cat flag (peer and get take it)", "cat");
  refuses(["--secret", "s"], "--secret is not a demo flag (tracker, peer, get and cat take it)", "demo");
  refuses(["--wait"], "--wait is not a peer flag (get takes it)", "peer");
});

Deno.test("flags: an unknown flag is named, with the role's closest flag when one is close", () => {
  refuses(["--prot", "5609"], "unknown flag --prot (did you mean --port?)");
  refuses(["--prot=5609"], "unknown flag --prot (did you mean --port?)");
  refuses(["--tiemout", "3", "x"], "unknown flag --tiemout (did you mean --timeout?)", "get");
  refuses(["--max-upload", "3"], "unknown flag --max-upload (did you mean --max-uploads?)");
  refuses(
    ["--max-download-rat", "1M", "x"],
    "unknown flag --max-download-rat (did you mean --max-download-rate?)",
    "get",
  );
  refuses(["--Port", "1"], "unknown flag --Port (did you mean --port?)", "tracker");
  refuses(["--bogus", "file1.txt"], "unknown flag --bogus", "get");
  // Only the role's own flags are suggested: --dir is the peer's.
  refuses(["--dri", "x"], "unknown flag --dri", "tracker");
  refuses(["--dri", "x"], "unknown flag --dri (did you mean --dir?)", "peer");
  // One dash: the word typed is named, not the letters the parser split it into.
  refuses(["-port", "5609"], "unknown flag -port (did you mean --port?)");
  refuses(["-out=x", "a"], "unknown flag -out (did you mean --out?)", "get");
  refuses(["-x"], "unknown flag -x", "tracker");
  refuses(["-1"], "unknown flag -1", "peer");
});

Deno.test("flags: closest suggests only a near word: one edit for a short one, up to three for a long one", () => {
  const flags = ["port", "timeout", "max-download-rate"];
  assert.equal(closest("prot", flags), "port");
  assert.equal(closest("por", flags), "port");
  assert.equal(closest("pt", flags), undefined);
  assert.equal(closest("timeot", flags), "timeout");
  assert.equal(closest("tmeout", flags), "timeout");
  assert.equal(closest("tmeot", flags), undefined, "two edits in five letters");
  assert.equal(closest("max-dwnload-rte", flags), "max-download-rate");
  assert.equal(closest("xyz", flags), undefined);
});

Deno.test("flags: tracker, peer and demo take no argument but flags: each is named, with what it likely meant", () => {
  refuses(["/tmp/p6", "--port", "5609"], "unexpected argument /tmp/p6 (did you mean --dir /tmp/p6?)", "peer");
  refuses(["my files"], "unexpected argument 'my files' (did you mean --dir 'my files'?)", "peer");
  refuses(["5609"], "unexpected argument 5609 (did you mean --port 5609?)", "peer");
  refuses(["65536"], "unexpected argument 65536 (did you mean --dir 65536?)", "peer");
  refuses(["4603"], "unexpected argument 4603 (did you mean --port 4603?)", "tracker");
  refuses(["--port", "0", "0"], "unexpected argument 0 (did you mean --port 0?)", "tracker");
  refuses(["foo"], "unexpected argument foo (the tracker takes flags only)", "tracker");
  refuses(["70000"], "unexpected argument 70000 (the tracker takes flags only)", "tracker");
  refuses(["a", "b"], "unexpected arguments a b (the peer takes flags only)", "peer");
  refuses(["--", "--json"], "unexpected argument --json (did you mean --dir --json?)", "peer");
  // The demo has no --port: a number is not taken for one.
  refuses(["5"], "unexpected argument 5 (the demo takes no argument)", "demo");
});

Deno.test("flags: no message of the argument parser itself ever reaches a person", () => {
  const cases: [RoleName, string[]][] = [
    ["peer", ["--prot", "5609"]],
    ["peer", ["--port"]],
    ["peer", ["--timeout", "-1"]],
    ["tracker", ["--stats-every", "-1"]],
    ["get", ["--json=x", "a"]],
    ["get", ["-x", "a"]],
    ["get", ["-hx", "a"]],
    ["cat", ["--tracker"]],
    ["peer", ["-port"]],
    ["peer", ["--dir", "--out"]],
    ["tracker", ["-"]],
    ["demo", ["--", "x"]],
  ];
  for (const [role, args] of cases) {
    try {
      const flags = parseFlags(args, { role, port: 1, cwd: "/x" });
      assert.ok(flags.help, `${role} ${args.join(" ")}: accepted`);
    } catch (error) {
      assert.ok(error instanceof UsageError, `${role} ${args.join(" ")}: ${String(error)}`);
      assert.doesNotMatch(
        error.message,
        /Unknown option|ambiguous|argument missing|does not take an argument|To specify a positional|Option '/,
        `${role} ${args.join(" ")}`,
      );
    }
  }
});

Deno.test("flags: with --help (or -h) anywhere, nothing else is checked: nothing is going to run", () => {
  for (const role of ROLES) {
    for (const args of [["--help"], ["-h"], ["--bogus", "--help"], ["x", "-h"], ["--port", "-1", "--help"]]) {
      const flags = parseFlags(args, { role, port: 7, cwd: "/x" });
      assert.equal(flags.help, true, `${role} ${args.join(" ")}`);
      assert.equal(flags.port, 7, "every other field is its default");
    }
  }
});
