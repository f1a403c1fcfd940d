/**
 * The statistics of a range as one self-contained HTML page
 * (`douyu stats --html`): inline SVG charts of chat and revenue per minute
 * with the live, offline and gap periods shaded, the top gifters and
 * chatters, the gift mix, the busiest minutes and the totals. No script, no
 * outside request (the page's CSP says so too); every text from the archive
 * is escaped and isolated (`<bdi>`), so a name is shown as the text it is.
 *
 * Each number taken from the statistics carries `data-k`, its path in
 * `douyu stats --json` (`revenue.total`, `topGifters.0.value`): the
 * browser test checks each against the JSON.
 *
 * @module
 */

import { cleanName, cleanText } from "./export/common.ts";
import type { RoomStats, StatsTimeline } from "./stats.ts";

/** Minutes drawn one by one; a longer range is drawn in buckets of several. */
const MAX_POINTS = 720;
const CHART_W = 1160;
const CHART_H = 220;
const PAD_L = 76;
const PAD_B = 24;

/** Text fit for HTML: escaped, control characters gone. */
function text(value: string | number | null | undefined): string {
  return String(value ?? "")
    // deno-lint-ignore no-control-regex
    .replace(/[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/g, "")
    .replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

/** A count as the page shows it: digits grouped by thousands. */
export function formatCount(n: number): string {
  return Math.round(n).toString().replace(/\B(?=(\d{3})+(?!\d))/g, ",");
}

/** Yuan as the page shows them: `¥1,234.50`. */
export function formatYuan(yuan: number): string {
  const fen = Math.round(yuan * 100);
  const sign = fen < 0 ? "-" : "";
  const abs = Math.abs(fen);
  return `${sign}¥${formatCount(Math.floor(abs / 100))}.${String(abs % 100).padStart(2, "0")}`;
}

/** A time as the page shows it, UTC. */
function formatTime(t: number, withDate = true): string {
  const iso = new Date(t).toISOString();
  return withDate ? `${iso.slice(0, 10)} ${iso.slice(11, 16)}` : iso.slice(11, 16);
}

function num(path: string, value: number, shown = formatCount(value)): string {
  return `<span class="n" data-k="${text(path)}">${text(shown)}</span>`;
}

function yuanNum(path: string, value: number): string {
  return num(path, value, formatYuan(value));
}

function name(value: string | null, uid: number): string {
  // Invisible characters shown as escapes (`<U+200B>`), as everywhere else names are shown,
  // so that one name cannot pass for another.
  return value === null || value === ""
    ? `<bdi class="anon">#${uid}</bdi>`
    : `<bdi>${text(cleanName(value))}</bdi>`;
}

/** A shaded period of the charts. */
interface Period {
  from: number;
  to: number;
  kind: "live" | "offline" | "gap";
}

/** The live, offline and gap periods of the range. */
export function periodsOf(since: number, until: number, timeline: StatsTimeline): Period[] {
  const periods: Period[] = [];
  const live = [...timeline.live].sort((a, b) => a.t - b.t);
  for (let i = 0; i < live.length; i++) {
    const from = Math.max(since, live[i]!.t);
    const to = Math.min(until, live[i + 1]?.t ?? until);
    if (to > from) periods.push({ from, to, kind: live[i]!.live ? "live" : "offline" });
  }
  let gapFrom: number | undefined;
  for (const status of timeline.statuses) {
    if (["disconnected", "closed", "stopped"].includes(status.status)) gapFrom ??= status.t;
    else if (["connected", "started"].includes(status.status) && gapFrom !== undefined) {
      if (status.t > gapFrom) periods.push({ from: gapFrom, to: status.t, kind: "gap" });
      gapFrom = undefined;
    }
  }
  if (gapFrom !== undefined && until > gapFrom) {
    periods.push({ from: gapFrom, to: until, kind: "gap" });
  }
  return periods;
}

/** One per-minute series as an SVG chart (bars, in buckets when the range is long). */
function chart(
  title: string,
  stats: RoomStats,
  periods: Period[],
  value: (minute: RoomStats["perMinute"][number]) => number,
  label: (n: number) => string,
): string {
  const minutes = stats.perMinute;
  const bucket = Math.max(1, Math.ceil(minutes.length / MAX_POINTS));
  const points: number[] = [];
  for (let i = 0; i < minutes.length; i += bucket) {
    let sum = 0;
    for (let j = i; j < Math.min(minutes.length, i + bucket); j++) sum += value(minutes[j]!);
    points.push(sum);
  }
  const max = Math.max(0, ...points);
  const plotW = CHART_W - PAD_L;
  const plotH = CHART_H - PAD_B - 8;
  const span = Math.max(1, stats.until - stats.since);
  const x = (t: number) => PAD_L + ((t - stats.since) / span) * plotW;
  const barW = points.length === 0 ? 0 : plotW / points.length;
  const shades = periods.map((p) =>
    `<rect class="p-${p.kind}" x="${x(p.from).toFixed(1)}" y="8" width="${
      Math.max(1, x(p.to) - x(p.from)).toFixed(1)
    }" height="${plotH}"><title>${p.kind}: ${formatTime(p.from)}–${
      formatTime(p.to, false)
    } UTC</title></rect>`
  ).join("");
  const bars = points.map((n, i) => {
    if (n <= 0 || max <= 0) return "";
    const h = (n / max) * plotH;
    return `<rect class="bar" x="${(PAD_L + i * barW).toFixed(2)}" y="${
      (8 + plotH - h).toFixed(2)
    }" width="${Math.max(0.5, barW - (barW > 3 ? 1 : 0)).toFixed(2)}" height="${h.toFixed(2)}"/>`;
  }).join("");
  const ticks: string[] = [];
  const tickEvery = Math.max(1, Math.ceil(minutes.length / 8));
  for (let i = 0; i < minutes.length; i += tickEvery) {
    const tx = x(minutes[i]!.t);
    ticks.push(
      `<line class="tick" x1="${tx.toFixed(1)}" x2="${tx.toFixed(1)}" y1="${8 + plotH}" y2="${
        12 + plotH
      }"/><text class="axis" x="${tx.toFixed(1)}" y="${CHART_H - 4}" text-anchor="middle">${
        formatTime(minutes[i]!.t, false)
      }</text>`,
    );
  }
  const per = bucket === 1 ? "per minute" : `per ${bucket} minutes`;
  return `<figure class="chart">
<figcaption>${text(title)} <span class="muted">${per}</span></figcaption>
<svg viewBox="0 0 ${CHART_W} ${CHART_H}" role="img" aria-label="${text(title)} ${per}">
${shades}
<line class="base" x1="${PAD_L}" x2="${CHART_W}" y1="${8 + plotH}" y2="${8 + plotH}"/>
<text class="axis" x="${PAD_L - 6}" y="16" text-anchor="end">${text(label(max))}</text>
<text class="axis" x="${PAD_L - 6}" y="${8 + plotH}" text-anchor="end">0</text>
${bars}${ticks.join("")}
</svg></figure>`;
}

const STYLE = `
:root { color-scheme: light; --ink: #1d2433; --muted: #5b6474; --line: #d9dee7; --accent: #e8590c;
  --chat: #1c7ed6; --gift: #e8590c; }
* { box-sizing: border-box; }
body { margin: 0; font: 15px/1.45 system-ui, -apple-system, "Segoe UI", "PingFang SC",
  "Noto Sans CJK SC", "Microsoft YaHei", sans-serif; color: var(--ink); background: #f6f7f9; }
main { max-width: 1240px; margin: 0 auto; padding: 24px; }
header h1 { margin: 0 0 4px; font-size: 26px; }
.muted { color: var(--muted); font-weight: normal; font-size: 13px; }
.cards { display: grid; grid-template-columns: repeat(auto-fit, minmax(170px, 1fr)); gap: 12px;
  margin: 20px 0; }
.card { background: #fff; border: 1px solid var(--line); border-radius: 10px; padding: 12px 16px; }
.card { min-width: 0; }
.card .n { display: block; font-size: 20px; white-space: nowrap; font-weight: 650; font-variant-numeric: tabular-nums; }
.card .label { color: var(--muted); font-size: 13px; }
section, figure.chart { background: #fff; border: 1px solid var(--line); border-radius: 10px;
  padding: 14px 18px; margin: 0 0 16px; break-inside: avoid; }
figure.chart { margin: 0 0 16px; }
figcaption, h2 { font-size: 16px; font-weight: 650; margin: 0 0 8px; }
svg { width: 100%; height: auto; display: block; }
.bar { fill: var(--chat); }
.revenue .bar { fill: var(--gift); }
.p-live { fill: #2b8a3e; opacity: 0.10; }
.p-offline { fill: #868e96; opacity: 0.18; }
.p-gap { fill: #e03131; opacity: 0.22; }
.base, .tick { stroke: #adb5bd; stroke-width: 1; }
.axis { font-size: 11px; fill: var(--muted); }
.legend { display: flex; gap: 16px; font-size: 13px; color: var(--muted); margin: 0 0 12px; }
.legend i { display: inline-block; width: 12px; height: 12px; border-radius: 2px; margin-right: 5px;
  vertical-align: -1px; }
.grid { display: grid; grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 16px; }
.grid > section { margin: 0; }
table { width: 100%; border-collapse: collapse; font-variant-numeric: tabular-nums; }
th, td { text-align: left; padding: 4px 6px; border-bottom: 1px solid var(--line); }
th { font-size: 12px; color: var(--muted); font-weight: 600; }
td.r, th.r { text-align: right; }
td bdi { display: inline-block; max-width: 22ch; overflow: hidden; text-overflow: ellipsis;
  white-space: nowrap; vertical-align: bottom; }
.anon { color: var(--muted); }
.mix { display: grid; grid-template-columns: minmax(6em, 14em) 1fr auto; gap: 4px 10px;
  align-items: center; }
.mix .track { background: #f1f3f5; border-radius: 4px; height: 12px; }
.mix .fill { background: var(--gift); border-radius: 4px; height: 12px; }
footer { color: var(--muted); font-size: 12px; margin-top: 8px; }
@media (max-width: 900px) { .grid { grid-template-columns: 1fr; } }
@page { size: A4; margin: 12mm; }
@media print {
  body { background: #fff; font-size: 10.5pt; }
  main { max-width: none; padding: 0; }
  .card, section, figure.chart { border-color: #ccc; }
  .cards { grid-template-columns: repeat(3, 1fr); }
  .card .n { font-size: 16px; }
  .grid { grid-template-columns: repeat(2, minmax(0, 1fr)); gap: 10px; }
  section, figure.chart { padding: 8px 10px; }
  th, td { padding: 2px 3px; }
  td bdi { max-width: 12ch; }
  .mix { grid-template-columns: minmax(4em, 8em) 1fr auto; }
  .bar, .fill, .p-live, .p-offline, .p-gap { print-color-adjust: exact; -webkit-print-color-adjust: exact; }
}`;

/**
 * The page of a room's statistics.
 *
 * @param stats What `douyu stats --json` prints.
 * @param timeline The status changes and live changes of the range (see `Archive.stats`).
 * @returns One HTML document, with nothing to fetch.
 *
 * @example
 * ```ts
 * import { statsPage } from "./stats_page.ts";
 * import { summarize } from "./stats.ts";
 *
 * const stats = summarize(9999, 0, 60_000, { minutes: [], gifts: [], users: [] });
 * const html = statsPage(stats, { statuses: [], live: [] });
 * console.log(html.startsWith("<!doctype html>")); // true
 * ```
 */
export function statsPage(stats: RoomStats, timeline: StatsTimeline): string {
  const periods = periodsOf(stats.since, stats.until, timeline);
  const messages = Object.entries(stats.messages).sort((a, b) => b[1] - a[1]);
  const cards = [
    ["chat messages", num("messages.chatmsg", stats.messages.chatmsg ?? 0)],
    ["unique chatters", num("chatters", stats.chatters)],
    ["revenue", yuanNum("revenue.total", stats.revenue.total)],
    ["super chats", `${num("superChats.count", stats.superChats.count)}`],
    ["super chat value", yuanNum("superChats.value", stats.superChats.value)],
    ["gift kinds", num("revenue.byGift.length", stats.revenue.byGift.length)],
  ].map(([label, value]) => `<div class="card">${value}<span class="label">${label}</span></div>`)
    .join("");
  const chatters = stats.topChatters.map((user, i) =>
    `<tr><td>${i + 1}</td><td>${name(user.name, user.uid)}</td><td class="r">${
      num(`topChatters.${i}.uid`, user.uid, String(user.uid))
    }</td><td class="r">${num(`topChatters.${i}.count`, user.count)}</td></tr>`
  ).join("");
  const gifters = stats.topGifters.map((user, i) =>
    `<tr><td>${i + 1}</td><td>${name(user.name, user.uid)}</td><td class="r">${
      num(`topGifters.${i}.count`, user.count)
    }</td><td class="r">${yuanNum(`topGifters.${i}.value`, user.value)}</td></tr>`
  ).join("");
  const topValue = Math.max(0, ...stats.revenue.byGift.map((gift) => gift.value));
  const mix = stats.revenue.byGift.map((gift, i) =>
    `<span><bdi>${
      gift.id === "superchat" ? "super chat" : text(cleanText(gift.name ?? "gift"))
    }</bdi>${gift.id === "superchat" ? "" : ` <span class="muted">#${text(gift.id)}</span>`}</span>
<div class="track"><div class="fill" style="width:${
      topValue > 0 ? ((gift.value / topValue) * 100).toFixed(1) : "0"
    }%"></div></div>
<span>×${num(`revenue.byGift.${i}.count`, gift.count)} · ${
      yuanNum(`revenue.byGift.${i}.value`, gift.value)
    }</span>`
  ).join("\n");
  const busiest = stats.perMinute.map((minute, i) => ({ minute, i }))
    .filter(({ minute }) => minute.chat > 0 || minute.gifts > 0)
    .sort((a, b) => b.minute.chat - a.minute.chat || b.minute.value - a.minute.value || a.i - b.i)
    .slice(0, 10)
    .map(({ minute, i }) =>
      `<tr><td>${formatTime(minute.t)}</td><td class="r">${
        num(`perMinute.${i}.chat`, minute.chat)
      }</td><td class="r">${num(`perMinute.${i}.gifts`, minute.gifts)}</td><td class="r">${
        yuanNum(`perMinute.${i}.value`, minute.value)
      }</td></tr>`
    ).join("");
  const types = messages.map(([type, n]) =>
    `<tr><td><code>${text(type)}</code></td><td class="r">${num(`messages.${type}`, n)}</td></tr>`
  ).join("");
  const minutes = Math.round((stats.until - stats.since) / 60_000);
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta http-equiv="Content-Security-Policy" content="default-src 'none'; style-src 'unsafe-inline'; img-src data:">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Room ${stats.room}: statistics</title>
<style>${STYLE}</style></head>
<body><main>
<header><h1>Room ${num("room", stats.room, String(stats.room))}</h1>
<div class="muted"><time data-k="since" datetime="${new Date(stats.since).toISOString()}">${
    formatTime(stats.since)
  }</time> → <time data-k="until" datetime="${new Date(stats.until).toISOString()}">${
    formatTime(stats.until)
  }</time> UTC · ${minutes} minutes</div></header>
<div class="cards">${cards}</div>
<div class="legend"><span><i style="background:#2b8a3e33"></i>live</span><span><i style="background:#868e964d"></i>offline</span><span><i style="background:#e0313166"></i>gap (not recorded)</span></div>
${chart("Chat messages", stats, periods, (m) => m.chat, formatCount)}
<div class="revenue">${chart("Revenue", stats, periods, (m) => m.value, formatYuan)}</div>
<div class="grid">
<section><h2>Top gifters</h2><table><thead><tr><th>#</th><th>name</th><th class="r">gifts</th><th class="r">value</th></tr></thead><tbody>${
    gifters || '<tr><td colspan="4" class="muted">no gifts</td></tr>'
  }</tbody></table></section>
<section><h2>Top chatters</h2><table><thead><tr><th>#</th><th>name</th><th class="r">uid</th><th class="r">messages</th></tr></thead><tbody>${
    chatters || '<tr><td colspan="4" class="muted">no chat</td></tr>'
  }</tbody></table></section>
<section><h2>Gift mix</h2><div class="mix">${
    mix || '<span class="muted">no gifts</span>'
  }</div></section>
<section><h2>Busiest minutes</h2><table><thead><tr><th>minute (UTC)</th><th class="r">chat</th><th class="r">gifts</th><th class="r">value</th></tr></thead><tbody>${busiest}</tbody></table></section>
<section><h2>Messages by type</h2><table><tbody>${types}</tbody></table></section>
</div>
<footer>Made by douyu stats from the archive's stored prices (yuan, as priced when each gift arrived).</footer>
</main></body></html>
`;
}
