/**
 * A file's SHA-256, computed while the file is being written, on a thread
 * of its own for a large file, so that the thread that moves the bytes
 * never waits for the hash. The file is told piece by piece as pieces land
 * in it, in any order; they are hashed in index order, each from memory
 * when its bytes were handed over, else read back from the file.
 *
 * On a thread (a `Worker` running this same module, loaded once more
 * under the name {@link HASH_WORKER_NAME}), a piece's bytes are handed
 * over by transferring their buffer (no copy), which comes back once
 * hashed, to be used again. At most {@link FileHashOptions.inFlight}
 * buffers are over there at once; past that, a piece is handed over by
 * its place in the file only, and the hashing thread reads it back there
 * when its turn comes. So the caller never waits for the hash, and memory
 * stays bounded.
 *
 * One worker serves every hash of the process: the first hash on a thread
 * starts it, closing the last stops it. By default only a large file
 * ({@link THREAD_BYTES}) on a machine of more than two cores is hashed on
 * a thread: starting the worker costs 100-200 ms and 14-20 MiB, and on two
 * cores, where the sender of a local transfer, the receiving thread and
 * the hashing thread share them, it measured slower than hashing on the
 * receiving thread (docs/PERFORMANCE.md). Every file of a process that may
 * not read this module's file is hashed here too (a worker has to load
 * it: `deno task cat` runs without `--allow-read`).
 *
 * This module imports nothing but `node:crypto`, so that the worker loads
 * no more than it needs.
 *
 * @module
 */

import { createHash, type Hash } from "node:crypto";

/** The worker's name: this module, loaded in a worker of that name, serves hashes. */
export const HASH_WORKER_NAME = "p2p-sha256";

/** A file of this many bytes or more is hashed on a thread of its own (by default); a smaller one, here. */
export const THREAD_BYTES = 64 * 1024 * 1024;

/** Fewest cores for the default to hash on a thread of its own. */
export const THREAD_CORES = 3;

/** Buffers over on the hashing thread at once, by default. */
export const IN_FLIGHT = 4;

/** Where a piece lies in the file. */
export interface Span {
  /** Its first byte's offset. */
  offset: number;
  /** Its length. */
  length: number;
}

/** A piece that landed in the file: where, and, if at hand, its bytes. */
export interface Piece extends Span {
  /** Its bytes, if the caller has them in memory. */
  bytes?: Uint8Array;
}

/** Options of {@link openFileHash}. */
export interface FileHashOptions {
  /** The file the pieces land in (read back from there when their bytes are not handed over). */
  path: string;
  /**
   * Its size: from {@link THREAD_BYTES} on, on a machine of at least
   * {@link THREAD_CORES} cores, hashed on a thread of its own (unless
   * `thread` says otherwise).
   */
  size: number;
  /** True: on a thread whatever the size and cores (where the process may start one); false: here. Default: see `size`. */
  thread?: boolean;
  /** Most buffers over on the hashing thread at once. Default {@link IN_FLIGHT}. */
  inFlight?: number;
  /** Gets each buffer taken by {@link FileHash.landed} back once hashed (a new `ArrayBuffer` over the same memory). */
  onReturn?: (buffer: ArrayBuffer) => void;
}

/** The SHA-256 of a file whose pieces land in any order; hashed in index order. */
export interface FileHash extends Disposable {
  /** True when the hashing runs on a thread of its own. */
  readonly onThread: boolean;
  /**
   * Piece `index` (pieces are numbered from 0, each lands once) is written
   * in the file at `piece.offset`; `piece.bytes`, if given, are its bytes. Returns true
   * when it took `bytes.buffer`: on a thread, for the piece next in line
   * (every piece before it landed) while there is room for one more buffer
   * over there, the whole of `bytes.buffer` is transferred (hand over only
   * a buffer of your own, such as a pool's chunk: it is detached here) and
   * comes back through `onReturn`. Otherwise `bytes` stay the caller's:
   * hashed at once if the piece's turn has come (here), or not used at all
   * (the piece is read back from the file in its turn). An early piece's
   * bytes are never kept, so that room never waits for a piece to come.
   */
  landed(index: number, piece: Piece): boolean;
  /**
   * Resolves once there is room for one more buffer on the hashing thread;
   * `undefined` when there is room now (always, here). A caller that waits
   * for it before receiving its next piece keeps the buffers bounded
   * without ever being told "no": the hashing thread needs nothing from it
   * to make room.
   */
  room(): Promise<void> | undefined;
  /**
   * The SHA-256 in hex of pieces 0 to `count` − 1, once all have landed;
   * call once. Rejects when a piece could not be read back (the file is
   * shorter than written) or the hashing thread failed.
   */
  digest(count: number): Promise<string>;
  /** Stops using the thread (the last hash to close stops it); idempotent. */
  close(): void;
}

/**
 * Whether the process's hashing thread runs: some hash on it is open. A
 * process does not exit while it runs, so every hash is closed on every
 * path.
 */
export function hashThreadRunning(): boolean {
  return HashWorker.running();
}

/**
 * Opens the hash of the file at `options.path`: on a thread of its own or
 * here (see {@link FileHashOptions}). Close it on every path.
 *
 * @example
 * ```ts ignore
 * using hash = openFileHash({ path: part, size, onReturn: (buffer) => pool.adopt(buffer) });
 * hash.landed(1, { offset: CHUNK_SIZE, length: CHUNK_SIZE, bytes: chunk1 }); // early: read back in its turn
 * hash.landed(0, { offset: 0, length: CHUNK_SIZE }); // in the file only: read back
 * const sha256 = await hash.digest(2);
 * ```
 */
export function openFileHash(options: FileHashOptions): FileHash {
  const thread = options.thread ?? (options.size >= THREAD_BYTES && navigator.hardwareConcurrency >= THREAD_CORES);
  return thread && HashWorker.available() ? new ThreadHash(options) : new HereHash(options.path);
}

/**
 * Pieces hashed in index order as they land: a piece whose turn has come
 * from its bytes if it has them, else read back from the file; an early
 * piece waits (with its bytes, if it has them, here on the hashing
 * thread). Runs on the hashing thread, and here for a small file.
 */
class InOrder {
  #hash: Hash = createHash("sha256");
  #path: string;
  #next = 0;
  /** Early pieces, by index; `done` is told when their bytes are hashed (or not needed). */
  #early = new Map<number, { span: Span; bytes?: Uint8Array; done?: () => void }>();
  #file: Deno.FsFile | undefined;
  #scratch: Uint8Array | undefined;

  constructor(path: string) {
    this.#path = path;
  }

  /** The piece whose turn it is. */
  get next(): number {
    return this.#next;
  }

  /** Piece `index` landed at `span`; `done` is told once `bytes` are hashed or not needed. Throws if unreadable. */
  landed(index: number, piece: { span: Span; bytes?: Uint8Array; done?: () => void }): void {
    if (index < this.#next || this.#early.has(index)) return piece.done?.(); // landed before: nothing new
    if (index > this.#next) {
      this.#early.set(index, piece);
      return;
    }
    this.#take(piece);
    for (let early = this.#early.get(this.#next); early; early = this.#early.get(this.#next)) {
      this.#early.delete(this.#next);
      this.#take(early);
    }
  }

  /** The hash of pieces 0 to `count` − 1; throws if one has not landed. */
  digest(count: number): string {
    this.close();
    if (this.#next < count) throw new Error(`piece ${this.#next} of ${this.#path} was never written`);
    return this.#hash.digest("hex");
  }

  /** Closes the file read back from; gives back what waits. */
  close(): void {
    this.#file?.close();
    this.#file = undefined;
    for (const early of this.#early.values()) early.done?.();
    this.#early.clear();
  }

  /** Hashes the piece whose turn it is. */
  #take(piece: { span: Span; bytes?: Uint8Array; done?: () => void }): void {
    try {
      this.#hash.update(piece.bytes ?? this.#read(piece.span));
      this.#next++;
    } finally {
      piece.done?.();
    }
  }

  #read(span: Span): Uint8Array {
    this.#file ??= Deno.openSync(this.#path, { read: true });
    if (!this.#scratch || this.#scratch.length < span.length) this.#scratch = new Uint8Array(span.length);
    const buffer = this.#scratch.subarray(0, span.length);
    this.#file.seekSync(span.offset, Deno.SeekMode.Start);
    let filled = 0;
    while (filled < buffer.length) {
      const n = this.#file.readSync(buffer.subarray(filled));
      if (n === null || n === 0) throw new RangeError(`${this.#path} is shorter than written`);
      filled += n;
    }
    return buffer;
  }
}

/** Hashing on this thread: a piece in its turn from its bytes, or read back; `bytes` are never kept. */
class HereHash implements FileHash {
  readonly onThread = false;
  #order: InOrder;

  constructor(path: string) {
    this.#order = new InOrder(path);
  }

  landed(index: number, piece: Piece): boolean {
    const { offset, length, bytes } = piece;
    // Early bytes would have to be copied to be kept: an early piece is read back in its turn instead.
    this.#order.landed(index, { span: { offset, length }, bytes: index === this.#order.next ? bytes : undefined });
    return false;
  }

  room(): undefined {
    return undefined;
  }

  digest(count: number): Promise<string> {
    try {
      return Promise.resolve(this.#order.digest(count));
    } catch (error) {
      return Promise.reject(error);
    }
  }

  close(): void {
    this.#order.close();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** What the hashing thread is asked. */
type Request =
  | { op: "landed"; id: number; path: string; index: number; span: Span; buffer?: ArrayBuffer; byteOffset?: number }
  | { op: "digest"; id: number; count: number }
  | { op: "forget"; id: number };

/** What it answers: a buffer back, the digest, or a failure. */
type Reply =
  | { op: "back"; id: number; buffer: ArrayBuffer }
  | { op: "digest"; id: number; hex: string }
  | { op: "failed"; id: number; message: string };

/** Hashing on the process's hashing thread. */
class ThreadHash implements FileHash {
  readonly onThread = true;
  #options: FileHashOptions;
  #max: number;
  /** Buffers over there now. */
  #over = 0;
  /** Told when a buffer comes back. */
  #roomWaiters: (() => void)[] = [];
  /** The first piece that has not landed: the next in line. */
  #line = 0;
  /** Pieces landed after {@link ThreadHash.#line}. */
  #ahead = new Set<number>();
  #id: number;
  #worker: HashWorker;
  #digest = Promise.withResolvers<string>();
  #failure: Error | undefined;
  #closed = false;

  constructor(options: FileHashOptions) {
    this.#options = options;
    this.#max = Math.max(1, options.inFlight ?? IN_FLIGHT);
    this.#worker = HashWorker.join();
    this.#id = this.#worker.add(this);
    this.#digest.promise.catch(() => {}); // told to whoever asks for it
  }

  landed(index: number, piece: Piece): boolean {
    const { offset, length, bytes } = piece;
    const span = { offset, length };
    const { path } = this.#options;
    const inLine = index === this.#line;
    if (inLine) {
      this.#line++;
      while (this.#ahead.delete(this.#line)) this.#line++;
    } else if (index > this.#line) this.#ahead.add(index);
    if (!bytes || !inLine || this.#over >= this.#max || this.#failure || this.#closed) {
      this.#worker.post({ op: "landed", id: this.#id, path, index, span });
      return false;
    }
    this.#over++;
    const buffer = bytes.buffer as ArrayBuffer;
    this.#worker.post({ op: "landed", id: this.#id, path, index, span, buffer, byteOffset: bytes.byteOffset }, [
      buffer,
    ]);
    return true;
  }

  room(): Promise<void> | undefined {
    if (this.#over < this.#max || this.#failure || this.#closed) return undefined;
    return new Promise((resolve) => this.#roomWaiters.push(resolve));
  }

  digest(count: number): Promise<string> {
    this.#worker.post({ op: "digest", id: this.#id, count });
    return this.#digest.promise;
  }

  /** An answer of the hashing thread for this hash. */
  answer(reply: Reply): void {
    if (reply.op === "back") {
      this.#over--;
      this.#options.onReturn?.(reply.buffer);
      // Every waiter, not one: a source woken may land a piece out of line, which sends nothing over, and
      // then nothing would come back to wake the next. A piece in line finding the thread full is read back.
      for (const wake of this.#roomWaiters.splice(0)) wake();
    } else if (reply.op === "digest") {
      this.#digest.resolve(reply.hex);
      this.close();
    } else this.fail(new Error(reply.message));
  }

  /** The thread failed (for this hash, or for all): nothing more is hashed there; a digest asked for rejects. */
  fail(error: Error): void {
    this.#failure ??= error;
    this.#digest.reject(this.#failure);
    this.close();
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#worker.remove(this.#id);
    for (const wake of this.#roomWaiters.splice(0)) wake();
  }

  [Symbol.dispose](): void {
    this.close();
  }
}

/** The process's hashing thread: started by the first hash that joins, terminated when the last leaves. */
class HashWorker {
  static #current: HashWorker | undefined;
  static #url = new URL(import.meta.url);
  #worker: Worker;
  #hashes = new Map<number, ThreadHash>();
  #nextId = 1;
  #stopped = false;

  /** Whether this process may start the worker: it must be allowed to read this module's file. */
  static available(): boolean {
    if (typeof Worker !== "function") return false;
    if (HashWorker.#url.protocol !== "file:") return true;
    return Deno.permissions.querySync({ name: "read", path: HashWorker.#url }).state === "granted";
  }

  /** Whether a worker runs. */
  static running(): boolean {
    return HashWorker.#current !== undefined;
  }

  /** The running worker, started if none runs. */
  static join(): HashWorker {
    HashWorker.#current ??= new HashWorker();
    return HashWorker.#current;
  }

  private constructor() {
    this.#worker = new Worker(HashWorker.#url.href, { type: "module", name: HASH_WORKER_NAME });
    this.#worker.onmessage = (event: MessageEvent<Reply>) => this.#hashes.get(event.data.id)?.answer(event.data);
    const failed = (message: string) => {
      const error = new Error(`the hashing thread failed: ${message}`);
      for (const hash of [...this.#hashes.values()]) hash.fail(error);
      this.#stop();
    };
    this.#worker.onerror = (event: ErrorEvent) => {
      event.preventDefault();
      failed(event.message);
    };
    this.#worker.onmessageerror = () => failed("a message could not be read");
  }

  /** Takes `hash` on; its id in the messages. */
  add(hash: ThreadHash): number {
    const id = this.#nextId++;
    this.#hashes.set(id, hash);
    return id;
  }

  /** `id` is done: forgotten here and there; the worker stops with the last. */
  remove(id: number): void {
    if (!this.#hashes.delete(id)) return;
    if (this.#hashes.size === 0) this.#stop();
    else this.post({ op: "forget", id });
  }

  post(request: Request, transfer: Transferable[] = []): void {
    if (!this.#stopped) this.#worker.postMessage(request, transfer);
  }

  #stop(): void {
    if (this.#stopped) return;
    this.#stopped = true;
    this.#worker.terminate();
    if (HashWorker.#current === this) HashWorker.#current = undefined;
  }
}

/** The worker's side: one {@link InOrder} per id; each buffer goes back once hashed. */
function serveHashes(scope: {
  onmessage: ((event: MessageEvent<Request>) => void) | null;
  postMessage(reply: Reply, transfer?: Transferable[]): void;
}): void {
  const hashes = new Map<number, InOrder | "failed">();
  scope.onmessage = ({ data: request }) => {
    const { id } = request;
    if (request.op === "forget") {
      const order = hashes.get(id);
      if (order instanceof InOrder) order.close();
      hashes.delete(id);
      return;
    }
    let order = hashes.get(id);
    if (order === "failed") return;
    try {
      if (request.op === "landed") {
        if (!order) hashes.set(id, order = new InOrder(request.path));
        const { buffer, byteOffset = 0, span } = request;
        const bytes = buffer && new Uint8Array(buffer, byteOffset, span.length);
        const done = buffer && (() => scope.postMessage({ op: "back", id, buffer }, [buffer]));
        order.landed(request.index, { span, bytes, done });
      } else {
        const hex = (order ?? new InOrder("")).digest(request.count);
        hashes.delete(id);
        scope.postMessage({ op: "digest", id, hex });
      }
    } catch (error) {
      if (order instanceof InOrder) order.close();
      hashes.set(id, "failed");
      scope.postMessage({ op: "failed", id, message: error instanceof Error ? error.message : String(error) });
    }
  };
}

// Loaded as the hashing worker: serve.
{
  const scope = globalThis as unknown as { name?: unknown; WorkerGlobalScope?: unknown };
  if (typeof scope.WorkerGlobalScope === "function" && scope.name === HASH_WORKER_NAME) {
    serveHashes(globalThis as unknown as Parameters<typeof serveHashes>[0]);
  }
}
