/**
 * The widget pages `douyu overlay` serves beside the chat: `/leaderboard`
 * (the top givers) and `/goal` (a goal bar), with their stylesheet and
 * script, as string constants that ship inside the package and the binary.
 * They follow the chat page's rules: a transparent page, `css=` and `lang=`,
 * every text set as text, one element per thing with `data-type`,
 * `data-id`, a `.name` and a `.text`.
 *
 * @module
 */

import { COMMON_JS } from "./page_common.ts";

/**
 * The page of a widget (`GET /leaderboard`, `GET /goal`).
 *
 * @param kind Which widget.
 * @returns The HTML.
 *
 * @example
 * ```ts
 * import { widgetHtml } from "./widget_page.ts";
 *
 * console.log(widgetHtml("goal").includes('data-widget="goal"')); // true
 * ```
 */
export function widgetHtml(kind: "leaderboard" | "goal"): string {
  const body = kind === "leaderboard"
    ? `<div class="title"></div>\n  <ol id="board"></ol>`
    : `<div id="goal" data-type="goal" data-id="goal">
    <div class="goal-head"><span class="name"></span><span class="text"></span></div>
    <div class="bar"><div class="fill"></div></div>
    <div class="done" hidden></div>
  </div>`;
  return `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>douyu ${kind}</title>
<link rel="stylesheet" href="widgets.css">
<script src="widgets.js" defer></script>
</head>
<body data-widget="${kind}">
<div id="widget">
  <div id="status" hidden><span class="status-text"></span></div>
  ${body}
</div>
</body>
</html>
`;
}

/**
 * The widgets' stylesheet (`GET /widgets.css`).
 *
 * @example
 * ```ts
 * import { WIDGETS_CSS } from "./widget_page.ts";
 *
 * console.log(WIDGETS_CSS.includes("background: transparent")); // true
 * ```
 */
export const WIDGETS_CSS: string =
  `/* douyu overlay widgets: the built-in styles. Override any of it with the css= parameter. */
:root {
  --font: "Noto Sans CJK SC", "PingFang SC", "Microsoft YaHei", "Source Han Sans SC", system-ui, sans-serif;
  --font-size: 20px;
  --text: #ffffff;
  --muted: #d8d8e0;
  --name: #ffd27a;
  --card: rgba(18, 18, 26, 0.85);
  --radius: 10px;
  --gold: #ffd24a;
  --silver: #dfe6ee;
  --bronze: #f0a868;
  --bar: linear-gradient(90deg, #ff7a59, #ffcf4a);
  --bar-reached: linear-gradient(90deg, #43d17a, #a6f0c0);
}
html, body { margin: 0; padding: 0; height: 100%; background: transparent; overflow: hidden; }
body { font-family: var(--font); font-size: var(--font-size); color: var(--text); }
#widget { box-sizing: border-box; padding: 8px; display: flex; flex-direction: column; gap: 6px; }
#status {
  align-self: flex-start; font-size: 14px; padding: 0.2em 0.7em; border-radius: 0.4em;
  background: rgba(140, 30, 30, 0.85); color: #fff;
}
#status[hidden] { display: none; }
.title {
  align-self: flex-start; font-weight: 700; padding: 0.15em 0.6em; border-radius: var(--radius);
  background: var(--card); text-shadow: 0 1px 2px rgba(0, 0, 0, 0.8);
}
.title:empty { display: none; }
#board { list-style: none; margin: 0; padding: 0; display: flex; flex-direction: column; gap: 6px; }
.row {
  display: flex; align-items: center; gap: 0.5em; align-self: flex-start; max-width: 100%;
  padding: 0.25em 0.7em; border-radius: var(--radius); background: var(--card);
  line-height: 1.45; text-shadow: 0 1px 2px rgba(0, 0, 0, 0.8);
  transition: transform 0.3s ease-out;
}
#board { align-items: flex-start; }
.row .rank { min-width: 1.4em; font-weight: 700; color: var(--muted); text-align: center; }
.row[data-rank="1"] .rank { color: var(--gold); }
.row[data-rank="2"] .rank { color: var(--silver); }
.row[data-rank="3"] .rank { color: var(--bronze); }
.row .name { color: var(--name); font-weight: 700; overflow-wrap: anywhere; }
.row .text { font-weight: 700; color: var(--gold); }
.row .count { font-size: 0.75em; color: var(--muted); }
.row.bumped { animation: douyu-bump 0.6s ease-out; }
@keyframes douyu-bump { from { background: rgba(120, 90, 10, 0.95); } }
#goal {
  padding: 0.4em 0.7em 0.6em; border-radius: var(--radius); background: var(--card);
  text-shadow: 0 1px 2px rgba(0, 0, 0, 0.8);
}
.goal-head { display: flex; gap: 1em; align-items: baseline; justify-content: space-between; }
#goal .name { font-weight: 700; color: var(--name); }
#goal .text { font-weight: 700; font-variant-numeric: tabular-nums; }
.bar { position: relative; height: 0.9em; margin-top: 0.3em; border-radius: 0.45em; background: rgba(255, 255, 255, 0.15); overflow: hidden; }
.fill { height: 100%; width: 0; border-radius: inherit; background: var(--bar); transition: width 0.8s cubic-bezier(0.22, 1, 0.36, 1); }
.reached .fill { background: var(--bar-reached); }
.done { margin-top: 0.3em; font-weight: 700; color: #a6f0c0; animation: douyu-bump 0.6s ease-out; }
.done[hidden] { display: none; }
@media (prefers-reduced-motion: reduce) {
  .row, .fill { transition: none; }
  .row.bumped, .done { animation: none; }
}
`;

/**
 * The widgets' script (`GET /widgets.js`): reads the page's parameters,
 * opens `/totals` (reconnecting with backoff and jitter), and draws the
 * leaderboard or the goal bar, with text nodes only.
 *
 * @example
 * ```ts
 * import { WIDGETS_JS } from "./widget_page.ts";
 *
 * console.log(WIDGETS_JS.includes("innerHTML")); // false: text is set as text
 * ```
 */
export const WIDGETS_JS: string = String
  .raw`// douyu overlay widgets: the page script. Plain JavaScript, no framework, no build step.
(function () {
  "use strict";
${COMMON_JS}
  var query = new URLSearchParams(location.search);
  var kind = document.body.getAttribute("data-widget");
  var problems = [];
  var lang = query.get("lang") === "en" ? "en" : "zh";
  document.documentElement.lang = lang === "en" ? "en" : "zh-CN";
  var TEXTS = {
    zh: {
      title: "礼物榜", goal: "目标", reached: "目标达成！", gifts: "份",
      disconnected: "与弹幕服务断开，正在重连…",
    },
    en: {
      title: "Top gifters", goal: "Goal", reached: "Goal reached!", gifts: "gifts",
      disconnected: "disconnected from the overlay, reconnecting…",
    },
  }[lang];

  addUserStylesheet(query, problems);

  // ---------------------------------------------------------------------------
  // The leaderboard: one row per giver, kept by id, so a change only moves and updates rows.

  var board = document.getElementById("board");
  var title = document.querySelector(".title");
  if (title) title.textContent = query.has("title") ? query.get("title") : TEXTS.title;

  function drawBoard(totals) {
    var seen = new Set();
    totals.gifters.forEach(function (gifter, index) {
      var id = gifter.uid || "name:" + gifter.name;
      seen.add(id);
      var row = null;
      for (var node = board.firstElementChild; node !== null; node = node.nextElementSibling) {
        if (node.getAttribute("data-id") === id) row = node;
      }
      if (row === null) {
        row = el("li", "row");
        row.setAttribute("data-type", "gifter");
        row.setAttribute("data-id", id);
        row.appendChild(el("span", "rank"));
        row.appendChild(el("span", "name"));
        row.appendChild(el("span", "text"));
        row.appendChild(el("span", "count"));
      }
      var value = money(gifter.value);
      var text = row.querySelector(".text");
      if (text.textContent !== value && text.textContent !== "") {
        row.classList.remove("bumped");
        void row.offsetWidth; // restarts the animation
        row.classList.add("bumped");
      }
      row.setAttribute("data-rank", String(index + 1));
      row.querySelector(".rank").textContent = String(index + 1);
      row.querySelector(".name").textContent = gifter.name;
      text.textContent = value;
      row.querySelector(".count").textContent = gifter.gifts + " " + TEXTS.gifts;
      if (board.children[index] !== row) board.insertBefore(row, board.children[index] || null);
    });
    for (var node = board.firstElementChild; node !== null;) {
      var next = node.nextElementSibling;
      if (!seen.has(node.getAttribute("data-id"))) node.remove();
      node = next;
    }
  }

  // ---------------------------------------------------------------------------
  // The goal bar.

  var goal = document.getElementById("goal");
  var target = Number(query.get("target") || "1000");
  if (!isFinite(target) || target <= 0) {
    problems.push("target: " + JSON.stringify(query.get("target")) + " is not a positive number (using 1000)");
    target = 1000;
  }
  if (goal) goal.querySelector(".name").textContent = query.has("label") ? query.get("label") : TEXTS.goal;

  function drawGoal(totals) {
    var share = Math.min(1, totals.total / target);
    goal.querySelector(".text").textContent = money(totals.total) + " / " + money(target);
    goal.querySelector(".fill").style.width = (share * 100).toFixed(2) + "%";
    goal.setAttribute("data-total", String(totals.total));
    var reached = totals.total >= target;
    goal.classList.toggle("reached", reached);
    var done = goal.querySelector(".done");
    done.textContent = reached ? TEXTS.reached : "";
    done.hidden = !reached;
  }

  // ---------------------------------------------------------------------------
  // The status line and the stream.

  var statusBox = document.getElementById("status");
  var serverProblems = [];
  var open = false;

  function renderStatus() {
    var messages = (open ? [] : [TEXTS.disconnected]).concat(problems, serverProblems);
    statusBox.querySelector(".status-text").textContent = messages.join(" · ");
    statusBox.hidden = messages.length === 0 || query.get("status") === "0";
    document.getElementById("widget").setAttribute("data-connection", open ? "open" : "closed");
  }

  function streamUrl() {
    var params = new URLSearchParams();
    ["since", "room"].forEach(function (name) {
      query.getAll(name).forEach(function (value) { params.append(name, value); });
    });
    params.set("top", kind === "leaderboard" ? (query.get("top") || "5") : "0");
    return "totals?" + params.toString();
  }

  var attempt = 0;
  function connect() {
    var source = new EventSource(streamUrl());
    source.onopen = function () {
      attempt = 0;
      open = true;
      renderStatus();
    };
    source.onmessage = function (message) {
      var event;
      try {
        event = JSON.parse(message.data);
      } catch (error) {
        return;
      }
      if (!event || typeof event !== "object") return;
      if (event.type === "status") {
        serverProblems = event.problems || [];
        renderStatus();
      } else if (event.type === "totals") {
        if (kind === "leaderboard") drawBoard(event);
        else drawGoal(event);
        window.dispatchEvent(new CustomEvent("douyu:totals", { detail: event }));
      }
    };
    source.onerror = function () {
      source.close();
      open = false;
      renderStatus();
      var delay = Math.min(5000, 500 * Math.pow(2, attempt));
      attempt += 1;
      setTimeout(connect, delay / 2 + Math.random() * delay / 2);
    };
  }

  setTimeout(renderStatus, 1500);
  if (problems.length > 0) renderStatus();
  connect();
})();
`;
