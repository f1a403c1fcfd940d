/**
 * The overlay page: its HTML, stylesheet and script, as string constants so
 * that they ship inside the package and the compiled binary (nothing is read
 * from disk at run time). No framework; the script is plain, readable
 * JavaScript that runs as is in any current browser, OBS's included.
 *
 * @module
 */

/**
 * The page (`GET /`). Its stylesheet and script are `overlay.css` and
 * `overlay.js` beside it; a user stylesheet (`css` parameter) is added after
 * them by the script.
 *
 * @example
 * ```ts
 * import { OVERLAY_HTML } from "./page.ts";
 *
 * console.log(OVERLAY_HTML.includes('id="messages"')); // true
 * ```
 */
export const OVERLAY_HTML: string = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>douyu overlay</title>
<link rel="stylesheet" href="overlay.css">
<script src="overlay.js" defer></script>
</head>
<body>
<div id="overlay" class="theme-default">
  <div id="status" hidden><span class="status-text"></span><button class="status-close" type="button" title="dismiss">×</button></div>
  <div id="pinned"></div>
  <div id="messages"></div>
</div>
</body>
</html>
`;

/**
 * The stylesheet (`GET /overlay.css`): a transparent page, the `default` and
 * `compact` themes. Everything is a class or a CSS variable, so a user
 * stylesheet can change any of it (see "Restyling with CSS" in docs/overlay.md).
 *
 * @example
 * ```ts
 * import { OVERLAY_CSS } from "./page.ts";
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

/**
 * The script (`GET /overlay.js`): reads the page's parameters, opens the
 * event stream (reconnecting with backoff and jitter), and shows each event
 * as an element built with text nodes only (never HTML), smoothed over a few
 * frames, at most `max` of them.
 *
 * @example
 * ```ts
 * import { OVERLAY_JS } from "./page.ts";
 *
 * console.log(OVERLAY_JS.includes("innerHTML")); // false: text is set as text
 * ```
 */
export const OVERLAY_JS: string = String
  .raw`// douyu overlay: the page script. Plain JavaScript, no framework, no build step.
(function () {
  "use strict";

  var query = new URLSearchParams(location.search);
  var pageProblems = [];

  function numberParam(name, fallback, min, max) {
    var text = query.get(name);
    if (text === null || text.trim() === "") return fallback;
    var n = Number(text);
    if (!isFinite(n) || n < min || n > max) {
      pageProblems.push(name + ": " + JSON.stringify(text) + " is not a number from " + min +
        " to " + max + " (using " + fallback + ")");
      return fallback;
    }
    return n;
  }

  function flagParam(name, fallback) {
    var text = query.get(name);
    if (text === null || text.trim() === "") return fallback;
    var value = text.trim().toLowerCase();
    if (["1", "true", "yes", "on"].indexOf(value) >= 0) return true;
    if (["0", "false", "no", "off"].indexOf(value) >= 0) return false;
    pageProblems.push(name + ": " + JSON.stringify(text) + " is not 0 or 1");
    return fallback;
  }

  function choiceParam(name, choices) {
    var text = query.get(name);
    if (text === null || text === "") return choices[0];
    if (choices.indexOf(text) >= 0) return text;
    pageProblems.push(name + ": " + JSON.stringify(text) + " is not one of " + choices.join(", "));
    return choices[0];
  }

  var settings = {
    max: Math.floor(numberParam("max", 50, 1, 1000)),
    fade: numberParam("fade", 0, 0, 86400),
    avatars: flagParam("avatars", true),
    icons: flagParam("icons", true),
    status: flagParam("status", true),
    theme: choiceParam("theme", ["default", "compact"]),
    lang: choiceParam("lang", ["zh", "en"]),
  };
  // Filtering happens on the server, per page: these go along to the stream.
  var STREAM_PARAMS = ["minGift", "enter", "block", "blockUsers", "minLevel", "fold"];

  var TEXTS = {
    zh: {
      enter: "进入了直播间", sent: "送出", combo: "连击", live: "开播了", offline: "下播了",
      loop: "正在轮播", connecting: "正在连接弹幕服务…",
      disconnected: "与弹幕服务断开，正在重连…", room: "房间 ",
      roomDown: "：与斗鱼的连接断开", roomOffline: "：未开播", roomLoop: "：轮播中",
    },
    en: {
      enter: "entered", sent: "sent", combo: "combo", live: "is live", offline: "went offline",
      loop: "is replaying a recording", connecting: "connecting to the overlay…",
      disconnected: "disconnected from the overlay, reconnecting…", room: "room ",
      roomDown: ": connection to Douyu lost", roomOffline: ": offline", roomLoop: ": rerun",
    },
  }[settings.lang];

  var root = document.getElementById("overlay");
  var list = document.getElementById("messages");
  var pinned = document.getElementById("pinned");
  var statusBox = document.getElementById("status");
  var statusText = statusBox.querySelector(".status-text");
  root.className = "theme-" + settings.theme;

  // The user's stylesheet comes last, so it wins over the built-in styles.
  var cssParam = query.get("css");
  if (cssParam) {
    var cssUrl = null;
    try {
      cssUrl = new URL(cssParam, location.href);
    } catch (error) {
      cssUrl = null;
    }
    if (cssUrl && (cssUrl.protocol === "http:" || cssUrl.protocol === "https:")) {
      var link = document.createElement("link");
      link.rel = "stylesheet";
      link.href = cssUrl.href;
      document.head.appendChild(link);
    } else {
      pageProblems.push("css: " + JSON.stringify(cssParam) + " is not an http(s) URL");
    }
  }

  // ---------------------------------------------------------------------------
  // Building elements. Text from the network only ever goes into text nodes.

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function image(className, src) {
    var img = el("img", className);
    img.alt = "";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("error", function () { img.remove(); });
    img.src = src;
    return img;
  }

  function money(value) {
    return "¥" + (Number.isInteger(value) ? String(value) : value.toFixed(2));
  }

  function appendUser(node, user, withLevel) {
    if (settings.avatars && user.avatar) node.appendChild(image("avatar", user.avatar));
    if (withLevel && typeof user.level === "number") node.appendChild(el("span", "level", user.level));
    if (user.badge) {
      var badge = el("span", "badge", user.badge.name);
      if (typeof user.badge.level === "number") badge.appendChild(el("b", "", " " + user.badge.level));
      node.appendChild(badge);
    }
    node.appendChild(el("span", "name", user.name));
  }

  function line(event, extraClass) {
    var node = el("div", "msg " + event.type + (extraClass ? " " + extraClass : ""));
    node.setAttribute("data-type", event.type);
    node.setAttribute("data-id", event.id);
    node.setAttribute("data-room", String(event.room));
    if (event.user && event.user.uid) node.setAttribute("data-uid", event.user.uid);
    if (event.user && event.user.admin) node.classList.add("admin");
    if (event.user && event.user.noble) node.setAttribute("data-noble", String(event.user.noble));
    return node;
  }

  function giftText(gift, node) {
    node.textContent = "";
    if (settings.icons && gift.icon) node.appendChild(image("icon", gift.icon));
    node.appendChild(el("span", "gift-name", gift.name));
    node.appendChild(el("span", "count", " ×" + gift.count));
    if (gift.combo > 1) node.appendChild(el("span", "combo", " " + TEXTS.combo + " " + gift.combo));
    if (typeof gift.value === "number" && gift.value > 0) {
      node.appendChild(el("span", "value", " " + money(gift.value)));
    }
  }

  var build = {
    chat: function (event) {
      var node = line(event);
      appendUser(node, event.user, true);
      var text = el("span", "text", event.text);
      node.appendChild(text);
      // Only one of six fixed colours (#rrggbb), never a string from the wire.
      if (event.color && /^#[0-9a-f]{6}$/i.test(event.color)) node.style.setProperty("--user-color", event.color);
      var repeat = el("span", "repeat");
      repeat.hidden = true;
      node.appendChild(repeat);
      return node;
    },
    enter: function (event) {
      var node = line(event);
      appendUser(node, event.user, true);
      node.appendChild(el("span", "text", TEXTS.enter));
      return node;
    },
    gift: function (event) {
      var node = line(event);
      appendUser(node, event.user, false);
      node.appendChild(el("span", "action", TEXTS.sent));
      var text = el("span", "text");
      giftText(event.gift, text);
      node.appendChild(text);
      return node;
    },
    superchat: function (event) {
      var node = line(event, "tier-" + event.tier);
      var head = el("div", "sc-head");
      appendUser(head, event.user, false);
      head.appendChild(el("span", "price", money(event.price)));
      node.appendChild(head);
      node.appendChild(el("div", "text", event.text));
      return node;
    },
    live: function (event) {
      var node = line(event);
      node.setAttribute("data-state", event.state);
      node.appendChild(el("span", "text", TEXTS.room + event.room + " " + TEXTS[event.state]));
      return node;
    },
  };

  // ---------------------------------------------------------------------------
  // Lines on screen: at most settings.max, the oldest first to go.

  var byId = new Map(); // id -> element, for the lines on screen
  var shownAt = new WeakMap(); // element -> when it was shown (performance.now())
  var combos = new Map(); // room:uid:gift -> { node, at, count, value }
  var COMBO_WINDOW = 10000;

  function evict(node) {
    byId.delete(node.getAttribute("data-id"));
    var key = node.getAttribute("data-combo");
    if (key && combos.has(key) && combos.get(key).node === node) combos.delete(key);
    node.remove();
  }

  function trim() {
    while (list.childElementCount > settings.max) evict(list.firstElementChild);
  }

  /** Shows one queued event; returns the new element, or null when it updated an existing one. */
  function show(event, now) {
    if (event.type === "fold") {
      var target = byId.get(event.target);
      if (target) {
        var repeat = target.querySelector(".repeat");
        repeat.textContent = "×" + event.count;
        repeat.hidden = false;
      }
      return null;
    }
    if (event.type === "gift" && event.user.uid && event.gift.id) {
      var key = event.room + ":" + event.user.uid + ":" + event.gift.id;
      var combo = combos.get(key);
      // parentNode: on screen, or in the batch being built (evicted lines have none).
      if (combo && combo.node.parentNode !== null && now - combo.at < COMBO_WINDOW) {
        // The same user sending the same gift again: one line that counts up.
        combo.count += event.gift.count;
        if (typeof combo.value === "number" && typeof event.gift.value === "number") {
          combo.value += event.gift.value;
        } else {
          combo.value = undefined;
        }
        combo.combo = Math.max(combo.combo, event.gift.combo);
        combo.at = now;
        giftText({
          name: event.gift.name, icon: event.gift.icon, count: combo.count,
          combo: combo.combo, value: combo.value,
        }, combo.node.querySelector(".text"));
        return null;
      }
      var node = build.gift(event);
      node.setAttribute("data-combo", key);
      combos.set(key, {
        node: node, at: now, count: event.gift.count, value: event.gift.value, combo: event.gift.combo,
      });
      return node;
    }
    var make = build[event.type];
    return make ? make(event) : null;
  }

  // Bursts are smoothed: arrivals wait in a short queue, and each frame shows
  // a quarter of it, so 200 lines arriving at once appear over a few frames.
  var queue = [];
  var scheduled = false;
  var SPREAD = 4;

  function enqueue(event) {
    queue.push(event);
    // Lines that would scroll away at once are not worth a frame.
    if (queue.length > settings.max * 2) queue.splice(0, queue.length - settings.max * 2);
    schedule();
  }

  function schedule() {
    if (scheduled) return;
    scheduled = true;
    var done = false;
    var run = function () {
      if (done) return;
      done = true;
      scheduled = false;
      drain();
    };
    requestAnimationFrame(run);
    // A hidden page gets no frames; the queue still drains.
    setTimeout(run, 250);
  }

  function drain() {
    var now = performance.now();
    var count = Math.min(queue.length, Math.max(1, Math.ceil(queue.length / SPREAD)));
    var batch = queue.splice(0, count);
    var fragment = document.createDocumentFragment();
    for (var i = 0; i < batch.length; i++) {
      var node = show(batch[i], now);
      if (node === null) continue;
      byId.set(batch[i].id, node);
      shownAt.set(node, now);
      fragment.appendChild(node);
    }
    // Evict from the fragment first, so the page never holds more than max lines.
    while (fragment.childElementCount > settings.max) evict(fragment.firstElementChild);
    var room = settings.max - fragment.childElementCount;
    while (list.childElementCount > room) evict(list.firstElementChild);
    list.appendChild(fragment);
    trim();
    if (queue.length > 0) schedule();
  }

  // fade: lines fade out, then go, fade seconds after they were shown.
  if (settings.fade > 0) {
    setInterval(function () {
      var now = performance.now();
      var limit = settings.fade * 1000;
      for (var node = list.firstElementChild; node !== null;) {
        var next = node.nextElementSibling;
        var age = now - (shownAt.get(node) || now);
        if (age < limit) break;
        if (age >= limit + 1000) evict(node);
        else node.classList.add("fading");
        node = next;
      }
    }, 200);
  }

  // Super chats stay pinned in the ticker for their time, counted from when they were sent.
  function pin(event) {
    var left = event.time + event.seconds * 1000 - Date.now();
    if (left <= 0) return;
    var chip = el("div", "pin superchat tier-" + event.tier);
    chip.setAttribute("data-pin", event.id);
    chip.appendChild(el("span", "name", event.user.name));
    chip.appendChild(el("span", "price", money(event.price)));
    var bar = el("div", "bar");
    bar.style.animationDuration = Math.round(left) + "ms";
    chip.appendChild(bar);
    pinned.appendChild(chip);
    setTimeout(function () { chip.remove(); }, left);
  }

  // ---------------------------------------------------------------------------
  // A reconnect (or a restart of the overlay process) never shows a line twice.

  var seen = new Set();
  var seenOrder = [];
  var SEEN_LIMIT = 5000;

  function firstTime(id) {
    if (seen.has(id)) return false;
    seen.add(id);
    seenOrder.push(id);
    if (seenOrder.length > SEEN_LIMIT * 2) {
      var old = seenOrder.splice(0, SEEN_LIMIT);
      for (var i = 0; i < old.length; i++) seen.delete(old[i]);
    }
    return true;
  }

  // ---------------------------------------------------------------------------
  // The status line: shown while something is wrong, dismissable, hidden by status=0.

  var streamOpen = false;
  var everOpen = false;
  var rooms = [];
  var serverProblems = [];
  var dismissed = "";

  function statusMessages() {
    var messages = [];
    if (!streamOpen) messages.push(everOpen ? TEXTS.disconnected : TEXTS.connecting);
    else {
      for (var i = 0; i < rooms.length; i++) {
        var room = rooms[i];
        if (!room.connected) {
          messages.push(TEXTS.room + room.room + TEXTS.roomDown + (room.error ? " (" + room.error + ")" : ""));
        } else if (room.state === "offline") messages.push(TEXTS.room + room.room + TEXTS.roomOffline);
        else if (room.state === "loop") messages.push(TEXTS.room + room.room + TEXTS.roomLoop);
      }
    }
    return messages.concat(pageProblems, serverProblems);
  }

  function renderStatus() {
    var text = statusMessages().join(" · ");
    statusText.textContent = text;
    statusBox.hidden = !settings.status || text === "" || text === dismissed;
    root.setAttribute("data-connection", streamOpen ? "open" : "closed");
  }

  statusBox.querySelector(".status-close").addEventListener("click", function () {
    dismissed = statusText.textContent;
    statusBox.hidden = true;
  });

  // ---------------------------------------------------------------------------
  // The event stream: Server-Sent Events, reopened with backoff and jitter.

  var lastEventId = "";
  var attempt = 0;
  var source = null;

  function streamUrl() {
    var params = new URLSearchParams();
    STREAM_PARAMS.forEach(function (name) {
      query.getAll(name).forEach(function (value) { params.append(name, value); });
    });
    // A new EventSource does not carry the old one's Last-Event-ID: pass it along.
    if (lastEventId) params.set("lastEventId", lastEventId);
    return "events?" + params.toString();
  }

  function handle(event) {
    if (event.type === "status") {
      rooms = event.rooms || [];
      serverProblems = event.problems || [];
      renderStatus();
      return;
    }
    if (typeof event.id !== "string" || !firstTime(event.id)) return;
    window.dispatchEvent(new CustomEvent("douyu:event", { detail: event }));
    if (event.type === "superchat") pin(event);
    enqueue(event);
  }

  function open() {
    source = new EventSource(streamUrl());
    source.onopen = function () {
      attempt = 0;
      streamOpen = true;
      everOpen = true;
      renderStatus();
    };
    source.onmessage = function (message) {
      if (message.lastEventId) lastEventId = message.lastEventId;
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (event && typeof event === "object") handle(event);
    };
    source.onerror = function () {
      source.close();
      streamOpen = false;
      renderStatus();
      // 0.5 s doubling to 5 s, each wait between half and all of that.
      var delay = Math.min(5000, 500 * Math.pow(2, attempt));
      attempt += 1;
      setTimeout(open, delay / 2 + Math.random() * delay / 2);
    };
  }

  // "Connecting…" only if it takes a while: no flash on every load.
  setTimeout(renderStatus, 1500);
  if (pageProblems.length > 0) renderStatus();
  open();
})();
`;
