/**
 * Reading the `DOUYU` stream back: {@linkcode subscribe} yields the
 * collected messages, filtered by room and type, from now on, from a point
 * in time, or (durably) from where a named consumer left off; or, as a
 * group of readers sharing one server-side consumer, each message to one of
 * them, acknowledged by the reader once it has done with it.
 *
 * @module
 */

import {
  AckPolicy,
  type Consumer,
  type ConsumerConfig,
  type ConsumerMessages,
  DeliverPolicy,
  type JsMsg,
  type OrderedConsumerOptions,
} from "@nats-io/jetstream";
import { nanos } from "@nats-io/transport-node";
import { errorText } from "../base/errors.ts";
import { setRepeating } from "../base/timers.ts";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";
import { isWireValue, MESSAGE_DEPTH, ownString } from "../base/fields.ts";
import { isEpochMs } from "../base/when.ts";
import type { Message } from "../protocol/messages.ts";
import {
  type Cluster,
  HEADER_COLLECTOR,
  HEADER_RECEIVED_AT,
  MAX_MESSAGE_BYTES,
  STREAM_NAME,
  SUBJECT_PREFIX,
  subjectToken,
} from "./cluster.ts";
import { parseJsonObject } from "./records.ts";
import { DurablePosition, GapTracker, type ReadGap } from "./readers.ts";

export type { ReadGap } from "./readers.ts";
export { parseSince } from "../base/when.ts";

/** Filter subjects past which a consumer filters by the stream's wildcard instead. */
const MAX_FILTERS = 256;
/** A group's default ack wait, ms: see {@linkcode SubscribeOptions.group}. */
const GROUP_ACK_WAIT_MS = 10_000;
/** Messages the client fetches ahead. */
const PREFETCH = 256;

/**
 * Options of {@linkcode subscribe}.
 *
 * @example
 * ```ts
 * import type { SubscribeOptions } from "@x/douyu/nats";
 *
 * const options: SubscribeOptions = {
 *   rooms: [9999],
 *   types: ["chatmsg", "dgb"],
 *   since: Date.now() - 10 * 60_000,
 * };
 * console.log(options.rooms); // [ 9999 ]
 * ```
 */
export interface SubscribeOptions {
  /** Only these rooms. Default: every room. */
  rooms?: readonly number[];
  /** Only these message types. Default: every type. */
  types?: readonly string[];
  /**
   * Start from messages stored since this time (ms since the epoch, or a
   * Date). Default: only messages stored from now on. For a durable reader
   * it applies when the reader is created: given for one that exists, the
   * subscription fails (leave it out to resume).
   */
  since?: number | Date;
  /**
   * A durable reader's name: it remembers how far it has read (in the
   * `douyu_readers` bucket), so a restarted reader resumes where it stopped,
   * at once and in the stream's order. At-least-once: a message counts as
   * read when the loop asks for the next one, so the one a loop stopped at
   * comes again first. One process at a time per name; a name unused for 30
   * days is forgotten. Default: a reader the server forgets.
   */
  durable?: string;
  /**
   * Told of each gap: messages of these rooms and types the stream's
   * retention removed before this reader got them (it read too slowly, or
   * resumed too late). Also counted in {@linkcode Subscription.missed}.
   */
  onGap?: (gap: ReadGap) => void;
  /**
   * A group's name, instead of `durable`: the readers with this name share
   * one durable consumer on the server, which hands each message to one of
   * them, and resends it (to any) until that reader calls its `ack()`. A
   * reader acknowledges once it has done with a message (an archive: once
   * its transaction committed), so a reader killed at any point loses
   * nothing: what it held comes again, perhaps to another reader, and
   * perhaps twice (at-least-once). The consumer stays on the server, at its
   * position, when every reader has gone. `since` applies when it is
   * created; gaps are not reported (`onGap`) for a group.
   */
  group?: string;
  /**
   * For a group: most messages handed out and not yet acknowledged; the
   * server sends no more until some are. Only used when the group's
   * consumer is created. Default 1024.
   */
  maxAckPending?: number;
  /**
   * For a group: how long a message handed out may stay unacknowledged
   * before it is sent again, ms. Only used when the group's consumer is
   * created. Default 10 000.
   */
  ackWait?: number;
  /** Aborting it ends the loop. */
  signal?: AbortSignal;
}

/**
 * One message read back from the stream.
 *
 * @example
 * ```ts
 * import type { ClusterMessage } from "@x/douyu/nats";
 *
 * const item: ClusterMessage = {
 *   room: 9999,
 *   message: { type: "chatmsg", nn: "Ann", txt: "hi" },
 *   receivedAt: 0,
 *   collector: "a",
 *   seq: 1,
 *   storedAt: 0,
 * };
 * console.log(item.room, item.message.type); // 9999 "chatmsg"
 * ```
 */
export interface ClusterMessage<M extends Message = Message> {
  /** The room. */
  room: number;
  /** The message, as `--json` prints it, parsed. */
  message: M;
  /** When the collector took it from its room, ms since the epoch. */
  receivedAt: number;
  /** The collector's name. */
  collector: string;
  /** Its sequence number in the stream. */
  seq: number;
  /** When the stream stored it, ms since the epoch. */
  storedAt: number;
  /** For a `group` reader: acknowledges the message (idempotent). */
  ack?: () => void;
}

/**
 * A reader of the stream: `for await` its messages; `close()`, `break` or
 * the signal end it.
 *
 * @example
 * ```ts ignore
 * await using subscription = subscribe(cluster, { types: ["chatmsg"] });
 * for await (const { room, message } of subscription) console.log(room, message);
 * ```
 */
export class Subscription<M extends Message = Message>
  implements AsyncIterable<ClusterMessage<M>>, AsyncDisposable {
  readonly #cluster: Cluster;
  readonly #options: SubscribeOptions;
  readonly #rooms: ReadonlySet<number> | undefined;
  readonly #types: ReadonlySet<string> | undefined;
  #messages: ConsumerMessages | undefined;
  #closed = false;
  #iterating = false;
  #skipped = 0;
  #missed = 0;
  readonly #onAbort = () => void this.close();

  /** @internal Use {@linkcode subscribe}. */
  constructor(cluster: Cluster, options: SubscribeOptions) {
    this.#cluster = cluster;
    this.#options = options;
    for (const room of options.rooms ?? []) {
      if (!Number.isSafeInteger(room) || room < 1) {
        throw new RangeError(`a room id must be a positive integer, got ${room}`);
      }
    }
    for (const type of options.types ?? []) {
      if (subjectToken(type) !== type) {
        throw new RangeError(`invalid message type ${JSON.stringify(type)}`);
      }
    }
    for (const name of [options.durable, options.group]) {
      if (name !== undefined && !isSafeName(name)) {
        throw new RangeError(
          `a durable name is 1 to 64 letters, digits, _ or -, got ${JSON.stringify(name)}`,
        );
      }
    }
    if (options.durable !== undefined && options.group !== undefined) {
      throw new RangeError("a reader is durable or in a group, not both");
    }
    const wait = options.ackWait;
    if (wait !== undefined && (!Number.isFinite(wait) || wait < 1000 || wait > 3_600_000)) {
      throw new RangeError(`ackWait must be from 1000 to 3600000 ms, got ${wait}`);
    }
    const pending = options.maxAckPending;
    if (pending !== undefined && (!Number.isSafeInteger(pending) || pending < 1)) {
      throw new RangeError(`maxAckPending must be a positive integer, got ${pending}`);
    }
    this.#rooms = options.rooms?.length ? new Set(options.rooms) : undefined;
    this.#types = options.types?.length ? new Set(options.types) : undefined;
    if (options.signal?.aborted) this.#closed = true;
    else options.signal?.addEventListener("abort", this.#onAbort, { once: true });
  }

  /** Messages skipped as malformed (a payload that is not a message, an unknown subject). */
  get skipped(): number {
    return this.#skipped;
  }

  /**
   * Messages of these rooms and types the stream's retention removed before
   * this reader got them (at most this many, when reading some rooms or types
   * only: see {@linkcode ReadGap}).
   */
  get missed(): number {
    return this.#missed;
  }

  /** Iterates the messages; ending the loop early closes the subscription. */
  [Symbol.asyncIterator](): AsyncIterator<ClusterMessage<M>> {
    if (this.#iterating) {
      throw new TypeError("a subscription can be iterated by one loop at a time");
    }
    this.#iterating = true;
    const generator = this.#read();
    return {
      next: () => generator.next(),
      return: async () => {
        await this.close();
        return await generator.return(undefined);
      },
    };
  }

  /** Stops reading. Idempotent. */
  close(): Promise<void> {
    if (this.#closed && this.#messages === undefined) return Promise.resolve();
    this.#closed = true;
    this.#options.signal?.removeEventListener("abort", this.#onAbort);
    const messages = this.#messages;
    this.#messages = undefined;
    // stop(), not close(): close() waits for the iterator to be read to its end, which the
    // loop suspended in our `yield` never does.
    messages?.stop();
    return Promise.resolve();
  }

  /** `await using` support: {@linkcode Subscription.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async *#read(): AsyncGenerator<ClusterMessage<M>, undefined> {
    if (this.#closed) return;
    if (this.#options.group !== undefined) {
      yield* this.#readGroup(this.#options.group);
      return;
    }
    const { js, jsm } = this.#cluster;
    const filters = filterSubjects(this.#options.rooms, this.#options.types, {
      multiple: this.#cluster.multipleFilters,
    });
    const since = this.#options.since === undefined
      ? undefined
      : new Date(this.#options.since).getTime();
    let position: DurablePosition | undefined;
    let start: Partial<OrderedConsumerOptions>;
    let after: number | undefined;
    try {
      if (this.#options.durable !== undefined) {
        position = new DurablePosition(
          this.#cluster,
          this.#options.durable,
          filters.subjects.join(" "),
        );
        const opened = await position.open(since);
        after = opened.startTime === undefined ? opened.seq : undefined;
        start = opened.startTime !== undefined
          ? {
            deliver_policy: DeliverPolicy.StartTime,
            opt_start_time: new Date(opened.startTime).toISOString(),
          }
          : { deliver_policy: DeliverPolicy.StartSequence, opt_start_seq: opened.seq + 1 };
      } else {
        start = since === undefined ? { deliver_policy: DeliverPolicy.New } : {
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: new Date(since).toISOString(),
        };
      }
    } catch (error) {
      if (error instanceof ClusterError || error instanceof RangeError) throw error;
      throw new ClusterError(`cannot read the ${STREAM_NAME} stream: ${errorText(error)}`, {
        cause: error,
      });
    }
    // The position is claimed from here: a reader that ends (closed, aborted, or failing)
    // before the loop below takes over lets it go, else its name is refused as in use until
    // the claim lapses (15 s).
    let messages: ConsumerMessages | undefined;
    try {
      if (!this.#closed) {
        const consumer: Consumer = await js.consumers.get(STREAM_NAME, {
          // One subject as a string: an array asks for nats-server 2.10.
          filter_subjects: filters.subjects.length === 1 ? filters.subjects[0]! : filters.subjects,
          ...start,
        });
        messages = await consumer.consume({ max_messages: PREFETCH });
      }
    } finally {
      if (messages === undefined || this.#closed) {
        messages?.stop();
        await position?.close();
      }
    }
    if (messages === undefined || this.#closed) return;
    this.#messages = messages;
    const keepalive = new AbortController();
    if (position !== undefined) setRepeating(2000, () => position!.touch(), keepalive.signal);
    const gaps = new GapTracker(
      filters.subjects.length === 1 && filters.subjects[0] === `${SUBJECT_PREFIX}.>`,
      async () => (await jsm.streams.info(STREAM_NAME)).state.first_seq,
      after,
    );
    try {
      for await (const raw of messages) {
        const gap = await gaps.see(raw.seq);
        if (gap !== undefined) {
          this.#missed += gap.count;
          this.#options.onGap?.(gap);
        }
        const item = this.#parse(raw);
        if (item !== undefined) yield item;
        // Read once the loop asks for the next one: at-least-once for a durable reader.
        position?.done(raw.seq);
        if (position?.failure !== undefined) throw position.failure;
        if (this.#closed) break;
      }
    } finally {
      keepalive.abort();
      messages.stop();
      await position?.close();
      await this.close();
    }
  }

  /** A group reader: a share of one durable consumer, each message acknowledged by its reader. */
  async *#readGroup(name: string): AsyncGenerator<ClusterMessage<M>, undefined> {
    const consumer = await this.#groupConsumer(name);
    if (this.#closed) return;
    const messages = await consumer.consume({ max_messages: PREFETCH });
    if (this.#closed) {
      messages.stop();
      return;
    }
    this.#messages = messages;
    // One iterator, read by hand: after `stop()`, the rest of it is read below.
    const iterator = messages[Symbol.asyncIterator]();
    try {
      for (;;) {
        const next = await iterator.next();
        if (next.done) break;
        const raw = next.value;
        const item = this.#parse(raw);
        if (item !== undefined) {
          item.ack = once(() => raw.ack());
          yield item;
        } else {
          raw.ack(); // not for this reader, or malformed: done with
        }
        if (this.#closed) break;
      }
    } finally {
      messages.stop();
      // Fetched ahead and never handed out: redelivered at once, to any reader of the group,
      // instead of after the ack wait. (What was handed out its reader may still acknowledge.)
      for (let next = await iterator.next(); !next.done; next = await iterator.next()) {
        next.value.nak();
      }
      await this.close();
    }
  }

  async #groupConsumer(name: string): Promise<Consumer> {
    const { js, jsm } = this.#cluster;
    const filters = filterSubjects(this.#options.rooms, this.#options.types, {
      multiple: this.#cluster.multipleFilters,
    });
    const since = this.#options.since;
    try {
      const config: Partial<ConsumerConfig> = {
        durable_name: name,
        ack_policy: AckPolicy.Explicit,
        max_ack_pending: this.#options.maxAckPending ?? PREFETCH * 4,
        // What a reader had not acknowledged when it stopped comes again after this.
        ack_wait: nanos(this.#options.ackWait ?? GROUP_ACK_WAIT_MS),
        ...(filters.subjects.length === 1
          ? { filter_subject: filters.subjects[0]! }
          : { filter_subjects: filters.subjects }),
        ...(since === undefined ? { deliver_policy: DeliverPolicy.New } : {
          deliver_policy: DeliverPolicy.StartTime,
          opt_start_time: new Date(since).toISOString(),
        }),
      };
      let existing: ConsumerConfig | undefined;
      try {
        existing = (await jsm.consumers.info(STREAM_NAME, name)).config;
      } catch {
        existing = undefined;
      }
      if (existing === undefined) {
        await jsm.consumers.add(STREAM_NAME, config);
      } else {
        const had = existing.filter_subjects ??
          (existing.filter_subject ? [existing.filter_subject] : []);
        if (had.join(" ") !== filters.subjects.join(" ")) {
          throw new ClusterError(
            `durable consumer ${name} reads ${had.join(", ") || "everything"}, not ${
              filters.subjects.join(", ")
            }; use another name or the same --rooms and --types`,
          );
        }
      }
      return await js.consumers.get(STREAM_NAME, name);
    } catch (error) {
      if (error instanceof ClusterError) throw error;
      throw new ClusterError(`cannot read the ${STREAM_NAME} stream: ${errorText(error)}`, {
        cause: error,
      });
    }
  }

  #parse(raw: JsMsg): ClusterMessage<M> | undefined {
    const tokens = raw.subject.split(".");
    const room =
      tokens.length === 3 && tokens[0] === SUBJECT_PREFIX && /^[1-9][0-9]{0,14}$/.test(tokens[1]!)
        ? Number(tokens[1])
        : undefined;
    if (room === undefined || raw.data.length > MAX_MESSAGE_BYTES) {
      this.#skipped++;
      return undefined;
    }
    if (this.#rooms !== undefined && !this.#rooms.has(room)) return undefined;
    if (this.#types !== undefined && !this.#types.has(tokens[2]!)) return undefined;
    const message = toMessage(raw.data);
    // A payload whose type is not its subject's would slip past a filter by type.
    if (message === undefined || subjectToken(message.type) !== tokens[2]) {
      this.#skipped++;
      return undefined;
    }
    const storedAt = raw.time.getTime();
    const header = (name: string) => raw.headers?.get(name) ?? "";
    const receivedText = header(HEADER_RECEIVED_AT);
    const received = /^[0-9]{1,15}$/.test(receivedText) ? Number(receivedText) : undefined;
    const receivedAt = isEpochMs(received) ? received : storedAt;
    const collector = header(HEADER_COLLECTOR);
    return {
      room,
      message: message as M,
      receivedAt,
      collector: isSafeName(collector) ? collector : "",
      seq: raw.seq,
      storedAt,
    };
  }
}

/**
 * Reads the collected messages back: an ephemeral ordered consumer by
 * default (from now on, or from `since`), or a durable one that resumes
 * where it stopped. Malformed messages (anyone with publish rights on
 * `douyu.>` could write anything) are skipped and counted.
 *
 * @param cluster The cluster.
 * @param options Rooms, types, start time, durable name, signal.
 * @returns The subscription; iterate it once.
 *
 * @example The last ten minutes of chat and gifts in room 9999, then live
 * ```ts ignore
 * import { Cluster, subscribe } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * const since = Date.now() - 10 * 60_000;
 * for await (const item of subscribe(cluster, { rooms: [9999], types: ["chatmsg", "dgb"], since })) {
 *   console.log(item.room, item.message.type, item.collector);
 * }
 * ```
 */
export function subscribe<M extends Message = Message>(
  cluster: Cluster,
  options: SubscribeOptions = {},
): Subscription<M> {
  return new Subscription<M>(cluster, options);
}

/**
 * The filter subjects for rooms and types, and whether they are exact. A
 * server that takes one filter only (before 2.10), or a product of more than
 * 256 subjects, gets the tightest single wildcard, and the rest is filtered
 * on the client.
 *
 * @param rooms Rooms, or none for all.
 * @param types Types, or none for all.
 * @param options `multiple`: the server takes several filter subjects.
 * @returns The subjects.
 *
 * @example
 * ```ts
 * import { filterSubjects } from "@x/douyu/nats";
 *
 * console.log(filterSubjects([9999], ["chatmsg", "dgb"], { multiple: true }).subjects);
 * // [ "douyu.9999.chatmsg", "douyu.9999.dgb" ]
 * console.log(filterSubjects([9999], ["chatmsg", "dgb"], { multiple: false }).subjects);
 * // [ "douyu.9999.*" ]
 * ```
 */
export function filterSubjects(
  rooms: readonly number[] | undefined,
  types: readonly string[] | undefined,
  options: { multiple: boolean },
): { subjects: string[] } {
  const roomTokens = rooms?.length ? [...new Set(rooms)].map(String) : ["*"];
  const typeTokens = types?.length ? [...new Set(types)] : [">"];
  const product = roomTokens.length * typeTokens.length;
  if (product === 1 || (options.multiple && product <= MAX_FILTERS)) {
    const subjects: string[] = [];
    for (const room of roomTokens) {
      for (const type of typeTokens) {
        subjects.push(
          room === "*" && type === ">"
            ? `${SUBJECT_PREFIX}.>`
            : `${SUBJECT_PREFIX}.${room}.${type}`,
        );
      }
    }
    return { subjects };
  }
  const room = roomTokens.length === 1 ? roomTokens[0]! : "*";
  const type = typeTokens.length === 1 ? typeTokens[0]! : "*";
  if (room === "*" && (type === "*" || type === ">")) return { subjects: [`${SUBJECT_PREFIX}.>`] };
  return { subjects: [`${SUBJECT_PREFIX}.${room}.${type === ">" ? "*" : type}`] };
}

/** `fn`, called at most once. */
function once(fn: () => void): () => void {
  let done = false;
  return () => {
    if (done) return;
    done = true;
    fn();
  };
}

/**
 * A payload as a message: a JSON object with a string `type`, whose values
 * are strings, finite numbers, or lists and maps of them (as `parseMessage`
 * makes), nested at most six levels, none with its own `toString` or
 * `valueOf` (`isWireValue`). Anything else is `undefined`.
 */
export function toMessage(payload: Uint8Array): Message | undefined {
  const value = parseJsonObject(payload);
  if (value === undefined || ownString(value, "type") === undefined) return undefined;
  return isWireValue(value, MESSAGE_DEPTH) ? value as Message : undefined;
}
