/**
 * What `douyu overlay --demo` plays: the sample room, looping, dressed for
 * styling work. Each pass is the sample recording with its live-status lines
 * left out (but the first "went live"), a different super chat (so no pin is
 * repeated), and a few extra lines: gifts of every value tier and the host's
 * own chat. Avatars and gift icons come from a local stand-in
 * ({@linkcode startDemoAssets}): little drawings made here, so the demo
 * shows them without asking Douyu's image hosts.
 *
 * @module
 */

import { createServer, type IncomingMessage, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { sleep } from "../base/timers.ts";
import { watchConnections } from "../overlay/connections.ts";
import { hostName, isLoopbackName } from "../base/guard.ts";
import { GiftCatalog, type GiftEntry } from "../protocol/gifts.ts";
import type { RecordLine } from "../protocol/record.ts";
import { encodeStt, peekType, type SttValue } from "../protocol/stt.ts";
import { SAMPLE_ROOM, sampleGiftList, sampleRecording } from "../testing/sample.ts";

/**
 * The stand-in for Douyu's image hosts: its base URL and how to stop it.
 *
 * @example
 * ```ts
 * import { startDemoAssets } from "./overlay_demo.ts";
 *
 * const assets = await startDemoAssets();
 * const icon = await fetch(`${assets.base}/gift/824.svg`);
 * console.log(icon.headers.get("content-type"), (await icon.text()).startsWith("<svg")); // image/svg+xml true
 * await assets.close();
 * ```
 */
export interface DemoAssets {
  /** `http://127.0.0.1:<port>`: avatars are under `/upload/`, gift icons under `/gift/`. */
  base: string;
  /** Stops the server. */
  close(): Promise<void>;
}

/** Gifts the demo sends besides the sample's, so every value tier shows (prices in fen). */
const EXTRA_GIFTS: ReadonlyArray<{ id: number; name: string; price: number }> = [
  { id: 20101, name: "魔法指环", price: 2000 },
  { id: 20102, name: "办卡", price: 600 },
];

/**
 * Starts the stand-in on a free 127.0.0.1 port: `/upload/<path>_small.jpg`
 * answers a drawn avatar (an SVG, its colours from the path), and
 * `/gift/<id>.svg` a drawn gift icon.
 *
 * @returns The running stand-in.
 */
export async function startDemoAssets(): Promise<DemoAssets> {
  const lifetime = new AbortController();
  const server = createServer((req, res) => answerAsset(req, res));
  watchConnections(server, {
    headerTimeout: 10_000,
    idleTimeout: 5_000,
    maxConnections: 64,
  }, lifetime.signal);
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      server.off("error", reject);
      resolve();
    });
  });
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    base,
    async close() {
      lifetime.abort();
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections?.();
      await closed;
    },
  };
}

function answerAsset(req: IncomingMessage, res: ServerResponse): void {
  const name = hostName(req.headers.host ?? "");
  const path = (req.url ?? "").split("?")[0]!;
  const avatar = /^\/upload\/([A-Za-z0-9_./-]{1,200})_small\.jpg$/.exec(path);
  const gift = /^\/gift\/(\d{1,12})\.svg$/.exec(path);
  const svg = req.method !== "GET" && req.method !== "HEAD"
    ? undefined
    : avatar
    ? avatarSvg(avatar[1]!)
    : gift
    ? giftSvg(gift[1]!)
    : undefined;
  if (name === undefined || !isLoopbackName(name) || svg === undefined) {
    res.writeHead(name === undefined || !isLoopbackName(name) ? 421 : 404, {
      "content-type": "text/plain; charset=utf-8",
      connection: "close",
    });
    res.end("no such picture\n");
    return;
  }
  res.writeHead(200, {
    "content-type": "image/svg+xml",
    "content-security-policy": "default-src 'none'; style-src 'unsafe-inline'",
    "x-content-type-options": "nosniff",
    "cache-control": "max-age=3600",
  });
  res.end(req.method === "HEAD" ? undefined : svg);
}

/** A small hash of a text, for colours that stay the same for one avatar. */
function hash(text: string): number {
  let h = 2166136261;
  for (let i = 0; i < text.length; i++) h = Math.imul(h ^ text.charCodeAt(i), 16777619);
  return h >>> 0;
}

/** A round face on a coloured disc: the hue, the eyes and the mouth follow the avatar path. */
function avatarSvg(path: string): string {
  const h = hash(path);
  const hue = h % 360;
  const eye = 3 + (h >>> 9) % 3;
  const smile = 6 + (h >>> 12) % 6;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">` +
    `<circle cx="32" cy="32" r="32" fill="hsl(${hue} 70% 45%)"/>` +
    `<circle cx="32" cy="36" r="20" fill="hsl(${(hue + 40) % 360} 85% 80%)"/>` +
    `<circle cx="25" cy="32" r="${eye}" fill="#222"/><circle cx="39" cy="32" r="${eye}" fill="#222"/>` +
    `<path d="M${32 - smile} 42 Q32 ${44 + smile / 2} ${32 + smile} 42" stroke="#222" ` +
    `stroke-width="3" fill="none" stroke-linecap="round"/></svg>`;
}

const GIFT_ART: Readonly<Record<string, string>> = {
  // 荧光棒: a glow stick
  "824":
    `<rect x="27" y="6" width="10" height="52" rx="5" fill="#7CFF6B" transform="rotate(35 32 32)"/>` +
    `<rect x="29" y="8" width="4" height="46" rx="2" fill="#E8FFE0" transform="rotate(35 32 32)"/>`,
  // 飞机: a plane
  "20008": `<path d="M6 34 L58 18 L50 28 L30 34 L50 40 L58 50 Z" fill="#5EC8FF"/>` +
    `<path d="M22 34 L14 22 L20 22 L32 32 Z M22 34 L14 46 L20 46 L32 36 Z" fill="#2B8FD6"/>`,
  // 火箭: a rocket
  "21196": `<path d="M32 4 C44 14 46 30 40 46 L24 46 C18 30 20 14 32 4 Z" fill="#FF5A5A"/>` +
    `<circle cx="32" cy="24" r="6" fill="#FFF3C4"/><path d="M24 46 L18 58 L28 50 Z M40 46 L46 58 L36 50 Z" fill="#FFB13B"/>` +
    `<path d="M28 48 L32 62 L36 48 Z" fill="#FFD23B"/>`,
  // 魔法指环: a ring with a gem
  "20101": `<circle cx="32" cy="38" r="18" fill="none" stroke="#FFC940" stroke-width="7"/>` +
    `<path d="M32 6 L42 16 L32 26 L22 16 Z" fill="#B86BFF"/>`,
  // 办卡: a card
  "20102": `<rect x="8" y="16" width="48" height="32" rx="5" fill="#FF8FB1"/>` +
    `<rect x="8" y="22" width="48" height="6" fill="#C2456F"/><rect x="14" y="36" width="18" height="5" rx="2" fill="#fff"/>`,
};

/** A gift's icon: its drawing, or a wrapped present for a gift without one. */
function giftSvg(id: string): string {
  const art = GIFT_ART[id] ??
    `<rect x="10" y="24" width="44" height="32" rx="4" fill="#FF7A59"/>` +
      `<rect x="6" y="16" width="52" height="12" rx="3" fill="#FF9E80"/>` +
      `<rect x="29" y="16" width="6" height="40" fill="#FFE08A"/>`;
  return `<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 64 64">${art}</svg>`;
}

/**
 * The sample room's gift list and the demo's extra gifts as a catalogue,
 * with icons on the stand-in, so the demo shows names, values and icons
 * offline.
 *
 * @param iconBase The stand-in's base URL.
 * @returns The catalogue.
 *
 * @example
 * ```ts
 * import { demoCatalog } from "./overlay_demo.ts";
 *
 * const catalog = demoCatalog("http://127.0.0.1:9");
 * console.log(catalog.get(824)?.icon); // "http://127.0.0.1:9/gift/824.svg"
 * ```
 */
export function demoCatalog(iconBase: string): GiftCatalog {
  const list = JSON.parse(sampleGiftList()).data.giftList as {
    id: number;
    name: string;
    priceInfo: { price: number; priceType: string };
  }[];
  const gifts: GiftEntry[] = [
    ...list.map((gift) => ({
      id: String(gift.id),
      name: gift.name,
      price: gift.priceInfo.price,
      priceType: gift.priceInfo.priceType,
      paid: gift.priceInfo.priceType === "YUCHI",
    })),
    ...EXTRA_GIFTS.map((gift) => ({
      id: String(gift.id),
      name: gift.name,
      price: gift.price,
      priceType: "YUCHI",
      paid: true,
    })),
  ].map((gift) => ({ ...gift, icon: `${iconBase}/gift/${gift.id}.svg`, source: "room" as const }));
  return new GiftCatalog({ roomId: SAMPLE_ROOM, gifts });
}

/** The super chat of each pass, in turn: every price tier, never the same one twice in a row. */
const SUPER_CHATS: ReadonlyArray<{ uid: number; nn: string; txt: string; yuan: number }> = [
  { uid: 40005, nn: "Morning_Dew", txt: "加油！今晚冲一波", yuan: 30 },
  { uid: 40021, nn: "深海鱼", txt: "主播唱一首《晴天》吧", yuan: 50 },
  { uid: 40022, nn: "Neon_Fox", txt: "GG, best stream this week!", yuan: 100 },
  { uid: 40023, nn: "团子", txt: "生日快乐🎂", yuan: 10 },
  { uid: 40024, nn: "夜航船", txt: "下把一定赢", yuan: 500 },
  { uid: 40025, nn: "月光宝盒", txt: "全场我买单", yuan: 1000 },
];

/** How long each pass's super chat stays pinned: a little longer than a pass. */
const PIN_SECONDS = 25;

/**
 * The demo room's messages, one pass at a time: give it to the mock server
 * as its `messages` (with `loop`); each call is the next pass, in its own
 * time.
 *
 * @param signal Stops the waiting between messages (and the pass).
 * @param timed Wait for each message's time (default); `false` gives a pass at once.
 * @returns A function that returns the next pass.
 *
 * @example
 * ```ts
 * import { demoPasses } from "./overlay_demo.ts";
 *
 * const next = demoPasses(new AbortController().signal, false);
 * let types = "";
 * for await (const body of next()) types += body.slice(7, 10) + " ";
 * console.log(types.startsWith("rss")); // true: the first pass goes live
 * ```
 */
export function demoPasses(signal: AbortSignal, timed = true): () => AsyncGenerator<string> {
  let pass = 0;
  return () => demoPass(pass++, signal, timed);
}

async function* demoPass(
  pass: number,
  signal: AbortSignal,
  timed: boolean,
): AsyncGenerator<string> {
  const start = Date.now();
  // Each pass gives its chat new ids (`cid`), so the page shows every pass
  // rather than taking the next one for a repeat of the first.
  const salt = (Math.floor(start / 1000) >>> 0).toString(16).padStart(8, "0");
  const lines: RecordLine[] = [...sampleRecording(start), ...extraLines(pass, start, salt)]
    .sort((a, b) => a.t - b.t);
  for (const line of lines) {
    const body = rewrite(line.body, pass, start);
    if (body === undefined) continue;
    const wait = line.t - Date.now();
    if (timed && wait > 0) await sleep(wait, signal);
    if (signal.aborted) return;
    yield body.replace(/(cid@=[0-9a-f]{24})[0-9a-f]{8}/, `$1${salt}`);
  }
  if (timed) await sleep(1000, signal);
}

/**
 * A sample line as this pass plays it: live-status lines only once (the
 * first "went live"), the super chat replaced by this pass's.
 */
function rewrite(body: string, pass: number, start: number): string | undefined {
  const type = peekType(body);
  if (type === "rss") return pass === 0 && /\/ss@=1\//.test(body) ? body : undefined;
  if (type !== "comm_chatmsg") return body;
  const sc = SUPER_CHATS[pass % SUPER_CHATS.length]!;
  return encodeStt({
    type: "comm_chatmsg",
    btype: "voiceDanmu",
    rid: SAMPLE_ROOM,
    uid: sc.uid,
    cprice: sc.yuan * 100,
    crealPrice: sc.yuan * 100,
    cet: PIN_SECONDS,
    now: start,
    chatmsg: {
      type: "chatmsg",
      rid: SAMPLE_ROOM,
      uid: sc.uid,
      nn: sc.nn,
      txt: sc.txt,
      level: 30 + (pass % 20),
      ic: `avatar_v3/202405/${sc.uid.toString(16)}c0ffee`,
      nl: pass % 7 + 1,
    },
  });
}

/** Lines the demo adds to each pass: gifts of every value tier, and the host thanking them. */
function extraLines(pass: number, start: number, salt: string): RecordLine[] {
  const at = (seconds: number, fields: Record<string, SttValue>): RecordLine => ({
    t: start + Math.round(seconds * 1000),
    body: encodeStt({ rid: SAMPLE_ROOM, ...fields }),
  });
  const gift = (uid: number, nn: string, gfid: number, extra: Record<string, SttValue> = {}) => ({
    type: "dgb",
    uid,
    nn,
    gfid,
    gfcnt: 1,
    hits: 1,
    level: 20,
    ic: `avatar_v3/202402/${uid.toString(16)}a1b2c3`,
    ...extra,
  });
  const lines = [
    at(6.8, gift(40031, "魔法少女", 20101, { bnn: "鱼塘", bl: 17, brid: SAMPLE_ROOM })),
    at(10.1, gift(40032, "阿狸", 20102)),
    at(12.9, {
      type: "chatmsg",
      uid: 40000,
      nn: "样例主播",
      txt: "谢谢大家的礼物！",
      cid: `${(40000 + pass).toString(16).padStart(8, "0")}0000000000000000${salt}`,
      level: 60,
      rg: 5,
      ic: "avatar_v3/202401/9c40owner",
      dms: 5,
    }),
  ];
  if (pass % 2 === 1) {
    lines.push(at(15.5, gift(40033, "星河漫步", 21196, { nl: 6 })));
  }
  return lines;
}
