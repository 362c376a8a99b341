/**
 * A minimal load client for the tracker's `SEND` lookups, written apart from
 * the project (it imports nothing of it, only Deno's built-ins), so that a
 * lookup rate is not the project measuring itself. Run it as a process of
 * its own:
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 --allow-read bench/load_client.ts \
 *   --to 127.0.0.1:4444 --connections 50 --depth 1 --seconds 4 --warmup 0.5 \
 *   (--names FILE | --name NAME)
 * ```
 *
 * - `--to HOST:PORT`: the server (a tracker, or `bench/line_server.ts`).
 * - `--connections N` (default 50): persistent connections, all opened before the clock starts.
 * - `--depth D` (default 1): requests in flight on each connection. At 1 a
 *   connection sends `SEND <name>`, waits for the whole reply, sends the next;
 *   at D it keeps D sent and sends one more for each reply completed (the
 *   replies to one read go out as one write).
 * - `--seconds S` (default 4): how long replies are counted, after `--warmup W`
 *   seconds (default 0.5) of the same load whose replies are not counted.
 * - `--names FILE`: one name per line, each request asks for one of them at
 *   random (a fixed seed: the same sequence every run); `--name NAME`: always
 *   that one. Names are sent as written (already in the wire's encoding).
 *
 * What counts as a reply: the tracker answers `SEND <one name>` with lines
 * `200-HOLDER <address> <size> <sha256> <name>` (one per holder) and a last
 * line `200 END 1 found, 0 not found` (docs/PROTOCOL.md, `formatSendReply` in
 * protocol.ts). A reply is counted when its last line (a status code followed
 * by a space) has arrived whole; it counts as an error instead unless every
 * line of it has status 200 and its last line is exactly
 * `200 END 1 found, 0 not found` (a name not found, refused, or a `4xx`/`5xx`
 * line are errors). A connection closed by the server counts one error and
 * stops. Latency is from the write that carried the request to the read that
 * completed its reply.
 *
 * Prints one JSON line to stdout:
 * `{"requests":…,"seconds":…,"rps":…,"p50Ms":…,"p99Ms":…,"errors":…,"connections":…,"depth":…,"replies":…}`
 * (`replies`: every reply, those of the warm-up and of the last requests included, to weigh the server's CPU time).
 *
 * @module
 */

const USAGE = "usage: load_client.ts --to HOST:PORT [--connections 50] [--depth 1] [--seconds 4] [--warmup 0.5] " +
  "(--names FILE | --name NAME)";

const LF = 0x0a;
const SPACE = 0x20;
const CR = 0x0d;
const EXPECTED_END = "200 END 1 found, 0 not found";
const EXPECTED = new TextEncoder().encode(EXPECTED_END);
const STATUS_200 = new TextEncoder().encode("200");
/** Latency histogram: 1 µs buckets up to this many, the rest in the last one. */
const BUCKETS = 1_000_000;

interface Config {
  hostname: string;
  port: number;
  connections: number;
  depth: number;
  seconds: number;
  warmup: number;
  names: string[];
}

function fail(message: string): never {
  console.error(`load_client: ${message}\n${USAGE}`);
  Deno.exit(2);
}

function positive(flag: string, text: string | undefined, integer: boolean): number {
  const value = Number(text);
  if (text === undefined || !Number.isFinite(value) || value < 0 || (integer && !Number.isInteger(value))) {
    fail(`${flag} ${text ?? ""}: expected a ${integer ? "whole " : ""}number`);
  }
  return value;
}

function parseConfig(args: string[]): Config {
  const values = new Map<string, string>();
  for (let i = 0; i < args.length; i += 2) {
    const flag = args[i];
    if (!["--to", "--connections", "--depth", "--seconds", "--warmup", "--names", "--name"].includes(flag)) {
      fail(`unknown argument ${flag}`);
    }
    if (args[i + 1] === undefined) fail(`${flag} needs a value`);
    values.set(flag, args[i + 1]);
  }
  const to = values.get("--to") ?? fail("--to HOST:PORT is required");
  const colon = to.lastIndexOf(":");
  const port = Number(to.slice(colon + 1));
  if (colon <= 0 || !Number.isInteger(port) || port <= 0 || port > 65_535) fail(`--to ${to}: expected HOST:PORT`);
  let names: string[];
  if (values.has("--names")) {
    const file = values.get("--names")!;
    names = Deno.readTextFileSync(file).split("\n").map((line) => line.trim()).filter((line) => line !== "");
    if (names.length === 0) fail(`--names ${file}: no names in it`);
  } else if (values.has("--name")) {
    names = [values.get("--name")!];
  } else {
    fail("--names FILE or --name NAME is required");
  }
  const depth = positive("--depth", values.get("--depth") ?? "1", true);
  const connections = positive("--connections", values.get("--connections") ?? "50", true);
  if (depth < 1 || connections < 1) fail("--depth and --connections must be at least 1");
  return {
    hostname: to.slice(0, colon).replace(/^\[|\]$/g, ""),
    port,
    connections,
    depth,
    seconds: positive("--seconds", values.get("--seconds") ?? "4", false),
    warmup: positive("--warmup", values.get("--warmup") ?? "0.5", false),
    names,
  };
}

/** Shared by all connections: the clock's phases, the counts, the histogram. */
class Tally {
  counting = false;
  stopping = false;
  requests = 0;
  errors = 0;
  /** Every reply, counted or not (warm-up and drain included): what the server did while the client ran. */
  replies = 0;
  histogram = new Uint32Array(BUCKETS);

  record(latencyMs: number, ok: boolean): void {
    this.replies++;
    if (!this.counting) return;
    if (!ok) {
      this.errors++;
      return;
    }
    this.requests++;
    const us = Math.floor(latencyMs * 1000);
    this.histogram[us < BUCKETS ? us : BUCKETS - 1]++;
  }

  /** The latency below which a fraction `q` of the counted replies completed, ms. */
  quantile(q: number): number {
    if (this.requests === 0) return 0;
    const rank = Math.ceil(q * this.requests);
    let seen = 0;
    for (let us = 0; us < BUCKETS; us++) {
      seen += this.histogram[us];
      if (seen >= rank) return us / 1000;
    }
    return BUCKETS / 1000;
  }
}

/** Picks names at random, the same sequence every run; their request lines encoded once. */
class Requests {
  #lines: Uint8Array[];
  #seed: number;
  #out = new Uint8Array(4096);

  /** Connection `c`'s requests: its own sequence, the same every run. */
  constructor(names: string[], c: number) {
    this.#seed = 12_345 + c;
    const encoder = new TextEncoder();
    this.#lines = names.map((name) => encoder.encode(`SEND ${name}\n`));
  }

  /** `count` request lines in one buffer (valid until the next call on this connection's copy). */
  next(count: number): Uint8Array {
    let length = 0;
    for (let i = 0; i < count; i++) {
      this.#seed = (this.#seed * 1_103_515_245 + 12_345) & 0x7fffffff;
      const line = this.#lines[this.#seed % this.#lines.length];
      if (length + line.length > this.#out.length) {
        const grown = new Uint8Array(2 * (length + line.length));
        grown.set(this.#out.subarray(0, length));
        this.#out = grown;
      }
      this.#out.set(line, length);
      length += line.length;
    }
    return this.#out.subarray(0, length);
  }
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** One connection's loop: keeps `depth` requests in flight until the tally stops, then waits for their replies. */
async function drive(conn: Deno.Conn, c: number, config: Config, tally: Tally): Promise<void> {
  const requests = new Requests(config.names, c);
  const buffer = new Uint8Array(65_536);
  /** Send times of the requests in flight, oldest first (a ring of `depth`). */
  const sent = new Float64Array(config.depth);
  let head = 0;
  let inFlight = 0;
  // The reply being read, byte by byte (nothing copied): the column in the current line, whether every line so far
  // said 200, whether the current line is a last one (code then space), and whether it still matches EXPECTED_END.
  let column = 0;
  let replyOk = true;
  let last = false;
  let endMatches = true;
  let previous = 0;
  const send = async (count: number) => {
    const t = performance.now();
    for (let i = 0; i < count; i++) sent[(head + inFlight + i) % config.depth] = t;
    inFlight += count;
    await writeAll(conn, requests.next(count));
  };
  await send(config.depth);
  while (inFlight > 0) {
    const n = await conn.read(buffer);
    if (n === null) {
      tally.errors++;
      return;
    }
    const t = performance.now();
    let done = 0;
    for (let i = 0; i < n; i++) {
      const byte = buffer[i];
      if (byte === LF) {
        if (column < 4) replyOk = false;
        // A CR before the LF is allowed: it sits where EXPECTED_END has ended.
        const length = previous === CR ? column - 1 : column;
        if (last || column < 4) {
          tally.record(t - sent[head], replyOk && last && endMatches && length === EXPECTED.length);
          head = (head + 1) % config.depth;
          inFlight--;
          done++;
          replyOk = true;
        }
        column = 0;
        last = false;
        endMatches = true;
        previous = byte;
        continue;
      }
      if (column < 3) {
        if (byte !== STATUS_200[column]) replyOk = false;
      } else if (column === 3) {
        last = byte === SPACE;
      }
      if (endMatches && byte !== EXPECTED[column] && !(byte === CR && column === EXPECTED.length)) endMatches = false;
      column++;
      previous = byte;
    }
    if (done > 0 && !tally.stopping) await send(done);
  }
}

async function main(): Promise<void> {
  const config = parseConfig(Deno.args);
  const conns: Deno.Conn[] = [];
  try {
    for (let c = 0; c < config.connections; c++) {
      conns.push(await Deno.connect({ hostname: config.hostname, port: config.port }));
    }
  } catch (error) {
    for (const conn of conns) conn.close();
    console.error(
      `load_client: cannot connect to ${config.hostname}:${config.port} (${(error as Error).message}); ` +
        "is the server running?",
    );
    Deno.exit(1);
  }
  const tally = new Tally();
  // A connection that fails (reset by the server, say) counts one error and stops; the others go on.
  const loops = Promise.all(conns.map((conn, c) => drive(conn, c, config, tally).catch(() => tally.errors++)));
  await new Promise((resolve) => setTimeout(resolve, config.warmup * 1000));
  tally.counting = true;
  const start = performance.now();
  await new Promise((resolve) => setTimeout(resolve, config.seconds * 1000));
  tally.counting = false;
  tally.stopping = true;
  const seconds = (performance.now() - start) / 1000;
  try {
    await loops;
  } finally {
    for (const conn of conns) conn.close();
  }
  const round = (x: number, digits: number) => Number(x.toFixed(digits));
  console.log(JSON.stringify({
    requests: tally.requests,
    seconds: round(seconds, 3),
    rps: Math.round(tally.requests / seconds),
    p50Ms: round(tally.quantile(0.5), 3),
    p99Ms: round(tally.quantile(0.99), 3),
    errors: tally.errors,
    connections: config.connections,
    depth: config.depth,
    replies: tally.replies,
  }));
}

if (import.meta.main) await main();
