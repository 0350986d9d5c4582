/**
 * Krum (Blanchard et al., NeurIPS 2017) and Multi-Krum (same paper; El Mhamdi et al., ICML 2018):
 * with f the assumed number of Byzantine clients and n = K − f − 2 neighbours,
 *   s_k = Σ_{i ∈ N_n(k)} ‖θ_k − θ_i‖²,  N_n(k) = the n clients nearest to k (k itself excluded)
 * Krum:        mix = θ_k* with k* = argmin_k s_k (weight 1).
 * Multi-Krum:  mix = (1/m) Σ_{k ∈ M} θ_k, M = the m clients with the lowest s_k (weights 1/m),
 *              m = `select`, or K − f when 0; clamped to [1, K]. Accumulated in float64.
 * Distances in float64; ties (in scores and in distances) go to the earlier client.
 * Too few clients: the guarantee needs K ≥ 2f + 3. Below that the rule does not refuse: it uses
 * n = max(1, K − f − 2) neighbours (at most K − 1, so 0 for K = 1: s = 0 and the lone client is
 * the mix) and nothing else changes; with so few clients it no longer tolerates f attackers.
 * Verdicts: score = s_k; unused clients get reason "krum_rejected".
 */
import type { AggregateResult, Aggregator, ClientUpdate, Verdict } from "./aggregator";

function checkCount(rule: string, what: string, x: number): void {
  if (!(Number.isInteger(x) && x >= 0)) throw new RangeError(`${rule}: ${what} must be a non-negative integer, got ${x}`);
}

/** The Krum score of every client (all of `size` params), in client order, and the client indices sorted by score (ties by order). */
export function krumScores(size: number, updates: readonly ClientUpdate[], byzantine: number, rule = "krum"): { scores: number[]; ranked: number[] } {
  const K = updates.length;
  for (const u of updates) if (u.params.length !== size) throw new Error(`${rule}: ${u.actor} has ${u.params.length} params, expected ${size}`);
  const d2 = Array.from({ length: K }, () => new Float64Array(K));
  for (let a = 0; a < K; a++) {
    const pa = updates[a]!.params;
    for (let b = a + 1; b < K; b++) {
      const pb = updates[b]!.params;
      let s = 0;
      for (let j = 0; j < size; j++) s += (pa[j]! - pb[j]!) ** 2;
      d2[a]![b] = s;
      d2[b]![a] = s;
    }
  }
  const n = Math.min(K - 1, Math.max(1, K - byzantine - 2));
  const scores = d2.map((row, k) => {
    const others = Array.from(row).filter((_, i) => i !== k).sort((x, y) => x - y);
    let s = 0;
    for (let i = 0; i < n; i++) s += others[i]!;
    return s;
  });
  const ranked = scores.map((_, k) => k).sort((a, b) => scores[a]! - scores[b]! || a - b);
  return { scores, ranked };
}

function result(size: number, updates: readonly ClientUpdate[], scores: number[], chosen: readonly number[]): AggregateResult {
  const m = chosen.length;
  const acc = new Float64Array(size);
  for (const k of chosen) {
    const p = updates[k]!.params;
    for (let j = 0; j < size; j++) acc[j]! += p[j]!;
  }
  const mix = new Float32Array(size);
  for (let j = 0; j < size; j++) mix[j] = acc[j]! / m;
  const picked = new Set(chosen);
  const verdicts: Verdict[] = updates.map((u, k) => {
    const used = picked.has(k);
    return { actor: u.actor, weight: used ? 1 / m : 0, used, score: scores[k]!, reason: used ? undefined : "krum_rejected" };
  });
  return { mix, verdicts };
}

export class KrumRule implements Aggregator {
  readonly name = "krum";
  /** @param byzantine f, the number of Byzantine clients assumed. */
  constructor(readonly byzantine: number) {
    checkCount("krum", "byzantine", byzantine);
  }

  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    if (updates.length === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const { scores, ranked } = krumScores(global.length, updates, this.byzantine, this.name);
    return result(global.length, updates, scores, ranked.slice(0, 1));
  }
}

export class MultiKrumRule implements Aggregator {
  readonly name = "multi-krum";
  /** @param byzantine f; @param select m, the clients averaged (0 = K − f). */
  constructor(readonly byzantine: number, readonly select: number) {
    checkCount("multi-krum", "byzantine", byzantine);
    checkCount("multi-krum", "select", select);
  }

  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    const K = updates.length;
    if (K === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const { scores, ranked } = krumScores(global.length, updates, this.byzantine, this.name);
    const m = Math.min(K, Math.max(1, this.select > 0 ? this.select : K - this.byzantine));
    return result(global.length, updates, scores, ranked.slice(0, m));
  }
}
