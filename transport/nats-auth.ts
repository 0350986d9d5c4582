/**
 * NATS identities: how a component authenticates (creds file, nkey seed, user/password, token,
 * TLS) and what each fedrl identity may publish and subscribe to. Secrets are read from files or
 * the environment and never put in a message, a log line or an error.
 */
import { readFileSync } from "node:fs";
import {
  credsAuthenticator,
  nkeyAuthenticator,
  nkeys,
  tokenAuthenticator,
  usernamePasswordAuthenticator,
  type Authenticator,
  type TlsOptions,
} from "@nats-io/transport-node";
import { subjectsFor } from "./subjects";

/** How to authenticate to NATS. Paths are read at connect time; nothing here is ever logged. */
export interface NatsAuth {
  /** Path of a `.creds` file (JWT + nkey seed: operator/account mode). */
  credsFile?: string;
  /** Path of a file holding an nkey user seed (`SU…`): nkey users in the server config. */
  nkeySeedFile?: string;
  user?: string;
  password?: string;
  token?: string;
  tls?: {
    /** PEM file of the CA that signed the server certificate (a private CA). */
    caFile?: string;
    /** Client certificate and key (PEM files) when the server verifies clients. */
    certFile?: string;
    keyFile?: string;
  };
}

/** The environment variables read by {@link natsAuthFromEnv} (the docs and `auth init` name them). */
export const NATS_AUTH_ENV = ["NATS_CREDS", "NATS_NKEY", "NATS_USER", "NATS_PASSWORD", "NATS_TOKEN", "NATS_CA", "NATS_CERT", "NATS_KEY"] as const;

/**
 * NATS_CREDS (creds file), NATS_NKEY (nkey seed file), NATS_USER + NATS_PASSWORD, NATS_TOKEN,
 * NATS_CA / NATS_CERT / NATS_KEY (PEM files). Empty values count as unset.
 */
export function natsAuthFromEnv(env: Record<string, string | undefined>): NatsAuth {
  const v = (k: (typeof NATS_AUTH_ENV)[number]) => {
    const x = env[k];
    return x === undefined || x.trim() === "" ? undefined : x;
  };
  const auth: NatsAuth = {};
  const set = <K extends keyof NatsAuth>(k: K, x: NatsAuth[K] | undefined) => {
    if (x !== undefined) auth[k] = x;
  };
  set("credsFile", v("NATS_CREDS"));
  set("nkeySeedFile", v("NATS_NKEY"));
  set("user", v("NATS_USER"));
  set("password", v("NATS_PASSWORD"));
  set("token", v("NATS_TOKEN"));
  if (v("NATS_CA") || v("NATS_CERT") || v("NATS_KEY")) {
    auth.tls = {};
    if (v("NATS_CA")) auth.tls.caFile = v("NATS_CA");
    if (v("NATS_CERT")) auth.tls.certFile = v("NATS_CERT");
    if (v("NATS_KEY")) auth.tls.keyFile = v("NATS_KEY");
  }
  return auth;
}

/** A URL with any `user:password@` or `token@` replaced by `***@` (also inside comma-separated lists). */
export function redactUrl(url: string): string {
  return url.replace(/(^|,|\s|\/\/)([^\s,/@]+)@/g, "$1***@");
}

/** A message with every known secret value cut out (belt and braces: our messages never include them). */
export function redactSecrets(text: string, auth: NatsAuth): string {
  let out = redactUrl(text);
  for (const s of [auth.password, auth.token]) if (s && s.length >= 1) out = out.split(s).join("***");
  return out;
}

export class NatsAuthError extends Error {
  override readonly name = "NatsAuthError";
}

function readSecretFile(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new NatsAuthError(`cannot read ${what} file ${path}: ${(e as NodeJS.ErrnoException).code ?? "unreadable"}`);
  }
}

const SEED = /^S[A-Z][A-Z2-7]{50,}$/;

/** The first nkey seed (`S…` line) of a seed file, validated; the error never shows the file's content. */
function seedOf(path: string): Uint8Array {
  const text = new TextDecoder().decode(readSecretFile(path, "nkey seed (NATS_NKEY)"));
  const line = text.split(/\r?\n/).map((l) => l.trim()).find((l) => SEED.test(l));
  if (!line) throw new NatsAuthError(`nkey seed file ${path} holds no nkey seed (expected a line starting with "SU")`);
  const seed = new TextEncoder().encode(line);
  try {
    nkeys.fromSeed(seed);
  } catch {
    throw new NatsAuthError(`nkey seed file ${path}: the seed is not valid`);
  }
  return seed;
}

/** Splits `nats://user:pass@host:port,…` into servers without credentials and the credentials found. */
export function splitServerUrls(url: string): { servers: string[]; user?: string; password?: string; token?: string } {
  const out: { servers: string[]; user?: string; password?: string; token?: string } = { servers: [] };
  for (const raw of url.split(",").map((s) => s.trim()).filter(Boolean)) {
    const m = /^([a-z]+:\/\/)?([^/@]*)@(.*)$/i.exec(raw);
    if (!m) {
      out.servers.push(raw);
      continue;
    }
    out.servers.push(`${m[1] ?? ""}${m[3]}`);
    const info = m[2]!;
    const colon = info.indexOf(":");
    const dec = (s: string) => {
      try {
        return decodeURIComponent(s);
      } catch {
        return s;
      }
    };
    if (colon >= 0) {
      out.user = dec(info.slice(0, colon));
      out.password = dec(info.slice(colon + 1));
    } else if (info) out.token = dec(info);
  }
  return out;
}

/** Connect options from an auth description: authenticators (files read now) and TLS. */
export function natsConnectAuth(auth: NatsAuth): { authenticator?: Authenticator[]; tls?: TlsOptions } {
  const authenticator: Authenticator[] = [];
  if (auth.credsFile) {
    const creds = readSecretFile(auth.credsFile, "NATS creds (NATS_CREDS)");
    const text = new TextDecoder().decode(creds);
    if (!/-----BEGIN NATS USER JWT-----/.test(text) || !/-----BEGIN USER NKEY SEED-----/.test(text)) {
      throw new NatsAuthError(`creds file ${auth.credsFile} is not a NATS creds file (expected a user JWT and an nkey seed block)`);
    }
    authenticator.push(credsAuthenticator(creds));
  }
  if (auth.nkeySeedFile) authenticator.push(nkeyAuthenticator(seedOf(auth.nkeySeedFile)));
  if (auth.user !== undefined || auth.password !== undefined) {
    if (!auth.user) throw new NatsAuthError("a NATS password is set (NATS_PASSWORD) without a user (NATS_USER)");
    authenticator.push(usernamePasswordAuthenticator(auth.user, auth.password ?? ""));
  }
  if (auth.token) authenticator.push(tokenAuthenticator(auth.token));
  const out: { authenticator?: Authenticator[]; tls?: TlsOptions } = {};
  if (authenticator.length > 0) out.authenticator = authenticator;
  if (auth.tls) {
    const { caFile, certFile, keyFile } = auth.tls;
    if (Boolean(certFile) !== Boolean(keyFile)) throw new NatsAuthError("a NATS client certificate needs both NATS_CERT and NATS_KEY");
    for (const [f, what] of [[caFile, "NATS_CA"], [certFile, "NATS_CERT"], [keyFile, "NATS_KEY"]] as const) if (f) readSecretFile(f, what);
    const tls: TlsOptions = {};
    if (caFile) tls.caFile = caFile;
    if (certFile) tls.certFile = certFile;
    if (keyFile) tls.keyFile = keyFile;
    out.tls = tls;
  }
  return out;
}

/** A fresh nkey user: the public key (goes in the server config) and the seed (the secret). */
export function createNkeyUser(): { publicKey: string; seed: string } {
  const kp = nkeys.createUser();
  return { publicKey: kp.getPublicKey(), seed: new TextDecoder().decode(kp.getSeed()) };
}

/** The public key of a seed file (to check a config against its seeds). */
export function nkeyPublicKeyOf(seedFile: string): string {
  return nkeys.fromSeed(seedOf(seedFile)).getPublicKey();
}

export interface NatsPermissions {
  publish: { allow: string[] };
  subscribe: { allow: string[] };
  /** Lets a client answer requests it received (the reply subject), nothing more. */
  allowResponses?: boolean;
}

export type NatsRole = { kind: "actor"; id: string } | { kind: "learner" } | { kind: "admin" };

/** JetStream API subjects (default `$JS.API` prefix) that reading the run's KV bucket needs: stream info, get, watch. */
function kvReadApi(stream: string): string[] {
  return [
    "$JS.API.INFO",
    `$JS.API.STREAM.INFO.${stream}`,
    `$JS.API.STREAM.MSG.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}`,
    `$JS.API.DIRECT.GET.${stream}.>`,
    // watch: an ordered push consumer (created, inspected, deleted; re-created on a gap)
    `$JS.API.CONSUMER.CREATE.${stream}`,
    `$JS.API.CONSUMER.CREATE.${stream}.>`,
    `$JS.API.CONSUMER.INFO.${stream}.*`,
    `$JS.API.CONSUMER.DELETE.${stream}.*`,
    // its flow-control replies
    `$JS.FC.${stream}.>`,
  ];
}

/**
 * What an identity may do on a run. An actor: publish its own transitions, weights and metrics
 * subjects, read the global model (subscribe to the global subject, read/watch the KV bucket),
 * receive replies on inboxes — never write the bucket or the global subject, never another
 * actor's subjects. The learner: everything under `fedrl.<run>.>` and the run's bucket (create,
 * write, read). Admin: everything.
 */
export function natsPermissionsFor(run: string, role: NatsRole): NatsPermissions {
  const s = subjectsFor(run);
  const stream = `KV_${s.bucket}`;
  const kvWrite = `$KV.${s.bucket}.>`;
  switch (role.kind) {
    case "actor":
      return {
        publish: { allow: [s.transitions(role.id), s.weights(role.id), s.metrics(role.id), ...kvReadApi(stream)] },
        subscribe: { allow: [s.global, "_INBOX.>"] },
      };
    case "learner":
      return {
        publish: {
          allow: [`fedrl.${run}.>`, kvWrite, ...kvReadApi(stream), `$JS.API.STREAM.*.${stream}`, `$JS.API.STREAM.MSG.*.${stream}`, `$JS.API.CONSUMER.*.${stream}`, `$JS.API.CONSUMER.*.${stream}.>`, "_INBOX.>"],
        },
        subscribe: { allow: [`fedrl.${run}.>`, "_INBOX.>"] },
        allowResponses: true,
      };
    case "admin":
      return { publish: { allow: [">"] }, subscribe: { allow: [">"] } };
  }
}
