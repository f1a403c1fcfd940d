/**
 * Putting back in time order the rows a day's search index gives in id
 * order. A message's id stands for a time in its day (`ID_SCALE` ids a
 * millisecond, `sqlite.ts`), never one before the message's own, but it
 * can stand for a later one: when more than `ID_SCALE` messages share a
 * millisecond, or one comes late into a millisecond already full. So rows
 * read by id can come out of time order, and a query by user or search gave
 * them so (a limit could then pick the wrong ones).
 *
 * The writer keeps, per day, how far a time falls behind its id's at most
 * (`day_lags`). Reading by id, a row can be handed on once no row still
 * unread can come before it:
 *
 * - oldest first, after id `x`: no unread row is older than
 *   `(x + 1) / ID_SCALE` minus the lag (whole ms into the day);
 * - newest first, after id `x`: no unread row is newer than
 *   `(x - 1) / ID_SCALE`, lag or not.
 *
 * Messages written in time order have a lag of 0 or a few ms, so rows are
 * held a few ms at most. Pure: `sqlite_read.ts` runs it.
 *
 * @module
 */

import { COLUMN, ID_SCALE, type Row } from "./sqlite_plan.ts";

/**
 * A day's rows, read in id order by pages, handed on by pages in time order
 * (`(t, id)`, or the reverse when `newest`).
 *
 * @param pages The rows by pages, in id order (descending when `newest`).
 * @param dayStart The day's first ms since the epoch.
 * @param newest Newest first.
 * @param lag The day's lag (`Infinity`: none known, so the whole day is
 * read before its first row is handed on).
 *
 * @example
 * ```ts
 * import { inTimeOrder } from "./sqlite_order.ts";
 * import type { Row } from "./sqlite_plan.ts";
 *
 * const row = (id: number, t: number): Row =>
 *   [id, 1, t, null, null, null, null, null, null, null, 0, 0, null, null, null];
 * // Ids 16 and 17 both stand for ms 1; the row at ms 0 came late, after ms 0 was full.
 * const pages = [[row(16, 1), row(17, 0)]];
 * const ordered = [...inTimeOrder(pages, 0, false, 1)].flat().map((r) => r[0]);
 * console.log(ordered); // [ 17, 16 ]
 * ```
 */
export function* inTimeOrder(
  pages: Iterable<Row[]>,
  dayStart: number,
  newest: boolean,
  lag: number,
): Generator<Row[]> {
  /** Rows read and not yet handed on, in `(t, id)` order. */
  const held: Row[] = [];
  for (const page of pages) {
    if (page.length === 0) continue;
    for (const row of page) hold(held, row);
    const last = page[page.length - 1]![COLUMN.id];
    let ready: Row[];
    if (newest) {
      const newestUnread = dayStart + Math.floor((last - 1) / ID_SCALE);
      let from = held.length;
      while (from > 0 && held[from - 1]![COLUMN.t] >= newestUnread) from--;
      ready = held.splice(from).reverse();
    } else {
      const oldestUnread = dayStart + Math.floor((last + 1) / ID_SCALE) - lag;
      let to = 0;
      while (to < held.length && held[to]![COLUMN.t] <= oldestUnread) to++;
      ready = held.splice(0, to);
    }
    if (ready.length > 0) yield ready;
  }
  if (held.length > 0) yield newest ? held.reverse() : held;
}

/** Puts `row` in its `(t, id)` place: usually the end, as rows mostly come in order. */
function hold(held: Row[], row: Row): void {
  if (held.length === 0 || !before(row, held[held.length - 1]!)) {
    held.push(row);
    return;
  }
  let low = 0;
  let high = held.length - 1;
  while (low < high) {
    const middle = (low + high) >>> 1;
    if (before(row, held[middle]!)) high = middle;
    else low = middle + 1;
  }
  held.splice(low, 0, row);
}

function before(a: Row, b: Row): boolean {
  const dt = a[COLUMN.t] - b[COLUMN.t];
  return dt < 0 || (dt === 0 && a[COLUMN.id] < b[COLUMN.id]);
}
