/**
 * DQN / Double DQN / Dueling DQN agent with an Acme-like surface:
 *   selectAction(obs) → observe(transition) → update()  (update() = sample local replay + learnOn(batch))
 * plus the ParameterHolder contract (flat online weights) and save/restore.
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ParamLayout } from "../../core/params";
import type { ActMode, Agent, Progress, WeightGroups } from "../../core/agent";
import { TransitionRing } from "../../core/ring";
import { EpsilonTracker, linearSchedule } from "../schedule";
import { allocBatch, type TransitionBatch } from "../../core/batch";
import { epsilonScheduleOf, parseDqnConfig, type DqnConfig, type DqnConfigInput } from "./config";
import { loadLayersParams, saveLayersModel } from "./checkpoint";
import { adamStep, clipGradNorm, computeTargets, huberLossGrad, NStepAccumulator, softUpdate, type AdamState } from "./learning";
import { Random as Rng } from "../../core/random";
import type { Transition } from "../../core/batch";
import { QNetwork, type Workspace } from "./network";
import { TfDqnEngine } from "./tf-engine";
import { TargetMode, WasmDqnEngine } from "./wasm-engine";
import * as tf from "@tensorflow/tfjs";

/** Which learning engine a config resolves to under the current tfjs backend. */
export function resolveEngine(c: DqnConfig): "js" | "tf" | "wasm" {
  if (c.engine !== "auto") return c.engine;
  let backend = "";
  try {
    backend = tf.engine().backendName ?? "";
  } catch {
    backend = ""; // no backend initialised yet → js
  }
  return !c.dueling && (backend === "wasm" || backend === "tensorflow") && Math.max(...c.hidden) >= 128 ? "tf" : "js";
}

export interface DqnAgentOptions {
  obsDim: number;
  numActions: number;
  config?: DqnConfigInput;
}

export interface LearnResult {
  loss: number;
  /** global gradient norm before clipping */
  gradNorm: number;
}

interface Buffers {
  ws: Workspace;
  wsA: Workspace;
  wsB: Workspace;
  y: Float32Array;
  dQ: Float32Array;
}

const STATE_VERSION = 1;

export class DqnAgent implements Agent {
  readonly config: DqnConfig;
  readonly obsDim: number;
  readonly numActions: number;
  readonly net: QNetwork;
  private params: Float32Array;
  private target: Float32Array;
  private readonly grads: Float32Array;
  private readonly adam: AdamState;
  private readonly replay: TransitionRing;
  private readonly nstep: NStepAccumulator;
  private readonly rng: Rng;
  private readonly eps: EpsilonTracker;
  private readonly ws1: Workspace;
  private readonly bufs = new Map<number, Buffers>();
  private sampleBatch: TransitionBatch;
  private gammaN: number;
  /** tfjs learning engine when config.engine resolves to "tf" (then params mirror its weights) */
  private readonly tfe: TfDqnEngine | null;
  /** WebAssembly kernel when config.engine resolves to "wasm" (params mirror its weights after each step) */
  private readonly wx: WasmDqnEngine | null;
  readonly engine: "js" | "tf" | "wasm";
  /** env steps observed */
  steps = 0;
  /** episodes finished */
  episodes = 0;
  /** gradient steps taken */
  updates = 0;
  private stepsSinceLearn = 0;
  /** rows per forward/backward pass of scoresBatch/scoreGradients, and their scratch (made on first use) */
  private static readonly GRAD_CHUNK = 64;
  private gradWs: Workspace | null = null;
  private gradDQ: Float32Array | null = null;

  constructor(opts: DqnAgentOptions) {
    this.config = parseDqnConfig(opts.config ?? {});
    const c = this.config;
    this.obsDim = opts.obsDim;
    this.numActions = opts.numActions;
    this.net = new QNetwork({ obsDim: opts.obsDim, numActions: opts.numActions, hidden: c.hidden, dueling: c.dueling });
    this.rng = new Rng(c.seed * 0x9e3779b1 + 1);
    this.params = this.net.init(this.rng.next);
    this.target = this.params.slice();
    this.grads = new Float32Array(this.net.size);
    this.adam = { m: new Float32Array(this.net.size), v: new Float32Array(this.net.size), t: 0 };
    this.replay = new TransitionRing(c.replayCapacity, opts.obsDim);
    this.nstep = new NStepAccumulator(c.nStep, c.gamma);
    this.eps = new EpsilonTracker(epsilonScheduleOf(c));
    this.ws1 = this.net.workspace(1);
    this.sampleBatch = allocBatch(c.batchSize, opts.obsDim);
    this.gammaN = Math.pow(c.gamma, c.nStep);
    this.engine = resolveEngine(c);
    if ((this.engine === "tf" || this.engine === "wasm") && c.dueling) throw new Error(`DQN config: engine "${this.engine}" does not support dueling; use "js"`);
    this.tfe = this.engine === "tf"
      ? new TfDqnEngine(this.net, this.params, { double: c.algorithm === "double", gammaN: this.gammaN, lr: c.lr, beta1: c.adamBeta1, beta2: c.adamBeta2, eps: c.adamEps, huberDelta: c.huberDelta, maxGradNorm: c.maxGradNorm })
      : null;
    this.wx = this.engine === "wasm"
      ? new WasmDqnEngine(this.net, this.params, { double: c.algorithm === "double", gammaN: this.gammaN, lr: c.lr, beta1: c.adamBeta1, beta2: c.adamBeta2, eps: c.adamEps, huberDelta: c.huberDelta, maxGradNorm: c.maxGradNorm, batchSize: c.batchSize })
      : null;
  }

  // ---- acting -------------------------------------------------------------------------------

  get epsilon(): number {
    return this.eps.value;
  }

  /** ε-greedy action. */
  selectAction(obs: ArrayLike<number>): number {
    if (this.rng.next() < this.eps.value) return this.rng.int(this.numActions);
    return this.greedyAction(obs);
  }

  act(obs: ArrayLike<number>, mode: ActMode): number {
    return mode === "greedy" ? this.greedyAction(obs) : this.selectAction(obs);
  }

  progress(): Progress {
    return { steps: this.steps, episodes: this.episodes, updates: this.updates, epsilon: this.eps.value };
  }

  greedyAction(obs: ArrayLike<number>): number {
    if (this.wx) return this.wx.greedyAction(obs);
    return this.net.argmax(this.params, obs, this.ws1);
  }

  /** Q(obs, ·) from the online network (copy). */
  qValues(obs: ArrayLike<number>, which: "online" | "target" = "online"): Float32Array {
    const x = Float32Array.from({ length: this.obsDim }, (_, i) => obs[i]!);
    if (which === "target" && this.wx) this.wx.getTarget(this.target);
    return this.net.forward(which === "online" ? this.params : this.target, x, 1, this.ws1).slice(0, this.numActions);
  }

  /** Q(obs, ·): the per-action preference detection scores and explanations read. */
  actionScores(obs: ArrayLike<number>): Float32Array {
    return this.qValues(obs);
  }

  /** ∂Q(obs, action)/∂obs of the online network: exact backprop to the input (integrated gradients). */
  scoreGradient(obs: ArrayLike<number>, action: number): Float32Array {
    if (obs.length !== this.obsDim) throw new Error(`scoreGradient: observation has ${obs.length} values, expected ${this.obsDim}`);
    return this.scoreGradients(Float32Array.from({ length: this.obsDim }, (_, i) => obs[i]!), 1, [action]);
  }

  /** Q(x_r, ·) of the online network for B rows of x (B × obsDim, row-major): B × numActions (copy). */
  scoresBatch(x: Float32Array, B: number): Float32Array {
    const D = this.obsDim, A = this.numActions, C = DqnAgent.GRAD_CHUNK;
    if (x.length < B * D) throw new Error(`scoresBatch: ${x.length} values for ${B} rows of ${D}`);
    const ws = (this.gradWs ??= this.net.workspace(C));
    const out = new Float32Array(B * A);
    for (let r0 = 0; r0 < B; r0 += C) {
      const n = Math.min(C, B - r0);
      out.set(this.net.forward(this.params, x.subarray(r0 * D, (r0 + n) * D), n, ws).subarray(0, n * A), r0 * A);
    }
    return out;
  }

  /** ∂Q(x_r, a_r)/∂x_r for B rows of x (B × obsDim, row-major) and their actions: B × obsDim. */
  scoreGradients(x: Float32Array, B: number, actions: ArrayLike<number>): Float32Array {
    const D = this.obsDim, A = this.numActions, C = DqnAgent.GRAD_CHUNK;
    if (x.length < B * D || actions.length < B) throw new Error(`scoreGradients: ${x.length} values and ${actions.length} actions for ${B} rows of ${D}`);
    for (let r = 0; r < B; r++) {
      const a = actions[r]!;
      if (!Number.isInteger(a) || a < 0 || a >= A) throw new RangeError(`scoreGradients: action ${a} not in [0, ${A})`);
    }
    const ws = (this.gradWs ??= this.net.workspace(C));
    const dQ = (this.gradDQ ??= new Float32Array(C * A));
    const out = new Float32Array(B * D);
    for (let r0 = 0; r0 < B; r0 += C) {
      const n = Math.min(C, B - r0);
      this.net.forward(this.params, x.subarray(r0 * D, (r0 + n) * D), n, ws);
      dQ.fill(0);
      for (let r = 0; r < n; r++) dQ[r * A + actions[r0 + r]!] = 1;
      this.net.inputGradient(this.params, n, ws, dQ, out.subarray(r0 * D, (r0 + n) * D));
    }
    return out;
  }

  /** Record one env transition: n-step accumulation → local replay; ends episodes (ε decay). */
  observe(t: Transition): void {
    for (const u of this.nstep.push(t)) this.replay.push(u.obs, u.action, u.reward, u.nextObs, u.terminated, u.truncated);
    this.steps++;
    this.stepsSinceLearn++;
    this.eps.onStep();
    if (t.terminated || t.truncated) {
      this.episodes++;
      this.eps.onEpisodeEnd();
    }
  }

  /** Insert already-formed transitions (e.g. received from elsewhere) into the local replay. */
  insert(batch: TransitionBatch): void {
    this.replay.insert(batch);
  }

  get replaySize(): number {
    return this.replay.size;
  }

  /** Learn if due (every `learnEvery` env steps once the replay holds `learningStarts` rows). */
  update(): LearnResult | null {
    const c = this.config;
    if (this.stepsSinceLearn < c.learnEvery || this.replay.size < Math.max(c.learningStarts, 1)) return null;
    this.stepsSinceLearn = 0;
    let r: LearnResult | null = null;
    for (let k = 0; k < c.gradientSteps; k++) r = this.learnOn(this.replay.sample(c.batchSize, this.rng.int, this.sampleBatch));
    return r;
  }

  // ---- learning -----------------------------------------------------------------------------

  /** One gradient step on a batch (local replay sample or one drawn from a shared replay). */
  learnOn(b: TransitionBatch, weights?: Float32Array): LearnResult {
    const c = this.config, A = this.numActions;
    if (b.obsDim !== this.obsDim) throw new Error(`learnOn: batch obsDim ${b.obsDim} != agent obsDim ${this.obsDim}`);
    if (weights) {
      if (this.engine !== "js") throw new Error(`learnOn: per-row weights need engine "js" (this agent runs "${this.engine}", whose fused step has none)`);
      if (weights.length !== b.n) throw new Error(`learnOn: ${weights.length} weights for ${b.n} rows`);
    }
    if (this.tfe) return this.learnOnTf(b);
    if (this.wx) return this.learnOnWasm(b);
    const k = this.buffers(b.n);
    // 1. TD targets y = r + γⁿ (1 − terminated) Q_target(s', a*)   (a* from the online net for Double DQN)
    computeTargets(this.net, c.algorithm === "double", this.gammaN, this.params, this.target, b, k.wsA, k.wsB, k.y);
    // 2. Q(s, ·) and the Huber loss gradient at the taken actions
    const q = this.net.forward(this.params, b.obs, b.n, k.ws);
    const loss = huberLossGrad(q, b.actions, k.y, b.n, A, c.huberDelta, k.dQ, weights);
    // 3. backprop, clip the global norm, Adam
    this.net.backward(this.params, b.obs, b.n, k.ws, k.dQ, this.grads);
    const gradNorm = clipGradNorm(this.grads, c.maxGradNorm);
    adamStep(this.params, this.grads, this.adam, this.lr, c.adamBeta1, c.adamBeta2, c.adamEps);
    // 4. target network: hard copy or Polyak average every `targetUpdateEvery` updates
    this.updates++;
    if (this.updates % c.targetUpdateEvery === 0) {
      if (c.targetUpdate === "hard") this.target.set(this.params);
      else softUpdate(this.target, this.params, c.tau);
    }
    return { loss, gradNorm };
  }

  /** The learning rate of the next gradient step: `lr`, or on its way to `lrEnd` over `lrDecayUpdates` updates. */
  get lr(): number {
    const c = this.config;
    return c.lrDecayUpdates > 0 ? linearSchedule(c.lr, c.lrEnd, c.lrDecayUpdates, this.updates) : c.lr;
  }

  /** Agent.learn: one gradient step on a batch from a shared replay (per-row loss weights: engine "js" only). */
  learn(b: TransitionBatch, weights?: Float32Array): LearnResult {
    return this.learnOn(b, weights);
  }

  /** learn() takes per-row weights on the "js" engine only (the wasm/tf steps are fused without them). */
  get rowWeights(): boolean {
    return this.engine === "js";
  }

  /** The same step in tfjs ops (tf-engine.ts), then the online weights are copied back for acting. */
  private learnOnTf(b: TransitionBatch): LearnResult {
    const c = this.config, tfe = this.tfe!;
    const [loss, gradNorm] = tfe.learnOn(b, this.lr);
    this.updates++;
    if (this.updates % c.targetUpdateEvery === 0) tfe.updateTarget(c.targetUpdate === "hard", c.tau);
    this.params.set(tfe.getParameters());
    return { loss, gradNorm };
  }

  /** The same step in one call into the WebAssembly kernel (wasm-engine.ts), target update fused in. */
  private learnOnWasm(b: TransitionBatch): LearnResult {
    const c = this.config, wx = this.wx!;
    const due = (this.updates + 1) % c.targetUpdateEvery === 0;
    const [loss, gradNorm] = wx.learnOn(b, due ? (c.targetUpdate === "hard" ? TargetMode.Hard : TargetMode.Soft) : TargetMode.None, c.tau, this.lr);
    this.updates++;
    wx.getParameters(this.params);
    return { loss, gradNorm };
  }

  /** The TD targets learnOn would regress to for this batch (copy; for tests and diagnostics). */
  tdTargets(b: TransitionBatch): Float32Array {
    if (this.tfe) this.target.set(this.tfe.getTarget());
    if (this.wx) this.wx.getTarget(this.target);
    const k = this.buffers(b.n);
    return computeTargets(this.net, this.config.algorithm === "double", this.gammaN, this.params, this.target, b, k.wsA, k.wsB, k.y).slice(0, b.n);
  }

  /** |Q(s, a) − y| per row under the current weights (the learner's data check on a client's rows). */
  tdErrors(b: TransitionBatch): Float32Array {
    const y = this.tdTargets(b);
    const q = this.net.forward(this.params, b.obs, b.n, this.buffers(b.n).ws);
    const A = this.numActions;
    const out = new Float32Array(b.n);
    for (let i = 0; i < b.n; i++) out[i] = Math.abs(q[i * A + b.actions[i]!]! - y[i]!);
    return out;
  }

  private buffers(n: number): Buffers {
    let k = this.bufs.get(n);
    if (!k) {
      if (this.bufs.size > 8) this.bufs.clear();
      k = { ws: this.net.workspace(n), wsA: this.net.workspace(n), wsB: this.net.workspace(n), y: new Float32Array(n), dQ: new Float32Array(n * this.numActions) };
      this.bufs.set(n, k);
    }
    return k;
  }

  // ---- parameters ---------------------------------------------------------------------------

  layout(): ParamLayout {
    return this.net.layout;
  }

  /** Copies of both networks: `online` (shipped) and `target` (moves with it on a merge). */
  weights(): WeightGroups {
    return { online: this.getParameters(), target: this.getTargetParameters() };
  }

  setWeights(w: WeightGroups): void {
    if (w.online) this.setParameters(w.online);
    if (w.target) this.setTargetParameters(w.target);
  }

  /** Copy of the online network's flat weights. */
  getParameters(): Float32Array {
    return this.params.slice();
  }

  /** Replace the online weights (the target network is untouched; see syncTarget). */
  setParameters(p: Float32Array): void {
    if (!(p instanceof Float32Array) || p.length !== this.net.size) throw new Error(`setParameters: expected Float32Array of ${this.net.size}, got ${p?.length}`);
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i]!)) throw new Error(`setParameters: non-finite value at ${i}`);
    this.params.set(p);
    this.tfe?.setParameters(p);
    this.wx?.setParameters(p);
  }

  getTargetParameters(): Float32Array {
    if (this.tfe) this.target.set(this.tfe.getTarget());
    if (this.wx) this.wx.getTarget(this.target);
    return this.target.slice();
  }

  /** Replace the target network's weights (merging a global model into both networks). */
  setTargetParameters(p: Float32Array): void {
    if (!(p instanceof Float32Array) || p.length !== this.net.size) throw new Error(`setTargetParameters: expected Float32Array of ${this.net.size}, got ${p?.length}`);
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i]!)) throw new Error(`setTargetParameters: non-finite value at ${i}`);
    this.target.set(p);
    this.tfe?.setTarget(p);
    this.wx?.setTarget(p);
  }

  /** θ' ← θ */
  syncTarget(): void {
    this.target.set(this.params);
    this.tfe?.setTarget(this.params);
    this.wx?.setTarget(this.params);
  }

  // ---- checkpoints --------------------------------------------------------------------------

  /**
   * Writes model.json + weights.bin (online net, tfjs layers format), target.bin, adam_m.bin,
   * adam_v.bin (raw little-endian float32) and state.json (config, counters, ε, RNG, Adam step).
   * The replay contents are not saved.
   */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    if (this.tfe) {
      this.target.set(this.tfe.getTarget());
      const a = this.tfe.getAdam();
      this.adam.m.set(a.m);
      this.adam.v.set(a.v);
      this.adam.t = a.t;
    }
    if (this.wx) {
      this.wx.getTarget(this.target);
      const a = this.wx.getAdam();
      this.adam.m.set(a.m);
      this.adam.v.set(a.v);
      this.adam.t = a.t;
    }
    await saveLayersModel(this.net, this.params, dir);
    const f32 = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
    await writeFile(join(dir, "target.bin"), f32(this.target));
    await writeFile(join(dir, "adam_m.bin"), f32(this.adam.m));
    await writeFile(join(dir, "adam_v.bin"), f32(this.adam.v));
    const state = {
      version: STATE_VERSION,
      obsDim: this.obsDim,
      numActions: this.numActions,
      layoutHash: this.net.layout.hash,
      config: this.config,
      steps: this.steps,
      episodes: this.episodes,
      updates: this.updates,
      stepsSinceLearn: this.stepsSinceLearn,
      adamStep: this.adam.t,
      epsilon: this.eps.value,
      epsilonSteps: this.eps.stepCount,
      rngState: this.rng.state,
    };
    await writeFile(join(dir, "state.json"), JSON.stringify(state, null, 2));
    await writeFile(join(dir, "config.json"), JSON.stringify(this.config, null, 2));
  }

  /** Restore everything save() wrote into this agent (same obs/action sizes and network layout). */
  async restore(dir: string): Promise<void> {
    const s = JSON.parse(await readFile(join(dir, "state.json"), "utf8"));
    if (s.version !== STATE_VERSION) throw new Error(`checkpoint ${dir}: state version ${s.version} unsupported`);
    if (s.obsDim !== this.obsDim || s.numActions !== this.numActions || s.layoutHash !== this.net.layout.hash)
      throw new Error(`checkpoint ${dir}: network (${s.obsDim}→${s.numActions}, layout ${s.layoutHash}) does not match agent (${this.obsDim}→${this.numActions}, layout ${this.net.layout.hash})`);
    const readF32 = async (name: string) => {
      const b = await readFile(join(dir, name));
      const a = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      if (a.length !== this.net.size) throw new Error(`checkpoint ${dir}: ${name} has ${a.length} floats, expected ${this.net.size}`);
      return a;
    };
    this.params.set(await loadLayersParams(this.net, dir));
    this.target.set(await readF32("target.bin"));
    this.adam.m.set(await readF32("adam_m.bin"));
    this.adam.v.set(await readF32("adam_v.bin"));
    this.adam.t = s.adamStep;
    this.steps = s.steps;
    this.episodes = s.episodes;
    this.updates = s.updates;
    this.stepsSinceLearn = s.stepsSinceLearn;
    this.eps.restore(s.epsilon, s.epsilonSteps);
    this.rng.state = s.rngState >>> 0;
    this.nstep.clear();
    if (this.tfe) {
      this.tfe.setParameters(this.params);
      this.tfe.setTarget(this.target);
      this.tfe.setAdam(this.adam);
    }
    if (this.wx) {
      this.wx.setParameters(this.params);
      this.wx.setTarget(this.target);
      this.wx.setAdam(this.adam);
    }
  }

  /**
   * The local replay's rows and the n-step accumulator's pending transitions (replay.bin +
   * replay.json), for a resume that continues bit for bit. Optional: save() alone resumes the model.
   */
  async saveReplay(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const r = this.replay.snapshot();
    const cols = [r.obs, r.nextObs, r.actions, r.rewards, r.terminated, r.truncated];
    await writeFile(join(dir, "replay.bin"), Buffer.concat(cols.map((c) => Buffer.from(c.buffer, c.byteOffset, c.byteLength))));
    const pending = this.nstep.snapshot().map((t) => ({ ...t, obs: Array.from(t.obs), nextObs: Array.from(t.nextObs) }));
    await writeFile(join(dir, "replay.json"), JSON.stringify({ cursor: r.cursor, rows: r.rows, capacity: this.replay.capacity, obsDim: this.obsDim, nstep: pending }));
  }

  /** Restores what saveReplay() wrote (no-op when the checkpoint has no replay). True if restored. */
  async restoreReplay(dir: string): Promise<boolean> {
    let meta: { cursor: number; rows: number; capacity: number; obsDim: number; nstep: (Omit<Transition, "obs" | "nextObs"> & { obs: number[]; nextObs: number[] })[] };
    try {
      meta = JSON.parse(await readFile(join(dir, "replay.json"), "utf8"));
    } catch {
      return false;
    }
    if (meta.capacity !== this.replay.capacity || meta.obsDim !== this.obsDim) throw new Error(`checkpoint ${dir}: replay ${meta.capacity}×${meta.obsDim} does not match the agent's ${this.replay.capacity}×${this.obsDim}`);
    const b = await readFile(join(dir, "replay.bin"));
    const { rows } = meta;
    const d = this.obsDim;
    let off = b.byteOffset;
    const take = <T extends ArrayBufferView>(C: { new (buf: ArrayBuffer, o: number, n: number): T; BYTES_PER_ELEMENT: number }, n: number): T => {
      const bytes = b.buffer.slice(off, off + n * C.BYTES_PER_ELEMENT);
      off += n * C.BYTES_PER_ELEMENT;
      return new C(bytes, 0, n);
    };
    this.replay.restore({
      cursor: meta.cursor, rows, obs: take(Float32Array, rows * d), nextObs: take(Float32Array, rows * d), actions: take(Int32Array, rows),
      rewards: take(Float32Array, rows), terminated: take(Uint8Array, rows), truncated: take(Uint8Array, rows),
    });
    this.nstep.restore(meta.nstep.map((t) => ({ ...t, obs: Float32Array.from(t.obs), nextObs: Float32Array.from(t.nextObs) })));
    return true;
  }

  /** A new agent from a checkpoint directory (config from state.json). */
  static async load(dir: string): Promise<DqnAgent> {
    const s = JSON.parse(await readFile(join(dir, "state.json"), "utf8"));
    const agent = new DqnAgent({ obsDim: s.obsDim, numActions: s.numActions, config: s.config });
    await agent.restore(dir);
    return agent;
  }

  /** Releases buffers and the tf engine's variables. */
  dispose(): void {
    this.tfe?.dispose();
    this.bufs.clear();
    this.gradWs = this.gradDQ = null;
    this.replay.clear();
  }
}
