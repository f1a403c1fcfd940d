/**
 * A Douyu (斗鱼) live-chat ("barrage") client for Deno, Bun and Node.
 *
 * @example Decode what the server sends
 * ```ts
 * import { encodeFrame, FrameDecoder, parseMessage } from "@x/douyu";
 *
 * const decoder = new FrameDecoder();
 * for (const frame of decoder.push(encodeFrame("type@=chatmsg/nn@=Ann/txt@=hi/", 690))) {
 *   const msg = parseMessage(frame.body);
 *   if (msg.type === "chatmsg") console.log(`${msg.nn}: ${msg.txt}`);
 * }
 * ```
 *
 * @module
 */

export {
  ClosedError,
  type ConnectionAttempt,
  ConnectionError,
  DouyuError,
  ProtocolError,
  RoomResolveError,
  TimeoutError,
  TlsError,
} from "./src/errors.ts";
export {
  CLIENT_MESSAGE_TYPE,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  SERVER_MESSAGE_TYPE,
} from "./src/frame.ts";
export {
  decodeStt,
  decodeSttList,
  decodeSttMapList,
  decodeSttPairs,
  encodeStt,
  escapeStt,
  peekType,
  peekTypeBytes,
  type SttValue,
  unescapeStt,
} from "./src/stt.ts";
export * from "./src/messages.ts";
