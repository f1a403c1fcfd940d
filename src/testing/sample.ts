/**
 * A small synthetic recording of a room, bundled so that `douyu serve`,
 * `deno task demo` and the compiled binary show real output with no network
 * and no file, and so that `@x/douyu/testing` users have a lively room to
 * play. The names, texts and ids are invented; the shapes (field
 * names, order, nesting and escaping) are copied from real traffic in
 * `tests/fixtures/`.
 *
 * @module
 */

import type { RecordedLine } from "./mock_options.ts";
import { encodeStt, type SttValue } from "../protocol/stt.ts";

/**
 * The room id every sample message belongs to.
 *
 * @example
 * ```ts
 * import { SAMPLE_ROOM } from "@x/douyu/testing";
 *
 * console.log(SAMPLE_ROOM); // 9999
 * ```
 */
export const SAMPLE_ROOM = 9999;

/** Another room, for the broadcasts real rooms receive about other rooms. */
const OTHER_ROOM = 52013;

/** 2024-05-01 12:00:00 UTC: when the sample "was recorded", unless told otherwise. */
const T0 = Date.UTC(2024, 4, 1, 12, 0, 0);

type Fields = Record<string, SttValue | undefined>;

/** The fields of a real `chatmsg`, in their real order. */
function chat(
  uid: number,
  nn: string,
  txt: string,
  level: number,
  extra: Fields = {},
): Fields {
  return {
    type: "chatmsg",
    rid: SAMPLE_ROOM,
    ct: 14,
    uid,
    nn,
    txt,
    cid: "", // set from the pass and the line by `line()`
    ic: `avatar_v3/202404/${uid.toString(16)}e1f0c2d3a4b5`,
    level,
    sahf: 0,
    nl: 0,
    col: 0,
    cst: 0, // set from the line's time by `line()`
    bnn: "",
    bl: 0,
    brid: 0,
    hc: "",
    el: "",
    lk: "",
    fl: 0,
    urlev: 0,
    dms: 5,
    pdg: 49,
    pdk: 7,
    ext: "",
    ...extra,
  };
}

function enter(uid: number, nn: string, level: number, effects = false): Fields {
  return {
    type: "uenter",
    rid: SAMPLE_ROOM,
    uid,
    nn,
    level,
    ic: `avatar_v3/202403/${uid.toString(16)}b7c8d9e0f1a2`,
    rni: 0,
    el: effects ? [{ eid: 1500000113, etp: 1, sc: 1, ef: 0 }] : "",
    sahf: 0,
    wgei: 0,
  };
}

function gift(
  uid: number,
  nn: string,
  level: number,
  gfid: number,
  gfn: string | undefined,
  gfcnt: number,
  hits: number,
): Fields {
  return {
    type: "dgb",
    rid: SAMPLE_ROOM,
    gfid,
    gs: 0,
    uid,
    nn,
    ic: `avatar_v3/202402/${uid.toString(16)}a1b2c3d4e5f6`,
    eid: 0,
    eic: 20052,
    level,
    dw: 0,
    gfcnt,
    hits,
    bcnt: hits,
    bst: 2,
    ct: 1,
    el: [{ eid: 1500000113, etp: 1, sc: 1, ef: 0 }],
    cm: 0,
    bnn: "鱼塘",
    bl: 8,
    brid: SAMPLE_ROOM,
    hc: "c0ffee00c0ffee00c0ffee00c0ffee00",
    sahf: 0,
    fc: 0,
    gfn,
  };
}

/** [seconds after `t0`, message]: the script of the sample, starting at `t0` (ms). */
const script = (t0: number): ReadonlyArray<readonly [number, Fields | string]> => [
  [0.0, {
    type: "rss",
    rid: SAMPLE_ROOM,
    gid: 0,
    ss: 1,
    code: 0,
    rt: 0,
    notify: 0,
    endtime: 0,
    ivl: 0,
  }],
  [0.4, enter(40001, "小鱼干", 12)],
  [0.9, chat(40001, "小鱼干", "晚上好！今天播什么？", 12)],
  [1.5, chat(40002, "Lucky_Cat", "first time here, hello everyone", 7, { col: 2 })],
  [2.1, gift(40003, "橘子汽水", 23, 824, "荧光棒", 1, 1)],
  [2.4, gift(40003, "橘子汽水", 23, 824, "荧光棒", 1, 5)],
  [
    3.0,
    {
      type: "noble_num_info",
      sum: 3,
      vn: 118,
      rid: SAMPLE_ROOM,
      list: [{ lev: 1, num: 2 }, { lev: 4, num: 1 }],
    },
  ],
  [
    3.3,
    chat(40004, "夜猫子", "主播今天状态很好 666", 31, {
      nl: 1,
      bnn: "鱼塘",
      bl: 12,
      brid: SAMPLE_ROOM,
    }),
  ],
  [3.8, enter(40005, "Morning_Dew", 45, true)],
  [4.2, chat(40006, "阿豆", "@Lucky_Cat 欢迎欢迎 a/b 测试", 5)],
  [4.9, chat(40007, "抽奖机器人", "关注主播参与抽奖", 1, { dms: undefined, ct: 0 })],
  [
    5.4,
    {
      type: "comm_chatmsg",
      vrid: "1786543210987654321",
      btype: "voiceDanmu",
      chatmsg: {
        nn: "Morning_Dew",
        bnn: "鱼塘",
        level: 45,
        brid: SAMPLE_ROOM,
        ail: [2614, 1446],
        bl: 15,
        type: "chatmsg",
        rid: SAMPLE_ROOM,
        gag: 0,
        uid: 40005,
        txt: "加油！今晚冲一波",
        adid: 0,
        hidenick: 0,
        nc: 0,
        ifs: 1,
        ic: "avatar_v3/202403/9c45b7c8d9e0f1a2",
        nl: 4,
        tbid: 0,
        tbl: 0,
        tbvip: 0,
      },
      range: 2,
      cprice: 3000,
      crealPrice: 3000,
      cmgType: 1,
      rid: SAMPLE_ROOM,
      gbtemp: 2,
      uid: 40005,
      cet: 60,
      now: t0 + 5400,
      csuperScreen: 0,
      danmucr: 1,
    },
  ],
  [6.0, chat(40008, "路过的咸鱼", "这波操作可以", 18, { col: 3 })],
  [
    6.5,
    {
      type: "spbc",
      sn: "星河漫步",
      dn: "隔壁的主播",
      gn: "火箭",
      gc: 1,
      drid: OTHER_ROOM,
      gs: 0,
      gb: 0,
      es: 1,
      gfid: 21196,
      eid: 21062,
      bgl: 3,
      ifs: 0,
      rid: 0,
      gid: 0,
      bid: `106001_${Math.floor(t0 / 1000)}_12345`,
      sid: 40901,
      cl2: 270,
      from: 2,
    },
  ],
  [7.1, chat(40002, "Lucky_Cat", "what does 666 mean?", 7, { col: 2 })],
  [
    7.6,
    chat(40004, "夜猫子", "666 = nice play 😄", 31, {
      nl: 1,
      bnn: "鱼塘",
      bl: 12,
      brid: SAMPLE_ROOM,
    }),
  ],
  [8.2, gift(40009, "Pixel_Panda", 52, 20008, undefined, 1, 1)],
  [
    8.8,
    {
      type: "upgrade",
      uid: 40006,
      rid: SAMPLE_ROOM,
      gid: 0,
      nn: "阿豆",
      level: 6,
      ic: "avatar_v3/202401/9c46aa00bb11cc22",
      sahf: 0,
    },
  ],
  [9.3, chat(40010, "广告小号", "加群领福利 www.example.invalid", 1, { dms: undefined })],
  [
    9.9,
    {
      type: "newblackres",
      rid: SAMPLE_ROOM,
      gid: 0,
      otype: 1,
      sid: 40011,
      did: 40010,
      snic: "房管小蓝",
      dnic: "广告小号",
      endtime: Math.floor(t0 / 1000) + 3600,
    },
  ],
  [10.4, chat(40011, "房管小蓝", "请文明发言，不要发广告", 40, { rg: 4, col: 1 })],
  [
    10.9,
    {
      type: "anbc",
      rid: 0,
      gid: 0,
      bt: 1,
      uid: 40012,
      hrp: 1,
      unk: "月光宝盒",
      uic: "avatar_v3/202404/9c4c0123456789ab",
      drid: SAMPLE_ROOM,
      donk: "样例主播",
      nl: 4,
      ts: Math.floor(t0 / 1000) + 10,
      fov: 1,
    },
  ],
  [11.3, enter(40013, "Tofu_Knight", 9)],
  [11.7, chat(40013, "Tofu_Knight", "just arrived, what did I miss?", 9)],
  [
    12.2,
    {
      type: "blab",
      uid: 40004,
      nn: "夜猫子",
      lbl: 12,
      bl: 13,
      ba: 1,
      bnn: "鱼塘",
      rid: SAMPLE_ROOM,
    },
  ],
  [
    12.6,
    {
      type: "rankup",
      rid: SAMPLE_ROOM,
      gid: 0,
      drid: SAMPLE_ROOM,
      rt: 0,
      bt: 1,
      sz: 3,
      uid: 40003,
      nk: "橘子汽水",
      rkt: 1,
      rn: 3,
      flag: 1,
    },
  ],
  [
    13.0,
    {
      type: "ranklist",
      rid: SAMPLE_ROOM,
      gid: 0,
      list: [
        {
          uid: 40005,
          crk: 1,
          lrk: 1,
          rs: 0,
          nickname: "Morning_Dew",
          gold: 300000,
          level: 45,
          icon: "avatar_v3/202403/9c45b7c8d9e0f1a2",
          pg: 1,
          rg: 1,
          ne: 4,
          ih: 0,
          sahf: 0,
          newrg: 0,
          ail: [453],
        },
        {
          uid: 40003,
          crk: 2,
          lrk: 3,
          rs: 1,
          nickname: "橘子汽水",
          gold: 12000,
          level: 23,
          icon: "avatar_v3/202402/9c43a1b2c3d4e5f6",
          pg: 1,
          rg: 1,
          ne: 0,
          ih: 0,
          sahf: 0,
          newrg: 0,
        },
      ],
    },
  ],
  [13.4, gift(40002, "Lucky_Cat", 7, 824, "荧光棒", 10, 1)],
  [13.9, chat(40008, "路过的咸鱼", "下一局什么时候开始", 18)],
  [
    14.3,
    "type@=synexp/o_exp@=1468216348/o_lev@=56/o_minexp@=1404500000/o_upexp@=36283652/rid@=9999/",
  ],
  [14.8, chat(40001, "小鱼干", "晚安，明天见～", 12)],
  [
    15.2,
    {
      type: "ssd",
      rid: SAMPLE_ROOM,
      gid: 0,
      sdid: 10086,
      trid: OTHER_ROOM,
      content: "隔壁直播间正在抽奖，快来看看",
    },
  ],
  [
    15.8,
    {
      type: "bc_buy_deserve",
      level: 31,
      lev: 1,
      rid: SAMPLE_ROOM,
      gid: 0,
      cnt: 1,
      hits: 1,
      sid: 40004,
      sui: {
        id: 40004,
        name: "qq_Sample04",
        nick: "夜猫子",
        icon: "avatar/004/00/40/04_avatar",
        rg: 1,
        pg: 1,
        level: 31,
      },
    },
  ],
  [16.4, chat(40009, "Pixel_Panda", "GG! 今天就到这里吧", 52, { col: 5 })],
  [17.0, {
    type: "rss",
    rid: SAMPLE_ROOM,
    gid: 0,
    ss: 0,
    code: 0,
    rt: 0,
    notify: 0,
    endtime: Math.floor(t0 / 1000) + 17,
    ivl: 0,
  }],
];

function line(start: number, index: number, at: number, message: Fields | string): RecordedLine {
  const t = start + Math.round(at * 1000);
  if (typeof message === "string") return { t, body: message };
  if (message.type !== "chatmsg") return { t, body: encodeStt(message) };
  // A real client stamps its send time a little before the server relays it.
  return {
    t,
    body: encodeStt({ ...message, cid: chatId(start, index, message.uid), cst: t - 120 }),
  };
}

/**
 * A chat's `cid`: 32 hex digits, as real ones are, unique per message as
 * real ones are: the pass's start (ms), the line's place in the script, the
 * sender. Equal ids would make an overlay or NATS de-duplication drop chats.
 */
function chatId(start: number, index: number, uid: SttValue | undefined): string {
  const hex = (value: number, digits: number) => value.toString(16).padStart(digits, "0");
  return `${hex(start, 12)}${hex(index, 4)}${hex(Number(uid), 8)}00000000`;
}

/**
 * The sample recording: about 35 messages over 17 seconds (chat, entries,
 * gifts with a combo, a super chat, a mute, live on and off, a noble, a
 * level-up, rankings, a broadcast from another room, a bot) as
 * `{ t, body }` lines. A fresh array on every call.
 *
 * Each chat has its own id (`cid`), derived from `start`: two recordings
 * with different starts share none.
 *
 * @param start When the sample starts, ms since the epoch; times inside
 * messages (a mute's end, a super chat's `now`) and chat ids follow it. Default
 * 2024-05-01 12:00:00 UTC, so the sample is the same on every call.
 *
 * @example
 * ```ts
 * import { sampleRecording } from "@x/douyu/testing";
 *
 * const lines = sampleRecording();
 * console.log(lines.length, lines[0]!.body); // 35 "type@=rss/rid@=9999/…"
 * ```
 */
export function sampleRecording(start: number = T0): RecordedLine[] {
  return script(start).map(([at, message], index) => line(start, index, at, message));
}

/** The start of the latest pass from {@linkcode samplePass}: each one starts later. */
let lastPassStart = 0;

/**
 * A fresh pass of the sample, starting now: {@linkcode sampleRecording} with
 * a start later than every earlier pass's, so its chats have ids (`cid`) no
 * earlier pass had. Give it to `MockServerOptions.recording` to play the
 * sample to every client, and again on every pass with `loop`, as new chat:
 * an overlay or a NATS stream that drops repeated ids then shows every pass.
 *
 * @returns The lines of one pass.
 *
 * @example
 * ```ts
 * import { MockServer, samplePass } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start({ recording: samplePass, loop: true, speed: 4 });
 * console.log(server.url); // the sample room, forever, four times faster
 * ```
 */
export function samplePass(): RecordedLine[] {
  lastPassStart = Math.max(Date.now(), lastPassStart + 1);
  return sampleRecording(lastPassStart);
}

/** The gifts the sample sends, with invented but plausible prices (fen). */
const SAMPLE_GIFTS: ReadonlyArray<{ id: number; name: string; price: number; free?: boolean }> = [
  { id: 824, name: "荧光棒", price: 10 },
  { id: 20008, name: "飞机", price: 10_000 },
  { id: 21196, name: "火箭", price: 50_000 },
];

/**
 * The sample room's gift list, in the shape of Douyu's gift API
 * (`GET /api/gift/v3/web/list?rid=…`, docs/protocol.md, "Web APIs"), so a demo can serve it
 * from a local stand-in and show gift names and values offline.
 *
 * @returns The JSON body.
 *
 * @example
 * ```ts
 * import { sampleGiftList } from "./sample.ts";
 *
 * const body = JSON.parse(sampleGiftList());
 * console.log(body.data.giftList[0].name); // "荧光棒"
 * ```
 */
export function sampleGiftList(): string {
  return JSON.stringify({
    error: 0,
    msg: "success",
    data: {
      giftList: SAMPLE_GIFTS.map((gift) => ({
        id: gift.id,
        name: gift.name,
        picUrlPrefix: "",
        basicInfo: {},
        priceInfo: { price: gift.price, priceType: gift.free ? "YUWAN" : "YUCHI" },
      })),
    },
  });
}
