/**
 * The overlay page's stylesheet (`GET /overlay.css`), as a string constant
 * that ships inside the package and the compiled binary.
 *
 * @module
 */

/**
 * The stylesheet (`GET /overlay.css`): a transparent page, the `default` and
 * `compact` themes. Everything is a class or a CSS variable, so a user
 * stylesheet can change any of it (see the README's DOM contract).
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
  --text: #ffffff;
  --name: #ffd27a;
  --line-background: rgba(20, 20, 28, 0.55);
  --radius: 10px;
  --gap: 6px;
  --level: #7b61ff;
  --admin: #ff9f43;
  --gift: #ffcf4a;
  --tier-1: #2a6fdb;
  --tier-2: #1fa7a0;
  --tier-3: #e0a82e;
  --tier-4: #e8702a;
  --tier-5: #e2453c;
  --tier-6: #b8206b;
}
html, body { margin: 0; padding: 0; background: transparent; overflow: hidden; }
body { font-family: var(--font); font-size: var(--font-size); color: var(--text); }
#overlay {
  position: fixed; inset: 0; box-sizing: border-box; padding: 8px;
  display: flex; flex-direction: column; gap: var(--gap);
}
#messages {
  flex: 1; min-height: 0; overflow: hidden;
  display: flex; flex-direction: column; justify-content: flex-end; gap: var(--gap);
}
#pinned { display: flex; flex-wrap: wrap; gap: var(--gap); }
#pinned:empty { display: none; }
#messages { mask-image: linear-gradient(to bottom, transparent 0, #000 2.5em); }
.msg {
  display: block; flex: none; padding: 0.25em 0.6em; border-radius: var(--radius);
  background: var(--line-background); line-height: 1.45; overflow-wrap: anywhere;
  text-shadow: 0 1px 2px rgba(0, 0, 0, 0.8); animation: douyu-enter 0.25s ease-out;
}
.msg > *, .sc-head > * { vertical-align: middle; margin-right: 0.3em; }
.msg > :last-child { margin-right: 0; }
.msg.fading { opacity: 0; transition: opacity 1s ease-in; }
@keyframes douyu-enter { from { opacity: 0; transform: translateY(0.5em); } }
.avatar { width: 1.5em; height: 1.5em; border-radius: 50%; object-fit: cover; }
.level {
  font-size: 0.7em; font-weight: 700; padding: 0 0.45em; border-radius: 0.7em;
  background: var(--level); color: #fff; text-shadow: none;
}
.badge {
  font-size: 0.7em; padding: 0 0.45em; border-radius: 0.3em;
  border: 1px solid rgba(255, 255, 255, 0.6);
}
.name { color: var(--name); font-weight: 700; }
.admin .name::before { content: "\\2605 "; color: var(--admin); }
.chat .name::after { content: ":"; }
.chat .text { color: var(--user-color, var(--text)); }
.repeat { color: var(--gift); font-weight: 700; }
.enter { opacity: 0.8; font-size: 0.85em; }
.gift .text { color: var(--gift); }
.gift .icon { height: 1.5em; vertical-align: middle; }
.gift .combo, .gift .value { font-size: 0.8em; }
.superchat { background: var(--tier-color); display: block; }
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
  padding: 0.15em 0.6em; border-radius: 1em; background: var(--tier-color);
  font-size: 0.75em; text-shadow: 0 1px 2px rgba(0, 0, 0, 0.6);
}
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

/* theme=compact: smaller lines, no cards, no avatars, outlined text */
.theme-compact { --font-size: 15px; --gap: 1px; }
.theme-compact .msg {
  padding: 0 0.2em; background: none; border-radius: 0;
  text-shadow: -1px -1px 0 #000, 1px -1px 0 #000, -1px 1px 0 #000, 1px 1px 0 #000;
}
.theme-compact .avatar, .theme-compact .badge { display: none; }
.theme-compact .superchat { background: none; border-left: 4px solid var(--tier-color); padding-left: 0.4em; }
.theme-compact .superchat .sc-head { display: inline; }
.theme-compact .superchat .text { display: inline; }
`;
