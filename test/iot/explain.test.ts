import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DqnAgent } from "../../algorithms/dqn/agent";
import { Random } from "../../core/random";
import { INTRUSION_OBS_FIELDS, INTRUSION_OBS_SIZE } from "../../envs/iot/intrusion";
import { integratedGradients, permutationImportance, scoreModelOf, type ScoreModel } from "../../launch/attribution";
import { parseExperiment } from "../../launch/config";
import { trainingSeedRanges } from "../../launch/detection";

const D = INTRUSION_OBS_SIZE, A = 6;
const agentOf = (o: { dueling?: boolean; seed?: number; hidden?: number[] } = {}) =>
  new DqnAgent({ obsDim: D, numActions: A, config: { hidden: o.hidden ?? [32, 32], dueling: o.dueling ?? false, seed: o.seed ?? 1 } });
const rand = (rng: Random, n = D) => Float32Array.from({ length: n }, () => rng.next());

describe("DqnAgent.scoreGradient: exact input gradient", () => {
  for (const dueling of [false, true]) {
    it(`matches central finite differences of Q(x, a) (${dueling ? "dueling" : "MLP"} net)`, () => {
      const agent = agentOf({ dueling, seed: 7 });
      const rng = new Random(11);
      let checked = 0;
      for (let t = 0; t < 20; t++) {
        const x = Float64Array.from(rand(rng));
        const a = t % A;
        const g = agent.scoreGradient(x, a);
        expect(g).to.have.length(D);
        const h = 1e-3;
        for (let i = 0; i < D; i++) {
          const at = (d: number) => { const y = Float64Array.from(x); y[i] += d; return agent.actionScores(y)[a]!; };
          const f0 = at(0), fp = at(h), fm = at(-h);
          // a ReLU kink between x − h and x + h makes the one-sided slopes differ: no derivative to compare there
          if (Math.abs((fp - f0) - (f0 - fm)) > 1e-4) continue;
          expect(g[i]!, `row ${t} field ${i}`).to.be.closeTo((fp - fm) / (2 * h), 2e-3 + 1e-2 * Math.abs(g[i]!));
          checked++;
        }
      }
      expect(checked).to.be.greaterThan(0.95 * 20 * D);
    });
  }

  it("the batched gradients equal the one-row ones, and leave the agent's decisions and weights as they were", () => {
    const agent = agentOf({ seed: 3 });
    const rng = new Random(5);
    const B = 70; // more than one 64-row chunk
    const X = rand(rng, B * D);
    const actions = Int32Array.from({ length: B }, (_, r) => r % A);
    const w0 = agent.getParameters();
    const before = agent.act(X.subarray(0, D), "greedy");
    const G = agent.scoreGradients(X, B, actions);
    for (const r of [0, 1, 63, 64, 69]) expect(Array.from(G.subarray(r * D, (r + 1) * D))).to.deep.equal(Array.from(agent.scoreGradient(X.subarray(r * D, (r + 1) * D), actions[r]!)));
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(w0));
    expect(agent.act(X.subarray(0, D), "greedy")).to.equal(before);
    expect(() => agent.scoreGradient(X.subarray(0, D), A)).to.throw(RangeError);
    expect(() => agent.scoreGradient(X.subarray(0, D - 1), 0)).to.throw(/expected 38/);
  });
});

describe("integrated gradients", () => {
  it("are exact on a quadratic score: IGᵢ = cᵢ (xᵢ² − bᵢ²)", () => {
    const c = Float64Array.from({ length: 5 }, (_, i) => i - 2);
    const quad: ScoreModel = {
      obsDim: 5, actionCount: 1,
      scores: (x, B) => Float32Array.from({ length: B }, (_, r) => c.reduce((s, ci, i) => s + ci * x[r * 5 + i]! ** 2, 0)),
      gradients: (x, B) => Float32Array.from({ length: B * 5 }, (_, k) => 2 * c[k % 5]! * x[k]!),
    };
    const x = [0.5, -1, 2, 0.25, 1], b = [0.1, 0.2, -0.3, 0, 0.5];
    const r = integratedGradients(quad, x, b, 0);
    for (let i = 0; i < 5; i++) expect(r.attributions[i]!).to.be.closeTo(c[i]! * (x[i]! ** 2 - b[i]! ** 2), 1e-5);
    expect(r.steps).to.equal(32); // the trapezoid rule integrates a linear gradient exactly: no doubling
  });

  for (const dueling of [false, true]) {
    it(`complete on a ReLU Q-network: Σ IG = Q(x, a) − Q(baseline, a) within 1 % (${dueling ? "dueling" : "MLP"})`, () => {
      const agent = agentOf({ dueling, seed: 21, hidden: [64, 64] });
      const model = scoreModelOf(agent, { obsDim: D, actionCount: A });
      const rng = new Random(2);
      const baseline = rand(rng);
      for (let t = 0; t < 25; t++) {
        const x = rand(rng);
        const q = agent.actionScores(x);
        const a = q.indexOf(Math.max(...q));
        const r = integratedGradients(model, x, baseline, a);
        const delta = agent.actionScores(x)[a]! - agent.actionScores(baseline)[a]!;
        const sum = r.attributions.reduce((s, v) => s + v, 0);
        expect(r.score - r.baselineScore).to.be.closeTo(delta, 1e-6);
        expect(Math.abs(sum - delta), `row ${t}: Σ IG ${sum}, Δ ${delta}, ${r.steps} steps`).to.be.at.most(Math.max(0.01 * Math.abs(delta), 1e-6));
        expect(r.relativeError).to.be.at.most(0.01);
      }
    });
  }

  it("a field the policy ignores (zero first-layer weights) gets 0 attribution and 0 permutation importance", () => {
    const agent = agentOf({ seed: 4, hidden: [32, 32] });
    const ignored = INTRUSION_OBS_FIELDS.indexOf("flow.dst_port");
    const H = 32;
    const p = agent.getParameters();
    // dense0/kernel is [obsDim, H] row-major, first in the layout: input i's weights are p[i·H … i·H + H)
    expect(agent.layout().entries[0]).to.deep.include({ name: "dense0/kernel", shape: [D, H] });
    p.fill(0, ignored * H, (ignored + 1) * H);
    agent.setParameters(p);
    const model = scoreModelOf(agent, { obsDim: D, actionCount: A });
    const rng = new Random(9);
    const baseline = new Float32Array(D);
    const N = 300;
    const X = rand(rng, N * D);
    let other = 0;
    for (let r = 0; r < 20; r++) {
      const x = X.subarray(r * D, (r + 1) * D);
      const g = agent.scoreGradient(x, 2);
      expect(g[ignored]).to.equal(0);
      const ig = integratedGradients(model, x, baseline, 2);
      expect(ig.attributions[ignored]).to.equal(0);
      other += Math.abs(ig.attributions[0]!);
    }
    expect(other).to.be.greaterThan(0);
    const perm = permutationImportance(model, X, N, { repeats: 3, seed: 1 });
    expect(perm.features[ignored]!.agreementDrop.mean).to.equal(0);
    expect(Math.max(...perm.features.map((f) => f.agreementDrop.mean))).to.be.greaterThan(0);
  });
});

describe("fedrl explain", function () {
  this.timeout(120_000);
  const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
  const fedrl = (...args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "bin/fedrl.mjs"), ...args], { encoding: "utf8", env });
  const root = mkdtempSync(join(tmpdir(), "fedrl-explain-"));
  const run = join(root, "run");

  before(() => {
    const r = fedrl("train-local", "--env", "IoTIntrusion-v0", "--steps", "1500", "--run-dir", run);
    expect(r.status, r.stderr).to.equal(0);
  });

  it("writes explain.json, importance.svg and importance.png for held-out flows", () => {
    const out = join(root, "explained");
    const r = fedrl("explain", "--checkpoint", run, "--env", "IoTIntrusion-v0", "--flows", "300", "--repeats", "2", "--out", out);
    expect(r.status, r.stderr).to.equal(0);
    expect(r.stdout).to.include(join(out, "explain.json")).and.include(join(out, "importance.png"));
    const j = JSON.parse(readFileSync(join(out, "explain.json"), "utf8"));
    expect(j.format).to.equal("fedrl-explain/1");
    expect(j.flows).to.equal(300);
    expect(j.decisions).to.have.length(300);
    expect(j.fields).to.deep.equal([...INTRUSION_OBS_FIELDS]);
    expect(j.baseline.kind).to.equal("benign-mean");
    // held out: no episode seed is one an actor of the run reset its envs with
    const exp = parseExperiment(JSON.parse(readFileSync(join(run, "config.json"), "utf8")));
    const { ranges } = trainingSeedRanges(exp);
    expect(j.heldOut.seeds.length).to.equal(j.heldOut.episodes).and.to.be.at.least(2);
    for (const s of j.heldOut.seeds) for (const r of ranges) expect(((s - r.lo) >>> 0) >= r.len, `seed ${s} in actor ${r.actor}'s range`).to.equal(true);
    expect(new Set(j.decisions.map((d: { seed: number }) => d.seed))).to.deep.equal(new Set(j.heldOut.seeds));
    expect(j.ig.completeness.within1pct).to.equal(j.ig.completeness.rows);
    expect(j.ig.completeness.maxAbsErrorTinyDelta).to.be.at.most(1e-5);
    for (const d of j.decisions.slice(0, 50)) {
      const a = j.actions.indexOf(d.action);
      const delta = d.scores[a] - j.baseline.scores[a];
      const sum = d.ig.reduce((s: number, v: number) => s + v, 0);
      expect(Math.abs(sum - delta)).to.be.at.most(Math.max(0.01 * Math.abs(delta), 1e-4));
    }
    expect(j.global).to.have.length(D);
    expect(new Set(j.global.map((g: { field: string }) => g.field)).size).to.equal(D);
    expect(j.families.benign.n).to.be.greaterThan(0);
    expect(Object.values(j.families).reduce((s: number, f) => s + (f as { n: number }).n, 0)).to.equal(300);
    const svg = readFileSync(join(out, "importance.svg"), "utf8");
    expect(svg).to.match(/^<svg /).and.include("permutation importance").and.include(j.global[0].field);
    expect(readFileSync(join(out, "importance.png")).subarray(0, 8).toString("hex")).to.equal("89504e470d0a1a0a");
  });

  it("refuses a checkpoint of another env and bad flags with one line, exit 2", () => {
    const wrong = fedrl("explain", "--checkpoint", run, "--env", "CartPole-v1");
    expect(wrong.status).to.equal(2);
    expect(wrong.stderr.trim().split("\n")).to.have.length(1);
    expect(wrong.stderr).to.match(/trained on 38 observation values/);
    const flows = fedrl("explain", "--checkpoint", run, "--flows", "abc");
    expect(flows.status).to.equal(2);
    expect(flows.stderr).to.match(/--flows: expected a number/);
    const base = fedrl("explain", "--checkpoint", run, "--baseline", "median");
    expect(base.status).to.equal(2);
    expect(base.stderr).to.match(/--baseline: one of benign-mean, zeros/);
  });
});
