/**
 * One connection to the mock server, as tests see it: {@linkcode MockClient},
 * a handle on the server's {@linkcode ClientPeer} for that connection. What
 * the client sent, its session's progress, and ways to send it anything, well
 * formed or not.
 *
 * @module
 */
import { concat } from "../base/bytes.ts";
import type { Deferred } from "../base/timers.ts";
import { garbage, hugeLengthHeader, writeInPieces } from "./faults.ts";
import { serverFrame } from "./frames.ts";
import type { MockMessage, MockProtocol, SendFramesMode, WaitForOptions } from "./mock_options.ts";
import type { ReceivedLog } from "./received_log.ts";
import type { WriteQueue } from "./write_queue.ts";

/**
 * What a {@linkcode MockClient} reaches of its connection: the server's peer
 * for it (`client_peer.ts`), seen only through what the handle uses, so that
 * this file needs nothing of the peer that creates the handle.
 *
 * @ignore
 */
export interface PeerHandle {
  readonly id: number;
  readonly protocol: MockProtocol;
  readonly log: ReceivedLog;
  readonly queue: WriteQueue;
  readonly loggedIn: Deferred<void>;
  readonly joined: Deferred<Record<string, string>>;
  readonly closed: Deferred<void>;
  readonly isOpen: boolean;
  readonly sourceError: unknown;
  close(): void;
  silence(): void;
}

/**
 * One connection to a {@linkcode MockServer}, as the server sees it: what the
 * client sent, its session progress, and ways to send it anything, well
 * formed or not. Obtained from {@linkcode MockServer.nextClient} or
 * {@linkcode MockServer.clients}; never constructed directly.
 *
 * Automatic behaviour: `loginreq` is answered with `loginres` then `pingreq`;
 * the first `joingroup` starts the stream of scripted messages; `mrkl` is
 * answered with `mrkl`; `logout` closes the connection; a packet that breaks
 * framing closes it too (a byte stream cannot be resynchronised).
 *
 * @example Checking what a bot sent, and breaking its connection
 * ```ts ignore
 * import { MockServer } from "@x/douyu/testing";
 *
 * await using server = await MockServer.start();
 * // … point the bot at server.url …
 * const client = await server.nextClient();
 * console.log(client.received[0]); // { type: "loginreq", roomid: "9999" }
 * await client.send({ type: "chatmsg", nn: "Ann", txt: "hi" });
 * await client.cutMidFrame("type@=chatmsg/txt@=never completed/"); // the bot should reconnect
 * ```
 */
export class MockClient {
  /** 1 for the server's first connection, then 2, 3, … */
  readonly id: number;
  /** The transport this client connected over. */
  readonly protocol: MockProtocol;
  /**
   * Resolves once `loginreq` was answered (`loginres` and `pingreq` written).
   * Rejects with a `ClosedError` if the connection ends first; that rejection
   * is pre-handled, so an unobserved promise never crashes a test.
   */
  readonly loggedIn: Promise<void>;
  /**
   * Resolves with the client's first `joingroup` message, once it arrives.
   * Rejects (pre-handled) with a `ClosedError` if the connection ends first.
   */
  readonly joined: Promise<Record<string, string>>;
  /** Resolves when the connection is gone, whoever closed it. Never rejects. */
  readonly closed: Promise<void>;

  readonly #peer: PeerHandle;

  /**
   * Made by the mock server for each connection it accepts.
   *
   * @ignore
   */
  constructor(peer: PeerHandle) {
    this.#peer = peer;
    this.id = peer.id;
    this.protocol = peer.protocol;
    this.loggedIn = peer.loggedIn.promise;
    this.joined = peer.joined.promise;
    this.closed = peer.closed.promise;
    // Pre-handled: most tests never look at these, and a rejection nobody
    // observes would otherwise crash the test run.
    this.loggedIn.catch(() => {});
    this.joined.catch(() => {});
  }

  /**
   * The messages the client sent, decoded with `decodeStt`, in order: every
   * one, or the newest ones once there are more than
   * {@linkcode MockServerOptions.maxReceived} of them (or more than
   * {@linkcode MockServerOptions.maxReceivedChars} characters). A snapshot:
   * read it again to see later messages.
   *
   * @example
   * ```ts ignore
   * const types = client.received.map((message) => message.type);
   * console.log(types); // [ "loginreq", "joingroup", "mrkl" ]
   * ```
   */
  get received(): readonly Record<string, string>[] {
    return this.#peer.log.messages;
  }

  /**
   * What the scripted message source (`messages` or `recording`) threw while
   * streaming to this client, or `undefined`. The stream then ended and the
   * connection was closed: check it when a test double seems to hang up for
   * no reason.
   *
   * @example
   * ```ts ignore
   * await client.closed;
   * if (client.sourceError !== undefined) throw client.sourceError;
   * ```
   */
  get sourceError(): unknown {
    return this.#peer.sourceError;
  }

  /**
   * Whether the connection is still open.
   *
   * @example
   * ```ts ignore
   * client.close();
   * console.log(client.isOpen); // false
   * ```
   */
  get isOpen(): boolean {
    return this.#peer.isOpen;
  }

  /**
   * Resolves with the `count`-th message of `type` the client sent, counting
   * every message received so far (so it resolves at once if that many
   * already arrived), not only those still in
   * {@linkcode MockClient.received}. If that many arrived but the `count`-th
   * has left the log since, it resolves with the oldest message of `type`
   * still there, or with `{ type }` when none is. (Types past
   * {@linkcode MockServerOptions.maxMessageTypes} are counted in the log only.)
   *
   * @param type A message type such as `"mrkl"` or `"joingroup"`.
   * @param count Which one: 1 (the default) for the first.
   * @param options `signal` to give up.
   * @returns The decoded message.
   * @throws {ClosedError} (as a rejection) if the connection ends first.
   *
   * @example Waiting for the second heartbeat
   * ```ts ignore
   * const second = await client.waitFor("mrkl", 2);
   * console.log(second); // { type: "mrkl" }
   * ```
   */
  waitFor(
    type: string,
    count: number = 1,
    options: WaitForOptions = {},
  ): Promise<Record<string, string>> {
    if (!Number.isInteger(count) || count < 1) {
      return Promise.reject(new RangeError(`count must be an integer >= 1, got ${count}`));
    }
    return this.#peer.log.waitFor(type, count, options.signal);
  }

  /**
   * Sends one message as one packet in one write. Works even after
   * {@linkcode MockClient.silence}: an explicit send is deliberate.
   *
   * @param message An STT body, or a value to encode with `encodeStt`.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * await client.send({ type: "chatmsg", nn: "Ann", txt: "hello" });
   * await client.send("type@=rss/rid@=9999/ss@=0/");
   * ```
   */
  send(message: MockMessage): Promise<void> {
    return this.#peer.queue.write(serverFrame(message));
  }

  /**
   * Sends several packets at once, in one of two shapes clients must cope
   * with: all in one write, or their bytes in writes of at most `split`
   * bytes (a packet then spans several reads). No other frame is written in
   * between.
   *
   * @param messages The messages, in order.
   * @param mode `"coalesce"` (default) or `{ split: n }`.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * const batch = [{ type: "chatmsg", txt: "one" }, { type: "chatmsg", txt: "two" }];
   * await client.sendFrames(batch); // one write
   * await client.sendFrames(batch, { split: 3 }); // 3-byte writes
   * ```
   */
  sendFrames(
    messages: readonly MockMessage[],
    mode: SendFramesMode = "coalesce",
  ): Promise<void> {
    const bytes = concat(messages.map(serverFrame));
    if (mode === "coalesce") return this.#peer.queue.write(bytes);
    const size = mode.split;
    if (!Number.isInteger(size) || size < 1) {
      return Promise.reject(new RangeError(`split must be an integer >= 1, got ${size}`));
    }
    return this.#peer.queue.run((write) => writeInPieces(write, bytes, size), bytes.byteLength);
  }

  /**
   * Writes bytes as they are, in one write: for packets the other helpers
   * cannot make (a wrong message type, a missing terminator, …).
   *
   * @param bytes The bytes; copied, so the caller may reuse the array.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example A packet without its NUL terminator
   * ```ts ignore
   * import { encodeFrame } from "@x/douyu";
   *
   * const frame = encodeFrame("type@=chatmsg/txt@=hi/", 690);
   * frame[frame.length - 1] = 0x2f; // "/" instead of NUL
   * await client.sendRaw(frame);
   * ```
   */
  sendRaw(bytes: Uint8Array): Promise<void> {
    return this.#peer.queue.write(bytes.slice());
  }

  /**
   * Writes the first half of a packet, then closes the connection: the client
   * holds an incomplete packet when it reads the end of the stream.
   *
   * @param message The packet to cut.
   * @throws {ClosedError} (as a rejection) if the connection is already closed.
   *
   * @example
   * ```ts ignore
   * await client.cutMidFrame({ type: "chatmsg", txt: "lost" });
   * await client.closed;
   * ```
   */
  cutMidFrame(message: MockMessage): Promise<void> {
    const frame = serverFrame(message);
    return this.#peer.queue.run(async (write) => {
      try {
        await write(frame.subarray(0, Math.max(1, Math.floor(frame.length / 2))));
      } finally {
        this.#peer.close();
      }
    }, frame.byteLength);
  }

  /**
   * From now on sends nothing on its own and answers nothing (no `loginres`,
   * no `mrkl`, no streamed or broadcast messages; `logout` and `idleTimeout`
   * no longer close it), yet keeps the socket open and keeps recording what
   * the client sends: a half-open peer, as after a silent network failure.
   * Explicit {@linkcode MockClient.send} calls still write.
   *
   * @example A bot must notice the server went quiet
   * ```ts ignore
   * const client = await server.nextClient();
   * client.silence();
   * // … the bot should time out and reconnect:
   * const again = await server.nextClient();
   * ```
   */
  silence(): void {
    this.#peer.silence();
  }

  /**
   * Writes random bytes; the header they start with has two length fields
   * that differ, so the client's framing must fail (once 12 bytes arrived).
   *
   * @param bytes How many bytes, 64 by default. Fewer than 12 cannot complete
   * a header, so the client notices only when more bytes follow.
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * await client.sendGarbage(); // the bot's decoder raises a ProtocolError and reconnects
   * ```
   */
  sendGarbage(bytes: number = 64): Promise<void> {
    if (!Number.isInteger(bytes) || bytes < 1) {
      return Promise.reject(new RangeError(`bytes must be an integer >= 1, got ${bytes}`));
    }
    return this.#peer.queue.write(garbage(bytes));
  }

  /**
   * Writes a packet header announcing a 2,000,000,000-byte packet (and nothing
   * after it): a client must reject it before allocating anything.
   *
   * @throws {ClosedError} (as a rejection) if the connection is closed.
   *
   * @example
   * ```ts ignore
   * await client.sendHugeLength(); // the bot's decoder raises a ProtocolError
   * ```
   */
  sendHugeLength(): Promise<void> {
    return this.#peer.queue.write(hugeLengthHeader());
  }

  /**
   * Closes the connection now (the client reads the end of the stream).
   * Idempotent. Stops streaming and settles every pending promise.
   *
   * @example
   * ```ts ignore
   * client.close(); // the bot should reconnect
   * const next = await server.nextClient();
   * ```
   */
  close(): void {
    this.#peer.close();
  }
}
