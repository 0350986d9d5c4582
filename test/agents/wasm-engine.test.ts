import { expect } from "chai";
import { execFileSync, spawnSync } from "node:child_process";
import { mkdtemp, readdir, readFile } from "node:fs/promises";
import { readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { DqnAgent, resolveEngine } from "../../algorithms/dqn/agent";
import { parseDqnConfig, type DqnConfigInput } from "../../algorithms/dqn/config";
import { KERNEL_URL } from "../../algorithms/dqn/wasm-engine";
import { Random as Rng } from "../../core/random";
import { syntheticBatch, type TransitionBatch } from "../../core/batch";

function batches(count: number, n: number | number[], obsDim: number, A: number, seed: number): TransitionBatch[] {
  const rng = new Rng(seed);
  return Array.from({ length: count }, (_, i) => syntheticBatch(Array.isArray(n) ? n[i % n.length]! : n, obsDim, A, rng, { rewards: [-3, 3], pTerminated: 0.15 }));
}

/** ‖a − b‖ / ‖b‖ and max |a_i − b_i| */
function diff(a: Float32Array, b: Float32Array): { rel: number; abs: number } {
  let d2 = 0, n2 = 0, abs = 0;
  for (let i = 0; i < b.length; i++) {
    const d = a[i]! - b[i]!;
    d2 += d * d;
    n2 += b[i]! * b[i]!;
    abs = Math.max(abs, Math.abs(d));
  }
  return { rel: Math.sqrt(d2 / n2), abs };
}

const close = (a: number, b: number, rel: number) => expect(Math.abs(a - b), `${a} vs ${b}`).to.be.at.most(rel * Math.abs(b) + 1e-12);

describe("wasm learning engine (fused SIMD kernel)", () => {
  it("the committed kernel.wasm is what build.sh makes from kernel.c", function () {
    const dir = fileURLToPath(new URL(".", KERNEL_URL));
    const has = (cmd: string) => spawnSync("sh", ["-c", `command -v ${cmd}`]).status === 0;
    if (!has("clang") || !has("wasm-ld")) {
      console.warn("      (skipped: clang/wasm-ld not installed; `apt-get install clang lld` to check the committed kernel.wasm)");
      this.skip();
    }
    const want = readFileSync(join(dir, "kernel.wasm.txt"), "utf8").trim();
    const have = execFileSync("clang", ["--version"], { encoding: "utf8" }).split("\n")[0]!.trim();
    if (have !== want) {
      console.warn(`      (skipped: kernel.wasm was built with "${want}", this machine has "${have}"; bytes differ between compiler versions)`);
      this.skip();
    }
    const out = join(tmpdir(), `fedrl-kernel-${process.pid}.wasm`);
    execFileSync("sh", [join(dir, "build.sh"), out]);
    expect(Buffer.compare(readFileSync(out), readFileSync(KERNEL_URL)), "kernel.wasm is stale: run npm run build:wasm").to.equal(0);
  });

  it("is chosen only on request, for MLPs", () => {
    expect(resolveEngine(parseDqnConfig({ engine: "wasm" }))).to.equal("wasm");
    expect(new DqnAgent({ obsDim: 4, numActions: 2, config: { engine: "wasm" } }).engine).to.equal("wasm");
    expect(() => new DqnAgent({ obsDim: 4, numActions: 2, config: { engine: "wasm", dueling: true } })).to.throw(/dueling/);
  });

  const cases: [string, number, number, DqnConfigInput, number | number[]][] = [
    ["DQN, soft target, clip 10", 8, 4, { algorithm: "dqn", hidden: [64, 64], targetUpdate: "soft", tau: 0.05, maxGradNorm: 10 }, 64],
    ["Double, hard target every 3, clip 0.5", 8, 4, { algorithm: "double", hidden: [64, 64], targetUpdate: "hard", targetUpdateEvery: 3, maxGradNorm: 0.5 }, 64],
    ["DQN, 3-step, clip off, 128 units", 8, 4, { algorithm: "dqn", hidden: [128, 128], nStep: 3, gamma: 0.97, maxGradNorm: 0, tau: 0.01 }, 64],
    ["Double, 2-step, odd sizes (padding), odd batches, Huber δ 0.5", 5, 3, { algorithm: "double", hidden: [30, 17, 9], nStep: 2, huberDelta: 0.5, targetUpdate: "hard", targetUpdateEvery: 4, maxGradNorm: 2 }, [37, 64, 1, 100]],
  ];
  for (const [name, obsDim, A, cfg, n] of cases) {
    it(`matches the JS engine step for step: ${name}`, () => {
      const config = { ...cfg, lr: 1e-3, seed: 3 };
      const js = new DqnAgent({ obsDim, numActions: A, config: { ...config, engine: "js" } });
      const wa = new DqnAgent({ obsDim, numActions: A, config: { ...config, engine: "wasm" } });
      expect(wa.engine).to.equal("wasm");
      expect(Buffer.from(wa.getParameters().buffer).equals(Buffer.from(js.getParameters().buffer))).to.equal(true);
      const bs = batches(16, n, obsDim, A, 11);
      for (const b of bs) {
        const rj = js.learnOn(b), rw = wa.learnOn(b);
        close(rw.loss, rj.loss, 1e-5);
        close(rw.gradNorm, rj.gradNorm, 1e-5);
      }
      for (const [w, j] of [[wa.getParameters(), js.getParameters()], [wa.getTargetParameters(), js.getTargetParameters()]] as const) {
        const d = diff(w, j);
        expect(d.rel).to.be.below(1e-5);
        expect(d.abs).to.be.below(2e-6);
      }
      const y = diff(wa.tdTargets(bs[0]!), js.tdTargets(bs[0]!));
      expect(y.rel).to.be.below(1e-5);
      expect(wa.updates).to.equal(js.updates);
      // greedy actions through the kernel agree with the JS forward on the same weights
      js.setParameters(wa.getParameters());
      const probe = batches(1, 200, obsDim, A, 12)[0]!;
      let same = 0;
      for (let r = 0; r < 200; r++) {
        const o = probe.obs.subarray(r * obsDim, (r + 1) * obsDim);
        if (wa.greedyAction(o) === js.greedyAction(o)) same++;
      }
      expect(same).to.be.at.least(199);
    });
  }

  it("set/get parameters, target sync and local replay updates go through the kernel", () => {
    const config: DqnConfigInput = { hidden: [6, 10], engine: "wasm", learningStarts: 8, batchSize: 8, learnEvery: 1, seed: 2 };
    const a = new DqnAgent({ obsDim: 3, numActions: 2, config });
    const p = a.getParameters().map((_, i) => Math.sin(i));
    a.setParameters(p);
    expect(Array.from(a.getParameters())).to.deep.equal(Array.from(p));
    a.syncTarget();
    expect(Array.from(a.getTargetParameters())).to.deep.equal(Array.from(p));
    const rng = new Rng(1);
    let learned = 0;
    for (let t = 0; t < 40; t++) {
      const obs = [rng.next(), rng.next(), rng.next()];
      a.observe({ obs, action: a.selectAction(obs), reward: rng.next(), nextObs: [rng.next(), rng.next(), rng.next()], terminated: t % 9 === 8, truncated: false });
      if (a.update()) learned++;
    }
    expect(learned).to.be.greaterThan(20);
    const qTarget = Array.from(a.qValues([0.1, 0.2, 0.3], "target"));
    const ref = new DqnAgent({ obsDim: 3, numActions: 2, config: { ...config, engine: "js" } });
    ref.setParameters(a.getTargetParameters());
    expect(qTarget).to.deep.equal(Array.from(ref.qValues([0.1, 0.2, 0.3])));
    expect(a.getParameters()).to.not.deep.equal(p);
    expect(() => a.learnOn({ ...batches(1, 4, 3, 2, 1)[0]!, actions: Int32Array.from([0, 1, 2, 0]) })).to.throw(/out of range/);
  });

  it("checkpoints: same files as the JS engine, resume is bit-for-bit, loads into either engine", async () => {
    const config: DqnConfigInput = { hidden: [32, 20], algorithm: "double", targetUpdate: "hard", targetUpdateEvery: 5, lr: 1e-3, seed: 1, engine: "wasm" };
    const N = 12, K = 8;
    const bs = batches(N + K, 64, 8, 4, 5);
    const a = new DqnAgent({ obsDim: 8, numActions: 4, config });
    for (let i = 0; i < N; i++) a.learnOn(bs[i]!);
    const dir = await mkdtemp(join(tmpdir(), "fedrl-wasm-ckpt-"));
    await a.save(dir);
    const jsDir = await mkdtemp(join(tmpdir(), "fedrl-wasm-ckpt-js-"));
    await new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, engine: "js" } }).save(jsDir);
    expect((await readdir(dir)).sort()).to.deep.equal((await readdir(jsDir)).sort());
    expect(JSON.parse(await readFile(join(dir, "model.json"), "utf8")).modelTopology).to.deep.equal(JSON.parse(await readFile(join(jsDir, "model.json"), "utf8")).modelTopology);
    for (let i = N; i < N + K; i++) a.learnOn(bs[i]!);
    const P = a.getParameters(), Pt = a.getTargetParameters();

    const b = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, seed: 9 } });
    await b.restore(dir);
    expect(b.updates).to.equal(N);
    for (let i = N; i < N + K; i++) b.learnOn(bs[i]!);
    expect(Buffer.from(b.getParameters().buffer).equals(Buffer.from(P.buffer))).to.equal(true);
    expect(Buffer.from(b.getTargetParameters().buffer).equals(Buffer.from(Pt.buffer))).to.equal(true);

    // the same checkpoint resumed by the JS engine follows the wasm run to float32 noise
    const c = new DqnAgent({ obsDim: 8, numActions: 4, config: { ...config, engine: "js" } });
    await c.restore(dir);
    for (let i = N; i < N + K; i++) c.learnOn(bs[i]!);
    expect(diff(c.getParameters(), P).rel).to.be.below(1e-5);
  });
});
