import { expect } from "chai";
import { make } from "../../envs/index";
import { CartPoleEnv } from "../../envs/gym/cartpole";
import { RecordedRandom } from "../../envs/rng";
import { loadReference } from "./reference";

interface CartPoleRef {
  episodes: {
    seed: number;
    initial_state_f64: number[];
    steps: { a: number; obs: number[]; r: number; terminated: boolean; truncated: boolean }[];
  }[];
}

describe("CartPole-v1 (Gymnasium port)", () => {
  it("replays every reference episode from its seed (obs within 1e-6, same rewards and flags)", function () {
    const ref = loadReference<CartPoleRef>("cartpole-v1.json");
    if (!ref) return this.skip();
    let truncations = 0;
    for (const ep of ref.episodes) {
      const env = make("CartPole-v1");
      const { obs } = env.reset({ seed: ep.seed });
      for (let k = 0; k < 4; k++) expect(obs[k]).to.be.closeTo(ep.initial_state_f64[k]!, 1e-8);
      ep.steps.forEach((st, i) => {
        const r = env.step(st.a);
        const where = `seed ${ep.seed} step ${i}`;
        for (let k = 0; k < 4; k++) expect(r.obs[k], where).to.be.closeTo(st.obs[k]!, 1e-6);
        expect(r.reward, where).to.equal(st.r);
        expect(r.terminated, where).to.equal(st.terminated);
        expect(r.truncated, where).to.equal(st.truncated);
      });
      const last = ep.steps[ep.steps.length - 1]!;
      expect(last.terminated || last.truncated).to.equal(true);
      if (last.truncated) truncations++;
    }
    expect(truncations, "reference includes 500-step truncations").to.be.greaterThan(0);
  });

  it("gives reward 1 on the terminating step and 0 when stepped after termination", () => {
    const env = new CartPoleEnv({ random: new RecordedRandom([0, 0, 0.2, 0]) });
    env.reset();
    let r = env.step(1);
    let n = 1;
    while (!r.terminated) { r = env.step(1); n++; }
    expect(r.reward).to.equal(1);
    expect(n).to.be.lessThan(50);
    expect(env.step(1).reward).to.equal(0);
    expect(env.step(0).reward).to.equal(0);
  });

  it("sutton_barto_reward: 0 per step, -1 on termination and after", () => {
    const env = new CartPoleEnv({ suttonBartoReward: true });
    env.reset({ seed: 1 });
    let r = env.step(0);
    while (!r.terminated) { expect(r.reward).to.equal(0); r = env.step(0); }
    expect(r.reward).to.equal(-1);
    expect(env.step(0).reward).to.equal(-1);
  });

  it("the θ + 0.5·θ̇ controller balances 500 steps on seeds 0-49; random play averages ~22", () => {
    for (let seed = 0; seed < 50; seed++) {
      const env = make("CartPole-v1");
      let { obs } = env.reset({ seed });
      let ret = 0;
      for (;;) {
        const r = env.step(obs[2]! + 0.5 * obs[3]! > 0 ? 1 : 0);
        ret += r.reward; obs = r.obs;
        if (r.terminated || r.truncated) { expect(r.truncated).to.equal(true); break; }
      }
      expect(ret, `seed ${seed}`).to.equal(500);
    }
    const env = make("CartPole-v1");
    let total = 0;
    let s = 12345;
    for (let seed = 0; seed < 400; seed++) {
      env.reset({ seed });
      for (;;) {
        s = (Math.imul(s, 1103515245) + 12345) >>> 0;
        const r = env.step(s >>> 31);
        total += r.reward;
        if (r.terminated || r.truncated) break;
      }
    }
    expect(total / 400).to.be.within(19, 26); // Gymnasium: 22.6 ± 11.8
  });

  it("reset without a seed continues the generator; same seed reproduces", () => {
    const a = new CartPoleEnv();
    const o1 = a.reset({ seed: 9 }).obs;
    const o2 = a.reset().obs;
    const b = new CartPoleEnv();
    expect(b.reset({ seed: 9 }).obs).to.deep.equal(o1);
    expect(b.reset().obs).to.deep.equal(o2);
    expect(o2).to.not.deep.equal(o1);
  });
});
