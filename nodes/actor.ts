/**
 * An actor: steps its environments and learns locally. With links (the federated recipes) it also
 * ships transition batches, uploads its shipped weights on a timer and merges the global model it
 * receives. It sees only the Agent port, the links and the clock: no codec, subjects or NATS.
 */
import type { Agent } from "../core/agent";
import { allocBatch, concatBatches, sliceBatch, type Transition, type TransitionBatch } from "../core/batch";
import type { Clock, Period, Timer } from "../core/clock";
import type { Downlink, GlobalModel, Uplink } from "../core/links";
import type { MetricsSink } from "../core/metrics";
import { blendInto } from "../core/params";
import { norm } from "../core/vec";
import type { VectorEnv } from "../envs/vector";
import { NStepAccumulator } from "../algorithms/dqn/learning";

/** How an actor takes part in federation (absent: it learns alone). */
export interface ActorFederation {
  uplink: Uplink;
  downlink: Downlink;
  /** Ship transition batches to the learner (hybrid). */
  shipTransitions: boolean;
  /** Upload the shipped weights this often. */
  weightsEvery: Period;
  /** A received global model enters as θ ← β·θ_global + (1−β)·θ (β = 1: replace). */
  beta: number;
  /** β as a function of this actor's env steps (a schedule, e.g. adopt more as the global model gets better); overrides `beta`. */
  betaAt?: (steps: number) => number;
  /**
   * Ship n-step rows (s_t, a_t, Σ_{k<n} γᵏ r_{t+k}, s_{t+n}) built per env copy, instead of 1-step
   * rows: the global learner can then learn n-step returns (its agent keeps nStep, bootstrapping
   * with γⁿ). Absent: 1-step rows.
   */
  nStep?: { n: number; gamma: number };
  /** The group uploaded and received, then the groups the same merge moves. */
  shipped: string;
  followers: readonly string[];
}

export interface ActorConfig {
  /** Ship a batch every `batchSteps` steps per env copy, or every `batchMs` of wall time (Infinity: steps only). */
  batchSteps: number;
  batchMs: number;
  /**
   * Back-pressure: with this many shipped batches not yet acknowledged (acked delivery), the actor
   * stops stepping until acknowledgements bring it below again, so no budget is spent on experience
   * that cannot be stored (a learner whose replay is down answers RETRY). Default
   * DEFAULT_MAX_PENDING_BATCHES; keep it at most actors.maxQueuedBatches, or the outbox drops first.
   */
  maxPendingBatches?: number;
}

/** Unacknowledged batches at which an actor pauses stepping (not a config key yet; see ActorConfig). */
export const DEFAULT_MAX_PENDING_BATCHES = 32;

export interface ActorDeps {
  id: string;
  agent: Agent;
  envs: VectorEnv;
  clock: Clock;
  metrics: MetricsSink;
  config: ActorConfig;
  federation?: ActorFederation;
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
  /** n-step rows shipped (federation.nStep): this copy's accumulator, null for 1-step rows. */
  nstep: NStepAccumulator | null;
}

export class Actor {
  steps = 0;
  episodes = 0;
  /** Returns of finished episodes, in order. */
  readonly returns: number[] = [];
  globalVersion = 0;
  globalsApplied = 0;
  private slots: EnvSlot[] = [];
  private lastFlush = Date.now();
  private timers: Timer[] = [];
  private obs: Float32Array;
  private readonly actions: Int32Array;
  private readonly log: (line: string) => void;
  private readonly ship: boolean;
  /** Back-pressure: paused now, how often, for how long in total (ms). */
  private paused = false;
  private pausedAt = 0;
  private pauses = 0;
  private pausedMs = 0;
  private recheck = true;

  constructor(private readonly d: ActorDeps) {
    this.log = d.log ?? (() => {});
    this.ship = d.federation?.shipTransitions ?? false;
    this.obs = d.envs.reset({ seed: d.seed }).obs;
    this.actions = new Int32Array(d.envs.numEnvs);
    const cap = this.ship ? d.config.batchSteps : 0;
    const ns = this.ship ? d.federation?.nStep : undefined;
    if (ns && !(Number.isInteger(ns.n) && ns.n >= 1 && ns.gamma >= 0 && ns.gamma <= 1)) throw new Error(`${d.id}: n-step shipping needs an integer n ≥ 1 and 0 ≤ γ ≤ 1, got ${JSON.stringify(ns)}`);
    for (let i = 0; i < d.envs.numEnvs; i++) this.slots.push({ ret: 0, len: 0, pending: allocBatch(cap, d.envs.observationSize), count: 0, nstep: ns && ns.n > 1 ? new NStepAccumulator(ns.n, ns.gamma) : null });
  }

  /** Counts continue from a restored checkpoint (budgets count from there, not from this process's start). */
  resumeAt(steps: number, episodes: number): void {
    this.steps = steps;
    this.episodes = episodes;
    this.obs = this.d.envs.reset({ seed: this.d.seed + episodes }).obs; // new episodes, not the first ones again
    for (const s of this.slots) s.nstep?.clear();
  }

  /**
   * Everything this actor holds between steps, for a bit-for-bit resume: counters, returns, the
   * running episodes, the current observations and the envs' own state (physics, RNG). Envs whose
   * state is not plain data (a physics world with cycles, e.g. LunarLander) are left out (envs: null):
   * restoreState() then starts new episodes, as resumeAt() does.
   */
  checkpointState(): ActorState {
    let envs: unknown = null;
    try {
      envs = captureGraph(this.d.envs, new Set(), 0);
    } catch {
      envs = null;
    }
    return {
      steps: this.steps, episodes: this.episodes, returns: this.returns.slice(), globalVersion: this.globalVersion, globalsApplied: this.globalsApplied,
      slots: this.slots.map((s) => ({
        ret: s.ret, len: s.len, ...(s.count > 0 ? { pending: encodeRows(sliceBatch(s.pending, 0, s.count)) } : {}),
        ...(s.nstep && s.nstep.pending > 0 ? { nstep: nstepState(s.nstep.snapshot(), this.d.envs.observationSize) } : {}),
      })), obs: encodeValue(this.obs), envs,
    };
  }

  /** Continues from checkpointState() (the agent restored separately). */
  restoreState(s: ActorState): void {
    this.returns.length = 0;
    this.returns.push(...s.returns);
    this.globalVersion = s.globalVersion;
    this.globalsApplied = s.globalsApplied;
    if (s.envs === null || s.slots.length !== this.slots.length) {
      this.resumeAt(s.steps, s.episodes);
      return;
    }
    this.steps = s.steps;
    this.episodes = s.episodes;
    restoreGraph(this.d.envs, s.envs);
    s.slots.forEach((x, i) => {
      const slot = this.slots[i]!;
      slot.ret = x.ret;
      slot.len = x.len;
      slot.count = 0;
      // n-step shipping (actors.shipNStep): the running episode's last < n steps, not yet a shipped row.
      slot.nstep?.clear();
      if (x.nstep && slot.nstep) slot.nstep.restore(transitionsOf(x.nstep));
      // Transitions recorded but not shipped yet (hybrid): shipped with the rest of their batch.
      if (x.pending) {
        const rows = decodeRows(x.pending);
        if (rows.n > slot.pending.n) throw new Error(`${this.id}: checkpoint holds ${rows.n} unshipped rows, more than a batch (${slot.pending.n})`);
        slot.pending.obs.set(rows.obs);
        slot.pending.nextObs.set(rows.nextObs);
        slot.pending.actions.set(rows.actions);
        slot.pending.rewards.set(rows.rewards);
        slot.pending.terminated.set(rows.terminated);
        slot.pending.truncated.set(rows.truncated);
        slot.count = rows.n;
      }
    });
    this.obs = decodeValue(s.obs, this.obs) as Float32Array;
  }

  get id(): string {
    return this.d.id;
  }

  /** Subscribes to the global model (the current one first) and starts the upload timer. */
  async start(): Promise<void> {
    const f = this.d.federation;
    if (!f) return;
    await f.downlink.subscribe((g) => this.onGlobal(g));
    this.timers.push(this.d.clock.every(f.weightsEvery, () => this.publishWeights(), `${this.id}.weights`));
  }

  /**
   * True while the uplink has maxPendingBatches (or more) batches unacknowledged: stepMany then does
   * nothing until acknowledgements flow again. Never true without acked delivery.
   */
  get backpressured(): boolean {
    if (!this.ship) return false;
    const pending = this.d.federation!.uplink.stats().delivery?.pending ?? 0;
    const paused = pending >= (this.d.config.maxPendingBatches ?? DEFAULT_MAX_PENDING_BATCHES);
    if (paused !== this.paused) {
      this.paused = paused;
      if (paused) {
        this.pauses++;
        this.pausedAt = Date.now();
        this.log(`${this.id}: ${pending} batches unacknowledged; stepping paused until the learner acknowledges again`);
      } else {
        this.pausedMs += Date.now() - this.pausedAt;
        this.log(`${this.id}: acknowledgements flow again; stepping resumed after ${((Date.now() - this.pausedAt) / 1000).toFixed(1)} s`);
      }
    }
    return paused;
  }

  /**
   * Steps every env `n` times (n·numEnvs transitions), fewer (down to none) while back-pressured.
   * Returns the steps taken per env. Synchronous: call from a loop that yields.
   */
  stepMany(n: number): number {
    const { agent, metrics, envs } = this.d;
    const E = envs.numEnvs;
    let t = 0;
    // The pending count changes only by a flush in here (acknowledgements arrive between calls).
    this.recheck = true;
    for (; t < n; t++) {
      if (this.ship && this.recheck) {
        this.recheck = false;
        if (this.backpressured) break;
      }
      for (let i = 0; i < E; i++) this.actions[i] = agent.act(envs.row(this.obs, i), "explore");
      const r = envs.step(this.actions);
      for (let i = 0; i < E; i++) {
        const s = this.slots[i]!;
        const obs = envs.row(this.obs, i);
        const nextObs = r.finalObs[i] ?? envs.row(r.obs, i);
        const terminated = r.terminated[i] === 1, truncated = r.truncated[i] === 1, reward = r.rewards[i]!;
        agent.observe({ obs, action: this.actions[i]!, reward, nextObs, terminated, truncated });
        agent.update();
        if (this.ship) this.record(s, obs, this.actions[i]!, reward, nextObs, terminated, truncated);
        s.ret += reward;
        s.len++;
        this.steps++;
        if (terminated || truncated) {
          this.episodes++;
          this.returns.push(s.ret);
          metrics.write("episode", { actor: this.id, episode: this.episodes, return: s.ret, length: s.len, epsilon: agent.progress().epsilon ?? null, steps: this.steps, globalVersion: this.globalVersion });
          s.ret = 0;
          s.len = 0;
        }
      }
      this.obs = r.obs;
    }
    if (this.ship && !this.backpressured) {
      const due = this.slots.some((s) => s.count >= this.d.config.batchSteps) || Date.now() - this.lastFlush >= this.d.config.batchMs;
      if (due) this.flushTransitions();
    }
    return t;
  }

  private record(s: EnvSlot, obs: Float32Array, action: number, reward: number, nextObs: Float32Array, terminated: boolean, truncated: boolean): void {
    if (s.nstep) {
      for (const u of s.nstep.push({ obs, action, reward, nextObs, terminated, truncated })) this.recordRow(s, u.obs as Float32Array, u.action, u.reward, u.nextObs as Float32Array, u.terminated, u.truncated);
      return;
    }
    this.recordRow(s, obs, action, reward, nextObs, terminated, truncated);
  }

  private recordRow(s: EnvSlot, obs: Float32Array, action: number, reward: number, nextObs: Float32Array, terminated: boolean, truncated: boolean): void {
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

  /** Ships pending transitions as one batch (per-env runs kept contiguous). */
  flushTransitions(): void {
    this.lastFlush = Date.now();
    this.recheck = true;
    const parts = this.slots.filter((s) => s.count > 0).map((s) => sliceBatch(s.pending, 0, s.count));
    for (const s of this.slots) s.count = 0;
    if (parts.length === 0 || !this.d.federation) return;
    this.d.federation.uplink.sendTransitions(parts.length === 1 ? parts[0]! : concatBatches(parts, parts[0]!.obsDim));
  }

  publishWeights(): void {
    const f = this.d.federation;
    if (!f) return;
    const { agent } = this.d;
    f.uplink.sendWeights({ version: this.globalVersion, samples: this.steps, layout: agent.layout(), params: agent.weights()[f.shipped]! });
  }

  /**
   * Merges a (validated) global model: replace, or blend with β. Older versions are ignored; so is
   * a model implausibly larger than the actor's own (‖θ_global‖ > 10·max(‖θ‖, 1): finite values
   * like 1e30 would still poison it), counted as "implausible_global".
   */
  onGlobal(g: GlobalModel): void {
    const f = this.d.federation;
    if (!f || g.version <= this.globalVersion) return;
    const { agent, metrics } = this.d;
    if (!(norm(g.params) <= 10 * Math.max(norm(agent.weights()[f.shipped]!), 1))) {
      f.downlink.rejected.count("implausible_global", "global");
      this.log(`${this.id}: refused global model v${g.version}: its norm is implausible`);
      return;
    }
    // θ ← β·θ_global + (1−β)·θ for the shipped group, and the same merge for its followers (the
    // target network: otherwise TD targets come from a network the online one no longer resembles).
    const w = agent.weights();
    const moved: Record<string, Float32Array> = {};
    const beta = f.betaAt ? f.betaAt(this.steps) : f.beta;
    for (const name of [f.shipped, ...f.followers]) if (w[name]) moved[name] = blendInto(w[name]!, g.params, beta);
    agent.setWeights(moved);
    this.globalVersion = g.version;
    this.globalsApplied++;
    metrics.write("global_applied", { actor: this.id, version: g.version, round: g.round, rule: beta === 1 ? "replace" : "blend", beta, steps: this.steps });
  }

  meanReturn(window = 100): number {
    const r = this.returns.slice(-window);
    return r.length ? r.reduce((a, b) => a + b, 0) / r.length : NaN;
  }

  stats() {
    const up = this.d.federation?.uplink.stats();
    return {
      actor: this.id, steps: this.steps, episodes: this.episodes, mean100: this.meanReturn(100), epsilon: this.d.agent.progress().epsilon ?? null,
      globalVersion: this.globalVersion, globalsApplied: this.globalsApplied, batchesSent: up?.batchesSent ?? 0,
      weightsSent: up?.weightsSent ?? 0, bytesSent: up?.bytesSent ?? 0, rejected: this.d.federation?.downlink.rejected.snapshot() ?? null,
      delivery: up?.delivery ?? null,
      backpressure: { paused: this.paused, pauses: this.pauses, pausedMs: this.pausedMs + (this.paused ? Date.now() - this.pausedAt : 0) },
    };
  }

  /** Ships what is pending, stops timers and the global-model subscription, waits for acknowledgements. */
  async stop(drainMs = 10_000): Promise<void> {
    // A full outbox would drop its oldest batch for this last one: wait for room first (bounded).
    for (const until = Date.now() + drainMs; this.ship && this.backpressured && Date.now() < until;) await new Promise((r) => setTimeout(r, 50));
    if (this.ship) this.flushTransitions();
    for (const t of this.timers) t.cancel();
    const f = this.d.federation;
    if (!f) return;
    await f.downlink.close();
    const left = await f.uplink.drain(drainMs);
    if (left > 0) this.log(`${this.id}: ${left} transitions not acknowledged after ${drainMs} ms; counted as lost`);
    await f.uplink.close();
  }
}

export interface ActorState {
  steps: number;
  episodes: number;
  returns: number[];
  globalVersion: number;
  globalsApplied: number;
  /** Per env copy: the running episode, and the rows recorded but not shipped yet (hybrid). */
  slots: { ret: number; len: number; pending?: EncodedRows; nstep?: NStepState }[];
  obs: unknown;
  /** The envs' object graph as plain data, or null when it is not plain data. */
  envs: unknown;
}

type EncodedRows = { n: number; obsDim: number; cols: Record<"obs" | "nextObs" | "actions" | "rewards" | "terminated" | "truncated", Encoded> };

function encodeRows(b: TransitionBatch): EncodedRows {
  return { n: b.n, obsDim: b.obsDim, cols: { obs: encodeValue(b.obs), nextObs: encodeValue(b.nextObs), actions: encodeValue(b.actions), rewards: encodeValue(b.rewards), terminated: encodeValue(b.terminated), truncated: encodeValue(b.truncated) } };
}

/** The n-step accumulator's pending steps: rows, with the rewards kept as float64 (their n-step sum is taken later). */
type NStepState = { rows: EncodedRows; rewards: Encoded };

function nstepState(ts: readonly Transition[], obsDim: number): NStepState {
  const b = allocBatch(ts.length, obsDim);
  ts.forEach((t, j) => {
    b.obs.set(t.obs, j * obsDim);
    b.nextObs.set(t.nextObs, j * obsDim);
    b.actions[j] = t.action;
    b.terminated[j] = t.terminated ? 1 : 0;
    b.truncated[j] = t.truncated ? 1 : 0;
  });
  return { rows: encodeRows(b), rewards: encodeValue(Float64Array.from(ts, (t) => t.reward)) };
}

function transitionsOf(e: NStepState): Transition[] {
  const b = decodeRows(e.rows), r = decodeValue(e.rewards) as Float64Array, d = b.obsDim;
  return Array.from({ length: b.n }, (_, j) => ({
    obs: b.obs.slice(j * d, (j + 1) * d), nextObs: b.nextObs.slice(j * d, (j + 1) * d), action: b.actions[j]!,
    reward: r[j]!, terminated: b.terminated[j] === 1, truncated: b.truncated[j] === 1,
  }));
}

function decodeRows(e: EncodedRows): TransitionBatch {
  const c = e.cols;
  return {
    n: e.n, obsDim: e.obsDim, obs: decodeValue(c.obs) as Float32Array, nextObs: decodeValue(c.nextObs) as Float32Array, actions: decodeValue(c.actions) as Int32Array,
    rewards: decodeValue(c.rewards) as Float32Array, terminated: decodeValue(c.terminated) as Uint8Array, truncated: decodeValue(c.truncated) as Uint8Array,
  };
}

// ---- object graphs as exact JSON (numbers bit for bit, typed arrays as bytes, bigints as text) ----

type Encoded = { n: number | string } | { b: string } | { t: string; d: string } | { a: Encoded[] } | { o: Record<string, Encoded> } | { s: string } | { u: 0 } | { z: boolean | null };

function encodeNumber(x: number): number | string {
  return Number.isFinite(x) && !Object.is(x, -0) ? x : String(Object.is(x, -0) ? "-0" : x);
}

function encodeValue(v: unknown): Encoded {
  if (typeof v === "number") return { n: encodeNumber(v) };
  if (typeof v === "bigint") return { b: v.toString() };
  if (typeof v === "string") return { s: v };
  if (typeof v === "boolean" || v === null) return { z: v };
  if (v === undefined) return { u: 0 };
  if (ArrayBuffer.isView(v)) {
    const u = new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
    return { t: v.constructor.name, d: Buffer.from(u).toString("base64") };
  }
  throw new Error("not plain data");
}

function captureGraph(v: unknown, seen: Set<object>, depth: number): Encoded {
  if (typeof v !== "object" || v === null || ArrayBuffer.isView(v)) return encodeValue(v);
  if (seen.has(v) || depth > 12) throw new Error("not plain data (cycle or too deep)");
  seen.add(v);
  if (Array.isArray(v)) return { a: v.map((x) => captureGraph(x, seen, depth + 1)) };
  if (v instanceof Map || v instanceof Set || v instanceof WeakMap || v instanceof Promise) throw new Error("not plain data");
  const o: Record<string, Encoded> = {};
  for (const [k, x] of Object.entries(v)) if (typeof x !== "function") o[k] = captureGraph(x, seen, depth + 1);
  return { o };
}

const TYPED: Record<string, new (b: ArrayBuffer) => ArrayBufferView> = { Float32Array, Float64Array, Int32Array, Uint32Array, Uint8Array, Int8Array, Uint16Array, Int16Array, BigUint64Array, BigInt64Array, Uint8ClampedArray };

function decodeValue(e: unknown, into?: unknown): unknown {
  const x = e as Record<string, unknown>;
  if ("n" in x) return typeof x.n === "string" ? (x.n === "-0" ? -0 : Number(x.n)) : x.n;
  if ("b" in x) return BigInt(x.b as string);
  if ("s" in x) return x.s;
  if ("z" in x) return x.z;
  if ("u" in x) return undefined;
  if ("t" in x) {
    const bytes = Buffer.from(x.d as string, "base64");
    if (ArrayBuffer.isView(into) && into.constructor.name === x.t && into.byteLength === bytes.length) {
      new Uint8Array(into.buffer, into.byteOffset, into.byteLength).set(bytes);
      return into;
    }
    const ab = bytes.buffer.slice(bytes.byteOffset, bytes.byteOffset + bytes.byteLength);
    return new TYPED[x.t as string]!(ab);
  }
  throw new Error("not a value");
}

/** Writes a captured graph back into the same-shaped live objects (class instances keep their prototypes). */
function restoreGraph(target: unknown, e: unknown): unknown {
  const x = e as Record<string, unknown>;
  if ("a" in x) {
    const list = x.a as Encoded[];
    const arr = Array.isArray(target) ? target : [];
    if (Object.isFrozen(arr)) {
      list.forEach((v, i) => restoreGraph(arr[i], v));
      return arr;
    }
    arr.length = list.length;
    list.forEach((v, i) => (arr[i] = restoreGraph(arr[i], v)));
    return arr;
  }
  if ("o" in x) {
    const obj = (typeof target === "object" && target !== null ? target : {}) as Record<string, unknown>;
    for (const [k, v] of Object.entries(x.o as Record<string, Encoded>)) obj[k] = restoreGraph(obj[k], v);
    return obj;
  }
  return decodeValue(e, target);
}
