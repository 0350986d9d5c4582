/**
 * PPO's actor-critic as one flat Float32Array with plain-JS forward/backward: two separate MLPs
 * (CleanRL's layout), a policy tower obs → hidden… → logits[A] and a value tower obs → hidden… → V.
 *
 * Layout (Keras/tfjs naming, kernels row-major [in, out]), policy first, then value:
 *   pi_dense0/kernel, pi_dense0/bias, …, pi_logits/kernel [h, A], pi_logits/bias [A],
 *   v_dense0/kernel,  v_dense0/bias,  …, v_out/kernel [h, 1],     v_out/bias [1]
 *
 * Weights are float32 (what is shipped and averaged); activations and gradients are float64, so a
 * finite-difference check of the gradient is meaningful and sums over a minibatch lose nothing.
 */
import { makeLayout, type ParamEntry, type ParamLayout } from "../../core/params";

export type Activation = "tanh" | "relu";

export interface ActorCriticSpec {
  obsDim: number;
  numActions: number;
  hidden: number[];
  activation: Activation;
}

interface Dense {
  name: string;
  inDim: number;
  outDim: number;
  /** kernel offset in the flat vector */
  k: number;
  /** bias offset */
  b: number;
  /** orthogonal-init gain (CleanRL: √2 hidden, 0.01 policy head, 1 value head) */
  gain: number;
}

type Input = Float32Array | Float64Array;

export function actorCriticEntries(spec: ActorCriticSpec): ParamEntry[] {
  const e: ParamEntry[] = [];
  for (const [tower, head, outDim] of [["pi", "pi_logits", spec.numActions], ["v", "v_out", 1]] as const) {
    let inDim = spec.obsDim;
    spec.hidden.forEach((h, l) => {
      e.push({ name: `${tower}_dense${l}/kernel`, shape: [inDim, h] }, { name: `${tower}_dense${l}/bias`, shape: [h] });
      inDim = h;
    });
    e.push({ name: `${head}/kernel`, shape: [inDim, outDim] }, { name: `${head}/bias`, shape: [outDim] });
  }
  return e;
}

/** out[r, j] = b[j] + Σ_i x[r, i] W[i, j] */
function denseForward(p: Float32Array, d: Dense, x: Input, B: number, out: Float64Array): void {
  const I = d.inDim, O = d.outDim, k = d.k, bo = d.b;
  for (let r = 0; r < B; r++) {
    const o = r * O, x0 = r * I;
    for (let j = 0; j < O; j++) out[o + j] = p[bo + j]!;
    for (let i = 0; i < I; i++) {
      const xi = x[x0 + i]!;
      if (xi === 0) continue;
      const w = k + i * O;
      for (let j = 0; j < O; j++) out[o + j] += xi * p[w + j]!;
    }
  }
}

/** g[W] += xᵀ dZ, g[b] += Σ_r dZ; and dX = dZ Wᵀ when asked. */
function denseBackward(p: Float32Array, g: Float64Array, d: Dense, x: Input, B: number, dZ: Float64Array, dX: Float64Array | null): void {
  const I = d.inDim, O = d.outDim, k = d.k, bo = d.b;
  for (let r = 0; r < B; r++) {
    const z0 = r * O, x0 = r * I;
    for (let j = 0; j < O; j++) g[bo + j] += dZ[z0 + j]!;
    for (let i = 0; i < I; i++) {
      const xi = x[x0 + i]!;
      const w = k + i * O;
      if (xi !== 0) for (let j = 0; j < O; j++) g[w + j] += xi * dZ[z0 + j]!;
      if (dX) {
        let s = 0;
        for (let j = 0; j < O; j++) s += dZ[z0 + j]! * p[w + j]!;
        dX[x0 + i] = s;
      }
    }
  }
}

/** Scratch for one tower at one batch size: post-activation outputs of each layer and their gradients. */
class TowerWorkspace {
  readonly h: Float64Array[];
  readonly dh: Float64Array[];
  readonly out: Float64Array;
  /** ∂/∂input, for input gradients */
  readonly dx: Float64Array;
  constructor(hidden: readonly number[], outDim: number, inDim: number, readonly batch: number) {
    this.h = hidden.map((n) => new Float64Array(batch * n));
    this.dh = hidden.map((n) => new Float64Array(batch * n));
    this.out = new Float64Array(batch * outDim);
    this.dx = new Float64Array(batch * inDim);
  }
}

/** One MLP: hidden layers with the activation, a linear head. */
class Tower {
  constructor(readonly layers: readonly Dense[], readonly activation: Activation) {}

  forward(p: Float32Array, x: Input, B: number, ws: TowerWorkspace): Float64Array {
    const L = this.layers.length - 1;
    let inp: Input = x;
    for (let l = 0; l < L; l++) {
      const h = ws.h[l]!;
      denseForward(p, this.layers[l]!, inp, B, h);
      const n = B * this.layers[l]!.outDim;
      if (this.activation === "tanh") for (let i = 0; i < n; i++) h[i] = Math.tanh(h[i]!);
      else for (let i = 0; i < n; i++) if (h[i]! < 0) h[i] = 0;
      inp = h;
    }
    denseForward(p, this.layers[L]!, inp, B, ws.out);
    return ws.out;
  }

  /** Accumulates ∂(Σ dOut·out)/∂θ into g after forward(); writes ∂/∂x into ws.dx when `inputGrad`. */
  backward(p: Float32Array, g: Float64Array, x: Input, B: number, ws: TowerWorkspace, dOut: Float64Array, inputGrad: boolean): void {
    const L = this.layers.length - 1;
    let dZ = dOut;
    for (let l = L; l >= 0; l--) {
      const below = l === 0 ? x : ws.h[l - 1]!;
      const dBelow = l === 0 ? (inputGrad ? ws.dx : null) : ws.dh[l - 1]!;
      denseBackward(p, g, this.layers[l]!, below, B, dZ, dBelow);
      if (l === 0) break;
      // through the activation of layer l−1: tanh' = 1 − h², relu' = [h > 0]
      const h = ws.h[l - 1]!, dh = ws.dh[l - 1]!, n = B * this.layers[l - 1]!.outDim;
      if (this.activation === "tanh") for (let i = 0; i < n; i++) dh[i] *= 1 - h[i]! * h[i]!;
      else for (let i = 0; i < n; i++) if (h[i]! <= 0) dh[i] = 0;
      dZ = dh;
    }
  }
}

export class ActorCriticWorkspace {
  readonly pi: TowerWorkspace;
  readonly v: TowerWorkspace;
  constructor(spec: ActorCriticSpec, readonly batch: number) {
    this.pi = new TowerWorkspace(spec.hidden, spec.numActions, spec.obsDim, batch);
    this.v = new TowerWorkspace(spec.hidden, 1, spec.obsDim, batch);
  }
}

/** Standard normal from two uniforms (Box–Muller). */
function gaussian(rand: () => number): number {
  const u = 1 - rand(); // (0, 1]
  return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * rand());
}

/**
 * A gain-scaled matrix with orthonormal columns (in ≥ out) or rows (in < out), like
 * torch.nn.init.orthogonal_: modified Gram–Schmidt on Gaussian vectors, in float64.
 */
export function orthogonal(inDim: number, outDim: number, gain: number, rand: () => number): Float64Array {
  const n = Math.max(inDim, outDim), m = Math.min(inDim, outDim);
  const vs: Float64Array[] = [];
  while (vs.length < m) {
    const v = Float64Array.from({ length: n }, () => gaussian(rand));
    for (const u of vs) {
      let d = 0;
      for (let i = 0; i < n; i++) d += u[i]! * v[i]!;
      for (let i = 0; i < n; i++) v[i] -= d * u[i]!;
    }
    let s = 0;
    for (let i = 0; i < n; i++) s += v[i]! * v[i]!;
    const norm = Math.sqrt(s);
    if (!(norm > 1e-6)) continue; // (measure-zero) degenerate draw: draw again
    for (let i = 0; i < n; i++) v[i] /= norm;
    vs.push(v);
  }
  const W = new Float64Array(inDim * outDim);
  for (let i = 0; i < inDim; i++) for (let j = 0; j < outDim; j++) W[i * outDim + j] = gain * (inDim >= outDim ? vs[j]![i]! : vs[i]![j]!);
  return W;
}

export class ActorCritic {
  readonly layout: ParamLayout;
  readonly size: number;
  /** Parameters of the policy tower occupy [0, policySize); the value tower the rest. */
  readonly policySize: number;
  private readonly pi: Tower;
  private readonly v: Tower;

  constructor(readonly spec: ActorCriticSpec) {
    if (!(spec.obsDim > 0 && spec.numActions > 0 && spec.hidden.length > 0 && spec.hidden.every((h) => h > 0))) throw new Error("ActorCritic: obsDim, numActions and hidden must be positive/non-empty");
    const entries = actorCriticEntries(spec);
    this.layout = makeLayout(entries);
    const offsets = new Map<string, number>();
    let o = 0;
    for (const e of entries) {
      offsets.set(e.name, o);
      o += e.shape.reduce((a, b) => a * b, 1);
    }
    this.size = o;
    const tower = (prefix: string, head: string, outDim: number, headGain: number): Dense[] => {
      const ds: Dense[] = [];
      let inDim = spec.obsDim;
      spec.hidden.forEach((h, l) => {
        const name = `${prefix}_dense${l}`;
        ds.push({ name, inDim, outDim: h, k: offsets.get(`${name}/kernel`)!, b: offsets.get(`${name}/bias`)!, gain: Math.SQRT2 });
        inDim = h;
      });
      ds.push({ name: head, inDim, outDim, k: offsets.get(`${head}/kernel`)!, b: offsets.get(`${head}/bias`)!, gain: headGain });
      return ds;
    };
    this.pi = new Tower(tower("pi", "pi_logits", spec.numActions, 0.01), spec.activation);
    this.v = new Tower(tower("v", "v_out", 1, 1), spec.activation);
    this.policySize = offsets.get("v_dense0/kernel")!;
  }

  /** CleanRL's init: orthogonal kernels (gain √2 hidden, 0.01 policy head, 1 value head), zero biases. */
  init(rand: () => number): Float32Array {
    const p = new Float32Array(this.size);
    for (const d of [...this.pi.layers, ...this.v.layers]) p.set(orthogonal(d.inDim, d.outDim, d.gain, rand), d.k);
    return p;
  }

  workspace(batch: number): ActorCriticWorkspace {
    return new ActorCriticWorkspace(this.spec, batch);
  }

  /** Logits of B rows into ws.pi.out (returned). */
  logits(p: Float32Array, x: Input, B: number, ws: ActorCriticWorkspace): Float64Array {
    if (B > ws.batch) throw new Error(`forward: batch ${B} > workspace ${ws.batch}`);
    return this.pi.forward(p, x, B, ws.pi);
  }

  /** V of B rows into ws.v.out (returned). */
  values(p: Float32Array, x: Input, B: number, ws: ActorCriticWorkspace): Float64Array {
    if (B > ws.batch) throw new Error(`forward: batch ${B} > workspace ${ws.batch}`);
    return this.v.forward(p, x, B, ws.v);
  }

  /**
   * Gradient of Σ dLogits·logits + Σ dValues·V w.r.t. θ into g (overwritten), after logits() and
   * values() on the same x. Either head's gradient may be null (that tower gets zeros).
   */
  backward(p: Float32Array, x: Input, B: number, ws: ActorCriticWorkspace, dLogits: Float64Array | null, dValues: Float64Array | null, g: Float64Array): void {
    g.fill(0);
    if (dLogits) this.pi.backward(p, g, x, B, ws.pi, dLogits, false);
    if (dValues) this.v.backward(p, g, x, B, ws.v, dValues, false);
  }

  /** ∂(Σ dLogits·logits)/∂x for B rows into ws.pi.dx (returned), after logits(); scratch parameter gradient in g. */
  logitsInputGradient(p: Float32Array, x: Input, B: number, ws: ActorCriticWorkspace, dLogits: Float64Array, g: Float64Array): Float64Array {
    g.fill(0);
    this.pi.backward(p, g, x, B, ws.pi, dLogits, true);
    return ws.pi.dx;
  }
}
