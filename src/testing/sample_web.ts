/**
 * What Douyu's web APIs say about the bundled sample room, in their shapes
 * (copied from real answers in `tests/fixtures/`), for {@linkcode MockWebApi}:
 * the `betard` room info, the open API's, the props config and the mobile
 * page. The gift list is {@linkcode sampleGiftList}. Titles, names and
 * pictures are invented.
 *
 * @module
 */
import { SAMPLE_ROOM } from "./sample.ts";

/** 2024-05-01 12:00:00 UTC: when the sample room went live, as the sample was recorded. */
const SHOW_TIME = Date.UTC(2024, 4, 1, 12, 0, 0) / 1000;
const TITLE = "样例直播间：一起聊天";
const OWNER = "样例主播";
const CATEGORY = "聊天";
const AVATAR = "https://apic.douyucdn.cn/upload/avatar_v3/202404/sample_";
const COVER = `https://rpic.douyucdn.cn/asrpic/240501/${SAMPLE_ROOM}_1200.png/dy1`;

/** What the sample room is doing: streaming, not, or playing a recording in a loop (a rerun). */
export type SampleRoomStatus = "live" | "offline" | "loop";

/**
 * `GET {apiBase}/betard/<room>`: the sample room's info under `roomId`. Douyu
 * marks a rerun as live too (`show_status` 1), with `videoLoop` 1 beside it.
 */
export function sampleBetard(roomId: number, status: SampleRoomStatus): string {
  return JSON.stringify({
    room: {
      room_id: roomId,
      room_name: TITLE,
      owner_uid: 40000,
      nickname: OWNER,
      status: "1",
      show_status: status === "offline" ? 2 : 1,
      show_time: SHOW_TIME,
      end_time: "0",
      videoLoop: status === "loop" ? 1 : 0,
      isVertical: 0,
      second_lvl_name: CATEGORY,
      avatar: {
        big: `${AVATAR}big.jpg`,
        middle: `${AVATAR}middle.jpg`,
        small: `${AVATAR}small.jpg`,
      },
      room_pic: COVER,
      coverSrc: COVER,
    },
  });
}

/**
 * `GET {openApiBase}/api/RoomApi/room/<room>`: the open API's answer for the
 * sample room under `roomId`. It cannot tell a rerun from live.
 */
export function sampleOpenApi(roomId: number, status: SampleRoomStatus): string {
  return JSON.stringify({
    error: 0,
    data: {
      room_id: String(roomId),
      room_thumb: COVER,
      cate_name: CATEGORY,
      room_name: TITLE,
      room_status: status === "offline" ? "2" : "1",
      // China time (UTC+8), as the open API writes it.
      start_time: "2024-05-01 20:00",
      owner_name: OWNER,
      avatar: `${AVATAR}big.jpg`,
      online: 1200,
    },
  });
}

/**
 * `GET {propsBase}/resource/common/prop_gift_list/prop_gift_config.json`:
 * the props config, a JSONP script. The sample sends no props, so it has none.
 */
export function samplePropsConfig(): string {
  return 'DYConfigCallback({"error":0,"msg":"","data":{}});';
}

/** `GET {mobileBase}/<name>`: the mobile page, with the room id in its embedded state. */
export function sampleMobilePage(roomId: number): string {
  return `<!DOCTYPE html><html><head><title>${TITLE}</title></head><body>` +
    `<script>window.$ROOM = {"rid":${roomId},"roomName":"${TITLE}"};</script></body></html>`;
}
