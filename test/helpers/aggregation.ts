/** Helpers shared by the aggregation-rule tests: vectors, clients, and checked access to a result. */
import { expect } from "chai";
import type { AggregateResult, ClientUpdate, Verdict } from "../../federation/aggregator";

export const f = (...xs: number[]) => Float32Array.from(xs);
export const client = (actor: string, params: Float32Array, samples = 10): ClientUpdate => ({ actor, params, samples });
export const close = (a: Float32Array, b: number[], eps = 1e-6) => {
  expect(a.length).to.equal(b.length);
  a.forEach((v, i) => expect(v, `coordinate ${i}`).to.be.closeTo(b[i]!, eps));
};
export const verdict = (r: AggregateResult, actor: string): Verdict => {
  const v = r.verdicts.find((x) => x.actor === actor);
  expect(v, `verdict for ${actor}`).to.not.equal(undefined);
  return v!;
};
export const mixOf = (r: AggregateResult): Float32Array => {
  expect(r.mix, "reason" in r ? r.reason : "mix").to.not.equal(null);
  return r.mix!;
};
export const weightSum = (r: AggregateResult) => r.verdicts.reduce((s, v) => s + v.weight, 0);
