/**
 * TLS end to end, as a user runs it (`main.ts` processes with the real
 * flags), with certificates `openssl` makes: every pair of roles over TLS
 * (peer→tracker, get→tracker, cat→tracker, peer→peer, get→peer,
 * cat→peer); a network half TLS fails at once both ways, saying so, and
 * the tracker goes on serving; a holder with an expired certificate is
 * dropped with `ETLS` and the file comes from the next; `--secret` over
 * TLS; `openssl s_client` gets `PONG` from the tracker.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { assertSameBytes, re } from "../helpers/assert.ts";
import { makeCerts, sClient, type TestCerts } from "../helpers/certs.ts";
import { runCli, startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { randomBytes } from "../helpers/random.ts";
import { listDir, tempDir, writeFiles } from "../helpers/temp.ts";

/** The flags of a TLS server role with `cert` (default: the good leaf). */
function serving(certs: TestCerts, cert = certs.cert): string[] {
  return ["--tls-cert", cert, "--tls-key", certs.key];
}

/** The flag of a TLS client trusting `ca` (default: the CA that signed the leaves). */
function trusting(certs: TestCerts, ca = certs.ca): string[] {
  return ["--tls-ca", ca];
}

Deno.test("tls e2e: tracker, peers, get and cat all over TLS: every pair of roles moves verified bytes", async () => {
  await using certs = await makeCerts();
  await using tmp = await tempDir();
  const blob = randomBytes(3_000_001, 7);
  const aliceDir = await writeFiles(join(tmp.path, "alice"), { "blob.bin": blob, "hello.txt": "hello over TLS\n" });
  const bobDir = await writeFiles(join(tmp.path, "bob"), {});
  const out = await writeFiles(join(tmp.path, "out"), {});
  const peerFlags = [...serving(certs), ...trusting(certs)];

  await using tracker = await startCliTracker(serving(certs));
  await tracker.waitFor(
    new RegExp(`^TLS: serving with the certificate ${re(certs.cert)}; clients connect with --tls-ca`, "m"),
  );
  const info = (name: string) => join(tmp.path, `${name}-info.txt`);
  await using alice = await startCliPeer(tracker.address, { dir: aliceDir, info: info("alice"), flags: peerFlags });
  await alice.waitFor(new RegExp(`^TLS: serving with the certificate .*; trusting the CA in ${re(certs.ca)}`, "m"));
  await using bob = await startCliPeer(tracker.address, { dir: bobDir, info: info("bob"), flags: peerFlags });

  // peer → tracker, peer → peer.
  await bob.write("SEND blob.bin\n");
  await bob.waitFor(new RegExp(`^saved blob\\.bin \\(2\\.86 MiB\\) from ${re(alice.address)} `, "m"));
  await assertSameBytes(join(bobDir, "blob.bin"), blob);

  // get → tracker, get → peer; cat → tracker, cat → peer (relay).
  const [got, cat] = await Promise.all([
    runCli(["get", "--tracker", tracker.address, ...trusting(certs), "--out", out, "--info", info("get"), "hello.txt"]),
    runCli(["cat", "--tracker", tracker.address, ...trusting(certs), "blob.bin"]),
  ]);
  assert.equal(got.code, 0, got.stdoutText + got.stderrText);
  assert.match(got.stdoutText, /^saved hello\.txt \(15 B\) from 127\.0\.0\.1:\d+ /m);
  assert.equal(await Deno.readTextFile(join(out, "hello.txt")), "hello over TLS\n");
  assert.equal(cat.code, 0, cat.stderrText);
  assert.deepEqual(cat.stdout, blob);

  // A client no one here wrote: openssl s_client, trusting the CA, types PING and gets PONG.
  const answer = await sClient(tracker.address, certs.ca, "PING\nQUIT\n");
  assert.match(answer, /^200 PONG$/m);
});

Deno.test("tls e2e: a half-TLS network fails at once both ways, saying which side speaks what; the trackers serve on", async () => {
  await using certs = await makeCerts();
  await using tmp = await tempDir();
  await using tlsTracker = await startCliTracker(serving(certs));
  await using plainTracker = await startCliTracker();
  const dir = await writeFiles(join(tmp.path, "empty"), {});
  const get = (tracker: string, flags: string[]) =>
    runCli(["get", "--tracker", tracker, "--out", dir, "--info", join(tmp.path, "info.txt"), ...flags, "x.txt"]);

  const started = performance.now();
  const [plainToTls, tlsToPlain, wrongCa] = await Promise.all([
    get(tlsTracker.address, []),
    get(plainTracker.address, trusting(certs)),
    get(tlsTracker.address, trusting(certs, certs.otherCa)),
  ]);
  // At once: well under the 10 s connect timeout, whatever the machine's load.
  assert.ok(performance.now() - started < 8_000, `took ${performance.now() - started} ms`);

  assert.equal(plainToTls.code, 1, plainToTls.stderrText);
  assert.match(
    plainToTls.stderrText,
    new RegExp(
      `^get: the tracker at ${re(tlsTracker.address)} speaks TLS; connect with --tls-ca FILE ` +
        "\\(the CA that signed its certificate\\)$",
      "m",
    ),
  );
  await tlsTracker.waitFor(
    /^error: the client at 127\.0\.0\.1:\d+ spoke plain TCP to this TLS server; it needs --tls-ca/m,
    {
      stream: "stderr",
    },
  );

  assert.equal(tlsToPlain.code, 1, tlsToPlain.stderrText);
  assert.match(
    tlsToPlain.stderrText,
    new RegExp(
      `^get: the tracker at ${
        re(plainTracker.address)
      } does not speak TLS \\(it answered in plain\\); drop --tls-ca, ` +
        "or start it with --tls-cert and --tls-key",
      "m",
    ),
  );
  await plainTracker.waitFor(/^error: the client at 127\.0\.0\.1:\d+ spoke TLS to this plain server; answered so/m, {
    stream: "stderr",
  });

  assert.equal(wrongCa.code, 1, wrongCa.stderrText);
  assert.match(
    wrongCa.stderrText,
    new RegExp(
      `^get: the tracker at ${re(tlsTracker.address)} has a certificate that the CA in ${re(certs.otherCa)} `,
      "m",
    ),
  );

  // Both trackers go on serving clients that match them.
  const [tlsOk, plainOk] = await Promise.all([get(tlsTracker.address, trusting(certs)), get(plainTracker.address, [])]);
  assert.match(tlsOk.stdoutText, /^failed x\.txt: 404 /m, tlsOk.stderrText);
  assert.match(plainOk.stdoutText, /^failed x\.txt: 404 /m, plainOk.stderrText);
});

Deno.test("tls e2e: a plain peer given a TLS tracker does not start, saying the tracker speaks TLS", async () => {
  await using certs = await makeCerts();
  await using tmp = await tempDir();
  await using tracker = await startCliTracker(serving(certs));
  const dir = await writeFiles(join(tmp.path, "p"), { "a.txt": "a" });
  const peer = await runCli([
    "peer",
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--tracker",
    tracker.address,
    "--dir",
    dir,
    "--info",
    join(tmp.path, "info.txt"),
  ]); // deno-fmt-ignore
  assert.equal(peer.code, 1, peer.stdoutText + peer.stderrText);
  assert.match(
    peer.stderrText,
    new RegExp(`^peer: the tracker at ${re(tracker.address)} speaks TLS; connect with --tls-ca`, "m"),
  );
});

Deno.test("tls e2e: a holder with an expired certificate is dropped with ETLS, and the file comes from the next", async () => {
  await using certs = await makeCerts();
  await using tmp = await tempDir();
  const file = randomBytes(200_000, 3);
  const staleDir = await writeFiles(join(tmp.path, "stale"), { "f.bin": file });
  const goodDir = await writeFiles(join(tmp.path, "good"), { "f.bin": file });
  const out = await writeFiles(join(tmp.path, "out"), {});
  await using tracker = await startCliTracker(serving(certs));
  const info = (name: string) => join(tmp.path, `${name}-info.txt`);
  await using stale = await startCliPeer(tracker.address, {
    dir: staleDir,
    info: info("stale"),
    flags: [...serving(certs, certs.expired), ...trusting(certs)],
  });
  await using good = await startCliPeer(tracker.address, {
    dir: goodDir,
    info: info("good"),
    flags: [...serving(certs), ...trusting(certs)],
  });
  const got = await runCli([
    "get",
    "--tracker",
    tracker.address,
    ...trusting(certs),
    "--out",
    out,
    "--info",
    info("get"),
    "f.bin",
  ]); // deno-fmt-ignore
  assert.equal(got.code, 0, got.stdoutText + got.stderrText);
  assert.match(
    got.stdoutText,
    new RegExp(
      `^attempt f\\.bin from ${re(stale.address)} failed: ETLS the certificate of the peer at ${re(stale.address)} ` +
        "has expired; ",
      "m",
    ),
  );
  assert.match(got.stdoutText, new RegExp(`^saved f\\.bin \\(195 KiB\\) from ${re(good.address)} `, "m"));
  await assertSameBytes(join(out, "f.bin"), file);
  assert.deepEqual(await listDir(out), ["f.bin"]);
});

Deno.test("tls e2e: --secret over TLS still decides membership: the secret downloads, a wrong one is refused", async () => {
  await using certs = await makeCerts();
  await using tmp = await tempDir();
  const secret = ["--secret", "correct horse battery staple"];
  const dir = await writeFiles(join(tmp.path, "p"), { "s.txt": "secret stuff\n" });
  const out = await writeFiles(join(tmp.path, "out"), {});
  await using tracker = await startCliTracker([...serving(certs), ...secret]);
  await tracker.waitFor(/^admitting only parties that know the secret; traffic encrypted by TLS$/m);
  await using _peer = await startCliPeer(tracker.address, {
    dir,
    info: join(tmp.path, "peer-info.txt"),
    flags: [...serving(certs), ...trusting(certs), ...secret],
  });
  const get = (flags: string[]) =>
    runCli(["get", "--tracker", tracker.address, ...trusting(certs), "--out", out, ...flags, "s.txt"]);
  const [right, wrong] = await Promise.all([get(secret), get(["--secret", "another"])]);
  assert.equal(right.code, 0, right.stdoutText + right.stderrText);
  assert.equal(await Deno.readTextFile(join(out, "s.txt")), "secret stuff\n");
  assert.equal(wrong.code, 1, wrong.stdoutText);
  assert.match(wrong.stderrText, /refused our secret \(wrong --secret on one side\)/);
});
