export { CartPoleEnv, type CartPoleOptions } from "./cartpole";
export { LunarLanderEnv, heuristic, heuristicAction, type LunarLanderOptions } from "./lunarlander";
export { gymEnvSpecs } from "./register";
