/**
 * The one seeded random source for everything that does not need Gymnasium parity (exploration,
 * replay sampling, filter references, synthetic traffic): mulberry32 with inspectable 32-bit
 * state, so a checkpoint can resume the stream exactly.
 */
export class Random {
  state: number;
  constructor(seed: number) {
    this.state = seed >>> 0;
  }
  /** Uniform in [0, 1). */
  next = (): number => {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  /** Uniform integer in [0, n). */
  int = (n: number): number => Math.floor(this.next() * n);
}

/** A bare `() => uniform [0, 1)` drawing from a new Random(seed). */
export function mulberry32(seed: number): () => number {
  return new Random(seed).next;
}
