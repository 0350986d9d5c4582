import type { EnvSpec } from "../registry";
import { CartPoleEnv, type CartPoleOptions } from "./cartpole";
import { LunarLanderEnv, type LunarLanderOptions } from "./lunarlander";

/** Gymnasium ports: CartPole-v1 (500-step limit), LunarLander-v3 (1000-step limit). */
export const gymEnvSpecs: EnvSpec[] = [
  {
    id: "CartPole-v1",
    maxEpisodeSteps: 500,
    create: (options) => new CartPoleEnv(options as CartPoleOptions),
  },
  {
    id: "LunarLander-v3",
    maxEpisodeSteps: 1000,
    create: (options) => new LunarLanderEnv(options as LunarLanderOptions),
  },
];
