/**
 * Proportional prioritized replay (Schaul et al. 2016) in front of any ReplayStore with rowsAt():
 * the priorities live in a sum-tree in this process, mirrored from the inserts that go through it
 * (the learner's own ingest path), slot = insert index mod capacity as in both stores.
 *
 *   insert     → the new rows' slots get the largest priority seen so far (every row is seen once soon)
 *   evict      → the slots still held get priority 0 (never drawn)
 *   draw(n)    → n slots, one per equal slice of the total mass (stratified), and their importance
 *                weights w = (N·P(i))^−β / max_batch w, β annealed to 1 over `betaSteps` draws
 *   update     → p = (|δ| + ε)^α for the drawn slots
 *
 * With Redis the store is shared, but only this process inserts when the learner ingests itself;
 * with `fedrl ingest` workers the inserts bypass this process, so prioritized replay is refused
 * there (launch/assemble.ts). A restarted learner over a non-empty Redis replay gives every held
 * slot the current max priority (it does not know their TD errors yet).
 */
import type { TransitionBatch } from "../core/batch";
import { Random } from "../core/random";
import type { ReplayStats, ReplayStore, RowRange } from "../core/replay";
import { SumTree } from "../core/sumtree";

export interface PrioritizedConfig {
  /** Priority exponent: P(i) ∝ p_i^α (0 = uniform). */
  alpha: number;
  /** Importance-weight exponent at the start, annealed linearly to 1. */
  beta: number;
  /** Draws (learner updates) over which β reaches 1. */
  betaSteps: number;
  /** Added to |δ| so no row's priority is 0. */
  eps: number;
}

export interface PrioritizedDraw {
  batch: TransitionBatch;
  slots: Int32Array;
  /** Importance weights, max 1. */
  weights: Float32Array;
}

interface Snapshotting {
  snapshot?(): unknown;
  restore?(s: unknown): void;
}

export interface PrioritizedSnapshot {
  inner: unknown;
  leaves: Float64Array;
  maxPriority: number;
  draws: number;
  inserted: number;
  rng: number;
}

export class PrioritizedReplay implements ReplayStore {
  readonly kind: "memory" | "redis";
  readonly capacity: number;
  readonly obsDim: number;
  private readonly tree: SumTree;
  /** Largest |δ| + ε seen (raw, before ^α); new rows enter at it. */
  private maxPriority = 1;
  /** Insert count as last returned by the store (slots at or above it are unknown to the tree). */
  private inserted = 0;
  /** Draws made (β's schedule). */
  draws = 0;
  /** Priority updates applied, and rows drawn that the store no longer held (their slots zeroed). */
  updatesApplied = 0;
  missingRows = 0;
  private readonly rng: Random;

  constructor(readonly inner: ReplayStore, readonly config: PrioritizedConfig, seed = 1) {
    if (!inner.rowsAt) throw new Error(`prioritized replay needs a replay that reads rows by slot (rowsAt); the ${inner.kind} replay here has none`);
    if (!(config.alpha >= 0 && config.beta >= 0 && config.beta <= 1 && config.betaSteps >= 1 && config.eps > 0)) throw new Error(`prioritized replay: alpha ≥ 0, 0 ≤ beta ≤ 1, betaSteps ≥ 1, eps > 0 (got ${JSON.stringify(config)})`);
    this.kind = inner.kind;
    this.capacity = inner.capacity;
    this.obsDim = inner.obsDim;
    this.tree = new SumTree(inner.capacity);
    this.rng = new Random(seed);
  }

  /** β now: config.beta → 1 linearly over betaSteps draws. */
  get beta(): number {
    const { beta, betaSteps } = this.config;
    return beta + (1 - beta) * Math.min(1, this.draws / betaSteps);
  }

  /** Rows the store held before this process's first insert (a resumed replay): all at the max priority. */
  async adoptExisting(): Promise<void> {
    const st = await this.inner.stats();
    if (st.inserted <= this.inserted) return;
    const p = this.maxPriority ** this.config.alpha;
    const held = Math.min(st.inserted, this.capacity);
    for (let s = 0; s < held; s++) if (this.tree.get(s) === 0) this.tree.set(s, p);
    this.inserted = st.inserted;
  }

  async insert(batch: TransitionBatch, once?: string): Promise<number> {
    const total = await this.inner.insert(batch, once);
    if (total < 0 || batch.n === 0) return total;
    const p = this.maxPriority ** this.config.alpha;
    for (let i = Math.max(total - batch.n, total - this.capacity); i < total; i++) this.tree.set(i % this.capacity, p);
    this.inserted = Math.max(this.inserted, total);
    return total;
  }

  async evict(ranges: readonly RowRange[]): Promise<number> {
    const held = this.inserted - this.capacity;
    for (const r of ranges) for (let i = Math.max(r.start, held, 0); i < Math.min(r.end, this.inserted); i++) this.tree.set(i % this.capacity, 0);
    return this.inner.evict(ranges);
  }

  /** Uniform draws (the filter's warm-up and anything else that wants the plain store). */
  sample(n: number): Promise<TransitionBatch> {
    return this.inner.sample(n);
  }

  /** n rows drawn proportionally to priority, with their slots and importance weights. */
  async draw(n: number): Promise<PrioritizedDraw> {
    const total = this.tree.total;
    if (!(total > 0)) throw new Error("cannot draw: no row has a priority (empty or fully evicted replay)");
    const slots = new Int32Array(n);
    const seg = total / n;
    for (let i = 0; i < n; i++) slots[i] = this.tree.find((i + this.rng.next()) * seg);
    const { batch, missing } = await this.inner.rowsAt!(slots);
    const N = Math.max(1, Math.min(this.inserted, this.capacity));
    const beta = this.beta;
    const weights = new Float32Array(n);
    let wMax = 0;
    for (let i = 0; i < n; i++) {
      const P = this.tree.get(slots[i]!) / total;
      const w = P > 0 ? Math.pow(N * P, -beta) : 0;
      weights[i] = w;
      if (w > wMax) wMax = w;
    }
    for (let i = 0; i < n; i++) weights[i] = wMax > 0 ? weights[i]! / wMax : 1;
    if (missing) {
      for (let i = 0; i < n; i++) if (missing[i]) {
        this.tree.set(slots[i]!, 0);
        weights[i] = 0; // a stand-in copy of another row: it must not count twice
        this.missingRows++;
      }
    }
    this.draws++;
    return { batch, slots, weights };
  }

  /** New priorities from the drawn rows' TD errors (same order as draw()'s slots). */
  update(slots: Int32Array, tdErrors: Float32Array): void {
    const { alpha, eps } = this.config;
    for (let i = 0; i < slots.length; i++) {
      const s = slots[i]!;
      if (this.tree.get(s) === 0) continue; // evicted or missing since the draw
      const d = Math.abs(tdErrors[i]!);
      const p = (Number.isFinite(d) ? d : this.maxPriority) + eps;
      if (p > this.maxPriority) this.maxPriority = p;
      this.tree.set(s, p ** alpha);
      this.updatesApplied++;
    }
  }

  /** P(slot) under the current priorities (tests, diagnostics). */
  probability(slot: number): number {
    return this.tree.total > 0 ? this.tree.get(slot) / this.tree.total : 0;
  }

  size(): Promise<number> {
    return this.inner.size();
  }
  async clear(): Promise<void> {
    this.tree.clear();
    this.inserted = 0;
    this.maxPriority = 1;
    await this.inner.clear();
  }
  stats(): Promise<ReplayStats> {
    return this.inner.stats();
  }
  close(): Promise<void> {
    return this.inner.close();
  }

  /** What prioritized sampling did, for the learner's stats. */
  prioritizedStats() {
    return { beta: this.beta, draws: this.draws, maxPriority: this.maxPriority, prioritiesUpdated: this.updatesApplied, missingRows: this.missingRows };
  }

  /** The store's own snapshot (null when it keeps itself, e.g. Redis) and the priorities. */
  snapshot(): PrioritizedSnapshot | null {
    const inner = this.inner as ReplayStore & Snapshotting;
    if (!inner.snapshot) return null;
    return { inner: inner.snapshot(), leaves: this.tree.leaves(), maxPriority: this.maxPriority, draws: this.draws, inserted: this.inserted, rng: this.rng.state };
  }

  restore(s: unknown): void {
    const x = s as PrioritizedSnapshot;
    (this.inner as ReplayStore & Snapshotting).restore?.(x.inner);
    this.tree.load(x.leaves);
    this.maxPriority = x.maxPriority;
    this.draws = x.draws;
    this.inserted = x.inserted;
    this.rng.state = x.rng >>> 0;
  }
}
