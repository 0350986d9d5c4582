import { expect } from "chai";
import { parseExperiment } from "../../launch/config";
import { runEmbedded } from "../../launch/embedded";
import { MemoryMetrics } from "../../core/metrics";

/** Small, step-clocked CartPole runs of every mode in one process (in-process bus, in-memory replay). */
function exp(mode: "hybrid" | "fedavg" | "local", extra: Record<string, unknown> = {}) {
  return parseExperiment({
    run: `emb-${mode}`,
    mode,
    clock: "steps",
    env: { id: "CartPole-v1" },
    agent: { learningStarts: 200, epsilonSchedule: "linear", epsilonDecaySteps: 2000, lr: 0.001 },
    actors: { count: 3, batchSteps: 100, weights: { ms: 1000, steps: 500 } },
    learner: { tick: { ms: 500, steps: 100 }, updatesPerTick: 4, warmup: 300, publish: { ms: 1000, steps: 400 } },
    aggregator: { interval: mode === "fedavg" ? { ms: 1000, steps: 500 } : { ms: 1000, steps: 1000 }, staleAfter: { ms: 10000, steps: 5000 } },
    budget: { stepsPerActor: 3000 },
    eval: { episodes: 3 },
    ...extra,
  });
}

describe("embedded topology (one process, step clock)", function () {
  this.timeout(120_000);

  it("hybrid: transitions flow through the filter into the replay, the learner trains, aggregates and actors get the global model", async () => {
    const metrics = new MemoryMetrics();
    const s = await runEmbedded(exp("hybrid"), { writeMetrics: false, metrics });
    const L = s.learner!;
    expect(s.actors.map((a) => a.steps)).to.deep.equal([3000, 3000, 3000]);
    expect(L.received).to.equal(9000); // every transition of every actor arrived
    expect(L.accepted + L.filtered).to.equal(L.received);
    expect(L.replay.size).to.equal(L.accepted);
    expect(L.updates).to.be.greaterThan(0);
    expect(L.round).to.equal(3); // aggregation every 1000 steps over 3000
    expect(L.rejected.total).to.equal(0);
    const rounds = metrics.of("aggregation");
    expect(rounds).to.have.length(3);
    const clients = (rounds[2]!.clients as { actor: string; weight: number; score: number }[]).map((c) => ({ ...c, similarity: c.score }));
    expect(clients.map((c) => c.actor).sort()).to.deep.equal(["actor-0", "actor-1", "actor-2"]);
    const wsum = clients.reduce((a, c) => a + c.weight, 0);
    expect(wsum).to.be.closeTo(1, 1e-9);
    for (const c of clients) expect(c.weight).to.be.closeTo(Math.max(0, c.similarity) / clients.reduce((a, x) => a + Math.max(0, x.similarity), 0), 1e-9);
    for (const a of s.actors) expect(a.globalVersion).to.be.greaterThan(0);
    expect(metrics.of("global_applied").length).to.be.greaterThan(0);
  });

  it("fedavg: rounds average the actors' weights and actors replace theirs; no transitions are shipped", async () => {
    const metrics = new MemoryMetrics();
    const s = await runEmbedded(exp("fedavg"), { writeMetrics: false, metrics });
    expect(s.server!.rounds).to.equal(6);
    const rounds = metrics.of("aggregation");
    expect(rounds.every((r) => r.rule === "fedavg" && (r.clients as unknown[]).length === 3)).to.equal(true);
    for (const a of s.actors) {
      expect(a.batchesSent).to.equal(0);
      expect(a.globalVersion).to.be.greaterThan(0);
    }
  });

  it("median: a new rule runs from config in both the hybrid and the fedavg recipe", async () => {
    for (const mode of ["hybrid", "fedavg"] as const) {
      const metrics = new MemoryMetrics();
      const e = exp(mode);
      e.aggregator.rule = "median";
      const s = await runEmbedded(e, { writeMetrics: false, metrics });
      const rounds = metrics.of("aggregation");
      expect(rounds.length, mode).to.be.greaterThan(0);
      expect(rounds.every((r) => r.rule === "median")).to.equal(true);
      expect(rounds.some((r) => r.changed)).to.equal(true);
      const used = (rounds.at(-1)!.clients as { weight: number }[]).reduce((a, c) => a + c.weight, 0);
      expect(used).to.be.closeTo(1, 1e-9);
      for (const a of s.actors) expect(a.globalVersion, mode).to.be.greaterThan(0);
    }
  });

  it("local: actors learn alone and send nothing", async () => {
    const s = await runEmbedded(exp("local"), { writeMetrics: false });
    for (const a of s.actors) {
      expect(a.bytesSent).to.equal(0);
      expect(a.globalVersion).to.equal(0);
      expect(a.episodes).to.be.greaterThan(0);
    }
  });
});
