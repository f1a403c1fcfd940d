// deno-lint-ignore-file no-control-regex -- these tests look for control characters
/**
 * End-to-end tests of the `douyu` command line tool against the mock server:
 * mostly `main()` in-process with fake streams (fast), plus the real process
 * (`deno run -N mod.ts` under Deno, `bun mod.ts` under Bun) for exit codes
 * and signals. The single-file binaries are built and run by
 * `scripts/smoke_binary.ts` (in `deno task ci`), where Bun and the NATS
 * client are present.
 */
import { deepStrictEqual, ok, rejects, strictEqual } from "node:assert/strict";
import { spawn } from "node:child_process";
import { readFile, rm, stat, writeFile } from "node:fs/promises";
import type { RequestListener } from "node:http";
import { type CliIO, main, VERSION } from "../src/cli/cli.ts";
import { formatJson, formatMessage, jsonGift } from "../src/output/format.ts";
import { giftOf } from "../src/protocol/gifts.ts";
import { type Message, parseMessage } from "../src/protocol/messages.ts";
import { type MockClient, MockServer } from "../src/testing/mock_server.ts";
import { parseRecording, serializeRecordLine } from "../src/protocol/record.ts";
import { SAMPLE_ROOM, sampleRecording } from "../src/testing/sample.ts";
import { connect } from "../src/session/session.ts";
import { ConnectionError } from "../src/base/errors.ts";
import { decodeStt, encodeStt } from "../src/protocol/stt.ts";
import { encodeFrame, FrameDecoder } from "../src/protocol/frame.ts";
import { parseEndpoint, type Transport } from "../src/transport/seam.ts";
import { defaultTransportFactory } from "../src/transport/default.ts";
import {
  lines,
  type Result,
  run,
  tempDir,
  unstamped,
  unstampedLines,
  withHttp,
} from "./cli_helpers.ts";
import { runtime, test } from "./harness.ts";

const ROOM = 9999;
const MOD = new URL("../mod.ts", import.meta.url).pathname;
const ROOT = new URL("..", import.meta.url).pathname;

const CONTROL = /[\u0000-\u0009\u000b-\u001f\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/;

/** What the mock server streams: varied shapes, nested fields, an unknown type, other rooms, a bot. */
const SERVED: string[] = [
  encodeStt({
    type: "chatmsg",
    rid: ROOM,
    uid: 1,
    nn: "Ann",
    txt: "hello @Alice a/b",
    level: 12,
    dms: 5,
    col: 2,
  }),
  encodeStt({
    type: "dgb",
    rid: ROOM,
    uid: 2,
    nn: "Bo",
    level: 20,
    gfid: 824,
    gfn: "荧光棒",
    gfcnt: 1,
    hits: 3,
    el: [{ eid: 1500000113, etp: 1, sc: 1, ef: 0 }],
  }),
  "type@=uenter/rid@=9999/uid@=3/nn@=小鱼干/level@=3/",
  "type@=synexp/o_exp@=1468216348/o_lev@=56/rid@=9999/",
  encodeStt({
    type: "comm_chatmsg",
    btype: "voiceDanmu",
    chatmsg: { nn: "Dee", level: 44, txt: "加油", uid: 4, ail: [1, 2] },
    cprice: 1000,
    cet: 30,
    rid: ROOM,
  }),
  "type@=chatmsg/rid@=9999/uid@=5/nn@=Bot/txt@=spam/level@=1/",
  "type@=spbc/rid@=0/drid@=1234/sn@=X/dn@=Y/gn@=火箭/gc@=1/",
  "type@=chatmsg/rid@=5555/uid@=6/nn@=Other/txt@=elsewhere/dms@=5/",
  "type@=rss/rid@=9999/ss@=1/ivl@=0/",
  "type@=newblackres/rid@=9999/otype@=2/snic@=Host/dnic@=Bot/endtime@=0/",
];
const SERVED_JSON = SERVED.map((body) => formatJson(parseMessage(body)) + "\n");

/** Waits for the client's connection to end, then says whether it sent `logout` first. */
async function loggedOut(client: MockClient): Promise<boolean> {
  await client.closed;
  return client.received.some((message) => message.type === "logout");
}

/** A URL nothing listens on: a mock server's, after it closed. */
async function deadUrl(): Promise<string> {
  const server = await MockServer.start();
  const url = server.url;
  await server.close();
  return url;
}

function assertUsage(result: Result, mention: string): void {
  strictEqual(result.code, 2, `exit code for ${mention}: ${result.stderr}`);
  strictEqual(result.stdout, "");
  ok(result.stderr.startsWith("douyu: "), result.stderr);
  ok(result.stderr.includes(mention), `stderr should name ${mention}: ${result.stderr}`);
  ok(result.stderr.includes("douyu --help"), result.stderr);
}

// ---------------------------------------------------------------------------
// Live sessions against the mock server, in-process

test("cli: --json prints exactly the messages served, as NDJSON with _t and _gift, and logs out after --count", async () => {
  await using server = await MockServer.start({ messages: SERVED });
  const started = Date.now();
  const result = await run([
    "--url",
    server.url,
    "--json",
    "--count",
    String(SERVED.length),
    "9999",
  ]);
  strictEqual(result.code, 0, result.stderr);
  strictEqual(unstampedLines(result.stdout), SERVED_JSON.join(""));
  const printed = lines(result.stdout).map((line) => JSON.parse(line));
  deepStrictEqual(
    printed.map(({ _t, _gift, ...message }) => message),
    SERVED.map((body) => JSON.parse(JSON.stringify(parseMessage(body)))),
  );
  // Each line carries its arrival time, and a gift or super chat what it is worth, as known.
  for (const { _t } of printed) ok(_t >= started && _t <= Date.now(), String(_t));
  deepStrictEqual(
    printed.flatMap(({ type, _gift }) => _gift === undefined ? [] : [{ type, _gift }]),
    [
      { type: "dgb", _gift: { name: "荧光棒" } },
      { type: "comm_chatmsg", _gift: { value: 10 } },
      { type: "spbc", _gift: { name: "火箭" } },
    ],
  );
  // Status goes to stderr, never stdout.
  ok(result.stderr.includes(`connected to ${server.url}`), result.stderr);
  ok(await loggedOut(server.clients[0]!), "logout sent");
  strictEqual(server.clients[0]!.received[0]!.roomid, "9999");
});

test("cli: human output is one aligned, sanitised line per displayable message", async () => {
  await using server = await MockServer.start({ messages: SERVED });
  const shown = SERVED.filter((body) => formatMessage(parseMessage(body)) !== undefined);
  const result = await run(["--url", server.url, "--count", String(shown.length), "9999"]);
  strictEqual(result.code, 0, result.stderr);
  const out = lines(result.stdout);
  strictEqual(out.length, shown.length);
  // The time column aside, each line is what formatMessage gives.
  deepStrictEqual(
    out.map((line) => line.slice(9)),
    shown.map((body) => formatMessage(parseMessage(body))!.slice(9)),
  );
  ok(out[0]!.includes("Ann") && out[0]!.endsWith("hello @Alice a/b"), out[0]);
  ok(out.some((line) => line.includes("sent 荧光棒 x1 (combo 3)")));
  ok(out.some((line) => line.includes("¥10 加油")));
  ok(!result.stdout.includes("\x1b"), "no colour when not asked for");
  ok(await loggedOut(server.clients[0]!));
});

test("cli: colour is used only when the io asks for it", async () => {
  await using server = await MockServer.start({ messages: SERVED.slice(0, 1) });
  const result = await run(["--url", server.url, "--count", "1", "9999"], { color: true });
  strictEqual(result.code, 0, result.stderr);
  ok(result.stdout.includes("\x1b["), JSON.stringify(result.stdout));
});

test("cli: --types, --no-bots and --only-room filter what is printed", async () => {
  const expect = async (args: string[], keep: (body: string) => boolean) => {
    await using server = await MockServer.start({ messages: SERVED });
    const wanted = SERVED.filter(keep);
    const result = await run([
      "--url",
      server.url,
      "--json",
      "--count",
      String(wanted.length),
      ...args,
      "9999",
    ]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(
      unstampedLines(result.stdout),
      wanted.map((body) => formatJson(parseMessage(body)) + "\n").join(""),
    );
    ok(await loggedOut(server.clients[0]!));
  };
  const type = (body: string) => parseMessage(body).type;
  await expect(["--types", "chatmsg,dgb"], (body) => ["chatmsg", "dgb"].includes(type(body)));
  await expect(["--no-bots"], (body) => !(type(body) === "chatmsg" && !body.includes("dms@=")));
  await expect(["--only-room"], (body) => !/rid@=(0|5555)\//.test(body));
  await expect(
    ["--types", "chatmsg", "--no-bots", "--only-room"],
    (body) => body.includes("nn@=Ann/"),
  );
});

test("cli: --types shows session and unknown types too, compactly in human mode", async () => {
  await using server = await MockServer.start({ messages: SERVED });
  const result = await run([
    "--url",
    server.url,
    "--types",
    "loginres,synexp",
    "--count",
    "2",
    "9999",
  ]);
  strictEqual(result.code, 0, result.stderr);
  const out = lines(result.stdout);
  strictEqual(out.length, 2);
  ok(out[0]!.includes("loginres") && out[0]!.includes("userid=0"), out[0]);
  ok(out[1]!.includes("synexp") && out[1]!.includes("o_lev=56"), out[1]);
});

test("cli: --count stops after N messages even when more are coming", async () => {
  await using server = await MockServer.start({ messages: SERVED, loop: true, interval: 5 });
  const result = await run(["--url", server.url, "--json", "--count", "3", "9999"]);
  strictEqual(result.code, 0, result.stderr);
  strictEqual(unstampedLines(result.stdout), SERVED_JSON.slice(0, 3).join(""));
  ok(await loggedOut(server.clients[0]!));
});

test("cli: --duration ends a quiet session cleanly, with logout", async () => {
  await using server = await MockServer.start();
  const started = performance.now();
  const result = await run(["--url", server.url, "--duration", "0.3", "9999"]);
  const elapsed = performance.now() - started;
  strictEqual(result.code, 0, result.stderr);
  strictEqual(result.stdout, "");
  ok(elapsed >= 250 && elapsed < 5000, `${elapsed} ms`);
  ok(await loggedOut(server.clients[0]!));
});

test("cli: --heartbeat sets the heartbeat interval", async () => {
  await using server = await MockServer.start();
  const result = await run([
    "--url",
    server.url,
    "--heartbeat",
    "0.05",
    "--duration",
    "0.4",
    "9999",
  ]);
  strictEqual(result.code, 0, result.stderr);
  const beats = server.clients[0]!.received.filter((message) => message.type === "mrkl").length;
  ok(beats >= 3, `${beats} heartbeats`);
});

test("cli: a hostile nickname full of escape sequences is printed harmlessly", async () => {
  const hostile = "\x1b]0;owned\x07\x1b[2J\x1b[31mEvil\r\nfake line\u009b2J\u202eesrever\x00";
  const bodies = [
    encodeStt({ type: "chatmsg", rid: ROOM, nn: hostile, txt: hostile, level: hostile, dms: 5 }),
    encodeStt({ type: "uenter", rid: ROOM, nn: hostile, level: 1 }),
    encodeStt({ type: "dgb", rid: ROOM, nn: hostile, gfn: hostile, gfcnt: hostile, hits: 2 }),
    encodeStt({ type: "newblackres", rid: ROOM, otype: 1, snic: hostile, dnic: hostile }),
    encodeStt({
      type: "comm_chatmsg",
      rid: ROOM,
      chatmsg: { nn: hostile, txt: hostile },
      cprice: 100,
      cet: 10,
    }),
  ];
  for (const json of [false, true]) {
    for (const color of [false, true]) {
      await using server = await MockServer.start({ messages: bodies });
      const args = ["--url", server.url, "--count", String(bodies.length), "9999"];
      const result = await run(json ? ["--json", ...args] : args, { color });
      strictEqual(result.code, 0, result.stderr);
      const out = lines(result.stdout);
      strictEqual(out.length, bodies.length, result.stdout);
      const plain = result.stdout.replace(/\x1b\[\d+m/g, "");
      ok(!CONTROL.test(plain), JSON.stringify(plain));
      ok(!plain.includes("\x1b"), "no ESC from the wire");
      ok(out.every((line) => line.includes("owned")), "the printable text is still there");
      if (json) {
        deepStrictEqual(
          out.map((line) => JSON.parse(unstamped(line))),
          bodies.map((body) => JSON.parse(JSON.stringify(parseMessage(body)))),
        );
      }
    }
  }
});

test("cli: --record then replay prints the same messages, from the same bytes", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/room.jsonl`;
    await using server = await MockServer.start({ messages: SERVED });
    const live = await run([
      "--url",
      server.url,
      "--json",
      "--record",
      file,
      "--count",
      String(SERVED.length),
      "9999",
    ]);
    strictEqual(live.code, 0, live.stderr);
    const recorded = parseRecording(await readFile(file, "utf8"));
    const bodies = recorded.map((line) => line.body);
    // Everything that arrived, session messages included, in order.
    strictEqual(parseMessage(bodies[0]!).type, "loginres");
    deepStrictEqual(bodies.filter((body) => SERVED.includes(body)), SERVED);
    for (const line of recorded) ok(Math.abs(line.t - Date.now()) < 60_000);

    const replayed = await run(["replay", file, "--json", "--speed", "0"]);
    strictEqual(replayed.code, 0, replayed.stderr);
    strictEqual(unstampedLines(replayed.stdout), unstampedLines(live.stdout));
    strictEqual(replayed.stderr, "");
    // Replayed, each line's _t is its recorded arrival time; live, it is when it was taken from
    // the room's queue, which is not before it arrived.
    const times = recorded.filter((line) => SERVED.includes(line.body)).map((line) => line.t);
    deepStrictEqual(lines(replayed.stdout).map((line) => JSON.parse(line)._t), times);
    lines(live.stdout).forEach((line, i) => ok(JSON.parse(line)._t >= times[i]!, line));

    // Human replay: the same lines, stamped with the recorded arrival times.
    const human = await run(["replay", file, "--speed", "0"]);
    const shown = recorded.filter((line) => formatMessage(parseMessage(line.body)) !== undefined);
    deepStrictEqual(
      lines(human.stdout),
      shown.map((line) => formatMessage(parseMessage(line.body), { now: line.t })),
    );
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli: replay paces by recorded time divided by --speed, with filters and --count", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/paced.jsonl`;
    const recording = [
      { t: 1_000_000, body: "type@=chatmsg/rid@=9999/nn@=A/txt@=one/dms@=5/" },
      { t: 1_000_300, body: "type@=chatmsg/rid@=7/nn@=B/txt@=two/dms@=5/" },
      { t: 1_000_600, body: "type@=chatmsg/rid@=9999/nn@=C/txt@=three/" },
      { t: 1_000_900, body: "type@=chatmsg/rid@=9999/nn@=D/txt@=four/dms@=5/" },
    ];
    await writeFile(file, recording.map(serializeRecordLine).join(""));
    const timed = async (args: string[]) => {
      const started = performance.now();
      const result = await run(["replay", file, "--json", ...args]);
      strictEqual(result.code, 0, result.stderr);
      return { ...result, elapsed: performance.now() - started };
    };
    const real = await timed([]);
    ok(real.elapsed >= 850, `speed 1 took ${real.elapsed} ms`);
    strictEqual(lines(real.stdout).length, 4);
    const fast = await timed(["--speed", "3"]);
    ok(fast.elapsed >= 250 && fast.elapsed < 850, `speed 3 took ${fast.elapsed} ms`);
    const instant = await timed(["--speed", "0", "--only-room", "--room", "9999", "--no-bots"]);
    ok(instant.elapsed < 250, `speed 0 took ${instant.elapsed} ms`);
    deepStrictEqual(lines(instant.stdout).map((line) => JSON.parse(line).nn), ["A", "D"]);
    const counted = await timed(["--count", "2"]);
    ok(counted.elapsed < 600, `--count 2 took ${counted.elapsed} ms`);
    strictEqual(lines(counted.stdout).length, 2);
    const bounded = await timed(["--duration", "0.4"]);
    strictEqual(lines(bounded.stdout).length, 2);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli: an interrupt logs out, flushes the recording and exits 130 (143 for SIGTERM)", async () => {
  const dir = await tempDir();
  try {
    for (const reason of ["SIGINT", "SIGTERM"]) {
      const file = `${dir}/interrupted-${reason}.jsonl`;
      await using server = await MockServer.start({ messages: SERVED, loop: true, interval: 20 });
      const interrupt = new AbortController();
      let printed = 0;
      const result = await run(["--url", server.url, "--json", "--record", file, "9999"], {
        signal: interrupt.signal,
        onStdout: () => {
          if (++printed === 5) interrupt.abort(reason);
        },
      });
      strictEqual(result.code, reason === "SIGINT" ? 130 : 143, result.stderr);
      strictEqual(lines(result.stdout).length, 5);
      ok(await loggedOut(server.clients[0]!));
      const recorded = parseRecording(await readFile(file, "utf8"));
      // Every message printed is in the recording, which ends with a whole line.
      const printedBodies = lines(result.stdout);
      const recordedJson = recorded.map((line) => formatJson(parseMessage(line.body)));
      for (const line of printedBodies) ok(recordedJson.includes(unstamped(line)));
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

/**
 * Runs `main()` with a stdout like a pipe nobody reads (the first write never
 * completes) and interrupts it 100 ms after that write; gives up after 5 s.
 */
async function runBlocked(
  args: string[],
): Promise<{ code: number | string; written: string[]; elapsed: number }> {
  const interrupt = new AbortController();
  const written: string[] = [];
  let timer: ReturnType<typeof setTimeout> | undefined;
  const io: CliIO = {
    stdout: (text) => {
      written.push(text);
      timer ??= setTimeout(() => interrupt.abort("SIGINT"), 100);
      return new Promise<void>(() => {});
    },
    stderr: () => {},
    signal: interrupt.signal,
  };
  const started = performance.now();
  let giveUp: ReturnType<typeof setTimeout> | undefined;
  const code = await Promise.race([
    main(args, io),
    new Promise<string>((resolve) => (giveUp = setTimeout(() => resolve("still running"), 5000))),
  ]);
  clearTimeout(giveUp);
  clearTimeout(timer);
  return { code, written, elapsed: performance.now() - started };
}

test("cli: an interrupt ends the watch even while stdout is blocked, and flushes the recording", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/blocked.jsonl`;
    await using server = await MockServer.start({ messages: SERVED, loop: true, interval: 5 });
    const watched = await runBlocked(["--url", server.url, "--json", "--record", file, "9999"]);
    strictEqual(watched.code, 130, "exit code");
    ok(watched.elapsed < 3000, `took ${watched.elapsed} ms`);
    strictEqual(watched.written.length, 1, "nothing more is written after the blocked line");
    ok(await loggedOut(server.clients[0]!));
    // The recording was flushed on the way out: whole lines, with the line stdout was given.
    const recorded = parseRecording(await readFile(file, "utf8"));
    ok(recorded.length > 1, `${recorded.length} lines recorded`);
    ok(
      recorded.some((line) =>
        formatJson(parseMessage(line.body)) + "\n" === unstampedLines(watched.written[0]!)
      ),
    );

    // replay prints through the same printer.
    const replayed = await runBlocked(["replay", file, "--json", "--speed", "0"]);
    strictEqual(replayed.code, 130, "replay exit code");
    strictEqual(replayed.written.length, 1);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli: a stdout that fails ends the session; a closed pipe is not an error", async () => {
  await using server = await MockServer.start({ messages: SERVED, loop: true, interval: 5 });
  const fail = (error: Error & { code?: string }) => {
    let stderr = "";
    return {
      io: {
        stdout: () => Promise.reject(error),
        stderr: (text: string) => void (stderr += text),
      },
      stderr: () => stderr,
    };
  };
  const pipe = fail(Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
  strictEqual(await main(["--url", server.url, "9999"], pipe.io), 0);
  const disk = fail(new Error("disk full"));
  strictEqual(await main(["--url", server.url, "9999"], disk.io), 1);
  ok(disk.stderr().includes("cannot write to stdout: disk full"), disk.stderr());
  for (const client of server.clients) ok(await loggedOut(client));
});

// ---------------------------------------------------------------------------
// Errors

test("cli: usage errors name the offending flag or value and exit 2", async () => {
  const cases: [string[], string][] = [
    [["--bogus", "9999"], "unknown option --bogus"],
    [["-x", "9999"], "unknown option -x"],
    [["9999", "--count"], "--count needs a value"],
    [["--json=yes", "9999"], "--json takes no value"],
    [["--count", "0", "9999"], 'invalid value for --count: "0"'],
    [["--count", "abc", "9999"], 'invalid value for --count: "abc"'],
    [["--duration", "-1", "9999"], "--duration"],
    [["--duration", "3000000", "9999"], 'invalid value for --duration: "3000000"'],
    [["--heartbeat", "0", "9999"], 'invalid value for --heartbeat: "0"'],
    [["--url", "http://example.com", "9999"], 'invalid value for --url: "http://example.com"'],
    [["--url", "tcp://a b:1", "9999"], 'invalid value for --url: "tcp://a b:1"'],
    [["--url", "tcp://a\u001b[31m\n:1", "9999"], "invalid value for --url"],
    [["--types", "chat msg", "9999"], 'invalid value for --types: "chat msg"'],
    [["--api-base", "ftp://x", "yyf"], 'invalid value for --api-base: "ftp://x"'],
    [[], "missing <room>"],
    [["9999", "douyu.com/a b"], 'invalid room "douyu.com/a b"'],
    [["--min-level", "high", "9999"], 'invalid value for --min-level: "high"'],
    [["--min-gift-value=-1", "9999"], 'invalid value for --min-gift-value: "-1"'],
    [["--gift-api-base", "nope", "9999"], 'invalid value for --gift-api-base: "nope"'],
    [["live"], "missing <room>"],
    [["live", "--speed", "1", "9999"], "option --speed does not apply to douyu live"],
    [["live", "--offline-confirmation", "x", "9999"], "--offline-confirmation"],
    [["douyu.com/a b"], 'invalid room "douyu.com/a b"'],
    [["https://example.com/yyf"], "not a douyu.com URL"],
    [["-5"], "unknown option -5"],
    [["--speed", "2", "9999"], "option --speed does not apply to watching a room"],
    [["replay"], "missing <file>"],
    [["replay", "x.jsonl", "--url", "tcp://a:1"], "option --url does not apply to douyu replay"],
    [["replay", "x.jsonl", "--speed", "fast"], 'invalid value for --speed: "fast"'],
    [["serve", "--port", "70000"], 'invalid value for --port: "70000"'],
    [["serve", "a", "b"], 'unexpected argument "b"'],
    [["serve", "--json"], "option --json does not apply to douyu serve"],
    [["serve", "--max-clients", "0"], 'invalid value for --max-clients: "0"'],
    [["serve", "--max-clients", "2.5"], 'invalid value for --max-clients: "2.5"'],
    [["serve", "--idle-timeout=-1"], 'invalid value for --idle-timeout: "-1"'],
    [["serve", "--idle-timeout", "soon"], 'invalid value for --idle-timeout: "soon"'],
    [["--max-clients", "5", "9999"], "option --max-clients does not apply to watching a room"],
    [["replay", "x.jsonl", "--idle-timeout", "5"], "option --idle-timeout does not apply"],
    [["resolve"], "missing <room>"],
    [["resolve", "bad name!"], 'invalid room "bad name!"'],
  ];
  for (const [args, mention] of cases) assertUsage(await run(args), mention);
});

test("cli: no reachable endpoint is one line naming every URL tried, exit 1", async () => {
  const a = await deadUrl();
  const b = await deadUrl();
  const result = await run(["--url", a, "--url", b, "9999"]);
  strictEqual(result.code, 1);
  strictEqual(result.stdout, "");
  strictEqual(lines(result.stderr).length, 1, result.stderr);
  ok(result.stderr.startsWith("douyu: could not connect: "), result.stderr);
  ok(result.stderr.includes(a) && result.stderr.includes(b), result.stderr);
  ok(!/\n\s+at /.test(result.stderr), "no stack trace");
});

test("cli: replay --only-room needs --room when the recording does not name its room", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/roomless.jsonl`;
    await writeFile(file, serializeRecordLine({ t: 1, body: "type@=chatmsg/rid@=1/txt@=hi/" }));
    assertUsage(await run(["replay", file, "--only-room"]), "--only-room needs --room");
    const named = `${dir}/named.jsonl`;
    await writeFile(
      named,
      serializeRecordLine({ t: 1, room: 1, body: "type@=chatmsg/rid@=1/txt@=hi/" }),
    );
    const result = await run(["replay", named, "--only-room", "--json"]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(lines(result.stdout).length, 1);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli: file errors are one line naming the file, exit 1", async () => {
  const dir = await tempDir();
  try {
    const missing = await run(["replay", `${dir}/missing.jsonl`]);
    strictEqual(missing.code, 1);
    ok(
      missing.stderr.startsWith(`douyu: cannot read recording ${dir}/missing.jsonl: `),
      missing.stderr,
    );
    strictEqual(lines(missing.stderr).length, 1);

    // A file name, or anything else in a message, cannot cut it in several lines.
    const odd = await run(["replay", `${dir}/a\u001b[31m\nb.jsonl`]);
    strictEqual(odd.code, 1);
    strictEqual(lines(odd.stderr).length, 1, odd.stderr);
    ok(!odd.stderr.includes("\u001b"), odd.stderr);

    // A time no clock can show.
    const far = `${dir}/far.jsonl`;
    await writeFile(far, '{"t": 99999999999999999, "body": "type@=chatmsg/txt@=b/"}\n');
    const farResult = await run(["replay", far, "--speed", "0"]);
    strictEqual(farResult.code, 1);
    strictEqual(
      farResult.stderr,
      `douyu: ${far}:1: "t" must be a whole number of ms since the epoch, from 1970 to the year 9999\n`,
    );

    const bad = `${dir}/bad.jsonl`;
    await writeFile(bad, '{"t": 1, "body": "type@=mrkl/"}\n{"t": 2}\n');
    const malformed = await run(["replay", bad]);
    strictEqual(malformed.code, 1);
    strictEqual(malformed.stderr, `douyu: ${bad}:2: "body" must be a string\n`);
    const served = await run(["serve", bad]);
    strictEqual(served.code, 1);
    strictEqual(served.stderr, `douyu: ${bad}:2: "body" must be a string\n`);

    await using server = await MockServer.start({ messages: SERVED });
    const unwritable = await run([
      "--url",
      server.url,
      "--record",
      `${dir}/no/such/dir.jsonl`,
      "9999",
    ]);
    strictEqual(unwritable.code, 1);
    ok(unwritable.stderr.startsWith(`douyu: cannot write recording ${dir}/no/such/dir.jsonl: `));
    strictEqual(lines(unwritable.stderr).length, 1);
    strictEqual(server.clients.length, 0, "fails before connecting");
  } finally {
    await rm(dir, { recursive: true });
  }
});

/** Writes a recording of `bodies` whose last line, a CJK chat, is cut inside a character. */
async function writeCutRecording(file: string, bodies: string[]): Promise<void> {
  const whole = bodies.map((body, i) => serializeRecordLine({ t: 1_000 + i, body })).join("");
  const last = serializeRecordLine({ t: 2_000, body: "type@=chatmsg/nn@=小鱼干/txt@=晚上好/" });
  const encoder = new TextEncoder();
  // Up to the middle of 晚's three UTF-8 bytes, as a full disk or a kill may leave it.
  const cut = encoder.encode(whole + last.slice(0, last.indexOf("晚"))).length + 2;
  await writeFile(file, encoder.encode(whole + last).subarray(0, cut));
}

test("cli: replay and serve skip a cut last line with one warning", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/cut.jsonl`;
    const bodies = SERVED.slice(0, 3);
    await writeCutRecording(file, bodies);
    const warning = `douyu: ${file}:4: last line is incomplete (cut off?); skipped\n`;

    const replayed = await run(["replay", file, "--json", "--speed", "0"]);
    strictEqual(replayed.code, 0, replayed.stderr);
    strictEqual(
      replayed.stdout,
      bodies.map((body, i) => {
        const message = parseMessage(body);
        return formatJson(message, { _t: 1_000 + i, _gift: jsonGift(giftOf(message)) }) + "\n";
      }).join(""),
    );
    strictEqual(replayed.stderr, warning);

    const interrupt = new AbortController();
    let announced!: (url: string) => void;
    const url = new Promise<string>((resolve) => (announced = resolve));
    const serving = run(["serve", file, "--speed", "0"], {
      signal: interrupt.signal,
      onStderr: (text) => {
        const match = /listening on (tcp:\/\/\S+)/.exec(text);
        if (match) announced(match[1]!);
      },
    });
    const got: string[] = [];
    {
      await using session = await connect(ROOM, { url: await url });
      for await (const msg of session) {
        if (msg.type === "loginres" || msg.type === "pingreq") continue;
        got.push(formatJson(msg) + "\n");
        if (got.length === bodies.length) break;
      }
    }
    deepStrictEqual(got, SERVED_JSON.slice(0, 3));
    interrupt.abort("SIGINT");
    const served = await serving;
    strictEqual(served.code, 0, served.stderr);
    ok(served.stderr.startsWith(warning), served.stderr);
    strictEqual(served.stderr.split("incomplete").length, 2, "one warning");
    ok(served.stderr.includes(`streaming 3 messages from ${file}`), served.stderr);

    // A bad line that is not last, or that ends with a newline, still fails.
    const text = await readFile(file, "utf8");
    for (const bad of [`${text}\n`, `${text}\n{"t": 3, "body": "type@=mrkl/"}\n`]) {
      await writeFile(file, bad);
      for (const command of ["replay", "serve"]) {
        const result = await run([command, file]);
        strictEqual(result.code, 1);
        strictEqual(result.stderr, `douyu: ${file}:4: not JSON\n`);
      }
    }
  } finally {
    await rm(dir, { recursive: true });
  }
});

// ---------------------------------------------------------------------------
// Room names, against a local HTTP server

function reply(status: number, body: string, type = "application/json"): RequestListener {
  return (_req, res) => {
    res.writeHead(status, { "content-type": type, connection: "close" });
    res.end(body);
  };
}

function routes(betard: RequestListener, mobile: RequestListener): RequestListener {
  return (req, res) => (req.url?.startsWith("/m/") ? mobile : betard)(req, res);
}

test("cli: resolve prints the room id from the API, or from the mobile page when the API fails", async () => {
  const lookup = (base: string) => ["--api-base", base, "--mobile-base", `${base}/m`];
  await withHttp(reply(200, JSON.stringify({ room: { room_id: 4321 } })), async (base) => {
    const result = await run(["resolve", "yyf", ...lookup(base)]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(result.stdout, "4321\n");
    strictEqual(result.stderr, "");
    const url = await run(["resolve", "https://www.douyu.com/yyf", ...lookup(base)]);
    strictEqual(url.stdout, "4321\n");
  });
  await withHttp(
    routes(
      reply(200, "<html>not json"),
      reply(200, '<script>var a = {"rid":5678};</script>', "text/html"),
    ),
    async (base) => {
      const result = await run(["resolve", "douyu.com/6657", ...lookup(base)]);
      strictEqual(result.code, 0, result.stderr);
      strictEqual(result.stdout, "5678\n");
    },
  );
  await withHttp(
    routes(reply(500, "oops"), reply(200, "<html>no id here</html>", "text/html")),
    async (base) => {
      const result = await run(["resolve", "yyf", ...lookup(base)]);
      strictEqual(result.code, 1);
      strictEqual(result.stdout, "");
      strictEqual(lines(result.stderr).length, 1, result.stderr);
      ok(result.stderr.includes('could not resolve room "yyf"'), result.stderr);
      ok(result.stderr.includes("HTTP 500") && result.stderr.includes('no "rid"'), result.stderr);
    },
  );
  // A numeric id needs no lookup at all.
  const numeric = await run(["resolve", "9999", "--api-base", "http://127.0.0.1:1"]);
  strictEqual(numeric.stdout, "9999\n");
});

test("cli: watching a room by name resolves it first, then joins that room", async () => {
  await using server = await MockServer.start({ messages: SERVED.slice(0, 2) });
  await withHttp(reply(200, JSON.stringify({ room: { room_id: 4321 } })), async (base) => {
    const result = await run([
      "--url",
      server.url,
      "--api-base",
      base,
      "--json",
      "--count",
      "2",
      "douyu.com/yyf",
    ]);
    strictEqual(result.code, 0, result.stderr);
    strictEqual(lines(result.stdout).length, 2);
    ok(result.stderr.includes("room yyf is room 4321"), result.stderr);
    strictEqual(server.clients[0]!.received[0]!.roomid, "4321");
  });
  await withHttp(reply(404, "no"), async (base) => {
    const result = await run([
      "--url",
      server.url,
      "--api-base",
      base,
      "--mobile-base",
      base,
      "yyf",
    ]);
    strictEqual(result.code, 1);
    ok(result.stderr.startsWith('douyu: could not resolve room "yyf"'), result.stderr);
    strictEqual(server.clients.length, 1, "no connection attempt after a failed lookup");
  });
});

test("cli and connect: a tcp:// URL that answers with HTTP fails with a hint to use ws://", async () => {
  const hint = "the server answered with HTTP, not Douyu's binary protocol: " +
    "if this is a WebSocket endpoint, use ws:// or wss://";
  await withHttp(reply(200, "hello"), async (base) => {
    const url = base.replace("http://", "tcp://");
    await rejects(connect(ROOM, { url, reconnect: false }), (error: unknown) => {
      ok(error instanceof ConnectionError, String(error));
      strictEqual(error.message, `could not connect: ${url} (${hint})`);
      return true;
    });
    const result = await run(["--url", url, "9999"]);
    strictEqual(result.code, 1);
    strictEqual(result.stdout, "");
    strictEqual(result.stderr, `douyu: could not connect: ${url} (${hint})\n`);
  });
});

// ---------------------------------------------------------------------------
// serve, help, version

test("cli: serve replays the bundled sample to a client until interrupted", async () => {
  const interrupt = new AbortController();
  let announced!: (url: string) => void;
  const url = new Promise<string>((resolve) => (announced = resolve));
  const serving = run(["serve", "--speed", "0"], {
    signal: interrupt.signal,
    onStderr: (text) => {
      const match = /listening on (tcp:\/\/\S+)/.exec(text);
      if (match) announced(match[1]!);
    },
  });
  // The sample's times follow its start (here: now), so compare what does not depend on them.
  const shape = (msg: Message) =>
    `${msg.type} ${msg.nn ?? msg.unk ?? msg.sn ?? ""} ${msg.txt ?? ""}`;
  const expected = sampleRecording().map((line) => shape(parseMessage(line.body)));
  const got: string[] = [];
  await using session = await connect(SAMPLE_ROOM, { url: await url });
  for await (const msg of session) {
    if (msg.type === "loginres" || msg.type === "pingreq") continue;
    got.push(shape(msg));
    if (got.length === expected.length) break;
  }
  deepStrictEqual(got, expected);
  interrupt.abort("SIGINT");
  const result = await serving;
  strictEqual(result.code, 0, result.stderr);
  strictEqual(result.stdout, "");
  ok(result.stderr.includes("the bundled sample"), result.stderr);
  ok(result.stderr.includes(`client 1 joined room ${SAMPLE_ROOM}`), result.stderr);
});

test("cli: serve --max-clients refuses connections over the cap; --idle-timeout drops silent clients", async () => {
  const interrupt = new AbortController();
  let announced!: (url: string) => void;
  const url = new Promise<string>((resolve) => (announced = resolve));
  const serving = run(["serve", "--max-clients", "1", "--idle-timeout", "0.5"], {
    signal: interrupt.signal,
    onStderr: (text) => {
      const match = /listening on (tcp:\/\/\S+)/.exec(text);
      if (match) announced(match[1]!);
    },
  });
  const endpoint = parseEndpoint(await url);
  const conns: Transport[] = [];
  const open = async () => {
    const conn = await defaultTransportFactory(endpoint, {});
    conns.push(conn);
    return conn;
  };
  /** Logs in; resolves with the time the server hung up (it sends nothing else unjoined). */
  const loginThenEof = async (conn: Transport) => {
    await conn.write(encodeFrame("type@=loginreq/roomid@=9999/"));
    const decoder = new FrameDecoder();
    const types: string[] = [];
    for (let chunk; (chunk = await conn.read()) !== null;) {
      for (const frame of decoder.push(chunk)) types.push(decodeStt(frame.body).type ?? "");
    }
    deepStrictEqual(types, ["loginres", "pingreq"]);
    return performance.now();
  };
  try {
    const first = await open();
    const started = performance.now();
    const firstDropped = loginThenEof(first);
    // Over the cap: closed at once, without an answer.
    const second = await open();
    // (Closed already, or reset: both mean no answer.)
    await second.write(encodeFrame("type@=loginreq/roomid@=9999/")).catch(() => {});
    strictEqual(await second.read().catch(() => null), null);
    // The first one sends nothing more: dropped after the idle timeout.
    const elapsed = await firstDropped - started;
    ok(elapsed >= 400 && elapsed < 5000, `dropped after ${elapsed} ms`);
    // Its place is free again.
    await loginThenEof(await open());
  } finally {
    for (const conn of conns) conn.close();
    interrupt.abort("SIGINT");
  }
  const result = await serving;
  strictEqual(result.code, 0, result.stderr);
});

test("cli: --help and --version print to stdout and exit 0", async () => {
  const help = await run(["--help"]);
  strictEqual(help.code, 0);
  for (
    const word of ["replay", "serve", "resolve", "--json", "--record", "--speed", "--only-room"]
  ) {
    ok(help.stdout.includes(word), word);
  }
  strictEqual((await run(["replay", "--help"])).code, 0);
  // The NATS commands have a help of their own (that it loads no NATS client: deps_test.ts).
  for (
    const [command, usage] of [["rooms", "douyu rooms --nats URL add"], [
      "collect",
      "douyu collect --nats URL --name NAME",
    ], ["consume", "douyu consume --nats URL"]]
  ) {
    const own = await run([command, "--help"]);
    strictEqual(own.code, 0, own.stderr);
    ok(own.stdout.startsWith("Usage:\n") && own.stdout.includes(usage), own.stdout);
    ok(own.stdout.includes("--retention-age"), own.stdout);
  }
  const version = await run(["--version"]);
  strictEqual(version.stdout, `douyu ${VERSION}\n`);
  const config = JSON.parse(await readFile(`${ROOT}deno.json`, "utf8"));
  strictEqual(VERSION, config.version, "VERSION in src/cli/cli.ts must match deno.json");
});

// ---------------------------------------------------------------------------
// The real process

interface Child {
  readonly stdout: string;
  readonly stderr: string;
  /** Resolves once stdout holds `n` lines. */
  waitForLines(n: number): Promise<void>;
  kill(signal: "SIGINT" | "SIGTERM"): void;
  /** Exit code (null when killed by a signal), once both pipes are drained. */
  readonly exited: Promise<number | null>;
}

/**
 * Spawns a process with piped stdout/stderr, on Deno or Bun/Node. With
 * `blockStdout`, stdout is a pipe nobody reads until the process exits.
 */
function spawnProcess(command: string, args: string[], blockStdout = false): Child {
  let stdout = "";
  let stderr = "";
  let waiter: { n: number; resolve: () => void } | undefined;
  const onOut = (text: string) => {
    stdout += text;
    if (waiter && lines(stdout).length >= waiter.n) waiter.resolve();
  };
  let kill: (signal: "SIGINT" | "SIGTERM") => void;
  let exited: Promise<number | null>;
  if (runtime === "deno") {
    const child = new Deno.Command(command, {
      args,
      stdin: "null",
      stdout: "piped",
      stderr: "piped",
    }).spawn();
    const pump = async (stream: ReadableStream<Uint8Array>, sink: (text: string) => void) => {
      const decoder = new TextDecoder();
      for await (const chunk of stream) sink(decoder.decode(chunk, { stream: true }));
    };
    const pumps = Promise.all([
      blockStdout ? child.status.then(() => pump(child.stdout, onOut)) : pump(child.stdout, onOut),
      pump(child.stderr, (t) => (stderr += t)),
    ]);
    kill = (signal) => child.kill(signal);
    exited = (async () => {
      const status = await child.status;
      await pumps;
      return status.signal === null ? status.code : null;
    })();
  } else {
    const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
    if (blockStdout) {
      child.stdout.pause();
      child.on("exit", () => child.stdout.setEncoding("utf8").on("data", onOut));
    } else {
      child.stdout.setEncoding("utf8").on("data", onOut);
    }
    child.stderr.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    kill = (signal) => child.kill(signal);
    exited = new Promise((resolve) => child.on("close", (code) => resolve(code)));
  }
  return {
    get stdout() {
      return stdout;
    },
    get stderr() {
      return stderr;
    },
    waitForLines: (n) =>
      new Promise((resolve) => {
        if (lines(stdout).length >= n) resolve();
        else waiter = { n, resolve };
      }),
    kill: (signal) => kill(signal),
    exited,
  };
}

/** The CLI as a user runs it: `deno run <permissions> mod.ts` or `bun mod.ts`. */
function spawnCli(args: string[], permissions: string[] = ["-N"], blockStdout = false): Child {
  if (runtime === "deno") {
    return spawnProcess(
      Deno.execPath(),
      ["run", "--no-prompt", ...permissions, MOD, ...args],
      blockStdout,
    );
  }
  return spawnProcess(process.execPath, [MOD, ...args], blockStdout);
}

async function finished(child: Child): Promise<Result> {
  const code = await child.exited;
  return { code: code ?? -1, stdout: child.stdout, stderr: child.stderr };
}

test("cli process: exit codes and messages of the real command (watching needs only -N)", async () => {
  const help = await finished(spawnCli(["--help"]));
  strictEqual(help.code, 0, help.stderr);
  ok(help.stdout.includes("Usage:"));
  assertUsage(await finished(spawnCli(["--bogus", "9999"])), "unknown option --bogus");
  assertUsage(await finished(spawnCli(["douyu.com/a b"])), 'invalid room "douyu.com/a b"');
  const url = await deadUrl();
  const dead = await finished(spawnCli(["--url", url, "9999"]));
  strictEqual(dead.code, 1, dead.stderr);
  strictEqual(dead.stdout, "");
  ok(dead.stderr.startsWith(`douyu: could not connect: ${url} (`), dead.stderr);
  strictEqual(lines(dead.stderr).length, 1, "one line, no stack trace");

  await using server = await MockServer.start({ messages: SERVED });
  const live = await finished(
    spawnCli(["--url", server.url, "--json", "--count", String(SERVED.length), "9999"]),
  );
  strictEqual(live.code, 0, live.stderr);
  strictEqual(unstampedLines(live.stdout), SERVED_JSON.join(""));
  ok(await loggedOut(server.clients[0]!));
});

test("cli process: serve is stopped by SIGINT or SIGTERM with exit status 0, as --help says", async () => {
  const help = await finished(spawnCli(["--help"]));
  ok(
    help.stdout.includes("serve runs until it is stopped: Ctrl-C or SIGTERM end it with status 0"),
  );
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    const child = spawnCli(["serve", "--port", "0"]);
    for (let waited = 0; !child.stderr.includes("Ctrl-C stops"); waited += 50) {
      if (waited > 20_000) {
        child.kill("SIGTERM");
        await child.exited;
        throw new Error(`serve did not start: ${child.stderr}`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    child.kill(signal);
    const result = await finished(child);
    strictEqual(result.code, 0, `${signal}: ${result.stderr}`);
    strictEqual(result.stdout, "");
  }
});

test("cli process: SIGINT logs out, completes the recording and exits 130", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/sigint.jsonl`;
    await using server = await MockServer.start({ messages: SERVED, loop: true, interval: 10 });
    const child = spawnCli(
      ["--url", server.url, "--json", "--record", file, "9999"],
      ["-N", `--allow-write=${dir}`],
    );
    await child.waitForLines(15);
    child.kill("SIGINT");
    const result = await finished(child);
    strictEqual(result.code, 130, result.stderr);
    ok(await loggedOut(server.clients[0]!), "logout reached the server");
    const text = await readFile(file, "utf8");
    ok(text.endsWith("\n"), "the recording ends with a whole line");
    const recorded = parseRecording(text).map((line) => formatJson(parseMessage(line.body)));
    for (const line of lines(result.stdout)) {
      ok(recorded.includes(unstamped(line)), "printed ⊆ recorded");
    }
    ok(recorded.length >= 15);
  } finally {
    await rm(dir, { recursive: true });
  }
});

test("cli process: SIGINT exits 130 promptly even when stdout is a pipe nobody reads", async () => {
  const dir = await tempDir();
  try {
    const file = `${dir}/blocked.jsonl`;
    await using server = await MockServer.start({ messages: SERVED, loop: true });
    const child = spawnCli(
      ["--url", server.url, "--json", "--record", file, "9999"],
      ["-N", `--allow-write=${dir}`],
      true,
    );
    const size = async () => (await stat(file).catch(() => undefined))?.size ?? 0;
    // Far more recorded than a pipe holds: stdout is full and its write is waiting.
    for (let waited = 0; await size() < 1 << 20; waited += 50) {
      if (waited > 20_000) {
        child.kill("SIGTERM");
        await child.exited;
        throw new Error(`the recording did not grow: ${await size()} bytes`);
      }
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    // Time for the printer to fill the pipe, should it have lagged behind the recorder.
    await new Promise((resolve) => setTimeout(resolve, 300));
    const interrupted = performance.now();
    child.kill("SIGINT");
    let code: number | null | string;
    let timer: ReturnType<typeof setTimeout> | undefined;
    code = await Promise.race([
      child.exited,
      new Promise<string>((resolve) => (timer = setTimeout(() => resolve("still running"), 5000))),
    ]);
    clearTimeout(timer);
    if (code === "still running") {
      child.kill("SIGINT"); // the second Ctrl-C
      code = await child.exited;
    }
    const elapsed = performance.now() - interrupted;
    strictEqual(code, 130, child.stderr);
    ok(elapsed < 4000, `exited ${elapsed} ms after SIGINT`);
    ok(!child.stderr.includes("cannot write"), child.stderr);
    const text = await readFile(file, "utf8");
    ok(text.endsWith("\n"), "the recording ends with a whole line");
    ok(child.stdout.length * 4 < text.length, `stdout was blocked: ${child.stdout.length} bytes`);
    const recorded = parseRecording(text).map((line) => formatJson(parseMessage(line.body)));
    const printed = lines(child.stdout);
    // The last line may be cut where the pipe was full.
    for (const line of printed.slice(0, -1)) {
      ok(recorded.includes(unstamped(line)), "printed ⊆ recorded");
    }
    ok(await loggedOut(server.clients[0]!), "logout reached the server");
  } finally {
    await rm(dir, { recursive: true });
  }
});
