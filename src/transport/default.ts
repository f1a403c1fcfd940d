/**
 * Picks the socket implementation for the running runtime. The only place
 * that decides: TCP and TLS use `Deno.connect` and `Deno.startTls` under
 * Deno, `node:net` and `node:tls` under Bun and Node; `ws://` and `wss://`
 * run this package's WebSocket (`websocket.ts`) over them.
 *
 * @module
 */
import type {
  ConnectionHandler,
  Endpoint,
  Listener,
  Transport,
  TransportConnectOptions,
  TransportFactory,
} from "./seam.ts";
import { connectDeno, listenDenoTcp } from "./deno_tcp.ts";
import { openWebSocket } from "./websocket.ts";
import { listenWebSocket, type UpgradePolicy } from "./websocket_server.ts";

/**
 * Whether this is Deno (Bun does not define `Deno`, but the check guards
 * anyway: its Node compatibility grows). The CLI asks here too, so the
 * runtime is decided in one place.
 *
 * @example
 * ```ts
 * import { isDeno } from "./default.ts";
 *
 * console.log(isDeno ? "Deno" : "Bun or Node");
 * ```
 */
export const isDeno: boolean = typeof Deno !== "undefined" && !("Bun" in globalThis);

/**
 * Opens a {@linkcode Transport} to a `tcp://`, `ws://` or `wss://` endpoint on
 * whichever runtime is running.
 *
 * @example
 * ```ts
 * import { parseEndpoint } from "./seam.ts";
 * import { defaultTransportFactory } from "./default.ts";
 *
 * const endpoint = parseEndpoint("tcp://127.0.0.1:1"); // nothing listens there
 * await defaultTransportFactory(endpoint, { signal: AbortSignal.timeout(5000) })
 *   .catch((error) => console.log(`no connection: ${error}`));
 * ```
 */
export const defaultTransportFactory: TransportFactory = async (
  endpoint: Endpoint,
  options: TransportConnectOptions,
): Promise<Transport> => {
  const tls = endpoint.protocol === "wss";
  const stream = isDeno
    ? await connectDeno(endpoint, tls, options)
    // Loaded lazily so Deno never loads node:net.
    : await (await import("./node_tcp.ts")).connectNode(endpoint, tls, options);
  if (endpoint.protocol === "tcp") return stream;
  return await openWebSocket(stream, endpoint, options.signal);
};

/**
 * Where {@linkcode listen} binds.
 *
 * @example
 * ```ts
 * import type { ListenOptions } from "./default.ts";
 *
 * const options: ListenOptions = { protocol: "ws", port: 0 }; // host 127.0.0.1
 * console.log(options.protocol);
 * ```
 */
export interface ListenOptions {
  /** `tcp` for raw packets, `ws` for packets in binary WebSocket messages. */
  protocol: "tcp" | "ws";
  /** Address to bind. Defaults to `127.0.0.1`. */
  host?: string;
  /** Port to bind. Defaults to 0: the OS picks one, reported in `Listener.endpoint`. */
  port?: number;
  /**
   * WebSocket only: who may connect, and whether there is room (see
   * `UpgradePolicy`). Given one, an upgrade request is also checked for its
   * `Host` and `Origin` (a DNS-rebinding page, another site's page).
   */
  upgrade?: Omit<UpgradePolicy, "listenHost">;
}

/**
 * Listens for connections, as the mock server does. Every accepted connection
 * is handed to `onConnection` as a {@linkcode Transport}; closing the listener
 * also closes those still open. Works on Deno, Bun and Node, WebSocket too.
 *
 * @param endpoint Protocol, host and port to bind.
 * @param onConnection Called with each accepted connection.
 * @returns The bound listener; `endpoint.url` is the address to connect to.
 *
 * @example Echo server
 * ```ts
 * import { defaultTransportFactory, listen } from "./default.ts";
 *
 * const listener = await listen({ protocol: "tcp" }, async (conn) => {
 *   for (let chunk; (chunk = await conn.read());) await conn.write(chunk);
 *   conn.close();
 * });
 * const client = await defaultTransportFactory(listener.endpoint, {});
 * await client.write(new Uint8Array([1, 2, 3]));
 * console.log(await client.read()); // Uint8Array(3) [ 1, 2, 3 ]
 * client.close();
 * await listener.close();
 * ```
 */
export async function listen(
  endpoint: ListenOptions,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  const host = endpoint.host ?? "127.0.0.1";
  const port = endpoint.port ?? 0;
  const listenTcp = isDeno ? listenDenoTcp : (await import("./node_tcp.ts")).listenNodeTcp;
  if (endpoint.protocol === "ws") {
    return await listenWebSocket(listenTcp, host, port, onConnection, endpoint.upgrade);
  }
  return await listenTcp(host, port, onConnection);
}
