/**
 * What a reader of the stream keeps besides its messages: a durable
 * reader's position (the `douyu_readers` bucket), and the gaps in what it
 * read (messages the stream's retention removed before it got them).
 *
 * A durable reader is an ordered consumer that starts after the position it
 * saved: it reads the stream in its order, resumes at once where it stopped
 * (nothing waits out an ack timeout), and leaves no consumer behind on the
 * server. Its record expires after 30 days unused (`READER_INACTIVE_MS`).
 *
 * @module
 */

import { type KV, Kvm } from "@nats-io/kv";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";
import { type Cluster, READERS_BUCKET, STREAM_NAME } from "./cluster.ts";
import { isWrongSequence, readJson } from "./records.ts";

/** A running durable reader saves its position at most this often, ms (and when it stops). */
const SAVE_MS = 1000;
/** A record saved within this long belongs to a reader still running: another is refused. */
const IN_USE_MS = 15_000;

/** A durable reader's record in `douyu_readers`. */
interface ReaderRecord {
  /** The stream sequence of the last message it finished. */
  seq: number;
  /** What it reads: the filter subjects, space-separated. */
  filter: string;
  /** The process reading it now. */
  instance: string;
  /** When it saved this, ms since the epoch. */
  savedAt: number;
}

function parseRecord(value: Uint8Array): ReaderRecord | undefined {
  const record = readJson(value);
  if (record === undefined) return undefined;
  const { seq, filter, instance, savedAt } = record;
  if (
    typeof seq !== "number" || !Number.isSafeInteger(seq) || seq < 0 ||
    typeof filter !== "string" || typeof instance !== "string" ||
    typeof savedAt !== "number"
  ) {
    return undefined;
  }
  return { seq, filter, instance, savedAt };
}

/** Where a durable reader starts: after `seq`. */
export interface ReaderStart {
  /** The stream sequence it finished last (it reads from the next one on). */
  seq: number;
  /** True when the reader was created now. */
  created: boolean;
}

/**
 * A durable reader's saved position. `open()` claims it (refusing a second
 * process, or different filters, or a `since` for one that exists);
 * `done(seq)` marks a message finished; saves are at most one a second,
 * and `close()` saves the last.
 */
export class DurablePosition {
  readonly #cluster: Cluster;
  readonly #name: string;
  readonly #filter: string;
  readonly #instance = crypto.randomUUID();
  #kv: KV | undefined;
  #revision = 0;
  #seq = 0;
  #saved = 0;
  #saving: Promise<void> | undefined;
  #lastSave = 0;
  #failure: ClusterError | undefined;
  #released = false;

  /**
   * @param cluster The cluster.
   * @param name The reader's name.
   * @param filter Its filter subjects, space-separated.
   */
  constructor(cluster: Cluster, name: string, filter: string) {
    if (!isSafeName(name)) {
      throw new RangeError(
        `a durable name is 1 to 64 letters, digits, _ or -, got ${JSON.stringify(name)}`,
      );
    }
    this.#cluster = cluster;
    this.#name = name;
    this.#filter = filter;
  }

  /** A save that found the record taken by another process, if any. */
  get failure(): ClusterError | undefined {
    return this.#failure;
  }

  /**
   * Claims the record, creating it (at `since`, or at the stream's end) when
   * absent.
   *
   * @param since Where a new reader starts: a time, ms since the epoch; none: from now on.
   * @throws {ClusterError} when the record is in use, reads other subjects, or `since` is given
   *   for one that exists.
   */
  async open(since: number | undefined): Promise<ReaderStart & { startTime?: number }> {
    const kv = this.#kv = await this.#bucket();
    const entry = await kv.get(this.#name);
    const record = entry !== null && entry.operation === "PUT"
      ? parseRecord(entry.value)
      : undefined;
    if (record === undefined || entry === null) {
      const seq = since === undefined
        ? (await this.#cluster.jsm.streams.info(STREAM_NAME)).state.last_seq
        : 0;
      this.#seq = this.#saved = seq;
      const value = this.#value(seq);
      try {
        this.#revision = entry === null || entry.operation !== "PUT"
          ? await kv.create(this.#name, value)
          : await kv.update(this.#name, value, entry.revision);
      } catch (error) {
        if (isWrongSequence(error)) throw this.#inUse();
        throw error;
      }
      return since === undefined
        ? { seq, created: true }
        : { seq, created: true, startTime: since };
    }
    if (record.filter !== this.#filter) {
      throw new ClusterError(
        `durable reader ${this.#name} reads ${record.filter}, not ${this.#filter}; ` +
          `use another name or the same --rooms and --types`,
      );
    }
    if (since !== undefined) {
      throw new ClusterError(
        `durable reader ${this.#name} exists (it has read up to message ${record.seq}): ` +
          `--since applies when one is created; leave it out to resume, or use another name`,
      );
    }
    if (record.instance !== "" && Date.now() - record.savedAt < IN_USE_MS) {
      throw this.#inUse();
    }
    this.#seq = this.#saved = record.seq;
    try {
      this.#revision = await kv.update(this.#name, this.#value(record.seq), entry.revision);
    } catch (error) {
      if (isWrongSequence(error)) throw this.#inUse();
      throw error;
    }
    return { seq: record.seq, created: false };
  }

  /** Marks the message `seq` finished; saves at most once a second. */
  done(seq: number): void {
    if (seq > this.#seq) this.#seq = seq;
    if (Date.now() - this.#lastSave >= SAVE_MS) this.#save();
  }

  /** Keeps the record claimed while the reader waits for messages (call it regularly). */
  touch(): void {
    if (Date.now() - this.#lastSave >= IN_USE_MS / 3) this.#save();
  }

  /** Saves the position and lets the record go: the next reader may start at once. */
  async close(): Promise<void> {
    await this.#saving;
    this.#released = true;
    this.#save();
    await this.#saving;
  }

  #save(): void {
    if (this.#saving !== undefined || this.#kv === undefined || this.#failure !== undefined) return;
    const kv = this.#kv;
    const seq = this.#seq;
    this.#lastSave = Date.now();
    this.#saving = kv.update(this.#name, this.#value(seq, this.#released), this.#revision).then(
      (revision) => {
        this.#revision = revision;
        this.#saved = seq;
      },
      (error) => {
        if (isWrongSequence(error)) this.#failure = this.#inUse();
      },
    ).finally(() => (this.#saving = undefined));
  }

  #value(seq: number, released = false): string {
    const record: ReaderRecord = {
      seq,
      filter: this.#filter,
      // Released: no process holds it.
      instance: released ? "" : this.#instance,
      savedAt: Date.now(),
    };
    return JSON.stringify(record);
  }

  #inUse(): ClusterError {
    return new ClusterError(`durable reader ${this.#name} is in use by another process`);
  }

  /** The bucket, set up with the cluster (see `ensureLayout`). */
  #bucket(): Promise<KV> {
    return new Kvm(this.#cluster.js).open(READERS_BUCKET);
  }
}

/** A gap in what a reader got: stream sequences it never saw. */
export interface ReadGap {
  /** The first sequence missing. */
  from: number;
  /** The last sequence missing. */
  to: number;
  /**
   * Messages of this reader's rooms and types the stream's retention removed
   * before it got them: exactly, when it reads everything (`exact`), else at most.
   */
  count: number;
  /** True when `count` is exact. */
  exact: boolean;
}

/**
 * Finds the gaps in a reader's sequence numbers that the stream's retention
 * made. Reading every subject, any skipped sequence is one; reading some, a
 * skip is usually another room's or type's message, so it asks the stream
 * (at most once a second) whether its oldest message is past the skip.
 */
export class GapTracker {
  readonly #everything: boolean;
  readonly #firstSeq: () => Promise<number>;
  #expected: number | undefined;
  #known = 0;
  #askedAt = -Infinity;

  /**
   * @param everything True when the reader reads every subject of the stream.
   * @param firstSeq The stream's first sequence now.
   * @param after The sequence the reader finished last, when it resumes.
   */
  constructor(everything: boolean, firstSeq: () => Promise<number>, after?: number) {
    this.#everything = everything;
    this.#firstSeq = firstSeq;
    this.#expected = after === undefined ? undefined : after + 1;
  }

  /** Sees message `seq`; resolves with the gap before it, if retention made one. */
  async see(seq: number): Promise<ReadGap | undefined> {
    const expected = this.#expected;
    this.#expected = seq + 1;
    if (expected === undefined || seq <= expected) return undefined;
    if (this.#everything) {
      return { from: expected, to: seq - 1, count: seq - expected, exact: true };
    }
    if (this.#known <= expected && performance.now() - this.#askedAt >= 1000) {
      this.#askedAt = performance.now();
      this.#known = await this.#firstSeq().catch(() => this.#known);
    }
    if (this.#known <= expected) return undefined;
    const to = Math.min(seq, this.#known) - 1;
    return { from: expected, to, count: to - expected + 1, exact: false };
  }
}
