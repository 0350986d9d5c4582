/**
 * Gymnasium-style API conformance checks, reusable for any env id in the default registry:
 *   describeEnvConformance("CartPole-v1", {}, { steps: 600 })
 * Checks: observation size and type, finite observations/rewards, determinism under a seed,
 * TimeLimit truncation via `make`, valid/invalid actions.
 */
import { mulberry32 } from "../../core/random";
import { expect } from "chai";
import { make, type EnvOptions } from "../../envs/index";

export interface ConformanceOptions {
  /** random-policy steps to check (default 300) */
  steps?: number;
  /** a time limit small enough to hit; default 25 */
  timeLimit?: number;
  seed?: number;
}


function rollout(id: string, options: EnvOptions, seed: number, steps: number) {
  const env = make(id, options);
  const rand = mulberry32(seed + 17);
  const trace: { obs: number[]; reward: number; done: boolean }[] = [];
  let { obs } = env.reset({ seed });
  trace.push({ obs: [...obs], reward: 0, done: false });
  for (let i = 0; i < steps; i++) {
    const a = Math.floor(rand() * env.actionCount);
    const r = env.step(a);
    const done = r.terminated || r.truncated;
    trace.push({ obs: [...r.obs], reward: r.reward, done });
    obs = r.obs;
    if (done) ({ obs } = env.reset());
  }
  return trace;
}

export function describeEnvConformance(id: string, options: EnvOptions = {}, c: ConformanceOptions = {}): void {
  const steps = c.steps ?? 300, seed = c.seed ?? 7, limit = c.timeLimit ?? 25;
  describe(`${id} conformance`, () => {
    it("reset returns a finite Float32Array of observationSize and an info object", () => {
      const env = make(id, options);
      expect(env.id).to.equal(id);
      expect(env.observationSize).to.be.a("number").greaterThan(0);
      expect(env.actionCount).to.be.a("number").greaterThan(0);
      const { obs, info } = env.reset({ seed });
      expect(obs).to.be.instanceOf(Float32Array);
      expect(obs.length).to.equal(env.observationSize);
      expect([...obs].every(Number.isFinite)).to.equal(true);
      expect(info).to.be.an("object");
    });

    it("every step: Float32Array obs of the right size, finite values, finite reward, boolean flags", () => {
      const env = make(id, options);
      const rand = mulberry32(seed);
      env.reset({ seed });
      for (let i = 0; i < steps; i++) {
        const r = env.step(Math.floor(rand() * env.actionCount));
        expect(r.obs).to.be.instanceOf(Float32Array);
        expect(r.obs.length).to.equal(env.observationSize);
        for (const v of r.obs) if (!Number.isFinite(v)) expect.fail(`non-finite observation at step ${i}`);
        expect(Number.isFinite(r.reward), `reward at step ${i}`).to.equal(true);
        expect(r.terminated).to.be.a("boolean");
        expect(r.truncated).to.be.a("boolean");
        expect(r.info).to.be.an("object");
        if (r.terminated || r.truncated) env.reset();
      }
    });

    it("is deterministic under a seed (and different seeds differ)", () => {
      const a = rollout(id, options, seed, 120), b = rollout(id, options, seed, 120);
      expect(a).to.deep.equal(b);
      const d = rollout(id, options, seed + 1, 120);
      expect(d).to.not.deep.equal(a);
    });

    it(`truncates at the time limit given to make (maxEpisodeSteps = ${limit})`, () => {
      const env = make(id, { ...options, maxEpisodeSteps: limit });
      env.reset({ seed });
      let n = 0;
      for (;;) {
        const r = env.step(0);
        n++;
        if (r.terminated) return; // ended before the limit: nothing to check
        if (r.truncated) break;
        expect(n).to.be.lessThan(limit);
      }
      expect(n).to.equal(limit);
    });

    it("accepts every action in [0, actionCount) and rejects out-of-range actions", () => {
      const env = make(id, options);
      env.reset({ seed });
      for (let a = 0; a < env.actionCount; a++) {
        const r = env.step(a);
        if (r.terminated || r.truncated) env.reset();
      }
      expect(() => env.step(env.actionCount)).to.throw();
      expect(() => env.step(-1)).to.throw();
    });
  });
}
