/**
 * Deno's permissions, checked before a command uses them. A missing one is a
 * one-line {@linkcode CliFailure} that names the flag to add. Without the
 * check Deno would ask at the terminal (which stops an unattended `douyu`
 * at a question nobody answers) or, without a terminal, throw with its own
 * advice deep inside a lookup or a reconnect loop. Bun and Node have no
 * permissions: there every check passes.
 *
 * Querying never prompts, so a permission Deno would have asked for counts
 * as missing.
 *
 * @module
 */

import { defaultUrls } from "../session/session.ts";
import { CliFailure } from "./io.ts";

/** What the checks ask Deno: `Deno.permissions.querySync`, where it exists. */
type Query = (descriptor: Deno.PermissionDescriptor) => Deno.PermissionStatus;

/** Deno's permission query, or `undefined` on a runtime without permissions. */
function permissionQuery(): Query | undefined {
  const deno = (globalThis as { Deno?: { permissions?: { querySync?: Query } } }).Deno;
  const query = deno?.permissions?.querySync;
  return query === undefined ? undefined : query.bind(deno!.permissions);
}

function granted(descriptor: Deno.PermissionDescriptor): boolean {
  const query = permissionQuery();
  return query === undefined || query(descriptor).state === "granted";
}

/**
 * Fails unless the process may read `path`.
 *
 * @param path The file, as given on the command line.
 * @param what What the file is, for the message: `"rooms file"`.
 * @throws {CliFailure} `rooms file r.txt: no read access; run with --allow-read=r.txt …`
 */
export function needRead(path: string, what: string): void {
  if (!granted({ name: "read", path })) throw missing(`${what} ${path}`, "read", path);
}

/**
 * Fails unless the process may write `path` (each of `paths`, when a file
 * is written through a temporary one beside it).
 *
 * @param what What the file is, for the message: `"recording"`.
 * @param paths The file, then any other file written for it.
 * @throws {CliFailure} `recording r.jsonl: no write access; run with --allow-write=r.jsonl …`
 */
export function needWrite(what: string, ...paths: string[]): void {
  if (!paths.every((path) => granted({ name: "write", path }))) {
    throw missing(`${what} ${paths[0]}`, "write", paths.join(","));
  }
}

/**
 * Fails unless the process may connect to every endpoint it may try:
 * `urls`, or Douyu's servers when there are none.
 *
 * @param urls The `--url` endpoints, parsed; empty for Douyu's own.
 * @throws {CliFailure} `no network access to danmuproxy.douyu.com:8601; run with -N …`
 */
export function needEndpoints(urls: readonly string[]): void {
  needNet((urls.length > 0 ? urls : defaultUrls()).map(hostOf));
}

/**
 * Fails unless the process may connect to (or listen on) each of `hosts`.
 *
 * @param hosts `host` or `host:port`, as Deno's `--allow-net` names them.
 * @throws {CliFailure} `no network access to 127.0.0.1:4222; run with -N …`
 */
export function needNet(hosts: readonly string[]): void {
  if (granted({ name: "net" })) return;
  for (const host of hosts) {
    if (!granted({ name: "net", host })) {
      throw new CliFailure(
        `no network access to ${host}; run with -N (--allow-net), or --allow-net=${host}`,
      );
    }
  }
}

/** An address to listen on as `--allow-net` names it: IPv6 in brackets. */
export function listenHost(host: string): string {
  return host.includes(":") && !host.startsWith("[") ? `[${host}]` : host;
}

/** `tcp://host:port/…` → `host:port`, as `--allow-net` names it. */
export function hostOf(url: string): string {
  const { hostname, port } = new URL(url);
  return port === "" ? hostname : `${hostname}:${port}`;
}

function missing(subject: string, access: "read" | "write", paths: string): CliFailure {
  const flag = `--allow-${access}`;
  return new CliFailure(
    `${subject}: no ${access} access; run with ${flag}=${paths} ` +
      `(an installed douyu needs ${flag} in its install line)`,
  );
}
