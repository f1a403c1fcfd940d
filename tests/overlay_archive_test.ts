/**
 * `douyu overlay --db`: the widgets start from the archive's totals, so a
 * restart keeps them. The seam (`archiveTotals`) against the messages, to
 * the millisecond across whole and partial hours; then the command itself,
 * with and without `--db`, read through `/totals`.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import { join } from "node:path";
import { Archive } from "../src/archive/archive.ts";
import type { TimedMessage } from "../src/archive/timed.ts";
import { overlayCommand } from "../src/cli/overlay.ts";
import { archiveTotals } from "../src/cli/overlay_totals.ts";
import type { TotalsEvent } from "../src/overlay/ledger.ts";
import type { GiftDetails } from "../src/protocol/gifts.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { MockServer } from "../src/testing/mock_server.ts";
import { test } from "./harness.ts";
import { withArchive, withDir } from "./archive/helpers.ts";
import { readSse, type SseEvent } from "./sse.ts";

const ROOM = 9999;

function rocket(count: number): GiftDetails {
  return {
    kind: "gift",
    id: "20004",
    prop: false,
    name: "火箭",
    count,
    unitPriceFen: 50_000,
    unitPrice: 500,
    valueFen: 50_000 * count,
    value: 500 * count,
    paid: true,
    icon: undefined,
  };
}

function gift(t: number, uid: number, nn: string, count = 1, room = ROOM): TimedMessage {
  return {
    t,
    room,
    message: parseMessage(
      `type@=dgb/rid@=${room}/uid@=${uid}/nn@=${nn}/gfid@=20004/gfcnt@=${count}/`,
    ),
    gift: rocket(count),
  };
}

test("overlay --db: the archive's givers, to the millisecond, across whole and partial hours", async () => {
  const h = 3_600_000;
  const base = Date.UTC(2024, 4, 1, 10);
  const since = base + 17 * 60_000 + 123;
  const until = base + 3 * h + 42 * 60_000 + 456;
  await withArchive(async (archive) => {
    archive.write(gift(since - 1, 1, "Before")); // not counted
    archive.write(gift(since, 2, "Ann")); // the first millisecond
    archive.write(gift(base + h + 5, 2, "Ann", 2)); // a whole hour
    archive.write(gift(base + 2 * h + 9, 3, "Bo"));
    archive.write(gift(until - 1, 3, "Bo", 3)); // the last millisecond
    archive.write(gift(until, 1, "After")); // not counted
    archive.write(gift(base + h, 4, "Elsewhere", 1, 5)); // another room
    archive.write({
      t: base + h + 7,
      room: ROOM,
      message: parseMessage(
        `type@=comm_chatmsg/rid@=${ROOM}/btype@=voiceDanmu/cprice@=3000/` +
          `cet@=60/chatmsg@=nn@A=Dee@Suid@A=5@Stxt@A=hi@S/`,
      ),
    });
    archive.write({
      t: base + h + 8,
      room: ROOM,
      message: parseMessage(`type@=chatmsg/rid@=${ROOM}/uid@=6/nn@=Chatty/txt@=hi/`),
    });
    await archive.flush();
    const totals = archiveTotals(archive, () => [ROOM]);
    const expected = [
      { uid: "3", name: "Bo", value: 2000, gifts: 2 },
      { uid: "2", name: "Ann", value: 1500, gifts: 2 },
      { uid: "5", name: "Dee", value: 30, gifts: 1 },
    ];
    deepStrictEqual(await totals.load({ rooms: [ROOM], since, until }), expected);
    // No room named: the overlay's rooms.
    deepStrictEqual(await totals.load({ rooms: undefined, since, until }), expected);
    deepStrictEqual(await totals.load({ rooms: [ROOM], since: until, until: until + h }), [
      { uid: "1", name: "After", value: 500, gifts: 1 },
    ]);
  });
});

test("overlay --db: when the current stream went live, from the archive's last rss", async () => {
  await withArchive(async (archive) => {
    const now = Date.now();
    const rss = (t: number, ss: 0 | 1) => ({
      t,
      room: ROOM,
      message: parseMessage(`type@=rss/rid@=${ROOM}/ss@=${ss}/`),
    });
    archive.write(rss(now - 5 * 3_600_000, 1));
    archive.write(rss(now - 4 * 3_600_000, 0));
    archive.write(rss(now - 3 * 3_600_000, 1));
    archive.write(rss(now - 3 * 3_600_000 + 10, 1)); // a repeat: still the same stream
    archive.write(rss(now - 3_600_000, 0 as 0 | 1));
    archive.write(rss(now - 1_800_000, 1));
    await archive.flush();
    const totals = archiveTotals(archive, () => [ROOM]);
    strictEqual(await totals.liveSince!(ROOM), now - 1_800_000);
    strictEqual(await totals.liveSince!(ROOM + 1), undefined);
  });
});

/** Runs `douyu overlay` in this process until `fn` ends; `fn` gets its URL. */
async function withOverlay(args: string[], fn: (url: string) => Promise<void>): Promise<void> {
  const stop = new AbortController();
  let out = "";
  let up: (url: string) => void = () => {};
  const started = new Promise<string>((resolve) => (up = resolve));
  const done = overlayCommand(args, {
    stdout: (text) => {
      out += text;
      const url = /overlay: (http:\/\/\S+)/.exec(out)?.[1];
      if (url !== undefined) up(url);
    },
    stderr: () => {},
    signal: stop.signal,
  });
  try {
    const url = await Promise.race([started, done.then((code) => `exit ${code}`)]);
    ok(url.startsWith("http://"), url);
    await fn(url);
  } finally {
    stop.abort();
    strictEqual(await done, 0);
  }
}

async function lastTotals(url: string): Promise<TotalsEvent> {
  const events = await readSse<{ type: string }>(
    url,
    (events) =>
      events.some((event) => event.data.type === "totals" && (event.data as TotalsEvent).total > 0),
  );
  return events.map((event: SseEvent<{ type: string }>) => event.data)
    .filter((event): event is TotalsEvent => event.type === "totals").at(-1)!;
}

test("overlay --db: a restarted overlay's leaderboard starts from the archive; without --db, from zero", async () => {
  await withDir(async (dir) => {
    const db = join(dir, "a.db");
    const now = Date.now();
    const archive = await Archive.open(db);
    try {
      archive.write(gift(now - 2 * 3_600_000, 7, "Yesterday", 2));
      archive.write(gift(now - 60_000, 8, "Earlier"));
      archive.write(gift(now - 5 * 3_600_000, 9, "TooOld"));
    } finally {
      await archive.close();
    }
    await using mock = await MockServer.start({ messages: [] });
    const since = new Date(now - 3 * 3_600_000).toISOString();
    const query = `totals?room=${ROOM}&since=${encodeURIComponent(since)}`;
    const args = ["--port", "0", "--url", mock.url, String(ROOM)];
    await withOverlay([...args, "--db", db], async (url) => {
      const totals = await lastTotals(`${url}${query}`);
      strictEqual(totals.total, 1500);
      deepStrictEqual(totals.gifters.map((g) => [g.uid, g.name, g.value, g.gifts]), [
        ["7", "Yesterday", 1000, 1],
        ["8", "Earlier", 500, 1],
      ]);
    });
    // Without --db: nothing from before its start.
    await withOverlay(args, async (url) => {
      const events = await readSse<{ type: string }>(
        `${url}${query}`,
        (events) => events.some((event) => event.data.type === "totals"),
      );
      const totals = events.map((event) => event.data)
        .filter((event): event is TotalsEvent => event.type === "totals");
      strictEqual(totals[0]!.total, 0);
      deepStrictEqual(totals[0]!.gifters, []);
    });
  });
});
