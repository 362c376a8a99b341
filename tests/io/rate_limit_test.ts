/**
 * Specifies `io/rate_limit.ts`, the shared byte budget behind
 * `--max-upload-rate` and `--max-download-rate`, on a `ManualClock`: n
 * bytes through a budget of r bytes/s take n/r seconds of the clock (never
 * less), turns are first come first served, a cancelled writer spends
 * nothing, and idle time earns at most one slice of credit.
 *
 * @module
 */

import assert from "node:assert/strict";
import { RateLimit } from "../../io/rate_limit.ts";
import { sinkStream } from "../../io/streams.ts";
import { ManualClock, settle } from "../helpers/clock.ts";
import { randomBytes } from "../helpers/random.ts";

/** 16 KiB/s: slices of 1 KiB, each worth 62.5 ms (exact in floating point). */
const RATE = 16 * 1024;
const SLICE_MS = 62.5;

/** A budget of {@link RATE} on a fresh manual clock. */
function budget() {
  const clock = new ManualClock();
  const limit = new RateLimit(RATE, { clock });
  assert.equal(limit.slice, 1024);
  return { clock, limit, start: clock.now() };
}

Deno.test("rate_limit: n bytes through a budget of r bytes/s take n/r seconds of the clock, and the last slice goes only then", async () => {
  const { clock, limit, start } = budget();
  const total = 2 * RATE; // two seconds' worth
  let sent = 0;
  let lastAt: number | undefined;
  const writer = (async () => {
    for (let at = 0; at < total; at += limit.slice) {
      await limit.take(limit.slice);
      sent += limit.slice;
    }
    lastAt = clock.now();
  })();
  await settle(); // the first turn is taken now, at the start
  for (let elapsed = 100; elapsed < 1_999; elapsed += 100) {
    await clock.advance(100);
    const now = clock.now() - start;
    assert.ok(sent <= now * RATE / 1000, `${sent} bytes after ${now} ms: ahead of the budget`);
    assert.ok(sent >= now * RATE / 1000 - limit.slice, `${sent} bytes after ${now} ms: behind the budget`);
  }
  await clock.advance(1_999 - (clock.now() - start));
  assert.equal(lastAt, undefined, "not done 1 ms before n/r seconds");
  await clock.advance(1);
  await writer;
  assert.equal(sent, total);
  assert.equal(lastAt! - start, 2_000);
});

Deno.test("rate_limit: bytes written through sinkStream with a limit never run ahead of the budget", async () => {
  const { clock, limit, start } = budget();
  const bytes = randomBytes(RATE + 100, 31);
  let written = 0;
  const sink = {
    write(chunk: Uint8Array) {
      written += chunk.length;
      return Promise.resolve(chunk.length);
    },
  };
  let done = false;
  const piping = ReadableStream.from([bytes.subarray(0, 5_000), bytes.subarray(5_000)])
    .pipeTo(sinkStream(sink, { limit }))
    .then(() => done = true);
  await settle();
  // 16,484 bytes, in slices of at most 1,024: the last can go only after 16,484 / 16,384 s.
  while (!done) {
    assert.ok(clock.now() - start < 2_000, "it ends");
    await clock.advance(25);
    const now = clock.now() - start;
    assert.ok(written <= now * RATE / 1000 + 1e-9, `${written} bytes after ${now} ms: ahead of the budget`);
  }
  await piping;
  assert.equal(written, bytes.length);
  assert.ok(clock.now() - start >= bytes.length / RATE * 1000, `${clock.now() - start} ms`);
});

Deno.test("rate_limit: turns are first come first served, each waiting for the debts before it", async () => {
  const { clock, limit, start } = budget();
  const order: [string, number][] = [];
  const takes = [["a", 1024], ["b", 1024], ["a", 1024], ["c", 512]] as const;
  const all = Promise.all(
    takes.map(([who, n]) => limit.take(n).then(() => order.push([who, clock.now() - start]))),
  );
  await settle(); // every turn is asked for at the start
  await clock.advance(1_000);
  assert.deepEqual(order, [["a", SLICE_MS], ["b", 2 * SLICE_MS], ["a", 3 * SLICE_MS], ["c", 3.5 * SLICE_MS]]);
  await all;
});

Deno.test("rate_limit: a writer cancelled by its turn spends nothing, and the next writer does not wait for it", async () => {
  const { clock, limit, start } = budget();
  let gone = false;
  const times: Record<string, number> = {};
  const first = limit.take(1024).then(() => times.first = clock.now() - start);
  // Ten minutes' worth, asked by a writer whose connection closes before its turn.
  const cancelled = limit.take(600 * RATE, () => gone).then(() => times.cancelled = clock.now() - start);
  const next = limit.take(1024).then(() => times.next = clock.now() - start);
  gone = true;
  await settle();
  await clock.advance(1_000);
  assert.deepEqual(times, { first: SLICE_MS, cancelled: SLICE_MS, next: 2 * SLICE_MS });
  await Promise.all([first, cancelled, next]);
  assert.equal(clock.pending, 0);
});

Deno.test("rate_limit: idle time earns at most one slice of credit: no burst after a pause", async () => {
  const { clock, limit } = budget();
  await clock.advance(10_000); // ten seconds idle: 160 KiB of credit, were it not capped
  let first = false;
  let second = false;
  const one = limit.take(1024).then(() => first = true);
  const two = limit.take(1024).then(() => second = true);
  await settle();
  assert.equal(first, true, "one slice of credit goes at once");
  assert.equal(second, false, "a second slice waits for the budget");
  await clock.advance(62);
  assert.equal(second, false);
  await clock.advance(0.5);
  assert.equal(second, true);
  await Promise.all([one, two]);
});
