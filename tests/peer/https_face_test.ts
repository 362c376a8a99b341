/**
 * A peer's HTTP face over HTTPS (`tls`), with and without a bearer token,
 * spoken to by the real `curl` and `wget` (Debian's, at /usr/bin) trusting
 * the test CA: the page, the JSON API, a file whole and by range, resuming;
 * a plain `http://` request to the HTTPS port answered `400` in plain text;
 * a client trusting another CA refused. With a bearer: no token or a wrong
 * one is `401` with `WWW-Authenticate: Bearer realm="p2p"`, the right one
 * (computed by `openssl`, not by the project) is served. And the server's
 * own bounds under TLS: the connection ceiling, the header deadline for a
 * client that sends nothing, closing with connections idle.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { makeCerts, type TestCerts } from "../helpers/certs.ts";
import { opensslBearer } from "../helpers/bearer.ts";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { installed, run, type TestHttp, testHttp } from "../helpers/http.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";
import { bearerToken } from "../../io/bearer.ts";
import { Slots } from "../../io/slots.ts";

const CURL = "/usr/bin/curl";
const WGET = "/usr/bin/wget";
const missing = [CURL, WGET, "/usr/bin/openssl"].filter((path) => !installed(path));
const ignore = missing.length > 0;
/** A test's name, saying that it was skipped when a client is missing. */
const named = (name: string) => ignore ? `${name} (skipped: no ${missing.join(", ")})` : name;

const DATA = randomBytes(2 * MiB + 333, 7);
const FILES = { "data.bin": DATA, "a b.txt": "over https\n" };
const SECRET = "correct horse battery staple";

/** An HTTPS face over {@link FILES} on 127.0.0.1, with the test certificates (and a bearer token, if given). */
async function httpsFace(
  options: { bearer?: string; connections?: Slots; headersTimeoutMs?: number } = {},
): Promise<{ certs: TestCerts; http: TestHttp; url: string } & AsyncDisposable> {
  const certs = await makeCerts();
  let http: TestHttp;
  try {
    http = await testHttp(FILES, { tls: await certs.server(), ...options });
  } catch (error) {
    await certs[Symbol.asyncDispose]();
    throw error;
  }
  return {
    certs,
    http,
    url: `https://127.0.0.1:${http.port}/`,
    [Symbol.asyncDispose]: async () => {
      await http[Symbol.asyncDispose]();
      await certs[Symbol.asyncDispose]();
    },
  };
}

/** `curl -sS` with the test CA trusted, `-w` appending the status on a line of its own. */
function curl(face: { certs: TestCerts }, args: string[]) {
  return run(CURL, ["-sS", "--cacert", face.certs.ca, "-w", "\n%{http_code}", ...args]);
}

Deno.test({
  name: named("peer HTTPS: curl --cacert gets the page, the JSON API and a file, and the face says https"),
  ignore,
  fn: async () => {
    await using face = await httpsFace();
    assert.equal(face.http.url, face.url);
    const page = await curl(face, [face.url]);
    assert.equal(page.code, 0, page.stderr);
    assert.match(page.stdout, /<title>Shared files<\/title>[\s\S]*href="\/files\/a%20b\.txt"[\s\S]*\n200$/);
    const api = await curl(face, [`${face.url}api/files`]);
    assert.equal(api.code, 0, api.stderr);
    const listing = JSON.parse(api.stdout.slice(0, api.stdout.lastIndexOf("\n")));
    assert.deepEqual(listing.files.map((f: { name: string }) => f.name).sort(), ["a b.txt", "data.bin"]);
    await using out = await tempDir();
    const whole = await curl(face, ["-o", join(out.path, "copy.bin"), `${face.url}files/data.bin`]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(whole.stdout.trim(), "200");
    assert.equal(sha256(await Deno.readFile(join(out.path, "copy.bin"))), sha256(DATA));
  },
});

Deno.test({
  name: named("peer HTTPS: a range is 206 with its Content-Range, and wget --ca-certificate -c resumes a file"),
  ignore,
  fn: async () => {
    await using face = await httpsFace();
    const part = await curl(face, ["-D", "-", "-r", "1000-1999", "-o", "/dev/null", `${face.url}files/data.bin`]);
    assert.equal(part.code, 0, part.stderr);
    assert.match(part.stdout, /^HTTP\/1\.1 206 /);
    assert.match(part.stdout, new RegExp(`\\r\\ncontent-range: bytes 1000-1999/${DATA.length}\\r\\n`, "i"));
    assert.match(part.stdout, /\r\ncontent-length: 1000\r\n/i);
    assert.equal((await face.http.events.next("served", (e) => e.name === "data.bin")).bytes, 1000);
    await using out = await tempDir();
    const target = join(out.path, "data.bin");
    await Deno.writeFile(target, DATA.subarray(0, MiB)); // half a download already there
    const resumed = await run(WGET, [
      "-q",
      "-c",
      "--ca-certificate",
      face.certs.ca,
      "-O",
      target,
      `${face.url}files/data.bin`,
    ]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(sha256(await Deno.readFile(target)), sha256(DATA));
    // Only the missing part crossed: wget asked for a range.
    const served = await face.http.events.next("served", (e) => e.name === "data.bin");
    assert.equal(served.bytes, DATA.length - MiB);
  },
});

Deno.test({
  name: named("peer HTTPS: plain http:// to the HTTPS port is answered 400 in plain words naming https://"),
  ignore,
  fn: async () => {
    await using face = await httpsFace();
    const plain = await run(CURL, [
      "-sS",
      "-f",
      "-w",
      "\n%{http_code}",
      `http://127.0.0.1:${face.http.port}/files/a%20b.txt`,
    ]);
    assert.notEqual(plain.code, 0); // -f: a 400 fails curl
    assert.match(plain.stderr, /The requested URL returned error: 400/);
    const told = await run(CURL, ["-sS", `http://127.0.0.1:${face.http.port}/`]);
    assert.equal(
      told.stdout,
      `400 this port speaks HTTPS, not plain HTTP: ask https://127.0.0.1:${face.http.port}/ instead ` +
        "(curl: https:// and --cacert with the network's CA certificate)\n",
    );
    // The face still serves HTTPS after it.
    const after = await curl(face, [`${face.url}files/a%20b.txt`]);
    assert.equal(after.stdout, "over https\n\n200");
  },
});

Deno.test({
  name: named("peer HTTPS: a client trusting another CA is refused by its own TLS check, and gets no byte"),
  ignore,
  fn: async () => {
    await using face = await httpsFace();
    const wrong = await run(CURL, ["-sS", "--cacert", face.certs.otherCa, `${face.url}files/a%20b.txt`]);
    assert.equal(wrong.code, 60, wrong.stderr); // curl: the peer's certificate cannot be authenticated
    assert.equal(wrong.stdout, "");
    const fetched = await fetch(`${face.url}files/a%20b.txt`).then(() => "answered", (error) => error);
    assert.ok(fetched instanceof TypeError, "fetch without the CA must fail");
  },
});

Deno.test({
  name: named("peer HTTPS bearer: no token and a wrong one are 401 with WWW-Authenticate; openssl's token is served"),
  ignore,
  fn: async () => {
    const token = await opensslBearer(SECRET);
    // The project derives the same token (io/bearer.ts); the face is given the project's.
    assert.equal(await bearerToken(SECRET), token);
    await using face = await httpsFace({ bearer: await bearerToken(SECRET) });
    const url = `${face.url}files/a%20b.txt`;
    const none = await curl(face, ["-D", "-", url]);
    assert.match(none.stdout, /^HTTP\/1\.1 401 /);
    assert.match(none.stdout, /\r\nwww-authenticate: Bearer realm="p2p"\r\n/i);
    assert.match(none.stdout, /401 this HTTP face needs the header "Authorization: Bearer <token>"/);
    assert.match(none.stdout, /docs\/HTTP\.md shows how to compute it\n\n401$/);
    const wrong = await curl(face, ["-D", "-", "-H", `Authorization: Bearer ${await opensslBearer("other")}`, url]);
    assert.match(wrong.stdout, /^HTTP\/1\.1 401 /);
    assert.match(wrong.stdout, /\r\nwww-authenticate: Bearer realm="p2p", error="invalid_token"\r\n/i);
    assert.match(wrong.stdout, /401 the bearer token is not this network's/);
    // The secret itself is not the token.
    const secret = await curl(face, ["-H", `Authorization: Bearer ${SECRET}`, url]);
    assert.match(secret.stdout, /\n401$/);
    const right = await curl(face, ["-H", `Authorization: Bearer ${token}`, url]);
    assert.equal(right.stdout, "over https\n\n200");
    // HEAD refused too, with no body; every page of the face, not only files.
    const head = await curl(face, ["-I", url]);
    assert.match(head.stdout, /^HTTP\/1\.1 401 /);
    for (const path of ["", "api/files", "api/files/data.bin", "no/such/page"]) {
      assert.match((await curl(face, [`${face.url}${path}`])).stdout, /\n401$/, path);
    }
    const refused = await face.http.events.next("refused", (e) => e.status === 401);
    assert.match(refused.message, /needs the header "Authorization: Bearer <token>"/);
    assert.match(refused.to, /^127\.0\.0\.1:\d+$/);
    // wget with the header gets the file.
    await using out = await tempDir();
    const target = join(out.path, "data.bin");
    const got = await run(WGET, [
      "-q",
      "--ca-certificate",
      face.certs.ca,
      `--header=Authorization: Bearer ${token}`,
      "-O",
      target,
      `${face.url}files/data.bin`,
    ]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(sha256(await Deno.readFile(target)), sha256(DATA));
  },
});

Deno.test({
  name: named(
    "peer HTTPS: a connection past the ceiling is answered 503 over TLS; silent or half-way through its handshake, closed at the deadline",
  ),
  ignore,
  fn: async () => {
    const connections = new Slots(1);
    await using face = await httpsFace({ connections, headersTimeoutMs: 300 });
    // One connection that says nothing: it holds the one slot until the deadline closes it.
    using silent = await Deno.connect({ hostname: "127.0.0.1", port: face.http.port });
    const over = await curl(face, [`${face.url}files/a%20b.txt`]);
    assert.match(over.stdout, /^503 too many connections \(1\); try again later\n\n503$/);
    const closed = await silent.read(new Uint8Array(16)).catch(() => null);
    assert.equal(closed, null, "the silent connection is closed by the deadline");
    const served = await curl(face, [`${face.url}files/a%20b.txt`]);
    assert.equal(served.stdout, "over https\n\n200");
    // One that begins a TLS handshake and stops: closed by the handshake's deadline, the same bound.
    using halfway = await Deno.connect({ hostname: "127.0.0.1", port: face.http.port });
    await halfway.write(new Uint8Array([0x16, 0x03]));
    const started = performance.now();
    assert.equal(await halfway.read(new Uint8Array(16)).catch(() => null), null);
    assert.ok(performance.now() - started < 5_000, "the half-begun handshake was closed late");
  },
});

Deno.test({
  name: named("peer HTTPS: closing does not wait for a TLS connection kept alive, nor for one mid-handshake"),
  ignore,
  fn: async () => {
    await using face = await httpsFace();
    const caCerts = [await Deno.readTextFile(face.certs.ca)];
    // A kept-alive TLS connection, idle after its answer.
    const client = Deno.createHttpClient({ caCerts });
    const answer = await fetch(`${face.url}files/a%20b.txt`, { client });
    assert.equal(await answer.text(), "over https\n");
    // A connection that began a handshake (one byte of it) and went quiet.
    using halfway = await Deno.connect({ hostname: "127.0.0.1", port: face.http.port });
    await halfway.write(new Uint8Array([0x16]));
    const started = performance.now();
    await face.http.close();
    assert.ok(performance.now() - started < 2_000, "closing waited for idle connections");
    assert.equal(await halfway.read(new Uint8Array(16)).catch(() => null), null);
    client.close();
  },
});
