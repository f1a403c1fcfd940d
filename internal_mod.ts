/**
 * Everything of `mod.ts`, plus what the package's own commands, tests and
 * benchmarks use but users should not build on: the codec's lower-level
 * decoders, the hub's hook into a session, the server side of the transport
 * seam. Not an entry of the published package (see `deno.json`'s
 * `exports`): these names may change in any release.
 *
 * @module
 */

export * from "./mod.ts";
export { decodeSttList, decodeSttMapList, decodeSttPairs } from "./src/protocol/stt.ts";
export {
  DEFAULT_WSS_PORTS,
  MAX_BYTES_BEFORE_LOGIN,
  type MessageSink,
  routeSession,
} from "./src/session/session.ts";
export type { ConnectionHandler, Listener } from "./src/transport/seam.ts";
