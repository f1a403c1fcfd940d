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
import { ClosedError } from "../base/errors.ts";
import type { Listener, Transport } from "../transport/seam.ts";
import { listen } from "../transport/default.ts";
import { deferred } from "../base/timers.ts";
import { toBody } from "./frames.ts";
import { addWaiter, givenUp, type Waiter } from "./waiters.ts";
import { ClientPeer } from "./client_peer.ts";
import type { MockClient } from "./mock_client.ts";
import {
  type MockMessage,
  type MockProtocol,
  type MockServerOptions,
  type NextClientOptions,
  resolveSettings,
  type Settings,
} from "./mock_options.ts";

export { MockClient } from "./mock_client.ts";
export {
  DEFAULT_LOGIN_RESPONSE,
  MOCK_SERVER_LIMITS,
  type MockMessage,
  type MockMessageSource,
  type MockProtocol,
  type MockServerOptions,
  type NextClientOptions,
  type RecordedLine,
  type SendFramesMode,
  type WaitForOptions,
} from "./mock_options.ts";

/** A `nextClient()` call waiting for a client. */
interface ClientWaiter extends Waiter<MockClient> {
  /** Only a client that has sent `joingroup` will do. */
  readonly joined: boolean;
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
  #refused = 0;
  #url = "";
  #urls: Readonly<Record<MockProtocol, string | undefined>> = { tcp: undefined, ws: undefined };
  /**
   * The clients still known, in the order they connected: every open one,
   * and the newest `maxClosedClients` closed ones.
   */
  readonly #peers: ClientPeer[] = [];
  /** The known closed clients, oldest first: the next to be forgotten. */
  readonly #closedPeers: ClientPeer[] = [];
  #openClients = 0;
  #nextId = 1;
  /** What `clients` returned, until the list changes. */
  #clientsView: readonly MockClient[] | undefined;
  /** `finished()` of closed clients, forgotten or not, until it settles. */
  readonly #finishing = new Set<Promise<void>>();
  readonly #waiters: ClientWaiter[] = [];
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
          { protocol, host, port: index === 0 ? port : 0, upgrade: this.#upgrade },
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
    this.#clientsView ??= this.#peers.map((peer) => peer.client);
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
    const waiter: ClientWaiter = {
      joined: options.joined ?? true,
      deferred: deferred<MockClient>(),
      signal: options.signal,
    };
    const promise = addWaiter<MockClient, ClientWaiter>(this.#waiters, waiter);
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
      this.#peers.filter((peer) => peer.live).map((peer) => peer.client.send(body).catch(() => {})),
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
    for (const peer of [...this.#peers]) peer.close();
    await Promise.allSettled(this.#listeners.map((listener) => listener.close()));
    // Connections accepted while the listeners were closing were closed on arrival.
    await Promise.allSettled([...this.#finishing]);
  }

  /**
   * The WebSocket listener's checks: a request from another site's page or
   * under a name not this machine's is refused, and over `maxClients` one is
   * answered `503` before the upgrade, not dropped after it.
   */
  readonly #upgrade = {
    admit: () => this.#hasRoom(),
    onRefused: () => void this.#refused++,
  };

  #hasRoom(): boolean {
    return this.#closing === undefined && this.#openClients < this.#settings.maxClients;
  }

  /**
   * Connections refused: over {@linkcode MockServerOptions.maxClients}, and
   * WebSocket requests refused (not an upgrade, from another site's page,
   * under a name not this machine's). None is listed in `clients`.
   *
   * @example
   * ```ts ignore
   * console.log(`${server.refused} connections refused`);
   * ```
   */
  get refused(): number {
    return this.#refused;
  }

  #accept(conn: Transport, protocol: MockProtocol): void {
    if (!this.#hasRoom()) {
      // A WebSocket has room checked before its upgrade; one that lost a race counts here.
      if (this.#closing === undefined) this.#refused++;
      conn.close();
      return;
    }
    this.#openClients++;
    const peer: ClientPeer = new ClientPeer({
      id: this.#nextId++,
      protocol,
      conn,
      settings: this.#settings,
      onJoin: () => this.#dispatch(),
      onClose: () => this.#forget(peer),
    });
    this.#peers.push(peer);
    this.#clientsView = undefined;
    this.#dispatch();
  }

  /** A client closed: keep it among the newest closed ones, and forget the oldest. */
  #forget(peer: ClientPeer): void {
    this.#openClients--;
    const finished = peer.finished();
    this.#finishing.add(finished);
    void finished.finally(() => this.#finishing.delete(finished));
    this.#closedPeers.push(peer);
    while (this.#closedPeers.length > this.#settings.maxClosedClients) {
      const oldest = this.#closedPeers.shift()!;
      const index = this.#peers.indexOf(oldest);
      if (index !== -1) this.#peers.splice(index, 1);
      this.#clientsView = undefined;
    }
  }

  /** Hands unclaimed clients to waiting `nextClient()` calls, in call order. */
  #dispatch(): void {
    for (let i = 0; i < this.#waiters.length;) {
      const waiter = this.#waiters[i]!;
      if (givenUp(waiter)) {
        this.#waiters.splice(i, 1);
        continue;
      }
      const match = this.#peers.find((peer) =>
        !peer.consumed && (!waiter.joined || peer.hasJoined)
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
