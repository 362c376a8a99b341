/**
 * Downloading every file of a `SEND` at once: one {@link downloadFile} per
 * found name under `Promise.allSettled`, and an outcome for every name
 * asked, found or not.
 *
 * @module
 */

import { type Lookup, Status } from "../protocol.ts";
import { type Attempt, DownloadError, errorMessage, type Kept, type SourceReport } from "../io/errors.ts";
import { type Downloaded, downloadFile, type DownloadOptions } from "./download.ts";

/** Why a file did not arrive, in one word: nobody has it, the name was refused, the run was cancelled, or every try failed. */
export type FailureKind = "not-found" | "refused" | "cancelled" | "failed";

/** When and how long: set by {@link downloadAll}. */
export interface Timing {
  /** From the start of the download (after any wait) to its outcome, ms. */
  durationMs?: number;
  /** How long the file was waited for before anyone had it (`--wait`), ms. */
  waitedMs?: number;
}

/** A file that did not arrive, and why. */
export interface Failure extends Timing {
  /** The name asked for. */
  name: string;
  /** Not landed. */
  ok: false;
  /** Why, in words. */
  reason: string;
  /** Every failed try, in order. */
  attempts: Attempt[];
  /** Every holder used and what it delivered. */
  sources: SourceReport[];
  /** Why, in one word. */
  kind?: FailureKind;
  /** What arrived and was kept, hidden, for the next try (a file over one chunk): a part file per version tried. */
  kept?: Kept[];
}

/** The outcome for one requested name: landed, or not (and why). */
export type FileOutcome = ({ name: string; ok: true; result: Downloaded } & Timing) | Failure;

/** A name nobody held when asked, whose lookup comes once someone announces it (or the wait ends). */
export interface PendingLookup {
  /** The name waited for. */
  name: string;
  /** Its lookup, once someone announced it (or not found, once the wait ran out). */
  later: Promise<Lookup>;
}

/** Options of {@link downloadAll}. */
export interface DownloadAllOptions extends DownloadOptions {
  /** Told of each file's outcome as soon as it is known (to share or report it at once); awaited. */
  onSettled?: (outcome: FileOutcome) => void | Promise<void>;
}

/**
 * Downloads every found file of `lookups` in parallel (`Promise.allSettled`,
 * each file from its own connections), and reports names the tracker did
 * not find. Results come in the order of `lookups`.
 */
export async function downloadAll(
  lookups: readonly (Lookup | PendingLookup)[],
  options: DownloadAllOptions,
): Promise<FileOutcome[]> {
  const failure = (name: string, error: unknown): Failure => ({
    name,
    ok: false,
    reason: errorMessage(error),
    attempts: [],
    sources: [],
    kind: options.signal?.aborted ? "cancelled" : "failed",
  });
  const settled = await Promise.allSettled(lookups.map(async (entry) => {
    const asked = performance.now();
    let outcome: FileOutcome;
    try {
      const lookup = "later" in entry ? await entry.later : entry;
      const started = performance.now();
      outcome = { ...await downloadOne(lookup, options) };
      outcome.durationMs = Math.round(performance.now() - started);
      if ("later" in entry) outcome.waitedMs = Math.round(started - asked);
    } catch (error) {
      // The wait or the lookup failed (the tracker went away, say): still an outcome to tell.
      outcome = failure(entry.name, error);
    }
    await options.onSettled?.(outcome);
    return outcome;
  }));
  return settled.map((s, i) => s.status === "fulfilled" ? s.value : failure(lookups[i].name, s.reason));
}

async function downloadOne(lookup: Lookup, options: DownloadOptions): Promise<FileOutcome> {
  const name = lookup.name;
  if (lookup.holders.length === 0) {
    const kind = options.signal?.aborted ? "cancelled" : lookup.status === Status.NOT_FOUND ? "not-found" : "refused";
    // Cancelled: that is the reason, not the status the lookup had then.
    const message = lookup.message ?? "not found";
    const reason = kind === "cancelled" ? message : `${lookup.status} ${message}`;
    return { name, ok: false, reason, attempts: [], sources: [], kind };
  }
  try {
    return { name, ok: true, result: await downloadFile(lookup, options) };
  } catch (error) {
    if (!(error instanceof DownloadError)) throw error;
    const kind = options.signal?.aborted ? "cancelled" : "failed";
    const { attempts, sources, kept } = error;
    return { name, ok: false, reason: error.message, attempts, sources, kind, ...(kept ? { kept } : {}) };
  }
}
