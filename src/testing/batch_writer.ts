/**
 * How a mock client's stream of scripted messages reaches the socket:
 * gathered into writes of about 16 KiB when they go back to back, as a busy
 * real server's stream arrives (one packet per write would make the mock, not
 * the client under test, the bottleneck), or one write each when they are
 * spaced out. Only whole packets are gathered, so each WebSocket message still
 * holds complete packets.
 *
 * @module
 */
import { concat } from "../base/bytes.ts";
import { serverFrame } from "./frames.ts";
import type { MockMessage } from "./mock_options.ts";
import { Pacer } from "./pacer.ts";
import type { WriteQueue } from "./write_queue.ts";

/** Back-to-back streaming checks every this many frames that the event loop gets turns. */
const YIELD_EVERY = 64;
/** Size of the writes a back-to-back stream is gathered into. */
const BATCH_BYTES = 16 * 1024;

/** Writes one client's stream through its {@linkcode WriteQueue}, batched. */
export class BatchWriter {
  readonly #queue: WriteQueue;
  readonly #streaming: () => boolean;
  readonly #pacer: Pacer;
  /** Frames streamed back to back, waiting to go out in one write. */
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  #sinceYield = 0;

  /**
   * @param queue Where the writes go.
   * @param streaming False once the stream should stop (closed, or silenced).
   * @param signal Aborted when the client closes.
   */
  constructor(queue: WriteQueue, streaming: () => boolean, signal: AbortSignal) {
    this.#queue = queue;
    this.#streaming = streaming;
    this.#pacer = new Pacer(signal);
  }

  /**
   * Writes one streamed message; false once streaming should stop. With
   * `coalesce`, the frame joins the batch, written once it is full (or at the
   * next {@linkcode BatchWriter.flush}).
   */
  async emit(message: MockMessage | Uint8Array, coalesce = false): Promise<boolean> {
    if (!this.#streaming()) return false;
    const frame = message instanceof Uint8Array ? message : serverFrame(message);
    if (coalesce) {
      this.#batch.push(frame);
      this.#batchBytes += frame.length;
      return this.#batchBytes < BATCH_BYTES || await this.flush();
    }
    if (!await this.flush()) return false;
    try {
      await this.#queue.write(frame);
    } catch {
      return false;
    }
    // Awaiting each write is the backpressure; this yield keeps timers and
    // other connections running when writes complete synchronously.
    if (++this.#sinceYield >= YIELD_EVERY) {
      this.#sinceYield = 0;
      await this.#pacer.yield();
    }
    return this.#streaming();
  }

  /** Writes the pending batch; false once streaming should stop. */
  async flush(): Promise<boolean> {
    if (this.#batch.length === 0) return this.#streaming();
    const bytes = concat(this.#batch);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.#streaming()) return false;
    try {
      await this.#queue.write(bytes);
    } catch {
      return false;
    }
    await this.#pacer.yield();
    return this.#streaming();
  }
}
