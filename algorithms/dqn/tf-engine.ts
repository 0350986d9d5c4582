/**
 * The same MLP DQN / Double DQN learning step written with tfjs ops (manual backward with explicit
 * tf.transpose before matMul, Huber gradient, global-norm clip, Adam, soft target update), all in one
 * tf.tidy. Kept as the measured alternative to the plain-JS engine (bench/agents.ts compares them per
 * backend). DqnAgent uses it when `engine` resolves to "tf" (MLP only); the JS engine stays the
 * source of truth for acting (weights are copied back after each update).
 */
import * as tf from "@tensorflow/tfjs";
import type { TransitionBatch } from "../../core/batch";
import type { QNetwork } from "./network";

export interface TfEngineOptions {
  double: boolean;
  gammaN: number;
  lr: number;
  beta1: number;
  beta2: number;
  eps: number;
  huberDelta: number;
  maxGradNorm: number;
}

export class TfDqnEngine {
  private readonly W: tf.Variable[] = [];
  private readonly b: tf.Variable[] = [];
  private readonly Wt: tf.Variable[] = [];
  private readonly bt: tf.Variable[] = [];
  private readonly m: tf.Variable[] = [];
  private readonly v: tf.Variable[] = [];
  private t = 0;
  constructor(readonly net: QNetwork, params: Float32Array, readonly o: TfEngineOptions) {
    if (net.spec.dueling) throw new Error("TfDqnEngine: MLP only");
    let off = 0;
    const entries = net.layout.entries;
    for (let i = 0; i < entries.length; i += 2) {
      const [ke, be] = [entries[i]!, entries[i + 1]!];
      const kn = ke.shape[0]! * ke.shape[1]!, bn = be.shape[0]!;
      const k = params.subarray(off, off + kn), bb = params.subarray(off + kn, off + kn + bn);
      off += kn + bn;
      // tidy disposes the initial values; the variables survive it
      tf.tidy(() => {
        this.W.push(tf.variable(tf.tensor2d(k, ke.shape as [number, number])));
        this.b.push(tf.variable(tf.tensor1d(bb)));
        this.Wt.push(tf.variable(tf.tensor2d(k, ke.shape as [number, number])));
        this.bt.push(tf.variable(tf.tensor1d(bb)));
        for (const s of [ke.shape, be.shape]) {
          this.m.push(tf.variable(tf.zeros(s)));
          this.v.push(tf.variable(tf.zeros(s)));
        }
      });
    }
  }

  private forward(W: tf.Tensor[], b: tf.Tensor[], x: tf.Tensor2D): { acts: tf.Tensor2D[]; q: tf.Tensor2D } {
    const acts: tf.Tensor2D[] = [x];
    let h = x;
    for (let l = 0; l < W.length; l++) {
      const z = tf.add(tf.matMul(h, W[l] as tf.Tensor2D), b[l]!) as tf.Tensor2D;
      h = l < W.length - 1 ? tf.relu(z) : z;
      if (l < W.length - 1) acts.push(h);
    }
    return { acts, q: h };
  }

  /** One learning step; returns [loss, gradNorm before clipping]. */
  learnOn(batch: TransitionBatch, lr = this.o.lr): [number, number] {
    const { n: B, obsDim: D } = batch;
    const A = this.net.spec.numActions, o = this.o;
    this.t++;
    const c1 = 1 - Math.pow(o.beta1, this.t), c2 = 1 - Math.pow(o.beta2, this.t);
    const stats = tf.tidy(() => {
      const x = tf.tensor2d(batch.obs, [B, D]);
      const nx = tf.tensor2d(batch.nextObs, [B, D]);
      const qt = this.forward(this.Wt, this.bt, nx).q;
      const best = tf.argMax(o.double ? this.forward(this.W, this.b, nx).q : qt, 1);
      const boot = tf.sum(tf.mul(qt, tf.oneHot(best, A)), 1);
      const notDone = tf.sub(1, tf.tensor1d(batch.terminated, "float32"));
      const y = tf.add(tf.tensor1d(batch.rewards), tf.mul(o.gammaN, tf.mul(notDone, boot)));
      const { acts, q } = this.forward(this.W, this.b, x);
      const mask = tf.oneHot(tf.tensor1d(batch.actions, "int32"), A);
      const d = tf.sub(tf.sum(tf.mul(q, mask), 1), y);
      const ad = tf.abs(d);
      const loss = tf.mean(tf.where(tf.lessEqual(ad, o.huberDelta), tf.div(tf.mul(0.5, tf.square(d)), o.huberDelta), tf.sub(ad, 0.5 * o.huberDelta)));
      const dqa = tf.div(tf.where(tf.lessEqual(tf.abs(d), o.huberDelta), tf.div(d, o.huberDelta), tf.sign(d)), B);
      let dZ = tf.mul(mask, tf.expandDims(dqa, 1)) as tf.Tensor2D;
      const grads: tf.Tensor[] = new Array(this.W.length * 2);
      for (let l = this.W.length - 1; l >= 0; l--) {
        grads[2 * l] = tf.matMul(tf.transpose(acts[l]!), dZ);
        grads[2 * l + 1] = tf.sum(dZ, 0);
        if (l > 0) dZ = tf.mul(tf.matMul(dZ, tf.transpose(this.W[l]!)), tf.step(acts[l]!)) as tf.Tensor2D;
      }
      const norm = tf.sqrt(tf.addN(grads.map((g) => tf.sum(tf.square(g)))));
      const scale = o.maxGradNorm > 0 ? tf.minimum(1, tf.div(o.maxGradNorm, tf.add(norm, 1e-6))) : tf.scalar(1);
      const params = this.W.flatMap((w, l) => [w, this.b[l]!]);
      grads.forEach((g0, i) => {
        const g = tf.mul(g0, scale);
        const m = tf.add(tf.mul(o.beta1, this.m[i]!), tf.mul(1 - o.beta1, g));
        const v = tf.add(tf.mul(o.beta2, this.v[i]!), tf.mul(1 - o.beta2, tf.square(g)));
        this.m[i]!.assign(m);
        this.v[i]!.assign(v);
        const p = tf.sub(params[i]!, tf.div(tf.mul(lr / c1, m), tf.add(tf.sqrt(tf.div(v, c2)), o.eps)));
        params[i]!.assign(p);
      });
      return tf.stack([loss, norm]);
    });
    const [loss, gradNorm] = stats.dataSync();
    stats.dispose();
    return [loss!, gradNorm!];
  }

  /** θ' ← θ (hard) or θ' ← τθ + (1 − τ)θ' (soft). */
  updateTarget(hard: boolean, tau: number): void {
    tf.tidy(() => {
      this.Wt.forEach((wt, l) => {
        wt.assign(hard ? this.W[l]! : tf.add(tf.mul(tau, this.W[l]!), tf.mul(1 - tau, wt)));
        this.bt[l]!.assign(hard ? this.b[l]! : tf.add(tf.mul(tau, this.b[l]!), tf.mul(1 - tau, this.bt[l]!)));
      });
    });
  }

  private static read(vars: tf.Variable[], size: number): Float32Array {
    const out = new Float32Array(size);
    let off = 0;
    for (const t of vars) {
      const d = t.dataSync() as Float32Array;
      out.set(d, off);
      off += d.length;
    }
    return out;
  }
  private static write(vars: tf.Variable[], p: Float32Array): void {
    let off = 0;
    for (const v of vars) {
      const n = v.size;
      const t = tf.tensor(p.subarray(off, off + n), v.shape);
      v.assign(t);
      t.dispose();
      off += n;
    }
  }
  private get online(): tf.Variable[] {
    return this.W.flatMap((w, l) => [w, this.b[l]!]);
  }
  private get targetVars(): tf.Variable[] {
    return this.Wt.flatMap((w, l) => [w, this.bt[l]!]);
  }
  setParameters(p: Float32Array): void {
    TfDqnEngine.write(this.online, p);
  }
  getTarget(): Float32Array {
    return TfDqnEngine.read(this.targetVars, this.net.size);
  }
  setTarget(p: Float32Array): void {
    TfDqnEngine.write(this.targetVars, p);
  }
  getAdam(): { m: Float32Array; v: Float32Array; t: number } {
    return { m: TfDqnEngine.read(this.m, this.net.size), v: TfDqnEngine.read(this.v, this.net.size), t: this.t };
  }
  setAdam(s: { m: Float32Array; v: Float32Array; t: number }): void {
    TfDqnEngine.write(this.m, s.m);
    TfDqnEngine.write(this.v, s.v);
    this.t = s.t;
  }

  /** Greedy action through tf ops (one observation). */
  greedyAction(obs: Float32Array): number {
    return tf.tidy(() => tf.argMax(this.forward(this.W, this.b, tf.tensor2d(obs, [1, obs.length])).q, 1).dataSync()[0]!);
  }

  /** Flat online parameters (syncs with the backend). */
  getParameters(): Float32Array {
    return TfDqnEngine.read(this.online, this.net.size);
  }

  dispose(): void {
    tf.dispose([...this.W, ...this.b, ...this.Wt, ...this.bt, ...this.m, ...this.v]);
  }
}
