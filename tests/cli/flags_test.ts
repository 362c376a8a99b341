/**
 * What `cli/flags.ts` reads from a command line, called directly (no
 * process): every flag's default, the values it takes and what they become,
 * and every value it refuses with a `UsageError` whose message names the
 * flag, says what it must be, and quotes the value given. `main.ts` prints
 * that message after the role's name, then the usage, and exits 2 (see
 * tests/main_test.ts; tests/e2e/usage_test.ts runs that once per role).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Limits } from "../../protocol.ts";
import { UsageError } from "../../io/errors.ts";
import { Exit, type Flags, parseFlags, parseRate } from "../../cli/flags.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
/** The longest timer, in whole seconds (2^31 - 1 ms). */
const MAX_S = 2_147_483;

/** The flags `args` give, with the port default 5555 and no secret from the environment. */
function parse(args: string[]): Flags {
  return parseFlags(args, { port: 5555 });
}

/** `parseFlags(args)` throws a `UsageError` whose message is exactly `message` (text) or matches it. */
function refuses(args: string[], message: string | RegExp): void {
  let thrown: unknown;
  try {
    parse(args);
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof UsageError, `${args.join(" ")}: expected a UsageError, got ${String(thrown)}`);
  if (typeof message === "string") assert.equal(thrown.message, message, args.join(" "));
  else assert.match(thrown.message, message, args.join(" "));
}

/**
 * `--flag=value` is refused with `message`; so is `--flag value` when the
 * value does not start with a dash (which would read as another flag).
 */
function refusesValue(flag: string, value: string, message: string): void {
  refuses([`--${flag}=${value}`], message);
  if (!value.startsWith("-")) refuses([`--${flag}`, value], message);
}

/** Each value of `flag` in `values` gives `read(flags)` the value paired with it. */
function takes<T>(flag: string, values: [string, T][], read: (flags: Flags) => T): void {
  for (const [text, expected] of values) {
    assert.deepEqual(read(parse([`--${flag}`, text])), expected, `--${flag} ${text}`);
    assert.deepEqual(read(parse([`--${flag}=${text}`])), expected, `--${flag}=${text}`);
  }
}

Deno.test("flags: the exit codes are 0 done, 1 failed, 2 a usage error", () => {
  assert.deepEqual(Exit, { OK: 0, FAILED: 1, USAGE: 2 });
});

Deno.test("flags: with no flags every field has its documented default, and the port is the role's", () => {
  assert.deepEqual(parseFlags([], { port: 4444 }), {
    tracker: "127.0.0.1:4444",
    host: "0.0.0.0",
    port: 4444,
    dir: "./files",
    out: undefined,
    info: undefined,
    timeoutMs: 10_000,
    sources: 4,
    maxUploadRate: undefined,
    maxDownloadRate: undefined,
    demoteAfter: 2,
    idleTimeoutMs: 120_000,
    maxConnections: Limits.MAX_CONNECTIONS,
    maxPerAddress: 0,
    maxUploads: Limits.MAX_UPLOADS,
    statsEveryMs: 60_000,
    watch: true,
    wait: false,
    waitSeconds: 300,
    json: false,
    secret: undefined,
    help: false,
    names: [],
  });
  assert.equal(parseFlags([], { port: 0 }).port, 0);
});

Deno.test("flags: arguments that are not flags are file names, spaces and commas kept; after -- even a dash", () => {
  const flags = parse(["a b.txt", "--json", "x, y.csv", "--", "--not-a-flag"]);
  assert.deepEqual(flags.names, ["a b.txt", "x, y.csv", "--not-a-flag"]);
  assert.equal(flags.json, true);
});

Deno.test("flags: --tracker takes HOST:PORT and refuses anything else, quoting it", () => {
  takes(
    "tracker",
    [["10.0.0.1:4444", "10.0.0.1:4444"], ["localhost:1", "localhost:1"], ["[::1]:5", "[::1]:5"]],
    (f) => f.tracker,
  );
  for (const bad of ["nohost", "127.0.0.1:99999", "h:0", "h:", ":80", "h:x"]) {
    refusesValue("tracker", bad, `--tracker must be HOST:PORT, got ${bad}`);
  }
});

Deno.test("flags: --host, --dir, --out and --info are taken as given", () => {
  const flags = parse(["--host", "127.0.0.1", "--dir", "my files", "--out", "/tmp/x", "--info", "i.txt"]);
  assert.deepEqual([flags.host, flags.dir, flags.out, flags.info], ["127.0.0.1", "my files", "/tmp/x", "i.txt"]);
});

Deno.test("flags: --port takes 0-65535 and refuses the rest", () => {
  takes("port", [["0", 0], ["1", 1], ["4444", 4444], ["65535", 65_535]], (f) => f.port);
  for (const bad of ["65536", "abc", "-1", "1.5", "", "0x10", " 80"]) {
    refusesValue("port", bad, `--port must be 0-65535, got ${bad}`);
  }
});

Deno.test("flags: --timeout takes seconds from 0.001 to the longest timer, as ms", () => {
  takes("timeout", [["0.001", 1], ["0.5", 500], ["10", 10_000], [String(MAX_S), MAX_S * 1000]], (f) => f.timeoutMs);
  for (const bad of ["0", "0.0001", "-1", "abc", " ", "Infinity", "NaN", String(MAX_S + 1)]) {
    refusesValue("timeout", bad, `--timeout must be seconds from 0.001 to ${MAX_S}, got ${bad}`);
  }
});

Deno.test("flags: --sources takes whole numbers 1-64", () => {
  takes("sources", [["1", 1], ["3", 3], ["64", 64]], (f) => f.sources);
  for (const bad of ["0", "x", "65", "1.5", "-2", "+4", ""]) {
    refusesValue("sources", bad, `--sources must be 1-64, got ${bad}`);
  }
});

Deno.test("flags: --max-upload-rate and --max-download-rate take bytes per second with K, M or G (powers of 1024)", () => {
  const rates: [string, number][] = [
    ["1", 1],
    ["100", 100],
    ["500K", 500 * KiB],
    ["500k", 500 * KiB],
    ["2M", 2 * MiB],
    ["1.5M", 1.5 * MiB],
    ["16M", 16 * MiB],
    ["1G", 1024 * MiB],
    [" 2M ", 2 * MiB],
  ];
  takes("max-upload-rate", rates, (f) => f.maxUploadRate);
  takes("max-download-rate", rates, (f) => f.maxDownloadRate);
  for (const flag of ["max-upload-rate", "max-download-rate"]) {
    for (const bad of ["0", "fast", "abc", "-1M", "2T", "0.5", "", "M", "1e3"]) {
      refusesValue(flag, bad, `--${flag} must be bytes per second like 500K or 2M, got ${bad}`);
    }
  }
  assert.equal(parseRate("2M"), 2 * MiB);
  assert.throws(
    () => parseRate("fast"),
    /^UsageError: --max-upload-rate must be bytes per second like 500K or 2M, got fast$/,
  );
});

Deno.test("flags: --demote-after takes 1 or more", () => {
  takes("demote-after", [["1", 1], ["2", 2], ["1000000", 1_000_000]], (f) => f.demoteAfter);
  for (const bad of ["0", "-1", "x", "1.5", "1000001"]) {
    refusesValue("demote-after", bad, `--demote-after must be 1 or more, got ${bad}`);
  }
});

Deno.test("flags: --idle-timeout takes seconds from 0.01, as ms", () => {
  takes("idle-timeout", [["0.01", 10], ["3", 3_000], ["120", 120_000]], (f) => f.idleTimeoutMs);
  for (const bad of ["0", "0.001", "-5", "soon", String(MAX_S + 1)]) {
    refusesValue("idle-timeout", bad, `--idle-timeout must be seconds from 0.01 to ${MAX_S}, got ${bad}`);
  }
});

Deno.test("flags: --max-connections and --max-uploads take 1-1000000; --max-per-address also 0 (no limit)", () => {
  takes("max-connections", [["1", 1], ["2", 2], ["1000000", 1_000_000]], (f) => f.maxConnections);
  takes("max-uploads", [["1", 1], ["64", 64]], (f) => f.maxUploads);
  takes("max-per-address", [["0", 0], ["5", 5]], (f) => f.maxPerAddress);
  for (const flag of ["max-connections", "max-uploads"]) {
    for (const bad of ["0", "-1", "1.5", "many", "1000001"]) {
      refusesValue(flag, bad, `--${flag} must be 1-1000000, got ${bad}`);
    }
  }
  for (const bad of ["-1", "x", "1000001"]) {
    refusesValue("max-per-address", bad, `--max-per-address must be 0-1000000, got ${bad}`);
  }
});

Deno.test("flags: --stats-every takes 0 (never) or seconds from 0.01, as ms", () => {
  takes("stats-every", [["0", 0], ["0.05", 50], ["60", 60_000]], (f) => f.statsEveryMs);
  for (const bad of ["-1", "abc", "0.001", String(MAX_S + 1)]) {
    refusesValue("stats-every", bad, `--stats-every must be 0 or seconds up to ${MAX_S}, got ${bad}`);
  }
});

Deno.test("flags: --wait-timeout takes whole seconds from 1 to a day", () => {
  assert.equal(Limits.MAX_WAIT_SECONDS, 86_400);
  takes("wait-timeout", [["1", 1], ["60", 60], ["86400", 86_400]], (f) => f.waitSeconds);
  for (const bad of ["0", "1.5", "86401", "-1", "x"]) {
    refusesValue("wait-timeout", bad, `--wait-timeout must be whole seconds from 1 to 86400, got ${bad}`);
  }
});

Deno.test("flags: --no-watch, --wait, --json and --help (or -h) are switches that take no value", () => {
  const on = parse(["--no-watch", "--wait", "--json", "--help"]);
  assert.deepEqual([on.watch, on.wait, on.json, on.help], [false, true, true, true]);
  assert.equal(parse(["-h"]).help, true);
  refuses(["--json=x"], /^Option '--json' does not take an argument/);
  refuses(["--wait=yes"], /^Option '--wait' does not take an argument/);
});

Deno.test("flags: --secret is taken as given; without it the secret from the environment is used", () => {
  assert.equal(parse(["--secret", "s3cret"]).secret, "s3cret");
  assert.equal(parseFlags([], { port: 1, secret: "from env" }).secret, "from env");
  assert.equal(parseFlags(["--secret", "flag"], { port: 1, secret: "from env" }).secret, "flag", "the flag wins");
});

Deno.test("flags: an unknown flag or a flag without its value is a usage error naming it", () => {
  refuses(["--bogus", "file1.txt"], /^Unknown option '--bogus'/);
  refuses(["--port"], /^Option '--port <value>' argument missing/);
  refuses(["--tracker"], /^Option '--tracker <value>' argument missing/);
  // A value starting with a dash reads as another flag: it must be written --flag=-1.
  refuses(["--stats-every", "-1"], /^Option '--stats-every' argument is ambiguous\./);
});
