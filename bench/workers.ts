/**
 * The processes `bench.ts` starts, one role each, so that sender, receiver,
 * tracker and load generator never share an event loop. Each prints `ready`
 * (and what the harness needs) when set up, then waits for `go` on stdin,
 * so that process start-up is never timed.
 *
 * deno run … bench/workers.ts <role> [args]
 *   raw-recv OUT             listen, copy one connection to OUT (reused 1 MiB buffer)
 *   raw-send FILE            on "go PORT": connect and send FILE (reused 1 MiB buffer)
 *   get TRACKER OUTDIR       on "go NAME[,NAME…]": what `get` does; prints "done MS ok|failed"
 *   announce PORTS PEERS N [catalogue=K] [root]
 *                            PEERS connections each announcing N files, 200 at a time, peer p to the
 *                            p-th of the comma-separated PORTS (round robin); holds them until stdin ends. Without a catalogue each peer's names are its own; with
 *                            one, peer p's file i is name (p × N + i) mod K of a shared catalogue (so
 *                            each name has PEERS × N / K holders), under one chunk, or with `root` over
 *                            one chunk with a chunk root on its line
 *   lookups PORTS CONNS SECS PEERS N [DEPTH]   SEND lookups of random indexed names (of an announce
 *                            without CATALOGUE), DEPTH in flight per connection (default 1), connection c
 *                            to the c-th of the comma-separated PORTS (round robin); prints a JSON result
 *   announce-one PORT N      one UPDATE of N files; prints "done MS"
 *   live PORT DIR            a peer with the hash cache starts on DIR (nothing cached), stops, starts again
 *                            (all cached), then a new file is written into DIR; prints "done FIRST RESTART CHANGE"
 *                            (ms: each start until announced, and from the write until a WAIT on it is told FOUND)
 *
 * @module
 */

import { join } from "node:path";
import { Peer, sendAndFetch } from "../peer.ts";
import { CHUNK_SIZE, encodeName } from "../protocol.ts";
import { BufferedReader } from "../io/reader.ts";
import { writeAll, writeText } from "../io/streams.ts";
import { TrackerClient } from "../peer/tracker_client.ts";

const stdin = new BufferedReader(Deno.stdin);
const say = (line: string) => writeText(Deno.stdout, line + "\n");
const BUFFER = 1024 * 1024;

/** Deterministic sha-like hex for fake entries. */
function fakeSha(i: number): string {
  return (i.toString(16).padStart(8, "0")).repeat(8);
}

/** The name the announcers give file `i` of peer `p`; lookups ask for the same. */
function fakeName(p: number, i: number): string {
  return `peer${p}-file${i}.bin`;
}

/** A chunk root for fake entries over one chunk: not the sha's own digits. */
function fakeRoot(i: number): string {
  return (i.toString(16).padStart(8, "f")).repeat(8);
}

/** The entry line of name `k` of a shared catalogue: the same size and hashes from every holder. */
function catalogueLine(k: number, root: boolean): string {
  return root
    ? `${CHUNK_SIZE + 1 + k} ${fakeSha(k)}:${fakeRoot(k)} catalogue-${k}.bin`
    : `${1000 + k} ${fakeSha(k)} catalogue-${k}.bin`;
}

/** `PORT[,PORT…]`, as the roles that spread connections over trackers take it. */
function ports(text: string): number[] {
  return text.split(",").map(Number);
}

async function rawRecv(out: string) {
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  await say(`ready ${listener.addr.port}`);
  using conn = await listener.accept();
  listener.close();
  using file = await Deno.open(out, { write: true, create: true, truncate: true });
  const buffer = new Uint8Array(BUFFER);
  let total = 0;
  while (true) {
    const n = await conn.read(buffer);
    if (n === null) break;
    await writeAll(file, buffer.subarray(0, n));
    total += n;
  }
  await say(`done ${total}`);
}

async function rawSend(path: string) {
  using file = await Deno.open(path);
  await say("ready");
  const go = await stdin.readLine();
  const port = Number(go?.split(" ")[1]);
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const buffer = new Uint8Array(BUFFER);
  while (true) {
    const n = await file.read(buffer);
    if (n === null) break;
    await writeAll(conn, buffer.subarray(0, n));
  }
}

async function get(tracker: string, outDir: string) {
  await say("ready");
  const go = await stdin.readLine();
  const names = (go ?? "").slice(3).split(",");
  const start = performance.now();
  const client = await TrackerClient.connect(tracker);
  const report = await sendAndFetch(client, names.map(encodeName).join(", "), { outDir });
  const ms = performance.now() - start;
  await client.quit();
  const ok = report.outcomes.every((o) => o.ok);
  await say(`done ${ms.toFixed(1)} ${ok ? "ok" : "failed"}`);
  // Stay alive until the harness has read this process's peak memory.
  while ((await stdin.readLine()) !== null);
}

/** How `announce` names its files. */
interface AnnounceOptions {
  /** Names of a shared catalogue of this many (0: each peer's names are its own). Default 0. */
  catalogue: number;
  /** Catalogue files over one chunk, with a chunk root. Default false. */
  root: boolean;
}

/** `catalogue=K` and `root`, in any order. */
function announceOptions(words: string[]): AnnounceOptions {
  const options: AnnounceOptions = { catalogue: 0, root: false };
  for (const word of words) {
    const [key, value] = word.split("=");
    if (key === "root" && value === undefined) options.root = true;
    else if (key === "catalogue" && Number(value) > 0) options.catalogue = Number(value);
    else throw new TypeError(`announce: ${word}: expected catalogue=K or root`);
  }
  return options;
}

async function announce(to: number[], peers: number, files: number, options: AnnounceOptions) {
  const { catalogue, root } = options;
  const conns: Deno.Conn[] = [];
  const batch = 200;
  for (let start = 0; start < peers; start += batch) {
    await Promise.all(Array.from({ length: Math.min(batch, peers - start) }, async (_, k) => {
      const p = start + k;
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: to[p % to.length] });
      conns.push(conn);
      const lines = [`UPDATE ${10_000 + p % 50_000} ${files}`];
      for (let i = 0; i < files; i++) {
        lines.push(
          catalogue > 0
            ? catalogueLine((p * files + i) % catalogue, root)
            : `${1000 + i} ${fakeSha(p * files + i)} ${fakeName(p, i)}`,
        );
      }
      await writeText(conn, lines.join("\n") + "\n");
      const reply = await new BufferedReader(conn).readLine();
      if (!reply?.startsWith("200 ")) throw new Error(`announce failed: ${reply}`);
    }));
  }
  await say("ready");
  while ((await stdin.readLine()) !== null);
  for (const c of conns) c.close();
}

async function announceOne(port: number, files: number) {
  using conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const lines = [`UPDATE 10000 ${files}`];
  for (let i = 0; i < files; i++) lines.push(`${1000 + i} ${fakeSha(i)} ${fakeName(0, i)}`);
  const text = lines.join("\n") + "\n";
  await say("ready");
  await stdin.readLine();
  const start = performance.now();
  await writeText(conn, text);
  const reply = await new BufferedReader(conn).readLine();
  const ms = performance.now() - start;
  if (!reply?.startsWith("200 ")) throw new Error(`announce failed: ${reply}`);
  await say(`done ${ms.toFixed(1)}`);
}

/**
 * `conns` connections to the trackers at `to` (connection c to the c-th, round
 * robin), each keeping `depth` `SEND <random indexed name>` requests in flight (1: send, wait for the whole reply, send the next), for
 * `seconds`. Latency is from sending a request to the end of its reply.
 */
async function lookups(to: number[], conns: number, seconds: number, peers: number, files: number, depth: number) {
  const encoder = new TextEncoder();
  const sockets = await Promise.all(
    Array.from({ length: conns }, (_, c) => Deno.connect({ hostname: "127.0.0.1", port: to[c % to.length] })),
  );
  await say("ready");
  await stdin.readLine();
  const latencies: number[] = [];
  let seed = 12345;
  const random = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % n;
  };
  const requests = (k: number) => {
    let text = "";
    for (let i = 0; i < k; i++) text += `SEND ${fakeName(random(peers), random(files))}\n`;
    return encoder.encode(text);
  };
  const deadline = performance.now() + seconds * 1000;
  const start = performance.now();
  await Promise.all(sockets.map(async (conn) => {
    const buffer = new Uint8Array(65_536);
    const sent: number[] = [];
    let next = 0;
    const now = performance.now();
    for (let i = 0; i < depth; i++) sent.push(now);
    await writeAll(conn, requests(depth));
    // A reply ends with a line whose code is followed by a space: "200 END …".
    let column = 0;
    let last = false;
    while (next < sent.length) {
      const n = await conn.read(buffer);
      if (n === null) throw new Error("tracker closed");
      let done = 0;
      for (let i = 0; i < n; i++) {
        const byte = buffer[i];
        if (column === 3) last = byte === 0x20;
        if (byte === 0x0a) {
          if (last) done++;
          column = 0;
        } else column++;
      }
      const t = performance.now();
      for (let i = 0; i < done; i++) latencies.push(t - sent[next++]);
      if (done > 0 && t < deadline) {
        for (let i = 0; i < done; i++) sent.push(t);
        await writeAll(conn, requests(done));
      }
    }
  }));
  const elapsed = (performance.now() - start) / 1000;
  for (const c of sockets) c.close();
  latencies.sort((a, b) => a - b);
  const at = (q: number) => latencies[Math.min(latencies.length - 1, Math.floor(q * latencies.length))];
  await say(JSON.stringify({
    depth,
    lookups: latencies.length,
    perSecond: latencies.length / elapsed,
    p50: at(0.5),
    p99: at(0.99),
  }));
}

async function live(port: number, dir: string) {
  const tracker = `127.0.0.1:${port}`;
  const start = async () => {
    const t = performance.now();
    const peer = await Peer.start({ tracker, hostname: "127.0.0.1", port: 0, dir, hashCache: true, watch: true });
    return { peer, ms: performance.now() - t };
  };
  const first = await start();
  await first.peer.close();
  const second = await start();
  await using watcher = await TrackerClient.connect(tracker);
  const { arrivals } = await watcher.wait(["dropped-in.bin"], 60);
  const t = performance.now();
  await Deno.writeFile(join(dir, "dropped-in.bin"), new Uint8Array(64 * 1024).fill(7));
  const arrival = await arrivals.get("dropped-in.bin");
  const change = performance.now() - t;
  await second.peer.close();
  if (arrival !== "FOUND") throw new Error(`the new file was not announced: ${arrival}`);
  await say(`done ${first.ms.toFixed(0)} ${second.ms.toFixed(0)} ${change.toFixed(0)}`);
}

if (import.meta.main) {
  const [role, ...args] = Deno.args;
  const n = (i: number) => Number(args[i]);
  switch (role) {
    case "raw-recv":
      await rawRecv(args[0]);
      break;
    case "raw-send":
      await rawSend(args[0]);
      break;
    case "get":
      await get(args[0], args[1]);
      break;
    case "announce":
      await announce(ports(args[0]), n(1), n(2), announceOptions(args.slice(3)));
      break;
    case "announce-one":
      await announceOne(n(0), n(1));
      break;
    case "live":
      await live(n(0), args[1]);
      break;
    case "lookups":
      await lookups(ports(args[0]), n(1), n(2), n(3), n(4), n(5) || 1);
      break;
    default:
      console.error(`unknown worker role ${role}`);
      Deno.exit(2);
  }
}
