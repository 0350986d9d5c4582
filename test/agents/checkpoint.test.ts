import { expect } from "chai";
import * as tf from "@tensorflow/tfjs";
import { mkdtemp, readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { DqnAgent } from "../../algorithms/dqn/agent";
import { dirHandler } from "../../algorithms/dqn/checkpoint";
import type { DqnConfigInput } from "../../algorithms/dqn/config";
import { Random as Rng } from "../../core/random";
import { syntheticBatch, type TransitionBatch } from "../../core/batch";

function batches(count: number, n: number, obsDim: number, A: number, seed: number): TransitionBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, () => syntheticBatch(n, obsDim, A, rng, { rewards: [-1, 1] }));
}

const tmp = () => mkdtemp(join(tmpdir(), "fedrl-ckpt-"));

describe("checkpoints", () => {
  const cases: [string, DqnConfigInput][] = [
    ["DQN, soft target", { hidden: [32, 32], lr: 1e-3 }],
    ["Double + Dueling, hard target", { hidden: [16, 24], algorithm: "double", dueling: true, targetUpdate: "hard", targetUpdateEvery: 7, lr: 1e-3 }],
  ];
  for (const [name, config] of cases) {
    it(`resume is bit-for-bit: N updates, save, K more == restore into a fresh agent, same K (${name})`, async () => {
      const N = 30, K = 20;
      const bs = batches(N + K, 64, 8, 4, 5);
      const a = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, seed: 1 } });
      for (let i = 0; i < N; i++) a.learnOn(bs[i]!);
      // also move ε, counters and the RNG
      for (let i = 0; i < 10; i++) a.selectAction(bs[0]!.obs.subarray(0, 8));
      a.observe({ obs: bs[0]!.obs.subarray(0, 8), action: 1, reward: 1, nextObs: bs[0]!.nextObs.subarray(0, 8), terminated: true, truncated: false });
      const dir = await tmp();
      await a.save(dir);
      for (let i = N; i < N + K; i++) a.learnOn(bs[i]!);
      const A = a.getParameters();
      const At = a.getTargetParameters();
      const actsA = Array.from({ length: 20 }, (_, i) => a.selectAction(bs[i]!.obs.subarray(0, 8)));

      const b = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, seed: 99 } });
      await b.restore(dir);
      expect(b.updates).to.equal(N);
      expect(b.episodes).to.equal(1);
      for (let i = N; i < N + K; i++) b.learnOn(bs[i]!);
      expect(Buffer.from(b.getParameters().buffer).equals(Buffer.from(A.buffer))).to.equal(true);
      expect(Buffer.from(b.getTargetParameters().buffer).equals(Buffer.from(At.buffer))).to.equal(true);
      const actsB = Array.from({ length: 20 }, (_, i) => b.selectAction(bs[i]!.obs.subarray(0, 8)));
      expect(actsB).to.deep.equal(actsA);

      const c = await DqnAgent.load(dir);
      expect(c.config).to.deep.equal(a.config);
      for (let i = N; i < N + K; i++) c.learnOn(bs[i]!);
      expect(Buffer.from(c.getParameters().buffer).equals(Buffer.from(A.buffer))).to.equal(true);
    });
  }

  it("restore refuses a checkpoint of another network", async () => {
    const dir = await tmp();
    await new DqnAgent({ obsDim: 4, numActions: 2, config: { hidden: [8] } }).save(dir);
    const other = new DqnAgent({ obsDim: 4, numActions: 2, config: { hidden: [9] } });
    let err: unknown;
    try {
      await other.restore(dir);
    } catch (e) {
      err = e;
    }
    expect(String(err)).to.match(/does not match/);
  });

  for (const dueling of [false, true]) {
    it(`stock tf.loadLayersModel reads model.json + weights.bin and predicts the agent's Q-values (${dueling ? "dueling" : "MLP"})`, async () => {
      await tf.ready();
      const agent = new DqnAgent({ obsDim: 8, numActions: 4, config: { hidden: [16, 8], dueling, seed: 4 } });
      for (const b of batches(5, 32, 8, 4, 2)) agent.learnOn(b);
      const dir = await tmp();
      await agent.save(dir);
      const json = JSON.parse(await readFile(join(dir, "model.json"), "utf8"));
      expect(json.format).to.equal("layers-model");
      const names = json.weightsManifest[0].weights.map((w: { name: string }) => w.name);
      for (const e of agent.layout().entries) expect(names).to.include(e.name);
      const before = tf.memory().numTensors;
      const model = await tf.loadLayersModel(dirHandler(dir));
      const xs = batches(1, 6, 8, 4, 9)[0]!.obs;
      const pred = tf.tidy(() => model.predict(tf.tensor2d(xs, [6, 8])) as tf.Tensor);
      const q = await pred.data();
      pred.dispose();
      model.dispose();
      expect(tf.memory().numTensors).to.equal(before);
      for (let r = 0; r < 6; r++) {
        const mine = agent.qValues(xs.subarray(r * 8, r * 8 + 8));
        for (let j = 0; j < 4; j++) expect(q[r * 4 + j]).to.be.closeTo(mine[j]!, 1e-5);
      }
    });
  }
});
