/**
 * `npm run bench:configs`: does every shipped config solve its task within its own budget?
 *
 * Runs each `configs/*.yaml` as shipped — its agent, recipe, timers and budget; only the clock is
 * the step clock (timers fire by env steps, so a run is reproducible and machine-independent) and the
 * run stops once the target is reached (`--full` runs the whole budget) — on the config's own seed or
 * `--seeds`, in a child process per cell, `--jobs` at a time. Per cell: target reached (episodes and
 * env steps per actor), final mean-`window` of the actors, the global model's greedy eval, wall time.
 * Configs with no return target (IoTIntrusion-v0) report the global model's held-out detection
 * metrics (launch/detection.ts) at the last aggregation round instead.
 *
 * Results: bench/results/configs.{json,md}. Cells are merged into the existing file by (config, seed)
 * and written as each finishes; a cell whose config file changed since it ran is marked stale.
 *
 *   npm run bench:configs [-- --only cartpole,lunarlander-hybrid] [--seeds 0,1,2] [--jobs 2] [--full]
 *   npm run bench:configs -- --config /tmp/candidate.yaml --seeds 0,1,2 --tag candidate
 *   npm run bench:configs -- --only cartpole-hybrid --set actors.merge=replace --seeds 0,1,2 --tag probe
 */
import { createHash } from "node:crypto";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { basename, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { loadExperiment } from "../launch/config";
import { runEmbedded } from "../launch/embedded";
import { forEachParallel, machineInfo, RESULTS_DIR, runInChild, writeResult, writeText } from "./util";

const ROOT = join(fileURLToPath(new URL(".", import.meta.url)), "..");

interface Cell { config: string; seed: number; full: boolean; /** `--set` overrides (probes of a config; shown in the table). */ sets: string[] }

interface CellResult extends Cell {
  /** sha256 of the config file's text when it ran (first 12 hex digits). */
  configHash: string;
  mode: string; algorithm: string; env: string; actors: number;
  stepsPerActor: number; targetReturn: number | null; window: number;
  solved: boolean | null;
  reached: { episodesPerActor: number; stepsPerActor: number } | null;
  ranStepsPerActor: number; ranEpisodesPerActor: number;
  finalMeanPerActor: number[];
  eval: { mean: number; std: number };
  detection: { f1: number; rocAuc: number; fpr: number; worstSiteF1: number; round: number } | null;
  /** Hybrid: rows the learner's trust gate refused (gated) and removed from the replay (evicted), all clients; null without a learner. */
  gate: { gated: number; evicted: number } | null;
  wallSeconds: number;
}

const round = (x: number, d = 1) => Math.round(x * 10 ** d) / 10 ** d;
const hashOf = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex").slice(0, 12);

async function runCell(cell: Cell): Promise<CellResult> {
  const path = join(ROOT, cell.config);
  const configHash = hashOf(path);
  const exp = loadExperiment(path, [`seed=${cell.seed}`, "clock=steps", `runDir=/tmp/fedrl-bench-configs/${basename(cell.config, ".yaml")}-${cell.seed}`, `budget.stopAtTarget=${!cell.full}`, ...(cell.sets ?? [])], {});
  const t0 = Date.now();
  let last = 0;
  const s = await runEmbedded(exp, {
    writeMetrics: false, checkpoint: false, tty: false,
    progress: (line) => { if (Date.now() - last > 30_000) { last = Date.now(); process.stderr.write(`  ${cell.config} seed ${cell.seed}: ${line}\n`); } },
  });
  const w = exp.budget.window;
  const target = exp.budget.targetReturn ?? null;
  const d = s.detection?.at(-1);
  return {
    ...cell, configHash, mode: exp.mode, algorithm: String((exp as { algorithm?: unknown }).algorithm ?? "dqn"), env: exp.env.id, actors: exp.actors.count,
    stepsPerActor: exp.budget.stepsPerActor, targetReturn: target, window: w,
    solved: target === null ? null : s.reached !== null, reached: s.reached,
    ranStepsPerActor: Math.min(...s.actors.map((a) => a.steps)), ranEpisodesPerActor: Math.min(...s.actors.map((a) => a.episodes)),
    finalMeanPerActor: s.actors.map((a) => round(a.returns.slice(-w).reduce((x, y) => x + y, 0) / Math.max(1, Math.min(w, a.returns.length)))),
    eval: { mean: round(s.eval.mean), std: round(s.eval.std) },
    detection: d ? { f1: round(d.f1, 3), rocAuc: round(d.rocAuc, 3), fpr: round(d.fpr, 3), worstSiteF1: round(d.worstSiteF1, 3), round: d.round } : null,
    gate: s.replayByActor ? Object.values(s.replayByActor).reduce((a, c) => ({ gated: a.gated + c.gated, evicted: a.evicted + c.evicted }), { gated: 0, evicted: 0 }) : null,
    wallSeconds: round((Date.now() - t0) / 1000),
  };
}

function report(name: string, results: CellResult[], partial: string | null): string {
  const sorted = [...results].sort((a, b) => a.config.localeCompare(b.config) || a.seed - b.seed);
  const stale = (r: CellResult) => existsSync(join(ROOT, r.config)) && hashOf(join(ROOT, r.config)) !== r.configHash;
  const rows = sorted.map((r) => {
    const task = r.targetReturn === null ? "held-out detection" : `mean-${r.window} ≥ ${r.targetReturn}`;
    const outcome = r.solved === null
      ? (r.detection ? `F1 ${r.detection.f1}, ROC-AUC ${r.detection.rocAuc}, FPR ${r.detection.fpr}, worst site F1 ${r.detection.worstSiteF1}` : "no detection probe")
      : r.solved ? `**yes**: ${r.reached!.episodesPerActor} ep, ${r.reached!.stepsPerActor} steps/actor` : "**no**";
    const gate = r.gate && (r.gate.gated > 0 || r.gate.evicted > 0) ? ` (trust gate: ${r.gate.gated} rows refused, ${r.gate.evicted} evicted)` : "";
    return `| ${r.config}${r.sets?.length ? ` ${r.sets.map((x) => `\`${x}\``).join(" ")}` : ""}${stale(r) ? " (stale: file changed since)" : ""} | ${r.mode} ${r.algorithm}, ${r.actors} actor${r.actors > 1 ? "s" : ""} | ${r.seed} | ${r.stepsPerActor} | ${task} | ${outcome}${gate} | ${r.finalMeanPerActor.join(" / ")} | ${r.eval.mean} ± ${r.eval.std} | ${r.wallSeconds} |`;
  });
  const withTarget = sorted.filter((r) => r.solved !== null && !stale(r));
  const md = [
    `# Shipped configs: solved within their budget?${partial ? ` — PARTIAL (${partial})` : ""}`, "",
    "`npm run bench:configs`: each config as shipped on the step clock (its timers in env steps), stopping at the target",
    "(`--full`: the whole budget). Final mean is each actor's mean-`window` training return where the run stopped;",
    "eval: the global model's greedy return (local: the actors' models). IoT configs have no return target:",
    "their row is the global model's held-out detection at the last aggregation round.", "",
    "| config | recipe | seed | budget (steps/actor) | task | solved within budget | final mean per actor | greedy eval | wall s |",
    "|---|---|---|---|---|---|---|---|---|",
    ...rows, "",
    `Configs with a return target: ${withTarget.filter((r) => r.solved).length} of ${withTarget.length} cells solved.`, "",
    `Machine: ${JSON.stringify(machineInfo())}.`, "",
  ].join("\n");
  writeText(`${name}.md`, md);
  return writeResult(name, { partial, results: sorted });
}

const USAGE = `npm run bench:configs [-- options]: every configs/*.yaml as shipped (step clock), solved within its budget?
  --only a,b        configs whose file name contains one of these
  --config FILE     a config file instead (repeatable)
  --seeds 0,1,2     seeds (default: each config's own)
  --set k=v         override for every cell (repeatable; probes)
  --full            run the whole budget (default: stop at the target)
  --jobs N          cells at a time (2)       --tag T   results in bench/results/configs-T.{json,md}`;

async function main() {
  if (process.argv.includes("--help") || process.argv.includes("-h")) return void console.log(USAGE);
  const { values } = parseArgs({
    options: {
      only: { type: "string" }, seeds: { type: "string" }, jobs: { type: "string", default: "2" }, full: { type: "boolean", default: false },
      config: { type: "string", multiple: true }, set: { type: "string", multiple: true }, tag: { type: "string" }, job: { type: "string" },
    },
  });
  if (values.job) {
    process.stdout.write(JSON.stringify(await runCell(JSON.parse(values.job) as Cell)) + "\n");
    return;
  }
  let configs = values.config?.map((c) => relative(ROOT, c)) ??
    readdirSync(join(ROOT, "configs")).filter((f) => f.endsWith(".yaml")).sort().map((f) => `configs/${f}`);
  if (values.only) {
    const keys = values.only.split(",");
    configs = configs.filter((c) => keys.some((k) => basename(c).includes(k)));
  }
  if (configs.length === 0) throw new Error(`no config matches --only ${values.only}`);
  const cells: Cell[] = [];
  for (const config of configs) {
    const seeds = values.seeds?.split(",").map(Number) ?? [loadExperiment(join(ROOT, config), [], {}).seed];
    for (const seed of seeds) cells.push({ config, seed, full: values.full!, sets: values.set ?? [] });
  }
  const name = `configs${values.tag ? `-${values.tag}` : ""}`;
  const file = join(RESULTS_DIR, `${name}.json`);
  const key = (c: Cell) => `${c.config}#${c.seed}#${(c.sets ?? []).join(" ")}`;
  const results: CellResult[] = existsSync(file) ? (JSON.parse(readFileSync(file, "utf8")) as { results: CellResult[] }).results : [];
  const t0 = Date.now();
  let done = 0;
  await forEachParallel(cells, Number(values.jobs), async (cell) => {
      let r: CellResult;
      try {
        r = await runInChild<CellResult>(fileURLToPath(import.meta.url), cell);
      } catch (e) {
        process.stderr.write(`${cell.config} seed ${cell.seed}: ${(e as Error).message}\n`);
        return;
      }
      // Re-read before merging: another invocation may have written cells since this one started.
      if (existsSync(file)) for (const x of (JSON.parse(readFileSync(file, "utf8")) as { results: CellResult[] }).results) if (!results.some((y) => key(y) === key(x))) results.push(x);
      const i = results.findIndex((x) => key(x) === key(r));
      if (i >= 0) results[i] = r; else results.push(r);
      done++;
      const out = r.solved === null ? `detection F1 ${r.detection?.f1 ?? "—"}` : r.solved ? `solved at ${r.reached!.episodesPerActor} episodes, ${r.reached!.stepsPerActor} steps/actor` : `NOT solved (final ${r.finalMeanPerActor.join(" / ")})`;
      process.stderr.write(`[${done}/${cells.length} ${Math.round((Date.now() - t0) / 1000)} s] ${r.config} seed ${r.seed}: ${out}, eval ${r.eval.mean} (${r.wallSeconds} s)\n`);
      report(name, results, done < cells.length ? `${done} of ${cells.length} cells of this invocation` : null);
  });
  process.stderr.write(`wrote ${report(name, results, null)}\n`);
}

main().then(() => process.exit(0), (e) => { process.stderr.write(`bench:configs: ${(e as Error).message}\n`); process.exit(1); });
