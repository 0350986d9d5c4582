/**
 * `fedrl train-local`: the `local` recipe with one actor on the step clock, the same config and
 * `--set` syntax as `fedrl run`. Progress on stderr, episodes in <runDir>/actor-0.jsonl, the
 * agent's checkpoint in <runDir>/actor-0-checkpoint at the end. Without `--config` it starts from the
 * env's defaults (launch/defaults.ts `ENV_DEFAULTS`: agent, step budget, target).
 */
import type { EnvOptions } from "../envs/registry";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadExperiment, parseExperiment, runDirOf, type Experiment } from "./config";
import { newRun, readRecord, resumeRun, saveConfig, updateRecord, writeRecord } from "./rundir";
import { validateExperiment } from "./preflight";
import { clockNotice } from "./progress";
import { runEmbedded } from "./embedded";
import { ENV_DEFAULTS, envIdOfSets, localDefaults } from "./defaults";

export interface TrainLocalOptions {
  env: string;
  envOptions?: EnvOptions;
  /** The algorithm's hyperparameters (the config's `agent` section); default the env's (launch/defaults.ts). */
  config?: Record<string, unknown>;
  seed?: number;
  maxEpisodes?: number;
  maxSteps?: number;
  /** Stop once the mean over `window` episodes reaches this. */
  targetReturn?: number;
  window?: number;
  /** Metrics and the checkpoint go here (nothing written when omitted). */
  runDir?: string;
  progress?: (line: string) => void;
}

export interface TrainSummary {
  episodes: number;
  steps: number;
  updates: number;
  reachedAt: { episode: number; step: number } | null;
  finalMean: number;
  /** Best mean over `window` consecutive episodes (null before `window` episodes). */
  bestMean: number | null;
  wallSeconds: number;
  returns: number[];
  eval: { mean: number; std: number };
}

/** The experiment train-local runs: the local recipe, one actor, step clock. */
export function localExperiment(base: Experiment, o: { env?: string; seed?: number; episodes?: number; steps?: number; target?: number; window?: number; runDir?: string }): Experiment {
  const raw = structuredClone(base) as Record<string, unknown> & Experiment;
  raw.mode = "local";
  raw.clock = "steps";
  raw.actors.count = 1;
  if (o.env && o.env !== raw.env.id) raw.env = { ...raw.env, id: o.env, options: {} };
  if (o.seed !== undefined) raw.seed = o.seed;
  raw.budget = { ...raw.budget, episodesPerActor: o.episodes ?? raw.budget.episodesPerActor, stepsPerActor: o.steps ?? raw.budget.stepsPerActor, window: o.window ?? raw.budget.window, targetReturn: o.target ?? raw.budget.targetReturn, stopAtTarget: true };
  if (o.runDir) raw.runDir = o.runDir;
  return parseExperiment(raw, "train-local");
}

export async function trainLocal(o: TrainLocalOptions): Promise<TrainSummary> {
  const d = o.config === undefined ? ENV_DEFAULTS[o.env] : undefined;
  const exp = localExperiment(parseExperiment({ env: { id: o.env, options: o.envOptions ?? {} }, agent: o.config ?? d?.agent ?? {}, eval: { episodes: 0 } }), {
    seed: o.seed, episodes: o.maxEpisodes, steps: o.maxSteps ?? d?.stepsPerActor, target: o.targetReturn ?? d?.targetReturn, window: o.window ?? d?.window, runDir: o.runDir,
  });
  return summarise(exp, await runEmbedded(exp, { writeMetrics: o.runDir !== undefined, checkpoint: o.runDir !== undefined, chunk: 1, progress: o.progress }));
}

/** Runs a train-local experiment in memory (no metrics, no checkpoint), eval included: what the CLI runs, for benches. */
export async function trainLocalRun(exp: Experiment, progress?: (line: string) => void): Promise<TrainSummary> {
  return summarise(exp, await runEmbedded(exp, { writeMetrics: false, checkpoint: false, chunk: 1, progress }));
}

function summarise(exp: Experiment, s: Awaited<ReturnType<typeof runEmbedded>>): TrainSummary {
  const a = s.actors[0]!;
  const w = exp.budget.window;
  const r = a.returns;
  let bestMean: number | null = null;
  let sum = 0;
  for (let i = 0; i < r.length; i++) {
    sum += r[i]!;
    if (i >= w) sum -= r[i - w]!;
    if (i + 1 >= w) bestMean = Math.max(bestMean ?? -Infinity, sum / w);
  }
  const tail = r.slice(-w);
  return {
    episodes: a.episodes, steps: a.steps, updates: a.updates, returns: r,
    reachedAt: s.reached ? { episode: s.reached.episodesPerActor, step: s.reached.stepsPerActor } : null,
    finalMean: tail.length ? tail.reduce((x, y) => x + y, 0) / tail.length : 0, bestMean, wallSeconds: s.wallSeconds, eval: s.eval,
  };
}

/** The experiment `fedrl train-local` runs for these flags before a run directory is made: `--config` or the env's defaults, then `--set`, then the flags. */
export function trainLocalExperiment(o: { config?: string; sets: string[]; env?: string; seed?: number; episodes?: number; steps?: number; target?: number; window?: number; runDir?: string }): Experiment {
  if (o.config) return localExperiment(loadExperiment(o.config, o.sets), o);
  const envId = o.env ?? envIdOfSets(o.sets) ?? "CartPole-v1";
  return localExperiment(parseExperiment(localDefaults(envId), `defaults for ${envId} (launch/defaults.ts)`, o.sets), o);
}

/** CLI flags of train-local on top of the config (`--config`, `--set`); null when `resume` names a finished run. */
export async function trainLocalCli(o: { config?: string; sets: string[]; env?: string; seed?: number; episodes?: number; steps?: number; target?: number; window?: number; runDir?: string; resume?: string }, progress: (l: string) => void): Promise<{ exp: Experiment; summary: TrainSummary } | null> {
  let exp: Experiment;
  if (o.resume) {
    const before = (JSON.parse(readFileSync(join(o.resume, "config.json"), "utf8")) as Experiment).budget;
    const rec = readRecord(o.resume);
    const saved = resumeRun(o.resume, o.sets);
    exp = localExperiment(saved.exp, { ...o, runDir: o.resume });
    saveConfig(exp);
    if (rec?.status === "finished" && JSON.stringify(exp.budget) === JSON.stringify(before)) {
      if (rec) writeRecord(o.resume, rec);
      progress(`train-local: ${o.resume} already finished (${rec.steps ?? "?"} steps); nothing to do. To train further: --resume ${o.resume} --steps N`);
      return null;
    }
    validateExperiment(exp, join(o.resume, "config.json"));
  } else {
    exp = trainLocalExperiment(o);
    validateExperiment(exp, o.config ?? "config");
    exp = newRun(exp, "train-local");
  }
  progress(`train-local: ${exp.env.id}, ${o.resume ? "resuming" : "run"} ${runDirOf(exp)}/; ${clockNotice(exp)}`);
  const ac = new AbortController();
  const stop = () => (ac.signal.aborted ? process.exit(130) : (progress("SIGINT: checkpointing (again to force quit)"), ac.abort()));
  process.on("SIGINT", stop);
  process.on("SIGTERM", stop);
  try {
    const s = await runEmbedded(exp, { writeMetrics: true, checkpoint: true, chunk: 1, progress, resume: !!o.resume, signal: ac.signal });
    const a = s.actors[0]!;
    updateRecord(exp, { status: ac.signal.aborted ? "stopped" : "finished", steps: a.steps, episodes: a.episodes });
    return { exp, summary: summarise(exp, s) };
  } finally {
    process.off("SIGINT", stop);
    process.off("SIGTERM", stop);
  }
}
