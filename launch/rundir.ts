/**
 * Run folders: a new run never writes into an existing run's folder. Its id gets a timestamp
 * suffix (runs/<run>-YYYYMMDD-HHMMSS); `--resume <dir>` continues the run a folder holds, with the
 * effective config saved there (config.json) and `--set` on top. run.json says where it stands.
 */
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { basename, join } from "node:path";
import { parseExperiment, runDirOf, type Experiment } from "./config";
import { UserError } from "./errors";

export interface RunRecord {
  id: string;
  command: string;
  status: "running" | "stopped" | "finished";
  startedAt: string;
  updatedAt: string;
  /** Env steps / episodes per actor at the last stop (min over actors). */
  steps?: number;
  episodes?: number;
  resumes?: number;
}

const stamp = (d = new Date()) => d.toISOString().replace(/[-:]/g, "").replace("T", "-").slice(0, 15);

function holdsRun(dir: string): boolean {
  return existsSync(dir) && readdirSync(dir).length > 0;
}

/** A fresh folder for a new run: the run id gets a timestamp suffix; an explicit runDir is used only if empty, else suffixed too. */
export function newRun(exp: Experiment, command: string, now = new Date()): Experiment {
  const out = structuredClone(exp);
  const s = stamp(now);
  let dir: string;
  if (exp.runDir !== undefined) {
    dir = exp.runDir;
    if (holdsRun(dir)) dir = `${dir.replace(/\/+$/, "")}-${s}`;
  } else {
    out.run = `${exp.run.slice(0, 48)}-${s}`;
    dir = `runs/${out.run}`;
  }
  // Two runs in the same second: -2, -3 … after the stamp (stripping a trailing number would cut the stamp's time).
  const base = dir;
  for (let k = 2; holdsRun(dir); k++) dir = `${base}-${k}`;
  out.runDir = dir;
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "config.json"), JSON.stringify(out, null, 2));
  const t = now.toISOString();
  writeRecord(dir, { id: out.run, command, status: "running", startedAt: t, updatedAt: t, resumes: 0 });
  return out;
}

/** The run's effective config, rewritten on a resume that changes it (e.g. a larger budget). */
export function saveConfig(exp: Experiment): void {
  writeFileSync(join(runDirOf(exp), "config.json"), JSON.stringify(exp, null, 2));
}

export function readRecord(dir: string): RunRecord | null {
  try {
    return JSON.parse(readFileSync(join(dir, "run.json"), "utf8")) as RunRecord;
  } catch {
    return null;
  }
}

export function writeRecord(dir: string, r: RunRecord): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, "run.json"), JSON.stringify({ ...r, updatedAt: new Date().toISOString() }, null, 2));
}

export function updateRecord(exp: Experiment, patch: Partial<RunRecord>): void {
  const dir = runDirOf(exp);
  const r = readRecord(dir);
  if (r) writeRecord(dir, { ...r, ...patch });
}

/**
 * The experiment of the run in `dir` (its saved config, then `sets`), or { finished } when the run
 * already spent the budget it was given and `sets` do not change the budget.
 */
export function resumeRun(dir: string, sets: string[]): { exp: Experiment; finished: RunRecord | null } {
  const cfg = join(dir, "config.json");
  if (!existsSync(dir)) throw new UserError(`--resume ${dir}: no such folder; pass a run folder (runs/<run>-<time>) that a run wrote`);
  if (!existsSync(cfg)) throw new UserError(`--resume ${dir}: no config.json there (not a run folder, or one written before run folders kept their config); start a new run instead`);
  const saved = JSON.parse(readFileSync(cfg, "utf8")) as Experiment;
  const exp = parseExperiment(saved, cfg, sets);
  exp.runDir = dir;
  const rec = readRecord(dir);
  const finished = rec?.status === "finished" && JSON.stringify(exp.budget) === JSON.stringify(parseExperiment(saved, cfg).budget) ? rec : null;
  if (rec && !finished) writeRecord(dir, { ...rec, status: "running", resumes: (rec.resumes ?? 0) + 1 });
  if (!finished) saveConfig(exp);
  return { exp, finished };
}

export const runName = (dir: string) => basename(dir.replace(/\/+$/, ""));
