/**
 * An actor: steps its environments, learns locally (its own DQN and local replay), and — unless
 * the mode is `local` — ships transition batches (hybrid), uploads its weights, and merges the
 * global model it receives. Transport and clock are injected; this file knows no NATS or Redis.
 */
import type { Bus, Subscription } from "../runtime/bus";
import type { Clock, Timer } from "../runtime/clock";
import { encodeTransitions, encodeWeights, decodeGlobal } from "../runtime/codec";
import type { Experiment } from "../runtime/config";
import { CodecError, RejectionCounter } from "../runtime/errors";
import type { MetricsSink } from "../runtime/metrics";
import type { Subjects } from "../runtime/subjects";
import type { RuntimeAgent } from "../runtime/agent-port";
import { VectorEnv } from "../envs/vector";
import { Outbox } from "./outbox";
import { blendInto } from "../learners/params";
import { allocBatch, concatBatches, sliceBatch, type TransitionBatch } from "../learners/transitions";

export interface ActorDeps {
  id: string;
  exp: Experiment;
  /** null in `local` mode: no communication at all. */
  bus: Bus | null;
  subjects: Subjects;
  clock: Clock;
  agent: RuntimeAgent;
  envs: VectorEnv;
  metrics: MetricsSink;
  log?: (line: string) => void;
  /** Seed of the first episode of env copy 0 (copy i gets seed + i; later episodes continue each copy's generator). */
  seed: number;
}

/** Per env copy: the running episode and the transitions not shipped yet (kept contiguous per copy). */
interface EnvSlot {
  ret: number;
  len: number;
  pending: TransitionBatch;
  count: number;
}

export class Actor {
  steps = 0;
  episodes = 0;
  /** Returns of finished episodes, in order. */
  readonly returns: number[] = [];
  globalVersion = 0;
  globalsApplied = 0;
  batchesSent = 0;
  bytesSent = 0;
  weightsSent = 0;
  readonly rejected = new RejectionCounter();
  private slots: EnvSlot[] = [];
  private seq = 0;
  private lastFlush = Date.now();
  private timers: Timer[] = [];
  private subs: Subscription[] = [];
  private watch: { stop(): void } | null = null;
  private obs: Float32Array;
  /** Acknowledged delivery of transition batches (actors.delivery = ack). */
  readonly outbox: Outbox | null;
  private readonly actions: Int32Array;
  private readonly log: (line: string) => void;

  constructor(private readonly d: ActorDeps) {
    this.log = d.log ?? (() => {});
    const a = d.exp.actors;
    this.outbox = d.bus && d.exp.mode === "hybrid" && a.delivery === "ack"
      ? new Outbox(d.bus, { window: a.window, maxQueued: a.maxQueuedBatches, timeoutMs: a.ackTimeoutMs, log: (l) => this.log(`${d.id}: ${l}`) })
      : null;
    const cap = d.exp.actors.batchSteps;
    this.obs = d.envs.reset({ seed: d.seed }).obs;
    this.actions = new Int32Array(d.envs.numEnvs);
    for (let i = 0; i < d.envs.numEnvs; i++) this.slots.push({ ret: 0, len: 0, pending: allocBatch(cap, d.envs.observationSize), count: 0 });
  }

  get id(): string {
    return this.d.id;
  }
  private get mode() {
    return this.d.exp.mode;
  }

  /** Subscribes to the global model (and reads the current one) and starts the upload timer. */
  async start(): Promise<void> {
    const { bus, subjects, exp, clock } = this.d;
    if (!bus || this.mode === "local") return;
    this.subs.push(bus.subscribe(subjects.global, (m) => this.onGlobal(m.data), { maxPending: 4 }));
    const lv = await bus.lastValues(subjects.bucket);
    this.watch = await lv.watch("global", (data) => this.onGlobal(data));
    const period = this.mode === "fedavg" ? exp.fedavg.round : exp.actors.weights;
    this.timers.push(clock.every(period, () => this.publishWeights(), `${this.id}.weights`));
  }

  /** Steps every env `n` times (n·numEnvs transitions). Synchronous: call from a loop that yields. */
  stepMany(n: number): void {
    const { agent, exp, metrics, envs } = this.d;
    const E = envs.numEnvs;
    for (let t = 0; t < n; t++) {
      for (let i = 0; i < E; i++) this.actions[i] = agent.selectAction(envs.row(this.obs, i));
      const r = envs.step(this.actions);
      for (let i = 0; i < E; i++) {
        const s = this.slots[i]!;
        const obs = envs.row(this.obs, i);
        const nextObs = r.finalObs[i] ?? envs.row(r.obs, i);
        const terminated = r.terminated[i] === 1, truncated = r.truncated[i] === 1, reward = r.rewards[i]!;
        agent.observe({ obs, action: this.actions[i]!, reward, nextObs, terminated, truncated });
        agent.update();
        if (this.mode === "hybrid") this.record(s, obs, this.actions[i]!, reward, nextObs, terminated, truncated);
        s.ret += reward;
        s.len++;
        this.steps++;
        if (terminated || truncated) {
          this.episodes++;
          this.returns.push(s.ret);
          metrics.write("episode", { actor: this.id, episode: this.episodes, return: s.ret, length: s.len, epsilon: agent.epsilon, steps: this.steps, globalVersion: this.globalVersion });
          s.ret = 0;
          s.len = 0;
        }
      }
      this.obs = r.obs;
    }
    if (this.mode === "hybrid") {
      const due = this.slots.some((s) => s.count >= exp.actors.batchSteps) || Date.now() - this.lastFlush >= exp.actors.batchMs;
      if (due) this.flushTransitions();
    }
  }

  private record(s: EnvSlot, obs: Float32Array, action: number, reward: number, nextObs: Float32Array, terminated: boolean, truncated: boolean): void {
    if (s.count >= s.pending.n) this.flushTransitions();
    const d = this.d.envs.observationSize;
    const j = s.count++;
    s.pending.obs.set(obs, j * d);
    s.pending.nextObs.set(nextObs, j * d);
    s.pending.actions[j] = action;
    s.pending.rewards[j] = reward;
    s.pending.terminated[j] = terminated ? 1 : 0;
    s.pending.truncated[j] = truncated ? 1 : 0;
  }

  /** Publishes pending transitions as one compressed batch (per-env runs kept contiguous). */
  flushTransitions(): void {
    this.lastFlush = Date.now();
    const parts = this.slots.filter((s) => s.count > 0).map((s) => sliceBatch(s.pending, 0, s.count));
    for (const s of this.slots) s.count = 0;
    if (parts.length === 0 || !this.d.bus) return;
    const batch = parts.length === 1 ? parts[0]! : concatBatches(parts, parts[0]!.obsDim);
    const bytes = encodeTransitions({ actor: this.id, env: this.d.exp.env.id, seq: this.seq++, ts: Date.now(), batch });
    if (this.outbox) this.outbox.send(this.d.subjects.transitions(this.id), bytes, batch.n);
    else this.d.bus.publish(this.d.subjects.transitions(this.id), bytes);
    this.batchesSent++;
    this.bytesSent += bytes.length;
  }

  publishWeights(): void {
    const { agent, bus, subjects } = this.d;
    if (!bus) return;
    const bytes = encodeWeights({ actor: this.id, version: this.globalVersion, samples: this.steps, ts: Date.now(), layout: agent.layout(), params: agent.getParameters() });
    bus.publish(subjects.weights(this.id), bytes);
    this.weightsSent++;
    this.bytesSent += bytes.length;
  }

  /** Validates and merges a global model: replace, or blend with β. Older versions are ignored. */
  onGlobal(data: Uint8Array): void {
    const { agent, exp, metrics } = this.d;
    let g;
    try {
      g = decodeGlobal(data, agent.layout());
    } catch (e) {
      if (e instanceof CodecError) {
        this.rejected.count(e.reason, "global");
        this.log(`${this.id}: rejected global model: ${e.message}`);
        return;
      }
      throw e;
    }
    if (g.version <= this.globalVersion) return;
    // FedAvg is defined by clients adopting the average; blending is a hybrid-mode option.
    const b = this.mode === "fedavg" || exp.actors.merge === "replace" ? 1 : exp.actors.blendBeta;
    // θ ← β·θ_global + (1−β)·θ (β = 1: replace); getParameters returns a copy, blended in place.
    agent.setParameters(blendInto(agent.getParameters(), g.params, b));
    // The same merge for the target network: otherwise the TD targets come from a network the
    // online one no longer resembles (measured on LunarLander: see bench/results/convergence-*).
    if (exp.actors.mergeTarget) agent.setTargetParameters(blendInto(agent.getTargetParameters(), g.params, b));
    this.globalVersion = g.version;
    this.globalsApplied++;
    metrics.write("global_applied", { actor: this.id, version: g.version, round: g.round, rule: b === 1 ? "replace" : "blend", steps: this.steps });
  }

  meanReturn(window = 100): number {
    const r = this.returns.slice(-window);
    return r.length ? r.reduce((a, b) => a + b, 0) / r.length : NaN;
  }

  stats() {
    return {
      actor: this.id, steps: this.steps, episodes: this.episodes, mean100: this.meanReturn(100), epsilon: this.d.agent.epsilon,
      globalVersion: this.globalVersion, globalsApplied: this.globalsApplied, batchesSent: this.batchesSent,
      weightsSent: this.weightsSent, bytesSent: this.bytesSent, rejected: this.rejected.snapshot(),
      delivery: this.outbox ? { acked: this.outbox.acked, rejected: this.outbox.rejected, lost: this.outbox.lost, retries: this.outbox.retries, pending: this.outbox.pending } : null,
    };
  }

  /** Ships what is pending, stops timers and subscriptions. */
  async stop(drainMs = 10_000): Promise<void> {
    if (this.mode === "hybrid") this.flushTransitions();
    for (const t of this.timers) t.cancel();
    this.watch?.stop();
    for (const s of this.subs) await s.unsubscribe();
    await this.d.bus?.flush();
    if (this.outbox) {
      const left = await this.outbox.drain(drainMs);
      if (left > 0) this.log(`${this.id}: ${left} transitions not acknowledged after ${drainMs} ms; counted as lost`);
      this.outbox.close();
    }
  }
}
