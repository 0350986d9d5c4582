/**
 * One typed, validated config for the DQN family (DQN, Double DQN, Dueling). Defaults are the
 * seed paper's client: lr 5e-4, batch 64, γ 0.99, soft τ 1e-3, learn every 4 env steps,
 * ε 1.0 → 0.01 × 0.995 per episode, replay 100k.
 */
import { z } from "zod";
import type { EpsilonSchedule } from "../schedule";

export const DqnConfigSchema = z.strictObject({
  /** "dqn": y = r + γ max_a Q_target(s', a); "double": y = r + γ Q_target(s', argmax_a Q_online(s', a)). */
  algorithm: z.enum(["dqn", "double"]).default("dqn"),
  /** Dueling head: Q = V + A − mean(A). */
  dueling: z.boolean().default(false),
  hidden: z.array(z.number().int().positive()).min(1).default([64, 64]),
  lr: z.number().positive().default(5e-4),
  /**
   * Linear learning-rate decay: lr → lrEnd over this many gradient steps of this agent (0 = a
   * constant lr). The global learner counts its own updates, usually more than an actor's; give
   * it its own with `learnerAgent.lrDecayUpdates`.
   */
  lrDecayUpdates: z.number().int().nonnegative().default(0),
  lrEnd: z.number().nonnegative().default(0),
  adamBeta1: z.number().min(0).max(1).default(0.9),
  adamBeta2: z.number().min(0).max(1).default(0.999),
  adamEps: z.number().positive().default(1e-8),
  batchSize: z.number().int().positive().default(64),
  gamma: z.number().min(0).max(1).default(0.99),
  /** Huber loss threshold (SmoothL1 β). */
  huberDelta: z.number().positive().default(1),
  /** Clip the global gradient norm to this (0 = off). */
  maxGradNorm: z.number().nonnegative().default(10),
  /** "soft": θ' ← τθ + (1−τ)θ' every `targetUpdateEvery` updates; "hard": θ' ← θ every `targetUpdateEvery` updates. */
  targetUpdate: z.enum(["soft", "hard"]).default("soft"),
  tau: z.number().min(0).max(1).default(1e-3),
  targetUpdateEvery: z.number().int().positive().default(1),
  /** Env steps between learning calls in update(). */
  learnEvery: z.number().int().positive().default(4),
  /** Gradient steps per learning call. */
  gradientSteps: z.number().int().positive().default(1),
  /** Replay rows required before update() learns. */
  learningStarts: z.number().int().nonnegative().default(64),
  replayCapacity: z.number().int().positive().default(100_000),
  /** n-step returns, accumulated on the local replay path at insertion time. */
  nStep: z.number().int().min(1).max(100).default(1),
  epsilonSchedule: z.enum(["exponential", "linear"]).default("exponential"),
  epsilonStart: z.number().min(0).max(1).default(1.0),
  epsilonEnd: z.number().min(0).max(1).default(0.01),
  /** Exponential: multiplier per finished episode. */
  epsilonDecay: z.number().min(0).max(1).default(0.995),
  /** Linear: env steps from start to end. */
  epsilonDecaySteps: z.number().int().positive().default(10_000),
  /**
   * Learning-step engine: "js" (plain-JS loops; fastest here for ≤ 64-unit layers, allocation-free,
   * the only one with dueling), "tf" (tfjs ops on the current backend, explicit transposes; MLP only),
   * "auto" = "tf" when the tfjs backend is wasm/tensorflow, the net is an MLP and a layer has ≥ 128
   * units, else "js" (see bench/results/agents.json). "wasm": the fused WebAssembly SIMD kernel
   * (wasm-engine.ts; MLP only, acting through the kernel too; 12–18× faster than "js" and below
   * PyTorch CPU at 64 and 128 units, see bench/results/kernel.md). "auto" never picks "wasm": it
   * matches "js" to ~1e-7, not bit for bit, and the golden runs need "js" bit for bit.
   * Acting runs in JS for "js" and "tf".
   */
  engine: z.enum(["auto", "js", "tf", "wasm"]).default("auto"),
  /** Seeds weight init, exploration and replay sampling. */
  seed: z.number().int().nonnegative().default(0),
});

export type DqnConfig = z.infer<typeof DqnConfigSchema>;
export type DqnConfigInput = z.input<typeof DqnConfigSchema>;

/** Validate and fill defaults; errors name the offending key(s). */
export function parseDqnConfig(input: unknown = {}): DqnConfig {
  const r = DqnConfigSchema.safeParse(input ?? {});
  if (r.success) return r.data;
  const msgs = r.error.issues.map((i) => {
    const keys = (i as { keys?: string[] }).keys;
    if (i.code === "unrecognized_keys" && keys) return `unknown DQN config key(s): ${keys.map((k) => `"${k}"`).join(", ")}`;
    return `DQN config "${i.path.join(".") || "(root)"}": ${i.message}`;
  });
  throw new Error(msgs.join("; "));
}

export function epsilonScheduleOf(c: DqnConfig): EpsilonSchedule {
  return c.epsilonSchedule === "linear"
    ? { kind: "linear", start: c.epsilonStart, end: c.epsilonEnd, steps: c.epsilonDecaySteps }
    : { kind: "exponential", start: c.epsilonStart, end: c.epsilonEnd, decay: c.epsilonDecay };
}

/** Hyperparameters that make DQN solve CartPole-v1 quickly and reliably (used by tests/benchmarks). */
export const CARTPOLE_DQN: DqnConfigInput = {
  lr: 1e-3,
  batchSize: 64,
  gamma: 0.99,
  targetUpdate: "hard",
  targetUpdateEvery: 125, // updates (= 500 env steps at learnEvery 4)
  learnEvery: 4,
  learningStarts: 1000,
  epsilonSchedule: "linear",
  epsilonStart: 1.0,
  epsilonEnd: 0.02,
  epsilonDecaySteps: 10_000,
  replayCapacity: 50_000,
};
