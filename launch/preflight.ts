/**
 * Checks before a run starts (and before its folder is created): the env and its options, the
 * algorithm's hyperparameters, and that NATS / Redis answer — so a mistake is one line at once,
 * not a stack trace after the actors spent their budget.
 */
import { connect as tcpConnect } from "node:net";
import { DEFAULT_CONTAINMENT } from "../envs/iot/containment";
import { INTRUSION_OPTION_KEYS } from "../envs/iot/intrusion";
import { algorithmOf, envSpace } from "./assemble";
import { ConfigError, type Experiment } from "./config";
import { UserError } from "./errors";

const COMMON = ["maxEpisodeSteps", "seed"];
/** Options each registered env reads (envs/gym/*.ts, envs/iot/*.ts); anything else is refused. */
export const ENV_OPTIONS: Record<string, readonly string[]> = {
  "CartPole-v1": [...COMMON, "suttonBartoReward", "sutton_barto_reward"],
  "LunarLander-v3": [...COMMON, "continuous", "gravity", "enableWind", "windPower", "turbulencePower", "stockJoints"],
  "IoTIntrusion-v0": [...new Set([...COMMON, ...INTRUSION_OPTION_KEYS])],
  "IoTContainment-v0": [...COMMON, "site", "sites", "alpha", "splitSeed", ...Object.keys(DEFAULT_CONTAINMENT)],
};

export function checkEnvOptions(exp: Experiment, where = "config"): void {
  const valid = ENV_OPTIONS[exp.env.id];
  if (!valid) return; // an env registered elsewhere: its own factory validates
  const bad = Object.keys(exp.env.options).filter((k) => !valid.includes(k));
  if (bad.length) throw new ConfigError(`${where}: env.options: unknown key${bad.length > 1 ? "s" : ""} ${bad.join(", ")} for ${exp.env.id}; valid: ${valid.join(", ")}`);
}

/** Builds the env once and parses the algorithm's config: unknown env id, missing dataset, bad agent keys fail here. */
export function validateExperiment(exp: Experiment, where = "config"): void {
  checkEnvOptions(exp, where);
  let space;
  try {
    space = envSpace(exp);
  } catch (e) {
    const msg = (e as Error).message;
    if (/^unknown env id/.test(msg)) throw new ConfigError(`${where}: env.id: ${msg}`);
    if ((e as NodeJS.ErrnoException).code === "ENOENT" || /ENOENT|not found|no such file/i.test(msg))
      throw new UserError(`env ${exp.env.id}: ${msg.split("\n")[0]}; download the dataset (data/README.md) or use env.options.source: synthetic`);
    throw new ConfigError(`${where}: env ${exp.env.id} with options ${JSON.stringify(exp.env.options)}: ${msg.split("\n")[0]}`);
  }
  try {
    algorithmOf(exp, space);
  } catch (e) {
    throw new ConfigError(`${where}: ${(e as Error).message.split("\n")[0]}`);
  }
}

function hostPort(url: string, defPort: number): { host: string; port: number } {
  try {
    const u = new URL(url.includes("://") ? url : `x://${url}`);
    return { host: u.hostname || "127.0.0.1", port: Number(u.port) || defPort };
  } catch {
    throw new UserError(`cannot parse the URL "${url}"; expected e.g. nats://127.0.0.1:4222 or redis://127.0.0.1:6379`);
  }
}

function probe(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    const s = tcpConnect({ host, port });
    const done = (r: string | null) => { s.destroy(); resolve(r); };
    s.setTimeout(timeoutMs, () => done("timed out"));
    s.once("connect", () => done(null));
    s.once("error", (e: NodeJS.ErrnoException) => done(e.code ?? e.message));
  });
}

/** NATS and Redis (when the experiment uses them) accept connections; else one line naming the fix. */
export async function checkServices(exp: Experiment, needRedis = true, timeoutMs = 3000): Promise<void> {
  const checks: [string, string | undefined, number, string][] = [
    ["NATS", exp.transport.nats, 4222, "start nats-server -js (bash .ci/run does), or unset NATS_URL to run in one process"],
    ["Redis", needRedis ? exp.transport.redis : undefined, 6379, "start redis-server, or unset REDIS_URL for the in-memory replay"],
  ];
  for (const [name, url, def, fix] of checks) {
    if (!url) continue;
    const { host, port } = hostPort(url, def);
    const err = await probe(host, port, timeoutMs);
    if (err) throw new UserError(`${name} at ${url} is not reachable (${err}); ${fix}`);
  }
}
