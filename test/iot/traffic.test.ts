import { expect } from "chai";
import { Rng } from "../../envs/iot/rng";
import { SyntheticTraffic, FLOW_FEATURES, syntheticScaler } from "../../envs/iot/traffic";
import { CIC_IDS2017, UNSW_NB15, familyPrior } from "../../envs/iot/families";
import { dirichletSplit, meanPairwiseTV, totalVariation } from "../../envs/iot/sites";

/** Best F1 of any single-feature threshold (either direction). */
function bestSingleThresholdF1(xs: number[], ys: number[]): number {
  const idx = xs.map((_, i) => i).sort((a, b) => xs[a]! - xs[b]!);
  const pos = ys.reduce((a, b) => a + b, 0);
  let best = 0, pb = 0, nb = 0;
  for (let k = 0; k < idx.length; k++) {
    pb += ys[idx[k]!]!; nb++;
    if (k + 1 < idx.length && xs[idx[k + 1]!] === xs[idx[k]!]) continue;
    best = Math.max(best, (2 * (pos - pb)) / (idx.length - nb + pos), (2 * pb) / (nb + pos));
  }
  return best;
}

describe("IoT synthetic traffic", () => {
  for (const profile of [CIC_IDS2017, UNSW_NB15]) {
    it(`${profile.id}: class mix matches the dataset, features overlap (no single threshold is perfect)`, () => {
      const g = new SyntheticTraffic(profile.id), rng = new Rng(11);
      const N = 20000;
      const rows = Array.from({ length: N }, () => g.row(rng));
      const prior = familyPrior(profile);
      const benign = rows.filter((r) => r.family === "benign").length / N;
      // binomial sd at p≈0.8, N=20000 is 0.003
      expect(benign).to.be.closeTo(prior.benign!, 0.015);
      const top = profile.families[0]!;
      expect(rows.filter((r) => r.family === top).length / N).to.be.closeTo(prior[top]!, 0.015);
      const sc = syntheticScaler();
      const scaled = rows.map((r) => sc.transform(r.x));
      const ys = rows.map((r) => r.malicious as number);
      let bestAny = 0;
      for (let j = 0; j < FLOW_FEATURES.length; j++) {
        bestAny = Math.max(bestAny, bestSingleThresholdF1(scaled.map((x) => x[j]!), ys));
        for (const x of scaled) if (!(x[j]! >= 0 && x[j]! <= 1)) expect.fail(`feature ${FLOW_FEATURES[j]} outside [0,1]`);
      }
      expect(bestAny).to.be.lessThan(0.95);
      // learnable: nearest class-centroid (benign vs malicious) in scaled space beats chance by far
      const half = N / 2;
      const cent = [0, 1].map((c) => {
        const m = new Float64Array(FLOW_FEATURES.length); let n = 0;
        for (let i = 0; i < half; i++) if (ys[i] === c) { n++; scaled[i]!.forEach((v, j) => (m[j] += v)); }
        return m.map((v) => v / n);
      });
      let correct = 0;
      for (let i = half; i < N; i++) {
        const d = cent.map((m) => scaled[i]!.reduce((s, v, j) => s + (v - m[j]!) ** 2, 0));
        if ((d[1]! < d[0]! ? 1 : 0) === ys[i]) correct++;
      }
      expect(correct / half).to.be.greaterThan(0.75);
    });
  }

  it("is deterministic under a seed", () => {
    const g = new SyntheticTraffic("cic-ids2017");
    const a = new Rng(5), b = new Rng(5);
    for (let i = 0; i < 50; i++) expect([...g.row(a).x]).to.deep.equal([...g.row(b).x]);
  });
});

describe("IoT seeded Gamma / Dirichlet and non-IID sites", () => {
  it("Gamma (Marsaglia–Tsang) has mean k and variance k, also for k < 1", () => {
    for (const k of [0.3, 1, 4.5]) {
      const rng = new Rng(3), n = 40000;
      let s = 0, s2 = 0;
      for (let i = 0; i < n; i++) { const g = rng.gamma(k); s += g; s2 += g * g; }
      const mean = s / n, v = s2 / n - mean * mean;
      expect(mean).to.be.closeTo(k, 0.05 * Math.max(1, k));
      expect(v).to.be.closeTo(k, 0.12 * Math.max(1, k));
    }
  });

  it("site mixes are distributions; the split is seeded", () => {
    const o = { sites: 5, alpha: 0.3, seed: 9, categories: ["a", "b", "c"], prior: [0.5, 0.3, 0.2] };
    const m = dirichletSplit(o);
    expect(m).to.have.length(5);
    for (const row of m) expect(row.reduce((x, y) => x + y, 0)).to.be.closeTo(1, 1e-12);
    expect(dirichletSplit(o)).to.deep.equal(m);
    expect(dirichletSplit({ ...o, seed: 10 })).to.not.deep.equal(m);
    expect(totalVariation([1, 0], [0, 1])).to.equal(1);
    expect(meanPairwiseTV([[1, 0], [0, 1], [1, 0]])).to.be.closeTo(2 / 3, 1e-12);
  });

  it("mean pairwise TV between sites decreases as α grows (concentrated → near-uniform)", () => {
    const prior = familyPrior(CIC_IDS2017);
    const cats = CIC_IDS2017.families;
    const tv = (alpha: number) => {
      let s = 0;
      for (let seed = 0; seed < 30; seed++) {
        s += meanPairwiseTV(dirichletSplit({ sites: 5, alpha, seed, categories: cats, prior: cats.map((f) => prior[f]!) }));
      }
      return s / 30;
    };
    const alphas = [0.05, 0.3, 1, 10, 1000];
    const tvs = alphas.map(tv);
    for (let i = 1; i < tvs.length; i++) expect(tvs[i]!, `α=${alphas[i]}`).to.be.lessThan(tvs[i - 1]!);
    expect(tvs[0]).to.be.greaterThan(0.6);
    expect(tvs[tvs.length - 1]).to.be.lessThan(0.05);
    // small α: each site is dominated by few families (max share near 1)
    const m = dirichletSplit({ sites: 5, alpha: 0.05, seed: 1, categories: ["a", "b", "c", "d"], prior: [1, 1, 1, 1] });
    const meanMax = m.reduce((s, r) => s + Math.max(...r), 0) / m.length;
    expect(meanMax).to.be.greaterThan(0.7);
  });
});
