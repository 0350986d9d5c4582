/**
 * Local (single-process) DQN training on a registered env:
 *
 *   npx tsx learners/train-local.ts --env CartPole-v1 --episodes 500 [--config agent.yaml]
 *       [--seed 0] [--steps N] [--target 475] [--run-dir runs/x] [--set lr=1e-3 --set hidden=[128,128]]
 *       [--backend auto|tensorflow|wasm|cpu]   (tfjs backend; learning engine per config.engine)
 *
 * Progress on stderr (one rewritten line on a TTY, else a line every few seconds), one JSON line
 * per episode in <runDir>/metrics.jsonl, a checkpoint in <runDir>/checkpoint every N episodes and
 * at the end.
 */
import { appendFileSync, mkdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { fileURLToPath } from "node:url";
import { parse as parseYaml } from "yaml";
import { make } from "../envs/index";
import type { EnvOptions } from "../envs/registry";
import { initBackend, type BackendPreference } from "./backend";
import { DqnAgent } from "./dqn/agent";
import type { DqnConfigInput } from "./dqn/config";

export interface TrainProgress {
  episode: number;
  steps: number;
  episodeReturn: number;
  episodeLength: number;
  /** mean return over the last `window` episodes (fewer at the start) */
  mean: number;
  epsilon: number;
  /** last learning step's loss (null before learning starts) */
  loss: number | null;
  stepsPerSec: number;
  wallSeconds: number;
}

export interface TrainLocalOptions {
  env: string;
  envOptions?: EnvOptions;
  config?: Partial<DqnConfigInput>;
  seed?: number;
  maxEpisodes?: number;
  maxSteps?: number;
  /** stop once the mean over `window` episodes reaches this (needs `window` finished episodes) */
  targetReturn?: number;
  window?: number;
  /** metrics.jsonl and checkpoint/ go here (nothing written when omitted) */
  runDir?: string;
  /** checkpoint every N episodes (0 = only at the end) */
  checkpointEvery?: number;
  onProgress?: (p: TrainProgress) => void;
  /** progress line on stderr (default true) */
  log?: boolean;
}

export interface TrainSummary {
  episodes: number;
  steps: number;
  updates: number;
  reachedAt: { episode: number; step: number } | null;
  finalMean: number;
  /** best mean over `window` consecutive episodes (null before `window` episodes) and where it ended */
  bestMean: number | null;
  bestMeanAt: { episode: number; step: number } | null;
  wallSeconds: number;
  returns: number[];
}

export async function trainLocal(opts: TrainLocalOptions): Promise<TrainSummary> {
  const seed = opts.seed ?? 0;
  const window = opts.window ?? 100;
  const maxEpisodes = opts.maxEpisodes ?? 500;
  const maxSteps = opts.maxSteps ?? Infinity;
  const target = opts.targetReturn ?? Infinity;
  const log = opts.log ?? true;
  const env = make(opts.env, opts.envOptions);
  const agent = new DqnAgent({ obsDim: env.observationSize, numActions: env.actionCount, config: { seed, ...opts.config } });
  const metricsPath = opts.runDir ? join(opts.runDir, "metrics.jsonl") : null;
  if (opts.runDir) mkdirSync(opts.runDir, { recursive: true });
  const ckptDir = opts.runDir ? join(opts.runDir, "checkpoint") : null;

  const tty = process.stderr.isTTY === true;
  const t0 = performance.now();
  let lastLog = t0, lastLogSteps = 0;
  const returns: number[] = [];
  let reachedAt: TrainSummary["reachedAt"] = null;
  let loss: number | null = null;
  let steps = 0;
  let sum = 0; // running sum of the last `window` returns
  let bestMean: number | null = null;
  let bestMeanAt: TrainSummary["bestMeanAt"] = null;

  for (let ep = 0; ep < maxEpisodes && steps < maxSteps; ep++) {
    let { obs } = env.reset(ep === 0 ? { seed } : undefined);
    let ret = 0, len = 0;
    for (;;) {
      const action = agent.selectAction(obs);
      const r = env.step(action);
      agent.observe({ obs, action, reward: r.reward, nextObs: r.obs, terminated: r.terminated, truncated: r.truncated });
      const u = agent.update();
      if (u) loss = u.loss;
      ret += r.reward;
      len++;
      steps++;
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    returns.push(ret);
    sum += ret;
    if (returns.length > window) sum -= returns[returns.length - 1 - window]!;
    const mean = sum / Math.min(returns.length, window);
    if (returns.length >= window && (bestMean === null || mean > bestMean)) {
      bestMean = mean;
      bestMeanAt = { episode: ep + 1, step: steps };
    }
    const now = performance.now();
    const p: TrainProgress = {
      episode: ep + 1, steps, episodeReturn: ret, episodeLength: len, mean, epsilon: agent.epsilon, loss,
      stepsPerSec: (steps / (now - t0)) * 1000, wallSeconds: (now - t0) / 1000,
    };
    opts.onProgress?.(p);
    if (metricsPath) appendFileSync(metricsPath, JSON.stringify(p) + "\n");
    if (log && (tty || now - lastLog > 5000)) {
      const sps = ((steps - lastLogSteps) / Math.max(now - lastLog, 1)) * 1000;
      const line = `ep ${p.episode}  steps ${steps}  mean${window} ${mean.toFixed(1)}  ε ${agent.epsilon.toFixed(3)}  ${sps.toFixed(0)} steps/s`;
      process.stderr.write(tty ? `\r\x1b[2K${line}` : line + "\n");
      lastLog = now;
      lastLogSteps = steps;
    }
    if (ckptDir && opts.checkpointEvery && p.episode % opts.checkpointEvery === 0) await agent.save(ckptDir);
    if (!reachedAt && returns.length >= window && mean >= target) {
      reachedAt = { episode: p.episode, step: steps };
      break;
    }
  }
  if (log && tty) process.stderr.write("\n");
  if (ckptDir) await agent.save(ckptDir);
  env.close?.();
  const n = Math.min(returns.length, window);
  const summary: TrainSummary = {
    episodes: returns.length, steps, updates: agent.updates, reachedAt,
    finalMean: n ? returns.slice(-n).reduce((a, b) => a + b, 0) / n : 0,
    bestMean, bestMeanAt,
    wallSeconds: (performance.now() - t0) / 1000, returns,
  };
  agent.dispose();
  return summary;
}

/** `--set a=1 --set hidden=[128,128]` → object (values parsed as YAML scalars/flow). */
function applySets(base: Record<string, unknown>, sets: string[]): Record<string, unknown> {
  const out = { ...base };
  for (const s of sets) {
    const i = s.indexOf("=");
    if (i <= 0) throw new Error(`--set expects key=value, got "${s}"`);
    out[s.slice(0, i)] = parseYaml(s.slice(i + 1));
  }
  return out;
}

export async function main(argv: string[] = process.argv.slice(2)): Promise<TrainSummary> {
  const { values } = parseArgs({
    args: argv,
    options: {
      env: { type: "string", default: "CartPole-v1" },
      config: { type: "string" },
      seed: { type: "string", default: "0" },
      episodes: { type: "string", default: "500" },
      steps: { type: "string" },
      target: { type: "string" },
      window: { type: "string", default: "100" },
      "run-dir": { type: "string" },
      "checkpoint-every": { type: "string", default: "50" },
      set: { type: "string", multiple: true, default: [] },
      backend: { type: "string", default: "auto" },
    },
    strict: true,
  });
  let config: Record<string, unknown> = {};
  if (values.config) {
    const y = parseYaml(readFileSync(values.config, "utf8")) ?? {};
    config = y && typeof y === "object" && "agent" in y ? (y.agent as Record<string, unknown>) : y;
  }
  config = applySets(config, values.set ?? []);
  const num = (s: string | undefined, name: string) => {
    if (s === undefined) return undefined;
    const n = Number(s);
    if (!Number.isFinite(n)) throw new Error(`--${name}: not a number: ${s}`);
    return n;
  };
  const pref = values.backend as BackendPreference;
  if (!["auto", "tensorflow", "wasm", "cpu"].includes(pref)) throw new Error(`--backend: expected auto|tensorflow|wasm|cpu, got ${pref}`);
  await initBackend(pref);
  const runDir = values["run-dir"] ?? join("runs", `local-${values.env}-${Date.now()}`);
  const summary = await trainLocal({
    env: values.env!, config: config as Partial<DqnConfigInput>, seed: num(values.seed, "seed"),
    maxEpisodes: num(values.episodes, "episodes"), maxSteps: num(values.steps, "steps"), targetReturn: num(values.target, "target"),
    window: num(values.window, "window"), runDir, checkpointEvery: num(values["checkpoint-every"], "checkpoint-every"),
  });
  const { returns: _r, ...rest } = summary;
  console.log(JSON.stringify({ runDir, ...rest }));
  return summary;
}

if (process.argv[1] && resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  main().catch((e) => {
    console.error(e instanceof Error ? e.message : e);
    process.exit(1);
  });
}
