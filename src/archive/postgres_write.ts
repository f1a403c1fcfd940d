/**
 * Writing into the PostgreSQL archive (`postgres.ts`): one commit's rows,
 * copied straight into their partitions (through a staging table and
 * `ON CONFLICT DO NOTHING` when a key is stored already); their roll-ups; the
 * status changes.
 *
 * @module
 */

import type postgres from "postgres";
import { Rollup } from "./rollup.ts";
import { columnText, type MessageRow } from "./rows.ts";
import type { WriteOutcome } from "./store.ts";
import { nameTerm, roomPrefix, textTerms, userTerm } from "./terms.ts";
import type { TimedStatus } from "./timed.ts";

/** A transaction of the client. */
export type Transaction = postgres.TransactionSql<Record<string, never>>;

/** Where a commit's rows wait, in the session, before they are inserted. */
const STAGING = `
  CREATE TEMPORARY TABLE IF NOT EXISTS douyu_staging (
    ord integer NOT NULL, room bigint, t bigint, type text, uid bigint, name text, level integer,
    text text, gift text, gift_name text, gift_count bigint, gift_value bigint, key text,
    terms text[], raw text) ON COMMIT DELETE ROWS`;

const COLUMNS = "room, t, type, uid, name, level, text, gift, gift_name, gift_count, " +
  "gift_value, key, terms, raw";

/**
 * One commit: rows are copied straight into their partitions (the common
 * case, and the fastest: the copy fails if a key is stored already); when
 * a key comes twice among them, or when `fast` is false, they go through
 * the staging table and `ON CONFLICT DO NOTHING`.
 * Then the roll-ups of the rows stored, and the status changes.
 */
export async function writeIn(
  tx: Transaction,
  rows: readonly MessageRow[],
  statuses: readonly TimedStatus[],
  fast: boolean,
): Promise<WriteOutcome> {
  const stored = rows.length === 0
    ? []
    : fast && keysUnique(rows)
    ? await copyRows(tx, rows)
    : await insertRows(tx, rows);
  const rollup = new Rollup();
  for (let i = 0; i < rows.length; i++) if (stored[i]) rollup.add(rows[i]!);
  await writeRollup(tx, rollup);
  if (statuses.length > 0) {
    await tx.unsafe(
      `INSERT INTO douyu_statuses SELECT * FROM unnest($1::bigint[], $2::bigint[],
        $3::text[], $4::text[])`,
      [
        statuses.map((s) => s.room),
        statuses.map((s) => s.t),
        statuses.map((s) => columnText(s.status)),
        statuses.map((s) => s.detail === undefined ? null : columnText(s.detail)),
      ] as never[],
    );
  }
  return { stored };
}

/** PostgreSQL's code for a unique index that refused a row. */
export const UNIQUE_VIOLATION = "23505";

/**
 * Whether no key comes twice among the rows (such a commit goes through
 * the staging table at once: a straight copy of it would fail).
 *
 * Whether a key is stored already is not asked: a probe of the unique
 * index per key, run before each commit, cost more than the copy itself,
 * and far more once the planner's statistics of a growing partition changed
 * (17 to 25 s for 5,000 keys). The copy fails on such a key instead, and
 * the commit is done again the safe way (`PostgresStore.write`): rare
 * (after a restart, what was in flight comes again), and bounded.
 */
function keysUnique(rows: readonly MessageRow[]): boolean {
  const seen = new Set<string>();
  for (const row of rows) {
    const key = pgKey(row);
    if (key === null) continue;
    const both = `${row.room}:${key}`;
    if (seen.has(both)) return false;
    seen.add(both);
  }
  return true;
}

/** Copies rows straight into the messages table: every one is stored (or the commit fails). */
async function copyRows(tx: Transaction, rows: readonly MessageRow[]): Promise<boolean[]> {
  await copy(tx, `COPY douyu_messages (${COLUMNS}) FROM STDIN`, rows, false);
  return rows.map(() => true);
}

/** Writes rows as `COPY … FROM STDIN` text, in chunks the server takes as it can. */
async function copy(
  tx: Transaction,
  statement: string,
  rows: readonly MessageRow[],
  ordinals: boolean,
): Promise<void> {
  const query = tx.unsafe(statement);
  const stream = await query.writable();
  const done = new Promise<void>((resolve, reject) => {
    stream.on("finish", resolve);
    stream.on("error", reject);
    // postgres.js 3.4 never settles the stream when the server refuses a COPY after its end
    // (porsager/postgres#1173, a key stored already): the error goes to the query, which
    // resolved with the stream, and the transaction would wait forever. It is taken there.
    const settled = query as unknown as { reject?: (error: unknown) => void };
    const original = settled.reject;
    if (typeof original === "function") {
      settled.reject = (error) => {
        original.call(query, error);
        reject(error);
      };
    }
  });
  let text = "";
  for (let i = 0; i < rows.length; i++) {
    text += copyLine(ordinals ? i : undefined, rows[i]!);
    if (text.length >= 1 << 16) {
      // The server takes more when the stream drains; a failed COPY never drains.
      if (!stream.write(text)) {
        await Promise.race([new Promise((resolve) => stream.once("drain", resolve)), done]);
      }
      text = "";
    }
  }
  stream.end(text);
  await done;
}

/**
 * Copies rows into the staging table and inserts them; returns, for each,
 * whether it was stored. A row with a key is stored when its key was new:
 * the first of the commit's rows with that key (they go in in order).
 */
async function insertRows(tx: Transaction, rows: readonly MessageRow[]): Promise<boolean[]> {
  await tx.unsafe(STAGING);
  await copy(tx, "COPY douyu_staging FROM STDIN", rows, true);
  const inserted = await tx.unsafe(
    `INSERT INTO douyu_messages (${COLUMNS}) SELECT ${COLUMNS} FROM douyu_staging ORDER BY ord
    ON CONFLICT DO NOTHING RETURNING room, key`,
  ) as unknown as { room: number; key: string | null }[];
  const fresh = new Set<string>();
  for (const row of inserted) if (row.key !== null) fresh.add(`${row.room}:${row.key}`);
  return rows.map((row) => {
    const key = pgKey(row);
    if (key === null) return true;
    // The first row of a key takes it; a later one in the same commit was a duplicate.
    return fresh.delete(`${row.room}:${key}`);
  });
}

/**
 * A row's key as text: a chat id as it is, a stream sequence as `#seq` and
 * a file's key as it is (`time:hash`): the three never look alike.
 */
function pgKey(row: MessageRow): string | null {
  const key = row.key;
  if (key === null) return null;
  if (typeof key === "number") return `#${key}`;
  return key as string;
}

const COPY_SPECIAL = /[\\\t\n\r]/g;
const COPY_ESCAPES: Record<string, string> = {
  "\\": "\\\\",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
};

/** A value in `COPY`'s text format. */
function copyText(value: string | null): string {
  if (value === null) return "\\N";
  const text = columnText(value);
  return COPY_SPECIAL.test(text) ? text.replace(COPY_SPECIAL, (c) => COPY_ESCAPES[c]!) : text;
}

function copyNumber(value: number | null): string {
  return value === null ? "\\N" : String(value);
}

/**
 * A row as one line of `COPY`: the columns of {@linkcode COLUMNS}, after
 * its ordinal when given (the staging table's first column).
 */
function copyLine(ord: number | undefined, row: MessageRow): string {
  const prefix = roomPrefix(row.room);
  const terms: string[] = [];
  if (row.text !== null && row.text !== "") terms.push(textTerms(row.text, prefix));
  if (row.uid !== null) terms.push(userTerm(prefix, row.uid));
  if (row.name !== null && row.name !== "") terms.push(nameTerm(prefix, row.name));
  // Terms are letters and digits: an array literal needs no quoting.
  const array = terms.length === 0 ? "\\N" : `{${terms.join(" ").replaceAll(" ", ",")}}`;
  return (ord === undefined ? "" : `${ord}\t`) + [
    String(row.room),
    String(row.t),
    copyText(row.type),
    copyNumber(row.uid),
    copyText(row.name),
    copyNumber(row.level),
    copyText(row.text),
    copyText(row.giftId),
    copyText(row.giftName),
    copyNumber(row.giftCount),
    copyNumber(row.giftValue),
    copyText(pgKey(row)),
    array,
    copyText(row.json),
  ].join("\t") + "\n";
}

/** Adds a commit's roll-ups. */
async function writeRollup(tx: Transaction, rollup: Rollup): Promise<void> {
  if (rollup.empty) return;
  const minutes = [...rollup.minutes.values()];
  await tx.unsafe(
    `INSERT INTO douyu_minutes SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[],
      $4::bigint[], $5::bigint[], $6::bigint[], $7::bigint[])
    ON CONFLICT (room, minute, type) DO UPDATE SET
      messages = douyu_minutes.messages + excluded.messages,
      items = douyu_minutes.items + excluded.items, value = douyu_minutes.value + excluded.value,
      unpriced = douyu_minutes.unpriced + excluded.unpriced`,
    [
      minutes.map((m) => m.room),
      minutes.map((m) => m.minute),
      minutes.map((m) => columnText(m.type)),
      minutes.map((m) => m.messages),
      minutes.map((m) => m.items),
      minutes.map((m) => m.value),
      minutes.map((m) => m.unpriced),
    ] as never[],
  );
  const users = [...rollup.users.values()];
  if (users.length > 0) {
    await tx.unsafe(
      `INSERT INTO douyu_users SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::bigint[],
        $4::text[], $5::bigint[], $6::bigint[], $7::bigint[])
      ON CONFLICT (room, hour, uid) DO UPDATE SET
        name = coalesce(excluded.name, douyu_users.name),
        chats = douyu_users.chats + excluded.chats, gifts = douyu_users.gifts + excluded.gifts,
        value = douyu_users.value + excluded.value`,
      [
        users.map((u) => u.room),
        users.map((u) => u.hour),
        users.map((u) => u.uid),
        users.map((u) => u.name === null ? null : columnText(u.name)),
        users.map((u) => u.chats),
        users.map((u) => u.gifts),
        users.map((u) => u.value),
      ] as never[],
    );
  }
  const gifts = [...rollup.gifts.values()];
  if (gifts.length > 0) {
    await tx.unsafe(
      `INSERT INTO douyu_gifts SELECT * FROM unnest($1::bigint[], $2::bigint[], $3::text[],
        $4::text[], $5::bigint[], $6::bigint[])
      ON CONFLICT (room, minute, gift) DO UPDATE SET
        name = coalesce(excluded.name, douyu_gifts.name),
        items = douyu_gifts.items + excluded.items, value = douyu_gifts.value + excluded.value`,
      [
        gifts.map((g) => g.room),
        gifts.map((g) => g.minute),
        gifts.map((g) => columnText(g.gift)),
        gifts.map((g) => g.name === null ? null : columnText(g.name)),
        gifts.map((g) => g.items),
        gifts.map((g) => g.value),
      ] as never[],
    );
  }
}
