/**
 * The `SEND` of the original design: ask the tracker where the files are
 * (or, with a wait, to say when someone has them), save its reply as
 * `info.txt`, download every found file in parallel, and tell the tracker
 * how each holder served (`REPORT`).
 *
 * @module
 */

import { type Indexed, type Lookup, notFound, parseIndexed, parseSendNames } from "../protocol.ts";
import { errorMessage } from "../io/errors.ts";
import { downloadAll, type DownloadAllOptions, type FileOutcome, type PendingLookup } from "./download_all.ts";
import type { Arrival, TrackerClient } from "./tracker_client.ts";
import { plural } from "../io/words.ts";

/** What one SEND did. */
export interface SendReport {
  /** The tracker's reply, as written to `info.txt`; empty if no name was valid. */
  reply: string;
  /** One outcome per requested name, in the order asked. */
  outcomes: FileOutcome[];
  /**
   * The files that landed in the shared folder and were announced, in one
   * line (see {@link describeShared}): `café.txt, c.bin (2 files; the
   * tracker lists 10 in all for 127.0.0.1:5556)`.
   */
  announced?: string;
  /** The same, as values. */
  shared?: Shared;
  /** Why announcing files that landed failed (they are still there): `NAME: why`, `; ` between files. */
  announceError?: string;
  /** Why `info.txt` could not be written (the downloads went on). */
  infoError?: string;
}

/** The files of one SEND that landed in the shared folder and were announced. */
export interface Shared {
  /** Their names, in the order they were announced. */
  names: string[];
  /** What the tracker answered to the last of them, when it could be read: its total, and where it lists us. */
  indexed?: Indexed;
}

/** Most names {@link describeShared} writes out; the rest are counted. */
const NAMES_SHOWN = 10;

/**
 * One line for what a SEND shared: every name, how many, and the
 * tracker's total for this peer after the last one.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const indexed = { files: 1, address: "127.0.0.1:5556", fresh: 1, total: 10 };
 * assert.equal(
 *   describeShared({ names: ["café.txt", "c.bin", "d.bin"], indexed }),
 *   "café.txt, c.bin, d.bin (3 files; the tracker lists 10 in all for 127.0.0.1:5556)",
 * );
 * assert.equal(describeShared({ names: ["a.txt"] }), "a.txt (1 file)");
 * ```
 */
export function describeShared(shared: Shared): string {
  const { names, indexed } = shared;
  const more = names.length > NAMES_SHOWN ? ` and ${names.length - NAMES_SHOWN} more` : "";
  const count = plural(names.length, "file");
  const total = indexed?.total === undefined
    ? ""
    : `; the tracker lists ${indexed.total} in all for ${indexed.address}`;
  return `${names.slice(0, NAMES_SHOWN).join(", ")}${more} (${count}${total})`;
}

/**
 * Keeps what a SEND shared as each landed file is announced: every name,
 * and the tracker's latest answer (announcements go out one after the
 * other, so the answer read last is the latest).
 */
export class SharedTally {
  #names: string[] = [];
  #indexed: Indexed | undefined;
  #errors: string[] = [];

  /** `name` was announced, and the tracker answered `answer`. */
  announced(name: string, answer: string): void {
    this.#names.push(name);
    try {
      this.#indexed = parseIndexed(answer);
    } catch {
      // An answer of another form: the name counts, the total is not known.
    }
  }

  /** Announcing `name` failed with `error`. */
  failed(name: string, error: unknown): void {
    this.#errors.push(`${name}: ${errorMessage(error)}`);
  }

  /** `report`, with what was shared and what could not be announced. */
  into(report: SendReport): SendReport {
    const out = { ...report };
    if (this.#names.length > 0) {
      out.shared = { names: [...this.#names], ...(this.#indexed ? { indexed: this.#indexed } : {}) };
      out.announced = describeShared(out.shared);
    }
    if (this.#errors.length > 0) out.announceError = this.#errors.join("; ");
    return out;
  }
}

/** Options of {@link sendAndFetch}. */
export interface FetchOptions extends DownloadAllOptions {
  /** Where to write the tracker's reply; `undefined` writes none. */
  infoPath?: string;
  /**
   * Wait up to this many seconds for files nobody holds yet (`WAIT`): each
   * downloads the moment a peer announces it. Default: no waiting.
   */
  waitSeconds?: number;
  /** Told which names are being waited for. */
  onWaiting?: (names: string[]) => void;
}

/**
 * Asks the tracker where the files of `list` are (names separated by
 * commas, `%2C` for a comma inside a name), writes its reply to
 * `options.infoPath`, then downloads every found file in parallel. A name
 * that is not a valid file name is refused without asking. As each file
 * settles, the tracker is told how each holder served it (`REPORT`), then
 * `options.onSettled` is called.
 *
 * @example
 * ```ts
 * import { TrackerClient } from "./tracker_client.ts";
 *
 * await using tracker = await TrackerClient.connect("127.0.0.1:4444");
 * const report = await sendAndFetch(tracker, "hello.txt, notes.md", { outDir: ".", infoPath: "info.txt" });
 * ```
 */
export async function sendAndFetch(tracker: TrackerClient, list: string, options: FetchOptions): Promise<SendReport> {
  const parsed = parseSendNames(list);
  const valid = parsed.flatMap((n) => n.ok ? [n.name] : []);
  const info = new InfoFile(options.infoPath);
  let lookups: Lookup[] = [];
  let reply = "";
  let arrivals = new Map<string, Promise<Arrival>>();
  if (valid.length > 0) {
    if (options.waitSeconds === undefined) ({ lookups, raw: reply } = await tracker.send(valid));
    else ({ lookups, raw: reply, arrivals } = await tracker.wait(valid, options.waitSeconds));
    await info.write(reply);
  }
  if (arrivals.size > 0) options.onWaiting?.([...arrivals.keys()]);
  const byName = new Map(lookups.map((l) => [l.name, l]));
  const arrival = new ArrivalLookups(tracker, { info, signal: options.signal, waitSeconds: options.waitSeconds });
  const ordered = parsed.map((n): Lookup | PendingLookup => {
    if (!n.ok) return { name: n.raw, status: n.error.status, holders: [], message: n.error.message };
    const arrived = arrivals.get(n.name);
    if (arrived) return { name: n.name, later: arrival.lookUp(n.name, arrived) };
    return byName.get(n.name) ?? notFound(n.name, "not in the tracker's reply");
  });
  const outcomes = await downloadAll(ordered, {
    // A download that has room for more holders asks again now and then: peers that began to download the
    // same file since serve what they have (partial holders).
    lookAgain: async (name) => (await tracker.send([name])).lookups.find((l) => l.name === name) ?? notFound(name),
    ...options,
    onSettled: async (outcome) => {
      // After our own cancellation, what the holders did says nothing about them.
      if (!options.signal?.aborted) await reportHolders(tracker, outcome);
      await options.onSettled?.(outcome);
    },
  });
  return info.error ? { reply, outcomes, infoError: info.error } : { reply, outcomes };
}

/** `info.txt`: the tracker's replies to one SEND, as they came; a failure to write it is kept, not thrown. */
class InfoFile {
  #path: string | undefined;
  #written = false;
  /** Why it could not be written, if it could not. */
  error: string | undefined;

  constructor(path: string | undefined) {
    this.#path = path;
  }

  /** Writes the first reply, appends the later ones (lookups after a wait). */
  async write(text: string): Promise<void> {
    if (!this.#path) return;
    const append = this.#written;
    this.#written = true;
    await Deno.writeTextFile(this.#path, text, { append }).catch((error) => {
      this.error = `cannot write ${this.#path}: ${errorMessage(error)}`;
    });
  }
}

/** Lookups of names that were waited for, made once the tracker says someone has them. */
class ArrivalLookups {
  #tracker: TrackerClient;
  #options: { info: InfoFile; signal?: AbortSignal; waitSeconds?: number };

  constructor(tracker: TrackerClient, options: { info: InfoFile; signal?: AbortSignal; waitSeconds?: number }) {
    this.#tracker = tracker;
    this.#options = options;
  }

  /**
   * Once `arrival` says someone announced `name`, looks it up again (its
   * reply is added to `info.txt`). An expired wait, or a cancellation, is a
   * lookup with no holder.
   */
  async lookUp(name: string, arrival: Promise<Arrival>): Promise<Lookup> {
    const { signal, info, waitSeconds } = this.#options;
    const { promise: cancelled, resolve } = Promise.withResolvers<"CANCELLED">();
    const abort = () => resolve("CANCELLED");
    if (signal?.aborted) abort();
    signal?.addEventListener("abort", abort, { once: true });
    const event = await Promise.race([arrival, cancelled]).finally(() => signal?.removeEventListener("abort", abort));
    if (event === "CANCELLED") return notFound(name, "cancelled while waiting; nobody had announced it yet");
    if (event === "EXPIRED") return notFound(name, `not found; nobody announced it within ${waitSeconds} s`);
    const { lookups, raw } = await this.#tracker.send([name]);
    await info.write(raw);
    return lookups.find((l) => l.name === name) ?? notFound(name);
  }
}

/** Tells the tracker how each holder of a settled download served. */
async function reportHolders(tracker: TrackerClient, outcome: FileOutcome): Promise<void> {
  const sources = outcome.ok ? outcome.result.sources : outcome.sources;
  for (const s of sources) {
    if (s.code === undefined && s.bytes === 0) continue; // used, but nothing to say
    if (s.code === "503") continue; // busy is not a failure: it said so, and said when
    // The tracker may be gone or may have forgotten the holder: the download's outcome stands anyway.
    await tracker.report({ address: s.holder, outcome: s.code ?? "OK", bytes: s.bytes, name: outcome.name })
      .catch(() => {});
  }
}
