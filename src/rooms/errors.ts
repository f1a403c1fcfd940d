/**
 * The errors of the `rooms/` layer: a hub that is full.
 *
 * @module
 */

import { DouyuError } from "../base/errors.ts";

/**
 * A hub already watches its `maxRooms` rooms. Douyu accepts about 200
 * barrage connections per client IP, so watching more rooms means spreading
 * them over several machines (docs/scale-out.md: `douyu collect`).
 *
 * @example
 * ```ts
 * import { HubFullError } from "@x/douyu";
 *
 * const err = new HubFullError(200);
 * console.log(err.limit, err instanceof HubFullError); // 200 true
 * ```
 */
export class HubFullError extends DouyuError {
  /** The `maxRooms` that was reached. */
  readonly limit: number;

  /**
   * Creates the error.
   *
   * @param limit The hub's `maxRooms`.
   */
  constructor(limit: number) {
    super(
      `the hub already watches ${limit} rooms (maxRooms); Douyu allows about 200 barrage ` +
        "connections per client IP, so to watch more rooms spread them over several machines " +
        'or IPs (see "Scale out", docs/scale-out.md: douyu collect)',
    );
    this.limit = limit;
  }
}
