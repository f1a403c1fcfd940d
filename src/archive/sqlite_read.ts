/**
 * Reading a SQLite archive (see `sqlite.ts` for its tables): a room's
 * messages by time, type, user and text, newest first when a limit asks
 * for the last ones, and its status changes.
 *
 * A query runs day by day, driven by the index `sqlite_plan.ts` picks
 * (the search index for a user or a search, else the `(room, t)` index),
 * newest first when needed; each candidate is checked against the query
 * (the search index only narrows). Whole messages come from their blocks,
 * each inflated once per query while it is needed.
 *
 * Rows are read by pages (`all()` with a `LIMIT`), not one at a time:
 * stepping a `node:sqlite` cursor costs about twice as much per row in
 * Deno as taking the same rows in pages of a few hundred. Each page starts
 * after the last row read; the search index, whose every run reads its
 * terms' lists again, gives its first page that way and the rest through
 * one cursor.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { BlockLines } from "./blocks.ts";
import { BRIEF_TYPES, briefItem, type BriefType } from "./brief.ts";
import { DAY_MS, dayFromName, dayName } from "./days.ts";
import { fromRow } from "./rows.ts";
import { returnArrays } from "./sqlite_chunks.ts";
import { tablesWithoutCol } from "./sqlite_tables.ts";
import { COLUMN, dayPages, type Plan, planQuery, type Row } from "./sqlite_plan.ts";
import { inTimeOrder } from "./sqlite_order.ts";
import type { ArchiveQuery } from "./store.ts";
import type { TimedMessage, TimedStatus } from "./timed.ts";
import { REVENUE_TYPES } from "./rollup.ts";
import {
  edgeRanges,
  type GiftSum,
  MINUTE_MS,
  type MinuteRow,
  type RangeRollups,
  RollupSums,
  type UserSum,
  wholeHours,
} from "./stats.ts";

/** Blocks kept inflated during one query. */
const BLOCK_CACHE = 16;
/**
 * Rows of a day's first page when no limit sizes it, and of each page the
 * search index's cursor hands out; each next page of the time index takes
 * four times as many, up to {@linkcode PAGE_MOST}.
 */
const PAGE_FIRST = 256;
/** The most rows of one page (a limit above it is read in several). */
const PAGE_MOST = 4096;
/** The fewest rows of a first page whose rows are checked (some may not match). */
const PAGE_CHECKED = 64;
/** A day's lag (ms) past which rows held for their time order are read without their blocks. */
const HELD_WITH_BLOCKS = 60_000;

/** Reads one archive file. */
export class SqliteReader {
  readonly #db: DatabaseSync;
  readonly #listDays: () => number[];
  readonly #schemaVersion: StatementSync;
  #version = -1;
  #dayList: number[] = [];
  /** The days whose table has no `col` column (`sqlite_tables.ts`), listed with the days. */
  #withoutCol = new Set<number>();
  /** Statements not in use, by SQL: a query takes one, and gives it back when it ends. */
  readonly #idle = new Map<string, StatementSync[]>();
  /** Statements run whole (`get`, `all`), never left half-read, by SQL. */
  readonly #single = new Map<string, StatementSync>();

  /**
   * @param db The open database.
   * @param days Lists the days that have tables, oldest first.
   */
  constructor(db: DatabaseSync, days: () => number[]) {
    this.#db = db;
    this.#listDays = days;
    this.#schemaVersion = db.prepare("PRAGMA schema_version");
  }

  /** The days that have tables, listed again only when the schema changed (a day added or dropped). */
  #days(): number[] {
    const version = (this.#schemaVersion.get() as { schema_version: number }).schema_version;
    if (version !== this.#version) {
      this.#dayList = this.#listDays();
      this.#withoutCol = new Set(
        tablesWithoutCol(this.#db).flatMap((name) => dayFromName(name.slice(2)) ?? []),
      );
      this.#version = version;
    }
    return this.#dayList;
  }

  /** Messages matching `query`, oldest first (the newest `limit`, when it is set). */
  async *query(query: ArchiveQuery): AsyncGenerator<TimedMessage> {
    const plan = this.#plan(query);
    if (plan === undefined) return;
    const days = this.#days().filter((day) =>
      (day + 1) * DAY_MS > plan.since && day * DAY_MS < plan.until
    );
    const blocks = new BlockCache((sql) => this.#get(sql));
    const brief = plan.brief ? this.#briefTypes() : undefined;
    const item = (row: Row, day: number) => {
      // A type first stored after the query began (no code known) is read whole.
      const type = brief === undefined || row[COLUMN.col] === null
        ? undefined
        : brief.get(row[COLUMN.type]!);
      return type === undefined ? wholeItem(row, day, blocks) : briefOf(row, type);
    };
    const limit = query.limit;
    // The search index gives rows in id order: put back in time order (`sqlite_order.ts`).
    const lags = plan.match === undefined ? undefined : this.#lags(days);
    const ordered = (day: number, newest: boolean, first: number) => {
      const lag = lags?.get(day) ?? Infinity;
      // A day held whole (no lag known) does not hold every row's block as well.
      // A brief query reads most rows without their blocks.
      const withBlocks = !newest && lag < HELD_WITH_BLOCKS && !plan.brief;
      const pages = this.#pages(day, plan, newest, first, withBlocks);
      return lags === undefined ? pages : inTimeOrder(pages, day * DAY_MS, newest, lag);
    };
    if (limit === undefined) {
      for (const day of days) {
        for (const page of ordered(day, false, PAGE_FIRST)) {
          for (const row of page) if (plan.accept(row)) yield item(row, day);
        }
      }
      return;
    }
    // The newest `limit`, found newest first, handed out oldest first.
    const picked: { row: Row; day: number }[] = [];
    for (let i = days.length - 1; i >= 0 && picked.length < limit; i--) {
      const day = days[i]!;
      const wanted = limit - picked.length;
      const first = plan.checked ? Math.max(wanted, PAGE_CHECKED) : wanted;
      pages: for (const page of ordered(day, true, first)) {
        for (const row of page) {
          if (!plan.accept(row)) continue;
          picked.push({ row, day });
          if (picked.length >= limit) break pages;
        }
      }
    }
    for (let i = picked.length - 1; i >= 0; i--) {
      yield item(picked[i]!.row, picked[i]!.day);
    }
  }

  /**
   * The lags of `days` (`sqlite_order.ts`); a day without one (made by an
   * earlier version, or a file without the table) has none.
   */
  #lags(days: readonly number[]): Map<number, number> {
    const lags = new Map<number, number>();
    if (days.length === 0) return lags;
    let rows: unknown[];
    try {
      rows = this.#get("SELECT day, lag FROM day_lags WHERE day BETWEEN ? AND ?")
        .all(days[0]!, days[days.length - 1]!);
    } catch {
      return lags; // a file made before the table, read only
    }
    for (const row of rows as { day: number; lag: number }[]) lags.set(row.day, row.lag);
    return lags;
  }

  /** A room's status changes in `[since, until)`, oldest first. */
  async *statuses(
    room: number,
    since = -Number.MAX_SAFE_INTEGER,
    until = Number.MAX_SAFE_INTEGER,
  ): AsyncGenerator<TimedStatus> {
    const statement =
      "SELECT t, status, detail FROM statuses WHERE room = ? AND t >= ? AND t < ? ORDER BY t";
    for (const row of this.#iterate(statement, [room, since, until])) {
      const { t, status, detail } = row as { t: number; status: string; detail: string | null };
      yield detail === null ? { t, room, status } : { t, room, status, detail };
    }
  }

  /**
   * A room's roll-ups over `[since, until)` (whole minutes): the minutes,
   * the gifts summed by kind, and the users: summed over the whole hours
   * inside the range from the users table, and over the partial hours at its
   * edges from the messages' columns (an index range, no block inflated).
   */
  rollups(room: number, since: number, until: number): RangeRollups {
    const minuteFrom = Math.floor(since / MINUTE_MS);
    const minuteTo = Math.ceil(until / MINUTE_MS);
    const [hourFrom, hourTo] = wholeHours(since, until);
    const edges = edgeRanges(since, until);
    const codes = this.#typeCodes();
    const chat = codes.get("chatmsg") ?? -1;
    const revenue = [...REVENUE_TYPES].map((type) => codes.get(type) ?? -1).join(", ");
    const sums = new RollupSums();
    for (const day of this.#days()) {
      if ((day + 1) * DAY_MS <= since || day * DAY_MS >= until) continue;
      const suffix = dayName(day);
      for (
        const row of this.#iterate(
          `SELECT minute, type, messages, items, value, unpriced FROM minutes_${suffix}
            WHERE room = ? AND minute >= ? AND minute < ?`,
          [room, minuteFrom, minuteTo],
        )
      ) sums.minute(row as MinuteRow);
      for (
        const row of this.#iterate(
          `SELECT gift, max(name) AS name, sum(items) AS items, sum(value) AS value
            FROM gifts_${suffix} WHERE room = ? AND minute >= ? AND minute < ? GROUP BY gift`,
          [room, minuteFrom, minuteTo],
        )
      ) sums.gift(row as GiftSum);
      // The name of the latest hour (a bare column beside max() comes from its row).
      if (hourTo > hourFrom) {
        for (
          const row of this.#iterate(
            `SELECT uid, name, max(hour) AS hour, sum(chats) AS chats, sum(gifts) AS gifts,
              sum(value) AS value FROM users_${suffix}
              WHERE room = ? AND hour >= ? AND hour < ? GROUP BY uid`,
            [room, hourFrom, hourTo],
          )
        ) sums.user(row as UserSum);
      }
      for (const [from, to] of edges) {
        if ((day + 1) * DAY_MS <= from || day * DAY_MS >= to) continue;
        // As rollup.ts counts them: chats, and revenue messages that carry a gift.
        for (
          const row of this.#iterate(
            `SELECT uid, name, max(t) AS t, sum(type = ${chat}) AS chats,
              sum(type IN (${revenue}) AND gift_count IS NOT NULL) AS gifts,
              sum(CASE WHEN type IN (${revenue}) AND gift_count IS NOT NULL
                THEN coalesce(gift_value, 0) ELSE 0 END) AS value
              FROM m_${suffix} WHERE room = ? AND t >= ? AND t < ? AND uid IS NOT NULL
              AND type IN (${chat}, ${revenue}) GROUP BY uid`,
            [room, from, to],
          )
        ) {
          const user = row as UserSum;
          if (user.chats > 0 || user.gifts > 0) sums.user(user);
        }
      }
    }
    return sums.result();
  }

  /** Forgets the statements (they go with the database). */
  close(): void {
    this.#idle.clear();
    this.#single.clear();
  }

  #plan(query: ArchiveQuery): Plan | undefined {
    // The codes matter only to a query by types.
    return planQuery(query, query.types === undefined ? new Map() : this.#typeCodes());
  }

  /** The brief types (`brief.ts`) by their codes in this archive. */
  #briefTypes(): Map<number, BriefType> {
    const codes = this.#typeCodes();
    const types = new Map<number, BriefType>();
    for (const type of BRIEF_TYPES) {
      const code = codes.get(type);
      if (code !== undefined) types.set(code, type);
    }
    return types;
  }

  /** The archive's type codes, by name. */
  #typeCodes(): Map<string, number> {
    const codes = new Map<string, number>();
    for (const row of this.#iterate("SELECT code, name FROM types", [])) {
      const { code, name } = row as { code: number; name: string };
      codes.set(name, code);
    }
    return codes;
  }

  /**
   * A day's candidate rows, in time order (newest first when `newest`), by
   * pages: the first of `first` rows (at most {@linkcode PAGE_MOST}). Pages,
   * not rows, are handed out: a generator's step per row costs as much as
   * reading the row. With `withBlocks`, rows the search index finds come
   * with their blocks (see {@linkcode dayPages}).
   */
  *#pages(
    day: number,
    plan: Plan,
    newest: boolean,
    first: number,
    withBlocks = false,
  ): Generator<Row[]> {
    const hasCol = !this.#withoutCol.has(day);
    const pages = dayPages(plan, day, dayName(day), newest, withBlocks, hasCol);
    const page = this.#get(pages.sql, true);
    let size = Math.min(Math.max(1, first), PAGE_MOST);
    let { t, id } = pages.start;
    for (;;) {
      const values = pages.byTime ? [...pages.values, t, id, size] : [...pages.values, id, size];
      const rows = page.all(...values) as unknown as Row[];
      yield rows;
      if (rows.length < size) return;
      const last = rows[rows.length - 1]!;
      t = last[COLUMN.t];
      id = last[COLUMN.id];
      if (!pages.byTime) break;
      size = Math.min(size * 4, PAGE_MOST);
    }
    // More from the search index: the rest through one cursor (LIMIT -1: no limit), which
    // reads the terms' lists once.
    let more: Row[] = [];
    for (const row of this.#iterate(pages.sql, [...pages.values, id, -1], true) as Iterable<Row>) {
      more.push(row);
      if (more.length === PAGE_FIRST) {
        yield more;
        more = [];
      }
    }
    if (more.length > 0) yield more;
  }

  /**
   * The rows of a statement, read with a statement of its own while they are
   * read (two queries may read at once), given back for the next query at
   * the end or when the reader stops early.
   */
  *#iterate(sql: string, values: readonly (string | number)[], arrays = false): Generator<unknown> {
    const name = arrays ? `[] ${sql}` : sql;
    const idle = this.#idle.get(name);
    const statement = idle?.pop() ?? this.#prepare(sql, arrays);
    try {
      yield* statement.iterate(...values);
    } finally {
      if (idle === undefined) this.#idle.set(name, [statement]);
      else idle.push(statement);
    }
  }

  /**
   * A statement run whole (`get`, `all`), never left half-read: one per SQL
   * is enough. With `arrays`, its rows are arrays.
   */
  #get(sql: string, arrays = false): StatementSync {
    const name = arrays ? `[] ${sql}` : sql;
    let statement = this.#single.get(name);
    if (statement === undefined) {
      statement = this.#prepare(sql, arrays);
      this.#single.set(name, statement);
    }
    return statement;
  }

  #prepare(sql: string, arrays: boolean): StatementSync {
    const statement = this.#db.prepare(sql);
    return arrays ? returnArrays(statement) : statement;
  }
}

/** A brief row (its `col` set) of a brief type as its brief item. */
function briefOf(row: Row, type: BriefType): TimedMessage {
  return briefItem(type, {
    room: row[COLUMN.room],
    t: row[COLUMN.t],
    uid: row[COLUMN.uid]!,
    name: row[COLUMN.name],
    text: row[COLUMN.text],
    col: row[COLUMN.col]!,
    giftId: row[COLUMN.giftId],
    giftName: row[COLUMN.giftName],
    giftCount: row[COLUMN.giftCount],
    giftValue: row[COLUMN.giftValue],
  });
}

/** A row as the item it stored. */
function wholeItem(row: Row, day: number, blocks: BlockCache): TimedMessage {
  return fromRow({
    room: row[COLUMN.room],
    t: row[COLUMN.t],
    name: row[COLUMN.name],
    text: row[COLUMN.text],
    giftName: row[COLUMN.giftName],
    giftCount: row[COLUMN.giftCount],
    giftValue: row[COLUMN.giftValue],
    key: row[COLUMN.key],
    json: blocks.line(day, row[COLUMN.block], row[COLUMN.pos], row[COLUMN.data]),
  });
}

/** The blocks a query reads, inflated once while they are in use. */
class BlockCache {
  readonly #statement: (sql: string) => StatementSync;
  /** By day and block id (ids are below 2^32 per day). */
  readonly #blocks = new Map<number, BlockLines | null>();
  /** Each day's block statement. */
  readonly #statements = new Map<number, StatementSync>();

  /** @param statement A (shared) statement for SQL run with `get`. */
  constructor(statement: (sql: string) => StatementSync) {
    this.#statement = statement;
  }

  /**
   * The JSON line at `pos` of a block.
   *
   * @param data The block, when it was read with the row (null: there is none).
   */
  line(day: number, block: number, pos: number, data?: Uint8Array | null): string {
    const key = day * 2 ** 32 + block;
    let lines = this.#blocks.get(key);
    if (lines === undefined) {
      if (data === undefined) {
        let statement = this.#statements.get(day);
        if (statement === undefined) {
          statement = this.#statement(`SELECT data FROM b_${dayName(day)} WHERE id = ?`);
          this.#statements.set(day, statement);
        }
        data = (statement.get(block) as { data: Uint8Array } | undefined)?.data ?? null;
      }
      lines = data === null ? null : new BlockLines(data);
      if (this.#blocks.size >= BLOCK_CACHE) {
        this.#blocks.delete(this.#blocks.keys().next().value!);
      }
      this.#blocks.set(key, lines);
    }
    const line = lines?.at(pos);
    // A block always holds its rows' lines; a row without one is a damaged file.
    if (line === undefined) throw new RangeError(`block ${block} of day ${day} has no line ${pos}`);
    return line;
  }
}
