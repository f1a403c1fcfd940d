/**
 * The overlay page's stylesheet (`GET /overlay.css`), as a string constant
 * that ships inside the package and the compiled binary.
 *
 * @module
 */

/**
 * The stylesheet (`GET /overlay.css`): a transparent page, the `default` and
 * `compact` themes. Everything is a class or a CSS variable, so a user
 * stylesheet can change any of it (see "Restyling with CSS" in docs/overlay.md).
 *
 * @example
 * ```ts
 * import { OVERLAY_CSS } from "./page_style.ts";
 *
 * console.log(OVERLAY_CSS.includes("background: transparent")); // true
 * ```
 */
export const OVERLAY_CSS: string =
  `/* douyu overlay: the built-in styles. Override any of it with the css= parameter. */
:root {
  --font: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "Source Han Sans SC", system-ui, sans-serif;
  --font-size: 20px;
  --gap: 6px;
  --radius: 10px;
  /* Cards are dark and nearly opaque: every text colour below keeps a contrast of at least
     4.5:1 on them over any backdrop, a white one included. */
  --line-background: rgba(18, 18, 26, 0.85);
  --text: #ffffff;
  --muted: #d8d8e0;
  --name: #ffd27a;
  --name-owner: #ff9eb5;
  --name-admin: #7fd4ff;
  --noble-1: #b9e6a0;
  --noble-2: #8fe0cf;
  --noble-3: #a9c8ff;
  --noble-4: #c9b3ff;
  --noble-5: #f0b0ff;
  --noble-6: #ffb27a;
  --noble-7: #ffe36e;
  --fan-1: #d5dce6;
  --fan-2: #a3e6bd;
  --fan-3: #9fd0ff;
  --fan-4: #d6bcff;
  --fan-5: #ffb8d6;
  --fan-badge-1: #4a5568;
  --fan-badge-2: #2f7a4f;
  --fan-badge-3: #2563a8;
  --fan-badge-4: #6b3fb0;
  --fan-badge-5: #a8326d;
  --level: #5b3fd9;
  --admin: #7fd4ff;
  --gift: #ffcf4a;
  --gift-high-background: rgba(52, 34, 0, 0.92);
  --gift-high-border: #ffcf4a;
  --tier-1: #1d4e9e;
  --tier-2: #0f6660;
  --tier-3: #7f5500;
  --tier-4: #943a0c;
  --tier-5: #a3201b;
  --tier-6: #8c1454;
}
html, body { margin: 0; padding: 0; height: 100%; background: transparent; overflow: hidden; }
body { font-family: var(--font); font-size: var(--font-size); color: var(--text); }
#overlay {
  position: fixed; inset: 0; box-sizing: border-box; padding: 8px;
  display: flex; flex-direction: column; gap: var(--gap);
}
/* The lines sit at the bottom of the viewport; new ones push the others up, smoothly: the script
   moves #messages down by the new lines' height and back up over a few frames. */
#viewport {
  position: relative; flex: 1; min-height: 0; overflow: hidden;
  mask-image: linear-gradient(to bottom, transparent 0, #000 2.5em);
}
#messages {
  position: absolute; left: 0; right: 0; bottom: 0;
  display: flex; flex-direction: column; align-items: flex-start; gap: var(--gap);
}
#pinned { display: flex; flex-wrap: wrap; gap: var(--gap); }
#pinned:empty { display: none; }

/* A card fits its content. */
.msg {
  box-sizing: border-box; max-width: 100%; flex: none;
  padding: 0.25em 0.6em; border-radius: var(--radius);
  background: var(--line-background); line-height: 1.45; overflow-wrap: anywhere;
  text-shadow: 0 1px 2px rgba(0, 0, 0, 0.8); animation: douyu-enter 0.25s ease-out;
}
.msg > *, .sc-head > * { vertical-align: middle; margin-right: 0.3em; }
.msg > :last-child, .sc-head > :last-child { margin-right: 0; }
.msg.fading { opacity: 0; transition: opacity 1s ease-in; }
@keyframes douyu-enter { from { opacity: 0; } }
.avatar { width: 1.5em; height: 1.5em; border-radius: 50%; object-fit: cover; }
.level {
  font-size: 0.7em; font-weight: 700; padding: 0 0.45em; border-radius: 0.7em;
  background: var(--level); color: #fff; text-shadow: none;
}
.badge {
  font-size: 0.7em; padding: 0 0.45em; border-radius: 0.3em; color: #fff;
  background: var(--fan-badge, transparent); border: 1px solid rgba(255, 255, 255, 0.6);
}

/* Names by role: the host, room admins, nobles by tier, the room's fans by badge level. */
.name { color: var(--name); font-weight: 700; }
[data-role="fan"] .name { color: var(--fan-name, var(--name)); }
[data-role="noble"] .name { color: var(--noble-name, var(--noble-1)); }
[data-role="admin"] .name { color: var(--name-admin); }
[data-role="owner"] .name { color: var(--name-owner); }
[data-fan-tier="1"] { --fan-name: var(--fan-1); --fan-badge: var(--fan-badge-1); }
[data-fan-tier="2"] { --fan-name: var(--fan-2); --fan-badge: var(--fan-badge-2); }
[data-fan-tier="3"] { --fan-name: var(--fan-3); --fan-badge: var(--fan-badge-3); }
[data-fan-tier="4"] { --fan-name: var(--fan-4); --fan-badge: var(--fan-badge-4); }
[data-fan-tier="5"] { --fan-name: var(--fan-5); --fan-badge: var(--fan-badge-5); }
[data-noble="1"] { --noble-name: var(--noble-1); }
[data-noble="2"] { --noble-name: var(--noble-2); }
[data-noble="3"] { --noble-name: var(--noble-3); }
[data-noble="4"] { --noble-name: var(--noble-4); }
[data-noble="5"] { --noble-name: var(--noble-5); }
[data-noble="6"] { --noble-name: var(--noble-6); }
[data-noble="7"] { --noble-name: var(--noble-7); }
.admin .name::before { content: "\\2605 "; color: var(--admin); }
.owner .name::before { content: "\\265B "; color: var(--name-owner); }
.chat .name::after { content: ":"; }
/* --user-color is the user's chosen colour, lightened by the script until it reads well. */
.chat .text { color: var(--user-color, var(--text)); }
.repeat { color: var(--gift); font-weight: 700; }
.enter { font-size: 0.85em; }
.enter .text, .action { color: var(--muted); }

/* Gifts by value: below ¥10 a compact line, ¥100 and more a highlighted card with a big icon. */
.gift .text { color: var(--gift); }
.gift .icon { height: 1.6em; vertical-align: middle; }
.gift .combo, .gift .value { font-size: 0.8em; }
.gift-low { font-size: 0.85em; padding: 0.1em 0.5em; }
.gift-low .icon { height: 1.3em; }
.gift-high {
  background: var(--gift-high-background); border: 2px solid var(--gift-high-border);
  box-shadow: 0 0 0.6em rgba(255, 207, 74, 0.45); padding: 0.3em 0.7em;
}
.gift-high .icon { height: 2.6em; }
.gift-high .gift-name, .gift-high .value { font-weight: 700; }
.gift-high .value { font-size: 1em; }

.superchat { background: var(--tier-color); min-width: 10em; }
.superchat .name { color: #fff; }
.superchat .sc-head { display: flex; align-items: center; }
.superchat .price { margin-left: auto; font-weight: 700; }
.superchat .text { display: block; margin-top: 0.2em; }
.tier-1 { --tier-color: var(--tier-1); }
.tier-2 { --tier-color: var(--tier-2); }
.tier-3 { --tier-color: var(--tier-3); }
.tier-4 { --tier-color: var(--tier-4); }
.tier-5 { --tier-color: var(--tier-5); }
.tier-6 { --tier-color: var(--tier-6); }
.pin {
  position: relative; overflow: hidden; display: flex; gap: 0.4em; align-items: center;
  padding: 0.15em 0.6em; border-radius: 1em; background: var(--tier-color); color: #fff;
  font-size: 0.75em; text-shadow: 0 1px 2px rgba(0, 0, 0, 0.6);
}
.pin .name { color: #fff; }
.pin .bar {
  position: absolute; left: 0; bottom: 0; height: 3px; width: 100%;
  background: rgba(255, 255, 255, 0.7); transform-origin: left;
  animation-name: douyu-countdown; animation-timing-function: linear; animation-fill-mode: forwards;
}
@keyframes douyu-countdown { to { transform: scaleX(0); } }
.live .text { font-weight: 700; }
#status {
  align-self: flex-start; display: flex; align-items: center; gap: 0.5em;
  font-size: 14px; padding: 0.2em 0.3em 0.2em 0.7em; border-radius: 0.4em;
  background: rgba(140, 30, 30, 0.85); color: #fff;
}
#status[hidden] { display: none; }
.status-close {
  border: 0; background: transparent; color: inherit; font-size: 16px; cursor: pointer; padding: 0 0.3em;
}
@media (prefers-reduced-motion: reduce) {
  .msg { animation: none; }
}

/* theme=compact: smaller lines, no cards, no avatars, outlined text */
.theme-compact { --font-size: 15px; --gap: 1px; }
.theme-compact .msg {
  padding: 0 0.2em; background: none; border: 0; box-shadow: none; border-radius: 0;
  text-shadow: -1px -1px 0 #000, 1px -1px 0 #000, -1px 1px 0 #000, 1px 1px 0 #000;
}
.theme-compact .avatar, .theme-compact .badge { display: none; }
.theme-compact .gift-high .icon { height: 1.6em; }
.theme-compact .superchat { background: none; border-left: 4px solid var(--tier-color); padding-left: 0.4em; }
.theme-compact .superchat .sc-head { display: inline; }
.theme-compact .superchat .text { display: inline; }
`;
