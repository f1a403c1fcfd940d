/**
 * WebSocket framing (RFC 6455 §5) that needs no socket: the opcodes, the
 * control-frame bound, and encoding a frame. `websocket.ts` reads frames.
 *
 * @module
 */

/** A frame that continues a fragmented message. */
export const OPCODE_CONTINUATION = 0x0;
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
