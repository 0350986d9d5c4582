/** Finding an agent checkpoint and its run's config from a path a user gives (a checkpoint or a run folder). */
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { dirname, join, resolve } from "node:path";
import { DqnAgent } from "../algorithms/dqn/agent";
import { parseExperiment, type Experiment } from "./config";
import { UserError } from "./errors";

/** The agent checkpoint `path` names: itself, or a run folder's global model (learner-checkpoint/model), else its first actor's. */
export function resolveCheckpoint(path: string): string {
  if (!existsSync(path)) throw new UserError(`no such checkpoint or run folder: ${path}`);
  if (existsSync(join(path, "state.json"))) return path;
  for (const c of [join(path, "model"), join(path, "learner-checkpoint", "model")]) if (existsSync(join(c, "state.json"))) return c;
  const actors = readdirSync(path).filter((f) => f.endsWith("-checkpoint") && existsSync(join(path, f, "state.json"))).sort((a, b) => a.localeCompare(b, undefined, { numeric: true }));
  if (actors.length) return join(path, actors[0]!);
  throw new UserError(`${path} holds no checkpoint (state.json); pass runs/<run>/learner-checkpoint, runs/<run>/actor-0-checkpoint or a run folder`);
}

/** The run's saved config (config.json in the checkpoint's run folder), if any. */
export function runConfigOf(checkpoint: string): Experiment | null {
  let dir = resolve(checkpoint);
  for (let i = 0; i < 3; i++) {
    const p = join(dir, "config.json");
    if (existsSync(p) && existsSync(join(dir, "run.json"))) return parseExperiment(JSON.parse(readFileSync(p, "utf8")), p);
    dir = dirname(dir);
  }
  return null;
}

export async function loadAgent(checkpoint: string): Promise<DqnAgent> {
  try {
    return await DqnAgent.load(checkpoint);
  } catch (e) {
    throw new UserError(`cannot load the checkpoint ${checkpoint}: ${(e as Error).message.split("\n")[0]}`);
  }
}
