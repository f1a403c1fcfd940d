/**
 * WebSocket transports: the client on the global `WebSocket` (Deno, Bun,
 * Node 22+), and a server for the mock server on `Deno.serve` or `Bun.serve`.
 * Each binary message carries Douyu packets; text messages are ignored.
 *
 * @module
 */
import { ClosedError, DouyuError, TlsError } from "../base/errors.ts";
import type {
  ConnectionHandler,
  Endpoint,
  Listener,
  Transport,
  TransportConnectOptions,
} from "./seam.ts";
import { deliverConnection, listenerEndpoint, ReadQueue, WriteChain } from "./shared.ts";

/**
 * Unread binary data a WebSocket transport holds before it gives up. A
 * WebSocket cannot be paused, so a consumer that stops reading would otherwise
 * let memory grow without bound; past this the connection is closed and the
 * next `read()` rejects with a `ClosedError`.
 *
 * @example
 * ```ts
 * import { WS_MAX_UNREAD_BYTES } from "./websocket.ts";
 *
 * console.log(WS_MAX_UNREAD_BYTES / 1024 / 1024); // 16
 * ```
 */
export const WS_MAX_UNREAD_BYTES: number = 16 * 1024 * 1024;

/** The most one `read()` returns: a larger WebSocket message comes out in slices. */
const READ_SLICE = 64 * 1024;

/** `write()` waits while more than this is queued in the socket. */
const WRITE_HIGH_WATER = 1024 * 1024;

/**
 * Error texts that mean the TLS handshake failed: rustls on Deno ("received
 * corrupt message", "peer is incompatible", "received fatal alert:
 * HandshakeFailure", certificate errors), BoringSSL on Bun ("TLS handshake failed").
 */
const TLS_FAILURE = /\btls\b|ssl|certificate|corrupt message|fatal alert|peer is incompatible/i;

/** How a {@linkcode WsTransport} sends and closes on the underlying socket. */
interface MessageSink {
  send(bytes: Uint8Array): Promise<void>;
  close(): void;
}

/** A message-based socket as a {@linkcode Transport}: each binary message is one chunk. */
class WsTransport implements Transport {
  readonly url: string;
  #sink: MessageSink;
  #onClose: (() => void) | undefined;
  // A huge message is handed out in slices, so a reader that decodes a read
  // at a time never holds more than a slice's worth of messages.
  #queue: ReadQueue;
  #closed = false;
  // Writes are chained so that at most one message sits past the sink's
  // high-water mark: Bun even drops messages sent past its limit.
  #writing = new WriteChain();

  constructor(url: string, sink: MessageSink, onClose?: () => void) {
    this.url = url;
    this.#sink = sink;
    this.#onClose = onClose;
    this.#queue = new ReadQueue(url, { maxRead: READ_SLICE });
  }

  /** Bytes received but not yet returned by `read()`. */
  get bufferedBytes(): number {
    return this.#queue.bufferedBytes;
  }

  /** Whether the socket has closed (or failed). */
  get ended(): boolean {
    return this.#queue.ended;
  }

  /** Delivers one binary message. */
  receive(chunk: Uint8Array): void {
    if (this.#queue.ended) return;
    this.#queue.push(chunk);
    if (this.#queue.bufferedBytes > WS_MAX_UNREAD_BYTES) {
      this.#queue.clear();
      this.finish(
        new ClosedError(
          `${this.url}: closed, more than ${WS_MAX_UNREAD_BYTES} bytes arrived unread`,
        ),
      );
      this.#sink.close();
    }
  }

  /** The socket closed; with `error` if it failed. */
  finish(error?: Error): void {
    if (this.#queue.finish(error)) this.#onClose?.();
  }

  read(): Promise<Uint8Array | null> {
    if (this.#closed) return Promise.resolve(null);
    return this.#queue.read();
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#writing.run(() => {
      if (this.#closed || this.#queue.ended) {
        throw new ClosedError(`${this.url}: connection closed`);
      }
      return this.#sink.send(bytes);
    });
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.finish();
    this.#sink.close();
  }
}

/** Wraps a standard `WebSocket` (client, or server side under Deno). */
function wrapWebSocket(ws: WebSocket, url: string, onClose?: () => void): WsTransport {
  ws.binaryType = "arraybuffer";
  const transport = new WsTransport(url, {
    async send(bytes) {
      if (ws.readyState !== WebSocket.OPEN) throw new ClosedError(`${url}: connection closed`);
      // The DOM type excludes SharedArrayBuffer views; ours never are.
      ws.send(bytes as Uint8Array<ArrayBuffer>);
      // WebSocket has no drain event; poll the send queue instead.
      while (ws.bufferedAmount > WRITE_HIGH_WATER && ws.readyState === WebSocket.OPEN) {
        await new Promise((resolve) => setTimeout(resolve, 5));
      }
      if (ws.readyState !== WebSocket.OPEN) throw new ClosedError(`${url}: connection closed`);
    },
    close: () => ws.close(),
  }, onClose);
  ws.addEventListener("message", (event: MessageEvent) => {
    if (event.data instanceof ArrayBuffer) transport.receive(new Uint8Array(event.data));
  });
  ws.addEventListener("error", (event: Event) => {
    transport.finish(new ClosedError(`${url}: connection lost (${eventText(event)})`));
  });
  ws.addEventListener("close", () => transport.finish());
  return transport;
}

function eventText(event: Event): string {
  const message = (event as Partial<ErrorEvent>).message;
  return typeof message === "string" && message ? message : "WebSocket error";
}

/**
 * Opens a WebSocket connection with the global `WebSocket`.
 *
 * @param endpoint A `ws://` or `wss://` endpoint.
 * @param options `signal` abandons the attempt (the promise rejects with its reason).
 * @returns The open transport.
 * @throws {TlsError} when the `wss://` TLS handshake fails (as far as the
 *   runtime's error text tells), a `DouyuError` naming the URL for other failures.
 *
 * @example
 * ```ts
 * import { connectWebSocket, listenWebSocket } from "./websocket.ts";
 *
 * const listener = await listenWebSocket("127.0.0.1", 0, (conn) => conn.close());
 * const conn = await connectWebSocket(listener.endpoint);
 * console.log(await conn.read()); // null: the server hung up
 * conn.close();
 * await listener.close();
 * ```
 */
export function connectWebSocket(
  endpoint: Endpoint,
  options: TransportConnectOptions = {},
): Promise<Transport> {
  const { signal } = options;
  const { url } = endpoint;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    if (typeof WebSocket === "undefined") {
      return reject(new DouyuError(`${url}: WebSocket needs Deno, Bun or Node 22+`));
    }
    const ws = new WebSocket(url);
    const transport = wrapWebSocket(ws, url);
    // Failures are reported on `close`, which follows `error`: by then the
    // runtime has released the socket, so nothing outlives the rejection.
    let failure: unknown;
    const onOpen = () => {
      cleanup();
      resolve(transport);
    };
    const onError = (event: Event) => {
      const text = eventText(event);
      failure ??= endpoint.protocol === "wss" && TLS_FAILURE.test(text)
        ? new TlsError(url, new Error(text))
        : new DouyuError(
          text.includes(url) ? text : `WebSocket connection to ${url} failed: ${text}`,
        );
    };
    const onClose = (event: CloseEvent) => {
      cleanup();
      reject(
        failure ??
          new DouyuError(`WebSocket connection to ${url} closed (code ${event.code})`),
      );
    };
    const onAbort = () => {
      failure = signal?.reason;
      ws.close();
    };
    const cleanup = () => {
      ws.removeEventListener("open", onOpen);
      ws.removeEventListener("error", onError);
      ws.removeEventListener("close", onClose);
      signal?.removeEventListener("abort", onAbort);
    };
    ws.addEventListener("open", onOpen);
    ws.addEventListener("error", onError);
    ws.addEventListener("close", onClose);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/** The part of Bun's `ServerWebSocket` used here. */
interface BunSocket {
  data: BunSocketData;
  send(data: Uint8Array): number;
  close(): void;
}

interface BunSocketData {
  transport?: WsTransport;
  /** Writes waiting for `drain` (or `close`). */
  drainWaiters?: (() => void)[];
}

/** The part of `Bun.serve` used here (Deno type-checks this file, so no Bun types). */
interface BunRuntime {
  serve(options: {
    hostname: string;
    port: number;
    fetch(request: Request, server: BunServer): Response | undefined;
    websocket: {
      open(ws: BunSocket): void;
      message(ws: BunSocket, message: string | Uint8Array): void;
      drain(ws: BunSocket): void;
      close(ws: BunSocket): void;
    };
  }): BunServer;
}

interface BunServer {
  readonly port: number;
  upgrade(request: Request, options: { data: BunSocketData }): boolean;
  stop(closeActiveConnections?: boolean): Promise<void> | void;
}

/**
 * Listens for WebSocket connections on any path, for the mock server:
 * `Deno.serve` under Deno, `Bun.serve` under Bun. Accepted connections are
 * {@linkcode Transport}s, handed over once open. Closing the listener also
 * closes them.
 *
 * @param host Address to bind, e.g. `127.0.0.1`.
 * @param port Port to bind; 0 lets the OS choose (see `endpoint.port`).
 * @param onConnection Called with each accepted connection.
 * @returns The listener, once it is bound.
 * @throws {DouyuError} under Node, which has no built-in WebSocket server.
 *
 * @example
 * ```ts
 * import { listenWebSocket } from "./websocket.ts";
 *
 * const listener = await listenWebSocket("127.0.0.1", 0, (conn) => conn.close());
 * console.log(listener.endpoint.url); // e.g. "ws://127.0.0.1:40123/"
 * await listener.close();
 * ```
 */
export async function listenWebSocket(
  host: string,
  port: number,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const bun = (globalThis as { Bun?: BunRuntime }).Bun;
  if (bun) return listenBun(bun, host, port, onConnection);
  if (typeof Deno !== "undefined") return await listenDeno(host, port, onConnection);
  throw new DouyuError("WebSocket server needs Deno or Bun");
}

async function listenDeno(
  host: string,
  port: number,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const open = new Set<Transport>();
  const listening = Promise.withResolvers<Endpoint>();
  let url = "";
  const server = Deno.serve({
    hostname: host,
    port,
    // Also keeps Deno.serve from logging "Listening on ...".
    onListen: (addr) => {
      const endpoint = listenerEndpoint("ws", host, addr.port);
      url = endpoint.url;
      listening.resolve(endpoint);
    },
  }, (request) => {
    if (request.headers.get("upgrade")?.toLowerCase() !== "websocket") {
      return new Response("WebSocket only", { status: 426 });
    }
    const { socket, response } = Deno.upgradeWebSocket(request);
    const transport = wrapWebSocket(socket, url, () => open.delete(transport));
    socket.addEventListener("open", () => {
      open.add(transport);
      deliverConnection(onConnection, transport);
    }, { once: true });
    return response;
  });
  const endpoint = await listening.promise;
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    close() {
      for (const transport of open) transport.close();
      closing ??= server.shutdown();
      return closing;
    },
  };
}

function wakeWriters(ws: BunSocket): void {
  const waiters = ws.data.drainWaiters ?? [];
  ws.data.drainWaiters = undefined;
  for (const wake of waiters) wake();
}

function listenBun(
  bun: BunRuntime,
  host: string,
  port: number,
  onConnection: ConnectionHandler,
): Listener {
  const open = new Set<Transport>();
  let url = "";
  const server = bun.serve({
    hostname: host,
    port,
    fetch(request, server) {
      if (server.upgrade(request, { data: {} })) return undefined;
      return new Response("WebSocket only", { status: 426 });
    },
    websocket: {
      open(ws) {
        const transport = new WsTransport(url, {
          async send(bytes) {
            // -1: queued under backpressure, wait for `drain`. 0: dropped, because
            // the socket closed or the queue was over Bun's limit; either way
            // the byte stream has a hole now, so end it.
            const sent = ws.send(bytes);
            if (sent === 0) ws.close();
            if (sent === -1) {
              await new Promise<void>((resolve) => (ws.data.drainWaiters ??= []).push(resolve));
            }
            if (sent === 0 || transport.ended) throw new ClosedError(`${url}: connection closed`);
          },
          close: () => ws.close(),
        }, () => open.delete(transport));
        ws.data.transport = transport;
        open.add(transport);
        deliverConnection(onConnection, transport);
      },
      message(ws, message) {
        if (typeof message === "string") return;
        // A plain view: Bun hands over a Buffer, whose `slice` semantics differ.
        ws.data.transport?.receive(
          new Uint8Array(message.buffer, message.byteOffset, message.byteLength),
        );
      },
      drain: wakeWriters,
      close(ws) {
        ws.data.transport?.finish();
        wakeWriters(ws);
      },
    },
  });
  const endpoint = listenerEndpoint("ws", host, server.port);
  url = endpoint.url;
  let closing: Promise<void> | undefined;
  return {
    endpoint,
    close() {
      closing ??= Promise.resolve(server.stop(true));
      return closing;
    },
  };
}
