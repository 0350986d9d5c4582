import { expect } from "chai";
import { allocBatch, type TransitionBatch } from "../../core/batch";
import { RejectionCounter } from "../../core/errors";
import type { Downlink, GlobalModel, Uplink, UplinkStats, WeightsUpload } from "../../core/links";
import { makeLayout } from "../../core/params";
import { Random } from "../../core/random";
import { norm } from "../../core/vec";
import { ATTACKS, byzantineLinks, corruptWeights, type Attack } from "../../federation/byzantine";
import { attackOf } from "../../launch/assemble";
import { parseExperiment } from "../../launch/config";

const f = (...xs: number[]) => Float32Array.from(xs);
const layout = makeLayout([{ name: "w", shape: [3] }]);

class Recorder implements Uplink {
  batches: TransitionBatch[] = [];
  weights: WeightsUpload[] = [];
  sendTransitions(b: TransitionBatch) { this.batches.push(b); }
  sendWeights(w: WeightsUpload) { this.weights.push(w); }
  async drain() { return 0; }
  stats(): UplinkStats { return { batchesSent: this.batches.length, bytesSent: 0, weightsSent: this.weights.length, delivery: null }; }
  async close() {}
}
class FakeDown implements Downlink {
  readonly rejected = new RejectionCounter();
  cb: ((g: GlobalModel) => void) | null = null;
  async subscribe(cb: (g: GlobalModel) => void) { this.cb = cb; }
  async close() {}
}

function attacker(attack: Attack, scale?: number) {
  const rec = new Recorder();
  const down = new FakeDown();
  const links = byzantineLinks(rec, down, { attack, scale, seed: 1, actionCount: 4 });
  const seen: number[][] = [];
  void links.downlink.subscribe((g) => seen.push(Array.from(g.params)));
  down.cb!({ version: 1, round: 1, layout, params: f(1, 1, 1) }); // θ_g = (1,1,1)
  return { rec, links, seen };
}
const send = (a: ReturnType<typeof attacker>, params: Float32Array) => {
  a.links.uplink.sendWeights({ version: 1, samples: 10, layout, params });
  return Array.from(a.rec.weights.at(-1)!.params);
};

function batch(n: number): TransitionBatch {
  const b = allocBatch(n, 2);
  for (let i = 0; i < n; i++) {
    b.obs.set([i, -i], i * 2);
    b.nextObs.set([i + 1, -i - 1], i * 2);
    b.actions[i] = 1;
    b.rewards[i] = i + 0.5;
  }
  return b;
}

describe("Byzantine actors (link decorators)", () => {
  it("corrupt weights by the stated formulas; the actor still receives every global model", () => {
    // θ_g = (1,1,1), θ_k = (2,0,1): Δ = (1,−1,0)
    expect(send(attacker("sign-flip"), f(2, 0, 1))).to.deep.equal([-1, 3, 1]); // θ_g − 2Δ
    expect(send(attacker("sign-flip", 1), f(2, 0, 1))).to.deep.equal([0, 2, 1]); // θ_g − Δ
    expect(send(attacker("scaled"), f(2, 0, 1))).to.deep.equal([20, 0, 10]);
    expect(send(attacker("inflated"), f(2, 0, 1))).to.deep.equal([2e6, 0, 1e6]);
    expect(send(attacker("free-rider"), f(2, 0, 1))).to.deep.equal([1, 1, 1]);
    const a = attacker("noise", 0.5);
    const big = corruptWeights("noise", new Float32Array(20_000), null, 0.5, new Random(3));
    expect(norm(big) / Math.sqrt(20_000)).to.be.closeTo(0.5, 0.02); // N(0, 0.5²) per parameter
    expect(send(a, f(2, 0, 1))).to.not.deep.equal([2, 0, 1]);
    expect(a.seen).to.deep.equal([[1, 1, 1]]);
    for (const t of ["random-action", "reward-flip", "replay-flood"] as const) expect(send(attacker(t), f(2, 0, 1))).to.deep.equal([2, 0, 1]);
  });

  it("poison transitions: random actions, negated rewards, floods of one state; weight attackers ship honest rows", () => {
    const ra = attacker("random-action");
    ra.links.uplink.sendTransitions(batch(400));
    const acts = Array.from(ra.rec.batches[0]!.actions);
    for (let a = 0; a < 4; a++) expect(acts.filter((x) => x === a).length).to.be.within(60, 140); // uniform over 4 actions
    expect(Array.from(ra.rec.batches[0]!.rewards)).to.deep.equal(Array.from(batch(400).rewards));

    const rf = attacker("reward-flip");
    rf.links.uplink.sendTransitions(batch(3));
    expect(Array.from(rf.rec.batches[0]!.rewards)).to.deep.equal([-0.5, -1.5, -2.5]);
    expect(Array.from(rf.rec.batches[0]!.obs)).to.deep.equal(Array.from(batch(3).obs));

    const fl = attacker("replay-flood", 3);
    fl.links.uplink.sendTransitions(batch(5));
    expect(fl.rec.batches.length).to.equal(3);
    for (const b of fl.rec.batches) {
      expect(b.n).to.equal(5);
      expect(Array.from(b.obs)).to.deep.equal([0, -0, 0, -0, 0, -0, 0, -0, 0, -0]); // five copies of row 0
      expect(Array.from(b.nextObs)).to.deep.equal([1, -1, 1, -1, 1, -1, 1, -1, 1, -1]);
    }
    const honest = attacker("sign-flip");
    const b = batch(4);
    honest.links.uplink.sendTransitions(b);
    expect(honest.rec.batches[0]).to.equal(b);
  });

  it("config picks the last `count` actors; --byzantine overrides; unknown attacks are refused with the valid names", () => {
    const exp = parseExperiment({ actors: { count: 5, byzantine: { count: 2, attack: "scaled" } } });
    expect([0, 1, 2, 3, 4].map((i) => attackOf(exp, i))).to.deep.equal([null, null, null, "scaled", "scaled"]);
    expect(attackOf(parseExperiment({}), 0)).to.equal(null);
    expect(attackOf(parseExperiment({}), 0, "inflated")).to.equal("inflated");
    expect(() => parseExperiment({ actors: { byzantine: { count: 1, attack: "nice" } } })).to.throw(`actors.byzantine.attack: unknown "nice"; valid: ${ATTACKS.join(", ")}`);
    expect(() => parseExperiment({ actors: { count: 2, byzantine: { count: 3 } } })).to.throw("actors.byzantine.count 3 exceeds actors.count 2");
  });
});
