/**
 * FedAvg (McMahan et al.): the sample-weighted mean Σ (n_k / Σ n) θ_k, accumulated in float64;
 * the plain mean when no client reports samples. Score = n_k. With α = 0 and clients that
 * replace their weights, the aggregation node running this rule is FedAvg.
 */
import type { AggregateResult, Aggregator, ClientUpdate } from "./aggregator";

export class FedAvgRule implements Aggregator {
  readonly name = "fedavg";
  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    if (updates.length === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const size = global.length;
    const total = updates.reduce((s, u) => s + u.samples, 0);
    const acc = new Float64Array(size);
    const weights = updates.map((u) => (total > 0 ? u.samples / total : 1 / updates.length));
    updates.forEach((u, k) => {
      if (u.params.length !== size) throw new Error(`fedavg: ${u.actor} has ${u.params.length} params, expected ${size}`);
      const w = weights[k]!;
      for (let j = 0; j < size; j++) acc[j]! += w * u.params[j]!;
    });
    const mix = new Float32Array(size);
    mix.set(acc);
    return { mix, verdicts: updates.map((u, k) => ({ actor: u.actor, weight: weights[k]!, used: true, score: u.samples })) };
  }
}
