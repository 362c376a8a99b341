/**
 * Specifies `io/link.ts`: `closeQuietly` closes a resource once, ignores a
 * second close (which throws `BadResource`), and rethrows any other error a
 * close throws.
 *
 * @module
 */

import assert from "node:assert/strict";
import { closeQuietly } from "../../io/link.ts";
import { WAIT_MS } from "../helpers/events.ts";

/** `promise`, or a failure naming `what` after {@link WAIT_MS} (only a broken build waits that long). */
async function bounded<T>(what: string, promise: Promise<T>): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${WAIT_MS} ms`)), WAIT_MS);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}

Deno.test("link: closeQuietly closes a connection once and ignores a second close", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using other = await accepted;
  closeQuietly(conn);
  assert.equal(await bounded("the close", other.read(new Uint8Array(8))), null, "the other side sees the close");
  assert.throws(() => conn.close(), Deno.errors.BadResource, "a second close throws BadResource");
  closeQuietly(conn); // and closeQuietly does not
  closeQuietly(listener);
  closeQuietly(listener);
});

Deno.test("link: closeQuietly rethrows any error of a close but BadResource", () => {
  let closes = 0;
  const failing = {
    close() {
      closes++;
      throw new Deno.errors.PermissionDenied("not yours to close");
    },
  };
  assert.throws(() => closeQuietly(failing), Deno.errors.PermissionDenied);
  const broken = {
    close() {
      closes++;
      throw new TypeError("close is broken");
    },
  };
  assert.throws(() => closeQuietly(broken), TypeError);
  assert.equal(closes, 2);
});
