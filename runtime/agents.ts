import { DqnAgent } from "../learners/dqn/agent";
import type { RuntimeAgent } from "./agent-port";
import { ConfigError, type Experiment } from "./config";

/**
 * Builds the DQN agent an actor or the global learner runs, from the experiment's `agent` section.
 * `seed` drives exploration and sampling; `init` (the run's common initial parameters) makes every
 * participant start from the same point, as federated training requires (cosine trust between
 * independently initialised networks is noise).
 */
export function createAgent(exp: Experiment, obsDim: number, actionCount: number, role: "actor" | "learner", seed: number, init?: Float32Array): RuntimeAgent & DqnAgent {
  const config = { ...exp.agent, ...(role === "learner" ? exp.learnerAgent : {}), seed };
  let agent: DqnAgent;
  try {
    agent = new DqnAgent({ obsDim, numActions: actionCount, config });
  } catch (e) {
    throw new ConfigError(`${role === "learner" ? "learnerAgent/agent" : "agent"}: ${(e as Error).message}`);
  }
  if (init) {
    agent.setParameters(init);
    agent.syncTarget();
  }
  return agent;
}

/** The run's common initial parameters: a function of the experiment seed only, identical in every process. */
export function initialParameters(exp: Experiment, obsDim: number, actionCount: number): Float32Array {
  const ref = new DqnAgent({ obsDim, numActions: actionCount, config: { ...exp.agent, seed: exp.seed } });
  const p = ref.getParameters().slice();
  ref.dispose();
  return p;
}
