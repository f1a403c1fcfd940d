/**
 * A first-in, first-out list with O(1) `push` and `shift`: `Array.shift()`
 * moves every remaining item, which turns draining a long queue quadratic.
 *
 * @module
 */

/**
 * A FIFO list. Taking an item costs O(1) amortised, however many wait: the
 * head moves along the array, and the spent front is dropped once it is
 * most of the array.
 *
 * @example
 * ```ts
 * import { Fifo } from "./fifo.ts";
 *
 * const fifo = new Fifo<string>();
 * fifo.push("a");
 * fifo.push("b");
 * console.log(fifo.shift(), fifo.size); // "a" 1
 * ```
 */
export class Fifo<T> {
  #items: (T | undefined)[] = [];
  #head = 0;

  /** How many items wait. */
  get size(): number {
    return this.#items.length - this.#head;
  }

  /** Adds an item at the end. */
  push(item: T): void {
    this.#items.push(item);
  }

  /** The oldest item, without taking it; `undefined` when empty. */
  peek(): T | undefined {
    return this.#items[this.#head];
  }

  /** Replaces the oldest item (e.g. with the rest of a partly taken chunk). */
  replaceHead(item: T): void {
    if (this.size > 0) this.#items[this.#head] = item;
  }

  /** Takes the oldest item; `undefined` when empty. */
  shift(): T | undefined {
    if (this.#head === this.#items.length) return undefined;
    const item = this.#items[this.#head];
    this.#items[this.#head++] = undefined; // let it be collected
    if (this.#head === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
      this.#items = this.#items.slice(this.#head);
      this.#head = 0;
    }
    return item;
  }

  /** Takes the oldest items, at most `max`, in order (an empty array when empty). */
  take(max: number): T[] {
    const end = Math.min(this.#items.length, this.#head + Math.max(0, max));
    const taken = this.#items.slice(this.#head, end) as T[];
    if (end === this.#items.length) {
      this.#items = [];
      this.#head = 0;
    } else {
      this.#items.fill(undefined, this.#head, end); // let them be collected
      this.#head = end;
      if (this.#head >= 1024 && this.#head * 2 >= this.#items.length) {
        this.#items = this.#items.slice(this.#head);
        this.#head = 0;
      }
    }
    return taken;
  }

  /** Drops every item. */
  clear(): void {
    this.#items = [];
    this.#head = 0;
  }
}
