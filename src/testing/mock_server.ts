/**
 * A mock Douyu barrage server on 127.0.0.1, for testing bots offline: it
 * answers the session handshake like the real server (docs/protocol.md, "The session"),
 * streams scripted or recorded messages after `joingroup`, records what each
 * client sent (the newest messages, and counts of all), and can misbehave on demand (split or coalesced packets, a
 * packet cut by a hang-up, garbage, a huge length, a silent half-open peer).
 *
 * It only uses the transport seam (`listen()` from `transport/default.ts`), so it
 * runs unchanged on every runtime that seam supports. Every timer hangs off
 * an `AbortSignal`, so `close()` leaves nothing running (Deno's op and
 * resource sanitizers stay green).
 *
 * Clients are not trusted: what one can make the server hold is bounded
 * (`MockServerOptions.maxClients` and the options after it), and a client
 * that sends without reading the answers is disconnected.
 *
 * @module
 */
import { concat } from "../base/bytes.ts";
import { ClosedError, ProtocolError } from "../base/errors.ts";
import { encodeFrame, FrameDecoder, SERVER_MESSAGE_TYPE } from "../protocol/frame.ts";
import { decodeStt, encodeStt, type SttValue } from "../protocol/stt.ts";
import type { Listener, Transport } from "../transport/seam.ts";
import { listen } from "../transport/default.ts";
import { type RecordLine, replayDelay } from "../protocol/record.ts";
import { type Deferred, deferred, MAX_TIMEOUT, sleep } from "../base/timers.ts";

/**
 * A transport the mock server listens on: `tcp` (raw packets) or `ws`
 * (packets in binary WebSocket messages).
 *
 * @example
 * ```ts
 * import type { MockProtocol } from "@x/douyu/testing";
 *
 * const protocols: MockProtocol[] = ["tcp", "ws"];
 * console.log(protocols.length); // 2
 * ```
 */
export type MockProtocol = "tcp" | "ws";

/**
 * One server message: a string is an STT body sent as is; anything else is
 * serialized with `encodeStt` first.
 *
 * @example
 * ```ts
 * import type { MockMessage } from "@x/douyu/testing";
 *
 * const raw: MockMessage = "type@=chatmsg/nn@=Ann/txt@=hi/";
 * const encoded: MockMessage = { type: "chatmsg", nn: "Ann", txt: "hi" }; // the same body
 * console.log(typeof raw, typeof encoded); // "string" "object"
 * ```
 */
export type MockMessage = string | SttValue;

/**
 * One line of a recording: when it arrived (ms, any epoch) and its STT body,
 * the shape of each line of a `.jsonl` capture and of `douyu --record`.
 *
 * @example
 * ```ts
 * import type { RecordedLine } from "@x/douyu/testing";
 *
 * const line: RecordedLine = { t: 1609674160176, body: "type@=uenter/nn@=Ann/" };
 * console.log(line.body);
 * ```
 */
export type RecordedLine = RecordLine;

/**
 * Where the messages streamed after `joingroup` come from: an iterable (an
 * array is iterated afresh for each client; a generator object only once, so
 * only the first client would get its items), or a function called once per
 * client (and once per pass with `loop`) that returns a sync or async iterable.
 *
 * @example
 * ```ts
 * import type { MockMessageSource } from "@x/douyu/testing";
 *
 * const fixed: MockMessageSource = ["type@=chatmsg/txt@=one/", { type: "chatmsg", txt: "two" }];
 * const perClient: MockMessageSource = function* () {
 *   for (let i = 0; i < 3; i++) yield { type: "chatmsg", txt: `message ${i}` };
 * };
 * console.log(Array.isArray(fixed), typeof perClient); // true "function"
 * ```
 */
export type MockMessageSource =
  | Iterable<MockMessage>
  | (() => Iterable<MockMessage> | AsyncIterable<MockMessage>);

/**
 * Options of {@linkcode MockServer.start}.
 *
 * @example A recording replayed twice as fast, forever, over TCP and WebSocket
 * ```ts ignore
 * import { MockServer, type MockServerOptions } from "@x/douyu/testing";
 *
 * const options: MockServerOptions = {
 *   protocols: ["tcp", "ws"],
 *   recording: [
 *     { t: 0, body: "type@=chatmsg/nn@=Ann/txt@=hello/" },
 *     { t: 1500, body: "type@=uenter/nn@=Bob/" },
 *   ],
 *   speed: 2,
 *   loop: true,
 *   idleTimeout: 90_000,
 * };
 * await using server = await MockServer.start(options);
 * console.log(server.urls); // { tcp: "tcp://127.0.0.1:…", ws: "ws://127.0.0.1:…/" }
 * ```
 */
export interface MockServerOptions {
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /**
   * Port of the first protocol's listener. Default 0: the OS picks one (see
   * {@linkcode MockServer.url}). Further protocols always get an OS-picked
   * port, since two listeners cannot share one.
   */
  port?: number;
  /** Transports to listen on; the first one is {@linkcode MockServer.url}. Default `["tcp"]`. */
  protocols?: readonly MockProtocol[];
  /**
   * Bodies streamed to each client after its `joingroup`, in order. Strings
   * are STT bodies; anything else is encoded with `encodeStt`. Cannot be
   * combined with `recording`.
   */
  messages?: MockMessageSource;
  /**
   * Alternatively a recording: lines streamed with their original spacing
   * divided by `speed`, the first one right after `joingroup`. Session
   * messages in it (`loginres`, `pingreq`, `mrkl`) are streamed like any
   * other; filter them out first if unwanted.
   */
  recording?: readonly RecordedLine[];
  /** For `recording`: 1 = real time, 2 = twice as fast, 0 = as fast as possible. Default 1. */
  speed?: number;
  /**
   * Milliseconds between two `messages`. Default 0: back to back, each one a
   * separate write that waits for the previous one (write backpressure), with
   * a yield to the event loop every 64 frames.
   */
  interval?: number;
  /** Repeat `messages` or `recording` forever. Default false. */
  loop?: boolean;
  /**
   * The `loginres` body answering `loginreq`. Default
   * {@linkcode DEFAULT_LOGIN_RESPONSE}, an anonymous login as the real server
   * answers it. Like the real server, the mock then sends
   * `type@=pingreq/tick@=<ms>/`.
   */
  loginResponse?: string;
  /**
   * Close a client that sent nothing for this many milliseconds, as the real
   * server drops clients that stop sending heartbeats. Default 0: never.
   */
  idleTimeout?: number;
  /** Answer `loginreq`. Default true; false never answers (to test login timeouts). */
  answerLogin?: boolean;
  /**
   * Most connections open at once. One more is closed as soon as it is
   * accepted, without a word; the listeners keep accepting others. Default
   * {@linkcode MOCK_SERVER_LIMITS}`.maxClients` (1000).
   */
  maxClients?: number;
  /**
   * How many clients that have disconnected {@linkcode MockServer.clients}
   * (and {@linkcode MockServer.nextClient}) still know: the most recent ones.
   * Older ones are forgotten, so a server that sees connection after
   * connection does not keep them all. Default
   * {@linkcode MOCK_SERVER_LIMITS}`.maxClosedClients` (100).
   */
  maxClosedClients?: number;
  /**
   * Most messages each client's {@linkcode MockClient.received} log keeps:
   * the newest. {@linkcode MockClient.waitFor} counts every message anyway.
   * Default {@linkcode MOCK_SERVER_LIMITS}`.maxReceived` (1000).
   */
  maxReceived?: number;
  /**
   * Most characters (UTF-16 code units) of message bodies that log keeps;
   * the oldest messages go first, but the newest one always stays. Default
   * {@linkcode MOCK_SERVER_LIMITS}`.maxReceivedChars` (262,144).
   */
  maxReceivedChars?: number;
  /**
   * Most distinct message types each client's counts for
   * {@linkcode MockClient.waitFor} track (a client can invent types without
   * end). Types met after that, and types longer than 64 characters, are
   * not counted: `waitFor` then counts only those still in the log. Default
   * {@linkcode MOCK_SERVER_LIMITS}`.maxMessageTypes` (256).
   */
  maxMessageTypes?: number;
  /**
   * Most bytes queued for one client while an earlier write to it has not
   * completed: answers (`mrkl`, `loginres`), streamed batches, broadcasts and
   * explicit sends. A client that sends faster than it reads what it is
   * answered (or stops reading, and keeps sending) would otherwise make its
   * queue grow without end: a write past this bound closes the client
   * instead, and rejects with a `ClosedError`. (A write to a client with
   * nothing queued is never refused, whatever its size.) Answers that pile up
   * behind a waiting write go out together, in one write. Default
   * {@linkcode MOCK_SERVER_LIMITS}`.maxPendingBytes` (1 MiB).
   */
  maxPendingBytes?: number;
  /**
   * The largest packet a client may send (its length field, in bytes); a
   * larger one breaks framing, and the client is disconnected as for any
   * framing error. Default {@linkcode MOCK_SERVER_LIMITS}`.maxFrameSize`
   * (65,536; clients send packets of a few hundred bytes).
   */
  maxFrameSize?: number;
}

/**
 * The defaults of the {@linkcode MockServerOptions} that bound what a client
 * can make the mock server hold: open connections, remembered closed ones,
 * each client's log, counts and queue of writes, and the size of a packet.
 * With them, a client that floods the server and never reads is dropped
 * instead of growing its memory (see `maxPendingBytes`).
 *
 * @example
 * ```ts
 * import { MOCK_SERVER_LIMITS } from "@x/douyu/testing";
 *
 * console.log(MOCK_SERVER_LIMITS.maxClients); // 1000
 * ```
 */
export const MOCK_SERVER_LIMITS: Readonly<{
  maxClients: number;
  maxClosedClients: number;
  maxReceived: number;
  maxReceivedChars: number;
  maxMessageTypes: number;
  maxPendingBytes: number;
  maxFrameSize: number;
}> = Object.freeze({
  maxClients: 1000,
  maxClosedClients: 100,
  maxReceived: 1000,
  maxReceivedChars: 256 * 1024,
  maxMessageTypes: 256,
  maxPendingBytes: 1024 * 1024,
  maxFrameSize: 64 * 1024,
});

/**
 * Options of {@linkcode MockServer.nextClient}.
 *
 * @example
 * ```ts ignore
 * import { MockServer, type NextClientOptions } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start();
 * const options: NextClientOptions = { joined: false, signal: AbortSignal.timeout(5000) };
 * const client = await server.nextClient(options); // connected, maybe not logged in yet
 * ```
 */
export interface NextClientOptions {
  /**
   * Wait until the client has sent `joingroup` (default true). With false,
   * any connection counts, even one that already closed.
   */
  joined?: boolean;
  /** Aborting it rejects the promise with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * Options of {@linkcode MockClient.waitFor}.
 *
 * @example
 * ```ts ignore
 * const mrkl = await client.waitFor("mrkl", 1, { signal: AbortSignal.timeout(60_000) });
 * ```
 */
export interface WaitForOptions {
  /** Aborting it rejects the promise with the signal's reason. */
  signal?: AbortSignal;
}

/**
 * How {@linkcode MockClient.sendFrames} writes: `"coalesce"` puts every
 * packet in one write (as the real server often does); `{ split: n }` writes
 * the same bytes in pieces of at most `n` bytes, so packets span reads.
 *
 * @example
 * ```ts
 * import type { SendFramesMode } from "@x/douyu/testing";
 *
 * const modes: SendFramesMode[] = ["coalesce", { split: 5 }];
 * console.log(modes.length); // 2
 * ```
 */
export type SendFramesMode = "coalesce" | { readonly split: number };

/**
 * The `loginres` body the mock server sends by default: an anonymous login,
 * field for field as the real server answers one (from a 2021 capture).
 *
 * @example
 * ```ts
 * import { decodeStt } from "@x/douyu";
 * import { DEFAULT_LOGIN_RESPONSE } from "@x/douyu/testing";
 *
 * console.log(decodeStt(DEFAULT_LOGIN_RESPONSE).type); // "loginres"
 * ```
 */
export const DEFAULT_LOGIN_RESPONSE: string = "type@=loginres/userid@=0/roomgroup@=0/pg@=0/" +
  "sessionid@=0/username@=/nickname@=/live_stat@=0/is_illegal@=0/ill_ct@=/ill_ts@=0/now@=0/" +
  "ps@=0/es@=0/it@=0/its@=0/npv@=0/best_dlev@=0/cur_lev@=0/nrc@=3702083264/ih@=0/sid@=72164/" +
  "sahf@=0/sceneid@=0/newrg@=0/regts@=0/ip@=127.0.0.1/";

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
/** The smallest legal length field of a packet (docs/protocol.md, "Packets"). */
const MIN_FRAME_LENGTH = 9;
/** Longer message types are not counted for `waitFor` (see `maxMessageTypes`). */
const MAX_COUNTED_TYPE_LENGTH = 64;
/** The answer to every `mrkl`, encoded once: a flood of them is answered without re-encoding. */
const MRKL_ANSWER = encodeFrame("type@=mrkl/", SERVER_MESSAGE_TYPE);

/** The options with defaults applied, shared by the server and its clients. */
interface Settings {
  readonly host: string;
  readonly port: number;
  readonly protocols: readonly MockProtocol[];
  readonly messages: MockMessageSource | undefined;
  readonly recording: readonly RecordedLine[] | undefined;
  /**
   * The recording's packets, encoded on first use and shared by every
   * client: a looping replay to many clients does not re-encode each pass.
   */
  readonly recordingFrames: (Uint8Array | undefined)[];
  readonly speed: number;
  readonly interval: number;
  readonly loop: boolean;
  readonly loginResponse: string;
  readonly idleTimeout: number;
  readonly answerLogin: boolean;
  readonly maxClients: number;
  readonly maxClosedClients: number;
  readonly maxReceived: number;
  readonly maxReceivedChars: number;
  readonly maxMessageTypes: number;
  readonly maxPendingBytes: number;
  readonly maxFrameSize: number;
}

/** What the server needs from a client beyond its public API. */
interface ClientControl {
  readonly client: MockClient;
  /** Joined, open and not silenced: a target of `broadcast()`. */
  live(): boolean;
  hasJoined(): boolean;
  /** Settles once the client's read loop, stream and writes have all ended. */
  finished(): Promise<void>;
  /** Already handed out by `nextClient()`. */
  consumed: boolean;
}

interface ClientInit {
  id: number;
  protocol: MockProtocol;
  conn: Transport;
  settings: Settings;
  /** Called when the client sends its first `joingroup`. */
  onJoin: () => void;
  /** Called once, when the client closes (whoever closed it). */
  onClose: () => void;
}

/**
 * Adds a waiter to `list` until its promise settles (or `signal` aborts).
 *
 * @returns The waiter's promise.
 */
function addWaiter<T, W extends { deferred: Deferred<T> }>(
  list: W[],
  waiter: W,
  signal: AbortSignal | undefined,
): Promise<T> {
  list.push(waiter);
  settleOnAbort(waiter.deferred, signal);
  const forget = () => {
    const index = list.indexOf(waiter);
    if (index !== -1) list.splice(index, 1);
  };
  waiter.deferred.promise.then(forget, forget);
  return waiter.deferred.promise;
}

/**
 * Rejects `target` with the signal's reason when it aborts, and unhooks the
 * listener when `target` settles first.
 */
function settleOnAbort<T>(target: Deferred<T>, signal: AbortSignal | undefined): void {
  if (signal === undefined) return;
  if (signal.aborted) {
    target.reject(signal.reason);
    return;
  }
  const onAbort = () => target.reject(signal.reason);
  signal.addEventListener("abort", onAbort, { once: true });
  const unhook = () => signal.removeEventListener("abort", onAbort);
  target.promise.then(unhook, unhook);
}

function toBody(message: MockMessage): string {
  return typeof message === "string" ? message : encodeStt(message);
}

function serverFrame(message: MockMessage): Uint8Array {
  return encodeFrame(toBody(message), SERVER_MESSAGE_TYPE);
}

function isAsyncIterable(value: unknown): value is AsyncIterable<MockMessage> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}

function nonNegative(name: string, value: number | undefined, fallback: number): number {
  if (value === undefined) return fallback;
  if (typeof value !== "number" || !Number.isFinite(value) || value < 0) {
    throw new RangeError(`${name} must be a finite number >= 0, got ${value}`);
  }
  return value;
}

/** A limit option: an integer from `min` to `max`, or its default. */
function limit(
  name: keyof typeof MOCK_SERVER_LIMITS,
  value: number | undefined,
  min: number,
  max: number = Number.MAX_SAFE_INTEGER,
): number {
  if (value === undefined) return MOCK_SERVER_LIMITS[name];
  if (!Number.isSafeInteger(value) || value < min || value > max) {
    throw new RangeError(`${name} must be an integer from ${min} to ${max}, got ${value}`);
  }
  return value;
}

function resolveSettings(options: MockServerOptions): Settings {
  const protocols = options.protocols ?? ["tcp"];
  if (protocols.length === 0) throw new TypeError("protocols must name at least one protocol");
  for (const protocol of protocols) {
    if (protocol !== "tcp" && protocol !== "ws") {
      throw new TypeError(`unknown protocol ${JSON.stringify(protocol)}: use "tcp" or "ws"`);
    }
  }
  if (new Set(protocols).size !== protocols.length) {
    throw new TypeError(`protocols lists a protocol twice: ${protocols.join(", ")}`);
  }
  if (options.messages !== undefined && options.recording !== undefined) {
    throw new TypeError("give messages or recording, not both");
  }
  // A string is iterable too, and would stream one character per message.
  if (typeof options.messages === "string") {
    throw new TypeError("messages must be an iterable of messages, not one string");
  }
  const port = options.port ?? 0;
  if (!Number.isInteger(port) || port < 0 || port > 65535) {
    throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
  }
  return {
    host: options.host ?? "127.0.0.1",
    port,
    protocols: [...protocols],
    messages: options.messages,
    recording: options.recording,
    recordingFrames: [],
    speed: nonNegative("speed", options.speed, 1),
    interval: nonNegative("interval", options.interval, 0),
    loop: options.loop ?? false,
    loginResponse: options.loginResponse ?? DEFAULT_LOGIN_RESPONSE,
    idleTimeout: nonNegative("idleTimeout", options.idleTimeout, 0),
    answerLogin: options.answerLogin ?? true,
    maxClients: limit("maxClients", options.maxClients, 1),
    maxClosedClients: limit("maxClosedClients", options.maxClosedClients, 0),
    maxReceived: limit("maxReceived", options.maxReceived, 1),
    maxReceivedChars: limit("maxReceivedChars", options.maxReceivedChars, 0),
    maxMessageTypes: limit("maxMessageTypes", options.maxMessageTypes, 0),
    maxPendingBytes: limit("maxPendingBytes", options.maxPendingBytes, 0),
    maxFrameSize: limit("maxFrameSize", options.maxFrameSize, MIN_FRAME_LENGTH, 0x7fffffff),
  };
}

/** Set by `MockClient`'s static block: only the server creates clients. */
let createClient: (init: ClientInit) => ClientControl;

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

/**
 * A mock Douyu barrage server for tests: start it, point a client at
 * {@linkcode MockServer.url}, and script what each connection receives.
 * Listens on 127.0.0.1 over TCP and/or WebSocket. See
 * {@linkcode MockServerOptions} for the scripted behaviour and
 * {@linkcode MockClient} for per-connection control.
 *
 * `close()` (or `await using`) stops everything it started: listeners,
 * connections and timers.
 *
 * @example Streaming three chat messages to a raw client
 * ```ts
 * import { encodeFrame, FrameDecoder } from "@x/douyu";
 * import { defaultTransportFactory, MockServer, parseEndpoint } from "@x/douyu/testing";
 *
 * const server = await MockServer.start({
 *   messages: ["one", "two", "three"].map((txt) => ({ type: "chatmsg", nn: "Ann", txt })),
 * });
 * const conn = await defaultTransportFactory(parseEndpoint(server.url), {});
 * await conn.write(encodeFrame("type@=loginreq/roomid@=9999/"));
 * await conn.write(encodeFrame("type@=joingroup/rid@=9999/gid@=-9999/"));
 * const decoder = new FrameDecoder();
 * const bodies: string[] = [];
 * while (bodies.length < 5) { // loginres, pingreq, then the three messages
 *   const chunk = await conn.read();
 *   if (chunk === null) break;
 *   for (const frame of decoder.push(chunk)) bodies.push(frame.body);
 * }
 * console.log(bodies.slice(2)); // the three chatmsg bodies
 * conn.close();
 * await server.close();
 * ```
 */
export class MockServer implements AsyncDisposable {
  readonly #settings: Settings;
  #listeners: Listener[] = [];
  #url = "";
  #urls: Readonly<Record<MockProtocol, string | undefined>> = { tcp: undefined, ws: undefined };
  /**
   * The clients still known, in the order they connected: every open one,
   * and the newest `maxClosedClients` closed ones.
   */
  readonly #controls: ClientControl[] = [];
  /** The known closed clients, oldest first: the next to be forgotten. */
  readonly #closedControls: ClientControl[] = [];
  #openClients = 0;
  #nextId = 1;
  /** What `clients` returned, until the list changes. */
  #clientsView: readonly MockClient[] | undefined;
  /** `finished()` of closed clients, forgotten or not, until it settles. */
  readonly #finishing = new Set<Promise<void>>();
  readonly #waiters: { joined: boolean; deferred: Deferred<MockClient> }[] = [];
  #closing: Promise<void> | undefined;

  private constructor(settings: Settings) {
    this.#settings = settings;
  }

  /**
   * Binds the listeners and starts accepting connections.
   *
   * @param options Protocols, scripted messages and behaviour; all optional.
   * @returns The running server.
   * @throws {TypeError} or {RangeError} for invalid options, the runtime's
   * error if a port cannot be bound.
   *
   * @example
   * ```ts
   * import { MockServer } from "@x/douyu/testing";
   *
   * const server = await MockServer.start({ messages: [{ type: "chatmsg", txt: "hi" }] });
   * console.log(server.url); // e.g. "tcp://127.0.0.1:40123"
   * await server.close();
   * ```
   */
  static async start(options: MockServerOptions = {}): Promise<MockServer> {
    const server = new MockServer(resolveSettings(options));
    await server.#listen();
    return server;
  }

  async #listen(): Promise<void> {
    const { host, port, protocols } = this.#settings;
    const urls: Record<MockProtocol, string | undefined> = { tcp: undefined, ws: undefined };
    try {
      for (const [index, protocol] of protocols.entries()) {
        const listener = await listen(
          { protocol, host, port: index === 0 ? port : 0 },
          (conn) => this.#accept(conn, protocol),
        );
        this.#listeners.push(listener);
        urls[protocol] = listener.endpoint.url;
      }
    } catch (error) {
      await this.close();
      throw error;
    }
    this.#urls = urls;
    this.#url = urls[protocols[0]!]!;
  }

  /**
   * The first protocol's address, e.g. `tcp://127.0.0.1:40123`: what a
   * client's `url` option should be set to.
   *
   * @example
   * ```ts ignore
   * const session = await connect(9999, { url: server.url });
   * ```
   */
  get url(): string {
    return this.#url;
  }

  /**
   * The address of each protocol listened on (`undefined` for the others),
   * e.g. `{ tcp: "tcp://127.0.0.1:40123", ws: "ws://127.0.0.1:40124/" }`.
   *
   * @example
   * ```ts ignore
   * const server = await MockServer.start({ protocols: ["tcp", "ws"] });
   * console.log(server.urls.ws); // "ws://127.0.0.1:…/"
   * ```
   */
  get urls(): Readonly<Record<MockProtocol, string | undefined>> {
    return this.#urls;
  }

  /**
   * The connections in the order they connected: every open one, and the
   * most recent ones that have closed (see
   * {@linkcode MockServerOptions.maxClosedClients}; older ones are
   * forgotten). Connections refused over
   * {@linkcode MockServerOptions.maxClients} are not listed. A snapshot:
   * read it again to see later connections.
   *
   * @example
   * ```ts ignore
   * console.log(server.clients.filter((client) => client.isOpen).length);
   * ```
   */
  get clients(): readonly MockClient[] {
    this.#clientsView ??= this.#controls.map((control) => control.client);
    return this.#clientsView;
  }

  /**
   * Resolves with the next connection not yet returned by this method: by
   * default the earliest one to have sent `joingroup` (with `joined: false`,
   * the earliest to connect). Connections made before the call count, so a
   * test never misses a client that was faster than it (unless it has
   * closed and was forgotten since: see
   * {@linkcode MockServerOptions.maxClosedClients}).
   *
   * @param options `joined` (default true) and a `signal` to give up.
   * @returns The client.
   * @throws {ClosedError} (as a rejection) if the server closes first.
   *
   * @example A bot's reconnection
   * ```ts ignore
   * const first = await server.nextClient();
   * first.close();
   * const second = await server.nextClient(); // the bot came back and joined again
   * console.log(second.id); // 2
   * ```
   */
  nextClient(options: NextClientOptions = {}): Promise<MockClient> {
    if (this.#closing !== undefined) {
      return Promise.reject(new ClosedError("mock server closed"));
    }
    const waiter = { joined: options.joined ?? true, deferred: deferred<MockClient>() };
    const promise = addWaiter<MockClient, typeof waiter>(this.#waiters, waiter, options.signal);
    this.#dispatch();
    return promise;
  }

  /**
   * Sends one message to every client that joined, is open and is not
   * silenced. A client that closes meanwhile is skipped silently.
   *
   * @param message An STT body, or a value to encode with `encodeStt`.
   *
   * @example
   * ```ts ignore
   * await server.broadcast({ type: "rss", rid: 9999, ss: 0 }); // the stream went offline
   * ```
   */
  async broadcast(message: MockMessage): Promise<void> {
    const body = toBody(message);
    await Promise.all(
      this.#controls.filter((control) => control.live()).map((control) =>
        control.client.send(body).catch(() => {})
      ),
    );
  }

  /**
   * Stops listening, closes every connection, stops every timer and waits
   * until all of it has ended. Idempotent. Pending `nextClient()` calls
   * reject with a `ClosedError`.
   *
   * @example
   * ```ts ignore
   * await server.close();
   * await server.close(); // no-op
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= this.#shutdown();
    return this.#closing;
  }

  /**
   * Same as {@linkcode MockServer.close}, for `await using`.
   *
   * @example
   * ```ts ignore
   * await using server = await MockServer.start();
   * // closed when the scope ends
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  async #shutdown(): Promise<void> {
    for (const waiter of this.#waiters.splice(0)) {
      waiter.deferred.reject(new ClosedError("mock server closed"));
    }
    // Closing a client registers its `finished()` in `#finishing`.
    for (const control of [...this.#controls]) control.client.close();
    await Promise.allSettled(this.#listeners.map((listener) => listener.close()));
    // Connections accepted while the listeners were closing were closed on arrival.
    await Promise.allSettled([...this.#finishing]);
  }

  #accept(conn: Transport, protocol: MockProtocol): void {
    if (this.#closing !== undefined || this.#openClients >= this.#settings.maxClients) {
      conn.close();
      return;
    }
    this.#openClients++;
    const control: ClientControl = createClient({
      id: this.#nextId++,
      protocol,
      conn,
      settings: this.#settings,
      onJoin: () => this.#dispatch(),
      onClose: () => this.#forget(control),
    });
    this.#controls.push(control);
    this.#clientsView = undefined;
    this.#dispatch();
  }

  /** A client closed: keep it among the newest closed ones, and forget the oldest. */
  #forget(control: ClientControl): void {
    this.#openClients--;
    const finished = control.finished();
    this.#finishing.add(finished);
    void finished.finally(() => this.#finishing.delete(finished));
    this.#closedControls.push(control);
    while (this.#closedControls.length > this.#settings.maxClosedClients) {
      const oldest = this.#closedControls.shift()!;
      const index = this.#controls.indexOf(oldest);
      if (index !== -1) this.#controls.splice(index, 1);
      this.#clientsView = undefined;
    }
  }

  /** Hands unclaimed clients to waiting `nextClient()` calls, in call order. */
  #dispatch(): void {
    for (let i = 0; i < this.#waiters.length;) {
      const waiter = this.#waiters[i]!;
      if (waiter.deferred.settled) {
        this.#waiters.splice(i, 1); // given up on (aborted)
        continue;
      }
      const match = this.#controls.find((control) =>
        !control.consumed && (!waiter.joined || control.hasJoined())
      );
      if (match === undefined) {
        i++;
        continue;
      }
      match.consumed = true;
      this.#waiters.splice(i, 1);
      waiter.deferred.resolve(match.client);
    }
  }
}
