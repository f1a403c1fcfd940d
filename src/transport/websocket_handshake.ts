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

/** Reads an HTTP head (up to the blank line) from `stream`, bounded in size. */
export async function readHead(stream: Transport, url: string): Promise<HttpHead> {
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
