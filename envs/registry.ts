import type { Env, ResetOptions, ResetResult, StepResult } from "./types";

/** Options every factory receives; env-specific keys pass through. */
export type EnvOptions = Record<string, unknown> & { maxEpisodeSteps?: number };

export interface EnvSpec {
  id: string;
  /** Gymnasium's registered time limit; `make` wraps the env in TimeLimit when set. */
  maxEpisodeSteps?: number;
  create(options: EnvOptions): Env;
}

/** Gymnasium's TimeLimit: reports `truncated` once `maxSteps` steps have been taken. */
export class TimeLimit implements Env {
  private elapsed = 0;
  constructor(readonly inner: Env, readonly maxSteps: number) {}
  get id() { return this.inner.id; }
  get observationSize() { return this.inner.observationSize; }
  get actionCount() { return this.inner.actionCount; }
  get bounds() { return this.inner.bounds; }
  reset(options?: ResetOptions): ResetResult {
    this.elapsed = 0;
    return this.inner.reset(options);
  }
  step(action: number): StepResult {
    const r = this.inner.step(action);
    this.elapsed++;
    if (this.elapsed >= this.maxSteps) r.truncated = true;
    return r;
  }
  close(): void { this.inner.close?.(); }
}

/** A registry of env factories (like Gymnasium's). Create your own or use `defaultRegistry`. */
export class EnvRegistry {
  private readonly specs = new Map<string, EnvSpec>();
  register(spec: EnvSpec): void {
    if (this.specs.has(spec.id)) throw new Error(`env id already registered: ${spec.id}`);
    this.specs.set(spec.id, spec);
  }
  ids(): string[] {
    return [...this.specs.keys()].sort();
  }
  make(id: string, options: EnvOptions = {}): Env {
    const spec = this.specs.get(id);
    if (!spec) throw new Error(`unknown env id "${id}"; registered: ${this.ids().join(", ")}`);
    const env = spec.create(options);
    const limit = options.maxEpisodeSteps ?? spec.maxEpisodeSteps;
    return limit && limit > 0 ? new TimeLimit(env, limit) : env;
  }
}
