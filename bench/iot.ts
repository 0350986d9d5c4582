/**
 * Learning results of the IoT-defence application (issue #17): IoTIntrusion-v0 at K = 5 non-IID
 * sites (Dirichlet α = 0.3), CIC-IDS2017- and UNSW-NB15-calibrated traffic, the step clock, the same
 * env-step budget per site for every method, and every trained policy judged as a detector on the
 * same held-out traffic (envs/iot/detection.ts), pooled and per site.
 *
 *   npm run bench:iot [-- --steps 12000] [--seeds 3] [--jobs 2] [--calibrations cic-ids2017,unsw-nb15]
 *                        [--methods a,b] [--episodes 20] [--set k=v ...] [--tag T]
 *
 * Methods (each cell = calibration × method × seed, run in its own process):
 * - hybrid-dqn      configs/iot-intrusion-hybrid.yaml: sites ship filtered experience to a global
 *                   learner and blend weights; the policy judged is the global model;
 * - fedavg-dqn      configs/iot-intrusion-fedavg.yaml (same agent, FedAvg rounds every 3,000 steps);
 * - fedavg-ppo      configs/iot-intrusion-ppo-fedavg.yaml (rounds every 1,024 steps);
 * - local-dqn       the hybrid config's agent, mode local: each site trains alone; EVERY site's agent
 *                   is judged on EVERY site's held-out traffic (what a site's own model does on
 *                   attacks it never saw), plus each on its own site;
 * - centralized-dqn one DQN agent (the same agent config) stepping all K sites' envs together (an
 *                   actor whose vector env holds site k as copy k, each reset with the seed site
 *                   k's federated actor uses): one learner on the pooled traffic, the upper reference;
 * - supervised-mlp / supervised-logreg: a classifier told every training flow's label (a 38→64→1
 *                   ReLU MLP / logistic regression, envs/iot/classifier.ts), trained on the same
 *                   training streams (half recorded under the oracle, half under the first fit:
 *                   one DAgger round), a detection ceiling;
 * - threshold       the best single-field rule per site, fitted for F1 on the site's training stream
 *                   under allow-all (envs/iot/baselines.ts), applied at its own site.
 *
 * Budget: `--steps` env steps per site (+10: the final FedAvg/aggregation round at `--steps` fires
 * before the run's last steps, so the model saved at the end includes it; every method gets the +10).
 * Held-out traffic: `--episodes` 200-flow episodes per site, seeds from 900,000 up that every cell's
 * training leaves untouched (launch/detection.ts heldOutSeeds, checked against every seed's run), the
 * same for every method and seed. Writes bench/results/iot-learning[-T].{json,md,svg} after every
 * finished cell; a rerun with the same parameters skips the finished cells (resume).
 */
import { existsSync, readFileSync, rmSync } from "node:fs";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { join } from "node:path";
import { loadExperiment, type Experiment } from "../launch/config";
import { algorithmOf, envSpace } from "../launch/assemble";
import { runEmbedded } from "../launch/embedded";
import { decodeState, loadAgent } from "../launch/checkpoints";
import { detectorOf, detectionSites, heldOutSeeds, type DetectionPoint } from "../launch/detection";
import { seedOf } from "../launch/seeds";
import type { Agent } from "../core/agent";
import type { GlobalSnapshot } from "../nodes/global";
import { StepClock } from "../core/clock";
import { Actor } from "../nodes/actor";
import { make } from "../envs/index";
import { VectorEnv } from "../envs/vector";
import type { Env } from "../envs/types";
import { IoTIntrusionEnv, ALLOW } from "../envs/iot/intrusion";
import { detectionReport, runDetectionEpisode, type DetectionMetrics, type DetectionRecord, type DetectionReport, type Detector } from "../envs/iot/detection";
import { fitThresholdRule, thresholdRule } from "../envs/iot/baselines";
import { FlowClassifier, collectLabelled, concatLabelled, oracleBehaviour, type Labelled } from "../envs/iot/classifier";
import { forEachParallel, machineInfo, RESULTS_DIR, runInChild, writeResult, writeText } from "./util";

export const K = 5, ALPHA = 0.3;
const ENV = "IoTIntrusion-v0";
const EXTRA = 10; // steps past the budget: see the header
const HELD_OUT_FROM = 900_000;
export const CALIBRATIONS = ["cic-ids2017", "unsw-nb15"] as const;
type Calibration = (typeof CALIBRATIONS)[number];

/** Runs through runEmbedded: config and mode. */
const RUNS = {
  "hybrid-dqn": { config: "configs/iot-intrusion-hybrid.yaml", mode: "hybrid" },
  "fedavg-dqn": { config: "configs/iot-intrusion-fedavg.yaml", mode: "fedavg" },
  "fedavg-ppo": { config: "configs/iot-intrusion-ppo-fedavg.yaml", mode: "fedavg" },
  "local-dqn": { config: "configs/iot-intrusion-hybrid.yaml", mode: "local" },
} as const;
export const METHODS = ["hybrid-dqn", "fedavg-dqn", "fedavg-ppo", "local-dqn", "centralized-dqn", "centralized-dqn-epsk", "supervised-mlp", "supervised-logreg", "threshold"] as const;
type Method = (typeof METHODS)[number];
const FEDERATED: readonly Method[] = ["hybrid-dqn", "fedavg-dqn", "fedavg-ppo"];

interface Job { calibration: Calibration; method: Method; seed: number; steps: number; episodes: number; heldOut: number[]; sets: Sets; runRoot: string }

/** Config overrides: for every run through runEmbedded, and for the DQN and the PPO runs only. */
export interface Sets { all: string[]; dqn: string[]; ppo: string[] }
/**
 * The DQN runs use the fused WebAssembly kernel (algorithms/dqn/wasm): the same DQN as the configs'
 * default "js" engine to ~1e-7 per step (not bit for bit), 10× faster per gradient step on these
 * 128-unit nets, which is what lets the whole grid fit on 2 shared cores. `--dqn-set agent.engine=js` undoes it.
 */
export const DQN_DEFAULT_SETS = ["agent.engine=wasm"];

/** The experiment of a learning cell (centralized and the supervised rows use the local one for their seeds and envs). */
export function experimentFor(j: Pick<Job, "calibration" | "method" | "seed" | "steps" | "sets"> & { runRoot?: string }): Experiment {
  const r = j.method in RUNS ? RUNS[j.method as keyof typeof RUNS] : RUNS["local-dqn"];
  const own = j.method === "fedavg-ppo" ? j.sets.ppo : [...DQN_DEFAULT_SETS, ...j.sets.dqn];
  return loadExperiment(r.config, [
    `run=iot-${j.method}-${j.calibration}-${j.seed}`,
    `mode=${r.mode}`,
    `seed=${j.seed}`,
    "clock=steps",
    `actors.count=${K}`,
    "env.perActorSite=true",
    `env.options.alpha=${ALPHA}`,
    `env.options.calibration=${j.calibration}`,
    `budget.stepsPerActor=${j.steps + EXTRA}`,
    "eval.episodes=0",
    "eval.detection.every=1",
    // one checkpoint, at the end: the trained models are read from it
    "learner.checkpoint={ms: 1000000000000, steps: 1000000000}",
    ...(j.runRoot ? [`runDir=${join(j.runRoot, `${j.method}-${j.calibration}-${j.seed}`)}`] : []),
    ...j.sets.all,
    ...own,
  ], {});
}

/**
 * `n` episode seeds from HELD_OUT_FROM up that are held out from every experiment given (no actor
 * resets with them and their streams meet no training stream: launch/detection.ts).
 */
export function commonHeldOutSeeds(exps: readonly Experiment[], n: number, from = HELD_OUT_FROM): number[] {
  const out: number[] = [];
  let s = from;
  while (out.length < n) {
    if (s - from > 1e6) throw new Error(`no ${n} common held-out seeds from ${from}`);
    if (exps.every((e) => heldOutSeeds(e, 1, s)[0] === s)) out.push(s);
    s++;
  }
  return out;
}

// ---------------------------------------------------------------- one cell (child process)

interface Sites { envs: Env[]; seeds: number[][] }

function heldOutSites(exp: Experiment, heldOut: readonly number[], episodes: number): Sites {
  const { options } = detectionSites(exp);
  return {
    envs: options.map((o) => make(ENV, o)),
    seeds: options.map((_, k) => Array.from({ length: episodes }, (_, e) => heldOut[e * K + k]!)),
  };
}

/** `detectorAt(k)` on site k's held-out episodes, every site; records carry slices.site. */
function recordsOf(sites: Sites, detectorAt: (k: number) => Detector): DetectionRecord[] {
  const out: DetectionRecord[] = [];
  sites.envs.forEach((env, k) => { for (const s of sites.seeds[k]!) out.push(...runDetectionEpisode(env, detectorAt(k), s)); });
  return out;
}

const POOLED_KEYS = ["n", "malicious", "accuracy", "precision", "recall", "f1", "fpr", "rocAuc", "prAuc", "tprAtFpr1", "damagePer1k", "benignLostPer1k", "escalationsPer1k", "isolationsPer1k", "worstDeviceTypeF1Gap"] as const;
type Pooled = Record<(typeof POOLED_KEYS)[number], number | null>;
const num = (x: number) => (Number.isFinite(x) ? x : null);
const pooledOf = (m: DetectionMetrics): Pooled => Object.fromEntries(POOLED_KEYS.map((k) => [k, num(m[k])])) as Pooled;

/** Per family: malicious flows and how many were flagged. */
function familyCounts(records: readonly DetectionRecord[]): Record<string, { pos: number; tp: number }> {
  const out: Record<string, { pos: number; tp: number }> = {};
  for (const r of records) {
    if (!r.label || !r.family) continue;
    const c = (out[r.family] ??= { pos: 0, tp: 0 });
    c.pos++;
    c.tp += r.pred;
  }
  return out;
}

function summarize(records: readonly DetectionRecord[], scoreSource: DetectionReport["scoreSource"]) {
  const r = detectionReport(records, scoreSource);
  return {
    pooled: pooledOf(r.pooled),
    worstSiteF1: num(r.worstSiteF1), worstSite: r.worstSite, worstSiteF1Gap: num(r.worstSiteF1Gap),
    sites: Object.fromEntries(Object.entries(r.sites).map(([k, m]) => [k, { f1: num(m.f1), precision: num(m.precision), recall: num(m.recall), fpr: num(m.fpr), rocAuc: num(m.rocAuc), n: m.n, malicious: m.malicious }])),
    familyRecall: Object.fromEntries(Object.entries(r.familyRecall).map(([f, v]) => [f, num(v)])),
    families: familyCounts(records),
    scoreSource: r.scoreSource, nonFiniteScores: r.nonFiniteScores,
  };
}
type Summary = ReturnType<typeof summarize>;

const curveOf = (d: DetectionPoint[] | undefined) => (d ?? []).map((p) => ({ round: p.round, steps: p.clock, f1: num(p.f1), rocAuc: num(p.rocAuc), worstSiteF1: num(p.worstSiteF1), flows: p.flows }));

/** The global model a fedavg or hybrid run saved at its end (learner-checkpoint/server.json), as an agent. */
function globalAgentOf(exp: Experiment): Agent {
  const space = envSpace(exp);
  const { builder, actorConfig } = algorithmOf(exp, space);
  const file = join(exp.runDir!, "learner-checkpoint", "server.json");
  const state = decodeState<{ global: GlobalSnapshot }>(readFileSync(file, "utf8"));
  const params = state.global.weights[builder.shipped];
  if (!params) throw new Error(`${file}: no ${builder.shipped} weights in the global model`);
  return builder.makeAgent(space, actorConfig, 0, params);
}

/** An env whose seeded reset uses `seed` instead (so copy k of a vector env replays site k's actor stream). */
function reseeded(env: Env, seed: number): Env {
  return {
    id: env.id, observationSize: env.observationSize, actionCount: env.actionCount, bounds: env.bounds,
    reset: (o = {}) => env.reset(o.seed === undefined ? o : { seed }),
    step: (a) => env.step(a),
    close: () => env.close?.(),
  };
}

/** Site k's training stream start (its federated actor's env seed). */
const streamSeed = (exp: Experiment, k: number) => seedOf(exp, k).env;

async function runJob(job: Job) {
  const t0 = performance.now();
  const exp = experimentFor(job);
  const sites = heldOutSites(exp, job.heldOut, job.episodes);
  const extra: Record<string, unknown> = {};
  let evaluated: Summary;
  let trainSeconds = 0, evalSeconds = 0;
  try {
    if (job.method in RUNS) {
      rmSync(exp.runDir!, { recursive: true, force: true });
      const s = await runEmbedded(exp, { writeMetrics: false, checkpoint: true, chunk: 10 });
      trainSeconds = s.wallSeconds;
      extra.curve = curveOf(s.detection);
      extra.stepsPerActor = s.actors.map((a) => a.steps);
      extra.updates = { actors: s.actors.reduce((a, x) => a + x.updates, 0), learner: s.learner?.updates ?? 0 };
      extra.rounds = s.server?.rounds ?? 0;
      const t1 = performance.now();
      if (job.method === "local-dqn") {
        // Every site's own agent on every site's held-out traffic, and on its own site.
        const agents: Agent[] = [];
        for (let k = 0; k < K; k++) agents.push(await loadAgent(join(exp.runDir!, `${exp.actors.idPrefix}-${k}-checkpoint`)));
        const all: DetectionRecord[] = [];
        const perAgent: { f1: number | null; rocAuc: number | null; ownSiteF1: number | null; worstSiteF1: number | null; families: Record<string, { pos: number; tp: number }> }[] = [];
        for (let k = 0; k < K; k++) {
          const recs = recordsOf(sites, () => detectorOf(agents[k]!));
          all.push(...recs);
          const r = detectionReport(recs);
          perAgent.push({ f1: num(r.pooled.f1), rocAuc: num(r.pooled.rocAuc), ownSiteF1: num(r.sites[String(k)]?.f1 ?? NaN), worstSiteF1: num(r.worstSiteF1), families: familyCounts(recs) });
        }
        // Each site with its own agent (a local deployment: every site keeps its own model).
        const own = recordsOf(sites, (k) => detectorOf(agents[k]!));
        extra.ownSite = summarize(own, "scores");
        extra.perAgent = perAgent;
        evaluated = summarize(all, "scores");
        for (const a of agents) a.dispose();
      } else {
        const agent = globalAgentOf(exp);
        evaluated = summarize(recordsOf(sites, () => detectorOf(agent)), agent.actionScores ? "scores" : "actions");
        agent.dispose();
      }
      evalSeconds = (performance.now() - t1) / 1000;
      rmSync(exp.runDir!, { recursive: true, force: true });
    } else if (job.method === "centralized-dqn" || job.method === "centralized-dqn-epsk") {
      const space = envSpace(exp);
      const { builder, actorConfig, init } = algorithmOf(exp, space);
      // -epsk: ε decays over K× the agent steps, i.e. over the same env steps per site as a site's own actor
      // (the plain agent, stepping K sites, reaches ε_end after 1/K of them).
      const eps = Number((actorConfig as { epsilonDecaySteps?: number }).epsilonDecaySteps);
      const config = job.method === "centralized-dqn-epsk" ? builder.parseConfig({ ...(actorConfig as object), epsilonDecaySteps: K * eps }) : actorConfig;
      extra.epsilonDecaySteps = (config as { epsilonDecaySteps?: number }).epsilonDecaySteps;
      const agent = builder.makeAgent(space, config, seedOf(exp, 0).agent, init);
      const { options } = detectionSites(exp);
      const envs = new VectorEnv(options.map((o, k) => reseeded(make(ENV, o), streamSeed(exp, k))));
      const actor = new Actor({ id: "central", agent, envs, clock: new StepClock(), metrics: { write: () => {} }, config: { batchSteps: 200, batchMs: Infinity }, seed: 0 });
      const budget = K * (job.steps + EXTRA);
      while (actor.steps < budget) actor.stepMany(10);
      trainSeconds = (performance.now() - t0) / 1000;
      extra.steps = actor.steps;
      extra.updates = { actors: agent.progress().updates, learner: 0 };
      const t1 = performance.now();
      evaluated = summarize(recordsOf(sites, () => detectorOf(agent)), "scores");
      evalSeconds = (performance.now() - t1) / 1000;
      agent.dispose();
      for (const e of envs.envs) e.close?.();
    } else if (job.method === "supervised-mlp" || job.method === "supervised-logreg") {
      const { options } = detectionSites(exp);
      const envs = options.map((o) => make(ENV, o));
      const half = Math.floor((job.steps + EXTRA) / 2);
      // Stage 1: each site's training stream under the oracle; stage 2: the same streams continued under the first fit.
      const first = concatLabelled(envs.map((e, k) => collectLabelled(e, oracleBehaviour, half, streamSeed(exp, k))));
      // About 400k rows seen per fit (8 epochs of 50k rows, 2 of 200k): plain-JS float64 training stays under a minute.
      const epochsFor = (n: number) => Math.max(2, Math.min(8, Math.round(400_000 / n)));
      const cfg = { hidden: job.method === "supervised-mlp" ? [64] : [], lr: job.method === "supervised-mlp" ? 1e-3 : 1e-2, epochs: epochsFor(first.n), batchSize: 128, l2: 1e-5, seed: job.seed };
      const c1 = new FlowClassifier(first.dim, cfg);
      c1.fit(first);
      c1.fitThreshold(first);
      const d1 = c1.detector(envs[0]!.actionCount);
      const second = concatLabelled(envs.map((e) => collectLabelled(e, (o, i) => d1.act(o, i), job.steps + EXTRA - half, null)));
      const data: Labelled = concatLabelled([first, second]);
      const c = new FlowClassifier(data.dim, { ...cfg, epochs: epochsFor(data.n) });
      const losses = c.fit(data);
      const fit = c.fitThreshold(data);
      trainSeconds = (performance.now() - t0) / 1000;
      extra.training = { rows: data.n, malicious: data.y.reduce((s, v) => s + v, 0), losses, thresholdLogit: fit.threshold, trainF1: fit.f1, config: c.config };
      const t1 = performance.now();
      evaluated = summarize(recordsOf(sites, () => c.detector(envs[0]!.actionCount)), "scores");
      evalSeconds = (performance.now() - t1) / 1000;
      for (const e of envs) e.close?.();
    } else if (job.method === "threshold") {
      const { options } = detectionSites(exp);
      const rules = options.map((o, k) => {
        const env = make(ENV, o);
        const d = collectLabelled(env, () => ALLOW, job.steps + EXTRA, streamSeed(exp, k));
        env.close?.();
        return fitThresholdRule(Array.from({ length: d.n }, (_, r) => ({ obs: d.x.subarray(r * d.dim, (r + 1) * d.dim), label: d.y[r]! })));
      });
      trainSeconds = (performance.now() - t0) / 1000;
      extra.rules = rules;
      const t1 = performance.now();
      evaluated = summarize(recordsOf(sites, (k) => {
        const p = thresholdRule(rules[k]!.field, rules[k]!.threshold, rules[k]!.above);
        return { act: (o, i) => p(o, i).action, scores: (o, i) => { const s = new Float32Array(6).fill(p(o, i).score); s[ALLOW] = 0; return s; } };
      }), "scores");
      evalSeconds = (performance.now() - t1) / 1000;
    } else throw new Error(`unknown method ${job.method as string}`);
  } finally {
    for (const e of sites.envs) e.close?.();
  }
  return { calibration: job.calibration, method: job.method, seed: job.seed, stepsPerSite: job.steps, ...evaluated, ...extra, trainSeconds, evalSeconds, wallSeconds: (performance.now() - t0) / 1000 };
}
type Cell = Awaited<ReturnType<typeof runJob>>;

// ---------------------------------------------------------------- report

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));
const vals = (cs: Cell[], f: (c: Cell) => number | null | undefined) => cs.map(f).filter((x): x is number => typeof x === "number" && Number.isFinite(x));
const pm = (xs: number[], d = 3) => (xs.length ? (xs.length > 1 ? `${mean(xs).toFixed(d)} ± ${sd(xs).toFixed(d)}` : mean(xs).toFixed(d)) : "–");
const f3 = (x: number | null | undefined, d = 3) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "–");

/** Site family mixes of a calibration (the split every cell uses: split seed 0). */
function siteMixes(calibration: Calibration): { share: number; mix: Record<string, number> }[] {
  return Array.from({ length: K }, (_, k) => {
    const e = new IoTIntrusionEnv({ site: k, sites: K, alpha: ALPHA, calibration });
    return { share: e.plan.share, mix: Object.fromEntries(e.families.map((f, i) => [f, e.familyMix[i]!])) };
  });
}

const LABEL: Record<Method, string> = {
  "hybrid-dqn": "hybrid DQN", "fedavg-dqn": "FedAvg DQN", "fedavg-ppo": "FedAvg PPO", "local-dqn": "local-only DQN (every site's agent on every site)",
  "centralized-dqn": "centralized DQN (pooled traffic)", "centralized-dqn-epsk": "centralized DQN, ε decay × K (pooled traffic)", "supervised-mlp": "supervised MLP (labels)", "supervised-logreg": "supervised logistic regression (labels)", threshold: "threshold rule (per site)",
};

function goals(cells: Cell[]) {
  const by = (m: Method) => cells.filter((c) => c.method === m);
  const f1 = (m: Method) => (by(m).length ? mean(vals(by(m), (c) => c.pooled.f1)) : NaN);
  const fed = FEDERATED.filter((m) => by(m).length).sort((a, b) => f1(b) - f1(a));
  const best = fed[0];
  if (!best) return null;
  const b = by(best);
  const bestF1 = f1(best), auc = mean(vals(b, (c) => c.pooled.rocAuc)), worst = mean(vals(b, (c) => c.worstSiteF1));
  // The upper reference: the better centralized variant.
  const cents = (["centralized-dqn", "centralized-dqn-epsk"] as const).filter((m) => by(m).length).sort((a, b) => f1(b) - f1(a));
  const central = cents.length ? f1(cents[0]!) : NaN;
  return {
    best, bestF1, rocAuc: auc, worstSiteF1: worst, centralizedF1: central, centralized: cents[0] ?? null,
    f1Goal: bestF1 >= 0.95, aucGoal: auc >= 0.98, gapGoal: Number.isFinite(central) ? bestF1 >= central - 0.02 : null, worstGoal: worst >= 0.9,
  };
}

function table(cells: Cell[], methods: readonly Method[]): string[] {
  const rows = [
    "| method | seeds | pooled F1 | precision | recall | ROC-AUC | PR-AUC | FPR | TPR@1%FPR | worst-site F1 (site) | damage /1k | benign lost /1k | escalations /1k | isolations /1k | train s | eval s |",
    "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|",
  ];
  for (const m of methods) {
    const cs = cells.filter((c) => c.method === m).sort((a, b) => a.seed - b.seed);
    if (!cs.length) continue;
    const p = (k: keyof Pooled, d = 3) => pm(vals(cs, (c) => c.pooled[k]), d);
    rows.push(`| ${LABEL[m]} | ${cs.length} | ${p("f1")} | ${p("precision")} | ${p("recall")} | ${p("rocAuc")} | ${p("prAuc")} | ${p("fpr")} | ${p("tprAtFpr1")} | ${pm(vals(cs, (c) => c.worstSiteF1))} (${cs.map((c) => c.worstSite ?? "–").join(",")}) | ${p("damagePer1k", 1)} | ${p("benignLostPer1k", 1)} | ${p("escalationsPer1k", 1)} | ${p("isolationsPer1k", 1)} | ${pm(cs.map((c) => c.trainSeconds), 0)} | ${pm(cs.map((c) => c.evalSeconds), 0)} |`);
    if (m === "local-dqn") {
      const own = cs.map((c) => (c as unknown as { ownSite: Summary }).ownSite);
      rows.push(`| local-only DQN (each site its own agent) | ${cs.length} | ${pm(vals(own as never[], (o: Summary) => o.pooled.f1))} | ${pm(vals(own as never[], (o: Summary) => o.pooled.precision))} | ${pm(vals(own as never[], (o: Summary) => o.pooled.recall))} | ${pm(vals(own as never[], (o: Summary) => o.pooled.rocAuc))} | ${pm(vals(own as never[], (o: Summary) => o.pooled.prAuc))} | ${pm(vals(own as never[], (o: Summary) => o.pooled.fpr))} | ${pm(vals(own as never[], (o: Summary) => o.pooled.tprAtFpr1))} | ${pm(vals(own as never[], (o: Summary) => o.worstSiteF1))} (${own.map((o) => o.worstSite ?? "–").join(",")}) | ${pm(vals(own as never[], (o: Summary) => o.pooled.damagePer1k), 1)} | ${pm(vals(own as never[], (o: Summary) => o.pooled.benignLostPer1k), 1)} | ${pm(vals(own as never[], (o: Summary) => o.pooled.escalationsPer1k), 1)} | ${pm(vals(own as never[], (o: Summary) => o.pooled.isolationsPer1k), 1)} | (same runs) | |`);
    }
  }
  return rows;
}

/** Recall per attack family: federated and centralized models vs local agents, those whose own site holds < 1 % of the family ("unseen at home") apart. */
function familyTable(cells: Cell[], calibration: Calibration, mixes: { mix: Record<string, number> }[]): string[] {
  const fams = Object.keys(mixes[0]!.mix);
  const recallOf = (m: Method, f: string) => {
    const cs = cells.filter((c) => c.method === m);
    const tp = cs.reduce((s, c) => s + (c.families[f]?.tp ?? 0), 0), pos = cs.reduce((s, c) => s + (c.families[f]?.pos ?? 0), 0);
    return pos ? { r: tp / pos, pos } : null;
  };
  const locals = cells.filter((c) => c.method === "local-dqn") as unknown as { perAgent: { families: Record<string, { pos: number; tp: number }> }[] }[];
  const localSplit = (f: string) => {
    let tpU = 0, posU = 0, tpS = 0, posS = 0;
    for (const c of locals) c.perAgent.forEach((a, k) => {
      const x = a.families[f];
      if (!x) return;
      if ((mixes[k]!.mix[f] ?? 0) < 0.01) { tpU += x.tp; posU += x.pos; } else { tpS += x.tp; posS += x.pos; }
    });
    return { unseen: posU ? tpU / posU : NaN, seen: posS ? tpS / posS : NaN, nUnseen: mixes.filter((m) => (m.mix[f] ?? 0) < 0.01).length };
  };
  const shown: Method[] = ["hybrid-dqn", "fedavg-dqn", "fedavg-ppo", "centralized-dqn", "centralized-dqn-epsk", "supervised-mlp"].filter((m) => cells.some((c) => c.method === m)) as Method[];
  const head = `| family (share of malicious flows per site 0–${K - 1}, %) | ${shown.map((m) => LABEL[m].split(" (")[0]).join(" | ")} | local: agents of sites holding it | local: agents of sites with < 1 % of it (sites) |`;
  const rows = [head, `|${"---|".repeat(shown.length + 3)}`];
  for (const f of fams) {
    const r0 = shown.map((m) => recallOf(m, f));
    const l = localSplit(f);
    if (r0.every((r) => r === null) && Number.isNaN(l.seen) && Number.isNaN(l.unseen)) continue;
    // (n): the family's malicious held-out flows per evaluation, mean over seeds (closed loop: a policy that isolates a campaign's devices sees fewer)
    const cell = (r: { r: number; pos: number } | null, m: Method) => (r ? `${f3(r.r)} (${Math.round(r.pos / cells.filter((c) => c.method === m).length)})` : "–");
    rows.push(`| ${f} (${mixes.map((m) => (100 * (m.mix[f] ?? 0)).toFixed(1)).join(" / ")}) | ${r0.map((r, i) => cell(r, shown[i]!)).join(" | ")} | ${f3(l.seen)} | ${f3(l.unseen)} (${l.nUnseen}) |`);
  }
  void calibration;
  return rows;
}

function svgBars(cells: Cell[], methods: readonly Method[], calibrations: readonly Calibration[]): string {
  const W = 900, rowH = 22, T = 50, L = 300, R = 40;
  const groups = calibrations.map((cal) => ({ cal, rows: methods.map((m) => {
    const cs = cells.filter((c) => c.calibration === cal && c.method === m);
    const xs = vals(cs, (c) => c.pooled.f1);
    const own = m === "local-dqn" ? vals(cs, (c) => (c as unknown as { ownSite: Summary }).ownSite.pooled.f1) : [];
    const out = [{ label: m === "local-dqn" ? "local-only (every site's agent, all sites)" : LABEL[m].replace(" (pooled traffic)", "").replace(" (labels)", "").replace(" (per site)", ""), mean: xs.length ? mean(xs) : NaN, sd: sd(xs), n: xs.length }];
    if (m === "local-dqn") out.push({ label: "local-only (own site)", mean: own.length ? mean(own) : NaN, sd: sd(own), n: own.length });
    return out;
  }).flat().filter((r) => r.n > 0) }));
  const H = T + groups.reduce((s, g) => s + 30 + g.rows.length * rowH, 0) + 30;
  const lo = 0.3, x = (v: number) => L + ((W - L - R) * (Math.max(lo, Math.min(1, v)) - lo)) / (1 - lo);
  let s = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="12">\n<rect width="${W}" height="${H}" fill="white"/>\n`;
  s += `<text x="10" y="22" font-size="15">IoTIntrusion-v0, K = ${K} sites (α = ${ALPHA}): pooled held-out F1 per method (mean ± std over seeds)</text>\n`;
  for (const v of [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9, 0.95, 1]) s += `<line x1="${x(v)}" x2="${x(v)}" y1="${T - 8}" y2="${H - 28}" stroke="${v === 0.95 ? "#d62728" : "#ddd"}"${v === 0.95 ? ' stroke-dasharray="4 3"' : ""}/><text x="${x(v)}" y="${H - 12}" text-anchor="middle">${v}</text>\n`;
  let y = T;
  const colors = ["#1f77b4", "#ff7f0e"];
  groups.forEach((g, gi) => {
    s += `<text x="10" y="${y + 14}" font-weight="bold">${g.cal}</text>\n`;
    y += 24;
    for (const r of g.rows) {
      s += `<text x="${L - 8}" y="${y + 14}" text-anchor="end">${r.label}</text>`;
      if (Number.isFinite(r.mean)) {
        s += `<rect x="${L}" y="${y + 3}" width="${(x(r.mean) - L).toFixed(1)}" height="${rowH - 6}" fill="${colors[gi % 2]}" opacity="0.8"/>`;
        s += `<line x1="${x(r.mean - r.sd).toFixed(1)}" x2="${x(r.mean + r.sd).toFixed(1)}" y1="${y + rowH / 2}" y2="${y + rowH / 2}" stroke="black"/>`;
        s += `<text x="${Math.min(W - 4, x(r.mean) + 4)}" y="${y + 14}" font-size="10" text-anchor="${x(r.mean) > W - 60 ? "end" : "start"}">${r.mean.toFixed(3)}</text>`;
      }
      s += "\n";
      y += rowH;
    }
    y += 6;
  });
  return s + `<text x="${x(0.95)}" y="${T - 12}" text-anchor="middle" fill="#d62728" font-size="10">goal 0.95</text>\n</svg>\n`;
}

interface Params { steps: number; episodes: number; seeds: number; K: number; alpha: number; heldOut: number[]; sets: Sets }

function report(name: string, cells: Cell[], p: Params, calibrations: readonly Calibration[], methods: readonly Method[], partial: string | null, command: string): string {
  const md: string[] = [
    `# IoT learning results: IoTIntrusion-v0, K = ${K} non-IID sites${partial ? ` — PARTIAL (${partial})` : ""}`, "",
    `\`${command}\`. Step clock; ${p.steps.toLocaleString("en")} env steps per site for every method (+${EXTRA}, see bench/iot.ts); seeds 0–${p.seeds - 1}; Dirichlet α = ${ALPHA} split of attack families and devices (split seed 0).`,
    `Held-out traffic: ${p.episodes} episodes × 200 flows per site (${(K * p.episodes * 200).toLocaleString("en")} flows per evaluation), seeds ${p.heldOut[0]}…${p.heldOut.at(-1)} (none of them an actor's reset seed, no stream meeting a training stream), the same for every method and seed; closed loop (the policy's decisions shape the episode: isolating a device ends its campaign). Flagged = any action but allow; score = max over the blocking actions of score − score(allow) (DQN: Q-values, PPO: log-probabilities, classifier: its logit, threshold rule: the field value). Mean ± std over seeds; costs per 1,000 flows.`,
    "Federated models are the global model at the end; local-only rows: the first pools every site's agent on every site's traffic (a site's model facing the others' attacks), the second each site with its own agent; centralized: one DQN agent (same config) stepping all five sites' envs (each on its federated actor's seed stream), so it sees 5× the transitions of one site and makes 5× the updates (its ε reaches its floor after 20,000 of its own steps, i.e. 4,000 per site; the 'ε decay × K' row decays over 100,000, the same steps per site as a site's actor); DQN runs use the WebAssembly kernel (`agent.engine=wasm`, the same DQN as the configs' js engine to ~1e-7 per step); supervised: told every training flow's label (38→64→1 ReLU MLP or logistic regression, Adam, BCE, best-F1 cut on the training flows; half the stream recorded under the oracle, half under the first fit).", "",
  ];
  const json: Record<string, unknown> = {};
  for (const cal of calibrations) {
    const cs = cells.filter((c) => c.calibration === cal);
    const mixes = siteMixes(cal);
    md.push(`## ${cal}`, "", `Sites' malicious shares: ${mixes.map((m) => (100 * m.share).toFixed(1) + " %").join(", ")}.`, "");
    if (!cs.length) { md.push("(no finished cells)", ""); continue; }
    md.push(...table(cs, methods), "");
    const g = goals(cs);
    if (g) {
      const mark = (ok: boolean | null) => (ok === null ? "n/a" : ok ? "**met**" : "**missed**");
      md.push(`Goals (best federated method by pooled F1: ${LABEL[g.best as Method]}):`,
        `- pooled held-out F1 ≥ 0.95: ${f3(g.bestF1)} — ${mark(g.f1Goal)}`,
        `- ROC-AUC ≥ 0.98: ${f3(g.rocAuc)} — ${mark(g.aucGoal)}`,
        `- within 2 F1 points of centralized (${g.centralized ? LABEL[g.centralized as Method].split(" (")[0] : "–"}: ${f3(g.centralizedF1)}): ${Number.isFinite(g.centralizedF1) ? `${(100 * (g.bestF1 - g.centralizedF1)).toFixed(1)} points` : "–"} — ${mark(g.gapGoal)}${g.bestF1 > g.centralizedF1 ? " (vacuously: the centralized learner is below the federated ones here, so it is no upper reference in this setup)" : ""}`,
        `- worst-site F1 ≥ 0.90: ${f3(g.worstSiteF1)} — ${mark(g.worstGoal)}`, "");
      json[cal] = { goals: g };
    }
    md.push("Per-site F1 (mean over seeds):", "", `| method | ${Array.from({ length: K }, (_, k) => `site ${k}`).join(" | ")} |`, `|---|${"---|".repeat(K)}`);
    for (const m of methods) {
      const ms = cs.filter((c) => c.method === m);
      if (ms.length) md.push(`| ${LABEL[m].split(" (")[0]} | ${Array.from({ length: K }, (_, k) => f3(mean(vals(ms, (c) => c.sites[String(k)]?.f1)))).join(" | ")} |`);
    }
    md.push("", "Recall per attack family, pooled over seeds and sites (local-only: each site's agent on every site, split by whether the agent's own site holds ≥ 1 % of the family):", "", ...familyTable(cs, cal, mixes), "");
    const loc = cs.filter((c) => c.method === "local-dqn") as unknown as { seed: number; perAgent: { f1: number | null; ownSiteF1: number | null; worstSiteF1: number | null }[] }[];
    if (loc.length) md.push(`Local-only agents, pooled F1 over all sites (own-site F1) per site's agent, seed by seed: ${loc.map((c) => `seed ${c.seed}: ` + c.perAgent.map((a, k) => `${k}: ${f3(a.f1)} (${f3(a.ownSiteF1)})`).join(", ")).join("; ")}.`, "");
    const curves = cs.filter((c) => FEDERATED.includes(c.method) && (c as unknown as { curve?: unknown[] }).curve?.length) as unknown as { method: string; seed: number; curve: { steps: number; f1: number | null }[] }[];
    if (curves.length) md.push("Global model's F1 on the per-round probe (2 held-out episodes per site, launch/detection.ts) by env steps per site, seed 0: " + curves.filter((c) => c.seed === 0).map((c) => `${c.method}: ${c.curve.map((p) => `${p.steps}: ${f3(p.f1, 2)}`).join(", ")}`).join("; ") + ".", "");
  }
  md.push(`Machine: ${JSON.stringify(machineInfo())}.`, "");
  writeText(`${name}.md`, md.join("\n"));
  writeText(`${name}.svg`, svgBars(cells, methods, calibrations));
  return writeResult(name, { env: ENV, params: p, partial, command, calibrations, methods, siteMixes: Object.fromEntries(calibrations.map((c) => [c, siteMixes(c)])), summary: json, cells });
}

// ---------------------------------------------------------------- driver

const USAGE = `usage: npm run bench:iot -- [--steps N] [--seeds N] [--jobs J] [--calibrations a,b] [--methods a,b] [--episodes N] [--set k=v ...] [--tag T]
  IoTIntrusion-v0, K = ${K} sites (α = ${ALPHA}), step clock: ${METHODS.join(", ")};
  each trained policy judged on the same held-out traffic. Writes bench/results/iot-learning[-T].{json,md,svg}
  after every cell; a rerun with the same parameters skips finished cells.
  --steps N        env steps per site (12000)       --seeds N     seeds 0..N-1 (3)
  --jobs J         cells in parallel (2)             --episodes N  held-out 200-flow episodes per site (20)
  --calibrations   ${CALIBRATIONS.join(",")} (both)
  --methods a,b    subset of the methods (all)
  --set k=v        config override for every learning run (repeatable); --dqn-set / --ppo-set: the DQN / PPO runs only
                   (the DQN runs get agent.engine=wasm first: bench/iot.ts DQN_DEFAULT_SETS)
  --tag T          suffix of the result names`;

async function main() {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  const { values } = parseArgs({
    options: {
      steps: { type: "string", default: "12000" }, seeds: { type: "string", default: "3" }, jobs: { type: "string", default: "2" },
      calibrations: { type: "string" }, methods: { type: "string" }, episodes: { type: "string", default: "20" },
      set: { type: "string", multiple: true }, "dqn-set": { type: "string", multiple: true }, "ppo-set": { type: "string", multiple: true }, tag: { type: "string" }, job: { type: "string" },
    },
  });
  if (values.job) {
    const r = await runJob(JSON.parse(values.job) as Job);
    process.stdout.write(JSON.stringify(r) + "\n");
    return;
  }
  const int = (s: string, name: string, min: number) => {
    const n = Number(s);
    if (!Number.isInteger(n) || n < min) throw new Error(`--${name} must be an integer ≥ ${min}, got ${s}`);
    return n;
  };
  const steps = int(values.steps!, "steps", 1), seeds = int(values.seeds!, "seeds", 1), jobs = int(values.jobs!, "jobs", 1), episodes = int(values.episodes!, "episodes", 1);
  const calibrations = (values.calibrations?.split(",") ?? [...CALIBRATIONS]) as Calibration[];
  for (const c of calibrations) if (!CALIBRATIONS.includes(c)) throw new Error(`--calibrations: unknown ${c}; valid: ${CALIBRATIONS.join(", ")}`);
  const methods = (values.methods?.split(",") ?? [...METHODS]) as Method[];
  for (const m of methods) if (!METHODS.includes(m)) throw new Error(`--methods: unknown ${m}; valid: ${METHODS.join(", ")}`);
  const sets: Sets = { all: values.set ?? [], dqn: values["dqn-set"] ?? [], ppo: values["ppo-set"] ?? [] };
  const name = `iot-learning${values.tag ? `-${values.tag}` : ""}`;
  const runRoot = `/tmp/fedrl-bench-iot-${process.pid}`;

  // One held-out set for the whole grid: off every seed's training seeds and streams.
  const exps = Array.from({ length: seeds }, (_, seed) => experimentFor({ calibration: calibrations[0]!, method: "hybrid-dqn", seed, steps, sets }));
  const heldOut = commonHeldOutSeeds(exps, K * episodes);
  const params: Params = { steps, episodes, seeds, K, alpha: ALPHA, heldOut, sets };

  // Resume: keep the finished cells of a result file with the same parameters.
  const path = join(RESULTS_DIR, `${name}.json`);
  let cells: Cell[] = [];
  if (existsSync(path)) {
    const old = JSON.parse(readFileSync(path, "utf8")) as { params?: Params; cells?: Cell[] };
    if (old.params && JSON.stringify(old.params) === JSON.stringify(params)) cells = old.cells ?? [];
    else process.stderr.write(`${path}: other parameters, starting over\n`);
  }
  const key = (c: { calibration: string; method: string; seed: number }) => `${c.calibration}|${c.method}|${c.seed}`;
  const have = new Set(cells.map(key));
  // Seed-major: a cut-off run leaves whole seeds. Learning runs first within a seed, cheap rows after.
  const todo: Job[] = [];
  for (let seed = 0; seed < seeds; seed++) for (const calibration of calibrations) for (const method of methods) {
    if (!have.has(key({ calibration, method, seed }))) todo.push({ calibration, method, seed, steps, episodes, heldOut, sets, runRoot });
  }
  const command = `npm run bench:iot -- --steps ${steps} --seeds ${seeds} --episodes ${episodes}${values.calibrations ? ` --calibrations ${values.calibrations}` : ""}${values.methods ? ` --methods ${values.methods}` : ""}${sets.all.map((x) => ` --set ${x}`).join("")}${sets.dqn.map((x) => ` --dqn-set ${x}`).join("")}${sets.ppo.map((x) => ` --ppo-set ${x}`).join("")}${values.tag ? ` --tag ${values.tag}` : ""}`;
  const total = cells.length + todo.length;
  process.stderr.write(`${cells.length} cells done, ${todo.length} to run (${jobs} at a time); held-out seeds ${heldOut[0]}…${heldOut.at(-1)}\n`);
  const t0 = Date.now();
  const failed: string[] = [];
  await forEachParallel(todo, jobs, async (job) => {
      try {
        const r = await runInChild<Cell>(fileURLToPath(import.meta.url), job);
        cells.push(r);
        process.stderr.write(`[${cells.length}/${total} ${((Date.now() - t0) / 1000).toFixed(0)}s] ${job.calibration} ${job.method} seed ${job.seed}: F1 ${f3(r.pooled.f1)} ROC-AUC ${f3(r.pooled.rocAuc)} worst-site F1 ${f3(r.worstSiteF1)} (train ${r.trainSeconds.toFixed(0)} s, eval ${r.evalSeconds.toFixed(0)} s)\n`);
      } catch (e) {
        failed.push(key(job));
        process.stderr.write(`${key(job)} failed: ${(e as Error).message}\n`);
      }
      report(name, cells, params, calibrations, methods, cells.length < total ? `${cells.length} of ${total} cells` : null, command);
  });
  const out = report(name, cells, params, calibrations, methods, cells.length < total ? `${cells.length} of ${total} cells` : null, command);
  process.stderr.write(`wrote ${out}${failed.length ? `; failed: ${failed.join(", ")}` : ""}\n`);
  rmSync(runRoot, { recursive: true, force: true });
  if (failed.length) process.exitCode = 1;
}

main().then(() => process.exit(process.exitCode ?? 0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
