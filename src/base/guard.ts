/**
 * Who may talk to a server on the user's machine (the overlay's; the mock
 * server's WebSocket): the `Host` and `Origin` policy, as pure functions of
 * a request's headers. The overlay listens on the streamer's
 * own machine and its stream names the rooms watched, so a web page the
 * streamer happens to visit must not read it: not by a cross-origin request
 * (`Origin`), not by an embedded one (`Sec-Fetch-Site`), and not by DNS
 * rebinding (a name of the attacker's that resolves to 127.0.0.1: `Host`).
 *
 * Pure code: no I/O, no runtime API.
 *
 * @module
 */

/**
 * What the server accepts besides its own origin.
 *
 * @example
 * ```ts
 * import type { GuardOptions } from "./guard.ts";
 *
 * const options: GuardOptions = { listenHost: "127.0.0.1", allowOrigins: ["https://my.dashboard.example"] };
 * console.log(options.allowOrigins?.length); // 1
 * ```
 */
export interface GuardOptions {
  /** The address the server listens on (`--host`): a `Host` naming it is accepted. */
  listenHost: string;
  /** More host names to accept in `Host` (say the machine's LAN name). Default none. */
  allowHosts?: readonly string[];
  /**
   * Origins whose pages may read the server (they get CORS headers); `*`
   * allows every origin. Default none: only the server's own pages.
   */
  allowOrigins?: readonly string[];
  /**
   * Pages served from this machine (an `Origin` on a loopback name, any
   * port) may ask too: for the mock server's WebSocket, which a page under
   * development on `localhost` connects to. Default false.
   */
  loopbackOrigins?: boolean;
}

/**
 * A request's verdict: allowed (with the CORS origin to answer, if any), or
 * refused with a status and a one-line reason.
 *
 * @example
 * ```ts
 * import type { Verdict } from "./guard.ts";
 *
 * const verdict: Verdict = { ok: false, status: 421, reason: "unknown host" };
 * console.log(verdict.ok); // false
 * ```
 */
export type Verdict =
  | {
    /** Allowed. */
    ok: true;
    /** The value of `Access-Control-Allow-Origin` to send, when the origin is allowed across origins. */
    corsOrigin?: string;
  }
  | {
    /** Refused. */
    ok: false;
    /** 400 (no `Host`), 421 (a `Host` this server does not answer for), 403 (another origin). */
    status: 400 | 403 | 421;
    /** Why, one line, for the response body. */
    reason: string;
  };

/** The request headers the guard reads (lower-case names, as `node:http` gives them). */
export interface GuardHeaders {
  /** `Host`. */
  host?: string | undefined;
  /** `Origin`. */
  origin?: string | undefined;
  /** `Sec-Fetch-Site`: `same-origin`, `same-site`, `cross-site` or `none`. */
  "sec-fetch-site"?: string | undefined;
  /** `Sec-Fetch-Mode`: `navigate` for a page opened by its URL or a link. */
  "sec-fetch-mode"?: string | undefined;
}

/**
 * Decides whether to answer a request, from its headers.
 *
 * - `Host` must be a loopback name (`localhost`, `*.localhost`, `127.x.x.x`,
 *   `[::1]`), the address the server listens on, or a name in `allowHosts`;
 *   when it listens on every address (`0.0.0.0`, `::`), any IP address too
 *   (an address cannot be rebound). Otherwise 421: a DNS-rebinding page
 *   reaches the server under a name of its own.
 * - An `Origin` must be the server's own (`http://` + `Host`) or in
 *   `allowOrigins`. Otherwise 403: another site's page is asking.
 * - Without an `Origin`, a request that the browser marks as coming from
 *   another site (`Sec-Fetch-Site: cross-site` or `same-site`, say an
 *   `<img src>` of the event stream) is refused too, unless it opens the
 *   page itself (`Sec-Fetch-Mode: navigate`): a link to the overlay still
 *   works. OBS opens the page by its URL (`none`), and the page's own
 *   requests are `same-origin`.
 *
 * @param headers The request's headers.
 * @param options The server's settings.
 * @returns The verdict.
 *
 * @example
 * ```ts
 * import { checkRequest } from "./guard.ts";
 *
 * const options = { listenHost: "127.0.0.1" };
 * console.log(checkRequest({ host: "127.0.0.1:8765" }, options).ok); // true
 * console.log(checkRequest({ host: "rebind.evil.example:8765" }, options)); // { ok: false, status: 421, reason: "..." }
 * console.log(checkRequest({ host: "localhost:8765", origin: "https://evil.example" }, options).ok); // false
 * ```
 */
export function checkRequest(headers: GuardHeaders, options: GuardOptions): Verdict {
  const host = headers.host;
  if (host === undefined || host === "") {
    return { ok: false, status: 400, reason: "no Host header" };
  }
  const name = hostName(host);
  if (name === undefined || !hostAllowed(name, options)) {
    return {
      ok: false,
      status: 421,
      reason: "this server answers only for localhost and its own address",
    };
  }
  const allowed = options.allowOrigins ?? [];
  const origin = headers.origin;
  if (origin !== undefined) {
    if (sameOrigin(origin, host)) return { ok: true };
    if (options.loopbackOrigins === true && isLoopbackOrigin(origin)) return { ok: true };
    if (allowed.includes("*")) return { ok: true, corsOrigin: "*" };
    if (allowed.includes(origin)) return { ok: true, corsOrigin: origin };
    return { ok: false, status: 403, reason: "requests from other sites' pages are refused" };
  }
  if (
    fromOtherSite(headers) && headers["sec-fetch-mode"] !== "navigate" && !allowed.includes("*")
  ) {
    return { ok: false, status: 403, reason: "requests from other sites' pages are refused" };
  }
  return { ok: true };
}

/**
 * Whether the browser marks a request as coming from another site's page
 * (`Sec-Fetch-Site: cross-site` or `same-site`).
 *
 * @example
 * ```ts
 * import { fromOtherSite } from "./guard.ts";
 *
 * console.log(fromOtherSite({ "sec-fetch-site": "cross-site" }), fromOtherSite({})); // true false
 * ```
 */
export function fromOtherSite(headers: GuardHeaders): boolean {
  const site = headers["sec-fetch-site"];
  return site === "cross-site" || site === "same-site";
}

/** The host name of a `Host` value, lower-case, without port or IPv6 brackets; undefined when malformed. */
export function hostName(host: string): string | undefined {
  const match = /^(?:\[([0-9a-fA-F:.]+)\]|([^:\[\]\s/@]+))(?::(\d{1,5}))?$/.exec(host.trim());
  if (match === null) return undefined;
  return (match[1] ?? match[2]!).toLowerCase().replace(/\.$/, "");
}

/** Addresses that mean "every interface". */
const WILDCARDS = new Set(["0.0.0.0", "::", "[::]", ""]);

function hostAllowed(name: string, options: GuardOptions): boolean {
  if (isLoopbackName(name)) return true;
  const listen = hostName(options.listenHost) ?? options.listenHost.toLowerCase();
  if (name === listen) return true;
  if (options.allowHosts?.some((allowed) => allowed.toLowerCase() === name)) return true;
  // Listening everywhere: other machines reach it by one of its addresses.
  return WILDCARDS.has(listen) && isIpAddress(name);
}

/** Whether `name` (from {@linkcode hostName}) always means this machine. */
export function isLoopbackName(name: string): boolean {
  if (name === "localhost" || name.endsWith(".localhost")) return true;
  if (name === "::1" || name === "0:0:0:0:0:0:0:1") return true;
  const v4 = /^127\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.exec(name);
  return v4 !== null && v4.slice(1).every((part) => Number(part) <= 255);
}

function isIpAddress(name: string): boolean {
  if (/^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/.test(name)) {
    return name.split(".").every((part) => Number(part) <= 255);
  }
  return name.includes(":") && /^[0-9a-f:.]+$/.test(name);
}

/** Whether `origin` is a page's on this machine: `http(s)://` and a loopback name. */
function isLoopbackOrigin(origin: string): boolean {
  const match = /^https?:\/\/(.+)$/i.exec(origin);
  const name = match === null ? undefined : hostName(match[1]!);
  return name !== undefined && isLoopbackName(name);
}

/** Whether `origin` is the origin of a page served under `host` (plain HTTP: the server has no TLS). */
function sameOrigin(origin: string, host: string): boolean {
  return origin.toLowerCase() === `http://${host.trim().toLowerCase()}`;
}
