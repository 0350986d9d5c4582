/**
 * The global learner of the hybrid method, with its trust-aware aggregator.
 *
 *   transitions ─ decode+validate ─ diversity filter ─▶ replay (Redis or memory)
 *   tick (0.5 s):    updatesPerTick × learnOn(replay.sample(batch))
 *   aggregate (30 s): θ ← α·θ + (1−α)·Σ w_k θ_k, w_k ∝ max(0, cos(θ, θ_k))
 *   publish:         global model → subject + last-value store (late joiners start from it)
 *
 * Bus, replay, agent and clock are injected (the runtime wires NATS/Redis or the in-process
 * versions). Timers run in this process's event loop; each update and each aggregation is one
 * synchronous step, so an aggregation never sees an update half-applied.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { Bus, Subscription } from "../runtime/bus";
import type { Clock, Timer } from "../runtime/clock";
import { DEFAULT_LIMITS, decodeTransitions, decodeWeights, encodeGlobal, type CodecLimits } from "../runtime/codec";
import type { Experiment } from "../runtime/config";
import { CodecError, RejectionCounter } from "../runtime/errors";
import type { MetricsSink } from "../runtime/metrics";
import type { ReplayStore } from "../runtime/replay/types";
import { TRANSITION_REPLY as REPLY, type Subjects } from "../runtime/subjects";
import type { RuntimeAgent } from "../runtime/agent-port";
import { DiversityFilter } from "./diversity";
import { TrustAggregator, type AggregationResult } from "./aggregation";
import { blendInto, layoutSize } from "./params";
import { filterBatch } from "./transitions";

export interface GlobalLearnerDeps {
  exp: Experiment;
  bus: Bus;
  subjects: Subjects;
  replay: ReplayStore;
  agent: RuntimeAgent;
  clock: Clock;
  metrics: MetricsSink;
  obsDim: number;
  actionCount: number;
  batchSize: number;
  /** Where checkpoints go (model + counters); resume reads it. */
  checkpointDir?: string;
  log?: (line: string) => void;
}

interface Counters {
  version: number;
  round: number;
  updates: number;
  received: number;
  accepted: number;
  filtered: number;
  /** Batches received again after they were stored (a retry whose first ack was lost): acked, not re-inserted. */
  duplicates: number;
}

const MAX_INFLIGHT = 8;
const ACK = new Uint8Array([REPLY.ACK]);
const REJECTED = new Uint8Array([REPLY.REJECTED]);
const RETRY = new Uint8Array([REPLY.RETRY]);
/** Batches remembered per actor to recognise a retried batch whose first ack was lost. */
const SEEN_PER_ACTOR = 256;
const lastTail = (subject: string) => subject.slice(subject.lastIndexOf(".") + 1);

export class GlobalLearner {
  readonly filter: DiversityFilter;
  readonly aggregator: TrustAggregator;
  readonly rejected = new RejectionCounter();
  readonly counters: Counters = { version: 0, round: 0, updates: 0, received: 0, accepted: 0, filtered: 0, duplicates: 0 };
  lastLoss = NaN;
  /** replayRatio bookkeeping: update credit, accepted count already credited, credit dropped at the cap. */
  private credit = 0;
  private creditedUpTo = 0;
  updatesSkipped = 0;
  /** Global-model messages published and their bytes. */
  published = 0;
  publishedBytes = 0;
  /** Time spent decoding + filtering transition batches (not waiting for the replay). */
  ingestMs = 0;
  receivedBytes = 0;
  lastAggregation: AggregationResult | null = null;
  private subs: Subscription[] = [];
  private timers: Timer[] = [];
  private readonly inflight = new Set<Promise<void>>();
  private readonly log: (line: string) => void;
  private readonly limits: CodecLimits;
  /** Per actor, the last SEEN_PER_ACTOR stored batches as "seq:ts" (ts tells incarnations apart). */
  private readonly seen = new Map<string, { keys: Set<string>; order: string[] }>();

  constructor(private readonly d: GlobalLearnerDeps) {
    this.log = d.log ?? (() => {});
    this.limits = { ...DEFAULT_LIMITS, maxBytes: d.exp.learner.maxMessageBytes };
    const f = d.exp.learner.filter;
    this.filter = new DiversityFilter(d.obsDim, { ...f, replayCapacity: d.exp.learner.replay.capacity }, d.exp.seed + 17);
    const a = d.exp.aggregator;
    this.aggregator = new TrustAggregator(d.agent.layout().hash, layoutSize(d.agent.layout().entries), {
      alpha: a.alpha, weighting: a.weighting, staleAfter: d.clock.units(a.staleAfter),
    });
  }

  /** Resumes from a checkpoint if one exists, seeds the filter from the replay, subscribes, starts timers. */
  async start(): Promise<void> {
    const { bus, subjects, clock, exp, replay } = this.d;
    await this.resume();
    if ((await replay.size()) > 0) this.filter.seed(await replay.sample(Math.min(exp.learner.filter.reservoir, 4096)));
    // A batch sent as a request is acknowledged once it is in the replay (or rejected), so a
    // producer can keep a bounded window in flight: backpressure instead of drops.
    // Decode and filter run in arrival order; up to MAX_INFLIGHT replay inserts overlap.
    this.subs.push(bus.subscribe(subjects.allTransitions, async (m) => {
      while (this.inflight.size >= MAX_INFLIGHT) await Promise.race(this.inflight);
      const p: Promise<void> = this.onTransitions(lastTail(m.subject), m.data).then(
        (ok) => m.respond?.(ok ? ACK : REJECTED),
        (e) => {
          // The replay is unavailable: the batch was valid, so the sender keeps it and retries.
          this.log(`replay insert failed: ${(e as Error)?.message ?? e}`);
          this.rejected.count("replay_error", lastTail(m.subject));
          m.respond?.(RETRY);
        },
      ).finally(() => this.inflight.delete(p));
      this.inflight.add(p);
    }, { maxPending: 1000 }));
    this.subs.push(bus.subscribe(subjects.allWeights, (m) => this.onWeights(lastTail(m.subject), m.data), { maxPending: 1000 }));
    this.timers.push(clock.every(exp.learner.tick, () => this.tick(), "learner.tick"));
    this.timers.push(clock.every(exp.aggregator.interval, async () => {
      // On the step clock, uploads due at this same step are still in the bus: deliver them first.
      if (clock.kind === "steps") await bus.flush();
      this.aggregate();
    }, "learner.aggregate"));
    this.timers.push(clock.every(exp.learner.publish, () => this.publish(), "learner.publish"));
    if (this.d.checkpointDir) this.timers.push(clock.every(exp.learner.checkpoint, () => this.checkpoint(), "learner.checkpoint"));
    await this.publish();
  }

  /** Decode, validate, filter, insert. Rejections are counted by reason and by actor. False when rejected. */
  async onTransitions(actor: string, data: Uint8Array): Promise<boolean> {
    const t0 = performance.now();
    this.receivedBytes += data.length;
    let msg;
    try {
      msg = decodeTransitions(data, { obsDim: this.d.obsDim, actionCount: this.d.actionCount }, this.limits);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.rejected.count(e.reason, actor);
      return false;
    }
    if (msg.actor !== actor) {
      this.rejected.count("bad_id", actor);
      return false;
    }
    const c = this.counters;
    const key = `${msg.seq}:${msg.ts}`;
    let seen = this.seen.get(actor);
    if (!seen) this.seen.set(actor, (seen = { keys: new Set(), order: [] }));
    if (seen.keys.has(key)) {
      c.duplicates++;
      return true;
    }
    c.received += msg.batch.n;
    const keep = this.filter.filter(msg.batch);
    const kept = filterBatch(msg.batch, keep);
    c.filtered += msg.batch.n - kept.n;
    this.ingestMs += performance.now() - t0;
    if (kept.n > 0) {
      await this.d.replay.insert(kept);
      c.accepted += kept.n;
    }
    seen.keys.add(key);
    seen.order.push(key);
    if (seen.order.length > SEEN_PER_ACTOR) seen.keys.delete(seen.order.shift()!);
    return true;
  }

  /** Resolves when every replay insert under way has finished. */
  async drain(): Promise<void> {
    while (this.inflight.size > 0) await Promise.all(this.inflight);
  }

  onWeights(actor: string, data: Uint8Array): void {
    let w;
    try {
      w = decodeWeights(data, this.d.agent.layout(), this.limits);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      this.rejected.count(e.reason, actor);
      return;
    }
    if (w.actor !== actor) {
      this.rejected.count("bad_id", actor);
      return;
    }
    const r = this.aggregator.offer({ actor, params: w.params, samples: w.samples, receivedAt: this.d.clock.now(), layoutHash: w.layout.hash });
    if (!r.ok) this.rejected.count(r.reason, actor);
  }

  /**
   * Gradient steps on batches sampled from the replay (after warm-up): `updatesPerTick`, or with
   * `replayRatio` > 0 one per 1/replayRatio accepted transitions, at most `updatesPerTick`.
   */
  async tick(): Promise<void> {
    const { exp, replay, agent } = this.d;
    await this.drain();
    const { replayRatio, updatesPerTick } = exp.learner;
    let n = updatesPerTick;
    if (replayRatio > 0) {
      this.credit += (this.counters.accepted - this.creditedUpTo) * replayRatio;
      this.creditedUpTo = this.counters.accepted;
      n = Math.min(updatesPerTick, Math.floor(this.credit));
      this.credit -= n;
      if (this.credit >= 1) {
        this.updatesSkipped += Math.floor(this.credit); // the learner cannot keep the ratio: say so, don't queue it
        this.credit -= Math.floor(this.credit);
      }
    }
    if ((await replay.size()) < Math.max(exp.learner.warmup, this.d.batchSize)) return;
    for (let i = 0; i < n; i++) {
      const batch = await replay.sample(this.d.batchSize);
      this.lastLoss = agent.learnOn(batch).loss;
      this.counters.updates++;
    }
    if (n > 0) this.counters.version++;
  }

  /** One trust-aware aggregation round. */
  aggregate(): AggregationResult {
    const { agent, metrics } = this.d;
    const r = this.aggregator.aggregate(agent.getParameters(), this.d.clock.now());
    this.counters.round++;
    if (r.changed) {
      agent.setParameters(r.params);
      if (this.d.exp.aggregator.mergeTarget && r.mix) {
        agent.setTargetParameters(blendInto(agent.getTargetParameters(), r.mix, 1 - this.d.exp.aggregator.alpha));
      }
      this.counters.version++;
    } else this.log(`aggregation round ${this.counters.round}: global model unchanged (${r.reason})`);
    this.lastAggregation = r;
    metrics.write("aggregation", {
      round: this.counters.round, changed: r.changed, reason: r.reason ?? null, deltaNorm: r.deltaNorm, version: this.counters.version,
      clients: r.clients.map((c) => ({ actor: c.actor, similarity: c.similarity, weight: c.weight, staleness: c.staleness, used: c.used })),
    });
    return r;
  }

  async publish(): Promise<void> {
    const { agent, bus, subjects } = this.d;
    const bytes = encodeGlobal({ version: this.counters.version, round: this.counters.round, ts: Date.now(), layout: agent.layout(), params: agent.getParameters() });
    bus.publish(subjects.global, bytes);
    await (await bus.lastValues(subjects.bucket)).put("global", bytes);
    this.published++;
    this.publishedBytes += bytes.length;
    const stats = await this.stats();
    this.d.metrics.write("learner", stats);
  }

  async stats() {
    return {
      ...this.counters, updatesSkipped: this.updatesSkipped, loss: this.lastLoss, published: this.published, publishedBytes: this.publishedBytes,
      ingestMs: this.ingestMs, receivedBytes: this.receivedBytes, rssMB: process.memoryUsage().rss / 2 ** 20, replay: await this.d.replay.stats(), filter: this.filter.stats(),
      rejected: this.rejected.snapshot(), dropped: this.subs.reduce((s, x) => s + x.dropped, 0),
    };
  }

  async checkpoint(): Promise<void> {
    const dir = this.d.checkpointDir;
    if (!dir) return;
    await mkdir(dir, { recursive: true });
    await this.d.agent.save(join(dir, "model"));
    await writeFile(join(dir, "learner.json"), JSON.stringify(this.counters));
  }

  private async resume(): Promise<void> {
    const dir = this.d.checkpointDir;
    if (!dir) return;
    let saved: Counters;
    try {
      saved = JSON.parse(await readFile(join(dir, "learner.json"), "utf8")) as Counters;
    } catch {
      return; // no checkpoint yet
    }
    await this.d.agent.restore(join(dir, "model"));
    Object.assign(this.counters, saved);
    this.creditedUpTo = this.counters.accepted;
    this.log(`resumed from ${dir}: version ${saved.version}, round ${saved.round}, ${saved.updates} updates`);
  }

  /** Stops timers and subscriptions, checkpoints, publishes the final model. */
  async stop(): Promise<void> {
    for (const t of this.timers) t.cancel();
    for (const s of this.subs) await s.unsubscribe();
    await this.drain();
    await this.checkpoint();
    await this.publish().catch(() => {});
  }
}
