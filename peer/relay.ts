/**
 * Relay mode, the second original design: ask the tracker for the active
 * peers, ask each in turn for a file, and stream the first copy found.
 *
 * @module
 */

import { type Attempt, classify, DownloadError, requestFile } from "./download.ts";
import type { TransferBoard } from "../cli/progress.ts";
import type { Secret } from "../io/secret.ts";
import { type ByteSink, sha256Hasher, sinkStream } from "../io/streams.ts";
import type { TrackerClient } from "./tracker_client.ts";

/** Options of {@link relayFile}. */
export interface RelayOptions {
  /** Connect and idle timeout per peer, ms. Default 10,000. */
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
  from: string;
  size: number;
  sha256: string;
  failed: Attempt[];
}

/**
 * Writes `name` to `out` from the first active peer that has it, checked
 * against the size and SHA-256 that peer announces in its header. A failure
 * once bytes have been written is final (they cannot be taken back): it
 * throws {@link DownloadError}, as does a file no peer has.
 */
export async function relayFile(
  tracker: TrackerClient,
  name: string,
  out: ByteSink,
  options: RelayOptions = {},
): Promise<Relayed> {
  const timeoutMs = options.timeoutMs ?? 10_000;
  const failed: Attempt[] = [];
  const peers = await tracker.peers();
  for (const peer of peers) {
    let remote;
    try {
      remote = await requestFile(peer.address, name, timeoutMs, undefined, options.secret);
    } catch (error) {
      const attempt = { holder: peer.address, ...classify(error) };
      failed.push(attempt);
      options.onAttemptFailed?.(attempt);
      continue;
    }
    using _ = remote;
    const hash = sha256Hasher();
    const transfer = options.board?.begin(name, remote.header.size);
    if (transfer) transfer.sources = 1;
    const onWrite = transfer && ((n: number) => void (transfer.bytes += n));
    try {
      // No pool here: the sink is the caller's and may keep the chunks it is given.
      await remote.body.pipeTo(sinkStream(out, { hash, onWrite }));
    } catch (error) {
      const attempt = { holder: peer.address, ...classify(error) };
      throw new DownloadError(name, `${peer.address} failed mid-transfer: ${attempt.code} ${attempt.message}`, [
        ...failed,
        attempt,
      ]);
    } finally {
      if (transfer) options.board?.end(transfer);
    }
    const sha256 = hash.digest("hex");
    if (sha256 !== remote.header.sha256) {
      const attempt = { holder: peer.address, code: "EHASH", message: "bytes do not match the announced sha256" };
      throw new DownloadError(name, `${peer.address} sent bytes that do not match its sha256`, [...failed, attempt]);
    }
    return { from: peer.address, size: remote.header.size, sha256, failed };
  }
  const message = peers.length === 0 ? "no active peers" : `none of ${peers.length} active peers has it`;
  throw new DownloadError(name, message, failed);
}
