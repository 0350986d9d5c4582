/**
 * `npm run bench:ppo`: PPO on CartPole-v1, the `local` recipe with one actor on the step clock — what
 * `fedrl train-local --config configs/cartpole-ppo.yaml --seed S --steps BUDGET` runs (the same
 * trainLocalExperiment), for seeds 0,1,2. Per seed: the env steps and episodes at which the mean-100
 * of training returns (the stochastic policy's) first reaches ≥ 475, or that it did not within the
 * budget; the final mean-100; the greedy eval; wall time. Writes bench/results/ppo-CartPole-v1.{json,md}.
 *
 *   npm run bench:ppo [-- --seeds 0,1,2] [--steps 500000] [--config configs/cartpole-ppo.yaml] [--set agent.k=v …]
 */
import { loadavg } from "node:os";
import { trainLocalExperiment, trainLocalRun } from "../launch/train-local";
import { writeResult, writeText } from "./util";

const argv = process.argv.slice(2);
if (argv.includes("--help")) {
  console.log("usage: npm run bench:ppo [-- --seeds 0,1,2] [--steps 500000] [--config configs/cartpole-ppo.yaml] [--set agent.k=v …]");
  process.exit(0);
}
const flag = (name: string) => (argv.includes(name) ? argv[argv.indexOf(name) + 1] : undefined);
const seeds = (flag("--seeds") ?? "0,1,2").split(",").map(Number);
const budget = Number(flag("--steps") ?? 500_000);
const config = flag("--config") ?? "configs/cartpole-ppo.yaml";
const sets = argv.flatMap((a, i) => (a === "--set" ? [argv[i + 1]!] : []));
const TARGET = 475, WINDOW = 100;
const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;

const runs: Record<string, unknown>[] = [];
let agent: Record<string, unknown> = {};
for (const seed of seeds) {
  const exp = trainLocalExperiment({ config, sets, seed, steps: budget, target: TARGET, window: WINDOW, runDir: `/tmp/fedrl-bench-ppo-${seed}` });
  if (exp.algorithm !== "ppo" || exp.env.id !== "CartPole-v1") throw new Error(`${config}: expected algorithm ppo on CartPole-v1, got ${exp.algorithm} on ${exp.env.id}`);
  agent = exp.agent;
  let last = 0;
  const s = await trainLocalRun(exp, (l) => { if (Date.now() - last > 30_000) { last = Date.now(); process.stderr.write(`seed ${seed} ${l}\n`); } });
  const row = {
    seed, solved: s.reachedAt !== null, episodes: s.reachedAt?.episode ?? null, envSteps: s.reachedAt?.step ?? null,
    ranEpisodes: s.episodes, ranSteps: s.steps, updates: s.updates, finalMean100: round(s.finalMean, 1), bestMean100: s.bestMean === null ? null : round(s.bestMean, 1),
    eval: { mean: round(s.eval.mean, 1), std: round(s.eval.std, 1) }, wallSeconds: round(s.wallSeconds),
  };
  console.error(JSON.stringify(row));
  runs.push(row);
}

const command = `npx fedrl train-local --config ${config}${sets.map((s) => ` --set ${s}`).join("")} --seed S --steps ${budget}`;
const solved = runs.filter((r) => r.solved).length;
writeResult("ppo-CartPole-v1", { command, env: "CartPole-v1", algorithm: "ppo", agent, clock: "steps", budgetSteps: budget, target: `mean-${WINDOW} of training returns ≥ ${TARGET}`, solved: `${solved}/${runs.length}`, runs, loadavg: loadavg() });
writeText("ppo-CartPole-v1.md", [
  "# PPO on CartPole-v1 (local, one actor, step clock)", "",
  `\`${command}\` for seeds ${seeds.join(", ")}; stops at mean-${WINDOW} of training returns (sampled actions) ≥ ${TARGET}, else at ${budget} env steps.`, "",
  `Agent: \`${JSON.stringify(agent)}\``, "",
  `Solved: ${solved} of ${runs.length}.`, "",
  "| seed | solved | episodes to target | env steps to target | final mean-100 | greedy eval (10 ep.) | gradient steps | wall s |",
  "|---|---|---|---|---|---|---|---|",
  ...runs.map((r: any) => `| ${r.seed} | ${r.solved ? "yes" : "no"} | ${r.episodes ?? "—"} | ${r.envSteps ?? "— (not within the budget)"} | ${r.finalMean100} | ${r.eval.mean} ± ${r.eval.std} | ${r.updates} | ${r.wallSeconds} |`),
  "", `Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(" / ")} (shared 2-core machine; wall times vary with other work).`, "",
].join("\n"));
