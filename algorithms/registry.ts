/** Algorithms by the name a config gives in `algorithm`. A new algorithm is one folder plus one line here. */
import type { AlgorithmBuilder } from "../core/agent";
import { dqnBuilder } from "./dqn/builder";
import { ppoBuilder } from "./ppo/builder";

export const ALGORITHMS: Readonly<Record<string, AlgorithmBuilder<unknown>>> = {
  dqn: dqnBuilder as AlgorithmBuilder<unknown>,
  ppo: ppoBuilder as AlgorithmBuilder<unknown>,
};

export function algorithmNamed(name: string): AlgorithmBuilder<unknown> {
  const b = ALGORITHMS[name];
  if (!b) throw new Error(`unknown algorithm "${name}"; valid: ${Object.keys(ALGORITHMS).join(", ")}`);
  return b;
}
