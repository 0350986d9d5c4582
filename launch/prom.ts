/**
 * A run's live metrics: one prom-client Registry per run (or per process), never the global one,
 * fed from the assembled topology (actors' and learner's stats, the aggregation node's last round,
 * the trust gate) and from the metrics events nodes write (episodes, aggregation rounds). It also
 * keeps a short history (one point a second) for the dashboard page (launch/dashboard/).
 *
 * Counters mirror the nodes' own cumulative counters (incremented by their change since the last
 * refresh), so they never go down; gauges are set. Labels: `run` (a default label on everything),
 * `actor`, `reason`.
 */
import { monitorEventLoopDelay, type IntervalHistogram } from "node:perf_hooks";
import { Counter, Gauge, Histogram, Registry } from "prom-client";
import type { Bus } from "../core/bus";
import type { RejectionCounter } from "../core/errors";
import type { MetricsSink } from "../core/metrics";
import type { ReplayStore } from "../core/replay";
import { norm } from "../core/vec";
import type { Actor } from "../nodes/actor";
import type { Server } from "./assemble";

/** What an actor reports (Actor.stats(), also the heartbeat actor processes publish on the bus). */
export type ActorStats = ReturnType<Actor["stats"]>;
type LearnerStats = Awaited<ReturnType<NonNullable<Server["learner"]>["stats"]>>;

export interface RoundRow {
  round: number;
  t: number;
  changed: boolean;
  reason: string | null;
  globalNorm: number;
  clients: { actor: string; weight: number; used: boolean; score: number | null; reason: string | null; staleness: number }[];
}

/** A held-out detection point of the global model (launch/detection.ts), as the dashboard reads it. */
export interface DetectionRow {
  /** Seconds since the run started. */
  t: number;
  round: number;
  version: number;
  f1: number | null;
  rocAuc: number | null;
  fpr: number | null;
  worstSiteF1: number | null;
  tprAtFpr1: number | null;
  worstSite: string | null;
}

/** One dashboard sample. */
export interface HistoryPoint {
  /** Seconds since the run started. */
  t: number;
  actors: Record<string, { mean100: number | null; steps: number; episodes: number; epsilon: number | null; acked: number; lost: number; retries: number }>;
  learner: null | {
    received: number; accepted: number; filtered: number; refused: number; updates: number; loss: number | null;
    acceptRate: number | null; replayFill: number | null; version: number; round: number; rejected: Record<string, number>;
  };
}

export interface ReadyCheck {
  ok: boolean;
  checks: Record<string, { ok: boolean; detail?: string }>;
}

const finite = (x: unknown): number | null => (typeof x === "number" && Number.isFinite(x) ? x : null);

const withTimeout = <T>(p: Promise<T>, ms: number): Promise<T> =>
  new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`no answer in ${ms} ms`)), ms);
    p.then((v) => { clearTimeout(t); resolve(v); }, (e) => { clearTimeout(t); reject(e); });
  });

const HELD = "of the global model on held-out traffic (last probe, eval.detection)";
/** The pooled detection gauges: the "detection" event's key, the gauge, its help. */
const DETECTION_GAUGES: readonly [string, string, string][] = [
  ["round", "fedrl_detection_round", "Aggregation round of the last held-out detection probe"],
  ["f1", "fedrl_detection_f1", `Pooled F1 ${HELD}`],
  ["precision", "fedrl_detection_precision", `Pooled precision ${HELD}`],
  ["recall", "fedrl_detection_recall", `Pooled recall ${HELD}`],
  ["fpr", "fedrl_detection_fpr", `Pooled false-positive rate ${HELD}`],
  ["rocAuc", "fedrl_detection_roc_auc", `Pooled ROC-AUC ${HELD}`],
  ["prAuc", "fedrl_detection_pr_auc", `Pooled PR-AUC ${HELD}`],
  ["tprAtFpr1", "fedrl_detection_tpr_at_fpr1", `Pooled TPR at FPR 1 % ${HELD}`],
  ["worstSiteF1", "fedrl_detection_worst_site_f1", `Lowest per-site F1 ${HELD}`],
];

export interface RunMetricsOptions {
  run: string;
  /** embedded | learner | actor: which part of the run this process is. */
  role: string;
  mode: string;
  env: string;
  /** Seconds between dashboard samples (default 1). */
  sampleSeconds?: number;
  /** History points kept (default 1800). */
  keep?: number;
}

export class RunMetrics {
  readonly registry = new Registry();
  readonly t0 = Date.now();
  private localActors: Actor[] = [];
  private server: Server | null = null;
  private replay: ReplayStore | null = null;
  private bus: Bus | null = null;
  /** Actors known from their bus heartbeats (the learner process). */
  private readonly remote = new Map<string, { stats: ActorStats; at: number }>();
  private readonly history: HistoryPoint[] = [];
  private readonly rounds: RoundRow[] = [];
  private readonly detection: DetectionRow[] = [];
  private readonly last = new Map<string, number>();
  private lastTick = 0;
  private ticks = 0;
  private attached = false;
  private closed = false;
  private refreshing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | null = null;
  private readonly loop: IntervalHistogram;
  private latestLearner: LearnerStats | null = null;

  // actors
  private readonly steps: Counter<"actor">;
  private readonly episodes: Counter<"actor">;
  private readonly mean100: Gauge<"actor">;
  private readonly epsilon: Gauge<"actor">;
  private readonly actorGlobal: Gauge<"actor">;
  private readonly episodeReturn: Histogram<"actor">;
  private readonly batchesSent: Counter<"actor">;
  private readonly bytesSent: Counter<"actor">;
  private readonly weightsSent: Counter<"actor">;
  private readonly acked: Counter<"actor">;
  private readonly refusedTx: Counter<"actor">;
  private readonly lost: Counter<"actor">;
  private readonly retried: Counter<"actor">;
  private readonly pending: Gauge<"actor">;
  // learner
  private readonly received: Counter;
  private readonly accepted: Counter;
  private readonly filtered: Counter;
  private readonly refused: Counter;
  private readonly duplicates: Counter;
  private readonly rejectedC: Counter<"reason" | "actor">;
  private readonly replaySize: Gauge;
  private readonly replayCapacity: Gauge;
  private readonly sampleSeconds: Histogram;
  private readonly ingestSeconds: Histogram;
  private readonly updates: Counter;
  private readonly skipped: Counter;
  private readonly loss: Gauge;
  private readonly acceptRatio: Gauge;
  private readonly version: Gauge;
  private readonly gnorm: Gauge;
  private readonly round: Gauge;
  private readonly weight: Gauge<"actor">;
  private readonly score: Gauge<"actor">;
  private readonly staleness: Gauge<"actor">;
  private readonly leftOut: Counter<"actor" | "reason">;
  private readonly gateTrust: Gauge<"actor">;
  private readonly gateRows: Counter<"actor" | "reason">;
  // held-out detection (IoTIntrusion-v0): registered on their first finite value and a series
  // removed when the last probe has none, so a run without the probe (or a site with no attack)
  // exports nothing rather than a misleading 0 or a stale value
  private readonly detGauges = new Map<string, Gauge<string>>();
  // process
  private readonly rss: Gauge;
  private readonly heap: Gauge;
  private readonly lagP99: Gauge;
  private readonly lagMean: Gauge;

  constructor(readonly o: RunMetricsOptions) {
    const r = this.registry;
    r.setDefaultLabels({ run: o.run });
    const registers = [r];
    const counter = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Counter<L>({ name, help, labelNames, registers });
    const gauge = <L extends string>(name: string, help: string, labelNames: L[] = []) => new Gauge<L>({ name, help, labelNames, registers });
    const A = ["actor" as const];
    this.steps = counter("fedrl_actor_env_steps_total", "Environment steps taken by the actor", A);
    this.episodes = counter("fedrl_actor_episodes_total", "Episodes finished by the actor", A);
    this.mean100 = gauge("fedrl_actor_return_mean100", "Mean return of the actor's last 100 episodes", A);
    this.epsilon = gauge("fedrl_actor_epsilon", "The actor's exploration rate (epsilon-greedy algorithms)", A);
    this.actorGlobal = gauge("fedrl_actor_global_version", "Global model version the actor last merged", A);
    this.episodeReturn = new Histogram({ name: "fedrl_actor_episode_return", help: "Returns of finished episodes", labelNames: A, registers, buckets: [-400, -200, -100, -50, 0, 10, 25, 50, 100, 150, 200, 300, 500] });
    this.batchesSent = counter("fedrl_actor_batches_sent_total", "Transition batches the actor sent", A);
    this.bytesSent = counter("fedrl_actor_bytes_sent_total", "Bytes the actor sent (batches and weights)", A);
    this.weightsSent = counter("fedrl_actor_weights_sent_total", "Weight uploads the actor sent", A);
    this.acked = counter("fedrl_actor_transitions_acked_total", "Transitions the learner acknowledged as stored", A);
    this.refusedTx = counter("fedrl_actor_transitions_refused_total", "Transitions the learner answered as refused", A);
    this.lost = counter("fedrl_actor_transitions_lost_total", "Transitions dropped unacknowledged (queue full, gave up)", A);
    this.retried = counter("fedrl_actor_batches_retried_total", "Batch sends retried after an ack timeout", A);
    this.pending = gauge("fedrl_actor_batches_pending", "Batches waiting for an acknowledgement or a send slot", A);

    this.received = counter("fedrl_learner_transitions_received_total", "Transitions received by the learner");
    this.accepted = counter("fedrl_learner_transitions_accepted_total", "Transitions the learner stored in the replay");
    this.filtered = counter("fedrl_learner_transitions_filtered_total", "Transitions the experience filter dropped");
    this.refused = counter("fedrl_learner_transitions_refused_total", "Transitions of batches refused whole (bounds, trust gate, quota)");
    this.duplicates = counter("fedrl_learner_duplicates_total", "Batches received twice (retries) and ignored");
    this.rejectedC = counter("fedrl_learner_rejected_total", "Messages or batches refused, by reason and sender", ["reason", "actor"]);
    this.replaySize = gauge("fedrl_replay_size", "Transitions in the shared replay");
    this.replayCapacity = gauge("fedrl_replay_capacity", "Capacity of the shared replay");
    this.sampleSeconds = new Histogram({ name: "fedrl_learner_sample_seconds", help: "Latency of one replay sample (a training minibatch)", registers, buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
    this.ingestSeconds = new Histogram({ name: "fedrl_learner_ingest_seconds", help: "Time to check, filter and store one received batch", registers, buckets: [0.0001, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1] });
    this.updates = counter("fedrl_learner_updates_total", "Gradient updates of the global learner");
    this.skipped = counter("fedrl_learner_updates_skipped_total", "Updates owed by learner.replayRatio that the learner could not make (replay-ratio debt)");
    this.loss = gauge("fedrl_learner_loss", "Loss of the learner's last gradient update");
    this.acceptRatio = gauge("fedrl_learner_filter_accept_ratio", "Share of received transitions the experience filter kept");
    this.version = gauge("fedrl_global_model_version", "Version of the global model");
    this.gnorm = gauge("fedrl_global_model_norm", "L2 norm of the global model's shipped weights");
    this.round = gauge("fedrl_aggregation_round", "Aggregation rounds run");
    this.weight = gauge("fedrl_aggregation_weight", "The client's share of the last aggregation round's mix (its trust weight)", A);
    this.score = gauge("fedrl_aggregation_score", "The rule's score for the client in the last round (trust: cosine similarity)", A);
    this.staleness = gauge("fedrl_aggregation_staleness", "Age of the client's upload at the last round (ms on the wall clock, env steps on the step clock)", A);
    this.leftOut = counter("fedrl_aggregation_left_out_total", "Rounds in which the client's upload was left out, by reason", ["actor", "reason"]);
    this.gateTrust = gauge("fedrl_gate_trust", "The trust gate's trust in the client (batches are refused below learner.gate.below)", A);
    this.gateRows = counter("fedrl_gate_rows_total", "Rows of the client's batches by the gate's outcome", ["actor", "reason"]);

    this.rss = gauge("fedrl_process_resident_memory_bytes", "Resident set size of this process");
    this.heap = gauge("fedrl_process_heap_used_bytes", "V8 heap in use");
    this.lagP99 = gauge("fedrl_event_loop_lag_p99_seconds", "99th percentile of the event loop delay since the last sample");
    this.lagMean = gauge("fedrl_event_loop_lag_mean_seconds", "Mean event loop delay since the last sample");
    this.loop = monitorEventLoopDelay({ resolution: 20 });
    this.loop.enable();
    this.timer = setInterval(() => void this.sample().catch(() => {}), (o.sampleSeconds ?? 1) * 1000);
    this.timer.unref();
  }

  /** The sink nodes write to (tee it with the JSONL one): episodes and aggregation rounds. */
  sink(): MetricsSink {
    return {
      write: (event, data) => {
        try {
          if (event === "episode" && typeof data.actor === "string" && typeof data.return === "number") this.episodeReturn.observe({ actor: data.actor }, data.return);
          else if (event === "aggregation") this.onRound(data);
          else if (event === "detection") this.onDetection(data);
        } catch {
          /* metrics never disturb the run */
        }
      },
    };
  }

  private onRound(d: Record<string, unknown>): void {
    const clients = (Array.isArray(d.clients) ? d.clients : []) as RoundRow["clients"];
    const row: RoundRow = {
      round: Number(d.round), t: (Date.now() - this.t0) / 1000, changed: Boolean(d.changed), reason: (d.reason as string | null) ?? null, globalNorm: Number(d.globalNorm),
      clients: clients.map((c) => ({ actor: String(c.actor), weight: Number(c.weight) || 0, used: Boolean(c.used), score: finite(c.score), reason: c.reason ?? null, staleness: Number(c.staleness) || 0 })),
    };
    this.rounds.push(row);
    if (this.rounds.length > 200) this.rounds.shift();
    this.round.set(row.round);
    if (Number.isFinite(row.globalNorm)) this.gnorm.set(row.globalNorm);
    for (const c of row.clients) {
      this.weight.set({ actor: c.actor }, c.weight);
      if (c.score !== null) this.score.set({ actor: c.actor }, c.score);
      this.staleness.set({ actor: c.actor }, c.staleness);
      if (c.reason) this.leftOut.inc({ actor: c.actor, reason: c.reason });
    }
  }

  private onDetection(d: Record<string, unknown>): void {
    const row: DetectionRow = {
      t: (Date.now() - this.t0) / 1000, round: Number(d.round) || 0, version: Number(d.version) || 0,
      f1: finite(d.f1), rocAuc: finite(d.rocAuc), fpr: finite(d.fpr), worstSiteF1: finite(d.worstSiteF1), tprAtFpr1: finite(d.tprAtFpr1),
      worstSite: typeof d.worstSite === "string" ? d.worstSite : null,
    };
    this.detection.push(row);
    if (this.detection.length > 500) this.detection.shift();
    for (const [key, name, help] of DETECTION_GAUGES) this.setDetection(name, help, d[key]);
    if (d.siteF1 && typeof d.siteF1 === "object") {
      for (const [site, f] of Object.entries(d.siteF1 as Record<string, unknown>)) {
        if (/^\d{1,4}$/.test(site)) this.setDetection("fedrl_detection_site_f1", `F1 per site ${HELD}`, f, { site });
      }
    }
    for (const [cost, key] of [["damage", "damagePer1k"], ["benign_lost", "benignLostPer1k"], ["escalations", "escalationsPer1k"]] as const) {
      this.setDetection("fedrl_detection_cost_per_1k_flows", `Operational cost per 1,000 flows ${HELD}: damage (severity-weighted, let through), benign_lost, escalations`, d[key], { cost });
    }
  }

  private setDetection(name: string, help: string, value: unknown, labels: Record<string, string> = {}): void {
    const x = finite(value);
    let g = this.detGauges.get(name);
    if (x === null) {
      g?.remove(labels); // the last probe has no value (e.g. no attack at a site): no series, not a stale one
      return;
    }
    if (!g) this.detGauges.set(name, (g = new Gauge<string>({ name, help, labelNames: Object.keys(labels), registers: [this.registry] })));
    g.set(labels, x);
  }

  /** Counts every rejection by reason and sender (the counter itself keeps the two apart). */
  instrumentRejections(counter: RejectionCounter): void {
    const count = counter.count.bind(counter);
    counter.count = (reason: string, source = "unknown") => {
      count(reason, source);
      this.rejectedC.inc({ reason, actor: source });
    };
  }

  /** Times the replay's samples (the learner's minibatches). */
  instrumentReplay<T extends ReplayStore>(store: T): T {
    const sample = store.sample.bind(store);
    const h = this.sampleSeconds;
    store.sample = (async (n: number) => {
      const end = h.startTimer();
      try {
        return await sample(n);
      } finally {
        end();
      }
    }) as T["sample"];
    this.replay = store;
    return store;
  }

  /** The topology this process runs (call before server.start(): the learner's batch handler is timed). */
  attach(t: { actors: Actor[]; server: Server | null; bus?: Bus | null }): void {
    this.localActors = t.actors;
    this.server = t.server;
    this.bus = t.bus ?? null;
    const learner = t.server?.learner;
    if (learner) {
      const onBatch = learner.onBatch;
      const h = this.ingestSeconds;
      learner.onBatch = async (actor, batch, key) => {
        const end = h.startTimer();
        try {
          return await onBatch(actor, batch, key);
        } finally {
          end();
        }
      };
      const tick = learner.tick.bind(learner);
      learner.tick = async () => {
        this.lastTick = Date.now();
        this.ticks++;
        return tick();
      };
    }
    if (t.server) this.instrumentRejections(t.server.rejected);
    this.attached = true;
  }

  /** An actor heartbeat seen on the bus (the learner process shows the actors of the run). */
  remoteActor(stats: ActorStats): void {
    if (typeof stats?.actor !== "string") return;
    if (this.localActors.some((a) => a.id === stats.actor)) return;
    this.remote.set(stats.actor, { stats, at: Date.now() });
  }

  private actorStats(): ActorStats[] {
    return [...this.localActors.map((a) => a.stats()), ...[...this.remote.values()].map((r) => r.stats)];
  }

  private bump(c: Counter<string>, labels: Record<string, string>, value: number | null | undefined): void {
    if (typeof value !== "number" || !Number.isFinite(value)) return;
    const key = `${(c as unknown as { name: string }).name}|${JSON.stringify(labels)}`;
    const d = value - (this.last.get(key) ?? 0);
    this.last.set(key, value);
    if (d > 0) c.inc(labels, d);
  }

  /** Reads every source into the registry (shared by concurrent callers). */
  refresh(): Promise<void> {
    if (!this.refreshing) this.refreshing = this.doRefresh().finally(() => { this.refreshing = null; });
    return this.refreshing;
  }

  private async doRefresh(): Promise<void> {
    for (const s of this.actorStats()) {
      const a = { actor: s.actor };
      this.bump(this.steps, a, s.steps);
      this.bump(this.episodes, a, s.episodes);
      const m = finite(s.mean100);
      if (m !== null) this.mean100.set(a, m);
      const e = finite(s.epsilon);
      if (e !== null) this.epsilon.set(a, e);
      this.actorGlobal.set(a, s.globalVersion);
      this.bump(this.batchesSent, a, s.batchesSent);
      this.bump(this.bytesSent, a, s.bytesSent);
      this.bump(this.weightsSent, a, s.weightsSent);
      const d = s.delivery;
      if (d) {
        this.bump(this.acked, a, d.acked);
        this.bump(this.refusedTx, a, d.rejected);
        this.bump(this.lost, a, d.lost);
        this.bump(this.retried, a, d.retries);
        this.pending.set(a, d.pending);
      }
    }
    const server = this.server;
    if (server) {
      this.version.set(server.global.version);
      this.round.set(server.global.round);
      if (!server.aggregation) this.gnorm.set(norm(server.global.params()));
    }
    const learner = server?.learner;
    if (learner) {
      const s = await learner.stats();
      this.latestLearner = s;
      this.bump(this.received, {}, s.received);
      this.bump(this.accepted, {}, s.accepted);
      this.bump(this.filtered, {}, s.filtered);
      this.bump(this.refused, {}, s.refused);
      this.bump(this.duplicates, {}, s.duplicates);
      this.bump(this.updates, {}, s.updates);
      this.bump(this.skipped, {}, s.updatesSkipped);
      const l = finite(s.loss);
      if (l !== null) this.loss.set(l);
      const ar = finite(s.filter.acceptRate);
      if (ar !== null) this.acceptRatio.set(ar);
      this.replaySize.set(s.replay.size);
      this.replayCapacity.set(s.replay.capacity);
      for (const [actor, g] of Object.entries(s.gate ?? {})) {
        this.gateTrust.set({ actor }, g.trust);
        for (const reason of ["accepted", "gated", "quota", "evicted"] as const) this.bump(this.gateRows, { actor, reason }, g[reason]);
      }
    }
    const mem = process.memoryUsage();
    this.rss.set(mem.rss);
    this.heap.set(mem.heapUsed);
    if (this.loop.count > 0) {
      this.lagP99.set(this.loop.percentile(99) / 1e9);
      this.lagMean.set(this.loop.mean / 1e9);
    }
  }

  /** A dashboard sample (the timer calls it every second). */
  private async sample(): Promise<void> {
    if (this.closed || !this.attached) return;
    await this.refresh();
    this.loop.reset();
    const actors: HistoryPoint["actors"] = {};
    for (const s of this.actorStats()) {
      actors[s.actor] = { mean100: finite(s.mean100), steps: s.steps, episodes: s.episodes, epsilon: finite(s.epsilon), acked: s.delivery?.acked ?? 0, lost: s.delivery?.lost ?? 0, retries: s.delivery?.retries ?? 0 };
    }
    const l = this.latestLearner;
    const server = this.server;
    this.history.push({
      t: (Date.now() - this.t0) / 1000, actors,
      learner: l ? {
        received: l.received, accepted: l.accepted, filtered: l.filtered, refused: l.refused, updates: l.updates, loss: finite(l.loss),
        acceptRate: finite(l.filter.acceptRate), replayFill: l.replay.capacity > 0 ? l.replay.size / l.replay.capacity : null,
        version: l.version, round: l.round, rejected: { ...l.rejected.byReason },
      } : server ? { received: 0, accepted: 0, filtered: 0, refused: 0, updates: 0, loss: null, acceptRate: null, replayFill: null, version: server.global.version, round: server.global.round, rejected: { ...server.rejected.snapshot().byReason } } : null,
    });
    if (this.history.length > (this.o.keep ?? 1800)) this.history.shift();
  }

  /** Prometheus text format. */
  async metrics(): Promise<string> {
    if (this.attached) await this.refresh();
    return this.registry.metrics();
  }

  /** What the dashboard page polls. */
  state(since = 0) {
    const server = this.server;
    const gate = this.latestLearner?.gate ?? null;
    const last = this.server?.aggregation?.lastRound ?? null;
    const ids = new Set<string>(this.actorStats().map((s) => s.actor));
    for (const c of last?.clients ?? []) ids.add(c.actor);
    for (const id of Object.keys(gate ?? {})) ids.add(id);
    const byActor = new Map(this.actorStats().map((s) => [s.actor, s]));
    const lastRow = this.rounds[this.rounds.length - 1];
    const verdicts = new Map((lastRow?.clients ?? []).map((c) => [c.actor, c]));
    return {
      run: this.o.run, role: this.o.role, mode: this.o.mode, env: this.o.env, started: this.t0, now: Date.now(), ready: this.attached,
      server: server ? { version: server.global.version, round: server.global.round, rule: server.aggregation?.rule ?? null, hasLearner: Boolean(server.learner) } : null,
      trust: [...ids].sort().map((actor) => {
        const s = byActor.get(actor);
        const v = verdicts.get(actor);
        const g = gate?.[actor];
        return {
          actor, steps: s?.steps ?? null, episodes: s?.episodes ?? null, mean100: finite(s?.mean100), epsilon: finite(s?.epsilon), globalVersion: s?.globalVersion ?? null,
          weight: v?.weight ?? null, score: v?.score ?? null, used: v?.used ?? null, reason: v?.reason ?? null, staleness: v?.staleness ?? null,
          gateTrust: g?.trust ?? null, rowsAccepted: g?.accepted ?? null, rowsGated: g ? g.gated + g.quota : null,
          lost: s?.delivery?.lost ?? null, retries: s?.delivery?.retries ?? null,
        };
      }),
      rounds: this.rounds.slice(-60),
      /** IoTIntrusion-v0 runs: the global model's held-out detection probes (oldest first). */
      detection: this.detection.slice(-200),
      history: this.history.filter((h) => h.t > since),
    };
  }

  /** Readiness: the topology is up, the bus answers, the replay answers, the learner ticks. */
  async ready(): Promise<ReadyCheck> {
    const checks: ReadyCheck["checks"] = { started: { ok: this.attached } };
    if (this.bus) {
      try {
        await withTimeout(this.bus.flush(), 1000);
        checks.bus = { ok: true, detail: this.bus.kind };
      } catch (e) {
        checks.bus = { ok: false, detail: `${this.bus.kind}: ${(e as Error).message}` };
      }
    }
    if (this.replay) {
      try {
        const s = await withTimeout(this.replay.stats(), 1000);
        checks.replay = { ok: true, detail: s.kind };
      } catch (e) {
        checks.replay = { ok: false, detail: (e as Error).message };
      }
    }
    if (this.server?.learner) {
      const age = this.lastTick ? (Date.now() - this.lastTick) / 1000 : null;
      checks.learner = { ok: age !== null && age < 15, detail: age === null ? "no tick yet" : `last tick ${age.toFixed(1)} s ago (${this.ticks} ticks)` };
    }
    return { ok: Object.values(checks).every((c) => c.ok), checks };
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearInterval(this.timer);
    this.loop.disable();
  }
}
