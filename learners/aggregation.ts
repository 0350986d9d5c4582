/**
 * Blending client parameter vectors into a global model.
 *
 * Trust-aware (the hybrid method):
 *   sim_k = cos(θ_global, θ_k);  w_k = max(0, sim_k) / Σ_i max(0, sim_i)
 *   θ_global ← α·θ_global + (1 − α)·Σ_k w_k·θ_k
 * `uniform` weighting (ablation) uses w_k = 1/K. FedAvg: θ = Σ_k (n_k / Σ n)·θ_k.
 */

export interface ClientParams {
  actor: string;
  params: Float32Array;
  /** Env samples behind these parameters. */
  samples: number;
  /** When it arrived, in the aggregator clock's unit (ms or env steps). */
  receivedAt: number;
  layoutHash: string;
}

export interface ClientReport {
  actor: string;
  similarity: number;
  weight: number;
  staleness: number;
  used: boolean;
  reason?: "stale" | "negative";
}

export interface AggregationResult {
  /** False when the global model is left unchanged (no fresh clients, or every similarity ≤ 0). */
  changed: boolean;
  reason?: "no_fresh_clients" | "no_positive_similarity";
  params: Float32Array;
  clients: ClientReport[];
  /** ‖θ_new − θ_old‖₂ */
  deltaNorm: number;
  /** Σ w_k θ_k (weights summing to 1), when changed: the learner applies the same blend to its target net. */
  mix?: Float32Array;
}

export interface AggregatorConfig {
  alpha: number;
  weighting: "trust" | "uniform";
  /** Clients older than this (clock units) are ignored. */
  staleAfter: number;
}

export function dot(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += a[i]! * b[i]!;
  return s;
}

export function cosine(a: Float32Array, b: Float32Array): number {
  const na = Math.sqrt(dot(a, a));
  const nb = Math.sqrt(dot(b, b));
  if (na === 0 || nb === 0) return 0;
  return dot(a, b) / (na * nb);
}

function l2diff(a: Float32Array, b: Float32Array): number {
  let s = 0;
  for (let i = 0; i < a.length; i++) s += (a[i]! - b[i]!) ** 2;
  return Math.sqrt(s);
}

/** Keeps each actor's latest parameters and blends them into a global vector on demand. */
export class TrustAggregator {
  private latest = new Map<string, ClientParams>();
  refused = 0;
  rounds = 0;
  constructor(readonly layoutHash: string, readonly size: number, readonly config: AggregatorConfig) {}

  /** Stores a client's parameters; refuses another layout, a wrong length or non-finite values. */
  offer(c: ClientParams): { ok: true } | { ok: false; reason: string } {
    const bad = c.layoutHash !== this.layoutHash ? "layout_mismatch" : c.params.length !== this.size ? "size_mismatch" : !c.params.every(Number.isFinite) ? "non_finite" : null;
    if (bad) {
      this.refused++;
      return { ok: false, reason: bad };
    }
    this.latest.set(c.actor, c);
    return { ok: true };
  }

  clients(): ClientParams[] {
    return [...this.latest.values()];
  }

  aggregate(global: Float32Array, now: number): AggregationResult {
    const { alpha, weighting, staleAfter } = this.config;
    const reports: ClientReport[] = [];
    const fresh: { c: ClientParams; sim: number }[] = [];
    for (const c of this.latest.values()) {
      const staleness = now - c.receivedAt;
      const sim = cosine(global, c.params);
      if (staleness > staleAfter) reports.push({ actor: c.actor, similarity: sim, weight: 0, staleness, used: false, reason: "stale" });
      else fresh.push({ c, sim });
    }
    this.rounds++;
    if (fresh.length === 0) return { changed: false, reason: "no_fresh_clients", params: global, clients: reports, deltaNorm: 0 };
    const raw = fresh.map(({ sim }) => (weighting === "trust" ? Math.max(0, sim) : 1));
    const total = raw.reduce((a, b) => a + b, 0);
    fresh.forEach(({ c, sim }, i) => {
      const w = total > 0 ? raw[i]! / total : 0;
      reports.push({ actor: c.actor, similarity: sim, weight: w, staleness: now - c.receivedAt, used: w > 0, reason: w > 0 ? undefined : "negative" });
    });
    if (total <= 0) return { changed: false, reason: "no_positive_similarity", params: global, clients: reports, deltaNorm: 0 };
    const mix = new Float32Array(global.length);
    fresh.forEach(({ c }, i) => {
      const w = raw[i]! / total;
      if (w === 0) return;
      for (let j = 0; j < mix.length; j++) mix[j]! += w * c.params[j]!;
    });
    const out = new Float32Array(global.length);
    for (let j = 0; j < out.length; j++) out[j] = alpha * global[j]! + (1 - alpha) * mix[j]!;
    return { changed: true, params: out, mix, clients: reports, deltaNorm: l2diff(out, global) };
  }

  forget(actor: string): void {
    this.latest.delete(actor);
  }
}

/** FedAvg: sample-weighted mean Σ (n_k / Σ n) θ_k (uniform when every n_k is 0). */
export function fedAvg(clients: readonly ClientParams[]): Float32Array {
  if (clients.length === 0) throw new Error("fedAvg needs at least one client");
  const size = clients[0]!.params.length;
  const total = clients.reduce((s, c) => s + c.samples, 0);
  const out = new Float32Array(size);
  const acc = new Float64Array(size);
  for (const c of clients) {
    if (c.params.length !== size) throw new Error(`fedAvg: ${c.actor} has ${c.params.length} params, expected ${size}`);
    const w = total > 0 ? c.samples / total : 1 / clients.length;
    for (let j = 0; j < size; j++) acc[j]! += w * c.params[j]!;
  }
  out.set(acc);
  return out;
}
