/**
 * What a role's process needs from the runtime: its permissions narrowed,
 * the secret from the environment, and signals turned into a clean stop.
 *
 * @module
 */

import { UsageError } from "../io/errors.ts";
import { Secret } from "../io/secret.ts";
import { loadClientTls, loadServerTls, type TlsClientConfig, type TlsServerConfig } from "../io/tls.ts";
import { Exit, type Flags } from "./flags.ts";

/**
 * Gives up, for the rest of the run, the permissions this role never uses,
 * whatever it was started with: a tracker and `cat` touch no file; no role
 * runs programs, loads native code or reads system information; only
 * `P2P_SECRET` and `INIT_CWD` are ever read from the environment, and they
 * have been by now.
 * (Deno cannot narrow a granted permission to some paths at run time: for
 * that, start the role with `--allow-read=DIR` and the like; see the README.)
 */
export function narrowPermissions(role: string): void {
  const unused: Deno.PermissionName[] = ["run", "ffi", "sys", "env"];
  if (role === "tracker" || role === "cat") unused.push("read", "write");
  for (const name of unused) Deno.permissions.revokeSync({ name });
}

/** What a role was given with `--tls-cert`, `--tls-key` and `--tls-ca`, read from the PEM files. */
export interface RoleTls {
  /** To listen with (`--tls-cert`, `--tls-key`). */
  server?: TlsServerConfig;
  /** To connect with (`--tls-ca`). */
  client?: TlsClientConfig;
}

/**
 * Reads the PEM files the TLS flags name, once, at start: before
 * {@link narrowPermissions} takes reading away from a tracker and from
 * `cat`. Throws a `TypeError` naming the flag and the file that cannot be
 * read or holds no PEM of the right kind.
 */
export async function loadTls(flags: Pick<Flags, "tlsCert" | "tlsKey" | "tlsCa">): Promise<RoleTls> {
  const { tlsCert, tlsKey, tlsCa } = flags;
  return {
    server: tlsCert !== undefined && tlsKey !== undefined ? await loadServerTls(tlsCert, tlsKey) : undefined,
    client: tlsCa !== undefined ? await loadClientTls(tlsCa) : undefined,
  };
}

/** `P2P_SECRET`, if set and readable (the tasks allow reading that one variable). */
export function secretFromEnvironment(): string | undefined {
  // Asked first, so that a run without --allow-env never prompts for it.
  const allowed = Deno.permissions.querySync({ name: "env", variable: "P2P_SECRET" }).state === "granted";
  return allowed ? Deno.env.get("P2P_SECRET") || undefined : undefined;
}

/** The secret's keys, if there is one; an empty secret is a usage error. */
export async function secretOf(text: string | undefined): Promise<Secret | undefined> {
  if (text === undefined) return undefined;
  if (text.length === 0) throw new UsageError("--secret must not be empty");
  return await Secret.from(text);
}

/** What {@link untilSignal} gives. */
export interface SignalStop {
  /** Resolves with the signal's name (`SIGINT`, `SIGTERM`) on the first one. */
  promise: Promise<string>;
  /**
   * Says that stopping has begun for another reason (`QUIT` typed, say):
   * from now on any signal exits at once, as a second one does.
   */
  stopping: () => void;
  /** Removes the listeners. */
  cancel: () => void;
}

/**
 * Resolves on the first SIGINT or SIGTERM, so that the caller can shut down
 * cleanly; a second signal (or any, once {@link SignalStop.stopping} was
 * called) exits at once with 1. `cancel` removes the listeners.
 */
export function untilSignal(): SignalStop {
  const { promise, resolve } = Promise.withResolvers<string>();
  let received = false;
  const handler = (signal: "SIGINT" | "SIGTERM") => () => {
    if (received) Deno.exit(Exit.FAILED);
    received = true;
    resolve(signal);
  };
  const handlers = (["SIGINT", "SIGTERM"] as const).map((signal) => [signal, handler(signal)] as const);
  for (const [signal, h] of handlers) Deno.addSignalListener(signal, h);
  const cancel = () => handlers.forEach(([s, h]) => Deno.removeSignalListener(s, h));
  return { promise, stopping: () => void (received = true), cancel };
}
