/**
 * Where the paths of `cli/flags.ts` point, called directly: `--dir`,
 * `--out`, `--info` and their defaults come out absolute, resolved against
 * the folder the command was typed in (`cwd`, which `main.ts` takes from
 * `INIT_CWD` under `deno task`), or `Deno.cwd()` without one.
 * tests/e2e/flags_cwd_test.ts runs it as a user does.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { parseFlags } from "../../cli/flags.ts";
import { CWD, parse, refuses } from "../helpers/flags.ts";

Deno.test("flags: relative --dir, --out and --info resolve against the folder the command was typed in", () => {
  const peer = parse(["--dir", "p6", "--out", "../downloads", "--info", "./logs/reply.txt"]);
  assert.deepEqual(
    [peer.dir, peer.out, peer.info],
    ["/home/me/p6", "/home/downloads", "/home/me/logs/reply.txt"],
  );
  const get = parse(["--out", "saved", "--info", "i.txt", "x"], "get");
  assert.deepEqual([get.out, get.info], ["/home/me/saved", "/home/me/i.txt"]);
});

Deno.test("flags: relative --tls-* files resolve there too, for the tracker and cat as for the peer and get", () => {
  const tracker = parse(["--tls-cert", "p2p.crt", "--tls-key", "keys/p2p.key"], "tracker");
  assert.deepEqual([tracker.tlsCert, tracker.tlsKey], ["/home/me/p2p.crt", "/home/me/keys/p2p.key"]);
  assert.equal(parse(["--tls-ca", "../ca.crt", "x"], "cat").tlsCa, "/home/ca.crt");
  assert.equal(parse(["--tls-ca", "ca.crt", "x"], "get").tlsCa, "/home/me/ca.crt");
  const peer = parse(["--tls-cert", "/etc/p2p.crt", "--tls-key", "p2p.key", "--tls-ca", "ca.crt"]);
  assert.deepEqual([peer.tlsCert, peer.tlsKey, peer.tlsCa], ["/etc/p2p.crt", "/home/me/p2p.key", "/home/me/ca.crt"]);
});

Deno.test("flags: absolute paths are kept as given", () => {
  const peer = parse(["--dir", "/srv/files", "--out", "/tmp/x", "--info", "/var/i.txt"]);
  assert.deepEqual([peer.dir, peer.out, peer.info], ["/srv/files", "/tmp/x", "/var/i.txt"]);
});

Deno.test("flags: the defaults resolve there too: the peer's files and info.txt, get's folder", () => {
  const peer = parse([]);
  assert.deepEqual([peer.dir, peer.out, peer.info], [join(CWD, "files"), undefined, join(CWD, "info.txt")]);
  const get = parse(["x"], "get");
  assert.deepEqual([get.out, get.info], [CWD, undefined]);
});

Deno.test("flags: without a folder given, paths resolve against the process's own", () => {
  const peer = parseFlags(["--dir", "p6"], { role: "peer", port: 1 });
  assert.deepEqual([peer.dir, peer.info], [join(Deno.cwd(), "p6"), join(Deno.cwd(), "info.txt")]);
  assert.equal(parseFlags(["x"], { role: "get", port: 0 }).out, Deno.cwd());
});

Deno.test("flags: an empty path is refused rather than read as the current folder", () => {
  refuses(["--dir", ""], "--dir must name a folder, got ''");
  refuses(["--out="], "--out must name a folder, got ''");
  refuses(["--info", "", "x"], "--info must name a file, got ''", "get");
});
