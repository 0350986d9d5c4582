import { TransitionRing, type RingSnapshot } from "../core/ring";
import { Random } from "../core/random";
import type { TransitionBatch } from "../core/batch";
import type { ReplayStats, ReplayStore, RowRange } from "../core/replay";

/** In-process replay (embedded default): a typed-array ring. */
export class MemoryReplay implements ReplayStore {
  readonly kind = "memory" as const;
  private readonly ring: TransitionRing;
  private readonly rng: Random;
  private readonly rand: () => number;
  /** Evicted slots (allocated on the first eviction), and how many are set. */
  private dead: Uint8Array | null = null;
  private deadCount = 0;
  constructor(readonly capacity: number, readonly obsDim: number, seed = 1) {
    this.ring = new TransitionRing(capacity, obsDim);
    this.rng = new Random(seed);
    this.rand = this.rng.next;
  }
  async insert(batch: TransitionBatch): Promise<number> {
    const dead = this.dead;
    if (dead && this.deadCount > 0) {
      for (let i = 0; i < Math.min(batch.n, this.capacity); i++) {
        const slot = (this.ring.inserted + i) % this.capacity;
        if (dead[slot]) (dead[slot] = 0), this.deadCount--;
      }
    }
    this.ring.insert(batch);
    return this.ring.inserted;
  }
  async evict(ranges: readonly RowRange[]): Promise<number> {
    const held = this.ring.inserted - this.capacity;
    let n = 0;
    for (const r of ranges) {
      for (let i = Math.max(r.start, held, 0); i < Math.min(r.end, this.ring.inserted); i++) {
        const dead = (this.dead ??= new Uint8Array(this.capacity));
        const slot = i % this.capacity;
        if (!dead[slot]) (dead[slot] = 1), this.deadCount++, n++;
      }
    }
    return n;
  }
  async sample(n: number): Promise<TransitionBatch> {
    const dead = this.dead;
    if (dead && this.deadCount >= this.ring.size) throw new Error("cannot sample: every row of the replay was evicted");
    return this.ring.sample(n, (k) => Math.floor(this.rand() * k), undefined, dead && this.deadCount > 0 ? (slot) => dead[slot] === 1 : undefined);
  }
  async rowsAt(slots: Int32Array): Promise<{ batch: TransitionBatch; missing: Uint8Array | null }> {
    const size = this.ring.size;
    for (const s of slots) if (!(s >= 0 && s < size)) throw new RangeError(`replay slot ${s} not in [0, ${size})`);
    // The ring's sampler draws one slot per row from randInt: hand it the chosen slots in order.
    let j = 0;
    const batch = this.ring.sample(slots.length, () => slots[j++]!);
    const dead = this.dead;
    let missing: Uint8Array | null = null;
    if (dead && this.deadCount > 0) for (let i = 0; i < slots.length; i++) if (dead[slots[i]!]) (missing ??= new Uint8Array(slots.length))[i] = 1;
    if (missing) {
      // An evicted row must not be trained on: stand in a copy of a valid one (as the Redis store does).
      const m = missing;
      const valid = m.findIndex((x) => x === 0);
      if (valid < 0) throw new Error("replay holds no valid row among the prioritized slots (every one evicted)");
      const d = this.obsDim;
      for (let i = 0; i < slots.length; i++) if (m[i]) {
        batch.obs.copyWithin(i * d, valid * d, valid * d + d);
        batch.nextObs.copyWithin(i * d, valid * d, valid * d + d);
        batch.actions[i] = batch.actions[valid]!;
        batch.rewards[i] = batch.rewards[valid]!;
        batch.terminated[i] = batch.terminated[valid]!;
        batch.truncated[i] = batch.truncated[valid]!;
      }
    }
    return { batch, missing };
  }
  async size(): Promise<number> {
    return this.ring.size;
  }
  async clear(): Promise<void> {
    this.ring.clear();
    this.dead = null;
    this.deadCount = 0;
  }
  async stats(): Promise<ReplayStats> {
    return { kind: "memory", size: this.ring.size, capacity: this.capacity, inserted: this.ring.inserted, obsDim: this.obsDim, corruptRows: 0, evicted: this.deadCount };
  }
  async close(): Promise<void> {}
  /** Rows held, evicted slots and the sampling RNG, for a checkpoint. */
  snapshot(): MemoryReplaySnapshot {
    return { ring: this.ring.snapshot(), rng: this.rng.state, dead: this.dead ? this.dead.slice() : null, deadCount: this.deadCount };
  }
  /** Continues from snapshot() (same capacity and obsDim). */
  restore(s: MemoryReplaySnapshot): void {
    this.ring.restore(s.ring);
    this.rng.state = s.rng >>> 0;
    this.dead = s.dead ? Uint8Array.from(s.dead) : null;
    this.deadCount = s.deadCount;
  }
}

export interface MemoryReplaySnapshot {
  ring: RingSnapshot;
  rng: number;
  dead: Uint8Array | null;
  deadCount: number;
}
