/**
 * The writes to one mock client, one at a time and bounded.
 *
 * Every write goes through one chain, so a multi-write operation (split
 * frames, half a frame then a hang-up) is never interleaved with a streamed
 * or automatic frame. The bytes waiting in the chain are counted: a client
 * that sends faster than it reads what it is answered (or stops reading and
 * keeps sending) would otherwise make them grow without end, so a write past
 * `maxPendingBytes` closes the client instead. Automatic answers that arrive
 * while a write waits join one write.
 *
 * @module
 */
import { concat } from "../base/bytes.ts";

/** What a {@linkcode WriteQueue} needs from the connection it writes to. */
export interface WriteTarget {
  /** Writes bytes to the socket; resolves once written. */
  write(bytes: Uint8Array): Promise<void>;
  /** False once the connection is closed: queued writes are then refused. */
  isOpen(): boolean;
  /** Closes the connection: called when its peer does not read what it is sent. */
  close(): void;
  /** The error a write to the closed connection rejects with. */
  closedError(): Error;
}

/** One client's writes, in order, with the bytes waiting bounded. */
export class WriteQueue {
  readonly #target: WriteTarget;
  readonly #maxPendingBytes: number;
  /** The chain every write goes through; settles when the last one queued has. */
  #writes: Promise<void> = Promise.resolve();
  /** Bytes of the writes queued in `#writes` (and of `#answers`) not written yet. */
  #queuedBytes = 0;
  /**
   * Automatic answers waiting for their turn in `#writes`, to go out in one
   * write; what to call once they have; and their size.
   */
  #answers: Uint8Array[] = [];
  #answered: (() => void)[] = [];
  #answersBytes = 0;

  constructor(target: WriteTarget, maxPendingBytes: number) {
    this.#target = target;
    this.#maxPendingBytes = maxPendingBytes;
  }

  /** Writes `bytes` in one write, after every earlier write. */
  write(bytes: Uint8Array): Promise<void> {
    return this.run((write) => write(bytes), bytes.byteLength);
  }

  /**
   * Runs `job`, `size` bytes of writes, after every earlier write and before
   * any later one; fails fast once closed. Closes the client instead when too
   * much is queued already (see `maxPendingBytes`).
   */
  run(
    job: (write: (bytes: Uint8Array) => Promise<void>) => Promise<void>,
    size: number,
  ): Promise<void> {
    const target = this.#target;
    if (!this.#admit(size)) return Promise.reject(target.closedError());
    this.#queuedBytes += size;
    const result = this.#writes.then(() => {
      if (!target.isOpen()) throw target.closedError();
      return job((bytes) => target.write(bytes));
    });
    const settled = () => {
      this.#queuedBytes -= size;
    };
    this.#writes = result.then(settled, settled);
    return result;
  }

  /**
   * Queues an automatic answer. Answers that arrive while earlier writes
   * wait join one write, so a client sending thousands of `mrkl` in a burst
   * costs one write, and its bytes, not thousands of queued writes.
   *
   * @param onWritten Called once the answer is written.
   */
  answer(frames: readonly Uint8Array[], onWritten?: () => void): void {
    let size = 0;
    for (const frame of frames) size += frame.byteLength;
    if (!this.#admit(size)) return;
    // No write queued yet to take these (a queued one takes all there are when its turn comes).
    if (this.#answersBytes === 0) this.#queueAnswers();
    this.#answers.push(...frames);
    if (onWritten !== undefined) this.#answered.push(onWritten);
    this.#queuedBytes += size;
    this.#answersBytes += size;
  }

  /** Forgets the answers not written yet: the connection closed. */
  dropAnswers(): void {
    this.#answers = [];
    this.#answered = [];
  }

  /** Settles once every write queued so far has. */
  drained(): Promise<void> {
    return this.#writes;
  }

  /**
   * Whether `size` more bytes may be queued; if not, the client does not read
   * what it is sent, and is closed.
   */
  #admit(size: number): boolean {
    if (!this.#target.isOpen()) return false;
    const queued = this.#queuedBytes;
    if (queued > 0 && queued + size > this.#maxPendingBytes) {
      this.#target.close();
      return false;
    }
    return true;
  }

  /** Queues the write of the answers there will be when its turn comes. */
  #queueAnswers(): void {
    let taken = 0;
    const settled = () => {
      this.#queuedBytes -= taken;
    };
    this.run(async (write) => {
      const frames = this.#answers;
      const callbacks = this.#answered;
      taken = this.#answersBytes;
      this.#answers = [];
      this.#answered = [];
      this.#answersBytes = 0;
      await write(frames.length === 1 ? frames[0]! : concat(frames));
      for (const callback of callbacks) callback();
    }, 0).then(settled, settled);
  }
}
