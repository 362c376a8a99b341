/**
 * A peer's shared folder: scanning and hashing its files, and turning a name
 * from the wire into a file inside it, safely. No network.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import { checkName, type FileEntry, ProtocolError, quoteName, Status } from "./protocol.ts";
import { CHUNK_SIZE, digestFile, rootOf } from "./chunks.ts";
import { errorMessage } from "./transfer.ts";

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
  #known = new Map<string, Known>();

  private constructor(path: string) {
    this.path = path;
  }

  /** Opens `dir`, which must exist and be a folder. */
  static async open(dir: string): Promise<SharedFolder> {
    let real: string;
    try {
      real = await Deno.realPath(dir);
    } catch (error) {
      if (error instanceof Deno.errors.NotFound) throw new Error(`shared folder ${dir} does not exist`);
      throw error;
    }
    if (!(await Deno.stat(real)).isDirectory) throw new Error(`shared folder ${dir} is not a folder`);
    return new SharedFolder(real);
  }

  /**
   * Lists and hashes every shareable file. A file already hashed whose size
   * and modification time have not changed is not read again.
   */
  async scan(): Promise<FileEntry[]> {
    const seen = new Map<string, Known>();
    const skipped: string[] = [];
    for await (const dirEntry of Deno.readDir(this.path)) {
      try {
        const path = await this.#resolve(dirEntry.name);
        seen.set(dirEntry.name, await this.#describe(dirEntry.name, path, await Deno.stat(path)));
      } catch (error) {
        // Hidden files, sub-folders and the like are simply not shared; an
        // entry that fails for another reason is reported, and the rest go on.
        if (!(error instanceof ProtocolError) || error.status === Status.FORBIDDEN && !dirEntry.name.startsWith(".")) {
          skipped.push(`${dirEntry.name}: ${errorMessage(error)}`);
        }
      }
    }
    this.#known = seen;
    this.skipped = skipped;
    return this.entries();
  }

  /** What the last scan (and later {@link SharedFolder.add}s) found, sorted by name. */
  entries(): FileEntry[] {
    return [...this.#known.values()]
      .map(({ name, size, sha256, root }) => size > CHUNK_SIZE ? { name, size, sha256, root } : { name, size, sha256 })
      .sort((a, b) => a.name < b.name ? -1 : a.name > b.name ? 1 : 0);
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
      this.#known.set(entry.name, { name: entry.name, ...(await digestFile(path)), mtimeMs });
      return;
    }
    const { name, size, sha256 } = entry;
    this.#known.set(name, { name, size, sha256, root: rootOf(chunks), chunks, mtimeMs });
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

  async #describe(name: string, path: string, info: Deno.FileInfo): Promise<Known> {
    const mtimeMs = info.mtime?.getTime() ?? null;
    const known = this.#known.get(name);
    if (known && known.size === info.size && known.mtimeMs === mtimeMs && mtimeMs !== null) return known;
    const { size, sha256, root, chunks } = await digestFile(path);
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
