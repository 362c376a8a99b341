/**
 * Telling the tracker what a peer shares: the whole folder (`UPDATE`) at
 * start and after the tracker was lost, and each change since, one after
 * the other (`ADD`, `REMOVE`), so that they arrive in order.
 *
 * @module
 */

import type { FileEntry } from "../protocol.ts";
import { ConnectionClosedError } from "../io/errors.ts";
import type { FolderChanges, SharedFolder } from "../disk/shared_folder.ts";
import type { TrackerClient } from "./tracker_client.ts";

/** Options of {@link Announcer}. */
export interface AnnouncerOptions {
  /** The folder whose files are announced. */
  folder: SharedFolder;
  /** The port the peer serves them on. */
  port: number;
  /** The port of its HTTP face, if it has one. Default: none. */
  httpPort?: number;
  /** The tracker connection now, `undefined` while there is none: then nothing is announced. */
  client: () => TrackerClient | undefined;
  /** True once the peer is closing: nothing more is sent. */
  closing: () => boolean;
}

/** A peer's announcements, in order. */
export class Announcer {
  #options: AnnouncerOptions;
  /** The last change announced: the next goes after it. */
  #last: Promise<unknown> = Promise.resolve();

  /** Announces for `options.folder`. */
  constructor(options: AnnouncerOptions) {
    this.#options = options;
  }

  /**
   * Tells `client` (default: the connection now) every file of the folder,
   * as it is now known; returns the tracker's answer. Throws when there is
   * no connection.
   */
  async all(client: TrackerClient | undefined = this.#options.client()): Promise<string> {
    if (!client) throw new ConnectionClosedError("no connection to the tracker: nothing announced");
    return await client.update(this.#options.port, this.#options.folder.entries(), {
      httpPort: this.#options.httpPort,
    });
  }

  /**
   * Tells the tracker what changed, incrementally, after any announcement in
   * flight; returns its answers. While the tracker is unreachable nothing is
   * sent (`undefined`): reaching it again announces the whole folder.
   */
  changes(changes: FolderChanges): Promise<string | undefined> {
    const next = this.#last.catch(() => {}).then(async () => {
      const client = this.#options.client();
      if (!client?.open || this.#options.closing()) return undefined;
      const answers: string[] = [];
      if (changes.changed.length > 0) {
        answers.push(await client.add(this.#options.port, changes.changed, { httpPort: this.#options.httpPort }));
      }
      if (changes.removed.length > 0) answers.push(await client.remove(changes.removed));
      return answers.join("; ");
    });
    this.#last = next;
    return next;
  }

  /** Announces one file just added to the folder (a verified download). */
  added(entry: FileEntry): Promise<string | undefined> {
    return this.changes({ changed: [entry], removed: [] });
  }
}
