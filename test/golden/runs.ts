/**
 * Golden runs: short step-clock embedded CartPole-v1 runs (3 actors, seed 0) of every recipe.
 * `record()` reduces a run to what must not move under a refactor: every actor's returns, the
 * learner's counters, every aggregation round's client weights and similarities, the replay size
 * and the final greedy eval of the global model. `tsx test/golden/runs.ts --write` rewrites the
 * fixture (only when a change in behaviour is intended and explained).
 */
import { writeFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseExperiment } from "../../launch/config";
import { runEmbedded } from "../../launch/embedded";
import { MemoryMetrics } from "../../core/metrics";

export const FIXTURE = fileURLToPath(new URL("./golden.json", import.meta.url));
export const MODES = ["hybrid", "fedavg", "local"] as const;

export function goldenExperiment(mode: (typeof MODES)[number]) {
  return parseExperiment({
    run: `golden-${mode}`,
    mode,
    seed: 0,
    clock: "steps",
    env: { id: "CartPole-v1" },
    agent: { learningStarts: 200, epsilonSchedule: "linear", epsilonDecaySteps: 2000, lr: 0.001, targetUpdate: "hard", targetUpdateEvery: 50 },
    actors: { count: 3, batchSteps: 100, weights: { ms: 1000, steps: 500 } },
    learner: { tick: { ms: 500, steps: 100 }, updatesPerTick: 50, replayRatio: 0.25, warmup: 300, publish: { ms: 1000, steps: 400 } },
    // FedAvg rounds are the aggregator's interval (recorded as fedavg.round before the refactor)
    aggregator: { interval: mode === "fedavg" ? { ms: 1000, steps: 500 } : { ms: 1000, steps: 1000 }, staleAfter: { ms: 10000, steps: 5000 } },
    budget: { stepsPerActor: 3000 },
    eval: { episodes: 5 },
  });
}

export async function record(mode: (typeof MODES)[number]) {
  const metrics = new MemoryMetrics();
  const s = await runEmbedded(goldenExperiment(mode), { writeMetrics: false, metrics });
  const L = s.learner;
  return {
    actors: s.actors.map((a) => ({ id: a.id, steps: a.steps, episodes: a.episodes, returns: a.returns, globalVersion: a.globalVersion, updates: a.updates })),
    learner: L ? { version: L.version, round: L.round, updates: L.updates, received: L.received, accepted: L.accepted, filtered: L.filtered, duplicates: L.duplicates, replaySize: L.replay.size, loss: L.loss } : null,
    // Trust rounds (hybrid) with each client's weight and cosine score; FedAvg rounds as the old
    // FedAvg server reported them (round, clients averaged, version).
    rounds: mode === "hybrid" ? metrics.of("aggregation").map((r) => ({ round: r.round, changed: r.changed, clients: (r.clients as { actor: string; weight: number; score: number }[]).map((c) => ({ actor: c.actor, weight: c.weight, similarity: c.score })) })) : [],
    fedavgRounds: mode === "fedavg" ? metrics.of("aggregation").map((r) => ({ round: r.round, clients: (r.clients as unknown[]).length, version: r.version })) : [],
    eval: s.eval,
  };
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1] && process.argv.includes("--write")) {
  const out: Record<string, unknown> = {};
  for (const m of MODES) {
    const t0 = Date.now();
    out[m] = await record(m);
    console.error(`${m}: ${(Date.now() - t0) / 1000}s`);
  }
  writeFileSync(FIXTURE, JSON.stringify(out, null, 1) + "\n");
}
