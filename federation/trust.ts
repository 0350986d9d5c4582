/**
 * The seed paper's trust-aware rule, unchanged:
 *   sim_k = cos(θ_global, θ_k);  w_k = max(0, sim_k) / Σ_i max(0, sim_i);  mix = Σ w_k θ_k
 * Score = sim_k. No mix when every similarity is ≤ 0.
 */
import { cosine } from "../core/vec";
import { weightedMix, type AggregateResult, type Aggregator, type ClientUpdate } from "./aggregator";

export class TrustRule implements Aggregator {
  readonly name = "trust";
  readonly weightsAreTrust = true;
  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    const sims = updates.map((u) => cosine(global, u.params));
    const raw = sims.map((s) => Math.max(0, s));
    const total = raw.reduce((a, b) => a + b, 0);
    const weights = raw.map((r) => (total > 0 ? r / total : 0));
    const verdicts = updates.map((u, i) => ({ actor: u.actor, weight: weights[i]!, used: weights[i]! > 0, score: sims[i]!, reason: weights[i]! > 0 ? undefined : "negative" }));
    if (total <= 0) return { mix: null, reason: "no_positive_similarity", verdicts };
    return { mix: weightedMix(global, updates, weights), verdicts };
  }
}
