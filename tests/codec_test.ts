import assert from "node:assert/strict";
import {
  decodeStt,
  decodeSttList,
  decodeSttMapList,
  decodeSttPairs,
  encodeFrame,
  encodeStt,
  escapeStt,
  FrameDecoder,
  peekType,
  peekTypeBytes,
  ProtocolError,
  type SttValue,
  unescapeStt,
} from "../internal_mod.ts";
import { readFixture, test } from "./harness.ts";
import {
  decodeListAt,
  decodeMapAt,
  decodeMapGeneral,
  decodeMapListAt,
  decodeMapListRange,
  decodeMapRange,
} from "../src/protocol/stt.ts";
import {
  captureBodies,
  concat,
  randomInt,
  referenceDecode,
  seededRandom,
  vectors,
} from "./fixtures.ts";

const encoder = new TextEncoder();

test("encodeFrame: byte-exact heartbeat and UTF-8 byte lengths", () => {
  assert.deepEqual(
    [...encodeFrame("type@=mrkl/")],
    [
      0x14,
      0,
      0,
      0,
      0x14,
      0,
      0,
      0,
      0xb1,
      0x02,
      0,
      0,
      ...encoder.encode("type@=mrkl/"),
      0,
    ],
  );
  const cjk = encodeFrame("type@=chatmsg/txt@=你好/", 690);
  const view = new DataView(cjk.buffer);
  assert.equal(view.getUint32(0, true), 35);
  assert.equal(view.getUint32(4, true), 35);
  assert.equal(view.getUint16(8, true), 690);
  assert.equal(cjk.length, 39);
});

test("FrameDecoder: every real body round-trips through a frame", async () => {
  const bodies = [...(await vectors()).map((v) => v.body), ...(await captureBodies())];
  const decoder = new FrameDecoder();
  for (const body of bodies) {
    assert.deepEqual(decoder.push(encodeFrame(body, 690)), [{ type: 690, body }]);
  }
  assert.equal(decoder.bufferedBytes, 0);
});

test("FrameDecoder: whole capture in random splits and byte by byte", async () => {
  const bodies = await captureBodies();
  const stream = concat(bodies.map((b) => encodeFrame(b, 690)));
  const expected = bodies.map((body) => ({ type: 690, body }));
  const random = seededRandom(7);
  for (let round = 0; round < 20; round++) {
    const decoder = new FrameDecoder();
    const got = [];
    for (let pos = 0; pos < stream.length;) {
      const size = 1 + randomInt(random, round % 2 ? 64 : 4096);
      got.push(...decoder.push(stream.subarray(pos, pos + size)));
      pos += size;
    }
    assert.deepEqual(got, expected);
  }
  const decoder = new FrameDecoder();
  const got = [];
  for (let i = 0; i < stream.length; i++) got.push(...decoder.push(stream.subarray(i, i + 1)));
  assert.deepEqual(got, expected);
});

test("FrameDecoder: reads DataView fields at the subarray's byteOffset", () => {
  const frame = encodeFrame("type@=mrkl/", 690);
  const big = new Uint8Array(frame.length + 13);
  big.fill(0xff);
  big.set(frame, 7);
  assert.deepEqual(new FrameDecoder().push(big.subarray(7, 7 + frame.length)), [
    { type: 690, body: "type@=mrkl/" },
  ]);
});

test("FrameDecoder: invalid UTF-8 becomes replacement characters", () => {
  const frame = encodeFrame("type@=chatmsg/txt@=ab/", 690);
  frame[12 + 19] = 0xff;
  const [decoded] = new FrameDecoder().push(frame);
  assert.equal(decoded?.body, "type@=chatmsg/txt@=\ufffdb/");
});

test("FrameDecoder: rejects short, oversize and mismatched lengths", () => {
  const header = (a: number, b: number) => {
    const bytes = new Uint8Array(12);
    const view = new DataView(bytes.buffer);
    view.setUint32(0, a, true);
    view.setUint32(4, b, true);
    return bytes;
  };
  assert.throws(() => new FrameDecoder().push(header(8, 8)), ProtocolError);
  assert.throws(() => new FrameDecoder().push(header(0, 0)), ProtocolError);
  assert.throws(() => new FrameDecoder().push(header(20, 21)), /differ/);
  assert.throws(() => new FrameDecoder().push(header(0x7fffffff, 0x7fffffff)), /exceeds/);
  assert.throws(
    () => new FrameDecoder({ maxFrameSize: 100 }).push(header(101, 101)),
    ProtocolError,
  );
  // The hostile header arriving in pieces is rejected as soon as it is whole,
  // before any buffer of that size exists.
  const decoder = new FrameDecoder();
  const hostile = header(2_000_000_000, 2_000_000_000);
  assert.deepEqual(decoder.push(hostile.subarray(0, 5)), []);
  assert.throws(() => decoder.push(hostile.subarray(5)), ProtocolError);
  assert.ok(decoder.bufferedBytes <= 12);
  // Once failed, it stays failed, whether or not good frames came before the bad header:
  // the bytes after it are not frames.
  const failed = new FrameDecoder();
  assert.throws(() => failed.push(header(20, 21)), /differ/);
  assert.ok(failed.error instanceof ProtocolError);
  assert.throws(() => failed.push(encodeFrame("type@=chatmsg/txt@=injected/", 690)), /differ/);
});

test("FrameDecoder: a 10 MB push decodes in linear time", () => {
  const frame = encodeFrame("type@=chatmsg/nn@=x/txt@=" + "y".repeat(40) + "/", 690);
  const count = Math.ceil(10_000_000 / frame.length);
  const stream = new Uint8Array(count * frame.length + 5);
  for (let i = 0; i < count; i++) stream.set(frame, i * frame.length);
  stream.set(frame.subarray(0, 5), count * frame.length);
  const decoder = new FrameDecoder();
  const started = performance.now();
  const frames = decoder.push(stream);
  const elapsed = performance.now() - started;
  assert.equal(frames.length, count);
  assert.equal(decoder.bufferedBytes, 5);
  // Copying the remainder per frame would move ~count²·len/2 bytes (tens of
  // TB); linear decoding takes well under a second even on a loaded machine.
  assert.ok(elapsed < 5000, `took ${elapsed} ms`);
});

test("FrameDecoder: filter skips frames before text decoding", () => {
  const stream = concat([
    encodeFrame("type@=mrkl/", 690),
    encodeFrame("type@=chatmsg/txt@=hi/", 690),
  ]);
  const seen: string[] = [];
  const decoder = new FrameDecoder({
    filter: (body) => {
      const type = peekTypeBytes(body) ?? "";
      seen.push(type);
      return type === "chatmsg";
    },
  });
  assert.deepEqual(decoder.push(stream), [{ type: 690, body: "type@=chatmsg/txt@=hi/" }]);
  assert.deepEqual(seen, ["mrkl", "chatmsg"]);
});

test("encodeStt: escaping per depth matches real traffic", async () => {
  assert.equal(encodeStt({ el: [{ eid: "1", etp: "2" }] }), "el@=eid@AA=1@ASetp@AA=2@AS@S/");
  assert.equal(
    encodeStt({ el: [{ eid: 1500000113, etp: 1, sc: 1, ef: 0 }] }),
    "el@=eid@AA=1500000113@ASetp@AA=1@ASsc@AA=1@ASef@AA=0@AS@S/",
  );
  assert.equal(encodeStt({ type: "loginreq", roomid: 9999 }), "type@=loginreq/roomid@=9999/");
  assert.equal(encodeStt(["a/b", "c@d"]), "a@Sb/c@Ad/");
  assert.equal(encodeStt({ a: undefined, b: true }), "b@=true/");
  // A real uenter `el` re-encodes to its wire text.
  const uenter = (await vectors()).find((v) => v.name === "uenter")!.body;
  const el = decodeStt(uenter).el!;
  assert.equal(encodeStt(decodeSttMapList(el)), el);
});

test("decodeStt: one level, strings kept, first duplicate wins", async () => {
  assert.deepEqual(decodeStt("type@=rss/ss@=1/ivl@=0/"), { type: "rss", ss: "1", ivl: "0" });
  assert.deepEqual(decodeStt("type@=chatmsg//novalue/txt@=hi/"), { type: "chatmsg", txt: "hi" });
  assert.deepEqual(decodeStt("k@=1/k@=2/"), { k: "1" });
  assert.deepEqual(decodeStt("txt@=a@Ab@Sc/"), { txt: "a@b/c" });
  assert.deepEqual(decodeStt("type@=loginres/username@=/nickname@=/"), {
    type: "loginres",
    username: "",
    nickname: "",
  });
  assert.deepEqual(decodeStt("nn@=@AAlice/"), { nn: "@Alice" });
  assert.deepEqual(decodeStt("a@=1/b@=2"), { a: "1", b: "2" });
  assert.deepEqual(decodeStt(""), {});
  assert.deepEqual(decodeStt("////"), {});
  const all = await vectors();
  const rri = decodeStt(all.find((v) => v.name === "rri")!.body);
  assert.equal(rri.rid, "3898464");
  assert.equal(rri.type, "rri");
  const qa = decodeStt(all.find((v) => v.name === "qausrespond")!.body);
  assert.equal(qa.rid, "3898464");
  const chat = decodeStt(all.find((v) => v.name === "chatmsg")!.body);
  assert.equal(chat.ic, "avb8cbb3ff89cb026d88f");
  const up = decodeStt(all.find((v) => v.name === "upgrade")!.body);
  assert.equal(up.ic, "avatar_v3/202007/bd33d5c01c034ba1835724b88836ecc5");
  const gb = decodeStt(all.find((v) => v.name === "gbroadcast")!.body);
  assert.equal(JSON.parse(gb.gbcc!).nick, "酱油之神千亿");
});

test("decodeStt: wire keys never touch a prototype", () => {
  const msg = decodeStt(
    "__proto__@=polluted/constructor@=c/toString@=t/hasOwnProperty@=h/__proto__@=again/",
  );
  assert.equal(Object.getPrototypeOf(msg), Object.prototype);
  assert.equal(Object.getOwnPropertyDescriptor(msg, "__proto__")?.value, "polluted");
  assert.equal(msg.constructor as unknown, "c");
  assert.equal(msg.toString as unknown, "t");
  assert.deepEqual(Object.keys(msg), ["__proto__", "constructor", "toString", "hasOwnProperty"]);
  assert.equal(({} as Record<string, unknown>).polluted, undefined);
  assert.equal(Object.prototype.toString.call({}), "[object Object]");
  const nested = decodeStt("x@=__proto__@A=p@S/");
  assert.equal(typeof nested.x, "string");
});

test("decodeSttList, decodeSttPairs and peekType", () => {
  assert.deepEqual(decodeSttList("a/b@Sc/"), ["a", "b/c"]);
  assert.deepEqual(decodeSttList("a/b"), ["a", "b"]);
  assert.deepEqual(decodeSttList(""), []);
  assert.deepEqual(decodeSttPairs("rid@=1/type@=rri/rid@=-1/bad/"), [
    ["rid", "1"],
    ["type", "rri"],
    ["rid", "-1"],
  ]);
  assert.equal(peekType("type@=chatmsg/a@=1/"), "chatmsg");
  assert.equal(peekType("rid@=1/type@=rri/"), "rri");
  assert.equal(peekType("xtype@=no/"), undefined);
  assert.equal(peekType("a@=xtype@=no/"), undefined);
  assert.equal(peekType("type@=last"), "last");
  for (const body of ["rid@=1/type@=rri/", "type@=x/", "ztype@=q/type@=y/", "a@=b/", ""]) {
    assert.equal(peekTypeBytes(encoder.encode(body)), peekType(body), body);
    assert.equal(peekType(body), decodeStt(body).type, body);
  }
});

test("property: escape round trip on hostile text", () => {
  const random = seededRandom(42);
  const alphabet = ["@", "/", "@S", "@A", "@=", "=", "A", "S", "你", "好", "😀", "a", " ", "\0"];
  for (let i = 0; i < 2000; i++) {
    let text = "";
    const n = randomInt(random, 20);
    for (let j = 0; j < n; j++) text += alphabet[randomInt(random, alphabet.length)];
    assert.equal(unescapeStt(escapeStt(text)), text);
    const escaped = escapeStt(text);
    assert.ok(!escaped.includes("/"));
    assert.deepEqual(decodeStt(encodeStt({ [text || "k"]: text })), { [text || "k"]: text });
    assert.deepEqual(decodeSttList(encodeStt([text, text])), [text, text]);
  }
});

test("property: nested maps and arrays up to depth 3 round-trip", () => {
  const random = seededRandom(3);
  const alphabet = ["@", "/", "@S", "@A", "x", "你", "😀", "AS"];
  const text = () => {
    let s = "";
    const n = 1 + randomInt(random, 6);
    for (let j = 0; j < n; j++) s += alphabet[randomInt(random, alphabet.length)];
    return s;
  };
  // Generate a shape, encode, and decode it back by walking the same shape.
  type Shape = "s" | { map: Record<string, Shape> } | { list: Shape[] };
  const makeShape = (depth: number): Shape => {
    if (depth === 0 || random() < 0.3) return "s";
    if (random() < 0.5) {
      const map: Record<string, Shape> = {};
      for (let i = 0, n = 1 + randomInt(random, 3); i < n; i++) {
        map[`k${i}${text()}`] = makeShape(depth - 1);
      }
      return { map };
    }
    return { list: Array.from({ length: 1 + randomInt(random, 3) }, () => makeShape(depth - 1)) };
  };
  const makeValue = (shape: Shape): SttValue => {
    if (shape === "s") return text();
    if ("map" in shape) {
      return Object.fromEntries(Object.entries(shape.map).map(([k, s]) => [k, makeValue(s)]));
    }
    return shape.list.map(makeValue);
  };
  const decodeAs = (raw: string, shape: Shape): SttValue => {
    if (shape === "s") return raw;
    if ("map" in shape) {
      const map = decodeStt(raw);
      return Object.fromEntries(
        Object.entries(shape.map).map(([k, s]) => [k, decodeAs(map[k] ?? "", s)]),
      );
    }
    const items = decodeSttList(raw);
    return shape.list.map((s, i) => decodeAs(items[i] ?? "", s));
  };
  for (let i = 0; i < 500; i++) {
    const shape: Shape = { map: { root: makeShape(3), other: makeShape(2) } };
    const value = makeValue(shape);
    assert.deepEqual(decodeAs(encodeStt(value), shape), value);
  }
});

test("hostile input: random bytes and mutated real frames raise only ProtocolError", async () => {
  const random = seededRandom(99);
  const real = (await captureBodies()).map((b) => encodeFrame(b, 690));
  const check = (bytes: Uint8Array) => {
    const decoder = new FrameDecoder({ maxFrameSize: 64 * 1024 });
    try {
      for (let pos = 0; pos < bytes.length;) {
        const size = 1 + randomInt(random, 300);
        for (const frame of decoder.push(bytes.subarray(pos, pos + size))) {
          decodeStt(frame.body);
          peekType(frame.body);
        }
        pos += size;
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
    }
    assert.ok(decoder.bufferedBytes <= 64 * 1024 + 4);
  };
  for (let i = 0; i < 3000; i++) {
    const bytes = new Uint8Array(randomInt(random, 600));
    for (let j = 0; j < bytes.length; j++) bytes[j] = randomInt(random, 256);
    // Plausible small headers make random bodies reach the STT decoder too.
    if (i % 2 && bytes.length >= 8) {
      const view = new DataView(bytes.buffer);
      const len = 9 + randomInt(random, bytes.length);
      view.setUint32(0, len, true);
      view.setUint32(4, len, true);
    }
    check(bytes);
  }
  for (let i = 0; i < 3000; i++) {
    const a = real[randomInt(random, real.length)]!;
    const b = real[randomInt(random, real.length)]!;
    const bytes = concat([a, b]);
    for (let m = 0, n = 1 + randomInt(random, 4); m < n; m++) {
      bytes[randomInt(random, bytes.length)] = randomInt(random, 256);
    }
    check(bytes);
  }
});

test("fixtures are present and parse", async () => {
  const text = await readFixture("capture_room102965.jsonl");
  assert.equal(text.trim().split("\n").length, 332);
});

test("property: nested decoding at level 1 equals unescape-then-decode", async () => {
  const random = seededRandom(11);
  const alphabet = ["@", "/", "@S", "@A", "@=", "A", "S", "=", "x", "你", "@AS", "@AA="];
  const text = () => {
    let s = "";
    for (let j = 0, n = randomInt(random, 6); j < n; j++) {
      s += alphabet[randomInt(random, alphabet.length)];
    }
    return s;
  };
  const raws: string[] = [];
  for (const v of await vectors()) {
    for (const value of Object.values(decodeStt(v.body))) raws.push(escapeStt(value));
  }
  for (let i = 0; i < 3000; i++) {
    const entries = Array.from({ length: randomInt(random, 4) }, () => ({
      [text() || "k"]: text(),
      ail: [text(), text()],
    }));
    raws.push(escapeStt(encodeStt(entries)));
    // Garbage decodes the same both ways too. A raw value is what the
    // server escaped, so every "@" in it starts "@A" or "@S".
    raws.push(escapeStt(text() + text() + text()));
  }
  for (const raw of raws) {
    const plain = unescapeStt(raw);
    assert.deepEqual(decodeMapListAt(raw, 1), decodeSttMapList(plain), raw);
    assert.deepEqual(decodeListAt(raw, 1), decodeSttList(plain), raw);
    assert.deepEqual(decodeMapAt(raw, 1), decodeStt(plain), raw);
  }
});

/** Same keys in the same order, same values. */
function assertSameMap(actual: object, expected: object, message: string): void {
  assert.deepEqual(Object.keys(actual), Object.keys(expected), message);
  assert.deepEqual(actual, expected, message);
}

test("property: decoding along learned key orders equals a reference decoder", async () => {
  const random = seededRandom(5);
  const pick = <T>(items: readonly T[]): T => items[randomInt(random, items.length)]!;
  // Few keys and values, so that key orders, optional keys and values repeat
  // (the fast path learns them) among hostile ones.
  const keys = ["type", "rid", "uid", "nn", "el", "__proto__", "a@b", "k/s", "", "toString", "1"];
  const values = [
    "",
    "0",
    "1",
    "102965",
    "@",
    "/",
    "@S",
    "@A",
    "@=",
    "a@Ab",
    "你好",
    "x".repeat(13),
  ];
  const types = ["chatmsg", "dgb", "x@Sy", ""];
  const bodies: string[] = [];
  for (let i = 0; i < 3000; i++) {
    let body = random() < 0.8 ? `type@=${escapeStt(pick(types))}/` : "";
    for (let n = randomInt(random, 8); n > 0; n--) {
      const r = random();
      if (r < 0.05) body += "novalue/";
      else if (r < 0.08) body += "/";
      else body += `${escapeStt(pick(keys))}@=${escapeStt(pick(values))}/`;
    }
    // Sometimes raw garbage: escapes the server would not write, a cut end.
    if (random() < 0.1) body += pick(["@", "@X", "a@=b@", "@A", "k@=v"]);
    bodies.push(body);
  }
  for (const v of await vectors()) bodies.push(v.body);
  bodies.push(...(await captureBodies()));
  // Each body three times: the first decode may learn, later ones follow.
  for (let round = 0; round < 3; round++) {
    for (const body of bodies) assertSameMap(decodeStt(body), referenceDecode(body), body);
  }
});

test("property: nested lists and maps, found in place, equal a reference decoder", async () => {
  const random = seededRandom(17);
  const pick = <T>(items: readonly T[]): T => items[randomInt(random, items.length)]!;
  const keys = ["uid", "nn", "ic", "lev", "num", "ail", "x@y", ""];
  const values = ["", "1", "7", "@Alice", "a/b", "@S", "@AS", "@A=", "你", "z".repeat(20)];
  const entry = (): Record<string, string | string[]> => {
    const map: Record<string, string | string[]> = {};
    for (let n = randomInt(random, 5); n > 0; n--) map[pick(keys)] = pick(values);
    if (random() < 0.2) map.ail = [pick(values), pick(values)];
    return map;
  };
  const lists: string[] = [];
  const maps: string[] = [];
  for (let i = 0; i < 2000; i++) {
    const raw = escapeStt(encodeStt(Array.from({ length: randomInt(random, 5) }, entry)));
    // Servers also send a list without its last terminator.
    lists.push(random() < 0.2 ? raw.replace(/@S$/, "") : raw);
    maps.push(escapeStt(encodeStt(entry())));
  }
  const referenceMapList = (plain: string) =>
    plain.split("/").filter((item) => item !== "").map((item) =>
      referenceDecode(unescapeStt(item))
    );
  // The raw value alone, and in place inside a larger text.
  const inside = (raw: string) => {
    const text = `k@=v/list@=${raw}/z@=1/`;
    const from = text.indexOf("list@=") + 6;
    return [text, from, from + raw.length] as const;
  };
  const check = (
    actual: Record<string, string>[],
    expected: Record<string, string>[],
    raw: string,
  ) => {
    assert.equal(actual.length, expected.length, raw);
    actual.forEach((map, i) => assertSameMap(map, expected[i]!, raw));
  };
  for (let round = 0; round < 2; round++) {
    for (const raw of lists) {
      const expected = referenceMapList(unescapeStt(raw));
      check(decodeMapListAt(raw, 1), expected, raw);
      check(decodeMapListRange(...inside(raw), 1), expected, raw);
      check(decodeSttMapList(unescapeStt(raw)), expected, raw);
    }
    for (const raw of maps) {
      const expected = referenceDecode(unescapeStt(raw));
      assertSameMap(decodeMapAt(raw, 1), expected, raw);
      assertSameMap(decodeMapRange(...inside(raw), 1), expected, raw);
    }
    // Real values, whatever their shape: in place or cut out, the same.
    for (const v of await vectors()) {
      for (const value of Object.values(decodeStt(v.body))) {
        const raw = escapeStt(value);
        check(decodeMapListRange(...inside(raw), 1), decodeMapListAt(raw, 1), raw);
        assertSameMap(decodeMapRange(...inside(raw), 1), decodeMapAt(raw, 1), raw);
      }
    }
  }
});

test("hostile input: floods of new keys stay bounded and decode right", () => {
  const random = seededRandom(23);
  // Past the bounds on key orders (children per key, nodes in all), which
  // are then forgotten and learned again.
  for (let i = 0; i < 40000; i++) {
    const body = `type@=t${i % 500}/k${randomInt(random, 100000)}@=1/shared@=2/k${i}@=3/`;
    assertSameMap(decodeStt(body), referenceDecode(body), body);
  }
  for (let i = 0; i < 600; i++) {
    const body = `type@=t${i}/a@=1/`;
    assertSameMap(decodeStt(body), referenceDecode(body), body);
  }
});

test("property: on any text, at any level, the fast path equals the general one", () => {
  const random = seededRandom(31);
  const alphabet = ["@", "A", "S", "=", "/", "x", "k", "你", "@A", "@S", "@AA=", "@A=", "@="];
  const tokens = ["@AS", "@AAS", "@S", "/", "@AAA=", "@AAAS"];
  const texts: string[] = [];
  for (let i = 0; i < 3000; i++) {
    let text = "";
    for (let n = randomInt(random, 12); n > 0; n--) {
      text += random() < 0.3
        ? tokens[randomInt(random, tokens.length)]
        : alphabet[randomInt(random, alphabet.length)];
    }
    texts.push(text);
  }
  // Lists as decodeMapListAt splits them, each item by the general path.
  const generalList = (text: string, level: number) => {
    const end = ["/", "@S", "@AS", "@AAS"][level]!;
    const out: Record<string, string>[] = [];
    for (let start = 0; start < text.length;) {
      let stop = text.indexOf(end, start);
      if (stop === -1) stop = text.length;
      if (stop > start) out.push(decodeMapGeneral(text.slice(start, stop), level + 1));
      start = stop + end.length;
    }
    return out;
  };
  for (let round = 0; round < 2; round++) {
    for (const text of texts) {
      for (let level = 0; level <= 3; level++) {
        assertSameMap(decodeMapAt(text, level), decodeMapGeneral(text, level), `${level} ${text}`);
        const list = decodeMapListAt(text, level);
        const expected = generalList(text, level);
        assert.equal(list.length, expected.length, `${level} ${text}`);
        list.forEach((map, i) => assertSameMap(map, expected[i]!, `${level} ${text}`));
      }
    }
  }
});

test("FrameDecoder: good frames before bad bytes are returned, then it fails", () => {
  const bad = new Uint8Array(12).fill(0xff);
  const decoder = new FrameDecoder();
  const frames = decoder.push(
    concat([encodeFrame("type@=a/", 690), encodeFrame("type@=b/", 690), bad]),
  );
  assert.deepEqual(frames.map((f) => f.body), ["type@=a/", "type@=b/"]);
  assert.ok(decoder.error instanceof ProtocolError);
  assert.throws(() => decoder.push(encodeFrame("type@=c/", 690)), ProtocolError);
  decoder.reset();
  assert.equal(decoder.error, undefined);
  assert.deepEqual(decoder.push(encodeFrame("type@=c/", 690)).length, 1);
});

test("FrameDecoder: a stream that starts with HTTP/ fails at once, suggesting ws://", () => {
  const response = encoder.encode(
    "HTTP/1.1 400 Bad Request\r\nConnection: close\r\nContent-Length: 0\r\n\r\n",
  );
  const isHint = (error: unknown) =>
    error instanceof ProtocolError &&
    /answered with HTTP, not Douyu's binary protocol/.test(error.message) &&
    /use ws:\/\/ or wss:\/\//.test(error.message);
  assert.throws(() => new FrameDecoder().push(response), isHint);
  // However the first bytes are split, also one by one.
  for (let split = 1; split < 5; split++) {
    const decoder = new FrameDecoder();
    assert.deepEqual(decoder.push(response.subarray(0, split)), [], `split at ${split}`);
    assert.throws(() => decoder.push(response.subarray(split)), isHint, `split at ${split}`);
  }
  for (let split = 5; split < 12; split++) {
    assert.throws(() => new FrameDecoder().push(response.subarray(0, split)), isHint);
  }
  const bytewise = new FrameDecoder();
  for (let i = 0; i < 4; i++) assert.deepEqual(bytewise.push(response.subarray(i, i + 1)), []);
  assert.throws(() => bytewise.push(response.subarray(4, 5)), isHint);
  assert.throws(() => bytewise.push(response.subarray(5)), isHint, "and from then on");
  // reset() starts a new stream: the check applies again.
  bytewise.reset();
  assert.throws(() => bytewise.push(response), isHint);
});

test("FrameDecoder: only the very start of a stream is checked for HTTP/", () => {
  const response = encoder.encode("HTTP/1.1 400 Bad Request\r\n\r\n");
  const notHint = (error: unknown) =>
    error instanceof ProtocolError && /length fields differ/.test(error.message);
  // After a frame: the plain framing error.
  const later = new FrameDecoder();
  assert.equal(later.push(encodeFrame("type@=a/", 690)).length, 1);
  assert.throws(() => later.push(response), notHint);
  // In the same chunk as a frame before it: the frame, then the plain error.
  const glued = new FrameDecoder();
  assert.equal(glued.push(concat([encodeFrame("type@=a/", 690), response])).length, 1);
  assert.ok(glued.error !== undefined && notHint(glued.error));
  // Almost HTTP: the plain error.
  assert.throws(() => new FrameDecoder().push(encoder.encode("HTTP 1.1 400 Bad Request")), notHint);
  assert.throws(() => new FrameDecoder().push(encoder.encode("http/1.1 400 Bad Request")), notHint);
  // A real first frame that happens to start with H is decoded as usual.
  const frame = encodeFrame("type@=" + "x".repeat(72 - 9 - 7) + "/", 690);
  assert.equal(frame[0], 0x48, "length 72 is 'H'");
  assert.equal(new FrameDecoder().push(frame).length, 1);
});
