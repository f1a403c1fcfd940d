/**
 * Whole messages are stored compressed in blocks: up to
 * {@linkcode BLOCK_MESSAGES} consecutive messages of one room and day,
 * their JSON lines deflated together. Messages of one room look alike (the
 * same keys, the same badges and avatars), so a block compresses several
 * times better than each message alone, and costs one `inflate` to read.
 * A block grows as its room's messages are written: each commit rewrites
 * the room's open block with what it holds so far (as it is, not deflated,
 * until it is full or the archive closes), so a `kill -9` never leaves a
 * message without its JSON.
 *
 * Uses `node:zlib`, built into Deno, Bun and Node.
 *
 * @module
 */

import { deflateRawSync, inflateRawSync } from "node:zlib";

/**
 * Most messages in one block. Reading one message inflates its whole block,
 * so this trades space for the speed of scattered reads (one user's
 * messages, search hits): blocks of 64 of the capture's shapes take 46
 * bytes a message, 32 take 56, 16 take 70; inflating one takes about
 * twice as long at 64 as at 32.
 */
export const BLOCK_MESSAGES = 32;
/** Most characters of JSON in one block, whatever the number of messages. */
export const BLOCK_CHARS = 16_384;

/** The first byte of a block: how the rest is stored. */
const STORED = 0;
const DEFLATED = 1;

/**
 * zlib's level. Measured on blocks of the capture's shapes (64 messages of
 * a room): level 1 gives 66 bytes a message, 3 gives 46 and 6 gives 39;
 * levels 1 to 3 use zlib's fast matcher, 4 and up its slow one (about half
 * again the time).
 */
const LEVEL = 3;

const encoder = new TextEncoder();
// A line's leading U+FEFF is part of the line (by default, decoding drops it).
const decoder = new TextDecoder("utf-8", { ignoreBOM: true });

/**
 * Packs JSON lines (none containing a newline, as `JSON.stringify` writes
 * them) into a block: deflated, or stored as they are when that is smaller
 * or `deflate` is false (a block still filling, written again at the next
 * commit: it is deflated once, when full).
 *
 * @example
 * ```ts
 * import { BlockLines, packBlock } from "./blocks.ts";
 *
 * const block = packBlock(['{"type":"chatmsg"}', '{"type":"dgb"}']);
 * console.log(new BlockLines(block).at(1)); // '{"type":"dgb"}'
 * ```
 */
export function packBlock(lines: readonly string[], deflate = true): Uint8Array {
  const text = encoder.encode(lines.join("\n"));
  if (!deflate) {
    const block = new Uint8Array(1 + text.length);
    block[0] = STORED;
    block.set(text, 1);
    return block;
  }
  const deflated = deflateRawSync(text, { level: LEVEL });
  const stored = deflated.length < text.length;
  const block = new Uint8Array(1 + (stored ? deflated.length : text.length));
  block[0] = stored ? DEFLATED : STORED;
  block.set(stored ? deflated : text, 1);
  return block;
}

/** A block's text (its lines joined by newlines), as UTF-8. */
function blockText(block: Uint8Array): Uint8Array {
  const body = block.subarray(1);
  if (block[0] === STORED) return body;
  if (block[0] === DEFLATED) return inflateRawSync(body);
  throw new RangeError(`unknown block format ${block[0]}`);
}

/**
 * A block's lines, inflated once and each decoded only when it is read.
 * Scattered reads (one user's messages, search hits) take one line of each
 * block: decoding and splitting the whole block for it cost about a third
 * as much again as inflating it.
 *
 * @example
 * ```ts
 * import { BlockLines, packBlock } from "./blocks.ts";
 *
 * const lines = new BlockLines(packBlock(['{"a":1}', '{"b":"主播"}']));
 * console.log(lines.length, lines.at(1)); // 2 '{"b":"主播"}'
 * ```
 */
export class BlockLines {
  readonly #text: Uint8Array;
  /** Where each line found so far starts (the lines are found as far as they are read). */
  readonly #starts: number[] = [0];
  /** Whether the last line has been found. */
  #complete = false;

  /**
   * @param block A block {@linkcode packBlock} wrote.
   * @throws {RangeError} It is not one.
   */
  constructor(block: Uint8Array) {
    const text = blockText(block);
    // A plain view: `indexOf` of a runtime's `Buffer` can be a slower, generic one.
    this.#text = new Uint8Array(text.buffer, text.byteOffset, text.length);
  }

  /** How many lines it holds. */
  get length(): number {
    this.#find(Infinity);
    return this.#starts.length - 1;
  }

  /** The line at `pos`, or undefined past the last. */
  at(pos: number): string | undefined {
    if (!Number.isInteger(pos) || pos < 0) return undefined;
    this.#find(pos + 1);
    const starts = this.#starts;
    if (pos + 1 >= starts.length) return undefined;
    return decoder.decode(this.#text.subarray(starts[pos]!, starts[pos + 1]! - 1));
  }

  /** Finds where lines start until `count` lines are known, or all of them. */
  #find(count: number): void {
    const starts = this.#starts;
    const text = this.#text;
    // A newline byte is never part of a longer UTF-8 sequence, and JSON escapes newlines.
    while (!this.#complete && starts.length <= count) {
      const end = text.indexOf(NEWLINE, starts[starts.length - 1]!);
      if (end === -1) {
        starts.push(text.length + 1);
        this.#complete = true;
      } else {
        starts.push(end + 1);
      }
    }
  }
}

const NEWLINE = 0x0a;

/**
 * The block a room and day is filling: its lines so far, and whether it
 * can take one more.
 */
export class OpenBlock {
  /** Its id in the store. */
  readonly id: number;
  readonly lines: string[] = [];
  #chars = 0;

  /** @param id Its id in the store. */
  constructor(id: number) {
    this.id = id;
  }

  /** Whether its last write was not deflated (it was still filling). */
  stored = false;

  /** Whether it is as full as it gets: it takes no other line of a usual size. */
  get full(): boolean {
    return this.lines.length >= BLOCK_MESSAGES || this.#chars >= BLOCK_CHARS * 0.9;
  }

  /** Whether another line of `chars` characters fits. */
  fits(chars: number): boolean {
    return this.lines.length < BLOCK_MESSAGES &&
      (this.lines.length === 0 || this.#chars + chars <= BLOCK_CHARS);
  }

  /** Adds a line; returns its position in the block. */
  add(line: string): number {
    this.lines.push(line);
    this.#chars += line.length;
    return this.lines.length - 1;
  }
}
