/**
 * The pieces of one DQN learning step, as plain functions over Float32Arrays:
 * TD targets (DQN / Double DQN), Huber loss gradient, global-norm clipping, Adam, target updates,
 * plus the n-step accumulator used on the local replay path and a resumable RNG.
 */
import type { Transition, TransitionBatch } from "../../core/batch";
import type { QNetwork, Workspace } from "./network";
import { blendInto } from "../../core/params";

/**
 * y_i = r_i + γⁿ · (1 − terminated_i) · Q_target(s'_i, a*_i), with
 *   DQN:        a* = argmax_a Q_target(s', a)
 *   Double DQN: a* = argmax_a Q_online(s', a)
 * Truncated rows bootstrap (only `terminated` stops it).
 */
export function computeTargets(
  net: QNetwork,
  double: boolean,
  gammaN: number,
  online: Float32Array,
  target: Float32Array,
  b: TransitionBatch,
  wsA: Workspace,
  wsB: Workspace,
  out: Float32Array,
): Float32Array {
  const A = net.spec.numActions;
  const qt = net.forward(target, b.nextObs, b.n, wsA);
  const qo = double ? net.forward(online, b.nextObs, b.n, wsB) : qt;
  for (let r = 0; r < b.n; r++) {
    let best = 0;
    for (let j = 1; j < A; j++) if (qo[r * A + j]! > qo[r * A + best]!) best = j;
    const boot = b.terminated[r] ? 0 : gammaN * qt[r * A + best]!;
    out[r] = b.rewards[r]! + boot;
  }
  return out;
}

/**
 * Mean Huber loss over the batch on Q(s, a) − y (each row's times its weight, when given); writes
 * dLoss/dQ into dQ (zero except at the taken action) and returns the loss.
 */
export function huberLossGrad(q: Float32Array, actions: Int32Array, y: Float32Array, n: number, A: number, delta: number, dQ: Float32Array, weights?: Float32Array): number {
  dQ.fill(0, 0, n * A);
  let loss = 0;
  for (let r = 0; r < n; r++) {
    const a = actions[r]!;
    if (!(a >= 0 && a < A)) throw new Error(`action ${a} out of range [0, ${A})`);
    const d = q[r * A + a]! - y[r]!;
    const ad = Math.abs(d);
    // Importance weights (prioritized replay) scale each row's loss and gradient: mean of w·Huber.
    const w = weights ? weights[r]! : 1;
    loss += w * (ad <= delta ? (0.5 * d * d) / delta : ad - 0.5 * delta);
    dQ[r * A + a] = (w * (ad <= delta ? d / delta : Math.sign(d))) / n;
  }
  return loss / n;
}

/** Scale g so that ‖g‖₂ ≤ maxNorm (0 = off); returns the norm before clipping. */
export function clipGradNorm(g: Float32Array, maxNorm: number): number {
  let s = 0;
  for (let i = 0; i < g.length; i++) s += g[i]! * g[i]!;
  const norm = Math.sqrt(s);
  if (maxNorm > 0 && norm > maxNorm) {
    const c = maxNorm / (norm + 1e-6);
    for (let i = 0; i < g.length; i++) g[i] *= c;
  }
  return norm;
}

export interface AdamState {
  m: Float32Array;
  v: Float32Array;
  /** steps taken */
  t: number;
}

/** PyTorch-style Adam (bias-corrected, ε outside the sqrt). */
export function adamStep(p: Float32Array, g: Float32Array, s: AdamState, lr: number, b1: number, b2: number, eps: number): void {
  s.t++;
  const c1 = 1 - Math.pow(b1, s.t);
  const c2 = 1 - Math.pow(b2, s.t);
  const step = lr / c1;
  const { m, v } = s;
  for (let i = 0; i < p.length; i++) {
    const gi = g[i]!;
    const mi = (m[i] = b1 * m[i]! + (1 - b1) * gi);
    const vi = (v[i] = b2 * v[i]! + (1 - b2) * gi * gi);
    p[i] -= (step * mi) / (Math.sqrt(vi / c2) + eps);
  }
}

/** θ' ← τθ + (1 − τ)θ' */
export function softUpdate(target: Float32Array, online: Float32Array, tau: number): void {
  blendInto(target, online, tau);
}


/**
 * n-step returns at insertion time: emits (s_t, a_t, Σ_{k<m} γᵏ r_{t+k}, s_{t+m}, done flags of
 * step t+m−1) with m = n, or m < n for the tail of an episode (flushed when it ends). Tails of
 * truncated episodes bootstrap with γⁿ instead of γᵐ (batches carry no per-row discount) — a small
 * bias that only touches the last n−1 transitions of time-limited episodes.
 */
export class NStepAccumulator {
  private readonly buf: Transition[] = [];
  constructor(readonly n: number, readonly gamma: number) {}
  /** Add one env transition; returns the n-step transitions that are now complete (0..n of them). */
  push(t: Transition): Transition[] {
    if (this.n === 1) return [t];
    this.buf.push({ ...t, obs: Float32Array.from(t.obs), nextObs: Float32Array.from(t.nextObs) });
    const out: Transition[] = [];
    const done = t.terminated || t.truncated;
    if (this.buf.length === this.n) out.push(this.emit());
    if (done) {
      while (this.buf.length) out.push(this.emit());
    }
    return out;
  }
  private emit(): Transition {
    const first = this.buf[0]!;
    const last = this.buf[this.buf.length - 1]!;
    let R = 0;
    for (let k = this.buf.length - 1; k >= 0; k--) R = this.buf[k]!.reward + this.gamma * R;
    this.buf.shift();
    return { obs: first.obs, action: first.action, reward: R, nextObs: last.nextObs, terminated: last.terminated, truncated: last.truncated };
  }
  get pending(): number {
    return this.buf.length;
  }
  clear(): void {
    this.buf.length = 0;
  }
  /** The pending transitions (copies), oldest first, for a checkpoint. */
  snapshot(): Transition[] {
    return this.buf.map((t) => ({ ...t, obs: Float32Array.from(t.obs), nextObs: Float32Array.from(t.nextObs) }));
  }
  /** Continues from snapshot(). */
  restore(pending: readonly Transition[]): void {
    this.buf.length = 0;
    for (const t of pending) this.buf.push({ ...t, obs: Float32Array.from(t.obs), nextObs: Float32Array.from(t.nextObs) });
  }
}
