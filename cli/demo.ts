/**
 * `deno task demo`: a tracker and three peers on 127.0.0.1, each with a
 * sample folder in a temporary directory (watched, and removed at the end),
 * moving files; at the end a download waits for a file that then appears.
 * Everything runs in this one process over real loopback sockets, and the
 * last line says whether every step went as shown.
 *
 * On a terminal it is paced for a person: a pause before each step, and one
 * download held to {@link PACED_RATE} with its live progress line. Piped
 * (tests, CI) it runs at full speed and prints plain lines only.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { formatAddress } from "../protocol.ts";
import { RateLimit } from "../io/rate_limit.ts";
import {
  type FailureKind,
  type FileOutcome,
  Peer,
  type PeerEvent,
  relayFile,
  sendAndFetch,
  TrackerClient,
} from "../peer.ts";
import { startTracker } from "../tracker.ts";
import { untilSignal } from "./process.ts";
import { ProgressDisplay, type Screen, screenOf } from "./progress.ts";
import { formatAttempt, formatBytes, formatOutcome, formatPeerEvent, formatTrackerEvent } from "./report.ts";

/** The project's sample folder, beside this module's folder. */
const SAMPLES = fileURLToPath(new URL("../files/", import.meta.url));

/** Paced: the pause before each step, ms. */
export const PACED_PAUSE_MS = 1_500;

/** Paced: dave's downloads are held to this, bytes per second (the 8 MiB file then takes about 4 s). */
export const PACED_RATE = 2 * 1024 * 1024;

/** Options of {@link runDemo}. */
export interface DemoOptions {
  /**
   * The sample folder alice shares (it must hold `hello.txt`). Default: the
   * project's `files/`, found beside this module (`main.ts` passes the one
   * beside itself, which holds in a bundle too).
   */
  samples?: string;
  /**
   * Paced for a person watching: a pause of {@link PACED_PAUSE_MS} before
   * each step, and dave's downloads held to {@link PACED_RATE}, with live
   * progress lines when standard output is a terminal. Default: when
   * standard output is a terminal. A {@link Pace} sets each part.
   */
  paced?: boolean | Pace;
}

/** How a paced demo goes. */
export interface Pace {
  /** The pause before each step, ms. Default {@link PACED_PAUSE_MS}. */
  pauseMs?: number;
  /** Dave's downloads are held to this, bytes per second. Default {@link PACED_RATE}. */
  rate?: number;
  /** Where the live progress lines are drawn (`print` must write there too). Default: standard output. */
  screen?: Screen;
}

/** The demo's folders, one per party. */
type Folders = Record<"alice" | "bob" | "carol" | "dave", string>;

/**
 * Runs the demonstration, printing each step with `print`. Resolves true
 * when every file arrived (and the one nobody has was reported missing), as
 * the closing line then says; false, naming what went wrong, otherwise.
 */
export async function runDemo(print: (line: string) => void, options: DemoOptions = {}): Promise<boolean> {
  const pace = options.paced ?? Deno.stdout.isTerminal();
  const paced = pace !== false;
  const { pauseMs = PACED_PAUSE_MS, rate = PACED_RATE, screen = undefined } = typeof pace === "object" ? pace : {};
  // Live lines only where `print` writes on a terminal; every line then goes around them.
  using display = paced ? new ProgressDisplay(screen ?? screenOf(Deno.stdout)) : undefined;
  const show = display?.live ? (line: string) => display.interrupt(() => print(line)) : print;
  // Declared before the roles, so disposed after them: the folders go even if a step fails.
  const root = await Deno.makeTempDir({ prefix: "p2p-demo-" });
  await using _folders = { [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
  // Ctrl-C in the middle (a paced demo lasts a while): its folders go too, and it says so.
  const interrupted = untilSignal();
  using _interrupt = { [Symbol.dispose]: interrupted.cancel };
  interrupted.promise.then((signal) => {
    display?.close();
    Deno.removeSync(root, { recursive: true });
    print(`\ndemo stopped by ${signal}; removed its folders (${root})`);
    Deno.exit(130);
  });
  const folders = await sampleFolders(root, options.samples ?? SAMPLES);
  const tally = new Tally(show, { pauseMs: paced ? pauseMs : 0 });
  tally.print(`[demo] a tracker, three peers and dave, who only downloads, in this one process on 127.0.0.1;`);
  tally.print(`       their folders are in ${root},`);
  tally.print(`       removed when the demo ends${paced ? "; paced: a pause before each step" : ""}`);

  await using tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    onEvent: (e) => tally.print(`[tracker] ${formatTrackerEvent(e)}`),
  });
  const trackerAddress = formatAddress(tracker.addr.hostname, tracker.addr.port);
  tally.print(`[tracker] listening on ${trackerAddress}`);
  const start = (name: keyof Folders) => {
    const hashed = hashingSummary();
    return Peer.start({
      tracker: trackerAddress,
      hostname: "127.0.0.1",
      port: 0,
      dir: folders[name],
      infoPath: join(root, `${name}-info.txt`),
      timeoutMs: 2_000,
      watch: true,
      onEvent: (e: PeerEvent) => {
        const line = e.type === "hashing" ? hashed(e) : formatPeerEvent(e);
        if (line !== undefined) tally.print(`[${name}] ${line}`);
      },
      onListening: (a) =>
        tally.print(`[${name}] listening on ${formatAddress(a.hostname, a.port)}, sharing ${folders[name]}`),
    });
  };
  await using alice = await start("alice");
  await using bob = await start("bob");
  await using carol = await start("carol");

  await carolSends(carol, { root, tally });
  await tally.step(`-- alice stops serving files, but is still listed by the tracker --`);
  await alice.server.close();
  await using dave = await TrackerClient.connect(trackerAddress);
  await daveGets(dave, { folders, tally, rate: paced ? rate : undefined, board: display });
  await daveCats(dave, tally);
  await daveWaits(dave, { folders, tally });
  await crowdGets(trackerAddress, { root, tally });

  await dave.quit();
  await carol.close();
  await bob.close();
  await alice.close();
  await tracker.close();
  return tally.summary();
}

/** The seed's upload in the crowd step: its 8 MiB file takes 1 s of it. */
const CROWD_RATE = 8 * 1024 * 1024;

/**
 * A small flash crowd: erin, frank and grace ask for heidi's 8 MiB file at
 * the same moment, heidi uploading at most {@link CROWD_RATE}; each serves
 * what it has verified while it downloads, so they trade chunks among
 * themselves and heidi sends each chunk about once.
 */
async function crowdGets(trackerAddress: string, context: { root: string; tally: Tally }): Promise<void> {
  const { root, tally } = context;
  const name = "crowd 8MiB.bin";
  await tally.step(
    `-- a crowd: erin, frank and grace type SEND ${name} at the same moment; only heidi has it, uploading at most ` +
      `${formatBytes(CROWD_RATE)}/s --`,
  );
  tally.print(`        (each serves the chunks it has verified while it still downloads: the tracker lists it as a`);
  tally.print(`         partial holder, the three trade chunks, and heidi sends each chunk about once)`);
  const folder = (who: string) => Deno.mkdir(join(root, who)).then(() => join(root, who));
  const heidiDir = await folder("heidi");
  const bytes = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < bytes.length; i += 65_536) crypto.getRandomValues(bytes.subarray(i, i + 65_536));
  await Deno.writeFile(join(heidiDir, name), bytes);
  let seedSent = 0;
  const common = {
    tracker: trackerAddress,
    hostname: "127.0.0.1",
    port: 0,
    maxUploadRate: CROWD_RATE,
    timeoutMs: 2_000,
  };
  await using heidi = await Peer.start({
    ...common,
    dir: heidiDir,
    onEvent: (e) => {
      if (e.type === "served" || e.type === "aborted") seedSent += e.bytes;
    },
  });
  const crowd: Peer[] = [];
  await using _crowd = { [Symbol.asyncDispose]: () => Promise.all(crowd.map((p) => p.close())).then(() => {}) };
  for (const who of ["erin", "frank", "grace"]) {
    crowd.push(
      await Peer.start({
        ...common,
        dir: await folder(who),
        onEvent: (e) => {
          if (e.type === "sharing-partial" || e.type === "attempt-failed") {
            tally.print(`[${who}] ${formatPeerEvent(e)}`);
          }
        },
      }),
    );
  }
  const started = performance.now();
  const reports = await Promise.all(crowd.map((p) => p.send(name)));
  const seconds = ((performance.now() - started) / 1000).toFixed(1);
  let traded = 0;
  reports.forEach((report, i) => {
    tally.outcomes(["erin", "frank", "grace"][i], { outcomes: report.outcomes });
    for (const o of report.outcomes) if (o.ok) { for (const s of o.result.sources) if (s.partial) traded += s.chunks; }
  });
  tally.print(
    `[demo] the last of the three had it after ${seconds} s (heidi alone, three copies: about 3 s); heidi sent ` +
      `${formatBytes(seedSent)} (${(seedSent / bytes.length).toFixed(1)}× the file); ${traded} of their 24 chunks ` +
      `came from each other`,
  );
  await heidi.close();
}

/** Alice gets the sample folder; bob `hello.txt` and 8 MiB of random bytes; carol and dave nothing. */
async function sampleFolders(root: string, samples: string): Promise<Folders> {
  const folders = {
    alice: join(root, "alice"),
    bob: join(root, "bob"),
    carol: join(root, "carol"),
    dave: join(root, "dave"),
  };
  for (const dir of Object.values(folders)) await Deno.mkdir(dir);
  for await (const entry of Deno.readDir(samples)) {
    if (entry.isFile) await Deno.copyFile(join(samples, entry.name), join(folders.alice, entry.name));
  }
  await Deno.copyFile(join(samples, "hello.txt"), join(folders.bob, "hello.txt"));
  const random = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < random.length; i += 65_536) crypto.getRandomValues(random.subarray(i, i + 65_536));
  await Deno.writeFile(join(folders.bob, "random 8MiB.bin"), random);
  return folders;
}

/**
 * One line for the hashing of a peer's folder, once it is done (`hashed 2
 * files (8.00 MiB) in 0.0 s`), as a peer prints it when not on a terminal;
 * nothing for the steps before.
 */
function hashingSummary(): (e: Extract<PeerEvent, { type: "hashing" }>) => string | undefined {
  let started: number | undefined;
  return (e) => {
    started ??= performance.now();
    if (e.filesDone < e.files) return undefined;
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    return `hashed ${e.files} file${e.files === 1 ? "" : "s"} (${formatBytes(e.bytes)}) in ${seconds} s`;
  };
}

/** Carol, at her prompt, asks for three files and one nobody has. */
async function carolSends(carol: Peer, context: { root: string; tally: Tally }): Promise<void> {
  const { root, tally } = context;
  const list = "hello.txt, random 8MiB.bin, table%2C with comma.csv, missing.txt";
  await tally.step(`[carol] > SEND ${list}`);
  const report = await carol.send(list);
  tally.print(`[carol] the tracker's reply, saved to ${join(root, "carol-info.txt")}:`);
  for (const line of report.reply.trimEnd().split("\n")) tally.print(`          ${line}`);
  tally.outcomes("carol", { outcomes: report.outcomes, expected: { "missing.txt": "not-found" } });
  tally.print(`[carol] shared the new files: ${report.announced}`);
}

/**
 * Dave, who only downloads, gets four files; one of alice's falls back to
 * another holder. Paced, his downloads are held to {@link PACED_RATE}, and
 * on a terminal `board` shows them live.
 */
async function daveGets(
  dave: TrackerClient,
  context: { folders: Folders; tally: Tally; rate?: number; board?: ProgressDisplay },
): Promise<void> {
  const { folders, tally, rate } = context;
  const flag = rate ? ` --max-download-rate ${rate / 1024 / 1024}M` : "";
  await tally.step(
    `[dave] $ get${flag} hello.txt "table, with comma.csv" notes.md "random 8MiB.bin"   (dave only downloads)`,
  );
  tally.print(`        (bob and carol both hold random 8MiB.bin now: it comes from both at once, chunk by chunk;`);
  tally.print(`         only alice holds notes.md, and she has stopped: that one fails, naming her)`);
  if (rate) tally.print(`        (held to ${formatBytes(rate)}/s, so that you can watch it arrive)`);
  const got = await sendAndFetch(dave, "hello.txt, table%2C with comma.csv, notes.md, random 8MiB.bin", {
    outDir: folders.dave,
    timeoutMs: 2_000,
    limit: rate ? new RateLimit(rate) : undefined,
    board: context.board?.live ? context.board : undefined,
    onAttemptFailed: (name, a) => tally.print(`[dave] ${formatAttempt(name, a)}`),
  });
  tally.outcomes("dave", { outcomes: got.outcomes, expected: { "notes.md": "failed" } });
}

/** Dave, in relay mode, prints `hello.txt` from the first active peer that has it. */
async function daveCats(dave: TrackerClient, tally: Tally): Promise<void> {
  await tally.step(`[dave] $ cat hello.txt   (relay mode: ask each active peer in turn)`);
  const chunks: Uint8Array[] = [];
  const relayed = await relayFile(dave, "hello.txt", {
    out: {
      write: (bytes) => {
        chunks.push(bytes.slice());
        return Promise.resolve(bytes.length);
      },
    },
    timeoutMs: 2_000,
    onAttemptFailed: (a) => tally.print(`[dave] ${formatAttempt("hello.txt", a)}`),
  });
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  for (const line of text.trimEnd().split("\n")) tally.print(`          ${line}`);
  tally.print(`[dave] cat: ${formatBytes(relayed.size)} from ${relayed.from}`);
  tally.verified++;
}

/** Dave waits for `news.txt`, which nobody has until it appears in bob's watched folder. */
async function daveWaits(dave: TrackerClient, context: { folders: Folders; tally: Tally }): Promise<void> {
  const { folders, tally } = context;
  await tally.step(
    `[dave] $ get --wait news.txt   (nobody has it yet: the tracker tells dave the moment someone does)`,
  );
  const told = Promise.withResolvers<void>();
  const waiting = sendAndFetch(dave, "news.txt", {
    outDir: folders.dave,
    timeoutMs: 2_000,
    waitSeconds: 30,
    onWaiting: (names) => {
      tally.print(`[dave] waiting for ${names.join(", ")} (up to 30 s)`);
      told.resolve();
    },
  });
  await Promise.race([told.promise, waiting]);
  // Written under a hidden name and renamed, so the watcher never sees it half-written.
  await Deno.writeTextFile(join(folders.bob, ".news.tmp"), "Fresh news: bob saved this file a moment ago.\n");
  tally.print(`[bob] (a file appears in bob's watched folder: news.txt)`);
  await Deno.rename(join(folders.bob, ".news.tmp"), join(folders.bob, "news.txt"));
  tally.outcomes("dave", { outcomes: (await waiting).outcomes });
}

/** What the demo printed, and what went as shown. */
class Tally {
  /** Files that arrived verified. */
  verified = 0;
  #problems: string[] = [];
  #print: (line: string) => void;
  #pauseMs: number;

  constructor(print: (line: string) => void, pacing: { pauseMs: number }) {
    this.#print = print;
    this.#pauseMs = pacing.pauseMs;
  }

  print(line: string): void {
    this.#print(line);
  }

  /** Begins a step: a pause when paced, then a blank line and its `header`. */
  async step(header: string): Promise<void> {
    if (this.#pauseMs > 0) await new Promise((resolve) => setTimeout(resolve, this.#pauseMs));
    this.#print(`\n${header}`);
  }

  /**
   * Prints each outcome; one that did not go as shown is a problem: a file
   * that should have come and did not, or one of `expected` (name → why it
   * cannot come) that came, or failed for another reason.
   */
  outcomes(who: string, settled: { outcomes: readonly FileOutcome[]; expected?: Record<string, FailureKind> }): void {
    const { outcomes, expected = {} } = settled;
    const indent = " ".repeat(who.length + 3);
    for (const outcome of outcomes) {
      this.#print(`[${who}] ${formatOutcome(outcome).replaceAll("\n", `\n${indent}`)}`);
      const meant = expected[outcome.name];
      const asShown = meant === undefined ? outcome.ok : !outcome.ok && outcome.kind === meant;
      if (!asShown) {
        this.#problems.push(`${who}: ${outcome.name} ${outcome.ok ? "arrived, against the story" : "did not arrive"}`);
      } else if (outcome.ok) {
        this.verified++;
      }
    }
  }

  /** The closing line: what moved, or what went wrong. True when nothing did. */
  summary(): boolean {
    if (this.#problems.length === 0) {
      this.#print(
        `\ndemo done: ${this.verified} files moved peer to peer over 127.0.0.1, each verified by SHA-256.`,
      );
      return true;
    }
    this.#print(
      `\ndemo finished with ${this.#problems.length} ${this.#problems.length === 1 ? "problem" : "problems"}: ${
        this.#problems.join("; ")
      }`,
    );
    return false;
  }
}
