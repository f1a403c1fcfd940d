/**
 * How a query reads a SQLite archive (see `sqlite.ts` for its tables): for
 * each day, which index drives it, the SQL of its pages, and the check each
 * candidate row must pass. Pure: `sqlite_read.ts` runs what this decides.
 *
 * | the query asks for | driven by | candidates checked for |
 * | --- | --- | --- |
 * | a user (id or name), a search, or both | the search index (`f_…`): the user's term, the search's pairs | the user, the search |
 * | neither | the `(room, t)` index | — |
 *
 * Both read pages in time order (the search index in the order of ids,
 * which follow time: `sqlite.ts`), each page starting after the last row
 * read: a page costs one index seek, whatever came before it.
 *
 * @module
 */

import { DAY_MS } from "./days.ts";
import type { RowKey } from "./rows.ts";
import type { ArchiveQuery } from "./store.ts";
import { containsFolded, nameTerm, roomPrefix, searchTerms, userTerm } from "./terms.ts";

/**
 * Ids per millisecond of a day: a message's id is at least this many times
 * the milliseconds since its day began (`sqlite.ts` gives them out).
 */
export const ID_SCALE = 16;

/**
 * The columns a query reads, as an array: `node:sqlite` hands out a row as
 * an array faster than as an object (2.5 against 3.4 µs a row, measured
 * over a million-message day). {@linkcode COLUMN} names the places.
 */
export type Row = [
  id: number,
  room: number,
  t: number,
  uid: number | null,
  name: string | null,
  text: string | null,
  giftName: string | null,
  giftCount: number | null,
  giftValue: number | null,
  key: RowKey,
  block: number,
  pos: number,
  type: number | null,
  col: string | null,
  giftId: string | null,
  data?: Uint8Array | null,
];

/** The place of each column in a {@linkcode Row}. */
export const COLUMN = {
  id: 0,
  room: 1,
  t: 2,
  uid: 3,
  name: 4,
  text: 5,
  giftName: 6,
  giftCount: 7,
  giftValue: 8,
  key: 9,
  block: 10,
  pos: 11,
  /** The type's code, read only by a brief query (else null). */
  type: 12,
  /** Whether the row is brief, and a chat's colour (`brief.ts`), read only by a brief query. */
  col: 13,
  /** The gift's id, read only by a brief query. */
  giftId: 14,
  /**
   * The row's whole block, read with it when {@linkcode dayPages} is asked
   * to; null when it has none.
   */
  data: 15,
} as const;

/** The first columns of {@linkcode Row}, as SQL (the messages table is `m`). */
const HEAD = "m.id, m.room, m.t, m.uid, m.name, m.text, m.gift_name, m.gift_count, m.gift_value";
/** The columns of {@linkcode Row}, in its order. */
const COLUMNS = `${HEAD}, m.key, m.block, m.pos, NULL, NULL, NULL`;
/**
 * The same for a brief query. A brief row's key is never read: left out, it
 * costs no buffer (reading a million rows took 0.7-0.9x the time).
 */
const BRIEF_COLUMNS =
  `${HEAD}, CASE WHEN m.col IS NULL THEN m.key END, m.block, m.pos, m.type, m.col, m.gift`;

/** How a query reads each day: what drives it, and the check of each candidate. */
export interface Plan {
  room: number;
  since: number;
  until: number;
  /** Type codes, or undefined for every type. */
  types: number[] | undefined;
  /** The search index expression, when a user or a search drives the query. */
  match: string | undefined;
  /** Whether a candidate row is one the query asks for. */
  accept: (row: Row) => boolean;
  /** Whether `accept` may refuse a row (a user or a search to check). */
  checked: boolean;
  /** Whether rows are read with their type and `col` (the query is brief). */
  brief: boolean;
}

/**
 * The plan of a query, or `undefined` when it can match nothing (it asks
 * only for types never stored).
 *
 * @param query The query.
 * @param codes The type codes of the archive, by name (needed only when the query has types).
 *
 * @example
 * ```ts
 * import { planQuery } from "./sqlite_plan.ts";
 *
 * const plan = planQuery({ room: 1, search: "主播" }, new Map());
 * console.log(plan?.match); // '"1x4e3by64ad"'
 * ```
 */
export function planQuery(
  query: ArchiveQuery,
  codes: ReadonlyMap<string, number>,
): Plan | undefined {
  let types: number[] | undefined;
  if (query.types !== undefined) {
    types = query.types.flatMap((type) => codes.has(type) ? [codes.get(type)!] : []);
    if (types.length === 0) return undefined;
  }
  const prefix = roomPrefix(query.room);
  const parts: string[] = [];
  const checks: ((row: Row) => boolean)[] = [];
  const user = query.user;
  if (user !== undefined && (user.uid !== undefined || user.name !== undefined)) {
    const either: string[] = [];
    if (user.uid !== undefined) either.push(`"${userTerm(prefix, user.uid)}"`);
    if (user.name !== undefined) either.push(`"${nameTerm(prefix, user.name)}"`);
    parts.push(either.length === 1 ? either[0]! : `(${either.join(" OR ")})`);
    // A name's term is a hash: the name itself decides.
    checks.push((row) =>
      (user.uid !== undefined && row[COLUMN.uid] === user.uid) ||
      (user.name !== undefined && row[COLUMN.name] === user.name)
    );
  }
  if (query.search !== undefined) {
    const search = searchTerms(query.search, prefix);
    if (search !== undefined) {
      parts.push(...search.terms.map((term) => `"${term}"`));
      const needle = search.needle;
      checks.push((row) => {
        const text = row[COLUMN.text];
        return text !== null && containsFolded(text, needle);
      });
    } else {
      // An empty search is what `text LIKE '%%'` finds: every message with a text.
      checks.push((row) => row[COLUMN.text] !== null);
    }
  }
  return {
    room: query.room,
    since: query.since ?? -Number.MAX_SAFE_INTEGER,
    until: query.until ?? Number.MAX_SAFE_INTEGER,
    types,
    match: parts.length > 0 ? parts.join(" AND ") : undefined,
    checked: checks.length > 0,
    brief: query.brief === true,
    accept: checks.length === 0
      ? () => true
      : checks.length === 1
      ? checks[0]!
      : (row) => checks.every((check) => check(row)),
  };
}

/**
 * One day's pages: the SQL, whose last parameters are where a page starts
 * (after this `(t, id)`, or after this id) and how many rows it takes, and
 * the values before them.
 */
export interface DayPages {
  /** The SQL of a page, in time order (newest first when asked). */
  sql: string;
  /** The values of its parameters before the page's own. */
  values: (string | number)[];
  /** Whether a page starts after a `(t, id)` (the time index), or after an id (the search index). */
  byTime: boolean;
  /** Where the first page starts: before every row, in the order read. */
  start: { t: number; id: number };
}

/**
 * How to read one day of a plan.
 *
 * @param plan The plan.
 * @param day The day (days since the epoch).
 * @param suffix Its tables' suffix (`dayName(day)`).
 * @param newest Newest first.
 * @param withBlocks Each row with its block ({@linkcode COLUMN.data}), when
 * the search index drives the query: the rows it finds lie in blocks of their
 * own, and reading each block in its row's statement took 0.6x the time of a
 * statement more per row (a user's month, measured). A query for the newest
 * few reads more candidates than it keeps, and reads its blocks afterwards.
 * @param hasCol Whether the day's table has the `col` column (a file made
 * before it came has days without).
 *
 * @example
 * ```ts
 * import { dayPages, planQuery } from "./sqlite_plan.ts";
 *
 * const plan = planQuery({ room: 1, limit: 100 }, new Map())!;
 * const pages = dayPages(plan, 19844, "20240501", true);
 * console.log(pages.byTime, pages.start.id); // true -1
 * ```
 */
export function dayPages(
  plan: Plan,
  day: number,
  suffix: string,
  newest: boolean,
  withBlocks = false,
  hasCol = true,
): DayPages {
  const columns = plan.brief && hasCol ? BRIEF_COLUMNS : COLUMNS;
  const order = newest ? "DESC" : "ASC";
  const after = newest ? "<" : ">";
  const types = plan.types === undefined ? "" : ` AND m.type IN (${plan.types.join(", ")})`;
  if (plan.match === undefined) {
    // The page's start is the range's other bound: (since, -1) is before the first row and
    // (until, -1) after the last (ids are never negative). A second bound on the same side
    // (m.t >= since beside it) could make the index seek to it and scan every page again.
    return {
      sql: `SELECT ${columns} FROM m_${suffix} AS m WHERE m.room = ?` +
        ` AND m.t ${newest ? ">=" : "<"} ?${types} AND (m.t, m.id) ${after} (?, ?)` +
        ` ORDER BY m.t ${order}, m.id ${order} LIMIT ?`,
      values: [plan.room, newest ? plan.since : plan.until],
      byTime: true,
      start: { t: newest ? plan.until : plan.since, id: -1 },
    };
  }
  // An id is never below 16 × its time in the day: a lower bound of the index's range.
  // FTS5 narrows by rowid only with INTEGER values (node:sqlite binds numbers as REAL: hence
  // the CASTs), and by one bound on each side. CROSS JOIN keeps the search index outside:
  // never a walk of the room's rows probing it.
  const lowest = Math.max(0, (plan.since - day * DAY_MS) * ID_SCALE);
  return {
    sql: `SELECT ${columns}${withBlocks ? ", b.data" : ""} FROM f_${suffix} AS f` +
      ` CROSS JOIN m_${suffix} AS m ON m.id = f.rowid` +
      (withBlocks ? ` LEFT JOIN b_${suffix} AS b ON b.id = m.block` : "") +
      ` WHERE f_${suffix} MATCH ?${newest ? " AND f.rowid >= CAST(? AS INTEGER)" : ""}` +
      ` AND m.room = ? AND m.t >= ? AND m.t < ?${types}` +
      ` AND f.rowid ${after} CAST(? AS INTEGER) ORDER BY f.rowid ${order} LIMIT ?`,
    values: newest
      ? [plan.match, lowest, plan.room, plan.since, plan.until]
      : [plan.match, plan.room, plan.since, plan.until],
    byTime: false,
    start: { t: 0, id: newest ? Number.MAX_SAFE_INTEGER : lowest - 1 },
  };
}
