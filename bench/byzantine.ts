/**
 * Byzantine benchmark: honest and attacking actors (federation/byzantine.ts) against each
 * aggregation rule, hybrid recipe (and FedAvg for a few cells), step clock, one process per job.
 *
 *   npm run bench:byzantine -- [--env CartPole-v1] [--actors 10] [--byzantine 3] [--steps 10000]
 *        [--rules fedavg,trust,trust-delta,median,trimmed-mean,multi-krum] [--attacks none,sign-flip,…]
 *        [--seeds 1] [--jobs 2] [--recipes hybrid,fedavg] [--tag NAME]
 *
 * Per cell: episodes per actor to the threshold (475; also 195 on CartPole), final mean-100 of the
 * honest actors, greedy eval of the global model, detection precision/recall (an actor counts as
 * detected when it is left out or weighted < 1/(2K) in ≥ 80 % of the rounds after the third, or
 * when ≥ 50 % of the rows it sent were gated out of the replay), honest actors wrongly detected,
 * whether the global model stayed finite, and its norm trace. Writes
 * bench/results/byzantine-<env>[-tag].{json,md,svg}.
 */
import { appendFileSync, existsSync, readFileSync, unlinkSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadExperiment, type Experiment } from "../launch/config";
import { runEmbedded } from "../launch/embedded";
import { actorIndex, attackOf } from "../launch/assemble";
import type { MetricsSink } from "../core/metrics";
import { ATTACKS } from "../federation/byzantine";
import { forEachParallel, machineInfo, runInChild, RESULTS_DIR, writeResult, writeText } from "./util";
import { COLORS } from "../launch/plot";

const CONFIG: Record<string, string> = { "CartPole-v1": "configs/cartpole-hybrid.yaml", "LunarLander-v3": "configs/lunarlander-hybrid.yaml" };
const THRESHOLDS: Record<string, number[]> = { "CartPole-v1": [195, 475], "LunarLander-v3": [100, 200] };

/** A rule name may end in "+nobounds": the same rule with the plausibility bounds switched off (the ablation). */
interface Job { env: string; recipe: "hybrid" | "fedavg"; rule: string; attack: string; byzantine: number; actors: number; steps: number; seed: number; evalEpisodes: number }

function experimentFor(j: Job): Experiment {
  return loadExperiment(CONFIG[j.env]!, [
    `run=byz-${j.recipe}-${j.rule.replace(/[^A-Za-z0-9_-]/g, "-")}-${j.attack}-${j.seed}`,
    `mode=${j.recipe}`,
    `seed=${j.seed}`,
    `clock=steps`,
    `actors.count=${j.actors}`,
    `actors.byzantine={count: ${j.attack === "none" ? 0 : j.byzantine}, attack: ${j.attack === "none" ? "sign-flip" : j.attack}}`,
    `aggregator.rule=${j.rule.replace("+nobounds", "")}`,
    ...(j.rule.endsWith("+nobounds") ? ["aggregator.bounds={normRatio: 1e30, deltaRatio: 1e30, growth: 1e30}", "learner.bounds.maxAbs=3.4e38", "learner.bounds.slack=1e30"] : []),
    // The agents bench's CartPole solving DQN (Double DQN, 3-step returns, batch 128, learn every 2
    // steps; bench/agents.ts CARTPOLE_SOLVE) for every cell, ε over 5000 steps: the shipped config's
    // 1-step DQN does not reach 475 (issue #15), and a bench of defences needs runs that learn.
    ...(j.env === "CartPole-v1" ? ["agent.algorithm=double", "agent.nStep=3", "agent.lr=0.0005", "agent.batchSize=128", "agent.learnEvery=2", "agent.targetUpdateEvery=250", "agent.epsilonEnd=0.01"] : []),
    `agent.epsilonDecaySteps=5000`,
    // the WebAssembly kernel (algorithms/dqn/wasm): the same DQN, ~10× faster here, so the grid fits
    `agent.engine=wasm`,
    // more rounds than the shipped config's (5000 steps) so detection is judged over ≥ 10 rounds
    `actors.weights={ms: 2500, steps: 500}`,
    `aggregator.interval={ms: 5000, steps: 1000}`,
    `aggregator.staleAfter={ms: 15000, steps: 3000}`,
    // clients replace their weights with the global model and the node rebases their updates, so
    // Δ_k is each client's own progress (the same for every rule)
    `actors.merge=replace`,
    `aggregator.rebase=true`,
    `aggregator.byzantine=${j.byzantine}`,
    ...(j.recipe === "fedavg" ? ["aggregator.alpha=0"] : []),
    `budget.stepsPerActor=${j.steps}`,
    `budget.targetReturn=${THRESHOLDS[j.env]![0]}`,
    `budget.stopAtTarget=false`,
    `eval.episodes=${j.evalEpisodes}`,
    `eval.seed=900000`,
  ], {});
}

async function runJob(j: Job) {
  const exp = experimentFor(j);
  const rounds: { norm: number; clients: { actor: string; weight: number; used: boolean; reason?: string }[] }[] = [];
  const sink: MetricsSink = {
    write: (event, data) => {
      if (event === "aggregation") rounds.push({ norm: data.globalNorm as number, clients: data.clients as never });
    },
  };
  const s = await runEmbedded(exp, { writeMetrics: false, chunk: 10, metrics: sink });
  const isByz = (id: string) => attackOf(exp, actorIndex(exp, id)) !== null;
  const ids = s.actors.map((a) => a.id);
  // Weight-based detection over rounds after the third.
  const detectedBy = new Map<string, string>();
  for (const id of ids) {
    const mine = rounds.slice(3).map((r) => ({ K: r.clients.filter((c) => c.reason !== "stale").length, c: r.clients.find((c) => c.actor === id) })).filter((x) => x.c && x.c.reason !== "stale");
    if (mine.length > 0 && mine.filter((x) => !x.c!.used || x.c!.weight < 1 / (2 * x.K)).length >= 0.8 * mine.length) detectedBy.set(id, "weights");
    const r = s.replayByActor?.[id];
    if (r && r.gated + r.quota >= 0.5 * (r.accepted + r.gated + r.quota) && r.gated + r.quota > 0) detectedBy.set(id, detectedBy.has(id) ? "both" : "replay");
  }
  const byz = ids.filter(isByz), honest = ids.filter((id) => !isByz(id));
  const tp = byz.filter((id) => detectedBy.has(id)).length, fp = honest.filter((id) => detectedBy.has(id)).length;
  const honestActors = s.actors.filter((a) => !isByz(a.id));
  const reachedAt = (thr: number) => {
    // episodes per actor at which the honest actors' mean of mean-100 first reached thr
    const per = honestActors.map((a) => a.returns);
    const n = Math.min(...per.map((r) => r.length));
    for (let e = 10; e <= n; e++) {
      const m = per.reduce((acc, r) => { const w = r.slice(Math.max(0, e - 100), e); return acc + w.reduce((x, y) => x + y, 0) / w.length; }, 0) / per.length;
      if (m >= thr) return e;
    }
    return null;
  };
  return {
    ...j,
    reached: Object.fromEntries(THRESHOLDS[j.env]!.map((t) => [t, reachedAt(t)])),
    honestMean100: honestActors.reduce((a, x) => a + x.mean100, 0) / honestActors.length,
    eval: s.eval, globalModel: s.globalModel, wallSeconds: s.wallSeconds,
    detection: { precision: tp + fp > 0 ? tp / (tp + fp) : byz.length === 0 ? null : 0, recall: byz.length ? tp / byz.length : null, honestWronglyDetected: fp, by: Object.fromEntries(detectedBy) },
    rounds: rounds.length, normTrace: rounds.map((r) => Math.round(r.norm * 100) / 100), refusedRounds: s.aggregation?.refusedRounds ?? 0,
    clients: s.aggregation?.clients ?? {}, replayByActor: s.replayByActor ?? {},
    rejected: s.learner?.rejected.byReason ?? {},
  };
}
type Result = Awaited<ReturnType<typeof runJob>>;

const inChild = (job: Job) => runInChild<Result>(fileURLToPath(import.meta.url), job);

const f1 = (x: number | null | undefined, d = 1) => (typeof x === "number" && Number.isFinite(x) ? x.toFixed(d) : "—");

function table(rs: Result[], env: string): string {
  const [lo, hi] = THRESHOLDS[env]!;
  const rows = [`| recipe | rule | attack | Byzantine | episodes to ${lo} | episodes to ${hi} | honest mean-100 | global eval | precision | recall | honest wrongly detected | global finite | global norm | refused rounds | wall s |`, "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"];
  for (const r of rs) rows.push(`| ${r.recipe} | ${r.rule} | ${r.attack} | ${r.attack === "none" ? 0 : r.byzantine}/${r.actors} | ${r.reached[lo] ?? "not reached"} | ${r.reached[hi] ?? "not reached"} | ${f1(r.honestMean100)} | ${f1(r.eval.mean)} | ${f1(r.detection.precision, 2)} | ${f1(r.detection.recall, 2)} | ${r.detection.honestWronglyDetected} | ${r.globalModel?.finite ?? "—"} | ${f1(r.globalModel?.norm, 1)} | ${r.refusedRounds} | ${f1(r.wallSeconds, 0)} |`);
  return rows.join("\n");
}

/** Grouped bars: honest mean-100 per attack (groups) and rule (bars). */
function svg(rs: Result[], title: string): string {
  const attacks = [...new Set(rs.map((r) => r.attack))];
  const rules = [...new Set(rs.map((r) => `${r.recipe === "fedavg" ? "FedAvg/" : ""}${r.rule}`))];
  const W = 900, H = 420, L = 60, B = 80, T = 40, R = 160;
  const vals = rs.map((r) => r.honestMean100).filter(Number.isFinite);
  const hi = Math.max(1, ...vals);
  const gw = (W - L - R) / attacks.length, bw = (gw - 10) / rules.length;
  const C = COLORS;
  let out = `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11"><rect width="${W}" height="${H}" fill="white"/><text x="${L}" y="20" font-size="14">${title}</text>`;
  out += `<line x1="${L}" y1="${H - B}" x2="${W - R}" y2="${H - B}" stroke="black"/><line x1="${L}" y1="${T}" x2="${L}" y2="${H - B}" stroke="black"/>`;
  for (let i = 0; i <= 4; i++) { const v = (hi * i) / 4, y = H - B - ((H - B - T) * i) / 4; out += `<text x="${L - 5}" y="${y + 4}" text-anchor="end">${v.toFixed(0)}</text>`; }
  attacks.forEach((a, gi) => {
    out += `<text x="${L + gi * gw + gw / 2}" y="${H - B + 16}" text-anchor="middle">${a}</text>`;
    rules.forEach((rule, ri) => {
      const r = rs.find((x) => x.attack === a && `${x.recipe === "fedavg" ? "FedAvg/" : ""}${x.rule}` === rule);
      if (!r) return;
      const v = Math.max(0, r.honestMean100), h = ((H - B - T) * v) / hi;
      out += `<rect x="${L + gi * gw + 5 + ri * bw}" y="${H - B - h}" width="${bw - 1}" height="${h}" fill="${C[ri % C.length]}"/>`;
    });
  });
  rules.forEach((rule, ri) => (out += `<rect x="${W - R + 10}" y="${T + ri * 16}" width="12" height="10" fill="${C[ri % C.length]}"/><text x="${W - R + 28}" y="${T + ri * 16 + 9}">${rule}</text>`));
  out += `<text x="14" y="${(T + H - B) / 2}" transform="rotate(-90 14 ${(T + H - B) / 2})" text-anchor="middle">honest actors' final mean-100</text>`;
  return out + "</svg>\n";
}

async function main() {
  const { values } = parseArgs({ options: {
    env: { type: "string", default: "CartPole-v1" }, actors: { type: "string", default: "10" }, byzantine: { type: "string", default: "3" },
    steps: { type: "string", default: "10000" }, rules: { type: "string", default: "fedavg,trust,trust-delta,median,trimmed-mean,multi-krum" },
    attacks: { type: "string", default: ["none", ...ATTACKS.filter((a) => a !== "replay-flood")].join(",") }, seeds: { type: "string", default: "1" },
    jobs: { type: "string", default: "2" }, recipes: { type: "string", default: "hybrid" }, extra: { type: "string" }, "first-seed": { type: "string", default: "0" }, eval: { type: "string", default: "20" }, tag: { type: "string" }, job: { type: "string" }, help: { type: "boolean" },
    // continue a grid from its partial file (same code: a cell's result is deterministic on the step clock)
    resume: { type: "boolean" },
    // write the report from the partial file and stop (what was not run is listed as not run)
    "report-only": { type: "boolean" },
    // rewrite the .md and .svg of an existing results file (e.g. after a change to the plot)
    redraw: { type: "string" },
  } });
  if (values.help) {
    process.stdout.write(`${readFirstComment()}\n`);
    return;
  }
  if (values.job) {
    process.stdout.write(JSON.stringify(await runJob(JSON.parse(values.job) as Job)) + "\n");
    return;
  }
  if (values.redraw) {
    const d = JSON.parse(readFileSync(values.redraw, "utf8")) as { args: Record<string, string>; results: Result[]; notRun?: Job[] };
    const a = d.args, env = d.results[0]!.env, name = values.redraw.replace(/^.*\//, "").replace(/\.json$/, "");
    const cut = d.notRun?.length ? `\n\nNot run (time): ${d.notRun.map((j) => `${j.recipe}/${j.rule}/${j.attack}/seed ${j.seed}`).join(", ")}.\n` : "";
    writeText(`${name}.md`, `# Byzantine benchmark: ${env}, ${a.actors} actors, ${a.byzantine} Byzantine, ${a.steps} steps per actor, step clock\n\n${table(d.results, env)}\n${cut}`);
    writeText(`${name}.svg`, svg(d.results, `${env}: honest actors' mean-100 under attack (${a.byzantine}/${a.actors} Byzantine)`));
    return;
  }
  const env = values.env!;
  if (!CONFIG[env]) throw new Error(`--env must be one of ${Object.keys(CONFIG).join(", ")}`);
  const jobs: Job[] = [];
  for (const recipe of values.recipes!.split(",") as Job["recipe"][])
    for (const attack of values.attacks!.split(","))
      for (const rule of values.rules!.split(","))
        for (let seed = Number(values["first-seed"]); seed < Number(values["first-seed"]) + Number(values.seeds); seed++)
          jobs.push({ env, recipe, rule, attack, byzantine: Number(values.byzantine), actors: Number(values.actors), steps: Number(values.steps), seed, evalEpisodes: Number(values.eval) });
  // --extra "recipe:rule:attack;…" adds single cells (e.g. fedavg:fedavg:sign-flip or hybrid:fedavg+nobounds:inflated)
  for (const cell of (values.extra ?? "").split(";").filter(Boolean)) {
    const [recipe, rule, attack] = cell.split(":") as [Job["recipe"], string, string];
    for (let seed = Number(values["first-seed"]); seed < Number(values["first-seed"]) + Number(values.seeds); seed++) jobs.push({ env, recipe, rule, attack, byzantine: Number(values.byzantine), actors: Number(values.actors), steps: Number(values.steps), seed, evalEpisodes: Number(values.eval) });
  }
  const results: Result[] = [];
  const t0 = Date.now();
  const name = `byzantine-${env}${values.tag ? `-${values.tag}` : ""}`;
  // Every finished cell is appended at once (a crash later loses nothing); a failed cell is reported and skipped.
  const partialPath = join(RESULTS_DIR, `${name}.partial.jsonl`);
  const same = (a: Job, b: Job) => a.recipe === b.recipe && a.rule === b.rule && a.attack === b.attack && a.seed === b.seed && a.steps === b.steps && a.actors === b.actors && a.byzantine === b.byzantine && a.env === b.env;
  const earlier: Result[] = (values.resume || values["report-only"]) && existsSync(partialPath)
    ? readFileSync(partialPath, "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l) as Result).filter((r) => jobs.some((j) => same(j, r)))
    : [];
  results.push(...earlier);
  const todo = values["report-only"] ? [] : jobs.filter((j) => !earlier.some((r) => same(j, r)));
  const partial = values.resume || values["report-only"] ? partialPath : writeText(`${name}.partial.jsonl`, "");
  const failed: { job: Job; error: string }[] = [];
  await forEachParallel(todo, Number(values.jobs), async (j) => {
      let r: Result;
      try {
        r = await inChild(j);
      } catch (e) {
        failed.push({ job: j, error: (e as Error).message });
        process.stderr.write(`FAILED ${JSON.stringify(j)}: ${(e as Error).message}\n`);
        return;
      }
      appendFileSync(partial, JSON.stringify(r) + "\n");
      results.push(r);
      const done = results.length, eta = ((Date.now() - t0) / (done - earlier.length)) * (jobs.length - done) / 1000;
      process.stderr.write(`[${done}/${jobs.length} ETA ${eta.toFixed(0)} s] ${j.recipe} ${j.rule} ${j.attack}: honest μ100 ${f1(r.honestMean100)} eval ${f1(r.eval.mean)} P ${f1(r.detection.precision, 2)} R ${f1(r.detection.recall, 2)} finite ${r.globalModel?.finite} (${f1(r.wallSeconds, 0)} s)\n`);
  });
  const order = (r: Result) => jobs.findIndex((j) => j.recipe === r.recipe && j.rule === r.rule && j.attack === r.attack && j.seed === r.seed);
  results.sort((a, b) => order(a) - order(b));
  const notRun = jobs.filter((j) => !results.some((r) => same(j, r)) && !failed.some((f) => same(j, f.job)));
  writeResult(name, { machine: machineInfo(), args: values, results, failed, notRun });
  if (notRun.length === 0 && failed.length === 0) unlinkSync(partial); // everything is in the results file now
  else process.stderr.write(`${notRun.length} cells not run, ${failed.length} failed (listed in the results file)\n`);
  const cut = notRun.length ? `\n\nNot run (time): ${notRun.map((j) => `${j.recipe}/${j.rule}/${j.attack}/seed ${j.seed}`).join(", ")}.\n` : "";
  writeText(`${name}.md`, `# Byzantine benchmark: ${env}, ${values.actors} actors, ${values.byzantine} Byzantine, ${values.steps} steps per actor, step clock\n\n${table(results, env)}\n${cut}`);
  writeText(`${name}.svg`, svg(results, `${env}: honest actors' mean-100 under attack (${values.byzantine}/${values.actors} Byzantine)`));
  process.stderr.write(`wrote bench/results/${name}.{json,md,svg}\n`);
}

function readFirstComment(): string {
  return [
    "npm run bench:byzantine -- [options]",
    "  --env ID              CartPole-v1 (default) or LunarLander-v3",
    "  --actors N            actors per run (10); --byzantine F: the last F attack (3)",
    "  --steps N             env steps per actor (10000); --eval N greedy episodes of the global model (20)",
    "  --rules a,b,…         fedavg,trust,trust-delta,median,trimmed-mean,multi-krum (a rule+nobounds turns the bounds off)",
    "  --attacks a,b,…       none and every attack but replay-flood",
    "  --recipes hybrid,fedavg   recipes of the grid (hybrid); --extra \"recipe:rule:attack;…\" single cells",
    "  --seeds N --first-seed S  seeds S..S+N-1 (1, 0); --jobs J cells at a time (2); --tag T results name suffix",
    "  --resume              continue the grid from its partial file; --report-only: write the report from it",
    "  --redraw FILE.json    rewrite the .md and .svg of a results file",
    "Writes bench/results/byzantine-<env>[-tag].{json,md,svg}. The committed CartPole grid:",
    "  --steps 20000 --eval 10 --attacks none,sign-flip,inflated,reward-flip,random-action,free-rider \\",
    "  --extra \"fedavg:fedavg:none;fedavg:fedavg:sign-flip;fedavg:trust-delta:none;fedavg:trust-delta:sign-flip;hybrid:fedavg+nobounds:inflated;hybrid:trust+nobounds:inflated\"",
  ].join("\n");
}

if (process.argv[1] === fileURLToPath(import.meta.url)) main().catch((e) => { process.stderr.write(`${(e as Error).message}\n`); process.exit(1); });
