/**
 * Specifies `io/server.ts`, the `TcpServer` the tracker and the file server
 * share, on real loopback sockets: connections over the total cap
 * (`maxConnections`) or the per-address cap (`maxPerAddress`) are answered
 * `421` and closed while the others are served; `close({ graceMs })` (on a
 * `ManualClock`) stops accepting, gives running handlers the grace, tells
 * `onDrain` then `onForce`, then closes what is left, and is idempotent; a
 * handler's error goes to `onError` and the server goes on.
 *
 * @module
 */

import assert from "node:assert/strict";
import { formatStatusLine, Status } from "../../protocol.ts";
import { isDisconnect } from "../../io/errors.ts";
import { BufferedReader } from "../../io/reader.ts";
import { TcpServer, type TcpServerOptions } from "../../io/server.ts";
import { writeText } from "../../io/streams.ts";
import { ManualClock } from "../helpers/clock.ts";
import { EventLog, within } from "../helpers/events.ts";
import { LineClient } from "../helpers/net.ts";

/** What the test servers report. */
type ServerEvent =
  | { type: "started" }
  | { type: "ended"; how: string }
  | { type: "error"; error: unknown }
  | { type: "drain" }
  | { type: "force" };

/**
 * A server on 127.0.0.1 that answers every line `200 PONG`, throws on the
 * line `boom`, and reports when each handler starts and ends.
 */
function pongServer(options: Partial<TcpServerOptions> = {}) {
  const events = new EventLog<ServerEvent>();
  const server = new TcpServer(async (link) => {
    events.push({ type: "started" });
    const reader = new BufferedReader(link);
    let how = "the client left";
    try {
      while (true) {
        const line = await reader.readLine();
        if (line === null) return;
        if (line === "boom") {
          how = "it threw";
          throw new Error("the handler failed on purpose");
        }
        await writeText(link, formatStatusLine(Status.OK, "PONG"));
      }
    } catch (error) {
      if (how !== "it threw") how = "its connection was closed";
      throw error;
    } finally {
      events.push({ type: "ended", how });
    }
  }, { hostname: "127.0.0.1", port: 0, onError: (error) => events.push({ type: "error", error }), ...options });
  return Object.assign(server, { events });
}

/** The order in which the handler ended and the close told `onDrain` and `onForce`. */
function steps(events: EventLog<ServerEvent>): string[] {
  return events.events.map((e) => e.type).filter((type) => type === "drain" || type === "force" || type === "ended");
}

/** Asks PING and expects PONG. */
async function assertServed(client: LineClient, label: string): Promise<void> {
  assert.deepEqual(await within(label, client.ask("PING\n")), [{ status: 200, more: false, text: "PONG" }], label);
}

Deno.test("server: connections over the total cap (maxConnections) or the per-address cap get 421 and a close; the others are still served", async () => {
  const caps = [
    { options: { maxConnections: 2 }, refusal: "421 too many connections (2)" },
    { options: { maxConnections: 10, maxPerAddress: 2 }, refusal: "421 too many connections from 127.0.0.1 (2)" },
  ];
  for (const { options, refusal } of caps) {
    await using server = pongServer(options);
    const port = server.addr.port;
    using one = await LineClient.connect(port);
    using two = await LineClient.connect(port);
    await assertServed(one, "first");
    await assertServed(two, "second");
    using third = await LineClient.connect(port);
    assert.equal(await within("the refusal", third.reader.readLine()), refusal);
    assert.equal(await within("the close", third.reader.readLine()), null, "and closed");
    // The ones admitted are still served.
    await assertServed(one, "first, after the refusal");
    await assertServed(two, "second, after the refusal");
    // One leaves: room again.
    one[Symbol.dispose]();
    assert.equal((await server.events.next("ended")).how, "the client left");
    using again = await LineClient.connect(port);
    await assertServed(again, "a new one once a slot is free");
    assert.equal(server.events.of("started").length, 3, "the refused connection never reached the handler");
  }
});

Deno.test("server: close({ graceMs }) gives a running handler the grace, tells onDrain then onForce, then closes its connection", async () => {
  const clock = new ManualClock();
  const server = pongServer();
  const { events } = server;
  using client = await LineClient.connect(server.addr.port);
  await assertServed(client, "before the close");
  const closing = server.close({
    graceMs: 5_000,
    clock,
    onDrain: () => events.push({ type: "drain" }),
    onForce: () => events.push({ type: "force" }),
  });
  assert.equal(server.closing, true);
  await events.next("drain");
  assert.equal(clock.pending, 1, "the grace period runs on the clock given");
  await assert.rejects(Deno.connect({ hostname: "127.0.0.1", port: server.addr.port }), Deno.errors.ConnectionRefused);
  await clock.advance(4_999);
  assert.deepEqual(events.of("force"), [], "no force before the grace has passed");
  assert.deepEqual(events.of("ended"), [], "the handler runs on during the grace");
  await clock.advance(1);
  await closing;
  assert.deepEqual(steps(events), ["drain", "force", "ended"]);
  assert.equal(events.of("ended")[0].how, "its connection was closed");
  for (const { error } of events.of("error")) assert.ok(isDisconnect(error), `only the close itself: ${error}`);
  assert.equal(await within("the close", client.closed()), true, "the client sees the close");
  // Idempotent: a second close is the same close, and tells no one again.
  assert.equal(server.close({ onDrain: () => events.push({ type: "drain" }) }), closing);
  await server[Symbol.asyncDispose]();
  assert.equal(events.of("drain").length, 1);
  assert.equal(events.of("force").length, 1);
  assert.equal(clock.pending, 0);
});

Deno.test("server: a handler that ends within the grace lets close end without waiting out the rest of it", async () => {
  const clock = new ManualClock();
  const server = pongServer();
  const { events } = server;
  using client = await LineClient.connect(server.addr.port);
  await assertServed(client, "before the close");
  const closing = server.close({
    graceMs: 60_000,
    clock,
    onDrain: () => events.push({ type: "drain" }),
    onForce: () => events.push({ type: "force" }),
  });
  await events.next("drain");
  await assertServed(client, "during the grace");
  client[Symbol.dispose](); // the client is done: its handler ends on its own
  await closing;
  assert.deepEqual(steps(events), ["drain", "ended", "force"]);
  assert.equal(events.of("ended")[0].how, "the client left");
  assert.equal(clock.pending, 0, "the grace timer is cleared");
});

Deno.test("server: close without running handlers skips the grace, and closes at once", async () => {
  const clock = new ManualClock();
  const server = pongServer();
  const { events } = server;
  await server.close({
    graceMs: 60_000,
    clock,
    onDrain: () => events.push({ type: "drain" }),
    onForce: () => events.push({ type: "force" }),
  });
  assert.deepEqual(steps(events), ["force"]);
  assert.equal(clock.pending, 0);
});

Deno.test("server: a handler's error goes to onError, its connection is closed, and the server goes on", async () => {
  await using server = pongServer();
  using failing = await LineClient.connect(server.addr.port);
  await failing.send("boom\n");
  const { error } = await server.events.next("error");
  assert.ok(error instanceof Error);
  assert.equal(error.message, "the handler failed on purpose");
  assert.equal(await within("the close", failing.closed()), true);
  using next = await LineClient.connect(server.addr.port);
  await assertServed(next, "after a handler failed");
});
