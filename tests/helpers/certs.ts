/**
 * Test certificates, made with `openssl` (Debian's, on the PATH) in a
 * temporary folder removed on dispose: a CA and a leaf it signed for
 * `127.0.0.1` and `localhost`; the same leaf's key in a certificate that
 * expired yesterday, and in one for another name only; a second,
 * unrelated CA. The leaves say `CA:FALSE` (rustls refuses a CA certificate
 * used as a server's own).
 *
 * @example
 * ```ts ignore
 * await using certs = await makeCerts();
 * await using tracker = await startTracker({ hostname: "127.0.0.1", port: 0, tls: await certs.server() });
 * ```
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { within } from "./events.ts";
import { loadClientTls, loadServerTls, type TlsClientConfig, type TlsServerConfig } from "../../io/tls.ts";

/** The files {@link makeCerts} made, and the configs read from them. */
export interface TestCerts extends AsyncDisposable {
  /** The folder they are in. */
  dir: string;
  /** The CA's certificate (what `--tls-ca` takes). */
  ca: string;
  /** A CA that signed nothing here (a wrong `--tls-ca`). */
  otherCa: string;
  /** The leaf for `127.0.0.1` and `localhost`, signed by `ca`. */
  cert: string;
  /** The leaf, then `ca`: a chain whose CA a server can also trust (the tracker fetching from HTTPS holders). */
  chain: string;
  /** The leaf's key (every leaf here shares it). */
  key: string;
  /** The leaf's key in a certificate that expired a day ago. */
  expired: string;
  /** The leaf's key in a certificate for `elsewhere.invalid` only. */
  otherName: string;
  /** The server config of `cert` (or of another leaf, given its path) with `key`. */
  server(certFile?: string): Promise<TlsServerConfig>;
  /** The client config that trusts `ca` (or another CA, given its path). */
  client(caFile?: string): Promise<TlsClientConfig>;
}

/** Makes the certificates of {@link TestCerts} in a new temporary folder. */
export async function makeCerts(): Promise<TestCerts> {
  const dir = await Deno.realPath(await Deno.makeTempDir({ prefix: "p2p-certs-" }));
  const at = (name: string) => join(dir, name);
  try {
    for (const name of ["ca", "other-ca"]) {
      await openssl([
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        at(`${name}.key`),
        "-out",
        at(`${name}.crt`),
        "-days",
        "30",
        "-subj",
        `/CN=p2p test ${name}`,
      ]); // deno-fmt-ignore
    }
    await openssl([
      "req",
      "-newkey",
      "ec",
      "-pkeyopt",
      "ec_paramgen_curve:P-256",
      "-nodes",
      "-keyout",
      at("leaf.key"),
      "-out",
      at("leaf.csr"),
      "-subj",
      "/CN=p2p test leaf",
    ]); // deno-fmt-ignore
    const leaves: [string, string, string][] = [
      ["leaf.crt", "IP:127.0.0.1,DNS:localhost", "30"],
      // A negative lifetime: valid from now until a day ago, so already expired (openssl 3.0 has no -not_after).
      ["expired.crt", "IP:127.0.0.1,DNS:localhost", "-1"],
      ["other-name.crt", "DNS:elsewhere.invalid", "30"],
    ];
    for (const [file, names, days] of leaves) {
      const ext = at(`${file}.ext`);
      await Deno.writeTextFile(
        ext,
        `basicConstraints=critical,CA:FALSE\nsubjectAltName=${names}\nkeyUsage=digitalSignature\n` +
          "extendedKeyUsage=serverAuth\n",
      );
      await openssl([
        "x509",
        "-req",
        "-in",
        at("leaf.csr"),
        "-CA",
        at("ca.crt"),
        "-CAkey",
        at("ca.key"),
        "-CAcreateserial",
        "-out",
        at(file),
        "-days",
        days,
        "-extfile",
        ext,
      ]); // deno-fmt-ignore
    }
  } catch (error) {
    await Deno.remove(dir, { recursive: true });
    throw error;
  }
  await Deno.writeTextFile(
    at("chain.crt"),
    (await Deno.readTextFile(at("leaf.crt"))) + (await Deno.readTextFile(at("ca.crt"))),
  );
  const certs: TestCerts = {
    dir,
    ca: at("ca.crt"),
    otherCa: at("other-ca.crt"),
    cert: at("leaf.crt"),
    chain: at("chain.crt"),
    key: at("leaf.key"),
    expired: at("expired.crt"),
    otherName: at("other-name.crt"),
    server: (certFile = certs.cert) => loadServerTls(certFile, certs.key),
    client: (caFile = certs.ca) => loadClientTls(caFile),
    [Symbol.asyncDispose]: () => Deno.remove(dir, { recursive: true }),
  };
  return certs;
}

async function openssl(args: string[]): Promise<void> {
  const { success, stderr } = await new Deno.Command("openssl", { args, stdout: "null", stderr: "piped" }).output();
  if (!success) throw new Error(`openssl ${args[0]} failed: ${new TextDecoder().decode(stderr)}`);
}

/**
 * Runs `openssl s_client` trusting `caFile` against `address`, types
 * `input`, and returns what it printed once the server closed.
 */
export async function sClient(address: string, caFile: string, input: string): Promise<string> {
  const client = new Deno.Command("openssl", {
    args: ["s_client", "-connect", address, "-CAfile", caFile, "-verify_return_error", "-quiet"],
    stdin: "piped",
    stdout: "piped",
    stderr: "piped",
  }).spawn();
  const writer = client.stdin.getWriter();
  await writer.write(new TextEncoder().encode(input));
  await writer.close(); // -quiet ignores the end of input: it runs until the server closes
  const { stdout, stderr, success } = await within("s_client's end", client.output());
  assert.ok(success, new TextDecoder().decode(stderr));
  return new TextDecoder().decode(stdout);
}
