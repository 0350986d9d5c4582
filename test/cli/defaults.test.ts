import { expect } from "chai";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { ENV_DEFAULTS, defaultRun, localDefaults } from "../../launch/defaults";
import { loadExperiment, parseExperiment } from "../../launch/config";
import { trainLocalExperiment } from "../../launch/train-local";

describe("per-env defaults (launch/defaults.ts)", () => {
  it("every entry validates, as train-local's local run and as fedrl run's hybrid", () => {
    for (const id of Object.keys(ENV_DEFAULTS)) {
      const l = parseExperiment(localDefaults(id), id);
      expect(l.mode).to.equal("local");
      expect(l.agent).to.deep.equal(ENV_DEFAULTS[id]!.agent);
      const r = parseExperiment(defaultRun(id), id);
      expect(r.mode).to.equal("hybrid");
      expect(r.budget.stepsPerActor).to.be.greaterThan(0);
    }
  });

  it("train-local with no --config runs the env's defaults; --set overrides a key; --config replaces them", () => {
    for (const id of Object.keys(ENV_DEFAULTS)) {
      const d = ENV_DEFAULTS[id]!;
      const e = trainLocalExperiment({ sets: [], env: id, seed: 2 });
      expect(e.env.id).to.equal(id);
      expect(e.mode).to.equal("local");
      expect(e.actors.count).to.equal(1);
      expect(e.seed).to.equal(2);
      expect(e.agent).to.deep.equal(d.agent);
      expect(e.budget).to.include({ stepsPerActor: d.stepsPerActor, targetReturn: d.targetReturn, window: d.window, stopAtTarget: true });
    }
    expect(trainLocalExperiment({ sets: [] }).env.id).to.equal("CartPole-v1");
    expect(trainLocalExperiment({ sets: ["env.id=LunarLander-v3"] }).agent).to.deep.equal(ENV_DEFAULTS["LunarLander-v3"]!.agent);
    const set = trainLocalExperiment({ sets: ["agent.lr=0.002", "budget.stepsPerActor=1000"], env: "CartPole-v1", episodes: 500 });
    expect(set.agent.lr).to.equal(0.002);
    expect(set.agent.nStep).to.equal(ENV_DEFAULTS["CartPole-v1"]!.agent.nStep);
    expect(set.budget).to.include({ stepsPerActor: 1000, episodesPerActor: 500 });
    // --config replaces the table: the file's agent keys, nothing of ENV_DEFAULTS
    const cfg = join(mkdtempSync(join(tmpdir(), "fedrl-defaults-")), "local.yaml");
    writeFileSync(cfg, "mode: local\nenv: { id: CartPole-v1 }\nagent: { lr: 0.001 }\nbudget: { stepsPerActor: 1000 }\n");
    const file = trainLocalExperiment({ config: cfg, sets: [] });
    expect(file.agent).to.deep.equal({ lr: 0.001 });
  });

  it("fedrl run with no --config is the CartPole hybrid with a budget on the CartPole defaults", () => {
    const e = loadExperiment(undefined, [], {});
    expect(e).to.deep.include({ mode: "hybrid", run: "cartpole-hybrid" });
    expect(e.env.id).to.equal("CartPole-v1");
    expect(e.agent).to.deep.equal({ ...ENV_DEFAULTS["CartPole-v1"]!.agent, ...ENV_DEFAULTS["CartPole-v1"]!.hybrid!.agent });
    expect(e.budget).to.include({ stepsPerActor: 150_000, targetReturn: 475, stopAtTarget: true });
    expect(e.actors.shipNStep).to.equal(true); // the learner learns the agent's 3-step returns too
    expect(loadExperiment(undefined, ["env.id=LunarLander-v3"], {}).agent).to.deep.equal(ENV_DEFAULTS["LunarLander-v3"]!.agent);
  });

  it("fedrl run with no --config is configs/cartpole-hybrid.yaml (what bench:configs measured)", () => {
    const file = loadExperiment(join(process.cwd(), "configs/cartpole-hybrid.yaml"), [], {});
    const none = loadExperiment(undefined, [], {});
    // the file runs its whole budget unless told to stop; everything else is the same run
    expect({ ...none, budget: { ...none.budget, stopAtTarget: false } }).to.deep.equal(file);
  });

  it("leaves the schema's defaults (the golden runs' base) alone", () => {
    const e = parseExperiment({});
    expect(e.agent).to.deep.equal({});
    expect(e.budget.stepsPerActor).to.equal(0);
    expect(e.mode).to.equal("hybrid");
  });
});
