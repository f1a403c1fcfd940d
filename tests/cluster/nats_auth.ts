/**
 * Credentials for the authentication tests, made here as `nsc` would: an
 * operator, an account with JetStream, and a user, each an NKEY, and their
 * JWTs (signed by the one above); a creds file of the user; an NKEY-only
 * user. Throwaway keys, for these tests only.
 */
import { nkeys } from "@nats-io/transport-node";

const encoder = new TextEncoder();
const decoder = new TextDecoder();

function base64url(bytes: Uint8Array): string {
  let text = "";
  for (const byte of bytes) text += String.fromCharCode(byte);
  return btoa(text).replace(/=+$/, "").replace(/\+/g, "-").replace(/\//g, "_");
}

/** A JWT of `claims`, signed by `issuer`. */
function jwt(issuer: nkeys.KeyPair, subject: string, name: string, nats: unknown): string {
  const header = base64url(encoder.encode(JSON.stringify({ typ: "JWT", alg: "ed25519-nkey" })));
  const claims = {
    jti: base64url(crypto.getRandomValues(new Uint8Array(16))),
    iat: Math.floor(Date.now() / 1000),
    iss: issuer.getPublicKey(),
    name,
    sub: subject,
    nats,
  };
  const body = base64url(encoder.encode(JSON.stringify(claims)));
  const signature = base64url(issuer.sign(encoder.encode(`${header}.${body}`)));
  return `${header}.${body}.${signature}`;
}

/** An operator-mode setup: the server's configuration lines and a user's creds file. */
export interface OperatorSetup {
  /** `operator`, `resolver` and `resolver_preload` lines for the server's configuration. */
  serverConfig: string;
  /** The user's creds file (JWT and NKEY seed). */
  creds: string;
}

/** An operator, an account with JetStream and a user, as JWTs. */
export function operatorSetup(): OperatorSetup {
  const operator = nkeys.createOperator();
  const system = nkeys.createAccount();
  const account = nkeys.createAccount();
  const user = nkeys.createUser();
  const operatorJwt = jwt(operator, operator.getPublicKey(), "test-operator", {
    type: "operator",
    version: 2,
  });
  const accountJwt = jwt(operator, account.getPublicKey(), "douyu", {
    limits: {
      subs: -1,
      data: -1,
      payload: -1,
      imports: -1,
      exports: -1,
      wildcards: true,
      conn: -1,
      leaf: -1,
      mem_storage: -1,
      disk_storage: -1,
      streams: -1,
      consumer: -1,
    },
    default_permissions: { pub: {}, sub: {} },
    type: "account",
    version: 2,
  });
  const systemJwt = jwt(operator, system.getPublicKey(), "SYS", {
    limits: { subs: -1, data: -1, payload: -1, imports: -1, exports: -1, conn: -1, leaf: -1 },
    type: "account",
    version: 2,
  });
  const userJwt = jwt(account, user.getPublicKey(), "collector", {
    pub: {},
    sub: {},
    subs: -1,
    data: -1,
    payload: -1,
    type: "user",
    version: 2,
  });
  const seed = decoder.decode(user.getSeed());
  return {
    serverConfig: `operator: ${operatorJwt}
system_account: ${system.getPublicKey()}
resolver: MEMORY
resolver_preload: {
  ${system.getPublicKey()}: ${systemJwt}
  ${account.getPublicKey()}: ${accountJwt}
}
`,
    creds: `-----BEGIN NATS USER JWT-----
${userJwt}
------END NATS USER JWT------

************************* IMPORTANT *************************
NKEY Seed printed below can be used to sign and prove identity.
NKEYs are sensitive and should be treated as secrets.

-----BEGIN USER NKEY SEED-----
${seed}
------END USER NKEY SEED------

*************************************************************
`,
  };
}

/** An NKEY user: its public key (for the server) and seed (for the client). */
export function nkeyUser(): { publicKey: string; seed: string } {
  const user = nkeys.createUser();
  return { publicKey: user.getPublicKey(), seed: decoder.decode(user.getSeed()) };
}
