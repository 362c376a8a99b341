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
 * @module
 */

import { createHash } from "node:crypto";
import { join } from "node:path";
import { LocalError, localError } from "../io/errors.ts";
import { encodeText } from "../io/streams.ts";

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
}

/** Part files open in this process, by path: two downloads of one file into one folder would trample each other. */
const open = new Set<string>();

/** A part file and its journal. */
export class PartFile {
  /** Path of the part file. */
  readonly path: string;
  /** Chunks the journal lists from an earlier run, not yet checked. */
  readonly claimed: number[];
  #file: Deno.FsFile;
  #journal: Deno.FsFile | undefined;
  #journalPath: string;
  #closed = false;
  /** Landed or removed: nothing left to clean up. */
  #gone = false;

  private constructor(
    path: string,
    open: { journalPath: string; file: Deno.FsFile; journal: Deno.FsFile | undefined },
  ) {
    this.path = path;
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
        if (target.root !== undefined) {
          if (claimed.length === 0) await Deno.writeTextFile(journalPath, header);
          journal = await Deno.open(journalPath, { append: true });
        }
      } catch (error) {
        file.close();
        throw error;
      }
      const part = new PartFile(path, { journalPath, file, journal });
      part.claimed.push(...claimed);
      return part;
    } catch (error) {
      open.delete(path);
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
      await Deno.remove(this.path).catch(() => {});
    } catch (error) {
      if (error instanceof Deno.errors.AlreadyExists) throw appeared(error);
      if (await Deno.lstat(target).then(() => true, () => false)) throw appeared();
      try {
        await Deno.rename(this.path, target);
        this.#gone = true;
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
