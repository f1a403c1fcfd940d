/**
 * The error of `@x/douyu/archive`: an archive that could not be opened,
 * written or read.
 *
 * @module
 */

import { DouyuError } from "../base/errors.ts";

/**
 * An archive of `@x/douyu/archive` failed: a database that cannot be
 * opened or written, a file that is not an archive, a runtime without
 * `node:sqlite`, a PostgreSQL server that cannot be reached. `cause` holds
 * the engine's error.
 *
 * @example
 * ```ts
 * import { DouyuError } from "@x/douyu";
 * import { ArchiveError } from "@x/douyu/archive";
 *
 * const err = new ArchiveError("cannot open archive.db: disk I/O error");
 * console.log(err instanceof DouyuError, err.name); // true "ArchiveError"
 * ```
 */
export class ArchiveError extends DouyuError {}
