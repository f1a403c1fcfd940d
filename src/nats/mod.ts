/**
 * `@x/douyu/nats`: collect thousands of rooms across machines on NATS
 * JetStream. Desired rooms live in a key-value bucket, collectors share them
 * out with leases, every message goes into one stream, and consumers read it
 * back filtered by room and type. See docs/scale-out.md.
 *
 * This entry loads the official NATS client (`@nats-io/transport-node`,
 * `@nats-io/jetstream`, `@nats-io/kv`); the core entry `@x/douyu` never does.
 *
 * @example A collector, and a reader of its chat
 * ```ts ignore
 * import { addRooms, Cluster, Collector, subscribe } from "@x/douyu/nats";
 *
 * await using cluster = await Cluster.connect("nats://127.0.0.1:4222");
 * await addRooms(cluster, [9999]);
 * await using collector = new Collector(cluster, { name: "a" });
 * await collector.start();
 * for await (const { room, message } of subscribe(cluster, { types: ["chatmsg"] })) {
 *   console.log(room, message);
 * }
 * ```
 *
 * @module
 */

export {
  BYTES_PER_MESSAGE,
  Cluster,
  type ClusterOptions,
  COLLECTORS_BUCKET,
  type ConnectClusterOptions,
  DEFAULT_DUPLICATE_WINDOW,
  DEFAULT_LEASE_TTL,
  DEFAULT_MAX_AGE,
  DEFAULT_MAX_BYTES,
  HEADER_COLLECTOR,
  HEADER_RECEIVED_AT,
  HEADER_ROOM,
  type Lease,
  LEASE_TTL_KEY,
  LEASES_BUCKET,
  MAX_MESSAGE_BYTES,
  MIN_LEASE_TTL,
  READERS_BUCKET,
  ROOMS_BUCKET,
  type RoomSettings,
  STREAM_NAME,
  SUBJECT_PREFIX,
  subjectOf,
} from "./cluster.ts";
export {
  chatId,
  Collector,
  type CollectorCounters,
  type CollectorEvent,
  type CollectorOptions,
} from "./collector.ts";
export type { PublisherCounters, PublisherOptions } from "./publisher.ts";
export type { NatsAuth } from "./auth.ts";
export { setLeaseTtl, type SetLeaseTtlOptions } from "./setup.ts";
export {
  type ClusterMessage,
  filterSubjects,
  parseSince,
  type ReadGap,
  subscribe,
  type SubscribeOptions,
  Subscription,
} from "./consumer.ts";
export {
  addRooms,
  type ClusterOverview,
  overview,
  removeRooms,
  type RoomStatus,
  type StreamUsage,
} from "./rooms.ts";
export type { CollectorHealth, CollectorRoom } from "./records.ts";
export { ClusterError } from "./errors.ts";
