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
 * @module
 */

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
