/**
 * A supervised flow classifier for IoTIntrusion-v0: logistic regression (no hidden layer) or a
 * small ReLU MLP, trained with binary cross-entropy and Adam on (observation, label) pairs. It is
 * the detection ceiling the learned policies are measured against (bench/iot.ts): it is told the
 * label of every training flow, where a policy only gets rewards.
 *
 * Training data come from the env in closed loop (`collectLabelled`): the observation carries the
 * device's decision history and gateway state, which depend on what the defender did, so flows
 * recorded under allow-all do not look like the flows a blocking classifier later sees. The
 * recipe (DAgger, Ross et al. 2011): record under the oracle (drop exactly the malicious flows),
 * fit, record more under the fitted classifier with the true labels, refit on both.
 *
 * Plain JS, float64, deterministic for a seed; no dependency on the agents (envs/ is below
 * algorithms/).
 */
import type { Env, Info } from "../types";
import { ALLOW, DROP } from "./intrusion";
import { Rng } from "./rng";
import type { Detector } from "./detection";

export interface ClassifierConfig {
  /** Hidden layer widths; [] = logistic regression. */
  hidden: number[];
  lr: number;
  epochs: number;
  batchSize: number;
  /** L2 penalty on the weights (not the biases). */
  l2: number;
  seed: number;
}

export const DEFAULT_CLASSIFIER: ClassifierConfig = { hidden: [64], lr: 1e-3, epochs: 8, batchSize: 128, l2: 1e-5, seed: 0 };

/** Labelled observations, row-major. */
export interface Labelled {
  x: Float32Array;
  y: Uint8Array;
  n: number;
  dim: number;
}

interface Layer { w: Float64Array; b: Float64Array; inD: number; outD: number }

/** An MLP with one logit output; `logit(x)` is its score, P(malicious) = σ(logit). */
export class FlowClassifier {
  readonly layers: Layer[];
  /** Flag a flow when logit ≥ threshold (0 = probability ½ until `fitThreshold`). */
  threshold = 0;

  constructor(readonly dim: number, readonly config: ClassifierConfig = DEFAULT_CLASSIFIER) {
    if (!Number.isInteger(dim) || dim < 1) throw new RangeError(`classifier input size must be a positive integer, got ${dim}`);
    for (const h of config.hidden) if (!Number.isInteger(h) || h < 1) throw new RangeError(`hidden widths must be positive integers, got ${JSON.stringify(config.hidden)}`);
    const rng = new Rng(config.seed * 7919 + 1);
    const dims = [dim, ...config.hidden, 1];
    this.layers = [];
    for (let l = 0; l + 1 < dims.length; l++) {
      const inD = dims[l]!, outD = dims[l + 1]!;
      // He-uniform for ReLU layers, Glorot-uniform for the logit.
      const lim = l + 2 < dims.length ? Math.sqrt(6 / inD) : Math.sqrt(6 / (inD + outD));
      const w = new Float64Array(inD * outD);
      for (let i = 0; i < w.length; i++) w[i] = (2 * rng.next() - 1) * lim;
      this.layers.push({ w, b: new Float64Array(outD), inD, outD });
    }
  }

  /** The logit of one observation. */
  logit(x: ArrayLike<number>): number {
    let a: ArrayLike<number> = x;
    for (let l = 0; l < this.layers.length; l++) {
      const { w, b, inD, outD } = this.layers[l]!;
      const z = new Float64Array(outD);
      for (let o = 0; o < outD; o++) {
        let s = b[o]!;
        const row = o * inD;
        for (let i = 0; i < inD; i++) s += w[row + i]! * a[i]!;
        z[o] = l + 1 < this.layers.length && s < 0 ? 0 : s;
      }
      a = z;
    }
    return a[0]!;
  }

  /** Mean binary cross-entropy (+ L2) over `data`. */
  loss(data: Labelled): number {
    let s = 0;
    for (let r = 0; r < data.n; r++) s += bce(this.logit(data.x.subarray(r * data.dim, (r + 1) * data.dim)), data.y[r]!);
    return s / Math.max(1, data.n) + this.l2Term();
  }

  private l2Term(): number {
    let s = 0;
    for (const L of this.layers) for (const v of L.w) s += v * v;
    return 0.5 * this.config.l2 * s;
  }

  /**
   * Gradient of the mean loss over rows `idx` (exact backprop), into `grads` (same shapes as the
   * layers: w then b per layer). Returns the batch loss.
   */
  gradient(data: Labelled, idx: ArrayLike<number>, grads: Float64Array[]): number {
    for (const g of grads) g.fill(0);
    const L = this.layers.length;
    const acts: Float64Array[] = new Array(L + 1);
    let total = 0;
    for (let k = 0; k < idx.length; k++) {
      const r = idx[k]!;
      acts[0] = Float64Array.from(data.x.subarray(r * data.dim, (r + 1) * data.dim));
      for (let l = 0; l < L; l++) {
        const { w, b, inD, outD } = this.layers[l]!;
        const a = acts[l]!, z = new Float64Array(outD);
        for (let o = 0; o < outD; o++) {
          let s = b[o]!;
          for (let i = 0; i < inD; i++) s += w[o * inD + i]! * a[i]!;
          z[o] = l + 1 < L && s < 0 ? 0 : s;
        }
        acts[l + 1] = z;
      }
      const y = data.y[r]!, zL = acts[L]![0]!;
      total += bce(zL, y);
      let delta = new Float64Array([sigmoid(zL) - y]); // ∂bce/∂logit
      for (let l = L - 1; l >= 0; l--) {
        const { w, inD, outD } = this.layers[l]!;
        const a = acts[l]!, gw = grads[2 * l]!, gb = grads[2 * l + 1]!;
        const prev = new Float64Array(inD);
        for (let o = 0; o < outD; o++) {
          const d = delta[o]!;
          if (d === 0) continue;
          gb[o]! += d;
          for (let i = 0; i < inD; i++) {
            gw[o * inD + i]! += d * a[i]!;
            prev[i]! += d * w[o * inD + i]!;
          }
        }
        // through the ReLU of layer l−1's output (acts[l] > 0 where it was active)
        if (l > 0) for (let i = 0; i < inD; i++) if (a[i]! <= 0) prev[i] = 0;
        delta = prev;
      }
    }
    const n = Math.max(1, idx.length);
    for (let l = 0; l < L; l++) {
      const gw = grads[2 * l]!, gb = grads[2 * l + 1]!, w = this.layers[l]!.w;
      for (let i = 0; i < gw.length; i++) gw[i] = gw[i]! / n + this.config.l2 * w[i]!;
      for (let i = 0; i < gb.length; i++) gb[i] = gb[i]! / n;
    }
    return total / n + this.l2Term();
  }

  /** Adam over shuffled minibatches for config.epochs passes; returns the mean loss of each epoch. */
  fit(data: Labelled): number[] {
    if (data.dim !== this.dim) throw new Error(`classifier expects ${this.dim} features, data has ${data.dim}`);
    if (data.n === 0) throw new Error("classifier: no training rows");
    const { lr, epochs, batchSize } = this.config;
    const params = this.layers.flatMap((L) => [L.w, L.b]);
    const grads = params.map((p) => new Float64Array(p.length));
    const m = params.map((p) => new Float64Array(p.length)), v = params.map((p) => new Float64Array(p.length));
    const b1 = 0.9, b2 = 0.999, eps = 1e-8;
    const rng = new Rng(this.config.seed * 104_729 + 3);
    const order = Int32Array.from({ length: data.n }, (_, i) => i);
    const losses: number[] = [];
    let t = 0;
    for (let e = 0; e < epochs; e++) {
      for (let i = order.length - 1; i > 0; i--) {
        const j = rng.int(i + 1);
        [order[i], order[j]] = [order[j]!, order[i]!];
      }
      let sum = 0, batches = 0;
      for (let s = 0; s < data.n; s += batchSize) {
        sum += this.gradient(data, order.subarray(s, Math.min(data.n, s + batchSize)), grads);
        batches++;
        t++;
        const c1 = 1 - b1 ** t, c2 = 1 - b2 ** t;
        for (let p = 0; p < params.length; p++) {
          const P = params[p]!, G = grads[p]!, M = m[p]!, V = v[p]!;
          for (let i = 0; i < P.length; i++) {
            M[i] = b1 * M[i]! + (1 - b1) * G[i]!;
            V[i] = b2 * V[i]! + (1 - b2) * G[i]! * G[i]!;
            P[i] = P[i]! - (lr * (M[i]! / c1)) / (Math.sqrt(V[i]! / c2) + eps);
          }
        }
      }
      losses.push(sum / batches);
    }
    return losses;
  }

  /** Sets `threshold` to the logit cut with the best F1 on `data` (as the threshold rule is fitted). */
  fitThreshold(data: Labelled): { threshold: number; f1: number } {
    const z = Array.from({ length: data.n }, (_, r) => [this.logit(data.x.subarray(r * data.dim, (r + 1) * data.dim)), data.y[r]!] as const).sort((a, b) => b[0] - a[0]);
    const pos = z.reduce((s, p) => s + p[1], 0);
    let tp = 0, best = { threshold: 0, f1: -1 };
    for (let i = 0; i < z.length; i++) {
      tp += z[i]![1];
      if (i + 1 < z.length && z[i + 1]![0] === z[i]![0]) continue;
      const f1 = (2 * tp) / (i + 1 + pos);
      if (f1 > best.f1) best = { threshold: i + 1 < z.length ? (z[i]![0] + z[i + 1]![0]) / 2 : z[i]![0], f1 };
    }
    this.threshold = best.threshold;
    return best;
  }

  /** As a detector: drop when logit ≥ threshold; every blocking action scores the logit (block score = logit). */
  detector(actionCount: number): Detector {
    return {
      act: (obs) => (this.logit(obs) >= this.threshold ? DROP : ALLOW),
      scores: (obs) => {
        const s = new Float32Array(actionCount).fill(this.logit(obs));
        s[ALLOW] = 0;
        return s;
      },
    };
  }
}

const sigmoid = (z: number) => (z >= 0 ? 1 / (1 + Math.exp(-z)) : Math.exp(z) / (1 + Math.exp(z)));
/** −[y log σ(z) + (1−y) log(1−σ(z))], computed stably. */
const bce = (z: number, y: number) => Math.max(z, 0) - z * y + Math.log1p(Math.exp(-Math.abs(z)));

/**
 * Records `flows` (observation, label) pairs from `env` with `behaviour` choosing the actions; the
 * label is the truth of the flow in the observation (info.current.label). `start` is the seed of the
 * first episode (null: a new episode that continues the env's generator, e.g. a second collection
 * on the same stream); later episodes continue the generator (as an actor's env copy does), so the
 * stream is the one an actor reset with that seed trains on.
 */
export function collectLabelled(env: Env, behaviour: (obs: Float32Array, info: Info) => number, flows: number, start: number | null): Labelled {
  const dim = env.observationSize;
  const x = new Float32Array(flows * dim), y = new Uint8Array(flows);
  let { obs, info } = env.reset(start === null ? {} : { seed: start });
  for (let i = 0; i < flows; i++) {
    x.set(obs, i * dim);
    y[i] = (info.current as { label: number }).label ? 1 : 0;
    const r = env.step(behaviour(obs, info));
    ({ obs, info } = r.terminated || r.truncated ? env.reset() : r);
  }
  return { x, y, n: flows, dim };
}

/** Rows of several sets in one. */
export function concatLabelled(parts: readonly Labelled[]): Labelled {
  const dim = parts[0]?.dim ?? 0;
  for (const p of parts) if (p.dim !== dim) throw new Error(`concatLabelled: ${p.dim} features vs ${dim}`);
  const n = parts.reduce((s, p) => s + p.n, 0);
  const x = new Float32Array(n * dim), y = new Uint8Array(n);
  let o = 0;
  for (const p of parts) {
    x.set(p.x.subarray(0, p.n * dim), o * dim);
    y.set(p.y.subarray(0, p.n), o);
    o += p.n;
  }
  return { x, y, n, dim };
}

/** The oracle behaviour for collection: drop exactly the malicious flows. */
export const oracleBehaviour = (_obs: Float32Array, info: Info): number => ((info.current as { label: number }).label ? DROP : ALLOW);
