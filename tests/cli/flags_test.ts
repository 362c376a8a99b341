/**
 * What `cli/flags.ts` reads from a command line, called directly (no
 * process): every flag's default, the values it takes and what they become,
 * and every value it refuses with a `UsageError` whose message names the
 * flag, says what it must be, and quotes the value given. Which role takes
 * which flag, unknown flags and stray arguments are in
 * tests/cli/flags_roles_test.ts; paths in tests/cli/flags_paths_test.ts.
 * `main.ts` prints a message after the role's name with a pointer to
 * `--help` and exits 2 (tests/main_test.ts; tests/e2e/usage_test.ts runs
 * that as a user does).
 *
 * @module
 */

import assert from "node:assert/strict";
import { Limits } from "../../protocol.ts";
import { UsageError } from "../../io/errors.ts";
import { Exit, type FlagName, type Flags, parseFlags, parseRate, ROLE_FLAGS, type RoleName } from "../../cli/flags.ts";
import { CWD, parse, refuses } from "../helpers/flags.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const GiB = 1024 * MiB;
/** The longest timer, in whole seconds (2^31 - 1 ms). */
const MAX_S = 2_147_483;

/** The first role that takes `flag` (the peer for most). */
function roleOf(flag: FlagName): RoleName {
  return (["peer", "get", "tracker", "cat"] as const).find((role) => ROLE_FLAGS[role].includes(flag)) ?? "demo";
}

/**
 * `--flag value` and `--flag=value` are both refused with `message`: a
 * value starting with a dash (`--timeout -1`) is the flag's value too.
 */
function refusesValue(flag: FlagName, value: string, message: string): void {
  const extra = flag === "wait-timeout" && roleOf(flag) === "get" ? ["--wait"] : [];
  refuses([...extra, `--${flag}=${value}`], message, roleOf(flag));
  refuses([...extra, `--${flag}`, value], message, roleOf(flag));
}

/** Each value of `flag` in `values` gives `read(flags)` the value paired with it. */
function takes<T>(flag: FlagName, values: [string, T][], read: (flags: Flags) => T): void {
  const role = roleOf(flag);
  for (const [text, expected] of values) {
    assert.deepEqual(read(parse([`--${flag}`, text], role)), expected, `--${flag} ${text}`);
    assert.deepEqual(read(parse([`--${flag}=${text}`], role)), expected, `--${flag}=${text}`);
  }
}

Deno.test("flags: the exit codes are 0 done, 1 failed, 2 a usage error", () => {
  assert.deepEqual(Exit, { OK: 0, FAILED: 1, USAGE: 2 });
});

Deno.test("flags: with no flags every field has its documented default, and the port is the role's", () => {
  const peer = {
    trackers: ["127.0.0.1:4444"],
    host: "0.0.0.0",
    port: 5555,
    httpPort: undefined,
    dir: "/home/me/files",
    out: undefined,
    info: "/home/me/info.txt",
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
    store: "memory",
    leaseSeconds: 60,
    watch: true,
    servePartial: true,
    wait: false,
    waitSeconds: 300,
    json: false,
    parts: false,
    clean: false,
    secret: undefined,
    tlsCert: undefined,
    tlsKey: undefined,
    tlsCa: undefined,
    help: false,
    names: [],
  };
  assert.deepEqual(parse([], "peer"), peer);
  // get saves into the folder it is run in and keeps no info file unless asked; it has no shared folder.
  assert.deepEqual(parse([], "get"), { ...peer, dir: "", out: CWD, info: undefined });
  // The roles without paths resolve none.
  assert.deepEqual(parseFlags([], { role: "tracker", port: 4444 }), { ...peer, port: 4444, dir: "", info: undefined });
  assert.equal(parseFlags([], { role: "cat", port: 0 }).port, 0);
});

Deno.test("flags: arguments that are not flags are file names of get and cat, spaces and commas kept; after -- even a dash", () => {
  const flags = parse(["a b.txt", "--json", "x, y.csv", "--", "--not-a-flag", "-1"], "get");
  assert.deepEqual(flags.names, ["a b.txt", "x, y.csv", "--not-a-flag", "-1"]);
  assert.equal(flags.json, true);
  assert.deepEqual(parse(["--timeout", "3", "hello.txt"], "cat").names, ["hello.txt"]);
});

Deno.test("flags: --tracker takes HOST:PORT and refuses anything else, quoting it", () => {
  takes(
    "tracker",
    [["10.0.0.1:4444", ["10.0.0.1:4444"]], ["localhost:1", ["localhost:1"]], ["[::1]:5", ["[::1]:5"]]],
    (f) => f.trackers,
  );
  for (const bad of ["nohost", "127.0.0.1:99999", "h:0", "h:", ":80", "h:x"]) {
    refusesValue("tracker", bad, `--tracker must be HOST:PORT, got ${bad}`);
  }
});

Deno.test("flags: --host is taken as given, but not empty", () => {
  assert.equal(parse(["--host", "127.0.0.1"]).host, "127.0.0.1");
  assert.equal(parse(["--host", "::"], "tracker").host, "::");
  refusesValue("host", "", "--host must be an address to listen on, like 0.0.0.0 or 127.0.0.1, got ''");
});

Deno.test("flags: --port takes 0-65535 and refuses the rest, a negative number too", () => {
  takes("port", [["0", 0], ["1", 1], ["4444", 4444], ["65535", 65_535]], (f) => f.port);
  const shown: Record<string, string> = { "": "''", " 80": "' 80'" };
  for (const bad of ["65536", "abc", "-1", "1.5", "", "0x10", " 80", "+80", "1e3"]) {
    refusesValue("port", bad, `--port must be 0-65535, got ${shown[bad] ?? bad}`);
  }
});

Deno.test("flags: --http-port takes 0-65535 (peer and tracker; off when not given), never the --port too", () => {
  takes("http-port", [["0", 0], ["8080", 8080], ["65535", 65_535]], (f) => f.httpPort);
  assert.equal(parse(["--http-port", "8080"], "tracker").httpPort, 8080);
  refusesValue("http-port", "65536", "--http-port must be 0-65535, got 65536");
  refuses(
    ["--port", "5600", "--http-port", "5600"],
    "--http-port 5600 is the --port as well; choose another, or 0 for any free one",
  );
  // Both 0: two different free ports.
  assert.equal(parse(["--port", "0", "--http-port", "0"]).httpPort, 0);
});

Deno.test("flags: --http-port with --secret (or P2P_SECRET) needs TLS, else is refused saying why and what to add", () => {
  for (const role of ["peer", "tracker"] as const) {
    refuses(
      ["--http-port", "0", "--secret", "s"],
      "--http-port with --secret needs --tls-cert and --tls-key: the HTTP face then asks every request for a bearer " +
        "token derived from the secret, which plain HTTP would show to anyone on the way; add --tls-cert FILE " +
        "--tls-key FILE, drop --http-port, or drop --secret",
      role,
    );
  }
  assert.throws(
    () => parseFlags(["--http-port", "0"], { role: "peer", port: 5555, cwd: CWD, secret: "from the environment" }),
    (e: Error) =>
      e instanceof UsageError && e.message.startsWith("--http-port with P2P_SECRET needs --tls-cert and --tls-key") &&
      e.message.endsWith("drop --http-port, or unset P2P_SECRET"),
  );
  // With TLS, taken: the HTTP face serves HTTPS and asks for the bearer token.
  const tls = ["--tls-cert", "c.pem", "--tls-key", "k.pem"];
  const tracker = parse(["--http-port", "0", "--secret", "s", ...tls], "tracker");
  assert.deepEqual([tracker.httpPort, tracker.secret], [0, "s"]);
  const peer = parse(["--http-port", "0", "--secret", "s", ...tls, "--tls-ca", "ca.pem"], "peer");
  assert.deepEqual([peer.httpPort, peer.secret], [0, "s"]);
});

Deno.test("flags: --timeout takes plain decimal seconds from 0.001 to the longest timer, as ms; -1 is its value, refused", () => {
  takes(
    "timeout",
    [["0.001", 1], ["0.5", 500], [".5", 500], ["10", 10_000], [String(MAX_S), MAX_S * 1000]],
    (f) => f.timeoutMs,
  );
  // 1e3, 0x10, +5 are numbers to JavaScript, but refused: more likely a slip than a wish (see numberFlag).
  const shown: Record<string, string> = { " ": "' '", " 5": "' 5'" };
  for (
    const bad of [
      "0",
      "0.0001",
      "-1",
      "-0.5",
      "abc",
      " ",
      "Infinity",
      "NaN",
      String(MAX_S + 1),
      "1e3",
      "0x10",
      "+5",
      " 5",
    ]
  ) {
    refusesValue("timeout", bad, `--timeout must be seconds from 0.001 to ${MAX_S}, got ${shown[bad] ?? bad}`);
  }
});

Deno.test("flags: --sources takes whole numbers 1-64", () => {
  takes("sources", [["1", 1], ["3", 3], ["64", 64]], (f) => f.sources);
  for (const bad of ["0", "x", "65", "1.5", "-2", "+4"]) {
    refusesValue("sources", bad, `--sources must be 1-64, got ${bad}`);
  }
  refusesValue("sources", "", "--sources must be 1-64, got ''");
});

Deno.test("flags: rates take bytes per second, K, M or G (any case) with or without B or iB, all powers of 1024", () => {
  const rates: [string, number][] = [
    ["1", 1],
    ["1048576", MiB],
    ["512K", 512 * KiB],
    ["512k", 512 * KiB],
    ["512KB", 512 * KiB],
    ["512KiB", 512 * KiB],
    ["10M", 10 * MiB],
    ["10m", 10 * MiB],
    ["10MB", 10 * MiB],
    ["10MiB", 10 * MiB],
    ["1.5M", 1.5 * MiB],
    ["1.5G", 1.5 * GiB],
    ["1GB", GiB],
    ["0.5K", 512],
  ];
  takes("max-upload-rate", rates, (f) => f.maxUploadRate);
  takes("max-download-rate", rates, (f) => f.maxDownloadRate);
  assert.equal(parseRate("2M"), 2 * MiB);
  assert.equal(parse(["--max-download-rate", "4M"], "get").maxDownloadRate, 4 * MiB);
});

Deno.test("flags: a rate of 0 says it would stop every transfer; other bad rates name the flag, the value and an example", () => {
  for (const zero of ["0", "0K", "0.0M", "0MB"]) {
    refusesValue(
      "max-upload-rate",
      zero,
      `--max-upload-rate ${zero} would stop every upload; leave the flag out for no limit`,
    );
    refusesValue(
      "max-download-rate",
      zero,
      `--max-download-rate ${zero} would stop every download; leave the flag out for no limit`,
    );
  }
  const example = "bytes per second like 10M, 512K or 1048576 (K, M, G: powers of 1024)";
  const shown: Record<string, string> = { "": "''", " 2M ": "' 2M '", "10 M": "'10 M'" };
  for (const flag of ["max-upload-rate", "max-download-rate"] as const) {
    for (const bad of ["fast", "-1M", "2T", "0.5", "", "M", "1e3", "10 M", " 2M ", "10Bi", "10KiBB", "99999999G"]) {
      refusesValue(flag, bad, `--${flag} must be ${example}, got ${shown[bad] ?? bad}`);
    }
    // A lowercase b is bits: refused, and said so, rather than read as bytes.
    for (const bits of ["10mb", "10Mb", "10Mib", "512kb"]) {
      refusesValue(flag, bits, `--${flag} must be ${example}, got ${bits} (b is bits: write B for bytes)`);
    }
  }
  assert.throws(() => parseRate("fast"), new UsageError(`--max-upload-rate must be ${example}, got fast`));
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
  for (const flag of ["max-connections", "max-uploads"] as const) {
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
  assert.equal(parse(["--wait", "--wait-timeout", "5", "x"], "get").waitSeconds, 5);
  for (const bad of ["0", "1.5", "86401", "-1", "x"]) {
    refusesValue("wait-timeout", bad, `--wait-timeout must be whole seconds from 1 to 86400, got ${bad}`);
  }
});

Deno.test("flags: --no-watch, --wait, --json, --parts, --clean and --help (or -h) are switches that take no value", () => {
  const peer = parse(["--no-watch", "--json"]);
  assert.deepEqual([peer.watch, peer.json], [false, true]);
  const get = parse(["--wait", "--json", "x"], "get");
  assert.deepEqual([get.wait, get.json], [true, true]);
  assert.equal(parse(["--parts"], "get").parts, true);
  assert.equal(parse(["--clean"], "get").clean, true);
  assert.equal(parse(["-h"]).help, true);
  assert.equal(parse(["--help"], "demo").help, true);
  refuses(["--json=x"], "--json takes no value, got --json=x; write --json alone");
  refuses(["--wait=yes", "x"], "--wait takes no value, got --wait=yes; write --wait alone", "get");
  refuses(["--no-watch="], "--no-watch takes no value, got --no-watch=; write --no-watch alone");
});

Deno.test("flags: --no-partial is a peer switch: downloads are then served only once whole (default: chunk by chunk)", () => {
  assert.equal(parse([]).servePartial, true);
  assert.equal(parse(["--no-partial"]).servePartial, false);
  assert.deepEqual(parse(["--no-partial", "--no-watch"]), { ...parse([]), servePartial: false, watch: false });
  refuses(["--no-partial=yes"], "--no-partial takes no value, got --no-partial=yes; write --no-partial alone");
  refuses(["--no-partial", "x"], "--no-partial is not a get flag (peer takes it)", "get");
});

Deno.test("flags: --secret is taken as given, a leading dash too; without it the secret from the environment is used", () => {
  assert.equal(parse(["--secret", "s3cret"]).secret, "s3cret");
  assert.equal(parse(["--secret", "-s3cret"]).secret, "-s3cret");
  refuses(["--secret="], "--secret must not be empty; leave it out for no secret");
  assert.equal(parseFlags([], { role: "get", port: 0, secret: "from env" }).secret, "from env");
  assert.equal(
    parseFlags(["--secret", "flag"], { role: "tracker", port: 1, secret: "from env" }).secret,
    "flag",
    "the flag wins",
  );
});

Deno.test("flags: a flag without its value, or whose value is another flag, is refused naming what it needs", () => {
  refuses(["--port"], "--port needs a value (--port PORT)");
  refuses(["--tracker"], "--tracker needs a value (--tracker HOST:PORT[,...])");
  refuses(["--json", "--timeout"], "--timeout needs a value (--timeout SECONDS)");
  refuses(
    ["--out", "--json"],
    "--out needs a value (--out DIR), got the flag --json; for a value starting with a dash write --out=VALUE",
  );
  refuses(["--secret", "-h"], /^--secret needs a value \(--secret S\), got the flag -h; /);
  refuses(["--dir", "--port=1"], /^--dir needs a value \(--dir DIR\), got the flag --port=1; /);
  // Written with =, it is the value, whatever it looks like.
  assert.equal(parse(["--out=--json"]).out, "/home/me/--json");
  // A dash that is no flag of ours is a value.
  assert.equal(parse(["--dir", "-x"]).dir, "/home/me/-x");
});

Deno.test("flags: a flag with a value given twice is refused, quoting both; a switch twice is the same switch", () => {
  refuses(["--port", "5609", "--port=5610"], "--port given twice (5609, then 5610); give it once");
  refuses(["--dir", "a b", "--json", "--dir", "c"], "--dir given twice ('a b', then c); give it once");
  assert.equal(parse(["--json", "--json"]).json, true);
});

Deno.test("flags: get's --wait-timeout only applies with --wait; the peer takes it alone (SEND --wait)", () => {
  refuses(
    ["--wait-timeout", "5", "x"],
    "--wait-timeout only applies with --wait; add --wait, or leave --wait-timeout out",
    "get",
  );
  assert.equal(parse(["--wait-timeout", "5", "--wait", "x"], "get").waitSeconds, 5);
  assert.equal(parse(["--wait-timeout", "5"], "peer").waitSeconds, 5);
});

Deno.test("flags: get --parts and --clean take no file name, not each other, and no flag but --out", () => {
  refuses(["--parts", "--clean"], /^--parts and --clean go one at a time: /, "get");
  refuses(["--clean", "--parts"], /^--parts and --clean go one at a time: /, "get");
  refuses(
    ["--parts", "a.txt", "b c"],
    "--parts takes no file name, got a.txt 'b c'; it lists the leftovers of every interrupted download in the --out folder",
    "get",
  );
  refuses(["x", "--clean"], /^--clean takes no file name, got x; it discards the leftovers /, "get");
  for (const stray of [["--wait"], ["--tracker", "h:1"], ["--json"], ["--timeout", "3"], ["--info", "i"]]) {
    const flag = stray[0].slice(2);
    refuses(
      ["--parts", ...stray],
      `--${flag} does not apply to --parts, which looks only at the --out folder; leave it out`,
      "get",
    );
  }
  const parts = parse(["--parts", "--out", "downloads"], "get");
  assert.deepEqual([parts.parts, parts.clean, parts.out, parts.names], [true, false, "/home/me/downloads", []]);
  // P2P_SECRET in the environment is no flag typed: it does not stop --clean.
  assert.equal(parseFlags(["--clean"], { role: "get", port: 0, secret: "s", cwd: CWD }).clean, true);
});

Deno.test("flags: --store takes memory or a Redis URL, refusing anything else with what it takes; --lease whole seconds", () => {
  const tracker = (args: string[]) => parse(args, "tracker");
  assert.equal(tracker([]).store, "memory");
  assert.equal(tracker(["--store", "redis://127.0.0.1:6379/2"]).store, "redis://127.0.0.1:6379/2");
  assert.equal(tracker(["--store", "redis-cluster://a:7000,b:7001"]).store, "redis-cluster://a:7000,b:7001");
  refuses(
    ["--store", "mysql://x"],
    '--store must be memory, redis://HOST:PORT[/DB] or redis-cluster://HOST:PORT[,HOST:PORT...], got "mysql://x"',
    "tracker",
  );
  refuses(
    ["--store", "redis://u:pw@h:1"],
    "--store takes no user or password (Redis AUTH is not supported)",
    "tracker",
  );
  refuses(["--store", "redis://a:1,b:2"], /redis:\/\/ names one server; for several use redis-cluster:\/\//, "tracker");
  refuses(["--store", "redis://h:99999"], /"h:99999" is not HOST:PORT/, "tracker");
  assert.equal(tracker(["--lease", "5"]).leaseSeconds, 5);
  refuses(["--lease", "0"], /--lease must be whole seconds 1-86400, got 0/, "tracker");
  refuses(["--store", "redis://h:1"], /--store is not a peer flag/, "peer");
});
