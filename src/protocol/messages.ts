/**
 * Typed Douyu server messages. Every message keeps the wire field names and
 * string values exactly as `decodeStt` gives them; only fields known to be
 * nested are decoded one level further into arrays or maps of the same shape.
 * Here: which types exist, parsing a body into one, and reading the fields
 * many types share (the user, the room, a super chat); the shapes of the
 * types themselves are in `./message_types.ts`.
 * Field meanings: docs/protocol.md, "Message types".
 *
 * @module
 */

import { ownField, ownString } from "../base/fields.ts";
import {
  decodeBody,
  decodeListAt,
  decodeListRange,
  decodeMapListAt,
  decodeMapListRange,
  decodeMapRange,
  type NestedDecoder,
} from "./stt.ts";
import type {
  BadgeUpgradeMessage,
  BanMessage,
  ChatMessage,
  CommChatMessage,
  DeserveMessage,
  FanRankChangeMessage,
  FanRankMessage,
  GiftBroadcastMessage,
  GiftMessage,
  GiftNamedMessage,
  HeartbeatMessage,
  LiveStatusMessage,
  LoginResponseMessage,
  NobleCountMessage,
  NobleFields,
  NobleOpenMessage,
  NobleRenewMessage,
  PingRequestMessage,
  RankListMessage,
  RankUpMessage,
  SuperBarrageMessage,
  UpgradeMessage,
  UserEnterMessage,
  UserFields,
} from "./message_types.ts";

/** Every message type this library knows, by its wire `type`. */
export interface KnownMessages {
  /** Chat. */
  chatmsg: ChatMessage;
  /** User entered. */
  uenter: UserEnterMessage;
  /** Gift. */
  dgb: GiftMessage;
  /** Named gift. */
  gdp: GiftNamedMessage;
  /** Gift broadcast. */
  spbc: GiftBroadcastMessage;
  /** Super barrage. */
  ssd: SuperBarrageMessage;
  /** Live status. */
  rss: LiveStatusMessage;
  /** Deserve purchase. */
  bc_buy_deserve: DeserveMessage;
  /** Rank change. */
  rankup: RankUpMessage;
  /** Rankings. */
  ranklist: RankListMessage;
  /** Level up. */
  upgrade: UpgradeMessage;
  /** Badge level up. */
  blab: BadgeUpgradeMessage;
  /** Mute or ban. */
  newblackres: BanMessage;
  /** Fan ranking. */
  frank: FanRankMessage;
  /** Fan ranking change. */
  fswrank: FanRankChangeMessage;
  /** Noble opened. */
  anbc: NobleOpenMessage;
  /** Noble renewed. */
  rnewbc: NobleRenewMessage;
  /** Super chat and notices. */
  comm_chatmsg: CommChatMessage;
  /** Noble count. */
  noble_num_info: NobleCountMessage;
  /** Login accepted. */
  loginres: LoginResponseMessage;
  /** Server ping. */
  pingreq: PingRequestMessage;
  /** Heartbeat reply. */
  mrkl: HeartbeatMessage;
}

/** The wire `type` of a known message. */
export type KnownType = keyof KnownMessages;

/** Any known message. */
export type KnownMessage = KnownMessages[KnownType];

/**
 * A message of a type this library has no interface for, with every field
 * intact as a string. `type` is `""` when the body had none.
 */
export interface UnknownMessage {
  /** The wire type. */
  type: string;
  /** Every field, as sent. */
  [field: string]: string | undefined;
}

/** Any server message. */
export type Message = KnownMessage | UnknownMessage;

/** The message type for a wire type name: known interface or {@linkcode UnknownMessage}. */
export type MessageOf<T extends string> = string extends T
  // A type only known at run time (a plain `string`) may be any message.
  ? Message
  : T extends KnownType ? KnownMessages[T]
  : UnknownMessage;

/**
 * The connection's own bookkeeping: the login answer (`loginres`), the
 * keepalive (`pingreq`, `mrkl`). They say nothing about the room, so they are
 * not printed unless asked for, not published to a cluster, not archived and
 * not replayed by a mock server, which sends its own.
 *
 * @example
 * ```ts
 * import { BOOKKEEPING_TYPES, parseMessage } from "@x/douyu";
 *
 * console.log(BOOKKEEPING_TYPES.has(parseMessage("type@=mrkl/").type)); // true
 * ```
 */
export const BOOKKEEPING_TYPES: ReadonlySet<string> = new Set(["loginres", "pingreq", "mrkl"]);

/** The list of known types, in the order of docs/protocol.md's "Message types". */
export const KNOWN_TYPES: readonly KnownType[] = [
  "chatmsg",
  "uenter",
  "dgb",
  "gdp",
  "spbc",
  "ssd",
  "rss",
  "bc_buy_deserve",
  "rankup",
  "ranklist",
  "upgrade",
  "blab",
  "newblackres",
  "frank",
  "fswrank",
  "anbc",
  "rnewbc",
  "comm_chatmsg",
  "noble_num_info",
  "loginres",
  "pingreq",
  "mrkl",
];

type Fields = Record<string, unknown>;

/*
 * Nested fields are decoded straight from the wire text of the body, where
 * their values are escaped once more than plain STT ("level 1"), while the
 * body is decoded. Inside an already decoded nested map, values are plain
 * again (level 0).
 */

function nestMapList(msg: Fields, key: string, level: number): void {
  const raw = msg[key];
  if (typeof raw === "string") msg[key] = decodeMapListAt(raw, level);
}

function nestList(msg: Fields, key: string, level: number): void {
  const raw = msg[key];
  if (typeof raw === "string") msg[key] = decodeListAt(raw, level);
}

function nestChat(msg: Fields, level: number): void {
  nestMapList(msg, "el", level);
  nestList(msg, "ail", level);
}

const mapList: NestedDecoder = (text, from, to) => decodeMapListRange(text, from, to, 1);
const list: NestedDecoder = (text, from, to) => decodeListRange(text, from, to, 1);
const rankEntries: NestedDecoder = (text, from, to) => {
  const entries: Fields[] = decodeMapListRange(text, from, to, 1);
  for (const entry of entries) nestList(entry, "ail", 0);
  return entries;
};

/** Each known type's nested fields and their decoders. Maps: wire types are hostile keys. */
const NESTED = new Map<string, ReadonlyMap<string, NestedDecoder>>([
  ["chatmsg", new Map([["el", mapList], ["ail", list]])],
  ["uenter", new Map([["el", mapList]])],
  ["dgb", new Map([["el", mapList]])],
  ["bc_buy_deserve", new Map([["sui", (text, from, to) => decodeMapRange(text, from, to, 1)]])],
  [
    "ranklist",
    new Map([["list", rankEntries], ["list_all", rankEntries], ["list_day", rankEntries]]),
  ],
  ["frank", new Map([["list", mapList]])],
  ["fswrank", new Map([["list", mapList]])],
  ["noble_num_info", new Map([["list", mapList]])],
  [
    "comm_chatmsg",
    new Map([["chatmsg", (text, from, to) => {
      const chat: Fields = decodeMapRange(text, from, to, 1);
      nestChat(chat, 0);
      return chat;
    }]]),
  ],
]);

const nestedKeysOf = (type: string): ReadonlyMap<string, NestedDecoder> | undefined =>
  NESTED.get(type);

/**
 * Parses an STT body into a typed message: one-level decode, then the known
 * nested fields of known types. Unknown types come back with all fields.
 *
 * @param body An STT body, as in {@linkcode Frame.body}.
 * @returns The message; `type` is always a string.
 *
 * @example
 * ```ts
 * import { parseMessage } from "@x/douyu";
 *
 * const msg = parseMessage("type@=uenter/nn@=Alice/el@=eid@AA=1@ASetp@AA=2@AS@S/");
 * if (msg.type === "uenter") console.log(msg.nn, msg.el); // "Alice" [{ eid: "1", etp: "2" }]
 * ```
 */
export function parseMessage(body: string): Message {
  const msg: Fields = decodeBody(body, nestedKeysOf);
  if (typeof msg.type !== "string") msg.type = "";
  return msg as Message;
}

/**
 * Narrows a message to one type, known or not.
 *
 * @example
 * ```ts
 * import { isType, parseMessage } from "@x/douyu";
 *
 * const msg = parseMessage("type@=chatmsg/nn@=Bob/txt@=hi/");
 * if (isType(msg, "chatmsg")) console.log(`${msg.nn}: ${msg.txt}`);
 * ```
 */
export function isType<T extends string>(msg: Message, type: T): msg is Message & MessageOf<T> {
  return msg.type === type;
}

/**
 * A wire string as a finite number, or `undefined` when absent or not numeric.
 *
 * @example
 * ```ts
 * import { toNumber } from "@x/douyu";
 *
 * console.log(toNumber("38"), toNumber(""), toNumber(undefined)); // 38 undefined undefined
 * ```
 */
export function toNumber(value: string | undefined): number | undefined {
  if (value === undefined || value === "") return undefined;
  const n = Number(value);
  return Number.isFinite(n) ? n : undefined;
}

/**
 * The avatar image URL of an `ic` path.
 *
 * @param path The `ic` (or `icon`, `uic`) field.
 * @param size `small`, `middle` or `big`.
 *
 * @example
 * ```ts
 * import { avatarUrl } from "@x/douyu";
 *
 * console.log(avatarUrl("avatar_v3/202012/abc"));
 * // "https://apic.douyucdn.cn/upload/avatar_v3/202012/abc_small.jpg"
 * ```
 */
export function avatarUrl(
  path: string,
  size: "small" | "middle" | "big" = "small",
): string {
  if (/^https?:\/\//.test(path)) return path;
  return `https://apic.douyucdn.cn/upload/${path}_${size}.jpg`;
}

/**
 * Whether a chat message likely comes from a bot: real web and app clients
 * send `dms`, most bots do not.
 *
 * @example
 * ```ts
 * import { isLikelyBot, parseMessage } from "@x/douyu";
 *
 * console.log(isLikelyBot(parseMessage("type@=chatmsg/txt@=hi/"))); // true
 * console.log(isLikelyBot(parseMessage("type@=chatmsg/txt@=hi/dms@=5/"))); // false
 * ```
 */
export function isLikelyBot(msg: Message): boolean {
  return msg.type === "chatmsg" && msg.dms === undefined;
}

/**
 * Whether a message belongs to `room`: `false` only when it names another
 * room in `rid` (broadcasts of other rooms' gifts and nobles carry `rid` 0
 * or the other room). Messages without `rid` count as this room's.
 *
 * @example
 * ```ts
 * import { isFromRoom, parseMessage } from "@x/douyu";
 *
 * console.log(isFromRoom(parseMessage("type@=chatmsg/rid@=9999/"), 9999)); // true
 * console.log(isFromRoom(parseMessage("type@=spbc/rid@=0/drid@=1/"), 9999)); // false
 * ```
 */
export function isFromRoom(msg: Message, room: number | string): boolean {
  const rid = msg.rid;
  return typeof rid !== "string" || rid === String(room);
}

/**
 * Whether the sender's fan badge belongs to `room` (badges from other rooms
 * are common).
 *
 * @example
 * ```ts
 * import { isBadgeFromRoom, parseMessage } from "@x/douyu";
 *
 * console.log(isBadgeFromRoom(parseMessage("type@=chatmsg/bnn@=x/brid@=1/"), 1)); // true
 * ```
 */
export function isBadgeFromRoom(msg: Message, room: number | string): boolean {
  return typeof msg.bnn === "string" && msg.bnn !== "" && msg.brid === String(room);
}

/** A user described in normalised form by {@linkcode userOf}. */
export interface User {
  /** User id. */
  id: number | undefined;
  /** Nickname (`""` when absent). */
  name: string;
  /** User level. */
  level: number | undefined;
  /** Noble level, 0 when none. */
  nobleLevel: number;
  /** Fan badge, when the user wears one. */
  badge: { name: string; level: number | undefined; room: number | undefined } | undefined;
  /** Avatar URL, when known. */
  avatar: string | undefined;
  /** Room admin (`rg` 4). */
  isRoomAdmin: boolean;
  /** Platform super admin (`pg` 5). */
  isSuperAdmin: boolean;
}

/**
 * The sender of a message in normalised, typed form. The wire fields stay
 * on the message; this is a view on top.
 *
 * @example
 * ```ts
 * import { parseMessage, userOf } from "@x/douyu";
 *
 * const user = userOf(parseMessage("type@=chatmsg/uid@=7/nn@=Ann/level@=12/bnn@=fan/bl@=3/brid@=9/"));
 * console.log(user.name, user.level, user.badge); // "Ann" 12 { name: "fan", level: 3, room: 9 }
 * ```
 */
export function userOf(msg: Message): User {
  const m = msg as UserFields;
  const icon = m.ic ?? (msg as NobleFields).uic;
  return {
    id: toNumber(m.uid),
    name: m.nn ?? (msg as NobleFields).unk ?? "",
    level: toNumber(m.level),
    nobleLevel: toNumber(m.nl) ?? 0,
    badge: m.bnn ? { name: m.bnn, level: toNumber(m.bl), room: toNumber(m.brid) } : undefined,
    avatar: icon ? avatarUrl(icon) : undefined,
    isRoomAdmin: m.rg === "4",
    isSuperAdmin: m.pg === "5",
  };
}

/** A paid super chat, as extracted by {@linkcode superChatOf}. */
export interface SuperChat {
  /** Sender nickname. */
  name: string;
  /** Sender id. */
  uid: number | undefined;
  /** The text. */
  text: string;
  /** Price in yuan. */
  price: number;
  /** Seconds it stays on screen. */
  seconds: number;
  /** Kind of super chat, e.g. `voiceDanmu`. */
  kind: string;
}

/**
 * The super chat in a `comm_chatmsg`, or `undefined` when it is another kind
 * of notice: a super chat has a price and a display time above zero.
 *
 * @example
 * ```ts
 * import { parseMessage, superChatOf } from "@x/douyu";
 *
 * const msg = parseMessage(
 *   "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=1000/cet@=30/chatmsg@=nn@A=Ann@Stxt@A=hi@S/",
 * );
 * console.log(superChatOf(msg)); // { name: "Ann", uid: undefined, text: "hi", price: 10, seconds: 30, kind: "voiceDanmu" }
 * ```
 */
export function superChatOf(msg: Message): SuperChat | undefined {
  if (msg.type !== "comm_chatmsg") return undefined;
  const m = msg as CommChatMessage;
  const cents = toNumber(ownString(m, "cprice")) ?? toNumber(ownString(m, "crealPrice")) ?? 0;
  const seconds = toNumber(ownString(m, "cet")) ?? 0;
  if (cents <= 0 || seconds <= 0) return undefined;
  // Fields as strings only: a stored or imported message may hold anything where they go.
  const inner = ownField(m, "chatmsg");
  const chat = typeof inner === "object" && inner !== null ? inner : {};
  return {
    name: ownString(chat, "nn") ?? "",
    uid: toNumber(ownString(chat, "uid") ?? ownString(m, "uid")),
    text: ownString(chat, "txt") ?? "",
    price: cents / 100,
    seconds,
    kind: ownString(m, "btype") ?? "",
  };
}
