/**
 * The overlay page's HTML, as a string constant so that it ships inside the
 * package and the compiled binary (nothing is read from disk at run time).
 * Its stylesheet is in `page_style.ts`, its script in `page_script.ts`.
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
  <div id="viewport"><div id="messages"></div></div>
</div>
</body>
</html>
`;
