import { Random } from "../../core/random";

/**
 * Seeded random numbers for the IoT envs. Every draw in envs/iot goes through an `Rng`
 * instance that the caller owns and passes around; there is no module-level state.
 *
 * Core generator: mulberry32 (32-bit state). Normal draws use Box–Muller (cached pair),
 * Gamma uses Marsaglia & Tsang (2000) with the `U^(1/a)` boost for shape < 1,
 * Dirichlet normalises independent Gamma(α_i, 1) draws.
 */
export class Rng extends Random {
  private spare: number | null = null;

  constructor(seed: number) {
    super((seed >>> 0) ^ 0x9e3779b9);
    // warm up so nearby seeds diverge quickly
    for (let i = 0; i < 4; i++) this.next();
  }

  uniform(lo: number, hi: number): number {
    return lo + (hi - lo) * this.next();
  }

  bernoulli(p: number): boolean {
    return this.next() < p;
  }

  /** Standard normal (Box–Muller). */
  normal(): number {
    if (this.spare !== null) {
      const s = this.spare;
      this.spare = null;
      return s;
    }
    let u = 0;
    while (u <= 1e-300) u = this.next();
    const v = this.next();
    const r = Math.sqrt(-2 * Math.log(u));
    this.spare = r * Math.sin(2 * Math.PI * v);
    return r * Math.cos(2 * Math.PI * v);
  }

  /** Log-normal with the given median and log-space sigma. */
  logNormal(median: number, sigma: number): number {
    return median * Math.exp(sigma * this.normal());
  }

  /** Gamma(shape, 1) by Marsaglia–Tsang; shape < 1 via Gamma(shape+1)·U^(1/shape). */
  gamma(shape: number): number {
    if (!(shape > 0)) throw new RangeError(`gamma shape must be > 0, got ${shape}`);
    if (shape < 1) {
      const g = this.gamma(shape + 1);
      let u = 0;
      while (u === 0) u = this.next();
      return g * Math.pow(u, 1 / shape);
    }
    const d = shape - 1 / 3;
    const c = 1 / Math.sqrt(9 * d);
    for (;;) {
      let x: number, v: number;
      do {
        x = this.normal();
        v = 1 + c * x;
      } while (v <= 0);
      v = v * v * v;
      const u = this.next();
      if (u < 1 - 0.0331 * x * x * x * x) return d * v;
      if (u > 0 && Math.log(u) < 0.5 * x * x + d * (1 - v + Math.log(v))) return d * v;
    }
  }

  /** Dirichlet(alpha): normalised Gamma draws. Falls back to a one-hot of the largest draw on underflow. */
  dirichlet(alpha: readonly number[]): number[] {
    const g = alpha.map((a) => this.gamma(a));
    const s = g.reduce((x, y) => x + y, 0);
    if (s > 0 && Number.isFinite(s)) return g.map((x) => x / s);
    // every draw underflowed to 0 (tiny α): pick one component uniformly
    const out = alpha.map(() => 0);
    out[this.int(alpha.length)] = 1;
    return out;
  }

  /** Index drawn with probability ∝ weights (weights ≥ 0, not all 0). */
  categorical(weights: ArrayLike<number>): number {
    let total = 0;
    for (let i = 0; i < weights.length; i++) total += weights[i]!;
    let r = this.next() * total;
    for (let i = 0; i < weights.length; i++) {
      r -= weights[i]!;
      if (r < 0) return i;
    }
    for (let i = weights.length - 1; i >= 0; i--) if (weights[i]! > 0) return i;
    return weights.length - 1;
  }

  pick<T>(xs: readonly T[]): T {
    return xs[this.int(xs.length)]!;
  }

  /** A fresh 32-bit seed derived from this stream (for child generators). */
  fork(): Rng {
    return new Rng(Math.floor(this.next() * 4294967296));
  }
}
