/**
 * Trust-gated replay: each client's current trust decides whether its transitions enter the shared
 * replay. Two sources, both visible per client:
 *   - verdicts: after each aggregation round, t = min(1, K·w_k) for rules whose weights are trust
 *     (uniform weight 1/K → 1), and 0 for an upload refused by the bounds; smoothed by an EMA;
 *   - data: the TD error of the client's rows under the global model — per batch the mean of its
 *     rows' errors without the top quarter (an honest client's rare failure or terminal rows are
 *     its largest), EMA-smoothed at `tdRate` — against the median over clients (needs ≥ 3 clients
 *     with data): ratio r ≤ tdRatio → 1, else tdRatio / r; and the mean reward of its rows,
 *     EMA-smoothed at `rate`, against the clients' median in robust z units:
 *     the scale is the largest of the clients' spread (1.4826·MAD), the median client's batch-to-
 *     batch noise (EMA of |batch mean − its EMA|: with 3 clients the MAD alone can be ≈ 0 while
 *     LunarLander batches swing by a crash) and 5 % of |median| + 0.01; z ≤ rewardZ → 1, else rewardZ / z.
 * trust = min(verdicts, data). Below `below`, the client's batches are gated (refused, counted).
 * A per-client quota caps its rows in a decaying window at `quota` × the median client's, against floods.
 */
import { median } from "../core/vec";
import type { Verdict } from "./aggregator";

export interface GateSettings {
  /** Gate batches of clients whose trust is below this (0 turns gating off; trust is still tracked). */
  below: number;
  /** EMA rate of the round verdicts and of the reward check (per round, per batch). */
  rate: number;
  /**
   * EMA rate of the TD check, per batch. Slower than `rate`: honest batches' TD errors are
   * heavy-tailed (measured on CartPole and LunarLander hybrid runs: the 95th percentile of a
   * batch's mean 6× its median), so one batch must not move a client's level far.
   */
  tdRate: number;
  /** A client's TD error may be this many times the median client's before its data trust falls. */
  tdRatio: number;
  /** A client's mean reward may lie this many robust z units from the median client's. */
  rewardZ: number;
  /** Rows per window a client may insert, as a multiple of the median client's (0 = no quota). */
  quota: number;
  /** The quota never bites below this many rows per window. */
  quotaFloor: number;
}

export const DEFAULT_GATE: GateSettings = { below: 0.5, rate: 0.5, tdRate: 0.1, tdRatio: 4, rewardZ: 6, quota: 3, quotaFloor: 2000 };

/** Bounds refusals: the upload itself was implausible. */
const REFUSED = new Set(["non_finite", "norm_bound", "delta_bound"]);

export interface ClientTrust {
  verdicts: number;
  data: number;
  td: number;
  tdTrust: number;
  reward: number;
  /** EMA of |batch mean reward − the client's EMA before it|: its honest batch-to-batch noise. */
  rewardNoise: number;
  rewardTrust: number;
  accepted: number;
  gated: number;
  quota: number;
  evicted: number;
  window: number;
  /** Rows the client sent (every batch that reached the gate). */
  received: number;
}

/** Clients tracked by the gate. */
export const MAX_TRACKED = 1024;

export type Admission = "ok" | "distrusted" | "quota";

export class TrustGate {
  private readonly c = new Map<string, ClientTrust>();
  constructor(readonly s: GateSettings = DEFAULT_GATE) {}

  private of(actor: string): ClientTrust {
    let t = this.c.get(actor);
    if (!t && this.c.size >= MAX_TRACKED) {
      // Whatever ids appear: forget the client that inserted least (never a trusted regular's state first).
      let least: string | null = null;
      for (const [a, x] of this.c) if (least === null || x.accepted < this.c.get(least)!.accepted) least = a;
      this.c.delete(least!);
    }
    if (!t) this.c.set(actor, (t = { verdicts: 1, data: 1, td: NaN, tdTrust: 1, reward: NaN, rewardNoise: NaN, rewardTrust: 1, accepted: 0, gated: 0, quota: 0, evicted: 0, window: 0, received: 0 }));
    return t;
  }

  trust(actor: string): number {
    const t = this.c.get(actor);
    return t ? Math.min(t.verdicts, t.data) : 1;
  }

  /** Folds one round's verdicts in; `weightsAreTrust`: the rule's weights rank clients (trust, trust-delta). */
  onRound(verdicts: readonly Verdict[], weightsAreTrust: boolean): void {
    const judged = verdicts.filter((v) => v.reason !== "stale");
    const K = judged.length;
    // A round that used nobody says nothing about any one client's rule weight (bounds refusals still count).
    const anyUsed = judged.some((v) => v.used);
    for (const v of judged) {
      let t: number | null = null;
      if (v.reason && REFUSED.has(v.reason)) t = 0;
      else if (weightsAreTrust && anyUsed) t = Math.min(1, K * v.weight);
      if (t === null) continue;
      const c = this.of(v.actor);
      c.verdicts += this.s.rate * (t - c.verdicts);
    }
  }

  /** EMA at `rate`; the first value (prev NaN) is taken as it is. */
  private ema(prev: number, x: number, rate = this.s.rate): number {
    return Number.isFinite(prev) ? prev + rate * (x - prev) : x;
  }

  /** Folds in the TD errors of (some of) a client's latest rows and re-rates every client's data trust. */
  observeTd(actor: string, rowTds: ArrayLike<number>): void {
    const level = trimmedMean(rowTds);
    if (!Number.isFinite(level)) return;
    const c = this.of(actor);
    c.td = this.ema(c.td, level, this.s.tdRate);
    const tds = [...this.c.values()].map((x) => x.td).filter(Number.isFinite);
    if (tds.length < 3) return;
    const med = median(tds);
    if (!(med > 0)) return;
    for (const x of this.c.values()) {
      if (!Number.isFinite(x.td)) continue;
      const r = x.td / med;
      x.tdTrust = r <= this.s.tdRatio ? 1 : this.s.tdRatio / r;
      x.data = Math.min(x.tdTrust, x.rewardTrust);
    }
  }

  /** Folds in the mean reward of a client's latest rows and re-rates every client's reward trust. */
  observeReward(actor: string, meanReward: number): void {
    if (!Number.isFinite(meanReward)) return;
    const c = this.of(actor);
    if (Number.isFinite(c.reward)) c.rewardNoise = this.ema(c.rewardNoise, Math.abs(meanReward - c.reward));
    c.reward = this.ema(c.reward, meanReward);
    const rs = [...this.c.values()].map((x) => x.reward).filter(Number.isFinite);
    if (rs.length < 3) return;
    const med = median(rs);
    // Judged once three clients have a noise estimate (two batches each): a first batch says nothing of it.
    const noises = [...this.c.values()].map((x) => x.rewardNoise).filter(Number.isFinite);
    if (noises.length < 3) return;
    const noise = median(noises);
    const scale = Math.max(1.4826 * median(rs.map((r) => Math.abs(r - med))), noise, 0.05 * Math.abs(med) + 0.01);
    for (const x of this.c.values()) {
      if (!Number.isFinite(x.reward)) continue;
      const z = Math.abs(x.reward - med) / scale;
      x.rewardTrust = z <= this.s.rewardZ ? 1 : this.s.rewardZ / z;
      x.data = Math.min(x.tdTrust, x.rewardTrust);
    }
  }

  /** Whether a batch of n rows from `actor` may go on to the filter and the replay (counted either way). */
  admit(actor: string, n: number): Admission {
    const c = this.of(actor);
    c.received += n;
    if (this.s.below > 0 && this.trust(actor) < this.s.below) {
      c.gated += n;
      return "distrusted";
    }
    if (this.s.quota > 0) {
      const limit = Math.max(this.s.quotaFloor, this.s.quota * median([...this.c.values()].map((x) => x.window)));
      if (c.window + n > limit) {
        c.quota += n;
        return "quota";
      }
    }
    c.window += n;
    return "ok";
  }

  /** Rows the learner received from `actor` (what FedAvg may weight it by, instead of its claim). */
  receivedOf(actor: string): number | undefined {
    return this.c.get(actor)?.received;
  }

  onAccepted(actor: string, n: number): void {
    this.of(actor).accepted += n;
  }

  /** Rows of a distrusted client removed from the replay. */
  onEvicted(actor: string, n: number): void {
    this.of(actor).evicted += n;
  }

  /** Halves every window (call on the learner's tick). */
  decay(): void {
    for (const c of this.c.values()) c.window /= 2;
  }

  /** Every client's state, in tracking order, for a checkpoint (snapshot() is the report). */
  state(): [string, ClientTrust][] {
    return [...this.c].map(([a, c]) => [a, { ...c }]);
  }

  /** Continues from state(). */
  restore(s: readonly [string, ClientTrust][]): void {
    this.c.clear();
    // rewardNoise: absent from checkpoints written before it existed.
    for (const [a, c] of s) this.c.set(a, { ...c, rewardNoise: c.rewardNoise ?? NaN });
  }

  snapshot(): Record<string, { trust: number; verdicts: number; data: number; td: number | null; accepted: number; gated: number; quota: number; evicted: number }> {
    const out: ReturnType<TrustGate["snapshot"]> = {};
    for (const [a, c] of this.c) out[a] = { trust: Math.min(c.verdicts, c.data), verdicts: c.verdicts, data: c.data, td: Number.isFinite(c.td) ? c.td : null, accepted: c.accepted, gated: c.gated, quota: c.quota, evicted: c.evicted };
    return out;
  }
}

/** Mean of the values without the largest quarter (NaN for none or any non-finite value). */
export function trimmedMean(xs: ArrayLike<number>): number {
  const s = Float64Array.from(xs).sort();
  const n = s.length - Math.floor(s.length / 4);
  let sum = 0;
  for (let i = 0; i < n; i++) sum += s[i]!;
  return n > 0 && Number.isFinite(s[0]!) && Number.isFinite(s[s.length - 1]!) ? sum / n : NaN;
}
