/**
 * Access control with a shared secret (`--secret`): a challenge-response in
 * which both sides prove they know the secret without sending it, then, on
 * connections between peers, every byte encrypted and authenticated with
 * AES-GCM under keys derived (HKDF) from the secret and both sides' nonces.
 * Web Crypto only.
 *
 * The handshake, in lines (nonces are 16 random bytes in hex):
 *
 * ```
 * client: AUTH <client-nonce>
 * server: 334 <server-nonce>
 * client: AUTH <HMAC(auth-key, "client" server-nonce client-nonce)>
 * server: 235 <HMAC(auth-key, "server" client-nonce server-nonce)>   (or 535 wrong secret, and a close)
 * ```
 *
 * A server with a secret answers any other first line with
 * `530 this server needs the shared secret (--secret)` and closes.
 *
 * After it, on peer connections, each record is a 4-byte big-endian length,
 * then that many bytes of AES-GCM ciphertext (tag included) of at most
 * {@link RECORD_BYTES} of plain bytes; the nonce is a per-direction counter.
 *
 * @module
 */

import { BufferedReader } from "./reader.ts";
import { bytesToHex, hexToBytes } from "../disk/chunks.ts";
import { closeQuietly, writeAll, writeText } from "./streams.ts";
import { ProtocolError, Status } from "../protocol.ts";

/** Most plain bytes in one encrypted record: small enough that a slow link still shows progress often. */
export const RECORD_BYTES = 64 * 1024;
/** PBKDF2 rounds that stretch the secret (about 0.1 s here, once per process). */
export const PBKDF2_ROUNDS = 100_000;
const TAG_BYTES = 16;
const encoder = new TextEncoder();

/** What a connection is to the code above it: bytes in, bytes out, closed. */
export interface Link {
  read(buffer: Uint8Array): Promise<number | null>;
  write(bytes: Uint8Array): Promise<number>;
  close(): void;
  readonly remoteAddr: Deno.Addr;
}

/** The secret, as keys. Never printed. */
export class Secret {
  #auth: CryptoKey;
  #base: CryptoKey;

  private constructor(auth: CryptoKey, base: CryptoKey) {
    this.#auth = auth;
    this.#base = base;
  }

  /**
   * Derives the keys from `secret` (any non-empty text). The secret is first
   * stretched with PBKDF2 ({@link PBKDF2_ROUNDS} rounds), so that each guess
   * at a weak secret from a recorded handshake costs that much; a random
   * secret of 32 bytes or more needs no such help.
   */
  static async from(secret: string): Promise<Secret> {
    if (secret.length === 0) throw new Error("the secret is empty");
    const password = await crypto.subtle.importKey("raw", encoder.encode(secret), "PBKDF2", false, ["deriveBits"]);
    const stretched = await crypto.subtle.deriveBits(
      { name: "PBKDF2", hash: "SHA-256", salt: encoder.encode("p2p v1 secret"), iterations: PBKDF2_ROUNDS },
      password,
      256,
    );
    const base = await crypto.subtle.importKey("raw", stretched, "HKDF", false, ["deriveKey", "deriveBits"]);
    const auth = await crypto.subtle.deriveKey(
      { name: "HKDF", hash: "SHA-256", salt: encoder.encode("p2p v1"), info: encoder.encode("auth") },
      base,
      { name: "HMAC", hash: "SHA-256", length: 256 },
      false,
      ["sign", "verify"],
    );
    return new Secret(auth, base);
  }

  /** `HMAC(auth-key, label a b)` in hex. */
  async proof(label: string, a: string, b: string): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", this.#auth, encoder.encode(`${label} ${a} ${b}`));
    return bytesToHex(new Uint8Array(mac));
  }

  /** True when `proof` is `HMAC(auth-key, label a b)` (compared by Web Crypto, in constant time). */
  verify(label: string, a: string, b: string, proof: string): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(proof)) return Promise.resolve(false);
    return crypto.subtle.verify("HMAC", this.#auth, hexToBytes(proof), encoder.encode(`${label} ${a} ${b}`));
  }

  /** The AES-GCM key of one direction of one connection. */
  direction(clientNonce: string, serverNonce: string, which: "to-server" | "to-client"): Promise<CryptoKey> {
    return crypto.subtle.deriveKey(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: encoder.encode(`${clientNonce} ${serverNonce}`),
        info: encoder.encode(`data ${which}`),
      },
      this.#base,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }
}

function nonce(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** The handshake's outcome: the nonces, and the reader (it may hold bytes read past the last line). */
export interface Shook {
  clientNonce: string;
  serverNonce: string;
  reader: BufferedReader;
}

/** A failed handshake; `status` is what the other side was or should be told. */
export class AuthError extends ProtocolError {}

/** The client's side of the handshake. Throws {@link AuthError} with a message a person understands. */
export async function authenticateToServer(conn: Deno.Conn, secret: Secret): Promise<Shook> {
  const reader = new BufferedReader(conn);
  const clientNonce = nonce();
  await writeText(conn, `AUTH ${clientNonce}\n`);
  const challenge = await reader.readLine(4096);
  if (challenge === null) {
    throw new AuthError(Status.FORBIDDEN, "the server closed the connection during the handshake");
  }
  const m = /^334 ([0-9a-f]{32})$/.exec(challenge);
  if (!m) {
    throw new AuthError(
      Status.FORBIDDEN,
      /^400 unknown command "AUTH"/.test(challenge)
        ? "the server runs without a secret (it did not take AUTH); drop --secret to talk to it"
        : `the server did not take the handshake: ${challenge.slice(0, 120)}`,
    );
  }
  const serverNonce = m[1];
  await writeText(conn, `AUTH ${await secret.proof("client", serverNonce, clientNonce)}\n`);
  const welcome = await reader.readLine(4096);
  const proof = /^235 ([0-9a-f]{64})$/.exec(welcome ?? "")?.[1];
  if (proof === undefined) {
    throw new AuthError(
      Status.FORBIDDEN,
      welcome?.startsWith("535 ")
        ? "the server refused our secret (wrong --secret on one side)"
        : `refused by the server: ${welcome?.slice(0, 120) ?? "closed"}`,
    );
  }
  if (!(await secret.verify("server", clientNonce, serverNonce, proof))) {
    throw new AuthError(Status.FORBIDDEN, "the server does not know the secret (wrong --secret on one side)");
  }
  return { clientNonce, serverNonce, reader };
}

/**
 * The server's side of the handshake; on failure it tells the client why
 * and throws. The client proves itself first, so that the server shows a
 * proof only to clients that know the secret.
 */
export async function authenticateClient(conn: Deno.Conn, secret: Secret): Promise<Shook> {
  const reader = new BufferedReader(conn);
  const refuse = async (status: number, message: string): Promise<never> => {
    await writeText(conn, `${status} ${message}\n`).catch(() => {});
    throw new AuthError(status, message);
  };
  const first = await reader.readLine(4096);
  if (first === null) return refuse(530, "closed before the handshake");
  const hello = /^AUTH ([0-9a-f]{32})$/.exec(first);
  if (!hello) return refuse(530, "this server needs the shared secret (--secret)");
  const clientNonce = hello[1];
  const serverNonce = nonce();
  await writeText(conn, `334 ${serverNonce}\n`);
  const answer = await reader.readLine(4096);
  const proof = /^AUTH ([0-9a-f]{64})$/.exec(answer ?? "")?.[1] ?? "";
  if (!(await secret.verify("client", serverNonce, clientNonce, proof))) return refuse(535, "wrong secret");
  await writeText(conn, `235 ${await secret.proof("server", clientNonce, serverNonce)}\n`);
  return { clientNonce, serverNonce, reader };
}

/**
 * A connection whose bytes are encrypted and authenticated both ways. Reads
 * give plain bytes; a record that fails its tag closes the connection with
 * an error.
 */
export class SecureLink implements Link {
  #conn: Deno.Conn;
  #reader: BufferedReader;
  #sendKey: CryptoKey;
  #receiveKey: CryptoKey;
  #sent = 0n;
  #received = 0n;
  #plain: Uint8Array = new Uint8Array(0);
  #writes: Promise<unknown> = Promise.resolve();

  private constructor(conn: Deno.Conn, reader: BufferedReader, sendKey: CryptoKey, receiveKey: CryptoKey) {
    this.#conn = conn;
    this.#reader = reader;
    this.#sendKey = sendKey;
    this.#receiveKey = receiveKey;
  }

  /** Wraps `conn` after a handshake, as the `side` that it is. */
  static async over(conn: Deno.Conn, shook: Shook, secret: Secret, side: "client" | "server"): Promise<SecureLink> {
    const toServer = await secret.direction(shook.clientNonce, shook.serverNonce, "to-server");
    const toClient = await secret.direction(shook.clientNonce, shook.serverNonce, "to-client");
    return side === "client"
      ? new SecureLink(conn, shook.reader, toServer, toClient)
      : new SecureLink(conn, shook.reader, toClient, toServer);
  }

  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    if (this.#plain.length === 0) {
      const record = await this.#nextRecord();
      if (record === null) return null;
      this.#plain = record;
    }
    const n = Math.min(buffer.length, this.#plain.length);
    buffer.set(this.#plain.subarray(0, n));
    this.#plain = this.#plain.subarray(n);
    return n;
  }

  async #nextRecord(): Promise<Uint8Array | null> {
    const head = new Uint8Array(4);
    if (!(await this.#fill(head, true))) return null;
    const length = new DataView(head.buffer).getUint32(0);
    if (length < TAG_BYTES || length > RECORD_BYTES + TAG_BYTES) throw this.#broken("a record of a bad length");
    const sealed = new Uint8Array(length);
    if (!(await this.#fill(sealed, false))) throw this.#broken("the connection ended inside a record");
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: counterNonce(this.#received++) },
        this.#receiveKey,
        sealed,
      );
      return new Uint8Array(plain);
    } catch {
      throw this.#broken("a record failed its authentication (tampered, or another key)");
    }
  }

  /** Fills `buffer`; false if the stream ends before the first byte (and `atStart`). */
  async #fill(buffer: Uint8Array, atStart: boolean): Promise<boolean> {
    let filled = 0;
    while (filled < buffer.length) {
      const n = await this.#reader.read(buffer.subarray(filled));
      if (n === null) {
        if (filled === 0 && atStart) return false;
        throw this.#broken("the connection ended inside a record");
      }
      filled += n;
    }
    return true;
  }

  #broken(why: string): Error {
    closeQuietly(this.#conn);
    return new Deno.errors.InvalidData(why);
  }

  write(bytes: Uint8Array): Promise<number> {
    // Records go out in order, each sealed with the next counter.
    const turn = this.#writes.then(async () => {
      for (let at = 0; at < bytes.length; at += RECORD_BYTES) {
        const plain = bytes.subarray(at, at + RECORD_BYTES) as Uint8Array<ArrayBuffer>;
        const sealed = new Uint8Array(
          await crypto.subtle.encrypt({ name: "AES-GCM", iv: counterNonce(this.#sent++) }, this.#sendKey, plain),
        );
        const record = new Uint8Array(4 + sealed.length);
        new DataView(record.buffer).setUint32(0, sealed.length);
        record.set(sealed, 4);
        await writeAll(this.#conn, record);
      }
      return bytes.length;
    });
    this.#writes = turn.catch(() => {});
    return turn;
  }

  close(): void {
    this.#conn.close();
  }
}

function counterNonce(counter: bigint): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setBigUint64(4, counter);
  return iv;
}

/** Options of {@link dialPeer}. */
export interface DialOptions {
  /** Connecting and the handshake together may take at most this long. */
  timeoutMs: number;
  signal?: AbortSignal;
  /** With a secret: the handshake, then every byte encrypted. */
  secret?: Secret;
}

/** Connects to a peer at `host:port`; with a secret, proves it and encrypts. */
export async function dialPeer(host: string, port: number, options: DialOptions): Promise<Link> {
  const timeout = AbortSignal.timeout(options.timeoutMs);
  const signal = options.signal ? AbortSignal.any([timeout, options.signal]) : timeout;
  const conn = await Deno.connect({ hostname: host, port, signal });
  if (!options.secret) return conn;
  const stop = () => closeQuietly(conn);
  signal.addEventListener("abort", stop, { once: true });
  try {
    const shook = await authenticateToServer(conn, options.secret);
    return await SecureLink.over(conn, shook, options.secret, "client");
  } catch (error) {
    closeQuietly(conn);
    throw error;
  } finally {
    signal.removeEventListener("abort", stop);
  }
}
