/**
 * The run's seeds, in one place so what training uses and what evaluation holds out cannot drift
 * apart (launch/detection.ts reads the actors' env seeds to keep held-out episodes off them).
 */
import type { Experiment } from "./config";

/**
 * Actor `index`'s seeds: `env` resets its env copies (copy i gets env + i; a resume without the
 * envs' state reseeds at env + episodes, envs/vector.ts), `agent` seeds its exploration.
 */
export function seedOf(exp: Experiment, index: number): { env: number; agent: number } {
  return { env: exp.seed * 1_000_003 + index * 10_007, agent: exp.seed * 1000 + index + 1 };
}
