/**
 * Foundation benchmarks: codec throughput and bytes per transition (real LunarLander trajectories),
 * Redis ring insert (batches of 256) and sample-64 latency, NATS publish→subscribe batches/s.
 * Writes bench/results/foundation.json. Needs NATS (4222) and Redis (6379) for the last two parts.
 */
import { Redis } from "ioredis";
import { sliceBatch, type TransitionBatch } from "../core/batch";
import { decodeTransitions, decodeWeights, encodeTransitions, encodeWeights } from "../transport/codec";
import { makeLayout } from "../core/params";
import { NatsBus } from "../transport/bus-nats";
import { RedisReplay, replayKeys } from "../transport/replay-redis";
import { median, percentile, recordTransitions, writeResult } from "./util";

const NATS_URL = process.env.NATS_URL ?? "nats://127.0.0.1:4222";
const REDIS_URL = process.env.REDIS_URL ?? "redis://127.0.0.1:6379";

const lunarTransitions = (n: number, seed = 0) => recordTransitions("LunarLander-v3", n, seed);
const slice = (b: TransitionBatch, start: number, n: number) => sliceBatch(b, start, start + n);

function timeIt(fn: () => void, minMs = 400): number {
  let reps = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < minMs) {
    fn();
    reps++;
  }
  return (performance.now() - t0) / reps;
}

async function codecBench() {
  const all = lunarTransitions(256 * 40);
  const batchSizes = [64, 256, 1024];
  const out: Record<string, unknown>[] = [];
  for (const n of batchSizes) {
    const batches = Array.from({ length: Math.floor(all.n / n) }, (_, i) => slice(all, i * n, n));
    const frames = batches.map((b, i) => encodeTransitions({ actor: "a-1", env: "LunarLander-v3", seq: i, ts: 0, batch: b }));
    const wire = frames.reduce((s, f) => s + f.length, 0);
    const raw = batches.reduce((s, b) => s + b.n * (8 * 8 * 2 + 4 + 4 + 2), 0);
    let k = 0;
    const enc = [1, 2, 3, 4, 5].map(() => timeIt(() => void encodeTransitions({ actor: "a-1", env: "LunarLander-v3", seq: 0, ts: 0, batch: batches[k++ % batches.length]! })));
    const dec = [1, 2, 3, 4, 5].map(() => timeIt(() => void decodeTransitions(frames[k++ % frames.length]!, { obsDim: 8 })));
    const rawPerBatch = raw / batches.length;
    out.push({
      batch: n,
      bytesPerTransition: wire / (batches.length * n),
      rawBytesPerTransition: raw / (batches.length * n),
      compressionRatio: raw / wire,
      encodeMBps: rawPerBatch / 1e6 / (median(enc) / 1000),
      decodeMBps: rawPerBatch / 1e6 / (median(dec) / 1000),
      encodeTransitionsPerSec: n / (median(enc) / 1000),
      decodeTransitionsPerSec: n / (median(dec) / 1000),
    });
  }
  const layout = makeLayout([{ name: "w0", shape: [8, 64] }, { name: "b0", shape: [64] }, { name: "w1", shape: [64, 64] }, { name: "b1", shape: [64] }, { name: "w2", shape: [64, 4] }, { name: "b2", shape: [4] }]);
  const params = new Float32Array(4996).map(() => Math.random() - 0.5);
  const w = encodeWeights({ actor: "a-1", version: 1, samples: 1, ts: 0, layout, params });
  const wEnc = median([1, 2, 3].map(() => timeIt(() => void encodeWeights({ actor: "a-1", version: 1, samples: 1, ts: 0, layout, params }))));
  const wDec = median([1, 2, 3].map(() => timeIt(() => void decodeWeights(w, layout))));
  return { transitions: out, weights: { params: params.length, wireBytes: w.length, rawBytes: params.length * 4, encodeMs: wEnc, decodeMs: wDec } };
}

async function redisBench() {
  const redis = new Redis(REDIS_URL);
  const run = `bench${process.pid}`;
  const replay = await RedisReplay.open(redis, { run, capacity: 1_000_000, obsDim: 8, seed: 1 });
  const data = lunarTransitions(256 * 20, 1);
  const batches = Array.from({ length: 20 }, (_, i) => slice(data, i * 256, 256));
  const rates: number[] = [];
  for (let rep = 0; rep < 5; rep++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 1000) {
      // 4 batches in flight, as a learner pipelining inserts from several actors would.
      await Promise.all(batches.slice(0, 4).map((b) => replay.insert(b)));
      n += 4 * 256;
    }
    rates.push(n / ((performance.now() - t0) / 1000));
  }
  const seq: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const t0 = performance.now();
    let n = 0;
    while (performance.now() - t0 < 1000) {
      await replay.insert(batches[n % 20]!);
      n++;
    }
    seq.push((n * 256) / ((performance.now() - t0) / 1000));
  }
  const lat: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    await replay.sample(64);
    lat.push(performance.now() - t0);
  }
  // Sampling while another connection ingests.
  const writer = new Redis(REDIS_URL);
  const wr = await RedisReplay.open(writer, { run, capacity: 1_000_000, obsDim: 8 });
  let stop = false;
  const ingest = (async () => { let k = 0; while (!stop) await wr.insert(batches[k++ % 20]!); })();
  const latBusy: number[] = [];
  for (let i = 0; i < 2000; i++) {
    const t0 = performance.now();
    await replay.sample(64);
    latBusy.push(performance.now() - t0);
  }
  stop = true;
  await ingest;
  const k = replayKeys(run);
  await redis.del(k.data, k.cursor, k.meta);
  redis.disconnect();
  writer.disconnect();
  return {
    insertTransitionsPerSec_pipelined4: median(rates),
    insertTransitionsPerSec_sequential: median(seq),
    batch: 256,
    sample64: { p50ms: percentile(lat, 50), p99ms: percentile(lat, 99) },
    sample64WhileIngesting: { p50ms: percentile(latBusy, 50), p99ms: percentile(latBusy, 99) },
  };
}

async function natsBench() {
  const pub = await NatsBus.connect({ url: NATS_URL });
  const sub = await NatsBus.connect({ url: NATS_URL });
  const data = lunarTransitions(256, 2);
  const frame = encodeTransitions({ actor: "a-1", env: "LunarLander-v3", seq: 0, ts: 0, batch: data });
  const subject = `bench.${process.pid}.t`;
  let got = 0;
  sub.subscribe(subject, () => void got++, { maxPending: 1_000_000 });
  await sub.flush();
  const rates: number[] = [];
  for (let rep = 0; rep < 3; rep++) {
    const start = got;
    const t0 = performance.now();
    let sent = 0;
    while (performance.now() - t0 < 1000) {
      for (let i = 0; i < 100; i++) pub.publish(subject, frame);
      sent += 100;
      await pub.flush();
    }
    while (got - start < sent) await new Promise((r) => setTimeout(r, 1));
    rates.push((got - start) / ((performance.now() - t0) / 1000));
  }
  await pub.close();
  await sub.close();
  return { batchesPerSec: median(rates), transitionsPerBatch: 256, frameBytes: frame.length, transitionsPerSec: median(rates) * 256 };
}

const codec = await codecBench();
console.log("codec", JSON.stringify(codec.transitions));
const redis = await redisBench();
console.log("redis", JSON.stringify(redis));
const nats = await natsBench();
console.log("nats", JSON.stringify(nats));
const b256 = codec.transitions.find((t) => t.batch === 256)!;
const path = writeResult("foundation", {
  codec, redis, nats,
  goals: {
    bytesPerTransitionLunarLander: { goal: "<= 40", measured: b256.bytesPerTransition, met: (b256.bytesPerTransition as number) <= 40 },
    redisInsertPerSec: { goal: ">= 400000", measured: redis.insertTransitionsPerSec_pipelined4, met: redis.insertTransitionsPerSec_pipelined4 >= 400_000 },
  },
});
console.log(`wrote ${path}`);
process.exit(0);
