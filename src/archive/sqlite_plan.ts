/**
 * How a query reads a SQLite archive (see `sqlite.ts` for its tables): the
 * search index expression that drives it, when a user or a search asks for
 * one, and the check each candidate row must pass. Pure: `sqlite_read.ts`
 * runs what this decides.
 *
 * @module
 */

import type { RowKey, StoredColumns } from "./rows.ts";
import type { ArchiveQuery } from "./store.ts";
import { containsFolded, nameTerm, roomPrefix, searchTerms, userTerm } from "./terms.ts";

/**
 * Ids per millisecond of a day: a message's id is at least this many times
 * the milliseconds since its day began (`sqlite.ts` gives them out).
 */
export const ID_SCALE = 16;

/** The columns a query reads. */
export interface Row extends StoredColumns {
  id: number;
  uid: number | null;
  key: RowKey;
  block: number;
  pos: number;
}

/** The columns of {@linkcode Row}, as SQL (the messages table is `m`). */
export const COLUMNS =
  "m.id, m.room, m.t, m.uid, m.name, m.text, m.gift_name, m.gift_count, m.gift_value, m.key, " +
  "m.block, m.pos";

/** How a query reads each day: its SQL parts and the check of each candidate. */
export interface Plan {
  room: number;
  since: number;
  until: number;
  /** Type codes, or undefined for every type. */
  types: number[] | undefined;
  /** The search index expression, when the index drives the query. */
  match: string | undefined;
  /** Whether a candidate row is one the query asks for. */
  accept: (row: Row) => boolean;
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
      (user.uid !== undefined && row.uid === user.uid) ||
      (user.name !== undefined && row.name === user.name)
    );
  }
  if (query.search !== undefined) {
    const search = searchTerms(query.search, prefix);
    if (search !== undefined) {
      parts.push(...search.terms.map((term) => `"${term}"`));
      const needle = search.needle;
      checks.push((row) => row.text !== null && containsFolded(row.text, needle));
    }
  }
  return {
    room: query.room,
    since: query.since ?? -Number.MAX_SAFE_INTEGER,
    until: query.until ?? Number.MAX_SAFE_INTEGER,
    types,
    match: parts.length > 0 ? parts.join(" AND ") : undefined,
    accept: checks.length === 0
      ? () => true
      : checks.length === 1
      ? checks[0]!
      : (row) => checks.every((check) => check(row)),
  };
}
