/**
 * The single-file build. `deno compile` needs Deno's runtime from the
 * internet, which this machine has not; `deno bundle` turns the same entry
 * point into one JavaScript file with everything it imports, which is the
 * part of `deno compile` that can go wrong in this project (an import that
 * only works from the source tree, a role missing from the entry point).
 * These tests bundle `main.ts` and run the bundle's roles on real sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { TrackerClient } from "../../peer/tracker_client.ts";
import { LISTENING_LINE, MAIN_PATH } from "../helpers/cli.ts";
import { WAIT_MS } from "../helpers/events.ts";
import { tempDir } from "../helpers/temp.ts";

/** Runs `deno <args>` (in `cwd`) to its end; its exit code and output. */
async function runDeno(args: string[], cwd?: string): Promise<{ code: number; stdout: string; stderr: string }> {
  const { code, stdout, stderr } = await new Deno.Command(Deno.execPath(), { args, cwd, stdin: "null" }).output();
  const decoder = new TextDecoder();
  return { code, stdout: decoder.decode(stdout), stderr: decoder.decode(stderr) };
}

/**
 * Reads `reader` until `pattern` matches the text so far, and returns the
 * match; fails if the stream ends first, or after {@link WAIT_MS}.
 */
async function readUntil(reader: ReadableStreamDefaultReader<string>, pattern: RegExp): Promise<RegExpExecArray> {
  let text = "";
  const timer = setTimeout(() => reader.cancel(), WAIT_MS);
  try {
    while (true) {
      const { value, done } = await reader.read();
      if (done) throw new Error(`ended (or ${WAIT_MS} ms passed) before ${pattern}: ${text}`);
      text += value;
      const match = pattern.exec(text);
      if (match) return match;
    }
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("bundle: main.ts bundles into one file whose roles run: --help, a tracker, and get against it", async () => {
  await using dir = await tempDir();
  const bundle = join(dir.path, "p2p.js");
  const built = await runDeno(["bundle", "--quiet", "--platform", "deno", "-o", bundle, MAIN_PATH]);
  assert.equal(built.code, 0, built.stderr);
  assert.ok((await Deno.stat(bundle)).size > 0);

  const help = await runDeno(["run", "--no-prompt", bundle, "--help"]);
  assert.equal(help.code, 0, help.stderr);
  for (const role of ["tracker", "peer", "get", "cat", "demo"]) {
    assert.match(help.stdout, new RegExp(`^  ${role} `, "m"));
  }

  // The tracker from the bundle, with only the permissions its task grants.
  const tracker = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "--no-prompt",
      "--allow-net",
      "--allow-env=P2P_SECRET",
      bundle,
      "tracker",
      "--host",
      "127.0.0.1",
      "--port",
      "0",
    ],
    stdin: "null",
    stdout: "piped",
    stderr: "null",
  }).spawn();
  const output = tracker.stdout.pipeThrough(new TextDecoderStream()).getReader();
  try {
    const [, host, port] = await readUntil(output, LISTENING_LINE);
    // The tracker goes on writing: its output is read to the end meanwhile.
    const drained = (async () => {
      while (!(await output.read()).done) { /* keep the pipe flowing */ }
    })();
    try {
      await using client = await TrackerClient.connect(`${host}:${port}`);
      const stats = await client.stats();
      assert.equal(stats.sessions, 1);
      assert.equal(stats.holders, 0);

      const get = await runDeno(
        [
          "run",
          "--no-prompt",
          "--allow-net",
          "--allow-read",
          "--allow-write",
          bundle,
          "get",
          "--json",
          "--tracker",
          `${host}:${port}`,
          "nobody-has-this.txt",
        ],
        dir.path,
      );
      assert.equal(get.code, 1, get.stderr);
      const line = JSON.parse(get.stdout.trim());
      assert.equal(line.name, "nobody-has-this.txt");
      assert.equal(line.status, "not-found");
    } finally {
      tracker.kill("SIGTERM");
      await drained;
    }
  } finally {
    try {
      tracker.kill("SIGKILL");
    } catch { /* it has exited */ }
    await tracker.status;
    await output.cancel().catch(() => {});
  }
});
