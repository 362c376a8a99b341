/**
 * The tracker's HTTP face over real loopback sockets: the JSON API and its
 * errors, `/files/<name>` redirecting to the best-ranked holder with an
 * HTTP face (its duplicates and digest in headers), Metalinks asked by
 * path or by `Accept`, the web page, and one connection count shared with
 * the tracker's TCP sessions. Holders are raw `UPDATE … http=<port>` lines:
 * nothing need listen at their ports for the tracker to name them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { encodeName, Limits } from "../../protocol.ts";
import { startTracker, startTrackerWithHttp, type Tracker } from "../../tracker.ts";
import { Secret } from "../../io/secret.ts";
import { MiB } from "../helpers/hashes.ts";
import { LineClient } from "../helpers/net.ts";
import { suiteStoreOptions, suiteTracker, type TestTracker } from "../helpers/roles.ts";

const SHA_A = "a".repeat(64);
const SHA_B = "b".repeat(64);
/** `SHA_A` in base64, as a digest header carries it. */
const SHA_A_B64 = btoa(String.fromCharCode(...new Uint8Array(32).fill(0xaa)));

type HttpTracker = TestTracker & { base: string };

/** A tracker of the suite's store on 127.0.0.1 with its HTTP face, both on free ports. */
async function httpTracker(options: { demoteAfter?: number; maxConnections?: number } = {}): Promise<HttpTracker> {
  const tracker = await suiteTracker({ httpPort: 0, ...options });
  return Object.assign(tracker, { base: `http://127.0.0.1:${tracker.http!.port}` });
}

/** A session announcing `entries` (`[size, hash token, name]`) as a peer at 127.0.0.1:`port`, with an HTTP face at `http`. */
async function holder(
  tracker: Tracker,
  at: { port: number; http?: number },
  entries: [number, string, string][],
): Promise<LineClient> {
  const session = await LineClient.connect(tracker.addr.port);
  const header = `UPDATE ${at.port} ${entries.length}${at.http === undefined ? "" : ` http=${at.http}`}`;
  const lines = entries.map(([size, token, name]) => `${size} ${token} ${encodeName(name)}`);
  const [reply] = await session.ask([header, ...lines].join("\n") + "\n");
  assert.equal(reply.status, 200, reply.text);
  return session;
}

interface Answer {
  status: number;
  headers: Headers;
  body: string;
}

async function get(url: string, init: RequestInit = {}): Promise<Answer> {
  const response = await fetch(url, { redirect: "manual", ...init });
  return { status: response.status, headers: response.headers, body: await response.text() };
}

async function getJson(url: string): Promise<{ status: number; type: string | null; value: Record<string, unknown> }> {
  const answer = await get(url);
  return { status: answer.status, type: answer.headers.get("content-type"), value: JSON.parse(answer.body) };
}

// ---------------------------------------------------------------------------
// The JSON API

Deno.test("tracker HTTP: /api/files lists a page of names, each with its holders' URLs, its redirect and its Metalink", async () => {
  await using tracker = await httpTracker();
  using _a = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "a b.txt"], [4, SHA_B, "notes.md"]]);
  using _b = await holder(tracker, { port: 5002 }, [[3, SHA_A, "a b.txt"]]);
  using _c = await holder(tracker, { port: 5003, http: 8003 }, [[3, SHA_A, "a b.txt"]]);
  const { status, type, value } = await getJson(`${tracker.base}/api/files`);
  assert.equal(status, 200);
  assert.equal(type, "application/json; charset=utf-8");
  assert.deepEqual(value, {
    query: "",
    page: 1,
    pages: 1,
    matched: 2,
    files: [
      {
        name: "a b.txt",
        size: 3,
        sha256: SHA_A,
        holders: 3,
        urls: ["http://127.0.0.1:8001/files/a%20b.txt", "http://127.0.0.1:8003/files/a%20b.txt"],
        href: "/files/a%20b.txt",
        metalink: "/files/a%20b.txt.meta4",
      },
      {
        name: "notes.md",
        size: 4,
        sha256: SHA_B,
        holders: 1,
        urls: ["http://127.0.0.1:8001/files/notes.md"],
        href: "/files/notes.md",
        metalink: "/files/notes.md.meta4",
      },
    ],
  });
  const searched = await getJson(`${tracker.base}/api/files?q=NOTES`);
  assert.deepEqual((searched.value.files as { name: string }[]).map((f) => f.name), ["notes.md"]);
  assert.equal(searched.value.query, "NOTES");
});

Deno.test("tracker HTTP: /api/files pages by 100, and a page past the end is empty", async () => {
  await using tracker = await httpTracker();
  const names = Array.from({ length: Limits.LIST_PAGE + 1 }, (_, i) => `f${String(i).padStart(3, "0")}`);
  using _ = await holder(tracker, { port: 5001 }, names.map((name) => [3, SHA_A, name]));
  const first = await getJson(`${tracker.base}/api/files`);
  assert.equal((first.value.files as unknown[]).length, 100);
  assert.deepEqual([first.value.pages, first.value.matched], [2, 101]);
  const second = await getJson(`${tracker.base}/api/files?page=2`);
  assert.deepEqual((second.value.files as { name: string }[]).map((f) => f.name), ["f100"]);
  const past = await getJson(`${tracker.base}/api/files?page=3`);
  assert.deepEqual([past.status, past.value.files, past.value.page], [200, [], 3]);
});

Deno.test("tracker HTTP: a bad page or q answers 400 with a JSON error", async () => {
  await using tracker = await httpTracker();
  for (
    const query of [
      "page=0",
      "page=x",
      "page=-1",
      "page=1.5",
      "page=",
      `page=${"9".repeat(20)}`,
      `q=${"x".repeat(256)}`,
      "q=%01",
    ]
  ) {
    for (const path of ["/api/files", "/api/peers"]) {
      const { status, type, value } = await getJson(`${tracker.base}${path}?${query}`);
      if (path === "/api/peers" && query.startsWith("q=")) continue; // peers take no search
      assert.equal(status, 400, `${path}?${query}`);
      assert.equal(type, "application/json; charset=utf-8");
      assert.equal(typeof value.error, "string");
    }
  }
  assert.equal((await get(`${tracker.base}/?page=0`)).status, 400);
});

Deno.test("tracker HTTP: /api/files/<name> gives the version offered and its holders; 404 and 403 as JSON", async () => {
  await using tracker = await httpTracker();
  const root = "c".repeat(64);
  using _a = await holder(tracker, { port: 5001, http: 8001 }, [[3 * MiB, `${SHA_A}:${root}`, "big, file.bin"]]);
  using _b = await holder(tracker, { port: 5002 }, [[3 * MiB, `${SHA_A}:${root}`, "big, file.bin"]]);
  const { status, value } = await getJson(`${tracker.base}/api/files/${encodeURIComponent("big, file.bin")}`);
  assert.equal(status, 200);
  assert.deepEqual(value, {
    name: "big, file.bin",
    size: 3 * MiB,
    sha256: SHA_A,
    root,
    holders: [
      { address: "127.0.0.1:5001", http: "http://127.0.0.1:8001/files/big%2C%20file.bin" },
      { address: "127.0.0.1:5002" },
    ],
  });
  const missing = await getJson(`${tracker.base}/api/files/nothing.txt`);
  assert.equal(missing.status, 404);
  assert.match(String(missing.value.error), /nobody holds "nothing.txt"/);
  const hidden = await getJson(`${tracker.base}/api/files/.env`);
  assert.equal(hidden.status, 403);
  assert.match(String(hidden.value.error), /refused name/);
  assert.equal((await getJson(`${tracker.base}/api/files/%E0%A4%A`)).status, 400);
  assert.equal((await getJson(`${tracker.base}/api/nothing`)).status, 404);
});

Deno.test("tracker HTTP: /api/peers lists each peer with its files and its HTTP face", async () => {
  await using tracker = await httpTracker();
  using _a = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "a"], [3, SHA_A, "b"]]);
  using _b = await holder(tracker, { port: 5002 }, [[3, SHA_A, "a"]]);
  const { status, value } = await getJson(`${tracker.base}/api/peers`);
  assert.equal(status, 200);
  assert.deepEqual(value, {
    peers: [
      { address: "127.0.0.1:5001", files: 2, http: "http://127.0.0.1:8001/" },
      { address: "127.0.0.1:5002", files: 1 },
    ],
    total: 2,
  });
  assert.deepEqual((await getJson(`${tracker.base}/api/peers?page=2`)).value, { peers: [], total: 2 });
});

Deno.test("tracker HTTP: /api/stats is STATS as JSON, never cached", async () => {
  await using tracker = await httpTracker();
  using _a = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "a"], [3, SHA_A, "b"]]);
  const answer = await get(`${tracker.base}/api/stats`);
  assert.equal(answer.status, 200);
  assert.equal(answer.headers.get("cache-control"), "no-store");
  const stats = JSON.parse(answer.body);
  assert.deepEqual(Object.keys(stats).sort(), Object.keys(await tracker.stats()).sort());
  assert.deepEqual([stats.peers, stats.files, stats.holders, stats.sessions], [1, 2, 2, 1]);
});

// ---------------------------------------------------------------------------
// /files/<name>: the redirect

Deno.test("tracker HTTP: /files/<name> answers 307 to the first holder with an HTTP face, the others as duplicates, with the digest", async () => {
  await using tracker = await httpTracker();
  using _a = await holder(tracker, { port: 5001 }, [[3, SHA_A, "a b.txt"]]);
  using _b = await holder(tracker, { port: 5002, http: 8002 }, [[3, SHA_A, "a b.txt"]]);
  using _c = await holder(tracker, { port: 5003, http: 8003 }, [[3, SHA_A, "a b.txt"]]);
  using _d = await holder(tracker, { port: 5004, http: 8004 }, [[3, SHA_A, "a b.txt"]]);
  for (const method of ["GET", "HEAD"]) {
    const answer = await get(`${tracker.base}/files/a%20b.txt`, { method });
    assert.equal(answer.status, 307);
    assert.equal(answer.headers.get("location"), "http://127.0.0.1:8002/files/a%20b.txt");
    const links = answer.headers.get("link")!.split(", ");
    assert.deepEqual(links, [
      "<http://127.0.0.1:8003/files/a%20b.txt>; rel=duplicate",
      "<http://127.0.0.1:8004/files/a%20b.txt>; rel=duplicate",
      '</files/a%20b.txt.meta4>; rel=describedby; type="application/metalink4+xml"',
    ]);
    assert.equal(answer.headers.get("repr-digest"), `sha-256=:${SHA_A_B64}:`);
    assert.equal(answer.headers.get("digest"), `SHA-256=${SHA_A_B64}`);
    assert.equal(answer.headers.get("vary"), "Accept");
    assert.equal(answer.body, method === "HEAD" ? "" : `307 "a b.txt" is at http://127.0.0.1:8002/files/a%20b.txt\n`);
  }
});

Deno.test("tracker HTTP: /files/<name> honours the ranking: a demoted holder is left out, the most served comes first", async () => {
  await using tracker = await httpTracker({ demoteAfter: 1 });
  using _a = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "f"]]);
  using _b = await holder(tracker, { port: 5002, http: 8002 }, [[3, SHA_A, "f"]]);
  using _c = await holder(tracker, { port: 5003, http: 8003 }, [[3, SHA_A, "f"]]);
  using reporter = await LineClient.connect(tracker.addr.port);
  assert.equal((await reporter.ask("REPORT 127.0.0.1:5001 EHASH 0 f\n"))[0].status, 200);
  assert.equal((await reporter.ask("REPORT 127.0.0.1:5003 OK 3 f\n"))[0].status, 200);
  const answer = await get(`${tracker.base}/files/f`);
  assert.equal(answer.headers.get("location"), "http://127.0.0.1:8003/files/f");
  assert.match(
    answer.headers.get("link")!,
    /^<http:\/\/127\.0\.0\.1:8002\/files\/f>; rel=duplicate, <\/files\/f\.meta4>/,
  );
  assert.doesNotMatch(answer.headers.get("link")!, /8001/);
  // The same order a SEND gives.
  const send = await reporter.ask("SEND f\n");
  assert.deepEqual(send.filter((l) => l.text.startsWith("HOLDER")).map((l) => l.text.split(" ")[1]), [
    "127.0.0.1:5003",
    "127.0.0.1:5002",
  ]);
});

Deno.test("tracker HTTP: /files/<name> answers 404 naming the peer protocol when no holder has an HTTP face", async () => {
  await using tracker = await httpTracker();
  using _ = await holder(tracker, { port: 5001 }, [[3, SHA_A, "a b.txt"]]);
  const answer = await get(`${tracker.base}/files/a%20b.txt`);
  assert.equal(answer.status, 404);
  assert.equal(answer.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.match(answer.body, /1 peer holding "a b.txt" serves HTTP; fetch it over the peer protocol: get a b.txt/);
  const nobody = await get(`${tracker.base}/files/other.txt`);
  assert.deepEqual([nobody.status, nobody.body], [404, `404 nobody holds "other.txt"\n`]);
  assert.equal((await get(`${tracker.base}/files/other.txt.meta4`)).status, 404);
});

Deno.test("tracker HTTP: partial holders are never offered: a file held only partially answers 404, and counts nowhere but in partial", async () => {
  await using tracker = await httpTracker();
  const size = 3 * MiB;
  const hash = `${SHA_A}:${SHA_B}`;
  using _whole = await holder(tracker, { port: 5001, http: 8001 }, [[size, hash, "big.bin"]]);
  // A partial holder with an HTTP face: it has no HTTP face for the chunks it is still fetching.
  using part = await LineClient.connect(tracker.addr.port);
  const [reply] = await part.ask(`PARTIAL 5002 2 http=8002\n${size} ${hash} big.bin\n${size} ${hash} only.bin\n`);
  assert.equal(reply.status, 200, reply.text);
  const only = await get(`${tracker.base}/files/only.bin`);
  assert.deepEqual([only.status, only.body], [404, `404 nobody holds "only.bin"\n`]);
  assert.equal((await get(`${tracker.base}/files/only.bin.meta4`)).status, 404);
  assert.equal((await get(`${tracker.base}/files/only.bin?metalink`)).status, 404);
  assert.equal((await getJson(`${tracker.base}/api/files/only.bin`)).status, 404);
  const big = await get(`${tracker.base}/files/big.bin`);
  assert.equal(big.status, 307);
  assert.equal(big.headers.get("location"), "http://127.0.0.1:8001/files/big.bin");
  assert.doesNotMatch(big.headers.get("link")!, /8002/);
  const detail = await getJson(`${tracker.base}/api/files/big.bin`);
  assert.deepEqual(detail.value.holders, [{ address: "127.0.0.1:5001", http: "http://127.0.0.1:8001/files/big.bin" }]);
  const files = await getJson(`${tracker.base}/api/files`);
  assert.deepEqual(
    (files.value.files as { name: string; holders: number; urls: string[] }[]).map((f) => [f.name, f.holders, f.urls]),
    [["big.bin", 1, ["http://127.0.0.1:8001/files/big.bin"]]],
  );
  const peers = await getJson(`${tracker.base}/api/peers`);
  assert.deepEqual((peers.value.peers as { files: number }[]).map((p) => p.files), [1, 0]);
  const stats = await getJson(`${tracker.base}/api/stats`);
  assert.deepEqual([stats.value.files, stats.value.holders, stats.value.partial], [1, 1, 2]);
  const page = await get(`${tracker.base}/`);
  assert.doesNotMatch(page.body, /only\.bin/);
  assert.doesNotMatch(page.body, /8002\/files/);
});

Deno.test("tracker HTTP: when holders disagree, the best-ranked version is offered, with only its holders", async () => {
  await using tracker = await httpTracker();
  using _a = await holder(tracker, { port: 5001 }, [[3, SHA_B, "f"]]); // no HTTP face: not what a browser gets
  using _b = await holder(tracker, { port: 5002, http: 8002 }, [[3, SHA_A, "f"]]);
  using _c = await holder(tracker, { port: 5003, http: 8003 }, [[4, SHA_B, "f"]]);
  using _d = await holder(tracker, { port: 5004, http: 8004 }, [[3, SHA_A, "f"]]);
  const answer = await get(`${tracker.base}/files/f`);
  assert.equal(answer.headers.get("location"), "http://127.0.0.1:8002/files/f");
  assert.match(answer.headers.get("link")!, /^<http:\/\/127\.0\.0\.1:8004\/files\/f>; rel=duplicate, </);
  assert.equal(answer.headers.get("digest"), `SHA-256=${SHA_A_B64}`);
  const detail = await getJson(`${tracker.base}/api/files/f`);
  assert.deepEqual((detail.value.holders as { address: string }[]).map((h) => h.address), [
    "127.0.0.1:5002",
    "127.0.0.1:5004",
  ]);
  const listed = await getJson(`${tracker.base}/api/files`);
  assert.deepEqual((listed.value.files as { urls: string[] }[])[0].urls, [
    "http://127.0.0.1:8002/files/f",
    "http://127.0.0.1:8004/files/f",
  ]);
});

Deno.test("tracker HTTP: 405 with Allow for other methods, 404 for other paths, 400 and 403 for bad names", async () => {
  await using tracker = await httpTracker();
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS"]) {
    const answer = await get(`${tracker.base}/files/x`, { method });
    assert.equal(answer.status, 405, method);
    assert.equal(answer.headers.get("allow"), "GET, HEAD");
  }
  assert.equal((await get(`${tracker.base}/nothing`)).status, 404);
  assert.equal((await get(`${tracker.base}/files`)).status, 404);
  assert.equal((await get(`${tracker.base}/files/%ZZ`)).status, 400);
  assert.equal((await get(`${tracker.base}/files/..%2Fetc%2Fpasswd`)).status, 403);
  assert.equal((await get(`${tracker.base}/files/a%2Fb`)).status, 403);
  assert.equal((await get(`${tracker.base}/files/a%00b`)).status, 403);
  assert.equal((await get(`${tracker.base}/files/`)).status, 403);
  const bad = tracker.events.of("bad-request");
  assert.ok(bad.some((e) => e.status === 405 && e.peer.startsWith("127.0.0.1:")), JSON.stringify(bad));
});

// ---------------------------------------------------------------------------
// Metalinks by path and by Accept

Deno.test("tracker HTTP: Accept naming application/metalink4+xml gets the Metalink; */* and q=0 get the redirect", async () => {
  await using tracker = await httpTracker();
  using _ = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "f.txt"]]);
  const url = `${tracker.base}/files/f.txt`;
  for (
    const accept of [
      "application/metalink4+xml",
      "*/*,application/metalink4+xml,application/metalink+xml",
      "Application/Metalink4+XML;q=0.5",
    ]
  ) {
    const answer = await get(url, { headers: { accept } });
    assert.equal(answer.status, 200, accept);
    assert.equal(answer.headers.get("content-type"), "application/metalink4+xml");
    assert.match(answer.body, /<url priority="1">http:\/\/127\.0\.0\.1:8001\/files\/f\.txt<\/url>/);
  }
  for (const accept of ["*/*", "text/html,application/xhtml+xml", "application/metalink4+xml;q=0"]) {
    assert.equal((await get(url, { headers: { accept } })).status, 307, accept);
  }
});

Deno.test("tracker HTTP: /files/x.meta4 is the file x.meta4 when it is indexed, else x's Metalink; ?metalink always is", async () => {
  await using tracker = await httpTracker();
  using _ = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "x"], [4, SHA_B, "x.meta4"], [
    3,
    SHA_A,
    "y",
  ]]);
  const real = await get(`${tracker.base}/files/x.meta4`);
  assert.equal(real.status, 307);
  assert.equal(real.headers.get("location"), "http://127.0.0.1:8001/files/x.meta4");
  assert.match(real.headers.get("link")!, /<\/files\/x\.meta4\.meta4>; rel=describedby/);
  const xs = await get(`${tracker.base}/files/x?metalink`);
  assert.equal(xs.headers.get("content-type"), "application/metalink4+xml");
  assert.match(xs.body, /<file name="x"><size>3<\/size>/);
  const ys = await get(`${tracker.base}/files/y.meta4`);
  assert.equal(ys.status, 200);
  assert.match(ys.body, /<file name="y">/);
  assert.equal((await get(`${tracker.base}/files/z.meta4`)).status, 404);
  // The listing points at what reaches each Metalink.
  const listed = (await getJson(`${tracker.base}/api/files`)).value.files as { name: string; metalink: string }[];
  assert.deepEqual(listed.map((f) => [f.name, f.metalink]), [
    ["x", "/files/x?metalink"],
    ["x.meta4", "/files/x.meta4.meta4"],
    ["y", "/files/y.meta4"],
  ]);
});

// ---------------------------------------------------------------------------
// The page, the shared connection count, starting

Deno.test("tracker HTTP: GET / is the web page of the files, and HEAD has its headers", async () => {
  await using tracker = await httpTracker();
  using _ = await holder(tracker, { port: 5001, http: 8001 }, [[3, SHA_A, "a&b.txt"]]);
  const page = await get(`${tracker.base}/?q=a`);
  assert.equal(page.status, 200);
  assert.equal(page.headers.get("content-type"), "text/html; charset=utf-8");
  assert.match(page.body, /a&amp;b\.txt/);
  assert.doesNotMatch(page.body, /a&b\.txt/);
  const head = await get(`${tracker.base}/`, { method: "HEAD" });
  assert.deepEqual([head.status, head.body], [200, ""]);
});

Deno.test("tracker HTTP: TCP sessions and HTTP connections count against one maxConnections", async () => {
  await using tracker = await httpTracker({ maxConnections: 1 });
  using session = await LineClient.connect(tracker.addr.port);
  assert.equal((await session.ask("PING\n"))[0].status, 200);
  const answer = await get(`${tracker.base}/api/stats`);
  assert.equal(answer.status, 503);
  assert.match(answer.body, /too many connections \(1\)/);
});

Deno.test("tracker HTTP: startTracker refuses httpPort; an HTTP port in use fails the start and leaves nothing open", async () => {
  assert.throws(() => startTracker({ hostname: "127.0.0.1", port: 0, httpPort: 0 }), TypeError);
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  // On the suite's store: a Redis store opened for the start is closed again (the sanitizers see any connection left).
  await assert.rejects(
    startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, httpPort: taken.addr.port, ...suiteStoreOptions() }),
    Deno.errors.AddrInUse,
  );
  await assert.rejects(
    startTrackerWithHttp({
      hostname: "127.0.0.1",
      port: 0,
      httpPort: 0,
      secret: await Secret.from("s3cret"),
      ...suiteStoreOptions(),
    }),
    TypeError,
  );
  // Without httpPort it is the plain tracker.
  await using plain = await startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, ...suiteStoreOptions() });
  assert.equal(plain.http, undefined);
});

Deno.test("tracker HTTP: an IPv6 holder's URL has its host in brackets", async () => {
  let tracker: Tracker;
  try {
    tracker = await suiteTracker({ hostname: "::1", port: 0, httpPort: 0 });
  } catch (error) {
    if (error instanceof Deno.errors.AddrNotAvailable) return; // no IPv6 loopback here
    throw error;
  }
  await using _t = tracker;
  using session = await LineClient.connect(tracker.addr.port, "::1");
  await session.ask(`UPDATE 5001 1 http=8001\n3 ${SHA_A} f\n`);
  const answer = await get(`http://[::1]:${tracker.http!.port}/files/f`);
  assert.equal(answer.headers.get("location"), "http://[::1]:8001/files/f");
});
