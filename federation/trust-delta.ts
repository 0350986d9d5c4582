/**
 * Trust on updates, not on weights (ours, in the spirit of FLTrust, Cao et al., NDSS 2021):
 *   Δ_k = θ_k − θ_global;  s_k = cos(Δ_k, Δ_ref);  w_k = max(0, s_k) / Σ_i max(0, s_i)
 *   mix = θ_global + Σ_k w_k · Δ_k · ‖Δ_ref‖ / ‖Δ_k‖
 * Every update is rescaled to the reference's length, so a client can steer the direction of the
 * step only within its weight and cannot lengthen it: ‖mix − θ_global‖ ≤ ‖Δ_ref‖.
 * Reference: ctx.reference (the server's own update, FLTrust's root update) when given with a
 * norm > 0. Otherwise (the FedAvg recipe has no server training, or the server did not move) the
 * coordinate-wise median of the Δ_k (midpoint of the two middle values for even K).
 * A client whose Δ_k = 0 (a free-rider sending the global model back) gets weight 0, reason
 * "no_update"; a client with s_k ≤ 0 gets weight 0, reason "not_aligned". No positive s_k (also
 * when the reference is zero, e.g. most clients free-ride) gives no mix, "no_positive_similarity".
 * All arithmetic in float64. Score = s_k (0 for a zero Δ_k or a zero reference).
 */
import type { AggregateContext, AggregateResult, Aggregator, ClientUpdate, Verdict } from "./aggregator";

function dot64(a: Float64Array, b: Float64Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

/** Coordinate-wise median of equal-length vectors (midpoint of the two middle values for even count). */
function coordinateMedian(vs: readonly Float64Array[], size: number): Float64Array {
  const K = vs.length;
  const out = new Float64Array(size);
  const col = new Float64Array(K);
  for (let j = 0; j < size; j++) {
    for (let k = 0; k < K; k++) col[k] = vs[k]![j]!;
    col.sort();
    out[j] = K % 2 === 1 ? col[(K - 1) / 2]! : (col[K / 2 - 1]! + col[K / 2]!) / 2;
  }
  return out;
}

export class TrustDeltaRule implements Aggregator {
  readonly name = "trust-delta";
  readonly weightsAreTrust = true;
  aggregate(global: Float32Array, updates: readonly ClientUpdate[], ctx?: AggregateContext): AggregateResult {
    const K = updates.length;
    if (K === 0) return { mix: null, reason: "no_clients", verdicts: [] };
    const size = global.length;
    const deltas = updates.map((u) => {
      if (u.params.length !== size) throw new Error(`trust-delta: ${u.actor} has ${u.params.length} params, expected ${size}`);
      const d = new Float64Array(size);
      for (let j = 0; j < size; j++) d[j] = u.params[j]! - global[j]!;
      return d;
    });
    let ref: Float64Array | undefined;
    if (ctx?.reference) {
      if (ctx.reference.length !== size) throw new Error(`trust-delta: reference has ${ctx.reference.length} params, expected ${size}`);
      const given = Float64Array.from(ctx.reference);
      if (dot64(given, given) > 0) ref = given;
    }
    ref ??= coordinateMedian(deltas, size);
    const refNorm = Math.sqrt(dot64(ref, ref));
    const norms = deltas.map((d) => Math.sqrt(dot64(d, d)));
    const scores = deltas.map((d, k) => (norms[k]! > 0 && refNorm > 0 ? dot64(d, ref) / (norms[k]! * refNorm) : 0));
    const raw = scores.map((s, k) => (norms[k]! > 0 ? Math.max(0, s) : 0));
    const total = raw.reduce((a, b) => a + b, 0);
    const weights = raw.map((r) => (total > 0 ? r / total : 0));
    const verdicts: Verdict[] = updates.map((u, k) => {
      const w = weights[k]!;
      return { actor: u.actor, weight: w, used: w > 0, score: scores[k]!, reason: w > 0 ? undefined : norms[k]! === 0 ? "no_update" : "not_aligned" };
    });
    if (!(total > 0)) return { mix: null, reason: "no_positive_similarity", verdicts };
    const acc = Float64Array.from(global);
    deltas.forEach((d, k) => {
      const w = weights[k]!;
      if (w === 0) return;
      const c = (w * refNorm) / norms[k]!;
      for (let j = 0; j < size; j++) acc[j]! += c * d[j]!;
    });
    const mix = new Float32Array(size);
    mix.set(acc);
    return { mix, verdicts };
  }
}
