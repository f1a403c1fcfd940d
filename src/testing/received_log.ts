/**
 * What one mock client sent: a bounded log of the newest messages, counts of
 * every message by type, and the calls waiting for the `count`-th message of
 * a type ({@linkcode MockClient.waitFor}).
 *
 * A client decides what it sends, so every part is bounded: the log by
 * messages and characters, the counts by how many types they track.
 *
 * @module
 */
import { addWaiter, givenUp, type Waiter } from "./waiters.ts";
import { deferred } from "../base/timers.ts";

/** Longer message types are not counted for `waitFor` (see `maxMessageTypes`). */
const MAX_COUNTED_TYPE_LENGTH = 64;
/** Emptied slots at the log's head are removed in bulk once there are this many (and half). */
const COMPACT_AFTER = 1024;

/** The bounds of a {@linkcode ReceivedLog}: the options of the same names. */
export interface ReceivedLimits {
  readonly maxReceived: number;
  readonly maxReceivedChars: number;
  readonly maxMessageTypes: number;
}

interface TypeWaiter extends Waiter<Record<string, string>> {
  readonly type: string;
  /** How many more messages of `type` it waits for. */
  count: number;
}

/** The messages one client sent, bounded, and the calls waiting for some. */
export class ReceivedLog {
  readonly #limits: ReceivedLimits;
  /**
   * The newest messages received, from `#head` on (older slots are emptied,
   * and removed in bulk once they are half of the array), with the body
   * length of each in `#sizes`.
   */
  readonly #log: (Record<string, string> | undefined)[] = [];
  readonly #sizes: number[] = [];
  #head = 0;
  #chars = 0;
  /** What `messages` returned, until the log changes. */
  #view: readonly Record<string, string>[] | undefined;
  /** How many messages of each type arrived (see `maxMessageTypes`). */
  readonly #counts = new Map<string, number>();
  readonly #waiters: TypeWaiter[] = [];
  /** Set by `end()`: why waits that cannot be answered at once fail. */
  #ended: ((type: string, seen: number) => Error) | undefined;

  constructor(limits: ReceivedLimits) {
    this.#limits = limits;
  }

  /** The logged messages, oldest first: a snapshot. */
  get messages(): readonly Record<string, string>[] {
    this.#view ??= this.#log.slice(this.#head) as Record<string, string>[];
    return this.#view;
  }

  /**
   * Adds a message (`size`: its body's length) to the log and the counts,
   * and settles the waits it completes.
   */
  add(message: Record<string, string>, size: number): void {
    this.#record(message, size);
    if (this.#waiters.length === 0) return;
    for (const waiter of [...this.#waiters]) {
      if (givenUp(waiter) || waiter.type !== message.type) continue;
      if (--waiter.count === 0) waiter.deferred.resolve(message);
    }
  }

  /**
   * The `count`-th message of `type`, counting every message added so far:
   * see {@linkcode MockClient.waitFor} for what it resolves with once that
   * message has left the log.
   */
  waitFor(
    type: string,
    count: number,
    signal: AbortSignal | undefined,
  ): Promise<Record<string, string>> {
    const logged = this.messages.filter((message) => message.type === type);
    const seen = this.#counts.get(type) ?? (this.#countable(type) ? 0 : logged.length);
    if (seen >= count) {
      // The log holds the last `logged.length` of the `seen` messages of this type.
      const index = Math.max(0, count - 1 - (seen - logged.length));
      return Promise.resolve(logged[index] ?? { type });
    }
    if (this.#ended !== undefined) return Promise.reject(this.#ended(type, seen));
    const waiter: TypeWaiter = {
      type,
      count: count - seen,
      deferred: deferred<Record<string, string>>(),
      signal,
    };
    return addWaiter<Record<string, string>, TypeWaiter>(this.#waiters, waiter);
  }

  /**
   * No more messages will come: pending waits reject with `error`, and later
   * ones that cannot be answered from what arrived reject with
   * `late(type, seen)`.
   */
  end(error: Error, late: (type: string, seen: number) => Error): void {
    this.#ended = late;
    for (const waiter of this.#waiters.splice(0)) waiter.deferred.reject(error);
  }

  /** Adds a message to the bounded log and to the counts. */
  #record(message: Record<string, string>, size: number): void {
    const log = this.#log;
    log.push(message);
    this.#sizes.push(size);
    this.#chars += size;
    this.#view = undefined;
    const { maxReceived, maxReceivedChars } = this.#limits;
    // The newest message always stays, however large.
    while (
      log.length - this.#head > 1 &&
      (log.length - this.#head > maxReceived || this.#chars > maxReceivedChars)
    ) {
      this.#chars -= this.#sizes[this.#head]!;
      log[this.#head++] = undefined;
    }
    if (this.#head >= COMPACT_AFTER && this.#head * 2 >= log.length) {
      log.splice(0, this.#head);
      this.#sizes.splice(0, this.#head);
      this.#head = 0;
    }
    const type = message.type;
    if (type === undefined) return;
    const count = this.#counts.get(type);
    if (count !== undefined) this.#counts.set(type, count + 1);
    else if (this.#countable(type)) this.#counts.set(type, 1);
  }

  /** Whether `type` has (or would get) an entry in the counts. */
  #countable(type: string): boolean {
    return this.#counts.has(type) ||
      (type.length <= MAX_COUNTED_TYPE_LENGTH &&
        this.#counts.size < this.#limits.maxMessageTypes);
  }
}
