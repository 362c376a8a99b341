/**
 * Specifies TLS from the runtime in `io/server.ts` and `io/dial.ts`, on
 * real loopback sockets with certificates `openssl` makes: a line server
 * with `tls` answers a client with `tls`; a wrong CA, an expired
 * certificate and one for another name fail the dial with `ETLS` and words
 * that name the address and what to do; a plain client to a TLS server and
 * a TLS client to a plain server both fail at once, saying so, while the
 * server goes on serving and logs it; `--secret` over TLS still decides
 * membership, without the record layer.
 *
 * @module
 */

import assert from "node:assert/strict";
import { dial } from "../../io/dial.ts";
import { AuthError, classify, TlsError } from "../../io/errors.ts";
import { BufferedReader } from "../../io/reader.ts";
import { Secret, SecureLink } from "../../io/secret.ts";
import { TcpServer } from "../../io/server.ts";
import { writeText } from "../../io/streams.ts";
import type { TlsServerConfig } from "../../io/tls.ts";
import { makeCerts, sClient } from "../helpers/certs.ts";
import { within } from "../helpers/events.ts";

/** A line server on 127.0.0.1 that echoes each line as `200 <line>`; what it was told of goes to `errors`. */
function echoServer(options: { tls?: TlsServerConfig; secret?: Secret } = {}) {
  const errors: unknown[] = [];
  const links: unknown[] = [];
  const server = new TcpServer(async (link) => {
    links.push(link);
    const reader = new BufferedReader(link);
    for (let line = await reader.readLine(); line !== null; line = await reader.readLine()) {
      await writeText(link, `200 ${line}\n`);
    }
  }, { hostname: "127.0.0.1", port: 0, onError: (e) => errors.push(e), ...options });
  return Object.assign(server, { address: `127.0.0.1:${server.addr.port}`, errors, links });
}

async function ask(link: Awaited<ReturnType<typeof dial>>, line: string): Promise<string | null> {
  await writeText(link, line + "\n");
  return await within(`the answer to ${line}`, new BufferedReader(link).readLine());
}

/** The error `promise` rejects with. */
async function failure(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  assert.fail("expected a failure");
}

/** Waits until `list` has an entry. */
async function told(list: unknown[]): Promise<unknown> {
  await within(
    "the server's log line",
    (async () => {
      while (list.length === 0) await new Promise((resolve) => setTimeout(resolve, 5));
    })(),
  );
  return list[0];
}

Deno.test("tls: a client trusting the CA talks to a TLS server, and the server keeps serving", async () => {
  await using c = await makeCerts();
  await using server = echoServer({ tls: await c.server() });
  const tls = await c.client();
  for (let i = 0; i < 2; i++) {
    using link = await dial(server.address, { tls });
    assert.equal(await ask(link, `PING ${i}`), `200 PING ${i}`);
  }
  assert.deepEqual(server.errors, []);
});

Deno.test("tls: a client trusting another CA fails with ETLS naming the address and the CA file", async () => {
  await using c = await makeCerts();
  await using server = echoServer({ tls: await c.server() });
  const error = await failure(dial(server.address, { tls: await c.client(c.otherCa), party: "tracker" }));
  assert.ok(error instanceof TlsError, String(error));
  assert.equal(classify(error).code, "ETLS");
  assert.match(error.message, new RegExp(`^the tracker at ${server.address} has a certificate that the CA in `));
  assert.ok(error.message.includes(c.otherCa));
  assert.match(String(await told(server.errors)), /refused this server's certificate/);
});

Deno.test("tls: an expired certificate fails the dial with ETLS saying it has expired", async () => {
  await using c = await makeCerts();
  await using server = echoServer({ tls: await c.server(c.expired) });
  const error = await failure(dial(server.address, { tls: await c.client() }));
  assert.ok(error instanceof TlsError, String(error));
  assert.match(error.message, new RegExp(`^the certificate of the peer at ${server.address} has expired; `));
});

Deno.test("tls: a certificate for another name fails the dial with ETLS naming the address it lacks", async () => {
  await using c = await makeCerts();
  await using server = echoServer({ tls: await c.server(c.otherName) });
  const error = await failure(dial(server.address, { tls: await c.client() }));
  assert.ok(error instanceof TlsError, String(error));
  assert.match(error.message, /is not for 127\.0\.0\.1; give it one that names it \(subjectAltName IP:127\.0\.0\.1/);
});

Deno.test("tls: a plain client to a TLS server fails its first read at once, saying the server speaks TLS", async () => {
  await using c = await makeCerts();
  await using server = echoServer({ tls: await c.server() });
  using link = await dial(server.address, { party: "tracker" });
  const started = performance.now();
  const error = await failure(ask(link, "PING"));
  assert.ok(performance.now() - started < 2_000, "at once, not after a timeout");
  assert.ok(error instanceof TlsError, String(error));
  assert.equal(
    error.message,
    `the tracker at ${server.address} speaks TLS; connect with --tls-ca FILE (the CA that signed its certificate)`,
  );
  assert.match(String(await told(server.errors)), /spoke plain TCP to this TLS server; it needs --tls-ca/);
  // And it goes on serving TLS clients.
  using good = await dial(server.address, { tls: await c.client() });
  assert.equal(await ask(good, "PING"), "200 PING");
});

Deno.test("tls: a TLS client to a plain server fails the dial at once; the server answers in plain and logs it", async () => {
  await using c = await makeCerts();
  await using server = echoServer();
  const error = await failure(dial(server.address, { tls: await c.client(), party: "tracker" }));
  assert.ok(error instanceof TlsError, String(error));
  assert.equal(classify(error).code, "ETLS");
  assert.match(
    error.message,
    new RegExp(`^the tracker at ${server.address} does not speak TLS \\(it answered in plain\\); drop --tls-ca`),
  );
  assert.match(String(await told(server.errors)), /spoke TLS to this plain server; answered so and closed/);
  // What a TLS client that is not ours reads: the plain answer.
  const raw = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await raw.write(new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x05, 1, 0, 0, 1, 0]));
  const answer = await within("the plain answer", new BufferedReader(raw).readLine());
  raw.close();
  assert.equal(answer, "400 this server speaks plain TCP, not TLS; connect without --tls-ca");
  // Plain clients are served as ever.
  using plain = await dial(server.address);
  assert.equal(await ask(plain, "PING"), "200 PING");
});

Deno.test("tls: --secret over TLS admits who knows it, without the record layer, and refuses a wrong one", async () => {
  await using c = await makeCerts();
  const secret = await Secret.from("correct horse battery staple");
  await using server = echoServer({ tls: await c.server(), secret });
  const tls = await c.client();
  {
    using link = await dial(server.address, { tls, secret });
    assert.equal(await ask(link, "PING"), "200 PING");
    assert.ok(!(link instanceof SecureLink), "no record layer on the client");
    assert.ok(!(server.links[0] instanceof SecureLink), "no record layer on the server");
  }
  const wrong = await failure(dial(server.address, { tls, secret: await Secret.from("another secret") }));
  assert.ok(wrong instanceof AuthError, String(wrong));
  assert.equal(classify(wrong).code, "EAUTH");
  using none = await dial(server.address, { tls });
  assert.equal(await ask(none, "PING"), "530 this server needs the shared secret (--secret)");
});

Deno.test("tls: a client that never finishes the TLS handshake gives up its slot at the handshake timeout", async () => {
  await using c = await makeCerts();
  const errors: unknown[] = [];
  await using server = new TcpServer(async (link) => {
    await writeText(link, "200 welcome\n");
  }, {
    hostname: "127.0.0.1",
    port: 0,
    tls: await c.server(),
    maxConnections: 1,
    handshakeTimeoutMs: 100,
    onError: (e) => errors.push(e),
  });
  const silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  try {
    // The one slot is the silent client's until its handshake times out (421 meanwhile); then the next is served.
    const tls = await c.client();
    const started = performance.now();
    let line: string | null = "";
    for (let tries = 0; tries < 200; tries++) {
      using link = await dial(`127.0.0.1:${server.addr.port}`, { tls });
      line = await within("an answer", new BufferedReader(link).readLine());
      if (!line?.startsWith("421 ")) break;
      await new Promise((resolve) => setTimeout(resolve, 25));
    }
    assert.equal(line, "200 welcome");
    assert.ok(performance.now() - started < 5_000);
    assert.deepEqual(errors, [], "a timed-out handshake is not logged");
  } finally {
    silent.close();
  }
});

Deno.test("tls: a certificate and key that do not belong together fail the listen, naming both files", async () => {
  await using c = await makeCerts();
  const tls = await c.server();
  const otherKey = await Deno.readTextFile(c.otherCa.replace(/\.crt$/, ".key"));
  assert.throws(
    () => new TcpServer(() => Promise.resolve(), { hostname: "127.0.0.1", port: 0, tls: { ...tls, key: otherKey } }),
    (error: Error) =>
      error.message.includes(`the TLS certificate ${tls.certFile} or its key ${tls.keyFile} cannot be used`),
  );
});

Deno.test("tls: openssl s_client (a client no one here wrote) gets an answer from a TLS server", async () => {
  await using c = await makeCerts();
  // One line answered, then the server closes: s_client prints what it read and exits.
  await using server = new TcpServer(async (link) => {
    const line = await new BufferedReader(link).readLine();
    await writeText(link, `200 ${line}\n`);
  }, { hostname: "127.0.0.1", port: 0, tls: await c.server() });
  const output = await sClient(`127.0.0.1:${server.addr.port}`, c.ca, "PING\n");
  assert.equal(output, "200 PING\n");
});
