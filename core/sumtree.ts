/**
 * A sum-tree over a fixed number of slots (proportional prioritized replay, Schaul et al. 2016):
 * set a slot's priority in O(log n), find the slot where a prefix sum falls in O(log n), the total
 * in O(1). Float64 sums, so millions of updates do not drift.
 */
export class SumTree {
  /** Leaves start at `size` (the smallest power of two ≥ capacity); node i's children are 2i, 2i+1. */
  private readonly size: number;
  private readonly tree: Float64Array;

  constructor(readonly capacity: number) {
    if (!Number.isInteger(capacity) || capacity < 1) throw new Error(`sum-tree capacity must be a positive integer, got ${capacity}`);
    let s = 1;
    while (s < capacity) s *= 2;
    this.size = s;
    this.tree = new Float64Array(2 * s);
  }

  get total(): number {
    return this.tree[1]!;
  }

  get(slot: number): number {
    return this.tree[this.size + slot]!;
  }

  /** priority ≥ 0 and finite (0 = never sampled). */
  set(slot: number, priority: number): void {
    if (!(slot >= 0 && slot < this.capacity)) throw new RangeError(`sum-tree slot ${slot} not in [0, ${this.capacity})`);
    if (!(priority >= 0 && Number.isFinite(priority))) throw new RangeError(`sum-tree priority must be finite and ≥ 0, got ${priority}`);
    let i = this.size + slot;
    this.tree[i] = priority;
    for (i >>= 1; i >= 1; i >>= 1) this.tree[i] = this.tree[2 * i]! + this.tree[2 * i + 1]!;
  }

  /** The slot whose cumulative range holds `mass` (0 ≤ mass < total); never a zero-priority slot while total > 0. */
  find(mass: number): number {
    const t = this.tree;
    let i = 1;
    let m = Math.min(Math.max(mass, 0), t[1]!);
    while (i < this.size) {
      const l = 2 * i;
      if (m < t[l]! || t[l + 1]! === 0) i = l;
      else {
        m -= t[l]!;
        i = l + 1;
      }
    }
    // Rounding can land on an empty leaf at the right edge: step back to the nearest non-empty one.
    let slot = i - this.size;
    while (slot > 0 && t[this.size + slot]! === 0) slot--;
    return slot;
  }

  clear(): void {
    this.tree.fill(0);
  }

  /** The leaves (priorities per slot), for a checkpoint. */
  leaves(): Float64Array {
    return this.tree.slice(this.size, this.size + this.capacity);
  }

  /** Rebuilds from leaves(). */
  load(leaves: ArrayLike<number>): void {
    if (leaves.length !== this.capacity) throw new Error(`sum-tree of ${this.capacity} slots cannot load ${leaves.length} priorities`);
    this.tree.fill(0);
    for (let s = 0; s < this.capacity; s++) this.tree[this.size + s] = leaves[s]!;
    for (let i = this.size - 1; i >= 1; i--) this.tree[i] = this.tree[2 * i]! + this.tree[2 * i + 1]!;
  }
}
