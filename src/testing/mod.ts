/**
 * Test your Douyu bot offline: {@linkcode MockServer} is a barrage server on
 * 127.0.0.1 that speaks the real protocol (login, heartbeats, `joingroup`),
 * streams the messages you script or a recording you replay, records what
 * your bot sent, and can misbehave on demand (packets split across reads,
 * coalesced, cut by a hang-up, garbage, a silent half-open peer) so you can
 * test reconnection too.
 *
 * {@linkcode MockWebApi} stands in for Douyu's web APIs the same way (room
 * info and live status, name lookups, the gift list and props config), for
 * the bundled sample room that {@linkcode samplePass} and
 * {@linkcode sampleRecording} play.
 *
 * Point your client's `url` option at {@linkcode MockServer.url}:
 *
 * ```ts ignore
 * import { connect } from "@x/douyu";
 * import { MockServer } from "@x/douyu/testing";
 *
 * Deno.test("the bot greets chatters", async () => {
 *   await using server = await MockServer.start({
 *     messages: [{ type: "chatmsg", uid: 1, nn: "Ann", txt: "hello" }],
 *   });
 *   const session = await connect(9999, { url: server.url });
 *   const client = await server.nextClient(); // the bot's connection, once it joined
 *   console.log(client.received[0]?.type); // "loginreq"
 *   // … check what the bot did with Ann's message …
 *   client.close(); // and check that it reconnects:
 *   const again = await server.nextClient();
 *   console.log(again.id); // 2
 *   await session.close();
 * });
 * ```
 *
 * The same at the byte level, with the transport and codec this package uses:
 *
 * ```ts
 * import { encodeFrame, FrameDecoder } from "@x/douyu";
 * import { defaultTransportFactory, MockServer, parseEndpoint } from "@x/douyu/testing";
 *
 * const server = await MockServer.start({ messages: [{ type: "chatmsg", nn: "Ann", txt: "hi" }] });
 * const conn = await defaultTransportFactory(parseEndpoint(server.url), {});
 * await conn.write(encodeFrame("type@=loginreq/roomid@=9999/"));
 * await conn.write(encodeFrame("type@=joingroup/rid@=9999/gid@=-9999/"));
 * const decoder = new FrameDecoder();
 * const bodies: string[] = [];
 * for (let chunk; bodies.length < 3 && (chunk = await conn.read());) {
 *   for (const frame of decoder.push(chunk)) bodies.push(frame.body);
 * }
 * console.log(bodies[2]); // "type@=chatmsg/nn@=Ann/txt@=hi/"
 * conn.close();
 * await server.close();
 * ```
 *
 * @module
 */

export {
  DEFAULT_LOGIN_RESPONSE,
  MOCK_SERVER_LIMITS,
  MockClient,
  type MockMessage,
  type MockMessageSource,
  type MockProtocol,
  MockServer,
  type MockServerOptions,
  type NextClientOptions,
  type RecordedLine,
  type SendFramesMode,
  type WaitForOptions,
} from "./mock_server.ts";
export { SAMPLE_ROOM, samplePass, sampleRecording } from "./sample.ts";
export {
  type MockRoomStatus,
  MockWebApi,
  type MockWebApiBases,
  type MockWebApiName,
  type MockWebApiOptions,
} from "./web_api.ts";
export type { SttValue } from "../protocol/stt.ts";
export {
  type Endpoint,
  parseEndpoint,
  type Transport,
  type TransportConnectOptions,
  type TransportFactory,
} from "../transport/seam.ts";
export { defaultTransportFactory } from "../transport/default.ts";
