/**
 * Test and bench data for the exports: real messages of the capture,
 * turned into timed items, with hostile chats and connection gaps mixed in.
 */
import type { TimedItem, TimedMessage } from "../src/archive/timed.ts";
import { parseMessage } from "../src/protocol/messages.ts";
import { encodeStt } from "../src/protocol/stt.ts";
import { sampleRecording } from "../src/testing/sample.ts";
import { capture } from "./fixtures.ts";

/** The capture's room. */
export const CAPTURE_ROOM = 102965;

/** Chat texts that break formats that do not escape: XML, ASS, SRT and CSV markup, controls. */
export const HOSTILE_TEXTS: readonly string[] = [
  "a<b & c>d \"quoted\" 'single'",
  "{\\an8}{\\pos(0,0)}override \\N break \\h",
  "<i>italic</i> <font color=red>red</font> <script>x</script>",
  "-->\n00:00:00,000 --> 00:00:01,000\ninjected",
  '=HYPERLINK("http://x","y")',
  "+1, -1, @all",
  "ctrl\u0000\u0001\u0007\u001b[31m\u007f\u0085\u009b end",
  "bidi \u202eevil\u202c zero\u200bwidth \ufeffbom \ufffe\uffff",
  "lone \ud800 surrogate",
  "emoji 👨‍👩‍👧 😀 主播666 ３３３",
  "   ",
  "",
  'comma,quote""double',
  "-- comment -- end-",
  "]]> <![CDATA[ x ]]>",
];

/** A chat from `uid`, as parsed from real wire text. */
export function chat(uid: number, name: string, text: string, col = "0"): TimedMessage["message"] {
  return parseMessage(
    encodeStt({ type: "chatmsg", rid: CAPTURE_ROOM, uid, nn: name, txt: text, level: 12, col }),
  );
}

/**
 * The capture's 332 messages (every type), the demo sample's chats and
 * the hostile texts, at about one chat a second, with a disconnect of 6 s
 * and a dropped-messages loss. Times start at `t0`.
 */
export async function exportItems(t0 = Date.UTC(2024, 4, 1, 12, 0, 0)): Promise<TimedItem[]> {
  const items: TimedItem[] = [{
    t: t0,
    room: CAPTURE_ROOM,
    status: "connected",
    detail: "tcp://x",
  }];
  let t = t0 + 500;
  for (const line of await capture()) {
    items.push({ t, room: CAPTURE_ROOM, message: parseMessage(line.body) });
    t += 137;
  }
  for (const line of sampleRecording()) {
    const message = parseMessage(line.body);
    if (message.type !== "chatmsg") continue;
    items.push({ t, room: CAPTURE_ROOM, message });
    t += 733;
  }
  items.push({ t, room: CAPTURE_ROOM, status: "disconnected", detail: "read ECONNRESET" });
  t += 6000;
  items.push({ t, room: CAPTURE_ROOM, status: "reconnecting", detail: "attempt 1" });
  items.push({ t, room: CAPTURE_ROOM, status: "connected", detail: "tcp://y" });
  HOSTILE_TEXTS.forEach((text, i) => {
    t += 911;
    items.push({
      t,
      room: CAPTURE_ROOM,
      message: chat(1000 + i, `hostile<${i}>\u200b`, text, "1"),
    });
  });
  items.push({ t: t + 5, room: CAPTURE_ROOM, status: "dropped", detail: "12 messages" });
  items.push({
    t: t + 700,
    room: CAPTURE_ROOM,
    message: parseMessage(
      encodeStt({
        type: "comm_chatmsg",
        rid: CAPTURE_ROOM,
        btype: "voiceDanmu",
        cprice: 3000,
        cet: 60,
        chatmsg: encodeStt({ nn: "SC<fan>", uid: 77, txt: "super {chat} & more" }),
      }),
    ),
  });
  return items;
}

/** Whether an item is a chat or a super chat: what ASS, SRT and XML show as chat. */
export function isChatItem(item: TimedItem): item is TimedMessage {
  if (!("message" in item)) return false;
  return item.message.type === "chatmsg" ||
    (item.message.type === "comm_chatmsg" && Number(item.message.cprice) > 0);
}
