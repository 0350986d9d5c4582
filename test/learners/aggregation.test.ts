import { expect } from "chai";
import type { AggregateResult } from "../../federation/aggregator";
import { client, close, f, mixOf, verdict, weightSum } from "../helpers/aggregation";
import { AGGREGATORS, aggregatorNamed } from "../../federation/aggregators";
import { FedAvgRule } from "../../federation/fedavg";
import { MeanRule } from "../../federation/mean";
import { MedianRule } from "../../federation/median";
import { TrustRule } from "../../federation/trust";
import { cosine } from "../../core/vec";


describe("aggregation rule: trust (seed formula)", () => {
  const rule = new TrustRule();

  it("weights clients by positive cosine similarity to the global model", () => {
    // g = (1,0); a = (2,0): cos 1; b = (1,1): cos 1/√2.
    // w_a = 1/(1+1/√2) = 2−√2, w_b = (1/√2)/(1+1/√2) = √2−1
    // mix = w_a·(2,0) + w_b·(1,1) = (3−√2, √2−1)
    const r = rule.aggregate(f(1, 0), [client("a", f(2, 0)), client("b", f(1, 1))]);
    expect(verdict(r, "a")).to.deep.include({ used: true, reason: undefined });
    expect(verdict(r, "a").weight).to.be.closeTo(2 - Math.SQRT2, 1e-9);
    expect(verdict(r, "b").weight).to.be.closeTo(Math.SQRT2 - 1, 1e-9);
    expect(verdict(r, "a").score).to.be.closeTo(1, 1e-9);
    expect(verdict(r, "b").score).to.be.closeTo(Math.SQRT1_2, 1e-7);
    expect(weightSum(r)).to.be.closeTo(1, 1e-12);
    close(mixOf(r), [3 - Math.SQRT2, Math.SQRT2 - 1]);
  });

  it("gives a negatively aligned client weight 0 and leaves it out of the mix", () => {
    // good = (1, 0.5): cos 1/√1.25 > 0 → weight 1; evil = (−3,−1): cos −3/√10 → weight 0.
    const r = rule.aggregate(f(1, 0), [client("good", f(1, 0.5)), client("evil", f(-3, -1))]);
    const evil = verdict(r, "evil");
    expect(evil).to.deep.include({ weight: 0, used: false, reason: "negative" });
    expect(evil.score).to.be.closeTo(-3 / Math.sqrt(10), 1e-7);
    expect(verdict(r, "good").weight).to.equal(1);
    expect(verdict(r, "good").score).to.be.closeTo(1 / Math.sqrt(1.25), 1e-7);
    close(mixOf(r), [1, 0.5]);
  });

  it("gives no mix, with a reason, when every similarity is <= 0", () => {
    // x = (−1,0): cos −1; y = (0,1): orthogonal, cos 0.
    const r = rule.aggregate(f(1, 0), [client("x", f(-1, 0)), client("y", f(0, 1))]);
    expect(r.mix).to.equal(null);
    expect("reason" in r && r.reason).to.equal("no_positive_similarity");
    expect(r.verdicts.map((v) => [v.actor, v.weight, v.used, v.score])).to.deep.equal([["x", 0, false, -1], ["y", 0, false, 0]]);
  });

  it("a zero global model gives cosine 0 for everyone, hence no mix", () => {
    expect(cosine(f(0, 0), f(1, 1))).to.equal(0);
    expect(rule.aggregate(f(0, 0), [client("a", f(1, 1))]).mix).to.equal(null);
  });
});

describe("aggregation rule: mean", () => {
  const rule = new MeanRule();

  it("averages every client with weight 1/K, whatever its alignment", () => {
    // (2,0) and (−2,4) → (0,2); scores are cosines to g = (1,0): 1 and −2/√20.
    const r = rule.aggregate(f(1, 0), [client("a", f(2, 0)), client("b", f(-2, 4))]);
    close(mixOf(r), [0, 2]);
    expect(r.verdicts.map((v) => [v.actor, v.weight, v.used])).to.deep.equal([["a", 0.5, true], ["b", 0.5, true]]);
    expect(verdict(r, "a").score).to.be.closeTo(1, 1e-9);
    expect(verdict(r, "b").score).to.be.closeTo(-2 / Math.sqrt(20), 1e-7);
  });

  it("averages three clients; no clients gives no mix", () => {
    const r = rule.aggregate(f(0, 0, 0), [client("a", f(1, 2, 3)), client("b", f(4, 5, 6)), client("c", f(7, 8, 9))]);
    close(mixOf(r), [4, 5, 6], 1e-5);
    expect(weightSum(r)).to.be.closeTo(1, 1e-12);
    expect(rule.aggregate(f(1, 0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
  });
});

describe("aggregation rule: fedavg", () => {
  const rule = new FedAvgRule();

  it("is the sample-weighted mean", () => {
    // n = 1 and 3: (1·(1,2) + 3·(3,6)) / 4 = (10/4, 20/4) = (2.5, 5)
    const r = rule.aggregate(f(0, 0), [client("a", f(1, 2), 1), client("b", f(3, 6), 3)]);
    expect(Array.from(mixOf(r))).to.deep.equal([2.5, 5]);
    expect(r.verdicts).to.deep.equal([
      { actor: "a", weight: 0.25, used: true, score: 1 },
      { actor: "b", weight: 0.75, used: true, score: 3 },
    ]);
  });

  it("falls back to the plain mean when no client reports samples", () => {
    const r = rule.aggregate(f(0, 0), [client("a", f(1, 2), 0), client("b", f(3, 6), 0)]);
    expect(Array.from(mixOf(r))).to.deep.equal([2, 4]);
    expect(r.verdicts.map((v) => v.weight)).to.deep.equal([0.5, 0.5]);
  });

  it("accumulates in float64: (2^24 + 1 + 1)/3 is exactly 5592406", () => {
    // Accumulating w·θ_k into a float32 would give 5592406.5 (spacing 0.5 at this magnitude).
    const r = rule.aggregate(f(0), [client("a", f(2 ** 24), 1), client("b", f(1), 1), client("c", f(1), 1)]);
    expect(mixOf(r)[0]).to.equal(5592406);
  });

  it("throws on a size mismatch, and gives no mix without clients", () => {
    expect(() => rule.aggregate(f(0, 0), [client("a", f(1, 2)), client("b", f(1))])).to.throw(/fedavg: b has 1 params, expected 2/);
    expect(rule.aggregate(f(0, 0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
  });
});

describe("aggregation rule: coordinate-wise median", () => {
  const rule = new MedianRule();

  it("odd K: the exact median per coordinate, one share per coordinate won", () => {
    // coord 0: {1,3,2} → 2 (c); coord 1: {10,0,20} → 10 (a); coord 2: {−5,0,5} → 0 (b)
    const r = rule.aggregate(f(0, 0, 0), [client("a", f(1, 10, -5)), client("b", f(3, 0, 0)), client("c", f(2, 20, 5))]);
    expect(Array.from(mixOf(r))).to.deep.equal([2, 10, 0]);
    for (const v of r.verdicts) expect(v).to.deep.include({ weight: 1 / 3, used: true });
    // scores: ‖θ_k − (2,10,0)‖: a (−1,0,−5) → √26; b (1,−10,0) → √101; c (0,10,5) → √125
    expect(verdict(r, "a").score).to.be.closeTo(Math.sqrt(26), 1e-9);
    expect(verdict(r, "b").score).to.be.closeTo(Math.sqrt(101), 1e-9);
    expect(verdict(r, "c").score).to.be.closeTo(Math.sqrt(125), 1e-9);
    expect(weightSum(r)).to.be.closeTo(1, 1e-12);
  });

  it("even K: the midpoint of the two middle values, ½ share to each", () => {
    // coord 0: 1(a) 3(b) 5(c) 7(d) → (3+5)/2 = 4, ½ to b and c
    // coord 1: 0(a) 2(c) 4(d) 10(b) → (2+4)/2 = 3, ½ to c and d
    // weights over 2 coordinates: a 0, b ¼, c ½, d ¼
    const r = rule.aggregate(f(0, 0), [client("a", f(1, 0)), client("b", f(3, 10)), client("c", f(5, 2)), client("d", f(7, 4))]);
    expect(Array.from(mixOf(r))).to.deep.equal([4, 3]);
    expect(r.verdicts.map((v) => [v.actor, v.weight, v.used])).to.deep.equal([["a", 0, false], ["b", 0.25, true], ["c", 0.5, true], ["d", 0.25, true]]);
    expect(verdict(r, "a").score).to.be.closeTo(Math.hypot(3, 3), 1e-9);
    expect(weightSum(r)).to.equal(1);
  });

  it("a client scaled ×1e6 does not move the median beyond the honest values (where trust and mean are dragged away)", () => {
    const honestA = f(1, 2, 3), honestB = f(1.1, 2.1, 2.9);
    const inflated = honestA.map((x) => x * 1e6); // same direction: cosine 1, so trust cannot see it
    const updates = [client("a", honestA), client("b", honestB), client("evil", inflated)];
    const r = rule.aggregate(f(1, 2, 3), updates);
    // coord 0: {1, 1.1, 1e6} → 1.1 (b); coord 1: {2, 2.1, 2e6} → 2.1 (b); coord 2: {3, 2.9, 3e6} → 3 (a)
    const mix = mixOf(r);
    expect(Array.from(mix)).to.deep.equal([Math.fround(1.1), Math.fround(2.1), 3]);
    mix.forEach((m, j) => expect(m).to.be.within(Math.min(honestA[j]!, honestB[j]!), Math.max(honestA[j]!, honestB[j]!)));
    expect(verdict(r, "evil")).to.deep.include({ weight: 0, used: false });
    expect(verdict(r, "a").weight).to.be.closeTo(1 / 3, 1e-12);
    expect(verdict(r, "b").weight).to.be.closeTo(2 / 3, 1e-12);
    expect(verdict(r, "evil").score).to.be.greaterThan(1e6);
    expect(weightSum(r)).to.be.closeTo(1, 1e-12);
    // Contrast: the averaging rules follow the inflated client.
    expect(mixOf(new MeanRule().aggregate(f(1, 2, 3), updates))[0]).to.be.greaterThan(3e5);
    expect(mixOf(new TrustRule().aggregate(f(1, 2, 3), updates))[0]).to.be.greaterThan(3e5);
  });

  it("verdict weights sum to 1 for K = 1..6, ties included", () => {
    for (let K = 1; K <= 6; K++) {
      const updates = Array.from({ length: K }, (_, k) => client(`c${k}`, f(k % 2, (k * 7) % 5, -k, 3)));
      const r = rule.aggregate(f(0, 0, 0, 0), updates);
      expect(weightSum(r), `K=${K}`).to.be.closeTo(1, 1e-12);
      expect(mixOf(r)[3], `K=${K}`).to.equal(3); // all equal → that value
    }
    expect(rule.aggregate(f(0), [])).to.deep.equal({ mix: null, reason: "no_clients", verdicts: [] });
  });
});

describe("aggregation rule registry", () => {
  it("every registered name resolves to a fresh rule of that name", () => {
    expect(Object.keys(AGGREGATORS)).to.have.members(["trust", "mean", "fedavg", "median", "trimmed-mean", "krum", "multi-krum", "trust-delta"]);
    for (const name of Object.keys(AGGREGATORS)) {
      const a = aggregatorNamed(name);
      expect(a.name).to.equal(name);
      expect(aggregatorNamed(name)).to.not.equal(a);
      expect(mixOf(a.aggregate(f(1, 0), [client("x", f(1, 1), 1)]))).to.have.length(2);
    }
    expect(aggregatorNamed("trust")).to.be.instanceOf(TrustRule);
    expect(aggregatorNamed("mean")).to.be.instanceOf(MeanRule);
    expect(aggregatorNamed("fedavg")).to.be.instanceOf(FedAvgRule);
    expect(aggregatorNamed("median")).to.be.instanceOf(MedianRule);
  });

  it("an unknown name throws an error listing the valid names", () => {
    expect(() => aggregatorNamed("nope")).to.throw('unknown aggregation rule "nope"; valid: trust, mean, fedavg, median, trimmed-mean, krum, multi-krum, trust-delta');
  });
});
