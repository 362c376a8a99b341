/**
 * `deno run --allow-net=127.0.0.1 --allow-read --allow-write --allow-run bench/screenshot.ts [--out FILE] [--width N] [--height N] [--query TEXT]`:
 * starts a tracker with its HTTP face and three peers with theirs on
 * loopback, sharing a few sample files from temporary folders, and takes a
 * headless Chromium screenshot of the tracker's web page: by default
 * `docs/tracker-page.png`, 1000×820. Everything it started is closed and
 * its folders removed, whatever happens.
 *
 * @module
 */

import { parseArgs } from "node:util";
import { join } from "node:path";
import { Peer } from "../peer.ts";
import { startTrackerWithHttp, type TrackerEvent } from "../tracker.ts";

/** Where Debian puts Chromium. */
export const CHROMIUM = "/usr/bin/chromium";

const HERE = new URL(".", import.meta.url).pathname;
const USAGE = "usage: bench/screenshot.ts [--out FILE] [--width N] [--height N] [--query TEXT]";

/** Options of {@link screenshotTrackerPage}. */
export interface ScreenshotOptions {
  /** The PNG to write. */
  out: string;
  /** The window's width, CSS pixels. Default 1000. */
  width?: number;
  /** The window's height, CSS pixels (the screenshot is the window). Default 820. */
  height?: number;
  /** A search to show (`?q=`). Default: none. */
  query?: string;
}

/** The peers of the picture and what each shares (some names shared by two, so that files have several holders). */
function sampleFolders(): Record<string, string | Uint8Array>[] {
  const bytes = (n: number, seed: number) => Uint8Array.from({ length: n }, (_, i) => (i * 31 + seed) & 0xff);
  const report = bytes(2_400_000, 1);
  const photo = bytes(1_250_000, 2);
  return [
    {
      "annual report 2024.pdf": report,
      "holiday photo – Zürich.jpg": photo,
      "hello.txt": "hello, world\n",
      "notes & ideas <draft>.md": "# notes\n",
    },
    { "annual report 2024.pdf": report, "dataset-v2.csv": bytes(380_000, 3), "hello.txt": "hello, world\n" },
    { "holiday photo – Zürich.jpg": photo, "hello.txt": "hello, world\n", "Ünïcødé résumé.txt": "ça va\n" },
  ];
}

/**
 * Starts the tracker and the peers, waits until every peer is indexed,
 * writes the screenshot, and closes everything. Returns how long Chromium
 * took, ms.
 *
 * @example
 * ```ts ignore
 * await screenshotTrackerPage({ out: "docs/tracker-page.png" });
 * ```
 */
export async function screenshotTrackerPage(options: ScreenshotOptions): Promise<number> {
  const folders = sampleFolders();
  const dirs: string[] = [];
  const peers: Peer[] = [];
  let announced = 0;
  let allIn: () => void = () => {};
  const indexed = new Promise<void>((resolve) => allIn = resolve);
  const onEvent = (event: TrackerEvent) => {
    if (event.type === "announced" && ++announced === folders.length) allIn();
  };
  await using tracker = await startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, httpPort: 0, onEvent });
  try {
    for (const files of folders) {
      const dir = await Deno.makeTempDir({ prefix: "p2p-screenshot-" });
      dirs.push(dir);
      for (const [name, content] of Object.entries(files)) {
        if (typeof content === "string") await Deno.writeTextFile(join(dir, name), content);
        else await Deno.writeFile(join(dir, name), content);
      }
      const address = `127.0.0.1:${tracker.addr.port}`;
      peers.push(await Peer.start({ tracker: address, hostname: "127.0.0.1", port: 0, httpPort: 0, dir }));
    }
    await withTimeout(indexed, 20_000, "the peers were not all indexed within 20 s");
    const url = new URL(`http://127.0.0.1:${tracker.http!.port}/`);
    if (options.query) url.searchParams.set("q", options.query);
    return await chromiumScreenshot(url.href, options);
  } finally {
    for (const peer of peers) await peer.close();
    for (const dir of dirs) await Deno.remove(dir, { recursive: true });
  }
}

/** Runs `chromium --headless --screenshot` on `url` with a fresh profile (removed after); returns its time, ms. */
async function chromiumScreenshot(url: string, options: ScreenshotOptions): Promise<number> {
  const profile = await Deno.makeTempDir({ prefix: "p2p-chromium-" });
  try {
    const started = performance.now();
    const output = await new Deno.Command(CHROMIUM, {
      args: [
        "--headless",
        "--no-sandbox",
        "--disable-gpu",
        "--no-first-run",
        "--disable-dev-shm-usage",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
        `--user-data-dir=${profile}`,
        `--window-size=${options.width ?? 1000},${options.height ?? 820}`,
        `--screenshot=${options.out}`,
        url,
      ],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: AbortSignal.timeout(30_000),
    }).output();
    if (!output.success) {
      throw new Error(`Cannot take a screenshot: chromium failed\n${new TextDecoder().decode(output.stderr)}`);
    }
    return performance.now() - started;
  } finally {
    await Deno.remove(profile, { recursive: true });
  }
}

/** `promise`, or an error with `message` after `ms`. */
async function withTimeout<T>(promise: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([
      promise,
      new Promise<never>((_, reject) => timer = setTimeout(() => reject(new Error(message)), ms)),
    ]);
  } finally {
    clearTimeout(timer);
  }
}

/** A whole number of pixels from 200 to 4000, or a usage error. */
function pixels(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined;
  const n = Number(text);
  if (!Number.isInteger(n) || n < 200 || n > 4000) {
    console.error(`screenshot: ${flag} must be a whole number of pixels from 200 to 4000, not ${text}\n${USAGE}`);
    Deno.exit(2);
  }
  return n;
}

if (import.meta.main) {
  let flags;
  try {
    flags = parseArgs({
      args: Deno.args,
      strict: true,
      options: {
        out: { type: "string" },
        width: { type: "string" },
        height: { type: "string" },
        query: { type: "string" },
      },
    }).values;
  } catch (error) {
    console.error(`screenshot: ${(error as Error).message}\n${USAGE}`);
    Deno.exit(2);
  }
  const out = flags.out ?? join(HERE, "..", "docs", "tracker-page.png");
  const ms = await screenshotTrackerPage({
    out,
    width: pixels(flags.width, "--width"),
    height: pixels(flags.height, "--height"),
    query: flags.query,
  });
  const { size } = await Deno.stat(out);
  console.log(`wrote ${out}: ${size} bytes; chromium took ${Math.round(ms)} ms`);
}
