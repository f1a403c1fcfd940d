/**
 * The mock server's side of one connection: the protocol peer. It reads the
 * client's packets, logs them, answers the session handshake as the real
 * server does (`loginres` and `pingreq` for `loginreq`, `mrkl` for `mrkl`, a
 * hang-up for `logout` or for a packet that breaks framing), starts the
 * scripted stream on the first `joingroup`, and hangs up on a client that went
 * quiet for `idleTimeout`.
 *
 * The server owns a {@linkcode ClientPeer} per connection; users get its
 * {@linkcode MockClient}, which reaches the parts below through it.
 *
 * @module
 */
import { ClosedError, ProtocolError } from "../base/errors.ts";
import { encodeFrame, FrameDecoder, SERVER_MESSAGE_TYPE } from "../protocol/frame.ts";
import { decodeStt } from "../protocol/stt.ts";
import type { Transport } from "../transport/seam.ts";
import { type Deferred, deferred, MAX_TIMEOUT } from "../base/timers.ts";
import { serverFrame } from "./frames.ts";
import { MockClient } from "./mock_client.ts";
import type { MockProtocol, Settings } from "./mock_options.ts";
import { ReceivedLog } from "./received_log.ts";
import { streamTo } from "./stream.ts";
import { WriteQueue } from "./write_queue.ts";

/** The answer to every `mrkl`, encoded once: a flood of them is answered without re-encoding. */
const MRKL_ANSWER = encodeFrame("type@=mrkl/", SERVER_MESSAGE_TYPE);

/** What the server gives a peer for a connection it accepted. */
export interface PeerInit {
  id: number;
  protocol: MockProtocol;
  conn: Transport;
  settings: Settings;
  /** Called when the client sends its first `joingroup`. */
  onJoin: () => void;
  /** Called once, when the connection closes (whoever closed it). */
  onClose: () => void;
}

/** One connection of the mock server, and its {@linkcode MockClient}. */
export class ClientPeer {
  /** 1 for the server's first connection, then 2, 3, … */
  readonly id: number;
  readonly protocol: MockProtocol;
  /** What users of this connection get. */
  readonly client: MockClient;
  /** What the client sent. */
  readonly log: ReceivedLog;
  /** What the message source threw while streaming to it (see {@linkcode MockClient.sourceError}). */
  sourceError: unknown;
  /** Every write to the client. */
  readonly queue: WriteQueue;
  /** Settle as {@linkcode MockClient.loggedIn}, `joined` and `closed` say. */
  readonly loggedIn: Deferred<void> = deferred<void>();
  readonly joined: Deferred<Record<string, string>> = deferred<Record<string, string>>();
  readonly closed: Deferred<void> = deferred<void>();
  /** Already handed out by the server's `nextClient()`. */
  consumed = false;

  readonly #conn: Transport;
  readonly #settings: Settings;
  readonly #onJoin: () => void;
  readonly #onClose: () => void;
  /** Aborted on close: cancels every timer and the stream of this client. */
  readonly #controller = new AbortController();
  #open = true;
  #silenced = false;
  #hasJoined = false;
  #lastActivity = performance.now();
  /** The read loop and the stream, awaited by `finished()`. */
  readonly #tasks: Promise<void>[] = [];

  constructor(init: PeerInit) {
    this.id = init.id;
    this.protocol = init.protocol;
    this.#conn = init.conn;
    this.#settings = init.settings;
    this.#onJoin = init.onJoin;
    this.#onClose = init.onClose;
    this.log = new ReceivedLog(init.settings);
    const conn = init.conn;
    this.queue = new WriteQueue({
      write: (bytes) => conn.write(bytes),
      isOpen: () => this.#open,
      close: () => this.close(),
      closedError: () => new ClosedError(`mock client ${this.id} is closed`),
    }, init.settings.maxPendingBytes);
    this.client = new MockClient(this);
    this.#tasks.push(this.#readLoop());
    if (init.settings.idleTimeout > 0) this.#watchIdle(init.settings.idleTimeout);
  }

  /** Whether the connection is still open. */
  get isOpen(): boolean {
    return this.#open;
  }

  /** Whether the client has sent `joingroup`. */
  get hasJoined(): boolean {
    return this.#hasJoined;
  }

  /** Joined, open and not silenced: a target of the server's `broadcast()`. */
  get live(): boolean {
    return this.#open && this.#hasJoined && !this.#silenced;
  }

  /** Open and not silenced: the scripted stream goes on. */
  streaming(): boolean {
    return this.#open && !this.#silenced;
  }

  /** From now on sends nothing on its own and answers nothing: see {@linkcode MockClient.silence}. */
  silence(): void {
    this.#silenced = true;
  }

  /** Settles once the read loop, the stream and the writes have all ended. */
  async finished(): Promise<void> {
    await Promise.allSettled(this.#tasks);
    await this.queue.drained();
  }

  /** Closes the connection; idempotent. Stops streaming and settles every pending promise. */
  close(): void {
    if (!this.#open) return;
    this.#open = false;
    this.#controller.abort();
    this.#conn.close();
    const error = new ClosedError(`mock client ${this.id} closed`);
    this.loggedIn.reject(error);
    this.joined.reject(error);
    this.log.end(
      error,
      (type, seen) =>
        new ClosedError(`client ${this.id} closed after ${seen} "${type}" message(s)`),
    );
    this.queue.dropAnswers();
    this.closed.resolve();
    this.#onClose();
  }

  async #readLoop(): Promise<void> {
    const decoder = new FrameDecoder({ maxFrameSize: this.#settings.maxFrameSize });
    try {
      while (this.#open) {
        let chunk: Uint8Array | null;
        try {
          chunk = await this.#conn.read();
        } catch {
          return; // the connection was lost: the client is gone
        }
        if (chunk === null) return;
        this.#lastActivity = performance.now();
        let frames;
        try {
          frames = decoder.push(chunk);
        } catch (error) {
          // A byte stream cannot be resynchronised: the real server hangs up too.
          if (error instanceof ProtocolError) return;
          throw error;
        }
        for (const frame of frames) {
          if (!this.#open) return;
          this.#handle(frame.body);
        }
        // Good frames came before a bad header in this chunk: hang up now, not on the next read.
        if (decoder.error !== undefined) return;
      }
    } finally {
      this.close();
    }
  }

  #handle(body: string): void {
    const message = decodeStt(body);
    this.log.add(message, body.length);
    if (this.#silenced) return;
    switch (message.type) {
      case "loginreq":
        if (this.#settings.answerLogin) this.#answerLogin();
        break;
      case "joingroup":
        if (!this.#hasJoined) {
          this.#hasJoined = true;
          this.joined.resolve(message);
          this.#onJoin();
          this.#tasks.push(
            streamTo(this.#settings, {
              queue: this.queue,
              signal: this.#controller.signal,
              streaming: () => this.streaming(),
              close: (error) => {
                // Kept for the test to see (finished() settles every task and reports none),
                // before `closed` resolves.
                this.sourceError = error;
                this.close();
              },
            }).catch(() => {}),
          );
        }
        break;
      case "mrkl":
        this.queue.answer([MRKL_ANSWER]);
        break;
      case "logout":
        this.close();
        break;
    }
  }

  #answerLogin(): void {
    // The real server follows loginres with a pingreq carrying its clock.
    this.queue.answer(
      [
        serverFrame(this.#settings.loginResponse),
        serverFrame(`type@=pingreq/tick@=${Date.now()}/`),
      ],
      () => this.loggedIn.resolve(),
    );
  }

  /** Closes the client once nothing arrived for `limit` ms; one timer, re-armed lazily. */
  #watchIdle(limit: number): void {
    let timer: ReturnType<typeof setTimeout> | undefined;
    const check = () => {
      // A dead (silenced) peer never hangs up on anyone.
      if (this.#silenced || !this.#open) return;
      const idle = performance.now() - this.#lastActivity;
      if (idle >= limit) this.close();
      else timer = setTimeout(check, Math.min(limit - idle, MAX_TIMEOUT));
    };
    timer = setTimeout(check, Math.min(limit, MAX_TIMEOUT));
    this.#controller.signal.addEventListener("abort", () => clearTimeout(timer), { once: true });
  }
}
