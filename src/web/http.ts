/**
 * What the HTTP lookups in `web/` share: one call's time limit and
 * cancellation, per-request shares of that time, bounded body reads, and the
 * small schema helpers that turn hostile JSON into typed values. Internal to
 * the library; web-standard APIs only (`fetch`, `AbortSignal`, `TextDecoder`).
 *
 * @module
 */

import { nonNegative, positive } from "../base/checks.ts";
import { DouyuError, errorText, TimeoutError } from "../base/errors.ts";
import { sanitizeForTerminal } from "../base/sanitize.ts";
import { MAX_TIMEOUT, setTimer } from "../base/timers.ts";

/**
 * The subset of `fetch` this library calls. `globalThis.fetch` fits; an
 * injected one must honour `init.signal`, because timeouts and cancellation
 * are delivered only through it, and should honour `init.redirect`
 * (`"manual"`): the library follows redirects itself, only within the site
 * asked, or among Douyu's own sites.
 *
 * @example A fetch that answers from memory
 * ```ts
 * import { type FetchLike, resolveRoom } from "@x/douyu";
 *
 * const fake: FetchLike = async () => Response.json({ room: { room_id: 9999 } });
 * console.log(await resolveRoom("yyf", { fetch: fake })); // 9999
 * ```
 */
export type FetchLike = (url: string, init: RequestInit) => Promise<Response>;

/** The options every HTTP call takes. */
export interface CallOptions {
  fetch?: FetchLike | undefined;
  signal?: AbortSignal | undefined;
  timeout?: number | undefined;
  maxBytes?: number | undefined;
  userAgent?: string | undefined;
}

/** A desktop browser's agent: Douyu's web front ends are built for browsers. */
export const DESKTOP_UA =
  "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/126.0.0.0 Safari/537.36";
/** A mobile browser's agent, for the mobile site (a desktop one risks a redirect). */
export const MOBILE_UA =
  "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";
/** The page Douyu's own scripts send as `Referer`. */
export const DOUYU_REFERER = "https://www.douyu.com/";

/** The state of one call, shared by its requests. */
export interface Call {
  /** Aborted when the call times out, is aborted by the user, or ends. */
  readonly signal: AbortSignal;
  readonly maxBytes: number;
  readonly userAgent: string | undefined;
  fetch: FetchLike;
  /**
   * Runs one request with `share` (0 to 1) of the time the call has left.
   * Running out of that share is an ordinary failure of this request
   * (`no answer within N ms`), so the caller can try a fallback with the rest;
   * a share of 1 (or no call timeout) adds no timer of its own.
   */
  attempt<T>(share: number, run: (signal: AbortSignal) => Promise<T>): Promise<T>;
  /** Throws the user's abort reason or a TimeoutError if the whole call was stopped. */
  rethrowIfStopped(error: unknown): void;
  /** Releases what the call holds: pending requests and timers. */
  done(): void;
}

/**
 * Starts a call. `what` names it in a timeout message ("looking up room
 * \"yyf\"" → "looking up room \"yyf\" timed out after 10000 ms").
 *
 * @throws {RangeError} `timeout` is not positive or `maxBytes` is negative.
 */
export function startCall(options: CallOptions, what: string, defaults: {
  timeout: number;
  maxBytes: number;
}): Call {
  const timeout = positive(options.timeout ?? defaults.timeout, "timeout", { infinite: true });
  const maxBytes = nonNegative(options.maxBytes ?? defaults.maxBytes, "maxBytes", {
    infinite: true,
  });
  const fetchFn = options.fetch ?? globalThis.fetch;
  const user = options.signal;
  // Ours, aborted when the call ends, so nothing an injected fetch left
  // running outlives the call, and per-request timers are cleared.
  const own = new AbortController();
  const signals = [own.signal];
  if (user) signals.push(user);
  // AbortSignal.timeout rather than setTimeout: its timer does not keep the
  // process alive, and there is nothing to clear on every exit path.
  const limited = Number.isFinite(timeout);
  // A longer timer fires at once (the runtimes keep 32 bits): past about 24.8 days, no limit.
  const timer = limited
    ? AbortSignal.timeout(Math.min(Math.ceil(timeout), MAX_TIMEOUT))
    : undefined;
  if (timer) signals.push(timer);
  const signal = AbortSignal.any(signals);
  const deadline = performance.now() + timeout;
  return {
    // A plain call: invoking `options.fetch(...)` would bind `this` to the
    // options object, which browsers' fetch rejects ("Illegal invocation").
    fetch: (url, init) => fetchFn(url, init),
    signal,
    maxBytes,
    userAgent: options.userAgent,
    async attempt(share, run) {
      if (!limited || share >= 1) return await run(signal);
      const ms = Math.max(1, Math.floor((deadline - performance.now()) * share));
      const expired = new AbortController();
      const reason = new Error(`no answer within ${ms} ms`);
      const cancel = setTimer(ms, () => expired.abort(reason), own.signal);
      try {
        return await run(AbortSignal.any([signal, expired.signal]));
      } catch (error) {
        // The whole call's stop wins: rethrowIfStopped reports it.
        if (expired.signal.aborted && !signal.aborted) throw reason;
        throw error;
      } finally {
        cancel();
      }
    },
    rethrowIfStopped(error) {
      // The user's abort wins over our timeout: they asked to stop.
      if (user?.aborted) throw user.reason;
      if (timer?.aborted) {
        throw new TimeoutError(`${what} timed out after ${timeout} ms`, { cause: error });
      }
    },
    done() {
      own.abort();
    },
  };
}

/** Headers of one request; `ua: ""` sends no User-Agent of our own. */
export interface RequestHeaders {
  accept: string;
  ua: string;
  referer?: string;
}

/** GETs `url` and returns its body as text, at most `call.maxBytes` of it. */
export async function getText(
  call: Call,
  signal: AbortSignal,
  url: string,
  headers: RequestHeaders,
): Promise<string> {
  const sent: Record<string, string> = { accept: headers.accept };
  if (headers.ua !== "") sent["user-agent"] = headers.ua;
  if (headers.referer !== undefined) sent.referer = headers.referer;
  // Redirects are followed here, hop by hop, never by fetch: each hop then goes
  // through `call.fetch`, so `onlyAt`'s bases hold for it, and none may lead
  // off to another site (`redirectTarget`).
  let asked = url;
  for (let hops = 0;; hops++) {
    const response = await call.fetch(asked, { signal, headers: sent, redirect: "manual" });
    if (response.type === "opaqueredirect") {
      // A browser's fetch hides where a manual redirect leads.
      throw new Error("redirected, to a place this runtime does not show");
    }
    if (REDIRECTS.has(response.status)) {
      const location = response.headers.get("location");
      await discard(response);
      if (hops === MAX_REDIRECTS) throw new Error(`more than ${MAX_REDIRECTS} redirects`);
      asked = redirectTarget(asked, location, response.status);
      continue;
    }
    if (!response.ok) {
      await discard(response);
      throw new Error(`HTTP ${response.status}`);
    }
    return await readText(response, call.maxBytes, signal);
  }
}

/** Redirects a lookup follows, as many as a browser would for one page's worth of hops. */
const MAX_REDIRECTS = 5;
const REDIRECTS = new Set([301, 302, 303, 307, 308]);

/** Douyu's own sites: `douyu.com` and its subdomains. */
const DOUYU_HOST = /(^|\.)douyu\.com$/;

/**
 * Where a redirect from `from` may lead: the same origin, or from one of
 * Douyu's sites to another over HTTPS on its usual port (`www.douyu.com` → `m.douyu.com`).
 * Anything else is refused: a lookup's answer must come from where it was
 * asked, and a hostile or hijacked base must not send us elsewhere.
 */
export function redirectTarget(from: string, location: string | null, status: number): string {
  if (location === null || location.length > MAX_URL_LENGTH) {
    throw new Error(`HTTP ${status} without a usable Location`);
  }
  const source = new URL(from);
  let target: URL;
  try {
    target = new URL(location, source);
  } catch {
    throw new Error(`HTTP ${status} to a Location that is not a URL`);
  }
  const sameOrigin = target.origin === source.origin;
  const withinDouyu = target.protocol === "https:" && target.port === "" &&
    DOUYU_HOST.test(target.hostname) && DOUYU_HOST.test(source.hostname);
  if (!sameOrigin && !withinDouyu) {
    throw new Error(
      `redirected to ${sanitizeForTerminal(target.origin)}: not followed, another site`,
    );
  }
  return target.href;
}

/** Reads a body as UTF-8, at most `maxBytes` of it, cancelling the stream on any failure. */
export async function readText(
  response: Response,
  maxBytes: number,
  signal: AbortSignal,
): Promise<string> {
  const declared = Number(response.headers.get("content-length") ?? NaN);
  if (declared > maxBytes) {
    await discard(response);
    throw new Error(`response of ${declared} bytes exceeds maxBytes (${maxBytes})`);
  }
  const body = response.body;
  if (body === null) return "";
  const reader = body.getReader();
  // Runtimes tie the body to the fetch signal, but an injected fetch may not:
  // cancelling here ends a pending read() either way.
  const onAbort = () => void reader.cancel(signal.reason).catch(ignore);
  signal.addEventListener("abort", onAbort, { once: true });
  const decoder = new TextDecoder();
  let text = "";
  let total = 0;
  try {
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      total += value.byteLength;
      if (total > maxBytes) throw new Error(`response exceeds maxBytes (${maxBytes})`);
      text += decoder.decode(value, { stream: true });
    }
    signal.throwIfAborted();
    return text + decoder.decode();
  } catch (error) {
    await reader.cancel().catch(ignore);
    throw error;
  } finally {
    signal.removeEventListener("abort", onAbort);
  }
}

/** Releases a body we will not read: an unread body holds its connection open. */
async function discard(response: Response): Promise<void> {
  await response.body?.cancel().catch(ignore);
}

function ignore(): void {}

/** `JSON.parse`, with our own message: the parser's quotes a slice of the (untrusted) body. */
export function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch (error) {
    throw new Error("response is not JSON", { cause: error });
  }
}

/** A non-negative safe integer from a number or a string of 1 to 16 digits. */
export function toInt(value: unknown): number | undefined {
  const n = typeof value === "number"
    ? value
    : typeof value === "string" && /^\d{1,16}$/.test(value)
    ? Number(value)
    : NaN;
  return Number.isSafeInteger(n) && n >= 0 ? n : undefined;
}

/** A room id from a number or numeric string, or `undefined` if it is not a positive integer. */
export function toRoomId(value: unknown): number | undefined {
  const n = toInt(value);
  return n !== undefined && n > 0 ? n : undefined;
}

/** A string no longer than `max` characters, or `undefined`. */
export function toText(value: unknown, max = 1000): string | undefined {
  return typeof value === "string" && value.length <= max ? value : undefined;
}

/** Longest URL accepted from a response. */
const MAX_URL_LENGTH = 2048;

/**
 * An absolute `http(s)` URL, or `undefined`: a URL from a response may end up
 * in an `<img src>`, where a `javascript:` or `data:` URL must never land.
 */
export function toHttpUrl(value: unknown): string | undefined {
  if (typeof value !== "string" || value.length > MAX_URL_LENGTH) return undefined;
  if (!/^https?:\/\//i.test(value)) return undefined;
  try {
    const url = new URL(value);
    return url.protocol === "https:" || url.protocol === "http:" ? url.href : undefined;
  } catch {
    return undefined;
  }
}

/**
 * A `fetch` that asks only URLs under one of `bases` (with `fetch`, or the
 * runtime's looked up at call time), and refuses any other with a
 * `DouyuError` that says `why`: when the barrage comes from endpoints of
 * your own, Douyu's web APIs are asked only where you said.
 *
 * @param why Ends the refusal: `"<origin> not asked: <why>"`.
 */
export function onlyAt(
  bases: readonly (string | undefined)[],
  fetch: FetchLike | undefined,
  why: string,
): FetchLike {
  const allowed = bases.filter((base) => base !== undefined).map(trimSlash);
  return (url, init) => {
    const under = allowed.some((base) =>
      url === base || (url.startsWith(base) && /^[/?#]/.test(url.slice(base.length)))
    );
    if (under) return (fetch ?? globalThis.fetch)(url, init);
    return Promise.reject(new DouyuError(`${new URL(url).origin} not asked: ${why}`));
  };
}

export function trimSlash(base: string): string {
  return base.replace(/\/+$/, "");
}

// Control characters JSON.stringify leaves alone but a terminal would act on.
const UNSAFE_IN_QUOTE = /[\u007f-\u009f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

/** The input, quoted and escaped for a one-line message, cut to 40 characters. */
export function quote(input: string | number): string {
  const text = String(input);
  const short = text.length > 40 ? `${text.slice(0, 40)}...` : text;
  return JSON.stringify(short).replace(
    UNSAFE_IN_QUOTE,
    (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, "0")}`,
  );
}

/** An error's text, safe for a one-line message. */
export function oneLine(error: unknown): string {
  return sanitizeForTerminal(errorText(error));
}
