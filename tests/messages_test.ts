import assert from "node:assert/strict";
import {
  avatarUrl,
  decodeStt,
  decodeSttMapList,
  encodeStt,
  isBadgeFromRoom,
  isFromRoom,
  isLikelyBot,
  isType,
  KNOWN_TYPES,
  type Message,
  parseMessage,
  peekType,
  type SttValue,
  superChatOf,
  toNumber,
  unescapeStt,
  userOf,
} from "../internal_mod.ts";
import { test } from "./harness.ts";
import { captureBodies, randomInt, referenceDecode, seededRandom, vectors } from "./fixtures.ts";

/** Fields `parseMessage` decodes further, per type. */
const NESTED: Record<string, string[]> = {
  chatmsg: ["el", "ail"],
  uenter: ["el"],
  dgb: ["el"],
  bc_buy_deserve: ["sui"],
  ranklist: ["list", "list_all", "list_day"],
  frank: ["list"],
  fswrank: ["list"],
  noble_num_info: ["list"],
  comm_chatmsg: ["chatmsg"],
};

function checkAgainstPlainDecode(body: string, msg: Message): void {
  const plain = decodeStt(body);
  assert.equal(msg.type, plain.type ?? "");
  assert.equal(peekType(body) ?? "", msg.type);
  const nested = NESTED[msg.type] ?? [];
  assert.deepEqual(Object.keys(msg).sort(), Object.keys({ type: "", ...plain }).sort());
  for (const [key, value] of Object.entries(plain)) {
    const parsed = (msg as Record<string, unknown>)[key];
    if (!nested.includes(key)) {
      assert.equal(parsed, value, `${msg.type}.${key}`);
      continue;
    }
    // A nested field becomes a structure; an empty wire value an empty one.
    assert.equal(typeof parsed, "object", `${msg.type}.${key}`);
    if (value === "") {
      assert.equal(Object.keys(parsed as object).length, 0);
    }
  }
}

test("parseMessage: every real body matches a plain one-level decode", async () => {
  const bodies = [...(await vectors()).map((v) => v.body), ...(await captureBodies())];
  const types = new Set<string>();
  for (const body of bodies) {
    const msg = parseMessage(body);
    types.add(msg.type);
    checkAgainstPlainDecode(body, msg);
  }
  for (const t of ["chatmsg", "uenter", "dgb", "spbc", "ranklist", "frank", "fswrank", "rss"]) {
    assert.ok(types.has(t), t);
  }
});

test("parseMessage: nested fields decode into the same shape", async () => {
  const all = await vectors();
  const body = (name: string) => all.find((v) => v.name === name)!.body;

  const uenter = parseMessage(body("uenter"));
  assert.ok(isType(uenter, "uenter"));
  assert.deepEqual(uenter.el, [{ eid: "1500000113", etp: "1", sc: "1", ef: "0" }]);
  assert.equal(uenter.ic, "avatar_v3/201902/2ef75ae27685acd22b2ba05379012994");

  const chat = parseMessage(body("chatmsg"));
  assert.ok(isType(chat, "chatmsg"));
  assert.deepEqual(chat.el, []);
  assert.equal(chat.txt, "注意保暖");
  assert.equal(chat.nn, "小老弟233");

  const ranklist = parseMessage(body("ranklist"));
  assert.ok(isType(ranklist, "ranklist"));
  assert.ok(ranklist.list!.length > 3);
  assert.equal(ranklist.list![0]!.nickname, "最幸运的涩秋");
  assert.equal(ranklist.list![0]!.icon, "avatar_v3/202011/0e6f760afb484205822b29dc1f592104");
  assert.deepEqual(ranklist.list![0]!.ail, ["453"]);
  assert.ok(Array.isArray(ranklist.list_all));
  assert.ok(Array.isArray(ranklist.list_day));

  const fswrank = parseMessage(body("fswrank"));
  assert.ok(isType(fswrank, "fswrank"));
  assert.equal(fswrank.list![1]!.ic, "avanew/face/201708/07/23/23a950da51a0ccc8584b4ca1301fce16");

  const frank = parseMessage(body("frank"));
  assert.ok(isType(frank, "frank"));
  assert.equal(frank.list![0]!.nn, "蓦然回首一笑置之");
  // Re-encoding the decoded entries gives back the wire text.
  assert.ok(body("frank").includes(encodeStt({ list: frank.list! })));

  const sc = parseMessage(body("comm_chatmsg-voice"));
  assert.ok(isType(sc, "comm_chatmsg"));
  assert.equal(sc.chatmsg!.txt, "加菜，拍个黄瓜+来点花生米");
  assert.deepEqual(sc.chatmsg!.ail, ["2614", "1446", "917", "3688"]);
  assert.equal(sc.chatmsg!.ic, "avatar_v3/202105/72476ba446bf476fa3d63897ab98a572");
  assert.deepEqual(superChatOf(sc), {
    name: "被封号依旧支持余凯洞",
    uid: 13135382,
    text: "加菜，拍个黄瓜+来点花生米",
    price: 10,
    seconds: 30,
    kind: "voiceDanmu",
  });

  const deserve = parseMessage(body("bc_buy_deserve"));
  assert.ok(isType(deserve, "bc_buy_deserve"));
  assert.equal(deserve.sui!.nick, "主播芒果c507794");
  assert.equal(deserve.sui!.icon, "avatar/011/01/21/44_avatar");

  const noble = parseMessage(body("noble_num_info"));
  assert.ok(isType(noble, "noble_num_info"));
  assert.deepEqual(noble.list, decodeSttMapList(decodeStt(body("noble_num_info")).list!));
});

test("parseMessage: unknown types keep every field; missing type is empty", async () => {
  const all = await vectors();
  const pdr = all.find((v) => v.name === "pdrinfo")!.body;
  const msg = parseMessage(pdr);
  assert.equal(msg.type, "pdrinfo");
  assert.deepEqual({ ...msg }, decodeStt(pdr));
  assert.equal(parseMessage("a@=1/").type, "");
  assert.equal(parseMessage("").type, "");
  const rri = parseMessage(all.find((v) => v.name === "rri")!.body);
  assert.equal(rri.rid, "3898464");
});

test("parseMessage: hostile types and keys are plain data", () => {
  for (const type of ["constructor", "__proto__", "toString", "hasOwnProperty"]) {
    const msg = parseMessage(`type@=${type}/x@=1/`);
    assert.equal(msg.type, type);
    assert.equal(Object.getPrototypeOf(msg), Object.prototype);
  }
  const msg = parseMessage("type@=chatmsg/__proto__@=x/el@=__proto__@AA=1@AS@S/");
  assert.ok(isType(msg, "chatmsg"));
  assert.equal(Object.getPrototypeOf(msg.el![0]), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(msg.el![0], "__proto__")?.value, "1");
});

test("helpers: numbers, users, bots, rooms, avatars", () => {
  const chat = parseMessage(
    "type@=chatmsg/rid@=9/uid@=7/nn@=Ann/level@=12/nl@=3/rg@=4/bnn@=fan/bl@=3/brid@=5/ic@=a@Sb/",
  );
  assert.deepEqual(userOf(chat), {
    id: 7,
    name: "Ann",
    level: 12,
    nobleLevel: 3,
    badge: { name: "fan", level: 3, room: 5 },
    avatar: "https://apic.douyucdn.cn/upload/a/b_small.jpg",
    isRoomAdmin: true,
    isSuperAdmin: false,
  });
  assert.equal(isLikelyBot(chat), true);
  assert.equal(isLikelyBot(parseMessage("type@=chatmsg/dms@=5/")), false);
  assert.equal(isLikelyBot(parseMessage("type@=uenter/")), false);
  assert.equal(isFromRoom(chat, 9), true);
  assert.equal(isFromRoom(chat, "10"), false);
  assert.equal(isFromRoom(parseMessage("type@=mrkl/"), 10), true);
  assert.equal(isBadgeFromRoom(chat, 5), true);
  assert.equal(isBadgeFromRoom(chat, 9), false);
  assert.equal(toNumber("x"), undefined);
  assert.equal(toNumber("-9999"), -9999);
  assert.equal(avatarUrl("https://x/y.png"), "https://x/y.png");
  assert.equal(superChatOf(parseMessage("type@=comm_chatmsg/cprice@=0/cet@=30/")), undefined);
  assert.equal(superChatOf(chat), undefined);
  assert.equal(KNOWN_TYPES.length, 22);
});

/** `parseMessage` the slow, obvious way: decode, then unescape and decode nested values. */
function referenceParse(body: string): Record<string, unknown> {
  const msg: Record<string, unknown> = referenceDecode(body);
  if (typeof msg.type !== "string") msg.type = "";
  const list = (plain: string) => {
    const items = plain.split("/");
    if (items.at(-1) === "") items.pop();
    return items.map(unescapeStt);
  };
  const mapList = (plain: string) =>
    plain.split("/").filter((item) => item !== "").map((item) =>
      referenceDecode(unescapeStt(item))
    );
  const nest = (
    target: Record<string, unknown>,
    key: string,
    decode: (plain: string) => unknown,
  ) => {
    const value = target[key];
    if (typeof value === "string" && Object.hasOwn(target, key)) target[key] = decode(value);
  };
  switch (msg.type) {
    case "chatmsg":
      nest(msg, "el", mapList);
      nest(msg, "ail", list);
      break;
    case "uenter":
    case "dgb":
      nest(msg, "el", mapList);
      break;
    case "bc_buy_deserve":
      nest(msg, "sui", referenceDecode);
      break;
    case "ranklist":
      for (const key of ["list", "list_all", "list_day"]) {
        nest(msg, key, (plain) => {
          const entries = mapList(plain);
          for (const entry of entries) nest(entry, "ail", list);
          return entries;
        });
      }
      break;
    case "frank":
    case "fswrank":
    case "noble_num_info":
      nest(msg, "list", mapList);
      break;
    case "comm_chatmsg":
      nest(msg, "chatmsg", (plain) => {
        const chat: Record<string, unknown> = referenceDecode(plain);
        nest(chat, "el", mapList);
        nest(chat, "ail", list);
        return chat;
      });
  }
  return msg;
}

test("property: parseMessage equals a reference parse, nested values included", async () => {
  const random = seededRandom(8);
  const pick = <T>(items: readonly T[]): T => items[randomInt(random, items.length)]!;
  const texts = [
    "",
    "0",
    "1",
    "@Alice",
    "a/b",
    "@S",
    "@AS",
    "@A=",
    "你好",
    "x".repeat(14),
    "__proto__",
  ];
  const plainKeys = ["uid", "nn", "ic", "rid", "lev", "x@y", "a/b", "__proto__"];
  const strings = () => Array.from({ length: randomInt(random, 4) }, () => pick(texts));
  // Any value where nothing is nested: decoding must keep it as it is.
  const anything = (depth: number): SttValue =>
    depth < 2 && random() < 0.3 ? [map(depth + 1), pick(texts)] : pick(texts);
  const map = (depth: number): Record<string, SttValue> => {
    const out: Record<string, SttValue> = {};
    for (let n = randomInt(random, 5); n > 0; n--) out[pick(plainKeys)] = anything(depth);
    return out;
  };
  const entries = () =>
    Array.from({ length: randomInt(random, 4) }, () => {
      const entry: Record<string, SttValue> = map(1);
      if (random() < 0.3) entry.ail = strings();
      return entry;
    });
  // Values of the nested keys, each in its shape.
  const nested: Record<string, () => SttValue> = {
    el: entries,
    list: entries,
    list_all: entries,
    list_day: entries,
    ail: strings,
    sui: () => map(1),
    chatmsg: () => ({ ...map(1), el: entries(), ail: strings() }),
  };
  const types = [
    "chatmsg",
    "uenter",
    "dgb",
    "bc_buy_deserve",
    "ranklist",
    "frank",
    "fswrank",
    "noble_num_info",
    "comm_chatmsg",
    "other",
  ];
  const nestedKeys = Object.keys(nested);
  const bodies: string[] = [];
  for (let i = 0; i < 3000; i++) {
    const fields: Record<string, SttValue> = { type: pick(types), rid: pick(texts) };
    for (let n = randomInt(random, 4); n > 0; n--) {
      const key = pick(nestedKeys);
      fields[key] = nested[key]!();
    }
    Object.assign(fields, map(0));
    let body = encodeStt(fields);
    if (random() < 0.2) body = `rid@=first/${body}`; // `type` not first
    if (random() < 0.2) body += `type@=second/${pick(nestedKeys)}@=dup@S/`; // duplicates
    bodies.push(body);
  }
  for (const v of await vectors()) bodies.push(v.body);
  bodies.push(...(await captureBodies()));
  for (let round = 0; round < 3; round++) {
    for (const body of bodies) {
      const msg = parseMessage(body);
      const expected = referenceParse(body);
      assert.deepEqual(Object.keys(msg), Object.keys(expected), body);
      assert.deepEqual(msg, expected, body);
    }
  }
});
