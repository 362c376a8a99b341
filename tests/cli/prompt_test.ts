/**
 * The peer's prompt (`cli/prompt.ts`) over a real tracker and real peers on
 * loopback, typed at through a fake keyboard and drawn on a fake terminal
 * (read back with the pseudo-terminal tests' `screenAfter`): at a terminal
 * commands run while a `SEND` downloads or waits, Ctrl-C cancels what runs
 * (keeping what arrived of a big file) before it clears a line and before
 * it stops the peer, `QUIT` and Ctrl-D stop it saying what they cancel, and
 * the terminal's mode is given back on every way out; piped, one command
 * runs after the other; `LIST`, `PEERS` and `STATS` answer in words at a
 * terminal, as the tracker's lines for a script, and as JSON with `--json`;
 * `PARTS` and `CLEAN` see the download folder's leftovers.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ProgressDisplay, type Screen } from "../../cli/progress.ts";
import { type Keyboard, Prompt, type PromptOptions } from "../../cli/prompt.ts";
import { settled } from "../helpers/clock.ts";
import { Changes, WAIT_MS, within } from "../helpers/events.ts";
import { BufferedReader } from "../../io/reader.ts";
import { MiB } from "../helpers/hashes.ts";
import { gatedHolder } from "../helpers/holders.ts";
import { announceAt } from "../helpers/net.ts";
import { hiddenFiles } from "../helpers/part_files.ts";
import { randomBytes } from "../helpers/random.ts";
import { type TestPeer, testPeer, testTracker } from "../helpers/roles.ts";
import { screenAfter } from "../helpers/terminal.ts";

/** Standard input as a test types at it: a terminal or a pipe; what raw mode was set to, in order. */
class FakeKeyboard implements Keyboard {
  readonly modes: boolean[] = [];
  #chunks: Uint8Array[] = [];
  #ended = false;
  #failure: Error | undefined;
  #wake: (() => void) | undefined;
  readonly #terminal: boolean;

  constructor(terminal: boolean) {
    this.#terminal = terminal;
  }

  /** Types `text` (keys and escape sequences as a terminal sends them). */
  type(text: string): void {
    this.#chunks.push(new TextEncoder().encode(text));
    this.#wake?.();
  }

  /** The end of input (a pipe closed, a terminal hung up). */
  end(): void {
    this.#ended = true;
    this.#wake?.();
  }

  /** The next read fails with `error`. */
  fail(error: Error): void {
    this.#failure = error;
    this.#wake?.();
  }

  async read(buffer: Uint8Array): Promise<number | null> {
    while (this.#chunks.length === 0 && !this.#ended && !this.#failure) {
      await new Promise<void>((resolve) => this.#wake = resolve);
    }
    if (this.#failure) throw this.#failure;
    const chunk = this.#chunks.shift();
    if (!chunk) return null;
    const n = Math.min(buffer.length, chunk.length);
    buffer.set(chunk.subarray(0, n));
    if (n < chunk.length) this.#chunks.unshift(chunk.subarray(n));
    return n;
  }

  isTerminal(): boolean {
    return this.#terminal;
  }

  setRaw(raw: boolean): void {
    this.modes.push(raw);
  }
}

/** Standard output: a terminal 100 columns wide or not; waits for what it shows. */
class FakeScreen implements Screen {
  text = "";
  readonly isTerminal: boolean;
  #changes = new Changes();

  constructor(isTerminal: boolean) {
    this.isTerminal = isTerminal;
  }

  write(text: string): void {
    this.text += text;
    this.#changes.changed();
  }

  columns(): number {
    return 100;
  }

  /** The lines shown now (the prompt line last, at a terminal). */
  lines(): string[] {
    // A terminal's output processing starts a new line at each line feed (the pseudo-terminal tests see CR LF).
    return this.isTerminal
      ? screenAfter(this.text.replaceAll("\n", "\r\n")).filter((l) => l !== "")
      : this.text.split("\n");
  }

  /** Waits until a line shown matches `pattern`; returns it. */
  line(pattern: RegExp): Promise<string> {
    return this.#changes.until(() => this.lines().find((l) => pattern.test(l)), {
      failure: () => `no line ${pattern} on the screen:\n${this.lines().join("\n")}`,
    });
  }
}

/** A prompt over `peer`, its keyboard and screen, running; dispose stops the display (and its timer). */
function startPrompt(
  peer: TestPeer,
  options: { terminal: boolean; screen?: boolean; json?: boolean; stopped?: Promise<unknown> },
) {
  const keyboard = new FakeKeyboard(options.terminal);
  const screen = new FakeScreen(options.screen ?? options.terminal);
  const out = new ProgressDisplay(screen);
  const promptOptions: PromptOptions = {
    flags: { json: options.json ?? false, waitSeconds: 300 },
    out,
    keyboard,
    stopped: options.stopped,
  };
  const prompt = new Prompt(peer, promptOptions);
  const running = prompt.run();
  running.catch(() => {}); // a test that fails early must not leave an unhandled rejection
  return {
    keyboard,
    screen,
    prompt,
    running,
    [Symbol.dispose]: () => out.close(),
  };
}

Deno.test("prompt at a terminal: PEERS is answered while a SEND waits; Ctrl-C cancels the wait, and on an empty idle line stops", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("SEND --wait later.txt\r");
  await p.screen.line(/^waiting for later\.txt \(up to 300 s\)$/);
  p.keyboard.type("PEERS\r");
  await p.screen.line(/^1 peer$/);
  assert.equal(p.screen.lines().at(-1), "> ", "the prompt line is last, empty");
  p.keyboard.type("\x03");
  await p.screen.line(/^cancelled 1 wait \(later\.txt\); Ctrl-C again or QUIT stops the peer$/);
  await p.screen.line(/^failed later\.txt: cancelled while waiting; nobody had announced it yet$/);
  assert.equal(await settled(p.running), false, "the peer goes on");
  await p.prompt.settled();
  p.keyboard.type("\x03");
  assert.equal(await p.running, "Ctrl-C");
  assert.deepEqual(p.keyboard.modes, [true, false], "raw mode on, then given back");
  assert.equal(p.screen.lines().at(-1), "> ^C", "the prompt line is gone; the Ctrl-C stays, as typed");
});

Deno.test("prompt at a terminal: Ctrl-C with text typed and nothing running clears the line; QUIT with words after it is refused", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("LIST abc");
  await p.screen.line(/^> LIST abc$/);
  p.keyboard.type("\x03");
  await p.screen.line(/^cleared the line; Ctrl-C again or QUIT stops the peer$/);
  assert.deepEqual(p.screen.lines().slice(-3), [
    "> LIST abc^C",
    "cleared the line; Ctrl-C again or QUIT stops the peer",
    "> ",
  ]);
  p.keyboard.type("QUIT now\r");
  await p.screen.line(/^QUIT: unexpected "now"; type QUIT alone to stop the peer$/);
  assert.equal(await settled(p.running), false);
  // Refused once, and only once: not also run as an unknown command.
  p.keyboard.type("HELP\r");
  await p.screen.line(/^ {2}QUIT /);
  assert.ok(!p.screen.lines().some((l) => l.startsWith("unknown command")), p.screen.lines().join("\n"));
  p.keyboard.type("exit\r");
  assert.equal(await p.running, "EXIT");
  assert.deepEqual(p.keyboard.modes, [true, false]);
});

Deno.test("prompt at a terminal: QUIT while a download runs cancels it and says so", async () => {
  await using tracker = testTracker();
  const data = randomBytes(600_000, 171);
  await using slow = gatedHolder(data, 300_000);
  using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("SEND slow.bin\r");
  await p.screen.line(/^slow\.bin \[#{6}-{6}\] {3}50% /);
  p.keyboard.type("QUIT\r");
  assert.equal(await p.running, "QUIT");
  await p.screen.line(/^QUIT: cancelled 1 download \(slow\.bin\)$/);
  await p.screen.line(/^failed slow\.bin: cancelled/);
  await p.prompt.settled();
  assert.deepEqual(p.keyboard.modes, [true, false]);
});

Deno.test("prompt at a terminal: Ctrl-C cancels a running download, keeps what arrived; PARTS lists it, CLEAN removes it", async () => {
  await using tracker = testTracker();
  const data = randomBytes(3 * MiB + 5, 172);
  // 512 KiB/s: the download certainly runs for a few seconds; a chunk (1 MiB) lands within about two.
  await using _holder = await testPeer(tracker.address, { "big.bin": data }, { maxUploadRate: 512 * 1024 });
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("SEND big.bin\r");
  // Past the first chunk (1 MiB, 34%), not yet at the second (67%).
  await p.screen.line(/^big\.bin \[#+-+\] +(3[4-9]|[45]\d|6[0-5])% /);
  p.keyboard.type("\x03");
  await p.screen.line(/^cancelled 1 download \(big\.bin\); Ctrl-C again or QUIT stops the peer$/);
  await p.screen.line(/^failed big\.bin: cancelled; kept 1\.00 MiB of big\.bin in .* for the next try/);
  await p.prompt.settled();
  const { part } = await hiddenFiles(peer.dir);
  assert.ok(part, "the part file stays");
  p.keyboard.type("PARTS\r");
  await p.screen.line(/^big\.bin: 1\.00 MiB of 3\.00 MiB arrived/);
  p.keyboard.type("CLEAN\r");
  await p.screen.line(/^removed 1 leftover download from /);
  await p.prompt.settled();
  assert.equal((await hiddenFiles(peer.dir)).part, undefined, "the part file is gone");
  p.keyboard.type("QUIT\r");
  assert.equal(await p.running, "QUIT");
});

Deno.test("prompt at a terminal: Ctrl-D on an empty line quits; on typed text it deletes the character under the cursor", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("HELPX\x1b[D\x04");
  await p.screen.line(/^> HELP$/);
  p.keyboard.type("\r");
  await p.screen.line(/^ {2}PARTS /);
  await p.screen.line(/^Keys: /);
  p.keyboard.type("\x04");
  assert.equal(await p.running, "Ctrl-D");
  assert.equal(p.screen.lines().at(-1), "> ^D");
  assert.deepEqual(p.keyboard.modes, [true, false]);
});

Deno.test("prompt at a terminal: a stop (a signal) ends it, the prompt line goes and raw mode is given back", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address);
  const stop = Promise.withResolvers<string>();
  using p = startPrompt(peer, { terminal: true, stopped: stop.promise });
  p.keyboard.type("PEE");
  await p.screen.line(/^> PEE$/);
  stop.resolve("SIGTERM");
  assert.equal(await p.running, "SIGTERM");
  assert.deepEqual(p.keyboard.modes, [true, false]);
  assert.ok(!p.screen.lines().includes("> PEE"), p.screen.lines().join("\n"));
});

Deno.test("prompt at a terminal: when reading the keyboard fails, raw mode is given back and the error goes on", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("LI");
  await p.screen.line(/^> LI$/);
  p.keyboard.fail(new Deno.errors.BadResource("stdin is gone"));
  await assert.rejects(p.running, Deno.errors.BadResource);
  assert.deepEqual(p.keyboard.modes, [true, false]);
});

Deno.test("prompt piped: each command runs to its end before the next is read (QUIT after SEND waits for the file)", async () => {
  await using tracker = testTracker();
  const data = randomBytes(600_000, 173);
  await using slow = gatedHolder(data, 300_000);
  using _announced = await announceAt(tracker.addr.port, slow.port, [[data, "slow.bin"]]);
  await using peer = await testPeer(tracker.address);
  // Standard output a terminal, so that the live line shows the download half-way.
  using p = startPrompt(peer, { terminal: false, screen: true });
  p.keyboard.type("SEND slow.bin\nQUIT\n");
  await p.screen.line(/^slow\.bin \[#{6}-{6}\] {3}50% /);
  assert.equal(await settled(p.running), false, "QUIT waits for the SEND before it");
  assert.deepEqual(p.keyboard.modes, [], "no raw mode for piped input");
  slow.release();
  assert.equal(await p.running, "QUIT");
  await p.screen.line(/^saved slow\.bin \(586 KiB\) from /);
});

Deno.test("prompt piped: the end of input leaves the peer serving (false), after the last command ended", async () => {
  await using tracker = testTracker();
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: false });
  p.keyboard.type("STATS\nBOGUS\n");
  p.keyboard.end();
  assert.equal(await p.running, false);
  assert.match(p.screen.text, /^200 STATS sessions=1 peers=1 /m);
  assert.match(p.screen.text, /^unknown command "BOGUS"; try HELP$/m);
});

/** Two files at a holder, one with a name that needs quotes at the prompt; a peer to ask from. */
async function listed(tracker: string) {
  const holder = await testPeer(tracker, { "a, b 100%.txt": "odd\n", "notes.txt": "notes\n" });
  return holder;
}

Deno.test("prompt: LIST, PEERS and STATS in words at a terminal (names as SEND takes them)", async () => {
  await using tracker = testTracker();
  await using holder = await listed(tracker.address);
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("LIST\r");
  await p.screen.line(/^2 files indexed$/);
  const files = p.screen.lines().filter((l) => / holder /.test(l));
  assert.match(files[0], /^4 B {2}1 holder +[0-9a-f]{8} {2}"a, b 100%\.txt"$/);
  assert.match(files[1], /^6 B {2}1 holder +[0-9a-f]{8} {2}notes\.txt$/);
  p.keyboard.type("PEERS --page 1\r");
  await p.screen.line(/^2 peers$/);
  assert.ok(p.screen.lines().includes(`${holder.address}  2 files`), p.screen.lines().join("\n"));
  p.keyboard.type("PEERS everyone\r");
  await p.screen.line(/^PEERS: unexpected "everyone"; type PEERS, or PEERS --page N for page N$/);
  p.keyboard.type("STATS\r");
  await p.screen.line(/^tracker: 2 peers \(2 sessions\), 2 files \(2 copies\), 0 names waited for; \d+ requests /);
  p.keyboard.type("LIST --page x\r");
  await p.screen.line(/^LIST: .*; type LIST --page N \[text\], N from 1$/);
  p.keyboard.type("QUIT\r");
  assert.equal(await p.running, "QUIT");
});

Deno.test("prompt: LIST and PEERS print the tracker's lines when standard output is not a terminal, JSON with --json", async () => {
  await using tracker = testTracker();
  await using holder = await listed(tracker.address);
  await using peer = await testPeer(tracker.address);
  {
    using p = startPrompt(peer, { terminal: false });
    p.keyboard.type("LIST 100\nPEERS\n");
    p.keyboard.end();
    assert.equal(await p.running, false);
    assert.match(p.screen.text, /^200-FILE 4 [0-9a-f]{64} 1 a%2C b 100%25\.txt\n200 END 1 files?\n/m);
    assert.match(p.screen.text, /^200 END 2 peers$/m);
  }
  using p = startPrompt(peer, { terminal: false, json: true });
  p.keyboard.type("LIST 100\nPEERS\nSTATS\n");
  p.keyboard.end();
  assert.equal(await p.running, false);
  const [list, peers, stats] = p.screen.text.trim().split("\n").map((l) => JSON.parse(l));
  assert.deepEqual(list.files.map((f: { name: string }) => f.name), ["a, b 100%.txt"]);
  assert.deepEqual({ total: list.total, page: list.page }, { total: 1, page: 1 });
  assert.ok(peers.peers.some((q: { address: string }) => q.address === holder.address));
  assert.equal(stats.stats.files, 2);
});

Deno.test("prompt: SEND takes a quoted name as written and -- before a name that starts with --; refuses a bad option", async () => {
  await using tracker = testTracker();
  await using _holder = await listed(tracker.address);
  await using peer = await testPeer(tracker.address);
  using p = startPrompt(peer, { terminal: false });
  p.keyboard.type('SEND "a, b 100%.txt"\nSEND --Wait notes.txt\nSEND -- --odd.txt\nSEND --wait\n');
  p.keyboard.end();
  assert.equal(await p.running, false);
  const text = p.screen.text;
  assert.match(text, /^saved a, b 100%\.txt \(4 B\) from /m);
  assert.equal(await Deno.readTextFile(join(peer.dir, "a, b 100%.txt")), "odd\n");
  assert.match(
    text,
    /^SEND: unknown option --Wait \(did you mean --wait\?\); a name starting with -- goes after --: SEND -- --Wait notes\.txt$/m,
  );
  assert.match(text, /^failed --odd\.txt: 404 not found/m);
  assert.match(text, /^SEND: no file name given; type SEND name\[, name\.\.\.\] after --wait$/m);
});

/**
 * A tracker in front of `tracker` that passes every line both ways but
 * swallows `PEERS`: a PEERS asked through it waits until its timeout.
 */
function silentOnPeers(tracker: string): Deno.Listener & { address: string } {
  const [hostname, port] = tracker.split(":");
  const listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const relay = async (client: Deno.Conn) => {
    const upstream = await Deno.connect({ hostname, port: Number(port) });
    const down = upstream.readable.pipeTo(client.writable).catch(() => {});
    const reader = new BufferedReader(client);
    const encoder = new TextEncoder();
    try {
      for (let line = await reader.readLine(); line !== null; line = await reader.readLine()) {
        if (!line.startsWith("PEERS")) await upstream.write(encoder.encode(line + "\n"));
      }
    } catch { /* the peer hung up */ }
    quietly(() => upstream.close());
    await down;
  };
  const quietly = (close: () => void) => {
    try {
      close();
    } catch { /* closed already: a piped stream's end closes its connection */ }
  };
  (async () => {
    for await (const conn of listener) relay(conn).catch(() => {}).finally(() => quietly(() => conn.close()));
  })().catch(() => {});
  return Object.assign(listener, { address: `127.0.0.1:${listener.addr.port}` });
}

Deno.test("prompt at a terminal: QUIT while a PEERS waits on a silent tracker stops at once; it waits only for the SENDs it cancelled", async () => {
  await using tracker = testTracker();
  using silent = silentOnPeers(tracker.address);
  await using peer = await testPeer(silent.address, {}, { timeoutMs: 10 * WAIT_MS });
  using p = startPrompt(peer, { terminal: true });
  p.keyboard.type("PEERS\r");
  await p.screen.line(/^> PEERS$/);
  p.keyboard.type("QUIT\r");
  assert.equal(await within("the prompt's end after QUIT", p.running), "QUIT");
});
