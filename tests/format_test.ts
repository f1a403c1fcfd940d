// deno-lint-ignore-file no-control-regex -- these tests look for control characters
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  displayWidth,
  fitWidth,
  formatJson,
  formatMessage,
  NAME_WIDTH,
  TEXT_TYPES,
} from "../src/output/format.ts";
import { type Message, parseMessage } from "../src/protocol/messages.ts";
import { parseRecording, serializeRecordLine } from "../src/protocol/record.ts";
import { SAMPLE_ROOM, sampleRecording } from "../src/testing/sample.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { capture, vectors } from "./fixtures.ts";
import { test } from "./harness.ts";

/** 2024-01-01 20:15:03 local time: the time column reads 20:15:03 in any time zone. */
const AT = new Date(2024, 0, 1, 20, 15, 3).getTime();

/** What a terminal would act on: JSON lines must not contain these raw. */
/** What a JSON line never holds raw: controls, line separators, bidi overrides and marks. */
const CONTROL =
  /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;
/** What a text line must not contain at all: controls and invisible characters. */
const UNSAFE = /[\p{Cc}\p{Cf}\p{Co}\p{Cs}\p{Zl}\p{Zp}\u115f\u1160\u3164\uffa0]/u;

function line(body: string, options: { color?: boolean; all?: boolean } = {}): string | undefined {
  return formatMessage(parseMessage(body), { now: AT, ...options });
}

/** The text after the fixed columns (time, kind, level, name). */
function textOf(formatted: string | undefined): string {
  ok(formatted !== undefined, "expected a line");
  const columns = 8 + 1 + 7 + 1 + 5 + 1;
  let used = 0;
  let i = 0;
  const chars = [...formatted.slice(columns)];
  for (; i < chars.length && used < NAME_WIDTH; i++) used += displayWidth(chars[i]!);
  return chars.slice(i + 1).join("");
}

test("format: a chat line has time, kind, level, name and text in fixed columns", () => {
  strictEqual(
    line("type@=chatmsg/nn@=Ann/level@=12/txt@=hello/"),
    "20:15:03 chat     Lv12 Ann                hello",
  );
  strictEqual(
    line("type@=chatmsg/nn@=Bob/level@=120/txt@=hi/"),
    "20:15:03 chat    Lv120 Bob                hi",
  );
});

test("format: CJK names take two columns each, so the text column stays aligned", () => {
  const a = line("type@=chatmsg/nn@=斗鱼用户/level@=5/txt@=x/")!;
  const b = line("type@=chatmsg/nn@=abcdefgh/level@=5/txt@=x/")!;
  strictEqual(displayWidth(a), displayWidth(b));
  strictEqual(a.endsWith(" x"), true);
});

test("format: a name wider than the column is cut with an ellipsis", () => {
  const long = "名".repeat(20);
  const formatted = line(`type@=chatmsg/nn@=${long}/txt@=hi/`)!;
  ok(formatted.includes("…"));
  strictEqual(textOf(formatted), "hi");
});

test("format: displayWidth and fitWidth count wide, zero-width and emoji characters", () => {
  strictEqual(displayWidth("abc"), 3);
  strictEqual(displayWidth("斗鱼"), 4);
  strictEqual(displayWidth("ｆｕｌｌ"), 8);
  strictEqual(displayWidth("e\u0301"), 1);
  strictEqual(displayWidth("😄"), 2);
  strictEqual(displayWidth("한국"), 4);
  strictEqual(fitWidth("斗鱼", 6), "斗鱼  ");
  strictEqual(fitWidth("abcdefgh", 5), "abcd…");
  strictEqual(displayWidth(fitWidth("斗鱼斗鱼斗鱼", 5)), 5);
});

test("format: gifts show name or id, count, combo and receiver", () => {
  strictEqual(
    textOf(line("type@=dgb/nn@=Ann/level@=3/gfid@=824/gfn@=荧光棒/gfcnt@=2/hits@=5/")),
    "sent 荧光棒 x2 (combo 5)",
  );
  strictEqual(textOf(line("type@=dgb/nn@=Ann/gfid@=824/gfcnt@=1/hits@=1/")), "sent gift #824 x1");
  strictEqual(
    textOf(line("type@=dgb/nn@=Ann/gfid@=1/gfcnt@=1/receive_nn@=Host2/")),
    "sent gift #1 x1 to Host2",
  );
  strictEqual(textOf(line("type@=gdp/nn@=Ann/gfn@=飞机/gfcnt@=1/")), "sent 飞机 x1");
});

test("format: entries, super chats, bans, live status, broadcasts and nobles", () => {
  strictEqual(textOf(line("type@=uenter/nn@=Ann/level@=9/")), "entered the room");
  const sc = encodeStt({
    type: "comm_chatmsg",
    btype: "voiceDanmu",
    chatmsg: { nn: "Ann", level: 44, txt: "加油" },
    cprice: 3000,
    cet: 60,
  });
  const scLine = line(sc)!;
  ok(scLine.startsWith("20:15:03 sc       Lv44 Ann"), scLine);
  strictEqual(textOf(scLine), "¥30 加油");
  // A comm_chatmsg that is not a super chat has no line of its own.
  strictEqual(line("type@=comm_chatmsg/btype@=x/cprice@=0/"), undefined);

  const end = new Date(2024, 0, 1, 21, 0, 0).getTime() / 1000;
  strictEqual(
    textOf(line(`type@=newblackres/otype@=1/snic@=Mod/dnic@=Spammer/endtime@=${end}/`)),
    "was muted by admin Mod until 21:00:00",
  );
  ok(line("type@=newblackres/otype@=1/snic@=Mod/dnic@=Spammer/")!.includes(" Spammer "));
  // An end no date can show (it printed "until NaN:NaN:NaN").
  strictEqual(
    textOf(line("type@=newblackres/otype@=1/snic@=Mod/dnic@=Spammer/endtime@=1e300/")),
    "was muted by admin Mod",
  );
  strictEqual(textOf(line("type@=rss/ss@=1/ivl@=0/")), "the stream is live");
  strictEqual(textOf(line("type@=rss/ss@=1/ivl@=1/")), "a replay loop started (not live)");
  strictEqual(textOf(line("type@=rss/ss@=0/")), "the stream ended");
  strictEqual(
    textOf(line("type@=spbc/sn@=A/dn@=B/gn@=火箭/gc@=1/drid@=52013/rid@=0/")),
    "sent B 火箭 x1 in room 52013",
  );
  strictEqual(
    textOf(line("type@=anbc/unk@=Ann/nl@=4/drid@=7/donk@=Host/")),
    "became noble level 4 in Host's room 7",
  );
  strictEqual(textOf(line("type@=rnewbc/unk@=Ann/nl@=9/")), "renewed noble level 9");
  strictEqual(textOf(line("type@=upgrade/nn@=Ann/level@=20/")), "reached level 20");
  strictEqual(
    textOf(line("type@=blab/nn@=Ann/bnn@=fans/bl@=3/lbl@=2/")),
    "fan badge fans reached level 3",
  );
  strictEqual(textOf(line("type@=rankup/nk@=Ann/rn@=2/")), "rose to rank 2");
  strictEqual(textOf(line("type@=ssd/content@=hello/trid@=5/")), "hello in room 5");
});

test("format: session, ranking and unknown types are skipped, or compact with `all`", () => {
  for (const body of ["type@=loginres/", "type@=mrkl/", "type@=ranklist/", "type@=synexp/a@=1/"]) {
    strictEqual(line(body), undefined, body);
  }
  // Compact lines keep the level and name columns (blank), so their text aligns too.
  const synexp = line("type@=synexp/o_lev@=56/rid@=1/", { all: true })!;
  strictEqual(synexp, `20:15:03 synexp  ${" ".repeat(5 + 1 + NAME_WIDTH)} o_lev=56 rid=1`);
  strictEqual(textOf(synexp), "o_lev=56 rid=1");
  const ranklist = line(
    "type@=ranklist/rid@=1/list@=uid@AA=1@ASnickname@AA=a@AS@Suid@AA=2@AS@S/",
    { all: true },
  );
  ok(ranklist?.startsWith("20:15:03 ranklist "), ranklist);
  ok(ranklist?.endsWith(" rid=1 list=[2]"), ranklist);
  strictEqual(textOf(line("nn@=x/", { all: true })), "nn=x");
});

test("format: every real fixture message formats to one line without control characters", async () => {
  const bodies = [...(await vectors()).map((v) => v.body), ...(await capture()).map((l) => l.body)];
  for (const body of bodies) {
    for (const color of [false, true]) {
      const formatted = line(body, { all: true, color });
      ok(formatted !== undefined, body);
      const plain = color ? formatted.replace(/\x1b\[\d+m/g, "") : formatted;
      ok(!UNSAFE.test(plain), `control character in ${JSON.stringify(plain)}`);
    }
    // A line without `all` only for the types TEXT_TYPES names (`logs` reads only those).
    const type = parseMessage(body).type;
    if (line(body) !== undefined) ok(TEXT_TYPES.has(type), type);
  }
  for (const type of ["frank", "ranklist", "loginres", "noble_num_info"]) {
    strictEqual(line(`type@=${type}/nn@=a/txt@=b/`), undefined, type);
    ok(!TEXT_TYPES.has(type));
  }
});

test("format: a hostile nickname and message cannot reach the terminal's control plane", () => {
  const hostile =
    "\x1b]0;owned\x07\x1b[2J\x1b[31mred\r\nnext\u009b1m\u202eevil\u2028x\tz\x00\u200b\u3164\u{e0041}\ud800" +
    "\u200emark\u200f\u061c";
  for (const type of ["chatmsg", "uenter", "dgb", "newblackres", "anbc", "spbc", "blab"]) {
    const msg = {
      type,
      nn: hostile,
      txt: hostile,
      dnic: hostile,
      snic: hostile,
      unk: hostile,
      sn: hostile,
      dn: hostile,
      gn: hostile,
      gfn: hostile,
      bnn: hostile,
      level: hostile,
      gfcnt: hostile,
    } as Message;
    for (const color of [false, true]) {
      const formatted = formatMessage(msg, { color, all: true, now: AT })!;
      const plain = color ? formatted.replace(/\x1b\[\d+m/g, "") : formatted;
      ok(!UNSAFE.test(plain), `${type}: ${JSON.stringify(plain)}`);
      if (color) ok(!/\x1b(?!\[\d+m)/.test(formatted), `stray ESC in ${JSON.stringify(formatted)}`);
    }
  }
  const json = formatJson({ type: "chatmsg", nn: hostile } as Message);
  ok(!CONTROL.test(json), json);
  deepStrictEqual(JSON.parse(json), { type: "chatmsg", nn: hostile });
});

test("format: colour wraps columns in SGR codes, and chat colours follow `col`", () => {
  const formatted = line("type@=chatmsg/nn@=Ann/level@=1/txt@=hi/col@=1/", { color: true })!;
  ok(formatted.includes("\x1b[31mhi\x1b[0m"), JSON.stringify(formatted));
  strictEqual(
    formatted.replace(/\x1b\[\d+m/g, ""),
    line("type@=chatmsg/nn@=Ann/level@=1/txt@=hi/")!,
  );
  ok(!line("type@=chatmsg/nn@=Ann/txt@=hi/")!.includes("\x1b"));
});

test("format: wire values naming Object.prototype members are no colour and no operator", () => {
  const plainChat = line("type@=chatmsg/nn@=Ann/level@=1/txt@=hi/")!;
  for (const value of ["constructor", "__proto__", "toString", "hasOwnProperty", "valueOf"]) {
    strictEqual(
      textOf(line(`type@=newblackres/otype@=${value}/snic@=Mod/dnic@=Spammer/`)),
      "was muted by someone Mod",
      `otype@=${value}`,
    );
    const colored = line(`type@=chatmsg/nn@=Ann/level@=1/txt@=hi/col@=${value}/`, {
      color: true,
    })!;
    // The text keeps no colour at all, and nothing but SGR codes is added.
    ok(colored.endsWith(" hi"), `col@=${value}: ${JSON.stringify(colored)}`);
    strictEqual(colored.replace(/\x1b\[\d+m/g, ""), plainChat, `col@=${value}`);
    strictEqual(line(`type@=chatmsg/nn@=Ann/level@=1/txt@=hi/col@=${value}/`), plainChat);
  }
  // The known values still map.
  strictEqual(
    textOf(line("type@=newblackres/otype@=3/snic@=Mod/dnic@=Spammer/")),
    "was muted by super admin Mod",
  );
  ok(line("type@=chatmsg/txt@=hi/col@=5/", { color: true })!.endsWith("\x1b[35mhi\x1b[0m"));
});

test("format: formatJson is JSON.stringify, and parses back to the same message", async () => {
  for (const v of await vectors()) {
    const msg = parseMessage(v.body);
    const json = formatJson(msg);
    deepStrictEqual(JSON.parse(json), JSON.parse(JSON.stringify(msg)));
    ok(!json.includes("\n"));
  }
  strictEqual(formatJson(parseMessage("type@=chatmsg/txt@=hi/")), '{"type":"chatmsg","txt":"hi"}');
});

test("format: a message's own _gift, _room, _t or _repeat cannot pass for the fields formatJson adds", () => {
  const forged = parseMessage(
    "type@=chatmsg/txt@=hi/_gift@=value@AA=1000000@AS/_room@=288016/_t@=1/_repeat@=9/_x@=y/",
  );
  // Ours replace them; where we add nothing, they are left out (a wire `_x` stays: no field of ours).
  strictEqual(formatJson(forged, { _t: 5 }), '{"type":"chatmsg","txt":"hi","_t":5,"_x":"y"}');
  strictEqual(
    formatJson(forged, { _room: 7, _gift: { name: "花", value: 0.1 } }),
    '{"type":"chatmsg","txt":"hi","_gift":{"name":"花","value":0.1},"_room":7,"_x":"y"}',
  );
});

test("sample: a valid recording of realistic, correctly escaped messages", () => {
  deepStrictEqual(sampleRecording(), sampleRecording(), "the same on every call");
  const start = Date.UTC(2030, 0, 1);
  strictEqual(sampleRecording(start)[0]!.t, start);
  const lines = sampleRecording();
  ok(lines.length >= 30 && lines.length <= 60, `${lines.length} lines`);
  const span = lines.at(-1)!.t - lines[0]!.t;
  ok(span >= 10_000 && span <= 20_000, `${span} ms`);
  for (let i = 1; i < lines.length; i++) ok(lines[i]!.t >= lines[i - 1]!.t);
  deepStrictEqual(parseRecording(lines.map(serializeRecordLine).join("")), lines);
  const messages = lines.map((l) => parseMessage(l.body));
  const types = new Set(messages.map((m) => m.type));
  for (
    const type of ["chatmsg", "uenter", "dgb", "comm_chatmsg", "newblackres", "rss", "spbc", "anbc"]
  ) {
    ok(types.has(type), type);
  }
  // Nested fields decode: the super chat's chat map, effects, ranking entries.
  const sc = messages.find((m) => m.type === "comm_chatmsg") as Message & {
    chatmsg: { nn: string; ail: string[] };
  };
  strictEqual(sc.chatmsg.nn, "Morning_Dew");
  deepStrictEqual(sc.chatmsg.ail, ["2614", "1446"]);
  const ranklist = messages.find((m) => m.type === "ranklist") as Message & {
    list: { ail?: string[] }[];
  };
  deepStrictEqual(ranklist.list[0]!.ail, ["453"]);
  const chat = messages.find((m) => m.type === "chatmsg" && m.txt?.toString().includes("a/b"));
  ok(chat !== undefined, "a chat with a slash survives escaping");
  ok(messages.some((m) => m.type === "chatmsg" && m.dms === undefined), "a bot-like chat");
  ok(messages.some((m) => m.rid !== undefined && m.rid !== String(SAMPLE_ROOM)), "another room");
});

/** A message whose every name field is `name` and every text field is `text`. */
function everyField(type: string, name: string, text: string): Message {
  return {
    type,
    nn: name,
    unk: name,
    snic: name,
    dnic: name,
    sn: name,
    dn: name,
    donk: name,
    nk: name,
    receive_nn: name,
    drid: "7",
    txt: text,
    content: text,
    gfn: text,
    gn: text,
    chatmsg: { nn: name, txt: text, level: "3" },
    btype: "voiceDanmu",
    cprice: "3000",
    cet: "60",
    sui: { nick: name, level: "3" },
    lev: "1",
  } as unknown as Message;
}

test("format: names show invisible characters as escapes, message texts lose them", () => {
  const spoof = "A\u200bnn";
  const shown = "A<U+200B>nn";
  const expected: [string, number][] = [
    // type, how many names the line shows
    ["chatmsg", 1],
    ["uenter", 1],
    ["dgb", 2], // sender, receiver
    ["spbc", 2], // sender, host
    ["comm_chatmsg", 1],
    ["newblackres", 2], // target, operator
    ["anbc", 2], // noble, host
    ["rnewbc", 2],
    ["upgrade", 1],
    ["blab", 1],
    ["rankup", 1],
    ["bc_buy_deserve", 1],
  ];
  for (const [type, names] of expected) {
    for (const color of [false, true]) {
      const formatted = formatMessage(everyField(type, spoof, "hi\u200bthere"), {
        color,
        now: AT,
      })!;
      const plain = formatted.replace(/\x1b\[\d+m/g, "");
      strictEqual(plain.split(shown).length - 1, names, `${type}: ${JSON.stringify(plain)}`);
      ok(!/\bAnn\b/.test(plain), `${type} shows a name as Ann: ${JSON.stringify(plain)}`);
      ok(!UNSAFE.test(plain), `${type}: ${JSON.stringify(plain)}`);
    }
  }
  // The name column, and the text: removed there.
  const chat = formatMessage(everyField("chatmsg", spoof, "hi\u200bthere"), { now: AT })!;
  ok(chat.startsWith(`20:15:03 chat          ${shown}`), chat);
  strictEqual(textOf(chat), "hithere");
  strictEqual(
    textOf(formatMessage(everyField("ssd", spoof, "hi\u200bthere"), { now: AT })),
    "hithere",
  );
  // Compact lines reveal nickname fields too, and only those.
  const compact = formatMessage(
    { type: "synexp", nn: spoof, nickname: spoof, note: "a\u200bb" } as Message,
    { all: true, now: AT },
  )!;
  strictEqual(textOf(compact), `nn=${shown} nickname=${shown} note=ab`);
});

test("format: with colour, a revealed escape in the name column is dim, the rest bold", () => {
  const body = "type@=chatmsg/nn@=A\u200bnn/level@=1/txt@=hi/";
  const colored = line(body, { color: true })!;
  ok(
    colored.includes("\x1b[1mA\x1b[0m\x1b[2m<U+200B>\x1b[0m\x1b[1mnn"),
    JSON.stringify(colored),
  );
  strictEqual(colored.replace(/\x1b\[\d+m/g, ""), line(body)!);
  // A name without escapes is painted as before.
  ok(line("type@=chatmsg/nn@=Ann/txt@=hi/", { color: true })!.includes("\x1b[1mAnn "));
});
