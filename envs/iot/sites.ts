/**
 * Non-IID site splits for federated runs: a seeded Dirichlet(α) label-skew partition
 * (Hsu et al., 2019). For every attack family f a share vector p_f ~ Dir(α·1_K) says how
 * that family's traffic is spread over the K sites; site k's attack-family mix is
 * ∝ prior_f · p_f[k]. Device-type mixes are split the same way. Small α concentrates each
 * family on few sites (heterogeneous mixes); as α → ∞ every site gets the global prior.
 */
import { Rng } from "./rng";

export interface SplitOptions {
  sites: number;
  alpha: number;
  seed: number;
  /** category names (attack families or device types) */
  categories: readonly string[];
  /** global weight of each category (need not sum to 1) */
  prior: readonly number[];
}

/** K × C matrix; row k is site k's mix over the categories (sums to 1). */
export function dirichletSplit(o: SplitOptions): number[][] {
  const { sites: K, alpha, categories } = o;
  if (!(K >= 1) || !Number.isInteger(K)) throw new RangeError(`sites must be a positive integer, got ${K}`);
  if (!(alpha > 0)) throw new RangeError(`alpha must be > 0, got ${alpha}`);
  if (o.prior.length !== categories.length) throw new Error("prior length must equal the category count");
  const rng = new Rng(o.seed);
  const shares = categories.map(() => rng.dirichlet(new Array<number>(K).fill(alpha)));
  const out: number[][] = [];
  for (let k = 0; k < K; k++) {
    const row = categories.map((_, c) => o.prior[c]! * shares[c]![k]!);
    const s = row.reduce((a, b) => a + b, 0);
    // a site that received (numerically) nothing falls back to the global prior
    const ps = o.prior.reduce((a, b) => a + b, 0);
    out.push(s > 1e-300 ? row.map((v) => v / s) : o.prior.map((v) => v / ps));
  }
  return out;
}

/** Total-variation distance ½·Σ|p − q|. */
export function totalVariation(p: readonly number[], q: readonly number[]): number {
  let s = 0;
  for (let i = 0; i < p.length; i++) s += Math.abs(p[i]! - q[i]!);
  return s / 2;
}

/** Mean total-variation distance over all pairs of sites (0 when K < 2). */
export function meanPairwiseTV(mixes: readonly (readonly number[])[]): number {
  let s = 0, n = 0;
  for (let i = 0; i < mixes.length; i++) {
    for (let j = i + 1; j < mixes.length; j++) { s += totalVariation(mixes[i]!, mixes[j]!); n++; }
  }
  return n ? s / n : 0;
}
