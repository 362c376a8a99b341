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
  /** The files this peer holds in part now (downloads under way that serve what they verified). Default: none. */
  partials?: () => FileEntry[];
}

/** A peer's announcements, in order. */
export class Announcer {
  #options: AnnouncerOptions;
  /** The last change announced: the next goes after it. */
  #last: Promise<unknown> = Promise.resolve();
  /** Whether each tracker connection knows `PARTIAL`, once asked. */
  #knowsPartial = new WeakMap<TrackerClient, Promise<boolean>>();

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
    const { port, httpPort } = this.#options;
    const answer = await client.update(port, this.#options.folder.entries(), { httpPort });
    // UPDATE replaced everything: the downloads under way are told again.
    const partials = this.#options.partials?.() ?? [];
    if (partials.length > 0) await this.#partial(client, partials).catch(() => {});
    return answer;
  }

  /**
   * Tells the tracker what changed, incrementally, after any announcement in
   * flight; returns its answers. While the tracker is unreachable nothing is
   * sent (`undefined`): reaching it again announces the whole folder.
   */
  changes(changes: FolderChanges): Promise<string | undefined> {
    return this.#then(async (client) => {
      const answers: string[] = [];
      if (changes.changed.length > 0) {
        answers.push(await client.add(this.#options.port, changes.changed, { httpPort: this.#options.httpPort }));
      }
      if (changes.removed.length > 0) answers.push(await client.remove(changes.removed));
      return answers.join("; ");
    });
  }

  /** Announces one file just added to the folder (a verified download). */
  added(entry: FileEntry): Promise<string | undefined> {
    return this.changes({ changed: [entry], removed: [] });
  }

  /**
   * Tells the tracker that this peer holds part of `entry` (`PARTIAL`),
   * after any announcement in flight. A tracker that does not know
   * `PARTIAL` (before 0.13) would read the entry line as a command: it is
   * asked first with an empty `PARTIAL`, once per connection, and then
   * this throws, saying so.
   */
  partial(entry: FileEntry): Promise<string | undefined> {
    return this.#then((client) => this.#partial(client, [entry]));
  }

  /** `PARTIAL` for `entries`, once `client` is known to take it. */
  async #partial(client: TrackerClient, entries: FileEntry[]): Promise<string> {
    const { port, httpPort } = this.#options;
    let knows = this.#knowsPartial.get(client);
    if (knows === undefined) {
      knows = client.partial(port, [], { httpPort }).then(() => true, () => false);
      this.#knowsPartial.set(client, knows);
    }
    if (!await knows) {
      throw new Error(
        `the tracker at ${client.address} does not know PARTIAL (it is older than this peer); ` +
          "downloads are served once they land",
      );
    }
    return await client.partial(port, entries, { httpPort });
  }

  /** Tells the tracker that this peer no longer holds part of `name` (`REMOVE`). */
  withdraw(name: string): Promise<string | undefined> {
    return this.changes({ changed: [], removed: [name] });
  }

  /** Runs `send` with the connection now, after any announcement in flight; `undefined` while there is none. */
  #then(send: (client: TrackerClient) => Promise<string>): Promise<string | undefined> {
    const next = this.#last.catch(() => {}).then(() => {
      const client = this.#options.client();
      if (!client?.open || this.#options.closing()) return undefined;
      return send(client);
    });
    this.#last = next;
    return next;
  }
}
