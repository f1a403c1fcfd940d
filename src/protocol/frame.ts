/**
 * Douyu packet framing: a 12-byte little-endian header, a UTF-8 STT body and a
 * NUL terminator. See docs/protocol.md, "Packets".
 *
 * @module
 */

import { ProtocolError } from "../base/errors.ts";

/** Message type of packets a client sends. */
export const CLIENT_MESSAGE_TYPE = 689;
/** Message type of packets the server sends. */
export const SERVER_MESSAGE_TYPE = 690;
/** Default upper bound of the length field: real bodies stay under ~10 KB. */
export const DEFAULT_MAX_FRAME_SIZE = 1024 * 1024;

/** Bytes before the body: length, length again, type, encryption, reserved. */
const HEADER_SIZE = 12;
/** The smallest legal length field: 8 header bytes after it plus the NUL. */
const MIN_LENGTH = 9;

const encoder = new TextEncoder();
/** Shared by every decoder holding no partial frame; never written (a tail gets its own buffer). */
const NO_BYTES = new Uint8Array(0);
// One for every decoder: without `stream` a decode keeps no state between calls.
const decoder = new TextDecoder();

/**
 * How an HTTP response starts: what a `tcp://` URL pointed at a web or
 * WebSocket port gets back (its length fields would read 1347703880 and
 * 825110831, which no frame has).
 */
const HTTP_START = [0x48, 0x54, 0x54, 0x50, 0x2f]; // "HTTP/"

/** One decoded packet. */
export interface Frame {
  /** Message type from the header: 690 from the server, 689 from a client. */
  type: number;
  /** The STT body, UTF-8 decoded (bad bytes become U+FFFD), without the NUL. */
  body: string;
}

/**
 * Encodes one packet. Both length fields count UTF-8 bytes (not UTF-16 code
 * units) from the second length field to the terminator: `bytes + 9`.
 *
 * @param body STT text, e.g. `"type@=mrkl/"`.
 * @param type 689 (client, the default) or 690 (server).
 * @returns The packet bytes.
 *
 * @example The byte-exact heartbeat
 * ```ts
 * import { encodeFrame } from "@x/douyu";
 *
 * const bytes = encodeFrame("type@=mrkl/");
 * console.log(bytes.length); // 24
 * console.log(bytes[0], bytes[8], bytes[9]); // 20 177 2
 * ```
 */
export function encodeFrame(body: string, type: number = CLIENT_MESSAGE_TYPE): Uint8Array {
  const text = encoder.encode(body);
  const length = text.length + MIN_LENGTH;
  const frame = new Uint8Array(text.length + HEADER_SIZE + 1);
  const view = new DataView(frame.buffer);
  view.setUint32(0, length, true);
  view.setUint32(4, length, true);
  view.setUint16(8, type, true);
  frame.set(text, HEADER_SIZE);
  return frame;
}

/** Options of {@linkcode FrameDecoder}. */
export interface FrameDecoderOptions {
  /**
   * The largest length field accepted; a larger one is a `ProtocolError`
   * raised before anything is allocated. Default 1 MiB.
   */
  maxFrameSize?: number;
  /**
   * Called with each body's bytes before it is decoded; returning `false`
   * skips the frame without paying for UTF-8 decoding. Used to drop unwanted
   * message types cheaply. The bytes are only valid during the call.
   */
  filter?: (body: Uint8Array) => boolean;
}

/**
 * Turns a byte stream into frames. Feed it whatever the socket hands over:
 * any split, several packets at once, subarrays of a larger buffer.
 *
 * Cost is linear in the bytes pushed: complete frames are decoded straight
 * from the chunk, and only an incomplete tail is copied, into a buffer that
 * never exceeds one frame. After a `ProtocolError` the stream cannot be
 * resynchronised: discard the connection (or call `reset()` for a new one).
 * A chunk with good frames before the bad bytes returns those frames and
 * sets {@linkcode FrameDecoder.error}; the next push throws.
 *
 * @example
 * ```ts
 * import { encodeFrame, FrameDecoder } from "@x/douyu";
 *
 * const bytes = encodeFrame("type@=chatmsg/txt@=你好/", 690);
 * const decoder = new FrameDecoder();
 * console.log(decoder.push(bytes.subarray(0, 5))); // []
 * console.log(decoder.push(bytes.subarray(5))); // [{ type: 690, body: "type@=chatmsg/txt@=你好/" }]
 * ```
 */
export class FrameDecoder {
  readonly #maxFrameSize: number;
  readonly #filter: ((body: Uint8Array) => boolean) | undefined;
  /**
   * The incomplete frame carried over from earlier pushes. Allocated when a
   * push leaves one: an idle connection's decoder holds none.
   */
  #pending: Uint8Array = NO_BYTES;
  #pendingLength = 0;
  /** Total bytes of the pending frame once its header is known, else 0. */
  #pendingTotal = 0;
  #error: ProtocolError | undefined;
  /** No byte seen yet that rules out an HTTP response. */
  #atStart = true;

  /** Creates a decoder. */
  constructor(options: FrameDecoderOptions = {}) {
    this.#maxFrameSize = checkMaxFrameSize(options.maxFrameSize ?? DEFAULT_MAX_FRAME_SIZE);
    this.#filter = options.filter;
  }

  /** Bytes held for an incomplete frame. */
  get bufferedBytes(): number {
    return this.#pendingLength;
  }

  /** Forgets any partial frame, for reuse on a new connection. */
  reset(): void {
    this.#error = undefined;
    this.#atStart = true;
    this.#pending = NO_BYTES;
    this.#pendingLength = 0;
    this.#pendingTotal = 0;
  }

  /**
   * Decodes every frame that `chunk` completes.
   *
   * @param chunk Bytes from the socket; not retained after the call.
   * @returns The complete frames, in order (often none, often several).
   * @throws {ProtocolError} on a length below 9 or above `maxFrameSize`, or
   * two length fields that differ; when the stream starts with `HTTP/`, one
   * that says the peer speaks HTTP (a web or WebSocket server) and suggests
   * `ws://` or `wss://`.
   */
  push(chunk: Uint8Array): Frame[] {
    if (this.#error !== undefined) throw this.#error;
    if (this.#atStart) this.#checkStart(chunk);
    const frames: Frame[] = [];
    try {
      let pos = 0;
      if (this.#pendingLength > 0) {
        pos = this.#completePending(chunk, frames);
        if (this.#pendingLength > 0) return frames;
      }
      const view = new DataView(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      const end = chunk.length;
      while (end - pos >= HEADER_SIZE) {
        const total = this.#frameTotal(view, pos);
        if (end - pos < total) break;
        this.#emit(chunk, view, pos, total, frames);
        pos += total;
      }
      if (pos < end) this.#keep(chunk.subarray(pos));
      return frames;
    } catch (error) {
      if (!(error instanceof ProtocolError)) throw error;
      // Every later push fails too, however the bytes were split: the bytes after a bad
      // header are not frames.
      this.#error = error;
      if (frames.length === 0) throw error;
      // Frames that were whole before the bad header are real messages: hand them over,
      // and fail from the next push on (see `error`).
      return frames;
    }
  }

  /**
   * The framing error met so far, if any (after the frames the last `push()`
   * returned, or the one it threw). Once set, every `push()` throws it: the
   * stream cannot be resynchronised.
   */
  get error(): ProtocolError | undefined {
    return this.#error;
  }

  /**
   * Fails with a hint when the stream starts with `HTTP/`. Runs only until
   * its first five bytes are known (a short first read waits in the pending
   * buffer, since no header is complete yet), so it costs nothing later.
   */
  #checkStart(chunk: Uint8Array): void {
    const held = this.#pendingLength;
    const known = Math.min(HTTP_START.length, held + chunk.length);
    for (let i = 0; i < known; i++) {
      const byte = i < held ? this.#pending[i] : chunk[i - held];
      if (byte !== HTTP_START[i]) {
        this.#atStart = false;
        return;
      }
    }
    if (known < HTTP_START.length) return;
    this.#atStart = false;
    this.#error = new ProtocolError(
      "the server answered with HTTP, not Douyu's binary protocol: " +
        "if this is a WebSocket endpoint, use ws:// or wss://",
    );
    throw this.#error;
  }

  /** Appends to the pending frame; returns how much of `chunk` it used. */
  #completePending(chunk: Uint8Array, frames: Frame[]): number {
    let pos = 0;
    if (this.#pendingTotal === 0) {
      const take = Math.min(HEADER_SIZE - this.#pendingLength, chunk.length);
      this.#pending.set(chunk.subarray(0, take), this.#pendingLength);
      this.#pendingLength += take;
      pos = take;
      if (this.#pendingLength < HEADER_SIZE) return pos;
      this.#startFrame();
    }
    const take = Math.min(this.#pendingTotal - this.#pendingLength, chunk.length - pos);
    this.#pending.set(chunk.subarray(pos, pos + take), this.#pendingLength);
    this.#pendingLength += take;
    pos += take;
    if (this.#pendingLength === this.#pendingTotal) {
      const frame = this.#pending.subarray(0, this.#pendingTotal);
      const view = new DataView(frame.buffer, frame.byteOffset, frame.byteLength);
      this.#emit(frame, view, 0, this.#pendingTotal, frames);
      this.#pendingLength = 0;
      this.#pendingTotal = 0;
      // A large frame's buffer is not kept around for the next small one.
      if (this.#pending.length > 64 * 1024) this.#pending = NO_BYTES;
    }
    return pos;
  }

  /** Validates the pending header and sizes the buffer for the whole frame. */
  #startFrame(): void {
    const p = this.#pending;
    const total = this.#frameTotal(new DataView(p.buffer, p.byteOffset, p.byteLength), 0);
    if (p.length < total) {
      const grown = new Uint8Array(total);
      grown.set(p.subarray(0, this.#pendingLength));
      this.#pending = grown;
    }
    this.#pendingTotal = total;
  }

  /** Copies an incomplete tail for the next push. */
  #keep(tail: Uint8Array): void {
    // At least a header: #completePending reads one into it.
    if (this.#pending.length < tail.length) {
      this.#pending = new Uint8Array(Math.max(tail.length, HEADER_SIZE));
    }
    this.#pending.set(tail);
    this.#pendingLength = tail.length;
    this.#pendingTotal = 0;
    if (tail.length >= HEADER_SIZE) this.#startFrame();
  }

  /** Reads and checks the header at `pos`; returns the frame's size on the wire. */
  #frameTotal(view: DataView, pos: number): number {
    const length = view.getUint32(pos, true);
    const again = view.getUint32(pos + 4, true);
    if (length !== again) {
      throw new ProtocolError(`frame length fields differ: ${length} and ${again}`);
    }
    if (length < MIN_LENGTH) throw new ProtocolError(`frame length ${length} is below 9`);
    if (length > this.#maxFrameSize) {
      throw new ProtocolError(
        `frame length ${length} exceeds the maximum of ${this.#maxFrameSize} bytes`,
      );
    }
    return length + 4;
  }

  #emit(bytes: Uint8Array, view: DataView, pos: number, total: number, frames: Frame[]): void {
    const last = pos + total - 1;
    // The terminator is dropped when present; a missing one keeps the byte.
    const bodyEnd = bytes[last] === 0 ? last : last + 1;
    const body = bytes.subarray(pos + HEADER_SIZE, bodyEnd);
    if (this.#filter !== undefined && !this.#filter(body)) return;
    frames.push({ type: view.getUint16(pos + 8, true), body: decoder.decode(body) });
  }
}

/**
 * `max` when it is a frame size limit a decoder takes: an integer from 9 (the
 * smallest packet) to 2^31-1.
 *
 * @throws {RangeError} for any other value.
 *
 * @example
 * ```ts
 * import { checkMaxFrameSize } from "./frame.ts";
 *
 * console.log(checkMaxFrameSize(1024 * 1024)); // 1048576
 * ```
 */
export function checkMaxFrameSize(max: number): number {
  if (!Number.isInteger(max) || max < MIN_LENGTH || max > 0x7fffffff) {
    throw new RangeError(`maxFrameSize must be an integer from 9 to 2^31-1, got ${max}`);
  }
  return max;
}
