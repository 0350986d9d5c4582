/**
 * Diversity filter of the hybrid method: a transition with state s is accepted iff
 *   D = mean_i ‖s − s_i‖₂ ≥ θ  over k reference states s_i sampled from the replay.
 * While fewer than k reference states exist, everything is accepted.
 *
 * Reference states live in memory, mirrored from accepted inserts: the first R inserts fill the
 * reservoir, after which every m-th insert (m = ceil(replayCapacity / R)) overwrites the oldest
 * slot. The reservoir is then a systematic sample of the last ≈ replayCapacity inserts — the
 * same population a FIFO replay of that capacity holds and the learner samples from Redis —
 * without a round trip per transition.
 *
 * Two options make θ mean something across envs (the paper's raw θ = 0.15 never binds: D between
 * raw LunarLander states is ≥ 0.9 at its 1st percentile):
 * - `standardize`: distances on states scaled per dimension by a running mean/std (Welford over
 *   every offered state), so θ is in standard deviations, not the env's units.
 * - `acceptRate` r ∈ (0, 1): θ follows the (1 − r)-quantile of the last WINDOW distances D,
 *   recomputed every RETUNE rows, so about a fraction r of rows is kept whatever the scale.
 *   `theta` is then only the value before the first WINDOW/4 distances are seen.
 */
import { Random } from "../core/random";
import type { TransitionBatch } from "../core/batch";
import type { ExperienceFilter, FilterStats } from "./filter";

export interface DiversityConfig {
  k: number;
  theta: number;
  /** Reference states kept in memory. */
  reservoir: number;
  /** Capacity of the replay the reservoir mirrors. */
  replayCapacity: number;
  /** Distances on per-dimension standardised states (running mean/std). Default false. */
  standardize?: boolean;
  /** Target fraction of rows kept (θ from the quantile of recent D); 0 or absent = fixed θ. */
  acceptRate?: number;
}

/** Distances kept for the accept-rate quantile, and rows between two re-tunes of θ. */
const WINDOW = 2048;
const RETUNE = 128;

export class DiversityFilter implements ExperienceFilter {
  accepted = 0;
  rejected = 0;
  private readonly states: Float32Array;
  private count = 0; // filled slots
  private inserted = 0; // states offered to the reservoir
  private head = 0; // oldest slot once full
  private xs: number;
  private readonly stride: number;
  private readonly rng: Random;
  /** θ in use (config.theta, or the accept-rate quantile). */
  theta: number;
  /** Welford running mean / sum of squared deviations per dimension, count; 1/std used by distances. */
  private readonly mean: Float64Array;
  private readonly m2: Float64Array;
  private seen = 0;
  private readonly invStd: Float32Array;
  /** The last WINDOW finite distances (ring), for the accept-rate quantile. */
  private readonly dists = new Float32Array(WINDOW);
  private distCount = 0;
  private sinceRetune = 0;

  constructor(readonly obsDim: number, readonly config: DiversityConfig, seed = 1) {
    if (config.k < 1) throw new Error("diversity filter k must be >= 1");
    const r = config.acceptRate ?? 0;
    if (!(r >= 0 && r < 1)) throw new Error(`diversity filter acceptRate must be in [0, 1), got ${r}`);
    this.theta = config.theta;
    this.mean = new Float64Array(obsDim);
    this.m2 = new Float64Array(obsDim);
    this.invStd = new Float32Array(obsDim).fill(1);
    this.states = new Float32Array(config.reservoir * obsDim);
    this.rng = new Random(seed);
    this.stride = Math.max(1, Math.ceil(config.replayCapacity / config.reservoir));
    this.xs = (Math.floor(this.rng.next() * 0xffffffff) | 1) >>> 0;
  }

  get referenceCount(): number {
    return this.count;
  }

  get acceptRate(): number {
    const t = this.accepted + this.rejected;
    return t === 0 ? 1 : this.accepted / t;
  }

  /** Mean distance from row `i` of `obs` to k reference states (Infinity when too few exist). */
  meanDistance(obs: Float32Array, i: number): number {
    const { k } = this.config;
    const count = this.count;
    if (count < k) return Infinity;
    const d = this.obsDim;
    const o = i * d;
    const S = this.states;
    const inv = this.config.standardize ? this.invStd : null;
    let x = this.xs; // xorshift32: the reference draws need speed, not statistical finesse
    const u32 = 1 / 4294967296;
    let sum = 0;
    for (let j = 0; j < k; j++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      const r = Math.floor((x >>> 0) * u32 * count) * d;
      let sq = 0;
      if (inv) {
        for (let c = 0; c < d; c++) {
          const diff = (obs[o + c]! - S[r + c]!) * inv[c]!;
          sq += diff * diff;
        }
      } else {
        for (let c = 0; c < d; c++) {
          const diff = obs[o + c]! - S[r + c]!;
          sq += diff * diff;
        }
      }
      sum += Math.sqrt(sq);
    }
    this.xs = x;
    return sum / k;
  }

  /** Adds a state to the reservoir (call for every transition inserted into the replay). */
  remember(obs: Float32Array, i: number): void {
    const d = this.obsDim;
    const R = this.config.reservoir;
    this.inserted++;
    let slot: number;
    if (this.count < R) slot = this.count++;
    else {
      if (this.inserted % this.stride !== 0) return;
      slot = this.head;
      this.head = (this.head + 1) % R;
    }
    const src = i * d, dst = slot * d;
    for (let c = 0; c < d; c++) this.states[dst + c] = obs[src + c]!;
  }

  /**
   * Decides every row of the batch, in order, remembering accepted rows as it goes (so
   * near-duplicates inside one batch are caught too). Returns a 0/1 keep mask.
   */
  keep(batch: TransitionBatch): Uint8Array {
    if (batch.obsDim !== this.obsDim) throw new Error(`filter obsDim ${this.obsDim} != batch obsDim ${batch.obsDim}`);
    const keep = new Uint8Array(batch.n);
    const standardize = this.config.standardize === true, rate = this.config.acceptRate ?? 0;
    for (let i = 0; i < batch.n; i++) {
      if (standardize) this.observeScale(batch.obs, i);
      const D = this.meanDistance(batch.obs, i);
      if (rate > 0 && Number.isFinite(D)) this.observeDistance(D, rate);
      const ok = D >= this.theta;
      if (ok) {
        keep[i] = 1;
        this.accepted++;
        this.remember(batch.obs, i);
      } else this.rejected++;
    }
    return keep;
  }

  /** Seeds the reservoir from states already in the replay (a restarted learner). */
  warm(batch: TransitionBatch): void {
    for (let i = 0; i < batch.n; i++) {
      if (this.config.standardize) this.observeScale(batch.obs, i);
      this.remember(batch.obs, i);
    }
  }

  /** Welford update of the per-dimension mean/variance; 1/std refreshed every RETUNE states. */
  private observeScale(obs: Float32Array, i: number): void {
    const d = this.obsDim, o = i * d;
    this.seen++;
    for (let c = 0; c < d; c++) {
      const v = obs[o + c]!;
      const delta = v - this.mean[c]!;
      this.mean[c] += delta / this.seen;
      this.m2[c] += delta * (v - this.mean[c]!);
    }
    if (this.seen % RETUNE === 0 || this.seen === 2) this.refreshScale();
  }

  private refreshScale(): void {
    for (let c = 0; c < this.obsDim; c++) {
      const sd = this.seen > 1 ? Math.sqrt(this.m2[c]! / (this.seen - 1)) : 0;
      // A dimension that never varied (yet) counts in raw units rather than dividing by ~0.
      this.invStd[c] = sd > 1e-6 ? 1 / sd : 1;
    }
  }

  /** Records a distance; every RETUNE rows θ becomes the (1 − rate)-quantile of the last WINDOW. */
  private observeDistance(D: number, rate: number): void {
    this.dists[this.distCount % WINDOW] = D;
    this.distCount++;
    if (++this.sinceRetune < RETUNE || this.distCount < WINDOW / 4) return;
    this.sinceRetune = 0;
    const n = Math.min(this.distCount, WINDOW);
    const sorted = this.dists.slice(0, n).sort();
    this.theta = sorted[Math.min(n - 1, Math.floor((1 - rate) * n))]!;
  }

  /** Counters, reservoir and RNG states, for a checkpoint. */
  snapshot(): DiversitySnapshot {
    return {
      accepted: this.accepted, rejected: this.rejected, states: this.states.slice(), count: this.count, inserted: this.inserted, head: this.head, xs: this.xs, rng: this.rng.state,
      theta: this.theta, mean: this.mean.slice(), m2: this.m2.slice(), seen: this.seen, dists: this.dists.slice(), distCount: this.distCount, sinceRetune: this.sinceRetune,
    };
  }

  /** Continues from snapshot() (same obsDim and reservoir size). */
  restore(s: unknown): void {
    const x = s as DiversitySnapshot;
    if (x.states.length !== this.states.length) throw new Error(`diversity filter snapshot holds ${x.states.length} values, the reservoir ${this.states.length}`);
    this.accepted = x.accepted;
    this.rejected = x.rejected;
    this.states.set(x.states);
    this.count = x.count;
    this.inserted = x.inserted;
    this.head = x.head;
    this.xs = x.xs;
    this.rng.state = x.rng >>> 0;
    // Snapshots from before the scale-free options carry none of this: keep the fresh state.
    if (x.theta !== undefined) {
      this.theta = x.theta;
      this.mean.set(x.mean!);
      this.m2.set(x.m2!);
      this.seen = x.seen!;
      this.dists.set(x.dists!);
      this.distCount = x.distCount!;
      this.sinceRetune = x.sinceRetune!;
      this.refreshScale();
    }
  }

  stats(): FilterStats {
    return { name: "diversity", accepted: this.accepted, rejected: this.rejected, acceptRate: this.acceptRate, references: this.count, theta: this.theta };
  }
}

export interface DiversitySnapshot {
  accepted: number;
  rejected: number;
  states: Float32Array;
  count: number;
  inserted: number;
  head: number;
  xs: number;
  rng: number;
  theta?: number;
  mean?: Float64Array;
  m2?: Float64Array;
  seen?: number;
  dists?: Float32Array;
  distCount?: number;
  sinceRetune?: number;
}
