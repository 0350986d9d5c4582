import { expect } from "chai";
import { IoTIntrusionEnv, ALLOW, ISOLATE, type IntrusionDynamicsConfig } from "../../envs/iot/intrusion";
import { PROFILES, attackMix, attackShare, type DatasetId } from "../../envs/iot/families";
import { dirichletSplit, dirichletVolumes } from "../../envs/iot/sites";

const CALIBRATIONS: DatasetId[] = ["cic-ids2017", "unsw-nb15"];

interface Measured { flows: number; share: number; mix: Record<string, number> }

/**
 * Allow-all over every site of `splits` partitions, `episodes` episodes of 200 flows each; every
 * (split, site, episode) has its own seed (shared seeds would make the sites' campaigns move together).
 */
function measure(calibration: DatasetId, o: { sites: number; alpha: number; splits: number; episodes: number;
  dynamics?: Partial<IntrusionDynamicsConfig>; maliciousShare?: number; policy?: (label: number) => number }): Measured {
  let flows = 0, mal = 0;
  const fam: Record<string, number> = {};
  for (let split = 0; split < o.splits; split++) {
    for (let site = 0; site < o.sites; site++) {
      const env = new IoTIntrusionEnv({ site, sites: o.sites, alpha: o.alpha, splitSeed: split, calibration,
        dynamics: o.dynamics, maliciousShare: o.maliciousShare });
      for (let ep = 0; ep < o.episodes; ep++) {
        let { info } = env.reset({ seed: 100_000 * split + 1000 * site + ep });
        for (let i = 0; i < 200; i++) {
          const r = env.step(o.policy ? o.policy((info.current as { label: number }).label) : ALLOW);
          flows++;
          if (r.info.label === 1) { mal++; fam[r.info.family as string] = (fam[r.info.family as string] ?? 0) + 1; }
          info = r.info;
        }
      }
    }
  }
  return { flows, share: mal / flows, mix: Object.fromEntries(Object.entries(fam).map(([f, n]) => [f, n / mal])) };
}

/** Largest |measured − dataset| over the attack families, in percentage points. */
function mixError(calibration: DatasetId, m: Measured): { worst: number; family: string } {
  const p = PROFILES[calibration], want = attackMix(p);
  let worst = 0, family = "";
  p.families.forEach((f, i) => {
    const e = 100 * Math.abs((m.mix[f] ?? 0) - want[i]!);
    if (e > worst) { worst = e; family = f; }
  });
  return { worst, family };
}

describe("IoTIntrusion-v0 calibration to the datasets' class mixes", () => {
  it("dirichletVolumes: pooled volumes are exact, no site exceeds the cap, mixes equal dirichletSplit's when no cap binds", () => {
    const categories = ["a", "b", "c", "d"], prior = [0.5, 0.3, 0.15, 0.05];
    for (const [alpha, seed] of [[0.05, 1], [0.3, 2], [5, 3]] as const) {
      const o = { sites: 6, alpha, seed, categories, prior };
      const v = dirichletVolumes({ ...o, share: 0.3, cap: 0.6 });
      const pooled = categories.map((_, c) => v.shares.reduce((s, sh, k) => s + sh * v.mixes[k]![c]!, 0) / 6);
      pooled.forEach((x, c) => expect(x, `α=${alpha} ${categories[c]}`).to.be.closeTo(0.3 * prior[c]!, 1e-12));
      for (const s of v.shares) expect(s).to.be.at.most(0.6 + 1e-12);
      for (const m of v.mixes) expect(m.reduce((a, b) => a + b, 0)).to.be.closeTo(1, 1e-12);
      if (Math.max(...v.shares) < 0.6 - 1e-9) {
        dirichletSplit(o).forEach((row, k) => row.forEach((x, c) => expect(v.mixes[k]![c]).to.be.closeTo(x, 1e-12)));
      }
    }
    // a concentrated split where caps bind: still exact, capped sites at the cap
    const tight = dirichletVolumes({ sites: 4, alpha: 0.02, seed: 7, categories, prior, share: 0.45, cap: 0.5 });
    expect(Math.max(...tight.shares)).to.be.closeTo(0.5, 1e-12);
    expect(tight.shares.reduce((a, b) => a + b, 0) / 4).to.be.closeTo(0.45, 1e-12);
    expect(() => dirichletVolumes({ sites: 2, alpha: 1, seed: 0, categories, prior, share: 0.7, cap: 0.6 })).to.throw(RangeError);
  });

  for (const calibration of CALIBRATIONS) {
    it(`${calibration}: the sites' planned shares and mixes pool to the dataset's exactly; per-site shares spread more as α falls`, () => {
      const p = PROFILES[calibration];
      /** mean over splits of the sd of the 5 sites' shares */
      const spread = (alpha: number) => {
        let s = 0;
        for (let split = 0; split < 8; split++) {
          const envs = Array.from({ length: 5 }, (_, site) => new IoTIntrusionEnv({ site, sites: 5, alpha, splitSeed: split, calibration }));
          const shares = envs.map((e) => e.plan.share);
          const mean = shares.reduce((a, b) => a + b, 0) / 5;
          expect(mean).to.be.closeTo(attackShare(p), 1e-12);
          const pooled = p.families.map((_, i) => envs.reduce((a, e) => a + e.plan.share * e.familyMix[i]!, 0) / (5 * attackShare(p)));
          pooled.forEach((x, i) => expect(x, p.families[i]).to.be.closeTo(attackMix(p)[i]!, 1e-9));
          for (const e of envs) expect(e.plan.share).to.be.at.most(e.dyn.maxSiteShare + 1e-12);
          s += Math.sqrt(shares.reduce((a, x) => a + (x - mean) ** 2, 0) / 5);
        }
        return s / 8;
      };
      const sd = [0.3, 3, 300].map(spread);
      expect(sd[0]).to.be.greaterThan(sd[1]!);
      expect(sd[1]).to.be.greaterThan(sd[2]!);
      expect(sd[2]).to.be.lessThan(0.01);
    });

    it(`${calibration}: measured over 5 sites × 2 splits (allow-all), the malicious share and the attack-family mix are within 2 points of the dataset's`, () => {
      // Campaigns of 2-5 flows: the flows are ~10× more independent than with the default 15-50 (a
      // family is drawn once per campaign), so 200k flows pin the mix to < 1 point; the same plan
      // computes the default campaigns (next test; bench/iot-baselines.ts measures 1 M default flows per dataset).
      const m = measure(calibration, { sites: 5, alpha: 0.3, splits: 2, episodes: 100, dynamics: { campaignFlows: [2, 5], reconFlows: 1 } });
      expect(m.flows).to.equal(200_000);
      expect(100 * Math.abs(m.share - attackShare(PROFILES[calibration]))).to.be.lessThan(2);
      const e = mixError(calibration, m);
      expect(e.worst, `worst family ${e.family}`).to.be.lessThan(2);
    });

    it(`${calibration}: default campaigns (15-50 flows): the pooled malicious share is within 2 points`, () => {
      // 60k flows hold only ~300 campaigns: enough for the share (sd ≈ 0.5 point), not for the family mix (sd 2-3 points)
      const m = measure(calibration, { sites: 5, alpha: 0.3, splits: 2, episodes: 30 });
      expect(100 * Math.abs(m.share - attackShare(PROFILES[calibration]))).to.be.lessThan(2);
    });
  }

  it("maliciousShare sets the pooled share; isolating the attacking devices lowers the share actually sent", () => {
    const base = { sites: 5, alpha: 1, splits: 1, episodes: 60 } as const;
    const half = measure("cic-ids2017", { ...base, maliciousShare: 0.4 });
    expect(half.share).to.be.closeTo(0.4, 0.02 * 1.5);
    const contained = measure("cic-ids2017", { ...base, maliciousShare: 0.4, policy: (y) => (y ? ISOLATE : ALLOW) });
    expect(contained.share).to.be.lessThan(half.share - 0.05);
    expect(() => new IoTIntrusionEnv({ maliciousShare: 0.9 })).to.throw(/maliciousShare must be a number in \[0, dynamics.maxSiteShare = 0.6\]/);
  });
});
