/**
 * An HTTP server on 127.0.0.1 that answers with a handler of the test's and
 * records what it was asked: for the odd answers the tests of room lookups,
 * gift catalogues and the command line need (captured fixtures, failures,
 * hostile text, bodies that never end). The sample room's ordinary answers
 * come from `MockWebApi` (`@x/douyu/testing`). Tests never reach a real host.
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

/** Answers `status` with `body` and closes the connection. */
export function send(res: ServerResponse, status: number, body: string, type = "text/plain"): void {
  res.writeHead(status, { "content-type": type, connection: "close" });
  res.end(body);
}

/** A handler answering 200 with `body`. */
export function answer(body: string, type = "application/json"): Handler {
  return (_req, res) => send(res, 200, body, type);
}

/**
 * A handler whose answer has no `Content-Length` and never ends: it writes as
 * fast as the client reads, until the client goes. `requests` counts its calls.
 */
export function endlessBody(): Handler & { readonly requests: number } {
  let requests = 0;
  const handler: Handler = (_req, res) => {
    requests++;
    res.writeHead(200, { "content-type": "application/json" });
    const chunk = "x".repeat(16 * 1024);
    const pump = () => {
      while (!res.destroyed && res.write(chunk));
      if (!res.destroyed) res.once("drain", pump);
    };
    pump();
  };
  return Object.defineProperty(handler, "requests", { get: () => requests }) as
    & Handler
    & { readonly requests: number };
}
