/**
 * The widgets' side of the overlay without a browser: the gift ledger
 * (sums per giver since a moment), the `since` and `/totals` parameters,
 * the `/totals` stream of a running server, and the seam for starting
 * totals (the archive's). The pages are tested in tests/browser/.
 */
import { deepStrictEqual, ok, strictEqual } from "node:assert/strict";
import {
  GiftLedger,
  parseSince,
  type StartingTotals,
  type TotalsEvent,
} from "../src/overlay/ledger.ts";
import { OverlayServer } from "../src/overlay/server.ts";
import { readTotalsQuery } from "../src/overlay/totals.ts";
import { GiftCatalog } from "../src/protocol/gifts.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { test } from "./harness.ts";
import { readSse, type SseEvent } from "./sse.ts";

const ROOM = 9999;
const catalog = new GiftCatalog({
  roomId: ROOM,
  gifts: [
    { id: "824", name: "荧光棒", price: 10, paid: true, source: "room" },
    { id: "20004", name: "火箭", price: 50000, paid: true, source: "room" },
    { id: "1", name: "鱼丸", price: 0, paid: false, source: "room" },
  ],
});

function msg(fields: Record<string, string | number | object>) {
  return parseMessage(encodeStt({ rid: ROOM, ...fields }));
}

test("ledger: sums per giver, the top first; worthless gifts do not count", () => {
  const ledger = new GiftLedger({ start: 1000 });
  ledger.add({ time: 1100, room: ROOM, uid: "1", name: "Ann", value: 0.1 });
  ledger.add({ time: 1200, room: ROOM, uid: "2", name: "Bo", value: 500 });
  ledger.add({ time: 1300, room: ROOM, uid: "1", name: "Ann (new name)", value: 0.2 });
  ledger.add({ time: 1400, room: ROOM, uid: "3", name: "Cy", value: 0 });
  ledger.add({ time: 1500, room: 5, uid: "4", name: "Elsewhere", value: 30 });
  const all = ledger.totals({ since: { kind: "stream" }, top: 10, now: 2000 });
  deepStrictEqual(all, {
    type: "totals",
    since: 1000,
    total: 530.3,
    gifts: 4,
    gifters: [
      { uid: "2", name: "Bo", value: 500, gifts: 1 },
      { uid: "4", name: "Elsewhere", value: 30, gifts: 1 },
      { uid: "1", name: "Ann (new name)", value: 0.3, gifts: 2 },
    ],
  });
  const one = ledger.totals({ rooms: [ROOM], since: { kind: "stream" }, top: 1, now: 2000 });
  deepStrictEqual([one.total, one.gifters.map((g) => g.name)], [500.3, ["Bo"]]);
});

test("ledger: since the stream went live, a window, a time; a new stream starts again", () => {
  const ledger = new GiftLedger({ start: 0 });
  ledger.add({ time: 10_000, room: ROOM, uid: "1", name: "Early", value: 100 });
  ledger.wentLive(ROOM, 20_000);
  ledger.add({ time: 30_000, room: ROOM, uid: "2", name: "Live", value: 50 });
  ledger.add({ time: 3_700_000, room: ROOM, uid: "3", name: "Late", value: 10 });
  const names = (totals: TotalsEvent) => totals.gifters.map((g) => g.name);
  const now = 3_800_000;
  deepStrictEqual(names(ledger.totals({ since: { kind: "stream" }, top: 9, now })), [
    "Live",
    "Late",
  ]);
  deepStrictEqual(
    names(ledger.totals({ since: { kind: "window", ms: 3_600_000 }, top: 9, now })),
    ["Late"],
  );
  deepStrictEqual(
    names(ledger.totals({ since: { kind: "at", time: 0 }, top: 9, now })),
    ["Early", "Live", "Late"],
  );
  ledger.wentLive(ROOM, 3_750_000);
  strictEqual(ledger.totals({ since: { kind: "stream" }, top: 9, now }).total, 0);
});

test("ledger: keeps at most max contributions and counts those let go", () => {
  const ledger = new GiftLedger({ start: 0, max: 100 });
  for (let i = 0; i < 1000; i++) ledger.add({ time: i, room: 1, uid: "1", name: "A", value: 1 });
  const totals = ledger.totals({ since: { kind: "at", time: 0 }, top: 1, now: 1000 });
  ok(totals.gifts <= 125 && totals.gifts >= 100, `${totals.gifts}`);
  strictEqual(ledger.dropped + totals.gifts, 1000);
});

test("widget parameters: since and /totals queries, with problems named", () => {
  deepStrictEqual(parseSince(null, 0).since, { kind: "stream" });
  deepStrictEqual(parseSince("today", 0).since, { kind: "today" });
  deepStrictEqual(parseSince("30m", 0).since, { kind: "window", ms: 1_800_000 });
  deepStrictEqual(parseSince("2024-05-01T12:00:00Z", Date.now()).since, {
    kind: "at",
    time: Date.UTC(2024, 4, 1, 12),
  });
  ok(parseSince("2999-01-01", Date.now()).problem?.startsWith("since:"));
  ok(parseSince("0h", 0).problem !== undefined);
  const { query, problems } = readTotalsQuery(new URLSearchParams("room=1,2&room=x&top=99"), 0);
  deepStrictEqual(query, { rooms: [1, 2], since: { kind: "stream" }, top: 5 });
  deepStrictEqual(problems, [
    "room: only numeric room ids are used",
    'top: "99" is not a number from 0 to 50',
  ]);
  // Each room may cost a lookup: repeated ones count once, and at most 100 are used.
  const many = Array.from({ length: 150 }, (_, i) => i + 1).join(",");
  const bounded = readTotalsQuery(new URLSearchParams(`room=3,3,1&room=${many}`), 0);
  deepStrictEqual(bounded.query.rooms?.slice(0, 4), [3, 1, 2, 4]);
  strictEqual(bounded.query.rooms?.length, 100);
  deepStrictEqual(bounded.problems, ["room: only the first 100 rooms are used"]);
});

/** Reads `/totals` events until `done` says enough; returns the totals. */
async function readTotals(
  url: string,
  done: (events: TotalsEvent[]) => boolean,
): Promise<TotalsEvent[]> {
  const totals = (events: SseEvent<{ type: string }>[]) =>
    events.map((event) => event.data).filter((event): event is TotalsEvent =>
      event.type === "totals"
    );
  return totals(await readSse<{ type: string }>(url, (events) => done(totals(events))));
}

test("server: /totals follows gifts and super chats, per room and top, within the refresh", async () => {
  await using server = await OverlayServer.start();
  const stream = readTotals(
    `${server.url}totals?room=${ROOM}&top=2`,
    (events) => events.at(-1)?.total === 1001.1,
  );
  while (server.widgets < 1) await new Promise((resolve) => setTimeout(resolve, 10));
  const sent = Date.now();
  server.publish(ROOM, msg({ type: "dgb", uid: 1, nn: "Ann", gfid: 824, gfcnt: 1 }), catalog);
  server.publish(ROOM, msg({ type: "dgb", uid: 2, nn: "Bo", gfid: 20004, gfcnt: 2 }), catalog);
  server.publish(ROOM, msg({ type: "dgb", uid: 3, nn: "Free", gfid: 1, gfcnt: 9 }), catalog);
  server.publish(5, msg({ type: "dgb", rid: 5, uid: 4, nn: "Other", gfid: 20004 }), catalog);
  server.publish(
    ROOM,
    msg({
      type: "comm_chatmsg",
      btype: "voiceDanmu",
      cprice: 100,
      cet: 30,
      chatmsg: { nn: "Dee", uid: 5, txt: "x" },
    }),
  );
  const events = await stream;
  const last = events.at(-1)!;
  deepStrictEqual(last.gifters, [
    { uid: "2", name: "Bo", value: 1000, gifts: 1 },
    { uid: "5", name: "Dee", value: 1, gifts: 1 },
  ]);
  strictEqual(last.gifts, 3);
  // The design bound: one refresh (100 ms) after the gifts, with a busy machine's slack.
  ok(Date.now() - sent < 2000, `${Date.now() - sent} ms`);
});

test("server: starting totals (the archive's) are added to what the overlay counts itself", async () => {
  const asked: unknown[] = [];
  const starting: StartingTotals = {
    load(query) {
      asked.push({
        rooms: query.rooms,
        since: query.since,
        untilIsStart: query.until <= Date.now(),
      });
      return Promise.resolve([{ uid: "9", name: "Yesterday", value: 300, gifts: 2 }]);
    },
    liveSince: () => Promise.resolve(Date.now() - 3_600_000),
  };
  await using server = await OverlayServer.start({ startingTotals: starting });
  const events = await readTotals(
    `${server.url}totals?room=${ROOM}`,
    (events) => events.some((event) => event.total === 300),
  );
  deepStrictEqual(events.at(-1)!.gifters, [{ uid: "9", name: "Yesterday", value: 300, gifts: 2 }]);
  strictEqual(asked.length, 1);
  deepStrictEqual((asked[0] as { rooms: number[] }).rooms, [ROOM]);
});

test("server: a /totals stream's lookups of its rooms end with it; a failure of the starting totals is shown", async () => {
  let calls = 0;
  let hold = true;
  const answers: (() => void)[] = [];
  const starting: StartingTotals = {
    load: () => Promise.reject(new Error("archive gone")),
    liveSince() {
      calls++;
      // Live for an hour: what came before the overlay started is asked for (and fails).
      if (!hold) return Promise.resolve(Date.now() - 3_600_000);
      return new Promise((resolve) => answers.push(() => resolve(undefined)));
    },
  };
  await using server = await OverlayServer.start({ startingTotals: starting });
  await readSse(`${server.url}totals?room=1,2,3`, (events) => events.length >= 1);
  while (server.widgets > 0) await new Promise((resolve) => setTimeout(resolve, 10));
  // The first room's lookup answers after its stream ended: no other is asked.
  answers[0]!();
  await new Promise((resolve) => setTimeout(resolve, 50));
  strictEqual(calls, 1);
  // The starting totals fail after the stream began: its status is sent again, saying so.
  hold = false;
  const events = await readSse<{ type: string; problems?: string[] }>(
    `${server.url}totals?room=1`,
    (events) => events.some((event) => event.data.problems?.length === 1),
  );
  deepStrictEqual(events.find((event) => event.data.problems?.length === 1)!.data.problems, [
    "starting totals: archive gone",
  ]);
});
