/**
 * TCP and TLS on `node:net` and `node:tls`, for Bun and Node. Deno uses
 * `deno_tcp.ts`; `default.ts` picks, and imports this module only when it is
 * needed.
 *
 * @module
 */
import { createConnection, createServer, type Socket } from "node:net";
import { connect as connectTls, rootCertificates } from "node:tls";
import { ClosedError, errorText, TlsError } from "../base/errors.ts";
import { setTimer } from "../base/timers.ts";
import type {
  ConnectionHandler,
  Endpoint,
  Listener,
  Transport,
  TransportConnectOptions,
} from "./seam.ts";
import { deliverConnection, listenerEndpoint, ReadQueue } from "./shared.ts";

/**
 * Unread bytes held before the socket is paused. Past this, TCP flow control
 * pushes back on the server instead of our memory growing. The bound is this
 * plus one socket read (64 KiB on Node, up to 512 KiB on Bun).
 */
const READ_HIGH_WATER = 256 * 1024;

/** A `node:net` (or `node:tls`) socket as a pull-based {@linkcode Transport}. */
class NodeTcpTransport implements Transport {
  readonly url: string;
  readonly remoteAddress: string | undefined;
  #socket: Socket;
  #onClose: (() => void) | undefined;
  #queue: ReadQueue;
  #closed = false;
  /** Set by `end()`: the graceful close under way. */
  #ending: Promise<void> | undefined;

  constructor(socket: Socket, url: string, onClose?: () => void) {
    this.#socket = socket;
    this.url = url;
    this.remoteAddress = socket.remoteAddress;
    this.#onClose = onClose;
    this.#queue = new ReadQueue(url, {
      onRead: () => {
        if (this.#queue.bufferedBytes <= READ_HIGH_WATER / 2 && socket.isPaused()) socket.resume();
      },
    });
    socket.setNoDelay(true);
    socket.on("data", (data: Uint8Array) => this.#push(data));
    socket.on("end", () => this.#queue.finish());
    socket.on("close", () => this.#queue.finish());
    socket.on("error", (error: Error) => {
      this.#queue.finish(
        new ClosedError(`${url}: connection lost (${errorText(error)})`, {
          cause: error,
        }),
      );
    });
  }

  /** Bytes received but not yet returned by `read()`; bounded, see `READ_HIGH_WATER`. */
  get bufferedBytes(): number {
    return this.#queue.bufferedBytes;
  }

  #push(data: Uint8Array): void {
    if (this.#ending) return; // drained: read only to be discarded
    // A plain view, so callers never see Buffer's differing `slice` semantics.
    this.#queue.push(new Uint8Array(data.buffer, data.byteOffset, data.byteLength));
    if (this.#queue.bufferedBytes > READ_HIGH_WATER) this.#socket.pause();
  }

  read(): Promise<Uint8Array | null> {
    if (this.#closed || this.#ending) return Promise.resolve(null);
    return this.#queue.read();
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#ending || this.#queue.ended || !this.#socket.writable) {
      return Promise.reject(new ClosedError(`${this.url}: connection closed`));
    }
    // The callback fires once the bytes are handed to the OS (or the socket
    // failed), so awaiting it is the backpressure.
    return new Promise((resolve, reject) => {
      this.#socket.write(bytes, (error) => {
        if (!error) resolve();
        else {
          const reason = this.#closed ? "connection closed" : `write failed (${errorText(error)})`;
          reject(new ClosedError(`${this.url}: ${reason}`, { cause: error }));
        }
      });
    });
  }

  end(timeout: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#ending ??= new Promise((resolve) => {
      const socket = this.#socket;
      const guard = new AbortController();
      const done = () => {
        guard.abort();
        socket.off("end", done).off("close", done);
        this.#close();
        resolve();
      };
      // What arrives from now on is dropped as it comes (see #push), and a
      // paused socket flows again: nothing unread may be left to turn our
      // close into a RST. A pending read() resolves null.
      this.#queue.clear();
      this.#queue.finish();
      socket.resume();
      if (socket.readableEnded || socket.destroyed) return done();
      // `end` is the peer's FIN: nothing more can come. `close` also follows an error.
      socket.once("end", done).once("close", done);
      setTimer(timeout, done, guard.signal);
      // The FIN follows the writes already queued (the goodbye).
      socket.end();
    });
  }

  close(): void {
    // After end(), the connection is closed by it, within its bound.
    if (this.#ending === undefined) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#queue.clear();
    this.#queue.finish();
    this.#socket.destroy();
    this.#onClose?.();
  }
}

/**
 * Opens a TCP connection with `node:net`, or for `tls` a TLS one with
 * `node:tls`, resolving once the handshake is done.
 *
 * @param endpoint Where to connect; `url` names the connection in errors.
 * @param tls Whether to speak TLS (for `wss://`).
 * @param options `signal` abandons the attempt (the promise rejects with its
 *   reason); `caCerts` adds trusted roots for TLS.
 * @returns The connected transport.
 * @throws {TlsError} when the TLS handshake fails.
 *
 * @example
 * ```ts
 * import { connectNode, listenNodeTcp } from "./node_tcp.ts";
 *
 * const listener = await listenNodeTcp("127.0.0.1", 0, (conn) => conn.close());
 * const conn = await connectNode(listener.endpoint, false);
 * console.log(await conn.read()); // null: the server hung up
 * conn.close();
 * await listener.close();
 * ```
 */
export function connectNode(
  endpoint: Endpoint,
  tls: boolean,
  options: TransportConnectOptions = {},
): Promise<Transport> {
  const { signal } = options;
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    let connected = false;
    const socket = tls
      ? connectTls({
        host: endpoint.host,
        port: endpoint.port,
        // SNI takes a name, never an address.
        ...(/^[\d.]+$|:/.test(endpoint.host) ? {} : { servername: endpoint.host }),
        // `ca` replaces the default roots; extra ones are added to them.
        ...(options.caCerts ? { ca: [...rootCertificates, ...options.caCerts] } : {}),
      })
      : createConnection({ host: endpoint.host, port: endpoint.port });
    const ready = tls ? "secureConnect" : "connect";
    const settle = () => {
      socket.off(ready, onReady).off("connect", onTcp).off("error", onError);
      signal?.removeEventListener("abort", onAbort);
    };
    const onTcp = () => (connected = true);
    const onReady = () => {
      settle();
      resolve(new NodeTcpTransport(socket, endpoint.url));
    };
    const onError = (error: Error) => {
      settle();
      socket.destroy();
      // Once TCP is up, what fails before `secureConnect` is the handshake.
      reject(
        tls && (connected || /ssl|tls|certificate/i.test(error.message))
          ? new TlsError(endpoint.url, error)
          : error,
      );
    };
    const onAbort = () => {
      settle();
      socket.destroy();
      reject(signal?.reason);
    };
    socket.once(ready, onReady).once("connect", onTcp).once("error", onError);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Listens for TCP connections with `node:net`. Closing the listener also
 * closes the connections it accepted that are still open.
 *
 * @param host Address to bind, e.g. `127.0.0.1`.
 * @param port Port to bind; 0 lets the OS choose (see `endpoint.port`).
 * @param onConnection Called with each accepted connection.
 * @returns The listener, once it is bound.
 *
 * @example
 * ```ts
 * import { listenNodeTcp } from "./node_tcp.ts";
 *
 * const listener = await listenNodeTcp("127.0.0.1", 0, (conn) => conn.close());
 * console.log(listener.endpoint.url); // e.g. "tcp://127.0.0.1:40123"
 * await listener.close();
 * ```
 */
export function listenNodeTcp(
  host: string,
  port: number,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const open = new Set<Transport>();
  let url = "";
  const server = createServer((socket) => {
    const transport = new NodeTcpTransport(socket, url, () => open.delete(transport));
    open.add(transport);
    deliverConnection(onConnection, transport);
  });

  return new Promise((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => {
      server.off("error", reject);
      const address = server.address();
      const actualPort = typeof address === "object" && address ? address.port : port;
      const endpoint = listenerEndpoint("tcp", host, actualPort);
      url = endpoint.url;
      let closing: Promise<void> | undefined;
      resolve({
        endpoint,
        close() {
          closing ??= new Promise<void>((done) => {
            // server.close() waits for open connections, so end them too.
            server.close(() => done());
            for (const transport of open) transport.close();
          });
          return closing;
        },
      });
    });
  });
}
