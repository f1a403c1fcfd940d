/**
 * The HTTP side of the WebSocket handshake (RFC 6455 §4): reading a head,
 * bounded in size, from a byte stream; its start line and headers; the
 * `Sec-WebSocket-Accept` value. `websocket.ts` runs the handshakes.
 *
 * @module
 */
import { DouyuError, ProtocolError } from "../base/errors.ts";
import type { Transport } from "./seam.ts";

/** The most an HTTP handshake head may take, request or response. */
export const MAX_HEAD_BYTES = 16 * 1024;
/** RFC 6455 §1.3: appended to the key before hashing. */
const ACCEPT_GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

const encoder = new TextEncoder();
const latin1 = new TextDecoder("latin1");

/** One HTTP head: the start line and the headers (names lower-cased). */
export interface HttpHead {
  startLine: string;
  headers: Map<string, string>;
  /** Bytes after the head, already read: the first frames. */
  rest: Uint8Array;
}

/** Which head {@linkcode readHead} expects: a client's request, or a server's response. */
export type HeadKind = "request" | "response";

/**
 * A handshake head refused before it was parsed: longer than
 * `MAX_HEAD_BYTES`, or not HTTP at all. `status` is what a server answers.
 */
export class HandshakeHeadError extends ProtocolError {
  /** 400 (not an HTTP head) or 431 (too long). */
  readonly status: 400 | 431;

  /**
   * @param message What was wrong, naming the URL.
   * @param status The HTTP status that says so.
   */
  constructor(message: string, status: 400 | 431) {
    super(message);
    this.status = status;
  }
}

/**
 * Reads an HTTP head (up to the blank line) from `stream`, bounded in size
 * however it arrives. Its start line is checked as its bytes come in, so a
 * peer that speaks something else (Douyu's binary packets, say) is refused
 * at its first bytes rather than after a timeout.
 *
 * @throws {HandshakeHeadError} for a head over `MAX_HEAD_BYTES` or bytes no
 *   HTTP start line of `kind` can hold.
 * @throws {DouyuError} when the stream ends first.
 */
export async function readHead(stream: Transport, url: string, kind: HeadKind): Promise<HttpHead> {
  // Grown by doubling and searched only where the new bytes can complete the
  // blank line, so a head dripped a byte at a time costs linear time.
  let head = new Uint8Array(1024);
  let length = 0;
  const startLine = new StartLineCheck(kind);
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
    if (!startLine.done && !startLine.check(head, length)) {
      throw new HandshakeHeadError(`${url}: not an HTTP ${kind}`, 400);
    }
    const end = findHeadEnd(head.subarray(0, length), from);
    if (end !== -1 && end + 4 <= MAX_HEAD_BYTES) {
      return parseHead(head.subarray(0, end), head.slice(end + 4, length));
    }
    // A head that arrived whole in one read is held to the bound too.
    if (end !== -1 || length > MAX_HEAD_BYTES) {
      throw new HandshakeHeadError(
        `${url}: handshake head longer than ${MAX_HEAD_BYTES} bytes`,
        431,
      );
    }
  }
}

const CR = 13;
const LF = 10;
const SPACE = 32;
const HTTP_SLASH = [...encoder.encode("HTTP/")];
/** A request line as RFC 9112 §3 has it: a token method, a target, the version. */
const REQUEST_LINE = /^[!#$%&'*+.^_`|~0-9A-Za-z-]+ [\x21-\x7e]+ HTTP\/\d\.\d$/;
/** The characters of a method (RFC 9110 §5.6.2's tchar). */
const TCHAR = /[!#$%&'*+.^_`|~0-9A-Za-z-]/;

/**
 * Checks a head's start line as its bytes arrive: a request's method is a
 * token and its line printable ASCII, checked whole once it ends; a
 * response's starts with `HTTP/` and holds no control character.
 */
class StartLineCheck {
  readonly #kind: HeadKind;
  /** Bytes checked so far. */
  #pos = 0;
  #methodEnded = false;
  /** Whether the line has ended and was good. */
  done = false;

  constructor(kind: HeadKind) {
    this.#kind = kind;
  }

  /** Checks what arrived up to `to`; false when it cannot start an HTTP head of this kind. */
  check(bytes: Uint8Array, to: number): boolean {
    const response = this.#kind === "response";
    for (let i = this.#pos; i < to; i++) {
      const byte = bytes[i]!;
      if (byte === CR) {
        if (i + 1 === to) { // the LF is still to come
          this.#pos = i;
          return true;
        }
        this.done = true;
        if (bytes[i + 1] !== LF) return false;
        if (response) return i >= HTTP_SLASH.length;
        return REQUEST_LINE.test(latin1.decode(bytes.subarray(0, i)));
      }
      if (response) {
        const bad = i < HTTP_SLASH.length
          ? byte !== HTTP_SLASH[i]
          : (byte < 0x20 && byte !== 9) || byte === 0x7f;
        if (bad) return false;
      } else if (byte === SPACE) {
        if (i === 0) return false;
        this.#methodEnded = true;
      } else if (
        byte < 0x21 || byte > 0x7e ||
        (!this.#methodEnded && !TCHAR.test(String.fromCharCode(byte)))
      ) {
        return false;
      }
    }
    this.#pos = to;
    return true;
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

/** The `Sec-WebSocket-Accept` value for a `Sec-WebSocket-Key` (§4.2.2). */
export async function acceptKey(key: string): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-1", encoder.encode(key + ACCEPT_GUID));
  return toBase64(new Uint8Array(digest));
}

/** Base64 of `bytes`. */
export function toBase64(bytes: Uint8Array): string {
  let binary = "";
  for (const byte of bytes) binary += String.fromCharCode(byte);
  return btoa(binary);
}

/** Whether a comma-separated header value lists `token` (case-insensitively). */
export function hasToken(value: string | undefined, token: string): boolean {
  return value !== undefined &&
    value.toLowerCase().split(",").some((part) => part.trim() === token);
}
