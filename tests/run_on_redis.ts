/**
 * Runs the tracker suite on a Redis store: starts one real `redis-server`
 * (no persistence, a free loopback port), runs `deno test` on every test
 * file that asks for the suite's store (`suiteTracker`,
 * `suiteStoreOptions` or `memoryOnly` of `tests/helpers/roles.ts`), or on
 * the files given, with `P2P_TEST_STORE=redis://127.0.0.1:PORT`, streams
 * its output, stops the server whatever happens, and exits with the test
 * run's status. Where `redis-server` is missing it says the Redis run is
 * skipped, and why, and exits 0.
 *
 * @example
 * ```sh
 * deno run --allow-run --allow-net=127.0.0.1 --allow-read --allow-write tests/run_on_redis.ts
 * deno run --allow-run --allow-net=127.0.0.1 --allow-read --allow-write tests/run_on_redis.ts \
 *   tests/tracker/session_wait_test.ts -- --filter FOUND
 * ```
 *
 * @module
 */

import { dirname, join, relative, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { redisSkipReason, startRedis } from "./helpers/redis.ts";
import { TEST_STORE_VARIABLE } from "./helpers/roles.ts";

/** The permissions and sanitizers of the project's `test` task, and what the suite's store needs. */
export const TEST_FLAGS = [
  "--allow-net",
  "--allow-read",
  "--allow-write",
  "--allow-run",
  `--allow-env=${TEST_STORE_VARIABLE}`,
  "--ignore-env=DEBUG",
  "--sanitize-ops",
  "--sanitize-resources",
];
/** Test files run side by side (`DENO_JOBS`) unless `--serial`. */
export const JOBS = 4;
/** A test file of the suite names one of these (from `tests/helpers/roles.ts`). */
const SUITE_MARK = /\b(suiteTracker|suiteStoreOptions|memoryOnly)\b/;

const USAGE = `usage: deno run --allow-run --allow-net=127.0.0.1 --allow-read --allow-write tests/run_on_redis.ts \\
         [--serial] [TEST_FILE...] [-- DENO_TEST_FLAG...]
  Runs the tracker suite (or the TEST_FILEs) on a fresh redis-server.
  --serial  one test file at a time (default: ${JOBS} side by side)
  --        what follows goes to deno test as is (--filter TEXT, say)`;

/** The `*_test.ts` files under `dir` that ask for the suite's store, sorted. */
export async function suiteFiles(dir: string): Promise<string[]> {
  const found: string[] = [];
  const walk = async (at: string) => {
    for await (const entry of Deno.readDir(at)) {
      const path = join(at, entry.name);
      if (entry.isDirectory) await walk(path);
      else if (entry.isFile && entry.name.endsWith("_test.ts") && SUITE_MARK.test(await Deno.readTextFile(path))) {
        found.push(path);
      }
    }
  };
  await walk(dir);
  return found.sort();
}

/** Runs `deno test` on `files` against the store at `url`; its exit code. Output goes where ours goes. */
async function runTests(
  url: string,
  files: string[],
  options: { serial: boolean; extra: string[]; cwd: string },
): Promise<number> {
  const args = ["test", ...TEST_FLAGS, ...(options.serial ? [] : ["--parallel"]), ...options.extra, ...files];
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    env: { [TEST_STORE_VARIABLE]: url, ...(options.serial ? {} : { DENO_JOBS: String(JOBS) }) },
    stdin: "null",
    stdout: "inherit",
    stderr: "inherit",
  }).spawn();
  // Ctrl-C reaches the test run too: wait for it to end, so that the server is stopped after it, not before.
  const signals: Deno.Signal[] = ["SIGINT", "SIGTERM"];
  const forward = () => {
    try {
      child.kill("SIGTERM");
    } catch (error) {
      if (!(error instanceof TypeError)) throw error; // it has exited already
    }
  };
  for (const signal of signals) Deno.addSignalListener(signal, forward);
  try {
    return (await child.status).code;
  } finally {
    for (const signal of signals) Deno.removeSignalListener(signal, forward);
  }
}

/** The command line: what to run, or a usage error. */
function parseArgs(args: string[]): { serial: boolean; files: string[]; extra: string[] } | string {
  const at = args.indexOf("--");
  const own = at < 0 ? args : args.slice(0, at);
  const extra = at < 0 ? [] : args.slice(at + 1);
  const files = own.filter((a) => !a.startsWith("-"));
  const unknown = own.find((a) => a.startsWith("-") && a !== "--serial");
  if (unknown !== undefined) return `Unknown flag ${unknown}`;
  return { serial: own.includes("--serial"), files, extra };
}

if (import.meta.main) {
  if (Deno.args.includes("--help")) {
    console.log(USAGE);
    Deno.exit(0);
  }
  const parsed = parseArgs(Deno.args);
  if (typeof parsed === "string") {
    console.error(`${parsed}\n${USAGE}`);
    Deno.exit(2);
  }
  if (Deno.permissions.querySync({ name: "run" }).state !== "granted") {
    console.error(`Cannot run the tracker suite on Redis: this needs --allow-run\n${USAGE}`);
    Deno.exit(2);
  }
  const skipped = redisSkipReason(); // with --allow-run, only a missing redis-server or redis-cli
  if (skipped !== undefined) {
    console.log(`tracker suite on Redis: skipped (${skipped})`);
    Deno.exit(0);
  }
  const tests = dirname(fileURLToPath(import.meta.url));
  const root = dirname(tests); // where deno.json is: the test run starts there, wherever this was started from
  const files = (parsed.files.length > 0 ? parsed.files.map((file) => resolve(file)) : await suiteFiles(tests))
    .map((path) => relative(root, path));
  let code: number;
  {
    await using redis = await startRedis();
    console.log(`tracker suite on Redis: ${redis.url}, ${files.length} test file${files.length === 1 ? "" : "s"}`);
    code = await runTests(redis.url, files, { ...parsed, cwd: root });
  }
  Deno.exit(code);
}
