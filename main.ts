/**
 * The command line's door: `main.ts <role> [flags]`, role `tracker`,
 * `peer`, `get`, `cat` or `demo`. It only picks the role (in `cli/`), and
 * turns what the role ends with into an exit code: 0 done, 1 failed, 2 a
 * usage error (one line, `ROLE: what is wrong; run 'ROLE --help' for the
 * flags`).
 *
 * @example
 * ```sh
 * deno run --allow-net main.ts tracker --port 4444
 * deno run --allow-net --allow-read --allow-write main.ts peer --dir ./files
 * ```
 *
 * @module
 */

import { isAbsolute } from "node:path";
import { fileURLToPath } from "node:url";
import { DownloadError, errorMessage, UsageError } from "./io/errors.ts";
import { runDemo } from "./cli/demo.ts";
import { closest, Exit, type Flags, parseFlags, type RoleName } from "./cli/flags.ts";
import { runCat, runGet } from "./cli/get_command.ts";
import { runPeer } from "./cli/peer_command.ts";
import { loadTls, narrowPermissions, type RoleTls, secretFromEnvironment } from "./cli/process.ts";
import { runTracker } from "./cli/tracker_command.ts";
import { USAGE } from "./cli/usage.ts";

export { Exit };

/** A role: its default port, and what runs it. */
interface Role {
  port: number;
  run: (flags: Flags, tls: RoleTls) => Promise<number>;
}

const ROLES: Record<RoleName, Role> = {
  tracker: { port: 4444, run: runTracker },
  peer: { port: 5555, run: runPeer },
  get: { port: 0, run: runGet },
  cat: { port: 0, run: runCat },
  demo: {
    port: 0,
    run: async (flags) => {
      // The demo takes no --secret; only P2P_SECRET (read when --allow-env grants it) can bring one.
      if (flags.secret !== undefined) {
        throw new UsageError("P2P_SECRET is set, but the demo runs without a secret; unset it");
      }
      const samples = fileURLToPath(new URL("./files/", import.meta.url));
      return await runDemo(console.log, { samples }) ? Exit.OK : Exit.FAILED;
    },
  },
};

const ROLE_NAMES = Object.keys(ROLES) as RoleName[];

/** `name` if it names a role (own keys only: `constructor` is no role). */
function roleNamed(name: string): RoleName | undefined {
  return Object.hasOwn(ROLES, name) ? name as RoleName : undefined;
}

/**
 * The folder the user typed the command in, when it is not ours: `deno task`
 * runs every task in the project's folder and passes the user's as
 * `INIT_CWD`. Read only where that variable is granted (the role tasks,
 * not `demo`), so that no run ever prompts for it; a run without it resolves
 * paths against its own folder.
 */
function startFolder(): string | undefined {
  const allowed = Deno.permissions.querySync({ name: "env", variable: "INIT_CWD" }).state === "granted";
  const folder = allowed ? Deno.env.get("INIT_CWD") : undefined;
  return folder !== undefined && isAbsolute(folder) ? folder : undefined;
}

/** A usage error, as a person sees it: one line naming what is wrong, then where to read more. */
function usageLine(role: RoleName, message: string): string {
  return `${role}: ${message}; run '${role} --help' for the flags`;
}

/** The line for an unknown role, with the closest role if one is close. */
function unknownRole(name: string): string {
  const near = closest(name, ROLE_NAMES);
  const hint = near ? ` (did you mean ${near}?)` : "";
  const roles = `${ROLE_NAMES.slice(0, -1).join(", ")} and ${ROLE_NAMES.at(-1)}`;
  return `unknown role ${JSON.stringify(name)}${hint}; the roles are ${roles}; run with --help for more`;
}

/**
 * Runs the command line `args` (a role, then its flags); resolves with the
 * exit code. `help` (or `--help`, `-h`) prints the usage, and `help ROLE`
 * that role's.
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
  if (roleName === undefined) {
    console.log(USAGE.main);
    return Exit.USAGE;
  }
  if (roleName === "--help" || roleName === "-h" || roleName === "help") {
    if (rest.length > 1) {
      console.error(`${roleName} takes one role at most, got ${rest.join(" ")}; run with --help for the roles`);
      return Exit.USAGE;
    }
    if (rest.length === 0) {
      console.log(USAGE.main);
      return Exit.OK;
    }
    const asked = roleNamed(rest[0]);
    if (asked === undefined) {
      console.error(unknownRole(rest[0]));
      return Exit.USAGE;
    }
    console.log(USAGE[asked]);
    return Exit.OK;
  }
  const name = roleNamed(roleName);
  if (name === undefined) {
    console.error(unknownRole(roleName));
    return Exit.USAGE;
  }
  const role = ROLES[name];
  try {
    const flags = parseFlags(rest, {
      role: name,
      port: role.port,
      secret: secretFromEnvironment(),
      cwd: startFolder(),
    });
    if (flags.help) {
      console.log(USAGE[name]);
      return Exit.OK;
    }
    const tls = await loadTls(flags); // the PEM files, read while reading is still allowed
    narrowPermissions(name);
    return await role.run(flags, tls);
  } catch (error) {
    if (error instanceof UsageError) {
      console.error(usageLine(name, error.message));
      return Exit.USAGE;
    }
    const message = error instanceof DownloadError ? `${error.file}: ${error.message}` : errorMessage(error);
    console.error(`${name}: ${message}`);
    return Exit.FAILED;
  }
}

if (import.meta.main) Deno.exit(await main(Deno.args));
