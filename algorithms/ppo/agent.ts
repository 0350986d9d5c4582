/**
 * PPO (clipped surrogate, GAE(λ), discrete actions) behind the Agent port, CleanRL style:
 *   act(obs, "explore") samples a ~ π(·|s) and remembers log π(a|s) and V(s);
 *   observe(t) appends the step to the rollout;
 *   update() runs the PPO update once the rollout holds `rolloutSteps` steps, then starts a new one.
 * One shipped weight group, "policy": the policy and the value tower, flat (network.ts).
 */
import { mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { ActMode, Agent, Progress, WeightGroups } from "../../core/agent";
import type { Transition } from "../../core/batch";
import type { ParamLayout } from "../../core/params";
import { Random } from "../../core/random";
import { adamStep, clipGradNorm, type AdamState } from "../dqn/learning";
import { saveActorCritic } from "./checkpoint";
import { loadLayersParams } from "../dqn/checkpoint";
import { parsePpoConfig, type PpoConfig, type PpoConfigInput } from "./config";
import { allocMinibatch, gae, logSoftmax, normalize, ppoLoss, type Minibatch } from "./learning";
import { ActorCritic, type ActorCriticWorkspace } from "./network";
import { Rollout, type RolloutSnapshot } from "./rollout";

export interface PpoAgentOptions {
  obsDim: number;
  numActions: number;
  config?: PpoConfigInput;
}

/** What one PPO update did (means over its minibatches). */
export interface PpoUpdateResult {
  /** policy loss + vfCoef · value loss − entCoef · entropy */
  loss: number;
  policyLoss: number;
  valueLoss: number;
  entropy: number;
  /** mean of (ρ − 1) − log ρ (CleanRL's approx_kl) */
  approxKl: number;
  /** share of rows whose ratio was outside [1 − ε, 1 + ε] */
  clipFraction: number;
  /** global gradient norm before clipping */
  gradNorm: number;
  /** epochs run (fewer than `epochs` when targetKl stopped them) */
  epochs: number;
  lr: number;
}

/** An action taken in explore mode, waiting for its observe(). */
interface Pending {
  obs: Float32Array;
  action: number;
  logp: number;
  value: number;
}

/** Acted-but-not-observed actions kept; beyond this the oldest are dropped (explore-mode acting without observe). */
const MAX_PENDING = 1024;
const STATE_VERSION = 1;

export class PpoAgent implements Agent {
  readonly config: PpoConfig;
  readonly obsDim: number;
  readonly numActions: number;
  readonly net: ActorCritic;
  private readonly params: Float32Array;
  /** float64 gradient of a minibatch, and its float32 copy for clipping and Adam */
  private readonly grad64: Float64Array;
  private readonly grad32: Float32Array;
  private readonly adam: AdamState;
  private readonly rng: Random;
  private readonly rollout: Rollout;
  private pending: Pending[] = [];
  private readonly ws1: ActorCriticWorkspace;
  private readonly wsMb: ActorCriticWorkspace;
  private readonly mb: Minibatch;
  private readonly x1: Float32Array;
  private readonly lp1: Float64Array;
  /** env steps observed */
  steps = 0;
  /** episodes finished */
  episodes = 0;
  /** gradient steps taken */
  updates = 0;
  /** PPO updates (full rollouts learned from) */
  rollouts = 0;

  constructor(opts: PpoAgentOptions) {
    this.config = parsePpoConfig(opts.config ?? {});
    const c = this.config;
    this.obsDim = opts.obsDim;
    this.numActions = opts.numActions;
    this.net = new ActorCritic({ obsDim: opts.obsDim, numActions: opts.numActions, hidden: c.hidden, activation: c.activation });
    this.rng = new Random(c.seed * 0x9e3779b1 + 7);
    this.params = this.net.init(this.rng.next);
    this.grad64 = new Float64Array(this.net.size);
    this.grad32 = new Float32Array(this.net.size);
    this.adam = { m: new Float32Array(this.net.size), v: new Float32Array(this.net.size), t: 0 };
    this.rollout = new Rollout(c.rolloutSteps, opts.obsDim);
    this.ws1 = this.net.workspace(1);
    this.wsMb = this.net.workspace(c.minibatchSize);
    this.mb = allocMinibatch(c.minibatchSize, opts.obsDim, opts.numActions);
    this.x1 = new Float32Array(opts.obsDim);
    this.lp1 = new Float64Array(opts.numActions);
  }

  // ---- acting -------------------------------------------------------------------------------

  /** log π(·|obs) into lp1 (obs copied into x1 as float32, the precision the rollout keeps). */
  private logProbs(obs: ArrayLike<number>): Float64Array {
    for (let i = 0; i < this.obsDim; i++) this.x1[i] = obs[i]!;
    logSoftmax(this.net.logits(this.params, this.x1, 1, this.ws1), 0, this.numActions, this.lp1);
    return this.lp1;
  }

  /** explore: a ~ π(·|obs), remembering log π(a|obs) and V(obs) for observe(); greedy: argmax π. */
  act(obs: ArrayLike<number>, mode: ActMode): number {
    const lp = this.logProbs(obs);
    const A = this.numActions;
    if (mode === "greedy") {
      let best = 0;
      for (let j = 1; j < A; j++) if (lp[j]! > lp[best]!) best = j;
      return best;
    }
    const u = this.rng.next();
    let a = A - 1, cum = 0;
    for (let j = 0; j < A; j++) {
      cum += Math.exp(lp[j]!);
      if (u < cum) {
        a = j;
        break;
      }
    }
    const value = this.net.values(this.params, this.x1, 1, this.ws1)[0]!;
    this.pending.push({ obs: this.x1.slice(), action: a, logp: lp[a]!, value });
    if (this.pending.length > MAX_PENDING) this.pending.shift();
    return a;
  }

  /**
   * Appends one env step to the rollout with the log-probability and value of when its action was
   * taken (the matching explore-mode act(); an action chosen elsewhere is scored now).
   */
  observe(t: Transition): void {
    const A = this.numActions;
    if (!(Number.isInteger(t.action) && t.action >= 0 && t.action < A)) throw new Error(`observe: action ${t.action} out of range [0, ${A})`);
    for (let i = 0; i < this.obsDim; i++) this.x1[i] = t.obs[i]!;
    const k = this.pending.findIndex((p) => p.action === t.action && p.obs.every((v, i) => v === this.x1[i]));
    let logp: number, value: number;
    if (k >= 0) {
      ({ logp, value } = this.pending[k]!);
      this.pending.splice(0, k + 1); // older ones were never observed
    } else {
      logp = this.logProbs(this.x1)[t.action]!;
      value = this.net.values(this.params, this.x1, 1, this.ws1)[0]!;
    }
    this.rollout.push(t, this.x1, logp, value);
    this.steps++;
    if (t.terminated || t.truncated) this.episodes++;
  }

  progress(): Progress {
    return { steps: this.steps, episodes: this.episodes, updates: this.updates };
  }

  /** log π(·|obs): the per-action preference detection scores and explanations read. */
  actionScores(obs: ArrayLike<number>): Float32Array {
    return Float32Array.from(this.logProbs(obs));
  }

  /** ∂ log π(action|obs) / ∂obs, backpropagated exactly through the policy tower. */
  scoreGradient(obs: ArrayLike<number>, action: number): Float32Array {
    const A = this.numActions;
    if (!(Number.isInteger(action) && action >= 0 && action < A)) throw new Error(`scoreGradient: action ${action} out of range [0, ${A})`);
    const lp = this.logProbs(obs);
    const dz = new Float64Array(A);
    for (let j = 0; j < A; j++) dz[j] = (j === action ? 1 : 0) - Math.exp(lp[j]!); // ∂ log softmax_a / ∂z_j
    return Float32Array.from(this.net.logitsInputGradient(this.params, this.x1, 1, this.ws1, dz, this.grad64).subarray(0, this.obsDim));
  }

  // ---- learning -----------------------------------------------------------------------------

  /** The PPO update when the rollout is full (then a new rollout starts), else null. */
  update(): PpoUpdateResult | null {
    if (!this.rollout.full) return null;
    const r = this.ppoUpdate();
    this.rollout.clear();
    return r;
  }

  private ppoUpdate(): PpoUpdateResult {
    const c = this.config, R = this.rollout, n = R.n, d = this.obsDim;
    // 1. learning rate: constant, or annealed linearly to 0 over lrDecaySteps env steps
    const lr = c.lrDecaySteps > 0 ? c.lr * Math.max(0, 1 - (this.steps - n) / c.lrDecaySteps) : c.lr;
    // 2. V(s') for rows no later row continues (episode ends, rollout end); terminated rows never use it
    const nextValue = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      if (R.next[i]! >= 0 || R.terminated[i]) continue;
      nextValue[i] = this.net.values(this.params, R.nextObs.subarray(i * d, i * d + d), 1, this.ws1)[0]!;
    }
    // 3. advantages and returns: GAE(λ)
    const adv = new Float64Array(n), ret = new Float64Array(n);
    gae(n, R.rewards, R.values, R.terminated, R.next, nextValue, c.gamma, c.gaeLambda, adv, ret);
    // 4. epochs of shuffled minibatches: loss and gradient (learning.ts ppoLoss), clip the global norm, Adam
    const M = c.minibatchSize, mb = this.mb;
    const idx = Int32Array.from({ length: n }, (_, i) => i);
    const sum = { loss: 0, pg: 0, v: 0, ent: 0, kl: 0, clipped: 0, gradNorm: 0, rows: 0, batches: 0 };
    let epochs = 0;
    for (let epoch = 0; epoch < c.epochs; epoch++) {
      for (let i = n - 1; i > 0; i--) {
        const j = this.rng.int(i + 1);
        const t = idx[i]!;
        idx[i] = idx[j]!;
        idx[j] = t;
      }
      let epochKl = 0, epochRows = 0;
      for (let start = 0; start < n; start += M) {
        const B = (mb.n = Math.min(M, n - start));
        for (let b = 0; b < B; b++) {
          const i = idx[start + b]!;
          mb.obs.set(R.obs.subarray(i * d, i * d + d), b * d);
          mb.actions[b] = R.actions[i]!;
          mb.oldLogp[b] = R.logp[i]!;
          mb.adv[b] = adv[i]!;
          mb.oldValues[b] = R.values[i]!;
          mb.returns[b] = ret[i]!;
        }
        if (c.normalizeAdvantages) normalize(mb.adv, B);
        const st = ppoLoss(this.net, this.params, mb, c, this.wsMb, this.grad64);
        for (let k = 0; k < this.net.size; k++) this.grad32[k] = this.grad64[k]!;
        sum.gradNorm += clipGradNorm(this.grad32, c.maxGradNorm);
        adamStep(this.params, this.grad32, this.adam, lr, c.adamBeta1, c.adamBeta2, c.adamEps);
        this.updates++;
        sum.loss += st.loss;
        sum.pg += st.policyLoss;
        sum.v += st.valueLoss;
        sum.ent += st.entropy;
        sum.clipped += st.clipped;
        sum.batches++;
        epochKl += st.klSum;
        epochRows += B;
      }
      sum.kl += epochKl;
      sum.rows += epochRows;
      epochs++;
      if (c.targetKl > 0 && epochKl / epochRows > c.targetKl) break;
    }
    this.rollouts++;
    return {
      loss: sum.loss / sum.batches, policyLoss: sum.pg / sum.batches, valueLoss: sum.v / sum.batches, entropy: sum.ent / sum.batches,
      approxKl: sum.kl / sum.rows, clipFraction: sum.clipped / sum.rows, gradNorm: sum.gradNorm / sum.batches, epochs, lr,
    };
  }

  /** Rows in the current rollout. */
  get rolloutSize(): number {
    return this.rollout.n;
  }

  /** A copy of the current rollout (for tests and diagnostics). */
  rolloutSnapshot(): RolloutSnapshot {
    return this.rollout.snapshot();
  }

  // ---- parameters ---------------------------------------------------------------------------

  layout(): ParamLayout {
    return this.net.layout;
  }

  /** The one group, `policy`: policy and value towers, flat. */
  weights(): WeightGroups {
    return { policy: this.getParameters() };
  }

  setWeights(w: WeightGroups): void {
    if (w.policy) this.setParameters(w.policy);
  }

  getParameters(): Float32Array {
    return this.params.slice();
  }

  /**
   * Replaces the weights (a federated merge). The rollout keeps the log-probabilities and values of
   * the policy that acted: the importance ratio of the next update is against that behaviour policy.
   */
  setParameters(p: Float32Array): void {
    if (!(p instanceof Float32Array) || p.length !== this.net.size) throw new Error(`setParameters: expected Float32Array of ${this.net.size}, got ${p?.length}`);
    for (let i = 0; i < p.length; i++) if (!Number.isFinite(p[i]!)) throw new Error(`setParameters: non-finite value at ${i}`);
    this.params.set(p);
  }

  // ---- checkpoints --------------------------------------------------------------------------

  /**
   * Writes model.json + weights.bin (tfjs layers model obs → [logits, value]), adam_m.bin,
   * adam_v.bin (raw little-endian float32) and state.json (config, counters, Adam step, RNG). The
   * rollout in progress is saveReplay()'s.
   */
  async save(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    await saveActorCritic(this.net, this.params, dir);
    const f32 = (a: Float32Array) => new Uint8Array(a.buffer.slice(a.byteOffset, a.byteOffset + a.byteLength));
    await writeFile(join(dir, "adam_m.bin"), f32(this.adam.m));
    await writeFile(join(dir, "adam_v.bin"), f32(this.adam.v));
    const state = {
      version: STATE_VERSION,
      algorithm: "ppo",
      obsDim: this.obsDim,
      numActions: this.numActions,
      layoutHash: this.net.layout.hash,
      config: this.config,
      steps: this.steps,
      episodes: this.episodes,
      updates: this.updates,
      rollouts: this.rollouts,
      adamStep: this.adam.t,
      rngState: this.rng.state,
    };
    await writeFile(join(dir, "state.json"), JSON.stringify(state, null, 2));
    await writeFile(join(dir, "config.json"), JSON.stringify(this.config, null, 2));
  }

  /** Restores what save() wrote (same sizes and layout); the rollout is emptied (restoreReplay refills it). */
  async restore(dir: string): Promise<void> {
    const s = JSON.parse(await readFile(join(dir, "state.json"), "utf8"));
    if (s.version !== STATE_VERSION || s.algorithm !== "ppo") throw new Error(`checkpoint ${dir}: not a PPO checkpoint of version ${STATE_VERSION} (algorithm ${s.algorithm}, version ${s.version})`);
    if (s.obsDim !== this.obsDim || s.numActions !== this.numActions || s.layoutHash !== this.net.layout.hash)
      throw new Error(`checkpoint ${dir}: network (${s.obsDim}→${s.numActions}, layout ${s.layoutHash}) does not match agent (${this.obsDim}→${this.numActions}, layout ${this.net.layout.hash})`);
    for (const k of ["steps", "episodes", "updates", "rollouts", "adamStep", "rngState"]) if (!(Number.isInteger(s[k]) && s[k] >= 0)) throw new Error(`checkpoint ${dir}: state.json ${k} is ${s[k]}, expected a non-negative integer`);
    const readF32 = async (name: string) => {
      const b = await readFile(join(dir, name));
      const a = new Float32Array(b.buffer.slice(b.byteOffset, b.byteOffset + b.byteLength));
      if (a.length !== this.net.size) throw new Error(`checkpoint ${dir}: ${name} has ${a.length} floats, expected ${this.net.size}`);
      return a;
    };
    this.setParameters(await loadLayersParams(this.net, dir));
    this.adam.m.set(await readF32("adam_m.bin"));
    this.adam.v.set(await readF32("adam_v.bin"));
    this.adam.t = s.adamStep;
    this.steps = s.steps;
    this.episodes = s.episodes;
    this.updates = s.updates;
    this.rollouts = s.rollouts;
    this.rng.state = s.rngState >>> 0;
    this.rollout.clear();
    this.pending = [];
  }

  /** The rollout in progress and the acted-but-unobserved actions (rollout.json): a resume then continues bit for bit. */
  async saveReplay(dir: string): Promise<void> {
    await mkdir(dir, { recursive: true });
    const pending = this.pending.map((p) => ({ ...p, obs: Array.from(p.obs) }));
    await writeFile(join(dir, "rollout.json"), JSON.stringify({ capacity: this.rollout.capacity, obsDim: this.obsDim, rollout: this.rollout.snapshot(), pending }));
  }

  /** Restores what saveReplay() wrote; false when the checkpoint has none. */
  async restoreReplay(dir: string): Promise<boolean> {
    let text: string;
    try {
      text = await readFile(join(dir, "rollout.json"), "utf8");
    } catch {
      return false;
    }
    const s = JSON.parse(text) as { capacity: number; obsDim: number; rollout: RolloutSnapshot; pending: (Omit<Pending, "obs"> & { obs: number[] })[] };
    if (s.capacity !== this.rollout.capacity || s.obsDim !== this.obsDim) throw new Error(`checkpoint ${dir}: rollout ${s.capacity}×${s.obsDim} does not match the agent's ${this.rollout.capacity}×${this.obsDim}`);
    this.rollout.restore(s.rollout);
    if (!Array.isArray(s.pending) || !s.pending.every((p) => Array.isArray(p.obs) && p.obs.length === this.obsDim && Number.isInteger(p.action) && p.action >= 0 && p.action < this.numActions))
      throw new Error(`checkpoint ${dir}: rollout.json pending actions malformed`);
    this.pending = s.pending.map((p) => ({ action: p.action, logp: p.logp, value: p.value, obs: Float32Array.from(p.obs) }));
    return true;
  }

  /** A new agent from a checkpoint directory (config from state.json). */
  static async load(dir: string): Promise<PpoAgent> {
    const s = JSON.parse(await readFile(join(dir, "state.json"), "utf8"));
    const agent = new PpoAgent({ obsDim: s.obsDim, numActions: s.numActions, config: s.config });
    await agent.restore(dir);
    return agent;
  }

  dispose(): void {
    this.rollout.clear();
    this.pending = [];
  }
}
