/**
 * Plausibility bounds: finite is not safe (1e30 weights or 3e38 observations pass isFinite and still
 * poison a model), so magnitudes are bounded before anything is blended or stored. Pure functions.
 */
import type { TransitionBatch } from "../core/batch";
import { l2diff, norm } from "../core/vec";

export interface WeightBounds {
  /** ‖θ_k‖ ≤ normRatio · max(‖θ_global‖, 1). */
  normRatio: number;
  /** ‖θ_k − θ_global‖ ≤ deltaRatio · max(‖θ_global‖, 1). */
  deltaRatio: number;
  /** A round may not grow the global norm beyond growth · max(‖θ_global‖, 1). */
  growth: number;
}

export const DEFAULT_WEIGHT_BOUNDS: WeightBounds = { normRatio: 3, deltaRatio: 2, growth: 1.5 };

/** Why a client's weights are implausible against the current global model, or null. */
export function weightsOutOfBounds(params: Float32Array, global: Float32Array, b: WeightBounds): string | null {
  let finite = true;
  for (let j = 0; j < params.length; j++) if (!Number.isFinite(params[j]!)) { finite = false; break; }
  if (!finite) return "non_finite";
  const scale = Math.max(norm(global), 1);
  const n = norm(params);
  if (!(n <= b.normRatio * scale)) return "norm_bound";
  if (!(l2diff(params, global) <= b.deltaRatio * scale)) return "delta_bound";
  return null;
}

/** Why a new global model must not replace the current one, or null. */
export function globalRefused(next: Float32Array, current: Float32Array, growth: number): string | null {
  for (let j = 0; j < next.length; j++) if (!Number.isFinite(next[j]!)) return "non_finite_result";
  if (!(norm(next) <= growth * Math.max(norm(current), 1))) return "exploding_result";
  return null;
}

/** Per-coordinate magnitude limits for observations and a limit for rewards. */
export interface TransitionLimits {
  obs: Float32Array;
  reward: number;
}

export interface TransitionBoundsConfig {
  /** Declared bounds are widened by this factor (declared spaces are not always hard limits). */
  slack: number;
  /** Limit for coordinates and rewards with no declared bound. */
  maxAbs: number;
}

export const DEFAULT_TRANSITION_BOUNDS: TransitionBoundsConfig = { slack: 2, maxAbs: 1e4 };

/** Declared bounds (from the env) → limits; infinite or undeclared ones fall back to maxAbs. */
export function transitionLimits(obsDim: number, declared: { obs?: { low: readonly number[]; high: readonly number[] }; reward?: readonly [number, number] } | undefined, c: TransitionBoundsConfig): TransitionLimits {
  const obs = new Float32Array(obsDim).fill(c.maxAbs);
  if (declared?.obs) {
    for (let j = 0; j < obsDim; j++) {
      const m = Math.max(Math.abs(declared.obs.low[j] ?? Infinity), Math.abs(declared.obs.high[j] ?? Infinity));
      if (Number.isFinite(m)) obs[j] = Math.min(c.maxAbs, Math.max(m * c.slack, 1e-6));
    }
  }
  let reward = c.maxAbs;
  if (declared?.reward) {
    const m = Math.max(Math.abs(declared.reward[0]), Math.abs(declared.reward[1]));
    if (Number.isFinite(m)) reward = Math.min(c.maxAbs, Math.max(m * c.slack, 1e-6));
  }
  return { obs, reward };
}

/** The first implausible value of a batch ("obs_bound" / "reward_bound"), or null when all are within limits. */
export function batchOutOfBounds(b: TransitionBatch, lim: TransitionLimits): string | null {
  const d = b.obsDim;
  for (let i = 0; i < b.n; i++) {
    for (let j = 0; j < d; j++) {
      const L = lim.obs[j]!;
      if (!(Math.abs(b.obs[i * d + j]!) <= L) || !(Math.abs(b.nextObs[i * d + j]!) <= L)) return "obs_bound";
    }
    if (!(Math.abs(b.rewards[i]!) <= lim.reward)) return "reward_bound";
  }
  return null;
}
