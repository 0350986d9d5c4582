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
}

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

  constructor(readonly obsDim: number, readonly config: DiversityConfig, seed = 1) {
    if (config.k < 1) throw new Error("diversity filter k must be >= 1");
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
    let x = this.xs; // xorshift32: the reference draws need speed, not statistical finesse
    const inv = 1 / 4294967296;
    let sum = 0;
    for (let j = 0; j < k; j++) {
      x ^= x << 13; x ^= x >>> 17; x ^= x << 5;
      const r = Math.floor((x >>> 0) * inv * count) * d;
      let sq = 0;
      for (let c = 0; c < d; c++) {
        const diff = obs[o + c]! - S[r + c]!;
        sq += diff * diff;
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
    for (let i = 0; i < batch.n; i++) {
      const ok = this.meanDistance(batch.obs, i) >= this.config.theta;
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
    for (let i = 0; i < batch.n; i++) this.remember(batch.obs, i);
  }

  /** Counters, reservoir and RNG states, for a checkpoint. */
  snapshot(): DiversitySnapshot {
    return { accepted: this.accepted, rejected: this.rejected, states: this.states.slice(), count: this.count, inserted: this.inserted, head: this.head, xs: this.xs, rng: this.rng.state };
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
  }

  stats(): FilterStats {
    return { name: "diversity", accepted: this.accepted, rejected: this.rejected, acceptRate: this.acceptRate, references: this.count };
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
}
