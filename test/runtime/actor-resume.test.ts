import { expect } from "chai";
import { mkdtempSync, existsSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { execFile } from "node:child_process";
import { promisify } from "node:util";

const run = promisify(execFile);

describe("actor process checkpoint", function () {
  this.timeout(120_000);
  it("a restarted actor resumes its model and counters and finishes the same budget", async () => {
    const dir = mkdtempSync(join(tmpdir(), "fedrl-actor-"));
    const args = (steps: number) => ["--import", "tsx", "launch/cli.ts", "actor", "--config", "configs/cartpole-local.yaml", "--id", "actor-0", "--set", `budget.stepsPerActor=${steps}`, "--set", `runDir=${dir}`];
    const env = { ...process.env, NATS_URL: "", REDIS_URL: "" };
    const first = await run(process.execPath, args(2000), { env });
    expect(first.stderr).to.not.contain("resumed");
    expect(existsSync(join(dir, "actor-0-checkpoint", "state.json"))).to.equal(true);
    const stats1 = JSON.parse(/actor actor-0 done: (.*)/.exec(first.stderr)![1]!);
    expect(stats1.steps).to.equal(2000);
    const second = await run(process.execPath, args(3000), { env });
    expect(second.stderr).to.match(/resumed from .* \(2000 steps, ε 0\.\d+\)/);
    const stats2 = JSON.parse(/actor actor-0 done: (.*)/.exec(second.stderr)![1]!);
    expect(stats2.steps).to.equal(3000);
    expect(stats2.episodes).to.be.greaterThan(stats1.episodes);
    expect(stats2.epsilon).to.be.lessThan(stats1.epsilon);
  });
});
