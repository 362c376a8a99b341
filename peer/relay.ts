/**
 * Relay mode, the second original design: ask the tracker for the active
 * peers, ask each in turn for a file, and stream the first copy found.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { type Attempt, classify, DownloadError } from "../io/errors.ts";
import type { Secret } from "../io/secret.ts";
import { type ByteSink, sinkStream } from "../io/streams.ts";
import { requestFile } from "./request_file.ts";
import type { TrackerClient } from "./tracker_client.ts";
import type { TransferBoard } from "./transfer_board.ts";

/** Options of {@link relayFile}: where the bytes go, and how. */
export interface RelayOptions {
  /** Where the file's bytes are written (standard output, say); never closed here. */
  out: ByteSink;
  /** Connect and idle timeout per peer, ms. Default `Timeouts.REQUEST_MS`. */
  timeoutMs?: number;
  /** With a secret: peers must prove they know it, and every byte is encrypted. */
  secret?: Secret;
  /** Told of each peer that did not have the file or failed before sending it. */
  onAttemptFailed?: (attempt: Attempt) => void;
  /** Where the transfer shows its progress. */
  board?: TransferBoard;
}

/** Where the file came from. */
export interface Relayed {
  /** The peer that sent it. */
  from: string;
  /** Its size. */
  size: number;
  /** Its SHA-256, checked. */
  sha256: string;
  /** The peers that did not have it or failed before sending it, in order. */
  failed: Attempt[];
}

/**
 * Writes `name` to `options.out` from the first active peer that has it,
 * checked against the size and SHA-256 that peer announces in its header. A
 * failure once bytes have been written is final (they cannot be taken
 * back): it throws `DownloadError`, as does a file no peer has.
 *
 * @example
 * ```ts
 * import { TrackerClient } from "./tracker_client.ts";
 *
 * await using tracker = await TrackerClient.connect("127.0.0.1:4444");
 * const relayed = await relayFile(tracker, "hello.txt", { out: Deno.stdout });
 * console.error(`from ${relayed.from}`);
 * ```
 */
export async function relayFile(tracker: TrackerClient, name: string, options: RelayOptions): Promise<Relayed> {
  const { out, timeoutMs, secret } = options;
  const failed: Attempt[] = [];
  const peers = await tracker.peers();
  for (const peer of peers) {
    let remote;
    try {
      remote = await requestFile(peer.address, name, { timeoutMs, secret });
    } catch (error) {
      const attempt = { holder: peer.address, ...classify(error) };
      failed.push(attempt);
      options.onAttemptFailed?.(attempt);
      continue;
    }
    using _ = remote;
    const hash = createHash("sha256");
    const transfer = options.board?.begin(name, remote.header.size);
    if (transfer) transfer.sources = 1;
    const onWrite = transfer && ((n: number) => void (transfer.bytes += n));
    try {
      // No pool here: the sink is the caller's and may keep the chunks it is given.
      await remote.body.pipeTo(sinkStream(out, { hash, onWrite }));
    } catch (error) {
      const attempt = { holder: peer.address, ...classify(error) };
      throw new DownloadError(`${peer.address} failed mid-transfer: ${attempt.code} ${attempt.message}`, {
        file: name,
        attempts: [...failed, attempt],
        cause: error,
      });
    } finally {
      if (transfer) options.board?.end(transfer);
    }
    const sha256 = hash.digest("hex");
    if (sha256 !== remote.header.sha256) {
      const attempt = { holder: peer.address, code: "EHASH", message: "bytes do not match the announced sha256" };
      throw new DownloadError(`${peer.address} sent bytes that do not match its sha256`, {
        file: name,
        attempts: [...failed, attempt],
      });
    }
    return { from: peer.address, size: remote.header.size, sha256, failed };
  }
  const message = peers.length === 0 ? "no active peers" : `none of ${peers.length} active peers has it`;
  throw new DownloadError(message, { file: name, attempts: failed });
}
