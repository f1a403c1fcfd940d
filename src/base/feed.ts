/**
 * A feed of events (a session's or a hub's `status()`) that any number of
 * readers follow, each at its own pace, from the moment they subscribe.
 *
 * @module
 */

import { MessageQueue } from "./queue.ts";

/**
 * Fans events out to listeners and to async iterators. An iterator that
 * falls behind loses its oldest events beyond `buffer`, never blocks the
 * emitter. After {@linkcode EventFeed.end} every iterator finishes and
 * nothing more is emitted.
 *
 * @example
 * ```ts
 * import { EventFeed } from "./feed.ts";
 *
 * const feed = new EventFeed<string>(16);
 * const events = feed.subscribe();
 * feed.emit("connected");
 * feed.end();
 * for await (const event of events) console.log(event); // "connected"
 * ```
 */
export class EventFeed<E> {
  readonly #buffer: number;
  // Made when first needed: most sessions' feeds are never listened to.
  #listeners: Set<(event: E) => void> | undefined;
  #iterators: Set<MessageQueue<E>> | undefined;
  #ended = false;

  /** @param buffer How many events an iterator may fall behind before losing the oldest. */
  constructor(buffer: number) {
    this.#buffer = buffer;
  }

  /** Calls `listener` with every event from now on; returns a function that stops it. */
  listen(listener: (event: E) => void): () => void {
    if (this.#ended) return () => false;
    const listeners = this.#listeners ??= new Set();
    listeners.add(listener);
    return () => listeners.delete(listener);
  }

  /** Hands `event` to every listener and iterator (a no-op once ended). */
  emit(event: E): void {
    if (this.#ended) return;
    if (this.#listeners !== undefined) { for (const listener of this.#listeners) listener(event); }
    if (this.#iterators !== undefined) { for (const queue of this.#iterators) queue.push(event); }
  }

  /** Ends the feed: iterators finish once they have read what they hold. */
  end(): void {
    this.#ended = true;
    this.#listeners?.clear(); // stops an emit() in progress, as a listener may end the feed
    this.#listeners = undefined;
    const iterators = this.#iterators;
    this.#iterators = undefined;
    if (iterators !== undefined) { for (const queue of iterators) queue.end(); }
  }

  /** Events from now on, until the feed ends or the loop breaks. */
  subscribe(): AsyncIterableIterator<E> {
    const queue = new MessageQueue<E>(this.#buffer, "drop-oldest");
    if (this.#ended) queue.end();
    else (this.#iterators ??= new Set()).add(queue);
    return {
      next: () => queue.next(),
      return: () => {
        this.#iterators?.delete(queue);
        queue.clear();
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]() {
        return this;
      },
    };
  }
}
