/** Plain average of the fresh clients, w_k = 1/K (the uniform ablation of the trust rule). Score = cos(θ_global, θ_k). */
import { cosine } from "../core/vec";
import { weightedMix, type AggregateResult, type Aggregator, type ClientUpdate } from "./aggregator";

export class MeanRule implements Aggregator {
  readonly name = "mean";
  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    if (updates.length === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const weights = updates.map(() => 1 / updates.length);
    const verdicts = updates.map((u, i) => ({ actor: u.actor, weight: weights[i]!, used: true, score: cosine(global, u.params) }));
    return { mix: weightedMix(global, updates, weights), verdicts };
  }
}
