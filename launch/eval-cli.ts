/**
 * `fedrl eval --checkpoint DIR`: greedy returns of a saved agent and, on IoTIntrusion-v0, its
 * detection metrics on held-out traffic of every site (launch/detection.ts): a table with the
 * pooled row and one row per site, or JSON.
 */
import type { DetectionMetrics, DetectionReport } from "../envs/iot/detection";
import { DETECTION_ENV, evaluateDetection, type HeldOutDescription } from "./detection";
import { loadExperiment, parseExperiment, type Experiment } from "./config";
import { evaluateGreedy } from "./eval";
import { loadAgent, resolveCheckpoint, runConfigOf } from "./checkpoints";
import { checkEnvOptions } from "./preflight";
import { UsageError, UserError } from "./errors";

export interface EvalFlags { checkpoint?: string; episodes?: number; seed?: number; env?: string; json: boolean; config?: string; sets: string[] }

export async function evalCommand(f: EvalFlags, usage: string, log: (l: string) => void): Promise<number> {
  if (!f.checkpoint) throw new UsageError("fedrl eval needs --checkpoint DIR (a checkpoint or a run folder)", usage);
  const dir = resolveCheckpoint(f.checkpoint);
  let exp: Experiment = runConfigOf(dir) ?? loadExperiment(f.config, []);
  exp = parseExperiment(exp, f.config ?? "run config", f.sets);
  if (f.env && f.env !== exp.env.id) exp = { ...exp, env: { ...exp.env, id: f.env, options: {} } };
  checkEnvOptions(exp);
  const episodes = f.episodes ?? (exp.eval.episodes || 10);
  const seed = f.seed ?? exp.eval.seed;
  const agent = await loadAgent(dir);
  try {
    const r = evaluateGreedy(agent, exp, episodes, seed);
    const out: Record<string, unknown> = { checkpoint: dir, env: exp.env.id, episodes, seed, mean: r.mean, std: r.std, min: Math.min(...r.returns), max: Math.max(...r.returns), returns: r.returns };
    let det: { report: DetectionReport; set: HeldOutDescription } | null = null;
    if (exp.env.id === DETECTION_ENV) {
      try {
        det = evaluateDetection(agent, exp, episodes, seed);
      } catch (e) {
        throw new UserError(`held-out detection evaluation: ${(e as Error).message.split("\n")[0]}`);
      }
      out.detection = { heldOut: det.set, ...det.report };
    }
    if (f.json) console.log(JSON.stringify(out));
    else {
      const rows: [string, string][] = [["checkpoint", dir], ["env", exp.env.id], ["episodes", `${episodes} (seeds ${seed}…${seed + episodes - 1})`], ["greedy return", `${r.mean.toFixed(2)} ± ${r.std.toFixed(2)}`], ["min / max", `${Math.min(...r.returns).toFixed(2)} / ${Math.max(...r.returns).toFixed(2)}`]];
      console.log(rows.map(([k, v]) => `${k.padEnd(20)} ${v}`).join("\n"));
      if (det) console.log(detectionTable(det.report, det.set));
      console.log(JSON.stringify(out));
    }
    void log;
    return 0;
  } finally {
    agent.dispose();
  }
}

const f3 = (x: number) => (Number.isFinite(x) ? x.toFixed(3) : "–");
const f1d = (x: number) => (Number.isFinite(x) ? x.toFixed(1) : "–");

/** The held-out detection block of `fedrl eval`: what was evaluated, then pooled and per-site rows. */
export function detectionTable(r: DetectionReport, set: HeldOutDescription): string {
  const seeds = set.seeds.length ? `seeds ${set.seeds[0]}…${set.seeds[set.seeds.length - 1]}${set.seeds.length !== set.seeds[set.seeds.length - 1]! - set.seeds[0]! + 1 ? " (training seeds skipped)" : ""}` : "no seeds";
  const head = [
    "",
    `held-out detection  ${set.sites} sites × ${set.episodesPerSite} episodes, ${set.flows} flows; ${seeds}; ${set.split ? `${set.source} ${set.split} split (training drew from the other)` : `${set.source} traffic`}`,
    `score               ${r.scoreSource === "scores" ? "max over blocking actions of score − score(allow)" : "the decision (no per-action scores: AUCs are one operating point)"}${r.nonFiniteScores ? `; ${r.nonFiniteScores} non-finite scores` : ""}`,
    "",
  ];
  const cols = ["site", "flows", "mal %", "acc", "prec", "recall", "F1", "FPR", "ROC-AUC", "PR-AUC", "TPR@1%", "dmg/1k", "lost/1k", "esc/1k", "dev-type F1 gap"];
  const row = (name: string, m: DetectionMetrics) => [
    name, String(m.n), f1d((100 * m.malicious) / Math.max(1, m.n)), f3(m.accuracy), f3(m.precision), f3(m.recall), f3(m.f1), f3(m.fpr), f3(m.rocAuc), f3(m.prAuc), f3(m.tprAtFpr1),
    f1d(m.damagePer1k), f1d(m.benignLostPer1k), f1d(m.escalationsPer1k), m.worstDeviceType ? `${f3(m.worstDeviceTypeF1Gap)} (${m.worstDeviceType})` : "–",
  ];
  const body = [cols, row("all", r.pooled), ...Object.entries(r.sites).map(([k, m]) => row(k, m))];
  const w = cols.map((_, j) => Math.max(...body.map((b) => b[j]!.length)));
  const lines = body.map((b) => b.map((c, j) => (j === 0 || j === b.length - 1 ? c.padEnd(w[j]!) : c.padStart(w[j]!))).join("  ").trimEnd());
  const tail = `worst site F1 ${f3(r.worstSiteF1)}${r.worstSite !== null ? ` (site ${r.worstSite})` : ""}, site F1 gap ${f3(r.worstSiteF1Gap)}; worst device-type F1 gap ${f3(r.pooled.worstDeviceTypeF1Gap)}${r.pooled.worstDeviceType ? ` (${r.pooled.worstDeviceType})` : ""}`;
  return [...head, ...lines, "", tail].join("\n");
}
