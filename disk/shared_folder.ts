/**
 * A peer's shared folder: scanning and hashing its files, and turning a name
 * from the wire into a file inside it, safely. No network.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { checkName, CHUNK_SIZE, type FileEntry, ProtocolError, quoteName, rootOf, Status } from "../protocol.ts";
import { errorMessage, LocalError, localError } from "../io/errors.ts";
import { digestFile, digestSmall } from "./digest.ts";
import { HashCache, sameStamp, type Stamp, stampOf } from "./hash_cache.ts";

/** How far the hashing of a scan has come (files and bytes that were not known yet). */
export interface HashProgress {
  /** The file being hashed. */
  file: string;
  /** Files hashed so far. */
  filesDone: number;
  /** Files to hash in all. */
  files: number;
  /** Bytes hashed so far. */
  bytesDone: number;
  /** Bytes to hash in all. */
  bytes: number;
}

/** What changed in the folder since it was last looked at. */
export interface FolderChanges {
  /** Files new or different, as they are now. */
  changed: FileEntry[];
  /** Files that are gone (or no longer shareable). */
  removed: string[];
}

interface Known extends FileEntry {
  /** Size and times when it was hashed; `undefined` where the file system gives no times (never trusted then). */
  stamp: Stamp | undefined;
  /** Chunk hashes, 32 bytes each. */
  chunks: Uint8Array;
}

/** A file of the folder, opened for reading, with what it holds. */
export interface OpenedFile extends Disposable {
  /** The open file, for reading. */
  file: Deno.FsFile;
  /** Its name, size, SHA-256 and root, as they are now. */
  entry: FileEntry;
  /** Its chunk hashes, 32 bytes each (the rule is `protocol.ts`'s). */
  chunks: Uint8Array;
}

/**
 * The files directly inside one folder. Names follow `checkName`:
 * hidden files (`.x`, among them partial downloads), sub-folders and
 * symbolic links that lead out of the folder are never shared.
 *
 * @example
 * ```ts
 * import assert from "node:assert/strict";
 *
 * const dir = await Deno.makeTempDir();
 * await Deno.writeTextFile(`${dir}/hello.txt`, "hello");
 * await Deno.writeTextFile(`${dir}/.hidden`, "never shared");
 * const folder = await SharedFolder.open(dir);
 * assert.deepEqual((await folder.scan()).map((entry) => entry.name), ["hello.txt"]);
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class SharedFolder {
  /** The folder's real path. */
  readonly path: string;
  /** Entries the last scan could not share, each with the reason (hidden files and sub-folders are not listed). */
  skipped: string[] = [];
  /** Why the hash cache could not be written the last time it was tried, if it could not. */
  cacheError: string | undefined;
  #known = new Map<string, Known>();
  #cache: HashCache | undefined;

  private constructor(path: string, cache?: HashCache) {
    this.path = path;
    this.#cache = cache;
  }

  /**
   * Opens `dir`, which must exist and be a folder. With `cache`, hashes
   * are kept in the folder's hash cache (see `hash_cache.ts`) across runs.
   */
  static async open(dir: string, options: { cache?: boolean } = {}): Promise<SharedFolder> {
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) {
        throw new LocalError(`shared folder ${dir} does not exist; create it or choose another --dir`, {
          cause: error,
        });
      }
      throw localError(`cannot open the shared folder ${dir}`, error, { flag: "--dir" });
    }
    if (!(await Deno.stat(real)).isDirectory) {
      throw new LocalError(`shared folder ${dir} is not a folder; choose a folder with --dir`);
    }
    return new SharedFolder(real, options.cache ? await HashCache.load(real) : undefined);
  }

  /**
   * Lists and hashes every shareable file. A file already hashed (in this
   * run or, with the cache, an earlier one) whose size and modification time
   * have not changed is not read again. `onProgress` follows the hashing of
   * the others. Then the cache is saved; `cacheError` says why it could not be.
   */
  async scan(onProgress?: (progress: HashProgress) => void): Promise<FileEntry[]> {
    const found: { name: string; path: string; info: Deno.FileInfo }[] = [];
    const skipped: string[] = [];
    const skip = (name: string, error: unknown) => {
      // Hidden files, sub-folders and the like are simply not shared; an
      // entry that fails for another reason is reported, and the rest go on.
      if (!(error instanceof ProtocolError) || error.status === Status.FORBIDDEN && !name.startsWith(".")) {
        skipped.push(`${name}: ${errorMessage(error)}`);
      }
    };
    for await (const dirEntry of Deno.readDir(this.path)) {
      try {
        found.push({ name: dirEntry.name, ...this.#resolveNow(dirEntry.name) });
      } catch (error) {
        skip(dirEntry.name, error);
      }
    }
    const fresh = new Set(found.filter((f) => !this.#remembered(f.name, f.info)).map((f) => f.name));
    const progress = { file: "", filesDone: 0, files: fresh.size, bytesDone: 0, bytes: 0 };
    for (const f of found) if (fresh.has(f.name)) progress.bytes += f.info.size;
    const seen = new Map<string, Known>();
    for (const { name, path, info } of found) {
      const hashing = fresh.has(name);
      if (hashing) progress.file = name;
      try {
        seen.set(
          name,
          await this.#describe(name, { path, info }, {
            now: true,
            onBytes: (n) => {
              progress.bytesDone += n;
              onProgress?.({ ...progress });
            },
          }),
        );
      } catch (error) {
        skip(name, error);
      }
      if (hashing) {
        progress.filesDone++;
        onProgress?.({ ...progress });
      }
    }
    this.#known = seen;
    this.skipped = skipped;
    this.#cache?.keepOnly(new Set(seen.keys()));
    await this.#saveCache();
    return this.entries();
  }

  async #saveCache(): Promise<void> {
    try {
      await this.#cache?.save();
      this.cacheError = undefined;
    } catch (error) {
      this.cacheError = `cannot write the hash cache ${this.#cache?.path}: ${errorMessage(error)}`;
    }
  }

  /**
   * Looks again at the files `names` (a folder watcher saw them change):
   * records the new and changed ones (hashing them) and forgets the gone
   * ones. Returns only what differs from what was known.
   */
  async refresh(names: Iterable<string>): Promise<FolderChanges> {
    const changed: FileEntry[] = [];
    const removed: string[] = [];
    for (const name of new Set(names)) {
      let known: Known | undefined;
      try {
        const { path, info } = await this.#resolve(name);
        known = await this.#describe(name, { path, info });
      } catch {
        // Gone, or not a file that may be shared (any more).
        if (this.#known.delete(name)) removed.push(name);
        this.#cache?.delete(name);
        continue;
      }
      const before = this.#known.get(name);
      this.#known.set(name, known);
      // Touched but the same bytes (a new time, say): nothing to tell.
      if (before && before.size === known.size && before.sha256 === known.sha256 && before.root === known.root) {
        continue;
      }
      changed.push(view(known));
    }
    await this.#saveCache();
    return { changed, removed };
  }

  /** What the last scan (and later {@link SharedFolder.add}s) found, sorted by name. */
  entries(): FileEntry[] {
    return [...this.#known.values()].map(view).sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
  }

  /** The entry of `name`, if it is shared. */
  entry(name: string): FileEntry | undefined {
    const known = this.#known.get(name);
    return known && view(known);
  }

  /**
   * Records a file that has just arrived: a verified download, with its
   * checked chunk hashes, is not read again; without them it is hashed.
   */
  async add(entry: FileEntry, chunks?: Uint8Array): Promise<void> {
    const path = join(this.path, entry.name);
    const info = await Deno.stat(path);
    const stamp = stampOf(info);
    if (!chunks) {
      const known = await this.#describe(entry.name, { path, info });
      this.#known.set(entry.name, known);
      await this.#saveCache();
      return;
    }
    const { name, size, sha256 } = entry;
    this.#known.set(name, { name, size, sha256, root: rootOf(chunks), chunks, stamp });
    // Written by us and verified chunk by chunk: trusted, however recent.
    if (stamp) this.#cache?.set(name, { stamp, sha256, chunks }, { hashedSince: Date.now(), trusted: true });
    await this.#saveCache();
  }

  /**
   * Opens `name` for reading. Throws a {@link ProtocolError}: 403 for a name
   * that is not a plain file name, 404 for a file that is not there. The
   * hash is the one recorded unless the file changed since (then it is
   * computed again).
   */
  async openFile(name: string): Promise<OpenedFile> {
    const { path } = await this.#resolve(name);
    const file = await Deno.open(path).catch((error) => Promise.reject(fsProblem(error, name)));
    try {
      const known = await this.#describe(name, { path, info: await file.stat() });
      this.#known.set(name, known);
      const { size, sha256, root, chunks } = known;
      return { file, entry: { name, size, sha256, root }, chunks, [Symbol.dispose]: () => file.close() };
    } catch (error) {
      file.close();
      throw fsProblem(error, name);
    }
  }

  /** Whether `name` as `info` describes it is known (this run or in the cache): no need to read it. */
  #remembered(name: string, info: Deno.FileInfo): boolean {
    const stamp = stampOf(info);
    return sameStamp(this.#known.get(name)?.stamp, stamp) || this.#cache?.get(name, stamp) !== undefined;
  }

  /**
   * What `name` holds: as known, or from the cache, or read and hashed.
   * `now`: a small file is read by one blocking call (at start-up, where
   * nothing else runs yet, thousands of small files go several times faster).
   */
  async #describe(
    name: string,
    found: { path: string; info: Deno.FileInfo },
    options: { now?: boolean; onBytes?: (n: number) => void } = {},
  ): Promise<Known> {
    const { info } = found;
    const stamp = stampOf(info);
    const known = this.#known.get(name);
    if (known && sameStamp(known.stamp, stamp)) return known;
    const cached = this.#cache?.get(name, stamp);
    if (cached) {
      const { sha256, chunks } = cached;
      return { name, size: info.size, sha256, chunks, root: rootOf(chunks), stamp };
    }
    const since = Date.now();
    const { size, sha256, root, chunks } = await this.#digest(found, options);
    // Written to the cache only if the file did not change while it was read.
    if (stamp && size === info.size) this.#cache?.set(name, { stamp, sha256, chunks }, { hashedSince: since });
    return { name, size, sha256, root, chunks, stamp };
  }

  async #digest(
    { path, info }: { path: string; info: Deno.FileInfo },
    options: { now?: boolean; onBytes?: (n: number) => void },
  ) {
    if (options.now && info.size <= CHUNK_SIZE) {
      const bytes = Deno.readFileSync(path);
      if (bytes.length <= CHUNK_SIZE) {
        options.onBytes?.(bytes.length);
        return digestSmall(bytes);
      }
    }
    return await digestFile(path, options.onBytes);
  }

  /** Plain file `name` directly inside the folder, following a link only if it stays inside: its path and stat. */
  async #resolve(name: string): Promise<{ path: string; info: Deno.FileInfo }> {
    checkName(name);
    const path = join(this.path, name);
    try {
      const info = await Deno.lstat(path);
      return this.#checked(name, { path, info: info.isSymlink ? await this.#linkTarget(name, path) : info });
    } catch (error) {
      throw fsProblem(error, name);
    }
  }

  /**
   * The same as {@link SharedFolder.#resolve}, with the file's information,
   * by blocking calls: a scan at start-up looks at thousands of files before
   * anything else runs, and one blocking `lstat` costs a tenth of an
   * asynchronous one here.
   */
  #resolveNow(name: string): { path: string; info: Deno.FileInfo } {
    checkName(name);
    const path = join(this.path, name);
    try {
      const info = Deno.lstatSync(path);
      if (!info.isSymlink) return this.#checked(name, { path, info });
      const target = Deno.realPathSync(path);
      this.#checkTarget(name, target);
      return this.#checked(name, { path, info: Deno.statSync(target) });
    } catch (error) {
      throw fsProblem(error, name);
    }
  }

  async #linkTarget(name: string, path: string): Promise<Deno.FileInfo> {
    const target = await Deno.realPath(path);
    this.#checkTarget(name, target);
    return await Deno.stat(target);
  }

  #checkTarget(name: string, target: string): void {
    if (dirname(target) !== this.path || basename(target).startsWith(".")) {
      throw new ProtocolError(
        Status.FORBIDDEN,
        `refused name ${quoteName(name)}: a link that leads out of the folder or to a hidden file`,
      );
    }
  }

  #checked(name: string, found: { path: string; info: Deno.FileInfo }): { path: string; info: Deno.FileInfo } {
    if (!found.info.isFile) throw new ProtocolError(Status.NOT_FOUND, `${quoteName(name)} is not a plain file`);
    return found;
  }
}

function view({ name, size, sha256, root }: Known): FileEntry {
  return size > CHUNK_SIZE ? { name, size, sha256, root } : { name, size, sha256 };
}

/** A file-system error about `name` as the status a remote party gets; other errors unchanged. */
function fsProblem(error: unknown, name: string): unknown {
  if (error instanceof ProtocolError) return error;
  const quoted = quoteName(name);
  const cause = { cause: error };
  if (error instanceof Deno.errors.NotFound) return new ProtocolError(Status.NOT_FOUND, `no file ${quoted}`, cause);
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ProtocolError(Status.FORBIDDEN, `${quoted} is not readable`, cause);
  }
  if (error instanceof Deno.errors.FilesystemLoop) {
    return new ProtocolError(Status.FORBIDDEN, `${quoted} is a link loop`, cause);
  }
  return error;
}
