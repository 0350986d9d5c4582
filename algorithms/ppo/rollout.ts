/**
 * PPO's rollout: the last `capacity` env steps with the log-probability and value recorded when
 * each action was taken, and the links GAE needs between consecutive steps of one env.
 *
 * An actor steps several envs in lock-step and reports their transitions interleaved (env 0, env 1,
 * …, env 0, …), so "the next row" is not the next step of the same env. Rows are linked by
 * observation instead: a row continues the open episode whose last next-observation equals its
 * observation (exactly: both are the env's own float32 row). An episode closes when it terminates
 * or is truncated; rows still open when the rollout fills are bootstrapped with V(s'). Should two
 * envs pass through the very same observation, their continuations may be swapped: for a Markov env
 * either one is a sample of what follows that state, so the advantage estimate stays valid.
 */
import type { Transition } from "../../core/batch";

/** Open episodes kept for linking beyond this many are forgotten (oldest first): a bound, never reached by an actor. */
const MAX_OPEN = 1024;

export interface RolloutSnapshot {
  n: number;
  obs: number[];
  nextObs: number[];
  actions: number[];
  rewards: number[];
  terminated: number[];
  truncated: number[];
  logp: number[];
  values: number[];
  next: number[];
  open: number[];
}

export class Rollout {
  n = 0;
  readonly obs: Float32Array;
  readonly nextObs: Float32Array;
  readonly actions: Int32Array;
  readonly rewards: Float64Array;
  readonly terminated: Uint8Array;
  readonly truncated: Uint8Array;
  /** log π_old(a|s) when the action was taken */
  readonly logp: Float64Array;
  /** V_old(s) when the action was taken */
  readonly values: Float64Array;
  /** the row continuing this one's episode, or −1 */
  readonly next: Int32Array;
  /** rows whose episode goes on and has no later row yet, oldest first */
  private open: number[] = [];

  constructor(readonly capacity: number, readonly obsDim: number) {
    this.obs = new Float32Array(capacity * obsDim);
    this.nextObs = new Float32Array(capacity * obsDim);
    this.actions = new Int32Array(capacity);
    this.rewards = new Float64Array(capacity);
    this.terminated = new Uint8Array(capacity);
    this.truncated = new Uint8Array(capacity);
    this.logp = new Float64Array(capacity);
    this.values = new Float64Array(capacity);
    this.next = new Int32Array(capacity);
  }

  get full(): boolean {
    return this.n >= this.capacity;
  }

  /** Appends one step (obs already as float32) with its behaviour log-probability and value. */
  push(t: Transition, obs: Float32Array, logp: number, value: number): void {
    if (this.full) throw new Error(`rollout full (${this.capacity} rows): update() before observing more`);
    const d = this.obsDim, i = this.n++;
    this.obs.set(obs, i * d);
    for (let k = 0; k < d; k++) this.nextObs[i * d + k] = t.nextObs[k]!;
    this.actions[i] = t.action;
    this.rewards[i] = t.reward;
    this.terminated[i] = t.terminated ? 1 : 0;
    this.truncated[i] = t.truncated ? 1 : 0;
    this.logp[i] = logp;
    this.values[i] = value;
    this.next[i] = -1;
    const o = this.open.findIndex((j) => this.continues(j, obs));
    if (o >= 0) {
      this.next[this.open[o]!] = i;
      this.open.splice(o, 1);
    }
    if (!t.terminated && !t.truncated) {
      this.open.push(i);
      if (this.open.length > MAX_OPEN) this.open.shift();
    }
  }

  /** Does `obs` continue row j (its next observation, bit for bit)? */
  private continues(j: number, obs: Float32Array): boolean {
    const d = this.obsDim, o = j * d;
    for (let k = 0; k < d; k++) if (this.nextObs[o + k] !== obs[k]) return false;
    return true;
  }

  clear(): void {
    this.n = 0;
    this.open = [];
  }

  snapshot(): RolloutSnapshot {
    const n = this.n, d = this.obsDim;
    return {
      n, obs: Array.from(this.obs.subarray(0, n * d)), nextObs: Array.from(this.nextObs.subarray(0, n * d)), actions: Array.from(this.actions.subarray(0, n)),
      rewards: Array.from(this.rewards.subarray(0, n)), terminated: Array.from(this.terminated.subarray(0, n)), truncated: Array.from(this.truncated.subarray(0, n)),
      logp: Array.from(this.logp.subarray(0, n)), values: Array.from(this.values.subarray(0, n)), next: Array.from(this.next.subarray(0, n)), open: this.open.slice(),
    };
  }

  /** Continues from snapshot() (validated: sizes, and links that point forward inside the rollout). */
  restore(s: RolloutSnapshot): void {
    const n = s.n, d = this.obsDim;
    if (!(Number.isInteger(n) && n >= 0 && n <= this.capacity)) throw new Error(`rollout: ${n} rows do not fit its capacity ${this.capacity}`);
    const sizes: [keyof RolloutSnapshot, number][] = [["obs", n * d], ["nextObs", n * d], ["actions", n], ["rewards", n], ["terminated", n], ["truncated", n], ["logp", n], ["values", n], ["next", n]];
    for (const [k, len] of sizes) if (!Array.isArray(s[k]) || (s[k] as number[]).length !== len) throw new Error(`rollout: ${k} has ${(s[k] as number[])?.length} values, expected ${len}`);
    for (let i = 0; i < n; i++) if (s.next[i]! !== -1 && !(s.next[i]! > i && s.next[i]! < n)) throw new Error(`rollout: row ${i} links to ${s.next[i]}`);
    if (!s.open.every((j) => Number.isInteger(j) && j >= 0 && j < n)) throw new Error("rollout: open rows out of range");
    this.n = n;
    this.obs.set(s.obs);
    this.nextObs.set(s.nextObs);
    this.actions.set(s.actions);
    this.rewards.set(s.rewards);
    this.terminated.set(s.terminated);
    this.truncated.set(s.truncated);
    this.logp.set(s.logp);
    this.values.set(s.values);
    this.next.set(s.next);
    this.open = s.open.slice();
  }
}
