/**
 * PPO as an AlgorithmBuilder: on-policy (no pooled learner, so modes fedavg and local only), one
 * shipped group "policy" (policy and value towers) and no followers. Every participant starts from
 * the same initial weights, a function of config and seed.
 */
import type { AlgorithmBuilder, Space } from "../../core/agent";
import { PpoAgent } from "./agent";
import { parsePpoConfig, type PpoConfig } from "./config";
import { ActorCritic } from "./network";

export const ppoBuilder: AlgorithmBuilder<PpoConfig> = {
  name: "ppo",
  offPolicy: false,
  shipped: "policy",
  followers: [],
  parseConfig: (raw) => parsePpoConfig(raw),
  makeAgent(space: Space, config: PpoConfig, seed: number, init?: Float32Array): PpoAgent {
    const agent = new PpoAgent({ obsDim: space.obsDim, numActions: space.actionCount, config: { ...config, seed } });
    if (init) agent.setParameters(init);
    return agent;
  },
  layout: (space, config) => new ActorCritic({ obsDim: space.obsDim, numActions: space.actionCount, hidden: config.hidden, activation: config.activation }).layout,
  initialWeights(space: Space, config: PpoConfig, seed: number): Float32Array {
    const ref = new PpoAgent({ obsDim: space.obsDim, numActions: space.actionCount, config: { ...config, seed } });
    const p = ref.getParameters();
    ref.dispose();
    return p;
  },
  load: (dir) => PpoAgent.load(dir),
};
