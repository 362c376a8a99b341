/**
 * The README's walk-through, played as it is written: a tracker, a peer on
 * the sample folder, and a second peer on a pseudo-terminal, typed at. What
 * the second peer shows, the `info.txt` it saves and what the tracker prints
 * must be the README's blocks, line for line, once the ports this run got
 * are written as the README's (4444, 5555, 5556), the folder as `/tmp/mine`,
 * and the ports the system picks for outgoing connections as `*`. Lines
 * that arrive in either order (two downloads side by side) are compared as
 * sets, per command.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { startCliPeer, startCliTracker } from "../helpers/cli.ts";
import { tempDir } from "../helpers/temp.ts";
import { screenAfter, SCRIPT, startPtyPeer } from "../helpers/terminal.ts";

const ROOT = join(import.meta.dirname!, "..", "..");

/** The README's walk-through: what is typed, and the three blocks of what is printed. */
interface WalkThrough {
  /** The second peer's screen, as printed. */
  peer: string[];
  /** `info.txt`. */
  info: string[];
  /** The tracker's lines. */
  tracker: string[];
}

/** Reads the walk-through's code blocks out of README.md. */
function readWalkThrough(): WalkThrough {
  const readme = Deno.readTextFileSync(join(ROOT, "README.md"));
  const start = readme.indexOf("## The walk-through");
  assert.ok(start >= 0, "README.md has a walk-through section");
  const section = readme.slice(start, readme.indexOf("\n## ", start + 1));
  const blocks = [...section.matchAll(/```[a-z]*\n([\s\S]*?)```/g)].map((m) => m[1].trimEnd().split("\n"));
  assert.ok(blocks.length >= 4, "commands, the second peer, info.txt, the tracker");
  const [commands, peer, info, tracker] = blocks;
  // The commands the test plays are the README's: the same roles and flags (ports and folders aside).
  assert.match(commands[0], /^deno task tracker --host 127\.0\.0\.1 /);
  assert.match(commands[1], /^deno task peer --host 127\.0\.0\.1 --dir \.\/files /);
  assert.match(commands[2], /^deno task peer --host 127\.0\.0\.1 --dir \/tmp\/mine --port 5556 /);
  return { peer, info, tracker };
}

/** `line` with this run's ports and folder written as the README's, and the system's outgoing ports as `*`. */
function normalizer(names: Map<string, string>): (line: string) => string {
  return (line) => {
    let out = line;
    for (const [actual, shown] of names) out = out.replaceAll(actual, shown);
    return out.replace(
      /127\.0\.0\.1:(\d+)/g,
      (all, port) => ["4444", "5555", "5556"].includes(port) ? all : "127.0.0.1:*",
    );
  };
}

/**
 * The screen cut at each typed command (`> …`): the first part in order,
 * the others as sorted lines (downloads side by side finish in either
 * order, and the names of one `shared the new files:` line with them).
 */
function byCommand(lines: readonly string[]): string[][] {
  const parts: string[][] = [[]];
  for (const line of lines) {
    if (line.startsWith("> ")) parts.push([line]);
    else {parts.at(-1)!.push(line.replace(/^(shared the new files: )([^(]+)( \()/, (_, a, names, b) =>
        a + names.split(", ").sort().join(", ") + b));}
  }
  return parts.map((part, i) => i === 0 ? part : [part[0], ...part.slice(1).sort()]);
}

Deno.test({
  name: "README: the walk-through, typed at a second peer on a terminal, prints what the README shows",
  ignore: SCRIPT === undefined,
  fn: async () => {
    const readme = readWalkThrough();
    await using work = await tempDir();
    const samples = join(work.path, "files");
    await Deno.mkdir(samples);
    for (const name of ["hello.txt", "notes.md", "table, with comma.csv"]) {
      await Deno.copyFile(join(ROOT, "files", name), join(samples, name));
    }
    const mine = join(work.path, "mine"); // not there yet: the peer creates it, as the README shows
    await using tracker = await startCliTracker();
    await using first = await startCliPeer(tracker.address, { dir: samples, info: join(work.path, "first-info.txt") });

    const { run: second, port } = await startPtyPeer(tracker.address, mine, { cwd: work.path });
    await using _second = second;
    const normalize = normalizer(
      new Map([
        [`127.0.0.1:${tracker.port}`, "127.0.0.1:4444"],
        [`127.0.0.1:${first.port}`, "127.0.0.1:5555"],
        [`127.0.0.1:${port}`, "127.0.0.1:5556"],
        [mine, "/tmp/mine"],
      ]),
    );
    const screen = () => screenAfter(second.text).map(normalize).filter((l) => l !== "> ");
    const expected = byCommand(readme.peer);

    // Each command of the README typed in turn; its answer awaited until every line the README shows for it is there.
    for (const [i, part] of expected.entries()) {
      if (i === 0) continue;
      await second.type(`${part[0].slice(2)}\r`);
      const shows = () => byCommand(screen())[i]?.length === part.length;
      for (let seen = second.text.length; !shows() && part[0] !== "> QUIT";) {
        seen = await second.waitFor(/[\s\S]/, seen);
      }
    }
    assert.equal(await second.exited(), 0);
    assert.deepEqual(byCommand(screen()), expected);

    const info = (await Deno.readTextFile(join(work.path, "info.txt"))).trimEnd().split("\n").map(normalize);
    assert.deepEqual(info, readme.info);

    await tracker.waitFor(/ left; 2 files removed from the index$/m);
    const trackerLines = tracker.stdout.trimEnd().split("\n").map(normalize);
    assert.deepEqual(trackerLines.toSorted(), readme.tracker.map(normalize).toSorted());
  },
});
