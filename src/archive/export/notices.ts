/**
 * Gap notices of the subtitle exports: one on-screen line per gap, shown
 * for the gap's length (at least a couple of seconds, so it can be read),
 * never two at once: notices that would overlap are merged into one.
 *
 * @module
 */

import type { Gap } from "../timed.ts";
import { cleanText } from "./common.ts";

/**
 * A notice to show: from `start` to `end`, ms after time zero.
 *
 * @example
 * ```ts
 * import type { Notice } from "./notices.ts";
 *
 * const notice: Notice = { start: 1000, end: 3000, text: "[gap] 5 messages dropped" };
 * console.log(notice.text);
 * ```
 */
export interface Notice {
  /** When it appears, ms after time zero. */
  start: number;
  /** When it goes, ms after time zero. */
  end: number;
  /** What it says. */
  text: string;
}

/** How long a notice shows at least, ms. */
export const MIN_NOTICE_MS = 3000;

/**
 * Holds the latest notice until nothing can overlap it any more: a gap
 * that starts before the held notice ends is merged into it. Pure.
 *
 * @example
 * ```ts
 * import { NoticeBoard } from "./notices.ts";
 *
 * const board = new NoticeBoard();
 * board.add({ start: 0, end: 0, reason: "dropped: 3 messages" }, 0, 0);
 * board.add({ start: 1000, end: 1000, reason: "dropped: 2 messages" }, 1000, 1000); // merged
 * console.log(board.due(10_000)?.text); // "[gap] 2 gaps from 0:00:00 to 0:00:01, the first dropped: 3 messages"
 * ```
 */
export class NoticeBoard {
  #held: { start: number; end: number; last: number; count: number; first: Gap } | undefined;

  /**
   * Takes a gap from `start` to `end` (ms after time zero, not before an
   * earlier gap's start). Returns the held notice when the new gap cannot
   * overlap it, so it can be shown now; the new one is then held.
   */
  add(gap: Gap, start: number, end: number): Notice | undefined {
    const held = this.#held;
    if (held !== undefined && start < held.end) {
      held.count++;
      held.last = Math.max(held.last, end);
      held.end = Math.max(held.end, end);
      return undefined;
    }
    this.#held = {
      start,
      end: Math.max(end, start + MIN_NOTICE_MS),
      last: end,
      count: 1,
      first: gap,
    };
    return held === undefined ? undefined : noticeOf(held);
  }

  /** The held notice once `offset` (ms after time zero) has passed its end, else `undefined`. */
  due(offset: number): Notice | undefined {
    const held = this.#held;
    if (held === undefined || offset < held.end) return undefined;
    this.#held = undefined;
    return noticeOf(held);
  }

  /** Whether a notice is held. */
  get holding(): boolean {
    return this.#held !== undefined;
  }

  /** The held notice, if any, at the end of the export. */
  finish(): Notice | undefined {
    const held = this.#held;
    this.#held = undefined;
    return held === undefined ? undefined : noticeOf(held);
  }
}

function noticeOf(
  held: { start: number; end: number; last: number; count: number; first: Gap },
): Notice {
  const { start, end, last, count, first } = held;
  let text: string;
  if (count > 1) {
    text = `[gap] ${count} gaps from ${clock(start)} to ${clock(last)}, the first ${first.reason}`;
  } else if (first.open) {
    text = `[gap] no messages from here on: ${first.reason}`;
  } else if (first.end === first.start) {
    text = `[gap] ${first.reason}`;
  } else {
    text = `[gap] no messages for ${
      ((first.end - first.start) / 1000).toFixed(1)
    } s: ${first.reason}`;
  }
  // A reason holds a status's detail: an error's text, a URL, a peer's name, from the wire.
  return { start, end, text: cleanText(text) };
}

/** `H:MM:SS` of ms after time zero. */
function clock(ms: number): string {
  const s = Math.floor(ms / 1000);
  const two = (n: number) => String(n).padStart(2, "0");
  return `${Math.floor(s / 3600)}:${two(Math.floor(s / 60) % 60)}:${two(s % 60)}`;
}
