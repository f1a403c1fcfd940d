/**
 * Redirects in the web lookups: followed within the site asked (or among
 * Douyu's own sites), hop by hop through the lookup's `fetch`, so that a base
 * that answers with a redirect to another server never gets that server's
 * answer taken, and `onlyAt`'s bases (`--url`'s "only the bases given") hold
 * for every hop. Two local stand-ins play the base and the other server.
 */
import assert from "node:assert/strict";
import { fetchRoomInfo } from "../src/web/room_info.ts";
import { GiftCatalogCache } from "../src/web/gifts.ts";
import { onlyAt, redirectTarget } from "../src/web/http.ts";
import { MockWebApi } from "../src/testing/web_api.ts";
import { SAMPLE_ROOM } from "../src/testing/sample.ts";
import { failure, test } from "./harness.ts";
import { type LocalHttp, startHttp } from "./local_http.ts";

/** Where nothing listens. */
const DEAD = "http://127.0.0.1:9";

/** Every message in an error, its causes and an AggregateError's errors, one per line. */
function reasons(error: unknown): string {
  if (!(error instanceof Error)) return String(error);
  const inner = error instanceof AggregateError ? error.errors.map(reasons) : [];
  return [error.message, ...inner, ...(error.cause ? [reasons(error.cause)] : [])].join("\n");
}

/** A path without its query (the lookups add a cache-buster). */
const pathOf = (url: string) => url.replace(/\?.*/, "");

/** A base that answers every request with `status` and a Location made from its path. */
function redirecting(status: number, to: (path: string) => string): Promise<LocalHttp> {
  return startHttp((req, res) => {
    res.writeHead(status, { location: to(req.url ?? "/") });
    res.end();
  });
}

test("a redirect to another server is not followed: its answer is never taken", async () => {
  await using other = await MockWebApi.start();
  const base = await redirecting(302, (path) => `${other.url}${path}`);
  try {
    const error = await failure(
      fetchRoomInfo(SAMPLE_ROOM, { apiBase: base.base, openApiBase: DEAD, timeout: 5000 }),
    );
    assert.match(reasons(error), /another site/);
    assert.deepEqual(base.paths.map(pathOf), [`/betard/${SAMPLE_ROOM}`]);
    assert.deepEqual(other.requests, [], "the other server was asked");
  } finally {
    await base.close();
  }
});

test("onlyAt holds for every hop: a base given cannot send a lookup to one not given", async () => {
  await using other = await MockWebApi.start();
  // Same host, another port: another origin, and a base the user did not give.
  const base = await redirecting(307, (path) => `${other.url}${path}`);
  try {
    const fetch = onlyAt([base.base], undefined, "only the bases given");
    const gifts = new GiftCatalogCache({
      giftApiBase: base.base,
      propsBase: base.base,
      fetch,
      timeout: 5000,
    });
    await failure(gifts.get(SAMPLE_ROOM));
    assert.ok(base.paths.length > 0);
    assert.deepEqual(other.requests, [], "the base not given was asked");
  } finally {
    await base.close();
  }
});

test("a redirect within the site asked is followed, through the lookup's own fetch", async () => {
  await using web = await MockWebApi.start();
  // The stand-in's own paths, behind a base that moves them under /old/.
  const base = await startHttp(async (req, res) => {
    const path = req.url ?? "/";
    if (path.startsWith("/old/")) {
      const answer = await fetch(`${web.url}${path.slice(4)}`);
      res.writeHead(answer.status, { "content-type": "application/json" });
      res.end(await answer.text());
    } else {
      res.writeHead(301, { location: `/old${path}` });
      res.end();
    }
  });
  try {
    const asked: string[] = [];
    const info = await fetchRoomInfo(SAMPLE_ROOM, {
      apiBase: base.base,
      openApiBase: DEAD,
      fetch: (url, init) => {
        asked.push(url);
        return fetch(url, init);
      },
    });
    assert.equal(info.source, "betard");
    assert.deepEqual(asked.map(pathOf), [
      `${base.base}/betard/${SAMPLE_ROOM}`,
      `${base.base}/old/betard/${SAMPLE_ROOM}`,
    ]);
  } finally {
    await base.close();
  }
});

test("a lookup follows at most five redirects", async () => {
  let hop = 0;
  const base = await redirecting(302, () => `/hop/${++hop}`);
  try {
    const error = await failure(
      fetchRoomInfo(SAMPLE_ROOM, { apiBase: base.base, openApiBase: DEAD, timeout: 5000 }),
    );
    assert.match(reasons(error), /more than 5 redirects/);
    assert.equal(base.paths.length, 6);
  } finally {
    await base.close();
  }
});

test("redirectTarget: the same origin, or Douyu to Douyu over HTTPS; nothing else", () => {
  const from = "https://www.douyu.com/betard/1";
  assert.equal(redirectTarget(from, "/betard/2", 302), "https://www.douyu.com/betard/2");
  assert.equal(redirectTarget(from, "https://m.douyu.com/1", 302), "https://m.douyu.com/1");
  assert.equal(redirectTarget(from, "https://douyu.com/1", 301), "https://douyu.com/1");
  for (
    const location of [
      "http://m.douyu.com/1", // not HTTPS
      "https://evil.example/1",
      "https://notdouyu.com/1",
      "https://douyu.com.evil.example/1",
      "https://www.douyu.com:8443/1",
      "javascript:alert(1)",
    ]
  ) {
    assert.throws(() => redirectTarget(from, location, 302), /another site/, location);
  }
  assert.throws(() => redirectTarget(from, null, 302), /without a usable Location/);
  assert.throws(() => redirectTarget(from, "http://[", 302), /not a URL/);
  // A local base redirects within itself only.
  const local = "http://127.0.0.1:8080/a";
  assert.equal(redirectTarget(local, "b", 302), "http://127.0.0.1:8080/b");
  assert.throws(() => redirectTarget(local, "http://127.0.0.1:8081/a", 302), /another site/);
  assert.throws(() => redirectTarget(local, "https://www.douyu.com/a", 302), /another site/);
});

test('GiftCatalogCache.peek reads a room as get does: "0x5" is no room', async () => {
  await using web = await MockWebApi.start();
  const gifts = new GiftCatalogCache(web.bases);
  await gifts.get(5);
  assert.ok(gifts.peek(5) !== undefined);
  assert.ok(gifts.peek("5") !== undefined);
  for (const room of ["0x5", " 5", "5.0", "5e0", "0b101"]) {
    assert.equal(gifts.peek(room), undefined, room);
    await assert.rejects(gifts.get(room), RangeError);
  }
});
