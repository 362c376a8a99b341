/**
 * Specifies `io/link.ts`: `closeQuietly` closes a resource once, ignores a
 * second close (which throws `BadResource`), and rethrows any other error a
 * close throws.
 *
 * @module
 */

import assert from "node:assert/strict";
import { closeQuietly } from "../../io/link.ts";
import { within } from "../helpers/events.ts";

Deno.test("link: closeQuietly closes a connection once and ignores a second close", async () => {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using other = await accepted;
  closeQuietly(conn);
  assert.equal(await within("the close", other.read(new Uint8Array(8))), null, "the other side sees the close");
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
