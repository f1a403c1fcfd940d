/**
 * The server side of this package's WebSocket (`websocket.ts`), for the mock
 * server: the upgrade handshake, answered as a strict HTTP server answers
 * what is not one, and a listener whose connections still waiting for their
 * request are bounded, in all and per peer address.
 *
 * @module
 */
import { DouyuError } from "../base/errors.ts";
import { checkRequest } from "../base/guard.ts";
import { setTimer } from "../base/timers.ts";
import type { ConnectionHandler, Listener, Transport } from "./seam.ts";
import { deliverConnection, listenerEndpoint } from "./shared.ts";
import { DOUYU_ORIGIN, WebSocketTransport } from "./websocket.ts";
import { acceptKey, HandshakeHeadError, type HttpHead, readHead } from "./websocket_handshake.ts";

/** Connections a WebSocket listener lets wait for their request at once. */
const MAX_WAITING = 512;
/** …and from one address: so one peer cannot take every place. */
const MAX_WAITING_PER_ADDRESS = 256;
/** How long a server waits for a connection's upgrade request. */
const SERVER_HANDSHAKE_TIMEOUT = 10_000;

const encoder = new TextEncoder();

/**
 * Runs the server handshake on an accepted byte stream: reads the upgrade
 * request (bounded in size and time), answers `101 Switching Protocols`, and
 * returns the WebSocket. What is not an upgrade request is answered as a
 * strict HTTP server would, and the stream closed: `400 Bad Request` at the
 * first bytes that no HTTP request can start with (a Douyu packet sent to
 * the wrong port, say) or without `Host`, `431` for a head over 16 KiB,
 * `426 Upgrade Required` for any other request. With a `policy`, an upgrade
 * whose `Host` or `Origin` the server does not answer (`base/guard.ts`: a
 * DNS-rebinding page, another site's page; Douyu's own origin, which clients
 * send, and pages on this machine are accepted) gets `421` or `403`, and one
 * the server has no room for `503`.
 *
 * @param stream The accepted connection; owned by the result from now on.
 * @param url The listener's `ws://` URL, for messages.
 * @param onRequest Called once a whole request head has arrived.
 * @param policy Who may connect, and whether there is room.
 * @returns The open WebSocket.
 * @throws {DouyuError} when the request is not an upgrade, or is refused (after answering it).
 *
 * @example
 * ```ts ignore
 * const ws = await acceptWebSocket(acceptedConn, "ws://127.0.0.1:8080/");
 * ```
 */
export async function acceptWebSocket(
  stream: Transport,
  url: string,
  onRequest?: () => void,
  policy?: UpgradePolicy,
): Promise<Transport> {
  const timeout = new AbortController();
  setTimer(SERVER_HANDSHAKE_TIMEOUT, () => stream.close(), timeout.signal);
  try {
    let head: HttpHead;
    try {
      head = await readHead(stream, url, "request");
      if (!head.headers.has("host")) throw new HandshakeHeadError(`${url}: no Host header`, 400);
      onRequest?.();
    } catch (error) {
      if (error instanceof HandshakeHeadError) {
        policy?.onRefused?.(error.status, error.message);
        await refuse(stream, error.status);
      }
      throw error;
    }
    const refused = async (status: Refusal, reason: string): Promise<never> => {
      policy?.onRefused?.(status, reason);
      await refuse(stream, status);
      throw new DouyuError(`${url}: ${reason}`);
    };
    const key = head.headers.get("sec-websocket-key");
    if (
      !/^GET /.test(head.startLine) || key === undefined ||
      head.headers.get("upgrade")?.toLowerCase() !== "websocket" ||
      head.headers.get("sec-websocket-version") !== "13"
    ) {
      return await refused(426, "not a WebSocket upgrade request");
    }
    if (policy !== undefined) {
      const verdict = checkRequest({
        host: head.headers.get("host"),
        origin: head.headers.get("origin"),
        "sec-fetch-site": head.headers.get("sec-fetch-site"),
        "sec-fetch-mode": head.headers.get("sec-fetch-mode"),
      }, { listenHost: policy.listenHost, allowOrigins: [DOUYU_ORIGIN], loopbackOrigins: true });
      if (!verdict.ok) return await refused(verdict.status, verdict.reason);
      if (policy.admit?.() === false) return await refused(503, "too many connections");
    }
    await stream.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
    ));
    return new WebSocketTransport(stream, url, "server", head.rest);
  } catch (error) {
    stream.close();
    throw error;
  } finally {
    timeout.abort();
  }
}

/**
 * Who may open a WebSocket on a listener, and whether it has room.
 *
 * @example
 * ```ts
 * import type { UpgradePolicy } from "./websocket_server.ts";
 *
 * let open = 0;
 * const policy: UpgradePolicy = { listenHost: "127.0.0.1", admit: () => open < 100 };
 * console.log(policy.admit?.()); // true
 * ```
 */
export interface UpgradePolicy {
  /**
   * The address listened on: with loopback names, the only `Host` accepted
   * (see `base/guard.ts`); pages on this machine may connect (`Origin`).
   */
  listenHost: string;
  /** Asked once a request passed the check: false refuses it with `503` (the server is full). */
  admit?: () => boolean;
  /** Told of every request refused (its status, and why), so that it can be counted. */
  onRefused?: (status: number, reason: string) => void;
}

/** The answers of a listener that refuses a request: status line, extra headers, body. */
const REFUSALS = {
  400: ["400 Bad Request", "", "Bad Request\n"],
  403: ["403 Forbidden", "", "Requests from other sites' pages are refused\n"],
  421: ["421 Misdirected Request", "", "This server answers only for its own address\n"],
  426: ["426 Upgrade Required", "Sec-WebSocket-Version: 13\r\n", "WebSocket only\n"],
  431: ["431 Request Header Fields Too Large", "", "Request header too large\n"],
  503: ["503 Service Unavailable", "Retry-After: 5\r\n", "Too many connections\n"],
} as const;

type Refusal = keyof typeof REFUSALS;

/** Answers a refused request (the connection closes next); a failed write is no matter. */
async function refuse(stream: Transport, status: Refusal): Promise<void> {
  const [line, headers, body] = REFUSALS[status];
  await stream.write(encoder.encode(
    `HTTP/1.1 ${line}\r\n${headers}Content-Type: text/plain\r\n` +
      `Content-Length: ${body.length}\r\nConnection: close\r\n\r\n${body}`,
  )).catch(() => {});
}

/**
 * The connections of a listener that have not sent their request yet,
 * bounded in all and per peer address: a peer that opens many and never
 * sends the upgrade must not hold sockets without limit, nor keep others
 * out. When full, the oldest of the address that holds the most goes (its
 * own, for an address at its bound), never the newcomer: refusing
 * newcomers would let an attacker who simply reconnects keep every place.
 * A real client sends its request at once and leaves here when it arrives,
 * so churn from other addresses never reaches it.
 */
class WaitingRoom {
  /** Per address, oldest first (a Set keeps order). */
  readonly #byAddress = new Map<string, Set<Transport>>();
  #size = 0;

  /** Lets `stream` wait, closing whichever connection must give way. */
  admit(stream: Transport): void {
    const address = stream.remoteAddress ?? "";
    const own = this.#byAddress.get(address);
    if (own !== undefined && own.size >= MAX_WAITING_PER_ADDRESS) this.#evictOldest(own);
    else if (this.#size >= MAX_WAITING) this.#evictOldest(this.#largest());
    let set = this.#byAddress.get(address);
    if (set === undefined) this.#byAddress.set(address, set = new Set());
    set.add(stream);
    this.#size++;
  }

  /** `stream` sent its request, or is gone. */
  leave(stream: Transport): void {
    const address = stream.remoteAddress ?? "";
    const own = this.#byAddress.get(address);
    if (!own?.delete(stream)) return;
    this.#size--;
    if (own.size === 0) this.#byAddress.delete(address);
  }

  #largest(): Set<Transport> {
    let largest: Set<Transport> | undefined;
    for (const set of this.#byAddress.values()) if (set.size > (largest?.size ?? 0)) largest = set;
    return largest!;
  }

  #evictOldest(set: Set<Transport>): void {
    const oldest = set.values().next().value!;
    this.leave(oldest);
    oldest.close();
  }
}

/** The runtime's TCP listen function: `listenDenoTcp` or `listenNodeTcp`. */
export type TcpListen = (
  host: string,
  port: number,
  onConnection: ConnectionHandler,
) => Listener | Promise<Listener>;

/**
 * Listens for WebSocket connections on any path: a TCP listener whose
 * connections are handed over as WebSockets once their handshake is done.
 * Connections that fail the handshake are answered (or dropped) and closed,
 * never handed over. Closing the listener closes every connection.
 *
 * @param listenTcp The runtime's TCP listen function.
 * @param host Address to bind.
 * @param port Port to bind; 0 lets the OS choose.
 * @param onConnection Called with each WebSocket.
 * @param policy Who may connect, and whether there is room (see {@linkcode UpgradePolicy});
 * `listenHost` defaults to `host`. Without one, any request that is an upgrade is accepted.
 * @returns The bound listener, with a `ws://` endpoint.
 *
 * @example
 * ```ts
 * import { listenDenoTcp } from "./deno_tcp.ts";
 * import { listenWebSocket } from "./websocket_server.ts";
 *
 * const listener = await listenWebSocket(listenDenoTcp, "127.0.0.1", 0, (ws) => ws.close());
 * console.log(listener.endpoint.url); // e.g. "ws://127.0.0.1:40123/"
 * await listener.close();
 * ```
 */
export async function listenWebSocket(
  listenTcp: TcpListen,
  host: string,
  port: number,
  onConnection: ConnectionHandler,
  policy?: Omit<UpgradePolicy, "listenHost">,
): Promise<Listener> {
  const upgrade = policy === undefined ? undefined : { ...policy, listenHost: host };
  const waiting = new WaitingRoom();
  const tcp = await listenTcp(host, port, (stream) => {
    waiting.admit(stream);
    const url = `${stream.url.replace(/^tcp:/, "ws:")}/`;
    const requested = () => waiting.leave(stream);
    acceptWebSocket(stream, url, requested, upgrade).then(
      (ws) => deliverConnection(onConnection, ws),
      () => {}, // answered (or dropped) already; nothing to hand over
    ).finally(requested);
  });
  return { endpoint: listenerEndpoint("ws", host, tcp.endpoint.port), close: () => tcp.close() };
}
