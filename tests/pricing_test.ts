/**
 * Gifts priced on arrival (src/archive/pricing.ts): a room's first gifts
 * wait for its first catalogue, in order, for a bounded time; other rooms
 * never wait; once a catalogue is in or has failed, nothing waits again.
 * Catalogues come from a GiftCatalogCache whose `fetch` the test answers
 * by hand, so no order depends on a clock.
 */
import { deepStrictEqual, ok, strictEqual, throws } from "node:assert/strict";
import { GiftPricer } from "../src/archive/pricing.ts";
import type { TimedMessage } from "../src/archive/timed.ts";
import { deferred } from "../src/base/timers.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { GiftCatalogCache } from "../src/web/gifts.ts";
import type { FetchLike } from "../src/web/http.ts";
import { test } from "./harness.ts";

const GIFT_LIST = JSON.stringify({
  error: 0,
  data: {
    giftList: [{ id: 20004, name: "火箭", priceInfo: { price: 50000, priceType: "YUCHI" } }],
  },
});

/** A catalogue cache whose gift-list requests wait until the test answers them, per room. */
function handAnswered(retryAfter = 0) {
  const pending = new Map<number, ReturnType<typeof deferred<Response>>>();
  const asked: number[] = [];
  const fetch: FetchLike = (url) => {
    const room = Number(new URL(url).searchParams.get("rid"));
    asked.push(room);
    const answer = deferred<Response>();
    pending.set(room, answer);
    return answer.promise;
  };
  const gifts = new GiftCatalogCache({ fetch, props: false, retryAfter });
  return {
    gifts,
    asked,
    answer(room: number, ok = true) {
      pending.get(room)!.resolve(
        ok ? new Response(GIFT_LIST) : new Response("down", { status: 500 }),
      );
    },
  };
}

/** A source the test feeds by hand; `end()` ends it. */
function channel() {
  const queue: TimedMessage[] = [];
  let wake: (() => void) | undefined;
  let ended = false;
  let returned = false;
  async function* source(): AsyncGenerator<TimedMessage> {
    try {
      for (;;) {
        while (queue.length > 0) yield queue.shift()!;
        if (ended) return;
        await new Promise<void>((resolve) => (wake = resolve));
      }
    } finally {
      returned = true;
    }
  }
  return {
    source: source(),
    push(item: TimedMessage) {
      queue.push(item);
      wake?.();
    },
    end() {
      ended = true;
      wake?.();
    },
    get returned() {
      return returned;
    },
  };
}

/** Waits (a millisecond at a time, 10 s at most) until `done()` holds. */
async function until(done: () => boolean): Promise<void> {
  for (let i = 0; i < 10_000 && !done(); i++) {
    await new Promise((resolve) => setTimeout(resolve, 1));
  }
  ok(done(), "the condition never held");
}

let clock = 1_000_000;
const rocket = (room: number): TimedMessage => ({
  t: clock++,
  room,
  message: parseMessage("type@=dgb/gfid@=20004/gfcnt@=1/nn@=Rich/"),
});
const chat = (room: number, txt: string): TimedMessage => ({
  t: clock++,
  room,
  message: parseMessage(`type@=chatmsg/nn@=Ann/txt@=${txt}/`),
});

/** What a priced item shows: its room and its gift's value, or its text. */
function shown(item: TimedMessage): string {
  if (item.gift !== undefined) {
    const name = item.gift.kind === "superchat"
      ? "super chat"
      : item.gift.name ?? `gift #${item.gift.id}`;
    return `${item.room} ${name} ${item.gift.value ?? "?"}`;
  }
  return `${item.room} ${String(item.message.txt)}`;
}

test("pricer: a room's first gifts wait for its catalogue, in order; other rooms flow meanwhile", async () => {
  const api = handAnswered();
  const pricer = new GiftPricer({ gifts: api.gifts, catalogWait: 60_000 });
  pricer.join(1);
  deepStrictEqual(api.asked, [1], "asked as soon as the room is joined");
  const feed = channel();
  const out = pricer.price(feed.source);
  feed.push(chat(1, "before"));
  strictEqual(shown((await out.next()).value!), "1 before", "nothing waits before the first gift");
  feed.push(rocket(1));
  feed.push(chat(1, "after"));
  feed.push(chat(2, "other"));
  // Room 2 is asked when first seen, and its chat is not held behind room 1.
  strictEqual(shown((await out.next()).value!), "2 other");
  deepStrictEqual(api.asked, [1, 2]);
  feed.push(rocket(1));
  api.answer(1);
  deepStrictEqual(
    (await Promise.all([out.next(), out.next(), out.next()])).map((r) => shown(r.value!)),
    [
      "1 火箭 500",
      "1 after",
      "1 火箭 500",
    ],
  );
  // In hand: the next gift is priced at once.
  feed.push(rocket(1));
  strictEqual(shown((await out.next()).value!), "1 火箭 500");
  feed.end();
  strictEqual((await out.next()).done, true);
  ok(feed.returned);
  api.gifts.clear();
});

test("pricer: the wait is bounded; then gifts show their id, and that room never waits again", async () => {
  const api = handAnswered();
  const pricer = new GiftPricer({ gifts: api.gifts, catalogWait: 50 });
  const feed = channel();
  const out = pricer.price(feed.source);
  const start = performance.now();
  feed.push(rocket(7));
  feed.push(chat(7, "x"));
  deepStrictEqual([shown((await out.next()).value!), shown((await out.next()).value!)], [
    "7 gift #20004 ?",
    "7 x",
  ]);
  ok(performance.now() - start >= 45, "held for the wait");
  // The catalogue is still on its way, but the wait ran out: nothing waits any more.
  feed.push(rocket(7));
  strictEqual(shown((await out.next()).value!), "7 gift #20004 ?");
  api.answer(7);
  await until(() => api.gifts.peek(7) !== undefined);
  feed.push(rocket(7));
  strictEqual(shown((await out.next()).value!), "7 火箭 500", "priced once the catalogue is in");
  feed.end();
  strictEqual((await out.next()).done, true);
  api.gifts.clear();
});

test("pricer: a catalogue that failed releases the room at once; later gifts ask again, without waiting", async () => {
  const api = handAnswered();
  const errors: number[] = [];
  const pricer = new GiftPricer({
    gifts: api.gifts,
    catalogWait: 60_000,
    onError: (room) => errors.push(room),
  });
  const feed = channel();
  const out = pricer.price(feed.source);
  feed.push(rocket(3));
  feed.push(chat(3, "y"));
  const first = Promise.all([out.next(), out.next()]);
  await until(() => api.asked.includes(3));
  api.answer(3, false);
  deepStrictEqual((await first).map((r) => shown(r.value!)), ["3 gift #20004 ?", "3 y"]);
  deepStrictEqual(errors, [3]);
  // A later gift asks again (the cache retries after retryAfter, 0 here), and does not wait.
  feed.push(rocket(3));
  strictEqual(shown((await out.next()).value!), "3 gift #20004 ?");
  deepStrictEqual(api.asked, [3, 3]);
  deepStrictEqual(errors, [3]);
  api.answer(3);
  await until(() => api.gifts.peek(3) !== undefined);
  feed.push(rocket(3));
  strictEqual(shown((await out.next()).value!), "3 火箭 500");
  feed.end();
  strictEqual((await out.next()).done, true);
  api.gifts.clear();
});

test("pricer: a failure the cache keeps for a while is told once, however many gifts ask", async () => {
  const api = handAnswered(60_000);
  const errors: number[] = [];
  const pricer = new GiftPricer({ gifts: api.gifts, onError: (room) => errors.push(room) });
  const feed = channel();
  const out = pricer.price(feed.source);
  feed.push(rocket(8));
  const first = out.next();
  await until(() => api.asked.includes(8));
  api.answer(8, false);
  strictEqual(shown((await first).value!), "8 gift #20004 ?");
  for (let i = 0; i < 5; i++) {
    feed.push(rocket(8));
    strictEqual(shown((await out.next()).value!), "8 gift #20004 ?");
  }
  await new Promise((resolve) => setTimeout(resolve, 0));
  deepStrictEqual(api.asked, [8], "not asked again before retryAfter");
  deepStrictEqual(errors, [8]);
  await out.return();
  api.gifts.clear();
});

test("pricer: the end of the source waits for what a room holds, then ends", async () => {
  const api = handAnswered();
  const pricer = new GiftPricer({ gifts: api.gifts, catalogWait: 60_000 });
  const feed = channel();
  feed.push(rocket(6));
  feed.push(chat(6, "z"));
  feed.end();
  const rest = (async () => {
    const got: string[] = [];
    for await (const item of pricer.price(feed.source)) got.push(shown(item));
    return got;
  })();
  await until(() => api.asked.includes(6));
  api.answer(6);
  deepStrictEqual(await rest, ["6 火箭 500", "6 z"]);
  api.gifts.clear();
});

test("pricer: aborting its signal releases what is held; breaking out ends the source", async () => {
  const api = handAnswered();
  const stop = new AbortController();
  const pricer = new GiftPricer({ gifts: api.gifts, catalogWait: 60_000, signal: stop.signal });
  const feed = channel();
  const out = pricer.price(feed.source);
  feed.push(rocket(4));
  const next = out.next();
  stop.abort();
  strictEqual(shown((await next).value!), "4 gift #20004 ?");
  await out.return();
  ok(feed.returned, "the source was ended");
  api.gifts.clear();
});

test("pricer: catalogWait 0 never waits; a cached catalogue is used at once; super chats need none", async () => {
  const api = handAnswered();
  const immediate = new GiftPricer({ gifts: api.gifts, catalogWait: 0 });
  const got: string[] = [];
  const sc: TimedMessage = {
    t: 1,
    room: 5,
    message: parseMessage("type@=comm_chatmsg/cprice@=3000/cet@=60/"),
  };
  for await (const item of immediate.price([rocket(5), sc])) got.push(shown(item));
  deepStrictEqual(got, ["5 gift #20004 ?", "5 super chat 30"]);
  api.answer(5);
  await api.gifts.get(5);
  const cached = new GiftPricer({ gifts: api.gifts });
  const priced: string[] = [];
  for await (const item of cached.price([rocket(5)])) priced.push(shown(item));
  deepStrictEqual(priced, ["5 火箭 500"]);
  throws(() => new GiftPricer({ gifts: api.gifts, catalogWait: -1 }), RangeError);
  throws(() => new GiftPricer({ gifts: api.gifts, catalogWait: 61_000 }), RangeError);
  api.gifts.clear();
});

test("pricer: past maxRooms the room known longest is forgotten, releasing what it held", async () => {
  const api = handAnswered();
  const pricer = new GiftPricer({ gifts: api.gifts, catalogWait: 60_000, maxRooms: 3 });
  const feed = channel();
  const out = pricer.price(feed.source);
  // Rooms 1 to 3 hold their first gifts, waiting for catalogues that do not come.
  for (const room of [1, 2, 3]) feed.push(rocket(room));
  feed.push(chat(4, "fourth room"));
  // Room 1's gift is released, unpriced (rooms that waited come out after the others).
  deepStrictEqual([shown((await out.next()).value!), shown((await out.next()).value!)], [
    "4 fourth room",
    "1 gift #20004 ?",
  ]);
  strictEqual(pricer.rooms, 3);
  // Room 1 comes back as new: it waits again, and room 2 is forgotten in turn.
  feed.push(rocket(1));
  strictEqual(shown((await out.next()).value!), "2 gift #20004 ?");
  strictEqual(pricer.rooms, 3);
  feed.end();
  const rest = (async () => {
    const got: string[] = [];
    for await (const item of out) got.push(shown(item));
    return got;
  })();
  api.answer(3);
  api.answer(1);
  deepStrictEqual((await rest).sort(), ["1 火箭 500", "3 火箭 500"]);
  throws(() => new GiftPricer({ gifts: api.gifts, maxRooms: 0 }), RangeError);
  api.gifts.clear();
});
