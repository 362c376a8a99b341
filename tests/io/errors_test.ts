/**
 * Specifies `io/errors.ts`, the one error vocabulary: `classify` maps each
 * kind of failure to the code a person sees (an aborted signal wins over
 * anything), every code it can give is one of `CODES` or a wire status,
 * `isDisconnect` knows the ways a connection ends, and `localError` names
 * the file and says what to do about a disk problem.
 *
 * @module
 */

import assert from "node:assert/strict";
import { join } from "node:path";
import { ProtocolError, Status } from "../../protocol.ts";
import {
  AuthError,
  classify,
  CODES,
  ConnectionClosedError,
  FatalRequestError,
  isDisconnect,
  LineTooLongError,
  LocalError,
  localError,
  TransferError,
} from "../../io/errors.ts";
import { unusedPort } from "../helpers/net.ts";

/** A real failure: connecting where nothing listens. */
async function refusedConnect(): Promise<unknown> {
  return await Deno.connect({ hostname: "127.0.0.1", port: unusedPort() }).then((conn) => {
    conn.close();
    assert.fail("something listens on a port just released");
  }, (error) => error);
}

/** A real failure: reading a connection after closing it. */
async function readAfterClose(): Promise<unknown> {
  using listener = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const accepted = listener.accept();
  const conn = await Deno.connect({ hostname: "127.0.0.1", port: listener.addr.port });
  using _other = await accepted;
  conn.close();
  return await conn.read(new Uint8Array(8)).then(() => assert.fail("a closed connection read"), (error) => error);
}

/** What each kind of failure is shown as: [label, error, code, message pattern]. */
async function cases(): Promise<[string, unknown, string, RegExp][]> {
  return [
    ["a refused connect", await refusedConnect(), "ECONNREFUSED", /^connection refused$/],
    ["a timeout", new DOMException("Signal timed out.", "TimeoutError"), "ETIMEDOUT", /^connect timed out$/],
    ["an abort", new DOMException("The signal has been aborted", "AbortError"), "ECANCELED", /^cancelled$/],
    ["a failed handshake", new AuthError(Status.FORBIDDEN, "wrong --secret"), "EAUTH", /^wrong --secret$/],
    ["a refusal", new ProtocolError(Status.NOT_FOUND, "no file"), "404", /^no file$/],
    ["a busy holder", new ProtocolError(Status.BUSY, "busy"), "503", /^busy$/],
    ["a line too long", new LineTooLongError(8), "413", /8 bytes/],
    ["a fatal request", new FatalRequestError(Status.BAD_REQUEST, "bad UPDATE"), "400", /^bad UPDATE$/],
    ["a bad chunk", new TransferError("EHASH", "chunk 3 does not match"), "EHASH", /^chunk 3 does not match$/],
    ["a full disk", localError("cannot write /x", new Error("No space left")), "ELOCAL", /^cannot write \/x/],
    ["a plain LocalError", new LocalError("disk gone"), "ELOCAL", /^disk gone$/],
    ["a closed tracker", new ConnectionClosedError(), "ECLOSED", /^the tracker closed the connection$/],
    ["a read after close", await readAfterClose(), "ECONNRESET", /^connection lost: /],
    ["a reset", new Deno.errors.ConnectionReset("reset by peer"), "ECONNRESET", /^connection lost: reset by peer$/],
    ["a forged record", new Deno.errors.InvalidData("a record failed"), "ECONNRESET", /^connection lost: /],
    [
      "no route to the network",
      new Deno.errors.NetworkUnreachable("Network is unreachable"),
      "ENETUNREACH",
      /^Network/,
    ],
    ["an address not usable here", new Deno.errors.AddrNotAvailable("Cannot assign"), "EADDRNOTAVAIL", /^Cannot/],
    ["a system timeout", new Deno.errors.TimedOut("Connection timed out"), "ETIMEDOUT", /^Connection timed out$/],
    [
      "a system code of ours",
      Object.assign(new Error("No route to host"), { code: "EHOSTUNREACH" }),
      "EHOSTUNREACH",
      /^No/,
    ],
    [
      "a system code of no meaning here",
      Object.assign(new Error("No buffer space"), { code: "ENOBUFS" }),
      "EUNKNOWN",
      /^No/,
    ],
    ["anything else", new TypeError("x is undefined"), "EUNKNOWN", /^x is undefined$/],
    ["a thrown string", "oops", "EUNKNOWN", /^oops$/],
    ["nothing", undefined, "EUNKNOWN", /^undefined$/],
  ];
}

Deno.test("errors: classify maps each kind of failure to its code and a message", async () => {
  for (const [label, error, code, message] of await cases()) {
    const shown = classify(error);
    assert.equal(shown.code, code, `${label}: ${String(error)}`);
    assert.match(shown.message, message, label);
  }
});

Deno.test("errors: with an aborted signal, every failure is ECANCELED: it was our doing", async () => {
  const signal = AbortSignal.abort();
  for (const [label, error] of await cases()) {
    assert.deepEqual(classify(error, signal), { code: "ECANCELED", message: "cancelled" }, label);
  }
  // A signal not aborted changes nothing.
  assert.equal(classify(new AuthError(Status.FORBIDDEN, "x"), new AbortController().signal).code, "EAUTH");
});

Deno.test("errors: every code classify can give is a key of CODES or a wire status", async () => {
  const statuses = new Set<string>(Object.values(Status).map(String));
  for (const [label, error] of await cases()) {
    const { code } = classify(error);
    assert.ok(code in CODES || statuses.has(code), `${label}: ${code}`);
  }
  // Read from the source too, so that a code added to classify without a meaning fails here.
  const source = await Deno.readTextFile(join(import.meta.dirname!, "..", "..", "io", "errors.ts"));
  const body = source.slice(
    source.indexOf("export function classify("),
    source.indexOf("export function errorMessage("),
  );
  const literal = [...body.matchAll(/code: "([A-Z0-9]+)"/g)].map((m) => m[1]);
  assert.ok(literal.length >= 6, `${literal.length} codes found in classify`);
  for (const code of literal) assert.ok(code in CODES, `classify gives ${code}, which CODES does not explain`);
});

Deno.test("errors: isDisconnect is true for the ways a connection ends, and false for the rest", () => {
  const ends = [
    Deno.errors.BadResource,
    Deno.errors.InvalidData,
    Deno.errors.ConnectionReset,
    Deno.errors.BrokenPipe,
    Deno.errors.Interrupted,
    Deno.errors.ConnectionAborted,
    Deno.errors.UnexpectedEof,
    Deno.errors.NotConnected,
  ];
  for (const Kind of ends) assert.equal(isDisconnect(new Kind("x")), true, Kind.name);
  const others = [
    new Deno.errors.ConnectionRefused("x"),
    new Deno.errors.NotFound("x"),
    new Error("x"),
    new ProtocolError(400, "x"),
    "x",
  ];
  for (const error of others) assert.equal(isDisconnect(error), false, String(error));
});

Deno.test("errors: disk problems name the file and say what to do", () => {
  const cases: [unknown, RegExp][] = [
    [
      new Deno.errors.NotFound("No such file or directory (os error 2)"),
      /; create the folder or choose another --out$/,
    ],
    [new Deno.errors.PermissionDenied("Permission denied (os error 13)"), /; check the folder's permissions/],
    [new Error("No space left on device (os error 28)"), /; free some space or choose another --out$/],
    [new Error("Read-only file system (os error 30)"), /; choose a writable --out$/],
    [new Error("something else"), /^cannot write \/x\/f: something else$/],
  ];
  for (const [error, expected] of cases) {
    const local = localError("cannot write /x/f", error);
    assert.match(local.message, expected);
    assert.match(local.message, /^cannot write \/x\/f: /, "it names the file");
    assert.ok(local instanceof LocalError);
    assert.equal(local.cause, error, "the original error is its cause");
  }
});
