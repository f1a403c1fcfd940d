/**
 * The public surface, pinned: the values `mod.ts` and `@x/douyu/testing`
 * export. Adding or removing one is a decision about the published API, so it
 * must change this list too (types are pinned by `deno doc --lint` and the
 * type check). What the package's own code needs beyond it comes from
 * `internal_mod.ts`, which is not published as an entry.
 */
import assert from "node:assert/strict";
import { test } from "./harness.ts";

const CORE = [
  "BOOKKEEPING_TYPES",
  "CLIENT_MESSAGE_TYPE",
  "ClosedError",
  "ConnectionError",
  "DEFAULT_MAX_FRAME_SIZE",
  "DEFAULT_MAX_ROOMS",
  "DEFAULT_TCP_URLS",
  "DouyuError",
  "FrameDecoder",
  "GiftCatalog",
  "GiftCatalogCache",
  "GiftCatalogError",
  "Hub",
  "HubFullError",
  "KNOWN_TYPES",
  "LiveWatcher",
  "ProtocolError",
  "RepeatFolder",
  "RoomResolveError",
  "SERVER_MESSAGE_TYPE",
  "Session",
  "TimeoutError",
  "TlsError",
  "avatarUrl",
  "connect",
  "createFilter",
  "decodeStt",
  "defaultTransportFactory",
  "defaultUrls",
  "encodeFrame",
  "encodeStt",
  "escapeStt",
  "fetchGiftCatalog",
  "fetchRoomInfo",
  "giftOf",
  "isBadgeFromRoom",
  "isFromRoom",
  "isLikelyBot",
  "isType",
  "parseEndpoint",
  "parseMessage",
  "parseRoomInput",
  "peekType",
  "peekTypeBytes",
  "resolveRoom",
  "sanitizeForTerminal",
  "superChatOf",
  "toNumber",
  "unescapeStt",
  "userOf",
  "watchLive",
];

const TESTING = [
  "DEFAULT_LOGIN_RESPONSE",
  "MOCK_SERVER_LIMITS",
  "MockClient",
  "MockServer",
  "MockWebApi",
  "SAMPLE_ROOM",
  "defaultTransportFactory",
  "parseEndpoint",
  "samplePass",
  "sampleRecording",
];

function sorted(names: Iterable<string>): string[] {
  return [...names].sort();
}

test("public API: mod.ts exports exactly the curated values", async () => {
  const core = await import("../mod.ts");
  assert.deepEqual(sorted(Object.keys(core)), sorted(CORE));
});

test("public API: @x/douyu/testing exports exactly the curated values", async () => {
  const testing = await import("../src/testing/mod.ts");
  assert.deepEqual(sorted(Object.keys(testing)), sorted(TESTING));
});

test("public API: internal_mod.ts is mod.ts plus the internals, never less", async () => {
  const core = await import("../mod.ts");
  const internal = await import("../internal_mod.ts");
  for (const name of Object.keys(core)) {
    assert.ok(name in internal, `internal_mod.ts lacks ${name}`);
  }
  for (const name of ["decodeSttList", "decodeSttMapList", "decodeSttPairs", "routeSession"]) {
    assert.ok(name in internal && !(name in core), `${name} is internal`);
  }
});

test("public API: @x/douyu/archive exports exactly the curated values", async () => {
  const archive = await import("../src/archive/mod.ts");
  assert.deepEqual(Object.keys(archive).sort(), [
    "Archive",
    "ArchiveError",
    "EXPORT_FORMATS",
    "GapTracker",
    "collectExport",
    "exportAs",
    "exportAss",
    "exportCsv",
    "exportJsonl",
    "exportSrt",
    "exportTypes",
    "exportXml",
    "isStatus",
    "openArchive",
    "parseRetention",
    "statsPage",
  ]);
});
