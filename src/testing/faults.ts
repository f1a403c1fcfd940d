/**
 * The broken bytes a mock client can be sent on demand, so a bot's framing
 * and reconnection can be tested: random garbage whose header can never be
 * valid, and a header announcing a packet far too large to allocate.
 *
 * @module
 */
import { SERVER_MESSAGE_TYPE } from "../protocol/frame.ts";

/** The length both fields of {@linkcode hugeLengthHeader} announce. */
export const HUGE_LENGTH = 2_000_000_000;
/** `crypto.getRandomValues` fills at most this many bytes per call. */
const RANDOM_CHUNK = 65536;

/**
 * `size` random bytes; the header they start with has two length fields that
 * differ, so a client's framing must fail once 12 of them arrived.
 */
export function garbage(size: number): Uint8Array {
  const bytes = new Uint8Array(size);
  for (let pos = 0; pos < size; pos += RANDOM_CHUNK) {
    crypto.getRandomValues(bytes.subarray(pos, pos + RANDOM_CHUNK));
  }
  // Random length fields match with odds of 2^-32; make them never match,
  // so the test outcome does not depend on luck.
  if (size > 4) bytes[4] = bytes[0]! ^ 0xff;
  return bytes;
}

/** A packet header announcing a {@linkcode HUGE_LENGTH}-byte packet, and nothing after it. */
export function hugeLengthHeader(): Uint8Array {
  const header = new Uint8Array(12);
  const view = new DataView(header.buffer);
  view.setUint32(0, HUGE_LENGTH, true);
  view.setUint32(4, HUGE_LENGTH, true);
  view.setUint16(8, SERVER_MESSAGE_TYPE, true);
  return header;
}

/** Writes `bytes` in pieces of at most `size` bytes, one awaited write each. */
export async function writeInPieces(
  write: (bytes: Uint8Array) => Promise<void>,
  bytes: Uint8Array,
  size: number,
): Promise<void> {
  // One awaited write per piece, so each leaves as its own segment or message.
  for (let pos = 0; pos < bytes.byteLength; pos += size) {
    await write(bytes.subarray(pos, pos + size));
  }
}
