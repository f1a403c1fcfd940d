/**
 * Local stand-ins for Douyu's web APIs: an HTTP server on 127.0.0.1 that
 * records what it was asked, for the tests of room lookups, gift catalogues,
 * live status and the command line. Tests never reach a real host.
 */
import {
  createServer,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type ServerResponse,
} from "node:http";
import type { AddressInfo } from "node:net";

/** Answers one request (may be async; errors end the response). */
export type Handler = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/** A running local server and what it was asked. */
export interface LocalHttp {
  /** `http://127.0.0.1:PORT`. */
  base: string;
  /** Request paths (with query), in order. */
  paths: string[];
  /** Headers of each request, in order. */
  headers: IncomingHttpHeaders[];
  /** `User-Agent` of each request, in order. */
  readonly agents: (string | undefined)[];
  /** `Referer` of each request, in order. */
  readonly referers: (string | undefined)[];
  /** Closes the server and every connection to it, answered or not. */
  close(): Promise<void>;
}

/** Starts a local HTTP server answering with `handler`. */
export async function startHttp(handler: Handler): Promise<LocalHttp> {
  const paths: string[] = [];
  const headers: IncomingHttpHeaders[] = [];
  const server = createServer((req, res) => {
    paths.push(req.url ?? "");
    headers.push(req.headers);
    Promise.resolve(handler(req, res)).catch(() => res.destroy());
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    base: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    paths,
    headers,
    get agents() {
      return headers.map((h) => h["user-agent"]);
    },
    get referers() {
      return headers.map((h) => h.referer);
    },
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
    },
  };
}

/**
 * Runs `fn` against a fresh local server, then closes the server and every
 * connection to it, so Deno's resource sanitizer sees nothing left open.
 */
export async function withServer(
  handler: Handler,
  fn: (local: LocalHttp) => Promise<void>,
): Promise<void> {
  const local = await startHttp(handler);
  try {
    await fn(local);
  } finally {
    await local.close();
  }
}
