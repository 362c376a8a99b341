/**
 * `io/http_server.ts` on real sockets: `431` for oversized headers, `408`
 * for headers that do not arrive in time, `503` and closed past the
 * connection ceiling, and a close that waits only for
 * answers under way, never for a connection that has not asked anything.
 *
 * @module
 */

import assert from "node:assert/strict";
import { contentDisposition, digestHeaders, startHttpServer } from "../../io/http_server.ts";
import { Slots } from "../../io/slots.ts";
import { EMPTY_SHA256 } from "../../protocol.ts";
import { within } from "../helpers/events.ts";
import { readUntilClose, writeAllTo } from "../helpers/http.ts";

const encode = (text: string) => new TextEncoder().encode(text);
const decode = (bytes: Uint8Array) => new TextDecoder().decode(bytes);

Deno.test("http server: oversized headers get 431; headers too slow get 408 and the connection closes", async () => {
  await using server = await startHttpServer((_q, a) => {
    a.end("ok\n");
  }, { hostname: "127.0.0.1", port: 0, headersTimeoutMs: 200 });
  using big = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await writeAllTo(big, encode(`GET / HTTP/1.1\r\nHost: x\r\nX-Big: ${"x".repeat(20_000)}\r\n\r\n`));
  assert.match(decode(await readUntilClose(big)), /^HTTP\/1\.1 431 /);
  using slow = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await writeAllTo(slow, encode("GET / HTTP/1.1\r\n"));
  assert.match(decode(await within("the 408", readUntilClose(slow))), /^HTTP\/1\.1 408 /);
});

Deno.test("http server: a connection past the shared ceiling is answered 503 and closed", async () => {
  const slots = new Slots(1);
  slots.take(); // the other face's one connection
  await using server = await startHttpServer((_q, a) => {
    a.end("ok\n");
  }, { hostname: "127.0.0.1", port: 0, connections: slots });
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await writeAllTo(conn, encode("GET / HTTP/1.1\r\nHost: x\r\n\r\n"));
  const answer = decode(await within("the 503", readUntilClose(conn)));
  assert.match(answer, /^HTTP\/1\.1 503 Service Unavailable\r\n/);
  assert.ok(answer.includes("503 too many connections (1); try again later\n"), answer);
  assert.equal(slots.used, 1, "nothing taken for it");
});

Deno.test("http server: closing does not wait for connections that asked nothing, silent or half-way", async () => {
  const server = await startHttpServer((_q, a) => {
    a.end("ok\n");
  }, { hostname: "127.0.0.1", port: 0 });
  using silent = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  using halfway = await Deno.connect({ hostname: "127.0.0.1", port: server.addr.port });
  await writeAllTo(halfway, encode("GET / HTTP/1.1\r\nHost: x\r\n"));
  // A grace far beyond the test's deadline: only closing them at once passes.
  await within("the close", server.close(3_600_000));
  assert.equal(server.connections, 0);
  await readUntilClose(silent);
  await readUntilClose(halfway);
});

Deno.test("http server: digestHeaders gives the SHA-256 as Repr-Digest and Digest, base64", () => {
  assert.deepEqual(digestHeaders(EMPTY_SHA256), {
    "repr-digest": "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:",
    digest: "SHA-256=47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=",
  });
});

Deno.test("http content disposition: plain ASCII as is; anything else also as filename*", () => {
  assert.equal(contentDisposition("report 2024.pdf"), 'attachment; filename="report 2024.pdf"');
  assert.equal(
    contentDisposition('say "hi".txt'),
    `attachment; filename="say _hi_.txt"; filename*=UTF-8''say%20%22hi%22.txt`,
  );
  assert.equal(contentDisposition("100%.txt"), `attachment; filename="100%.txt"; filename*=UTF-8''100%25.txt`);
  assert.equal(contentDisposition("a%41.txt"), `attachment; filename="a_41.txt"; filename*=UTF-8''a%2541.txt`);
  assert.equal(contentDisposition("a\\b"), `attachment; filename="a_b"; filename*=UTF-8''a%5Cb`);
  assert.equal(contentDisposition("it's (1).txt"), `attachment; filename="it's (1).txt"`);
  assert.equal(
    contentDisposition("日本's.txt"),
    `attachment; filename="__'s.txt"; filename*=UTF-8''%E6%97%A5%E6%9C%AC%27s.txt`,
  );
});

// --- files ---------------------------------------------------------------------
