// deno-lint-ignore-file no-console
/**
 * An independent WebSocket peer for the tests: the `ws` npm package (a
 * dev-only dependency, from `npm ci`), run under Node as a process of its
 * own. It checks this package's WebSocket against another implementation,
 * both ways, and it plays a busy Douyu server for the logout tests.
 *
 *   node ws_peer.mjs serve ACTION [tls]
 *       A `ws` server on 127.0.0.1. Prints {"url"}; then, for each
 *       connection, does ACTION (below) and prints what it saw: {"event":
 *       "message", "bytes"} per binary message, {"event": "close", "code",
 *       "reason"} (the reason's bytes as hex) when the client closed, and
 *       {"event": "error", "message"} when `ws` failed the connection.
 *   node ws_peer.mjs connect URL ACTION [HEADERS-JSON]
 *       A `ws` client of URL that does ACTION once open, and prints the same
 *       events, {"event": "open"} first, or {"event": "unexpected", "status"}
 *       when the server refused the upgrade.
 *   node ws_peer.mjs stream tcp|ws|wss
 *       A lively Douyu server: answers `loginreq`, and once a connection has
 *       sent `joingroup` writes it chat flat out (whenever its socket has
 *       room) for as long as it stays open. Counts the `logout`s it reads, and closes the
 *       connection after one, as Douyu does. Prints {"url"}; the line
 *       `report` on stdin prints {"joined", "logouts", "writeErrors"}.
 *
 * ACTION is `echo` (binary messages are echoed), `hold` (nothing), a
 * `raw:HEX` (bytes written as they are on the socket, past `ws`'s framing:
 * how a broken peer is played), or for `serve` an extra header in the 101:
 * `header:NAME:VALUE`. Every mode exits when its stdin closes.
 */
import { readFileSync } from "node:fs";
import { createServer as createHttpsServer } from "node:https";
import { createRequire } from "node:module";
import { createServer as createTcpServer } from "node:net";
import process from "node:process";
import { createInterface } from "node:readline";

const { WebSocket, WebSocketServer } = createRequire(import.meta.url)("ws");

const [mode, ...args] = process.argv.slice(2);
const print = (value) => console.log(JSON.stringify(value));
const hex = (bytes) => Buffer.from(bytes).toString("hex");
const fixture = (name) => readFileSync(new URL(`../fixtures/tls/${name}`, import.meta.url));
const cleanups = [];
/** What a line on stdin does (the `stream` mode's `report`). */
let onLine = () => {};
createInterface({ input: process.stdin })
  .on("line", (line) => onLine(line))
  .on("close", () => {
    for (const cleanup of cleanups) cleanup();
    process.exit(0);
  });

/** Reports what happens on a `ws` socket, and does ACTION once it is open. */
function watch(ws, action) {
  ws.binaryType = "nodebuffer";
  ws.on("message", (data, isBinary) => {
    if (isBinary) print({ event: "message", bytes: hex(data) });
    if (action === "echo") ws.send(data, { binary: isBinary });
  });
  ws.on("close", (code, reason) => print({ event: "close", code, reason: hex(reason) }));
  ws.on("error", (error) => print({ event: "error", message: error.message }));
  if (action.startsWith("raw:")) ws._socket.write(Buffer.from(action.slice(4), "hex"));
}

/** A `ws` server, over TLS with the test certificate when asked. */
function listenWs(tls, options) {
  return new Promise((resolve) => {
    if (!tls) {
      const server = new WebSocketServer({ host: "127.0.0.1", port: 0, ...options }, () => {
        resolve({ server, url: `ws://127.0.0.1:${server.address().port}/` });
      });
      return;
    }
    const https = createHttpsServer({ cert: fixture("server.pem"), key: fixture("server.key") });
    const server = new WebSocketServer({ server: https, ...options });
    https.listen(0, "127.0.0.1", () => {
      // The certificate names localhost.
      resolve({ server, url: `wss://localhost:${https.address().port}/` });
    });
  });
}

if (mode === "serve") {
  const [action, tls] = args;
  const { server, url } = await listenWs(tls === "tls", {});
  if (action.startsWith("header:")) {
    const [, name, value] = action.split(":");
    server.on("headers", (headers) => headers.push(`${name}: ${value}`));
  }
  server.on("connection", (ws) => watch(ws, action));
  cleanups.push(() => server.close());
  print({ url });
} else if (mode === "connect") {
  const [url, action, headers] = args;
  const ws = new WebSocket(url, { headers: headers ? JSON.parse(headers) : {} });
  ws.on("unexpected-response", (_request, response) => {
    print({ event: "unexpected", status: response.statusCode });
    ws.terminate();
  });
  ws.on("open", () => {
    print({ event: "open" });
    watch(ws, action);
  });
  ws.on("error", (error) => print({ event: "error", message: error.message }));
} else if (mode === "stream") {
  await stream(args[0]);
} else {
  console.error(`unknown mode ${mode}`);
  process.exit(2);
}

/** Douyu packets: a length twice (little-endian), the type, two zero bytes, the body, a NUL. */
function packet(body) {
  const text = Buffer.from(body);
  const bytes = Buffer.alloc(text.length + 13);
  bytes.writeUInt32LE(text.length + 9, 0);
  bytes.writeUInt32LE(text.length + 9, 4);
  bytes.writeUInt16LE(690, 8);
  text.copy(bytes, 12);
  return bytes;
}

/** Splits a byte stream into Douyu bodies. */
function packetReader(onBody) {
  let pending = Buffer.alloc(0);
  return (chunk) => {
    pending = Buffer.concat([pending, chunk]);
    while (pending.length >= 4) {
      const size = pending.readUInt32LE(0) + 4;
      if (pending.length < size) break;
      onBody(pending.subarray(12, size - 1).toString());
      pending = pending.subarray(size);
    }
  };
}

async function stream(protocol) {
  const stats = { joined: 0, logouts: 0, writeErrors: 0 };
  const streaming = new Set();
  let seq = 0;
  // What a joined connection is sent at a time: a few chat messages.
  const chat = () =>
    Buffer.concat(
      Array.from({ length: 8 }, () =>
        packet(`type@=chatmsg/rid@=1/uid@=7/nn@=peer/txt@=message ${++seq}/level@=3/`)),
    );
  // Flat out: every turn of the event loop, each connection whose socket has
  // room is written more, so writes are always under way when a client leaves.
  let writing = true;
  const pump = () => {
    if (!writing) return;
    for (const connection of streaming) {
      if (connection.queued() < 64 * 1024) connection.send(chat());
    }
    setImmediate(pump);
  };
  pump();
  cleanups.push(() => (writing = false));

  /** One client, whatever carries its packets: `send` writes, `end` closes. */
  const serve = (connection) => {
    const onBody = (body) => {
      const type = /^type@=([^/]*)/.exec(body)?.[1];
      if (type === "loginreq") connection.send(packet("type@=loginres/userid@=0/"));
      if (type === "joingroup" && !streaming.has(connection)) {
        stats.joined++;
        streaming.add(connection);
      }
      if (type === "mrkl") connection.send(packet("type@=mrkl/"));
      if (type === "logout") {
        stats.logouts++;
        streaming.delete(connection);
        connection.end();
      }
    };
    return packetReader(onBody);
  };
  const onWriteError = (error) => {
    if (error) stats.writeErrors++;
  };

  let url;
  if (protocol === "tcp") {
    const server = createTcpServer((socket) => {
      const connection = {
        send: (bytes) => {
          if (socket.writable) socket.write(bytes, onWriteError);
        },
        queued: () => socket.writableLength,
        end: () => socket.end(),
      };
      const read = serve(connection);
      socket.on("data", read);
      socket.on("error", () => {});
      socket.on("close", () => streaming.delete(connection));
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    url = `tcp://127.0.0.1:${server.address().port}`;
    cleanups.push(() => server.close());
  } else {
    const listening = await listenWs(protocol === "wss", { perMessageDeflate: false });
    listening.server.on("connection", (ws) => {
      const connection = {
        send: (bytes) => {
          if (ws.readyState === WebSocket.OPEN) ws.send(bytes, { binary: true }, onWriteError);
        },
        queued: () => ws.bufferedAmount,
        end: () => ws.close(1000),
      };
      const read = serve(connection);
      ws.on("message", (data) => read(data));
      ws.on("error", () => {});
      ws.on("close", () => streaming.delete(connection));
    });
    url = listening.url;
    cleanups.push(() => listening.server.close());
  }
  print({ url });
  onLine = (line) => {
    if (line === "report") print(stats);
  };
}
