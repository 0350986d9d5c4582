/**
 * One typed, validated config for PPO (clipped surrogate, GAE(λ), discrete actions). Defaults are
 * the Stable-Baselines3 / PPO-paper Atari-free defaults: rollouts of 2048 steps, 10 epochs of
 * minibatches of 64, lr 3e-4, γ 0.99, λ 0.95, clip 0.2, value coefficient 0.5, no entropy bonus,
 * gradient norm ≤ 0.5, separate 64-64 tanh MLPs for the policy and the value (CleanRL's layout).
 */
import { z } from "zod";

export const PpoConfigSchema = z.strictObject({
  /** Hidden layer widths of each tower (the policy and the value MLP are separate, same widths). */
  hidden: z.array(z.number().int().positive()).min(1).default([64, 64]),
  activation: z.enum(["tanh", "relu"]).default("tanh"),
  lr: z.number().positive().default(3e-4),
  /** Anneal lr linearly to 0 over this many env steps (0 = constant lr). */
  lrDecaySteps: z.number().int().nonnegative().default(0),
  adamBeta1: z.number().min(0).max(1).default(0.9),
  adamBeta2: z.number().min(0).max(1).default(0.999),
  adamEps: z.number().positive().default(1e-5),
  gamma: z.number().min(0).max(1).default(0.99),
  /** GAE λ (1 = Monte-Carlo advantages, 0 = one-step TD). */
  gaeLambda: z.number().min(0).max(1).default(0.95),
  /** Env steps (over all of the agent's envs) per rollout; update() learns when one is full. */
  rolloutSteps: z.number().int().min(2).max(1_000_000).default(2048),
  /** Passes over each rollout. */
  epochs: z.number().int().positive().max(1000).default(10),
  minibatchSize: z.number().int().positive().default(64),
  /** ε of the clipped surrogate: the ratio π/π_old is clipped to [1 − ε, 1 + ε]. */
  clipRange: z.number().positive().max(10).default(0.2),
  /** Clip V − V_old to ±this in the value loss (PPO2 / CleanRL style); 0 = plain squared error. */
  valueClipRange: z.number().nonnegative().default(0),
  /** Weight of the value loss ½(V − R)² in the total loss. */
  vfCoef: z.number().nonnegative().default(0.5),
  /** Weight of the entropy bonus (subtracted from the loss). */
  entCoef: z.number().nonnegative().default(0),
  /** Clip the global gradient norm (policy and value together) to this (0 = off). */
  maxGradNorm: z.number().nonnegative().default(0.5),
  /** Normalise advantages to mean 0, std 1 within each minibatch. */
  normalizeAdvantages: z.boolean().default(true),
  /** Stop a rollout's epochs early once the approximate KL(π_old‖π) exceeds this (0 = off). */
  targetKl: z.number().nonnegative().default(0),
  /** Seeds weight init, action sampling and minibatch shuffles. */
  seed: z.number().int().nonnegative().default(0),
});

export type PpoConfig = z.infer<typeof PpoConfigSchema>;
export type PpoConfigInput = z.input<typeof PpoConfigSchema>;

export const PPO_CONFIG_KEYS: readonly string[] = Object.keys(PpoConfigSchema.shape);

/** Validate and fill defaults; errors name the offending key(s), and unknown keys list the valid ones. */
export function parsePpoConfig(input: unknown = {}): PpoConfig {
  const r = PpoConfigSchema.safeParse(input ?? {});
  if (r.success) {
    if (r.data.minibatchSize > r.data.rolloutSteps) throw new Error(`PPO config "minibatchSize": ${r.data.minibatchSize} exceeds rolloutSteps ${r.data.rolloutSteps}`);
    return r.data;
  }
  const msgs = r.error.issues.map((i) => {
    const keys = (i as { keys?: string[] }).keys;
    if (i.code === "unrecognized_keys" && keys) return `unknown PPO config key(s): ${keys.map((k) => `"${k}"`).join(", ")}; valid: ${PPO_CONFIG_KEYS.join(", ")}`;
    return `PPO config "${i.path.join(".") || "(root)"}": ${i.message}`;
  });
  throw new Error(msgs.join("; "));
}
