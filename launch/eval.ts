/** Greedy evaluation of an agent on the run's env. */
import type { Agent } from "../core/agent";
import { make } from "../envs/index";
import type { Experiment } from "./config";

/**
 * Mean greedy return over `episodes` episodes with seeds seed, seed+1, … With env.perActorSite, on
 * site 0 of the run's partition (actor 0's site; without it the env's default site count would
 * split the traffic in a way no actor trained on). IoT detection per site: launch/detection.ts.
 */
export function evaluateGreedy(agent: Pick<Agent, "act">, exp: Experiment, episodes = exp.eval.episodes, seed = exp.eval.seed): { mean: number; std: number; returns: number[] } {
  const site = exp.env.perActorSite ? { site: 0, sites: exp.actors.count } : {};
  const env = make(exp.env.id, { ...exp.env.options, ...site });
  const returns: number[] = [];
  for (let e = 0; e < episodes; e++) {
    let { obs } = env.reset({ seed: seed + e });
    let ret = 0;
    for (;;) {
      const r = env.step(agent.act(obs, "greedy"));
      ret += r.reward;
      obs = r.obs;
      if (r.terminated || r.truncated) break;
    }
    returns.push(ret);
  }
  env.close?.();
  const mean = returns.reduce((a, b) => a + b, 0) / Math.max(1, returns.length);
  const std = Math.sqrt(returns.reduce((a, b) => a + (b - mean) ** 2, 0) / Math.max(1, returns.length));
  return { mean, std, returns };
}
