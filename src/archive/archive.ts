/**
 * {@linkcode Archive}: a room's messages kept in a database (a SQLite file,
 * or PostgreSQL for a `postgres://` target), written in batched
 * transactions within {@linkcode ArchiveOptions.flushInterval} of arrival,
 * never twice (the rules of `rows.ts`), and read back by room, time, type,
 * user and text.
 *
 * @module
 */

import { ArchiveError } from "./errors.ts";
import { setTimer } from "../base/timers.ts";
import { isEpochMs } from "../base/when.ts";
import { DAY_MS, daysToDrop } from "./days.ts";
import {
  type LiveChange,
  MINUTE_MS,
  type RoomStats,
  type StatsTimeline,
  summarize,
  type UserSum,
} from "./stats.ts";
import { columnText, type MessageRow, toRow } from "./rows.ts";
import { type ArchiveQuery, redactUrl, type Store, type WriteOutcome } from "./store.ts";
import type { TimedItem, TimedMessage, TimedStatus } from "./timed.ts";

/**
 * Options of {@linkcode Archive.open}.
 *
 * @example
 * ```ts
 * import type { ArchiveOptions } from "@x/douyu/archive";
 *
 * const options: ArchiveOptions = { flushInterval: 500, batchSize: 2000 };
 * console.log(options.flushInterval); // 500
 * ```
 */
export interface ArchiveOptions {
  /** Longest a written message waits before it is committed, ms. Default 250. */
  flushInterval?: number;
  /** Commit as soon as this many messages wait. Default 5000. */
  batchSize?: number;
  /**
   * Most messages waiting or being committed: beyond it, `write()` returns
   * a promise to await (the database is slower than the messages come).
   * Default 50 000.
   */
  maxPending?: number;
  /** Open for reading only: no table is created, `write()` is refused. Default false. */
  readOnly?: boolean;
  /**
   * Called once with the error of a commit that failed in the background
   * (on its timer). The archive then refuses writes; `flush()` and
   * `close()` reject with the error.
   */
  onError?: (error: unknown) => void;
}

/**
 * How a message came, for {@linkcode Archive.write}: what keeps it from
 * being stored twice, and who to tell once it is.
 *
 * @example
 * ```ts
 * import type { WriteOptions } from "@x/douyu/archive";
 *
 * const options: WriteOptions = { seq: 42, onCommitted: (stored) => console.log(stored) };
 * console.log(options.seq); // 42
 * ```
 */
export interface WriteOptions {
  /** Its sequence number in the cluster's `DOUYU` stream: what keeps it unique if it is not chat. */
  seq?: number | undefined;
  /** Read from a file (a recording or NDJSON): unique by its arrival time and content. */
  file?: boolean | undefined;
  /**
   * Called once the message's transaction committed: `true` when it was
   * stored, `false` when it was a duplicate of one stored before. Not called
   * when the commit fails. A stream reader acknowledges here.
   */
  onCommitted?: ((stored: boolean) => void) | undefined;
}

/**
 * What an archive has done since it was opened.
 *
 * @example
 * ```ts
 * import type { ArchiveCounters } from "@x/douyu/archive";
 *
 * const counters: ArchiveCounters = { stored: 10, duplicates: 1, pending: 0, commits: 2 };
 * console.log(counters.stored); // 10
 * ```
 */
export interface ArchiveCounters {
  /** Messages stored. */
  stored: number;
  /** Messages not stored because they already were. */
  duplicates: number;
  /** Messages waiting to be committed, or being committed. */
  pending: number;
  /** Transactions committed. */
  commits: number;
}

/** What waits for the next commit. */
interface Batch {
  rows: MessageRow[];
  callbacks: (((stored: boolean) => void) | undefined)[];
  statuses: TimedStatus[];
}

const emptyBatch = (): Batch => ({ rows: [], callbacks: [], statuses: [] });

/**
 * A store of rooms' messages. Open one with {@linkcode Archive.open} (or
 * `openArchive`), write messages as they arrive, query them back; close it
 * (or `await using`) to commit what waits.
 *
 * @example Write two chats, read them back
 * ```ts
 * import { Archive } from "@x/douyu/archive";
 *
 * const dir = await Deno.makeTempDir();
 * {
 *   await using archive = await Archive.open(`${dir}/rooms.db`);
 *   archive.write({ t: Date.now(), room: 9999, message: { type: "chatmsg", nn: "Ann", txt: "主播好", cid: "a1" } });
 *   archive.write({ t: Date.now(), room: 9999, message: { type: "chatmsg", nn: "Bob", txt: "hi", cid: "b2" } });
 *   await archive.flush();
 *   for await (const { message } of archive.query({ room: 9999, search: "主播" })) {
 *     console.log(message.nn); // "Ann"
 *   }
 * }
 * await Deno.remove(dir, { recursive: true });
 * ```
 */
export class Archive implements AsyncDisposable {
  /** What was opened: a file path, or a `postgres://` URL without its password. */
  readonly target: string;
  /** `sqlite` or `postgres`. */
  readonly engine: "sqlite" | "postgres";
  readonly #store: Store;
  readonly #flushInterval: number;
  readonly #batchSize: number;
  readonly #maxPending: number;
  readonly #readOnly: boolean;
  readonly #onError: ((error: unknown) => void) | undefined;
  readonly #lifetime = new AbortController();
  #batch: Batch = emptyBatch();
  #inFlight: Promise<void> | undefined;
  #inFlightRows = 0;
  #cancelTimer: (() => void) | undefined;
  #error: unknown;
  #failed = false;
  #closed: Promise<void> | undefined;
  #stored = 0;
  #duplicates = 0;
  #commits = 0;

  /** @internal Use {@linkcode Archive.open}. */
  constructor(store: Store, target: string, options: ArchiveOptions = {}) {
    this.#store = store;
    this.target = target;
    this.engine = store.engine;
    this.#flushInterval = positive(options.flushInterval ?? 250, "flushInterval");
    this.#batchSize = positive(options.batchSize ?? 5000, "batchSize");
    this.#maxPending = Math.max(
      this.#batchSize,
      positive(options.maxPending ?? 50_000, "maxPending"),
    );
    this.#readOnly = options.readOnly ?? false;
    this.#onError = options.onError;
  }

  /**
   * Opens an archive: a SQLite file at a path (created when missing), or a
   * PostgreSQL database at a `postgres://` URL (its tables created when
   * missing). `":memory:"` is a SQLite archive that lives as long as the
   * process (for examples and tests).
   *
   * @param target A file path, `":memory:"`, or
   * `postgres://user:password@host:port/database`.
   * @param options Batching, read-only, an error callback.
   * @throws {ArchiveError} The database cannot be opened or is not an
   * archive; the runtime has no `node:sqlite` (for a file).
   */
  static async open(target: string, options: ArchiveOptions = {}): Promise<Archive> {
    if (isPostgresUrl(target)) {
      const { PostgresStore } = await import("./postgres.ts");
      const store = await PostgresStore.open(target, { readOnly: options.readOnly ?? false });
      return new Archive(store, redactUrl(target), options);
    }
    if (/^[a-z][a-z0-9+.-]*:\/\//i.test(target)) {
      throw new ArchiveError(
        `unsupported archive ${redactUrl(target)}: a file path (SQLite) or a postgres:// URL`,
      );
    }
    const { SqliteStore } = await import("./sqlite.ts");
    const store = await SqliteStore.open(target, { readOnly: options.readOnly ?? false });
    return new Archive(store, target, options);
  }

  /** What it has done so far. */
  get counters(): ArchiveCounters {
    return {
      stored: this.#stored,
      duplicates: this.#duplicates,
      pending: this.#batch.rows.length + this.#inFlightRows,
      commits: this.#commits,
    };
  }

  /**
   * Adds a message; it is committed within `flushInterval` (at once when
   * `batchSize` wait). Returns a promise only when too much waits
   * (`maxPending`): await it before writing more.
   *
   * @param item The message, its arrival time and room, and (for gifts and
   * super chats) its gift as priced on arrival; without `gift`, only what
   * the message says itself is stored.
   * @param options Its stream sequence or file origin (what makes it
   * unique), and a callback for its commit.
   * @throws {ArchiveError} The archive is closed, read-only, or failed.
   */
  write(item: TimedMessage, options: WriteOptions = {}): void | Promise<void> {
    this.#checkWritable();
    if (!Number.isSafeInteger(item.room) || item.room < 1) {
      throw new RangeError(`a room id must be a positive integer, got ${item.room}`);
    }
    if (!isEpochMs(item.t)) {
      throw new RangeError(
        `an arrival time must be a whole number of ms from 1970 to the year 9999, got ${item.t}`,
      );
    }
    this.#batch.rows.push(toRow(item, options, this.#store.strips));
    this.#batch.callbacks.push(options.onCommitted);
    return this.#afterAdd();
  }

  /**
   * Adds a status change of a room's connection (see `TimedStatus`),
   * committed with the messages.
   *
   * @throws {ArchiveError} The archive is closed, read-only, or failed.
   */
  writeStatus(status: TimedStatus): void {
    this.#checkWritable();
    this.#batch.statuses.push(status);
    void this.#afterAdd();
  }

  #afterAdd(): void | Promise<void> {
    if (this.#batch.rows.length < this.#batchSize) {
      this.#cancelTimer ??= setTimer(this.#flushInterval, () => {
        this.#cancelTimer = undefined;
        // A failure is reported through onError, and by the next call.
        this.flush().catch(() => {});
      }, this.#lifetime.signal);
      return;
    }
    const done = this.flush();
    if (this.counters.pending >= this.#maxPending) return done;
    done.catch(() => {});
  }

  /**
   * Commits everything written so far. Resolves once it is stored.
   *
   * @throws {ArchiveError} The commit failed (or an earlier one did).
   */
  flush(): Promise<void> {
    this.#cancelTimer?.();
    this.#cancelTimer = undefined;
    if (this.#failed) return Promise.reject(this.#error);
    if (this.#inFlight !== undefined) return this.#inFlight.then(() => this.flush());
    const batch = this.#batch;
    if (batch.rows.length === 0 && batch.statuses.length === 0) return Promise.resolve();
    this.#batch = emptyBatch();
    let outcome: WriteOutcome | Promise<WriteOutcome>;
    try {
      outcome = this.#store.write(batch.rows, batch.statuses);
    } catch (error) {
      this.#fail(error);
      return Promise.reject(error);
    }
    if (!(outcome instanceof Promise)) {
      this.#committed(batch, outcome);
      return Promise.resolve();
    }
    this.#inFlightRows = batch.rows.length;
    const inFlight = outcome.then(
      (result) => this.#committed(batch, result),
      (error: unknown) => {
        this.#fail(error);
        throw error;
      },
    ).finally(() => {
      this.#inFlight = undefined;
      this.#inFlightRows = 0;
    });
    this.#inFlight = inFlight;
    return inFlight.then(() => this.flush());
  }

  #committed(batch: Batch, outcome: WriteOutcome): void {
    this.#commits++;
    for (let i = 0; i < batch.rows.length; i++) {
      const stored = outcome.stored[i] ?? false;
      if (stored) this.#stored++;
      else this.#duplicates++;
      const callback = batch.callbacks[i];
      if (callback !== undefined) callback(stored);
    }
  }

  #fail(error: unknown): void {
    if (this.#failed) return;
    this.#failed = true;
    this.#error = error;
    this.#batch = emptyBatch();
    this.#onError?.(error);
  }

  #checkWritable(): void {
    if (this.#closed !== undefined) throw new ArchiveError("the archive is closed");
    if (this.#readOnly) throw new ArchiveError(`${this.target} was opened read-only`);
    if (this.#failed) throw this.#error;
  }

  /**
   * A room's messages, oldest first: all of them in `[since, until)`, or
   * the newest `limit` of them (still oldest first, as `tail` does),
   * filtered by type, user and text. Reads what was committed.
   *
   * @example
   * ```ts ignore
   * for await (const { t, message } of archive.query({ room: 9999, limit: 100 })) {
   *   console.log(new Date(t), message.type);
   * }
   * ```
   */
  query(query: ArchiveQuery): AsyncGenerator<TimedMessage> {
    checkQuery(query);
    return this.#store.query(columnQuery(query));
  }

  /**
   * A room's status changes (connected, disconnected, …) in `[since, until)`, oldest first.
   */
  statuses(room: number, since?: number, until?: number): AsyncGenerator<TimedStatus> {
    return this.#store.statuses(room, since, until);
  }

  /**
   * A room's messages as {@linkcode Archive.query} gives them, with its
   * status changes between them, in time order: what an export reads, so
   * that it can mark the gaps. With a `limit`, only the status changes
   * among the messages given are included.
   */
  async *items(query: ArchiveQuery): AsyncGenerator<TimedItem> {
    checkQuery(query);
    const statuses: TimedStatus[] = [];
    for await (const status of this.#store.statuses(query.room, query.since, query.until)) {
      statuses.push(status);
    }
    let next = 0;
    let first = true;
    for await (const item of this.#store.query(columnQuery(query))) {
      if (first && query.limit !== undefined) {
        while (next < statuses.length && statuses[next]!.t < item.t) next++;
      }
      first = false;
      while (next < statuses.length && statuses[next]!.t <= item.t) yield statuses[next++]!;
      yield item;
    }
    if (query.limit === undefined) { while (next < statuses.length) yield statuses[next++]!; }
  }

  /**
   * A room's statistics over `[since, until)`, rounded out to whole minutes,
   * from the roll-ups: O(minutes + users), plus the columns of the messages
   * of at most two partial hours at the edges (users are rolled up by the
   * hour). Without `since` or
   * `until`, the range is trimmed to the minutes that have messages. Also
   * gives what a chart shades: the status changes and the stream's going
   * live and offline (`rss`, read only in the minutes that have one).
   *
   * @example
   * ```ts ignore
   * const { stats } = await archive.stats(9999, { since: Date.now() - 3_600_000 });
   * console.log(stats.chatters, stats.revenue.total);
   * ```
   */
  async stats(
    room: number,
    range: { since?: number | undefined; until?: number | undefined } = {},
  ): Promise<{ stats: RoomStats; timeline: StatsTimeline }> {
    checkQuery({ room });
    const days = await this.#store.days();
    const since = range.since !== undefined
      ? Math.floor(range.since / MINUTE_MS) * MINUTE_MS
      : (days[0] ?? 0) * DAY_MS;
    const until = Math.max(
      since,
      range.until !== undefined
        ? Math.ceil(range.until / MINUTE_MS) * MINUTE_MS
        : ((days.at(-1) ?? -1) + 1) * DAY_MS,
    );
    const rollups = await this.#store.rollups(room, since, until);
    let first = since;
    let end = until;
    if (range.since === undefined || range.until === undefined) {
      let low = Infinity;
      let high = -Infinity;
      for (const { minute } of rollups.minutes) {
        low = Math.min(low, minute);
        high = Math.max(high, minute);
      }
      if (low > high) low = high = since / MINUTE_MS - 1;
      if (range.since === undefined) first = low * MINUTE_MS;
      if (range.until === undefined) end = Math.max(first, (high + 1) * MINUTE_MS);
    }
    const stats = summarize(room, first, end, rollups);
    const statuses: TimedStatus[] = [];
    for await (const status of this.#store.statuses(room, first, end)) statuses.push(status);
    const live: LiveChange[] = [];
    const rssMinutes = rollups.minutes.filter((row) => row.type === "rss")
      .map((row) => row.minute).sort((a, b) => a - b);
    for (const minute of rssMinutes) {
      const from = Math.max(first, minute * MINUTE_MS);
      const to = Math.min(end, (minute + 1) * MINUTE_MS);
      for await (
        const item of this.#store.query({ room, since: from, until: to, types: ["rss"] })
      ) {
        const ss = (item.message as { ss?: unknown }).ss;
        if (ss === "1" || ss === "0") live.push({ t: item.t, live: ss === "1" });
      }
    }
    return { stats, timeline: { statuses, live } };
  }

  /**
   * Everyone who gave the room gifts or paid super chats in `[since, until)`
   * (to the millisecond), with how many and their value in fen, the best
   * first: what the overlay's widgets start from (`douyu overlay --db`).
   * From the users roll-up for whole hours and the messages' columns for
   * the partial ones at the edges.
   *
   * @example
   * ```ts ignore
   * const today = await archive.gifters(9999, Date.now() - 86_400_000, Date.now());
   * console.log(today[0]?.name, today[0]?.value);
   * ```
   */
  async gifters(room: number, since: number, until: number): Promise<UserSum[]> {
    checkQuery({ room });
    if (!(until > since)) return [];
    const { users } = await this.#store.rollups(room, since, until);
    return users.filter((user) => user.gifts > 0)
      .sort((a, b) => b.value - a.value || b.gifts - a.gifts || a.uid - b.uid);
  }

  /** The UTC days the archive holds (whole days since 1970-01-01), oldest first. */
  days(): Promise<number[]> {
    return this.#store.days();
  }

  /**
   * Drops every day that ended `days` days ago or earlier: whole days, with
   * their index and roll-ups. Today and the `days` days before are kept.
   *
   * @param days The retention, in days.
   * @param now The current time, ms. Default now.
   * @returns The days dropped.
   */
  async retain(days: number, now: number = Date.now()): Promise<number[]> {
    if (!Number.isSafeInteger(days) || days < 1) {
      throw new RangeError(`a retention is a positive number of days, got ${days}`);
    }
    const drop = daysToDrop(await this.#store.days(), days, now);
    await this.#store.dropDays(drop);
    return drop;
  }

  /** Bytes the archive takes in its database, indexes included. */
  size(): Promise<number> {
    return this.#store.size();
  }

  /**
   * Commits what waits and closes the database. Idempotent.
   *
   * @throws {ArchiveError} The last commit failed (or an earlier one did).
   */
  close(): Promise<void> {
    this.#closed ??= (async () => {
      let failure: unknown;
      try {
        if (!this.#readOnly) await this.flush();
      } catch (error) {
        failure = error;
      } finally {
        this.#lifetime.abort();
        await this.#store.close();
      }
      if (failure !== undefined) throw failure;
    })();
    return this.#closed;
  }

  /** `await using` support: {@linkcode Archive.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/**
 * Opens an archive: {@linkcode Archive.open}.
 *
 * @example
 * ```ts ignore
 * import { openArchive } from "@x/douyu/archive";
 *
 * await using archive = await openArchive("postgres://douyu@127.0.0.1:5432/douyu");
 * ```
 */
export function openArchive(target: string, options: ArchiveOptions = {}): Promise<Archive> {
  return Archive.open(target, options);
}

/** Whether a target names a PostgreSQL database. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//i.test(target);
}

function positive(value: number, name: string): number {
  if (!Number.isFinite(value) || value <= 0) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

function checkQuery(query: ArchiveQuery): void {
  if (!Number.isSafeInteger(query.room) || query.room < 1) {
    throw new RangeError(`a room id must be a positive integer, got ${query.room}`);
  }
  if (query.limit !== undefined && (!Number.isSafeInteger(query.limit) || query.limit < 1)) {
    throw new RangeError(`a limit must be a positive integer, got ${query.limit}`);
  }
}

/** A query's strings as the columns hold them ({@linkcode columnText}: no NUL, no lone surrogate). */
function columnQuery(query: ArchiveQuery): ArchiveQuery {
  const { user, search, types } = query;
  const name = user?.name === undefined ? undefined : columnText(user.name);
  const text = search === undefined ? undefined : columnText(search);
  const kinds = types?.map(columnText);
  const same = name === user?.name && text === search &&
    (kinds === undefined || kinds.every((kind, i) => kind === types![i]));
  if (same) return query;
  return {
    ...query,
    ...(user !== undefined ? { user: { ...user, ...(name !== undefined ? { name } : {}) } } : {}),
    ...(text !== undefined ? { search: text } : {}),
    ...(kinds !== undefined ? { types: kinds } : {}),
  };
}
