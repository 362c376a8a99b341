/**
 * A peer's shared folder: scanning and hashing its files, and turning a name
 * from the wire into a file inside it, safely. No network.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { checkName, type FileEntry, ProtocolError, quoteName, Status } from "./protocol.ts";
import { CHUNK_SIZE, digestFile, rootOf } from "./chunks.ts";
import { HashCache } from "./hash_cache.ts";
import { errorMessage } from "./transfer.ts";

/** How far the hashing of a scan has come (files and bytes that were not known yet). */
export interface HashProgress {
  file: string;
  filesDone: number;
  files: number;
  bytesDone: number;
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
  mtimeMs: number | null;
  /** Chunk hashes, 32 bytes each. */
  chunks: Uint8Array;
}

/** A file of the folder, opened for reading, with what it holds. */
export interface OpenedFile extends Disposable {
  file: Deno.FsFile;
  entry: FileEntry;
  /** Its chunk hashes, 32 bytes each (see `chunks.ts`). */
  chunks: Uint8Array;
}

/**
 * The files directly inside one folder. Names follow {@link checkName}:
 * hidden files (`.x`, among them partial downloads), sub-folders and
 * symbolic links that lead out of the folder are never shared.
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
      if (error instanceof Deno.errors.NotFound) throw new Error(`shared folder ${dir} does not exist`);
      throw error;
    }
    if (!(await Deno.stat(real)).isDirectory) throw new Error(`shared folder ${dir} is not a folder`);
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
        const path = await this.#resolve(dirEntry.name);
        found.push({ name: dirEntry.name, path, info: await Deno.stat(path) });
      } catch (error) {
        skip(dirEntry.name, error);
      }
    }
    const fresh = found.filter((f) => !this.#remembered(f.name, f.info));
    const progress = { file: "", filesDone: 0, files: fresh.length, bytesDone: 0, bytes: 0 };
    for (const f of fresh) progress.bytes += f.info.size;
    const seen = new Map<string, Known>();
    for (const { name, path, info } of found) {
      const hashing = fresh.some((f) => f.name === name);
      if (hashing) progress.file = name;
      try {
        seen.set(
          name,
          await this.#describe(name, path, info, (n) => {
            progress.bytesDone += n;
            onProgress?.({ ...progress });
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
        const path = await this.#resolve(name);
        known = await this.#describe(name, path, await Deno.stat(path));
      } catch {
        // Gone, or not a file that may be shared (any more).
        if (this.#known.delete(name)) removed.push(name);
        this.#cache?.delete(name);
        continue;
      }
      if (this.#known.get(name) === known) continue;
      this.#known.set(name, known);
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
    const mtimeMs = info.mtime?.getTime() ?? null;
    if (!chunks) {
      const known = await this.#describe(entry.name, path, info);
      this.#known.set(entry.name, known);
      await this.#saveCache();
      return;
    }
    const { name, size, sha256 } = entry;
    this.#known.set(name, { name, size, sha256, root: rootOf(chunks), chunks, mtimeMs });
    if (mtimeMs !== null) this.#cache?.set(name, { size, sha256, chunks, mtimeMs });
    await this.#saveCache();
  }

  /**
   * Opens `name` for reading. Throws a {@link ProtocolError}: 403 for a name
   * that is not a plain file name, 404 for a file that is not there. The
   * hash is the one recorded unless the file changed since (then it is
   * computed again).
   */
  async openFile(name: string): Promise<OpenedFile> {
    const path = await this.#resolve(name);
    const file = await Deno.open(path).catch((error) => Promise.reject(fsProblem(error, name)));
    try {
      const known = await this.#describe(name, path, await file.stat());
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
    const mtimeMs = info.mtime?.getTime() ?? null;
    const known = this.#known.get(name);
    if (known && known.size === info.size && known.mtimeMs === mtimeMs && mtimeMs !== null) return true;
    return this.#cache?.get(name, info.size, mtimeMs) !== undefined;
  }

  async #describe(name: string, path: string, info: Deno.FileInfo, onBytes?: (n: number) => void): Promise<Known> {
    const mtimeMs = info.mtime?.getTime() ?? null;
    const known = this.#known.get(name);
    if (known && known.size === info.size && known.mtimeMs === mtimeMs && mtimeMs !== null) return known;
    const cached = this.#cache?.get(name, info.size, mtimeMs);
    if (cached) {
      return {
        name,
        size: cached.size,
        sha256: cached.sha256,
        chunks: cached.chunks,
        root: rootOf(cached.chunks),
        mtimeMs,
      };
    }
    const { size, sha256, root, chunks } = await digestFile(path, onBytes);
    // Written to the cache only if the file did not change while it was read.
    if (mtimeMs !== null && size === info.size) this.#cache?.set(name, { size, sha256, chunks, mtimeMs });
    return { name, size, sha256, root, chunks, mtimeMs };
  }

  /** The path of plain file `name` directly inside the folder, following a link only if it stays inside. */
  async #resolve(name: string): Promise<string> {
    checkName(name);
    const path = join(this.path, name);
    let info: Deno.FileInfo;
    try {
      info = await Deno.lstat(path);
      if (info.isSymlink) {
        const target = await Deno.realPath(path);
        if (dirname(target) !== this.path || basename(target).startsWith(".")) {
          throw new ProtocolError(
            Status.FORBIDDEN,
            `refused name ${quoteName(name)}: a link that leads out of the folder or to a hidden file`,
          );
        }
        info = await Deno.stat(target);
      }
    } catch (error) {
      throw fsProblem(error, name);
    }
    if (!info.isFile) throw new ProtocolError(Status.NOT_FOUND, `${quoteName(name)} is not a plain file`);
    return path;
  }
}

function view({ name, size, sha256, root }: Known): FileEntry {
  return size > CHUNK_SIZE ? { name, size, sha256, root } : { name, size, sha256 };
}

/** A file-system error about `name` as the status a remote party gets; other errors unchanged. */
function fsProblem(error: unknown, name: string): unknown {
  if (error instanceof ProtocolError) return error;
  const quoted = quoteName(name);
  if (error instanceof Deno.errors.NotFound) return new ProtocolError(Status.NOT_FOUND, `no file ${quoted}`);
  if (error instanceof Deno.errors.PermissionDenied) {
    return new ProtocolError(Status.FORBIDDEN, `${quoted} is not readable`);
  }
  if (error instanceof Deno.errors.FilesystemLoop) {
    return new ProtocolError(Status.FORBIDDEN, `${quoted} is a link loop`);
  }
  return error;
}
