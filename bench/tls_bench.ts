/**
 * The bench's `tls` case (`deno task bench --only tls`): one file (`--size`,
 * 1 GiB by default) downloaded by a whole `get` process (`main.ts get`, timed
 * from spawn to exit) from a peer, on four networks of a tracker and a peer
 * each, measured in the same run, taking turns:
 *
 * - plain TCP (the baseline);
 * - TLS from the runtime (`--tls-cert`, `--tls-key`, `--tls-ca`): goal at
 *   least 0.5 of plain;
 * - `--secret` in plain, whose bytes go through the project's own record
 *   layer on Web Crypto AES-GCM (0.18-0.27 of plain when issue 16 was filed);
 * - `--secret` over TLS, where that record layer is not needed.
 *
 * The certificates are made here with `openssl`: a CA, and a leaf for
 * 127.0.0.1 signed by it (rustls refuses a self-signed CA certificate as a
 * server's own). Before the clock starts, the case checks that the TLS
 * network really speaks TLS (a TLS handshake with its tracker and its peer
 * succeeds), so that a flag that does nothing cannot pass for TLS. Without
 * `openssl` the case says so and measures nothing.
 *
 * @module
 */

import { join } from "node:path";
import { plural } from "../io/words.ts";
import type { Figure } from "./figures.ts";
import type { BenchRole } from "./redis_bench.ts";

/** What the case needs from the bench. */
export interface TlsCaseOptions {
  /** Downloads on each network; the medians are reported. */
  runs: number;
  /** The file's size, bytes. */
  size: number;
  /** The bench's temporary folder: the certificates, the file and the downloads go under it. */
  root: string;
  /** Deno's permission flags for the `get` processes (the bench's own). */
  permissions: string[];
  /** Starts `deno run` with the bench's permissions and `args` (the script, its arguments). */
  deno(name: string, args: string[]): BenchRole;
  /** Writes a file of `size` random bytes at `path` (`seed` makes each file differ). */
  makeFile(path: string, size: number, seed: number): Promise<void>;
  /** Flushes dirty pages before a timed run. */
  settle(): Promise<void>;
  /** Records a figure: a line of the printed table, of the JSON and of the chart. */
  figure(figure: Figure): void;
}

const MAIN = new URL("../main.ts", import.meta.url).pathname;
const MiB = 1024 * 1024;
/** The goal (issue 16): a download over TLS at least this share of the same download in plain. */
const TLS_GOAL = 0.5;
const FILE = "big.bin";
/** The shared secret of the `--secret` networks (any will do; it never leaves the machine). */
const SECRET = "bench-tls-case-secret";

/** The four networks, in the order of their first turn. */
const NETWORKS = ["plain", "tls", "secret", "secret-tls"] as const;
type Network = typeof NETWORKS[number];

/** The certificate files the case made. */
interface Certificates {
  ca: string;
  cert: string;
  key: string;
}

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor((s.length - 1) / 2)];
}

/** Runs `cmd`; throws with its standard error when it fails. */
async function run(cmd: string, args: string[], cwd?: string): Promise<void> {
  const { success, stderr } = await new Deno.Command(cmd, { args, cwd, stdout: "null", stderr: "piped" }).output();
  if (!success) throw new Error(`tls case: ${cmd} ${args.join(" ")} failed: ${new TextDecoder().decode(stderr)}`);
}

/** Why the case cannot run here (no `openssl`), or undefined. */
async function opensslMissing(): Promise<string | undefined> {
  try {
    const { success } = await new Deno.Command("openssl", { args: ["version"], stdout: "null", stderr: "null" })
      .output();
    return success ? undefined : "openssl version failed";
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return "no openssl on PATH";
    throw error;
  }
}

/**
 * A CA and a leaf certificate it signed for 127.0.0.1 and localhost (not a CA itself: rustls refuses a CA
 * certificate as a server's own), EC P-256, valid two days, in `dir`.
 */
async function makeCertificates(dir: string): Promise<Certificates> {
  await Deno.mkdir(dir, { recursive: true });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"];
  await run("openssl", [
    "req",
    "-x509",
    ...ec,
    "-keyout",
    "ca.key",
    "-out",
    "ca.crt",
    "-days",
    "2",
    "-subj",
    "/CN=p2p bench CA",
  ], dir);
  await run("openssl", ["req", ...ec, "-keyout", "leaf.key", "-out", "leaf.csr", "-subj", "/CN=127.0.0.1"], dir);
  await Deno.writeTextFile(
    join(dir, "leaf.ext"),
    "basicConstraints=critical,CA:FALSE\nsubjectAltName=IP:127.0.0.1,DNS:localhost\n",
  );
  await run("openssl", [
    "x509",
    "-req",
    "-in",
    "leaf.csr",
    "-CA",
    "ca.crt",
    "-CAkey",
    "ca.key",
    "-CAcreateserial",
    "-days",
    "2",
    "-extfile",
    "leaf.ext",
    "-out",
    "leaf.crt",
  ], dir);
  return { ca: join(dir, "ca.crt"), cert: join(dir, "leaf.crt"), key: join(dir, "leaf.key") };
}

/** The flags of each role on `network`. */
function networkFlags(network: Network, certs: Certificates) {
  const tls = network === "tls" || network === "secret-tls";
  const secret = network === "secret" || network === "secret-tls" ? ["--secret", SECRET] : [];
  const serve = tls ? ["--tls-cert", certs.cert, "--tls-key", certs.key] : [];
  const trust = tls ? ["--tls-ca", certs.ca] : [];
  return { tls, tracker: [...serve, ...secret], peer: [...serve, ...trust, ...secret], get: [...trust, ...secret] };
}

/** The port in a role's `listening on HOST:PORT…` line. */
function portOf(line: string): number {
  const port = Number(/^listening on \S*?:(\d+)/.exec(line)?.[1]);
  if (!Number.isInteger(port)) throw new Error(`tls case: no port in "${line}"`);
  return port;
}

/** `promise`, or a rejection saying `what` did not happen within `ms`. */
async function timely<T>(promise: Promise<T>, ms: number, what: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`tls case: ${what} took more than ${ms / 1000} s`)), ms);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Whether the server on `port` speaks TLS with a certificate `ca` signed:
 * the handshake completes. (A server that ignored `--tls-cert` would listen
 * in plain and never answer the handshake: false after 5 s, or at once.)
 */
async function speaksTls(port: number, ca: string): Promise<boolean> {
  const caCerts = [await Deno.readTextFile(ca)];
  let conn: Deno.TlsConn | undefined;
  try {
    conn = await Deno.connectTls({ hostname: "127.0.0.1", port, caCerts });
    await timely(conn.handshake(), 5_000, "a TLS handshake");
    return true;
  } catch {
    return false;
  } finally {
    try {
      conn?.close();
    } catch { /* closed by the server already */ }
  }
}

/** A tracker and a peer sharing `src` on `network`, started (the peer has announced). */
async function startNetwork(
  options: TlsCaseOptions,
  stack: AsyncDisposableStack,
  network: Network,
  src: string,
  certs: Certificates,
) {
  const flags = networkFlags(network, certs);
  const tracker = stack.use(
    options.deno(`tracker (${network})`, [MAIN, "tracker", "--host", "127.0.0.1", "--port", "0", ...flags.tracker]),
  );
  const trackerPort = portOf(await timely(tracker.line("listening on "), 30_000, `the ${network} tracker's start`));
  const peer = stack.use(options.deno(`peer (${network})`, [
    MAIN,
    "peer",
    "--tracker",
    `127.0.0.1:${trackerPort}`,
    "--host",
    "127.0.0.1",
    "--port",
    "0",
    "--dir",
    src,
    "--no-watch",
    "--info",
    join(options.root, `info-${network}.txt`),
    ...flags.peer,
  ]));
  const peerPort = portOf(await timely(peer.line("listening on "), 30_000, `the ${network} peer's start`));
  await timely(peer.line("shared "), 60_000, `the ${network} peer's announce`);
  if (flags.tls) {
    for (const [role, port] of [["tracker", trackerPort], ["peer", peerPort]] as const) {
      if (!await speaksTls(port, certs.ca)) {
        throw new Error(
          `tls case: the ${role} started with --tls-cert on 127.0.0.1:${port} does not complete a TLS handshake; ` +
            "is TLS implemented (io/server.ts, Deno.listenTls)?",
        );
      }
    }
  }
  return { trackerPort, get: flags.get };
}

/** One whole `get` process on a network, from spawn to exit, ms; throws when it fails or the file is short. */
async function timedGet(
  options: TlsCaseOptions,
  network: { trackerPort: number; get: string[] },
  out: string,
): Promise<number> {
  await Deno.remove(join(out, FILE)).catch(() => {});
  await options.settle();
  // Generous (a 1 GiB file at 20 MB/s, plus a minute), but bounded.
  const signal = AbortSignal.timeout(60_000 + options.size / 20_000);
  const args = ["run", ...options.permissions, MAIN, "get", "--tracker", `127.0.0.1:${network.trackerPort}`];
  args.push("--out", out, "--info", join(options.root, "info-get.txt"), ...network.get, FILE);
  const t = performance.now();
  const { success, stdout, stderr } = await new Deno.Command(Deno.execPath(), {
    args,
    stdout: "piped",
    stderr: "piped",
    signal,
  }).output();
  const ms = performance.now() - t;
  if (!success) {
    const text = new TextDecoder();
    throw new Error(
      `tls case: get ${network.get.join(" ")} ${FILE} failed: ${text.decode(stdout)}${text.decode(stderr)}`,
    );
  }
  const got = (await Deno.stat(join(out, FILE))).size;
  if (got !== options.size) throw new Error(`tls case: get saved ${got} bytes of ${options.size}`);
  return ms;
}

/** Runs the case; its figures for the JSON, or `{ skipped }` saying why nothing was measured. */
export async function tlsCase(options: TlsCaseOptions): Promise<Record<string, unknown>> {
  const skipped = await opensslMissing();
  if (skipped !== undefined) {
    console.error(`tls: skipped, ${skipped} (install Debian's openssl)`);
    options.figure({ what: "get over TLS", shown: "skipped", note: skipped });
    return { skipped };
  }
  const { size, runs } = options;
  console.error(
    `one file of ${size / MiB} MiB to a whole get process from a peer: plain, TLS, --secret, --secret over TLS, ` +
      plural(runs, "run"),
  );
  const dir = join(options.root, "tls");
  const src = join(dir, "src");
  const out = join(dir, "out");
  await Deno.mkdir(src, { recursive: true });
  await Deno.mkdir(out);
  const certs = await makeCertificates(join(dir, "certs"));
  await options.makeFile(join(src, FILE), size, 31);
  const ms: Record<Network, number[]> = { plain: [], tls: [], secret: [], "secret-tls": [] };
  try {
    await using stack = new AsyncDisposableStack();
    const networks = new Map<Network, Awaited<ReturnType<typeof startNetwork>>>();
    for (const network of NETWORKS) networks.set(network, await startNetwork(options, stack, network, src, certs));
    for (let r = 0; r < runs; r++) {
      // Turn about, so that no network always goes first.
      const order = NETWORKS.map((_, i) => NETWORKS[(i + r) % NETWORKS.length]);
      for (const network of order) ms[network].push(await timedGet(options, networks.get(network)!, out));
    }
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
  const rate = (network: Network) => size / 1e6 / (median(ms[network]) / 1000);
  const shown = size % (1024 * MiB) === 0 ? `${size / (1024 * MiB)} GiB` : `${size / MiB} MiB`;
  options.figure({
    what: `get over TLS (${shown}, whole process)`,
    value: rate("tls"),
    unit: "MB/s",
    baseline: rate("plain"),
    baselineWhat: "the same in plain",
    goal: { ratio: TLS_GOAL },
  });
  options.figure({
    what: `get with --secret over TLS (${shown})`,
    value: rate("secret-tls"),
    unit: "MB/s",
    baseline: rate("secret"),
    baselineWhat: "--secret in plain",
    note: `${(rate("secret-tls") / rate("plain")).toFixed(2)}x plain`,
  });
  options.figure({
    what: `get with --secret in plain (${shown}, its own record layer)`,
    value: rate("secret"),
    unit: "MB/s",
    baseline: rate("plain"),
    baselineWhat: "plain",
    note: "0.18-0.27x plain when issue 16 was filed",
  });
  return { bytes: size, runs, ms, goal: TLS_GOAL };
}
