/**
 * The overlay server: one `node:http` server (Deno, Bun and Node) that
 * serves the overlay page, its stylesheet and script, and the event stream
 * (Server-Sent Events), all from one origin. Messages go in through
 * {@linkcode OverlayServer.publish}; each page connection gets them
 * normalised ({@linkcode EventNormalizer}) and filtered by its own
 * parameters, with the same `createFilter` as the command line.
 *
 * @module
 */

import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo } from "node:net";
import { nonNegative, positive } from "../base/checks.ts";
import { errorText } from "../base/errors.ts";
import { setRepeating } from "../base/timers.ts";
import { createFilter, type MessageFilter } from "../output/filters.ts";
import type { Message } from "../protocol/messages.ts";
import type { GiftCatalog } from "../protocol/gifts.ts";
import { type ConnectionCounts, watchConnections } from "./connections.ts";
import { EventNormalizer, type RoomStatus, type StatusEvent } from "./events.ts";
import { checkRequest, fromOtherSite, type GuardOptions } from "../base/guard.ts";
import { OVERLAY_HTML } from "./page.ts";
import { OVERLAY_JS } from "./page_script.ts";
import { OVERLAY_CSS } from "./page_style.ts";
import { readStreamParams, type StreamSettings } from "./params.ts";
import type { StartingTotals } from "./ledger.ts";
import { ChatStream, EventHistory, type HistoryEntry, StreamSet } from "./streams.ts";
import { TotalsHub } from "./totals.ts";
import { widgetHtml, WIDGETS_CSS, WIDGETS_JS } from "./widget_page.ts";

/**
 * Options of {@linkcode OverlayServer.start}.
 *
 * @example
 * ```ts
 * import type { OverlayServerOptions } from "./server.ts";
 *
 * const options: OverlayServerOptions = { port: 0, defaults: { rules: { noBots: true }, enter: false, fold: true } };
 * console.log(options.defaults?.fold); // true
 * ```
 */
export interface OverlayServerOptions {
  /** Address to listen on. Default `127.0.0.1`. */
  host?: string;
  /** Port. Default 0: one the system picks. */
  port?: number;
  /** Filter settings every page starts from; its parameters change them. Default: show all but entries. */
  defaults?: StreamSettings;
  /** Events kept for pages that reconnect (and for a new page's backlog). Default 1000. */
  history?: number;
  /** Recent lines a page that connects afresh receives first. Default 50. */
  backlog?: number;
  /** Milliseconds between keep-alive comments on idle streams. Default 15 000. */
  keepAlive?: number;
  /**
   * Origins besides Douyu's image hosts that gift icons may be loaded from
   * (a stand-in gift API's, say). Default none.
   */
  imageOrigins?: readonly string[];
  /**
   * Where avatars are loaded from: the avatar path is appended, then
   * `_small.jpg`. Default Douyu's image host, `https://apic.douyucdn.cn/upload/`.
   */
  avatarBase?: string;
  /** Most event streams open at once; more are answered 503. Default 100. */
  maxStreams?: number;
  /**
   * Most bytes all streams' socket buffers may hold; past it, the stream
   * with the most waiting is cut (it reconnects and resumes). Default 8 MiB.
   */
  maxQueuedBytes?: number;
  /** Most connections open at once; a new one closes the longest idle. Default 512. */
  maxConnections?: number;
  /** Milliseconds a connection has to send a request's head. Default 10 000. */
  headerTimeout?: number;
  /** Milliseconds a kept-alive connection may wait for its next request. Default 5 000. */
  idleTimeout?: number;
  /**
   * Origins whose pages may read the server across origins (they get CORS
   * headers); `*` for all. Default none: only the overlay's own pages.
   */
  allowOrigins?: readonly string[];
  /**
   * Host names the server answers for besides loopback names and `host`
   * (say the machine's name on the LAN). Default none.
   */
  allowHosts?: readonly string[];
  /**
   * Where the `/leaderboard` and `/goal` widgets get the totals from before
   * the overlay started (the archive's). Default none: they count from the
   * overlay's start.
   */
  startingTotals?: StartingTotals;
}

const DEFAULT_SETTINGS: StreamSettings = { rules: {}, enter: false, fold: false };

/** Characters written to a stream at a time, and the socket buffer it may fill before waiting. */
const PIECE = 16 * 1024;
/** Super chats kept for new pages while pinned; more and the first to end goes. */
const MAX_PINS = 20;

/**
 * Security headers of the pages: nothing runs but our own script. A page
 * another site's page opened (`Sec-Fetch-Site: cross-site` or `same-site`:
 * a link, or a hostile page sending the browser there) loads no stylesheet
 * or font from elsewhere: a `css=` stylesheet of that site's choosing could
 * read the page with attribute selectors (`[data-room^="1"]`) and tell its
 * server through `url()`.
 */
function pageHeaders(
  frameAncestors: readonly string[],
  fromOtherSite = false,
): Record<string, string> {
  const elsewhere = fromOtherSite ? "" : " http: https:";
  return {
    "content-security-policy": [
      "default-src 'none'",
      "script-src 'self'",
      // Inline styles: OBS injects a browser source's "Custom CSS" as a <style>.
      `style-src 'self' 'unsafe-inline'${elsewhere}`,
      "img-src http: https: data:",
      `font-src${elsewhere} data:`,
      "connect-src 'self'",
      "base-uri 'none'",
      "form-action 'none'",
      `frame-ancestors ${["'self'", ...frameAncestors].join(" ")}`,
    ].join("; "),
    "x-content-type-options": "nosniff",
    "referrer-policy": "no-referrer",
    "cache-control": "no-cache",
  };
}

const ASSETS: ReadonlyMap<string, { type: string; body: string }> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: OVERLAY_HTML }],
  ["/index.html", { type: "text/html; charset=utf-8", body: OVERLAY_HTML }],
  ["/overlay.css", { type: "text/css; charset=utf-8", body: OVERLAY_CSS }],
  ["/overlay.js", { type: "text/javascript; charset=utf-8", body: OVERLAY_JS }],
  ["/leaderboard", { type: "text/html; charset=utf-8", body: widgetHtml("leaderboard") }],
  ["/goal", { type: "text/html; charset=utf-8", body: widgetHtml("goal") }],
  ["/widgets.css", { type: "text/css; charset=utf-8", body: WIDGETS_CSS }],
  ["/widgets.js", { type: "text/javascript; charset=utf-8", body: WIDGETS_JS }],
]);

/**
 * Serves the overlay page and its event stream. Start it, feed it messages
 * with {@linkcode OverlayServer.publish} and room states with
 * {@linkcode OverlayServer.setRoom}, and point a browser (an OBS browser
 * source) at {@linkcode OverlayServer.url}.
 *
 * The stream (`GET /events`) is Server-Sent Events: each line event is one
 * `message` whose `data` is the JSON event and whose SSE `id` is its position
 * in this process's stream (`<boot>.<sequence>`); a page that reconnects with
 * `Last-Event-ID` (or `?lastEventId=`) resumes after it, and one that comes
 * afresh (or from another process) gets the last `backlog` lines first.
 *
 * @example
 * ```ts
 * import { OverlayServer } from "./server.ts";
 * import { parseMessage } from "../protocol/messages.ts";
 *
 * await using server = await OverlayServer.start();
 * server.publish(9999, parseMessage("type@=chatmsg/cid@=c1/nn@=Ann/txt@=hi/"));
 * const controller = new AbortController();
 * const response = await fetch(`${server.url}events`, { signal: controller.signal });
 * const reader = response.body!.pipeThrough(new TextDecoderStream()).getReader();
 * let text = "";
 * while (!text.includes('"text":"hi"')) text += (await reader.read()).value;
 * controller.abort();
 * await reader.cancel().catch(() => {});
 * console.log(text.includes('"type":"chat"')); // true
 * ```
 */
export class OverlayServer implements AsyncDisposable {
  readonly #server: Server;
  readonly #normalizer: EventNormalizer;
  readonly #defaults: StreamSettings;
  readonly #backlog: number;
  readonly #maxStreams: number;
  readonly #guard: GuardOptions;
  readonly #headers: Record<string, string>;
  /** The same for a page another site's page opened (see `pageHeaders`). */
  readonly #otherSiteHeaders: Record<string, string>;
  readonly #history: EventHistory;
  readonly #streams: StreamSet;
  readonly #totals: TotalsHub;
  readonly #chats = new Set<ChatStream>();
  readonly #pins: HistoryEntry[] = [];
  readonly #rooms = new Map<number, RoomStatus>();
  readonly #lifetime = new AbortController();
  readonly #connections: ConnectionCounts;
  #url = "";
  #closing: Promise<void> | undefined;

  private constructor(options: OverlayServerOptions) {
    this.#normalizer = new EventNormalizer(Date.now(), {
      imageOrigins: options.imageOrigins ?? [],
      ...(options.avatarBase !== undefined ? { avatarBase: options.avatarBase } : {}),
    });
    this.#defaults = options.defaults ?? DEFAULT_SETTINGS;
    const history = positive(options.history ?? 1000, "history");
    this.#history = new EventHistory(history);
    this.#backlog = Math.min(history, nonNegative(options.backlog ?? 50, "backlog"));
    this.#maxStreams = positive(options.maxStreams ?? 100, "maxStreams");
    this.#guard = {
      listenHost: options.host ?? "127.0.0.1",
      allowHosts: options.allowHosts ?? [],
      allowOrigins: options.allowOrigins ?? [],
    };
    const frameAncestors = (options.allowOrigins ?? []).filter((o) => o !== "null");
    this.#headers = pageHeaders(frameAncestors);
    this.#otherSiteHeaders = pageHeaders(frameAncestors, true);
    const signal = this.#lifetime.signal;
    this.#streams = new StreamSet({
      piece: PIECE,
      maxQueued: positive(options.maxQueuedBytes ?? 8 * 1024 * 1024, "maxQueuedBytes"),
      signal,
    });
    this.#totals = new TotalsHub({
      streams: this.#streams,
      signal,
      ...(options.startingTotals ? { starting: options.startingTotals } : {}),
    });
    this.#server = createServer((req, res) => this.#handle(req, res));
    this.#connections = watchConnections(this.#server, {
      headerTimeout: positive(options.headerTimeout ?? 10_000, "headerTimeout"),
      idleTimeout: positive(options.idleTimeout ?? 5_000, "idleTimeout"),
      maxConnections: positive(options.maxConnections ?? 512, "maxConnections"),
    }, signal);
    const keepAlive = positive(options.keepAlive ?? 15_000, "keepAlive");
    setRepeating(keepAlive, () => {
      for (const stream of this.#streams) stream.keepAlive();
      this.#streams.wake();
    }, signal);
  }

  /**
   * Starts listening.
   *
   * @param options Where to listen, the default filters, history sizes, limits.
   * @returns The running server.
   * @throws The listen error (e.g. `EADDRINUSE`) when the port cannot be had.
   */
  static async start(options: OverlayServerOptions = {}): Promise<OverlayServer> {
    const overlay = new OverlayServer(options);
    try {
      await overlay.#listen(options.host ?? "127.0.0.1", options.port ?? 0);
    } catch (error) {
      overlay.#lifetime.abort();
      throw error;
    }
    return overlay;
  }

  async #listen(host: string, port: number): Promise<void> {
    const server = this.#server;
    await new Promise<void>((resolve, reject) => {
      const onError = (error: Error) => reject(error);
      server.once("error", onError);
      server.listen(port, host, () => {
        server.off("error", onError);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === "IPv6" || address.address.includes(":")
      ? `[${address.address}]`
      : address.address;
    this.#url = `http://${shown}:${address.port}/`;
  }

  /** The page's URL, e.g. `http://127.0.0.1:8787/`. */
  get url(): string {
    return this.#url;
  }

  /** How many pages are connected to the chat event stream. */
  get pages(): number {
    return this.#chats.size;
  }

  /** How many widgets (`/leaderboard`, `/goal`) are connected to their stream. */
  get widgets(): number {
    return this.#totals.size;
  }

  /**
   * Counters: open streams and connections, bytes waiting in sockets'
   * buffers, streams cut, and connections closed by the limits (refused past
   * `maxConnections`, idle ones evicted for a new one, timed out).
   */
  get stats(): {
    streams: number;
    connections: number;
    queuedBytes: number;
    cut: number;
    refused: number;
    evicted: number;
    timedOut: number;
  } {
    const connections = this.#connections;
    return {
      streams: this.#streams.size,
      connections: connections.open,
      queuedBytes: this.#streams.queued,
      cut: this.#streams.cutForMemory,
      refused: connections.refused,
      evicted: connections.evicted,
      timedOut: connections.timedOut,
    };
  }

  /**
   * Hands a message of `room` to every connected page (those whose filters
   * keep it). Messages the overlay does not show are ignored; `rss` also
   * updates the room's live state on the status line.
   *
   * @param room The room it came from.
   * @param message The message.
   * @param catalog The room's gift catalogue, for gift names and values.
   * @param time When it arrived, ms since the epoch. Default now.
   */
  publish(room: number, message: Message, catalog?: GiftCatalog, time: number = Date.now()): void {
    if (this.#closing !== undefined) return;
    const event = this.#normalizer.normalize(room, message, time, catalog);
    if (event === undefined) return;
    if (event.type === "live") this.setRoom(room, { state: event.state });
    this.#totals.record(event);
    const entry = this.#history.push({ message, event, catalog });
    if (event.type === "superchat") this.#pin(entry);
    for (const chat of this.#chats) {
      // Fell out of the history: cut now, rather than hold its place.
      if (chat.behind) chat.cut();
    }
    this.#streams.wake();
  }

  /** Keeps a super chat for pages that connect while it is pinned. */
  #pin(entry: HistoryEntry): void {
    this.#prunePins(entry.event.time);
    this.#pins.push(entry);
    if (this.#pins.length > MAX_PINS) {
      let first = 0;
      for (let i = 1; i < this.#pins.length; i++) {
        if (pinEnd(this.#pins[i]!) < pinEnd(this.#pins[first]!)) first = i;
      }
      this.#pins.splice(first, 1);
    }
  }

  #prunePins(now: number): void {
    for (let i = this.#pins.length - 1; i >= 0; i--) {
      if (pinEnd(this.#pins[i]!) <= now) this.#pins.splice(i, 1);
    }
  }

  /**
   * Updates what the status line knows of a room (connected, live state,
   * error) and tells every page if anything changed.
   *
   * @param room The room.
   * @param update The fields that changed; `error: undefined` clears the error.
   */
  setRoom(room: number, update: Partial<Omit<RoomStatus, "room">>): void {
    const before = this.#rooms.get(room) ?? { room, connected: false };
    const after: RoomStatus = { ...before, ...update, room };
    if (after.error === undefined) delete after.error;
    if (after.state === undefined) delete after.state;
    if (JSON.stringify(before) === JSON.stringify(after) && this.#rooms.has(room)) return;
    this.#rooms.set(room, after);
    for (const chat of this.#chats) chat.statusChanged();
    this.#streams.wake();
  }

  /** The rooms' status, as pages receive it. */
  get rooms(): RoomStatus[] {
    return [...this.#rooms.values()];
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    const verdict = checkRequest(req.headers, this.#guard);
    if (!verdict.ok) {
      refuse(res, verdict.status, verdict.reason);
      return;
    }
    const cors: Record<string, string> = verdict.corsOrigin === undefined
      ? {}
      : { "access-control-allow-origin": verdict.corsOrigin, vary: "Origin" };
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://overlay.invalid");
    } catch {
      // A target such as `//` is no URL; thrown here it would end the process.
      refuse(res, 400, "bad request");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, {
        allow: "GET, HEAD",
        "content-type": "text/plain; charset=utf-8",
        connection: "close",
      });
      res.end("method not allowed\n");
      return;
    }
    if (url.pathname === "/events") {
      this.#openChat(req, res, url, cors);
      return;
    }
    if (url.pathname === "/totals") {
      if (this.#startStream(req, res, cors)) this.#totals.open(res, url.searchParams);
      return;
    }
    if (url.pathname === "/favicon.ico") {
      res.writeHead(204).end();
      return;
    }
    const asset = ASSETS.get(url.pathname);
    if (asset === undefined) {
      res.writeHead(404, { "content-type": "text/plain; charset=utf-8" });
      res.end("not found: the overlay is at /\n");
      return;
    }
    const body = new TextEncoder().encode(asset.body);
    res.writeHead(200, {
      ...(fromOtherSite(req.headers) ? this.#otherSiteHeaders : this.#headers),
      ...cors,
      "content-type": asset.type,
      "content-length": String(body.byteLength),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  /** Writes an event stream's head; false (and a 503) when the server cannot take one more. */
  #startStream(req: IncomingMessage, res: ServerResponse, cors: Record<string, string>): boolean {
    if (this.#closing !== undefined || this.#streams.size >= this.#maxStreams) {
      res.writeHead(503, {
        "content-type": "text/plain; charset=utf-8",
        "retry-after": "5",
        connection: "close",
      });
      res.end(this.#closing ? "closing\n" : "too many event streams open\n");
      return false;
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      ...cors,
    });
    if (req.method === "HEAD") {
      res.end();
      return false;
    }
    req.socket.setNoDelay?.(true);
    res.write("retry: 1000\n\n");
    return true;
  }

  #openChat(req: IncomingMessage, res: ServerResponse, url: URL, cors: Record<string, string>) {
    const { settings, problems } = readStreamParams(url.searchParams, this.#defaults);
    let filter: MessageFilter;
    try {
      filter = createFilter(settings.rules);
    } catch (error) {
      // Only the command's own defaults can be wrong here; the parameters were checked.
      problems.push(errorText(error));
      filter = createFilter({});
    }
    if (!this.#startStream(req, res, cors)) return;
    const history = this.#history;
    const status = (): StatusEvent => ({ type: "status", rooms: this.rooms, problems });
    const chat = new ChatStream(res, {
      filter,
      settings,
      history,
      boot: this.#normalizer.boot,
      status,
    });
    const header = req.headers["last-event-id"];
    const last = (typeof header === "string" ? header : undefined) ??
      url.searchParams.get("lastEventId") ?? "";
    const match = /^([0-9a-z]+)\.(\d+)$/.exec(last);
    const seq = match !== null && match[1] === this.#normalizer.boot ? Number(match[2]) : NaN;
    if (seq >= history.first - 1 && seq <= history.last) {
      // Still in the history: exactly what it missed.
      chat.startAt(seq + 1, []);
    } else {
      // Afresh: the last `backlog` lines this page would show, after the
      // super chats still pinned from before them.
      let start = history.last + 1;
      for (let shown = 0; shown < this.#backlog && start > history.first; start--) {
        if (chat.accepts(history.get(start - 1)!)) shown++;
      }
      this.#prunePins(Date.now());
      chat.startAt(start, this.#pins.filter((pin) => pin.seq < start && chat.accepts(pin)));
    }
    this.#chats.add(chat);
    res.once("close", () => this.#chats.delete(chat));
    this.#streams.add(chat, res);
  }

  /**
   * Ends every stream and stops the server; resolves once it has stopped.
   * Pages reconnect by themselves when a server listens again.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#lifetime.abort();
      for (const stream of this.#streams) stream.end();
      this.#chats.clear();
      const closed = new Promise<void>((resolve) => this.#server.close(() => resolve()));
      this.#server.closeAllConnections?.();
      await closed;
    })();
    return this.#closing;
  }

  /** `await using` support: {@linkcode OverlayServer.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** When a super chat's pin ends, ms since the epoch. */
function pinEnd(entry: HistoryEntry): number {
  const event = entry.event;
  return event.type === "superchat" ? event.time + event.seconds * 1000 : 0;
}

/** Answers a request that is refused, and closes its connection. */
function refuse(res: ServerResponse, status: number, reason: string): void {
  res.writeHead(status, { "content-type": "text/plain; charset=utf-8", connection: "close" });
  res.end(`${reason}\n`);
}
