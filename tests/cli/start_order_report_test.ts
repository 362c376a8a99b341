/**
 * `cli/report.ts`, the lines of the tracker link: the tracker cannot be
 * reached at start, is lost, is still away (at 1, 5 and 15 minutes, then
 * hourly, with how long and how many tries), and is back; each names the
 * tracker and says what the peer does meanwhile.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { PeerEvent } from "../../peer.ts";
import { formatPeerEvent } from "../../cli/report.ts";

const TRACKER = "127.0.0.1:4444";

Deno.test("formatPeerEvent: the tracker unreachable at start, lost, still away, and back", () => {
  const cases: [PeerEvent, string][] = [
    [
      { type: "tracker-unreachable", tracker: TRACKER, message: "connection refused" },
      "cannot reach the tracker at 127.0.0.1:4444 (connection refused); serving anyway, and trying again in the " +
      "background (a line at 1, 5 and 15 min, then hourly, while it is away)",
    ],
    [
      { type: "tracker-lost", tracker: TRACKER, message: "the tracker closed the connection" },
      "lost the tracker at 127.0.0.1:4444 (the tracker closed the connection); serving anyway, and trying again in " +
      "the background (a line at 1, 5 and 15 min, then hourly, while it is away)",
    ],
    [
      { type: "tracker-retry", tracker: TRACKER, attempts: 17, message: "connection refused", awayMs: 63_500 },
      "the tracker at 127.0.0.1:4444 is still unreachable after 1 min 4 s (17 tries, the last: connection refused); " +
      "still serving, still trying",
    ],
    [
      { type: "tracker-retry", tracker: TRACKER, attempts: 180, message: "no answer within 10 s", awayMs: 903_000 },
      "the tracker at 127.0.0.1:4444 is still unreachable after 15 min (180 tries, the last: no answer within 10 s); " +
      "still serving, still trying",
    ],
    [
      { type: "tracker-retry", tracker: TRACKER, attempts: 1450, message: "connection refused", awayMs: 7_204_000 },
      "the tracker at 127.0.0.1:4444 is still unreachable after 2 h (1450 tries, the last: connection refused); " +
      "still serving, still trying",
    ],
    [
      {
        type: "tracker-back",
        tracker: TRACKER,
        announced: "indexed 3 files as 127.0.0.1:5555",
        awayMs: 2_512,
        attempts: 1,
        again: false,
      },
      "reached the tracker at 127.0.0.1:4444 after 2.5 s (1 try): indexed 3 files as 127.0.0.1:5555",
    ],
    [
      {
        type: "tracker-back",
        tracker: TRACKER,
        announced: "indexed 3 files as 127.0.0.1:5555",
        awayMs: 4_000_000,
        attempts: 800,
        again: true,
      },
      "reached the tracker at 127.0.0.1:4444 again after 1 h 6 min (800 tries): indexed 3 files as 127.0.0.1:5555",
    ],
  ];
  for (const [event, line] of cases) assert.equal(formatPeerEvent(event), line);
});
