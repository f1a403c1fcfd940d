/**
 * TCP and TLS on Deno's own sockets (`Deno.connect`, `Deno.startTls`,
 * `Deno.listen`). Bun and Node use `node_tcp.ts` instead; `default.ts` picks.
 *
 * @module
 */
import { ClosedError, errorText, TlsError } from "../base/errors.ts";
import { setTimer, sleep } from "../base/timers.ts";
import type {
  ConnectionHandler,
  Endpoint,
  Listener,
  Transport,
  TransportConnectOptions,
} from "./seam.ts";
import { deliverConnection, listenerEndpoint, WriteChain } from "./shared.ts";

/**
 * The read buffer starts this small and shrinks back to it: an idle
 * connection (a heartbeat every 45 s) then pins only this much, which is what
 * lets a thousand sessions fit in a few megabytes.
 */
const MIN_READ_BUFFER = 2 * 1024;
/** …and grows to this while reads keep filling it, for bulk throughput. */
const MAX_READ_BUFFER = 64 * 1024;
/** Consecutive reads under an eighth of the buffer before it shrinks. */
const SHRINK_AFTER = 16;
/** After a failed `accept()`, the listener waits this long before the next, ms… */
const ACCEPT_RETRY_FIRST_MS = 5;
/** …doubling after each failure in a row, up to this. */
const ACCEPT_RETRY_MAX_MS = 1000;

/** A `Deno.TcpConn` or `Deno.TlsConn` as a {@linkcode Transport}. */
class DenoConnTransport implements Transport {
  readonly url: string;
  readonly remoteAddress: string | undefined;
  #conn: Deno.Conn;
  #onClose: (() => void) | undefined;
  #buffer = new Uint8Array(MIN_READ_BUFFER);
  #smallReads = 0;
  #closed = false;
  /** Set by `end()`: the graceful close under way. */
  #ending: Promise<void> | undefined;
  /** The socket read under way, which `end()` takes over. */
  #reading: Promise<number | null> | undefined;
  // Writes are chained: a partial write followed by another caller's write
  // would otherwise interleave bytes of two packets.
  #writing = new WriteChain();

  constructor(conn: Deno.Conn, url: string, onClose?: () => void) {
    this.#conn = conn;
    this.url = url;
    const remote = conn.remoteAddr;
    this.remoteAddress = remote.transport === "tcp" ? remote.hostname : undefined;
    this.#onClose = onClose;
  }

  async read(): Promise<Uint8Array | null> {
    if (this.#closed || this.#ending) return null;
    const buffer = this.#buffer;
    let n: number | null;
    try {
      n = await (this.#reading = this.#conn.read(buffer));
      this.#reading = undefined;
    } catch (error) {
      this.#reading = undefined;
      // close() during a pending read makes Deno reject it; that is an EOF.
      if (this.#closed || this.#ending) return null;
      throw new ClosedError(`${this.url}: connection lost (${errorText(error)})`, { cause: error });
    }
    if (n === null || this.#closed || this.#ending) return null;
    this.#resize(n, buffer.length);
    // The chunk stays valid until the next read: a resize allocates afresh.
    return buffer.subarray(0, n);
  }

  /** Sizes the next read's buffer to what the last reads carried. */
  #resize(n: number, size: number): void {
    if (n === size && size < MAX_READ_BUFFER) {
      this.#buffer = new Uint8Array(Math.min(size * 4, MAX_READ_BUFFER));
      this.#smallReads = 0;
    } else if (n <= size >> 3 && size > MIN_READ_BUFFER) {
      if (++this.#smallReads >= SHRINK_AFTER) {
        this.#buffer = new Uint8Array(Math.max(size >> 2, MIN_READ_BUFFER));
        this.#smallReads = 0;
      }
    } else {
      this.#smallReads = 0;
    }
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

  end(timeout: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#ending ??= this.#end(timeout);
  }

  async #end(timeout: number): Promise<void> {
    const guard = new AbortController();
    // Closing settles the read under way, which ends the drain below.
    setTimer(timeout, () => this.#close(), guard.signal);
    // The FIN follows the writes already queued (the goodbye).
    const finished = this.#writing.run(() => this.#conn.closeWrite()).catch(() => {});
    try {
      const sink = this.#buffer;
      let reading = this.#reading;
      // Drain until the peer closes: nothing unread may be left to turn our close into a RST.
      while ((await (reading ?? this.#conn.read(sink))) !== null) reading = undefined;
    } catch {
      // Reset by the peer, or closed by the timer: either way, done.
    } finally {
      guard.abort();
      this.#close();
      await finished;
    }
  }

  close(): void {
    // After end(), the connection is closed by it, within its bound.
    if (this.#ending === undefined) this.#close();
  }

  #close(): void {
    if (this.#closed) return;
    this.#closed = true;
    // A closed transport may be kept around (a mock server's history): keep no buffer.
    this.#buffer = new Uint8Array(0);
    this.#conn.close();
    this.#onClose?.();
  }
}

/**
 * Opens a TCP connection with `Deno.connect`, and for `tls` wraps it with
 * `Deno.startTls` and completes the handshake before resolving.
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
 * import { connectDeno, listenDenoTcp } from "./deno_tcp.ts";
 *
 * const listener = listenDenoTcp("127.0.0.1", 0, (conn) => conn.close());
 * const conn = await connectDeno(listener.endpoint, false);
 * console.log(await conn.read()); // null: the server hung up
 * conn.close();
 * await listener.close();
 * ```
 */
export async function connectDeno(
  endpoint: Endpoint,
  tls: boolean,
  options: TransportConnectOptions = {},
): Promise<Transport> {
  const { signal } = options;
  signal?.throwIfAborted();
  const tcp = await Deno.connect({
    hostname: endpoint.host,
    port: endpoint.port,
    transport: "tcp",
    signal,
  });
  tcp.setNoDelay(true);
  if (!tls) return new DenoConnTransport(tcp, endpoint.url);
  // Closing the connection is the only way to stop a handshake in flight.
  // startTls takes the TCP connection over, so whichever is current closes.
  let current: Deno.Conn = tcp;
  let closed = false;
  const closeCurrent = () => {
    if (closed) return;
    closed = true;
    current.close();
  };
  signal?.addEventListener("abort", closeCurrent, { once: true });
  try {
    const conn = await Deno.startTls(tcp, {
      hostname: endpoint.host,
      ...(options.caCerts ? { caCerts: [...options.caCerts] } : {}),
    });
    current = conn;
    if (closed) conn.close(); // aborted while startTls ran
    signal?.throwIfAborted();
    await conn.handshake();
    signal?.throwIfAborted();
    return new DenoConnTransport(conn, endpoint.url);
  } catch (error) {
    closeCurrent();
    signal?.throwIfAborted();
    throw new TlsError(endpoint.url, error);
  } finally {
    signal?.removeEventListener("abort", closeCurrent);
  }
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
      conn.setNoDelay(true);
      const transport = new DenoConnTransport(conn, endpoint.url, () => open.delete(transport));
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
