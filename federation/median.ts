/**
 * Coordinate-wise median (Yin et al., 2018): mix_j = median_k θ_k[j] (mean of the two middle
 * values for even K). Robust to fewer than K/2 arbitrary clients per coordinate.
 * Verdicts: weight = the client's share of the median's coordinates (1 where it is the median,
 * ½ each for the two middle values of an even K, summed and divided by the coordinate count);
 * score = ‖θ_k − mix‖₂, the client's distance from the robust centre.
 */
import { l2diff } from "../core/vec";
import type { AggregateResult, Aggregator, ClientUpdate } from "./aggregator";

export class MedianRule implements Aggregator {
  readonly name = "median";
  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    const K = updates.length;
    if (K === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const size = global.length;
    const mix = new Float32Array(size);
    const share = new Float64Array(K);
    const col = new Float64Array(K);
    const order = Array.from({ length: K }, (_, k) => k);
    for (let j = 0; j < size; j++) {
      for (let k = 0; k < K; k++) col[k] = updates[k]!.params[j]!;
      order.sort((a, b) => col[a]! - col[b]! || a - b);
      if (K % 2 === 1) {
        const m = order[(K - 1) / 2]!;
        mix[j] = col[m]!;
        share[m]! += 1;
      } else {
        const a = order[K / 2 - 1]!, b = order[K / 2]!;
        mix[j] = (col[a]! + col[b]!) / 2;
        share[a]! += 0.5;
        share[b]! += 0.5;
      }
    }
    const verdicts = updates.map((u, k) => ({ actor: u.actor, weight: share[k]! / size, used: share[k]! > 0, score: l2diff(u.params, mix) }));
    return { mix, verdicts };
  }
}
