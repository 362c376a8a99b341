/**
 * `deno task demo`: a tracker and three peers on 127.0.0.1, each with a
 * sample folder in a temporary directory (watched), moving files while you
 * watch; at the end a download waits for a file that then appears.
 * Everything runs in this one process over real loopback sockets.
 *
 * @module
 */

import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { Peer, type PeerEvent, sendAndFetch } from "../peer.ts";
import { relayFile } from "../peer/relay.ts";
import { formatAttempt, formatOutcome, formatPeerEvent, formatTrackerEvent } from "./report.ts";
import { startTracker } from "../tracker.ts";
import { TrackerClient } from "../peer/tracker_client.ts";
import { formatAddress } from "../protocol.ts";

const SAMPLES = fileURLToPath(new URL("../files/", import.meta.url));

/** Runs the demonstration, printing each step with `print`. */
export async function runDemo(print: (line: string) => void): Promise<void> {
  // Declared first, so disposed last: the folders go even if a step fails.
  const root = await Deno.makeTempDir({ prefix: "p2p-demo-" });
  await using _folders = { [Symbol.asyncDispose]: () => Deno.remove(root, { recursive: true }) };
  const folders = {
    alice: join(root, "alice"),
    bob: join(root, "bob"),
    carol: join(root, "carol"),
    dave: join(root, "dave"),
  };
  for (const dir of Object.values(folders)) await Deno.mkdir(dir);
  for await (const entry of Deno.readDir(SAMPLES)) {
    if (entry.isFile) await Deno.copyFile(join(SAMPLES, entry.name), join(folders.alice, entry.name));
  }
  await Deno.copyFile(join(SAMPLES, "hello.txt"), join(folders.bob, "hello.txt"));
  const random = new Uint8Array(8 * 1024 * 1024);
  for (let i = 0; i < random.length; i += 65_536) crypto.getRandomValues(random.subarray(i, i + 65_536));
  await Deno.writeFile(join(folders.bob, "random 8MiB.bin"), random);

  await using tracker = startTracker({
    hostname: "127.0.0.1",
    port: 0,
    onEvent: (e) => print(`[tracker] ${formatTrackerEvent(e)}`),
  });
  const trackerAddress = formatAddress(tracker.addr.hostname, tracker.addr.port);
  print(`[tracker] listening on ${trackerAddress}`);
  const start = (name: keyof typeof folders) =>
    Peer.start({
      tracker: trackerAddress,
      hostname: "127.0.0.1",
      port: 0,
      dir: folders[name],
      infoPath: join(root, `${name}-info.txt`),
      timeoutMs: 2_000,
      watch: true,
      onEvent: (e: PeerEvent) => print(`[${name}] ${formatPeerEvent(e)}`),
      onListening: (a) =>
        print(`[${name}] listening on ${formatAddress(a.hostname, a.port)}, sharing ${folders[name]}`),
    });
  await using alice = await start("alice");
  await using bob = await start("bob");
  await using carol = await start("carol");

  const list = "hello.txt, random 8MiB.bin, table%2C with comma.csv, missing.txt";
  print(`\n[carol] > SEND ${list}`);
  const report = await carol.send(list);
  print(`[carol] the tracker's reply, saved to carol-info.txt:`);
  for (const line of report.reply.trimEnd().split("\n")) print(`          ${line}`);
  for (const outcome of report.outcomes) print(`[carol] ${formatOutcome(outcome).replaceAll("\n", "\n        ")}`);
  print(`[carol] shared the new files: ${report.announced}`);

  print(`\n-- alice stops serving files, but is still listed by the tracker --`);
  await alice.server.close();
  print(`[dave] $ get hello.txt "table, with comma.csv" notes.md "random 8MiB.bin"   (dave only downloads)`);
  print(`        (bob and carol both hold random 8MiB.bin now: it comes from both at once, chunk by chunk)`);
  await using dave = await TrackerClient.connect(trackerAddress);
  const got = await sendAndFetch(dave, "hello.txt, table%2C with comma.csv, notes.md, random 8MiB.bin", {
    outDir: folders.dave,
    timeoutMs: 2_000,
    onAttemptFailed: (name, a) => print(`[dave] ${formatAttempt(name, a)}`),
  });
  for (const outcome of got.outcomes) print(`[dave] ${formatOutcome(outcome).replaceAll("\n", "\n       ")}`);

  print(`\n[dave] $ cat hello.txt   (relay mode: ask each active peer in turn)`);
  const chunks: Uint8Array[] = [];
  const relayed = await relayFile(dave, "hello.txt", {
    write: (bytes) => {
      chunks.push(bytes.slice());
      return Promise.resolve(bytes.length);
    },
  }, { timeoutMs: 2_000, onAttemptFailed: (a) => print(`[dave] ${formatAttempt("hello.txt", a)}`) });
  const text = new TextDecoder().decode(await new Blob(chunks as BlobPart[]).arrayBuffer());
  for (const line of text.trimEnd().split("\n")) print(`          ${line}`);
  print(`[dave] cat: ${relayed.size} bytes from ${relayed.from}`);

  print(`\n[dave] $ get --wait news.txt   (nobody has it yet: the tracker tells dave the moment someone does)`);
  const told = Promise.withResolvers<void>();
  const waiting = sendAndFetch(dave, "news.txt", {
    outDir: folders.dave,
    timeoutMs: 2_000,
    waitSeconds: 30,
    onWaiting: (names) => {
      print(`[dave] waiting for ${names.join(", ")} (up to 30 s)`);
      told.resolve();
    },
  });
  await Promise.race([told.promise, waiting]);
  // Written under a hidden name and renamed, so the watcher never sees it half-written.
  await Deno.writeTextFile(join(folders.bob, ".news.tmp"), "Fresh news: bob saved this file a moment ago.\n");
  print(`[bob] (a file appears in bob's watched folder: news.txt)`);
  await Deno.rename(join(folders.bob, ".news.tmp"), join(folders.bob, "news.txt"));
  for (const outcome of (await waiting).outcomes) print(`[dave] ${formatOutcome(outcome)}`);

  await dave.quit();
  await carol.close();
  await bob.close();
  await alice.close();
  await tracker.close();
  print(`\ndemo done: files moved peer to peer over 127.0.0.1, each verified by SHA-256.`);
}
