/**
 * What the archive needs of a database, and the query both engines answer.
 * `sqlite.ts` (the embedded default) and `postgres.ts` implement
 * {@linkcode Store}; `archive.ts` batches writes into it and hands out
 * what it reads.
 *
 * @module
 */

import type { MessageRow } from "./rows.ts";
import type { TimedMessage, TimedStatus } from "./timed.ts";
import type { RangeRollups } from "./stats.ts";

/**
 * What to read from an archive. Times are ms since the epoch; `since` is
 * inclusive, `until` exclusive.
 *
 * @example
 * ```ts
 * import type { ArchiveQuery } from "./store.ts";
 *
 * const query: ArchiveQuery = { room: 9999, types: ["chatmsg"], search: "主播", limit: 100 };
 * console.log(query.limit); // 100
 * ```
 */
export interface ArchiveQuery {
  /** The room. */
  room: number;
  /** From this time on. */
  since?: number | undefined;
  /** Before this time. */
  until?: number | undefined;
  /** Only these types. */
  types?: readonly string[] | undefined;
  /**
   * Only messages about this user: sent with this id, or under this name
   * (given both, either will do).
   */
  user?: { uid?: number | undefined; name?: string | undefined } | undefined;
  /**
   * Only messages whose text contains this, as `LIKE '%search%'` finds them
   * in SQLite: ASCII letters in either case, anything else as it is, `%`
   * and `_` as themselves.
   */
  search?: string | undefined;
  /** Only the newest `limit` (still handed out oldest first). */
  limit?: number | undefined;
  /**
   * For exports: a chat or gift whose stored columns hold all that the
   * exports show of it comes back brief, with only `type`, `uid`, `nn`, a
   * chat's `txt` and `col`, and a gift's details as priced, read without its
   * whole message (which takes about half the time of an export). The ASS,
   * SRT and XML exports write the same files either way; JSON Lines and CSV
   * show whole messages, so leave it off for them. PostgreSQL gives every
   * message whole. Default: false.
   */
  brief?: boolean | undefined;
}

/** What one commit did. */
export interface WriteOutcome {
  /** For each row given, in order: true when stored, false when it was a duplicate. */
  stored: boolean[];
}

/** A database the archive keeps its days in. */
export interface Store {
  /** `sqlite` or `postgres`. */
  readonly engine: "sqlite" | "postgres";
  /** Whether rows' JSON leaves out what their columns hold (see `toRow`). */
  readonly strips: boolean;
  /**
   * Stores rows and status changes in one transaction: at once for a
   * synchronous engine (SQLite), or through a promise.
   */
  write(
    rows: readonly MessageRow[],
    statuses: readonly TimedStatus[],
  ): WriteOutcome | Promise<WriteOutcome>;
  /** Messages matching `query`, oldest first. */
  query(query: ArchiveQuery): AsyncGenerator<TimedMessage>;
  /** A room's status changes in `[since, until)`, oldest first. */
  statuses(room: number, since?: number, until?: number): AsyncGenerator<TimedStatus>;
  /**
   * A room's roll-ups over `[since, until)`: its minutes, its gifts summed
   * by kind, its users summed over the whole hours inside (see `stats.ts`).
   */
  rollups(room: number, since: number, until: number): RangeRollups | Promise<RangeRollups>;
  /** The days that have a partition, oldest first. */
  days(): Promise<number[]>;
  /** Drops whole days: their messages, index and roll-ups. */
  dropDays(days: readonly number[]): Promise<void>;
  /** Bytes the database takes (SQLite: its files; PostgreSQL: its tables). */
  size(): Promise<number>;
  /** Closes the connection. */
  close(): Promise<void>;
}

/**
 * A URL with its password replaced, for messages.
 *
 * @example
 * ```ts
 * import { redactUrl } from "./store.ts";
 *
 * console.log(redactUrl("postgres://douyu:secret@db:5432/archive")); // "postgres://douyu:***@db:5432/archive"
 * ```
 */
export function redactUrl(target: string): string {
  try {
    const url = new URL(target);
    if (url.password !== "") url.password = "***";
    return url.toString();
  } catch {
    return target.replace(/:[^:@/]*@/, ":***@");
  }
}
