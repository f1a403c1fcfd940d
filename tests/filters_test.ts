import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { createFilter, type FilterRules, RepeatFolder } from "../src/output/filters.ts";
import { type Message, parseMessage } from "../src/protocol/messages.ts";
import { GiftCatalog } from "../src/protocol/gifts.ts";
import { readFixture, test } from "./harness.ts";

const m = parseMessage;

/** The verdict as a short string: "keep" or the reason. */
function verdict(rules: FilterRules, body: string | Message, catalog?: GiftCatalog): string {
  const decision = createFilter(rules)(typeof body === "string" ? m(body) : body, catalog);
  return decision.keep ? "keep" : decision.reason;
}

const catalog = new GiftCatalog({
  roomId: 9999,
  gifts: [
    {
      id: "20004",
      name: "\u706b\u7bad",
      price: 50000,
      priceType: "YUCHI",
      paid: true,
      source: "room",
    },
    { id: "20006", name: "\u8d5e", price: 10, priceType: "YUCHI", paid: true, source: "room" },
    {
      id: "20008",
      name: "\u9c7c\u4e38",
      price: 10000,
      priceType: "YUWAN",
      paid: false,
      source: "room",
    },
  ],
});

test("filter: no rules keeps everything", () => {
  const keep = createFilter({});
  for (const body of ["type@=chatmsg/", "type@=dgb/gfid@=1/", "type@=spbc/rid@=0/", "type@=x/"]) {
    deepStrictEqual(keep(m(body)), { keep: true });
  }
});

test("filter: noBots drops chat without dms, and only chat", () => {
  const rules = { noBots: true };
  strictEqual(verdict(rules, "type@=chatmsg/txt@=hi/"), "bot");
  strictEqual(verdict(rules, "type@=chatmsg/txt@=hi/dms@=5/"), "keep");
  strictEqual(verdict(rules, "type@=chatmsg/txt@=hi/dms@=/"), "keep", "present, even empty");
  strictEqual(verdict(rules, "type@=dgb/gfid@=1/"), "keep");
  strictEqual(verdict(rules, "type@=uenter/nn@=a/"), "keep");
  strictEqual(verdict({ noBots: false }, "type@=chatmsg/txt@=hi/"), "keep");
});

test("filter: onlyRoom drops messages that name another room", () => {
  for (const room of [9999, "9999"]) {
    const rules = { onlyRoom: room };
    strictEqual(verdict(rules, "type@=chatmsg/rid@=9999/dms@=1/"), "keep");
    strictEqual(verdict(rules, "type@=spbc/rid@=0/drid@=1/"), "other-room");
    strictEqual(verdict(rules, "type@=anbc/rid@=5555/"), "other-room");
    strictEqual(verdict(rules, "type@=chatmsg/txt@=no rid/"), "keep");
  }
});

test("filter: blockUsers matches uid or nickname exactly, for every kind of sender", () => {
  const rules = { blockUsers: ["12345", "Spam\u541b", ""] };
  const dropped = [
    "type@=chatmsg/uid@=12345/nn@=other/",
    "type@=chatmsg/uid@=1/nn@=Spam\u541b/",
    "type@=uenter/uid@=12345/",
    "type@=dgb/nn@=Spam\u541b/gfid@=1/",
    "type@=upgrade/nn@=Spam\u541b/",
    "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=100/cet@=5/chatmsg@=nn@A=Spam\u541b@Suid@A=1@S/",
    "type@=comm_chatmsg/uid@=12345/chatmsg@=nn@A=x@S/",
    "type@=spbc/sn@=Spam\u541b/dn@=host/",
    "type@=anbc/unk@=Spam\u541b/",
    "type@=rnewbc/uid@=12345/",
    "type@=bc_buy_deserve/sui@=nick@A=Spam\u541b@Sid@A=1@S/",
    "type@=bc_buy_deserve/sid@=12345/sui@=nick@A=x@S/",
    "type@=somethingnew/uid@=12345/",
  ];
  for (const body of dropped) strictEqual(verdict(rules, body), "blocked-user", body);
  const kept = [
    "type@=chatmsg/uid@=123456/nn@=spam\u541b/", // not the same uid; case matters
    "type@=chatmsg/nn@=Spam\u541bX/", // no substring matching
    "type@=chatmsg/nn@=/uid@=/", // the empty entry blocks nobody
    "type@=spbc/dn@=Spam\u541b/", // the receiver is not the sender
    "type@=newblackres/dnic@=Spam\u541b/did@=12345/", // a ban notice about them stays
  ];
  for (const body of kept) strictEqual(verdict(rules, body), "keep", body);
});

test("filter: minLevel drops low-level chat and entries only", () => {
  const rules = { minLevel: 10 };
  strictEqual(verdict(rules, "type@=chatmsg/level@=9/"), "low-level");
  strictEqual(verdict(rules, "type@=uenter/level@=3/"), "low-level");
  strictEqual(verdict(rules, "type@=chatmsg/level@=10/"), "keep");
  strictEqual(verdict(rules, "type@=chatmsg/"), "keep", "no level: kept");
  strictEqual(verdict(rules, "type@=chatmsg/level@=abc/"), "keep");
  strictEqual(verdict(rules, "type@=dgb/level@=1/gfid@=1/"), "keep", "gifts are judged by value");
  strictEqual(
    verdict(rules, "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=100/cet@=5/chatmsg@=level@A=1@S/"),
    "keep",
  );
  strictEqual(verdict({ minLevel: 0 }, "type@=chatmsg/level@=0/"), "keep");
});

test("filter: blockWords matches text, ignoring case, width and invisible characters", () => {
  const rules = { blockWords: ["\u52a0\u7fa4", "VX", "  "] };
  const dropped = [
    "type@=chatmsg/txt@=\u5feb\u6765\u52a0\u7fa4\u554a/",
    "type@=chatmsg/txt@=add my vx/",
    "type@=chatmsg/txt@=add my \uff36\uff38/", // fullwidth
    "type@=chatmsg/txt@=add my v\u200bx/", // zero-width space inside
    "type@=chatmsg/txt@=\u52a0\u00ad\u7fa4/", // soft hyphen inside
    "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=100/cet@=5/chatmsg@=txt@A=vx 123@S/",
  ];
  for (const body of dropped) strictEqual(verdict(rules, body), "blocked-word", body);
  const kept = [
    "type@=chatmsg/txt@=hello/",
    "type@=chatmsg/txt@=v x/",
    "type@=chatmsg/",
    "type@=uenter/nn@=vx/", // only texts are searched
    "type@=dgb/gfn@=vx/",
    "type@=chatmsg/txt@=  two spaces/", // the all-space word was ignored
  ];
  for (const body of kept) strictEqual(verdict(rules, body), "keep", body);
});

test("filter: minGiftValue uses the catalogue, super chats count by price", () => {
  const rules = { minGiftValue: 1 };
  strictEqual(verdict(rules, "type@=dgb/gfid@=20006/gfcnt@=3/", catalog), "low-gift-value"); // ¥0.30
  strictEqual(verdict(rules, "type@=dgb/gfid@=20006/gfcnt@=10/", catalog), "keep"); // ¥1.00
  strictEqual(verdict(rules, "type@=dgb/gfid@=20004/", catalog), "keep"); // ¥500
  strictEqual(verdict(rules, "type@=dgb/gfid@=20008/gfcnt@=99/", catalog), "low-gift-value"); // free
  strictEqual(verdict(rules, "type@=spbc/gfid@=20006/gc@=1/", catalog), "low-gift-value");
  const sc = (fen: number) =>
    `type@=comm_chatmsg/btype@=voiceDanmu/cprice@=${fen}/cet@=30/chatmsg@=txt@A=hi@S/`;
  strictEqual(verdict({ minGiftValue: 30 }, sc(2999)), "low-gift-value");
  strictEqual(verdict({ minGiftValue: 30 }, sc(3000)), "keep");
  // Not gifts: untouched.
  for (
    const body of ["type@=chatmsg/txt@=hi/", "type@=comm_chatmsg/btype@=other/", "type@=uenter/"]
  ) {
    strictEqual(verdict({ minGiftValue: 1000 }, body, catalog), "keep", body);
  }
  strictEqual(verdict({ minGiftValue: 0 }, "type@=dgb/gfid@=20008/", catalog), "keep");
});

test("filter: a gift of unknown value is kept by default, dropped on request", () => {
  const unknownGifts: [string, GiftCatalog | undefined][] = [
    ["type@=dgb/gfid@=777/", catalog], // not in the catalogue
    ["type@=dgb/gfid@=20004/", undefined], // no catalogue (e.g. it could not be fetched)
    ["type@=dgb/gfid@=0/pid@=268/", catalog], // a prop
    ["type@=gdp/gfn@=x/", catalog],
  ];
  for (const [body, cat] of unknownGifts) {
    strictEqual(verdict({ minGiftValue: 1 }, body, cat), "keep", body);
    strictEqual(verdict({ minGiftValue: 1, unknownGiftValue: "keep" }, body, cat), "keep", body);
    strictEqual(
      verdict({ minGiftValue: 1, unknownGiftValue: "drop" }, body, cat),
      "low-gift-value",
      body,
    );
  }
  // Without minGiftValue, unknownGiftValue does nothing.
  strictEqual(verdict({ unknownGiftValue: "drop" }, "type@=dgb/gfid@=777/", catalog), "keep");
});

test("filter: the first rule in order gives the reason; decisions are frozen", () => {
  const all: FilterRules = {
    noBots: true,
    onlyRoom: 1,
    blockUsers: ["x"],
    minLevel: 5,
    blockWords: ["bad"],
    minGiftValue: 1,
  };
  strictEqual(verdict(all, "type@=chatmsg/rid@=2/nn@=x/level@=1/txt@=bad/"), "bot");
  strictEqual(verdict(all, "type@=chatmsg/rid@=2/nn@=x/level@=1/txt@=bad/dms@=1/"), "other-room");
  strictEqual(verdict(all, "type@=chatmsg/rid@=1/nn@=x/level@=1/txt@=bad/dms@=1/"), "blocked-user");
  strictEqual(verdict(all, "type@=chatmsg/rid@=1/nn@=y/level@=1/txt@=bad/dms@=1/"), "low-level");
  strictEqual(verdict(all, "type@=chatmsg/rid@=1/nn@=y/level@=9/txt@=bad/dms@=1/"), "blocked-word");
  strictEqual(verdict(all, "type@=chatmsg/rid@=1/nn@=y/level@=9/txt@=ok/dms@=1/"), "keep");
  const decision = createFilter(all)(m("type@=chatmsg/"));
  ok(Object.isFrozen(decision));
  // Pure: the same answer every time, and the rules object is not kept or changed.
  const rules: FilterRules = { blockWords: ["a"] };
  const filter = createFilter(rules);
  (rules.blockWords as string[]).push("b");
  strictEqual(filter(m("type@=chatmsg/txt@=b/")).keep, true);
});

test("filter: rules are checked", () => {
  const bad: FilterRules[] = [
    { minLevel: -1 },
    { minLevel: NaN },
    { minGiftValue: Infinity },
    { minGiftValue: "5" as unknown as number },
    { unknownGiftValue: "maybe" as "keep" },
  ];
  for (const rules of bad) throws(() => createFilter(rules), RangeError, JSON.stringify(rules));
});

test("filter: hostile field names are plain data", () => {
  // A message whose own fields shadow nothing: inherited properties are never read.
  const msg = m("type@=chatmsg/__proto__@=x/constructor@=y/txt@=hi/dms@=1/");
  strictEqual(verdict({ blockUsers: ["x", "y"], blockWords: ["zz"], minLevel: 1 }, msg), "keep");
  // A message with no txt does not read Object.prototype's.
  strictEqual(verdict({ blockWords: ["function"] }, "type@=chatmsg/"), "keep");
});

test("filter: the real capture, through every rule, with the catalogue", async () => {
  const lines = (await readFixture("capture_room102965.jsonl")).trim().split("\n");
  const messages = lines.map((line) => m(JSON.parse(line).body as string));
  const filter = createFilter({ noBots: true, onlyRoom: 102965, minGiftValue: 0.01 });
  const counts = new Map<string, number>();
  for (const msg of messages) {
    const decision = filter(msg, catalog);
    const key = decision.keep ? "keep" : decision.reason;
    counts.set(key, (counts.get(key) ?? 0) + 1);
  }
  // Every message got a verdict; the capture's chat all carries dms, and it has
  // other rooms' broadcasts.
  strictEqual([...counts.values()].reduce((a, b) => a + b), messages.length);
  strictEqual(counts.get("bot"), undefined, JSON.stringify([...counts]));
  ok((counts.get("other-room") ?? 0) > 0, JSON.stringify([...counts]));
});

// ---------------------------------------------------------------------------
// RepeatFolder

test("RepeatFolder: repeats within the window fold into their line, with a count", () => {
  const folder = new RepeatFolder({ window: 10_000 });
  deepStrictEqual(folder.fold("666", 1000), { repeat: false, line: 1, count: 1 });
  deepStrictEqual(folder.fold("hello", 1100), { repeat: false, line: 2, count: 1 });
  deepStrictEqual(folder.fold("666", 1200), { repeat: true, line: 1, count: 2 });
  for (let i = 3; i <= 12; i++) {
    deepStrictEqual(folder.fold("666", 1200 + i), { repeat: true, line: 1, count: i });
  }
  deepStrictEqual(folder.fold("hello", 2000), { repeat: true, line: 2, count: 2 });
  strictEqual(folder.size, 2);
});

test("RepeatFolder: case, width, invisible characters and spacing do not matter", () => {
  const folder = new RepeatFolder();
  folder.fold("Hello  World", 0);
  for (
    const text of [
      "hello world",
      " HELLO WORLD ",
      "\uff48\uff45\uff4c\uff4c\uff4f world",
      "hel\u200blo\tworld",
    ]
  ) {
    strictEqual(folder.fold(text, 1).repeat, true, JSON.stringify(text));
  }
  strictEqual(folder.fold("hello worlds", 2).repeat, false);
});

test("RepeatFolder: the window counts from the line's first appearance", () => {
  const folder = new RepeatFolder({ window: 1000 });
  strictEqual(folder.fold("a", 0).line, 1);
  deepStrictEqual(
    folder.fold("a", 1000),
    { repeat: true, line: 1, count: 2 },
    "the edge is inside",
  );
  deepStrictEqual(folder.fold("a", 1001), { repeat: false, line: 2, count: 1 });
  deepStrictEqual(folder.fold("a", 1500), { repeat: true, line: 2, count: 2 });
  // A chant that never stops gives one line per window.
  const lines = new Set<number>();
  for (let t = 2001; t < 12_001; t += 100) lines.add(folder.fold("a", t).line);
  strictEqual(lines.size, 10);
  // Time going backwards (clocks, replays) does not break it.
  strictEqual(folder.fold("a", 0).repeat, true);
});

test("RepeatFolder: memory is bounded by maxEntries, and expired lines are forgotten", () => {
  const folder = new RepeatFolder({ window: 60_000, maxEntries: 100 });
  for (let i = 0; i < 10_000; i++) folder.fold(`text ${i}`, i);
  strictEqual(folder.size, 100);
  // The newest are remembered, the oldest forgotten.
  strictEqual(folder.fold("text 9999", 10_000).repeat, true);
  strictEqual(folder.fold("text 0", 10_000).repeat, false);
  // Once the window has passed, nothing is kept.
  folder.fold("later", 1_000_000);
  strictEqual(folder.size, 1);
  folder.clear();
  strictEqual(folder.size, 0);
  // 10 000 texts, then "text 0" and "later": 10 002 lines so far.
  strictEqual(folder.fold("x", 1_000_001).line, 10_003, "numbering goes on after clear()");
});

test("RepeatFolder: long and empty texts never fold", () => {
  const folder = new RepeatFolder({ maxTextLength: 10 });
  const long = "x".repeat(11);
  strictEqual(folder.fold(long, 0).repeat, false);
  strictEqual(folder.fold(long, 1).repeat, false);
  strictEqual(folder.fold("", 2).repeat, false);
  strictEqual(folder.fold(" \u200b ", 3).repeat, false);
  strictEqual(folder.size, 0);
  strictEqual(folder.fold("x".repeat(10), 4).repeat, false);
  strictEqual(folder.fold("x".repeat(10), 5).repeat, true);
});

test("RepeatFolder: options and times are checked", () => {
  for (const options of [{ window: -1 }, { maxEntries: 0 }, { maxTextLength: NaN }]) {
    throws(() => new RepeatFolder(options), RangeError, JSON.stringify(options));
  }
  const folder = new RepeatFolder();
  for (const at of [NaN, Infinity]) throws(() => folder.fold("a", at), RangeError);
});

test("RepeatFolder: a flood of distinct texts stays fast", () => {
  const folder = new RepeatFolder({ maxEntries: 1000 });
  const started = performance.now();
  for (let i = 0; i < 100_000; i++) folder.fold(`msg ${i % 5000}`, i);
  const elapsed = performance.now() - started;
  strictEqual(folder.size, 1000);
  // About 1 µs per message on a laptop; the margin is for a loaded CI machine.
  ok(elapsed < 5000, `took ${elapsed} ms`);
});
