/**
 * Gymnasium-shaped environment contract. Envs know nothing of NATS, Redis or learning.
 *
 *   env.reset({ seed }) → { obs, info }
 *   env.step(action)    → { obs, reward, terminated, truncated, info }
 */

/** Injectable random source; `uniform(lo, hi)` matches numpy's Generator.uniform. */
export interface RandomSource {
  uniform(lo: number, hi: number): number;
}

export type Info = Record<string, unknown>;

export interface ResetResult {
  obs: Float32Array;
  info: Info;
}

export interface StepResult {
  obs: Float32Array;
  reward: number;
  terminated: boolean;
  truncated: boolean;
  info: Info;
}

export interface ResetOptions {
  seed?: number;
}

/** Declared magnitudes (Gymnasium's observation_space low/high; reward range when the env knows one). */
export interface EnvBounds {
  obs?: { low: readonly number[]; high: readonly number[] };
  reward?: readonly [number, number];
}

export interface Env {
  readonly id: string;
  readonly observationSize: number;
  readonly actionCount: number;
  readonly bounds?: EnvBounds;
  reset(options?: ResetOptions): ResetResult;
  step(action: number): StepResult;
  close?(): void;
}
