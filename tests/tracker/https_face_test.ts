/**
 * The tracker's HTTP face over HTTPS (`tls`), with and without a bearer
 * token (`httpBearer`), spoken to by the real `curl`, `wget` and `aria2c`
 * trusting the test CA: the page, the JSON API, redirects and Metalinks
 * that name the holders by `https://` URLs; a download that follows the
 * redirect; `aria2c -M` fetching from two HTTPS holders and checking the
 * Metalink's pieces (which the tracker itself fetched from a holder over
 * HTTPS with the token); `401` without the token or with a wrong one,
 * whose right value is computed by `openssl`, not by the project; a plain
 * `http://` request refused. Holders here are peers' HTTP faces
 * (`startPeerHttp`, HTTPS, the same token) announced on a TLS session of
 * their own.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { formatAnnouncement } from "../../protocol.ts";
import { startTrackerWithHttp, type Tracker, type TrackerEvent } from "../../tracker.ts";
import { bearerToken } from "../../io/bearer.ts";
import { Secret } from "../../io/secret.ts";
import { opensslBearer } from "../helpers/bearer.ts";
import { makeCerts, type TestCerts } from "../helpers/certs.ts";
import { EventLog } from "../helpers/events.ts";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { installed, run, type TestHttp, testHttp } from "../helpers/http.ts";
import { randomBytes } from "../helpers/random.ts";
import { tempDir } from "../helpers/temp.ts";
import { unusedPort } from "../helpers/net.ts";
import { testPeer } from "../helpers/roles.ts";
import { startCliPeer, startCliTracker } from "../helpers/cli.ts";

const CURL = "/usr/bin/curl";
const WGET = "/usr/bin/wget";
const ARIA2C = "/usr/bin/aria2c";
const missing = [CURL, WGET, ARIA2C, "/usr/bin/openssl"].filter((path) => !installed(path));
const ignore = missing.length > 0;
/** A test's name, saying that it was skipped when a client is missing. */
const named = (name: string) => ignore ? `${name} (skipped: no ${missing.join(", ")})` : name;

const SECRET = "tracker and peers share this";
const BIG = randomBytes(3 * MiB + 99, 31);
const FILES = { "big file.bin": BIG, "small.txt": "small over https\n" };

/** A tracker with an HTTPS face, two HTTPS holders of {@link FILES} announced to it, and the test certificates. */
interface Network extends AsyncDisposable {
  certs: TestCerts;
  tracker: Tracker;
  events: EventLog<TrackerEvent>;
  /** `https://127.0.0.1:<port>/` of the tracker's face. */
  base: string;
  holders: TestHttp[];
}

/**
 * Starts the network of {@link Network}; with `bearer`, the tracker and both holders ask for it. The tracker's
 * certificate file holds its chain (leaf, then CA): the CA it then trusts for the holders' faces, when it fetches
 * a file's pieces.
 */
async function network(options: { bearer?: string } = {}): Promise<Network> {
  const { bearer } = options;
  const stack = new AsyncDisposableStack();
  try {
    const certs = stack.use(await makeCerts());
    const { chain } = certs;
    const events = new EventLog<TrackerEvent>();
    const tls = await certs.server(chain);
    const tracker = stack.use(
      await startTrackerWithHttp({
        hostname: "127.0.0.1",
        port: 0,
        httpPort: 0,
        tls,
        httpBearer: bearer,
        onEvent: events.push,
      }),
    );
    const holders: TestHttp[] = [];
    const caCerts = [await Deno.readTextFile(certs.ca)];
    for (let i = 0; i < 2; i++) {
      const http = stack.use(await testHttp(FILES, { tls: await certs.server(), bearer }));
      holders.push(http);
      // Announced on a TLS session of its own, kept open as long as the network: a peer at a port where nothing
      // listens (the tracker names holders by their peer address and HTTP port).
      const conn = await Deno.connectTls({ hostname: "127.0.0.1", port: tracker.addr.port, caCerts });
      stack.defer(() => conn.close());
      const text = formatAnnouncement(
        { verb: "UPDATE", port: unusedPort(), httpPort: http.port },
        http.folder.entries(),
      );
      await conn.write(new TextEncoder().encode(text));
      const reply = new Uint8Array(256);
      const n = await conn.read(reply);
      assert.match(new TextDecoder().decode(reply.subarray(0, n ?? 0)), /^200 /);
    }
    await events.until(
      "both holders announced",
      async () => (await tracker.store.holders("big file.bin", 10)).length === 2,
    );
    const moved = stack.move();
    return {
      certs,
      tracker,
      events,
      base: `https://127.0.0.1:${tracker.http!.port}/`,
      holders,
      [Symbol.asyncDispose]: () => moved.disposeAsync(),
    };
  } catch (error) {
    await stack.disposeAsync();
    throw error;
  }
}

/** `curl -sS` trusting the test CA, with `args`; the status appended on a line of its own. */
function curl(net: Network, args: string[]) {
  return run(CURL, ["-sS", "--cacert", net.certs.ca, "-w", "\n%{http_code}", ...args]);
}

/** The body of a `curl` answer (what precedes the status line `-w` appended), and the status. */
function split(out: string): { body: string; status: number } {
  const at = out.lastIndexOf("\n");
  return { body: out.slice(0, at), status: Number(out.slice(at + 1)) };
}

Deno.test({
  name: named("tracker HTTPS: the page, the JSON API, the redirect and the Metalink name the holders by https:// URLs"),
  ignore,
  fn: async () => {
    await using net = await network();
    const [a, b] = net.holders.map((h) => `https://127.0.0.1:${h.port}/`);
    const page = split((await curl(net, [net.base])).stdout);
    assert.equal(page.status, 200);
    assert.match(page.body, /<title>/);
    assert.ok(page.body.includes(`href="${a}files/big%20file.bin"`), "the page links the holder over https");
    const files = JSON.parse(split((await curl(net, [`${net.base}api/files`])).stdout).body);
    const big = files.files.find((f: { name: string }) => f.name === "big file.bin");
    assert.deepEqual(big.urls.sort(), [`${a}files/big%20file.bin`, `${b}files/big%20file.bin`].sort());
    const peers = JSON.parse(split((await curl(net, [`${net.base}api/peers`])).stdout).body);
    assert.deepEqual(peers.peers.map((p: { http: string }) => p.http).sort(), [a, b].sort());
    const redirect = await curl(net, ["-D", "-", "-o", "/dev/null", `${net.base}files/small.txt`]);
    assert.match(redirect.stdout, /^HTTP\/1\.1 307 /);
    assert.match(redirect.stdout, /\r\nlocation: https:\/\/127\.0\.0\.1:\d+\/files\/small\.txt\r\n/i);
    const metalink = split((await curl(net, [`${net.base}files/big%20file.bin.meta4`])).stdout).body;
    assert.equal(
      (metalink.match(/<url priority="\d+">https:\/\/127\.0\.0\.1:\d+\/files\/big%20file\.bin<\/url>/g) ?? []).length,
      2,
    );
    // The pieces were fetched from a holder over HTTPS, trusting the CA of the tracker's own chain.
    assert.match(metalink, /<pieces length="1048576" type="sha-256">/);
    // curl -L follows the redirect to the holder over HTTPS and gets the bytes.
    await using out = await tempDir();
    const got = await curl(net, ["-L", "-o", join(out.path, "big.bin"), `${net.base}files/big%20file.bin`]);
    assert.equal(split(got.stdout).status, 200, got.stderr);
    assert.equal(sha256(await Deno.readFile(join(out.path, "big.bin"))), sha256(BIG));
  },
});

Deno.test({
  name: named("tracker HTTPS bearer: none and a wrong token are 401 told as bad requests; openssl's token is served"),
  ignore,
  fn: async () => {
    const token = await opensslBearer(SECRET);
    await using net = await network({ bearer: await bearerToken(SECRET) });
    const none = await curl(net, ["-D", "-", `${net.base}api/stats`]);
    assert.match(none.stdout, /^HTTP\/1\.1 401 /);
    assert.match(none.stdout, /\r\nwww-authenticate: Bearer realm="p2p"\r\n/i);
    assert.match(none.stdout, /401 this HTTP face needs the header "Authorization: Bearer <token>"/);
    const told = await net.events.next("bad-request", (e) => e.status === 401);
    assert.match(told.message, /^HTTP GET \/api\/stats: this HTTP face needs the header/);
    const wrong = await curl(net, [
      "-H",
      `Authorization: Bearer ${await opensslBearer("not it")}`,
      `${net.base}api/stats`,
    ]);
    assert.equal(split(wrong.stdout).status, 401);
    for (const path of ["", "api/files", "api/peers", "files/small.txt", "files/big%20file.bin.meta4"]) {
      assert.equal(split((await curl(net, [`${net.base}${path}`])).stdout).status, 401, path);
    }
    const right = await curl(net, ["-H", `Authorization: Bearer ${token}`, `${net.base}api/stats`]);
    assert.equal(split(right.stdout).status, 200);
    assert.equal(JSON.parse(split(right.stdout).body).files, 2);
    // The redirect, followed with the header: curl sends it to the holder only with --location-trusted.
    const plainL = await curl(net, ["-L", "-H", `Authorization: Bearer ${token}`, `${net.base}files/small.txt`]);
    assert.equal(split(plainL.stdout).status, 401, "curl -L drops the header on the way to another port");
    const trusted = await curl(net, [
      "--location-trusted",
      "-H",
      `Authorization: Bearer ${token}`,
      `${net.base}files/small.txt`,
    ]);
    assert.equal(trusted.stdout, "small over https\n\n200");
    // wget keeps its --header on a redirect.
    await using out = await tempDir();
    const target = join(out.path, "small.txt");
    const got = await run(WGET, [
      "-q",
      "--ca-certificate",
      net.certs.ca,
      `--header=Authorization: Bearer ${token}`,
      "-O",
      target,
      `${net.base}files/small.txt`,
    ]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(await Deno.readTextFile(target), "small over https\n");
  },
});

Deno.test({
  name: named("tracker HTTPS bearer: aria2c -M with the CA and the header fetches from both holders and checks pieces"),
  ignore,
  fn: async () => {
    const token = await opensslBearer(SECRET);
    await using net = await network({ bearer: await bearerToken(SECRET) });
    await using out = await tempDir();
    const metalink = join(out.path, "big.meta4");
    const saved = await curl(net, [
      "-H",
      `Authorization: Bearer ${token}`,
      "-o",
      metalink,
      `${net.base}files/big%20file.bin?metalink`,
    ]);
    assert.equal(split(saved.stdout).status, 200, saved.stderr);
    const xml = await Deno.readTextFile(metalink);
    // Fetched by the tracker from a holder that asks for the token: the tracker sent it.
    assert.match(xml, /<pieces length="1048576" type="sha-256">/);
    assert.equal((xml.match(/<url priority="\d+">https:/g) ?? []).length, 2);
    const got = await run(ARIA2C, [
      "-M",
      metalink,
      `--ca-certificate=${net.certs.ca}`,
      `--header=Authorization: Bearer ${token}`,
      "--dir",
      join(out.path, "got"),
      "--split=2",
      "--max-connection-per-server=2",
      "--min-split-size=1M",
      "--summary-interval=0",
      "--console-log-level=warn",
      "--file-allocation=none",
      "--no-conf=true",
    ]);
    assert.equal(got.code, 0, got.stdout + got.stderr);
    assert.equal(sha256(await Deno.readFile(join(out.path, "got", "big file.bin"))), sha256(BIG));
    const served = net.holders.map((h) =>
      h.events.events.reduce((sum, e) => e.type === "served" && e.name === "big file.bin" ? sum + e.bytes : sum, 0)
    );
    assert.ok(served.reduce((x, y) => x + y) >= BIG.length, `served ${served}`);
    // Without the header, aria2c gets 401 from every URL and fails.
    const refused = await run(ARIA2C, [
      "-M",
      metalink,
      `--ca-certificate=${net.certs.ca}`,
      "--dir",
      join(out.path, "refused"),
      "--max-tries=1",
      "--summary-interval=0",
      "--console-log-level=error",
      "--no-conf=true",
    ]);
    assert.notEqual(refused.code, 0);
  },
});

Deno.test({
  name: named("tracker HTTPS: plain http:// to the HTTPS port is answered 400 naming https://; no CA, no answer"),
  ignore,
  fn: async () => {
    await using net = await network();
    const port = net.tracker.http!.port;
    const plain = await run(CURL, ["-sS", "-w", "\n%{http_code}", `http://127.0.0.1:${port}/api/stats`]);
    assert.equal(
      plain.stdout,
      `400 this port speaks HTTPS, not plain HTTP: ask https://127.0.0.1:${port}/ instead ` +
        "(curl: https:// and --cacert with the network's CA certificate)\n\n400",
    );
    const untrusted = await run(CURL, ["-sS", `https://127.0.0.1:${port}/api/stats`]);
    assert.equal(untrusted.code, 60, untrusted.stderr);
  },
});

Deno.test("tracker HTTPS: an HTTP face with a secret needs httpBearer, and httpBearer needs tls", async () => {
  const secret = await Secret.from(SECRET);
  await assert.rejects(
    startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, httpPort: 0, secret }),
    /an HTTP face with a secret needs httpBearer/,
  );
  await assert.rejects(
    startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, httpPort: 0, httpBearer: "x" }),
    /httpBearer needs tls: a bearer token sent over plain HTTP could be read on the way/,
  );
});

Deno.test({
  name: named(
    "tracker HTTPS with a secret: peers over TLS announce HTTPS faces; aria2c with the token fetches from both",
  ),
  ignore,
  fn: async () => {
    await using certs = await makeCerts();
    const { chain } = certs;
    const secret = await Secret.from(SECRET);
    const httpBearer = await bearerToken(SECRET);
    const events = new EventLog<TrackerEvent>();
    await using tracker = await startTrackerWithHttp({
      hostname: "127.0.0.1",
      port: 0,
      httpPort: 0,
      secret,
      tls: await certs.server(chain),
      httpBearer,
      onEvent: events.push,
    });
    const address = `127.0.0.1:${tracker.addr.port}`;
    const options = { httpPort: 0, secret, httpBearer, tls: await certs.server(), tlsCa: await certs.client() };
    await using a = await testPeer(address, { "big file.bin": BIG }, options);
    await using b = await testPeer(address, { "big file.bin": BIG }, options);
    await events.until(
      "both peers announced",
      async () => (await tracker.store.holders("big file.bin", 10)).length === 2,
    );
    const token = await opensslBearer(SECRET);
    const base = `https://127.0.0.1:${tracker.http!.port}/`;
    const detail = await run(CURL, [
      "-sS",
      "--cacert",
      certs.ca,
      "-H",
      `Authorization: Bearer ${token}`,
      `${base}api/files/big%20file.bin`,
    ]);
    const holders = JSON.parse(detail.stdout).holders.map((h: { http: string }) => h.http).sort();
    assert.deepEqual(holders, [a, b].map((p) => `https://127.0.0.1:${p.http!.port}/files/big%20file.bin`).sort());
    await using out = await tempDir();
    // aria2c given the tracker's URL asks for the Metalink by Accept, then fetches from both peers.
    const got = await run(ARIA2C, [
      `--ca-certificate=${certs.ca}`,
      `--header=Authorization: Bearer ${token}`,
      "--dir",
      out.path,
      "--follow-metalink=mem",
      "--split=2",
      "--max-connection-per-server=2",
      "--min-split-size=1M",
      "--summary-interval=0",
      "--console-log-level=warn",
      "--file-allocation=none",
      "--no-conf=true",
      `${base}files/big%20file.bin`,
    ]);
    assert.equal(got.code, 0, got.stdout + got.stderr);
    assert.equal(sha256(await Deno.readFile(join(out.path, "big file.bin"))), sha256(BIG));
    // Without the token the peers' faces refuse, as the tracker's does.
    const refused = await run(CURL, ["-sS", "--cacert", certs.ca, "-w", "%{http_code}", "-o", "/dev/null", holders[0]]);
    assert.equal(refused.stdout, "401");
  },
});

Deno.test({
  name: named(
    "tracker and peer CLI: --tls-cert with --secret and --http-port print https:// and openssl's bearer token",
  ),
  ignore,
  fn: async () => {
    await using certs = await makeCerts();
    const { chain } = certs;
    const token = await opensslBearer(SECRET);
    const secret = ["--secret", SECRET];
    await using tracker = await startCliTracker([
      "--http-port",
      "0",
      ...secret,
      "--tls-cert",
      chain,
      "--tls-key",
      certs.key,
    ]);
    const [, trackerHttp] = await tracker.waitFor(/^http on (https:\/\/127\.0\.0\.1:\d+\/)$/m);
    const told = await tracker.waitFor(/^http asks every request for the header "Authorization: Bearer (\S+)" /m);
    assert.equal(told[1], token);
    await using dir = await tempDir();
    await Deno.writeTextFile(join(dir.path, "hello.txt"), "hello over https\n");
    await using peer = await startCliPeer(tracker.address, {
      dir: dir.path,
      info: join(dir.path, "..", `info-${crypto.randomUUID()}.txt`),
      flags: ["--http-port", "0", ...secret, "--tls-cert", certs.cert, "--tls-key", certs.key, "--tls-ca", certs.ca],
    });
    const [, peerHttp] = await peer.waitFor(/^http on (https:\/\/127\.0\.0\.1:\d+\/)$/m);
    assert.equal(
      (await peer.waitFor(/^http asks every request for the header "Authorization: Bearer (\S+)" /m))[1],
      token,
    );
    const auth = ["--cacert", certs.ca, "-H", `Authorization: Bearer ${token}`];
    const got = await run(CURL, ["-sS", "-f", ...auth, "--location-trusted", `${trackerHttp}files/hello.txt`]);
    assert.equal(got.stdout, "hello over https\n", got.stderr);
    const direct = await run(CURL, ["-sS", "-f", ...auth, `${peerHttp}files/hello.txt`]);
    assert.equal(direct.stdout, "hello over https\n", direct.stderr);
    const refused = await run(CURL, [
      "-sS",
      "--cacert",
      certs.ca,
      "-w",
      "%{http_code}",
      "-o",
      "/dev/null",
      trackerHttp,
    ]);
    assert.equal(refused.stdout, "401");
  },
});
