/**
 * Per-env defaults: the ONE place that says what a newcomer gets without a config file.
 *
 * - `fedrl train-local [--env ID]` with no `--config` runs the `local` recipe on `ENV_DEFAULTS[ID]`
 *   (agent hyperparameters, step budget, target, eval episodes); `--set` overrides any key.
 * - `fedrl run` (and `learner`, `actor`, `config print`) with no `--config` runs `defaultRun(ID)`:
 *   the hybrid recipe (3 actors, configs/cartpole-hybrid.yaml's federation settings) on the same
 *   agent (with the entry's `hybrid` changes) and budget, stopping at the target; ID is CartPole-v1
 *   unless `--set env.id=…` names another.
 * - `--config FILE` replaces these defaults entirely (the file's keys, then the schema's defaults in
 *   launch/config.ts, which stay the seed paper's values: the golden runs depend on them).
 *
 * An env without an entry gets the schema defaults. Measured by `npm run bench:defaults`
 * (bench/results/defaults-*.md); see docs/results.md "Defaults that learn".
 */
import type { DqnConfigInput } from "../algorithms/dqn/config";

export interface EnvDefaults {
  /** The algorithm's hyperparameters (the config's `agent` section). */
  agent: DqnConfigInput;
  /** Env steps per actor; the run stops there or at the target (train-local stops at the target). */
  stepsPerActor: number;
  /** The mean-`window` training return that counts as solved. */
  targetReturn: number;
  window: number;
  evalEpisodes: number;
  /**
   * What `fedrl run` (the hybrid recipe) changes for this env: agent keys merged over `agent`, and
   * its budget of env steps per actor (default `stepsPerActor`). configs/<env>-hybrid.yaml holds the
   * same run as a file (test/cli/defaults.test.ts keeps the two equal).
   */
  hybrid?: { agent?: Partial<DqnConfigInput>; stepsPerActor?: number };
}

export const ENV_DEFAULTS: Readonly<Record<string, EnvDefaults>> = {
  /**
   * Double DQN, 3-step returns, a gradient step every 2 env steps on batches of 128, hard target
   * copy every 250 updates, ε linear 1 → 0.01 over 10k steps, the WebAssembly kernel (bench/agents.ts
   * CARTPOLE_SOLVE on "wasm"). Shorter ε (5k steps) or a step every env step (learnEvery 1) was faster
   * on some seeds and collapsed on others (docs/results.md "Defaults that learn").
   */
  "CartPole-v1": {
    agent: {
      algorithm: "double", nStep: 3, hidden: [64, 64], lr: 5e-4, batchSize: 128, gamma: 0.99,
      targetUpdate: "hard", targetUpdateEvery: 250, learnEvery: 2, learningStarts: 1000,
      epsilonSchedule: "linear", epsilonStart: 1, epsilonEnd: 0.01, epsilonDecaySteps: 10_000,
      replayCapacity: 50_000, engine: "wasm",
    },
    stepsPerActor: 150_000, targetReturn: 475, window: 100, evalEpisodes: 10,
    /**
     * The hybrid with ε 1 → 0.001 over 5k steps: 6 of 6 seeds solved at 231–323 episodes per actor;
     * with this entry's ε (10k steps, 0.01) 0 of 3 within 150k (docs/results.md "Shipped configs").
     */
    hybrid: { agent: { epsilonEnd: 0.001, epsilonDecaySteps: 5000 } },
  },
  /**
   * Double DQN, 3-step returns, 128×128, 4 gradient steps every 4 env steps on batches of 128
   * (lr 6.3e-4), hard target copy every 250 updates, ε linear 1 → 0.05 over 15k steps, WebAssembly.
   */
  "LunarLander-v3": {
    agent: {
      algorithm: "double", nStep: 3, hidden: [128, 128], lr: 6.3e-4, batchSize: 128, gamma: 0.99,
      targetUpdate: "hard", targetUpdateEvery: 250, learnEvery: 4, gradientSteps: 4, learningStarts: 1000,
      epsilonSchedule: "linear", epsilonStart: 1, epsilonEnd: 0.05, epsilonDecaySteps: 15_000,
      replayCapacity: 50_000, engine: "wasm",
    },
    stepsPerActor: 300_000, targetReturn: 200, window: 100, evalEpisodes: 20,
  },
};

const slug = (id: string) => id.toLowerCase().replace(/-v\d+$/, "").replace(/[^a-z0-9_-]/g, "");

/** The raw (unvalidated) config train-local starts from for `envId` when no --config is given. */
export function localDefaults(envId: string): Record<string, unknown> {
  const d = ENV_DEFAULTS[envId];
  return {
    run: `${slug(envId)}-local`, mode: "local", env: { id: envId },
    ...(d ? { agent: structuredClone(d.agent), budget: { stepsPerActor: d.stepsPerActor, targetReturn: d.targetReturn, window: d.window }, eval: { episodes: d.evalEpisodes } } : {}),
  };
}

/**
 * The raw config of `fedrl run` with no --config: the hybrid recipe on `envId`'s defaults (its
 * `hybrid` slice merged over them), with a budget, stopping once the target is reached. For
 * CartPole-v1 this is configs/cartpole-hybrid.yaml.
 */
export function defaultRun(envId = "CartPole-v1"): Record<string, unknown> {
  const d = ENV_DEFAULTS[envId];
  return {
    run: `${slug(envId)}-hybrid`, mode: "hybrid", env: { id: envId },
    actors: { count: 3, batchSteps: 200, weights: { ms: 15_000, steps: 3000 }, merge: "blend", blendBeta: 0.5, shipNStep: true },
    learner: {
      tick: { ms: 500, steps: 100 }, replayRatio: 0.5, updatesPerTick: 300, rateLimit: { min: 0.4, max: 0.6, insertSlack: 3000 },
      publish: { ms: 5000, steps: 1000 }, warmup: 1000,
      replay: { capacity: 100_000 }, filter: { name: "diversity", k: 32, theta: 0.15 },
    },
    aggregator: { interval: { ms: 30_000, steps: 6000 }, alpha: 0.5, rule: "trust", staleAfter: { ms: 90_000, steps: 18_000 } },
    ...(d
      ? {
        agent: { ...structuredClone(d.agent), ...structuredClone(d.hybrid?.agent ?? {}) },
        budget: { stepsPerActor: d.hybrid?.stepsPerActor ?? d.stepsPerActor, targetReturn: d.targetReturn, window: d.window, stopAtTarget: true },
        eval: { episodes: d.evalEpisodes },
      }
      : { budget: { stepsPerActor: 60_000 } }),
  };
}

/** The env id a list of `--set` assignments selects (the last `env.id=…`), if any. */
export function envIdOfSets(sets: readonly string[]): string | undefined {
  let id: string | undefined;
  for (const s of sets) if (s.startsWith("env.id=")) id = s.slice("env.id=".length).trim().replace(/^["']|["']$/g, "");
  return id;
}
