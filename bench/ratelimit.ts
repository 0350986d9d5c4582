/**
 * `npm run bench:ratelimit`: the learner's sample:insert rate limiter (`learner.rateLimit`) on the
 * WALL clock, where it matters: there the learner's updates per tick and the actors' insert rate
 * are set by the machine, not by the config, so the gradient steps per inserted transition drift.
 *
 * One embedded CartPole-v1 hybrid run (configs/cartpole-hybrid.yaml) per cell, `--seconds` each, one
 * at a time (cells share nothing). Per cell: the ratio updates / transitions inserted since training
 * began, sampled at every publish (the learner's stats event), its spread over the run, the limiter's
 * counters (blocked / forced / behind), env steps per second per actor, learner updates per second,
 * the actors' final mean-100 and the global model's greedy eval.
 *
 * Cells: the config without a limiter (its replayRatio with a per-tick cap), with [min, max] = 0.8–1.2×
 * its ratio, and with that plus insertSlack (as shipped); `starved` — the per-tick cap cut to 20 so
 * the learner falls behind the actors, then ± limit, ± insertSlack (inserts wait: the actors slow
 * down); `eager` — replayRatio ×4 (over-sampling), ± limit.
 *
 *   npm run bench:ratelimit [-- --seconds 60] [--cells shipped,starved,starved+limit]
 */
import { loadavg } from "node:os";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadExperiment } from "../launch/config";
import { runEmbedded } from "../launch/embedded";
import type { MetricsSink } from "../core/metrics";
import { machineInfo, median, percentile, runInChild, writeResult, writeText } from "./util";

const CONFIG = "configs/cartpole-hybrid.yaml";

interface Cell { name: string; seconds: number; sets: string[] }

function cellsFor(seconds: number): Cell[] {
  const base = loadExperiment(CONFIG, [], {});
  const ratio = base.learner.replayRatio;
  const bounds = (slack: number) => `learner.rateLimit={min: ${+(0.8 * ratio).toFixed(3)}, max: ${+(1.2 * ratio).toFixed(3)}, insertSlack: ${slack}}`;
  const slack = 10 * base.learner.updatesPerTick;
  const limit = bounds(0), held = bounds(slack), off = "learner.rateLimit={min: 0, max: 0, insertSlack: 0}";
  return [
    { name: "no limit", seconds, sets: [off] },
    { name: "limit", seconds, sets: [limit] },
    { name: "limit+slack (shipped)", seconds, sets: [held] },
    { name: "starved", seconds, sets: [off, "learner.updatesPerTick=20"] },
    { name: "starved+limit", seconds, sets: ["learner.updatesPerTick=20", limit] },
    { name: "starved+limit+slack", seconds, sets: ["learner.updatesPerTick=20", bounds(200)] },
    { name: "eager", seconds, sets: [off, `learner.replayRatio=${4 * ratio}`, `learner.updatesPerTick=${4 * base.learner.updatesPerTick}`] },
    { name: "eager+limit", seconds, sets: [`learner.replayRatio=${4 * ratio}`, `learner.updatesPerTick=${4 * base.learner.updatesPerTick}`, limit] },
  ];
}

async function runCell(cell: Cell) {
  const exp = loadExperiment(CONFIG, ["clock=wall", `budget.seconds=${cell.seconds}`, "budget.stepsPerActor=0", "budget.stopAtTarget=false", `runDir=/tmp/fedrl-bench-ratelimit/${cell.name}`, ...cell.sets], {});
  const samples: { t: number; updates: number; accepted: number }[] = [];
  const t0 = Date.now();
  let start: { updates: number; accepted: number } | null = null;
  const sink: MetricsSink = {
    write: (event, data) => {
      if (event !== "learner") return;
      const d = data as { updates: number; accepted: number };
      // The ratio counts from the first tick that trained (as the limiter does: warm-up rows are not owed updates).
      if (start === null && d.updates > 0) start = { updates: d.updates, accepted: d.accepted };
      if (start) samples.push({ t: (Date.now() - t0) / 1000, updates: d.updates - start.updates, accepted: d.accepted - start.accepted });
    },
  };
  const s = await runEmbedded(exp, { writeMetrics: false, checkpoint: false, metrics: sink, tty: false });
  const wall = (Date.now() - t0) / 1000;
  const ratios = samples.filter((x) => x.accepted > 0).map((x) => x.updates / x.accepted);
  const w = exp.budget.window;
  const steps = s.actors.reduce((a, x) => a + x.steps, 0);
  return {
    ...cell, learner: { replayRatio: exp.learner.replayRatio, updatesPerTick: exp.learner.updatesPerTick, rateLimit: exp.learner.rateLimit ?? null },
    wallSeconds: wall, envStepsPerSecPerActor: steps / s.actors.length / wall, learnerUpdatesPerSec: (s.learner?.updates ?? 0) / wall,
    ratio: { final: ratios.at(-1) ?? null, median: ratios.length ? median(ratios) : null, p10: ratios.length ? percentile(ratios, 10) : null, p90: ratios.length ? percentile(ratios, 90) : null, samples: ratios.length },
    limiter: s.learner?.rateLimit ?? null,
    finalMean100: s.actors.map((a) => a.returns.slice(-w).reduce((x, y) => x + y, 0) / Math.max(1, Math.min(w, a.returns.length))),
    eval: s.eval, series: samples,
  };
}

type CellResult = Awaited<ReturnType<typeof runCell>>;

const USAGE = `npm run bench:ratelimit [-- options]: the learner's sample:insert limiter on the wall clock (${CONFIG})
  --seconds S       wall seconds per cell (60)
  --cells a,b       cells by name (default all): "no limit", limit, "limit+slack (shipped)", starved, starved+limit, starved+limit+slack, eager, eager+limit`;

async function main() {
  if (process.argv.includes("--help") || process.argv.includes("-h")) return void console.log(USAGE);
  const { values } = parseArgs({ options: { seconds: { type: "string", default: "60" }, cells: { type: "string" }, job: { type: "string" } } });
  if (values.job) {
    process.stdout.write(JSON.stringify(await runCell(JSON.parse(values.job) as Cell)) + "\n");
    return;
  }
  let cells = cellsFor(Number(values.seconds));
  if (values.cells) cells = cells.filter((c) => values.cells!.split(",").includes(c.name));
  const results: CellResult[] = [];
  for (const cell of cells) {
    const r = await runInChild<CellResult>(fileURLToPath(import.meta.url), cell);
    results.push(r);
    process.stderr.write(`${cell.name}: ratio median ${r.ratio.median?.toFixed(3)} (p10–p90 ${r.ratio.p10?.toFixed(3)}–${r.ratio.p90?.toFixed(3)}), ${r.envStepsPerSecPerActor.toFixed(0)} steps/s/actor, ${r.learnerUpdatesPerSec.toFixed(0)} updates/s, limiter ${JSON.stringify(r.limiter)}\n`);
  }
  const f = (x: number | null | undefined, d = 3) => (x === null || x === undefined ? "—" : x.toFixed(d));
  const md = [
    "# Sample:insert rate limiter on the wall clock (CartPole-v1 hybrid, configs/cartpole-hybrid.yaml)", "",
    `Each cell ${values.seconds} s on the wall clock, one process (actors, learner, aggregator share one thread), one cell at a time.`,
    "Ratio = learner gradient steps / transitions inserted since training began, at every publish; the limiter keeps it in [min, max]",
    "(blocked: updates a tick skipped above max; forced: extra updates below min, up to 10× updatesPerTick per tick; behind: what was still owed).", "",
    "| cell | replayRatio / cap per tick | rateLimit | ratio median (p10–p90) | final ratio | blocked / forced / behind / inserts held | env steps/s per actor | learner updates/s | final mean-100 per actor | greedy eval |",
    "|---|---|---|---|---|---|---|---|---|---|",
    ...results.map((r) => `| ${r.name} | ${r.learner.replayRatio} / ${r.learner.updatesPerTick} | ${r.learner.rateLimit && (r.learner.rateLimit.min > 0 || r.learner.rateLimit.max > 0) ? `[${r.learner.rateLimit.min}, ${r.learner.rateLimit.max}]${r.learner.rateLimit.insertSlack ? `, slack ${r.learner.rateLimit.insertSlack}` : ""}` : "off"} | ${f(r.ratio.median)} (${f(r.ratio.p10)}–${f(r.ratio.p90)}) | ${f(r.ratio.final)} | ${r.limiter ? `${r.limiter.blocked} / ${r.limiter.forced} / ${r.limiter.behind} / ${r.limiter.insertsHeld}` : "—"} | ${r.envStepsPerSecPerActor.toFixed(0)} | ${r.learnerUpdatesPerSec.toFixed(0)} | ${r.finalMean100.map((x) => x.toFixed(1)).join(" / ")} | ${r.eval.mean.toFixed(1)} ± ${r.eval.std.toFixed(1)} |`),
    "", `Load average at the end: ${loadavg().map((x) => x.toFixed(1)).join(" / ")}. Machine: ${JSON.stringify(machineInfo())}.`, "",
  ].join("\n");
  writeText("ratelimit-CartPole-v1.md", md);
  writeResult("ratelimit-CartPole-v1", { config: CONFIG, seconds: Number(values.seconds), results });
  process.stderr.write(md);
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`bench:ratelimit: ${(e as Error).message}\n`); process.exit(1); });
