import { expect } from "chai";
import { Actor } from "../../actors/actor";
import { make } from "../../envs/index";
import { VectorEnv } from "../../envs/vector";
import { InProcessBus } from "../../runtime/bus-inproc";
import { StepClock } from "../../runtime/clock";
import { encodeGlobal } from "../../runtime/codec";
import { parseExperiment } from "../../runtime/config";
import { MemoryMetrics } from "../../runtime/metrics";
import { subjectsFor } from "../../runtime/subjects";
import { createAgent } from "../../runtime/agents";

function actorWith(mode: "hybrid" | "fedavg", actors: Record<string, unknown>) {
  const exp = parseExperiment({ run: "actor-test", mode, clock: "steps", env: { id: "CartPole-v1" }, actors });
  const agent = createAgent(exp, 4, 2, "actor", 3);
  agent.setTargetParameters(agent.getParameters().map((v) => v - 0.05));
  const actor = new Actor({ id: "actor-0", exp, bus: new InProcessBus(), subjects: subjectsFor(exp.run), clock: new StepClock(), agent, envs: VectorEnv.create(1, () => make("CartPole-v1")), metrics: new MemoryMetrics(), seed: 1 });
  const global = agent.getParameters().map((v, i) => v + 0.1 * Math.sin(i));
  const msg = encodeGlobal({ version: 1, round: 1, ts: 0, layout: agent.layout(), params: global });
  return { agent, actor, global, msg, online: agent.getParameters(), target: agent.getTargetParameters() };
}

describe("Actor: merging the global model", () => {
  it("blend moves online and target by the same β", () => {
    const { agent, actor, global, msg, online, target } = actorWith("hybrid", { merge: "blend", blendBeta: 0.25 });
    actor.onGlobal(msg);
    const p = agent.getParameters(), t = agent.getTargetParameters();
    for (const i of [0, 5, p.length - 1]) {
      expect(p[i]).to.be.closeTo(0.25 * global[i]! + 0.75 * online[i]!, 1e-6);
      expect(t[i]).to.be.closeTo(0.25 * global[i]! + 0.75 * target[i]!, 1e-6);
    }
    expect(actor.globalVersion).to.equal(1);
    agent.dispose();
  });

  it("mergeTarget: false leaves the target network alone", () => {
    const { agent, actor, msg, target } = actorWith("hybrid", { merge: "replace", mergeTarget: false });
    actor.onGlobal(msg);
    expect(Array.from(agent.getTargetParameters())).to.deep.equal(Array.from(target));
    agent.dispose();
  });

  it("FedAvg clients adopt the average (replace) whatever merge says", () => {
    const { agent, actor, global, msg } = actorWith("fedavg", { merge: "blend", blendBeta: 0.5 });
    actor.onGlobal(msg);
    expect(Array.from(agent.getParameters())).to.deep.equal(Array.from(global));
    expect(Array.from(agent.getTargetParameters())).to.deep.equal(Array.from(global));
    actor.onGlobal(msg); // same version again: ignored
    expect(actor.globalsApplied).to.equal(1);
    agent.dispose();
  });
});
