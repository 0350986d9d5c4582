import type { EnvSpec } from "../registry";
import { CartPoleEnv, type CartPoleOptions } from "./cartpole";

/** CartPole-v1, LunarLander-v3 (filled by the classic-control/Box2D ports). */
export const gymEnvSpecs: EnvSpec[] = [
  {
    id: "CartPole-v1",
    maxEpisodeSteps: 500,
    create: (options) => new CartPoleEnv(options as CartPoleOptions),
  },
];
