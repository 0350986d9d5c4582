import type { EnvSpec } from "../registry";

/** CartPole-v1, LunarLander-v3 (filled by the classic-control/Box2D ports). */
export const gymEnvSpecs: EnvSpec[] = [];
