/**
 * Where relative paths land, as a user runs the roles: `deno task` runs
 * every task in the project's folder, so `main.ts` resolves `--dir`,
 * `--out`, `--info` and their defaults against the folder the command was
 * typed in, which the runtime passes as `INIT_CWD`, and only where the task
 * grants reading it.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { re } from "../helpers/assert.ts";
import { within } from "../helpers/events.ts";
import { MAIN_PATH } from "../helpers/cli.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** The project's folder. */
const ROOT = join(MAIN_PATH, "..");

/** What a finished process printed. */
interface Ran {
  code: number;
  stdout: string;
  stderr: string;
}

/** Options of {@link runDeno}. */
interface RunOptions {
  /** The folder it runs in. */
  cwd: string;
  /** Its environment: only this (and no `INIT_CWD` from the test's own). */
  env: Record<string, string>;
  /** Written to its standard input, which is then closed. Default: none. */
  stdin?: string;
}

/** Runs `deno ARGS` to its end (killed after the usual wait) and returns what it printed. */
async function runDeno(args: string[], options: RunOptions): Promise<Ran> {
  const child = new Deno.Command(Deno.execPath(), {
    args,
    cwd: options.cwd,
    clearEnv: true,
    env: { NO_COLOR: "1", ...options.env },
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const output = child.output();
  const writer = child.stdin.getWriter();
  await writer.write(new TextEncoder().encode(options.stdin ?? ""));
  await writer.close();
  try {
    const done = await within(`deno ${args.join(" ")}`, output);
    const text = (bytes: Uint8Array) => new TextDecoder().decode(bytes);
    return { code: done.code, stdout: text(done.stdout), stderr: text(done.stderr) };
  } catch (error) {
    child.kill("SIGKILL");
    await output;
    throw error;
  }
}

/** Copies the project's runnable files (its modules and deno.json) into `dest`, so a wrong path lands there. */
async function copyProject(dest: string): Promise<void> {
  const skip = new Set([".git", "tests", "docs", "bench", "files", "node_modules", "info.txt"]);
  const copy = async (from: string, to: string) => {
    await Deno.mkdir(to, { recursive: true });
    for await (const entry of Deno.readDir(from)) {
      if (entry.isDirectory) await copy(join(from, entry.name), join(to, entry.name));
      else if (entry.isFile) await Deno.copyFile(join(from, entry.name), join(to, entry.name));
    }
  };
  await Deno.mkdir(dest, { recursive: true });
  for await (const entry of Deno.readDir(ROOT)) {
    if (skip.has(entry.name) || entry.name.startsWith(".")) continue;
    if (entry.isDirectory) await copy(join(ROOT, entry.name), join(dest, entry.name));
    else if (entry.isFile) await Deno.copyFile(join(ROOT, entry.name), join(dest, entry.name));
  }
}

Deno.test("paths: deno task get, typed in another folder, saves there (and --out, --info relative to it), not in the project", async () => {
  await using tmp = await tempDir();
  const project = join(tmp.path, "project");
  await copyProject(project);
  const here = await writeFiles(join(tmp.path, "here"), {});
  await writeFiles(join(here, "saved"), {});
  await using tracker = testTracker();
  await using _holder = await testPeer(tracker.address, { "hello.txt": "hello\n" });

  const task = ["task", "--config", join(project, "deno.json"), "get", "--tracker", tracker.address];
  const [plain, relative] = await Promise.all([
    runDeno([...task, "hello.txt"], { cwd: here, env: {} }),
    runDeno([...task, "--out", "saved", "--info", "reply.txt", "hello.txt"], { cwd: here, env: {} }),
  ]);

  assert.equal(plain.code, 0, plain.stdout + plain.stderr);
  assert.match(
    plain.stdout,
    new RegExp(`^saved hello\\.txt \\(.*\\) from \\S+ -> ${re(join(here, "hello.txt"))}$`, "m"),
  );
  assert.equal(relative.code, 0, relative.stdout + relative.stderr);
  assert.equal(await Deno.readTextFile(join(here, "saved", "hello.txt")), "hello\n");
  assert.match(await Deno.readTextFile(join(here, "reply.txt")), /^200-HOLDER /m);
  assert.deepEqual(await listDir(here), ["hello.txt", "reply.txt", "saved"]);
  const stray = (await listDir(project)).filter((name) => ["hello.txt", "saved", "reply.txt"].includes(name));
  assert.deepEqual(stray, [], "nothing lands in the project's folder");
});

Deno.test("paths: a peer given INIT_CWD (and leave to read it) shares --dir and keeps info.txt there", async () => {
  await using tmp = await tempDir();
  const typed = await writeFiles(join(tmp.path, "typed"), {});
  await writeFiles(join(typed, "shared"), { "a.txt": "a\n" });
  const proc = await writeFiles(join(tmp.path, "proc"), {});
  await using tracker = testTracker();

  const peer = await runDeno(
    [
      "run",
      "--allow-net",
      "--allow-read",
      "--allow-write",
      "--allow-env=INIT_CWD",
      MAIN_PATH,
      "peer",
      ...["--host", "127.0.0.1", "--port", "0", "--tracker", tracker.address, "--dir", "shared"],
    ],
    { cwd: proc, env: { INIT_CWD: typed }, stdin: "SEND missing.txt\nQUIT\n" },
  );

  assert.equal(peer.code, 0, peer.stdout + peer.stderr);
  assert.match(peer.stdout, new RegExp(`^shared 1 files? from ${re(join(typed, "shared"))}$`, "m"));
  assert.match(peer.stdout, /^failed missing\.txt: 404 /m);
  assert.match(await Deno.readTextFile(join(typed, "info.txt")), /^404-NOTFOUND missing\.txt$/m);
  assert.deepEqual(await listDir(proc), [], "nothing in the folder the process ran in");
});

Deno.test("paths: without leave to read INIT_CWD, paths resolve against the process's own folder", async () => {
  await using tmp = await tempDir();
  const elsewhere = await writeFiles(join(tmp.path, "elsewhere"), {});
  const proc = await writeFiles(join(tmp.path, "proc"), {});
  await using tracker = testTracker();
  await using _holder = await testPeer(tracker.address, { "hello.txt": "hello\n" });

  const get = await runDeno(
    ["run", "--no-prompt", "--allow-net", "--allow-read", "--allow-write", MAIN_PATH, "get"].concat(
      ["--tracker", tracker.address, "hello.txt"],
    ),
    { cwd: proc, env: { INIT_CWD: elsewhere } },
  );

  assert.equal(get.code, 0, get.stdout + get.stderr);
  assert.deepEqual(await listDir(proc), ["hello.txt"]);
  assert.deepEqual(await listDir(elsewhere), []);
});
