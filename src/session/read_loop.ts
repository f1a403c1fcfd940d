/**
 * The read loop of one connection: bytes to frames to messages, delivered
 * at the pace the consumer sets (a push source is not a pull source), with
 * the idle watchdog fed by every read and the login bounded in bytes.
 *
 * @module
 */

import { ClosedError, ProtocolError } from "../base/errors.ts";
import type { MessageQueue } from "../base/queue.ts";
import { FrameDecoder } from "../protocol/frame.ts";
import { type Message, parseMessage } from "../protocol/messages.ts";
import { peekType, peekTypeBytes } from "../protocol/stt.ts";
import type { Endpoint, Transport } from "../transport/seam.ts";
import type { MessageSink, StatusEvent } from "./events.ts";
import { watchIdle } from "./keepalive.ts";
import type { ResolvedOptions } from "./options.ts";

/**
 * What the session itself reads, whatever the `types` filter: the login
 * answer and the server's keepalive. (Not `BOOKKEEPING_TYPES`: `pingreq` is
 * the client's to send, not the session's to read.)
 */
const READ_BY_SESSION = new Set(["loginres", "mrkl"]);
/**
 * The most bytes a connection may receive before `loginres`. The real server
 * sends `loginres` first (a few hundred bytes); a peer that streams anything
 * else instead is broken or hostile (Douyu's TCP is plaintext, so anyone on
 * the path can try), and is cut off here rather than filling memory.
 */
export const MAX_BYTES_BEFORE_LOGIN = 256 * 1024;
/**
 * How many parsed messages may wait for a loop that keeps up before the next
 * read waits for it to take them (a wait costs a few µs: not once per
 * message when reads are small).
 */
const PARSE_AHEAD = 256;

/** The live part of one connection. */
export interface Connection {
  endpoint: Endpoint;
  transport: Transport;
  controller: AbortController;
  joined: boolean;
  heartbeatSentAt: number;
}

/** What the read loop needs of its session. */
export interface ReadHost<M extends Message> {
  /** The session's options. */
  readonly options: ResolvedOptions;
  /** Where messages go now: the session's queue, unless a hub routed them elsewhere. */
  readonly sink: MessageSink<M>;
  /** The session's own queue while a loop iterates it and it is the sink, else undefined. */
  readonly pacedBy: MessageQueue<M> | undefined;
  /** Set by `close()` at once: nothing is delivered after it. */
  readonly closeRequested: boolean;
  /** Hands a message to the handlers and/or the sink; returns how many were dropped. */
  deliver(message: M): number;
  /** Counts messages dropped to make room, and reports them. */
  dropped(count: number): void;
  /** Reports a status event. */
  emit(event: StatusEvent): void;
}

/**
 * The read loop of one connection; returns when it ends, throws what broke it.
 *
 * @example
 * ```ts ignore
 * await readConnection(host, connection, join, (error) => controller.abort(error));
 * ```
 */
export async function readConnection<M extends Message>(
  host: ReadHost<M>,
  connection: Connection,
  join: () => Promise<void>,
  fail: (e: unknown) => void,
): Promise<void> {
  const options = host.options;
  const { transport, controller } = connection;
  const signal = controller.signal;
  const types = options.types;
  const onBody = options.onBody;
  const wanted = (type: string | undefined) =>
    type !== undefined && (types!.has(type) || READ_BY_SESSION.has(type));
  const decoder = new FrameDecoder({
    maxFrameSize: options.maxFrameSize,
    // Unwanted types are dropped before their UTF-8 is decoded, unless a
    // recorder wants every body.
    ...(types !== undefined && onBody === undefined
      ? { filter: (body: Uint8Array) => wanted(peekTypeBytes(body)) }
      : {}),
  });

  const idle = watchIdle(options.idleTimeout, connection.endpoint.url, fail, signal);
  // Only a joined connection pauses: login must go on whatever the queue holds.
  const pauses = options.overflow === "pause";
  const mustPause = () => pauses && connection.joined && host.sink.full;
  const waitForSpace = async () => {
    idle.paused = true;
    await host.sink.waitForSpace(signal);
    idle.paused = false;
    idle.activity();
  };

  let bytesBeforeLogin = 0;
  while (!signal.aborted) {
    if (mustPause()) {
      await waitForSpace();
      continue;
    }
    // A loop that keeps up takes what the last reads brought before more
    // is parsed: messages queued by the thousand would live long enough
    // to cost the garbage collector more than decoding them did.
    const paced = host.pacedBy;
    if (paced !== undefined && paced.size >= PARSE_AHEAD) {
      await paced.waitForConsumer(signal);
      if (signal.aborted) return;
    }
    const chunk = await transport.read();
    if (chunk === null) {
      if (!signal.aborted) {
        fail(new ClosedError(`${connection.endpoint.url} closed the connection`));
      }
      return;
    }
    if (!connection.joined && (bytesBeforeLogin += chunk.length) > MAX_BYTES_BEFORE_LOGIN) {
      throw new ProtocolError(
        `${connection.endpoint.url} sent more than ${MAX_BYTES_BEFORE_LOGIN} bytes without loginres`,
      );
    }
    const receivedAt = Date.now(); // wall-clock time, for recordings
    idle.activity();
    const frames = decoder.push(chunk);
    let dropped = 0;
    // Between awaits the connection cannot end, except by a close() from
    // code called here, which sets #closeRequested first: the signal (a
    // costly getter on Deno) is read only after an await.
    let awaited = false;
    for (const frame of frames) {
      // One read can carry thousands of messages: the queue bound holds per message.
      if (mustPause()) {
        await waitForSpace();
        awaited = true;
      }
      if (host.closeRequested || (awaited && signal.aborted)) return;
      const body = frame.body;
      if (onBody !== undefined) {
        try {
          onBody(body, receivedAt);
        } catch (error) {
          host.emit({ type: "error", error });
        }
        if (types !== undefined && !wanted(peekType(body))) continue;
      }
      const msg = parseMessage(body);
      if (msg.type === "loginres" && !connection.joined) {
        await join();
        awaited = true;
      } else if (msg.type === "mrkl" && connection.heartbeatSentAt !== 0) {
        host.emit({
          type: "heartbeat",
          url: connection.endpoint.url,
          rtt: Math.round(performance.now() - connection.heartbeatSentAt),
        });
        connection.heartbeatSentAt = 0;
      }
      if (types !== undefined && !types.has(msg.type)) continue;
      dropped += host.deliver(msg as M);
    }
    if (dropped > 0) {
      host.dropped(dropped);
    }
    // The good frames before a framing error are delivered; then the
    // connection ends (a byte stream cannot be resynchronised).
    if (decoder.error !== undefined) throw decoder.error;
  }
}
