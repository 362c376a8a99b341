/**
 * Specifies `io/dial.ts`, the one way to connect, on real loopback
 * sockets: plain TCP to a live server; `ConnectionRefused` where nothing
 * listens; with a secret, an encrypted link to a server that shares it, an
 * `AuthError` that says so to a server that runs without one, and a failure
 * within `timeoutMs` from a server that never answers the handshake.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatStatusLine, ProtocolError, Status } from "../../protocol.ts";
import { dial } from "../../io/dial.ts";
import { AuthError, classify } from "../../io/errors.ts";
import { BufferedReader } from "../../io/reader.ts";
import { Secret } from "../../io/secret.ts";
import { TcpServer } from "../../io/server.ts";
import { writeText } from "../../io/streams.ts";
import { within } from "../helpers/events.ts";
import { deadAddress } from "../helpers/net.ts";

const SECRET = "correct horse battery staple";

/** A server on 127.0.0.1 that answers each line with `reply(line)`, as the roles do. */
function lineServer(reply: (line: string) => string, secret?: Secret): TcpServer & { address: string } {
  const server = new TcpServer(async (link) => {
    const reader = new BufferedReader(link);
    for (let line = await reader.readLine(); line !== null; line = await reader.readLine()) {
      await writeText(link, reply(line));
    }
  }, { hostname: "127.0.0.1", port: 0, secret });
  return Object.assign(server, { address: `127.0.0.1:${server.addr.port}` });
}

/** Sends `line` over `link` and reads one line back. */
async function ask(link: Deno.Conn | Awaited<ReturnType<typeof dial>>, line: string): Promise<string | null> {
  await writeText(link, line);
  return await within(`the answer to ${line.trim()}`, new BufferedReader(link).readLine());
}

/** Reads `conn` to its end (whatever the client sent before closing); true once the other side has closed. */
async function drained(conn: Deno.Conn): Promise<boolean> {
  const buffer = new Uint8Array(1024);
  while ((await within("the close", conn.read(buffer))) !== null) { /* drain */ }
  return true;
}

/** What a cancelled dial fails with: the caller's own doing. */
function isCancelled(error: unknown): boolean {
  assert.ok(error instanceof DOMException && error.name === "AbortError", String(error));
  assert.equal(classify(error).code, "ECANCELED");
  return true;
}

Deno.test("dial: connects over plain TCP to HOST:PORT", async () => {
  await using server = lineServer((line) => formatStatusLine(Status.OK, `you said ${line}`));
  using link = await dial(server.address);
  assert.equal(await ask(link, "PING\n"), "200 you said PING");
});

Deno.test("dial: to an address where nothing listens fails with ConnectionRefused", async () => {
  await assert.rejects(dial(deadAddress(), { timeoutMs: 5_000 }), Deno.errors.ConnectionRefused);
});

Deno.test("dial: an address that is not HOST:PORT is a 400 ProtocolError, and nothing is dialled", async () => {
  for (const address of ["localhost", "::1:5555", "127.0.0.1:0", "127.0.0.1:65536", ""]) {
    await assert.rejects(dial(address), (error) => {
      assert.ok(error instanceof ProtocolError, `${address}: ${error}`);
      assert.equal(error.status, Status.BAD_REQUEST);
      return true;
    });
  }
});

Deno.test("dial: with the secret the server shares, the link is encrypted and carries lines both ways", async () => {
  const secret = await Secret.from(SECRET);
  await using server = lineServer((line) => formatStatusLine(Status.OK, `sealed ${line}`), secret);
  using link = await dial(server.address, { secret, timeoutMs: 5_000 });
  assert.equal(await ask(link, "PING\n"), "200 sealed PING");
});

Deno.test("dial: with a secret, to a server without one, fails with an AuthError that says the server runs without a secret", async () => {
  const secret = await Secret.from(SECRET);
  // A server without a secret answers AUTH as any unknown command: 400.
  await using server = lineServer((line) =>
    formatStatusLine(Status.BAD_REQUEST, `unknown command ${line.slice(0, 4)}`)
  );
  await assert.rejects(dial(server.address, { secret, timeoutMs: 5_000 }), (error) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.match(error.message, /the server runs without a secret .*drop --secret/);
    return true;
  });
});

Deno.test("dial: with a secret, to a server that answers the handshake with a line that is no reply, fails with an AuthError quoting it", async () => {
  const secret = await Secret.from(SECRET);
  // Something else listens there: a web server, say.
  await using server = lineServer(() => "HTTP/1.1 400 Bad Request\n");
  await assert.rejects(dial(server.address, { secret, timeoutMs: 5_000 }), (error) => {
    assert.ok(error instanceof AuthError, String(error));
    assert.equal(classify(error).code, "EAUTH");
    assert.match(error.message, /^the server did not take the handshake: HTTP\/1\.1 400 Bad Request$/);
    return true;
  });
});

Deno.test("dial: with a secret, to a server that accepts and never answers the handshake, fails within timeoutMs as a timeout", async () => {
  const secret = await Secret.from(SECRET);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const dialling = dial(`127.0.0.1:${listener.addr.port}`, { secret, timeoutMs: 200 });
  using silent = await accepted;
  // The client's first line arrived, and nothing is ever said back.
  assert.match((await within("the first line", new BufferedReader(silent).readLine()))!, /^AUTH [0-9a-f]{32}$/);
  await assert.rejects(within("the dial to give up", dialling), (error) => {
    assert.ok(error instanceof DOMException && error.name === "TimeoutError", String(error));
    assert.equal(classify(error).code, "ETIMEDOUT");
    return true;
  });
  assert.equal(await drained(silent), true, "the client gave up and closed its side");
});

Deno.test("dial: an abort signal gives up the handshake too", async () => {
  const secret = await Secret.from(SECRET);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const stop = new AbortController();
  const dialling = dial(`127.0.0.1:${listener.addr.port}`, { secret, timeoutMs: 60_000, signal: stop.signal });
  using silent = await accepted;
  assert.match((await within("the first line", new BufferedReader(silent).readLine()))!, /^AUTH /);
  stop.abort();
  await assert.rejects(within("the dial to give up", dialling), isCancelled);
  assert.equal(await drained(silent), true, "the client closed its side");
});

Deno.test("dial: a signal that aborts just as the connection opens gives up at once, not when the server speaks", async () => {
  const secret = await Secret.from(SECRET);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  for (let i = 0; i < 5; i++) {
    const accepted = listener.accept();
    const stop = new AbortController();
    const dialling = dial(`127.0.0.1:${listener.addr.port}`, { secret, timeoutMs: 60_000, signal: stop.signal });
    using silent = await accepted;
    stop.abort(); // connected, and the dial has not gone on yet
    // The server never answers: only the abort can end the dial.
    const outcome = await within(
      "the dial to give up",
      dialling.then(() => "connected", (e) => isCancelled(e) && "gave up"),
    );
    assert.equal(outcome, "gave up", `try ${i}`);
    assert.equal(await drained(silent), true, "the client closed its side");
  }
});
