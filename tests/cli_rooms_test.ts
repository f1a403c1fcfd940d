/**
 * The command line with many rooms, filters, gift values and live status:
 * in-process against the mock server and local stand-ins for Douyu's APIs.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { lookups, outputOptions } from "../src/cli/options.ts";
import { Printer } from "../src/cli/printer.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { parseRecording } from "../src/protocol/record.ts";
import { GiftCatalogCache } from "../src/web/gifts.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { lines, run, tempDir, withHttp } from "./cli_helpers.ts";
import { readFixture, test } from "./harness.ts";

const chat = (uid: number, txt: string, extra: Record<string, string | number> = {}) =>
  encodeStt({ type: "chatmsg", uid, nn: `user${uid}`, txt, level: 10, dms: 5, ...extra });

/** Every client that joins gets `messages`, then nothing more. */
function served(messages: string[]): Promise<MockServer> {
  return MockServer.start({ messages });
}

test("cli: several rooms at once: a room column, and _room in --json", async () => {
  await using server = await served([chat(1, "hello")]);
  const text = await run(["--url", server.url, "--count", "2", "1001", "1002"]);
  strictEqual(text.code, 0, text.stderr);
  const rows = lines(text.stdout);
  strictEqual(rows.length, 2);
  deepStrictEqual(rows.map((row) => row.split(/\s+/)[1]).sort(), ["1001", "1002"]);
  ok(rows.every((row) => row.includes("hello")));
  ok(text.stderr.includes("room 1001: connected to") && text.stderr.includes("room 1002"));

  const json = await run(["--url", server.url, "--json", "--count", "2", "1001", "1002"]);
  strictEqual(json.code, 0, json.stderr);
  const objects = lines(json.stdout).map((line) => JSON.parse(line));
  deepStrictEqual(objects.map((o) => o._room).sort(), [1001, 1002]);
  ok(objects.every((o) => o.type === "chatmsg" && o.txt === "hello"));

  // One room: the output is exactly as before, with no room column nor field.
  const single = await run(["--url", server.url, "--json", "--count", "1", "1001"]);
  strictEqual(JSON.parse(lines(single.stdout)[0]!)._room, undefined);
});

test("cli: --rooms-file adds rooms (comments and blank lines skipped, duplicates once)", async () => {
  await using server = await served([chat(1, "hi")]);
  const dir = await tempDir();
  try {
    const file = `${dir}/rooms.txt`;
    await writeFile(file, "# my rooms\n2001\n\n2002  # the second\n2001\n");
    const result = await run([
      "--url",
      server.url,
      "--json",
      "--rooms-file",
      file,
      "--count",
      "3",
      "2003",
    ]);
    strictEqual(result.code, 0, result.stderr);
    deepStrictEqual(
      lines(result.stdout).map((line) => JSON.parse(line)._room).sort(),
      [2001, 2002, 2003],
    );
    strictEqual(server.clients.length, 3, "one connection per room");
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli: a multi-room --record keeps each line's room; replay shows them", async () => {
  await using server = await served([chat(1, "one"), chat(2, "two")]);
  const dir = await tempDir();
  try {
    const file = `${dir}/rooms.jsonl`;
    const live = await run(["--url", server.url, "--record", file, "--count", "4", "3001", "3002"]);
    strictEqual(live.code, 0, live.stderr);
    const recorded = parseRecording(await readFile(file, "utf8"));
    const rooms = new Set(recorded.map((line) => line.room));
    deepStrictEqual([...rooms].sort(), [3001, 3002]);
    const replayed = await run(["replay", file, "--json", "--speed", "0"]);
    strictEqual(replayed.code, 0, replayed.stderr);
    const objects = lines(replayed.stdout).map((line) => JSON.parse(line));
    strictEqual(objects.length, 4);
    deepStrictEqual(new Set(objects.map((o) => o._room)), rooms);
    const text = await run(["replay", file, "--speed", "0"]);
    ok(lines(text.stdout).every((row) => /^\S+ 300[12] /.test(row)), text.stdout);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli: --block-words, --block-users, --min-level and --fold-repeats", async () => {
  await using server = await served([
    chat(1, "加群 免费领"),
    chat(2, "blocked by name"),
    chat(3, "too young", { level: 2 }),
    chat(4, "666"),
    chat(5, "６６６"),
    chat(6, "666 "),
    chat(7, "666"),
    chat(8, "666"),
    chat(9, "the end"),
  ]);
  const result = await run([
    "--url",
    server.url,
    "--block-words",
    "加群,spam",
    "--block-users",
    "user2",
    "--min-level",
    "5",
    "--fold-repeats",
    "--count",
    "4",
    "4001",
  ]);
  strictEqual(result.code, 0, result.stderr);
  const texts = lines(result.stdout).map((row) => row.replace(/^.*user\d\s+/, ""));
  // 666 once, then the folded line at 2 and at 5 repeats; then the rest.
  deepStrictEqual(texts, ["666", "６６６ ×2", "666 ×5", "the end"]);
});

/** The gift API and props config of the fixtures, counting requests. */
function giftApi(requests: string[], status = 200) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    requests.push(req.url ?? "");
    if (status !== 200) {
      res.writeHead(status).end("down");
      return;
    }
    const body = (req.url ?? "").startsWith("/api/gift/v3/web/list")
      ? await readFixture("http_gift_list.json")
      : await readFixture("http_prop_gift_config.jsonp");
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  };
}

test("cli: gifts show their value once the catalogue is in; --min-gift-value uses it", async () => {
  const requests: string[] = [];
  await withHttp(giftApi(requests), async (base) => {
    // A rocket (¥500) and a 稳 (¥0.10), again and again: the first ones print
    // before the catalogue arrives (output never waits for it, and a gift of
    // unknown value is kept), later rockets with their value, and no more 稳.
    const rocket = encodeStt({ type: "dgb", uid: 7, nn: "Rich", gfid: 20004, gfcnt: 1 });
    const cheap = encodeStt({ type: "dgb", uid: 8, nn: "Thrifty", gfid: 20000, gfcnt: 1 });
    await using server = await MockServer.start({
      messages: function* () {
        for (;;) yield* [rocket, cheap];
      },
      interval: 20,
    });
    const stop = new AbortController();
    let valuedLines = 0;
    const result = await run(
      ["--url", server.url, "--gift-api-base", base, "--min-gift-value", "100", "5001"],
      {
        signal: stop.signal,
        onStdout: (text) => {
          if (text.includes("(¥500.00)") && ++valuedLines === 3) stop.abort("SIGINT");
        },
      },
    );
    strictEqual(result.code, 130, result.stderr);
    const rows = lines(result.stdout);
    const first = rows.findIndex((row) => row.endsWith("sent 火箭 x1 (¥500.00)"));
    ok(first !== -1, result.stdout);
    // Once values are known, every line is a valued rocket: 稳 is below the minimum.
    deepStrictEqual(rows.slice(first).map((row) => row.replace(/^\S+ /, "")), [
      "gift          Rich               sent 火箭 x1 (¥500.00)",
      "gift          Rich               sent 火箭 x1 (¥500.00)",
      "gift          Rich               sent 火箭 x1 (¥500.00)",
    ]);
    ok(requests.includes("/api/gift/v3/web/list?rid=5001"), String(requests));
    ok(requests.some((url) => url.includes("prop_gift_config")), String(requests));
    strictEqual(result.stderr.includes("unavailable"), false, result.stderr);
  });
});

test("cli: a gift catalogue that cannot be fetched costs one warning; gifts show their id", async () => {
  const requests: string[] = [];
  await withHttp(giftApi(requests, 500), async (base) => {
    await using server = await MockServer.start({
      messages: function* () {
        for (;;) yield encodeStt({ type: "dgb", uid: 7, nn: "Rich", gfid: 20004, gfcnt: 2 });
      },
      interval: 20,
    });
    let afterWarning = 0;
    const stop = new AbortController();
    const result = await run(["--url", server.url, "--gift-api-base", base, "5002"], {
      signal: stop.signal,
      onStderr: (text) => {
        if (text.includes("gift names and values unavailable")) afterWarning = 1;
      },
      onStdout: () => {
        // Ten gifts after the warning show that it is said once.
        if (afterWarning > 0 && ++afterWarning > 10) stop.abort("SIGINT");
      },
    });
    strictEqual(result.code, 130);
    strictEqual(result.stderr.split("gift names and values unavailable").length, 2, result.stderr);
    ok(lines(result.stdout).length > 3);
    ok(lines(result.stdout).every((row) => row.endsWith("sent gift #20004 x2")), result.stdout);
  });
});

test("printer: a gift catalogue that failed is asked again, and values appear once it answers", async () => {
  const requests: string[] = [];
  let failures = 1;
  const api = giftApi(requests);
  await withHttp(async (req, res) => {
    if ((req.url ?? "").startsWith("/api/gift/") && failures-- > 0) {
      requests.push(req.url ?? "");
      res.writeHead(503).end("busy");
      return;
    }
    await api(req, res);
  }, async (base) => {
    let out = "";
    let err = "";
    const stop = new AbortController();
    const gifts = new GiftCatalogCache({ giftApiBase: base, propsBase: base, retryAfter: 0 });
    const printer = new Printer({
      io: { stdout: (text) => void (out += text), stderr: (text) => void (err += text) },
      options: outputOptions({}),
      stop: stop.signal,
      showRoom: false,
      gifts,
    });
    const rocket = parseMessage(encodeStt({ type: "dgb", nn: "Rich", gfid: 20004, gfcnt: 1 }));
    for (let i = 0; i < 200 && !out.includes("¥500.00"); i++) {
      await printer.print(rocket, Date.now(), 5004);
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    gifts.clear();
    ok(out.includes("sent 火箭 x1 (¥500.00)"), out);
    ok(lines(out)[0]!.endsWith("sent gift #20004 x1"), out);
    // The props config answered: a catalogue that knows less, no warning, tried again.
    strictEqual(err, "");
    ok(requests.filter((url) => url.startsWith("/api/gift/")).length >= 2, String(requests));
  });
});

test("printer: a room's first line asks for its gift catalogue, so its first gift has a value", async () => {
  const requests: string[] = [];
  await withHttp(giftApi(requests), async (base) => {
    let out = "";
    const stop = new AbortController();
    const gifts = new GiftCatalogCache({ giftApiBase: base, propsBase: base });
    const printerFor = (types?: string) =>
      new Printer({
        io: { stdout: (text) => void (out += text), stderr: () => {} },
        options: outputOptions(types === undefined ? {} : { types }),
        stop: stop.signal,
        showRoom: false,
        gifts,
      });
    const chat = parseMessage(encodeStt({ type: "chatmsg", nn: "Ann", txt: "hi", level: 3 }));
    const rocket = parseMessage(encodeStt({ type: "dgb", nn: "Rich", gfid: 20004, gfcnt: 1 }));
    // Chat only: no gift is ever printed, so no catalogue is asked for.
    await printerFor("chatmsg").print(chat, Date.now(), 5006);
    const printer = printerFor();
    await printer.print(chat, Date.now(), 5005);
    for (let i = 0; i < 2000 && gifts.peek(5005) === undefined; i++) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    await printer.print(rocket, Date.now(), 5005);
    gifts.clear();
    ok(lines(out)[2]!.endsWith("sent 火箭 x1 (¥500.00)"), out);
    deepStrictEqual(
      requests.filter((url) => url.startsWith("/api/gift/")),
      ["/api/gift/v3/web/list?rid=5005"],
    );
  });
});

test("cli: with --url, Douyu's web APIs are asked only at the bases given, fallbacks too", async () => {
  const local = "http://127.0.0.1:1";
  const guarded = lookups({ "api-base": local }, ["tcp://127.0.0.1:2"]);
  await rejects(guarded.fetch!("https://open.douyucdn.cn/api/RoomApi/room/1", {}), /not asked/);
  await rejects(guarded.fetch!("https://m.douyu.com/yyf", {}), /not asked/);
  await rejects(guarded.fetch!("http://127.0.0.1:10/betard/1", {}), /not asked/);
  // Under the base it is a real request (here refused: nothing listens on port 1).
  await rejects(
    guarded.fetch!(`${local}/betard/1`, {}),
    (error) => !/not asked/.test(String(error)),
  );
  strictEqual(
    lookups({ "api-base": local }).fetch,
    undefined,
    "without --url: the runtime's fetch",
  );

  await using server = await served([chat(1, "hi")]);
  const name = await run(["--url", server.url, "yyf"]);
  strictEqual(name.code, 1);
  ok(name.stderr.includes("not asked"), name.stderr);
  strictEqual(lines(name.stderr).length, 1, name.stderr);
});

test("cli: with --url and no --gift-api-base, nothing is asked of Douyu's gift API", async () => {
  await using server = await served([encodeStt({ type: "dgb", nn: "A", gfid: 20004, gfcnt: 1 })]);
  const result = await run(["--url", server.url, "--count", "1", "5003"]);
  strictEqual(result.code, 0, result.stderr);
  ok(lines(result.stdout)[0]!.endsWith("sent gift #20004 x1"), result.stdout);
  ok(!result.stderr.includes("gift"), result.stderr);
});

/** betard answers for one room, whose status the test changes. */
function betard(room: { show_status: number; videoLoop: number }) {
  return (req: IncomingMessage, res: ServerResponse) => {
    if (!(req.url ?? "").startsWith("/betard/6001")) {
      res.writeHead(404).end();
      return;
    }
    res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify({
      room: {
        room_id: 6001,
        room_name: "今晚\u200b打游戏",
        nickname: "样例\u001b[31m主播",
        second_lvl_name: "英雄联盟",
        show_status: room.show_status,
        videoLoop: room.videoLoop,
      },
    }));
  };
}

test("douyu live: a line per transition, with owner and title; --json; --state", async () => {
  const room = { show_status: 2, videoLoop: 0 };
  await withHttp(betard(room), async (base) => {
    await using server = await MockServer.start();
    const dir = await tempDir();
    try {
      const state = `${dir}/state.json`;
      const args = ["live", "--url", server.url, "--api-base", base, "--open-api-base", base];
      // The stream starts once the first line (offline, from the API) is out.
      const goLive = () =>
        server.nextClient().then((client) => client.send("type@=rss/rid@=6001/ss@=1/ivl@=0/"));
      let sending: Promise<void> | undefined;
      const text = await run([...args, "--state", state, "--count", "2", "6001"], {
        onStdout: () => void (sending ??= goLive()),
      });
      await sending;
      strictEqual(text.code, 0, text.stderr);
      const rows = lines(text.stdout);
      deepStrictEqual(rows.map((row) => row.split(/\s+/).slice(1, 3)), [
        ["6001", "offline"],
        ["6001", "live"],
      ]);
      // Sanitised: the owner's escape shown as a visible escape (a name), the
      // title's zero-width space removed (a text).
      ok(rows[0]!.endsWith("样例<U+001B>[31m主播: 今晚打游戏 [英雄联盟]"), rows[0]);
      deepStrictEqual(JSON.parse(await readFile(state, "utf8"))["6001"].state, "live");

      // Started again with that state: live is known, not announced again.
      room.show_status = 1;
      const again = await run([...args, "--state", state, "--json", "--duration", "1", "6001"]);
      strictEqual(again.code, 0, again.stderr);
      strictEqual(again.stdout, "");

      const json = await run([...args, "--json", "--count", "1", "6001"]);
      const event = JSON.parse(lines(json.stdout)[0]!);
      strictEqual(event.room, 6001);
      strictEqual(event.state, "live");
      strictEqual(event.info.name, "今晚\u200b打游戏", "JSON keeps the text exactly");
      ok(typeof event.at === "number");
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});
