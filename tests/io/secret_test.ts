/**
 * Specifies `io/secret.ts`, the access control of `--secret`, on real
 * loopback sockets: the secret never crosses the wire, from either side
 * (each side proves it knows it); a wrong proof gets `535`; after the
 * handshake, bytes travel as sealed records and a flipped bit is caught; a
 * client that stalls in the handshake is closed (on a `ManualClock`), and a
 * full server's `421` is shown as it is.
 *
 * @module
 */

import assert from "node:assert/strict";
import { Buffer } from "node:buffer";
import { bytesToHex, formatStatusLine, Status } from "../../protocol.ts";
import { dial } from "../../io/dial.ts";
import { AuthError, isDisconnect } from "../../io/errors.ts";
import { closeQuietly } from "../../io/link.ts";
import { BufferedReader } from "../../io/reader.ts";
import { authenticateClient, authenticateToServer, Secret, SecureLink } from "../../io/secret.ts";
import { TcpServer } from "../../io/server.ts";
import { writeAll, writeText } from "../../io/streams.ts";
import { concat, containsBytes } from "../helpers/bytes.ts";
import { ManualClock } from "../helpers/clock.ts";
import { within } from "../helpers/events.ts";
import { LineClient } from "../helpers/net.ts";

const SECRET = "correct horse battery staple";
const encoder = new TextEncoder();

/** Every form of the secret that would give it away on the wire. */
function secretForms(secret: string): string[] {
  const bytes = encoder.encode(secret);
  return [secret, bytesToHex(bytes), bytesToHex(bytes).toUpperCase(), Buffer.from(bytes).toString("base64")];
}

Deno.test("secret: the handshake never sends the secret, and a wrong proof gets 535", async () => {
  const secret = await Secret.from(SECRET);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const server = (async () => {
    const conn = await listener.accept();
    try {
      await authenticateClient(conn, secret);
      return "admitted";
    } catch (error) {
      return String(error);
    } finally {
      closeQuietly(conn);
    }
  })();
  // A client that records what it is sent and answers with a made-up proof.
  using conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await writeAll(conn, encoder.encode(`AUTH ${"0".repeat(32)}\n`));
  const wire: string[] = [];
  const reader = new BufferedReader(conn);
  wire.push((await within("the challenge", reader.readLine()))!);
  await writeAll(conn, encoder.encode(`AUTH ${"1".repeat(64)}\n`));
  wire.push((await within("the refusal", reader.readLine()))!);
  assert.equal(await within("the close", reader.readLine()), null, "and the server closes");
  assert.match(wire[0], /^334 [0-9a-f]{32}$/, "no proof before the client's");
  assert.equal(wire[1], "535 wrong secret");
  for (const form of secretForms(SECRET)) assert.ok(!wire.join("\n").includes(form), form);
  assert.match(await server, /wrong secret/);
});

/**
 * The wire between a client and the server at `port`: a relay on 127.0.0.1
 * that passes every byte on and keeps a copy of each direction, to the end
 * (bytes the server no longer takes are still kept).
 */
function tap(port: number) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const fromClient: Uint8Array[] = [];
  const fromServer: Uint8Array[] = [];
  const pump = async (from: Deno.Conn, to: Deno.Conn, kept: Uint8Array[]) => {
    const buffer = new Uint8Array(65_536);
    let passing = true;
    try {
      for (let n = await from.read(buffer); n !== null; n = await from.read(buffer)) {
        kept.push(buffer.slice(0, n));
        if (passing) passing = await writeAll(to, buffer.subarray(0, n)).then(() => true, () => false);
      }
    } catch (error) {
      if (!isDisconnect(error)) throw error;
    } finally {
      await to.closeWrite().catch(() => {});
    }
  };
  const relaying = (async () => {
    using client = await listener.accept();
    using server = await Deno.connect({ hostname: "127.0.0.1", port });
    await Promise.all([pump(client, server, fromClient), pump(server, client, fromServer)]);
  })();
  return {
    port: listener.addr.port,
    /** Everything each side sent, once both have closed. */
    async wire() {
      await relaying;
      return { fromClient: concat(fromClient), fromServer: concat(fromServer) };
    },
    [Symbol.dispose]: () => listener.close(),
  };
}

Deno.test("secret: the client side never sends the secret either, in the handshake or after it", async () => {
  const secret = await Secret.from(SECRET);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  using wire = tap(listener.addr.port);
  // The server side as it runs: the handshake, then one line each way, sealed.
  const server = (async () => {
    using conn = await listener.accept();
    const link = await SecureLink.over(conn, { shook: await authenticateClient(conn, secret), secret, side: "server" });
    const reader = new BufferedReader(link);
    const line = await reader.readLine();
    await writeText(link, formatStatusLine(Status.OK, `got ${line}`));
    await reader.readLine(); // until the client closes
    return line;
  })();
  const client = (async () => {
    using link = await dial(`127.0.0.1:${wire.port}`, { secret, timeoutMs: 5_000 });
    await writeText(link, `PING ${SECRET}\n`); // even the secret as data travels sealed
    return await new BufferedReader(link).readLine();
  })();
  const [served, answered] = await within("the exchange", Promise.allSettled([server, client]));
  // First what crossed the wire, whatever became of the exchange.
  const { fromClient, fromServer } = await within("the relay", wire.wire());
  assert.match(new TextDecoder().decode(fromClient), /^AUTH [0-9a-f]{32}\nAUTH [0-9a-f]{64}\n/);
  assert.match(new TextDecoder().decode(fromServer), /^334 [0-9a-f]{32}\n235 [0-9a-f]{64}\n/);
  for (const form of secretForms(SECRET)) {
    assert.ok(!containsBytes(fromClient, encoder.encode(form)), `the client sent ${form}`);
    assert.ok(!containsBytes(fromServer, encoder.encode(form)), `the server sent ${form}`);
  }
  assert.ok(!containsBytes(fromClient, encoder.encode("PING")), "the data after the handshake is sealed");
  assert.deepEqual(served, { status: "fulfilled", value: `PING ${SECRET}` });
  assert.deepEqual(answered, { status: "fulfilled", value: `200 got PING ${SECRET}` });
});

Deno.test("secret: bytes between peers are sealed records; a flipped bit is caught", async () => {
  const secret = await Secret.from(SECRET);
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const plain = encoder.encode("the file's bytes, in the clear ".repeat(100));
  const accepted = listener.accept();
  using client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using serverConn = await accepted;
  const [clientSide, serverSide] = await Promise.all([
    authenticateToServer(client, secret),
    authenticateClient(serverConn, secret),
  ]);
  const sender = await SecureLink.over(client, { shook: clientSide, secret, side: "client" });
  await sender.write(plain);
  // What the wire carries: a 4-byte length, then ciphertext with its 16-byte tag; no plain text.
  const raw = new Uint8Array(4 + plain.length + 16);
  let filled = 0;
  while (filled < raw.length) filled += (await within("the record", serverSide.reader.read(raw.subarray(filled))))!;
  assert.equal(new DataView(raw.buffer).getUint32(0), plain.length + 16);
  assert.ok(!new TextDecoder().decode(raw).includes("in the clear"));
  // The untouched record, read by the server's side, gives the plain bytes back.
  const intact = await SecureLink.over(serverConn, {
    shook: { ...serverSide, reader: new BufferedReader(bytesSource(raw.slice())) },
    secret,
    side: "server",
  });
  const back = new Uint8Array(plain.length);
  for (let at = 0; at < back.length;) at += (await intact.read(back.subarray(at)))!;
  assert.deepEqual(back, plain);
  // The same record with one bit flipped fails its authentication.
  raw[10] ^= 1;
  const receiver = await SecureLink.over(serverConn, {
    shook: { ...serverSide, reader: new BufferedReader(bytesSource(raw)) },
    secret,
    side: "server",
  });
  await assert.rejects(() => receiver.read(new Uint8Array(100)), /failed its authentication/);
});

/** A byte source that gives `bytes`, then the end. */
function bytesSource(bytes: Uint8Array) {
  let at = 0;
  return {
    read(buffer: Uint8Array): Promise<number | null> {
      if (at >= bytes.length) return Promise.resolve(null);
      const n = Math.min(buffer.length, bytes.length - at);
      buffer.set(bytes.subarray(at, at + n));
      at += n;
      return Promise.resolve(n);
    },
  };
}

Deno.test("secret: a client that stalls in the handshake is closed; a full server's 421 is shown as it is", async () => {
  const secret = await Secret.from(SECRET);
  const clock = new ManualClock();
  await using server = new TcpServer(async () => {}, {
    hostname: "127.0.0.1",
    port: 0,
    secret,
    handshakeTimeoutMs: 200,
    maxConnections: 1,
    clock,
  });
  using staller = await LineClient.connect(server.addr.port);
  await staller.send(`AUTH ${"0".repeat(32)}\n`);
  assert.match((await within("the challenge", staller.reader.readLine()))!, /^334 [0-9a-f]{32}$/);
  // The slot is taken: a second client is told so, not that the server has no secret.
  await assert.rejects(
    () => dial(`127.0.0.1:${server.addr.port}`, { timeoutMs: 5_000, secret }),
    (error) => {
      assert.ok(error instanceof AuthError, String(error));
      assert.match(error.message, /did not take the handshake: 421 too many connections/);
      return true;
    },
  );
  // It never answers: the server closes it once the handshake time has passed.
  assert.equal(clock.pending, 1);
  await clock.advance(199);
  assert.equal(clock.pending, 1, "not before its time");
  await clock.advance(1);
  assert.equal(await within("the close", staller.reader.readLine()), null);
});
