/**
 * A Douyu (斗鱼) live-chat ("barrage") client for Deno, Bun and Node: connect
 * to a room, keep the heartbeat, reconnect across faults, and get every
 * message the room produces as a typed object.
 *
 * Run as the main module, this file is the `douyu` command line tool.
 *
 * @example Watch a room (here the bundled mock server stands in for Douyu)
 * ```ts
 * import { connect } from "@x/douyu";
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start({ messages: ["type@=chatmsg/nn@=Ann/txt@=hi/"] });
 * await using session = await connect(9999, { url: server.url });
 * for await (const msg of session) {
 *   if (msg.type === "chatmsg") {
 *     console.log(`${msg.nn}: ${msg.txt}`);
 *     break;
 *   }
 * }
 * ```
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
  TimeoutError,
  TlsError,
} from "./src/base/errors.ts";
export { GiftCatalogError, RoomResolveError } from "./src/web/errors.ts";
export { HubFullError } from "./src/rooms/errors.ts";
export {
  CLIENT_MESSAGE_TYPE,
  DEFAULT_MAX_FRAME_SIZE,
  encodeFrame,
  type Frame,
  FrameDecoder,
  type FrameDecoderOptions,
  SERVER_MESSAGE_TYPE,
} from "./src/protocol/frame.ts";
export {
  decodeStt,
  encodeStt,
  escapeStt,
  peekType,
  peekTypeBytes,
  type SttValue,
  unescapeStt,
} from "./src/protocol/stt.ts";
export {
  avatarUrl,
  type BadgeUpgradeMessage,
  type BanMessage,
  BOOKKEEPING_TYPES,
  type ChatMessage,
  type CommChatMessage,
  type DeserveMessage,
  type Effect,
  type FanRankChangeMessage,
  type FanRankEntry,
  type FanRankMessage,
  type GiftBroadcastMessage,
  type GiftMessage,
  type GiftNamedMessage,
  type HeartbeatMessage,
  isBadgeFromRoom,
  isFromRoom,
  isLikelyBot,
  isType,
  KNOWN_TYPES,
  type KnownMessage,
  type KnownMessages,
  type KnownType,
  type LiveStatusMessage,
  type LoginResponseMessage,
  type Message,
  type MessageOf,
  type NestedChat,
  type NobleCountMessage,
  type NobleFields,
  type NobleOpenMessage,
  type NobleRenewMessage,
  parseMessage,
  type PingRequestMessage,
  type RankEntry,
  type RankListMessage,
  type RankUpMessage,
  type SttMap,
  type SuperBarrageMessage,
  type SuperChat,
  superChatOf,
  toNumber,
  type UnknownMessage,
  type UpgradeMessage,
  type User,
  type UserEnterMessage,
  type UserFields,
  userOf,
} from "./src/protocol/messages.ts";
export {
  type CloseInfo,
  connect,
  type ConnectOptions,
  DEFAULT_TCP_URLS,
  defaultUrls,
  type MessageHandler,
  type ReconnectPolicy,
  Session,
  type StatusEvent,
} from "./src/session/session.ts";
export type { OverflowPolicy } from "./src/base/queue.ts";
export {
  DEFAULT_MAX_ROOMS,
  Hub,
  type HubMessage,
  type HubOptions,
  type HubStatusEvent,
  type RoomOptions,
} from "./src/rooms/hub.ts";
export {
  type LiveEvent,
  type LiveOptions,
  type LiveSnapshot,
  type LiveState,
  LiveWatcher,
  watchLive,
} from "./src/rooms/live.ts";
export {
  type FetchLike,
  fetchRoomInfo,
  parseRoomInput,
  resolveRoom,
  type ResolveRoomOptions,
  type RoomInfo,
  type RoomInfoOptions,
  type RoomInput,
  type RoomLookupOptions,
} from "./src/web/room.ts";
export {
  GiftCatalog,
  type GiftCatalogInit,
  type GiftDetails,
  type GiftEntry,
  giftOf,
} from "./src/protocol/gifts.ts";
export {
  fetchGiftCatalog,
  GiftCatalogCache,
  type GiftCatalogCacheOptions,
  type GiftCatalogOptions,
} from "./src/web/gifts.ts";
export {
  createFilter,
  type FilterDecision,
  type FilterReason,
  type FilterRules,
  type FoldResult,
  type MessageFilter,
  RepeatFolder,
  type RepeatFolderOptions,
} from "./src/output/filters.ts";
export { sanitizeForTerminal, type SanitizeOptions } from "./src/base/sanitize.ts";
export {
  type Endpoint,
  parseEndpoint,
  type Transport,
  type TransportConnectOptions,
  type TransportFactory,
} from "./src/transport/seam.ts";
export { defaultTransportFactory } from "./src/transport/default.ts";

if (import.meta.main) {
  // Not a top-level await: with one, CommonJS code could not require() the
  // npm build of this module (Node 20.19+ and 22.12+ require ES modules only
  // when they have none).
  import("./src/cli/process_io.ts").then(({ runCli }) => runCli());
}
