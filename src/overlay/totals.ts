/**
 * The widgets' side of the overlay server: the gift ledger, fed by the
 * events the server publishes, and the `/totals` streams that the
 * `/leaderboard` and `/goal` pages read. A widget's stream sends its whole
 * state (the totals and the top givers) when it changed: at once, or at
 * most every `refresh` ms in a flood, which then costs one message a tenth
 * of a second.
 *
 * @module
 */

import type { ServerResponse } from "node:http";
import { setRepeating, setTimer } from "../base/timers.ts";
import type { LineEvent } from "./events.ts";
import {
  type GifterTotal,
  GiftLedger,
  parseSince,
  type Since,
  type StartingTotals,
  type TotalsEvent,
} from "./ledger.ts";
import { EventStream, type StreamSet } from "./streams.ts";

/** Most givers a widget may ask for. */
export const MAX_TOP = 50;

/** The most rooms one `/totals` stream may name. */
const MAX_ROOMS = 100;

/** What a `/totals` stream asks: its rooms, its moment, how many givers. */
interface TotalsQuery {
  rooms: number[] | undefined;
  since: Since;
  top: number;
}

/**
 * Reads a `/totals` query: `since`, `room` (ids, commas or repeated),
 * `top` (0 to 50, default 5). What cannot be read is left at its default
 * and named in `problems`.
 *
 * @param params The query parameters.
 * @param now Now, ms since the epoch.
 * @returns The query and the problems.
 *
 * @example
 * ```ts
 * import { readTotalsQuery } from "./totals.ts";
 *
 * const { query, problems } = readTotalsQuery(new URLSearchParams("room=9999&top=3&since=1h"), 0);
 * console.log(query.rooms, query.top, query.since, problems); // [ 9999 ] 3 { kind: "window", ms: 3600000 } []
 * ```
 */
export function readTotalsQuery(
  params: URLSearchParams,
  now: number,
): { query: TotalsQuery; problems: string[] } {
  const problems: string[] = [];
  const { since, problem } = parseSince(params.get("since"), now);
  if (problem !== undefined) problems.push(problem);
  const ids = params.getAll("room").flatMap((value) => value.split(/[,，]/))
    .map((id) => id.trim()).filter((id) => id !== "");
  const numeric = ids.filter((id) => /^\d{1,12}$/.test(id));
  if (numeric.length < ids.length) problems.push("room: only numeric room ids are used");
  // Each room may cost the archive a lookup: a URL of thousands must not.
  const rooms = [...new Set(numeric.map(Number))];
  if (rooms.length > MAX_ROOMS) {
    problems.push(`room: only the first ${MAX_ROOMS} rooms are used`);
    rooms.length = MAX_ROOMS;
  }
  const topText = params.get("top");
  let top = 5;
  if (topText !== null && topText.trim() !== "") {
    const n = Number(topText);
    if (Number.isInteger(n) && n >= 0 && n <= MAX_TOP) top = n;
    else {problems.push(
        `top: ${JSON.stringify(topText.slice(0, 20))} is not a number from 0 to ${MAX_TOP}`,
      );}
  }
  return { query: { rooms: rooms.length > 0 ? rooms : undefined, since, top }, problems };
}

/** One widget's stream: its latest totals, sent when they change. */
class TotalsStream extends EventStream {
  readonly #compute: () => TotalsEvent;
  readonly #problems: string[];
  #dirty = true;
  #statusSent = false;

  constructor(res: ServerResponse, compute: () => TotalsEvent, problems: string[]) {
    super(res);
    this.#compute = compute;
    this.#problems = problems;
  }

  /** The totals may have changed: they are sent at the next round. */
  changed(): void {
    this.#dirty = true;
  }

  /** A problem met after the stream began: the status is sent again, with it. */
  problem(text: string): void {
    this.#problems.push(text);
    this.#statusSent = false;
  }

  /** The status (once: the parameters' problems), then the totals when they changed. */
  produce(): string {
    let out = "";
    if (!this.#statusSent) {
      this.#statusSent = true;
      out += `data: ${JSON.stringify({ type: "status", rooms: [], problems: this.#problems })}\n\n`;
    }
    if (this.#dirty) {
      this.#dirty = false;
      out += `data: ${JSON.stringify(this.#compute())}\n\n`;
    }
    return out;
  }
}

/**
 * The ledger and the widgets' streams of one overlay server.
 *
 * @example
 * ```ts
 * import { TotalsHub } from "./totals.ts";
 * import { StreamSet } from "./streams.ts";
 *
 * const lifetime = new AbortController();
 * const streams = new StreamSet({ piece: 16384, maxQueued: 1 << 20, signal: lifetime.signal });
 * const hub = new TotalsHub({ streams, signal: lifetime.signal });
 * hub.record({ id: "1", type: "superchat", room: 1, time: Date.now(), user: { name: "Dee" }, text: "hi", price: 30, seconds: 60, tier: 2 });
 * console.log(hub.ledger.totals({ since: { kind: "stream" }, top: 1, now: Date.now() }).total); // 30
 * lifetime.abort();
 * ```
 */
export class TotalsHub {
  /** Every gift and super chat seen since the server started. */
  readonly ledger: GiftLedger;
  readonly #streams: StreamSet;
  readonly #signal: AbortSignal;
  readonly #starting: StartingTotals | undefined;
  readonly #refresh: number;
  readonly #open = new Set<TotalsStream>();
  #pending = false;
  /** When the widgets were last told of a change (performance.now()). */
  #told = -Infinity;

  /**
   * A hub with an empty ledger.
   *
   * @param options `streams`: the server's stream set; `signal`: its
   *   lifetime; `starting`: totals from before (the archive); `refresh`: ms
   *   between two updates of a widget (default 100); `start`: when the
   *   ledger starts (default now).
   */
  constructor(options: {
    streams: StreamSet;
    signal: AbortSignal;
    starting?: StartingTotals;
    refresh?: number;
    start?: number;
  }) {
    this.ledger = new GiftLedger(options.start !== undefined ? { start: options.start } : {});
    this.#streams = options.streams;
    this.#signal = options.signal;
    this.#starting = options.starting;
    this.#refresh = options.refresh ?? 100;
    // Windows (1h) and days move on by themselves: refresh every widget now and then.
    setRepeating(30_000, () => this.#changed(), options.signal);
  }

  /** How many widget streams are open. */
  get size(): number {
    return this.#open.size;
  }

  /** Counts a published event: gifts with a known value, super chats, go-live times. */
  record(event: LineEvent): void {
    if (event.type === "gift" && typeof event.gift.value === "number") {
      this.ledger.add({
        time: event.time,
        room: event.room,
        uid: event.user.uid ?? "",
        name: event.user.name,
        value: event.gift.value,
      });
    } else if (event.type === "superchat") {
      this.ledger.add({
        time: event.time,
        room: event.room,
        uid: event.user.uid ?? "",
        name: event.user.name,
        value: event.price,
      });
    } else if (event.type === "live" && event.state === "live") {
      this.ledger.wentLive(event.room, event.time);
    } else return;
    this.#changed();
  }

  /**
   * Every widget is told at once, or, when it was told less than `refresh`
   * ms ago, when that time is up: a flood of gifts costs one update a tenth
   * of a second, a single gift no wait.
   */
  #changed(): void {
    if (this.#pending || this.#open.size === 0) return;
    this.#pending = true;
    const wait = Math.max(0, this.#told + this.#refresh - performance.now());
    setTimer(wait, () => {
      this.#pending = false;
      this.#told = performance.now();
      for (const stream of this.#open) stream.changed();
      this.#streams.wake();
    }, this.#signal);
  }

  /**
   * Serves one `/totals` stream on `res` (its SSE head already written).
   *
   * @param res The response.
   * @param params The stream's query parameters.
   */
  open(res: ServerResponse, params: URLSearchParams): void {
    const { query, problems } = readTotalsQuery(params, Date.now());
    let base: GifterTotal[] = [];
    const stream = new TotalsStream(
      res,
      () => this.ledger.totals({ ...query, now: Date.now(), base }),
      problems,
    );
    this.#open.add(stream);
    // What is asked for this stream ends with it (or with the server).
    const ended = new AbortController();
    res.once("close", () => {
      this.#open.delete(stream);
      ended.abort();
    });
    this.#streams.add(stream, res);
    const starting = this.#starting;
    if (starting === undefined) return;
    const signal = AbortSignal.any([ended.signal, this.#signal]);
    // Totals from before the overlay started: asked once, added when they come.
    void (async () => {
      for (const room of query.rooms ?? []) {
        if (signal.aborted) return;
        const live = await starting.liveSince?.(room);
        if (live !== undefined && live < this.ledger.liveSince(room)) {
          this.ledger.wentLive(room, live);
        }
      }
      const since = this.ledger.totals({ ...query, top: 0, now: Date.now() }).since;
      if (since >= this.ledger.start || signal.aborted) return;
      base = await starting.load({ rooms: query.rooms, since, until: this.ledger.start, signal });
      stream.changed();
      this.#streams.wake();
    })().catch((error) => {
      if (signal.aborted) return;
      stream.problem(
        `starting totals: ${error instanceof Error ? error.message : String(error)}`,
      );
      this.#streams.wake();
    });
  }
}
