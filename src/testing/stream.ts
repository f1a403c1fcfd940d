/**
 * What a mock client is streamed after its `joingroup`: the scripted
 * `messages` (with their `interval`) or the `recording` (with its timing
 * divided by `speed`), once or in a loop.
 *
 * @module
 */
import { replayDelay } from "../protocol/record.ts";
import { abortable } from "../base/abortable.ts";
import { sleep } from "../base/timers.ts";
import { BatchWriter } from "./batch_writer.ts";
import { isAsyncIterable, serverFrame } from "./frames.ts";
import type { MockMessage, MockMessageSource, RecordedLine, Settings } from "./mock_options.ts";
import type { WriteQueue } from "./write_queue.ts";

/** The client a {@linkcode streamTo} streams to. */
export interface StreamTarget {
  /** Its writes. */
  readonly queue: WriteQueue;
  /** Aborted when the client closes: stops the stream and its timers. */
  readonly signal: AbortSignal;
  /** False once the stream should stop (closed, or silenced). */
  streaming(): boolean;
  /** Ends the client: the message source threw `error`. */
  close(error: unknown): void;
}

/**
 * Streams the scripted messages or the recording of `settings` to `target`,
 * until they end or the target stops streaming.
 *
 * @throws What the user's message source threw, after closing the client.
 */
export async function streamTo(settings: Settings, target: StreamTarget): Promise<void> {
  const writer = new BatchWriter(target.queue, () => target.streaming(), target.signal);
  try {
    const { recording, messages } = settings;
    if (recording !== undefined) await streamRecording(settings, recording, target, writer);
    else if (messages !== undefined) await streamMessages(settings, messages, target, writer);
  } catch (error) {
    // The user's message source threw: end this client, saying why, and let the error surface.
    target.close(error);
    throw error;
  }
}

async function streamMessages(
  settings: Settings,
  source: MockMessageSource,
  target: StreamTarget,
  writer: BatchWriter,
): Promise<void> {
  const { interval, loop } = settings;
  const signal = target.signal;
  let first = true;
  const next = async (message: MockMessage, coalesce: boolean): Promise<boolean> => {
    if (!first && interval > 0) await sleep(interval, signal);
    first = false;
    return await writer.emit(message, coalesce && interval === 0);
  };
  do {
    const items = typeof source === "function" ? source() : source;
    let count = 0;
    if (isAsyncIterable(items)) {
      const iterator = items[Symbol.asyncIterator]();
      let done = false;
      try {
        for (;;) {
          let result: IteratorResult<MockMessage>;
          try {
            // A source may wait forever (a live feed): closing must not wait for it.
            result = await abortable(iterator.next(), signal);
          } catch (error) {
            if (signal.aborted) return;
            throw error;
          }
          if (result.done === true) {
            done = true;
            break;
          }
          count++;
          // A live async source may pause for long: never hold its messages back.
          if (!await next(result.value, false)) return;
        }
      } finally {
        // Lets an async generator run its `finally` blocks; its errors are not ours.
        if (!done) Promise.resolve().then(() => iterator.return?.()).catch(() => {});
      }
    } else {
      for (const message of items) {
        count++;
        if (!await next(message, true)) return;
      }
      if (!await writer.flush()) return;
    }
    // An empty (or exhausted one-shot) source would make `loop` spin forever.
    if (count === 0) return;
  } while (loop && target.streaming());
}

async function streamRecording(
  settings: Settings,
  recording: readonly RecordedLine[] | (() => readonly RecordedLine[]),
  target: StreamTarget,
  writer: BatchWriter,
): Promise<void> {
  const { speed, loop } = settings;
  // A fixed recording's packets are encoded once for every client and pass;
  // a function's lines are new each pass.
  const shared = typeof recording === "function" ? undefined : settings.recordingFrames;
  do {
    const lines = typeof recording === "function" ? recording() : recording;
    if (lines.length === 0) return;
    const frames = shared ?? [];
    const start = performance.now();
    for (const [index, line] of lines.entries()) {
      const wait = replayDelay(line, lines[0]!, performance.now() - start, speed);
      if (wait > 0) {
        if (!await writer.flush()) return;
        await sleep(wait, target.signal);
      }
      // Lines already due go out together, like a burst on the real server.
      const frame = frames[index] ??= serverFrame(line.body);
      if (!await writer.emit(frame, true)) return;
    }
    if (!await writer.flush()) return;
  } while (loop && target.streaming());
}
