/**
 * The MLP DQN / Double DQN learning step as one call into a WebAssembly kernel with 128-bit SIMD
 * (wasm/kernel.c, built by wasm/build.sh into the committed wasm/kernel.wasm): TD targets, forward,
 * mean Huber loss, backward, global-norm clip, Adam and optionally the target update, fused. The
 * online and target parameters, the Adam moments, the batch and every activation live in the
 * instance's linear memory (one instance per engine); a step writes the batch into memory views and
 * allocates nothing. Greedy acting runs through the same kernel.
 *
 * Same semantics as learning.ts (the JS engine); matrix products accumulate in float32 instead of
 * pairs in float64, so results agree to ~1e-6 relative, not bit for bit. MLP only (no dueling).
 * DqnAgent uses it when `engine` is "wasm".
 */
import { readFileSync } from "node:fs";
import type { TransitionBatch } from "../../core/batch";
import type { QNetwork } from "./network";
import type { TfEngineOptions } from "./tf-engine";

/** The tfjs engine's step options (the same DQN step), plus the batch buffers' first size. */
export interface WasmEngineOptions extends TfEngineOptions {
  /** rows the batch buffers hold at first (grown on demand) */
  batchSize: number;
}

/** The slice of the WebAssembly JS API used here (tsconfig's libs carry no WebAssembly types). */
interface WasmModule {
  readonly __wasmModule?: never;
}
interface WasmApi {
  Module: new (bytes: Uint8Array) => WasmModule;
  Instance: new (module: WasmModule, imports: object) => { exports: unknown };
}
const WA = (globalThis as unknown as { WebAssembly: WasmApi }).WebAssembly;

/** What kernel.c exports (pointers are byte offsets into `memory`). */
interface KernelExports {
  memory: { readonly buffer: ArrayBuffer };
  hidden_ptr(): number;
  setup(obsDim: number, numActions: number, nHidden: number, batchCap: number): number;
  params_ptr(): number;
  target_ptr(): number;
  adam_m_ptr(): number;
  adam_v_ptr(): number;
  obs_ptr(): number;
  next_obs_ptr(): number;
  actions_ptr(): number;
  rewards_ptr(): number;
  terminated_ptr(): number;
  x1_ptr(): number;
  q1_ptr(): number;
  layer_in_pad(l: number): number;
  layer_out_pad(l: number): number;
  layer_kernel(l: number): number;
  layer_bias(l: number): number;
  grad_norm(): number;
  train_step(B: number, dbl: number, gammaN: number, delta: number, maxNorm: number, step: number, c2: number, b1: number, b2: number, eps: number, targetMode: number, tau: number): number;
  update_target(targetMode: number, tau: number): void;
  act(which: number): number;
}

/** Target update fused into a step: none, hard copy θ' ← θ, or soft θ' ← τθ + (1 − τ)θ'. */
export const TargetMode = { None: 0, Hard: 1, Soft: 2 } as const;
export type TargetMode = (typeof TargetMode)[keyof typeof TargetMode];

export const KERNEL_URL = new URL("./wasm/kernel.wasm", import.meta.url);

let compiled: WasmModule | null = null;
/** The compiled kernel (compiled once per process, on first use). */
export function kernelModule(): WasmModule {
  return (compiled ??= new WA.Module(readFileSync(KERNEL_URL)));
}

/** One dense layer in both layouts (float offsets). */
interface LayerMap {
  inDim: number;
  outDim: number;
  jsK: number;
  jsB: number;
  /** kernel rows in wasm are `outPad` wide; the bias has `outPad` entries */
  outPad: number;
  wK: number;
  wB: number;
}

interface Views {
  buffer: ArrayBuffer;
  P: Float32Array;
  T: Float32Array;
  M: Float32Array;
  V: Float32Array;
  obs: Float32Array;
  nextObs: Float32Array;
  actions: Int32Array;
  rewards: Float32Array;
  terminated: Uint8Array;
  x1: Float32Array;
  q1: Float32Array;
}

export class WasmDqnEngine {
  private readonly k: KernelExports;
  private readonly layers: LayerMap[] = [];
  /** padded parameter count in wasm */
  private readonly np: number;
  /** the wasm layout equals the JS layout (every width a multiple of 4): copies are one set() */
  private readonly same: boolean;
  private cap: number;
  private views!: Views;
  private t = 0;
  private readonly obsDim: number;
  private readonly A: number;

  constructor(readonly net: QNetwork, params: Float32Array, readonly o: WasmEngineOptions) {
    if (net.spec.dueling) throw new Error("WasmDqnEngine: MLP only");
    const { obsDim, numActions, hidden } = net.spec;
    if (hidden.length > 15) throw new Error("WasmDqnEngine: at most 15 hidden layers");
    this.obsDim = obsDim;
    this.A = numActions;
    this.k = new WA.Instance(kernelModule(), {}).exports as unknown as KernelExports;
    new Int32Array(this.k.memory.buffer, this.k.hidden_ptr(), hidden.length).set(hidden);
    this.cap = Math.max(1, o.batchSize);
    const np = this.k.setup(obsDim, numActions, hidden.length, this.cap);
    if (np < 0) throw new Error("WasmDqnEngine: kernel setup failed (out of memory?)");
    this.np = np;
    const entries = net.layout.entries;
    let off = 0, same = true;
    for (let l = 0; l < entries.length / 2; l++) {
      const ke = entries[2 * l]!;
      const [inDim, outDim] = ke.shape as [number, number];
      const m: LayerMap = { inDim, outDim, jsK: off, jsB: off + inDim * outDim, outPad: this.k.layer_out_pad(l), wK: this.k.layer_kernel(l), wB: this.k.layer_bias(l) };
      off += inDim * outDim + outDim;
      if (m.outPad !== outDim || this.k.layer_in_pad(l) !== inDim || m.wK !== m.jsK || m.wB !== m.jsB) same = false;
      this.layers.push(m);
    }
    this.same = same && off === net.size;
    this.refresh();
    this.pack(params, this.views.P);
    this.pack(params, this.views.T);
  }

  /** (Re)create the memory views (after setup() may have grown memory). */
  private refresh(): void {
    const k = this.k, buf = k.memory.buffer, np = this.np, cap = this.cap, d = this.obsDim;
    const f32 = (p: number, n: number) => new Float32Array(buf, p, n);
    this.views = {
      buffer: buf,
      P: f32(k.params_ptr(), np), T: f32(k.target_ptr(), np), M: f32(k.adam_m_ptr(), np), V: f32(k.adam_v_ptr(), np),
      obs: f32(k.obs_ptr(), cap * d), nextObs: f32(k.next_obs_ptr(), cap * d),
      actions: new Int32Array(buf, k.actions_ptr(), cap), rewards: f32(k.rewards_ptr(), cap), terminated: new Uint8Array(buf, k.terminated_ptr(), cap),
      x1: f32(k.x1_ptr(), d), q1: f32(k.q1_ptr(), this.A),
    };
  }

  private ensure(n: number): Views {
    if (n > this.cap) {
      this.cap = n;
      if (this.k.setup(this.obsDim, this.A, this.net.spec.hidden.length, n) < 0) throw new Error(`WasmDqnEngine: cannot grow batch buffers to ${n} rows`);
      this.refresh();
    }
    if (this.views.buffer !== this.k.memory.buffer) this.refresh();
    return this.views;
  }

  /** JS layout → wasm layout (padding stays zero). */
  private pack(src: Float32Array, dst: Float32Array): void {
    if (src.length !== this.net.size) throw new Error(`WasmDqnEngine: expected ${this.net.size} parameters, got ${src.length}`);
    if (this.same) {
      dst.set(src);
      return;
    }
    for (const m of this.layers) {
      for (let i = 0; i < m.inDim; i++) dst.set(src.subarray(m.jsK + i * m.outDim, m.jsK + (i + 1) * m.outDim), m.wK + i * m.outPad);
      dst.set(src.subarray(m.jsB, m.jsB + m.outDim), m.wB);
    }
  }

  /** wasm layout → JS layout. */
  private unpack(src: Float32Array, dst: Float32Array): Float32Array {
    if (this.same) {
      dst.set(src);
      return dst;
    }
    for (const m of this.layers) {
      for (let i = 0; i < m.inDim; i++) dst.set(src.subarray(m.wK + i * m.outPad, m.wK + i * m.outPad + m.outDim), m.jsK + i * m.outDim);
      dst.set(src.subarray(m.wB, m.wB + m.outDim), m.jsB);
    }
    return dst;
  }

  /** One learning step (plus the target update `targetMode`); returns [loss, gradNorm before clipping]. */
  learnOn(b: TransitionBatch, targetMode: TargetMode = TargetMode.None, tau = 0, lr = this.o.lr): [number, number] {
    const n = b.n, A = this.A, o = this.o;
    if (b.obsDim !== this.obsDim) throw new Error(`WasmDqnEngine: batch obsDim ${b.obsDim} != ${this.obsDim}`);
    const v = this.ensure(n);
    const acts = b.actions;
    for (let r = 0; r < n; r++) {
      const a = acts[r]!;
      if (!(a >= 0 && a < A)) throw new Error(`action ${a} out of range [0, ${A})`);
    }
    const d = this.obsDim;
    v.obs.set(b.obs.length === n * d ? b.obs : b.obs.subarray(0, n * d));
    v.nextObs.set(b.nextObs.length === n * d ? b.nextObs : b.nextObs.subarray(0, n * d));
    v.actions.set(acts.length === n ? acts : acts.subarray(0, n));
    v.rewards.set(b.rewards.length === n ? b.rewards : b.rewards.subarray(0, n));
    v.terminated.set(b.terminated.length === n ? b.terminated : b.terminated.subarray(0, n));
    this.t++;
    const c1 = 1 - Math.pow(o.beta1, this.t), c2 = 1 - Math.pow(o.beta2, this.t);
    const loss = this.k.train_step(n, o.double ? 1 : 0, o.gammaN, o.huberDelta, o.maxGradNorm, lr / c1, c2, o.beta1, o.beta2, o.eps, targetMode, tau);
    return [loss, this.k.grad_norm()];
  }

  /** θ' ← θ (hard) or θ' ← τθ + (1 − τ)θ' (soft). */
  updateTarget(hard: boolean, tau: number): void {
    this.k.update_target(hard ? TargetMode.Hard : TargetMode.Soft, tau);
  }

  /** Greedy action for one observation through the kernel. */
  greedyAction(obs: ArrayLike<number>): number {
    const v = this.ensure(0), x = v.x1;
    for (let i = 0; i < this.obsDim; i++) x[i] = obs[i]!;
    return this.k.act(0);
  }

  /** Online parameters in the JS layout (into `out` if given). */
  getParameters(out: Float32Array = new Float32Array(this.net.size)): Float32Array {
    return this.unpack(this.ensure(0).P, out);
  }
  setParameters(p: Float32Array): void {
    this.pack(p, this.ensure(0).P);
  }
  getTarget(out: Float32Array = new Float32Array(this.net.size)): Float32Array {
    return this.unpack(this.ensure(0).T, out);
  }
  setTarget(p: Float32Array): void {
    this.pack(p, this.ensure(0).T);
  }
  getAdam(): { m: Float32Array; v: Float32Array; t: number } {
    const v = this.ensure(0);
    return { m: this.unpack(v.M, new Float32Array(this.net.size)), v: this.unpack(v.V, new Float32Array(this.net.size)), t: this.t };
  }
  setAdam(s: { m: Float32Array; v: Float32Array; t: number }): void {
    const v = this.ensure(0);
    this.pack(s.m, v.M);
    this.pack(s.v, v.V);
    this.t = s.t;
  }
}
