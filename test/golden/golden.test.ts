import { expect } from "chai";
import { readFileSync } from "node:fs";
import { FIXTURE, MODES, record } from "./runs";

/**
 * The recipes reproduce, bit for bit, the runs recorded before the structural refactor
 * (test/golden/golden.json): every actor's returns, the learner's counters, every aggregation
 * round's trust weights, the replay size and the final greedy eval.
 */
describe("golden runs (step clock, CartPole-v1, 3 actors, seed 0)", function () {
  this.timeout(120_000);
  const golden = JSON.parse(readFileSync(FIXTURE, "utf8")) as Record<string, unknown>;
  for (const mode of MODES) {
    it(`${mode} reproduces the recorded run exactly`, async () => {
      const got = JSON.parse(JSON.stringify(await record(mode)));
      expect(got).to.deep.equal(golden[mode]);
    });
  }
});
