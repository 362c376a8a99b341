/**
 * The baseline for the tracker's lookup rate: a bare Deno line server that
 * answers every line (every LF) with the same fixed reply, shaped and sized
 * like a tracker's reply to `SEND <one name>` with one holder (two lines,
 * 131 bytes; `bench/load_client.ts` accepts it as it accepts a tracker's).
 * It parses nothing, looks nothing up, allocates nothing per request: one
 * reused 64 KiB read buffer per connection, and one write per read (the
 * replies to all the lines that read brought). What it serves is about the
 * most a Deno program can answer here; the tracker is measured against it,
 * with the same client, in the same run. Imports nothing of the project.
 *
 * ```sh
 * deno run --allow-net=127.0.0.1 bench/line_server.ts [--host 127.0.0.1] [--port 0]
 * ```
 *
 * Prints `listening on PORT` once it accepts connections; runs until SIGINT or SIGTERM.
 *
 * @module
 */

const LF = 0x0a;
const HOLDER = `200-HOLDER 127.0.0.1:10000 1000 ${"0123abcd".repeat(8)} peer0-file0.bin\n`;
/** The fixed reply: what a tracker answers to `SEND peer0-file0.bin` when one peer at 127.0.0.1:10000 holds it. */
const REPLY = new TextEncoder().encode(`${HOLDER}200 END 1 found, 0 not found\n`);
/** Replies to this many lines are written from one prepared buffer; more take several writes. */
const BATCH = 64;
const REPLIES = new Uint8Array(REPLY.length * BATCH);
for (let i = 0; i < BATCH; i++) REPLIES.set(REPLY, i * REPLY.length);

function flag(name: string, fallback: string): string {
  const at = Deno.args.indexOf(name);
  return at >= 0 && Deno.args[at + 1] !== undefined ? Deno.args[at + 1] : fallback;
}

async function writeAll(conn: Deno.Conn, bytes: Uint8Array): Promise<void> {
  for (let at = 0; at < bytes.length;) at += await conn.write(bytes.subarray(at));
}

/** One connection: read, count the LFs, write that many replies; until the client closes. */
async function serve(conn: Deno.Conn): Promise<void> {
  const buffer = new Uint8Array(65_536);
  try {
    while (true) {
      const n = await conn.read(buffer);
      if (n === null) return;
      let lines = 0;
      for (let i = 0; i < n; i++) if (buffer[i] === LF) lines++;
      while (lines > 0) {
        const k = Math.min(lines, BATCH);
        await writeAll(conn, REPLIES.subarray(0, k * REPLY.length));
        lines -= k;
      }
    }
  } catch {
    // A client that resets its connection: nothing to do but close it.
  } finally {
    try {
      conn.close();
    } catch { /* closed already */ }
  }
}

// Killed by the bench (or Ctrl-C): exit cleanly, so that `--cpu-prof` writes its profile.
for (const signal of ["SIGINT", "SIGTERM"] as const) Deno.addSignalListener(signal, () => Deno.exit(0));
const listener = Deno.listen({ hostname: flag("--host", "127.0.0.1"), port: Number(flag("--port", "0")) });
console.log(`listening on ${listener.addr.port}`);
for await (const conn of listener) serve(conn);
