/**
 * Convergence benchmark: local, fedavg, hybrid and two ablations of hybrid (no filter; plain
 * averaging instead of trust weights), same env-step budget and seeds, on the step-driven clock.
 *
 *   npm run bench:convergence -- --env LunarLander-v3 --actors 3 --seeds 3 [--steps 250000] [--jobs 2]
 *
 * Timers in env steps per actor (the seed's 0.5 s / 15 s / 30 s at an assumed 200 env steps/s per
 * actor): learner tick 100 steps, weights upload 3000, aggregation 6000, FedAvg round 3000.
 * `--wall no` skips the extra wall-clock hybrid run. Writes bench/results/convergence-<env>-<K>a.{json,md,svg}.
 */
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadExperiment, type Experiment } from "../launch/config";
import { envSpace } from "../launch/assemble";
import { runEmbedded, type RunSummary } from "../launch/embedded";
import type { MetricsSink } from "../core/metrics";
import { forEachParallel, machineInfo, runInChild, writeResult, writeText } from "./util";
import { svgChart, type Series } from "../launch/plot";

export const METHODS = {
  local: { mode: "local", sets: [] },
  fedavg: { mode: "fedavg", sets: [] },
  hybrid: { mode: "hybrid", sets: [] },
  "hybrid-nofilter": { mode: "hybrid", sets: ["learner.filter.name=none"] },
  "hybrid-uniform": { mode: "hybrid", sets: ["aggregator.rule=mean"] },
} as const;
type Method = keyof typeof METHODS;

const STEPS_PER_SEC = 200; // assumed per-actor env rate for the timer mapping
const THRESHOLD: Record<string, number> = { "LunarLander-v3": 200, "CartPole-v1": 475 };
const CONFIG: Record<string, string> = { "LunarLander-v3": "configs/lunarlander-hybrid.yaml", "CartPole-v1": "configs/cartpole-hybrid.yaml" };

interface Job { env: string; actors: number; seed: number; method: Method | "hybrid-wall"; steps: number; evalEpisodes: number; sets: string[] }

export function experimentFor(job: Job): Experiment {
  const m = job.method === "hybrid-wall" ? METHODS.hybrid : METHODS[job.method];
  const s = (sec: number) => Math.round(sec * STEPS_PER_SEC);
  const base = loadExperiment(CONFIG[job.env]!, [], {});
  // The global learner makes as many gradient steps as all actors together (each makes
  // `gradientSteps` every `learnEvery` steps): it sees K actors' data, so it gets K actors' replay ratio.
  const probe = loadExperiment(CONFIG[job.env]!, job.sets.filter((x) => x.startsWith("agent.")), {});
  const learnEvery = Number(probe.agent.learnEvery ?? base.agent.learnEvery ?? 4);
  const gradientSteps = Number(probe.agent.gradientSteps ?? 1);
  const updatesPerTick = Math.round((job.actors * s(0.5) * gradientSteps) / learnEvery);
  return loadExperiment(CONFIG[job.env]!, [
    `run=conv-${job.method}-${job.seed}`,
    `mode=${m.mode}`,
    `seed=${job.seed}`,
    `actors.count=${job.actors}`,
    `clock=${job.method === "hybrid-wall" ? "wall" : "steps"}`,
    `learner.tick={ms: 500, steps: ${s(0.5)}}`,
    `actors.weights={ms: 15000, steps: ${s(15)}}`,
    // FedAvg: one round per upload period (15 s), as its own round timer used to be; hybrid aggregates every 30 s.
    m.mode === "fedavg" ? `aggregator.interval={ms: 15000, steps: ${s(15)}}` : `aggregator.interval={ms: 30000, steps: ${s(30)}}`,
    `aggregator.staleAfter={ms: 90000, steps: ${s(90)}}`,
    `learner.publish={ms: 5000, steps: ${s(5)}}`,
    `learner.updatesPerTick=${updatesPerTick}`,
    `learner.replayRatio=0`,
    `budget.stepsPerActor=${job.steps}`,
    `budget.targetReturn=${THRESHOLD[job.env]}`,
    `budget.window=100`,
    `eval.episodes=${job.evalEpisodes}`,
    `eval.seed=900000`,
    ...m.sets,
    ...job.sets,
  ], {});
}

/** FLOPs of one forward pass for one observation: 2·Σ in·out over the MLP layers. */
function forwardFlops(exp: Experiment, obsDim: number, actions: number): number {
  const hidden = (exp.agent.hidden as number[] | undefined) ?? [64, 64];
  const dims = [obsDim, ...hidden, actions];
  let f = 0;
  for (let i = 0; i + 1 < dims.length; i++) f += 2 * dims[i]! * dims[i + 1]!;
  return f;
}

async function runJob(job: Job) {
  const exp = experimentFor(job);
  const { obsDim, actionCount } = envSpace(exp);
  // Trust weights and similarities of every aggregation round (hybrid), to tell whether trust mattered.
  // score = cos(θ_global, θ_k) for the trust and mean rules; FedAvg rounds (also "aggregation" events) are left out.
  const rounds: { similarity: number; weight: number; used: boolean }[][] = [];
  const sink: MetricsSink = {
    write: (event, data) => {
      if (event === "aggregation" && exp.mode === "hybrid") {
        rounds.push((data.clients as { score: number; weight: number; used: boolean }[]).map((c) => ({ similarity: c.score, weight: c.weight, used: c.used })));
      }
    },
  };
  const s: RunSummary = await runEmbedded(exp, { writeMetrics: false, chunk: 10, metrics: sink });
  const cl = rounds.flat();
  const sims = cl.map((c) => c.similarity).filter(Number.isFinite);
  const trust = cl.length === 0 ? null : {
    rounds: rounds.length,
    // stale clients carry no score (NaN)
    similarityMin: Math.min(...sims), similarityMean: sims.reduce((a, x) => a + x, 0) / sims.length,
    weightMin: Math.min(...cl.map((c) => c.weight)), weightMax: Math.max(...cl.map((c) => c.weight)),
    unused: cl.filter((c) => !c.used).length,
  };
  const fwd = forwardFlops(exp, obsDim, actionCount);
  const batch = Number(exp.agent.batchSize ?? 64);
  const actorUpdates = s.actors.reduce((a, x) => a + x.updates, 0);
  const updates = actorUpdates + (s.learner?.updates ?? 0);
  const totalSteps = s.actors.reduce((a, x) => a + x.steps, 0);
  // A DQN update: forward online(s) + forward target(s') + backward ≈ 2 forwards → 4·B forwards.
  const fullFlops = fwd * totalSteps + 4 * batch * fwd * updates;
  const reachedSteps = s.reached ? s.reached.stepsPerActor * job.actors : null;
  return {
    ...job, threshold: THRESHOLD[job.env],
    reached: s.reached, finalMean100: s.actors.reduce((a, x) => a + x.mean100, 0) / s.actors.length,
    eval: s.eval, wallSeconds: s.wallSeconds,
    messages: s.actors.reduce((a, x) => a + x.batchesSent + x.weightsSent, 0) + (s.server?.published ?? 0),
    bytes: s.actors.reduce((a, x) => a + x.bytesSent, 0) + (s.server?.publishedBytes ?? 0),
    flopsSeedStyle: reachedSteps === null ? null : fwd * reachedSteps,
    flopsSeedStyleBudget: fwd * totalSteps,
    flopsFull: fullFlops,
    updates: { actors: actorUpdates, learner: s.learner?.updates ?? 0 },
    filter: s.learner?.filter ?? null,
    prioritized: s.learner?.prioritized ?? null,
    rateLimit: s.learner?.rateLimit ?? null,
    trust,
    curve: s.curve.map((c) => [c.episodesPerActor, c.stepsPerActor, Math.round(c.mean * 10) / 10]),
  };
}
type JobResult = Awaited<ReturnType<typeof runJob>>;

// ---------------------------------------------------------------- report

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
const sd = (xs: number[]) => (xs.length < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean(xs)) ** 2, 0) / (xs.length - 1)));
const pm = (xs: number[], d = 1) => (xs.length ? `${mean(xs).toFixed(d)} ± ${sd(xs).toFixed(d)}` : "not reached");
const sci = (x: number) => x.toExponential(2);

function table(results: JobResult[], methods: string[]): string {
  const rows = ["| method | reward (final mean-100) | episode (to threshold) | step (to threshold, all actors) | flops (seed-style, to threshold) | flops (full, budget) | global eval (greedy, 100 ep) | reached | wall s |", "|---|---|---|---|---|---|---|---|---|"];
  for (const m of methods) {
    const rs = results.filter((r) => r.method === m);
    if (!rs.length) continue;
    const hit = rs.filter((r) => r.reached);
    rows.push(`| ${m} | ${pm(rs.map((r) => r.finalMean100))} | ${pm(hit.map((r) => r.reached!.episodesPerActor))} | ${hit.length ? sci(mean(hit.map((r) => r.reached!.stepsPerActor * r.actors))) : "—"} | ${hit.length ? sci(mean(hit.map((r) => r.flopsSeedStyle!))) : "—"} | ${sci(mean(rs.map((r) => r.flopsFull)))} | ${pm(rs.map((r) => r.eval.mean))} | ${hit.length}/${rs.length} | ${mean(rs.map((r) => r.wallSeconds)).toFixed(0)} |`);
  }
  return rows.join("\n");
}

/** Actors' mean-100 per method (mean ± std over seeds), drawn by the plotting module `fedrl plot` uses. */
function svgPlot(results: JobResult[], methods: string[], title: string, threshold: number): string {
  const maxEp = Math.max(...results.flatMap((r) => r.curve.map((c) => c[0]!)), 1);
  const series: Series[] = [];
  for (const m of methods) {
    const rs = results.filter((r) => r.method === m);
    if (!rs.length) continue;
    const grid = Array.from({ length: 60 }, (_, i) => Math.round(((i + 1) * maxEp) / 60));
    const pts = grid.map((e) => {
      const v = rs.map((r) => r.curve.filter((c) => c[0]! <= e).at(-1)?.[2]).filter((z): z is number => z !== undefined);
      return v.length === rs.length ? { e, m: mean(v), s: sd(v) } : null;
    }).filter((p): p is { e: number; m: number; s: number } => p !== null);
    series.push({ name: m, points: pts.map((p) => [p.e, p.m]), band: pts.map((p) => [p.e, p.m - p.s, p.m + p.s]) });
  }
  return svgChart({ title, xLabel: "episodes per actor", yLabel: "mean-100 return (actors)", series, hlines: [{ y: threshold, label: "" }] });
}

// ---------------------------------------------------------------- driver

const inChild = (job: Job) => runInChild<JobResult>(fileURLToPath(import.meta.url), job);

const USAGE = `usage: npm run bench:convergence -- [--env ID] [--actors K] [--seeds N] [--steps N] [--jobs J] [--methods a,b] [--eval EPISODES] [--wall yes|no] [--ablation-seeds N] [--set k=v ...] [--tag T]
  local, fedavg, hybrid and hybrid ablations on the step clock; writes bench/results/convergence-<env>-<K>a.{json,md,svg}
  --env ID            LunarLander-v3 (default) or CartPole-v1
  --actors K          actors per run (3)        --seeds N     seeds per method (3)
  --steps N           env steps per actor        --jobs J      runs in parallel (2)
  --methods a,b       subset of the methods      --eval N      greedy eval episodes (100)
  --wall yes|no       also one wall-clock hybrid run (yes)
  --set k=v           config override for every run (repeatable)   --tag T   suffix of the result names
  --first-seed S      seeds S, S+1, … (0)`;

async function main() {
  if (process.argv.includes("--help") || process.argv.includes("-h")) {
    console.log(USAGE);
    return;
  }
  const { values } = parseArgs({
    options: {
      env: { type: "string", default: "LunarLander-v3" }, actors: { type: "string", default: "3" }, seeds: { type: "string", default: "3" },
      steps: { type: "string" }, jobs: { type: "string", default: "2" }, methods: { type: "string" }, eval: { type: "string", default: "100" },
      wall: { type: "string", default: "yes" }, "ablation-seeds": { type: "string" }, "first-seed": { type: "string", default: "0" }, set: { type: "string", multiple: true }, job: { type: "string" }, tag: { type: "string" },
    },
  });
  if (values.job) {
    const r = await runJob(JSON.parse(values.job) as Job);
    process.stdout.write(JSON.stringify(r) + "\n");
    return;
  }
  const env = values.env!;
  if (!CONFIG[env]) throw new Error(`--env must be one of ${Object.keys(CONFIG).join(", ")}`);
  const actors = Number(values.actors), seeds = Number(values.seeds);
  const steps = Number(values.steps ?? (env === "CartPole-v1" ? 40_000 : 250_000));
  const methods = (values.methods?.split(",") ?? Object.keys(METHODS)) as Method[];
  const jobs: Job[] = [];
  const ablationSeeds = Number(values["ablation-seeds"] ?? seeds);
  const seedsOf = (m: Method) => (m.startsWith("hybrid-") ? ablationSeeds : seeds);
  const first = Number(values["first-seed"]);
  for (const method of methods) for (let seed = first; seed < first + seedsOf(method); seed++) jobs.push({ env, actors, seed, method, steps, evalEpisodes: Number(values.eval), sets: values.set ?? [] });
  if (values.wall !== "no") jobs.push({ env, actors, seed: 0, method: "hybrid-wall", steps, evalEpisodes: Number(values.eval), sets: values.set ?? [] });
  const results: JobResult[] = [];
  let done = 0;
  const t0 = Date.now();
  const wall = values.wall !== "no";
  await forEachParallel(jobs, Number(values.jobs), async (job) => {
      const r = await inChild(job);
      results.push(r);
      done++;
      process.stderr.write(`[${done}/${jobs.length} ${((Date.now() - t0) / 1000).toFixed(0)}s] ${job.method} seed ${job.seed}: ${r.reached ? `reached ${r.threshold} at ${r.reached.episodesPerActor} episodes/actor` : "not reached"}, final mean-100 ${r.finalMean100.toFixed(1)}, eval ${r.eval.mean.toFixed(1)} (${r.wallSeconds.toFixed(0)} s)\n`);
      // Every finished cell is written at once: a cut-off session still leaves its results.
      report(results, { env, actors, seeds, steps, methods, wall, ablationSeeds, values, partial: done < jobs.length ? `${done} of ${jobs.length} jobs` : null });
  });
  const path = report(results, { env, actors, seeds, steps, methods, wall, ablationSeeds, values, partial: null });
  process.stderr.write(`wrote ${path}\n`);
}

interface ReportArgs {
  env: string; actors: number; seeds: number; steps: number; methods: Method[]; wall: boolean; ablationSeeds: number;
  values: { methods?: string; set?: string[]; tag?: string; "ablation-seeds"?: string };
  /** Not null while jobs remain ("k of n jobs"). */
  partial: string | null;
}

function report(results: JobResult[], a: ReportArgs): string {
  const { env, actors, seeds, steps, methods, wall, ablationSeeds, values } = a;
  const allMethods = [...methods, ...(wall ? ["hybrid-wall"] : [])];
  const name = `convergence-${env}-${actors}a${values.tag ? `-${values.tag}` : ""}`;
  const diag = allMethods.filter((m) => m.startsWith("hybrid")).map((m) => {
    const rs = results.filter((r) => r.method === m);
    if (!rs.length) return "";
    const acc = rs.filter((r) => r.filter?.name === "diversity").map((r) => r.filter!.acceptRate);
    const tr = rs.map((r) => r.trust).filter((t): t is NonNullable<JobResult["trust"]> => t !== null);
    const trustText = tr.length ? ` trust over ${tr.reduce((a, t) => a + t.rounds, 0)} rounds: cos(θ_global, θ_k) min ${Math.min(...tr.map((t) => t.similarityMin)).toFixed(3)}, mean ${mean(tr.map((t) => t.similarityMean)).toFixed(3)}; weights ${Math.min(...tr.map((t) => t.weightMin)).toFixed(3)}–${Math.max(...tr.map((t) => t.weightMax)).toFixed(3)} (uniform ${(1 / actors).toFixed(3)}), ${tr.reduce((a, t) => a + t.unused, 0)} client uploads unused;` : "";
    return `- ${m}: ${acc.length ? `filter accepted ${pm(acc.map((a) => 100 * a))} % of transitions` : "filter off"};${trustText} learner ${Math.round(mean(rs.map((r) => r.updates.learner)))} updates vs actors ${Math.round(mean(rs.map((r) => r.updates.actors)))} (all actors together).`;
  }).filter(Boolean).join("\n");
  const cmd = `npm run bench:convergence -- --env ${env} --actors ${actors} --seeds ${seeds} --steps ${steps}${values["ablation-seeds"] ? ` --ablation-seeds ${ablationSeeds}` : ""}${values.methods ? ` --methods ${values.methods}` : ""}${wall ? "" : " --wall no"}${(values.set ?? []).map((x) => ` --set ${x}`).join("")}`;
  const md = `# Convergence: ${env}, ${actors} actors, ${seeds} seeds${ablationSeeds !== seeds ? ` (ablations: ${ablationSeeds})` : ""}${a.partial ? ` — PARTIAL (${a.partial})` : ""}\n\nBudget ${steps} env steps per actor; the global learner makes ${Math.round((actors * 0.5 * STEPS_PER_SEC) / 4)} updates per tick (as many as all actors together at one update per 4 steps); threshold: actors' mean-100 return ≥ ${THRESHOLD[env]} (mean over actors). Step-driven clock: learner tick ${0.5 * STEPS_PER_SEC}, weights ${15 * STEPS_PER_SEC}, aggregation ${30 * STEPS_PER_SEC}, FedAvg round ${15 * STEPS_PER_SEC} env steps per actor (the seed's 0.5 s / 15 s / 30 s at ${STEPS_PER_SEC} steps/s). \`hybrid-wall\`: hybrid on the wall clock (0.5 s / 15 s / 30 s), seed 0. Episode = episodes per actor; step = env steps of all actors. Reward ± std across seeds. In the plot a seed whose budget ends in fewer episodes holds its last value.\n\n${table(results, allMethods)}\n\n${diag}\n\nMachine: ${JSON.stringify(machineInfo())}. Run: \`${cmd}\`.\n`;
  writeText(`${name}.md`, md);
  writeText(`${name}.svg`, svgPlot(results.filter((r) => r.method !== "hybrid-wall"), methods, `${env}, ${actors} actors: actors' mean-100 return (mean ± std over ${seeds} seeds)`, THRESHOLD[env]!));
  const path = writeResult(name, { env, actors, seeds, stepsPerActor: steps, timerMapping: { stepsPerSec: STEPS_PER_SEC }, partial: a.partial, results });
  if (!a.partial) process.stderr.write(`${md}\n`);
  return path;
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`${(e as Error).stack}\n`); process.exit(1); });
