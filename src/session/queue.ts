/**
 * The bounded queue between the socket reader and the consumer.
 *
 * @module
 */

/**
 * What happens when the consumer falls behind and the queue is full:
 * - `"pause"`: stop reading the socket until there is room again (TCP then
 *   pushes back on the server; heartbeats keep going). Nothing is lost over
 *   TCP. A WebSocket cannot push back: once 16 MiB pile up unread, that
 *   connection is dropped and the session reconnects, so prefer TCP for
 *   consumers that may stall.
 * - `"drop-oldest"`: keep reading and drop the oldest queued messages; the
 *   session reports how many in `status()` (`dropped` events).
 */
export type OverflowPolicy = "pause" | "drop-oldest";

/**
 * A bounded FIFO with one asynchronous consumer. Under `"pause"` the
 * producer awaits {@linkcode waitForSpace} before reading more, so the queue
 * holds at most its capacity plus what one socket read carried.
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
  #items: T[] = [];
  #head = 0;
  #ended = false;
  #waitingConsumer: ((result: IteratorResult<T, undefined>) => void) | undefined;
  #waitingProducer: (() => void) | undefined;

  /**
   * @param capacity How many messages may wait for the consumer.
   * @param policy What to do when full.
   */
  constructor(capacity: number, policy: OverflowPolicy) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`queue size must be a positive integer, got ${capacity}`);
    }
    this.#capacity = capacity;
    this.#policy = policy;
  }

  /** Messages waiting. */
  get size(): number {
    return this.#items.length - this.#head;
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
    if (this.#policy === "drop-oldest" && this.size > this.#capacity) {
      this.#items[this.#head++] = undefined as T; // let it be collected
      this.#compact();
      return 1;
    }
    return 0;
  }

  /**
   * Resolves at once while the queue has room; once it is full, only when it
   * has drained to half its capacity (or `signal` aborts), so a producer
   * faster than its consumer pauses now and then instead of per message.
   */
  waitForSpace(signal: AbortSignal): Promise<void> {
    if (this.size < this.#capacity || this.#ended || signal.aborted) return Promise.resolve();
    return new Promise((resolve) => {
      const done = () => {
        signal.removeEventListener("abort", done);
        this.#waitingProducer = undefined;
        resolve();
      };
      this.#waitingProducer = done;
      signal.addEventListener("abort", done, { once: true });
    });
  }

  /** The next message; waits for one. Done once ended and drained. */
  next(): Promise<IteratorResult<T, undefined>> {
    if (this.size > 0) {
      const value = this.#items[this.#head]!;
      this.#items[this.#head++] = undefined as T; // let it be collected
      this.#compact();
      if (this.#waitingProducer !== undefined && this.size <= this.#capacity >> 1) {
        this.#waitingProducer();
      }
      return Promise.resolve({ value, done: false });
    }
    if (this.#ended) return Promise.resolve({ value: undefined, done: true });
    if (this.#waitingConsumer !== undefined) {
      return Promise.reject(new TypeError("only one consumer may wait at a time"));
    }
    this.#waitingProducer?.();
    return new Promise((resolve) => (this.#waitingConsumer = resolve));
  }

  /** No more messages will come; the consumer drains what is queued, then is done. */
  end(): void {
    this.#ended = true;
    this.#waitingProducer?.();
    const consumer = this.#waitingConsumer;
    this.#waitingConsumer = undefined;
    consumer?.({ value: undefined, done: true });
  }

  /** Drops everything queued and ends. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
    this.end();
  }

  #compact(): void {
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head > 1024 && this.#head * 2 > this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
  }
}
