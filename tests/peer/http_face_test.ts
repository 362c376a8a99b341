/**
 * `peer/http_face.ts`: a peer's folder over HTTP/1.1, spoken to with
 * `fetch` and raw sockets on loopback (the pure parts, `Range` and the
 * like, in `http_file_headers_test.ts`): the whole file
 * and every header, `HEAD`, each range form, `416`, `If-Range`, `304`,
 * awkward names, hostile spellings (never a byte from outside), `405`,
 * `431`, `404`, the JSON listing and the chunk hashes, a changed file; then
 * what the peer shares between its two faces (upload slots, the upload
 * budget, the connection count), a slow-header flood, and stopping with a
 * download under way.
 *
 * @module
 */

import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { join } from "node:path";
import { STOPPING } from "../../peer/file_server.ts";
import { Peer } from "../../peer.ts";
import { BufferedReader } from "../../io/reader.ts";
import { eventually, within } from "../helpers/events.ts";
import { chunkHashes, MiB, rootOf, sha256 } from "../helpers/hashes.ts";
import { parseAnswer, rawGet, rawHttp, readUntilClose, testHttp, writeAllTo } from "../helpers/http.ts";
import { LineClient, unusedPort } from "../helpers/net.ts";
import { randomBytes } from "../helpers/random.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";
import { ManualClock } from "../helpers/clock.ts";
import { Slots } from "../../io/slots.ts";

const base64Sha256 = (bytes: Uint8Array | string) => createHash("sha256").update(bytes).digest("base64");
const bytesOf = async (answer: Response) => new Uint8Array(await answer.arrayBuffer());

// --- Range, Content-Type, Content-Disposition (pure) ---------------------------

Deno.test("http face: GET /files/<name> sends the file with its length, type, hashes and dates", async () => {
  const data = randomBytes(300_000);
  await using http = await testHttp({ "data.bin": data, "notes.txt": "hello\n" });
  const answer = await fetch(http.fileUrl("data.bin"));
  assert.equal(answer.status, 200);
  assert.deepEqual(await bytesOf(answer), data);
  const h = answer.headers;
  assert.equal(h.get("content-length"), "300000");
  assert.equal(h.get("content-type"), "application/octet-stream");
  assert.equal(h.get("accept-ranges"), "bytes");
  assert.equal(h.get("etag"), `"${sha256(data)}"`);
  assert.equal(h.get("repr-digest"), `sha-256=:${base64Sha256(data)}:`);
  assert.equal(h.get("digest"), `SHA-256=${base64Sha256(data)}`);
  assert.equal(h.get("content-disposition"), 'attachment; filename="data.bin"');
  const mtime = (await Deno.stat(join(http.dir, "data.bin"))).mtime!;
  assert.equal(h.get("last-modified"), new Date(Math.floor(mtime.getTime() / 1000) * 1000).toUTCString());
  const text = await fetch(http.fileUrl("notes.txt"));
  assert.equal(text.headers.get("content-type"), "text/plain; charset=utf-8");
  assert.equal(await text.text(), "hello\n");
  const served = await http.events.next("served", (e) => e.name === "data.bin");
  assert.equal(served.bytes, 300_000);
  assert.equal(served.size, 300_000);
  assert.match(served.to, /^127\.0\.0\.1:\d+$/);
});

Deno.test("http face: HEAD answers the same headers and no body, and is not an upload", async () => {
  await using http = await testHttp({ "f.txt": "0123456789" });
  const answer = await rawHttp(
    http.port,
    "HEAD /files/f.txt HTTP/1.1\r\nHost: x\r\nRange: bytes=0-1\r\nConnection: close\r\n\r\n",
  );
  assert.equal(answer.status, 200, "HEAD ignores Range");
  assert.equal(answer.headers.get("content-length"), "10");
  assert.equal(answer.headers.get("etag"), `"${sha256("0123456789")}"`);
  assert.equal(answer.body.length, 0);
  assert.equal(http.events.events.length, 0);
});

Deno.test("http face: each range form answers 206 with its Content-Range and bytes", async () => {
  const data = randomBytes(10_000);
  await using http = await testHttp({ "f.bin": data });
  const cases: [string, number, number][] = [
    ["bytes=0-99", 0, 99],
    ["bytes=9000-", 9000, 9999],
    ["bytes=-100", 9900, 9999],
    ["bytes=5000-999999999999999999999", 5000, 9999],
  ];
  for (const [range, start, end] of cases) {
    const answer = await fetch(http.fileUrl("f.bin"), { headers: { range } });
    assert.equal(answer.status, 206, range);
    assert.equal(answer.headers.get("content-range"), `bytes ${start}-${end}/10000`, range);
    assert.equal(answer.headers.get("content-length"), String(end - start + 1), range);
    assert.equal(answer.headers.get("etag"), `"${sha256(data)}"`, range);
    assert.deepEqual(await bytesOf(answer), data.subarray(start, end + 1), range);
  }
});

Deno.test("http face: a range past the end is 416 with bytes */size; several ranges send the whole file", async () => {
  await using http = await testHttp({ "f.txt": "0123456789" });
  const past = await fetch(http.fileUrl("f.txt"), { headers: { range: "bytes=10-" } });
  assert.equal(past.status, 416);
  assert.equal(past.headers.get("content-range"), "bytes */10");
  assert.match(await past.text(), /^416 range bytes=10- is past the end of "f.txt" \(10 bytes\); .*\n$/);
  const refused = await http.events.next("refused");
  assert.equal(refused.status, 416);
  const several = await fetch(http.fileUrl("f.txt"), { headers: { range: "bytes=0-1,4-5" } });
  assert.equal(several.status, 200);
  assert.equal(await several.text(), "0123456789");
  const malformed = await fetch(http.fileUrl("f.txt"), { headers: { range: "bytes=5-2" } });
  assert.equal(malformed.status, 200);
  assert.equal(await malformed.text(), "0123456789");
});

Deno.test("http face: If-Range keeps the range for our ETag or exactly our date, else sends all", async () => {
  await using http = await testHttp({ "f.txt": "0123456789" });
  const first = await fetch(http.fileUrl("f.txt"));
  await first.body?.cancel();
  const etag = first.headers.get("etag")!;
  const modified = first.headers.get("last-modified")!;
  const ask = async (ifRange: string) => {
    const answer = await fetch(http.fileUrl("f.txt"), { headers: { range: "bytes=2-3", "if-range": ifRange } });
    return [answer.status, await answer.text()];
  };
  assert.deepEqual(await ask(etag), [206, "23"]);
  assert.deepEqual(await ask(modified), [206, "23"]);
  // Only our own date holds (RFC 9110 §13.1.5): a later one may belong to a file replaced meanwhile.
  assert.deepEqual(await ask(new Date(Date.parse(modified) + 60_000).toUTCString()), [200, "0123456789"]);
  assert.deepEqual(await ask(`"${"0".repeat(64)}"`), [200, "0123456789"]);
  assert.deepEqual(await ask(`W/${etag}`), [200, "0123456789"], "a weak tag never holds for If-Range");
  assert.deepEqual(await ask(new Date(Date.parse(modified) - 1_000).toUTCString()), [200, "0123456789"]);
  assert.deepEqual(await ask("not a date"), [200, "0123456789"]);
});

Deno.test("http face: If-None-Match with our ETag answers 304 without a body", async () => {
  await using http = await testHttp({ "f.txt": "0123456789" });
  const etag = `"${sha256("0123456789")}"`;
  for (const value of [etag, `W/${etag}`, `"other", ${etag}`, "*"]) {
    const answer = await fetch(http.fileUrl("f.txt"), { headers: { "if-none-match": value } });
    assert.equal(answer.status, 304, value);
    assert.equal(answer.headers.get("etag"), etag);
    assert.equal(await answer.text(), "");
  }
  const other = await fetch(http.fileUrl("f.txt"), { headers: { "if-none-match": '"other"' } });
  assert.equal(other.status, 200);
  await other.body?.cancel();
});

Deno.test("http face: a name with a space and a % and a non-ASCII name, with filename*", async () => {
  await using http = await testHttp({ "100% sure.txt": "sure", "café ünï.md": "# ok" });
  const sure = await fetch(`${http.url}files/100%25%20sure.txt`);
  assert.equal(await sure.text(), "sure");
  assert.equal(
    sure.headers.get("content-disposition"),
    `attachment; filename="100% sure.txt"; filename*=UTF-8''100%25%20sure.txt`,
  );
  const cafe = await fetch(http.fileUrl("café ünï.md"));
  assert.equal(await cafe.text(), "# ok");
  assert.equal(cafe.headers.get("content-type"), "text/markdown; charset=utf-8");
  assert.equal(
    cafe.headers.get("content-disposition"),
    `attachment; filename="caf_ _n_.md"; filename*=UTF-8''caf%C3%A9%20%C3%BCn%C3%AF.md`,
  );
  const listed = await (await fetch(`${http.url}api/files`)).json();
  assert.deepEqual(listed.files.map((f: { url: string }) => f.url), [
    "/files/100%25%20sure.txt",
    "/files/caf%C3%A9%20%C3%BCn%C3%AF.md",
  ]);
});

Deno.test("http face: hostile spellings get 400, 403 or 404 and never a byte from outside the folder", async () => {
  await using outside = await tempDir();
  const secret = "TOP-SECRET-" + "x".repeat(100);
  await Deno.writeTextFile(join(outside.path, "secret.txt"), secret);
  await using http = await testHttp({ "f.txt": "inside", ".p2p-0123abcd.part": secret, ".hidden": secret });
  await Deno.symlink(join(outside.path, "secret.txt"), join(http.dir, "link-out"));
  await Deno.symlink(outside.path, join(http.dir, "dir-out"));
  await Deno.mkdir(join(http.dir, "sub"));
  await Deno.writeTextFile(join(http.dir, "sub", "inner.txt"), secret);
  const up = `..%2F${outside.path.split("/").at(-1)}%2Fsecret.txt`;
  const targets = [
    "/files/../f.txt",
    "/files/..",
    "/files/%2e%2e",
    "/files/%2E%2E%2Fetc%2Fpasswd",
    "/files/..%2Fetc%2Fpasswd",
    `/files/${up}`,
    "/files/%2Fetc%2Fpasswd",
    "/files//etc/passwd",
    "/files/..%5C..%5Cetc%5Cpasswd",
    "/files/f.txt%00.png",
    "/files/%00",
    "/files/link-out",
    "/files/dir-out%2Fsecret.txt",
    "/files/dir-out/secret.txt",
    "/files/sub",
    "/files/sub%2Finner.txt",
    "/files/sub/inner.txt",
    "/files/.p2p-0123abcd.part",
    "/files/%2Ep2p-0123abcd.part",
    "/files/.hidden",
    "/files/%E0%A4%A",
    "/files/%",
    "/api/files/..%2Fetc%2Fpasswd",
    "/api/files/link-out",
    "/api/files/.p2p-0123abcd.part",
  ];
  for (const target of targets) {
    const answer = await rawGet(http.port, target);
    assert.ok([400, 403, 404].includes(answer.status), `${target}: ${answer.status}`);
    const body = new TextDecoder().decode(answer.body);
    assert.ok(!body.includes("TOP-SECRET") && !body.includes("root:"), `${target} leaked: ${body}`);
    assert.match(body, /^\d{3} .+; .+\n$/, `${target}: one line saying what and what to do`);
  }
  assert.equal((await rawGet(http.port, "/files/f%2Etxt")).status, 200, "an escaped plain name is fine");
});

Deno.test("http face: methods other than GET and HEAD get 405 with Allow", async () => {
  await using http = await testHttp({ "f.txt": "x" });
  for (const method of ["POST", "PUT", "DELETE", "OPTIONS", "PATCH"]) {
    const answer = await fetch(http.fileUrl("f.txt"), { method, body: method === "OPTIONS" ? undefined : "" });
    assert.equal(answer.status, 405, method);
    assert.equal(answer.headers.get("allow"), "GET, HEAD");
    assert.match(await answer.text(), /^405 method \w+ not allowed; use GET or HEAD\n$/);
  }
});

Deno.test("http face: a 20 KiB header is answered 431", async () => {
  await using http = await testHttp({ "f.txt": "x" });
  const answer = await rawGet(http.port, "/files/f.txt", { "x-padding": "a".repeat(20 * 1024) });
  assert.equal(answer.status, 431);
});

Deno.test("http face: other paths, no name and missing files are 404 with what to do", async () => {
  await using http = await testHttp({ "f.txt": "x" });
  for (const path of ["favicon.ico", "files", "files/", "api", "api/files/", "api/nothing", "index.html"]) {
    const answer = await fetch(`${http.url}${path}`);
    assert.equal(answer.status, 404, path);
    assert.match(await answer.text(), /^404 .*; .*see \/ for what this peer shares\n$/, path);
  }
  const missing = await fetch(http.fileUrl("x.txt"));
  assert.equal(missing.status, 404);
  assert.equal(
    await missing.text(),
    `404 no file "x.txt" in this peer's folder; ask the tracker who holds it, or see / for what this peer shares\n`,
  );
});

Deno.test("http face: / lists the folder in HTML, every name escaped, nothing external", async () => {
  await using http = await testHttp({ "<b>&'\".txt": "tag", "plain.txt": "p" });
  const answer = await fetch(http.url);
  assert.equal(answer.headers.get("content-type"), "text/html; charset=utf-8");
  const html = await answer.text();
  assert.ok(!html.includes("<b>&"), "the name is escaped");
  assert.ok(html.includes("&#60;b&#62;&#38;&#39;&#34;.txt"));
  assert.ok(html.includes(`href="/files/${encodeURIComponent("<b>&'\".txt").replace(/'/g, "&#39;")}"`));
  assert.ok(html.includes(sha256("tag")));
  assert.ok(!/(src|href)="(https?:)?\/\//.test(html), "no external assets");
});

Deno.test("http face: /api/files lists name, size, sha256, root and url", async () => {
  const big = randomBytes(2 * MiB + 5);
  await using http = await testHttp({ "big.bin": big, "a b.txt": "ab" });
  const answer = await fetch(`${http.url}api/files`);
  assert.equal(answer.headers.get("content-type"), "application/json; charset=utf-8");
  assert.deepEqual(await answer.json(), {
    files: [
      { name: "a b.txt", size: 2, sha256: sha256("ab"), url: "/files/a%20b.txt" },
      { name: "big.bin", size: big.length, sha256: sha256(big), root: rootOf(big), url: "/files/big.bin" },
    ],
  });
});

Deno.test("http face: /api/files/<name> gives exactly the file's 1 MiB chunk hashes", async () => {
  const big = randomBytes(3 * MiB + 123);
  await using http = await testHttp({ "big.bin": big, "small.txt": "s", "empty": "" });
  assert.deepEqual(await (await fetch(`${http.url}api/files/big.bin`)).json(), {
    name: "big.bin",
    size: big.length,
    sha256: sha256(big),
    root: rootOf(big),
    chunkSize: MiB,
    chunks: chunkHashes(big),
  });
  assert.deepEqual((await (await fetch(`${http.url}api/files/small.txt`)).json()).chunks, [sha256("s")]);
  assert.deepEqual((await (await fetch(`${http.url}api/files/empty`)).json()).chunks, []);
  const missing = await fetch(`${http.url}api/files/nope`);
  assert.equal(missing.status, 404);
  await missing.body?.cancel();
});

Deno.test("http face: a file changed since it was hashed is served under its new ETag", async () => {
  await using http = await testHttp({ "f.txt": "old" });
  const before = await fetch(http.fileUrl("f.txt"));
  assert.equal(before.headers.get("etag"), `"${sha256("old")}"`);
  await before.body?.cancel();
  await Deno.writeTextFile(join(http.dir, "f.txt"), "brand new");
  const after = await fetch(http.fileUrl("f.txt"));
  assert.equal(after.headers.get("etag"), `"${sha256("brand new")}"`);
  assert.equal(after.headers.get("digest"), `SHA-256=${base64Sha256("brand new")}`);
  assert.equal(await after.text(), "brand new");
  const chunks = await (await fetch(`${http.url}api/files/f.txt`)).json();
  assert.deepEqual(chunks.chunks, [sha256("brand new")]);
});

Deno.test("http face: an empty file is 200 with no bytes; a range of it is 416", async () => {
  await using http = await testHttp({ "empty": "" });
  const whole = await fetch(http.fileUrl("empty"));
  assert.equal(whole.status, 200);
  assert.equal(whole.headers.get("content-length"), "0");
  assert.equal(await whole.text(), "");
  const range = await fetch(http.fileUrl("empty"), { headers: { range: "bytes=0-" } });
  assert.equal(range.status, 416);
  assert.equal(range.headers.get("content-range"), "bytes */0");
  await range.body?.cancel();
});

// --- what both faces share ---------------------------------------------------

Deno.test("http face: a peer's TCP download holding the only upload slot makes an HTTP GET 503 busy", async () => {
  await using tracker = testTracker();
  const data = randomBytes(MiB);
  await using peer = await testPeer(tracker.address, { "f.bin": data, "g.txt": "g" }, {
    httpPort: 0,
    maxUploads: 1,
    maxUploadRate: 64 * 1024,
  });
  const url = `http://127.0.0.1:${peer.http!.port}/files/`;
  {
    using tcp = await LineClient.connect(peer.addr.port);
    await tcp.send("GET f.bin\n");
    assert.match((await tcp.reader.readLine())!, /^200 /); // the slot is taken before the header goes
    const busy = await fetch(url + "g.txt");
    assert.equal(busy.status, 503);
    assert.equal(busy.headers.get("retry-after"), "5");
    assert.equal(await busy.text(), "503 busy: 1 uploads at once; try later\n");
  }
  await peer.events.next("aborted", (e) => e.name === "f.bin");
  assert.equal(await (await fetch(url + "g.txt")).text(), "g", "the slot is back once the TCP upload ends");

  // And the other way round: an HTTP body holding the slot makes a TCP GET 503.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.http!.port });
  try {
    await writeAllTo(conn, new TextEncoder().encode("GET /files/f.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    const head = new BufferedReader(conn);
    assert.match((await head.readLine())!, /^HTTP\/1\.1 200 /);
    using tcp = await LineClient.connect(peer.addr.port);
    const [reply] = await tcp.ask("GET g.txt\n");
    assert.equal(reply.status, 503);
    assert.match(reply.text, /^busy: 1 uploads at once/);
  } finally {
    conn.close();
  }
  await peer.events.next("aborted", (e) => e.name === "f.bin" && e.message === "the downloader closed the connection");
});

Deno.test("http face: --max-upload-rate is one budget for TCP and HTTP downloads together", async () => {
  await using tracker = testTracker();
  const data = randomBytes(512 * 1024);
  const rate = 1024 * 1024;
  await using peer = await testPeer(tracker.address, { "a.bin": data, "b.bin": data }, {
    httpPort: 0,
    maxUploadRate: rate,
  });
  const started = performance.now();
  const [viaHttp, viaTcp] = await Promise.all([
    fetch(`http://127.0.0.1:${peer.http!.port}/files/a.bin`).then(bytesOf),
    (async () => {
      using tcp = await LineClient.connect(peer.addr.port);
      await tcp.send("GET b.bin\n");
      await tcp.reader.readLine();
      return await readUntilClose(tcp.conn);
    })(),
  ]);
  const seconds = (performance.now() - started) / 1000;
  assert.deepEqual(viaHttp, data);
  assert.deepEqual(viaTcp, data);
  // 1 MiB at 1 MiB/s in all: at least about a second (one slice of credit aside); each alone would take half.
  assert.ok(seconds >= 0.85, `both together took ${seconds.toFixed(2)} s: the budget is not shared`);
});

Deno.test("http face: --max-connections counts TCP and HTTP connections together", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "f.txt": "x" }, { httpPort: 0, maxConnections: 2 });
  using a = await LineClient.connect(peer.addr.port);
  using b = await LineClient.connect(peer.addr.port);
  // Both admitted: each answers.
  assert.equal((await a.ask("HASHES f.txt\n"))[0].status, 200);
  assert.equal((await b.ask("HASHES f.txt\n"))[0].status, 200);
  const over = await fetch(`http://127.0.0.1:${peer.http!.port}/files/f.txt`);
  assert.equal(over.status, 503);
  assert.match(await over.text(), /too many connections \(2\)/);
});

Deno.test("http face: 300 slow-header connections neither block a download nor stay past the header timeout", async () => {
  const data = randomBytes(8 * MiB);
  await using http = await testHttp({ "big.bin": data }, { headersTimeoutMs: 300 });
  const tricklers = await Promise.all(
    Array.from({ length: 300 }, async () => {
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: http.port });
      await writeAllTo(conn, new TextEncoder().encode("GET /files/big.bin HTT"));
      return conn;
    }),
  );
  try {
    const started = performance.now();
    const answer = await fetch(http.fileUrl("big.bin"));
    assert.deepEqual(await bytesOf(answer), data);
    const ms = performance.now() - started;
    assert.ok(ms < 3_000, `the download took ${ms.toFixed(0)} ms behind the tricklers`);
    const ends = await within(
      "every trickler closed",
      Promise.all(tricklers.map(async (conn) => parseAnswer(await readUntilClose(conn)).status)),
    );
    assert.ok(ends.every((status) => status === 408 || status === 0), `statuses: ${[...new Set(ends)]}`);
    assert.ok(ends.includes(408), "at least one trickler was told 408");
  } finally {
    for (const conn of tricklers) conn.close();
  }
});

// --- stopping ----------------------------------------------------------------

Deno.test("http face: a peer stopping with an HTTP download under way lets it finish within the grace", async () => {
  await using tracker = testTracker();
  const data = randomBytes(MiB);
  await using peer = await testPeer(tracker.address, { "f.bin": data }, {
    httpPort: 0,
    maxUploadRate: 4 * MiB,
    shutdownGraceMs: 10_000,
  });
  const download = fetch(`http://127.0.0.1:${peer.http!.port}/files/f.bin`).then(bytesOf);
  await eventually("the HTTP upload is under way", () => peer.sending().length > 0);
  assert.equal(peer.sending()[0].name, "f.bin");
  await within("the peer closed", peer.close());
  assert.deepEqual(await download, data);
  await peer.events.next("served", (e) => e.name === "f.bin" && e.bytes === MiB);
  assert.equal(peer.sending().length, 0);
});

Deno.test("http face: a peer stopping cuts an HTTP download that outlasts the grace, and says why", async () => {
  await using tracker = testTracker();
  const data = randomBytes(16 * MiB);
  await using peer = await testPeer(tracker.address, { "f.bin": data }, { httpPort: 0, shutdownGraceMs: 100 });
  // A client that reads the head and then nothing: TCP's own flow control holds the upload mid-body.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.http!.port });
  try {
    await writeAllTo(conn, new TextEncoder().encode("GET /files/f.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    assert.match((await new BufferedReader(conn).readLine())!, /^HTTP\/1\.1 200 /);
    await eventually("the HTTP upload is under way", () => peer.sending().length > 0);
    await within("the peer closed", peer.close());
    const cut = await peer.events.next("aborted", (e) => e.name === "f.bin");
    assert.equal(cut.message, STOPPING);
    assert.ok(cut.bytes < data.length);
    // A new connection finds nobody listening.
    await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: peer.http!.port }));
  } finally {
    conn.close();
  }
});

Deno.test("http face: a peer stopping cuts a rate-limited HTTP download at the end of the grace", async () => {
  await using tracker = testTracker();
  const data = randomBytes(2 * MiB);
  await using peer = await testPeer(tracker.address, { "f.bin": data }, {
    httpPort: 0,
    maxUploadRate: 256 * 1024,
    shutdownGraceMs: 100,
  });
  const answer = await fetch(`http://127.0.0.1:${peer.http!.port}/files/f.bin`);
  assert.equal(answer.status, 200);
  const body = bytesOf(answer).then(() => "whole", () => "cut");
  await eventually("the HTTP upload is under way", () => peer.sending().length > 0);
  await within("the peer closed", peer.close());
  assert.equal(await body, "cut");
  const cut = await peer.events.next("aborted", (e) => e.name === "f.bin");
  assert.equal(cut.message, STOPPING);
  assert.ok(cut.bytes < data.length);
});

// --- the peer's wiring -------------------------------------------------------

Deno.test("http face: the peer announces http=<port>, and tells onListening its HTTP address", async () => {
  await using tracker = testTracker();
  let told: Deno.NetAddr | undefined;
  await using peer = await testPeer(tracker.address, { "f.txt": "x" }, {
    httpPort: 0,
    onListening: (_addr, _folder, http) => told = http,
  });
  assert.ok(peer.http);
  assert.deepEqual(told, peer.http);
  await eventually(
    "the tracker knows the HTTP port",
    async () => (await tracker.store.peers()).some((p) => p.httpPort !== undefined),
  );
  assert.equal((await tracker.store.peers())[0].httpPort, peer.http.port);
});

Deno.test("http face: a peer without httpPort has no HTTP face", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address, { "f.txt": "x" });
  assert.equal(peer.http, undefined);
});

Deno.test("http face: Peer.start refuses a secret with an HTTP port but no bearer, and an HTTP port in use closes the file server", async () => {
  await using dir = await tempDir();
  await assert.rejects(
    Peer.start({
      tracker: "127.0.0.1:1",
      hostname: "127.0.0.1",
      port: 0,
      dir: dir.path,
      httpPort: 0,
      secret: {} as never,
    }),
    /an HTTP face with a secret needs httpBearer \(bearerToken of the secret\), or it admits anyone/,
  );
  using taken = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = unusedPort();
  await assert.rejects(
    Peer.start({ tracker: "127.0.0.1:1", hostname: "127.0.0.1", port, dir: dir.path, httpPort: taken.addr.port }),
    (error: Error) => error instanceof Deno.errors.AddrInUse && error.message.includes("--http-port"),
  );
  // The file server let go of its port.
  Deno.listen({ hostname: "127.0.0.1", port }).close();
});

Deno.test("http face: a client that stops reading is cut after the idle time, and its upload slot comes back", async () => {
  const clock = new ManualClock();
  await using http = await testHttp({ "big.bin": randomBytes(64 * MiB, 3) }, {
    uploads: new Slots(1),
    idleTimeoutMs: 30_000,
    clock,
  });
  // Asks, then reads nothing: the socket's buffers fill and the body stops.
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: http.port });
  try {
    await writeAllTo(conn, new TextEncoder().encode("GET /files/big.bin HTTP/1.1\r\nHost: x\r\n\r\n"));
    await eventually("the body under way", () => http.sending().length === 1);
    const busy = await fetch(http.fileUrl("big.bin"));
    await busy.body?.cancel();
    assert.equal(busy.status, 503, "the one upload slot is taken");
    // Time moves on while the socket takes nothing more: the watchdog cuts the download.
    await eventually("the stalled download cut", async () => {
      await clock.advance(30_001);
      return http.events.of("aborted").length > 0;
    });
    const [aborted] = http.events.of("aborted");
    assert.equal(aborted.message, "idle timeout: the downloader took nothing for 30 s");
    assert.ok(aborted.bytes < 64 * MiB);
    const again = await fetch(http.fileUrl("big.bin"), { headers: { range: "bytes=0-9" } });
    await again.body?.cancel();
    assert.equal(again.status, 206, "the slot is free again");
  } finally {
    conn.close();
  }
});
