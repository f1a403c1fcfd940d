/**
 * The cluster's names and limits, and the shapes of what its buckets hold:
 * what every piece of `@x/douyu/nats` agrees on, apart from the
 * {@linkcode Cluster} handle that works with them (`cluster.ts`), so that
 * setting the layout up (`setup.ts`) and reading records (`records.ts`)
 * need not import the handle.
 *
 * @module
 */

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
