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

export interface VolumeSplitOptions extends SplitOptions {
  /** pooled share of the traffic that these categories make up, averaged over the sites (e.g. the malicious share) */
  share: number;
  /** no site's share may exceed this (the excess moves to the other sites, family by family) */
  cap: number;
}

export interface VolumeSplit {
  /** per site: its share of traffic in these categories (mean over sites = `share`) */
  shares: number[];
  /** per site: its mix over the categories (sums to 1; an empty site gets the global prior) */
  mixes: number[][];
}

/**
 * The label-skew partition with volumes: category c's traffic is spread over the K sites by
 * p_c ~ Dir(α·1_K) (the same draws as `dirichletSplit` with the same seed, so the per-site mixes
 * are the same unless a cap binds), and sites keep what they receive, so a site that receives
 * much of a category carries more of it. Every site emits the same number of flows, so pooling
 * the sites gives back exactly `share` and the prior mix — while per-site shares vary with α
 * (Hsu et al. give clients different dataset sizes; here they are different attack rates).
 *
 * A site whose share would exceed `cap` is scaled down to `cap` and its excess of each category
 * goes to the uncapped sites in proportion to their p_c (water-filling, at most K rounds), which
 * keeps the pooled volumes exact. Requires share ≤ cap.
 */
export function dirichletVolumes(o: VolumeSplitOptions): VolumeSplit {
  const { sites: K, alpha, categories, share, cap } = o;
  if (!(K >= 1) || !Number.isInteger(K)) throw new RangeError(`sites must be a positive integer, got ${K}`);
  if (!(alpha > 0)) throw new RangeError(`alpha must be > 0, got ${alpha}`);
  if (o.prior.length !== categories.length) throw new Error("prior length must equal the category count");
  if (!(share >= 0 && share <= cap && cap <= 1)) throw new RangeError(`need 0 ≤ share ≤ cap ≤ 1, got share ${share}, cap ${cap}`);
  const rng = new Rng(o.seed);
  const p = categories.map(() => rng.dirichlet(new Array<number>(K).fill(alpha)));
  const ps = o.prior.reduce((a, b) => a + b, 0);
  const prior = o.prior.map((v) => (ps > 0 ? v / ps : 1 / categories.length));
  // v[k][c]: site k's share of its flows in category c; Σ_k v[k][c] = K·share·prior_c
  const v = Array.from({ length: K }, (_, k) => categories.map((_, c) => K * share * prior[c]! * p[c]![k]!));
  const capped = new Array<boolean>(K).fill(false);
  const sum = (row: number[]) => row.reduce((a, b) => a + b, 0);
  for (let round = 0; round < K; round++) {
    const excess = categories.map(() => 0);
    let any = false;
    for (let k = 0; k < K; k++) {
      const s = sum(v[k]!);
      if (capped[k] || s <= cap * (1 + 1e-12)) continue;
      any = true;
      capped[k] = true;
      const f = cap / s;
      v[k]!.forEach((x, c) => { excess[c]! += x * (1 - f); v[k]![c] = x * f; });
    }
    if (!any) break;
    const open = Array.from({ length: K }, (_, k) => k).filter((k) => !capped[k]);
    if (open.length === 0) break; // share ≤ cap makes this unreachable up to rounding
    categories.forEach((_, c) => {
      if (!(excess[c]! > 0)) return;
      const w = open.map((k) => p[c]![k]!);
      const ws = w.reduce((a, b) => a + b, 0);
      open.forEach((k, i) => { v[k]![c]! += excess[c]! * (ws > 1e-300 ? w[i]! / ws : 1 / open.length); });
    });
  }
  const shares = v.map(sum);
  const mixes = v.map((row, k) => (shares[k]! > 1e-300 ? row.map((x) => x / shares[k]!) : [...prior]));
  return { shares, mixes };
}
