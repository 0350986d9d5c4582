/**
 * The pieces of a PPO update as plain functions over typed arrays: log-softmax, GAE(λ) over linked
 * rollout rows, the clipped surrogate and the (optionally clipped) value loss with their gradients,
 * the categorical entropy's gradient, and one minibatch's whole loss and gradient (ppoLoss). The
 * update loop itself is in agent.ts.
 */
import type { ActorCritic, ActorCriticWorkspace } from "./network";

/** out[outOff + j] = z_j − log Σ_k exp(z_k) for the A logits at z[off…]. */
export function logSoftmax(z: ArrayLike<number>, off: number, A: number, out: Float64Array, outOff = 0): void {
  let m = -Infinity;
  for (let j = 0; j < A; j++) m = Math.max(m, z[off + j]!);
  let s = 0;
  for (let j = 0; j < A; j++) s += Math.exp(z[off + j]! - m);
  const lse = m + Math.log(s);
  for (let j = 0; j < A; j++) out[outOff + j] = z[off + j]! - lse;
}

/**
 * GAE(λ) over n rollout rows, newest last. Rows of one env's episode are linked: next[i] is the row
 * that continues row i (always a later row), or −1 when none does in this rollout (the episode
 * ended, or the rollout did). Then
 *   δ_i = r_i + γ (1 − terminated_i) V'_i − V(s_i),   V'_i = V(s_{next[i]}) if linked, else nextValue[i] = V(s'_i)
 *   A_i = δ_i + γλ A_{next[i]}  (A_{−1} = 0),          R_i = A_i + V(s_i)
 * so a terminated step does not bootstrap, a truncated one bootstraps with V(s') of its final
 * observation, and a row the rollout cut bootstraps with V(s') as well.
 */
export function gae(
  n: number,
  rewards: ArrayLike<number>,
  values: ArrayLike<number>,
  terminated: ArrayLike<number>,
  next: ArrayLike<number>,
  nextValue: ArrayLike<number>,
  gamma: number,
  lambda: number,
  adv: Float64Array,
  ret: Float64Array,
): void {
  for (let i = n - 1; i >= 0; i--) {
    const j = next[i]!;
    if (j >= 0 && !(j > i && j < n)) throw new Error(`gae: row ${i} links to row ${j}, expected a later row < ${n}`);
    if (j >= 0 && terminated[i]) throw new Error(`gae: row ${i} is terminated but links to row ${j}`);
    const v1 = j >= 0 ? values[j]! : nextValue[i]!;
    const delta = rewards[i]! + (terminated[i] ? 0 : gamma * v1) - values[i]!;
    adv[i] = delta + (j >= 0 ? gamma * lambda * adv[j]! : 0);
    ret[i] = adv[i]! + values[i]!;
  }
}

/** One row's term of a loss and its derivative (reused to avoid allocation in the update loop). */
export interface Term {
  loss: number;
  grad: number;
}

/**
 * The clipped surrogate for one row, as a loss to minimise:
 *   ρ = exp(logπ − logπ_old),  L = −min(ρ A, clip(ρ, 1 − ε, 1 + ε) A)
 * and ∂L/∂logπ: −ρA where the unclipped term is the minimum, 0 where the clipped (constant) one is
 * (ρ > 1 + ε with A > 0, ρ < 1 − ε with A < 0). Returns ρ.
 */
export function clippedSurrogate(logp: number, oldLogp: number, adv: number, eps: number, out: Term): number {
  const ratio = Math.exp(logp - oldLogp);
  const unclipped = ratio * adv;
  const clipped = Math.min(Math.max(ratio, 1 - eps), 1 + eps) * adv;
  if (unclipped <= clipped) {
    out.loss = -unclipped;
    out.grad = -unclipped; // ∂(−ρA)/∂logπ = −ρA
  } else {
    out.loss = -clipped;
    out.grad = 0;
  }
  return ratio;
}

/**
 * The value loss for one row: ½(V − R)², or with clipping (c > 0)
 *   ½ max((V − R)², (V_old + clip(V − V_old, −c, c) − R)²)
 * and ∂/∂V (0 where the clipped term is the larger one and V is outside V_old ± c).
 */
export function valueLoss(v: number, vOld: number, ret: number, clip: number, out: Term): void {
  const d = v - ret;
  if (clip <= 0) {
    out.loss = 0.5 * d * d;
    out.grad = d;
    return;
  }
  const vc = vOld + Math.min(Math.max(v - vOld, -clip), clip);
  const dc = vc - ret;
  if (d * d >= dc * dc) {
    out.loss = 0.5 * d * d;
    out.grad = d;
  } else {
    out.loss = 0.5 * dc * dc;
    out.grad = Math.abs(v - vOld) < clip ? dc : 0;
  }
}

/**
 * Entropy H = −Σ p log p of the categorical with log-probabilities logp[off…off+A), and
 * ∂H/∂z_j = −p_j (log p_j + H) w.r.t. the logits into dz[off…] (scaled by `scale`, added).
 */
export function entropyGrad(logp: Float64Array, off: number, A: number, scale: number, dz: Float64Array): number {
  let H = 0;
  for (let j = 0; j < A; j++) H -= Math.exp(logp[off + j]!) * logp[off + j]!;
  if (scale !== 0) for (let j = 0; j < A; j++) dz[off + j] += scale * -Math.exp(logp[off + j]!) * (logp[off + j]! + H);
  return H;
}

/** Normalises x[0…n) to mean 0 and (sample) std 1 in place (CleanRL: (A − mean) / (std + 1e-8)); n < 2 is left as is. */
export function normalize(x: Float64Array, n: number): void {
  if (n < 2) return;
  let m = 0;
  for (let i = 0; i < n; i++) m += x[i]!;
  m /= n;
  let s = 0;
  for (let i = 0; i < n; i++) s += (x[i]! - m) ** 2;
  const std = Math.sqrt(s / (n - 1));
  for (let i = 0; i < n; i++) x[i] = (x[i]! - m) / (std + 1e-8);
}

/** One minibatch of rollout rows, gathered (row-major obs, advantages already normalised if wanted). */
export interface Minibatch {
  n: number;
  obs: Float32Array;
  actions: Int32Array;
  oldLogp: Float64Array;
  adv: Float64Array;
  oldValues: Float64Array;
  returns: Float64Array;
  /** scratch: log π of every action, ∂loss/∂logits, ∂loss/∂V */
  lp: Float64Array;
  dLogits: Float64Array;
  dValues: Float64Array;
}

export function allocMinibatch(size: number, obsDim: number, numActions: number): Minibatch {
  const f64 = (n: number) => new Float64Array(n);
  return {
    n: 0, obs: new Float32Array(size * obsDim), actions: new Int32Array(size), oldLogp: f64(size), adv: f64(size), oldValues: f64(size), returns: f64(size),
    lp: f64(size * numActions), dLogits: f64(size * numActions), dValues: f64(size),
  };
}

export interface LossWeights {
  clipRange: number;
  valueClipRange: number;
  vfCoef: number;
  entCoef: number;
}

/** Means over a minibatch; `loss` = policy + vfCoef · value − entCoef · entropy. */
export interface LossStats {
  loss: number;
  policyLoss: number;
  valueLoss: number;
  entropy: number;
  /** Σ over rows of (ρ − 1) − log ρ (CleanRL's approx_kl, summed) */
  klSum: number;
  /** rows with |ρ − 1| > ε */
  clipped: number;
}

/**
 * The PPO loss of a minibatch and its exact gradient w.r.t. all parameters into g (float64,
 * overwritten): logits and values forward, per row the clipped surrogate through log-softmax, the
 * entropy bonus, the (optionally clipped) value loss, then backprop through both towers.
 */
export function ppoLoss(net: ActorCritic, params: Float32Array, mb: Minibatch, w: LossWeights, ws: ActorCriticWorkspace, g: Float64Array): LossStats {
  const B = mb.n, A = net.spec.numActions;
  const logits = net.logits(params, mb.obs, B, ws);
  const values = net.values(params, mb.obs, B, ws);
  const { lp, dLogits, dValues } = mb;
  const term: Term = { loss: 0, grad: 0 };
  let pg = 0, vl = 0, ent = 0, klSum = 0, clipped = 0;
  for (let b = 0; b < B; b++) {
    const a = mb.actions[b]!, o = b * A;
    logSoftmax(logits, o, A, lp, o);
    // clipped surrogate → ∂/∂logπ(a|s), then through log-softmax: ∂logπ_a/∂z_j = [j = a] − π_j
    const ratio = clippedSurrogate(lp[o + a]!, mb.oldLogp[b]!, mb.adv[b]!, w.clipRange, term);
    pg += term.loss;
    for (let j = 0; j < A; j++) dLogits[o + j] = (term.grad * ((j === a ? 1 : 0) - Math.exp(lp[o + j]!))) / B;
    // entropy bonus: the loss has −entCoef · H
    ent += entropyGrad(lp, o, A, -w.entCoef / B, dLogits);
    // value loss, optionally clipped around V_old
    valueLoss(values[b]!, mb.oldValues[b]!, mb.returns[b]!, w.valueClipRange, term);
    vl += term.loss;
    dValues[b] = (w.vfCoef * term.grad) / B;
    klSum += ratio - 1 - (lp[o + a]! - mb.oldLogp[b]!);
    if (Math.abs(ratio - 1) > w.clipRange) clipped++;
  }
  net.backward(params, mb.obs, B, ws, dLogits, dValues, g);
  return { loss: (pg + w.vfCoef * vl - w.entCoef * ent) / B, policyLoss: pg / B, valueLoss: vl / B, entropy: ent / B, klSum, clipped };
}
