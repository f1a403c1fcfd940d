/**
 * The command line with many rooms, filters, gift values and live status:
 * in-process against the mock server and local stand-ins for Douyu's APIs.
 */
import { deepStrictEqual, match, ok, rejects, strictEqual } from "node:assert/strict";
import { readFile, rm, writeFile } from "node:fs/promises";
import type { IncomingMessage, ServerResponse } from "node:http";
import { lookups } from "../src/cli/options.ts";
import { parseRecording, serializeRecordLine } from "../src/protocol/record.ts";
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

/** `handler`, answering after `ms` (or never, when the client goes away first). */
function slowly(
  handler: (req: IncomingMessage, res: ServerResponse) => Promise<void>,
  ms: number,
): (req: IncomingMessage, res: ServerResponse) => Promise<void> {
  return async (req, res) => {
    const gone = await new Promise<boolean>((resolve) => {
      const timer = setTimeout(() => resolve(false), ms);
      res.once("close", () => {
        clearTimeout(timer);
        resolve(true);
      });
    });
    if (!gone) await handler(req, res);
  };
}

test("cli: gifts show their value once the catalogue is in; --min-gift-value uses it", async () => {
  const requests: string[] = [];
  await withHttp(giftApi(requests), async (base) => {
    // A rocket (¥500) and a 稳 (¥0.10), again and again: the first ones wait
    // for the catalogue (asked when the room was joined), so every rocket
    // prints with its value, and no 稳.
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
    // Every line is a valued rocket: 稳 is below the minimum.
    deepStrictEqual(rows.map((row) => row.replace(/^\S+ /, "")), [
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

test("cli: a room whose first two gifts come 300 ms apart prints both with their values", async () => {
  const requests: string[] = [];
  // The gift list takes 200 ms, longer than the first gift takes to come.
  await withHttp(slowly(giftApi(requests), 200), async (base) => {
    await using server = await MockServer.start({
      messages: [
        encodeStt({ type: "dgb", uid: 7, nn: "Fan", gfid: 824, gfcnt: 10 }),
        encodeStt({ type: "dgb", uid: 8, nn: "Rich", gfid: 20004, gfcnt: 1 }),
      ],
      interval: 300,
    });
    const text = await run(["--url", server.url, "--gift-api-base", base, "--count", "2", "5005"]);
    strictEqual(text.code, 0, text.stderr);
    deepStrictEqual(lines(text.stdout).map((row) => row.replace(/^\S+ /, "")), [
      "gift          Fan                sent 粉丝荧光棒 x10 (¥0.00)",
      "gift          Rich               sent 火箭 x1 (¥500.00)",
    ]);
    const json = await run([
      "--url",
      server.url,
      "--gift-api-base",
      base,
      "--json",
      "--count",
      "2",
      "5005",
    ]);
    strictEqual(json.code, 0, json.stderr);
    deepStrictEqual(lines(json.stdout).map((line) => JSON.parse(line)._gift), [
      { name: "粉丝荧光棒", value: 0 },
      { name: "火箭", value: 500 },
    ]);
  });
});

test("cli: replay --json with --gift-api-base: the recorded _t, and the first gift priced", async () => {
  const requests: string[] = [];
  await withHttp(slowly(giftApi(requests), 200), async (base) => {
    const dir = await tempDir();
    try {
      const file = `${dir}/gifts.jsonl`;
      const bodies = [
        encodeStt({ type: "dgb", uid: 8, nn: "Rich", gfid: 20004, gfcnt: 2 }),
        chat(1, "wow"),
      ];
      await writeFile(
        file,
        bodies.map((body, i) => serializeRecordLine({ t: 1_700_000_000_000 + i, room: 5009, body }))
          .join(""),
      );
      const replayed = await run([
        "replay",
        file,
        "--json",
        "--speed",
        "0",
        "--gift-api-base",
        base,
      ]);
      strictEqual(replayed.code, 0, replayed.stderr);
      deepStrictEqual(
        lines(replayed.stdout).map((line) => {
          const { _t, _gift, type } = JSON.parse(line);
          return { type, _t, _gift };
        }),
        [
          { type: "dgb", _t: 1_700_000_000_000, _gift: { name: "火箭", value: 1000 } },
          { type: "chatmsg", _t: 1_700_000_000_001, _gift: undefined },
        ],
      );
    } finally {
      await rm(dir, { recursive: true });
    }
  });
});

test("cli: --gift-wait 0 never waits; --types without a gift type asks for no catalogue", async () => {
  const requests: string[] = [];
  await withHttp(slowly(giftApi(requests), 200), async (base) => {
    await using server = await MockServer.start({
      messages: [
        encodeStt({ type: "dgb", uid: 8, nn: "Rich", gfid: 20004, gfcnt: 1 }),
        chat(1, "hi"),
      ],
    });
    const text = await run([
      "--url",
      server.url,
      "--gift-api-base",
      base,
      "--gift-wait",
      "0",
      "--count",
      "2",
      "5006",
    ]);
    strictEqual(text.code, 0, text.stderr);
    ok(lines(text.stdout)[0]!.endsWith("sent gift #20004 x1"), text.stdout);
    requests.length = 0;
    const chats = await run([
      "--url",
      server.url,
      "--gift-api-base",
      base,
      "--types",
      "chatmsg",
      "--count",
      "1",
      "5007",
    ]);
    strictEqual(chats.code, 0, chats.stderr);
    deepStrictEqual(requests, []);
    const bad = await run(["--url", server.url, "--gift-wait", "61", "5008"]);
    strictEqual(bad.code, 2);
    ok(bad.stderr.includes("--gift-wait"), bad.stderr);
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

test("douyu live: a room it cannot join, or whose connection drops, is told on stderr once until it connects", async () => {
  // Nothing listens on port 1: it said nothing at all, and kept trying.
  const unreachable = await run(["live", "--url", "tcp://127.0.0.1:1", "--duration", "2", "9999"]);
  strictEqual(unreachable.code, 0, unreachable.stderr);
  strictEqual(lines(unreachable.stderr).length, 1, unreachable.stderr);
  match(unreachable.stderr, /^douyu: room 9999: cannot connect: .+; trying again\n$/);
  // Connected, dropped by the server, connected again.
  await using server = await MockServer.start();
  const dropped = server.nextClient().then(async (client) => {
    client.close();
    await server.nextClient();
  });
  let stderr = "";
  const enough = new AbortController();
  const result = await run(["live", "--url", server.url, "9999"], {
    signal: enough.signal,
    onStderr: (chunk) => {
      stderr += chunk;
      if (/connected to/.test(stderr)) enough.abort("SIGINT");
    },
  });
  await dropped;
  strictEqual(result.code, 130, result.stderr);
  deepStrictEqual(
    lines(result.stderr).map((line) => line.replace(/(connection lost): [^;]*;/, "$1: …;")),
    [
      "douyu: room 9999: connection lost: …; trying again",
      `douyu: room 9999: connected to ${server.url}`,
    ],
  );
});

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
