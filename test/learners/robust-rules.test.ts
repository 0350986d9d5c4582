import { expect } from "chai";
import type { AggregateResult } from "../../federation/aggregator";
import { client, close, f, mixOf, verdict, weightSum } from "../helpers/aggregation";
import { aggregatorNamed } from "../../federation/aggregators";
import { KrumRule, MultiKrumRule } from "../../federation/krum";
import { MedianRule } from "../../federation/median";
import { TrimmedMeanRule } from "../../federation/trimmed-mean";
import { TrustDeltaRule } from "../../federation/trust-delta";

const finite = (r: AggregateResult) => {
  if (r.mix) r.mix.forEach((m, j) => expect(Number.isFinite(m), `mix[${j}] = ${m}`).to.equal(true));
  for (const v of r.verdicts) {
    expect(Number.isFinite(v.weight), `${v.actor} weight`).to.equal(true);
    expect(Number.isFinite(v.score), `${v.actor} score`).to.equal(true);
  }
};
const within = (mix: Float32Array, honest: readonly Float32Array[]) =>
  mix.forEach((m, j) => {
    const col = honest.map((h) => h[j]!);
    expect(m, `coordinate ${j}`).to.be.within(Math.min(...col), Math.max(...col));
  });
const norm = (xs: ArrayLike<number>) => Math.sqrt(Array.from(xs).reduce((s, x) => s + x * x, 0));
const sub = (a: Float32Array, b: Float32Array) => Array.from(a, (x, j) => x - b[j]!);

/** Four honest clients near (1, 2, 3) and the two attackers used across rules. */
const HONEST = [f(1, 2, 3), f(1.1, 2.1, 2.9), f(0.9, 1.9, 3.1), f(1.05, 2.05, 3)];
const honestClients = () => HONEST.map((p, k) => client(`h${k}`, p));
const SCALED = HONEST[0]!.map((x) => x * 1e6); // same direction as h0, a million times longer
const HUGE = f(1e30, -1e30, 1e30);

describe("aggregation rule: trimmed-mean", () => {
  it("drops ⌊βK⌋ from each end per coordinate and averages the rest", () => {
    // K = 5, β = 0.2 → t = 1, 3 kept per coordinate.
    // coord 0: 1(a) 2(b) 3(c) 4(d) 100(e) → cut a, e → (2+3+4)/3 = 3; ⅓ slot to b, c, d
    // coord 1: −10(b) 0(c) 1(d) 2(e) 5(a) → cut b, a → (0+1+2)/3 = 1; ⅓ slot to c, d, e
    // weights over 2 coordinates: a 0, b ⅙, c ⅓, d ⅓, e ⅙
    const rule = new TrimmedMeanRule(0.2);
    const r = rule.aggregate(f(0, 0), [client("a", f(1, 5)), client("b", f(2, -10)), client("c", f(3, 0)), client("d", f(4, 1)), client("e", f(100, 2))]);
    expect(Array.from(mixOf(r))).to.deep.equal([3, 1]);
    const w = Object.fromEntries(r.verdicts.map((v) => [v.actor, v.weight]));
    expect(w.a).to.equal(0);
    expect(w.b).to.be.closeTo(1 / 6, 1e-12);
    expect(w.c).to.be.closeTo(1 / 3, 1e-12);
    expect(w.d).to.be.closeTo(1 / 3, 1e-12);
    expect(w.e).to.be.closeTo(1 / 6, 1e-12);
    expect(verdict(r, "a")).to.deep.include({ used: false, reason: "trimmed" });
    expect(verdict(r, "e")).to.deep.include({ used: true, reason: undefined });
    // scores ‖θ_k − (3,1)‖: a (−2,4) → √20; b (−1,−11) → √122; c (0,−1) → 1; d (1,0) → 1; e (97,1) → √9410
    expect(verdict(r, "a").score).to.be.closeTo(Math.sqrt(20), 1e-9);
    expect(verdict(r, "b").score).to.be.closeTo(Math.sqrt(122), 1e-9);
    expect(verdict(r, "c").score).to.equal(1);
    expect(verdict(r, "d").score).to.equal(1);
    expect(verdict(r, "e").score).to.be.closeTo(Math.sqrt(9410), 1e-9);
    expect(weightSum(r)).to.be.closeTo(1, 1e-12);
  });

  it("β = 0 is the plain mean, accumulated in float64: (2^24 + 1 + 1)/3 is exactly 5592406", () => {
    // Float32 accumulation would lose both +1s (2^24 + 1 rounds to 2^24).
    const r = new TrimmedMeanRule(0).aggregate(f(0), [client("a", f(2 ** 24)), client("b", f(1)), client("c", f(1))]);
    expect(mixOf(r)[0]).to.equal(5592406);
    for (const v of r.verdicts) expect(v.weight).to.be.closeTo(1 / 3, 1e-12);
  });

  it("falls back to the coordinate median when 2⌊βK⌋ ≥ K (β = ½, even K), and β = ½ equals median for odd K", () => {
    // K = 4, β = ½: t = 2, 2t = 4 ≥ 4 → median. coord 0: 1 3 5 7 → 4; coord 1: 0(a) 2(c) 4(d) 10(b) → 3
    const even = [client("a", f(1, 0)), client("b", f(3, 10)), client("c", f(5, 2)), client("d", f(7, 4))];
    const r = new TrimmedMeanRule(0.5).aggregate(f(0, 0), even);
    const m = new MedianRule().aggregate(f(0, 0), even);
    expect(Array.from(mixOf(r))).to.deep.equal([4, 3]);
    expect(r.verdicts.map((v) => v.weight)).to.deep.equal(m.verdicts.map((v) => v.weight)); // 0, ¼, ½, ¼
    // K = 3, β = ½: t = 1, one kept = the median. coord 0: {1,3,2} → 2; coord 1: {10,0,20} → 10
    const odd = [client("a", f(1, 10)), client("b", f(3, 0)), client("c", f(2, 20))];
    expect(Array.from(mixOf(new TrimmedMeanRule(0.5).aggregate(f(0, 0), odd)))).to.deep.equal([2, 10]);
  });

  it("a client ×1e6 or of size 1e30 does not move the mix beyond the honest clients' range", () => {
    for (const evil of [SCALED, HUGE]) {
      const r = new TrimmedMeanRule(0.2).aggregate(f(0, 0, 0), [...honestClients(), client("evil", evil)]);
      // K = 5, t = 1: the attacker is the extreme on every coordinate, so it is always cut.
      within(mixOf(r), HONEST);
      expect(verdict(r, "evil")).to.deep.include({ weight: 0, used: false, reason: "trimmed" });
      expect(weightSum(r)).to.be.closeTo(1, 1e-12);
      finite(r);
    }
  });

  it("weights sum to 1 for K = 1..6; identical clients give that value; no clients, no mix; β is checked", () => {
    const rule = new TrimmedMeanRule(0.2);
    for (let K = 1; K <= 6; K++) {
      const updates = Array.from({ length: K }, (_, k) => client(`c${k}`, f(k % 2, (k * 7) % 5, -k, 3)));
      const r = rule.aggregate(f(0, 0, 0, 0), updates);
      expect(weightSum(r), `K=${K}`).to.be.closeTo(1, 1e-12);
      expect(mixOf(r)[3], `K=${K}`).to.equal(3);
      finite(r);
    }
    const one = rule.aggregate(f(0, 0), [client("solo", f(2, -1))]);
    expect(Array.from(mixOf(one))).to.deep.equal([2, -1]);
    expect(one.verdicts).to.deep.equal([{ actor: "solo", weight: 1, used: true, score: 0, reason: undefined }]);
    expect(rule.aggregate(f(0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
    expect(() => rule.aggregate(f(0, 0), [client("a", f(1))])).to.throw(/trimmed-mean: a has 1 params, expected 2/);
    for (const bad of [-0.1, 0.6, NaN]) expect(() => new TrimmedMeanRule(bad)).to.throw(RangeError);
  });
});

describe("aggregation rules: krum and multi-krum", () => {
  // Five clients on a line, (x, 7) with x = 0, 1, 3, 5, 10; f = 1 → n = K − f − 2 = 2 neighbours.
  // squared distances to the others and the 2 smallest:
  //   0: 1, 9, 25, 100  → 1 + 9  = 10
  //   1: 1, 4, 16, 81   → 1 + 4  = 5
  //   3: 9, 4, 4, 49    → 4 + 4  = 8
  //   5: 25, 16, 4, 25  → 4 + 16 = 20
  //  10: 100, 81, 49, 25 → 25 + 49 = 74
  const line = [0, 1, 3, 5, 10].map((x) => client(`x${x}`, f(x, 7)));
  const lineScores = [10, 5, 8, 20, 74];

  it("krum: the client with the lowest score is the mix", () => {
    const r = new KrumRule(1).aggregate(f(0, 0), line);
    expect(Array.from(mixOf(r))).to.deep.equal([1, 7]);
    expect(mixOf(r)).to.not.equal(line[1]!.params); // a copy, not the client's array
    expect(r.verdicts.map((v) => v.score)).to.deep.equal(lineScores);
    expect(r.verdicts.map((v) => [v.actor, v.weight, v.used])).to.deep.equal([["x0", 0, false], ["x1", 1, true], ["x3", 0, false], ["x5", 0, false], ["x10", 0, false]]);
    expect(verdict(r, "x10").reason).to.equal("krum_rejected");
  });

  it("multi-krum: the mean of the m lowest scores (m = K − f by default, or select)", () => {
    // m = 5 − 1 = 4: scores 5 (x1), 8 (x3), 10 (x0), 20 (x5) → (1 + 3 + 0 + 5)/4 = 2.25
    const r = new MultiKrumRule(1, 0).aggregate(f(0, 0), line);
    expect(Array.from(mixOf(r))).to.deep.equal([2.25, 7]);
    expect(r.verdicts.map((v) => [v.actor, v.weight, v.used])).to.deep.equal([["x0", 0.25, true], ["x1", 0.25, true], ["x3", 0.25, true], ["x5", 0.25, true], ["x10", 0, false]]);
    expect(verdict(r, "x10")).to.deep.include({ reason: "krum_rejected", score: 74 });
    // select = 2: x1 and x3 → (1 + 3)/2 = 2
    const two = new MultiKrumRule(1, 2).aggregate(f(0, 0), line);
    expect(Array.from(mixOf(two))).to.deep.equal([2, 7]);
    expect(weightSum(two)).to.equal(1);
  });

  it("picks the honest cluster with 2 colluding Byzantine clients of 7 (f = 2), ties to the earlier client", () => {
    // honest h_x = (x, 0), x = 0..4; both Byzantine at (0, 10). n = 7 − 2 − 2 = 3.
    // h0: 1, 4, 9, 16, 100, 100 → 14;  h1: 1, 1, 4, 9, 101, 101 → 6;  h2: 4, 1, 1, 4, 104, 104 → 6
    // h3: 9, 4, 1, 1, 109, 109 → 6;   h4: 16, 9, 4, 1, 116, 116 → 14
    // byz: 0 (the other byz), 100 (h0), 101 (h1) → 201
    const h = (x: number) => client(`h${x}`, f(x, 0));
    const byz = (name: string) => client(name, f(0, 10));
    const updates = [h(0), byz("byzA"), h(1), h(2), byz("byzB"), h(3), h(4)];
    const r = new KrumRule(2).aggregate(f(0, 0), updates);
    expect(r.verdicts.map((v) => v.score)).to.deep.equal([14, 201, 6, 6, 201, 6, 14]);
    expect(Array.from(mixOf(r))).to.deep.equal([1, 0]); // h1, h2, h3 tie at 6 → h1 (first in order)
    expect(verdict(r, "h1")).to.deep.include({ weight: 1, used: true });
    // multi-krum m = 7 − 2 = 5: the five honest clients → mean (2, 0)
    const m = new MultiKrumRule(2, 0).aggregate(f(0, 0), updates);
    expect(Array.from(mixOf(m))).to.deep.equal([2, 0]);
    for (const name of ["byzA", "byzB"]) expect(verdict(m, name)).to.deep.include({ weight: 0, used: false, reason: "krum_rejected" });
    for (const x of [0, 1, 2, 3, 4]) expect(verdict(m, `h${x}`).weight).to.equal(0.2);
    expect(weightSum(m)).to.be.closeTo(1, 1e-12);
  });

  it("a client ×1e6 or of size 1e30 does not move krum or multi-krum beyond the honest range", () => {
    for (const evil of [SCALED, HUGE]) {
      const updates = [...honestClients(), client("evil", evil)];
      for (const rule of [new KrumRule(1), new MultiKrumRule(1, 0)]) {
        const r = rule.aggregate(f(0, 0, 0), updates);
        within(mixOf(r), HONEST);
        expect(verdict(r, "evil")).to.deep.include({ weight: 0, used: false });
        expect(weightSum(r)).to.be.closeTo(1, 1e-12);
        finite(r);
      }
    }
  });

  it("with K < 2f + 3 uses max(1, K − f − 2) neighbours instead of refusing", () => {
    // K = 3, f = 1 → n = max(1, 0) = 1. points 0, 1, 5: nearest squared distance 1, 1, 16
    const three = [0, 1, 5].map((x) => client(`x${x}`, f(x)));
    const k = new KrumRule(1).aggregate(f(0), three);
    expect(k.verdicts.map((v) => v.score)).to.deep.equal([1, 1, 16]);
    expect(Array.from(mixOf(k))).to.deep.equal([0]); // tie → first
    // multi-krum m = K − f = 2 → (0 + 1)/2
    expect(Array.from(mixOf(new MultiKrumRule(1, 0).aggregate(f(0), three)))).to.deep.equal([0.5]);
    // K = 2, f = 1: n = 1, both scores = 3² = 9 → the first
    const two = new KrumRule(1).aggregate(f(0), [client("a", f(2)), client("b", f(5))]);
    expect(two.verdicts.map((v) => [v.actor, v.weight, v.score])).to.deep.equal([["a", 1, 9], ["b", 0, 9]]);
    // K = 1: no neighbours, score 0, the lone client is the mix (also for multi-krum, m clamped to 1)
    for (const rule of [new KrumRule(1), new MultiKrumRule(3, 0), new MultiKrumRule(0, 5)]) {
      const one = rule.aggregate(f(0, 0), [client("solo", f(3, 4))]);
      expect(Array.from(mixOf(one))).to.deep.equal([3, 4]);
      expect(one.verdicts).to.deep.equal([{ actor: "solo", weight: 1, used: true, score: 0, reason: undefined }]);
    }
  });

  it("identical clients: every score 0, krum takes the first, multi-krum their value; settings are checked", () => {
    const same = Array.from({ length: 4 }, (_, k) => client(`c${k}`, f(1.5, -2)));
    const k = new KrumRule(1).aggregate(f(0, 0), same);
    expect(k.verdicts.map((v) => [v.weight, v.score])).to.deep.equal([[1, 0], [0, 0], [0, 0], [0, 0]]);
    const m = new MultiKrumRule(1, 0).aggregate(f(0, 0), same);
    expect(Array.from(mixOf(m))).to.deep.equal([1.5, -2]);
    expect(weightSum(m)).to.be.closeTo(1, 1e-12);
    finite(m);
    expect(new KrumRule(1).aggregate(f(0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
    expect(new MultiKrumRule(1, 0).aggregate(f(0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
    expect(() => new KrumRule(1).aggregate(f(0, 0), [client("a", f(1, 1)), client("b", f(1))])).to.throw(/krum: b has 1 params, expected 2/);
    expect(() => new KrumRule(-1)).to.throw(RangeError);
    expect(() => new KrumRule(1.5)).to.throw(RangeError);
    expect(() => new MultiKrumRule(1, -1)).to.throw(RangeError);
  });
});

describe("aggregation rule: trust-delta", () => {
  const rule = new TrustDeltaRule();

  it("weights updates by positive cosine to the reference and rescales them to its length", () => {
    // g = (1,1), Δ_ref = (3,4), ‖Δ_ref‖ = 5
    // a: Δ = (3,4)   cos 1,   rescaled (3,4)
    // b: Δ = (0,5)   cos 20/25 = 0.8, rescaled (0,5)
    // c: Δ = (−3,−4) cos −1 → weight 0, not_aligned
    // d: Δ = 0 (free-rider) → weight 0, no_update, score 0
    // w_a = 1/1.8 = 5/9, w_b = 0.8/1.8 = 4/9
    // mix = (1,1) + 5/9·(3,4) + 4/9·(0,5) = (1 + 15/9, 1 + 20/9 + 20/9) = (8/3, 49/9)
    const updates = [client("a", f(4, 5)), client("b", f(1, 6)), client("c", f(-2, -3)), client("d", f(1, 1))];
    const r = rule.aggregate(f(1, 1), updates, { reference: f(3, 4) });
    close(mixOf(r), [8 / 3, 49 / 9]);
    expect(verdict(r, "a").weight).to.be.closeTo(5 / 9, 1e-12);
    expect(verdict(r, "b").weight).to.be.closeTo(4 / 9, 1e-12);
    expect(verdict(r, "a")).to.deep.include({ used: true, reason: undefined });
    expect(verdict(r, "a").score).to.be.closeTo(1, 1e-12);
    expect(verdict(r, "b").score).to.be.closeTo(0.8, 1e-12);
    expect(verdict(r, "c")).to.deep.include({ weight: 0, used: false, reason: "not_aligned" });
    expect(verdict(r, "c").score).to.be.closeTo(-1, 1e-12);
    expect(verdict(r, "d")).to.deep.include({ weight: 0, used: false, score: 0, reason: "no_update" });
    expect(weightSum(r)).to.be.closeTo(1, 1e-12);
  });

  it("without a reference (or with a zero one) uses the coordinate median of the updates", () => {
    // g = (1,2); Δ: a (2,0), b (0,2), c (1,1) → median (1,1), ‖·‖ = √2
    // cos: a 1/√2, b 1/√2, c 1; Σ = 1 + √2 → w_a = w_b = (1/√2)/(1+√2) = (2−√2)/2, w_c = √2 − 1
    // rescaled to √2: a (√2,0), b (0,√2), c (1,1)
    // mix − g = ((1/√2)·√2 + 1)/(1+√2) per coordinate = 2/(1+√2) = 2√2 − 2 → mix = (2√2 − 1, 2√2)
    const updates = [client("a", f(3, 2)), client("b", f(1, 4)), client("c", f(2, 3))];
    for (const ctx of [undefined, {}, { reference: f(0, 0) }]) {
      const r = rule.aggregate(f(1, 2), updates, ctx);
      close(mixOf(r), [2 * Math.SQRT2 - 1, 2 * Math.SQRT2]);
      expect(verdict(r, "a").weight).to.be.closeTo((2 - Math.SQRT2) / 2, 1e-12);
      expect(verdict(r, "b").weight).to.be.closeTo((2 - Math.SQRT2) / 2, 1e-12);
      expect(verdict(r, "c").weight).to.be.closeTo(Math.SQRT2 - 1, 1e-12);
      expect(verdict(r, "a").score).to.be.closeTo(Math.SQRT1_2, 1e-12);
      expect(verdict(r, "c").score).to.be.closeTo(1, 1e-12);
      expect(weightSum(r)).to.be.closeTo(1, 1e-12);
    }
  });

  it("a sign-flipped update θ_g − c·Δ gets weight 0", () => {
    // g = 0; Δ: a (2,1), b (1,2), c (2,2), evil −3·(2,1) = (−6,−3)
    // median: coord 0 −6 1 2 2 → 1.5; coord 1 −3 1 2 2 → 1.5 → ref (1.5,1.5), ‖ref‖ = 1.5√2
    // cos: a = b = 4.5/(√5·1.5√2) = 3/√10; c = 1; evil = −9/(√45·√2) = −3/√10
    // Σ = T = 1 + 6/√10; w_a·rescaled a = (3/√10)/T · (2,1)·1.5√2/√5 = (1.8, 0.9)/T, b (0.9, 1.8)/T, c (1.5,1.5)/T
    // mix = (4.2, 4.2)/T
    const T = 1 + 6 / Math.sqrt(10);
    const r = rule.aggregate(f(0, 0), [client("a", f(2, 1)), client("b", f(1, 2)), client("c", f(2, 2)), client("evil", f(-6, -3))]);
    close(mixOf(r), [4.2 / T, 4.2 / T]);
    expect(verdict(r, "evil")).to.deep.include({ weight: 0, used: false, reason: "not_aligned" });
    expect(verdict(r, "evil").score).to.be.closeTo(-3 / Math.sqrt(10), 1e-12);
    expect(verdict(r, "c").weight).to.be.closeTo(1 / T, 1e-12);
    // with the server's reference: h = g + (1,2), flipped = g − 5·(1,2); reference (1,2) → mix = g + (1,2)
    const g = f(0.5, -0.5);
    const s = rule.aggregate(g, [client("h", f(1.5, 1.5)), client("flip", f(-4.5, -10.5))], { reference: f(1, 2) });
    close(mixOf(s), [1.5, 1.5]);
    expect(verdict(s, "flip")).to.deep.include({ weight: 0, used: false, reason: "not_aligned" });
    expect(verdict(s, "flip").score).to.be.closeTo(-1, 1e-12);
  });

  it("a free-rider sending the global model back gets weight 0", () => {
    // g = 0; Δ: a (1,1), b (3,3), free (0,0) → median (1,1); cos a = b = 1 → ½ each, free: no_update
    // both rescaled to √2: (1,1) → mix = (1,1)
    const r = rule.aggregate(f(0, 0), [client("a", f(1, 1)), client("b", f(3, 3)), client("free", f(0, 0))]);
    close(mixOf(r), [1, 1]);
    expect(verdict(r, "free")).to.deep.include({ weight: 0, used: false, score: 0, reason: "no_update" });
    expect(verdict(r, "a").weight).to.be.closeTo(0.5, 1e-12);
    expect(verdict(r, "b").weight).to.be.closeTo(0.5, 1e-12);
    // Free-riders in the majority: the median update is 0, nothing is aligned → no mix, no NaN.
    const most = rule.aggregate(f(1, 1), [client("a", f(2, 3)), client("f1", f(1, 1)), client("f2", f(1, 1))]);
    expect(most.mix).to.equal(null);
    expect("reason" in most && most.reason).to.equal("no_positive_similarity");
    expect(most.verdicts.map((v) => [v.actor, v.weight, v.used, v.score, v.reason])).to.deep.equal([
      ["a", 0, false, 0, "not_aligned"],
      ["f1", 0, false, 0, "no_update"],
      ["f2", 0, false, 0, "no_update"],
    ]);
  });

  it("an honest update scaled ×10 is rescaled to ‖Δ_ref‖: the mix does not change", () => {
    // As the first case with b's Δ = (0,50) instead of (0,5): cos still 0.8, rescaled to (0,5) → mix (8/3, 49/9)
    const updates = [client("a", f(4, 5)), client("b", f(1, 51))];
    const r = rule.aggregate(f(1, 1), updates, { reference: f(3, 4) });
    close(mixOf(r), [8 / 3, 49 / 9]);
    expect(verdict(r, "b").weight).to.be.closeTo(4 / 9, 1e-12);
    expect(norm(sub(mixOf(r), f(1, 1)))).to.be.at.most(5 + 1e-6);
  });

  it("a client ×1e6 or 1e30 times an honest update stays inside the honest range; any 1e30 client moves the mix at most ‖Δ_ref‖", () => {
    const g = f(0, 0, 0);
    // Δ_k = θ_k here. Median of the 4 honest + 1 scaled: (1.05, 2.05, 3) — the scaled one is the top of every coordinate.
    for (const evil of [SCALED, HONEST[0]!.map((x) => x * 1e30)]) {
      const r = rule.aggregate(g, [...honestClients(), client("evil", evil)]);
      within(mixOf(r), HONEST);
      finite(r);
      expect(weightSum(r)).to.be.closeTo(1, 1e-12);
    }
    // A 1e30 client in another direction, (1,−1,1)·1e30, keeps a positive cosine but its step is cut
    // to ‖Δ_ref‖ like everyone's. Median: coord 0 → 1.05, coord 1 (−1e30 1.9 2 2.05 2.1) → 2, coord 2 → 3;
    // ‖Δ_ref‖ = √(1.1025 + 4 + 9) = √14.1025 ≈ 3.755; cos(evil, ref) = (1.05 − 2 + 3)/(√3·√14.1025) ≈ 0.315
    // (weight ≈ 0.07 against ≈ 1 for each honest client). So ‖mix − g‖ ≤ ‖Δ_ref‖.
    for (const ctx of [undefined, { reference: f(1, 2, 3) }]) {
      const r = rule.aggregate(g, [...honestClients(), client("evil", HUGE)], ctx);
      const refNorm = ctx ? norm(ctx.reference) : Math.sqrt(14.1025);
      if (!ctx) expect(verdict(r, "evil").score).to.be.closeTo(2.05 / (Math.sqrt(3) * Math.sqrt(14.1025)), 1e-6);
      expect(verdict(r, "evil").weight).to.be.below(0.1);
      expect(norm(mixOf(r))).to.be.at.most(refNorm * (1 + 1e-6));
      finite(r);
      expect(weightSum(r)).to.be.closeTo(1, 1e-12);
    }
  });

  it("degenerate input: K = 1, identical clients, zero reference with zero updates — no NaN", () => {
    // K = 1: the median is its own Δ, cos 1 → the client itself.
    const one = rule.aggregate(f(1, 1), [client("solo", f(2, 3))]);
    close(mixOf(one), [2, 3]);
    expect(one.verdicts.map((v) => [v.actor, v.weight, v.used, v.reason])).to.deep.equal([["solo", 1, true, undefined]]);
    expect(one.verdicts[0]!.score).to.be.closeTo(1, 1e-12);
    // identical clients: weights 1/K, mix their value
    const same = rule.aggregate(f(0, 0), Array.from({ length: 3 }, (_, k) => client(`c${k}`, f(0.5, -1))));
    close(mixOf(same), [0.5, -1]);
    for (const v of same.verdicts) expect(v.weight).to.be.closeTo(1 / 3, 1e-12);
    // everyone sends the global model back, zero reference: no mix, every score 0
    const idle = rule.aggregate(f(2, 2), [client("a", f(2, 2)), client("b", f(2, 2))], { reference: f(0, 0) });
    expect(idle.mix).to.equal(null);
    expect(idle.verdicts.map((v) => [v.weight, v.score, v.reason])).to.deep.equal([[0, 0, "no_update"], [0, 0, "no_update"]]);
    finite(idle);
    expect(rule.aggregate(f(0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
    expect(() => rule.aggregate(f(0, 0), [client("a", f(1, 1))], { reference: f(1) })).to.throw(/reference has 1 params, expected 2/);
  });
});

describe("robust rules in the registry", () => {
  it("are built from the rule settings, with the defaults filled in", () => {
    expect(aggregatorNamed("trimmed-mean")).to.be.instanceOf(TrimmedMeanRule).and.deep.include({ trim: 0.2 });
    expect(aggregatorNamed("trimmed-mean", { trim: 0.4 })).to.deep.include({ trim: 0.4 });
    expect(aggregatorNamed("krum")).to.be.instanceOf(KrumRule).and.deep.include({ byzantine: 1 });
    expect(aggregatorNamed("krum", { byzantine: 2 })).to.deep.include({ byzantine: 2 });
    expect(aggregatorNamed("multi-krum", { select: 3 })).to.be.instanceOf(MultiKrumRule).and.deep.include({ byzantine: 1, select: 3 });
    expect(aggregatorNamed("trust-delta")).to.be.instanceOf(TrustDeltaRule);
    expect(() => aggregatorNamed("trimmed-mean", { trim: 0.7 })).to.throw(RangeError);
  });
});
