import { expect } from "chai";
import { make } from "../../envs/index";
import { runIntrusionEpisode, thresholdRule } from "../../envs/iot/baselines";
import { blockScore, detectionReport, evaluateDetector, heldOutSplit, runDetectionEpisode, type DetectionRecord, type Detector } from "../../envs/iot/detection";
import { PROFILES } from "../../envs/iot/families";
import { ACTIONS, ALLOW, DROP, ESCALATE, OBS } from "../../envs/iot/intrusion";
import { loadDatasetSync } from "../../envs/iot/loaders";
import { tprAtFpr } from "../../envs/iot/metrics";
import { Rng } from "../../envs/iot/rng";
import { parseExperiment } from "../../launch/config";
import { DetectionProbe, DRAWS_PER_FLOW, heldOutSeeds, heldOutSet, closeSites, streamPosition, trainingSeedRanges, trainingStreams } from "../../launch/detection";
import { seedOf } from "../../launch/seeds";
import { runEmbedded } from "../../launch/embedded";
import { MemoryMetrics } from "../../core/metrics";

const rec = (o: Partial<DetectionRecord> & { label: number; pred: number; site: string }): DetectionRecord => ({
  score: o.pred, family: o.label ? "dos" : "benign", action: o.pred ? "drop" : "allow", damage: 0, benignLost: 0,
  ...o, slices: { site: o.site, deviceType: o.slices?.deviceType ?? "camera" },
});

describe("IoT detection evaluation", () => {
  describe("TPR at FPR 1 % (a ROC step point)", () => {
    it("walks tie groups by falling score and stops at the first one past the bound (hand-computed)", () => {
      // 10 positives scored 10..1; 200 negatives: 9.5, 7.5, 5.5 and 197 at 0. FPR ≤ 1 % allows 2 false positives.
      // desc: 10(+) 9.5(−) 9(+) 8(+) 7.5(−) 7(+) 6(+) | 5.5(−) is the 3rd negative → stop: TPR 5/10.
      const pos = [10, 9, 8, 7, 6, 5, 4, 3, 2, 1], neg = [9.5, 7.5, 5.5, ...Array<number>(197).fill(0)];
      const labels = [...pos.map(() => 1), ...neg.map(() => 0)], scores = [...pos, ...neg];
      expect(tprAtFpr(labels, scores, 0.01)).to.equal(0.5);
      // at FPR ≤ 0.5 % only the first negative fits: 10(+) 9.5(−) 9(+) 8(+) → 3/10
      expect(tprAtFpr(labels, scores, 0.005)).to.be.closeTo(0.3, 1e-12);
      expect(tprAtFpr(labels, scores, 1)).to.equal(1);
    });

    it("does not split a tie that carries FPR over the bound; NaN with one class", () => {
      // top tie group: 3 positives and 3 of 100 negatives (FPR 3 %): not allowed at 1 % → 0
      const labels = [1, 1, 1, 1, ...Array<number>(100).fill(0)];
      const scores = [5, 5, 5, 1, 5, 5, 5, ...Array<number>(97).fill(0)];
      expect(tprAtFpr(labels, scores, 0.01)).to.equal(0);
      expect(tprAtFpr(labels, scores, 0.029)).to.equal(0);
      // at 3 %: the tie (3/4, FPR 3 %), then the positive at 1 (no new negative) → 4/4
      expect(tprAtFpr(labels, scores, 0.03)).to.equal(1);
      expect(tprAtFpr([1, 1], [0.3, 0.2])).to.be.NaN;
      expect(tprAtFpr([0, 0], [0.3, 0.2])).to.be.NaN;
    });
  });

  it("block score: the best blocking action's score minus allow's", () => {
    expect(blockScore([1, 0.5, 3, -1, 2, 0])).to.equal(2);
    expect(blockScore([4, 1, 2, 3, 0, -5])).to.equal(-1);
    // log-probabilities: log(max_a π_a / π_allow)
    const p = [0.5, 0.1, 0.25, 0.05, 0.05, 0.05];
    expect(blockScore(p.map(Math.log))).to.be.closeTo(Math.log(0.25 / 0.5), 1e-12);
  });

  it("report: pooled and per-site metrics, worst site, costs per 1,000 flows (hand-computed)", () => {
    const records: DetectionRecord[] = [
      // site 0: tp (dropped attack), fn (attack let through, damage 2.5), tn, fp (benign dropped → lost)
      rec({ label: 1, pred: 1, site: "0", score: 0.9 }),
      rec({ label: 1, pred: 0, site: "0", score: 0.2, damage: 2.5 }),
      rec({ label: 0, pred: 0, site: "0", score: 0.1 }),
      rec({ label: 0, pred: 1, site: "0", score: 0.8, benignLost: 1 }),
      // site 1: tp via escalate, tn, tn, fn via rate limit (damage 0.4 = 1 × (1 − 0.6)), benign escalated (lost), isolation of an attack
      rec({ label: 1, pred: 1, site: "1", score: 0.7, action: "escalate" }),
      rec({ label: 0, pred: 0, site: "1", score: 0.3, slices: { site: "1", deviceType: "plc" } }),
      rec({ label: 0, pred: 0, site: "1", score: 0.0, slices: { site: "1", deviceType: "plc" } }),
      rec({ label: 1, pred: 1, site: "1", score: 0.6, action: "ratelimit", damage: 0.4, slices: { site: "1", deviceType: "plc" } }),
      rec({ label: 0, pred: 1, site: "1", score: 0.5, action: "escalate", benignLost: 1, slices: { site: "1", deviceType: "plc" } }),
      rec({ label: 1, pred: 1, site: "1", score: 0.95, action: "isolate" }),
    ];
    const r = detectionReport(records);
    const p = r.pooled;
    expect([p.tp, p.fp, p.tn, p.fn, p.n, p.malicious]).to.deep.equal([4, 2, 3, 1, 10, 5]);
    expect(p.f1).to.be.closeTo(8 / 11, 1e-12);
    expect(p.fpr).to.be.closeTo(2 / 5, 1e-12);
    // costs: damage 2.9 over 10 flows → 290 per 1k; 2 benign lost → 200; 2 escalations → 200; 1 isolation → 100
    expect(p.damagePer1k).to.be.closeTo(290, 1e-9);
    expect(p.benignLostPer1k).to.be.closeTo(200, 1e-9);
    expect(p.escalationsPer1k).to.be.closeTo(200, 1e-9);
    expect(p.isolationsPer1k).to.be.closeTo(100, 1e-9);
    // site 0: tp1 fn1 fp1 tn1 → F1 ½; site 1: tp3 fp1 tn2 → F1 6/7
    expect(r.sites["0"]!.f1).to.be.closeTo(0.5, 1e-12);
    expect(r.sites["1"]!.f1).to.be.closeTo(6 / 7, 1e-12);
    expect(r.worstSite).to.equal("0");
    expect(r.worstSiteF1).to.be.closeTo(0.5, 1e-12);
    expect(r.worstSiteF1Gap).to.be.closeTo(6 / 7 - 0.5, 1e-12);
    expect(r.sites["0"]!.damagePer1k).to.be.closeTo(625, 1e-9); // 2.5 over 4 flows
    expect(r.sites["1"]!.escalationsPer1k).to.be.closeTo(1000 / 3, 1e-9);
    // device types pooled: camera tp3 fn1 fp1 tn1 → F1 ¾; plc tp1 fp1 tn2 → F1 ⅔: gap 1/12, worst plc
    expect(p.worstDeviceTypeF1Gap).to.be.closeTo(1 / 12, 1e-12);
    expect(p.worstDeviceType).to.equal("plc");
    // ranking: positives {0.95, 0.9, 0.7, 0.6, 0.2}, negatives {0.8, 0.5, 0.3, 0.1, 0}: pairs won 5+5+4+4+2 = 20 of 25
    expect(p.rocAuc).to.be.closeTo(0.8, 1e-12);
    // 5 negatives: FPR ≤ 1 % allows none; 0.95(+) 0.9(+) then 0.8(−) → TPR 2/5
    expect(p.tprAtFpr1).to.be.closeTo(0.4, 1e-12);
    expect(r.scoreSource).to.equal("scores");
    expect(r.nonFiniteScores).to.equal(0);
    const bad = detectionReport([...records, rec({ label: 0, pred: 0, site: "0", score: NaN })]);
    expect(bad.nonFiniteScores).to.equal(1);
    expect(bad.pooled.rocAuc).to.be.NaN;
    expect(bad.pooled.f1).to.be.closeTo(p.f1, 1e-12);
  });

  describe("scripted policies on IoTIntrusion-v0 (3 sites × 2 episodes)", () => {
    const K = 3;
    const sites = () => Array.from({ length: K }, (_, site) => ({ site, env: make("IoTIntrusion-v0", { site, sites: K, alpha: 0.3 }), seeds: [500 + site, 600 + site] }));
    const always = (a: number): Detector => ({ act: () => a });
    const severity = PROFILES["cic-ids2017"].severity;

    it("allow-all lets every attack's full severity through and loses no benign flow", () => {
      const r = evaluateDetector(always(ALLOW), sites());
      const records = sites().flatMap((s) => s.seeds.flatMap((seed) => runDetectionEpisode(s.env, always(ALLOW), seed)));
      const expected = records.filter((x) => x.label).reduce((a, x) => a + (severity[x.family] ?? 1), 0);
      expect(r.pooled.n).to.equal(K * 2 * 200);
      expect(r.pooled.malicious).to.be.greaterThan(0);
      expect(r.pooled.damagePer1k).to.be.closeTo((1000 * expected) / r.pooled.n, 1e-9);
      expect(r.pooled.benignLostPer1k).to.equal(0);
      expect(r.pooled.escalationsPer1k).to.equal(0);
      expect(r.pooled.recall).to.equal(0);
      expect(r.scoreSource).to.equal("actions");
      expect(Object.keys(r.sites)).to.deep.equal(["0", "1", "2"]);
    });

    it("drop-all and escalate-all: no damage; every benign flow lost; escalations counted", () => {
      const d = evaluateDetector(always(DROP), sites());
      expect(d.pooled.damagePer1k).to.equal(0);
      expect(d.pooled.benignLostPer1k).to.be.closeTo((1000 * (d.pooled.n - d.pooled.malicious)) / d.pooled.n, 1e-9);
      expect([d.pooled.recall, d.pooled.fpr]).to.deep.equal([1, 1]);
      const e = evaluateDetector(always(ESCALATE), sites());
      expect(e.pooled.escalationsPer1k).to.equal(1000);
      expect(e.pooled.damagePer1k).to.equal(0);
      expect(e.pooled.benignLostPer1k).to.be.closeTo((1000 * (e.pooled.n - e.pooled.malicious)) / e.pooled.n, 1e-9);
    });

    it("an oracle with scores is perfect; an alert rule matches the baselines' runner decision for decision", () => {
      const oracle: Detector = {
        act: (_o, info) => ((info.current as { label: number }).label ? DROP : ALLOW),
        scores: (_o, info) => { const y = (info.current as { label: number }).label; return [1 - y, y, 0, 0, 0, 0]; },
      };
      const o = evaluateDetector(oracle, sites());
      expect([o.pooled.f1, o.pooled.rocAuc, o.pooled.prAuc, o.pooled.tprAtFpr1, o.pooled.fpr, o.pooled.damagePer1k, o.pooled.benignLostPer1k]).to.deep.equal([1, 1, 1, 1, 0, 0, 0]);
      expect(o.worstSiteF1).to.equal(1);
      const rule = thresholdRule(OBS.alert, 0.5, true);
      const alert: Detector = { act: (obs, info) => rule(obs, info).action, scores: (obs) => [0, obs[OBS.alert]!, 0, 0, 0, 0] };
      for (const s of sites()) for (const seed of s.seeds) {
        const mine = runDetectionEpisode(s.env, alert, seed);
        const theirs = runIntrusionEpisode(s.env, rule, seed).records;
        expect(mine.map((x) => [x.label, x.pred, x.score, x.family])).to.deep.equal(theirs.map((x) => [x.label, x.pred, x.score, x.family]));
        expect(mine.every((x) => x.action === ACTIONS[x.pred ? DROP : ALLOW])).to.equal(true);
      }
    });
  });

  describe("held-out split", () => {
    const iot = (extra: Record<string, unknown> = {}) => parseExperiment({ env: { id: "IoTIntrusion-v0", perActorSite: true, options: { alpha: 0.3 } }, actors: { count: 5 }, budget: { stepsPerActor: 100_000 }, ...extra });

    it("sites: every site of the run (perActorSite: K = actors; else options.sites)", () => {
      const a = heldOutSet(iot(), 2);
      expect(a.sites.map((s) => s.site)).to.deep.equal([0, 1, 2, 3, 4]);
      expect(a.description.flows).to.equal(5 * 2 * 200);
      // site k's episode e: seeds[e·K + k]
      expect(a.sites[3]!.seeds).to.deep.equal([a.description.seeds[3], a.description.seeds[8]]);
      closeSites(a.sites);
      const b = heldOutSet(parseExperiment({ env: { id: "IoTIntrusion-v0", options: { sites: 3 } } }), 1);
      expect(b.sites.length).to.equal(3);
      closeSites(b.sites);
    });

    it("seeds: none an actor resets its envs with, at start or on a resume within the budget", () => {
      // 12 actors: actor 10's envs start at 100,070, inside the eval range from 100,000
      const exp = iot({ actors: { count: 12 }, env: { id: "IoTIntrusion-v0", perActorSite: true, numEnvs: 2 } });
      const { ranges, resumeBound } = trainingSeedRanges(exp);
      expect(resumeBound).to.equal(500);
      const seeds = heldOutSeeds(exp, 200);
      expect(new Set(seeds).size).to.equal(200);
      for (let i = 0; i < 12; i++) {
        const base = seedOf(exp, i).env;
        expect(ranges[i]).to.deep.equal({ actor: i, lo: base, len: 2 + 500 });
        for (const s of [base, base + 1, base + 250, base + 501]) expect(seeds, `actor ${i} seed ${s}`).to.not.include(s);
      }
      expect(seeds[0]).to.equal(100_000);
      expect(seeds).to.not.include(100_070);
      expect(seeds.filter((s) => s >= 100_070 && s < 100_572)).to.deep.equal([]);
      expect(seeds.at(-1)).to.be.greaterThan(100_572);
    });

    it("streams: a seed's position advances by one per draw, and seeds whose stream runs into an actor's are skipped", () => {
      const r = new Rng(4242);
      const p = streamPosition(4242);
      for (let i = 0; i < 37; i++) r.next();
      // Rng(s) starts at (s ^ 0x9e3779b9) + 4 draws of warm-up: invert to name the seed starting at a given position
      const WEYL = 0x6d2b79f5;
      const seedAt = (pos: number) => (((Math.imul(pos, WEYL) - Math.imul(4, WEYL)) >>> 0) ^ 0x9e3779b9) >>> 0;
      expect(streamPosition(seedAt((p + 37) >>> 0))).to.equal((p + 37) >>> 0);
      expect(r.state).to.equal(new Rng(seedAt((p + 37) >>> 0)).state);
      const exp = iot();
      const t = trainingStreams(exp)!;
      expect(t.length).to.equal(5);
      expect(t[2]!.draws).to.equal(100_000 * DRAWS_PER_FLOW);
      // a seed whose stream starts 1,000 draws into actor 2's: refused, the next clean one taken
      const inside = seedAt((t[2]!.start + 1000) >>> 0);
      expect(heldOutSeeds(exp, 1, inside)[0]).to.not.equal(inside);
      // and one 300 draws before it (its 200-flow episode would run into it): refused too
      const before = seedAt((t[2]!.start - 300) >>> 0);
      expect(heldOutSeeds(exp, 1, before)[0]).to.not.equal(before);
      expect(trainingStreams(iot({ budget: {} }))).to.equal(null);
    });

    it("CSV sources: the file split training did not draw from (fixtures)", () => {
      expect(heldOutSplit({})).to.equal(null);
      expect(heldOutSplit({ source: "unsw-nb15" })).to.equal("test");
      expect(heldOutSplit({ source: "unsw-nb15", split: "test" })).to.equal("train");
      const dataDir = "test/fixtures/iot";
      const exp = parseExperiment({ env: { id: "IoTIntrusion-v0", options: { source: "unsw-nb15", dataDir, sites: 2 } } });
      const { sites, description } = heldOutSet(exp, 1);
      expect(description.split).to.equal("test");
      const data = loadDatasetSync("unsw-nb15", `${dataDir}/unsw-nb15`);
      const key = (x: ArrayLike<number>) => Array.from(x, (v) => v.toFixed(5)).join(",");
      const test = new Set(data.test.map((f) => key(data.scaler.transform(f.x))));
      const trainOnly = data.train.map((f) => key(data.scaler.transform(f.x))).filter((k) => !test.has(k));
      expect(trainOnly.length).to.be.greaterThan(0);
      const seen = new Set<string>();
      for (const s of sites) {
        let { obs } = s.env.reset({ seed: s.seeds[0]! });
        for (let t = 0; t < 200; t++) {
          seen.add(key(obs.subarray(OBS.flow, OBS.flow + 14)));
          obs = s.env.step(ALLOW).obs;
        }
      }
      closeSites(sites);
      for (const k of seen) expect(test.has(k), k).to.equal(true);
      for (const k of trainOnly) expect(seen.has(k)).to.equal(false);
    });
  });

  it("the per-round probe: a fixed set (same seeds each time), finite metrics for a scripted agent", () => {
    const exp = parseExperiment({ env: { id: "IoTIntrusion-v0", perActorSite: true }, actors: { count: 2 }, eval: { detection: { every: 2, episodes: 1 } } });
    expect(DetectionProbe.enabled(exp)).to.equal(true);
    expect(DetectionProbe.enabled(parseExperiment({ env: { id: "IoTIntrusion-v0" }, eval: { detection: { every: 0 } } }))).to.equal(false);
    expect(DetectionProbe.enabled(parseExperiment({}))).to.equal(false);
    const probe = new DetectionProbe(exp);
    expect([1, 2, 3, 4].map((r) => probe.due(r))).to.deep.equal([false, true, false, true]);
    const agent = { act: (o: ArrayLike<number>) => (o[OBS.alert]! > 0 ? DROP : ALLOW), actionScores: (o: ArrayLike<number>) => Float32Array.from([0, o[OBS.alert]! + o[OBS.devAlertRate]!, 0, 0, 0, 0]) };
    const a = probe.run(agent, { round: 2, version: 3, clock: 400 });
    const b = probe.run(agent, { round: 4, version: 5, clock: 800 });
    probe.close();
    expect(a).to.include({ round: 2, version: 3, clock: 400, flows: 400 });
    for (const k of ["f1", "precision", "recall", "fpr", "rocAuc", "prAuc", "tprAtFpr1", "worstSiteF1", "damagePer1k", "benignLostPer1k", "escalationsPer1k"] as const) expect(Number.isFinite(a[k]), k).to.equal(true);
    expect(Object.keys(a.siteF1)).to.deep.equal(["0", "1"]);
    const { seconds: _s1, round: _r1, version: _v1, clock: _c1, ...restA } = a;
    const { seconds: _s2, round: _r2, version: _v2, clock: _c2, ...restB } = b;
    expect(restB).to.deep.equal(restA);
  });

  it("fedavg on the step clock: the bare global model is probed after every round (an evaluator agent of its layout)", async () => {
    const m = new MemoryMetrics();
    const exp = parseExperiment({
      run: "det-fedavg", mode: "fedavg", clock: "steps", env: { id: "IoTIntrusion-v0", perActorSite: true }, agent: { learningStarts: 100, hidden: [16, 16] },
      actors: { count: 2, weights: { ms: 1000, steps: 250 } }, aggregator: { interval: { ms: 1000, steps: 250 } },
      budget: { stepsPerActor: 600 }, eval: { episodes: 0, detection: { every: 1, episodes: 1 } },
    });
    const summary = await runEmbedded(exp, { metrics: m, writeMetrics: false });
    const det = m.of("detection"), rounds = m.of("aggregation");
    expect(det.length).to.be.at.least(2);
    expect(det.map((d) => d.round)).to.deep.equal(rounds.map((r) => r.round));
    expect(det.map((d) => d.version)).to.deep.equal(rounds.map((r) => r.version));
    for (const d of det) {
      for (const k of ["fpr", "damagePer1k", "benignLostPer1k", "escalationsPer1k"]) expect(Number.isFinite(d[k]), `${k} ${d[k]}`).to.equal(true);
      // closed loop: an untrained model may quarantine every device and so face no attack (F1 undefined)
      if ((d.malicious as number) > 0) for (const k of ["f1", "recall", "rocAuc", "worstSiteF1"]) expect(Number.isFinite(d[k]), `${k} ${d[k]}`).to.equal(true);
      else expect(d.f1).to.be.NaN;
    }
    expect(det.filter((d) => Number.isFinite(d.f1)).length).to.be.at.least(1);
    expect(summary.detection?.map((d) => d.round)).to.deep.equal(det.map((d) => d.round));
  });
});
