/**
 * WebSocket (RFC 6455), spoken by this package over any byte-stream
 * {@linkcode Transport}: the client handshake for `ws://` and `wss://`, the
 * server handshake for the mock server, and framing both ways. Each binary
 * message carries Douyu packets; text messages are ignored, pings answered.
 *
 * Why not the runtime's `WebSocket`: it reads the socket and fires `message`
 * events whether or not anyone keeps up, so a consumer that falls behind
 * makes bytes pile up in memory. Here reading is pulled: a frame is parsed
 * only when `read()` asks for bytes, so TCP pushes back on the server. It
 * also gives Node 20, which has no `WebSocket`, the same transport.
 *
 * Runtime-free: web-standard `crypto` (SHA-1 for the handshake, random
 * masks) and the byte streams handed in.
 *
 * @module
 */
import { ClosedError, DouyuError, ProtocolError } from "../base/errors.ts";
import { setTimer } from "../base/timers.ts";
import type { ConnectionHandler, Endpoint, Listener, Transport } from "./seam.ts";
import { bracketHost, deliverConnection, listenerEndpoint, WriteChain } from "./shared.ts";

/** The most an HTTP handshake head may take, request or response. */
const MAX_HEAD_BYTES = 16 * 1024;
/** Connections a WebSocket listener lets sit in their handshake at once; more are closed. */
const MAX_PENDING_HANDSHAKES = 256;
/** How long a server waits for a connection's upgrade request. */
const SERVER_HANDSHAKE_TIMEOUT = 10_000;
/** How long `close()` waits to send the close frame before dropping the socket. */
const CLOSE_FRAME_TIMEOUT = 1000;
/** RFC 6455 §1.3: appended to the key before hashing. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";
/** The origin Douyu's web player sends (docs/protocol.md, "Endpoints"). */
const DOUYU_ORIGIN = "https://www.douyu.com";

const OPCODE_CONTINUATION = 0x0;
const OPCODE_BINARY = 0x2;
const OPCODE_CLOSE = 0x8;
const OPCODE_PING = 0x9;
const OPCODE_PONG = 0xa;
/** Control frames carry at most this much (RFC 6455 §5.5). */
const MAX_CONTROL_PAYLOAD = 125;

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

type Role = "client" | "server";

/**
 * A WebSocket over a byte stream, as a pulled {@linkcode Transport}: `read()`
 * returns the payload bytes of binary messages, as one byte stream (a message
 * may come in several pieces, and the ends of several in one), `write()`
 * sends one binary message.
 */
class WebSocketTransport implements Transport {
  readonly url: string;
  readonly #stream: Transport;
  readonly #role: Role;
  readonly #writing = new WriteChain();
  /** Bytes read from the stream and not parsed yet (valid until the next stream read). */
  #chunk: Uint8Array = EMPTY;
  #pos = 0;
  /** A frame header split across stream reads. */
  #header = new Uint8Array(14);
  #headerLength = 0;
  /** The frame being read: its opcode, payload bytes left, mask and position in it. */
  #opcode = -1;
  /** The opcode of the data message the current frame belongs to (text or binary). */
  #currentOpcode = -1;
  #remaining = 0;
  /** The frame's masking key (reused: no allocation per frame), and whether it has one. */
  readonly #mask = new Uint8Array(4);
  #masked = false;
  #maskOffset = 0;
  /** The opcode of the fragmented message that continuation frames extend, or -1 between messages. */
  #messageOpcode = -1;
  /** The payload of the latest ping, while its pong waits to be written. */
  #pongPayload: Uint8Array | undefined;
  /** A control frame's payload, gathered across reads. */
  #control: number[] = [];
  #closed = false;
  #closeSent = false;
  #ended = false;

  constructor(stream: Transport, url: string, role: Role, leftover?: Uint8Array) {
    this.#stream = stream;
    this.url = url;
    this.#role = role;
    if (leftover) this.#chunk = leftover;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#closed || this.#ended) return this.#release();
      if (this.#pos === this.#chunk.length) {
        const chunk = await this.#stream.read();
        if (chunk === null || this.#closed) {
          this.#ended = true;
          return this.#release();
        }
        this.#chunk = chunk;
        this.#pos = 0;
        continue;
      }
      const payload = this.#parse();
      if (payload !== undefined) return payload;
    }
  }

  /** Lets go of the last chunk (a closed connection may be kept around): `null`, the end. */
  #release(): null {
    this.#chunk = EMPTY;
    this.#pos = 0;
    return null;
  }

  /**
   * Parses what is left of the current chunk and returns the binary payload
   * it held, or `undefined` when it held none. The payloads of consecutive
   * frames are moved together in place (the chunk is ours until the next
   * stream read), so a read of many small frames costs one `read()`, not one
   * per frame.
   */
  #parse(): Uint8Array | undefined {
    const chunk = this.#chunk;
    let start = -1;
    let end = -1;
    while (this.#pos < chunk.length) {
      if (this.#opcode === -1) {
        if (!this.#readHeader()) break;
        if (this.#remaining === 0 && this.#finishFrame()) break;
        continue;
      }
      const from = this.#pos;
      const take = Math.min(this.#remaining, chunk.length - from);
      const piece = chunk.subarray(from, from + take);
      this.#pos += take;
      this.#remaining -= take;
      if (this.#masked) this.#unmask(piece);
      if (this.#opcode >= OPCODE_CLOSE) {
        for (const byte of piece) this.#control.push(byte);
      } else if (take > 0 && this.#currentOpcode === OPCODE_BINARY) {
        if (start === -1) start = end = from;
        if (end !== from) chunk.copyWithin(end, from, from + take);
        end += take;
      }
      if (this.#remaining === 0 && this.#finishFrame()) break;
    }
    return start === -1 ? undefined : chunk.subarray(start, end);
  }

  /** Reads a frame header from the chunk, across reads if needed; true once complete. */
  #readHeader(): boolean {
    const chunk = this.#chunk;
    const header = this.#header;
    if (this.#headerLength < 2) {
      const take = Math.min(2 - this.#headerLength, chunk.length - this.#pos);
      header.set(chunk.subarray(this.#pos, this.#pos + take), this.#headerLength);
      this.#headerLength += take;
      this.#pos += take;
      if (this.#headerLength < 2) return false;
    }
    const masked = (header[1]! & 0x80) !== 0;
    const short = header[1]! & 0x7f;
    const size = 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + (masked ? 4 : 0);
    if (this.#headerLength < size) {
      const take = Math.min(size - this.#headerLength, chunk.length - this.#pos);
      header.set(chunk.subarray(this.#pos, this.#pos + take), this.#headerLength);
      this.#headerLength += take;
      this.#pos += take;
      if (this.#headerLength < size) return false;
    }
    const fin = (header[0]! & 0x80) !== 0;
    const opcode = header[0]! & 0x0f;
    if ((header[0]! & 0x70) !== 0) {
      throw new ProtocolError(`${this.url}: WebSocket frame with reserved bits set`);
    }
    // RFC 6455 §5.1: clients mask every frame, servers none.
    if (masked !== (this.#role === "server")) {
      throw new ProtocolError(
        `${this.url}: WebSocket frame ${
          masked ? "masked by the server" : "not masked by the client"
        }`,
      );
    }
    const view = new DataView(header.buffer, header.byteOffset, size);
    let length = short;
    if (short === 126) length = view.getUint16(2);
    if (short === 127) {
      const high = view.getUint32(2);
      // 2^53 bytes and up cannot be counted exactly; no real frame comes near.
      if (high >= 0x200000) throw new ProtocolError(`${this.url}: WebSocket frame too long`);
      length = high * 0x100000000 + view.getUint32(6);
    }
    if (opcode >= OPCODE_CLOSE) {
      if (!fin || length > MAX_CONTROL_PAYLOAD || opcode > OPCODE_PONG) {
        throw new ProtocolError(`${this.url}: invalid WebSocket control frame (opcode ${opcode})`);
      }
    } else if (opcode > OPCODE_BINARY) {
      throw new ProtocolError(`${this.url}: unknown WebSocket opcode ${opcode}`);
    } else if (opcode === OPCODE_CONTINUATION) {
      if (this.#messageOpcode === -1) {
        throw new ProtocolError(`${this.url}: WebSocket continuation frame with no message`);
      }
      // §5.4: the continuation frames of one message, then the next message.
      this.#currentOpcode = this.#messageOpcode;
      if (fin) this.#messageOpcode = -1;
    } else {
      if (this.#messageOpcode !== -1) {
        throw new ProtocolError(`${this.url}: WebSocket message inside an unfinished one`);
      }
      this.#currentOpcode = opcode;
      if (!fin) this.#messageOpcode = opcode;
    }
    this.#opcode = opcode;
    this.#remaining = length;
    this.#masked = masked;
    if (masked) this.#mask.set(header.subarray(size - 4, size));
    this.#maskOffset = 0;
    this.#headerLength = 0;
    return true;
  }

  #unmask(piece: Uint8Array): void {
    // The chunk is ours until the next stream read: unmasked in place.
    const mask = this.#mask;
    let offset = this.#maskOffset;
    for (let i = 0; i < piece.length; i++) piece[i]! ^= mask[offset++ & 3]!;
    this.#maskOffset = offset & 3;
  }

  /** Acts on a complete frame; true when the stream has ended (a close frame). */
  #finishFrame(): boolean {
    const opcode = this.#opcode;
    this.#opcode = -1;
    if (opcode < OPCODE_CLOSE) return false;
    const payload = new Uint8Array(this.#control);
    this.#control = [];
    if (opcode === OPCODE_PING) {
      this.#pong(payload);
      return false;
    }
    if (opcode === OPCODE_PONG) return false;
    // The peer closes: answer after what is being written (a pong, say),
    // then the stream ends. A 1-byte payload is malformed (§5.5.1); a code
    // that must not be sent (1005, 1006, 1015) is not echoed back.
    this.#ended = true;
    const code = payload.length >= 2 ? payload[0]! << 8 | payload[1]! : undefined;
    const status = payload.length === 1
      ? new Uint8Array([0x03, 0xea]) // 1002: protocol error
      : code === undefined || code === 1005 || code === 1006 || code === 1015
      ? new Uint8Array(0)
      : payload.subarray(0, 2);
    this.#shutdown(status, true);
    return true;
  }

  /**
   * Answers a ping. Only the latest ping of those waiting is answered (RFC
   * 6455 §5.5.3 allows it), so a peer that floods pings and never reads
   * makes one pong wait, not one per ping.
   */
  #pong(payload: Uint8Array): void {
    const queued = this.#pongPayload !== undefined;
    this.#pongPayload = payload;
    if (queued) return;
    this.#writing.run(() => {
      const latest = this.#pongPayload ?? payload;
      this.#pongPayload = undefined;
      return this.#stream.write(encodeWebSocketFrame(OPCODE_PONG, latest, this.#role === "client"));
    }).catch(() => {});
  }

  write(bytes: Uint8Array): Promise<void> {
    if (this.#closed || this.#ended) {
      return Promise.reject(new ClosedError(`${this.url}: connection closed`));
    }
    return this.#send(OPCODE_BINARY, bytes);
  }

  #send(opcode: number, payload: Uint8Array): Promise<void> {
    const frame = encodeWebSocketFrame(opcode, payload, this.#role === "client");
    return this.#writing.run(() => this.#stream.write(frame));
  }

  close(): void {
    if (this.#closed) return;
    this.#closed = true;
    this.#release();
    this.#shutdown(new Uint8Array([0x03, 0xe8]), false); // 1000: normal closure
  }

  /**
   * Sends a close frame (once), then closes the stream when it has left, or
   * after `CLOSE_FRAME_TIMEOUT` if the peer does not read. When we close
   * behind a write that is still waiting, the peer is not reading and the
   * frame would not leave either: the stream closes at once instead.
   */
  #shutdown(status: Uint8Array, afterWrites: boolean): void {
    if (this.#closeSent) return;
    this.#closeSent = true;
    if (!afterWrites && !this.#writing.idle) {
      this.#stream.close();
      return;
    }
    const guard = new AbortController();
    setTimer(CLOSE_FRAME_TIMEOUT, () => this.#stream.close(), guard.signal);
    this.#send(OPCODE_CLOSE, status).catch(() => {}).finally(() => {
      guard.abort();
      this.#stream.close();
    });
  }
}

/**
 * Encodes one final WebSocket frame. Clients mask what they send (RFC 6455
 * §5.3); servers do not.
 *
 * @param opcode 2 for binary, 8 close, 9 ping, 10 pong (1, text, is never sent here).
 * @param payload The payload; copied, never modified.
 * @param masked Whether to mask it (true for clients).
 * @returns The frame's bytes.
 *
 * @example
 * ```ts
 * import { encodeWebSocketFrame } from "./websocket.ts";
 *
 * const frame = encodeWebSocketFrame(2, new Uint8Array([1, 2, 3]), false);
 * console.log([...frame]); // [ 130, 3, 1, 2, 3 ]
 * ```
 */
export function encodeWebSocketFrame(
  opcode: number,
  payload: Uint8Array,
  masked: boolean,
): Uint8Array {
  const length = payload.length;
  const lengthBytes = length < 126 ? 0 : length < 0x10000 ? 2 : 8;
  const headerSize = 2 + lengthBytes + (masked ? 4 : 0);
  const frame = new Uint8Array(headerSize + length);
  const view = new DataView(frame.buffer);
  frame[0] = 0x80 | opcode;
  frame[1] = (masked ? 0x80 : 0) | (lengthBytes === 0 ? length : lengthBytes === 2 ? 126 : 127);
  if (lengthBytes === 2) view.setUint16(2, length);
  if (lengthBytes === 8) {
    view.setUint32(2, Math.floor(length / 0x100000000));
    view.setUint32(6, length >>> 0);
  }
  frame.set(payload, headerSize);
  if (masked) {
    const mask = frame.subarray(headerSize - 4, headerSize);
    crypto.getRandomValues(mask);
    for (let i = headerSize; i < frame.length; i++) frame[i]! ^= mask[(i - headerSize) & 3]!;
  }
  return frame;
}

/** One HTTP head: the start line and the headers (names lower-cased). */
interface HttpHead {
  startLine: string;
  headers: Map<string, string>;
  /** Bytes after the head, already read: the first frames. */
  rest: Uint8Array;
}

/** Reads an HTTP head (up to the blank line) from `stream`, bounded in size. */
async function readHead(stream: Transport, url: string): Promise<HttpHead> {
  // Grown by doubling and searched only where the new bytes can complete the
  // blank line, so a head dripped a byte at a time costs linear time.
  let head = new Uint8Array(1024);
  let length = 0;
  for (;;) {
    const chunk = await stream.read();
    if (chunk === null) throw new DouyuError(`${url}: connection closed during the handshake`);
    if (length + chunk.length > head.length) {
      const grown = new Uint8Array(Math.max(head.length * 2, length + chunk.length));
      grown.set(head.subarray(0, length));
      head = grown;
    }
    head.set(chunk, length);
    const from = Math.max(0, length - 3);
    length += chunk.length;
    const end = findHeadEnd(head.subarray(0, length), from);
    if (end !== -1) return parseHead(head.subarray(0, end), head.slice(end + 4, length));
    if (length > MAX_HEAD_BYTES) {
      throw new ProtocolError(`${url}: handshake head longer than ${MAX_HEAD_BYTES} bytes`);
    }
  }
}

function findHeadEnd(bytes: Uint8Array, from: number): number {
  for (let i = from; i + 3 < bytes.length; i++) {
    if (bytes[i] === 13 && bytes[i + 1] === 10 && bytes[i + 2] === 13 && bytes[i + 3] === 10) {
      return i;
    }
  }
  return -1;
}

function parseHead(bytes: Uint8Array, rest: Uint8Array): HttpHead {
  const lines = latin1.decode(bytes).split("\r\n");
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) continue;
    const name = line.slice(0, colon).trim().toLowerCase();
    // The first of a repeated header wins, as for STT keys.
    if (!headers.has(name)) headers.set(name, line.slice(colon + 1).trim());
  }
  return { startLine: lines[0] ?? "", headers, rest };
}

async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + ACCEPT_GUID));
  return toBase64(new Uint8Array(digest));
}

function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

function hasToken(value: string | undefined, token: string): boolean {
  return value !== undefined &&
    value.toLowerCase().split(",").some((part) => part.trim() === token);
}

/**
 * Runs the client handshake on an open byte stream (TCP for `ws://`, TLS
 * for `wss://`) and returns the WebSocket as a {@linkcode Transport}. On
 * failure the stream is closed.
 *
 * @param stream The connected stream; owned by the result from now on.
 * @param endpoint A `ws://` or `wss://` endpoint: host, port and path.
 * @param signal Aborting it abandons the handshake (rejecting with its reason).
 * @returns The open WebSocket.
 * @throws {DouyuError} naming the URL when the server refuses the upgrade.
 *
 * @example
 * ```ts
 * import { connectDeno, listenDenoTcp } from "./deno_tcp.ts";
 * import { listenWebSocket, openWebSocket } from "./websocket.ts";
 *
 * const listener = await listenWebSocket(listenDenoTcp, "127.0.0.1", 0, (conn) => conn.close());
 * const stream = await connectDeno(listener.endpoint, false);
 * const ws = await openWebSocket(stream, listener.endpoint);
 * console.log(await ws.read()); // null: the server hung up
 * ws.close();
 * await listener.close();
 * ```
 */
export async function openWebSocket(
  stream: Transport,
  endpoint: Endpoint,
  signal?: AbortSignal,
): Promise<Transport> {
  const { url } = endpoint;
  const onAbort = () => stream.close();
  signal?.addEventListener("abort", onAbort, { once: true });
  try {
    const key = toBase64(crypto.getRandomValues(new Uint8Array(16)));
    const target = new URL(url.replace(/^ws/, "http"));
    const path = target.pathname + target.search;
    const defaultPort = endpoint.protocol === "wss" ? 443 : 80;
    const host = bracketHost(endpoint.host) +
      (endpoint.port === defaultPort ? "" : `:${endpoint.port}`);
    await stream.write(encoder.encode(
      `GET ${path} HTTP/1.1\r\nHost: ${host}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n` +
        `Sec-WebSocket-Key: ${key}\r\nSec-WebSocket-Version: 13\r\nOrigin: ${DOUYU_ORIGIN}\r\n\r\n`,
    ));
    const head = await readHead(stream, url);
    const status = /^HTTP\/1\.[01] (\d{3})(.*)$/.exec(head.startLine);
    if (status?.[1] !== "101") {
      const line = status ? `HTTP ${status[1]}${status[2]}` : "not an HTTP response";
      throw new DouyuError(`WebSocket connection to ${url} failed: ${line.slice(0, 100)}`);
    }
    if (
      head.headers.get("upgrade")?.toLowerCase() !== "websocket" ||
      !hasToken(head.headers.get("connection"), "upgrade") ||
      head.headers.get("sec-websocket-accept") !== await acceptKey(key)
    ) {
      throw new DouyuError(`WebSocket connection to ${url} failed: invalid upgrade response`);
    }
    signal?.throwIfAborted();
    return new WebSocketTransport(stream, url, "client", head.rest);
  } catch (error) {
    stream.close();
    signal?.throwIfAborted();
    throw error;
  } finally {
    signal?.removeEventListener("abort", onAbort);
  }
}

/**
 * Runs the server handshake on an accepted byte stream: reads the upgrade
 * request (bounded in size and time), answers `101 Switching Protocols`, and
 * returns the WebSocket. A request that is not a WebSocket upgrade gets
 * `426 Upgrade Required` and the stream is closed.
 *
 * @param stream The accepted connection; owned by the result from now on.
 * @param url The listener's `ws://` URL, for messages.
 * @returns The open WebSocket.
 * @throws {DouyuError} when the request is not an upgrade (after answering it).
 *
 * @example
 * ```ts ignore
 * const ws = await acceptWebSocket(acceptedConn, "ws://127.0.0.1:8080/");
 * ```
 */
export async function acceptWebSocket(stream: Transport, url: string): Promise<Transport> {
  const timeout = new AbortController();
  setTimer(SERVER_HANDSHAKE_TIMEOUT, () => stream.close(), timeout.signal);
  try {
    const head = await readHead(stream, url);
    const key = head.headers.get("sec-websocket-key");
    if (
      !/^GET /.test(head.startLine) || key === undefined ||
      head.headers.get("upgrade")?.toLowerCase() !== "websocket" ||
      head.headers.get("sec-websocket-version") !== "13"
    ) {
      await stream.write(encoder.encode(
        "HTTP/1.1 426 Upgrade Required\r\nSec-WebSocket-Version: 13\r\nContent-Type: text/plain\r\n" +
          "Content-Length: 15\r\nConnection: close\r\n\r\nWebSocket only\n",
      )).catch(() => {});
      throw new DouyuError(`${url}: not a WebSocket upgrade request`);
    }
    await stream.write(encoder.encode(
      "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
        `Sec-WebSocket-Accept: ${await acceptKey(key)}\r\n\r\n`,
    ));
    return new WebSocketTransport(stream, url, "server", head.rest);
  } catch (error) {
    stream.close();
    throw error;
  } finally {
    timeout.abort();
  }
}

/** The runtime's TCP listen function: `listenDenoTcp` or `listenNodeTcp`. */
export type TcpListen = (
  host: string,
  port: number,
  onConnection: ConnectionHandler,
) => Listener | Promise<Listener>;

/**
 * Listens for WebSocket connections on any path: a TCP listener whose
 * connections are handed over as WebSockets once their handshake is done.
 * Connections that fail the handshake are answered (or dropped) and closed,
 * never handed over. Closing the listener closes every connection.
 *
 * @param listenTcp The runtime's TCP listen function.
 * @param host Address to bind.
 * @param port Port to bind; 0 lets the OS choose.
 * @param onConnection Called with each WebSocket.
 * @returns The bound listener, with a `ws://` endpoint.
 *
 * @example
 * ```ts
 * import { listenDenoTcp } from "./deno_tcp.ts";
 * import { listenWebSocket } from "./websocket.ts";
 *
 * const listener = await listenWebSocket(listenDenoTcp, "127.0.0.1", 0, (ws) => ws.close());
 * console.log(listener.endpoint.url); // e.g. "ws://127.0.0.1:40123/"
 * await listener.close();
 * ```
 */
export async function listenWebSocket(
  listenTcp: TcpListen,
  host: string,
  port: number,
  onConnection: ConnectionHandler,
): Promise<Listener> {
  let handshaking = 0;
  const tcp = await listenTcp(host, port, (stream) => {
    // Connections still in their handshake are bounded too: a peer that opens
    // many and never sends the upgrade must not hold sockets without limit.
    if (handshaking >= MAX_PENDING_HANDSHAKES) {
      stream.close();
      return;
    }
    handshaking++;
    const url = `${stream.url.replace(/^tcp:/, "ws:")}/`;
    acceptWebSocket(stream, url).then(
      (ws) => deliverConnection(onConnection, ws),
      () => {}, // answered (or dropped) already; nothing to hand over
    ).finally(() => handshaking--);
  });
  return { endpoint: listenerEndpoint("ws", host, tcp.endpoint.port), close: () => tcp.close() };
}
