/**
 * Attributions of a policy's per-action scores (Agent.actionScores: Q-values for DQN) to its
 * observation fields: integrated gradients with a measured completeness error, permutation importance,
 * and per-group summaries. Used by `fedrl explain` (launch/explain.ts) and `fedrl serve`'s /explain.
 *
 * Integrated gradients (Sundararajan et al. 2017) of the score f = Q(·, a) of the chosen action a,
 * from a baseline b to x:  IGᵢ = (xᵢ − bᵢ) ∫₀¹ ∂f/∂xᵢ(b + α(x − b)) dα.  Completeness says
 * Σᵢ IGᵢ = f(x) − f(b) exactly; the integral here is the trapezoid rule on a grid of α refined until
 * |Σ IG − (f(x) − f(b))| is within `tolerance` of |f(x) − f(b)| (integratedGradients). A ReLU network
 * is piecewise linear along the path, so its gradient is piecewise constant: the trapezoid is exact on
 * every interval that crosses no kink, and its error on one that does is at most half the interval's
 * share of the gradient jump. The error reached is reported with every attribution, never assumed.
 */
import type { Agent } from "../core/agent";
import { Random } from "../core/random";

/** What attributions need of a policy: batched per-action scores and their input gradients. */
export interface ScoreModel {
  readonly obsDim: number;
  readonly actionCount: number;
  /** scores of B rows of x (B × obsDim, row-major): B × actionCount */
  scores(x: Float32Array, B: number): Float32Array;
  /** ∂ score[a_r] / ∂ x_r for B rows: B × obsDim */
  gradients(x: Float32Array, B: number, actions: ArrayLike<number>): Float32Array;
}

/** Batched methods an agent may offer (DqnAgent does); otherwise rows go one by one through the Agent port. */
interface Batched {
  scoresBatch(x: Float32Array, B: number): Float32Array;
  scoreGradients(x: Float32Array, B: number, actions: ArrayLike<number>): Float32Array;
}

/** The agent as a ScoreModel; throws when its algorithm exposes no scores or gradients. */
export function scoreModelOf(agent: Agent, space: { obsDim: number; actionCount: number }): ScoreModel {
  if (!agent.actionScores || !agent.scoreGradient) throw new Error("this agent's algorithm exposes no per-action scores and gradients (Agent.actionScores / scoreGradient); explanations need both");
  const { obsDim: D, actionCount: A } = space;
  const b = agent as Agent & Partial<Batched>;
  if (typeof b.scoresBatch === "function" && typeof b.scoreGradients === "function") {
    return { obsDim: D, actionCount: A, scores: (x, B) => b.scoresBatch!(x, B), gradients: (x, B, a) => b.scoreGradients!(x, B, a) };
  }
  return {
    obsDim: D, actionCount: A,
    scores(x, B) {
      const out = new Float32Array(B * A);
      for (let r = 0; r < B; r++) out.set(agent.actionScores!(x.subarray(r * D, (r + 1) * D)).subarray(0, A), r * A);
      return out;
    },
    gradients(x, B, actions) {
      const out = new Float32Array(B * D);
      for (let r = 0; r < B; r++) out.set(agent.scoreGradient!(x.subarray(r * D, (r + 1) * D), actions[r]!), r * D);
      return out;
    },
  };
}

/** argmax per row of a B × A score matrix (first of ties, as the agents' greedy action). */
export function argmaxRows(scores: Float32Array, B: number, A: number): Int32Array {
  const out = new Int32Array(B);
  for (let r = 0; r < B; r++) {
    let best = 0;
    for (let j = 1; j < A; j++) if (scores[r * A + j]! > scores[r * A + best]!) best = j;
    out[r] = best;
  }
  return out;
}

export interface IgOptions {
  /** first number of equal trapezoid steps (default 32) */
  steps?: number;
  /** most gradient evaluations per explained row (default 4096); the error reached there is reported as is */
  maxSteps?: number;
  /** stop once |Σ IG − Δ| ≤ tolerance·|Δ| (default 0.002: well inside the 1 % completeness promise) */
  tolerance?: number;
  /** … or ≤ this absolute error, for Δ ≈ 0 where a relative bound is meaningless (default 1e-6) */
  absTolerance?: number;
}

export interface IgResult {
  action: number;
  /** IG per observation field (Σ ≈ score − baselineScore) */
  attributions: Float64Array;
  /** f(x) = score of `action` at x */
  score: number;
  /** f(b) = score of `action` at the baseline */
  baselineScore: number;
  /** trapezoid intervals of the final grid (gradient evaluations − 1) */
  steps: number;
  /** |Σ IG − (f(x) − f(b))| */
  completenessError: number;
  /** completenessError / |f(x) − f(b)| (0 when both are 0) */
  relativeError: number;
}

/** Narrowest interval bisected (α is float32 on the way into the net: 2⁻²⁰ is well above its resolution). */
const MIN_WIDTH = 2 ** -20;

const sameGradient = (g: Float32Array, i: number, j: number, D: number) => {
  for (let k = 0; k < D; k++) if (g[i * D + k] !== g[j * D + k]) return false;
  return true;
};

/**
 * Integrated gradients of score[action] at x against `baseline`, by the trapezoid rule on an adaptive
 * grid of α: it starts with `steps` equal intervals and, until completeness holds, bisects every
 * interval whose two end gradients differ. On a ReLU network the gradient is a function of the
 * activation pattern only, identical bit for bit across a linear region, and a region is convex: an
 * interval whose ends have the same gradient lies in one region (up to patterns that share a gradient)
 * and its trapezoid is exact. So only the intervals holding a kink are refined, each bisection halves
 * their error, and a few hundred gradients reach what 4096 equal steps do not. On a smooth model every
 * interval differs and this is the classic doubling of equal steps.
 */
export function integratedGradients(model: ScoreModel, x: ArrayLike<number>, baseline: ArrayLike<number>, action: number, o: IgOptions = {}): IgResult {
  const D = model.obsDim, A = model.actionCount;
  if (x.length !== D || baseline.length !== D) throw new Error(`integratedGradients: x has ${x.length} and the baseline ${baseline.length} values, expected ${D}`);
  if (!Number.isInteger(action) || action < 0 || action >= A) throw new RangeError(`integratedGradients: action ${action} not in [0, ${A})`);
  const maxPoints = Math.max(2, o.maxSteps ?? 4096) + 1, tol = o.tolerance ?? 0.002, absTol = o.absTolerance ?? 1e-6;
  const m0 = Math.max(1, Math.min(o.steps ?? 32, maxPoints - 1));
  const ends = new Float32Array(2 * D);
  for (let i = 0; i < D; i++) { ends[i] = baseline[i]!; ends[D + i] = x[i]!; }
  const endScores = model.scores(ends, 2);
  const fb = endScores[action]!, fx = endScores[A + action]!;
  const delta = fx - fb;
  const diff = new Float64Array(D);
  for (let i = 0; i < D; i++) diff[i] = x[i]! - baseline[i]!;
  const gradsAt = (alphas: number[]): Float32Array => {
    const B = alphas.length;
    const pts = new Float32Array(B * D);
    for (let r = 0; r < B; r++) for (let i = 0; i < D; i++) pts[r * D + i] = baseline[i]! + alphas[r]! * diff[i]!;
    return model.gradients(pts, B, new Int32Array(B).fill(action));
  };
  // the grid: α ascending with the gradient at each point (row k of g)
  let alphas = Array.from({ length: m0 + 1 }, (_, k) => k / m0);
  let g = gradsAt(alphas);
  const attributions = new Float64Array(D);
  let err = Infinity;
  for (;;) {
    attributions.fill(0);
    for (let k = 0; k + 1 < alphas.length; k++) {
      const w = (alphas[k + 1]! - alphas[k]!) / 2;
      for (let i = 0; i < D; i++) attributions[i] += w * (g[k * D + i]! + g[(k + 1) * D + i]!);
    }
    let total = 0;
    for (let i = 0; i < D; i++) { attributions[i] *= diff[i]!; total += attributions[i]!; }
    err = Math.abs(total - delta);
    if (err <= Math.max(tol * Math.abs(delta), absTol)) break;
    const split: number[] = [];
    for (let k = 0; k + 1 < alphas.length; k++) if (alphas[k + 1]! - alphas[k]! > MIN_WIDTH && !sameGradient(g, k, k + 1, D)) split.push(k);
    const room = maxPoints - alphas.length;
    if (!split.length || room <= 0) break;
    if (split.length > room) split.sort((a, b) => alphas[b + 1]! - alphas[b]! - (alphas[a + 1]! - alphas[a]!) || a - b).splice(room);
    const mids = split.sort((a, b) => a - b).map((k) => (alphas[k]! + alphas[k + 1]!) / 2);
    const gm = gradsAt(mids);
    const nextA: number[] = [];
    const nextG = new Float32Array((alphas.length + mids.length) * D);
    let j = 0;
    for (let k = 0; k < alphas.length; k++) {
      nextG.set(g.subarray(k * D, (k + 1) * D), nextA.length * D);
      nextA.push(alphas[k]!);
      if (j < split.length && split[j] === k) {
        nextG.set(gm.subarray(j * D, (j + 1) * D), nextA.length * D);
        nextA.push(mids[j]!);
        j++;
      }
    }
    alphas = nextA;
    g = nextG;
  }
  return { action, attributions, score: fx, baselineScore: fb, steps: alphas.length - 1, completenessError: err, relativeError: delta === 0 ? (err === 0 ? 0 : Infinity) : err / Math.abs(delta) };
}

export interface PermutationOptions {
  /** shuffles per feature (default 5) */
  repeats?: number;
  seed?: number;
  /** binary detection labels (1 = malicious) per row: adds the F1 drop */
  labels?: ArrayLike<number>;
  /** which actions count as flagging a row (default: any action but 0) */
  flagged?: (action: number) => boolean;
}

export interface FeatureImportance {
  /** 1 − agreement of the permuted decisions with the unpermuted ones: mean and std over repeats */
  agreementDrop: { mean: number; std: number };
  /** F1(unpermuted) − F1(permuted), when labels were given */
  f1Drop?: { mean: number; std: number };
}

function f1Of(labels: ArrayLike<number>, actions: Int32Array, flagged: (a: number) => boolean): number {
  let tp = 0, fp = 0, fn = 0;
  for (let r = 0; r < actions.length; r++) {
    const p = flagged(actions[r]!), y = labels[r]! === 1;
    if (p && y) tp++; else if (p) fp++; else if (y) fn++;
  }
  return tp === 0 ? 0 : (2 * tp) / (2 * tp + fp + fn);
}

const meanStd = (v: number[]) => {
  const mean = v.reduce((a, b) => a + b, 0) / v.length;
  return { mean, std: Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / v.length) };
};

/**
 * Permutation importance on N rows of X (N × obsDim): shuffle one column across the rows (the other
 * fields of each row kept), redo the greedy decisions, measure how many change (and the detection F1
 * lost). It probes the decision function on the observations as recorded: the env is not re-run, and
 * a shuffled column can make combinations the env never produces (two device types, none) — the price
 * of a model-agnostic test, read beside the gradients.
 */
export function permutationImportance(model: ScoreModel, X: Float32Array, N: number, o: PermutationOptions = {}): { decisions: Int32Array; f1?: number; features: FeatureImportance[] } {
  const D = model.obsDim, A = model.actionCount;
  const repeats = Math.max(1, o.repeats ?? 5);
  const flagged = o.flagged ?? ((a: number) => a !== 0);
  const rng = new Random((o.seed ?? 0) ^ 0x5eed);
  const decisions = argmaxRows(model.scores(X, N), N, A);
  const f1 = o.labels ? f1Of(o.labels, decisions, flagged) : undefined;
  const work = X.slice(0, N * D);
  const perm = new Int32Array(N);
  const features: FeatureImportance[] = [];
  for (let j = 0; j < D; j++) {
    const agree: number[] = [], f1s: number[] = [];
    for (let k = 0; k < repeats; k++) {
      for (let r = 0; r < N; r++) perm[r] = r;
      for (let r = N - 1; r > 0; r--) { const s = rng.int(r + 1); const t = perm[r]!; perm[r] = perm[s]!; perm[s] = t; }
      for (let r = 0; r < N; r++) work[r * D + j] = X[perm[r]! * D + j]!;
      const d = argmaxRows(model.scores(work, N), N, A);
      let same = 0;
      for (let r = 0; r < N; r++) if (d[r] === decisions[r]) same++;
      agree.push(1 - same / N);
      if (o.labels) f1s.push(f1! - f1Of(o.labels, d, flagged));
    }
    for (let r = 0; r < N; r++) work[r * D + j] = X[r * D + j]!;
    features.push({ agreementDrop: meanStd(agree), ...(o.labels ? { f1Drop: meanStd(f1s) } : {}) });
  }
  return { decisions, f1, features };
}

/** Mean |IG| per field over the rows of each group (e.g. attack family), with the rows counted. */
export function meanAbsByGroup(rows: { group: string; attributions: ArrayLike<number> }[], D: number): Map<string, { n: number; meanAbs: Float64Array }> {
  const out = new Map<string, { n: number; meanAbs: Float64Array }>();
  for (const r of rows) {
    let g = out.get(r.group);
    if (!g) out.set(r.group, (g = { n: 0, meanAbs: new Float64Array(D) }));
    g.n++;
    for (let i = 0; i < D; i++) g.meanAbs[i] += Math.abs(r.attributions[i]!);
  }
  for (const g of out.values()) for (let i = 0; i < D; i++) g.meanAbs[i] /= g.n;
  return out;
}
