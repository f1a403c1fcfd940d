/**
 * Shared by the statistics tests and the bench: a priced stream generated
 * from the real capture (gifts valued as an archiver priced them, super
 * chats, `spbc` broadcasts with a value, the stream going live and offline,
 * a gap), and the statistics computed the slow way, from every message, to
 * compare the roll-ups' answer with.
 */
import { MINUTE_MS, type RoomStats, TOP } from "../../src/archive/stats.ts";
import { toRow } from "../../src/archive/rows.ts";
import type { TimedMessage, TimedStatus } from "../../src/archive/timed.ts";
import type { GiftDetails } from "../../src/protocol/gifts.ts";
import { parseMessage } from "../../src/protocol/messages.ts";
import { escapeStt } from "../../src/protocol/stt.ts";
import { seededRandom } from "../fixtures.ts";
import { type CorpusSource, generate } from "./corpus.ts";

/** Unit prices in fen, by gift id's remainder: free, cheap, mid, dear. */
const PRICES = [0, 10, 100, 600, 10_000, 50_000];
const NAMES = ["鱼丸", "荧光棒", "赞", "办卡", "飞机", "火箭"];

/** A gift as an archiver priced it when it arrived. */
function priced(id: string, count: number): GiftDetails {
  const k = Number(id) % PRICES.length;
  const unit = PRICES[Number.isFinite(k) ? k : 0]!;
  return {
    kind: "gift",
    id,
    prop: false,
    name: NAMES[Number.isFinite(k) ? k : 0]!,
    count,
    unitPriceFen: unit,
    unitPrice: unit / 100,
    valueFen: unit * count,
    value: (unit * count) / 100,
    paid: unit > 0,
    icon: undefined,
  };
}

/** What to generate. */
export interface StreamOptions {
  messages: number;
  /** The first message's time, ms. */
  start: number;
  hours: number;
  rooms?: number;
  seed?: number;
  /** Distinct users per room. */
  users?: number;
}

/**
 * A stream: corpus messages (gifts priced), a super chat every ~400
 * messages, the stream live at the start, offline in its middle fifth,
 * and a gap (disconnected, then connected) of five minutes.
 */
export function* pricedStream(
  source: CorpusSource,
  options: StreamOptions,
): Generator<TimedMessage> {
  const random = seededRandom(options.seed ?? 3);
  const span = options.hours * 3_600_000;
  const rooms = options.rooms ?? 1;
  const room = 1001;
  yield { t: options.start, room, message: parseMessage(`type@=rss/rid@=${room}/ss@=1/`) };
  let offline = false;
  let online = false;
  for (
    const item of generate(source, {
      messages: options.messages,
      rooms,
      days: span / 86_400_000,
      start: options.start + 1,
      users: options.users ?? 2000,
      seed: options.seed ?? 3,
    })
  ) {
    const at = (item.t - options.start) / span;
    if (!offline && at >= 0.4) {
      offline = true;
      yield { t: item.t, room, message: parseMessage(`type@=rss/rid@=${room}/ss@=0/`) };
    }
    if (!online && at >= 0.6) {
      online = true;
      yield { t: item.t, room, message: parseMessage(`type@=rss/rid@=${room}/ss@=1/`) };
    }
    const message = item.message as Record<string, string>;
    if (message.type === "dgb" || message.type === "spbc") {
      const id = message.gfid ?? "0";
      const count = Number(message.type === "dgb" ? message.gfcnt ?? 1 : message.gc ?? 1) || 1;
      yield { t: item.t, room: item.room, message: item.message, gift: priced(id, count) };
    } else {
      yield { t: item.t, room: item.room, message: item.message };
    }
    if (random() < 1 / 400) {
      const uid = 500 + Math.floor(random() * 20);
      const fen = [3000, 5000, 10_000][Math.floor(random() * 3)]!;
      const chat = `nn@A=${escapeStt(`超级${uid}`)}@Suid@A=${uid}@Stxt@A=加油@S`;
      yield {
        t: item.t,
        room: item.room,
        message: parseMessage(
          `type@=comm_chatmsg/rid@=${item.room}/btype@=voiceDanmu/cprice@=${fen}/cet@=60/chatmsg@=${
            escapeStt(chat)
          }/`,
        ),
      };
    }
  }
}

/** The gap of a stream: five minutes from 30% of its span. */
export function streamStatuses(options: StreamOptions): TimedStatus[] {
  const from = options.start + Math.floor(options.hours * 3_600_000 * 0.3);
  return [
    { t: options.start, room: 1001, status: "started" },
    { t: from, room: 1001, status: "disconnected", detail: "read ECONNRESET" },
    { t: from + 5 * MINUTE_MS, room: 1001, status: "connected" },
  ];
}

const REVENUE = new Set(["dgb", "gdp", "comm_chatmsg"]);

/**
 * The statistics of `[since, until)` (whole minutes) from every message:
 * what the roll-ups must give.
 */
export function referenceStats(
  items: readonly TimedMessage[],
  room: number,
  since: number,
  until: number,
): RoomStats {
  const first = since / MINUTE_MS;
  const count = (until - since) / MINUTE_MS;
  const perMinute = Array.from(
    { length: count },
    (_, i) => ({ t: (first + i) * MINUTE_MS, chat: 0, gifts: 0, fen: 0 }),
  );
  const messages: Record<string, number> = {};
  const users = new Map<
    number,
    { name: string | null; chats: number; gifts: number; fen: number }
  >();
  const gifts = new Map<string, { name: string | null; items: number; fen: number }>();
  let total = 0;
  const superChats = { count: 0, fen: 0 };
  for (const item of items) {
    if (item.room !== room || item.t < since || item.t >= until) continue;
    const row = toRow(item);
    const minute = perMinute[Math.floor(item.t / MINUTE_MS) - first]!;
    messages[row.type] = (messages[row.type] ?? 0) + 1;
    const user = row.uid === null ? undefined : users.get(row.uid) ??
      users.set(row.uid, { name: null, chats: 0, gifts: 0, fen: 0 }).get(row.uid)!;
    if (row.type === "chatmsg") {
      minute.chat++;
      if (user !== undefined) {
        user.chats++;
        user.name = row.name ?? user.name;
      }
    }
    if (!REVENUE.has(row.type) || row.giftCount === null) continue;
    const fen = row.giftValue ?? 0;
    minute.gifts += row.giftCount;
    minute.fen += fen;
    total += fen;
    if (user !== undefined) {
      user.gifts++;
      user.fen += fen;
      user.name = row.name ?? user.name;
    }
    const id = row.giftId ?? "superchat";
    const gift = gifts.get(id) ?? gifts.set(id, { name: null, items: 0, fen: 0 }).get(id)!;
    gift.name = row.giftName ?? gift.name;
    gift.items += row.giftCount;
    gift.fen += fen;
    if (row.type === "comm_chatmsg") {
      superChats.count += row.giftCount;
      superChats.fen += fen;
    }
  }
  const everyone = [...users].map(([uid, user]) => ({ uid, ...user }));
  return {
    room,
    since,
    until,
    messages: Object.fromEntries(Object.entries(messages).sort(([a], [b]) => (a < b ? -1 : 1))),
    chatters: everyone.filter((user) => user.chats > 0).length,
    perMinute: perMinute.map(({ t, chat, gifts, fen }) => ({ t, chat, gifts, value: fen / 100 })),
    topChatters: everyone.filter((user) => user.chats > 0)
      .sort((a, b) => b.chats - a.chats || a.uid - b.uid).slice(0, TOP)
      .map((user) => ({ uid: user.uid, name: user.name, count: user.chats })),
    topGifters: everyone.filter((user) => user.gifts > 0)
      .sort((a, b) => b.fen - a.fen || b.gifts - a.gifts || a.uid - b.uid).slice(0, TOP)
      .map((user) => ({
        uid: user.uid,
        name: user.name,
        count: user.gifts,
        value: user.fen / 100,
      })),
    revenue: {
      total: total / 100,
      byGift: [...gifts].filter(([, gift]) => gift.items > 0)
        .sort(([a, x], [b, y]) => y.fen - x.fen || y.items - x.items || (a < b ? -1 : 1))
        .map(([id, gift]) => ({ id, name: gift.name, count: gift.items, value: gift.fen / 100 })),
    },
    superChats: { count: superChats.count, value: superChats.fen / 100 },
  };
}
