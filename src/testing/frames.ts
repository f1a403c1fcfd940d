/**
 * Turning a scripted message into a server packet, for the mock server and
 * its clients.
 *
 * @module
 */
import { encodeFrame, SERVER_MESSAGE_TYPE } from "../protocol/frame.ts";
import { encodeStt } from "../protocol/stt.ts";
import type { MockMessage } from "./mock_options.ts";

/** The STT body of a scripted message. */
export function toBody(message: MockMessage): string {
  return typeof message === "string" ? message : encodeStt(message);
}

/** A scripted message as a server packet. */
export function serverFrame(message: MockMessage): Uint8Array {
  return encodeFrame(toBody(message), SERVER_MESSAGE_TYPE);
}

/** Whether a message source is async (a live feed that may wait). */
export function isAsyncIterable(value: unknown): value is AsyncIterable<MockMessage> {
  return typeof value === "object" && value !== null && Symbol.asyncIterator in value;
}
