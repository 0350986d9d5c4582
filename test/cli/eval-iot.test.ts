import { expect } from "chai";
import { spawnSync } from "node:child_process";
import { mkdtempSync, readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadAgent, resolveCheckpoint, runConfigOf } from "../../launch/checkpoints";
import { evaluateDetection } from "../../launch/detection";
import { RunMetrics } from "../../launch/prom";

const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
const fedrl = (cwd: string, ...args: string[]) => spawnSync(process.execPath, [join(process.cwd(), "bin/fedrl.mjs"), ...args], { encoding: "utf8", env, cwd });

/**
 * A short IoTIntrusion-v0 hybrid run (the shipped config, 2 sites, step clock, 1,600 steps per
 * actor, a round every 500): the global model's held-out detection after every round in the run's
 * metrics and summary, then `fedrl eval` and `fedrl plot` on its folder.
 */
describe("IoT detection during training and in fedrl eval", function () {
  this.timeout(300_000);
  const root = mkdtempSync(join(tmpdir(), "fedrl-iot-eval-"));
  let run = "";

  before(() => {
    const r = fedrl(root, "run", "--config", join(process.cwd(), "configs/iot-intrusion-hybrid.yaml"),
      "--set", "clock=steps", "--set", "actors.count=2", "--set", "budget.stepsPerActor=1600", "--set", "aggregator.interval.steps=500",
      "--set", "actors.weights.steps=300", "--set", "agent.learningStarts=200", "--set", "agent.hidden=[32,32]", "--set", "learner.warmup=300", "--set", "eval.episodes=1");
    expect(r.status, r.stderr).to.equal(0);
    run = join(root, "runs", readdirSync(join(root, "runs"))[0]!);
  });

  const finite = (x: unknown) => typeof x === "number" && Number.isFinite(x);

  it("the run writes a finite detection point per aggregation round to learner.jsonl and summary.json", () => {
    const events = readFileSync(join(run, "learner.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l) as Record<string, unknown>);
    const det = events.filter((e) => e.event === "detection");
    const rounds = events.filter((e) => e.event === "aggregation");
    expect(det.length).to.be.at.least(2);
    expect(det.map((d) => d.round)).to.deep.equal(rounds.map((r) => r.round));
    // closed loop: a model that quarantines every device faces no attack (F1 and AUCs null then)
    expect(det.filter((d) => finite(d.f1) && finite(d.rocAuc) && finite(d.worstSiteF1)).length).to.be.at.least(2);
    for (const d of det) {
      for (const k of ["fpr", "damagePer1k", "benignLostPer1k", "escalationsPer1k"]) expect(finite(d[k]), `${k} of round ${d.round}: ${d[k]}`).to.equal(true);
      if ((d.malicious as number) > 0) for (const k of ["f1", "recall", "rocAuc", "tprAtFpr1"]) expect(finite(d[k]), `${k} of round ${d.round}: ${d[k]}`).to.equal(true);
      expect(d.flows).to.equal(2 * 2 * 200); // 2 sites × eval.detection.episodes (2) × 200 flows
      expect(Object.keys(d.siteF1 as object)).to.deep.equal(["0", "1"]);
      expect(d.clock).to.equal(500 * Number(d.round)); // step clock: env steps per actor at the round
    }
    const summary = JSON.parse(readFileSync(join(run, "summary.json"), "utf8")) as { detection: { round: number; f1: number }[] };
    expect(summary.detection.map((d) => [d.round, d.f1])).to.deep.equal(det.map((d) => [d.round, d.f1]));
  });

  it("fedrl eval: a pooled row and one per site, the JSON the same numbers as evaluateDetection in process", async () => {
    const r = fedrl(root, "eval", "--checkpoint", run, "--episodes", "2");
    expect(r.status, r.stderr).to.equal(0);
    const lines = r.stdout.trim().split("\n");
    expect(r.stdout).to.match(/held-out detection\s+2 sites × 2 episodes, 800 flows; seeds 100000…100003; synthetic traffic/);
    const header = lines.findIndex((l) => /^site\s+flows\s+mal %\s+acc\s+prec\s+recall\s+F1\s+FPR\s+ROC-AUC\s+PR-AUC\s+TPR@1%\s+dmg\/1k\s+lost\/1k\s+esc\/1k/.test(l));
    expect(header, r.stdout).to.be.greaterThan(0);
    expect(lines[header + 1]).to.match(/^all\s+800\s/);
    expect(lines[header + 2]).to.match(/^0\s+400\s/);
    expect(lines[header + 3]).to.match(/^1\s+400\s/);
    expect(r.stdout).to.match(/worst site F1 [\d.–]+/);
    const j = JSON.parse(lines.at(-1)!) as { detection: { pooled: Record<string, number>; sites: Record<string, Record<string, number>>; heldOut: { seeds: number[]; split: null }; scoreSource: string } };
    expect(j.detection.heldOut.seeds).to.deep.equal([100000, 100001, 100002, 100003]);
    expect(j.detection.scoreSource).to.equal("scores");
    expect(j.detection.pooled.n).to.equal(800);
    expect(j.detection.sites["0"]!.n + j.detection.sites["1"]!.n).to.equal(800);
    expect(j.detection.pooled.tp + j.detection.pooled.fn).to.equal(j.detection.pooled.malicious);
    // The table's F1 column is the JSON's, to 3 decimals.
    expect(lines[header + 1]!.split(/\s+/)[6]).to.equal(j.detection.pooled.f1!.toFixed(3));
    // In process, on the same checkpoint and config: the same report.
    const ckpt = resolveCheckpoint(run);
    const agent = await loadAgent(ckpt);
    try {
      const mine = evaluateDetection(agent, runConfigOf(ckpt)!, 2);
      expect(JSON.parse(JSON.stringify(mine.report.pooled))).to.deep.equal(j.detection.pooled);
    } finally {
      agent.dispose();
    }
    const js = fedrl(root, "eval", "--checkpoint", join(run, "actor-1-checkpoint"), "--episodes", "1", "--json");
    expect(js.status, js.stderr).to.equal(0);
    const o = JSON.parse(js.stdout) as { detection: { pooled: { n: number }; worstSite: string | null } };
    expect(o.detection.pooled.n).to.equal(400);
  });

  it("fedrl plot draws the detection curve", () => {
    const r = fedrl(root, "plot", run);
    expect(r.status, r.stderr).to.equal(0);
    expect(readFileSync(join(run, "curves.svg"), "utf8")).to.include("held-out detection of the global model").and.include("worst-site F1");
  });

  it("Prometheus gauges and /api/state carry the last detection points", async () => {
    const m = new RunMetrics({ run: "det-test", role: "embedded", mode: "hybrid", env: "IoTIntrusion-v0" });
    try {
      expect(await m.metrics()).to.not.include("fedrl_detection"); // nothing before the first probe
      const sink = m.sink();
      sink.write("detection", { round: 1, version: 2, f1: 0.5, rocAuc: 0.75, fpr: 0.1, worstSiteF1: 0.25, tprAtFpr1: 0.4, prAuc: 0.6, precision: 0.5, recall: 0.5, damagePer1k: 12, benignLostPer1k: 3, escalationsPer1k: 1, siteF1: { "0": 0.25, "1": 0.75 } });
      // a NaN (no attack at a site) removes the series: no stale value, no misleading 0
      sink.write("detection", { round: 2, version: 4, f1: 0.6, rocAuc: 0.8, fpr: 0.05, worstSiteF1: null, tprAtFpr1: 0.5, damagePer1k: 9, siteF1: { "0": null, "1": 0.8 } });
      const text = await m.metrics();
      const val = (name: string, label = "") => Number(text.split("\n").find((l) => l.startsWith(`${name}{`) && l.includes(label))?.split(" ").at(-1));
      expect(val("fedrl_detection_f1")).to.equal(0.6);
      expect(val("fedrl_detection_roc_auc")).to.equal(0.8);
      expect(val("fedrl_detection_fpr")).to.equal(0.05);
      expect(text).to.not.match(/^fedrl_detection_worst_site_f1\{/m);
      expect(val("fedrl_detection_round")).to.equal(2);
      expect(text).to.not.match(/^fedrl_detection_site_f1\{[^}]*site="0"/m);
      expect(val("fedrl_detection_site_f1", 'site="1"')).to.equal(0.8);
      expect(val("fedrl_detection_cost_per_1k_flows", 'cost="damage"')).to.equal(9);
      expect(text).to.not.include('cost="benign_lost"'); // not in the last probe
      const s = m.state();
      expect(s.detection.map((d) => [d.round, d.f1, d.worstSiteF1])).to.deep.equal([[1, 0.5, 0.25], [2, 0.6, null]]);
    } finally {
      m.close();
    }
  });
});
