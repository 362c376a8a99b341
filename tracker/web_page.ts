/**
 * The tracker's web page (`GET /` of its HTTP face), rendered on the server
 * from a {@link TrackerPageView}: a search form, the files of this page with
 * links to each holder and to their Metalink, paging, the active peers, and
 * the tracker's counters, which one inline script refreshes from
 * `/api/stats` every {@link STATS_REFRESH_MS} (or
 * {@link RenderTrackerPageOptions.refreshMs}). Readable without JavaScript,
 * fits a phone's width, loads nothing from anywhere: one `<style>`, one
 * `<script>`, no font, image or stylesheet. Every text and attribute is
 * escaped; a link goes only to this page's own paths or to an `http(s)` URL
 * the view gave.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const stats = {
 *   sessions: 1, peers: 1, files: 1, holders: 1, requests: 3, rps: 0, reports: 0, reportedBytes: 0, waiting: 0,
 *   uptime: 5,
 * };
 * const html = renderTrackerPage({
 *   query: "", page: 1, pages: 1, matched: 1, peerCount: 1, stats,
 *   files: [{
 *     name: "a&b.txt", size: 1536, sha256: "ab".repeat(32), holders: 1,
 *     urls: ["http://127.0.0.1:8081/files/a%26b.txt"], href: "/files/a%26b.txt", metalink: "/files/a%26b.txt.meta4",
 *   }],
 *   peers: [{ address: "127.0.0.1:7001", files: 1, http: "http://127.0.0.1:8081/" }],
 * });
 * assert.ok(html.includes(">a&amp;b.txt</a>"));
 * assert.ok(html.includes('data-stat="files"'));
 * ```
 *
 * @module
 */

import type { TrackerStats } from "../protocol.ts";
import { formatBytes, plural } from "../io/words.ts";
import type { PageFile, PagePeer, TrackerPageView } from "./page_view.ts";

/** How often the page's script asks `/api/stats` again, ms, unless {@link RenderTrackerPageOptions.refreshMs} says. */
export const STATS_REFRESH_MS = 2_000;

/** The longest `setTimeout` a browser keeps as given (2^31 - 1 ms, about 24.8 days). */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** How long the script waits for one `/api/stats` answer before it counts as not answered, ms. */
export const STATS_FETCH_TIMEOUT_MS = 1_500;

/** Hex digits of a SHA-256 shown before the ellipsis (the whole hash is in the text, its `title`, and copies). */
export const SHORT_HASH_DIGITS = 8;

/** Paging links shown on each side of the current page (then the first, the last, and `…`). */
const PAGE_LINKS_AROUND = 2;

/** The counters shown, in order, with their labels; each value sits in `<dd id="stat-KEY" data-stat="KEY">`. */
const STAT_ROWS: readonly [key: keyof TrackerStats, label: string][] = [
  ["files", "files"],
  ["holders", "copies"],
  ["partial", "partial copies"],
  ["peers", "peers"],
  ["sessions", "sessions"],
  ["waiting", "waited for"],
  ["requests", "requests"],
  ["rps", "requests/s"],
  ["reports", "reports"],
  ["reportedBytes", "bytes verified"],
  ["uptime", "up"],
];

/** Options of {@link renderTrackerPage}. */
export interface RenderTrackerPageOptions {
  /**
   * How often the page's script asks `/api/stats` again, ms: a whole number
   * from 1 to 2^31 - 1. Default {@link STATS_REFRESH_MS} (2 s).
   */
  refreshMs?: number;
}

/**
 * `ms` when the page's script can wait that long between refreshes (a
 * whole number of ms from 1 to 2^31 - 1); else throws a `RangeError`.
 */
export function checkRefreshMs(ms: number): number {
  if (!Number.isInteger(ms) || ms < 1 || ms > MAX_TIMER_MS) {
    throw new RangeError(
      `Cannot refresh the page's stats every ${ms} ms: give a whole number from 1 to ${MAX_TIMER_MS}`,
    );
  }
  return ms;
}

/**
 * Renders the whole page for `view`: a complete HTML document, UTF-8. Pure:
 * the same view and options give the same text. Throws a `RangeError` for
 * a `refreshMs` that {@link checkRefreshMs} refuses.
 */
export function renderTrackerPage(view: TrackerPageView, options: RenderTrackerPageOptions = {}): string {
  const refreshMs = checkRefreshMs(options.refreshMs ?? STATS_REFRESH_MS);
  const title = view.query ? `“${view.query}” · p2p tracker` : "p2p tracker";
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="color-scheme" content="light dark">
<title>${text(title)}</title>
<style>${STYLE}</style>
</head>
<body>
<header>
<h1><a href="/">p2p tracker</a></h1>
<form role="search" method="get" action="/">
<label for="q">File name contains</label>
<input id="q" name="q" type="search" value="${attr(view.query)}" autocomplete="off" spellcheck="false">
<button type="submit">Search</button>
</form>
</header>
<main>
${statsSection(view.stats)}
${filesSection(view)}
${peersSection(view.peers, view.peerCount)}
</main>
<script>${script(refreshMs)}</script>
</body>
</html>
`;
}

/** The counters, as a definition list the script refreshes; a counter the stats lack (`partial`) is left out. */
function statsSection(stats: TrackerStats): string {
  const rows = STAT_ROWS.flatMap(([key, label]) => {
    const value = stats[key];
    if (value === undefined) return [];
    return [
      `<div><dt>${text(label)}</dt><dd id="stat-${key}" data-stat="${key}">${text(statText(key, value))}</dd></div>`,
    ];
  });
  return `<section class="stats" aria-labelledby="stats-h">
<h2 id="stats-h">Tracker</h2>
<dl>${rows.join("")}</dl>
<p id="stats-note" class="note" role="status" hidden>stats paused: the tracker did not answer</p>
</section>`;
}

/** The count, the table of this page's files, and the paging links. */
function filesSection(view: TrackerPageView): string {
  const table = view.files.length === 0 ? "" : `<table class="files">
<thead><tr><th scope="col">Name</th><th scope="col" class="num">Size</th><th scope="col">SHA-256</th>` +
    `<th scope="col" class="num">Holders</th><th scope="col">Download from</th><th scope="col">Metalink</th></tr></thead>
<tbody>
${view.files.map(fileRow).join("\n")}
</tbody>
</table>`;
  return `<section aria-labelledby="files-h">
<h2 id="files-h">Files</h2>
<p class="count">${text(countLine(view))}</p>
${table}
${pagingNav(view)}
</section>`;
}

/** `3 files whose names contain "hel"`, `no file name contains "x"`, `12 files indexed; page 2 of 3`. */
function countLine(view: TrackerPageView): string {
  const quoted = JSON.stringify(view.query);
  if (view.matched === 0) return view.query ? `no file name contains ${quoted}` : "no files indexed yet";
  const all = view.query
    ? `${plural(view.matched, "file")} whose names contain ${quoted}`
    : `${plural(view.matched, "file")} indexed`;
  if (view.page > view.pages) return `${all}; page ${view.page} is past the end, the last is page ${view.pages}`;
  return view.pages > 1 ? `${all}; page ${view.page} of ${view.pages}` : all;
}

/** One file: its name (the redirect), size, hash, holders, each holder's URL, its Metalink. */
function fileRow(file: PageFile): string {
  const links = file.urls.flatMap((url) => {
    const href = safeHref(url);
    return href ? [`<li><a href="${attr(href)}" rel="nofollow">${text(hostOf(href))}</a></li>`] : [];
  });
  const holders = links.length
    ? `<ul class="holders">${links.join(" ")}</ul>`
    : `<span class="muted">no HTTP holder</span>`;
  return `<tr>
<td data-label="Name" class="name"><a href="${attr(safeHref(file.href) ?? "#")}" download="${attr(file.name)}">${
    text(file.name)
  }</a></td>
<td data-label="Size" class="num" title="${file.size} bytes">${text(formatBytes(file.size))}</td>
<td data-label="SHA-256"><code class="hash" tabindex="0" title="${attr(file.sha256)}">${text(file.sha256)}</code></td>
<td data-label="Holders" class="num">${file.holders}</td>
<td data-label="Download from">${holders}</td>
<td data-label="Metalink"><a href="${
    attr(safeHref(file.metalink) ?? "#")
  }" type="application/metalink4+xml">.meta4</a></td>
</tr>`;
}

/** Previous, numbered and next links (`?q=…&page=N`) when there is more than one page. */
function pagingNav(view: TrackerPageView): string {
  if (view.pages <= 1) return "";
  const link = (page: number, label: string, rel = "") =>
    `<a href="${attr(pageHref(view.query, page))}"${rel ? ` rel="${rel}"` : ""}>${text(label)}</a>`;
  const items: string[] = [];
  if (view.page > 1) items.push(link(Math.min(view.page - 1, view.pages), "← previous", "prev"));
  let last = 0;
  for (let page = 1; page <= view.pages; page++) {
    const near = Math.abs(page - view.page) <= PAGE_LINKS_AROUND;
    if (page !== 1 && page !== view.pages && !near) continue;
    if (page > last + 1) items.push(`<span class="gap">…</span>`);
    items.push(page === view.page ? `<span aria-current="page">${page}</span>` : link(page, String(page)));
    last = page;
  }
  if (view.page < view.pages) items.push(link(view.page + 1, "next →", "next"));
  return `<nav class="pages" aria-label="Pages">${items.join(" ")}</nav>`;
}

/** `/?q=hel&page=2`; `/?page=2` for all. */
function pageHref(query: string, page: number): string {
  return query ? `/?q=${encodeURIComponent(query)}&page=${page}` : `/?page=${page}`;
}

/** The active peers: address, files, their HTTP face; "and N more" beyond those listed. */
function peersSection(peers: readonly PagePeer[], peerCount: number): string {
  const items = peers.map((peer) => {
    const href = peer.http === undefined ? undefined : safeHref(peer.http);
    const face = href ? ` · <a href="${attr(href)}" rel="nofollow">web</a>` : "";
    return `<li><code>${text(peer.address)}</code> <span class="muted">${
      text(plural(peer.files, "file"))
    }</span>${face}</li>`;
  });
  const more = peerCount - peers.length;
  const body = peerCount === 0
    ? `<p class="muted">no peers share files now</p>`
    : `<ul class="peers">${items.join("")}</ul>${more > 0 ? `<p class="muted">and ${more} more</p>` : ""}`;
  return `<section aria-labelledby="peers-h">
<h2 id="peers-h">Peers <span class="muted">(${peerCount})</span></h2>
${body}
</section>`;
}

/** `HOST:PORT` of an absolute URL, for a link's label. */
function hostOf(href: string): string {
  try {
    return new URL(href).host;
  } catch {
    return href;
  }
}

/**
 * `href` when it may be linked: a path of this site (`/…`, not `//…`) or an
 * absolute `http:`/`https:` URL; `undefined` for anything else (`javascript:`,
 * `data:`, a relative path).
 */
function safeHref(href: string): string | undefined {
  if (href.startsWith("/") && !href.startsWith("//") && !href.startsWith("/\\")) return href;
  try {
    const url = new URL(href);
    return url.protocol === "http:" || url.protocol === "https:" ? href : undefined;
  } catch {
    return undefined;
  }
}

/** `text` safe between tags. */
function text(value: string): string {
  return value.replaceAll("&", "&amp;").replaceAll("<", "&lt;").replaceAll(">", "&gt;");
}

/** `value` safe inside a double-quoted attribute. */
function attr(value: string): string {
  return text(value).replaceAll('"', "&quot;").replaceAll("'", "&#39;");
}

/**
 * A counter's value in words, on the server and (its source copied into the
 * script) in the browser, so that both say the same. Uses only built-ins and
 * `formatBytes`, which the script defines under that name too.
 */
function statText(key: string, value: number): string {
  if (key === "reportedBytes") return formatBytes(value);
  if (key === "uptime") return uptimeText(value);
  return value.toLocaleString("en-US");
}

/** `5 s`, `12 min`, `3 h 20 min`, `4 days 2 h` (the words of `cli/listing.ts`, self-contained for the script). */
function uptimeText(seconds: number): string {
  const s = Math.floor(seconds);
  if (s < 60) return `${s} s`;
  if (s < 3600) return `${Math.floor(s / 60)} min`;
  if (s < 86400) return `${Math.floor(s / 3600)} h ${Math.floor(s % 3600 / 60)} min`;
  const days = Math.floor(s / 86400);
  return `${days} ${days === 1 ? "day" : "days"} ${Math.floor(s % 86400 / 3600)} h`;
}

/**
 * The page's one script: every `refreshMs` it fetches
 * `/api/stats` and writes each counter into its `data-stat` element; when
 * the tracker does not answer it shows the note and keeps trying. The
 * formatters are the same functions the server used (their source).
 */
function script(refreshMs: number): string {
  const source = `"use strict";
(() => {
  const formatBytes = ${String(formatBytes)};
  const uptimeText = ${String(uptimeText)};
  const statText = ${String(statText)};
  const note = document.getElementById("stats-note");
  const cells = document.querySelectorAll("[data-stat]");
  const refresh = async () => {
    try {
      if (document.hidden) return;
      const response = await fetch("/api/stats", {
        cache: "no-store",
        headers: { accept: "application/json" },
        signal: AbortSignal.timeout(${STATS_FETCH_TIMEOUT_MS}),
      });
      if (!response.ok) throw new Error("status " + response.status);
      const stats = await response.json();
      for (const cell of cells) {
        const value = stats[cell.dataset.stat];
        if (typeof value !== "number" || !Number.isFinite(value)) continue;
        const shown = statText(cell.dataset.stat, value);
        if (cell.textContent !== shown) cell.textContent = shown;
      }
      note.hidden = true;
    } catch {
      note.hidden = false;
    } finally {
      setTimeout(refresh, ${refreshMs});
    }
  };
  setTimeout(refresh, ${refreshMs});
})();`;
  // Our own code, but a "</script" in it would end the element early; make sure none ever does.
  return source.replaceAll("</", "<\\/");
}

/** The page's one stylesheet: system fonts, light and dark, the file table stacked into cards under 640px. */
const STYLE = `
:root{--bg:#fbfbfa;--fg:#1d1f23;--muted:#5c6370;--line:#e3e4e8;--card:#fff;--accent:#0b57d0;--warn:#8a4b00;--warn-bg:#fff4e0;
color-scheme:light dark;font:15px/1.5 system-ui,-apple-system,"Segoe UI",Roboto,"Helvetica Neue",Arial,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#15171a;--fg:#e4e6ea;--muted:#9aa1ad;--line:#2c3036;--card:#1c1f23;
--accent:#8ab4f8;--warn:#ffcf8a;--warn-bg:#3a2a12}}
*{box-sizing:border-box}
body{margin:0 auto;max-width:72rem;padding:1rem 1.25rem 3rem;background:var(--bg);color:var(--fg)}
a{color:var(--accent);text-underline-offset:2px}
a:focus-visible,input:focus-visible,button:focus-visible,code:focus-visible{outline:2px solid var(--accent);outline-offset:2px}
header{display:flex;flex-wrap:wrap;align-items:center;justify-content:space-between;gap:.75rem 1.5rem;
padding-bottom:1rem;border-bottom:1px solid var(--line)}
h1{margin:0;font-size:1.35rem;font-weight:650;letter-spacing:-.01em}
h1 a{color:inherit;text-decoration:none}
h2{font-size:1rem;margin:1.75rem 0 .5rem;font-weight:650}
form{display:flex;flex-wrap:wrap;align-items:center;gap:.5rem;flex:1 1 18rem;max-width:32rem}
label{color:var(--muted);font-size:.9rem}
input[type=search]{flex:1 1 10rem;min-width:0;padding:.45rem .6rem;font:inherit;color:inherit;background:var(--card);
border:1px solid var(--line);border-radius:6px}
button{padding:.45rem .9rem;font:inherit;color:#fff;background:var(--accent);border:0;border-radius:6px;cursor:pointer}
@media (prefers-color-scheme:dark){button{color:#10131a}}
.muted{color:var(--muted)}
.count{color:var(--muted);margin:.25rem 0 .75rem}
.stats dl{display:grid;grid-template-columns:repeat(auto-fill,minmax(10.5rem,1fr));gap:.4rem;margin:0}
.stats dl div{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:.3rem .6rem}
.stats dt{color:var(--muted);font-size:.8rem}
.stats dd{margin:0;font-size:1.05rem;white-space:nowrap;font-variant-numeric:tabular-nums;font-weight:600}
.note{display:inline-block;margin:.6rem 0 0;padding:.2rem .6rem;border-radius:6px;font-size:.85rem;color:var(--warn);
background:var(--warn-bg)}
.note[hidden]{display:none}
table.files{width:100%;border-collapse:collapse;background:var(--card);border:1px solid var(--line);border-radius:8px}
.files th,.files td{padding:.5rem .7rem;text-align:left;vertical-align:top;border-bottom:1px solid var(--line)}
.files th{font-size:.8rem;font-weight:600;color:var(--muted);white-space:nowrap}
.files tr:last-child td{border-bottom:0}
.files .num{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
.files .name{overflow-wrap:anywhere;font-weight:500}
code{font:.85rem/1.4 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace}
.hash{display:inline-block;max-width:${
  SHORT_HASH_DIGITS + 1.5
}ch;overflow:hidden;text-overflow:ellipsis;white-space:nowrap;
vertical-align:bottom;color:var(--muted);cursor:text;user-select:all}
.hash:hover,.hash:focus{max-width:none;white-space:normal;overflow-wrap:anywhere}
ul.holders,ul.peers{list-style:none;margin:0;padding:0}
ul.holders li{display:inline;white-space:nowrap}
ul.holders li+li::before{content:"· ";color:var(--muted)}
ul.peers li{padding:.3rem 0;border-bottom:1px solid var(--line)}
ul.peers li:last-child{border-bottom:0}
.pages{display:flex;flex-wrap:wrap;gap:.35rem;margin:1rem 0}
.pages a,.pages span{padding:.2rem .55rem;border-radius:6px}
.pages a{border:1px solid var(--line);text-decoration:none;background:var(--card)}
.pages [aria-current]{font-weight:650;background:var(--accent);color:var(--bg)}
@media (max-width:640px){
body{padding:.75rem .75rem 2rem}
.stats dl{grid-template-columns:repeat(3,1fr)}
form label{flex-basis:100%}
.files td>ul.holders{flex:1 1 auto;min-width:0}
.stats dd{font-size:.95rem}
table.files,.files tbody,.files tr,.files td{display:block;width:100%}
table.files{border:0;background:none}
.files thead{position:absolute;width:1px;height:1px;overflow:hidden;clip:rect(0 0 0 0)}
.files tr{background:var(--card);border:1px solid var(--line);border-radius:8px;margin-bottom:.6rem;padding:.35rem 0}
.files td{display:flex;gap:.75rem;border:0;padding:.2rem .75rem;text-align:left}
.files td::before{content:attr(data-label);flex:0 0 6.5rem;color:var(--muted);font-size:.8rem;font-weight:400;padding-top:.1rem}
.files .num{text-align:left}
.files td.name{font-size:1.05rem}
.files td.name::before{display:none}
}`;
