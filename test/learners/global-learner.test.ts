import { expect } from "chai";
import { GlobalLearner } from "../../learners/global-learner";
import { allocBatch } from "../../learners/transitions";
import { InProcessBus } from "../../runtime/bus-inproc";
import { StepClock } from "../../runtime/clock";
import { encodeTransitions } from "../../runtime/codec";
import { parseExperiment } from "../../runtime/config";
import { MemoryMetrics } from "../../runtime/metrics";
import { MemoryReplay } from "../../runtime/replay/memory";
import { subjectsFor, TRANSITION_REPLY } from "../../runtime/subjects";
import { createAgent } from "../../runtime/agents";

function batch(n: number, offset: number) {
  const b = allocBatch(n, 4);
  for (let i = 0; i < n * 4; i++) {
    b.obs[i] = Math.sin(offset + i) * 2;
    b.nextObs[i] = Math.cos(offset + i) * 2;
  }
  for (let i = 0; i < n; i++) b.actions[i] = i % 2;
  return b;
}

function setup(replay = new MemoryReplay(10_000, 4, 1), learnerCfg: Record<string, unknown> = {}) {
  const exp = parseExperiment({ run: "gl-test", clock: "steps", env: { id: "CartPole-v1" }, learner: { filter: { enabled: false }, ...learnerCfg } });
  const bus = new InProcessBus();
  const agent = createAgent(exp, 4, 2, "learner", 1);
  const learner = new GlobalLearner({ exp, bus, subjects: subjectsFor(exp.run), replay, agent, clock: new StepClock(), metrics: new MemoryMetrics(), obsDim: 4, actionCount: 2, batchSize: 32 });
  return { exp, bus, agent, learner, replay };
}

describe("GlobalLearner ingest", () => {
  it("a batch delivered twice (a retry whose ack was lost) is acknowledged again but stored once", async () => {
    const { learner, replay, agent } = setup();
    const msg = encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: 7, ts: 1000, batch: batch(50, 0) });
    expect(await learner.onTransitions("actor-0", msg)).to.equal(true);
    expect(await learner.onTransitions("actor-0", msg)).to.equal(true);
    expect(learner.counters.duplicates).to.equal(1);
    expect(await replay.size()).to.equal(50);
    // the same seq from a restarted actor (a new ts) is a new batch
    const again = encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq: 7, ts: 2000, batch: batch(50, 1) });
    expect(await learner.onTransitions("actor-0", again)).to.equal(true);
    expect(await replay.size()).to.equal(100);
    agent.dispose();
  });

  it("answers a request with ACK once stored, REJECTED when malformed, RETRY when the replay fails", async () => {
    const failing = new MemoryReplay(10_000, 4, 1);
    let fail = true;
    const insert = failing.insert.bind(failing);
    failing.insert = async (b) => {
      if (fail) throw new Error("replay down");
      return insert(b);
    };
    const { learner, bus, agent } = setup(failing);
    await learner.start();
    const subject = subjectsFor("gl-test").transitions("actor-1");
    const msg = encodeTransitions({ actor: "actor-1", env: "CartPole-v1", seq: 0, ts: 5, batch: batch(20, 3) });
    expect((await bus.request(subject, msg))[0]).to.equal(TRANSITION_REPLY.RETRY);
    expect(learner.rejected.snapshot().byReason.replay_error).to.equal(1);
    fail = false;
    expect((await bus.request(subject, msg))[0]).to.equal(TRANSITION_REPLY.ACK);
    expect(await failing.size()).to.equal(20);
    const bad = msg.slice();
    bad[bad.length - 3]! ^= 0xff;
    expect((await bus.request(subject, bad))[0]).to.equal(TRANSITION_REPLY.REJECTED);
    await learner.stop();
    await bus.close();
    agent.dispose();
  });
});

describe("GlobalLearner replay ratio", () => {
  it("makes one update per 1/replayRatio accepted transitions, carries fractions, and counts what the cap cuts", async () => {
    const { learner, agent } = setup(undefined, { replayRatio: 0.25, updatesPerTick: 30, warmup: 64 });
    const send = (seq: number, n: number) => learner.onTransitions("actor-0", encodeTransitions({ actor: "actor-0", env: "CartPole-v1", seq, ts: 1, batch: batch(n, seq) }));
    await send(0, 100); // credit 25
    await learner.tick();
    expect(learner.counters.updates).to.equal(25);
    await send(1, 6); // credit 1.5 → 1 update, 0.5 carried
    await learner.tick();
    expect(learner.counters.updates).to.equal(26);
    await send(2, 2); // 0.5 + 0.5 = 1
    await learner.tick();
    expect(learner.counters.updates).to.equal(27);
    await send(3, 400); // credit 100, cap 30: 70 dropped and counted
    await learner.tick();
    expect(learner.counters.updates).to.equal(57);
    expect(learner.updatesSkipped).to.equal(70);
    await learner.tick(); // nothing new: no updates
    expect(learner.counters.updates).to.equal(57);
    agent.dispose();
  });
});

describe("merging moves the target network with the online one", () => {
  it("learner: an aggregation round applies θ' ← α·θ' + (1−α)·Σ w_k θ_k to the target", async () => {
    const { learner, agent, exp } = setup();
    const a = exp.aggregator.alpha;
    const g = agent.getParameters();
    const t0 = agent.getTargetParameters().map((v) => v + 0.01); // make target ≠ online
    agent.setTargetParameters(t0);
    const c1 = g.map((v, i) => v + 0.02 * Math.sin(i)), c2 = g.map((v, i) => v - 0.01 * Math.cos(i));
    learner.aggregator.offer({ actor: "actor-0", params: c1, samples: 1, receivedAt: 0, layoutHash: agent.layout().hash });
    learner.aggregator.offer({ actor: "actor-1", params: c2, samples: 1, receivedAt: 0, layoutHash: agent.layout().hash });
    const r = learner.aggregate();
    expect(r.changed).to.equal(true);
    const w = r.clients.map((c) => c.weight);
    const t = agent.getTargetParameters(), p = agent.getParameters();
    for (const i of [0, 17, t.length - 1]) {
      const mix = w[0]! * c1[i]! + w[1]! * c2[i]!;
      expect(t[i]).to.be.closeTo(a * t0[i]! + (1 - a) * mix, 1e-5);
      expect(p[i]).to.be.closeTo(a * g[i]! + (1 - a) * mix, 1e-5);
    }
    agent.dispose();
  });
});
