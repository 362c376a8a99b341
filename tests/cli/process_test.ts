/**
 * What a role's process takes from the runtime (`cli/process.ts`): the
 * secret (from the flag or `P2P_SECRET`, never empty), the first signal as
 * a clean stop, and the permissions it never uses given up.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { UsageError } from "../../io/errors.ts";
import { Secret } from "../../io/secret.ts";
import { secretOf } from "../../cli/process.ts";
import { tempDir } from "../helpers/temp.ts";

Deno.test("process: no secret is none; an empty one is a usage error; any other text becomes keys", async () => {
  assert.equal(await secretOf(undefined), undefined);
  await assert.rejects(secretOf(""), (error) => error instanceof UsageError && /must not be empty/.test(error.message));
  assert.ok((await secretOf("correct horse")) instanceof Secret);
});

/**
 * Runs `code` (an ES module) as a fresh `deno run` with `flags` and `env`
 * (not `deno eval`, which grants every permission); its standard output,
 * trimmed.
 */
async function evaluate(code: string, options: { flags?: string[]; env?: Record<string, string> } = {}) {
  await using dir = await tempDir();
  const script = join(dir.path, "script.ts");
  await Deno.writeTextFile(script, code);
  const { stdout, success } = await new Deno.Command(Deno.execPath(), {
    args: ["run", "--no-prompt", ...options.flags ?? [], script],
    env: options.env,
    stderr: "inherit",
  }).output();
  assert.ok(success, code);
  return new TextDecoder().decode(stdout).trim();
}

const PROCESS = JSON.stringify(new URL("../../cli/process.ts", import.meta.url).href);

Deno.test("process: P2P_SECRET is read when set and readable, is none when empty, and none without leave to read it", async () => {
  const read =
    `import { secretFromEnvironment } from ${PROCESS}; console.log(JSON.stringify(secretFromEnvironment()));`;
  const allowed = ["--allow-read", "--allow-env=P2P_SECRET"];
  assert.equal(
    await evaluate(read, { flags: allowed, env: { P2P_SECRET: "from the environment" } }),
    '"from the environment"',
  );
  assert.equal(await evaluate(read, { flags: allowed, env: { P2P_SECRET: "" } }), "undefined");
  // Without --allow-env the variable is not even asked for (no prompt: --no-prompt would make a prompt an error).
  assert.equal(await evaluate(read, { flags: ["--allow-read"], env: { P2P_SECRET: "set" } }), "undefined");
});

Deno.test("process: the first SIGTERM resolves the stop with its name; cancel removes the listeners", async () => {
  const code = `
    import { untilSignal } from ${PROCESS};
    const stop = untilSignal();
    Deno.kill(Deno.pid, "SIGTERM");
    console.log(await stop.promise);
    stop.cancel();
  `;
  assert.equal(await evaluate(code, { flags: ["--allow-read", "--allow-run"] }), "SIGTERM");
});

Deno.test("process: a tracker and cat give up reading and writing files; no role keeps running programs", async () => {
  const check = `
    import { narrowPermissions } from ${PROCESS};
    narrowPermissions(Deno.args[0]);
    const state = (name) => Deno.permissions.querySync({ name }).state;
    console.log(["read", "write", "run", "env", "net"].map((n) => n + "=" + state(n)).join(" "));
  `;
  const run = (role: string) => evaluate(check.replace("Deno.args[0]", JSON.stringify(role)), { flags: ["-A"] });
  assert.equal(await run("tracker"), "read=prompt write=prompt run=prompt env=prompt net=granted");
  assert.equal(await run("cat"), "read=prompt write=prompt run=prompt env=prompt net=granted");
  assert.equal(await run("peer"), "read=granted write=granted run=prompt env=prompt net=granted");
});
