/**
 * `npm run bench:defaults`: what a newcomer gets. Runs `fedrl train-local --env ID` with no config
 * (launch/defaults.ts ENV_DEFAULTS, through the same trainLocalExperiment the CLI uses) on seeds
 * 0,1,2 and writes bench/results/defaults-<env>.{json,md}: episodes and env steps to the target
 * (mean-100 of training returns), final mean-100, the greedy eval, wall time.
 * `--hybrid`: also `fedrl run` with no config (launch/defaults.ts defaultRun, the CartPole hybrid),
 * on the step clock, per seed: reached, final mean-100 of the actors, the global model's greedy eval.
 *
 *   npm run bench:defaults [-- --env LunarLander-v3] [--seeds 0,1,2] [--hybrid] [--no-local]
 */
import { loadavg } from "node:os";
import { trainLocalExperiment, trainLocalRun } from "../launch/train-local";
import { ENV_DEFAULTS } from "../launch/defaults";
import { loadExperiment } from "../launch/config";
import { runEmbedded } from "../launch/embedded";
import { writeResult, writeText } from "./util";

const argv = process.argv.slice(2);
const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const env = flag("--env") ?? "CartPole-v1";
const seeds = (flag("--seeds") ?? "0,1,2").split(",").map(Number);
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const slug = env.toLowerCase().replace(/-v\d+$/, "");

async function local() {
  const d = ENV_DEFAULTS[env];
  const runs: Record<string, unknown>[] = [];
  for (const seed of seeds) {
    const exp = trainLocalExperiment({ sets: [], env, seed, runDir: `/tmp/fedrl-bench-defaults-${slug}-${seed}` });
    let last = 0;
    const s = await trainLocalRun(exp, (l) => { if (Date.now() - last > 30_000) { last = Date.now(); process.stderr.write(`seed ${seed} ${l}\n`); } });
    const row = {
      seed, solved: s.reachedAt !== null, episodes: s.reachedAt?.episode ?? null, envSteps: s.reachedAt?.step ?? null,
      ranEpisodes: s.episodes, ranSteps: s.steps, finalMean100: round(s.finalMean, 1), bestMean100: s.bestMean === null ? null : round(s.bestMean, 1),
      eval: { mean: round(s.eval.mean, 1), std: round(s.eval.std, 1) }, wallSeconds: round(s.wallSeconds),
    };
    console.error(JSON.stringify(row));
    runs.push(row);
  }
  const budget = d?.stepsPerActor;
  const target = d?.targetReturn;
  writeResult(`defaults-${slug}`, { command: `npx fedrl train-local --env ${env} --seed S`, env, defaults: d, target: `mean-${d?.window ?? 100} of training returns ≥ ${target}`, runs, loadavg: loadavg() });
  const md = [
    `# train-local defaults: ${env}`, "",
    `\`npx fedrl train-local --env ${env} --seed S\` (no config; launch/defaults.ts), budget ${budget} env steps, stops at mean-100 ≥ ${target}.`, "",
    "| seed | solved | episodes to target | env steps to target | final mean-100 | greedy eval (10/20 ep.) | wall s |",
    "|---|---|---|---|---|---|---|",
    ...runs.map((r: any) => `| ${r.seed} | ${r.solved ? "yes" : "no"} | ${r.episodes ?? "—"} | ${r.envSteps ?? "—"} | ${r.finalMean100} | ${r.eval.mean} ± ${r.eval.std} | ${r.wallSeconds} |`),
    "", `Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(" / ")} (shared 2-core machine; wall times vary with other work).`, "",
  ].join("\n");
  writeText(`defaults-${slug}.md`, md);
}

async function hybrid() {
  const runs: Record<string, unknown>[] = [];
  for (const seed of seeds) {
    const exp = loadExperiment(undefined, [`seed=${seed}`, "clock=steps", `runDir=/tmp/fedrl-bench-defaults-run-${seed}`], {});
    const s = await runEmbedded(exp, { writeMetrics: false, checkpoint: false });
    const w = exp.budget.window;
    const means = s.actors.map((a) => a.returns.slice(-w).reduce((x, y) => x + y, 0) / Math.max(1, Math.min(w, a.returns.length)));
    const row = {
      seed, stepsPerActor: exp.budget.stepsPerActor, reached: s.reached, finalMean100PerActor: means.map((m) => round(m)),
      episodesPerActor: s.actors.map((a) => a.episodes), eval: { mean: round(s.eval.mean), std: round(s.eval.std) }, wallSeconds: round(s.wallSeconds),
    };
    console.error(JSON.stringify(row));
    runs.push(row);
  }
  writeResult("defaults-run-cartpole", { command: "npx fedrl run (no config) = launch/defaults.ts defaultRun(), here on the step clock", runs, loadavg: loadavg() });
  writeText("defaults-run-cartpole.md", [
    "# `fedrl run` with no config (CartPole-v1 hybrid, 3 actors), step clock", "",
    "| seed | steps/actor | target reached (episodes/actor, steps/actor) | final mean-100 per actor | greedy eval of the global model | wall s |",
    "|---|---|---|---|---|---|",
    ...runs.map((r: any) => `| ${r.seed} | ${r.stepsPerActor} | ${r.reached ? `${r.reached.episodesPerActor}, ${r.reached.stepsPerActor}` : "no"} | ${r.finalMean100PerActor.join(" / ")} | ${r.eval.mean} ± ${r.eval.std} | ${r.wallSeconds} |`),
    "",
  ].join("\n"));
}

if (!argv.includes("--no-local")) await local();
if (argv.includes("--hybrid")) await hybrid();
