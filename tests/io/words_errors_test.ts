/**
 * What `classify` (`io/errors.ts`) makes of a server that needs the shared
 * secret: a holder with `--secret` answers a plain request with `530 this
 * server needs the shared secret (--secret)`, which names neither it nor
 * the variable; the try is told as `EAUTH`, saying how to give the secret
 * (the attempt line names the holder). And the two errors a tracker client
 * gives before any request is answered: no tracker there, or a peer there.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ProtocolError, Status } from "../../protocol.ts";
import { classify, ConnectionClosedError, NotATrackerError, TrackerUnreachableError } from "../../io/errors.ts";
import { Secret } from "../../io/secret.ts";
import { requestFile } from "../../peer/request_file.ts";
import { testPeer, testTracker } from "../helpers/roles.ts";

const NEEDS_SECRET = {
  code: "EAUTH",
  message: "needs the shared secret (--secret); give it with --secret or P2P_SECRET",
};

Deno.test("classify: a holder that needs the secret is EAUTH, saying how to give it", async () => {
  const secret = await Secret.from("s3cret");
  await using tracker = testTracker({ secret });
  await using holder = await testPeer(tracker.address, { "f.txt": "private" }, { secret });
  const error = await requestFile(holder.address, "f.txt").then(() => undefined, (e) => e);
  assert.ok(error instanceof ProtocolError && error.status === Status.NEEDS_SECRET, String(error));
  assert.deepEqual(classify(error), NEEDS_SECRET);
  // Other refusals keep their status and words.
  assert.deepEqual(classify(new ProtocolError(Status.NOT_FOUND, 'no file "x"')), {
    code: "404",
    message: 'no file "x"',
  });
});

Deno.test("TrackerUnreachableError: the address, the reason, what to do; classified as a closed connection", () => {
  const error = new TrackerUnreachableError("127.0.0.1:4444", "connection refused");
  assert.equal(
    error.message,
    "cannot reach the tracker at 127.0.0.1:4444 (connection refused); is it running? " +
      "start one with 'deno task tracker' or point --tracker at it",
  );
  assert.equal(classify(error).code, "ECLOSED");
});

Deno.test("NotATrackerError: names the address and where to point --tracker; a closed connection, so callers that know only that still work", () => {
  const error = new NotATrackerError("127.0.0.1:5555");
  assert.equal(
    error.message,
    "127.0.0.1:5555 is a peer, not a tracker; point --tracker at the tracker (default port 4444)",
  );
  assert.ok(error instanceof ConnectionClosedError);
  assert.equal(error.address, "127.0.0.1:5555");
});
