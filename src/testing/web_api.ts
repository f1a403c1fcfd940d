/**
 * A stand-in for Douyu's web APIs on 127.0.0.1, serving the bundled sample
 * room: {@linkcode MockWebApi}. With it and {@linkcode MockServer}, room
 * lookups, room info, live status and gift values work offline.
 *
 * @module
 */
import type { IncomingMessage, Server, ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { SAMPLE_ROOM, sampleGiftList } from "./sample.ts";
import {
  sampleBetard,
  sampleMobilePage,
  sampleOpenApi,
  samplePropsConfig,
  type SampleRoomStatus,
} from "./sample_web.ts";

/**
 * What a room is doing, as {@linkcode MockWebApi.status} answers it: `live`,
 * `offline`, or `loop` (a recording played as a rerun, which Douyu's room
 * API marks as live with `videoLoop` beside it).
 *
 * @example
 * ```ts
 * import type { MockRoomStatus } from "@x/douyu/testing";
 *
 * const statuses: MockRoomStatus[] = ["live", "offline", "loop"];
 * console.log(statuses.length); // 3
 * ```
 */
export type MockRoomStatus = SampleRoomStatus;

/**
 * One of the web APIs {@linkcode MockWebApi} stands in for, as
 * {@linkcode MockWebApi.down} names them.
 *
 * @example
 * ```ts
 * import type { MockWebApiName } from "@x/douyu/testing";
 *
 * const down: MockWebApiName[] = ["betard"]; // room info then comes from the open API
 * console.log(down);
 * ```
 */
export type MockWebApiName = "betard" | "openApi" | "mobile" | "giftList" | "props";

/**
 * Options of {@linkcode MockWebApi.start}.
 *
 * @example
 * ```ts
 * import { MockWebApi, type MockWebApiOptions } from "@x/douyu/testing";
 *
 * const options: MockWebApiOptions = { status: "offline", names: { yyf: 288016 } };
 * await using web = await MockWebApi.start(options);
 * console.log(web.status); // "offline"
 * ```
 */
export interface MockWebApiOptions {
  /** Address to bind. Default `127.0.0.1`. */
  host?: string;
  /** Port. Default 0: the OS picks a free one (see {@linkcode MockWebApi.url}). */
  port?: number;
  /** What the room is doing at first; see {@linkcode MockWebApi.status}. Default `"live"`. */
  status?: MockRoomStatus;
  /**
   * Room names and the room ids they resolve to (`{ yyf: 288016 }`). Other
   * names resolve to {@linkcode SAMPLE_ROOM}; a name of digits (a "good
   * number" such as `douyu.com/9999`) to that number. Default none.
   */
  names?: Readonly<Record<string, number>>;
}

/**
 * Where each of Douyu's web APIs is, as the options of `fetchRoomInfo`,
 * `resolveRoom`, `GiftCatalogCache`, `connect`, `Hub` and `watchLive` name
 * them: spread it into their options.
 *
 * @example
 * ```ts
 * import type { MockWebApiBases } from "@x/douyu/testing";
 *
 * const bases: MockWebApiBases = {
 *   apiBase: "http://127.0.0.1:8080",
 *   openApiBase: "http://127.0.0.1:8080",
 *   mobileBase: "http://127.0.0.1:8080/m",
 *   giftApiBase: "http://127.0.0.1:8080",
 *   propsBase: "http://127.0.0.1:8080",
 * };
 * console.log(bases.mobileBase);
 * ```
 */
export interface MockWebApiBases {
  /** The `betard` room API. */
  readonly apiBase: string;
  /** The open API. */
  readonly openApiBase: string;
  /** The mobile site. */
  readonly mobileBase: string;
  /** The gift list API. */
  readonly giftApiBase: string;
  /** The props config. */
  readonly propsBase: string;
}

/** Most request paths {@linkcode MockWebApi.requests} keeps: the newest. */
const MAX_LOGGED = 1000;
/** Longest request path answered; longer ones get 414. */
const MAX_PATH = 2048;
/** Most connections open at once; more are refused. */
const MAX_CONNECTIONS = 64;
/**
 * How long a connection may take to send a request's head, from when it
 * opens or its last answer ends: one that never does (a slowloris) would
 * hold one of {@linkcode MAX_CONNECTIONS} for as long as it liked.
 */
const HEAD_WITHIN_MS = 5000;
const ROOM_PATH = /^\/(betard|api\/RoomApi\/room|m)\/([^/]+)$/;
const PROPS_PATH = "/resource/common/prop_gift_list/prop_gift_config.json";
const GIFT_LIST_PATH = "/api/gift/v3/web/list";
const LOOPBACK = new Set(["127.0.0.1", "localhost", "[::1]"]);

/**
 * A stand-in for Douyu's web APIs, serving the bundled sample room: the
 * `betard` room info and the open API (title, owner, category, live status,
 * start time, avatar, cover), the gift list and the props config (the gifts
 * the sample sends, with prices), and the mobile page that room lookups fall
 * back to. Start it, and pass {@linkcode MockWebApi.bases} to what would ask
 * Douyu. It listens on 127.0.0.1, answers `GET` only, and nothing it serves
 * comes from the network.
 *
 * Every room id asked about is the sample room under that id; names resolve
 * as {@linkcode MockWebApiOptions.names} says. `close()` (or `await using`)
 * stops it and closes every connection.
 *
 * @example Room info and gift values, offline
 * ```ts
 * import { fetchRoomInfo, GiftCatalogCache, giftOf, parseMessage } from "@x/douyu";
 * import { MockWebApi } from "@x/douyu/testing";
 *
 * await using web = await MockWebApi.start();
 * const info = await fetchRoomInfo("douyu.com/9999", web.bases);
 * console.log(info.roomId, info.live, info.name); // 9999 true "样例直播间：一起聊天"
 * const gifts = new GiftCatalogCache(web.bases);
 * const gift = giftOf(parseMessage("type@=dgb/gfid@=20008/gfcnt@=1/"), await gifts.get(9999));
 * console.log(gift?.name, gift?.value); // "飞机" 100
 * ```
 */
export class MockWebApi implements AsyncDisposable {
  readonly #server: Server;
  readonly #names: ReadonlyMap<string, number>;
  readonly #requests: string[] = [];
  #status: MockRoomStatus = "live";
  #down: ReadonlySet<MockWebApiName> = new Set();
  #url = "";
  #closing: Promise<void> | undefined;
  /** Open connections, each with its timer while it owes a request's head. */
  readonly #sockets = new Map<Socket, ReturnType<typeof setTimeout> | undefined>();

  private constructor(server: Server, options: MockWebApiOptions) {
    this.#server = server;
    this.status = options.status ?? "live"; // checked by the setter
    this.#names = new Map(Object.entries(options.names ?? {}));
  }

  /**
   * Starts the stand-in on a free port (or `options.port`).
   *
   * @param options Address, live status and room names; all optional.
   * @returns The running stand-in.
   * @throws {RangeError} for an invalid port or room id, the runtime's error
   * if the port cannot be bound.
   *
   * @example
   * ```ts
   * import { MockWebApi } from "@x/douyu/testing";
   *
   * const web = await MockWebApi.start();
   * console.log(web.url); // e.g. "http://127.0.0.1:40125"
   * await web.close();
   * ```
   */
  static async start(options: MockWebApiOptions = {}): Promise<MockWebApi> {
    const port = options.port ?? 0;
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      throw new RangeError(`port must be an integer from 0 to 65535, got ${port}`);
    }
    for (const [name, id] of Object.entries(options.names ?? {})) {
      if (!Number.isSafeInteger(id) || id <= 0) {
        throw new RangeError(`names.${name} must be a positive integer room id, got ${id}`);
      }
    }
    const host = options.host ?? "127.0.0.1";
    // Loaded on first use: importing @x/douyu/testing for MockServer alone loads no HTTP server.
    const { createServer } = await import("node:http");
    const server = createServer();
    server.maxConnections = MAX_CONNECTIONS;
    const api = new MockWebApi(server, options);
    server.on("connection", (socket: Socket) => api.#opened(socket));
    server.on("request", (req, res) => {
      api.#busy(req.socket);
      res.once("finish", () => api.#idle(req.socket));
      api.#answer(req, res);
    });
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(port, host, () => {
        server.off("error", reject);
        resolve();
      });
    });
    const address = server.address() as AddressInfo;
    const shown = address.family === "IPv6" ? `[${address.address}]` : address.address;
    api.#url = `http://${shown}:${address.port}`;
    return api;
  }

  /**
   * The stand-in's origin, e.g. `http://127.0.0.1:40125`.
   *
   * @example
   * ```ts ignore
   * console.log(await (await fetch(`${web.url}/betard/9999`)).json());
   * ```
   */
  get url(): string {
    return this.#url;
  }

  /**
   * Where each API is: spread it into the options of what would ask Douyu,
   * e.g. `fetchRoomInfo(9999, web.bases)` or
   * `connect("douyu.com/9999", { url: server.url, ...web.bases })`.
   *
   * @example
   * ```ts ignore
   * const gifts = new GiftCatalogCache(web.bases);
   * ```
   */
  get bases(): MockWebApiBases {
    const url = this.#url;
    return {
      apiBase: url,
      openApiBase: url,
      mobileBase: `${url}/m`,
      giftApiBase: url,
      propsBase: url,
    };
  }

  /**
   * What the room is doing: what the room APIs answer from now on (`betard`'s
   * `show_status` and `videoLoop`, the open API's `room_status`). Set it to
   * test what follows a room's status.
   *
   * @example
   * ```ts ignore
   * web.status = "offline"; // the next fetchRoomInfo() says so
   * ```
   */
  get status(): MockRoomStatus {
    return this.#status;
  }

  set status(status: MockRoomStatus) {
    if (status !== "live" && status !== "offline" && status !== "loop") {
      throw new TypeError(`status must be "live", "offline" or "loop", got ${status}`);
    }
    this.#status = status;
  }

  /**
   * The APIs that answer `503 Service Unavailable` from now on, to test
   * fallbacks and failures: with `["betard"]`, room info comes from the open
   * API, and names are looked up on the mobile page. Default none.
   *
   * @example
   * ```ts ignore
   * web.down = ["betard"];
   * console.log((await fetchRoomInfo(9999, web.bases)).source); // "open"
   * ```
   */
  get down(): readonly MockWebApiName[] {
    return [...this.#down];
  }

  set down(names: readonly MockWebApiName[]) {
    this.#down = new Set(names);
  }

  /**
   * The paths (with query) asked so far, oldest first: the newest 1000.
   *
   * @example
   * ```ts ignore
   * console.log(web.requests); // [ "/betard/9999?_=lx2k…", "/api/gift/v3/web/list?rid=9999", … ]
   * ```
   */
  get requests(): readonly string[] {
    return [...this.#requests];
  }

  /**
   * Stops listening and closes every connection. Idempotent.
   *
   * @example
   * ```ts ignore
   * await web.close();
   * ```
   */
  close(): Promise<void> {
    this.#closing ??= new Promise<void>((resolve) => {
      this.#server.close(() => resolve());
      this.#server.closeAllConnections();
      // Bun's closeAllConnections() leaves a connection that has sent nothing yet.
      for (const socket of [...this.#sockets.keys()]) {
        this.#busy(socket);
        socket.destroy();
      }
    });
    return this.#closing;
  }

  /**
   * Same as {@linkcode MockWebApi.close}, for `await using`.
   *
   * @example
   * ```ts ignore
   * await using web = await MockWebApi.start();
   * ```
   */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }

  #opened(socket: Socket): void {
    this.#sockets.set(socket, undefined);
    socket.once("close", () => {
      this.#busy(socket);
      this.#sockets.delete(socket);
    });
    this.#idle(socket);
  }

  /** A connection owes a request's head: it has {@linkcode HEAD_WITHIN_MS} to send it. */
  #idle(socket: Socket): void {
    if (!this.#sockets.has(socket) || this.#closing !== undefined) return;
    clearTimeout(this.#sockets.get(socket));
    this.#sockets.set(socket, setTimeout(() => socket.destroy(), HEAD_WITHIN_MS));
  }

  /** A connection sent a request (or is closing): no timer. */
  #busy(socket: Socket): void {
    clearTimeout(this.#sockets.get(socket));
    if (this.#sockets.has(socket)) this.#sockets.set(socket, undefined);
  }

  #answer(req: IncomingMessage, res: ServerResponse): void {
    const target = req.url ?? "";
    if (target.length > MAX_PATH) return send(res, 414, "request target too long");
    // A page on another site must not reach it through a name that points here (DNS rebinding).
    if (!this.#hostAllowed(req.headers.host)) return send(res, 421, "unknown host");
    if (req.method !== "GET" && req.method !== "HEAD") return send(res, 405, "GET only");
    // Only what it answers is a request asked of it.
    this.#requests.push(target);
    if (this.#requests.length > MAX_LOGGED) this.#requests.shift();
    let url: URL;
    try {
      url = new URL(target, this.#url);
    } catch {
      return send(res, 400, "bad request target");
    }
    const path = url.pathname;
    if (path === GIFT_LIST_PATH) return this.#send(res, "giftList", sampleGiftList(), JSON_TYPE);
    if (path === PROPS_PATH) {
      return this.#send(res, "props", samplePropsConfig(), "text/javascript");
    }
    const room = ROOM_PATH.exec(path);
    if (room === null) return send(res, 404, "not found");
    let id: number;
    try {
      id = this.#roomId(decodeURIComponent(room[2]!));
    } catch {
      return send(res, 400, "bad room");
    }
    switch (room[1]) {
      case "betard":
        return this.#send(res, "betard", sampleBetard(id, this.#status), JSON_TYPE);
      case "m":
        return this.#send(res, "mobile", sampleMobilePage(id), "text/html; charset=utf-8");
      default:
        return this.#send(res, "openApi", sampleOpenApi(id, this.#status), JSON_TYPE);
    }
  }

  /** Answers with `body`, unless that API is down. */
  #send(res: ServerResponse, api: MockWebApiName, body: string, type: string): void {
    if (this.#down.has(api)) send(res, 503, `${api} is down`);
    else send(res, 200, body, type);
  }

  /** The id a room name or id in a path stands for. */
  #roomId(name: string): number {
    const known = this.#names.get(name);
    if (known !== undefined) return known;
    if (!/^\d{1,15}$/.test(name)) return SAMPLE_ROOM;
    const id = Number(name);
    if (id <= 0) throw new RangeError("no room 0");
    return id;
  }

  #hostAllowed(host: string | undefined): boolean {
    if (host === undefined) return false;
    const port = this.#url.slice(this.#url.lastIndexOf(":") + 1);
    const at = host.lastIndexOf(":");
    if (at === -1 || host.slice(at + 1) !== port) return false;
    const name = host.slice(0, at).toLowerCase();
    return LOOPBACK.has(name) || this.#url === `http://${name}:${port}`;
  }
}

const JSON_TYPE = "application/json; charset=utf-8";

function send(res: ServerResponse, status: number, body: string, type = "text/plain"): void {
  // One request per connection: nothing is left open for a test's sanitizer.
  res.writeHead(status, { "content-type": type, connection: "close" });
  res.end(body);
}
