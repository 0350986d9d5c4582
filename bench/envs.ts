/**
 * Env throughput: steps/s under a uniformly random policy with auto-reset
 * (reset as soon as an episode terminates or is truncated), single env made with
 * `make(id)` (so TimeLimit included), median of 5 runs. Also VectorEnv(8).
 * Gymnasium figures (same machine, from ../shared/README.md): CartPole-v1 103k
 * steps/s, LunarLander-v3 24k steps/s.
 *
 *   npx tsx bench/envs.ts            → bench/results/envs.json
 */
import { make } from "../envs/index";
import { VectorEnv } from "../envs/vector";
import { median, writeResult } from "./util";

const GYMNASIUM = { "CartPole-v1": 103_000, "LunarLander-v3": 24_000 } as const;
type Id = keyof typeof GYMNASIUM;

function xorshift(seed: number) {
  let s = seed | 0 || 1;
  return () => {
    s ^= s << 13; s ^= s >>> 17; s ^= s << 5;
    return s >>> 0;
  };
}

function runSingle(id: Id, steps: number, seed: number): { stepsPerSec: number; episodes: number } {
  const env = make(id);
  const rand = xorshift(seed + 1);
  const A = env.actionCount;
  env.reset({ seed });
  let episodes = 0;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < steps; i++) {
    const r = env.step(rand() % A);
    if (r.terminated || r.truncated) { env.reset(); episodes++; }
  }
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  return { stepsPerSec: steps / sec, episodes };
}

function runVector(id: Id, n: number, steps: number, seed: number): number {
  const venv = VectorEnv.create(n, () => make(id));
  const rand = xorshift(seed + 7);
  const A = venv.actionCount;
  const actions = new Int32Array(n);
  venv.reset({ seed });
  const iters = Math.ceil(steps / n);
  const t0 = process.hrtime.bigint();
  for (let k = 0; k < iters; k++) {
    for (let i = 0; i < n; i++) actions[i] = rand() % A;
    venv.step(actions);
  }
  const sec = Number(process.hrtime.bigint() - t0) / 1e9;
  return (iters * n) / sec;
}

const config: Record<Id, { steps: number }> = {
  "CartPole-v1": { steps: 3_000_000 },
  "LunarLander-v3": { steps: 100_000 },
};

const results: Record<string, unknown> = {};
for (const id of Object.keys(config) as Id[]) {
  const { steps } = config[id];
  runSingle(id, Math.floor(steps / 5), 999); // warm-up (JIT)
  const runs: number[] = [];
  let episodes = 0;
  for (let r = 0; r < 5; r++) {
    const out = runSingle(id, steps, r);
    runs.push(out.stepsPerSec);
    episodes += out.episodes;
  }
  const vruns: number[] = [];
  for (let r = 0; r < 5; r++) vruns.push(runVector(id, 8, steps, 100 + r));
  const med = median(runs);
  const vmed = median(vruns);
  results[id] = {
    policy: "uniform random, auto-reset",
    stepsPerRun: steps,
    runs: 5,
    stepsPerSec: Math.round(med),
    runsStepsPerSec: runs.map(Math.round),
    meanEpisodeLength: Math.round((steps * 5) / Math.max(1, episodes) * 10) / 10,
    vectorEnv8StepsPerSec: Math.round(vmed),
    gymnasiumStepsPerSec: GYMNASIUM[id],
    ratioVsGymnasium: Math.round((med / GYMNASIUM[id]) * 100) / 100,
    vectorEnv8RatioVsGymnasium: Math.round((vmed / GYMNASIUM[id]) * 100) / 100,
  };
  console.log(
    `${id}: ${(med / 1e3).toFixed(0)}k steps/s (×${(med / GYMNASIUM[id]).toFixed(2)} Gymnasium), ` +
      `VectorEnv(8) ${(vmed / 1e3).toFixed(0)}k steps/s`,
  );
}

const path = writeResult("envs", {
  note: "single env from make(id) incl. TimeLimit; median of 5 runs after a warm-up; Gymnasium figures from ../shared/README.md (same machine)",
  goals: { "CartPole-v1": "≥ 30× Gymnasium", "LunarLander-v3": "≥ 1× Gymnasium" },
  results,
});
console.log(`wrote ${path}`);
