/**
 * A live connection to a room's barrage: log in, join the group, keep the
 * heartbeat, reconnect across faults, and hand over every message, as an
 * async iterator or to typed handlers. Runtime-free: sockets come from a
 * {@linkcode TransportFactory}.
 *
 * @module
 */

import {
  ClosedError,
  ConnectionError,
  DouyuError,
  ProtocolError,
  TimeoutError,
} from "../base/errors.ts";
import type { ConnectionAttempt } from "../base/errors.ts";
import { encodeFrame, FrameDecoder } from "../protocol/frame.ts";
import { type Message, type MessageOf, parseMessage } from "../protocol/messages.ts";
import { EventFeed } from "../base/feed.ts";
import { MessageQueue, type OverflowPolicy } from "../base/queue.ts";
import { resolveRoomFor, type RoomLookupOptions } from "../web/room.ts";
import { encodeStt, peekType, peekTypeBytes, type SttValue } from "../protocol/stt.ts";
import {
  backoffDelay,
  childController,
  type Deferred,
  deferred,
  MAX_TIMEOUT,
  setRepeating,
  setTimer,
  sleep,
} from "../base/timers.ts";
import {
  type Endpoint,
  parseEndpoint,
  type Transport,
  type TransportFactory,
} from "../transport/seam.ts";
import { defaultTransportFactory } from "../transport/default.ts";

/**
 * Douyu's barrage endpoints, tried in this order by default: plain TCP first
 * (works on every runtime), then WebSocket over TLS (docs/protocol.md, "Endpoints": Deno's
 * rustls may refuse Douyu's cipher).
 */
export const DEFAULT_TCP_URLS: readonly string[] = [
  "tcp://danmuproxy.douyu.com:8601",
  "tcp://danmuproxy.douyu.com:8602",
  "tcp://danmuproxy.douyu.com:12601",
  "tcp://danmuproxy.douyu.com:12602",
];

/** The WebSocket ports the web player uses; the default list starts at a random one. */
export const DEFAULT_WSS_PORTS: readonly number[] = [8501, 8502, 8503, 8504, 8505, 8506];

/**
 * The default endpoint list: the TCP endpoints, then the `wss://` ports
 * rotated from a random starting port, as the web player does.
 *
 * @example
 * ```ts
 * import { defaultUrls } from "@x/douyu";
 *
 * console.log(defaultUrls()[0]); // "tcp://danmuproxy.douyu.com:8601"
 * ```
 */
export function defaultUrls(random: () => number = Math.random): string[] {
  const start = Math.floor(random() * DEFAULT_WSS_PORTS.length);
  const ports = [...DEFAULT_WSS_PORTS.slice(start), ...DEFAULT_WSS_PORTS.slice(0, start)];
  return [...DEFAULT_TCP_URLS, ...ports.map((port) => `wss://danmuproxy.douyu.com:${port}/`)];
}

/** How to reconnect after an established connection drops. */
export interface ReconnectPolicy {
  /** Delay before the first retry, ms; retries wait half to all of it (jitter). Default 1000. */
  initialDelay?: number;
  /** Longest delay between retries, ms. Default 30 000. */
  maxDelay?: number;
  /** Growth of the delay per failed retry. Default 2. */
  multiplier?: number;
  /** A connection that stayed up this long (ms) resets the backoff. Default 60 000. */
  resetAfter?: number;
  /**
   * Give up after this many consecutive failed retries. A retry fails when it
   * does not log in and join, and also when it joins but the connection
   * drops within `resetAfter`: a server that accepts and then hangs up at
   * once is failing too. Only a connection that stays up for `resetAfter`
   * starts the count afresh. Default `Infinity`.
   */
  maxAttempts?: number;
}

/**
 * Options of {@linkcode connect}. Every one has a default. A room name is
 * looked up as {@linkcode RoomLookupOptions} says: with endpoints of your own
 * (`url`), only at the bases given.
 */
export interface ConnectOptions<T extends string = string> extends RoomLookupOptions {
  /**
   * Endpoints, tried in order and rotated on reconnect: `tcp://host:port`,
   * `ws://…` or `wss://…`. Default: {@linkcode defaultUrls} (Douyu's servers).
   */
  url?: string | readonly string[];
  /**
   * Milliseconds between `mrkl` heartbeats; must be shorter than
   * `idleTimeout`. Default 45 000 (the protocol's maximum).
   */
  heartbeatInterval?: number;
  /**
   * Milliseconds without a byte from the server before the connection is
   * declared dead (half-open TCP is common) and replaced. Time spent paused
   * for a slow consumer does not count. Default 120 000.
   */
  idleTimeout?: number;
  /** Milliseconds to open a socket and receive `loginres`. Default 10 000. */
  loginTimeout?: number;
  /** Reconnect after a drop: `true` (default policy), `false`, or a policy. Default `true`. */
  reconnect?: boolean | ReconnectPolicy;
  /** Barrage group to join. Default -9999 ("mass barrage mode": everything). */
  group?: number;
  /**
   * Only these message types reach the consumer; others are dropped before
   * their text is even decoded. Default: every type.
   */
  types?: readonly T[];
  /** Aborting it closes the session (with `logout`). */
  signal?: AbortSignal;
  /** How many messages may wait for a slow consumer. Default 10 000. */
  queueSize?: number;
  /** What happens when that queue is full. Default `"pause"`. */
  overflow?: OverflowPolicy;
  /** Opens sockets; replace it to add a transport or a test double. Default: TCP and WebSocket on this runtime. */
  transport?: TransportFactory;
  /** Largest frame accepted, bytes; a larger one ends the connection. Default 1 MiB. */
  maxFrameSize?: number;
  /**
   * Called with every body as it arrives (before the `types` filter), with
   * its arrival time in ms since the epoch: enough to record and replay.
   */
  onBody?: (body: string, receivedAt: number) => void;
}

/** Why a session ended. */
export interface CloseInfo {
  /** `closed` by `close()`/`break`, `aborted` by the signal, `error` when reconnecting gave up. */
  reason: "closed" | "aborted" | "error";
  /** The last error, for `error` (and `aborted`: the signal's reason). */
  error?: unknown;
}

/** What `status()` reports. */
export type StatusEvent =
  | { type: "connecting"; url: string; attempt: number }
  | { type: "connected"; url: string }
  | { type: "disconnected"; url: string; error: unknown }
  | { type: "reconnecting"; attempt: number; delay: number }
  | { type: "heartbeat"; url: string; rtt: number }
  | { type: "dropped"; count: number; total: number }
  | { type: "error"; error: unknown }
  | { type: "closed"; info: CloseInfo };

/** A handler for {@linkcode Session.on}. */
export type MessageHandler<M> = (message: M) => void | Promise<void>;

/**
 * What the session itself reads, whatever the `types` filter: the login
 * answer and the server's keepalive. (Not `BOOKKEEPING_TYPES`: `pingreq` is
 * the client's to send, not the session's to read.)
 */
const READ_BY_SESSION = new Set(["loginres", "mrkl"]);
/**
 * The most bytes a connection may receive before `loginres`. The real server
 * sends `loginres` first (a few hundred bytes); a peer that streams anything
 * else instead is broken or hostile (Douyu's TCP is plaintext, so anyone on
 * the path can try), and is cut off here rather than filling memory.
 */
export const MAX_BYTES_BEFORE_LOGIN = 256 * 1024;
const HEARTBEAT = encodeFrame("type@=mrkl/");
const LOGOUT = encodeFrame("type@=logout/");
/** How long `close()` waits for `logout` to be written before closing anyway. */
const LOGOUT_TIMEOUT = 1000;
/**
 * How much longer `close()` reads on, discarding, for the server to close
 * the connection (it does once it has read `logout`) before closing anyway.
 */
const LOGOUT_DRAIN_TIMEOUT = 1000;
const STATUS_BUFFER = 256;
/**
 * How many parsed messages may wait for a loop that keeps up before the next
 * read waits for it to take them (a wait costs a few µs: not once per
 * message when reads are small).
 */
const PARSE_AHEAD = 256;

interface ResolvedOptions {
  heartbeatInterval: number;
  idleTimeout: number;
  loginTimeout: number;
  reconnect: Required<ReconnectPolicy> | undefined;
  group: number;
  types: ReadonlySet<string> | undefined;
  queueSize: number;
  overflow: OverflowPolicy;
  transport: TransportFactory;
  maxFrameSize: number;
  onBody: ((body: string, receivedAt: number) => void) | undefined;
}

/**
 * Where a session hands its messages: its own bounded queue, or (for a
 * {@linkcode Hub}-style owner) a shared one. `full` tells a `"pause"`
 * session to stop reading until `waitForSpace` resolves.
 */
export interface MessageSink<M> {
  /** Hands over one message; returns how many queued messages were dropped to make room. */
  push(message: M): number;
  /** Whether a `"pause"` producer should wait before reading more. */
  readonly full: boolean;
  /** Resolves once there is room again (or `signal` aborts). */
  waitForSpace(signal: AbortSignal): Promise<void>;
}

/** Set by `Session`'s static block: see {@linkcode routeSession}. */
let route: (
  session: Session<Message>,
  sink: MessageSink<Message>,
  onStatus: (event: StatusEvent) => void,
) => void;

/**
 * Makes a session hand every message to `sink` instead of its own queue and
 * iterator, and report every status event to `onStatus`: how a hub runs
 * many rooms into one queue. Call it before `start()`. Not public API.
 *
 * @example
 * ```ts ignore
 * routeSession(session, sharedQueue, (event) => report(room, event));
 * await session.start();
 * ```
 */
export function routeSession<M extends Message>(
  session: Session<M>,
  sink: MessageSink<M>,
  onStatus: (event: StatusEvent) => void,
): void {
  route(
    session as unknown as Session<Message>,
    sink as unknown as MessageSink<Message>,
    onStatus,
  );
}

/** The live part of one connection. */
interface Connection {
  endpoint: Endpoint;
  transport: Transport;
  controller: AbortController;
  joined: boolean;
  heartbeatSentAt: number;
}

/**
 * Connects to a room and resolves once logged in and joined. Rejects with a
 * {@linkcode ConnectionError} naming every endpoint tried when none accepts
 * (each is tried once, in order). After that, the session reconnects by
 * itself until closed.
 *
 * @param room A numeric room id, or a name/URL resolved with `resolveRoom`: at
 * Douyu, or with `url` given only at the `apiBase`/`mobileBase` given.
 * @param options See {@linkcode ConnectOptions}.
 *
 * @example Print the chat of a room (here: the bundled mock server)
 * ```ts
 * import { connect } from "@x/douyu";
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start({ messages: ["type@=chatmsg/nn@=Ann/txt@=hi/"] });
 * await using session = await connect(9999, { url: server.url, types: ["chatmsg"] });
 * for await (const msg of session) {
 *   console.log(`${msg.nn}: ${msg.txt}`); // msg is a ChatMessage
 *   break; // closes the session (logout)
 * }
 * ```
 */
export async function connect<const T extends string = string>(
  room: number | string,
  options: ConnectOptions<T> = {},
): Promise<Session<MessageOf<T>>> {
  const roomId = typeof room === "number" || /^\d+$/.test(room.trim())
    ? Number(room)
    : await resolveRoomFor(room, options.url, options);
  if (!Number.isSafeInteger(roomId) || roomId <= 0) {
    throw new RangeError(`room must be a positive integer, got ${room}`);
  }
  const session = new Session<MessageOf<T>>(roomId, options);
  await session.start();
  return session;
}

/**
 * One room's barrage, kept alive across disconnects. Iterate it with
 * `for await` (one loop at a time; `break` closes the session), or register
 * handlers with {@linkcode Session.on}. Create it with {@linkcode connect}.
 *
 * Messages are queued for the iterator unless handlers are registered and no
 * iterator has been started: then handlers alone receive them. (Messages that
 * arrived before the first handler wait in the queue for an iterator.)
 *
 * @example Handlers, as in the seed's callback style
 * ```ts
 * import { connect } from "@x/douyu";
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start({ messages: ["type@=dgb/nn@=Bo/gfid@=824/gfcnt@=1/"] });
 * const session = await connect(9999, { url: server.url });
 * const gift = new Promise<string>((resolve) => {
 *   session.on("dgb", (msg) => resolve(`${msg.nn} sent ${msg.gfcnt} x ${msg.gfid}`));
 * });
 * console.log(await gift);
 * await session.close();
 * ```
 */
export class Session<M extends Message = Message> implements AsyncIterable<M>, AsyncDisposable {
  /** The numeric room id. */
  readonly room: number;
  /** Resolves (never rejects) once the session is over, with the reason. */
  readonly closed: Promise<CloseInfo>;

  readonly #options: ResolvedOptions;
  readonly #endpoints: Endpoint[];
  readonly #queue: MessageQueue<M>;
  /** Where messages go: `#queue`, unless a hub routed them elsewhere. */
  #sink: MessageSink<M>;
  /** Set by `close()` (or an abort) at once: nothing is delivered after it. */
  #closeRequested = false;
  /** Handlers by type; created by the first `on()` (an idle session without any keeps no map). */
  #handlers: Map<string, Set<MessageHandler<M>>> | undefined;
  readonly #status = new EventFeed<StatusEvent>(STATUS_BUFFER);
  /** Aborted when the session closes: every timer and socket hangs off it. */
  readonly #lifetime = new AbortController();
  readonly #userSignal: AbortSignal | undefined;
  readonly #onUserAbort = () =>
    void this.#finish({ reason: "aborted", error: this.#userSignal?.reason });
  #resolveClosed!: (info: CloseInfo) => void;
  #connection: Connection | undefined;
  #running: Promise<void> | undefined;
  #closing: Promise<void> | undefined;
  #iterating = false;
  #dropped = 0;

  /** Use {@linkcode connect}. */
  constructor(room: number, options: ConnectOptions = {}) {
    this.room = room;
    this.#options = resolveOptions(options);
    const urls = options.url === undefined
      ? defaultUrls()
      : typeof options.url === "string"
      ? [options.url]
      : [...options.url];
    if (urls.length === 0) throw new TypeError("url: at least one endpoint is needed");
    this.#endpoints = urls.map(parseEndpoint);
    this.#queue = new MessageQueue<M>(this.#options.queueSize, this.#options.overflow);
    this.#sink = this.#queue;
    this.closed = new Promise((resolve) => (this.#resolveClosed = resolve));
    this.#userSignal = options.signal;
  }

  /** The endpoint of the live connection, if any. */
  get url(): string | undefined {
    return this.#connection?.joined ? this.#connection.endpoint.url : undefined;
  }

  /** Messages waiting for the iterator. */
  get queued(): number {
    return this.#queue.size;
  }

  /** Whether the session has been closed, or is closing: true from the moment `close()` is called. */
  get isClosed(): boolean {
    return this.#closeRequested || this.#lifetime.signal.aborted;
  }

  static {
    route = (session, sink, onStatus) => {
      session.#sink = sink;
      session.#status.listen(onStatus);
    };
  }

  /**
   * Connects for the first time: resolves when joined, rejects with a
   * `ConnectionError` after trying every endpoint once. Called by `connect()`.
   */
  start(): Promise<void> {
    if (this.#running !== undefined) throw new DouyuError("session already started");
    const ready = deferred<void>();
    // A rejection nobody awaits (the session closed first) is not an error.
    ready.promise.catch(() => {});
    if (this.#userSignal?.aborted) {
      this.#running = Promise.resolve();
      void this.#finish({ reason: "aborted", error: this.#userSignal.reason });
      return Promise.reject(
        new ClosedError("aborted before connecting", { cause: this.#userSignal.reason }),
      );
    }
    this.#userSignal?.addEventListener("abort", this.#onUserAbort, { once: true });
    this.#running = this.#run(ready);
    return ready.promise;
  }

  /**
   * Calls `handler` for every message of `type` (or every message, for
   * `"*"`). Several handlers per type all run, in registration order; a
   * handler that throws is reported as a `status()` error and does not stop
   * the session.
   *
   * @returns A function that removes the handler.
   */
  on<T extends string>(
    type: T,
    handler: MessageHandler<T extends "*" ? M : MessageOf<T>>,
  ): () => void {
    const handlers = this.#handlers ??= new Map();
    let set = handlers.get(type);
    if (set === undefined) handlers.set(type, set = new Set());
    const stored = handler as MessageHandler<M>;
    set.add(stored);
    return () => {
      set.delete(stored);
      // With no handler left, messages go back to the queue.
      if (set.size === 0 && handlers.get(type) === set) handlers.delete(type);
    };
  }

  /**
   * Writes a client message on the live connection, e.g.
   * `{ type: "joingroup", rid: 9999, gid: 1 }` or a raw STT body.
   *
   * @throws {ClosedError} when no connection is live.
   */
  async send(message: SttValue | string): Promise<void> {
    const connection = this.#connection;
    if (connection === undefined || connection.controller.signal.aborted) {
      throw new ClosedError("not connected");
    }
    await connection.transport.write(
      encodeFrame(typeof message === "string" ? message : encodeStt(message)),
    );
  }

  /**
   * Status events from now on, until the session closes: connections,
   * disconnections with their cause, reconnect delays, heartbeat round
   * trips, dropped messages, handler errors. A slow reader loses the oldest
   * events beyond 256.
   */
  status(): AsyncIterableIterator<StatusEvent> {
    return this.#status.subscribe();
  }

  /** Iterates the messages. Ending the loop early (`break`) closes the session. */
  [Symbol.asyncIterator](): AsyncIterator<M> {
    if (this.#iterating) throw new TypeError("a session can be iterated by one loop at a time");
    this.#iterating = true;
    return {
      next: () => this.#queue.next(),
      return: async () => {
        await this.close();
        return { value: undefined, done: true };
      },
    };
  }

  /**
   * Ends the session: sends `logout`, closes the socket, stops every timer.
   * Messages still queued are discarded (an aborted `signal` instead lets the
   * loop drain them). Idempotent; resolves when everything is released.
   */
  close(): Promise<void> {
    return this.#finish({ reason: "closed" });
  }

  /** `await using` support: {@linkcode close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #finish(info: CloseInfo): Promise<void> {
    // From here on nothing more is delivered, not even the rest of the read
    // being processed (a handler may be what called close()).
    this.#closeRequested = true;
    if (this.#closing === undefined) {
      if (info.reason === "closed") this.#queue.clear();
      else this.#queue.end();
    }
    this.#closing ??= (async () => {
      this.#userSignal?.removeEventListener("abort", this.#onUserAbort);
      const connection = this.#connection;
      let ending: Promise<void> | undefined;
      if (connection?.joined && !connection.controller.signal.aborted) {
        const { transport } = connection;
        const logout = transport.write(LOGOUT).catch(() => {});
        if (transport.end) {
          // Closing with the room's messages still arriving unread would make
          // the kernel reset the connection, and the server drop the logout
          // it has not read yet. So the transport sends the logout, then FIN,
          // and reads on until the server hangs up, all within the bound.
          // Started at once: from here on, closing the transport leaves it to end().
          ending = transport.end(LOGOUT_TIMEOUT + LOGOUT_DRAIN_TIMEOUT);
        } else {
          // Best effort: a stuck socket must not hold the close up.
          const timeout = new AbortController();
          await Promise.race([logout, sleep(LOGOUT_TIMEOUT, timeout.signal)]);
          timeout.abort();
        }
      }
      this.#lifetime.abort(new ClosedError(`session ${info.reason}`, { cause: info.error }));
      await this.#running;
      await ending;
      this.#emit({ type: "closed", info });
      this.#status.end();
      this.#resolveClosed(info);
    })();
    return this.#closing;
  }

  /** Connects, serves, and reconnects until the session ends. */
  async #run(ready: Deferred<void>): Promise<void> {
    const lifetime = this.#lifetime.signal;
    const endpoints = this.#endpoints;
    const policy = this.#options.reconnect;
    const failures: ConnectionAttempt[] = [];
    let established = false;
    let good = 0; // index of the endpoint that last worked
    let retry = 0; // consecutive failed attempts since the last good connection
    let index = 0;
    while (!lifetime.aborted) {
      const endpoint = endpoints[index % endpoints.length]!;
      this.#emit({ type: "connecting", url: endpoint.url, attempt: retry });
      const outcome = await this.#serve(endpoint, () => {
        established = true;
        good = index % endpoints.length;
        ready.resolve();
      });
      if (lifetime.aborted) break;
      if (!established) {
        // The first round tries each endpoint once, with no delay.
        failures.push({ url: endpoint.url, error: outcome.error });
        if (++index < endpoints.length) continue;
        ready.reject(new ConnectionError(failures));
        void this.#finish({ reason: "error", error: outcome.error });
        return;
      }
      if (outcome.joined) {
        this.#emit({ type: "disconnected", url: endpoint.url, error: outcome.error });
        if (policy !== undefined && outcome.upFor >= policy.resetAfter) retry = 0;
      }
      if (policy === undefined || retry >= policy.maxAttempts) {
        void this.#finish({ reason: "error", error: outcome.error });
        return;
      }
      retry++;
      const delay = backoffDelay(retry, {
        initial: policy.initialDelay,
        max: policy.maxDelay,
        multiplier: policy.multiplier,
      });
      this.#emit({ type: "reconnecting", attempt: retry, delay });
      await sleep(delay, lifetime);
      // The first retry goes back to the endpoint that worked; later ones rotate.
      index = outcome.joined ? good : index + 1;
    }
    // Closed before the first join: connect() must not hang.
    ready.reject(new ClosedError("session closed before it connected", { cause: lifetime.reason }));
  }

  /**
   * One connection from socket to disconnect: log in, wait for `loginres`,
   * join, then read until the socket ends, breaks, idles out or the session
   * closes. Never throws.
   */
  async #serve(
    endpoint: Endpoint,
    onJoined: () => void,
  ): Promise<{ joined: boolean; error: unknown; upFor: number }> {
    const options = this.#options;
    const controller = childController(this.#lifetime.signal);
    const signal = controller.signal;
    const fail = (error: unknown) => controller.abort(error);
    let joinedAt = 0;
    let transport: Transport | undefined;
    let error: unknown;
    try {
      let cancelLoginTimer = setTimer(options.loginTimeout, () => {
        fail(
          new TimeoutError(`no loginres from ${endpoint.url} within ${options.loginTimeout} ms`),
        );
      }, signal);
      transport = await options.transport(endpoint, { signal });
      const open = transport;
      if (signal.aborted) throw signal.reason;
      const connection: Connection = {
        endpoint,
        transport: open,
        controller,
        joined: false,
        heartbeatSentAt: 0,
      };
      this.#connection = connection;
      signal.addEventListener("abort", () => open.close(), { once: true });
      await open.write(encodeFrame(`type@=loginreq/roomid@=${this.room}/`));

      // Joining waits for loginres: a client that joins earlier can believe
      // it is in the room when it is not.
      const join = async () => {
        await open.write(encodeFrame(`type@=joingroup/rid@=${this.room}/gid@=${options.group}/`));
        connection.joined = true;
        joinedAt = performance.now();
        cancelLoginTimer();
        // This context lives as long as the connection: let the spent timer go.
        cancelLoginTimer = () => {};
        setRepeating(options.heartbeatInterval, () => {
          connection.heartbeatSentAt = performance.now();
          open.write(HEARTBEAT).catch(fail);
        }, signal);
        this.#emit({ type: "connected", url: endpoint.url });
        onJoined();
      };
      await this.#read(connection, join, fail);
      error = signal.reason;
    } catch (thrown) {
      error = signal.aborted ? signal.reason : thrown;
    } finally {
      if (!signal.aborted) controller.abort(new ClosedError("connection ended"));
      controller.release();
      transport?.close();
      if (this.#connection?.controller === controller) this.#connection = undefined;
    }
    return {
      joined: joinedAt !== 0,
      error,
      upFor: joinedAt === 0 ? 0 : performance.now() - joinedAt,
    };
  }

  /** The read loop of one connection; returns when it ends, throws what broke it. */
  async #read(connection: Connection, join: () => Promise<void>, fail: (e: unknown) => void) {
    const options = this.#options;
    const { transport, controller } = connection;
    const signal = controller.signal;
    const types = options.types;
    const onBody = options.onBody;
    const wanted = (type: string | undefined) =>
      type !== undefined && (types!.has(type) || READ_BY_SESSION.has(type));
    const decoder = new FrameDecoder({
      maxFrameSize: options.maxFrameSize,
      // Unwanted types are dropped before their UTF-8 is decoded, unless a
      // recorder wants every body.
      ...(types !== undefined && onBody === undefined
        ? { filter: (body: Uint8Array) => wanted(peekTypeBytes(body)) }
        : {}),
    });

    // Idle watchdog. Time spent waiting for a slow consumer is not idleness.
    let lastActivity = performance.now();
    let paused = false;
    const watch = () => {
      setTimer(options.idleTimeout, () => {
        const idle = Math.round(performance.now() - lastActivity);
        if (paused || idle < options.idleTimeout) {
          watch();
        } else {
          fail(new TimeoutError(`no data from ${connection.endpoint.url} for ${idle} ms`));
        }
      }, signal);
    };
    watch();
    // Only a joined connection pauses: login must go on whatever the queue holds.
    const pauses = options.overflow === "pause";
    const mustPause = () => pauses && connection.joined && this.#sink.full;
    const waitForSpace = async () => {
      paused = true;
      await this.#sink.waitForSpace(signal);
      paused = false;
      lastActivity = performance.now();
    };

    let bytesBeforeLogin = 0;
    while (!signal.aborted) {
      if (mustPause()) {
        await waitForSpace();
        continue;
      }
      // A loop that keeps up takes what the last reads brought before more
      // is parsed: messages queued by the thousand would live long enough
      // to cost the garbage collector more than decoding them did.
      if (this.#iterating && this.#sink === this.#queue && this.#queue.size >= PARSE_AHEAD) {
        await this.#queue.waitForConsumer(signal);
        if (signal.aborted) return;
      }
      const chunk = await transport.read();
      if (chunk === null) {
        if (!signal.aborted) {
          fail(new ClosedError(`${connection.endpoint.url} closed the connection`));
        }
        return;
      }
      if (!connection.joined && (bytesBeforeLogin += chunk.length) > MAX_BYTES_BEFORE_LOGIN) {
        throw new ProtocolError(
          `${connection.endpoint.url} sent more than ${MAX_BYTES_BEFORE_LOGIN} bytes without loginres`,
        );
      }
      const receivedAt = Date.now(); // wall-clock time, for recordings
      lastActivity = performance.now();
      const frames = decoder.push(chunk);
      let dropped = 0;
      // Between awaits the connection cannot end, except by a close() from
      // code called here, which sets #closeRequested first: the signal (a
      // costly getter on Deno) is read only after an await.
      let awaited = false;
      for (const frame of frames) {
        // One read can carry thousands of messages: the queue bound holds per message.
        if (mustPause()) {
          await waitForSpace();
          awaited = true;
        }
        if (this.#closeRequested || (awaited && signal.aborted)) return;
        const body = frame.body;
        if (onBody !== undefined) {
          try {
            onBody(body, receivedAt);
          } catch (error) {
            this.#emit({ type: "error", error });
          }
          if (types !== undefined && !wanted(peekType(body))) continue;
        }
        const msg = parseMessage(body);
        if (msg.type === "loginres" && !connection.joined) {
          await join();
          awaited = true;
        } else if (msg.type === "mrkl" && connection.heartbeatSentAt !== 0) {
          this.#emit({
            type: "heartbeat",
            url: connection.endpoint.url,
            rtt: Math.round(performance.now() - connection.heartbeatSentAt),
          });
          connection.heartbeatSentAt = 0;
        }
        if (types !== undefined && !types.has(msg.type)) continue;
        dropped += this.#deliver(msg as M);
      }
      if (dropped > 0) {
        this.#dropped += dropped;
        this.#emit({ type: "dropped", count: dropped, total: this.#dropped });
      }
      // The good frames before a framing error are delivered; then the
      // connection ends (a byte stream cannot be resynchronised).
      if (decoder.error !== undefined) throw decoder.error;
    }
  }

  /** Hands a message to the handlers and/or the sink; returns how many were dropped. */
  #deliver(msg: M): number {
    const handlers = this.#handlers;
    if (handlers !== undefined && handlers.size > 0) {
      this.#call(handlers.get(msg.type), msg);
      this.#call(handlers.get("*"), msg);
      if (!this.#iterating) return 0;
      // A handler may have closed the session.
      if (this.#closeRequested) return 0;
    }
    return this.#sink.push(msg);
  }

  #call(handlers: Set<MessageHandler<M>> | undefined, msg: M): void {
    if (handlers === undefined) return;
    for (const handler of handlers) {
      if (this.#closeRequested) return;
      try {
        const result = handler(msg);
        if (result instanceof Promise) {
          result.catch((error) => this.#emit({ type: "error", error }));
        }
      } catch (error) {
        this.#emit({ type: "error", error });
      }
    }
  }

  #emit(event: StatusEvent): void {
    this.#status.emit(event);
  }
}

function resolveOptions(options: ConnectOptions): ResolvedOptions {
  const positive = (name: string, value: number | undefined, fallback: number, max = Infinity) => {
    const n = value ?? fallback;
    if (!(n > 0 && n <= max)) {
      throw new RangeError(`${name} must be a number above 0 and at most ${max}, got ${value}`);
    }
    return n;
  };
  // Timer delays beyond 2^31-1 ms fire at once on every runtime.
  const delay = (name: string, value: number | undefined, fallback: number) =>
    positive(name, value, fallback, MAX_TIMEOUT);
  const reconnect = options.reconnect ?? true;
  const policy = reconnect === false ? undefined : reconnect === true ? {} : reconnect;
  const heartbeatInterval = delay("heartbeatInterval", options.heartbeatInterval, 45_000);
  const idleTimeout = delay("idleTimeout", options.idleTimeout, 120_000);
  // The server answers each heartbeat, so a quiet room still sends a byte
  // every heartbeatInterval: a shorter idle timeout would reconnect forever.
  if (heartbeatInterval >= idleTimeout) {
    throw new RangeError(
      `heartbeatInterval (${heartbeatInterval} ms) must be shorter than idleTimeout (${idleTimeout} ms)`,
    );
  }
  return {
    heartbeatInterval,
    idleTimeout,
    loginTimeout: delay("loginTimeout", options.loginTimeout, 10_000),
    reconnect: policy && {
      initialDelay: delay("reconnect.initialDelay", policy.initialDelay, 1000),
      maxDelay: delay("reconnect.maxDelay", policy.maxDelay, 30_000),
      multiplier: positive("reconnect.multiplier", policy.multiplier, 2),
      resetAfter: positive("reconnect.resetAfter", policy.resetAfter, 60_000),
      maxAttempts: policy.maxAttempts ?? Infinity,
    },
    group: options.group ?? -9999,
    types: options.types ? new Set(options.types) : undefined,
    queueSize: positive("queueSize", options.queueSize, 10_000),
    overflow: options.overflow ?? "pause",
    transport: options.transport ?? defaultTransportFactory,
    maxFrameSize: positive("maxFrameSize", options.maxFrameSize, 1024 * 1024),
    onBody: options.onBody,
  };
}
