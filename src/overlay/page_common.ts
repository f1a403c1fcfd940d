/**
 * Script shared by the overlay's pages (the chat and the widgets): building
 * elements with text nodes only, money as the pages show it, and the user's
 * stylesheet (`css=`). A string of plain JavaScript function declarations,
 * put inside each page's script.
 *
 * @module
 */

/**
 * The shared functions: `el(tag, className, text)`, `money(yuan)` and
 * `addUserStylesheet(query, problems)`.
 *
 * @example
 * ```ts
 * import { COMMON_JS } from "./page_common.ts";
 *
 * console.log(COMMON_JS.includes("function addUserStylesheet")); // true
 * ```
 */
export const COMMON_JS: string = String.raw`
  // Building elements. Text from the network only ever goes into text nodes.
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function money(value) {
    return "¥" + (Number.isInteger(value) ? String(value) : value.toFixed(2));
  }

  // The user's stylesheet (css=) comes last, so it wins over the built-in styles.
  function addUserStylesheet(query, problems) {
    var cssParam = query.get("css");
    if (!cssParam) return;
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
      problems.push("css: " + JSON.stringify(cssParam) + " is not an http(s) URL");
    }
  }
`;
