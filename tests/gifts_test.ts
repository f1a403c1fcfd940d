import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { GiftCatalogError } from "../src/web/errors.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import type { FetchLike } from "../src/web/http.ts";
import { GiftCatalog, type GiftEntry, giftOf } from "../src/protocol/gifts.ts";
import { fetchGiftCatalog, GiftCatalogCache, type GiftCatalogOptions } from "../src/web/gifts.ts";
import { failure, readFixture, test } from "./harness.ts";
import {
  answer,
  endlessBody,
  type Handler,
  type LocalHttp,
  send,
  withServer,
} from "./local_http.ts";

/** Recorded shapes (tests/fixtures/http_*): a room's gift list and the JSONP props config. */
const giftListBody = await readFixture("http_gift_list.json");
const propsBody = await readFixture("http_prop_gift_config.jsonp");

const GIFT_PATH = "/api/gift/v3/web/list?rid=";
const PROPS_PATH = "/resource/common/prop_gift_list/prop_gift_config.json";

/** The gift list and the props config; a missing handler answers 404. */
function routes(list?: Handler, props?: Handler): Handler {
  return (req, res) => {
    const url = req.url ?? "";
    const h = url.startsWith(GIFT_PATH) ? list : url === PROPS_PATH ? props : undefined;
    if (h) h(req, res);
    else send(res, 404, "not found");
  };
}

function opts(local: LocalHttp, extra: GiftCatalogOptions = {}): GiftCatalogOptions {
  return { giftApiBase: local.base, propsBase: local.base, timeout: 5000, ...extra };
}

/** A fetch answering from memory: `list` and `props` are bodies or a status code. */
function memoryFetch(
  list: string | number,
  props: string | number,
  count?: { n: number },
): FetchLike {
  return (url) => {
    if (count) count.n++;
    const answer = url.includes(GIFT_PATH) ? list : props;
    return Promise.resolve(
      typeof answer === "number" ? new Response("x", { status: answer }) : new Response(answer),
    );
  };
}

const ROCKET_ICON = "https://gfs-op.douyucdn.cn/dygift/2020/10/12/7c2e.png";

// ---------------------------------------------------------------------------
// fetchGiftCatalog

test("fetchGiftCatalog: the room's list and the props config, from the recorded shapes", async () => {
  await withServer(
    routes(answer(giftListBody), answer(propsBody, "application/javascript")),
    async (local) => {
      const catalog = await fetchGiftCatalog(102965, opts(local));
      strictEqual(catalog.roomId, 102965);
      deepStrictEqual(catalog.problems, []);
      strictEqual(catalog.size, 5 + 4);
      deepStrictEqual(catalog.get(20004), {
        id: "20004",
        name: "\u706b\u7bad",
        price: 50000,
        priceType: "YUCHI",
        paid: true,
        icon: ROCKET_ICON,
        source: "room",
      });
      // No giftPic: the chatPic is the icon.
      strictEqual(
        catalog.get("20006")?.icon,
        "https://gfs-op.douyucdn.cn/dygift/2020/10/12/a1b2_chat.png",
      );
      // YUWAN: free.
      strictEqual(catalog.get(20008)?.paid, false);
      // From the props config: no priceType, price in fen, himg icon.
      deepStrictEqual(catalog.get(824), {
        id: "824",
        name: "\u7c89\u4e1d\u8367\u5149\u68d2",
        price: 0,
        icon: "https://gfs-op.douyucdn.cn/dygift/1704/9f9f_h.png",
        source: "props",
      });
      // An id in both: the room's list wins.
      strictEqual(catalog.get(20004)?.source, "room");
      strictEqual(catalog.get(1), undefined);
      strictEqual([...catalog.entries()].length, 9);
      // Both requests went out, with a browser agent and Douyu's Referer.
      deepStrictEqual(local.paths.toSorted(), [`${GIFT_PATH}102965`, PROPS_PATH]);
      for (const headers of local.headers) {
        ok(headers["user-agent"]?.startsWith("Mozilla/5.0"));
        strictEqual(headers.referer, "https://www.douyu.com/");
      }
    },
  );
});

test("fetchGiftCatalog: one source failing leaves a catalogue that says so", async () => {
  await withServer(routes(undefined, answer(propsBody)), async (local) => {
    const catalog = await fetchGiftCatalog("102965", opts(local));
    deepStrictEqual(catalog.problems, ["gift list: HTTP 404"]);
    strictEqual(catalog.get(824)?.source, "props");
    strictEqual(
      catalog.get(20004)?.name,
      "\u65e7\u706b\u7bad",
      "the props entry, as the only one left",
    );
  });
  await withServer(routes(answer(giftListBody), answer("<html>busy</html>")), async (local) => {
    const catalog = await fetchGiftCatalog(102965, opts(local));
    deepStrictEqual(catalog.problems, [
      "props config: response is neither JSON nor DYConfigCallback(...)",
    ]);
    strictEqual(catalog.get(20004)?.source, "room");
  });
});

test("fetchGiftCatalog: both failing is a GiftCatalogError naming both", async () => {
  await withServer(routes((_q, res) => send(res, 500, "x")), async (local) => {
    const error = await failure(fetchGiftCatalog(9999, opts(local)));
    ok(error instanceof GiftCatalogError, String(error));
    strictEqual(
      error.message,
      "no gift catalogue for room 9999: gift list: HTTP 500; props config: HTTP 404",
    );
    ok(error.cause instanceof AggregateError && error.cause.errors.length === 2);
  });
  // With props: false, the list alone decides.
  const fetch = memoryFetch(500, propsBody);
  const error = await failure(fetchGiftCatalog(9999, { fetch, props: false }));
  ok(
    error instanceof GiftCatalogError && error.message.endsWith("gift list: HTTP 500"),
    String(error),
  );
});

test("fetchGiftCatalog: a slow source times out alone; both slow is still bounded", async () => {
  const hanging: ServerResponse[] = [];
  await withServer(
    routes((_req, res) => void hanging.push(res), answer(propsBody)),
    async (local) => {
      const started = Date.now();
      const catalog = await fetchGiftCatalog(9999, opts(local, { timeout: 300 }));
      const elapsed = Date.now() - started;
      ok(elapsed >= 250 && elapsed < 3000, `took ${elapsed} ms`);
      deepStrictEqual(catalog.problems, [
        "gift list: fetching the gift list of room 9999 timed out after 300 ms",
      ]);
      strictEqual(catalog.get(824)?.price, 0);
    },
  );
  await withServer(() => {}, async (local) => {
    const error = await failure(fetchGiftCatalog(9999, opts(local, { timeout: 300 })));
    ok(error instanceof GiftCatalogError, String(error));
    ok(error.message.includes("timed out after 300 ms"), error.message);
  });
  // A body that starts and then stalls is cut off by the same limit.
  const stall: Handler = (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"error":0,"data":{"giftList":[');
  };
  await withServer(routes(stall, stall), async (local) => {
    const error = await failure(fetchGiftCatalog(9999, opts(local, { timeout: 300 })));
    ok(error instanceof GiftCatalogError, String(error));
  });
});

test("fetchGiftCatalog: a huge answer is refused, by bytes or by count", async () => {
  // Past maxBytes, declared or streamed without end.
  const stream = endlessBody();
  await withServer(routes(stream, answer(propsBody)), async (local) => {
    const started = Date.now();
    const catalog = await fetchGiftCatalog(9999, opts(local, { maxBytes: 64 * 1024 }));
    deepStrictEqual(catalog.problems, ["gift list: response exceeds maxBytes (65536)"]);
    strictEqual(stream.requests, 1);
    ok(Date.now() - started < 3000);
  });
  // More entries than maxGifts: that source is refused whole.
  const many = JSON.stringify({
    error: 0,
    data: { giftList: Array.from({ length: 50 }, (_, i) => ({ id: i + 1, name: `g${i}` })) },
  });
  const manyProps = `DYConfigCallback(${
    JSON.stringify({
      error: 0,
      data: Object.fromEntries(Array.from({ length: 50 }, (_, i) => [i + 1, { name: "p" }])),
    })
  });`;
  const error = await failure(
    fetchGiftCatalog(9999, { fetch: memoryFetch(many, manyProps), maxGifts: 49 }),
  );
  ok(error instanceof GiftCatalogError, String(error));
  ok(error.message.includes("gift list: more than 49 gifts in response"), error.message);
  ok(error.message.includes("props config: more than 49 props in response"), error.message);
  strictEqual(
    (await fetchGiftCatalog(9999, { fetch: memoryFetch(many, manyProps), maxGifts: 50 })).size,
    100,
  );
});

test("fetchGiftCatalog: junk answers are failures, junk entries are skipped", async () => {
  const junkBodies: [string, string][] = [
    ["not json", "gift list: response is not JSON"],
    ["[1,2,3]", "gift list: response is not a JSON object"],
    ['{"error":1,"data":{}}', "gift list: error 1"],
    ['{"data":{"giftList":[]}}', "gift list: no error code in response"],
    ['{"error":0,"data":null}', "gift list: no data object in response"],
    ['{"error":0,"data":{"giftList":{"0":{}}}}', "gift list: no data.giftList array in response"],
  ];
  for (const [list, problem] of junkBodies) {
    const catalog = await fetchGiftCatalog(9999, { fetch: memoryFetch(list, propsBody) });
    deepStrictEqual(catalog.problems, [problem], list);
  }
  const junkProps: [string, string][] = [
    ["DYConfigCallback(", "props config: response is not a well-formed DYConfigCallback(...) call"],
    // Never run: the text after the call makes the JSON invalid.
    ['DYConfigCallback({"error":0,"data":{}}); alert(1)', "props config: response is not JSON"],
    [
      'DYConfigCallbackX({"error":0,"data":{}})',
      "props config: response is not a well-formed DYConfigCallback(...) call",
    ],
    [
      'evil({"error":0,"data":{}})',
      "props config: response is neither JSON nor DYConfigCallback(...)",
    ],
    ["DYConfigCallback(not json)", "props config: response is not JSON"],
    ['DYConfigCallback({"error":0,"data":[1]})', "props config: no data object in response"],
  ];
  for (const [props, problem] of junkProps) {
    const catalog = await fetchGiftCatalog(9999, { fetch: memoryFetch(giftListBody, props) });
    deepStrictEqual(catalog.problems, [problem], props);
  }
  // Plain JSON and a JSONP call with spaces and no semicolon are both fine.
  for (
    const props of [
      '{"error":0,"data":{"1":{"name":"a"}}}',
      ' DYConfigCallback ( {"error":0,"data":{"1":{"name":"a"}}} ) \n',
    ]
  ) {
    const catalog = await fetchGiftCatalog(9999, { fetch: memoryFetch(500, props) });
    strictEqual(catalog.get(1)?.name, "a", props);
  }

  // Entry by entry: what does not fit is dropped, the rest kept.
  const list = JSON.stringify({
    error: 0,
    data: {
      giftList: [
        null,
        "gift",
        { name: "no id" },
        { id: 0, name: "zero" },
        { id: -3, name: "negative" },
        { id: 1.5, name: "fraction" },
        { id: "12a", name: "not digits" },
        { id: 10, name: "  " }, // no name, no price: nothing to keep
        { id: 11, name: "x".repeat(101), priceInfo: { price: 100, priceType: "YUCHI" } },
        { id: 12, name: "junk price", priceInfo: { price: "lots", priceType: 5 } },
        { id: 13, name: "huge price", priceInfo: { price: 1e12, priceType: "YUCHI" } },
        {
          id: 14,
          name: "bad icon",
          picUrlPrefix: "javascript:alert(1)//",
          basicInfo: { giftPic: "/a.png" },
        },
        { id: 15, name: "abs icon", basicInfo: { giftPic: "https://cdn.example/15.png" } },
        { id: 16, name: "first" },
        { id: 16, name: "second" },
        { id: "17", name: "string id", priceInfo: { price: "300", priceType: "GOLD" } },
      ],
    },
  });
  const props = 'DYConfigCallback({"error":0,"data":{' +
    '"__proto__":{"name":"proto"},"constructor":{"name":"c"},"20":{"name":"ok","pc":"50","himg":"data:x"},' +
    '"21":"str","22":{"pc":-1},"023":{"name":"leading zero"}}})';
  const catalog = await fetchGiftCatalog(9999, { fetch: memoryFetch(list, props) });
  deepStrictEqual([...catalog.entries()].map((e) => e.id), [
    "11",
    "12",
    "13",
    "14",
    "15",
    "16",
    "17",
    "20",
    "23",
  ]);
  deepStrictEqual(catalog.get(11), {
    id: "11",
    price: 100,
    priceType: "YUCHI",
    paid: true,
    source: "room",
  });
  deepStrictEqual(catalog.get(12), { id: "12", name: "junk price", source: "room" });
  deepStrictEqual(catalog.get(13), {
    id: "13",
    name: "huge price",
    priceType: "YUCHI",
    paid: true,
    source: "room",
  });
  strictEqual(catalog.get(14)?.icon, undefined);
  strictEqual(catalog.get(15)?.icon, "https://cdn.example/15.png");
  strictEqual(catalog.get(16)?.name, "first");
  deepStrictEqual(catalog.get(17), {
    id: "17",
    name: "string id",
    price: 300,
    priceType: "GOLD",
    source: "room",
  });
  deepStrictEqual(catalog.get(20), { id: "20", name: "ok", price: 50, source: "props" });
  strictEqual(catalog.get("__proto__"), undefined);
  strictEqual(({} as Record<string, unknown>).name, undefined, "Object.prototype untouched");
});

test("fetchGiftCatalog: invalid rooms and options, and the user's signal", async () => {
  const fetch = memoryFetch(giftListBody, propsBody);
  for (const room of [0, -1, 1.5, NaN, "", "yyf", "12a", "99999999999999999"]) {
    await rejects(fetchGiftCatalog(room as number, { fetch }), RangeError, String(room));
  }
  for (const bad of [{ timeout: 0 }, { timeout: NaN }, { maxBytes: -1 }, { maxGifts: -1 }]) {
    await rejects(fetchGiftCatalog(1, { fetch, ...bad }), RangeError, JSON.stringify(bad));
  }
  const reason = new Error("stop");
  strictEqual(
    await failure(fetchGiftCatalog(1, { fetch, signal: AbortSignal.abort(reason) })),
    reason,
  );
  await withServer(() => {}, async (local) => {
    const controller = new AbortController();
    const pending = fetchGiftCatalog(1, opts(local, { signal: controller.signal }));
    while (local.paths.length < 2) await new Promise((r) => setTimeout(r, 10));
    controller.abort(reason);
    strictEqual(await failure(pending), reason);
  });
});

// ---------------------------------------------------------------------------
// GiftCatalogCache

/** A fetch whose answers the test releases by hand, counting requests per URL kind. */
function gatedFetch() {
  const waiting: (() => void)[] = [];
  const counts = { list: 0, props: 0 };
  let listAnswer: string | number = giftListBody;
  const fetch: FetchLike = (url, init) => {
    const isList = url.includes(GIFT_PATH);
    if (isList) counts.list++;
    else counts.props++;
    const answer = isList ? listAnswer : propsBody;
    return new Promise((resolve, reject) => {
      init.signal?.addEventListener("abort", () => reject(init.signal?.reason), { once: true });
      waiting.push(() =>
        resolve(
          typeof answer === "number" ? new Response("x", { status: answer }) : new Response(answer),
        )
      );
    });
  };
  return {
    fetch,
    counts,
    setList(answer: string | number) {
      listAnswer = answer;
    },
    /** Answers every request made so far. */
    release() {
      for (const go of waiting.splice(0)) go();
    },
    get waiting() {
      return waiting.length;
    },
  };
}

test("GiftCatalogCache: concurrent callers share one fetch; the props config is shared by rooms", async () => {
  const gate = gatedFetch();
  const cache = new GiftCatalogCache({ fetch: gate.fetch });
  const calls = [cache.get(1), cache.get(1), cache.get("1"), cache.get(2)];
  strictEqual(cache.peek(1), undefined, "nothing fetched yet");
  // Let the requests start.
  await new Promise((r) => setTimeout(r, 0));
  deepStrictEqual(gate.counts, { list: 2, props: 1 });
  gate.release();
  const [a, b, c, d] = await Promise.all(calls);
  ok(a === b && b === c, "one catalogue for room 1");
  strictEqual(d!.roomId, 2);
  strictEqual(cache.peek(1), a);
  strictEqual(cache.size, 2);
  // Fresh: no new request.
  strictEqual(await cache.get(1), a);
  deepStrictEqual(gate.counts, { list: 2, props: 1 });
});

test("GiftCatalogCache: the TTL decides when to fetch again", async () => {
  let now = 1_000_000;
  const gate = gatedFetch();
  const cache = new GiftCatalogCache({ fetch: gate.fetch, ttl: 60_000, now: () => now });
  const first = cache.get(1);
  await new Promise((r) => setTimeout(r, 0));
  gate.release();
  const a = await first;
  now += 59_999;
  strictEqual(await cache.get(1), a, "still fresh");
  deepStrictEqual(gate.counts, { list: 1, props: 1 });
  now += 1;
  const refresh = cache.get(1);
  strictEqual(cache.peek(1), a, "the old one is at hand while the refresh runs");
  await new Promise((r) => setTimeout(r, 0));
  deepStrictEqual(gate.counts, { list: 2, props: 2 });
  gate.release();
  const b = await refresh;
  ok(b !== a && cache.peek(1) === b);
});

test("GiftCatalogCache: failures are remembered for retryAfter; a stale catalogue beats none", async () => {
  let now = 0;
  const count = { n: 0 };
  let list: string | number = 500;
  let props: string | number = 500;
  const fetch: FetchLike = (url) => {
    count.n++;
    const answer = url.includes(GIFT_PATH) ? list : props;
    return Promise.resolve(
      typeof answer === "number" ? new Response("x", { status: answer }) : new Response(answer),
    );
  };
  const cache = new GiftCatalogCache({ fetch, ttl: 600_000, retryAfter: 30_000, now: () => now });
  ok(await failure(cache.get(1)) instanceof GiftCatalogError);
  strictEqual(count.n, 2);
  // A flood of lookups within retryAfter: no new request, the same error.
  for (let i = 0; i < 100; i++) ok(await failure(cache.get(1)) instanceof GiftCatalogError);
  strictEqual(count.n, 2);
  strictEqual(cache.peek(1), undefined);
  // Later, the list works but the props config does not: a catalogue with a problem,
  // kept only for retryAfter.
  now += 30_000;
  list = giftListBody;
  const partial = await cache.get(1);
  deepStrictEqual(partial.problems, ["props config: HTTP 500"]);
  strictEqual(count.n, 4);
  now += 29_999;
  strictEqual(await cache.get(1), partial);
  now += 1;
  props = propsBody;
  const full = await cache.get(1);
  deepStrictEqual(full.problems, []);
  strictEqual(count.n, 6);
  // Past the TTL both endpoints fail: the last good catalogue goes on.
  now += 600_000;
  list = 503;
  props = 503;
  strictEqual(await cache.get(1), full);
  strictEqual(count.n, 8);
  strictEqual(await cache.get(1), full, "and the failure is not retried at once");
  strictEqual(count.n, 8);
});

test("GiftCatalogCache: at most maxRooms rooms, least recently used out first", async () => {
  const count = { n: 0 };
  const cache = new GiftCatalogCache({
    fetch: memoryFetch(giftListBody, propsBody, count),
    maxRooms: 2,
  });
  await cache.get(1);
  await cache.get(2);
  await cache.get(1); // 1 is now the most recent
  await cache.get(3); // 2 goes
  strictEqual(cache.size, 2);
  ok(cache.peek(1) && cache.peek(3) && !cache.peek(2));
  strictEqual(count.n, 3 + 1, "three lists and one shared props config");
});

test("GiftCatalogCache: a caller's signal stops its own wait, not the shared fetch; clear() abandons", async () => {
  const gate = gatedFetch();
  const cache = new GiftCatalogCache({ fetch: gate.fetch });
  const controller = new AbortController();
  const reason = new Error("mine");
  const mine = cache.get(1, { signal: controller.signal });
  const theirs = cache.get(1);
  await new Promise((r) => setTimeout(r, 0));
  controller.abort(reason);
  strictEqual(await failure(mine), reason);
  gate.release();
  strictEqual((await theirs).roomId, 1);
  strictEqual(await failure(cache.get(1, { signal: AbortSignal.abort(reason) })), reason);

  const pending = cache.get(2);
  await new Promise((r) => setTimeout(r, 0));
  cache.clear();
  const error = await failure(pending);
  ok(error instanceof GiftCatalogError && error.message.includes("cleared"), String(error));
  strictEqual(cache.size, 0);
  strictEqual(cache.peek(1), undefined);
  // Still usable afterwards.
  const again = cache.get(1);
  await new Promise((r) => setTimeout(r, 0));
  gate.release();
  strictEqual((await again).roomId, 1);
  await rejects(cache.get("x"), RangeError);
});

test("GiftCatalogCache: options are checked", () => {
  const bads = [{ ttl: -1 }, { retryAfter: NaN }, { maxRooms: -5 }, { maxGifts: -1 }, {
    timeout: 0,
  }];
  for (const bad of bads) {
    let threw = false;
    try {
      new GiftCatalogCache(bad);
    } catch (error) {
      threw = error instanceof RangeError;
    }
    ok(threw, JSON.stringify(bad));
  }
});

// ---------------------------------------------------------------------------
// giftOf

const catalog = new GiftCatalog({
  roomId: 102965,
  gifts: [
    {
      id: "20004",
      name: "\u706b\u7bad",
      price: 50000,
      priceType: "YUCHI",
      paid: true,
      icon: ROCKET_ICON,
      source: "room",
    },
    { id: "20006", name: "\u8d5e", price: 10, priceType: "YUCHI", paid: true, source: "room" },
    {
      id: "20008",
      name: "\u9c7c\u4e38\u793c\u5305",
      price: 10000,
      priceType: "YUWAN",
      paid: false,
      source: "room",
    },
  ],
  props: [{ id: "824", name: "\u7c89\u4e1d\u8367\u5149\u68d2", price: 0, source: "props" }],
});

test("giftOf: a dgb with a known gift: name, unit price, total in yuan, paid, icon", () => {
  deepStrictEqual(giftOf(parseMessage("type@=dgb/gfid@=20004/gfcnt@=3/nn@=Ann/"), catalog), {
    kind: "gift",
    id: "20004",
    prop: false,
    name: "\u706b\u7bad",
    count: 3,
    unitPriceFen: 50000,
    unitPrice: 500,
    valueFen: 150000,
    value: 1500,
    paid: true,
    icon: ROCKET_ICON,
  });
  // 0.1 yuan × 3 is 0.3 exactly: the sum is done in fen.
  strictEqual(giftOf(parseMessage("type@=dgb/gfid@=20006/gfcnt@=3/"), catalog)?.value, 0.3);
  // No gfcnt: one.
  strictEqual(giftOf(parseMessage("type@=dgb/gfid@=20004/"), catalog)?.count, 1);
});

test("giftOf: the message's own name wins; free gifts are worth 0; props are found", () => {
  strictEqual(giftOf(parseMessage("type@=dgb/gfid@=20004/gfn@=Rocket/"), catalog)?.name, "Rocket");
  strictEqual(giftOf(parseMessage("type@=dgb/gfid@=20004/gfn@=/"), catalog)?.name, "\u706b\u7bad");
  const free = giftOf(parseMessage("type@=dgb/gfid@=20008/gfcnt@=5/"), catalog)!;
  deepStrictEqual([free.paid, free.unitPriceFen, free.value], [false, 0, 0]);
  // The real capture's glow sticks: gfid 824 with a pid beside it.
  const glow = giftOf(parseMessage("type@=dgb/gfid@=824/gfcnt@=15/pid@=268/from@=2/"), catalog)!;
  deepStrictEqual([glow.id, glow.prop, glow.name, glow.value, glow.paid], [
    "824",
    false,
    "\u7c89\u4e1d\u8367\u5149\u68d2",
    0,
    undefined,
  ]);
});

test("giftOf: unknown gifts keep their id; gfid 0 names a prop by pid", () => {
  const unknown = giftOf(parseMessage("type@=dgb/gfid@=777/gfcnt@=2/"), catalog)!;
  deepStrictEqual(unknown, {
    kind: "gift",
    id: "777",
    prop: false,
    name: undefined,
    count: 2,
    unitPriceFen: undefined,
    unitPrice: undefined,
    valueFen: undefined,
    value: undefined,
    paid: undefined,
    icon: undefined,
  });
  // Without a catalogue, the same.
  deepStrictEqual(giftOf(parseMessage("type@=dgb/gfid@=777/gfcnt@=2/")), unknown);
  // gfid 0: the item is the pid, never looked up among gift ids (824 here would be wrong).
  const prop = giftOf(parseMessage("type@=dgb/gfid@=0/pid@=824/gfn@=\u5370\u7ae0/"), catalog)!;
  deepStrictEqual([prop.id, prop.prop, prop.name, prop.value], [
    "824",
    true,
    "\u5370\u7ae0",
    undefined,
  ]);
  // No id at all.
  strictEqual(giftOf(parseMessage("type@=dgb/nn@=x/"), catalog)?.id, undefined);
});

test("giftOf: gdp, spbc and super chats; other messages are not gifts", () => {
  const gdp = giftOf(parseMessage("type@=gdp/gfn@=\u706b\u7bad/gfcnt@=2/"), catalog)!;
  deepStrictEqual([gdp.kind, gdp.name, gdp.count, gdp.value], [
    "gift",
    "\u706b\u7bad",
    2,
    undefined,
  ]);
  const bcast = giftOf(
    parseMessage("type@=spbc/gfid@=20004/gn@=\u706b\u7bad/gc@=2/drid@=1/"),
    catalog,
  )!;
  deepStrictEqual([bcast.name, bcast.count, bcast.value], ["\u706b\u7bad", 2, 1000]);
  const sc = giftOf(
    parseMessage(
      "type@=comm_chatmsg/btype@=voiceDanmu/cprice@=3000/cet@=60/chatmsg@=nn@A=Ann@Stxt@A=hi@S/",
    ),
  )!;
  deepStrictEqual(sc, {
    kind: "superchat",
    id: undefined,
    prop: false,
    name: undefined,
    count: 1,
    unitPriceFen: 3000,
    unitPrice: 30,
    valueFen: 3000,
    value: 30,
    paid: true,
    icon: undefined,
  });
  for (
    const body of [
      "type@=chatmsg/txt@=hi/",
      "type@=comm_chatmsg/btype@=other/",
      "type@=uenter/",
      "type@=x/gfid@=1/",
    ]
  ) {
    strictEqual(giftOf(parseMessage(body), catalog), undefined, body);
  }
});

test("giftOf: hostile counts and ids", () => {
  for (const gfcnt of ["-1", "1.5", "abc", "1e400", ""]) {
    strictEqual(
      giftOf(parseMessage(`type@=dgb/gfid@=20004/gfcnt@=${gfcnt}/`), catalog)?.count,
      1,
      gfcnt,
    );
  }
  // A count so large the total is no longer exact: no value rather than a wrong one.
  const huge = giftOf(parseMessage("type@=dgb/gfid@=20004/gfcnt@=900719925474099/"), catalog)!;
  strictEqual(huge.value, undefined);
  strictEqual(giftOf(parseMessage("type@=dgb/gfid@=__proto__/"), catalog)?.name, undefined);
  strictEqual(giftOf(parseMessage("type@=dgb/gfid@=constructor/"), catalog)?.name, undefined);
});

test("GiftCatalog: built by hand, from arrays or maps", () => {
  const entries: GiftEntry[] = [{ id: "1", name: "a", source: "room" }, {
    id: "1",
    name: "b",
    source: "room",
  }];
  const built = new GiftCatalog({ roomId: 5, gifts: entries, fetchedAt: 42 });
  deepStrictEqual([built.get(1)?.name, built.size, built.fetchedAt, built.problems], [
    "a",
    1,
    42,
    [],
  ]);
  const map = new Map([["9", { id: "9", name: "m", source: "props" as const }]]);
  strictEqual(new GiftCatalog({ roomId: 5, props: map }).get("9")?.name, "m");
});
