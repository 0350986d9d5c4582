import { RECIPES } from "../../launch/recipes";
import { expect } from "chai";
import { mkdtempSync, writeFileSync, readdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { loadExperiment, parseExperiment, ConfigError } from "../../launch/config";
import { StepClock, WallClock } from "../../core/clock";

function err(fn: () => unknown): string {
  try { fn(); } catch (e) { expect(e).to.be.instanceOf(ConfigError); return (e as Error).message; }
  throw new Error("expected ConfigError");
}

describe("config", () => {
  const dir = mkdtempSync(join(tmpdir(), "fedrl-cfg-"));
  const file = (name: string, text: string) => { const p = join(dir, name); writeFileSync(p, text); return p; };

  it("fills every default from the schema", () => {
    const e = parseExperiment({});
    expect(e.mode).to.equal("hybrid");
    expect(e.learner.tick).to.deep.equal({ ms: 500, steps: 100 });
    expect(e.learner.filter).to.deep.equal({ name: "diversity", k: 32, theta: 0.15, reservoir: 4096, standardize: false, acceptRate: 0 });
    // #15's options default off: 1-step rows to the learner, uniform replay, no rate limit, the agent's own ε
    expect(e.actors).to.deep.include({ shipNStep: false, blendSteps: 0 });
    expect(e.actors.exploration.kind).to.equal("agent");
    expect(e.learner.prioritized.enabled).to.equal(false);
    expect(e.learner.rateLimit).to.deep.equal({ min: 0, max: 0, insertSlack: 0 });
    expect(e.aggregator.interval.ms).to.equal(30_000);
    // α and the rule default per recipe (launch/recipes.ts): hybrid trust with α 0.5, fedavg fedavg with α 0
    expect(e.aggregator.alpha).to.equal(undefined);
    expect(RECIPES.hybrid!.aggregation).to.include({ rule: "trust", alpha: 0.5 });
    expect(RECIPES.fedavg!.aggregation).to.include({ rule: "fedavg", alpha: 0 });
    expect(e.actors.weights.ms).to.equal(15_000);
  });

  it("names the unknown key and the file", () => {
    const p = file("bad.yaml", "actors:\n  count: 3\n  weightz: 5\n");
    expect(err(() => loadExperiment(p, [], {}))).to.equal(`${p}: unknown key actors.weightz`);
  });

  it("names the key with a wrong type", () => {
    const p = file("bad2.yaml", "learner:\n  filter:\n    theta: high\n");
    expect(err(() => loadExperiment(p, [], {}))).to.contain(`${p}: learner.filter.theta`);
  });

  it("applies --set overrides as YAML scalars and rejects bad ones", () => {
    const p = file("ok.yaml", "mode: fedavg\nactors:\n  count: 2\n");
    const e = loadExperiment(p, ["actors.count=7", "learner.filter.name=none", "env.options.site=2"], {});
    expect(e.mode).to.equal("fedavg");
    expect(e.actors.count).to.equal(7);
    expect(e.learner.filter.name).to.equal("none");
    expect(e.env.options).to.deep.equal({ site: 2 });
    expect(err(() => loadExperiment(p, ["actors.count"], {}))).to.contain("key=value");
    expect(err(() => loadExperiment(p, ["mode=sideways"], {}))).to.contain("mode");
  });

  it("selects recipe, algorithm, rule and filter by registered name, refusing unknown ones with the valid names", () => {
    const p = file("names.yaml", "mode: fedavg\n");
    const e = loadExperiment(p, ["aggregator.rule=median", "algorithm=dqn", "learner.filter.name=diversity"], {});
    expect(e.aggregator.rule).to.equal("median");
    expect(err(() => loadExperiment(p, ["aggregator.rule=krum-ish"], {}))).to.contain('aggregator.rule: unknown "krum-ish"; valid: trust, mean, fedavg, median');
    expect(err(() => loadExperiment(p, ["algorithm=sarsa"], {}))).to.contain('algorithm: unknown "sarsa"; valid: dqn');
    expect(err(() => loadExperiment(p, ["learner.filter.name=bloom"], {}))).to.contain('learner.filter.name: unknown "bloom"; valid: diversity, none');
    expect(err(() => loadExperiment(p, ["mode=sideways"], {}))).to.contain('mode: unknown "sideways"; valid: hybrid, fedavg, local');
    expect(err(() => loadExperiment(p, ["agent.lrr=0.1"], {}))).to.match(/names\.yaml \(with --set\): agent: unknown DQN config key\(s\): "lrr"/);
    expect(err(() => loadExperiment(p, ["fedavg.round.steps=5"], {}))).to.contain("aggregator.interval");
  });

  it("takes NATS_URL and REDIS_URL from the environment", () => {
    const e = loadExperiment(undefined, [], { NATS_URL: "nats://h:4222", REDIS_URL: "redis://h:6379" });
    expect(e.transport).to.deep.equal({ nats: "nats://h:4222", redis: "redis://h:6379" });
  });

  it("reports unreadable files and invalid YAML", () => {
    expect(err(() => loadExperiment(join(dir, "missing.yaml"), [], {}))).to.contain("cannot read config");
    expect(err(() => loadExperiment(file("y.yaml", "a: [1, 2\n"), [], {}))).to.contain("invalid YAML");
  });

  it("validates every shipped config under configs/", () => {
    const files = readdirSync("configs").filter((f) => f.endsWith(".yaml"));
    for (const f of files) loadExperiment(join("configs", f), [], {});
  });
});

describe("clock", () => {
  it("StepClock fires each timer once per period crossed, in order", async () => {
    const c = new StepClock();
    const log: string[] = [];
    c.every({ ms: 1, steps: 10 }, () => void log.push(`a${c.now()}`), "a");
    c.every({ ms: 1, steps: 25 }, () => void log.push(`b${c.now()}`), "b");
    await c.advance(9);
    expect(log).to.deep.equal([]);
    await c.advance(1);
    expect(log).to.deep.equal(["a10"]);
    await c.advance(20); // now 30: a due at 20 and 30, b at 25
    expect(log).to.deep.equal(["a10", "a30", "a30", "b30"]);
  });

  it("StepClock awaits async timers and stops cancelled ones", async () => {
    const c = new StepClock();
    let done = 0;
    const t = c.every({ ms: 1, steps: 1 }, async () => { await new Promise((r) => setTimeout(r, 2)); done++; });
    await c.advance(3);
    expect(done).to.equal(3);
    t.cancel();
    await c.advance(3);
    expect(done).to.equal(3);
  });

  it("WallClock does not re-enter a slow timer", async () => {
    const c = new WallClock();
    let running = 0, maxRunning = 0, calls = 0;
    c.every({ ms: 5, steps: 1 }, async () => {
      running++; calls++; maxRunning = Math.max(maxRunning, running);
      await new Promise((r) => setTimeout(r, 30));
      running--;
    });
    await new Promise((r) => setTimeout(r, 120));
    c.stop();
    expect(calls).to.be.greaterThan(1);
    expect(maxRunning).to.equal(1);
  });
});
