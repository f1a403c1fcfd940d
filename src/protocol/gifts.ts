/**
 * What a gift message is worth: a room's gift catalogue ({@linkcode GiftCatalog},
 * entries by id) and {@linkcode giftOf}, which reads a gift or super chat
 * message against it: name, count, unit price, total value and icon.
 *
 * Pure: nothing here fetches. `web/gifts.ts` fetches and caches catalogues
 * from Douyu's web endpoints; a catalogue can also be built from your own
 * entries, or from prices stored with an archive.
 *
 * @module
 */

import { ownString } from "../base/fields.ts";
import { type Message, superChatOf, toNumber } from "./messages.ts";

/**
 * One gift or prop of a catalogue. Prices are integers in hundredths of
 * their currency, as Douyu lists them: fen (1/100 yuan) for paid gifts
 * (`YUCHI`, 鱼翅, 1 鱼翅 = 1 yuan) and props, hundredths of a fish ball for
 * free gifts (`YUWAN`, 鱼丸, which cost no money).
 *
 * @example
 * ```ts
 * import type { GiftEntry } from "@x/douyu";
 *
 * const rocket: GiftEntry = { id: "20004", name: "火箭", price: 50000, priceType: "YUCHI", paid: true, source: "room" };
 * console.log(`${rocket.name}: ¥${(rocket.price! / 100).toFixed(2)}`); // "火箭: ¥500.00"
 * ```
 */
export interface GiftEntry {
  /** Gift id, as a `dgb` message's `gfid` names it (decimal digits). */
  id: string;
  /** Name, exactly as listed; absent when the entry had no usable one. */
  name?: string;
  /** Listed price in hundredths of its currency (see above); absent when not listed. */
  price?: number;
  /** `priceInfo.priceType` as listed (`YUCHI`, `YUWAN`, …); absent for props. */
  priceType?: string;
  /** `true` for `YUCHI` (paid with money), `false` for `YUWAN` (free); absent when unknown. */
  paid?: boolean;
  /** Icon URL (absolute `http(s)`), when listed. */
  icon?: string;
  /** Where it came from: the room's gift list, or the platform's props config. */
  source: "room" | "props";
}

/**
 * What a {@linkcode GiftCatalog} is built from.
 *
 * @example
 * ```ts
 * import { GiftCatalog, type GiftCatalogInit } from "@x/douyu";
 *
 * const init: GiftCatalogInit = { roomId: 9999, gifts: [{ id: "1", name: "a", source: "room" }] };
 * console.log(new GiftCatalog(init).size); // 1
 * ```
 */
export interface GiftCatalogInit {
  /** The room the gift list belongs to. */
  roomId: number;
  /**
   * The room's gifts (`source: "room"`). A `Map` from id to entry is used as
   * it is, not copied: do not change it afterwards.
   */
  gifts?: Iterable<GiftEntry> | ReadonlyMap<string, GiftEntry>;
  /** The platform's props, consulted for ids the room's list lacks. A `Map` is used as it is. */
  props?: Iterable<GiftEntry> | ReadonlyMap<string, GiftEntry>;
  /** When it was fetched, ms since the epoch. Default now. */
  fetchedAt?: number;
  /** One line per source that failed, e.g. `props config: HTTP 500`. Default none. */
  problems?: readonly string[];
}

/**
 * A room's gifts by id: the room's gift list first, then the platform's props
 * config for ids the list lacks (older and backpack items such as 粉丝荧光棒,
 * `gfid` 824). Build one with {@linkcode fetchGiftCatalog} or
 * {@linkcode GiftCatalogCache}, or from your own entries.
 *
 * @example
 * ```ts
 * import { GiftCatalog } from "@x/douyu";
 *
 * const catalog = new GiftCatalog({
 *   roomId: 9999,
 *   gifts: [{ id: "20004", name: "火箭", price: 50000, paid: true, source: "room" }],
 *   props: [{ id: "824", name: "粉丝荧光棒", price: 0, source: "props" }],
 * });
 * console.log(catalog.get(824)?.name, catalog.get("20004")?.price, catalog.get(1)); // "粉丝荧光棒" 50000 undefined
 * ```
 */
export class GiftCatalog {
  /** The room the gift list belongs to. */
  readonly roomId: number;
  /** When it was fetched, ms since the epoch. */
  readonly fetchedAt: number;
  /**
   * One line per source that failed (`gift list: HTTP 500`), empty when both
   * worked. A catalogue with problems is still usable; it just knows less.
   */
  readonly problems: readonly string[];
  readonly #gifts: ReadonlyMap<string, GiftEntry>;
  readonly #props: ReadonlyMap<string, GiftEntry>;

  /**
   * Builds a catalogue from entries.
   *
   * @param init The room, its gifts and the props; see {@linkcode GiftCatalogInit}.
   */
  constructor(init: GiftCatalogInit) {
    this.roomId = init.roomId;
    this.fetchedAt = init.fetchedAt ?? Date.now();
    this.problems = init.problems ?? [];
    this.#gifts = toMap(init.gifts);
    this.#props = toMap(init.props);
  }

  /**
   * The entry for a gift id: the room's list first, then the props.
   *
   * @param id A `gfid`, as a string or number.
   */
  get(id: string | number): GiftEntry | undefined {
    const key = String(id);
    return this.#gifts.get(key) ?? this.#props.get(key);
  }

  /** How many ids it knows (an id in both lists counts twice). */
  get size(): number {
    return this.#gifts.size + this.#props.size;
  }

  /** Every entry: the room's gifts, then the props. */
  *entries(): IterableIterator<GiftEntry> {
    yield* this.#gifts.values();
    yield* this.#props.values();
  }
}

function toMap(
  entries: Iterable<GiftEntry> | ReadonlyMap<string, GiftEntry> | undefined,
): ReadonlyMap<string, GiftEntry> {
  if (entries === undefined) return new Map();
  if (entries instanceof Map) return entries;
  const map = new Map<string, GiftEntry>();
  for (const entry of entries as Iterable<GiftEntry>) {
    if (!map.has(entry.id)) map.set(entry.id, entry);
  }
  return map;
}

/**
 * What {@linkcode giftOf} reads from a gift message. Prices are in fen (1/100
 * yuan) and in yuan; a free gift (`YUWAN`) is worth 0. Any field the message
 * and the catalogue cannot tell is `undefined`.
 *
 * @example
 * ```ts
 * import type { GiftDetails } from "@x/douyu";
 *
 * const show = (g: GiftDetails) =>
 *   `${g.name ?? `gift #${g.id}`} x${g.count}${g.value !== undefined ? ` (¥${g.value.toFixed(2)})` : ""}`;
 * console.log(show({
 *   kind: "gift", id: "20004", prop: false, name: "火箭", count: 1, unitPriceFen: 50000,
 *   unitPrice: 500, valueFen: 50000, value: 500, paid: true, icon: undefined,
 * })); // "火箭 x1 (¥500.00)"
 * ```
 */
export interface GiftDetails {
  /** `"gift"` for `dgb`, `gdp` and `spbc`; `"superchat"` for a paid super chat. */
  kind: "gift" | "superchat";
  /**
   * The gift id (`gfid`), or for a `dgb` with `gfid` 0 the prop id (`pid`);
   * `undefined` for a super chat or when the message names none. Show an
   * unknown gift as `gift #<id>`.
   */
  id: string | undefined;
  /** Whether `id` is a prop id (`pid`, from a `dgb` with `gfid` 0), not a gift id. */
  prop: boolean;
  /** Name: the message's own (`gfn`, `gn`) wins over the catalogue's. Raw: sanitise to display. */
  name: string | undefined;
  /** How many were given (`gfcnt`, `gc`); 1 when the message does not say. */
  count: number;
  /** Money value of one, in fen: the listed price, 0 for a free gift. */
  unitPriceFen: number | undefined;
  /** `unitPriceFen` in yuan. */
  unitPrice: number | undefined;
  /** Money value of the whole message, in fen: `unitPriceFen × count`. */
  valueFen: number | undefined;
  /** `valueFen` in yuan. */
  value: number | undefined;
  /** `true` paid with money, `false` free (fish balls), `undefined` unknown. */
  paid: boolean | undefined;
  /** Icon URL from the catalogue. */
  icon: string | undefined;
}

/**
 * The message types {@linkcode giftOf} finds a gift or a super chat in:
 * every other type has none. A reader that wants only gifts can ask its
 * source for these types alone.
 *
 * @example
 * ```ts
 * import { GIFT_TYPES } from "./gifts.ts";
 *
 * console.log(GIFT_TYPES.has("dgb"), GIFT_TYPES.has("chatmsg")); // true false
 * ```
 */
export const GIFT_TYPES: ReadonlySet<string> = new Set(["dgb", "gdp", "spbc", "comm_chatmsg"]);

/**
 * The gift in a message: its name, count, unit price, total value and icon.
 * Works on `dgb` (gifts), `gdp` (gifts with a name), `spbc` (big-gift
 * broadcasts, often of another room) and paid super chats (`comm_chatmsg`,
 * valued by `cprice` in fen; see `superChatOf`); any other message gives
 * `undefined`.
 *
 * - The name is the message's own (`gfn`, `gn`) when it has one, else the
 *   catalogue's.
 * - A `dgb` with `gfid` 0 is a prop named by `pid`: `id` is the `pid` and
 *   `prop` is true. Such an item is not looked up, since the catalogue is
 *   keyed by gift id and a `pid` of the same number would be another item.
 * - A gift the catalogue does not know (or without a catalogue) still has its
 *   `id` and `count`, with name (unless the message has one), prices, `paid`
 *   and `icon` undefined.
 *
 * @param msg Any message.
 * @param catalog The room's catalogue, if you have one.
 * @returns The gift, or `undefined` for a message that is not a gift.
 *
 * @example
 * ```ts
 * import { GiftCatalog, giftOf, parseMessage } from "@x/douyu";
 *
 * const catalog = new GiftCatalog({
 *   roomId: 9999,
 *   gifts: [{ id: "20004", name: "火箭", price: 50000, priceType: "YUCHI", paid: true, source: "room" }],
 * });
 * const rocket = giftOf(parseMessage("type@=dgb/gfid@=20004/gfcnt@=1/"), catalog);
 * console.log(rocket?.name, rocket?.value, rocket?.paid); // "火箭" 500 true
 *
 * const unknown = giftOf(parseMessage("type@=dgb/gfid@=777/gfcnt@=3/"), catalog);
 * console.log(unknown?.name ?? `gift #${unknown?.id}`, unknown?.value); // "gift #777" undefined
 *
 * const sc = giftOf(parseMessage("type@=comm_chatmsg/btype@=voiceDanmu/cprice@=3000/cet@=60/"));
 * console.log(sc?.kind, sc?.value); // "superchat" 30
 * ```
 */
export function giftOf(msg: Message, catalog?: GiftCatalog): GiftDetails | undefined {
  switch (msg.type) {
    case "dgb":
    case "gdp": {
      const gfid = ownString(msg, "gfid");
      const pid = ownString(msg, "pid");
      // gfid 0 (or none at all) with a pid: a prop, named by its pid.
      const prop = (gfid === undefined || gfid === "0") && pid !== undefined && pid !== "0";
      const id = prop ? pid : gfid;
      return details(
        id,
        prop,
        ownString(msg, "gfn"),
        ownString(msg, "gfcnt"),
        prop ? undefined : catalog,
      );
    }
    case "spbc":
      return details(
        ownString(msg, "gfid"),
        false,
        ownString(msg, "gn"),
        ownString(msg, "gc"),
        catalog,
      );
    case "comm_chatmsg": {
      const sc = superChatOf(msg);
      if (sc === undefined) return undefined;
      const fen = Math.round(sc.price * 100);
      return {
        kind: "superchat",
        id: undefined,
        prop: false,
        name: undefined,
        count: 1,
        unitPriceFen: fen,
        unitPrice: fen / 100,
        valueFen: fen,
        value: fen / 100,
        paid: true,
        icon: undefined,
      };
    }
    default:
      return undefined;
  }
}

/**
 * Whether `id` is a gift id as Douyu gives them (digits): only these are
 * looked up in a catalogue, and rolled up by gift in the archive.
 *
 * @example
 * ```ts
 * import { isGiftId } from "./gifts.ts";
 *
 * console.log(isGiftId("20004"), isGiftId("superchat")); // true false
 * ```
 */
export function isGiftId(id: string): boolean {
  return /^\d{1,16}$/.test(id);
}

function details(
  rawId: string | undefined,
  prop: boolean,
  ownName: string | undefined,
  rawCount: string | undefined,
  catalog: GiftCatalog | undefined,
): GiftDetails {
  const id = rawId === undefined || rawId === "" ? undefined : rawId;
  const entry = id !== undefined && isGiftId(id) ? catalog?.get(id) : undefined;
  const parsedCount = toNumber(rawCount);
  const count = parsedCount !== undefined && Number.isSafeInteger(parsedCount) && parsedCount >= 0
    ? parsedCount
    : 1;
  // A free gift's price is in fish balls, which are not money.
  const unitPriceFen = entry?.paid === false ? 0 : entry?.price;
  const total = unitPriceFen === undefined ? undefined : unitPriceFen * count;
  const valueFen = total !== undefined && Number.isSafeInteger(total) ? total : undefined;
  return {
    kind: "gift",
    id,
    prop,
    name: ownName !== undefined && ownName !== "" ? ownName : entry?.name,
    count,
    unitPriceFen,
    unitPrice: unitPriceFen === undefined ? undefined : unitPriceFen / 100,
    valueFen,
    value: valueFen === undefined ? undefined : valueFen / 100,
    paid: entry?.paid,
    icon: entry?.icon,
  };
}
