/**
 * The one way tests wait: for what a tracker or a peer reports, an
 * {@link EventLog} keeps every event, and a wait is answered by an event
 * already seen or by the next one, so that none is lost between the
 * action and the wait; for a promise, {@link within} bounds the wait and
 * names what did not come.
 *
 * @module
 */

/** How long a wait may take before it fails the test: generous, only a broken build ever reaches it. */
export const WAIT_MS = 20_000;

/** Options of a wait. */
export interface WaitOptions {
  /** Fail after this long, ms. Default {@link WAIT_MS}. */
  timeoutMs?: number;
}

/**
 * Something a test watches change (events coming, output arriving): a wait
 * on it is answered by what is there already or by a later change, within
 * a bound. {@link EventLog}, the pseudo-terminal runs and the fake screens
 * all wait through one of these.
 */
export class Changes {
  #listeners = new Set<() => void>();

  /** Tells every wait to look again. */
  changed(): void {
    for (const listener of [...this.#listeners]) listener();
  }

  /**
   * The first value `attempt` gives that is not `undefined`: now, or after
   * a change. Fails with `failure()`'s words once `timeoutMs` (default
   * {@link WAIT_MS}) has passed, or with what `attempt` throws (a wait that
   * can no longer be answered: the output has ended, say).
   */
  until<T>(attempt: () => T | undefined, options: WaitOptions & { failure: () => string }): Promise<T> {
    try {
      const first = attempt();
      if (first !== undefined) return Promise.resolve(first);
    } catch (error) {
      return Promise.reject(error);
    }
    const timeoutMs = options.timeoutMs ?? WAIT_MS;
    return new Promise<T>((resolve, reject) => {
      const end = () => {
        this.#listeners.delete(listener);
        clearTimeout(timer);
      };
      const listener = () => {
        try {
          const value = attempt();
          if (value === undefined) return;
          end();
          resolve(value);
        } catch (error) {
          end();
          reject(error);
        }
      };
      const timer = setTimeout(() => {
        end();
        reject(new Error(options.failure()));
      }, timeoutMs);
      this.#listeners.add(listener);
    });
  }
}

/** Every event of one source, kept until the end of the test; waits are answered from it. */
export class EventLog<E extends { type: string }> {
  /** Every event, in order. */
  readonly events: E[] = [];
  /** Events already handed out by {@link EventLog.next}. */
  #taken = new Set<E>();
  #changes = new Changes();

  /** Records `event` (pass as an `onEvent` option). */
  readonly push = (event: E): void => {
    this.events.push(event);
    this.#changes.changed();
  };

  /** The events of `type`, in order. */
  of<T extends E["type"]>(type: T): Extract<E, { type: T }>[] {
    return this.events.filter((e): e is Extract<E, { type: T }> => e.type === type);
  }

  /**
   * The first event of `type` (and for which `where` is true) not yet
   * returned by `next`: one already seen, or the next to come.
   */
  next<T extends E["type"]>(
    type: T,
    where: (event: Extract<E, { type: T }>) => boolean = () => true,
    options: WaitOptions = {},
  ): Promise<Extract<E, { type: T }>> {
    const find = () =>
      this.of(type).find((e) => !this.#taken.has(e) && where(e)) as Extract<E, { type: T }> | undefined;
    return this.#wait(`a "${type}" event`, () => {
      const found = find();
      if (found) this.#taken.add(found);
      return found;
    }, options);
  }

  /**
   * Resolves once `check` is true: now, or after some event; fails naming `what` after the timeout. A `check`
   * that answers with a promise (a tracker's store) is asked again after each event that came since it was
   * last asked, so that none is missed while it answers.
   */
  async until(what: string, check: () => boolean | Promise<boolean>, options: WaitOptions = {}): Promise<void> {
    const timeoutMs = options.timeoutMs ?? WAIT_MS;
    const deadline = Date.now() + timeoutMs;
    let seen = this.events.length;
    let answer = check();
    if (typeof answer === "boolean") {
      if (!answer) await this.#wait(what, () => (check() as boolean) || undefined, options);
      return;
    }
    while (!(await answer)) {
      const wait = { timeoutMs: Math.max(0, deadline - Date.now()) };
      await this.#wait(what, () => this.events.length > seen || undefined, wait, timeoutMs);
      seen = this.events.length;
      answer = check();
    }
  }

  #wait<T>(what: string, attempt: () => T | undefined, options: WaitOptions, reported?: number): Promise<T> {
    const timeoutMs = options.timeoutMs ?? WAIT_MS;
    return this.#changes.until(attempt, {
      timeoutMs,
      failure: () =>
        `${what}: not within ${reported ?? timeoutMs} ms (events seen: ${
          this.events.map((e) => e.type).join(", ") || "none"
        })`,
    });
  }
}

/** Resolves once `check` is true, looking again every `everyMs` (for state no event tells of); fails after the timeout. */
export async function eventually(
  what: string,
  check: () => boolean | Promise<boolean>,
  options: WaitOptions & { everyMs?: number } = {},
): Promise<void> {
  const deadline = Date.now() + (options.timeoutMs ?? WAIT_MS);
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${options.timeoutMs ?? WAIT_MS} ms`);
    await new Promise((resolve) => setTimeout(resolve, options.everyMs ?? 10));
  }
}

/**
 * `promise`, or a failure naming `what` once {@link WAIT_MS} (or `options.timeoutMs`) has passed without it
 * settling (only a broken build waits that long). Its timer is cleared either way.
 */
export async function within<T>(what: string, promise: Promise<T>, options: WaitOptions = {}): Promise<T> {
  const timeoutMs = options.timeoutMs ?? WAIT_MS;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const late = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what}: not within ${timeoutMs} ms`)), timeoutMs);
  });
  try {
    return await Promise.race([promise, late]);
  } finally {
    clearTimeout(timer);
  }
}
