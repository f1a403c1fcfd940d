/**
 * The shapes of the Douyu server messages this library knows, one interface
 * per wire `type`, and the field groups they share. Every field keeps its wire
 * name and its string value exactly as `decodeStt` gives it; only fields known
 * to be nested are arrays or maps of the same shape. Which types exist, and
 * parsing a body into one: `./messages.ts`. Field meanings: docs/protocol.md,
 * "Message types".
 *
 * @module
 */

/** A decoded nested map: wire keys to string values. */
export type SttMap = Record<string, string>;

/** One visual effect attached to a user (`el` entries). */
export interface Effect {
  /** Effect id. */
  eid?: string;
  /** Effect type. */
  etp?: string;
  /** Effect count. */
  sc?: string;
  /** Effect flag. */
  ef?: string;
  /** Any other field, as sent. */
  [field: string]: string | undefined;
}

/** Fields describing the user behind a message, shared by many types. */
export interface UserFields {
  /** Room the message belongs to. */
  rid?: string;
  /** Group id. */
  gid?: string;
  /** User id. */
  uid?: string;
  /** Nickname. */
  nn?: string;
  /** User level. */
  level?: string;
  /** Avatar path; see {@linkcode avatarUrl}. */
  ic?: string;
  /** Noble level (0 = none). */
  nl?: string;
  /** Room role: 4 = room admin. */
  rg?: string;
  /** Platform role: 5 = super admin. */
  pg?: string;
  /** Fan badge name. */
  bnn?: string;
  /** Fan badge level. */
  bl?: string;
  /** Room the fan badge belongs to (often not `rid`). */
  brid?: string;
}

/** `chatmsg`: a chat message (barrage). */
export interface ChatMessage extends UserFields {
  /** Message type. */
  type: "chatmsg";
  /** The text. */
  txt?: string;
  /** Unique message id. */
  cid?: string;
  /** Colour: 1 ff0000, 2 1e87f0, 3 7ac84b, 4 ff7f00, 5 9b39f4, 6 ff69b4. */
  col?: string;
  /** Client send time, ms since the epoch. */
  cst?: string;
  /** Client type. */
  ct?: string;
  /** Present for real clients; absent for most bots. */
  dms?: string;
  /** Visual effects. */
  el?: Effect[];
  /** Badge/medal ids, when sent. */
  ail?: string[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `uenter`: a user enters the room. */
export interface UserEnterMessage extends UserFields {
  /** Message type. */
  type: "uenter";
  /** Visual effects. */
  el?: Effect[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `dgb`: a gift. */
export interface GiftMessage extends UserFields {
  /** Message type. */
  type: "dgb";
  /** Gift id. */
  gfid?: string;
  /** Gift name, when the server includes it. */
  gfn?: string;
  /** Number of gifts in this message. */
  gfcnt?: string;
  /** Combo count. */
  hits?: string;
  /** Receiver uid in multi-host rooms. */
  receive_uid?: string;
  /** Receiver nickname in multi-host rooms. */
  receive_nn?: string;
  /** Visual effects. */
  el?: Effect[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `gdp`: a gift in this room, with its name. */
export interface GiftNamedMessage extends UserFields {
  /** Message type. */
  type: "gdp";
  /** Gift name. */
  gfn?: string;
  /** Count. */
  gfcnt?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `spbc`: a big-gift broadcast (rockets, planes…), often for another room. */
export interface GiftBroadcastMessage {
  /** Message type. */
  type: "spbc";
  /** Room of the broadcast (0 for platform-wide). */
  rid?: string;
  /** Sender nickname. */
  sn?: string;
  /** Receiver (host) nickname. */
  dn?: string;
  /** Gift name. */
  gn?: string;
  /** Gift count. */
  gc?: string;
  /** Room where the gift was sent. */
  drid?: string;
  /** Gift id. */
  gfid?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `ssd`: a super barrage. */
export interface SuperBarrageMessage {
  /** Message type. */
  type: "ssd";
  /** Room. */
  rid?: string;
  /** Super barrage id. */
  sdid?: string;
  /** Room it links to. */
  trid?: string;
  /** The text. */
  content?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `rss`: the stream started or stopped. */
export interface LiveStatusMessage {
  /** Message type. */
  type: "rss";
  /** Room. */
  rid?: string;
  /** 1 live, 0 off. */
  ss?: string;
  /** 1 = a replay loop, not really live. */
  ivl?: string;
  /** Status code. */
  code?: string;
  /** Start time, seconds. */
  rt?: string;
  /** End time, seconds. */
  endtime?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `bc_buy_deserve`: a "deserve" purchase. */
export interface DeserveMessage {
  /** Message type. */
  type: "bc_buy_deserve";
  /** Room. */
  rid?: string;
  /** Buyer's user level. */
  level?: string;
  /** Deserve level bought. */
  lev?: string;
  /** Count. */
  cnt?: string;
  /** Combo count. */
  hits?: string;
  /** Buyer id. */
  sid?: string;
  /** The buyer: `id`, `name`, `nick`, `icon`, `level`, … */
  sui?: SttMap;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `rankup`: a user moved up a ranking. */
export interface RankUpMessage {
  /** Message type. */
  type: "rankup";
  /** Room. */
  rid?: string;
  /** Room of the ranking. */
  drid?: string;
  /** User id. */
  uid?: string;
  /** Nickname. */
  nk?: string;
  /** Ranking type. */
  rkt?: string;
  /** New rank. */
  rn?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** One entry of a contribution ranking. */
export interface RankEntry {
  /** User id. */
  uid?: string;
  /** Nickname. */
  nickname?: string;
  /** Contribution. */
  gold?: string;
  /** Current rank. */
  crk?: string;
  /** Last rank. */
  lrk?: string;
  /** User level. */
  level?: string;
  /** Avatar path. */
  icon?: string;
  /** Badge ids, when sent. */
  ail?: string[];
  /** Any other field, as sent. */
  [field: string]: string | string[] | undefined;
}

/** `ranklist`: the room's contribution rankings. */
export interface RankListMessage {
  /** Message type. */
  type: "ranklist";
  /** Room. */
  rid?: string;
  /** Weekly ranking. */
  list?: RankEntry[];
  /** All-time ranking. */
  list_all?: RankEntry[];
  /** Daily ranking. */
  list_day?: RankEntry[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `upgrade`: a user's level went up. */
export interface UpgradeMessage extends UserFields {
  /** Message type. */
  type: "upgrade";
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `blab`: a user's fan badge levelled up. */
export interface BadgeUpgradeMessage extends UserFields {
  /** Message type. */
  type: "blab";
  /** Previous badge level. */
  lbl?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `newblackres`: a user was muted or banned. */
export interface BanMessage {
  /** Message type. */
  type: "newblackres";
  /** Room. */
  rid?: string;
  /** Operator kind: 0 user, 1 admin, 2 host, 3 super admin. */
  otype?: string;
  /** Operator id. */
  sid?: string;
  /** Operator nickname. */
  snic?: string;
  /** Target id. */
  did?: string;
  /** Target nickname. */
  dnic?: string;
  /** When the ban ends, seconds. */
  endtime?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** One entry of a fan-club ranking. */
export interface FanRankEntry {
  /** User id. */
  uid?: string;
  /** Nickname. */
  nn?: string;
  /** Avatar path. */
  ic?: string;
  /** Intimacy. */
  fim?: string;
  /** Badge level. */
  bl?: string;
  /** Any other field, as sent. */
  [field: string]: string | undefined;
}

/** `frank`: the fan-club ranking. */
export interface FanRankMessage {
  /** Message type. */
  type: "frank";
  /** Fan count. */
  fc?: string;
  /** Badge name. */
  bnn?: string;
  /** Entries. */
  list?: FanRankEntry[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `fswrank`: the fan-club ranking changed. */
export interface FanRankChangeMessage {
  /** Message type. */
  type: "fswrank";
  /** Badge name. */
  bnn?: string;
  /** Entries. */
  list?: FanRankEntry[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** Fields of `anbc` and `rnewbc`. */
export interface NobleFields {
  /** Room (0 for platform-wide). */
  rid?: string;
  /** User id. */
  uid?: string;
  /** Nickname. */
  unk?: string;
  /** Avatar path. */
  uic?: string;
  /** Noble level. */
  nl?: string;
  /** Room where it happened. */
  drid?: string;
  /** That room's host nickname. */
  donk?: string;
}

/** `anbc`: a user opened a noble rank. */
export interface NobleOpenMessage extends NobleFields {
  /** Message type. */
  type: "anbc";
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `rnewbc`: a user renewed a noble rank. */
export interface NobleRenewMessage extends NobleFields {
  /** Message type. */
  type: "rnewbc";
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** The chat carried inside `comm_chatmsg`. */
export interface NestedChat extends UserFields {
  /** Usually `chatmsg`. */
  type?: string;
  /** The text. */
  txt?: string;
  /** Badge ids. */
  ail?: string[];
  /** Visual effects. */
  el?: Effect[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `comm_chatmsg`: paid super chats and other notices. */
export interface CommChatMessage {
  /** Message type. */
  type: "comm_chatmsg";
  /** Room. */
  rid?: string;
  /** Sender id. */
  uid?: string;
  /** Kind of notice, e.g. `voiceDanmu`. */
  btype?: string;
  /** The chat itself. */
  chatmsg?: NestedChat;
  /** Price in cents. */
  cprice?: string;
  /** Price actually paid, in cents. */
  crealPrice?: string;
  /** Seconds shown on screen. */
  cet?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `noble_num_info`: how many nobles are in the room. */
export interface NobleCountMessage {
  /** Message type. */
  type: "noble_num_info";
  /** Room. */
  rid?: string;
  /** Total. */
  sum?: string;
  /** Version counter. */
  vn?: string;
  /** Count per noble level: `{ lev, num }`. */
  list?: SttMap[];
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `loginres`: the server accepted the login. */
export interface LoginResponseMessage {
  /** Message type. */
  type: "loginres";
  /** User id (0 when anonymous). */
  userid?: string;
  /** Live status at login. */
  live_stat?: string;
  /** Server id. */
  sid?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `pingreq`: a server ping; clients ignore it. */
export interface PingRequestMessage {
  /** Message type. */
  type: "pingreq";
  /** Server time, ms. */
  tick?: string;
  /** Any other field, as sent. */
  [field: string]: unknown;
}

/** `mrkl`: the server's heartbeat reply. */
export interface HeartbeatMessage {
  /** Message type. */
  type: "mrkl";
  /** Any other field, as sent. */
  [field: string]: unknown;
}
