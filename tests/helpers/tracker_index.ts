/**
 * What a tracker of the test's own process holds in its index for one peer
 * (found by the address it announces as): its entries, short lines of them,
 * and how the tracker lists it as a holder of each. Asked through the
 * tracker's store, so that they hold for any store.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { FileEntry, Holder } from "../../protocol.ts";
import type { Tracker } from "../../tracker.ts";

/** The entries the peer announcing as `address` holds in `tracker`'s index; none if it is not there. */
export async function entriesAt(tracker: Tracker, address: string): Promise<FileEntry[]> {
  const record = (await tracker.store.peers()).find((p) => p.address === address);
  return record ? await tracker.store.filesOf(record.id) : [];
}

/**
 * The files the peer announcing as `address` holds, as `name size <first hex
 * digit of sha256>`, sorted; fails if the peer is not in the index.
 */
export async function fileLinesAt(tracker: Tracker, address: string): Promise<string[]> {
  const peer = (await tracker.store.peers()).find((p) => p.address === address);
  assert.ok(peer, `no peer ${address} in the index`);
  return (await tracker.store.filesOf(peer.id)).map((f) => `${f.name} ${f.size} ${f.sha256[0]}`).sort();
}

/**
 * What the peer at `address` holds in the index, by name, as the tracker
 * lists it among each file's holders (size, SHA-256 and root); fails if a
 * file listed for it is not among that file's holders.
 */
export async function held(tracker: Tracker, address: string): Promise<Map<string, Omit<Holder, "address">>> {
  const out = new Map<string, Omit<Holder, "address">>();
  for (const file of await entriesAt(tracker, address)) {
    const holder = (await tracker.store.holders(file.name, 1000)).find((h) => h.address === address);
    assert.ok(holder, `index: ${file.name} listed for ${address} but not among its holders`);
    const { address: _, peer: __, ...rest } = holder;
    out.set(file.name, rest);
  }
  return out;
}
