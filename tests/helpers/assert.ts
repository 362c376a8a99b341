/**
 * Assertions the tests share.
 *
 * @module
 */

import assert from "node:assert/strict";
import { ProtocolError } from "../../protocol.ts";
import { sha256 } from "./hashes.ts";

/** The file at `path` holds exactly `expected` (compared by length and SHA-256, so a failure stays short). */
export async function assertSameBytes(path: string, expected: Uint8Array): Promise<void> {
  const actual = await Deno.readFile(path);
  assert.equal(actual.length, expected.length, `${path}: ${actual.length} bytes, expected ${expected.length}`);
  assert.equal(sha256(actual), sha256(expected), `${path}: the bytes differ`);
}

/** `fn` throws a `ProtocolError` with `status`; returns it. `label` names the case in a failure. */
export function throwsStatus(fn: () => unknown, status: number, label = ""): ProtocolError {
  let thrown: unknown;
  try {
    fn();
  } catch (error) {
    thrown = error;
  }
  assert.ok(thrown instanceof ProtocolError, `${label}: expected a ProtocolError ${status}, got ${String(thrown)}`);
  assert.equal(thrown.status, status, `${label}: ${thrown.message}`);
  return thrown;
}

/** The error `promise` rejects with; fails if it resolves. */
export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  return await promise.then(() => assert.fail("it did not fail"), (error: unknown) => error);
}

/** `text` with every character a regular expression gives a meaning to escaped. */
export function re(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}
