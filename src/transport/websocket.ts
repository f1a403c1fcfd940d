/**
 * WebSocket (RFC 6455), spoken by this package over any byte-stream
 * {@linkcode Transport}: the client handshake for `ws://` and `wss://`, and
 * framing both ways (the server side, for the mock server, is in
 * `websocket_server.ts`). Each binary message carries Douyu packets; text
 * messages are ignored, pings answered.
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
import { setTimer, sleep } from "../base/timers.ts";
import type { Endpoint, Transport } from "./seam.ts";
import { bracketHost, WriteChain } from "./shared.ts";
import {
  CLOSE_INVALID_DATA,
  CLOSE_NORMAL,
  CLOSE_PROTOCOL_ERROR,
  closePayload,
  encodeWebSocketFrame,
  isValidCloseCode,
  MAX_CONTROL_PAYLOAD,
  OPCODE_BINARY,
  OPCODE_CLOSE,
  OPCODE_CONTINUATION,
  OPCODE_PING,
  OPCODE_PONG,
  OPCODE_TEXT,
  Utf8Validator,
} from "./websocket_frame.ts";
import { acceptKey, hasToken, readHead, toBase64 } from "./websocket_handshake.ts";

/** How long `close()` waits to send the close frame before dropping the socket. */
const CLOSE_FRAME_TIMEOUT = 1000;
/** Headers of a 101 that name what the client never offers, and what they name. */
const UNASKED = [
  ["sec-websocket-extensions", "extension"],
  ["sec-websocket-protocol", "subprotocol"],
] as const;
/**
 * The origin Douyu's web player sends (docs/protocol.md, "Endpoints"), as
 * this client does; the mock server accepts it.
 */
export const DOUYU_ORIGIN = "https://www.douyu.com";

const EMPTY = new Uint8Array(0);
const encoder = new TextEncoder();

/** Which end of the connection this is: servers mask nothing, clients everything. */
export type Role = "client" | "server";

/**
 * A WebSocket over a byte stream, as a pulled {@linkcode Transport}: `read()`
 * returns the payload bytes of binary messages, as one byte stream (a message
 * may come in several pieces, and the ends of several in one), `write()`
 * sends one binary message.
 *
 * A peer that breaks the protocol fails the connection (RFC 6455 §7.1.7):
 * it is sent a close frame with 1002 (1007 for text that is not UTF-8), the
 * stream is closed, and `read()`, once it has returned the good bytes
 * before the fault, rejects with a `ProtocolError`.
 *
 * Made by {@linkcode openWebSocket} and, for servers, `acceptWebSocket`
 * (`websocket_server.ts`) once the handshake is done.
 */
export class WebSocketTransport implements Transport {
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
  /** Whether the frame being read is its message's last. */
  #fin = false;
  /** The opcode of the fragmented message that continuation frames extend, or -1 between messages. */
  #messageOpcode = -1;
  /** Text messages are dropped, but must be UTF-8 (§8.1): checked across their fragments. */
  readonly #text = new Utf8Validator();
  /** The payload of the latest ping, while its pong waits to be written. */
  #pongPayload: Uint8Array | undefined;
  /** A control frame's payload, gathered across reads. */
  readonly #control = new Uint8Array(MAX_CONTROL_PAYLOAD);
  #controlLength = 0;
  /** Why the connection failed, thrown by `read()` once the bytes before the fault are out. */
  #failure: ProtocolError | undefined;
  /** The close code the fault being thrown calls for. */
  #failCode = CLOSE_PROTOCOL_ERROR;
  #closed = false;
  #closeSent = false;
  #ended = false;
  /** Set by `end()`: the graceful close under way. */
  #ending: Promise<void> | undefined;

  constructor(stream: Transport, url: string, role: Role, leftover?: Uint8Array) {
    this.#stream = stream;
    this.url = url;
    this.#role = role;
    if (leftover) this.#chunk = leftover;
  }

  async read(): Promise<Uint8Array | null> {
    for (;;) {
      if (this.#failure) throw this.#failure;
      if (this.#closed || this.#ended || this.#ending) return this.#release();
      if (this.#pos === this.#chunk.length) {
        const chunk = await this.#stream.read();
        if (chunk === null || this.#closed || this.#ending) {
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
   * per frame. A fault fails the connection; the payload before it is
   * still returned.
   */
  #parse(): Uint8Array | undefined {
    const chunk = this.#chunk;
    const length = chunk.length;
    let start = -1;
    let end = -1;
    try {
      while (this.#pos < length) {
        if (this.#opcode === -1) {
          if (!this.#readHeader()) break;
          if (this.#remaining === 0 && this.#finishFrame()) break;
          continue;
        }
        const from = this.#pos;
        const take = Math.min(this.#remaining, length - from);
        this.#pos = from + take;
        this.#remaining -= take;
        const binary = this.#opcode < OPCODE_CLOSE && this.#currentOpcode === OPCODE_BINARY;
        // A server's binary frame, the common case, needs no view of its own.
        if (this.#masked || !binary) {
          const piece = chunk.subarray(from, from + take);
          if (this.#masked) this.#unmask(piece);
          if (this.#opcode >= OPCODE_CLOSE) {
            this.#control.set(piece, this.#controlLength);
            this.#controlLength += take;
          } else if (!binary && !this.#text.push(piece)) {
            throw this.#violation("WebSocket text message that is not UTF-8", CLOSE_INVALID_DATA);
          }
        }
        if (binary && take > 0) {
          // Joined to the payload before it, over the frame header between them.
          if (start === -1) start = end = from;
          else if (end !== from) chunk.copyWithin(end, from, from + take);
          end += take;
        }
        if (this.#remaining === 0 && this.#finishFrame()) break;
      }
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      this.#fail(error);
    }
    return start === -1 ? undefined : chunk.subarray(start, end);
  }

  /** A fault of the peer's, to throw; `code` is the close code it calls for. */
  #violation(message: string, code = CLOSE_PROTOCOL_ERROR): ProtocolError {
    this.#failCode = code;
    return new ProtocolError(`${this.url}: ${message}`);
  }

  /** Fails the connection (§7.1.7): a close frame with the fault's code, then the stream closes. */
  #fail(error: ProtocolError): void {
    this.#failure = error;
    this.#ended = true;
    this.#shutdown(closePayload(this.#failCode), true);
  }

  /**
   * Reads a frame header: straight from the chunk when it holds the whole
   * header, which allocates nothing; else gathered in `#header` across
   * reads. True once it is complete.
   */
  #readHeader(): boolean {
    const chunk = this.#chunk;
    const at = this.#pos;
    if (this.#headerLength === 0 && at + 2 <= chunk.length) {
      const size = headerSize(chunk[at + 1]!);
      if (at + size <= chunk.length) {
        this.#pos = at + size;
        this.#decodeHeader(chunk, at, size);
        return true;
      }
    }
    const header = this.#header;
    let pos = at;
    while (this.#headerLength < 2 && pos < chunk.length) {
      header[this.#headerLength++] = chunk[pos++]!;
    }
    const size = this.#headerLength < 2 ? 2 : headerSize(header[1]!);
    while (this.#headerLength < size && pos < chunk.length) {
      header[this.#headerLength++] = chunk[pos++]!;
    }
    this.#pos = pos;
    if (this.#headerLength < size) return false;
    this.#headerLength = 0;
    this.#decodeHeader(header, 0, size);
    return true;
  }

  /** Checks and takes in the header of `size` bytes at `bytes[at]`. */
  #decodeHeader(bytes: Uint8Array, at: number, size: number): void {
    const first = bytes[at]!;
    const second = bytes[at + 1]!;
    const fin = (first & 0x80) !== 0;
    const opcode = first & 0x0f;
    const masked = (second & 0x80) !== 0;
    if ((first & 0x70) !== 0) throw this.#violation("WebSocket frame with reserved bits set");
    // RFC 6455 §5.1: clients mask every frame, servers none.
    if (masked !== (this.#role === "server")) {
      throw this.#violation(
        `WebSocket frame ${masked ? "masked by the server" : "not masked by the client"}`,
      );
    }
    let length = second & 0x7f;
    if (length === 126) length = bytes[at + 2]! << 8 | bytes[at + 3]!;
    else if (length === 127) {
      const high = uint32(bytes, at + 2);
      // 2^53 bytes and up cannot be counted exactly; no real frame comes near.
      if (high >= 0x200000) throw this.#violation("WebSocket frame too long");
      length = high * 0x100000000 + uint32(bytes, at + 6);
    }
    if (opcode >= OPCODE_CLOSE) {
      if (!fin || length > MAX_CONTROL_PAYLOAD || opcode > OPCODE_PONG) {
        throw this.#violation(`invalid WebSocket control frame (opcode ${opcode})`);
      }
    } else if (opcode > OPCODE_BINARY) {
      throw this.#violation(`unknown WebSocket opcode ${opcode}`);
    } else if (opcode === OPCODE_CONTINUATION) {
      if (this.#messageOpcode === -1) {
        throw this.#violation("WebSocket continuation frame with no message");
      }
      // §5.4: the continuation frames of one message, then the next message.
      this.#currentOpcode = this.#messageOpcode;
      if (fin) this.#messageOpcode = -1;
    } else {
      if (this.#messageOpcode !== -1) {
        throw this.#violation("WebSocket message inside an unfinished one");
      }
      this.#currentOpcode = opcode;
      if (!fin) this.#messageOpcode = opcode;
    }
    this.#opcode = opcode;
    this.#fin = fin;
    this.#remaining = length;
    this.#masked = masked;
    if (masked) {
      const key = at + size - 4;
      const mask = this.#mask;
      for (let i = 0; i < 4; i++) mask[i] = bytes[key + i]!;
    }
    this.#maskOffset = 0;
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
    if (opcode < OPCODE_CLOSE) {
      if (this.#fin && this.#currentOpcode === OPCODE_TEXT) {
        if (!this.#text.complete) {
          throw this.#violation("WebSocket text message that is not UTF-8", CLOSE_INVALID_DATA);
        }
        this.#text.reset();
      }
      return false;
    }
    const payload = this.#control.slice(0, this.#controlLength);
    this.#controlLength = 0;
    if (opcode === OPCODE_PING) {
      this.#pong(payload);
      return false;
    }
    if (opcode === OPCODE_PONG) return false;
    // The peer closes (§5.5.1): with no payload, or a code it may send and
    // perhaps a UTF-8 reason. Answered with its code after what is being
    // written (a pong, say); then the stream ends.
    if (payload.length === 1) throw this.#violation("WebSocket close frame of 1 byte");
    const code = payload.length >= 2 ? payload[0]! << 8 | payload[1]! : undefined;
    if (code !== undefined && !isValidCloseCode(code)) {
      throw this.#violation(`WebSocket close code ${code}, which no peer may send`);
    }
    const reason = new Utf8Validator();
    if (!reason.push(payload.subarray(2)) || !reason.complete) {
      throw this.#violation("WebSocket close reason that is not UTF-8", CLOSE_INVALID_DATA);
    }
    this.#ended = true;
    this.#shutdown(code === undefined ? EMPTY : closePayload(code), true);
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
    if (this.#closed || this.#ended || this.#ending) {
      return Promise.reject(new ClosedError(`${this.url}: connection closed`));
    }
    return this.#send(OPCODE_BINARY, bytes);
  }

  #send(opcode: number, payload: Uint8Array): Promise<void> {
    const frame = encodeWebSocketFrame(opcode, payload, this.#role === "client");
    return this.#writing.run(() => this.#stream.write(frame));
  }

  close(): void {
    // After end(), the connection is closed by it, within its bound.
    if (this.#closed || this.#ending) return;
    this.#closed = true;
    this.#release();
    this.#shutdown(closePayload(CLOSE_NORMAL), false);
  }

  end(timeout: number): Promise<void> {
    if (this.#closed) return Promise.resolve();
    return this.#ending ??= this.#end(timeout);
  }

  /**
   * The close frame after what is being written (the goodbye), then the
   * stream's own graceful end, which drains whatever still comes (the
   * peer's close frame too) until the peer closes the connection: RFC 6455
   * §7.1.1 has the server close TCP first.
   */
  async #end(timeout: number): Promise<void> {
    const deadline = performance.now() + timeout;
    this.#release();
    if (!this.#closeSent) {
      this.#closeSent = true;
      const guard = new AbortController();
      await Promise.race([
        this.#send(OPCODE_CLOSE, closePayload(CLOSE_NORMAL)).catch(() => {}),
        sleep(timeout, guard.signal),
      ]);
      guard.abort();
    }
    const left = Math.max(0, deadline - performance.now());
    if (this.#stream.end) await this.#stream.end(left);
    else this.#stream.close();
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
 * import { openWebSocket } from "./websocket.ts";
 * import { listenWebSocket } from "./websocket_server.ts";
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
    const head = await readHead(stream, url, "response");
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
    // §4.1: an extension or subprotocol the client did not ask for fails the
    // handshake. Asking for none, it knows no framing but the plain one (a
    // compressed frame would only fail later as "reserved bits set").
    for (const [header, what] of UNASKED) {
      const value = head.headers.get(header);
      if (value) {
        throw new DouyuError(
          `WebSocket connection to ${url} failed: the server chose ${what} ${
            value.slice(0, 100)
          }, which was not asked for`,
        );
      }
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

/** The size of a frame header whose second byte is `second`: 2 to 14 bytes (§5.2). */
function headerSize(second: number): number {
  const short = second & 0x7f;
  return 2 + (short === 126 ? 2 : short === 127 ? 8 : 0) + ((second & 0x80) !== 0 ? 4 : 0);
}

/** The big-endian 32-bit number at `bytes[at]`. */
function uint32(bytes: Uint8Array, at: number): number {
  return (bytes[at]! << 24 | bytes[at + 1]! << 16 | bytes[at + 2]! << 8 | bytes[at + 3]!) >>> 0;
}
