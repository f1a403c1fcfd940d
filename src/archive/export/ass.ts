/**
 * The ASS export: the chat as scrolling danmaku subtitles for a video
 * (1920×1080 by default), which players (mpv, VLC, PotPlayer) and ffmpeg
 * render over it.
 *
 * @module
 */

import {
  chatColor,
  chatOf,
  cleanName,
  cleanText,
  type ExportOptions,
  type ExportSource,
  type ExportSummary,
  replacer,
  runExport,
} from "./common.ts";
import { pickLane, type Scroll, type Stage, textWidth } from "./lanes.ts";
import { type Notice, NoticeBoard } from "./notices.ts";

/**
 * Options of {@linkcode exportAss}.
 *
 * @example
 * ```ts
 * import type { AssOptions } from "./ass.ts";
 *
 * const options: AssOptions = { width: 1280, height: 720, fontSize: 30, duration: 10_000 };
 * console.log(options.width);
 * ```
 */
export interface AssOptions extends ExportOptions {
  /** Video width, px. Default 1920. */
  width?: number;
  /** Video height, px. Default 1080. */
  height?: number;
  /** Font size, px; a row is 1.2 times as high. Default 40. */
  fontSize?: number;
  /** Font name. Default `Microsoft YaHei` (players fall back to any CJK font they have). */
  font?: string;
  /** How long a chat takes to cross the screen, ms. Default 8000. */
  duration?: number;
}

const DEFAULTS = {
  width: 1920,
  height: 1080,
  fontSize: 40,
  font: "Microsoft YaHei",
  duration: 8000,
} as const;
const OUTLINE = 2;

/**
 * Exports the chat (chats and super chats) as ASS danmaku: each chat
 * scrolls from right to left across the screen in `duration`, in the
 * topmost row where it never touches the chat before it (see `fitsBehind`
 * in `lanes.ts`), in its Douyu colour; a super chat shows its price and
 * sender, in gold. Two chats never overlap in a row. When every row is
 * taken, the chat is kept in the file as a `Comment:` line (not shown) and
 * counted in `hidden`, rather than drawn over another: a smaller
 * `fontSize` or a shorter `duration` makes room for more.
 *
 * Gaps (and lost messages) show as a notice in the bottom row, for as long
 * as they last (3 s at least). Times are rounded to ASS's hundredths of a
 * second. Text is cleaned as the terminal shows it, and the characters ASS
 * would read as markup (`\`, `{`, `}`) become their fullwidth forms (`＼`,
 * `｛`, `｝`).
 *
 * @param source Items in time order, of one room.
 * @param options `start`, the video's `width` and `height`, `fontSize`, `font`, `duration`.
 * @returns Chunks of text; the generator returns an {@linkcode ExportSummary}.
 * @throws {RangeError} A size or duration is not positive (`width` and `height`: integers), or the
 * screen has no room for a row of chat.
 *
 * @example
 * ```ts
 * import { collectExport } from "./common.ts";
 * import { exportAss } from "./ass.ts";
 *
 * const { text } = await collectExport(exportAss([
 *   { t: 1000, room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "主播好" } },
 * ]));
 * console.log(text.split("\n").at(-2));
 * // Dialogue: 0,0:00:00.00,0:00:08.00,Danmaku,,0,0,0,,{\move(1920,0,-124,0)}主播好
 * ```
 */
export function exportAss(
  source: ExportSource,
  options: AssOptions = {},
): AsyncGenerator<string, ExportSummary, undefined> {
  const width = positiveInteger(options.width ?? DEFAULTS.width, "width");
  const height = positiveInteger(options.height ?? DEFAULTS.height, "height");
  const fontSize = positive(options.fontSize ?? DEFAULTS.fontSize, "fontSize");
  const duration = positive(options.duration ?? DEFAULTS.duration, "duration");
  const font = styleField(options.font ?? DEFAULTS.font);
  const rowHeight = Math.ceil(fontSize * 1.2);
  // The bottom row is kept for gap notices.
  const rows = Math.floor(height / rowHeight) - 1;
  if (rows < 1) throw new RangeError(`a ${height} px screen has no room for ${fontSize} px rows`);
  const stage: Stage = { width, duration, gap: fontSize };

  return runExport(source, options, (summary) => {
    const lanes: (Scroll | undefined)[] = new Array(rows).fill(undefined);
    const notices = new NoticeBoard();
    const notice = (shown: Notice | undefined): string => {
      if (shown === undefined) return "";
      summary.written++;
      return `Dialogue: 1,${assTime(shown.start)},${assTime(shown.end)},Notice,,0,0,0,,${
        assText(shown.text)
      }\n`;
    };
    return {
      begin: () => header(width, height, font, fontSize),
      message(item, offset) {
        const chat = chatOf(item.message);
        if (chat === undefined) return notice(notices.due(offset));
        // On the hundredths ASS keeps, so that the rows hold for what is drawn.
        const start = Math.round(offset / 10) * 10;
        let text = assText(cleanText(chat.text));
        let style = colorTagOf(chat.color);
        if (chat.price !== undefined) {
          text = `¥${chat.price} ${assText(cleanName(chat.name))}: ${text}`;
          style = SUPER_CHAT_COLOR;
        }
        const scroll: Scroll = { start, width: textWidth(text, fontSize, OUTLINE) };
        const lane = pickLane(lanes, scroll, stage);
        const times = `${assTime(start)},${assTime(start + duration)}`;
        let line: string;
        if (lane < 0) {
          summary.hidden++;
          line = `Comment: 0,${times},Danmaku,,0,0,0,,${text}\n`;
        } else {
          lanes[lane] = scroll;
          summary.written++;
          const y = lane * rowHeight;
          line = `Dialogue: 0,${times},Danmaku,,0,0,0,,{\\move(${width},${y},${-scroll
            .width},${y})${style}}${text}\n`;
        }
        return notice(notices.due(offset)) + line;
      },
      status: (_item, offset) => notice(notices.due(offset)),
      gap: (gap, start, end) => notice(notices.add(gap, start, end)),
      end() {
        let tail = notice(notices.finish());
        if (summary.hidden > 0) {
          tail += `Comment: 0,0:00:00.00,0:00:00.00,Danmaku,,0,0,0,,${summary.hidden} chats ` +
            "not shown: every row was taken (a smaller font size or a shorter duration makes room)\n";
        }
        return tail;
      },
    };
  });
}

function header(width: number, height: number, font: string, fontSize: number): string {
  const style = (name: string, colour: string, alignment: number, marginV: number) =>
    `Style: ${name},${font},${fontSize},${colour},&H00FFFFFF,&H00000000,&H80000000,0,0,0,0,` +
    `100,100,0,0,1,${OUTLINE},0,${alignment},0,0,${marginV},1`;
  return [
    "[Script Info]",
    "; Douyu chat, exported by @x/douyu",
    "ScriptType: v4.00+",
    `PlayResX: ${width}`,
    `PlayResY: ${height}`,
    "WrapStyle: 2",
    "ScaledBorderAndShadow: yes",
    "",
    "[V4+ Styles]",
    "Format: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, " +
    "Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, " +
    "Shadow, Alignment, MarginL, MarginR, MarginV, Encoding",
    style("Danmaku", "&H00FFFFFF", 7, 0),
    style("Notice", "&H0000FFFF", 2, 2),
    "",
    "[Events]",
    "Format: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text",
    "",
  ].join("\n");
}

/** An ASS colour override: `&HBBGGRR&`; nothing for white, the style's own. */
function colorTag(rgb: number): string {
  if (rgb === 0xffffff) return "";
  const bgr = ((rgb & 0xff) << 16) | (rgb & 0xff00) | (rgb >> 16);
  return `\\c&H${bgr.toString(16).toUpperCase().padStart(6, "0")}&`;
}

/** Super chats are gold. */
const SUPER_CHAT_COLOR = colorTag(0xffd700);

/** The colour override of each `col`, worked out once. */
const COLOR_TAGS = new Map<string, string>();

function colorTagOf(col: string): string {
  let tag = COLOR_TAGS.get(col);
  if (tag === undefined) {
    tag = colorTag(chatColor(col));
    // Any wire value may come: only Douyu's few are kept.
    if (COLOR_TAGS.size < 64) COLOR_TAGS.set(col, tag);
  }
  return tag;
}

/** `00` to `99`. */
const TWO_DIGITS = Array.from({ length: 100 }, (_, n) => String(n).padStart(2, "0"));

/** `H:MM:SS.cc` of ms after time zero (rounded to hundredths). */
export function assTime(ms: number): string {
  const cs = Math.round(ms / 10);
  const s = Math.floor(cs / 100);
  return `${Math.floor(s / 3600)}:${TWO_DIGITS[Math.floor(s / 60) % 60]}:${TWO_DIGITS[s % 60]}.${
    TWO_DIGITS[cs % 100]
  }`;
}

/** Cleaned text with ASS's markup characters in their fullwidth forms. */
const assText = replacer({ "\\": "＼", "{": "｛", "}": "｝" });

/** A font name fit for a style line: no commas, no line breaks. */
function styleField(name: string): string {
  const clean = cleanText(name).replace(/,/g, "");
  if (clean === "") throw new RangeError(`font must be a font name, got ${JSON.stringify(name)}`);
  return clean;
}

function positiveInteger(value: number, name: string): number {
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive integer, got ${value}`);
  }
  return value;
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}
