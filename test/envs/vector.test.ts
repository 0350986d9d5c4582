import { expect } from "chai";
import { make } from "../../envs/index";
import { VectorEnv } from "../../envs/vector";

describe("VectorEnv (same-step auto-reset)", () => {
  it("seeds copy i with seed + i", () => {
    const venv = VectorEnv.create(3, () => make("CartPole-v1"));
    const { obs } = venv.reset({ seed: 10 });
    expect(obs.length).to.equal(12);
    for (let i = 0; i < 3; i++) {
      expect(Array.from(venv.row(obs, i))).to.deep.equal(Array.from(make("CartPole-v1").reset({ seed: 10 + i }).obs));
    }
  });

  it("matches independent envs step for step, resetting ended copies in the same step", () => {
    const n = 4;
    const venv = VectorEnv.create(n, () => make("CartPole-v1"));
    const singles = Array.from({ length: n }, () => make("CartPole-v1"));
    venv.reset({ seed: 3 });
    singles.forEach((e, i) => e.reset({ seed: 3 + i }));
    let ends = 0;
    for (let t = 0; t < 300; t++) {
      const actions = Array.from({ length: n }, (_, i) => (t * 7 + i * 3) % 5 < 2 ? 0 : 1);
      const r = venv.step(actions);
      for (let i = 0; i < n; i++) {
        const s = singles[i]!.step(actions[i]!);
        expect(r.rewards[i]).to.equal(s.reward);
        expect(r.terminated[i]).to.equal(s.terminated ? 1 : 0);
        expect(r.truncated[i]).to.equal(s.truncated ? 1 : 0);
        if (s.terminated || s.truncated) {
          ends++;
          expect(Array.from(r.finalObs[i]!)).to.deep.equal(Array.from(s.obs));
          expect(r.infos[i]!.finalObs).to.equal(r.finalObs[i]);
          const reset = singles[i]!.reset(); // continues the copy's own generator
          expect(Array.from(venv.row(r.obs, i))).to.deep.equal(Array.from(reset.obs));
        } else {
          expect(r.finalObs[i]).to.equal(null);
          expect(Array.from(venv.row(r.obs, i))).to.deep.equal(Array.from(s.obs));
        }
      }
    }
    expect(ends).to.be.greaterThan(5);
  });

  it("rejects a wrong number of actions and stepping before reset", () => {
    const venv = VectorEnv.create(2, () => make("LunarLander-v3"));
    expect(() => venv.step([0, 0])).to.throw(/reset/);
    venv.reset({ seed: 0 });
    expect(() => venv.step([0])).to.throw(/expected 2 actions/);
    const r = venv.step([2, 3]);
    expect(r.obs.length).to.equal(16);
  });
});
