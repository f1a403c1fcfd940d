/**
 * The errors of Douyu's web APIs: a room name that cannot be resolved, a gift
 * catalogue that cannot be fetched.
 *
 * @module
 */

import { DouyuError } from "../base/errors.ts";

/**
 * A room name or URL could not be turned into a numeric room id.
 *
 * @example
 * ```ts
 * import { RoomResolveError } from "@x/douyu";
 *
 * console.log(new RoomResolveError("no room id for 'nosuchroom'").message);
 * ```
 */
export class RoomResolveError extends DouyuError {}

/**
 * A room's gift catalogue could not be fetched: neither the room's gift list
 * nor the props config gave anything usable. `cause` holds what went wrong
 * with each.
 *
 * @example
 * ```ts
 * import { GiftCatalogError } from "@x/douyu";
 *
 * const err = new GiftCatalogError("no gift catalogue for room 9999: gift list: HTTP 500");
 * console.log(err.name); // "GiftCatalogError"
 * ```
 */
export class GiftCatalogError extends DouyuError {}
