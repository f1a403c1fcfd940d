/**
 * The cluster's shape on NATS JetStream: the stream and the three key-value
 * buckets, their names, how they are created, and the {@linkcode Cluster}
 * handle every other piece of `@x/douyu/nats` works through.
 *
 * | primitive            | name               | holds                                                      |
 * | -------------------- | ------------------ | ---------------------------------------------------------- |
 * | stream               | `DOUYU`            | every message, subject `douyu.<room>.<type>`               |
 * | KV bucket            | `douyu_rooms`      | the desired rooms: key room id, value settings             |
 * | KV bucket            | `douyu_leases`     | who watches a room: key room id; valid while its holder is |
 * | KV bucket with a TTL | `douyu_collectors` | each collector's heartbeat: key its name; TTL = lease TTL  |
 * | KV bucket with a TTL | `douyu_readers`    | durable readers' positions (created by the first one)      |
 *
 * @module
 */

import { connect, headers, type MsgHdrs, type NatsConnection } from "@nats-io/transport-node";
import {
  jetstream,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { errorText } from "../base/errors.ts";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";
import { type NatsAuth, natsConnectOptions, redactUrl } from "./auth.ts";
import { ensureLayout } from "./setup.ts";

/** The stream that holds every collected message. */
export const STREAM_NAME = "DOUYU";
/** The first token of every message subject: `douyu.<room>.<type>`. */
export const SUBJECT_PREFIX = "douyu";
/** The KV bucket of desired rooms: key = room id, value = {@linkcode RoomSettings} as JSON. */
export const ROOMS_BUCKET = "douyu_rooms";
/**
 * The KV bucket of leases: key = room id, value = {@linkcode Lease} as JSON.
 * A lease is valid while its holder's heartbeat (same `instance`) lives.
 */
export const LEASES_BUCKET = "douyu_leases";
/** The KV bucket of collectors' heartbeats: key = collector name; entries expire (the lease TTL). */
export const COLLECTORS_BUCKET = "douyu_collectors";
/** The KV bucket of durable readers' positions: key = the reader's name. */
export const READERS_BUCKET = "douyu_readers";
/** The key in `douyu_rooms` under which a lease TTL change is announced (not a room id). */
export const LEASE_TTL_KEY = "config.lease-ttl";

/** Lease lifetime when the heartbeat bucket is created without `leaseTtl`: 15 s. */
export const DEFAULT_LEASE_TTL = 15_000;
/** The shortest lease TTL accepted, ms: renewals every TTL/4 need some room. */
export const MIN_LEASE_TTL = 1000;
/** Stream retention by age when created without `maxAge`: 7 days. */
export const DEFAULT_MAX_AGE = 7 * 24 * 3600_000;
/**
 * What the stream stores per collected message, bytes, as measured
 * (`bench:cluster`: about 470 to 530 with Douyu's real traffic, headers and
 * JetStream's own bookkeeping included): what retention by size holds.
 */
export const BYTES_PER_MESSAGE = 500;
/**
 * Stream retention by size when created without `maxBytes`: 16 GiB, about
 * 34 million messages (57 minutes at 10 000 a second, 9.5 hours at 1 000). A
 * server with less room gets the largest half of it, down to 256 MiB, that it
 * can reserve. Keep for longer with the archive, not the stream.
 */
export const DEFAULT_MAX_BYTES = 16 * 1024 ** 3;
/** The smallest stream size accepted (and tried, when the server has little room): 256 MiB. */
export const MIN_STREAM_BYTES = 256 * 1024 ** 2;
/** How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate: 2 minutes. */
export const DEFAULT_DUPLICATE_WINDOW = 120_000;
/** The largest message the stream accepts, bytes (the largest barrage frame is 1 MiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The largest KV value read back (leases, settings, heartbeats), bytes. */
export const MAX_VALUE_BYTES = 256 * 1024;

/**
 * How the stream and buckets are set up. Each setting applies when the
 * stream or bucket is created; retention and replicas given explicitly are
 * also applied to an existing one, while one left out keeps what the cluster
 * already has. The lease TTL of an existing cluster changes only with
 * {@linkcode setLeaseTtl}.
 *
 * @example
 * ```ts
 * import type { ClusterOptions } from "@x/douyu/nats";
 *
 * const options: ClusterOptions = { leaseTtl: 10_000, maxAge: 24 * 3600_000, maxBytes: 2 ** 30 };
 * console.log(options.leaseTtl); // 10000
 * ```
 */
export interface ClusterOptions {
  /**
   * Lease lifetime, ms, when the cluster is created (the heartbeat bucket's
   * max age). A collector holds its rooms while its heartbeat, renewed every
   * quarter of it, lives: a dead collector's rooms are taken over about a TTL
   * after its last heartbeat. Default 15 000. Ignored for an existing
   * cluster: see {@linkcode Cluster.leaseTtl} and {@linkcode setLeaseTtl}.
   */
  leaseTtl?: number;
  /** Stream retention by age, ms. Default 7 days. */
  maxAge?: number;
  /** Stream retention by size, bytes: the oldest messages go first. Default 16 GiB. */
  maxBytes?: number;
  /** Replicas of the stream and buckets (1, 3 or 5; 3 in a three-server NATS cluster). Default 1. */
  replicas?: number;
  /** How long chat ids are remembered to drop duplicates, ms. Default 120 000. */
  duplicateWindow?: number;
}

/**
 * Options of {@linkcode Cluster.connect}: the cluster's settings plus the
 * NATS connection's.
 *
 * @example
 * ```ts
 * import type { ConnectClusterOptions } from "@x/douyu/nats";
 *
 * const options: ConnectClusterOptions = { name: "collector a", reconnectTimeWait: 1000 };
 * console.log(options.name); // "collector a"
 * ```
 */
export interface ConnectClusterOptions extends ClusterOptions, NatsAuth {
  /** The connection's name, shown by the server's monitoring. */
  name?: string;
  /** Milliseconds to reach a server at first. Default 5000. */
  timeout?: number;
  /** Milliseconds between reconnection attempts (plus up to 100 ms jitter). Default 1000. */
  reconnectTimeWait?: number;
}

/**
 * Settings of one desired room (the value in `douyu_rooms`).
 *
 * @example
 * ```ts
 * import type { RoomSettings } from "@x/douyu/nats";
 *
 * const settings: RoomSettings = { types: ["chatmsg", "dgb"] };
 * console.log(settings.types?.length); // 2
 * ```
 */
export interface RoomSettings {
  /** Only these message types are collected for this room. Default: every type. */
  types?: string[];
  /** When the room was added, ms since the epoch (set by {@linkcode Cluster.addRooms}). */
  addedAt?: number;
}

/**
 * A lease: which collector watches a room (the value in `douyu_leases`).
 *
 * @example
 * ```ts
 * import type { Lease } from "@x/douyu/nats";
 *
 * const lease: Lease = { collector: "a", instance: "1f3c", since: Date.now() };
 * console.log(lease.collector); // "a"
 * ```
 */
export interface Lease {
  /** The collector's name. */
  collector: string;
  /** The collector process's random id: a restarted collector is another instance. */
  instance: string;
  /** When it claimed the room, ms since the epoch. */
  since: number;
  /** True while its holder hands it over: free to claim; the holder leaves once it is joined. */
  releasing?: boolean;
  /** True once a holder that took it over has joined the room (the previous one may go). */
  joined?: boolean;
}

/**
 * A connection to a NATS server with JetStream, and the Douyu cluster's
 * stream and buckets on it (created when absent). Everything in
 * `@x/douyu/nats` goes through one: `addRooms`, `removeRooms` and
 * `overview` (in `rooms.ts`), `collect` (a {@linkcode Collector}) and
 * `subscribe` (a {@linkcode Subscription}).
 *
 * @example Desired rooms, then who watches what
 * ```ts ignore
 * import { Cluster } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * await cluster.addRooms([9999, 288016]);
 * const { rooms } = await cluster.overview();
 * console.log(rooms.map((room) => [room.room, room.collector ?? "unassigned"]));
 * ```
 */
export class Cluster implements AsyncDisposable {
  /**
   * The NATS connection. (The NATS client's own type: see its documentation.)
   *
   * @ignore
   */
  readonly connection: NatsConnection;
  /**
   * The JetStream client. (The NATS client's own type: see its documentation.)
   *
   * @ignore
   */
  readonly js: JetStreamClient;
  /**
   * The JetStream manager. (The NATS client's own type: see its documentation.)
   *
   * @ignore
   */
  readonly jsm: JetStreamManager;
  /**
   * The desired rooms. (The NATS client's own type: see its documentation.)
   *
   * @ignore
   */
  readonly rooms: KV;
  /**
   * The leases. (The NATS client's own type: see its documentation.)
   *
   * @ignore
   */
  readonly leases: KV;
  /**
   * The collectors' heartbeats. (The NATS client's own type: see its documentation.)
   *
   * @ignore
   */
  readonly collectors: KV;
  /**
   * The lease TTL when connected, ms: the heartbeat bucket's max age (or a
   * lower one being announced by {@linkcode setLeaseTtl}). Collectors follow
   * later changes by themselves.
   */
  readonly leaseTtl: number;
  /** The server's version, e.g. `2.9.10`. */
  readonly serverVersion: string;
  readonly #ownsConnection: boolean;
  #closing: Promise<void> | undefined;

  private constructor(init: {
    connection: NatsConnection;
    js: JetStreamClient;
    jsm: JetStreamManager;
    rooms: KV;
    leases: KV;
    collectors: KV;
    leaseTtl: number;
    ownsConnection: boolean;
  }) {
    this.connection = init.connection;
    this.js = init.js;
    this.jsm = init.jsm;
    this.rooms = init.rooms;
    this.leases = init.leases;
    this.collectors = init.collectors;
    this.leaseTtl = init.leaseTtl;
    this.serverVersion = init.connection.info?.version ?? "0.0.0";
    this.#ownsConnection = init.ownsConnection;
  }

  /**
   * Connects to NATS (reconnecting forever after a drop) and sets up the
   * stream and buckets.
   *
   * @param servers `nats://host:port`, or several servers of one NATS cluster.
   * @param options The cluster's settings and the connection's.
   * @returns The cluster; `close()` it.
   * @throws {ClusterError} when no server answers or JetStream is not enabled.
   *
   * @example
   * ```ts ignore
   * import { Cluster } from "@x/douyu/nats";
   *
   * const cluster = await Cluster.connect(["nats://a:4222", "nats://b:4222"], { leaseTtl: 10_000 });
   * await cluster.close();
   * ```
   */
  static async connect(
    servers: string | readonly string[],
    options: ConnectClusterOptions = {},
  ): Promise<Cluster> {
    const list = typeof servers === "string" ? [servers] : [...servers];
    let connection: NatsConnection;
    const shown = list.map(redactUrl).join(", ");
    try {
      connection = await connect({
        ...natsConnectOptions(list, options),
        name: options.name ?? "douyu",
        timeout: options.timeout ?? 5000,
        reconnectTimeWait: options.reconnectTimeWait ?? 1000,
        maxReconnectAttempts: -1,
        // A dead TCP peer is noticed within 2 × 5 s instead of minutes.
        pingInterval: 5000,
        maxPingOut: 2,
      });
    } catch (error) {
      if (error instanceof ClusterError || error instanceof RangeError) throw error;
      throw new ClusterError(`cannot reach NATS at ${shown}: ${errorText(error)}`, {
        cause: error,
      });
    }
    try {
      return await Cluster.#open(connection, options, true);
    } catch (error) {
      await connection.close().catch(() => {});
      throw error;
    }
  }

  /**
   * Sets the cluster up on a connection you made yourself (with your own
   * authentication or TLS). `close()` then leaves the connection open.
   *
   * @param connection A connection from `@nats-io/transport-node` (or another transport).
   * @param options The cluster's settings.
   * @returns The cluster.
   * @throws {ClusterError} when JetStream is not enabled or a bucket cannot be set up.
   *
   * @ignore Its parameter is the NATS client's type: documented with the client.
   *
   * @example
   * ```ts ignore
   * import { connect } from "@nats-io/transport-node";
   * import { Cluster } from "@x/douyu/nats";
   *
   * const connection = await connect({ servers: "127.0.0.1:4222", token: "secret" });
   * const cluster = await Cluster.open(connection);
   * ```
   */
  static open(connection: NatsConnection, options: ClusterOptions = {}): Promise<Cluster> {
    return Cluster.#open(connection, options, false);
  }

  static async #open(
    connection: NatsConnection,
    options: ClusterOptions,
    ownsConnection: boolean,
  ): Promise<Cluster> {
    checkOptions(options);
    try {
      const jsm = await jetstreamManager(connection);
      const js = jetstream(connection);
      const layout = await ensureLayout(jsm, new Kvm(js), options);
      return new Cluster({ connection, js, jsm, ...layout, ownsConnection });
    } catch (error) {
      if (error instanceof ClusterError) throw error;
      throw new ClusterError(`cannot set up JetStream: ${errorText(error)}`, { cause: error });
    }
  }

  /**
   * True when the server takes several filter subjects per consumer
   * (nats-server 2.10 and later); older servers get one, and the rest is
   * filtered here.
   */
  get multipleFilters(): boolean {
    return versionAtLeast(this.serverVersion, 2, 10);
  }

  /**
   * Closes the connection (when this cluster opened it) after flushing what
   * was published. Idempotent.
   */
  close(): Promise<void> {
    this.#closing ??= (async () => {
      if (!this.#ownsConnection || this.connection.isClosed()) return;
      await this.connection.drain().catch(() => this.connection.close());
    })();
    return this.#closing;
  }

  /** `await using` support: {@linkcode Cluster.close}. */
  [Symbol.asyncDispose](): Promise<void> {
    return this.close();
  }
}

/** The subject of a message: `douyu.<room>.<type>`, with a type unfit for a subject as `_`. */
export function subjectOf(room: number, type: string): string {
  return `${SUBJECT_PREFIX}.${room}.${subjectToken(type)}`;
}

/**
 * A message type as a subject token: letters, digits, `_` and `-`, at most 64
 * characters. Anything else (wire types are hostile: `.`, `*`, `>` or spaces
 * would change the subject's meaning) becomes `_`.
 */
export function subjectToken(type: string): string {
  return isSafeName(type) ? type : "_";
}

/** Message headers: the room, when it arrived, which collector took it, and for chat its id. */
export const HEADER_ROOM = "Douyu-Room";
/** When the collector took the message from its room, ms since the epoch. */
export const HEADER_RECEIVED_AT = "Douyu-Received-At";
/** The collector's name. */
export const HEADER_COLLECTOR = "Douyu-Collector";

/**
 * A message's headers as NATS writes them (`NATS/1.0`, a line per header, an
 * empty line), for a producer that encodes the headers and the body in one
 * go: the same headers as {@linkcode messageHeaders}, plus `Nats-Msg-Id`.
 * Every part is ASCII (a collector's name and a chat id are checked), so its
 * length in characters is its length in bytes.
 */
export function headerBlock(
  room: number,
  receivedAt: number,
  collector: string,
  msgId: string | undefined,
): string {
  return `NATS/1.0\r\n${HEADER_ROOM}: ${room}\r\n${HEADER_RECEIVED_AT}: ${receivedAt}\r\n${HEADER_COLLECTOR}: ${collector}\r\n${
    msgId === undefined ? "" : `Nats-Msg-Id: ${msgId}\r\n`
  }\r\n`;
}

/** Builds a message's headers. */
export function messageHeaders(room: number, receivedAt: number, collector: string): MsgHdrs {
  const h = headers();
  h.set(HEADER_ROOM, String(room));
  h.set(HEADER_RECEIVED_AT, String(receivedAt));
  h.set(HEADER_COLLECTOR, collector);
  return h;
}

/** True when a `major.minor.patch` version is at least `major.minor`. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(".").map((part) => Number.parseInt(part, 10) || 0);
  return a > major || (a === major && b >= minor);
}

function checkOptions(options: ClusterOptions): void {
  const atLeast = (name: keyof ClusterOptions, min: number) => {
    const value = options[name];
    if (value === undefined) return;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
    }
  };
  atLeast("leaseTtl", MIN_LEASE_TTL);
  atLeast("maxAge", 1000);
  atLeast("maxBytes", 1024 * 1024);
  atLeast("duplicateWindow", 1000);
  if (options.replicas !== undefined && ![1, 3, 5].includes(options.replicas)) {
    throw new RangeError(`replicas must be 1, 3 or 5, got ${options.replicas}`);
  }
}
