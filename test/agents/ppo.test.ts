import { expect } from "chai";
import * as tf from "@tensorflow/tfjs";
import { spawnSync } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PpoAgent } from "../../algorithms/ppo/agent";
import { ppoBuilder } from "../../algorithms/ppo/builder";
import { parsePpoConfig, type PpoConfigInput } from "../../algorithms/ppo/config";
import { allocMinibatch, clippedSurrogate, gae, ppoLoss, valueLoss, type Term } from "../../algorithms/ppo/learning";
import { ActorCritic } from "../../algorithms/ppo/network";
import { Rollout } from "../../algorithms/ppo/rollout";
import { dirHandler } from "../../algorithms/dqn/checkpoint";
import { DqnAgent } from "../../algorithms/dqn/agent";
import { algorithmNamed } from "../../algorithms/registry";
import { Random } from "../../core/random";
import { ConfigError, loadExperiment, parseExperiment } from "../../launch/config";
import { runEmbedded } from "../../launch/embedded";
import { loadAgent } from "../../launch/checkpoints";

const tmp = () => mkdtemp(join(tmpdir(), "fedrl-ppo-"));
const bits = (a: Float32Array) => Buffer.from(a.buffer, a.byteOffset, a.byteLength);

/**
 * A deterministic toy env (3 observations, 3 actions): the next state depends on the action, episodes
 * terminate after 13 steps or are truncated after 9 (alternately), so rollouts see both endings.
 */
class ToyEnv {
  s = Float32Array.from([0.1, -0.2, 0.3]);
  t = 0;
  episode = 0;
  clone(): ToyEnv {
    const e = new ToyEnv();
    e.s = this.s.slice();
    e.t = this.t;
    e.episode = this.episode;
    return e;
  }
  step(a: number) {
    const obs = this.s.slice();
    const next = Float32Array.from(obs, (v, i) => Math.tanh(0.9 * v + 0.2 * (a - 1) * (i + 1) + 0.05 * this.t));
    this.t++;
    const limit = this.episode % 2 === 0 ? 13 : 9;
    const done = this.t >= limit;
    const terminated = done && this.episode % 2 === 0, truncated = done && !terminated;
    const reward = (a === 2 ? 1 : 0) + next[0]!;
    if (done) {
      this.episode++;
      this.t = 0;
      this.s = Float32Array.from([0.1 * (this.episode % 5), -0.2, 0.3]);
    } else this.s = next;
    return { obs, action: a, reward, nextObs: next, terminated, truncated };
  }
}

const SMALL: PpoConfigInput = { hidden: [8, 8], rolloutSteps: 32, minibatchSize: 8, epochs: 3, lr: 1e-2, entCoef: 0.01, valueClipRange: 0.2 };

/** act (explore) → env step → observe → update, `n` times; the actions taken. */
function drive(agent: PpoAgent, env: ToyEnv, n: number): number[] {
  const actions: number[] = [];
  for (let i = 0; i < n; i++) {
    const a = agent.act(env.s, "explore");
    agent.observe(env.step(a));
    agent.update();
    actions.push(a);
  }
  return actions;
}

describe("PPO config", () => {
  it("defaults are the SB3 / PPO-paper ones; unknown keys are refused naming the valid ones; bad values name the key", () => {
    const c = parsePpoConfig({});
    expect(c).to.include({ lr: 3e-4, gamma: 0.99, gaeLambda: 0.95, clipRange: 0.2, rolloutSteps: 2048, epochs: 10, minibatchSize: 64, vfCoef: 0.5, entCoef: 0, maxGradNorm: 0.5, activation: "tanh" });
    expect(c.hidden).to.deep.equal([64, 64]);
    expect(() => parsePpoConfig({ lr: 1e-3, learningRate: 1 })).to.throw(/unknown PPO config key\(s\): "learningRate"; valid: hidden, activation, lr, .*clipRange/);
    expect(() => parsePpoConfig({ gaeLambda: 2 })).to.throw(/"gaeLambda"/);
    expect(() => parsePpoConfig({ rolloutSteps: 32, minibatchSize: 64 })).to.throw(/"minibatchSize": 64 exceeds rolloutSteps 32/);
    expect(() => algorithmNamed("ppo").parseConfig({ epsilonDecay: 0.9 })).to.throw(/epsilonDecay/);
    expect(() => loadExperiment("configs/cartpole-ppo.yaml", ["agent.clip=0.1"], {})).to.throw(ConfigError, /agent: unknown PPO config key\(s\): "clip"; valid: /);
  });

  it("the builder: on-policy, one shipped group 'policy', no followers; initial weights are a function of config and seed", () => {
    const b = algorithmNamed("ppo");
    expect(b).to.equal(ppoBuilder);
    expect(b.offPolicy).to.equal(false);
    expect(b.shipped).to.equal("policy");
    expect(b.followers).to.deep.equal([]);
    const space = { obsDim: 4, actionCount: 2 };
    const c = b.parseConfig({ hidden: [16, 16] });
    const w0 = b.initialWeights(space, c, 3);
    expect(bits(b.initialWeights(space, c, 3)).equals(bits(w0))).to.equal(true);
    expect(bits(b.initialWeights(space, c, 4)).equals(bits(w0))).to.equal(false);
    const size = b.layout(space, c).entries.reduce((n, e) => n + e.shape.reduce((x, y) => x * y, 1), 0);
    expect(w0.length).to.equal(size);
    // an agent built with the run's init carries it, whatever its own seed
    const a = b.makeAgent(space, c, 77, w0);
    expect(bits(a.weights().policy!).equals(bits(w0))).to.equal(true);
  });
});

describe("GAE(λ)", () => {
  it("matches a hand-computed case with a terminated step, a truncated step and a rollout cut", () => {
    // rows: episode 1 = rows 0 → 1 (terminated); episode 2 = rows 2 → 3 (truncated); row 4 cut by the rollout end
    const rewards = [1, 2, 0.5, 1, -1];
    const values = [0.5, 1.0, 0.2, 0.4, 0.3];
    const terminated = [0, 1, 0, 0, 0];
    const next = [1, -1, 3, -1, -1];
    // V(s') of rows no later row continues: row 1's must be ignored (terminated), row 3's is V(final obs), row 4's V(s')
    const nextValue = [0, 99, 0, 0.6, 0.8];
    const adv = new Float64Array(5), ret = new Float64Array(5);
    gae(5, rewards, values, terminated, next, nextValue, 0.9, 0.8, adv, ret);
    // δ4 = −1 + 0.9·0.8 − 0.3 = −0.58                         A4 = −0.58
    // δ3 = 1 + 0.9·0.6 − 0.4 = 1.14 (truncated: bootstraps)   A3 = 1.14
    // δ2 = 0.5 + 0.9·0.4 − 0.2 = 0.66                         A2 = 0.66 + 0.72·1.14 = 1.4808
    // δ1 = 2 + 0 − 1 = 1 (terminated: no bootstrap)           A1 = 1
    // δ0 = 1 + 0.9·1 − 0.5 = 1.4                              A0 = 1.4 + 0.72·1 = 2.12
    const want = [2.12, 1, 1.4808, 1.14, -0.58];
    for (let i = 0; i < 5; i++) {
      expect(adv[i]).to.be.closeTo(want[i]!, 1e-12);
      expect(ret[i]).to.be.closeTo(want[i]! + values[i]!, 1e-12);
    }
    expect(() => gae(2, [0, 0], [0, 0], [1, 0], [1, -1], [0, 0], 0.9, 0.9, adv, ret)).to.throw(/terminated but links/);
  });

  it("the rollout links the interleaved steps of several envs by observation, and closes episodes that end", () => {
    const r = new Rollout(8, 1);
    const f = (x: number) => Float32Array.of(x);
    const push = (o: number, n: number, terminated = false, truncated = false) => r.push({ obs: f(o), action: 0, reward: 0, nextObs: f(n), terminated, truncated }, f(o), 0, 0);
    push(1, 2); // env A
    push(10, 20); // env B
    push(2, 3, true); // env A terminates
    push(20, 30); // env B
    push(5, 6); // env A, new episode
    push(30, 40, false, true); // env B truncated
    push(6, 7); // env A
    push(40, 41); // env B's reset observation happens to equal its final one: a truncated episode stays closed
    expect(Array.from(r.next)).to.deep.equal([2, 3, -1, 5, 6, -1, -1, -1]);
    expect(r.full).to.equal(true);
  });
});

describe("PPO losses", () => {
  const eps = 0.2;
  const t: Term = { loss: 0, grad: 0 };
  const cases: [string, number, number, number, number][] = [
    // name, ratio, advantage, loss, ∂loss/∂logπ
    ["ratio inside the range, A > 0", 1.1, 2, -2.2, -2.2],
    ["ratio inside the range, A < 0", 0.9, -2, 1.8, 1.8],
    ["ratio above 1 + ε, A > 0: clipped, no gradient", 1.5, 2, -2.4, 0],
    ["ratio above 1 + ε, A < 0: the unclipped term is the minimum", 1.5, -2, 3, 3],
    ["ratio below 1 − ε, A > 0: the unclipped term is the minimum", 0.5, 2, -1, -1],
    ["ratio below 1 − ε, A < 0: clipped, no gradient", 0.5, -2, 1.6, 0],
  ];
  for (const [name, ratio, A, loss, grad] of cases) {
    it(`clipped surrogate: ${name}`, () => {
      const oldLogp = -0.7, logp = oldLogp + Math.log(ratio);
      expect(clippedSurrogate(logp, oldLogp, A, eps, t)).to.be.closeTo(ratio, 1e-12);
      expect(t.loss).to.be.closeTo(loss, 1e-12);
      expect(t.grad).to.be.closeTo(grad, 1e-12);
      // and the gradient is the derivative of the loss (central difference in log π)
      const h = 1e-6, at = (lp: number) => (clippedSurrogate(lp, oldLogp, A, eps, t), t.loss);
      expect((at(logp + h) - at(logp - h)) / (2 * h)).to.be.closeTo(grad, 1e-6);
    });
  }

  it("value loss: ½(V − R)², and with clipping the larger of the plain and the clipped error", () => {
    const t: Term = { loss: 0, grad: 0 };
    valueLoss(1.5, 1, 1, 0, t);
    expect(t).to.deep.equal({ loss: 0.125, grad: 0.5 });
    // V moved 0.5 away from V_old = 1 towards R = 3: the clipped V (1.2) is further from R → its error, no gradient
    valueLoss(1.5, 1, 3, 0.2, t);
    expect(t.loss).to.be.closeTo(0.5 * 1.8 * 1.8, 1e-12);
    expect(t.grad).to.equal(0);
    // V moved past R: the plain error is the larger one
    valueLoss(1.5, 1, 1.1, 0.2, t);
    expect(t.loss).to.be.closeTo(0.5 * 0.4 * 0.4, 1e-12);
    expect(t.grad).to.be.closeTo(0.4, 1e-12);
    // inside V_old ± c both terms agree
    valueLoss(1.1, 1, 2, 0.2, t);
    expect(t.loss).to.be.closeTo(0.5 * 0.9 * 0.9, 1e-12);
    expect(t.grad).to.be.closeTo(-0.9, 1e-12);
  });
});

describe("PPO network gradients (finite differences)", () => {
  /** Central difference of f in parameter k, with the step as float32 actually stores it. */
  function fd(p: Float32Array, k: number, f: () => number): number {
    const p0 = p[k]!, h = 2 ** -11;
    p[k] = p0 + h;
    const hi = p[k]!, fp = f();
    p[k] = p0 - h;
    const lo = p[k]!, fm = f();
    p[k] = p0;
    return (fp - fm) / (hi - lo);
  }

  for (const activation of ["tanh", "relu"] as const) {
    it(`the whole PPO minibatch loss (clipped surrogate, entropy, clipped value loss): backprop = finite differences on every weight (${activation})`, () => {
      const rng = new Random(11);
      const net = new ActorCritic({ obsDim: 3, numActions: 3, hidden: [5, 4], activation });
      const p = net.init(rng.next);
      for (let i = 0; i < p.length; i++) p[i] += (rng.next() - 0.5) * 0.6; // away from the tiny policy head and zero biases
      const B = 6;
      const mb = allocMinibatch(B, 3, 3);
      mb.n = B;
      for (let i = 0; i < B * 3; i++) mb.obs[i] = rng.next() * 2 - 1;
      const ws = net.workspace(B);
      const logits = net.logits(p, mb.obs, B, ws), values = net.values(p, mb.obs, B, ws);
      for (let b = 0; b < B; b++) {
        mb.actions[b] = b % 3;
        const z = [0, 1, 2].map((j) => logits[b * 3 + j]!);
        const lse = Math.log(z.reduce((s, x) => s + Math.exp(x), 0));
        // old log-probs so that the rows' ratios fall inside, above and below the clip range
        mb.oldLogp[b] = z[b % 3]! - lse - [0.05, -0.5, 0.6][b % 3]!;
        mb.adv[b] = b % 2 ? 1.3 : -0.8;
        mb.oldValues[b] = values[b]! + [0.05, -0.5, 0.6][(b + 1) % 3]!;
        mb.returns[b] = values[b]! + 1 - b * 0.4;
      }
      const w = { clipRange: 0.2, valueClipRange: 0.2, vfCoef: 0.5, entCoef: 0.05 };
      const g = new Float64Array(net.size);
      ppoLoss(net, p, mb, w, ws, g);
      const scratch = new Float64Array(net.size);
      const loss = () => ppoLoss(net, p, mb, w, ws, scratch).loss;
      let checked = 0;
      for (let k = 0; k < net.size; k++) {
        const num = fd(p, k, loss);
        expect(g[k], `param ${k} (${activation})`).to.be.closeTo(num, 1e-6 + 1e-4 * Math.abs(num));
        if (g[k] !== 0) checked++;
      }
      expect(checked).to.be.greaterThan(net.size * (activation === "tanh" ? 0.9 : 0.6)); // the check exercised most weights (relu: some units are off)
    });
  }

  it("scoreGradient = ∂ log π(a|obs)/∂obs (finite differences on the input); actionScores are log-probabilities", () => {
    const agent = new PpoAgent({ obsDim: 4, numActions: 3, config: { hidden: [7, 5], seed: 2 } });
    const p = agent.getParameters();
    const rng = new Random(5);
    for (let i = 0; i < p.length; i++) p[i] += (rng.next() - 0.5) * 0.8;
    agent.setParameters(p);
    const obs = [0.25, -0.5, 0.75, 0.125];
    const s = agent.actionScores(obs);
    expect(s.reduce((a, x) => a + Math.exp(x), 0)).to.be.closeTo(1, 1e-6);
    for (let a = 0; a < 3; a++) {
      const g = agent.scoreGradient(obs, a);
      expect(g.length).to.equal(4);
      for (let i = 0; i < 4; i++) {
        const h = 2 ** -12; // obs ± h stay exact in float32
        const up = obs.slice(), dn = obs.slice();
        up[i]! += h;
        dn[i]! -= h;
        const num = (agent.actionScores(up)[a]! - agent.actionScores(dn)[a]!) / (2 * h);
        expect(g[i], `action ${a}, input ${i}`).to.be.closeTo(num, 2e-3 + 1e-3 * Math.abs(num));
      }
    }
    expect(Math.max(...Array.from(agent.scoreGradient(obs, 0)).map(Math.abs))).to.be.greaterThan(1e-3);
    expect(() => agent.scoreGradient(obs, 3)).to.throw(/action 3 out of range/);
  });
});

describe("PPO agent", () => {
  it("learns only when a rollout of rolloutSteps is full, returning the loss; greedy acting is argmax of the log-probabilities", () => {
    const agent = new PpoAgent({ obsDim: 3, numActions: 3, config: SMALL });
    const env = new ToyEnv();
    const before = agent.getParameters();
    for (let i = 0; i < 31; i++) {
      agent.observe(env.step(agent.act(env.s, "explore")));
      expect(agent.update()).to.equal(null);
    }
    agent.observe(env.step(agent.act(env.s, "explore")));
    const r = agent.update();
    expect(r).to.not.equal(null);
    expect(Number.isFinite(r!.loss)).to.equal(true);
    expect(r!.epochs).to.equal(3);
    expect(agent.progress()).to.deep.equal({ steps: 32, episodes: agent.episodes, updates: 3 * 4 });
    expect(agent.episodes).to.equal(2); // 13 steps terminated, 9 truncated
    expect(agent.rolloutSize).to.equal(0);
    expect(bits(agent.getParameters()).equals(bits(before))).to.equal(false);
    const obs = [0.1, 0.2, -0.3];
    const s = agent.actionScores(obs);
    expect(agent.act(obs, "greedy")).to.equal(s.indexOf(Math.max(...s)));
    // explore samples from π: frequencies follow exp(log π)
    const counts = [0, 0, 0];
    for (let i = 0; i < 3000; i++) counts[agent.act(obs, "explore")]!++;
    for (let j = 0; j < 3; j++) expect(counts[j]! / 3000).to.be.closeTo(Math.exp(s[j]!), 0.04);
  });

  it("records log π and V of when each action was taken, across interleaved envs and a weight change before observe()", () => {
    const agent = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed: 8 } });
    const e1 = new ToyEnv(), e2 = new ToyEnv();
    e2.s = Float32Array.from([-0.4, 0.5, 0.05]);
    // act for both envs first (a vectorised actor), then observe both
    const o1 = e1.s.slice(), o2 = e2.s.slice();
    const a1 = agent.act(o1, "explore"), a2 = agent.act(o2, "explore");
    const lp1 = agent.actionScores(o1)[a1]!, lp2 = agent.actionScores(o2)[a2]!;
    // a federated merge lands between acting and observing: the rollout keeps the acting policy's numbers
    const other = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed: 9 } });
    agent.setWeights(other.weights());
    agent.observe(e1.step(a1));
    agent.observe(e2.step(a2));
    // an action not taken through act(): scored when observed, under the current weights
    const o3 = e1.s.slice();
    agent.observe(e1.step(1));
    const snap = agent.rolloutSnapshot();
    expect(snap.logp[0]).to.be.closeTo(lp1, 1e-6);
    expect(snap.logp[1]).to.be.closeTo(lp2, 1e-6);
    expect(snap.logp[2]).to.be.closeTo(other.actionScores(o3)[1]!, 1e-6);
    expect(snap.logp[0]).to.not.be.closeTo(other.actionScores(o1)[a1]!, 1e-6);
    expect(snap.next).to.deep.equal([2, -1, -1]); // env 1's second step continues row 0, not row 1
  });

  it("weights() is one group 'policy' of the layout's size; setWeights replaces it and refuses wrong sizes and non-finite values", () => {
    const a = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed: 1 } });
    const b = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed: 2 } });
    const w = a.weights();
    expect(Object.keys(w)).to.deep.equal(["policy"]);
    expect(w.policy!.length).to.equal(a.layout().entries.reduce((n, e) => n + e.shape.reduce((x, y) => x * y, 1), 0));
    expect(a.layout().entries.map((e) => e.name)).to.include.members(["pi_logits/kernel", "v_out/bias"]);
    expect(a.layout().hash).to.equal(b.layout().hash);
    w.policy![0] = 123; // a copy
    expect(a.weights().policy![0]).to.not.equal(123);
    b.setWeights(a.weights());
    expect(bits(b.weights().policy!).equals(bits(a.weights().policy!))).to.equal(true);
    expect(b.actionScores([0.3, 0.1, -0.2])).to.deep.equal(a.actionScores([0.3, 0.1, -0.2]));
    b.setWeights({ target: new Float32Array(3) }); // groups PPO does not have are ignored
    expect(() => b.setWeights({ policy: new Float32Array(5) })).to.throw(/expected Float32Array of \d+, got 5/);
    const bad = a.weights().policy!;
    bad[7] = NaN;
    expect(() => b.setWeights({ policy: bad })).to.throw(/non-finite value at 7/);
  });

  it("is deterministic for a seed (actions and weights bit for bit over 3 rollouts), and differs across seeds", () => {
    const run = (seed: number) => {
      const a = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed } });
      const acts = drive(a, new ToyEnv(), 100);
      return { acts, w: a.getParameters() };
    };
    const x = run(4), y = run(4), z = run(5);
    expect(y.acts).to.deep.equal(x.acts);
    expect(bits(y.w).equals(bits(x.w))).to.equal(true);
    expect(bits(z.w).equals(bits(x.w))).to.equal(false);
  });

  it("save / restore round-trips bit for bit mid-rollout (weights, Adam, counters, RNG, the rollout); load() rebuilds it; tfjs reads the model", async () => {
    const a = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed: 3 } });
    const env = new ToyEnv();
    drive(a, env, 45); // one update, 13 rows into the next rollout
    const dir = await tmp();
    await a.save(dir);
    await a.saveReplay(dir);
    const env2 = env.clone();
    const actsA = drive(a, env, 60); // two more updates
    const b = new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, seed: 99 } });
    await b.restore(dir);
    expect(await b.restoreReplay(dir)).to.equal(true);
    expect(b.rolloutSize).to.equal(13);
    expect(drive(b, env2.clone(), 60)).to.deep.equal(actsA);
    expect(bits(b.getParameters()).equals(bits(a.getParameters()))).to.equal(true);
    expect(b.progress()).to.deep.equal(a.progress());
    const c = await PpoAgent.load(dir);
    expect(c.config).to.deep.equal(a.config);
    await c.restoreReplay(dir);
    expect(drive(c, env2.clone(), 60)).to.deep.equal(actsA);
    expect(bits(c.getParameters()).equals(bits(a.getParameters()))).to.equal(true);
    // the builder loads it too; stock tfjs reads model.json + weights.bin: [logits, value]
    const viaBuilder = await ppoBuilder.load(dir);
    const fresh = await PpoAgent.load(dir);
    const model = await tf.loadLayersModel(dirHandler(dir));
    const obs = [0.2, -0.1, 0.4];
    const [logits, value] = model.predict(tf.tensor2d([obs])) as tf.Tensor[];
    const lp = tf.logSoftmax(logits!).dataSync();
    const mine = fresh.actionScores(obs);
    for (let j = 0; j < 3; j++) expect(lp[j]).to.be.closeTo(mine[j]!, 1e-5);
    expect(value!.shape).to.deep.equal([1, 1]);
    expect(viaBuilder.actionScores!(obs)).to.deep.equal(mine);
    tf.dispose([logits!, value!]);
    model.dispose();
  });

  it("restore refuses another network's checkpoint and a DQN checkpoint, naming the mismatch", async () => {
    const dir = await tmp();
    await new PpoAgent({ obsDim: 3, numActions: 3, config: { ...SMALL, hidden: [8] } }).save(dir);
    let err = "";
    await new PpoAgent({ obsDim: 3, numActions: 3, config: SMALL }).restore(dir).catch((e) => (err = e.message));
    expect(err).to.match(/does not match agent/);
    const dqnDir = await tmp();
    await new DqnAgent({ obsDim: 3, numActions: 3, config: { hidden: [8] } }).save(dqnDir);
    err = "";
    await new PpoAgent({ obsDim: 3, numActions: 3, config: SMALL }).restore(dqnDir).catch((e) => (err = e.message));
    expect(err).to.match(/not a PPO checkpoint/);
  });
});

describe("PPO in runs", function () {
  this.timeout(120_000);
  const exp = (mode: string, extra: Record<string, unknown> = {}) => parseExperiment({
    run: `ppo-${mode}`, mode, algorithm: "ppo", clock: "steps", env: { id: "CartPole-v1" },
    agent: { hidden: [32, 32], rolloutSteps: 512, minibatchSize: 64, epochs: 4, lr: 1e-3 },
    actors: { count: 2, weights: { ms: 1000, steps: 512 } },
    aggregator: { interval: { ms: 1000, steps: 512 } },
    budget: { stepsPerActor: 3200 }, eval: { episodes: 2 }, ...extra,
  });

  it("mode hybrid with ppo is refused with one line (on-policy: use fedavg or local) when the config is read, before any run starts", async () => {
    let err: unknown;
    try { exp("hybrid"); } catch (e) { err = e; }
    expect(err).to.be.instanceOf(ConfigError);
    const msg = (err as Error).message;
    expect(msg).to.match(/^config: mode hybrid trains a pooled learner .* off-policy algorithm; ppo is on-policy: use mode fedavg or local$/);
    expect(msg).to.not.include("\n");
    const dir = await tmp();
    const r = spawnSync(process.execPath, ["bin/fedrl.mjs", "run", "--config", "configs/cartpole-ppo.yaml", "--set", "mode=hybrid", "--set", `runDir=${dir}/run`], { encoding: "utf8", env: { ...process.env, NATS_URL: "", REDIS_URL: "", FEDRL_DEBUG: "" } });
    expect(r.status, r.stderr).to.equal(2);
    const errors = r.stderr.split("\n").filter((l) => /error/i.test(l));
    expect(errors).to.have.length(1);
    expect(errors[0]).to.match(/^config error: configs\/cartpole-ppo\.yaml \(with --set\): mode hybrid trains a pooled learner .* use mode fedavg or local$/);
    expect(r.stderr).to.not.match(/\n\s+at /);
    expect(existsSync(join(dir, "run")), "no run folder is made").to.equal(false);
  });

  it("fedrl eval and fedrl export read a PPO checkpoint (its builder, from state.json's algorithm)", async () => {
    const dir = await tmp();
    const agent = new PpoAgent({ obsDim: 4, numActions: 2, config: SMALL });
    await agent.save(join(dir, "ck"));
    const loaded = await loadAgent(join(dir, "ck"));
    expect(loaded).to.be.instanceOf(PpoAgent);
    expect(Array.from(loaded.weights().policy!)).to.deep.equal(Array.from(agent.weights().policy!));
    loaded.dispose();
    agent.dispose();
    const ev = spawnSync(process.execPath, ["bin/fedrl.mjs", "eval", "--checkpoint", join(dir, "ck"), "--env", "CartPole-v1", "--episodes", "2", "--json"], { encoding: "utf8", env: { ...process.env, NATS_URL: "", REDIS_URL: "" } });
    expect(ev.status, ev.stderr).to.equal(0);
    const out = JSON.parse(ev.stdout.trim().split("\n").pop()!) as { episodes: number; mean: number };
    expect(out.episodes).to.equal(2);
    expect(Number.isFinite(out.mean)).to.equal(true);
    const ex = spawnSync(process.execPath, ["bin/fedrl.mjs", "export", "--checkpoint", join(dir, "ck"), "--out", join(dir, "out")], { encoding: "utf8" });
    expect(ex.status, ex.stderr).to.equal(0);
    const doc = JSON.parse(readFileSync(join(dir, "out", "weights.json"), "utf8")) as { algorithm: string; obsDim: number; numActions: number };
    expect(doc).to.include({ algorithm: "ppo", obsDim: 4, numActions: 2 });
  });

  it("local: 2 PPO actors learn alone for 3200 steps each (6 rollouts of 512) and end with a finite model", async () => {
    const dir = await tmp();
    const s = await runEmbedded(exp("local", { runDir: dir }), { writeMetrics: false, checkpoint: true });
    for (const a of s.actors) {
      expect(a.steps).to.equal(3200);
      expect(a.updates).to.equal(6 * 4 * 8); // rollouts × epochs × minibatches
      expect(a.bytesSent).to.equal(0);
    }
    expect(Number.isFinite(s.eval.mean)).to.equal(true);
    const agent = await PpoAgent.load(join(dir, "actor-0-checkpoint"));
    expect(agent.steps).to.equal(3200);
    expect(agent.rolloutSize).to.equal(0); // the rollout in progress is saveReplay's
    expect(await agent.restoreReplay(join(dir, "actor-0-checkpoint"))).to.equal(true);
    expect(agent.rolloutSize).to.equal(3200 - 6 * 512);
    expect(agent.getParameters().every(Number.isFinite)).to.equal(true);
  });

  it("fedavg: rounds average the PPO actors' policy group and actors adopt it; the global model is finite", async () => {
    const s = await runEmbedded(exp("fedavg", { run: "ppo-fedavg-emb" }), { writeMetrics: false });
    expect(s.server!.rounds).to.be.greaterThan(0);
    expect(s.globalModel?.finite).to.equal(true);
    for (const a of s.actors) {
      expect(a.steps).to.equal(3200);
      expect(a.updates).to.be.greaterThan(0);
      expect(a.weightsSent).to.be.greaterThan(0);
      expect(a.batchesSent).to.equal(0);
      expect(a.globalVersion).to.be.greaterThan(0);
    }
    expect(Number.isFinite(s.eval.mean)).to.equal(true);
  });

  it("fedavg on the step clock: stop mid-rollout, resume to the full budget = the uninterrupted run, bit for bit", async () => {
    const full = await tmp(), part = await tmp();
    const at = (dir: string, steps: number) => exp("fedavg", { run: "ppo-resume", runDir: dir, budget: { stepsPerActor: steps }, eval: { episodes: 0 } });
    await runEmbedded(at(full, 3200), { writeMetrics: false, checkpoint: true });
    await runEmbedded(at(part, 1600), { writeMetrics: false, checkpoint: true }); // 3 rollouts of 512 + 64 rows
    await runEmbedded(at(part, 3200), { writeMetrics: false, checkpoint: true, resume: true });
    for (const i of [0, 1]) {
      const a = await PpoAgent.load(join(full, `actor-${i}-checkpoint`)), b = await PpoAgent.load(join(part, `actor-${i}-checkpoint`));
      expect(b.progress(), `actor-${i}`).to.deep.equal(a.progress());
      expect(bits(b.getParameters()).equals(bits(a.getParameters())), `actor-${i} weights`).to.equal(true);
    }
  });
});
