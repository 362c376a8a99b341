/**
 * A peer's HTTP face as people fetch from it: the real `curl` and `wget`
 * (run with `Deno.Command`) against a peer started in-process with an HTTP
 * port. The whole file byte for byte, `curl -I`, `curl -r`, `416`, resuming
 * a file cut in half (`curl -C -`, `wget -c`), a name with a space and a
 * `%` (and `curl -J` naming the file from `Content-Disposition`). A test of
 * a client that is not installed is skipped, and says so in its name.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { MiB, sha256 } from "../helpers/hashes.ts";
import { installed, run } from "../helpers/http.ts";
import { randomBytes } from "../helpers/random.ts";
import { type TestPeer, testPeer, testTracker } from "../helpers/roles.ts";
import { tempDir } from "../helpers/temp.ts";

const CURL = "/usr/bin/curl";
const WGET = "/usr/bin/wget";
const noCurl = !installed(CURL);
const noWget = !installed(WGET);
const curlTest = (name: string) => noCurl ? `${name} (skipped: no ${CURL})` : name;
const wgetTest = (name: string) => noWget ? `${name} (skipped: no ${WGET})` : name;

const DATA = randomBytes(3 * MiB + 777);
const FILES = { "data.bin": DATA, "a b%.txt": "space and percent\n" };

/** A tracker and a peer sharing {@link FILES} over TCP and HTTP; disposed together. */
async function httpPeer(): Promise<{ peer: TestPeer; url: (encoded: string) => string } & AsyncDisposable> {
  const tracker = testTracker();
  const peer = await testPeer(tracker.address, FILES, { httpPort: 0 });
  return {
    peer,
    url: (encoded) => `http://127.0.0.1:${peer.http!.port}/files/${encoded}`,
    [Symbol.asyncDispose]: async () => {
      await peer[Symbol.asyncDispose]();
      await tracker.close();
    },
  };
}

Deno.test({
  name: curlTest("http clients: curl fetches the whole file byte for byte, and -J names it from the answer"),
  ignore: noCurl,
  fn: async () => {
    await using http = await httpPeer();
    await using out = await tempDir();
    const whole = await run(CURL, ["-sS", "-f", "-o", join(out.path, "copy.bin"), http.url("data.bin")]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(sha256(await Deno.readFile(join(out.path, "copy.bin"))), sha256(DATA));
    const named = await run(CURL, ["-sS", "-f", "-O", "-J", http.url("a%20b%25.txt")], { cwd: out.path });
    assert.equal(named.code, 0, named.stderr);
    assert.equal(await Deno.readTextFile(join(out.path, "a b%.txt")), "space and percent\n");
    await http.peer.events.next("served", (e) => e.name === "data.bin" && e.bytes === DATA.length);
  },
});

Deno.test({
  name: curlTest("http clients: curl -I shows length, type, ranges, ETag, digests, date and disposition"),
  ignore: noCurl,
  fn: async () => {
    await using http = await httpPeer();
    const head = await run(CURL, ["-sS", "-f", "-I", http.url("a%20b%25.txt")]);
    assert.equal(head.code, 0, head.stderr);
    const h = head.stdout;
    assert.match(h, /^HTTP\/1\.1 200 OK\r\n/);
    assert.match(h, /^content-length: 18\r$/im);
    assert.match(h, /^content-type: text\/plain; charset=utf-8\r$/im);
    assert.match(h, /^accept-ranges: bytes\r$/im);
    assert.match(h, new RegExp(`^etag: "${sha256("space and percent\n")}"\r$`, "im"));
    assert.match(h, /^repr-digest: sha-256=:[A-Za-z0-9+/]{43}=:\r$/im);
    assert.match(h, /^digest: SHA-256=[A-Za-z0-9+/]{43}=\r$/im);
    assert.match(h, /^last-modified: \w{3}, \d{2} \w{3} \d{4} \d{2}:\d{2}:\d{2} GMT\r$/im);
    assert.match(h, /^content-disposition: attachment; filename="a b%\.txt"; filename\*=UTF-8''a%20b%25\.txt\r$/im);
  },
});

Deno.test({
  name: curlTest("http clients: curl -r 0-99 gets the first 100 bytes; a range past the end is 416"),
  ignore: noCurl,
  fn: async () => {
    await using http = await httpPeer();
    await using out = await tempDir();
    const part = join(out.path, "part");
    const range = await run(CURL, ["-sS", "-f", "-r", "0-99", "-o", part, "-w", "%{http_code}", http.url("data.bin")]);
    assert.equal(range.stdout, "206", range.stderr);
    assert.deepEqual(await Deno.readFile(part), DATA.subarray(0, 100));
    const past = await run(CURL, [
      "-sS",
      "-D",
      "-",
      "-o",
      "/dev/null",
      "-r",
      `${DATA.length}-`,
      http.url("data.bin"),
    ]);
    assert.match(past.stdout, /^HTTP\/1\.1 416 /);
    assert.match(past.stdout, new RegExp(`^content-range: bytes \\*/${DATA.length}\r$`, "im"));
    const failed = await run(CURL, ["-sS", "-f", "-o", "/dev/null", "-r", `${DATA.length}-`, http.url("data.bin")]);
    assert.equal(failed.code, 22, "curl -f fails on 416");
  },
});

Deno.test({
  name: curlTest("http clients: curl -C - resumes a file cut in half and ends with the same bytes"),
  ignore: noCurl,
  fn: async () => {
    await using http = await httpPeer();
    await using out = await tempDir();
    const path = join(out.path, "data.bin");
    const half = Math.floor(DATA.length / 2);
    await Deno.writeFile(path, DATA.subarray(0, half));
    const resumed = await run(CURL, ["-sS", "-f", "-C", "-", "-o", path, http.url("data.bin")]);
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(sha256(await Deno.readFile(path)), sha256(DATA));
    const served = await http.peer.events.next("served", (e) => e.name === "data.bin");
    assert.equal(served.bytes, DATA.length - half, "only the second half was sent");
  },
});

Deno.test({
  name: curlTest("http clients: curl fetches a name with a space and a %, and is told 404 with what to do"),
  ignore: noCurl,
  fn: async () => {
    await using http = await httpPeer();
    const got = await run(CURL, ["-sS", "-f", http.url("a%20b%25.txt")]);
    assert.equal(got.code, 0, got.stderr);
    assert.equal(got.stdout, "space and percent\n");
    const missing = await run(CURL, ["-sS", http.url("a%20b.txt")]);
    assert.equal(
      missing.stdout,
      `404 no file "a b.txt" in this peer's folder; ask the tracker who holds it, or see / for what this peer shares\n`,
    );
  },
});

Deno.test({
  name: wgetTest("http clients: wget fetches the whole file, and wget -c resumes one cut in half"),
  ignore: noWget,
  fn: async () => {
    await using http = await httpPeer();
    await using out = await tempDir();
    const whole = await run(WGET, ["-q", "-O", join(out.path, "whole.bin"), http.url("data.bin")]);
    assert.equal(whole.code, 0, whole.stderr);
    assert.equal(sha256(await Deno.readFile(join(out.path, "whole.bin"))), sha256(DATA));
    const half = Math.floor(DATA.length / 2);
    await Deno.writeFile(join(out.path, "data.bin"), DATA.subarray(0, half));
    const resumed = await run(WGET, ["-q", "-c", http.url("data.bin")], { cwd: out.path });
    assert.equal(resumed.code, 0, resumed.stderr);
    assert.equal(sha256(await Deno.readFile(join(out.path, "data.bin"))), sha256(DATA));
    await http.peer.events.next("served", (e) => e.name === "data.bin" && e.bytes === DATA.length - half);
    const spaced = await run(WGET, ["-q", "-O", "-", http.url("a%20b%25.txt")]);
    assert.equal(spaced.stdout, "space and percent\n");
  },
});
