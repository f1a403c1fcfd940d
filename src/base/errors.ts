/**
 * Typed errors raised by `@x/douyu`. Every error extends {@linkcode DouyuError},
 * so one `instanceof` check separates this library's failures from bugs.
 *
 * @module
 */

/**
 * Base class of every error this library throws.
 *
 * @example Telling library errors apart
 * ```ts
 * import { DouyuError, ProtocolError } from "@x/douyu";
 *
 * const err: unknown = new ProtocolError("bad length");
 * console.log(err instanceof DouyuError); // true
 * ```
 */
export class DouyuError extends Error {
  /**
   * Creates an error.
   *
   * @param message What went wrong, in one line.
   * @param options `cause`: the underlying error, if any.
   */
  constructor(message: string, options?: ErrorOptions) {
    super(message, options);
    this.name = new.target.name;
  }
}

/**
 * The byte stream broke the framing rules: a length below 9, above the
 * configured maximum, or two length fields that disagree. A byte stream cannot
 * be resynchronised after this, so the connection that produced it must end.
 *
 * @example
 * ```ts
 * import { FrameDecoder, ProtocolError } from "@x/douyu";
 *
 * try {
 *   new FrameDecoder().push(new Uint8Array([1, 0, 0, 0, 2, 0, 0, 0, 0, 0, 0, 0]));
 * } catch (err) {
 *   console.log(err instanceof ProtocolError); // true
 * }
 * ```
 */
export class ProtocolError extends DouyuError {}

/**
 * No endpoint could be reached or logged in to. `attempts` lists every
 * endpoint tried, in order, with the reason it failed.
 *
 * @example
 * ```ts
 * import { ConnectionError } from "@x/douyu";
 *
 * const err = new ConnectionError([{ url: "tcp://127.0.0.1:1", error: new Error("refused") }]);
 * console.log(err.message); // "could not connect: tcp://127.0.0.1:1 (refused)"
 * ```
 */
export class ConnectionError extends DouyuError {
  /** Every endpoint tried, in order, and why it failed. */
  readonly attempts: readonly ConnectionAttempt[];

  /**
   * Creates the error from the failed attempts.
   *
   * @param attempts The endpoints tried and their failures.
   * @param options `cause`: defaults to the last attempt's error.
   */
  constructor(attempts: readonly ConnectionAttempt[], options?: ErrorOptions) {
    const tried = attempts.map((a) => `${a.url} (${errorText(a.error)})`).join(", ");
    super(`could not connect: ${tried || "no endpoint configured"}`, {
      cause: options?.cause ?? attempts.at(-1)?.error,
    });
    this.attempts = attempts;
  }
}

/** One failed connection attempt, as listed by {@linkcode ConnectionError}. */
export interface ConnectionAttempt {
  /** The endpoint, e.g. `tcp://danmuproxy.douyu.com:8601`. */
  url: string;
  /** Why it failed. */
  error: unknown;
}

/**
 * A TLS handshake failed. Douyu's `wss://` endpoints offer only a cipher suite
 * that rustls (Deno) and modern OpenSSL defaults reject; prefer `tcp://` there.
 *
 * @example
 * ```ts
 * import { TlsError } from "@x/douyu";
 *
 * const err = new TlsError("wss://danmuproxy.douyu.com:8501", new Error("handshake failure"));
 * console.log(err.message);
 * ```
 */
export class TlsError extends DouyuError {
  /** The endpoint whose handshake failed. */
  readonly url: string;

  /**
   * Creates the error for one endpoint.
   *
   * @param url The endpoint.
   * @param cause The runtime's TLS error.
   */
  constructor(url: string, cause: unknown) {
    super(
      `TLS handshake with ${url} failed (${
        errorText(cause)
      }); Douyu's wss endpoints use a cipher many TLS stacks reject, try tcp:// instead`,
      { cause },
    );
    this.url = url;
  }
}

/**
 * Something did not happen in time: a connection, a login, or data from the
 * server (idle timeout).
 *
 * @example
 * ```ts
 * import { TimeoutError } from "@x/douyu";
 *
 * console.log(new TimeoutError("no loginres within 10000 ms").name); // "TimeoutError"
 * ```
 */
export class TimeoutError extends DouyuError {}

/**
 * The session or connection was closed, by the user or the server.
 *
 * @example
 * ```ts
 * import { ClosedError } from "@x/douyu";
 *
 * console.log(new ClosedError("session closed").message);
 * ```
 */
export class ClosedError extends DouyuError {}

/** One-line text of any thrown value, for messages. */
export function errorText(error: unknown): string {
  if (error instanceof Error) return error.message || error.name;
  return String(error);
}
