/**
 * The tracker's web page in a real headless Chromium (`/usr/bin/chromium`;
 * the test is ignored, saying so, where it is missing): what a browser
 * shows after the page's script ran, a search narrowing the list, the
 * counters following the tracker with no reload, the note when the tracker
 * stops answering, and a click on a file's name downloading it from a peer.
 * One Chromium serves every step, each in a tab of its own, driven over the
 * DevTools protocol on the runtime's own `WebSocket` (`Page.navigate`, the
 * load event, `Runtime.evaluate`). The page refreshes its counters every
 * {@link REFRESH_MS} here (`httpPageRefreshMs`), not the users' 2 s, so no
 * step waits on that timer. Chromium is killed and its temporary profile
 * removed on every path (`await using`).
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatAddress } from "../../protocol.ts";
import { startTrackerWithHttp, type Tracker, type TrackerEvent } from "../../tracker.ts";
import { renderTrackerPage } from "../../tracker/web_page.ts";
import { Changes, EventLog, within } from "../helpers/events.ts";
import { type TestPeer, testPeer } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";

/** Where Debian puts Chromium. */
const CHROMIUM = "/usr/bin/chromium";

/** Chromium is there to run: else every test here is ignored (and the name of each says why). */
const HAVE_CHROMIUM = (() => {
  try {
    return Deno.statSync(CHROMIUM).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
})();

const IGNORE = !HAVE_CHROMIUM;
/** How often the page asks `/api/stats` again in these tests, ms (users get `STATS_REFRESH_MS`, 2 s). */
const REFRESH_MS = 100;
const SKIPPED = HAVE_CHROMIUM ? "" : ` (ignored: ${CHROMIUM} is missing)`;

/** Flags for a headless Chromium as root in a container, quiet and without first-run work. */
const CHROMIUM_FLAGS = [
  "--headless",
  "--no-sandbox",
  "--disable-gpu",
  "--no-first-run",
  "--no-default-browser-check",
  "--disable-dev-shm-usage",
  "--disable-extensions",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
  "--mute-audio",
];

/** How long a browser step may take before the test fails (a broken build only). */
const STEP_MS = 15_000;

// ---------------------------------------------------------------------------------------------------------------------
// The site: a tracker with its HTTP face, and peers with theirs.

/** A tracker with its HTTP face on loopback, and the peers of a test. */
interface Site extends AsyncDisposable {
  tracker: Tracker;
  /** `http://127.0.0.1:PORT/`: the tracker's web page. */
  url: string;
  /** `127.0.0.1:PORT`: where peers announce. */
  address: string;
  /** Starts a peer with an HTTP face sharing `files`, and waits until the tracker lists them. */
  addPeer(files: Record<string, string>): Promise<TestPeer>;
}

/** A tracker with its HTTP face and the peers added to it; dispose closes them all. */
async function startSite(): Promise<Site> {
  const events = new EventLog<TrackerEvent>();
  const tracker = await startTrackerWithHttp({
    hostname: "127.0.0.1",
    port: 0,
    httpPort: 0,
    httpPageRefreshMs: REFRESH_MS,
    onEvent: (event) => events.push(event),
  });
  const peers: TestPeer[] = [];
  const address = formatAddress(tracker.addr.hostname, tracker.addr.port);
  return {
    tracker,
    url: `http://127.0.0.1:${tracker.http!.port}/`,
    address,
    async addPeer(files) {
      // No shutdown grace: the shared browser keeps a connection to a peer it downloaded from open after the
      // download, and a peer would wait its 10 s grace for it; that the grace works is the peer tests' business.
      const peer = await testPeer(address, files, { httpPort: 0, shutdownGraceMs: 0 });
      peers.push(peer);
      await events.next("announced", (e) => e.peer === peer.address); // the UPDATE answered: the index has them
      return peer;
    },
    async [Symbol.asyncDispose]() {
      for (const peer of peers.reverse()) await peer[Symbol.asyncDispose]();
      await tracker.close();
    },
  };
}

// ---------------------------------------------------------------------------------------------------------------------
// Chromium, driven over the DevTools protocol.

/** A temporary Chromium profile, removed on dispose (retried: a child process may still be letting go of it). */
async function profileDir(): Promise<AsyncDisposable & { path: string }> {
  const path = await Deno.makeTempDir({ prefix: "p2p-chromium-" });
  return {
    path,
    async [Symbol.asyncDispose]() {
      for (let attempt = 1;; attempt++) {
        try {
          await Deno.remove(path, { recursive: true });
          return;
        } catch (error) {
          if (error instanceof Deno.errors.NotFound) return;
          if (attempt === 5) throw error;
          await new Promise((resolve) => setTimeout(resolve, 50 * attempt));
        }
      }
    },
  };
}

/** A message of the DevTools protocol. */
interface CdpMessage {
  id?: number;
  method?: string;
  // deno-lint-ignore no-explicit-any
  params?: any;
  // deno-lint-ignore no-explicit-any
  result?: any;
  error?: { code: number; message: string };
  sessionId?: string;
}

/** A headless Chromium and a DevTools connection to it; dispose closes it, kills it if need be, removes its profile. */
class Browser implements AsyncDisposable {
  #child: Deno.ChildProcess;
  #profile: AsyncDisposable;
  #stderr: Promise<void>;
  #socket: WebSocket;
  #closed: Promise<void>;
  #nextId = 1;
  #pending = new Map<number, { resolve: (v: CdpMessage) => void; reject: (e: Error) => void; method: string }>();
  /** Every event since the start, so that a wait never misses one that came before it. */
  #events: CdpMessage[] = [];
  #changes = new Changes();

  private constructor(
    parts: { child: Deno.ChildProcess; profile: AsyncDisposable; stderr: Promise<void>; socket: WebSocket },
  ) {
    this.#child = parts.child;
    this.#profile = parts.profile;
    this.#stderr = parts.stderr;
    this.#socket = parts.socket;
    this.#closed = new Promise((resolve) => this.#socket.addEventListener("close", () => resolve(), { once: true }));
    this.#socket.addEventListener("message", (event) => this.#receive(JSON.parse(event.data)));
    this.#socket.addEventListener("close", () => {
      for (const call of this.#pending.values()) call.reject(new Error(`${call.method}: the browser went away`));
      this.#pending.clear();
    });
  }

  /** Starts Chromium with `--remote-debugging-port=0` and connects to the address it prints on standard error. */
  static async launch(): Promise<Browser> {
    const profile = await profileDir();
    let child: Deno.ChildProcess | undefined;
    let stderr: Promise<void> | undefined;
    try {
      const started = performance.now();
      child = new Deno.Command(CHROMIUM, {
        args: [...CHROMIUM_FLAGS, "--remote-debugging-port=0", `--user-data-dir=${profile.path}`, "about:blank"],
        stdin: "null",
        stdout: "null",
        stderr: "piped",
      }).spawn();
      // Standard error is read to its end (Chromium keeps writing there); the DevTools line is picked out of it.
      const said = new Changes();
      let text = "";
      let ended = false;
      stderr = (async () => {
        for await (const piece of child.stderr.pipeThrough(new TextDecoderStream())) {
          text = (text + piece).slice(-65_536);
          said.changed();
        }
        ended = true;
        said.changed();
      })();
      const endpoint = await said.until(() => {
        const found = text.match(/DevTools listening on (ws:\/\/\S+)/)?.[1];
        if (found === undefined && ended) throw new Error(`chromium ended before listening:\n${text}`);
        return found;
      }, { timeoutMs: STEP_MS, failure: () => `chromium did not say where DevTools listen:\n${text}` });
      const socket = new WebSocket(endpoint);
      await new Promise<void>((resolve, reject) => {
        socket.addEventListener("open", () => resolve(), { once: true });
        socket.addEventListener("error", () => reject(new Error(`cannot connect to ${endpoint}`)), { once: true });
      });
      timings.launchMs.push(performance.now() - started);
      return new Browser({ child, profile, stderr, socket });
    } catch (error) {
      if (child) {
        child.kill("SIGKILL");
        await child.status;
        await stderr;
      }
      await profile[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Calls `method` (in the page `sessionId`, if given) and resolves with its result. */
  // deno-lint-ignore no-explicit-any
  async send(method: string, params: Record<string, unknown> = {}, sessionId?: string): Promise<any> {
    const id = this.#nextId++;
    const answer = new Promise<CdpMessage>((resolve, reject) => this.#pending.set(id, { resolve, reject, method }));
    this.#socket.send(JSON.stringify({ id, method, params, ...(sessionId ? { sessionId } : {}) }));
    const reply = await within(method, answer, { timeoutMs: STEP_MS });
    if (reply.error) throw new Error(`${method}: ${reply.error.message}`);
    return reply.result;
  }

  /** The first event `method` (of page `sessionId`) since event number `from` that `accept` takes. */
  // deno-lint-ignore no-explicit-any
  event(method: string, options: { from: number; sessionId?: string; accept?: (params: any) => boolean }) {
    // deno-lint-ignore no-explicit-any
    return this.#changes.until<any>(() => {
      const found = this.#events.slice(options.from).find((e) =>
        e.method === method && (options.sessionId === undefined || e.sessionId === options.sessionId) &&
        (options.accept?.(e.params) ?? true)
      );
      return found?.params;
    }, { timeoutMs: STEP_MS, failure: () => `no ${method} event` });
  }

  /** How many events came so far: a mark to wait from. */
  get eventCount(): number {
    return this.#events.length;
  }

  /** Opens a new tab on `url`, waits for its load event, and returns it; dispose closes it. */
  async open(url: string): Promise<Tab> {
    const { targetId } = await this.send("Target.createTarget", { url: "about:blank" });
    const tab = new Tab(this, targetId);
    try {
      tab.sessionId = (await this.send("Target.attachToTarget", { targetId, flatten: true })).sessionId;
      await this.send("Page.enable", {}, tab.sessionId);
      await tab.navigate(url);
      return tab;
    } catch (error) {
      await tab[Symbol.asyncDispose]();
      throw error;
    }
  }

  /** Whether the DevTools connection is still open. */
  get connected(): boolean {
    return this.#socket.readyState === WebSocket.OPEN;
  }

  #receive(message: CdpMessage): void {
    if (message.id !== undefined) {
      const call = this.#pending.get(message.id);
      this.#pending.delete(message.id);
      call?.resolve(message);
      return;
    }
    this.#events.push(message);
    this.#changes.changed();
  }

  /** Closes the browser (asked politely, then killed), the connection, and removes the profile. Idempotent. */
  async [Symbol.asyncDispose](): Promise<void> {
    try {
      if (this.#socket.readyState === WebSocket.OPEN) {
        await this.send("Browser.close").catch(() => {}); // it may go before it answers
      }
      const exited = await within("chromium exits", this.#child.status, { timeoutMs: 5_000 }).then(
        () => true,
        () => false,
      );
      if (!exited) {
        this.#child.kill("SIGKILL");
        await this.#child.status;
      }
      if (this.#socket.readyState !== WebSocket.CLOSED) {
        this.#socket.close();
        await this.#closed;
      }
      await this.#stderr;
    } finally {
      await this.#profile[Symbol.asyncDispose]();
    }
  }
}

/** One tab of a {@link Browser}; dispose closes it (while the browser is there). */
class Tab implements AsyncDisposable {
  /** The DevTools session attached to the tab. */
  sessionId = "";

  constructor(readonly browser: Browser, readonly targetId: string) {}

  /** Goes to `url` and waits for its load event (the page's inline script has run by then). */
  async navigate(url: string): Promise<void> {
    const started = performance.now();
    const from = this.browser.eventCount;
    const { errorText } = await this.browser.send("Page.navigate", { url }, this.sessionId);
    assert.equal(errorText, undefined, `navigate to ${url}`);
    await this.browser.event("Page.loadEventFired", { from, sessionId: this.sessionId });
    timings.loadMs.push(performance.now() - started);
  }

  /** The document as the browser holds it now, after its scripts ran (what `--dump-dom` prints). */
  dom(): Promise<string> {
    return this.evaluate("document.documentElement.outerHTML");
  }

  async [Symbol.asyncDispose](): Promise<void> {
    if (this.browser.connected) await this.browser.send("Target.closeTarget", { targetId: this.targetId });
  }

  /** The value of `expression` in the page (a promise is awaited). */
  // deno-lint-ignore no-explicit-any
  async evaluate(expression: string): Promise<any> {
    const { result, exceptionDetails } = await this.browser.send(
      "Runtime.evaluate",
      { expression, returnByValue: true, awaitPromise: true },
      this.sessionId,
    );
    if (exceptionDetails) throw new Error(`${expression}: ${exceptionDetails.exception?.description}`);
    return result.value;
  }

  /**
   * Waits, in the page, until `selector`'s text is `expected`: a
   * `MutationObserver` answers as soon as the page changes it, bounded by
   * `timeoutMs`. Resolves with the time it took, ms, and the text of every
   * counter (`data-stat`) at that moment; fails with the text seen last.
   */
  async textBecomes(
    selector: string,
    expected: string,
    timeoutMs = STEP_MS,
  ): Promise<{ ms: number; stats: Record<string, string> }> {
    const outcome = await this.evaluate(`new Promise((resolve) => {
      const started = performance.now();
      const element = document.querySelector(${JSON.stringify(selector)});
      if (!element) return resolve({ ok: false, seen: "no element" });
      const check = () => {
        if (element.textContent !== ${JSON.stringify(expected)}) return false;
        observer.disconnect();
        clearTimeout(timer);
        const cells = [...document.querySelectorAll("[data-stat]")];
        const stats = Object.fromEntries(cells.map((cell) => [cell.dataset.stat, cell.textContent]));
        resolve({ ok: true, ms: performance.now() - started, stats });
        return true;
      };
      const observer = new MutationObserver(check);
      const timer = setTimeout(() => {
        observer.disconnect();
        resolve({ ok: false, seen: element.textContent });
      }, ${timeoutMs});
      if (!check()) observer.observe(element, { childList: true, characterData: true, subtree: true });
    })`);
    assert.ok(outcome.ok, `${selector}: expected ${JSON.stringify(expected)}, still ${JSON.stringify(outcome.seen)}`);
    return { ms: outcome.ms, stats: outcome.stats };
  }
}

/** What the tests measured, printed at the end of the file's run. */
const timings = { launchMs: [] as number[], loadMs: [] as number[], liveMs: [] as number[] };

/** The `href`s of the links of `dom` (entities of `&` undone). */
function hrefs(dom: string): string[] {
  return [...dom.matchAll(/<a [^>]*href="([^"]*)"/g)].map((m) => m[1].replaceAll("&amp;", "&"));
}

// ---------------------------------------------------------------------------------------------------------------------
// One Chromium for every step (each step has its own site and tab): launching one costs about a second.

Deno.test({
  name: `browser: the tracker's web page in headless Chromium${SKIPPED}`,
  ignore: IGNORE,
  async fn(t) {
    await using browser = await Browser.launch();

    await t.step("the page lists the files with a link to each holder's URL", async () => {
      await using site = await startSite();
      const a = await site.addPeer({ "hello.txt": "hello from a\n", "notes & <ideas>.md": "# notes\n" });
      const b = await site.addPeer({ "hello.txt": "hello from a\n", "photo.jpg": "not really a photo" });
      await using tab = await browser.open(site.url);
      const dom = await tab.dom();
      const links = hrefs(dom);
      for (const peer of [a, b]) {
        assert.ok(
          links.includes(`http://127.0.0.1:${peer.http!.port}/files/hello.txt`),
          `${peer.http?.port} in ${links}`,
        );
      }
      assert.ok(links.includes(`http://127.0.0.1:${a.http!.port}/files/${encodeURIComponent("notes & <ideas>.md")}`));
      assert.ok(links.includes("/files/hello.txt"));
      assert.ok(links.includes("/files/photo.jpg.meta4"));
      assert.match(dom, />notes &amp; &lt;ideas&gt;\.md<\/a>/);
      assert.match(dom, /3 files indexed/);
      assert.match(dom, /data-stat="files">3</);
      assert.match(dom, /data-stat="peers">2</);
      assert.match(dom, new RegExp(`setTimeout\\(refresh, ${REFRESH_MS}\\)`), "the tracker's httpPageRefreshMs");
    });

    await t.step("?q= narrows the list to the names containing it", async () => {
      await using site = await startSite();
      await site.addPeer({ "hello.txt": "1", "help.pdf": "2", "photo.jpg": "3" });
      await using tab = await browser.open(new URL("/?q=hel", site.url).href);
      const dom = await tab.dom();
      assert.match(dom, /2 files whose names contain "hel"/);
      assert.match(dom, /value="hel"/);
      const names = hrefs(dom).filter((h) => /^\/files\/[^/]+$/.test(h) && !h.endsWith(".meta4"));
      assert.deepEqual(names.sort(), ["/files/hello.txt", "/files/help.pdf"]);
      await tab.navigate(new URL("/?q=zzz", site.url).href);
      assert.match(await tab.dom(), /no file name contains "zzz"/);
    });

    await t.step("the counters follow the tracker at the page's refresh interval without a reload", async () => {
      await using site = await startSite();
      await site.addPeer({ "first.txt": "first" });
      await using tab = await browser.open(site.url);
      assert.equal(await tab.evaluate(`document.getElementById("stat-files").textContent`), "1");
      await tab.evaluate(`window.sameDocument = true`); // gone if the page reloaded

      await site.addPeer({ "second.txt": "second", "third.txt": "third" });
      const announced = performance.now();
      const { stats } = await tab.textBecomes("#stat-files", "3");
      assert.equal(stats.peers, "2", "the same refresh wrote every counter");
      timings.liveMs.push(performance.now() - announced);

      assert.equal(await tab.evaluate(`window.sameDocument`), true);
      assert.equal(await tab.evaluate(`document.getElementById("stats-note").hidden`), true);
    });

    await t.step("the page says the stats paused while the tracker does not answer, and resumes", async () => {
      // The tracker's counters come from a stand-in here, so that it can stop answering and come back.
      let answering = true;
      let files = 1;
      await using server = Deno.serve({ hostname: "127.0.0.1", port: 0, onListen: () => {} }, (request) => {
        const stats = {
          sessions: 1,
          peers: 1,
          files,
          holders: files,
          requests: 0,
          rps: 0,
          reports: 0,
          reportedBytes: 0,
          waiting: 0,
          uptime: 1,
        };
        if (new URL(request.url).pathname === "/api/stats") {
          return answering ? Response.json(stats) : new Response("down", { status: 503 });
        }
        const view = { query: "", page: 1, pages: 1, matched: 0, files: [], peers: [], peerCount: 0, stats };
        return new Response(renderTrackerPage(view, { refreshMs: REFRESH_MS }), {
          headers: { "content-type": "text/html; charset=utf-8" },
        });
      });
      await using tab = await browser.open(`http://127.0.0.1:${server.addr.port}/`);

      answering = false;
      await tab.evaluate(`new Promise((resolve) => {
        const note = document.getElementById("stats-note");
        new MutationObserver(() => !note.hidden && resolve()).observe(note, { attributes: true });
      })`);
      assert.match(await tab.evaluate(`document.getElementById("stats-note").textContent`), /stats paused/);

      files = 7;
      answering = true;
      await tab.textBecomes("#stat-files", "7");
      assert.equal(await tab.evaluate(`document.getElementById("stats-note").hidden`), true);
    });

    await t.step("a click on a file's name downloads it from a peer", async () => {
      await using site = await startSite();
      const content = "downloaded through the tracker's redirect\n".repeat(1000);
      await site.addPeer({ "report.txt": content });
      await using downloads = await tempDir();
      await using tab = await browser.open(site.url);
      await browser.send("Browser.setDownloadBehavior", {
        behavior: "allow",
        downloadPath: downloads.path,
        eventsEnabled: true,
      });
      const from = browser.eventCount;
      await tab.evaluate(`document.querySelector('a[href="/files/report.txt"]').click()`);
      const begun = await browser.event("Browser.downloadWillBegin", { from });
      assert.equal(begun.suggestedFilename, "report.txt");
      assert.match(begun.url, /^http:\/\/127\.0\.0\.1:\d+\//);
      await browser.event("Browser.downloadProgress", { from, accept: (p) => p.state === "completed" });
      assert.equal(await Deno.readTextFile(join(downloads.path, "report.txt")), content);
    });
  },
});

Deno.test({
  name: `browser: timings${SKIPPED}`,
  ignore: IGNORE,
  fn() {
    const show = (values: number[]) => values.map((v) => `${Math.round(v)} ms`).join(", ") || "none";
    console.log(
      `chromium: launch to DevTools ${show(timings.launchMs)}; navigate to load ${show(timings.loadMs)}; ` +
        `a new file shown ${show(timings.liveMs)} after it was announced`,
    );
  },
});
