/**
 * Splitting what users type (`yyf`, `douyu.com/6657`, a room URL) into a
 * room id to use as is or a name to look up, without any network access.
 *
 * @module
 */

import { RoomResolveError } from "./errors.ts";
import { quote } from "./http.ts";

/**
 * What {@linkcode parseRoomInput} found: a room id to use as is, or a name (or
 * "good number") that must be looked up.
 *
 * @example
 * ```ts
 * import { parseRoomInput, type RoomInput } from "@x/douyu";
 *
 * const parsed: RoomInput = parseRoomInput("douyu.com/yyf");
 * console.log("name" in parsed ? parsed.name : parsed.id); // "yyf"
 * ```
 */
export type RoomInput = { id: number } | { name: string };

const MAX_INPUT_LENGTH = 100;
// Pretty names are short ASCII words; anything else cannot be one, and
// refusing it early keeps odd text out of the request URL.
const NAME = /^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$/;
const DIGITS = /^\d+$/;
const HAS_SCHEME = /^[A-Za-z][A-Za-z\d+.-]*:\/\//;
const WHITESPACE = /\s/;

/**
 * Splits what a user typed into a room id or a name to look up, without any
 * network access. A bare number (`9999`, `"9999"`) is an id; a number in a
 * URL path (`douyu.com/6657`) is a name, since such "good numbers" differ
 * from the real room id; a `rid` query parameter (`/topic/xxx?rid=123`) is an
 * id and wins over the path. Accepted hosts are `douyu.com` and its
 * subdomains, with or without `http(s)://`, trailing slash, query or hash.
 *
 * @param input A room id, name or Douyu URL.
 * @returns `{ id }` or `{ name }`.
 * @throws {RoomResolveError} Empty, longer than 100 characters, containing
 * whitespace, a non-Douyu URL, or no room in it.
 *
 * @example
 * ```ts
 * import { parseRoomInput } from "@x/douyu";
 *
 * console.log(parseRoomInput(9999)); // { id: 9999 }
 * console.log(parseRoomInput("https://www.douyu.com/6657")); // { name: "6657" }
 * console.log(parseRoomInput("douyu.com/topic/s13?rid=123")); // { id: 123 }
 * ```
 */
export function parseRoomInput(input: string | number): RoomInput {
  if (typeof input === "number") {
    if (Number.isSafeInteger(input) && input > 0) return { id: input };
    throw invalid(input, "not a positive integer room id");
  }
  if (typeof input !== "string") throw invalid(String(input), "not a string or number");
  if (input.length > MAX_INPUT_LENGTH) {
    throw invalid(input, `longer than ${MAX_INPUT_LENGTH} characters`);
  }
  const text = input.trim();
  if (text === "") throw invalid(input, "empty");
  if (WHITESPACE.test(text)) throw invalid(input, "contains whitespace");
  if (DIGITS.test(text)) {
    const id = Number(text);
    if (Number.isSafeInteger(id) && id > 0) return { id };
    throw invalid(input, "not a positive integer room id");
  }
  // Anything that cannot be a URL is a bare name.
  if (!/[./:?#]/.test(text)) {
    if (NAME.test(text)) return { name: text };
    throw invalid(input, "not a room name");
  }
  return parseRoomUrl(input, text);
}

function parseRoomUrl(input: string, text: string): RoomInput {
  const href = HAS_SCHEME.test(text)
    ? text
    : text.startsWith("//")
    ? `https:${text}`
    : `https://${text}`;
  let url: URL;
  try {
    url = new URL(href);
  } catch {
    throw invalid(input, "not a valid URL");
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") {
    throw invalid(input, "not an http(s) URL");
  }
  const host = url.hostname.toLowerCase();
  if (host !== "douyu.com" && !host.endsWith(".douyu.com")) {
    throw invalid(input, "not a douyu.com URL");
  }
  // Userinfo in a link is a classic disguise for another host; refuse rather than guess.
  if (url.username !== "" || url.password !== "") throw invalid(input, "URL has credentials");
  const rid = url.searchParams.get("rid");
  if (rid !== null && DIGITS.test(rid)) {
    const id = Number(rid);
    if (Number.isSafeInteger(id) && id > 0) return { id };
  }
  const segments = url.pathname.split("/").filter((s) => s !== "");
  // Room pages are one segment deep; deeper paths (e.g. `/topic/xxx`) name
  // something else and carry the room only in `rid`, handled above.
  if (segments.length === 1 && NAME.test(segments[0])) return { name: segments[0] };
  throw invalid(input, "no room in URL");
}

export function invalid(input: string | number, reason: string): RoomResolveError {
  return new RoomResolveError(`invalid room ${quote(input)}: ${reason}`);
}
