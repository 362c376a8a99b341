/**
 * `cli/report.ts`, the lines of the tracker link: the tracker cannot be
 * reached at start, is lost, is still away (at 1, 5 and 15 minutes, then
 * hourly, with how long and how many tries), and is back; each names the
 * tracker and says what the peer does meanwhile. With several trackers:
 * one skipped, one lost with the next to try, the move to another, and
 * every tracker away, each named with why.
 *
 * @module
 */

import assert from "node:assert/strict";
import type { PeerEvent } from "../../peer.ts";
import { formatPeerEvent, formatSkipped } from "../../cli/report.ts";

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

Deno.test("formatPeerEvent: with several trackers, each skipped, lost with the next to try, the move, and every tracker away named with why", () => {
  const NEXT = "127.0.0.1:4445";
  const tried = [
    { tracker: TRACKER, message: "connection refused" },
    { tracker: NEXT, message: "no answer within 10 s" },
  ];
  const cases: [PeerEvent, string][] = [
    [
      { type: "tracker-skipped", tracker: TRACKER, message: "connection refused", next: NEXT },
      "cannot reach the tracker at 127.0.0.1:4444 (connection refused); trying 127.0.0.1:4445",
    ],
    [
      { type: "tracker-lost", tracker: TRACKER, message: "connection lost: connection reset by peer", next: NEXT },
      "lost the tracker at 127.0.0.1:4444 (connection lost: connection reset by peer); trying 127.0.0.1:4445",
    ],
    [
      { type: "tracker-moved", tracker: NEXT, announced: "indexed 12 files as 127.0.0.1:5555" },
      "now using the tracker at 127.0.0.1:4445: indexed 12 files as 127.0.0.1:5555",
    ],
    [
      { type: "tracker-unreachable", tracker: NEXT, message: "no answer within 10 s", tried },
      "cannot reach any of the 2 trackers (127.0.0.1:4444: connection refused; 127.0.0.1:4445: no answer within " +
      "10 s); serving anyway, and trying them again in the background (a line at 1, 5 and 15 min, then hourly, while " +
      "they are away)",
    ],
    [
      { type: "tracker-retry", tracker: NEXT, attempts: 34, message: "no answer within 10 s", awayMs: 63_500, tried },
      "none of the 2 trackers answers after 1 min 4 s (34 tries; the last of each: 127.0.0.1:4444: connection " +
      "refused; 127.0.0.1:4445: no answer within 10 s); still serving, still trying",
    ],
    [
      {
        type: "tracker-back",
        tracker: NEXT,
        announced: "indexed 12 files as 127.0.0.1:5555",
        awayMs: 4_800,
        attempts: 9,
        again: false,
      },
      "reached the tracker at 127.0.0.1:4445 after 4.8 s (9 tries): indexed 12 files as 127.0.0.1:5555",
    ],
  ];
  for (const [event, line] of cases) assert.equal(formatPeerEvent(event), line);
  assert.equal(
    formatSkipped({ tracker: TRACKER, message: "connection refused", next: NEXT }),
    "cannot reach the tracker at 127.0.0.1:4444 (connection refused); trying 127.0.0.1:4445",
    "get and cat say it in the same words",
  );
});
