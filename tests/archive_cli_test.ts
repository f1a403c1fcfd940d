/**
 * `douyu archive` and `douyu logs` on SQLite: live archiving from the mock
 * server (Ctrl-C commits and exits 0, gaps kept), imports of recordings and
 * NDJSON (idempotent, progress only on a terminal), logs printed exactly as
 * replaying prints, gifts at the value they had when stored, the filters,
 * and the command-line errors.
 */
import assert from "node:assert/strict";
import { open, readFile, writeFile } from "node:fs/promises";
import { DatabaseSync } from "node:sqlite";
import type { IncomingMessage, ServerResponse } from "node:http";
import { join } from "node:path";
import process from "node:process";
import { Archive } from "../src/archive/archive.ts";
import { main } from "../src/cli/cli.ts";
import { existsAt } from "../src/cli/files.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { lines, run, withHttp } from "./cli_helpers.ts";
import { readFixture, test } from "./harness.ts";
import { collect, withDir } from "./archive/helpers.ts";

const CAPTURE = new URL("./fixtures/capture_room102965.jsonl", import.meta.url).pathname;

/** The gift API and props config of the fixtures (火箭 20004 at ¥500), or another price list. */
function giftApi(rocketFen = 50000) {
  return async (req: IncomingMessage, res: ServerResponse) => {
    let body = (req.url ?? "").startsWith("/api/gift/v3/web/list")
      ? await readFixture("http_gift_list.json")
      : await readFixture("http_prop_gift_config.jsonp");
    body = body.replace('"price": 50000', `"price": ${rocketFen}`);
    res.writeHead(200, { "content-type": "application/json" }).end(body);
  };
}

test("archive cli: an imported recording prints through logs exactly as replay prints it", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const imported = await run(["archive", "--import", CAPTURE, "--room", "102965", "--db", db]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /capture_room102965\.jsonl: \d+ messages stored/);
    for (const json of [[], ["--json"]]) {
      const replayed = await run(["replay", CAPTURE, "--speed", "0", "--room", "102965", ...json]);
      const logged = await run(["logs", "--db", db, "102965", ...json]);
      assert.equal(logged.code, 0, logged.stderr);
      assert.ok(lines(replayed.stdout).length > 100);
      assert.equal(logged.stdout, replayed.stdout);
    }
    // Importing it again stores nothing.
    const again = await run(["archive", "--import", CAPTURE, "--room", "102965", "--db", db]);
    assert.equal(again.code, 0, again.stderr);
    assert.match(again.stderr, /: 0 messages stored, \d+ already there/);
  });
});

test("archive cli: gifts keep the value they had when archived, whatever the catalogue says later", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const recording = join(dir, "gifts.jsonl");
    const t = Date.UTC(2024, 4, 1, 12);
    const rocket = encodeStt({ type: "dgb", rid: 5001, uid: 7, nn: "Rich", gfid: 20004, gfcnt: 2 });
    await writeFile(recording, JSON.stringify({ t, room: 5001, body: rocket }) + "\n");
    await withHttp(giftApi(50000), async (base) => {
      const result = await run([
        "archive",
        "--import",
        recording,
        "--db",
        db,
        "--gift-api-base",
        base,
      ]);
      assert.equal(result.code, 0, result.stderr);
    });
    await withHttp(giftApi(90000), async (base) => {
      // Today's price is ¥900; what was stored says ¥500 a rocket.
      const logged = await run(["logs", "--db", db, "5001"]);
      assert.equal(logged.code, 0, logged.stderr);
      assert.match(logged.stdout, /sent 火箭 x2 \(¥1000\.00\)\n$/);
      void base;
    });
    // Without a catalogue a recording's gift is stored as its message says: gift #id.
    const bare = join(dir, "bare.db");
    assert.equal((await run(["archive", "--import", recording, "--db", bare])).code, 0);
    assert.match((await run(["logs", "--db", bare, "5001"])).stdout, /sent gift #20004 x2\n$/);
  });
});

test("archive cli: NDJSON with _t imports, with its _gift value; lines without _t are refused", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const file = join(dir, "chat.ndjson");
    const t = Date.UTC(2024, 4, 1, 12);
    await writeFile(
      file,
      [
        { type: "chatmsg", rid: "9999", uid: "1", nn: "Ann", txt: "hi", cid: "c1", _t: t },
        {
          type: "dgb",
          uid: "2",
          nn: "Bob",
          gfid: "20004",
          gfcnt: "1",
          _t: t + 1,
          _room: 9999,
          _gift: { name: "火箭", value: 500 },
        },
        { type: "chatmsg", rid: "9999", uid: "1", nn: "Ann", txt: "again", cid: "c2", _t: t + 2 },
      ].map((line) => JSON.stringify(line)).join("\n") + "\n",
    );
    const result = await run(["archive", "--import", file, "--db", db]);
    assert.equal(result.code, 0, result.stderr);
    const logged = lines((await run(["logs", "--db", db, "9999"])).stdout);
    assert.equal(logged.length, 3);
    assert.match(logged[1]!, /sent 火箭 x1 \(¥500\.00\)$/);
    const json = lines((await run(["logs", "--db", db, "9999", "--json", "--limit", "1"])).stdout);
    assert.deepEqual(JSON.parse(json[0]!).txt, "again");

    const old = join(dir, "old.ndjson");
    await writeFile(old, '{"type":"chatmsg","txt":"no time"}\n');
    const refused = await run(["archive", "--import", old, "--db", db]);
    assert.equal(refused.code, 1);
    assert.match(refused.stderr, /old\.ndjson:1: no _t/);
    // A time that is not a whole ms from 1970 to 9999 is refused with its line: once, it
    // failed the whole commit, naming no line.
    const odd = join(dir, "odd.ndjson");
    await writeFile(
      odd,
      `{"type":"chatmsg","rid":"9","_t":${t}}\n{"type":"chatmsg","rid":"9","_t":${t}.5}\n`,
    );
    const fraction = await run(["archive", "--import", odd, "--db", db]);
    assert.equal(fraction.code, 1);
    assert.match(fraction.stderr, /^douyu: .*odd\.ndjson:2: "_t" must be a whole number of ms/m);
  });
});

test("archive cli: a recording's last line cut off is skipped; progress shows only on a terminal", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const text = await readFixture("capture_room102965.jsonl");
    const file = join(dir, "cut.jsonl");
    await writeFile(file, text + '{"t": 1609678000000, "body": "type@=chatm');
    const piped = await run(["archive", "--import", file, "--room", "102965", "--db", db]);
    assert.equal(piped.code, 0, piped.stderr);
    assert.match(piped.stderr, /cut\.jsonl:333: last line is incomplete \(cut off\?\); skipped/);
    assert.ok(!piped.stderr.includes("\r"), "no progress line in a pipe");
    const terminal = join(dir, "b.db");
    let stderr = "";
    const { main } = await import("../src/cli/cli.ts");
    const code = await main(["archive", "--import", file, "--room", "102965", "--db", terminal], {
      stdout: () => {},
      stderr: (chunk) => void (stderr += chunk),
      progress: true,
    });
    assert.equal(code, 0, stderr);
    const erase = "\x1b[K"; // to the end of the line
    assert.match(stderr, /\rdouyu: importing .*cut\.jsonl: \d+%, \d+ messages/);
    assert.ok(stderr.includes(` messages${erase}`), JSON.stringify(stderr));
    assert.ok(stderr.includes(`\r${erase}douyu:`), "cleared before the summary");
  });
});

test(
  "archive cli: an import interrupted says it stopped part-way, and keeps what it read",
  async () => {
    await withDir(async (dir) => {
      const db = join(dir, "a.db");
      const file = join(dir, "big.ndjson");
      const t = Date.UTC(2024, 4, 1, 12);
      const total = 200_000;
      const line = (i: number) =>
        JSON.stringify({ type: "chatmsg", rid: "9999", uid: "1", txt: `#${i}`, _t: t + i });
      await writeFile(file, Array.from({ length: total }, (_, i) => line(i)).join("\n") + "\n");
      // Interrupted once its first messages are committed: the rest takes seconds more.
      const committed = () => {
        let reader: DatabaseSync | undefined;
        try {
          reader = new DatabaseSync(db, { readOnly: true });
          return (reader.prepare("SELECT count(*) AS n FROM m_20240501").get() as { n: number }).n;
        } catch {
          return 0; // not created yet
        } finally {
          reader?.close();
        }
      };
      const stop = new AbortController();
      let done = false;
      const running = run(["archive", "--import", file, "--db", db], { signal: stop.signal })
        .finally(() => (done = true));
      while (!done && committed() === 0) await new Promise((resolve) => setTimeout(resolve, 10));
      stop.abort("SIGINT");
      const result = await running;
      assert.equal(result.code, 0, result.stderr);
      const said =
        /big\.ndjson: (\d+) messages stored; interrupted, the rest of the file was not read/
          .exec(result.stderr);
      assert.ok(said !== null, result.stderr);
      const stored = Number(said[1]);
      assert.ok(stored > 0 && stored < total, result.stderr);
      await using archive = await Archive.open(db, { readOnly: true });
      assert.equal((await collect(archive.query({ room: 9999 }))).length, stored);
    });
  },
  { timeout: 60_000 },
);

test("archive cli: live rooms are archived until Ctrl-C, which commits and exits 0", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "live.db");
    let sent = 0;
    await using server = await MockServer.start({
      messages: function* () {
        for (;;) {
          sent++;
          yield encodeStt({ type: "chatmsg", uid: 1, nn: "Ann", txt: `#${sent}`, cid: `c${sent}` });
        }
      },
      interval: 5,
    });
    const stop = new AbortController();
    const result = await run(["archive", "--url", server.url, "--db", db, "9999"], {
      signal: stop.signal,
      onStderr: (text) => {
        if (text.includes("connected to")) setTimeout(() => stop.abort("SIGTERM"), 600);
      },
    });
    assert.equal(result.code, 0, result.stderr);
    const stored = Number(/(\d+) messages stored in/.exec(result.stderr)?.[1]);
    assert.ok(stored > 10, result.stderr);
    await using archive = await Archive.open(db, { readOnly: true });
    const items = await collect(archive.query({ room: 9999 }));
    assert.equal(items.length, stored);
    // In order, none missing between the first and the last.
    const numbers = items.map((item) => Number(String(item.message.txt).slice(1)));
    assert.deepEqual(numbers, numbers.map((_, i) => numbers[0]! + i));
    const statuses = (await collect(archive.statuses(9999))).map((s) => s.status);
    assert.deepEqual(statuses, ["started", "connected", "closed", "stopped"]);
  });
});

test("archive cli: --count stores N messages; logs filters by user, text, type, time and limit", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const bodies = [
      encodeStt({ type: "chatmsg", uid: 1, nn: "Ann", txt: "主播好", cid: "a1" }),
      encodeStt({ type: "uenter", uid: 2, nn: "Bob" }),
      encodeStt({ type: "chatmsg", uid: 2, nn: "Bob", txt: "GG 666", cid: "b1" }),
      encodeStt({ type: "chatmsg", uid: 1, nn: "Ann", txt: "gg", cid: "a2" }),
      encodeStt({ type: "dgb", uid: 2, nn: "Bob", gfid: 1, gfcnt: 1 }),
      encodeStt({ type: "frank", fc: 1 }), // a ranking: stored, no text line
    ];
    await using server = await MockServer.start({ messages: bodies });
    const archived = await run([
      "archive",
      "--url",
      server.url,
      "--db",
      db,
      "--count",
      "6",
      "9999",
    ]);
    assert.equal(archived.code, 0, archived.stderr);
    assert.match(archived.stderr, /6 messages stored/);
    const texts = async (...args: string[]) => {
      const result = await run(["logs", "--db", db, "9999", "--json", ...args]);
      assert.equal(result.code, 0, result.stderr);
      return lines(result.stdout).map((line) => {
        const message = JSON.parse(line);
        return message.txt ?? message.type;
      });
    };
    assert.deepEqual(await texts(), ["主播好", "uenter", "GG 666", "gg", "dgb", "frank"]);
    assert.deepEqual(await texts("--user", "Ann"), ["主播好", "gg"]);
    assert.deepEqual(await texts("--user", "2"), ["uenter", "GG 666", "dgb"]);
    assert.deepEqual(await texts("--search", "gg"), ["GG 666", "gg"]);
    assert.deepEqual(await texts("--search", "主"), ["主播好"]);
    assert.deepEqual(await texts("--types", "uenter,dgb"), ["uenter", "dgb"]);
    assert.deepEqual(await texts("--limit", "2"), ["dgb", "frank"]);
    // Text lines: --limit counts lines (it printed one here: the ranking took a place).
    const shown = await run(["logs", "--db", db, "9999", "--limit", "2"]);
    assert.deepEqual(lines(shown.stdout).map((line) => line.split(/\s+/)[1]), ["chat", "gift"]);
    assert.deepEqual(await texts("--since", "1h"), [
      "主播好",
      "uenter",
      "GG 666",
      "gg",
      "dgb",
      "frank",
    ]);
    assert.deepEqual(await texts("--until", "1h"), []);
    assert.deepEqual(await texts("--since", "2001-01-01", "--until", "2002-01-01"), []);
  });
});

test("archive cli: command-line errors are one line and status 2; a missing archive is status 1", async () => {
  await withDir(async (dir) => {
    const cases: [string[], RegExp][] = [
      [["archive", "9999"], /missing --db TARGET/],
      [["archive", "--db", join(dir, "x.db")], /missing <room>/],
      [["archive", "--db", "x.db", "--import"], /missing FILE/],
      [
        ["archive", "--db", "x.db", "--import", "f", "--durable", "d"],
        /--durable does not apply to import/,
      ],
      [
        ["archive", "--db", "x.db", "--nats", "nats://127.0.0.1:1", "9999"],
        /with --nats, use --rooms/,
      ],
      [["archive", "--db", "x.db", "--retain", "30", "9999"], /invalid value for --retain/],
      [["archive", "--db", "x.db", "--types", "a b", "9999"], /invalid value for --types/],
      [["logs", "--db", "x.db", "--types", "a".repeat(65), "9999"], /invalid value for --types/],
      [["logs", "9999"], /missing --db TARGET/],
      [["logs", "--db", "x.db"], /missing <room>/],
      [["logs", "--db", "x.db", "yyf"], /logs takes the room's numeric id/],
      [["logs", "--db", "x.db", "9999", "--limit", "0"], /invalid value for --limit/],
      [["logs", "--db", "x.db", "9999", "--search", " "], /invalid value for --search/],
      [["logs", "--db", "x.db", "9999", "--since", "soon"], /invalid value for --since/],
    ];
    for (const [args, pattern] of cases) {
      const result = await run(args);
      assert.equal(result.code, 2, `${args.join(" ")}: ${result.stderr}`);
      assert.match(result.stderr, pattern);
      assert.equal(result.stderr.split("\n").filter((line) => line.startsWith("douyu:")).length, 1);
    }
    const missing = await run(["logs", "--db", join(dir, "none.db"), "9999"]);
    assert.equal(missing.code, 1);
    assert.match(missing.stderr, /^douyu: cannot open archive .*none\.db/);
    const help = await run(["archive", "--help"]);
    assert.equal(help.code, 0);
    assert.match(help.stdout, /douyu archive --import FILE/);
    assert.match((await run(["logs", "--help"])).stdout, /--search WORDS/);
  });
});

test("archive cli: an import stops at a line past 16 MiB with its number; a long line is read in linear time", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const line = (n: number, pad = "") =>
      JSON.stringify({
        type: "chatmsg",
        rid: "9999",
        uid: String(n),
        nn: "Ann",
        txt: `message ${n}`,
        pad, // a field nothing indexes: the line is long, the text is not
        _t: 1714564800000 + n,
      });
    // A 4 MiB line is imported (the pieces of a long line are joined once, not per chunk)…
    const long = join(dir, "long.ndjson");
    await writeFile(long, `${line(1, "x".repeat(4 * 1024 * 1024))}\n${line(2)}\n`);
    const imported = await run(["archive", "--import", long, "--room", "9999", "--db", db]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.match(imported.stderr, /2 messages stored/);
    // …and one past the bound ends the import with one line naming it.
    const huge = join(dir, "huge.ndjson");
    await writeFile(huge, `${line(3)}\n${"y".repeat(17 * 1024 * 1024)}`);
    const refused = await run(["archive", "--import", huge, "--room", "9999", "--db", db]);
    assert.equal(refused.code, 1);
    assert.match(
      refused.stderr,
      /^douyu: .*huge\.ndjson:2: line longer than 16777216 characters$/m,
    );
  });
});

test("archive cli: replay refuses a recording too large to read whole, in one line", async () => {
  await withDir(async (dir) => {
    const big = join(dir, "big.jsonl");
    await truncate(big, 300 * 1024 * 1024, true); // sparse: nothing is written
    const replayed = await run(["replay", big, "--speed", "0"]);
    assert.equal(replayed.code, 1);
    assert.match(
      replayed.stderr,
      /^douyu: cannot read recording .*big\.jsonl: \d+ bytes, more than/,
    );
    assert.equal(replayed.stderr.split("\n").filter((l) => l !== "").length, 1);
  });
});

test("archive cli: a run that fails before storing anything leaves no new archive file behind", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "new.db");
    const down = await run(["archive", "--db", db, "--nats", "nats://127.0.0.1:1"]);
    assert.equal(down.code, 1, down.stderr);
    assert.match(down.stderr, /^douyu: cannot reach NATS/);
    const usage = await run(["archive", "--db", db, "--nats", "nats://a b:4222"]);
    assert.equal(usage.code, 2, usage.stderr);
    assert.match(usage.stderr, /invalid value for --nats/);
    for (const file of [db, `${db}-wal`, `${db}-shm`]) {
      assert.equal(await existsAt(file), false, file);
    }
    // An archive that was there before is kept, whatever happens.
    const kept = join(dir, "kept.db");
    const imported = await run(["archive", "--import", CAPTURE, "--room", "102965", "--db", kept]);
    assert.equal(imported.code, 0, imported.stderr);
    assert.equal((await run(["archive", "--db", kept, "--nats", "nats://127.0.0.1:1"])).code, 1);
    assert.ok((await run(["logs", "--db", kept, "102965", "--limit", "1"])).stdout.length > 0);
  });
});

test("archive cli: export writes the archived room in each format; jsonl is logs --json", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const imported = await run(["archive", "--import", CAPTURE, "--room", "102965", "--db", db]);
    assert.equal(imported.code, 0, imported.stderr);
    const jsonl = await run(["export", "--db", db, "102965", "--format", "jsonl"]);
    assert.equal(jsonl.code, 0, jsonl.stderr);
    const logged = await run(["logs", "--db", db, "102965", "--json"]);
    // The same lines; the export also says each line's room.
    const withoutRoom = (text: string) =>
      lines(text).map((line) => {
        const { _room: _, ...rest } = JSON.parse(line);
        return JSON.stringify(rest);
      });
    assert.deepEqual(withoutRoom(jsonl.stdout), lines(logged.stdout));
    for (const format of ["csv", "xml", "ass", "srt"]) {
      const out = join(dir, `room.${format}`);
      const result = await run(["export", "--db", db, "102965", "--format", format, "--out", out]);
      assert.equal(result.code, 0, result.stderr);
      assert.equal(result.stdout, "");
      assert.match(result.stderr, new RegExp(`\\d+ entries written to .*room\\.${format}`));
      assert.ok((await readFile(out, "utf8")).length > 100, format);
    }
    const srt = await readFile(join(dir, "room.srt"), "utf8");
    // One cue per chat of the capture (five), timed from the first message stored.
    const stored = lines(jsonl.stdout).map((line) => JSON.parse(line));
    const zero = stored[0]._t;
    const chats = stored.filter((item) => item.type === "chatmsg");
    assert.equal(chats.length, 5);
    const cueStarts = [...srt.matchAll(/(\d\d):(\d\d):(\d\d),(\d{3}) --> /g)].map((m) =>
      ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4])
    );
    assert.deepEqual(cueStarts, chats.map((chat) => chat._t - zero));
    // --start moves time zero: a minute before the first message.
    const shifted = await run([
      "export",
      "--db",
      db,
      "102965",
      "--format",
      "srt",
      "--start",
      new Date(zero - 60_000).toISOString(),
    ]);
    assert.equal(shifted.code, 0, shifted.stderr);
    assert.ok(shifted.stdout.includes(`\n${srtTime(chats[0]._t - zero + 60_000)} --> `));
    const bad = await run(["export", "--db", db, "102965", "--format", "pdf"]);
    assert.equal(bad.code, 2);
    assert.match(
      bad.stderr,
      /invalid value for --format: "pdf" \(expected jsonl, csv, xml, ass, srt\)/,
    );
    assert.match((await run(["export", "--db", db, "102965"])).stderr, /missing --format/);

    // A reader that went away (`| head`) is not an error, as for logs; a stdout that fails
    // otherwise, or a file that cannot be written, is one line naming it.
    const failing = (error: Error & { code?: string }) => {
      let stderr = "";
      const io = {
        stdout: () => Promise.reject(error),
        stderr: (text: string) => void (stderr += text),
      };
      return { io, stderr: () => stderr };
    };
    const args = ["export", "--db", db, "102965", "--format", "xml"];
    const closed = failing(Object.assign(new Error("broken pipe"), { code: "EPIPE" }));
    assert.equal(await main(args, closed.io), 0);
    assert.equal(closed.stderr(), "");
    const full = failing(new Error("disk full"));
    assert.equal(await main(args, full.io), 1);
    assert.equal(full.stderr(), "douyu: cannot write to stdout: disk full\n");
    if (process.platform === "linux") {
      const device = await run([...args, "--out", "/dev/full"]);
      assert.equal(device.code, 1);
      assert.match(device.stderr, /^douyu: cannot write export \/dev\/full: [^\n]+\n$/);
    }
  });
});

/** An SRT time stamp, 01:02:03,456. */
function srtTime(ms: number): string {
  const pad = (n: number, width = 2) => String(n).padStart(width, "0");
  const h = Math.floor(ms / 3_600_000), m = Math.floor(ms / 60_000) % 60;
  return `${pad(h)}:${pad(m)}:${pad(Math.floor(ms / 1000) % 60)},${pad(ms % 1000, 3)}`;
}

test("archive cli: export marks a stored gap in every format; progress only on a terminal", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "gap.db");
    const t0 = Date.UTC(2024, 4, 1, 12);
    {
      await using archive = await Archive.open(db);
      archive.writeStatus({ t: t0, room: 5001, status: "connected" });
      const chat = (t: number, cid: string, txt: string) =>
        archive.write({
          t,
          room: 5001,
          message: { type: "chatmsg", uid: "7", nn: "Ann", txt, cid },
        });
      await chat(t0 + 1000, "a", "first-chat");
      archive.writeStatus({ t: t0 + 2000, room: 5001, status: "disconnected", detail: "EOF" });
      archive.writeStatus({ t: t0 + 8000, room: 5001, status: "connected" });
      await chat(t0 + 9000, "b", "second-chat");
    }
    for (const format of ["jsonl", "csv", "xml", "ass", "srt"]) {
      const result = await run(["export", "--db", db, "5001", "--format", format]);
      assert.equal(result.code, 0, result.stderr);
      assert.match(result.stderr, /, 1 gaps marked\)/, format);
      assert.ok(result.stdout.includes("EOF"), `${format}: ${result.stdout}`);
      const before = result.stdout.indexOf("first-chat");
      const after = result.stdout.indexOf("second-chat");
      const gap = result.stdout.indexOf("EOF");
      assert.ok(before < gap && gap < after, `${format}: the gap between the chats`);
      assert.ok(!result.stderr.includes("\r"), "no progress line in a pipe");
    }
    let stderr = "";
    const { main } = await import("../src/cli/cli.ts");
    const code = await main([
      "export",
      "--db",
      db,
      "5001",
      "--format",
      "xml",
      "--out",
      join(dir, "x"),
    ], {
      stdout: () => {},
      stderr: (chunk) => void (stderr += chunk),
      progress: true,
    });
    assert.equal(code, 0, stderr);
    const erase = "\x1b[K"; // to the end of the line
    assert.match(stderr, /\rdouyu: exporting: \d+ messages/);
    assert.ok(stderr.includes(` messages${erase}`), JSON.stringify(stderr));
    assert.ok(stderr.includes(`\r${erase}douyu:`), "cleared before the summary");
  });
});

test("archive cli: --retain 30d drops whole days past 30 and keeps the rest", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    // The capture is from January 2021: its days are past any 30 days.
    const old = await run(["archive", "--import", CAPTURE, "--room", "102965", "--db", db]);
    assert.equal(old.code, 0, old.stderr);
    const recent = join(dir, "recent.jsonl");
    const t = Date.now() - 86_400_000;
    const body = encodeStt({
      type: "chatmsg",
      rid: 102965,
      uid: 7,
      nn: "Ann",
      txt: "昨天",
      cid: "y1",
    });
    await writeFile(recent, JSON.stringify({ t, room: 102965, body }) + "\n");
    const kept = await run(["archive", "--import", recent, "--db", db, "--retain", "30d"]);
    assert.equal(kept.code, 0, kept.stderr);
    assert.match(kept.stderr, /retention 30 days: dropped \d+ days? \(2021-01-\d\d/);
    const logged = await run(["logs", "--db", db, "102965", "--json"]);
    assert.deepEqual(lines(logged.stdout).map((line) => JSON.parse(line).txt), ["昨天"]);
    // Nothing more to drop.
    const again = await run(["archive", "--import", recent, "--db", db, "--retain", "30d"]);
    assert.ok(!again.stderr.includes("dropped"), again.stderr);
  });
});

/** Makes `path` a file of `size` bytes (sparse: no data written). */
async function truncate(path: string, size: number, create: boolean): Promise<void> {
  const file = await open(path, create ? "w" : "r+");
  try {
    await file.truncate(size);
  } finally {
    await file.close();
  }
}
