/**
 * Publishes written as NATS protocol, many to one write: a
 * {@linkcode CommandBuffer} gathers each message's `HPUB` command, its header
 * block and its body into one buffer, and hands the buffer to the client's
 * protocol writer once per batch.
 *
 * Why: through `connection.publish()`, the pinned client (3.4) builds and
 * encodes a command line per message, checks the subjects, and later copies
 * the line, the headers and the body into its outbound buffer. A collector
 * flat out spent about a sixth of its time there (`bench:cluster`). The
 * client's protocol writer is not part of its typed API, so
 * {@linkcode protocolWriter} checks that it is there and the publisher falls
 * back to `publish()` when it is not.
 *
 * @module
 */
import type { NatsConnection } from "@nats-io/transport-node";

/** The part of the client's protocol handler this file uses: it queues a whole command. */
export interface ProtocolWriter {
  /** Queues `command` for the next write to the server (the client flushes once per turn). */
  sendCommand(command: Uint8Array): void;
}

/**
 * The protocol writer inside `connection`, when the client has one of the
 * shape this file was written for; `undefined` otherwise.
 *
 * @example
 * ```ts ignore
 * const writer = protocolWriter(cluster.connection);
 * console.log(writer === undefined ? "publish()" : "commands");
 * ```
 */
export function protocolWriter(connection: NatsConnection): ProtocolWriter | undefined {
  const protocol = (connection as unknown as { protocol?: unknown }).protocol;
  if (typeof protocol !== "object" || protocol === null) return undefined;
  const sendCommand = (protocol as { sendCommand?: unknown }).sendCommand;
  return typeof sendCommand === "function" ? protocol as ProtocolWriter : undefined;
}

/** Size of each buffer commands are gathered in; a larger command gets a buffer of its own. */
const SLAB_BYTES = 256 * 1024;
/** Room for the command line (`HPUB`, subject, reply, two lengths) beside the message. */
const LINE_ROOM = 512;

/**
 * Gathers `HPUB` commands and hands them to a {@linkcode ProtocolWriter} in
 * one piece per {@linkcode CommandBuffer.flush}. Bytes handed over are never
 * written again (the client may hold them until its socket takes them): each
 * command goes after the last, and a full buffer is replaced, not reused.
 *
 * @example
 * ```ts ignore
 * const commands = new CommandBuffer(writer);
 * commands.hpub("douyu.9999.chatmsg", "_INBOX.x.1", bytes, headerBytes);
 * commands.flush();
 * ```
 */
export class CommandBuffer {
  readonly #writer: ProtocolWriter;
  #slab = new Uint8Array(SLAB_BYTES);
  /** Where the commands not handed over yet start. */
  #start = 0;
  #end = 0;

  /** @param writer The client's protocol writer. */
  constructor(writer: ProtocolWriter) {
    this.#writer = writer;
  }

  /**
   * Appends one publish with headers: `message` holds the header block in its
   * first `headerBytes` bytes, then the body.
   *
   * @returns False, with nothing appended, when the subject or the reply is
   *   not plain printable ASCII without spaces (the command line would not
   *   parse): the caller publishes it the checked way.
   */
  hpub(subject: string, reply: string, message: Uint8Array, headerBytes: number): boolean {
    const need = subject.length + reply.length + LINE_ROOM + message.length;
    if (this.#slab.length - this.#end < need) {
      this.flush();
      this.#slab = new Uint8Array(Math.max(SLAB_BYTES, need));
      this.#start = this.#end = 0;
    }
    const slab = this.#slab;
    let at = this.#end;
    at = putAscii(slab, at, "HPUB ");
    at = putToken(slab, at, subject);
    if (at < 0) return false;
    slab[at++] = 32;
    at = putToken(slab, at, reply);
    if (at < 0) return false;
    at = putAscii(slab, at, ` ${headerBytes} ${message.length}\r\n`);
    slab.set(message, at);
    at += message.length;
    slab[at++] = 13;
    slab[at++] = 10;
    this.#end = at;
    return true;
  }

  /** Hands the commands gathered since the last flush to the writer. */
  flush(): void {
    if (this.#end === this.#start) return;
    this.#writer.sendCommand(this.#slab.subarray(this.#start, this.#end));
    this.#start = this.#end;
  }
}

/** Writes ASCII `text` at `at`; returns the end. */
function putAscii(slab: Uint8Array, at: number, text: string): number {
  for (let i = 0; i < text.length; i++) slab[at++] = text.charCodeAt(i);
  return at;
}

/** Writes a subject at `at`, or returns -1 if it holds anything but printable ASCII. */
function putToken(slab: Uint8Array, at: number, token: string): number {
  if (token.length === 0) return -1;
  for (let i = 0; i < token.length; i++) {
    const code = token.charCodeAt(i);
    if (code <= 32 || code >= 127) return -1;
    slab[at++] = code;
  }
  return at;
}
