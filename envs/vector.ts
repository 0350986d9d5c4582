/**
 * VectorEnv: N copies of an env stepped together with SAME-STEP auto-reset.
 *
 * When copy i ends an episode (terminated or truncated) during `step`, it is
 * reset immediately inside that same call:
 *   - `obs` row i holds the FIRST observation of the new episode,
 *   - `finalObs[i]` (and `infos[i].finalObs`) holds the terminal observation,
 *     `infos[i].finalInfo` the terminal step's info,
 *   - `rewards[i]`, `terminated[i]`, `truncated[i]` are those of the ending step.
 * Copies that did not end have `finalObs[i] === null`. (This is Gymnasium's
 * "same-step" autoreset mode, not its default next-step mode: no step is wasted
 * on a reset and actions always apply to a live episode.)
 *
 * Seeding: `reset({ seed })` resets copy i with `seed + i`; auto-resets pass no
 * seed, so each copy continues its own generator (as Gymnasium does).
 */
import type { Env, Info } from "./types";

export interface VectorResetResult {
  /** Row-major observations, `numEnvs × observationSize`. */
  obs: Float32Array;
  infos: Info[];
}

export interface VectorStepResult {
  /** Row-major observations after auto-reset, `numEnvs × observationSize`. */
  obs: Float32Array;
  rewards: Float64Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
  /** Terminal observation of copies whose episode ended this step, else null. */
  finalObs: (Float32Array | null)[];
  infos: Info[];
}

export class VectorEnv {
  readonly numEnvs: number;
  readonly observationSize: number;
  readonly actionCount: number;
  readonly id: string;
  private started = false;

  constructor(readonly envs: readonly Env[]) {
    if (envs.length === 0) throw new Error("VectorEnv needs at least one env");
    const first = envs[0]!;
    for (const e of envs) {
      if (e.observationSize !== first.observationSize || e.actionCount !== first.actionCount) {
        throw new Error("VectorEnv: all copies must share observationSize and actionCount");
      }
    }
    this.numEnvs = envs.length;
    this.observationSize = first.observationSize;
    this.actionCount = first.actionCount;
    this.id = first.id;
  }

  /** `n` copies from a factory, e.g. `VectorEnv.create(8, () => make("CartPole-v1"))`. */
  static create(n: number, factory: (index: number) => Env): VectorEnv {
    if (!Number.isInteger(n) || n < 1) throw new RangeError(`numEnvs must be a positive integer, got ${n}`);
    return new VectorEnv(Array.from({ length: n }, (_, i) => factory(i)));
  }

  /** Row i of a row-major observation buffer (a view, no copy). */
  row(obs: Float32Array, i: number): Float32Array {
    return obs.subarray(i * this.observationSize, (i + 1) * this.observationSize);
  }

  reset(options: { seed?: number } = {}): VectorResetResult {
    const obs = new Float32Array(this.numEnvs * this.observationSize);
    const infos: Info[] = [];
    for (let i = 0; i < this.numEnvs; i++) {
      const r = this.envs[i]!.reset(options.seed === undefined ? {} : { seed: options.seed + i });
      obs.set(r.obs, i * this.observationSize);
      infos.push(r.info);
    }
    this.started = true;
    return { obs, infos };
  }

  step(actions: ArrayLike<number>): VectorStepResult {
    if (!this.started) throw new Error("VectorEnv: call reset() before step()");
    if (actions.length !== this.numEnvs) {
      throw new RangeError(`expected ${this.numEnvs} actions, got ${actions.length}`);
    }
    const n = this.numEnvs, size = this.observationSize;
    const obs = new Float32Array(n * size);
    const rewards = new Float64Array(n);
    const terminated = new Uint8Array(n);
    const truncated = new Uint8Array(n);
    const finalObs: (Float32Array | null)[] = new Array(n).fill(null);
    const infos: Info[] = new Array(n);
    for (let i = 0; i < n; i++) {
      const env = this.envs[i]!;
      const r = env.step(actions[i]!);
      rewards[i] = r.reward;
      terminated[i] = r.terminated ? 1 : 0;
      truncated[i] = r.truncated ? 1 : 0;
      if (r.terminated || r.truncated) {
        finalObs[i] = r.obs;
        const reset = env.reset();
        obs.set(reset.obs, i * size);
        infos[i] = { ...reset.info, finalObs: r.obs, finalInfo: r.info };
      } else {
        obs.set(r.obs, i * size);
        infos[i] = r.info;
      }
    }
    return { obs, rewards, terminated, truncated, finalObs, infos };
  }

  close(): void {
    for (const e of this.envs) e.close?.();
  }
}
