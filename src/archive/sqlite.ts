/**
 * The SQLite archive, through `node:sqlite` (built into Deno 2.2+, Bun 1.4+
 * and Node 22.13+): one file, in WAL mode, with one set of tables per UTC
 * day (`YYYYMMDD` below):
 *
 * | table | holds |
 * | --- | --- |
 * | `m_YYYYMMDD` | one row per message: room, time, type, sender, text, gift and value, key, block |
 * | `b_YYYYMMDD` | the messages' JSON, deflated in blocks of one room (`blocks.ts`) |
 * | `f_YYYYMMDD` | the search index (FTS5, contentless, no positions): `terms.ts` |
 * | `minutes_…`, `users_…`, `gifts_…` | the roll-ups (`rollup.ts`) |
 *
 * plus `types` (type names by code), `statuses` (connection changes),
 * `day_lags` (below) and `archive_info`.
 *
 * A message's id stands for its arrival time: it is 16 × the milliseconds
 * since its day began, or one more than the last id when several arrive in
 * one millisecond, or the first free one past its time when it comes late.
 * So the search index, which hands out ids in order, hands out messages
 * nearly in time order: an id never stands for a time before its
 * message's, and `day_lags` keeps, per day, how far after it can stand
 * (`sqlite_order.ts` puts rows back in order within that).
 *
 * This file writes; `sqlite_read.ts` reads.
 *
 * @module
 */

import type { DatabaseSync, StatementSync } from "node:sqlite";
import { errorText } from "../base/errors.ts";
import { ArchiveError } from "./errors.ts";
import { OpenBlock, packBlock } from "./blocks.ts";
import { DAY_MS, dayName, dayOf } from "./days.ts";
import { Rollup } from "./rollup.ts";
import { columnText, hexInto, isHexKey, type MessageRow } from "./rows.ts";
import { ChunkedInsert } from "./sqlite_chunks.ts";
import { ID_SCALE } from "./sqlite_plan.ts";
import { SqliteReader } from "./sqlite_read.ts";
import type { RangeRollups } from "./stats.ts";
import { checkSchema, dayTables, dropTables, listDays, setUp } from "./sqlite_tables.ts";
import type { ArchiveQuery, Store, WriteOutcome } from "./store.ts";
import { nameTerm, roomPrefix, textTerms, userTerm } from "./terms.ts";
import type { TimedMessage, TimedStatus } from "./timed.ts";

type SqliteModule = typeof import("node:sqlite");

/**
 * `node:sqlite`, or an {@linkcode ArchiveError} that says which runtimes
 * have it.
 */
export async function loadSqlite(): Promise<SqliteModule> {
  try {
    return await import("node:sqlite");
  } catch (error) {
    const node = (globalThis as { process?: { versions?: { node?: string } } }).process?.versions
      ?.node;
    throw new ArchiveError(
      "SQLite archives need node:sqlite, built into Deno 2.2+, Bun 1.4+ and Node 22.13+" +
        (node !== undefined
          ? `; this is Node ${node}, which has none (use Node 22.13 or later)`
          : "") +
        "; a postgres:// archive works without it",
      { cause: error },
    );
  }
}

/** The tables of one day, their statements, and the blocks being filled. */
interface Day {
  day: number;
  suffix: string;
  start: number;
  /** The highest id stored, and the time of that message. */
  lastId: number;
  lastT: number;
  /** Its row of `day_lags` (undefined: none, a day of an earlier version). */
  lag: number | undefined;
  raiseLag: StatementSync;
  /** Rows in by 64, returning the ids stored. */
  insert: ChunkedInsert;
  /** One row, for an id taken by another writer. */
  insertOne: StatementSync;
  keyExists: StatementSync;
  terms: ChunkedInsert;
  reserveBlock: StatementSync;
  updateBlock: StatementSync;
  minutes: ChunkedInsert;
  users: ChunkedInsert;
  gifts: ChunkedInsert;
  /** The open block of each room. */
  blocks: Map<number, OpenBlock>;
  /** One step of merging its search index into one segment. */
  merge: StatementSync;
  /** Whether its search index was merged into one segment, once the writer moved past it. */
  merged: boolean;
}

/**
 * Pages of search index written by one step of merging a past day's index,
 * at the start of each commit, so that a commit never waits long: on a
 * loaded 2-core machine, a step of 50 took 12 ms on average and 32 at most;
 * one of 200 took up to 600 ms.
 */
const MERGE_PAGES = 50;

/** The most of the file read through a memory map (SQLite lowers it to its build's limit). */
const MMAP_BYTES = 2 ** 31;

/** Options of {@linkcode SqliteStore.open}. */
export interface SqliteOptions {
  /** Open for reading only (`douyu logs`): nothing is created or written. */
  readOnly?: boolean;
}

/** The archive in a SQLite file. */
export class SqliteStore implements Store {
  readonly engine = "sqlite" as const;
  readonly strips = true;
  readonly #db: DatabaseSync;
  readonly #path: string;
  readonly #reader: SqliteReader;
  readonly #days = new Map<number, Day>();
  readonly #types = new Map<string, number>();
  readonly #typeCode: StatementSync | undefined;
  readonly #addType: StatementSync | undefined;
  readonly #addStatus: StatementSync | undefined;
  readonly #totalChanges: StatementSync | undefined;
  #lagOf: StatementSync | undefined;
  #closed = false;

  private constructor(db: DatabaseSync, path: string, reader: SqliteReader, readOnly: boolean) {
    this.#db = db;
    this.#path = path;
    this.#reader = reader;
    if (!readOnly) {
      this.#typeCode = db.prepare("SELECT code FROM types WHERE name = ?");
      this.#addType = db.prepare("INSERT OR IGNORE INTO types (name) VALUES (?)");
      this.#addStatus = db.prepare(
        "INSERT INTO statuses (room, t, status, detail) VALUES (?, ?, ?, ?)",
      );
      this.#totalChanges = db.prepare("SELECT total_changes() AS n");
    }
  }

  /**
   * Opens (or creates) an archive file.
   *
   * @throws {ArchiveError} The runtime has no `node:sqlite`, the file
   * cannot be opened, or it is another kind of database.
   */
  static async open(path: string, options: SqliteOptions = {}): Promise<SqliteStore> {
    const { DatabaseSync } = await loadSqlite();
    const readOnly = options.readOnly ?? false;
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path, { readOnly });
      db.exec("PRAGMA busy_timeout = 10000");
      // Pages read through a memory map, not a read() each: a user's month of a 10-million
      // message archive (a random page or two per message) took 0.9x the time, measured.
      // SQLite lowers it to the most its build allows (2 GiB in Deno 2.9 and Bun 1.4 on Linux).
      db.exec(`PRAGMA mmap_size = ${MMAP_BYTES}`);
      if (!readOnly) setUp(db, path);
      else checkSchema(db, path);
      const reader = new SqliteReader(db, () => listDays(db!));
      return new SqliteStore(db, path, reader, readOnly);
    } catch (error) {
      try {
        db?.close();
      } catch {
        // The error above is the one to report.
      }
      if (error instanceof ArchiveError) throw error;
      throw new ArchiveError(`cannot open archive ${path}: ${errorText(error)}`, { cause: error });
    }
  }

  /**
   * Stores rows and status changes in one transaction, at once (`node:sqlite`
   * is synchronous).
   *
   * @throws {ArchiveError} The transaction failed; nothing of it was stored.
   */
  write(rows: readonly MessageRow[], statuses: readonly TimedStatus[]): WriteOutcome {
    if (this.#closed) throw new ArchiveError("the archive is closed");
    const db = this.#db;
    try {
      db.exec("BEGIN IMMEDIATE");
      this.#mergeStep();
      const stored = new Array<boolean>(rows.length).fill(false);
      const dirty = new Map<OpenBlock, Day>();
      const rollups = new Map<Day, Rollup>();
      // Runs of rows of one day (usually the whole batch).
      for (let start = 0, end = 0; start < rows.length; start = end) {
        const dayNumber = dayOf(rows[start]!.t);
        end = start + 1;
        while (end < rows.length && dayOf(rows[end]!.t) === dayNumber) end++;
        const day = this.#day(dayNumber);
        let rollup = rollups.get(day);
        if (rollup === undefined) rollups.set(day, rollup = new Rollup());
        this.#insertRun(day, rows, start, end, stored, dirty, rollup);
      }
      for (const [block, day] of dirty) writeBlock(day, block);
      for (const [day, rollup] of rollups) writeRollup(day, rollup);
      for (const status of statuses) {
        this.#addStatus!.run(
          status.room,
          status.t,
          columnText(status.status),
          status.detail === undefined ? null : columnText(status.detail),
        );
      }
      db.exec("COMMIT");
      return { stored };
    } catch (error) {
      if (db.isTransaction) {
        try {
          db.exec("ROLLBACK");
        } catch {
          // The error above is the one to report.
        }
      }
      // The blocks went back to what they held before: start new ones. So did the lags.
      for (const day of this.#days.values()) {
        day.blocks.clear();
        day.lag = this.#storedLag(day.day);
      }
      throw new ArchiveError(`cannot write to archive ${this.#path}: ${errorText(error)}`, {
        cause: error,
      });
    }
  }

  /**
   * Inserts rows `start` to `end` (all of one day): gives each an id and a
   * place in its room's block, inserts them by chunks, settles the ones a
   * chunk did not take (duplicates, or an id another writer took), then
   * indexes and rolls up the ones stored.
   */
  #insertRun(
    day: Day,
    rows: readonly MessageRow[],
    start: number,
    end: number,
    stored: boolean[],
    dirty: Map<OpenBlock, Day>,
    rollup: Rollup,
  ): void {
    const count = end - start;
    const ids = new Array<number>(count);
    const blocks = new Array<OpenBlock>(count);
    const values = new Array<unknown>(count * COLUMNS);
    const keys = new KeyBuffers(count);
    const given = new Set<number>();
    for (let i = 0; i < count; i++) {
      const row = rows[start + i]!;
      let block = day.blocks.get(row.room);
      if (block === undefined || !block.fits(row.json.length)) {
        block = new OpenBlock(Number(day.reserveBlock.run().lastInsertRowid));
        day.blocks.set(row.room, block);
      }
      const base = (row.t - day.start) * ID_SCALE;
      // In order: after the last id. Out of order (an older message): at its time, or after
      // the ids this run already gave at that time.
      let id = row.t >= day.lastT ? Math.max(base, day.lastId + 1) : base;
      if (id <= day.lastId) { while (given.has(id)) id++; }
      given.add(id);
      if (id > day.lastId) {
        day.lastId = id;
        day.lastT = row.t;
      }
      ids[i] = id;
      blocks[i] = block;
      rowValues(values, i * COLUMNS, id, row, this.#type(row.type), block, keys);
      block.add(row.json);
      dirty.set(block, day);
    }
    const inserted = new Set<number>();
    day.insert.run(values, (returned) => inserted.add(returned[0] as number));
    const terms: unknown[] = [];
    let lag = 0;
    for (let i = 0; i < count; i++) {
      const row = rows[start + i]!;
      const block = blocks[i]!;
      let id = ids[i]!;
      if (!inserted.has(id)) {
        const slot = values.slice(i * COLUMNS, (i + 1) * COLUMNS);
        const key = slot[KEY_COLUMN];
        if (key !== null && day.keyExists.get(row.room, key as string) !== undefined) {
          // Already stored: its place in the block stays empty.
          block.lines[slot[POS_COLUMN] as number] = "";
          continue;
        }
        // The id was taken (another writer, or a burst in one millisecond): the next free one.
        do slot[0] = ++id; while (day.insertOne.run(...slot as never[]).changes === 0);
        if (id > day.lastId) {
          day.lastId = id;
          day.lastT = row.t;
        }
      }
      stored[start + i] = true;
      // How far its time falls behind its id's (ids never stand for a time before their row's).
      lag = Math.max(lag, Math.floor(id / ID_SCALE) - (row.t - day.start));
      const prefix = roomPrefix(row.room);
      let text = row.text !== null && row.text !== "" ? textTerms(row.text, prefix) : "";
      if (row.uid !== null) text += ` ${userTerm(prefix, row.uid)}`;
      if (row.name !== null && row.name !== "") text += ` ${nameTerm(prefix, row.name)}`;
      if (text !== "") terms.push(id, text);
      rollup.add(row);
    }
    day.terms.run(terms);
    if (day.lag !== undefined && lag > day.lag) {
      day.raiseLag.run(lag, day.day);
      day.lag = lag;
    }
  }

  /**
   * One bounded step of merging the search index of a day this writer has
   * moved past (it wrote a later one) into one segment. A day's index grows
   * by a segment per commit, merged 8 at a time, so a finished day keeps
   * dozens; each lookup of a term reads every one of them. Merged, a past
   * day answers a user's or a search's lookup several times faster (15 to
   * 30 µs against 75 to 210 in one measurement), and takes less room.
   * Messages that come late for a merged day add small segments again. A
   * day finished before the writer started is left as it is.
   */
  #mergeStep(): void {
    let latest = -Infinity;
    for (const day of this.#days.values()) latest = Math.max(latest, day.day);
    for (const day of this.#days.values()) {
      if (day.merged || day.day >= latest) continue;
      const db = this.#db;
      const changes = () => (this.#totalChanges!.get() as { n: number }).n;
      const before = changes();
      db.exec("SAVEPOINT merge");
      try {
        day.merge.run();
        db.exec("RELEASE merge");
        // SQLite's rule: a step that changed fewer than 2 rows found nothing left to merge.
        day.merged = changes() - before < 2;
      } catch {
        // Merging only saves time later: a day it cannot merge (its tables dropped by another
        // writer's retention, say) is left as it is, and the commit goes on without it.
        db.exec("ROLLBACK TO merge");
        db.exec("RELEASE merge");
        day.merged = true;
      }
      return;
    }
  }

  /** The code of a type name, added to `types` the first time. */
  #type(name: string): number {
    let code = this.#types.get(name);
    if (code === undefined) {
      this.#addType!.run(name);
      code = Number((this.#typeCode!.get(name) as { code: number }).code);
      this.#types.set(name, code);
    }
    return code;
  }

  /** A day's row of `day_lags`, if it has one. */
  #storedLag(day: number): number | undefined {
    this.#lagOf ??= this.#db.prepare("SELECT lag FROM day_lags WHERE day = ?");
    return (this.#lagOf.get(day) as { lag: number } | undefined)?.lag;
  }

  /** A day's tables, created the first time. */
  #day(dayNumber: number): Day {
    let day = this.#days.get(dayNumber);
    if (day !== undefined) return day;
    const db = this.#db;
    const suffix = dayName(dayNumber);
    const isNew = db.prepare("SELECT 1 FROM sqlite_schema WHERE name = ?").get(`m_${suffix}`) ===
      undefined;
    db.exec(dayTables(suffix));
    // A day made now starts with no lag; one made by an earlier version has none known.
    if (isNew) db.prepare("INSERT OR IGNORE INTO day_lags VALUES (?, 0)").run(dayNumber);
    // Segments merged 8 at a time, not 4: a quarter less work per insert, a byte more a message.
    db.exec(`INSERT INTO f_${suffix} (f_${suffix}, rank) VALUES ('automerge', 8)`);
    const last = db.prepare(`SELECT id, t FROM m_${suffix} ORDER BY id DESC LIMIT 1`).get() as
      | { id: number; t: number }
      | undefined;
    day = {
      day: dayNumber,
      suffix,
      start: dayNumber * DAY_MS,
      lastId: last?.id ?? -1,
      lastT: last?.t ?? -Infinity,
      lag: this.#storedLag(dayNumber),
      raiseLag: db.prepare("UPDATE day_lags SET lag = max(lag, ?) WHERE day = ?"),
      insert: new ChunkedInsert(db, `INSERT OR IGNORE INTO m_${suffix}`, COLUMNS, "RETURNING id"),
      insertOne: db.prepare(
        `INSERT OR IGNORE INTO m_${suffix} VALUES (${new Array(COLUMNS).fill("?").join(", ")})`,
      ),
      keyExists: db.prepare(`SELECT 1 FROM m_${suffix} WHERE room = ? AND key = ?`),
      terms: new ChunkedInsert(db, `INSERT INTO f_${suffix} (rowid, terms)`, 2),
      reserveBlock: db.prepare(`INSERT INTO b_${suffix} (data) VALUES (x'')`),
      updateBlock: db.prepare(`UPDATE b_${suffix} SET data = ? WHERE id = ?`),
      minutes: new ChunkedInsert(
        db,
        `INSERT INTO minutes_${suffix}`,
        7,
        `ON CONFLICT DO UPDATE SET messages = messages + excluded.messages,
          items = items + excluded.items, value = value + excluded.value,
          unpriced = unpriced + excluded.unpriced`,
      ),
      users: new ChunkedInsert(
        db,
        `INSERT INTO users_${suffix}`,
        7,
        `ON CONFLICT DO UPDATE SET name = coalesce(excluded.name, name),
          chats = chats + excluded.chats, gifts = gifts + excluded.gifts,
          value = value + excluded.value`,
      ),
      gifts: new ChunkedInsert(
        db,
        `INSERT INTO gifts_${suffix}`,
        6,
        `ON CONFLICT DO UPDATE SET name = coalesce(excluded.name, name),
          items = items + excluded.items, value = value + excluded.value`,
      ),
      blocks: new Map(),
      merge: db.prepare(
        `INSERT INTO f_${suffix} (f_${suffix}, rank) VALUES ('merge', -${MERGE_PAGES})`,
      ),
      merged: false,
    };
    this.#days.set(dayNumber, day);
    return day;
  }

  query(query: ArchiveQuery): AsyncGenerator<TimedMessage> {
    return this.#reader.query(query);
  }

  statuses(room: number, since?: number, until?: number): AsyncGenerator<TimedStatus> {
    return this.#reader.statuses(room, since, until);
  }

  rollups(room: number, since: number, until: number): RangeRollups {
    return this.#reader.rollups(room, since, until);
  }

  days(): Promise<number[]> {
    return Promise.resolve(listDays(this.#db));
  }

  /** The blocks still filling, deflated before the archive closes (they are not continued). */
  #deflateOpenBlocks(): void {
    // Not the days another writer's retention dropped meanwhile: their blocks are gone.
    const present = new Set(listDays(this.#db));
    const open = [...this.#days.values()].filter((day) => present.has(day.day)).flatMap((day) =>
      [...day.blocks.values()].filter((block) => block.stored).map((block) => ({ day, block }))
    );
    if (open.length === 0) return;
    this.#db.exec("BEGIN IMMEDIATE");
    try {
      for (const { day, block } of open) {
        day.updateBlock.run(packBlock(block.lines), block.id);
        block.stored = false;
      }
      this.#db.exec("COMMIT");
    } catch (error) {
      this.#db.exec("ROLLBACK");
      throw error;
    }
  }

  dropDays(days: readonly number[]): Promise<void> {
    if (days.length === 0) return Promise.resolve();
    const db = this.#db;
    try {
      db.exec("BEGIN IMMEDIATE");
      for (const day of days) {
        db.exec(dropTables(dayName(day)));
        db.prepare("DELETE FROM day_lags WHERE day = ?").run(day);
        this.#days.delete(day);
      }
      // Status changes of the days dropped and before: a few rows, not a partition. (Not
      // "before the first day left": a kept day may have status changes and no messages.)
      db.prepare("DELETE FROM statuses WHERE t < ?").run((Math.max(...days) + 1) * DAY_MS);
      db.exec("COMMIT");
      // The freed pages go back to the file system, not just to SQLite's free list.
      db.exec("PRAGMA incremental_vacuum");
      return Promise.resolve();
    } catch (error) {
      if (db.isTransaction) db.exec("ROLLBACK");
      return Promise.reject(
        new ArchiveError(`cannot drop days from ${this.#path}: ${errorText(error)}`, {
          cause: error,
        }),
      );
    }
  }

  size(): Promise<number> {
    const db = this.#db;
    const pages = db.prepare("PRAGMA page_count").get() as { page_count: number };
    const size = db.prepare("PRAGMA page_size").get() as { page_size: number };
    const free = db.prepare("PRAGMA freelist_count").get() as { freelist_count: number };
    return Promise.resolve((pages.page_count - free.freelist_count) * size.page_size);
  }

  close(): Promise<void> {
    if (this.#closed) return Promise.resolve();
    this.#closed = true;
    this.#reader.close();
    try {
      try {
        this.#deflateOpenBlocks();
      } finally {
        this.#db.close();
      }
    } catch (error) {
      return Promise.reject(
        new ArchiveError(`cannot close archive ${this.#path}: ${errorText(error)}`, {
          cause: error,
        }),
      );
    }
    return Promise.resolve();
  }
}

/**
 * Writes a block as it now is: deflated once full; while it fills, as it
 * is (it is written again at each commit, and deflating it each time would
 * cost more than the rest of the commit).
 */
function writeBlock(day: Day, block: OpenBlock): void {
  const full = block.full;
  day.updateBlock.run(packBlock(block.lines, full), block.id);
  block.stored = !full;
}

/** Adds a commit's roll-up to its day's tables. */
function writeRollup(day: Day, rollup: Rollup): void {
  const minutes: unknown[] = [];
  for (const m of rollup.minutes.values()) {
    minutes.push(m.room, m.minute, m.type, m.messages, m.items, m.value, m.unpriced);
  }
  day.minutes.run(minutes);
  const users: unknown[] = [];
  for (const u of rollup.users.values()) {
    users.push(u.room, u.hour, u.uid, u.name, u.chats, u.gifts, u.value);
  }
  day.users.run(users);
  const gifts: unknown[] = [];
  for (const g of rollup.gifts.values()) {
    gifts.push(g.room, g.minute, g.gift, g.name, g.items, g.value);
  }
  day.gifts.run(gifts);
}

/** Values per message row, and where the key and the block position are among them. */
const COLUMNS = 16;
const KEY_COLUMN = 12;
const POS_COLUMN = 14;

/**
 * Writes a row's values at `at` in `values`, in the columns' order. A hex
 * chat id goes in as its 16 bytes, in one of `keys`' buffers.
 */
function rowValues(
  values: unknown[],
  at: number,
  id: number,
  row: MessageRow,
  type: number,
  block: OpenBlock,
  keys: KeyBuffers,
): void {
  values[at] = id;
  values[at + 1] = row.room;
  values[at + 2] = row.t;
  values[at + 3] = type;
  values[at + 4] = row.uid;
  values[at + 5] = row.name;
  values[at + 6] = row.level;
  values[at + 7] = row.text;
  values[at + 8] = row.giftId;
  values[at + 9] = row.giftName;
  values[at + 10] = row.giftCount;
  values[at + 11] = row.giftValue;
  values[at + KEY_COLUMN] = isHexKey(row.key) ? hexInto(row.key, keys.next()) : row.key;
  values[at + 13] = block.id;
  values[at + POS_COLUMN] = block.lines.length;
  values[at + 15] = row.col;
}

/** 16-byte buffers for the chat ids of one run, cut from one allocation. */
class KeyBuffers {
  readonly #buffers: Uint8Array;
  #next = 0;

  /** @param count How many will be handed out, at most. */
  constructor(count: number) {
    this.#buffers = new Uint8Array(count * 16);
  }

  next(): Uint8Array {
    const at = this.#next;
    this.#next += 16;
    return this.#buffers.subarray(at, at + 16);
  }
}
