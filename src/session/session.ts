/**
 * A live connection to a room's barrage: log in, join the group, keep the
 * heartbeat, reconnect across faults, and hand over every message, as an
 * async iterator or to typed handlers. Runtime-free: sockets come from a
 * {@linkcode TransportFactory}.
 *
 * @module
 */

import { ClosedError, ConnectionError, DouyuError, TimeoutError } from "../base/errors.ts";
import type { ConnectionAttempt } from "../base/errors.ts";
import { encodeFrame } from "../protocol/frame.ts";
import type { Message, MessageOf } from "../protocol/messages.ts";
import { EventFeed } from "../base/feed.ts";
import { MessageQueue } from "../base/queue.ts";
import { resolveRoomFor } from "../web/room.ts";
import { encodeStt, type SttValue } from "../protocol/stt.ts";
import {
  backoffDelay,
  childController,
  type Deferred,
  deferred,
  setTimer,
  sleep,
} from "../base/timers.ts";
import { type Endpoint, parseEndpoint, type Transport } from "../transport/seam.ts";
import type { CloseInfo, MessageHandler, MessageSink, StatusEvent } from "./events.ts";
import { sendHeartbeats } from "./keepalive.ts";
import {
  type ConnectOptions,
  defaultUrls,
  type ResolvedOptions,
  resolveOptions,
} from "./options.ts";
import { type Connection, readConnection, type ReadHost } from "./read_loop.ts";

export type { CloseInfo, MessageHandler, MessageSink, StatusEvent } from "./events.ts";
export {
  type ConnectOptions,
  DEFAULT_TCP_URLS,
  DEFAULT_WSS_PORTS,
  defaultUrls,
  type ReconnectPolicy,
} from "./options.ts";
export { MAX_BYTES_BEFORE_LOGIN } from "./read_loop.ts";

const LOGOUT = encodeFrame("type@=logout/");
/** How long `close()` waits for `logout` to be written before closing anyway. */
const LOGOUT_TIMEOUT = 1000;
/**
 * How much longer `close()` reads on, discarding, for the server to close
 * the connection (it does once it has read `logout`) before closing anyway.
 */
const LOGOUT_DRAIN_TIMEOUT = 1000;
const STATUS_BUFFER = 256;

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
        sendHeartbeats(
          options.heartbeatInterval,
          connection,
          (bytes) => open.write(bytes),
          fail,
          signal,
        );
        this.#emit({ type: "connected", url: endpoint.url });
        onJoined();
      };
      await readConnection(this.#readHost(), connection, join, fail);
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

  /** What the read loop of a connection needs of this session. */
  #readHost(): ReadHost<M> {
    // deno-lint-ignore no-this-alias
    const session = this;
    return {
      options: this.#options,
      get sink() {
        return session.#sink;
      },
      get pacedBy() {
        return session.#iterating && session.#sink === session.#queue ? session.#queue : undefined;
      },
      get closeRequested() {
        return session.#closeRequested;
      },
      deliver: (msg) => this.#deliver(msg),
      dropped: (count) => {
        this.#dropped += count;
        this.#emit({ type: "dropped", count, total: this.#dropped });
      },
      emit: (event) => this.#emit(event),
    };
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
