/**
 * Watching a shared folder (`Deno.watchFs`): names the file system says
 * changed are looked at again once they have stopped changing, and the
 * changes go out in one batch. A file still being written is left alone
 * until its size and modification time hold still for a quiet period.
 *
 * @module
 */

import { basename, dirname, join } from "node:path";
import type { FolderChanges, SharedFolder } from "./shared_folder.ts";
import { type Clock, systemClock, type TimerHandle } from "../io/clock.ts";
import { errorMessage } from "../io/errors.ts";

/** Options of {@link FolderWatcher.start}. */
export interface WatchOptions {
  /** A file must hold still this long before it is looked at. Default 300 ms. */
  quietMs?: number;
  /** Told each batch of changes, awaited (the next batch waits for it). */
  onChanges: (changes: FolderChanges) => Promise<void> | void;
  /** Told when watching fails (the folder went away, no more watches allowed); watching stops. */
  onError?: (message: string) => void;
  /** Whose time the quiet periods are counted in. Default {@link systemClock}. */
  clock?: Clock;
}

interface Pending {
  timer: TimerHandle;
  /** Size and modification time at the last look, to tell "still being written". */
  seen?: string;
}

/** A running watch of one folder. */
export class FolderWatcher implements AsyncDisposable {
  #folder: SharedFolder;
  #watcher: Deno.FsWatcher;
  #options: WatchOptions;
  #quietMs: number;
  #clock: Clock;
  #pending = new Map<string, Pending>();
  /** Names that held still, to look at in the next batch. */
  #settled = new Set<string>();
  #batch: Promise<void> = Promise.resolve();
  #loop: Promise<void>;
  #closed = false;

  private constructor(folder: SharedFolder, options: WatchOptions) {
    this.#folder = folder;
    this.#options = options;
    this.#quietMs = options.quietMs ?? 300;
    this.#clock = options.clock ?? systemClock;
    this.#watcher = Deno.watchFs(folder.path, { recursive: false });
    this.#loop = this.#watch();
  }

  /** Starts watching `folder`. */
  static start(folder: SharedFolder, options: WatchOptions): FolderWatcher {
    return new FolderWatcher(folder, options);
  }

  async #watch(): Promise<void> {
    try {
      for await (const event of this.#watcher) {
        for (const path of event.paths) {
          // Only files directly inside; hidden ones (part files, the hash cache) are never shared.
          const name = basename(path);
          if (dirname(path) !== this.#folder.path || name.startsWith(".")) continue;
          this.#touch(name);
        }
      }
    } catch (error) {
      if (!this.#closed) this.#options.onError?.(`stopped watching ${this.#folder.path}: ${errorMessage(error)}`);
    }
  }

  /** `name` changed: look at it once it has been quiet for a while. */
  #touch(name: string): void {
    if (this.#closed) return;
    const pending = this.#pending.get(name);
    if (pending) this.#clock.clearTimeout(pending.timer);
    const next: Pending = {
      seen: pending?.seen,
      timer: this.#clock.setTimeout(() => this.#look(name, next), this.#quietMs),
    };
    this.#pending.set(name, next);
  }

  /** Quiet for a while: settled if size and time are those of the last look, else wait again. */
  async #look(name: string, pending: Pending): Promise<void> {
    let now: string;
    try {
      const info = await Deno.stat(join(this.#folder.path, name));
      now = `${info.size} ${info.mtime?.getTime()}`;
    } catch {
      now = "gone";
    }
    if (this.#closed || this.#pending.get(name) !== pending) return; // closed, or changed again meanwhile
    if (now !== "gone" && now !== pending.seen) {
      // First look, or it grew since: still being written, perhaps. Look again later.
      pending.seen = now;
      pending.timer = this.#clock.setTimeout(() => this.#look(name, pending), this.#quietMs);
      return;
    }
    this.#pending.delete(name);
    this.#settled.add(name);
    this.#batch = this.#batch.then(() => this.#flush());
  }

  /** Sends what settled meanwhile, in one batch. */
  async #flush(): Promise<void> {
    if (this.#settled.size === 0 || this.#closed) return;
    const names = [...this.#settled];
    this.#settled.clear();
    try {
      const changes = await this.#folder.refresh(names);
      if (changes.changed.length > 0 || changes.removed.length > 0) await this.#options.onChanges(changes);
    } catch (error) {
      this.#options.onError?.(`could not share the changes of ${names.join(", ")}: ${errorMessage(error)}`);
    }
  }

  /** Stops watching; a batch being sent finishes first. Idempotent. */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    for (const pending of this.#pending.values()) this.#clock.clearTimeout(pending.timer);
    this.#pending.clear();
    this.#watcher.close();
    await this.#loop;
    await this.#batch;
  }

  /** Same as {@link FolderWatcher.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}
