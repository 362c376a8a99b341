/**
 * The one-shot commands: `deno task get NAME...` downloads files and exits
 * (0 all arrived, 1 some failed), `deno task cat NAME` prints a file from
 * the first active peer that has it (relay mode).
 *
 * @module
 */

import { formatNameList, Limits } from "../protocol.ts";
import { RateLimit } from "../io/rate_limit.ts";
import { UsageError } from "../io/errors.ts";
import { connectTracker, relayFile, sendAndFetch } from "../peer.ts";
import { Exit, type Flags } from "./flags.ts";
import { cleanLeftovers, leftoverLines } from "./leftovers.ts";
import { outcomePrinter, waitingPrinter } from "./printers.ts";
import { type RoleTls, secretOf, untilSignal } from "./process.ts";
import { ProgressDisplay, screenOf } from "./progress.ts";
import { formatAttempt, formatRelayed, formatSkipped, notStarted } from "./report.ts";

/** Runs `get` with `flags` (and `tls`, from `--tls-ca`): every name in parallel; resolves with the exit code. */
export async function runGet(flags: Flags, tls: RoleTls = {}): Promise<number> {
  // --parts, --clean: what interrupted downloads left in the folder, without the tracker.
  if (flags.parts || flags.clean) {
    const dir = flags.out ?? ".";
    if (flags.parts) { for (const line of await leftoverLines(dir)) console.log(line); }
    if (flags.clean) { for (const line of await cleanLeftovers(dir)) console.log(line); }
    return Exit.OK;
  }
  if (flags.names.length === 0) {
    throw new UsageError("no file name given (get [flags] NAME...)");
  }
  const empty = flags.names.indexOf("");
  if (empty >= 0) throw new UsageError(`file name ${empty + 1} of ${flags.names.length} is empty ('')`);
  if (flags.names.length > Limits.MAX_NAMES_PER_SEND) {
    throw new UsageError(
      `${flags.names.length} file names given, at most ${Limits.MAX_NAMES_PER_SEND} at once; split them over several runs`,
    );
  }
  const secret = await secretOf(flags.secret);
  // With --json, standard output carries only the JSON; people read standard error.
  using out = new ProgressDisplay(screenOf(flags.json ? Deno.stderr : Deno.stdout));
  const print = outcomePrinter(flags.json, out);
  const told = new Set<string>();
  try {
    await using tracker = await connectTracker(flags.trackers, {
      timeoutMs: flags.timeoutMs,
      secret,
      tls: tls.client,
      onSkipped: (skipped) => out.log(formatSkipped(skipped)),
    });
    const stop = untilSignal();
    const interrupt = new AbortController();
    stop.promise.then(() => interrupt.abort());
    const report = await sendAndFetch(tracker, formatNameList(flags.names), {
      outDir: flags.out ?? ".",
      infoPath: flags.info,
      timeoutMs: flags.timeoutMs,
      sources: flags.sources,
      secret,
      tls: tls.client,
      signal: interrupt.signal,
      limit: flags.maxDownloadRate ? new RateLimit(flags.maxDownloadRate) : undefined,
      board: out,
      waitSeconds: flags.wait ? flags.waitSeconds : undefined,
      onWaiting: waitingPrinter(flags.waitSeconds, out),
      onAttemptFailed: (name, a) => out.log(formatAttempt(name, a)),
      onSettled: (outcome) => {
        told.add(outcome.name);
        print(outcome);
      },
    }).finally(stop.cancel);
    if (report.infoError) out.log(`warning: ${report.infoError}`);
    await tracker.quit();
    return report.outcomes.every((o) => o.ok) ? Exit.OK : Exit.FAILED;
  } catch (error) {
    // The run failed before its downloads (no tracker, say): with --json, still one object per name asked
    // (docs/JSON.md); the error itself goes to standard error, as ever.
    if (flags.json) { for (const name of flags.names) if (!told.has(name)) print(notStarted(name, error)); }
    throw error;
  }
}

/** Runs `cat` with `flags` (and `tls`, from `--tls-ca`): the file to standard output; resolves with the exit code. */
export async function runCat(flags: Flags, tls: RoleTls = {}): Promise<number> {
  if (flags.names.length === 0) throw new UsageError("no file name given (cat [flags] NAME)");
  if (flags.names.length > 1) {
    throw new UsageError(`${flags.names.length} file names given; it prints one file at a time`);
  }
  const [name] = flags.names;
  const secret = await secretOf(flags.secret);
  // Progress on standard error, unless the file itself is going to the same terminal.
  using out = new ProgressDisplay(screenOf(Deno.stderr));
  await using tracker = await connectTracker(flags.trackers, {
    timeoutMs: flags.timeoutMs,
    secret,
    tls: tls.client,
    onSkipped: (skipped) => out.log(formatSkipped(skipped)),
  });
  const relayed = await relayFile(tracker, name, {
    out: Deno.stdout,
    timeoutMs: flags.timeoutMs,
    secret,
    tls: tls.client,
    board: out.live && !Deno.stdout.isTerminal() ? out : undefined,
    onAttemptFailed: (a) => out.log(formatAttempt(name, a)),
  });
  out.log(formatRelayed(name, relayed));
  await tracker.quit();
  return Exit.OK;
}
