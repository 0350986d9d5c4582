/**
 * DQN (and Double / Dueling / n-step) as an AlgorithmBuilder. Every participant of a run starts
 * from the same initial weights (a function of the experiment seed), as federated training
 * requires: cosine trust between independently initialised networks is noise.
 */
import type { AlgorithmBuilder, Space } from "../../core/agent";
import { DqnAgent } from "./agent";
import { parseDqnConfig, type DqnConfig } from "./config";
import { QNetwork } from "./network";

export const dqnBuilder: AlgorithmBuilder<DqnConfig> = {
  name: "dqn",
  offPolicy: true,
  shipped: "online",
  followers: ["target"],
  parseConfig: (raw) => parseDqnConfig(raw),
  makeAgent(space: Space, config: DqnConfig, seed: number, init?: Float32Array): DqnAgent {
    const agent = new DqnAgent({ obsDim: space.obsDim, numActions: space.actionCount, config: { ...config, seed } });
    if (init) {
      agent.setParameters(init);
      agent.syncTarget();
    }
    return agent;
  },
  externalLearner: (config) => ({ ...config, nStep: 1 }),
  layout: (space, config) => new QNetwork({ obsDim: space.obsDim, numActions: space.actionCount, hidden: config.hidden, dueling: config.dueling }).layout,
  initialWeights(space: Space, config: DqnConfig, seed: number): Float32Array {
    const ref = new DqnAgent({ obsDim: space.obsDim, numActions: space.actionCount, config: { ...config, seed } });
    const p = ref.getParameters();
    ref.dispose();
    return p;
  },
  load: (dir) => DqnAgent.load(dir),
};
