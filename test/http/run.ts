/** A short embedded run with its HTTP endpoint on a free port, stopped by the test (helper of test/http/*). */
import { mkdtempSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseExperiment } from "../../launch/config";
import { runEmbedded, type RunSummary } from "../../launch/embedded";

export interface LiveRun {
  url: string;
  ids: string[];
  /** Aborts the run and waits for its summary. */
  stop(): Promise<RunSummary>;
}

export async function startLiveRun(extra: Record<string, unknown> = {}): Promise<LiveRun> {
  const ac = new AbortController();
  const exp = parseExperiment({
    run: "http-test",
    mode: "hybrid",
    clock: "steps",
    env: { id: "CartPole-v1" },
    agent: { learningStarts: 200, epsilonSchedule: "linear", epsilonDecaySteps: 4000, lr: 0.001 },
    // The last actor uploads inflated weights: the aggregation refuses them (a rejection with a reason).
    actors: { count: 3, batchSteps: 100, weights: { ms: 1000, steps: 300 }, byzantine: { count: 1, attack: "inflated" } },
    learner: { tick: { ms: 500, steps: 100 }, updatesPerTick: 2, warmup: 300, publish: { ms: 1000, steps: 300 } },
    aggregator: { interval: { ms: 1000, steps: 400 }, staleAfter: { ms: 10000, steps: 5000 } },
    // Long enough that the test stops it; the step clock keeps it machine-independent.
    budget: { stepsPerActor: 400_000 },
    eval: { episodes: 1 },
    runDir: mkdtempSync(join(tmpdir(), "fedrl-http-run-")),
    http: { port: 0 },
    ...extra,
  });
  let onUrl!: (u: string) => void;
  const url = new Promise<string>((r) => (onUrl = r));
  const done = runEmbedded(exp, { writeMetrics: false, signal: ac.signal, onHttp: onUrl, chunk: 10 });
  const first = await Promise.race([url, done.then(() => { throw new Error("the run ended before its HTTP server listened"); })]);
  return {
    url: first,
    ids: Array.from({ length: exp.actors.count }, (_, i) => `${exp.actors.idPrefix}-${i}`),
    stop: async () => {
      ac.abort();
      return done;
    },
  };
}

/** Polls `f` until it returns a truthy value (behaviour, not timing: the limit only bounds a hung test). */
export async function until<T>(f: () => Promise<T | null | undefined | false>, what: string, limitMs = 45_000): Promise<T> {
  const end = Date.now() + limitMs;
  for (;;) {
    const v = await f();
    if (v) return v;
    if (Date.now() > end) throw new Error(`gave up waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}
