/**
 * The options of the mock server and their defaults: what each option means,
 * the limits that bound what a client can make the server hold, and the
 * settings (options with defaults applied, checked) the server and its
 * clients share.
 *
 * @module
 */
import { nonNegative } from "../base/checks.ts";
import type { SttValue } from "../protocol/stt.ts";
import type { RecordLine } from "../protocol/record.ts";

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
   *
   * A function is called once per client, and once per pass with `loop`,
   * for the lines of that pass: so each pass can be a fresh one (new message
   * ids, times from now), as {@linkcode samplePass} makes them.
   */
  recording?: readonly RecordedLine[] | (() => readonly RecordedLine[]);
  /** For `recording`: 1 = real time, 2 = twice as fast, 0 = as fast as possible. Default 1. */
  speed?: number;
  /**
   * Milliseconds between two `messages`, each then a write of its own.
   * Default 0: back to back, whole packets gathered into writes of about
   * 16 KiB, each waiting for the previous one (write backpressure), with a
   * yield to the event loop every 64 frames.
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
   * Most connections open at once. One more over TCP is closed as soon as it
   * is accepted, without a word; over WebSocket it is answered `503` before
   * the upgrade. The listeners keep accepting others. Default
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

/** The smallest legal length field of a packet (docs/protocol.md, "Packets"). */
const MIN_FRAME_LENGTH = 9;

/** The options with defaults applied, shared by the server and its clients. */
export interface Settings {
  readonly host: string;
  readonly port: number;
  readonly protocols: readonly MockProtocol[];
  readonly messages: MockMessageSource | undefined;
  readonly recording: readonly RecordedLine[] | (() => readonly RecordedLine[]) | undefined;
  /**
   * The packets of a fixed recording (an array), encoded on first use and shared by every
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

/** Checks `options` and applies the defaults. */
export function resolveSettings(options: MockServerOptions): Settings {
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
  const messages: unknown = options.messages;
  if (
    messages !== undefined && typeof messages !== "function" &&
    !(typeof messages === "object" && messages !== null && Symbol.iterator in messages)
  ) {
    throw new TypeError("messages must be an iterable of messages, or a function returning one");
  }
  const recording: unknown = options.recording;
  if (recording !== undefined && typeof recording !== "function" && !Array.isArray(recording)) {
    throw new TypeError("recording must be an array of lines, or a function returning one");
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
    speed: nonNegative(options.speed ?? 1, "speed"),
    interval: nonNegative(options.interval ?? 0, "interval"),
    loop: options.loop ?? false,
    loginResponse: options.loginResponse ?? DEFAULT_LOGIN_RESPONSE,
    idleTimeout: nonNegative(options.idleTimeout ?? 0, "idleTimeout"),
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
