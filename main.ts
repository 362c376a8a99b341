/**
 * The command line's door: `main.ts <role> [flags]`, role `tracker`,
 * `peer`, `get`, `cat` or `demo`. It only picks the role (in `cli/`), and
 * turns what the role ends with into an exit code: 0 done, 1 failed, 2 a
 * usage error (with the role's usage printed).
 *
 * @example
 * ```sh
 * deno run --allow-net main.ts tracker --port 4444
 * deno run --allow-net --allow-read --allow-write main.ts peer --dir ./files
 * ```
 *
 * @module
 */

import { fileURLToPath } from "node:url";
import { DownloadError, errorMessage, UsageError } from "./io/errors.ts";
import { runDemo } from "./cli/demo.ts";
import { Exit, type Flags, parseFlags } from "./cli/flags.ts";
import { runCat, runGet } from "./cli/get_command.ts";
import { runPeer } from "./cli/peer_command.ts";
import { narrowPermissions, secretFromEnvironment } from "./cli/process.ts";
import { runTracker } from "./cli/tracker_command.ts";
import { USAGE } from "./cli/usage.ts";

export { Exit };

/** A role: its default port, and what runs it. */
interface Role {
  port: number;
  run: (flags: Flags) => Promise<number>;
}

const ROLES: Record<string, Role> = {
  tracker: { port: 4444, run: runTracker },
  peer: { port: 5555, run: runPeer },
  get: { port: 0, run: runGet },
  cat: { port: 0, run: runCat },
  demo: {
    port: 0,
    run: async (flags) => {
      if (flags.secret !== undefined) throw new UsageError("demo runs without a secret");
      const samples = fileURLToPath(new URL("./files/", import.meta.url));
      return await runDemo(console.log, { samples }) ? Exit.OK : Exit.FAILED;
    },
  },
};

/**
 * Runs the command line `args` (a role, then its flags); resolves with the
 * exit code.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * assert.equal(await main(["--help"]), Exit.OK);
 * assert.equal(await main(["no-such-role"]), Exit.USAGE);
 * ```
 */
export async function main(args: string[]): Promise<number> {
  const [roleName, ...rest] = args;
  if (roleName === undefined || roleName === "--help" || roleName === "-h" || roleName === "help") {
    console.log(USAGE.main);
    return roleName === undefined ? Exit.USAGE : Exit.OK;
  }
  const role = ROLES[roleName];
  if (!role) {
    console.error(`unknown role ${JSON.stringify(roleName)}\n\n${USAGE.main}`);
    return Exit.USAGE;
  }
  try {
    const flags = parseFlags(rest, { port: role.port, secret: secretFromEnvironment() });
    if (flags.help) {
      console.log(USAGE[roleName]);
      return Exit.OK;
    }
    narrowPermissions(roleName);
    return await role.run(flags);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(`${roleName}: ${error.message}\n\n${USAGE[roleName]}`);
      return Exit.USAGE;
    }
    const message = error instanceof DownloadError ? `${error.file}: ${error.message}` : errorMessage(error);
    console.error(`${roleName}: ${message}`);
    return Exit.FAILED;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
