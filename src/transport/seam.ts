/**
 * The seam between the runtime-free core (codec, session, mock server logic)
 * and the runtime's sockets. Only the files of `src/transport/` implement it
 * and touch `Deno.*`, `node:net` or `node:tls`.
 *
 * Every transport is pulled: bytes are read from the socket only when
 * `read()` is called. WebSocket is spoken by this package itself over a TCP
 * or TLS byte stream (`websocket.ts`) rather than through the runtime's
 * event-driven `WebSocket`, which reads on regardless of whether anyone keeps
 * up: pulled, a consumer that falls behind makes TCP push back on the server.
 *
 * @module
 */

/** A parsed endpoint URL: `tcp://host:port`, `ws://host:port/path` or `wss://…`. */
export interface Endpoint {
  /** `tcp`, `ws` or `wss`. */
  protocol: "tcp" | "ws" | "wss";
  /** Host name or IP address. */
  host: string;
  /** Port number. */
  port: number;
  /** The URL as given (normalised), used in messages and `status()` events. */
  url: string;
}

/**
 * A byte stream to or from a Douyu server. One reader at a time.
 *
 * Backpressure is pull-based: nothing is read from the socket (beyond a small
 * bounded buffer) until `read()` is called, so a consumer that stops reading
 * makes TCP push back on the server. Over WebSocket, `read()` returns the
 * payload bytes of binary messages, which carry the same byte stream.
 */
export interface Transport {
  /** The endpoint URL, for messages. */
  readonly url: string;
  /**
   * The peer's IP address, where the socket knows it: a listener tells
   * connections apart by it (one address cannot hold every slot).
   */
  readonly remoteAddress?: string;
  /**
   * The next chunk of bytes, or `null` once the peer closed or `close()` was
   * called. The chunk is only valid until the next `read()` (implementations
   * may reuse one buffer). Rejects on a socket error.
   */
  read(): Promise<Uint8Array | null>;
  /** Writes all of `bytes`. Rejects if the connection is closed or broken. */
  write(bytes: Uint8Array): Promise<void>;
  /**
   * Closes the connection and releases every resource. Idempotent; a pending
   * `read()` resolves `null`. After {@linkcode Transport.end}, it leaves the
   * connection to `end()`, which closes it within its bound.
   */
  close(): void;
  /**
   * Ends the connection gracefully, for a last message that must arrive
   * (`logout`): what was written still goes out, followed by the end of the
   * stream (TCP FIN; a close frame first over WebSocket); then whatever the
   * peer still sends is read and discarded until it closes too, or `timeout`
   * ms pass; then the connection closes. Closing at once instead would leave
   * unread bytes in the receive buffer, which makes the kernel send RST,
   * and a peer that gets RST drops what it has not read yet: the last
   * message too. Pending and later `read()`s resolve `null`, writes fail.
   * Idempotent; resolves once closed, never rejects.
   *
   * Optional: a transport without it is closed with `close()`.
   */
  end?(timeout: number): Promise<void>;
}

/** Options given to a {@linkcode TransportFactory}. */
export interface TransportConnectOptions {
  /** Aborting it abandons the connection attempt. */
  signal?: AbortSignal;
  /**
   * Extra trusted root certificates (PEM) for `wss://`, e.g. a test
   * server's own. The runtime's usual roots are trusted either way.
   */
  caCerts?: readonly string[];
}

/**
 * Opens a {@linkcode Transport} to an endpoint. Rejects (a `TlsError` for TLS
 * handshake failures) when it cannot.
 */
export type TransportFactory = (
  endpoint: Endpoint,
  options: TransportConnectOptions,
) => Promise<Transport>;

/** A listening server socket, as used by the mock server. */
export interface Listener {
  /** The actual address, with the port the OS chose for port 0. */
  readonly endpoint: Endpoint;
  /** Stops accepting and closes the listening socket. Idempotent. */
  close(): Promise<void>;
}

/** Called for every accepted connection. */
export type ConnectionHandler = (conn: Transport) => void;

/**
 * An endpoint URL: a host name holds no space or control character, and
 * neither does a path or a query (a URL that does is no address).
 */
const ENDPOINT =
  /^(tcp|wss?):\/\/(\[[^\]\s]+\]|[^:/?#\s\p{Cc}]+)(?::(\d+))?(\/[^?#\s\p{Cc}]*)?(\?[^#\s\p{Cc}]*)?$/iu;

/**
 * Parses `tcp://host:port`, `ws://host:port/path` or `wss://host:port/path`.
 *
 * @throws {TypeError} for any other scheme or a missing port on `tcp://`.
 */
export function parseEndpoint(url: string): Endpoint {
  const match = ENDPOINT.exec(url.trim());
  if (!match) throw new TypeError(`invalid endpoint URL: ${url}`);
  const protocol = match[1]!.toLowerCase() as Endpoint["protocol"];
  const host = match[2]!.replace(/^\[|\]$/g, "");
  const defaultPort = protocol === "wss" ? 443 : protocol === "ws" ? 80 : undefined;
  const port = match[3] === undefined ? defaultPort : Number(match[3]);
  if (port === undefined || !Number.isInteger(port) || port < 1 || port > 65535) {
    throw new TypeError(`invalid or missing port in endpoint URL: ${url}`);
  }
  const hostPart = host.includes(":") ? `[${host}]` : host;
  const rest = protocol === "tcp" ? "" : `${match[4] ?? "/"}${match[5] ?? ""}`;
  return { protocol, host, port, url: `${protocol}://${hostPart}:${port}${rest}` };
}
