import { deepStrictEqual, ok, rejects, strictEqual, throws } from "node:assert/strict";
import type { ServerResponse } from "node:http";
import { TimeoutError } from "../src/base/errors.ts";
import { RoomResolveError } from "../src/web/errors.ts";
import { type FetchLike, resolveRoom } from "../src/web/room.ts";
import { fetchRoomInfo, type RoomInfo } from "../src/web/room_info.ts";
import { parseRoomInput, type RoomInput } from "../src/web/room_input.ts";
import { failure, readFixture, test } from "./harness.ts";
import {
  answer,
  endlessBody,
  type Handler,
  type LocalHttp,
  send,
  withServer,
} from "./local_http.ts";

/**
 * Routes `/betard/<name>`, `/m/<name>` and the open API's
 * `/api/RoomApi/room/<name>` to the given handlers; a missing one answers 404.
 */
function routes(betard?: Handler, mobile?: Handler, open?: Handler): Handler {
  return (req, res) => {
    const url = req.url ?? "";
    const h = url.startsWith("/betard/")
      ? betard
      : url.startsWith("/m/")
      ? mobile
      : url.startsWith("/api/RoomApi/room/")
      ? open
      : undefined;
    if (h) h(req, res);
    else send(res, 404, "not found");
  };
}

function json(value: unknown): Handler {
  return (_req, res) => send(res, 200, JSON.stringify(value), "application/json");
}

function html(body: string): Handler {
  return (_req, res) => send(res, 200, body, "text/html; charset=utf-8");
}

function opts(local: LocalHttp) {
  return {
    apiBase: local.base,
    mobileBase: `${local.base}/m`,
    openApiBase: local.base,
    timeout: 5000,
  };
}

// ---------------------------------------------------------------------------
// parseRoomInput

test("parseRoomInput: bare numbers are ids, taken as they are", () => {
  deepStrictEqual(parseRoomInput(9999), { id: 9999 });
  deepStrictEqual(parseRoomInput("9999"), { id: 9999 });
  deepStrictEqual(parseRoomInput(" 288016 "), { id: 288016 });
});

test("parseRoomInput: names and every URL form", () => {
  const cases: [string, RoomInput][] = [
    ["yyf", { name: "yyf" }],
    [" yyf\n", { name: "yyf" }],
    ["a_b-1", { name: "a_b-1" }],
    ["douyu.com/yyf", { name: "yyf" }],
    ["www.douyu.com/yyf", { name: "yyf" }],
    ["https://www.douyu.com/yyf", { name: "yyf" }],
    ["http://www.douyu.com/yyf", { name: "yyf" }],
    ["//www.douyu.com/yyf", { name: "yyf" }],
    ["m.douyu.com/yyf", { name: "yyf" }],
    ["https://m.douyu.com/yyf/", { name: "yyf" }],
    ["douyu.com/yyf/", { name: "yyf" }],
    ["douyu.com/yyf?from=share", { name: "yyf" }],
    ["douyu.com/yyf#chat", { name: "yyf" }],
    ["https://www.douyu.com/yyf/?a=1&b=2#x", { name: "yyf" }],
    ["WWW.DOUYU.COM/yyf", { name: "yyf" }],
    ["douyu.com:443/yyf", { name: "yyf" }],
    // A number in a path may be a "good number", not the room id: look it up.
    ["https://www.douyu.com/9999", { name: "9999" }],
    ["douyu.com/6657", { name: "6657" }],
    ["https://www.douyu.com/6657/?x=1", { name: "6657" }],
    // A rid query parameter is the real id and wins over the path.
    ["https://www.douyu.com/topic/xxx?rid=123", { id: 123 }],
    ["https://www.douyu.com/topic/xxx?rid=123#top", { id: 123 }],
    ["https://www.douyu.com/yyf?rid=77", { id: 77 }],
    ["www.douyu.com/topic/s13/?foo=1&rid=456", { id: 456 }],
    // An unusable rid is ignored in favour of the path.
    ["douyu.com/yyf?rid=abc", { name: "yyf" }],
  ];
  for (const [input, expected] of cases) {
    deepStrictEqual(parseRoomInput(input), expected, input);
  }
});

test("parseRoomInput: absurd inputs are RoomResolveErrors naming the input", () => {
  const bad: (string | number)[] = [
    "",
    "   ",
    "a b",
    "douyu.com/y yf",
    "yyf\tx",
    "x".repeat(101),
    `douyu.com/${"a".repeat(95)}`,
    "https://evil.com/yyf",
    "evil.com/yyf",
    "douyu.com.evil.com/yyf",
    "evil.com/douyu.com/yyf",
    "notdouyu.com/yyf",
    "ftp://douyu.com/yyf",
    "javascript:alert(1)",
    "https://user:pw@douyu.com/yyf",
    "https://douyu.com@evil.com/yyf",
    "douyu.com",
    "https://www.douyu.com/",
    "https://www.douyu.com/topic/xxx",
    "https://www.douyu.com/topic/xxx?rid=0",
    "yyf?x",
    "y\u00e9f",
    "0",
    "-5",
    "_x",
    "99999999999999999999",
    0,
    -1,
    1.5,
    NaN,
    Infinity,
  ];
  for (const input of bad) {
    throws(() => parseRoomInput(input), (error: unknown) => {
      ok(error instanceof RoomResolveError, `${String(input)}: ${String(error)}`);
      // Long inputs are cut, so leave the closing quote out of the comparison.
      const shown = JSON.stringify(String(input).slice(0, 40)).slice(0, -1);
      ok(error.message.includes(shown), `message ${error.message} should name ${shown}`);
      ok(!error.message.includes("\n"), "one line");
      return true;
    });
  }
});

test("parseRoomInput: messages escape control characters in the input", () => {
  throws(() => parseRoomInput("a\x1b[2J\u202eb"), (error: unknown) => {
    ok(error instanceof RoomResolveError);
    // deno-lint-ignore no-control-regex -- looking for control characters is the point
    ok(!/[\x00-\x1f\x7f-\x9f\u202e]/.test(error.message), error.message);
    ok(error.message.includes("\\u001b[2J\\u202eb"), error.message);
    return true;
  });
});

// ---------------------------------------------------------------------------
// resolveRoom against a local server

test("resolveRoom: a bare number needs no network", async () => {
  const fetch: FetchLike = () => Promise.reject(new Error("must not be called"));
  strictEqual(await resolveRoom(9999, { fetch }), 9999);
  strictEqual(await resolveRoom("288016", { fetch }), 288016);
});

test("resolveRoom: betard JSON gives the room id", async () => {
  await withServer(
    routes(json({ error: 0, room: { room_id: 288016, room_name: "x", show_status: 1 } })),
    async (local) => {
      strictEqual(await resolveRoom("douyu.com/yyf/", opts(local)), 288016);
      deepStrictEqual(local.paths, ["/betard/yyf"]);
      ok(local.agents[0]?.startsWith("Mozilla/5.0"), "browser-like user agent");
    },
  );
});

test("resolveRoom: a good number goes through the API", async () => {
  await withServer(routes(json({ room: { room_id: "5720533" } })), async (local) => {
    strictEqual(await resolveRoom("https://www.douyu.com/6657", opts(local)), 5720533);
    deepStrictEqual(local.paths, ["/betard/6657"]);
  });
});

test("resolveRoom: betard 404 falls back to the mobile page", async () => {
  const page = '<html><script>window.$ROOM = {"rid":123,"vipId":0};</script></html>';
  await withServer(routes(undefined, html(page)), async (local) => {
    strictEqual(await resolveRoom("yyf", opts(local)), 123);
    deepStrictEqual(local.paths, ["/betard/yyf", "/m/yyf"]);
    ok(local.agents[1]?.includes("Mobile"), "mobile user agent for the mobile page");
  });
});

test("resolveRoom: betard bad JSON falls back; room_id form and a quoted value work", async () => {
  await withServer(
    routes(html("<html>busy</html>"), html('{"other":1, "room_id" : "4567"}')),
    async (local) => {
      strictEqual(await resolveRoom("yyf", opts(local)), 4567);
    },
  );
});

test("resolveRoom: betard without room.room_id falls back", async () => {
  for (const body of [{ room: {} }, { room: { room_id: 0 } }, { room: { room_id: "abc" } }, []]) {
    await withServer(routes(json(body), html('"rid": 42')), async (local) => {
      strictEqual(await resolveRoom("yyf", opts(local)), 42, JSON.stringify(body));
    });
  }
});

test("resolveRoom: both broken gives a RoomResolveError naming the input and both failures", async () => {
  await withServer(
    routes((_req, res) => send(res, 500, "oops"), html("<html>no id here</html>")),
    async (local) => {
      const error = await failure(resolveRoom("douyu.com/nosuchroom", opts(local)));
      ok(error instanceof RoomResolveError, String(error));
      const { message } = error;
      ok(message.includes('"douyu.com/nosuchroom"'), message);
      ok(message.includes("betard API: HTTP 500"), message);
      ok(message.includes('mobile page: no "rid" or "room_id" in page'), message);
      ok(!message.includes("\n"), "one line");
      ok(error.cause instanceof AggregateError);
      strictEqual(error.cause.errors.length, 2);
    },
  );
});

test("resolveRoom: a server that is down gives a RoomResolveError", async () => {
  let base = "";
  await withServer(routes(), (local) => {
    base = local.base;
    return Promise.resolve();
  });
  // The port is closed now: both requests are refused.
  const error = await failure(resolveRoom("yyf", { apiBase: base, mobileBase: base }));
  ok(error instanceof RoomResolveError, String(error));
});

test("resolveRoom: an oversized body is rejected, declared or streamed", async () => {
  const big = `{"room":{"room_id":1,"pad":"${"x".repeat(5000)}"}}`;
  await withServer(
    routes(json(JSON.parse(big)), html(`"rid":7 ${"x".repeat(5000)}`)),
    async (local) => {
      const error = await failure(resolveRoom("yyf", { ...opts(local), maxBytes: 1000 }));
      ok(error instanceof RoomResolveError, String(error));
      ok(error.message.includes("exceeds maxBytes (1000)"), error.message);
      // Under the limit the same bodies are fine.
      strictEqual(await resolveRoom("yyf", { ...opts(local), maxBytes: 10_000 }), 1);
    },
  );

  // No Content-Length and a body that never ends: the read must stop at the limit.
  const stream = endlessBody();
  await withServer(routes(stream, stream), async (local) => {
    const started = Date.now();
    const error = await failure(resolveRoom("yyf", { ...opts(local), maxBytes: 64 * 1024 }));
    ok(error instanceof RoomResolveError, String(error));
    ok(error.message.includes("exceeds maxBytes"), error.message);
    strictEqual(stream.requests, 2);
    ok(Date.now() - started < 4000, "stopped reading early");
  });
});

test("resolveRoom: a server that never answers times out within the timeout", async () => {
  const hanging: ServerResponse[] = [];
  await withServer(
    (_req, res) => void hanging.push(res),
    async (local) => {
      const started = Date.now();
      const error = await failure(resolveRoom("yyf", { ...opts(local), timeout: 300 }));
      const elapsed = Date.now() - started;
      ok(error instanceof TimeoutError, String(error));
      ok(error.message.includes('"yyf"') && error.message.includes("300 ms"), error.message);
      ok(error.cause !== undefined);
      ok(elapsed >= 250 && elapsed < 2000, `took ${elapsed} ms`);
      // betard had half of the time, the mobile page the rest; nothing after that.
      deepStrictEqual(local.paths, ["/betard/yyf", "/m/yyf"]);
    },
  );
});

test("resolveRoom: a body that stalls mid-way times out too", async () => {
  const stall: Handler = (_req, res) => {
    res.writeHead(200, { "content-type": "application/json" });
    res.write('{"room":');
  };
  await withServer(routes(stall, stall), async (local) => {
    const error = await failure(resolveRoom("yyf", { ...opts(local), timeout: 300 }));
    ok(error instanceof TimeoutError, String(error));
  });
  // A stalled betard body uses up only betard's share.
  await withServer(routes(stall, html('"rid":5')), async (local) => {
    strictEqual(await resolveRoom("yyf", { ...opts(local), timeout: 300 }), 5);
  });
});

test("resolveRoom: the user's signal aborts with its reason", async () => {
  await withServer(
    () => {},
    async (local) => {
      const controller = new AbortController();
      const reason = new Error("user stop");
      const pending = resolveRoom("yyf", { ...opts(local), signal: controller.signal });
      await new Promise((r) => setTimeout(r, 50));
      controller.abort(reason);
      strictEqual(await failure(pending), reason);
    },
  );
  // Already aborted: rejects at once, with the reason.
  const fetch: FetchLike = (_url, init) =>
    init.signal?.aborted ? Promise.reject(init.signal.reason) : Promise.reject(new Error("?"));
  const reason = new Error("early");
  const error = await failure(resolveRoom("yyf", { fetch, signal: AbortSignal.abort(reason) }));
  strictEqual(error, reason);
});

test("resolveRoom: injected fetch, default endpoints, URL escaping and options checks", async () => {
  const seen: string[] = [];
  const agents: (string | null)[] = [];
  const fetch: FetchLike = (url, init) => {
    seen.push(url);
    agents.push(new Headers(init.headers).get("user-agent"));
    return Promise.resolve(
      url.includes("/betard/")
        ? new Response("nope", { status: 403 })
        : new Response('"room_id":0 "rid":"99"'),
    );
  };
  strictEqual(await resolveRoom("a_b-1", { fetch, userAgent: "" }), 99);
  deepStrictEqual(seen, ["https://www.douyu.com/betard/a_b-1", "https://m.douyu.com/a_b-1"]);
  deepStrictEqual(agents, [null, null], "userAgent '' sends none");
  await rejects(resolveRoom("yyf", { fetch, timeout: 0 }), RangeError);
  await rejects(resolveRoom("yyf", { fetch, timeout: -1 }), RangeError);
  await rejects(resolveRoom("", { fetch }), RoomResolveError);
  // Infinity disables the timeout.
  strictEqual(await resolveRoom("yyf", { fetch, timeout: Infinity, apiBase: "http://x/" }), 99);
});

test("resolveRoom: hostile error text does not reach the message raw", async () => {
  const fetch: FetchLike = () => Promise.reject(new Error("boom\x1b[2J\r\nsecond line"));
  const error = await failure(resolveRoom("yyf", { fetch }));
  ok(error instanceof RoomResolveError);
  // deno-lint-ignore no-control-regex -- looking for control characters is the point
  ok(!/[\x00-\x1f]/.test(error.message), JSON.stringify(error.message));
});

// ---------------------------------------------------------------------------
// Issue 7 item 9: the mobile-page lookup is anchored, and a slow betard leaves time for it

test("resolveRoom: the mobile page's id must end where the number ends", async () => {
  const refused = [
    '{"rid":12345678901234567}', // 17 digits: not the start of it
    '{"rid":"123abc"}',
    '{"rid":1.5}',
    '{"room_id":12e3}',
    '{"rid":123abc}',
    '{"rid":"123}',
    '{"rid":-5}',
  ];
  for (const page of refused) {
    await withServer(routes(undefined, html(page)), async (local) => {
      const error = await failure(resolveRoom("yyf", opts(local)));
      ok(error instanceof RoomResolveError, `${page}: ${String(error)}`);
      ok(error.message.includes('no "rid" or "room_id" in page'), error.message);
    });
  }
  const accepted: [string, number][] = [
    ['{"rid":123}', 123],
    ['{"rid": 123 ,"x":1}', 123],
    ['{"rid":"123"}', 123],
    ['{"vip":0,"rid":123\n}', 123],
    ['[{"room_id":456}]', 456],
    ['"rid":789', 789], // at the very end of the page
    // A malformed value is skipped; a later well-formed one is used.
    ['{"rid":1.5,"room_id":4567}', 4567],
    ['{"rid":"12abc","rid":"99"}', 99],
  ];
  for (const [page, id] of accepted) {
    await withServer(routes(undefined, html(page)), async (local) => {
      strictEqual(await resolveRoom("yyf", opts(local)), id, page);
    });
  }
});

test("resolveRoom: a betard that never answers still leaves time for the mobile page", async () => {
  const hanging: ServerResponse[] = [];
  await withServer(
    routes((_req, res) => void hanging.push(res), html('{"rid":321}')),
    async (local) => {
      const started = Date.now();
      strictEqual(await resolveRoom("yyf", { ...opts(local), timeout: 1000 }), 321);
      const elapsed = Date.now() - started;
      deepStrictEqual(local.paths, ["/betard/yyf", "/m/yyf"]);
      // betard gets half of the time, then the mobile page answers at once.
      ok(elapsed >= 400 && elapsed < 1000, `took ${elapsed} ms`);
    },
  );
});

test("resolveRoom: betard timing out on its share and the mobile page failing names both", async () => {
  await withServer(
    routes(() => {}, (_req, res) => send(res, 404, "no")),
    async (local) => {
      const error = await failure(resolveRoom("yyf", { ...opts(local), timeout: 600 }));
      ok(error instanceof RoomResolveError, String(error));
      ok(/betard API: no answer within \d+ ms/.test(error.message), error.message);
      ok(error.message.includes("mobile page: HTTP 404"), error.message);
    },
  );
});

// ---------------------------------------------------------------------------
// fetchRoomInfo

/** Recorded shapes of the two room APIs (tests/fixtures/http_*.json). */
const betardBody = await readFixture("http_betard.json");
const openApiBody = await readFixture("http_open_api.json");

const AVATAR = "https://apic.douyucdn.cn/upload/avatar_v3/202012/0a1b2c3d4e5f_big.jpg";
const COVER = "https://rpic.douyucdn.cn/asrpic/210103/102965_1600.png/dy1";
const TITLE = "\u5468\u672b S \u8d5b\u89e3\u8bf4\uff5c\u4e00\u8d77\u770b <b>\u51b3\u8d5b</b>";

test("fetchRoomInfo: betard gives title, owner, category, live, loop, start, avatar, cover", async () => {
  await withServer(routes(answer(betardBody)), async (local) => {
    deepStrictEqual(await fetchRoomInfo("https://www.douyu.com/yyf", opts(local)), {
      roomId: 102965,
      name: TITLE, // kept as sent: sanitising (and any HTML) is the display's business
      nickname: "\u6837\u4f8b\u89e3\u8bf4",
      live: true,
      videoLoop: false,
      category: "\u82f1\u96c4\u8054\u76df",
      startedAt: 1609660800_000,
      avatar: AVATAR,
      cover: COVER,
      source: "betard",
    });
    // A bare id goes to the API too, since only it knows the status.
    await fetchRoomInfo(102965, opts(local));
    strictEqual(local.paths.length, 2);
    ok(/^\/betard\/yyf\?_=[0-9a-z]+$/.test(local.paths[0]!), local.paths[0]);
    ok(/^\/betard\/102965\?_=[0-9a-z]+$/.test(local.paths[1]!), local.paths[1]);
    ok(local.paths[0]!.split("=")[1] !== local.paths[1]!.split("=")[1], "a fresh ?_= each time");
    ok(local.agents.every((agent) => agent?.startsWith("Mozilla/5.0")), "browser agent");
    deepStrictEqual(local.referers, ["https://www.douyu.com/", "https://www.douyu.com/"]);
  });
});

test("fetchRoomInfo: offline, looping, and fields left out when absent", async () => {
  const answers: unknown[] = [
    { room: { room_id: 1, show_status: 2, videoLoop: 1 } },
    { room: { room_id: "2", show_status: "1", videoLoop: true } },
    { room: { room_id: 3 } },
  ];
  const fetch: FetchLike = () => Promise.resolve(Response.json(answers.shift()));
  deepStrictEqual(await fetchRoomInfo("a", { fetch }), {
    roomId: 1,
    live: false,
    videoLoop: true,
    source: "betard",
  });
  deepStrictEqual(await fetchRoomInfo("b", { fetch }), {
    roomId: 2,
    live: true,
    videoLoop: true,
    source: "betard",
  });
  deepStrictEqual(await fetchRoomInfo("c", { fetch }), { roomId: 3, source: "betard" });
});

test("fetchRoomInfo: junk in betard fields is left out, never trusted", async () => {
  const body = {
    room: {
      room_id: 7,
      room_name: { toString: "x" },
      nickname: 42,
      show_status: "live",
      videoLoop: "maybe",
      second_lvl_name: ["a"],
      show_time: -5,
      avatar: { big: "javascript:alert(1)", middle: "data:image/png;base64,AAAA", small: 5 },
      room_pic: "//rpic.douyucdn.cn/no-scheme.png",
    },
  };
  const fetch: FetchLike = () => Promise.resolve(Response.json(body));
  deepStrictEqual(await fetchRoomInfo("x", { fetch }), { roomId: 7, source: "betard" });
  // The next size down is used when the big avatar is unusable.
  const smaller = {
    room: { room_id: 7, avatar: { big: "ftp://x/y", small: "https://a.b/s.jpg" } },
  };
  const fetch2: FetchLike = () => Promise.resolve(Response.json(smaller));
  strictEqual((await fetchRoomInfo("x", { fetch: fetch2 })).avatar, "https://a.b/s.jpg");
  // Keys such as __proto__ from the wire are plain data.
  const hostile = '{"room":{"__proto__":{"room_id":5},"room_id":8,"constructor":1}}';
  const fetch3: FetchLike = () => Promise.resolve(new Response(hostile));
  deepStrictEqual(await fetchRoomInfo("x", { fetch: fetch3 }), { roomId: 8, source: "betard" });
  strictEqual(({} as Record<string, unknown>).room_id, undefined);
  // A start time no date can hold is left out: new Date() of it would throw.
  const far = { room: { room_id: 9, show_time: 9007199254740991 } };
  const fetch4: FetchLike = () => Promise.resolve(Response.json(far));
  deepStrictEqual(await fetchRoomInfo("x", { fetch: fetch4 }), { roomId: 9, source: "betard" });
});

test("web calls: a timeout past what a timer holds (2^31-1 ms) does not fire at once", async () => {
  const fetch: FetchLike = () =>
    new Promise((resolve) =>
      setTimeout(() => resolve(Response.json({ room: { room_id: 5 } })), 100)
    );
  strictEqual((await fetchRoomInfo("x", { fetch, timeout: 3e9 })).roomId, 5);
});

test("fetchRoomInfo: when betard fails, the open API answers and says it cannot see loops", async () => {
  await withServer(
    routes((_req, res) => send(res, 502, "bad gateway"), undefined, answer(openApiBody)),
    async (local) => {
      deepStrictEqual(await fetchRoomInfo("yyf", opts(local)), {
        roomId: 102965,
        name: TITLE,
        nickname: "\u6837\u4f8b\u89e3\u8bf4",
        live: true,
        category: "\u82f1\u96c4\u8054\u76df",
        // "2021-01-03 16:00" in China time (UTC+8).
        startedAt: Date.UTC(2021, 0, 3, 8, 0),
        avatar: AVATAR,
        cover: COVER,
        online: 123456,
        source: "open",
      });
      strictEqual(local.paths[1], "/api/RoomApi/room/yyf");
      strictEqual(local.referers[1], "https://www.douyu.com/");
    },
  );
});

test("fetchRoomInfo: open API status codes, dates and a missing room id", async () => {
  const cases: [unknown, Partial<RoomInfo> | string][] = [
    [{ error: 0, data: { room_id: 5, room_status: "2" } }, { roomId: 5, live: false }],
    [{ error: "0", data: { room_status: "3", start_time: "0" } }, { roomId: 9 }],
    [{ error: 0, data: { start_time: "2024-02-30 10:00" } }, { roomId: 9 }],
    [{ error: 0, data: { start_time: "2024-02-29 23:59:59" } }, {
      roomId: 9,
      startedAt: Date.UTC(2024, 1, 29, 15, 59, 59),
    }],
    [{ error: 0, data: { start_time: 1700000000 } }, { roomId: 9, startedAt: 1700000000_000 }],
    [{ error: 101, data: "\u623f\u95f4\u672a\u627e\u5230" }, "open API: no such room (error 101)"],
    [{ error: 102, data: {} }, "open API: error 102"],
    [{ data: {} }, "open API: no error code in response"],
    [{ error: 0, data: [] }, "open API: no data object in response"],
    [[1, 2], "open API: response is not a JSON object"],
  ];
  for (const [answer, expected] of cases) {
    const fetch: FetchLike = (url) =>
      Promise.resolve(
        url.includes("/betard/") ? new Response("", { status: 404 }) : Response.json(answer),
      );
    const result = fetchRoomInfo(9, { fetch });
    if (typeof expected === "string") {
      const error = await failure(result);
      ok(error instanceof RoomResolveError, String(error));
      ok(error.message.includes("betard API: HTTP 404"), error.message);
      ok(error.message.includes(expected), `${error.message} should say ${expected}`);
      ok(error.cause instanceof AggregateError);
    } else {
      deepStrictEqual(await result, { ...expected, source: "open" }, JSON.stringify(answer));
    }
  }
  // A name the open API answers without a room id cannot be turned into one.
  const fetch: FetchLike = (url) =>
    Promise.resolve(
      url.includes("/betard/")
        ? new Response("", { status: 404 })
        : Response.json({ error: 0, data: {} }),
    );
  const error = await failure(fetchRoomInfo("yyf", { fetch }));
  ok(
    error instanceof RoomResolveError && error.message.includes("no valid data.room_id"),
    String(error),
  );
});

test("fetchRoomInfo: both failing is a RoomResolveError naming both; no mobile page", async () => {
  await withServer(routes(json({ error: 102, msg: "room not found" })), async (local) => {
    const error = await failure(fetchRoomInfo("nosuch", opts(local)));
    ok(error instanceof RoomResolveError, String(error));
    ok(error.message.includes('"nosuch"'), error.message);
    ok(error.message.includes("betard API: no room object"), error.message);
    ok(error.message.includes("open API: HTTP 404"), error.message);
    ok(error.cause instanceof AggregateError);
    strictEqual(local.paths.length, 2);
    ok(local.paths[0]!.startsWith("/betard/nosuch?_="));
    strictEqual(local.paths[1], "/api/RoomApi/room/nosuch");
  });
});

test("fetchRoomInfo: a betard that hangs leaves the open API half of the time", async () => {
  await withServer(routes(() => {}, undefined, answer(openApiBody)), async (local) => {
    const started = Date.now();
    const info = await fetchRoomInfo("yyf", { ...opts(local), timeout: 1000 });
    const elapsed = Date.now() - started;
    strictEqual(info.source, "open");
    ok(elapsed >= 400 && elapsed < 1000, `took ${elapsed} ms`);
  });
  // Both hanging: the whole call's timeout, as a TimeoutError.
  await withServer(() => {}, async (local) => {
    const error = await failure(fetchRoomInfo("yyf", { ...opts(local), timeout: 300 }));
    ok(error instanceof TimeoutError, String(error));
    strictEqual(local.paths.length, 2);
  });
});

test("fetchRoomInfo: the user's signal during the fallback aborts with its reason", async () => {
  await withServer(
    routes((_req, res) => send(res, 500, "x"), undefined, () => {}),
    async (local) => {
      const controller = new AbortController();
      const reason = new Error("stop");
      const pending = fetchRoomInfo("yyf", { ...opts(local), signal: controller.signal });
      while (local.paths.length < 2) await new Promise((r) => setTimeout(r, 10));
      controller.abort(reason);
      strictEqual(await failure(pending), reason);
    },
  );
});

test("fetchRoomInfo: an oversized open API answer is refused like any other", async () => {
  const big = JSON.stringify({ error: 0, data: { room_id: 1, pad: "x".repeat(5000) } });
  await withServer(routes(undefined, undefined, answer(big)), async (local) => {
    const error = await failure(fetchRoomInfo("yyf", { ...opts(local), maxBytes: 1000 }));
    ok(error instanceof RoomResolveError, String(error));
    ok(/open API: response .*exceeds maxBytes \(1000\)/.test(error.message), error.message);
  });
});
