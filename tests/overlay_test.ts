/**
 * The overlay without a browser: the event format, the page parameters, the
 * server (page, headers, the SSE stream, per-page filters, resume and
 * backlog) and `douyu overlay` in-process. The page itself is tested in a
 * real browser by tests/browser/ (`deno task test:browser`).
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { createServer } from "node:http";
import type { AddressInfo } from "node:net";
import { main } from "../src/cli/cli.ts";
import { demoPasses } from "../src/cli/overlay_demo.ts";
import { decodeStt } from "../src/protocol/stt.ts";
import { EventNormalizer, type OverlayEvent } from "../src/overlay/events.ts";
import { OVERLAY_JS } from "../src/overlay/page_script.ts";
import { WIDGETS_JS } from "../src/overlay/widget_page.ts";
import { readStreamParams } from "../src/overlay/params.ts";
import { OverlayServer } from "../src/overlay/server.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { GiftCatalog } from "../src/protocol/gifts.ts";
import { test } from "./harness.ts";
import { readSse, type SseEvent } from "./sse.ts";

const ROOM = 9999;
const T = 1_700_000_000_000;

const catalog = new GiftCatalog({
  roomId: ROOM,
  gifts: [
    { id: "824", name: "荧光棒", price: 10, paid: true, source: "room" },
    {
      id: "20004",
      name: "火箭",
      price: 50000,
      paid: true,
      source: "room",
      icon: "https://gfs-op.douyucdn.cn/dygift/i.png",
    },
  ],
});

function msg(fields: Record<string, string | number | object>) {
  return parseMessage(encodeStt({ rid: ROOM, ...fields }));
}

test("events: chat keeps its cid as id, sanitised name and text, colour, level, badge", () => {
  const normalizer = new EventNormalizer(T);
  const event = normalizer.normalize(
    ROOM,
    msg({
      type: "chatmsg",
      cid: "abc123",
      uid: 7,
      nn: "A\u200bnn\u3164",
      txt: "hi\x1b[31m\u202e there",
      level: 12,
      col: 2,
      bnn: "鱼塘",
      bl: 8,
      brid: ROOM,
      rg: 4,
      nl: 3,
      ic: "avatar_v3/202404/abc",
    }),
    T,
  );
  deepStrictEqual(event, {
    id: "abc123",
    type: "chat",
    room: ROOM,
    time: T,
    user: {
      name: "Ann",
      uid: "7",
      level: 12,
      avatar: "https://apic.douyucdn.cn/upload/avatar_v3/202404/abc_small.jpg",
      noble: 3,
      admin: true,
      badge: { name: "鱼塘", level: 8, room: ROOM },
    },
    text: "hi[31m there",
    color: "#1e87f0",
  });
});

test("events: the host's own chat (room role 5) is marked owner", () => {
  const event = new EventNormalizer(T).normalize(
    ROOM,
    msg({ type: "chatmsg", nn: "Host", txt: "hi", rg: 5 }),
    T,
  );
  deepStrictEqual(event?.type === "chat" ? event.user : undefined, { name: "Host", owner: true });
});

test("events: a zero-width name shows without its invisible characters", () => {
  const event = new EventNormalizer(T).normalize(
    ROOM,
    msg({ type: "chatmsg", nn: "\u200b\u200dA\u2060d\ufeffmin\u200b", txt: "x" }),
    T,
  );
  strictEqual(event?.type === "chat" ? event.user.name : undefined, "Admin");
});

test("events: only avatar paths become avatars; a URL from the wire is dropped", () => {
  const normalizer = new EventNormalizer(T);
  for (const ic of ["https://evil.example/a.png", "../../x", "//evil.example/a", "a b", ""]) {
    const event = normalizer.normalize(ROOM, msg({ type: "uenter", nn: "x", ic }), T);
    strictEqual(event?.type === "enter" ? event.user.avatar : "?", undefined, ic);
  }
});

test("events: generated ids are unique and carry the boot time; bad cids get one", () => {
  const a = new EventNormalizer(T);
  const b = new EventNormalizer(T + 1000);
  const ids = [
    a.normalize(ROOM, msg({ type: "uenter", nn: "x" }), T)!.id,
    a.normalize(ROOM, msg({ type: "uenter", nn: "x" }), T)!.id,
    b.normalize(ROOM, msg({ type: "uenter", nn: "x" }), T)!.id,
    a.normalize(ROOM, msg({ type: "chatmsg", cid: "<bad id>", txt: "x" }), T)!.id,
  ];
  strictEqual(new Set(ids).size, 4);
  ok(ids[0]!.startsWith(`${T.toString(36)}-`), ids[0]);
});

test("events: gifts are named, valued and iconed from the catalogue; unknown ones by id", () => {
  const normalizer = new EventNormalizer(T);
  const rocket = normalizer.normalize(
    ROOM,
    msg({ type: "dgb", uid: 2, nn: "Bo", gfid: 20004, gfcnt: 2, hits: 3 }),
    T,
    catalog,
  );
  deepStrictEqual(rocket?.type === "gift" ? rocket.gift : undefined, {
    id: "20004",
    name: "火箭",
    count: 2,
    combo: 3,
    value: 1000,
    paid: true,
    icon: "https://gfs-op.douyucdn.cn/dygift/i.png",
  });
  // An icon elsewhere than Douyu's image hosts is not shown: the page would ask that host.
  const elsewhere = new GiftCatalog({
    roomId: ROOM,
    gifts: [{ id: "7", name: "x", icon: "https://evil.example/track.png", source: "room" }],
  });
  const tracked = normalizer.normalize(ROOM, msg({ type: "dgb", gfid: 7 }), T, elsewhere);
  strictEqual(tracked?.type === "gift" ? tracked.gift.icon : "none", undefined);
  const unknown = normalizer.normalize(ROOM, msg({ type: "dgb", gfid: 5, gfcnt: 1 }), T);
  deepStrictEqual(unknown?.type === "gift" ? unknown.gift : undefined, {
    id: "5",
    name: "gift #5",
    count: 1,
    combo: 1,
  });
});

test("events: super chats with price tiers; live, offline and loop; other rooms ignored", () => {
  const normalizer = new EventNormalizer(T);
  const tiers = [10, 30, 50, 100, 500, 1000, 5000].map((yuan) => {
    const event = normalizer.normalize(
      ROOM,
      msg({
        type: "comm_chatmsg",
        btype: "voiceDanmu",
        cprice: yuan * 100,
        cet: 60,
        chatmsg: { nn: "Dee", txt: "加油", uid: 4 },
      }),
      T,
    );
    ok(event?.type === "superchat");
    deepStrictEqual([event.user.name, event.text, event.price, event.seconds], [
      "Dee",
      "加油",
      yuan,
      60,
    ]);
    return event.tier;
  });
  deepStrictEqual(tiers, [1, 2, 3, 4, 5, 6, 6]);
  const state = (fields: Record<string, number>) => {
    const event = normalizer.normalize(ROOM, msg({ type: "rss", ...fields }), T);
    return event?.type === "live" ? event.state : undefined;
  };
  deepStrictEqual([state({ ss: 1 }), state({ ss: 0 }), state({ ss: 1, ivl: 1 })], [
    "live",
    "offline",
    "loop",
  ]);
  strictEqual(normalizer.normalize(ROOM, msg({ type: "chatmsg", rid: 5, txt: "x" }), T), undefined);
  strictEqual(normalizer.normalize(ROOM, msg({ type: "spbc", rid: 0 }), T), undefined);
  strictEqual(normalizer.normalize(ROOM, msg({ type: "mrkl" }), T), undefined);
});

test("params: numbers replace the command's defaults, lists add to them, bad values are named", () => {
  const defaults = {
    rules: { blockWords: ["广告"], minLevel: 3, noBots: true },
    enter: true,
    fold: false,
  };
  const { settings, problems } = readStreamParams(
    new URLSearchParams("block=a，b&block=c&blockUsers=x&minGift=2.5&enter=0&fold=yes&minLevel=-1"),
    defaults,
  );
  deepStrictEqual(settings, {
    rules: {
      blockWords: ["广告", "a", "b", "c"],
      blockUsers: ["x"],
      minLevel: 3,
      minGiftValue: 2.5,
      noBots: true,
    },
    enter: false,
    fold: true,
  });
  deepStrictEqual(problems, ['minLevel: "-1" is not a number >= 0 (ignored)']);
  deepStrictEqual(readStreamParams(new URLSearchParams(""), defaults).settings, defaults);
  const bad = readStreamParams(new URLSearchParams("enter=maybe"), defaults).problems;
  deepStrictEqual(bad, ['enter: "maybe" is not 0 or 1 (ignored)']);
});

test("page: the scripts set text as text, never as HTML", () => {
  for (const script of [OVERLAY_JS, WIDGETS_JS]) {
    for (
      const sink of ["innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval("]
    ) {
      ok(!script.includes(sink), sink);
    }
  }
});

/** Reads the stream's events until `done` says enough. */
function readEvents(
  url: string,
  done: (events: SseEvent<OverlayEvent>[]) => boolean,
  headers: Record<string, string> = {},
): Promise<SseEvent<OverlayEvent>[]> {
  return readSse<OverlayEvent>(url, done, { headers });
}

const lineTexts = (events: { data: OverlayEvent }[]) =>
  events.flatMap(({ data }) =>
    data.type === "chat" ? [data.text] : data.type === "fold" ? [`fold ${data.count}`] : []
  );

test("server: the page, its assets and headers; 404, 405", async () => {
  await using server = await OverlayServer.start();
  const page = await fetch(server.url);
  strictEqual(page.status, 200);
  strictEqual(page.headers.get("content-type"), "text/html; charset=utf-8");
  const policy = page.headers.get("content-security-policy")!;
  ok(policy.includes("script-src 'self'"));
  ok(policy.includes("style-src 'self' 'unsafe-inline' http: https:"), "a css= stylesheet loads");
  ok((await page.text()).includes('<script src="overlay.js"'));
  // Opened by another site's page: no stylesheet from elsewhere, which could read the page
  // through attribute selectors (css= of that site's choosing).
  for (const site of ["cross-site", "same-site"]) {
    const opened = await fetch(`${server.url}?css=https://evil.example/x.css`, {
      headers: { "sec-fetch-site": site, "sec-fetch-mode": "navigate" },
    });
    strictEqual(opened.status, 200);
    const strict = opened.headers.get("content-security-policy")!;
    ok(/style-src 'self' 'unsafe-inline';/.test(strict), strict);
    ok(/font-src data:;/.test(strict), strict);
    await opened.text();
  }
  for (const [path, type] of [["overlay.js", "text/javascript"], ["overlay.css", "text/css"]]) {
    const asset = await fetch(`${server.url}${path}`);
    ok(asset.headers.get("content-type")!.startsWith(type!), path);
    await asset.text();
  }
  const missing = await fetch(`${server.url}nope`);
  strictEqual(missing.status, 404);
  await missing.text();
  const post = await fetch(server.url, { method: "POST", body: "x" });
  strictEqual(post.status, 405);
  await post.text();
  // A request target that is no URL is a 400, not a crash (any web page can send one).
  const raw = await rawRequest(
    server.url,
    "GET // HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n",
  );
  ok(raw.startsWith("HTTP/1.1 400"), raw);
  const after = await fetch(server.url);
  strictEqual(after.status, 200, "still serving");
  await after.text();
});

/** Sends `request` as it is over TCP and returns the whole answer. */
async function rawRequest(base: string, request: string): Promise<string> {
  const { connect } = await import("node:net");
  const { hostname, port } = new URL(base);
  return await new Promise((resolve, reject) => {
    const socket = connect({ host: hostname, port: Number(port) }, () => socket.write(request));
    let answer = "";
    socket.setEncoding("utf8");
    socket.on("data", (text) => (answer += text));
    socket.on("end", () => resolve(answer));
    socket.on("error", reject);
  });
}

test("server: each page's stream is filtered by its own parameters, and folds when asked", async () => {
  await using server = await OverlayServer.start({
    defaults: { rules: { blockWords: ["广告"] }, enter: false, fold: false },
  });
  server.setRoom(ROOM, { connected: true });
  const all = readEvents(
    `${server.url}events?enter=1`,
    (events) => lineTexts(events).includes("end"),
  );
  const some = readEvents(
    `${server.url}events?minGift=1&minLevel=5&fold=1&blockUsers=Bob`,
    (events) => lineTexts(events).includes("end"),
  );
  while (server.pages < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  const send = (fields: Record<string, string | number>) =>
    server.publish(ROOM, msg(fields), catalog);
  send({ type: "chatmsg", cid: "c1", nn: "Ann", txt: "hello", level: 10 });
  send({ type: "chatmsg", cid: "c2", nn: "Bob", txt: "blocked user", level: 10 });
  send({ type: "chatmsg", cid: "c3", nn: "Cy", txt: "low", level: 2 });
  send({ type: "chatmsg", cid: "c4", nn: "Di", txt: "买广告", level: 10 });
  send({ type: "uenter", nn: "Eve", level: 10 });
  send({ type: "dgb", nn: "Fay", gfid: 824, gfcnt: 1 });
  send({ type: "dgb", nn: "Gus", gfid: 20004, gfcnt: 1 });
  send({ type: "chatmsg", cid: "c5", nn: "Hal", txt: "666", level: 10 });
  send({ type: "chatmsg", cid: "c6", nn: "Ivy", txt: "６６６", level: 10 });
  send({ type: "chatmsg", cid: "c7", nn: "Jo", txt: "end", level: 10 });
  const [everything, filtered] = await Promise.all([all, some]);
  deepStrictEqual(lineTexts(everything), ["hello", "blocked user", "low", "666", "６６６", "end"]);
  strictEqual(everything.filter(({ data }) => data.type === "enter").length, 1);
  strictEqual(everything.filter(({ data }) => data.type === "gift").length, 2);
  deepStrictEqual(lineTexts(filtered), ["hello", "666", "fold 2", "end"]);
  const fold = filtered.find(({ data }) => data.type === "fold")!.data;
  deepStrictEqual(fold.type === "fold" ? [fold.id, fold.target] : [], ["c6", "c5"]);
  const gifts = filtered.flatMap(({ data }) => data.type === "gift" ? [data.gift.name] : []);
  deepStrictEqual(gifts, ["火箭"]);
  deepStrictEqual(filtered[0]!.data, {
    type: "status",
    rooms: [{ room: ROOM, connected: true }],
    problems: [],
  });
});

test("server: a page that reconnects resumes after Last-Event-ID; a new one gets the backlog", async () => {
  await using server = await OverlayServer.start({ backlog: 3 });
  for (let i = 1; i <= 5; i++) {
    server.publish(ROOM, msg({ type: "chatmsg", cid: `c${i}`, txt: `line ${i}` }));
  }
  const fresh = await readEvents(`${server.url}events`, (events) => lineTexts(events).length >= 3);
  deepStrictEqual(lineTexts(fresh), ["line 3", "line 4", "line 5"]);
  const second = fresh.find(({ data }) => data.type === "chat" && data.text === "line 3")!.id!;
  const resumed = readEvents(
    `${server.url}events`,
    (events) => lineTexts(events).includes("line 6"),
    { "last-event-id": second },
  );
  const byQuery = readEvents(
    `${server.url}events?lastEventId=${encodeURIComponent(second)}`,
    (events) => lineTexts(events).includes("line 6"),
  );
  while (server.pages < 2) await new Promise((resolve) => setTimeout(resolve, 10));
  server.publish(ROOM, msg({ type: "chatmsg", cid: "c6", txt: "line 6" }));
  deepStrictEqual(lineTexts(await resumed), ["line 4", "line 5", "line 6"]);
  deepStrictEqual(lineTexts(await byQuery), ["line 4", "line 5", "line 6"]);
  // An id from another process (another boot): the backlog, deduplicated by the page's ids.
  const other = await readEvents(
    `${server.url}events`,
    (events) => lineTexts(events).length >= 3,
    { "last-event-id": "zzz.2" },
  );
  deepStrictEqual(lineTexts(other), ["line 4", "line 5", "line 6"]);
});

test("server: live state and connection go to the status line; bad parameters are reported", async () => {
  await using server = await OverlayServer.start();
  server.setRoom(ROOM, { connected: false, error: "reconnecting in 2.0 s" });
  server.publish(ROOM, msg({ type: "rss", ss: 0 }));
  const events = await readEvents(
    `${server.url}events?minGift=lots`,
    (events) => events.some(({ data }) => data.type === "live"),
  );
  deepStrictEqual(events[0]!.data, {
    type: "status",
    rooms: [{ room: ROOM, connected: false, error: "reconnecting in 2.0 s", state: "offline" }],
    problems: ['minGift: "lots" is not a number >= 0 (ignored)'],
  });
});

// ---------------------------------------------------------------------------
// douyu overlay, in-process

interface Run {
  code: Promise<number>;
  stop: AbortController;
  out: () => string;
  err: () => string;
  url: () => Promise<string>;
}

function run(args: string[]): Run {
  const stop = new AbortController();
  let out = "";
  let err = "";
  const code = main(["overlay", ...args], {
    stdout: (text) => void (out += text),
    stderr: (text) => void (err += text),
    signal: stop.signal,
  });
  return {
    code,
    stop,
    out: () => out,
    err: () => err,
    url: async () => {
      for (let i = 0; i < 500 && !out.includes("\n"); i++) {
        await new Promise((resolve) => setTimeout(resolve, 10));
      }
      const match = /^overlay: (\S+) {2}\(Ctrl-C stops\)\n/.exec(out);
      ok(match, `${out} / ${err}`);
      return match[1]!;
    },
  };
}

test("douyu overlay: usage errors exit 2 with one line", async () => {
  for (
    const [args, message] of [
      [[], "missing <room>"],
      [["--demo", "9999"], "--demo plays the sample room"],
      [["--port", "x", "9999"], "invalid value for --port"],
      [["--min-gift-value=-1", "9999"], "invalid value for --min-gift-value"],
      [["--url", "http://x", "9999"], "invalid value for --url"],
      [["--bogus", "9999"], "unknown option --bogus"],
      [["--host"], "option --host needs a value"],
      [["--max-streams", "0", "9999"], "invalid value for --max-streams"],
      [["--allow-origin", "evil.example", "9999"], "invalid value for --allow-origin"],
      [["--allow-origin", "https://a.example/path", "9999"], "invalid value for --allow-origin"],
    ] as const
  ) {
    const cli = run([...args]);
    strictEqual(await cli.code, 2, args.join(" "));
    ok(cli.err().startsWith(`douyu: ${message}`), cli.err());
  }
  const help = run(["--help"]);
  strictEqual(await help.code, 0);
  ok(help.out().includes("douyu overlay [options] <room…>") && help.out().includes("--demo"));
});

test("douyu overlay: a port in use is one line and exit 1", async () => {
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, "127.0.0.1", resolve));
  const port = (blocker.address() as AddressInfo).port;
  try {
    const cli = run(["--demo", "--port", String(port)]);
    strictEqual(await cli.code, 1);
    ok(cli.err().startsWith(`douyu: cannot listen on 127.0.0.1:${port}`), cli.err());
    strictEqual(cli.err().trim().split("\n").length, 1);
  } finally {
    await new Promise((resolve) => blocker.close(resolve));
  }
});

test("douyu overlay <room>: a room's messages reach the page's stream; Ctrl-C exits 0", async () => {
  await using room = await MockServer.start({
    messages: [
      { type: "chatmsg", rid: ROOM, cid: "m1", nn: "Ann", txt: "hello", level: 3, dms: 5 },
      { type: "chatmsg", rid: ROOM, cid: "m2", nn: "Bot", txt: "bot", level: 3 },
      { type: "dgb", rid: ROOM, nn: "Bo", gfid: 824, gfcnt: 1, hits: 2 },
    ],
  });
  // A gift API that fails at once: gifts then show as ids, and nothing leaves this machine.
  const cli = run([
    "--url",
    room.url,
    "--port",
    "0",
    "--no-bots",
    "--gift-api-base",
    "http://127.0.0.1:9",
    String(ROOM),
  ]);
  try {
    const url = await cli.url();
    const events = await readEvents(
      `${url}events`,
      (events) => events.some(({ data }) => data.type === "gift"),
    );
    deepStrictEqual(lineTexts(events), ["hello"]); // the bot was dropped (--no-bots)
    const gift = events.find(({ data }) => data.type === "gift")!.data;
    deepStrictEqual(gift.type === "gift" ? gift.gift.name : undefined, "gift #824");
  } finally {
    cli.stop.abort("SIGINT");
  }
  strictEqual(await cli.code, 0);
  ok(cli.err().includes(`room ${ROOM}: connected`), cli.err());
});

test("douyu overlay: an unreachable room is retried, and the page is told why", async () => {
  const cli = run(["--url", "tcp://127.0.0.1:9", "--port", "0", String(ROOM)]);
  try {
    const url = await cli.url();
    const events = await readEvents(
      `${url}events`,
      (events) =>
        events.some(({ data }) => data.type === "status" && data.rooms[0]?.error !== undefined),
    );
    const status = events.at(-1)!.data;
    ok(status.type === "status" && status.rooms[0]!.connected === false);
    ok(cli.err().includes("trying again in 2 s"), cli.err());
  } finally {
    cli.stop.abort("SIGINT");
  }
  strictEqual(await cli.code, 0);
});

test("douyu overlay --demo: one go-live line, a different super chat each pass, gifts of every tier", async () => {
  const next = demoPasses(new AbortController().signal, false);
  const passes: Record<string, string>[][] = [];
  for (let i = 0; i < 7; i++) {
    const messages: Record<string, string>[] = [];
    for await (const body of next()) messages.push(decodeStt(body));
    passes.push(messages);
  }
  const status = passes.map((messages) =>
    messages.filter((m) => m.type === "rss").map((m) => m.ss).join(",")
  );
  deepStrictEqual(status, ["1", "", "", "", "", "", ""]);
  const superChats = passes.map((messages) => {
    const found = messages.filter((m) => m.type === "comm_chatmsg");
    strictEqual(found.length, 1);
    const nested = decodeStt(found[0]!.chatmsg!);
    // Pinned for less than two passes: at most two at once, never the same one.
    ok(Number(found[0]!.cet) <= 34, found[0]!.cet);
    return `${nested.nn}: ${nested.txt}`;
  });
  strictEqual(new Set(superChats.slice(0, 6)).size, 6, superChats.join(" | "));
  for (let i = 1; i < superChats.length; i++) ok(superChats[i] !== superChats[i - 1]);
  const gifts = new Set(passes.flat().filter((m) => m.type === "dgb").map((m) => m.gfid));
  for (const id of ["824", "20101", "20008"]) ok(gifts.has(id), `gift ${id}`);
});
