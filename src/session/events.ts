/**
 * What a session reports besides messages (status events, why it closed),
 * and the two seams messages pass through: handlers, and the sink a session
 * hands them to (its own queue, or a hub's).
 *
 * @module
 */

/** Why a session ended. */
export interface CloseInfo {
  /** `closed` by `close()`/`break`, `aborted` by the signal, `error` when reconnecting gave up. */
  reason: "closed" | "aborted" | "error";
  /** The last error, for `error` (and `aborted`: the signal's reason). */
  error?: unknown;
}

/** What `status()` reports. */
export type StatusEvent =
  | { type: "connecting"; url: string; attempt: number }
  | { type: "connected"; url: string }
  | { type: "disconnected"; url: string; error: unknown }
  | { type: "reconnecting"; attempt: number; delay: number }
  | { type: "heartbeat"; url: string; rtt: number }
  | { type: "dropped"; count: number; total: number }
  | { type: "error"; error: unknown }
  | { type: "closed"; info: CloseInfo };

/** A handler for {@linkcode Session.on}. */
export type MessageHandler<M> = (message: M) => void | Promise<void>;

/**
 * Where a session hands its messages: its own bounded queue, or (for a
 * {@linkcode Hub}-style owner) a shared one. `full` tells a `"pause"`
 * session to stop reading until `waitForSpace` resolves.
 */
export interface MessageSink<M> {
  /** Hands over one message; returns how many queued messages were dropped to make room. */
  push(message: M): number;
  /** Whether a `"pause"` producer should wait before reading more. */
  readonly full: boolean;
  /** Resolves once there is room again (or `signal` aborts). */
  waitForSpace(signal: AbortSignal): Promise<void>;
}
