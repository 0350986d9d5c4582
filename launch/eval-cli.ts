/** `fedrl eval --checkpoint DIR`: greedy returns of a saved agent (and detection metrics on IoTIntrusion-v0). */
import { make } from "../envs/index";
import { runIntrusionEpisode } from "../envs/iot/baselines";
import { ALLOW } from "../envs/iot/intrusion";
import { evaluate, type EvalRecord } from "../envs/iot/metrics";
import { loadExperiment, parseExperiment, type Experiment } from "./config";
import { evaluateGreedy } from "./eval";
import { loadAgent, resolveCheckpoint, runConfigOf } from "./checkpoints";
import { checkEnvOptions } from "./preflight";
import { UsageError } from "./errors";

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
    if (exp.env.id === "IoTIntrusion-v0") {
      const env = make(exp.env.id, { ...exp.env.options });
      const records: EvalRecord[] = [];
      for (let e = 0; e < episodes; e++) records.push(...runIntrusionEpisode(env, (obs) => { const a = agent.act(obs, "greedy"); return { action: a, score: a === ALLOW ? 0 : 1 }; }, seed + e).records);
      const m = evaluate(records);
      out.detection = { precision: m.overall.precision, recall: m.overall.recall, f1: m.overall.f1, fpr: m.overall.fpr, familyRecall: m.familyRecall };
    }
    if (f.json) console.log(JSON.stringify(out));
    else {
      const rows: [string, string][] = [["checkpoint", dir], ["env", exp.env.id], ["episodes", `${episodes} (seeds ${seed}…${seed + episodes - 1})`], ["greedy return", `${r.mean.toFixed(2)} ± ${r.std.toFixed(2)}`], ["min / max", `${Math.min(...r.returns).toFixed(2)} / ${Math.max(...r.returns).toFixed(2)}`]];
      const d = out.detection as { precision: number; recall: number; f1: number; fpr: number } | undefined;
      if (d) rows.push(["precision / recall", `${d.precision.toFixed(3)} / ${d.recall.toFixed(3)}`], ["F1 / FPR", `${d.f1.toFixed(3)} / ${d.fpr.toFixed(3)}`]);
      console.log(rows.map(([k, v]) => `${k.padEnd(20)} ${v}`).join("\n"));
      console.log(JSON.stringify(out));
    }
    void log;
    return 0;
  } finally {
    agent.dispose();
  }
}
