/**
 * Coordinate-wise trimmed mean (Yin et al., 2018): per coordinate j, sort the K values θ_k[j],
 * drop t = ⌊β·K⌋ from each end and average the K − 2t left (float64 accumulation):
 *   mix_j = (1 / (K − 2t)) · Σ_{r = t}^{K−t−1} θ_(r)[j]
 * Robust to up to t arbitrary clients per coordinate; β = 0 is the plain mean.
 * Fallback: when 2t ≥ K nothing would be left, so that coordinate takes the median instead
 * (mean of the two middle values for even K, ½ share each), as in median.ts. With β ≤ ½ this
 * happens only at β = ½ with even K; β = ½ is the coordinate-wise median for every K.
 * Ties in a coordinate are ordered by client order (which equal value is cut does not change mix).
 * Verdicts: weight = the client's share of the kept coordinate-slots (1/(K − 2t) per coordinate
 * where it is kept, summed and divided by the coordinate count; Σ = 1); used = weight > 0
 * (reason "trimmed" otherwise); score = ‖θ_k − mix‖₂.
 */
import { l2diff } from "../core/vec";
import { MedianRule } from "./median";
import type { AggregateResult, Aggregator, ClientUpdate } from "./aggregator";

export class TrimmedMeanRule implements Aggregator {
  readonly name = "trimmed-mean";
  /** @param trim β, the fraction cut from each end, 0 ≤ β ≤ ½. */
  constructor(readonly trim: number) {
    if (!(trim >= 0 && trim <= 0.5)) throw new RangeError(`trimmed-mean: trim must be in [0, 0.5], got ${trim}`);
  }

  aggregate(global: Float32Array, updates: readonly ClientUpdate[]): AggregateResult {
    const K = updates.length;
    if (K === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const size = global.length;
    for (const u of updates) if (u.params.length !== size) throw new Error(`trimmed-mean: ${u.actor} has ${u.params.length} params, expected ${size}`);
    const t = Math.floor(this.trim * K);
    if (2 * t >= K) {
      // Nothing would be left: the coordinate-wise median (clients that never give it are "trimmed").
      const r = new MedianRule().aggregate(global, updates);
      return { ...r, verdicts: r.verdicts.map((v) => (v.used ? v : { ...v, reason: "trimmed" })) };
    }
    const mix = new Float32Array(size);
    const share = new Float64Array(K);
    const col = new Float64Array(K);
    const order = Array.from({ length: K }, (_, k) => k);
    for (let j = 0; j < size; j++) {
      for (let k = 0; k < K; k++) col[k] = updates[k]!.params[j]!;
      order.sort((a, b) => col[a]! - col[b]! || a - b);
      const kept = K - 2 * t;
      let s = 0;
      for (let r = t; r < K - t; r++) {
        const k = order[r]!;
        s += col[k]!;
        share[k]! += 1 / kept;
      }
      mix[j] = s / kept;
    }
    const verdicts = updates.map((u, k) => {
      const weight = size > 0 ? share[k]! / size : 1 / K;
      return { actor: u.actor, weight, used: weight > 0, score: l2diff(u.params, mix), reason: weight > 0 ? undefined : "trimmed" };
    });
    return { mix, verdicts };
  }
}
