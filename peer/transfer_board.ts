/**
 * Where downloads show their progress: the swarm and the relay keep a
 * {@link Transfer} up to date; whoever shows it (a terminal's live lines,
 * in `cli/`) implements {@link TransferBoard}.
 *
 * @module
 */

/** A transfer as it runs: its owner updates `bytes` and `sources` in place; the board reads them. */
export interface Transfer {
  /** The file's name. */
  name: string;
  /** Total bytes, when known. */
  size: number;
  /** Bytes received so far (resumed bytes included). */
  bytes: number;
  /** Of `bytes`, those found verified on disk from an earlier run (not received now: no speed). Default 0. */
  resumed?: number;
  /** Sources in use now. */
  sources: number;
  /** Of `sources`, those still downloading the file themselves (partial holders). Default 0. */
  partialSources?: number;
}

/** Where transfers are announced. */
export interface TransferBoard {
  /** A transfer starts; update the returned record as it goes. */
  begin(name: string, size: number): Transfer;
  /** It is over (its result line is printed by whoever prints results). */
  end(transfer: Transfer): void;
}
