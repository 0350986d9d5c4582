import { expect } from "chai";
import { Actor } from "../../nodes/actor";
import { InProcessBus } from "../../transport/bus-inproc";
import { StepClock } from "../../core/clock";
import { parseExperiment } from "../../launch/config";
import { assemble } from "../../launch/assemble";
import { MemoryMetrics } from "../../core/metrics";
import type { DqnAgent } from "../../algorithms/dqn/agent";

/** One actor assembled by the recipe of `mode`, its agent's target made ≠ online, and a global model. */
async function actorWith(mode: "hybrid" | "fedavg", actors: Record<string, unknown>) {
  const exp = parseExperiment({ run: "actor-test", mode, clock: "steps", env: { id: "CartPole-v1" }, actors });
  const topo = await assemble(exp, { bus: new InProcessBus(), clock: new StepClock(), metrics: () => new MemoryMetrics(), log: () => {} }, { actors: ["actor-0"], server: false });
  const actor = topo.actors[0]!;
  const agent = topo.agents[0]! as DqnAgent;
  agent.setTargetParameters(agent.getParameters().map((v) => v - 0.05));
  const global = agent.getParameters().map((v, i) => v + 0.1 * Math.sin(i));
  const msg = { version: 1, round: 1, layout: agent.layout(), params: global };
  return { agent, actor, global, msg, online: agent.getParameters(), target: agent.getTargetParameters() };
}

describe("Actor: merging the global model", () => {
  it("blend moves online and target by the same β", async () => {
    const { agent, actor, global, msg, online, target } = await actorWith("hybrid", { merge: "blend", blendBeta: 0.25 });
    actor.onGlobal(msg);
    const p = agent.getParameters(), t = agent.getTargetParameters();
    for (const i of [0, 5, p.length - 1]) {
      expect(p[i]).to.be.closeTo(0.25 * global[i]! + 0.75 * online[i]!, 1e-6);
      expect(t[i]).to.be.closeTo(0.25 * global[i]! + 0.75 * target[i]!, 1e-6);
    }
    expect(actor.globalVersion).to.equal(1);
    agent.dispose();
  });

  it("mergeTarget: false leaves the target network alone", async () => {
    const { agent, actor, msg, target } = await actorWith("hybrid", { merge: "replace", mergeTarget: false });
    actor.onGlobal(msg);
    expect(Array.from(agent.getTargetParameters())).to.deep.equal(Array.from(target));
    agent.dispose();
  });

  it("FedAvg clients adopt the average (replace) whatever merge says", async () => {
    const { agent, actor, global, msg } = await actorWith("fedavg", { merge: "blend", blendBeta: 0.5 });
    actor.onGlobal(msg);
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(global));
    expect(Array.from(agent.getTargetParameters())).to.deep.equal(Array.from(global));
    actor.onGlobal(msg); // same version again: ignored
    expect(actor.globalsApplied).to.equal(1);
    agent.dispose();
  });
});

describe("Actor: refusing implausible global models", () => {
  it("a finite but huge global model (1e30) is refused and counted; the actor's weights stay", async () => {
    const { agent, actor, msg, online } = await actorWith("hybrid", { merge: "replace" });
    actor.onGlobal({ ...msg, params: msg.params.map(() => 1e30) });
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(online));
    expect(actor.globalVersion).to.equal(0);
    expect(actor.stats().rejected).to.deep.include({ byReason: { implausible_global: 1 } });
    actor.onGlobal(msg); // a plausible one is merged
    expect(actor.globalVersion).to.equal(1);
    agent.dispose();
  });
});
