/**
 * The aggregation node: keeps each client's latest upload, and on its own timer asks the rule for
 * a mix of the fresh ones and applies θ ← α·θ + (1−α)·mix to the global model's shipped group
 * (and the same blend to its followers, e.g. the learner's target network).
 *   hybrid: rule `trust` (or any), α from config, clients fresh within `staleAfter`.
 *   FedAvg: rule `fedavg`, α = 0, only the uploads since the last round (`forgetAfterRound`).
 */
import type { Clock, Period, Timer } from "../core/clock";
import type { RejectionCounter } from "../core/errors";
import type { MetricsSink } from "../core/metrics";
import type { WeightsUpload } from "../core/links";
import { blendInto, layoutSize } from "../core/params";
import { l2diff, median, norm } from "../core/vec";
import type { Aggregator, Verdict } from "../federation/aggregator";
import { globalRefused, weightsOutOfBounds, type WeightBounds } from "../federation/bounds";
import type { GlobalState } from "./global";

export interface AggregationConfig {
  interval: Period;
  /** θ ← α·θ + (1−α)·mix */
  alpha: number;
  /** Uploads older than this are left out (and reported stale). */
  staleAfter: Period;
  /** Average only what arrived since the last round, then forget it (FedAvg's synchronous rounds). */
  forgetAfterRound: boolean;
  /** Blend the global model's follower groups too. */
  mergeFollowers: boolean;
  followers: readonly string[];
  /**
   * What update-based rules (trust-delta) compare client updates with: the server's own update since
   * the last round ("server", FLTrust's root update), or nothing, so they use the median client
   * update ("median", the default: asynchronous clients start from older global versions, and their
   * updates measured against the current global point away from the server's progress).
   */
  reference?: "server" | "median";
  /**
   * Apply each client's own update to the current global model: θ'_k = θ_global + (θ_k − θ_base),
   * θ_base = the published global model of the version the client reports it last merged (kept for
   * the last 64 publishes; an unknown version is used as sent). For clients that replace their
   * weights with the global model, this makes Δ_k their local progress, not the learner's lag.
   */
  rebase?: boolean;
  /** Plausibility bounds on uploads and on the round's result (absent: only finiteness is checked). */
  bounds?: WeightBounds;
}

export interface AggregationDeps {
  rule: Aggregator;
  global: GlobalState;
  clock: Clock;
  metrics: MetricsSink;
  rejected: RejectionCounter;
  config: AggregationConfig;
  /** Delivers uploads already on their way (on the step clock, before a round). */
  flush?: () => Promise<void>;
  /** Samples the server verified for a client (rows it received from it), used instead of the client's claim when known. */
  verifiedSamples?: (actor: string) => number | undefined;
  /** Called after every round with its report (the trust gate folds the verdicts in). */
  onRound?: (r: RoundReport) => void;
  /** Called after a round that changed the model (FedAvg publishes at once). */
  onChange?: () => Promise<void>;
  log?: (line: string) => void;
}

export interface Held {
  actor: string;
  params: Float32Array;
  samples: number;
  /** The global version the client last merged. */
  version: number;
  receivedAt: number;
  /** Why the latest upload was refused (it then takes no part and shows in the round's verdicts). */
  refused?: string;
}

export interface RoundReport {
  round: number;
  changed: boolean;
  reason?: string;
  deltaNorm: number;
  clients: (Verdict & { staleness: number })[];
}

/** Clients whose uploads and totals are kept. */
export const MAX_CLIENTS = 1024;

export class AggregationNode {
  private readonly latest = new Map<string, Held>();
  private timer: Timer | null = null;
  private readonly size: number;
  private readonly hash: string;
  lastRound: RoundReport | null = null;
  /** The global model right after the last round: the server's own update is measured from here. */
  private sinceRound: Float32Array;
  /** Rounds refused because their result was non-finite or exploding. */
  refusedRounds = 0;
  /** Per client, over every round it took part in (stale ones excluded): rounds judged, rounds used, Σ weight, why left out. */
  readonly clientTotals = new Map<string, { rounds: number; usedRounds: number; weightSum: number; reasons: Record<string, number> }>();
  get rule(): string {
    return this.d.rule.name;
  }

  constructor(private readonly d: AggregationDeps) {
    const lay = d.global.holder.layout();
    this.size = layoutSize(lay.entries);
    this.hash = lay.hash;
    this.sinceRound = d.global.params().slice();
  }

  start(): void {
    const { clock, config, flush } = this.d;
    this.timer = clock.every(config.interval, async () => {
      // On the step clock, uploads due at this same step are still in the link: deliver them first.
      if (clock.kind === "steps") await flush?.();
      await this.aggregate();
    }, "aggregation.round");
  }

  /**
   * Keeps a client's upload; refuses another layout, a wrong length, non-finite values and, with
   * bounds, weights implausibly far from the global model (all counted by reason and actor).
   * A refused upload replaces the client's previous one: it shows as refused in the next round.
   */
  offer(actor: string, w: WeightsUpload): boolean {
    const malformed = w.layout.hash !== this.hash ? "layout_mismatch" : w.params.length !== this.size ? "size_mismatch" : null;
    if (malformed) {
      this.d.rejected.count(malformed, actor);
      return false;
    }
    const { bounds } = this.d.config;
    const bad = bounds ? weightsOutOfBounds(w.params, this.d.global.params(), bounds) : w.params.every(Number.isFinite) ? null : "non_finite";
    const now = this.d.clock.now();
    if (bad) {
      this.d.rejected.count(bad, actor);
      this.latest.set(actor, { actor, params: new Float32Array(0), samples: 0, version: w.version, receivedAt: now, refused: bad });
      this.bound();
      return false;
    }
    this.latest.set(actor, { actor, params: w.params, samples: w.samples, version: w.version, receivedAt: now });
    this.bound();
    return true;
  }

  /** Keeps the uploads of at most MAX_CLIENTS clients (the longest silent dropped first), whatever ids appear. */
  private bound(): void {
    if (this.latest.size <= MAX_CLIENTS) return;
    let oldest: Held | null = null;
    for (const c of this.latest.values()) if (!oldest || c.receivedAt < oldest.receivedAt) oldest = c;
    this.latest.delete(oldest!.actor);
    if (this.clientTotals.size > MAX_CLIENTS) this.clientTotals.delete(this.clientTotals.keys().next().value!);
  }

  private readonly bases = new Map<number, Float32Array>();
  /** Records a published global model (the base clients will report merging). */
  rememberBase(version: number, params: Float32Array): void {
    if (!this.d.config.rebase) return;
    this.bases.set(version, params.slice());
    if (this.bases.size > 64) this.bases.delete(this.bases.keys().next().value!);
  }

  private rebased(c: Held, g: Float32Array): Held {
    const base = this.bases.get(c.version);
    if (!base) return c;
    const p = new Float32Array(g.length);
    for (let j = 0; j < p.length; j++) p[j] = g[j]! + (c.params[j]! - base[j]!);
    return { ...c, params: p };
  }

  /** One round. */
  async aggregate(): Promise<RoundReport> {
    const { global, config, clock, rule, metrics } = this.d;
    const now = clock.now();
    const left: RoundReport["clients"] = [];
    const fresh: Held[] = [];
    for (const c of this.latest.values()) {
      if (!config.forgetAfterRound && now - c.receivedAt > clock.units(config.staleAfter)) left.push({ actor: c.actor, weight: 0, used: false, score: NaN, reason: "stale", staleness: now - c.receivedAt });
      else if (c.refused) left.push({ actor: c.actor, weight: 0, used: false, score: NaN, reason: c.refused, staleness: now - c.receivedAt });
      else fresh.push(c);
    }
    if (config.forgetAfterRound) this.latest.clear();
    global.round++;
    const g = global.params();
    // The server's own update since the last round (the hybrid learner's progress on the pooled replay).
    const reference = new Float32Array(g.length);
    let moved = false;
    for (let j = 0; j < g.length; j++) if ((reference[j] = g[j]! - this.sinceRound[j]!) !== 0) moved = true;
    // Sample counts: what the server verified (rows it received from the client) where it knows,
    // else the sender's claim; none may exceed twice the median (one client claiming 1e12 samples
    // would otherwise own a sample-weighted average).
    const verified = fresh.map((c) => {
      const v = this.d.verifiedSamples?.(c.actor);
      return v === undefined ? c : { ...c, samples: v };
    });
    const cap = 2 * median(verified.map((c) => c.samples));
    const capped = verified.map((c) => (c.samples > cap ? { ...c, samples: cap } : c));
    const clients = config.rebase ? capped.map((c) => this.rebased(c, g)) : capped;
    const r = clients.length === 0 ? { mix: null, reason: "no_fresh_clients", verdicts: [] as Verdict[] } : rule.aggregate(g, clients, moved && config.reference === "server" ? { reference } : {});
    const staleness = new Map(fresh.map((c) => [c.actor, now - c.receivedAt]));
    const report: RoundReport = { round: global.round, changed: false, deltaNorm: 0, clients: [...left, ...r.verdicts.map((v) => ({ ...v, staleness: staleness.get(v.actor) ?? 0 }))] };
    let reason = r.mix ? null : r.reason;
    if (r.mix) {
      const { alpha } = config;
      const out = new Float32Array(g.length);
      for (let j = 0; j < out.length; j++) out[j] = alpha * g[j]! + (1 - alpha) * r.mix[j]!;
      // The global model never becomes non-finite or explodes, whatever the rule let through.
      reason = globalRefused(out, g, config.bounds?.growth ?? Infinity);
      if (reason) {
        this.refusedRounds++;
        this.d.rejected.count(reason, "aggregation");
      } else {
        const next: Record<string, Float32Array> = { [global.shipped]: out };
        if (config.mergeFollowers) {
          const w = global.holder.weights();
          for (const name of config.followers) if (w[name]) next[name] = blendInto(w[name]!, r.mix, 1 - alpha);
        }
        global.holder.setWeights(next);
        global.version++;
        report.changed = true;
        report.deltaNorm = l2diff(out, g);
      }
    }
    if (reason) {
      report.reason = reason;
      this.d.log?.(`aggregation round ${global.round}: global model unchanged (${reason})`);
    }
    this.sinceRound = global.params().slice();
    this.lastRound = report;
    metrics.write("aggregation", { round: report.round, rule: rule.name, changed: report.changed, reason: report.reason ?? null, deltaNorm: report.deltaNorm, globalNorm: norm(global.params()), version: global.version, clients: report.clients });
    for (const c of report.clients) {
      if (c.reason === "stale") continue;
      let t = this.clientTotals.get(c.actor);
      if (!t) this.clientTotals.set(c.actor, (t = { rounds: 0, usedRounds: 0, weightSum: 0, reasons: {} }));
      t.rounds++;
      if (c.used && report.changed) t.usedRounds++;
      t.weightSum += c.weight;
      if (c.reason) t.reasons[c.reason] = (t.reasons[c.reason] ?? 0) + 1;
    }
    this.d.onRound?.(report);
    if (report.changed) await this.d.onChange?.();
    return report;
  }

  /** Held uploads, remembered bases, the model at the last round, totals (all in insertion order), for a checkpoint. */
  snapshot(): AggregationSnapshot {
    return {
      latest: [...this.latest.values()].map((c) => ({ ...c, params: c.params.slice() })),
      bases: [...this.bases].map(([v, p]) => [v, p.slice()]),
      sinceRound: this.sinceRound.slice(), refusedRounds: this.refusedRounds,
      clientTotals: [...this.clientTotals].map(([a, t]) => [a, { ...t, reasons: { ...t.reasons } }]),
      lastRound: this.lastRound ? structuredClone(this.lastRound) : null,
    };
  }

  /** Continues from snapshot(). */
  restore(s: AggregationSnapshot): void {
    this.latest.clear();
    for (const c of s.latest) this.latest.set(c.actor, { ...c, params: c.params.slice() });
    this.bases.clear();
    for (const [v, p] of s.bases) this.bases.set(v, p.slice());
    this.sinceRound = s.sinceRound.slice();
    this.refusedRounds = s.refusedRounds;
    this.clientTotals.clear();
    for (const [a, t] of s.clientTotals) this.clientTotals.set(a, { ...t, reasons: { ...t.reasons } });
    this.lastRound = s.lastRound ? structuredClone(s.lastRound) : null;
  }

  stop(): void {
    this.timer?.cancel();
  }
}

export interface AggregationSnapshot {
  latest: Held[];
  bases: [number, Float32Array][];
  sinceRound: Float32Array;
  refusedRounds: number;
  clientTotals: [string, { rounds: number; usedRounds: number; weightSum: number; reasons: Record<string, number> }][];
  lastRound: RoundReport | null;
}
