/**
 * The bounded queue between the socket readers and the consumer.
 *
 * @module
 */

import { Fifo } from "./fifo.ts";

/**
 * What happens when the consumer falls behind and the queue is full:
 * - `"pause"`: stop reading the socket until there is room again (TCP then
 *   pushes back on the server; heartbeats keep going). Nothing is lost, over
 *   TCP and WebSocket alike: both are read only as fast as the queue drains.
 * - `"drop-oldest"`: keep reading and drop the oldest queued messages; the
 *   session reports how many in `status()` (`dropped` events).
 */
export type OverflowPolicy = "pause" | "drop-oldest";

/**
 * A bounded FIFO with one asynchronous consumer and any number of producers.
 * Under `"pause"` a producer awaits {@linkcode MessageQueue.waitForSpace}
 * before reading more, so the queue holds at most its capacity plus what one
 * socket read per producer carried.
 *
 * @example
 * ```ts
 * import { MessageQueue } from "./queue.ts";
 *
 * const queue = new MessageQueue<string>(2, "drop-oldest");
 * queue.push("a");
 * queue.push("b");
 * queue.push("c"); // drops "a"
 * queue.end();
 * console.log(await queue.next()); // { value: "b", done: false }
 * ```
 */
export class MessageQueue<T> {
  readonly #capacity: number;
  readonly #policy: OverflowPolicy;
  readonly #onDrop: ((item: T) => void) | undefined;
  #items = new Fifo<T>();
  #ended = false;
  #waitingConsumer: ((result: IteratorResult<T, undefined>) => void) | undefined;
  // The waiting sets are made when first needed: an idle session's queue
  // never needs them, and a thousand sessions would hold two thousand.
  #waitingProducers: Set<() => void> | undefined;
  /** Producers waiting for the consumer to take everything: see {@linkcode waitForConsumer}. */
  #waitingForDrain: Set<() => void> | undefined;

  /**
   * @param capacity How many messages may wait for the consumer.
   * @param policy What to do when full.
   * @param onDrop Called with each message `"drop-oldest"` drops.
   */
  constructor(capacity: number, policy: OverflowPolicy, onDrop?: (item: T) => void) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue size must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#policy = policy;
    this.#onDrop = onDrop;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#items.size;
  }

  /**
   * Whether the queue holds its capacity or more: a `"pause"` producer should
   * wait. Never once ended: an ended queue takes nothing more, and
   * `waitForSpace` resolves at once, so a producer that kept waiting would
   * spin without ever yielding to timers or I/O.
   */
  get full(): boolean {
    return !this.#ended && this.#items.size >= this.#capacity;
  }

  /**
   * Adds a message (ignored once ended).
   *
   * @returns How many old messages were dropped to make room (drop-oldest only).
   */
  push(item: T): number {
    if (this.#ended) return 0;
    const consumer = this.#waitingConsumer;
    if (consumer !== undefined) {
      this.#waitingConsumer = undefined;
      consumer({ value: item, done: false });
      return 0;
    }
    this.#items.push(item);
    if (this.#policy === "drop-oldest" && this.#items.size > this.#capacity) {
      const dropped = this.#items.shift()!;
      this.#onDrop?.(dropped);
      return 1;
    }
    return 0;
  }

  /**
   * Resolves at once while the queue has room; once it is full, only when it
   * has drained to half its capacity (or `signal` aborts, or the queue
   * ends), so a producer faster than its consumer pauses now and then
   * instead of per message. Any number of producers may wait.
   */
  waitForSpace(signal: AbortSignal): Promise<void> {
    if (!this.full || this.#ended || signal.aborted) return Promise.resolve();
    const waiting = this.#waitingProducers ??= new Set();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        waiting.delete(done);
        resolve();
      };
      waiting.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /**
   * Resolves once the consumer has taken every queued message, or has
   * stopped taking them for now (a turn of the event loop passed: it waits
   * on something else), or the queue ends, or `signal` aborts.
   *
   * A producer that awaits it before reading more stays just ahead of a
   * consumer that keeps up, instead of filling the queue with messages that
   * wait long enough to be copied and promoted by the garbage collector; a
   * slow consumer still gets the whole capacity as slack.
   */
  waitForConsumer(signal: AbortSignal): Promise<void> {
    if (this.#items.size === 0 || this.#ended || signal.aborted) return Promise.resolve();
    const waiting = this.#waitingForDrain ??= new Set();
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(timer);
        signal.removeEventListener("abort", done);
        waiting.delete(done);
        resolve();
      };
      // A consumer that keeps up takes everything in one run of microtasks,
      // before any timer can fire.
      const timer = setTimeout(done, 0);
      waiting.add(done);
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** The next message; waits for one. Done once ended and drained. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.#items.size > 0) {
      const value = this.#items.shift()!;
      if (this.#waitingProducers?.size && this.#items.size <= this.#capacity >> 1) {
        this.#wakeProducers();
      }
      if (this.#waitingForDrain?.size && this.#items.size === 0) this.#wakeDrainWaiters();
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waitingConsumer !== undefined) {
      return Promise.reject(new TypeError("only one consumer may wait at a time"));
    }
    this.#wakeProducers();
    return new Promise((resolve) => (this.#waitingConsumer = resolve));
  }

  /**
   * Everything queued, at most `max` messages, at once; waits for one when
   * the queue is empty. `undefined` once ended and drained. A consumer that
   * handles messages in bulk pays one promise per batch, not per message.
   */
  async nextBatch(max: number): Promise<T[] | undefined> {
    if (this.#items.size === 0) {
      const first = await this.next();
      if (first.done) return undefined;
      return [first.value, ...this.#take(max - 1)];
    }
    return this.#take(max);
  }

  #take(max: number): T[] {
    const taken = this.#items.take(max);
    if (this.#waitingProducers?.size && this.#items.size <= this.#capacity >> 1) {
      this.#wakeProducers();
    }
    if (this.#waitingForDrain?.size && this.#items.size === 0) this.#wakeDrainWaiters();
    return taken;
  }

  /** No more messages will come; the consumer drains what is queued, then is done. */
  end(): void {
    this.#ended = true;
    this.#wakeProducers();
    this.#wakeDrainWaiters();
    const consumer = this.#waitingConsumer;
    this.#waitingConsumer = undefined;
    consumer?.({ value: undefined, done: true });
  }

  /** Drops everything queued and ends. */
  clear(): void {
    this.#items.clear();
    this.end();
  }

  #wakeDrainWaiters(): void {
    if (this.#waitingForDrain?.size) { for (const wake of [...this.#waitingForDrain]) wake(); }
  }

  #wakeProducers(): void {
    if (this.#waitingProducers?.size) { for (const wake of [...this.#waitingProducers]) wake(); }
  }
}
