/**
 * WebSocket framing (RFC 6455 §5) that needs no socket: the opcodes, the
 * control-frame bound, and encoding a frame. `websocket.ts` reads frames.
 *
 * @module
 */

/** A frame that continues a fragmented message. */
export const OPCODE_CONTINUATION = 0x0;
/** A text message (or its first fragment). */
export const OPCODE_TEXT = 0x1;
/** A binary message (or its first fragment). */
export const OPCODE_BINARY = 0x2;
/** The close frame. */
export const OPCODE_CLOSE = 0x8;
/** A ping. */
export const OPCODE_PING = 0x9;
/** A pong. */
export const OPCODE_PONG = 0xa;
/** Control frames carry at most this much (RFC 6455 §5.5). */
export const MAX_CONTROL_PAYLOAD = 125;

/**
 * Encodes one final WebSocket frame. Clients mask what they send (RFC 6455
 * §5.3); servers do not.
 *
 * @param opcode 2 for binary, 8 close, 9 ping, 10 pong (1, text, is never sent here).
 * @param payload The payload; copied, never modified.
 * @param masked Whether to mask it (true for clients).
 * @returns The frame's bytes.
 *
 * @example
 * ```ts
 * import { encodeWebSocketFrame } from "./websocket_frame.ts";
 *
 * const frame = encodeWebSocketFrame(2, new Uint8Array([1, 2, 3]), false);
 * console.log([...frame]); // [ 130, 3, 1, 2, 3 ]
 * ```
 */
export function encodeWebSocketFrame(
  opcode: number,
  payload: Uint8Array,
  masked: boolean,
): Uint8Array {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const headerSize = 2 + lengthBytes + (masked ? 4 : 0);
  const frame = new Uint8Array(headerSize + length);
  const view = new DataView(frame.buffer);
  frame[0] = 0x80 | opcode;
  frame[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) view.setUint16(2, length);
  if (lengthBytes === 8) {
    view.setUint32(2, Math.floor(length / 0x100000000));
    view.setUint32(6, length >>> 0);
  }
  frame.set(payload, headerSize);
  if (masked) {
    const mask = frame.subarray(headerSize - 4, headerSize);
    crypto.getRandomValues(mask);
    for (let i = headerSize; i < frame.length; i++) frame[i]! ^= mask[(i - headerSize) & 3]!;
  }
  return frame;
}

/** Close code: normal closure. */
export const CLOSE_NORMAL = 1000;
/** Close code: the peer broke the protocol (§7.4.1). */
export const CLOSE_PROTOCOL_ERROR = 1002;
/** Close code: a text message or close reason that is not UTF-8 (§7.4.1, §8.1). */
export const CLOSE_INVALID_DATA = 1007;

/**
 * Whether a close frame may carry `code` (RFC 6455 §7.4 and the IANA
 * registry): 1000–1003, 1007–1014, and the application ranges 3000–4999.
 * 1004 is reserved, and 1005, 1006 and 1015 only report locally what
 * happened: they never go on the wire.
 *
 * @example
 * ```ts
 * import { isValidCloseCode } from "./websocket_frame.ts";
 *
 * console.log(isValidCloseCode(1000), isValidCloseCode(1005), isValidCloseCode(999)); // true false false
 * ```
 */
export function isValidCloseCode(code: number): boolean {
  return (code >= 1000 && code <= 1014 && code !== 1004 && code !== 1005 && code !== 1006) ||
    (code >= 3000 && code <= 4999);
}

/**
 * The payload of a close frame that says `code` and nothing more.
 *
 * @example
 * ```ts
 * import { closePayload } from "./websocket_frame.ts";
 *
 * console.log([...closePayload(1002)]); // [ 3, 234 ]
 * ```
 */
export function closePayload(code: number): Uint8Array {
  return new Uint8Array([code >> 8, code & 0xff]);
}

/**
 * Checks UTF-8 (RFC 3629: no overlong forms, no surrogates, nothing above
 * U+10FFFF) piece by piece, for a text message that arrives in fragments
 * and reads: a character may be split anywhere. Allocates nothing.
 *
 * @example
 * ```ts
 * import { Utf8Validator } from "./websocket_frame.ts";
 *
 * const utf8 = new Utf8Validator();
 * console.log(utf8.push(new Uint8Array([0xe4, 0xbd])), utf8.complete); // true false
 * console.log(utf8.push(new Uint8Array([0xa0])), utf8.complete); // true true
 * console.log(utf8.push(new Uint8Array([0xc0, 0x80]))); // false: an overlong NUL
 * ```
 */
export class Utf8Validator {
  /** Continuation bytes the character begun still needs. */
  #need = 0;
  /** The range the next continuation byte must fall in (narrower after some lead bytes). */
  #lower = 0x80;
  #upper = 0xbf;

  /** Whether no character is left unfinished: a message may end here. */
  get complete(): boolean {
    return this.#need === 0;
  }

  /** Checks the next bytes; false at the first that cannot continue valid UTF-8. */
  push(bytes: Uint8Array): boolean {
    let need = this.#need;
    let lower = this.#lower;
    let upper = this.#upper;
    for (let i = 0; i < bytes.length; i++) {
      const byte = bytes[i]!;
      if (need === 0) {
        if (byte < 0x80) continue;
        if (byte < 0xc2 || byte > 0xf4) return false;
        if (byte < 0xe0) need = 1;
        else if (byte < 0xf0) {
          need = 2;
          if (byte === 0xe0) lower = 0xa0; // no overlong 3-byte form
          if (byte === 0xed) upper = 0x9f; // no surrogate
        } else {
          need = 3;
          if (byte === 0xf0) lower = 0x90; // no overlong 4-byte form
          if (byte === 0xf4) upper = 0x8f; // nothing above U+10FFFF
        }
        continue;
      }
      if (byte < lower || byte > upper) return false;
      lower = 0x80;
      upper = 0xbf;
      need--;
    }
    this.#need = need;
    this.#lower = lower;
    this.#upper = upper;
    return true;
  }

  /** Starts afresh, for the next message. */
  reset(): void {
    this.#need = 0;
    this.#lower = 0x80;
    this.#upper = 0xbf;
  }
}
