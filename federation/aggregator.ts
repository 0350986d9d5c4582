/**
 * An aggregation rule (Flower-strategy-like): a pure object with one method. Given the current
 * global model and the fresh client updates, it returns the mix Σ w_k θ_k that the aggregation
 * node blends in (θ ← α·θ + (1−α)·mix), or no mix and why, plus a verdict per client.
 * Rules know nothing of clocks, staleness, transports or which model they move.
 */
export interface ClientUpdate {
  actor: string;
  /** The client's shipped weights (same layout as the global model). */
  params: Float32Array;
  /** Env samples behind them. */
  samples: number;
}

export interface Verdict {
  actor: string;
  /** Share of the mix (Σ over used clients = 1). */
  weight: number;
  used: boolean;
  /** The rule's score for this client (trust: cosine similarity; see each rule). */
  score: number;
  reason?: string;
}

export type AggregateResult =
  | { mix: Float32Array; verdicts: Verdict[] }
  | { mix: null; reason: string; verdicts: Verdict[] };

/** What a rule may use besides the clients' uploads. */
export interface AggregateContext {
  /**
   * The server's own update since the last round, θ_global(now) − θ_global(last round): in the
   * hybrid recipe the global learner's progress on the pooled replay (FLTrust's root update).
   * Absent when the server does not train (FedAvg) or did not move.
   */
  reference?: Float32Array;
}

/** Knobs of the robust rules, from config `aggregator.*`. */
export interface RuleSettings {
  /** trimmed-mean: fraction β of the clients cut from each end, per coordinate (0 ≤ β < 0.5). */
  trim: number;
  /** krum / multi-krum: the number f of Byzantine clients assumed. */
  byzantine: number;
  /** multi-krum: clients averaged (0 = K − f). */
  select: number;
}

export const DEFAULT_RULE_SETTINGS: RuleSettings = { trim: 0.2, byzantine: 1, select: 0 };

export interface Aggregator {
  readonly name: string;
  /** The weights rank clients by trust (uniform = fully trusted): the trust gate may use them. */
  readonly weightsAreTrust?: boolean;
  aggregate(global: Float32Array, updates: readonly ClientUpdate[], ctx?: AggregateContext): AggregateResult;
}

/** Σ_k w_k θ_k accumulated in float32, in client order, skipping zero weights (the trust rule's arithmetic). */
export function weightedMix(global: Float32Array, updates: readonly ClientUpdate[], weights: readonly number[]): Float32Array {
  const mix = new Float32Array(global.length);
  updates.forEach((u, i) => {
    const w = weights[i]!;
    if (w === 0) return;
    for (let j = 0; j < mix.length; j++) mix[j]! += w * u.params[j]!;
  });
  return mix;
}
