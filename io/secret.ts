/**
 * Access control with a shared secret (`--secret`): a challenge-response in
 * which both sides prove they know the secret without sending it, then
 * every byte encrypted and authenticated with AES-GCM under keys derived
 * (HKDF) from the secret and both sides' nonces. Web Crypto only; the
 * handshake's lines are `protocol.ts`'s:
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
 * After it, each record is a 4-byte big-endian length, then that many bytes
 * of AES-GCM ciphertext (tag included) of at most `Limits.RECORD_BYTES` of
 * plain bytes; the nonce is a per-direction counter.
 *
 * @module
 */

import {
  bytesToHex,
  formatAuth,
  formatStatusLine,
  hexToBytes,
  Limits,
  parseAuth,
  parseAuthReply,
  ProtocolError,
  Status,
} from "../protocol.ts";
import { AuthError } from "./errors.ts";
import { closeQuietly, type Link } from "./link.ts";
import { BufferedReader } from "./reader.ts";
import { writeAll, writeText } from "./streams.ts";

/** PBKDF2 rounds that stretch the secret (about 0.1 s here, once per process). */
export const PBKDF2_ROUNDS = 100_000;
const TAG_BYTES = 16;
const encoder = new TextEncoder();

/** The two nonces of one handshake, 16 random bytes each in hex. */
export interface Nonces {
  /** The client's. */
  client: string;
  /** The server's. */
  server: string;
}

/** Which side of a connection. */
export type Side = "client" | "server";

/** A proof one side claims: the HMAC of its label and both nonces. */
export interface Claim {
  /** Who claims it: the label of the HMAC. */
  side: Side;
  /** The handshake's nonces. */
  nonces: Nonces;
  /** The HMAC, in hex. */
  proof: string;
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
   *
   * @example
   * ```ts
   * const secret = await Secret.from(Deno.env.get("P2P_SECRET")!);
   * ```
   */
  static async from(secret: string): Promise<Secret> {
    if (secret.length === 0) throw new RangeError("the secret is empty");
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

  /**
   * The proof `side` gives in a handshake, in hex: the HMAC of its label,
   * then the other side's nonce, then its own (so that each side signs the
   * other's fresh nonce, and a proof cannot be reflected).
   */
  async proof(side: Side, nonces: Nonces): Promise<string> {
    const mac = await crypto.subtle.sign("HMAC", this.#auth, signed(side, nonces));
    return bytesToHex(new Uint8Array(mac));
  }

  /** True when the claim's proof is right (compared by Web Crypto, in constant time). */
  verify(claim: Claim): Promise<boolean> {
    if (!/^[0-9a-f]{64}$/.test(claim.proof)) return Promise.resolve(false);
    return crypto.subtle.verify("HMAC", this.#auth, hexToBytes(claim.proof), signed(claim.side, claim.nonces));
  }

  /** The AES-GCM key of one direction of one connection: what `from` sends. */
  direction(nonces: Nonces, from: Side): Promise<CryptoKey> {
    return crypto.subtle.deriveKey(
      {
        name: "HKDF",
        hash: "SHA-256",
        salt: encoder.encode(`${nonces.client} ${nonces.server}`),
        info: encoder.encode(`data ${from === "client" ? "to-server" : "to-client"}`),
      },
      this.#base,
      { name: "AES-GCM", length: 256 },
      false,
      ["encrypt", "decrypt"],
    );
  }
}

function signed(side: Side, nonces: Nonces): Uint8Array<ArrayBuffer> {
  const [first, second] = side === "client" ? [nonces.server, nonces.client] : [nonces.client, nonces.server];
  return encoder.encode(`${side} ${first} ${second}`);
}

function nonce(): string {
  return bytesToHex(crypto.getRandomValues(new Uint8Array(16)));
}

/** The handshake's outcome: the nonces, and the reader (it may hold bytes read past the last line). */
export interface Shook {
  /** Both nonces. */
  nonces: Nonces;
  /** The reader the handshake used: bytes read past its last line are there. */
  reader: BufferedReader;
}

/** The client's side of the handshake. Throws {@link AuthError} with a message a person understands. */
export async function authenticateToServer(conn: Deno.Conn, secret: Secret): Promise<Shook> {
  const reader = new BufferedReader(conn);
  const client = nonce();
  await writeText(conn, formatAuth(client));
  const challenge = await reader.readLine(Limits.MAX_HEADER_BYTES);
  if (challenge === null) {
    throw new AuthError(Status.FORBIDDEN, "the server closed the connection during the handshake");
  }
  const asked = authReply(challenge, Status.AUTH_CHALLENGE);
  if ("refusal" in asked) {
    // The refusal is the cause: a caller may tell from it what answered (a peer where a tracker was meant).
    const { status, text } = asked.refusal;
    throw new AuthError(
      Status.FORBIDDEN,
      status === Status.BAD_REQUEST
        ? "the server runs without a secret (it did not take AUTH); drop --secret to talk to it"
        : `the server did not take the handshake: ${challenge.slice(0, 120)}`,
      { cause: new ProtocolError(status, text) },
    );
  }
  const nonces = { client, server: asked.token };
  await writeText(conn, formatAuth(await secret.proof("client", nonces)));
  const welcome = await reader.readLine(Limits.MAX_HEADER_BYTES);
  if (welcome === null) throw new AuthError(Status.FORBIDDEN, "refused by the server: closed");
  const proven = authReply(welcome, Status.AUTH_OK);
  if ("refusal" in proven) {
    throw new AuthError(
      Status.FORBIDDEN,
      proven.refusal.status === Status.WRONG_SECRET
        ? "the server refused our secret (wrong --secret on one side)"
        : `refused by the server: ${welcome.slice(0, 120)}`,
    );
  }
  if (!(await secret.verify({ side: "server", nonces, proof: proven.token }))) {
    throw new AuthError(Status.FORBIDDEN, "the server does not know the secret (wrong --secret on one side)");
  }
  return { nonces, reader };
}

/** A server's handshake reply; a line that is not a reply at all is the server not taking the handshake. */
function authReply(
  line: string,
  expect: typeof Status.AUTH_CHALLENGE | typeof Status.AUTH_OK,
): ReturnType<typeof parseAuthReply> {
  try {
    return parseAuthReply(line, expect);
  } catch (error) {
    throw new AuthError(Status.FORBIDDEN, `the server did not take the handshake: ${line.slice(0, 120)}`, {
      cause: error,
    });
  }
}

/**
 * The server's side of the handshake; on failure it tells the client why
 * and throws. The client proves itself first, so that the server shows a
 * proof only to clients that know the secret.
 */
export async function authenticateClient(conn: Deno.Conn, secret: Secret): Promise<Shook> {
  const reader = new BufferedReader(conn);
  const refuse = async (status: number, message: string): Promise<never> => {
    await writeText(conn, formatStatusLine(status, message)).catch(() => {});
    throw new AuthError(status, message);
  };
  const first = await reader.readLine(Limits.MAX_HEADER_BYTES);
  if (first === null) return refuse(Status.NEEDS_SECRET, "closed before the handshake");
  const client = parseAuth(first, "nonce");
  if (client === undefined) return refuse(Status.NEEDS_SECRET, "this server needs the shared secret (--secret)");
  const nonces = { client, server: nonce() };
  await writeText(conn, formatStatusLine(Status.AUTH_CHALLENGE, nonces.server));
  const answer = await reader.readLine(Limits.MAX_HEADER_BYTES);
  const proof = answer === null ? undefined : parseAuth(answer, "proof");
  if (proof === undefined || !(await secret.verify({ side: "client", nonces, proof }))) {
    return refuse(Status.WRONG_SECRET, "wrong secret");
  }
  await writeText(conn, formatStatusLine(Status.AUTH_OK, await secret.proof("server", nonces)));
  return { nonces, reader };
}

/** Options of {@link SecureLink.over}. */
export interface SecureLinkOptions {
  /** The handshake that was just made on the connection. */
  shook: Shook;
  /** The secret both sides know. */
  secret: Secret;
  /** Which side this is. */
  side: Side;
}

/**
 * A connection whose bytes are encrypted and authenticated both ways. Reads
 * give plain bytes; a record that fails its tag closes the connection with
 * an error (`Deno.errors.InvalidData`).
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

  private constructor(conn: Deno.Conn, keys: { reader: BufferedReader; send: CryptoKey; receive: CryptoKey }) {
    this.#conn = conn;
    this.#reader = keys.reader;
    this.#sendKey = keys.send;
    this.#receiveKey = keys.receive;
  }

  /** Wraps `conn` after a handshake. */
  static async over(conn: Deno.Conn, options: SecureLinkOptions): Promise<SecureLink> {
    const { shook, secret, side } = options;
    const send = await secret.direction(shook.nonces, side);
    const receive = await secret.direction(shook.nonces, side === "client" ? "server" : "client");
    return new SecureLink(conn, { reader: shook.reader, send, receive });
  }

  /** The other side's address. */
  get remoteAddr(): Deno.Addr {
    return this.#conn.remoteAddr;
  }

  /** Reads plain bytes: what is left of the last record, else the next record, decrypted. */
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
    if (length < TAG_BYTES || length > Limits.RECORD_BYTES + TAG_BYTES) throw this.#broken("a record of a bad length");
    const sealed = new Uint8Array(length);
    if (!(await this.#fill(sealed, false))) throw this.#broken("the connection ended inside a record");
    try {
      const plain = await crypto.subtle.decrypt(
        { name: "AES-GCM", iv: counterNonce(this.#received++) },
        this.#receiveKey,
        sealed,
      );
      return new Uint8Array(plain);
    } catch (error) {
      throw this.#broken("a record failed its authentication (tampered, or another key)", error);
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

  #broken(why: string, cause?: unknown): Error {
    closeQuietly(this.#conn);
    return new Deno.errors.InvalidData(why, { cause });
  }

  /** Encrypts `bytes` into records, in order, and writes them; resolves with their plain length. */
  write(bytes: Uint8Array): Promise<number> {
    // Records go out in order, each sealed with the next counter.
    const turn = this.#writes.then(async () => {
      for (let at = 0; at < bytes.length; at += Limits.RECORD_BYTES) {
        const plain = bytes.subarray(at, at + Limits.RECORD_BYTES) as Uint8Array<ArrayBuffer>;
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

  /** Closes the connection underneath. */
  close(): void {
    this.#conn.close();
  }
}

function counterNonce(counter: bigint): Uint8Array<ArrayBuffer> {
  const iv = new Uint8Array(12);
  new DataView(iv.buffer).setBigUint64(4, counter);
  return iv;
}
