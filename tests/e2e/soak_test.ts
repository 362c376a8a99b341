/**
 * A bounded soak on loopback: a tracker, run as a user runs it (its own
 * process, so that its memory can be read alone), serves 200 peers of this
 * process through 2,000 downloads while garbage senders, slow-drip clients
 * and a connection flood run alongside. Every download must land intact, the
 * tracker must keep answering and exit cleanly, and its resident memory must
 * stay flat once warm.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { Peer, sendAndFetch } from "../../peer.ts";
import { formatAddress } from "../../protocol.ts";
import { errorMessage } from "../../io/errors.ts";
import { closeQuietly } from "../../io/link.ts";
import { writeAll } from "../../io/streams.ts";
import { startServer } from "../helpers/cli.ts";
import { EventLog } from "../helpers/events.ts";
import { sha256 } from "../helpers/hashes.ts";
import { LineClient } from "../helpers/net.ts";
import { randomBytes, SeededRandom } from "../helpers/random.ts";
import { tempDir, writeFiles } from "../helpers/temp.ts";

const KiB = 1024;
const MiB = 1024 * KiB;
const PEERS = 200;
/** Peers started at once: enough to be quick, few enough not to storm the tracker's accept queue. */
const PEER_BATCH = 20;
const DOWNLOADS = 2_000;
const CONCURRENT_DOWNLOADS = 20;
/** The tracker's memory is first read after this many downloads: its heap, buffers and index have grown to size. */
const WARM_UP = 500;
/** Short, so that slow-drip clients are dropped within the test; the peers' heartbeat keeps them well inside it. */
const IDLE_TIMEOUT_S = 3;
/** Each idle peer PINGs this often: 2 s inside the idle timeout, and 200 peers' PINGs stay a small part of the load. */
const HEARTBEAT_MS = 1_000;
/**
 * How much the tracker's RSS may grow from the warm-up reading to the end.
 * What it legitimately keeps grows little once the 200 peers are in (~300
 * index entries; holder feedback, at most 200 x 200 pairs, ~0.7 MiB per 1,000
 * downloads), but V8 enlarges its heap in steps: measured on this load, the
 * RSS went from ~71 MiB after warm-up to ~86 MiB at the end, one step of 8 to
 * 15 MiB landing somewhere between 1,000 and 4,000 downloads (with or without
 * the bad clients). 30 MiB is that noise twice over. It still catches a leak
 * of ~10 KiB per download (1,500 after warm-up) or of a 64 KiB line buffer
 * per garbage session (~200 after warm-up); smaller leaks need a longer soak.
 */
const MAX_RSS_GROWTH = 30 * MiB;
const FLOOD_ROUNDS = 5;
const FLOOD_SIZE = 300;
/** Every this many flood connections, one is left open (silent) until the end. */
const FLOOD_KEEP_EVERY = 30;
const GARBAGE_SESSIONS = 150;
/** Most bytes one drip client sends (one every 50 ms: 30 s), far past the tracker's idle timeout. */
const DRIP_MAX_BYTES = 600;

/** Paces the bad clients (a drip must outlast the tracker's idle timeout in real time: it runs in its own process). */
const delay = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** The resident memory of process `pid`, bytes (VmRSS from /proc, read with `cat`: Deno asks for --allow-all to read /proc). */
async function rssOf(pid: number): Promise<number> {
  const { code, stdout, stderr } = await new Deno.Command("cat", { args: [`/proc/${pid}/status`] }).output();
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(new TextDecoder().decode(stdout));
  if (code !== 0 || !match) throw new Error(`cannot read VmRSS of ${pid}: ${new TextDecoder().decode(stderr)}`);
  return Number(match[1]) * KiB;
}

/** Reads `conn` until its end (or an error: a reset is an end too). */
async function drainToClose(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(16 * KiB);
  try {
    while ((await conn.read(buffer)) !== null) { /* discard */ }
  } catch {
    // ECONNRESET, or our own close: the connection is over either way.
  }
}

/** Malformed requests, for the tracker and for file servers alike. */
const MALFORMED = [
  "UPDATE",
  "UPDATE x 1",
  "UPDATE 70000 1",
  "UPDATE 7000 -1",
  "UPDATE 7000 2\nnot an entry\n5 zz bad.bin",
  "SEND",
  "SEND , ,,",
  `SEND ${"n".repeat(300)}`,
  "SEND ../../etc/passwd",
  "REPORT",
  "REPORT 127.0.0.1:1 OK -1 x",
  "REPORT nowhere MAYBE 1 x",
  "LIST \u0001\u0002",
  "PEERS extra",
  "GET",
  "GET ../../etc/passwd",
  "RANGE -1 5 a",
  "RANGE 0 99999999999999999999999 a",
  "HASHES",
  "\r",
  "\u00ff\u00fe\ud7ff",
];

/**
 * One garbage session: connects to `port`, sends random bytes and malformed
 * lines (sometimes a line over the 64 KiB limit), half-closes, and reads
 * until the server closes. Throws if the server never does.
 */
async function garbageSession(port: number, r: SeededRandom): Promise<void> {
  const conn = await Deno.connect({ hostname: "127.0.0.1", port });
  const reading = drainToClose(conn);
  // Not a timing assertion: a server that answered end of input by hanging would hang the test.
  let hung = false;
  const guard = setTimeout(() => {
    hung = true;
    closeQuietly(conn);
  }, 20_000);
  try {
    const parts: Uint8Array[] = [];
    for (let i = 1 + r.int(8); i > 0; i--) {
      parts.push(
        r.next() < 0.5
          ? randomBytes(1 + r.int(4 * KiB), 1 + r.int(2 ** 31))
          : new TextEncoder().encode(MALFORMED[r.int(MALFORMED.length)] + "\n"),
      );
    }
    if (r.next() < 0.1) parts.push(new Uint8Array(70 * KiB).fill(0x41));
    for (const part of parts) {
      // The server may close first (after a fatal request): then the rest is not sent.
      if (!(await writeAll(conn, part).then(() => true, () => false))) break;
    }
    await conn.closeWrite().catch(() => {});
    await reading;
  } finally {
    clearTimeout(guard);
    closeQuietly(conn);
    await reading;
  }
  if (hung) throw new Error(`the server on port ${port} kept a garbage session open 20 s after its end of input`);
}

/**
 * Sends one byte every 50 ms, never a line feed, until the server closes
 * the connection, `keepGoing()` turns false, or {@link DRIP_MAX_BYTES} are
 * sent. `closed` resolves when the server closes it; a write that fails
 * tells the same (the server closed or reset it), sometimes before the read
 * sees the end.
 */
async function drip(conn: Deno.Conn, keepGoing: () => boolean) {
  let isClosed = false;
  let refused = false;
  const closed = drainToClose(conn).then(() => void (isClosed = true));
  const text = new TextEncoder().encode("SEND a-name-that-never-ends-".repeat(30));
  let sent = 0;
  while (!isClosed && keepGoing() && sent < DRIP_MAX_BYTES) {
    await delay(50);
    if (isClosed) break;
    if (!(await writeAll(conn, text.subarray(sent, sent + 1)).then(() => true, () => false))) {
      refused = true;
      break;
    }
    sent++;
  }
  return { sent, closed, closedByServer: () => isClosed || refused };
}

Deno.test("soak: a tracker serves 200 peers through 2,000 downloads among garbage, drips and a flood, its memory flat", async () => {
  await using root = await tempDir();
  await using tracker = await startServer("tracker", ["--idle-timeout", String(IDLE_TIMEOUT_S)]);
  const r = new SeededRandom(2024);
  const problems: string[] = [];
  const peerErrors: string[] = [];
  let trackerLost = 0;
  /** What the bad clients got done while the downloads ran: each kind must have run. */
  const ran = { garbage: 0, trackerDrips: 0, floodRounds: 0 };

  // 200 peers, each sharing one or two distinct files of 1 B to 64 KiB.
  const shares = await Promise.all(Array.from({ length: PEERS }, async (_, i) => {
    const dir = join(root.path, `peer-${i}`);
    await Deno.mkdir(dir);
    const files = Array.from({ length: 1 + (i % 2) }, (_, j) => {
      const bytes = randomBytes(1 + r.int(64 * KiB), 1 + i * 2 + j);
      return { name: `p${i}-${j}.bin`, bytes, sha256: sha256(bytes) };
    });
    await writeFiles(dir, Object.fromEntries(files.map((f) => [f.name, f.bytes])));
    return { dir, files: files.map(({ name, sha256 }) => ({ name, sha256 })) };
  }));
  const outRoot = join(root.path, "out");
  await Deno.mkdir(outRoot);

  const peers: (Peer & { address: string })[] = [];
  const kept: Deno.Conn[] = [];
  const peerDrips: { conn: Deno.Conn; closed: Promise<void> }[] = [];
  try {
    for (let at = 0; at < PEERS; at += PEER_BATCH) {
      const batch = await Promise.allSettled(
        shares.slice(at, at + PEER_BATCH).map(async ({ dir }) => {
          const peer = await Peer.start({
            tracker: tracker.address,
            hostname: "127.0.0.1",
            port: 0,
            dir,
            heartbeatMs: HEARTBEAT_MS,
            shutdownGraceMs: 1_000,
            onEvent: (e) => void (e.type === "tracker-lost" && trackerLost++),
            onError: (e) => void peerErrors.push(errorMessage(e)),
          });
          return Object.assign(peer, { address: formatAddress(peer.addr.hostname, peer.addr.port) });
        }),
      );
      for (const s of batch) if (s.status === "fulfilled") peers.push(s.value);
      const failed = batch.find((s) => s.status === "rejected");
      if (failed) throw failed.reason;
    }

    // The good load: 2,000 downloads, 20 at a time, each into a folder of its own outside the shared ones.
    let next = 0;
    let done = 0;
    let stopped = false;
    /** Told of every download done, and of the stop: the flood waits on it for its rounds. */
    const progress = new EventLog<{ type: "done" | "stopped" }>();
    let warmRss: Promise<number> | undefined;
    const downloader = async () => {
      while (next < DOWNLOADS) {
        const i = next++;
        const to = r.int(PEERS);
        const from = (to + 1 + r.int(PEERS - 1)) % PEERS;
        const file = shares[from].files[r.int(shares[from].files.length)];
        const outDir = join(outRoot, String(i));
        await Deno.mkdir(outDir);
        const what = `download #${i}: ${file.name} from peer ${from} to peer ${to}`;
        try {
          const { outcomes: [outcome] } = await sendAndFetch(peers[to].tracker, file.name, { outDir });
          if (!outcome.ok) problems.push(`${what}: ${outcome.reason}`);
          else if (outcome.result.from !== peers[from].address) {
            problems.push(`${what}: came from ${outcome.result.from}, not ${peers[from].address}`);
          } else if (sha256(await Deno.readFile(join(outDir, file.name))) !== file.sha256) {
            problems.push(`${what}: the bytes differ`);
          }
        } catch (error) {
          problems.push(`${what}: ${errorMessage(error)}`);
        }
        await Deno.remove(outDir, { recursive: true });
        if (++done === WARM_UP) warmRss = rssOf(tracker.pid);
        progress.push({ type: "done" });
      }
    };

    // Garbage to the tracker (mostly) and to peers' file servers.
    const garbage = async (seed: number) => {
      const g = new SeededRandom(seed);
      for (let n = 0; n < GARBAGE_SESSIONS && !stopped; n++) {
        const port = g.next() < 0.6 ? tracker.port : peers[g.int(PEERS)].addr.port;
        await garbageSession(port, g).catch((error) =>
          problems.push(`garbage to port ${port}: ${errorMessage(error)}`)
        );
        ran.garbage++;
        await delay(20);
      }
    };

    // Drips to the tracker, one after another: each must be dropped by the tracker, not run out of bytes.
    // Once the load is over, the drip under way is let go, unless none was dropped yet: then it runs to its end.
    const trackerDrips = async () => {
      for (let n = 0; n < 30 && !stopped; n++) {
        const conn = await Deno.connect({ hostname: "127.0.0.1", port: tracker.port });
        try {
          const { sent, closed, closedByServer } = await drip(conn, () => !stopped || ran.trackerDrips === 0);
          if (closedByServer()) ran.trackerDrips++;
          else if (sent >= DRIP_MAX_BYTES) problems.push(`the tracker kept a client dripping ${sent} bytes, no line`);
          closeQuietly(conn);
          await closed;
        } finally {
          closeQuietly(conn);
        }
      }
    };

    // Drips to peers' file servers, for as long as the load runs; left open for the peers' close to end.
    const fileServerDrip = async (seed: number) => {
      const peer = peers[new SeededRandom(seed).int(PEERS)];
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: peer.addr.port });
      const { closed } = await drip(conn, () => !stopped);
      peerDrips.push({ conn, closed });
    };

    // Floods of connections opened and closed at once, a round each time the downloads get a fifth further.
    const flood = async () => {
      for (let round = 0; round < FLOOD_ROUNDS && !stopped; round++) {
        const due = round * (DOWNLOADS / FLOOD_ROUNDS);
        await progress.until(`${due} downloads done`, () => done >= due || stopped);
        for (let wave = 0; wave < FLOOD_SIZE; wave += 50) {
          const conns = await Promise.all(
            Array.from({ length: 50 }, () => Deno.connect({ hostname: "127.0.0.1", port: tracker.port })),
          );
          conns.forEach((conn, i) => (wave + i) % FLOOD_KEEP_EVERY === 0 ? kept.push(conn) : conn.close());
        }
        ran.floodRounds++;
      }
    };

    const bad = Promise.all([
      garbage(11),
      garbage(12),
      trackerDrips(),
      trackerDrips(),
      fileServerDrip(21),
      fileServerDrip(22),
      flood(),
    ]);
    try {
      await Promise.all(Array.from({ length: CONCURRENT_DOWNLOADS }, downloader));
    } finally {
      stopped = true;
      progress.push({ type: "stopped" });
      await bad;
    }

    assert.deepEqual(problems, [], `${problems.length} problems (${trackerLost} tracker losses)`);
    assert.deepEqual(peerErrors, []);
    assert.equal(trackerLost, 0, "a peer lost the tracker");
    assert.equal(done, DOWNLOADS);
    assert.ok(ran.garbage > 0 && ran.trackerDrips > 0 && ran.floodRounds > 0, JSON.stringify(ran));

    // Still serving, with exactly the 200 peers in its index.
    using client = await LineClient.connect(tracker.port);
    assert.deepEqual(await client.ask("PING\n"), [{ status: 200, more: false, text: "PONG" }]);
    assert.match((await client.ask("PEERS\n")).at(-1)?.text ?? "", new RegExp(`^END ${PEERS} peers( \\(page 1, |$)`));

    const before = await warmRss!;
    const after = await rssOf(tracker.pid);
    assert.ok(
      after - before < MAX_RSS_GROWTH,
      `the tracker's RSS grew from ${(before / MiB).toFixed(1)} to ${(after / MiB).toFixed(1)} MiB`,
    );
  } finally {
    await Promise.all(peers.map((p) => p.close()));
    // A peer that closes ends the connections waiting for a request at once, a dripping one among them.
    await Promise.all(peerDrips.map((d) => d.closed));
    for (const d of peerDrips) closeQuietly(d.conn);
    for (const conn of kept) closeQuietly(conn);
  }

  tracker.kill("SIGTERM");
  const status = await tracker.exited();
  assert.equal(status.code, 0, tracker.stderr);
  assert.doesNotMatch(tracker.stderr, /error/i);
});
