/**
 * TLS from the runtime (`--tls-cert`, `--tls-key`, `--tls-ca`): what a
 * server needs to listen with TLS, what a client needs to connect with it,
 * both read from PEM files once, at start.
 *
 * A network is all TLS or all plain: the tracker and every peer listen with
 * TLS, and every client (peer, `get`, `cat`) connects with it, trusting one
 * CA. Membership is still `--secret`'s to decide; over TLS the bytes are
 * already protected, so its own record layer is not used.
 *
 * A network that is half TLS fails at once, both ways, with words that
 * say so: a plain client recognises the TLS alert a TLS server answers its
 * first line with ({@link isTlsAlert}); a plain server recognises a TLS
 * ClientHello in the first bytes of a connection ({@link isTlsClientHello})
 * and answers in plain, which the TLS client's handshake then fails on
 * ({@link handshakeError} names it).
 *
 * @module
 */

import { TlsError } from "./errors.ts";

/** What a server needs to speak TLS: its certificate chain and private key, PEM, and where they came from. */
export interface TlsServerConfig {
  /** The certificate chain, PEM (the server's own first). */
  cert: string;
  /** The private key, PEM. */
  key: string;
  /** The file `cert` was read from, for messages. */
  certFile: string;
  /** The file `key` was read from, for messages. */
  keyFile: string;
}

/** What a client needs to speak TLS: the CA certificates it trusts, PEM, and where they came from. */
export interface TlsClientConfig {
  /** The trusted CA certificates, PEM (one string may hold several). */
  caCerts: string[];
  /** The file they were read from, for messages. */
  caFile: string;
}

const PEM_CERT = "-----BEGIN CERTIFICATE-----";
const PEM_KEY = /-----BEGIN (?:RSA |EC |ENCRYPTED )?PRIVATE KEY-----/;

/**
 * Reads a server's certificate and key. Throws a `TypeError` that names the
 * file and the flag when one cannot be read or is not PEM of the right kind.
 *
 * @example
 * ```ts ignore
 * const tls = await loadServerTls("tracker.crt", "tracker.key");
 * ```
 */
export async function loadServerTls(certFile: string, keyFile: string): Promise<TlsServerConfig> {
  const cert = await readPem(certFile, "--tls-cert");
  if (!cert.includes(PEM_CERT)) {
    throw new TypeError(`--tls-cert ${certFile} holds no PEM certificate ("${PEM_CERT}"); give the certificate file`);
  }
  const key = await readPem(keyFile, "--tls-key");
  if (!PEM_KEY.test(key)) {
    throw new TypeError(`--tls-key ${keyFile} holds no PEM private key ("-----BEGIN PRIVATE KEY-----"); give the key`);
  }
  if (key.includes("ENCRYPTED PRIVATE KEY")) {
    throw new TypeError(
      `--tls-key ${keyFile} is encrypted with a passphrase; write it out unencrypted (openssl pkey -in ${keyFile})`,
    );
  }
  return { cert, key, certFile, keyFile };
}

/**
 * Reads the CA certificates a client trusts. Throws a `TypeError` that
 * names the file when it cannot be read or holds no PEM certificate.
 *
 * @example
 * ```ts ignore
 * const tls = await loadClientTls("ca.crt");
 * ```
 */
export async function loadClientTls(caFile: string): Promise<TlsClientConfig> {
  const ca = await readPem(caFile, "--tls-ca");
  if (!ca.includes(PEM_CERT)) {
    throw new TypeError(`--tls-ca ${caFile} holds no PEM certificate ("${PEM_CERT}"); give the CA's certificate`);
  }
  return { caCerts: [ca], caFile };
}

async function readPem(path: string, flag: string): Promise<string> {
  try {
    return await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) throw new TypeError(`${flag} ${path}: no such file`, { cause: error });
    if (error instanceof Deno.errors.NotCapable || error instanceof Deno.errors.PermissionDenied) {
      throw new TypeError(`${flag} ${path}: cannot read it (${error.message})`, { cause: error });
    }
    if (error instanceof Deno.errors.IsADirectory) {
      throw new TypeError(`${flag} ${path} is a folder; give a PEM file`, { cause: error });
    }
    throw error;
  }
}

/** Who is at an address, for messages: `the tracker at 127.0.0.1:4444`. */
export type Party = "tracker" | "peer";

/** The first byte of a TLS record of each kind, and the major version that follows it. */
const RECORD_ALERT = 0x15;
const RECORD_HANDSHAKE = 0x16;
const TLS_MAJOR = 0x03;

/**
 * True when a connection's first bytes are a TLS record of `kind` (its
 * content type, then major version 3). No line of this protocol starts
 * with either control byte, so one byte already tells.
 */
function isRecord(bytes: Uint8Array, kind: number): boolean {
  return bytes.length > 0 && bytes[0] === kind && (bytes.length === 1 || bytes[1] === TLS_MAJOR);
}

/** True when the first bytes a client sent are a TLS ClientHello (a TLS client at a plain server). */
export function isTlsClientHello(bytes: Uint8Array): boolean {
  return isRecord(bytes, RECORD_HANDSHAKE);
}

/** True when the first bytes a server answered are a TLS alert (a TLS server answering a plain client). */
export function isTlsAlert(bytes: Uint8Array): boolean {
  return isRecord(bytes, RECORD_ALERT);
}

/**
 * Shows `inspect` what the first read of `conn` returns; later reads go
 * straight to the connection, at no cost. `inspect` may throw (the read
 * throws it) or return false (the read reports the end of the stream).
 */
export function inspectFirstRead(
  conn: Deno.Conn,
  inspect: (bytes: Uint8Array) => boolean | Promise<boolean>,
): void {
  const own = conn as { read: Deno.Conn["read"] };
  own.read = async (buffer: Uint8Array) => {
    delete (own as Partial<typeof own>).read; // from now on the class's own read
    const n = await conn.read(buffer);
    if (n === null || n === 0) return n;
    return (await inspect(buffer.subarray(0, n))) ? n : null;
  };
}

/**
 * What a plain client says when the server answered its first line with a
 * TLS alert: `the tracker at 127.0.0.1:4444 speaks TLS; connect with
 * --tls-ca FILE (the CA that signed its certificate)`.
 */
export function speaksTlsError(address: string, party: Party): TlsError {
  return new TlsError(
    address,
    `the ${party} at ${address} speaks TLS; connect with --tls-ca FILE (the CA that signed its certificate)`,
  );
}

/**
 * What a failed TLS handshake from our side means, as a {@link TlsError}
 * naming the address and what to do (the runtime's error is its `cause`):
 * a server that answered in plain, a certificate another CA signed, one
 * expired, one not for the address dialled. Other errors (a reset, an
 * end of stream, a timeout) are returned as they are.
 */
export function handshakeError(address: string, error: unknown, options: HandshakeErrorOptions): unknown {
  const { party, tls } = options;
  if (!(error instanceof Error)) return error;
  const message = error.message;
  const at = `the ${party} at ${address}`;
  const host = address.slice(0, address.lastIndexOf(":")).replace(/^\[|\]$/g, "");
  let what: string | undefined;
  if (/InvalidContentType|corrupt message|InvalidMessage|wrong version/i.test(message)) {
    what = `${at} does not speak TLS (it answered in plain); drop --tls-ca, or start it with --tls-cert and ` +
      "--tls-key (a network is all TLS or all plain)";
  } else if (/UnknownIssuer|BadSignature|UnknownCA/i.test(message)) {
    what = `${at} has a certificate that the CA in ${tls.caFile} did not sign; give --tls-ca the CA that signed it ` +
      "(or give it a certificate signed by that CA)";
  } else if (/Expired/i.test(message)) {
    what = `the certificate of ${at} has expired; give it a new one signed by the CA (or check this machine's clock)`;
  } else if (/NotValidYet/i.test(message)) {
    what = `the certificate of ${at} is not valid yet; check the clocks of both machines`;
  } else if (/not valid for name|NotValidForName/i.test(message)) {
    what = `the certificate of ${at} is not for ${host}; give it one that names it (subjectAltName IP:${host} or ` +
      `DNS:${host})`;
  } else if (/certificate|alert/i.test(message)) {
    what = `TLS with ${at} failed: ${message}; check its certificate and --tls-ca`;
  }
  // Anything else (a reset, an end of stream) may be the server stopping: as retryable as it is over plain TCP.
  return what === undefined ? error : new TlsError(address, what, { cause: error });
}

/** Options of {@link handshakeError}. */
export interface HandshakeErrorOptions {
  /** Who was dialled. */
  party: Party;
  /** The CA we trust (for its file's name). */
  tls: TlsClientConfig;
}

/**
 * Why a client's TLS handshake with this server failed, for the server's
 * log: `the client at 127.0.0.1:51234 spoke plain TCP to this TLS server
 * (it needs --tls-ca)`, or that it does not trust our certificate.
 */
export function clientHandshakeError(remote: string, error: unknown, options: { tls: TlsServerConfig }): TlsError {
  const { tls } = options;
  const message = error instanceof Error ? error.message : String(error);
  const at = `the client at ${remote}`;
  const what = /InvalidContentType|corrupt message|InvalidMessage/i.test(message)
    ? `${at} spoke plain TCP to this TLS server; it needs --tls-ca (a network is all TLS or all plain)`
    : /UnknownCA|BadCertificate|CertificateExpired|CertificateUnknown|DecryptError/i.test(message)
    ? `${at} refused this server's certificate ${tls.certFile} (${message}); it trusts another CA, or the ` +
      "certificate has expired or does not name the address it dialled"
    : `TLS handshake with ${at} failed: ${message}`;
  return new TlsError(remote, what, { cause: error });
}
