/**
 * The tracker's web page (`tracker/web_page.ts`) as text: escaping of names
 * and of the query, the count, paging links, an empty index, links only to
 * this site or to the holders' URLs given, the counters and their script.
 * A real browser runs it in `tests/e2e/browser_test.ts`.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { TrackerStats } from "../../protocol.ts";
import type { PageFile, TrackerPageView } from "../../tracker/page_view.ts";
import { checkRefreshMs, renderTrackerPage, STATS_REFRESH_MS } from "../../tracker/web_page.ts";

const STATS: TrackerStats = {
  sessions: 4,
  peers: 3,
  files: 9,
  holders: 12,
  requests: 1234,
  rps: 0.5,
  reports: 1,
  reportedBytes: 2048,
  waiting: 0,
  uptime: 3700,
};

const HASH = "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08";

function file(name: string, ports: number[] = [8081]): PageFile {
  const path = `/files/${encodeURIComponent(name)}`;
  return {
    name,
    size: 1536,
    sha256: HASH,
    holders: ports.length,
    urls: ports.map((port) => `http://127.0.0.1:${port}${path}`),
    href: path,
    metalink: `${path}.meta4`,
  };
}

function view(overrides: Partial<TrackerPageView> = {}): TrackerPageView {
  const files = overrides.files ?? [file("hello.txt", [8081, 8082])];
  return {
    query: "",
    page: 1,
    pages: 1,
    matched: files.length,
    files,
    peers: [{ address: "127.0.0.1:7001", files: 1, http: "http://127.0.0.1:8081/" }],
    peerCount: 1,
    stats: STATS,
    ...overrides,
  };
}

/** `html` contains `part`, or fails showing the part. */
function includes(html: string, part: string): void {
  assert.ok(html.includes(part), `missing: ${part}`);
}

/** Every `href`/`src`/`action` value of the page, unescaped of `&amp;`. */
function links(html: string): string[] {
  return [...html.matchAll(/\s(?:href|src|action)="([^"]*)"/g)].map((m) => m[1].replaceAll("&amp;", "&"));
}

/** What is between `<body>` and `<script>`: the page without its script. */
function body(html: string): string {
  return html.slice(html.indexOf("<body>"), html.indexOf("<script>"));
}

Deno.test("web page: a complete document, with a viewport, one style, one script, and nothing loaded from elsewhere", () => {
  const html = renderTrackerPage(view());
  assert.ok(html.startsWith("<!doctype html>"));
  includes(html, '<meta name="viewport" content="width=device-width, initial-scale=1">');
  includes(html, '<meta charset="utf-8">');
  assert.deepEqual(html.match(/<style>/g)?.length, 1);
  assert.deepEqual(html.match(/<script[\s>]/g)?.length, 1);
  assert.deepEqual(html.match(/<link\b|<img\b|<iframe\b|@import|url\(/g), null);
  assert.deepEqual(html.match(/\ssrc=/g), null);
});

Deno.test("web page: a hostile name appears only escaped, in text and in attributes", () => {
  const hostile = `<img src=x onerror=alert(1)>.txt`;
  const quotes = `it's "quoted" & <b>bold</b>.txt`;
  const html = renderTrackerPage(view({ files: [file(hostile), file(quotes)] }));
  assert.deepEqual(html.includes("<img"), false);
  assert.deepEqual(html.includes("<b>"), false);
  includes(html, ">&lt;img src=x onerror=alert(1)&gt;.txt</a>");
  includes(html, `download="it&#39;s &quot;quoted&quot; &amp; &lt;b&gt;bold&lt;/b&gt;.txt"`);
  includes(html, '>it\'s "quoted" &amp; &lt;b&gt;bold&lt;/b&gt;.txt</a>');
  // Every attribute value is one quoted string: no quote of a name closes one early.
  for (const tag of body(html).match(/<[a-z][^>]*>/g) ?? []) {
    assert.match(tag, /^<[a-z0-9]+(\s[a-z-]+(="[^"]*")?)*>$/, tag);
  }
});

Deno.test("web page: non-ASCII names and addresses are kept as they are, escaped where needed", () => {
  const name = "Zürich – 東京 & co.txt";
  const html = renderTrackerPage(view({ files: [file(name)] }));
  includes(html, ">Zürich – 東京 &amp; co.txt</a>");
  includes(html, `href="/files/${encodeURIComponent(name)}"`);
});

Deno.test("web page: the query is echoed escaped in the search box and in the count", () => {
  const query = `"><script>alert(1)</script>`;
  const html = renderTrackerPage(view({ query, matched: 0, files: [] }));
  includes(html, 'value="&quot;&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  includes(html, 'no file name contains "\\"&gt;&lt;script&gt;alert(1)&lt;/script&gt;"');
  assert.deepEqual(html.match(/<script/g)?.length, 1);
  assert.deepEqual(body(html).includes("</script>"), false);
});

Deno.test("web page: the count says how many files match, and on which page", () => {
  includes(renderTrackerPage(view()), '<p class="count">1 file indexed</p>');
  includes(
    renderTrackerPage(view({ query: "hel", matched: 3, files: [file("hello"), file("help"), file("shell")] })),
    '<p class="count">3 files whose names contain "hel"</p>',
  );
  includes(
    renderTrackerPage(view({ query: "a", matched: 120, page: 2, pages: 3 })),
    '<p class="count">120 files whose names contain "a"; page 2 of 3</p>',
  );
  includes(
    renderTrackerPage(view({ matched: 120, page: 7, pages: 3, files: [] })),
    "page 7 is past the end, the last is page 3",
  );
});

Deno.test("web page: an empty index says so, with no table and no paging", () => {
  const html = renderTrackerPage(view({ files: [], matched: 0, peers: [], peerCount: 0 }));
  includes(html, '<p class="count">no files indexed yet</p>');
  includes(html, "no peers share files now");
  assert.deepEqual(html.includes("<table"), false);
  assert.deepEqual(html.includes('class="pages"'), false);
});

Deno.test("web page: each file links its redirect, each holder's URL by host:port, and its Metalink", () => {
  const html = renderTrackerPage(view());
  includes(html, '<a href="/files/hello.txt" download="hello.txt">hello.txt</a>');
  includes(html, '<a href="http://127.0.0.1:8081/files/hello.txt" rel="nofollow">127.0.0.1:8081</a>');
  includes(html, '<a href="http://127.0.0.1:8082/files/hello.txt" rel="nofollow">127.0.0.1:8082</a>');
  includes(html, 'href="/files/hello.txt.meta4"');
  includes(html, ">1.50 KiB</td>");
  includes(html, `title="${HASH}">${HASH}</code>`);
});

Deno.test("web page: paging links keep the query and appear only when there is more than one page", () => {
  const one = renderTrackerPage(view({ query: "a b&c", pages: 1 }));
  assert.deepEqual(one.includes('class="pages"'), false);
  const html = renderTrackerPage(view({ query: "a b&c", matched: 500, page: 5, pages: 10 }));
  const pages = links(html).filter((l) => l.startsWith("/?"));
  assert.deepEqual(pages, [
    "/?q=a%20b%26c&page=4", // previous
    "/?q=a%20b%26c&page=1",
    "/?q=a%20b%26c&page=3",
    "/?q=a%20b%26c&page=4",
    "/?q=a%20b%26c&page=6",
    "/?q=a%20b%26c&page=7",
    "/?q=a%20b%26c&page=10",
    "/?q=a%20b%26c&page=6", // next
  ]);
  includes(html, '<span aria-current="page">5</span>');
  const first = renderTrackerPage(view({ matched: 60, page: 1, pages: 2 }));
  assert.deepEqual(links(first).filter((l) => l.startsWith("/?")), ["/?page=2", "/?page=2"]);
});

Deno.test("web page: links go to this site or to the holders' URLs given, never elsewhere", () => {
  const html = renderTrackerPage(view());
  const given = new Set(["http://127.0.0.1:8081/files/hello.txt", "http://127.0.0.1:8082/files/hello.txt"]);
  given.add("http://127.0.0.1:8081/"); // the peer's own face
  for (const link of links(html)) {
    assert.ok(link.startsWith("/") && !link.startsWith("//") || given.has(link), `unexpected link ${link}`);
  }
});

Deno.test("web page: a URL that is not http(s) is not linked", () => {
  const evil = {
    ...file("x.txt"),
    urls: ["javascript:alert(1)", "data:text/html,hi", "//evil.example/x"],
    href: "javascript:alert(2)",
  };
  const html = renderTrackerPage(view({
    files: [evil],
    peers: [{ address: "127.0.0.1:7001", files: 1, http: "javascript:alert(3)" }],
  }));
  assert.deepEqual(html.includes("javascript:"), false);
  assert.deepEqual(html.includes("data:text"), false);
  assert.deepEqual(html.includes("evil.example"), false);
  includes(html, "no HTTP holder");
});

Deno.test("web page: every counter has a stable id and data-stat, in words", () => {
  const html = renderTrackerPage(view());
  for (const key of Object.keys(STATS)) {
    includes(html, `id="stat-${key}" data-stat="${key}"`);
  }
  includes(html, 'data-stat="files">9</dd>');
  includes(html, 'data-stat="requests">1,234</dd>');
  includes(html, 'data-stat="reportedBytes">2.00 KiB</dd>');
  includes(html, 'data-stat="uptime">1 h 1 min</dd>');
  includes(html, '<p id="stats-note" class="note" role="status" hidden>stats paused');
});

Deno.test("web page: partial holdings have a counter of their own when the stats have one, and none when not", () => {
  const html = renderTrackerPage(view({ stats: { ...STATS, partial: 1234 } }));
  includes(html, '<dt>partial copies</dt><dd id="stat-partial" data-stat="partial">1,234</dd>');
  assert.equal(renderTrackerPage(view()).includes("stat-partial"), false, "STATS here has no partial");
});

Deno.test("web page: the script asks /api/stats again every 2 s by default, and its formatters run", () => {
  const html = renderTrackerPage(view());
  assert.deepEqual(STATS_REFRESH_MS, 2_000);
  const script = html.slice(html.indexOf("<script>") + 8, html.indexOf("</script>"));
  includes(script, 'fetch("/api/stats"');
  includes(script, `setTimeout(refresh, ${STATS_REFRESH_MS})`);
  // The same formatters the server used, as the browser gets them: pull them out and run them here.
  const formatters = script.slice(script.indexOf("const formatBytes"), script.indexOf("const note"));
  const statText = new Function(`${formatters}; return statText;`)() as (key: string, value: number) => string;
  assert.deepEqual(statText("reportedBytes", 5 * 1024 * 1024), "5.00 MiB");
  assert.deepEqual(statText("uptime", 2 * 86400 + 3 * 3600), "2 days 3 h");
  assert.deepEqual(statText("files", 12345), "12,345");
});

Deno.test("web page: refreshMs sets how often the script asks again; only whole ms from 1 to 2^31 - 1", () => {
  const scriptOf = (html: string) => html.slice(html.indexOf("<script>") + 8, html.indexOf("</script>"));
  const fast = scriptOf(renderTrackerPage(view(), { refreshMs: 100 }));
  assert.deepEqual(fast.match(/setTimeout\(refresh, \d+\)/g), ["setTimeout(refresh, 100)", "setTimeout(refresh, 100)"]);
  assert.deepEqual(renderTrackerPage(view(), { refreshMs: STATS_REFRESH_MS }), renderTrackerPage(view()));
  for (const bad of [0, -1, 1.5, Number.NaN, Number.POSITIVE_INFINITY, 2 ** 31]) {
    assert.throws(() => renderTrackerPage(view(), { refreshMs: bad }), RangeError, String(bad));
  }
  assert.throws(
    () => checkRefreshMs(0),
    /Cannot refresh the page's stats every 0 ms: give a whole number from 1 to 2147483647/,
  );
  assert.deepEqual(checkRefreshMs(2 ** 31 - 1), 2 ** 31 - 1);
});

Deno.test("web page: peers beyond those listed are counted as 'and N more'", () => {
  const html = renderTrackerPage(view({ peerCount: 31 }));
  includes(html, '<code>127.0.0.1:7001</code> <span class="muted">1 file</span>');
  includes(html, '<a href="http://127.0.0.1:8081/" rel="nofollow">web</a>');
  includes(html, "and 30 more");
});
