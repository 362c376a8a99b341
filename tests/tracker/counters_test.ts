/**
 * The tracker's counters (`tracker/counters.ts`) on a clock moved by hand:
 * requests per second over the last minute (sampled every 5 s), uptime in
 * whole seconds, and sessions, peers, files and holders as the store counts
 * them, all as `STATS` gives them.
 *
 * @module
 */

import assert from "node:assert/strict";
import { CHUNK_SIZE } from "../../protocol.ts";
import { Counters } from "../../tracker/counters.ts";
import { MemoryStore } from "../../tracker/memory_store.ts";
import type { IndexCounts } from "../../tracker/store.ts";
import { ManualClock } from "../helpers/clock.ts";
import { WAIT_MS } from "../helpers/events.ts";

const SHA = "a".repeat(64);
/** The counts of an empty index. */
const EMPTY: IndexCounts = { peers: 0, names: 0, entries: 0, partial: 0 };

Deno.test("counters: rps is the request rate over the last minute, from samples every 5 s", async () => {
  const clock = new ManualClock();
  const counters = new Counters({ clock });
  try {
    assert.equal(counters.read(0, EMPTY).rps, 0, "no time has passed yet");
    counters.requests += 5;
    await clock.advance(2_500);
    assert.equal(counters.read(0, EMPTY).rps, 2, "5 requests in 2.5 s");
    await clock.advance(2_500);
    // 60 more requests every 5 s, for the rest of the minute.
    for (let t = 5; t < 60; t += 5) {
      counters.requests += 60;
      await clock.advance(5_000);
    }
    assert.equal(counters.requests, 665);
    assert.equal(
      counters.read(0, EMPTY).rps,
      11.1,
      "665 requests in the first minute (11.08… a second, to one decimal)",
    );
    await clock.advance(2_500);
    assert.equal(counters.read(0, EMPTY).rps, 10.6, "no new sample yet: 665 in 62.5 s");
    await clock.advance(2_500);
    assert.equal(counters.read(0, EMPTY).rps, 11, "the first 5 s (5 requests) leave the window: 660 in 60 s");
    await clock.advance(55_000);
    assert.equal(counters.read(0, EMPTY).rps, 0, "a quiet minute");
    counters.requests += 30;
    await clock.advance(5_000);
    assert.equal(counters.read(0, EMPTY).rps, 0.5, "30 requests in the last minute");
  } finally {
    counters.stop();
  }
});

Deno.test("counters: uptime is in whole seconds", async () => {
  const clock = new ManualClock();
  const counters = new Counters({ clock });
  try {
    assert.equal(counters.read(0, EMPTY).uptime, 0);
    await clock.advance(999);
    assert.equal(counters.read(0, EMPTY).uptime, 0);
    await clock.advance(1);
    assert.equal(counters.read(0, EMPTY).uptime, 1);
    await clock.advance(1_999);
    assert.equal(counters.read(0, EMPTY).uptime, 2);
    await clock.advance(60_000);
    assert.equal(counters.read(0, EMPTY).uptime, 62);
  } finally {
    counters.stop();
  }
});

Deno.test("counters: sessions, peers, files and holders come from the store's counts; the rest from the sessions", () => {
  const clock = new ManualClock();
  const store = new MemoryStore();
  const counters = new Counters({ clock });
  try {
    const file = (name: string) => ({ name, size: 1, sha256: SHA });
    store.announce({ id: 1, address: "10.0.0.1:1" }, { verb: "UPDATE", files: [file("x"), file("y")] });
    store.announce({ id: 2, address: "10.0.0.2:1" }, { verb: "UPDATE", files: [file("x"), file("z")] });
    store.announce({ id: 3, address: "10.0.0.3:1" }, { verb: "UPDATE", files: [] });
    counters.sessions = 4;
    counters.requests = 9;
    counters.reports = 2;
    counters.reportedBytes = 1_000;
    assert.deepEqual(counters.read(7, store.counts()), {
      sessions: 4,
      peers: 3,
      files: 3,
      holders: 4,
      partial: 0,
      requests: 9,
      rps: 0,
      reports: 2,
      reportedBytes: 1_000,
      waiting: 7,
      uptime: 0,
    });
    store.leave(1);
    const { peers, files, holders } = counters.read(0, store.counts());
    assert.deepEqual({ peers, files, holders }, { peers: 2, files: 2, holders: 2 });
  } finally {
    counters.stop();
  }
});

Deno.test("counters: partial holdings count in partial, not in files or holders", () => {
  const clock = new ManualClock();
  const store = new MemoryStore();
  const counters = new Counters({ clock });
  try {
    const big = (name: string) => ({ name, size: 3 * CHUNK_SIZE, sha256: SHA, root: SHA });
    store.announce({ id: 1, address: "10.0.0.1:1" }, { verb: "UPDATE", files: [big("x")] });
    store.announce({ id: 2, address: "10.0.0.2:1" }, { verb: "PARTIAL", files: [big("x"), big("only partial")] });
    const read = () => {
      const { peers, files, holders, partial } = counters.read(0, store.counts());
      return { peers, files, holders, partial };
    };
    assert.deepEqual(read(), { peers: 2, files: 1, holders: 1, partial: 2 });
    store.announce({ id: 2, address: "10.0.0.2:1" }, { verb: "ADD", files: [big("x")] });
    assert.deepEqual(read(), { peers: 2, files: 1, holders: 2, partial: 1 }, "x became whole at peer 2");
    store.leave(2);
    assert.deepEqual(read(), { peers: 1, files: 1, holders: 1, partial: 0 });
  } finally {
    counters.stop();
  }
});

Deno.test("counters: stop clears the sampling timer", async () => {
  const clock = new ManualClock();
  const counters = new Counters({ clock });
  assert.equal(clock.pending, 1);
  await clock.advance(5_000);
  assert.equal(clock.pending, 1, "one sample taken, the next one set");
  counters.stop();
  assert.equal(clock.pending, 0);
});

Deno.test("counters: on the real clock, sampling does not keep a process alive", async () => {
  const counters = new URL("../../tracker/counters.ts", import.meta.url).href;
  const program = `import { Counters } from "${counters}";
    new Counters();
    console.log("counting");`;
  const stop = new AbortController();
  const timer = setTimeout(() => stop.abort(), WAIT_MS); // only a process kept alive reaches it
  try {
    const run = await new Deno.Command(Deno.execPath(), {
      args: ["eval", "--no-check", program],
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
      signal: stop.signal,
    }).output();
    const stderr = new TextDecoder().decode(run.stderr);
    assert.equal(run.signal, null, `still running after ${WAIT_MS} ms: ${stderr}`);
    assert.equal(run.code, 0, stderr);
    assert.equal(new TextDecoder().decode(run.stdout), "counting\n");
  } finally {
    clearTimeout(timer);
  }
});
