import { TransitionRing } from "../core/ring";
import { mulberry32 } from "../core/random";
import type { TransitionBatch } from "../core/batch";
import type { ReplayStats, ReplayStore } from "../core/replay";

/** In-process replay (embedded default): a typed-array ring. */
export class MemoryReplay implements ReplayStore {
  readonly kind = "memory" as const;
  private readonly ring: TransitionRing;
  private readonly rand: () => number;
  constructor(readonly capacity: number, readonly obsDim: number, seed = 1) {
    this.ring = new TransitionRing(capacity, obsDim);
    this.rand = mulberry32(seed);
  }
  async insert(batch: TransitionBatch): Promise<number> {
    this.ring.insert(batch);
    return this.ring.inserted;
  }
  async sample(n: number): Promise<TransitionBatch> {
    return this.ring.sample(n, (k) => Math.floor(this.rand() * k));
  }
  async size(): Promise<number> {
    return this.ring.size;
  }
  async clear(): Promise<void> {
    this.ring.clear();
  }
  async stats(): Promise<ReplayStats> {
    return { kind: "memory", size: this.ring.size, capacity: this.capacity, inserted: this.ring.inserted, obsDim: this.obsDim, corruptRows: 0 };
  }
  async close(): Promise<void> {}
}
