/**
 * How a cluster connection authenticates and encrypts: credentials in the
 * server URL (`nats://user:pass@host`, `nats://token@host`), a creds file's
 * JWT and NKEY, an NKEY seed, and TLS with a CA of one's own. The contents
 * come in as text: this layer reads no files (the CLI does).
 *
 * @module
 */

import {
  type Authenticator,
  type ConnectionOptions,
  credsAuthenticator,
  nkeyAuthenticator,
  type TlsOptions,
} from "@nats-io/transport-node";
import { ClusterError } from "./errors.ts";

/**
 * Credentials and TLS for a NATS connection. Credentials in a server URL
 * count too: `nats://user:pass@host:4222` or `nats://token@host:4222`.
 *
 * @example
 * ```ts
 * import type { NatsAuth } from "@x/douyu/nats";
 *
 * const auth: NatsAuth = { user: "collector", pass: "s3cret", tls: { ca: "-----BEGIN CERTIFICATE-----…" } };
 * console.log(auth.user); // "collector"
 * ```
 */
export interface NatsAuth {
  /** A user name (with `pass`). */
  user?: string;
  /** The password of `user`. */
  pass?: string;
  /** An authentication token. */
  token?: string;
  /** A creds file's text: the user's JWT and NKEY seed, as `nsc` writes them. */
  creds?: string;
  /** An NKEY seed (`SU…`), for a server that knows the user by its public NKEY. */
  nkeySeed?: string;
  /**
   * TLS: `ca` (PEM) the CA certificates to trust instead of the system's,
   * `cert` and `key` (PEM) a client certificate. Given (even empty), the
   * connection requires TLS; a `tls://` server URL does too.
   */
  tls?: { ca?: string; cert?: string; key?: string };
}

/** A server URL with its password or token replaced by `***`, for messages and logs. */
export function redactUrl(server: string): string {
  const url = parseServer(server);
  if (url === undefined || (url.username === "" && url.password === "")) return server;
  const user = url.password === "" ? "***" : decodeURIComponent(url.username);
  return `${url.protocol}//${user}${url.password === "" ? "" : ":***"}@${url.host}`;
}

function parseServer(server: string): URL | undefined {
  try {
    return new URL(server.includes("://") ? server : `nats://${server}`);
  } catch {
    return undefined;
  }
}

/**
 * The NATS client's connection options for these servers and credentials:
 * the URLs without their credentials, which go where the client looks for
 * them (it ignores those in a URL).
 *
 * @throws {ClusterError} for a URL that is not `nats://` or `tls://`, or credentials given twice.
 */
export function natsConnectOptions(servers: readonly string[], auth: NatsAuth): ConnectionOptions {
  const plain: string[] = [];
  let fromUrl: { user?: string; pass?: string; token?: string } | undefined;
  let tlsScheme = false;
  for (const server of servers) {
    const url = parseServer(server);
    if (url === undefined || !["nats:", "tls:"].includes(url.protocol) || url.hostname === "") {
      throw new ClusterError(
        `invalid NATS server ${JSON.stringify(redactUrl(server))} (expected nats://host:port)`,
      );
    }
    if (url.protocol === "tls:") tlsScheme = true;
    if (url.username !== "" || url.password !== "") {
      const found = url.password === ""
        ? { token: decodeURIComponent(url.username) }
        : { user: decodeURIComponent(url.username), pass: decodeURIComponent(url.password) };
      if (fromUrl !== undefined && JSON.stringify(fromUrl) !== JSON.stringify(found)) {
        throw new ClusterError("the NATS server URLs carry different credentials");
      }
      fromUrl = found;
    }
    plain.push(
      `${url.hostname.includes(":") ? `[${url.hostname}]` : url.hostname}:${url.port || "4222"}`,
    );
  }
  const options: ConnectionOptions = { servers: plain };
  const user = auth.user ?? fromUrl?.user;
  const pass = auth.pass ?? fromUrl?.pass;
  const token = auth.token ?? fromUrl?.token;
  const kinds = [
    user !== undefined || token !== undefined,
    auth.creds !== undefined,
    auth.nkeySeed !== undefined,
  ].filter(Boolean).length;
  if (kinds > 1) {
    throw new ClusterError("give one kind of NATS credentials: user or token, creds, or NKEY");
  }
  if (user !== undefined) {
    options.user = user;
    if (pass !== undefined) options.pass = pass;
  } else if (token !== undefined) {
    options.token = token;
  }
  const authenticators: Authenticator[] = [];
  if (auth.creds !== undefined) {
    authenticators.push(credsAuthenticator(new TextEncoder().encode(auth.creds)));
  }
  if (auth.nkeySeed !== undefined) {
    authenticators.push(nkeyAuthenticator(new TextEncoder().encode(auth.nkeySeed.trim())));
  }
  if (authenticators.length > 0) options.authenticator = authenticators;
  if (auth.tls !== undefined || tlsScheme) {
    const tls: TlsOptions = {};
    if (auth.tls?.ca !== undefined) tls.ca = auth.tls.ca;
    if (auth.tls?.cert !== undefined) tls.cert = auth.tls.cert;
    if (auth.tls?.key !== undefined) tls.key = auth.tls.key;
    options.tls = tls;
  }
  return options;
}
