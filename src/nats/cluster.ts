/**
 * The cluster's shape on NATS JetStream: the stream and the three key-value
 * buckets, their names, how they are created, and the {@linkcode Cluster}
 * handle every other piece of `@x/douyu/nats` works through.
 *
 * | primitive                 | name               | holds                                        |
 * | ------------------------- | ------------------ | -------------------------------------------- |
 * | stream                    | `DOUYU`            | every message, subject `douyu.<room>.<type>` |
 * | KV bucket                 | `douyu_rooms`      | the desired rooms: key room id, value settings |
 * | KV bucket with a TTL      | `douyu_leases`     | who watches a room: key room id              |
 * | KV bucket with a TTL      | `douyu_collectors` | each collector's heartbeat: key its name     |
 *
 * @module
 */

import {
  connect,
  headers,
  type MsgHdrs,
  nanos,
  type NatsConnection,
} from "@nats-io/transport-node";
import {
  DiscardPolicy,
  jetstream,
  JetStreamApiError,
  type JetStreamClient,
  type JetStreamManager,
  jetstreamManager,
  StorageType,
  type StreamConfig,
} from "@nats-io/jetstream";
import { type KV, Kvm } from "@nats-io/kv";
import { errorText } from "../base/errors.ts";
import { isSafeName } from "../base/names.ts";
import { ClusterError } from "./errors.ts";

/** The stream that holds every collected message. */
export const STREAM_NAME = "DOUYU";
/** The first token of every message subject: `douyu.<room>.<type>`. */
export const SUBJECT_PREFIX = "douyu";
/** The KV bucket of desired rooms: key = room id, value = {@linkcode RoomSettings} as JSON. */
export const ROOMS_BUCKET = "douyu_rooms";
/** The KV bucket of leases: key = room id, value = {@linkcode Lease} as JSON; entries expire. */
export const LEASES_BUCKET = "douyu_leases";
/** The KV bucket of collectors' heartbeats: key = collector name; entries expire. */
export const COLLECTORS_BUCKET = "douyu_collectors";

/** Lease lifetime when the leases bucket is created without `leaseTtl`: 15 s. */
export const DEFAULT_LEASE_TTL = 15_000;
/** Stream retention by age when created without `maxAge`: 7 days. */
export const DEFAULT_MAX_AGE = 7 * 24 * 3600_000;
/** Stream retention by size when created without `maxBytes`: 1 GiB. */
export const DEFAULT_MAX_BYTES = 1024 ** 3;
/** How long JetStream remembers a `Nats-Msg-Id` to drop a duplicate: 2 minutes. */
export const DEFAULT_DUPLICATE_WINDOW = 120_000;
/** The largest message the stream accepts, bytes (the largest barrage frame is 1 MiB). */
export const MAX_MESSAGE_BYTES = 1024 * 1024;
/** The largest KV value read back (leases, settings, heartbeats), bytes. */
export const MAX_VALUE_BYTES = 256 * 1024;

/** The shortest lease TTL accepted, ms: renewals every TTL/4 need some room. */
const MIN_LEASE_TTL = 1000;
/** A collector's heartbeat entry lives this fraction of the lease TTL (see `healthTtlOf`). */
const HEALTH_TTL_FRACTION = 0.6;

/**
 * How the stream and buckets are set up. Each setting applies when the
 * stream or bucket is created; one given explicitly is also applied to an
 * existing one (its limits are updated), while one left out keeps what the
 * cluster already has.
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
   * Lease lifetime, ms (the leases bucket's max age; nats-server 2.9 has no
   * per-key TTL). Collectors renew every quarter of it, so a dead collector's
   * rooms are taken over within about TTL + TTL/4. Default 15 000.
   */
  leaseTtl?: number;
  /** Stream retention by age, ms. Default 7 days. */
  maxAge?: number;
  /** Stream retention by size, bytes: the oldest messages go first. Default 1 GiB. */
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
export interface ConnectClusterOptions extends ClusterOptions {
  /** The connection's name, shown by the server's monitoring. */
  name?: string;
  /** Milliseconds to reach a server at first. Default 5000. */
  timeout?: number;
  /** Milliseconds between reconnection attempts (plus up to 100 ms jitter). Default 1000. */
  reconnectTimeWait?: number;
  /** User name and password, or a token, when the server requires them. */
  user?: string;
  /** The password for `user`. */
  pass?: string;
  /** An authentication token. */
  token?: string;
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
  /** The leases' lifetime, ms, as the leases bucket has it. */
  readonly leaseTtl: number;
  /** The heartbeat entries' lifetime, ms. */
  readonly healthTtl: number;
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
    healthTtl: number;
    ownsConnection: boolean;
  }) {
    this.connection = init.connection;
    this.js = init.js;
    this.jsm = init.jsm;
    this.rooms = init.rooms;
    this.leases = init.leases;
    this.collectors = init.collectors;
    this.leaseTtl = init.leaseTtl;
    this.healthTtl = init.healthTtl;
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
    for (const server of list) checkServerUrl(server);
    let connection: NatsConnection;
    try {
      connection = await connect({
        servers: list,
        name: options.name ?? "douyu",
        timeout: options.timeout ?? 5000,
        reconnectTimeWait: options.reconnectTimeWait ?? 1000,
        maxReconnectAttempts: -1,
        // A dead TCP peer is noticed within 2 × 5 s instead of minutes.
        pingInterval: 5000,
        maxPingOut: 2,
        ...(options.user !== undefined ? { user: options.user } : {}),
        ...(options.pass !== undefined ? { pass: options.pass } : {}),
        ...(options.token !== undefined ? { token: options.token } : {}),
      });
    } catch (error) {
      throw new ClusterError(`cannot reach NATS at ${list.join(", ")}: ${errorText(error)}`, {
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
      const replicas = options.replicas ?? 1;
      const kvm = new Kvm(js);
      const rooms = await ensureBucket(jsm, kvm, ROOMS_BUCKET, { replicas }, undefined);
      const leaseTtl = options.leaseTtl ?? DEFAULT_LEASE_TTL;
      const leases = await ensureBucket(
        jsm,
        kvm,
        LEASES_BUCKET,
        { replicas, ttl: leaseTtl },
        options.leaseTtl,
      );
      const actualTtl = await bucketTtl(jsm, LEASES_BUCKET) || leaseTtl;
      const healthTtl = healthTtlOf(actualTtl);
      const collectors = await ensureBucket(
        jsm,
        kvm,
        COLLECTORS_BUCKET,
        { replicas, ttl: healthTtl },
        options.leaseTtl === undefined ? undefined : healthTtl,
      );
      await ensureStream(jsm, options);
      return new Cluster({
        connection,
        js,
        jsm,
        rooms,
        leases,
        collectors,
        leaseTtl: actualTtl,
        healthTtl: await bucketTtl(jsm, COLLECTORS_BUCKET) || healthTtl,
        ownsConnection,
      });
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

/** Builds a message's headers. */
export function messageHeaders(room: number, receivedAt: number, collector: string): MsgHdrs {
  const h = headers();
  h.set(HEADER_ROOM, String(room));
  h.set(HEADER_RECEIVED_AT, String(receivedAt));
  h.set(HEADER_COLLECTOR, collector);
  return h;
}

/** A collector's heartbeat entry lives 60% of the lease TTL: gone before its leases are. */
export function healthTtlOf(leaseTtl: number): number {
  return Math.max(500, Math.round(leaseTtl * HEALTH_TTL_FRACTION));
}

/** True when a `major.minor.patch` version is at least `major.minor`. */
export function versionAtLeast(version: string, major: number, minor: number): boolean {
  const [a = 0, b = 0] = version.split(".").map((part) => Number.parseInt(part, 10) || 0);
  return a > major || (a === major && b >= minor);
}

/** Throws a {@linkcode ClusterError} for a server URL that is not `nats://` (or `tls://`). */
function checkServerUrl(server: string): void {
  let url: URL | undefined;
  try {
    url = new URL(server.includes("://") ? server : `nats://${server}`);
  } catch {
    url = undefined;
  }
  if (url === undefined || !["nats:", "tls:"].includes(url.protocol) || url.hostname === "") {
    throw new ClusterError(
      `invalid NATS server ${JSON.stringify(server)} (expected nats://host:port)`,
    );
  }
}

function checkOptions(options: ClusterOptions): void {
  const positive = (name: keyof ClusterOptions, min: number) => {
    const value = options[name];
    if (value === undefined) return;
    if (!Number.isSafeInteger(value) || value < min) {
      throw new RangeError(`${name} must be an integer of at least ${min}, got ${value}`);
    }
  };
  positive("leaseTtl", MIN_LEASE_TTL);
  positive("maxAge", 1000);
  positive("maxBytes", 1024 * 1024);
  positive("duplicateWindow", 1000);
  if (options.replicas !== undefined && ![1, 3, 5].includes(options.replicas)) {
    throw new RangeError(`replicas must be 1, 3 or 5, got ${options.replicas}`);
  }
}

function isNotFound(error: unknown): boolean {
  return error instanceof JetStreamApiError && error.code === 10059;
}

/** The max age of a bucket's stream, ms (0: none). */
async function bucketTtl(jsm: JetStreamManager, bucket: string): Promise<number> {
  const info = await jsm.streams.info(`KV_${bucket}`);
  return Math.round(info.config.max_age / 1e6);
}

/**
 * Opens a bucket, creating it when absent. `explicitTtl` (ms), when given,
 * is applied to an existing bucket too. Two processes creating the same
 * bucket at once is fine: the loser opens the winner's.
 */
async function ensureBucket(
  jsm: JetStreamManager,
  kvm: Kvm,
  bucket: string,
  settings: { replicas: number; ttl?: number },
  explicitTtl: number | undefined,
): Promise<KV> {
  let exists = true;
  try {
    const info = await jsm.streams.info(`KV_${bucket}`);
    if (explicitTtl !== undefined && Math.round(info.config.max_age / 1e6) !== explicitTtl) {
      await jsm.streams.update(`KV_${bucket}`, {
        ...info.config,
        max_age: nanos(explicitTtl),
        // JetStream requires the duplicate window to fit in the max age.
        duplicate_window: nanos(Math.min(explicitTtl, DEFAULT_DUPLICATE_WINDOW)),
      });
    }
  } catch (error) {
    if (!isNotFound(error)) throw error;
    exists = false;
  }
  if (!exists) {
    try {
      return await kvm.create(bucket, {
        history: 1,
        replicas: settings.replicas,
        storage: StorageType.File,
        maxValueSize: MAX_VALUE_BYTES,
        ...(settings.ttl !== undefined ? { ttl: settings.ttl } : {}),
      });
    } catch {
      // Created meanwhile by another process: open it below.
    }
  }
  return await kvm.open(bucket);
}

/** Creates the message stream when absent; applies explicitly given retention to an existing one. */
async function ensureStream(jsm: JetStreamManager, options: ClusterOptions): Promise<void> {
  const maxAge = options.maxAge ?? DEFAULT_MAX_AGE;
  const duplicateWindow = Math.min(options.duplicateWindow ?? DEFAULT_DUPLICATE_WINDOW, maxAge);
  const wanted: Partial<StreamConfig> & { name: string } = {
    name: STREAM_NAME,
    subjects: [`${SUBJECT_PREFIX}.>`],
    storage: StorageType.File,
    discard: DiscardPolicy.Old,
    max_age: nanos(maxAge),
    max_bytes: options.maxBytes ?? DEFAULT_MAX_BYTES,
    max_msg_size: MAX_MESSAGE_BYTES,
    duplicate_window: nanos(duplicateWindow),
    num_replicas: options.replicas ?? 1,
  };
  let config: StreamConfig | undefined;
  try {
    config = (await jsm.streams.info(STREAM_NAME)).config;
  } catch (error) {
    if (!isNotFound(error)) throw error;
  }
  if (config === undefined) {
    try {
      await jsm.streams.add(wanted);
      return;
    } catch (error) {
      // Created meanwhile by another process?
      config = (await jsm.streams.info(STREAM_NAME).catch(() => {
        throw error;
      })).config;
    }
  }
  const update: Partial<StreamConfig> = {};
  if (options.maxAge !== undefined && config.max_age !== wanted.max_age) {
    update.max_age = wanted.max_age!;
  }
  if (options.maxBytes !== undefined && config.max_bytes !== wanted.max_bytes) {
    update.max_bytes = wanted.max_bytes!;
  }
  if (
    (options.duplicateWindow !== undefined || update.max_age !== undefined) &&
    config.duplicate_window !== wanted.duplicate_window
  ) {
    update.duplicate_window = wanted.duplicate_window!;
  }
  if (Object.keys(update).length > 0) {
    await jsm.streams.update(STREAM_NAME, { ...config, ...update });
  }
}
