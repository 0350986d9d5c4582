/**
 * Per-actor options that launch/assemble.ts wires by actor index: Ape-X exploration (each actor its
 * own ε), the β schedule of how actors adopt the global model, and whether the hybrid learner keeps
 * n-step returns (actors.shipNStep).
 */
import type { AlgorithmBuilder } from "../core/agent";
import type { TransitionLimits } from "../federation/bounds";
import { ConfigError, type Experiment } from "./config";

/** Ape-X: ε_i = base^(1 + alpha·i/(N−1)); a single actor gets base. */
export function apexEpsilon(i: number, N: number, base: number, alpha: number): number {
  return N <= 1 ? base : Math.pow(base, 1 + (alpha * i) / (N - 1));
}

/**
 * The raw agent config of actor `index`: the experiment's `agent` section, with Ape-X's ε when
 * actors.exploration.kind is "apex" (constant ε_i, or linear from epsilonStart to ε_i over
 * decaySteps). Refused for an algorithm without ε-greedy keys.
 */
export function actorAgentRaw(exp: Experiment, index: number, parsed: unknown): Record<string, unknown> {
  const X = exp.actors.exploration;
  if (X.kind === "agent") return exp.agent;
  const p = parsed as Record<string, unknown>;
  if (!("epsilonStart" in p) || !("epsilonSchedule" in p)) throw new ConfigError(`actors.exploration.kind ${X.kind}: algorithm ${exp.algorithm} has no ε-greedy exploration`);
  const eps = apexEpsilon(index % exp.actors.count, exp.actors.count, X.base, X.alpha);
  return X.decaySteps > 0
    ? { ...exp.agent, epsilonSchedule: "linear", epsilonEnd: eps, epsilonStart: Math.max(eps, Number(p.epsilonStart)), epsilonDecaySteps: X.decaySteps }
    : { ...exp.agent, epsilonSchedule: "linear", epsilonStart: eps, epsilonEnd: eps };
}

/** The parsed agent config of actor `index` (the shared one unless exploration differs per actor). */
export function actorAgentConfig(exp: Experiment, builder: AlgorithmBuilder<unknown>, index: number, shared: unknown): unknown {
  if (exp.actors.exploration.kind === "agent") return shared;
  try {
    return builder.parseConfig(actorAgentRaw(exp, index, shared));
  } catch (e) {
    if (e instanceof ConfigError) throw e;
    throw new ConfigError(`agent (actor ${index}, actors.exploration): ${(e as Error).message}`);
  }
}

/** β of a merge at `steps` env steps: blendBeta → blendBetaEnd linearly over blendSteps; undefined when fixed. */
export function blendSchedule(exp: Experiment): ((steps: number) => number) | undefined {
  const A = exp.actors;
  if (A.merge !== "blend" || A.blendBetaEnd === undefined || A.blendSteps <= 0) return undefined;
  const b0 = A.blendBeta, b1 = A.blendBetaEnd, T = A.blendSteps;
  return (steps) => b0 + (b1 - b0) * Math.min(1, Math.max(0, steps) / T);
}

/** n and γ of the rows actors ship when actors.shipNStep is set (from the agent's nStep and gamma), else undefined. */
export function shippedNStep(exp: Experiment, parsed: unknown): { n: number; gamma: number } | undefined {
  if (!exp.actors.shipNStep) return undefined;
  const p = parsed as { nStep?: unknown; gamma?: unknown };
  if (typeof p.nStep !== "number" || typeof p.gamma !== "number") throw new ConfigError(`actors.shipNStep: algorithm ${exp.algorithm} has no nStep/gamma`);
  return { n: p.nStep, gamma: p.gamma };
}

/** Plausible rewards of shipped rows: an n-step row sums up to Σ_{k<n} γᵏ per-step rewards. */
export function shippedLimits(exp: Experiment, limits: TransitionLimits, parsed: unknown): TransitionLimits {
  const ns = shippedNStep(exp, parsed);
  if (!ns || ns.n <= 1) return limits;
  let f = 0;
  for (let k = 0; k < ns.n; k++) f += ns.gamma ** k;
  return { ...limits, reward: limits.reward * Math.max(1, f) };
}
