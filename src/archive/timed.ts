/**
 * What the archive, the printer and the exporters pass along: a message with
 * its arrival time, its room and (for gifts and super chats) what it was
 * worth when it arrived ({@linkcode TimedMessage}), and the changes of a
 * room's connection that tell where messages are missing
 * ({@linkcode TimedStatus}). Types and pure functions only.
 *
 * @module
 */

import type { Message } from "../protocol/messages.ts";
import type { GiftDetails } from "../protocol/gifts.ts";

/**
 * One message as it arrived: when, for which room, and for gifts and super
 * chats the gift as priced at that moment (a later price change must not
 * change what was given).
 *
 * @example
 * ```ts
 * import type { TimedMessage } from "./timed.ts";
 *
 * const item: TimedMessage = {
 *   t: 1714564800000,
 *   room: 9999,
 *   message: { type: "chatmsg", nn: "Ann", txt: "hi" },
 * };
 * console.log(item.message.type); // "chatmsg"
 * ```
 */
export interface TimedMessage {
  /** Arrival time, ms since the epoch. */
  t: number;
  /** The room it was received for. */
  room: number;
  /** The message. */
  message: Message;
  /** For gifts and super chats: name, count and value, as priced when it arrived. */
  gift?: GiftDetails | undefined;
}

/**
 * A change of a room's connection, kept beside its messages so that a gap
 * (a reconnect, an archiver stopped, a collector's handover) is known and
 * can be shown. `status` is one of:
 *
 * | status | meaning | gap |
 * | --- | --- | --- |
 * | `started` | the archiver began recording the room | ends one |
 * | `connected` | connected (again) | ends one |
 * | `disconnected` | the connection was lost; a reconnect follows | starts one |
 * | `closed` | the room's session ended | starts one |
 * | `stopped` | the archiver stopped recording the room | starts one |
 * | `dropped` | messages were dropped (`detail` says how many) | a loss at one moment |
 *
 * Any other value (`reconnecting`, `error`, …) is kept and shown as it is,
 * without starting or ending a gap.
 *
 * @example
 * ```ts
 * import type { TimedStatus } from "./timed.ts";
 *
 * const lost: TimedStatus = { t: 1714564800000, room: 9999, status: "disconnected", detail: "read ECONNRESET" };
 * console.log(lost.status); // "disconnected"
 * ```
 */
export interface TimedStatus {
  /** When it happened, ms since the epoch. */
  t: number;
  /** The room. */
  room: number;
  /** What happened: see the table above. */
  status: string;
  /** One line of detail: the error, the URL, how many were dropped. */
  detail?: string | undefined;
}

/**
 * What an export reads: messages, and status changes in between.
 *
 * @example
 * ```ts
 * import { isStatus, type TimedItem } from "./timed.ts";
 *
 * const items: TimedItem[] = [
 *   { t: 1000, room: 1, status: "connected" },
 *   { t: 2000, room: 1, message: { type: "chatmsg", txt: "hi" } },
 * ];
 * console.log(items.filter(isStatus).length); // 1
 * ```
 */
export type TimedItem = TimedMessage | TimedStatus;

/**
 * Whether an item is a status change rather than a message.
 *
 * @example
 * ```ts
 * import { isStatus } from "./timed.ts";
 *
 * console.log(isStatus({ t: 1, room: 1, status: "stopped" })); // true
 * ```
 */
export function isStatus(item: TimedItem): item is TimedStatus {
  return (item as Partial<TimedStatus>).status !== undefined;
}

/** Statuses after which the room's messages are recorded again. */
const GAP_ENDS: ReadonlySet<string> = new Set(["started", "connected"]);
/** Statuses after which messages are missing until a status of {@linkcode GAP_ENDS}. */
const GAP_STARTS: ReadonlySet<string> = new Set(["disconnected", "closed", "stopped"]);

/**
 * A stretch of time without messages, or (`start === end`) messages lost at
 * one moment, as {@linkcode GapTracker} finds them.
 *
 * @example
 * ```ts
 * import type { Gap } from "./timed.ts";
 *
 * const gap: Gap = { start: 1000, end: 4000, reason: "disconnected: read ECONNRESET" };
 * console.log((gap.end - gap.start) / 1000); // 3
 * ```
 */
export interface Gap {
  /** When messages stopped being recorded, ms since the epoch. */
  start: number;
  /** When they were recorded again (or the end of the export), ms since the epoch. */
  end: number;
  /** Why, one line: the status that started it and its detail. */
  reason: string;
  /** True when the export ended before the gap did. */
  open?: boolean;
}

/**
 * Finds gaps in a room's status changes, in time order: a gap runs from a
 * status that starts one (`disconnected`, `closed`, `stopped`) to the next
 * that ends one (`connected`, `started`); a `dropped` is a loss at one
 * moment. Pure: it only remembers the gap that is open.
 *
 * @example
 * ```ts
 * import { GapTracker } from "./timed.ts";
 *
 * const gaps = new GapTracker();
 * console.log(gaps.observe({ t: 1000, room: 1, status: "disconnected", detail: "EOF" })); // undefined
 * console.log(gaps.observe({ t: 4000, room: 1, status: "connected" }));
 * // { start: 1000, end: 4000, reason: "disconnected: EOF" }
 * ```
 */
export class GapTracker {
  #open: { start: number; reason: string } | undefined;

  /**
   * Takes the next status change; returns a gap that it completes (or a loss
   * that it reports), if any.
   *
   * @param status The status change, not earlier than the one before.
   */
  observe(status: TimedStatus): Gap | undefined {
    const reason = describeStatus(status);
    if (status.status === "dropped") return { start: status.t, end: status.t, reason };
    if (GAP_STARTS.has(status.status)) {
      // A second "down" inside a gap (closed after disconnected) keeps the first reason.
      this.#open ??= { start: status.t, reason };
      return undefined;
    }
    if (GAP_ENDS.has(status.status) && this.#open !== undefined) {
      const { start, reason: why } = this.#open;
      this.#open = undefined;
      return { start, end: status.t, reason: why };
    }
    return undefined;
  }

  /**
   * The gap still open when the export ends, closed at `end`; `undefined`
   * when none is open.
   *
   * @param end When the export ends, ms since the epoch (not before the gap's start).
   */
  finish(end: number): Gap | undefined {
    const open = this.#open;
    this.#open = undefined;
    if (open === undefined) return undefined;
    return { start: open.start, end: Math.max(open.start, end), reason: open.reason, open: true };
  }
}

/**
 * A status change as one line: `disconnected: read ECONNRESET`, or just
 * the status when it has no detail. The detail is kept as it is: clean it
 * for the format it goes to.
 *
 * @example
 * ```ts
 * import { describeStatus } from "./timed.ts";
 *
 * console.log(describeStatus({ t: 1, room: 1, status: "dropped", detail: "37 messages" })); // "dropped: 37 messages"
 * ```
 */
export function describeStatus(status: TimedStatus): string {
  return status.detail ? `${status.status}: ${status.detail}` : status.status;
}
