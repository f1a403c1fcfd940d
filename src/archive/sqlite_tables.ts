/**
 * The tables of a SQLite archive (see `sqlite.ts`): the DDL of a day's
 * tables, the settings and shared tables of a new file, the check that a
 * file is an archive of this layout, and the list of days.
 *
 * @module
 */

import type { DatabaseSync } from "node:sqlite";
import { dayFromName } from "./days.ts";
import { ArchiveError } from "./errors.ts";

/**
 * The layout of the tables; a file with another is refused. Layout 2 added
 * the `col` column: a file of layout 1 is read as it is, and becomes layout 2
 * at its first writable open (an earlier version, whose writes would fail on
 * the new column, then refuses it at once, saying so).
 */
const SCHEMA = "douyu-archive-sqlite 2";
/** The layout before `col`. */
const SCHEMA_1 = "douyu-archive-sqlite 1";

/** The DDL of one day's tables. */
export function dayTables(suffix: string): string {
  return `
    CREATE TABLE IF NOT EXISTS m_${suffix} (
      id INTEGER PRIMARY KEY, room INTEGER NOT NULL, t INTEGER NOT NULL, type INTEGER NOT NULL,
      uid INTEGER, name TEXT, level INTEGER, text TEXT,
      gift TEXT, gift_name TEXT, gift_count INTEGER, gift_value INTEGER,
      key BLOB, block INTEGER NOT NULL, pos INTEGER NOT NULL, col TEXT);
    CREATE INDEX IF NOT EXISTS m_${suffix}_room_t ON m_${suffix} (room, t);
    CREATE UNIQUE INDEX IF NOT EXISTS m_${suffix}_key ON m_${suffix} (room, key)
      WHERE key IS NOT NULL;
    CREATE TABLE IF NOT EXISTS b_${suffix} (id INTEGER PRIMARY KEY, data BLOB NOT NULL);
    CREATE VIRTUAL TABLE IF NOT EXISTS f_${suffix} USING fts5 (
      terms, content = '', detail = none, columnsize = 0, tokenize = 'ascii');
    CREATE TABLE IF NOT EXISTS minutes_${suffix} (
      room INTEGER NOT NULL, minute INTEGER NOT NULL, type TEXT NOT NULL,
      messages INTEGER NOT NULL, items INTEGER NOT NULL, value INTEGER NOT NULL,
      unpriced INTEGER NOT NULL, PRIMARY KEY (room, minute, type)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS users_${suffix} (
      room INTEGER NOT NULL, hour INTEGER NOT NULL, uid INTEGER NOT NULL, name TEXT,
      chats INTEGER NOT NULL, gifts INTEGER NOT NULL, value INTEGER NOT NULL,
      PRIMARY KEY (room, hour, uid)) WITHOUT ROWID;
    CREATE TABLE IF NOT EXISTS gifts_${suffix} (
      room INTEGER NOT NULL, minute INTEGER NOT NULL, gift TEXT NOT NULL, name TEXT,
      items INTEGER NOT NULL, value INTEGER NOT NULL,
      PRIMARY KEY (room, minute, gift)) WITHOUT ROWID;`;
}

/** The tables of a day, as `DROP` statements. */
export function dropTables(suffix: string): string {
  return ["m", "b", "f", "minutes", "users", "gifts"]
    .map((table) => `DROP TABLE IF EXISTS ${table}_${suffix};`).join("\n");
}

/**
 * How far, in ms, a message's time may fall behind the time its id stands
 * for (`id / ID_SCALE` into its day), per day: 0 while messages come in
 * time order and no millisecond holds more than `ID_SCALE` of them. Readers
 * that follow ids (the search index) put rows back in time order within it
 * (`sqlite_order.ts`). A day without a row here (made by an earlier
 * version) has no known bound.
 */
const LAGS_TABLE =
  "CREATE TABLE IF NOT EXISTS day_lags (day INTEGER PRIMARY KEY, lag INTEGER NOT NULL)";

/** The settings and shared tables of a writable archive; refuses another kind of file. */
export function setUp(db: DatabaseSync, path: string): void {
  // Before the first table: freed pages can then be given back (retention).
  db.exec("PRAGMA auto_vacuum = INCREMENTAL");
  const mode = db.prepare("PRAGMA journal_mode = WAL").get() as { journal_mode: string };
  // ":memory:" (examples, tests) keeps nothing past the process, so it needs no journal.
  if (mode.journal_mode !== "wal" && !(path === ":memory:" && mode.journal_mode === "memory")) {
    throw new ArchiveError(`cannot use ${path}: WAL mode is not available (${mode.journal_mode})`);
  }
  // With WAL, NORMAL survives a crash of the process (kill -9); only a power loss can undo
  // the last commits.
  db.exec("PRAGMA synchronous = NORMAL; PRAGMA cache_size = -65536; PRAGMA temp_store = MEMORY");
  db.exec("BEGIN IMMEDIATE");
  try {
    const tables = db.prepare("SELECT count(*) AS n FROM sqlite_schema").get() as { n: number };
    if (tables.n === 0) {
      db.exec(`
        CREATE TABLE archive_info (key TEXT PRIMARY KEY, value TEXT NOT NULL);
        CREATE TABLE types (code INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
        CREATE TABLE statuses (room INTEGER NOT NULL, t INTEGER NOT NULL, status TEXT NOT NULL,
          detail TEXT);
        CREATE INDEX statuses_room_t ON statuses (room, t);`);
      db.prepare("INSERT INTO archive_info VALUES ('schema', ?), ('created', ?)").run(
        SCHEMA,
        new Date().toISOString(),
      );
    }
    checkSchema(db, path);
    // Added after the first files: a file made before has them from its first writable open.
    db.exec(LAGS_TABLE);
    for (const name of tablesWithoutCol(db)) db.exec(`ALTER TABLE ${name} ADD COLUMN col TEXT`);
    db.prepare("UPDATE archive_info SET value = ? WHERE key = 'schema'").run(SCHEMA);
    db.exec("COMMIT");
  } catch (error) {
    db.exec("ROLLBACK");
    throw error;
  }
}

export function checkSchema(db: DatabaseSync, path: string): void {
  let schema: string | undefined;
  try {
    const row = db.prepare("SELECT value FROM archive_info WHERE key = 'schema'").get() as
      | { value: string }
      | undefined;
    schema = row?.value;
  } catch {
    schema = undefined;
  }
  if (schema !== SCHEMA && schema !== SCHEMA_1) {
    throw new ArchiveError(
      `${path} is not a douyu archive` + (schema ? ` of this version (it says ${schema})` : ""),
    );
  }
}

/**
 * The message tables without the `col` column (`brief.ts`), which came
 * after the first files: its rows are read whole. A writable open adds it
 * (every row then has it `NULL`); a reading one selects `NULL` in its place.
 */
export function tablesWithoutCol(db: DatabaseSync): string[] {
  const rows = db.prepare(
    "SELECT s.name FROM sqlite_schema AS s WHERE s.type = 'table' AND s.name GLOB 'm_[0-9]*'" +
      " AND NOT EXISTS (SELECT 1 FROM pragma_table_info(s.name) AS c WHERE c.name = 'col')",
  ).all() as { name: string }[];
  return rows.map((row) => row.name);
}

/** The days that have tables, oldest first. */
export function listDays(db: DatabaseSync): number[] {
  const rows = db.prepare(
    "SELECT name FROM sqlite_schema WHERE type = 'table' AND name GLOB 'm_[0-9]*'",
  ).all() as { name: string }[];
  const days: number[] = [];
  for (const { name } of rows) {
    const day = dayFromName(name.slice(2));
    if (day !== undefined) days.push(day);
  }
  return days.sort((a, b) => a - b);
}
