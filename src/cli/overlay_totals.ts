/**
 * `douyu overlay --db TARGET`: the widgets' starting totals from the
 * archive, through the overlay's `StartingTotals` seam, so that a restart
 * of the overlay keeps its leaderboard and goal. Givers from the roll-ups,
 * to the millisecond (`Archive.gifters`); when the stream went live, from
 * the room's last `rss` messages.
 *
 * @module
 */

import type { Archive } from "../archive/archive.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import type { GifterTotal, StartingTotals } from "../overlay/ledger.ts";

/** How far back the going-live of the current stream is looked for. */
const LIVE_LOOKBACK = 2 * 86_400_000;
/** The last status messages read to find it. */
const LIVE_MESSAGES = 20;

/**
 * The starting totals of an archive.
 *
 * @param archive An open archive (read-only will do).
 * @param rooms The overlay's rooms, for widgets that name none.
 * @returns The seam the overlay's server takes (`startingTotals`).
 *
 * @example
 * ```ts ignore
 * import { Archive } from "../archive/archive.ts";
 * import { archiveTotals } from "./overlay_totals.ts";
 *
 * const archive = await Archive.open("rooms.db", { readOnly: true });
 * const totals = await archiveTotals(archive, () => [9999]).load({ rooms: [9999], since: 0, until: Date.now() });
 * console.log(totals[0]?.value);
 * ```
 */
export function archiveTotals(archive: Archive, rooms: () => Iterable<number>): StartingTotals {
  return {
    async load({ rooms: wanted, since, until, signal }) {
      const byGiver = new Map<string, GifterTotal>();
      for (const room of wanted ?? [...rooms()]) {
        signal?.throwIfAborted();
        for (const user of await archive.gifters(room, since, until)) {
          const uid = String(user.uid);
          const sum = byGiver.get(uid) ?? { uid, name: "", value: 0, gifts: 0 };
          if (user.name !== null) sum.name = sanitizeForTerminal(user.name).trim();
          // Fen summed, then yuan: no drift.
          sum.value = Math.round(sum.value * 100 + user.value) / 100;
          sum.gifts += user.gifts;
          byGiver.set(uid, sum);
        }
      }
      return [...byGiver.values()];
    },
    async liveSince(room) {
      const now = Date.now();
      let live: number | undefined;
      const query = { room, types: ["rss"], since: now - LIVE_LOOKBACK, limit: LIVE_MESSAGES };
      for await (const { t, message } of archive.query(query)) {
        const ss = (message as { ss?: unknown }).ss;
        if (ss === "1") live ??= t;
        else if (ss === "0") live = undefined;
      }
      return live;
    },
  };
}
