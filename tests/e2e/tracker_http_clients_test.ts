/**
 * The tracker's HTTP face with real HTTP clients and real peers serving
 * HTTP: `curl -L` follows the tracker's redirect to a holder and gets the
 * bytes; `aria2c`, given only the tracker's URL of a file, asks for the
 * Metalink by `Accept`, then fetches pieces from three rate-limited peers at
 * once and checks them. Both binaries are at /usr/bin; without them the
 * tests are skipped.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startTrackerWithHttp, type Tracker, type TrackerEvent } from "../../tracker.ts";
import { assertSameBytes } from "../helpers/assert.ts";
import { EventLog } from "../helpers/events.ts";
import { MiB } from "../helpers/hashes.ts";
import { randomBytes } from "../helpers/random.ts";
import { type TestPeer, testPeer } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";

function installed(path: string): boolean {
  try {
    return Deno.statSync(path).isFile;
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return false;
    throw error;
  }
}

const CURL = "/usr/bin/curl";
const ARIA2C = "/usr/bin/aria2c";

/** A tracker with its HTTP face, its events kept, and its HTTP base URL. */
async function httpTracker(): Promise<Tracker & { base: string; address: string; events: EventLog<TrackerEvent> }> {
  const events = new EventLog<TrackerEvent>();
  const tracker = await startTrackerWithHttp({ hostname: "127.0.0.1", port: 0, httpPort: 0, onEvent: events.push });
  return Object.assign(tracker, {
    base: `http://127.0.0.1:${tracker.http!.port}`,
    address: `127.0.0.1:${tracker.addr.port}`,
    events,
  });
}

/** Runs `command` with `args`; its output, failing the test (with stderr) on a non-zero exit. */
async function run(command: string, args: string[]): Promise<string> {
  // A client that hangs is killed (and fails the test) rather than holding the run.
  const signal = AbortSignal.timeout(60_000);
  const { code, stdout, stderr } = await new Deno.Command(command, { args, stdout: "piped", stderr: "piped", signal })
    .output();
  const err = new TextDecoder().decode(stderr);
  const out = new TextDecoder().decode(stdout);
  assert.equal(code, 0, `${command} ${args.join(" ")} exited ${code}\n${out}\n${err}`);
  return out;
}

/** Bytes `peer` sent over HTTP or TCP, as its upload events count them (whole answers and cut ones). */
function uploaded(peer: TestPeer, name: string): number {
  return peer.events.events.reduce(
    (sum, e) => (e.type === "served" || e.type === "aborted") && e.name === name ? sum + e.bytes : sum,
    0,
  );
}

Deno.test({
  name: "tracker HTTP: curl -L follows /files/<name> to a peer's HTTP face and gets the exact bytes",
  ignore: !installed(CURL),
  fn: async () => {
    await using tracker = await httpTracker();
    const bytes = randomBytes(2 * MiB + 5, 21);
    await using peer = await testPeer(tracker.address, { "a file.bin": bytes }, { httpPort: 0 });
    await tracker.events.until("the peer announced", () => tracker.store.has("a file.bin"));
    await using out = await tempDir();
    const target = join(out.path, "got.bin");
    await run(CURL, ["-sS", "-f", "-L", "-o", target, `${tracker.base}/files/a%20file.bin`]);
    await assertSameBytes(target, bytes);
    assert.ok(uploaded(peer, "a file.bin") >= bytes.length);
    // And the redirect itself, as curl sees it.
    const headers = await run(CURL, ["-sS", "-I", `${tracker.base}/files/a%20file.bin`]);
    assert.match(headers, /^HTTP\/1\.1 307 /);
    assert.match(
      headers,
      new RegExp(`location: http://127\\.0\\.0\\.1:${peer.http!.port}/files/a%20file\\.bin`, "i"),
    );
  },
});

Deno.test({
  name:
    "tracker HTTP: aria2c given the tracker's URL fetches a Metalink and the file from all three rate-limited peers",
  ignore: !installed(ARIA2C),
  fn: async () => {
    await using tracker = await httpTracker();
    const name = "big file.bin";
    const bytes = randomBytes(6 * MiB + 123, 22);
    // 2 MiB/s each: one peer alone takes 3 s (measured 3.1 s; all three 1.1 s), long enough that aria2c's three
    // connections all get pieces. Asserted by what each peer uploaded, not by the time.
    const rate = 2 * MiB;
    await using a = await testPeer(tracker.address, { [name]: bytes }, { httpPort: 0, maxUploadRate: rate });
    await using b = await testPeer(tracker.address, { [name]: bytes }, { httpPort: 0, maxUploadRate: rate });
    await using c = await testPeer(tracker.address, { [name]: bytes }, { httpPort: 0, maxUploadRate: rate });
    await tracker.events.until(
      "three peers announced",
      async () => (await tracker.store.holders(name, 10)).length === 3,
    );
    await using out = await tempDir();
    const started = performance.now();
    await run(ARIA2C, [
      "--dir",
      out.path,
      "--allow-overwrite=true",
      "--summary-interval=0",
      "--console-log-level=warn",
      "--follow-metalink=mem",
      "--split=3",
      // aria2 counts connections per host, and the three peers share 127.0.0.1.
      "--max-connection-per-server=3",
      "--min-split-size=1M",
      "--file-allocation=none",
      "--no-conf=true",
      `${tracker.base}/files/${encodeURIComponent(name)}`,
    ]);
    const seconds = (performance.now() - started) / 1000;
    await assertSameBytes(join(out.path, name), bytes);
    const served = [a, b, c].map((peer) => uploaded(peer, name));
    for (const [i, n] of served.entries()) {
      assert.ok(n > 0, `peer ${i} served none of the file (served: ${served}, ${seconds.toFixed(2)} s)`);
    }
  },
});

Deno.test({
  name: "tracker HTTP: aria2c -M with a .meta4 saved by curl fetches the file and checks it",
  ignore: !installed(ARIA2C) || !installed(CURL),
  fn: async () => {
    await using tracker = await httpTracker();
    const name = "x.bin";
    const bytes = randomBytes(MiB + 7, 23);
    await using peer = await testPeer(tracker.address, { [name]: bytes }, { httpPort: 0 });
    await tracker.events.until("the peer announced", () => tracker.store.has(name));
    await using out = await tempDir();
    const metalink = join(out.path, "x.meta4");
    await run(CURL, ["-sS", "-f", "-o", metalink, `${tracker.base}/files/x.bin.meta4`]);
    assert.match(await Deno.readTextFile(metalink), /<pieces length="1048576" type="sha-256">/);
    await run(ARIA2C, [
      "-M",
      metalink,
      "--dir",
      join(out.path, "got"),
      "--allow-overwrite=true",
      "--summary-interval=0",
      "--console-log-level=warn",
      "--no-conf=true",
    ]);
    await assertSameBytes(join(out.path, "got", name), bytes);
    assert.ok(uploaded(peer, name) >= bytes.length);
  },
});
