import { allocBatch, copyRow, type TransitionBatch } from "./batch";

/** Uniform random integer source in [0, n). */
export type RandInt = (n: number) => number;


/**
 * Fixed-capacity, synchronous ring of transitions in typed arrays. Inserting past capacity
 * overwrites the oldest rows. Used as an agent's local replay and behind the in-memory ReplayStore.
 */
export class TransitionRing {
  readonly capacity: number;
  readonly obsDim: number;
  private readonly data: TransitionBatch;
  private cursor = 0; // total rows ever inserted
  constructor(capacity: number, obsDim: number) {
    if (!Number.isInteger(capacity) || capacity <= 0) throw new Error(`ring capacity must be a positive integer, got ${capacity}`);
    if (!Number.isInteger(obsDim) || obsDim <= 0) throw new Error(`ring obsDim must be a positive integer, got ${obsDim}`);
    this.capacity = capacity;
    this.obsDim = obsDim;
    this.data = allocBatch(capacity, obsDim);
  }
  get size(): number {
    return Math.min(this.cursor, this.capacity);
  }
  /** Total rows ever inserted (monotonic). */
  get inserted(): number {
    return this.cursor;
  }
  push(obs: ArrayLike<number>, action: number, reward: number, nextObs: ArrayLike<number>, terminated: boolean, truncated: boolean): void {
    const j = this.cursor % this.capacity;
    const d = this.obsDim;
    const D = this.data;
    for (let k = 0; k < d; k++) {
      D.obs[j * d + k] = obs[k]!;
      D.nextObs[j * d + k] = nextObs[k]!;
    }
    D.actions[j] = action;
    D.rewards[j] = reward;
    D.terminated[j] = terminated ? 1 : 0;
    D.truncated[j] = truncated ? 1 : 0;
    this.cursor++;
  }
  insert(batch: TransitionBatch): void {
    if (batch.obsDim !== this.obsDim) throw new Error(`ring obsDim ${this.obsDim} != batch obsDim ${batch.obsDim}`);
    for (let i = 0; i < batch.n; i++) {
      copyRow(batch, i, this.data, this.cursor % this.capacity);
      this.cursor++;
    }
  }
  /**
   * n rows sampled uniformly with replacement into `out` (allocated if omitted). With `skip`, a
   * drawn slot it names is drawn again (up to 64 times), so skipped rows are sampled only when
   * almost nothing else is left; without it the draws are exactly one per row.
   */
  sample(n: number, randInt: RandInt, out?: TransitionBatch, skip?: (slot: number) => boolean): TransitionBatch {
    const size = this.size;
    if (size === 0) throw new Error("cannot sample from an empty ring");
    const b = out && out.n === n && out.obsDim === this.obsDim ? out : allocBatch(n, this.obsDim);
    for (let i = 0; i < n; i++) {
      let k = randInt(size);
      if (skip) for (let t = 0; t < 64 && skip(k); t++) k = randInt(size);
      copyRow(this.data, k, b, i);
    }
    return b;
  }
  /** Row i's observation view (no copy); i in [0, size). */
  obsAt(i: number): Float32Array {
    return this.data.obs.subarray(i * this.obsDim, (i + 1) * this.obsDim);
  }
  clear(): void {
    this.cursor = 0;
  }
  /** The rows held (copies of the first `size` slots, slot order) and the insert count, for a checkpoint. */
  snapshot(): RingSnapshot {
    const rows = this.size, d = this.obsDim, D = this.data;
    return {
      cursor: this.cursor, rows, obs: D.obs.slice(0, rows * d), nextObs: D.nextObs.slice(0, rows * d), actions: D.actions.slice(0, rows),
      rewards: D.rewards.slice(0, rows), terminated: D.terminated.slice(0, rows), truncated: D.truncated.slice(0, rows),
    };
  }
  /** Continues from snapshot() (same capacity and obsDim). */
  restore(s: RingSnapshot): void {
    if (s.rows !== Math.min(s.cursor, this.capacity) || s.obs.length !== s.rows * this.obsDim) throw new Error(`ring snapshot of ${s.rows} rows × ${s.obs.length / Math.max(1, s.rows)} does not fit a ring of ${this.capacity} × ${this.obsDim}`);
    const D = this.data;
    D.obs.set(s.obs);
    D.nextObs.set(s.nextObs);
    D.actions.set(s.actions);
    D.rewards.set(s.rewards);
    D.terminated.set(s.terminated);
    D.truncated.set(s.truncated);
    this.cursor = s.cursor;
  }
}

export interface RingSnapshot {
  /** Rows ever inserted. */
  cursor: number;
  /** Slots held: min(cursor, capacity). */
  rows: number;
  obs: Float32Array;
  nextObs: Float32Array;
  actions: Int32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  truncated: Uint8Array;
}
