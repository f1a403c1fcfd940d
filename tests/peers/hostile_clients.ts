/**
 * Hostile clients of a Douyu server, for `tests/serve_limits_test.ts`. They run
 * in their own process, so the server's process is measured alone and no
 * flood shares an event loop with the test's timers. Raw sockets only
 * (`node:net`, on Deno, Bun and Node): a WebSocket client API cannot stop
 * reading, and these clients must never read.
 *
 *   flood URL SECONDS    log in, join, then write 24-byte `mrkl` packets as
 *                        fast as the socket takes them, never reading; when
 *                        the server drops the connection, connect again.
 *   idle URL COUNT       open COUNT connections that log in and join, then
 *                        never read nor write again.
 *   silent URL COUNT [FROM]
 *                        keep COUNT connections open that never send a byte
 *                        (not even a WebSocket handshake): each one the
 *                        server closes is opened again at once. From the
 *                        local address FROM (e.g. 127.0.0.2) if given.
 *
 * URL is `tcp://host:port` or `ws://host:port/` (then a hand-made WebSocket
 * handshake, and packets in masked binary messages). Prints `ready` once the
 * attack is under way (flood: the first connection is flooding; idle: every
 * connection sent its `joingroup`; silent: every connection is open), then
 * runs until stdin closes (or, for
 * flood, SECONDS have passed) and prints one JSON line of statistics.
 *
 * @module
 */
// deno-lint-ignore-file no-console
import { connect as tcpConnect, type Socket } from "node:net";
import process from "node:process";

const CLIENT_MESSAGE_TYPE = 689;
/** Writes of the flood: this many bytes of back-to-back `mrkl` packets. */
const FLOOD_WRITE = 64 * 1024;

function packet(body: string): Uint8Array {
  const text = new TextEncoder().encode(body);
  const bytes = new Uint8Array(text.length + 13);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, text.length + 9, true);
  view.setUint32(4, text.length + 9, true);
  view.setUint16(8, CLIENT_MESSAGE_TYPE, true);
  bytes.set(text, 12);
  return bytes;
}

/** A client-to-server WebSocket binary message: FIN, opcode 2, masked with a zero key. */
function wsMessage(payload: Uint8Array): Uint8Array {
  const n = payload.length;
  const header = n < 126 ? 2 : n < 65536 ? 4 : 10;
  const bytes = new Uint8Array(header + 4 + n);
  const view = new DataView(bytes.buffer);
  bytes[0] = 0x82;
  if (n < 126) bytes[1] = 0x80 | n;
  else if (n < 65536) {
    bytes[1] = 0x80 | 126;
    view.setUint16(2, n);
  } else {
    bytes[1] = 0x80 | 127;
    view.setBigUint64(2, BigInt(n));
  }
  // The masking key stays 0: XOR with it leaves the payload as it is.
  bytes.set(payload, header + 4);
  return bytes;
}

interface Target {
  ws: boolean;
  host: string;
  port: number;
}

function parseTarget(url: string): Target {
  const match = /^(tcp|ws):\/\/([^:/]+):(\d+)\/?$/.exec(url);
  if (!match) throw new Error(`expected tcp://host:port or ws://host:port/, got ${url}`);
  return { ws: match[1] === "ws", host: match[2]!, port: Number(match[3]) };
}

/** One raw connection that never reads after the (WebSocket) handshake. */
class Conn {
  readonly socket: Socket;
  readonly #ws: boolean;
  closed = false;

  private constructor(socket: Socket, ws: boolean) {
    this.socket = socket;
    this.#ws = ws;
    socket.on("error", () => {});
    socket.on("close", () => (this.closed = true));
  }

  static open(target: Target): Promise<Conn> {
    return new Promise((resolve, reject) => {
      const socket = tcpConnect({ host: target.host, port: target.port });
      socket.once("error", reject);
      socket.once("connect", () => {
        socket.off("error", reject);
        const conn = new Conn(socket, target.ws);
        if (!target.ws) {
          socket.pause();
          resolve(conn);
          return;
        }
        const key = btoa(String.fromCharCode(...crypto.getRandomValues(new Uint8Array(16))));
        socket.write(
          `GET / HTTP/1.1\r\nHost: ${target.host}:${target.port}\r\nUpgrade: websocket\r\n` +
            `Connection: Upgrade\r\nSec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\n\r\n`,
        );
        // Read the 101 answer, then never read again.
        let head = "";
        const onData = (chunk: Uint8Array) => {
          head += new TextDecoder().decode(chunk);
          if (!head.includes("\r\n\r\n")) return;
          socket.off("data", onData);
          socket.pause();
          if (/^HTTP\/1\.1 101/.test(head)) resolve(conn);
          else reject(new Error(`WebSocket handshake refused: ${head.split("\r\n")[0]}`));
        };
        socket.on("data", onData);
        socket.once("close", () => reject(new Error("closed during the WebSocket handshake")));
      });
    });
  }

  /** Writes packets; resolves once the socket took them (false if it closed). */
  write(packets: Uint8Array): Promise<boolean> {
    if (this.closed || this.socket.destroyed) return Promise.resolve(false);
    const bytes = this.#ws ? wsMessage(packets) : packets;
    return new Promise((resolve) => {
      this.socket.write(bytes, (error) => resolve(!error && !this.closed));
    });
  }

  destroy(): void {
    this.socket.destroy();
  }
}

const LOGIN_JOIN = new Uint8Array([
  ...packet("type@=loginreq/roomid@=9999/"),
  ...packet("type@=joingroup/rid@=9999/gid@=-9999/"),
]);

async function flood(target: Target, seconds: number, stop: Promise<void>): Promise<object> {
  const mrkl = packet("type@=mrkl/");
  const burst = new Uint8Array(Math.floor(FLOOD_WRITE / mrkl.length) * mrkl.length);
  for (let pos = 0; pos < burst.length; pos += mrkl.length) burst.set(mrkl, pos);
  const deadline = performance.now() + seconds * 1000;
  let stopped = false;
  stop.then(() => (stopped = true));
  let connections = 0;
  let refused = 0;
  let bytes = 0;
  let announced = false;
  while (!stopped && performance.now() < deadline) {
    let conn: Conn;
    try {
      conn = await Conn.open(target);
    } catch {
      refused++;
      await new Promise((resolve) => setTimeout(resolve, 50));
      continue;
    }
    connections++;
    if (await conn.write(LOGIN_JOIN)) {
      if (!announced) {
        announced = true;
        console.log("ready");
      }
      while (!stopped && performance.now() < deadline && await conn.write(burst)) {
        bytes += burst.length;
      }
    }
    conn.destroy();
  }
  return { connections, refused, bytes };
}

async function idle(target: Target, count: number, stop: Promise<void>): Promise<object> {
  const conns: Conn[] = [];
  let refused = 0;
  // A few at a time: a burst of hundreds overflows the listen backlog.
  for (let i = 0; i < count; i += 20) {
    const batch = await Promise.allSettled(
      Array.from({ length: Math.min(20, count - i) }, () => Conn.open(target)),
    );
    for (const result of batch) {
      if (result.status === "rejected") refused++;
      else {
        conns.push(result.value);
        await result.value.write(LOGIN_JOIN);
      }
    }
  }
  console.log("ready");
  await stop;
  const open = conns.filter((conn) => !conn.closed).length;
  for (const conn of conns) conn.destroy();
  return { opened: conns.length, refused, open };
}

async function silent(
  target: Target,
  count: number,
  from: string | undefined,
  stop: Promise<void>,
): Promise<object> {
  let stopped = false;
  let reopened = 0;
  let refused = 0;
  const open = new Set<Socket>();
  const connectOne = (): Promise<void> =>
    new Promise((resolve) => {
      const socket = tcpConnect({
        host: target.host,
        port: target.port,
        ...(from ? { localAddress: from } : {}),
      });
      socket.on("error", () => {});
      socket.once("connect", () => {
        open.add(socket);
        resolve();
      });
      socket.once("close", (hadError) => {
        if (!open.delete(socket)) refused++;
        resolve();
        if (stopped) return;
        if (!hadError) reopened++;
        // The server let go of it: take its place again.
        setTimeout(() => void connectOne(), hadError ? 50 : 0);
      });
    });
  for (let i = 0; i < count; i += 20) {
    await Promise.all(Array.from({ length: Math.min(20, count - i) }, connectOne));
  }
  console.log("ready");
  await stop;
  stopped = true;
  const held = open.size;
  for (const socket of open) socket.destroy();
  return { held, reopened, refused };
}

const [mode, url, amount, from] = process.argv.slice(2);
const target = parseTarget(url ?? "");
// The parent ends the attack by closing our stdin.
const stop = new Promise<void>((resolve) => {
  process.stdin.on("end", () => resolve());
  process.stdin.on("close", () => resolve());
  process.stdin.resume();
});
let stats: object;
if (mode === "flood") stats = await flood(target, Number(amount), stop);
else if (mode === "idle") stats = await idle(target, Number(amount), stop);
else if (mode === "silent") stats = await silent(target, Number(amount), from, stop);
else throw new Error(`unknown mode ${mode}: use flood, idle or silent`);
console.log(JSON.stringify(stats));
process.exit(0);
