/**
 * The fair-share policy of a {@linkcode Collector}, as a pure function: from
 * what it knows of the cluster (the desired rooms, the live collectors, the
 * leases) and of itself (its rooms, its limits), what to stop, what to hand
 * over and what to claim. No NATS, no clock, no randomness of its own, so it
 * is tested without a server (`tests/nats_spread_test.ts`).
 *
 * @module
 */

/** One room a collector holds, as the policy sees it. */
export interface HeldRoom {
  /** The room id. */
  readonly room: number;
  /** When it claimed the room, ms (newest are handed over first). */
  readonly since: number;
  /** True while it is already letting the room go (its handover window). */
  readonly releasing: boolean;
}

/** What {@linkcode planSpread} decides from. */
export interface SpreadInput {
  /** The desired rooms (`douyu_rooms`). */
  readonly desired: ReadonlySet<number>;
  /** How many collectors are live, this one included (at least 1). */
  readonly live: number;
  /**
   * The limits (`maxRooms`) of the other live collectors, as far as known;
   * one not listed counts as unlimited. A collector capped below the even
   * share holds its limit, and the others share the rest.
   */
  readonly peerLimits?: readonly number[];
  /** Rooms with a lease, whoever holds it. */
  readonly leased: ReadonlySet<number>;
  /** The rooms this collector holds, releasing ones included. */
  readonly held: readonly HeldRoom[];
  /** Rooms this collector leaves to others until the given time (they failed here). */
  readonly cooling: ReadonlyMap<number, number>;
  /** Since when each room was seen free, from the previous plan. */
  readonly freeSince: ReadonlyMap<number, number>;
  /** The current time, ms, on the clock of `since`, `cooling` and `freeSince`. */
  readonly now: number;
  /** The most rooms this collector holds at once. */
  readonly maxRooms: number;
  /** A room free for this long is taken by anyone with room to spare, past its share. */
  readonly staleAfter: number;
  /**
   * True when another live collector is below its share (and its limit): it
   * takes the free rooms, so nobody goes past the share, unless a room stays
   * free for `stuckAfter` (that one is not taking them). Default false.
   */
  readonly othersBelowShare?: boolean;
  /** With `othersBelowShare`, free rooms are still taken past the share after this long. */
  readonly stuckAfter?: number;
  /** A random number in [0, 1), for the order of the rooms to claim. Default `Math.random`. */
  readonly random?: () => number;
}

/** What {@linkcode planSpread} decides. */
export interface SpreadPlan {
  /** Held rooms no longer desired: stop at once. */
  readonly remove: number[];
  /** Held rooms past the fair share: hand over (newest first). */
  readonly rebalance: number[];
  /** Free rooms, in the order to try them; claim at most `want` of them. */
  readonly claim: number[];
  /** How many rooms to claim. */
  readonly want: number;
  /** Since when each free room has been seen free: the next plan's `freeSince`. */
  readonly freeSince: Map<number, number>;
}

/**
 * Plans one round of claiming and spreading:
 *
 * - held rooms no longer desired are stopped;
 * - the fair share is the desired rooms divided by the live collectors,
 *   rounded up, at most `maxRooms` (see {@linkcode fairShare} for
 *   collectors of different limits); past it, the newest rooms are handed
 *   over (a newcomer gets its share), and nothing is claimed;
 * - below it, free rooms (desired, without a lease, not held, not cooling)
 *   are claimed up to the share and the free capacity;
 * - at or above it, rooms nobody took for `staleAfter` are still claimed with
 *   whatever capacity is left, once no other live collector is below its share
 *   (the others are full).
 *
 * @param input What the collector knows.
 * @returns What to do.
 *
 * @example A newcomer of three takes its third of 60 rooms
 * ```ts
 * import { planSpread } from "./spread.ts";
 *
 * const desired = new Set(Array.from({ length: 60 }, (_, i) => 1000 + i));
 * const plan = planSpread({
 *   desired,
 *   live: 3,
 *   leased: new Set([...desired].slice(0, 40)),
 *   held: [],
 *   cooling: new Map(),
 *   freeSince: new Map(),
 *   now: 0,
 *   maxRooms: 200,
 *   staleAfter: 3000,
 * });
 * console.log(plan.want, plan.claim.length); // 20 20
 * ```
 */
export function planSpread(input: SpreadInput): SpreadPlan {
  const { desired, now, maxRooms } = input;
  const remove: number[] = [];
  const kept: HeldRoom[] = [];
  for (const entry of input.held) {
    if (entry.releasing) continue;
    if (desired.has(entry.room)) kept.push(entry);
    else remove.push(entry.room);
  }
  const others = Array.from(
    { length: Math.max(0, input.live - 1) },
    (_, i) => input.peerLimits?.[i] ?? Infinity,
  );
  const share = Math.min(maxRooms, fairShare(desired.size, [maxRooms, ...others]));
  if (kept.length > share) {
    // A newcomer (or a smaller desired set): hand the excess over, newest first.
    const rebalance = [...kept].sort((a, b) => b.since - a.since)
      .slice(0, kept.length - share)
      .map((entry) => entry.room);
    return { remove, rebalance, claim: [], want: 0, freeSince: new Map(input.freeSince) };
  }
  const holding = new Set(input.held.map((entry) => entry.room));
  const free = [...desired].filter((room) =>
    !input.leased.has(room) && !holding.has(room) && !((input.cooling.get(room) ?? 0) > now)
  );
  const freeSince = new Map<number, number>();
  for (const room of free) freeSince.set(room, input.freeSince.get(room) ?? now);
  // Rooms in their handover still hold a connection: they count against the capacity.
  const capacity = maxRooms - input.held.length;
  let want = Math.min(share - kept.length, capacity);
  if (want <= 0) {
    // Rooms nobody took for a while (the others are full, or at their share, or stuck).
    const after = input.othersBelowShare === true ? input.stuckAfter ?? Infinity : input.staleAfter;
    const stale = free.filter((room) => now - freeSince.get(room)! >= after);
    want = Math.min(capacity, stale.length);
  }
  if (want <= 0 || free.length === 0) {
    return { remove, rebalance: [], claim: [], want: 0, freeSince };
  }
  shuffle(free, input.random ?? Math.random);
  return { remove, rebalance: [], claim: free, want, freeSince };
}

/**
 * The most rooms any collector holds when `rooms` are shared as evenly as
 * the collectors' `limits` allow: each holds the share or its limit,
 * whichever is less, and the share is the least that covers every room (or
 * `Infinity` when even all the limits together do not). Without it, a
 * collector above an even share would keep handing rooms over to one that
 * is full, and the rooms would go unwatched in each round.
 *
 * @param rooms How many rooms to share.
 * @param limits Each live collector's `maxRooms`.
 * @returns The share.
 *
 * @example Twenty rooms, a collector of 200 beside one of 5
 * ```ts
 * import { fairShare } from "./spread.ts";
 *
 * console.log(fairShare(20, [200, 5])); // 15
 * console.log(fairShare(20, [200, 200])); // 10
 * ```
 */
export function fairShare(rooms: number, limits: readonly number[]): number {
  const sorted = [...limits].sort((a, b) => a - b);
  let left = rooms;
  for (let i = 0; i < sorted.length; i++) {
    const even = Math.ceil(left / (sorted.length - i));
    if (sorted[i]! >= even) return even;
    left -= sorted[i]!;
  }
  return left <= 0 ? 0 : Infinity;
}

function shuffle<T>(items: T[], random: () => number): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}
