/**
 * A progress board that records what a download or a relay tells it, so
 * that a test can check the transfers it would show: each begun and ended
 * once, bytes that never go down, nothing set after the end.
 *
 * @module
 */

import type { Transfer, TransferBoard } from "../../peer/transfer_board.ts";

/** A {@link TransferBoard} that records each begin and end, and every value set on its transfers. */
export class RecordingBoard implements TransferBoard {
  /** Every transfer begun, in order, with the name and size it was begun with. */
  begun: { name: string; size: number; transfer: Transfer }[] = [];
  /** Every transfer ended, in order, with its `bytes` and `sources` at its end. */
  ended: { transfer: Transfer; bytes: number; sources: number }[] = [];
  /** Every value given to `sources`, in order. */
  sourcesSet: number[] = [];
  /** Values set on a transfer after it ended. */
  lateSets = 0;
  /** Times `bytes` went down. */
  bytesBack = 0;
  /** The most `bytes` ever was. */
  maxBytes = 0;

  /** Records a transfer of `name`, `size` bytes, and returns it: every value set on it is recorded too. */
  begin(name: string, size: number): Transfer {
    let bytes = 0;
    let sources = 0;
    let over = false;
    // deno-lint-ignore no-this-alias
    const board = this;
    const transfer: Transfer & { over: () => void } = {
      name,
      size,
      get bytes() {
        return bytes;
      },
      set bytes(value: number) {
        if (over) board.lateSets++;
        if (value < bytes) board.bytesBack++;
        bytes = value;
        board.maxBytes = Math.max(board.maxBytes, value);
      },
      get sources() {
        return sources;
      },
      set sources(value: number) {
        if (over) board.lateSets++;
        board.sourcesSet.push(value);
        sources = value;
      },
      over: () => over = true,
    };
    this.begun.push({ name, size, transfer });
    return transfer;
  }

  /** Records the end of `transfer`; any value set on it after this counts in {@link RecordingBoard.lateSets}. */
  end(transfer: Transfer): void {
    this.ended.push({ transfer, bytes: transfer.bytes, sources: transfer.sources });
    (transfer as Transfer & { over: () => void }).over();
  }
}
