/** The one place connections are opened: the bus (NATS or in-process) and the replay (Redis or memory). */
import { readFileSync } from "node:fs";
import { Redis } from "ioredis";
import type { Bus } from "../core/bus";
import type { ReplayStore } from "../core/replay";
import { InProcessBus } from "./bus-inproc";
import { NatsBus } from "./bus-nats";
import { natsAuthFromEnv, type NatsAuth } from "./nats-auth";
import { MemoryReplay } from "./replay-memory";
import { RedisReplay, replayKeys } from "./replay-redis";

/**
 * NATS when a URL is given, otherwise the in-process bus (embedded default). Credentials and TLS
 * come from NATS_CREDS / NATS_NKEY / NATS_USER + NATS_PASSWORD / NATS_TOKEN / NATS_CA, NATS_CERT,
 * NATS_KEY unless given (see transport/nats-auth.ts); they are never logged.
 */
export async function openBus(natsUrl: string | undefined, name: string, log?: (l: string) => void, auth: NatsAuth = natsAuthFromEnv(process.env)): Promise<Bus> {
  return natsUrl ? NatsBus.connect({ url: natsUrl, name, log, auth }) : new InProcessBus();
}

export interface RedisConnectOptions {
  /** PEM file of a CA for rediss:// (default: env REDIS_CA). */
  ca?: string;
  /** ACL user and password (default: env REDIS_USER / REDIS_PASSWORD, else the URL's). */
  username?: string;
  password?: string;
  /** Where connection errors go, one line each (repeats of the same error are not repeated). */
  log?: (line: string) => void;
}

/** The Redis URL with a password replaced by *** (for messages). */
export function redactRedisUrl(url: string): string {
  return url.replace(/^(rediss?:\/\/)([^@/]*)@/, (_, p: string, cred: string) => `${p}${cred.includes(":") ? `${cred.slice(0, cred.indexOf(":"))}:***` : "***"}@`);
}

/**
 * Connects to Redis (redis:// or rediss:// for TLS). Credentials and the CA come from the options,
 * else REDIS_USER / REDIS_PASSWORD / REDIS_CA (never printed). Connection errors are one line each
 * (an 'error' listener, so ioredis never prints "Unhandled error event" stacks); a failed first
 * connect throws one clear Error.
 */
export async function connectRedis(url: string, o: RedisConnectOptions = {}, env: Record<string, string | undefined> = process.env): Promise<Redis> {
  const nonEmpty = (v: string | undefined) => (v && v.trim() !== "" ? v : undefined);
  const caPath = o.ca ?? nonEmpty(env.REDIS_CA);
  const username = o.username ?? nonEmpty(env.REDIS_USER);
  // REDIS_PASSWORD_FILE (a mounted secret) wins over a REDIS_PASSWORD literal.
  const passwordFile = nonEmpty(env.REDIS_PASSWORD_FILE);
  let filePassword: string | undefined;
  if (!o.password && passwordFile) {
    try {
      filePassword = readFileSync(passwordFile, "utf8").trim();
    } catch (e) {
      throw new Error(`REDIS_PASSWORD_FILE ${passwordFile}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const password = o.password ?? filePassword ?? nonEmpty(env.REDIS_PASSWORD);
  const shown = redactRedisUrl(url);
  let ca: Buffer | undefined;
  if (caPath) {
    try {
      ca = readFileSync(caPath);
    } catch (e) {
      throw new Error(`cannot read the Redis CA ${caPath}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
  const tls = url.startsWith("rediss://") ? { ...(ca ? { ca } : {}) } : undefined;
  if (ca && !tls) throw new Error(`REDIS_CA is set but ${shown} is not a rediss:// URL`);
  const r = new Redis(url, {
    maxRetriesPerRequest: 3, lazyConnect: true, retryStrategy: (n) => Math.min(2000, 50 * 2 ** n),
    ...(tls ? { tls } : {}), ...(username ? { username } : {}), ...(password ? { password } : {}),
  });
  const log = o.log ?? ((l: string) => process.stderr.write(`${l}\n`));
  let last = "";
  let connected = false;
  let firstError = "";
  r.on("error", (e: Error) => {
    const msg = (e?.message ?? String(e)).split("\n")[0]!;
    if (!connected) {
      // before the first connect the throw below says it (ioredis's own rejection is often just "Connection is closed.")
      firstError ||= msg;
      return;
    }
    if (msg === last) return;
    last = msg;
    log(`redis ${shown}: ${msg}`);
  });
  r.on("ready", () => { last = ""; });
  try {
    await r.connect();
    connected = true;
  } catch (e) {
    r.disconnect();
    const own = ((e as Error).message ?? String(e)).split("\n")[0]!;
    throw new Error(`cannot connect to Redis at ${shown}: ${firstError && /connection is closed/i.test(own) ? firstError : own}`);
  }
  return r;
}

export interface ReplayOptions {
  run: string;
  capacity: number;
  obsDim: number;
  seed: number;
  clearOnStart: boolean;
  /** PEM of a CA for rediss:// (env REDIS_CA otherwise). */
  redisCa?: string;
}

/** A replay and what closes it: Redis when a URL is given, otherwise in memory. */
export async function openReplay(redisUrl: string | undefined, o: ReplayOptions): Promise<{ replay: ReplayStore; close(): Promise<void> }> {
  const redis = redisUrl ? await connectRedis(redisUrl, { ca: o.redisCa }) : null;
  const replay = redis ? await RedisReplay.open(redis, { run: o.run, capacity: o.capacity, obsDim: o.obsDim, seed: o.seed }) : new MemoryReplay(o.capacity, o.obsDim, o.seed);
  if (o.clearOnStart) await replay.clear();
  return { replay, close: async () => redis?.disconnect() };
}

/** Deletes a run's Redis replay; returns how many keys went. */
export async function clearRedisReplay(redisUrl: string, run: string): Promise<number> {
  const redis = await connectRedis(redisUrl);
  try {
    const k = replayKeys(run);
    return await redis.del(k.data, k.cursor, k.meta);
  } finally {
    redis.disconnect();
  }
}
