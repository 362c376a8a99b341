/**
 * `cli/report.ts`, the lines of uploads: a whole file sent, parts of one
 * (a swarm's ranges: never read as the whole file), and an upload stopped,
 * with how much of the file went and why (this peer stopping, say).
 *
 * @module
 */

import assert from "node:assert/strict";
import type { PeerEvent } from "../../peer.ts";
import { formatPeerEvent } from "../../cli/report.ts";

const MiB = 1024 * 1024;

Deno.test("formatPeerEvent: a whole file sent, ranges of one, and an upload stopped by the shutdown", () => {
  const cases: [PeerEvent, string][] = [
    [
      { type: "served", name: "a.bin", to: "127.0.0.1:9", bytes: 96, ranges: 1, size: 96 },
      "sent a.bin (96 B) to 127.0.0.1:9",
    ],
    [
      { type: "served", name: "big.bin", to: "127.0.0.1:9", bytes: 18 * MiB, ranges: 18, size: 200 * MiB },
      "sent 18 ranges of big.bin (18.0 MiB of 200 MiB) to 127.0.0.1:9",
    ],
    [
      { type: "served", name: "big.bin", to: "127.0.0.1:9", bytes: MiB, ranges: 1, size: 200 * MiB },
      "sent 1 range of big.bin (1.00 MiB of 200 MiB) to 127.0.0.1:9",
    ],
    [
      {
        type: "aborted",
        name: "big.bin",
        to: "127.0.0.1:50123",
        bytes: 18 * MiB,
        size: 200 * MiB,
        message: "this peer is stopping",
      },
      "stopped sending big.bin to 127.0.0.1:50123 after 18.0 MiB of 200 MiB: this peer is stopping",
    ],
    [
      { type: "aborted", name: "a.bin", to: "127.0.0.1:9", bytes: 4, size: 10, message: "idle timeout" },
      "stopped sending a.bin to 127.0.0.1:9 after 4 B of 10 B: idle timeout",
    ],
  ];
  for (const [event, line] of cases) assert.equal(formatPeerEvent(event), line);
});
