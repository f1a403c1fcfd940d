/**
 * A TCP proxy between one client and a server, for partition tests: `cut()`
 * drops every connection through it and refuses new ones (the client sees
 * its server gone, as when a network splits); `heal()` lets connections
 * through again. In-process: it moves little data.
 */
import { createConnection, createServer, type Server, type Socket } from "node:net";

/** A running proxy. */
export interface TcpProxy {
  /** `nats://127.0.0.1:<port>`: connect here instead of the server. */
  readonly url: string;
  /** The port it listens on. */
  readonly port: number;
  /** Drops every connection and refuses new ones until `heal()`. */
  cut(): void;
  /** Lets connections through again. */
  heal(): void;
  /** Stops it. */
  close(): Promise<void>;
}

/**
 * Starts a proxy on a free loopback port to `targetPort`; `latency` ms delays
 * every chunk each way (a far server).
 */
export async function startProxy(targetPort: number, latency = 0): Promise<TcpProxy> {
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();
  let open = true;
  const server: Server = createServer((client) => {
    if (!open) {
      client.destroy();
      return;
    }
    const upstream = createConnection({ host: "127.0.0.1", port: targetPort });
    sockets.add(client);
    sockets.add(upstream);
    const end = () => {
      client.destroy();
      upstream.destroy();
      sockets.delete(client);
      sockets.delete(upstream);
    };
    client.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    if (latency === 0) {
      client.pipe(upstream);
      upstream.pipe(client);
    } else {
      const relay = (from: Socket, to: Socket) =>
        from.on("data", (chunk) => {
          const timer = setTimeout(() => {
            timers.delete(timer);
            if (!to.destroyed) to.write(chunk);
          }, latency);
          timers.add(timer);
        });
      relay(client, upstream);
      relay(upstream, client);
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  const cut = () => {
    open = false;
    for (const socket of sockets) socket.destroy();
    sockets.clear();
    for (const timer of timers) clearTimeout(timer);
    timers.clear();
  };
  return {
    url: `nats://127.0.0.1:${port}`,
    port,
    cut,
    heal() {
      open = true;
    },
    async close() {
      cut();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
