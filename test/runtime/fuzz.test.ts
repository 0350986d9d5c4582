/**
 * Fuzz a real learner process over real NATS + Redis with 10,000 malformed messages: random bytes,
 * truncations, bit flips (with and without a recomputed CRC), NaN / Inf / 3e38 values, wrong dims,
 * oversize frames, deflate bombs, ids that differ from the subject, junk weights. The learner must
 * stay up, keep its memory bounded, store none of it and count every message by reason.
 */
import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { ChildProcess } from "node:child_process";
import { deflateSync } from "fflate";
import { Redis } from "ioredis";
import { NatsBus } from "../../transport/bus-nats";
import { encodeTransitions, encodeWeights } from "../../transport/codec";
import { crc32 } from "../../transport/crc32";
import { spawnComponent } from "../../launch/multiprocess";
import { replayKeys } from "../../transport/replay-redis";
import { subjectsFor } from "../../transport/subjects";
import { allocBatch, syntheticBatch } from "../../core/batch";
import { makeLayout } from "../../core/params";
import { Random } from "../../core/random";
import { NATS_URL, REDIS_URL, uid } from "./bus.contract";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once("exit", (code) => r(code))));

/** A frame with its CRC recomputed over a (mutated) body. */
function reframe(frame: Uint8Array): Uint8Array {
  const out = frame.slice();
  new DataView(out.buffer).setUint32(8, crc32(out.subarray(12)), true);
  return out;
}

describe("fuzz: 10,000 malformed messages against a real learner (NATS + Redis)", function () {
  this.timeout(180_000);
  const run = `fuzz${uid()}`;
  const dir = mkdtempSync(join(tmpdir(), "fedrl-fuzz-"));
  const cfg = join(dir, "exp.yaml");
  writeFileSync(cfg, `
run: ${run}
mode: hybrid
seed: 1
runDir: ${join(dir, "run")}
env: { id: CartPole-v1 }
learner: { tick: { ms: 200 }, publish: { ms: 1000 }, maxMessageBytes: 65536, replay: { capacity: 10000 } }
`);
  const env = { ...process.env, NATS_URL, REDIS_URL, FEDRL_CHILD: "1" };
  let learner: ChildProcess | null = null;
  let redis: Redis;
  after(async () => {
    if (learner && learner.exitCode === null) learner.kill("SIGKILL");
    const k = replayKeys(run);
    await redis.del(k.data, k.cursor, k.meta);
    redis.disconnect();
  });

  it("stays up, stores nothing, keeps memory bounded and counts every message by reason", async () => {
    redis = new Redis(REDIS_URL);
    const logs: string[] = [];
    learner = spawnComponent(["learner", "--config", cfg], env, "learner", (l) => void logs.push(l));
    for (let i = 0; i < 200 && !logs.some((l) => /learner up:/.test(l)); i++) await sleep(100);
    expect(logs.some((l) => /learner up:/.test(l)), logs.slice(-10).join("\n")).to.equal(true);
    const bus = await NatsBus.connect({ url: NATS_URL });
    const subjects = subjectsFor(run);
    let beat: Record<string, any> | null = null;
    bus.subscribe(subjects.metrics("learner"), (m) => void (beat = JSON.parse(new TextDecoder().decode(m.data))));
    while (!beat) await sleep(100);
    const rss0 = (beat as Record<string, any>).rssMB as number;

    const rng = new Random(7);
    const valid = (id: string, seq: number) => encodeTransitions({ actor: id, env: "CartPole-v1", seq, ts: 1, batch: syntheticBatch(20, 4, 2, rng, { rewards: [0, 1] }) });
    const layout = makeLayout([{ name: "w", shape: [8] }]);
    const bomb = (() => {
      const body = deflateSync(new Uint8Array(64 << 20), { level: 9 });
      const f = valid("bomb", 0);
      const out = new Uint8Array(12 + body.length);
      out.set(f.subarray(0, 12));
      out[4] = 1;
      out.set(body, 12);
      return reframe(out);
    })();
    const makers: ((i: number) => [string, Uint8Array])[] = [
      (i) => [subjects.transitions(`junk${i % 500}`), Uint8Array.from({ length: 1 + rng.int(300) }, () => rng.int(256))],
      (i) => { const f = valid(`t${i % 50}`, i); return [subjects.transitions(`t${i % 50}`), f.subarray(0, rng.int(f.length))]; },
      (i) => { const f = valid(`b${i % 50}`, i).slice(); f[12 + rng.int(f.length - 12)] ^= 1 << rng.int(8); return [subjects.transitions(`b${i % 50}`), f]; },
      (i) => { const f = valid(`c${i % 50}`, i).slice(); f[12 + rng.int(f.length - 12)] ^= 1 << rng.int(8); return [subjects.transitions(`c${i % 50}`), reframe(f)]; },
      (i) => { const b = syntheticBatch(10, 4, 2, rng); b.obs[rng.int(40)] = [NaN, Infinity, -Infinity, 3e38][i % 4]!; return [subjects.transitions(`n${i % 50}`), encodeTransitions({ actor: `n${i % 50}`, env: "CartPole-v1", seq: i, ts: 1, batch: b })]; },
      (i) => { const b = syntheticBatch(10, 4, 2, rng); b.rewards[3] = 1e9; return [subjects.transitions(`r${i % 50}`), encodeTransitions({ actor: `r${i % 50}`, env: "CartPole-v1", seq: i, ts: 1, batch: b })]; },
      (i) => [subjects.transitions(`d${i % 50}`), encodeTransitions({ actor: `d${i % 50}`, env: "CartPole-v1", seq: i, ts: 1, batch: syntheticBatch(10, 3, 2, rng) })],
      (i) => [subjects.transitions(`o${i % 50}`), new Uint8Array(70_000).fill(i % 256)],
      (i) => (i % 50 === 0 ? [subjects.transitions("bomb"), bomb] : [subjects.transitions(`x${i % 50}`), valid(`someone-else`, i)]),
      (i) => [subjects.weights(`w${i % 50}`), encodeWeights({ actor: `w${i % 50}`, version: 0, samples: 1, ts: 0, layout, params: new Float32Array(8).fill(1e30) })],
      (i) => [subjects.weights(`v${i % 50}`), Uint8Array.from({ length: 1 + rng.int(200) }, () => rng.int(256))],
    ];
    const N = 10_000;
    for (let i = 0; i < N; i++) {
      const [subject, data] = makers[i % makers.length]!(i);
      bus.publish(subject, data);
      if (i % 200 === 199) {
        await bus.flush();
        await sleep(20);
      }
    }
    await bus.flush();
    // Wait until the learner has counted everything (heartbeats every 2 s).
    let last = -1;
    for (let t = 0; t < 60; t++) {
      await sleep(1000);
      const b = beat as Record<string, any> | null;
      const seen = (b?.rejected?.total ?? 0) + (b?.dropped ?? 0);
      if (seen >= N || (seen === last && seen > 0)) break;
      last = seen;
    }
    const b = beat as unknown as Record<string, any>;
    expect(learner.exitCode, "the learner is still running").to.equal(null);
    expect(b.rejected.total + b.dropped).to.equal(N);
    expect(b.dropped).to.equal(0);
    expect(b.accepted).to.equal(0);
    expect(b.replay.size).to.equal(0);
    const reasons = b.rejected.byReason as Record<string, number>;
    for (const r of ["bad_frame", "checksum", "non_finite", "obs_bound", "reward_bound", "too_large", "bad_id"]) expect(reasons[r] ?? 0, r).to.be.greaterThan(0);
    expect(Object.keys(b.rejected.bySource).length).to.be.at.most(257);
    expect(b.rssMB).to.be.lessThan(2 * rss0);
    process.stderr.write(`      10,000 malformed: ${JSON.stringify(reasons)}; RSS ${rss0.toFixed(0)} → ${b.rssMB.toFixed(0)} MB\n`);
    await bus.close();
    learner.kill("SIGINT");
    expect(await exited(learner)).to.equal(0);
  });
});
