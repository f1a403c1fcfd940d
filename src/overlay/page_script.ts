/**
 * The overlay page's script (`GET /overlay.js`), as a string constant that
 * ships inside the package and the compiled binary. No framework: plain,
 * readable JavaScript that runs as is in any current browser, OBS's included.
 *
 * @module
 */

import { COMMON_JS } from "./page_common.ts";

/**
 * The script (`GET /overlay.js`): reads the page's parameters, opens the
 * event stream (reconnecting with backoff and jitter), and shows each event
 * as an element built with text nodes only (never HTML), smoothed over a few
 * frames, at most `max` of them.
 *
 * @example
 * ```ts
 * import { OVERLAY_JS } from "./page_script.ts";
 *
 * console.log(OVERLAY_JS.includes("innerHTML")); // false: text is set as text
 * ```
 */
export const OVERLAY_JS: string = String
  .raw`// douyu overlay: the page script. Plain JavaScript, no framework, no build step.
(function () {
  "use strict";
${COMMON_JS}
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
  document.documentElement.lang = settings.lang === "en" ? "en" : "zh-CN";

  addUserStylesheet(query, pageProblems);

  // ---------------------------------------------------------------------------
  // Building elements: el() and money() are in the shared part above.

  function image(className, src) {
    var img = el("img", className);
    img.alt = "";
    img.decoding = "async";
    img.referrerPolicy = "no-referrer";
    img.addEventListener("error", function () { img.remove(); });
    img.src = src;
    return img;
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
    if (event.user) markRole(node, event.user, event.room);
    return node;
  }

  // The name's colour comes from the sender's highest role: the host, a room admin, a noble (by
  // tier), a fan of this room (by badge level). The attributes are the contract for css= users.
  function markRole(node, user, room) {
    if (user.uid) node.setAttribute("data-uid", user.uid);
    var role = "";
    if (user.badge && typeof user.badge.level === "number" &&
      (user.badge.room === undefined || user.badge.room === room)) {
      node.setAttribute("data-fan", String(user.badge.level));
      node.setAttribute("data-fan-tier", String(Math.min(5, Math.max(1, Math.ceil(user.badge.level / 5)))));
      role = "fan";
    }
    if (typeof user.noble === "number" && user.noble > 0) {
      node.setAttribute("data-noble", String(Math.min(7, user.noble)));
      role = "noble";
    }
    if (user.admin) {
      node.classList.add("admin");
      role = "admin";
    }
    if (user.owner) {
      node.classList.add("owner");
      role = "owner";
    }
    if (role) node.setAttribute("data-role", role);
  }

  // A colour as a user picked it, lightened (mixed with white) until its relative luminance is at
  // least 0.4: then it keeps a contrast of 4.5:1 or more on the dark cards over any backdrop.
  function readable(hex) {
    var rgb = [1, 3, 5].map(function (i) { return parseInt(hex.slice(i, i + 2), 16); });
    for (var mix = 0; mix <= 1; mix += 0.05) {
      var lit = rgb.map(function (c) { return Math.round(c + (255 - c) * mix); });
      if (luminance(lit) >= 0.4) {
        return "#" + lit.map(function (c) { return (c < 16 ? "0" : "") + c.toString(16); }).join("");
      }
    }
    return "#ffffff";
  }

  function luminance(rgb) {
    var linear = rgb.map(function (c) {
      var s = c / 255;
      return s <= 0.04045 ? s / 12.92 : Math.pow((s + 0.055) / 1.055, 2.4);
    });
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2];
  }

  // Gifts by what the line is worth: below ¥10 compact, ¥100 and more highlighted.
  function giftTier(node, value) {
    var tier = typeof value !== "number" || value < 10 ? "low" : value < 100 ? "mid" : "high";
    if (node.getAttribute("data-tier") === tier) return;
    node.classList.remove("gift-low", "gift-mid", "gift-high");
    node.classList.add("gift-" + tier);
    node.setAttribute("data-tier", tier);
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
      // Only a #rrggbb colour, never another string from the wire.
      if (event.color && /^#[0-9a-f]{6}$/i.test(event.color)) {
        node.setAttribute("data-color", event.color.toLowerCase());
        node.style.setProperty("--user-color", readable(event.color));
      }
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
      giftTier(node, event.gift.value);
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
        giftTier(combo.node, combo.value);
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
    // Where the newest line is now, to move everything by what this frame adds below it.
    var anchor = list.lastElementChild;
    var before = anchor ? anchor.getBoundingClientRect().top : 0;
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
    var fragmentCount = fragment.childElementCount;
    var room = settings.max - fragmentCount;
    while (list.childElementCount > room) evict(list.firstElementChild);
    list.appendChild(fragment);
    trim();
    if (anchor && anchor.parentNode === list) {
      glide(before - anchor.getBoundingClientRect().top, fragmentCount, now);
    }
    if (queue.length > 0) schedule();
  }

  // ---------------------------------------------------------------------------
  // Smooth movement. Lines are anchored at the bottom, so a new line pushes the others up by its
  // height at once. Instead, #messages is moved down by that much (nothing moves on screen) and
  // back up, a few pixels a frame: at most MAX_STEP pixels, so a line never jumps. In a flood
  // (more than FLOOD lines in the last second, or a screenful to go) no smooth movement keeps up
  // and nobody reads every line: it jumps, and the newest lines show at once.

  var MAX_STEP = 16;
  var FLOOD = 20;
  var viewport = document.getElementById("viewport");
  var offset = 0;
  var gliding = false;
  var still = matchMedia("(prefers-reduced-motion: reduce)");
  var recent = []; // [time, lines added] of the last second

  function glide(pushed, lines, now) {
    if (!(pushed > 0)) return;
    recent.push([now, lines]);
    var count = 0;
    for (var i = recent.length - 1; i >= 0; i--) {
      if (now - recent[i][0] > 1000) {
        recent.splice(0, i + 1);
        break;
      }
      count += recent[i][1];
    }
    offset += pushed;
    if (count > FLOOD || offset > Math.max(240, viewport.clientHeight) || still.matches || document.hidden) {
      offset = 0;
    }
    placeList();
    if (offset > 0 && !gliding) {
      gliding = true;
      requestAnimationFrame(glideFrame);
    }
  }

  function glideFrame() {
    // A sixth of what is left, so it slows down as it arrives; 1 to MAX_STEP pixels.
    offset = Math.max(0, offset - Math.min(MAX_STEP, Math.max(1, Math.ceil(offset / 6))));
    placeList();
    if (offset > 0) requestAnimationFrame(glideFrame);
    else gliding = false;
  }

  function placeList() {
    list.style.transform = offset > 0 ? "translateY(" + offset + "px)" : "";
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
