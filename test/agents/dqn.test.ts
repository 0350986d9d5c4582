import { expect } from "chai";
import * as tf from "@tensorflow/tfjs";
import { DqnAgent } from "../../algorithms/dqn/agent";
import { parseDqnConfig } from "../../algorithms/dqn/config";
import { NStepAccumulator, huberLossGrad } from "../../algorithms/dqn/learning";
import { Random as Rng } from "../../core/random";
import type { Transition } from "../../core/batch";
import { QNetwork } from "../../algorithms/dqn/network";
import { allocBatch, syntheticBatch, type TransitionBatch } from "../../core/batch";
import { EpsilonTracker, epsilonAt } from "../../algorithms/schedule";

/** obs 2 → hidden [2] → 2 actions; dense0 = identity so h = relu(x). */
const ID0 = [1, 0, 0, 1, 0, 0];
const ONLINE = new Float32Array([...ID0, 0, 1, 1, 0, 0, 0]); // Q = [h1, h0]
const TARGET = new Float32Array([...ID0, 1, 0, 0, 1, 0, 0]); // Q = [h0, h1]

function tinyAgent(algorithm: "dqn" | "double", gamma = 0.9): DqnAgent {
  const a = new DqnAgent({ obsDim: 2, numActions: 2, config: { hidden: [2], algorithm, gamma } });
  a.setParameters(TARGET);
  a.syncTarget();
  a.setParameters(ONLINE);
  return a;
}

function handBatch(): TransitionBatch {
  const b = allocBatch(4, 2);
  b.nextObs.set([1, 0.2, /**/ 0.5, 3, /**/ 1, 0.2, /**/ -1, 0.25]);
  b.rewards.set([1, -2, 0.5, 0]);
  b.terminated.set([0, 0, 1, 0]);
  b.truncated.set([0, 0, 0, 1]);
  return b;
}

function randomBatch(n: number, obsDim: number, A: number, rng: Rng): TransitionBatch {
  return syntheticBatch(n, obsDim, A, rng, { pTruncated: 0.05 });
}

describe("DQN config", () => {
  it("defaults are the seed client's", () => {
    const c = parseDqnConfig({});
    expect(c).to.include({ lr: 5e-4, batchSize: 64, gamma: 0.99, tau: 1e-3, learnEvery: 4, epsilonStart: 1, epsilonEnd: 0.01, epsilonDecay: 0.995, replayCapacity: 100_000 });
    expect(c.hidden).to.deep.equal([64, 64]);
  });
  it("rejects unknown keys by name and bad values by path", () => {
    expect(() => parseDqnConfig({ lr: 1e-3, learningRate: 1 })).to.throw(/learningRate/);
    expect(() => parseDqnConfig({ gamma: 2 })).to.throw(/gamma/);
    expect(() => new DqnAgent({ obsDim: 4, numActions: 2, config: { hiden: [3] } as never })).to.throw(/hiden/);
  });
});

describe("epsilon schedules", () => {
  it("linear reaches end after `steps` env steps; exponential decays per episode", () => {
    const lin = new EpsilonTracker({ kind: "linear", start: 1, end: 0.1, steps: 10 });
    for (let i = 0; i < 5; i++) lin.onStep();
    expect(lin.value).to.be.closeTo(0.55, 1e-12);
    for (let i = 0; i < 20; i++) lin.onStep();
    expect(lin.value).to.equal(0.1);
    const ex = new EpsilonTracker({ kind: "exponential", start: 1, end: 0.5, decay: 0.9 });
    ex.onStep();
    expect(ex.value).to.equal(1);
    ex.onEpisodeEnd();
    ex.onEpisodeEnd();
    expect(ex.value).to.be.closeTo(0.81, 1e-12);
    for (let i = 0; i < 100; i++) ex.onEpisodeEnd();
    expect(ex.value).to.equal(0.5);
    expect(epsilonAt({ kind: "exponential", start: 1, end: 0.01, decay: 0.995 }, 0, 2)).to.be.closeTo(0.990025, 1e-12);
  });
  it("agent decays ε at episode ends (exponential)", () => {
    const a = new DqnAgent({ obsDim: 2, numActions: 2, config: { hidden: [4] } });
    const t: Transition = { obs: [0, 0], action: 0, reward: 0, nextObs: [0, 0], terminated: false, truncated: false };
    a.observe(t);
    expect(a.epsilon).to.equal(1);
    a.observe({ ...t, truncated: true });
    a.observe({ ...t, terminated: true });
    expect(a.episodes).to.equal(2);
    expect(a.epsilon).to.be.closeTo(0.995 * 0.995, 1e-12);
  });
});

describe("TD targets on a hand-made batch", () => {
  // next states s' and Q(s') by hand:  Q_target = relu(s'),  Q_online = relu(s') swapped
  //   row0 s'=[1, .2]:  Qt=[1, .2]   Qo=[.2, 1] → online argmax 1
  //   row1 s'=[.5, 3]:  Qt=[.5, 3]   Qo=[3, .5] → online argmax 0
  //   row2 terminated → y = r
  //   row3 s'=[-1, .25] truncated → still bootstraps: Qt=[0, .25], Qo=[.25, 0] → online argmax 0
  it("DQN: y = r + γ (1 − terminated) max_a Q_target(s', a)", () => {
    const y = tinyAgent("dqn").tdTargets(handBatch());
    const want = [1 + 0.9 * 1, -2 + 0.9 * 3, 0.5, 0 + 0.9 * 0.25];
    want.forEach((w, i) => expect(y[i]).to.be.closeTo(w, 1e-6));
  });
  it("Double DQN: y = r + γ (1 − terminated) Q_target(s', argmax_a Q_online(s', a))", () => {
    const y = tinyAgent("double").tdTargets(handBatch());
    const want = [1 + 0.9 * 0.2, -2 + 0.9 * 0.5, 0.5, 0 + 0.9 * 0];
    want.forEach((w, i) => expect(y[i]).to.be.closeTo(w, 1e-6));
  });
  it("n-step config bootstraps with γⁿ", () => {
    const a = new DqnAgent({ obsDim: 2, numActions: 2, config: { hidden: [2], gamma: 0.9, nStep: 3 } });
    a.setParameters(TARGET);
    a.syncTarget();
    const y = a.tdTargets(handBatch());
    expect(y[0]).to.be.closeTo(1 + 0.729 * 1, 1e-6);
  });
  it("Huber loss gradient: quadratic inside δ, linear outside, only at the taken action", () => {
    const q = new Float32Array([0, 5, 1, 2]);
    const dQ = new Float32Array(4);
    const loss = huberLossGrad(q, new Int32Array([1, 0]), new Float32Array([4.5, 4]), 2, 2, 1, dQ);
    expect(loss).to.be.closeTo((0.5 * 0.25 + (3 - 0.5)) / 2, 1e-6);
    expect(Array.from(dQ)).to.deep.equal([0, 0.25, -0.5, 0]);
  });
});

describe("Q-networks", () => {
  it("dueling aggregation: Q = V + A − mean(A)", () => {
    const a = new DqnAgent({ obsDim: 2, numActions: 3, config: { hidden: [2], dueling: true } });
    expect(a.layout().entries.map((e) => e.name)).to.deep.equal(["dense0/kernel", "dense0/bias", "value/kernel", "value/bias", "advantage/kernel", "advantage/bias"]);
    // h = relu(x); V = 2 h0 − h1 + 0.5; A = [h0, h1, 3 h0 + h1] + [0, 1, −1]
    const p = new Float32Array([...ID0, 2, -1, 0.5, 1, 0, 3, 0, 1, 1, 0, 1, -1]);
    a.setParameters(p);
    const x = [0.5, 2];
    const V = 2 * 0.5 - 2 + 0.5;
    const A = [0.5, 2 + 1, 1.5 + 2 - 1];
    const mean = (A[0]! + A[1]! + A[2]!) / 3;
    const q = a.qValues(x);
    A.forEach((ai, j) => expect(q[j]).to.be.closeTo(V + ai - mean, 1e-6));
    expect(a.greedyAction(x)).to.equal(1);
  });
  it("MLP default is obs→64→64→A; LunarLander sizes 8→64→64→4", () => {
    const a = new DqnAgent({ obsDim: 8, numActions: 4 });
    expect(a.layout().entries.map((e) => e.shape)).to.deep.equal([[8, 64], [64], [64, 64], [64], [64, 4], [4]]);
    expect(a.getParameters().length).to.equal(8 * 64 + 64 + 64 * 64 + 64 + 64 * 4 + 4);
  });
  for (const dueling of [false, true]) {
    it(`backward matches finite differences (${dueling ? "dueling" : "MLP"}, batch 7)`, () => {
      const net = new QNetwork({ obsDim: 5, numActions: 3, hidden: [6, 4], dueling });
      const rng = new Rng(7);
      const p = net.init(rng.next);
      const B = 7;
      const x = Float32Array.from({ length: B * 5 }, () => rng.next() * 2 - 1);
      const dQ = Float32Array.from({ length: B * 3 }, () => rng.next() * 2 - 1);
      const ws = net.workspace(B);
      const L = (pp: Float32Array) => {
        const q = net.forward(pp, x, B, ws);
        let s = 0;
        for (let i = 0; i < q.length; i++) s += q[i]! * dQ[i]!;
        return s;
      };
      net.forward(p, x, B, ws);
      const g = new Float32Array(net.size);
      net.backward(p, x, B, ws, dQ, g);
      const h = 1e-2;
      let checked = 0;
      for (let i = 0; i < net.size; i++) {
        const pp = p.slice();
        pp[i] = p[i]! + h;
        const up = L(pp);
        pp[i] = p[i]! - h;
        const dn = L(pp);
        const fd = (up - dn) / (2 * h);
        expect(g[i]).to.be.closeTo(fd, 2e-3 + 2e-2 * Math.abs(fd), `param ${i}`);
        checked++;
      }
      expect(checked).to.equal(net.size);
    });
  }
});

describe("parameters", () => {
  it("get → set → get round-trips; wrong length throws; target untouched by setParameters", () => {
    const a = new DqnAgent({ obsDim: 4, numActions: 2, config: { seed: 1 } });
    const b = new DqnAgent({ obsDim: 4, numActions: 2, config: { seed: 2 } });
    expect(a.layout().hash).to.equal(b.layout().hash);
    const p = a.getParameters();
    expect(Array.from(p)).to.not.deep.equal(Array.from(b.getParameters()));
    const bt = b.getTargetParameters();
    b.setParameters(p);
    expect(b.getParameters()).to.deep.equal(p);
    expect(b.getTargetParameters()).to.deep.equal(bt);
    const q = b.getParameters();
    q[0] = 123; // a copy, not a view
    expect(b.getParameters()[0]).to.not.equal(123);
    expect(() => b.setParameters(new Float32Array(p.length - 1))).to.throw(/expected Float32Array/);
    expect(() => b.setParameters(new Float32Array(p.length + 1))).to.throw();
  });
  it("learnOn reduces the TD loss on a fixed batch and update() samples the local replay", () => {
    const rng = new Rng(3);
    const a = new DqnAgent({ obsDim: 3, numActions: 2, config: { hidden: [16], lr: 1e-2, learningStarts: 10, batchSize: 8, targetUpdate: "hard", targetUpdateEvery: 1000 } });
    const b = randomBatch(32, 3, 2, rng);
    const first = a.learnOn(b).loss;
    let last = first;
    for (let i = 0; i < 200; i++) last = a.learnOn(b).loss;
    expect(last).to.be.lessThan(first * 0.5);
    const u0 = a.updates;
    expect(a.update()).to.equal(null); // empty replay
    for (let i = 0; i < 12; i++) a.observe({ obs: [i, 0, 0], action: i % 2, reward: 1, nextObs: [i + 1, 0, 0], terminated: false, truncated: false });
    expect(a.update()).to.not.equal(null);
    expect(a.updates).to.equal(u0 + 1);
    expect(a.update()).to.equal(null); // not due until learnEvery more steps
  });

  it("lrDecayUpdates moves the learning rate linearly to lrEnd on every engine; lrEnd 0 then freezes the weights", () => {
    for (const engine of ["js", "wasm", "tf"] as const) {
      const rng = new Rng(5);
      const a = new DqnAgent({ obsDim: 3, numActions: 2, config: { hidden: [16], lr: 1e-2, lrDecayUpdates: 4, lrEnd: 0, batchSize: 8, targetUpdate: "hard", targetUpdateEvery: 1000, engine } });
      const b = randomBatch(8, 3, 2, rng);
      const lrs: number[] = [];
      for (let i = 0; i < 4; i++) {
        lrs.push(a.lr);
        a.learnOn(b);
      }
      expect(lrs.map((x) => +x.toFixed(6)), engine).to.deep.equal([0.01, 0.0075, 0.005, 0.0025]);
      expect(a.lr).to.equal(0);
      const before = a.getParameters().slice();
      a.learnOn(b);
      expect(Array.from(a.getParameters()), engine).to.deep.equal(Array.from(before));
      a.dispose();
    }
    // Without the decay the lr is constant, and a step moves the weights.
    const c = new DqnAgent({ obsDim: 3, numActions: 2, config: { hidden: [16], lr: 1e-2, batchSize: 8 } });
    const w = c.getParameters().slice();
    c.learnOn(randomBatch(8, 3, 2, new Rng(6)));
    expect(c.lr).to.equal(0.01);
    expect(Array.from(c.getParameters())).to.not.deep.equal(Array.from(w));
  });
});

describe("no tensor leaks", () => {
  it("numTensors is flat over many updates, action selections and a save", async function () {
    this.timeout(30_000);
    await tf.ready();
    const a = new DqnAgent({ obsDim: 8, numActions: 4, config: { learningStarts: 64 } });
    const rng = new Rng(11);
    const obs = new Float32Array(8);
    const step = () => {
      for (let i = 0; i < 8; i++) obs[i] = rng.next();
      const act = a.selectAction(obs);
      a.observe({ obs, action: act, reward: rng.next(), nextObs: obs, terminated: rng.next() < 0.02, truncated: false });
      a.update();
    };
    for (let i = 0; i < 200; i++) step();
    const dir = await import("node:fs/promises").then((fs) => fs.mkdtemp("/tmp/fedrl-leak-"));
    await a.save(dir);
    const before = tf.memory().numTensors;
    for (let i = 0; i < 2000; i++) step();
    await a.save(dir);
    await a.restore(dir);
    expect(a.updates).to.be.greaterThan(400);
    expect(tf.memory().numTensors).to.equal(before);
    a.dispose();
  });
});

describe("n-step returns", () => {
  const s = (i: number) => [i, -i];
  const tr = (i: number, r: number, terminated = false, truncated = false): Transition => ({ obs: s(i), action: i % 2, reward: r, nextObs: s(i + 1), terminated, truncated });
  it("n = 3, γ = 0.5 over a terminated 5-step episode", () => {
    const acc = new NStepAccumulator(3, 0.5);
    const out: Transition[] = [];
    out.push(...acc.push(tr(0, 1)));
    expect(out.length).to.equal(0);
    out.push(...acc.push(tr(1, 2)));
    out.push(...acc.push(tr(2, 3)));
    expect(out.length).to.equal(1);
    out.push(...acc.push(tr(3, 4)));
    out.push(...acc.push(tr(4, 5, true)));
    expect(acc.pending).to.equal(0);
    expect(out.map((t) => t.reward)).to.deep.equal([1 + 0.5 * 2 + 0.25 * 3, 2 + 0.5 * 3 + 0.25 * 4, 3 + 0.5 * 4 + 0.25 * 5, 4 + 0.5 * 5, 5]);
    expect(out.map((t) => Array.from(t.obs)[0])).to.deep.equal([0, 1, 2, 3, 4]);
    expect(out.map((t) => Array.from(t.nextObs)[0])).to.deep.equal([3, 4, 5, 5, 5]);
    expect(out.map((t) => t.action)).to.deep.equal([0, 1, 0, 1, 0]);
    expect(out.map((t) => t.terminated)).to.deep.equal([false, false, true, true, true]);
  });
  it("truncation flushes the tail with truncated set (and does not leak into the next episode)", () => {
    const acc = new NStepAccumulator(2, 1);
    const a = [...acc.push(tr(0, 1)), ...acc.push(tr(1, 1, false, true))];
    expect(a.map((t) => [t.reward, t.truncated, t.terminated])).to.deep.equal([[2, true, false], [1, true, false]]);
    const b = acc.push(tr(10, 7));
    expect(b.length).to.equal(0);
    expect(acc.push(tr(11, 1))[0]!.reward).to.equal(8);
  });
  it("n = 1 passes transitions through", () => {
    const t = tr(0, 3);
    expect(new NStepAccumulator(1, 0.9).push(t)).to.deep.equal([t]);
  });
});
