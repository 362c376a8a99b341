/**
 * A download in progress on disk: the bytes in a hidden `.p2p-<key>.part`
 * file beside the target, and a `.p2p-<key>.journal` sidecar naming the file
 * (name, size, SHA-256, chunk root) and listing, one per line, the chunks
 * written in full. Run the same download again and it finds both and carries
 * on; the journal is only a hint: every chunk it lists is checked against the
 * chunk hashes before it counts.
 *
 * The key is derived from the name and the announced version, so a resumed
 * download may come from any holder of the same version. Hidden names are
 * never shared, and nothing here is ever at the final name until it is
 * verified and renamed into place.
 *
 * While it is open, the part file holds an advisory lock, so that
 * {@link findLeftovers} and {@link removeLeftover}, which list and discard
 * what interrupted downloads left, can tell a download still running (in
 * this process or another) and leave it alone.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { basename, join } from "node:path";
import { chunkSpan } from "../protocol.ts";
import { LocalError, localError } from "../io/errors.ts";
import { encodeText } from "../io/streams.ts";

/** The name of a part file or journal: `.p2p-<key>.part`, `.p2p-<key>.journal` (the key: 32 hex digits). */
const PART_NAME = /^\.p2p-([0-9a-f]{32})\.(part|journal)$/;

/** The version of a file being downloaded. */
export interface PartTarget {
  /** The file's name. */
  name: string;
  /** Its size. */
  size: number;
  /** Its SHA-256. */
  sha256: string;
  /** Chunk root; without it the download cannot be resumed (its chunks could not be checked). */
  root?: string;
}

/** Options of {@link PartFile.land}. */
export interface LandOptions {
  /** Makes the hard link (`Deno.link`); a file system without hard links throws something other than `AlreadyExists`. */
  link?: (from: string, to: string) => Promise<void>;
  /** Told the moment the file is at `target`, before the part file's name goes (those reading it move over). */
  onLanded?: () => void;
}

/** Part files open in this process, by path: two downloads of one file into one folder would trample each other. */
const open = new Set<string>();

/** A part file and its journal. */
export class PartFile {
  /** Path of the part file. */
  readonly path: string;
  /** Chunks the journal lists from an earlier run, not yet checked. */
  readonly claimed: number[];
  #size: number;
  /** Chunks the journal lists: claimed, and recorded by this run. */
  #listed = new Set<number>();
  #file: Deno.FsFile;
  #journal: Deno.FsFile | undefined;
  #journalPath: string;
  #closed = false;
  /** Landed or removed: nothing left to clean up. */
  #gone = false;

  private constructor(
    path: string,
    open: { size: number; journalPath: string; file: Deno.FsFile; journal: Deno.FsFile | undefined },
  ) {
    this.path = path;
    this.#size = open.size;
    this.#journalPath = open.journalPath;
    this.#file = open.file;
    this.#journal = open.journal;
    this.claimed = [];
  }

  /**
   * Opens the part file for `target` in `dir`, picking up an earlier run's
   * work when its journal names the same version. Throws {@link LocalError}
   * when the folder cannot be written, or when this process is already
   * downloading the same file there.
   */
  static async open(dir: string, target: PartTarget): Promise<PartFile> {
    const key = createHash("sha256")
      .update(JSON.stringify([target.name, target.size, target.sha256, target.root ?? ""]))
      .digest("hex")
      .slice(0, 32);
    // Both names must match PART_NAME, or findLeftovers would never find them.
    const path = join(dir, `.p2p-${key}.part`);
    const journalPath = join(dir, `.p2p-${key}.journal`);
    if (open.has(path)) throw new LocalError(`${target.name} is already being downloaded into ${dir}`);
    open.add(path);
    try {
      const header = JSON.stringify({ v: 1, ...target }) + "\n";
      const claimed = target.root === undefined ? [] : await readJournal(journalPath, header);
      // A stale part file is removed, not truncated: on ext4, truncating makes
      // the next close flush the file to disk (auto_da_alloc), 300 ms per GiB.
      if (claimed.length === 0) await Deno.remove(path).catch(() => {});
      const file = await Deno.open(path, { read: true, write: true, create: true });
      let journal: Deno.FsFile | undefined;
      try {
        // Held until close: a clean-up of leftovers (even in another process) sees the download running.
        if (!await tryLock(file)) {
          throw new LocalError(`${target.name} is being downloaded into ${dir} by another process`);
        }
        if (target.root !== undefined) {
          if (claimed.length === 0) await Deno.writeTextFile(journalPath, header);
          journal = await Deno.open(journalPath, { append: true });
        }
      } catch (error) {
        file.close();
        throw error;
      }
      const part = new PartFile(path, { size: target.size, journalPath, file, journal });
      part.claimed.push(...claimed);
      for (const i of claimed) part.#listed.add(i);
      return part;
    } catch (error) {
      open.delete(path);
      if (error instanceof LocalError) throw error;
      throw localError(`cannot write in ${dir}`, error);
    }
  }

  /** Writes `bytes` at `offset`. */
  writeAt(offset: number, bytes: Uint8Array): void {
    // Synchronous: the seek and the write cannot be split by another
    // source's write. writeSync also measured faster here than async writes
    // (docs/PERFORMANCE.md), at the price of holding the event loop for each
    // 1 MiB write (p99 4.5 ms measured with four downloads at once).
    try {
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      let written = 0;
      while (written < bytes.length) written += this.#file.writeSync(bytes.subarray(written));
    } catch (error) {
      throw localError(`cannot write ${this.path}`, error);
    }
  }

  /** Fills `buffer` from `offset`; false if the file ends first. */
  readAt(offset: number, buffer: Uint8Array): boolean {
    try {
      this.#file.seekSync(offset, Deno.SeekMode.Start);
      let filled = 0;
      while (filled < buffer.length) {
        const n = this.#file.readSync(buffer.subarray(filled));
        if (n === null || n === 0) return false;
        filled += n;
      }
      return true;
    } catch (error) {
      throw localError(`cannot read ${this.path}`, error);
    }
  }

  /** Notes in the journal that chunk `index` is written in full. */
  record(index: number): void {
    if (!this.#journal) return;
    try {
      this.#journal.writeSync(encodeText(`${index}\n`));
    } catch (error) {
      throw localError(`cannot write ${this.#journalPath}`, error);
    }
    this.#listed.add(index);
  }

  /**
   * Bytes of the chunks the journal lists (an earlier run's, and this
   * run's): what a next run starts from once they check out. 0 without a
   * journal.
   */
  get journaledBytes(): number {
    if (!this.#journal) return 0;
    return journaledBytes(this.#listed, this.#size);
  }

  /**
   * Gives the finished file the name `target` and removes the journal. A
   * file that appeared at `target` meanwhile is never replaced: a hard link
   * cannot overwrite, and where the file system has no hard links the
   * target is looked at right before the rename (a file appearing in the
   * instant between the look and the rename would be replaced: Deno offers
   * no rename that refuses to).
   */
  async land(target: string, options: LandOptions = {}): Promise<void> {
    const link = options.link ?? Deno.link;
    this.#close();
    const appeared = (cause?: unknown) =>
      new LocalError(`${target} appeared while the download ran; it was left as it is`, { cause });
    try {
      await link(this.path, target);
      this.#gone = true;
      options.onLanded?.();
      await Deno.remove(this.path).catch(() => {});
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) throw appeared(error);
      if (await Deno.lstat(target).then(() => true, () => false)) throw appeared();
      try {
        await Deno.rename(this.path, target);
        this.#gone = true;
        options.onLanded?.();
      } catch (error) {
        throw localError(`cannot move the verified file to ${target}`, error);
      }
    }
    await Deno.remove(this.#journalPath).catch(() => {});
  }

  /** Closes; keeps both files when `resumable` and a journal exists, else removes them (unless landed). */
  async close(resumable: boolean): Promise<void> {
    this.#close();
    if (this.#gone || (resumable && this.#journal)) return;
    this.#gone = true;
    await Deno.remove(this.path).catch(() => {});
    await Deno.remove(this.#journalPath).catch(() => {});
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    open.delete(this.path);
    this.#file.close();
    this.#journal?.close();
  }
}

/** The chunks an earlier journal lists, if it starts with `header`; a torn last line is ignored. */
async function readJournal(path: string, header: string): Promise<number[]> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch (error) {
    if (error instanceof Deno.errors.NotFound) return [];
    throw error;
  }
  if (!text.startsWith(header)) return [];
  const lines = text.slice(header.length).split("\n");
  lines.pop(); // after the last line feed: empty, or a line cut short
  const chunks = new Set<number>();
  for (const line of lines) if (/^\d{1,15}$/.test(line)) chunks.add(Number(line));
  return [...chunks].sort((a, b) => a - b);
}

/** The bytes of `chunks` (indexes) of a file of `size` bytes; indexes past its end count for nothing. */
function journaledBytes(chunks: Iterable<number>, size: number): number {
  let bytes = 0;
  for (const i of chunks) bytes += Math.max(0, chunkSpan(i, size).length);
  return bytes;
}

/**
 * An exclusive advisory lock on `file`, if nobody holds one. Where the file
 * system has no locks (or refuses them) it is true: a download goes on
 * unlocked rather than fail, and a clean-up then cannot tell it is running.
 */
async function tryLock(file: Deno.FsFile): Promise<boolean> {
  try {
    return await file.tryLock(true);
  } catch {
    return true;
  }
}

/** What an interrupted download left in a folder: its hidden part file and journal (either may be missing). */
export interface Leftover {
  /** The key both names share: `.p2p-<key>.part`, `.p2p-<key>.journal`. */
  key: string;
  /** Path of the part file, if there. */
  part?: string;
  /** Path of the journal, if there. */
  journal?: string;
  /** The file it is a download of, from the journal's first line; absent without a readable journal. */
  target?: PartTarget;
  /** Bytes of the chunks the journal lists (a next run checks each before it counts). */
  journaled: number;
  /** Bytes both files take, by their sizes. */
  bytes: number;
  /** When either was last written, if the file system says. */
  modified?: Date;
  /** True when a running download holds the part file: it is not a leftover yet, and is left alone. */
  inUse: boolean;
}

/**
 * Lists what interrupted downloads left in `dir`: one {@link Leftover} per
 * key of the hidden `.p2p-<key>.part` and `.p2p-<key>.journal` files that
 * are regular files (a symbolic link or a folder of that name is not ours,
 * and is neither listed nor followed), oldest first. Nothing else in the
 * folder is looked at: `.p2p-hashes`, the hash cache, is not a leftover.
 * Throws {@link LocalError} when `dir` cannot be read.
 *
 * @example
 * ```ts ignore
 * for (const left of await findLeftovers("./downloads")) console.log(left.target?.name, left.journaled);
 * ```
 */
export async function findLeftovers(dir: string): Promise<Leftover[]> {
  const byKey = new Map<string, Leftover>();
  try {
    for await (const entry of Deno.readDir(dir)) {
      const match = PART_NAME.exec(entry.name);
      if (!match || !entry.isFile) continue; // isFile is false for a symbolic link: never followed
      const [, key, kind] = match;
      let left = byKey.get(key);
      if (!left) byKey.set(key, left = { key, journaled: 0, bytes: 0, inUse: false });
      left[kind as "part" | "journal"] = join(dir, entry.name);
    }
  } catch (error) {
    throw localError(`cannot look for leftover part files in ${dir}`, error);
  }
  const found: Leftover[] = [];
  for (const left of byKey.values()) {
    for (const kind of ["part", "journal"] as const) {
      const path = left[kind];
      if (path === undefined) continue;
      const info = await Deno.lstat(path).catch(() => undefined);
      if (!info?.isFile) { // gone, or replaced, since the listing
        delete left[kind];
        continue;
      }
      left.bytes += info.size;
      if (info.mtime && (!left.modified || info.mtime > left.modified)) left.modified = info.mtime;
    }
    if (!left.part && !left.journal) continue;
    if (left.journal) await readLeftoverJournal(left, left.journal);
    if (left.part) left.inUse = await held(left.part);
    found.push(left);
  }
  return found.sort((a, b) => (a.modified?.getTime() ?? 0) - (b.modified?.getTime() ?? 0) || (a.key < b.key ? -1 : 1));
}

/**
 * Removes a leftover's part file and journal, unless a download holds it
 * by now (then nothing is removed and it resolves false). Only the two
 * hidden files named in `left` are removed, and only while they are regular
 * files: a symbolic link put in their place is left alone. Throws
 * {@link LocalError} when one cannot be removed.
 */
export async function removeLeftover(left: Leftover): Promise<boolean> {
  // The lock is held while both go, so that a download cannot start on them in between.
  await using lock = await lockPart(left.part);
  if (!lock.free) return false;
  for (const path of [left.part, left.journal]) {
    if (path === undefined || !PART_NAME.test(basename(path))) continue;
    try {
      const info = await Deno.lstat(path);
      if (info.isFile) await Deno.remove(path);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) continue;
      throw localError(`cannot remove ${path}`, error);
    }
  }
  return true;
}

/** Whether a running download holds the part file at `path` (its lock). */
async function held(path: string): Promise<boolean> {
  await using lock = await lockPart(path);
  return !lock.free;
}

/**
 * Takes the lock of the part file at `path`, if nobody holds it (`free`),
 * until disposed. A part file that is gone, or cannot be opened, is free.
 */
async function lockPart(path: string | undefined): Promise<{ free: boolean } & AsyncDisposable> {
  const file = path === undefined ? undefined : await Deno.open(path, { read: true }).catch(() => undefined);
  const free = file === undefined || await tryLock(file);
  return { free, [Symbol.asyncDispose]: () => Promise.resolve(file?.close()) };
}

/** Fills `left.target` and `left.journaled` from the journal at `path`; an unreadable journal leaves them unset. */
async function readLeftoverJournal(left: Leftover, path: string): Promise<void> {
  let text: string;
  try {
    text = await Deno.readTextFile(path);
  } catch {
    return;
  }
  const lines = text.split("\n");
  lines.pop(); // after the last line feed: empty, or a line cut short
  let header: unknown;
  try {
    header = JSON.parse(lines[0] ?? "");
  } catch {
    return;
  }
  const h = header as Record<string, unknown>;
  if (typeof h !== "object" || h === null || h.v !== 1) return;
  if (typeof h.name !== "string" || !Number.isSafeInteger(h.size) || typeof h.sha256 !== "string") return;
  const size = h.size as number;
  left.target = { name: h.name, size, sha256: h.sha256, root: typeof h.root === "string" ? h.root : undefined };
  const chunks = new Set<number>();
  for (const line of lines.slice(1)) if (/^\d{1,15}$/.test(line)) chunks.add(Number(line));
  left.journaled = journaledBytes(chunks, size);
}
