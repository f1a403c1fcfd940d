/**
 * Publishing into JetStream asynchronously, with a bounded number of acks
 * outstanding and a bounded buffer: a {@linkcode StreamPublisher} keeps every
 * message until the stream has acknowledged it, retries what failed, and
 * makes its producer wait once the buffer is full.
 *
 * @module
 */

import {
  createInbox,
  type Msg,
  type MsgHdrs,
  type NatsConnection,
  type QueuedIterator,
  type Status,
  type Subscription,
} from "@nats-io/transport-node";
import { type NumberCheck, positive } from "../base/checks.ts";
import { errorText } from "../base/errors.ts";
import { isRecord, ownField, ownString } from "../base/fields.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { Fifo } from "../base/fifo.ts";
import { parseJsonObject, STORAGE_ERRORS } from "./records.ts";
import { type Deferred, deferred, setRepeating, setTimer } from "../base/timers.ts";
import { CommandBuffer, protocolWriter } from "./wire.ts";

/** Every limit of a publisher is a whole number. */
const WHOLE: NumberCheck = { integer: true };

/**
 * Options of a {@linkcode StreamPublisher}.
 *
 * @example
 * ```ts
 * import type { PublisherOptions } from "@x/douyu/nats";
 *
 * const options: PublisherOptions = { maxPending: 256, maxBuffered: 10_000 };
 * console.log(options.maxPending); // 256
 * ```
 */
export interface PublisherOptions {
  /**
   * Publishes awaiting their ack at once. Default 1024: a collector flat out
   * stored the most with 512 to 1024 (`bench:cluster`); 256 left it waiting
   * for acks, and 2048 or more stored no more.
   */
  maxPending?: number;
  /**
   * Messages kept until acknowledged (sent or waiting), at most. Past it
   * {@linkcode StreamPublisher.publish} waits. Default 10 000.
   */
  maxBuffered?: number;
  /** The same bound in bytes of payload. Default 32 MiB. */
  maxBufferedBytes?: number;
  /** Milliseconds to wait for one ack before retrying. Default 5000. */
  ackTimeout?: number;
  /**
   * Told once when JetStream starts refusing to store (out of storage: a full
   * disk or the server's limits; JetStream gone; no acknowledgement for
   * `ackTimeout` while connected), with the reason, and once when it stores
   * again.
   */
  onHealth?: (state: "failing" | "storing", reason: string) => void;
}

/**
 * A publisher's counters.
 *
 * @example
 * ```ts
 * import type { PublisherCounters } from "@x/douyu/nats";
 *
 * const counters: Partial<PublisherCounters> = { published: 10, duplicates: 1 };
 * console.log(counters.published); // 10
 * ```
 */
export interface PublisherCounters {
  /** Messages the stream acknowledged (including those it found duplicate). */
  published: number;
  /** Of those, acknowledged as duplicates of a message with the same `Nats-Msg-Id`. */
  duplicates: number;
  /** Publishes that failed (timeout, no JetStream, disconnected) and were retried. */
  retries: number;
  /** Messages the server refused for good (too large with their headers): dropped, never retried. */
  rejected: number;
  /** Messages held now: sent and awaiting their ack, or waiting to be sent. */
  buffered: number;
  /** The most ever held at once. */
  maxBuffered: number;
  /** The bound on held messages. */
  bufferLimit: number;
  /** How many times `publish()` had to wait for room. */
  waits: number;
}

/** One message to publish. */
interface Item {
  subject: string;
  /** The body; or, from {@linkcode StreamPublisher.offer}, the header block then the body. */
  payload: Uint8Array;
  /** The headers of a published message; `undefined` for an offered one (they are in `payload`). */
  headers: MsgHdrs | undefined;
  /** Of an offered message: the length of the header block that starts `payload`. */
  headerBytes: number;
  msgId: string | undefined;
  /** Its bytes, headers included. */
  size: number;
  attempts: number;
  /** When it was last sent (ms since the epoch). */
  sentAt: number;
}

/**
 * Headers already encoded, as the NATS client writes them: it only ever asks
 * a message's headers to `encode()` themselves when publishing.
 */
function encodedHeaders(bytes: Uint8Array): MsgHdrs {
  return { encode: () => bytes } as unknown as MsgHdrs;
}

const RETRY_MIN_MS = 100;
const RETRY_MAX_MS = 2000;

/**
 * Publishes into JetStream without waiting for each ack: up to `maxPending`
 * publishes are in flight (the NATS client writes them out in batches), and
 * every message stays in a bounded buffer until acknowledged. A failed
 * publish is retried, with backoff, until it succeeds or the publisher is
 * closed; while the connection is down nothing is sent.
 *
 * {@linkcode StreamPublisher.publish} resolves at once while there is room,
 * and otherwise once there is: a producer that awaits it stops when NATS is
 * unreachable, which is how a collector pushes back on its rooms.
 *
 * @example
 * ```ts ignore
 * const publisher = new StreamPublisher(cluster.connection, { maxBuffered: 1000 });
 * await publisher.publish("douyu.9999.chatmsg", bytes, headers, "9999:abc");
 * await publisher.flush(5000);
 * publisher.close();
 * ```
 */
export class StreamPublisher {
  readonly #connection: NatsConnection;
  /** Offered messages go out through it, a batch to a command, when the client allows. */
  readonly #commands: CommandBuffer | undefined;
  readonly #maxPending: number;
  /** Publishes in flight at or under which acks make the publisher send again. */
  readonly #refillAt: number;
  readonly #maxBuffered: number;
  readonly #maxBytes: number;
  readonly #ackTimeout: number;
  readonly #queue = new Fifo<Item>();
  /** Failed publishes, sent again before the queue (at most `maxPending` of them). */
  #retries: Item[] = [];
  readonly #lifetime = new AbortController();
  /** Publishes awaiting their ack, by the id in their reply subject, oldest first. */
  readonly #inFlight = new Map<string, Item>();
  #nextId = 0;
  readonly #inbox = createInbox();
  #acks: Subscription | undefined;
  #count = 0;
  #bytes = 0;
  #connected = true;
  #retryAt = 0;
  #retryTimerSet = false;
  #retryDelay = RETRY_MIN_MS;
  #space: Deferred<void> | undefined;
  #drained: Deferred<void> | undefined;
  #closed = false;
  #pumpQueued = false;
  readonly #onHealth: ((state: "failing" | "storing", reason: string) => void) | undefined;
  /** Why JetStream is failing, while it is. */
  #failing: string | undefined;
  #lastAckAt = Date.now();
  readonly #counters: PublisherCounters;

  /**
   * Creates a publisher on a connection.
   *
   * @param connection The NATS connection (the stream's acks come back on it; its status pauses
   *   sending while it is down).
   * @param options Bounds and the ack timeout.
   */
  constructor(connection: NatsConnection, options: PublisherOptions = {}) {
    this.#connection = connection;
    const writer = protocolWriter(connection);
    this.#commands = writer === undefined ? undefined : new CommandBuffer(writer);
    this.#maxPending = positive(options.maxPending ?? 1024, "maxPending", WHOLE);
    this.#refillAt = this.#maxPending - Math.max(1, Math.floor(this.#maxPending / 4));
    this.#maxBuffered = positive(options.maxBuffered ?? 10_000, "maxBuffered", WHOLE);
    this.#maxBytes = positive(
      options.maxBufferedBytes ?? 32 * 1024 * 1024,
      "maxBufferedBytes",
      WHOLE,
    );
    this.#ackTimeout = positive(options.ackTimeout ?? 5000, "ackTimeout", WHOLE);
    this.#onHealth = options.onHealth;
    this.#counters = {
      published: 0,
      duplicates: 0,
      retries: 0,
      rejected: 0,
      buffered: 0,
      maxBuffered: 0,
      bufferLimit: this.#maxBuffered,
      waits: 0,
    };
    void this.#watchConnection();
    this.#acks = connection.subscribe(`${this.#inbox}.*`, {
      callback: (error, msg) => {
        if (error === null) this.#onAck(msg);
      },
    });
    setRepeating(
      Math.max(50, Math.min(1000, Math.floor(this.#ackTimeout / 4))),
      () => this.#expire(),
      this.#lifetime.signal,
    );
  }

  /** A snapshot of the counters. */
  get counters(): PublisherCounters {
    return { ...this.#counters, buffered: this.#count };
  }

  /** True once closed: it takes nothing more. */
  get closed(): boolean {
    return this.#closed;
  }

  /** True while the buffer has no room: the next `publish()` would wait. */
  get full(): boolean {
    return this.#count >= this.#maxBuffered || this.#bytes >= this.#maxBytes;
  }

  /**
   * Hands over a message. Resolves once it is buffered: at once while there
   * is room, else when acks have made room (or the publisher closes, which
   * drops it).
   *
   * @param subject The subject.
   * @param payload The body.
   * @param headers Its headers (`Nats-Msg-Id` is set from `msgId`).
   * @param msgId The de-duplication id, if the message has one: 1 to 256
   * printable ASCII characters.
   * @throws {RangeError} `msgId` is not such an id (it would be refused as a
   * header each time the message is sent, outside any caller).
   */
  async publish(
    subject: string,
    payload: Uint8Array,
    headers: MsgHdrs,
    msgId?: string,
  ): Promise<void> {
    if (msgId !== undefined && !MSG_ID.test(msgId)) {
      throw new RangeError(`msgId must be 1 to 256 printable ASCII characters`);
    }
    if (this.full && !this.#closed) {
      this.#counters.waits++;
      while (this.full && !this.#closed) {
        this.#space ??= deferred<void>();
        await this.#space.promise;
      }
    }
    if (this.#closed) return;
    this.#add({
      subject,
      payload,
      headers,
      headerBytes: 0,
      msgId,
      size: payload.length,
      attempts: 0,
      sentAt: 0,
    });
  }

  /**
   * Hands over a message whose headers are encoded already, without waiting:
   * `message` holds the header block (`NATS/1.0…`, `Nats-Msg-Id` included if
   * any) in its first `headerBytes` bytes, then the body. A producer of many
   * messages calls it in a loop, and awaits {@linkcode StreamPublisher.room}
   * only when it returns false: no promise per message, and the NATS client
   * writes the whole batch out at once.
   *
   * @param subject The subject.
   * @param message Headers, then body.
   * @param headerBytes The length of the header block.
   * @returns False when the buffer is full (nothing taken) or the publisher closed.
   */
  offer(subject: string, message: Uint8Array, headerBytes: number): boolean {
    if (this.#closed || this.full) return false;
    this.#add({
      subject,
      payload: message,
      headers: undefined,
      headerBytes,
      msgId: undefined,
      size: message.length,
      attempts: 0,
      sentAt: 0,
    });
    return true;
  }

  /** Resolves once the buffer has room again (at once if it has), or the publisher closes. */
  async room(): Promise<void> {
    if (this.full && !this.#closed) {
      this.#counters.waits++;
      while (this.full && !this.#closed) {
        this.#space ??= deferred<void>();
        await this.#space.promise;
      }
    }
  }

  #add(item: Item): void {
    this.#queue.push(item);
    this.#count++;
    this.#bytes += item.size;
    if (this.#count > this.#counters.maxBuffered) this.#counters.maxBuffered = this.#count;
    // A batch handed over in one turn is sent in one go (the client writes it out at once).
    if (!this.#pumpQueued) {
      this.#pumpQueued = true;
      queueMicrotask(() => {
        this.#pumpQueued = false;
        this.#pump();
      });
    }
  }

  /**
   * Waits until every buffered message is acknowledged, or `timeout` ms.
   *
   * @param timeout Milliseconds at most.
   * @returns How many messages are still unacknowledged (0: all published).
   */
  async flush(timeout: number): Promise<number> {
    if (this.#count > 0 && !this.#closed) {
      this.#drained ??= deferred<void>();
      const stop = new AbortController();
      await Promise.race([
        this.#drained.promise,
        new Promise<void>((resolve) => setTimer(timeout, resolve, stop.signal)),
      ]);
      stop.abort();
    }
    return this.#count;
  }

  /** Stops sending and retrying; waiting `publish()` calls resolve, their messages dropped. */
  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#lifetime.abort();
    this.#acks?.unsubscribe();
    this.#acks = undefined;
    this.#queue.clear();
    this.#retries = [];
    this.#inFlight.clear();
    this.#space?.resolve();
    this.#space = undefined;
    this.#drained?.resolve();
    this.#drained = undefined;
  }

  async #watchConnection(): Promise<void> {
    const status = statusOf(this.#connection);
    this.#lifetime.signal.addEventListener("abort", () => status.stop(), { once: true });
    for await (const event of status) {
      if (event.type === "disconnect") {
        this.#connected = false;
        // Their acks cannot come on the next connection (and the client drops what it had not
        // written yet): send them again as soon as it is up, not an ack timeout later.
        for (const item of this.#inFlight.values()) this.#retries.push(item);
        this.#counters.retries += this.#inFlight.size;
        this.#inFlight.clear();
      } else if (event.type === "reconnect") {
        this.#connected = true;
        this.#retryDelay = RETRY_MIN_MS;
        this.#pump();
      }
    }
  }

  #pump(): void {
    if (this.#closed || !this.#connected) return;
    const now = Date.now();
    if (now < this.#retryAt) {
      this.#scheduleRetry(this.#retryAt - now);
      return;
    }
    while (this.#inFlight.size < this.#maxPending) {
      // A publish that just failed waits out its backoff: never sent again in the same turn.
      if (this.#retries.length > 0 && Date.now() < this.#retryAt) {
        this.#scheduleRetry(this.#retryAt - Date.now());
        break;
      }
      const item = this.#retries.shift() ?? this.#queue.shift();
      if (item === undefined) break;
      this.#send(item, now);
    }
    this.#commands?.flush();
  }

  #scheduleRetry(delay: number): void {
    if (this.#retryTimerSet) return;
    this.#retryTimerSet = true;
    setTimer(delay, () => {
      this.#retryTimerSet = false;
      this.#pump();
    }, this.#lifetime.signal);
  }

  /**
   * Publishes with a reply subject of its own: acks come to one subscription
   * and are matched by id, timeouts are found by one sweep (`#expire`), so a
   * publish costs no request object or timer of its own.
   */
  #send(item: Item, now: number): void {
    const id = (this.#nextId++).toString(36);
    const reply = `${this.#inbox}.${id}`;
    item.attempts++;
    item.sentAt = now;
    this.#inFlight.set(id, item);
    const { headers, payload } = item;
    if (headers === undefined && this.#commands !== undefined) {
      // The client's publish() would refuse these; its protocol writer does not check.
      const connection = this.#connection;
      if (connection.isClosed() || connection.isDraining()) {
        this.#inFlight.delete(id);
        this.#failed(item);
        return;
      }
      if (payload.length > (connection.info?.max_payload ?? Infinity)) {
        this.#inFlight.delete(id);
        this.#reject(item);
        return;
      }
      if (this.#commands.hpub(item.subject, reply, payload, item.headerBytes)) return;
    }
    if (headers !== undefined && item.msgId !== undefined) headers.set("Nats-Msg-Id", item.msgId);
    try {
      this.#connection.publish(
        item.subject,
        headers === undefined ? payload.subarray(item.headerBytes) : payload,
        { reply, headers: headers ?? encodedHeaders(payload.subarray(0, item.headerBytes)) },
      );
    } catch (error) {
      this.#inFlight.delete(id);
      // Larger than the server's max_payload: it never will fit. Anything else may pass later.
      if (/max_payload/i.test(errorText(error))) this.#reject(item);
      else this.#failed(item);
    }
  }

  /** An ack, an error from the stream, or "no responders" (JetStream unavailable). */
  #onAck(msg: Msg): void {
    const id = msg.subject.slice(this.#inbox.length + 1);
    const item = this.#inFlight.get(id);
    if (item === undefined || this.#closed) return;
    this.#inFlight.delete(id);
    let ack: ReturnType<typeof readAck>;
    try {
      ack = msg.headers?.hasError
        ? {
          error: { code: msg.headers.code, errCode: 0, description: "JetStream is not available" },
        }
        : readAck(msg.data);
    } catch {
      // Headers the client cannot decode (it decodes them on first use, and throws): not an
      // ack. A throw here would escape into the client's reader and stop it reading, and the
      // message, out of flight, would be neither retried nor counted.
      ack = undefined;
    }
    if (ack === undefined || "error" in ack) {
      const error = ack?.error;
      if (error !== undefined && NEVER_STORED.has(error.errCode)) {
        this.#reject(item);
        this.#refill();
        return;
      }
      if (error !== undefined && error.code === 503 || STORAGE_ERRORS.has(error?.errCode ?? 0)) {
        this.#health("failing", error!.description);
      }
      this.#failed(item);
      return;
    }
    this.#lastAckAt = Date.now();
    this.#health("storing", "");
    this.#retryDelay = RETRY_MIN_MS;
    this.#counters.published++;
    if (ack.duplicate) this.#counters.duplicates++;
    this.#release(item);
    this.#refill();
  }

  /**
   * After an ack: sends more once a quarter of the window has come back, not
   * one message per ack. Acks arrive a few at a time, and each refill is
   * written out as one socket write: batches of a quarter window keep those
   * writes few and large.
   */
  #refill(): void {
    if (this.#inFlight.size <= this.#refillAt) this.#pump();
  }

  /** Publishes unacknowledged for `ackTimeout` are sent again. */
  #expire(): void {
    const limit = Date.now() - this.#ackTimeout;
    if (this.#connected && this.#inFlight.size > 0 && this.#lastAckAt < limit) {
      const first = this.#inFlight.values().next().value;
      if (first !== undefined && first.sentAt <= limit) {
        this.#health("failing", `no acknowledgement for ${Math.round(this.#ackTimeout / 1000)} s`);
      }
    }
    // Oldest first (a Map keeps insertion order): stop at the first still in time.
    for (const [id, item] of this.#inFlight) {
      if (item.sentAt > limit) break;
      this.#inFlight.delete(id);
      this.#failed(item);
    }
  }

  /** Keeps a failed message, to be sent again before newer ones once the backoff has passed. */
  #failed(item: Item): void {
    if (this.#closed) return;
    this.#counters.retries++;
    // An offered message may share its buffer with many others (the collector encodes into
    // large shared buffers). Those others go in order; a retried one could keep its whole
    // buffer alive long after: it gets bytes of its own.
    if (item.attempts === 1) item.payload = item.payload.slice();
    this.#retries.push(item);
    this.#retryAt = Date.now() + this.#retryDelay;
    this.#retryDelay = Math.min(this.#retryDelay * 2, RETRY_MAX_MS);
    this.#pump();
  }

  /** Drops a message the server will never take, counted. */
  #reject(item: Item): void {
    this.#counters.rejected++;
    this.#release(item);
  }

  #health(state: "failing" | "storing", reason: string): void {
    if (state === "failing") {
      if (this.#failing !== undefined) return;
      this.#failing = reason;
    } else {
      if (this.#failing === undefined) return;
      this.#failing = undefined;
    }
    this.#onHealth?.(state, reason);
  }

  #release(item: Item): void {
    this.#count--;
    this.#bytes -= item.size;
    if (this.#space !== undefined && !this.full) {
      const space = this.#space;
      this.#space = undefined;
      space.resolve();
    }
    if (this.#count === 0 && this.#drained !== undefined) {
      const drained = this.#drained;
      this.#drained = undefined;
      drained.resolve();
    }
  }
}

/**
 * The connection's status events, as the stoppable iterator the client
 * returns (`status()` is typed as a plain iterable): `stop()` ends the loop.
 */
export function statusOf(connection: NatsConnection): QueuedIterator<Status> {
  return connection.status() as QueuedIterator<Status>;
}

/** JetStream error codes of a message it will never store: larger than the stream's limit. */
const NEVER_STORED = new Set([10054]);

const ACK_START = new TextEncoder().encode(`{"stream":`);
const ERROR_KEY = new TextEncoder().encode(`"error"`);
const DUPLICATE_KEY = new TextEncoder().encode(`"duplicate"`);
const TRUE = new TextEncoder().encode("true");
const STORED = { duplicate: false } as const;
const DUPLICATE = { duplicate: true } as const;

function startsWith(data: Uint8Array, prefix: Uint8Array): boolean {
  if (data.length < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (data[i] !== prefix[i]) return false;
  return true;
}

function includes(data: Uint8Array, part: Uint8Array): boolean {
  outer: for (let i = 0; i + part.length <= data.length; i++) {
    for (let j = 0; j < part.length; j++) if (data[i + j] !== part[j]) continue outer;
    return true;
  }
  return false;
}

/** A JetStream ack error. */
interface AckError {
  code: number;
  errCode: number;
  description: string;
}

/** A `Nats-Msg-Id` a header can carry: no space, no control character. */
const MSG_ID = /^[\x21-\x7e]{1,256}$/;

/**
 * A JetStream publish ack (`{"stream":…,"seq":…}`), or its error
 * (`{"error":{"code":…,"err_code":…,"description":…}}`); `undefined` when
 * neither.
 */
function readAck(data: Uint8Array): { duplicate: boolean } | { error: AckError } | undefined {
  if (data.length === 0 || data.length > 4096) return undefined;
  // Nearly every ack is `{"stream":"DOUYU", "seq":N}` (or with `"duplicate": true`): recognised
  // without parsing it.
  if (data.length < 128 && startsWith(data, ACK_START) && !includes(data, ERROR_KEY)) {
    return includes(data, DUPLICATE_KEY) && includes(data, TRUE) ? DUPLICATE : STORED;
  }
  const ack = parseJsonObject(data);
  if (ack === undefined) return undefined;
  const error = ownField(ack, "error");
  if (isRecord(error)) {
    const number = (name: string) => {
      const value = ownField(error, name);
      return typeof value === "number" ? value : 0;
    };
    const description = ownString(error, "description") ?? "JetStream error";
    return {
      error: {
        code: number("code"),
        errCode: number("err_code"),
        description: sanitizeForTerminal(description.slice(0, 200)),
      },
    };
  }
  if (typeof ownField(ack, "seq") !== "number") return undefined;
  return { duplicate: ownField(ack, "duplicate") === true };
}
