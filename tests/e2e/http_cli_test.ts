/**
 * `--http-port` as a user types it: the tracker and a peer print `http on
 * http://HOST:PORT/` right after `listening on`, `curl -L` through the
 * tracker's redirect gets a file from the peer, and `--http-port` with a
 * secret is refused before anything starts.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { runCli, startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { installed, run } from "../helpers/http.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

const HTTP_LINE = /^http on (http:\/\/127\.0\.0\.1:(\d+)\/)$/m;

/** The `http on` line of `output`, which must come right after its `listening on` line. */
function httpLine(output: string): string {
  const lines = output.split("\n");
  const at = lines.findIndex((line) => line.startsWith("listening on "));
  const match = HTTP_LINE.exec(lines[at + 1] ?? "");
  assert.ok(match, `no "http on" line right after "listening on" in:\n${output}`);
  return match[1];
}

Deno.test({
  name: "http: tracker and peer print their HTTP URL after listening on, and curl -L gets a file through the tracker",
  ignore: !installed("/usr/bin/curl"),
  async fn() {
    await using tmp = await tempDir();
    const dir = await writeFiles(join(tmp.path, "a"), { "hello world.txt": "hello over http\n" });
    await using tracker = await startCliTracker(["--http-port", "0"]);
    await using peer = await startCliPeer(tracker.address, {
      dir,
      info: join(tmp.path, "info.txt"),
      flags: ["--http-port", "0"],
    });
    const page = httpLine(tracker.stdout);
    const face = httpLine(peer.stdout);
    assert.notEqual(face, page);
    await tracker.waitFor(/announced 1 file$/m);
    const got = await run("curl", ["-sSL", "--fail", "-w", "\n%{url_effective}", `${page}files/hello%20world.txt`]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, `hello over http\n\n${face}files/hello%20world.txt`);
    await peer.waitFor(/^sent hello world\.txt \(16 B\) to 127\.0\.0\.1:\d+$/m);
  },
});

// P2P_SECRET's refusal, in the same words: tests/cli/flags_test.ts. With TLS: tests/tracker/https_face_test.ts.
Deno.test("http: --http-port with --secret but without TLS is refused before anything starts, exit 2", async () => {
  const peer = await runCli(["peer", "--http-port", "0", "--secret", "s", "--port", "0"]);
  assert.equal(peer.code, 2);
  assert.match(
    peer.stderrText,
    /^peer: --http-port with --secret needs --tls-cert and --tls-key: .*; add --tls-cert FILE --tls-key FILE, drop --http-port, or drop --secret;/,
  );
  assert.doesNotMatch(peer.stdoutText, /listening on/);
  const tracker = await runCli(["tracker", "--http-port", "0", "--port", "0", "--secret", "s"]);
  assert.equal(tracker.code, 2);
  assert.match(
    tracker.stderrText,
    /^tracker: --http-port with --secret needs --tls-cert and --tls-key: .*bearer token/,
  );
});
