/**
 * Relay mode, the second original design: ask the tracker for the active
 * peers, ask each in turn for a file, and stream the first copy found.
 *
 * @module
 */

import { createHash } from "node:crypto";
import { Status } from "../protocol.ts";
import { type Attempt, classify, DownloadError } from "../io/errors.ts";
import type { Secret } from "../io/secret.ts";
import type { TlsClientConfig } from "../io/tls.ts";
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
  /** Connect to peers with TLS, trusting these CAs. Default: plain TCP. */
  tls?: TlsClientConfig;
  /**
   * Told of each peer that failed before sending the file (refused the
   * connection, broke, refused the request). A peer that does not have it
   * (`404`) is not told: asking the peers in turn, that is expected.
   */
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
  /** The peers that did not have it (`404`) or failed before sending it, in order. */
  failed: Attempt[];
}

/**
 * Writes `name` to `options.out` from the first active peer that has it,
 * checked against the size and SHA-256 that peer announces in its header. A
 * failure once bytes have been written is final (they cannot be taken
 * back): it throws `DownloadError`, as does a file no peer has
 * (`none of the 3 active peers has it`).
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
  const { out, timeoutMs, secret, tls } = options;
  const failed: Attempt[] = [];
  const peers = await tracker.peers();
  for (const peer of peers) {
    let remote;
    try {
      remote = await requestFile(peer.address, name, { timeoutMs, secret, tls });
    } catch (error) {
      const attempt = { holder: peer.address, ...classify(error) };
      failed.push(attempt);
      if (attempt.code !== String(Status.NOT_FOUND)) options.onAttemptFailed?.(attempt);
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
  throw new DownloadError(nobodySent(peers.length, failed), { file: name, attempts: failed });
}

/**
 * Why no peer sent the file: `none of the 3 active peers has it`, or, when
 * some failed otherwise (each told as it happened), how many of each.
 */
function nobodySent(peers: number, failed: readonly Attempt[]): string {
  if (peers === 0) return "no peer is active at the tracker; start one that shares the file";
  const missing = failed.filter((a) => a.code === String(Status.NOT_FOUND)).length;
  if (peers === 1) {
    return missing === 1 ? "the one active peer does not have it" : "the one active peer failed to send it";
  }
  if (missing === failed.length) return `none of the ${peers} active peers has it`;
  const have = missing === 1 ? "does" : "do";
  return `none of the ${peers} active peers sent it: ${missing} ${have} not have it, ${failed.length - missing} failed`;
}
