/**
 * `douyu resolve <room>`: prints the numeric room id of a room name or URL;
 * and the lookup of many rooms that `watch` and `live` share.
 *
 * @module
 */

import { errorText } from "../base/errors.ts";
import { resolveRoom } from "../web/room.ts";
import { DEFAULT_API_BASE } from "../web/room_info.ts";
import { type CliIO, interruptCode, INTERRUPTED, OK, say, stopController } from "./io.ts";
import {
  defineOptions,
  HELP_OPTION,
  type Lookups,
  lookups,
  one,
  parseCommand,
  parseRoom,
} from "./options.ts";
import { hostOf, needNet } from "./permissions.ts";

/** The options of `douyu resolve`. */
export const RESOLVE_OPTIONS = defineOptions(
  {
    ...HELP_OPTION,
    "api-base": { type: "string" },
    "mobile-base": { type: "string" },
  } as const,
);

/**
 * `douyu resolve <room>`: a bare id is printed as it is; a name or URL is
 * looked up (betard, then the mobile page).
 *
 * @param args The arguments after `resolve`.
 * @param io Standard streams and the interrupt signal.
 * @returns The exit code.
 */
export async function resolveCommand(args: string[], io: CliIO): Promise<number> {
  const { values, positionals } = parseCommand(args, RESOLVE_OPTIONS, "douyu resolve");
  const text = one(positionals, "<room>: a room id, name or URL");
  const input = parseRoom(text);
  const { apiBase, mobileBase } = lookups(values);
  if (!("id" in input)) needNet([hostOf(apiBase ?? DEFAULT_API_BASE)]);
  const { stop, unlink } = stopController(io);
  try {
    const id = "id" in input ? input.id : await resolveRoom(text, {
      ...(apiBase ? { apiBase } : {}),
      ...(mobileBase ? { mobileBase } : {}),
      signal: stop.signal,
    });
    await io.stdout(`${id}\n`);
    return OK;
  } catch (error) {
    if (stop.signal.reason === INTERRUPTED) return interruptCode(io);
    throw error;
  } finally {
    unlink();
  }
}

/**
 * The numeric ids of the rooms, deduplicated; names are looked up. With one
 * room a failed lookup is thrown; with several it is reported and the room
 * skipped. `undefined` when no room is left.
 */
export async function resolveRooms(
  rooms: string[],
  lookups: Lookups,
  io: CliIO,
  signal: AbortSignal,
): Promise<number[] | undefined> {
  const ids = new Set<number>();
  for (const text of rooms) {
    const input = parseRoom(text);
    if ("id" in input) {
      ids.add(input.id);
      continue;
    }
    // With --url and no --api-base nothing is asked (lookups.fetch refuses it), so nothing is needed.
    if (lookups.apiBase !== undefined || lookups.fetch === undefined) {
      needNet([hostOf(lookups.apiBase ?? DEFAULT_API_BASE)]);
    }
    try {
      // The text as typed, not the parsed name: `douyu.com/6657` is a name
      // (a "good number") to look up, while a bare `6657` is an id.
      const id = await resolveRoom(text, {
        ...(lookups.apiBase ? { apiBase: lookups.apiBase } : {}),
        ...(lookups.mobileBase ? { mobileBase: lookups.mobileBase } : {}),
        ...(lookups.fetch ? { fetch: lookups.fetch } : {}),
        signal,
      });
      ids.add(id);
      await say(io, `room ${input.name} is room ${id}`);
    } catch (error) {
      if (signal.aborted) return undefined;
      if (rooms.length === 1) throw error;
      await say(io, errorText(error));
    }
  }
  return ids.size > 0 ? [...ids] : undefined;
}
