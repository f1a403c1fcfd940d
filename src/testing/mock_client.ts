/**
 * One connection to the mock server, as the server sees it: {@linkcode MockClient}.
 *
 * @module
 */
import { concat } from "../base/bytes.ts";
import { ClosedError, ProtocolError } from "../base/errors.ts";
import { encodeFrame, FrameDecoder, SERVER_MESSAGE_TYPE } from "../protocol/frame.ts";
import { decodeStt } from "../protocol/stt.ts";
import type { Transport } from "../transport/seam.ts";
import { replayDelay } from "../protocol/record.ts";
import { type Deferred, deferred, MAX_TIMEOUT, sleep } from "../base/timers.ts";
import { addWaiter, isAsyncIterable, serverFrame } from "./frames.ts";
import type {
  MockMessage,
  MockMessageSource,
  MockProtocol,
  RecordedLine,
  SendFramesMode,
  Settings,
  WaitForOptions,
} from "./mock_options.ts";

/** The length both fields of {@linkcode MockClient.sendHugeLength}'s header announce. */
const HUGE_LENGTH = 2_000_000_000;
/** Back-to-back streaming checks every this many frames that the event loop gets turns. */
const YIELD_EVERY = 64;
/** …and waits for a timer turn when none happened for this many milliseconds. */
const STARVED_MS = 4;
/** Size of the writes a back-to-back stream is gathered into. */
const BATCH_BYTES = 16 * 1024;
/** `crypto.getRandomValues` fills at most this many bytes per call. */
const RANDOM_CHUNK = 65536;
/** Longer message types are not counted for `waitFor` (see `maxMessageTypes`). */
const MAX_COUNTED_TYPE_LENGTH = 64;
/** The answer to every `mrkl`, encoded once: a flood of them is answered without re-encoding. */
const MRKL_ANSWER = encodeFrame("type@=mrkl/", SERVER_MESSAGE_TYPE);

/** What the server needs from a client beyond its public API. */
export interface ClientControl {
  readonly client: MockClient;
  /** Joined, open and not silenced: a target of `broadcast()`. */
  live(): boolean;
  hasJoined(): boolean;
  /** Settles once the client's read loop, stream and writes have all ended. */
  finished(): Promise<void>;
  /** Already handed out by `nextClient()`. */
  consumed: boolean;
}

/** What the server gives a client it accepted. */
export interface ClientInit {
  id: number;
  protocol: MockProtocol;
  conn: Transport;
  settings: Settings;
  /** Called when the client sends its first `joingroup`. */
  onJoin: () => void;
  /** Called once, when the client closes (whoever closed it). */
  onClose: () => void;
}

/** Set by `MockClient`'s static block: only the server creates clients. */
export let createClient: (init: ClientInit) => ClientControl;

/**
 * One connection to a {@linkcode MockServer}, as the server sees it: what the
 * client sent, its session progress, and ways to send it anything, well
 * formed or not. Obtained from {@linkcode MockServer.nextClient} or
 * {@linkcode MockServer.clients}; never constructed directly.
 *
 * Automatic behaviour: `loginreq` is answered with `loginres` then `pingreq`;
 * the first `joingroup` starts the stream of scripted messages; `mrkl` is
 * answered with `mrkl`; `logout` closes the connection; a packet that breaks
 * framing closes it too (a byte stream cannot be resynchronised).
 *
 * @example Checking what a bot sent, and breaking its connection
 * ```ts ignore
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start();
 * // … point the bot at server.url …
 * const client = await server.nextClient();
 * console.log(client.received[0]); // { type: "loginreq", roomid: "9999" }
 * await client.send({ type: "chatmsg", nn: "Ann", txt: "hi" });
 * await client.cutMidFrame("type@=chatmsg/txt@=never completed/"); // the bot should reconnect
 * ```
 */
export class MockClient {
  /** 1 for the server's first connection, then 2, 3, … */
  readonly id: number;
  /** The transport this client connected over. */
  readonly protocol: MockProtocol;
  /**
   * Resolves once `loginreq` was answered (`loginres` and `pingreq` written).
   * Rejects with a `ClosedError` if the connection ends first; that rejection
   * is pre-handled, so an unobserved promise never crashes a test.
   */
  readonly loggedIn: Promise<void>;
  /**
   * Resolves with the client's first `joingroup` message, once it arrives.
   * Rejects (pre-handled) with a `ClosedError` if the connection ends first.
   */
  readonly joined: Promise<Record<string, string>>;
  /** Resolves when the connection is gone, whoever closed it. Never rejects. */
  readonly closed: Promise<void>;

  readonly #conn: Transport;
  readonly #settings: Settings;
  readonly #onJoin: () => void;
  readonly #onClose: () => void;
  /** Aborted on close: cancels every timer and the stream of this client. */
  readonly #controller = new AbortController();
  /**
   * The newest messages received, from `#logHead` on (older slots are
   * emptied, and removed in bulk once they are half of the array), with the
   * body length of each in `#logSizes`.
   */
  readonly #log: (Record<string, string> | undefined)[] = [];
  readonly #logSizes: number[] = [];
  #logHead = 0;
  #logChars = 0;
  /** What `received` returned, until the log changes. */
  #logView: readonly Record<string, string>[] | undefined;
  /** How many messages of each type arrived, for `waitFor` (see `maxMessageTypes`). */
  readonly #counts = new Map<string, number>();
  /** Bytes of the writes queued in `#writes` (and of `#answers`) not written yet. */
  #queuedBytes = 0;
  /**
   * Automatic answers waiting for their turn in `#writes`, to go out in one
   * write; what to call once they have; and their size.
   */
  #answers: Uint8Array[] = [];
  #answered: (() => void)[] = [];
  #answersBytes = 0;
  readonly #waiters: {
    type: string;
    count: number;
    deferred: Deferred<Record<string, string>>;
  }[] = [];
  readonly #loggedIn = deferred<void>();
  readonly #joined = deferred<Record<string, string>>();
  readonly #closed = deferred<void>();
  /**
   * Every write goes through this chain, so a multi-write operation (split
   * frames, half a frame then close) is never interleaved with a streamed or
   * automatic frame.
   */
  #writes: Promise<void> = Promise.resolve();
  #open = true;
  #silenced = false;
  #hasJoined = false;
  #lastActivity = performance.now();
  #sinceYield = 0;
  /** Frames streamed back to back, waiting to go out in one write. */
  #batch: Uint8Array[] = [];
  #batchBytes = 0;
  /** The marker timer of `#yield()`, and whether it fired. */
  #tick: Promise<void> | undefined;
  #tickFired = false;
  #tickArmedAt = 0;
  readonly #tasks: Promise<void>[] = [];

  static {
    createClient = (init) => {
      const client = new MockClient(init);
      return {
        client,
        live: () => client.#open && client.#hasJoined && !client.#silenced,
        hasJoined: () => client.#hasJoined,
        finished: async () => {
          await Promise.allSettled(client.#tasks);
          await client.#writes;
        },
        consumed: false,
      };
    };
  }

  private constructor(init: ClientInit) {
    this.id = init.id;
    this.protocol = init.protocol;
    this.#conn = init.conn;
    this.#settings = init.settings;
    this.#onJoin = init.onJoin;
    this.#onClose = init.onClose;
    this.loggedIn = this.#loggedIn.promise;
    this.joined = this.#joined.promise;
    this.closed = this.#closed.promise;
    // Pre-handled: most tests never look at these, and a rejection nobody
    // observes would otherwise crash the test run.
    this.loggedIn.catch(() => {});
    this.joined.catch(() => {});
    this.#tasks.push(this.#readLoop());
    if (init.settings.idleTimeout > 0) this.#watchIdle(init.settings.idleTimeout);
  }

  /**
   * The messages the client sent, decoded with `decodeStt`, in order: every
   * one, or the newest ones once there are more than
   * {@linkcode MockServerOptions.maxReceived} of them (or more than
   * {@linkcode MockServerOptions.maxReceivedChars} characters). A snapshot:
   * read it again to see later messages.
   *
   * @example
   * ```ts ignore
   * const types = client.received.map((message) => message.type);
   * console.log(types); // [ "loginreq", "joingroup", "mrkl" ]
   * ```
   */
  get received(): readonly Record<string, string>[] {
    this.#logView ??= this.#log.slice(this.#logHead) as Record<string, string>[];
    return this.#logView;
  }

  /**
   * Whether the connection is still open.
   *
   * @example
   * ```ts ignore
   * client.close();
   * console.log(client.isOpen); // false
   * ```
   */
  get isOpen(): boolean {
    return this.#open;
  }

  /**
   * Resolves with the `count`-th message of `type` the client sent, counting
   * every message received so far (so it resolves at once if that many
   * already arrived), not only those still in
   * {@linkcode MockClient.received}. If that many arrived but the `count`-th
   * has left the log since, it resolves with the oldest message of `type`
   * still there, or with `{ type }` when none is. (Types past
   * {@linkcode MockServerOptions.maxMessageTypes} are counted in the log only.)
   *
   * @param type A message type such as `"mrkl"` or `"joingroup"`.
   * @param count Which one: 1 (the default) for the first.
   * @param options `signal` to give up.
   * @returns The decoded message.
   * @throws {ClosedError} (as a rejection) if the connection ends first.
   *
   * @example Waiting for the second heartbeat
   * ```ts ignore
   * const second = await client.waitFor("mrkl", 2);
   * console.log(second); // { type: "mrkl" }
   * ```
   */
  waitFor(
    type: string,
    count: number = 1,
    options: WaitForOptions = {},
  ): Promise<Record<string, string>> {
    if (!Number.isInteger(count) || count < 1) {
      return Promise.reject(new RangeError(`count must be an integer >= 1, got ${count}`));
    }
    const logged = this.received.filter((message) => message.type === type);
    const seen = this.#counts.get(type) ??
      (this.#countable(type) ? 0 : logged.length);
    if (seen >= count) {
      // The log holds the last `logged.length` of the `seen` messages of this type.
      const index = Math.max(0, count - 1 - (seen - logged.length));
      return Promise.resolve(logged[index] ?? { type });
    }
    if (!this.#open) {
      return Promise.reject(
        new ClosedError(`client ${this.id} closed after ${seen} "${type}" message(s)`),
      );
    }
    const waiter = { type, count: count - seen, deferred: deferred<Record<string, string>>() };
    return addWaiter<Record<string, string>, typeof waiter>(this.#waiters, waiter, options.signal);
  }

  /**
   * Sends one message as one packet in one write. Works even after
   * {@linkcode MockClient.silence}: an explicit send is deliberate.
   *
   * @param message An STT body, or a value to encode with `encodeStt`.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * await client.send({ type: "chatmsg", nn: "Ann", txt: "hello" });
   * await client.send("type@=rss/rid@=9999/ss@=0/");
   * ```
   */
  send(message: MockMessage): Promise<void> {
    const frame = serverFrame(message);
    return this.#enqueue(() => this.#conn.write(frame), frame.byteLength);
  }

  /**
   * Sends several packets at once, in one of two shapes clients must cope
   * with: all in one write, or their bytes in writes of at most `split`
   * bytes (a packet then spans several reads). No other frame is written in
   * between.
   *
   * @param messages The messages, in order.
   * @param mode `"coalesce"` (default) or `{ split: n }`.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * const batch = [{ type: "chatmsg", txt: "one" }, { type: "chatmsg", txt: "two" }];
   * await client.sendFrames(batch); // one write
   * await client.sendFrames(batch, { split: 3 }); // 3-byte writes
   * ```
   */
  sendFrames(
    messages: readonly MockMessage[],
    mode: SendFramesMode = "coalesce",
  ): Promise<void> {
    const bytes = concat(messages.map(serverFrame));
    if (mode === "coalesce") return this.#enqueue(() => this.#conn.write(bytes), bytes.byteLength);
    const size = mode.split;
    if (!Number.isInteger(size) || size < 1) {
      return Promise.reject(new RangeError(`split must be an integer >= 1, got ${size}`));
    }
    return this.#enqueue(async () => {
      // One awaited write per piece, so each leaves as its own segment or message.
      for (let pos = 0; pos < bytes.byteLength; pos += size) {
        await this.#conn.write(bytes.subarray(pos, pos + size));
      }
    }, bytes.byteLength);
  }

  /**
   * Writes bytes as they are, in one write: for packets the other helpers
   * cannot make (a wrong message type, a missing terminator, …).
   *
   * @param bytes The bytes; copied, so the caller may reuse the array.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example A packet without its NUL terminator
   * ```ts ignore
   * import { encodeFrame } from "@x/douyu";
   *
   * const frame = encodeFrame("type@=chatmsg/txt@=hi/", 690);
   * frame[frame.length - 1] = 0x2f; // "/" instead of NUL
   * await client.sendRaw(frame);
   * ```
   */
  sendRaw(bytes: Uint8Array): Promise<void> {
    const copy = bytes.slice();
    return this.#enqueue(() => this.#conn.write(copy), copy.byteLength);
  }

  /**
   * Writes the first half of a packet, then closes the connection: the client
   * holds an incomplete packet when it reads the end of the stream.
   *
   * @param message The packet to cut.
   * @throws {ClosedError} (as a rejection) if the connection is already closed.
   *
   * @example
   * ```ts ignore
   * await client.cutMidFrame({ type: "chatmsg", txt: "lost" });
   * await client.closed;
   * ```
   */
  cutMidFrame(message: MockMessage): Promise<void> {
    const frame = serverFrame(message);
    return this.#enqueue(async () => {
      try {
        await this.#conn.write(frame.subarray(0, Math.max(1, Math.floor(frame.length / 2))));
      } finally {
        this.close();
      }
    }, frame.byteLength);
  }

  /**
   * From now on sends nothing on its own and answers nothing (no `loginres`,
   * no `mrkl`, no streamed or broadcast messages; `logout` and `idleTimeout`
   * no longer close it), yet keeps the socket open and keeps recording what
   * the client sends: a half-open peer, as after a silent network failure.
   * Explicit {@linkcode MockClient.send} calls still write.
   *
   * @example A bot must notice the server went quiet
   * ```ts ignore
   * const client = await server.nextClient();
   * client.silence();
   * // … the bot should time out and reconnect:
   * const again = await server.nextClient();
   * ```
   */
  silence(): void {
    this.#silenced = true;
  }

  /**
   * Writes random bytes; the header they start with has two length fields
   * that differ, so the client's framing must fail (once 12 bytes arrived).
   *
   * @param bytes How many bytes, 64 by default. Fewer than 12 cannot complete
   * a header, so the client notices only when more bytes follow.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * await client.sendGarbage(); // the bot's decoder raises a ProtocolError and reconnects
   * ```
   */
  sendGarbage(bytes: number = 64): Promise<void> {
    if (!Number.isInteger(bytes) || bytes < 1) {
      return Promise.reject(new RangeError(`bytes must be an integer >= 1, got ${bytes}`));
    }
    const garbage = new Uint8Array(bytes);
    for (let pos = 0; pos < bytes; pos += RANDOM_CHUNK) {
      crypto.getRandomValues(garbage.subarray(pos, pos + RANDOM_CHUNK));
    }
    // Random length fields match with odds of 2^-32; make them never match,
    // so the test outcome does not depend on luck.
    if (bytes > 4) garbage[4] = garbage[0]! ^ 0xff;
    return this.#enqueue(() => this.#conn.write(garbage), garbage.byteLength);
  }

  /**
   * Writes a packet header announcing a 2,000,000,000-byte packet (and nothing
   * after it): a client must reject it before allocating anything.
   *
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * await client.sendHugeLength(); // the bot's decoder raises a ProtocolError
   * ```
   */
  sendHugeLength(): Promise<void> {
    const header = new Uint8Array(12);
    const view = new DataView(header.buffer);
    view.setUint32(0, HUGE_LENGTH, true);
    view.setUint32(4, HUGE_LENGTH, true);
    view.setUint16(8, SERVER_MESSAGE_TYPE, true);
    return this.#enqueue(() => this.#conn.write(header), header.byteLength);
  }

  /**
   * Closes the connection now (the client reads the end of the stream).
   * Idempotent. Stops streaming and settles every pending promise.
   *
   * @example
   * ```ts ignore
   * client.close(); // the bot should reconnect
   * const next = await server.nextClient();
   * ```
   */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#controller.abort();
    this.#conn.close();
    const error = new ClosedError(`mock client ${this.id} closed`);
    this.#loggedIn.reject(error);
    this.#joined.reject(error);
    for (const waiter of this.#waiters.splice(0)) waiter.deferred.reject(error);
    this.#answers = [];
    this.#answered = [];
    this.#closed.resolve();
    this.#onClose();
  }

  /**
   * Runs `job`, a write of `size` bytes, after every earlier write; fails
   * fast once closed. Closes the client instead when too much is queued
   * already (see `maxPendingBytes`).
   */
  #enqueue(job: () => Promise<void>, size: number): Promise<void> {
    if (!this.#admit(size)) return Promise.reject(this.#closedError());
    this.#queuedBytes += size;
    const result = this.#writes.then(() => {
      if (!this.#open) throw this.#closedError();
      return job();
    });
    const settled = () => {
      this.#queuedBytes -= size;
    };
    this.#writes = result.then(settled, settled);
    return result;
  }

  /**
   * Whether `size` more bytes may be queued; if not, the client does not read
   * what it is sent, and is closed.
   */
  #admit(size: number): boolean {
    if (!this.#open) return false;
    const queued = this.#queuedBytes;
    if (queued > 0 && queued + size > this.#settings.maxPendingBytes) {
      this.close();
      return false;
    }
    return true;
  }

  #closedError(): ClosedError {
    return new ClosedError(`mock client ${this.id} is closed`);
  }

  /**
   * Queues an automatic answer. Answers that arrive while earlier writes
   * wait join one write, so a client sending thousands of `mrkl` in a burst
   * costs one write, and its bytes, not thousands of queued writes.
   */
  #answer(frames: readonly Uint8Array[], onWritten?: () => void): void {
    let size = 0;
    for (const frame of frames) size += frame.byteLength;
    if (!this.#admit(size)) return;
    // No write queued yet to take these (a queued one takes all there are when its turn comes).
    if (this.#answersBytes === 0) this.#queueAnswers();
    this.#answers.push(...frames);
    if (onWritten !== undefined) this.#answered.push(onWritten);
    this.#queuedBytes += size;
    this.#answersBytes += size;
  }

  /** Queues the write of the answers there will be when its turn comes. */
  #queueAnswers(): void {
    let taken = 0;
    const settled = () => {
      this.#queuedBytes -= taken;
    };
    this.#enqueue(async () => {
      const frames = this.#answers;
      const callbacks = this.#answered;
      taken = this.#answersBytes;
      this.#answers = [];
      this.#answered = [];
      this.#answersBytes = 0;
      await this.#conn.write(frames.length === 1 ? frames[0]! : concat(frames));
      for (const callback of callbacks) callback();
    }, 0).then(settled, settled);
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder({ maxFrameSize: this.#settings.maxFrameSize });
    try {
      while (this.#open) {
        let chunk: Uint8Array | null;
        try {
          chunk = await this.#conn.read();
        } catch {
          return; // the connection was lost: the client is gone
        }
        if (chunk === null) return;
        this.#lastActivity = performance.now();
        let frames;
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          // A byte stream cannot be resynchronised: the real server hangs up too.
          if (error instanceof ProtocolError) return;
          throw error;
        }
        for (const frame of frames) {
          if (!this.#open) return;
          this.#handle(frame.body);
        }
        // Good frames came before a bad header in this chunk: hang up now, not on the next read.
        if (decoder.error !== undefined) return;
      }
    } finally {
      this.close();
    }
  }

  #handle(body: string): void {
    const message = decodeStt(body);
    this.#record(message, body.length);
    if (this.#waiters.length > 0) {
      for (const waiter of [...this.#waiters]) {
        if (waiter.deferred.settled || waiter.type !== message.type) continue;
        if (--waiter.count === 0) waiter.deferred.resolve(message);
      }
    }
    if (this.#silenced) return;
    switch (message.type) {
      case "loginreq":
        if (this.#settings.answerLogin) this.#answerLogin();
        break;
      case "joingroup":
        if (!this.#hasJoined) {
          this.#hasJoined = true;
          this.#joined.resolve(message);
          this.#onJoin();
          this.#tasks.push(this.#stream());
        }
        break;
      case "mrkl":
        this.#answer([MRKL_ANSWER]);
        break;
      case "logout":
        this.close();
        break;
    }
  }

  /** Adds a message to the bounded log and to the counts. */
  #record(message: Record<string, string>, size: number): void {
    const log = this.#log;
    log.push(message);
    this.#logSizes.push(size);
    this.#logChars += size;
    this.#logView = undefined;
    const { maxReceived, maxReceivedChars } = this.#settings;
    // The newest message always stays, however large.
    while (
      log.length - this.#logHead > 1 &&
      (log.length - this.#logHead > maxReceived || this.#logChars > maxReceivedChars)
    ) {
      this.#logChars -= this.#logSizes[this.#logHead]!;
      log[this.#logHead++] = undefined;
    }
    if (this.#logHead >= 1024 && this.#logHead * 2 >= log.length) {
      log.splice(0, this.#logHead);
      this.#logSizes.splice(0, this.#logHead);
      this.#logHead = 0;
    }
    const type = message.type;
    if (type === undefined) return;
    const count = this.#counts.get(type);
    if (count !== undefined) this.#counts.set(type, count + 1);
    else if (this.#countable(type)) this.#counts.set(type, 1);
  }

  /** Whether `type` has (or would get) an entry in the counts. */
  #countable(type: string): boolean {
    return this.#counts.has(type) ||
      (type.length <= MAX_COUNTED_TYPE_LENGTH &&
        this.#counts.size < this.#settings.maxMessageTypes);
  }

  #answerLogin(): void {
    // The real server follows loginres with a pingreq carrying its clock.
    this.#answer(
      [
        serverFrame(this.#settings.loginResponse),
        serverFrame(`type@=pingreq/tick@=${Date.now()}/`),
      ],
      () => this.#loggedIn.resolve(),
    );
  }

  /** Closes the client once nothing arrived for `limit` ms; one timer, re-armed lazily. */
  #watchIdle(limit: number): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      // A dead (silenced) peer never hangs up on anyone.
      if (this.#silenced || !this.#open) return;
      const idle = performance.now() - this.#lastActivity;
      if (idle >= limit) this.close();
      else timer = setTimeout(check, Math.min(limit - idle, MAX_TIMEOUT));
    };
    timer = setTimeout(check, Math.min(limit, MAX_TIMEOUT));
    this.#controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }

  #streaming(): boolean {
    return this.#open && !this.#silenced;
  }

  /**
   * Writes one streamed message; false once streaming should stop. With
   * `coalesce`, frames are gathered and written in batches of about 16 KiB,
   * as a busy real server's stream arrives (one packet per write would make
   * the mock, not the client under test, the bottleneck). Only whole frames
   * are batched, so each WebSocket message still holds complete packets.
   */
  async #emit(message: MockMessage | Uint8Array, coalesce = false): Promise<boolean> {
    if (!this.#streaming()) return false;
    const frame = message instanceof Uint8Array ? message : serverFrame(message);
    if (coalesce) {
      this.#batch.push(frame);
      this.#batchBytes += frame.length;
      return this.#batchBytes < BATCH_BYTES || await this.#flush();
    }
    if (!await this.#flush()) return false;
    try {
      await this.#enqueue(() => this.#conn.write(frame), frame.byteLength);
    } catch {
      return false;
    }
    // Awaiting each write is the backpressure; this yield keeps timers and
    // other connections running when writes complete synchronously.
    if (++this.#sinceYield >= YIELD_EVERY) {
      this.#sinceYield = 0;
      await this.#yield();
    }
    return this.#streaming();
  }

  /** Writes the pending batch; false once streaming should stop. */
  async #flush(): Promise<boolean> {
    if (this.#batch.length === 0) return this.#streaming();
    const bytes = concat(this.#batch);
    this.#batch = [];
    this.#batchBytes = 0;
    if (!this.#streaming()) return false;
    try {
      await this.#enqueue(() => this.#conn.write(bytes), bytes.byteLength);
    } catch {
      return false;
    }
    await this.#yield();
    return this.#streaming();
  }

  /**
   * Makes sure the event loop runs timers at least every few milliseconds
   * while streaming back to back; on Bun, writes that complete at once would
   * otherwise starve them for 100+ ms. A `setTimeout(0)` costs 1–2 ms, so
   * sleeping on one every batch would cap streaming at ~30,000 messages/s;
   * instead a marker timer is armed, and the stream waits for it only when it
   * has not fired for `STARVED_MS`, i.e. when the loop really gets no turns.
   */
  async #yield(): Promise<void> {
    if (this.#tick !== undefined && !this.#tickFired) {
      if (performance.now() - this.#tickArmedAt < STARVED_MS) return;
      await this.#tick;
    }
    this.#tickFired = false;
    this.#tickArmedAt = performance.now();
    this.#tick = sleep(0, this.#controller.signal).then(() => {
      this.#tickFired = true;
    });
  }

  async #stream(): Promise<void> {
    try {
      const { recording, messages } = this.#settings;
      if (recording !== undefined) await this.#streamRecording(recording);
      else if (messages !== undefined) await this.#streamMessages(messages);
    } catch (error) {
      // The user's message source threw: end this client and let the error surface.
      this.close();
      throw error;
    }
  }

  async #streamMessages(source: MockMessageSource): Promise<void> {
    const { interval, loop } = this.#settings;
    const signal = this.#controller.signal;
    let first = true;
    const next = async (message: MockMessage, coalesce: boolean): Promise<boolean> => {
      if (!first && interval > 0) await sleep(interval, signal);
      first = false;
      return await this.#emit(message, coalesce && interval === 0);
    };
    do {
      const items = typeof source === "function" ? source() : source;
      let count = 0;
      if (isAsyncIterable(items)) {
        const iterator = items[Symbol.asyncIterator]();
        const stopped = deferred<undefined>();
        const onAbort = () => stopped.resolve(undefined);
        signal.addEventListener("abort", onAbort, { once: true });
        let done = false;
        try {
          for (;;) {
            // A source may wait forever (a live feed): closing must not wait for it.
            const result = await Promise.race([iterator.next(), stopped.promise]);
            if (result === undefined) return;
            if (result.done === true) {
              done = true;
              break;
            }
            count++;
            // A live async source may pause for long: never hold its messages back.
            if (!await next(result.value, false)) return;
          }
        } finally {
          signal.removeEventListener("abort", onAbort);
          // Lets an async generator run its `finally` blocks; its errors are not ours.
          if (!done) Promise.resolve().then(() => iterator.return?.()).catch(() => {});
        }
      } else {
        for (const message of items) {
          count++;
          if (!await next(message, true)) return;
        }
        if (!await this.#flush()) return;
      }
      // An empty (or exhausted one-shot) source would make `loop` spin forever.
      if (count === 0) return;
    } while (loop && this.#streaming());
  }

  async #streamRecording(lines: readonly RecordedLine[]): Promise<void> {
    if (lines.length === 0) return;
    const { speed, loop } = this.#settings;
    const signal = this.#controller.signal;
    do {
      const start = performance.now();
      for (const [index, line] of lines.entries()) {
        const wait = replayDelay(line, lines[0]!, performance.now() - start, speed);
        if (wait > 0) {
          if (!await this.#flush()) return;
          await sleep(wait, signal);
        }
        // Lines already due go out together, like a burst on the real server.
        const frames = this.#settings.recordingFrames;
        const frame = frames[index] ??= serverFrame(line.body);
        if (!await this.#emit(frame, true)) return;
      }
      if (!await this.#flush()) return;
    } while (loop && this.#streaming());
  }
}
