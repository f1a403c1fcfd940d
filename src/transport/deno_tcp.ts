/**
 * TCP on Deno's own sockets (`Deno.connect`, `Deno.listen`). Bun and Node use
 * `node_tcp.ts` instead; `default.ts` picks.
 *
 * @module
 */
import { ClosedError, errorText } from "../base/errors.ts";
import { sleep } from "../base/timers.ts";
import type {
  ConnectionHandler,
  Endpoint,
  Listener,
  Transport,
  TransportConnectOptions,
} from "./seam.ts";
import { deliverConnection, listenerEndpoint, WriteChain } from "./shared.ts";

/** Size of the one read buffer each connection reuses. */
const READ_BUFFER_SIZE = 64 * 1024;
/** After a failed `accept()`, the listener waits this long before the next, ms… */
const ACCEPT_RETRY_FIRST_MS = 5;
/** …doubling after each failure in a row, up to this. */
const ACCEPT_RETRY_MAX_MS = 1000;

/** A `Deno.TcpConn` as a {@linkcode Transport}. */
class DenoTcpTransport implements Transport {
  readonly url: string;
  #conn: Deno.TcpConn;
  #onClose: (() => void) | undefined;
  #buffer = new Uint8Array(READ_BUFFER_SIZE);
  #closed = false;
  // Writes are chained: a partial write followed by another caller's write
  // would otherwise interleave bytes of two packets.
  #writing = new WriteChain();

  constructor(conn: Deno.TcpConn, url: string, onClose?: () => void) {
    this.#conn = conn;
    this.url = url;
    this.#onClose = onClose;
    conn.setNoDelay(true);
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed) return null;
    let n: number | null;
    try {
      n = await this.#conn.read(this.#buffer);
    } catch (error) {
      // close() during a pending read makes Deno reject it; that is an EOF.
      if (this.#closed) return null;
      throw new ClosedError(`${this.url}: connection lost (${errorText(error)})`, { cause: error });
    }
    return n === null || this.#closed ? null : this.#buffer.subarray(0, n);
  }

  write(bytes: Uint8Array): Promise<void> {
    return this.#writing.run(() => this.#writeAll(bytes));
  }

  async #writeAll(bytes: Uint8Array): Promise<void> {
    let offset = 0;
    while (offset < bytes.byteLength) {
      if (this.#closed) throw new ClosedError(`${this.url}: connection closed`);
      try {
        offset += await this.#conn.write(bytes.subarray(offset));
      } catch (error) {
        const reason = this.#closed ? "connection closed" : `write failed (${errorText(error)})`;
        throw new ClosedError(`${this.url}: ${reason}`, { cause: error });
      }
    }
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#conn.close();
    this.#onClose?.();
  }
}

/**
 * Opens a TCP connection with `Deno.connect`.
 *
 * @param endpoint A `tcp://` endpoint.
 * @param options `signal` abandons the attempt (the promise rejects with its reason).
 * @returns The connected transport.
 *
 * @example
 * ```ts
 * import { connectDenoTcp, listenDenoTcp } from "./deno_tcp.ts";
 *
 * const listener = listenDenoTcp("127.0.0.1", 0, (conn) => conn.close());
 * const conn = await connectDenoTcp(listener.endpoint);
 * console.log(await conn.read()); // null: the server hung up
 * conn.close();
 * await listener.close();
 * ```
 */
export async function connectDenoTcp(
  endpoint: Endpoint,
  options: TransportConnectOptions = {},
): Promise<Transport> {
  options.signal?.throwIfAborted();
  const conn = await Deno.connect({
    hostname: endpoint.host,
    port: endpoint.port,
    transport: "tcp",
    signal: options.signal,
  });
  return new DenoTcpTransport(conn, endpoint.url);
}

/**
 * Listens for TCP connections with `Deno.listen`. Closing the listener also
 * closes the connections it accepted that are still open.
 *
 * A failed `accept()` does not stop the listener: out of file descriptors
 * ("too many open files"), say, the connection waits in the kernel's backlog
 * while the listener backs off (5 ms, doubling up to 1 s) and tries again,
 * as `node:net` servers do. Only `close()` stops it.
 *
 * @param host Address to bind, e.g. `127.0.0.1`.
 * @param port Port to bind; 0 lets the OS choose (see `endpoint.port`).
 * @param onConnection Called with each accepted connection.
 * @returns The listener, already accepting.
 * @throws {Deno.errors.AddrInUse} and other `Deno.listen` errors.
 *
 * @example
 * ```ts
 * import { listenDenoTcp } from "./deno_tcp.ts";
 *
 * const listener = listenDenoTcp("127.0.0.1", 0, (conn) => conn.close());
 * console.log(listener.endpoint.url); // e.g. "tcp://127.0.0.1:40123"
 * await listener.close();
 * ```
 */
export function listenDenoTcp(
  host: string,
  port: number,
  onConnection: ConnectionHandler,
): Listener {
  const listener = Deno.listen({ hostname: host, port, transport: "tcp" });
  const endpoint = listenerEndpoint("tcp", host, listener.addr.port);
  const open = new Set<Transport>();
  const closed = new AbortController();

  const accepting = (async () => {
    let retryMs = 0;
    for (;;) {
      let conn: Deno.TcpConn;
      try {
        conn = await listener.accept();
      } catch (error) {
        if (closed.signal.aborted || error instanceof Deno.errors.BadResource) return;
        // A resource shortage passes; giving up would leave the port bound and deaf.
        retryMs = Math.min(Math.max(retryMs * 2, ACCEPT_RETRY_FIRST_MS), ACCEPT_RETRY_MAX_MS);
        await sleep(retryMs, closed.signal);
        if (closed.signal.aborted) return;
        continue;
      }
      retryMs = 0;
      const transport = new DenoTcpTransport(conn, endpoint.url, () => open.delete(transport));
      open.add(transport);
      deliverConnection(onConnection, transport);
    }
  })();

  let closing: Promise<void> | undefined;
  return {
    endpoint,
    close() {
      closing ??= (async () => {
        closed.abort();
        listener.close();
        await accepting;
        for (const transport of open) transport.close();
      })();
      return closing;
    },
  };
}
