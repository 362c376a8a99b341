/**
 * `--secret`: only parties that know it get in (challenge-response, no
 * secret on the wire), and bytes between peers are encrypted and
 * authenticated. Real loopback sockets.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer } from "../peer.ts";
import { formatAddress } from "../protocol.ts";
import { startTracker } from "../tracker.ts";
import { LineClient, randomBytes, tempDir, writeFiles } from "./helpers.ts";
import { closeQuietly } from "../io/link.ts";
import { authenticateClient, authenticateToServer, Secret, SecureLink } from "../io/secret.ts";
import { writeAll } from "../io/streams.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

const MiB = 1024 * 1024;
const SECRET = "correct horse battery staple";

async function secretPeer(tracker: string, dir: string, secret: Secret) {
  const peer = await Peer.start({ tracker, hostname: "127.0.0.1", port: 0, dir, secret });
  return Object.assign(peer, { address: formatAddress(peer.addr.hostname, peer.addr.port) });
}

Deno.test("secret: peers that share the secret find and fetch files, from two holders at once, encrypted", async () => {
  const secret = await Secret.from(SECRET);
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, secret });
  const address = `127.0.0.1:${tracker.addr.port}`;
  await using one = await tempDir();
  await using two = await tempDir();
  await using three = await tempDir();
  const data = randomBytes(3 * MiB + 17, 101);
  await writeFiles(one.path, { "s.bin": data });
  await writeFiles(two.path, { "s.bin": data });
  await using a = await secretPeer(address, one.path, secret);
  await using b = await secretPeer(address, two.path, secret);
  await using c = await secretPeer(address, three.path, secret);
  const report = await c.send("s.bin");
  const [outcome] = report.outcomes;
  assert.ok(outcome.ok, JSON.stringify(outcome));
  assert.deepEqual(
    outcome.result.sources.filter((s) => s.bytes > 0).map((s) => s.holder).sort(),
    [
      a.address,
      b.address,
    ].sort(),
  );
  assert.deepEqual(await Deno.readFile(join(three.path, "s.bin")), data);
});

Deno.test("secret: a wrong secret is refused clearly, by the tracker and by a peer", async () => {
  const secret = await Secret.from(SECRET);
  const wrong = await Secret.from("not the secret");
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, secret });
  const address = `127.0.0.1:${tracker.addr.port}`;
  await assert.rejects(
    () => TrackerClient.connect(address, { timeoutMs: 5_000, secret: wrong }),
    /refused us: the server refused our secret \(wrong --secret on one side\)/,
  );
  // Without a secret the connection opens; its first request is refused, and it is closed.
  await using plain = await TrackerClient.connect(address, { timeoutMs: 5_000 });
  await assert.rejects(() => plain.send(["x"]), /needs the shared secret \(--secret\)/);
  assert.equal(await plain.closed, "the tracker closed the connection");
  // A peer with the wrong secret does not start, and says why.
  await using dir = await tempDir();
  await assert.rejects(() => secretPeer(address, dir.path, wrong), /refused us/);
  // And a peer with a secret facing a tracker without one is told so.
  await using open = startTracker({ hostname: "127.0.0.1", port: 0 });
  await assert.rejects(
    () => TrackerClient.connect(`127.0.0.1:${open.addr.port}`, { timeoutMs: 5_000, secret: secret }),
    /runs without a secret/,
  );
});

Deno.test("secret: a holder with a secret answers a plain GET with 530 and a close", async () => {
  const secret = await Secret.from(SECRET);
  await using tracker = startTracker({ hostname: "127.0.0.1", port: 0, secret });
  await using dir = await tempDir();
  await writeFiles(dir.path, { "f.txt": "private" });
  await using peer = await secretPeer(`127.0.0.1:${tracker.addr.port}`, dir.path, secret);
  using raw = await LineClient.connect(peer.addr.port);
  await raw.send("GET f.txt\n");
  assert.equal(await raw.reader.readLine(), "530 this server needs the shared secret (--secret)");
  assert.equal(await raw.reader.readLine(), null);
});

Deno.test("secret: the handshake never sends the secret, and a wrong proof gets 535", async () => {
  const secret = await Secret.from(SECRET);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
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
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  await writeAll(conn, new TextEncoder().encode(`AUTH ${"0".repeat(32)}\n`));
  const wire: string[] = [];
  const reader = new (await import("../io/reader.ts")).BufferedReader(conn);
  wire.push((await reader.readLine())!);
  await writeAll(conn, new TextEncoder().encode(`AUTH ${"1".repeat(64)}\n`));
  wire.push((await reader.readLine())!);
  closeQuietly(conn);
  assert.match(wire[0], /^334 [0-9a-f]{32}$/, "no proof before the client's");
  assert.equal(wire[1], "535 wrong secret");
  assert.ok(!wire.join("\n").includes(SECRET));
  assert.match(await server, /wrong secret/);
  listener.close();
});

Deno.test("secret: bytes between peers are sealed records; a flipped bit is caught", async () => {
  const secret = await Secret.from(SECRET);
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const plain = new TextEncoder().encode("the file's bytes, in the clear ".repeat(100));
  const accepted = listener.accept();
  const client = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  const serverConn = await accepted;
  const [clientSide, serverSide] = await Promise.all([
    authenticateToServer(client, secret),
    authenticateClient(serverConn, secret),
  ]);
  const sender = await SecureLink.over(client, { shook: clientSide, secret, side: "client" });
  await sender.write(plain);
  // What the wire carries: a 4-byte length, then ciphertext with its 16-byte tag; no plain text.
  const raw = new Uint8Array(4 + plain.length + 16);
  let filled = 0;
  while (filled < raw.length) filled += (await serverSide.reader.read(raw.subarray(filled)))!;
  assert.equal(new DataView(raw.buffer).getUint32(0), plain.length + 16);
  assert.ok(!new TextDecoder().decode(raw).includes("in the clear"));
  // The same record with one bit flipped, read by the server's side, fails its authentication.
  raw[10] ^= 1;
  const tampered = {
    read: (() => {
      let at = 0;
      return (b: Uint8Array) => {
        if (at >= raw.length) return Promise.resolve(null);
        const n = Math.min(b.length, raw.length - at);
        b.set(raw.subarray(at, at + n));
        at += n;
        return Promise.resolve(n);
      };
    })(),
  };
  const receiver = await SecureLink.over(serverConn, {
    shook: { ...serverSide, reader: new (await import("../io/reader.ts")).BufferedReader(tampered) },
    secret,
    side: "server",
  });
  await assert.rejects(() => receiver.read(new Uint8Array(100)), /failed its authentication/);
  closeQuietly(client);
  closeQuietly(serverConn);
  listener.close();
});

Deno.test("secret: a client that stalls in the handshake is closed; a full server's 421 is shown as it is", async () => {
  const secret = await Secret.from(SECRET);
  await using tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    secret,
    handshakeTimeoutMs: 200,
    maxConnections: 1,
  });
  using staller = await LineClient.connect(tracker.addr.port);
  await staller.send(`AUTH ${"0".repeat(32)}\n`);
  assert.match((await staller.reader.readLine())!, /^334 [0-9a-f]{32}$/);
  // The slot is taken: a second client is told so, not that the server has no secret.
  await assert.rejects(
    () => TrackerClient.connect(`127.0.0.1:${tracker.addr.port}`, { timeoutMs: 5_000, secret: secret }),
    /did not take the handshake: 421 too many connections/,
  );
  // It never answers: the server closes it after the handshake time.
  assert.equal(await staller.reader.readLine(), null);
});
