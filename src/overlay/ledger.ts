/**
 * Who gave what: the gifts and super chats the overlay has seen, summed per
 * giver for the `/leaderboard` and `/goal` widgets, since a moment a widget
 * names (`since=stream|today|1h|<ISO time>`). It counts from the overlay's
 * own start; totals from before it come from a {@linkcode StartingTotals}
 * (the archive's, with `--db`), added once when a widget opens.
 *
 * Pure code: no I/O, no timers, no runtime API.
 *
 * @module
 */

/**
 * One gift or super chat, as the ledger keeps it.
 *
 * @example
 * ```ts
 * import type { Contribution } from "./ledger.ts";
 *
 * const rocket: Contribution = { time: 0, room: 9999, uid: "7", name: "Bo", value: 500 };
 * console.log(rocket.value); // 500
 * ```
 */
export interface Contribution {
  /** When the overlay received it, ms since the epoch. */
  time: number;
  /** The room it was given in. */
  room: number;
  /** The giver's uid, or `""` when the message had none. */
  uid: string;
  /** The giver's name, sanitised. */
  name: string;
  /** Its value in yuan (a gift message's whole value, or a super chat's price). */
  value: number;
}

/**
 * One giver's sum.
 *
 * @example
 * ```ts
 * import type { GifterTotal } from "./ledger.ts";
 *
 * const top: GifterTotal = { uid: "7", name: "Bo", value: 1500, gifts: 3 };
 * console.log(top.gifts); // 3
 * ```
 */
export interface GifterTotal {
  /** uid (or `""`: givers without one are summed by name). */
  uid: string;
  /** The name they last gave under. */
  name: string;
  /** Yuan, in all. */
  value: number;
  /** Gift messages and super chats counted. */
  gifts: number;
}

/**
 * Totals from before the overlay started, for widgets to start from: the
 * seam where the archive (`--db`) plugs in. Without one, widgets count from
 * the overlay's start.
 *
 * @example
 * ```ts
 * import type { StartingTotals } from "./ledger.ts";
 *
 * const none: StartingTotals = { load: () => Promise.resolve([]) };
 * console.log((await none.load({ rooms: [9999], since: 0, until: Date.now() })).length); // 0
 * ```
 */
export interface StartingTotals {
  /**
   * What each giver gave in `rooms` (every room when undefined) from `since`
   * until `until` (ms since the epoch; `until` is when the overlay started).
   */
  load(query: {
    rooms: readonly number[] | undefined;
    since: number;
    until: number;
    signal?: AbortSignal;
  }): Promise<GifterTotal[]>;
  /** When a room's current stream went live, when known (ms since the epoch). */
  liveSince?(room: number): Promise<number | undefined>;
}

/**
 * From when a widget counts: the current stream, today (local midnight), a
 * rolling window (`1h`: the last hour), or a fixed time.
 *
 * @example
 * ```ts
 * import type { Since } from "./ledger.ts";
 *
 * const lastHour: Since = { kind: "window", ms: 3_600_000 };
 * console.log(lastHour.kind); // "window"
 * ```
 */
export type Since =
  | { kind: "stream" }
  | { kind: "today" }
  | { kind: "window"; ms: number }
  | { kind: "at"; time: number };

/**
 * Reads a widget's `since` parameter: `stream` (the default), `today`, a
 * window such as `30m`, `1h`, `2d`, or an ISO time in the past.
 *
 * @param text The parameter, or null when absent.
 * @param now Now, ms since the epoch.
 * @returns The moment, and a problem line when the text could not be read (then `stream`).
 *
 * @example
 * ```ts
 * import { parseSince } from "./ledger.ts";
 *
 * console.log(parseSince("1h", 0).since); // { kind: "window", ms: 3600000 }
 * console.log(parseSince("soon", 0).problem); // 'since: "soon" is not stream, today, a window like 1h, or a time'
 * ```
 */
export function parseSince(text: string | null, now: number): { since: Since; problem?: string } {
  const value = (text ?? "").trim();
  if (value === "" || value === "stream") return { since: { kind: "stream" } };
  if (value === "today") return { since: { kind: "today" } };
  const window = /^(\d{1,4})(m|h|d)$/.exec(value);
  if (window !== null && Number(window[1]) > 0) {
    const unit = window[2] === "m" ? 60_000 : window[2] === "h" ? 3_600_000 : 86_400_000;
    return { since: { kind: "window", ms: Number(window[1]) * unit } };
  }
  const time = /^\d{4}-\d{2}-\d{2}/.test(value) ? Date.parse(value) : NaN;
  if (Number.isFinite(time) && time <= now) return { since: { kind: "at", time } };
  const shown = JSON.stringify(value.length > 30 ? `${value.slice(0, 30)}…` : value);
  return {
    since: { kind: "stream" },
    problem: `since: ${shown} is not stream, today, a window like 1h, or a time`,
  };
}

/**
 * A widget's view of the ledger, as the widgets' stream sends it.
 *
 * @example
 * ```ts
 * import type { TotalsEvent } from "./ledger.ts";
 *
 * const empty: TotalsEvent = { type: "totals", since: 0, total: 0, gifts: 0, gifters: [] };
 * console.log(empty.type); // "totals"
 * ```
 */
export interface TotalsEvent {
  /** Kind. */
  type: "totals";
  /** From when it counts, ms since the epoch (the earliest of the rooms', for `stream`). */
  since: number;
  /** Yuan given in all since then. */
  total: number;
  /** Gift messages and super chats counted. */
  gifts: number;
  /** The top givers, most first. */
  gifters: GifterTotal[];
}

/**
 * The gifts and super chats seen, in the order they came, and each room's
 * go-live time. Keeps at most `max` contributions (the oldest go first, and
 * are counted in {@linkcode GiftLedger.dropped}).
 *
 * @example
 * ```ts
 * import { GiftLedger } from "./ledger.ts";
 *
 * const ledger = new GiftLedger({ start: 0 });
 * ledger.add({ time: 10, room: 1, uid: "7", name: "Bo", value: 100 });
 * ledger.add({ time: 20, room: 1, uid: "8", name: "Cy", value: 0.1 });
 * ledger.add({ time: 30, room: 1, uid: "7", name: "Bo", value: 500 });
 * const totals = ledger.totals({ since: { kind: "stream" }, top: 1, now: 40 });
 * console.log(totals.total, totals.gifters); // 600.1 [ { uid: "7", name: "Bo", value: 600, gifts: 2 } ]
 * ```
 */
export class GiftLedger {
  /** When the ledger started counting, ms since the epoch. */
  readonly start: number;
  readonly #max: number;
  #entries: Contribution[] = [];
  readonly #liveAt = new Map<number, number>();
  /** Contributions let go because the ledger was full. */
  dropped = 0;

  /**
   * An empty ledger.
   *
   * @param options `start`: when counting starts (default now); `max`: most
   *   contributions kept (default 200 000).
   */
  constructor(options: { start?: number; max?: number } = {}) {
    this.start = options.start ?? Date.now();
    this.#max = options.max ?? 200_000;
  }

  /** Adds a gift or super chat. Worthless ones (value 0 or unknown) are not kept. */
  add(contribution: Contribution): void {
    if (!(contribution.value > 0) || !Number.isFinite(contribution.value)) return;
    this.#entries.push(contribution);
    if (this.#entries.length > this.#max * 1.25) {
      const cut = this.#entries.length - this.#max;
      this.dropped += cut;
      this.#entries = this.#entries.slice(cut);
    }
  }

  /** A room went live at `time`: `since=stream` counts from there. */
  wentLive(room: number, time: number): void {
    this.#liveAt.set(room, time);
  }

  /** When `room`'s current stream started, as far as the ledger knows: its go-live, or the ledger's start. */
  liveSince(room: number): number {
    return this.#liveAt.get(room) ?? this.start;
  }

  /** The start of `since` for `room` at `now`. */
  #from(since: Since, room: number, now: number): number {
    switch (since.kind) {
      case "stream":
        return this.liveSince(room);
      case "today": {
        const midnight = new Date(now);
        midnight.setHours(0, 0, 0, 0);
        return midnight.getTime();
      }
      case "window":
        return now - since.ms;
      case "at":
        return since.time;
    }
  }

  /**
   * The totals of `rooms` (every room when undefined) since `since`, with
   * the `top` givers, plus `base` (what a {@linkcode StartingTotals} gave).
   */
  totals(query: {
    rooms?: readonly number[];
    since: Since;
    top: number;
    now: number;
    base?: readonly GifterTotal[];
  }): TotalsEvent {
    const { rooms, since, now } = query;
    const wanted = rooms === undefined || rooms.length === 0 ? undefined : new Set(rooms);
    const fromByRoom = new Map<number, number>();
    const fromOf = (room: number) => {
      let from = fromByRoom.get(room);
      if (from === undefined) fromByRoom.set(room, from = this.#from(since, room, now));
      return from;
    };
    const earliest = Math.min(
      ...(wanted ? [...wanted] : [...this.#liveAt.keys(), -1]).map((room) => fromOf(room)),
    );
    const sums = new Map<string, GifterTotal>();
    let total = 0;
    let gifts = 0;
    const count = (key: string, entry: { uid: string; name: string; value: number }, n: number) => {
      const sum = sums.get(key);
      if (sum === undefined) {
        sums.set(key, { uid: entry.uid, name: entry.name, value: entry.value, gifts: n });
      } else {
        sum.value += entry.value;
        sum.gifts += n;
        sum.name = entry.name;
      }
      total += entry.value;
      gifts += n;
    };
    for (const base of query.base ?? []) count(base.uid || `name:${base.name}`, base, base.gifts);
    // Contributions come in time order: start at the first one that can count.
    const entries = this.#entries;
    let lo = 0;
    let hi = entries.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (entries[mid]!.time < earliest) lo = mid + 1;
      else hi = mid;
    }
    for (let i = lo; i < entries.length; i++) {
      const entry = entries[i]!;
      if (wanted !== undefined && !wanted.has(entry.room)) continue;
      if (entry.time < fromOf(entry.room) || entry.time > now) continue;
      count(entry.uid || `name:${entry.name}`, entry, 1);
    }
    const gifters = [...sums.values()]
      .sort((a, b) => b.value - a.value || b.gifts - a.gifts)
      .slice(0, Math.max(0, query.top))
      .map((gifter) => ({ ...gifter, value: round(gifter.value) }));
    return {
      type: "totals",
      since: Number.isFinite(earliest) && earliest >= 0 ? earliest : this.start,
      total: round(total),
      gifts,
      gifters,
    };
  }
}

/** Yuan to the fen, without float noise (0.1 + 0.2 is 0.3). */
function round(yuan: number): number {
  return Math.round(yuan * 100) / 100;
}
