/** The one place connections are opened: the bus (NATS or in-process) and the replay (Redis or memory). */
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

export async function connectRedis(url: string): Promise<Redis> {
  const r = new Redis(url, { maxRetriesPerRequest: 3, lazyConnect: true, retryStrategy: (n) => Math.min(2000, 50 * 2 ** n) });
  try {
    await r.connect();
  } catch (e) {
    r.disconnect();
    throw new Error(`cannot connect to Redis at ${url}: ${(e as Error).message}`);
  }
  return r;
}

export interface ReplayOptions {
  run: string;
  capacity: number;
  obsDim: number;
  seed: number;
  clearOnStart: boolean;
}

/** A replay and what closes it: Redis when a URL is given, otherwise in memory. */
export async function openReplay(redisUrl: string | undefined, o: ReplayOptions): Promise<{ replay: ReplayStore; close(): Promise<void> }> {
  const redis = redisUrl ? await connectRedis(redisUrl) : null;
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
