/**
 * Runtime-free pieces the socket implementations share: the bounded receive
 * queue of a socket that can be paused (`node:net`), write serialisation,
 * handing accepted connections to a handler, and listener endpoints. Nothing
 * here touches `Deno.*` or `node:*`.
 *
 * @module
 */
import { DouyuError } from "../base/errors.ts";
import { Fifo } from "../base/fifo.ts";
import type { ConnectionHandler, Endpoint, Transport } from "./seam.ts";
import { parseEndpoint } from "./seam.ts";

interface PendingRead {
  resolve(chunk: Uint8Array | null): void;
  reject(error: unknown): void;
}

/** Options for a {@linkcode ReadQueue}. */
export interface ReadQueueOptions {
  /** The most one `read()` returns; a longer chunk comes out in slices. Unlimited by default. */
  maxRead?: number;
  /**
   * Called when `read()` has taken bytes from the queue, and when it is about
   * to wait for more (the queue is empty then): the moment to resume a
   * paused source.
   */
  onRead?: () => void;
}

/**
 * The receive side of a socket that delivers `data` events but can be paused
 * (`node:net`), as pull-based `read()`s: chunks that arrive while nobody
 * reads wait in a list, a `read()` while the list is empty waits for the next
 * chunk or the end. One reader at a time. The owner keeps the list short by
 * pausing the socket past a high-water mark of
 * {@linkcode ReadQueue.bufferedBytes} and resuming it from `onRead`, so TCP
 * pushes back on the peer. Taking a chunk costs O(1), however many wait.
 */
export class ReadQueue {
  #url: string;
  #maxRead: number;
  #onRead: (() => void) | undefined;
  #chunks = new Fifo<Uint8Array>();
  #buffered = 0;
  #pending: PendingRead | undefined;
  #ended = false;
  #error: Error | undefined;

  /**
   * @param url The connection's URL, for the "read() already pending" error.
   * @param options Slicing of long chunks, and a hook run on every read.
   */
  constructor(url: string, options: ReadQueueOptions = {}) {
    this.#url = url;
    this.#maxRead = options.maxRead ?? Infinity;
    this.#onRead = options.onRead;
  }

  /** Bytes received but not yet returned by `read()`. */
  get bufferedBytes(): number {
    return this.#buffered;
  }

  /** Whether {@linkcode ReadQueue.finish} was called. */
  get ended(): boolean {
    return this.#ended;
  }

  /**
   * Adds a received chunk: to a waiting `read()` (at most `maxRead` bytes of
   * it, the rest queued), else to the queue.
   */
  push(chunk: Uint8Array): void {
    const pending = this.#pending;
    if (pending) {
      this.#pending = undefined;
      if (chunk.byteLength <= this.#maxRead) {
        pending.resolve(chunk);
        return;
      }
      pending.resolve(chunk.subarray(0, this.#maxRead));
      chunk = chunk.subarray(this.#maxRead);
    }
    this.#chunks.push(chunk);
    this.#buffered += chunk.byteLength;
  }

  /**
   * Marks the end of the source, with `error` if it failed: a waiting `read()`
   * resolves `null` (or rejects with `error`), and so do later ones once the
   * queue is empty.
   *
   * @returns `true` the first time, `false` when the queue had already ended.
   */
  finish(error?: Error): boolean {
    if (this.#ended) return false;
    this.#ended = true;
    this.#error = error;
    const pending = this.#pending;
    this.#pending = undefined;
    if (pending && error) pending.reject(error);
    else pending?.resolve(null);
    return true;
  }

  /** Drops every queued chunk. */
  clear(): void {
    this.#chunks.clear();
    this.#buffered = 0;
  }

  /**
   * The next queued chunk (at most `maxRead` bytes of it); else, once ended,
   * `null` or a rejection with the error; else the next chunk to arrive.
   * Rejects with a `DouyuError` while another `read()` is waiting.
   */
  read(): Promise<Uint8Array | null> {
    let chunk = this.#chunks.peek();
    if (chunk) {
      if (chunk.byteLength > this.#maxRead) {
        this.#chunks.replaceHead(chunk.subarray(this.#maxRead));
        chunk = chunk.subarray(0, this.#maxRead);
      } else {
        this.#chunks.shift();
      }
      this.#buffered -= chunk.byteLength;
      this.#onRead?.();
      return Promise.resolve(chunk);
    }
    if (this.#error) return Promise.reject(this.#error);
    if (this.#ended) return Promise.resolve(null);
    if (this.#pending) {
      return Promise.reject(new DouyuError(`${this.#url}: read() already pending`));
    }
    this.#onRead?.();
    return new Promise((resolve, reject) => {
      this.#pending = { resolve, reject };
    });
  }
}

/**
 * Runs writes one after another in call order, so that a partial write and
 * another caller's write never interleave bytes. A failed write does not stop
 * the ones queued after it.
 */
export class WriteChain {
  #tail: Promise<void> = Promise.resolve();
  #pending = 0;

  /** Whether no write is running or waiting. */
  get idle(): boolean {
    return this.#pending === 0;
  }

  /** Runs `write` once every earlier one has settled; settles as it does. */
  run(write: () => Promise<void>): Promise<void> {
    this.#pending++;
    const result = this.#tail.then(write).finally(() => this.#pending--);
    this.#tail = result.catch(() => {});
    return result;
  }
}

/**
 * Hands an accepted connection to a listener's handler. A throwing handler is
 * a bug: the connection is closed, the listener keeps accepting, and the
 * error surfaces as an uncaught one (rethrown in a microtask).
 */
export function deliverConnection(onConnection: ConnectionHandler, transport: Transport): void {
  try {
    onConnection(transport);
  } catch (error) {
    transport.close();
    queueMicrotask(() => {
      throw error;
    });
  }
}

/** `host` as it stands in a URL: an IPv6 address in brackets, anything else as is. */
export function bracketHost(host: string): string {
  return host.includes(":") ? `[${host}]` : host;
}

/** The endpoint a listener bound to `host` and `port` is reached at. */
export function listenerEndpoint(protocol: "tcp" | "ws", host: string, port: number): Endpoint {
  return parseEndpoint(`${protocol}://${bracketHost(host)}:${port}${protocol === "ws" ? "/" : ""}`);
}
