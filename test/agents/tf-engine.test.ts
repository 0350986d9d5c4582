import { expect } from "chai";
import * as tf from "@tensorflow/tfjs";
import { mkdtemp } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DqnAgent, resolveEngine } from "../../algorithms/dqn/agent";
import { parseDqnConfig, type DqnConfigInput } from "../../algorithms/dqn/config";
import { Random as Rng } from "../../core/random";
import { allocBatch, type TransitionBatch } from "../../core/batch";

function batches(count: number, n: number, seed: number): TransitionBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => {
    const b = allocBatch(n, 8);
    for (let i = 0; i < n * 8; i++) {
      b.obs[i] = rng.next() * 2 - 1;
      b.nextObs[i] = rng.next() * 2 - 1;
    }
    for (let i = 0; i < n; i++) {
      b.actions[i] = rng.int(4);
      b.rewards[i] = rng.next() * 2 - 1;
      b.terminated[i] = rng.next() < 0.1 ? 1 : 0;
    }
    return b;
  });
}

describe("tfjs learning engine (wasm backend)", () => {
  let prev = "";
  before(async () => {
    prev = tf.getBackend();
    await import("@tensorflow/tfjs-backend-wasm"); // registers wasm only from here on
    await tf.setBackend("wasm");
    await tf.ready();
  });
  after(async () => {
    if (prev) await tf.setBackend(prev);
  });

  it("auto picks tf for wide MLPs on wasm and js otherwise", () => {
    expect(resolveEngine(parseDqnConfig({ hidden: [128, 128] }))).to.equal("tf");
    expect(resolveEngine(parseDqnConfig({ hidden: [64, 64] }))).to.equal("js");
    expect(resolveEngine(parseDqnConfig({ hidden: [128, 128], dueling: true }))).to.equal("js");
  });

  for (const cfg of [
    { algorithm: "dqn", targetUpdate: "soft", tau: 0.05 },
    { algorithm: "double", targetUpdate: "hard", targetUpdateEvery: 3 },
  ] as DqnConfigInput[]) {
    it(`matches the JS engine step for step (${cfg.algorithm}, ${cfg.targetUpdate} target)`, () => {
      const config = { ...cfg, hidden: [32, 16], lr: 1e-3, maxGradNorm: 0.5, seed: 3 };
      const js = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, engine: "js" } });
      const tfa = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, engine: "tf" } });
      expect(tfa.engine).to.equal("tf");
      for (const b of batches(12, 64, 1)) {
        const rj = js.learnOn(b), rt = tfa.learnOn(b);
        expect(rt.loss).to.be.closeTo(rj.loss, 1e-4 + 1e-4 * Math.abs(rj.loss));
        expect(rt.gradNorm).to.be.closeTo(rj.gradNorm, 1e-4 + 1e-4 * rj.gradNorm);
      }
      const pj = js.getParameters(), pt = tfa.getParameters();
      const tj = js.getTargetParameters(), tt = tfa.getTargetParameters();
      for (let i = 0; i < pj.length; i++) {
        expect(pt[i]).to.be.closeTo(pj[i]!, 1e-4);
        expect(tt[i]).to.be.closeTo(tj[i]!, 1e-4);
      }
      tfa.dispose();
    });
  }

  it("resumes bit-for-bit and leaks no tensors", async () => {
    const config: DqnConfigInput = { hidden: [128, 128], algorithm: "double", seed: 2 };
    const bs = batches(30, 64, 7);
    const before = tf.memory().numTensors;
    const a = new DqnAgent({ obsDim: 8, numActions: 4, config });
    expect(a.engine).to.equal("tf");
    for (let i = 0; i < 20; i++) a.learnOn(bs[i]!);
    const dir = await mkdtemp(join(tmpdir(), "fedrl-tfe-"));
    await a.save(dir);
    for (let i = 20; i < 30; i++) a.learnOn(bs[i]!);
    for (let i = 0; i < 100; i++) a.selectAction(bs[0]!.obs.subarray(0, 8));
    const A = a.getParameters();
    const b = await DqnAgent.load(dir);
    for (let i = 20; i < 30; i++) b.learnOn(bs[i]!);
    expect(Buffer.from(b.getParameters().buffer).equals(Buffer.from(A.buffer))).to.equal(true);
    a.dispose();
    b.dispose();
    expect(tf.memory().numTensors).to.equal(before);
  });
});
