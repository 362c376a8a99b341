/**
 * The TLS flags as a user types them (`main.ts` processes): a PEM file
 * that is missing, or of the wrong kind, or a certificate and key that do
 * not belong together, stop the role at start with a line naming the flag
 * and the file; a peer with half the flags is a usage error; the files are
 * read before the tracker gives up reading.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { re } from "../helpers/assert.ts";
import { makeCerts } from "../helpers/certs.ts";
import { runCli, startCliTracker } from "../helpers/cli.ts";

Deno.test("tls flags: a missing certificate file stops the tracker at start, naming the flag and the file", async () => {
  await using certs = await makeCerts();
  const missing = join(certs.dir, "missing.crt");
  const run = await runCli(["tracker", "--port", "0", "--tls-cert", missing, "--tls-key", certs.key]);
  assert.equal(run.code, 1, run.stdoutText + run.stderrText);
  assert.match(run.stderrText, new RegExp(`^tracker: --tls-cert ${re(missing)}: no such file$`, "m"));
  assert.doesNotMatch(run.stdoutText, /listening on/);
});

Deno.test("tls flags: a certificate given as the key is refused, saying the key file holds no private key", async () => {
  await using certs = await makeCerts();
  const run = await runCli(["tracker", "--port", "0", "--tls-cert", certs.cert, "--tls-key", certs.cert]);
  assert.equal(run.code, 1, run.stderrText);
  assert.match(run.stderrText, new RegExp(`^tracker: --tls-key ${re(certs.cert)} holds no PEM private key`, "m"));
});

Deno.test("tls flags: a key that is not the certificate's stops the start, naming both files", async () => {
  await using certs = await makeCerts();
  const otherKey = certs.otherCa.replace(/\.crt$/, ".key");
  const run = await runCli([
    "tracker",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--tls-cert",
    certs.cert,
    "--tls-key",
    otherKey,
  ]); // deno-fmt-ignore
  assert.equal(run.code, 1, run.stderrText);
  assert.match(
    run.stderrText,
    new RegExp(
      `^tracker: cannot listen on 127\\.0\\.0\\.1:0: the TLS certificate ${re(certs.cert)} or its key ` +
        `${re(otherKey)} cannot be used`,
      "m",
    ),
  );
});

Deno.test("tls flags: a --tls-ca file holding no certificate stops get at start", async () => {
  await using certs = await makeCerts();
  const run = await runCli(["get", "--tls-ca", certs.key, "x.txt"]);
  assert.equal(run.code, 1, run.stderrText);
  assert.match(run.stderrText, new RegExp(`^get: --tls-ca ${re(certs.key)} holds no PEM certificate`, "m"));
});

Deno.test("tls flags: a peer with a certificate but no --tls-ca is a usage error (a network is all TLS or all plain)", async () => {
  await using certs = await makeCerts();
  const run = await runCli(["peer", "--tls-cert", certs.cert, "--tls-key", certs.key]);
  assert.equal(run.code, 2, run.stderrText);
  assert.match(run.stderrText, /^peer: --tls-cert and --tls-key need --tls-ca as well/m);
});

Deno.test("tls flags: the tracker reads its PEM files before giving up reading, and says TLS is on", async () => {
  await using certs = await makeCerts();
  await using tracker = await startCliTracker(["--tls-cert", certs.cert, "--tls-key", certs.key]);
  await tracker.waitFor(
    new RegExp(
      `^TLS: serving with the certificate ${
        re(certs.cert)
      }; clients connect with --tls-ca \\(the CA that signed it\\)$`,
      "m",
    ),
  );
});
