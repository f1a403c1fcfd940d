/**
 * Where a scrolling chat goes on screen: the rows ("lanes") of a danmaku
 * subtitle, and the rule that keeps two chats in a row from ever touching.
 * Pure functions over numbers; the ASS export uses them.
 *
 * Every chat crosses the stage from right to left in the same `duration`,
 * as Bilibili's player does: a longer chat moves faster. A chat enters at
 * its start time with its head at the right edge and leaves when its tail
 * reaches the left edge.
 *
 * @module
 */

/**
 * The stage the chats scroll across.
 *
 * @example
 * ```ts
 * import type { Stage } from "./lanes.ts";
 *
 * const stage: Stage = { width: 1920, duration: 8000, gap: 40 };
 * console.log(stage.width);
 * ```
 */
export interface Stage {
  /** Width of the screen, px. */
  width: number;
  /** How long a chat takes to cross it, ms. */
  duration: number;
  /** Space kept between two chats of a row, px. */
  gap: number;
}

/**
 * One scrolling chat: when it enters, and how wide it is.
 *
 * @example
 * ```ts
 * import type { Scroll } from "./lanes.ts";
 *
 * const chat: Scroll = { start: 1200, width: 320 };
 * console.log(chat.start);
 * ```
 */
export interface Scroll {
  /** When its head enters at the right edge, ms. */
  start: number;
  /** Its width, px. */
  width: number;
}

/**
 * Whether `next` may follow `ahead` in the same row with at least
 * `stage.gap` px between them all the time both are on screen: `ahead`'s
 * tail has come `gap` px in when `next` enters, and `next`, if faster, has
 * not closed up to `gap` px by the time `ahead` leaves. Distances change
 * linearly with time, so these two moments decide.
 *
 * @param ahead The chat already in the row (the last one placed there).
 * @param next The chat to place; it does not start before `ahead`.
 * @param stage The stage.
 *
 * @example
 * ```ts
 * import { fitsBehind } from "./lanes.ts";
 *
 * const stage = { width: 1920, duration: 8000, gap: 40 };
 * console.log(fitsBehind({ start: 0, width: 400 }, { start: 100, width: 400 }, stage)); // false
 * console.log(fitsBehind({ start: 0, width: 400 }, { start: 2000, width: 400 }, stage)); // true
 * ```
 */
export function fitsBehind(ahead: Scroll, next: Scroll, stage: Stage): boolean {
  const { width, duration, gap } = stage;
  const elapsed = next.start - ahead.start;
  if (elapsed >= duration) return true; // ahead has left the screen
  // ahead's tail at next's start: width - speed·elapsed + ahead.width ≤ width - gap.
  if ((width + ahead.width) * elapsed < (ahead.width + gap) * duration) return false;
  // next's head when ahead leaves: width - speed'·(duration - elapsed) ≥ gap.
  return (width + next.width) * (duration - elapsed) <= (width - gap) * duration;
}

/**
 * The first (topmost) row where `next` fits behind the row's last chat, or
 * -1 when every row is taken. An empty row (`undefined`) always fits.
 *
 * @param lanes The last chat placed in each row, top first.
 * @param next The chat to place; it does not start before any of them.
 * @param stage The stage.
 *
 * @example
 * ```ts
 * import { pickLane } from "./lanes.ts";
 *
 * const stage = { width: 1920, duration: 8000, gap: 40 };
 * const lanes = [{ start: 0, width: 400 }, undefined];
 * console.log(pickLane(lanes, { start: 100, width: 400 }, stage)); // 1
 * ```
 */
export function pickLane(
  lanes: readonly (Scroll | undefined)[],
  next: Scroll,
  stage: Stage,
): number {
  for (let lane = 0; lane < lanes.length; lane++) {
    const ahead = lanes[lane];
    if (ahead === undefined || fitsBehind(ahead, next, stage)) return lane;
  }
  return -1;
}

/**
 * How wide a chat is drawn, in px, estimated from its characters and never
 * below what common CJK fonts draw: 1 em for a CJK or other wide character
 * (and anything beyond Latin), 1.2 em for an emoji or other astral
 * character, 0.6 em for Latin letters, digits and punctuation, plus the
 * outline on both sides.
 *
 * @param text The text as shown.
 * @param fontSize The font size, px.
 * @param outline The outline's width, px.
 *
 * @example
 * ```ts
 * import { textWidth } from "./lanes.ts";
 *
 * console.log(textWidth("主播666", 40, 2)); // 156: 2 × 40 + 3 × 24 + 2 × 2
 * ```
 */
export function textWidth(text: string, fontSize: number, outline: number): number {
  let ems = 0;
  for (let i = 0; i < text.length; i++) {
    const code = text.charCodeAt(i);
    if (code < 0x300) ems += 0.6;
    else if (code >= 0xd800 && code <= 0xdbff) {
      ems += 1.2;
      i++; // the low surrogate
    } else ems += 1;
  }
  return Math.ceil(ems * fontSize) + 2 * outline;
}
