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
import { errorText } from "../base/errors.ts";
import { setRepeating, setTimer } from "../base/timers.ts";
import { createFilter, type MessageFilter, RepeatFolder } from "../output/filters.ts";
import type { Message } from "../protocol/messages.ts";
import type { GiftCatalog } from "../protocol/gifts.ts";
import { EventNormalizer, type LineEvent, type OverlayEvent, type RoomStatus } from "./events.ts";
import { OVERLAY_CSS, OVERLAY_HTML, OVERLAY_JS } from "./page.ts";
import { readStreamParams, type StreamSettings } from "./params.ts";

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
  /**
   * Bytes that may wait for a page that does not read; past that its stream
   * is cut (the page reconnects and resumes). Default 1 MiB.
   */
  maxBuffered?: number;
  /** Milliseconds between keep-alive comments on idle streams. Default 15 000. */
  keepAlive?: number;
  /**
   * Origins besides Douyu's image hosts that gift icons may be loaded from
   * (a stand-in gift API's, say). Default none.
   */
  imageOrigins?: readonly string[];
}

/** One published message, kept for reconnecting pages. */
interface Entry {
  seq: number;
  message: Message;
  event: LineEvent;
  catalog: GiftCatalog | undefined;
}

const DEFAULT_SETTINGS: StreamSettings = { rules: {}, enter: false, fold: false };

/** Security headers of the page: nothing runs but our own script. */
const PAGE_HEADERS = {
  "content-security-policy": [
    "default-src 'none'",
    "script-src 'self'",
    // Inline styles: OBS injects a browser source's "Custom CSS" as a <style>.
    "style-src 'self' 'unsafe-inline' http: https:",
    "img-src http: https: data:",
    "font-src http: https: data:",
    "connect-src 'self'",
    "base-uri 'none'",
    "form-action 'none'",
  ].join("; "),
  "x-content-type-options": "nosniff",
  "referrer-policy": "no-referrer",
  "cache-control": "no-cache",
};

const ASSETS: ReadonlyMap<string, { type: string; body: string }> = new Map([
  ["/", { type: "text/html; charset=utf-8", body: OVERLAY_HTML }],
  ["/index.html", { type: "text/html; charset=utf-8", body: OVERLAY_HTML }],
  ["/overlay.css", { type: "text/css; charset=utf-8", body: OVERLAY_CSS }],
  ["/overlay.js", { type: "text/javascript; charset=utf-8", body: OVERLAY_JS }],
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
  readonly #history: number;
  readonly #backlog: number;
  readonly #maxBuffered: number;
  readonly #entries: Entry[] = [];
  readonly #pages = new Set<PageStream>();
  readonly #rooms = new Map<number, RoomStatus>();
  readonly #lifetime = new AbortController();
  #seq = 0;
  #url = "";
  #closing: Promise<void> | undefined;

  private constructor(options: OverlayServerOptions) {
    this.#normalizer = new EventNormalizer(Date.now(), options.imageOrigins);
    this.#defaults = options.defaults ?? DEFAULT_SETTINGS;
    this.#history = positive(options.history ?? 1000, "history");
    this.#backlog = Math.min(this.#history, nonNegative(options.backlog ?? 50, "backlog"));
    this.#maxBuffered = positive(options.maxBuffered ?? 1024 * 1024, "maxBuffered");
    this.#server = createServer((req, res) => this.#handle(req, res));
    const keepAlive = positive(options.keepAlive ?? 15_000, "keepAlive");
    setRepeating(keepAlive, () => {
      for (const page of this.#pages) page.write(": keep-alive\n\n");
    }, this.#lifetime.signal);
  }

  /**
   * Starts listening.
   *
   * @param options Where to listen, the default filters, history sizes.
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

  /** How many pages are connected to the event stream. */
  get pages(): number {
    return this.#pages.size;
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
    const entry: Entry = { seq: ++this.#seq, message, event, catalog };
    this.#entries.push(entry);
    // Trimmed in chunks, so a long-running overlay does not shift on every message.
    if (this.#entries.length > this.#history * 1.25) {
      this.#entries.splice(0, this.#entries.length - this.#history);
    }
    for (const page of this.#pages) page.deliver(entry);
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
    for (const page of this.#pages) page.sendStatus();
  }

  /** The rooms' status, as pages receive it. */
  get rooms(): RoomStatus[] {
    return [...this.#rooms.values()];
  }

  #handle(req: IncomingMessage, res: ServerResponse): void {
    let url: URL;
    try {
      url = new URL(req.url ?? "/", "http://overlay.invalid");
    } catch {
      // A target such as `//` is no URL; thrown here it would end the process
      // (any web page can send one to 127.0.0.1).
      res.writeHead(400, { "content-type": "text/plain; charset=utf-8" });
      res.end("bad request\n");
      return;
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      res.writeHead(405, { allow: "GET, HEAD", "content-type": "text/plain; charset=utf-8" });
      res.end("method not allowed\n");
      return;
    }
    if (url.pathname === "/events") {
      this.#openStream(req, res, url);
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
      ...PAGE_HEADERS,
      "content-type": asset.type,
      "content-length": String(body.byteLength),
    });
    res.end(req.method === "HEAD" ? undefined : body);
  }

  #openStream(req: IncomingMessage, res: ServerResponse, url: URL): void {
    if (this.#closing !== undefined) {
      res.writeHead(503).end();
      return;
    }
    const { settings, problems } = readStreamParams(url.searchParams, this.#defaults);
    let filter: MessageFilter;
    try {
      filter = createFilter(settings.rules);
    } catch (error) {
      // Only the command's own defaults can be wrong here; the parameters were checked.
      problems.push(errorText(error));
      filter = createFilter({});
    }
    res.writeHead(200, {
      "content-type": "text/event-stream; charset=utf-8",
      "cache-control": "no-store",
      "x-accel-buffering": "no",
      // Public chat, no credentials: pages served elsewhere may read the stream too.
      "access-control-allow-origin": "*",
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    const page = new PageStream(res, {
      filter,
      settings,
      problems,
      boot: this.#normalizer.boot,
      rooms: () => this.rooms,
      maxBuffered: this.#maxBuffered,
      signal: this.#lifetime.signal,
    });
    this.#pages.add(page);
    const forget = () => this.#pages.delete(page);
    res.once("close", forget);
    req.socket.setNoDelay?.(true);
    page.write("retry: 1000\n\n");
    page.sendStatus();
    for (const entry of this.#resumeFrom(req, url, page)) page.deliver(entry);
  }

  /** What a page that (re)connects gets first: what it missed, or a backlog. */
  #resumeFrom(req: IncomingMessage, url: URL, page: PageStream): Entry[] {
    const header = req.headers["last-event-id"];
    const last = (typeof header === "string" ? header : undefined) ??
      url.searchParams.get("lastEventId") ?? "";
    const match = /^([0-9a-z]+)\.(\d+)$/.exec(last);
    const entries = this.#entries;
    if (match !== null && match[1] === this.#normalizer.boot) {
      const seq = Number(match[2]);
      const first = entries[0]?.seq ?? this.#seq + 1;
      // Still in the history: exactly what it missed.
      if (seq >= first - 1 && seq <= this.#seq) return entries.filter((entry) => entry.seq > seq);
    }
    // Afresh: the last `backlog` lines this page would show.
    const picked: Entry[] = [];
    for (let i = entries.length - 1; i >= 0 && picked.length < this.#backlog; i--) {
      if (page.accepts(entries[i]!)) picked.push(entries[i]!);
    }
    return picked.reverse();
  }

  /**
   * Ends every stream and stops the server; resolves once it has stopped.
   * Pages reconnect by themselves when a server listens again.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      this.#lifetime.abort();
      for (const page of this.#pages) page.end();
      this.#pages.clear();
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

interface PageInit {
  filter: MessageFilter;
  settings: StreamSettings;
  problems: string[];
  boot: string;
  rooms: () => RoomStatus[];
  maxBuffered: number;
  signal: AbortSignal;
}

/** Most fold targets remembered per page (line number to event id). */
const MAX_FOLD_LINES = 2000;

/** One page's event stream: its filter, its folding, its buffer. */
class PageStream {
  readonly #res: ServerResponse;
  readonly #init: PageInit;
  readonly #folder: RepeatFolder | undefined;
  readonly #lines = new Map<number, string>();
  #pending = "";
  #flushScheduled = false;
  #ended = false;

  constructor(res: ServerResponse, init: PageInit) {
    this.#res = res;
    this.#init = init;
    this.#folder = init.settings.fold ? new RepeatFolder() : undefined;
  }

  /** Whether this page shows the entry (before folding). */
  accepts(entry: Entry): boolean {
    if (entry.event.type === "enter" && !this.#init.settings.enter) return false;
    return this.#init.filter(entry.message, entry.catalog).keep;
  }

  deliver(entry: Entry): void {
    if (this.#ended || !this.accepts(entry)) return;
    let event: OverlayEvent = entry.event;
    if (event.type === "chat" && this.#folder !== undefined) {
      const fold = this.#folder.fold(event.text, event.time);
      const target = fold.repeat ? this.#lines.get(fold.line) : undefined;
      if (target !== undefined) {
        event = {
          id: event.id,
          type: "fold",
          room: event.room,
          time: event.time,
          target,
          count: fold.count,
        };
      } else {
        this.#lines.set(fold.line, event.id);
        if (this.#lines.size > MAX_FOLD_LINES) {
          this.#lines.delete(this.#lines.keys().next().value!);
        }
      }
    }
    this.write(`id: ${this.#init.boot}.${entry.seq}\ndata: ${JSON.stringify(event)}\n\n`);
  }

  sendStatus(): void {
    const status: OverlayEvent = {
      type: "status",
      rooms: this.#init.rooms(),
      problems: this.#init.problems,
    };
    this.write(`data: ${JSON.stringify(status)}\n\n`);
  }

  /** Queues text; it is written at the next turn of the event loop, with whatever else came. */
  write(text: string): void {
    if (this.#ended) return;
    this.#pending += text;
    if (this.#flushScheduled) return;
    this.#flushScheduled = true;
    setTimer(0, () => this.#flush(), this.#init.signal);
  }

  #flush(): void {
    this.#flushScheduled = false;
    if (this.#ended || this.#pending === "") return;
    const res = this.#res;
    if (res.destroyed || res.writableEnded) {
      this.#ended = true;
      return;
    }
    res.write(this.#pending);
    this.#pending = "";
    // A page that does not read: cut it, rather than hold its backlog. It
    // reconnects and resumes from the history.
    if (res.writableLength > this.#init.maxBuffered) {
      this.#ended = true;
      res.destroy();
    }
  }

  end(): void {
    if (this.#ended) return;
    this.#flush();
    this.#ended = true;
    this.#res.end();
  }
}

function positive(value: number, name: string): number {
  if (!(value > 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a positive number, got ${value}`);
  }
  return value;
}

function nonNegative(value: number, name: string): number {
  if (!(value >= 0) || !Number.isFinite(value)) {
    throw new RangeError(`${name} must be a number >= 0, got ${value}`);
  }
  return value;
}
