/**
 * The error of `@x/douyu/nats`: a NATS JetStream operation that failed.
 *
 * @module
 */

import { DouyuError } from "../base/errors.ts";

/**
 * A NATS JetStream operation of `@x/douyu/nats` failed: no server reachable,
 * JetStream not enabled, a bucket or stream that cannot be set up, a durable
 * consumer with other settings. `cause` holds the NATS client's error.
 *
 * @example
 * ```ts
 * import { DouyuError } from "@x/douyu";
 * import { ClusterError } from "@x/douyu/nats";
 *
 * const err = new ClusterError("cannot reach NATS at nats://127.0.0.1:4222");
 * console.log(err instanceof DouyuError, err.name); // true "ClusterError"
 * ```
 */
export class ClusterError extends DouyuError {}
